// Internal: the transport-agnostic protocol core shared by Client (blocking
// sockets) and AsyncClient (Asio).
//
// A SessionCore knows the protocol and nothing about how bytes move. It
// owns the receive buffer and its FrameDecoder, decodes frames in place and
// dispatches them: DATA and GAP to subscriptions (per-stream expected
// sequences, gap detection, duplicate dropping), SUBSCRIBE_ACK positioning
// streams (and resuming them after a reconnect), answers to requests
// (LOGON_ACK, OPEN_STREAM_ACK, SUBSCRIBE_ACK, PUBLISH_ACK, RESPONSE,
// SERVICE_LOOKUP_ACK, a non-fatal ERROR naming a request) matched against
// the table of pending requests, and the session-ending frames (fatal
// ERROR, LOGOUT, malformed input). It encodes the frames a client sends
// into a caller's buffer, keeps the subscription and stream tables, the
// streams opened for publishing, the liveness clock and the statistics.
//
// The transport — a SessionHost — moves the bytes: it fills ReceiveSpace()
// and calls Received() + Dispatch(), writes what the Encode* calls produced,
// and is told through SessionHost what only it can do (send a frame on the
// way out, end the connection, complete a waiting call).
//
// Holding: while a blocking call other than Poll waits for its answer, the
// core holds back (copies aside, in order) every frame that would run user
// code — DATA, GAP, refusals for on_error — and the next Dispatch delivers
// them first, so that handlers run only inside Poll (client.h, "Receiving").
//
// Files: session_core.cpp (lifecycle, dispatch, holding, pending requests,
// liveness, errors), session_encode.cpp (checks and encoders),
// session_frames.cpp (the frame handlers), session_streams.cpp (streams,
// subscriptions, resuming after a reconnect and gateway restarts).
//
// Threading: none of its own. The owner serialises every call (the blocking
// client's caller, or the AsyncClient's executor). Handlers and on_error run
// inside Dispatch / ReportAsync, on the calling thread.
#ifndef TACHYON_CLIENTS_CPP_SRC_SESSION_CORE_H_
#define TACHYON_CLIENTS_CPP_SRC_SESSION_CORE_H_

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tachyon/client/client.h"
#include "tachyon/client/message.h"
#include "tachyon/client/options.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::client::internal {

using SteadyClock = std::chrono::steady_clock;

// Longest control frame either side sends: an ERROR with 1024 bytes of text
// (a LOGON with a 255-byte token and name is shorter).
inline constexpr std::size_t kMaxControlFrame = 32 + 1024;
// The gateway never sends a frame longer than its LOGON_ACK announces; this
// floor keeps our control frames (and its ERRORs) decodable even if a
// misconfigured peer announces less.
inline constexpr std::uint32_t kMinSessionFrameLength = 1056;

// Debian's Abseil has its own absl::string_view (see src/core/strings.h).
inline absl::string_view View(std::string_view s) {
  return {s.data(), s.size()};
}
inline std::int64_t Millis(SteadyClock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}
/// CLOCK_REALTIME in ns (HEARTBEAT timestamps).
std::int64_t RealtimeNs();
/// "\"name\"", for messages.
std::string Quoted(std::string_view s);
/// INVALID_ARGUMENT naming what is wrong with a stream name or pattern.
absl::Status CheckStreamName(std::string_view name, bool allow_pattern);
/// Checks what Subscribe / AsyncSubscribe take, before anything is sent.
absl::Status CheckSubscribe(std::string_view name, StartPosition start,
                            const MessageHandler& on_message,
                            std::string_view method);
/// Checks a LOGON's token and client name (<= 255 bytes each).
absl::Status CheckLogonFields(const ClientOptions& options);

struct Subscription {
  SubscriptionId id;
  std::string name;
  bool pattern = false;
  StartPosition start = StartPosition::Latest();
  MessageHandler on_message;
  GapHandler on_gap;
  bool active = true;
  // Extra exact-name subscriptions made on reconnect to resume each stream
  // a pattern covered at its own position (ids of the current session).
  std::vector<std::uint32_t> aliases;
};

