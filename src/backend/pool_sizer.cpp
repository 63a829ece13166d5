#include "backend/pool_sizer.h"

#include <algorithm>
#include <cmath>

namespace tachyon::backend {
namespace {

// A demand worth less than a millionth of a connection is none: the EWMA
// decays towards 0 without reaching it, and float noise must not turn an
// exact 3.0 connections into 4.
constexpr double kNegligibleConnections = 1e-6;

constexpr std::int64_t kNsPerMs = 1'000'000;

}  // namespace

PoolSizer::PoolSizer(const config::BackendService& service)
    : pool_min_(0),
      pool_max_(std::max(service.pool_max, 1)),
      warm_connections_(std::max(service.warm_connections, 0)),
      ratio_(std::max(service.prediction_ratio, 1.0)),
      max_in_flight_(static_cast<double>(
          std::max(service.max_in_flight_per_connection, 1))),
      idle_retire_ns_(static_cast<std::int64_t>(service.idle_retire_ms) *
                      kNsPerMs),
      jitter_ns_(static_cast<std::int64_t>(service.idle_retire_jitter_ms) *
                 kNsPerMs) {
  pool_min_ = std::clamp(service.pool_min, 0, pool_max_);
}

int PoolSizer::Target(double predicted, int healthy_endpoints,
                      bool warm) const {
  const double connections =
      predicted * ratio_ / max_in_flight_ /
      static_cast<double>(std::max(healthy_endpoints, 1));
  int target = pool_min_;
  if (connections > kNegligibleConnections) {
    // NaN fails the test above; +inf and huge values clamp to pool_max.
    const double wanted = std::ceil(connections - kNegligibleConnections);
    target = wanted >= static_cast<double>(pool_max_)
                 ? pool_max_
                 : std::max(pool_min_, static_cast<int>(wanted));
  }
  if (warm) target = std::max(target, std::min(warm_connections_, pool_max_));
  return target;
}

std::int64_t PoolSizer::RetireDeadline(std::int64_t idle_since_ns,
                                       SplitMix64& rng) const {
  const std::int64_t jitter = rng.Uniform(-jitter_ns_, jitter_ns_);
  return idle_since_ns + std::max<std::int64_t>(idle_retire_ns_ + jitter, 0);
}

PoolPlan PoolSizer::Plan(std::int64_t now_ns, const PoolInput& in,
                         std::span<int> retire_out) const {
  PoolPlan plan;
  plan.target = Target(in.predicted, in.healthy_endpoints, in.warm);
  const int ready = static_cast<int>(in.ready.size());
  const int have = ready + std::max(in.connecting, 0);
  if (have < plan.target) {
    plan.connect = in.may_connect ? plan.target - have : 0;
    return plan;
  }
  // Index order, not earliest deadline first: the deadlines are what
  // spread retirements, and which of several overdue idle connections goes
  // first does not matter. Bounded by the pool's size.
  int excess = ready - plan.target;
  const int capacity = static_cast<int>(retire_out.size());
  for (int i = 0; i < ready && excess > 0 && plan.retire < capacity; ++i) {
    const ReadyConnection& c = in.ready[static_cast<std::size_t>(i)];
    if (c.idle && c.retire_at_ns <= now_ns) {
      retire_out[static_cast<std::size_t>(plan.retire++)] = i;
      --excess;
    }
  }
  return plan;
}

}  // namespace tachyon::backend
