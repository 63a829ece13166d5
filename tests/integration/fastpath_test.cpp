// The kernel-bypass fast path end to end: the gateway PROCESS runs inside
// the gateway namespace of a veth pair the test creates (support/netns.h);
// producers, receivers and pings come from the peer namespace. The same
// suite runs over every datagram path: the kernel socket, AF_XDP (generic
// and native XDP) and DPDK (net_af_packet and net_af_xdp vdevs).
//
//   ingress   PUBLISH datagrams (PROTOCOL.md 16) land exactly once in the
//             stream log and reach a TCP subscriber
//   egress    a [[udp.groups]] destination in the peer namespace receives
//             every DATA frame; the peer kernel's UDP checksum error count
//             stays 0 (it drops datagrams with bad checksums)
//   kernel    ICMP echo and UDP to another port still reach the kernel
//   malformed datagrams are counted in /metrics, never appended
//   restart   after SIGKILL the gateway starts again and serves (AF_XDP: the
//             stale program is replaced, and the log says so)
//
// Needs root (namespaces, veth, XDP). Without it every case skips with the
// reason; a path this build lacks skips too, but under TACHYON_CI=1 (as
// root) it fails. Every wait is bounded; every process is stopped by PID.
#include "fastpath/fastpath.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "support/datagrams.h"
#include "support/netns.h"
#include "support/process.h"
#include "support/require.h"
#include "support/test_client.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
using std::chrono::milliseconds;
using std::chrono::seconds;

enum class Path {
  kSocket,
  kAfXdpGeneric,
  kAfXdpNative,
  kDpdkAfPacket,
  kDpdkAfXdp
};

struct PathParam {
  const char* name;
  Path path;
};

bool IsAfXdp(Path p) {
  return p == Path::kAfXdpGeneric || p == Path::kAfXdpNative;
}
bool IsDpdk(Path p) {
  return p == Path::kDpdkAfPacket || p == Path::kDpdkAfXdp;
}

// A UDP socket bound to `ip`:0 in the namespace current at construction.
class Udp {
 public:
  explicit Udp(const std::string& ip) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    if (fd_ < 0 ||
        ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ADD_FAILURE() << "UDP bind " << ip << ": " << std::strerror(errno);
      return;
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    const int buffer = 8 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer);
  }
  ~Udp() {
    if (fd_ >= 0) ::close(fd_);
  }
  Udp(const Udp&) = delete;
  Udp& operator=(const Udp&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] int fd() const { return fd_; }
  bool SendTo(const std::string& ip, std::uint16_t port,
              std::span<const std::byte> bytes) const {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    return ::sendto(fd_, bytes.data(), bytes.size(), 0,
                    reinterpret_cast<sockaddr*>(&a),
                    sizeof a) == static_cast<ssize_t>(bytes.size());
  }
  std::vector<std::byte> Receive(milliseconds timeout) const {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return {};
    std::vector<std::byte> out(65536);
    const ssize_t n = ::recv(fd_, out.data(), out.size(), 0);
    out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return out;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// One ICMP echo from the current namespace to `ip`; true if answered.
bool Ping(const std::string& ip) {
  const int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  icmphdr echo{};
  echo.type = ICMP_ECHO;
  echo.un.echo.id = htons(static_cast<std::uint16_t>(::getpid()));
  echo.un.echo.sequence = htons(1);
  // The checksum of an 8-byte header with no data.
  std::uint32_t sum = 0;
  const auto* words = reinterpret_cast<const std::uint16_t*>(&echo);
  for (int i = 0; i < 4; ++i) sum += words[i];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  echo.checksum = static_cast<std::uint16_t>(~sum);
  bool answered = false;
  if (::sendto(fd, &echo, sizeof echo, 0, reinterpret_cast<sockaddr*>(&a),
               sizeof a) == sizeof echo) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(3);
    while (!answered && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 200) != 1) continue;
      char buffer[1500];
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n < 28) continue;
      const std::size_t ihl = static_cast<std::size_t>(buffer[0] & 0x0f) * 4;
      icmphdr reply;
      if (static_cast<std::size_t>(n) < ihl + sizeof reply) continue;
      std::memcpy(&reply, buffer + ihl, sizeof reply);
      answered =
          reply.type == ICMP_ECHOREPLY && reply.un.echo.id == echo.un.echo.id;
    }
  }
  ::close(fd);
  return answered;
}

