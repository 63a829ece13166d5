// End-to-end publish/subscribe through a real gateway on loopback, run for
// every io backend and for one and two workers.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "support/gateway_fixture.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
using ::tachyon::protocol::MessageType;
using ::tachyon::protocol::StartMode;
using namespace std::chrono_literals;

class PubSubTest : public GatewayTest {};

TEST_P(PubSubTest, LogonAckGrantsSessionAndLimits) {
  Start();
  auto c = TestClient::Connect(gateway_->port());
  ASSERT_NE(c, nullptr);
  auto ack = c->Logon("", 250);
  ASSERT_TRUE(ack);
  ASSERT_EQ(ack->type(), MessageType::kLogonAck);
  tp::LogonAckView v(ack->view());
  EXPECT_EQ(v.negotiated_version(), 1);
  EXPECT_EQ(v.heartbeat_interval_ms(), 250u);
  EXPECT_NE(v.session_id().value(), 0u);
  EXPECT_EQ(v.max_frame_length(), tp::kDefaultMaxFrameLength);
}

TEST_P(PubSubTest, ManySubscribersReceiveInterleavedStreamsInOrder) {
  Start();
  constexpr int kStreams = 3;
  constexpr int kSubscribers = 6;
  constexpr int kMessages = 300;
  std::vector<std::unique_ptr<TestClient>> subs;
  for (int i = 0; i < kSubscribers; ++i) {
    subs.push_back(LoggedOnClient());
    // Subscriber i takes streams (i % 3) and ((i + 1) % 3).
    for (int k = 0; k < 2; ++k) {
      const int s = (i + k) % kStreams;
      auto ack = subs.back()->Subscribe(k + 1, "s." + std::to_string(s));
      ASSERT_TRUE(ack);
      ASSERT_EQ(ack->type(), MessageType::kSubscribeAck);
      EXPECT_EQ(tp::StreamAckView(ack->view()).next_sequence().value(), 1u);
    }
  }
  auto pub = LoggedOnClient();
  std::vector<StreamId> ids;
  for (int s = 0; s < kStreams; ++s) {
    ids.push_back(pub->Open("s." + std::to_string(s), s + 1));
    ASSERT_NE(ids.back().value(), 0u);
  }
  for (int m = 0; m < kMessages; ++m) {
    const int s = m % kStreams;
    ASSERT_TRUE(pub->Publish(ids[s], "m" + std::to_string(m)));
  }
  for (int i = 0; i < kSubscribers; ++i) {
    std::map<std::uint32_t, std::uint64_t> next_seq;
    std::map<std::uint32_t, int> next_msg;
    for (int k = 0; k < 2; ++k) {
      const int s = (i + k) % kStreams;
      next_seq[ids[s].value()] = 1;
      next_msg[ids[s].value()] = s;
    }
    const int expected = 2 * kMessages / kStreams;
    for (int got = 0; got < expected; ++got) {
      auto f = subs[i]->ReadSkippingHeartbeats();
      ASSERT_TRUE(f) << "subscriber " << i << " got " << got << " of "
                     << expected;
      ASSERT_EQ(f->type(), MessageType::kData);
      tp::DataView d(f->view());
      const std::uint32_t sid = d.stream_id().value();
      ASSERT_TRUE(next_seq.contains(sid));
      EXPECT_EQ(d.sequence().value(), next_seq[sid]++);
      EXPECT_EQ(PayloadText(*f), "m" + std::to_string(next_msg[sid]));
      next_msg[sid] += kStreams;
      EXPECT_GT(d.timestamp_ns(), 0);
    }
  }
}

TEST_P(PubSubTest, PublishAckCarriesAssignedSequence) {
  Start();
  auto pub = LoggedOnClient();
  const StreamId id = pub->Open("acks");
  ASSERT_NE(id.value(), 0u);
  for (std::uint64_t i = 1; i <= 5; ++i) {
    ASSERT_TRUE(pub->Publish(id, "x", 1000 + i, /*ack=*/true));
    auto f = pub->ReadSkippingHeartbeats();
    ASSERT_TRUE(f);
    ASSERT_EQ(f->type(), MessageType::kPublishAck);
    tp::PublishAckView a(f->view());
    EXPECT_EQ(a.correlation_id(), 1000 + i);
    EXPECT_EQ(a.sequence().value(), i);
    EXPECT_EQ(a.status(), tp::ErrorCode::kNone);
  }
}

