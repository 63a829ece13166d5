// UdpSubscriber against a real in-process gateway on loopback. Datagrams come
// from a lossy relay fed by the gateway's own DATA frames (udp_relay.h), so
// that loss, duplication and reordering are chosen by the test; the lost
// sequences are recovered from the same gateway over TCP.
#include "tachyon/client/udp_subscriber.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "support/gateway_fixture.h"
#include "support/net.h"
#include "tachyon/client/client.h"
#include "udp_receiver.h"
#include "udp_relay.h"

namespace tachyon::testing {
namespace {

using ::tachyon::client::Client;
using ::tachyon::client::Gap;
using ::tachyon::client::GapOrigin;
using ::tachyon::client::Message;
using ::tachyon::client::StartPosition;
using ::tachyon::client::UdpSubscriber;
using ::tachyon::client::UdpSubscriberOptions;
using namespace std::chrono_literals;

constexpr char kStream[] = "md.udp";

std::vector<std::uint64_t> Range(std::uint64_t from, std::uint64_t to) {
  std::vector<std::uint64_t> v(to - from + 1);
  std::iota(v.begin(), v.end(), from);
  return v;
}

std::string PayloadOf(std::uint64_t i) { return "m" + std::to_string(i); }

// SO_RXQ_OVFL is the kernel's running u32 count of drops; the subscriber's
// 64-bit total keeps growing when it wraps.
TEST(KernelDropCounterTest, AccumulatesAcrossTheKernelCountWrapping) {
  client::internal::KernelDropCounter drops;
  EXPECT_EQ(drops.total(), 0u);
  drops.Update(5);
  EXPECT_EQ(drops.total(), 5u);
  drops.Update(5);  // a later datagram, no new drops
  EXPECT_EQ(drops.total(), 5u);
  drops.Update(0xFFFF'FFF0u);
  EXPECT_EQ(drops.total(), 0xFFFF'FFF0u);
  drops.Update(3);  // wrapped: 0x13 more
  EXPECT_EQ(drops.total(), 0x1'0000'0003u);
  drops.Update(10);
  EXPECT_EQ(drops.total(), 0x1'0000'000Au);
}

// A gateway on each io backend, a publisher and the subscriber's Client.
class UdpSubscriberTest : public GatewayTest {
 protected:
  void Start(const config::GatewayConfig& c) {
    GatewayTest::Start(c);
    if (gateway_ == nullptr) return;
    publisher_ = Connect();
    ASSERT_NE(publisher_, nullptr);
    auto stream = publisher_->OpenStream(kStream);
    ASSERT_TRUE(stream.ok()) << stream.status();
    stream_ = *stream;
    client_ = Connect();
    ASSERT_NE(client_, nullptr);
  }
  void Start() { Start(TestConfig(GetParam())); }

  std::unique_ptr<Client> Connect() {
    auto c = Client::Connect("127.0.0.1", gateway_->port());
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  /// Creates the subscriber and the relay aimed at it.
  void Receive(UdpSubscriberOptions options = {}) {
    auto udp = UdpSubscriber::Create(*client_, options);
    ASSERT_TRUE(udp.ok()) << udp.status();
    udp_ = std::move(*udp);
    EXPECT_EQ(udp_->local_address(), "127.0.0.1");
    relay_ = UdpRelay::Start(gateway_->port(), kStream, udp_->local_port());
    ASSERT_NE(relay_, nullptr);
  }

  /// Joins the relayed stream from sequence 1, recording what arrives.
  void Join() {
    auto id = udp_->Join(
        kStream, StartPosition::From(Sequence{1}),
        [this](const Message& m) {
          sequences_.push_back(m.sequence.value());
          EXPECT_EQ(m.text(), PayloadOf(m.sequence.value()));
          EXPECT_EQ(m.stream_name, kStream);
          EXPECT_EQ(m.stream_id, stream_);
        },
        [this](const Gap& g) { gaps_.push_back(g); });
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(*id, stream_);
  }

  /// Publishes messages from .. to (acknowledged) and has the relay
  /// collect their frames.
  void Publish(std::uint64_t from, std::uint64_t to) {
    for (std::uint64_t i = from; i <= to; ++i) {
      auto seq = publisher_->PublishWithAck(stream_, PayloadOf(i));
      ASSERT_TRUE(seq.ok()) << seq.status();
      ASSERT_EQ(seq->value(), i);
    }
    ASSERT_TRUE(relay_->Collect(to));
  }

  /// Polls the subscriber until `n` messages arrived (bounded in time).
  bool PollUntilReceived(std::size_t n,
                         std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (sequences_.size() < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      auto r = udp_->Poll(Client::kDefaultPollLimit, 10ms);
      if (!r.ok()) {
        ADD_FAILURE() << "Poll: " << r.status();
        return false;
      }
    }
    return true;
  }

  /// Polls for `duration` (to show that nothing more arrives).
  void PollFor(std::chrono::milliseconds duration) {
    const auto deadline = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < deadline) {
      ASSERT_TRUE(udp_->Poll(Client::kDefaultPollLimit, 10ms).ok());
    }
  }

  std::unique_ptr<Client> publisher_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<UdpSubscriber> udp_;
  std::unique_ptr<UdpRelay> relay_;
  StreamId stream_;
  std::vector<std::uint64_t> sequences_;
  std::vector<Gap> gaps_;
};

TEST_P(UdpSubscriberTest, DeliversInOrderDatagramsWithoutTcp) {
  Start();
  Receive();
  Join();
  Publish(1, 12);
  for (std::uint64_t first = 1; first <= 12; first += 4) {
    ASSERT_TRUE(relay_->SendData(first, 4));
  }
  ASSERT_TRUE(PollUntilReceived(12));
  EXPECT_EQ(sequences_, Range(1, 12));
  const auto& s = udp_->stats();
  EXPECT_EQ(s.datagrams, 3u);
  EXPECT_EQ(s.messages, 12u);
  EXPECT_EQ(s.recovered, 0u);
  EXPECT_EQ(s.recoveries, 0u);
  EXPECT_EQ(s.gaps_detected, 0u);
  EXPECT_EQ(s.malformed, 0u);
  EXPECT_TRUE(gaps_.empty());
}

// Datagrams of 3 messages: d(k) carries 3k+1 .. 3k+3.
TEST_P(UdpSubscriberTest, LostDuplicatedAndReorderedDatagramsRecoveredExactly) {
  Start();
  Receive();
  Join();
  Publish(1, 30);
  const auto d = [&](int k) { ASSERT_TRUE(relay_->SendData(3 * k + 1, 3)); };
  d(0);
  d(1);
  d(1);  // duplicate
  d(3);  // d(2) late: 7..9 missing, recovery from 7 starts
  d(2);  // covers 7 again: back to UDP
  d(4);  // d(3) was left to TCP and ended with it: recovery from 10
  // d(5) lost
  d(6);
  d(7);
  d(8);
  d(9);
  ASSERT_TRUE(PollUntilReceived(30)) << sequences_.size();
  EXPECT_EQ(sequences_, Range(1, 30));
  const auto& s = udp_->stats();
  EXPECT_EQ(s.gaps_detected, 2u);
  EXPECT_EQ(s.recoveries, 2u);
  EXPECT_EQ(s.messages, 9u);    // 1..9 from datagrams
  EXPECT_EQ(s.recovered, 21u);  // 10..30 over TCP
  EXPECT_GE(s.duplicates, 3u);  // d(1) again
  EXPECT_TRUE(gaps_.empty());

  // While the recovery is live, TCP carries new messages; datagrams that
  // repeat them are dropped as duplicates and, being behind TCP, hand the
  // stream back to UDP, which carries what follows.
  Publish(31, 36);
  ASSERT_TRUE(PollUntilReceived(36));
  ASSERT_TRUE(relay_->SendData(34, 3));
  Publish(37, 39);
  ASSERT_TRUE(relay_->SendData(37, 3));
  ASSERT_TRUE(PollUntilReceived(39));
  PollFor(100ms);
  EXPECT_EQ(sequences_, Range(1, 39));
  EXPECT_TRUE(gaps_.empty());
}

// A late duplicate from before the loss, arriving while the recovery has not
// yet delivered anything, does not end it (which would cost a second
// recovery of the same range).
TEST_P(UdpSubscriberTest, LateDuplicateDoesNotEndAnUnconfirmedRecovery) {
  Start();
  Receive();
  Join();
  Publish(1, 12);
  ASSERT_TRUE(relay_->SendData(1, 3));
  ASSERT_TRUE(relay_->SendData(4, 3));
  // 7..9 lost
  ASSERT_TRUE(relay_->SendData(10, 3));  // recovery from 7 starts
  ASSERT_TRUE(relay_->SendData(1, 3));   // late duplicate
  ASSERT_TRUE(PollUntilReceived(12)) << sequences_.size();
  Publish(13, 15);
  ASSERT_TRUE(relay_->SendData(13, 3));
  ASSERT_TRUE(PollUntilReceived(15));
  PollFor(100ms);
  EXPECT_EQ(sequences_, Range(1, 15));
  EXPECT_TRUE(gaps_.empty());
  EXPECT_EQ(udp_->stats().recoveries, 1u);
  EXPECT_EQ(udp_->stats().gaps_detected, 1u);
}

TEST_P(UdpSubscriberTest, TailLossRevealedByHeartbeatThenBackToUdp) {
  Start();
  Receive();
  Join();
  Publish(1, 12);
  ASSERT_TRUE(relay_->SendData(1, 3));
  ASSERT_TRUE(relay_->SendData(4, 3));
  // 7..12 lost at the tail; the stream is idle, the heartbeat tells.
  ASSERT_TRUE(relay_->SendHeartbeat(13));
  ASSERT_TRUE(PollUntilReceived(12));
  EXPECT_EQ(udp_->stats().gaps_detected, 1u);
  EXPECT_EQ(udp_->stats().recovered, 6u);
  // A heartbeat at the expected sequence ends the recovery: new messages
  // then come from datagrams only.
  ASSERT_TRUE(relay_->SendHeartbeat(13));
  PollFor(50ms);
  Publish(13, 15);
  PollFor(200ms);
  EXPECT_EQ(sequences_.size(), 12u) << "TCP recovery still delivering";
  ASSERT_TRUE(relay_->SendData(13, 3));
  ASSERT_TRUE(PollUntilReceived(15));
  EXPECT_EQ(sequences_, Range(1, 15));
  EXPECT_EQ(udp_->stats().messages, 9u);
  EXPECT_EQ(udp_->stats().recovered, 6u);
  EXPECT_EQ(udp_->stats().heartbeats, 2u);
}

// Poll reads TCP first, so a recovery is usually ahead of the datagrams
// that follow the loss: with one message per datagram none of them ever
// straddles the expected sequence. A datagram wholly behind it must still
// end the recovery, or TCP would carry the stream for good.
TEST_P(UdpSubscriberTest, RecoveryAheadOfUdpEndsAtADatagramBehindIt) {
  Start();
  Receive();
  Join();
  Publish(1, 20);
  ASSERT_TRUE(relay_->SendData(1, 1));
  ASSERT_TRUE(relay_->SendData(2, 1));
  ASSERT_TRUE(relay_->SendData(5, 1));  // 3 and 4 lost: recovery from 3
  ASSERT_TRUE(PollUntilReceived(20));   // TCP delivers all it has
  EXPECT_EQ(udp_->stats().recoveries, 1u);
  EXPECT_EQ(udp_->stats().recovered, 18u);
  // UDP, behind TCP, catches up one message per datagram.
  for (std::uint64_t s = 6; s <= 12; ++s) ASSERT_TRUE(relay_->SendData(s, 1));
  PollFor(50ms);
  // The recovery has ended: new messages wait for their datagrams.
  Publish(21, 25);
  PollFor(200ms);
  EXPECT_EQ(sequences_.size(), 20u) << "TCP recovery still delivering";
  for (std::uint64_t s = 13; s <= 25; ++s) ASSERT_TRUE(relay_->SendData(s, 1));
  ASSERT_TRUE(PollUntilReceived(25));
  PollFor(50ms);
  EXPECT_EQ(sequences_, Range(1, 25));
  const auto& st = udp_->stats();
  EXPECT_EQ(st.messages, 2u + 5u);  // 1, 2 and 21..25 from datagrams
  EXPECT_EQ(st.recovered, 18u);
  EXPECT_EQ(st.recoveries, 1u);
  EXPECT_TRUE(gaps_.empty());

  // The same with a heartbeat behind TCP: it ends the recovery too.
  Publish(26, 30);
  ASSERT_TRUE(relay_->SendData(27, 1));  // 26 lost
  ASSERT_TRUE(PollUntilReceived(30));
  EXPECT_EQ(udp_->stats().recoveries, 2u);
  ASSERT_TRUE(relay_->SendHeartbeat(28));
  PollFor(50ms);
  Publish(31, 32);
  PollFor(200ms);
  EXPECT_EQ(sequences_.size(), 30u) << "TCP recovery still delivering";
  ASSERT_TRUE(relay_->SendData(28, 5));
  ASSERT_TRUE(PollUntilReceived(32));
  EXPECT_EQ(sequences_, Range(1, 32));
  EXPECT_EQ(udp_->stats().recoveries, 2u);
  EXPECT_TRUE(gaps_.empty());
}

// Loss after loss on one stream: each round ends the previous recovery with
// a datagram behind TCP, then loses a message of the next batch, so a new
// recovery of the same stream starts right after the last one ended. Every
// message arrives once, in order, with no gap reported.
TEST_P(UdpSubscriberTest, BackToBackRecoveriesDeliverEveryMessageOnce) {
  Start();
  Receive();
  Join();
  constexpr int kRounds = 12;
  constexpr std::uint64_t kBatch = 40;
  for (int round = 0; round < kRounds; ++round) {
    const std::uint64_t v = sequences_.size() + 1;  // the expected sequence
    if (round > 0) {
      // Behind TCP: the previous recovery ends.
      ASSERT_TRUE(relay_->SendData(v - 1, 1));
      ASSERT_TRUE(udp_->Poll(Client::kDefaultPollLimit, 10ms).ok());
    }
    Publish(v, v + kBatch - 1);
    ASSERT_TRUE(relay_->SendData(v, 1));
    ASSERT_TRUE(relay_->SendData(v + 2, 1));  // v + 1 lost
    ASSERT_TRUE(PollUntilReceived(v + kBatch - 1)) << "round " << round;
    ASSERT_EQ(udp_->stats().recoveries, static_cast<std::uint64_t>(round + 1))
        << "round " << round;
    ASSERT_EQ(udp_->stats().messages, static_cast<std::uint64_t>(round + 1))
        << "round " << round;
  }
  PollFor(100ms);
  EXPECT_EQ(sequences_, Range(1, kRounds * kBatch));
  EXPECT_TRUE(gaps_.empty());
  EXPECT_EQ(udp_->stats().gaps, 0u);
  EXPECT_EQ(udp_->stats().gaps_detected, static_cast<std::uint64_t>(kRounds));
  EXPECT_EQ(udp_->stats().recovered, kRounds * (kBatch - 1));
}

// A recovery whose TCP delivery starts beyond the expected sequence was
// placed elsewhere by the session (a delivery still ending, or — as here —
// the Client's own subscription to the stream, which the header advises
// against): it is asked for again rather than reported as a loss, a bounded
// number of times, after which what it skipped is reported as a gap.
TEST_P(UdpSubscriberTest, RecoveryStartingElsewhereIsAskedAgainThenReported) {
  Start();
  Receive();
  Join();
  Publish(1, 20);
  auto own = client_->Subscribe(kStream, StartPosition::Latest(),
                                [](const Message&) {});
  ASSERT_TRUE(own.ok()) << own.status();
  ASSERT_TRUE(relay_->SendData(1, 1));
  ASSERT_TRUE(relay_->SendData(3, 1));  // 2 lost: recovery from 2
  ASSERT_TRUE(PollUntilReceived(1));
  EXPECT_EQ(udp_->stats().recoveries, 1u);
  // Each new message reaches the recovery (shared with the Client's own
  // subscription) beyond 2: asked again, up to three times.
  std::uint64_t next = 21;
  for (int i = 0; i < 20 && sequences_.size() < 2; ++i) {
    Publish(next, next);
    ++next;
    PollFor(150ms);
  }
  ASSERT_EQ(sequences_.size(), 2u);
  EXPECT_EQ(udp_->stats().recoveries, 4u);
  ASSERT_EQ(gaps_.size(), 1u);
  EXPECT_EQ(gaps_[0].origin, GapOrigin::kDetected);
  EXPECT_EQ(gaps_[0].from.value(), 2u);
  EXPECT_EQ(sequences_[1], gaps_[0].to.value() + 1);
  EXPECT_EQ(sequences_[0], 1u);
}

TEST_P(UdpSubscriberTest, LatestStartsAtTheFirstDatagram) {
  Start();
  Receive();
  ASSERT_TRUE(udp_->Join(kStream, StartPosition::Latest(),
                         [this](const Message& m) {
                           sequences_.push_back(m.sequence.value());
                         })
                  .ok());
  Publish(1, 6);
  ASSERT_TRUE(relay_->SendData(4, 3));
  ASSERT_TRUE(PollUntilReceived(3));
  PollFor(50ms);
  EXPECT_EQ(sequences_, Range(4, 6));
  EXPECT_EQ(udp_->stats().recoveries, 0u);
}

TEST_P(UdpSubscriberTest, MalformedDatagramsCountedNeverDelivered) {
  Start();
  UdpSubscriberOptions options;
  options.max_datagram_length = 256;
  Receive(options);
  Join();
  Publish(1, 7);
  const std::vector<std::byte> good = relay_->Data(1, 3);
  std::vector<std::vector<std::byte>> bad;
  bad.emplace_back(good.begin(), good.begin() + 10);  // shorter than header
  auto corrupt = [&](std::size_t offset, std::uint8_t value) {
    auto b = good;
    b[offset] = std::byte{value};
    bad.push_back(b);
  };
  corrupt(0, 2);   // version
  corrupt(1, 9);   // kind
  corrupt(1, 2);   // PUBLISH kind: DATA frames inside, and not for us
  corrupt(2, 0);   // DATA with message_count 0
  corrupt(2, 4);   // count beyond the frames
  corrupt(8, 2);   // first_sequence != the first frame's
  corrupt(16, 0);  // source_id 0 ...
  bad.back()[17] = bad.back()[18] = bad.back()[19] = bad.back()[20] =
      bad.back()[21] = bad.back()[22] = bad.back()[23] = std::byte{0};
  corrupt(24 + 5, 0x77);                           // frame type
  bad.emplace_back(good.begin(), good.end() - 8);  // last frame truncated
  {
    auto b = good;  // bytes after the last frame
    b.insert(b.end(), 8, std::byte{0});
    bad.push_back(b);
  }
  {
    auto b = relay_->Heartbeat(4);  // HEARTBEAT with a count
    b[2] = std::byte{1};
    bad.push_back(b);
  }
  bad.push_back(relay_->Data(1, 7));  // longer than the receive slot
  for (const auto& b : bad) ASSERT_TRUE(relay_->Send(b));
  {
    auto b = good;  // valid, for a stream this subscriber does not receive
    const std::uint32_t other = stream_.value() + 100;
    protocol::StoreU32(b.data() + 4, other);
    for (std::size_t frame = protocol::kDatagramHeaderLength; frame < b.size();
         frame += protocol::PaddedLength(protocol::LoadU32(b.data() + frame))) {
      protocol::StoreU32(b.data() + frame + protocol::kStreamIdOffset, other);
    }
    ASSERT_EQ(
        protocol::DecodeDatagram(b, protocol::kDefaultMaxFrameLength).error,
        protocol::ErrorCode::kNone);
    ASSERT_TRUE(relay_->Send(b));
  }
  ASSERT_TRUE(relay_->Send(good));
  ASSERT_TRUE(PollUntilReceived(3));
  PollFor(50ms);
  EXPECT_EQ(sequences_, Range(1, 3));
  const auto& s = udp_->stats();
  EXPECT_EQ(s.malformed, bad.size());
  EXPECT_EQ(s.unknown_stream, 1u);
  EXPECT_EQ(s.datagrams, bad.size() + 2);
  EXPECT_EQ(s.recoveries, 0u);
}

TEST_P(UdpSubscriberTest, GapWhenTheLostRangeIsNoLongerRetained) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.max_frame_length = 4096;
  c.default_stream.capacity_bytes = 64u << 10;
  c.default_stream.window_bytes = 16u << 10;
  Start(c);
  Receive();
  Join();
  // 40-byte frames: the gateway replays at most 48 KiB of them (capacity
  // less window), about 1200; 3000 overwrite the first 1800 or so.
  constexpr std::uint64_t kMessages = 3000;
  for (std::uint64_t i = 1; i <= kMessages; i += 100) {
    Publish(i, i + 99);
    ASSERT_TRUE(udp_->Poll().ok());  // keeps the session's heartbeats going
  }
  // Only the last datagram arrives: everything before it is lost.
  ASSERT_TRUE(relay_->SendData(kMessages - 2, 3));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while ((sequences_.empty() || sequences_.back() != kMessages) &&
         std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(udp_->Poll(Client::kDefaultPollLimit, 10ms).ok());
  }
  ASSERT_EQ(gaps_.size(), 1u);
  const Gap& g = gaps_[0];
  EXPECT_EQ(g.origin, GapOrigin::kGateway);
  EXPECT_EQ(g.from.value(), 1u);
  EXPECT_EQ(g.stream_name, kStream);
  EXPECT_EQ(g.stream_id, stream_);
  EXPECT_GT(g.to.value(), 1000u);
  EXPECT_EQ(sequences_, Range(g.to.value() + 1, kMessages));
  EXPECT_EQ(udp_->stats().gaps, 1u);
  EXPECT_EQ(udp_->stats().messages_lost, g.count());
  EXPECT_EQ(udp_->stats().recoveries, 1u);
}

TEST_P(UdpSubscriberTest, GatewaySourceChangeReportedAndResyncedOverTcp) {
  Start();
  std::vector<absl::Status> errors;
  UdpSubscriberOptions options;
  options.on_error = [&](const absl::Status& s) { errors.push_back(s); };
  Receive(options);
  Join();
  Publish(1, 6);
  ASSERT_TRUE(relay_->SendData(1, 3));
  ASSERT_TRUE(PollUntilReceived(3));
  // Datagrams from another instance id: the old positions no longer apply,
  // so the stream is replayed from 1 over TCP.
  relay_->source_id = UdpRelay::kSourceId + 1;
  ASSERT_TRUE(relay_->SendData(4, 3));
  ASSERT_TRUE(PollUntilReceived(9));
  std::vector<std::uint64_t> want = Range(1, 3);
  for (std::uint64_t i : Range(1, 6)) want.push_back(i);
  EXPECT_EQ(sequences_, want);
  EXPECT_EQ(udp_->stats().source_changes, 1u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code(), absl::StatusCode::kAborted);
  // Stragglers from the old instance are dropped.
  relay_->source_id = UdpRelay::kSourceId;
  ASSERT_TRUE(relay_->SendData(4, 3));
  PollFor(50ms);
  EXPECT_EQ(udp_->stats().stale_source, 1u);
  EXPECT_EQ(sequences_.size(), 9u);
}

TEST_P(UdpSubscriberTest, CreateRejectsBadOptions) {
  Start();
  UdpSubscriberOptions options;
  options.bind_address = "not-an-address";
  EXPECT_EQ(UdpSubscriber::Create(*client_, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = {};
  options.multicast_group = "10.0.0.1";
  options.port = 9999;
  EXPECT_EQ(UdpSubscriber::Create(*client_, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = {};
  options.batch = 0;
  EXPECT_EQ(UdpSubscriber::Create(*client_, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto udp = UdpSubscriber::Create(*client_, {});
  ASSERT_TRUE(udp.ok());
  EXPECT_EQ(
      (*udp)
          ->Join(kStream, StartPosition::Earliest(), [](const Message&) {})
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(
      (*udp)
          ->Join(kStream, StartPosition::Latest(), [](const Message&) {})
          .ok());
  EXPECT_EQ((*udp)
                ->Join(kStream, StartPosition::Latest(), [](const Message&) {})
                .status()
                .code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE((*udp)->Unsubscribe(stream_).ok());
  EXPECT_EQ((*udp)->Unsubscribe(stream_).code(), absl::StatusCode::kNotFound);
}

TEST_P(UdpSubscriberTest, SubscribeRefusedWithoutUdpEgressKeepsTheSession) {
  Start();  // [udp] disabled
  Receive();
  auto id =
      udp_->Subscribe(kStream, StartPosition::Latest(), [](const Message&) {});
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied)
      << id.status();
  EXPECT_TRUE(client_->connected());
  // The refusal is not fatal: the stream can still be joined and received.
  Join();
  Publish(1, 3);
  ASSERT_TRUE(relay_->SendData(1, 3));
  ASSERT_TRUE(PollUntilReceived(3));
  EXPECT_EQ(sequences_, Range(1, 3));
}

// ---------------------------------------------------------------------------
// End to end: datagrams from the gateway's own UDP egress.

class UdpEndToEndTest : public UdpSubscriberTest {
 protected:
  /// The test config with UDP egress on (ingress on an ephemeral port).
  config::GatewayConfig UdpConfig() const {
    config::GatewayConfig c = TestConfig(GetParam());
    c.udp.enabled = true;
    c.udp.port = 0;
    c.udp.heartbeat_interval_ms = 20;
    return c;
  }
  /// The subscriber alone (datagrams come from the gateway).
  void Create(UdpSubscriberOptions options = {}) {
    auto udp = UdpSubscriber::Create(*client_, options);
    ASSERT_TRUE(udp.ok()) << udp.status();
    udp_ = std::move(*udp);
  }
  client::MessageHandler Record() {
    return [this](const Message& m) {
      sequences_.push_back(m.sequence.value());
      EXPECT_EQ(m.text(), PayloadOf(m.sequence.value()));
      EXPECT_EQ(m.stream_id, stream_);
    };
  }
  client::GapHandler RecordGaps() {
    return [this](const Gap& g) { gaps_.push_back(g); };
  }
  /// After a while without traffic: 1..last arrived exactly once and in
  /// order although the socket overflowed, through TCP recovery.
  void ExpectKernelDropsRecovered(std::uint64_t last) {
    PollFor(100ms);
    EXPECT_EQ(sequences_, Range(1, last));
    EXPECT_TRUE(gaps_.empty());
    const auto& s = udp_->stats();
    EXPECT_GT(s.kernel_drops, 0u);
    EXPECT_GE(s.gaps_detected, 1u);
    EXPECT_GT(s.recovered, 0u);
  }
  /// Publishes from .. to without waiting for acknowledgements.
  void Burst(std::uint64_t from, std::uint64_t to) {
    for (std::uint64_t i = from; i <= to; ++i) {
      ASSERT_TRUE(publisher_->Publish(stream_, PayloadOf(i)).ok());
    }
    ASSERT_TRUE(publisher_->Poll().ok());
  }
};

TEST_P(UdpEndToEndTest, UdpSubscribeDeliversExactlyWithTheBacklogOverTcp) {
  Start(UdpConfig());
  Create();
  Burst(1, 5);
  ASSERT_TRUE(publisher_->PublishWithAck(stream_, PayloadOf(6)).ok());
  // From(1): 1..6 precede the datagrams and come over TCP.
  auto id = udp_->Subscribe(kStream, StartPosition::From(Sequence{1}), Record(),
                            RecordGaps());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, stream_);
  Burst(7, 50);
  ASSERT_TRUE(PollUntilReceived(50)) << sequences_.size();
  EXPECT_GE(udp_->stats().recovered, 6u);
  // Idle: a heartbeat at the expected sequence ends the recovery, and what
  // follows comes over UDP.
  PollFor(100ms);
  const std::uint64_t recovered = udp_->stats().recovered;
  Burst(51, 500);
  ASSERT_TRUE(PollUntilReceived(500)) << sequences_.size();
  PollFor(100ms);
  EXPECT_EQ(sequences_, Range(1, 500));
  EXPECT_TRUE(gaps_.empty());
  const auto& s = udp_->stats();
  EXPECT_GT(s.messages, 0u) << "nothing arrived over UDP";
  EXPECT_EQ(s.messages + s.recovered, 500u);
  if (s.kernel_drops == 0) {
    EXPECT_EQ(s.recovered, recovered);
  }
  EXPECT_EQ(s.malformed, 0u);
  EXPECT_GT(s.heartbeats, 0u);

  // UNSUBSCRIBE ends the datagrams (heartbeats included).
  ASSERT_TRUE(udp_->Unsubscribe(stream_).ok());
  PollFor(100ms);
  const std::uint64_t datagrams = udp_->stats().datagrams;
  Burst(501, 600);
  PollFor(200ms);
  EXPECT_EQ(udp_->stats().datagrams, datagrams);
  EXPECT_EQ(sequences_.size(), 500u);
}

TEST_P(UdpEndToEndTest, KernelDropsInABurstRecoveredOverTcp) {
  Start(UdpConfig());
  UdpSubscriberOptions options;
  options.socket_receive_buffer = 1;  // the kernel's minimum
  Create(options);
  ASSERT_TRUE(
      udp_->Subscribe(kStream, StartPosition::Latest(), Record(), RecordGaps())
          .ok());
  // A burst the socket cannot hold while nobody reads it.
  constexpr std::uint64_t kMessages = 3000;
  Burst(1, kMessages);
  ASSERT_TRUE(
      publisher_->PublishWithAck(stream_, PayloadOf(kMessages + 1)).ok());
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(PollUntilReceived(kMessages + 1, 10s)) << sequences_.size();
  ExpectKernelDropsRecovered(kMessages + 1);
}

TEST_P(UdpEndToEndTest, ConfiguredUnicastGroupJoinedWithLossRecovered) {
  const std::uint16_t port = UnusedPort(SOCK_DGRAM);
  config::GatewayConfig c = UdpConfig();
  c.udp.groups.push_back(
      {.stream = kStream,
       .destinations = {"127.0.0.1:" + std::to_string(port)}});
  Start(c);
  UdpSubscriberOptions options;
  options.bind_address = "127.0.0.1";
  options.port = port;
  // Room for a few datagrams, far fewer than the burst's ~55: a heartbeat
  // already waiting there cannot crowd out the first DATA datagram (as it
  // can with the kernel's minimum), so some messages do come over UDP.
  options.socket_receive_buffer = 8192;
  Create(options);
  ASSERT_TRUE(udp_->Join(kStream, StartPosition::From(Sequence{1}), Record(),
                         RecordGaps())
                  .ok());
  constexpr std::uint64_t kMessages = 2000;
  Burst(1, kMessages);
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(PollUntilReceived(kMessages, 10s)) << sequences_.size();
  Burst(kMessages + 1, kMessages + 10);
  ASSERT_TRUE(PollUntilReceived(kMessages + 10));
  ExpectKernelDropsRecovered(kMessages + 10);
  EXPECT_GT(udp_->stats().messages, 0u);
}

TEST_P(UdpEndToEndTest, RemoteDestinationRefusedUnlessAllowed) {
  Start(UdpConfig());
  UdpSubscriberOptions options;
  options.bind_address = "127.0.0.2";  // not the session's own address
  Create(options);
  EXPECT_EQ(udp_->local_address(), "127.0.0.2");
  auto id = udp_->Subscribe(kStream, StartPosition::Latest(), Record());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied)
      << id.status();
  EXPECT_TRUE(client_->connected());
}

TEST_P(UdpEndToEndTest, RemoteDestinationNamedWhenAllowed) {
  config::GatewayConfig c = UdpConfig();
  c.udp.allow_remote_destinations = true;
  Start(c);
  UdpSubscriberOptions options;
  options.bind_address = "127.0.0.2";
  Create(options);
  ASSERT_TRUE(
      udp_->Subscribe(kStream, StartPosition::Latest(), Record(), RecordGaps())
          .ok());
  Burst(1, 50);
  ASSERT_TRUE(PollUntilReceived(50)) << sequences_.size();
  EXPECT_EQ(sequences_, Range(1, 50));
  EXPECT_GT(udp_->stats().messages, 0u);
}

/// True if a datagram sent to `group` on the loopback interface reaches a
/// socket that joined it there (it does not where lo lacks MULTICAST or a
/// route).
bool LoopbackMulticastWorks(const std::string& group, std::uint16_t port) {
  const int rx = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  const int tx = ::socket(AF_INET, SOCK_DGRAM, 0);
  const int one = 1;
  ::setsockopt(rx, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, group.c_str(), &addr.sin_addr);
  bool ok = ::bind(rx, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ip_mreqn join{};
  join.imr_multiaddr = addr.sin_addr;
  join.imr_address.s_addr = htonl(INADDR_LOOPBACK);
  ok = ok &&
       ::setsockopt(rx, IPPROTO_IP, IP_ADD_MEMBERSHIP, &join, sizeof join) == 0;
  in_addr lo{};
  lo.s_addr = htonl(INADDR_LOOPBACK);
  ok = ok &&
       ::setsockopt(tx, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo) == 0 &&
       ::sendto(tx, "probe", 5, 0, reinterpret_cast<sockaddr*>(&addr),
                sizeof addr) == 5;
  bool received = false;
  for (int i = 0; ok && !received && i < 50; ++i) {
    char buf[8];
    received = ::recv(rx, buf, sizeof buf, 0) == 5;
    if (!received) std::this_thread::sleep_for(10ms);
  }
  ::close(rx);
  ::close(tx);
  return received;
}

TEST_P(UdpEndToEndTest, MulticastGroupOnLoopback) {
  const std::string group = "239.255.77.1";
  const std::uint16_t port = UnusedPort(SOCK_DGRAM);
  if (!LoopbackMulticastWorks(group, port)) {
    GTEST_SKIP() << "multicast to " << group
                 << " on the loopback interface does not arrive on this "
                    "host (lo without MULTICAST, or no route)";
  }
  config::GatewayConfig c = UdpConfig();
  c.udp.groups.push_back({.stream = kStream,
                          .multicast = group + ":" + std::to_string(port),
                          .interface = "127.0.0.1",
                          .loopback = true});
  Start(c);
  UdpSubscriberOptions options;
  options.multicast_group = group;
  options.multicast_interface = "127.0.0.1";
  options.port = port;
  Create(options);
  EXPECT_EQ(udp_->Subscribe(kStream, StartPosition::Latest(), Record())
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(udp_->Join(kStream, StartPosition::From(Sequence{1}), Record(),
                         RecordGaps())
                  .ok());
  Burst(1, 300);
  ASSERT_TRUE(PollUntilReceived(300)) << sequences_.size();
  PollFor(100ms);
  EXPECT_EQ(sequences_, Range(1, 300));
  EXPECT_GT(udp_->stats().messages, 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, UdpSubscriberTest,
                         ::testing::ValuesIn(EachBackend(1)), ParamName);
INSTANTIATE_TEST_SUITE_P(Backends, UdpEndToEndTest,
                         ::testing::ValuesIn(EachBackend(1)), ParamName);

}  // namespace
}  // namespace tachyon::testing
