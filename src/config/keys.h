// The configuration keys: the one list the TOML reader, the command-line
// flags and their help are generated from.
//
// Overview
//   Every key of the config file's tables appears once, below, as
//
//     X(table, key, flag, kind, detail, help)
//
//   - `table` and `key` spell the dotted TOML key ("gateway.workers"). `key`
//     is also the name of the member the value goes to, in the struct its
//     table fills (TACHYON_CONFIG_TABLES), so an entry without a model field
//     does not compile.
//   - `flag` is the command-line flag that overrides the key (--workers).
//   - `kind` is a ValueKind: how the reader converts the value, and the
//     flag's type.
//   - `detail` is the Range of an int, byte-size or CPU-list key, the name
//     table (model.h) of an enum key, and kNoDetail otherwise. The reader
//     words "does not fit" errors with the range; validation (validate.cpp)
//     enforces it, with the cross-field rules.
//   - `help` is the flag's help after "table.key: ": what the key means,
//     its range and "(default ...)", the built-in default, so that
//     --helpfull doubles as an index of the file's keys.
//
//   The arrays of tables ([[streams.policies]], [[udp.groups]] and the
//   top-level [[backends]]) are not addressable by a key flag; their keys are
//   listed separately (TACHYON_CONFIG_*_ENTRY_KEYS), and kArrays describes
//   the arrays. (--backend, config/flags.h, adds [[backends]] entries from a
//   compact spec instead.)
//
//   Generated from these lists: the reader's key rules (reader.cpp), the
//   ABSL_FLAG definitions and declarations and the flag -> key bindings
//   (flags.h, flags.cpp), and kKeys / kEntryKeys, which tests use to check
//   that the shipped configs, the flags and --helpfull agree with the list.
//
//   Adding a key: a row here and a member of the same name in the model
//   struct give it a reader rule and a flag. Its range rule goes in
//   validate.cpp (tests/unit/config/keys_test.cpp fails until a value just
//   outside the row's range is refused, and until the help's default is the
//   model's), and config/gateway.toml documents it.
//
// Example: listing every key
//   for (const KeyInfo& k : kKeys) std::cout << k.key << " --" << k.flag;
//
// Threading: constants only.
#ifndef TACHYON_CONFIG_KEYS_H_
#define TACHYON_CONFIG_KEYS_H_

#include <cstdint>
#include <limits>
#include <string_view>

#include "config/model.h"
#include "config/units.h"
#include "tachyon/protocol/wire.h"

