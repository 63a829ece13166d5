#include "fastpath/dpdk/dpdk_eal.h"

#include <pthread.h>
#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string_view>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tachyon::fastpath::dpdk_internal {
namespace {

bool IsDeviceFlag(std::string_view a) {
  return a == "--vdev" || a == "-a" || a == "--allow" || a == "-b" ||
         a == "--block";
}

// The arguments that are not devices: what must match between Opens.
std::vector<std::string> NonDeviceArgs(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (IsDeviceFlag(a)) {
      ++i;
      continue;
    }
    if (a.starts_with("--vdev=") || a.starts_with("--allow=") ||
        a.starts_with("--block=")) {
      continue;
    }
    out.push_back(a);
  }
  return out;
}

bool NamesCores(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "-l" || a == "-c" || a.starts_with("--lcores") ||
        (a.size() > 2 && (a.starts_with("-l") || a.starts_with("-c")) &&
         a[1] != '-')) {
      return true;
    }
  }
  return false;
}

struct EalState {
  std::mutex mu;
  bool tried = false;
  absl::Status failure;
  std::vector<std::string> non_device;
  // rte_eal_init may keep pointers into argv (it permutes it): the strings
  // live as long as the process.
  std::vector<std::string> argv_storage;
  std::vector<char*> argv;
  // Where the EAL keeps its runtime files (/var/run/dpdk/<file-prefix>),
  // and the process that started it (a forked child must not remove them).
  std::string runtime_dir;
  pid_t owner = 0;
};

EalState& State() {
  static EalState* state = new EalState();  // never destroyed: the EAL isn't
  return *state;
}

std::string ErrnoText(int err) {
  return absl::StrCat(rte_strerror(err), " (rte_errno ", err, ")");
}

// At exit: rte_eal_cleanup releases the EAL's memory and its IPC socket,
// but in 22.11 leaves the runtime directory (config, fbarray_* files) behind,
// one per --file-prefix; a process that started the EAL removes its own.
void CleanUpAtExit() {
  EalState& s = State();
  if (s.owner != ::getpid() || s.runtime_dir.empty()) return;
  rte_eal_cleanup();
  std::error_code ignored;
  std::filesystem::remove_all(s.runtime_dir, ignored);
}

absl::Status ProbeMissingVdevs(const std::vector<std::string>& args) {
  for (const std::string& vdev : VdevArgs(args)) {
    const std::string name = VdevName(vdev);
    std::uint16_t port = 0;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &port) == 0) continue;
    const std::size_t comma = vdev.find(',');
    const std::string devargs =
        comma == std::string::npos ? "" : vdev.substr(comma + 1);
    const int rc = rte_eal_hotplug_add("vdev", name.c_str(), devargs.c_str());
    if (rc != 0) {
      return absl::UnavailableError(absl::StrCat(
          "DPDK could not probe --vdev ", vdev, ": ", ErrnoText(-rc),
          " (check the interface exists in this network namespace and that "
          "we run as root; see the EAL's log above)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> VdevArgs(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--vdev" && i + 1 < args.size()) {
      out.push_back(args[++i]);
    } else if (args[i].starts_with("--vdev=")) {
      out.push_back(args[i].substr(7));
    }
  }
  return out;
}

bool NamesDevice(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (IsDeviceFlag(a) || a.starts_with("--vdev=") ||
        a.starts_with("--allow=")) {
      return true;
    }
  }
  return false;
}

std::string VdevName(const std::string& vdev_arg) {
  return vdev_arg.substr(0, vdev_arg.find(','));
}

absl::Status RemoveVdev(const std::string& name) {
  const int rc = rte_eal_hotplug_remove("vdev", name.c_str());
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("removing DPDK vdev ", name, ": ", ErrnoText(-rc)));
  }
  return absl::OkStatus();
}

absl::StatusOr<EalStarted> StartEal(const std::vector<std::string>& args) {
  EalState& s = State();
  std::lock_guard lock(s.mu);
  EalStarted started;
  if (!s.tried) {
    s.tried = true;
    s.argv_storage.push_back("tachyon-gateway");
    s.argv_storage.insert(s.argv_storage.end(), args.begin(), args.end());
    // rte_eal_init pins the calling thread to the main lcore, and threads
    // the gateway starts later would inherit that mask; it also starts an
    // idle worker thread per lcore. Without -l/-c we ask for one lcore, a
    // CPU we may run on, and give the thread its own mask back afterwards.
    cpu_set_t saved;
    CPU_ZERO(&saved);
    const bool have_mask =
        pthread_getaffinity_np(pthread_self(), sizeof saved, &saved) == 0;
    if (!NamesCores(args) && have_mask) {
      for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (CPU_ISSET(cpu, &saved)) {
          s.argv_storage.push_back("-l");
          s.argv_storage.push_back(std::to_string(cpu));
          break;
        }
      }
    }
    for (std::string& a : s.argv_storage) s.argv.push_back(a.data());
    s.argv.push_back(nullptr);
    const auto t0 = std::chrono::steady_clock::now();
    const int rc =
        rte_eal_init(static_cast<int>(s.argv.size() - 1), s.argv.data());
    const int err = rte_errno;
    started.init_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    if (have_mask) {
      pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
    }
    if (rc < 0) {
      std::vector<std::string> shown(s.argv_storage.begin() + 1,
                                     s.argv_storage.end());
      s.failure = absl::UnavailableError(absl::StrCat(
          "DPDK's EAL did not start (rte_eal_init with [",
          absl::StrJoin(shown, " "), "]): ", ErrnoText(err),
          ". What to do: run as root (DPDK needs it for its devices and "
          "memory); reserve hugepages (echo 64 > "
          "/proc/sys/vm/nr_hugepages) or pass --no-huge -m 64 in "
          "fastpath.eal_args; give every DPDK process on the host its own "
          "--file-prefix; name an existing device (--vdev "
          "net_af_packet0,iface=<if>, --vdev net_af_xdp0,iface=<if>, or a PCI "
          "address bound to vfio-pci); the EAL's own log above says which "
          "step failed"));
      return s.failure;
    }
    s.non_device = NonDeviceArgs(args);
    s.runtime_dir = rte_eal_get_runtime_dir();
    s.owner = ::getpid();
    std::atexit(CleanUpAtExit);
    started.now = true;
    return started;
  }
  if (!s.failure.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "DPDK's EAL failed to start earlier in this process and cannot be "
        "started twice; restart the process. The first failure: ",
        s.failure.message()));
  }
  if (NonDeviceArgs(args) != s.non_device) {
    return absl::FailedPreconditionError(absl::StrCat(
        "DPDK's EAL is already running in this process with arguments [",
        absl::StrJoin(s.non_device, " "),
        "] and starts only once per "
        "process; fastpath.eal_args may differ only in --vdev devices "
        "(asked for [",
        absl::StrJoin(NonDeviceArgs(args), " "), "]); restart the process"));
  }
  absl::Status probed = ProbeMissingVdevs(args);
  if (!probed.ok()) return probed;
  return started;
}

}  // namespace tachyon::fastpath::dpdk_internal
