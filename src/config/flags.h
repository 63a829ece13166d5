// Command-line flags for the gateway configuration: one absl flag per TOML
// key, plus --config.
//
// Overview
//   The flags are generated from the key list (config/keys.h): each is named
//   there, after its key, with the table dropped where the name stays
//   unambiguous (--workers is gateway.workers) and a prefix kept where it
//   does not (--socket_strict is socket.strict, --stream_policy is
//   streams.policy). Each flag's help text starts with its TOML key and ends
//   with the built-in default, so --helpfull doubles as a key index.
//
//   The flags are std::optional: a flag given a value overrides the file's
//   key, an unset one (or one reset with "--workers=") leaves the file alone.
//   (Abseil 20220623 keeps CommandLineFlag::IsSpecifiedOnCommandLine
//   private, and an optional says "was it given?" without a sentinel.) Bool
//   flags therefore need a value: --tcp_nodelay=false. Byte-size flags take
//   the file's forms ("256MiB", "4096"), enum flags the same lower-case
//   names, --cpus a comma list ("0,1"; "none" clears the file's pinning).
//   Overriding --stream_capacity_bytes, --stream_window_bytes or
//   --stream_policy also changes every [[streams.policies]] entry that
//   inherited the key.
//
// Example (the gateway's main)
//   absl::ParseCommandLine(argc, argv);
//   absl::StatusOr<tachyon::config::GatewayConfig> config =
//       tachyon::config::LoadFromFlags();
//   if (!config.ok()) { std::cerr << config.status().message() << "\n"; ... }
//
// Threading: reads global flags; call from main() after ParseCommandLine.
#ifndef TACHYON_CONFIG_FLAGS_H_
#define TACHYON_CONFIG_FLAGS_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "config/keys.h"
#include "config/model.h"
#include "config/reader.h"

namespace tachyon::config {

/// The type of the flag for a key of `kKind`: integers and bools typed (so
/// absl rejects "--workers=two" itself), everything else a string that the
/// reader converts as it would the file's value.
template <ValueKind kKind>
using FlagType = std::optional<std::conditional_t<
    kKind == ValueKind::kInt, std::int64_t,
    std::conditional_t<kKind == ValueKind::kBool, bool, std::string>>>;

}  // namespace tachyon::config

ABSL_DECLARE_FLAG(std::optional<std::string>, config);
// FLAGS_workers, FLAGS_socket_strict, ...: one per key.
#define TACHYON_CONFIG_DECLARE_FLAG(table, key, flag, kind, detail, help) \
  ABSL_DECLARE_FLAG(                                                      \
      tachyon::config::FlagType<tachyon::config::ValueKind::kind>, flag);
TACHYON_CONFIG_KEYS(TACHYON_CONFIG_DECLARE_FLAG)
#undef TACHYON_CONFIG_DECLARE_FLAG

namespace tachyon::config {

/// A config flag and the TOML key it overrides.
struct ConfigFlag {
  std::string_view flag;  ///< without "--": "workers"
  std::string_view key;   ///< dotted TOML key: "gateway.workers"
};

/// Every config flag except --config, in config/gateway.toml's key order.
std::span<const ConfigFlag> ConfigFlags();

/// The config flags (names without "--") that currently hold a value.
std::vector<std::string_view> SpecifiedConfigFlags();

/// One override per config flag that holds a value, in ConfigFlags() order.
/// InvalidArgument naming the flag if a value cannot be one ("--cpus:
/// expected a comma-separated list of CPU ids such as 0,1 (or none), got
/// 'a'"); values are checked against their key when applied
/// (LoadConfigWithOverrides).
absl::StatusOr<std::vector<KeyOverride>> FlagOverrides();

/// The gateway's configuration: the --config file with FlagOverrides()
/// applied, then validated, as LoadConfigWithOverrides. Without --config,
/// reads config/gateway.toml if it exists, else starts from the built-in
/// defaults (which that file documents).
absl::StatusOr<GatewayConfig> LoadFromFlags();

/// The file LoadFromFlags reads ("" for the built-in defaults).
std::string ConfigPathFromFlags();

}  // namespace tachyon::config

#endif  // TACHYON_CONFIG_FLAGS_H_
