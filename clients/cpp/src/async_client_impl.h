// Internal: the state of an AsyncClient — one session over one Asio TCP
// socket, driven by the client's executor. See async_client.h for the
// contract.
//
// Structure: the protocol — decoding and dispatching frames, sequence
// tracking, pending requests, encoding — is the SessionCore shared with the
// blocking Client (session_core.h). This class is its Asio transport:
// async_client.cpp holds the state, connect and logon, the operations and
// the answers the core hands back (completing each operation's Wait);
// async_client_send.cpp the send queue, publishing and heartbeats. Each Wait
// is bounded by its own steady_timer. Everything runs on the executor;
// nothing here locks.
//
// TLS (ClientOptions::tls): the blocking client's TlsSocket over the same
// non-blocking socket. The handshake runs between TCP connect and LOGON,
// each step after an async_wait for the socket; the read loop waits for
// readability and decrypts what arrived into the core's receive buffer;
// writes go through TlsSocket::SendSome, and a full socket is waited for
// with async_wait(write). A plain connection never enters these branches
// (tls_ is null).
#ifndef TACHYON_CLIENTS_CPP_SRC_ASYNC_CLIENT_IMPL_H_
#define TACHYON_CLIENTS_CPP_SRC_ASYNC_CLIENT_IMPL_H_

#include <array>
#include <asio.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "session_core.h"
#include "tachyon/client/async_client.h"
#include "tachyon/protocol/protocol.h"
#include "tls_socket.h"

namespace tachyon::client {
namespace internal {

// Room kept in each send buffer beyond send_queue_bytes for control frames
// (OPEN_STREAM, SUBSCRIBE, UNSUBSCRIBE, HEARTBEAT, LOGOUT), so that a queue
// full of publishes never refuses them.
inline constexpr std::size_t kControlReserve = 16 * 1024;

enum class AsyncState : std::uint8_t {
  kIdle,        // constructed, AsyncConnect not called
  kConnecting,  // resolving / TCP connect
  kLoggingOn,   // LOGON sent, waiting for the answer
  kOpen,        // logged on
  kClosing,     // our LOGOUT queued, waiting for the gateway's
  kClosed,      // terminal; closed_status_ says why
};

// One operation waiting for the gateway's answer.
struct Wait {
  explicit Wait(const asio::any_io_executor& executor) : timer(executor) {}

