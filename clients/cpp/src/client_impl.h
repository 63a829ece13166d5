// Internal: the state of a Client — one session over one non-blocking
// socket, driven by the caller's thread (or by the background poller). See
// client.h for the contract.
//
// Structure: the protocol itself — decoding and dispatching frames,
// sequence tracking, pending requests, encoding — is the SessionCore shared
// with AsyncClient (session_core.h). This class is its blocking transport:
// the public methods (client.cpp) validate, encode through the core and
// send; the receive loop (client_receive.cpp) reads the socket into the
// core's buffer and waits for answers; client_reconnect.cpp re-makes a lost
// connection; client_background.cpp runs Poll on a thread of its own.
//
// Locking: none unless background polling runs. Then `mu_` guards all of
// the state; the poller holds it while it polls (handlers run under it, so
// calls they make do not lock again), and other threads take it per call.
// Receiving calls from other threads wait on `replied_` while the poller
// reads their answer.
#ifndef TACHYON_CLIENTS_CPP_SRC_CLIENT_IMPL_H_
#define TACHYON_CLIENTS_CPP_SRC_CLIENT_IMPL_H_

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backoff.h"
#include "session_core.h"
#include "socket.h"
#include "tachyon/client/client.h"
#include "tachyon/protocol/protocol.h"
#include "tls_socket.h"

namespace tachyon::client {
namespace internal {

// The answer the one waiting blocking call expects.
struct PendingReply {
  bool active = false;
  ReplyKind kind = ReplyKind::kLogon;
  std::uint64_t id = 0;
  bool done = false;
  absl::Status status;
  StreamId stream;
  Sequence sequence;
  std::vector<std::byte>* response = nullptr;
  std::uint32_t service_id = 0;  // kServiceLookup
};

}  // namespace internal

class Client::Impl final : private internal::SessionHost {
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
  /// Drops the claim; a claim in the batch buffer was never counted in it.
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
  absl::StatusOr<std::uint32_t> LookupService(std::string_view name);
  absl::Status Close();

  // --- Background polling (client_background.cpp) ---------------------------
  absl::Status StartBackgroundPolling(const BackgroundPollingOptions& options);
  absl::Status StopBackgroundPolling();
  /// Serialises one call from a thread other than the poller while
  /// background polling runs; a no-op otherwise. A receiving call also
  /// takes `call_mu_`, so that one waits for an answer at a time.
  class CallGuard {
   public:
    CallGuard(Impl& impl, bool receiving);
    ~CallGuard();
    CallGuard(const CallGuard&) = delete;
    CallGuard& operator=(const CallGuard&) = delete;

   private:
    Impl& impl_;
    std::unique_lock<std::mutex> call_lock_;
    std::unique_lock<std::mutex> lock_;
  };

  bool connected() const { return open_; }
  int fd() const { return open_ ? fd_.get() : -1; }
  const internal::SessionCore& core() const { return core_; }

 private:
  // --- SessionHost ---------------------------------------------------------
  void OnReply(const internal::Reply& reply) override;
  void OnSessionFailed(absl::Status status) override {
    Fail(std::move(status));
  }
  void OnGracefulEnd() override {
    if (tls_ != nullptr) (void)tls_->SendCloseNotify();
  }
  void SendBestEffort(std::span<const std::byte> frame) override;

  // --- State checks --------------------------------------------------------
  absl::Status CheckReceivingCall(const char* method) const;
  /// Validates a publish; on success returns the stream's wire id.
  absl::StatusOr<std::uint32_t> CheckPublish(StreamId stream,
                                             std::size_t length) const;

  // --- I/O -----------------------------------------------------------------
  std::span<std::byte> tx() { return {tx_.get(), tx_size_}; }
  /// Sends `frame` after any coalesced PUBLISH frames (so order is kept),
  /// waiting for socket space up to send_timeout. On failure the
  /// connection is closed and the sticky status returned.
  absl::Status SendFrame(std::span<const std::byte> frame);
  /// The send loop behind SendFrame and FlushBatch.
  absl::Status SendBytes(std::span<const std::byte> bytes);
  /// One non-blocking receive into the core; false if nothing arrived
  /// (EOF and errors close the connection).
  bool ReceiveAvailable();
  /// One receive that waits up to `wait` for data (rounded up to whole
  /// milliseconds, and by the kernel to its tick): a single recv on the
  /// blocking socket, plus a setsockopt when the wait differs from the
  /// last one. False if nothing arrived.
  bool ReceiveWithin(internal::Clock::duration wait);
  /// The bookkeeping after a receive of `r` into `space`.
  bool TookReceived(const internal::IoResult& r, std::size_t space);
  /// The connection broke under us with `transport` (a send or receive
  /// failed): the gateway may have said why just before — a fatal ERROR
  /// (SLOW_CONSUMER, ...) or a LOGOUT still unread behind what we sent.
  /// Returns what it said, or `transport`.
  absl::Status ExplainLoss(absl::Status transport);
  /// Heartbeat sending and the 3-interval receive timeout.
  void CheckLiveness(internal::Clock::time_point now);
  /// Closes the socket. With reconnect enabled and a connection-level
  /// `status` (UNAVAILABLE), the client starts reconnecting; otherwise
  /// `status` is what every later call returns.
  void Fail(absl::Status status);
  /// Sizes the send buffers for the session's frame limit (LOGON_ACK).
  void SizeSendBuffers();

