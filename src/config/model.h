// The gateway's configuration model: plain, validated-elsewhere values.
//
// Overview
//   GatewayConfig is the immutable configuration the gateway runs on. This
//   header has no dependencies beyond the standard library, so every module
//   (the event core included) can take its settings from here without seeing
//   how they were read: config/reader.h reads them from TOML, config/flags.h
//   from the command line, and config/validate.h checks them.
//
// Example
//   tachyon::config::GatewayConfig c;   // the built-in defaults
//   c.workers = 2;
//   const StreamPolicy& policy = c.PolicyFor("md.eq.AAPL");
//
// Threading: plain data; build it on one thread, then share it read-only.
#ifndef TACHYON_CONFIG_MODEL_H_
#define TACHYON_CONFIG_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tachyon::config {

/// Which event core the workers run.
enum class IoBackend { kAuto, kEpoll, kUring };
/// What a worker does when a loop iteration found no work.
enum class IdleStrategy { kSpin, kBackoff, kBlock };
/// What happens when a subscriber falls more than `window` behind.
enum class SlowConsumerPolicy { kDisconnect, kBackpressure };

/// The spellings the config file and flags use for each enum value.
inline constexpr std::pair<IoBackend, std::string_view> kIoBackendNames[] = {
    {IoBackend::kAuto, "auto"},
    {IoBackend::kEpoll, "epoll"},
    {IoBackend::kUring, "uring"}};
inline constexpr std::pair<IdleStrategy, std::string_view>
    kIdleStrategyNames[] = {{IdleStrategy::kSpin, "spin"},
                            {IdleStrategy::kBackoff, "backoff"},
                            {IdleStrategy::kBlock, "block"}};
inline constexpr std::pair<SlowConsumerPolicy, std::string_view>
    kSlowConsumerPolicyNames[] = {
        {SlowConsumerPolicy::kDisconnect, "disconnect"},
        {SlowConsumerPolicy::kBackpressure, "backpressure"}};

/// [fastpath] mode: how UDP datagrams reach the gateway.
enum class FastPathMode { kSocket, kAfXdp, kDpdk };

/// DPDK mbufs per queue beyond its RX and TX descriptors: the RX burst a
/// queue holds until its next Receive (64) and the TX burst it builds (32),
/// rounded up.
inline constexpr std::uint32_t kDpdkPoolBurstSlack = 128;
inline constexpr std::pair<FastPathMode, std::string_view>
    kFastPathModeNames[] = {{FastPathMode::kSocket, "socket"},
                            {FastPathMode::kAfXdp, "af_xdp"},
                            {FastPathMode::kDpdk, "dpdk"}};
/// [fastpath] xdp_mode: where the XDP program runs.
enum class XdpMode { kNative, kGeneric };
inline constexpr std::pair<XdpMode, std::string_view> kXdpModeNames[] = {
    {XdpMode::kNative, "native"}, {XdpMode::kGeneric, "generic"}};
/// [fastpath] xdp_bind: how AF_XDP sockets bind their UMEM.
enum class XdpBind { kAuto, kCopy, kZeroCopy };
inline constexpr std::pair<XdpBind, std::string_view> kXdpBindNames[] = {
    {XdpBind::kAuto, "auto"},
    {XdpBind::kCopy, "copy"},
    {XdpBind::kZeroCopy, "zero_copy"}};

/// Stream log sizing and slow-consumer policy for streams matching `match`
/// (an exact name, or a prefix pattern ending in '*'; "*" matches all).
struct StreamPolicy {
  std::string match = "*";
  std::size_t capacity_bytes = 16u << 20;  ///< ring size, power of two
  std::size_t window_bytes = 8u << 20;     ///< <= capacity_bytes / 2
  /// kBackpressure (the default): a full stream holds its publishers (their
  /// connections go unread until the append fits) and nothing is lost;
  /// kDisconnect: publishers never wait, and a subscriber that falls too
  /// far behind is cut.
  SlowConsumerPolicy policy = SlowConsumerPolicy::kBackpressure;
  /// kDisconnect: a subscriber is cut once it has stayed more than
  /// window_bytes behind for this long (a burst it drains sooner is not
  /// held against it), or at once if the writer is about to overwrite what
  /// it has not sent.
  std::uint32_t lag_grace_ms = 500;
  /// kBackpressure: a subscriber at least half a window behind that sends
  /// nothing (its socket stays full) for this long is cut, so that it
  /// cannot hold its publishers forever. 0: never. Keep it below the
  /// clients' send timeout (5 s by default), which a held publisher's
  /// blocking Publish waits for.
  std::uint32_t stall_timeout_ms = 2000;
  /// A stream with no publisher, no subscriber and no new message for this
  /// long is retired and its memory returned (README, "Stream retirement").
  /// 0: never. Streams of [[udp.groups]] are never retired.
  std::uint32_t idle_retire_ms = 300'000;

