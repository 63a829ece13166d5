// ReconnectBackoff: when an endpoint pool may dial again after a failed
// connect or logon (the connect timed out, was refused, or LOGON was
// rejected or unanswered).
//
// Jittered exponential, "equal jitter": after the k-th consecutive failure
// the ceiling is b = min(reconnect_backoff_max_ms,
// reconnect_backoff_ms * 2^(k-1)) and the wait is b/2 + uniform[0, b/2].
// A success (a connection logged on) resets k to 0.
//
// Why equal jitter and not "full jitter" (uniform[0, b], the AWS
// architecture blog's winner for total work): full jitter can draw a wait
// near zero at any k, so a dead endpoint can be redialled at once however
// long it has been failing, by every pool of every worker. Equal jitter
// keeps a floor of b/2 that doubles with each failure, so the backoff
// really backs off, and still spreads the pools of all workers over the
// other half, so a restarted backend is not hit by every worker in the
// same millisecond.
//
// Attempts that were in flight together fail together: a failure reported
// while the wait set by an earlier one is still running does not raise k
// again (it would otherwise double the wait once per parallel connect).
//
// Worked example, defaults (50 ms, max 5 s): waits drawn from [25, 50],
// [50, 100], [100, 200], ... [2500, 5000] ms from the 8th failure on.
//
// Example (one per endpoint pool):
//   if (backoff.MayAttempt(now_ns)) StartConnect();
//   ... on failure: backoff.OnFailure(now_ns, rng);  on logon: OnSuccess()
//
// Threading: owned and called by one worker thread. Never allocates.
#ifndef TACHYON_BACKEND_RECONNECT_BACKOFF_H_
#define TACHYON_BACKEND_RECONNECT_BACKOFF_H_

#include <cstdint>

#include "backend/random.h"
#include "config/model.h"

namespace tachyon::backend {

/// Consecutive connect failures of one endpoint pool and the time the next
/// attempt may start.
class ReconnectBackoff {
 public:
  /// First ceiling and the ceiling's cap, ms (first 0 is taken as 1, a cap
  /// below first as first).
  ReconnectBackoff(std::uint32_t first_ms, std::uint32_t max_ms);
  /// From reconnect_backoff_ms and reconnect_backoff_max_ms.
  explicit ReconnectBackoff(const config::BackendService& service)
      : ReconnectBackoff(service.reconnect_backoff_ms,
                         service.reconnect_backoff_max_ms) {}

  /// Records a failed attempt at CLOCK_MONOTONIC `now_ns` and returns the
  /// earliest time the next may start. Draws one value from `rng` when it
  /// starts a new wait, none when a wait is already running (the wait is
  /// then unchanged).
  std::int64_t OnFailure(std::int64_t now_ns, SplitMix64& rng);
  /// A connection logged on: the next failure starts again from the first
  /// ceiling, and attempts may start at once.
  void OnSuccess();

  /// Whether a new attempt may start at `now_ns`.
  [[nodiscard]] bool MayAttempt(std::int64_t now_ns) const {
    return now_ns >= next_attempt_ns_;
  }
  [[nodiscard]] std::int64_t next_attempt_ns() const {
    return next_attempt_ns_;
  }
  /// Consecutive failures counted (k).
  [[nodiscard]] int failures() const { return failures_; }
  /// The ceiling b the k-th failure used, ns (0 before any).
  [[nodiscard]] std::int64_t ceiling_ns() const { return ceiling_ns_; }

 private:
  std::int64_t first_ns_;
  std::int64_t max_ns_;
  int failures_ = 0;
  std::int64_t ceiling_ns_ = 0;
  std::int64_t next_attempt_ns_;
};

}  // namespace tachyon::backend

#endif  // TACHYON_BACKEND_RECONNECT_BACKOFF_H_
