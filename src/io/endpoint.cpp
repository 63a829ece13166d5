#include "io/endpoint.h"

#include <arpa/inet.h>

#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "config/units.h"

namespace tachyon::io {

sockaddr_in Endpoint::ToSockaddr() const {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = address_be;
  return a;
}

std::string Endpoint::ToString() const {
  char text[INET_ADDRSTRLEN] = {};
  in_addr a{};
  a.s_addr = address_be;
  ::inet_ntop(AF_INET, &a, text, sizeof text);
  return absl::StrCat(text, ":", port);
}

Endpoint Endpoint::FromSockaddr(const sockaddr_in& addr) {
  return {addr.sin_addr.s_addr, ntohs(addr.sin_port)};
}

absl::StatusOr<Endpoint> Endpoint::Parse(std::string_view text) {
  Endpoint e;
  if (!config::ParseIpv4Endpoint(text, &e.address_be, &e.port)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected an IPv4 \"address:port\", got '", AbslView(text), "'"));
  }
  return e;
}

}  // namespace tachyon::io