  /// True if `stream_name` is `match`, or starts with the prefix of a
  /// pattern `match` ("md.*" matches "md.eq"; "*" matches every name).
  bool Matches(std::string_view stream_name) const;

  bool operator==(const StreamPolicy&) const = default;
};

struct SocketOptions {
  bool tcp_nodelay = true;
  int priority = 0;           ///< SO_PRIORITY 0..6 (0: leave unset)
  bool incoming_cpu = true;   ///< SO_INCOMING_CPU = the worker's CPU, if pinned
  int busy_poll_us = 0;       ///< SO_BUSY_POLL (0: off)
  int send_buffer_bytes = 0;  ///< SO_SNDBUF (0: kernel default)
  int recv_buffer_bytes = 0;  ///< SO_RCVBUF (0: kernel default)
  bool strict = false;        ///< fail start if an option cannot be set

  bool operator==(const SocketOptions&) const = default;
};

/// One [[udp.groups]] entry: a stream sent as UDP datagrams to fixed
/// destinations for as long as the gateway runs.
struct UdpGroup {
  std::string stream;                     ///< exact stream name
  std::vector<std::string> destinations;  ///< unicast "ip:port" (IPv4)
  std::string multicast;  ///< multicast group "ip:port"; empty: none
  int ttl = 1;            ///< IP_MULTICAST_TTL, 0..255
  std::string interface;  ///< IP_MULTICAST_IF (IPv4); empty: kernel route
  bool loopback = true;   ///< IP_MULTICAST_LOOP

  bool operator==(const UdpGroup&) const = default;
};

/// [udp]: datagram ingress (PUBLISH datagrams from producers) and egress
/// (DATA datagrams to UDP subscribers), PROTOCOL.md section 16.
struct UdpOptions {
  bool enabled = false;
  std::string bind;           ///< IPv4 literal; empty: gateway.bind
  std::uint16_t port = 7401;  ///< ingress port; 0 = ephemeral
  int recv_batch = 64;        ///< datagrams per recvmmsg, 1..1024
  int recv_buffer_bytes = 0;  ///< SO_RCVBUF of the ingress socket (0: kernel)
  int send_buffer_bytes = 0;  ///< SO_SNDBUF of egress sockets (0: kernel)
  /// Largest datagram sent or accepted: one 24-byte header and at least one
  /// 32-byte frame, at most 65507 (the IPv4 UDP payload limit).
  std::uint32_t max_datagram_bytes = 1472;
  int send_batch = 64;  ///< datagrams per sendmmsg, 1..1024
  /// HEARTBEAT datagrams for a stream idle this long, ms.
  std::uint32_t heartbeat_interval_ms = 100;
  bool gso = true;  ///< UDP_SEGMENT: runs of datagrams in one message
  /// UDP_SUBSCRIBE may name any address (else only the TCP peer's own).
  bool allow_remote_destinations = false;
  /// Drop (and count) version-1 datagrams, which carry no MAC
  /// (PROTOCOL.md 16.7): only [[udp_producers]] may publish.
  bool require_authentication = false;
  /// A datagram whose first producer sequence lies further than this from
  /// the producer's highest accepted one (either way, modulo 2^64) is
  /// dropped and counted as wild and moves nothing (PROTOCOL.md 16.5).
  std::uint64_t max_sequence_jump = 1'000'000;
  std::vector<UdpGroup> groups;

  bool operator==(const UdpOptions&) const = default;
};