// Delivery state of one stream the session receives.
struct StreamState {
  std::string name;
  // Next sequence this stream owes us: every sequence >= it arrives exactly
  // once, as DATA or inside a GAP (PROTOCOL.md 11.3). Meaningful only once
  // `positioned`: a stream first acknowledged with next_sequence 0 ("already
  // being delivered", PROTOCOL.md 11.6) is positioned by its next DATA or
  // GAP instead.
  Sequence expected;
  bool positioned = false;
  absl::InlinedVector<Subscription*, 2> subscribers;
};

/// What a pending request waits for.
enum class ReplyKind : std::uint8_t {
  kLogon,          // LOGON_ACK (a LOGON_REJECT ends the session instead)
  kOpenStream,     // OPEN_STREAM_ACK, by request id
  kSubscribe,      // the first SUBSCRIBE_ACK, by subscription id
  kUdpSubscribe,   // SUBSCRIBE_ACK answering UDP_SUBSCRIBE, by subscription id
  kPublishAck,     // PUBLISH_ACK, by correlation id
  kResponse,       // RESPONSE, by correlation id
  kServiceLookup,  // SERVICE_LOOKUP_ACK, by correlation id
  kLogout,         // the gateway's LOGOUT answering ours
};

/// An answer to a pending request. Views borrow the receive buffer and are
/// valid only during SessionHost::OnReply.
struct Reply {
  ReplyKind kind = ReplyKind::kLogon;
  std::uint64_t id = 0;
  absl::Status status;  // OK, or the refusal (context added by the host)
  StreamId stream;      // kOpenStream, kUdpSubscribe
  Sequence sequence;    // kPublishAck, kUdpSubscribe (next_sequence)
  std::span<const std::byte> payload;  // kResponse
  std::uint32_t service_id = 0;        // kServiceLookup (0: no such name)
};

/// What the transport does for the core.
class SessionHost {
 public:
  /// A pending request was answered (the entry is already removed).
  virtual void OnReply(const Reply& reply) = 0;
  /// The session is over (the core's phase is already kClosed): a fatal
  /// ERROR, LOGOUT, LOGON_REJECT, silence, or malformed input. Close the
  /// connection; `status` says why.
  virtual void OnSessionFailed(absl::Status status) = 0;
  /// One attempt to send `frame` without waiting (an ERROR or LOGOUT on the
  /// way out); it may be dropped.
  virtual void SendBestEffort(std::span<const std::byte> frame) = 0;
  /// The gateway's LOGOUT was answered with ours: the connection ends
  /// gracefully (TLS: close_notify), just before OnSessionFailed.
  virtual void OnGracefulEnd() {}

 protected:
  ~SessionHost() = default;
};

class SessionCore {
 public:
  enum class Phase : std::uint8_t { kLoggingOn, kOpen, kClosing, kClosed };

  /// `options` and `host` must outlive the core.
  SessionCore(const ClientOptions& options, SessionHost& host);
  SessionCore(const SessionCore&) = delete;
  SessionCore& operator=(const SessionCore&) = delete;

  // --- Session lifecycle ---------------------------------------------------
  /// A new connection: forgets pending requests, resets the decoder (keeping
  /// the storage) and the liveness flags. Phase kLoggingOn.
  void BeginConnection();
  /// The connection is gone (no more delivery). Idempotent.
  void MarkClosed() { phase_ = Phase::kClosed; }
  [[nodiscard]] Phase phase() const { return phase_; }
  [[nodiscard]] bool logged_on() const {
    return phase_ == Phase::kOpen || phase_ == Phase::kClosing;
  }
  void set_peer(std::string peer) { peer_ = std::move(peer); }
  [[nodiscard]] const std::string& peer() const { return peer_; }
  /// The instance epoch of the gateway run of the current (or last)
  /// session; 0 before LOGON_ACK or when the gateway announced none
  /// (protocol version 1).
  [[nodiscard]] std::uint64_t gateway_epoch() const { return gateway_epoch_; }
  /// The protocol version LOGON_ACK granted in the current (or last)
  /// session; 0 before the first LOGON_ACK.
  [[nodiscard]] std::uint16_t negotiated_version() const {
    return negotiated_version_;
  }

