#include "fastpath/af_xdp/xdp_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
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
      ". AF_XDP needs root, or CAP_NET_ADMIN and CAP_BPF (the program), "
      "CAP_NET_RAW (the sockets) and CAP_IPC_LOCK (the UMEM), e.g. `setcap "
      "cap_net_admin,cap_bpf,cap_net_raw,cap_ipc_lock+ep tachyon-gateway` "
      "or the container's securityContext capabilities");
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

namespace {

// bpf_xdp_query on `ifindex`: what is attached, per mode.
absl::StatusOr<bpf_xdp_query_opts> QueryXdp(int ifindex) {
  bpf_xdp_query_opts query{};
  query.sz = sizeof query;
  if (const int rc = bpf_xdp_query(ifindex, 0, &query); rc != 0) {
    if (rc == -EPERM || rc == -EACCES) {
      return PermissionError("bpf_xdp_query", rc, std::to_string(ifindex));
    }
    return absl::InternalError("bpf_xdp_query: " + ErrnoText(rc));
  }
  return query;
}

}  // namespace

absl::StatusOr<std::uint32_t> AttachedXdpProgram(int ifindex,
                                                 std::string* name) {
  absl::StatusOr<bpf_xdp_query_opts> queried = QueryXdp(ifindex);
  if (!queried.ok()) return queried.status();
  const bpf_xdp_query_opts& query = *queried;
  // With programs in two modes (one offloaded to hardware) prog_id is 0
  // and the per-mode ids say which.
  const std::uint32_t id = query.prog_id != 0       ? query.prog_id
                           : query.drv_prog_id != 0 ? query.drv_prog_id
                           : query.skb_prog_id != 0 ? query.skb_prog_id
                                                    : query.hw_prog_id;
  if (id == 0) return 0u;
  if (name != nullptr) {
    name->clear();
    const int fd = bpf_prog_get_fd_by_id(id);
    if (fd >= 0) {
      bpf_prog_info info{};
      std::uint32_t len = sizeof info;
      if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) *name = info.name;
      ::close(fd);
    }
  }
  return id;
}

absl::StatusOr<int> OpenProgramMapByFd(int prog_fd, std::string_view map_name,
                                       bpf_map_info* info) {
  std::array<std::uint32_t, 16> map_ids{};
  bpf_prog_info prog{};
  prog.nr_map_ids = map_ids.size();
  prog.map_ids = reinterpret_cast<std::uintptr_t>(map_ids.data());
  std::uint32_t len = sizeof prog;
  if (bpf_obj_get_info_by_fd(prog_fd, &prog, &len) != 0) {
    return absl::InternalError("bpf_obj_get_info_by_fd: " + ErrnoText(errno));
  }
  for (std::uint32_t i = 0;
       i < std::min<std::uint32_t>(prog.nr_map_ids, map_ids.size()); ++i) {
    const int map_fd = bpf_map_get_fd_by_id(map_ids[i]);
    if (map_fd < 0) continue;
    bpf_map_info map{};
    std::uint32_t map_len = sizeof map;
    if (bpf_obj_get_info_by_fd(map_fd, &map, &map_len) == 0 &&
        std::string_view(map.name) == map_name) {
      if (info != nullptr) *info = map;
      return map_fd;
    }
    ::close(map_fd);
  }
  return absl::NotFoundError(
      absl::StrCat("the XDP program has no ", AbslView(map_name), " map"));
}

absl::StatusOr<int> OpenProgramMap(std::uint32_t prog_id,
                                   std::string_view map_name) {
  const int prog_fd = bpf_prog_get_fd_by_id(prog_id);
  if (prog_fd < 0) {
    const int err = errno;
    const std::string text =
        absl::StrCat("bpf_prog_get_fd_by_id(", prog_id, "): ", ErrnoText(err));
    if (err == EPERM || err == EACCES) {
      return absl::PermissionDeniedError(absl::StrCat(
          text, " (run as root or grant CAP_BPF and CAP_NET_ADMIN)"));
    }
    return absl::InternalError(text);
  }
  absl::StatusOr<int> map_fd = OpenProgramMapByFd(prog_fd, map_name, nullptr);
  ::close(prog_fd);
  return map_fd;
}

