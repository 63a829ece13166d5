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
//   --backend is not a key: it adds backend services after the file's
//   [[backends]] entries, for the common case of a name, an id and
//   endpoints with every other key at its default:
//
//     --backend=risk:1@127.0.0.1:9001,127.0.0.1:9002
//     --backend='risk:1@10.0.0.5:9001;quotes:2@quotes.internal:7600'
//
//   that is name:id@host:port[,host:port...], services separated by ';'
//   (absl keeps only the last of repeated flags, so several services go in
//   one value). The spec's shape is checked when the flags are read
//   ("--backend: no '@' before the endpoints; ..."); the name, id and endpoints
//   are validated as the file's are, errors naming the flag and the entry
//   ("--backend: backends[1].id: 1 is already the id of backends[0] ...").
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
    std::conditional_t<
        kKind == ValueKind::kBool, bool,
        std::conditional_t<kKind == ValueKind::kFloat, double, std::string>>>>;

}  // namespace tachyon::config

ABSL_DECLARE_FLAG(std::optional<std::string>, config);
ABSL_DECLARE_FLAG(std::optional<std::string>, backend);
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

/// Every flag that overrides one key (all config flags but --config and
/// --backend), in config/gateway.toml's key order.
std::span<const ConfigFlag> ConfigFlags();

/// The config flags (names without "--") that currently hold a value:
/// those of ConfigFlags() in its order, then "backend".
std::vector<std::string_view> SpecifiedConfigFlags();

/// The services a --backend value names ("" names none): each
/// name:id@host:port[,host:port...], separated by ';', white space around
/// the parts ignored, every other field at its default. InvalidArgument
/// saying what is missing and quoting the service otherwise (an empty
/// service or endpoint, no '@', no ':id', an id that is not a number up to
/// 4294967295). The name, a zero id and the endpoints are left to
/// validation.
absl::StatusOr<std::vector<BackendService>> ParseBackendFlag(
    std::string_view text);

/// The --backend flag's services, to append after the file's; errors name
/// the flag ("--backend: empty endpoint; ...").
absl::StatusOr<AddedBackends> BackendsFromFlags();

/// One override per config flag that holds a value, in ConfigFlags() order.
/// InvalidArgument naming the flag if a value cannot be one ("--cpus:
/// expected a comma-separated list of CPU ids such as 0,1 (or none), got
/// 'a'"); values are checked against their key when applied
/// (LoadConfigWithOverrides).
absl::StatusOr<std::vector<KeyOverride>> FlagOverrides();

/// The gateway's configuration: the --config file with FlagOverrides()
/// applied and BackendsFromFlags() appended, then validated, as
/// LoadConfigWithOverrides. Without --config, reads config/gateway.toml if
/// it exists, else starts from the built-in defaults (which that file
/// documents).
absl::StatusOr<GatewayConfig> LoadFromFlags();

/// The file LoadFromFlags reads ("" for the built-in defaults).
std::string ConfigPathFromFlags();

/// Checks the flag names on a command line (argv[1..]) before absl parses
/// it: every "-name" / "--name[=value]" must be a defined flag or one of
/// absl's built-in ones (--help, --helpfull, --version, ...). An unknown
/// one is InvalidArgument worded and suggested like a mistyped config key
/// ("--prot: unknown flag; did you mean '--port'?"). Stops at "--".
absl::Status CheckFlagNames(std::span<char* const> args);

}  // namespace tachyon::config

#endif  // TACHYON_CONFIG_FLAGS_H_
