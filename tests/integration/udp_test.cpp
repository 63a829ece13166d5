// UDP transport end to end (PROTOCOL.md 16): a real gateway on loopback,
// producers and receivers on real UDP sockets, TCP clients alongside.
// Parameterised over io backend and worker count; with two workers a
// UDP_SUBSCRIBE crosses workers through the owner's command queue, which
// is why the binary is also in the `concurrency` label (TSan).
//
// Every wait is bounded by a deadline; every loop by a count.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "support/datagrams.h"
#include "support/gateway_fixture.h"
#include "support/net.h"
#include "support/require.h"
#include "support/wait.h"
#include "tachyon/protocol/protocol.h"
#include "udp/udp_counters.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
using tp::ErrorCode;
using tp::MessageType;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Reads `count` DATA frames from a TCP subscriber: their payloads.
std::vector<std::string> ReadPayloads(TestClient& c, std::size_t count,
                                      std::uint64_t first_sequence = 1) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < count; ++i) {
    auto f = c.ReadSkippingHeartbeats();
    if (!f || f->type() != MessageType::kData) {
      ADD_FAILURE() << "DATA " << i << " of " << count << " missing";
      break;
    }
    const tp::DataView d(f->view());
    EXPECT_EQ(d.sequence().value(), first_sequence + i);
    const auto p = d.payload();
    out.emplace_back(reinterpret_cast<const char*>(p.data()), p.size());
  }
  return out;
}

// Decodes DATA datagrams arriving at `peer` until `count` frames arrived:
// the frames' bytes (padded) by sequence.
std::map<std::uint64_t, std::vector<std::byte>> ReceiveFrames(
    UdpSocket& peer, std::size_t count, std::uint64_t* heartbeats = nullptr,
    std::uint64_t source = 0) {
  std::map<std::uint64_t, std::vector<std::byte>> frames;
  for (int spins = 0; frames.size() < count && spins < 100000; ++spins) {
    std::vector<std::byte> d = peer.Receive();
    if (d.empty()) break;
    const tp::DatagramResult r =
        tp::DecodeDatagram(d, tp::kDefaultMaxFrameLength);
    EXPECT_EQ(r.error, ErrorCode::kNone);
    if (r.error != ErrorCode::kNone) break;
    if (source != 0) {
      EXPECT_EQ(r.view.source_id(), source);
    }
    if (r.view.kind() == tp::DatagramKind::kHeartbeat) {
      if (heartbeats != nullptr) ++*heartbeats;
      continue;
    }
    for (tp::FrameView f : r.view) {
      const tp::DataView data(f);
      EXPECT_TRUE(frames
                      .emplace(data.sequence().value(),
                               std::vector<std::byte>(f.bytes().begin(),
                                                      f.bytes().end()))
                      .second)
          << "sequence " << data.sequence().value() << " twice";
    }
  }
  return frames;
}

config::GatewayConfig UdpConfig(const GatewayParam& p) {
  config::GatewayConfig c = TestConfig(p);
  c.udp.enabled = true;
  c.udp.port = 0;
  c.udp.recv_buffer_bytes = 8 << 20;
  c.udp.heartbeat_interval_ms = 20;
  return c;
}

class UdpTest : public GatewayTest {
 protected:
  void StartUdp(const config::GatewayConfig& c) {
    Start(c);
    ASSERT_NE(gateway_->udp_port(), 0);
  }
};