/// One [[udp_producers]] entry: a UDP producer that signs its datagrams
/// (PROTOCOL.md 16.7) with a key the gateway shares.
struct UdpProducer {
  std::string name;      ///< for logs and errors, unique
  std::uint32_t id = 0;  ///< the datagrams' producer_id, 1..2^32-1, unique
  std::string key;       ///< 32 hex digits; or key_file
  std::string key_file;  ///< file holding the 32 hex digits (read at start)
  /// IPv4 networks ("10.1.0.0/16", "127.0.0.1/32", a bare address is /32)
  /// the producer's datagrams may come from; empty: any source.
  std::vector<std::string> allowed_sources;
  /// Stream names or patterns ("md.*", PROTOCOL.md 9.2) it may publish to.
  std::vector<std::string> publish;

  bool operator==(const UdpProducer&) const = default;
};

/// [fastpath]: kernel-bypass UDP (src/fastpath). "socket" is the kernel's
/// UDP stack; "af_xdp" and "dpdk" take the [udp] port's datagrams off
/// `interface` (AF_XDP) or a DPDK port before the kernel sees them and send
/// egress datagrams the same way. The [udp] section still decides the port,
/// batches, groups and limits.
struct FastPathOptions {
  FastPathMode mode = FastPathMode::kSocket;
  /// AF_XDP: the interface to attach to (required). DPDK: unused unless
  /// eal_args name no device (then a net_af_packet vdev on it).
  std::string interface;
  /// RX/TX queues, one per worker from worker 0: 1..workers.
  int queues = 1;
  /// First hardware queue (AF_XDP sockets bind start_queue + i).
  int start_queue = 0;
  XdpMode xdp_mode = XdpMode::kNative;
  XdpBind xdp_bind = XdpBind::kAuto;
  /// UMEM frames per queue (AF_XDP) / mbufs per queue (DPDK), power of two.
  /// DPDK needs at least rx_ring + tx_ring + kDpdkPoolBurstSlack.
  std::uint32_t frames = 4096;
  /// Bytes per UMEM frame: 2048 or 4096.
  std::uint32_t frame_size = 4096;
  /// Ring sizes, powers of two: RX and TX rings (AF_XDP, and DPDK
  /// descriptors), fill and completion rings (AF_XDP).
  std::uint32_t rx_ring = 2048;
  std::uint32_t tx_ring = 1024;
  std::uint32_t fill_ring = 2048;
  std::uint32_t completion_ring = 2048;
  /// DPDK EAL arguments, e.g. ["--no-huge", "-m", "64", "--vdev",
  /// "net_af_xdp0,iface=eth1"]; the program name is added.
  std::vector<std::string> eal_args;
  /// DPDK: the IPv4 address the gateway owns on its port (answers ARP for
  /// it, accepts UDP to it). AF_XDP: the interface's address when empty.
  std::string address;
  /// DPDK: the prefix length of `address`'s subnet, and the next hop for
  /// destinations outside it ("": none, such destinations are not sent).
  int prefix_len = 24;
  std::string gateway;
  /// Static neighbours, "ip=mac", before any kernel table or ARP.
  std::vector<std::string> neighbours;

  bool operator==(const FastPathOptions&) const = default;
};

/// [admin]: the admin HTTP server (src/admin): Prometheus metrics, health,
/// the JSON API and the dashboard.
struct AdminOptions {
  bool enabled = true;
  /// Address literal; anything but loopback requires a token.
  std::string bind = "127.0.0.1";
  /// 0 = ephemeral. Not 9090, which is Prometheus's own port.
  std::uint16_t port = 7480;
  /// Bearer token; empty: none (loopback binds only).
  std::string token;
  int max_connections = 32;   ///< HTTP and WebSocket connections, 1..1024
  std::string dashboard_dir;  ///< empty: the dashboard built with the gateway
  std::string chartjs_path;   ///< empty: Debian's libjs-chart.js file
  /// Time to read one request (and to write its reply), ms.
  int request_timeout_ms = 10000;

  bool operator==(const AdminOptions&) const = default;
};

/// [tls] verify_client: whether TLS clients must show a certificate.
enum class TlsVerifyClient { kNone, kOptional, kRequire };
inline constexpr std::pair<TlsVerifyClient, std::string_view>
    kTlsVerifyClientNames[] = {{TlsVerifyClient::kNone, "none"},
                               {TlsVerifyClient::kOptional, "optional"},
                               {TlsVerifyClient::kRequire, "require"}};

