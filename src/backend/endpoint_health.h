// EndpointHealth: passive health of one endpoint, outlier-detection style.
// Consecutive failures (a connect, a logon, a heartbeat or a frame that
// failed; the caller decides what counts) eject the endpoint for a while:
// its pools stop dialling it and the router sends it nothing.
//
// The rules:
// - eject_after_failures consecutive failures eject it (0: never).
// - The n-th consecutive ejection lasts min(eject_ms * 2^(n-1), cap), cap =
//   max(eject_ms, 300 s).
// - When an ejection ends the endpoint is on probation: the next failure,
//   before any success, ejects it again at once (for the doubled time); a
//   success ends the probation.
// - A success resets the consecutive failures. The ejection count n goes
//   back to 0 once the endpoint has stayed in (not ejected) with a success
//   for as long as its last ejection lasted: the next ejection is then a
//   first one again.
// - Failures reported while ejected (attempts that were already in flight)
//   are ignored.
//
// What Envoy does (outlier detection, consecutive_5xx): the host is ejected
// for base_ejection_time x the number of times it has been ejected (a linear
// multiplier), capped by max_ejection_time (default 300 s); a sweep every
// `interval` (default 10 s) returns hosts and lowers the multiplier of
// hosts that stayed healthy; max_ejection_percent (default 10 %) stops it
// from ejecting more than that share of a cluster, so a wholly failing
// cluster is not emptied. What this does instead: doubling rather than
// linear growth, because an endpoint that fails again at once is most
// likely down, and each return costs a round of connects from every pool
// of every worker; the same 300 s cap; the return is exact at the end of
// the ejection (no sweep interval), with one-failure probation replacing
// Envoy's wait for consecutive_5xx more failures. There is no ejection
// percentage here: when every endpoint is ejected the router answers
// UNAVAILABLE at once, which is what a client needs from a service that is
// wholly down, and the first endpoint back ends it.
//
// Worked example, defaults (3 failures, 5 s): fail, fail, fail at t = 0 ->
// out until 5 s. At 5 s one connect fails -> out until 15 s (10 s). At
// 15 s a connect logs on: in, probation over. If it then stays in for 10 s
// with a success, the next ejection lasts 5 s again.
//
// Example (one per endpoint and worker):
//   if (health.OnFailure(now_ns)) counters.ejections.Increment();
//   bool usable = health.Available(now_ns);
//
// Threading: owned and called by one worker thread. Never allocates.
#ifndef TACHYON_BACKEND_ENDPOINT_HEALTH_H_
#define TACHYON_BACKEND_ENDPOINT_HEALTH_H_

#include <cstdint>

#include "config/model.h"

namespace tachyon::backend {

/// Consecutive failures and ejections of one endpoint.
class EndpointHealth {
 public:
  /// The longest ejection, unless eject_ms itself is longer (Envoy's
  /// max_ejection_time default).
  static constexpr std::int64_t kMaxEjectNs = 300'000'000'000;

  /// `eject_after_failures` <= 0: never eject. `eject_ms` 0 is taken as 1.
  EndpointHealth(int eject_after_failures, std::uint32_t eject_ms);
  /// From eject_after_failures and eject_ms.
  explicit EndpointHealth(const config::BackendService& service)
      : EndpointHealth(service.eject_after_failures, service.eject_ms) {}

  /// Records a failure at CLOCK_MONOTONIC `now_ns`. Returns true when it
  /// ejected the endpoint (count an ejection), false otherwise.
  bool OnFailure(std::int64_t now_ns);
  /// Records a success (a logon, a response): failures back to 0,
  /// probation over. Ignored while ejected.
  void OnSuccess(std::int64_t now_ns);

  /// Not ejected at `now_ns`: pools may dial it, the router may use it.
  [[nodiscard]] bool Available(std::int64_t now_ns) const {
    return now_ns >= ejected_until_ns_;
  }
  /// End of the current or last ejection (INT64_MIN before any).
  [[nodiscard]] std::int64_t ejected_until_ns() const {
    return ejected_until_ns_;
  }
  [[nodiscard]] int consecutive_failures() const { return failures_; }
  /// Consecutive ejections (n above).
  [[nodiscard]] int ejections() const { return ejections_; }

 private:
  int eject_after_;
  std::int64_t eject_ns_;
  std::int64_t max_eject_ns_;
  int failures_ = 0;
  int ejections_ = 0;
  bool probation_ = false;
  bool success_since_return_ = false;
  std::int64_t ejected_until_ns_;
  std::int64_t last_eject_ns_ = 0;  // length of the last ejection
};

}  // namespace tachyon::backend

#endif  // TACHYON_BACKEND_ENDPOINT_HEALTH_H_
