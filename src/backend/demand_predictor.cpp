#include "backend/demand_predictor.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace tachyon::backend {

DemandPredictor::DemandPredictor(std::uint32_t half_life_ms,
                                 std::uint32_t horizon_ms)
    : half_life_s_(
          static_cast<double>(std::max<std::uint32_t>(half_life_ms, 1)) / 1e3),
      horizon_s_(static_cast<double>(horizon_ms) / 1e3) {}

void DemandPredictor::Observe(std::int64_t now_ns, int demand) {
  demand = std::max(demand, 0);
  if (!started_) {
    started_ = true;
    last_ns_ = now_ns;
    demand_ = demand;
    return;
  }
  if (now_ns > last_ns_) {
    const double dt_s = static_cast<double>(now_ns - last_ns_) / 1e9;
    // 1 - 2^(-dt/h) without cancellation for dt much smaller than h.
    const double a = -std::expm1(-dt_s / half_life_s_ * std::numbers::ln2);
    level_ += a * (static_cast<double>(demand_) - level_);
    const double slope = static_cast<double>(demand - demand_) / dt_s;
    trend_per_s_ += a * (slope - trend_per_s_);
    last_ns_ = now_ns;
  }
  demand_ = demand;
}

double DemandPredictor::predicted() const {
  return std::max(static_cast<double>(demand_),
                  level_ + std::max(0.0, trend_per_s_) * horizon_s_);
}

}  // namespace tachyon::backend
