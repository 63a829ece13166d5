// PoolSizer (backend/pool_sizer.h): the target formula, idle retirement,
// and the pool driven through simulated load shapes (a linear ramp, a step
// from 1 to 64, the decay after the load stops) with a DemandPredictor, a
// synthetic clock and a seeded generator. Connections in the simulation
// take a fixed time to connect and log on, as a real pool's do.
#include "backend/pool_sizer.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <vector>

#include "backend/demand_predictor.h"
#include "backend/random.h"
#include "gtest/gtest.h"

namespace tachyon::backend {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kSecond = 1000 * kMs;
constexpr std::int64_t kStartNs = 1'000 * kSecond;

config::BackendService Service() {
  config::BackendService service;
  service.name = "risk";
  service.id = 1;
  service.endpoints = {"127.0.0.1:7500"};
  return service;
}

TEST(SplitMix64Test, MatchesTheReferenceSequence) {
  // Vigna's splitmix64.c, seed 0.
  SplitMix64 rng(0);
  EXPECT_EQ(rng.Next(), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(rng.Next(), 0x6E789E6AA1B965F4ULL);
  EXPECT_EQ(rng.Next(), 0x06C45D188009454FULL);
}

TEST(SplitMix64Test, UniformStaysInsideItsInclusiveBounds) {
  SplitMix64 rng(42);
  bool saw_lo = false;
  bool saw_hi = false;
  for (int i = 0; i < 1000; ++i) {
    const std::int64_t v = rng.Uniform(-2, 2);
    ASSERT_GE(v, -2);
    ASSERT_LE(v, 2);
    saw_lo |= v == -2;
    saw_hi |= v == 2;
  }
  EXPECT_TRUE(saw_lo);
  EXPECT_TRUE(saw_hi);
  EXPECT_EQ(rng.Uniform(7, 7), 7);
  EXPECT_EQ(rng.Uniform(7, 3), 7);
  // The whole int64 range: no overflow, both signs drawn.
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  const std::int64_t min = std::numeric_limits<std::int64_t>::min();
  bool saw_negative = false;
  bool saw_positive = false;
  for (int i = 0; i < 100; ++i) {
    const std::int64_t v = rng.Uniform(min, max);
    saw_negative |= v < 0;
    saw_positive |= v > 0;
  }
  EXPECT_TRUE(saw_negative);
  EXPECT_TRUE(saw_positive);
  EXPECT_GE(rng.Uniform(max - 1, max), max - 1);
}

TEST(PoolSizerTest, TargetFollowsTheHeadersWorkedExample) {
  const PoolSizer sizer(Service());  // 32 in flight, ratio 1.5, 1..16
  EXPECT_EQ(sizer.Target(100.0, /*healthy_endpoints=*/2, false), 3);
  // An exact number of connections is not rounded up: 64 * 1.5 / 32 = 3.
  EXPECT_EQ(sizer.Target(64.0, 1, false), 3);
  EXPECT_EQ(sizer.Target(64.01, 1, false), 4);
}

TEST(PoolSizerTest, TargetIsClampedToMinAndMax) {
  config::BackendService service = Service();
  service.pool_min = 2;
  service.pool_max = 5;
  const PoolSizer sizer(service);
  EXPECT_EQ(sizer.Target(0.0, 1, false), 2);
  EXPECT_EQ(sizer.Target(1.0, 1, false), 2);
  EXPECT_EQ(sizer.Target(1000.0, 1, false), 5);
  EXPECT_EQ(sizer.Target(std::numeric_limits<double>::infinity(), 1, false), 5);
  EXPECT_EQ(sizer.Target(std::numeric_limits<double>::quiet_NaN(), 1, false),
            2);
  // No healthy endpoint is taken as one: the demand is not divided by 0.
  EXPECT_EQ(sizer.Target(64.0, 0, false), 3);
}

TEST(PoolSizerTest, ADecayedLevelNeedsNoConnectionWhenMinIsZero) {
  config::BackendService service = Service();
  service.pool_min = 0;
  const PoolSizer sizer(service);
  EXPECT_EQ(sizer.Target(1e-9, 1, false), 0);
  EXPECT_EQ(sizer.Target(0.5, 1, false), 1);
}

TEST(PoolSizerTest, AWarmUpRaisesTheTargetToWarmConnectionsBoundedByMax) {
  config::BackendService service = Service();
  service.warm_connections = 8;
  EXPECT_EQ(PoolSizer(service).Target(0.0, 1, true), 8);
  EXPECT_EQ(PoolSizer(service).Target(0.0, 1, false), 1);
  // A demand above the warm-up's number still wins.
  EXPECT_EQ(PoolSizer(service).Target(320.0, 1, true), 15);
  service.warm_connections = 100;
  EXPECT_EQ(PoolSizer(service).Target(0.0, 1, true), 16);
}

TEST(PoolSizerTest, RetireDeadlinesAreSpreadByTheJitter) {
  const PoolSizer sizer(Service());  // 30 s +/- 5 s
  SplitMix64 rng(7);
  std::int64_t earliest = std::numeric_limits<std::int64_t>::max();
  std::int64_t latest = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::int64_t at = sizer.RetireDeadline(kStartNs, rng);
    ASSERT_GE(at, kStartNs + 25 * kSecond);
    ASSERT_LE(at, kStartNs + 35 * kSecond);
    earliest = std::min(earliest, at);
    latest = std::max(latest, at);
  }
  EXPECT_LT(earliest, kStartNs + 26 * kSecond);
  EXPECT_GT(latest, kStartNs + 34 * kSecond);
}

TEST(PoolSizerTest, RetireDeadlineWithoutJitterIsExactAndNeverInThePast) {
  config::BackendService service = Service();
  service.idle_retire_jitter_ms = 0;
  SplitMix64 rng(1);
  EXPECT_EQ(PoolSizer(service).RetireDeadline(kStartNs, rng),
            kStartNs + 30 * kSecond);
  service.idle_retire_ms = 100;
  service.idle_retire_jitter_ms = 1000;
  for (int i = 0; i < 100; ++i) {
    ASSERT_GE(PoolSizer(service).RetireDeadline(kStartNs, rng), kStartNs);
  }
}

TEST(PoolSizerTest, PlanConnectsTheShortfallCountingConnectsInProgress) {
  const PoolSizer sizer(Service());
  const std::array<ReadyConnection, 1> ready{};
  std::array<int, 4> retire{};
  PoolPlan plan = sizer.Plan(
      kStartNs, {.predicted = 100.0, .connecting = 1, .ready = ready}, retire);
  EXPECT_EQ(plan.target, 5);  // ceil(100 * 1.5 / 32)
  EXPECT_EQ(plan.connect, 3);
  EXPECT_EQ(plan.retire, 0);
  plan = sizer.Plan(kStartNs,
                    {.predicted = 100.0, .may_connect = false, .ready = ready},
                    retire);
  EXPECT_EQ(plan.target, 5);
  EXPECT_EQ(plan.connect, 0);
}

TEST(PoolSizerTest, PlanRetiresOnlyIdleExpiredConnectionsAndNotBelowTarget) {
  config::BackendService service = Service();
  service.pool_min = 2;
  const PoolSizer sizer(service);
  const std::int64_t now = kStartNs;
  const std::array<ReadyConnection, 6> ready{{
      {.idle = true, .retire_at_ns = now - 1},   // due
      {.idle = false, .retire_at_ns = now - 1},  // busy: stays
      {.idle = true, .retire_at_ns = now + 1},   // not yet due
      {.idle = true, .retire_at_ns = now},       // due
      {.idle = true, .retire_at_ns = now - 5},   // due
      {.idle = true, .retire_at_ns = now - 9},   // due, but target reached
  }};
  std::array<int, 6> retire{};
  PoolPlan plan = sizer.Plan(now, {.predicted = 0.0, .ready = ready}, retire);
  EXPECT_EQ(plan.target, 2);
  EXPECT_EQ(plan.connect, 0);
  ASSERT_EQ(plan.retire, 4);
  EXPECT_EQ(retire[0], 0);
  EXPECT_EQ(retire[1], 3);
  EXPECT_EQ(retire[2], 4);
  EXPECT_EQ(retire[3], 5);
  // With one slot for the answer, one retirement now, the rest next tick.
  std::array<int, 1> one{};
  plan = sizer.Plan(now, {.predicted = 0.0, .ready = ready}, one);
  EXPECT_EQ(plan.retire, 1);
  EXPECT_EQ(one[0], 0);
  // A demand that needs all six retires none.
  plan = sizer.Plan(now, {.predicted = 6 * 32 / 1.5, .ready = ready}, retire);
  EXPECT_EQ(plan.target, 6);
  EXPECT_EQ(plan.retire, 0);
}

// One endpoint's pool, simulated tick by tick. Connections take
// `connect_ns` to connect and log on. Every ready connection is busy while
// the demand is above 0 and all go idle together when it falls to 0 (the
// worst case for retirement: they were all stamped at one instant).
class SimulatedPool {
 public:
  enum class Sizing { kPredictive, kReactive };