/// [tls]: TLS 1.3 on client connections, on its own port (README,
/// Security). Not reloadable.
struct TlsOptions {
  bool enabled = false;
  std::uint16_t port = 7443;  ///< the TLS listener (gateway.bind); 0: ephemeral
  /// Keep the plain TCP listener (gateway.port) beside the TLS one; false:
  /// TLS only.
  bool plain = true;
  std::string certificate;  ///< PEM certificate chain, leaf first
  std::string private_key;  ///< PEM private key (unencrypted)
  std::string client_ca;    ///< PEM CA file client certificates chain to
  TlsVerifyClient verify_client = TlsVerifyClient::kNone;
  /// A connection that has not finished its handshake by then is closed.
  std::uint32_t handshake_timeout_ms = 3000;

  bool operator==(const TlsOptions&) const = default;
};

/// One backend service ([[backends]]): REQUESTs with its id (or name) go to
/// its endpoints over per-worker pools of pre-connected, logged-on
/// connections (PROTOCOL.md section 13, "Backends" in the README).
struct BackendService {
  std::string name;                    ///< unique; 1..64 of [A-Za-z0-9._-]
  std::uint32_t id = 0;                ///< unique, >= 1
  std::vector<std::string> endpoints;  ///< "host:port", at least one
  std::string token;  ///< sent in the gateway's LOGON, at most 255 bytes
  /// Used when a REQUEST says timeout_ms = 0; 1..3600000.
  std::uint32_t request_timeout_ms = 1000;
  /// Requests outstanding on one backend connection at once, 1..65536.
  int max_in_flight_per_connection = 32;
  /// Requests waiting for a connection, per worker, beyond which a REQUEST
  /// is answered OVERLOADED at once; 0..1000000.
  int queue_limit = 1024;
  // Pool, per worker and endpoint.
  int pool_min = 1;   ///< connections kept ready even when idle, 0..pool_max
  int pool_max = 16;  ///< 1..4096
  /// Keep ready >= predicted concurrent requests x ratio (in connections:
  /// divided by max_in_flight_per_connection), 1.0..100.
  double prediction_ratio = 1.5;
  /// Anticipated demand per interested session: every live session on the
  /// worker that has looked the service up (SERVICE_LOOKUP) or sent it a
  /// REQUEST counts as this many concurrent requests, and the prediction
  /// is never below their sum, so a pool is ready for a population before
  /// it starts calling. 0 (off)..1000.
  double prediction_per_session = 1.0;
  /// How far ahead the demand trend is extrapolated, ms, 0..600000.
  std::uint32_t prediction_horizon_ms = 500;
  /// Half-life of the demand EWMA, ms, 1..600000.
  std::uint32_t prediction_half_life_ms = 200;
  /// An idle connection above min retires after this long, 1..86400000.
  std::uint32_t idle_retire_ms = 30000;
  /// Each retirement deadline is spread by up to +/- this much,
  /// 0..idle_retire_ms.
  std::uint32_t idle_retire_jitter_ms = 5000;
  /// Scheduled warm-ups: "HH:MM" (UTC) at which the pool holds
  /// warm_connections ready (0..pool_max) from warm_lead_ms before until
  /// warm_hold_ms after (each 0..43200000, so windows never reach the next
  /// day's).
  std::vector<std::string> warm_at;
  int warm_connections = 0;
  std::uint32_t warm_lead_ms = 60000;
  std::uint32_t warm_hold_ms = 300000;
  // Connecting and health.
  std::uint32_t connect_timeout_ms = 1000;  ///< 1..600000
  /// First retry (jittered), 1..reconnect_backoff_max_ms.
  std::uint32_t reconnect_backoff_ms = 50;
  /// Doubling stops here, 1..3600000.
  std::uint32_t reconnect_backoff_max_ms = 5000;
  /// HEARTBEAT on an idle pooled connection this often; a connection silent
  /// for 3 intervals has failed. 1..3600000.
  std::uint32_t heartbeat_interval_ms = 1000;
  /// Consecutive failures (connect, logon, heartbeat, malformed frames)
  /// that eject an endpoint (0..1000; 0: never eject), and for how long
  /// (1..3600000).
  int eject_after_failures = 3;
  std::uint32_t eject_ms = 5000;
  // TLS to the endpoints (TLS 1.3, before LOGON).
  bool tls = false;
  std::string ca_file;      ///< PEM CA the backend's certificate chains to
  std::string certificate;  ///< optional client certificate (PEM)
  std::string private_key;  ///< its key (PEM)
  std::string server_name;  ///< SNI and the name checked; empty: the host

