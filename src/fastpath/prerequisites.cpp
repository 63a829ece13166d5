#include "fastpath/prerequisites.h"

#include <linux/capability.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tachyon::fastpath {
namespace {

struct Cap {
  int number;
  const char* name;
};

std::string MiB(std::uint64_t bytes) {
  // Rounded up: "needs 16 MiB" must not understate.
  return absl::StrCat((bytes + (1u << 20) - 1) >> 20, " MiB");
}

// Devices in the EAL arguments that need no privilege at all.
bool OnlyUnprivilegedVdevs(const config::FastPathOptions& o) {
  bool any_device = false;
  for (std::size_t i = 0; i < o.eal_args.size(); ++i) {
    const std::string& a = o.eal_args[i];
    std::string_view device;
    if ((a == "--vdev" || a == "-a" || a == "--allow") &&
        i + 1 < o.eal_args.size()) {
      device = o.eal_args[i + 1];
    } else if (a.starts_with("--vdev=")) {
      device = std::string_view(a).substr(7);
    } else {
      continue;
    }
    any_device = true;
    if (!device.starts_with("net_ring") && !device.starts_with("net_null")) {
      return false;
    }
  }
  return any_device;
}

bool UsesAfXdpVdev(const config::FastPathOptions& o) {
  return std::any_of(o.eal_args.begin(), o.eal_args.end(),
                     [](const std::string& a) {
                       return a.find("net_af_xdp") != std::string::npos;
                     });
}

class Problems {
 public:
  void Add(absl::StatusCode code, std::string text) {
    if (lines_.empty()) code_ = code;
    lines_.push_back(std::move(text));
  }
  absl::Status ToStatus() const {
    if (lines_.empty()) return absl::OkStatus();
    return absl::Status(code_, absl::StrJoin(lines_, "\n"));
  }

 private:
  absl::StatusCode code_ = absl::StatusCode::kOk;
  std::vector<std::string> lines_;
};

}  // namespace

std::uint64_t UmemBytes(const config::FastPathOptions& options) {
  return std::uint64_t{options.frames} * options.frame_size *
         static_cast<std::uint64_t>(std::max(options.queues, 1));
}

absl::StatusOr<HostFacts> ReadHostFacts(
    const config::FastPathOptions& options) {
  HostFacts facts;
  facts.euid = ::geteuid();
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) {
    return absl::InternalError(
        absl::StrCat("fastpath: capget: ", std::strerror(errno)));
  }
  facts.effective_caps = std::uint64_t{data[0].effective} |
                         (std::uint64_t{data[1].effective} << 32);
  rlimit limit{};
  if (::getrlimit(RLIMIT_MEMLOCK, &limit) != 0) {
    return absl::InternalError(absl::StrCat(
        "fastpath: getrlimit(RLIMIT_MEMLOCK): ", std::strerror(errno)));
  }
  facts.memlock_limit = limit.rlim_cur == RLIM_INFINITY
                            ? std::numeric_limits<std::uint64_t>::max()
                            : std::uint64_t{limit.rlim_cur};
  if (!options.interface.empty() && options.interface.size() < IFNAMSIZ) {
    facts.interface_index = ::if_nametoindex(options.interface.c_str());
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && facts.interface_index != 0) {
      ifreq request{};
      std::memcpy(request.ifr_name, options.interface.data(),
                  options.interface.size());
      if (::ioctl(fd, SIOCGIFMTU, &request) == 0) {
        facts.interface_mtu = request.ifr_mtu;
      }
    }
    if (fd >= 0) ::close(fd);
  }
  return facts;
}

absl::Status CheckPrerequisites(const config::FastPathOptions& options,
                                const HostFacts& facts) {
  using config::FastPathMode;
  if (options.mode == FastPathMode::kSocket) return absl::OkStatus();
  const bool af_xdp = options.mode == FastPathMode::kAfXdp;
  const char* const mode = af_xdp ? "af_xdp" : "dpdk";
  Problems problems;

  // Capabilities (root has them all unless a container or systemd took
  // some away, so they are checked for root too).
  std::vector<Cap> needed;
  if (af_xdp || !OnlyUnprivilegedVdevs(options)) {
    needed.push_back({kCapNetAdmin, "CAP_NET_ADMIN"});
    needed.push_back({kCapNetRaw, "CAP_NET_RAW"});
  }
  const bool needs_bpf = af_xdp || UsesAfXdpVdev(options);
  std::vector<std::string> missing;
  for (const Cap& c : needed) {
    if (!facts.Has(c.number)) missing.push_back(c.name);
  }
  // CAP_SYS_ADMIN covers BPF on kernels before 5.8 and still does.
  if (needs_bpf && !facts.Has(kCapBpf) && !facts.Has(kCapSysAdmin)) {
    missing.push_back("CAP_BPF");
  }
  if (!missing.empty()) {
    const std::string list = absl::StrJoin(missing, ", ");
    problems.Add(
        absl::StatusCode::kPermissionDenied,
        absl::StrCat(
            "fastpath: mode = \"", mode, "\" needs ", list,
            facts.euid == 0 ? " (running as root, but without them: a "
                              "container or service manager dropped them)"
                            : " (not running as root)",
            ": run as root, or grant them (setcap "
            "cap_net_admin,cap_net_raw,cap_bpf,cap_ipc_lock+ep on the "
            "binary; systemd AmbientCapabilities=; Kubernetes "
            "securityContext.capabilities.add: NET_ADMIN, NET_RAW, BPF, "
            "IPC_LOCK), or use mode = \"socket\""));
  }

  if (af_xdp) {
    const std::uint64_t umem = UmemBytes(options);
    if (umem > facts.memlock_limit && !facts.Has(kCapIpcLock)) {
      problems.Add(
          absl::StatusCode::kResourceExhausted,
          absl::StrCat(
              "fastpath: the UMEM needs ", MiB(umem),
              " of locked memory (frames ", options.frames, " * frame_size ",
              options.frame_size, " * queues ", options.queues,
              ") but the locked-memory limit is ", MiB(facts.memlock_limit),
              " and the process lacks CAP_IPC_LOCK (without it UMEM creation "
              "fails with ENOBUFS): grant CAP_IPC_LOCK, raise the limit "
              "(ulimit -l, systemd LimitMEMLOCK=, docker --ulimit memlock=-1; "
              "raising it needs CAP_SYS_RESOURCE), or lower fastpath.frames"));
    }
  }

  if (!options.interface.empty() && facts.interface_index == 0) {
    problems.Add(absl::StatusCode::kNotFound,
                 absl::StrCat("fastpath: interface '", options.interface,
                              "' does not exist in this network namespace "
                              "(ip -br link lists those that do): set "
                              "fastpath.interface to one of them"));
  } else if (af_xdp && options.xdp_mode == config::XdpMode::kNative &&
             facts.interface_mtu > kMaxNativeXdpMtu) {
    problems.Add(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("fastpath: interface '", options.interface, "' has MTU ",
                     facts.interface_mtu, ", more than native XDP takes (",
                     kMaxNativeXdpMtu, "): lower it (ip link set dev ",
                     options.interface,
                     " mtu 1500) or use xdp_mode = \"generic\""));
  }
  return problems.ToStatus();
}

}  // namespace tachyon::fastpath
