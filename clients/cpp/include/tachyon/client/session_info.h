// tachyon/client/session_info.h — what both clients report about their
// session.
//
// Overview
//   Client (client.h) and AsyncClient (async_client.h) are two transports
//   over one protocol core; SessionInfo is their common base with the
//   accessors that describe the session: the peer, the ids and limits the
//   gateway granted at LOGON_ACK, and running statistics (ClientStats).
//   The values are those of the current (or last) session; before the
//   first LOGON_ACK the limits are the protocol's defaults.
//
// Threading: cheap, non-blocking reads without a lock. Call them where the
// client's other calls are allowed: the owning thread, the AsyncClient's
// executor, or, for a Client in background mode, a handler or after
// StopBackgroundPolling.
//
// Example
//   std::printf("%s: session %llu, %llu messages, %llu gaps\n",
//               client->peer().c_str(),
//               (unsigned long long)client->session_id().value(),
//               (unsigned long long)client->stats().messages_received,
//               (unsigned long long)client->stats().gaps);
#ifndef TACHYON_CLIENT_SESSION_INFO_H_
#define TACHYON_CLIENT_SESSION_INFO_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "tachyon/common/types.h"

namespace tachyon::client {

namespace internal {
class SessionCore;
}  // namespace internal

/// Running totals of one client session (Client or AsyncClient), for tools
/// and monitoring.
struct ClientStats {
  std::uint64_t messages_received = 0;   ///< DATA frames delivered
  std::uint64_t gaps = 0;                ///< gap events (GAP or detected)
  std::uint64_t messages_lost = 0;       ///< sequences covered by gaps
  std::uint64_t duplicates_dropped = 0;  ///< DATA below the expected seq
  std::uint64_t publishes = 0;           ///< PUBLISH frames sent
  std::uint64_t publishes_refused = 0;   ///< PUBLISH_ACKs with a refusal
  std::uint64_t heartbeats_sent = 0;
  std::uint64_t async_errors = 0;  ///< errors reported via on_error
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t reconnects = 0;          ///< successful reconnections
  std::uint64_t reconnect_attempts = 0;  ///< including failed ones
  std::uint64_t publishes_queued = 0;    ///< queued while disconnected
  /// Reconnects that found a restarted gateway (ReconnectOptions).
  std::uint64_t gateway_restarts = 0;
};

class SessionInfo {
 public:
  /// "host:port" the client connects to, for messages.
  [[nodiscard]] const std::string& peer() const;
  /// The session id from LOGON_ACK.
  [[nodiscard]] SessionId session_id() const;
  /// The heartbeat interval the gateway granted.
  [[nodiscard]] std::chrono::milliseconds heartbeat_interval() const;
  /// The session's frame limit, from LOGON_ACK.
  [[nodiscard]] std::uint32_t max_frame_length() const;
  /// Largest payload a publish accepts (frame limit - 32).
  [[nodiscard]] std::size_t max_payload_length() const;
  /// The instance epoch of the gateway run the session is (or was last)
  /// logged on to, from LOGON_ACK (PROTOCOL.md 7.6): sequences are
  /// meaningful only together with it. 0 before the first LOGON_ACK and
  /// with a gateway that announces none (protocol version 1). An
  /// application that keeps positions across connections (to resume with
  /// StartPosition::From) keeps this with them and starts over when it
  /// changes.
  [[nodiscard]] std::uint64_t gateway_epoch() const;
  /// The protocol version LOGON_ACK granted (PROTOCOL.md 7.2): 1..3, the
  /// highest both sides speak; 0 before the first LOGON_ACK. Service
  /// lookups (LookupService) need 3.
  [[nodiscard]] std::uint16_t protocol_version() const;
  [[nodiscard]] const ClientStats& stats() const;

 protected:
  /// `core` outlives this object (it belongs to the client's Impl).
  explicit SessionInfo(const internal::SessionCore& core) : core_(&core) {}
  ~SessionInfo() = default;
  SessionInfo(const SessionInfo&) = delete;
  SessionInfo& operator=(const SessionInfo&) = delete;

 private:
  const internal::SessionCore* core_;
};

}  // namespace tachyon::client

#endif  // TACHYON_CLIENT_SESSION_INFO_H_
