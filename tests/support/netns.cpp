#include "support/netns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

extern char** environ;

namespace tachyon::testing {
namespace {

struct RunResult {
  int exit_code = -1;  // -1: did not start, died by a signal or timed out
  std::string output;  // stdout and stderr together
};

// Runs argv (looked up in PATH) with stdout and stderr captured, waiting
// at most `timeout`; a child still running then is killed by its PID.
RunResult Run(const std::vector<std::string>& argv,
              std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  RunResult result;
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    result.output = absl::StrCat("pipe: ", std::strerror(errno));
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int spawn_error =
      posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (spawn_error != 0) {
    close(pipe_fds[0]);
    result.output = absl::StrCat("cannot start ", argv[0], ": ",
                                 std::strerror(spawn_error));
    return result;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool open = true;
  int status = 0;
  bool exited = false;
  char buffer[4096];
  while (!exited) {
    if (open) {
      pollfd p{.fd = pipe_fds[0], .events = POLLIN, .revents = 0};
      if (poll(&p, 1, 20) > 0) {
        const ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
        if (n > 0) {
          result.output.append(buffer, static_cast<std::size_t>(n));
        } else if (n == 0) {
          open = false;
        }
      }
    } else {
      usleep(1000);
    }
    const pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      exited = true;
    } else if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      close(pipe_fds[0]);
      result.output +=
          absl::StrCat("\n(killed after ", timeout.count(), " ms)");
      return result;
    }
  }
  // The child has exited: what it wrote is all in the pipe.
  for (;;) {
    const ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
    if (n <= 0) break;
    result.output.append(buffer, static_cast<std::size_t>(n));
  }
  close(pipe_fds[0]);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

void DeleteNamespace(const std::string& name) {
  Run({"ip", "netns", "delete", name});
}

std::uint32_t ToBe(const std::string& ip) {
  in_addr a{};
  inet_pton(AF_INET, ip.c_str(), &a);
  return a.s_addr;
}

// A subnet number no other pair of this process uses and, derived from the
// pid, unlikely to repeat across parallel test processes (not that it must:
// the addresses exist only inside the pair's own namespaces).
int NextSubnet() {
  static std::atomic<int> counter{0};
  return static_cast<int>((static_cast<unsigned>(getpid()) * 7u +
                           static_cast<unsigned>(counter.fetch_add(1))) %
                          250u) +
         1;
}

}  // namespace

absl::Status RunCommand(const std::vector<std::string>& argv) {
  RunResult r = Run(argv);
  if (r.exit_code == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("`", absl::StrJoin(argv, " "),
                                          "` failed (exit ", r.exit_code,
                                          "): ", r.output));
}

bool CanCreateNamespaces(std::string* why) {
  auto no = [&](std::string reason) {
    if (why != nullptr) *why = std::move(reason);
    return false;
  };
  if (geteuid() != 0) {
    return no(
        "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network "
        "namespaces");
  }
  if (Run({"ip", "-V"}).exit_code != 0) return no("`ip` (iproute2) not found");
  if (Run({"ethtool", "--version"}).exit_code != 0) {
    return no("`ethtool` not found");
  }
  const std::string probe = absl::StrCat("tachyon-probe-", getpid());
  DeleteNamespace(probe);
  RunResult add = Run({"ip", "netns", "add", probe});
  if (add.exit_code != 0) {
    return no(absl::StrCat("cannot create a network namespace: ", add.output));
  }
  RunResult del = Run({"ip", "netns", "delete", probe});
  if (del.exit_code != 0) {
    return no(absl::StrCat("cannot delete a network namespace: ", del.output));
  }
  return true;
}

NamespaceScope::NamespaceScope(const std::string& name) {
  saved_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (saved_ < 0) return;
  const std::string path = "/var/run/netns/" + name;
  const int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) return;
  ok_ = setns(target, CLONE_NEWNET) == 0;
  close(target);
}