TEST_P(UdpTest, IngressAppendsEveryMessageExactlyOnceAtRate) {
  config::GatewayConfig c = UdpConfig(GetParam());
  // The TCP subscriber reads only after the last append: room for all of it.
  c.default_stream.capacity_bytes = 32u << 20;
  c.default_stream.window_bytes = 16u << 20;
  StartUdp(c);
  auto sub = LoggedOnClient();
  ASSERT_TRUE(sub->Subscribe(1, "u.ingress"));
  auto pub = LoggedOnClient();
  const StreamId stream = pub->Open("u.ingress");
  ASSERT_NE(stream.value(), 0u);
  UdpSocket producer;
  constexpr std::uint64_t kMessages = 200000;
  constexpr std::uint64_t kPerDatagram = 20;
  constexpr std::uint64_t kBurst = 200;  // datagrams before waiting
  std::uint64_t sent = 0;
  std::uint64_t datagrams = 0;
  while (sent < kMessages) {
    std::vector<std::string> payloads;
    for (std::uint64_t i = 0; i < kPerDatagram; ++i) {
      payloads.push_back("m" + std::to_string(sent + i));
    }
    ASSERT_TRUE(producer.SendTo(
        gateway_->udp_port(), PublishDatagram(stream, sent + 1, 77, payloads)));
    sent += kPerDatagram;
    ++datagrams;
    if (datagrams % kBurst == 0) {
      // Bounded pacing so that the kernel's receive buffer never overflows
      // (the test wants exact counts, not a drop-rate measurement).
      ASSERT_TRUE(WaitUntil([&] {
        return gateway_->UdpStats().datagrams_received >= datagrams;
      }));
    }
  }
  ASSERT_TRUE(WaitUntil([&] {
    return gateway_->UdpStats().messages_appended == kMessages;
  })) << gateway_->UdpStats().messages_appended;
  const std::vector<std::string> got = ReadPayloads(*sub, kMessages);
  ASSERT_EQ(got.size(), kMessages);
  for (std::uint64_t i = 0; i < kMessages; i += 9973) {
    EXPECT_EQ(got[i], "m" + std::to_string(i));
  }
  EXPECT_EQ(got.back(), "m" + std::to_string(kMessages - 1));
  const udp::UdpStats s = gateway_->UdpStats();
  EXPECT_EQ(s.datagrams_received, datagrams);
  EXPECT_EQ(s.duplicates, 0u);
  EXPECT_EQ(s.gaps, 0u);
  EXPECT_EQ(s.kernel_drops, 0u);
  EXPECT_EQ(s.malformed_total(), 0u);
}

TEST_P(UdpTest, DuplicatesAreDroppedAndGapsCounted) {
  StartUdp(UdpConfig(GetParam()));
  auto sub = LoggedOnClient();
  ASSERT_TRUE(sub->Subscribe(1, "u.dup"));
  auto pub = LoggedOnClient();
  const StreamId stream = pub->Open("u.dup");
  UdpSocket producer;
  const std::uint16_t port = gateway_->udp_port();
  ASSERT_TRUE(producer.SendTo(port, PublishDatagram(stream, 1, 5, {"a", "b"})));
  ASSERT_TRUE(producer.SendTo(port, PublishDatagram(stream, 1, 5, {"a", "b"})));
  ASSERT_TRUE(producer.SendTo(port, PublishDatagram(stream, 2, 5, {"b", "c"})));
  ASSERT_TRUE(producer.SendTo(port, PublishDatagram(stream, 6, 5, {"f"})));
  // Reordered: 4 and 5 come after 6, so they are not above the highest.
  ASSERT_TRUE(producer.SendTo(port, PublishDatagram(stream, 4, 5, {"d", "e"})));
  // Another producer numbers from 1 on its own.
  ASSERT_TRUE(producer.SendTo(port, PublishDatagram(stream, 1, 6, {"x"})));
  // Counters are separate: a datagram is counted as received before its
  // messages are appended or dropped, so wait for the outcome of all six.
  ASSERT_TRUE(WaitUntil([&] {
    const udp::UdpStats s = gateway_->UdpStats();
    return s.datagrams_received == 6 &&
           s.messages_appended + s.duplicates == 10;
  }));
  const udp::UdpStats s = gateway_->UdpStats();
  EXPECT_EQ(s.messages_appended, 5u);  // a b c f x
  EXPECT_EQ(s.duplicates, 5u);         // a b b d e
  EXPECT_EQ(s.gaps, 2u);               // 4 and 5 skipped when 6 came
  // Each producer's messages arrive in its order; two producers' may
  // interleave: with several workers each producer's datagrams go to the
  // worker its source id is steered to (PROTOCOL.md 16.7).
  std::vector<std::string> got = ReadPayloads(*sub, 5);
  const auto x = std::find(got.begin(), got.end(), "x");
  ASSERT_NE(x, got.end());
  got.erase(x);
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c", "f"}));
}

