// LogMemoryBudget: the ring memory all stream logs may commit together.
//
// Overview
//   A stream log reserves its ring's address space up front but commits
//   memory only as appends reach new parts of the ring (StreamLog commits
//   it in kCommitChunk steps). Each step is charged here first; a charge
//   that would pass the limit (limits.max_log_memory_bytes) is refused, and
//   the append with it. A log gives back everything it charged when it is
//   destroyed (a retired stream), so memory stays bounded by what streams
//   actually hold, not by how many exist.
//
// Threading: TryCharge and Refund are lock-free and may be called from any
//   thread (appenders on every worker); committed() is a relaxed snapshot.
//
// Example
//   LogMemoryBudget budget(4ull << 30);
//   if (!budget.TryCharge(64 * 1024)) Refuse(budget.limit_text());
#ifndef TACHYON_STREAM_LOG_MEMORY_BUDGET_H_
#define TACHYON_STREAM_LOG_MEMORY_BUDGET_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"

namespace tachyon::stream {

class LogMemoryBudget {
 public:
  explicit LogMemoryBudget(std::uint64_t limit)
      : limit_(limit),
        limit_text_(absl::StrCat("stream log memory limit reached: ", limit,
                                 " bytes (limits.max_log_memory_bytes)")) {}
  LogMemoryBudget(const LogMemoryBudget&) = delete;
  LogMemoryBudget& operator=(const LogMemoryBudget&) = delete;

  /// Charges `bytes`; false (nothing charged) if that would pass the limit.
  [[nodiscard]] bool TryCharge(std::uint64_t bytes) {
    std::uint64_t cur = committed_.load(std::memory_order_relaxed);
    do {
      if (bytes > limit_ - cur) return false;
    } while (!committed_.compare_exchange_weak(cur, cur + bytes,
                                               std::memory_order_relaxed));
    return true;
  }
  /// Gives back `bytes` charged earlier.
  void Refund(std::uint64_t bytes) {
    committed_.fetch_sub(bytes, std::memory_order_relaxed);
  }

  [[nodiscard]] std::uint64_t committed() const {
    return committed_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t limit() const { return limit_; }
  /// The text a refused append is answered with, naming the limit's key
  /// and value.
  [[nodiscard]] const std::string& limit_text() const { return limit_text_; }

 private:
  const std::uint64_t limit_;
  const std::string limit_text_;
  std::atomic<std::uint64_t> committed_{0};
};

}  // namespace tachyon::stream

#endif  // TACHYON_STREAM_LOG_MEMORY_BUDGET_H_
