// tachyon-bench: the end-to-end latency suite. Starts the gateway from the
// build as a separate process on a generated config, runs each workload
// through the client library after a discarded warm-up, and prints every
// figure beside the floor (plain TCP/UDP ping-pong) measured in the same run.
//
//   tachyon-bench --suite quick                 # <= 60 s, a smoke test
//   tachyon-bench --suite full --json r.json --plot bench/results/plot
//   tachyon-bench --workload W1 --payload 32,1024 --io epoll,uring --idle spin
//   tachyon-bench --suite idle                  # CPU cost per idle strategy
//
// Every run records CPU time beside latency: the gateway process's (from
// /proc) and the client processes' (this one and its children). The idle
// suite runs, for each idle strategy (spin, backoff, block), W1 and W2 with
// one publisher of 64-byte messages to --subscribers (1) at each rate of
// --idle_rates (0, 1,000, 10,000, 50,000 msg/s; 0: connected, subscribed,
// nothing sent), and reports the gateway's CPU seconds per million
// messages and per idle second beside the latency and the TCP floor of the
// same run. The clients sleep between sends and block in Poll whatever the
// gateway's strategy (--idle_clients=match: they spin with a spin gateway).
//
// Exit status: 0 when every measured workload delivered exactly what was
// sent; 1 when a workload failed or lost, duplicated or reordered anything
// (W5-max excepted: a producer faster than the gateway must lose, and the
// loss is reported, not failed).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <regex>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "backend_workloads.h"
#include "fastpath_suite.h"
#include "harness.h"
#include "report.h"
#include "workloads.h"

ABSL_FLAG(std::string, suite, "quick",
          "quick (<= 60 s, payload 32, one backend, blocking idle), full "
          "(payloads 32/256/1024, epoll and io_uring, spin and block), idle "
          "(CPU per idle strategy: W1, and W2 at each --idle_rates, payload "
          "64, spin/backoff/block) or custom (exactly the flags below)");
ABSL_FLAG(std::string, idle_rates, "0,1000,10000,50000",
          "idle suite: comma list of W2 offered rates, messages/s (0: "
          "clients connected, nothing sent)");
ABSL_FLAG(std::string, idle_clients, "block",
          "idle suite: how the client processes wait, whatever the "
          "gateway's strategy: block (sleep between sends, block in Poll) "
          "or match (spin with the spin strategy, as the other suites do)");
ABSL_FLAG(std::string, spin_budget_us, "",
          "comma list of gateway.spin_budget_us values; each runs its own "
          "backoff gateway (default: the gateway's default)");
ABSL_FLAG(std::string, workload, "floor,W1,W2,W3,W4,W5,W6,W7",
          "comma list of floor, W1 (ping-pong), W2 (fan-out), W3 "
          "(throughput), W4 (request/response), W5 (UDP ingress at "
          "--udp_rate and at max rate), W6 (UDP egress fan-out), W7 "
          "(request load step from 1 to 64 requesters, four pool modes)");
ABSL_FLAG(std::string, payload, "", "comma list of payload sizes in bytes");
ABSL_FLAG(double, rate, 0,
          "W2 and W6 offered rate, messages/s (default 50000; quick 20000)");
ABSL_FLAG(int, subscribers, 0,
          "W2 subscriber processes and W6 UDP receivers (default 4)");
ABSL_FLAG(double, duration, 0, "W2/W3 measured seconds");
ABSL_FLAG(double, udp_rate, 0,
          "W5 offered rate, messages/s (default 350000; quick 20000)");
ABSL_FLAG(std::int64_t, udp_payload, 0,
          "W5 payload bytes (default 16: a 64-byte PUBLISH datagram)");
ABSL_FLAG(double, udp_duration, 0,
          "W5/W6 seconds (default --duration; quick 0.5)");
ABSL_FLAG(int, udp_producers, 1,
          "W5 producer processes, each with its share of the rate (one "
          "loopback sender tops out near 1 M datagrams/s on a fast core)");
ABSL_FLAG(std::int64_t, udp_max_messages, 0,
          "W5-max sends at most this many (default 20 M; quick 20000)");
