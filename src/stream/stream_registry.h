// StreamRegistry: stream names to ids to logs, shared by all workers.
//
// Overview
//   Streams are created on first OPEN_STREAM or exact SUBSCRIBE. Ids grow
//   with every creation and are never reused while the gateway runs; a
//   stream lives in slot `id & mask` of a table twice the size of
//   max_streams, so lookup by id is an index and an acquire load — the
//   publish path never locks. Creation, retirement and name lookup take a
//   mutex (control path). Workers learn of new streams (for prefix-pattern
//   subscriptions) by watching last_id().
//
//   Memory is bounded: at most `max_streams` streams at once, and ring
//   memory charged to one LogMemoryBudget (limits.max_log_memory_bytes) as
//   logs commit it. Beyond max_streams, Open fails with RESOURCE_EXHAUSTED
//   (LIMIT_EXCEEDED on the wire); beyond the memory budget, appends fail
//   (stream_log.h). Both errors name the limit's key and value.
//
//   Retirement. A stream with no publisher, no subscriber, no attached
//   reader and no new message for its policy's idle_retire_ms is retired by
//   Sweep (run once a second by worker 0), or at once by Retire (the admin
//   plane's DELETE). Streams opened with OpenConfigured (UDP groups) are
//   never retired. A retired stream leaves the table and the
//   name map at once; its id is never used again, and a stream of the same
//   name created later gets a new id and continues the retired one's
//   sequences (its first append gets the retired stream's next sequence).
//   The retired names remembered for this are bounded (retired_names_cap(),
//   the larger of max_streams and kMinRetiredNames), oldest retirement
//   evicted first. An evicted name's next sequence raises a floor that every
//   stream created under a name not remembered starts from (1 until the
//   first eviction), so a name's sequences never repeat within a run,
//   remembered or not (PROTOCOL.md 9.4).
//
//   Reclamation (quiescent-state based). Find() is lock-free and workers
//   keep the pointer for the rest of their duty-cycle iteration, so a
//   retired log is freed only once every registered reader thread has
//   passed a quiescent point since it was unlinked: each worker calls
//   Quiescent() once per iteration (between iterations it holds no pointer
//   it got from Find, only logs it holds a use of, which are never
//   retired). Retirement unlinks the log, then advances the global epoch;
//   the log waits in limbo with that epoch until every reader's announced
//   epoch reaches it, then Sweep or Retire destroys it (munmap, metrics
//   unregistered, memory refunded). Threads that never call Find on logs
//   that may be retired (the admin thread) need not register.
//
// Threading: all methods are thread-safe. Quiescent(r) only on the thread
// that registered r.
//
// Example
//   absl::StatusOr<StreamLog*> log =
//       registry.Open("md.eq.AAPL", StreamUse::kPublisher);
//   ...  (*log)->Append(payload, now);  ...  (*log)->Release(kPublisher);
//   registry.Sweep(MonotonicNs());    // worker 0, once a second
#ifndef TACHYON_STREAM_STREAM_REGISTRY_H_
#define TACHYON_STREAM_STREAM_REGISTRY_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/counters.h"
#include "config/model.h"
#include "stream/log_memory_budget.h"
#include "stream/log_storage.h"
#include "stream/mirrored_memory.h"
#include "stream/stream_log.h"
#include "tachyon/common/types.h"

namespace tachyon::stream {

class StreamRegistry {
 public:
  /// Reader threads that may register for reclamation at once.
  static constexpr int kMaxReaders = 128;
  /// How often the gateway runs Sweep.
  static constexpr std::int64_t kSweepIntervalNs = 1'000'000'000;

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
  /// Errors: INVALID_ARGUMENT for a malformed name; RESOURCE_EXHAUSTED at
  /// max_streams (the text names the key and value); INTERNAL if the ring
  /// cannot be mapped. The log may be retired as soon as the mutex is
  /// released unless the caller acquires a use — prefer the overload.
  absl::StatusOr<StreamLog*> Open(std::string_view name);
  /// Open, plus one `use` of the stream acquired atomically with it (so it
  /// cannot be retired in between). The caller Releases it.
  absl::StatusOr<StreamLog*> Open(std::string_view name, StreamUse use);
  /// Who may create a stream Open does not find: a principal's create
  /// permission and its max_streams_created quota (src/auth), checked under
  /// the registry's lock with the creation itself.
  struct CreateGuard {
    /// False: an absent stream is not created; PERMISSION_DENIED with
    /// `denied_text`.
    bool allowed = true;
    std::string_view denied_text;
    /// Streams this creator made that still exist: incremented when the
    /// stream is created, decremented when it is retired. nullptr: none.
    std::shared_ptr<std::atomic<std::int64_t>> created;
    /// At `limit` (> 0) created streams: RESOURCE_EXHAUSTED, `limit_text`.
    std::int64_t limit = 0;
    std::string_view limit_text;
  };
  /// Open with `use`, creating only as `guard` allows.
  absl::StatusOr<StreamLog*> Open(std::string_view name, StreamUse use,
                                  const CreateGuard& guard);
  /// Open for a stream the config names ([[udp.groups]]): never retired.
  absl::StatusOr<StreamLog*> OpenConfigured(std::string_view name);

