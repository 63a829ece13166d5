// StreamLog: one stream's log of DATA frames — append once, fan out from it.
//
// Overview
//   The log is a power-of-two ring of bytes (LogStorage) holding DATA
//   frames exactly as subscribers receive them. Append stamps the sequence and
//   the gateway timestamp, writes the frame in place and publishes it by a
//   release-store of the tail position. Positions are 64-bit byte offsets
//   that only grow; the byte at position p lives at data() + (p & mask).
//
//   Readers never lock. A reader (a subscriber's cursor) owns a position and
//   sends the bytes [position, tail) straight from the log — one contiguous
//   span thanks to the mirrored storage — then advances. A reader that falls
//   more than capacity behind has been lapped: its bytes were overwritten.
//
//   Pins: bytes a reader is handing to the kernel can never be overwritten.
//   Before it touches log bytes (reads a header, or passes an iovec to a
//   send), a reader pins the oldest position it will touch in its
//   ReaderSlot and asks PinHolds(); it unpins once the send has completed.
//   A writer about to overwrite pinned bytes refuses the append instead
//   (kBackPressured, counted per stream as pin_refusals), whatever the
//   stream's policy. The check is a Dekker handshake on two seq_cst
//   variables (the pin, and the log's claim of what the writer may
//   overwrite): either the writer sees the pin and stops, or the reader sees
//   the claim and does not use the bytes. Writers scan the pins only once
//   per pin_margin() bytes appended: a pin placed after a scan lies at least
//   capacity - pin_margin() behind that scan's claim (PinHolds refuses it
//   otherwise), so no append before the next scan can reach it. A reader
//   that PinHolds() refuses is as good as lapped: cut it as a slow consumer.
//
//   Slow consumers. With policy kDisconnect the writer never waits; a reader
//   further than window() behind is disconnected by its owner (window <=
//   capacity / 2 keeps that well ahead of lapping). With policy
//   kBackpressure the writer refuses appends (kBackPressured) that would put
//   the tail more than window() past the slowest attached reader.
//
//   Memory. The ring's address space is reserved at creation, but memory is
//   committed only as appends reach new parts of it: each kCommitChunk step
//   is charged to the gateway-wide LogMemoryBudget first, and an append that
//   would pass its limit is refused (kMemoryLimit; memory_limit_text() names
//   the limit). The sequence index is reserved the same way and grows with
//   the number of frames. An empty stream costs its bookkeeping only.
//
//   Users and retirement. The registry counts who uses the stream —
//   publishers (sessions that opened it), subscribers (subscriptions that
//   cover it) — and may retire it when nobody does (TryRetire): from then
//   on it takes no appends (kRetired) and no new users (TryAcquire fails),
//   and the registry frees it once no worker can still hold a pointer to it
//   (stream_registry.h).
//
//   Replay. Every append records its frame's position in a sequence index, so
//   Attach can start a reader at the latest position, at the earliest frame
//   still retained, or at a given sequence, and reports the sequences it asked
//   for that are gone (for a GAP frame). Replays reach back at most
//   capacity - window bytes, so even a reader that starts at the oldest
//   replayable frame has a window of room before it could be lapped.
//
// Threading
//   Append, Attach and Detach may be called from any thread; they serialise
//   on a spin lock held for one frame copy. tail(), Readable(), Lapped() and
//   PinHolds() are lock-free. A ReaderSlot is written only by the thread
//   that owns the reader.
//
// Example
//   auto log = StreamLog::Create(StreamId{1}, "md.eq.AAPL", policy, 65536,
//                                storage_factory, counters);
//   (*log)->Append(payload, NowNs());
//   ReaderSlot slot;
//   StartPoint sp = (*log)->Attach(&slot, StartMode::kEarliest, Sequence{});
//   std::span<const std::byte> bytes = (*log)->Readable(slot.position());
#ifndef TACHYON_STREAM_STREAM_LOG_H_
#define TACHYON_STREAM_STREAM_LOG_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "base/counters.h"
#include "base/spin_lock.h"
#include "config/model.h"
#include "stream/log_memory_budget.h"
#include "stream/log_storage.h"
#include "tachyon/common/types.h"
#include "tachyon/protocol/stream_messages.h"

namespace tachyon::stream {

/// A reader's published state, read by appenders: its position (for
/// back-pressure) and its pin (bytes it is handing to the kernel).
struct ReaderSlot {
  /// Pin value meaning "touching no bytes".
  static constexpr std::uint64_t kNoPin = ~std::uint64_t{0};

  // Own cache line: written by the reader's worker on every send while
  // appenders on other workers read it.
  alignas(kCacheLineSize) std::atomic<std::uint64_t> position{0};
  std::atomic<std::uint64_t> pin{kNoPin};

