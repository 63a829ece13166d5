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

#include <array>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "gateway_fixture.h"
#include "gtest/gtest.h"
#include "tachyon/protocol/protocol.h"
#include "udp/udp_counters.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
using tp::ErrorCode;
using tp::MessageType;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A UDP socket bound to 127.0.0.1 on an ephemeral port.
class UdpPeer {
 public:
  UdpPeer() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    const int big = 8 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~UdpPeer() { ::close(fd_); }
  int fd() const { return fd_; }
  std::uint16_t port() const { return port_; }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

  bool SendTo(std::uint16_t port, std::span<const std::byte> bytes) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ::sendto(fd_, bytes.data(), bytes.size(), 0,
                    reinterpret_cast<sockaddr*>(&a),
                    sizeof a) == static_cast<ssize_t>(bytes.size());
  }
  // The next datagram within `timeout`; empty on timeout.
  std::vector<std::byte> Receive(milliseconds timeout = milliseconds(3000)) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
    std::vector<std::byte> buf(65536);
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    buf.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return buf;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A PUBLISH datagram of `payloads` for `stream`, producer sequences from
// `first`.
std::vector<std::byte> PublishDatagram(
    StreamId stream, std::uint64_t first, std::uint64_t source,
    const std::vector<std::string>& payloads) {
  std::vector<std::byte> out(65536);
  std::size_t n =
      tp::EncodeDatagramHeader(out, tp::DatagramKind::kPublish,
                               static_cast<std::uint16_t>(payloads.size()),
                               stream, Sequence{first}, source);
  for (const std::string& p : payloads) {
    n +=
        tp::EncodePublish(std::span(out).subspan(n), stream, 0, tp::AsBytes(p));
  }
  out.resize(n);
  return out;
}

