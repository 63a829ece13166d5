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
//   buffer.
//
// Example
//   tachyon::client::ClientOptions options;
//   options.token = "secret";
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
#include <string>

#include "absl/status/status.h"
#include "tachyon/common/types.h"
#include "tachyon/protocol/stream_messages.h"

namespace tachyon::client {

/// Called for a non-fatal error that answers no blocking call: a
/// fire-and-forget Publish the gateway refused (BACK_PRESSURED,
/// LIMIT_EXCEEDED, UNKNOWN_STREAM), or an ERROR about a subscription. Runs on
/// the thread inside Poll (or another receiving call) that read the frame.
using ErrorHandler = std::function<void(const absl::Status&)>;

/// What Publish, TryClaim and Commit do while a reconnecting client is
/// disconnected. Never a silent drop.
enum class DisconnectedPublish : std::uint8_t {
  kError,  ///< return UNAVAILABLE at once; nothing is sent
  kQueue,  ///< copy into a bounded local queue, sent in order after the
           ///< reconnect; RESOURCE_EXHAUSTED once the queue is full
};

/// Automatic reconnection. When the connection is lost (the gateway closed
/// it, restarted, went silent, or declared this client a slow consumer),
/// Poll reconnects with exponential backoff and jitter, logs on again,
/// re-opens every stream and resumes every subscription from the next
/// sequence it expects: no gap and no duplicate while the gateway still
/// retains the data, a Gap when it does not.
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
};

struct ClientOptions {
  // --- LOGON ---------------------------------------------------------------
  /// The gateway's shared token; empty when it requires none. <= 255 bytes.
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
  /// Waiting for room in the kernel's send buffer. A send that times out
  /// closes the connection (a frame may be half written).
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

  // --- Resilience ----------------------------------------------------------
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
