// PoolSizer: how many connections one endpoint's pool (on one worker)
// should hold ready, which idle ones may retire, and how many to start
// connecting now. One call per pool tick, Plan(), returns all of it.
//
// Target, per endpoint:
//
//   target = clamp(ceil(predicted * prediction_ratio
//                       / max_in_flight_per_connection
//                       / healthy_endpoints),
//                  pool_min, pool_max)
//   while a scheduled warm-up is active: target = max(target,
//                                                     min(warm_connections,
//                                                         pool_max))
//
// `predicted` is the service's DemandPredictor on this worker (requests in
// flight plus queued, extrapolated), and never below its interested
// sessions (those on the worker that looked it up or called it) times
// prediction_per_session (backend_router.h); the ratio is the headroom Envoy's
// preconnect ratio gives, applied to a demand that already anticipates a
// rising load. Connections still connecting or logging on count towards
// the target, so a tick never connects twice for the same need: connect =
// max(0, target - ready - connecting), and none while the endpoint may not
// be dialled (ejected, or waiting out a reconnect backoff).
//
// Idle retirement: when a ready connection's last request completes (or it
// is first logged on), the caller stamps it with RetireDeadline(now, rng) =
// now + idle_retire_ms + j, j uniform in [-jitter, +jitter]
// (idle_retire_jitter_ms), drawn once then and kept until it is busy again.
// Plan retires an idle connection whose deadline has passed while more than
// `target` are ready; never one with a request in flight and never below
// the target. The jitter spreads connections that went idle together over
// 2 x jitter, so they do not all close (and, if load returns, all reconnect)
// at one instant.
//
// Worked example, defaults (max_in_flight_per_connection 32, ratio 1.5,
// min 1, max 16, idle 30 s +/- 5 s), two healthy endpoints: predicted 100
// in flight -> ceil(100 * 1.5 / 32 / 2) = ceil(2.34) = 3 per endpoint, i.e.
// 192 request slots for 100 expected. At market open with warm_at =
// ["13:30"], warm_connections 8: from 13:29 to 13:35 each endpoint holds 8
// even before any request. When the load stops, the prediction decays by
// half every 200 ms, the target falls to 1 within seconds, and the extra
// connections close between 25 s and 35 s after each went idle.
//
// Population (prediction_per_session 1): 40 sessions log on to one worker
// at 09:00 and each looks "risk" up. Before any of them calls, predicted
// is 40 on that worker, so each endpoint holds ceil(40 * 1.5 / 32 / 2) = 1
// (with max_in_flight_per_connection 1: ceil(40 * 1.5 / 1 / 2) = 30, up to
// pool_max); when they all call at once, no request waits for a connect.
// As they log off, the prediction falls back to the measured demand.
//
// Example (the gateway's per-endpoint pool, once per tick). The pool keeps
// `ready_view_` (one ReadyConnection per ready connection, in the order of
// its own `ready_` list) and `retire_` (pool_max ints), both sized at setup:
//   backend::PoolPlan plan = sizer.Plan(now_ns, {
//       .predicted = predictor.predicted(),
//       .healthy_endpoints = healthy,
//       .warm = warm_schedule.Active(realtime_ns),
//       .may_connect = health.Available(now_ns) && backoff.MayAttempt(now_ns),
//       .connecting = connecting,
//       .ready = ready_view_}, retire_);
//   for (int i = plan.retire - 1; i >= 0; --i) Retire(ready_[retire_[i]]);
//   for (int i = 0; i < plan.connect; ++i) StartConnect();
//
// Threading: const after construction; Plan and Target may be called from
// any thread on their own arguments. Never allocates.
#ifndef TACHYON_BACKEND_POOL_SIZER_H_
#define TACHYON_BACKEND_POOL_SIZER_H_

#include <cstdint>
#include <span>

#include "backend/random.h"
#include "config/model.h"

namespace tachyon::backend {

/// What Plan needs to know about one ready (connected, logged-on)
/// connection.
struct ReadyConnection {
  /// No request in flight on it.
  bool idle = false;
  /// When idle: the RetireDeadline stamped when it became idle.
  std::int64_t retire_at_ns = 0;
};

/// One endpoint pool's state at a tick.
struct PoolInput {
  /// The service's predicted demand on this worker, requests
  /// (DemandPredictor::predicted(), at least the interested sessions x
  /// prediction_per_session).
  double predicted = 0.0;
  /// The service's endpoints not ejected, counting this one; values below
  /// 1 are taken as 1.
  int healthy_endpoints = 1;
  /// A scheduled warm-up is active (WarmSchedule::Active).
  bool warm = false;
  /// New connects may start now: the endpoint is not ejected and not
  /// waiting out a reconnect backoff.
  bool may_connect = true;
  /// Connections started and not yet ready (connecting or logging on).
  int connecting = 0;
  /// Every ready connection of this pool, in the caller's order.
  std::span<const ReadyConnection> ready;
};

/// What to do at this tick.
struct PoolPlan {
  /// Ready connections wanted (Target()).
  int target = 0;
  /// New connections to start now, >= 0.
  int connect = 0;
  /// How many indices into PoolInput::ready Plan wrote to `retire_out`:
  /// idle connections to close now.
  int retire = 0;
};

/// The pool's sizing rules for one service's settings.
class PoolSizer {
 public:
  /// Reads pool_min, pool_max, prediction_ratio,
  /// max_in_flight_per_connection, warm_connections, idle_retire_ms and
  /// idle_retire_jitter_ms. Out-of-range values (validation is config's)
  /// are made safe: pool_max >= 1, 0 <= pool_min <= pool_max, ratio >= 1,
  /// max in flight >= 1.
  explicit PoolSizer(const config::BackendService& service);

  /// Ready connections wanted per endpoint (formula above).
  [[nodiscard]] int Target(double predicted, int healthy_endpoints,
                           bool warm) const;

  /// The retirement deadline of a connection that became idle at
  /// `idle_since_ns`: idle_retire_ms + uniform [-jitter, +jitter] later
  /// (never before idle_since_ns). Draws exactly one value from `rng`.
  [[nodiscard]] std::int64_t RetireDeadline(std::int64_t idle_since_ns,
                                            SplitMix64& rng) const;

  /// The tick's decision for one endpoint pool at CLOCK_MONOTONIC `now_ns`.
  /// Writes to `retire_out` the indices (into in.ready, ascending) of the
  /// idle connections to close, at most retire_out.size(); a caller that
  /// passes a span as long as in.ready gets every retirement due. Connects
  /// never run while a retirement is due and vice versa.
  [[nodiscard]] PoolPlan Plan(std::int64_t now_ns, const PoolInput& in,
                              std::span<int> retire_out) const;

  [[nodiscard]] int pool_min() const { return pool_min_; }
  [[nodiscard]] int pool_max() const { return pool_max_; }

 private:
  int pool_min_;
  int pool_max_;
  int warm_connections_;
  double ratio_;
  double max_in_flight_;
  std::int64_t idle_retire_ns_;
  std::int64_t jitter_ns_;
};

}  // namespace tachyon::backend

#endif  // TACHYON_BACKEND_POOL_SIZER_H_
