// BackendConnection: one pooled connection from a worker to a backend
// endpoint, speaking the backend role of the protocol (PROTOCOL.md 13).
//
// Overview
//   The gateway is the client: Start dials the endpoint through the
//   worker's reactor (Reactor::Connect, bounded by connect_timeout_ms),
//   sends LOGON (client_name "tachyon-gateway", the service's token,
//   versions 1..kMaxProtocolVersion) once connected, and is ready when
//   LOGON_ACK arrives; LOGON_REJECT, a failed connect or no LOGON_ACK within
//   connect_timeout_ms of the start is a failed connect.
//
//   In flight: a fixed table of max_in_flight_per_connection slots. The
//   REQUEST sent to the backend carries a gateway-chosen correlation id,
//   generation << 32 | slot; the slot keeps the index of the request's
//   record (the client's correlation id and its ResponseTarget live there).
//   Releasing a slot (answered, timed out, cancelled) bumps its generation,
//   so a RESPONSE that arrives later names no outstanding request and is
//   dropped and counted as late, even when the slot has been reused.
//
//   Sending: frames are encoded into a reusable buffer; while the reactor
//   owns one buffer (a send in progress) new frames go to the other, and
//   the two swap when the send completes. Receiving: the protocol's
//   FrameDecoder over a buffer of twice the largest frame.
//
//   Health: a HEARTBEAT goes out when nothing was sent for the negotiated
//   interval; three intervals without a byte from the backend is a
//   failure. Failures answer the requests in flight at once, with a text
//   naming the endpoint (PROTOCOL.md 19.4, 19.5): a malformed frame or a
//   message the backend role does not allow earns the backend a fatal
//   ERROR and answers BACKEND_ERROR; silence earns ERROR HEARTBEAT_TIMEOUT;
//   a peer close, a socket error, a fatal ERROR or LOGOUT from the backend
//   answers UNAVAILABLE (a LOGOUT is answered with LOGOUT). A connection the
//   pool retires says LOGOUT first. A final frame is sent before the close
//   (kClosing), for at most kFinalFrameNs.
//
// Example (what EndpointPool does):
//   auto c = std::make_unique<BackendConnection>(pool, service, "db:7500",
//                                                max_frame, reactor, clock);
//   c->Start(addr);                  // OnLoggedOn follows, or OnEnded
//   if (c->HasRoom()) c->SendRequest(record, service.id, 250, body, slot);
//
// Threading: the worker's thread only; every callback comes from its
// reactor's Poll.
#ifndef TACHYON_BACKEND_BACKEND_CONNECTION_H_
#define TACHYON_BACKEND_BACKEND_CONNECTION_H_

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "config/model.h"
#include "io/reactor.h"
#include "tachyon/protocol/frame_decoder.h"
#include "tachyon/protocol/request_messages.h"
#include "tls/tls_connection.h"

namespace tachyon::backend {

class BackendConnection;

/// Why a connection ended (for the pool's failure accounting).
enum class ConnectionEnd : std::uint8_t {
  kConnectFailed,  ///< connect, logon rejected or logon timed out
  kFailed,         ///< an established connection failed or was closed
  kRetired,        ///< the pool closed it (idle, or the gateway stopping)
  kAbandoned,      ///< the pool closed it before it logged on (stopping)
};

/// The pool a connection belongs to.
class ConnectionOwner {
 public:
  /// LOGON_ACK arrived: the connection takes requests from now on.
  virtual void OnLoggedOn(BackendConnection* c) = 0;
  /// The answer to the request whose record is `record` (its slot is
  /// already released). `payload` is valid only during the call.
  virtual void OnAnswer(std::uint32_t record, protocol::ResponseStatus status,
                        std::span<const std::byte> payload) = 0;
  /// A RESPONSE for the request whose record is `record` was read (its
  /// OnAnswer follows at once): the request's round trip ends.
  virtual void OnResponse(std::uint32_t record) = 0;
  /// A RESPONSE for no outstanding request was dropped.
  virtual void OnLateResponse() = 0;
  /// The connection closed (its in-flight requests are answered already);
  /// OnReleased follows.
  virtual void OnEnded(BackendConnection* c, ConnectionEnd how) = 0;
  /// The reactor is done with `c`: the owner may destroy it now.
  virtual void OnReleased(BackendConnection* c) = 0;

 protected:
  ~ConnectionOwner() = default;
};

/// The frame a connection sends the backend before it closes, if any.
struct Farewell {
  enum class Kind : std::uint8_t { kNone, kError, kLogout };
  Kind kind = Kind::kNone;
  protocol::ErrorCode code = protocol::ErrorCode::kNone;  ///< or LOGOUT reason
  std::string_view text;                                  ///< kError
};

class BackendConnection final : public io::ConnectionHandler {
 public:
  enum class State : std::uint8_t {
    kConnecting,  ///< connect in progress
    kLoggingOn,   ///< LOGON sent, waiting for LOGON_ACK
    kReady,       ///< takes requests
    kClosing,     ///< a final frame (ERROR, LOGOUT) is being sent
    kClosed,      ///< closed; waiting for OnReleased
  };

  /// How long a final frame may take before the connection closes anyway.
  static constexpr std::int64_t kFinalFrameNs = 1'000'000'000;

  /// `endpoint` (for texts and logs) must outlive the connection.
  BackendConnection(ConnectionOwner& owner, const config::BackendService& svc,
                    std::string_view endpoint, std::uint32_t max_frame_length,
                    io::Reactor& reactor, base::LoopClock& clock);
  ~BackendConnection() override;
  BackendConnection(const BackendConnection&) = delete;
  BackendConnection& operator=(const BackendConnection&) = delete;