namespace {

// The sockets in XSKMAP `map_fd` (-1: cannot tell). The kernel does not
// let a syscall read an XSKMAP slot (EOPNOTSUPP), so each slot is probed
// with an insert that only succeeds on an empty slot (BPF_NOEXIST) of a
// socket of our own that never binds: EEXIST means a socket is there. The
// probe socket's entries go when it closes, leaving occupied slots as
// they were. While the probe runs (64 map updates), frames for a queue
// whose slot was empty go to the probe and are dropped instead of passed
// to the kernel: a start-up moment, only on an interface that already has
// a program of ours.
int CountXskSockets(int map_fd, std::uint32_t max_entries) {
  int probe = -1;
  int sockets = 0;
  std::uint32_t key = 0;
  std::uint32_t* previous = nullptr;
  std::uint32_t next = 0;
  for (std::uint32_t n = 0; n < max_entries; ++n) {
    if (bpf_map_get_next_key(map_fd, previous, &next) != 0) break;
    key = next;
    previous = &key;
    std::uint32_t value = 0;
    if (bpf_map_lookup_elem(map_fd, &key, &value) == 0) {
      ++sockets;
      continue;
    }
    if (errno == ENOENT) continue;
    if (probe < 0) {
      probe = ::socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
      if (probe < 0) return -1;
    }
    const std::uint32_t fd = static_cast<std::uint32_t>(probe);
    if (bpf_map_update_elem(map_fd, &key, &fd, BPF_NOEXIST) == 0) continue;
    if (errno == EEXIST) {
      ++sockets;
      continue;
    }
    ::close(probe);
    return -1;
  }
  if (probe >= 0) ::close(probe);
  return sockets;
}

// Fills `p` (id set) from the program itself; keeps its fd in `*fd` if
// not null (the caller closes it).
void DescribeProgram(AttachedXdp& p, int* fd_out) {
  const int fd = bpf_prog_get_fd_by_id(p.id);
  if (fd < 0) return;
  bpf_prog_info info{};
  std::uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) p.name = info.name;
  p.ours = p.name == kXdpProgramName;
  if (absl::StatusOr<int> ports =
          OpenProgramMapByFd(fd, "tachyon_ports", nullptr);
      ports.ok()) {
    p.ours = true;
    ::close(*ports);
  }
  int xsks = -1;
  std::uint32_t xsks_entries = 0;
  bpf_map_info map{};
  if (absl::StatusOr<int> m = OpenProgramMapByFd(fd, "xsks_map", &map);
      m.ok()) {
    if (map.type == BPF_MAP_TYPE_XSKMAP) {
      xsks = *m;
      xsks_entries = map.max_entries;
    } else {
      ::close(*m);
    }
  }
  if (p.ours) {
    p.sockets = xsks < 0 ? 0 : CountXskSockets(xsks, xsks_entries);
  }
  if (xsks >= 0) ::close(xsks);
  if (fd_out != nullptr) {
    *fd_out = fd;
  } else {
    ::close(fd);
  }
}

}  // namespace

// Detaches `p` only if it is still the program attached in its mode
// (XDP_FLAGS_REPLACE with its fd). False: it was gone or replaced already.
absl::StatusOr<bool> DetachExactly(int ifindex, const std::string& interface,
                                   const AttachedXdp& p) {
  const int fd = bpf_prog_get_fd_by_id(p.id);
  if (fd < 0) return false;  // gone meanwhile
  bpf_xdp_attach_opts opts{};
  opts.sz = sizeof opts;
  opts.old_prog_fd = fd;
  const int rc =
      bpf_xdp_detach(ifindex, p.mode_flags | XDP_FLAGS_REPLACE, &opts);
  ::close(fd);
  if (rc == -EEXIST) return false;  // another program took its place
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("removing the XDP program (id ",
                                            p.id, ") from ", interface, ": ",
                                            ErrnoText(rc)));
  }
  return true;
}

absl::StatusOr<std::vector<AttachedXdp>> InspectXdpPrograms(int ifindex) {
  absl::StatusOr<bpf_xdp_query_opts> queried = QueryXdp(ifindex);
  if (!queried.ok()) return queried.status();
  const bpf_xdp_query_opts& query = *queried;
  std::vector<AttachedXdp> out;
  auto add = [&](std::uint32_t id, std::uint32_t mode) {
    if (id == 0) return;
    AttachedXdp p;
    p.id = id;
    p.mode_flags = mode;
    DescribeProgram(p, nullptr);
    out.push_back(std::move(p));
  };
  switch (query.attach_mode) {
    case XDP_ATTACHED_NONE:
      break;
    case XDP_ATTACHED_SKB:
      add(query.prog_id, XDP_FLAGS_SKB_MODE);
      break;
    case XDP_ATTACHED_DRV:
      add(query.prog_id, XDP_FLAGS_DRV_MODE);
      break;
    case XDP_ATTACHED_HW:
      add(query.prog_id, XDP_FLAGS_HW_MODE);
      break;
    default:  // XDP_ATTACHED_MULTI: prog_id is 0, each mode has its own
      add(query.drv_prog_id, XDP_FLAGS_DRV_MODE);
      add(query.skb_prog_id, XDP_FLAGS_SKB_MODE);
      add(query.hw_prog_id, XDP_FLAGS_HW_MODE);
      break;
  }
  return out;
}