TEST_P(PubSubTest, PublishToUnopenedStreamIsRefusedNotFatal) {
  Start();
  auto pub = LoggedOnClient();
  ASSERT_TRUE(pub->Publish(StreamId{77}, "x", 5));
  auto f = pub->ReadSkippingHeartbeats();
  ASSERT_TRUE(f);
  ASSERT_EQ(f->type(), MessageType::kPublishAck);
  EXPECT_EQ(tp::PublishAckView(f->view()).status(),
            tp::ErrorCode::kUnknownStream);
  // The session is still usable.
  EXPECT_NE(pub->Open("after").value(), 0u);
}

// Publishers on separate connections (spread over the workers by
// SO_REUSEPORT) hammer one stream; every subscriber sees each publisher's
// messages in its order, and one contiguous sequence for all.
TEST_P(PubSubTest, ConcurrentPublishersGetContiguousSequences) {
  Start();
  constexpr int kPublishers = 4;
  constexpr int kPerPublisher = 500;
  auto sub = LoggedOnClient();
  ASSERT_TRUE(sub->Subscribe(1, "shared"));
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int p = 0; p < kPublishers; ++p) {
    threads.emplace_back([&, p] {
      auto c = TestClient::Connect(gateway_->port());
      if (!c || !c->Logon()) {
        ++failures;
        return;
      }
      const StreamId id = c->Open("shared");
      for (int i = 0; i < kPerPublisher; ++i) {
        if (!c->Publish(id, std::to_string(p) + ":" + std::to_string(i))) {
          ++failures;
        }
      }
      // Wait for the acks of a final acked publish so every message is in.
      c->Publish(id, std::to_string(p) + ":end", 1, true);
      auto f = c->ReadSkippingHeartbeats();
      if (!f || f->type() != MessageType::kPublishAck) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  std::vector<int> next(kPublishers, 0);
  const int total = kPublishers * (kPerPublisher + 1);
  for (int n = 1; n <= total; ++n) {
    auto f = sub->ReadSkippingHeartbeats();
    ASSERT_TRUE(f) << "after " << n - 1 << " messages";
    ASSERT_EQ(f->type(), MessageType::kData);
    tp::DataView d(f->view());
    EXPECT_EQ(d.sequence().value(), static_cast<std::uint64_t>(n));
    const std::string text = PayloadText(*f);
    const int p = std::stoi(text.substr(0, text.find(':')));
    const std::string rest = text.substr(text.find(':') + 1);
    if (rest == "end") {
      EXPECT_EQ(next[p], kPerPublisher);
    } else {
      EXPECT_EQ(std::stoi(rest), next[p]++);
    }
  }
}

TEST_P(PubSubTest, SubscribeFromEarliestLatestAndSequenceReplays) {
  Start();
  auto pub = LoggedOnClient();
  const StreamId id = pub->Open("replay");
  for (int i = 1; i <= 10; ++i)
    ASSERT_TRUE(pub->Publish(id, std::to_string(i)));
  ASSERT_TRUE(pub->Publish(id, "sync", 1, true));
  ASSERT_TRUE(pub->ReadSkippingHeartbeats());  // all 11 are in the log

  auto earliest = LoggedOnClient();
  auto ack = earliest->Subscribe(1, "replay", StartMode::kEarliest);
  ASSERT_TRUE(ack);
  EXPECT_EQ(tp::StreamAckView(ack->view()).next_sequence().value(), 1u);
  for (int i = 1; i <= 10; ++i) {
    auto f = earliest->ReadSkippingHeartbeats();
    ASSERT_TRUE(f);
    EXPECT_EQ(tp::DataView(f->view()).sequence().value(),
              static_cast<std::uint64_t>(i));
    EXPECT_EQ(PayloadText(*f), std::to_string(i));
  }

  auto from7 = LoggedOnClient();
  ack = from7->Subscribe(1, "replay", StartMode::kSequence, 7);
  ASSERT_TRUE(ack);
  EXPECT_EQ(tp::StreamAckView(ack->view()).next_sequence().value(), 7u);
  auto f = from7->ReadSkippingHeartbeats();
  ASSERT_TRUE(f);
  EXPECT_EQ(PayloadText(*f), "7");

  auto latest = LoggedOnClient();
  ack = latest->Subscribe(1, "replay", StartMode::kLatest);
  ASSERT_TRUE(ack);
  EXPECT_EQ(tp::StreamAckView(ack->view()).next_sequence().value(), 12u);
  ASSERT_TRUE(pub->Publish(id, "new"));
  f = latest->ReadSkippingHeartbeats();
  ASSERT_TRUE(f);
  EXPECT_EQ(tp::DataView(f->view()).sequence().value(), 12u);
  EXPECT_EQ(PayloadText(*f), "new");

  // A start beyond the end begins at the next sequence.
  auto future = LoggedOnClient();
  ack = future->Subscribe(1, "replay", StartMode::kSequence, 1000);
  ASSERT_TRUE(ack);
  EXPECT_EQ(tp::StreamAckView(ack->view()).next_sequence().value(), 13u);
}

TEST_P(PubSubTest, GapReportedWhenRequestedRangeWasOverwritten) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.default_stream.capacity_bytes = 64u << 10;  // ~2000 small frames
  c.default_stream.window_bytes = 32u << 10;
  c.max_frame_length = 4096;
  Start(c);
  auto pub = LoggedOnClient();
  const StreamId id = pub->Open("lapped");
  constexpr int kMessages = 5000;  // laps the 64 KiB ring
  for (int i = 1; i <= kMessages; ++i) {
    ASSERT_TRUE(pub->Publish(id, std::to_string(i)));
  }
  ASSERT_TRUE(pub->Publish(id, "sync", 1, true));
  auto sync = pub->ReadSkippingHeartbeats();
  ASSERT_TRUE(sync);
  const std::uint64_t last =
      tp::PublishAckView(sync->view()).sequence().value();

  auto sub = LoggedOnClient();
  auto ack = sub->Subscribe(1, "lapped", StartMode::kSequence, 1);
  ASSERT_TRUE(ack);
  ASSERT_EQ(ack->type(), MessageType::kSubscribeAck);
  EXPECT_EQ(tp::StreamAckView(ack->view()).next_sequence().value(), 1u);
  auto gap = sub->ReadSkippingHeartbeats();
  ASSERT_TRUE(gap);
  ASSERT_EQ(gap->type(), MessageType::kGap);
  tp::GapView g(gap->view());
  EXPECT_EQ(g.from_sequence().value(), 1u);
  const std::uint64_t first_kept = g.to_sequence().value() + 1;
  EXPECT_GT(first_kept, 1000u);
  for (std::uint64_t s = first_kept; s <= last; ++s) {
    auto f = sub->ReadSkippingHeartbeats();
    ASSERT_TRUE(f) << "sequence " << s;
    ASSERT_EQ(f->type(), MessageType::kData);
    ASSERT_EQ(tp::DataView(f->view()).sequence().value(), s);
  }
}

TEST_P(PubSubTest, PatternSubscriptionCoversExistingAndLaterStreams) {
  Start();
  auto pub = LoggedOnClient();
  const StreamId a = pub->Open("md.eq.AAPL");
  const StreamId other = pub->Open("md.fx.EURUSD");
  ASSERT_TRUE(pub->Publish(a, "a1"));
  ASSERT_TRUE(pub->Publish(a, "a2", 1, true));
  ASSERT_TRUE(pub->ReadSkippingHeartbeats());

  auto sub = LoggedOnClient();
  ASSERT_TRUE(sub->SendSubscribe(9, "md.eq.*", StartMode::kEarliest));
  auto pattern_ack = sub->ReadSkippingHeartbeats();
  ASSERT_TRUE(pattern_ack);
  ASSERT_EQ(pattern_ack->type(), MessageType::kSubscribeAck);
  EXPECT_EQ(pattern_ack->view().stream_id().value(), 0u);
  EXPECT_EQ(tp::StreamAckView(pattern_ack->view()).name(), "md.eq.*");
  auto stream_ack = sub->ReadSkippingHeartbeats();
  ASSERT_TRUE(stream_ack);
  ASSERT_EQ(stream_ack->type(), MessageType::kSubscribeAck);
  EXPECT_EQ(stream_ack->view().stream_id(), a);
  EXPECT_EQ(tp::StreamAckView(stream_ack->view()).name(), "md.eq.AAPL");
  for (const char* want : {"a1", "a2"}) {
    auto f = sub->ReadSkippingHeartbeats();
    ASSERT_TRUE(f);
    ASSERT_EQ(f->type(), MessageType::kData);
    EXPECT_EQ(PayloadText(*f), want);
  }
  // A stream created later is announced and delivered from its start; a
  // non-matching stream is not delivered.
  ASSERT_TRUE(pub->Publish(other, "fx"));
  const StreamId b = pub->Open("md.eq.MSFT", 2);
  ASSERT_NE(b.value(), 0u);
  ASSERT_TRUE(pub->Publish(b, "b1"));
  auto later_ack = sub->ReadSkippingHeartbeats();
  ASSERT_TRUE(later_ack);
  ASSERT_EQ(later_ack->type(), MessageType::kSubscribeAck);
  EXPECT_EQ(later_ack->view().stream_id(), b);
  auto f = sub->ReadSkippingHeartbeats();
  ASSERT_TRUE(f);
  ASSERT_EQ(f->type(), MessageType::kData);
  EXPECT_EQ(f->view().stream_id(), b);
  EXPECT_EQ(PayloadText(*f), "b1");
  EXPECT_EQ(tp::DataView(f->view()).sequence().value(), 1u);
}

TEST_P(PubSubTest, UnsubscribeStopsDeliveryAndUnknownIdIsAnError) {
  Start();
  auto pub = LoggedOnClient();
  const StreamId id = pub->Open("u");
  auto sub = LoggedOnClient();
  ASSERT_TRUE(sub->Subscribe(1, "u"));
  ASSERT_TRUE(pub->Publish(id, "before"));
  auto f = sub->ReadSkippingHeartbeats();
  ASSERT_TRUE(f);
  EXPECT_EQ(PayloadText(*f), "before");
  std::array<std::byte, 64> buf;
  std::size_t n = tp::EncodeUnsubscribe(buf, SubscriptionId{1});
  ASSERT_TRUE(sub->SendRaw({buf.data(), n}));
  n = tp::EncodeUnsubscribe(buf, SubscriptionId{1});
  ASSERT_TRUE(sub->SendRaw({buf.data(), n}));
  auto err = sub->ReadSkippingHeartbeats();
  ASSERT_TRUE(err);
  ASSERT_EQ(err->type(), MessageType::kError);
  EXPECT_EQ(tp::ErrorView(err->view()).code(),
            tp::ErrorCode::kUnknownSubscription);
  EXPECT_FALSE(tp::ErrorView(err->view()).fatal());
  ASSERT_TRUE(pub->Publish(id, "after"));
  EXPECT_FALSE(sub->ReadSkippingHeartbeats(300ms));
  EXPECT_FALSE(sub->eof());
}

// UNSUBSCRIBE and, in the same read, SUBSCRIBE of the same stream while a
// backlog is going out to a subscriber with a small receive buffer: the
// old delivery is mid-send (a frame half on the wire, or an io_uring send
// in flight). The new subscription still starts where its own start mode
// says, its ack tells where, and the old frame is finished first so the
// byte stream stays whole (PROTOCOL.md 11.3, 11.7).
TEST_P(PubSubTest, ResubscribeWhileOldDeliveryIsMidSendStartsAtItsOwnPosition) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.default_stream.capacity_bytes = 4u << 20;
  c.default_stream.window_bytes = 2u << 20;
  c.socket.send_buffer_bytes = 16 << 10;  // keep the backlog out of the kernel
  Start(c);
  auto pub = LoggedOnClient();
  const StreamId id = pub->Open("backlog");
  ASSERT_NE(id.value(), 0u);
  // 1000-byte payloads: frames of 1032 bytes, so sends stop inside frames.
  constexpr std::uint64_t kMessages = 1200;
  const auto payload = [](std::uint64_t i) {
    std::string p = std::to_string(i);
    p.resize(1000, '.');
    return p;
  };
  for (std::uint64_t i = 1; i <= kMessages; ++i) {
    ASSERT_TRUE(pub->Publish(id, payload(i)));
  }
  ASSERT_TRUE(pub->Publish(id, "sync", 1, true));
  auto sync = pub->ReadSkippingHeartbeats();
  ASSERT_TRUE(sync);
  ASSERT_EQ(sync->type(), MessageType::kPublishAck);
  std::uint64_t last = tp::PublishAckView(sync->view()).sequence().value();
  ASSERT_EQ(last, kMessages + 1);

  auto sub = LoggedOnClient(/*rcvbuf=*/4096);
  auto ack = sub->Subscribe(1, "backlog", StartMode::kEarliest);
  ASSERT_TRUE(ack);
  ASSERT_EQ(ack->type(), MessageType::kSubscribeAck);
  ASSERT_EQ(tp::StreamAckView(ack->view()).next_sequence().value(), 1u);

  // Each round: read a little of the current delivery, let the gateway
  // fill the socket again, then replace the subscription in one write.
  struct Round {
    StartMode mode;
    std::uint64_t from;
    std::uint64_t want_next;  // the ack's next_sequence
    // A second SUBSCRIBE of the stream (From(5)) in the same write: it
    // shares the restarting delivery, its ack says 0, and it moves nothing.
    bool second_cover = false;
  };
  const Round rounds[] = {
      {StartMode::kSequence, 20, 20},    // behind the old position
      {StartMode::kSequence, 900, 900},  // ahead of it
      {StartMode::kSequence, 5, 5},
      {StartMode::kLatest, 0, last + 1, true},
  };
  std::uint64_t next = 1;  // next sequence of the current subscription
  std::uint32_t sub_id = 1;
  for (const Round& round : rounds) {
    for (int i = 0; i < 10; ++i) {
      auto f = sub->ReadSkippingHeartbeats();
      ASSERT_TRUE(f);
      ASSERT_EQ(f->type(), MessageType::kData);
      ASSERT_EQ(tp::DataView(f->view()).sequence().value(), next++);
    }
    std::this_thread::sleep_for(50ms);
    std::array<std::byte, 128> buf;
    std::size_t n = tp::EncodeUnsubscribe(buf, SubscriptionId{sub_id});
    ++sub_id;
    n += tp::EncodeSubscribe(std::span(buf).subspan(n),
                             {.subscription_id = SubscriptionId{sub_id},
                              .start = round.mode,
                              .start_sequence = Sequence{round.from},
                              .name = "backlog"});
    if (round.second_cover) {
      n += tp::EncodeSubscribe(std::span(buf).subspan(n),
                               {.subscription_id = SubscriptionId{sub_id + 1},
                                .start = StartMode::kSequence,
                                .start_sequence = Sequence{5},
                                .name = "backlog"});
    }
    ASSERT_TRUE(sub->SendRaw({buf.data(), n}));
    // Frames already on the way continue the old delivery in order; then
    // the new subscription's ack.
    std::optional<Frame> f;
    for (std::uint64_t i = 0; i <= kMessages + 1; ++i) {
      f = sub->ReadSkippingHeartbeats();
      ASSERT_TRUE(f) << "no ack for subscription " << sub_id;
      if (f->type() != MessageType::kData) break;
      ASSERT_EQ(tp::DataView(f->view()).sequence().value(), next++);
    }
    ASSERT_EQ(f->type(), MessageType::kSubscribeAck);
    const tp::StreamAckView new_ack(f->view());
    EXPECT_EQ(new_ack.id(), sub_id);
    ASSERT_EQ(new_ack.next_sequence().value(), round.want_next);
    next = round.want_next;
    if (round.second_cover) {
      f = sub->ReadSkippingHeartbeats();
      ASSERT_TRUE(f);
      ASSERT_EQ(f->type(), MessageType::kSubscribeAck);
      EXPECT_EQ(tp::StreamAckView(f->view()).id(), sub_id + 1);
      EXPECT_EQ(tp::StreamAckView(f->view()).next_sequence().value(), 0u);
    }
  }
  // The last round started at the end: only new messages follow.
  ASSERT_TRUE(pub->Publish(id, payload(last + 1)));
  auto f = sub->ReadSkippingHeartbeats();
  ASSERT_TRUE(f);
  ASSERT_EQ(f->type(), MessageType::kData);
  EXPECT_EQ(tp::DataView(f->view()).sequence().value(), last + 1);
  EXPECT_EQ(PayloadText(*f), payload(last + 1));
  EXPECT_FALSE(sub->ReadSkippingHeartbeats(200ms)) << "a frame after the end";
  EXPECT_FALSE(sub->eof());
  EXPECT_EQ(sub->decode_error(), tp::ErrorCode::kNone);
}

