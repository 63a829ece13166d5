#include "io/idle_strategy.h"

#include <sched.h>

namespace tachyon::io {

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
  if (work > 0) {
    idle_ = false;
    phase_ = Phase::kSpinning;
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
  if (now_ns - idle_since_ns_ < spin_budget_ns_) {
    phase_ = Phase::kSpinning;
    return 0;
  }
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
