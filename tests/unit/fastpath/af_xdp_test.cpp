// The AF_XDP path beyond the datagram I/O contract (which
// tests/unit/io/datagram_io_test.cpp runs over it): what the XDP program
// passes to the kernel, hostile frames, egress checksums on the wire, the
// program's life cycle (stale-program recovery, detach, refusing another
// program) and the start-up errors. Each test makes its own pair of
// namespaces joined by a veth pair (tests/support/netns.h); root only.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/counters.h"
#include "config/model.h"
#include "fastpath/af_xdp/af_xdp_io.h"
#include "fastpath/af_xdp/af_xdp_path.h"
#include "fastpath/af_xdp/xdp_program.h"
#include "fastpath/packet.h"
#include "gtest/gtest.h"
#include "io/datagram_io.h"
#include "io/socket.h"
#ifdef TACHYON_TEST_COUNTS_ALLOCATIONS
#include "support/alloc_counter.h"
#endif
#include "support/netns.h"
#include "support/require.h"

namespace tachyon::fastpath::af_xdp {
namespace {

using ::tachyon::testing::NamespaceScope;
using ::tachyon::testing::VethPair;

constexpr std::uint16_t kPort = 7600;
constexpr std::uint16_t kOtherPort = 7601;

std::span<const std::byte> AsBytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// RFC 1071 over big-endian 16-bit words, folded and inverted.
std::uint16_t Checksum(const std::uint8_t* p, std::size_t n,
                       std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += (p[i] << 8) | p[i + 1];
  if (n % 2 != 0) sum += p[n - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

// An Ethernet/IPv4/UDP frame written by hand (so its faults are ours):
// `options` bytes of IPv4 options (NOPs), checksums correct unless spoiled.
struct RawFrame {
  std::vector<std::uint8_t> bytes;
  std::size_t ip = 14;
  std::size_t udp = 0;
};

RawFrame BuildRaw(const MacAddress& src_mac, const MacAddress& dst_mac,
                  std::uint32_t src_be, std::uint32_t dst_be,
                  std::uint16_t src_port, std::uint16_t dst_port,
                  const std::string& payload, std::size_t options = 0) {
  RawFrame f;
  const std::size_t ihl = 20 + options;
  f.udp = f.ip + ihl;
  f.bytes.assign(f.udp + 8 + payload.size(), 0);
  std::uint8_t* b = f.bytes.data();
  std::memcpy(b, dst_mac.bytes.data(), 6);
  std::memcpy(b + 6, src_mac.bytes.data(), 6);
  b[12] = 0x08;
  b[13] = 0x00;
  std::uint8_t* ip = b + f.ip;
  ip[0] = static_cast<std::uint8_t>(0x40 | (ihl / 4));
  const auto total = static_cast<std::uint16_t>(ihl + 8 + payload.size());
  ip[2] = total >> 8;
  ip[3] = total & 0xff;
  ip[6] = 0x40;  // DF
  ip[8] = 64;
  ip[9] = IPPROTO_UDP;
  std::memcpy(ip + 12, &src_be, 4);
  std::memcpy(ip + 16, &dst_be, 4);
  for (std::size_t i = 20; i < ihl; ++i) ip[i] = 1;  // NOP
  const std::uint16_t ip_sum = Checksum(ip, ihl);
  ip[10] = ip_sum >> 8;
  ip[11] = ip_sum & 0xff;
  std::uint8_t* udp = b + f.udp;
  const auto ulen = static_cast<std::uint16_t>(8 + payload.size());
  udp[0] = src_port >> 8;
  udp[1] = src_port & 0xff;
  udp[2] = dst_port >> 8;
  udp[3] = dst_port & 0xff;
  udp[4] = ulen >> 8;
  udp[5] = ulen & 0xff;
  std::memcpy(udp + 8, payload.data(), payload.size());
  std::uint32_t pseudo = 0;
  for (int i = 12; i < 20; i += 2) pseudo += (ip[i] << 8) | ip[i + 1];
  pseudo += IPPROTO_UDP + ulen;
  std::uint16_t udp_sum = Checksum(udp, ulen, pseudo);
  if (udp_sum == 0) udp_sum = 0xffff;
  udp[6] = udp_sum >> 8;
  udp[7] = udp_sum & 0xff;
  return f;
}

// Whether the IPv4 header and UDP checksums of a captured frame hold.
bool ChecksumsHold(const std::uint8_t* frame, std::size_t len) {
  if (len < 42) return false;
  const std::uint8_t* ip = frame + 14;
  const std::size_t ihl = (ip[0] & 0xf) * 4u;
  if (Checksum(ip, ihl) != 0) return false;
  const std::uint8_t* udp = ip + ihl;
  const std::size_t ulen = (udp[4] << 8) | udp[5];
  if (14 + ihl + ulen > len) return false;
  std::uint32_t pseudo = 0;
  for (int i = 12; i < 20; i += 2) pseudo += (ip[i] << 8) | ip[i + 1];
  pseudo += IPPROTO_UDP + static_cast<std::uint32_t>(ulen);
  return Checksum(udp, ulen, pseudo) == 0;
}

class AfXdpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!tachyon::testing::CanCreateNamespaces(&why)) {
      tachyon::testing::MissingFeature("AF_XDP tests need namespaces: " + why);
      return;
    }
    static int serial = 0;
    absl::StatusOr<std::unique_ptr<VethPair>> pair = VethPair::Create(
        "tafx" + std::to_string(::getpid()) + "-" + std::to_string(serial++),
        options_);
    ASSERT_TRUE(pair.ok()) << pair.status();
    pair_ = *std::move(pair);
    in_gateway_.emplace(pair_->gateway_ns());
    ASSERT_TRUE(in_gateway_->ok());
    ASSERT_TRUE(MacAddress::Parse(pair_->gateway_mac()).ok());
    gateway_mac_ = *MacAddress::Parse(pair_->gateway_mac());
    peer_mac_ = *MacAddress::Parse(pair_->peer_mac());
  }
  void TearDown() override {
    io_.reset();
    path_.reset();
    in_gateway_.reset();
    pair_.reset();
  }

  config::GatewayConfig Config(config::XdpMode mode) const {
    config::GatewayConfig c;
    c.fastpath.mode = config::FastPathMode::kAfXdp;
    c.fastpath.interface = pair_->gateway_if();
    c.fastpath.xdp_mode = mode;
    c.fastpath.address = pair_->gateway_ip();
    return c;
  }
  // Opens the path and takes queue 0.
  void Open(const config::GatewayConfig& c) {
    absl::StatusOr<std::unique_ptr<FastPath>> path =
        OpenAfXdp(c, kPort, registry_);
    ASSERT_TRUE(path.ok()) << path.status();
    path_ = *std::move(path);
    io_ = path_->TakeQueue(0);
    ASSERT_NE(io_, nullptr);
  }
  AfXdpDatagramIo& Queue() {
    return *dynamic_cast<AfXdpDatagramIo*>(io_.get());
  }