TEST_P(UdpTest, MalformedDatagramsAreCountedByCodeAndNeverReachTheLog) {
  config::GatewayConfig c = UdpConfig(GetParam());
  c.udp.max_datagram_bytes = 512;
  StartUdp(c);
  auto sub = LoggedOnClient();
  ASSERT_TRUE(sub->Subscribe(1, "u.bad"));
  auto pub = LoggedOnClient();
  const StreamId stream = pub->Open("u.bad");
  UdpSocket producer;
  const std::uint16_t port = gateway_->udp_port();
  const std::vector<std::byte> good = PublishDatagram(stream, 1, 9, {"ok1"});
  auto mutated = [&](std::size_t at, std::uint8_t value) {
    std::vector<std::byte> d = good;
    d[at] = std::byte{value};
    return d;
  };
  ASSERT_TRUE(producer.SendTo(port, std::span(good).first(10)));  // too short
  ASSERT_TRUE(producer.SendTo(port, mutated(0, 3)));              // version
  ASSERT_TRUE(producer.SendTo(port, mutated(1, 9)));              // kind
  ASSERT_TRUE(producer.SendTo(port, mutated(16, 0)));  // source_id 9 -> 0
  std::vector<std::byte> no_source = good;
  std::memset(no_source.data() + 16, 0, 8);
  ASSERT_TRUE(producer.SendTo(port, no_source));  // BAD_FIELD
  ASSERT_TRUE(producer.SendTo(
      port, std::span(good).first(good.size() - 8)));  // cut frame
  std::vector<std::byte> big =
      PublishDatagram(stream, 2, 9, {std::string(600, 'z')});  // > 512
  ASSERT_TRUE(producer.SendTo(port, big));
  std::vector<std::byte> garbage(200, std::byte{0xA5});
  ASSERT_TRUE(producer.SendTo(port, garbage));
  ASSERT_TRUE(producer.SendTo(
      port, PublishDatagram(StreamId{999}, 1, 9, {"nowhere"})));  // unknown
  ASSERT_TRUE(producer.SendTo(port, good));
  ASSERT_TRUE(producer.SendTo(port, PublishDatagram(stream, 2, 9, {"ok2"})));
  // Received is counted before the outcome: wait for the last good one.
  ASSERT_TRUE(WaitUntil([&] {
    const udp::UdpStats s = gateway_->UdpStats();
    return s.datagrams_received == 11 && s.messages_appended == 2;
  })) << gateway_->UdpStats().datagrams_received;
  const udp::UdpStats s = gateway_->UdpStats();
  EXPECT_EQ(s.malformed_by(ErrorCode::kFrameTooShort), 1u);
  EXPECT_EQ(s.malformed_by(ErrorCode::kUnsupportedVersion), 2u);  // + garbage
  EXPECT_EQ(s.malformed_by(ErrorCode::kUnknownType), 1u);
  EXPECT_EQ(s.malformed_by(ErrorCode::kBadField), 2u);  // source 0 twice
  EXPECT_EQ(s.malformed_by(ErrorCode::kBadBodyLength), 1u);
  EXPECT_EQ(s.malformed_by(ErrorCode::kFrameTooLong), 1u);
  EXPECT_EQ(s.unknown_stream, 1u);
  EXPECT_EQ(s.messages_appended, 2u);
  EXPECT_EQ(ReadPayloads(*sub, 2), (std::vector<std::string>{"ok1", "ok2"}));
  // A sentinel over TCP, published after every datagram's outcome: had any
  // bad datagram reached the log, it would come before it.
  ASSERT_TRUE(pub->Publish(stream, "end"));
  EXPECT_EQ(ReadPayloads(*sub, 1, 3), (std::vector<std::string>{"end"}));
}

