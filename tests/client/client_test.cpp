// The blocking client against a real in-process gateway on loopback: every
// API path, for the epoll and io_uring backends.
#include "tachyon/client/client.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "auth/token_hash.h"
#include "client_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/gateway_fixture.h"
#include "support/wait.h"

namespace tachyon::testing {
namespace {

using ::tachyon::client::Client;
using ::tachyon::client::ClientOptions;
using ::tachyon::client::Gap;
using ::tachyon::client::GapOrigin;
using ::tachyon::client::Message;
using ::tachyon::client::StartPosition;
using ::testing::HasSubstr;

struct Received {
  StreamId stream_id;
  std::string stream;
  std::uint64_t sequence;
  std::int64_t timestamp_ns;
  std::string payload;
};

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class ClientTest : public GatewayTest {
 protected:
  std::unique_ptr<Client> Connect(ClientOptions options = {}) {
    auto c = Client::Connect("127.0.0.1", gateway_->port(), options);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // A handler that records every message into `out`.
  static client::MessageHandler Record(std::vector<Received>* out) {
    return [out](const Message& m) {
      out->push_back({m.stream_id, std::string(m.stream_name),
                      m.sequence.value(), m.timestamp_ns,
                      std::string(m.text())});
    };
  }
};

TEST_P(ClientTest, ConnectReportsSessionAndGrantedLimits) {
  Start();
  ClientOptions options;
  options.heartbeat_interval = 250ms;
  auto c = Connect(options);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->connected());
  EXPECT_NE(c->session_id().value(), 0u);
  EXPECT_EQ(c->heartbeat_interval(), 250ms);
  EXPECT_EQ(c->max_frame_length(), protocol::kDefaultMaxFrameLength);
  EXPECT_EQ(c->max_payload_length(), protocol::kDefaultMaxFrameLength - 32);
  EXPECT_GE(c->fd(), 0);
  EXPECT_EQ(c->peer(), "127.0.0.1:" + std::to_string(gateway_->port()));
}

TEST_P(ClientTest, PublishAndSubscribeOnOneConnectionInOrder) {
  Start();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  std::vector<Received> got;
  ASSERT_TRUE(
      c->Subscribe("orders", StartPosition::Latest(), Record(&got)).ok());
  auto stream = c->OpenStream("orders");
  ASSERT_TRUE(stream.ok()) << stream.status();
  const std::int64_t before = NowNs();
  constexpr int kMessages = 200;
  for (int i = 1; i <= kMessages; ++i) {
    ASSERT_TRUE(c->Publish(*stream, "order " + std::to_string(i)).ok());
  }
  ASSERT_TRUE(PollUntil(*c, [&] { return got.size() == kMessages; }));
  for (int i = 1; i <= kMessages; ++i) {
    const Received& r = got[i - 1];
    EXPECT_EQ(r.stream_id, *stream);
    EXPECT_EQ(r.stream, "orders");
    EXPECT_EQ(r.sequence, static_cast<std::uint64_t>(i));
    EXPECT_EQ(r.payload, "order " + std::to_string(i));
    EXPECT_GE(r.timestamp_ns, before - 1'000'000);
    EXPECT_LE(r.timestamp_ns, NowNs());
  }
  EXPECT_EQ(c->stats().messages_received,
            static_cast<std::uint64_t>(kMessages));
  EXPECT_EQ(c->stats().publishes, static_cast<std::uint64_t>(kMessages));
  EXPECT_EQ(c->stats().gaps, 0u);
}

TEST_P(ClientTest, PublisherAndSubscriberOnSeparateConnections) {
  Start();
  auto pub = Connect();
  auto sub = Connect();
  ASSERT_NE(pub, nullptr);
  ASSERT_NE(sub, nullptr);
  std::vector<Received> got;
  ASSERT_TRUE(
      sub->Subscribe("ticks", StartPosition::Latest(), Record(&got)).ok());
  auto stream = pub->OpenStream("ticks");
  ASSERT_TRUE(stream.ok());
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(pub->Publish(*stream, std::string(100, 'a' + i % 26)).ok());
  }
  ASSERT_TRUE(PollUntil(*sub, [&] { return got.size() == 1000; }));
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].sequence, i + 1);
  }
}