  // --- Receiving -----------------------------------------------------------
  /// Where the transport reads to (never empty).
  std::span<std::byte> ReceiveSpace() { return decoder_->WritableSpan(); }
  /// `bytes` were read into ReceiveSpace().
  void Received(std::size_t bytes);
  /// Decodes and handles buffered frames until `max_messages` DATA frames
  /// were delivered, the buffer ends inside a frame, the session closed, or
  /// (with `stop_at_reply`) a pending request was answered. Held frames go
  /// first (unless holding). Returns the DATA frames delivered. Drops ended
  /// subscriptions afterwards.
  int Dispatch(int max_messages, bool stop_at_reply);

  // --- Holding back deliveries while a call waits (see the file comment) --
  /// While set, Dispatch handles answers to pending requests and the frames
  /// that end the session at once, and holds back the rest in order.
  void set_holding(bool holding) { holding_ = holding; }
  [[nodiscard]] bool has_held() const { return held_read_ < held_size_; }
  /// Delivers held frames, in order, up to `max_messages` DATA frames (also
  /// after the session failed: they arrived before its end). Returns the
  /// DATA frames delivered.
  int DispatchHeld(int max_messages);
  /// Forgets held frames (Close, or a new connection).
  void DropHeld() { held_read_ = held_size_ = 0; }

  /// The connection broke under the transport (a send or receive failed):
  /// looks through the frames still buffered for the gateway's last word —
  /// a fatal ERROR, LOGOUT or LOGON_REJECT sent before it closed — skipping
  /// (dropping) everything else. Returns the status that frame means, or
  /// nullopt when the buffer holds none (call again after Received()).
  std::optional<absl::Status> FindFarewell();

  // --- Pending requests ----------------------------------------------------
  void Expect(ReplyKind kind, std::uint64_t id);
  /// The caller stopped waiting (timeout): a late answer is ignored.
  void Forget(ReplyKind kind, std::uint64_t id);
  [[nodiscard]] bool IsPending(ReplyKind kind, std::uint64_t id) const;

  // --- Encoding what a client sends: each returns the frame's length -------
  std::uint32_t NextId() {
    if (next_id_ == 0) next_id_ = 1;
    return next_id_++;
  }
  std::uint64_t NextCorrelation() { return next_correlation_++; }
  /// LOGON from the options; expects kLogon.
  std::size_t EncodeLogon(std::span<std::byte> out);
  [[nodiscard]] std::size_t LogonLength() const;
  /// OPEN_STREAM `name` with request `id`; expects kOpenStream.
  std::size_t EncodeOpenStream(std::span<std::byte> out, std::uint32_t id,
                               std::string_view name);
  /// SUBSCRIBE; expects kSubscribe for `id`.
  std::size_t EncodeSubscribe(std::span<std::byte> out, std::uint32_t id,
                              std::string_view name, StartPosition start);
  static std::size_t SubscribeLength(std::string_view name);
  /// UDP_SUBSCRIBE: `address`:`port` (address in network order, all zero
  /// for this session's own address) gets `name` as datagrams; expects
  /// kUdpSubscribe for `id`.
  std::size_t EncodeUdpSubscribe(std::span<std::byte> out, std::uint32_t id,
                                 std::string_view name,
                                 std::array<std::uint8_t, 4> address,
                                 std::uint16_t port);
  /// PUBLISH to the stream's wire id; with kRequested expects kPublishAck
  /// for `correlation`. Counts the publish. No allocation without an ack.
  std::size_t EncodePublish(std::span<std::byte> out, std::uint32_t wire,
                            std::uint64_t correlation,
                            std::span<const std::byte> payload,
                            protocol::AckMode ack = protocol::AckMode::kNone);
  /// REQUEST; expects kResponse for `correlation`. `timeout` is sent to
  /// the gateway (clamped to u32 ms).
  std::size_t EncodeRequest(std::span<std::byte> out, std::uint64_t correlation,
                            std::uint32_t service_id,
                            std::chrono::milliseconds timeout,
                            std::span<const std::byte> payload);
  /// Whether LookupService / AsyncLookupService may ask for `name`:
  /// INVALID_ARGUMENT for an empty or over-long name, UNIMPLEMENTED when
  /// the session's protocol version has no SERVICE_LOOKUP (below 3).
  [[nodiscard]] absl::Status CheckServiceLookup(std::string_view name) const;
  /// NOT_FOUND: the gateway has no service called `name`.
  [[nodiscard]] absl::Status NoServiceNamed(std::string_view name) const;
  /// SERVICE_LOOKUP of `name` (1..64 bytes; 0 is returned otherwise);
  /// expects kServiceLookup for `correlation`.
  std::size_t EncodeServiceLookup(std::span<std::byte> out,
                                  std::uint64_t correlation,
                                  std::string_view name);
  std::size_t EncodeHeartbeat(std::span<std::byte> out);
  /// LOGOUT; the phase becomes kClosing (nothing more is delivered) and
  /// kLogout is expected.
  std::size_t EncodeLogout(std::span<std::byte> out);
  /// A LOGOUT for a frame sent best-effort on the way out (no state change).
  static std::span<const std::byte> LogoutFrame();

