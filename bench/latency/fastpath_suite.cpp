#include "fastpath_suite.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"

namespace tachyon::bench {
namespace {

// Runs argv (a path first) and waits; true if it exited 0.
bool Run(const std::vector<std::string>& argv) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) {
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  return pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0;
}

constexpr char kIp[] = "/usr/sbin/ip";
constexpr char kEthtool[] = "/usr/sbin/ethtool";

// Runs argv and returns its standard output ("" on failure).
std::string Output(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return "";
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) ::dup2(null, STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) {
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  if (pid <= 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    return "";
  }
  return out;
}

// The MAC address of `interface` in namespace `ns` ("" if unknown).
std::string MacOf(const std::string& ns, const std::string& interface) {
  const std::string out =
      Output({kIp, "-n", ns, "-o", "link", "show", "dev", interface});
  const std::size_t at = out.find("link/ether ");
  return at == std::string::npos ? "" : out.substr(at + 11, 17);
}

// Two namespaces joined by a link: the gateway's end gets 10.79.0.1/24, the
// peer's 10.79.0.2/24, with static neighbours. By default a veth pair made
// inside them (tg0/tp0, as tests/support/netns.h makes them: one queue each
// end, TX checksum offload off). With two ports given (a two-port NIC
// cabled back to back, say), they are moved from this process's namespace
// into the two namespaces instead, and moved back at the end.
class Link {
 public:
  static std::unique_ptr<Link> Create(const FastPathPorts& ports,
                                      std::string* error) {
    auto v = std::unique_ptr<Link>(new Link());
    const std::string id = std::to_string(::getpid());
    v->gw_ = "tbfp" + id + "-gw";
    v->pe_ = "tbfp" + id + "-pe";
    v->real_ = !ports.gateway_interface.empty();
    v->gw_if_ = v->real_ ? ports.gateway_interface : "tg0";
    v->pe_if_ = v->real_ ? ports.peer_interface : "tp0";
    if (v->real_ && v->pe_if_.empty()) {
      *error = "--fastpath_interface needs --fastpath_peer_interface";
      return nullptr;
    }
    std::vector<std::vector<std::string>> steps = {
        {kIp, "netns", "add", v->gw_},
        {kIp, "netns", "add", v->pe_},
    };
    if (v->real_) {
      steps.push_back({kIp, "link", "set", "dev", v->gw_if_, "netns", v->gw_});
      steps.push_back({kIp, "link", "set", "dev", v->pe_if_, "netns", v->pe_});
    } else {
      steps.push_back({kIp,
                       "-n",
                       v->gw_,
                       "link",
                       "add",
                       "tg0",
                       "address",
                       "02:79:00:00:00:01",
                       "numtxqueues",
                       "1",
                       "numrxqueues",
                       "1",
                       "type",
                       "veth",
                       "peer",
                       "name",
                       "tp0",
                       "netns",
                       v->pe_,
                       "address",
                       "02:79:00:00:00:02",
                       "numtxqueues",
                       "1",
                       "numrxqueues",
                       "1"});
    }
    const std::vector<std::vector<std::string>> addresses = {
        {kIp, "-n", v->gw_, "addr", "add", "10.79.0.1/24", "dev", v->gw_if_},
        {kIp, "-n", v->pe_, "addr", "add", "10.79.0.2/24", "dev", v->pe_if_},
        {kIp, "-n", v->gw_, "link", "set", v->gw_if_, "up"},
        {kIp, "-n", v->pe_, "link", "set", v->pe_if_, "up"},
        {kIp, "-n", v->gw_, "link", "set", "lo", "up"},
        {kIp, "-n", v->pe_, "link", "set", "lo", "up"},
    };
    steps.insert(steps.end(), addresses.begin(), addresses.end());
    v->made_ = true;  // from here on the destructor undoes what was done
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (!Run(steps[i])) {
        std::string text;
        for (const std::string& s : steps[i]) text += s + " ";
        *error =
            "cannot set up the link between the namespaces (root "
            "needed): " +
            text;
        return nullptr;
      }
    }
    v->gw_mac_ = MacOf(v->gw_, v->gw_if_);
    v->pe_mac_ = MacOf(v->pe_, v->pe_if_);
    if (v->gw_mac_.empty() || v->pe_mac_.empty()) {
      *error =
          "cannot read the MAC addresses of " + v->gw_if_ + " and " + v->pe_if_;
      return nullptr;
    }
    std::vector<std::vector<std::string>> after = {
        {kIp, "-n", v->gw_, "neigh", "replace", "10.79.0.2", "lladdr",
         v->pe_mac_, "dev", v->gw_if_, "nud", "permanent"},
        {kIp, "-n", v->pe_, "neigh", "replace", "10.79.0.1", "lladdr",
         v->gw_mac_, "dev", v->pe_if_, "nud", "permanent"},
    };
    if (!v->real_) {
      // veth: with TX checksum offload an AF_XDP receiver sees partial UDP
      // checksums. A NIC puts complete ones on the wire.
      after.push_back(
          {kIp, "netns", "exec", v->gw_, kEthtool, "-K", "tg0", "tx", "off"});
      after.push_back(
          {kIp, "netns", "exec", v->pe_, kEthtool, "-K", "tp0", "tx", "off"});
    }
    for (const auto& step : after) {
      if (!Run(step)) {
        std::string text;
        for (const std::string& s : step) text += s + " ";
        *error = "cannot set up the link between the namespaces: " + text;
        return nullptr;
      }
    }
    return v;
  }
  ~Link() {
    if (!made_) return;
    if (real_) {
      // Back where they came from (this process's namespace); a namespace
      // deleted with a physical port in it would hand it to the initial one.
      const std::string self = std::to_string(::getpid());
      Run({kIp, "-n", gw_, "link", "set", "dev", gw_if_, "netns", self});
      Run({kIp, "-n", pe_, "link", "set", "dev", pe_if_, "netns", self});
    }
    Run({kIp, "netns", "del", gw_});
    Run({kIp, "netns", "del", pe_});
  }
  [[nodiscard]] const std::string& gateway_ns() const { return gw_; }
  [[nodiscard]] const std::string& peer_ns() const { return pe_; }
  [[nodiscard]] const std::string& gateway_if() const { return gw_if_; }
  [[nodiscard]] const std::string& peer_mac() const { return pe_mac_; }
  [[nodiscard]] bool real() const { return real_; }

