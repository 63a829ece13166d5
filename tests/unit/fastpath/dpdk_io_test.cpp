// The DPDK datagram path without privilege: a net_ring port, whose TX queue
// feeds its own RX queue. The test plays the peer by putting frames on the
// ring and reading what the path sent off it, so every scenario of the
// datagram contract that does not need a kernel on the other side runs
// here: datagrams from a peer arrive exactly once with their source; runs
// leave as frames with valid checksums (checked with DPDK's own code) to
// the right MAC; ARP for our address is answered and unknown neighbours are
// resolved; everything else is counted and dropped; nothing allocates.
//
// DPDK's EAL starts once per process: every test opens the path with the
// same EAL arguments (the first starts the EAL, the others reuse it and
// probe the ring vdev again), as the gateway would on a reopen. The ring
// PMD logs "RING: Cannot reserve memory" on each re-probe: its rings
// outlive the port, and it attaches to them.
#include "fastpath/dpdk/dpdk_io.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fastpath/dpdk/dpdk_path.h"
#include "fastpath/packet.h"
#include "gtest/gtest.h"
#ifdef TACHYON_TEST_COUNTS_ALLOCATIONS
#include "support/alloc_counter.h"
#endif

namespace tachyon::fastpath {
namespace {

using io::RxDatagram;
using io::TxDatagram;
using io::TxRun;
using io::TxRunResult;

constexpr std::uint16_t kPort = 7600;

std::uint32_t Ip(const char* text) {
  in_addr a{};
  ::inet_pton(AF_INET, text, &a);
  return a.s_addr;
}

MacAddress Mac(const char* text) { return *MacAddress::Parse(text); }

std::span<const std::byte> AsSpan(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::vector<std::string> EalArgs() {
  return {"--no-huge",
          "--no-pci",
          "-m",
          "64",
          "--file-prefix",
          "tachyon-test-" + std::to_string(::getpid()),
          "--no-telemetry",
          "--log-level=*:warning",
          "--vdev",
          "net_ring0"};
}

config::GatewayConfig Config() {
  config::GatewayConfig c;
  c.fastpath.mode = config::FastPathMode::kDpdk;
  c.fastpath.eal_args = EalArgs();
  c.fastpath.address = "10.0.0.1";
  c.fastpath.prefix_len = 24;
  c.fastpath.frames = 1024;
  c.fastpath.rx_ring = 256;  // 256 + 256 + 128 for the bursts <= 1024
  c.fastpath.tx_ring = 256;
  c.fastpath.neighbours = {"10.0.0.2=02:00:00:00:00:02"};
  return c;
}

const MacAddress kPeerMac = Mac("02:00:00:00:00:02");

// The main thread's CPU mask before anything started the EAL (which pins
// the thread calling rte_eal_init to its main lcore).
cpu_set_t MaskNow() {
  cpu_set_t set;
  CPU_ZERO(&set);
  pthread_getaffinity_np(pthread_self(), sizeof set, &set);
  return set;
}
const cpu_set_t kMaskBeforeEal = MaskNow();

// A line of /proc/self/status ("SigCgt", "VmRSS").
std::string Status(const std::string& key) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with(key + ":")) return line.substr(key.size() + 1);
  }
  return "";
}
// The standard signals (1..31) this process catches; glibc's internal
// real-time ones (32, 33: thread cancellation, setxid) are left out.
std::uint64_t CaughtStandardSignals() {
  return std::stoull(Status("SigCgt"), nullptr, 16) & 0x7fffffffu;
}
const std::uint64_t kCaughtBeforeEal = CaughtStandardSignals();

// The names of this process's threads ("comm"), to show what the EAL
// started.
std::string ThreadNames() {
  std::string names;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    names += (names.empty() ? "" : ", ") + name;
  }
  return names;
}

class DpdkIoTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(Config()); }

  void Open(const config::GatewayConfig& config) {
    io_.reset();
    path_.reset();
    auto fp = OpenDpdk(config, kPort, registry_);
    ASSERT_TRUE(fp.ok()) << fp.status();
    path_ = *std::move(fp);
    io_ = path_->TakeQueue(0);
    ASSERT_NE(io_, nullptr);
    ring_ = rte_ring_lookup("ETH_RXTX0_net_ring0");
    ASSERT_NE(ring_, nullptr);
    if (pool_ == nullptr) {
      pool_ = rte_pktmbuf_pool_create("test_peer", 1023, 0, 0,
                                      RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    }
    ASSERT_NE(pool_, nullptr);
    ASSERT_EQ(rte_eth_macaddr_get(0, &ether_), 0);
    std::memcpy(our_mac_.bytes.data(), ether_.addr_bytes, 6);
  }

  void TearDown() override {
    Drain();  // leave nothing of ours on the ring for the next test
    io_.reset();
    path_.reset();
  }

  DpdkDatagramIo& dpdk() { return *static_cast<DpdkDatagramIo*>(io_.get()); }

  // Puts `frame` on the port's receive ring, as if a peer had sent it.
  void Inject(std::span<const std::byte> frame) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    ASSERT_NE(m, nullptr);
    std::memcpy(rte_pktmbuf_mtod(m, void*), frame.data(), frame.size());
    m->data_len = static_cast<std::uint16_t>(frame.size());
    m->pkt_len = static_cast<std::uint32_t>(frame.size());
    ASSERT_EQ(rte_ring_enqueue(ring_, m), 0);
  }

  // A UDP frame from the peer (10.0.0.2) to `to`:`port`.
  std::vector<std::byte> PeerUdp(const std::string& payload,
                                 std::uint16_t source_port = 4000,
                                 const char* to = "10.0.0.1",
                                 std::uint16_t port = kPort) {
    std::vector<std::byte> frame(kUdpFrameOverhead + payload.size());
    UdpAddressing a{.source_mac = kPeerMac,
                    .destination_mac = our_mac_,
                    .source_be = Ip("10.0.0.2"),
                    .destination_be = Ip(to),
                    .source_port = source_port,
                    .destination_port = port};
    frame.resize(BuildUdpFrame(frame, a, AsSpan(payload), {}));
    return frame;
  }

  // Every frame the path put on the ring since the last Drain.
  std::vector<std::vector<std::byte>> Drain() {
    std::vector<std::vector<std::byte>> frames;
    void* obj = nullptr;
    while (ring_ != nullptr && rte_ring_dequeue(ring_, &obj) == 0) {
      auto* m = static_cast<rte_mbuf*>(obj);
      const auto* p = rte_pktmbuf_mtod(m, const std::byte*);
      frames.emplace_back(p, p + m->data_len);
      rte_pktmbuf_free(m);
    }
    return frames;
  }

  // Receives until `n` datagrams arrived or 200 passes found nothing more
  // (the ring is in memory: whatever was put on it is there at once).
  std::vector<std::pair<std::string, io::Endpoint>> ReceiveUpTo(std::size_t n) {
    std::vector<std::pair<std::string, io::Endpoint>> got;
    std::array<RxDatagram, 32> rx;
    for (int idle = 0; got.size() < n && idle < 200;) {
      const int k = io_->Receive(rx);
      if (k == 0) ++idle;
      for (int i = 0; i < k; ++i) {
        const auto& d = rx[static_cast<std::size_t>(i)];
        got.emplace_back(
            std::string(reinterpret_cast<const char*>(d.bytes.data()),
                        d.bytes.size()),
            d.source);
      }
    }
    return got;
  }

  std::uint64_t Dropped(RxDrop reason) {
    return dpdk().counters().rx_drops[static_cast<std::size_t>(reason)].value();
  }

  static inline rte_mempool* pool_ = nullptr;
  base::CounterRegistry registry_;
  std::unique_ptr<FastPath> path_;
  std::unique_ptr<io::DatagramIo> io_;
  rte_ring* ring_ = nullptr;
  rte_ether_addr ether_{};
  MacAddress our_mac_;
};

