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

// Two namespaces joined by a veth pair, as tests/support/netns.h makes
// them: tg0 10.79.0.1/24 (gateway) and tp0 10.79.0.2/24 (peer), one queue
// each end, static neighbours, TX checksum offload off.
class Veth {
 public:
  static std::unique_ptr<Veth> Create(std::string* error) {
    auto v = std::unique_ptr<Veth>(new Veth());
    const std::string id = std::to_string(::getpid());
    v->gw_ = "tbfp" + id + "-gw";
    v->pe_ = "tbfp" + id + "-pe";
    const std::string gw_mac = "02:79:00:00:00:01";
    const std::string pe_mac = "02:79:00:00:00:02";
    const std::vector<std::vector<std::string>> steps = {
        {kIp, "netns", "add", v->gw_},
        {kIp, "netns", "add", v->pe_},
        {kIp,           "-n",          v->gw_,  "link",        "add",
         "tg0",         "address",     gw_mac,  "numtxqueues", "1",
         "numrxqueues", "1",           "type",  "veth",        "peer",
         "name",        "tp0",         "netns", v->pe_,        "address",
         pe_mac,        "numtxqueues", "1",     "numrxqueues", "1"},
        {kIp, "-n", v->gw_, "addr", "add", "10.79.0.1/24", "dev", "tg0"},
        {kIp, "-n", v->pe_, "addr", "add", "10.79.0.2/24", "dev", "tp0"},
        {kIp, "-n", v->gw_, "link", "set", "tg0", "up"},
        {kIp, "-n", v->pe_, "link", "set", "tp0", "up"},
        {kIp, "-n", v->gw_, "link", "set", "lo", "up"},
        {kIp, "-n", v->pe_, "link", "set", "lo", "up"},
        {kIp, "-n", v->gw_, "neigh", "replace", "10.79.0.2", "lladdr", pe_mac,
         "dev", "tg0", "nud", "permanent"},
        {kIp, "-n", v->pe_, "neigh", "replace", "10.79.0.1", "lladdr", gw_mac,
         "dev", "tp0", "nud", "permanent"},
        {kIp, "netns", "exec", v->gw_, kEthtool, "-K", "tg0", "tx", "off"},
        {kIp, "netns", "exec", v->pe_, kEthtool, "-K", "tp0", "tx", "off"},
    };
    for (const auto& step : steps) {
      if (!Run(step)) {
        std::string text;
        for (const std::string& s : step) text += s + " ";
        *error = "cannot set up the veth pair (root needed): " + text;
        return nullptr;
      }
    }
    v->made_ = true;
    return v;
  }
  ~Veth() {
    Run({kIp, "netns", "del", gw_});
    Run({kIp, "netns", "del", pe_});
  }
  [[nodiscard]] const std::string& gateway_ns() const { return gw_; }
  [[nodiscard]] const std::string& peer_ns() const { return pe_; }