  [[nodiscard]] std::uint64_t Get() const {
    return position.load(std::memory_order_acquire);
  }
  void Set(std::uint64_t p) { position.store(p, std::memory_order_release); }
  /// Bytes from `p` on may be touched from now on; follow with PinHolds.
  void Pin(std::uint64_t p) { pin.store(p, std::memory_order_seq_cst); }
  /// Done touching bytes (after the send that used them completed).
  void Unpin() { pin.store(kNoPin, std::memory_order_release); }
  [[nodiscard]] bool pinned() const {
    return pin.load(std::memory_order_relaxed) != kNoPin;
  }
};

enum class AppendStatus : std::uint8_t {
  kOk,
  kBackPressured,  ///< policy kBackpressure and the slowest reader is too
                   ///< far, or the append would overwrite pinned bytes
  kTooLarge,       ///< payload exceeds max_frame_length - 32
  kMemoryLimit,    ///< the ring needs more memory than the budget has left
                   ///< (memory_limit_text() says which limit)
  kRetired,        ///< the stream was retired; nothing more is appended
};

/// Who uses a stream (StreamLog::TryAcquire); a stream in use is never
/// retired.
enum class StreamUse : std::uint8_t {
  kPublisher,   ///< a session that opened the stream (OPEN_STREAM)
  kSubscriber,  ///< a subscription covering the stream (exact, pattern, UDP)
};

struct AppendResult {
  AppendStatus status = AppendStatus::kOk;
  Sequence sequence;  ///< assigned when kOk
};

/// Where Attach placed a reader.
struct StartPoint {
  std::uint64_t position = 0;
  std::uint64_t tail = 0;  ///< the log's tail when the reader attached
  Sequence next_sequence;  ///< the first sequence the reader will receive
  Sequence gap_from;       ///< if non-zero, [gap_from, gap_to] is not retained
  Sequence gap_to;
};

class StreamLog {
 public:
  /// Writers scan readers' pins at most once per pin_margin() bytes
  /// appended (see Pins above): this, or a quarter of a smaller ring, or
  /// half the window if that is smaller still.
  static constexpr std::uint64_t kPinMargin = 64 * 1024;
  /// Ring memory is committed (and charged to the budget) in steps of this
  /// many bytes, or the whole ring if it is smaller.
  static constexpr std::uint64_t kCommitChunk = 64 * 1024;

  /// Makes the ring's storage (capacity and window from `policy`) and
  /// registers the stream's counters (label stream="name") in `counters`,
  /// which must outlive the log. Ring memory is charged to `budget` as it
  /// is committed (null: unlimited); the budget must outlive the log. The
  /// first append gets sequence `first` (a stream created again after its
  /// retirement continues its sequences). Control path.
  static absl::StatusOr<std::unique_ptr<StreamLog>> Create(
      StreamId id, std::string name, const config::StreamPolicy& policy,
      std::uint32_t max_frame_length, LogStorageFactory& storage,
      base::CounterRegistry& counters, LogMemoryBudget* budget = nullptr,
      Sequence first = Sequence{1});

  /// Gives the committed memory back to the budget.
  ~StreamLog();
  StreamLog(const StreamLog&) = delete;
  StreamLog& operator=(const StreamLog&) = delete;

  /// Appends one DATA frame carrying `payload`. Any thread; never allocates.
  [[nodiscard]] AppendResult Append(std::span<const std::byte> payload,
                                    std::int64_t timestamp_ns);

  /// Published end of the log (acquire): frames before it are complete.
  [[nodiscard]] std::uint64_t tail() const {
    return tail_.load(std::memory_order_acquire);
  }
  /// The committed bytes from `position` to the tail, contiguous. The caller
  /// must have checked !Lapped(position, tail) for the tail it used, and
  /// must hold a pin at or before `position` while it (or the kernel) reads
  /// them.
  [[nodiscard]] std::span<const std::byte> Readable(std::uint64_t position,
                                                    std::uint64_t tail) const {
    return {data_ + (position & mask_),
            static_cast<std::size_t>(tail - position)};
  }
  /// True if bytes at `position` may already be overwritten, judged against
  /// `tail`.
  [[nodiscard]] bool Lapped(std::uint64_t position, std::uint64_t tail) const {
    return tail - position > capacity_;
  }
  /// After `slot->Pin(position)`: true if no writer will overwrite bytes at
  /// `position` or later while the pin is held. False: the bytes may be
  /// gone or about to be; do not use them (unpin, cut the reader).
  [[nodiscard]] bool PinHolds(std::uint64_t position) const {
    return claim_.load(std::memory_order_seq_cst) - position <=
           capacity_ - pin_margin_;
  }