TEST_F(DpdkIoTest, StartsTheEalAndOpensTheRingPort) {
  EXPECT_EQ(path_->name(), "dpdk");
  EXPECT_EQ(path_->queues(), 1);
  EXPECT_EQ(path_->TakeQueue(0), nullptr);  // once
  EXPECT_EQ(path_->TakeQueue(1), nullptr);
  EXPECT_EQ(io_->name(), "dpdk");
  EXPECT_EQ(io_->readiness_fd(), -1);
  EXPECT_NE(path_->Describe().find("net_ring0"), std::string::npos)
      << path_->Describe();
  EXPECT_NE(path_->Describe().find("10.0.0.1/24"), std::string::npos);
  EXPECT_GT(DpdkEalInitSeconds(), 0.0);
  std::cout << "EAL init: " << DpdkEalInitSeconds() << " s; "
            << path_->Describe() << "\n";
  RecordProperty("eal_init_seconds", std::to_string(DpdkEalInitSeconds()));
  std::cout << "threads after EAL start: " << ThreadNames() << "; memory: VmRSS"
            << Status("VmRSS") << ", VmSize" << Status("VmSize") << "\n";
  // The EAL installs no signal handlers of its own.
  EXPECT_EQ(CaughtStandardSignals(), kCaughtBeforeEal);
  // rte_eal_init pinned this thread to its main lcore; the path gave it its
  // mask back, so threads the gateway starts later are not pinned.
  const cpu_set_t now = MaskNow();
  EXPECT_TRUE(CPU_EQUAL(&now, &kMaskBeforeEal));
}

TEST_F(DpdkIoTest, ASecondFastPathOnAnOpenPortIsRefused) {
  auto again = OpenDpdk(Config(), kPort, registry_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(again.status().message().find("already open"), std::string::npos)
      << again.status();
}

// Workers are not EAL threads: a queue works from a plain std::thread
// (rte_lcore_id() is LCORE_ID_ANY there), and two queues of one port work
// from two threads at once, each seeing only its own queue's frames.
TEST_F(DpdkIoTest, QueuesWorkFromTwoNonEalThreadsAtOnce) {
  config::GatewayConfig c = Config();
  c.fastpath.queues = 2;
  Open(c);
  std::unique_ptr<io::DatagramIo> second = path_->TakeQueue(1);
  ASSERT_NE(second, nullptr);
  rte_ring* ring1 = rte_ring_lookup("ETH_RXTX1_net_ring0");
  ASSERT_NE(ring1, nullptr);
  constexpr int kCount = 300;  // fewer than a ring holds (1024)
  for (int i = 0; i < kCount; ++i) {
    Inject(PeerUdp("q0 " + std::to_string(i)));
    const std::vector<std::byte> f = PeerUdp("q1 " + std::to_string(i));
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    ASSERT_NE(m, nullptr);
    std::memcpy(rte_pktmbuf_mtod(m, void*), f.data(), f.size());
    m->data_len = static_cast<std::uint16_t>(f.size());
    m->pkt_len = static_cast<std::uint32_t>(f.size());
    ASSERT_EQ(rte_ring_enqueue(ring1, m), 0);
  }
  struct Result {
    unsigned lcore = 0;
    int received = 0;
    bool in_order = true;
    TxRunResult sent;
  };
  auto work = [](io::DatagramIo* q, std::string prefix, Result* r) {
    r->lcore = rte_lcore_id();
    std::array<RxDatagram, 32> rx;
    for (int idle = 0; r->received < kCount && idle < 1000;) {
      const int n = q->Receive(rx);
      if (n == 0) ++idle;
      for (int i = 0; i < n; ++i) {
        const auto& d = rx[static_cast<std::size_t>(i)];
        const std::string got(reinterpret_cast<const char*>(d.bytes.data()),
                              d.bytes.size());
        if (got != prefix + std::to_string(r->received)) r->in_order = false;
        ++r->received;
      }
    }
    const std::string body = "reply";
    const std::vector<TxDatagram> one = {{AsSpan(body), {}}};
    const std::vector<TxRun> runs = {{{Ip("10.0.0.2"), 6000}, 0, one}};
    q->Send(runs, std::span(&r->sent, 1));
  };
  Result r0;
  Result r1;
  std::thread t0(work, io_.get(), "q0 ", &r0);
  std::thread t1(work, second.get(), "q1 ", &r1);
  t0.join();
  t1.join();
  EXPECT_EQ(r0.lcore, LCORE_ID_ANY);
  EXPECT_EQ(r1.lcore, LCORE_ID_ANY);
  EXPECT_EQ(r0.received, kCount);
  EXPECT_EQ(r1.received, kCount);
  EXPECT_TRUE(r0.in_order);
  EXPECT_TRUE(r1.in_order);
  EXPECT_EQ(r0.sent.status, TxRunResult::Status::kSent);
  EXPECT_EQ(r1.sent.status, TxRunResult::Status::kSent);
  void* obj = nullptr;
  ASSERT_EQ(rte_ring_dequeue(ring1, &obj), 0);  // queue 1's reply
  rte_pktmbuf_free(static_cast<rte_mbuf*>(obj));
  EXPECT_EQ(Drain().size(), 1u);  // queue 0's
  EXPECT_EQ(registry_.Sum("tachyon_fastpath_rx_packets_total"), 2u * kCount);
  second.reset();
}

TEST_F(DpdkIoTest, ReceivesPeerDatagramsExactlyOnceWithTheirSource) {
  constexpr int kCount = 200;  // more than one burst, fewer than the ring
  for (int i = 0; i < kCount; ++i) {
    Inject(PeerUdp("datagram " + std::to_string(i),
                   static_cast<std::uint16_t>(4000 + i % 3)));
  }
  const auto got = ReceiveUpTo(kCount + 1);  // one more: none may repeat
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    const auto& [payload, source] = got[static_cast<std::size_t>(i)];
    EXPECT_EQ(payload, "datagram " + std::to_string(i));
    EXPECT_EQ(source, (io::Endpoint{Ip("10.0.0.2"),
                                    static_cast<std::uint16_t>(4000 + i % 3)}));
  }
  EXPECT_EQ(io_->drops(), 0u);
  EXPECT_EQ(dpdk().counters().rx_packets.value(),
            static_cast<std::uint64_t>(kCount));
}

