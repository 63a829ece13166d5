// Counters registry: named counters, gauges and histograms, each written by
// one thread and read by any thread without locks.
//
// Overview
//   A module registers what it counts once, on the control path, and keeps
//   the returned handle: Counter (monotonic), Gauge (a level that goes up and
//   down) or Histogram (a distribution, power-of-two buckets). Names follow
//   Prometheus conventions: `tachyon_<module>_<what>_total` for counters,
//   no suffix for gauges, a unit suffix for histograms (`_ns`, `_bytes`).
//   Labels say whose the value is (worker, stream, reason, ...).
//
//   Writing costs one relaxed load and one relaxed store on a cache line the
//   writer owns: each value has its own line, so two workers' counters never
//   share one. Only the owning thread may write a handle (single writer);
//   a value written under a lock that serialises all its writers (a stream
//   log's append lock) counts as single-writer too.
//
//   Reading: Snapshot() and Sum() may run on any thread at any time,
//   concurrently with writers and with registration. They see every value
//   registered before they started, each value as some recent write left
//   it (no lock, no torn values). A handle's destructor unregisters its
//   value; memory of unregistered entries is reclaimed only when no reader
//   is active, so a reader never follows a dangling pointer.
//
// Example
//   base::CounterRegistry registry;
//   base::Counter publishes = registry.AddCounter(
//       "tachyon_session_publishes_total", "PUBLISH frames appended",
//       {{"worker", "0"}});
//   publishes.Add();                       // worker thread
//   registry.Sum("tachyon_session_publishes_total");   // any thread
//
// Threading: registration and unregistration take a mutex (control path);
// Add/Set/Record only on the handle's owning thread; reads anywhere.
#ifndef TACHYON_BASE_COUNTERS_H_
#define TACHYON_BASE_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "tachyon/common/types.h"

namespace tachyon::base {

enum class MetricType : std::uint8_t { kCounter, kGauge, kHistogram };

/// One name="value" pair qualifying a metric.
struct Label {
  std::string name;
  std::string value;
  bool operator==(const Label&) const = default;
};
using Labels = std::vector<Label>;

/// Histogram buckets: bucket i counts values v with bit_width(v) == i, that
/// is 2^(i-1) <= v < 2^i (bucket 0 holds v == 0); the last bucket also
/// holds everything larger. 48 buckets reach 2^47 (~39 hours in ns).
inline constexpr std::size_t kHistogramBuckets = 48;

class CounterRegistry;

namespace counters_internal {
struct Entry;
// One registered value, on its own cache line: the owning thread writes
// `value` on its hot path while readers and other writers' values live on
// other lines.
struct alignas(kCacheLineSize) Slot {
  std::atomic<std::uint64_t> value{0};
  std::atomic<const Entry*> entry{nullptr};  // null: free
};
struct HistogramCells {
  std::array<std::atomic<std::uint64_t>, kHistogramBuckets> buckets{};
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::uint64_t> sum{0};
};
inline void Store(std::atomic<std::uint64_t>& a, std::uint64_t v) {
  a.store(v, std::memory_order_relaxed);
}
inline std::uint64_t Load(const std::atomic<std::uint64_t>& a) {
  return a.load(std::memory_order_relaxed);
}
// Where a detached (default-constructed) handle writes: shared, never read.
Slot& DetachedSlot();
HistogramCells& DetachedHistogram();
}  // namespace counters_internal

/// Common part of the handles: owns one registration, movable.
class MetricHandle {
 public:
  MetricHandle() = default;
  MetricHandle(MetricHandle&& other) noexcept;
  MetricHandle& operator=(MetricHandle&& other) noexcept;
  MetricHandle(const MetricHandle&) = delete;
  MetricHandle& operator=(const MetricHandle&) = delete;
  ~MetricHandle();

  /// False for a default-constructed (detached) handle.
  [[nodiscard]] bool registered() const { return registry_ != nullptr; }

 protected:
  MetricHandle(CounterRegistry* registry, counters_internal::Slot* slot)
      : registry_(registry), slot_(slot) {}
  void Release();

  CounterRegistry* registry_ = nullptr;
  counters_internal::Slot* slot_ = &counters_internal::DetachedSlot();
};

/// A monotonically increasing count. Add only from the owning thread.
class Counter : public MetricHandle {
 public:
  Counter() = default;
  void Add(std::uint64_t n = 1) {
    counters_internal::Store(slot_->value,
                             counters_internal::Load(slot_->value) + n);
  }
  /// Any thread.
  [[nodiscard]] std::uint64_t value() const {
    return counters_internal::Load(slot_->value);
  }

 private:
  friend class CounterRegistry;
  using MetricHandle::MetricHandle;
};

/// A level. Set/Add only from the owning thread.
class Gauge : public MetricHandle {
 public:
  Gauge() = default;
  void Set(std::int64_t v) {
    counters_internal::Store(slot_->value, static_cast<std::uint64_t>(v));
  }
  void Add(std::int64_t n) { Set(value() + n); }
  /// Any thread.
  [[nodiscard]] std::int64_t value() const {
    return static_cast<std::int64_t>(counters_internal::Load(slot_->value));
  }