TEST_P(UdpTest, EgressSendsTheTcpBytesToEveryUnicastReceiver) {
  UdpSocket r1, r2, r3;
  config::GatewayConfig c = UdpConfig(GetParam());
  c.udp.gso = false;
  c.udp.groups.push_back(
      {.stream = "u.fan", .destinations = {r1.endpoint(), r2.endpoint()}});
  c.udp.groups.push_back({.stream = "u.fan", .destinations = {r3.endpoint()}});
  StartUdp(c);
  auto sub = LoggedOnClient();
  ASSERT_TRUE(sub->Subscribe(1, "u.fan"));
  auto pub = LoggedOnClient();
  const StreamId stream = pub->Open("u.fan");
  // Published in rounds, each drained before the next, so that the
  // receivers' socket buffers (net.core.rmem_max) never overflow.
  constexpr int kRounds = 10;
  constexpr int kPerRound = 200;
  constexpr int kMessages = kRounds * kPerRound;
  std::map<std::uint64_t, std::vector<std::byte>> tcp;
  std::array<std::map<std::uint64_t, std::vector<std::byte>>, 3> udp_frames;
  std::array<UdpSocket*, 3> receivers{&r1, &r2, &r3};
  for (int round = 0; round < kRounds; ++round) {
    for (int k = 0; k < kPerRound; ++k) {
      const int i = round * kPerRound + k;
      ASSERT_TRUE(pub->Publish(
          stream, "p" + std::to_string(i % 97) +
                      std::string(static_cast<std::size_t>(i % 50), 'q')));
    }
    for (int k = 0; k < kPerRound; ++k) {
      auto f = sub->ReadSkippingHeartbeats();
      ASSERT_TRUE(f && f->type() == MessageType::kData);
      tcp[tp::DataView(f->view()).sequence().value()] = f->bytes;
    }
    for (std::size_t r = 0; r < receivers.size(); ++r) {
      auto got = ReceiveFrames(*receivers[r], kPerRound, nullptr,
                               gateway_->udp_source_id());
      udp_frames[r].merge(got);
    }
  }
  for (auto& frames : udp_frames) {
    ASSERT_EQ(frames.size(), static_cast<std::size_t>(kMessages));
    EXPECT_EQ(frames.begin()->first, 1u);
    for (auto& [seq, bytes] : frames) {
      // Frames in datagrams keep their padding; TCP Frame has none.
      ASSERT_GE(bytes.size(), tcp[seq].size());
      EXPECT_TRUE(std::equal(tcp[seq].begin(), tcp[seq].end(), bytes.begin()))
          << seq;
    }
  }
  // The owner counts after sendmmsg returns, maybe after the receivers
  // already have the datagrams.
  EXPECT_TRUE(WaitUntil([&] {
    return gateway_->UdpStats().messages_sent == 3u * kMessages;
  })) << gateway_->UdpStats().messages_sent;
  EXPECT_EQ(gateway_->UdpStats().gso_sends, 0u);
}