// Waits (bounded) until `done`.
bool WaitFor(const std::function<bool()>& done,
             milliseconds limit = milliseconds(10000)) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

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
    UdpPeer& peer, std::size_t count, std::uint64_t* heartbeats = nullptr,
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
  auto sub = Client();
  ASSERT_TRUE(sub->Subscribe(1, "u.ingress"));
  auto pub = Client();
  const StreamId stream = pub->Open("u.ingress");
  ASSERT_NE(stream.value(), 0u);
  UdpPeer producer;
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
      ASSERT_TRUE(WaitFor([&] {
        return gateway_->UdpStats().datagrams_received >= datagrams;
      }));
    }
  }
  ASSERT_TRUE(WaitFor([&] {
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
  auto sub = Client();
  ASSERT_TRUE(sub->Subscribe(1, "u.dup"));
  auto pub = Client();
  const StreamId stream = pub->Open("u.dup");
  UdpPeer producer;
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
  ASSERT_TRUE(WaitFor([&] {
    const udp::UdpStats s = gateway_->UdpStats();
    return s.datagrams_received == 6 &&
           s.messages_appended + s.duplicates == 10;
  }));
  const udp::UdpStats s = gateway_->UdpStats();
  EXPECT_EQ(s.messages_appended, 5u);  // a b c f x
  EXPECT_EQ(s.duplicates, 5u);         // a b b d e
  EXPECT_EQ(s.gaps, 2u);               // 4 and 5 skipped when 6 came
  EXPECT_EQ(ReadPayloads(*sub, 5),
            (std::vector<std::string>{"a", "b", "c", "f", "x"}));
}

TEST_P(UdpTest, MalformedDatagramsAreCountedByCodeAndNeverReachTheLog) {
  config::GatewayConfig c = UdpConfig(GetParam());
  c.udp.max_datagram_bytes = 512;
  StartUdp(c);
  auto sub = Client();
  ASSERT_TRUE(sub->Subscribe(1, "u.bad"));
  auto pub = Client();
  const StreamId stream = pub->Open("u.bad");
  UdpPeer producer;
  const std::uint16_t port = gateway_->udp_port();
  const std::vector<std::byte> good = PublishDatagram(stream, 1, 9, {"ok1"});
  auto mutated = [&](std::size_t at, std::uint8_t value) {
    std::vector<std::byte> d = good;
    d[at] = std::byte{value};
    return d;
  };
  ASSERT_TRUE(producer.SendTo(port, std::span(good).first(10)));  // too short
  ASSERT_TRUE(producer.SendTo(port, mutated(0, 2)));              // version
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
  ASSERT_TRUE(WaitFor([&] {
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
  EXPECT_FALSE(sub->ReadSkippingHeartbeats(milliseconds(100)).has_value());
}

TEST_P(UdpTest, EgressSendsTheTcpBytesToEveryUnicastReceiver) {
  UdpPeer r1, r2, r3;
  config::GatewayConfig c = UdpConfig(GetParam());
  c.udp.gso = false;
  c.udp.groups.push_back(
      {.stream = "u.fan", .destinations = {r1.endpoint(), r2.endpoint()}});
  c.udp.groups.push_back({.stream = "u.fan", .destinations = {r3.endpoint()}});
  StartUdp(c);
  auto sub = Client();
  ASSERT_TRUE(sub->Subscribe(1, "u.fan"));
  auto pub = Client();
  const StreamId stream = pub->Open("u.fan");
  // Published in rounds, each drained before the next, so that the
  // receivers' socket buffers (net.core.rmem_max) never overflow.
  constexpr int kRounds = 10;
  constexpr int kPerRound = 200;
  constexpr int kMessages = kRounds * kPerRound;
  std::map<std::uint64_t, std::vector<std::byte>> tcp;
  std::array<std::map<std::uint64_t, std::vector<std::byte>>, 3> udp_frames;
  std::array<UdpPeer*, 3> receivers{&r1, &r2, &r3};
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
  EXPECT_TRUE(WaitFor([&] {
    return gateway_->UdpStats().messages_sent == 3u * kMessages;
  })) << gateway_->UdpStats().messages_sent;
  EXPECT_EQ(gateway_->UdpStats().gso_sends, 0u);
}

TEST_P(UdpTest, IdleStreamSendsHeartbeatsWithTheNextSequence) {
  UdpPeer r;
  config::GatewayConfig c = UdpConfig(GetParam());
  c.udp.groups.push_back({.stream = "u.hb", .destinations = {r.endpoint()}});
  StartUdp(c);
  auto pub = Client();
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
  EXPECT_GE(gateway_->UdpStats().heartbeats_sent, 3u);
}

TEST_P(UdpTest, MulticastGroupOnLoopback) {
  const std::string group = "239.255.77.";
  UdpPeer r;
  ip_mreq m{};
  ::inet_pton(AF_INET, (group + "1").c_str(), &m.imr_multiaddr);
  ::inet_pton(AF_INET, "127.0.0.1", &m.imr_interface);
  // The receiver must be bound to the wildcard address to get group traffic.
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const std::uint16_t port = ntohs(a.sin_port);
  if (::setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) != 0) {
    const int err = errno;
    ::close(fd);
    GTEST_SKIP() << "the kernel refuses multicast membership on lo: "
                 << std::strerror(err);
  }
  config::GatewayConfig c = UdpConfig(GetParam());
  c.udp.groups.push_back({.stream = "u.mc",
                          .multicast = group + "1:" + std::to_string(port),
                          .ttl = 0,
                          .interface = "127.0.0.1",
                          .loopback = true});
  StartUdp(c);
  auto pub = Client();
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

TEST_P(UdpTest, UdpSubscribeAcksThenSendsFromTheAckedSequence) {
  StartUdp(UdpConfig(GetParam()));
  auto pub = Client();
  const StreamId stream = pub->Open("u.sub");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(pub->Publish(stream, "early"));
  // The publisher's session may be on another worker: all ten appended
  // before the UDP_SUBSCRIBE, so the ack must say 11.
  ASSERT_TRUE(WaitFor(
      [&] { return gateway_->registry().Find(stream)->appended() == 10; }));
  auto c = Client();
  UdpPeer r;
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

  // UNSUBSCRIBE stops it: nothing but what was in flight arrives later.
  std::array<std::byte, 64> buf;
  ASSERT_TRUE(c->SendRaw(
      std::span(buf).first(tp::EncodeUnsubscribe(buf, SubscriptionId{7}))));
  ASSERT_TRUE(c->Subscribe(8, "u.other"));  // the UNSUBSCRIBE was handled
  std::this_thread::sleep_for(milliseconds(100));
  while (!r.Receive(milliseconds(50)).empty()) {
  }
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pub->Publish(stream, "after"));
  EXPECT_TRUE(r.Receive(milliseconds(300)).empty());
}

TEST_P(UdpTest, SessionCloseEndsItsUdpSubscriptions) {
  StartUdp(UdpConfig(GetParam()));
  auto pub = Client();
  const StreamId stream = pub->Open("u.close");
  UdpPeer r;
  {
    auto c = Client();
    ASSERT_TRUE(
        c->SendRaw(UdpSubscribe(1, "u.close", {127, 0, 0, 1}, r.port())));
    auto ack = c->ReadSkippingHeartbeats();
    ASSERT_TRUE(ack && ack->type() == MessageType::kSubscribeAck);
    ASSERT_TRUE(pub->Publish(stream, "x"));
    EXPECT_EQ(ReceiveFrames(r, 1).size(), 1u);
  }
  ASSERT_TRUE(WaitFor([&] { return gateway_->Stats().sessions_open == 1; }));
  std::this_thread::sleep_for(milliseconds(50));
  while (!r.Receive(milliseconds(50)).empty()) {
  }
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pub->Publish(stream, "gone"));
  EXPECT_TRUE(r.Receive(milliseconds(300)).empty());
}

TEST_P(UdpTest, UdpSubscribeRefusals) {
  StartUdp(UdpConfig(GetParam()));
  auto c = Client();
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
  auto c = Client();
  ASSERT_TRUE(c->SendRaw(UdpSubscribe(2, "u.off", {0, 0, 0, 0}, 9000)));
  auto f = c->ReadSkippingHeartbeats();
  ASSERT_TRUE(f && f->type() == MessageType::kError);
  EXPECT_EQ(tp::ErrorView(f->view()).code(), ErrorCode::kUdpRefused);
}

// Publishes `count` empty messages over TCP in five rounds, receiving each
// round's datagrams at `r` before the next (so that r's buffer never
// overflows). Returns the frames received.
std::size_t PublishEmptyAndReceive(TestClient& pub, StreamId stream, UdpPeer& r,
                                   int count) {
  std::size_t received = 0;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < count / 5; ++i) {
      if (!pub.Publish(stream, "")) return received;
    }
    received += ReceiveFrames(r, static_cast<std::size_t>(count / 5)).size();
  }
  return received;
}

// Whether a pass finds a run of datagrams to segment depends on timing here;
// udp_egress_test checks that runs do go out as GSO messages. This checks
// that with GSO on, every message arrives whole through the gateway.
TEST_P(UdpTest, GsoOnDeliversEveryMessage) {
  UdpPeer r;
  config::GatewayConfig c = UdpConfig(GetParam());
  c.udp.gso = true;
  c.udp.groups.push_back({.stream = "u.gso", .destinations = {r.endpoint()}});
  // One 1472-byte datagram holds 45 frames of 32 bytes: equal sizes.
  StartUdp(c);
  auto pub = Client();
  const StreamId stream = pub->Open("u.gso");
  constexpr int kMessages = 4500;
  EXPECT_EQ(PublishEmptyAndReceive(*pub, stream, r, kMessages),
            static_cast<std::size_t>(kMessages));
}

TEST_P(UdpTest, GsoOffFallsBackToOneDatagramPerMessage) {
  UdpPeer r;
  config::GatewayConfig c = UdpConfig(GetParam());
  c.udp.gso = false;
  c.udp.groups.push_back({.stream = "u.nogso", .destinations = {r.endpoint()}});
  StartUdp(c);
  auto pub = Client();
  const StreamId stream = pub->Open("u.nogso");
  constexpr int kMessages = 4500;
  EXPECT_EQ(PublishEmptyAndReceive(*pub, stream, r, kMessages),
            static_cast<std::size_t>(kMessages));
  EXPECT_EQ(gateway_->UdpStats().gso_sends, 0u);
  EXPECT_TRUE(
      WaitFor([&] { return gateway_->UdpStats().datagrams_sent >= 100u; }));
}

TEST_P(UdpTest, FrameTooLargeForADatagramIsSkippedAsAGap) {
  UdpPeer r;
  config::GatewayConfig c = UdpConfig(GetParam());
  c.udp.groups.push_back({.stream = "u.large", .destinations = {r.endpoint()}});
  StartUdp(c);
  auto pub = Client();
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

INSTANTIATE_TEST_SUITE_P(Backends, UdpTest, TACHYON_ALL_GATEWAY_PARAMS,
                         ParamName);

}  // namespace
}  // namespace tachyon::testing
