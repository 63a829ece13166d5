#include "config/units.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "tachyon/protocol/datagram_mac.h"

namespace tachyon::config {

absl::StatusOr<std::uint64_t> ParseByteSize(std::string_view text) {
  static constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {
      {"", 1},       {"b", 1},      {"kib", kKiB},
      {"mib", kMiB}, {"gib", kGiB}, {"tib", kTiB}};
  auto bad = [text] {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected a byte size: an integer with an optional unit B, KiB, MiB, "
        "GiB or TiB (such as 4096, \"512KiB\", \"16MiB\"), got '",
        AbslView(text), "'"));
  };
  const std::string_view s =
      StdView(absl::StripAsciiWhitespace(AbslView(text)));
  std::size_t digits = 0;
  while (digits < s.size() && absl::ascii_isdigit(s[digits])) ++digits;
  std::uint64_t number = 0;
  if (digits == 0 ||
      !absl::SimpleAtoi(AbslView(s.substr(0, digits)), &number)) {
    return bad();
  }
  const std::string unit = absl::AsciiStrToLower(
      absl::StripLeadingAsciiWhitespace(AbslView(s.substr(digits))));
  for (const auto& [name, multiplier] : kUnits) {
    if (unit != name) continue;
    if (number > std::numeric_limits<std::uint64_t>::max() / multiplier) {
      return absl::InvalidArgumentError(
          absl::StrCat("byte size '", AbslView(text), "' is too large"));
    }
    return number * multiplier;
  }
  return bad();
}

std::string FormatByteSize(std::uint64_t bytes) {
  static constexpr std::pair<std::uint64_t, std::string_view> kUnits[] = {
      {kTiB, "TiB"}, {kGiB, "GiB"}, {kMiB, "MiB"}, {kKiB, "KiB"}};
  if (bytes != 0) {
    for (const auto& [size, name] : kUnits) {
      if (bytes % size == 0) return absl::StrCat(bytes / size, AbslView(name));
    }
  }
  return absl::StrCat(bytes);
}

bool ParseIpv4Endpoint(std::string_view text, std::uint32_t* address_be,
                       std::uint16_t* port) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  const std::string host(text.substr(0, colon));
  std::uint32_t p = 0;
  const std::string_view digits = text.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 ||
      !std::all_of(digits.begin(), digits.end(),
                   [](char ch) { return ch >= '0' && ch <= '9'; }) ||
      !absl::SimpleAtoi(AbslView(digits), &p) || p == 0 || p > 65535) {
    return false;
  }
  in_addr addr;
  if (inet_pton(AF_INET, host.c_str(), &addr) != 1) return false;
  *address_be = addr.s_addr;
  *port = static_cast<std::uint16_t>(p);
  return true;
}

namespace {

bool IsHostnameLabel(std::string_view label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' ||
      label.back() == '-') {
    return false;
  }
  return std::all_of(label.begin(), label.end(), [](char ch) {
    return absl::ascii_isalnum(static_cast<unsigned char>(ch)) || ch == '-';
  });
}

bool AllDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char ch) {
    return absl::ascii_isdigit(static_cast<unsigned char>(ch));
  });
}

}  // namespace

absl::StatusOr<HostPort> ParseHostPort(std::string_view text) {
  const std::string quoted = absl::StrCat("'", AbslView(text), "'");
  if (text.starts_with('[') || std::count(text.begin(), text.end(), ':') > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "IPv6 addresses are not supported; use an IPv4 address or a "
        "hostname, got ",
        quoted));
  }
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected \"host:port\" such as \"127.0.0.1:7501\", got ", quoted));
  }
  const std::string_view digits = text.substr(colon + 1);
  std::uint32_t port = 0;
  if (digits.size() > 5 || !AllDigits(digits) ||
      !absl::SimpleAtoi(AbslView(digits), &port) || port == 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the port must be a number between 1 and 65535, got ", quoted));
  }
  const std::string host(text.substr(0, colon));
  std::vector<std::string_view> labels;
  for (std::size_t begin = 0;;) {
    const std::size_t dot = host.find('.', begin);
    labels.push_back(std::string_view(host).substr(
        begin, dot == std::string::npos ? std::string::npos : dot - begin));
    if (dot == std::string::npos) break;
    begin = dot + 1;
  }
  in_addr addr;
  if (AllDigits(labels.back())) {
    // Digits at the end make it an address, never a name (RFC 1123 2.1).
    if (inet_pton(AF_INET, host.c_str(), &addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", host, "' is not a valid IPv4 address, in ", quoted));
    }
  } else if (host.size() > 253 ||
             !std::all_of(labels.begin(), labels.end(), IsHostnameLabel)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the host must be an IPv4 address or a hostname (dot-separated "
        "labels of letters, digits and '-'), got ",
        quoted));
  }
  return HostPort{host, static_cast<std::uint16_t>(port)};
}

absl::StatusOr<std::array<std::byte, 16>> ReadProducerKey(
    std::string_view key, std::string_view key_file) {
  static_assert(protocol::kDatagramKeyLength == 16);
  if (!key.empty()) {
    std::optional<protocol::DatagramKey> k = protocol::ParseDatagramKey(key);
    if (!k.has_value()) {
      return absl::InvalidArgumentError(
          "must be 32 hex digits (16 random bytes, such as the output of "
          "`openssl rand -hex 16`)");
    }
    return *k;
  }
  std::ifstream in{std::string(key_file)};
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read '", AbslView(key_file),
                                            "': ", std::strerror(errno)));
  }
  // A key file is 33 bytes; read a little more to refuse anything longer.
  std::string text(256, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  std::optional<protocol::DatagramKey> k = protocol::ParseDatagramKey(text);
  if (!k.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", AbslView(key_file),
        "' must hold 32 hex digits (16 random bytes, such as the output of "
        "`openssl rand -hex 16`) and nothing else"));
  }
  return *k;
}

int MachineCpuCount() {
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  if (online > 0) return static_cast<int>(online);
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

}  // namespace tachyon::config