  // A UDP socket in the peer namespace bound to the peer's address.
  int PeerUdpSocket(std::uint16_t port = 0) const {
    NamespaceScope in(pair_->peer_ns());
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = pair_->peer_ip_be();
    a.sin_port = htons(port);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    return fd;
  }
  // An AF_PACKET socket on the peer's interface (send raw frames, capture).
  int PeerPacketSocket() const {
    NamespaceScope in(pair_->peer_ns());
    const int fd =
        ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    sockaddr_ll ll{};
    ll.sll_family = AF_PACKET;
    ll.sll_protocol = htons(ETH_P_ALL);
    ll.sll_ifindex = static_cast<int>(::if_nametoindex("tp0"));
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&ll), sizeof ll), 0);
    return fd;
  }
  void SendTo(int fd, std::uint32_t to_be, std::uint16_t port,
              const std::string& bytes) const {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = to_be;
    a.sin_port = htons(port);
    ASSERT_EQ(::sendto(fd, bytes.data(), bytes.size(), 0,
                       reinterpret_cast<sockaddr*>(&a), sizeof a),
              static_cast<ssize_t>(bytes.size()));
  }
  // Receives from the AF_XDP queue until `count` payloads came or nothing
  // more arrives within 1 s.
  std::vector<std::string> ReceiveUpTo(std::size_t count) {
    std::vector<std::string> out;
    std::vector<io::RxDatagram> batch(64);
    for (int pass = 0; pass < 1000 && out.size() < count; ++pass) {
      const int got = io_->Receive(batch);
      for (int i = 0; i < got; ++i) {
        const auto& d = batch[static_cast<std::size_t>(i)];
        out.emplace_back(reinterpret_cast<const char*>(d.bytes.data()),
                         d.bytes.size());
      }
      if (got == 0) {
        pollfd p{io_->readiness_fd(), POLLIN, 0};
        if (::poll(&p, 1, 1000) <= 0) break;
      }
    }
    return out;
  }
  static std::optional<std::string> ReceiveFrom(int fd, int timeout_ms = 2000) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
    std::string buf(70000, '\0');
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }

  VethPair::Options options_;
  base::CounterRegistry registry_;
  std::unique_ptr<VethPair> pair_;
  std::optional<NamespaceScope> in_gateway_;
  std::unique_ptr<FastPath> path_;
  std::unique_ptr<io::DatagramIo> io_;
  MacAddress gateway_mac_;
  MacAddress peer_mac_;
};

class AfXdpModeTest : public AfXdpTest,
                      public ::testing::WithParamInterface<config::XdpMode> {};

// An ICMP echo request from the peer, answered by the gateway's kernel;
// true if the reply came.
bool PingFromPeer(const VethPair& pair) {
  NamespaceScope in(pair.peer_ns());
  const int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (fd < 0) return false;
  std::uint8_t echo[16] = {ICMP_ECHO, 0,   0,   0,   0x12, 0x34, 0,   1,
                           't',       'a', 'c', 'h', 'y',  'o',  'n', '!'};
  const std::uint16_t sum = Checksum(echo, sizeof echo);
  echo[2] = sum >> 8;
  echo[3] = sum & 0xff;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = pair.gateway_ip_be();
  bool replied = false;
  if (::sendto(fd, echo, sizeof echo, 0, reinterpret_cast<sockaddr*>(&to),
               sizeof to) == sizeof echo) {
    // Raw ICMP sockets see every ICMP packet: wait (bounded) for ours.
    for (int i = 0; i < 20 && !replied; ++i) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) break;
      std::uint8_t buf[256];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 28) continue;
      const std::size_t ihl = (buf[0] & 0xf) * 4u;
      const std::uint8_t* icmp = buf + ihl;
      replied = icmp[0] == ICMP_ECHOREPLY && icmp[4] == 0x12 && icmp[5] == 0x34;
    }
  }
  ::close(fd);
  return replied;
}