  /// Starts connecting to `addr`. False when no socket could be made (the
  /// owner gets no callback; the connection may be destroyed at once).
  bool Start(const sockaddr_in& addr);
  /// Sends `payload` to the backend as a REQUEST for record `record`;
  /// requires HasRoom(). Stores the slot used in `slot` before sending. If
  /// the send fails the connection fails at once, answering this request
  /// too (through OnAnswer): the caller must not touch the record after.
  void SendRequest(std::uint32_t record, std::uint32_t service_id,
                   std::uint32_t timeout_ms, std::span<const std::byte> payload,
                   std::uint32_t& slot);
  /// Forgets the request in `slot` (timed out or cancelled): its answer, if
  /// it comes, is dropped as late.
  void ReleaseSlot(std::uint32_t slot);
  /// Heartbeats, silence and logon deadline. `now_ns` monotonic.
  void Tick(std::int64_t now_ns);
  /// Says LOGOUT (reason SHUTTING_DOWN when `shutting_down`) and closes;
  /// requests still in flight are answered UNAVAILABLE.
  void Retire(bool shutting_down);

  [[nodiscard]] State state() const { return state_; }
  [[nodiscard]] bool logged_on() const { return state_ == State::kReady; }
  /// Whether a REQUEST with `payload_bytes` fits the frame limit the
  /// backend announced in its LOGON_ACK.
  [[nodiscard]] bool Fits(std::size_t payload_bytes) const {
    return protocol::RequestView::kFixedLength + payload_bytes <=
           peer_max_frame_length_;
  }
  [[nodiscard]] std::uint32_t peer_max_frame_length() const {
    return peer_max_frame_length_;
  }
  [[nodiscard]] bool HasRoom() const {
    return state_ == State::kReady && in_flight_ < slots_.size();
  }
  [[nodiscard]] std::uint32_t in_flight() const { return in_flight_; }
  /// Monotonic time the connection last had nothing in flight.
  [[nodiscard]] std::int64_t idle_since_ns() const { return idle_since_ns_; }
  /// Pool bookkeeping: when this connection, idle since
  /// `retire_stamped_idle_ns`, may retire (PoolSizer::RetireDeadline).
  std::int64_t retire_at_ns = 0;
  std::int64_t retire_stamped_idle_ns = -1;

  /// Makes the connection TLS (before Start): the handshake with
  /// `server_name` (SNI and the name the backend's certificate must carry)
  /// follows the TCP connect, within connect_timeout_ms, before LOGON.
  /// False (logged) if TLS cannot be set up or `server_name` is empty or
  /// not accepted: the caller must not Start the connection then, so that
  /// nothing ever talks to a backend without the checks asked for.
  [[nodiscard]] bool UseTls(SSL_CTX* ctx, tls::TlsCounters& counters,
                            std::string server_name);

  // io::ConnectionHandler
  void OnConnected(int error) override;
  void OnData(std::span<const std::byte> data) override;
  void OnSendComplete(ssize_t result) override;
  void OnWritable() override;
  void OnPeerClosed(int error) override;
  void OnReleased() override;

 private:
  struct Slot {
    std::uint32_t record = 0;
    std::uint32_t generation = 0;
    bool used = false;
  };

  // Reserves `bytes` at the end of the outgoing buffer; Commit sends.
  std::span<std::byte> Reserve(std::size_t bytes);
  void Commit(std::size_t bytes);
  void SendMore();
  // Accounts for `result` bytes of sending_ written (or an error: the
  // connection ends, false).
  bool Sent(ssize_t result);
  // Handles one frame; false when the connection ended.
  bool HandleFrame(protocol::FrameView frame);
  void HandleResponse(const protocol::ResponseView& m);
  // Answers every request in flight with `status` and `why`, tells the
  // owner, and closes (after sending `farewell`, if the connection is up).
  void End(ConnectionEnd how, protocol::ResponseStatus status,
           std::string_view why, Farewell farewell = {});
  void CloseNow();
  void FreeSlot(std::uint32_t slot);

  ConnectionOwner& owner_;
  const config::BackendService& svc_;
  const std::string_view endpoint_;
  io::Reactor& reactor_;
  base::LoopClock& clock_;
  io::Connection* conn_ = nullptr;
  // TLS: the record layer the reactor calls (null: plain TCP).
  std::unique_ptr<tls::TlsConnection> tls_;
  State state_ = State::kConnecting;

  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::uint32_t in_flight_ = 0;

  std::vector<std::byte> sending_;  // owned by the reactor while busy
  std::size_t sent_ = 0;
  bool send_busy_ = false;         // sending_ holds bytes not yet sent
  bool send_waiting_ = false;      // a send pending, or the socket full
  std::vector<std::byte> queued_;  // frames waiting for the next send
  std::size_t reserved_at_ = 0;

  // Uninitialised: zero-filling 2 x max_frame_length bytes touched every
  // page of it at each connect, time a request waiting for the connection
  // paid.
  std::size_t receive_size_;
  std::unique_ptr<std::byte[]> receive_storage_;
  protocol::FrameDecoder decoder_;

  std::uint32_t peer_max_frame_length_ = 0;
  std::int64_t logon_deadline_ns_ = 0;
  std::int64_t close_deadline_ns_ = 0;
  std::int64_t heartbeat_ns_ = 0;
  std::int64_t last_recv_ns_ = 0;
  std::int64_t last_send_ns_ = 0;
  std::int64_t idle_since_ns_ = 0;
};

}  // namespace tachyon::backend

#endif  // TACHYON_BACKEND_BACKEND_CONNECTION_H_
