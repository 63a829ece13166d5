#include "server/agent_runner.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/strings.h"

namespace tachyon::server {

AgentRunner::AgentRunner(io::Reactor& reactor, io::WakeSignal& wake,
                         base::LoopClock& clock, const io::IdleStrategy& idle,
                         base::Counter spin_stops)
    : reactor_(reactor),
      wake_(wake),
      clock_(clock),
      idle_(idle),
      spin_stops_(std::move(spin_stops)) {}

absl::Status AgentRunner::Start() {
  clock_.Tick();
  for (std::size_t i = 0; i < agents_.size(); ++i) {
    if (absl::Status s = agents_[i]->OnStart(clock_.now_ns()); !s.ok()) {
      for (std::size_t j = 0; j < i; ++j) agents_[j]->OnStop();
      return absl::Status(s.code(), absl::StrCat(AbslView(agents_[i]->name()),
                                                 ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

bool AgentRunner::AnyPendingWork() const {
  for (const io::Agent* a : agents_) {
    if (a->HasPendingWork()) return true;
  }
  return false;
}

std::int64_t AgentRunner::BlockUs(std::int64_t now) const {
  std::int64_t until = now + kMaxBlockNs;
  for (const io::Agent* a : agents_)
    until = std::min(until, a->NextDeadlineNs());
  return std::max<std::int64_t>(1, (until - now) / 1000);
}

bool AgentRunner::AllDrained() const {
  for (const io::Agent* a : agents_) {
    if (!a->Drained()) return false;
  }
  return true;
}

void AgentRunner::Run(const std::atomic<bool>& stop, std::int64_t drain_ns) {
  io::IdleStrategy idle = idle_;
  std::uint64_t spin_stops = idle.spin_preemptions();
  std::int64_t timeout_us = 0;
  bool draining = false;
  bool aborted = false;
  std::int64_t drain_deadline_ns = 0;
  for (;;) {
    clock_.ExpireRealtime();
    int work = reactor_.Poll(timeout_us);
    wake_.Awake();
    clock_.Tick();
    const std::int64_t now = clock_.now_ns();
    for (io::Agent* a : agents_) work += a->DoWork(now);
    const bool stopping = stop.load(std::memory_order_acquire);
    if (stopping && !draining) {
      draining = true;
      drain_deadline_ns = now + drain_ns;
      for (io::Agent* a : agents_) a->OnDrain(now);
      ++work;
    }
    if (draining) {
      if (AllDrained()) break;
      if (now > drain_deadline_ns && !aborted) {
        aborted = true;
        for (io::Agent* a : agents_) a->OnAbort();
      }
    }
    timeout_us = idle.Next(work, now, BlockUs(now));
    if (idle.spin_preemptions() != spin_stops) {
      spin_stops_.Add(idle.spin_preemptions() - spin_stops);
      spin_stops = idle.spin_preemptions();
    }
    if (timeout_us > 0) {
      wake_.PrepareToSleep();
      // Re-check after announcing sleep: work published before the
      // announcement did not wake us.
      if (stop.load(std::memory_order_acquire) != draining ||
          AnyPendingWork()) {
        timeout_us = 0;
        wake_.Awake();  // not sleeping after all: spare others a wake-up
      }
    }
  }
  for (io::Agent* a : agents_) a->OnStop();
}

}  // namespace tachyon::server
