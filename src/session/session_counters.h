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

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/container/node_hash_map.h"
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
// Abuse limits (PROTOCOL.md 15): one count per refusal or cut, labelled
// reason=<the limit's config key> (pre_logon_frame_length, which is fixed
// by the protocol, has no key).
inline constexpr std::string_view kLimitRefusalsTotal =
    "tachyon_session_limit_refusals_total";
// Bytes of buffer the worker's sessions hold for frames split across reads.
inline constexpr std::string_view kPartialFrameBytes =
    "tachyon_session_partial_frame_bytes";
// Principals (PROTOCOL.md 7.8): LOGONs by result, permission refusals by
// action, quota refusals by quota, sessions closed by a revoking reload.
inline constexpr std::string_view kAuthLogonsTotal =
    "tachyon_session_auth_logons_total";
inline constexpr std::string_view kPermissionRefusalsTotal =
    "tachyon_session_permission_refusals_total";
inline constexpr std::string_view kQuotaRefusalsTotal =
    "tachyon_session_quota_refusals_total";
inline constexpr std::string_view kAuthRevocationsTotal =
    "tachyon_session_auth_revocations_total";

// Latency histograms (nanoseconds, power-of-two buckets: base/counters.h).
//
// tachyon_session_delivery_latency_ns: for each send to a subscriber that
//   completed (the kernel took its bytes: a send() that returned, or an
//   io_uring completion) and finished at least one DATA frame appended
//   after the subscription started, one value: CLOCK_REALTIME read once
//   after the completion minus the gateway timestamp of the oldest frame
//   the send finished. That timestamp is the frame's DATA timestamp_ns, the
//   time the gateway read for the PUBLISH's read batch just before the
//   append, so the value covers publish-to-append as well as the wait in
//   the log and the send. With one frame per send (a subscriber keeping
//   up) it is that frame's latency; a send that carries a backlog reports
//   the longest any of its frames waited. Replayed frames (appended before
//   their subscription started) are not recorded: their age is no
//   gateway latency. Both times are CLOCK_REALTIME; a step of the clock
//   between them that makes the value negative drops it.
// tachyon_session_publish_to_append_ns: for each read from a publisher's
//   connection that appended at least one PUBLISH, one value: CLOCK_REALTIME
//   read once after the read's frames were handled, minus the time the
//   worker read for the reactor's batch of completions (the DATA
//   timestamp). It covers decoding and appending every frame of that read
//   (and of reads handled before it in the same batch), so it is the
//   append latency of the read's last PUBLISH. A PUBLISH held for lack of
//   room in its stream (publish_holds_total) is appended by a later retry
//   and not recorded here.
inline constexpr std::string_view kDeliveryLatencyNs =
    "tachyon_session_delivery_latency_ns";
inline constexpr std::string_view kPublishToAppendNs =
    "tachyon_session_publish_to_append_ns";
// The same two measures per stream (labels worker and stream), under names
// of their own so that summing a name over its label sets never counts a
// value twice:
// tachyon_session_stream_delivery_latency_ns: per send, for each stream the
// send
//   finished a live frame of, CLOCK_REALTIME after the completion minus
//   the oldest such frame's timestamp (the worker series takes the oldest
//   over all streams of the send; one clock read serves both).
// tachyon_session_stream_publish_to_append_ns: the worker series' value,
// recorded
//   also under the stream of the read's last appended PUBLISH.
// A worker allocates a stream's series when it first delivers (or a
// session of it first opens) the stream; past kMaxStreamSeries streams
// per worker and measure, further streams share the stream="(other)" series.
// Series outlive a retired stream (a re-created stream of the name reuses
// them), so their number stays bounded; hence not the tachyon_stream_*
// prefix, whose series belong to live streams (one admin row each).
inline constexpr std::string_view kStreamDeliveryLatencyNs =
    "tachyon_session_stream_delivery_latency_ns";
inline constexpr std::string_view kStreamPublishToAppendNs =
    "tachyon_session_stream_publish_to_append_ns";

/// One worker's per-stream series of one latency histogram (see above).
/// Threading: the worker's thread only.
class StreamHistograms {
 public:
  /// Streams with a series of their own, per worker; the rest share
  /// stream="(other)".
  static constexpr std::size_t kMaxStreamSeries = 64;
  /// Label of the series further streams share: not a valid stream name.
  static constexpr std::string_view kOverflowLabel = "(other)";

  StreamHistograms(base::CounterRegistry& registry, std::string_view name,
                   std::string_view help, std::string worker);
  /// The series of `stream`, registered on first use (control path: a
  /// subscription's delivery starting, a stream opened). The pointer stays
  /// valid for the life of this object.
  base::Histogram* For(std::string_view stream);
  /// Series registered, "(other)" included once used.
  [[nodiscard]] std::size_t size() const { return series_.size(); }

 private:
  base::CounterRegistry& registry_;
  const std::string name_;
  const std::string help_;
  const std::string worker_;
  // Node-based: the Histograms handed out never move.
  absl::node_hash_map<std::string, base::Histogram> series_;
};

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
  // kLimitRefusalsTotal, by limit.
  base::Counter limit_pre_logon_frame;         ///< pre_logon_frame_length
  base::Counter limit_frame_progress;          ///< min_frame_progress
  base::Counter limit_address_connections;     ///< max_connections_per_address
  base::Counter limit_address_logon_failures;  ///< logon_failures_per_address
  /// kConnectionsRefusedTotal reason="address_connection_limit".
  base::Counter refused_address_limit;
  /// kPartialFrameBytes: capacity of the sessions' PartialFrame buffers.
  base::Gauge partial_frame_bytes;
  // kAuthLogonsTotal, by result: logged on as a principal or
  // anonymously; refused for credentials (wrong or unknown secret, no
  // token with anonymous access off, a source outside allowed_sources) or
  // for the connection quota.
  base::Counter logons_principal;         ///< result="principal"
  base::Counter logons_anonymous;         ///< result="anonymous"
  base::Counter logons_bad_credentials;   ///< result="rejected_credentials"
  base::Counter logons_connection_quota;  ///< result="rejected_quota"
  // kPermissionRefusalsTotal, by action.
  base::Counter refused_publish;    ///< action="publish"
  base::Counter refused_subscribe;  ///< action="subscribe"
  base::Counter refused_create;     ///< action="create"
  base::Counter refused_request;    ///< action="request"
  // kQuotaRefusalsTotal, by quota.
  base::Counter quota_streams;        ///< quota="max_streams_created"
  base::Counter quota_subscriptions;  ///< quota="max_subscriptions"
  base::Counter quota_publish_rate;   ///< quota="publish_rate"
  /// kAuthRevocationsTotal: sessions closed because a reload took away
  /// their principal or something they held.
  base::Counter auth_revocations;
  /// kDeliveryLatencyNs: recorded by the sessions' send engines.
  base::Histogram delivery_latency;
  /// kPublishToAppendNs.
  base::Histogram publish_to_append;
  /// kStreamDeliveryLatencyNs, kStreamPublishToAppendNs.
  StreamHistograms delivery_latency_by_stream;
  StreamHistograms publish_to_append_by_stream;
};

}  // namespace tachyon::session

#endif  // TACHYON_SESSION_SESSION_COUNTERS_H_
