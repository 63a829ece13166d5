// SessionInfo: what the admin plane shows about one client session.
//
// Workers own their sessions and publish a copy of these rows (refreshed at
// most a second apart); the admin thread only reads the published copies,
// so rendering never blocks a worker.
#ifndef TACHYON_SESSION_SESSION_INFO_H_
#define TACHYON_SESSION_SESSION_INFO_H_

#include <cstdint>
#include <string>
#include <vector>

namespace tachyon::session {

/// One session as last published by its worker.
struct SessionInfo {
  std::uint64_t id = 0;     ///< unique within this gateway run
  int worker = 0;           ///< worker that owns the session
  std::string peer;         ///< "ip:port" of the client
  std::string client_name;  ///< from LOGON; empty before LOGON_ACK
  /// The principal LOGON authenticated; empty before LOGON_ACK and for
  /// anonymous sessions.
  std::string principal;
  /// Subscription patterns (exact names or prefix*), in subscribe order.
  std::vector<std::string> subscriptions;
  /// Bytes the slowest of its subscriptions is behind its stream's tail.
  std::uint64_t lag_bytes = 0;
  std::uint64_t bytes_in = 0;   ///< read from the client
  std::uint64_t bytes_out = 0;  ///< sent to the client
  std::int64_t connected_unix_ms = 0;
  bool tls = false;         ///< connected through the TLS listener
  std::string tls_subject;  ///< client certificate subject (RFC 2253), or ""
};

}  // namespace tachyon::session

#endif  // TACHYON_SESSION_SESSION_INFO_H_
