// Source networks: the CIDR lists of [[principals]] allowed_sources.
//
// Overview
//   An IpAddress is a peer's address, IPv4 or IPv6 (an IPv4-mapped IPv6
//   address counts as IPv4). A Cidr is "a.b.c.d/len", "x::y/len" or a
//   bare address (a host). A principal with a non-empty list logs on only
//   from an address one of its networks contains.
//
// Example
//   absl::StatusOr<Cidr> net = ParseCidr("10.0.0.0/8");
//   std::optional<IpAddress> a = ParseIpAddress("10.1.2.3");
//   bool ok = net->Contains(*a);  // true
//
// Threading: values; immutable once built.
#ifndef TACHYON_AUTH_SOURCE_FILTER_H_
#define TACHYON_AUTH_SOURCE_FILTER_H_

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tachyon::auth {

struct IpAddress {
  int family = 0;  ///< AF_INET or AF_INET6; 0: unknown (matches nothing)
  std::array<std::uint8_t, 16> bytes{};  ///< 4 used for AF_INET

  /// From a socket address (getpeername); unknown for other families.
  static IpAddress FromSockaddr(const sockaddr* sa, socklen_t len);
  [[nodiscard]] std::string ToString() const;
};

/// An address literal, IPv4 or IPv6; nullopt otherwise.
std::optional<IpAddress> ParseIpAddress(std::string_view text);

struct Cidr {
  IpAddress network;
  int prefix_len = 0;
  [[nodiscard]] bool Contains(const IpAddress& a) const;
};

/// "10.0.0.0/8", "::1/128", "127.0.0.1" (/32 or /128 implied);
/// InvalidArgument saying what is wrong.
absl::StatusOr<Cidr> ParseCidr(std::string_view text);

}  // namespace tachyon::auth

#endif  // TACHYON_AUTH_SOURCE_FILTER_H_
