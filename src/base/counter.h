// Single-writer counters: written by one worker thread, read by any.
//
// A counter that only its owning worker writes needs no locked
// read-modify-write: a relaxed load and store publish the new value, and
// readers on other threads (stats, tests, the admin plane) load it relaxed.
#ifndef TACHYON_BASE_COUNTER_H_
#define TACHYON_BASE_COUNTER_H_

#include <atomic>

namespace tachyon::base {

/// Adds `n` to a counter only the calling thread ever writes.
template <typename T>
inline void Bump(std::atomic<T>& counter, T n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n,
                std::memory_order_relaxed);
}

}  // namespace tachyon::base

#endif  // TACHYON_BASE_COUNTER_H_