TEST_P(UdpTest, IdleStreamSendsHeartbeatsWithTheNextSequence) {
  UdpSocket r;
  config::GatewayConfig c = UdpConfig(GetParam());
  c.udp.groups.push_back({.stream = "u.hb", .destinations = {r.endpoint()}});
  StartUdp(c);
  auto pub = LoggedOnClient();
  const StreamId stream = pub->Open("u.hb");
  ASSERT_TRUE(pub->Publish(stream, "one"));
  ASSERT_TRUE(pub->Publish(stream, "two"));
  std::uint64_t data = 0;
  int heartbeats_after_data = 0;
  for (int i = 0; i < 200 && heartbeats_after_data < 3; ++i) {
    std::vector<std::byte> d = r.Receive();
    ASSERT_FALSE(d.empty()) << "no datagram";
    const tp::DatagramResult res =
        tp::DecodeDatagram(d, tp::kDefaultMaxFrameLength);
    ASSERT_EQ(res.error, ErrorCode::kNone);
    EXPECT_EQ(res.view.stream_id(), stream);
    if (res.view.kind() == tp::DatagramKind::kData) {
      data += res.view.message_count();
    } else if (data == 2) {
      EXPECT_EQ(res.view.first_sequence().value(), 3u);
      ++heartbeats_after_data;
    } else {
      EXPECT_EQ(res.view.first_sequence().value(), 1u + data);
    }
  }
  EXPECT_EQ(heartbeats_after_data, 3);
  // The owner counts after sendmmsg returns, maybe after the receiver
  // already has the datagram (CI saw 2 of 3 counted).
  EXPECT_TRUE(WaitUntil([&] {
    return gateway_->UdpStats().heartbeats_sent >= 3u;
  })) << gateway_->UdpStats().heartbeats_sent;
}

TEST_P(UdpTest, MulticastGroupOnLoopback) {
  const std::string group = "239.255.77.";
  std::uint16_t port = 0;
  std::string error;
  const int fd = JoinLoopbackMulticast(group + "1", &port, &error);
  if (fd < 0) {
    GTEST_SKIP() << "the kernel refuses multicast membership on lo: " << error;
  }
  config::GatewayConfig c = UdpConfig(GetParam());
  c.udp.groups.push_back({.stream = "u.mc",
                          .multicast = group + "1:" + std::to_string(port),
                          .ttl = 0,
                          .interface = "127.0.0.1",
                          .loopback = true});
  StartUdp(c);
  auto pub = LoggedOnClient();
  const StreamId stream = pub->Open("u.mc");
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(pub->Publish(stream, "mc"));
  std::uint64_t frames = 0;
  for (int i = 0; i < 200 && frames < 50; ++i) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 3000) <= 0) break;
    std::array<std::byte, 2048> buf;
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    ASSERT_GT(n, 0);
    const tp::DatagramResult res =
        tp::DecodeDatagram(std::span(buf).first(static_cast<std::size_t>(n)),
                           tp::kDefaultMaxFrameLength);
    ASSERT_EQ(res.error, ErrorCode::kNone);
    if (res.view.kind() == tp::DatagramKind::kData) {
      EXPECT_EQ(res.view.first_sequence().value(), frames + 1);
      frames += res.view.message_count();
    }
  }
  ::close(fd);
  EXPECT_EQ(frames, 50u);
}

// UDP_SUBSCRIBE as sent by a client.
std::vector<std::byte> UdpSubscribe(std::uint32_t id, std::string_view name,
                                    std::array<std::uint8_t, 4> address,
                                    std::uint16_t port) {
  std::vector<std::byte> out(512);
  out.resize(tp::EncodeUdpSubscribe(out, {.subscription_id = SubscriptionId{id},
                                          .address = address,
                                          .port = port,
                                          .name = name}));
  return out;
}

// UDP_SUBSCRIBE of `name` to 127.0.0.1:`port` (named as 0.0.0.0, the
// session's own address) as subscription `id` of `c`: the SUBSCRIBE_ACK's
// next_sequence, or 0 if it did not come.
std::uint64_t UdpSubscribeAcked(TestClient& c, std::uint32_t id,
                                std::string_view name, std::uint16_t port) {
  if (!c.SendRaw(UdpSubscribe(id, name, {0, 0, 0, 0}, port))) return 0;
  auto ack = c.ReadSkippingHeartbeats();
  if (!ack || ack->type() != MessageType::kSubscribeAck) return 0;
  return tp::StreamAckView(ack->view()).next_sequence().value();
}

