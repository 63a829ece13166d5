// DemandPredictor: how many requests a service will have outstanding on
// this worker a little ahead of now, so the pool can connect and log on
// before the requests arrive.
//
// Input: the demand d = requests in flight on the service's connections
// plus requests queued for one, an integer that changes in steps. The
// caller reports it whenever it changes and on every pool tick; between two
// reports it was constant (a step signal), which is what makes the
// time-weighted update below exact for any spacing of the reports.
//
// The maths. Half-life h = prediction_half_life_ms, horizon H =
// prediction_horizon_ms. On each Observe(now, d), with dt = now - last
// report (seconds) and c = the demand reported last time:
//
//   a      = 1 - 2^(-dt / h)               weight of the interval just past
//   level += a * (c - level)               EWMA of the demand; c held for dt
//   slope  = (d - c) / dt                  the demand's rate of change, /s
//   trend += a * (slope - trend)           EWMA of that rate, same half-life
//   c      = d
//
//   predicted = max(d, level + max(0, trend) * H)
//
// `a` depends on dt only through dt / h, so ten reports 10 ms apart weigh
// the past exactly like one report 100 ms later with the same signal. The
// trend stays finite however close two reports are: a * slope <= (ln 2 / h)
// * (d - c), a jump of (d - c) adds at most (d - c) * ln2 / h to it. It is
// the continuous EWMA of the derivative, which equals (demand - level) /
// tau with tau = h / ln 2: it answers a ramp with the ramp's rate after
// about one tau and never needs the level to catch up first.
//
// Why this leads a ramp: on demand rising at r per second the level lags by
// r * tau and the trend tends to r, so predicted - demand tends to
// r * (H - tau). With the defaults (h = 200 ms, tau = 289 ms, H = 500 ms)
// the prediction runs about 211 ms of ramp ahead of the demand, and the
// sizer's ratio (1.5) adds headroom on top; a connect plus logon that takes
// less than that is finished before the load it was made for. H below tau
// predicts behind a steady ramp (the instantaneous floor still holds). A
// falling or flat demand has trend <= 0 and the prediction is the level,
// never below the current demand: the pool shrinks as the level decays
// (halving every h), and idle retirement (pool_sizer.h) does the rest.
//
// Worked example, defaults (h = 200 ms, H = 500 ms), reports every 100 ms
// (a = 1 - 2^-0.5 = 0.2929), demand 0 until t = 0, then +10 per 100 ms
// (100 requests/s) until it holds at 40:
//
//   t (ms)  d   level   trend (/s)  predicted = max(d, level + trend * 0.5)
//   100    10    0.00     29.3        14.6
//   200    20    2.93     50.0        27.9
//   300    30    7.93     64.6        40.3
//   400    40   14.39     75.0        51.9
//   500    40   21.89     53.0        48.4
//   600    40   27.20     37.5        45.9
//
// At 300 ms the pool is already sized for 40 in flight (x ratio) while only
// 30 are; a reactive pool sized from d alone would be at 30 x ratio. Once
// the demand holds, the trend decays and the prediction settles on the
// level, which converges to 40.
//
// The first report starts the history from level 0 and trend 0 (the pool
// starts with nothing outstanding). A report whose `now` is not after the
// previous one (same tick, or a clock that went back) only replaces d.
//
// Example (one per service on each worker; the gateway's pool does this):
//   backend::DemandPredictor predictor(service);
//   predictor.Observe(now_ns, in_flight + queued);  // on change and tick
//   double want = predictor.predicted();            // feed PoolSizer::Plan
//
// Threading: owned and called by one worker thread. Never allocates.
#ifndef TACHYON_BACKEND_DEMAND_PREDICTOR_H_
#define TACHYON_BACKEND_DEMAND_PREDICTOR_H_

#include <cstdint>

#include "config/model.h"

namespace tachyon::backend {

/// Time-weighted EWMA of a service's concurrent demand plus a trend term,
/// extrapolated `horizon` ahead.
class DemandPredictor {
 public:
  /// Half-life and horizon in ms; a half-life of 0 is taken as 1 ms (the
  /// EWMA then follows the demand almost at once).
  DemandPredictor(std::uint32_t half_life_ms, std::uint32_t horizon_ms);
  /// From prediction_half_life_ms and prediction_horizon_ms.
  explicit DemandPredictor(const config::BackendService& service)
      : DemandPredictor(service.prediction_half_life_ms,
                        service.prediction_horizon_ms) {}

  /// Reports the demand (requests in flight plus queued, >= 0; negative is
  /// taken as 0) at CLOCK_MONOTONIC `now_ns`. Call whenever it changes and
  /// on every pool tick, so the level decays while nothing changes.
  void Observe(std::int64_t now_ns, int demand);

  /// Demand expected `horizon` ahead: max(demand, level + max(0, trend) *
  /// horizon), as of the last Observe. 0 before the first.
  [[nodiscard]] double predicted() const;
  /// The EWMA of the demand as of the last Observe.
  [[nodiscard]] double level() const { return level_; }
  /// The EWMA of the demand's rate of change, requests per second; may be
  /// negative.
  [[nodiscard]] double trend_per_s() const { return trend_per_s_; }
  /// The demand last reported.
  [[nodiscard]] int demand() const { return demand_; }

 private:
  double half_life_s_;
  double horizon_s_;
  bool started_ = false;
  std::int64_t last_ns_ = 0;
  int demand_ = 0;
  double level_ = 0.0;
  double trend_per_s_ = 0.0;
};

}  // namespace tachyon::backend

#endif  // TACHYON_BACKEND_DEMAND_PREDICTOR_H_