  bool operator==(const BackendService&) const = default;
};

/// [auth]: how LOGON authenticates, and what anonymous sessions may do
/// (PROTOCOL.md section 7.8; src/auth/authenticator.h).
/// Allow lists hold stream names or prefix patterns ending in '*'
/// (PROTOCOL.md 9.2), service names or prefix patterns for `request`.
struct AuthOptions {
  /// Sessions whose LOGON names no principal are accepted as anonymous
  /// (with session.token still required when one is set). The built-in
  /// default keeps the pre-principal behaviour; a startup warning says so
  /// when the TCP listener is not loopback-only.
  bool anonymous = true;
  std::vector<std::string> anonymous_publish = {"*"};
  std::vector<std::string> anonymous_subscribe = {"*"};
  std::vector<std::string> anonymous_create = {"*"};
  std::vector<std::string> anonymous_request = {"*"};
  /// Quotas shared by all anonymous sessions together; 0: unlimited.
  int anonymous_max_connections = 0;
  int anonymous_max_streams_created = 0;
  int anonymous_max_subscriptions = 0;
  /// Full token verifications (PBKDF2, on the worker threads) the whole
  /// gateway does per second (a burst of as many); a LOGON that needs one
  /// past it is refused LIMIT_EXCEEDED. 0: unlimited.
  int max_verifications_per_second = 200;

  bool operator==(const AuthOptions&) const = default;
};

/// One [[principals]] entry: a user or service that LOGON authenticates
/// as (token "name:secret" checked against `token_hash`, or a TLS client
/// certificate whose subject is `certificate_subject`), with what it may
/// do. Allow lists are empty (nothing allowed) unless set; a deny entry
/// wins over any allow entry. Quotas: 0 is unlimited.
struct Principal {
  std::string name;  ///< unique; 1..64 of [A-Za-z0-9._-]
  /// "pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>"
  /// (tachyon-gateway --hash-token); empty: no token logon.
  std::string token_hash;
  std::string certificate_subject;           ///< empty: no certificate logon
  std::vector<std::string> allowed_sources;  ///< CIDRs; empty: anywhere
  std::vector<std::string> publish;
  std::vector<std::string> subscribe;
  std::vector<std::string> create;
  std::vector<std::string> request;
  std::vector<std::string> deny_publish;
  std::vector<std::string> deny_subscribe;
  std::vector<std::string> deny_create;
  std::vector<std::string> deny_request;
  int max_connections = 0;         ///< concurrent sessions, all workers
  int max_streams_created = 0;     ///< streams it created that still exist
  int max_subscriptions = 0;       ///< held at once, all its sessions
  std::uint32_t publish_rate = 0;  ///< messages/s, all its sessions
  /// Bytes queued for one of its sessions before it is cut as a slow
  /// consumer: caps limits.max_outbound_queue_bytes (the smaller wins).
  std::size_t max_buffered_bytes = 0;

  bool operator==(const Principal&) const = default;
};

