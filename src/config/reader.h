// Reading the gateway configuration from TOML, with key overrides.
//
// Overview
//   LoadConfigFile parses config/gateway.toml-style TOML with toml++ and
//   validates every key (config/validate.h); errors name the file, the line
//   and the key ("config/gateway.toml:12: session.heartbeat_interval_ms:
//   must be between 10 and 60000, got 5"). LoadConfigWithOverrides lets
//   individual keys be replaced after the file is read; config/flags.h uses
//   it so that any command-line flag (absl flags, one per key, e.g.
//   --workers=2 --io=uring) replaces the file's value, and the result is
//   validated once, with errors naming the flag ("--workers: must be
//   between 1 and 64, got 0").
//
//   The file has the tables [gateway], [limits], [session], [socket],
//   [streams] and [udp], plus the arrays of tables [[streams.policies]]
//   (entries, first match wins, inherit every key they omit from [streams]),
//   [[udp.groups]] (UDP destinations per stream) and the top-level
//   [[backends]] (one backend service each; errors name the entry,
//   "backends[1].pool_min"); config/keys.h lists every key. Floats
//   (backends' prediction_ratio) may be written as integers. Byte sizes are an
//   integer or a string with a binary unit
//   ("512KiB", "16MiB"). Every problem is reported (one line each, in file
//   order) as an InvalidArgument status; a missing file is NotFound.
//
// Example
//   absl::StatusOr<GatewayConfig> config =
//       LoadConfigFile("config/gateway.toml");
//   if (!config.ok()) return config.status();
//   const StreamPolicy& policy = config->PolicyFor("md.eq.AAPL");
//
// Threading: the loaders are reentrant; the GatewayConfig they return is
// plain data to share read-only.
#ifndef TACHYON_CONFIG_READER_H_
#define TACHYON_CONFIG_READER_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "config/model.h"

namespace tachyon::config {

/// Parses and validates a TOML file. Unknown keys are errors (a typo must not
/// silently fall back to a default). NotFound if the file cannot be read;
/// InvalidArgument, one "file:line: key: problem" line per problem, otherwise.
absl::StatusOr<GatewayConfig> LoadConfigFile(const std::string& path);
/// Same, from a string; `source_name` stands in for the file in errors.
absl::StatusOr<GatewayConfig> ParseConfig(std::string_view toml,
                                          const std::string& source_name);

/// A value that replaces one key after the file is read (a command-line
/// flag, typically). `value` takes the same forms the TOML key accepts: an
/// integer or a size string for byte sizes, a lower-case name for enums, a
/// list of integers for gateway.cpus, a list of strings for string lists
/// ([fastpath] eal_args), a double (or an integer) for floats.
struct KeyOverride {
  using Value =
      std::variant<bool, std::int64_t, std::string, std::vector<std::int64_t>,
                   double, std::vector<std::string>>;
  std::string key;     ///< dotted TOML key, "table.name" ("gateway.workers")
  std::string origin;  ///< how errors name the source ("--workers")
  Value value;
};

/// Backend services added after the file's [[backends]] entries (the
/// --backend flag, typically).
struct AddedBackends {
  std::string origin;  ///< how errors name the source ("--backend")
  std::vector<BackendService> services;
};

/// Loads `path` (or starts from the defaults if `path` is empty), applies
/// `overrides` in order, appends `added.services` to the backends, then
/// validates. Overriding a [streams] key also changes every
/// [[streams.policies]] entry that inherited it. Errors about an overridden
/// key name its origin instead of a file line ("--workers: ..."), and errors
/// about an added service its origin and key ("--backend: backends[1].id:
/// ..."); the error kinds are those of LoadConfigFile.
absl::StatusOr<GatewayConfig> LoadConfigWithOverrides(
    const std::string& path, std::span<const KeyOverride> overrides,
    const AddedBackends& added = {});

}  // namespace tachyon::config

#endif  // TACHYON_CONFIG_READER_H_