// GET `path` from 127.0.0.1:`port` in the current namespace: the body.
std::string HttpGet(std::uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string request = "GET " + path +
                                " HTTP/1.1\r\nHost: localhost\r\nConnection: "
                                "close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[16384];
      for (int reads = 0; reads < 10000; ++reads) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 3000) != 1) break;
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        response.append(buffer, static_cast<std::size_t>(n));
      }
    }
  }
  ::close(fd);
  const std::size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

// The sum of every sample of `name` (all label sets) in Prometheus text.
std::uint64_t MetricSum(const std::string& text, const std::string& name) {
  std::uint64_t sum = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(name)) continue;
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != ' ' && next != '{') continue;
    sum +=
        static_cast<std::uint64_t>(std::stod(line.substr(line.rfind(' ') + 1)));
  }
  return sum;
}

// UDP checksum errors the kernel of the current namespace counted.
std::uint64_t UdpChecksumErrors() {
  std::ifstream snmp("/proc/thread-self/net/snmp");
  std::string header, values;
  for (std::string line; std::getline(snmp, line);) {
    if (!line.starts_with("Udp:")) continue;
    if (header.empty()) {
      header = line;
    } else {
      values = line;
      break;
    }
  }
  std::istringstream h(header), v(values);
  std::string name, value;
  while (h >> name && v >> value) {
    if (name == "InCsumErrors") return std::stoull(value);
  }
  return 0;
}

// Our XDP program, for DPDK's net_af_xdp (built with the AF_XDP path).
std::string XdpObject() {
#ifdef TACHYON_XDP_OBJECT
  return TACHYON_XDP_OBJECT;
#else
  return "";
#endif
}

class FastPathTest : public ::testing::TestWithParam<PathParam> {
 protected:
  void SetUp() override {
    const Path path = GetParam().path;
    std::string why;
    if (!CanCreateNamespaces(&why)) {
      // A skip elsewhere; under TACHYON_CI=1 a failure, like the features
      // below: CI runs as root, so it can always create them.
      MissingFeature(why);
      return;
    }
    if (IsAfXdp(path) && !fastpath::HaveAfXdp()) {
      MissingFeature(
          "this build has no AF_XDP path (not built: libxdp-dev, "
          "libbpf-dev and clang were not found, or "
          "src/fastpath/af_xdp is not in this tree)");
      return;
    }
    if (IsDpdk(path) && !fastpath::HaveDpdk()) {
      MissingFeature(
          "this build has no DPDK path (not built: libdpdk-dev was "
          "not found, or src/fastpath/dpdk is not in this tree)");
      return;
    }
    if (path == Path::kDpdkAfXdp && XdpObject().empty()) {
      MissingFeature(
          "DPDK's net_af_xdp needs our XDP program, which this "
          "build lacks (the AF_XDP path is not built)");
      return;
    }
    // Unique per process and parameter, so parallel runs never clash.
    prefix_ = "tfp" + std::to_string(::getpid() % 100000) +
              std::to_string(static_cast<int>(path));
    absl::StatusOr<std::unique_ptr<VethPair>> pair = VethPair::Create(prefix_);
    ASSERT_TRUE(pair.ok()) << pair.status();
    pair_ = *std::move(pair);
    // Loopback inside the gateway namespace, for TCP clients and /metrics.
    Process lo = Process::Start(Namespaced(
        pair_->gateway_ns(), {"/usr/sbin/ip", "link", "set", "lo", "up"}));
    ASSERT_EQ(lo.Wait(seconds(10)), 0) << lo.err();
    dir_ = std::filesystem::temp_directory_path() / (prefix_ + "-cfg");
    std::filesystem::create_directories(dir_);
    {
      auto in = pair_->EnterPeer();
      ASSERT_TRUE(in.ok());
      receiver_ = std::make_unique<Udp>(pair_->peer_ip());
    }
  }

