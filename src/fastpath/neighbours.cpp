#include "fastpath/neighbours.h"

// clang-format off
// <net/if.h> before the kernel headers, which would define its types again.
#include <net/if.h>
// clang-format on
#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/if_arp.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tachyon::fastpath {
namespace {

// Debian's Abseil has its own string_view type.
absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }

std::uint32_t MaskBe(int prefix_len) {
  if (prefix_len <= 0) return 0;
  if (prefix_len >= 32) return 0xffffffffu;
  return htonl(~std::uint32_t{0} << (32 - prefix_len));
}

std::string Errno(int error) { return std::strerror(error); }

// Closes a descriptor on every return path.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

// One rtnetlink dump: sends `type` with `body` (the family header) and calls
// `on_message(const nlmsghdr*)` for every answer until NLMSG_DONE. The
// socket has a receive timeout, so a kernel that never answers cannot hang
// the caller.
template <typename Body, typename F>
absl::Status Dump(std::uint16_t type, const Body& body, F on_message) {
  Fd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (fd.get() < 0) {
    return absl::InternalError(absl::StrCat("netlink socket: ", Errno(errno)));
  }
  timeval timeout{.tv_sec = 2, .tv_usec = 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  struct {
    nlmsghdr header;
    Body body;
  } request{};
  request.header.nlmsg_len = NLMSG_LENGTH(sizeof(Body));
  request.header.nlmsg_type = type;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.header.nlmsg_seq = 1;
  request.body = body;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd.get(), &request, request.header.nlmsg_len, 0,
             reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel) < 0) {
    return absl::InternalError(absl::StrCat("netlink send: ", Errno(errno)));
  }
  alignas(nlmsghdr) std::array<char, 32768> buffer;
  for (;;) {
    const ssize_t n = recv(fd.get(), buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(
          absl::StrCat("netlink receive: ", Errno(errno)));
    }
    if (n == 0) return absl::InternalError("netlink: socket closed");
    // NLMSG_OK/NLMSG_NEXT by hand: the macros mix signed and unsigned.
    const auto size = static_cast<std::size_t>(n);
    for (std::size_t offset = 0; offset + sizeof(nlmsghdr) <= size;) {
      const auto* h = reinterpret_cast<const nlmsghdr*>(buffer.data() + offset);
      if (h->nlmsg_len < sizeof(nlmsghdr) || h->nlmsg_len > size - offset) {
        break;
      }
      offset += NLMSG_ALIGN(h->nlmsg_len);
      if (h->nlmsg_type == NLMSG_DONE) return absl::OkStatus();
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
          return absl::InternalError("netlink: short error message");
        }
        const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        if (e->error == 0) return absl::OkStatus();
        return absl::InternalError(absl::StrCat("netlink: ", Errno(-e->error)));
      }
      // Answers carry the same family header as the request.
      if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(Body))) on_message(h);
    }
  }
}

// Calls f(rtattr*) for each attribute of `h` after the family header `Hdr`.
template <typename Hdr, typename F>
void ForEachAttribute(const nlmsghdr* h, F f) {
  const auto* header = static_cast<const Hdr*>(NLMSG_DATA(h));
  int length = static_cast<int>(h->nlmsg_len) -
               static_cast<int>(NLMSG_LENGTH(sizeof(Hdr)));
  for (auto* a = reinterpret_cast<const rtattr*>(
           reinterpret_cast<const char*>(header) + NLMSG_ALIGN(sizeof(Hdr)));
       RTA_OK(a, length); a = RTA_NEXT(a, length)) {
    f(a);
  }
}

}  // namespace

absl::StatusOr<StaticNeighbour> ParseStaticNeighbour(std::string_view text) {
  const std::size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("neighbour '", Sv(text),
                     "': expected ip=mac, e.g. 10.0.0.2=02:00:00:00:00:02"));
  }
  const std::string ip(text.substr(0, eq));
  StaticNeighbour n;
  in_addr address{};
  if (inet_pton(AF_INET, ip.c_str(), &address) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "neighbour '", Sv(text), "': '", ip, "' is not an IPv4 address"));
  }
  n.address_be = address.s_addr;
  auto mac = MacAddress::Parse(text.substr(eq + 1));
  if (!mac.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("neighbour '", Sv(text), "': ", mac.status().message()));
  }
  n.mac = *mac;
  return n;
}