// publish_batch_bytes: frames wait in the batch until it fills, Flush(),
// Poll() or another request, and arrive complete and in order.
TEST_P(ClientTest, PublishBatchingCoalescesUntilFlushAndKeepsOrder) {
  Start();
  ClientOptions options;
  options.publish_batch_bytes = 4096;
  auto pub = Connect(options);
  auto sub = Connect();
  ASSERT_NE(pub, nullptr);
  ASSERT_NE(sub, nullptr);
  std::vector<Received> got;
  ASSERT_TRUE(
      sub->Subscribe("batched", StartPosition::Latest(), Record(&got)).ok());
  auto stream = pub->OpenStream("batched");
  ASSERT_TRUE(stream.ok());
  for (int i = 0; i < 10; ++i) {  // 10 x 40 bytes: well under 4096
    ASSERT_TRUE(pub->Publish(*stream, std::string(16, 'a' + i)).ok());
  }
  EXPECT_FALSE(PollUntil(
      *sub, [&] { return !got.empty(); }, 200ms));
  ASSERT_TRUE(pub->Flush().ok());
  ASSERT_TRUE(PollUntil(*sub, [&] { return got.size() == 10; }));
  // A full batch goes out by itself; a request flushes what is pending
  // first, so its effect follows the earlier publishes.
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(pub->Publish(*stream, std::string(16, 'x')).ok());
  }
  ASSERT_TRUE(PollUntil(*sub, [&] { return got.size() >= 100; }));
  auto acked = pub->PublishWithAck(*stream, std::string(16, 'z'));
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_EQ(acked->value(), 511u);
  ASSERT_TRUE(PollUntil(*sub, [&] { return got.size() == 511; }));
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].sequence, i + 1);
  }
}

TEST_P(ClientTest, PublishWithAckReturnsAssignedSequences) {
  Start();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  auto stream = c->OpenStream("acked");
  ASSERT_TRUE(stream.ok());
  for (std::uint64_t i = 1; i <= 5; ++i) {
    auto seq = c->PublishWithAck(*stream, "x");
    ASSERT_TRUE(seq.ok()) << seq.status();
    EXPECT_EQ(seq->value(), i);
  }
  // The empty payload is a valid message too.
  auto seq = c->PublishWithAck(*stream, std::span<const std::byte>());
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(seq->value(), 6u);
}

TEST_P(ClientTest, OpenStreamIsCachedAndIdsAreStable) {
  Start();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  auto a = c->OpenStream("a.b");
  auto b = c->OpenStream("c.d");
  auto again = c->OpenStream("a.b");
  ASSERT_TRUE(a.ok() && b.ok() && again.ok());
  EXPECT_EQ(*a, *again);
  EXPECT_NE(*a, *b);
  // Another session sees the same id for the same name.
  auto other = Connect();
  auto theirs = other->OpenStream("c.d");
  ASSERT_TRUE(theirs.ok());
  EXPECT_EQ(*theirs, *b);
}

