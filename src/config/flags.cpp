// Command-line flags for the gateway configuration.
//
// Integers and bools are typed, so absl rejects "--workers=two" itself;
// byte sizes, enum names and the CPU list are strings handed to the config
// reader, so a bad value is reported by the same code, in the same words, as
// the file's would be ("--io: must be one of auto, epoll, uring, got
// 'kqueue'"). Ranges are checked once, by validation, for file and flags
// alike.
#include "config/flags.h"

#include <filesystem>
#include <system_error>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

ABSL_FLAG(std::optional<std::string>, config, std::nullopt,
          "Path of the TOML configuration file; config/gateway.toml documents "
          "every key. The flags below override its values. Default: "
          "config/gateway.toml if it exists, else the built-in defaults.");

// [gateway]
ABSL_FLAG(std::optional<std::string>, bind, std::nullopt,
          "gateway.bind: IPv4 or IPv6 address literal to listen on "
          "(default 127.0.0.1)");
ABSL_FLAG(std::optional<std::int64_t>, port, std::nullopt,
          "gateway.port: TCP port to listen on, 0..65535, 0 = ephemeral "
          "(default 7400)");
ABSL_FLAG(std::optional<std::int64_t>, workers, std::nullopt,
          "gateway.workers: worker threads, one reactor each, 1..64 "
          "(default 1)");
ABSL_FLAG(std::optional<std::string>, cpus, std::nullopt,
          "gateway.cpus: comma-separated CPU ids, worker i pinned to the i-th, "
          "e.g. 0,1; 'none' for no pinning (default none)");
ABSL_FLAG(std::optional<std::string>, io, std::nullopt,
          "gateway.io: event core: auto, epoll or uring (default auto)");
ABSL_FLAG(std::optional<std::string>, idle, std::nullopt,
          "gateway.idle: what an idle worker does: spin, backoff or block "
          "(default backoff)");
ABSL_FLAG(std::optional<std::int64_t>, uring_entries, std::nullopt,
          "gateway.uring_entries: io_uring submission queue size, a power of "
          "two, 64..32768 (default 1024)");
ABSL_FLAG(std::optional<std::string>, log_level, std::nullopt,
          "gateway.log_level: error, warn, info or debug (default info)");
// [limits]
ABSL_FLAG(std::optional<std::string>, max_frame_length, std::nullopt,
          "limits.max_frame_length: largest frame accepted, bytes or a size "
          "such as 64KiB, 1056..16MiB (default 64KiB)");
ABSL_FLAG(std::optional<std::int64_t>, max_connections, std::nullopt,
          "limits.max_connections: concurrent client connections, all "
          "workers, 1..1048576 (default 10000)");
ABSL_FLAG(std::optional<std::int64_t>, max_subscriptions_per_session,
          std::nullopt,
          "limits.max_subscriptions_per_session: subscriptions one session "
          "may hold, 1..65536 (default 1024)");
ABSL_FLAG(std::optional<std::int64_t>, max_streams, std::nullopt,
          "limits.max_streams: streams the gateway may create, 1..1048576 "
          "(default 4096)");
ABSL_FLAG(std::optional<std::int64_t>, max_publish_rate, std::nullopt,
          "limits.max_publish_rate: messages/s one session may publish, 0 "
          "for unlimited (default 0)");
ABSL_FLAG(std::optional<std::string>, max_outbound_queue_bytes, std::nullopt,
          "limits.max_outbound_queue_bytes: control frames queued per session "
          "before it is closed, 4KiB..1GiB (default 1MiB)");
ABSL_FLAG(std::optional<std::string>, max_log_memory_bytes, std::nullopt,
          "limits.max_log_memory_bytes: total ring capacity of all stream "
          "logs, >= every stream's capacity_bytes, up to 1TiB (default 4GiB)");
// [session]
ABSL_FLAG(std::optional<std::int64_t>, heartbeat_interval_ms, std::nullopt,
          "session.heartbeat_interval_ms: interval granted when LOGON asks "
          "for none, ms, min..max heartbeat interval (default 1000)");
ABSL_FLAG(std::optional<std::int64_t>, min_heartbeat_interval_ms, std::nullopt,
          "session.min_heartbeat_interval_ms: shortest interval a client may "
          "ask for, ms, 1..3600000 (default 10)");
ABSL_FLAG(std::optional<std::int64_t>, max_heartbeat_interval_ms, std::nullopt,
          "session.max_heartbeat_interval_ms: longest interval a client may "
          "ask for, ms, 1..3600000 (default 60000)");
