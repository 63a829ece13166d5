// SessionServices: what a worker's sessions need from outside that worker.
//
// Sessions live on one worker and touch only its state, the stream
// registry and the logs. A few things are gateway-wide: the connection
// limit, session ids, waking every worker when a stream is created (for
// pattern subscriptions), and the UDP egress of a stream, which one worker
// owns. The server implements this interface; sessions never see workers.
//
// Threading: called on the session's worker thread; implementations are
// safe against the other workers calling them concurrently.
#ifndef TACHYON_SESSION_SESSION_SERVICES_H_
#define TACHYON_SESSION_SESSION_SERVICES_H_

#include <cstdint>

#include "io/endpoint.h"
#include "tachyon/common/types.h"

namespace tachyon::session {

/// A change to the UDP destinations of a stream, asked for by a session
/// (UDP_SUBSCRIBE, its UNSUBSCRIBE or the session's end) and carried out by
/// the worker that owns the stream's UDP egress.
struct UdpDestinationRequest {
  enum class Kind : std::uint8_t { kAdd, kRemove };
  Kind kind = Kind::kAdd;
  StreamId stream;
  io::Endpoint destination;
  Sequence from;  ///< kAdd: the first sequence the destination is owed
};

class SessionServices {
 public:
  virtual ~SessionServices() = default;
  /// Reserves a connection slot, gateway-wide; false at
  /// limits.max_connections.
  virtual bool TryAddConnection() = 0;
  /// Returns a slot reserved by TryAddConnection.
  virtual void ReleaseConnection() = 0;
  /// A gateway-unique session id.
  virtual SessionId NextSessionId() = 0;
  /// A stream was just created: every worker looks for pattern matches.
  virtual void OnStreamCreated() = 0;
  /// Hands `request` to the worker that owns the stream's UDP egress
  /// (possibly this one). Never lost, applied in the order asked.
  virtual void RouteUdp(const UdpDestinationRequest& request) = 0;
  /// True once the gateway began a graceful stop.
  [[nodiscard]] virtual bool stopping() const = 0;
  /// This gateway run's random, non-zero instance epoch (PROTOCOL.md 7.6),
  /// sent in LOGON_ACK and SUBSCRIBE_ACK of version-2 sessions.
  [[nodiscard]] virtual std::uint64_t instance_epoch() const = 0;
};

}  // namespace tachyon::session

#endif  // TACHYON_SESSION_SESSION_SERVICES_H_
