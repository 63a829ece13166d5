// DescribeService: the gateway's shutdown line for one backend service,
// summed over workers and endpoints, other services left out.
#include "backend/backend_counters.h"

#include <string>

#include "base/counters.h"
#include "gtest/gtest.h"

namespace tachyon::backend {
namespace {

using protocol::ResponseStatus;

TEST(BackendCountersTest, DescribeServiceSumsWorkersAndEndpoints) {
  base::CounterRegistry registry;
  ServiceCounters w0(registry, "quotes", 0);
  ServiceCounters w1(registry, "quotes", 1);
  ServiceCounters other(registry, "risk", 0);
  EndpointCounters e0(registry, "quotes", "127.0.0.1:1", 0);
  EndpointCounters e1(registry, "quotes", "127.0.0.1:2", 1);
  w0.Count(ResponseStatus::kOk);
  w1.Count(ResponseStatus::kOk);
  w1.Count(ResponseStatus::kTimeout);
  w0.queued.Add();
  other.Count(ResponseStatus::kOk);
  other.queued.Add();
  e0.connects.Add();
  e1.connects.Add();
  e1.connect_failures.Add();
  e1.late_responses.Add();
  EXPECT_EQ(DescribeService(registry, "quotes"),
            "3 requests (ok 2, timeout 1), 1 waited for a connection, "
            "2 connects, 1 connect failures, 0 ejections, 1 late responses");
}

TEST(BackendCountersTest, AServiceWithNoRequestsListsNoStatuses) {
  base::CounterRegistry registry;
  ServiceCounters w0(registry, "idle", 0);
  EXPECT_EQ(DescribeService(registry, "idle"),
            "0 requests, 0 waited for a connection, 0 connects, 0 connect "
            "failures, 0 ejections, 0 late responses");
}

}  // namespace
}  // namespace tachyon::backend