  /// The stream with `id`, or nullptr (never created, or retired).
  /// Lock-free. The pointer stays valid until the calling reader's next
  /// Quiescent() (or for as long as the caller holds a use of it).
  [[nodiscard]] StreamLog* Find(StreamId id) const {
    const std::uint32_t i = id.value();
    if (i == 0) return nullptr;
    StreamLog* log = slots_[i & slot_mask_].load(std::memory_order_acquire);
    return log != nullptr && log->id() == id ? log : nullptr;
  }
  /// The stream in table slot `i` (0 <= i < slot_count()), or nullptr; for
  /// scans of every stream. Same validity as Find.
  [[nodiscard]] StreamLog* AtSlot(std::size_t i) const {
    return slots_[i].load(std::memory_order_acquire);
  }
  [[nodiscard]] std::size_t slot_count() const { return slot_mask_ + 1; }

  /// The stream named `name`, or nullptr.
  [[nodiscard]] StreamLog* FindByName(std::string_view name) const;

  /// Streams open now (created and not retired).
  [[nodiscard]] std::uint32_t size() const {
    return size_.load(std::memory_order_acquire);
  }
  /// The id of the latest stream created (0: none yet). Acquire: a worker
  /// that sees last_id() == n may Find every stream created up to id n
  /// (those not retired since).
  [[nodiscard]] std::uint32_t last_id() const {
    return last_id_.load(std::memory_order_acquire);
  }
  /// Streams retired so far.
  [[nodiscard]] std::uint64_t retired_total() const;
  /// Retired names remembered (with the sequence a re-created stream of the
  /// name continues from); at most retired_names_cap().
  [[nodiscard]] std::size_t retired_names() const;
  /// The most retired names remembered: max(max_streams, kMinRetiredNames).
  [[nodiscard]] std::size_t retired_names_cap() const {
    return retired_names_cap_;
  }
  /// The first sequence of a stream created under a name not remembered: 1
  /// until a remembered name is evicted, then the highest next sequence of
  /// any evicted name.
  [[nodiscard]] std::uint64_t sequence_floor() const;
  /// The least retired_names_cap() whatever max_streams is.
  static constexpr std::size_t kMinRetiredNames = 4096;
  /// Ring bytes committed by every stream, retired ones not yet freed
  /// included.
  [[nodiscard]] std::uint64_t memory_committed() const {
    return budget_.committed();
  }

  /// Operator retirement (DELETE /api/v1/streams/{name}): retires `name`
  /// now, however recently it was written. NOT_FOUND if there is no such
  /// stream; FAILED_PRECONDITION, naming the counts, if it has publishers,
  /// subscribers or attached readers, or if the config names it (a UDP
  /// group).
  absl::Status Retire(std::string_view name);

  /// Idle retirement: retires every stream idle for its idle_retire_ms at
  /// `now_ns` (CLOCK_MONOTONIC, or any clock the caller uses consistently:
  /// a stream's idle time starts at the first Sweep that finds it unused and
  /// unchanged), frees retired logs that no reader can still hold, and
  /// publishes the registry's gauges. Returns the number retired. Called
  /// once a second (kSweepIntervalNs); the cost is one look at each stream.
  int Sweep(std::int64_t now_ns);

  /// Registers the calling thread as a reader (a thread that calls Find or
  /// AtSlot on streams that may be retired). Returns its index for
  /// Quiescent and UnregisterReader. RESOURCE_EXHAUSTED past kMaxReaders.
  absl::StatusOr<int> RegisterReader();
  /// The reader holds no pointer it got from Find/AtSlot before this call.
  /// Cheap when nothing was retired since its last call (one load).
  void Quiescent(int reader) {
    const std::uint64_t e = epoch_.load(std::memory_order_acquire);
    std::atomic<std::uint64_t>& mine = readers_[reader].epoch;
    if (mine.load(std::memory_order_relaxed) != e) {
      mine.store(e, std::memory_order_release);
    }
  }
  /// The reader stops (it holds no pointer from Find any more).
  void UnregisterReader(int reader);
  /// Retired logs not freed yet (tests).
  [[nodiscard]] std::size_t limbo_size() const;