 private:
  Link() = default;
  std::string gw_, pe_, gw_if_, pe_if_, gw_mac_, pe_mac_;
  bool real_ = false;
  bool made_ = false;
};

// `count` UDP sockets bound to 10.79.0.2:0 in the peer namespace.
std::vector<int> PeerReceivers(const std::string& ns, int count,
                               std::vector<std::uint16_t>* ports) {
  NetnsScope in(ns);
  std::vector<int> fds;
  for (int i = 0; i < count && in.ok(); ++i) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, "10.79.0.2", &a.sin_addr);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      if (fd >= 0) ::close(fd);
      break;
    }
    fds.push_back(fd);
    ports->push_back(ntohs(a.sin_port));
  }
  return fds;
}

// Ring sizes: 350 k/s without loss on a shared 2-vCPU box needs RX and
// fill rings of 8192 (2048 descriptors are 5.8 ms at 350 k/s, and a longer
// deschedule of the worker drops; measured: 167 of 700,000 lost with 2048,
// none with 8192). DPDK's net_af_xdp (22.11) keeps its kernel rings at
// 2048 whatever rx_desc says; the mbufs still follow `frames`.
std::string FastPathToml(const std::string& path, const Link& link,
                         const std::string& xdp_object) {
  if (path == "socket") return "";
  const std::string& dev = link.gateway_if();
  std::ostringstream t;
  t << "[fastpath]\n";
  if (path == "af_xdp") {
    // veth: copy mode only; native XDP in the driver. A NIC: zero-copy
    // where the driver has it.
    t << "mode = \"af_xdp\"\ninterface = \"" << dev
      << "\"\nxdp_mode = \"native\"\n"
      << "xdp_bind = \"" << (link.real() ? "auto" : "copy") << "\"\n"
      << "frames = 16384\nrx_ring = 8192\nfill_ring = 8192\n";
  } else {
    t << "mode = \"dpdk\"\ninterface = \"" << dev
      << "\"\naddress = \"10.79.0.1\"\n"
         "frames = 16384\nrx_ring = 8192\n"
         "eal_args = [\"--no-huge\", \"--no-pci\", \"-m\", \"128\", "
         "\"--no-telemetry\", \"--file-prefix\", \""
      << link.peer_ns() << "\", \"--vdev\", \"net_af_xdp0,iface=" << dev
      << ",start_queue=0,queue_count=1"
      << (xdp_object.empty() ? "" : ",xdp_prog=" + xdp_object) << "\"]\n";
  }
  t << "neighbours = [\"10.79.0.2=" << link.peer_mac() << "\"]\n";
  return t.str();
}

