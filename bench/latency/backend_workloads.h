// The backend side of the request/response workloads: an echo service in
// its own process, built on the service library (tachyon/service/server.h),
// as a user's backend would be.
#ifndef TACHYON_BENCH_LATENCY_BACKEND_WORKLOADS_H_
#define TACHYON_BENCH_LATENCY_BACKEND_WORKLOADS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"
#include "workloads.h"

namespace tachyon::bench {

/// W4's backend: a child process serving kBenchServiceId (echo) on an
/// ephemeral loopback port with one service thread. Started before the
/// gateway, whose [[backends]] entry names its port; stopped (by its PID)
/// when this object goes away.
class BenchBackend {
 public:
  /// Forks the backend (call while this process has no other threads) and
  /// waits for it to listen. nullptr with `error` set on failure.
  static std::unique_ptr<BenchBackend> Start(std::string* error);
  ~BenchBackend();
  BenchBackend(const BenchBackend&) = delete;
  BenchBackend& operator=(const BenchBackend&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] pid_t pid() const { return child_->pid(); }

 private:
  BenchBackend(std::unique_ptr<Child> child, std::uint16_t port)
      : child_(std::move(child)), port_(port) {}
  std::unique_ptr<Child> child_;
  std::uint16_t port_;
};

/// W7's pool modes, each a gateway configuration of the bench service
/// with max_in_flight_per_connection = 1 (so the step from 1 to
/// kLoadStepRequesters concurrent requests needs that many connections).
/// The requesters connect and look the service up by name before the step
/// in every mode.
///   on-demand   pool_min 0, ratio 1, no trend, prediction_per_session 0:
///               a connection is dialled when a request finds none free
///               (connect on demand)
///   fixed-min   the same with pool_min 8: a fixed warm pool, on demand
///               beyond it
///   trend-only  pool_min 1, ratio 1.5, trend over 500 ms,
///               prediction_per_session 0: sized from demand as it is
///               observed, with nothing to anticipate the step from
///   trend+warm_at  trend-only with a scheduled warm-up
///               (warm_connections = kLoadStepRequesters) whose window
///               opens one second before the step: how an operator meets a
///               step known in advance (a market open)
///   predictive  the shipped prediction: trend-only plus
///               prediction_per_session 1, so the 64 sessions that looked
///               the service up count as demand before they call
struct LoadStepMode {
  std::string name;
  BackendPoolSettings pool;
  bool warm_at_step = false;
};
std::vector<LoadStepMode> LoadStepModes();

/// Concurrent requesters after W7's step (one before it).
inline constexpr int kLoadStepRequesters = 64;

/// When and how long W7 runs. Times are the wall clock's (realtime ns) so
/// that a warm_at window can be placed around the step.
struct LoadStepPlan {
  std::int64_t step_realtime_ns = 0;
  double settle_s = 1;        // after the step, before the steady window
  double steady_s = 2;        // the steady-state window
  std::int64_t first = 1000;  // requests counted as "just after the step"
};

/// The "warm_at" minute and warm_lead_ms that open a warm-up window one
/// second before `step_realtime_ns` (and hold it `hold_ms` after the
/// minute).
void PlaceWarmUp(std::int64_t step_realtime_ns, BackendPoolSettings* pool);

/// W7: kLoadStepRequesters closed-loop requesters (one AsyncClient each,
/// all connected first), one active until the step and all of them after
/// it. `*step` holds the latencies of the first `plan.first` requests
/// issued at or after the step, `*steady` those issued in the steady
/// window; false with `*error` set on a failed request.
bool RunLoadStep(const WorkloadOptions& o, const LoadStepPlan& plan,
                 Result* step, Result* steady, std::string* error);

}  // namespace tachyon::bench

#endif  // TACHYON_BENCH_LATENCY_BACKEND_WORKLOADS_H_
