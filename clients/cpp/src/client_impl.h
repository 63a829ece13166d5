// Internal: the state of a Client — one session over one non-blocking
// socket, driven by the caller's thread. See client.h for the contract.
//
// Structure: the public methods (client.cpp) validate and send; every
// receiving method runs one loop (client_receive.cpp): receive into the
// FrameDecoder's fixed storage, decode in place, HandleFrame per frame.
// Answers a caller waits for are matched through `pending_` (at most one is
// outstanding: the client is blocking and single-threaded); everything else
// is dispatched to subscriptions or reported through on_error.
#ifndef TACHYON_CLIENTS_CPP_SRC_CLIENT_IMPL_H_
#define TACHYON_CLIENTS_CPP_SRC_CLIENT_IMPL_H_

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "socket.h"
#include "tachyon/client/client.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::client {
namespace internal {

// Longest control frame the client sends: LOGON with a 255-byte token and a
// 255-byte client name (32 + 510 bytes), or an ERROR with a short text.
constexpr std::size_t kControlBufferBytes = 1024;
// The gateway never sends a frame longer than its LOGON_ACK announces; this
// floor keeps our control frames (and its ERRORs) decodable even if a
// misconfigured peer announces less.
constexpr std::uint32_t kMinSessionFrameLength = 1056;

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
  // once, as DATA or inside a GAP (PROTOCOL.md 11.3).
  Sequence expected;
  absl::InlinedVector<Subscription*, 2> subscribers;
};

enum class ReplyKind : std::uint8_t {
  kNone,
  kLogon,
  kOpenStream,
  kSubscribe,
  kUdpSubscribe,
  kPublishAck,
  kResponse,
  kLogout,
};

// The one answer a blocking call is waiting for.
struct PendingReply {
  ReplyKind kind = ReplyKind::kNone;
  std::uint64_t id = 0;  // request / subscription / correlation id
  bool done = false;
  absl::Status status;
  StreamId stream;
  Sequence sequence;
  std::vector<std::byte>* response = nullptr;
};

}  // namespace internal

class Client::Impl {
 public:
  Impl(internal::UniqueFd fd, std::string host, std::uint16_t port,
       const ClientOptions& options);
  ~Impl();

  absl::Status Logon(internal::Clock::time_point deadline);

  absl::StatusOr<StreamId> OpenStream(std::string_view name);
  absl::Status Publish(StreamId stream, std::span<const std::byte> payload);
  absl::StatusOr<Sequence> PublishWithAck(StreamId stream,
                                          std::span<const std::byte> payload);
  absl::StatusOr<std::span<std::byte>> TryClaim(StreamId stream,
                                                std::size_t length);
  absl::Status Commit();
  /// Sends the coalesced PUBLISH frames, if any (Client::Flush).
  absl::Status FlushBatch();
  void Abort() { claimed_ = false; }
  absl::StatusOr<SubscriptionId> Subscribe(std::string_view name,
                                           StartPosition start,
                                           MessageHandler on_message,
                                           GapHandler on_gap);
  absl::Status Unsubscribe(SubscriptionId id);
  // --- UDP deliveries (client_udp.cpp) -------------------------------------
  absl::StatusOr<UdpDelivery> SubscribeUdp(std::string_view name,
                                           std::array<std::uint8_t, 4> address,
                                           std::uint16_t port);
  /// Unsubscribe for a SubscribeUdp id; NOT_FOUND for any other id.
  absl::Status UnsubscribeUdp(SubscriptionId id);
  absl::StatusOr<int> Poll(int max_messages, std::chrono::milliseconds timeout);
  absl::StatusOr<std::vector<std::byte>> Request(
      std::uint32_t service_id, std::span<const std::byte> payload,
      std::chrono::milliseconds timeout);
  absl::Status Close();

  bool connected() const { return open_; }
  const std::string& peer() const { return peer_; }
  SessionId session_id() const { return session_id_; }
  std::chrono::milliseconds heartbeat_interval() const { return heartbeat_; }
  std::uint32_t max_frame_length() const { return max_frame_length_; }
  std::size_t max_payload_length() const { return max_payload_; }
  int fd() const { return open_ ? fd_.get() : -1; }
  const ClientStats& stats() const { return stats_; }

