// tachyon/client/options.h — how a Client connects, logs on and buffers.
//
// Overview
//   ClientOptions carries everything Client::Connect needs besides the
//   address: the LOGON fields (token, client name, requested heartbeat
//   interval), the timeouts that bound every blocking call, the sizes of the
//   preallocated buffers and the socket options. StartPosition says where a
//   subscription begins: the next message, the oldest message the gateway
//   still retains, or a given sequence (replay).
//
//   Every default is usable as is; a trading user typically lowers the
//   heartbeat interval and the timeouts, a telemetry user raises the receive
//   buffer. ConnectRetryOptions lets Connect wait for a gateway that is not
//   up yet; ReconnectOptions re-makes a session that was lost.
//
// Example
//   tachyon::client::ClientOptions options;
//   options.token = "md-feed:s3cret";  // principal "md-feed" (PROTOCOL.md 7.3)
//   options.client_name = "md-feed";
//   options.heartbeat_interval = std::chrono::milliseconds(250);
//   auto client = tachyon::client::Client::Connect("127.0.0.1", 7400, options);
//
// Threading: plain values; build them on any thread before Connect.
#ifndef TACHYON_CLIENT_OPTIONS_H_
#define TACHYON_CLIENT_OPTIONS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "tachyon/common/types.h"
#include "tachyon/protocol/stream_messages.h"