// Reads datagrams of `stream` at `r` until one carries sequence `last`
// (true), or none comes within 3 s or 10000 went by (false). `data` gets
// the sequence of every DATA frame that arrived, in order; heartbeats are
// passed over.
bool ReceiveThrough(UdpSocket& r, StreamId stream, std::uint64_t last,
                    std::vector<std::uint64_t>* data) {
  for (int i = 0; i < 10000; ++i) {
    const std::vector<std::byte> d = r.Receive();
    if (d.empty()) return false;
    const tp::DatagramResult res =
        tp::DecodeDatagram(d, tp::kDefaultMaxFrameLength);
    EXPECT_EQ(res.error, ErrorCode::kNone);
    if (res.error != ErrorCode::kNone) return false;
    EXPECT_EQ(res.view.stream_id(), stream);
    if (res.view.kind() != tp::DatagramKind::kData) continue;
    bool reached = false;
    for (tp::FrameView f : res.view) {
      data->push_back(tp::DataView(f).sequence().value());
      reached = reached || data->back() == last;
    }
    if (reached) return true;
  }
  return false;
}

// Shows that receiver `r` gets no more of `stream` (`name`), whose next
// sequence is `next`, without waiting for nothing to arrive. Call it after
// the change that should stop r's datagrams; `session` is a session of the
// test's, UDP subscription ids `id` and `id` + 1 free; `pub` publishes.
//  1. A barrier: a destination of the same stream, subscribed after the
//     change. The stream's egress owner applies UDP subscription changes in
//     the order sessions make them, so once the barrier gets its first
//     datagram (a heartbeat), r's destination is gone: what is published
//     from then on (next .. next + 4) can never be owed to it.
//  2. A sentinel: r subscribes again, from next + 5, which is published.
//     One destination's datagrams leave in sequence order, from one worker,
//     through one socket: had r's old destination lived on, next .. next + 4
//     would reach r before the sentinel. When it arrives, nothing else may
//     have.
void ExpectNothingMoreReaches(UdpSocket& r, TestClient& session,
                              std::uint32_t id, TestClient& pub,
                              StreamId stream, std::string_view name,
                              std::uint64_t next) {
  UdpSocket barrier;
  ASSERT_EQ(UdpSubscribeAcked(session, id, name, barrier.port()), next);
  ASSERT_FALSE(barrier.Receive().empty()) << "no heartbeat at the barrier";
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pub.Publish(stream, "after"));
  std::vector<std::uint64_t> at_barrier;
  ASSERT_TRUE(ReceiveThrough(barrier, stream, next + 4, &at_barrier));
  EXPECT_EQ(at_barrier, (std::vector<std::uint64_t>{next, next + 1, next + 2,
                                                    next + 3, next + 4}));
  ASSERT_EQ(UdpSubscribeAcked(session, id + 1, name, r.port()), next + 5);
  ASSERT_TRUE(pub.Publish(stream, "sentinel"));
  std::vector<std::uint64_t> at_r;
  ASSERT_TRUE(ReceiveThrough(r, stream, next + 5, &at_r));
  EXPECT_EQ(at_r, std::vector<std::uint64_t>{next + 5})
      << "what was published after the change reached the receiver";
}

TEST_P(UdpTest, UdpSubscribeAcksThenSendsFromTheAckedSequence) {
  StartUdp(UdpConfig(GetParam()));
  auto pub = LoggedOnClient();
  const StreamId stream = pub->Open("u.sub");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(pub->Publish(stream, "early"));
  // The publisher's session may be on another worker: all ten appended
  // before the UDP_SUBSCRIBE, so the ack must say 11.
  ASSERT_TRUE(WaitUntil(
      [&] { return gateway_->registry().Find(stream)->appended() == 10; }));
  auto c = LoggedOnClient();
  UdpSocket r;
  ASSERT_TRUE(c->SendRaw(UdpSubscribe(7, "u.sub", {0, 0, 0, 0}, r.port())));
  auto ack = c->ReadSkippingHeartbeats();
  ASSERT_TRUE(ack && ack->type() == MessageType::kSubscribeAck);
  const tp::StreamAckView v(ack->view());
  EXPECT_EQ(v.id(), 7u);
  EXPECT_EQ(v.stream_id(), stream);
  EXPECT_EQ(v.next_sequence().value(), 11u);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(pub->Publish(stream, "late"));
  auto frames = ReceiveFrames(r, 20);
  ASSERT_EQ(frames.size(), 20u);
  EXPECT_EQ(frames.begin()->first, 11u);
  EXPECT_EQ(frames.rbegin()->first, 30u);

  // UNSUBSCRIBE stops it.
  std::array<std::byte, 64> buf;
  ASSERT_TRUE(c->SendRaw(
      std::span(buf).first(tp::EncodeUnsubscribe(buf, SubscriptionId{7}))));
  ExpectNothingMoreReaches(r, *c, 8, *pub, stream, "u.sub", 31);
}

