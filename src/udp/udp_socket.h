// UDP socket set-up: the per-worker ingress socket, egress sockets
// (unicast, and one per multicast group with its TTL, interface and
// loopback), and IPv4 endpoints.
//
// Buffer sizes reuse io::TuneSocket (each failure logged once, fatal only
// with socket.strict). Everything here is control path.
#ifndef TACHYON_UDP_UDP_SOCKET_H_
#define TACHYON_UDP_UDP_SOCKET_H_

#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "config/model.h"

namespace tachyon::udp {

/// An IPv4 endpoint, comparable.
struct Endpoint {
  std::uint32_t address_be = 0;  ///< as sockaddr_in::sin_addr.s_addr
  std::uint16_t port = 0;        ///< host byte order

  [[nodiscard]] sockaddr_in ToSockaddr() const;
  [[nodiscard]] std::string ToString() const;  ///< "127.0.0.1:7500"
  bool operator==(const Endpoint&) const = default;
};

/// "a.b.c.d:port" to an Endpoint; InvalidArgument otherwise.
absl::StatusOr<Endpoint> ParseEndpoint(std::string_view text);

/// A non-blocking UDP socket bound to bind:port with SO_REUSEADDR and
/// SO_REUSEPORT (one per worker; the kernel spreads datagrams by flow) and
/// SO_RXQ_OVFL (kernel drop count in every datagram's control data). The
/// receive buffer is udp.recv_buffer_bytes. Returns the fd.
absl::StatusOr<int> CreateIngressSocket(const std::string& bind,
                                        std::uint16_t port,
                                        const config::GatewayConfig& config);

/// Multicast options for an egress socket.
struct MulticastOptions {
  int ttl = 1;
  std::uint32_t interface_be = 0;  ///< INADDR_ANY: the routing table decides
  bool loopback = true;
};

/// A non-blocking unbound UDP socket for sending, with udp.send_buffer_bytes
/// and, if `multicast` is set, IP_MULTICAST_TTL, IP_MULTICAST_IF and
/// IP_MULTICAST_LOOP.
absl::StatusOr<int> CreateEgressSocket(const config::GatewayConfig& config,
                                       const MulticastOptions* multicast);

/// True if the kernel accepts UDP_SEGMENT on `fd` (probed once per socket
/// with getsockopt; sending can still fail, which callers handle).
bool GsoAvailable(int fd);

}  // namespace tachyon::udp

#endif  // TACHYON_UDP_UDP_SOCKET_H_