TEST_P(ClientTest, TryClaimWritesPayloadInPlaceAndCommitSendsIt) {
  Start();
  auto pub = Connect();
  auto sub = Connect();
  std::vector<Received> got;
  ASSERT_TRUE(
      sub->Subscribe("claims", StartPosition::Latest(), Record(&got)).ok());
  auto stream = pub->OpenStream("claims");
  ASSERT_TRUE(stream.ok());

  auto claim = pub->TryClaim(*stream, 5);
  ASSERT_TRUE(claim.ok()) << claim.status();
  ASSERT_EQ(claim->size(), 5u);
  std::memcpy(claim->data(), "hello", 5);
  // While a claim is outstanding nothing else may use the send buffer.
  EXPECT_EQ(pub->Publish(*stream, "x").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(pub->TryClaim(*stream, 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(pub->Commit().ok());
  EXPECT_EQ(pub->Commit().code(), absl::StatusCode::kFailedPrecondition);

  // An aborted claim sends nothing and consumes no sequence.
  auto aborted = pub->TryClaim(*stream, 3);
  ASSERT_TRUE(aborted.ok());
  std::memcpy(aborted->data(), "bad", 3);
  pub->Abort();
  auto big = pub->TryClaim(*stream, pub->max_payload_length());
  ASSERT_TRUE(big.ok());
  std::memset(big->data(), 'z', big->size());
  ASSERT_TRUE(pub->Commit().ok());
  EXPECT_EQ(
      pub->TryClaim(*stream, pub->max_payload_length() + 1).status().code(),
      absl::StatusCode::kInvalidArgument);

  ASSERT_TRUE(PollUntil(*sub, [&] { return got.size() == 2; }));
  EXPECT_EQ(got[0].payload, "hello");
  EXPECT_EQ(got[0].sequence, 1u);
  EXPECT_EQ(got[1].sequence, 2u);
  EXPECT_EQ(got[1].payload, std::string(pub->max_payload_length(), 'z'));
}

TEST_P(ClientTest, PublishRejectsUnopenedStreamsAndOversizedPayloads) {
  Start();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  absl::Status s = c->Publish(StreamId{42}, "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("OpenStream"));
  auto stream = c->OpenStream("sized");
  ASSERT_TRUE(stream.ok());
  const std::string too_long(c->max_payload_length() + 1, 'x');
  s = c->Publish(*stream, too_long);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("exceeds"));
  EXPECT_TRUE(
      c->Publish(*stream, std::string(c->max_payload_length(), 'y')).ok());
  EXPECT_TRUE(c->connected());
}

TEST_P(ClientTest, SubscribeStartsAtEarliestOrAtASequence) {
  Start();
  auto pub = Connect();
  auto stream = pub->OpenStream("history");
  ASSERT_TRUE(stream.ok());
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(pub->Publish(*stream, std::to_string(i)).ok());
  }
  ASSERT_TRUE(pub->PublishWithAck(*stream, "11").ok());

  auto sub = Connect();
  std::vector<Received> earliest, from5, beyond;
  ASSERT_TRUE(
      sub->Subscribe("history", StartPosition::Earliest(), Record(&earliest))
          .ok());
  ASSERT_TRUE(PollUntil(*sub, [&] { return earliest.size() == 11; }));
  EXPECT_EQ(earliest.front().payload, "1");
  EXPECT_EQ(earliest.back().sequence, 11u);

  auto sub2 = Connect();
  ASSERT_TRUE(sub2->Subscribe("history", StartPosition::From(Sequence{5}),
                              Record(&from5))
                  .ok());
  ASSERT_TRUE(PollUntil(*sub2, [&] { return from5.size() == 7; }));
  EXPECT_EQ(from5.front().sequence, 5u);
  EXPECT_EQ(from5.front().payload, "5");

  auto sub3 = Connect();
  ASSERT_TRUE(sub3->Subscribe("history", StartPosition::From(Sequence{1000}),
                              Record(&beyond))
                  .ok());
  ASSERT_TRUE(pub->Publish(*stream, "12").ok());
  ASSERT_TRUE(PollUntil(*sub3, [&] { return beyond.size() == 1; }));
  EXPECT_EQ(beyond[0].sequence, 12u);
}

TEST_P(ClientTest, PositionsSayWhereEachStreamStartsAndStands) {
  Start();
  auto pub = Connect();
  auto a = pub->OpenStream("pos.a");
  auto b = pub->OpenStream("pos.b");
  ASSERT_TRUE(a.ok() && b.ok());
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(pub->Publish(*a, "x").ok());
  ASSERT_TRUE(pub->PublishWithAck(*b, "y").ok());

  auto sub = Connect();
  EXPECT_TRUE(sub->Positions().empty());
  std::vector<Received> got;
  // Past the end: the gateway answers with the stream's next sequence.
  ASSERT_TRUE(
      sub->Subscribe("pos.a", StartPosition::From(Sequence{100}), Record(&got))
          .ok());
  auto positions = sub->Positions();
  ASSERT_EQ(positions.size(), 1u);
  EXPECT_EQ(positions[0].stream_name, "pos.a");
  EXPECT_EQ(positions[0].stream_id, *a);
  EXPECT_EQ(positions[0].next_sequence, Sequence{4});

  // A pattern's streams appear as the gateway acknowledges them.
  ASSERT_TRUE(
      sub->Subscribe("pos.*", StartPosition::Earliest(), Record(&got)).ok());
  ASSERT_TRUE(PollUntil(*sub, [&] { return sub->Positions().size() == 2; }));
  ASSERT_TRUE(pub->PublishWithAck(*a, "z").ok());
  ASSERT_TRUE(PollUntil(*sub, [&] {
    return !sub->Positions().empty() &&
           sub->Positions()[0].next_sequence == Sequence{5};
  }));
  positions = sub->Positions();
  EXPECT_EQ(positions[1].stream_name, "pos.b");
  EXPECT_EQ(positions[1].next_sequence, Sequence{2});
}

TEST_P(ClientTest, PatternSubscriptionNamesEachMatchingStream) {
  Start();
  auto pub = Connect();
  auto aapl = pub->OpenStream("md.eq.AAPL");
  auto eur = pub->OpenStream("md.fx.EUR");
  ASSERT_TRUE(aapl.ok() && eur.ok());
  ASSERT_TRUE(pub->PublishWithAck(*aapl, "a1").ok());
  ASSERT_TRUE(pub->PublishWithAck(*eur, "e1").ok());

  auto sub = Connect();
  std::vector<Received> got;
  ASSERT_TRUE(
      sub->Subscribe("md.eq.*", StartPosition::Earliest(), Record(&got)).ok());
  // A matching stream created after the subscription is delivered from its
  // first message.
  auto msft = pub->OpenStream("md.eq.MSFT");
  ASSERT_TRUE(msft.ok());
  ASSERT_TRUE(pub->Publish(*msft, "m1").ok());
  ASSERT_TRUE(pub->Publish(*aapl, "a2").ok());
  ASSERT_TRUE(pub->Publish(*eur, "e2").ok());
  ASSERT_TRUE(PollUntil(*sub, [&] { return got.size() == 3; }));
  std::map<std::string, std::vector<std::string>> by_stream;
  for (const Received& r : got) by_stream[r.stream].push_back(r.payload);
  EXPECT_EQ(by_stream["md.eq.AAPL"], (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(by_stream["md.eq.MSFT"], (std::vector<std::string>{"m1"}));
  EXPECT_EQ(by_stream.count("md.fx.EUR"), 0u);
}

TEST_P(ClientTest, GapCallbackOnReplayFromAnOverwrittenSequence) {
  config::GatewayConfig cfg = TestConfig(GetParam());
  cfg.default_stream.capacity_bytes = 64u << 10;
  cfg.default_stream.window_bytes = 32u << 10;
  cfg.max_frame_length = 4096;
  Start(cfg);
  auto pub = Connect();
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(pub->max_payload_length(), 4096u - 32);
  auto stream = pub->OpenStream("lapped");
  ASSERT_TRUE(stream.ok());
  constexpr int kMessages = 5000;  // laps the 64 KiB ring many times
  for (int i = 1; i < kMessages; ++i) {
    ASSERT_TRUE(pub->Publish(*stream, std::to_string(i)).ok());
  }
  auto last = pub->PublishWithAck(*stream, std::to_string(kMessages));
  ASSERT_TRUE(last.ok());
  ASSERT_EQ(last->value(), static_cast<std::uint64_t>(kMessages));

  auto sub = Connect();
  std::vector<Gap> gaps;
  std::vector<Received> got;
  ASSERT_TRUE(sub->Subscribe("lapped", StartPosition::From(Sequence{1}),
                             Record(&got),
                             [&](const Gap& g) { gaps.push_back(g); })
                  .ok());
  ASSERT_TRUE(PollUntil(
      *sub, [&] { return !got.empty() && got.back().sequence == kMessages; }));
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].origin, GapOrigin::kGateway);
  EXPECT_EQ(gaps[0].stream_id, *stream);
  EXPECT_EQ(gaps[0].from.value(), 1u);
  const std::uint64_t first_kept = gaps[0].to.value() + 1;
  EXPECT_GT(first_kept, 1000u);
  ASSERT_EQ(got.front().sequence, first_kept);
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].sequence, first_kept + i);
  }
  EXPECT_EQ(sub->stats().gaps, 1u);
  EXPECT_EQ(sub->stats().messages_lost, first_kept - 1);
}