ABSL_FLAG(std::optional<std::int64_t>, idle_timeout_heartbeats, std::nullopt,
          "session.idle_timeout_heartbeats: close a session silent for this "
          "many intervals, 1..1000 (default 3)");
ABSL_FLAG(std::optional<std::int64_t>, logon_timeout_ms, std::nullopt,
          "session.logon_timeout_ms: close a connection without LOGON after "
          "this long, ms, 1..600000 (default 5000)");
ABSL_FLAG(std::optional<std::string>, token, std::nullopt,
          "session.token: shared LOGON token, at most 255 bytes; visible to "
          "ps, so prefer the file (default none: no token required)");
ABSL_FLAG(std::optional<std::int64_t>, shutdown_drain_ms, std::nullopt,
          "session.shutdown_drain_ms: time to flush queues on SIGTERM, ms, "
          "0..600000 (default 2000)");
// [socket]
ABSL_FLAG(std::optional<bool>, tcp_nodelay, std::nullopt,
          "socket.tcp_nodelay: set TCP_NODELAY on client sockets, "
          "true|false (default true)");
ABSL_FLAG(std::optional<std::int64_t>, priority, std::nullopt,
          "socket.priority: SO_PRIORITY for client sockets, 0..6, 0 leaves "
          "it unset (default 0)");
ABSL_FLAG(std::optional<bool>, incoming_cpu, std::nullopt,
          "socket.incoming_cpu: set SO_INCOMING_CPU to a pinned worker's CPU, "
          "true|false (default true)");
ABSL_FLAG(std::optional<std::int64_t>, busy_poll_us, std::nullopt,
          "socket.busy_poll_us: SO_BUSY_POLL, microseconds, 0 (off)..1000000 "
          "(default 0)");
ABSL_FLAG(std::optional<std::string>, send_buffer_bytes, std::nullopt,
          "socket.send_buffer_bytes: SO_SNDBUF, bytes or a size such as "
          "4MiB, 0 (kernel default)..1GiB (default 0)");
ABSL_FLAG(std::optional<std::string>, recv_buffer_bytes, std::nullopt,
          "socket.recv_buffer_bytes: SO_RCVBUF, bytes or a size such as "
          "4MiB, 0 (kernel default)..1GiB (default 0)");
ABSL_FLAG(std::optional<bool>, socket_strict, std::nullopt,
          "socket.strict: refuse to start if a socket option cannot be set, "
          "true|false (default false)");
// [streams]
ABSL_FLAG(std::optional<std::string>, stream_capacity_bytes, std::nullopt,
          "streams.capacity_bytes: stream log size, a power of two, "
          "64KiB..4GiB and >= 4 * max_frame_length (default 16MiB)");
ABSL_FLAG(std::optional<std::string>, stream_window_bytes, std::nullopt,
          "streams.window_bytes: how far a subscriber may fall behind before "
          "the slow-consumer policy applies, 2 * max_frame_length.."
          "capacity / 2 (default 8MiB)");
ABSL_FLAG(std::optional<std::string>, stream_policy, std::nullopt,
          "streams.policy: slow-consumer policy: disconnect or backpressure "
          "(default disconnect)");
ABSL_FLAG(std::optional<bool>, udp_enabled, std::nullopt,
          "udp.enabled: serve UDP datagram ingress and egress, true|false "
          "(default false)");
ABSL_FLAG(std::optional<std::string>, udp_bind, std::nullopt,
          "udp.bind: IPv4 address literal for the UDP ingress socket, empty "
          "for gateway.bind (default empty)");
ABSL_FLAG(std::optional<std::int64_t>, udp_port, std::nullopt,
          "udp.port: UDP ingress port, 0..65535, 0 = ephemeral (default "
          "7401)");
ABSL_FLAG(std::optional<std::int64_t>, udp_recv_batch, std::nullopt,
          "udp.recv_batch: datagrams read per recvmmsg, 1..1024 (default 64)");
ABSL_FLAG(std::optional<std::string>, udp_recv_buffer_bytes, std::nullopt,
          "udp.recv_buffer_bytes: SO_RCVBUF of the UDP ingress socket, bytes "
          "or a size such as 8MiB, 0 (kernel default)..1GiB (default 0)");
ABSL_FLAG(std::optional<std::string>, udp_send_buffer_bytes, std::nullopt,
          "udp.send_buffer_bytes: SO_SNDBUF of the UDP egress sockets, bytes "
          "or a size such as 8MiB, 0 (kernel default)..1GiB (default 0)");