TEST_F(DpdkIoTest, CutsDatagramsLongerThanTheMaximumAndMarksThem) {
  // Like the socket and AF_XDP paths: the gateway rejects a truncated
  // datagram (FRAME_TOO_LONG) rather than appending it whole.
  config::GatewayConfig c = Config();
  c.udp.max_datagram_bytes = 16;
  Open(c);
  const std::string exact(16, 'e');
  const std::string longer(17, 'l');
  Inject(PeerUdp(exact));
  Inject(PeerUdp(longer));
  std::array<RxDatagram, 4> rx;
  int n = 0;
  for (int pass = 0; n == 0 && pass < 200; ++pass) n = io_->Receive(rx);
  ASSERT_EQ(n, 2);
  EXPECT_EQ(rx[0].bytes.size(), 16u);
  EXPECT_FALSE(rx[0].truncated);
  EXPECT_EQ(rx[1].bytes.size(), 16u);
  EXPECT_TRUE(rx[1].truncated);
  EXPECT_EQ(std::memcmp(rx[1].bytes.data(), longer.data(), 16), 0);
}

TEST_F(DpdkIoTest, RefusesAPoolTooSmallForItsRingsAndBursts) {
  io_.reset();
  path_.reset();
  config::GatewayConfig c = Config();
  c.fastpath.rx_ring = 512;
  c.fastpath.tx_ring = 512;  // 512 + 512 + 128 > 1024
  auto fp = OpenDpdk(c, kPort, registry_);
  ASSERT_FALSE(fp.ok());
  EXPECT_NE(
      fp.status().message().find("raise fastpath.frames to at least 1152"),
      std::string::npos)
      << fp.status();
  c.fastpath.frames = 2048;
  Open(c);  // and the same rings with enough mbufs open
}