 private:
  struct Entry {
    std::unique_ptr<StreamLog> log;
    std::int64_t idle_retire_ns = 0;  // 0: never idle-retired
    bool configured = false;          // never retired at all
    // CreateGuard::created of the creator: decremented at retirement.
    std::shared_ptr<std::atomic<std::int64_t>> creator_count;
    // Sweep's view: the tail it last saw, and since when nothing changed.
    // `touched` (set by Open) counts as a change.
    bool touched = true;
    std::uint64_t seen_tail = 0;
    std::int64_t idle_since_ns = 0;
  };
  struct Retired {
    std::unique_ptr<StreamLog> log;
    std::uint64_t epoch = 0;  // free once every reader announced this
  };
  struct alignas(kCacheLineSize) ReaderEpoch {
    // Written by its reader once per duty cycle (when the epoch moved),
    // read by the reclaimer: own line, so readers never share one.
    std::atomic<std::uint64_t> epoch{kOffline};
  };
  static constexpr std::uint64_t kOffline = ~std::uint64_t{0};

  absl::StatusOr<StreamLog*> OpenLocked(std::string_view name,
                                        std::int64_t* created_id,
                                        const CreateGuard* guard = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Unlinks a log whose TryRetire succeeded and puts it in limbo.
  void UnlinkLocked(std::string_view name, Entry& entry, const char* why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the logs every reader is past out of limbo into `freed` (to be
  // destroyed after the mutex is released: munmap takes a while).
  void ReclaimLocked(std::vector<std::unique_ptr<StreamLog>>& freed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishGaugesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Remembers that `name` was retired with `next_sequence` next, evicting
  // the oldest remembered name past the cap.
  void RememberRetiredLocked(std::string_view name, std::uint64_t next_sequence)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Create/retire lines at info level, rate-limited by the gateway's stream
  // log limiter (base::LimiterFor(LogKind::kStream)), whose suppressed count
  // the periodic summary reports.
  void LogLocked(std::string_view what, std::string_view name, StreamId id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const config::GatewayConfig& config_;
  base::CounterRegistry& counters_;
  MirroredMemoryFactory default_storage_;
  LogStorageFactory& storage_;
  const std::uint32_t max_streams_;
  LogMemoryBudget budget_;
  const std::size_t slot_mask_;
  std::unique_ptr<std::atomic<StreamLog*>[]> slots_;
  std::atomic<std::uint32_t> size_{0};
  std::atomic<std::uint32_t> last_id_{0};
  std::atomic<std::uint64_t> epoch_{1};
  std::unique_ptr<ReaderEpoch[]> readers_;

  // std::mutex rather than absl::Mutex: Debian's Abseil is a prebuilt library
  // without TSan instrumentation, so under TSan absl::Mutex orders nothing
  // and every pair of Opens is reported as a race on by_name_; pthread
  // mutexes are intercepted. Control path only, so the cost is irrelevant.
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, Entry> by_name_ ABSL_GUARDED_BY(mu_);
  // Retired names -> the sequence their next message would have had, so
  // that a stream created again under the name continues from there; at
  // most retired_names_cap_, oldest retirement first in retired_order_.
  struct Tomb {
    std::uint64_t next_sequence = 1;
    std::list<std::string>::iterator order;
  };
  const std::size_t retired_names_cap_;
  absl::flat_hash_map<std::string, Tomb> next_after_retire_
      ABSL_GUARDED_BY(mu_);
  std::list<std::string> retired_order_ ABSL_GUARDED_BY(mu_);
  std::uint64_t sequence_floor_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<Retired> limbo_ ABSL_GUARDED_BY(mu_);
  std::array<bool, kMaxReaders> reader_used_ ABSL_GUARDED_BY(mu_){};
  std::uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  // Registry totals, written under mu_ only (single writer).
  base::Gauge streams_gauge_;
  base::Counter retired_counter_;
  base::Gauge memory_committed_gauge_;
  base::Gauge memory_limit_gauge_;
};

/// True if `name` matches subscription `pattern` (exact, or prefix + '*').
bool MatchesPattern(std::string_view pattern, std::string_view name);

}  // namespace tachyon::stream

#endif  // TACHYON_STREAM_STREAM_REGISTRY_H_