struct GatewayConfig {
  // [gateway]
  std::string bind = "127.0.0.1";
  std::uint16_t port = 7400;
  int workers = 1;        ///< 1..64
  std::vector<int> cpus;  ///< worker i pinned to cpus[i]; empty: none
  IoBackend io = IoBackend::kAuto;
  IdleStrategy idle = IdleStrategy::kBackoff;
  /// backoff: µs an idle worker spins (by the clock) before it yields and
  /// blocks, 0..100000.
  int spin_budget_us = 50;
  int uring_entries = 1024;        ///< SQ size, power of two, 64..32768
  std::string log_level = "info";  ///< error | warn | info | debug
  /// A one-line summary of the counters is logged this often; 0: never.
  std::uint32_t summary_interval_ms = 60000;
  // [limits]
  std::uint32_t max_frame_length = 64 * 1024;  ///< 64..16 MiB
  int max_connections = 10000;
  int max_subscriptions_per_session = 1024;
  int max_streams = 4096;
  std::uint32_t max_publish_rate = 0;  ///< messages/s per session; 0 = none
  std::size_t max_outbound_queue_bytes = 1u << 20;  ///< control frames queued
  /// Total ring capacity of all stream logs; creating a stream beyond it
  /// fails with LIMIT_EXCEEDED. Bounds memory whatever clients do.
  /// >= every stream's capacity_bytes, <= 1 TiB.
  std::size_t max_log_memory_bytes = std::size_t{4} << 30;
  // [limits]: abuse limits (PROTOCOL.md 15).
  /// Concurrent TCP connections from one peer address; 0 = no limit.
  int max_connections_per_address = 256;
  /// Failed logons (LOGON_REJECT NOT_AUTHORIZED) one address may have per
  /// logon_failure_window_ms before its LOGONs are refused until the window
  /// passes; 0 = no budget.
  std::uint32_t logon_failures_per_address = 20;
  std::uint32_t logon_failure_window_ms = 60000;
  /// Addresses remembered for their logon failures, at most.
  std::uint32_t max_tracked_addresses = 65536;
  /// A frame split across reads must arrive at this average rate, bytes/s,
  /// once it has been in flight for frame_progress_grace_ms; 0 = no check.
  std::size_t min_frame_progress = 1024;
  std::uint32_t frame_progress_grace_ms = 10000;
  // [session]
  std::uint32_t heartbeat_interval_ms = 1000;  ///< default granted
  std::uint32_t min_heartbeat_interval_ms = 10;
  std::uint32_t max_heartbeat_interval_ms = 60000;
  /// Close a session after this many silent heartbeat intervals.
  std::uint32_t idle_timeout_heartbeats = 3;
  std::uint32_t logon_timeout_ms = 5000;
  std::string token;  ///< shared LOGON token; empty: not required
  std::uint32_t shutdown_drain_ms = 2000;  ///< SIGTERM: time to flush queues
  // [socket]
  SocketOptions socket;
  // [streams]: defaults, then [[streams.policies]] entries, first match wins.
  StreamPolicy default_stream;
  std::vector<StreamPolicy> stream_policies;
  // [udp] and [[udp.groups]]
  UdpOptions udp;
  // [[backends]]
  std::vector<BackendService> backends;
  // [[udp_producers]]
  std::vector<UdpProducer> udp_producers;
  // [admin]
  AdminOptions admin;
  // [fastpath]
  FastPathOptions fastpath;
  // [auth] and [[principals]]
  AuthOptions auth;
  std::vector<Principal> principals;
  // [tls]
  TlsOptions tls;

  /// udp.bind, or gateway.bind when udp.bind is empty.
  [[nodiscard]] const std::string& UdpBind() const {
    return udp.bind.empty() ? bind : udp.bind;
  }

  /// The policy for `stream_name`: the first matching entry, else default.
  /// The reference lives as long as this config.
  const StreamPolicy& PolicyFor(std::string_view stream_name) const;

  bool operator==(const GatewayConfig&) const = default;
};

/// The value `name` spells in `names` (one of the k*Names tables above);
/// nullopt for any other spelling.
template <typename E, std::size_t N>
constexpr std::optional<E> ValueNamed(
    const std::pair<E, std::string_view> (&names)[N], std::string_view name) {
  for (const auto& [value, spelling] : names) {
    if (spelling == name) return value;
  }
  return std::nullopt;
}

/// Lower-case names as the config file spells them ("auto", "spin", ...).
std::string_view IoBackendName(IoBackend io);
std::string_view IdleStrategyName(IdleStrategy idle);
std::string_view SlowConsumerPolicyName(SlowConsumerPolicy policy);
/// Inverses of the *Name functions; nullopt for any other spelling.
std::optional<IoBackend> ParseIoBackend(std::string_view name);
std::optional<IdleStrategy> ParseIdleStrategy(std::string_view name);
std::optional<SlowConsumerPolicy> ParseSlowConsumerPolicy(
    std::string_view name);

}  // namespace tachyon::config

#endif  // TACHYON_CONFIG_MODEL_H_