TEST_F(DpdkIoTest, AnswersArpForItsAddressOnly) {
  std::array<std::byte, 64> frame{};
  const MacAddress asker = Mac("02:00:00:00:00:09");
  std::size_t len =
      BuildArpRequest(frame, asker, Ip("10.0.0.9"), Ip("10.0.0.1"));
  ASSERT_GT(len, 0u);
  Inject(std::span(frame).first(len));
  len = BuildArpRequest(frame, asker, Ip("10.0.0.9"), Ip("10.0.0.77"));
  Inject(std::span(frame).first(len));
  std::array<RxDatagram, 8> rx;
  EXPECT_EQ(io_->Receive(rx), 0);
  const auto sent = Drain();
  ASSERT_EQ(sent.size(), 1u);  // the request for 10.0.0.77 is not ours
  ArpPacket reply;
  ASSERT_EQ(ParseFrame(sent[0], nullptr), FrameKind::kArp);
  ASSERT_TRUE(ParseArp(sent[0], &reply));
  EXPECT_FALSE(reply.is_request);
  EXPECT_EQ(reply.sender_mac, our_mac_);
  EXPECT_EQ(reply.sender_be, Ip("10.0.0.1"));
  EXPECT_EQ(reply.target_mac, asker);
  EXPECT_EQ(reply.target_be, Ip("10.0.0.9"));
  EXPECT_EQ(dpdk().counters().arp_replies.value(), 1u);

  // The asker was learned from its request: a run to it leaves at once.
  const std::string body = "to the asker";
  const std::vector<TxDatagram> one = {{AsSpan(body), {}}};
  const std::vector<TxRun> runs = {{{Ip("10.0.0.9"), 5000}, 0, one}};
  std::vector<TxRunResult> results(1);
  io_->Send(runs, results);
  EXPECT_EQ(results[0].status, TxRunResult::Status::kSent);
  const auto out = Drain();
  ASSERT_EQ(out.size(), 1u);
  UdpFrame udp;
  ASSERT_EQ(ParseFrame(out[0], &udp), FrameKind::kUdp);
  EXPECT_EQ(udp.destination_mac, asker);
}

TEST_F(DpdkIoTest, ResolvesAnUnknownNeighbourByArpAndRetries) {
  const std::string body = "after arp";
  const std::vector<TxDatagram> two = {{AsSpan(body), {}}, {AsSpan(body), {}}};
  const std::vector<TxRun> runs = {{{Ip("10.0.0.3"), 5000}, 0, two}};
  std::vector<TxRunResult> results(1);
  io_->Send(runs, results);
  EXPECT_EQ(results[0].status, TxRunResult::Status::kFull);
  EXPECT_EQ(results[0].sent, 0u);
  io_->Send(runs, results);  // again at once: no second request yet
  EXPECT_EQ(results[0].status, TxRunResult::Status::kFull);
  auto sent = Drain();
  ASSERT_EQ(sent.size(), 1u);
  ArpPacket request;
  ASSERT_TRUE(ParseArp(sent[0], &request));
  EXPECT_TRUE(request.is_request);
  EXPECT_EQ(request.target_be, Ip("10.0.0.3"));
  EXPECT_EQ(request.sender_be, Ip("10.0.0.1"));
  EXPECT_EQ(request.sender_mac, our_mac_);
  EXPECT_EQ(dpdk().counters().arp_requests.value(), 1u);
  EXPECT_EQ(dpdk().counters().tx_no_neighbour.value(), 4u);

  // The neighbour answers.
  const MacAddress three = Mac("02:00:00:00:00:03");
  ArpPacket asked{.is_request = true,
                  .sender_mac = our_mac_,
                  .sender_be = Ip("10.0.0.1"),
                  .target_mac = {},
                  .target_be = Ip("10.0.0.3")};
  std::array<std::byte, 64> frame{};
  const std::size_t len = BuildArpReply(frame, asked, three, Ip("10.0.0.3"));
  Inject(std::span(frame).first(len));
  std::array<RxDatagram, 8> rx;
  EXPECT_EQ(io_->Receive(rx), 0);

  io_->Send(runs, results);
  EXPECT_EQ(results[0].status, TxRunResult::Status::kSent);
  EXPECT_EQ(results[0].sent, 2u);
  sent = Drain();
  ASSERT_EQ(sent.size(), 2u);
  for (const auto& f : sent) {
    UdpFrame udp;
    ASSERT_EQ(ParseFrame(f, &udp), FrameKind::kUdp);
    EXPECT_EQ(udp.destination_mac, three);
  }
}