// The program takes only our UDP port: ping and another UDP port reach the
// kernel while the AF_XDP socket receives its datagrams.
TEST_P(AfXdpModeTest, PassesPingAndOtherPortsToTheKernel) {
  if (IsSkipped() || HasFatalFailure()) return;
  Open(Config(GetParam()));
  if (HasFatalFailure()) return;
  const int kernel_fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = pair_->gateway_ip_be();
  a.sin_port = htons(kOtherPort);
  ASSERT_EQ(::bind(kernel_fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);

  EXPECT_TRUE(PingFromPeer(*pair_));
  const int peer = PeerUdpSocket();
  SendTo(peer, pair_->gateway_ip_be(), kOtherPort, "to the kernel");
  SendTo(peer, pair_->gateway_ip_be(), kPort, "to the fast path");
  EXPECT_EQ(ReceiveFrom(kernel_fd), "to the kernel");
  const std::vector<std::string> got = ReceiveUpTo(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "to the fast path");
  EXPECT_TRUE(PingFromPeer(*pair_));
  ::close(peer);
  ::close(kernel_fd);
}

// Frames to our port with a bad UDP checksum, a bad IPv4 header checksum
// or a UDP length past the packet are counted by reason and never handed
// out; a frame with IPv4 options is.
TEST_P(AfXdpModeTest, CountsMalformedFramesAndNeverDeliversThem) {
  if (IsSkipped() || HasFatalFailure()) return;
  Open(Config(GetParam()));
  if (HasFatalFailure()) return;
  const int raw = PeerPacketSocket();
  auto frame = [&](const std::string& payload, std::size_t options = 0) {
    return BuildRaw(peer_mac_, gateway_mac_, pair_->peer_ip_be(),
                    pair_->gateway_ip_be(), 5555, kPort, payload, options);
  };
  auto send = [&](const RawFrame& f) {
    ASSERT_EQ(::send(raw, f.bytes.data(), f.bytes.size(), 0),
              static_cast<ssize_t>(f.bytes.size()));
  };
  RawFrame bad_udp = frame("bad udp checksum");
  bad_udp.bytes[bad_udp.udp + 6] ^= 0x5a;
  send(bad_udp);
  RawFrame bad_ip = frame("bad ip checksum");
  bad_ip.bytes[bad_ip.ip + 10] ^= 0x5a;
  send(bad_ip);
  RawFrame long_udp = frame("udp length past the end");
  long_udp.bytes[long_udp.udp + 4] = 0x7f;  // UDP length > IP payload
  send(long_udp);
  send(frame("with options", 8));
  send(frame("sentinel"));

  const std::vector<std::string> got = ReceiveUpTo(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "with options");
  EXPECT_EQ(got[1], "sentinel");
  const FastPathCounters& c = Queue().counters();
  EXPECT_EQ(c.rx_drops[static_cast<std::size_t>(RxDrop::kBadChecksum)].value(),
            2u);
  EXPECT_EQ(c.rx_drops[static_cast<std::size_t>(RxDrop::kMalformed)].value(),
            1u);
  EXPECT_EQ(c.rx_packets.value(), 5u);
  EXPECT_EQ(io_->drops(), 3u);
  ::close(raw);
}

// Sends `count` datagrams of different sizes to `to` in one run; returns
// the bodies (after a 3-byte head "hdr").
std::vector<std::string> SendRun(io::DatagramIo& io, const io::Endpoint& to,
                                 int count, io::TxRunResult* result) {
  std::vector<std::string> bodies;
  for (int i = 0; i < count; ++i) {
    bodies.push_back(std::string(static_cast<std::size_t>(1 + i * 13),
                                 static_cast<char>('a' + i % 26)));
  }
  static const std::string head = "hdr";
  std::vector<io::TxDatagram> datagrams;
  for (const std::string& b : bodies) {
    datagrams.push_back({AsBytes(head), AsBytes(b)});
  }
  const std::vector<io::TxRun> runs = {{to, 0, datagrams}};
  std::vector<io::TxRunResult> results(1);
  io.Send(runs, results);
  *result = results[0];
  return bodies;
}

// The program parses past one or two VLAN tags: tagged frames to our port
// are redirected (and delivered); an IPv4 fragment to our port is left to
// the kernel, never reaching the socket.
TEST_P(AfXdpModeTest, RedirectsVlanTaggedFramesAndLeavesFragmentsToTheKernel) {
  if (IsSkipped() || HasFatalFailure()) return;
  Open(Config(GetParam()));
  if (HasFatalFailure()) return;
  const int raw = PeerPacketSocket();
  auto send = [&](const std::vector<std::uint8_t>& f) {
    ASSERT_EQ(::send(raw, f.data(), f.size(), 0),
              static_cast<ssize_t>(f.size()));
  };
  auto frame = [&](const std::string& payload) {
    return BuildRaw(peer_mac_, gateway_mac_, pair_->peer_ip_be(),
                    pair_->gateway_ip_be(), 5555, kPort, payload);
  };
  // Tags go between the source MAC and the EtherType.
  auto tagged = [&](const std::string& payload,
                    std::vector<std::uint8_t> tags) {
    std::vector<std::uint8_t> f = frame(payload).bytes;
    f.insert(f.begin() + 12, tags.begin(), tags.end());
    return f;
  };
  send(tagged("one tag", {0x81, 0x00, 0x00, 0x64}));
  send(tagged("two tags", {0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x64}));
  RawFrame fragment = frame("a first fragment");
  fragment.bytes[fragment.ip + 6] = 0x20;  // MF, offset 0
  fragment.bytes[fragment.ip + 10] = fragment.bytes[fragment.ip + 11] = 0;
  const std::uint16_t sum = Checksum(&fragment.bytes[fragment.ip], 20);
  fragment.bytes[fragment.ip + 10] = sum >> 8;
  fragment.bytes[fragment.ip + 11] = sum & 0xff;
  send(fragment.bytes);
  send(frame("sentinel").bytes);
  const std::vector<std::string> got = ReceiveUpTo(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "one tag");
  EXPECT_EQ(got[1], "two tags");
  EXPECT_EQ(got[2], "sentinel");
  EXPECT_EQ(Queue().counters().rx_packets.value(), 3u);
  ::close(raw);
}

// Egress leaves as frames the peer's kernel accepts (it verifies both
// checksums: a bad one would be dropped), and a capture on the peer's
// interface confirms each checksum.
TEST_P(AfXdpModeTest, EgressDatagramsArriveWithValidChecksums) {
  if (IsSkipped() || HasFatalFailure()) return;
  config::GatewayConfig c = Config(GetParam());
  c.fastpath.neighbours = {pair_->peer_ip() + "=" + pair_->peer_mac()};
  Open(c);
  if (HasFatalFailure()) return;
  const int receiver = PeerUdpSocket();
  const std::uint16_t port = io::LocalPort(receiver).value_or(0);
  const int capture = PeerPacketSocket();
  io::TxRunResult result;
  const std::vector<std::string> bodies =
      SendRun(*io_, {pair_->peer_ip_be(), port}, 100, &result);
  EXPECT_EQ(result.status, io::TxRunResult::Status::kSent);
  EXPECT_EQ(result.sent, bodies.size());
  for (const std::string& b : bodies) {
    EXPECT_EQ(ReceiveFrom(receiver), "hdr" + b);
  }
  EXPECT_EQ(Queue().counters().tx_packets.value(), bodies.size());
  EXPECT_EQ(Queue().counters().tx_no_neighbour.value(), 0u);
  int checked = 0;
  for (int i = 0; i < 1000 && checked < 100; ++i) {
    const std::optional<std::string> f = ReceiveFrom(capture, 1000);
    if (!f.has_value()) break;
    const auto* b = reinterpret_cast<const std::uint8_t*>(f->data());
    if (f->size() < 42 || b[12] != 0x08 || b[13] != 0x00 || b[23] != 17 ||
        ((b[36] << 8) | b[37]) != port) {
      continue;
    }
    EXPECT_TRUE(ChecksumsHold(b, f->size())) << "frame " << checked;
    ++checked;
  }
  EXPECT_EQ(checked, 100);
  ::close(capture);
  ::close(receiver);
}

// Far more datagrams than TX frames: frames are recycled from the
// completion ring, and a caller that retries from `sent` after kFull gets
// every datagram out, in order.
TEST_P(AfXdpModeTest, RecyclesTxFramesAndResumesAfterFull) {
  if (IsSkipped() || HasFatalFailure()) return;
  config::GatewayConfig c = Config(GetParam());
  c.fastpath.neighbours = {pair_->peer_ip() + "=" + pair_->peer_mac()};
  c.fastpath.frames = 16;  // 8 to receive, 8 to send
  c.fastpath.tx_ring = 8;
  c.fastpath.completion_ring = 8;
  Open(c);
  if (HasFatalFailure()) return;
  const int receiver = PeerUdpSocket();
  const int rcvbuf = 8 << 20;
  ::setsockopt(receiver, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  const std::uint16_t port = io::LocalPort(receiver).value_or(0);
  constexpr int kCount = 500;
  std::vector<std::string> bodies;
  for (int i = 0; i < kCount; ++i) bodies.push_back(std::to_string(i));
  std::vector<io::TxDatagram> datagrams;
  for (const std::string& b : bodies) datagrams.push_back({AsBytes(b), {}});
  std::size_t sent = 0;
  for (int call = 0; call < 10000 && sent < datagrams.size(); ++call) {
    const std::vector<io::TxRun> runs = {
        {{pair_->peer_ip_be(), port},
         0,
         std::span<const io::TxDatagram>(datagrams).subspan(sent)}};
    std::vector<io::TxRunResult> results(1);
    io_->Send(runs, results);
    ASSERT_NE(results[0].status, io::TxRunResult::Status::kFailed);
    sent += results[0].sent;
  }
  ASSERT_EQ(sent, datagrams.size());
  for (const std::string& b : bodies) {
    ASSERT_EQ(ReceiveFrom(receiver), b);
  }
  // Copy mode on veth completes each frame inside the kick, so Send
  // usually gets the whole run out by itself; every frame was posted once.
  EXPECT_EQ(Queue().counters().tx_packets.value(), bodies.size());
  ::close(receiver);
}

// A small fill ring and a gateway that does not call Receive for a while:
// the kernel finds the fill ring empty, and the next Receive reports it
// (fill_empty) with the drops, then delivers what arrives after. Copy mode
// (veth) never asks for a fill-ring wakeup (the kernel sets that flag only
// for zero-copy drivers), so rx_wakeups is not asserted here.
TEST_P(AfXdpModeTest, CountsAnEmptyFillRingWhenReceiveFallsBehind) {
  if (IsSkipped() || HasFatalFailure()) return;
  config::GatewayConfig c = Config(GetParam());
  c.fastpath.frames = 16;  // 8 to receive, 8 to send
  c.fastpath.fill_ring = 8;
  c.fastpath.rx_ring = 16;  // room beyond the fill ring: it empties first
  c.fastpath.tx_ring = 8;
  c.fastpath.completion_ring = 8;
  Open(c);
  if (HasFatalFailure()) return;
  const int peer = PeerUdpSocket();
  constexpr int kBurst = 64;
  for (int i = 0; i < kBurst; ++i) {
    SendTo(peer, pair_->gateway_ip_be(), kPort, "b" + std::to_string(i));
  }
  // Wait (bounded) until the kernel has met the empty fill ring, reading
  // its statistics directly: no Receive in between.
  xdp_statistics stats{};
  for (int i = 0; i < 200 && stats.rx_fill_ring_empty_descs == 0; ++i) {
    socklen_t len = sizeof stats;
    ASSERT_EQ(::getsockopt(io_->readiness_fd(), SOL_XDP, XDP_STATISTICS, &stats,
                           &len),
              0);
    if (stats.rx_fill_ring_empty_descs == 0) {
      pollfd p{-1, 0, 0};
      ::poll(&p, 0, 10);
    }
  }
  ASSERT_GT(stats.rx_fill_ring_empty_descs, 0u);
  // What the 8 RX frames held is delivered (more only if the kernel was
  // still working through the burst); the rest were dropped.
  const std::vector<std::string> early = ReceiveUpTo(kBurst);
  EXPECT_GE(early.size(), 1u);
  EXPECT_LT(early.size(), static_cast<std::size_t>(kBurst));
  const FastPathCounters& counters = Queue().counters();
  EXPECT_GT(counters.fill_empty.value(), 0u);
  EXPECT_GT(io_->drops(), 0u);
  // Frames went back to the fill ring: the queue receives again.
  SendTo(peer, pair_->gateway_ip_be(), kPort, "after");
  const std::vector<std::string> later = ReceiveUpTo(1);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0], "after");
  ::close(peer);
}