TEST_P(ClientTest, OverlappingSubscriptionsEachSeeEveryMessageOnce) {
  Start();
  auto c = Connect();
  std::vector<Received> exact, pattern;
  ASSERT_TRUE(
      c->Subscribe("dup.x", StartPosition::Latest(), Record(&exact)).ok());
  ASSERT_TRUE(
      c->Subscribe("dup.*", StartPosition::Latest(), Record(&pattern)).ok());
  auto stream = c->OpenStream("dup.x");
  ASSERT_TRUE(stream.ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c->Publish(*stream, "m").ok());
  ASSERT_TRUE(PollUntil(*c, [&] { return pattern.size() == 10; }));
  EXPECT_EQ(exact.size(), 10u);
  EXPECT_EQ(c->stats().messages_received, 10u);  // one DATA per message
}

TEST_P(ClientTest, UnsubscribeStopsDeliveryEvenFromInsideTheHandler) {
  Start();
  auto c = Connect();
  auto stream = c->OpenStream("unsub");
  ASSERT_TRUE(stream.ok());
  int calls = 0;
  SubscriptionId self;
  auto id = c->Subscribe("unsub", StartPosition::Latest(), [&](const Message&) {
    ++calls;
    EXPECT_TRUE(c->Unsubscribe(self).ok());
  });
  ASSERT_TRUE(id.ok());
  self = *id;
  // Three messages arrive in one batch; the handler ends its subscription
  // on the first, so it sees no more.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c->Publish(*stream, "m").ok());
  ASSERT_TRUE(PollUntil(*c, [&] { return calls > 0; }));
  auto later = c->PublishWithAck(*stream, "later");
  ASSERT_TRUE(later.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c->Poll(256, 10ms).ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(c->Unsubscribe(self).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(c->Unsubscribe(SubscriptionId{999}).code(),
            absl::StatusCode::kNotFound);

  // Re-subscribing to the same stream works and starts afresh.
  std::vector<Received> again;
  ASSERT_TRUE(
      c->Subscribe("unsub", StartPosition::Latest(), Record(&again)).ok());
  ASSERT_TRUE(c->Publish(*stream, "again").ok());
  ASSERT_TRUE(PollUntil(*c, [&] { return again.size() == 1; }));
  EXPECT_EQ(again[0].payload, "again");
}

TEST_P(ClientTest, HandlersMayPublishButNotMakeReceivingCalls) {
  Start();
  auto c = Connect();
  auto in = c->OpenStream("echo.in");
  auto out = c->OpenStream("echo.out");
  ASSERT_TRUE(in.ok() && out.ok());
  std::vector<Received> echoed;
  ASSERT_TRUE(
      c->Subscribe("echo.out", StartPosition::Latest(), Record(&echoed)).ok());
  absl::Status poll_status, open_status, request_status;
  ASSERT_TRUE(
      c->Subscribe("echo.in", StartPosition::Latest(), [&](const Message& m) {
         poll_status = c->Poll().status();
         open_status = c->OpenStream("x").status();
         request_status = c->Request(1, std::string_view(), 100ms).status();
         EXPECT_TRUE(c->Publish(*out, m.payload).ok());
       }).ok());
  ASSERT_TRUE(c->Publish(*in, "ping").ok());
  ASSERT_TRUE(PollUntil(*c, [&] { return echoed.size() == 1; }));
  EXPECT_EQ(echoed[0].payload, "ping");
  EXPECT_EQ(poll_status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(open_status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(request_status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(poll_status.message(), HasSubstr("handler"));
  EXPECT_TRUE(c->connected());
}

TEST_P(ClientTest, RequestWithoutBackendsIsNotFoundWithGatewayText) {
  Start();
  auto c = Connect();
  auto r = c->Request(7, protocol::AsBytes("question"), 1000ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("NO_SUCH_SERVICE"));
  EXPECT_THAT(r.status().message(), HasSubstr("no backend service with id 7"));
  EXPECT_EQ(c->Request(0, std::string_view(), 100ms).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(c->connected());
}

// The gateway speaks version 3, and without backend services knows no
// name: NOT_FOUND naming the service, and the session goes on.
TEST_P(ClientTest, LookupOfAnUnknownServiceIsNotFoundNamingIt) {
  Start();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->protocol_version(), protocol::kMaxProtocolVersion);
  auto id = c->LookupService("pricing");
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(id.status().message(), HasSubstr("\"pricing\""));
  EXPECT_THAT(id.status().message(), HasSubstr(c->peer()));
  for (const std::string& bad : {std::string(), std::string(65, 'n')}) {
    EXPECT_EQ(c->LookupService(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad.size();
  }
  EXPECT_TRUE(c->connected());
  // The session still answers requests after the lookups.
  EXPECT_EQ(c->Request(7, std::string_view(), 1000ms).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(ClientTest, MalformedNamesAreInvalidArgument) {
  Start();
  auto c = Connect();
  for (const char* bad : {"bad name", "", "a/b", "md.*"}) {
    auto s = c->OpenStream(bad);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(c->OpenStream("bad name").status().message(),
              HasSubstr("invalid stream name \"bad name\""));
  auto noop = [](const Message&) {};
  const std::vector<std::string> bad_patterns = {"**", "md.*.x", "a b*",
                                                 std::string(256, 'a')};
  for (const std::string& bad : bad_patterns) {
    EXPECT_EQ(c->Subscribe(bad, StartPosition::Latest(), noop).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(c->Subscribe("ok", StartPosition::From(Sequence{0}), noop)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      c->Subscribe("ok", StartPosition::Latest(), nullptr).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(c->Subscribe("*", StartPosition::Latest(), noop).ok());
  EXPECT_TRUE(c->connected());
}

TEST_P(ClientTest, LogonRejectIsPermissionDeniedWithGatewayText) {
  config::GatewayConfig cfg = TestConfig(GetParam());
  cfg.token = "secret";
  Start(cfg);
  auto rejected = Client::Connect("127.0.0.1", gateway_->port());
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(rejected.status().message(),
              HasSubstr("logon rejected by 127.0.0.1:"));
  EXPECT_THAT(rejected.status().message(), HasSubstr("NOT_AUTHORIZED"));
  ClientOptions options;
  options.token = "secret";
  auto accepted = Client::Connect("localhost", gateway_->port(), options);
  EXPECT_TRUE(accepted.ok()) << accepted.status();
}

TEST_P(ClientTest, PrincipalTokenLogsOnAndPermissionsRefuse) {
  config::GatewayConfig cfg = TestConfig(GetParam());
  cfg.auth.anonymous = false;
  config::Principal feed;
  feed.name = "md-feed";
  feed.token_hash = auth::HashToken("s3cret", auth::kMinIterations);
  feed.publish = {"md.*"};
  feed.create = {"md.*"};
  cfg.principals.push_back(feed);
  Start(cfg);
  ClientOptions options;
  options.token = "md-feed:wrong";
  auto rejected = Client::Connect("127.0.0.1", gateway_->port(), options);
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kPermissionDenied);
  options.token = "md-feed:s3cret";
  auto c = Client::Connect("127.0.0.1", gateway_->port(), options);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE((*c)->OpenStream("md.eq.AAPL").ok());
  auto refused = (*c)->OpenStream("fx.EUR");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("principal 'md-feed' may not publish to stream "
                        "'fx.EUR'"));
  EXPECT_TRUE((*c)->connected());
}

TEST_P(ClientTest, HeartbeatsKeepAnIdleSessionAlive) {
  config::GatewayConfig cfg = TestConfig(GetParam());
  cfg.min_heartbeat_interval_ms = 10;
  Start(cfg);
  ClientOptions options;
  // The gateway drops a session silent for 3 intervals: 300 ms, a margin a
  // sanitizer build on a busy 2-core box keeps (20 ms intervals did not).
  options.heartbeat_interval = 100ms;
  auto c = Connect(options);
  ASSERT_NE(c, nullptr);
  const auto until = std::chrono::steady_clock::now() + 1500ms;
  while (std::chrono::steady_clock::now() < until) {
    auto n = c->Poll(16, 5ms);
    ASSERT_TRUE(n.ok()) << n.status();
  }
  EXPECT_TRUE(c->connected());
  EXPECT_GE(c->stats().heartbeats_sent, 5u);
  auto stream = c->OpenStream("still.here");
  EXPECT_TRUE(stream.ok()) << stream.status();
}

TEST_P(ClientTest, GatewayShutdownEndsTheSessionWithUnavailable) {
  Start();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  std::thread stopper([&] { gateway_->RequestStop(); });
  absl::Status status;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (status.ok() && std::chrono::steady_clock::now() < deadline) {
    status = c->Poll(16, 10ms).status();
  }
  stopper.join();
  gateway_->Wait();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("SHUTTING_DOWN"));
  EXPECT_FALSE(c->connected());
  EXPECT_EQ(c->fd(), -1);
  // Sticky: every later call reports the same.
  EXPECT_EQ(c->OpenStream("x").status(), status);
  EXPECT_TRUE(c->Close().ok());
}

TEST_P(ClientTest, CloseLogsOutAndLaterCallsFail) {
  Start();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  auto stream = c->OpenStream("closing");
  ASSERT_TRUE(stream.ok());
  ASSERT_TRUE(c->Close().ok());
  EXPECT_FALSE(c->connected());
  EXPECT_EQ(c->Publish(*stream, "x").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(c->Poll().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(c->Close().ok());  // idempotent
  EXPECT_TRUE(WaitUntil([&] { return gateway_->Stats().sessions_open == 0; }))
      << gateway_->Stats().sessions_open;
}

// The default policy ("backpressure") as a publisher sees it: while a
// subscriber that does not poll holds the stream, a blocking Publish waits
// (the gateway stops reading, TCP stops the sender); once the subscriber
// polls, every Publish returns OK and it receives every message, in order.
TEST_P(ClientTest,
       PublishWaitsWhileASlowSubscriberHoldsTheStreamAndLosesNothing) {
  config::GatewayConfig cfg = TestConfig(GetParam());
  cfg.default_stream.capacity_bytes = 1u << 20;
  cfg.default_stream.window_bytes = 256u << 10;
  cfg.default_stream.stall_timeout_ms = 0;  // hold for as long as it takes
  cfg.socket.send_buffer_bytes = 32 << 10;
  Start(cfg);
  ClientOptions slow_options;
  slow_options.socket_receive_buffer = 4096;
  auto slow = Connect(slow_options);
  std::vector<std::uint64_t> got;
  ASSERT_TRUE(slow->Subscribe("bp", StartPosition::Latest(),
                              [&](const Message& m) {
                                got.push_back(m.sequence.value());
                              })
                  .ok());
  ClientOptions pub_options;
  pub_options.send_timeout = std::chrono::milliseconds(60000);
  auto pub = Connect(pub_options);
  auto stream = pub->OpenStream("bp");
  ASSERT_TRUE(stream.ok());
  constexpr std::uint64_t kMessages = 6000;  // 3 MiB: twelve windows
  std::atomic<std::uint64_t> published{0};
  std::thread publisher([&] {
    const std::string payload(500, 'y');
    for (std::uint64_t i = 0; i < kMessages; ++i) {
      ASSERT_TRUE(pub->Publish(*stream, payload).ok()) << "message " << i;
      published = i + 1;
    }
  });
  ASSERT_TRUE(WaitUntil([&] { return gateway_->Stats().publish_holds > 0; }));
  EXPECT_LT(published.load(), kMessages) << "published past a stalled reader";
  ASSERT_TRUE(PollUntil(
      *slow, [&] { return got.size() == kMessages; }, 60000ms));
  publisher.join();
  for (std::uint64_t i = 0; i < kMessages; ++i) ASSERT_EQ(got[i], i + 1);
  EXPECT_EQ(gateway_->Stats().publishes_refused, 0u);
  EXPECT_EQ(gateway_->Stats().slow_consumers, 0u);
  EXPECT_EQ(pub->stats().publishes_refused, 0u);
  EXPECT_TRUE(pub->connected());
  EXPECT_TRUE(slow->connected());
}

INSTANTIATE_TEST_SUITE_P(
    Backends, ClientTest,
    ::testing::Values(GatewayParam{config::IoBackend::kEpoll, 1},
                      GatewayParam{config::IoBackend::kUring, 2}),
    ParamName);

}  // namespace
}  // namespace tachyon::testing
