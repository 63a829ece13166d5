// Idle strategies: what a worker does after a loop iteration found no work.
//
//   spin     poll again at once (lowest latency, burns the core)
//   backoff  spin a while, then yield, then block in the reactor
//   block    block in the reactor until an event, a wake-up or a timer,
//            including right after an iteration that did work
//
// A worker that blocks first announces it (Sleeping), so publishers on other
// workers know to wake it with a syscall; a spinning worker is never sent
// one (see WakeSignal).
#ifndef TACHYON_IO_IDLE_STRATEGY_H_
#define TACHYON_IO_IDLE_STRATEGY_H_

#include <atomic>
#include <cstdint>

#include "config/model.h"
#include "io/reactor.h"
#include "tachyon/common/types.h"

namespace tachyon::io {

/// Per-worker flag through which other threads wake a blocked worker.
class WakeSignal {
 public:
  explicit WakeSignal(Reactor* reactor) : reactor_(reactor) {}

  /// Any thread: called after publishing work for this worker. Costs a
  /// syscall only if the worker is (about to be) blocked.
  void Notify() {
    // Pairs with the fence in PrepareToSleep: either the worker sees the
    // work we published, or we see it asleep and wake it.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // Only the first notifier pays for the syscall: it clears the flag, so
    // a burst of appends while the worker sleeps costs one eventfd write.
    if (sleeping_.load(std::memory_order_relaxed) &&
        sleeping_.exchange(false, std::memory_order_acq_rel)) {
      reactor_->Wake();
    }
  }

  /// Owner thread: announce the intent to block. The caller must re-check
  /// for work after this and before blocking.
  void PrepareToSleep() {
    sleeping_.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  void Awake() { sleeping_.store(false, std::memory_order_relaxed); }

 private:
  // Own cache line: read by every publisher on every append to a stream
  // this worker reads, written only when the worker goes to sleep or wakes.
  alignas(kCacheLineSize) std::atomic<bool> sleeping_{false};
  Reactor* reactor_;
};

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