ABSL_FLAG(std::int64_t, count, 0, "measured round trips for W1 and floors");
ABSL_FLAG(bool, tls, false,
          "also run W1 and W3 over TLS 1.3 (W1-tls, W3-tls: the gateway's "
          "[tls] listener, user-space TLS, certificates made with the openssl "
          "command), and report kernel TLS (W1-ktls, W3-ktls) as unavailable "
          "when the kernel has no tls ULP");
ABSL_FLAG(std::int64_t, warmup, -1, "discarded messages before measuring");
ABSL_FLAG(std::string, io, "",
          "comma list of gateway io backends: epoll, uring, auto");
ABSL_FLAG(std::string, idle, "",
          "comma list of idle strategies: spin, backoff, block");
ABSL_FLAG(std::string, cpus, "",
          "comma list of CPUs to pin gateway workers to");
ABSL_FLAG(std::string, json, "", "also write the results as JSON to this file");
ABSL_FLAG(std::string, plot, "",
          "write a percentile plot to PREFIX.svg and PREFIX.png (gnuplot)");
ABSL_FLAG(std::string, fastpath, "",
          "comma list of datagram paths (socket,af_xdp,dpdk): run W5 and W6 "
          "over a veth pair between two network namespaces once per path, "
          "with ratios to the socket path; needs root");
ABSL_FLAG(std::string, fastpath_interface, "",
          "with --fastpath: run over this port instead of a veth pair (the "
          "gateway's end; needs --fastpath_peer_interface, the port cabled "
          "to it). Both are moved into the suite's namespaces, which drops "
          "their addresses, and moved back at the end");
ABSL_FLAG(std::string, fastpath_peer_interface, "",
          "with --fastpath_interface: the port the producers and receivers "
          "use, cabled to the gateway's");
ABSL_FLAG(std::string, gateway, "",
          "tachyon-gateway binary (default: the one built beside this tool)");

namespace tachyon::bench {
namespace {

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipEmpty())) {
    out.emplace_back(part);
  }
  return out;
}

std::string DefaultGateway() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "tachyon-gateway";
  std::string self(buf, static_cast<std::size_t>(n));
  const std::string dir = self.substr(0, self.rfind('/'));
  return dir + "/../../src/tachyon-gateway";
}

std::string UtcNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm;
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool Has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Runs `fn` and records what it cost in CPU: the gateway's over the run
// (unless the workload measured its own window) and the clients' (this
// process and every child reaped meanwhile: a workload's children are all
// reaped by the time it returns).
template <typename Fn>
Result WithCpu(const GatewayUnderTest* gw, Fn fn) {
  const double clients_start = SelfCpuSeconds() + Child::ReapedCpuSeconds();
  const double gateway_start = gw != nullptr ? gw->CpuSeconds() : -1;
  const std::int64_t start = MonotonicNs();
  Result r = fn();
  const double gateway_end = gw != nullptr ? gw->CpuSeconds() : -1;
  if (r.gateway_cpu_s < 0 && gateway_start >= 0 && gateway_end >= 0) {
    r.gateway_cpu_s = gateway_end - gateway_start;
    r.cpu_window_s = static_cast<double>(MonotonicNs() - start) * 1e-9;
  }
  r.clients_cpu_s = SelfCpuSeconds() + Child::ReapedCpuSeconds() -
                    clients_start + r.helpers_cpu_s;
  return r;
}

// How the idle suite's client processes wait with a gateway of strategy
// `idle`: spinning only when asked to match a spin gateway.
bool ClientsSpin(const std::string& idle, bool match_clients) {
  return match_clients && idle == "spin";
}

// "tachyon uring/backoff", with the spin budget when one was asked for.
std::string SystemName(const std::string& io, const std::string& idle,
                       int spin_budget_us) {
  std::string name = "tachyon " + io + "/" + idle;
  if (idle == "backoff" && spin_budget_us >= 0) {
    name += " " + std::to_string(spin_budget_us) + "us";
  }
  return name;
}