TEST_P(UdpTest, SessionCloseEndsItsUdpSubscriptions) {
  StartUdp(UdpConfig(GetParam()));
  auto pub = LoggedOnClient();
  const StreamId stream = pub->Open("u.close");
  UdpSocket r;
  {
    auto c = LoggedOnClient();
    ASSERT_EQ(UdpSubscribeAcked(*c, 1, "u.close", r.port()), 1u);
    ASSERT_TRUE(pub->Publish(stream, "x"));
    std::vector<std::uint64_t> first;
    ASSERT_TRUE(ReceiveThrough(r, stream, 1, &first));
    EXPECT_EQ(first, std::vector<std::uint64_t>{1});
  }
  // The session is gone, and with it (first) its UDP subscription.
  ASSERT_TRUE(WaitUntil([&] { return gateway_->Stats().sessions_open == 1; }))
      << gateway_->Stats().sessions_open;
  auto other = LoggedOnClient();
  ExpectNothingMoreReaches(r, *other, 1, *pub, stream, "u.close", 2);
}

TEST_P(UdpTest, UdpSubscribeRefusals) {
  StartUdp(UdpConfig(GetParam()));
  auto c = LoggedOnClient();
  auto expect_error = [&](std::vector<std::byte> frame, ErrorCode code,
                          std::uint64_t context) {
    ASSERT_TRUE(c->SendRaw(frame));
    auto f = c->ReadSkippingHeartbeats();
    ASSERT_TRUE(f && f->type() == MessageType::kError);
    const tp::ErrorView e(f->view());
    EXPECT_EQ(e.code(), code) << e.text();
    EXPECT_FALSE(e.fatal());
    EXPECT_EQ(e.context(), context);
  };
  // Another host while allow_remote_destinations is false.
  expect_error(UdpSubscribe(3, "u.ref", {10, 1, 2, 3}, 9000),
               ErrorCode::kUdpRefused, 3);
  expect_error(UdpSubscribe(4, "u.*", {0, 0, 0, 0}, 9000),
               ErrorCode::kInvalidName, 4);
  ASSERT_TRUE(c->Subscribe(5, "u.tcp"));
  expect_error(UdpSubscribe(5, "u.ref", {0, 0, 0, 0}, 9000),
               ErrorCode::kDuplicateSubscription, 5);
  // The session goes on.
  ASSERT_TRUE(c->Subscribe(6, "u.tcp2"));
}

TEST_P(UdpTest, UdpSubscribeRefusedWhenUdpIsOff) {
  Start(TestConfig(GetParam()));
  EXPECT_EQ(gateway_->udp_port(), 0);
  auto c = LoggedOnClient();
  ASSERT_TRUE(c->SendRaw(UdpSubscribe(2, "u.off", {0, 0, 0, 0}, 9000)));
  auto f = c->ReadSkippingHeartbeats();
  ASSERT_TRUE(f && f->type() == MessageType::kError);
  EXPECT_EQ(tp::ErrorView(f->view()).code(), ErrorCode::kUdpRefused);
}

