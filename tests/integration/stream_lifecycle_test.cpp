// Stream retirement through a real gateway: a stream opened and written by
// a client is retired once the client has gone and streams.idle_retire_ms
// passed (observed through the counters registry), and opening the name
// again creates it afresh with a new id, continuing its sequences.
#include <string>

#include "gtest/gtest.h"
#include "stream/stream_metric_names.h"
#include "support/gateway_fixture.h"
#include "support/wait.h"
#include "tachyon/protocol/data_messages.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;

class StreamLifecycleTest : public GatewayTest {};

// Publishes `payload` with an ack and returns the sequence it got (0 on
// failure).
std::uint64_t PublishAcked(TestClient& c, StreamId stream, std::uint64_t id) {
  if (!c.Publish(stream, "x", id, true)) return 0;
  auto f = c.ReadSkippingHeartbeats();
  if (!f || f->type() != tp::MessageType::kPublishAck) return 0;
  return tp::PublishAckView(f->view()).sequence().value();
}

TEST_P(StreamLifecycleTest,
       IdleStreamIsRetiredAndReopenedWithNewIdAndNextSequence) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.default_stream.idle_retire_ms = 50;
  Start(c);
  const base::CounterRegistry& metrics = gateway_->counters();
  StreamId first_id;
  {
    auto pub = LoggedOnClient();
    ASSERT_NE(pub, nullptr);
    first_id = pub->Open("life.one");
    ASSERT_NE(first_id.value(), 0u);
    EXPECT_EQ(PublishAcked(*pub, first_id, 1), 1u);
    EXPECT_EQ(PublishAcked(*pub, first_id, 2), 2u);
    EXPECT_EQ(metrics.Sum(stream::kPublishers, "stream", "life.one"), 1u);
    // Open and publishing: not retired however long it is quiet.
    ASSERT_TRUE(WaitUntil([&] {
      return metrics.Sum(stream::kStreamsOpen) == 1 &&
             metrics.Sum(stream::kNextSequence, "stream", "life.one") == 3;
    }));
  }
  // The client is gone: the stream goes after idle_retire_ms (swept once a
  // second), and its memory with it.
  ASSERT_TRUE(WaitUntil([&] {
    return metrics.Sum(stream::kStreamsRetiredTotal) == 1 &&
           metrics.Sum(stream::kStreamsOpen) == 0 &&
           metrics.Sum(stream::kMemoryCommittedBytes) == 0;
  })) << "retired "
      << metrics.Sum(stream::kStreamsRetiredTotal) << ", open "
      << metrics.Sum(stream::kStreamsOpen) << ", committed "
      << metrics.Sum(stream::kMemoryCommittedBytes);
  EXPECT_EQ(gateway_->registry().FindByName("life.one"), nullptr);

  auto again = LoggedOnClient();
  ASSERT_NE(again, nullptr);
  const StreamId second_id = again->Open("life.one");
  ASSERT_NE(second_id.value(), 0u);
  EXPECT_NE(second_id, first_id);
  EXPECT_EQ(PublishAcked(*again, second_id, 3), 3u);
  // The old id names nothing now.
  EXPECT_EQ(gateway_->registry().Find(first_id), nullptr);
}

TEST_P(StreamLifecycleTest, SubscribedStreamIsNotRetired) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.default_stream.idle_retire_ms = 50;
  Start(c);
  const base::CounterRegistry& metrics = gateway_->counters();
  auto sub = LoggedOnClient();
  ASSERT_NE(sub, nullptr);
  auto ack = sub->Subscribe(7, "life.kept");
  ASSERT_TRUE(ack && ack->type() == tp::MessageType::kSubscribeAck);
  auto pattern = LoggedOnClient();
  ASSERT_NE(pattern, nullptr);
  auto pack = pattern->Subscribe(8, "life.*");
  ASSERT_TRUE(pack && pack->type() == tp::MessageType::kSubscribeAck);
  ASSERT_TRUE(WaitUntil([&] {
    return metrics.Sum(stream::kSubscribers, "stream", "life.kept") == 2;
  }));
  // In use: the operator's retire is refused, naming the subscribers.
  const absl::Status refused = gateway_->registry().Retire("life.kept");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.message(),
            "stream 'life.kept' is in use: 0 publishers, 2 subscribers, 2 "
            "readers attached");
  EXPECT_EQ(metrics.Sum(stream::kStreamsRetiredTotal), 0u);
  sub.reset();
  pattern.reset();
  ASSERT_TRUE(WaitUntil(
      [&] { return metrics.Sum(stream::kStreamsRetiredTotal) == 1; }));
}

INSTANTIATE_TEST_SUITE_P(Backends, StreamLifecycleTest,
                         ::testing::ValuesIn(EachBackend(2)), ParamName);

}  // namespace
}  // namespace tachyon::testing
