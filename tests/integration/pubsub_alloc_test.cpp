// The gateway's publish and delivery paths must not allocate per message in
// steady state, latency histograms included. This binary replaces the
// global operator new with a counting one that counts on every thread
// except the test's own, which leaves the gateway's workers: after a
// warm-up, a run of PUBLISH in, DATA out to a subscriber (and its
// publish-to-append and delivery latency recorded) must make no
// allocation there.
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "session/session_counters.h"
#include "support/alloc_counter.h"
#include "support/gateway_fixture.h"
#include "support/wait.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;

class PubSubAllocationTest : public GatewayTest {};

TEST_P(PubSubAllocationTest, PublishAndDeliveryAllocateNothingInTheGateway) {
  SetAllocationScope(AllocationScope::kAllThreads);
  ExemptThisThread();
  Start();
  auto pub = LoggedOnClient();
  auto sub = LoggedOnClient();
  ASSERT_TRUE(pub && sub);
  ASSERT_TRUE(sub->Subscribe(1, "alloc"));
  const StreamId stream = pub->Open("alloc");
  ASSERT_NE(stream.value(), 0u);
  // Two payload sizes in turn, each delivered before the next is sent.
  const std::string small(24, 's');
  const std::string large(900, 'l');
  auto one = [&](int i) {
    if (!pub->Publish(stream, i % 2 == 0 ? small : large)) return false;
    std::optional<Frame> f = sub->ReadSkippingHeartbeats();
    return f && f->type() == tp::MessageType::kData;
  };
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(one(i));
  // The session rows published for the admin plane once a second are sized
  // by the first publish that has both sessions (and the subscription) in
  // it; the later ones reuse them. Counting starts after that first one.
  ASSERT_TRUE(WaitUntil([&] {
    const std::vector<session::SessionInfo> rows = gateway_->Sessions();
    return rows.size() == 2 && (rows[0].subscriptions.size() == 1 ||
                                rows[1].subscriptions.size() == 1);
  }));
  const base::CounterRegistry& registry = gateway_->counters();
  auto count = [&](std::string_view name) {
    std::uint64_t n = 0;
    for (const base::MetricSample& m : registry.Snapshot()) {
      if (m.name == name) n += m.count;
    }
    return n;
  };
  const std::uint64_t delivered_before = count(session::kDeliveryLatencyNs);
  StartCountingAllocations();
  for (int i = 300; i < 1300; ++i) {
    if (!one(i)) {
      StopCountingAllocations();
      FAIL() << "message " << i << " was not delivered";
    }
  }
  StopCountingAllocations();
  EXPECT_EQ(CountedAllocations(), 0)
      << "allocations in the gateway over 1000 messages";
  // The histograms were on the path measured.
  EXPECT_TRUE(WaitUntil([&] {
    return count(session::kDeliveryLatencyNs) >= delivered_before + 1000 &&
           count(session::kPublishToAppendNs) >= 1300;
  }));
}

INSTANTIATE_TEST_SUITE_P(Backends, PubSubAllocationTest,
                         ::testing::ValuesIn(EachBackend(1)), ParamName);

}  // namespace
}  // namespace tachyon::testing