TEST_P(PubSubTest, DuplicateAndInvalidSubscriptionsAreNonFatalErrors) {
  Start();
  auto sub = LoggedOnClient();
  ASSERT_TRUE(sub->Subscribe(1, "ok"));
  auto dup = sub->Subscribe(1, "other");
  ASSERT_TRUE(dup);
  ASSERT_EQ(dup->type(), MessageType::kError);
  EXPECT_EQ(tp::ErrorView(dup->view()).code(),
            tp::ErrorCode::kDuplicateSubscription);
  EXPECT_EQ(tp::ErrorView(dup->view()).context(), 1u);
  auto bad = sub->Subscribe(2, "bad name!");
  ASSERT_TRUE(bad);
  ASSERT_EQ(bad->type(), MessageType::kError);
  EXPECT_EQ(tp::ErrorView(bad->view()).code(), tp::ErrorCode::kInvalidName);
  auto badpat = sub->Subscribe(3, "a*b*");
  ASSERT_TRUE(badpat);
  EXPECT_EQ(tp::ErrorView(badpat->view()).code(), tp::ErrorCode::kInvalidName);
  EXPECT_NE(sub->Open("still.fine").value(), 0u);
}

TEST_P(PubSubTest, RequestIsAnsweredNoSuchService) {
  Start();
  auto c = LoggedOnClient();
  std::array<std::byte, 128> buf;
  const std::size_t n = tp::EncodeRequest(
      buf,
      {.correlation_id = 42, .service_id = 3, .payload = tp::AsBytes("q")});
  ASSERT_TRUE(c->SendRaw({buf.data(), n}));
  auto f = c->ReadSkippingHeartbeats();
  ASSERT_TRUE(f);
  ASSERT_EQ(f->type(), MessageType::kResponse);
  tp::ResponseView r(f->view());
  EXPECT_EQ(r.correlation_id(), 42u);
  EXPECT_EQ(r.service_id(), 3u);
  EXPECT_EQ(r.status(), tp::ResponseStatus::kNoSuchService);
  EXPECT_NE(std::string(tp::AsText(r.payload())).find("service"),
            std::string::npos);
}