// Publishes `count` empty messages over TCP in five rounds, each round in
// one write, and receives each round's datagrams at `r` before the next (so
// that r's buffer never overflows). Returns the frames received.
std::size_t PublishEmptyAndReceive(TestClient& pub, StreamId stream,
                                   UdpSocket& r, int count) {
  const int per_round = count / 5;
  std::vector<std::byte> round_bytes(static_cast<std::size_t>(per_round) * 64);
  std::size_t received = 0;
  for (int round = 0; round < 5; ++round) {
    std::size_t n = 0;
    for (int i = 0; i < per_round; ++i) {
      n += tp::EncodePublish(std::span(round_bytes).subspan(n), stream, 0, {});
    }
    if (!pub.SendRaw(std::span(round_bytes).first(n))) return received;
    received += ReceiveFrames(r, static_cast<std::size_t>(per_round)).size();
  }
  return received;
}

// With GSO on, every message arrives whole, and runs of equal-sized
// datagrams go out as one UDP_SEGMENT message each. A round written in one
// go is appended in large batches (one read of the publisher's socket takes
// hundreds of frames), so egress passes find full datagrams (45 frames of
// 32 bytes in 1472 bytes) to send as a run.
TEST_P(UdpTest, GsoOnDeliversEveryMessage) {
  UdpSocket r;
  config::GatewayConfig c = UdpConfig(GetParam());
  c.udp.gso = true;
  c.udp.groups.push_back({.stream = "u.gso", .destinations = {r.endpoint()}});
  StartUdp(c);
  auto pub = LoggedOnClient();
  const StreamId stream = pub->Open("u.gso");
  constexpr int kMessages = 4500;
  EXPECT_EQ(PublishEmptyAndReceive(*pub, stream, r, kMessages),
            static_cast<std::size_t>(kMessages));
  // Counted after sendmmsg returns, maybe after r had the datagrams.
  ASSERT_TRUE(WaitUntil([&] {
    return gateway_->UdpStats().messages_sent == std::uint64_t{kMessages};
  })) << gateway_->UdpStats().messages_sent;
  if (!RequireUdpGso()) return;
  EXPECT_GT(gateway_->UdpStats().gso_sends, 0u)
      << "GSO is on and the kernel has it, but no run went out segmented ("
      << gateway_->UdpStats().datagrams_sent << " datagrams)";
}

TEST_P(UdpTest, GsoOffFallsBackToOneDatagramPerMessage) {
  UdpSocket r;
  config::GatewayConfig c = UdpConfig(GetParam());
  c.udp.gso = false;
  c.udp.groups.push_back({.stream = "u.nogso", .destinations = {r.endpoint()}});
  StartUdp(c);
  auto pub = LoggedOnClient();
  const StreamId stream = pub->Open("u.nogso");
  constexpr int kMessages = 4500;
  EXPECT_EQ(PublishEmptyAndReceive(*pub, stream, r, kMessages),
            static_cast<std::size_t>(kMessages));
  EXPECT_EQ(gateway_->UdpStats().gso_sends, 0u);
  EXPECT_TRUE(
      WaitUntil([&] { return gateway_->UdpStats().datagrams_sent >= 100u; }));
}

TEST_P(UdpTest, FrameTooLargeForADatagramIsSkippedAsAGap) {
  UdpSocket r;
  config::GatewayConfig c = UdpConfig(GetParam());
  c.udp.groups.push_back({.stream = "u.large", .destinations = {r.endpoint()}});
  StartUdp(c);
  auto pub = LoggedOnClient();
  const StreamId stream = pub->Open("u.large");
  ASSERT_TRUE(pub->Publish(stream, "small"));
  ASSERT_TRUE(pub->Publish(stream, std::string(4000, 'L')));
  ASSERT_TRUE(pub->Publish(stream, "small"));
  auto frames = ReceiveFrames(r, 2);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_TRUE(frames.contains(1));
  EXPECT_TRUE(frames.contains(3));
  EXPECT_EQ(gateway_->UdpStats().frames_too_large, 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, UdpTest,
                         ::testing::ValuesIn(AllGatewayParams()), ParamName);

}  // namespace
}  // namespace tachyon::testing