NamespaceScope::~NamespaceScope() {
  if (saved_ < 0) return;
  if (ok_) setns(saved_, CLONE_NEWNET);
  close(saved_);
}

absl::StatusOr<std::unique_ptr<VethPair>> VethPair::Create(
    const std::string& prefix, Options options) {
  std::unique_ptr<VethPair> pair(new VethPair());
  pair->gateway_ns_ = prefix + "-gw";
  pair->peer_ns_ = prefix + "-pe";
  const int n = NextSubnet();
  pair->gateway_ip_ = absl::StrCat("10.77.", n, ".1");
  pair->peer_ip_ = absl::StrCat("10.77.", n, ".2");
  char mac[18];
  std::snprintf(mac, sizeof mac, "02:77:00:00:%02x:01", n);
  pair->gateway_mac_ = mac;
  std::snprintf(mac, sizeof mac, "02:77:00:00:%02x:02", n);
  pair->peer_mac_ = mac;
  const std::string& gw = pair->gateway_ns_;
  const std::string& pe = pair->peer_ns_;
  // A killed run leaves its namespaces behind.
  DeleteNamespace(gw);
  DeleteNamespace(pe);
  const std::string queues = std::to_string(options.gateway_queues);
  const std::vector<std::vector<std::string>> steps = {
      {"ip", "netns", "add", gw},
      {"ip", "netns", "add", pe},
      {"ip", "-n", gw, "link", "add", "tg0", "address", pair->gateway_mac_,
       "numtxqueues", queues, "numrxqueues", queues, "type", "veth", "peer",
       "name", "tp0", "netns", pe, "address", pair->peer_mac_,
       // Native XDP on tg0 needs its RX queues >= the peer's TX queues
       // (the peer would otherwise get one per CPU).
       "numtxqueues", queues, "numrxqueues", queues},
      {"ip", "-n", gw, "link", "set", "tg0", "mtu",
       std::to_string(options.gateway_mtu)},
      {"ip", "-n", pe, "link", "set", "tp0", "mtu",
       std::to_string(options.peer_mtu)},
      {"ip", "-n", gw, "addr", "add", pair->gateway_ip_ + "/24", "dev", "tg0"},
      {"ip", "-n", pe, "addr", "add", pair->peer_ip_ + "/24", "dev", "tp0"},
      {"ip", "-n", gw, "neigh", "replace", pair->peer_ip_, "lladdr",
       pair->peer_mac_, "dev", "tg0", "nud", "permanent"},
      {"ip", "-n", pe, "neigh", "replace", pair->gateway_ip_, "lladdr",
       pair->gateway_mac_, "dev", "tp0", "nud", "permanent"},
      {"ip", "netns", "exec", gw, "ethtool", "-K", "tg0", "tx", "off"},
      {"ip", "netns", "exec", pe, "ethtool", "-K", "tp0", "tx", "off"},
      {"ip", "-n", gw, "link", "set", "lo", "up"},
      {"ip", "-n", pe, "link", "set", "lo", "up"},
      {"ip", "-n", gw, "link", "set", "tg0", "up"},
      {"ip", "-n", pe, "link", "set", "tp0", "up"},
  };
  for (const auto& step : steps) {
    // On failure the half-made pair's destructor removes the namespaces.
    if (absl::Status s = RunCommand(step); !s.ok()) return s;
  }
  return pair;
}

VethPair::~VethPair() {
  if (!gateway_ns_.empty()) DeleteNamespace(gateway_ns_);
  if (!peer_ns_.empty()) DeleteNamespace(peer_ns_);
}

std::uint32_t VethPair::gateway_ip_be() const { return ToBe(gateway_ip_); }
std::uint32_t VethPair::peer_ip_be() const { return ToBe(peer_ip_); }

std::vector<std::string> VethPair::NamespacedCommand(
    const std::string& ns, std::vector<std::string> argv) {
  std::vector<std::string> out = {"ip", "netns", "exec", ns};
  for (std::string& a : argv) out.push_back(std::move(a));
  return out;
}

}  // namespace tachyon::testing
