#include "io/idle_strategy.h"

#include <sched.h>
#include <sys/resource.h>

#include <algorithm>

namespace tachyon::io {

std::uint64_t IdleStrategy::ThreadInvoluntarySwitches() {
  rusage usage{};
  if (::getrusage(RUSAGE_THREAD, &usage) != 0) return 0;
  return static_cast<std::uint64_t>(usage.ru_nivcsw);
}

void IdleStrategy::NotePreemption(std::int64_t now_ns) {
  // Descheduled between two passes that did not wait (a long gap, and the
  // kernel says it took the CPU away): another task was waiting for this
  // CPU. Stop spinning for a while. The switch count is read only after a
  // long gap, and once at the start as the baseline.
  if (last_switches_ < 0) {
    last_switches_ = static_cast<std::int64_t>(switches_());
  }
  if (last_spin_ns_ >= 0 && now_ns - last_spin_ns_ > kPreemptedGapNs &&
      SwitchedSinceLastLook()) {
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

bool IdleStrategy::SwitchedSinceLastLook() {
  const auto now = static_cast<std::int64_t>(switches_());
  const bool switched = now > last_switches_;
  last_switches_ = now;
  return switched;
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
  // With no spin phase there is nothing to stop.
  if (kind_ == config::IdleStrategy::kBackoff && spin_budget_ns_ > 0) {
    NotePreemption(now_ns);
  }
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