  SimulatedPool(const config::BackendService& service, Sizing sizing,
                std::int64_t connect_ns, int initially_ready, std::int64_t now)
      : sizer_(service),
        predictor_(service),
        sizing_(sizing),
        connect_ns_(connect_ns),
        rng_(12345) {
    for (int i = 0; i < initially_ready; ++i) {
      ready_.push_back(
          {.idle = true, .retire_at_ns = sizer_.RetireDeadline(now, rng_)});
    }
  }

  // Connections whose connect finished by `now` become ready.
  void Settle(std::int64_t now) {
    while (!connecting_.empty() && connecting_.front() <= now) {
      connecting_.erase(connecting_.begin());
      ready_.push_back({.idle = demand_ == 0,
                        .retire_at_ns = sizer_.RetireDeadline(now, rng_)});
    }
  }

  // The pool's tick: report the demand, plan, apply the plan.
  PoolPlan Tick(std::int64_t now, int demand) {
    if (demand_ > 0 && demand == 0) {
      for (ReadyConnection& c : ready_) {
        c = {.idle = true, .retire_at_ns = sizer_.RetireDeadline(now, rng_)};
      }
    } else if (demand > 0) {
      for (ReadyConnection& c : ready_) c.idle = false;
    }
    demand_ = demand;
    predictor_.Observe(now, demand);
    const double predicted = sizing_ == Sizing::kPredictive
                                 ? predictor_.predicted()
                                 : static_cast<double>(demand);
    std::array<int, 128> retire{};
    const PoolPlan plan =
        sizer_.Plan(now,
                    {.predicted = predicted,
                     .connecting = static_cast<int>(connecting_.size()),
                     .ready = ready_},
                    retire);
    // Highest index first, so the lower indices stay valid.
    for (int i = plan.retire - 1; i >= 0; --i) {
      ready_.erase(ready_.begin() + retire[static_cast<std::size_t>(i)]);
    }
    for (int i = 0; i < plan.connect; ++i) {
      connecting_.push_back(now + connect_ns_);
    }
    return plan;
  }