 private:
  // Marks the dynamic extent of a user callback (handlers, on_error).
  class CallbackScope {
   public:
    explicit CallbackScope(Impl* impl) : impl_(impl) { ++impl_->in_callback_; }
    ~CallbackScope() { --impl_->in_callback_; }
    CallbackScope(const CallbackScope&) = delete;
    CallbackScope& operator=(const CallbackScope&) = delete;

   private:
    Impl* impl_;
  };

  // --- State checks --------------------------------------------------------
  absl::Status CheckReceivingCall(const char* method) const;
  /// Validates a publish; on success returns the stream's wire id.
  absl::StatusOr<std::uint32_t> CheckPublish(StreamId stream,
                                             std::size_t length) const;

  // --- I/O -----------------------------------------------------------------
  std::span<std::byte> tx() { return {tx_.get(), tx_size_}; }
  std::span<std::byte> ctl() { return ctl_; }
  /// Writes all of `frame`, waiting for socket space up to send_timeout.
  /// On failure the connection is closed and the sticky status returned.
  /// Sends `frame` after any coalesced PUBLISH frames (so order is kept).
  absl::Status SendFrame(std::span<const std::byte> frame);
  /// The send loop behind SendFrame and FlushBatch.
  absl::Status SendBytes(std::span<const std::byte> bytes);
  /// One best-effort non-blocking write, for frames sent on the way out.
  void SendBestEffort(std::span<const std::byte> frame);
  /// One non-blocking receive into the decoder; false if nothing arrived
  /// (EOF and errors close the connection).
  bool ReceiveAvailable();
  /// Heartbeat sending and the 3-interval receive timeout.
  void CheckLiveness(internal::Clock::time_point now);
  /// Closes the socket. With reconnect enabled and a connection-level
  /// `status` (UNAVAILABLE), the client starts reconnecting; otherwise
  /// `status` is what every later call returns.
  void Fail(absl::Status status);
  /// Sends ERROR `code` (FATAL) best-effort, then fails with DATA_LOSS.
  void ProtocolViolation(protocol::ErrorCode code, std::string_view what);
  /// Re-creates the decoder for the session's frame limit, keeping bytes
  /// already received after LOGON_ACK.
  void SizeBuffersForSession(std::uint32_t max_frame_length);

  // --- Receive loop --------------------------------------------------------
  /// Dispatches buffered frames until `max_messages` DATA frames were
  /// delivered, the buffer ends inside a frame, or (if `stop_at_reply`) the
  /// pending reply arrived. Returns the DATA frames delivered.
  int DispatchBuffered(int max_messages, bool stop_at_reply);
  /// Runs the receive loop until `pending_` is answered or `deadline`.
  absl::Status AwaitReply(internal::Clock::time_point deadline,
                          std::string_view what);

  /// Returns true if the frame was a DATA delivered to handlers.
  bool HandleFrame(protocol::FrameView frame);
  bool HandleData(const protocol::DataView& data);
  void HandleGap(const protocol::GapView& gap);
  void HandleLogonAck(const protocol::LogonAckView& ack);
  void HandleSubscribeAck(const protocol::StreamAckView& ack);
  void HandleOpenStreamAck(const protocol::StreamAckView& ack);
  void HandlePublishAck(const protocol::PublishAckView& ack);
  void HandleResponse(const protocol::ResponseView& response);
  void HandleError(const protocol::ErrorView& error);
  void HandleLogout(const protocol::LogoutView& logout);

  void ReportGap(internal::StreamState& stream, StreamId id, Sequence from,
                 Sequence to, GapOrigin origin);
  void ReportAsync(absl::Status status);
  /// Drops inactive subscriptions (deferred while callbacks run, so that a
  /// handler can unsubscribe itself without destroying itself).
  void Cleanup();
  // --- Reconnection (client_reconnect.cpp) ---------------------------------
  bool ShouldReconnect(const absl::Status& status) const;
  /// One attempt: connect, log on, resume. On failure schedules the next
  /// attempt (backoff with jitter) or gives up.
  void TryReconnect();
  /// Re-opens streams, resumes subscriptions, sends the queued publishes.
  absl::Status ResumeSession();
  void ScheduleRetry(const absl::Status& why);
  /// Publish / Commit while disconnected, per ReconnectOptions::publish.
  absl::Status PublishDisconnected(StreamId stream,
                                   std::span<const std::byte> payload);
  /// Sends SUBSCRIBE and waits for its first ack (resume only).
  absl::Status ResubscribeOne(std::uint32_t id, std::string_view name,
                              StartPosition start);
  void FlushQueue();