namespace tachyon::config {

/// How a key's value is written, in the file and on the command line.
enum class ValueKind {
  kInt,         ///< TOML integer; an integer flag
  kBytes,       ///< integer or size string ("16MiB"); a string flag
  kBool,        ///< boolean; a bool flag (--udp_gso=false)
  kString,      ///< string; a string flag
  kEnum,        ///< one of the names in `detail`; a string flag
  kCpuList,     ///< array of CPU ids; a string flag, "0,1" or "none"
  kStringList,  ///< array of strings; a string flag, elements separated by
                ///< spaces, or "none"
  kFloat,       ///< TOML float (an integer is taken as one); a double flag
};

/// Inclusive bounds of a key's value.
struct Range {
  std::int64_t min;
  std::int64_t max;
  constexpr bool Contains(std::int64_t v) const { return v >= min && v <= max; }
};

/// Inclusive bounds of a floating-point key's value (the `detail` of a
/// kFloat key).
struct FloatRange {
  double min;
  double max;
  /// False for NaN.
  constexpr bool Contains(double v) const { return v >= min && v <= max; }
};

/// `detail` of a key whose kind needs none (bool, string, string list).
struct NoDetail {};
inline constexpr NoDetail kNoDetail{};

// 0 asks the kernel for an ephemeral port (tests, benchmarks); the gateway
// prints the port it got.
inline constexpr Range kPortRange{0, 65535};
inline constexpr Range kWorkersRange{1, 64};
inline constexpr Range kCpuIdRange{0, std::numeric_limits<int>::max()};
inline constexpr Range kUringEntriesRange{64, 32768};
inline constexpr Range kSummaryIntervalRange{0, 86'400'000};  // a day
// Up to 100 ms: past a few milliseconds backoff is spin in all but name.
inline constexpr Range kSpinBudgetRange{0, 100'000};
// At least 1056: an ERROR with the longest text (32 + 1024 bytes) must fit.
inline constexpr Range kMaxFrameLengthRange{1056,
                                            protocol::kMaxFrameLengthCeiling};
inline constexpr Range kMaxConnectionsRange{1, 1 << 20};
inline constexpr Range kMaxSubscriptionsRange{1, 1 << 16};
inline constexpr Range kMaxStreamsRange{1, 1 << 20};
inline constexpr Range kMaxPublishRateRange{
    0, std::numeric_limits<std::uint32_t>::max()};
inline constexpr Range kOutboundQueueRange{4 * kKiB, kGiB};
inline constexpr Range kLogMemoryRange{64 * kKiB, kTiB};
inline constexpr Range kConnectionsPerAddressRange{0, 1 << 20};
inline constexpr Range kLogonFailuresRange{0, 1'000'000};
inline constexpr Range kLogonFailureWindowRange{1, 86'400'000};  // a day
inline constexpr Range kTrackedAddressesRange{1024, 1 << 24};
inline constexpr Range kFrameProgressRange{0, kGiB};
inline constexpr Range kFrameProgressGraceRange{1, 600'000};
inline constexpr Range kHeartbeatRange{1, 3'600'000};  // any heartbeat key, ms
inline constexpr Range kIdleTimeoutHeartbeatsRange{1, 1000};
inline constexpr Range kLogonTimeoutRange{1, 600'000};
inline constexpr Range kShutdownDrainRange{0, 600'000};
inline constexpr Range kPriorityRange{0, 6};
inline constexpr Range kBusyPollRange{0, 1'000'000};
inline constexpr Range kSocketBufferRange{0, kGiB};
inline constexpr Range kCapacityRange{64 * kKiB, 4 * kGiB};
inline constexpr Range kWindowRange{0, 2 * kGiB};
inline constexpr Range kLagGraceRange{0, 60'000};
inline constexpr Range kStallTimeoutRange{0, 600'000};
inline constexpr Range kStreamIdleRetireRange{0, 86'400'000};  // a day
inline constexpr Range kBatchRange{1, 1024};  // udp.recv_batch, send_batch
inline constexpr Range kSequenceJumpRange{1, std::int64_t{1} << 62};
// [[udp_producers]] ids: a datagram's u32 producer_id, 0 meaning none.
inline constexpr Range kProducerIdRange{1, 0xFFFFFFFF};
// One datagram header and the smallest DATA frame, up to the IPv4 limit.
inline constexpr Range kDatagramRange{56, 65507};
inline constexpr Range kUdpHeartbeatRange{1, 60'000};
inline constexpr Range kTtlRange{0, 255};
// [[backends]] entries.
inline constexpr Range kServiceIdRange{
    1, std::numeric_limits<std::uint32_t>::max()};
inline constexpr Range kRequestTimeoutRange{1, 3'600'000};
inline constexpr Range kInFlightRange{1, 65'536};
inline constexpr Range kQueueLimitRange{0, 1'000'000};
inline constexpr Range kPoolMaxRange{1, 4096};
// pool_min and warm_connections: also at most the entry's pool_max.
inline constexpr Range kPoolConnectionsRange{0, 4096};
inline constexpr FloatRange kPredictionRatioRange{1.0, 100.0};
inline constexpr FloatRange kPredictionPerSessionRange{0.0, 1000.0};
// Ten minutes: a trend or an average over longer is no longer "demand now";
// scheduled warm-ups (warm_at) cover the slow, known patterns.
inline constexpr Range kPredictionHorizonRange{0, 600'000};
inline constexpr Range kPredictionHalfLifeRange{1, 600'000};
inline constexpr Range kIdleRetireRange{1, 86'400'000};  // a day
// Also at most the entry's idle_retire_ms.
inline constexpr Range kIdleRetireJitterRange{0, 86'400'000};
// Half a day each, so that a warm-up's window (lead + hold) never reaches the
// same warm_at time on the next day.
inline constexpr Range kWarmWindowRange{0, 43'200'000};
inline constexpr Range kConnectTimeoutRange{1, 600'000};
inline constexpr Range kTlsHandshakeTimeoutRange{1, 60'000};  // tls.
// reconnect_backoff_ms and _max_ms; the first at most the second.
inline constexpr Range kReconnectBackoffRange{1, 3'600'000};
inline constexpr Range kEjectAfterFailuresRange{0, 1000};
inline constexpr Range kEjectRange{1, 3'600'000};
// [admin]: concurrent HTTP and WebSocket connections of the admin server.
inline constexpr Range kAdminConnectionsRange{1, 1024};
// [admin]: time to read one request or write one reply, ms.
inline constexpr Range kAdminRequestTimeoutRange{50, 600'000};
// [fastpath]. Queues: also at most gateway.workers (one worker per queue).
inline constexpr Range kFastPathQueuesRange{1, 64};
inline constexpr Range kStartQueueRange{0, 1023};
// UMEM frames / mbufs per queue, a power of two: 512 frames keep a fill ring
// of 256 topped up; 2^20 frames of 4 KiB is 4 GiB of locked memory.
inline constexpr Range kFramesRange{512, 1 << 20};
// 2048 or 4096 (a UMEM chunk holds one frame and must be a power of two
// between 2 KiB and the page size).
inline constexpr Range kFrameSizeRange{2048, 4096};
// Rings, powers of two.
inline constexpr Range kRingRange{64, 32768};
inline constexpr Range kPrefixLenRange{1, 32};
// [auth] and [[principals]] quotas; 0 is unlimited.
inline constexpr Range kQuotaRange{0, 1 << 20};
inline constexpr Range kBufferedBytesRange{0, kGiB};

// clang-format off
// The lists read best as one row per key.

// [gateway] -> GatewayConfig
#define TACHYON_CONFIG_GATEWAY_KEYS(X)                                         \
  X(gateway, bind, bind, kString, kNoDetail,                                   \
    "IPv4 or IPv6 address literal to listen on (default 127.0.0.1)")           \
  X(gateway, port, port, kInt, kPortRange,                                     \
    "TCP port to listen on, 0..65535, 0 = ephemeral (default 7400)")           \
  X(gateway, workers, workers, kInt, kWorkersRange,                            \
    "worker threads, one reactor each, 1..64 (default 1)")                     \
  X(gateway, cpus, cpus, kCpuList, kCpuIdRange,                                \
    "comma-separated CPU ids, worker i pinned to the i-th, e.g. 0,1; "         \
    "'none' for no pinning (default none)")                                    \
  X(gateway, io, io, kEnum, kIoBackendNames,                                   \
    "event core: auto, epoll or uring (default auto)")                         \
  X(gateway, idle, idle, kEnum, kIdleStrategyNames,                            \
    "what an idle worker does: spin, backoff or block (default backoff)")      \
  X(gateway, spin_budget_us, spin_budget_us, kInt, kSpinBudgetRange,           \
    "backoff: how long an idle worker spins before it yields, then "           \
    "blocks, microseconds, 0..100000 (default 50)")                            \
  X(gateway, uring_entries, uring_entries, kInt, kUringEntriesRange,           \
    "io_uring submission queue size, a power of two, 64..32768 "               \
    "(default 1024)")                                                          \
  X(gateway, log_level, log_level, kString, kNoDetail,                         \
    "error, warn, info or debug (default info)")                               \
  X(gateway, summary_interval_ms, summary_interval_ms, kInt,                   \
    kSummaryIntervalRange,                                                     \
    "log a one-line summary of the counters this often, ms, 0 (never).."       \
    "86400000 (default 60000)")

// [limits] -> GatewayConfig
#define TACHYON_CONFIG_LIMITS_KEYS(X)                                          \
  X(limits, max_frame_length, max_frame_length, kBytes, kMaxFrameLengthRange,  \
    "largest frame accepted, bytes or a size such as 64KiB, 1056..16MiB "      \
    "(default 64KiB)")                                                         \
  X(limits, max_connections, max_connections, kInt, kMaxConnectionsRange,      \
    "concurrent client connections, all workers, 1..1048576 (default 10000)")  \
  X(limits, max_subscriptions_per_session, max_subscriptions_per_session,      \
    kInt, kMaxSubscriptionsRange,                                              \
    "subscriptions one session may hold, 1..65536 (default 1024)")             \
  X(limits, max_streams, max_streams, kInt, kMaxStreamsRange,                  \
    "streams the gateway may create, 1..1048576 (default 4096)")               \
  X(limits, max_publish_rate, max_publish_rate, kInt, kMaxPublishRateRange,    \
    "messages/s one session may publish, 0 for unlimited (default 0)")         \
  X(limits, max_outbound_queue_bytes, max_outbound_queue_bytes, kBytes,        \
    kOutboundQueueRange,                                                       \
    "control frames queued per session before it is closed, 4KiB..1GiB "       \
    "(default 1MiB)")                                                          \
  X(limits, max_log_memory_bytes, max_log_memory_bytes, kBytes,                \
    kLogMemoryRange,                                                           \
    "total ring capacity of all stream logs, >= every stream's "               \
    "capacity_bytes, up to 1TiB (default 4GiB)")                               \
  X(limits, max_connections_per_address, max_connections_per_address, kInt,    \
    kConnectionsPerAddressRange,                                               \
    "concurrent client connections from one address, 0 for unlimited, "        \
    "0..1048576 (default 256)")                                                \
  X(limits, logon_failures_per_address, logon_failures_per_address, kInt,      \
    kLogonFailuresRange,                                                       \
    "failed logons one address (IPv6: one /64) may have per "                  \
    "logon_failure_window_ms before its logons are refused (a full address "   \
    "table: new addresses share one such budget), 0 for unlimited, "           \
    "0..1000000 (default 20)")                                                 \
  X(limits, logon_failure_window_ms, logon_failure_window_ms, kInt,            \
    kLogonFailureWindowRange,                                                  \
    "the window of logon_failures_per_address, ms, 1..86400000 "               \
    "(default 60000)")                                                         \
  X(limits, max_tracked_addresses, max_tracked_addresses, kInt,                \
    kTrackedAddressesRange,                                                    \
    "addresses remembered for their logon failures, 1024..16777216 "           \
    "(default 65536)")                                                         \
  X(limits, min_frame_progress, min_frame_progress, kBytes,                    \
    kFrameProgressRange,                                                       \
    "bytes/s a frame split across reads must average once in flight for "      \
    "frame_progress_grace_ms, 0 for no check, up to 1GiB (default 1KiB)")      \
  X(limits, frame_progress_grace_ms, frame_progress_grace_ms, kInt,            \
    kFrameProgressGraceRange,                                                  \
    "how long a frame may be in flight before min_frame_progress applies, "    \
    "ms, 1..600000 (default 10000)")

// [session] -> GatewayConfig
#define TACHYON_CONFIG_SESSION_KEYS(X)                                         \
  X(session, heartbeat_interval_ms, heartbeat_interval_ms, kInt,               \
    kHeartbeatRange,                                                           \
    "interval granted when LOGON asks for none, ms, min..max heartbeat "       \
    "interval (default 1000)")                                                 \
  X(session, min_heartbeat_interval_ms, min_heartbeat_interval_ms, kInt,       \
    kHeartbeatRange,                                                           \
    "shortest interval a client may ask for, ms, 1..3600000 (default 10)")     \
  X(session, max_heartbeat_interval_ms, max_heartbeat_interval_ms, kInt,       \
    kHeartbeatRange,                                                           \
    "longest interval a client may ask for, ms, 1..3600000 (default 60000)")   \
  X(session, idle_timeout_heartbeats, idle_timeout_heartbeats, kInt,           \
    kIdleTimeoutHeartbeatsRange,                                               \
    "close a session silent for this many intervals, 1..1000 (default 3)")     \
  X(session, logon_timeout_ms, logon_timeout_ms, kInt, kLogonTimeoutRange,     \
    "close a connection without LOGON after this long, ms, 1..600000 "         \
    "(default 5000)")                                                          \
  X(session, token, token, kString, kNoDetail,                                 \
    "shared LOGON token, at most 255 bytes; visible to ps, so prefer the "     \
    "file (default none: no token required)")                                  \
  X(session, shutdown_drain_ms, shutdown_drain_ms, kInt, kShutdownDrainRange,  \
    "time to flush queues on SIGTERM, ms, 0..600000 (default 2000)")

// [socket] -> SocketOptions (GatewayConfig::socket)
#define TACHYON_CONFIG_SOCKET_KEYS(X)                                          \
  X(socket, tcp_nodelay, tcp_nodelay, kBool, kNoDetail,                        \
    "set TCP_NODELAY on client sockets, true|false (default true)")            \
  X(socket, priority, priority, kInt, kPriorityRange,                          \
    "SO_PRIORITY for client sockets, 0..6, 0 leaves it unset (default 0)")     \
  X(socket, incoming_cpu, incoming_cpu, kBool, kNoDetail,                      \
    "set SO_INCOMING_CPU to a pinned worker's CPU, true|false "                \
    "(default true)")                                                          \
  X(socket, busy_poll_us, busy_poll_us, kInt, kBusyPollRange,                  \
    "SO_BUSY_POLL, microseconds, 0 (off)..1000000 (default 0)")                \
  X(socket, send_buffer_bytes, send_buffer_bytes, kBytes, kSocketBufferRange,  \
    "SO_SNDBUF, bytes or a size such as 4MiB, 0 (kernel default)..1GiB "       \
    "(default 0)")                                                             \
  X(socket, recv_buffer_bytes, recv_buffer_bytes, kBytes, kSocketBufferRange,  \
    "SO_RCVBUF, bytes or a size such as 4MiB, 0 (kernel default)..1GiB "       \
    "(default 0)")                                                             \
  X(socket, strict, socket_strict, kBool, kNoDetail,                           \
    "refuse to start if a socket option cannot be set, true|false "            \
    "(default false)")

// [streams] -> StreamPolicy (GatewayConfig::default_stream). A
// [[streams.policies]] entry takes these keys too, inheriting those it omits.
#define TACHYON_CONFIG_STREAMS_KEYS(X)                                         \
  X(streams, capacity_bytes, stream_capacity_bytes, kBytes, kCapacityRange,    \
    "stream log size, a power of two, 64KiB..4GiB and >= 4 * "                 \
    "max_frame_length (default 16MiB)")                                        \
  X(streams, window_bytes, stream_window_bytes, kBytes, kWindowRange,          \
    "how far a subscriber may fall behind before the slow-consumer policy "    \
    "applies, 2 * max_frame_length..capacity / 2 (default 8MiB)")              \
  X(streams, policy, stream_policy, kEnum, kSlowConsumerPolicyNames,           \
    "slow-consumer policy: backpressure (a full stream holds its publishers) " \
    "or disconnect (cut the subscriber) (default backpressure)")               \
  X(streams, lag_grace_ms, stream_lag_grace_ms, kInt, kLagGraceRange,          \
    "disconnect policy: how long a subscriber may stay more than a window "    \
    "behind before it is cut, ms, 0..60000 (default 500)")                     \
  X(streams, stall_timeout_ms, stream_stall_timeout_ms, kInt,                  \
    kStallTimeoutRange,                                                        \
    "backpressure policy: how long a subscriber half a window or more behind " \
    "may send nothing before it is cut, ms, 0 (never)..600000 (default 2000)")\
  X(streams, idle_retire_ms, stream_idle_retire_ms, kInt,                      \
    kStreamIdleRetireRange,                                                    \
    "retire a stream with no publisher, no subscriber and no new message "     \
    "for this long, returning its memory, ms, 0 (never)..86400000 "            \
    "(default 300000)")

// [udp] -> UdpOptions (GatewayConfig::udp)
#define TACHYON_CONFIG_UDP_KEYS(X)                                             \
  X(udp, enabled, udp_enabled, kBool, kNoDetail,                               \
    "serve UDP datagram ingress and egress, true|false (default false)")       \
  X(udp, bind, udp_bind, kString, kNoDetail,                                   \
    "IPv4 address literal for the UDP ingress socket, empty for "              \
    "gateway.bind (default empty)")                                            \
  X(udp, port, udp_port, kInt, kPortRange,                                     \
    "UDP ingress port, 0..65535, 0 = ephemeral (default 7401)")                \
  X(udp, recv_batch, udp_recv_batch, kInt, kBatchRange,                        \
    "datagrams read per recvmmsg, 1..1024 (default 64)")                       \
  X(udp, recv_buffer_bytes, udp_recv_buffer_bytes, kBytes, kSocketBufferRange, \
    "SO_RCVBUF of the UDP ingress socket, bytes or a size such as 8MiB, "      \
    "0 (kernel default)..1GiB (default 0)")                                    \
  X(udp, send_buffer_bytes, udp_send_buffer_bytes, kBytes, kSocketBufferRange, \
    "SO_SNDBUF of the UDP egress sockets, bytes or a size such as 8MiB, "      \
    "0 (kernel default)..1GiB (default 0)")                                    \
  X(udp, max_datagram_bytes, udp_max_datagram_bytes, kBytes, kDatagramRange,   \
    "largest datagram sent or accepted, 56..65507 (default 1472)")             \
  X(udp, send_batch, udp_send_batch, kInt, kBatchRange,                        \
    "datagrams per sendmmsg, 1..1024 (default 64)")                            \
  X(udp, heartbeat_interval_ms, udp_heartbeat_interval_ms, kInt,               \
    kUdpHeartbeatRange,                                                        \
    "HEARTBEAT datagrams for a stream idle this long, ms, 1..60000 "           \
    "(default 100)")                                                           \
  X(udp, gso, udp_gso, kBool, kNoDetail,                                       \
    "UDP generic segmentation offload for single-destination streams where "   \
    "the kernel has it, true|false (default true)")                            \
  X(udp, allow_remote_destinations, udp_allow_remote_destinations, kBool,      \
    kNoDetail,                                                                 \
    "let UDP_SUBSCRIBE name any address, not just the TCP peer's own, "        \
    "true|false (default false)")                                              \
  X(udp, require_authentication, udp_require_authentication, kBool,            \
    kNoDetail,                                                                 \
    "drop datagrams without a MAC (version 1): only [[udp_producers]] may "    \
    "publish over UDP, true|false (default false)")                            \
  X(udp, max_sequence_jump, udp_max_sequence_jump, kInt, kSequenceJumpRange,   \
    "a PUBLISH datagram whose producer sequence jumps further than this "      \
    "from the producer's highest is dropped as wild, 1..2^62 "                 \
    "(default 1000000)")

// [admin] -> AdminOptions (GatewayConfig::admin)
#define TACHYON_CONFIG_ADMIN_KEYS(X)                                           \
  X(admin, enabled, admin_enabled, kBool, kNoDetail,                           \
    "serve the admin HTTP server (metrics, health, JSON API, dashboard), "     \
    "true|false (default true)")                                               \
  X(admin, bind, admin_bind, kString, kNoDetail,                               \
    "IPv4 or IPv6 address literal of the admin server; a non-loopback "        \
    "address needs admin.token (default 127.0.0.1)")                           \
  X(admin, port, admin_port, kInt, kPortRange,                                 \
    "admin HTTP port, 0..65535, 0 = ephemeral (default 7480)")                 \
  X(admin, token, admin_token, kString, kNoDetail,                             \
    "bearer token every admin request must carry (Authorization: Bearer), "    \
    "printable ASCII without spaces, at most 255 bytes (default none)")        \
  X(admin, max_connections, admin_max_connections, kInt,                       \
    kAdminConnectionsRange,                                                    \
    "concurrent admin connections, WebSockets included, 1..1024 "              \
    "(default 32)")                                                            \
  X(admin, dashboard_dir, admin_dashboard_dir, kString, kNoDetail,             \
    "directory the dashboard page is served from (default empty: the "         \
    "dashboard built with the gateway)")                                       \
  X(admin, chartjs_path, admin_chartjs_path, kString, kNoDetail,               \
    "Chart.js file served as /chart.js (default empty: Debian's "              \
    "libjs-chart.js, /usr/share/javascript/chart.js/)")                        \
  X(admin, request_timeout_ms, admin_request_timeout_ms, kInt,                 \
    kAdminRequestTimeoutRange,                                                 \
    "close an admin connection that takes longer to send one request (or "     \
    "to read its reply), ms, 50..600000 (default 10000)")

// [fastpath] -> FastPathOptions (GatewayConfig::fastpath). Not reloadable.
#define TACHYON_CONFIG_FASTPATH_KEYS(X)                                        \
  X(fastpath, mode, fastpath_mode, kEnum, kFastPathModeNames,                  \
    "UDP datagram path: socket (the kernel's), af_xdp or dpdk; af_xdp and "    \
    "dpdk need udp.enabled and privileges (README, Kernel bypass) "            \
    "(default socket)")                                                        \
  X(fastpath, interface, fastpath_interface, kString, kNoDetail,               \
    "af_xdp: the network interface to attach to (required); dpdk: a "          \
    "net_af_packet vdev on it when eal_args name no device (default empty)")   \
  X(fastpath, queues, fastpath_queues, kInt, kFastPathQueuesRange,             \
    "RX/TX queues, worker i serves queue start_queue + i, "                    \
    "1..gateway.workers (default 1)")                                          \
  X(fastpath, start_queue, fastpath_start_queue, kInt, kStartQueueRange,       \
    "af_xdp: first hardware queue bound, 0..1023 (default 0)")                 \
  X(fastpath, xdp_mode, fastpath_xdp_mode, kEnum, kXdpModeNames,               \
    "af_xdp: where the XDP program runs, native (the driver) or generic "      \
    "(default native)")                                                        \
  X(fastpath, xdp_bind, fastpath_xdp_bind, kEnum, kXdpBindNames,               \
    "af_xdp: auto (zero-copy, else copy, logged), copy or zero_copy "          \
    "(default auto)")                                                          \
  X(fastpath, frames, fastpath_frames, kInt, kFramesRange,                     \
    "UMEM frames (af_xdp) or mbufs (dpdk) per queue, a power of two, "         \
    "512..1048576 (default 4096)")                                             \
  X(fastpath, frame_size, fastpath_frame_size, kInt, kFrameSizeRange,          \
    "bytes per UMEM frame, 2048 or 4096 (default 4096)")                       \
  X(fastpath, rx_ring, fastpath_rx_ring, kInt, kRingRange,                     \
    "RX ring (af_xdp) or RX descriptors (dpdk), a power of two, 64..32768 "    \
    "(default 2048)")                                                          \
  X(fastpath, tx_ring, fastpath_tx_ring, kInt, kRingRange,                     \
    "TX ring (af_xdp) or TX descriptors (dpdk), a power of two, 64..32768 "    \
    "(default 1024)")                                                          \
  X(fastpath, fill_ring, fastpath_fill_ring, kInt, kRingRange,                 \
    "af_xdp: fill ring, a power of two, 64..32768 (default 2048)")             \
  X(fastpath, completion_ring, fastpath_completion_ring, kInt, kRingRange,     \
    "af_xdp: completion ring, a power of two, 64..32768 (default 2048)")       \
  X(fastpath, eal_args, fastpath_eal_args, kStringList, kNoDetail,             \
    "dpdk: EAL arguments, on the command line separated by spaces, e.g. "      \
    "'--no-huge -m 64 --vdev net_af_xdp0,iface=eth1' (default none)")          \
  X(fastpath, address, fastpath_address, kString, kNoDetail,                   \
    "dpdk: the IPv4 address the gateway owns on its port (required); "         \
    "af_xdp: the interface's address when empty (default empty)")              \
  X(fastpath, prefix_len, fastpath_prefix_len, kInt, kPrefixLenRange,          \
    "dpdk: prefix length of address's subnet, 1..32 (default 24)")             \
  X(fastpath, gateway, fastpath_gateway, kString, kNoDetail,                   \
    "dpdk: IPv4 next hop for destinations outside the subnet (default "        \
    "empty: none, such destinations are not sent)")                            \
  X(fastpath, neighbours, fastpath_neighbours, kStringList, kNoDetail,         \
    "static next hops \"ip=mac\", on the command line separated by spaces "    \
    "(default none)")

// [auth] -> AuthOptions (GatewayConfig::auth). Reloadable.
#define TACHYON_CONFIG_AUTH_KEYS(X)                                            \
  X(auth, anonymous, auth_anonymous, kBool, kNoDetail,                         \
    "accept a LOGON that names no principal as an anonymous session (with "   \
    "session.token if set), true|false (default true)")                        \
  X(auth, anonymous_publish, auth_anonymous_publish, kStringList, kNoDetail,   \
    "streams anonymous sessions may publish to, names or patterns ending "     \
    "in '*' (default *)")                                                      \
  X(auth, anonymous_subscribe, auth_anonymous_subscribe, kStringList,          \
    kNoDetail,                                                                 \
    "streams anonymous sessions may subscribe to, names or patterns "          \
    "(default *)")                                                             \
  X(auth, anonymous_create, auth_anonymous_create, kStringList, kNoDetail,     \
    "streams anonymous sessions may create, names or patterns (default *)")    \
  X(auth, anonymous_request, auth_anonymous_request, kStringList, kNoDetail,   \
    "services anonymous sessions may send REQUESTs to, names or patterns "     \
    "(default *)")                                                             \
  X(auth, anonymous_max_connections, auth_anonymous_max_connections, kInt,     \
    kQuotaRange,                                                               \
    "anonymous sessions at once, 0 for unlimited..1048576 (default 0)")        \
  X(auth, anonymous_max_streams_created, auth_anonymous_max_streams_created,   \
    kInt, kQuotaRange,                                                         \
    "streams anonymous sessions may have created, 0 for "                      \
    "unlimited..1048576 (default 0)")                                          \
  X(auth, anonymous_max_subscriptions, auth_anonymous_max_subscriptions,       \
    kInt, kQuotaRange,                                                         \
    "subscriptions all anonymous sessions may hold, 0 for "                    \
    "unlimited..1048576 (default 0)")                                          \
  X(auth, max_verifications_per_second, auth_max_verifications_per_second,     \
    kInt, kQuotaRange,                                                         \
    "full token verifications (PBKDF2) the whole gateway does per second; "    \
    "past it a LOGON needing one gets LOGON_REJECT LIMIT_EXCEEDED, 0 for "     \
    "unlimited..1048576 (default 200)")

// [tls] -> TlsOptions (GatewayConfig::tls). Not reloadable.
#define TACHYON_CONFIG_TLS_KEYS(X)                                             \
  X(tls, enabled, tls_enabled, kBool, kNoDetail,                               \
    "serve TLS 1.3 client connections on tls.port, true|false "                \
    "(default false)")                                                         \
  X(tls, port, tls_port, kInt, kPortRange,                                     \
    "TLS listener port on gateway.bind, 0..65535, 0 = ephemeral "              \
    "(default 7443)")                                                          \
  X(tls, plain, tls_plain, kBool, kNoDetail,                                   \
    "with tls.enabled, keep the plain TCP listener on gateway.port too; "      \
    "false: TLS only (default true)")                                          \
  X(tls, certificate, tls_certificate, kString, kNoDetail,                     \
    "PEM file of the gateway's certificate chain, leaf first (default "        \
    "empty)")                                                                  \
  X(tls, private_key, tls_private_key, kString, kNoDetail,                     \
    "PEM file of the certificate's private key, unencrypted (default "         \
    "empty)")                                                                  \
  X(tls, client_ca, tls_client_ca, kString, kNoDetail,                         \
    "PEM file of the CA client certificates must chain to; needed unless "     \
    "verify_client is none (default empty)")                                   \
  X(tls, verify_client, tls_verify_client, kEnum, kTlsVerifyClientNames,       \
    "client certificates: none (not asked for), optional (verified when "      \
    "sent) or require (default none)")                                         \
  X(tls, handshake_timeout_ms, tls_handshake_timeout_ms, kInt,                 \
    kTlsHandshakeTimeoutRange,                                                 \
    "close a connection whose TLS handshake has not finished by then, ms, "    \
    "1..60000 (default 3000)")

// The tables, in the order config/gateway.toml lists them:
//   T(table, KEYS, Struct, path, ...)
// KEYS is the table's key list; its keys are members of Struct, which sits
// at `path` in GatewayConfig (empty: GatewayConfig itself). Trailing
// arguments are passed through to T.
#define TACHYON_CONFIG_TABLES(T, ...)                                          \
  T(gateway, TACHYON_CONFIG_GATEWAY_KEYS, GatewayConfig, , __VA_ARGS__)        \
  T(limits, TACHYON_CONFIG_LIMITS_KEYS, GatewayConfig, , __VA_ARGS__)          \
  T(session, TACHYON_CONFIG_SESSION_KEYS, GatewayConfig, , __VA_ARGS__)        \
  T(socket, TACHYON_CONFIG_SOCKET_KEYS, SocketOptions, .socket, __VA_ARGS__)   \
  T(streams, TACHYON_CONFIG_STREAMS_KEYS, StreamPolicy, .default_stream,       \
    __VA_ARGS__)                                                               \
  T(udp, TACHYON_CONFIG_UDP_KEYS, UdpOptions, .udp, __VA_ARGS__)              \
  T(admin, TACHYON_CONFIG_ADMIN_KEYS, AdminOptions, .admin, __VA_ARGS__)     \
  T(fastpath, TACHYON_CONFIG_FASTPATH_KEYS, FastPathOptions, .fastpath,        \
    __VA_ARGS__)                                                               \
  T(auth, TACHYON_CONFIG_AUTH_KEYS, AuthOptions, .auth, __VA_ARGS__) \
  T(tls, TACHYON_CONFIG_TLS_KEYS, TlsOptions, .tls, __VA_ARGS__)

// Every key of every table, in file order: X(table, key, flag, kind, detail,
// help).
#define TACHYON_CONFIG_KEYS_OF_TABLE(table, KEYS, Struct, path, X) KEYS(X)
#define TACHYON_CONFIG_KEYS(X) \
  TACHYON_CONFIG_TABLES(TACHYON_CONFIG_KEYS_OF_TABLE, X)

// Keys of one [[streams.policies]] entry (a StreamPolicy) besides the
// [streams] keys it inherits: E(table, array, key, kind, detail).
#define TACHYON_CONFIG_STREAM_POLICY_ENTRY_KEYS(E)                             \
  E(streams, policies, match, kString, kNoDetail)

// Keys of one [[udp.groups]] entry (a UdpGroup).
#define TACHYON_CONFIG_UDP_GROUP_ENTRY_KEYS(E)                                 \
  E(udp, groups, stream, kString, kNoDetail)                                   \
  E(udp, groups, destinations, kStringList, kNoDetail)                         \
  E(udp, groups, multicast, kString, kNoDetail)                                \
  E(udp, groups, ttl, kInt, kTtlRange)                                         \
  E(udp, groups, interface, kString, kNoDetail)                                \
  E(udp, groups, loopback, kBool, kNoDetail)

// Keys of one top-level [[backends]] entry (a BackendService); `table` is
// empty.
#define TACHYON_CONFIG_BACKEND_ENTRY_KEYS(E)                                   \
  E(, backends, name, kString, kNoDetail)                                      \
  E(, backends, id, kInt, kServiceIdRange)                                     \
  E(, backends, endpoints, kStringList, kNoDetail)                             \
  E(, backends, token, kString, kNoDetail)                                     \
  E(, backends, request_timeout_ms, kInt, kRequestTimeoutRange)                \
  E(, backends, max_in_flight_per_connection, kInt, kInFlightRange)            \
  E(, backends, queue_limit, kInt, kQueueLimitRange)                           \
  E(, backends, pool_min, kInt, kPoolConnectionsRange)                         \
  E(, backends, pool_max, kInt, kPoolMaxRange)                                 \
  E(, backends, prediction_ratio, kFloat, kPredictionRatioRange)               \
  E(, backends, prediction_per_session, kFloat, kPredictionPerSessionRange)    \
  E(, backends, prediction_horizon_ms, kInt, kPredictionHorizonRange)          \
  E(, backends, prediction_half_life_ms, kInt, kPredictionHalfLifeRange)       \
  E(, backends, idle_retire_ms, kInt, kIdleRetireRange)                        \
  E(, backends, idle_retire_jitter_ms, kInt, kIdleRetireJitterRange)           \
  E(, backends, warm_at, kStringList, kNoDetail)                               \
  E(, backends, warm_connections, kInt, kPoolConnectionsRange)                 \
  E(, backends, warm_lead_ms, kInt, kWarmWindowRange)                          \
  E(, backends, warm_hold_ms, kInt, kWarmWindowRange)                          \
  E(, backends, connect_timeout_ms, kInt, kConnectTimeoutRange)                \
  E(, backends, reconnect_backoff_ms, kInt, kReconnectBackoffRange)            \
  E(, backends, reconnect_backoff_max_ms, kInt, kReconnectBackoffRange)        \
  E(, backends, heartbeat_interval_ms, kInt, kHeartbeatRange)                  \
  E(, backends, eject_after_failures, kInt, kEjectAfterFailuresRange)          \
  E(, backends, eject_ms, kInt, kEjectRange)                                   \
  E(, backends, tls, kBool, kNoDetail)                                         \
  E(, backends, ca_file, kString, kNoDetail)                                   \
  E(, backends, certificate, kString, kNoDetail)                               \
  E(, backends, private_key, kString, kNoDetail)                               \
  E(, backends, server_name, kString, kNoDetail)

// Keys of one top-level [[principals]] entry (a Principal).
#define TACHYON_CONFIG_PRINCIPAL_ENTRY_KEYS(E)                                 \
  E(, principals, name, kString, kNoDetail)                                    \
  E(, principals, token_hash, kString, kNoDetail)                              \
  E(, principals, certificate_subject, kString, kNoDetail)                     \
  E(, principals, allowed_sources, kStringList, kNoDetail)                     \
  E(, principals, publish, kStringList, kNoDetail)                             \
  E(, principals, subscribe, kStringList, kNoDetail)                           \
  E(, principals, create, kStringList, kNoDetail)                              \
  E(, principals, request, kStringList, kNoDetail)                             \
  E(, principals, deny_publish, kStringList, kNoDetail)                        \
  E(, principals, deny_subscribe, kStringList, kNoDetail)                      \
  E(, principals, deny_create, kStringList, kNoDetail)                         \
  E(, principals, deny_request, kStringList, kNoDetail)                        \
  E(, principals, max_connections, kInt, kQuotaRange)                          \
  E(, principals, max_streams_created, kInt, kQuotaRange)                      \
  E(, principals, max_subscriptions, kInt, kQuotaRange)                        \
  E(, principals, publish_rate, kInt, kMaxPublishRateRange)                    \
  E(, principals, max_buffered_bytes, kBytes, kBufferedBytesRange)

// Keys of one top-level [[udp_producers]] entry (a UdpProducer).
#define TACHYON_CONFIG_UDP_PRODUCER_ENTRY_KEYS(E)                              \
  E(, udp_producers, name, kString, kNoDetail)                                 \
  E(, udp_producers, id, kInt, kProducerIdRange)                               \
  E(, udp_producers, key, kString, kNoDetail)                                  \
  E(, udp_producers, key_file, kString, kNoDetail)                             \
  E(, udp_producers, allowed_sources, kStringList, kNoDetail)                  \
  E(, udp_producers, publish, kStringList, kNoDetail)

#define TACHYON_CONFIG_ENTRY_KEYS(E)                                           \
  TACHYON_CONFIG_STREAM_POLICY_ENTRY_KEYS(E)                                   \
  TACHYON_CONFIG_UDP_GROUP_ENTRY_KEYS(E)                                       \
  TACHYON_CONFIG_BACKEND_ENTRY_KEYS(E)                                         \
  TACHYON_CONFIG_PRINCIPAL_ENTRY_KEYS(E)                                      \
  TACHYON_CONFIG_UDP_PRODUCER_ENTRY_KEYS(E)

// clang-format on

/// A flag's help as --helpfull prints it: "table.key: help".
#define TACHYON_CONFIG_HELP(table, key, help) #table "." #key ": " help

/// One row of TACHYON_CONFIG_KEYS, as data.
struct KeyInfo {
  std::string_view table;  ///< "gateway"
  std::string_view name;   ///< "workers"
  std::string_view key;    ///< "gateway.workers"
  std::string_view flag;   ///< "workers" (without "--")
  ValueKind kind;
  const Range* range;     ///< the key's (or its elements') range, or null
  std::string_view help;  ///< the flag's full help, "gateway.workers: ..."
};

/// A row's `detail` as a range, if it is one.
constexpr const Range* RangeOf(const Range& range) { return &range; }
template <typename Detail>
constexpr const Range* RangeOf(const Detail& /*names or kNoDetail*/) {
  return nullptr;
}

// (Parameters not named as KeyInfo's members, which designators spell.)
#define TACHYON_CONFIG_KEY_INFO(t, k, f, value_kind, detail, text) \
  KeyInfo{.table = #t,                                             \
          .name = #k,                                              \
          .key = #t "." #k,                                        \
          .flag = #f,                                              \
          .kind = ValueKind::value_kind,                           \
          .range = RangeOf(detail),                                \
          .help = TACHYON_CONFIG_HELP(t, k, text)},
/// Every key with a flag, in file order.
inline constexpr KeyInfo kKeys[] = {
    TACHYON_CONFIG_KEYS(TACHYON_CONFIG_KEY_INFO)};
#undef TACHYON_CONFIG_KEY_INFO

#define TACHYON_CONFIG_TABLE_NAME(table, ...) std::string_view(#table),
/// The tables, in file order.
inline constexpr std::string_view kTableNames[] = {
    TACHYON_CONFIG_TABLES(TACHYON_CONFIG_TABLE_NAME)};
#undef TACHYON_CONFIG_TABLE_NAME

/// An array of tables: entries of one kind, each a TOML table.
struct ArrayInfo {
  std::string_view table;     ///< "streams"; "" for a top-level array
  std::string_view name;      ///< "policies"
  std::string_view key;       ///< "streams.policies"; "backends" at the top
  std::string_view inherits;  ///< table whose keys entries also take, or ""
  std::string_view required;  ///< key every entry must set
  std::string_view required_meaning;  ///< what `required` names
  std::string_view entries_meaning;   ///< what the entries are, for hints
};

inline constexpr ArrayInfo kStreamPolicies{
    .table = "streams",
    .name = "policies",
    .key = "streams.policies",
    .inherits = "streams",
    .required = "match",
    .required_meaning = "the stream name or pattern this entry is for",
    .entries_meaning = "per-stream policies"};
inline constexpr ArrayInfo kUdpGroups{
    .table = "udp",
    .name = "groups",
    .key = "udp.groups",
    .inherits = "",
    .required = "stream",
    .required_meaning = "the stream this group receives",
    .entries_meaning = "UDP groups"};
inline constexpr ArrayInfo kBackends{
    .table = "",
    .name = "backends",
    .key = "backends",
    .inherits = "",
    .required = "name",
    .required_meaning = "the service's name, which clients may look it up by",
    .entries_meaning = "backend services"};
inline constexpr ArrayInfo kPrincipals{
    .table = "",
    .name = "principals",
    .key = "principals",
    .inherits = "",
    .required = "name",
    .required_meaning = "the principal's name, which LOGON tokens start with",
    .entries_meaning = "principals (users and services)"};
inline constexpr ArrayInfo kUdpProducers{
    .table = "",
    .name = "udp_producers",
    .key = "udp_producers",
    .inherits = "",
    .required = "id",
    .required_meaning = "the producer_id its datagrams carry, 1..4294967295",
    .entries_meaning = "UDP producers"};
inline constexpr ArrayInfo kArrays[] = {kStreamPolicies, kUdpGroups, kBackends,
                                        kPrincipals, kUdpProducers};

/// One row of TACHYON_CONFIG_ENTRY_KEYS, as data.
struct EntryKeyInfo {
  std::string_view array;  ///< "udp.groups"; "backends"
  std::string_view name;   ///< "ttl"
  ValueKind kind;
  const Range* range;  ///< the key's (or its elements') range, or null
};

// The array's dotted key; a top-level array (empty `table`) drops the dot.
#define TACHYON_CONFIG_ENTRY_KEY_INFO(table, array, key, kind, detail)       \
  EntryKeyInfo{                                                              \
      std::string_view(#table "." #array).substr(sizeof(#table) == 1), #key, \
      ValueKind::kind, RangeOf(detail)},
/// The keys of array entries (not counting inherited ones).
inline constexpr EntryKeyInfo kEntryKeys[] = {
    TACHYON_CONFIG_ENTRY_KEYS(TACHYON_CONFIG_ENTRY_KEY_INFO)};
#undef TACHYON_CONFIG_ENTRY_KEY_INFO

}  // namespace tachyon::config

#endif  // TACHYON_CONFIG_KEYS_H_
