// AgentRunner: a worker's duty cycle over its agents.
//
// Overview
//   Each iteration: poll the reactor (its callbacks feed the agents'
//   connections and sockets), read the clock once, run every agent's DoWork
//   in registration order, and hand the total work and the clock reading
//   to the idle strategy (io/idle_strategy.h: spin, backoff for a time
//   budget, or block). When it says block, the runner announces it
//   (WakeSignal::PrepareToSleep, so other workers know to wake it), asks
//   every agent HasPendingWork, and only then blocks in the reactor, until
//   the earliest agent deadline (NextDeadlineNs) and for at most
//   kMaxBlockNs.
//
//   Stopping: once the stop flag is set, every agent gets OnDrain, the loop
//   runs until every agent is Drained, and OnAbort is called once if that
//   takes longer than the drain deadline; then OnStop, and Run returns.
//
// Threading: Run on the worker thread; the stop flag is set by any thread
// (followed by a wake-up).
#ifndef TACHYON_SERVER_AGENT_RUNNER_H_
#define TACHYON_SERVER_AGENT_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "base/clock.h"
#include "base/counters.h"
#include "io/agent.h"
#include "io/idle_strategy.h"
#include "io/reactor.h"
#include "io/wake_signal.h"

namespace tachyon::server {

/// Counter, per worker: IdleStrategy::spin_preemptions.
inline constexpr std::string_view kSpinStopsTotal =
    "tachyon_worker_spin_stops_total";

class AgentRunner {
 public:
  /// Longest a blocked worker waits without an event.
  static constexpr std::int64_t kMaxBlockNs = 5'000'000;

  /// `idle` is copied: each Run starts from its state. `spin_stops`
  /// counts IdleStrategy::spin_preemptions (backoff found the worker
  /// descheduled mid-spin); detached by default.
  AgentRunner(io::Reactor& reactor, io::WakeSignal& wake,
              base::LoopClock& clock, const io::IdleStrategy& idle,
              base::Counter spin_stops = {});

  /// Adds an agent; its DoWork runs after those added before it.
  void Add(io::Agent* agent) { agents_.push_back(agent); }

  /// OnStart for every agent, in order; the first error stops and is
  /// returned (the agents started so far get OnStop).
  absl::Status Start();
  /// The duty cycle, until `stop` is set and the drain finished.
  /// `drain_ns`: how long the drain may take before OnAbort.
  void Run(const std::atomic<bool>& stop, std::int64_t drain_ns);

 private:
  bool AnyPendingWork() const;
  bool AllDrained() const;
  std::int64_t BlockUs(std::int64_t now) const;

  io::Reactor& reactor_;
  io::WakeSignal& wake_;
  base::LoopClock& clock_;
  const io::IdleStrategy idle_;
  base::Counter spin_stops_;
  std::vector<io::Agent*> agents_;
};

}  // namespace tachyon::server

#endif  // TACHYON_SERVER_AGENT_RUNNER_H_
