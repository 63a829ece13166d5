// The idle strategies (io/idle_strategy.h) driven by a synthetic clock: the
// decisions depend on the clock readings passed in, never on how many passes
// were made or on how fast this machine is.
#include "io/idle_strategy.h"

#include <algorithm>
#include <cstdint>

#include "gtest/gtest.h"

namespace tachyon::io {
namespace {

using Phase = IdleStrategy::Phase;

constexpr std::int64_t kBudgetNs = 50'000;
constexpr std::int64_t kMaxBlockUs = 5'000;
constexpr std::int64_t kStartNs = 1'000'000'000;

// The involuntary context switches the strategies under test see.
std::uint64_t g_switches = 0;
std::uint64_t FakeSwitches() { return g_switches; }

IdleStrategy Backoff(std::int64_t budget_ns = kBudgetNs) {
  return IdleStrategy(config::IdleStrategy::kBackoff, budget_ns, &FakeSwitches);
}

// The passes, at most `limit`, until Next says block; -1 if it never did.
// Each pass advances the clock by `step_ns`.
int PassesUntilBlock(IdleStrategy& idle, std::int64_t* now,
                     std::int64_t step_ns, int limit) {
  for (int pass = 1; pass <= limit; ++pass) {
    if (idle.Next(0, *now, kMaxBlockUs) > 0) return pass;
    *now += step_ns;
  }
  return -1;
}

TEST(IdleStrategyTest, BackoffSpinsForItsBudgetHoweverManyPassesThatTakes) {
  // 100,000 passes of 0.4 ns each: 40 µs, inside the 50 µs budget. An
  // iteration count would have ended the spin long before.
  IdleStrategy idle = Backoff();
  std::int64_t now = kStartNs;
  for (int pass = 0; pass < 100'000; ++pass) {
    ASSERT_EQ(idle.Next(0, now + pass * 4 / 10, kMaxBlockUs), 0)
        << "pass " << pass;
    ASSERT_EQ(idle.phase(), Phase::kSpinning) << "pass " << pass;
  }
}

TEST(IdleStrategyTest,
     BackoffStopsSpinningWhenTheBudgetIsSpentEvenAfterOnePass) {
  // Passes as slow as the budget itself (a busy agent): the second idle pass
  // is already past it, so the worker yields, then blocks.
  IdleStrategy idle = Backoff();
  std::int64_t now = kStartNs;
  EXPECT_EQ(idle.Next(0, now, kMaxBlockUs), 0);
  EXPECT_EQ(idle.phase(), Phase::kSpinning);
  now += kBudgetNs;
  for (int yield = 0; yield < IdleStrategy::kMaxYields; ++yield) {
    EXPECT_EQ(idle.Next(0, now, kMaxBlockUs), 0) << "yield " << yield;
    EXPECT_EQ(idle.phase(), Phase::kYielding) << "yield " << yield;
  }
  EXPECT_EQ(idle.Next(0, now, kMaxBlockUs), kMaxBlockUs);
  EXPECT_EQ(idle.phase(), Phase::kBlocking);
}

TEST(IdleStrategyTest, BackoffBlocksAtTheSameTimeWhateverThePassRate) {
  // Whether a pass takes 10 ns or 1 µs, the spin ends at the budget.
  for (const std::int64_t step_ns : {10, 100, 1000}) {
    IdleStrategy idle = Backoff();
    std::int64_t now = kStartNs;
    const int passes = PassesUntilBlock(idle, &now, step_ns, 1'000'000);
    ASSERT_GT(passes, 0) << "never blocked, step " << step_ns;
    // The spin ended at the first pass at or past the budget; then the
    // yields, at one step each.
    const std::int64_t spun_ns =
        now - kStartNs - IdleStrategy::kMaxYields * step_ns;
    EXPECT_GE(spun_ns, kBudgetNs) << "step " << step_ns;
    EXPECT_LT(spun_ns, kBudgetNs + step_ns) << "step " << step_ns;
  }
}

TEST(IdleStrategyTest, WorkStartsANewIdlePeriodWithAFullBudget) {
  IdleStrategy idle = Backoff();
  std::int64_t now = kStartNs;
  ASSERT_GT(PassesUntilBlock(idle, &now, 1000, 1'000'000), 0);
  // Once blocked, later idle passes (a timeout, a wake-up with nothing for
  // this worker) block again at once, without spinning or yielding.
  now += 5'000'000;
  EXPECT_EQ(idle.Next(0, now, kMaxBlockUs), kMaxBlockUs);
  // Work: spin again, and the budget counts from the next idle pass.
  EXPECT_EQ(idle.Next(3, now, kMaxBlockUs), 0);
  EXPECT_EQ(idle.phase(), Phase::kSpinning);
  now += 1'000'000;  // a long pass of work (no involuntary switch)
  EXPECT_EQ(idle.Next(0, now, kMaxBlockUs), 0);
  EXPECT_EQ(idle.phase(), Phase::kSpinning);
  EXPECT_EQ(idle.Next(0, now + kBudgetNs - 1, kMaxBlockUs), 0);
  EXPECT_EQ(idle.phase(), Phase::kSpinning);
  EXPECT_EQ(idle.Next(0, now + kBudgetNs, kMaxBlockUs), 0);
  EXPECT_EQ(idle.phase(), Phase::kYielding);
}

TEST(IdleStrategyTest, ZeroBudgetYieldsThenBlocksWithoutSpinning) {
  IdleStrategy idle = Backoff(0);
  EXPECT_EQ(idle.Next(0, kStartNs, kMaxBlockUs), 0);
  EXPECT_EQ(idle.phase(), Phase::kYielding);
  std::int64_t now = kStartNs;
  EXPECT_EQ(PassesUntilBlock(idle, &now, 0, 100), IdleStrategy::kMaxYields);
}

TEST(IdleStrategyTest, SpinNeverBlocks) {
  IdleStrategy idle(config::IdleStrategy::kSpin, kBudgetNs);
  for (std::int64_t hours = 0; hours < 10; ++hours) {
    EXPECT_EQ(idle.Next(0, kStartNs + hours * 3'600'000'000'000, kMaxBlockUs),
              0);
    EXPECT_EQ(idle.phase(), Phase::kSpinning);
  }
}

TEST(IdleStrategyTest, BlockBlocksEvenRightAfterWork) {
  IdleStrategy idle(config::IdleStrategy::kBlock, kBudgetNs);
  EXPECT_EQ(idle.Next(5, kStartNs, kMaxBlockUs), kMaxBlockUs);
  EXPECT_EQ(idle.Next(0, kStartNs, kMaxBlockUs), kMaxBlockUs);
  EXPECT_EQ(idle.phase(), Phase::kBlocking);
}

// A pass that comes more than kPreemptedGapNs after one that did not wait:
// the worker was descheduled while another task wanted its CPU. Backoff
// skips its spin phase (yields, then blocks) for the cool-down, then spins
// again.
TEST(IdleStrategyTest, DescheduledWorkerSkipsTheSpinPhaseForACoolDown) {
  IdleStrategy idle = Backoff();
  std::int64_t now = kStartNs;
  EXPECT_EQ(idle.Next(1, now, kMaxBlockUs), 0);  // work
  now += IdleStrategy::kPreemptedGapNs + 1;      // descheduled
  ++g_switches;
  EXPECT_EQ(idle.Next(0, now, kMaxBlockUs), 0);
  EXPECT_EQ(idle.phase(), Phase::kYielding);
  EXPECT_EQ(idle.spin_preemptions(), 1u);
  EXPECT_EQ(idle.no_spin_until_ns(), now + IdleStrategy::kMinCoolDownNs);
  // More work inside the cool-down: the idle pass after it yields at once.
  now += 1'000;
  EXPECT_EQ(idle.Next(1, now, kMaxBlockUs), 0);
  EXPECT_EQ(idle.Next(0, now + 10, kMaxBlockUs), 0);
  EXPECT_EQ(idle.phase(), Phase::kYielding);
  // After the cool-down, work then idle spins for the budget again.
  now += IdleStrategy::kMinCoolDownNs;
  EXPECT_EQ(idle.Next(1, now, kMaxBlockUs), 0);
  EXPECT_EQ(idle.Next(0, now + 10, kMaxBlockUs), 0);
  EXPECT_EQ(idle.phase(), Phase::kSpinning);
  EXPECT_EQ(idle.spin_preemptions(), 1u);
}

TEST(IdleStrategyTest, RepeatedDeschedulingDoublesTheCoolDownUpToItsMax) {
  IdleStrategy idle = Backoff();
  std::int64_t now = kStartNs;
  std::int64_t expected = IdleStrategy::kMinCoolDownNs;
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(idle.Next(1, now, kMaxBlockUs), 0);
    now += IdleStrategy::kPreemptedGapNs + 1;
    ++g_switches;
    EXPECT_EQ(idle.Next(1, now, kMaxBlockUs), 0);
    EXPECT_EQ(idle.no_spin_until_ns(), now + expected) << "time " << i;
    expected = std::min(2 * expected, IdleStrategy::kMaxCoolDownNs);
  }
  EXPECT_EQ(expected, IdleStrategy::kMaxCoolDownNs);
  // Asleep for longer than kQuietResetNs (not descheduled: it blocked),
  // then descheduled again: the cool-down starts over.
  ASSERT_GT(PassesUntilBlock(idle, &now, 1'000, 1'000), 0);
  now += IdleStrategy::kQuietResetNs + 1;
  ++g_switches;  // while asleep: not a preemption
  EXPECT_EQ(idle.Next(1, now, kMaxBlockUs), 0);
  now += IdleStrategy::kPreemptedGapNs + 1;
  ++g_switches;
  EXPECT_EQ(idle.Next(1, now, kMaxBlockUs), 0);
  EXPECT_EQ(idle.no_spin_until_ns(), now + IdleStrategy::kMinCoolDownNs);
  EXPECT_EQ(idle.spin_preemptions(), 13u);
}

// Passes up to kPreemptedGapNs apart (busy agents), and any gap after a
// yield or a block (the worker gave the CPU away or slept), are not
// preemption.
TEST(IdleStrategyTest, SlowPassesYieldsAndBlocksAreNotTakenForPreemption) {
  IdleStrategy idle = Backoff();
  std::int64_t now = kStartNs;
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(idle.Next(1, now, kMaxBlockUs), 0);
    now += IdleStrategy::kPreemptedGapNs;
  }
  EXPECT_EQ(idle.spin_preemptions(), 0u);
  // Spin the budget, yield, block; then wake up much later with work.
  EXPECT_EQ(PassesUntilBlock(idle, &now, 1'000, 1000),
            kBudgetNs / 1'000 + 1 + IdleStrategy::kMaxYields);
  now += 1'000'000'000;
  EXPECT_EQ(idle.Next(1, now, kMaxBlockUs), 0);
  EXPECT_EQ(idle.Next(0, now + 10, kMaxBlockUs), 0);
  EXPECT_EQ(idle.phase(), Phase::kSpinning);
  EXPECT_EQ(idle.spin_preemptions(), 0u);
}

TEST(IdleStrategyTest, SpinAndBlockIgnoreDescheduling) {
  for (config::IdleStrategy kind :
       {config::IdleStrategy::kSpin, config::IdleStrategy::kBlock}) {
    IdleStrategy idle(kind, kBudgetNs, &FakeSwitches);
    EXPECT_EQ(idle.Next(1, kStartNs, kMaxBlockUs),
              kind == config::IdleStrategy::kSpin ? 0 : kMaxBlockUs);
    ++g_switches;
    idle.Next(0, kStartNs + 10'000'000, kMaxBlockUs);
    EXPECT_EQ(idle.spin_preemptions(), 0u);
  }
}

// A pass of work longer than kPreemptedGapNs with no involuntary context
// switch (the worker was busy, not descheduled) keeps the spin phase, and
// so does a zero budget, which has no spin phase to stop.
TEST(IdleStrategyTest, LongPassWithoutAnInvoluntarySwitchIsNotPreemption) {
  IdleStrategy idle = Backoff();
  std::int64_t now = kStartNs;
  EXPECT_EQ(idle.Next(1, now, kMaxBlockUs), 0);
  now += 10'000'000;
  EXPECT_EQ(idle.Next(0, now, kMaxBlockUs), 0);
  EXPECT_EQ(idle.phase(), Phase::kSpinning);
  EXPECT_EQ(idle.spin_preemptions(), 0u);
  IdleStrategy none = Backoff(0);
  EXPECT_EQ(none.Next(1, now, kMaxBlockUs), 0);
  ++g_switches;
  EXPECT_EQ(none.Next(1, now + 10'000'000, kMaxBlockUs), 0);
  EXPECT_EQ(none.spin_preemptions(), 0u);
}

}  // namespace
}  // namespace tachyon::io
