#include "session/session_counters.h"

#include <string>
#include <utility>

#include "base/strings.h"

namespace tachyon::session {

StreamHistograms::StreamHistograms(base::CounterRegistry& registry,
                                   std::string_view name, std::string_view help,
                                   std::string worker)
    : registry_(registry),
      name_(name),
      help_(help),
      worker_(std::move(worker)) {}

base::Histogram* StreamHistograms::For(std::string_view stream) {
  if (auto it = series_.find(AbslView(stream)); it != series_.end()) {
    return &it->second;
  }
  // The cap counts streams of their own; the overflow series comes on top
  // of it. Its label, "(other)", is no valid stream name, so a stream
  // called "other" gets a series of its own like any other.
  const std::size_t own =
      series_.size() - (series_.contains(AbslView(kOverflowLabel)) ? 1 : 0);
  const std::string_view label =
      own < kMaxStreamSeries ? stream : kOverflowLabel;
  if (auto it = series_.find(AbslView(label)); it != series_.end()) {
    return &it->second;
  }
  auto [it, inserted] = series_.try_emplace(
      std::string(label),
      registry_.AddHistogram(
          name_, help_, {{"worker", worker_}, {"stream", std::string(label)}}));
  return &it->second;
}

SessionCounters::SessionCounters(base::CounterRegistry& registry, int worker)
    : delivery_latency_by_stream(
          registry, kStreamDeliveryLatencyNs,
          "per stream: from a DATA frame's gateway timestamp to the "
          "completion of the send that finished it to a subscriber (oldest "
          "frame of the stream in each send; replays excluded), ns",
          std::to_string(worker)),
      publish_to_append_by_stream(
          registry, kStreamPublishToAppendNs,
          "per stream: from a publisher's read batch to the append of its "
          "last PUBLISH (the stream of that PUBLISH), ns",
          std::to_string(worker)) {
  const std::string w = std::to_string(worker);
  auto counter = [&](std::string_view name, std::string_view help,
                     std::string_view reason = {}) {
    base::Labels labels{{"worker", w}};
    if (!reason.empty()) labels.push_back({"reason", std::string(reason)});
    return registry.AddCounter(name, help, std::move(labels));
  };
  connections_accepted =
      counter(kConnectionsAcceptedTotal, "TCP connections accepted");
  refused_connection_limit =
      counter(kConnectionsRefusedTotal,
              "TCP connections refused right after accept", "connection_limit");
  refused_shutting_down =
      counter(kConnectionsRefusedTotal,
              "TCP connections refused right after accept", "shutting_down");
  sessions_open = registry.AddGauge(kSessionsOpen,
                                    "connections with a session, logged on "
                                    "or not",
                                    {{"worker", w}});
  logons_rejected = counter(kLogonsRejectedTotal, "LOGON_REJECT frames sent");
  frames_in = counter(kFramesInTotal, "frames received from clients");
  bytes_in = counter(kBytesInTotal, "bytes received from clients");
  bytes_out = counter(kBytesOutTotal, "bytes sent to clients");
  publishes = counter(kPublishesTotal, "PUBLISH frames appended to a log");
  publish_too_large =
      counter(kPublishesRefusedTotal, "PUBLISH frames refused", "too_large");
  publish_rate_limited =
      counter(kPublishesRefusedTotal, "PUBLISH frames refused", "rate_limited");
  publish_holds = counter(kPublishHoldsTotal,
                          "times a full stream held a publisher's PUBLISH and "
                          "stopped reading its connection until it fit");
  malformed_frames = counter(kMalformedFramesTotal,
                             "connections closed for a malformed frame");
  slow_lagging = counter(kSlowConsumersTotal,
                         "subscribers closed as slow consumers", "lag");
  slow_lapped = counter(kSlowConsumersTotal,
                        "subscribers closed as slow consumers", "lapped");
  slow_stalled = counter(kSlowConsumersTotal,
                         "subscribers closed as slow consumers", "stalled");
  slow_control_queue =
      counter(kSlowConsumersTotal, "subscribers closed as slow consumers",
              "control_queue");
  auto limit = [&](std::string_view reason) {
    return counter(kLimitRefusalsTotal,
                   "connections refused or cut by an abuse limit, by limit",
                   reason);
  };
  limit_pre_logon_frame = limit("pre_logon_frame_length");
  limit_frame_progress = limit("min_frame_progress");
  limit_address_connections = limit("max_connections_per_address");
  limit_address_logon_failures = limit("logon_failures_per_address");
  refused_address_limit = counter(kConnectionsRefusedTotal,
                                  "TCP connections refused right after accept",
                                  "address_connection_limit");
  partial_frame_bytes = registry.AddGauge(
      kPartialFrameBytes,
      "bytes of buffer held for frames split across reads (grows with the "
      "bytes received, returned when the frame completes or the session "
      "closes)",
      {{"worker", w}});
  auto labelled = [&](std::string_view name, std::string_view help,
                      std::string_view label, std::string_view value) {
    return registry.AddCounter(
        name, help, {{"worker", w}, {std::string(label), std::string(value)}});
  };
  constexpr std::string_view kLogons =
      "LOGONs by result: accepted as a principal or anonymously, or "
      "rejected for their credentials or the principal's connection quota";
  logons_principal = labelled(kAuthLogonsTotal, kLogons, "result", "principal");
  logons_anonymous = labelled(kAuthLogonsTotal, kLogons, "result", "anonymous");
  logons_bad_credentials =
      labelled(kAuthLogonsTotal, kLogons, "result", "rejected_credentials");
  logons_connection_quota =
      labelled(kAuthLogonsTotal, kLogons, "result", "rejected_quota");
  constexpr std::string_view kPermission =
      "requests refused NOT_AUTHORIZED by the session's permissions";
  refused_publish =
      labelled(kPermissionRefusalsTotal, kPermission, "action", "publish");
  refused_subscribe =
      labelled(kPermissionRefusalsTotal, kPermission, "action", "subscribe");
  refused_create =
      labelled(kPermissionRefusalsTotal, kPermission, "action", "create");
  refused_request =
      labelled(kPermissionRefusalsTotal, kPermission, "action", "request");
  constexpr std::string_view kQuota =
      "requests refused LIMIT_EXCEEDED by a principal's quota";
  quota_streams =
      labelled(kQuotaRefusalsTotal, kQuota, "quota", "max_streams_created");
  quota_subscriptions =
      labelled(kQuotaRefusalsTotal, kQuota, "quota", "max_subscriptions");
  quota_publish_rate =
      labelled(kQuotaRefusalsTotal, kQuota, "quota", "publish_rate");
  auth_revocations =
      counter(kAuthRevocationsTotal,
              "sessions closed NOT_AUTHORIZED because a reload revoked their "
              "principal or what they held");
  delivery_latency = registry.AddHistogram(
      kDeliveryLatencyNs,
      "from a DATA frame's gateway timestamp to the completion of the send "
      "that finished it to a subscriber (oldest frame of each send; replays "
      "excluded), ns",
      {{"worker", w}});
  publish_to_append = registry.AddHistogram(
      kPublishToAppendNs,
      "from a publisher's read batch to the append of its last PUBLISH, "
      "ns",
      {{"worker", w}});
}

}  // namespace tachyon::session
