// Clocks for the duty cycle: monotonic time for timers and deadlines,
// realtime for the timestamps DATA frames carry.
#ifndef TACHYON_BASE_CLOCK_H_
#define TACHYON_BASE_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace tachyon::base {

/// CLOCK_MONOTONIC in nanoseconds (vDSO: no system call).
inline std::int64_t MonotonicNs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

/// CLOCK_REALTIME in nanoseconds since the Unix epoch.
inline std::int64_t RealtimeNs() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

/// A worker's time for one loop iteration: CLOCK_MONOTONIC read once per
/// iteration (timers, deadlines), CLOCK_REALTIME read only if asked (DATA
/// timestamps), at most once for the reactor's completions and once for
/// the duty cycle after them, so a busy loop pays for neither per message.
/// Owner thread only.
class LoopClock {
 public:
  /// Starts an iteration.
  void Tick() {
    now_ns_ = MonotonicNs();
    realtime_valid_ = false;
  }
  /// Before the reactor's completions run (they come before the Tick of
  /// their iteration): the realtime they read must be read after the wait
  /// for them, not before it, or a PUBLISH that woke a blocked worker
  /// would carry the time some earlier duty cycle read.
  void ExpireRealtime() { realtime_valid_ = false; }
  /// CLOCK_MONOTONIC at the last Tick (0 before the first).
  [[nodiscard]] std::int64_t now_ns() const { return now_ns_; }
  /// CLOCK_REALTIME, read on the first call after each Tick.
  [[nodiscard]] std::int64_t realtime_ns() {
    if (!realtime_valid_) {
      realtime_ns_ = RealtimeNs();
      realtime_valid_ = true;
    }
    return realtime_ns_;
  }

 private:
  std::int64_t now_ns_ = 0;
  std::int64_t realtime_ns_ = 0;
  bool realtime_valid_ = false;
};

}  // namespace tachyon::base

#endif  // TACHYON_BASE_CLOCK_H_
