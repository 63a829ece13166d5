// BackendCounters: what a worker's backend pools and router count, in the
// counters registry (base/counters.h).
//
// Names (PROTOCOL.md section 13, "Backends" in the README):
//   per service, endpoint and worker:
//     tachyon_backend_ready        gauge: logged-on connections
//     tachyon_backend_busy         gauge: logged-on connections with at
//                                  least one request in flight
//     tachyon_backend_connecting   gauge: connecting or logging on
//     tachyon_backend_predicted    gauge: the service's predicted demand on
//                                  this worker (requests, rounded up)
//     tachyon_backend_target       gauge: connections the pool aims to keep
//                                  ready (pool_sizer.h)
//     tachyon_backend_connects_total          connections logged on
//     tachyon_backend_connect_failures_total  connects, logons and
//                                  established connections that failed
//     tachyon_backend_ejections_total         times the endpoint was ejected
//     tachyon_backend_late_responses_total    RESPONSEs for no outstanding
//                                  request (timed out or cancelled), dropped
//   per service and worker:
//     tachyon_backend_queue_depth  gauge: requests waiting for a connection
//     tachyon_backend_queued_total requests that found no ready connection
//                                  with room and waited for one (a connect,
//                                  or a connection freeing up at pool_max):
//                                  what a pool sized ahead of demand avoids
//     tachyon_backend_requests_total{status=...}  answers sent to clients
//     tachyon_backend_request_rtt_ns  histogram: from handing a REQUEST to
//                                  a backend connection (just before its
//                                  send) to reading the backend's RESPONSE
//                                  for it, CLOCK_MONOTONIC read at each
//                                  end; requests that time out, are
//                                  cancelled or whose connection fails are
//                                  not recorded, and neither is the wait
//                                  of a queued request for a connection
//   per worker (service=""): requests_total{status="no_such_service"}.
//
// Threading: every handle is written by its worker's thread only.
#ifndef TACHYON_BACKEND_BACKEND_COUNTERS_H_
#define TACHYON_BACKEND_BACKEND_COUNTERS_H_

#include <array>
#include <string>
#include <string_view>

#include "base/counters.h"
#include "tachyon/protocol/request_messages.h"

namespace tachyon::backend {

inline constexpr std::string_view kReadyGauge = "tachyon_backend_ready";
inline constexpr std::string_view kBusyGauge = "tachyon_backend_busy";
inline constexpr std::string_view kConnectingGauge =
    "tachyon_backend_connecting";
inline constexpr std::string_view kPredictedGauge = "tachyon_backend_predicted";
inline constexpr std::string_view kTargetGauge = "tachyon_backend_target";
// 1 while consecutive failures have ejected the endpoint on this worker.
inline constexpr std::string_view kEjectedGauge = "tachyon_backend_ejected";
// 1 while the reconnect backoff holds this worker's next connect back.
inline constexpr std::string_view kBackingOffGauge =
    "tachyon_backend_backing_off";
inline constexpr std::string_view kConnectsTotal =
    "tachyon_backend_connects_total";
inline constexpr std::string_view kConnectFailuresTotal =
    "tachyon_backend_connect_failures_total";
inline constexpr std::string_view kEjectionsTotal =
    "tachyon_backend_ejections_total";
inline constexpr std::string_view kLateResponsesTotal =
    "tachyon_backend_late_responses_total";
inline constexpr std::string_view kQueueDepthGauge =
    "tachyon_backend_queue_depth";
inline constexpr std::string_view kQueuedTotal = "tachyon_backend_queued_total";
inline constexpr std::string_view kRequestsTotal =
    "tachyon_backend_requests_total";
inline constexpr std::string_view kRequestRttNs =
    "tachyon_backend_request_rtt_ns";

/// The label value of a RESPONSE status: "ok", "timeout", ...
std::string_view StatusLabel(protocol::ResponseStatus status);

/// One line for logs, summed over workers and endpoints, e.g. "12 requests
/// (ok 10, timeout 1, unavailable 1), 3 waited for a connection, 4
/// connects, 0 connect failures, 0 ejections, 1 late responses"; statuses
/// with no request are left out. Any thread.
std::string DescribeService(const base::CounterRegistry& registry,
                            std::string_view service);

/// One endpoint's pool, on one worker.
struct EndpointCounters {
  EndpointCounters(base::CounterRegistry& registry, std::string_view service,
                   std::string_view endpoint, int worker);
  base::Gauge ready;
  base::Gauge busy;
  base::Gauge connecting;
  base::Gauge predicted;
  base::Gauge target;
  base::Gauge ejected;      // 0 or 1
  base::Gauge backing_off;  // 0 or 1
  base::Counter connects;
  base::Counter connect_failures;
  base::Counter ejections;
  base::Counter late_responses;
};

/// One service, on one worker (service "" counts requests for unknown ids).
struct ServiceCounters {
  static constexpr std::size_t kStatuses = 6;
  ServiceCounters(base::CounterRegistry& registry, std::string_view service,
                  int worker);
  base::Gauge queue_depth;
  base::Counter queued;
  std::array<base::Counter, kStatuses> requests;  // by ResponseStatus value
  /// kRequestRttNs; detached (records nowhere) for service "".
  base::Histogram request_rtt;
  void Count(protocol::ResponseStatus status) {
    const auto i = static_cast<std::size_t>(status);
    if (i < kStatuses) requests[i].Add();
  }
};

}  // namespace tachyon::backend

#endif  // TACHYON_BACKEND_BACKEND_COUNTERS_H_