  // --- Streams opened for publishing ---------------------------------------
  /// The id OpenStream returned for `name`, if it was opened.
  [[nodiscard]] std::optional<StreamId> FindOpened(std::string_view name) const;
  /// Records `name` -> `id` (the id the user sees, and its wire id).
  void RecordOpened(std::string_view name, StreamId id);
  /// Validates a publish of `length` bytes to `stream`; returns the wire id.
  /// `open_method` names the call that opens streams, for the message.
  absl::StatusOr<std::uint32_t> CheckPublish(
      StreamId stream, std::size_t length, std::string_view open_method) const;
  /// The wire id of a user stream id; 0 if unknown or not re-opened.
  [[nodiscard]] std::uint32_t WireId(StreamId stream) const;
  void SetWireId(StreamId stream, std::uint32_t wire) {
    wire_ids_[stream.value()] = wire;
  }
  [[nodiscard]] const absl::flat_hash_map<std::string, StreamId>& opened()
      const {
    return open_by_name_;
  }

  // --- Subscriptions -------------------------------------------------------
  /// Registers a subscription (delivery starts with its SUBSCRIBE_ACK).
  Subscription* AddSubscription(std::uint32_t id, std::string_view name,
                                StartPosition start, MessageHandler on_message,
                                GapHandler on_gap);
  /// Marks a subscription ended (its handlers are not called again) and
  /// returns it so that the caller can tell the gateway (its id and
  /// aliases); NOT_FOUND for an unknown or ended id. Call CleanupIfIdle()
  /// after.
  absl::StatusOr<const Subscription*> EndSubscription(SubscriptionId id);
  /// Drops ended subscriptions unless a handler is running (a handler may
  /// end its own subscription; it is dropped once the handler returns).
  void CleanupIfIdle();
  [[nodiscard]] bool in_callback() const { return in_callback_ > 0; }

  // --- Resuming after a reconnect (blocking client) ------------------------
  /// Moves the delivery state of every stream to the resume table, by name
  /// (stream ids belong to one gateway run), and forgets pattern aliases.
  /// Then, if the session just logged on to a different gateway run than
  /// the one the positions were counted in (instance epochs differ,
  /// PROTOCOL.md 7.6), drops every position, counts and reports the
  /// restart (ReconnectOptions::on_gateway_restart) and returns true: every
  /// subscription then starts again from the new run's earliest message.
  bool PrepareResume();
  /// Where to resume `name` for a subscription: From(expected) when the
  /// stream was positioned, else `fallback`.
  [[nodiscard]] StartPosition ResumePosition(std::string_view name,
                                             StartPosition fallback) const;
  /// The positioned streams a pattern subscription was delivering, to be
  /// pinned by exact-name aliases before the pattern is renewed.
  [[nodiscard]] std::vector<std::pair<std::string, Sequence>> CoveredStreams(
      const Subscription& pattern) const;
  /// Registers `alias` as an extra id of `sub` for this session.
  void AddAlias(Subscription& sub, std::uint32_t alias);
  /// Positions no subscription asked for any more.
  void ClearResume() { resume_states_.clear(); }
  /// Client::Positions: the positioned streams of the current session, by
  /// name.
  [[nodiscard]] std::vector<StreamPosition> Positions() const;
  [[nodiscard]] absl::flat_hash_map<std::uint32_t,
                                    std::unique_ptr<Subscription>>&
  subscriptions() {
    return subs_;
  }