// The idle suite: per strategy (and per spin budget for backoff), W1 and W2
// at each rate through one gateway, beside the TCP floor of the clients'
// mode measured in the same run. The clients block (so the gateways are
// compared with the same clients, and no spinning client takes a CPU from a
// spinning gateway on a small box) unless `match_clients`.
void RunIdleSuite(const WorkloadOptions& base, const std::string& gateway_bin,
                  const std::vector<std::string>& idles, bool match_clients,
                  const std::vector<std::string>& ios,
                  const std::vector<double>& rates,
                  const std::vector<int>& budgets, const std::vector<int>& cpus,
                  const std::function<void(const Result&)>& note) {
  for (const bool spin : {true, false}) {
    bool used = false;
    for (const std::string& idle : idles) {
      used |= ClientsSpin(idle, match_clients) == spin;
    }
    if (!used) continue;
    const std::string mode = spin ? "spin" : "block";
    WorkloadOptions o = base;
    o.spin = spin;
    Result t = WithCpu(nullptr, [&] { return RunTcpFloor(o); });
    t.system = "floor " + mode;
    t.idle = mode;
    t.clients = mode;
    note(t);
    // What a wake-up on another CPU costs here: a gateway that keeps its
    // CPU busy (spin, backoff) makes the clients' wake-ups of that kind.
    if (::sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
      o.floor_cpus = {0, 1};
      Result apart = WithCpu(nullptr, [&] { return RunTcpFloor(o); });
      apart.system = t.system;
      apart.idle = mode;
      apart.clients = mode;
      note(apart);
    }
  }
  for (const std::string& idle : idles) {
    std::vector<int> runs = {-1};
    if (idle == "backoff" && !budgets.empty()) runs = budgets;
    for (const std::string& io : ios) {
      for (const int budget : runs) {
        GatewaySettings gs{.io = io,
                           .idle = idle,
                           .spin_budget_us = budget,
                           .workers = 1,
                           .cpus = cpus};
        std::string error;
        auto gw = GatewayUnderTest::Start(gateway_bin, gs, &error);
        const std::string system = SystemName(io, idle, budget);
        WorkloadOptions o = base;
        o.spin = ClientsSpin(idle, match_clients);
        const std::string clients = o.spin ? "spin" : "block";
        if (!gw) {
          note(Result{.workload = "gateway",
                      .system = system,
                      .payload = o.payload,
                      .ok = false,
                      .note = error});
          continue;
        }
        o.port = gw->port();
        o.gateway_pid = gw->pid();
        Result w1 = WithCpu(gw.get(), [&] { return RunPingPong(o); });
        w1.system = system;
        w1.idle = idle;
        w1.clients = clients;
        note(w1);
        for (const double rate : rates) {
          WorkloadOptions w = o;
          w.rate = rate;
          // Two tenths of a second of warm-up at any rate.
          w.warmup = absl::GetFlag(FLAGS_warmup) >= 0
                         ? absl::GetFlag(FLAGS_warmup)
                         : std::max<std::int64_t>(
                               100, static_cast<std::int64_t>(rate * 0.2));
          Result r = WithCpu(gw.get(), [&] { return RunFanOut(w); });
          r.system = system;
          r.idle = idle;
          r.clients = clients;
          note(r);
        }
        if (!gw->Stop()) {
          std::fprintf(stderr,
                       "tachyon-bench: gateway %s did not stop cleanly\n",
                       system.c_str());
        }
      }
    }
  }
}

// UDP sockets bound to 127.0.0.1 on ephemeral ports, closed with this
// object; W6's receiver processes inherit them.
class UdpReceivers {
 public:
  explicit UdpReceivers(int count) {
    for (int i = 0; i < count; ++i) {
      const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return;
      fds_.push_back(fd);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t len = sizeof a;
      if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 ||
          ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        return;
      }
      ports_.push_back(ntohs(a.sin_port));
    }
  }
  ~UdpReceivers() {
    for (const int fd : fds_) ::close(fd);
  }
  UdpReceivers(const UdpReceivers&) = delete;
  UdpReceivers& operator=(const UdpReceivers&) = delete;
  [[nodiscard]] bool ok() const { return ports_.size() == fds_.size(); }
  [[nodiscard]] const std::vector<int>& fds() const { return fds_; }
  [[nodiscard]] const std::vector<std::uint16_t>& ports() const {
    return ports_;
  }

 private:
  std::vector<int> fds_;
  std::vector<std::uint16_t> ports_;
};

