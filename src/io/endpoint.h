// An IPv4 UDP/TCP endpoint as the datagram paths carry it: address and port,
// comparable, convertible to a sockaddr_in.
#ifndef TACHYON_IO_ENDPOINT_H_
#define TACHYON_IO_ENDPOINT_H_

#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tachyon::io {

struct Endpoint {
  std::uint32_t address_be = 0;  ///< as sockaddr_in::sin_addr.s_addr
  std::uint16_t port = 0;        ///< host byte order

  [[nodiscard]] sockaddr_in ToSockaddr() const;
  /// "127.0.0.1:7500".
  [[nodiscard]] std::string ToString() const;
  /// From a sockaddr_in (address and port).
  static Endpoint FromSockaddr(const sockaddr_in& addr);
  /// "a.b.c.d:port" (port 1..65535); InvalidArgument otherwise.
  static absl::StatusOr<Endpoint> Parse(std::string_view text);
  bool operator==(const Endpoint&) const = default;

  template <typename H>
  friend H AbslHashValue(H h, const Endpoint& e) {
    return H::combine(std::move(h), e.address_be, e.port);
  }
};

}  // namespace tachyon::io

#endif  // TACHYON_IO_ENDPOINT_H_
