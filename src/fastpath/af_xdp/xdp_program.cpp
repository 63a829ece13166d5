#include "fastpath/af_xdp/xdp_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/strings.h"

namespace tachyon::fastpath::af_xdp {
namespace {

constexpr const char* kVerdictNames[XdpProgram::kVerdicts] = {
    "redirected",    "no_socket",       "pass_not_ipv4", "pass_not_udp",
    "pass_fragment", "pass_other_port", "pass_short"};

// libbpf reports through one process-wide print callback; while a load runs
// its warnings are collected here so the error can quote them.
std::mutex g_log_mutex;
std::string* g_log_capture = nullptr;

int CaptureLibbpf(enum libbpf_print_level level, const char* format,
                  va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[1024];
  const int n = std::vsnprintf(line, sizeof line, format, args);
  if (g_log_capture != nullptr && g_log_capture->size() < 8192) {
    g_log_capture->append(
        line, n > 0 ? std::min<std::size_t>(static_cast<std::size_t>(n),
                                            sizeof line - 1)
                    : 0);
  }
  return 0;
}

// Captures libbpf's messages for the life of the scope.
class LibbpfLog {
 public:
  LibbpfLog() : lock_(g_log_mutex) {
    g_log_capture = &text_;
    previous_ = libbpf_set_print(&CaptureLibbpf);
  }
  ~LibbpfLog() {
    libbpf_set_print(previous_);
    g_log_capture = nullptr;
  }
  // The last ~1500 characters, one line.
  [[nodiscard]] std::string Tail() const {
    std::string t =
        text_.size() > 1500 ? text_.substr(text_.size() - 1500) : text_;
    for (char& c : t) {
      if (c == '\n') c = ' ';
    }
    return t;
  }

 private:
  std::lock_guard<std::mutex> lock_;
  std::string text_;
  libbpf_print_fn_t previous_ = nullptr;
};

std::string ErrnoText(int err) { return std::strerror(err < 0 ? -err : err); }

std::string LockdownMode() {
  std::ifstream in("/sys/kernel/security/lockdown");
  std::string line;
  std::getline(in, line);
  // "none [integrity] confidentiality": the bracketed one is active.
  const std::size_t open = line.find('[');
  const std::size_t close = line.find(']');
  if (open == std::string::npos || close == std::string::npos) return "";
  return line.substr(open + 1, close - open - 1);
}

absl::Status PermissionError(std::string_view what, int err,
                             const std::string& interface) {
  std::string text = absl::StrCat(
      AbslView(what), " on ", interface, ": ", ErrnoText(err),
      ". AF_XDP needs root, or CAP_NET_ADMIN and CAP_BPF (and CAP_IPC_LOCK "
      "for the UMEM), e.g. `setcap cap_net_admin,cap_bpf,cap_ipc_lock+ep "
      "tachyon-gateway` or the container's securityContext capabilities");
  const std::string lockdown = LockdownMode();
  if (lockdown == "confidentiality") {
    absl::StrAppend(&text,
                    "; kernel lockdown is in confidentiality mode, which "
                    "also refuses some BPF use");
  }
  return absl::PermissionDeniedError(text);
}

absl::StatusOr<int> InterfaceMtu(const std::string& interface) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket: " + ErrnoText(errno));
  ifreq req{};
  std::snprintf(req.ifr_name, sizeof req.ifr_name, "%s", interface.c_str());
  const int rc = ::ioctl(fd, SIOCGIFMTU, &req);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return absl::InternalError("SIOCGIFMTU: " + ErrnoText(err));
  return req.ifr_mtu;
}

std::uint32_t ModeFlags(config::XdpMode mode) {
  return mode == config::XdpMode::kGeneric ? XDP_FLAGS_SKB_MODE
                                           : XDP_FLAGS_DRV_MODE;
}

const char* ModeName(config::XdpMode mode) {
  return mode == config::XdpMode::kGeneric ? "generic" : "native";
}

std::string ExecutableDir() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return "";
  std::string p(path, static_cast<std::size_t>(n));
  const std::size_t slash = p.rfind('/');
  return slash == std::string::npos ? "" : p.substr(0, slash);
}

bool Readable(const std::string& path) {
  return !path.empty() && ::access(path.c_str(), R_OK) == 0;
}

}  // namespace

std::string XdpObjectBuildPath() { return TACHYON_XDP_OBJECT_BUILD_PATH; }

std::string XdpObjectPath() {
  if (const char* env = std::getenv("TACHYON_XDP_OBJECT");
      env != nullptr && *env != '\0') {
    return env;
  }
  const std::string beside = ExecutableDir() + "/xdp_redirect.bpf.o";
  if (Readable(beside)) return beside;
  return XdpObjectBuildPath();
}

const char* XdpProgram::VerdictName(int verdict) {
  return verdict >= 0 && verdict < kVerdicts ? kVerdictNames[verdict] : "?";
}