// The gateway's CPU seconds per million datagrams of `r`.
double CpuPerMillion(const Result& r) {
  const double n = static_cast<double>(r.received);
  return r.gateway_cpu_s >= 0 && n > 0 ? r.gateway_cpu_s / n * 1e6 : -1;
}

std::string Ratio(double v, double socket) {
  if (v <= 0 || socket <= 0) return "–";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v / socket);
  return buf;
}

std::string Num(double v, const char* format) {
  if (v < 0) return "–";
  char buf[32];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

}  // namespace

std::string RunFastPathSuite(const std::vector<std::string>& paths,
                             const WorkloadOptions& base, double udp_duration_s,
                             const std::string& gateway_bin,
                             const FastPathPorts& link_ports,
                             const std::function<void(const Result&)>& note,
                             std::string* error) {
  if (::geteuid() != 0) {
    *error =
        "--fastpath needs root (it creates network namespaces and a veth "
        "pair, and the fast paths need CAP_NET_ADMIN, CAP_BPF and "
        "CAP_IPC_LOCK)";
    return "";
  }
  std::unique_ptr<Link> link = Link::Create(link_ports, error);
  if (!link) return "";
  // Our XDP program, for DPDK's net_af_xdp: beside the gateway binary in the
  // build tree.
  const std::string gateway_dir = gateway_bin.substr(0, gateway_bin.rfind('/'));
  const std::string xdp_object =
      gateway_dir + "/fastpath/af_xdp/xdp_redirect.bpf.o";
  const bool have_xdp_object = ::access(xdp_object.c_str(), R_OK) == 0;

  struct Row {
    std::string path;
    Result w5, w5max, w6, w6max;
  };
  std::vector<Row> rows;
  for (const std::string& path : paths) {
    Row row{.path = path};
    std::vector<std::uint16_t> ports;
    std::vector<int> receivers =
        PeerReceivers(link->peer_ns(), std::max(base.subscribers, 1), &ports);
    GatewaySettings gs{.io = "epoll", .idle = "backoff", .workers = 1};
    gs.udp = true;
    gs.udp_group_stream = kUdpFanOutStream;
    gs.udp_destinations = ports;
    gs.udp_destination_host = "10.79.0.2";
    gs.netns = link->gateway_ns();
    gs.udp_bind = "0.0.0.0";
    gs.udp_port = path == "dpdk" ? 17401 : 0;
    gs.fastpath_toml =
        FastPathToml(path, *link, have_xdp_object ? xdp_object : "");
    std::string start_error;
    auto gw = GatewayUnderTest::Start(gateway_bin, gs, &start_error);
    const std::string system = "fastpath " + path;
    auto fail = [&](const char* workload) {
      Result r{.workload = workload,
               .system = system,
               .ok = false,
               .note = start_error};
      note(r);
      return r;
    };
    if (!gw) {
      row.w5 = fail("W5");
      for (const int fd : receivers) ::close(fd);
      rows.push_back(row);
      continue;
    }
    WorkloadOptions o = base;
    o.port = gw->port();
    o.gateway_pid = gw->pid();
    o.udp_port = gw->udp_port();
    o.udp_host = "10.79.0.1";
    o.peer_netns = link->peer_ns();
    o.client_netns = link->gateway_ns();
    o.udp_receivers = receivers;
    o.duration_s = udp_duration_s;
    auto measured = [&](auto fn) {
      const double cpu0 = gw->CpuSeconds();
      const std::int64_t t0 = MonotonicNs();
      Result r = fn();
      if (r.gateway_cpu_s < 0) {
        r.gateway_cpu_s = gw->CpuSeconds() - cpu0;
        r.cpu_window_s = static_cast<double>(MonotonicNs() - t0) * 1e-9;
      }
      r.system = system;
      note(r);
      return r;
    };
    row.w5 = measured([&] { return RunUdpIngress(o, false); });
    row.w5max = measured([&] { return RunUdpIngress(o, true); });
    row.w6 = measured([&] { return RunUdpFanOut(o, false); });
    row.w6max = measured([&] { return RunUdpFanOut(o, true); });
    gw->Stop();
    for (const int fd : receivers) ::close(fd);
    rows.push_back(row);
  }

  const Row* socket = nullptr;
  for (const Row& r : rows) {
    if (r.path == "socket") socket = &r;
  }
  auto ratio = [&](const Row& r, auto get) {
    return socket ? Ratio(get(r), get(*socket)) : std::string("–");
  };
  auto cell = [](const Result& x) {
    if (!x.ok) return std::string("failed: ") + x.note.substr(0, 60);
    return Num(x.messages_per_second, "%.0f") + ", " + std::to_string(x.lost);
  };
  std::ostringstream md;
  if (link->real()) {
    md << "\n## Kernel bypass over " << link->gateway_if() << " (W5, W6)\n\n"
       << "Gateway in one network namespace on " << link->gateway_if()
       << ", producers and receivers in the other on the port it is cabled "
          "to; one worker, one queue (queue 0: the port must steer the "
          "producers' flow there). Ratios are to the socket path of this "
          "run.\n\n";
  } else {
    md << "\n## Kernel bypass over veth (W5, W6)\n\n"
       << "Gateway in one network namespace, producers and receivers in the "
          "other, joined by a veth pair; one worker, one queue, copy mode. "
          "On veth these are functional figures: copy mode only, a single "
          "queue, and the sender is the bottleneck. Ratios are to the socket "
          "path of this run.\n\n";
  }
  md << "Ingress (W5: a producer process sends PUBLISH datagrams; a TCP "
        "subscriber counts what reached the log):\n\n"
     << "| path | W5 at " << static_cast<long>(base.udp_rate)
     << "/s: msgs/s, lost | W5 max: msgs/s, lost | CPU s per M datagrams "
        "(W5 max) | W5 max ratio | CPU ratio |\n"
        "|---|---:|---:|---:|---:|---:|\n";
  for (const Row& r : rows) {
    md << "| " << r.path << " | " << cell(r.w5) << " | " << cell(r.w5max)
       << " | " << Num(CpuPerMillion(r.w5max), "%.2f") << " | "
       << ratio(r, [](const Row& x) { return x.w5max.messages_per_second; })
       << " | " << ratio(r, [](const Row& x) { return CpuPerMillion(x.w5max); })
       << " |\n";
  }
  md << "\nEgress (W6: a TCP publisher, the gateway sends each message to "
        "the receivers in the peer namespace; W6-max: the publisher "
        "unthrottled, rate = what arrived per second):\n\n"
     << "| path | W6 at " << static_cast<long>(base.rate)
     << "/s: msgs/s, lost | W6 max: msgs/s, lost | CPU s per M datagrams "
        "(W6) | CPU s per M datagrams (W6 max) | W6 ratio | W6 max ratio | "
        "CPU ratio (W6) | CPU ratio (W6 max) |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const Row& r : rows) {
    md << "| " << r.path << " | " << cell(r.w6) << " | " << cell(r.w6max)
       << " | " << Num(CpuPerMillion(r.w6), "%.2f") << " | "
       << Num(CpuPerMillion(r.w6max), "%.2f") << " | "
       << ratio(r, [](const Row& x) { return x.w6.messages_per_second; })
       << " | "
       << ratio(r, [](const Row& x) { return x.w6max.messages_per_second; })
       << " | " << ratio(r, [](const Row& x) { return CpuPerMillion(x.w6); })
       << " | " << ratio(r, [](const Row& x) { return CpuPerMillion(x.w6max); })
       << " |\n";
  }
  return md.str();
}

}  // namespace tachyon::bench