Neighbours::Neighbours(int ifindex, std::uint32_t local_be, int prefix_len,
                       std::uint32_t gateway_be,
                       std::vector<StaticNeighbour> statics,
                       std::int64_t refresh_ns)
    : ifindex_(ifindex),
      local_be_(local_be),
      mask_be_(MaskBe(prefix_len)),
      gateway_be_(gateway_be),
      refresh_ns_(refresh_ns) {
  for (const StaticNeighbour& s : statics) static_[s.address_be] = s.mac;
}

std::uint32_t Neighbours::NextHop(std::uint32_t destination_be) const {
  if (gateway_be_ != 0 &&
      (destination_be & mask_be_) != (local_be_ & mask_be_)) {
    return gateway_be_;
  }
  return destination_be;
}

std::optional<MacAddress> Neighbours::Lookup(std::uint32_t destination_be,
                                             std::int64_t now_ns) {
  const std::uint32_t hop = NextHop(destination_be);
  if (auto it = static_.find(hop); it != static_.end()) return it->second;
  if (auto it = learned_.find(hop); it != learned_.end()) return it->second;
  if (ifindex_ == 0 || now_ns < next_refresh_ns_) return std::nullopt;
  next_refresh_ns_ = now_ns + refresh_ns_;
  // A failed refresh keeps what was known; the next miss after the
  // interval tries again.
  if (!Refresh().ok()) return std::nullopt;
  if (auto it = learned_.find(hop); it != learned_.end()) return it->second;
  return std::nullopt;
}

void Neighbours::Learn(std::uint32_t address_be, const MacAddress& mac) {
  learned_[address_be] = mac;
}

absl::Status Neighbours::Refresh() {
  if (ifindex_ == 0) return absl::OkStatus();
  absl::flat_hash_map<std::uint32_t, MacAddress> table;
  ndmsg request{};
  request.ndm_family = AF_INET;
  request.ndm_ifindex = ifindex_;
  constexpr std::uint16_t kUsable =
      NUD_REACHABLE | NUD_STALE | NUD_PERMANENT | NUD_DELAY | NUD_PROBE;
  absl::Status status = Dump(RTM_GETNEIGH, request, [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWNEIGH) return;
    const auto* nd = static_cast<const ndmsg*>(NLMSG_DATA(h));
    // Older kernels ignore the index filter of a dump: check it here.
    if (nd->ndm_family != AF_INET || nd->ndm_ifindex != ifindex_ ||
        (nd->ndm_state & kUsable) == 0) {
      return;
    }
    std::uint32_t address = 0;
    bool have_address = false;
    MacAddress mac;
    bool have_mac = false;
    ForEachAttribute<ndmsg>(h, [&](const rtattr* a) {
      if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == 4) {
        std::memcpy(&address, RTA_DATA(a), 4);
        have_address = true;
      } else if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6) {
        std::memcpy(mac.bytes.data(), RTA_DATA(a), 6);
        have_mac = true;
      }
    });
    if (have_address && have_mac) table[address] = mac;
  });
  if (!status.ok()) {
    return absl::Status(status.code(),
                        absl::StrCat("reading the neighbour table of ifindex ",
                                     ifindex_, ": ", status.message()));
  }
  learned_ = std::move(table);
  return absl::OkStatus();
}