// A CA and a server certificate for 127.0.0.1 in a fresh directory, made
// with the openssl command; empty on failure (`error` says why).
std::string MakeBenchPki(std::string* error) {
  char tmpl[] = "/tmp/tachyon-bench-tls-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    *error = "mkdtemp failed";
    return {};
  }
  const std::string dir = tmpl;
  const std::string cmd =
      "cd '" + dir +
      "' && printf 'subjectAltName=IP:127.0.0.1\\n' > server.ext && "
      "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
      "-out ca.key && openssl req -x509 -new -key ca.key -days 1 -subj "
      "'/CN=bench CA' -out ca.pem && openssl genpkey -algorithm EC -pkeyopt "
      "ec_paramgen_curve:P-256 -out server.key && openssl req -new -key "
      "server.key -subj '/CN=127.0.0.1' -out server.csr && openssl x509 "
      "-req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
      "-extfile server.ext -out server.pem";
  if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0) {
    *error = "openssl could not make the benchmark's certificates";
    return {};
  }
  return dir;
}

// Whether the kernel has the "tls" TCP upper-layer protocol (kTLS).
bool KernelTls(std::string* why) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int rc = ::setsockopt(fd, IPPROTO_TCP, 31 /* TCP_ULP */, "tls", 3);
  const int e = errno;
  ::close(fd);
  if (rc == 0 || e == ENOTCONN) return true;
  *why = e == ENOENT ? "kernel has no tls ULP" : std::strerror(e);
  return false;
}