// Frames left queued by a kick the kernel cut short (copy mode sends 32 a
// kick) go out on the next Send even when it posts nothing and nothing is
// received: a gateway that only sends never stalls.
TEST_P(AfXdpModeTest, SendAloneKicksWhatAnEarlierSendLeftQueued) {
  if (IsSkipped() || HasFatalFailure()) return;
  absl::StatusOr<std::unique_ptr<XdpProgram>> program = XdpProgram::Attach(
      {.interface = "tg0", .mode = GetParam(), .ports = {kPort}});
  ASSERT_TRUE(program.ok()) << program.status();
  AfXdpQueueOptions q;
  q.interface = "tg0";
  q.xsks_map_fd = (*program)->xsks_map_fd();
  q.xdp_mode = GetParam();
  q.frames = 256;  // 128 to send
  q.tx_ring = 128;
  q.completion_ring = 128;
  q.address_be = pair_->gateway_ip_be();
  q.source_be = pair_->gateway_ip_be();
  q.port = kPort;
  q.mac = gateway_mac_;
  q.neighbours = {
      *ParseStaticNeighbour(pair_->peer_ip() + "=" + pair_->peer_mac())};
  q.tx_kicks_per_call = 1;  // one kick: at most 32 frames leave per call
  absl::StatusOr<std::unique_ptr<AfXdpDatagramIo>> io =
      AfXdpDatagramIo::Create(q, registry_);
  ASSERT_TRUE(io.ok()) << io.status();
  const int receiver = PeerUdpSocket();
  const int rcvbuf = 8 << 20;
  ::setsockopt(receiver, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  const std::uint16_t port = io::LocalPort(receiver).value_or(0);
  constexpr int kCount = 100;
  std::vector<std::string> bodies;
  for (int i = 0; i < kCount; ++i) bodies.push_back("q" + std::to_string(i));
  std::vector<io::TxDatagram> datagrams;
  for (const std::string& b : bodies) datagrams.push_back({AsBytes(b), {}});
  const std::vector<io::TxRun> runs = {
      {{pair_->peer_ip_be(), port}, 0, datagrams}};
  std::vector<io::TxRunResult> results(1);
  (*io)->Send(runs, results);
  ASSERT_EQ(results[0].sent, static_cast<std::uint32_t>(kCount));
  // Nothing more to post, no Receive: Send alone must move the rest.
  std::vector<std::string> got;
  std::string buf(2048, '\0');
  for (int call = 0; call < 2000 && got.size() < bodies.size(); ++call) {
    (*io)->Send({}, {});
    pollfd p{receiver, POLLIN, 0};
    while (::poll(&p, 1, 1) > 0) {
      const ssize_t n = ::recv(receiver, buf.data(), buf.size(), 0);
      if (n <= 0) break;
      got.emplace_back(buf.data(), static_cast<std::size_t>(n));
    }
  }
  EXPECT_EQ(got, bodies);
  // veth is copy mode: the TX ring always asks for a wakeup, and every
  // frame left only because Send kicked it.
  EXPECT_GT((*io)->counters().tx_wakeups.value(), 0u);
  ::close(receiver);
  io->reset();
}

// A device that stops taking frames (here: a copy-mode socket never
// kicked, so the kernel sends nothing and no completion comes back): the
// TX frames run out, Send says kFull with what it posted, and every
// datagram it could not post is counted tx_ring_full, on this run and on
// the retry.
TEST_P(AfXdpModeTest, CountsTxRingFullWhenTheDeviceTakesNothing) {
  if (IsSkipped() || HasFatalFailure()) return;
  absl::StatusOr<std::unique_ptr<XdpProgram>> program = XdpProgram::Attach(
      {.interface = "tg0", .mode = GetParam(), .ports = {kPort}});
  ASSERT_TRUE(program.ok()) << program.status();
  AfXdpQueueOptions q;
  q.interface = "tg0";
  q.xsks_map_fd = (*program)->xsks_map_fd();
  q.xdp_mode = GetParam();
  q.frames = 16;  // 8 to receive, 8 to send
  q.rx_ring = 8;
  q.fill_ring = 8;
  q.tx_ring = 8;
  q.completion_ring = 8;
  q.address_be = pair_->gateway_ip_be();
  q.source_be = pair_->gateway_ip_be();
  q.port = kPort;
  q.mac = gateway_mac_;
  q.neighbours = {
      *ParseStaticNeighbour(pair_->peer_ip() + "=" + pair_->peer_mac())};
  q.tx_kicks_per_call = AfXdpQueueOptions::kTxKicksNone;
  absl::StatusOr<std::unique_ptr<AfXdpDatagramIo>> io =
      AfXdpDatagramIo::Create(q, registry_);
  ASSERT_TRUE(io.ok()) << io.status();
  std::vector<std::string> bodies;
  for (int i = 0; i < 20; ++i) bodies.push_back("f" + std::to_string(i));
  std::vector<io::TxDatagram> datagrams;
  for (const std::string& b : bodies) datagrams.push_back({AsBytes(b), {}});
  const std::vector<io::TxRun> runs = {
      {{pair_->peer_ip_be(), 9}, 0, datagrams}};
  std::vector<io::TxRunResult> results(1);
  (*io)->Send(runs, results);
  EXPECT_EQ(results[0].status, io::TxRunResult::Status::kFull);
  EXPECT_EQ(results[0].sent, 8u);
  const FastPathCounters& c = (*io)->counters();
  EXPECT_EQ(c.tx_packets.value(), 8u);
  EXPECT_EQ(c.tx_ring_full.value(), 12u);
  const std::vector<io::TxRun> rest = {
      {{pair_->peer_ip_be(), 9},
       0,
       std::span<const io::TxDatagram>(datagrams).subspan(8)}};
  (*io)->Send(rest, results);
  EXPECT_EQ(results[0].status, io::TxRunResult::Status::kFull);
  EXPECT_EQ(results[0].sent, 0u);
  EXPECT_EQ(c.tx_ring_full.value(), 24u);
  EXPECT_EQ(c.tx_wakeups.value(), 0u);
  io->reset();
}

// Egress is limited by the interface MTU (1500 here: 1472 bytes of
// payload), not only by the frame: a larger datagram fails and is counted.
TEST_P(AfXdpModeTest, RefusesDatagramsLargerThanTheMtu) {
  if (IsSkipped() || HasFatalFailure()) return;
  config::GatewayConfig c = Config(GetParam());
  c.fastpath.neighbours = {pair_->peer_ip() + "=" + pair_->peer_mac()};
  Open(c);
  if (HasFatalFailure()) return;
  const int receiver = PeerUdpSocket();
  const std::uint16_t port = io::LocalPort(receiver).value_or(0);
  const std::string fits(1472, 'f');
  const std::string too_large(1473, 'x');
  std::vector<io::TxDatagram> big = {{AsBytes(too_large), {}}};
  std::vector<io::TxDatagram> ok = {{AsBytes(fits), {}}};
  const std::vector<io::TxRun> runs = {{{pair_->peer_ip_be(), port}, 0, big},
                                       {{pair_->peer_ip_be(), port}, 0, ok}};
  std::vector<io::TxRunResult> results(2);
  io_->Send(runs, results);
  EXPECT_EQ(results[0].status, io::TxRunResult::Status::kFailed);
  EXPECT_EQ(results[0].sent, 0u);
  EXPECT_EQ(results[1].sent, 1u);
  EXPECT_EQ(Queue().counters().tx_too_large.value(), 1u);
  EXPECT_EQ(ReceiveFrom(receiver), fits);
  ::close(receiver);
}

// Without static entries the next hop's MAC comes from the kernel's
// neighbour table (the pair has permanent entries both ways).
TEST_P(AfXdpModeTest, FindsTheNextHopInTheKernelTable) {
  if (IsSkipped() || HasFatalFailure()) return;
  Open(Config(GetParam()));
  if (HasFatalFailure()) return;
  const int receiver = PeerUdpSocket();
  const std::uint16_t port = io::LocalPort(receiver).value_or(0);
  io::TxRunResult result;
  const std::vector<std::string> bodies =
      SendRun(*io_, {pair_->peer_ip_be(), port}, 10, &result);
  EXPECT_EQ(result.status, io::TxRunResult::Status::kSent);
  for (const std::string& b : bodies) {
    EXPECT_EQ(ReceiveFrom(receiver), "hdr" + b);
  }
  EXPECT_EQ(Queue().counters().tx_packets.value(), bodies.size());
  EXPECT_EQ(Queue().counters().tx_no_neighbour.value(), 0u);
  ::close(receiver);
}

// With an address configured the program matches it too: UDP to the same
// port on another address of the interface stays with the kernel (before,
// it was taken and dropped as wrong_port) while the AF_XDP socket runs.
TEST_P(AfXdpModeTest, LeavesTheSamePortOnAnotherAddressToTheKernel) {
  if (IsSkipped() || HasFatalFailure()) return;
  Open(Config(GetParam()));
  if (HasFatalFailure()) return;
  std::string second = pair_->gateway_ip();
  second.back() = '7';
  ASSERT_EQ(std::system(("ip -n " + pair_->gateway_ns() + " addr add " +
                         second + "/24 dev tg0")
                            .c_str()),
            0);
  in_addr second_be{};
  ASSERT_EQ(::inet_pton(AF_INET, second.c_str(), &second_be), 1);
  const int kernel = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr = second_be;
  a.sin_port = htons(kPort);
  ASSERT_EQ(::bind(kernel, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const int peer = PeerUdpSocket();
  SendTo(peer, second_be.s_addr, kPort, "to the other address");
  SendTo(peer, pair_->gateway_ip_be(), kPort, "to the gateway");
  EXPECT_EQ(ReceiveFrom(kernel), "to the other address");
  const std::vector<std::string> got = ReceiveUpTo(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "to the gateway");
  EXPECT_EQ(Queue()
                .counters()
                .rx_drops[static_cast<std::size_t>(RxDrop::kWrongPort)]
                .value(),
            0u);
  ::close(peer);
  ::close(kernel);
}

// A destination whose MAC nobody knows yet goes through the kernel, which
// resolves it by ARP; counted as tx_no_neighbour.
TEST_P(AfXdpModeTest, SendsThroughTheKernelWhenTheNeighbourIsUnknown) {
  if (IsSkipped() || HasFatalFailure()) return;
  Open(Config(GetParam()));
  if (HasFatalFailure()) return;
  // A second peer address, in no neighbour table.
  std::string third = pair_->peer_ip();
  third.back() = '3';
  ASSERT_EQ(std::system(("ip -n " + pair_->peer_ns() + " addr add " + third +
                         "/24 dev tp0")
                            .c_str()),
            0);
  in_addr third_be{};
  ASSERT_EQ(::inet_pton(AF_INET, third.c_str(), &third_be), 1);
  int receiver = -1;
  {
    NamespaceScope in(pair_->peer_ns());
    receiver = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr = third_be;
    ASSERT_EQ(::bind(receiver, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }
  const std::uint16_t port = io::LocalPort(receiver).value_or(0);
  io::TxRunResult result;
  const std::vector<std::string> bodies =
      SendRun(*io_, {third_be.s_addr, port}, 3, &result);
  EXPECT_EQ(result.status, io::TxRunResult::Status::kSent);
  EXPECT_EQ(result.sent, 3u);
  for (const std::string& b : bodies) {
    EXPECT_EQ(ReceiveFrom(receiver), "hdr" + b);
  }
  EXPECT_EQ(Queue().counters().tx_no_neighbour.value(), 3u);
  EXPECT_EQ(Queue().counters().tx_packets.value(), 0u);
  ::close(receiver);
}

// Once warm, receiving and sending allocate nothing.
TEST_P(AfXdpModeTest, ReceiveAndSendAllocateNothingOnceWarm) {
#ifndef TACHYON_TEST_COUNTS_ALLOCATIONS
  GTEST_SKIP() << "allocations are not counted in this build (ThreadSanitizer "
                  "owns operator new)";
#else
  if (IsSkipped() || HasFatalFailure()) return;
  config::GatewayConfig c = Config(GetParam());
  c.fastpath.neighbours = {pair_->peer_ip() + "=" + pair_->peer_mac()};
  Open(c);
  if (HasFatalFailure()) return;
  const int peer = PeerUdpSocket();
  const std::uint16_t peer_port = io::LocalPort(peer).value_or(0);
  const std::string payload(200, 'p');
  std::array<io::RxDatagram, 64> batch;
  const std::vector<io::TxDatagram> datagrams(32, {AsBytes(payload), {}});
  const std::vector<io::TxRun> runs = {
      {{pair_->peer_ip_be(), peer_port}, 0, datagrams}};
  std::vector<io::TxRunResult> results(1);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = pair_->gateway_ip_be();
  to.sin_port = htons(kPort);
  std::string sink(70000, '\0');
  // Two rounds: the first warms up, the second is counted.
  for (int round = 0; round < 2; ++round) {
    if (round == 1) {
      tachyon::testing::CountThisThread();
      tachyon::testing::StartCountingAllocations();
    }
    int received = 0;
    for (int i = 0; i < 32; ++i) {
      ASSERT_EQ(::sendto(peer, payload.data(), payload.size(), 0,
                         reinterpret_cast<const sockaddr*>(&to), sizeof to),
                static_cast<ssize_t>(payload.size()));
    }
    for (int pass = 0; pass < 1000 && received < 32; ++pass) {
      const int got = io_->Receive(batch);
      received += got;
      if (got == 0) {
        pollfd p{io_->readiness_fd(), POLLIN, 0};
        if (::poll(&p, 1, 1000) <= 0) break;
      }
    }
    io_->Send(runs, results);
    int echoed = 0;
    for (int i = 0; i < 32; ++i) {
      pollfd p{peer, POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) break;
      if (::recv(peer, sink.data(), sink.size(), 0) > 0) ++echoed;
    }
    if (round == 1) tachyon::testing::StopCountingAllocations();
    ASSERT_EQ(received, 32);
    ASSERT_EQ(results[0].sent, 32u);
    ASSERT_EQ(echoed, 32);
  }
  EXPECT_EQ(tachyon::testing::CountedAllocations(), 0);
  ::close(peer);
#endif
}

INSTANTIATE_TEST_SUITE_P(
    Modes, AfXdpModeTest,
    ::testing::Values(config::XdpMode::kGeneric, config::XdpMode::kNative),
    [](const ::testing::TestParamInfo<config::XdpMode>& i) {
      return std::string(i.param == config::XdpMode::kGeneric ? "Generic"
                                                              : "Native");
    });

// A program of ours left attached by a gateway that died is replaced on the
// next start, and the start says so.
TEST_F(AfXdpTest, ReplacesAStaleProgramFromACrashedRunAndSaysSo) {
  if (IsSkipped() || HasFatalFailure()) return;
  const int ifindex = static_cast<int>(::if_nametoindex("tg0"));
  std::uint32_t stale_id = 0;
  {
    absl::StatusOr<std::unique_ptr<XdpProgram>> crashed =
        XdpProgram::Attach({.interface = "tg0",
                            .mode = config::XdpMode::kGeneric,
                            .ports = {kPort}});
    ASSERT_TRUE(crashed.ok()) << crashed.status();
    stale_id = (*crashed)->program_id();
    (*crashed)->AbandonForTest();
  }
  std::string name;
  ASSERT_EQ(AttachedXdpProgram(ifindex, &name).value_or(0), stale_id);
  EXPECT_EQ(name, kXdpProgramName);

  ::testing::internal::CaptureStderr();
  Open(Config(config::XdpMode::kNative));
  const std::string log = ::testing::internal::GetCapturedStderr();
  if (HasFatalFailure()) return;
  EXPECT_NE(log.find("replaced a stale XDP program"), std::string::npos) << log;
  EXPECT_NE(path_->Describe().find("replaced a stale XDP program"),
            std::string::npos)
      << path_->Describe();
  const std::uint32_t now_id = AttachedXdpProgram(ifindex, nullptr).value_or(0);
  EXPECT_NE(now_id, 0u);
  EXPECT_NE(now_id, stale_id);
  // And it works: a datagram arrives.
  const int peer = PeerUdpSocket();
  SendTo(peer, pair_->gateway_ip_be(), kPort, "after the crash");
  const std::vector<std::string> got = ReceiveUpTo(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "after the crash");
  ::close(peer);
}

// A program of ours whose map holds sockets belongs to a running gateway:
// a second path on the interface is refused, and the first keeps working.
TEST_F(AfXdpTest, RefusesToTakeTheProgramOfARunningGateway) {
  if (IsSkipped() || HasFatalFailure()) return;
  const int ifindex = static_cast<int>(::if_nametoindex("tg0"));
  Open(Config(config::XdpMode::kGeneric));
  if (HasFatalFailure()) return;
  const std::uint32_t id = AttachedXdpProgram(ifindex, nullptr).value_or(0);
  ASSERT_NE(id, 0u);
  absl::StatusOr<std::vector<AttachedXdp>> seen = InspectXdpPrograms(ifindex);
  ASSERT_TRUE(seen.ok()) << seen.status();
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_TRUE((*seen)[0].ours);
  EXPECT_EQ((*seen)[0].sockets, 1);

  base::CounterRegistry other_registry;
  absl::StatusOr<std::unique_ptr<FastPath>> second =
      OpenAfXdp(Config(config::XdpMode::kGeneric), kPort, other_registry);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find(
                "already carries a running Tachyon gateway's XDP program "
                "(prog id " +
                std::to_string(id) + ", 1 sockets)"),
            std::string::npos)
      << second.status();
  EXPECT_EQ(AttachedXdpProgram(ifindex, nullptr).value_or(0), id);
  // The probe left the map as it was: the first still receives.
  const int peer = PeerUdpSocket();
  SendTo(peer, pair_->gateway_ip_be(), kPort, "still here");
  const std::vector<std::string> got = ReceiveUpTo(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "still here");
  ::close(peer);
}

// The program counts its verdicts: with no socket in the map, a datagram to
// our port is passed (no_socket), another port and ICMP are passed for
// their reasons, and the kernel still answers the ping.
TEST_F(AfXdpTest, ProgramCountsItsVerdicts) {
  if (IsSkipped() || HasFatalFailure()) return;
  absl::StatusOr<std::unique_ptr<XdpProgram>> program = XdpProgram::Attach(
      {.interface = "tg0", .mode = config::XdpMode::kNative, .ports = {kPort}});
  ASSERT_TRUE(program.ok()) << program.status();
  const int peer = PeerUdpSocket();
  SendTo(peer, pair_->gateway_ip_be(), kPort, "no socket yet");
  SendTo(peer, pair_->gateway_ip_be(), kOtherPort, "another port");
  EXPECT_TRUE(PingFromPeer(*pair_));
  // Stats are per-CPU map reads; the frames were handled before send
  // returned, but wait (bounded) rather than assume it.
  std::array<std::uint64_t, XdpProgram::kVerdicts> stats{};
  for (int i = 0; i < 1000; ++i) {
    stats = (*program)->Stats();
    if (stats[1] >= 1 && stats[5] >= 1 && stats[3] >= 1) break;
    ::usleep(1000);
  }
  EXPECT_EQ(std::string(XdpProgram::VerdictName(1)), "no_socket");
  EXPECT_EQ(stats[0], 0u);  // redirected
  EXPECT_EQ(stats[1], 1u);  // no_socket
  EXPECT_GE(stats[3], 1u);  // pass_not_udp (the echo request)
  EXPECT_EQ(stats[5], 1u);  // pass_other_port
  ::close(peer);
}

// A loader that attached the object itself (DPDK) fills the ports after.
TEST_F(AfXdpTest, AddsPortsToTheAttachedProgram) {
  if (IsSkipped() || HasFatalFailure()) return;
  const int ifindex = static_cast<int>(::if_nametoindex("tg0"));
  EXPECT_EQ(AddPortsToAttachedProgram(ifindex, {kPort}).code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<std::unique_ptr<XdpProgram>> program =
      XdpProgram::Attach({.interface = "tg0",
                          .mode = config::XdpMode::kGeneric,
                          .ports = {kOtherPort}});
  ASSERT_TRUE(program.ok()) << program.status();
  ASSERT_TRUE(AddPortsToAttachedProgram(ifindex, {kPort}).ok());
  const int peer = PeerUdpSocket();
  SendTo(peer, pair_->gateway_ip_be(), kPort, "now ours");
  std::array<std::uint64_t, XdpProgram::kVerdicts> stats{};
  for (int i = 0; i < 1000 && stats[1] == 0; ++i) {
    stats = (*program)->Stats();
    if (stats[1] == 0) ::usleep(1000);
  }
  EXPECT_EQ(stats[1], 1u);  // no_socket: our port, nobody in the map
  EXPECT_EQ(stats[5], 0u);  // not passed as another port
  ::close(peer);
}

// Shutting down detaches: no XDP program is left on the interface.
TEST_F(AfXdpTest, DetachesOnDestruction) {
  if (IsSkipped() || HasFatalFailure()) return;
  const int ifindex = static_cast<int>(::if_nametoindex("tg0"));
  Open(Config(config::XdpMode::kGeneric));
  if (HasFatalFailure()) return;
  std::string name;
  EXPECT_NE(AttachedXdpProgram(ifindex, &name).value_or(0), 0u);
  EXPECT_EQ(name, kXdpProgramName);
  io_.reset();
  path_.reset();
  EXPECT_EQ(AttachedXdpProgram(ifindex, nullptr).value_or(1), 0u);
}

// Another XDP program on the interface is not ours to replace.
TEST_F(AfXdpTest, RefusesAnotherProgramOnTheInterface) {
  if (IsSkipped() || HasFatalFailure()) return;
  const int ifindex = static_cast<int>(::if_nametoindex("tg0"));
  // r0 = XDP_PASS; exit
  const bpf_insn pass[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_PASS},
      {.code = BPF_JMP | BPF_EXIT}};
  const int other =
      bpf_prog_load(BPF_PROG_TYPE_XDP, "someone_else", "GPL", pass, 2, nullptr);
  ASSERT_GE(other, 0) << std::strerror(errno);
  ASSERT_EQ(bpf_xdp_attach(ifindex, other, XDP_FLAGS_SKB_MODE, nullptr), 0);
  absl::StatusOr<std::unique_ptr<FastPath>> path =
      OpenAfXdp(Config(config::XdpMode::kGeneric), kPort, registry_);
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(path.status().message().find("someone_else"), std::string::npos)
      << path.status();
  EXPECT_NE(path.status().message().find("not the gateway's"),
            std::string::npos);
  // Still attached: not touched.
  std::string name;
  EXPECT_NE(AttachedXdpProgram(ifindex, &name).value_or(0), 0u);
  EXPECT_EQ(name, "someone_else");
  bpf_xdp_detach(ifindex, XDP_FLAGS_SKB_MODE, nullptr);
  ::close(other);
}

// veth has no zero-copy: "auto" falls back to copy and says why;
// "zero_copy" fails and says what to do.
TEST_F(AfXdpTest, ZeroCopyFallsBackUnderAutoAndFailsWhenRequired) {
  if (IsSkipped() || HasFatalFailure()) return;
  config::GatewayConfig c = Config(config::XdpMode::kNative);
  c.fastpath.xdp_bind = config::XdpBind::kZeroCopy;
  absl::StatusOr<std::unique_ptr<FastPath>> refused =
      OpenAfXdp(c, kPort, registry_);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("zero-copy"), std::string::npos)
      << refused.status();
  EXPECT_NE(refused.status().message().find("xdp_bind = \"auto\""),
            std::string::npos)
      << refused.status();
  refused = absl::StatusOr<std::unique_ptr<FastPath>>();  // detach

  c.fastpath.xdp_bind = config::XdpBind::kAuto;
  Open(c);
  if (HasFatalFailure()) return;
  EXPECT_FALSE(Queue().zero_copy());
  EXPECT_NE(Queue().copy_reason().find("zero-copy"), std::string::npos);
  EXPECT_NE(path_->Describe().find("copy (tg0 queue 0 refused a zero-copy"),
            std::string::npos)
      << path_->Describe();
}

class AfXdpTwoQueueTest : public AfXdpTest {
 protected:
  AfXdpTwoQueueTest() { options_.gateway_queues = 2; }
};

// One socket per configured queue, each in its own slot of the map:
// datagrams of many flows (the peer spreads them over its TX queues, veth
// delivers each on the matching RX queue) all arrive, on one queue or the
// other.
TEST_F(AfXdpTwoQueueTest, BindsOneSocketPerQueue) {
  if (IsSkipped() || HasFatalFailure()) return;
  config::GatewayConfig c = Config(config::XdpMode::kNative);
  c.fastpath.queues = 2;
  absl::StatusOr<std::unique_ptr<FastPath>> path =
      OpenAfXdp(c, kPort, registry_);
  ASSERT_TRUE(path.ok()) << path.status();
  path_ = *std::move(path);
  EXPECT_EQ(path_->queues(), 2);
  EXPECT_NE(path_->Describe().find("queues 0..1"), std::string::npos)
      << path_->Describe();
  std::unique_ptr<io::DatagramIo> queues[2] = {path_->TakeQueue(0),
                                               path_->TakeQueue(1)};
  ASSERT_NE(queues[0], nullptr);
  ASSERT_NE(queues[1], nullptr);
  EXPECT_EQ(path_->TakeQueue(0), nullptr);
  constexpr int kFlows = 20;
  for (int i = 0; i < kFlows; ++i) {
    const int peer = PeerUdpSocket();
    SendTo(peer, pair_->gateway_ip_be(), kPort, "flow " + std::to_string(i));
    ::close(peer);
  }
  std::vector<std::string> got;
  std::array<io::RxDatagram, 64> batch;
  for (int pass = 0; pass < 1000 && got.size() < kFlows; ++pass) {
    int any = 0;
    for (auto& q : queues) {
      const int n = q->Receive(batch);
      for (int i = 0; i < n; ++i) {
        const auto& d = batch[static_cast<std::size_t>(i)];
        got.emplace_back(reinterpret_cast<const char*>(d.bytes.data()),
                         d.bytes.size());
      }
      any += n;
    }
    if (any == 0) {
      pollfd p[2] = {{queues[0]->readiness_fd(), POLLIN, 0},
                     {queues[1]->readiness_fd(), POLLIN, 0}};
      if (::poll(p, 2, 1000) <= 0) break;
    }
  }
  EXPECT_EQ(got.size(), static_cast<std::size_t>(kFlows));
}

// More queues than the interface has is a start-up error naming both.
TEST_F(AfXdpTest, RefusesMoreQueuesThanTheInterfaceHas) {
  if (IsSkipped() || HasFatalFailure()) return;
  config::GatewayConfig c = Config(config::XdpMode::kGeneric);
  c.fastpath.queues = 2;
  absl::StatusOr<std::unique_ptr<FastPath>> path =
      OpenAfXdp(c, kPort, registry_);
  ASSERT_FALSE(path.ok());
  EXPECT_NE(path.status().message().find("1 RX queue"), std::string::npos)
      << path.status();
}

// Runs `body` in a child process (in this thread's namespace) and returns
// the text it wrote to the pipe it was given; the child is reaped by PID.
std::string InChild(const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    const std::string text = body();
    (void)!::write(fds[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) {
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return text;
}

// Without root (no CAP_BPF, CAP_NET_ADMIN) loading fails with an error that
// names the capabilities.
TEST_F(AfXdpTest, NamesTheMissingCapabilitiesWhenNotRoot) {
  if (IsSkipped() || HasFatalFailure()) return;
  const std::string text = InChild([] {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) return std::string("?");
    absl::StatusOr<std::unique_ptr<XdpProgram>> p =
        XdpProgram::Attach({.interface = "tg0",
                            .mode = config::XdpMode::kGeneric,
                            .ports = {kPort}});
    return p.ok() ? std::string("attached")
                  : std::string(absl::StatusCodeToString(p.status().code())) +
                        ": " + std::string(p.status().message());
  });
  EXPECT_EQ(text.rfind("PERMISSION_DENIED", 0), 0u) << text;
  EXPECT_NE(text.find("CAP_BPF"), std::string::npos) << text;
  EXPECT_NE(text.find("CAP_NET_ADMIN"), std::string::npos) << text;
}

// A UMEM above the locked-memory limit without CAP_IPC_LOCK: the error
// explains the limit and the capability.
TEST_F(AfXdpTest, ExplainsTheLockedMemoryLimit) {
  if (IsSkipped() || HasFatalFailure()) return;
  const std::string text = InChild([this] {
    absl::StatusOr<std::unique_ptr<XdpProgram>> p =
        XdpProgram::Attach({.interface = "tg0",
                            .mode = config::XdpMode::kGeneric,
                            .ports = {kPort}});
    if (!p.ok()) return std::string(p.status().message());
    // Drop CAP_IPC_LOCK from the effective set; lower the limit to 1 MiB.
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct caps[2] = {};
    ::syscall(SYS_capget, &header, caps);
    caps[0].effective &= ~(1u << CAP_IPC_LOCK);
    ::syscall(SYS_capset, &header, caps);
    const rlimit limit{1 << 20, 1 << 20};
    ::setrlimit(RLIMIT_MEMLOCK, &limit);
    AfXdpQueueOptions q;
    q.interface = "tg0";
    q.xsks_map_fd = (*p)->xsks_map_fd();
    q.xdp_mode = config::XdpMode::kGeneric;
    q.frames = 4096;  // 16 MiB
    q.port = kPort;
    q.source_be = pair_->gateway_ip_be();
    base::CounterRegistry registry;
    absl::StatusOr<std::unique_ptr<AfXdpDatagramIo>> io =
        AfXdpDatagramIo::Create(q, registry);
    return io.ok() ? std::string("created")
                   : std::string(absl::StatusCodeToString(io.status().code())) +
                         ": " + std::string(io.status().message());
  });
  EXPECT_EQ(text.rfind("RESOURCE_EXHAUSTED", 0), 0u) << text;
  EXPECT_NE(text.find("CAP_IPC_LOCK"), std::string::npos) << text;
  EXPECT_NE(text.find("ulimit -l"), std::string::npos) << text;
  // The child's program was detached when it went.
  EXPECT_EQ(
      AttachedXdpProgram(static_cast<int>(::if_nametoindex("tg0")), nullptr)
          .value_or(1),
      0u);
}

// Start-up errors name what to fix.
TEST_F(AfXdpTest, NamesAMissingInterface) {
  if (IsSkipped() || HasFatalFailure()) return;
  config::GatewayConfig c = Config(config::XdpMode::kGeneric);
  c.fastpath.interface = "nosuch0";
  absl::StatusOr<std::unique_ptr<FastPath>> path =
      OpenAfXdp(c, kPort, registry_);
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(path.status().message().find("nosuch0"), std::string::npos);
}

class AfXdpJumboTest : public AfXdpTest {
 protected:
  AfXdpJumboTest() { options_.gateway_mtu = 9000; }
};

TEST_F(AfXdpJumboTest, NativeModeRefusesAnMtuTooLargeAndSaysWhatToDo) {
  if (IsSkipped() || HasFatalFailure()) return;
  absl::StatusOr<std::unique_ptr<FastPath>> path =
      OpenAfXdp(Config(config::XdpMode::kNative), kPort, registry_);
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(path.status().message().find("MTU"), std::string::npos);
  EXPECT_NE(path.status().message().find("generic"), std::string::npos);
  // Generic mode takes it.
  Open(Config(config::XdpMode::kGeneric));
}

// A frame larger than a UMEM frame is the kernel's rx_dropped: counted as
// rx_kernel_dropped (not rx_ring_full), once in drops().
class AfXdpJumboBothTest : public AfXdpTest {
 protected:
  AfXdpJumboBothTest() {
    options_.gateway_mtu = 9000;
    options_.peer_mtu = 9000;
  }
};

TEST_F(AfXdpJumboBothTest, CountsTheKernelsRxDroppedUnderItsOwnName) {
  if (IsSkipped() || HasFatalFailure()) return;
  config::GatewayConfig c = Config(config::XdpMode::kGeneric);
  c.fastpath.frame_size = 2048;
  Open(c);
  if (HasFatalFailure()) return;
  const int peer = PeerUdpSocket();
  SendTo(peer, pair_->gateway_ip_be(), kPort, std::string(3000, 'j'));
  SendTo(peer, pair_->gateway_ip_be(), kPort, "small");
  const std::vector<std::string> got = ReceiveUpTo(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "small");
  std::vector<io::RxDatagram> batch(8);
  for (int i = 0; i < 1000 && io_->drops() == 0; ++i) {
    ::usleep(2000);  // statistics are read at most once a millisecond
    io_->Receive(batch);
  }
  EXPECT_EQ(Queue().counters().rx_kernel_dropped.value(), 1u);
  EXPECT_EQ(Queue().counters().rx_ring_full.value(), 0u);
  EXPECT_EQ(io_->drops(), 1u);
  ::close(peer);
}

}  // namespace
}  // namespace tachyon::fastpath::af_xdp
