// The gateway's request path must not allocate per request in steady state
// (issue 12: "nothing allocates per request"). This binary replaces the
// global operator new with a counting one that counts on every thread
// except the test's own and the test backend's, which leaves the gateway's
// workers: after a warm-up, a run of round trips (REQUEST in, to the
// backend, RESPONSE back) must make no allocation there.
#include <string>
#include <vector>

#include "backend/backend_counters.h"
#include "gtest/gtest.h"
#include "support/alloc_counter.h"
#include "support/gateway_fixture.h"
#include "support/test_backend.h"
#include "support/wait.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;

class BackendAllocationTest : public GatewayTest {};

TEST_P(BackendAllocationTest, RoundTripsAllocateNothingInTheGateway) {
  SetAllocationScope(AllocationScope::kAllThreads);
  ExemptThisThread();
  TestBackend backend(0, [] { ExemptThisThread(); });
  ASSERT_NE(backend.port(), 0);
  config::GatewayConfig c = TestConfig(GetParam());
  config::BackendService s;
  s.name = "echo";
  s.id = 1;
  s.endpoints = {"127.0.0.1:" + std::to_string(backend.port())};
  s.pool_min = 1;
  c.backends = {s};
  Start(c);
  ASSERT_TRUE(WaitUntil([&] {
    return gateway_->counters().Sum(backend::kReadyGauge) >=
           static_cast<std::uint64_t>(GetParam().workers);
  }));
  auto client = LoggedOnClient();
  ASSERT_TRUE(client);
  // Two payload sizes in turn, each request answered
  // before the next (the steady state of one requester).
  const std::string small(24, 's');
  const std::string large(900, 'l');
  std::vector<std::byte> buf(2048);
  auto round_trip = [&](std::uint64_t id) {
    const std::string& payload = id % 2 == 0 ? small : large;
    const std::size_t n =
        tp::EncodeRequest(buf, {.correlation_id = id,
                                .service_id = 1,
                                .payload = tp::AsBytes(payload)});
    if (!client->SendRaw({buf.data(), n})) return false;
    std::optional<Frame> f = client->ReadSkippingHeartbeats();
    return f && f->type() == tp::MessageType::kResponse &&
           tp::ResponseView(f->view()).status() == tp::ResponseStatus::kOk &&
           tp::ResponseView(f->view()).correlation_id() == id;
  };
  for (std::uint64_t id = 1; id <= 300; ++id) ASSERT_TRUE(round_trip(id));
  // The worker publishes its session rows for the admin plane once a
  // second; the first publish with this session in it sizes the rows, the
  // later ones reuse them. Counting starts after that first one.
  ASSERT_TRUE(WaitUntil([&] { return gateway_->Sessions().size() == 1; }));
  StartCountingAllocations();
  for (std::uint64_t id = 301; id <= 1300; ++id) {
    if (!round_trip(id)) {
      StopCountingAllocations();
      FAIL() << "request " << id << " was not answered OK";
    }
  }
  StopCountingAllocations();
  EXPECT_EQ(CountedAllocations(), 0)
      << "allocations in the gateway over 1000 round trips; connects "
      << gateway_->counters().Sum(backend::kConnectsTotal) << ", target "
      << gateway_->counters().Sum(backend::kTargetGauge) << ", predicted "
      << gateway_->counters().Sum(backend::kPredictedGauge);
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendAllocationTest,
                         ::testing::ValuesIn(EachBackend(1)), ParamName);

}  // namespace
}  // namespace tachyon::testing
