// Idle strategies: what a worker does after a loop iteration found no work.
//
//   spin     poll again at once, forever: the lowest latency, and a whole
//            core per worker even when no message moves (pinned trading
//            cores)
//   backoff  spin for a time budget measured by the loop's clock
//            (gateway.spin_budget_us), then yield the CPU kMaxYields times,
//            then block in the reactor (the default: fair on shared hosts).
//            Two passes that did not wait but lie more than kPreemptedGapNs
//            apart on the loop's clock, while the thread's count of
//            involuntary context switches (getrusage RUSAGE_THREAD, read
//            only then) went up, mean the worker was descheduled: another
//            runnable task wanted this CPU, and spinning takes the CPU from
//            it. A long pass of work alone does not count. Backoff then
//            skips the spin phase (yields, then blocks) for a cool-down
//            that starts at kMinCoolDownNs and doubles, up to
//            kMaxCoolDownNs, while it keeps happening; after kQuietResetNs
//            without one the cool-down is back at its start. With a spare
//            core the scheduler has no reason to preempt the worker; on a
//            full box the worker stops competing with the processes it
//            serves.
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
  /// A pass normally takes well under a microsecond to some tens; a
  /// scheduler time slice is 0.75 ms or more. Two passes that did not wait
  /// this far apart are checked for an involuntary context switch.
  static constexpr std::int64_t kPreemptedGapNs = 200'000;
  static constexpr std::int64_t kMinCoolDownNs = 20'000'000;
  static constexpr std::int64_t kMaxCoolDownNs = 1'000'000'000;
  static constexpr std::int64_t kQuietResetNs = 2'000'000'000;

  /// The calling thread's involuntary context switches so far.
  using SwitchCounter = std::uint64_t (*)();
  /// getrusage(RUSAGE_THREAD).ru_nivcsw.
  static std::uint64_t ThreadInvoluntarySwitches();

  /// `spin_budget_ns` (>= 0) is how long backoff spins; the other
  /// strategies ignore it. `switches` is read by backoff when two passes
  /// lie far apart (tests pass their own).
  IdleStrategy(config::IdleStrategy kind, std::int64_t spin_budget_ns,
               SwitchCounter switches = &ThreadInvoluntarySwitches)
      : kind_(kind), spin_budget_ns_(spin_budget_ns), switches_(switches) {}

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
  /// backoff: times it found the worker descheduled and stopped spinning.
  [[nodiscard]] std::uint64_t spin_preemptions() const {
    return spin_preemptions_;
  }
  /// backoff: the spin phase is skipped until this CLOCK_MONOTONIC time.
  [[nodiscard]] std::int64_t no_spin_until_ns() const {
    return no_spin_until_ns_;
  }

 private:
  void NotePreemption(std::int64_t now_ns);
  bool SwitchedSinceLastLook();

  config::IdleStrategy kind_;
  std::int64_t spin_budget_ns_;
  SwitchCounter switches_;
  // switches_() at the last look; -1: not read yet (the first Next does).
  std::int64_t last_switches_ = -1;
  Phase phase_ = Phase::kSpinning;
  bool idle_ = false;               // in an idle period (backoff)
  std::int64_t idle_since_ns_ = 0;  // its first iteration's clock
  int yields_ = 0;                  // sched_yield calls in this idle period
  std::int64_t last_spin_ns_ = -1;  // clock of the last pass that did not wait
  std::int64_t no_spin_until_ns_ = 0;
  std::int64_t cool_down_ns_ = kMinCoolDownNs;
  std::int64_t last_preempted_ns_ = 0;
  std::uint64_t spin_preemptions_ = 0;
};

}  // namespace tachyon::io

#endif  // TACHYON_IO_IDLE_STRATEGY_H_