// Protocol version 3: a gateway without backend services knows no name, and
// says so with service id 0; the session goes on.
TEST_P(PubSubTest, ServiceLookupWithoutServicesAnswersIdZero) {
  Start();
  auto c = TestClient::Connect(gateway_->port());
  ASSERT_NE(c, nullptr);
  auto ack = c->Logon("", 10000, 1, 3);
  ASSERT_TRUE(ack && ack->type() == MessageType::kLogonAck);
  ASSERT_EQ(tp::LogonAckView(ack->view()).negotiated_version(), 3);
  std::array<std::byte, 128> buf;
  for (const std::uint64_t correlation : {5u, 6u}) {
    const std::size_t n = tp::EncodeServiceLookup(
        buf, {.correlation_id = correlation, .name = "pricing"});
    ASSERT_TRUE(c->SendRaw({buf.data(), n}));
    auto f = c->ReadSkippingHeartbeats();
    ASSERT_TRUE(f);
    ASSERT_EQ(f->type(), MessageType::kServiceLookupAck);
    const tp::ServiceLookupAckView a(f->view());
    EXPECT_EQ(a.correlation_id(), correlation);
    EXPECT_EQ(a.service_id(), 0u);
  }
}

// SERVICE_LOOKUP is a version-3 frame: a version-2 session that sends it
// breaks the protocol (PROTOCOL.md 7.7) and is closed.
TEST_P(PubSubTest, ServiceLookupBelowVersion3IsFatal) {
  Start();
  auto c = TestClient::Connect(gateway_->port());
  ASSERT_NE(c, nullptr);
  auto ack = c->Logon("", 10000, 1, 2);
  ASSERT_TRUE(ack && ack->type() == MessageType::kLogonAck);
  ASSERT_EQ(tp::LogonAckView(ack->view()).negotiated_version(), 2);
  std::array<std::byte, 128> buf;
  const std::size_t n =
      tp::EncodeServiceLookup(buf, {.correlation_id = 5, .name = "pricing"});
  ASSERT_TRUE(c->SendRaw({buf.data(), n}));
  auto e = c->ReadSkippingHeartbeats();
  ASSERT_TRUE(e);
  ASSERT_EQ(e->type(), MessageType::kError);
  const tp::ErrorView error(e->view());
  EXPECT_EQ(error.code(), tp::ErrorCode::kUnexpectedMessage);
  EXPECT_TRUE(error.fatal());
  EXPECT_NE(std::string(error.text()).find("version 3"), std::string::npos)
      << error.text();
  EXPECT_TRUE(c->WaitForEof());
}