  // --- Liveness ------------------------------------------------------------
  /// Set on the data path; turned into times by CheckLiveness so that
  /// publishing and receiving never read the clock.
  void MarkSent() { sent_since_check_ = true; }
  void StartLiveness(SteadyClock::time_point now) {
    last_send_ = last_receive_ = now;
    sent_since_check_ = received_since_check_ = false;
  }
  /// Whether CheckLiveness at `now` would find the gateway silent. A host
  /// that woke late (descheduled on a busy machine) may hold the gateway's
  /// heartbeat unread in its socket: it looks there first and, finding
  /// bytes, calls NoteUnreadBytes, so that a late wake-up is not taken for
  /// the gateway's silence.
  [[nodiscard]] bool SilentAt(SteadyClock::time_point now) const {
    return !received_since_check_ && now - last_receive_ >= 3 * heartbeat_;
  }
  void NoteUnreadBytes() { received_since_check_ = true; }
  /// Fails the session (ERROR HEARTBEAT_TIMEOUT best-effort, then
  /// OnSessionFailed) after 3 silent heartbeat intervals; otherwise returns
  /// whether a heartbeat is due (never after our LOGOUT, PROTOCOL.md 14.4).
  bool CheckLiveness(SteadyClock::time_point now);
  /// A heartbeat left at `now`.
  void HeartbeatSent(SteadyClock::time_point now);

  // --- Errors --------------------------------------------------------------
  /// Counts `status` and hands it to on_error (inside a callback scope).
  void ReportAsync(absl::Status status);
  /// Sends ERROR `code` (FATAL) best-effort, then fails with DATA_LOSS.
  void ProtocolViolation(protocol::ErrorCode code, std::string_view what);

  // --- Session parameters, from LOGON_ACK ----------------------------------
  [[nodiscard]] SessionId session_id() const { return session_id_; }
  [[nodiscard]] std::chrono::milliseconds heartbeat() const {
    return heartbeat_;
  }
  [[nodiscard]] std::uint32_t max_frame_length() const {
    return max_frame_length_;
  }
  [[nodiscard]] std::size_t max_payload() const { return max_payload_; }
  [[nodiscard]] ClientStats& stats() { return stats_; }
  [[nodiscard]] const ClientStats& stats() const { return stats_; }

 private:
  // Marks the dynamic extent of a user callback (handlers, on_error).
  class CallbackScope {
   public:
    explicit CallbackScope(SessionCore* core) : core_(core) {
      ++core_->in_callback_;
    }
    ~CallbackScope() { --core_->in_callback_; }
    CallbackScope(const CallbackScope&) = delete;
    CallbackScope& operator=(const CallbackScope&) = delete;

   private:
    SessionCore* core_;
  };

  bool delivering() const { return phase_ == Phase::kOpen || draining_held_; }
  /// Removes the pending entry; true if it was there.
  bool TakePending(ReplyKind kind, std::uint64_t id);
  void Answer(Reply reply);
  void Fail(absl::Status status);
  /// While holding: true if `frame` must wait for the next Dispatch (it
  /// would run user code, or follow a frame that waits). May answer a
  /// pending request itself (a SUBSCRIBE_ACK behind held frames).
  bool ShouldHold(protocol::FrameView frame);
  /// Copies `frame` (padded) to the held frames, delivering the oldest
  /// first if they fill receive_buffer_bytes.
  void Hold(protocol::FrameView frame);
  /// What a fatal ERROR / LOGOUT / LOGON_REJECT means for the caller.
  absl::Status FatalErrorStatus(const protocol::ErrorView& error) const;
  absl::Status LogoutStatus(const protocol::LogoutView& logout) const;
  /// Re-creates the decoder for the session's frame limit, keeping bytes
  /// already received after LOGON_ACK.
  void SizeReceiveBuffer(std::uint32_t max_frame_length);
  void Cleanup();

