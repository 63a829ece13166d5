#include "udp/udp_socket.h"

#include <arpa/inet.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "config/units.h"
#include "io/socket.h"

namespace tachyon::udp {
namespace {

absl::Status Errno(std::string_view what, int err) {
  return absl::InternalError(
      absl::StrCat(AbslView(what), ": ", std::strerror(err)));
}

// The [socket] options that make sense for UDP, with [udp]'s buffer sizes.
config::SocketOptions UdpTuning(const config::GatewayConfig& c, bool receive) {
  config::SocketOptions o = c.socket;
  o.tcp_nodelay = false;
  o.incoming_cpu = false;
  o.recv_buffer_bytes = receive ? c.udp.recv_buffer_bytes : 0;
  o.send_buffer_bytes = receive ? 0 : c.udp.send_buffer_bytes;
  return o;
}

absl::StatusOr<int> Fail(int fd, std::string_view what) {
  const int err = errno;
  ::close(fd);
  return Errno(what, err);
}

}  // namespace

absl::StatusOr<Endpoint> ParseEndpoint(std::string_view text) {
  Endpoint e;
  if (!config::ParseIpv4Endpoint(text, &e.address_be, &e.port)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected an IPv4 \"address:port\", got '", AbslView(text), "'"));
  }
  return e;
}

absl::StatusOr<int> CreateIngressSocket(const std::string& bind,
                                        std::uint16_t port,
                                        const config::GatewayConfig& config) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, bind.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("udp bind address '", bind, "' is not an IPv4 literal"));
  }
  const int fd =
      ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket(udp)", errno);
  const int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    return Fail(fd, "setsockopt(SO_REUSEPORT, udp)");
  }
  // The kernel's count of datagrams dropped for this socket (full receive
  // buffer) then rides along with every datagram as SCM control data.
  if (::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) != 0) {
    return Fail(fd, "setsockopt(SO_RXQ_OVFL)");
  }
  if (absl::Status s = io::TuneSocket(fd, UdpTuning(config, true), -1);
      !s.ok()) {
    ::close(fd);
    return s;
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Fail(fd, absl::StrCat("bind udp ", bind, ":", port));
  }
  return fd;
}

absl::StatusOr<int> CreateEgressSocket(const config::GatewayConfig& config,
                                       const MulticastOptions* multicast) {
  const int fd =
      ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket(udp egress)", errno);
  if (absl::Status s = io::TuneSocket(fd, UdpTuning(config, false), -1);
      !s.ok()) {
    ::close(fd);
    return s;
  }
  if (multicast != nullptr) {
    const int ttl = multicast->ttl;
    const unsigned char loop = multicast->loopback ? 1 : 0;
    in_addr iface{};
    iface.s_addr = multicast->interface_be;
    if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) != 0) {
      return Fail(fd, "setsockopt(IP_MULTICAST_TTL)");
    }
    if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) !=
        0) {
      return Fail(fd, "setsockopt(IP_MULTICAST_LOOP)");
    }
    if (multicast->interface_be != 0 &&
        ::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &iface, sizeof iface) !=
            0) {
      return Fail(fd, "setsockopt(IP_MULTICAST_IF)");
    }
  }
  return fd;
}

bool GsoAvailable(int fd) {
  int segment = 0;
  socklen_t len = sizeof segment;
  return ::getsockopt(fd, SOL_UDP, UDP_SEGMENT, &segment, &len) == 0;
}

}  // namespace tachyon::udp