 private:
  Veth() = default;
  std::string gw_, pe_;
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

std::string FastPathToml(const std::string& path, const std::string& peer_ns,
                         const std::string& xdp_object) {
  if (path == "socket") return "";
  std::ostringstream t;
  t << "[fastpath]\n";
  if (path == "af_xdp") {
    // veth: copy mode only; native XDP in the driver.
    t << "mode = \"af_xdp\"\ninterface = \"tg0\"\nxdp_mode = \"native\"\n"
         "xdp_bind = \"copy\"\n";
  } else {
    t << "mode = \"dpdk\"\ninterface = \"tg0\"\naddress = \"10.79.0.1\"\n"
         "frames = 8192\n"
         "eal_args = [\"--no-huge\", \"--no-pci\", \"-m\", \"128\", "
         "\"--no-telemetry\", \"--file-prefix\", \""
      << peer_ns << "\", \"--vdev\", \"net_af_xdp0,iface=tg0,start_queue=0,"
      << "queue_count=1"
      << (xdp_object.empty() ? "" : ",xdp_prog=" + xdp_object) << "\"]\n";
  }
  t << "neighbours = [\"10.79.0.2=02:79:00:00:00:02\"]\n";
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
                             const std::function<void(const Result&)>& note,
                             std::string* error) {
  if (::geteuid() != 0) {
    *error =
        "--fastpath needs root (it creates network namespaces and a veth "
        "pair, and the fast paths need CAP_NET_ADMIN, CAP_BPF and "
        "CAP_IPC_LOCK)";
    return "";
  }
  std::unique_ptr<Veth> veth = Veth::Create(error);
  if (!veth) return "";
  // Our XDP program, for DPDK's net_af_xdp: beside the gateway binary in the
  // build tree.
  const std::string gateway_dir = gateway_bin.substr(0, gateway_bin.rfind('/'));
  const std::string xdp_object =
      gateway_dir + "/fastpath/af_xdp/xdp_redirect.bpf.o";
  const bool have_xdp_object = ::access(xdp_object.c_str(), R_OK) == 0;

  struct Row {
    std::string path;
    Result w5, w5max, w6;
  };
  std::vector<Row> rows;
  for (const std::string& path : paths) {
    Row row{.path = path};
    std::vector<std::uint16_t> ports;
    std::vector<int> receivers =
        PeerReceivers(veth->peer_ns(), std::max(base.subscribers, 1), &ports);
    GatewaySettings gs{.io = "epoll", .idle = "backoff", .workers = 1};
    gs.udp = true;
    gs.udp_group_stream = kUdpFanOutStream;
    gs.udp_destinations = ports;
    gs.udp_destination_host = "10.79.0.2";
    gs.netns = veth->gateway_ns();
    gs.udp_bind = "0.0.0.0";
    gs.udp_port = path == "dpdk" ? 17401 : 0;
    gs.fastpath_toml =
        FastPathToml(path, veth->peer_ns(), have_xdp_object ? xdp_object : "");
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
    o.peer_netns = veth->peer_ns();
    o.client_netns = veth->gateway_ns();
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
    row.w6 = measured([&] { return RunUdpFanOut(o); });
    gw->Stop();
    for (const int fd : receivers) ::close(fd);
    rows.push_back(row);
  }

  const Row* socket = nullptr;
  for (const Row& r : rows) {
    if (r.path == "socket") socket = &r;
  }
  std::ostringstream md;
  md << "\n## Kernel bypass over veth (W5, W6)\n\n"
     << "Gateway in one network namespace, producers and receivers in the "
        "other, joined by a veth pair; one worker, one queue, copy mode. "
        "On veth these are functional figures: copy mode only, a single "
        "queue, and the sender is the bottleneck; a real NIC needs the same "
        "command on its interface. Ratios are to the socket path of this "
        "run.\n\n"
     << "| path | W5 at " << static_cast<long>(base.udp_rate)
     << "/s: msgs/s, lost | W5 max: msgs/s, lost | W6 egress msgs/s | "
        "CPU s per M datagrams (W5 max) | W5 max ratio | W6 ratio | CPU "
        "ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const Row& r : rows) {
    auto cell = [](const Result& x) {
      if (!x.ok) return std::string("failed: ") + x.note.substr(0, 60);
      return Num(x.messages_per_second, "%.0f") + ", " + std::to_string(x.lost);
    };
    md << "| " << r.path << " | " << cell(r.w5) << " | " << cell(r.w5max)
       << " | "
       << (r.w6.ok ? Num(r.w6.messages_per_second, "%.0f")
                   : "failed: " + r.w6.note.substr(0, 60))
       << " | " << Num(CpuPerMillion(r.w5max), "%.2f") << " | "
       << (socket ? Ratio(r.w5max.messages_per_second,
                          socket->w5max.messages_per_second)
                  : "–")
       << " | "
       << (socket
               ? Ratio(r.w6.messages_per_second, socket->w6.messages_per_second)
               : "–")
       << " | "
       << (socket ? Ratio(CpuPerMillion(r.w5max), CpuPerMillion(socket->w5max))
                  : "–")
       << " |\n";
  }
  return md.str();
}

}  // namespace tachyon::bench
