// Idle strategies: what a worker does after a loop iteration found no work.
//
//   spin     poll again at once (lowest latency, burns the core)
//   backoff  spin a while, then yield, then block in the reactor
//   block    block in the reactor until an event, a wake-up or a timer,
//            including right after an iteration that did work
//
// A worker that blocks first announces it (WakeSignal::PrepareToSleep), so
// publishers on other workers know to wake it with a syscall; a spinning
// worker is never sent one (see wake_signal.h).
#ifndef TACHYON_IO_IDLE_STRATEGY_H_
#define TACHYON_IO_IDLE_STRATEGY_H_

#include <cstdint>

#include "config/model.h"

namespace tachyon::io {

/// Tracks consecutive idle iterations and decides how long the next Poll
/// may wait.
class IdleStrategy {
 public:
  explicit IdleStrategy(config::IdleStrategy kind) : kind_(kind) {}

  /// Call once per loop iteration with the work done. Returns the Poll
  /// timeout for the next iteration in microseconds: 0 to keep spinning, or
  /// `max_block_us` to block (the caller must PrepareToSleep first).
  std::int64_t Next(int work, std::int64_t max_block_us);

 private:
  config::IdleStrategy kind_;
  int idle_iterations_ = 0;
};

}  // namespace tachyon::io

#endif  // TACHYON_IO_IDLE_STRATEGY_H_
