// StreamRegistry: stream names to ids to logs, shared by all workers.
//
// Overview
//   Streams are created on first OPEN_STREAM or exact SUBSCRIBE and live for
//   the gateway's lifetime. Ids are dense (1, 2, 3, ...) so lookup by id is
//   an array index with an acquire load — the publish path never locks.
//   Creation and name lookup take a mutex (control path). Workers learn of
//   new streams (for prefix-pattern subscriptions) by watching size().
//
//   Memory is bounded: at most `max_streams` streams and at most
//   `max_log_memory_bytes` of ring capacity in total; beyond either, Open
//   fails with RESOURCE_EXHAUSTED (LIMIT_EXCEEDED on the wire).
//
// Threading: all methods are thread-safe.
#ifndef TACHYON_STREAM_STREAM_REGISTRY_H_
#define TACHYON_STREAM_STREAM_REGISTRY_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "base/counters.h"
#include "config/model.h"
#include "stream/log_storage.h"
#include "stream/mirrored_memory.h"
#include "stream/stream_log.h"
#include "tachyon/common/types.h"

namespace tachyon::stream {

class StreamRegistry {
 public:
  /// Streams get their storage from `storage` (anonymous mirrored memory
  /// when null) and register their counters in `counters`; both must
  /// outlive the registry.
  StreamRegistry(const config::GatewayConfig& config,
                 base::CounterRegistry& counters,
                 LogStorageFactory* storage = nullptr);
  ~StreamRegistry();
  StreamRegistry(const StreamRegistry&) = delete;
  StreamRegistry& operator=(const StreamRegistry&) = delete;

  /// The stream named `name`, created with its configured policy if absent.
  /// Errors: INVALID_ARGUMENT for a malformed name; RESOURCE_EXHAUSTED at a
  /// limit; INTERNAL if the ring cannot be mapped.
  absl::StatusOr<StreamLog*> Open(std::string_view name);

  /// The stream with `id`, or nullptr. Lock-free.
  [[nodiscard]] StreamLog* Find(StreamId id) const {
    const std::uint32_t i = id.value();
    if (i == 0 || i > max_streams_) return nullptr;
    return streams_[i - 1].load(std::memory_order_acquire);
  }

  /// The stream named `name`, or nullptr.
  [[nodiscard]] StreamLog* FindByName(std::string_view name) const;

  /// Number of streams created so far; ids 1..size() are valid. Acquire:
  /// a worker that sees size() == n may Find any id <= n.
  [[nodiscard]] std::uint32_t size() const {
    return size_.load(std::memory_order_acquire);
  }

 private:
  const config::GatewayConfig& config_;
  base::CounterRegistry& counters_;
  MirroredMemoryFactory default_storage_;
  LogStorageFactory& storage_;
  const std::uint32_t max_streams_;
  std::unique_ptr<std::atomic<StreamLog*>[]> streams_;
  std::atomic<std::uint32_t> size_{0};

  // std::mutex rather than absl::Mutex: Debian's Abseil is a prebuilt library
  // without TSan instrumentation, so under TSan absl::Mutex orders nothing
  // and every pair of Opens is reported as a race on by_name_; pthread
  // mutexes are intercepted. Control path only, so the cost is irrelevant.
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<StreamLog>> owned_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, StreamLog*> by_name_ ABSL_GUARDED_BY(mu_);
  std::size_t log_memory_ ABSL_GUARDED_BY(mu_) = 0;
};

/// True if `name` matches subscription `pattern` (exact, or prefix + '*').
bool MatchesPattern(std::string_view pattern, std::string_view name);

}  // namespace tachyon::stream

#endif  // TACHYON_STREAM_STREAM_REGISTRY_H_