 private:
  friend class CounterRegistry;
  using MetricHandle::MetricHandle;
};

/// A distribution of non-negative values. Record only from the owning
/// thread; three relaxed read-modify-writes, no branches on the value.
class Histogram : public MetricHandle {
 public:
  Histogram() = default;
  Histogram(Histogram&& other) noexcept;
  Histogram& operator=(Histogram&& other) noexcept;
  ~Histogram() = default;
  void Record(std::uint64_t v);
  /// Any thread: total number of values recorded.
  [[nodiscard]] std::uint64_t count() const {
    return counters_internal::Load(cells_->count);
  }

 private:
  friend class CounterRegistry;
  Histogram(CounterRegistry* registry, counters_internal::Slot* slot,
            counters_internal::HistogramCells* cells)
      : MetricHandle(registry, slot), cells_(cells) {}
  counters_internal::HistogramCells* cells_ =
      &counters_internal::DetachedHistogram();
};

/// A value read by Snapshot: the metric's identity and what it held.
struct MetricSample {
  std::string name;
  std::string help;
  MetricType type = MetricType::kCounter;
  Labels labels;
  std::uint64_t value = 0;  ///< counter; gauge as int64 bits (see gauge())
  /// Histograms: per-bucket counts (see kHistogramBuckets), count and sum.
  std::array<std::uint64_t, kHistogramBuckets> buckets{};
  std::uint64_t count = 0;
  std::uint64_t sum = 0;

  [[nodiscard]] std::int64_t gauge() const {
    return static_cast<std::int64_t>(value);
  }
  /// The value of label `key`, or "" if the sample has none.
  [[nodiscard]] std::string_view label(std::string_view key) const;
};

class CounterRegistry {
 public:
  CounterRegistry();
  ~CounterRegistry();
  CounterRegistry(const CounterRegistry&) = delete;
  CounterRegistry& operator=(const CounterRegistry&) = delete;

  /// Registers a value, starting at 0. Control path (takes a mutex). Names
  /// and labels may repeat across registrations (two workers' counters of
  /// the same name differ in their worker label). The registry must outlive
  /// every handle it returns. Past ~4M values at once the handle comes back
  /// detached (registered() is false) rather than growing without bound.
  Counter AddCounter(std::string_view name, std::string_view help,
                     Labels labels = {});
  Gauge AddGauge(std::string_view name, std::string_view help,
                 Labels labels = {});
  Histogram AddHistogram(std::string_view name, std::string_view help,
                         Labels labels = {});

  /// Every registered value. Any thread; lock-free with respect to writers.
  [[nodiscard]] std::vector<MetricSample> Snapshot() const;
  /// Sum of the counters or gauges named `name` whose labels include
  /// `label_name`="`label_value`" (any labels when `label_name` is empty).
  /// Any thread.
  [[nodiscard]] std::uint64_t Sum(std::string_view name,
                                  std::string_view label_name = {},
                                  std::string_view label_value = {}) const;
  /// Values registered now (tests).
  [[nodiscard]] std::size_t size() const;

 private:
  friend class MetricHandle;
  static constexpr std::size_t kChunkSlots = 256;
  static constexpr std::size_t kMaxChunks = 16384;  // ~4M values
  struct Chunk {
    std::array<counters_internal::Slot, kChunkSlots> slots;
  };

  counters_internal::Slot* Register(std::string_view name,
                                    std::string_view help, MetricType type,
                                    Labels labels,
                                    counters_internal::HistogramCells** cells);
  void Unregister(counters_internal::Slot* slot);
  // Frees retired entries if no reader is active. Holds mu_.
  void ReclaimLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Calls `visit(entry, slot)` for every registered slot, reader-side.
  template <typename F>
  void Visit(F&& visit) const;

  // Chunks are created on demand and never moved or freed before the
  // registry, so a slot's address is stable; readers load the count of
  // published chunks, then the chunk pointers, both with acquire.
  std::array<std::atomic<Chunk*>, kMaxChunks> chunks_{};
  std::atomic<std::size_t> chunk_count_{0};
  // Readers in Visit right now: retired entries wait until it is 0.
  mutable std::atomic<int> readers_{0};

  // std::mutex rather than absl::Mutex: Debian's Abseil is not built with
  // TSan instrumentation, so TSan would not see absl::Mutex order anything.
  mutable std::mutex mu_;
  std::vector<counters_internal::Slot*> free_slots_ ABSL_GUARDED_BY(mu_);
  std::size_t used_in_last_chunk_ ABSL_GUARDED_BY(mu_) = kChunkSlots;
  std::size_t registered_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::unique_ptr<counters_internal::Entry>> retired_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace tachyon::base

#endif  // TACHYON_BASE_COUNTERS_H_
