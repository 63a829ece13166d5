#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "workloads.h"

namespace tachyon::bench {

using Clock = std::chrono::steady_clock;

namespace {

double reaped_cpu_seconds = 0;

double Seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) +
         static_cast<double>(tv.tv_usec) * 1e-6;
}

}  // namespace

void PreciseSleeps() { ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL); }

bool EnterNetns(const std::string& name) {
  if (name.empty()) return true;
  const int fd =
      ::open(("/var/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::setns(fd, CLONE_NEWNET) == 0;
  ::close(fd);
  return ok;
}

NetnsScope::NetnsScope(const std::string& name) {
  if (name.empty()) return;
  saved_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  ok_ = saved_ >= 0 && EnterNetns(name);
}

NetnsScope::~NetnsScope() {
  if (saved_ < 0) return;
  (void)::setns(saved_, CLONE_NEWNET);
  ::close(saved_);
}

double ProcessCpuSeconds(pid_t pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  // Fields after the command name, which may hold spaces: state is field 3,
  // utime and stime are fields 14 and 15.
  const std::size_t close = text.rfind(')');
  if (close == std::string::npos || close + 2 > text.size()) return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) /
         static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double SelfCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return Seconds(u.ru_utime) + Seconds(u.ru_stime);
}

double Child::ReapedCpuSeconds() { return reaped_cpu_seconds; }

void Child::Reaped(const struct rusage& usage) {
  reaped_ = true;
  reaped_cpu_seconds += Seconds(usage.ru_utime) + Seconds(usage.ru_stime);
}

bool Child::Channel::Send(const std::string& line) {
  std::string msg = line + "\n";
  std::size_t off = 0;
  while (off < msg.size()) {
    const ssize_t n = ::write(out_, msg.data() + off, msg.size() - off);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

std::optional<std::string> Child::Channel::Receive(
    std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (bool first = true;; first = false) {
    if (const std::size_t nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    // Compare time points, not truncated milliseconds: a zero timeout must
    // poll exactly once.
    const auto now = Clock::now();
    if (!first && now >= deadline) return std::nullopt;
    const auto left_ms = std::chrono::ceil<std::chrono::milliseconds>(
        std::max(deadline - now, Clock::duration::zero()));
    pollfd p{in_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left_ms.count())) <= 0) {
      if (now >= deadline) return std::nullopt;
      continue;
    }
    char buf[65536];
    const ssize_t n = ::read(in_, buf, sizeof buf);
    if (n <= 0) return std::nullopt;
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

std::unique_ptr<Child> Child::Spawn(std::function<int(Channel&)> body) {
  int to_child[2], to_parent[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0) return nullptr;
  if (::pipe2(to_parent, O_CLOEXEC) != 0) return nullptr;
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) return nullptr;
  if (pid == 0) {
    ::close(to_child[1]);
    ::close(to_parent[0]);
    Channel channel(to_child[0], to_parent[1]);
    const int rc = body(channel);
    std::fflush(stdout);
    ::_exit(rc);
  }
  ::close(to_child[0]);
  ::close(to_parent[1]);
  return std::unique_ptr<Child>(new Child(pid, to_parent[0], to_child[1]));
}

Child::~Child() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    int status;
    rusage usage{};
    if (::wait4(pid_, &status, 0, &usage) == pid_) Reaped(usage);
  }
}

std::optional<int> Child::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    rusage usage{};
    if (::wait4(pid_, &status, WNOHANG, &usage) == pid_) {
      Reaped(usage);
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::unique_ptr<GatewayUnderTest> GatewayUnderTest::Start(
    const std::string& binary, const GatewaySettings& s, std::string* error) {
  auto g = std::unique_ptr<GatewayUnderTest>(new GatewayUnderTest());
  char path[] = "/tmp/tachyon-bench-XXXXXX.toml";
  const int fd = ::mkstemps(path, 5);
  if (fd < 0) {
    *error = "cannot create a temporary config file";
    return nullptr;
  }
  g->config_path_ = path;
  std::ostringstream cfg;
  cfg << "# Generated by tachyon-bench.\n[gateway]\nbind = \"127.0.0.1\"\n"
      << "port = 0\nworkers = " << s.workers << "\nio = \"" << s.io
      << "\"\nidle = \"" << s.idle << "\"\n"
      << (s.spin_budget_us >= 0
              ? "spin_budget_us = " + std::to_string(s.spin_budget_us) + "\n"
              : std::string())
      // info: the gateway logs only at start and at shutdown at that level,
      // and its shutdown line carries the UDP counters (read by Stop()).
      << "log_level = \"" << (s.udp || s.backend_port != 0 ? "info" : "warn")
      << "\"\n";
  if (!s.cpus.empty()) {
    cfg << "cpus = [";
    for (std::size_t i = 0; i < s.cpus.size(); ++i) {
      cfg << (i ? ", " : "") << s.cpus[i];
    }
    cfg << "]\n";
  }
  // Streams as shipped (config/gateway.toml: 16 MiB rings, 8 MiB window,
  // policy backpressure): W3's publisher runs as fast as the client lets it,
  // and only the gateway's flow control keeps its subscriber whole.
  cfg << "[limits]\nmax_log_memory_bytes = \"4GiB\"\n"
      << "[session]\nheartbeat_interval_ms = 1000\n"
      // The admin server runs as in production, on a port of its own.
      << "[admin]\nport = 0\n";
  if (!s.tls_dir.empty()) {
    cfg << "[tls]\nenabled = true\nport = 0\ncertificate = \"" << s.tls_dir
        << "/server.pem\"\nprivate_key = \"" << s.tls_dir << "/server.key\"\n";
  }
  if (s.udp) {
    // Large socket buffers: W5 offers hundreds of thousands of datagrams a
    // second, and a worker descheduled for a moment must not drop them.
    cfg << "[udp]\nenabled = true\nport = " << s.udp_port << "\n"
        << (s.udp_bind.empty() ? std::string()
                               : "bind = \"" + s.udp_bind + "\"\n")
        << "recv_buffer_bytes = \"8MiB\"\nsend_buffer_bytes = \"8MiB\"\n";
    if (!s.udp_destinations.empty()) {
      cfg << "[[udp.groups]]\nstream = \"" << s.udp_group_stream
          << "\"\ndestinations = [";
      for (std::size_t i = 0; i < s.udp_destinations.size(); ++i) {
        cfg << (i ? ", " : "") << "\"" << s.udp_destination_host << ":"
            << s.udp_destinations[i] << "\"";
      }
      cfg << "]\n";
    }
  }
  if (s.backend_port != 0) {
    cfg << "[[backends]]\nname = \"" << kBenchServiceName
        << "\"\nid = " << kBenchServiceId
        << "\nendpoints = [\"127.0.0.1:" << s.backend_port << "\"]\n";
    if (const std::optional<BackendPoolSettings>& p = s.backend_pool) {
      cfg << "max_in_flight_per_connection = "
          << p->max_in_flight_per_connection << "\npool_min = " << p->pool_min
          << "\npool_max = " << p->pool_max
          << "\nprediction_ratio = " << std::to_string(p->prediction_ratio)
          << "\nprediction_per_session = "
          << std::to_string(p->prediction_per_session)
          << "\nprediction_horizon_ms = " << p->prediction_horizon_ms
          << "\nprediction_half_life_ms = " << p->prediction_half_life_ms
          << "\n";
      if (!p->warm_at.empty()) {
        cfg << "warm_at = [\"" << p->warm_at
            << "\"]\nwarm_connections = " << p->warm_connections
            << "\nwarm_lead_ms = " << p->warm_lead_ms
            << "\nwarm_hold_ms = " << p->warm_hold_ms << "\n";
      }
    }
  }
  cfg << s.fastpath_toml;
  const std::string text = cfg.str();
  if (::write(fd, text.data(), text.size()) !=
      static_cast<ssize_t>(text.size())) {
    ::close(fd);
    *error = "cannot write the temporary config file";
    return nullptr;
  }
  ::close(fd);

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return nullptr;
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid == 0) {
    // The gateway runs with the kernel's default timer slack (50 µs),
    // whatever the benchmark's own processes use (PreciseSleeps; a value of
    // 0 would restore the slack inherited at fork, theirs).
    ::prctl(PR_SET_TIMERSLACK, 50'000UL, 0UL, 0UL, 0UL);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(out[1], STDERR_FILENO);
    const std::string config_arg = "--config=" + g->config_path_;
    if (!s.netns.empty()) {
      // `ip netns exec` also remounts /sys for the namespace (the fast
      // path reads the interface there); it execs the gateway, same PID.
      ::execl("/usr/sbin/ip", "ip", "netns", "exec", s.netns.c_str(),
              binary.c_str(), config_arg.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::execl(binary.c_str(), binary.c_str(), config_arg.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  g->pid_ = pid;
  g->out_fd_ = out[0];
  std::string output;
  const std::regex listening("listening on [^ ]*:([0-9]+)");
  const std::regex backend("worker 0: ([^\n]*)\n");
  const std::regex udp("udp datagrams on [^ ]*:([0-9]+)");
  const std::regex tls("TLS listening on [^ ]*:([0-9]+)");
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    pollfd p{g->out_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      char buf[4096];
      const ssize_t n = ::read(g->out_fd_, buf, sizeof buf);
      if (n <= 0) break;
      output.append(buf, static_cast<std::size_t>(n));
    }
    std::smatch m, b, u, t;
    if (std::regex_search(output, m, listening) &&
        std::regex_search(output, b, backend) &&
        (!s.udp || std::regex_search(output, u, udp)) &&
        (s.tls_dir.empty() || std::regex_search(output, t, tls))) {
      if (!s.tls_dir.empty()) {
        g->tls_port_ = static_cast<std::uint16_t>(std::stoi(t[1].str()));
      }
      g->port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
      g->backend_ = b[1].str();
      if (s.udp)
        g->udp_port_ = static_cast<std::uint16_t>(std::stoi(u[1].str()));
      return g;
    }
  }
  *error = "gateway did not start (" + binary + "): " + output;
  return nullptr;
}

GatewayUnderTest::~GatewayUnderTest() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  if (!config_path_.empty()) ::unlink(config_path_.c_str());
}

bool GatewayUnderTest::Stop() {
  if (pid_ <= 0) return true;
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      ReadShutdownLog();
      return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;  // the destructor kills it
}

void GatewayUnderTest::ReadShutdownLog() {
  // The process has exited: what is left in the pipe ends at EOF.
  std::string output;
  for (int reads = 0; reads < 1024; ++reads) {
    pollfd p{out_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) break;
    char buf[4096];
    const ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n <= 0) break;
    output.append(buf, static_cast<std::size_t>(n));
  }
  std::smatch m;
  if (std::regex_search(output, m, std::regex("udp: ([^\n]*)"))) {
    udp_counters_ = m[1].str();
  }
  if (std::regex_search(output, m,
                        std::regex(std::string("backend '") +
                                   kBenchServiceName + "': ([^\n]*)"))) {
    backend_counters_ = m[1].str();
  }
}

MachineInfo DescribeMachine() {
  MachineInfo m;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      m.cpu_model = line.substr(line.find(':') + 2);
      break;
    }
  }
  m.cores = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  utsname u;
  if (::uname(&u) == 0) {
    m.kernel = std::string(u.sysname) + " " + u.release;
    m.hostname = u.nodename;
  }
  // The commit of the source tree this binary was built from, read now (a
  // configure-time value would go stale), marked when the tree has changes.
  const std::string cmd = std::string("git -C '") + TACHYON_SOURCE_DIR +
                          "' describe --always --dirty --abbrev=12 2>/dev/null";
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[128] = {};
    if (std::fgets(buf, sizeof buf, p) != nullptr) {
      m.commit = buf;
      while (!m.commit.empty() && m.commit.back() == '\n') m.commit.pop_back();
    }
    ::pclose(p);
  }
  if (m.commit.empty()) m.commit = "unknown";
  return m;
}

bool PinToCpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

}  // namespace tachyon::bench