  [[nodiscard]] int ready() const { return static_cast<int>(ready_.size()); }
  [[nodiscard]] int connecting() const {
    return static_cast<int>(connecting_.size());
  }

 private:
  PoolSizer sizer_;
  DemandPredictor predictor_;
  Sizing sizing_;
  std::int64_t connect_ns_;
  SplitMix64 rng_;
  int demand_ = 0;
  std::vector<ReadyConnection> ready_;
  std::vector<std::int64_t> connecting_;  // ready times, ascending
};

config::BackendService RampService() {
  config::BackendService service = Service();
  service.max_in_flight_per_connection = 16;
  service.pool_min = 4;
  service.pool_max = 64;
  return service;  // ratio 1.5, half-life 200 ms, horizon 500 ms
}

struct RampRun {
  std::vector<std::int64_t> behind;  // ticks with ready x 16 < demand
  std::vector<int> capacity;         // ready x 16 at each tick of the ramp
  int least_slack = std::numeric_limits<int>::max();
};

// Ticks every 10 ms; the demand is 0 for 1 s, then rises linearly by 150
// requests/s for 3 s, to 450 in flight. A connect and logon take 200 ms
// (the same shape as 15,000/s against a 2 ms connect). The pool starts at
// pool_min, 4 connections, 64 requests.
RampRun RunRamp(SimulatedPool::Sizing sizing) {
  const config::BackendService service = RampService();
  constexpr std::int64_t kTick = 10 * kMs;
  SimulatedPool pool(service, sizing, /*connect_ns=*/200 * kMs,
                     service.pool_min, kStartNs);
  RampRun run;
  for (std::int64_t t = 0; t <= 4 * kSecond; t += kTick) {
    const int demand =
        t < kSecond ? 0 : static_cast<int>((t - kSecond) * 150 / kSecond);
    pool.Settle(kStartNs + t);
    const int capacity = pool.ready() * service.max_in_flight_per_connection;
    if (t >= kSecond) {
      run.capacity.push_back(capacity);
      run.least_slack = std::min(run.least_slack, capacity - demand);
    }
    if (capacity < demand) run.behind.push_back(t);
    (void)pool.Tick(kStartNs + t, demand);
  }
  return run;
}

TEST(PoolSimulationTest, APredictivePoolStaysAheadOfALinearRamp) {
  const RampRun run = RunRamp(SimulatedPool::Sizing::kPredictive);
  EXPECT_TRUE(run.behind.empty())
      << "first behind at " << (run.behind.empty() ? 0 : run.behind[0] / kMs)
      << " ms, " << run.behind.size() << " ticks";
  EXPECT_GT(run.least_slack, 0);
}

TEST(PoolSimulationTest, AReactivePoolFallsBehindTheSameRamp) {
  // Ratio x current demand (Envoy's preconnect ratio): the connects it
  // starts when the load has grown are ready 200 ms later, after more load.
  const RampRun reactive = RunRamp(SimulatedPool::Sizing::kReactive);
  ASSERT_FALSE(reactive.behind.empty());
  EXPECT_GE(reactive.behind.front(), kSecond);  // only once the ramp started
  EXPECT_LT(reactive.least_slack, 0);
  // And the predictive pool never has less ready than the reactive one.
  const RampRun predictive = RunRamp(SimulatedPool::Sizing::kPredictive);
  ASSERT_EQ(predictive.capacity.size(), reactive.capacity.size());
  for (std::size_t i = 0; i < reactive.capacity.size(); ++i) {
    ASSERT_GE(predictive.capacity[i], reactive.capacity[i]) << i * 10 << " ms";
  }
}

// One connection (8 requests) at rest, up to 64.
config::BackendService StepService() {
  config::BackendService service = Service();
  service.max_in_flight_per_connection = 8;
  service.pool_min = 1;
  service.pool_max = 64;
  return service;
}

TEST(PoolSimulationTest, AStepFromOneToSixtyFourIsAnsweredWithinOneTick) {
  const config::BackendService service = StepService();
  SimulatedPool pool(service, SimulatedPool::Sizing::kPredictive,
                     /*connect_ns=*/100 * kMs, service.pool_min, kStartNs);
  std::int64_t now = kStartNs;
  for (int i = 0; i < 500; ++i, now += 10 * kMs) {  // 5 s at 1 in flight
    pool.Settle(now);
    (void)pool.Tick(now, 1);
  }
  pool.Settle(now);
  ASSERT_EQ(pool.ready(), service.pool_min);
  ASSERT_EQ(pool.connecting(), 0);
  const PoolPlan plan = pool.Tick(now, 64);
  // ceil(64 x 1.5 / 8) = 12 connections at least, all started this tick.
  EXPECT_GE(plan.target, 12);
  EXPECT_EQ(plan.connect, plan.target - service.pool_min);
  EXPECT_GE(
      (pool.ready() + pool.connecting()) * service.max_in_flight_per_connection,
      64 * 3 / 2);
  // And they are ready one connect time later.
  pool.Settle(now + 100 * kMs);
  EXPECT_GE(pool.ready() * service.max_in_flight_per_connection, 64);
}

TEST(PoolSimulationTest, IdlePoolDecaysToMinWithRetirementsSpreadByJitter) {
  const config::BackendService service = StepService();  // 30 s +/- 5 s
  SimulatedPool pool(service, SimulatedPool::Sizing::kPredictive,
                     /*connect_ns=*/100 * kMs, service.pool_min, kStartNs);
  constexpr std::int64_t kTick = 100 * kMs;
  std::int64_t now = kStartNs;
  for (int i = 0; i < 50; ++i, now += kTick) {  // 5 s at 64 in flight
    pool.Settle(now);
    (void)pool.Tick(now, 64);
  }
  pool.Settle(now);
  const int loaded = pool.ready();
  ASSERT_GE(loaded, 12);
  ASSERT_EQ(pool.connecting(), 0);
  const std::int64_t idle_at = now;
  std::set<std::int64_t> retirement_ticks;
  int retired = 0;
  for (int i = 0; i <= 400; ++i, now += kTick) {  // 40 s idle
    pool.Settle(now);
    const PoolPlan plan = pool.Tick(now, 0);
    ASSERT_GE(pool.ready(), plan.target);
    ASSERT_EQ(plan.connect, 0);
    if (plan.retire > 0) {
      ASSERT_GE(now - idle_at, 25 * kSecond);
      ASSERT_LE(now - idle_at, 35 * kSecond);
      retirement_ticks.insert(now);
      retired += plan.retire;
    }
  }
  EXPECT_EQ(pool.ready(), service.pool_min);
  EXPECT_EQ(retired, loaded - service.pool_min);
  // Not all at one instant: spread over seconds, mostly one per tick.
  ASSERT_FALSE(retirement_ticks.empty());
  EXPECT_GE(static_cast<int>(retirement_ticks.size()), retired / 2);
  EXPECT_GE(*retirement_ticks.rbegin() - *retirement_ticks.begin(),
            3 * kSecond);
}

}  // namespace
}  // namespace tachyon::backend
