// What one worker's sessions count, in the counters registry.
//
// Every value is registered under its worker's label (worker="0", ...) and
// written only by that worker's thread. Refusals and cuts carry a reason
// label, so a reader can tell a connection limit from a shutdown, or a
// subscriber that fell a window behind from one whose control frames piled
// up. The names are constants here so that whoever sums them (the gateway's
// Stats(), the admin plane) spells them the same way.
#ifndef TACHYON_SESSION_SESSION_COUNTERS_H_
#define TACHYON_SESSION_SESSION_COUNTERS_H_

#include <string_view>

#include "base/counters.h"

namespace tachyon::session {

inline constexpr std::string_view kConnectionsAcceptedTotal =
    "tachyon_session_connections_accepted_total";
inline constexpr std::string_view kConnectionsRefusedTotal =
    "tachyon_session_connections_refused_total";
inline constexpr std::string_view kSessionsOpen = "tachyon_session_open";
inline constexpr std::string_view kLogonsRejectedTotal =
    "tachyon_session_logons_rejected_total";
inline constexpr std::string_view kFramesInTotal =
    "tachyon_session_frames_in_total";
inline constexpr std::string_view kBytesInTotal =
    "tachyon_session_bytes_in_total";
inline constexpr std::string_view kBytesOutTotal =
    "tachyon_session_bytes_out_total";
inline constexpr std::string_view kPublishesTotal =
    "tachyon_session_publishes_total";
inline constexpr std::string_view kPublishesRefusedTotal =
    "tachyon_session_publishes_refused_total";
inline constexpr std::string_view kPublishHoldsTotal =
    "tachyon_session_publish_holds_total";
inline constexpr std::string_view kMalformedFramesTotal =
    "tachyon_session_malformed_frames_total";
inline constexpr std::string_view kSlowConsumersTotal =
    "tachyon_session_slow_consumers_total";

struct SessionCounters {
  /// Registers every value with label worker=`worker`.
  SessionCounters(base::CounterRegistry& registry, int worker);

  base::Counter connections_accepted;
  base::Counter refused_connection_limit;  ///< reason="connection_limit"
  base::Counter refused_shutting_down;     ///< reason="shutting_down"
  base::Gauge sessions_open;
  base::Counter logons_rejected;
  base::Counter frames_in;
  base::Counter bytes_in;
  base::Counter bytes_out;
  base::Counter publishes;
  base::Counter publish_too_large;     ///< reason="too_large"
  base::Counter publish_rate_limited;  ///< reason="rate_limited"
  /// A full stream held a publisher: its connection went unread until the
  /// append fit (flow control; nothing refused).
  base::Counter publish_holds;
  base::Counter malformed_frames;
  base::Counter slow_lagging;        ///< reason="lag": past the window
  base::Counter slow_lapped;         ///< reason="lapped": overwritten
  base::Counter slow_stalled;        ///< reason="stalled": held publishers back
  base::Counter slow_control_queue;  ///< reason="control_queue"
};

}  // namespace tachyon::session

#endif  // TACHYON_SESSION_SESSION_COUNTERS_H_