ABSL_FLAG(std::optional<std::string>, udp_max_datagram_bytes, std::nullopt,
          "udp.max_datagram_bytes: largest datagram sent or accepted, "
          "56..65507 (default 1472)");
ABSL_FLAG(std::optional<std::int64_t>, udp_send_batch, std::nullopt,
          "udp.send_batch: datagrams per sendmmsg, 1..1024 (default 64)");
ABSL_FLAG(std::optional<std::int64_t>, udp_heartbeat_interval_ms, std::nullopt,
          "udp.heartbeat_interval_ms: HEARTBEAT datagrams for a stream idle "
          "this long, ms, 1..60000 (default 100)");
ABSL_FLAG(std::optional<bool>, udp_gso, std::nullopt,
          "udp.gso: UDP generic segmentation offload for single-destination "
          "streams where the kernel has it, true|false (default true)");
ABSL_FLAG(std::optional<bool>, udp_allow_remote_destinations, std::nullopt,
          "udp.allow_remote_destinations: let UDP_SUBSCRIBE name any address, "
          "not just the TCP peer's own, true|false (default false)");

namespace tachyon::config {
namespace {

constexpr std::string_view kDefaultConfigPath = "config/gateway.toml";

using Value = KeyOverride::Value;
// nullopt: the flag holds no value.
using FlagValue = absl::StatusOr<std::optional<Value>>;

template <auto& kFlag>
FlagValue Get() {
  auto value = absl::GetFlag(kFlag);
  if (!value.has_value()) return std::nullopt;
  return Value(*std::move(value));
}

FlagValue GetCpus() {
  const std::optional<std::string> text = absl::GetFlag(FLAGS_cpus);
  if (!text.has_value()) return std::nullopt;
  std::vector<std::int64_t> cpus;
  const absl::string_view trimmed = absl::StripAsciiWhitespace(*text);
  if (trimmed == "none" || trimmed.empty()) return Value(cpus);
  for (absl::string_view part : absl::StrSplit(trimmed, ',')) {
    std::int64_t cpu = 0;
    if (!absl::SimpleAtoi(part, &cpu)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "expected a comma-separated list of CPU ids such as 0,1 (or none), "
          "got '",
          *text, "'"));
    }
    cpus.push_back(cpu);
  }
  return Value(std::move(cpus));
}

struct Binding {
  ConfigFlag names;
  FlagValue (*get)();
};