TEST_F(DpdkIoTest, FailsRunsToANeighbourThatNeverAnswers) {
  const std::string body = "nobody";
  const std::vector<TxDatagram> one = {{AsSpan(body), {}}};
  const std::vector<TxRun> runs = {{{Ip("10.0.0.4"), 5000}, 0, one}};
  std::vector<TxRunResult> results(1);
  // kFull while ARP is retried, then kFailed (after 3 s).
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(15);
  int full = 0;
  for (;;) {
    io_->Send(runs, results);
    if (results[0].status != TxRunResult::Status::kFull) break;
    ++full;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    Drain();
  }
  EXPECT_EQ(results[0].status, TxRunResult::Status::kFailed);
  EXPECT_GT(full, 0);
  EXPECT_GE(dpdk().counters().arp_requests.value(), 2u);
}

TEST_F(DpdkIoTest, SendsRunsAsFramesWithValidChecksums) {
  std::vector<std::string> heads;
  std::vector<std::string> bodies;
  for (int i = 0; i < 40; ++i) {  // more than one TX burst
    heads.push_back("H" + std::to_string(i) + ":");
    bodies.push_back(std::string(static_cast<std::size_t>(1 + i * 30),
                                 static_cast<char>('a' + i % 26)));
  }
  std::vector<TxDatagram> datagrams;
  for (std::size_t i = 0; i < heads.size(); ++i) {
    datagrams.push_back({AsSpan(heads[i]), AsSpan(bodies[i])});
  }
  absl::StatusOr<int> channel = io_->AddChannel({.ttl = 3});
  ASSERT_TRUE(channel.ok()) << channel.status();
  const std::span<const TxDatagram> all(datagrams);
  const std::vector<TxRun> runs = {
      {{Ip("10.0.0.2"), 6000}, 0, all},
      {{Ip("239.1.2.3"), 6001}, *channel, all.first(3)}};
  std::vector<TxRunResult> results(2);
  io_->Send(runs, results);
  EXPECT_EQ(results[0].status, TxRunResult::Status::kSent);
  EXPECT_EQ(results[0].sent, 40u);
  EXPECT_EQ(results[1].status, TxRunResult::Status::kSent);
  EXPECT_EQ(results[1].sent, 3u);
  const auto sent = Drain();
  ASSERT_EQ(sent.size(), 43u);
  for (std::size_t i = 0; i < sent.size(); ++i) {
    const bool multicast = i >= 40;
    const std::size_t k = multicast ? i - 40 : i;
    UdpFrame udp;
    ASSERT_EQ(ParseFrame(sent[i], &udp), FrameKind::kUdp) << i;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(udp.payload.data()),
                          udp.payload.size()),
              heads[k] + bodies[k]);
    EXPECT_EQ(udp.source_be, Ip("10.0.0.1"));
    EXPECT_EQ(udp.source_port, kPort);
    EXPECT_EQ(udp.source_mac, our_mac_);
    EXPECT_EQ(udp.destination_mac,
              multicast ? Mac("01:00:5e:01:02:03") : kPeerMac);
    EXPECT_EQ(udp.destination_port, multicast ? 6001 : 6000);
    // DPDK's own checksum code agrees with ours.
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(
        sent[i].data() + kEthernetHeaderBytes);
    EXPECT_EQ(rte_ipv4_cksum(ip), 0) << i;  // ~sum over a checksummed header
    EXPECT_EQ(rte_ipv4_udptcp_cksum_verify(ip, ip + 1), 0) << i;
    EXPECT_EQ(ip->time_to_live, multicast ? 3 : 64);
  }
  EXPECT_EQ(dpdk().counters().tx_packets.value(), 43u);
  EXPECT_EQ(io_->offloaded_sends(), 0u);  // net_ring offers no offload
}