absl::StatusOr<std::uint32_t> AttachedXdpProgram(int ifindex,
                                                 std::string* name) {
  bpf_xdp_query_opts query{};
  query.sz = sizeof query;
  if (const int rc = bpf_xdp_query(ifindex, 0, &query); rc != 0) {
    if (rc == -EPERM || rc == -EACCES) {
      return PermissionError("bpf_xdp_query", rc, std::to_string(ifindex));
    }
    return absl::InternalError("bpf_xdp_query: " + ErrnoText(rc));
  }
  if (query.prog_id == 0) return 0u;
  if (name != nullptr) {
    name->clear();
    const int fd = bpf_prog_get_fd_by_id(query.prog_id);
    if (fd >= 0) {
      bpf_prog_info info{};
      std::uint32_t len = sizeof info;
      if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) *name = info.name;
      ::close(fd);
    }
  }
  return query.prog_id;
}

absl::StatusOr<std::unique_ptr<XdpProgram>> XdpProgram::Attach(
    const XdpProgramOptions& options) {
  if (options.ports.empty() || options.ports.size() > 16) {
    return absl::InvalidArgumentError("the XDP program takes 1..16 ports");
  }
  std::unique_ptr<XdpProgram> p(new XdpProgram());
  p->interface_ = options.interface;
  p->mode_ = options.mode;
  p->ifindex_ = static_cast<int>(::if_nametoindex(options.interface.c_str()));
  if (p->ifindex_ == 0) {
    return absl::NotFoundError(absl::StrCat(
        "fastpath.interface '", options.interface,
        "' does not exist (in this network namespace); name an interface "
        "`ip link` shows"));
  }
  if (options.mode == config::XdpMode::kNative) {
    absl::StatusOr<int> mtu = InterfaceMtu(options.interface);
    if (mtu.ok() && *mtu > kMaxNativeXdpMtu) {
      return absl::FailedPreconditionError(
          absl::StrCat("the MTU of ", options.interface, " is ", *mtu,
                       ", too large for native XDP (at most ", kMaxNativeXdpMtu,
                       " with single-page frames): lower it (`ip link set dev ",
                       options.interface, " mtu ", kMaxNativeXdpMtu,
                       "`) or set fastpath.xdp_mode = \"generic\""));
    }
  }

  const std::string path =
      options.object_path.empty() ? XdpObjectPath() : options.object_path;
  LibbpfLog log;
  p->object_ = bpf_object__open_file(path.c_str(), nullptr);
  if (p->object_ == nullptr || libbpf_get_error(p->object_) != 0) {
    const int err = errno;
    p->object_ = nullptr;
    return absl::NotFoundError(
        absl::StrCat("cannot open the XDP program ", path, ": ", ErrnoText(err),
                     " ", log.Tail(),
                     " (set TACHYON_XDP_OBJECT to its path, or install "
                     "xdp_redirect.bpf.o beside tachyon-gateway)"));
  }
  if (const int rc = bpf_object__load(p->object_); rc != 0) {
    if (rc == -EPERM || rc == -EACCES) {
      return PermissionError(
          absl::StrCat("loading the XDP program (", log.Tail(), ")"), rc,
          options.interface);
    }
    return absl::InternalError(absl::StrCat("loading the XDP program ", path,
                                            " failed: ", ErrnoText(rc), ": ",
                                            log.Tail()));
  }
  bpf_program* prog =
      bpf_object__find_program_by_name(p->object_, kXdpProgramName);
  bpf_map* xsks = bpf_object__find_map_by_name(p->object_, "xsks_map");
  bpf_map* ports = bpf_object__find_map_by_name(p->object_, "tachyon_ports");
  bpf_map* stats = bpf_object__find_map_by_name(p->object_, "tachyon_stats");
  if (prog == nullptr || xsks == nullptr || ports == nullptr) {
    return absl::InternalError(
        absl::StrCat(path, " is not the gateway's XDP program (no ",
                     kXdpProgramName, ", xsks_map or tachyon_ports)"));
  }
  p->program_fd_ = bpf_program__fd(prog);
  p->xsks_map_fd_ = bpf_map__fd(xsks);
  p->stats_map_fd_ = stats != nullptr ? bpf_map__fd(stats) : -1;
  for (const std::uint16_t port : options.ports) {
    const std::uint8_t one = 1;
    if (bpf_map_update_elem(bpf_map__fd(ports), &port, &one, BPF_ANY) != 0) {
      return absl::InternalError("filling tachyon_ports: " + ErrnoText(errno));
    }
  }
  bpf_prog_info info{};
  std::uint32_t info_len = sizeof info;
  if (bpf_obj_get_info_by_fd(p->program_fd_, &info, &info_len) == 0) {
    p->program_id_ = info.id;
  }

  // What is attached already?
  bpf_xdp_query_opts query{};
  query.sz = sizeof query;
  if (const int rc = bpf_xdp_query(p->ifindex_, 0, &query); rc != 0) {
    if (rc == -EPERM || rc == -EACCES) {
      return PermissionError("bpf_xdp_query", rc, options.interface);
    }
    return absl::InternalError("bpf_xdp_query: " + ErrnoText(rc));
  }
  if (query.prog_id != 0) {
    std::string name;
    (void)AttachedXdpProgram(p->ifindex_, &name);
    if (name != kXdpProgramName) {
      return absl::FailedPreconditionError(absl::StrCat(
          options.interface, " already has an XDP program (id ", query.prog_id,
          ", name '", name,
          "') that is not the gateway's: remove it (`ip link set dev ",
          options.interface,
          " xdp off`, or xdp-loader unload) or use another interface"));
    }
    // Ours, from a gateway that did not shut down cleanly: take it off in
    // whatever mode it was attached, then attach afresh.
    const std::uint32_t old_flags =
        query.attach_mode == XDP_ATTACHED_SKB   ? XDP_FLAGS_SKB_MODE
        : query.attach_mode == XDP_ATTACHED_DRV ? XDP_FLAGS_DRV_MODE
        : query.attach_mode == XDP_ATTACHED_HW  ? XDP_FLAGS_HW_MODE
                                                : 0u;
    if (const int rc = bpf_xdp_detach(p->ifindex_, old_flags, nullptr);
        rc != 0) {
      return absl::InternalError(
          absl::StrCat("removing the stale XDP program (id ", query.prog_id,
                       ") from ", options.interface, ": ", ErrnoText(rc)));
    }
    p->replaced_stale_id_ = query.prog_id;
    TACHYON_LOG(kWarn) << "fastpath: replaced a stale XDP program of ours (id "
                       << query.prog_id << ") on " << options.interface
                       << ", left by a gateway that did not shut down "
                          "cleanly";
  }

  const std::uint32_t flags =
      ModeFlags(options.mode) | XDP_FLAGS_UPDATE_IF_NOEXIST;
  if (const int rc =
          bpf_xdp_attach(p->ifindex_, p->program_fd_, flags, nullptr);
      rc != 0) {
    if (rc == -EPERM || rc == -EACCES) {
      return PermissionError("attaching the XDP program", rc,
                             options.interface);
    }
    if (rc == -EBUSY || rc == -EEXIST) {
      return absl::FailedPreconditionError(
          absl::StrCat(options.interface,
                       " already has an XDP program (attached concurrently?): ",
                       ErrnoText(rc)));
    }
    std::string text =
        absl::StrCat("attaching the XDP program to ", options.interface, " in ",
                     ModeName(options.mode), " mode: ", ErrnoText(rc));
    if (options.mode == config::XdpMode::kNative &&
        (rc == -EINVAL || rc == -ERANGE || rc == -EOPNOTSUPP || rc == -E2BIG)) {
      absl::StatusOr<int> mtu = InterfaceMtu(options.interface);
      absl::StrAppend(
          &text, ". The driver refused native XDP: its MTU (",
          mtu.ok() ? std::to_string(*mtu) : std::string("?"),
          ", and on veth the peer's) may be too large - lower the MTU to ",
          kMaxNativeXdpMtu, " or less - or the driver lacks native XDP; ",
          "or set fastpath.xdp_mode = \"generic\"");
    }
    absl::StrAppend(&text, " ", log.Tail());
    return absl::FailedPreconditionError(text);
  }
  p->attached_ = true;
  return p;
}

