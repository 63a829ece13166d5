// A test-and-test-and-set spin lock for critical sections of a few dozen
// nanoseconds (a stream log append). absl::Mutex costs more uncontended and
// may park the thread, which a spinning trading worker must never do.
#ifndef TACHYON_BASE_SPIN_LOCK_H_
#define TACHYON_BASE_SPIN_LOCK_H_

#include <atomic>

#include "absl/base/thread_annotations.h"

namespace tachyon::base {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

class ABSL_LOCKABLE SpinLock {
 public:
  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    for (;;) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) CpuRelax();
    }
  }
  void unlock() ABSL_UNLOCK_FUNCTION() {
    locked_.store(false, std::memory_order_release);
  }

 private:
  std::atomic<bool> locked_{false};
};

class ABSL_SCOPED_LOCKABLE SpinLockGuard {
 public:
  explicit SpinLockGuard(SpinLock& l) ABSL_EXCLUSIVE_LOCK_FUNCTION(l) : l_(l) {
    l_.lock();
  }
  ~SpinLockGuard() ABSL_UNLOCK_FUNCTION() { l_.unlock(); }
  SpinLockGuard(const SpinLockGuard&) = delete;
  SpinLockGuard& operator=(const SpinLockGuard&) = delete;

 private:
  SpinLock& l_;
};

}  // namespace tachyon::base

#endif  // TACHYON_BASE_SPIN_LOCK_H_