absl::StatusOr<std::uint32_t> RemoveStaleGatewayProgram(
    const std::string& interface, std::vector<AttachedXdp>* others) {
  if (others != nullptr) others->clear();
  const int ifindex = static_cast<int>(::if_nametoindex(interface.c_str()));
  if (ifindex == 0) return 0u;  // the caller names a missing interface
  absl::StatusOr<std::vector<AttachedXdp>> attached =
      InspectXdpPrograms(ifindex);
  if (!attached.ok()) return attached.status();
  for (const AttachedXdp& p : *attached) {
    if (p.ours && p.sockets != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "interface ", interface,
          " already carries a running Tachyon gateway's XDP program (prog "
          "id ",
          p.id, ", ",
          p.sockets < 0 ? std::string("an unknown number of")
                        : std::to_string(p.sockets),
          " sockets): stop that gateway or use another interface"));
    }
  }
  std::uint32_t removed = 0;
  for (const AttachedXdp& p : *attached) {
    if (!p.ours) {
      if (others != nullptr) others->push_back(p);
      continue;
    }
    absl::StatusOr<bool> gone = DetachExactly(ifindex, interface, p);
    if (!gone.ok()) return gone.status();
    if (*gone) {
      removed = p.id;
      TACHYON_LOG(kWarn) << "fastpath: replaced a stale XDP program of ours (id "
                         << p.id << ") on " << interface
                         << ", left by a gateway that did not shut down "
                            "cleanly";
    }
  }
  return removed;
}

absl::StatusOr<std::uint32_t> DetachGatewayProgram(const std::string& interface,
                                                   std::uint32_t id) {
  const int ifindex = static_cast<int>(::if_nametoindex(interface.c_str()));
  if (ifindex == 0) return 0u;
  absl::StatusOr<std::vector<AttachedXdp>> attached =
      InspectXdpPrograms(ifindex);
  if (!attached.ok()) return attached.status();
  for (const AttachedXdp& p : *attached) {
    if (!p.ours || (id != 0 && p.id != id)) continue;
    absl::StatusOr<bool> gone = DetachExactly(ifindex, interface, p);
    if (!gone.ok()) return gone.status();
    if (*gone) return p.id;
  }
  return 0u;
}

absl::Status AddPortsToAttachedProgram(
    int ifindex, const std::vector<std::uint16_t>& ports) {
  std::string name;
  absl::StatusOr<std::uint32_t> id = AttachedXdpProgram(ifindex, &name);
  if (!id.ok()) return id.status();
  if (*id == 0 || name != kXdpProgramName) {
    return absl::NotFoundError(absl::StrCat(
        "no ", kXdpProgramName, " XDP program is attached to interface ",
        ifindex, *id == 0 ? "" : absl::StrCat(" (it has '", name, "')")));
  }
  absl::StatusOr<int> map_fd = OpenProgramMap(*id, "tachyon_ports");
  if (!map_fd.ok()) return map_fd.status();
  for (const std::uint16_t port : ports) {
    const std::uint8_t one = 1;
    const XdpPortKey key{.address_be = 0, .port = port};
    if (bpf_map_update_elem(*map_fd, &key, &one, BPF_ANY) != 0) {
      const int err = errno;
      ::close(*map_fd);
      return absl::InternalError("filling tachyon_ports: " + ErrnoText(err));
    }
  }
  ::close(*map_fd);
  return absl::OkStatus();
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
    const XdpPortKey key{.address_be = options.address_be, .port = port};
    if (bpf_map_update_elem(bpf_map__fd(ports), &key, &one, BPF_ANY) != 0) {
      return absl::InternalError("filling tachyon_ports: " + ErrnoText(errno));
    }
  }
  bpf_prog_info info{};
  std::uint32_t info_len = sizeof info;
  if (bpf_obj_get_info_by_fd(p->program_fd_, &info, &info_len) == 0) {
    p->program_id_ = info.id;
  }

  // What is attached already? A stale program of ours comes off; a
  // running gateway's, or anyone else's, is refused.
  std::vector<AttachedXdp> others;
  absl::StatusOr<std::uint32_t> removed =
      RemoveStaleGatewayProgram(options.interface, &others);
  if (!removed.ok()) {
    if (removed.status().code() == absl::StatusCode::kPermissionDenied) {
      return PermissionError("bpf_xdp_query", -EPERM, options.interface);
    }
    return removed.status();
  }
  if (!others.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        options.interface, " already has an XDP program (id ", others[0].id,
        ", name '", others[0].name,
        "') that is not the gateway's: remove it (`ip link set dev ",
        options.interface,
        " xdp off`, or xdp-loader unload) or use another interface"));
  }
  p->replaced_stale_id_ = *removed;

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
    if (options.mode == config::XdpMode::kNative) {
      absl::StrAppend(&text, ". The driver refused native XDP");
      if (rc == -EINVAL || rc == -ERANGE || rc == -EOPNOTSUPP || rc == -E2BIG) {
        absl::StatusOr<int> mtu = InterfaceMtu(options.interface);
        absl::StrAppend(
            &text, ": its MTU (",
            mtu.ok() ? std::to_string(*mtu) : std::string("?"),
            ", and on veth the peer's) may be too large - lower the MTU to ",
            kMaxNativeXdpMtu, " or less - or the driver lacks native XDP");
      }
      absl::StrAppend(&text, "; or set fastpath.xdp_mode = \"generic\"");
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