  /// Registers `slot` and sets it to the start position for `mode` (and
  /// `sequence` for kSequence). Control path; takes the append lock.
  StartPoint Attach(ReaderSlot* slot, protocol::StartMode mode,
                    Sequence sequence);
  /// Registers `slot` for its pins only: back-pressure does not wait for
  /// it (UDP egress, which drops rather than waits). False (nothing
  /// registered) if the stream was retired. Control path.
  [[nodiscard]] bool AttachPinOnly(ReaderSlot* slot);
  /// Where Attach would place a reader, without registering one: for a
  /// reader that back-pressure must not consider (UDP egress, which drops
  /// rather than waits). Control path; takes the append lock.
  StartPoint Locate(protocol::StartMode mode, Sequence sequence) const;
  /// Moves an attached reader to `position` (possibly backwards: a
  /// subscription restarted from an earlier sequence), so that back-pressure
  /// judges appends against it from now on. Control path.
  void Reposition(ReaderSlot* slot, std::uint64_t position);
  /// Back-pressure stops considering `slot`; its pins still count (a reader
  /// closing, that may still finish a frame). Control path.
  void DropBackPressure(ReaderSlot* slot);
  /// Unregisters `slot` (Attach or AttachPinOnly) entirely. Its pin must be
  /// released first. Control path.
  void Detach(ReaderSlot* slot);

  [[nodiscard]] StreamId id() const { return id_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] std::uint64_t capacity() const { return capacity_; }
  [[nodiscard]] std::uint64_t window() const { return window_; }
  /// A pin this close to being overwritten fails PinHolds.
  [[nodiscard]] std::uint64_t pin_margin() const { return pin_margin_; }
  [[nodiscard]] config::SlowConsumerPolicy policy() const { return policy_; }
  /// kDisconnect: how long a reader may stay more than window() behind.
  [[nodiscard]] std::int64_t lag_grace_ns() const { return lag_grace_ns_; }
  /// Policy kBackpressure: how long a reader half a window behind may make
  /// no progress before it is cut; 0: never.
  [[nodiscard]] std::int64_t stall_timeout_ns() const {
    return stall_timeout_ns_;
  }
  /// kDisconnect: a reader this far behind is cut whatever its grace, while
  /// the frame it may have half sent (at most window / 2 long, by the
  /// config's rules) is still there to be finished from a copy.
  [[nodiscard]] std::uint64_t hard_lag_limit() const {
    return capacity_ - pin_margin_ - window_ / 2;
  }
  /// The sequence the next append will get.
  [[nodiscard]] Sequence next_sequence() const;
  /// The oldest sequence still retained (== next_sequence() when empty).
  [[nodiscard]] Sequence oldest_sequence() const;

  /// The stream's counters (any thread): frames appended, appends refused
  /// for back-pressure, appends refused for a pin.
  [[nodiscard]] std::uint64_t appended() const { return appended_.value(); }
  [[nodiscard]] std::uint64_t back_pressured() const {
    return back_pressured_.value();
  }
  [[nodiscard]] std::uint64_t pin_refusals() const {
    return pin_refusals_.value();
  }

  /// One more user of the stream; false if it was retired (then it is as
  /// good as gone: look the name up again). Control path, any thread; the
  /// caller must know the log is still allocated (it holds a use, or found
  /// it this duty cycle: stream_registry.h).
  [[nodiscard]] bool TryAcquire(StreamUse use);
  /// One user fewer (after a successful TryAcquire). Control path.
  void Release(StreamUse use);
  /// A subscriber of this stream was cut as a slow consumer (the per-stream
  /// counter). Control path, any thread.
  void CountSlowConsumer();
  /// Publishers and subscribers now (any thread; a snapshot).
  [[nodiscard]] int publishers() const;
  [[nodiscard]] int subscribers() const;
  /// Ring bytes committed (charged to the budget) so far.
  [[nodiscard]] std::uint64_t committed_bytes() const;
  /// What an append refused with kMemoryLimit is answered with.
  [[nodiscard]] std::string_view memory_limit_text() const;

  /// Why TryRetire refused.
  struct InUse {
    int publishers = 0;
    int subscribers = 0;
    int readers = 0;  ///< reader slots still attached (a closing reader)
  };
  /// Retires the stream if nobody uses it and (unless `expected_tail` is
  /// kAnyTail) nothing was appended since the tail was `expected_tail`.
  /// True: retired; from now on appends return kRetired and TryAcquire
  /// fails. False: `in_use` (if given) says who is still there. Registry
  /// only, under its mutex.
  static constexpr std::uint64_t kAnyTail = ~std::uint64_t{0};
  bool TryRetire(std::uint64_t expected_tail, InUse* in_use = nullptr);

