#include "io/idle_strategy.h"

#include <sched.h>

#include <algorithm>

namespace tachyon::io {

void IdleStrategy::NotePreemption(std::int64_t now_ns) {
  // Descheduled between two passes that did not wait: another task was
  // waiting for this CPU. Stop spinning for a while.
  if (last_spin_ns_ >= 0 && now_ns - last_spin_ns_ > kPreemptedGapNs) {
    if (now_ns - last_preempted_ns_ > kQuietResetNs) {
      cool_down_ns_ = kMinCoolDownNs;
    }
    no_spin_until_ns_ = now_ns + cool_down_ns_;
    cool_down_ns_ = std::min(2 * cool_down_ns_, kMaxCoolDownNs);
    last_preempted_ns_ = now_ns;
    ++spin_preemptions_;
  }
  last_spin_ns_ = -1;
}

std::int64_t IdleStrategy::Next(int work, std::int64_t now_ns,
                                std::int64_t max_block_us) {
  if (kind_ == config::IdleStrategy::kBlock) {
    // Block even right after work: the caller re-checks for new work after
    // PrepareToSleep, the reactor returns at once if events are already
    // pending, and io_uring submits the sends just queued in the same
    // io_uring_enter that waits — one syscall per message instead of two.
    phase_ = Phase::kBlocking;
    return max_block_us;
  }
  if (kind_ == config::IdleStrategy::kBackoff) NotePreemption(now_ns);
  if (work > 0) {
    idle_ = false;
    phase_ = Phase::kSpinning;
    last_spin_ns_ = now_ns;
    return 0;
  }
  if (kind_ == config::IdleStrategy::kSpin) {
    phase_ = Phase::kSpinning;
    return 0;
  }
  if (!idle_) {
    idle_ = true;
    idle_since_ns_ = now_ns;
    yields_ = 0;
  }
  // Time, not iterations: a pass costs anything from tens of nanoseconds
  // (nothing to do, no system call) to many microseconds (a busy agent), so
  // a count would spin for an unknown time.
  if (now_ns >= no_spin_until_ns_ &&
      now_ns - idle_since_ns_ < spin_budget_ns_) {
    phase_ = Phase::kSpinning;
    last_spin_ns_ = now_ns;
    return 0;
  }
  last_spin_ns_ = -1;
  if (yields_ < kMaxYields) {
    ++yields_;
    ::sched_yield();
    phase_ = Phase::kYielding;
    return 0;
  }
  phase_ = Phase::kBlocking;
  return max_block_us;
}

}  // namespace tachyon::io