// A client may not send the gateway's answer.
TEST_P(PubSubTest, ServiceLookupAckFromAClientIsFatal) {
  Start();
  auto c = LoggedOnClient();
  std::array<std::byte, 64> buf;
  const std::size_t n =
      tp::EncodeServiceLookupAck(buf, {.correlation_id = 1, .service_id = 2});
  ASSERT_TRUE(c->SendRaw({buf.data(), n}));
  auto e = c->ReadSkippingHeartbeats();
  ASSERT_TRUE(e);
  ASSERT_EQ(e->type(), MessageType::kError);
  EXPECT_EQ(tp::ErrorView(e->view()).code(), tp::ErrorCode::kUnexpectedMessage);
  EXPECT_TRUE(c->WaitForEof());
}

TEST_P(PubSubTest, LogonRejectedForVersionAndToken) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.token = "sesame";
  Start(c);
  auto v = TestClient::Connect(gateway_->port());
  // The gateway speaks versions 1 to 3 (PROTOCOL.md 7.2).
  auto r = v->Logon("sesame", 1000, 4, 5);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->type(), MessageType::kLogonReject);
  EXPECT_EQ(tp::ErrorView(r->view()).code(),
            tp::ErrorCode::kUnsupportedVersion);
  EXPECT_TRUE(v->WaitForEof());

  auto t = TestClient::Connect(gateway_->port());
  r = t->Logon("wrong");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->type(), MessageType::kLogonReject);
  EXPECT_EQ(tp::ErrorView(r->view()).code(), tp::ErrorCode::kNotAuthorized);
  EXPECT_TRUE(t->WaitForEof());

  auto ok = TestClient::Connect(gateway_->port());
  r = ok->Logon("sesame");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type(), MessageType::kLogonAck);
}