  void TearDown() override {
    if (gateway_.pid() > 0 && gateway_.Signal(SIGTERM))
      gateway_.Wait(seconds(15));
    pair_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  static std::vector<std::string> Namespaced(const std::string& ns,
                                             std::vector<std::string> argv) {
    std::vector<std::string> cmd = VethPair::NamespacedCommand(ns, argv);
    if (!cmd.empty() && cmd[0] == "ip") cmd[0] = "/usr/sbin/ip";
    return cmd;
  }

  // The address UDP producers send to: DPDK on af_packet owns an address of
  // its own (the kernel keeps .1 and would answer for it too).
  std::string GatewayUdpIp() const {
    if (GetParam().path != Path::kDpdkAfPacket) return pair_->gateway_ip();
    std::string ip = pair_->gateway_ip();
    return ip.substr(0, ip.rfind('.')) + ".3";
  }

  std::string ConfigText() const {
    const Path path = GetParam().path;
    std::ostringstream t;
    t << "[gateway]\nbind = \"127.0.0.1\"\nport = 0\nworkers = " << workers_
      << "\n"
         "io = \"epoll\"\nlog_level = \"info\"\nsummary_interval_ms = 0\n"
         "[udp]\nenabled = true\nbind = \"0.0.0.0\"\n"
      << "port = " << (IsDpdk(path) ? 17401 : 0) << "\n"
      << "heartbeat_interval_ms = 50\n"
      << (max_datagram_bytes_ != 0
              ? "max_datagram_bytes = " + std::to_string(max_datagram_bytes_) +
                    "\n"
              : std::string())
      << "[[udp.groups]]\nstream = \"fp.out\"\ndestinations = [\""
      << pair_->peer_ip() << ":" << receiver_->port() << "\"]\n"
      << "[admin]\nport = 0\n";
    if (path == Path::kSocket) return t.str();
    t << "[fastpath]\n";
    if (IsAfXdp(path)) {
      t << "mode = \"af_xdp\"\ninterface = \"" << pair_->gateway_if() << "\"\n"
        << "xdp_mode = \""
        << (path == Path::kAfXdpNative ? "native" : "generic") << "\"\n"
        << "xdp_bind = \"copy\"\nframes = 2048\n";
    } else {
      const std::string vdev =
          path == Path::kDpdkAfPacket
              ? "net_af_packet0,iface=" + pair_->gateway_if()
              : "net_af_xdp0,iface=" + pair_->gateway_if() +
                    ",start_queue=0,queue_count=1,xdp_prog=" + XdpObject();
      t << "mode = \"dpdk\"\ninterface = \"" << pair_->gateway_if() << "\"\n"
        << "eal_args = [\"--no-huge\", \"--no-pci\", \"-m\", \"128\", "
           "\"--no-telemetry\", \"--file-prefix\", \""
        << prefix_ << "\", \"--vdev\", \"" << vdev << "\"]\n"
        << "address = \"" << GatewayUdpIp() << "\"\nprefix_len = 24\n"
        << "frames = 8192\nrx_ring = 1024\ntx_ring = 1024\n";
    }
    t << "neighbours = [\"" << pair_->peer_ip() << "=" << pair_->peer_mac()
      << "\"]\n";
    return t.str();
  }

  // Starts the gateway process in the gateway namespace; false (with a
  // test failure) if it did not come up.
  bool StartGateway() {
    const std::filesystem::path config = dir_ / "gateway.toml";
    std::ofstream(config) << ConfigText();
    std::vector<std::string> argv = {TACHYON_GATEWAY_BIN,
                                     "--config=" + config.string()};
    if (GetParam().path == Path::kDpdkAfXdp) {
      // DPDK 22.11's net_af_xdp does not free the UMEM it creates
      // (xsk_umem__create) or the program object it loads for xdp_prog=
      // (libbpf) when the port closes; under LeakSanitizer those would make
      // a clean exit fail. Suppressed for this path's process only: the
      // gateway's own AF_XDP path, which uses the same libraries, is still
      // checked.
      const std::filesystem::path supp = dir_ / "dpdk_af_xdp.lsan";
      std::ofstream(supp) << "leak:xsk_umem__create\nleak:libbpf.so\n";
      argv.insert(argv.begin(), {"/usr/bin/env",
                                 "LSAN_OPTIONS=suppressions=" + supp.string()});
    }
    gateway_ = Process::Start(Namespaced(pair_->gateway_ns(), argv));
    if (!gateway_.WaitForOutput(std::regex("admin on http://127\\.0\\.0\\.1:"
                                           "([0-9]+)"),
                                seconds(30))) {
      ADD_FAILURE() << "gateway did not start:\n"
                    << ConfigText() << "\nstdout:\n"
                    << gateway_.out() << "\nstderr:\n"
                    << gateway_.err();
      return false;
    }
    std::smatch m;
    const std::string out = gateway_.out();
    std::regex_search(out, m,
                      std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)"));
    tcp_port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
    std::regex_search(out, m, std::regex("udp datagrams on [0-9.]+:([0-9]+)"));
    udp_port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
    std::regex_search(out, m,
                      std::regex("admin on http://127\\.0\\.0\\.1:([0-9]+)"));
    admin_port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
    if (GetParam().path != Path::kSocket &&
        out.find("tachyon-gateway fastpath ") == std::string::npos) {
      ADD_FAILURE() << "no fastpath banner line:\n" << out;
    }
    if (GetParam().path == Path::kDpdkAfPacket) return ResolveDpdkAddress();
    return true;
  }

  // DPDK on af_packet owns an address the peer has no static neighbour
  // for: have the peer resolve it (the gateway answers ARP) before the
  // exchange. Datagrams sent while the peer's kernel resolves can overtake
  // each other (those queued for the ARP reply go out after newer ones),
  // and a late PUBLISH datagram is a duplicate by design (PROTOCOL.md 16).
  bool ResolveDpdkAddress() {
    auto in = pair_->EnterPeer();
    Udp probe(pair_->peer_ip());
    const std::string ip = GatewayUdpIp();
    for (int i = 0; i < 60; ++i) {
      // To the discard port: DPDK drops it (wrong port) after answering ARP.
      probe.SendTo(ip, 9, tp::AsBytes(std::string("arp")));
      std::ifstream arp("/proc/thread-self/net/arp");
      for (std::string line; std::getline(arp, line);) {
        std::istringstream fields(line);
        std::string address, hw_type, flags;
        fields >> address >> hw_type >> flags;
        if (address == ip && flags == "0x2") return true;
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
    ADD_FAILURE() << "the peer could not resolve " << ip
                  << " (DPDK answers ARP for it); gateway log:\n"
                  << gateway_.err();
    return false;
  }

  std::unique_ptr<TestClient> Client() {
    auto in = pair_->EnterGateway();
    EXPECT_TRUE(in.ok());
    std::unique_ptr<TestClient> c = TestClient::Connect(tcp_port_);
    if (c != nullptr) {
      EXPECT_TRUE(c->Logon().has_value());
    }
    return c;
  }

  // The tachyon_fastpath_* and tachyon_udp_* lines of /metrics (failure
  // messages).
  std::string FastPathMetrics() {
    std::istringstream in(Metrics());
    std::string out;
    for (std::string line; std::getline(in, line);) {
      if ((line.starts_with("tachyon_fastpath_") ||
           line.starts_with("tachyon_udp_")) &&
          !line.ends_with(" 0")) {
        out += line + "\n";
      }
    }
    return out;
  }

  std::string Metrics() {
    auto in = pair_->EnterGateway();
    return HttpGet(admin_port_, "/metrics");
  }

  // Waits (bounded) until `name` sums to at least `at_least`; the last sum.
  std::uint64_t WaitForMetric(const std::string& name, std::uint64_t at_least) {
    std::uint64_t v = 0;
    for (int i = 0; i < 100; ++i) {
      v = MetricSum(Metrics(), name);
      if (v >= at_least) break;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return v;
  }

  // Sends `messages` on `stream` from the peer namespace in datagrams of
  // `per_datagram`, reading them back from `sub` as it goes (which paces
  // the sender): every payload once, in order.
  void SendAndExpectExactlyOnce(TestClient& sub, StreamId stream, int messages,
                                int per_datagram, std::uint64_t source,
                                std::uint64_t first = 1) {
    std::unique_ptr<Udp> producer;
    {
      auto in = pair_->EnterPeer();
      producer = std::make_unique<Udp>(pair_->peer_ip());
    }
    int sent = 0;
    int read = 0;
    while (sent < messages) {
      std::vector<std::string> payloads;
      for (int i = 0; i < per_datagram && sent + i < messages; ++i) {
        payloads.push_back("m" + std::to_string(first + sent + i));
      }
      ASSERT_TRUE(producer->SendTo(
          GatewayUdpIp(), udp_port_,
          PublishDatagram(stream, first + sent, source, payloads)));
      sent += static_cast<int>(payloads.size());
      // At most ~200 messages in flight.
      while (read < sent - 200 || (sent == messages && read < messages)) {
        auto f = sub.ReadSkippingHeartbeats(seconds(5));
        ASSERT_TRUE(f.has_value() && f->type() == tp::MessageType::kData)
            << "DATA " << read << " of " << sent << " missing; gateway log:\n"
            << gateway_.err();
        if (PayloadText(*f) != "m" + std::to_string(first + read)) {
          ADD_FAILURE() << "expected m" << first + read << ", got "
                        << PayloadText(*f) << "; metrics:\n"
                        << FastPathMetrics() << "\ngateway log:\n"
                        << gateway_.err();
          return;
        }
        ++read;
      }
    }
    // Nothing more: each message exactly once.
    auto extra = sub.ReadSkippingHeartbeats(milliseconds(300));
    EXPECT_FALSE(extra.has_value() && extra->type() == tp::MessageType::kData)
        << "a message arrived twice";
  }

  std::string prefix_;
  std::unique_ptr<VethPair> pair_;
  std::filesystem::path dir_;
  std::unique_ptr<Udp> receiver_;
  Process gateway_;
  std::uint16_t tcp_port_ = 0;
  std::uint16_t udp_port_ = 0;
  std::uint16_t admin_port_ = 0;
  int workers_ = 1;  // [fastpath] queues stay 1: workers beyond take no UDP
  std::uint32_t max_datagram_bytes_ = 0;  // 0: the default
};

TEST_P(FastPathTest, IngressLandsExactlyOnceAndReachesATcpSubscriber) {
  ASSERT_TRUE(StartGateway());
  auto sub = Client();
  ASSERT_NE(sub, nullptr);
  ASSERT_TRUE(sub->Subscribe(1, "fp.in").has_value());
  const StreamId stream = sub->Open("fp.in", 2);
  ASSERT_NE(stream.value(), 0u);
  constexpr int kMessages = 3000;
  SendAndExpectExactlyOnce(*sub, stream, kMessages, 10, 41);
  const std::string metrics = Metrics();
  EXPECT_EQ(MetricSum(metrics, "tachyon_udp_messages_appended_total"),
            static_cast<std::uint64_t>(kMessages));
  EXPECT_EQ(MetricSum(metrics, "tachyon_udp_duplicates_total"), 0u);
  if (GetParam().path != Path::kSocket) {
    EXPECT_GE(MetricSum(metrics, "tachyon_fastpath_rx_packets_total"),
              static_cast<std::uint64_t>(kMessages / 10))
        << "the datagrams did not come through the fast path";
    // The SIGUSR1 summary has the fast path's totals.
    ASSERT_TRUE(gateway_.Signal(SIGUSR1));
    EXPECT_TRUE(gateway_.WaitForError(
        std::regex("fastpath: rx_packets=[1-9][0-9]* tx_packets="), seconds(5)))
        << gateway_.err();
  }
}

// Many more datagrams than a queue has frames (UMEM frames, mbufs): every
// frame goes round several times, so one that never comes back shows up as
// a stall. Regression: with EAL --no-huge, net_af_xdp lost each mbuf that
// crossed a 4 KiB page and stalled after ~58% of the pool.
TEST_P(FastPathTest, ManyMoreDatagramsThanFramesAllLand) {
  ASSERT_TRUE(StartGateway());
  auto sub = Client();
  ASSERT_NE(sub, nullptr);
  ASSERT_TRUE(sub->Subscribe(1, "fp.many").has_value());
  const StreamId stream = sub->Open("fp.many", 2);
  ASSERT_NE(stream.value(), 0u);
  constexpr int kMessages = 3 * 8192;  // frames is at most 8192 here
  SendAndExpectExactlyOnce(*sub, stream, kMessages, 1, 43);
  EXPECT_EQ(MetricSum(Metrics(), "tachyon_udp_messages_appended_total"),
            static_cast<std::uint64_t>(kMessages))
      << FastPathMetrics();
}

// On AF_XDP the kernel still receives for the gateway's port what the XDP
// program passes: an IP-fragmented datagram (larger than the veth MTU) and
// one over loopback inside the gateway's namespace. Both land once, read
// from the kernel socket of the queue's worker through the same ingress;
// with two workers and one queue, the other worker's socket is closed so
// nothing waits unread there.
TEST_P(FastPathTest, FragmentsAndLoopbackDatagramsLandExactlyOnce) {
  if (!IsAfXdp(GetParam().path)) GTEST_SKIP() << "AF_XDP only";
  workers_ = 2;
  max_datagram_bytes_ = 3000;
  ASSERT_TRUE(StartGateway());
  auto sub = Client();
  ASSERT_NE(sub, nullptr);
  ASSERT_TRUE(sub->Subscribe(1, "fp.kernel").has_value());
  const StreamId stream = sub->Open("fp.kernel", 2);
  ASSERT_NE(stream.value(), 0u);
  const std::string big = "f" + std::string(1999, 'x');  // > MTU 1500
  {
    auto in = pair_->EnterPeer();
    Udp producer(pair_->peer_ip());
    const int dont = IP_PMTUDISC_DONT;  // DF off: the kernel fragments
    ASSERT_EQ(::setsockopt(producer.fd(), IPPROTO_IP, IP_MTU_DISCOVER, &dont,
                           sizeof dont),
              0);
    ASSERT_TRUE(producer.SendTo(GatewayUdpIp(), udp_port_,
                                PublishDatagram(stream, 1, 61, {big})));
  }
  auto first = sub->ReadSkippingHeartbeats(seconds(5));
  ASSERT_TRUE(first.has_value() && first->type() == tp::MessageType::kData)
      << "the fragmented datagram did not land; metrics:\n"
      << FastPathMetrics() << "\ngateway log:\n"
      << gateway_.err();
  EXPECT_EQ(PayloadText(*first), big);
  {
    auto in = pair_->EnterGateway();
    for (int i = 0; i < 4; ++i) {  // four sockets' worth of flows
      Udp producer("127.0.0.1");
      ASSERT_TRUE(producer.SendTo(
          "127.0.0.1", udp_port_,
          PublishDatagram(stream, 1 + static_cast<std::uint64_t>(i), 62,
                          {"loop" + std::to_string(i)})));
    }
  }
  for (int i = 0; i < 4; ++i) {
    auto f = sub->ReadSkippingHeartbeats(seconds(5));
    ASSERT_TRUE(f.has_value() && f->type() == tp::MessageType::kData)
        << "loopback datagram " << i << " did not land; metrics:\n"
        << FastPathMetrics() << "\ngateway log:\n"
        << gateway_.err();
    EXPECT_EQ(PayloadText(*f), "loop" + std::to_string(i));
  }
  auto extra = sub->ReadSkippingHeartbeats(milliseconds(300));
  EXPECT_FALSE(extra.has_value() && extra->type() == tp::MessageType::kData)
      << "a message arrived twice";
  const std::string metrics = Metrics();
  EXPECT_EQ(MetricSum(metrics, "tachyon_udp_messages_appended_total"), 5u);
  EXPECT_EQ(MetricSum(metrics, "tachyon_udp_duplicates_total"), 0u);
}

TEST_P(FastPathTest, EgressReachesThePeerWithValidChecksums) {
  ASSERT_TRUE(StartGateway());
  std::uint64_t checksum_errors_before = 0;
  {
    auto in = pair_->EnterPeer();
    checksum_errors_before = UdpChecksumErrors();
  }
  auto pub = Client();
  ASSERT_NE(pub, nullptr);
  const StreamId stream = pub->Open("fp.out");
  ASSERT_NE(stream.value(), 0u);
  constexpr int kMessages = 500;
  std::set<std::uint64_t> sequences;
  int published = 0;
  for (int spins = 0; sequences.size() < kMessages && spins < 20000; ++spins) {
    if (published < kMessages &&
        published - static_cast<int>(sequences.size()) < 100) {
      ASSERT_TRUE(pub->Publish(stream, "e" + std::to_string(published)));
      ++published;
      continue;
    }
    std::vector<std::byte> d = receiver_->Receive(milliseconds(3000));
    ASSERT_FALSE(d.empty()) << sequences.size() << " of " << kMessages
                            << " frames arrived; gateway log:\n"
                            << gateway_.err();
    const tp::DatagramResult r =
        tp::DecodeDatagram(d, tp::kDefaultMaxFrameLength);
    ASSERT_EQ(r.error, tp::ErrorCode::kNone);
    if (r.view.kind() == tp::DatagramKind::kHeartbeat) continue;
    for (tp::FrameView f : r.view) {
      const tp::DataView data(f);
      EXPECT_TRUE(sequences.insert(data.sequence().value()).second)
          << "sequence " << data.sequence().value() << " twice";
    }
  }
  EXPECT_EQ(sequences.size(), static_cast<std::size_t>(kMessages));
  auto in = pair_->EnterPeer();
  EXPECT_EQ(UdpChecksumErrors(), checksum_errors_before);
}

TEST_P(FastPathTest, MoreWorkersThanQueuesServeEveryStream) {
  // Two workers, one queue: worker 1 has no datagram path, so UDP egress of
  // every stream is owned by worker 0, and ingress lands there too.
  workers_ = 2;
  ASSERT_TRUE(StartGateway());
  auto sub = Client();
  ASSERT_NE(sub, nullptr);
  ASSERT_TRUE(sub->Subscribe(1, "fp.w.a").has_value());
  ASSERT_TRUE(sub->Subscribe(2, "fp.w.b").has_value());
  const StreamId a = sub->Open("fp.w.a", 3);
  const StreamId b = sub->Open("fp.w.b", 4);
  ASSERT_NE(a.value(), 0u);
  ASSERT_NE(b.value(), 0u);
  SendAndExpectExactlyOnce(*sub, a, 100, 10, 51);
  SendAndExpectExactlyOnce(*sub, b, 100, 10, 52);
  // Egress of the group stream from another session, on another worker
  // with two workers' SO_REUSEPORT listeners.
  auto pub = Client();
  ASSERT_NE(pub, nullptr);
  const StreamId out = pub->Open("fp.out");
  ASSERT_NE(out.value(), 0u);
  constexpr int kMessages = 100;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(pub->Publish(out, "w" + std::to_string(i)));
  }
  int frames = 0;
  for (int spins = 0; frames < kMessages && spins < 1000; ++spins) {
    std::vector<std::byte> d = receiver_->Receive(milliseconds(3000));
    ASSERT_FALSE(d.empty()) << frames << " of " << kMessages << " arrived";
    const tp::DatagramResult r =
        tp::DecodeDatagram(d, tp::kDefaultMaxFrameLength);
    ASSERT_EQ(r.error, tp::ErrorCode::kNone);
    if (r.view.kind() == tp::DatagramKind::kHeartbeat) continue;
    for (tp::FrameView f : r.view) {
      static_cast<void>(f);
      ++frames;
    }
  }
  EXPECT_EQ(frames, kMessages);
  if (GetParam().path != Path::kSocket) {
    EXPECT_EQ(
        Metrics().find("tachyon_udp_datagrams_received_total{worker=\"1\"}"),
        std::string::npos)
        << "worker 1 has no queue, so no UDP";
  }
}

TEST_P(FastPathTest, PingAndOtherUdpPortsStillReachTheKernel) {
  ASSERT_TRUE(StartGateway());
  std::unique_ptr<Udp> other;
  {
    auto in = pair_->EnterGateway();
    other = std::make_unique<Udp>(pair_->gateway_ip());
  }
  auto in = pair_->EnterPeer();
  EXPECT_TRUE(Ping(pair_->gateway_ip())) << "no ICMP echo reply";
  Udp sender(pair_->peer_ip());
  const std::string text = "for the kernel";
  ASSERT_TRUE(
      sender.SendTo(pair_->gateway_ip(), other->port(), tp::AsBytes(text)));
  const std::vector<std::byte> got = other->Receive(milliseconds(3000));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(got.data()), got.size()),
            text);
}

TEST_P(FastPathTest, MalformedDatagramsAreCountedNeverAppended) {
  ASSERT_TRUE(StartGateway());
  auto sub = Client();
  ASSERT_NE(sub, nullptr);
  ASSERT_TRUE(sub->Subscribe(1, "fp.bad").has_value());
  const StreamId stream = sub->Open("fp.bad", 2);
  ASSERT_NE(stream.value(), 0u);
  {
    auto in = pair_->EnterPeer();
    Udp producer(pair_->peer_ip());
    const std::string garbage = "not a tachyon datagram";
    ASSERT_TRUE(
        producer.SendTo(GatewayUdpIp(), udp_port_, tp::AsBytes(garbage)));
    std::vector<std::byte> cut = PublishDatagram(stream, 1, 9, {"x", "y"});
    cut.resize(cut.size() - 3);  // a frame runs past the end
    ASSERT_TRUE(producer.SendTo(GatewayUdpIp(), udp_port_, cut));
  }
  EXPECT_GE(WaitForMetric("tachyon_udp_malformed_datagrams_total", 2), 2u);
  // Then a good one: the only message the subscriber ever sees.
  SendAndExpectExactlyOnce(*sub, stream, 1, 1, 9);
  EXPECT_EQ(MetricSum(Metrics(), "tachyon_udp_messages_appended_total"), 1u);
}

TEST_P(FastPathTest, RestartsAfterAKilledGateway) {
  ASSERT_TRUE(StartGateway());
  ASSERT_TRUE(gateway_.Signal(SIGKILL));
  gateway_.Wait(seconds(10));
  ASSERT_TRUE(StartGateway());
  // Both leave an XDP program of ours behind (DPDK's net_af_xdp loads it).
  if (IsAfXdp(GetParam().path) || GetParam().path == Path::kDpdkAfXdp) {
    EXPECT_TRUE(gateway_.WaitForError(std::regex("stale"), seconds(5)))
        << "the log does not say the stale XDP program was replaced:\n"
        << gateway_.err();
  }
  auto sub = Client();
  ASSERT_NE(sub, nullptr);
  ASSERT_TRUE(sub->Subscribe(1, "fp.again").has_value());
  const StreamId stream = sub->Open("fp.again", 2);
  ASSERT_NE(stream.value(), 0u);
  SendAndExpectExactlyOnce(*sub, stream, 200, 10, 77);
}

// Every PUBLISH datagram sent twice (a producer's retransmission): the
// per-producer dedupe (PROTOCOL.md 16) holds on every path, so each
// message lands once, and each second copy is counted a duplicate.
TEST_P(FastPathTest, EachDatagramSentTwiceLandsOnce) {
  ASSERT_TRUE(StartGateway());
  auto sub = Client();
  ASSERT_NE(sub, nullptr);
  ASSERT_TRUE(sub->Subscribe(1, "fp.twice").has_value());
  const StreamId stream = sub->Open("fp.twice", 2);
  ASSERT_NE(stream.value(), 0u);
  constexpr int kMessages = 300;
  std::unique_ptr<Udp> producer;
  {
    auto in = pair_->EnterPeer();
    producer = std::make_unique<Udp>(pair_->peer_ip());
  }
  int read = 0;
  for (int i = 0; i < kMessages; ++i) {
    const auto seq = static_cast<std::uint64_t>(i + 1);
    const std::vector<std::byte> d =
        PublishDatagram(stream, seq, 88, {"d" + std::to_string(seq)});
    ASSERT_TRUE(producer->SendTo(GatewayUdpIp(), udp_port_, d));
    ASSERT_TRUE(producer->SendTo(GatewayUdpIp(), udp_port_, d));
    // At most ~100 messages in flight (paced by the subscriber).
    while (read < i - 100 || (i == kMessages - 1 && read < kMessages)) {
      auto f = sub->ReadSkippingHeartbeats(seconds(5));
      ASSERT_TRUE(f.has_value() && f->type() == tp::MessageType::kData)
          << "DATA " << read << " missing; metrics:\n"
          << FastPathMetrics() << "\ngateway log:\n"
          << gateway_.err();
      ASSERT_EQ(PayloadText(*f), "d" + std::to_string(read + 1))
          << "metrics:\n"
          << FastPathMetrics();
      ++read;
    }
  }
  auto extra = sub->ReadSkippingHeartbeats(milliseconds(300));
  EXPECT_FALSE(extra.has_value() && extra->type() == tp::MessageType::kData)
      << "a message arrived twice: " << PayloadText(*extra);
  // The last second copy may still be on its way: wait for it (bounded).
  EXPECT_EQ(WaitForMetric("tachyon_udp_duplicates_total", kMessages),
            static_cast<std::uint64_t>(kMessages))
      << FastPathMetrics();
  EXPECT_EQ(MetricSum(Metrics(), "tachyon_udp_messages_appended_total"),
            static_cast<std::uint64_t>(kMessages))
      << FastPathMetrics();
}

// SIGTERM detaches the XDP program the gateway attached (AF_XDP) or had
// DPDK's net_af_xdp load: once the process has exited, the interface has
// none, so the kernel gets all its traffic back.
TEST_P(FastPathTest, SigtermLeavesNoXdpProgramOnTheInterface) {
  const Path path = GetParam().path;
  if (!IsAfXdp(path) && path != Path::kDpdkAfXdp) {
    GTEST_SKIP() << "no XDP program on this path";
  }
  auto link = [&] {
    Process show = Process::Start(Namespaced(
        pair_->gateway_ns(),
        {"/usr/sbin/ip", "link", "show", "dev", pair_->gateway_if()}));
    EXPECT_EQ(show.Wait(seconds(10)), 0) << show.err();
    return show.out();
  };
  ASSERT_EQ(link().find("xdp"), std::string::npos)
      << "an XDP program before the gateway started: " << link();
  ASSERT_TRUE(StartGateway());
  // The check can fail: while the gateway runs, `ip link` shows the program.
  ASSERT_NE(link().find("xdp"), std::string::npos)
      << "no XDP program while the gateway runs: " << link();
  ASSERT_TRUE(gateway_.Signal(SIGTERM));
  EXPECT_EQ(gateway_.Wait(seconds(20)), 0) << gateway_.err();
  EXPECT_EQ(link().find("xdp"), std::string::npos)
      << "an XDP program is left after SIGTERM: " << link()
      << "\ngateway log:\n"
      << gateway_.err();
}

INSTANTIATE_TEST_SUITE_P(
    EveryPath, FastPathTest,
    ::testing::Values(PathParam{"socket", Path::kSocket},
                      PathParam{"af_xdp_generic", Path::kAfXdpGeneric},
                      PathParam{"af_xdp_native", Path::kAfXdpNative},
                      PathParam{"dpdk_af_packet", Path::kDpdkAfPacket},
                      PathParam{"dpdk_af_xdp", Path::kDpdkAfXdp}),
    [](const ::testing::TestParamInfo<PathParam>& param_info) {
      return std::string(param_info.param.name);
    });

}  // namespace
}  // namespace tachyon::testing
