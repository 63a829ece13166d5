// WakeSignal: how other threads wake a worker blocked in its reactor.
//
// A worker about to block announces it (PrepareToSleep) and re-checks for
// work; a thread that published work for it (an append to a stream it
// reads, a command in its mailbox) calls Notify, which costs a system call
// (Reactor::Wake) only if the worker announced sleep, and only for the
// first notifier. A spinning worker is never sent one.
//
// Threading: Notify from any thread; PrepareToSleep and Awake from the
// owning worker's thread.
#ifndef TACHYON_IO_WAKE_SIGNAL_H_
#define TACHYON_IO_WAKE_SIGNAL_H_

#include <atomic>

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
  /// Owner thread: not (or no longer) about to block. Stores only on a
  /// change: publishers read this line on every append, and a busy worker
  /// calls Awake every loop pass; an unconditional store would pull the
  /// line away from them each time.
  void Awake() {
    if (sleeping_.load(std::memory_order_relaxed)) {
      sleeping_.store(false, std::memory_order_relaxed);
    }
  }

 private:
  // Own cache line: read by every publisher on every append to a stream
  // this worker reads, written only when the worker goes to sleep or wakes.
  alignas(kCacheLineSize) std::atomic<bool> sleeping_{false};
  Reactor* reactor_;
};

}  // namespace tachyon::io

#endif  // TACHYON_IO_WAKE_SIGNAL_H_