constexpr Binding kBindings[] = {
    {{"bind", "gateway.bind"}, &Get<FLAGS_bind>},
    {{"port", "gateway.port"}, &Get<FLAGS_port>},
    {{"workers", "gateway.workers"}, &Get<FLAGS_workers>},
    {{"cpus", "gateway.cpus"}, &GetCpus},
    {{"io", "gateway.io"}, &Get<FLAGS_io>},
    {{"idle", "gateway.idle"}, &Get<FLAGS_idle>},
    {{"uring_entries", "gateway.uring_entries"}, &Get<FLAGS_uring_entries>},
    {{"log_level", "gateway.log_level"}, &Get<FLAGS_log_level>},
    {{"max_frame_length", "limits.max_frame_length"},
     &Get<FLAGS_max_frame_length>},
    {{"max_connections", "limits.max_connections"},
     &Get<FLAGS_max_connections>},
    {{"max_subscriptions_per_session", "limits.max_subscriptions_per_session"},
     &Get<FLAGS_max_subscriptions_per_session>},
    {{"max_streams", "limits.max_streams"}, &Get<FLAGS_max_streams>},
    {{"max_publish_rate", "limits.max_publish_rate"},
     &Get<FLAGS_max_publish_rate>},
    {{"max_outbound_queue_bytes", "limits.max_outbound_queue_bytes"},
     &Get<FLAGS_max_outbound_queue_bytes>},
    {{"max_log_memory_bytes", "limits.max_log_memory_bytes"},
     &Get<FLAGS_max_log_memory_bytes>},
    {{"heartbeat_interval_ms", "session.heartbeat_interval_ms"},
     &Get<FLAGS_heartbeat_interval_ms>},
    {{"min_heartbeat_interval_ms", "session.min_heartbeat_interval_ms"},
     &Get<FLAGS_min_heartbeat_interval_ms>},
    {{"max_heartbeat_interval_ms", "session.max_heartbeat_interval_ms"},
     &Get<FLAGS_max_heartbeat_interval_ms>},
    {{"idle_timeout_heartbeats", "session.idle_timeout_heartbeats"},
     &Get<FLAGS_idle_timeout_heartbeats>},
    {{"logon_timeout_ms", "session.logon_timeout_ms"},
     &Get<FLAGS_logon_timeout_ms>},
    {{"token", "session.token"}, &Get<FLAGS_token>},
    {{"shutdown_drain_ms", "session.shutdown_drain_ms"},
     &Get<FLAGS_shutdown_drain_ms>},
    {{"tcp_nodelay", "socket.tcp_nodelay"}, &Get<FLAGS_tcp_nodelay>},
    {{"priority", "socket.priority"}, &Get<FLAGS_priority>},
    {{"incoming_cpu", "socket.incoming_cpu"}, &Get<FLAGS_incoming_cpu>},
    {{"busy_poll_us", "socket.busy_poll_us"}, &Get<FLAGS_busy_poll_us>},
    {{"send_buffer_bytes", "socket.send_buffer_bytes"},
     &Get<FLAGS_send_buffer_bytes>},
    {{"recv_buffer_bytes", "socket.recv_buffer_bytes"},
     &Get<FLAGS_recv_buffer_bytes>},
    {{"socket_strict", "socket.strict"}, &Get<FLAGS_socket_strict>},
    {{"stream_capacity_bytes", "streams.capacity_bytes"},
     &Get<FLAGS_stream_capacity_bytes>},
    {{"stream_window_bytes", "streams.window_bytes"},
     &Get<FLAGS_stream_window_bytes>},
    {{"stream_policy", "streams.policy"}, &Get<FLAGS_stream_policy>},
    {{"udp_enabled", "udp.enabled"}, &Get<FLAGS_udp_enabled>},
    {{"udp_bind", "udp.bind"}, &Get<FLAGS_udp_bind>},
    {{"udp_port", "udp.port"}, &Get<FLAGS_udp_port>},
    {{"udp_recv_batch", "udp.recv_batch"}, &Get<FLAGS_udp_recv_batch>},
    {{"udp_recv_buffer_bytes", "udp.recv_buffer_bytes"},
     &Get<FLAGS_udp_recv_buffer_bytes>},
    {{"udp_send_buffer_bytes", "udp.send_buffer_bytes"},
     &Get<FLAGS_udp_send_buffer_bytes>},
    {{"udp_max_datagram_bytes", "udp.max_datagram_bytes"},
     &Get<FLAGS_udp_max_datagram_bytes>},
    {{"udp_send_batch", "udp.send_batch"}, &Get<FLAGS_udp_send_batch>},
    {{"udp_heartbeat_interval_ms", "udp.heartbeat_interval_ms"},
     &Get<FLAGS_udp_heartbeat_interval_ms>},
    {{"udp_gso", "udp.gso"}, &Get<FLAGS_udp_gso>},
    {{"udp_allow_remote_destinations", "udp.allow_remote_destinations"},
     &Get<FLAGS_udp_allow_remote_destinations>},
};

}  // namespace

std::span<const ConfigFlag> ConfigFlags() {
  static const std::vector<ConfigFlag> flags = [] {
    std::vector<ConfigFlag> v;
    for (const Binding& b : kBindings) v.push_back(b.names);
    return v;
  }();
  return flags;
}

std::vector<std::string_view> SpecifiedConfigFlags() {
  std::vector<std::string_view> specified;
  for (const Binding& b : kBindings) {
    const FlagValue value = b.get();
    if (!value.ok() || value->has_value()) specified.push_back(b.names.flag);
  }
  return specified;
}

absl::StatusOr<std::vector<KeyOverride>> FlagOverrides() {
  std::vector<KeyOverride> overrides;
  for (const Binding& b : kBindings) {
    FlagValue value = b.get();
    const std::string origin = absl::StrCat("--", std::string(b.names.flag));
    if (!value.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": ", value.status().message()));
    }
    if (!value->has_value()) continue;
    overrides.push_back({std::string(b.names.key), origin, **std::move(value)});
  }
  return overrides;
}

std::string ConfigPathFromFlags() {
  if (std::optional<std::string> path = absl::GetFlag(FLAGS_config)) {
    return *path;
  }
  std::error_code ignored;
  return std::filesystem::exists(kDefaultConfigPath, ignored)
             ? std::string(kDefaultConfigPath)
             : std::string();
}

absl::StatusOr<GatewayConfig> LoadFromFlags() {
  absl::StatusOr<std::vector<KeyOverride>> overrides = FlagOverrides();
  if (!overrides.ok()) return overrides.status();
  return LoadConfigWithOverrides(ConfigPathFromFlags(), *overrides);
}

}  // namespace tachyon::config