int Main() {
  const std::string suite = absl::GetFlag(FLAGS_suite);
  if (suite != "quick" && suite != "full" && suite != "custom" &&
      suite != "idle") {
    std::fprintf(
        stderr, "tachyon-bench: --suite must be quick, full, idle or custom\n");
    return 2;
  }
  const bool full = suite == "full";
  const bool idle_suite = suite == "idle";
  PreciseSleeps();
  // Suite defaults; any flag given explicitly wins.
  std::vector<std::string> payloads = SplitList(absl::GetFlag(FLAGS_payload));
  if (payloads.empty())
    payloads = full         ? std::vector<std::string>{"32", "256", "1024"}
               : idle_suite ? std::vector<std::string>{"64"}
                            : std::vector<std::string>{"32"};
  std::vector<std::string> ios = SplitList(absl::GetFlag(FLAGS_io));
  if (ios.empty())
    ios = full ? std::vector<std::string>{"epoll", "uring"}
               : std::vector<std::string>{"auto"};
  std::vector<std::string> idles = SplitList(absl::GetFlag(FLAGS_idle));
  if (idles.empty())
    idles = full         ? std::vector<std::string>{"spin", "block"}
            : idle_suite ? std::vector<std::string>{"spin", "backoff", "block"}
                         : std::vector<std::string>{"block"};
  const std::vector<std::string> workloads =
      idle_suite ? std::vector<std::string>{"floor", "W1", "W2"}
                 : SplitList(absl::GetFlag(FLAGS_workload));
  std::vector<double> idle_rates;
  for (const std::string& r : SplitList(absl::GetFlag(FLAGS_idle_rates))) {
    idle_rates.push_back(std::stod(r));
  }
  std::vector<int> budgets;
  for (const std::string& b : SplitList(absl::GetFlag(FLAGS_spin_budget_us))) {
    budgets.push_back(std::stoi(b));
  }
  WorkloadOptions base;
  base.rate = absl::GetFlag(FLAGS_rate) > 0 ? absl::GetFlag(FLAGS_rate)
                                            : (full ? 50000 : 20000);
  base.subscribers = absl::GetFlag(FLAGS_subscribers) > 0
                         ? absl::GetFlag(FLAGS_subscribers)
                         : (idle_suite ? 1 : 4);
  base.duration_s = absl::GetFlag(FLAGS_duration) > 0
                        ? absl::GetFlag(FLAGS_duration)
                        : (full || idle_suite ? 5.0 : 2.0);
  base.count = absl::GetFlag(FLAGS_count) > 0
                   ? absl::GetFlag(FLAGS_count)
                   : (full || idle_suite ? 20000 : 5000);
  base.warmup = absl::GetFlag(FLAGS_warmup) >= 0 ? absl::GetFlag(FLAGS_warmup)
                                                 : (full ? 2000 : 1000);
  base.udp_rate = absl::GetFlag(FLAGS_udp_rate) > 0
                      ? absl::GetFlag(FLAGS_udp_rate)
                      : (suite == "quick" ? 20000 : 350000);
  base.udp_payload =
      absl::GetFlag(FLAGS_udp_payload) > 0
          ? static_cast<std::size_t>(absl::GetFlag(FLAGS_udp_payload))
          : 16;
  base.udp_max_messages = absl::GetFlag(FLAGS_udp_max_messages) > 0
                              ? absl::GetFlag(FLAGS_udp_max_messages)
                              : (suite == "quick" ? 20000 : 20'000'000);
  base.udp_producers = std::max(1, absl::GetFlag(FLAGS_udp_producers));
  const double udp_duration = absl::GetFlag(FLAGS_udp_duration) > 0
                                  ? absl::GetFlag(FLAGS_udp_duration)
                                  : (suite == "quick" ? 0.5 : base.duration_s);
  std::vector<int> cpus;
  for (const std::string& c : SplitList(absl::GetFlag(FLAGS_cpus))) {
    cpus.push_back(std::stoi(c));
  }
  const std::string gateway_bin = absl::GetFlag(FLAGS_gateway).empty()
                                      ? DefaultGateway()
                                      : absl::GetFlag(FLAGS_gateway);

  const bool tls = absl::GetFlag(FLAGS_tls);
  std::string tls_dir;
  std::string ktls_why;
  const bool ktls = tls && KernelTls(&ktls_why);
  if (tls) {
    std::string error;
    tls_dir = MakeBenchPki(&error);
    if (tls_dir.empty()) {
      std::fprintf(stderr, "tachyon-bench: --tls: %s\n", error.c_str());
      return 2;
    }
  }

  RunInfo info;
  info.machine = DescribeMachine();
  info.date = UtcNow();
  info.suite = suite;
  info.settings =
      "workloads=" + absl::StrJoin(workloads, ",") +
      " payloads=" + absl::StrJoin(payloads, ",") +
      " io=" + absl::StrJoin(ios, ",") + " idle=" + absl::StrJoin(idles, ",") +
      " rate=" + std::to_string(static_cast<long>(base.rate)) +
      " subscribers=" + std::to_string(base.subscribers) +
      " duration=" + std::to_string(base.duration_s) + "s" +
      " count=" + std::to_string(base.count) +
      " warmup=" + std::to_string(base.warmup) +
      " udp_rate=" + std::to_string(static_cast<long>(base.udp_rate)) +
      " udp_payload=" + std::to_string(base.udp_payload) +
      " udp_duration=" + std::to_string(udp_duration) + "s" +
      " udp_producers=" + std::to_string(base.udp_producers) +
      " udp_max_messages=" + std::to_string(base.udp_max_messages) +
      (idle_suite ? " idle_rates=" + absl::GetFlag(FLAGS_idle_rates) : "") +
      (budgets.empty() ? ""
                       : " spin_budget_us=" + absl::StrJoin(budgets, ",")) +
      (cpus.empty() ? "" : " cpus=" + absl::StrJoin(cpus, ","));
  std::fprintf(stderr, "tachyon-bench: %s\n", info.settings.c_str());

  std::vector<Result> results;
  auto note = [&](const Result& r) {
    std::fprintf(
        stderr, "  %-9s %-22s %5zu B  %s\n", r.workload.c_str(),
        r.system.c_str(), r.payload,
        !r.available ? "not available"
        : !r.ok      ? ("FAILED: " + r.note).c_str()
                     : ("p50 " +
                   std::to_string(r.latency.ValueAtPercentile(50) / 1000.0) +
                   " us, count " + std::to_string(r.latency.count()) +
                   (r.offered_per_second > 0
                             ? ", received " + std::to_string(r.received) + " of " +
                              std::to_string(r.sent) + ", " +
                              std::to_string(
                                       static_cast<long>(r.messages_per_second)) +
                              " msgs/s"
                             : std::string()))
                      .c_str());
    results.push_back(r);
  };
  if (const std::vector<std::string> paths =
          SplitList(absl::GetFlag(FLAGS_fastpath));
      !paths.empty()) {
    std::string error;
    const std::string table = RunFastPathSuite(
        paths, base, udp_duration, gateway_bin,
        {.gateway_interface = absl::GetFlag(FLAGS_fastpath_interface),
         .peer_interface = absl::GetFlag(FLAGS_fastpath_peer_interface)},
        note, &error);
    if (!error.empty()) {
      std::fprintf(stderr, "tachyon-bench: %s\n", error.c_str());
      return 2;
    }
    std::printf("%s%s", MarkdownReport(info, results).c_str(), table.c_str());
    int rc = 0;
    for (const Result& r : results) {
      if (!r.ok || (r.lost != 0 && !r.best_effort) || r.duplicated != 0) rc = 1;
    }
    return rc;
  }
  if (idle_suite) {
    WorkloadOptions o = base;
    o.payload = static_cast<std::size_t>(std::stoul(payloads.front()));
    const std::string clients = absl::GetFlag(FLAGS_idle_clients);
    if (clients != "block" && clients != "match") {
      std::fprintf(stderr,
                   "tachyon-bench: --idle_clients must be block or match\n");
      return 2;
    }
    RunIdleSuite(o, gateway_bin, idles, clients == "match", ios, idle_rates,
                 budgets, cpus, note);
  }
  for (const std::string& idle :
       idle_suite ? std::vector<std::string>{} : idles) {
    for (const std::string& p : payloads) {
      WorkloadOptions o = base;
      o.payload = static_cast<std::size_t>(std::stoul(p));
      o.spin = idle == "spin";
      if (Has(workloads, "floor")) {
        Result t = WithCpu(nullptr, [&] { return RunTcpFloor(o); });
        t.system = "floor " + idle;
        t.idle = idle;
        note(t);
        Result u = WithCpu(nullptr, [&] { return RunUdpFloor(o); });
        u.system = "floor " + idle;
        u.idle = idle;
        note(u);
        if (Has(workloads, "W1") || Has(workloads, "W4")) {
          Result relay = WithCpu(nullptr, [&] { return RunTcpRelayFloor(o); });
          relay.system = "floor " + idle;
          relay.idle = idle;
          note(relay);
        }
        if (Has(workloads, "W2")) {
          Result fan = WithCpu(nullptr, [&] { return RunFanOutFloor(o); });
          fan.system = "floor " + idle;
          fan.idle = idle;
          note(fan);
        }
      }
    }
    if (Has(workloads, "floor") && Has(workloads, "W5")) {
      WorkloadOptions o = base;
      o.spin = idle == "spin";
      o.duration_s = udp_duration;
      for (const bool max_rate : {false, true}) {
        Result f =
            WithCpu(nullptr, [&] { return RunUdpIngressFloor(o, max_rate); });
        f.system = "floor " + idle;
        f.idle = idle;
        note(f);
      }
    }
    for (const std::string& io : ios) {
      GatewaySettings gs{.io = io,
                         .idle = idle,
                         .spin_budget_us = budgets.empty() ? -1 : budgets[0],
                         .workers = 1,
                         .cpus = cpus};
      gs.udp = Has(workloads, "W5") || Has(workloads, "W6");
      // W6's receivers are bound before the gateway starts: their ports are
      // the destinations of its [[udp.groups]] entry.
      UdpReceivers receivers(Has(workloads, "W6") ? base.subscribers : 0);
      gs.udp_group_stream = kUdpFanOutStream;
      gs.udp_destinations = receivers.ports();
      gs.tls_dir = tls_dir;
      std::string error;
      // W4's backend listens before the gateway starts: its port is the
      // endpoint of the gateway's [[backends]] entry.
      std::unique_ptr<BenchBackend> backend;
      if (Has(workloads, "W4")) {
        backend = BenchBackend::Start(&error);
        if (backend) gs.backend_port = backend->port();
      }
      auto gw = receivers.ok() && (backend || !Has(workloads, "W4"))
                    ? GatewayUnderTest::Start(gateway_bin, gs, &error)
                    : nullptr;
      if (!receivers.ok()) error = "cannot bind the W6 UDP receivers";
      const std::string system = SystemName(io, idle, gs.spin_budget_us);
      for (const std::string& p : payloads) {
        WorkloadOptions o = base;
        o.payload = static_cast<std::size_t>(std::stoul(p));
        o.spin = idle == "spin";
        if (!gw) {
          Result r{.workload = "gateway",
                   .system = system,
                   .payload = o.payload,
                   .ok = false,
                   .note = error};
          note(r);
          continue;
        }
        o.port = gw->port();
        o.gateway_pid = gw->pid();
        o.udp_receivers = receivers.fds();
        o.backend_pid = backend ? backend->pid() : 0;
        auto run = [&](const char* name, Result (*fn)(const WorkloadOptions&)) {
          if (!Has(workloads, name)) return;
          Result r = WithCpu(gw.get(), [&] { return fn(o); });
          r.system = system;
          r.idle = idle;
          note(r);
        };
        // --tls: the same workload over the TLS listener, right after the
        // plain one, and kernel TLS where the kernel has it.
        auto run_tls = [&](const char* name,
                           Result (*fn)(const WorkloadOptions&)) {
          if (!tls || !Has(workloads, name)) return;
          WorkloadOptions t = o;
          t.port = gw->tls_port();
          t.tls_ca = tls_dir + "/ca.pem";
          Result r = WithCpu(gw.get(), [&] { return fn(t); });
          r.workload = std::string(name) + "-tls";
          r.system = system;
          r.idle = idle;
          note(r);
          Result k{.workload = std::string(name) + "-ktls",
                   .system = system,
                   .payload = o.payload,
                   .available = false,
                   .note = ktls ? "kernel TLS not wired yet (user-space TLS "
                                  "only)"
                                : "unavailable: " + ktls_why};
          k.idle = idle;
          note(k);
        };
        run("W1", RunPingPong);
        run_tls("W1", RunPingPong);
        run("W2", RunFanOut);
        run("W3", RunThroughput);
        run_tls("W3", RunThroughput);
        run("W4", RunRequestResponse);
        if (Has(workloads, "W6")) {
          WorkloadOptions u = o;
          u.duration_s = udp_duration;
          Result r = WithCpu(gw.get(), [&] { return RunUdpFanOut(u); });
          r.system = system;
          r.idle = idle;
          note(r);
        }
      }
      // W5 sends its own payload size (--udp_payload), once per gateway.
      if (gw && Has(workloads, "W5")) {
        WorkloadOptions o = base;
        o.spin = idle == "spin";
        o.port = gw->port();
        o.udp_port = gw->udp_port();
        o.duration_s = udp_duration;
        for (const bool max_rate : {false, true}) {
          Result r =
              WithCpu(gw.get(), [&] { return RunUdpIngress(o, max_rate); });
          r.system = system;
          r.idle = idle;
          note(r);
        }
      }
      if (gw && !gw->Stop()) {
        std::fprintf(stderr, "tachyon-bench: gateway %s did not stop cleanly\n",
                     system.c_str());
      }
      if (gw && !gw->udp_counters().empty()) {
        info.udp_counters.emplace_back(system, gw->udp_counters());
      }
    }
  }

  // W7: one gateway (and echo backend) per pool mode, on the first idle
  // strategy; the step is placed on the wall clock so that a warm_at
  // window can open before it.
  for (const std::string& io :
       Has(workloads, "W7") && !idle_suite ? ios : std::vector<std::string>{}) {
    const std::string& idle = idles.front();
    const LoadStepPlan plan_shape{.settle_s = full ? 1.0 : 0.5,
                                  .steady_s = full ? 3.0 : 1.0};
    for (const LoadStepMode& mode : LoadStepModes()) {
      WorkloadOptions o = base;
      o.payload = static_cast<std::size_t>(std::stoul(payloads.front()));
      LoadStepPlan plan = plan_shape;
      plan.step_realtime_ns = base::RealtimeNs() + 3'000'000'000;
      GatewaySettings gs{.io = io,
                         .idle = idle,
                         .spin_budget_us = budgets.empty() ? -1 : budgets[0],
                         .workers = 1,
                         .cpus = cpus};
      gs.backend_pool = mode.pool;
      if (mode.warm_at_step)
        PlaceWarmUp(plan.step_realtime_ns, &*gs.backend_pool);
      const std::string system =
          SystemName(io, idle, gs.spin_budget_us) + " pool=" + mode.name;
      Result step{
          .workload = "W7-step", .system = system, .payload = o.payload};
      Result steady{
          .workload = "W7-steady", .system = system, .payload = o.payload};
      step.idle = steady.idle = idle;
      std::string error;
      std::unique_ptr<BenchBackend> backend = BenchBackend::Start(&error);
      if (backend) gs.backend_port = backend->port();
      auto gw =
          backend ? GatewayUnderTest::Start(gateway_bin, gs, &error) : nullptr;
      bool ok = gw != nullptr;
      if (gw) {
        o.port = gw->port();
        o.gateway_pid = gw->pid();
        o.backend_pid = backend->pid();
        const double backend_cpu = ProcessCpuSeconds(backend->pid());
        step = WithCpu(gw.get(), [&] {
          Result r = step;
          ok = RunLoadStep(o, plan, &r, &steady, &error);
          r.helpers_cpu_s = ProcessCpuSeconds(backend->pid()) - backend_cpu;
          return r;
        });
        if (!gw->Stop()) {
          std::fprintf(stderr,
                       "tachyon-bench: gateway %s did not stop cleanly\n",
                       system.c_str());
        }
        std::smatch m;
        const std::string& counters = gw->backend_counters();
        if (std::regex_search(counters, m,
                              std::regex("([0-9]+) waited for a connection"))) {
          step.waited_for_connection = steady.waited_for_connection =
              std::stoll(m[1].str());
        }
        if (std::regex_search(counters, m, std::regex("([0-9]+) connects"))) {
          step.backend_connects = steady.backend_connects =
              std::stoll(m[1].str());
        }
      }
      if (!ok) {
        step.ok = steady.ok = false;
        step.note = steady.note = error;
      }
      note(step);
      note(steady);
    }
  }

  std::printf("%s", MarkdownReport(info, results).c_str());
  if (const std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    std::ofstream(path) << JsonReport(info, results);
  }
  if (const std::string prefix = absl::GetFlag(FLAGS_plot); !prefix.empty()) {
    if (std::string err = WritePlot(prefix, results); !err.empty()) {
      std::fprintf(stderr, "tachyon-bench: plot: %s\n", err.c_str());
    }
  }
  // Exact delivery is the one thing this tool asserts.
  int rc = 0;
  for (const Result& r : results) {
    if (!r.available) continue;
    if (!r.ok || (r.lost != 0 && !r.best_effort) || r.duplicated != 0 ||
        r.reordered != 0 || r.malformed != 0) {
      rc = 1;
    }
  }
  return rc;
}

}  // namespace
}  // namespace tachyon::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "End-to-end latency suite: the gateway beside a plain TCP/UDP floor.\n"
      "  tachyon-bench --suite quick|full [--json FILE] [--plot PREFIX]");
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  return tachyon::bench::Main();
}
