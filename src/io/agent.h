// Agent: one module's share of a worker's duty cycle.
//
// Overview
//   A worker thread runs a list of agents and one idle strategy (Aeron's
//   composite agent). Each loop iteration polls the reactor (whose callbacks
//   feed the agents' connections and sockets), then calls every agent's
//   DoWork once, in registration order, and adds up the work they report;
//   at zero the idle strategy decides whether to spin, yield or block. A new
//   module (UDP ingress, UDP egress, backend pools, a fast-path RX/TX ring)
//   is a new agent plus one registration, not a branch in the loop.
//
//   Life cycle, all on the worker thread:
//     OnStart   once, after the reactor exists, before the first DoWork
//     DoWork    every iteration
//     OnDrain   once, when a graceful stop begins (stop taking new input)
//     Drained   polled every iteration of the drain: true once nothing is
//               left to deliver
//     OnAbort   once, if the drain deadline passes first
//     OnStop    once, after the last DoWork
//
// What may block: nothing here. DoWork must return promptly (bounded work
// per call, fairness budgets) and never sleep; only the runner blocks, in
// Reactor::Poll, and only after asking every agent HasPendingWork().
#ifndef TACHYON_IO_AGENT_H_
#define TACHYON_IO_AGENT_H_

#include <cstdint>
#include <limits>
#include <string_view>

#include "absl/status/status.h"

namespace tachyon::io {

class Agent {
 public:
  virtual ~Agent() = default;

  /// For logs: "sessions", "udp-ingress", ...
  [[nodiscard]] virtual std::string_view name() const = 0;

  /// Before the first DoWork. An error aborts the worker's start.
  virtual absl::Status OnStart(std::int64_t now_ns) {
    static_cast<void>(now_ns);
    return absl::OkStatus();
  }

  /// One slice of work; `now_ns` is CLOCK_MONOTONIC at the start of this
  /// iteration. Returns how much work was done (0: nothing to do), which
  /// only feeds the idle strategy.
  virtual int DoWork(std::int64_t now_ns) = 0;

  /// Asked after the worker announced it is about to block (WakeSignal::
  /// PrepareToSleep): true if work is already waiting that no reactor event
  /// or wake-up would report (a budget left a socket unread, a queue holds
  /// commands), so the worker must not block.
  [[nodiscard]] virtual bool HasPendingWork() const { return false; }

  /// The CLOCK_MONOTONIC time by which this agent's DoWork must run again
  /// even if nothing happens (a timer); the runner blocks no longer than
  /// that. Default: no timer.
  [[nodiscard]] virtual std::int64_t NextDeadlineNs() const {
    return kNoDeadline;
  }
  static constexpr std::int64_t kNoDeadline =
      std::numeric_limits<std::int64_t>::max();

  /// A graceful stop began: stop taking new input, keep delivering.
  virtual void OnDrain(std::int64_t now_ns) { static_cast<void>(now_ns); }
  /// During a drain: true once this agent has nothing left to deliver.
  [[nodiscard]] virtual bool Drained() const { return true; }
  /// The drain deadline passed before Drained(): drop what is left.
  virtual void OnAbort() {}
  /// After the last DoWork; the reactor still exists.
  virtual void OnStop() {}
};

}  // namespace tachyon::io

#endif  // TACHYON_IO_AGENT_H_