TEST_P(PubSubTest, FramesBeforeLogonAndGatewayOnlyFramesAreFatal) {
  Start();
  auto early = TestClient::Connect(gateway_->port());
  ASSERT_TRUE(early->Publish(StreamId{1}, "x"));
  auto e = early->ReadSkippingHeartbeats();
  ASSERT_TRUE(e);
  ASSERT_EQ(e->type(), MessageType::kError);
  EXPECT_EQ(tp::ErrorView(e->view()).code(), tp::ErrorCode::kUnexpectedMessage);
  EXPECT_TRUE(tp::ErrorView(e->view()).fatal());
  EXPECT_TRUE(early->WaitForEof());

  auto c = LoggedOnClient();
  std::array<std::byte, 64> buf;
  const std::size_t n = tp::EncodeData(buf, StreamId{1}, Sequence{1}, 0, {});
  ASSERT_TRUE(c->SendRaw({buf.data(), n}));
  e = c->ReadSkippingHeartbeats();
  ASSERT_TRUE(e);
  EXPECT_EQ(tp::ErrorView(e->view()).code(), tp::ErrorCode::kUnexpectedMessage);
  EXPECT_TRUE(c->WaitForEof());
}

TEST_P(PubSubTest, HeartbeatsFlowAndSilentClientsTimeOut) {
  Start();
  auto c = TestClient::Connect(gateway_->port());
  auto ack = c->Logon("", 50);  // 50 ms interval; timeout after 3 silent
  ASSERT_TRUE(ack);
  ASSERT_EQ(ack->type(), MessageType::kLogonAck);
  auto hb = c->Read(1000ms);
  ASSERT_TRUE(hb);
  EXPECT_EQ(hb->type(), MessageType::kHeartbeat);
  // Keep the session alive for a while by heartbeating...
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(40ms);
    ASSERT_TRUE(c->SendHeartbeat());
  }
  // ...then go silent: an ERROR HEARTBEAT_TIMEOUT, then EOF.
  std::optional<Frame> err;
  for (int i = 0; i < 50 && !err; ++i) {
    auto f = c->Read(1000ms);
    if (!f) break;
    if (f->type() == MessageType::kError) err = f;
  }
  ASSERT_TRUE(err);
  EXPECT_EQ(tp::ErrorView(err->view()).code(),
            tp::ErrorCode::kHeartbeatTimeout);
  EXPECT_TRUE(c->WaitForEof());
}

