// Idle strategies: what a worker does after a loop iteration found no work.
//
//   spin     poll again at once, forever: the lowest latency, and a whole
//            core per worker even when no message moves (pinned trading
//            cores)
//   backoff  spin for a time budget measured by the loop's clock
//            (gateway.spin_budget_us), then yield the CPU kMaxYields times,
//            then block in the reactor (the default: fair on shared hosts)
//   block    block in the reactor until an event, a wake-up or a timer,
//            including right after an iteration that did work
//
// What each costs in CPU: `spin` 100 % of a core per worker, always.
// `backoff` spins at most the budget after each burst of work, so an idle
// worker costs nothing and a worker that sees a message every T costs about
// (work per message + budget + a sleep and a wake-up) / T: with the default
// 50 µs budget, a few percent of a core at 1,000 messages/s, and the budget
// covers the reply gap of a ping-pong so round trips need no wake-up. `block`
// costs only the work plus a sleep and a wake-up per burst, and adds the
// wake-up (tens of µs) to the latency of every message that finds the worker
// asleep. A spinning pass costs no system call on io_uring (reactor.h), so
// the spin budget goes to user-space checks, not io_uring_enter.
//
// A worker that blocks first announces it (WakeSignal::PrepareToSleep), so
// publishers on other workers know to wake it with a syscall; a spinning
// worker is never sent one (see wake_signal.h).
//
// Example: the decision in a duty cycle (AgentRunner does this).
//   io::IdleStrategy idle(config::IdleStrategy::kBackoff, 50'000);
//   for (;;) {
//     int work = reactor.Poll(timeout_us) + agents.DoWork(now);
//     timeout_us = idle.Next(work, now, max_block_us);
//     if (timeout_us > 0) { wake.PrepareToSleep(); /* re-check, then block */ }
//   }
//
// Threading: owned and called by one worker thread.
#ifndef TACHYON_IO_IDLE_STRATEGY_H_
#define TACHYON_IO_IDLE_STRATEGY_H_

#include <cstdint>

#include "config/model.h"

namespace tachyon::io {

/// Tracks the current idle period and decides how long the next Poll may
/// wait.
class IdleStrategy {
 public:
  /// What the last Next decided.
  enum class Phase {
    kSpinning,  ///< poll again at once
    kYielding,  ///< sched_yield was called; poll again at once
    kBlocking,  ///< the next Poll may wait
  };

  /// backoff: yields between the spin budget and blocking. A handful: each
  /// is a system call that lets a process waiting for this core run, and
  /// on an idle core they take a few µs in all, less than the budget.
  static constexpr int kMaxYields = 8;

  /// `spin_budget_ns` (>= 0) is how long backoff spins; the other
  /// strategies ignore it.
  IdleStrategy(config::IdleStrategy kind, std::int64_t spin_budget_ns)
      : kind_(kind), spin_budget_ns_(spin_budget_ns) {}

  /// Call once per loop iteration with the work it did and the loop's
  /// CLOCK_MONOTONIC reading (`now_ns`, non-decreasing). Returns the
  /// timeout of the next Poll in microseconds: 0 to keep polling (spinning
  /// or, in backoff's yield phase, after a sched_yield), or `max_block_us`
  /// to block, after which the caller must PrepareToSleep and re-check for
  /// work before it Polls. Backoff's idle period starts at the first
  /// iteration without work and ends at the next one with work; once it
  /// blocked, it blocks again until work comes.
  std::int64_t Next(int work, std::int64_t now_ns, std::int64_t max_block_us);

  [[nodiscard]] Phase phase() const { return phase_; }
  [[nodiscard]] config::IdleStrategy kind() const { return kind_; }
  [[nodiscard]] std::int64_t spin_budget_ns() const { return spin_budget_ns_; }

 private:
  config::IdleStrategy kind_;
  std::int64_t spin_budget_ns_;
  Phase phase_ = Phase::kSpinning;
  bool idle_ = false;               // in an idle period (backoff)
  std::int64_t idle_since_ns_ = 0;  // its first iteration's clock
  int yields_ = 0;                  // sched_yield calls in this idle period
};

}  // namespace tachyon::io

#endif  // TACHYON_IO_IDLE_STRATEGY_H_
