#include "io/idle_strategy.h"

#include <sched.h>

namespace tachyon::io {
namespace {
// Backoff: this many empty iterations spinning, then this many yielding,
// then block. About 20-50 us of spinning on current x86 parts.
constexpr int kSpinIterations = 2000;
constexpr int kYieldIterations = 100;
}  // namespace

std::int64_t IdleStrategy::Next(int work, std::int64_t max_block_us) {
  if (kind_ == config::IdleStrategy::kBlock) {
    // Block even right after work: the caller re-checks for new work after
    // PrepareToSleep, the reactor returns at once if events are already
    // pending, and io_uring submits the sends just queued in the same
    // io_uring_enter that waits — one syscall per message instead of two.
    return max_block_us;
  }
  if (work > 0) {
    idle_iterations_ = 0;
    return 0;
  }
  ++idle_iterations_;
  switch (kind_) {
    case config::IdleStrategy::kSpin:
      return 0;
    case config::IdleStrategy::kBlock:
      return max_block_us;
    case config::IdleStrategy::kBackoff:
      if (idle_iterations_ <= kSpinIterations) return 0;
      if (idle_iterations_ <= kSpinIterations + kYieldIterations) {
        ::sched_yield();
        return 0;
      }
      return max_block_us;
  }
  return max_block_us;
}

}  // namespace tachyon::io