  ReplyKind kind = ReplyKind::kOpenStream;
  std::uint64_t id = 0;
  asio::steady_timer timer;
  SteadyClock::time_point started;
  // Stream name / pattern (messages, OpenStream cache); service name.
  std::string name;
  std::uint32_t service_id = 0;
  StreamId stream;
  std::variant<CompletionPtr<absl::StatusOr<StreamId>>,
               CompletionPtr<absl::StatusOr<SubscriptionId>>,
               CompletionPtr<absl::StatusOr<Sequence>>,
               CompletionPtr<absl::StatusOr<std::vector<std::byte>>>,
               CompletionPtr<absl::StatusOr<std::uint32_t>>>
      done;
};

// A PUBLISH or REQUEST that found the send queue full: its payload is
// copied aside until the queue drains (in order, ahead of any later one).
struct ParkedFrame {
  enum class Kind : std::uint8_t { kPublish, kPublishWithAck, kRequest };
  Kind kind = Kind::kPublish;
  StreamId stream;
  std::uint64_t correlation = 0;
  std::uint32_t service_id = 0;
  std::chrono::milliseconds timeout{0};
  std::vector<std::byte> payload;
  std::size_t accounted = 0;         // bytes charged to the parking limit
  CompletionPtr<absl::Status> done;  // kPublish only; the others have a Wait
};

struct SendBuffer {
  std::unique_ptr<std::byte[]> data;
  std::size_t capacity = 0;
  std::size_t size = 0;
};

}  // namespace internal

class AsyncClient::Impl final : public std::enable_shared_from_this<Impl>,
                                private internal::SessionHost {
 public:
  Impl(asio::any_io_executor executor, const AsyncClientOptions& options);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // --- Operations (async_client.cpp) ---------------------------------------
  void StartConnect(std::string host, std::uint16_t port,
                    internal::CompletionPtr<absl::Status> done);
  void StartOpenStream(std::string name,
                       internal::CompletionPtr<absl::StatusOr<StreamId>> done);
  absl::Status TryPublish(StreamId stream, std::span<const std::byte> payload);
  void StartPublish(StreamId stream, std::span<const std::byte> payload,
                    internal::CompletionPtr<absl::Status> done);
  void StartPublishWithAck(
      StreamId stream, std::span<const std::byte> payload,
      internal::CompletionPtr<absl::StatusOr<Sequence>> done);
  void StartSubscribe(
      std::string name, StartPosition start, MessageHandler on_message,
      GapHandler on_gap,
      internal::CompletionPtr<absl::StatusOr<SubscriptionId>> done);
  absl::Status Unsubscribe(SubscriptionId id);
  void StartRequest(
      std::uint32_t service_id, std::span<const std::byte> payload,
      std::chrono::milliseconds timeout,
      internal::CompletionPtr<absl::StatusOr<std::vector<std::byte>>> done);
  void StartLookupService(
      std::string name,
      internal::CompletionPtr<absl::StatusOr<std::uint32_t>> done);
  void StartClose(internal::CompletionPtr<absl::Status> done);
  /// The AsyncClient is being destroyed: close at once.
  void Abandon();

  // --- Accessors -----------------------------------------------------------
  bool connected() const { return state_ == internal::AsyncState::kOpen; }
  std::size_t queued_bytes() const {
    return send_[0].size + send_[1].size - (writing_ ? write_offset_ : 0);
  }
  const internal::SessionCore& core() const { return core_; }
  const std::string& peer() const { return core_.peer(); }

 private:
  using State = internal::AsyncState;

  // --- SessionHost ---------------------------------------------------------
  void OnReply(const internal::Reply& reply) override;
  void OnSessionFailed(absl::Status status) override {
    Fail(std::move(status));
  }
  /// Queued behind what is there and written at once if no async write is
  /// in progress; never waited for.
  void SendBestEffort(std::span<const std::byte> frame) override;
  void OnGracefulEnd() override { SendCloseNotify(); }

  // --- Connect and logon ---------------------------------------------------
  void OnResolved(const asio::error_code& ec,
                  const asio::ip::tcp::resolver::results_type& endpoints);
  void OnConnected(const asio::error_code& ec);
  /// TLS: one handshake step, then waits for the socket or sends LOGON.
  void ContinueHandshake();
  /// Queues LOGON and starts the read loop (after TCP, or TLS, is up).
  void BeginLogon();
  void OnLoggedOn();
  /// (Re-)arms control_timer_; an expiry from an earlier arming is ignored.
  void ArmControlTimer(std::chrono::milliseconds timeout);
  void OnControlTimer();

  // --- State ---------------------------------------------------------------
  /// OK when an operation may use the session now, else why not.
  absl::Status CheckOpen() const;
  /// Validates a publish of `length` bytes to `stream`.
  absl::Status CheckPublish(StreamId stream, std::size_t length) const;
  /// Ends the session: closes the socket and timers, completes every
  /// pending operation with `pending` (the connect with it too) and makes
  /// `later` what every later call returns.
  void Terminate(absl::Status later, const absl::Status& pending);
  /// The connection failed or was refused. Reported to on_error when the
  /// session was open; during a close, just finishes the close.
  void Fail(absl::Status status);
  /// A write failed with `transport`: the gateway may have closed after
  /// telling us why (a fatal ERROR such as SLOW_CONSUMER, or LOGOUT) in
  /// bytes not read yet. Reads what the socket holds without waiting and
  /// returns what the gateway said, or `transport`.
  absl::Status ExplainLoss(absl::Status transport);
  void FinishClose();

  // --- Receiving -----------------------------------------------------------
  void StartRead();
  void OnRead(const asio::error_code& ec, std::size_t bytes);
  /// TLS: the socket is readable (or ec says why not): decrypts what
  /// arrived, dispatches, waits again.
  void OnTlsReadable(const asio::error_code& ec);
  /// The gateway closed the connection (EOF, or TLS close_notify).
  void OnPeerClosed();
  /// TLS: the socket has room for the async write's rest.
  void OnTlsWritable(const asio::error_code& ec);
  /// TLS: a graceful end sends close_notify before the socket closes.
  void SendCloseNotify();

  // --- Send queue (async_client_send.cpp) ----------------------------------
  /// Room for a frame of up to `bytes` in the filling buffer if it stays
  /// within `limit` (queue_limit_ for data, queue_capacity_ for control).
  std::span<std::byte> Reserve(std::size_t bytes, std::size_t limit);
  void CommitSend(std::size_t bytes) { send_[filling_].size += bytes; }
  /// Encodes a control frame with `encode(span) -> size` into the control
  /// reserve; false (nothing queued) if even that is full.
  template <typename Encode>
  bool QueueControl(std::size_t max_bytes, Encode encode);
  bool QueuePublish(StreamId stream, std::uint64_t correlation,
                    std::span<const std::byte> payload, protocol::AckMode ack);
  bool QueueRequest(std::uint64_t correlation, std::uint32_t service_id,
                    std::chrono::milliseconds timeout,
                    std::span<const std::byte> payload);
  /// Writes what is queued: one non-blocking send, the rest asynchronously;
  /// then moves parked frames into the freed space, repeatedly.
  void Pump();
  void Flush();
  void StartWrite();
  void OnWrite(const asio::error_code& ec, std::size_t bytes);
  /// Moves parked frames into the queue while they fit; true if any moved.
  bool DrainParked();
  /// Copies `payload` aside and queues `frame` (moved from only on
  /// success) behind the parked ones; RESOURCE_EXHAUSTED past the limit.
  absl::Status Park(internal::ParkedFrame& frame,
                    std::span<const std::byte> payload);
  void CancelParked(const absl::Status& status);
  /// Sizes the limits for the session's frame limit.
  void SetQueueLimits();
  /// Grows `buffer` (keeping its bytes) to queue_capacity_.
  void EnsureCapacity(internal::SendBuffer& buffer);

  // --- Waits ---------------------------------------------------------------
  void ArmWait(std::unique_ptr<internal::Wait> wait,
               std::chrono::milliseconds timeout);
  /// Removes and returns the wait of `kind` with `id` (timer cancelled),
  /// or nullptr.
  std::unique_ptr<internal::Wait> TakeWait(internal::ReplyKind kind,
                                           std::uint64_t id);
  void OnWaitTimeout(internal::ReplyKind kind, std::uint64_t id);
  /// Completes `wait` with a failure.
  static void FailWait(internal::Wait& wait, const absl::Status& status);

  // --- Heartbeats ----------------------------------------------------------
  void ScheduleTick();
  void OnTick();

  // --- Connection ----------------------------------------------------------
  asio::any_io_executor executor_;
  AsyncClientOptions options_;
  internal::SessionCore core_;
  asio::ip::tcp::resolver resolver_;
  asio::ip::tcp::socket socket_;
  std::string host_;  // as given to AsyncConnect (TLS server name default)
  // TLS over socket_ when options_.tls.enabled, from TCP connect on.
  std::unique_ptr<internal::TlsSocket> tls_;
  // Bounds AsyncConnect (connect_timeout) and then AsyncClose
  // (close_timeout).
  asio::steady_timer control_timer_;
  std::uint64_t control_generation_ = 0;
  internal::SteadyClock::time_point control_started_;
  asio::steady_timer heartbeat_timer_;
  State state_ = State::kIdle;
  absl::Status closed_status_;
  internal::CompletionPtr<absl::Status> connect_done_;
  std::vector<internal::CompletionPtr<absl::Status>> close_done_;

  // --- Send queue: frames are encoded into send_[filling_]; while an async
  // write drains send_[1 - filling_] from write_offset_, new frames wait in
  // the filling buffer and leave together in the next write.
  std::array<internal::SendBuffer, 2> send_;
  int filling_ = 0;
  bool writing_ = false;
  std::size_t write_offset_ = 0;
  internal::SteadyClock::time_point last_write_progress_;
  std::size_t queue_limit_ = 0;     // data frames accepted up to here
  std::size_t queue_capacity_ = 0;  // control frames up to here
  std::deque<internal::ParkedFrame> parked_;
  std::size_t parked_bytes_ = 0;

  // --- Operations waiting for answers, by id (OPEN_STREAM, SUBSCRIBE) and by
  // correlation id (PUBLISH with ack, REQUEST).
  absl::flat_hash_map<std::uint64_t, std::unique_ptr<internal::Wait>> id_waits_;
  absl::flat_hash_map<std::uint64_t, std::unique_ptr<internal::Wait>>
      correlation_waits_;
};

template <typename Encode>
bool AsyncClient::Impl::QueueControl(std::size_t max_bytes, Encode encode) {
  const std::span<std::byte> out = Reserve(max_bytes, queue_capacity_);
  if (out.empty()) return false;
  const std::size_t n = encode(out);
  CommitSend(n);
  return n > 0;
}

}  // namespace tachyon::client

#endif  // TACHYON_CLIENTS_CPP_SRC_ASYNC_CLIENT_IMPL_H_