TEST_P(PubSubTest, ClientLogoutIsAnsweredAndClosed) {
  Start();
  auto c = LoggedOnClient();
  std::array<std::byte, 64> buf;
  const std::size_t n = tp::EncodeLogout(buf, tp::ErrorCode::kNone);
  ASSERT_TRUE(c->SendRaw({buf.data(), n}));
  auto f = c->ReadSkippingHeartbeats();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->type(), MessageType::kLogout);
  EXPECT_TRUE(c->WaitForEof());
}

// SO_REUSEPORT would let a second gateway join the first one's port and
// take a share of its connections; it must refuse to start instead.
TEST_P(PubSubTest, SecondGatewayOnTheSamePortRefusesToStart) {
  Start();
  config::GatewayConfig c = TestConfig(GetParam());
  c.port = gateway_->port();
  server::Gateway second(c);
  const absl::Status s = second.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_NE(std::string(s.message()).find("already in use"), std::string::npos);
  // The first gateway still serves.
  auto client = LoggedOnClient();
  EXPECT_NE(client->Open("still.here").value(), 0u);
}

// The same for the UDP port: a second process in its SO_REUSEPORT group would
// receive a share of the producers' datagrams.
TEST_P(PubSubTest, SecondGatewayOnTheSameUdpPortRefusesToStart) {
  config::GatewayConfig first = TestConfig(GetParam());
  first.udp.enabled = true;
  first.udp.port = 0;
  server::Gateway gateway(first);
  ASSERT_TRUE(gateway.Start().ok());
  config::GatewayConfig c = TestConfig(GetParam());
  c.udp.enabled = true;
  c.udp.port = gateway.udp_port();
  server::Gateway second(c);
  const absl::Status s = second.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_NE(std::string(s.message()).find("(UDP) is already in use"),
            std::string::npos)
      << s;
  gateway.RequestStop();
  gateway.Wait();
}

INSTANTIATE_TEST_SUITE_P(Backends, PubSubTest,
                         ::testing::ValuesIn(AllGatewayParams()), ParamName);

}  // namespace
}  // namespace tachyon::testing