TEST_F(DpdkIoTest, FailsRunsItCannotSendAndSendsTheOthers) {
  const std::string body = "ok";
  const std::string huge(2000, 'h');  // over the MTU: never fragmented
  const std::vector<TxDatagram> one = {{AsSpan(body), {}}};
  const std::vector<TxDatagram> big = {
      {AsSpan(body), {}}, {AsSpan(huge), {}}, {AsSpan(body), {}}};
  const std::vector<TxRun> runs = {{{Ip("10.0.0.2"), 0}, 0, one},
                                   {{Ip("10.0.0.2"), 6000}, 0, big},
                                   {{Ip("192.168.9.9"), 6000}, 0, one},
                                   {{Ip("10.0.0.2"), 6000}, 7, one},
                                   {{Ip("10.0.0.2"), 6000}, 0, one}};
  std::vector<TxRunResult> results(runs.size());
  io_->Send(runs, results);
  EXPECT_EQ(results[0].status, TxRunResult::Status::kFailed);  // port 0
  EXPECT_EQ(results[1].status, TxRunResult::Status::kFailed);  // too big
  EXPECT_EQ(results[1].sent, 1u);
  EXPECT_EQ(results[2].status, TxRunResult::Status::kFailed);  // no gateway
  EXPECT_EQ(results[3].status, TxRunResult::Status::kFailed);  // no channel 7
  EXPECT_EQ(results[4].status, TxRunResult::Status::kSent);
  EXPECT_EQ(Drain().size(), 2u);
}

TEST_F(DpdkIoTest, CountsAndDropsEverythingElse) {
  // ICMP echo: IPv4 protocol 1.
  std::vector<std::byte> icmp = PeerUdp("ping");
  icmp[kEthernetHeaderBytes + 9] = std::byte{1};
  icmp[kEthernetHeaderBytes + 10] = std::byte{0};
  icmp[kEthernetHeaderBytes + 11] = std::byte{0};
  const auto* ih =
      reinterpret_cast<rte_ipv4_hdr*>(icmp.data() + kEthernetHeaderBytes);
  const std::uint16_t c = rte_ipv4_cksum(ih);
  std::memcpy(icmp.data() + kEthernetHeaderBytes + 10, &c, 2);
  Inject(icmp);
  // IPv6 EtherType.
  std::vector<std::byte> v6 = PeerUdp("six");
  v6[12] = std::byte{0x86};
  v6[13] = std::byte{0xdd};
  Inject(v6);
  Inject(PeerUdp("other port", 4000, "10.0.0.1", kPort + 1));
  Inject(PeerUdp("other address", 4000, "10.0.0.5", kPort));
  std::vector<std::byte> bad = PeerUdp("bad checksum");
  bad.back() ^= std::byte{0xff};
  Inject(bad);
  std::vector<std::byte> fragment = PeerUdp("fragment");
  fragment[kEthernetHeaderBytes + 6] = std::byte{0x20};  // MF
  Inject(fragment);
  const std::vector<std::byte> cut = PeerUdp("cut");
  Inject(std::span(cut).first(kEthernetHeaderBytes + 10));
  Inject(PeerUdp("the good one"));
  const auto got = ReceiveUpTo(2);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, "the good one");
  EXPECT_EQ(Dropped(RxDrop::kNotUdp), 1u);
  EXPECT_EQ(Dropped(RxDrop::kNotIpv4), 1u);
  EXPECT_EQ(Dropped(RxDrop::kWrongPort), 2u);
  EXPECT_EQ(Dropped(RxDrop::kMalformed), 1u);
  // A fragment's header checksum is now wrong too: either reason is a drop.
  EXPECT_EQ(Dropped(RxDrop::kBadChecksum) + Dropped(RxDrop::kFragment), 2u);
  // Damaged frames are datagram drops; traffic never meant for us is not.
  EXPECT_EQ(io_->drops(), 3u);
  EXPECT_TRUE(Drain().empty());  // nothing answered, nothing passed on
}

