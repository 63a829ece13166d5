// Command-line flags for the gateway configuration: one absl flag per TOML
// key, plus --config.
//
// Overview
//   Each flag is named after its key, with the table dropped where the name
//   stays unambiguous (--workers is gateway.workers) and a prefix kept where
//   it does not (--socket_strict is socket.strict, --stream_policy is
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
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "config/config.h"

ABSL_DECLARE_FLAG(std::optional<std::string>, config);
// [gateway]
ABSL_DECLARE_FLAG(std::optional<std::string>, bind);
ABSL_DECLARE_FLAG(std::optional<std::int64_t>, port);
ABSL_DECLARE_FLAG(std::optional<std::int64_t>, workers);
ABSL_DECLARE_FLAG(std::optional<std::string>, cpus);
ABSL_DECLARE_FLAG(std::optional<std::string>, io);
ABSL_DECLARE_FLAG(std::optional<std::string>, idle);
ABSL_DECLARE_FLAG(std::optional<std::int64_t>, uring_entries);
ABSL_DECLARE_FLAG(std::optional<std::string>, log_level);
// [limits]
ABSL_DECLARE_FLAG(std::optional<std::string>, max_frame_length);
ABSL_DECLARE_FLAG(std::optional<std::int64_t>, max_connections);
ABSL_DECLARE_FLAG(std::optional<std::int64_t>, max_subscriptions_per_session);
ABSL_DECLARE_FLAG(std::optional<std::int64_t>, max_streams);
ABSL_DECLARE_FLAG(std::optional<std::int64_t>, max_publish_rate);
ABSL_DECLARE_FLAG(std::optional<std::string>, max_outbound_queue_bytes);
ABSL_DECLARE_FLAG(std::optional<std::string>, max_log_memory_bytes);
// [session]
ABSL_DECLARE_FLAG(std::optional<std::int64_t>, heartbeat_interval_ms);
ABSL_DECLARE_FLAG(std::optional<std::int64_t>, min_heartbeat_interval_ms);
ABSL_DECLARE_FLAG(std::optional<std::int64_t>, max_heartbeat_interval_ms);
ABSL_DECLARE_FLAG(std::optional<std::int64_t>, idle_timeout_heartbeats);
ABSL_DECLARE_FLAG(std::optional<std::int64_t>, logon_timeout_ms);
ABSL_DECLARE_FLAG(std::optional<std::string>, token);
ABSL_DECLARE_FLAG(std::optional<std::int64_t>, shutdown_drain_ms);
// [socket]
ABSL_DECLARE_FLAG(std::optional<bool>, tcp_nodelay);
ABSL_DECLARE_FLAG(std::optional<std::int64_t>, priority);
ABSL_DECLARE_FLAG(std::optional<bool>, incoming_cpu);
ABSL_DECLARE_FLAG(std::optional<std::int64_t>, busy_poll_us);
ABSL_DECLARE_FLAG(std::optional<std::string>, send_buffer_bytes);
ABSL_DECLARE_FLAG(std::optional<std::string>, recv_buffer_bytes);
ABSL_DECLARE_FLAG(std::optional<bool>, socket_strict);
// [streams]
ABSL_DECLARE_FLAG(std::optional<std::string>, stream_capacity_bytes);
ABSL_DECLARE_FLAG(std::optional<std::string>, stream_window_bytes);
ABSL_DECLARE_FLAG(std::optional<std::string>, stream_policy);
// [udp]
ABSL_DECLARE_FLAG(std::optional<bool>, udp_enabled);
ABSL_DECLARE_FLAG(std::optional<std::string>, udp_bind);
ABSL_DECLARE_FLAG(std::optional<std::int64_t>, udp_port);
ABSL_DECLARE_FLAG(std::optional<std::int64_t>, udp_recv_batch);
ABSL_DECLARE_FLAG(std::optional<std::string>, udp_recv_buffer_bytes);
ABSL_DECLARE_FLAG(std::optional<std::string>, udp_send_buffer_bytes);
ABSL_DECLARE_FLAG(std::optional<std::string>, udp_max_datagram_bytes);
ABSL_DECLARE_FLAG(std::optional<std::int64_t>, udp_send_batch);
ABSL_DECLARE_FLAG(std::optional<std::int64_t>, udp_heartbeat_interval_ms);
ABSL_DECLARE_FLAG(std::optional<bool>, udp_gso);
ABSL_DECLARE_FLAG(std::optional<bool>, udp_allow_remote_destinations);

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
