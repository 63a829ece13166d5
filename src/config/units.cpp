#include "config/units.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/strings.h"

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

int MachineCpuCount() {
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  if (online > 0) return static_cast<int>(online);
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

}  // namespace tachyon::config