XdpProgram::~XdpProgram() {
  if (attached_ && !abandon_) {
    bpf_xdp_attach_opts opts{};
    opts.sz = sizeof opts;
    opts.old_prog_fd = program_fd_;
    // XDP_FLAGS_REPLACE with old_prog_fd: only if it is still ours.
    const int rc =
        bpf_xdp_detach(ifindex_, ModeFlags(mode_) | XDP_FLAGS_REPLACE, &opts);
    if (rc != 0) {
      TACHYON_LOG(kWarn) << "fastpath: detaching the XDP program from "
                         << interface_ << ": " << ErrnoText(rc);
    }
  }
  if (object_ != nullptr) bpf_object__close(object_);
}

std::array<std::uint64_t, XdpProgram::kVerdicts> XdpProgram::Stats() const {
  std::array<std::uint64_t, kVerdicts> out{};
  if (stats_map_fd_ < 0) return out;
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0 || cpus > 1024) return out;
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(cpus));
  for (std::uint32_t k = 0; k < kVerdicts; ++k) {
    if (bpf_map_lookup_elem(stats_map_fd_, &k, per_cpu.data()) != 0) continue;
    for (const std::uint64_t v : per_cpu) out[k] += v;
  }
  return out;
}

}  // namespace tachyon::fastpath::af_xdp