absl::StatusOr<InterfaceInfo> ReadInterface(std::string_view name) {
  const std::string n(name);
  auto fail = [&](absl::StatusCode code, std::string_view what) {
    return absl::Status(code, absl::StrCat("interface '", n, "' ", Sv(what)));
  };
  if (n.empty() || n.size() >= IFNAMSIZ) {
    return fail(absl::StatusCode::kInvalidArgument,
                "is not a valid interface name");
  }
  InterfaceInfo info;
  info.name = n;
  info.ifindex = static_cast<int>(if_nametoindex(n.c_str()));
  if (info.ifindex == 0) {
    return fail(absl::StatusCode::kNotFound,
                absl::StrCat("not found: ", Errno(errno)));
  }
  Fd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    return fail(absl::StatusCode::kInternal,
                absl::StrCat(": socket: ", Errno(errno)));
  }
  ifreq request{};
  std::memcpy(request.ifr_name, n.c_str(), n.size() + 1);
  if (ioctl(fd.get(), SIOCGIFHWADDR, &request) != 0) {
    return fail(absl::StatusCode::kInternal,
                absl::StrCat(": reading the MAC address: ", Errno(errno)));
  }
  if (request.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
    return fail(absl::StatusCode::kFailedPrecondition,
                "is not an Ethernet interface");
  }
  std::memcpy(info.mac.bytes.data(), request.ifr_hwaddr.sa_data, 6);
  if (ioctl(fd.get(), SIOCGIFMTU, &request) != 0) {
    return fail(absl::StatusCode::kInternal,
                absl::StrCat(": reading the MTU: ", Errno(errno)));
  }
  info.mtu = request.ifr_mtu;

  // Queues: ETHTOOL_GCHANNELS answers in the calling thread's namespace
  // (sysfs shows the namespace it was mounted in, which a thread that only
  // called setns() has not changed), so it comes first.
  ethtool_channels channels{};
  channels.cmd = ETHTOOL_GCHANNELS;
  ifreq ethtool_request{};
  std::memcpy(ethtool_request.ifr_name, n.c_str(), n.size() + 1);
  ethtool_request.ifr_data = reinterpret_cast<char*>(&channels);
  int queues = 0;
  if (ioctl(fd.get(), SIOCETHTOOL, &ethtool_request) == 0) {
    queues = static_cast<int>(channels.rx_count + channels.combined_count);
  } else {
    std::error_code error;
    const std::filesystem::path dir =
        std::filesystem::path("/sys/class/net") / n / "queues";
    for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
      if (entry.path().filename().string().starts_with("rx-")) ++queues;
    }
  }
  info.rx_queues = queues > 0 ? queues : 1;

  ifaddrmsg address_request{};
  address_request.ifa_family = AF_INET;
  bool have_address = false;
  absl::Status status =
      Dump(RTM_GETADDR, address_request, [&](const nlmsghdr* h) {
        if (h->nlmsg_type != RTM_NEWADDR || have_address) return;
        const auto* a = static_cast<const ifaddrmsg*>(NLMSG_DATA(h));
        if (a->ifa_family != AF_INET ||
            static_cast<int>(a->ifa_index) != info.ifindex) {
          return;
        }
        std::uint32_t local = 0;
        std::uint32_t address = 0;
        ForEachAttribute<ifaddrmsg>(h, [&](const rtattr* attr) {
          if (RTA_PAYLOAD(attr) != 4) return;
          if (attr->rta_type == IFA_LOCAL)
            std::memcpy(&local, RTA_DATA(attr), 4);
          if (attr->rta_type == IFA_ADDRESS) {
            std::memcpy(&address, RTA_DATA(attr), 4);
          }
        });
        // IFA_ADDRESS is the peer on point-to-point links; IFA_LOCAL ours.
        info.address_be = local != 0 ? local : address;
        info.prefix_len = a->ifa_prefixlen;
        have_address = info.address_be != 0;
      });
  if (!status.ok()) {
    return fail(status.code(),
                absl::StrCat(": reading addresses: ", status.message()));
  }

  rtmsg route_request{};
  route_request.rtm_family = AF_INET;
  status = Dump(RTM_GETROUTE, route_request, [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWROUTE || info.gateway_be != 0) return;
    const auto* r = static_cast<const rtmsg*>(NLMSG_DATA(h));
    if (r->rtm_family != AF_INET || r->rtm_dst_len != 0 ||
        r->rtm_type != RTN_UNICAST) {
      return;
    }
    std::uint32_t table = r->rtm_table;
    int oif = 0;
    std::uint32_t gateway = 0;
    ForEachAttribute<rtmsg>(h, [&](const rtattr* a) {
      if (a->rta_type == RTA_TABLE && RTA_PAYLOAD(a) == 4) {
        std::memcpy(&table, RTA_DATA(a), 4);
      } else if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == 4) {
        std::memcpy(&oif, RTA_DATA(a), 4);
      } else if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == 4) {
        std::memcpy(&gateway, RTA_DATA(a), 4);
      }
    });
    if (table == RT_TABLE_MAIN && oif == info.ifindex) {
      info.gateway_be = gateway;
    }
  });
  if (!status.ok()) {
    return fail(status.code(),
                absl::StrCat(": reading routes: ", status.message()));
  }
  return info;
}

}  // namespace tachyon::fastpath