  std::uint32_t NextId() {
    if (next_id_ == 0) next_id_ = 1;
    return next_id_++;
  }

  // --- Connection ----------------------------------------------------------
  internal::UniqueFd fd_;
  std::string host_;
  std::uint16_t port_;
  std::string peer_;
  ClientOptions options_;
  bool open_ = true;
  bool logged_on_ = false;
  bool closing_ = false;  // LOGOUT sent
  absl::Status closed_status_;

  // --- Reconnection --------------------------------------------------------
  bool ever_logged_on_ = false;
  bool reconnecting_ = false;           // disconnected, will retry
  bool reconnect_in_progress_ = false;  // inside TryReconnect
  int attempts_ = 0;                    // consecutive failures
  internal::Clock::time_point next_attempt_;
  std::minstd_rand rng_;
  // Delivery states of the lost session by stream name, waiting for the
  // new session's SUBSCRIBE_ACKs (stream ids may change across restarts).
  absl::flat_hash_map<std::string, internal::StreamState> resume_states_;
  // Publishes queued while disconnected: [u32 stream][u32 length][payload,
  // padded to 8], reserved once to queue_bytes.
  std::vector<std::byte> queue_;

  // --- Session, from LOGON_ACK ---------------------------------------------
  SessionId session_id_;
  std::chrono::milliseconds heartbeat_{1000};
  std::uint32_t max_frame_length_ = protocol::kDefaultMaxFrameLength;
  std::size_t max_payload_ = protocol::kDefaultMaxFrameLength - 32;

  // --- Liveness: the flags are set on the data path, turned into times by
  // CheckLiveness so that publishing and receiving never read the clock.
  internal::Clock::time_point last_send_;
  internal::Clock::time_point last_receive_;
  bool sent_since_check_ = false;
  bool received_since_check_ = false;

  // --- Buffers, allocated at Connect / LOGON_ACK ---------------------------
  std::unique_ptr<std::byte[]> rx_;
  std::size_t rx_size_ = 0;
  std::optional<protocol::FrameDecoder> decoder_;
  std::unique_ptr<std::byte[]> tx_;  // PUBLISH, claims, REQUEST
  // Coalesced PUBLISH frames (publish_batch_bytes > 0); capacity reserved
  // once at Connect, never reallocated.
  std::vector<std::byte> batch_;
  std::size_t batch_limit_ = 0;
  // The last read left the socket empty (a short read or EAGAIN): a blocking
  // Poll waits for data first instead of trying a read that would fail.
  bool socket_drained_ = true;
  std::size_t tx_size_ = 0;
  std::array<std::byte, internal::kControlBufferBytes>
      ctl_{};  // everything else
  bool claimed_ = false;
  StreamId claim_stream_;
  std::size_t claim_length_ = 0;

  // --- Streams and subscriptions -------------------------------------------
  absl::flat_hash_map<std::string, StreamId> open_by_name_;
  // Stream id returned by OpenStream -> the id of that stream in the current
  // session (they differ only after reconnecting to a restarted gateway; 0
  // if it could not be re-opened).
  absl::flat_hash_map<std::uint32_t, std::uint32_t> wire_ids_;
  absl::flat_hash_map<std::uint32_t, std::unique_ptr<internal::Subscription>>
      subs_;
  absl::flat_hash_map<std::uint32_t, internal::Subscription*> aliases_;
  absl::flat_hash_map<std::uint32_t, internal::StreamState> streams_;
  bool needs_cleanup_ = false;
  // SubscribeUdp deliveries: {subscription id, stats_.reconnects when made}
  // (a delivery ends with the session that made it).
  std::vector<std::pair<std::uint32_t, std::uint64_t>> udp_deliveries_;

  internal::PendingReply pending_;
  std::uint32_t next_id_ = 1;
  std::uint64_t next_correlation_ = 1;
  int in_callback_ = 0;
  ClientStats stats_;
};

}  // namespace tachyon::client

#endif  // TACHYON_CLIENTS_CPP_SRC_CLIENT_IMPL_H_