  /// Bitmask of workers with readers of this stream (bit i = worker i), so
  /// an appender knows whom to wake. Maintained by the readers' owners.
  std::atomic<std::uint64_t>& interested_workers() {
    return interested_workers_;
  }

 private:
  // munmaps the sequence index (reserved with mmap, so that only the pages
  // appends reach are ever committed).
  struct IndexUnmap {
    std::size_t bytes = 0;
    void operator()(std::uint64_t* p) const;
  };
  using Index = std::unique_ptr<std::uint64_t[], IndexUnmap>;

  StreamLog(StreamId id, std::string name, std::unique_ptr<LogStorage> storage,
            Index index, const config::StreamPolicy& policy,
            std::uint32_t max_frame_length, base::CounterRegistry& counters,
            LogMemoryBudget* budget, Sequence first);
  // The slow path of Append when it reaches past commit_limit_: charges the
  // budget for the next chunk(s) of the ring. False: over the limit.
  bool Commit(std::uint64_t new_tail) ABSL_EXCLUSIVE_LOCKS_REQUIRED(lock_);
  // The slow path of Append when it would pass pin_limit_: announces the
  // claim, scans the pins, and either moves the limit or refuses.
  bool ClaimPastPins(std::uint64_t tail, std::uint64_t new_tail)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(lock_);

  std::uint64_t SlowestReader() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(lock_);
  StartPoint LocateLocked(protocol::StartMode mode, Sequence sequence) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(lock_);
  std::uint64_t PositionOf(Sequence s) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(lock_);

  const StreamId id_;
  const std::string name_;
  const std::unique_ptr<LogStorage> storage_;
  std::byte* const data_;
  const std::uint64_t capacity_;
  const std::uint64_t mask_;
  const std::uint64_t window_;
  const std::uint64_t pin_margin_;
  const config::SlowConsumerPolicy policy_;
  const std::int64_t lag_grace_ns_;
  const std::int64_t stall_timeout_ns_;
  const std::uint32_t max_payload_;
  // Sequence -> position of its frame, for frames that may still be retained.
  // A frame takes at least 32 bytes, so capacity / 32 entries always cover
  // every retained frame.
  const Index index_ ABSL_PT_GUARDED_BY(lock_);
  const std::uint64_t index_mask_;
  LogMemoryBudget* const budget_;

  // Written by appenders under lock_; read lock-free by readers on every
  // worker. Kept on its own line so readers polling the tail do not share a
  // line with the lock word appenders bounce.
  alignas(kCacheLineSize) std::atomic<std::uint64_t> tail_{0};
  // How far the writer may have overwritten: the end of the frame being
  // appended (== tail_ between appends). Readers' PinHolds reads it.
  std::atomic<std::uint64_t> claim_{0};
  std::atomic<std::uint64_t> interested_workers_{0};
  // Written under lock_ only, so single-writer in the registry's sense.
  base::Counter appended_;
  base::Counter back_pressured_;
  base::Counter pin_refusals_;
  base::Counter memory_refusals_;
  base::Counter slow_consumers_;
  base::Gauge first_sequence_gauge_;
  base::Gauge next_sequence_gauge_;
  base::Gauge committed_gauge_;
  base::Gauge capacity_gauge_;
  base::Gauge publishers_gauge_;
  base::Gauge subscribers_gauge_;

  alignas(kCacheLineSize) mutable base::SpinLock lock_;
  std::uint64_t next_sequence_ ABSL_GUARDED_BY(lock_) = 1;
  std::uint64_t oldest_sequence_ ABSL_GUARDED_BY(lock_) = 1;
  // Cached min(reader position) + window; recomputed only when an append
  // would pass it.
  std::uint64_t append_limit_ ABSL_GUARDED_BY(lock_) = ~std::uint64_t{0};
  std::vector<ReaderSlot*> readers_ ABSL_GUARDED_BY(lock_);
  // Every slot whose pin the writer respects (readers_ and pin-only).
  std::vector<ReaderSlot*> pinners_ ABSL_GUARDED_BY(lock_);
  // Appends may go up to here without scanning pins (see Pins above).
  std::uint64_t pin_limit_ ABSL_GUARDED_BY(lock_) = 0;
  // Appends may go up to here without committing more memory; ~0 once the
  // whole ring is committed.
  std::uint64_t commit_limit_ ABSL_GUARDED_BY(lock_) = 0;
  std::uint64_t committed_ ABSL_GUARDED_BY(lock_) = 0;
  int publishers_ ABSL_GUARDED_BY(lock_) = 0;
  int subscribers_ ABSL_GUARDED_BY(lock_) = 0;
  bool retired_ ABSL_GUARDED_BY(lock_) = false;
};

}  // namespace tachyon::stream

#endif  // TACHYON_STREAM_STREAM_LOG_H_