namespace tachyon::client {

/// Called for a non-fatal error that answers no blocking call: a
/// fire-and-forget Publish the gateway refused (BACK_PRESSURED,
/// LIMIT_EXCEEDED, UNKNOWN_STREAM), or an ERROR about a subscription. Runs on
/// the thread inside Poll (Client) or on the executor (AsyncClient).
using ErrorHandler = std::function<void(const absl::Status&)>;

/// What Publish, TryClaim and Commit do while a reconnecting client is
/// disconnected. Never a silent drop.
enum class DisconnectedPublish : std::uint8_t {
  kError,  ///< return UNAVAILABLE at once; nothing is sent
  kQueue,  ///< copy into a bounded local queue, sent in order after the
           ///< reconnect; RESOURCE_EXHAUSTED once the queue is full
};

/// A stream whose delivery position a gateway restart voided.
struct ResetStream {
  /// Borrowed for the duration of the GatewayRestartHandler call.
  std::string_view stream_name;
  /// The next sequence the stream owed this client in the old run: every
  /// earlier one was delivered (or reported as a Gap); this one and later
  /// ones of the old run never will be.
  Sequence next_sequence;
};

/// The client reconnected to a different run of the gateway than the one
/// its delivery positions were counted in (their instance epochs differ,
/// PROTOCOL.md 7.6): every stream of the new run began again at sequence 1.
/// The client drops every position and starts every subscription (exact
/// names and patterns) again from the earliest message the new run retains
/// (StartPosition::Earliest): all of them are new to it. Messages then
/// carry the new run's sequences, from 1; reset any de-duplication by
/// sequence here. Streams opened for publishing keep the ids OpenStream
/// returned.
struct GatewayRestart {
  /// The run the positions were counted in; 0 if that gateway announced no
  /// epoch (protocol version 1).
  std::uint64_t old_epoch = 0;
  /// The run now connected to; 0 if this gateway announces none.
  std::uint64_t new_epoch = 0;
  /// The streams that had a position, by name. Borrowed for the call.
  std::span<const ResetStream> streams;
};

/// Told about each gateway restart a reconnect finds, before any message of
/// the new run is delivered. Runs on the thread inside Poll.
using GatewayRestartHandler = std::function<void(const GatewayRestart&)>;

/// Automatic reconnection. When the connection is lost (the gateway closed
/// it, restarted, went silent, or declared this client a slow consumer),
/// Poll reconnects with exponential backoff and jitter, logs on again,
/// re-opens every stream and resumes every subscription from the next
/// sequence it expects: no gap and no duplicate while the gateway still
/// retains the data, a Gap when it does not. A reconnect that finds a
/// restarted gateway (a different instance epoch) does not resume: see
/// GatewayRestart. (With a gateway that announces no epoch, protocol
/// version 1, a restart is recognised only when a stream's next sequence
/// went backwards; the lost sequences are then reported as a Gap.)
struct ReconnectOptions {
  bool enabled = false;
  /// Delay before the second attempt (the first is immediate); doubles per
  /// failed attempt up to max_backoff.
  std::chrono::milliseconds initial_backoff{50};
  std::chrono::milliseconds max_backoff{5000};
  /// Each delay is scaled by a uniform factor in [1 - jitter, 1 + jitter] so
  /// that many clients do not reconnect in lockstep. 0..1.
  double jitter = 0.2;
  /// Consecutive failed attempts before giving up (the Client then stays
  /// closed with UNAVAILABLE); 0 retries forever.
  int max_attempts = 0;
  DisconnectedPublish publish = DisconnectedPublish::kError;
  /// Bytes of queued payloads (plus 8 per message) with kQueue.
  std::size_t queue_bytes = 1024 * 1024;
  /// Told when a reconnect finds a restarted gateway (see GatewayRestart).
  /// Unset: only counted in ClientStats::gateway_restarts.
  GatewayRestartHandler on_gateway_restart;
};

/// Called before each retry of Client::Connect with the failed attempt's
/// status, the attempt number (1 = the first) and the delay before the
/// next one. Runs on the thread inside Connect.
using ConnectRetryHandler = std::function<void(
    const absl::Status& failure, int attempt, std::chrono::milliseconds delay)>;

/// How Client::Connect treats a gateway that cannot be reached yet (a
/// refused or timed-out TCP connection, a reset, a gateway at its
/// connection limit or shutting down): with attempts > 1 it tries again
/// after a delay that starts at initial_backoff and doubles per failure up
/// to max_backoff, each scaled by a uniform factor in [1 - jitter,
/// 1 + jitter]. A refusal that would repeat (bad token, unsupported
/// version, a peer that is not a gateway) ends Connect at once. Each
/// attempt is bounded by connect_timeout, so Connect takes at most about
/// attempts x connect_timeout plus the delays. The default, 1 attempt, is
/// the plain Connect. (AsyncClient::AsyncConnect makes one attempt.)
struct ConnectRetryOptions {
  /// Attempts in all, >= 1.
  int attempts = 1;
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{2000};
  /// 0..1.
  double jitter = 0.2;
  /// Optional: told about each failed attempt that will be retried.
  ConnectRetryHandler on_retry;
};

/// TLS to the gateway's TLS listener ([tls] in its config): TLS 1.3, the
/// gateway's certificate verified against ca_file for server_name (or the
/// host Connect was given), and an optional client certificate, which a
/// gateway with tls.verify_client = require insists on.
struct ClientTlsOptions {
  bool enabled = false;
  /// PEM CA file the gateway's certificate chains to; empty: the system's
  /// CA store.
  std::string ca_file;
  /// Client certificate chain and its key (PEM); empty: none.
  std::string certificate;
  std::string private_key;
  /// Name sent as SNI and checked against the gateway's certificate (a DNS
  /// name or an IP literal); empty: the host given to Connect.
  std::string server_name;
  /// Verify the gateway's certificate. Turn off only for tests.
  bool verify = true;
};

struct ClientOptions {
  // --- LOGON ---------------------------------------------------------------
  /// The LOGON token, <= 255 bytes. For a gateway with principals
  /// (PROTOCOL.md 7.3, 7.8): "<principal-name>:<secret>", the secret whose
  /// hash the gateway's [[principals]] entry holds. For anonymous access: the
  /// gateway's shared session.token, or empty when it requires none. A
  /// refused token fails Connect with PERMISSION_DENIED ("logon token
  /// rejected"); a principal at its connection quota with RESOURCE_EXHAUSTED.
  /// Keep it out of argv and logs (read it from a file or the environment).
  std::string token;
  /// A name for the gateway's logs. <= 255 bytes.
  std::string client_name = "tachyon-client";
  /// Heartbeat interval to ask for; 0 takes the gateway's default. The
  /// gateway clamps it to its configured range; Client::heartbeat_interval()
  /// reports what was granted.
  std::chrono::milliseconds heartbeat_interval{0};

  // --- Timeouts: every blocking call is bounded by one of these ------------
  /// TCP connect plus LOGON / LOGON_ACK.
  std::chrono::milliseconds connect_timeout{5000};
  /// Waiting for OPEN_STREAM_ACK, SUBSCRIBE_ACK or PUBLISH_ACK.
  std::chrono::milliseconds response_timeout{5000};
  /// Waiting for room in the kernel's send buffer: how long a gateway that
  /// stops reading (flow control of a back-pressured stream) may hold a
  /// blocking Publish, or leave an AsyncClient's queued bytes unwritten. A
  /// send that times out closes the connection (UNAVAILABLE; a frame may be
  /// half written).
  std::chrono::milliseconds send_timeout{5000};
  /// Close(): how long to wait for the gateway's answering LOGOUT.
  std::chrono::milliseconds close_timeout{1000};

