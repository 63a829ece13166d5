#include "auth/source_filter.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/strings.h"

namespace tachyon::auth {

namespace {

// ::ffff:a.b.c.d is the IPv4 peer of a dual-stack listener.
IpAddress Unmapped(const IpAddress& a) {
  if (a.family != AF_INET6) return a;
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0,    0,
                                               0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a.bytes.data(), kMapped, 12) != 0) return a;
  IpAddress v4;
  v4.family = AF_INET;
  std::memcpy(v4.bytes.data(), a.bytes.data() + 12, 4);
  return v4;
}

}  // namespace

IpAddress IpAddress::FromSockaddr(const sockaddr* sa, socklen_t len) {
  IpAddress a;
  if (sa == nullptr) return a;
  if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    a.family = AF_INET;
    std::memcpy(a.bytes.data(), &in->sin_addr, 4);
  } else if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    a.family = AF_INET6;
    std::memcpy(a.bytes.data(), &in6->sin6_addr, 16);
    a = Unmapped(a);
  }
  return a;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == 0 ||
      inet_ntop(family, bytes.data(), buf, sizeof buf) == nullptr)
    return "?";
  return buf;
}

std::optional<IpAddress> ParseIpAddress(std::string_view text) {
  const std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
    return Unmapped(a);
  }
  return std::nullopt;
}

bool Cidr::Contains(const IpAddress& a) const {
  if (a.family != network.family || a.family == 0) return false;
  const int full = prefix_len / 8;
  if (std::memcmp(a.bytes.data(), network.bytes.data(), full) != 0) {
    return false;
  }
  const int rest = prefix_len % 8;
  if (rest == 0) return true;
  const std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (network.bytes[full] & mask);
}

absl::StatusOr<Cidr> ParseCidr(std::string_view text) {
  const std::size_t slash = text.find('/');
  const std::optional<IpAddress> a = ParseIpAddress(text.substr(0, slash));
  if (!a) {
    return absl::InvalidArgumentError(absl::StrCat(
        "must be an IPv4 or IPv6 network such as \"10.0.0.0/8\" or "
        "\"::1/128\", got \"",
        AbslView(text), "\""));
  }
  Cidr c;
  c.network = *a;
  const int max = a->family == AF_INET ? 32 : 128;
  c.prefix_len = max;
  if (slash != std::string_view::npos &&
      (!absl::SimpleAtoi(AbslView(text.substr(slash + 1)), &c.prefix_len) ||
       c.prefix_len < 0 || c.prefix_len > max)) {
    return absl::InvalidArgumentError(
        absl::StrCat("prefix length must be 0..", max, ", got \"",
                     AbslView(text.substr(slash + 1)), "\""));
  }
  // Host bits set ("10.1.2.3/16") is most likely a typo for an address or
  // another length: refused, naming the network it would mean.
  Cidr network = c;
  for (int bit = c.prefix_len; bit < max; ++bit) {
    network.network.bytes[bit / 8] &=
        static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  }
  if (network.network.bytes != c.network.bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", AbslView(text), "' has host bits set; the network is ",
        network.network.ToString(), "/", c.prefix_len));
  }
  return c;
}

}  // namespace tachyon::auth