  /// True if the frame was a DATA delivered to handlers.
  bool HandleFrame(protocol::FrameView frame);
  /// A held frame, after its session may have ended: DATA and GAP are
  /// delivered, the rest only while the session is open.
  bool HandleHeld(protocol::FrameView frame);
  bool HandleData(const protocol::DataView& data);
  void HandleGap(const protocol::GapView& gap);
  void HandleLogonAck(const protocol::LogonAckView& ack);
  void HandleSubscribeAck(const protocol::StreamAckView& ack);
  void HandlePublishAck(const protocol::PublishAckView& ack);
  void HandleResponse(const protocol::ResponseView& response);
  void HandleServiceLookupAck(const protocol::ServiceLookupAckView& ack);
  void HandleError(const protocol::ErrorView& error);
  void HandleLogout(const protocol::LogoutView& logout);
  void ReportGap(StreamState& stream, StreamId id, Sequence from, Sequence to,
                 GapOrigin origin);

  const ClientOptions& options_;
  SessionHost& host_;
  std::string peer_;
  Phase phase_ = Phase::kLoggingOn;

  // --- Session, from LOGON_ACK ---------------------------------------------
  SessionId session_id_;
  std::uint64_t gateway_epoch_ = 0;
  std::uint16_t negotiated_version_ = 0;
  // The gateway run the stream positions were counted in (the epoch of the
  // session that first logged on, then of each restart); set once logged
  // on.
  std::uint64_t positions_epoch_ = 0;
  bool positions_counted_ = false;
  std::chrono::milliseconds heartbeat_{1000};
  std::uint32_t max_frame_length_ = protocol::kDefaultMaxFrameLength;
  std::size_t max_payload_ = protocol::kDefaultMaxFrameLength - 32;

  // --- Receive buffer, allocated at construction and LOGON_ACK -------------
  std::unique_ptr<std::byte[]> rx_;
  std::size_t rx_size_ = 0;
  std::optional<protocol::FrameDecoder> decoder_;

  // --- Pending requests by (kind, id): one for the blocking client, any
  // number of publish acks and requests for the asynchronous one. Erasing
  // keeps the capacity, so a steady state does not allocate.
  absl::flat_hash_set<std::pair<ReplyKind, std::uint64_t>> pending_;
  bool replied_ = false;  // an answer arrived during this Dispatch

  // --- Frames held back while a call waits: [held_read_, held_size_) of
  // held_, padded frames back to back. Allocated (receive_buffer_bytes) the
  // first time a frame is held.
  bool holding_ = false;
  bool draining_held_ = false;
  std::unique_ptr<std::byte[]> held_;
  std::size_t held_capacity_ = 0;
  std::size_t held_read_ = 0;
  std::size_t held_size_ = 0;

  // --- Streams and subscriptions -------------------------------------------
  absl::flat_hash_map<std::string, StreamId> open_by_name_;
  // Stream id returned by OpenStream -> the id of that stream in the current
  // session (they differ only after reconnecting to a restarted gateway; 0
  // if it could not be re-opened).
  absl::flat_hash_map<std::uint32_t, std::uint32_t> wire_ids_;
  absl::flat_hash_map<std::uint32_t, std::unique_ptr<Subscription>> subs_;
  absl::flat_hash_map<std::uint32_t, Subscription*> aliases_;
  absl::flat_hash_map<std::uint32_t, StreamState> streams_;
  // Delivery states of the lost session by stream name, waiting for the
  // new session's SUBSCRIBE_ACKs (stream ids may change across restarts).
  absl::flat_hash_map<std::string, StreamState> resume_states_;
  bool needs_cleanup_ = false;
  int in_callback_ = 0;

  // --- Liveness ------------------------------------------------------------
  SteadyClock::time_point last_send_;
  SteadyClock::time_point last_receive_;
  bool sent_since_check_ = false;
  bool received_since_check_ = false;

  std::uint32_t next_id_ = 1;
  std::uint64_t next_correlation_ = 1;
  // ERROR frames sent on the way out.
  std::array<std::byte, kMaxControlFrame> scratch_{};
  ClientStats stats_;
};

}  // namespace tachyon::client::internal

#endif  // TACHYON_CLIENTS_CPP_SRC_SESSION_CORE_H_