  // --- Waiting for answers -------------------------------------------------
  /// Waits for `kind`/`id` (already expected by the core) until answered or
  /// `deadline`: runs the receive loop itself, or, from another thread
  /// while background polling runs, waits for the poller to read it. While
  /// an application's call (not the logon, close or a reconnect inside
  /// Poll) runs the loop, the core holds deliveries back for the next Poll.
  absl::Status AwaitReply(internal::ReplyKind kind, std::uint64_t id,
                          internal::Clock::time_point deadline,
                          std::string_view what);
  absl::Status AwaitReplyFromPoller(internal::Clock::time_point deadline);
  absl::Status ReplyTimedOut(internal::Clock::time_point start,
                             std::string_view what) const;
  /// True on a thread other than the poller while background polling runs.
  bool WaitsForPoller() const;

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

  // --- Background polling --------------------------------------------------
  void BackgroundLoop(BackgroundPollingOptions options);

  // --- Connection ----------------------------------------------------------
  internal::UniqueFd fd_;
  // ClientOptions::tls: the TLS layer over fd_ (made by Logon); null for
  // plain TCP, whose calls go straight to socket.h.
  std::unique_ptr<internal::TlsSocket> tls_;
  std::string host_;
  std::uint16_t port_;
  ClientOptions options_;
  internal::SessionCore core_;
  bool open_ = true;
  bool closing_ = false;  // Close sent LOGOUT: a loss is not reconnected
  absl::Status closed_status_;
  // Bumped by every loss of the connection: a call waiting for the poller
  // gives up when it changes, even if the poller reconnected meanwhile.
  std::uint64_t connection_generation_ = 0;

  // --- Reconnection --------------------------------------------------------
  bool ever_logged_on_ = false;
  bool reconnecting_ = false;           // disconnected, will retry
  bool reconnect_in_progress_ = false;  // inside TryReconnect
  int attempts_ = 0;                    // consecutive failures
  internal::Clock::time_point next_attempt_;
  std::minstd_rand rng_;
  // Publishes queued while disconnected: [u32 stream][u32 length][payload,
  // padded to 8], reserved once to queue_bytes.
  std::vector<std::byte> queue_;

  // --- Buffers, allocated at Connect / LOGON_ACK ---------------------------
  std::unique_ptr<std::byte[]> tx_;  // PUBLISH, claims, REQUEST
  std::size_t tx_size_ = 0;
  // Coalesced PUBLISH frames (publish_batch_bytes > 0): [0, batch_used_)
  // of batch_, allocated at the first LOGON_ACK.
  std::unique_ptr<std::byte[]> batch_;
  std::size_t batch_capacity_ = 0;
  std::size_t batch_used_ = 0;
  std::size_t batch_limit_ = 0;
  // The last read left the socket empty (a short read or EAGAIN): a blocking
  // Poll waits for data first instead of trying a read that would fail.
  bool socket_drained_ = true;
  // SO_RCVTIMEO of the current socket in ms, for ReceiveWithin; 0 = unset.
  std::int64_t receive_timeout_ms_ = 0;
  std::array<std::byte, internal::kMaxControlFrame> ctl_{};  // the rest
  // The outstanding claim: a PUBLISH frame in tx_, or (coalescing) at
  // claim_offset_ in batch_, just past the frames the batch holds.
  bool claimed_ = false;
  bool claim_in_batch_ = false;
  std::size_t claim_offset_ = 0;
  StreamId claim_stream_;
  std::size_t claim_length_ = 0;

  internal::PendingReply pending_;
  // SubscribeUdp deliveries: {subscription id, connection_generation_ when
  // made} (a delivery ends with the session that made it).
  std::vector<std::pair<std::uint32_t, std::uint64_t>> udp_deliveries_;

  // --- Background polling --------------------------------------------------
  // Written only by Start/StopBackgroundPolling, which the owner calls
  // while no other thread uses the Client; read by every call.
  std::atomic<bool> background_{false};
  std::mutex mu_;
  std::mutex call_mu_;
  std::condition_variable replied_;
  // The lock a receiving call from another thread holds, for AwaitReply.
  std::unique_lock<std::mutex>* caller_lock_ = nullptr;
  std::thread poller_;
  internal::UniqueFd wake_fd_;  // eventfd: ends the poller's wait
  bool stop_polling_ = false;
  absl::Status poller_status_;
};

}  // namespace tachyon::client

#endif  // TACHYON_CLIENTS_CPP_SRC_CLIENT_IMPL_H_
