// Units the configuration is written in: byte sizes, IPv4 endpoints, CPUs.
//
// Overview
//   Byte sizes are an integer or a string with a binary unit ("512KiB",
//   "16 MiB"); ParseByteSize reads them and FormatByteSize writes the
//   shortest exact spelling back, so errors quote sizes as a user wrote
//   them. ParseIpv4Endpoint reads the "a.b.c.d:port" form [[udp.groups]]
//   destinations use; ParseHostPort the "host:port" form of [[backends]]
//   endpoints, whose host may also be a name (checked for syntax here,
//   resolved by the gateway when it starts). MachineCpuCount bounds
//   gateway.cpus.
//
//   This target (tachyon::config_units) has no TOML or flag dependency, so
//   the event core and the UDP code can parse endpoints and sizes without
//   linking the config reader.
//
// Example
//   absl::StatusOr<std::uint64_t> bytes = ParseByteSize("16MiB");  // 16777216
//   FormatByteSize(65536);                                        // "64KiB"
//   std::uint32_t address_be;
//   std::uint16_t port;
//   if (ParseIpv4Endpoint("127.0.0.1:7500", &address_be, &port)) { ... }
//   absl::StatusOr<HostPort> risk = ParseHostPort("risk-1.internal:9001");
//
// Threading: pure functions; call from any thread.
#ifndef TACHYON_CONFIG_UNITS_H_
#define TACHYON_CONFIG_UNITS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tachyon::config {

inline constexpr std::uint64_t kKiB = 1024;
inline constexpr std::uint64_t kMiB = 1024 * kKiB;
inline constexpr std::uint64_t kGiB = 1024 * kMiB;
inline constexpr std::uint64_t kTiB = 1024 * kGiB;

/// "4096", "4096B", "512KiB", "16 MiB", "1GiB", "1TiB" (unit case-insensitive)
/// to bytes. InvalidArgument, naming the accepted forms, for anything else.
absl::StatusOr<std::uint64_t> ParseByteSize(std::string_view text);
/// The shortest exact spelling ParseByteSize accepts: 65536 -> "64KiB",
/// 1000 -> "1000".
std::string FormatByteSize(std::uint64_t bytes);

/// Parses "a.b.c.d:port" (IPv4, port 1..65535) into the address octets in
/// network order and the port; false for anything else.
bool ParseIpv4Endpoint(std::string_view text, std::uint32_t* address_be,
                       std::uint16_t* port);

/// A "host:port" endpoint, as [[backends]] endpoints are written.
struct HostPort {
  std::string host;        ///< an IPv4 address literal or a hostname
  std::uint16_t port = 0;  ///< 1..65535

  bool operator==(const HostPort&) const = default;
};

/// Parses "host:port": the host an IPv4 address literal ("10.0.0.5") or a
/// hostname (dot-separated labels of 1..63 letters, digits and '-', none
/// starting or ending with '-', at most 253 characters in all, the last
/// label not all digits), the port a decimal number 1..65535. Syntax only:
/// nothing is resolved. InvalidArgument saying which part is wrong and
/// quoting `text` otherwise (IPv6 is refused as such).
absl::StatusOr<HostPort> ParseHostPort(std::string_view text);

/// A [[udp_producers]] key: `key` (32 hex digits) if set, else the 32 hex
/// digits in `key_file` (surrounding whitespace ignored). InvalidArgument
/// or NotFound saying what is wrong, never quoting the key.
absl::StatusOr<std::array<std::byte, 16>> ReadProducerKey(
    std::string_view key, std::string_view key_file);

/// CPUs online on this machine; gateway.cpus entries must be below it.
int MachineCpuCount();

}  // namespace tachyon::config

#endif  // TACHYON_CONFIG_UNITS_H_