TEST_F(DpdkIoTest, NothingAllocatesOnceWarm) {
#ifndef TACHYON_TEST_COUNTS_ALLOCATIONS
  GTEST_SKIP() << "allocations are not counted in this build (ThreadSanitizer "
                  "owns operator new)";
#else
  std::vector<std::vector<std::byte>> frames;
  for (int i = 0; i < 16; ++i)
    frames.push_back(PeerUdp("warm " + std::to_string(i)));
  const std::string body(100, 'b');
  const std::vector<TxDatagram> batch(16, TxDatagram{AsSpan(body), {}});
  const std::vector<TxRun> runs = {{{Ip("10.0.0.2"), 6000}, 0, batch}};
  std::vector<TxRunResult> results(1);
  std::array<RxDatagram, 32> rx;
  auto round = [&] {
    for (const auto& f : frames) Inject(f);
    int got = 0;
    for (int pass = 0; pass < 4 && got < 16; ++pass) got += io_->Receive(rx);
    io_->Send(runs, results);
    return got;
  };
  // The drain between rounds stands in for the peer and may allocate; the
  // path's Receive and Send may not.
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(round(), 16);
    Drain();
  }
  long allocations = 0;
  for (int i = 0; i < 10; ++i) {
    for (const auto& f : frames) Inject(f);
    testing::CountThisThread();
    testing::StartCountingAllocations();
    int got = 0;
    for (int pass = 0; pass < 4 && got < 16; ++pass) got += io_->Receive(rx);
    io_->Send(runs, results);
    testing::StopCountingAllocations();
    allocations += testing::CountedAllocations();
    EXPECT_EQ(got, 16);
    EXPECT_EQ(results[0].status, TxRunResult::Status::kSent);
    Drain();
  }
  EXPECT_EQ(allocations, 0);
#endif
}

TEST_F(DpdkIoTest, ASecondOpenInTheProcessWorksAndOtherEalArgumentsFail) {
  // SetUp opened once; open again (the vdev is probed afresh).
  Open(Config());
  config::GatewayConfig other = Config();
  other.fastpath.eal_args[3] = "32";  // -m 32
  auto fp = OpenDpdk(other, kPort, registry_);
  ASSERT_FALSE(fp.ok());
  EXPECT_EQ(fp.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(fp.status().message().find("once per process"), std::string::npos)
      << fp.status();
}

// rte_eal_init failing: the error names the EAL's reason and what to do,
// and a later Open in the same process says the EAL cannot start twice. A
// death test re-runs this binary for just this test (threadsafe style), so
// the child's EAL has not been started by the tests before it.
TEST(DpdkEalDeathTest, AFailedEalStartSaysWhatToDo) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        config::GatewayConfig c = Config();
        c.fastpath.eal_args.push_back("--not-an-eal-option");
        base::CounterRegistry registry;
        auto first = OpenDpdk(c, kPort, registry);
        auto second = OpenDpdk(Config(), kPort, registry);
        std::cerr << "first: " << first.status()
                  << "\nsecond: " << second.status() << "\n";
        std::exit(!first.ok() && !second.ok() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "first: UNAVAILABLE: DPDK's EAL did not start .*--file-prefix.*\n"
      "second: FAILED_PRECONDITION: .*cannot be started twice");
}

TEST(DpdkConfigTest, RequiresAnAddress) {
  config::GatewayConfig c = Config();
  c.fastpath.address = "";
  base::CounterRegistry registry;
  auto fp = OpenDpdk(c, kPort, registry);
  ASSERT_FALSE(fp.ok());
  EXPECT_EQ(fp.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(fp.status().message().find("fastpath.address"), std::string::npos);
  c.fastpath.address = "10.0.0.256";
  EXPECT_FALSE(OpenDpdk(c, kPort, registry).ok());
  c.fastpath.address = "10.0.0.1";
  c.fastpath.neighbours = {"10.0.0.2=nonsense"};
  EXPECT_EQ(OpenDpdk(c, kPort, registry).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tachyon::fastpath