  // --- Buffers, allocated once at Connect ----------------------------------
  /// Receive buffer the frame decoder works in. Raised to two maximal frames
  /// if smaller. Larger lets one read syscall carry more messages.
  std::size_t receive_buffer_bytes = 256 * 1024;
  /// Publish coalescing. 0 (the default) sends every Publish at once: one
  /// send(2) per message, the lowest latency. N > 0 collects PUBLISH frames
  /// in an N-byte buffer and sends them together when it fills, on Flush(),
  /// at the start of every Poll(), and before any other request — far fewer
  /// syscalls for high-rate publishers. Messages still in the buffer when
  /// the connection fails are not sent; the call that finds the failure
  /// (Publish, Flush, Poll, ...) returns UNAVAILABLE.
  std::size_t publish_batch_bytes = 0;

  // --- Socket --------------------------------------------------------------
  /// Disable Nagle's algorithm (TCP_NODELAY). Leave on for latency.
  bool tcp_nodelay = true;
  /// SO_RCVBUF / SO_SNDBUF in bytes; 0 keeps the kernel default.
  int socket_receive_buffer = 0;
  int socket_send_buffer = 0;
  /// SO_BUSY_POLL in microseconds for blocking waits; 0 is off. Needs
  /// CAP_NET_ADMIN to raise above net.core.busy_read; failure is ignored.
  int busy_poll_us = 0;
  /// TLS (off by default; the connection is then plain TCP).
  ClientTlsOptions tls;

  // --- Resilience ----------------------------------------------------------
  /// Retrying the first connection (Client::Connect).
  ConnectRetryOptions connect_retry;
  /// Re-making a connection lost later.
  ReconnectOptions reconnect;

  // --- Callbacks -----------------------------------------------------------
  /// Non-fatal asynchronous errors (see ErrorHandler), and, with reconnect
  /// enabled, each loss of the connection (UNAVAILABLE). Unset: they are
  /// only counted in ClientStats::async_errors.
  ErrorHandler on_error;
};

/// How the poller thread of Client::StartBackgroundPolling waits for data.
enum class BackgroundIdle : std::uint8_t {
  kBlock,  ///< sleep in poll(2) until data arrives (shared hosts, telemetry)
  kSpin,   ///< never sleep: Poll without waiting, over and over (a
           ///< dedicated core, lowest latency)
};

/// The background-thread mode of the blocking Client.
struct BackgroundPollingOptions {
  /// Messages dispatched per Poll before the poller lets other threads in.
  int max_messages = 256;
  BackgroundIdle idle = BackgroundIdle::kBlock;
  /// Pin the poller to this CPU (PinThisThreadToCpu, affinity.h); -1 leaves
  /// it unpinned. A failure to pin is reported to on_error; polling goes
  /// on unpinned.
  int cpu = -1;
};

/// Where a subscription starts delivering (PROTOCOL.md section 11.3).
class StartPosition {
 public:
  /// Only messages appended after the subscription.
  static constexpr StartPosition Latest() {
    return StartPosition(protocol::StartMode::kLatest, Sequence{});
  }
  /// Everything the gateway still retains, then live messages.
  static constexpr StartPosition Earliest() {
    return StartPosition(protocol::StartMode::kEarliest, Sequence{});
  }
  /// Replay from `sequence` (>= 1). If it is no longer retained the gap
  /// handler sees the lost range first; beyond the end means "latest".
  static constexpr StartPosition From(Sequence sequence) {
    return StartPosition(protocol::StartMode::kSequence, sequence);
  }

  [[nodiscard]] constexpr protocol::StartMode mode() const { return mode_; }
  [[nodiscard]] constexpr Sequence sequence() const { return sequence_; }

 private:
  constexpr StartPosition(protocol::StartMode mode, Sequence sequence)
      : mode_(mode), sequence_(sequence) {}
  protocol::StartMode mode_;
  Sequence sequence_;
};

}  // namespace tachyon::client

#endif  // TACHYON_CLIENT_OPTIONS_H_
