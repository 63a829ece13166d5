// Which workers read a stream, so that an appender wakes exactly those.
//
// Overview
//   Each StreamLog carries a bitmask of the workers with readers of it
//   (StreamLog::interested_workers, bit i = worker i). A worker's agents
//   (TCP sessions, UDP egress) Retain a stream when they start reading it
//   and Release it when they stop; WorkerInterest counts them and keeps the
//   worker's bit set while any remain. After an append, the appender hands
//   the log to a StreamWaker, which wakes the workers whose bits are set.
//
// Threading: a WorkerInterest belongs to one worker thread; the bitmask is
// updated with atomic read-modify-writes and read by appenders anywhere.
#ifndef TACHYON_STREAM_READER_INTEREST_H_
#define TACHYON_STREAM_READER_INTEREST_H_

#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "stream/stream_log.h"

namespace tachyon::stream {

/// Told after every append, so that readers on other workers wake.
class StreamWaker {
 public:
  virtual ~StreamWaker() = default;
  /// `log` grew. Called on the appending thread, right after the append;
  /// must not block (a wake-up costs at most one eventfd write per worker).
  virtual void OnAppended(StreamLog* log) = 0;
};

/// One worker's readers per stream.
class WorkerInterest {
 public:
  explicit WorkerInterest(int worker_index)
      : bit_(std::uint64_t{1} << worker_index) {}

  /// One more reader of `log` on this worker.
  void Retain(StreamLog* log) {
    if (counts_[log->id().value()]++ == 0) {
      log->interested_workers().fetch_or(bit_, std::memory_order_acq_rel);
    }
  }
  /// One reader fewer; the bit clears with the last.
  void Release(StreamLog* log) {
    auto it = counts_.find(log->id().value());
    if (it == counts_.end()) return;
    if (--it->second == 0) {
      counts_.erase(it);
      log->interested_workers().fetch_and(~bit_, std::memory_order_acq_rel);
    }
  }
  /// Readers of `log` on this worker (tests).
  [[nodiscard]] int count(StreamId stream) const {
    auto it = counts_.find(stream.value());
    return it == counts_.end() ? 0 : it->second;
  }

 private:
  const std::uint64_t bit_;
  absl::flat_hash_map<std::uint32_t, int> counts_;
};

}  // namespace tachyon::stream

#endif  // TACHYON_STREAM_READER_INTEREST_H_
