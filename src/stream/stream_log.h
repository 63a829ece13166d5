// StreamLog: one stream's log of DATA frames — append once, fan out from it.
//
// Overview
//   The log is a power-of-two ring of bytes (a MirroredBuffer) holding DATA
//   frames exactly as subscribers receive them. Append stamps the sequence and
//   the gateway timestamp, writes the frame in place and publishes it by a
//   release-store of the tail position. Positions are 64-bit byte offsets
//   that only grow; the byte at position p lives at data() + (p & mask).
//
//   Readers never lock. A reader (a subscriber's cursor) owns a position and
//   sends the bytes [position, tail) straight from the log — one contiguous
//   span thanks to the mirrored mapping — then advances. A reader that falls
//   more than capacity behind has been lapped: its bytes were overwritten.
//   Readers detect it with Lapped() before using bytes and, because the kernel
//   copies during send, Overwritten() after.
//
//   Slow consumers. With policy kDisconnect the writer never waits; a reader
//   further than window() behind is disconnected by its owner (window <=
//   capacity / 2 keeps that well ahead of lapping). With policy
//   kBackpressure the writer refuses appends (kBackPressured) that would put
//   the tail more than window() past the slowest attached reader.
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
//   on a spin lock held for one frame copy. tail(), At(), Lapped() and
//   Overwritten() are lock-free. A ReaderSlot is written only by the thread
//   that owns the reader.
//
// Example
//   auto log = StreamLog::Create(StreamId{1}, "md.eq.AAPL", policy, 65536);
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
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "base/spin_lock.h"
#include "config/model.h"
#include "stream/mirrored_buffer.h"
#include "tachyon/common/types.h"
#include "tachyon/protocol/stream_messages.h"

namespace tachyon::stream {

/// A reader's published position, read by appenders enforcing back-pressure.
struct ReaderSlot {
  // Own cache line: written by the reader's worker on every send while
  // appenders on other workers read it.
  alignas(kCacheLineSize) std::atomic<std::uint64_t> position{0};

  [[nodiscard]] std::uint64_t Get() const {
    return position.load(std::memory_order_acquire);
  }
  void Set(std::uint64_t p) { position.store(p, std::memory_order_release); }
};

enum class AppendStatus : std::uint8_t {
  kOk,
  kBackPressured,  ///< policy kBackpressure and the slowest reader is too far
  kTooLarge,       ///< payload exceeds max_frame_length - 32
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
  /// Allocates the ring (capacity and window from `policy`). Control path.
  static absl::StatusOr<std::unique_ptr<StreamLog>> Create(
      StreamId id, std::string name, const config::StreamPolicy& policy,
      std::uint32_t max_frame_length);

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
  /// must have checked !Lapped(position, tail) for the tail it used.
  [[nodiscard]] std::span<const std::byte> Readable(std::uint64_t position,
                                                    std::uint64_t tail) const {
    return {buffer_.data() + (position & mask_),
            static_cast<std::size_t>(tail - position)};
  }
  /// True if bytes at `position` may already be overwritten, judged against
  /// `tail` (check before handing bytes to the kernel).
  [[nodiscard]] bool Lapped(std::uint64_t position, std::uint64_t tail) const {
    return tail - position > capacity_;
  }
  /// True if an append that started after bytes at `position` were read may
  /// have overwritten them (check after the kernel copied them).
  [[nodiscard]] bool Overwritten(std::uint64_t position) const {
    std::atomic_thread_fence(std::memory_order_acquire);
    return claim_.load(std::memory_order_relaxed) - position > capacity_;
  }

  /// Registers `slot` and sets it to the start position for `mode` (and
  /// `sequence` for kSequence). Control path; takes the append lock.
  StartPoint Attach(ReaderSlot* slot, protocol::StartMode mode,
                    Sequence sequence);
  /// Where Attach would place a reader, without registering one: for a
  /// reader that back-pressure must not consider (UDP egress, which drops
  /// rather than waits). Control path; takes the append lock.
  StartPoint Locate(protocol::StartMode mode, Sequence sequence) const;
  /// Unregisters `slot`; back-pressure no longer considers it.
  void Detach(ReaderSlot* slot);

  [[nodiscard]] StreamId id() const { return id_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] std::uint64_t capacity() const { return capacity_; }
  [[nodiscard]] std::uint64_t window() const { return window_; }
  [[nodiscard]] config::SlowConsumerPolicy policy() const { return policy_; }
  /// The sequence the next append will get.
  [[nodiscard]] Sequence next_sequence() const;
  /// The oldest sequence still retained (== next_sequence() when empty).
  [[nodiscard]] Sequence oldest_sequence() const;

  /// Monotonic counters (relaxed; for metrics and tests).
  [[nodiscard]] std::uint64_t appended() const {
    return appended_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t back_pressured() const {
    return back_pressured_.load(std::memory_order_relaxed);
  }

  /// Bitmask of workers with readers of this stream (bit i = worker i), so
  /// an appender knows whom to wake. Maintained by the readers' owners.
  std::atomic<std::uint64_t>& interested_workers() {
    return interested_workers_;
  }

 private:
  StreamLog(StreamId id, std::string name, MirroredBuffer buffer,
            const config::StreamPolicy& policy, std::uint32_t max_frame_length);

  std::uint64_t SlowestReader() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(lock_);
  StartPoint LocateLocked(protocol::StartMode mode, Sequence sequence) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(lock_);
  std::uint64_t PositionOf(Sequence s) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(lock_);

  const StreamId id_;
  const std::string name_;
  MirroredBuffer buffer_;
  const std::uint64_t capacity_;
  const std::uint64_t mask_;
  const std::uint64_t window_;
  const config::SlowConsumerPolicy policy_;
  const std::uint32_t max_payload_;
  // Sequence -> position of its frame, for frames that may still be retained.
  // A frame takes at least 32 bytes, so capacity / 32 entries always cover
  // every retained frame.
  std::vector<std::uint64_t> index_ ABSL_GUARDED_BY(lock_);
  const std::uint64_t index_mask_;

  // Written by appenders under lock_; read lock-free by readers on every
  // worker. Kept on its own line so readers polling the tail do not share a
  // line with the lock word appenders bounce.
  alignas(kCacheLineSize) std::atomic<std::uint64_t> tail_{0};
  std::atomic<std::uint64_t> claim_{0};
  std::atomic<std::uint64_t> appended_{0};
  std::atomic<std::uint64_t> back_pressured_{0};
  std::atomic<std::uint64_t> interested_workers_{0};

  alignas(kCacheLineSize) mutable base::SpinLock lock_;
  std::uint64_t next_sequence_ ABSL_GUARDED_BY(lock_) = 1;
  std::uint64_t oldest_sequence_ ABSL_GUARDED_BY(lock_) = 1;
  // Cached min(reader position) + window; recomputed only when an append
  // would pass it.
  std::uint64_t append_limit_ ABSL_GUARDED_BY(lock_) = ~std::uint64_t{0};
  std::vector<ReaderSlot*> readers_ ABSL_GUARDED_BY(lock_);
};

}  // namespace tachyon::stream

#endif  // TACHYON_STREAM_STREAM_LOG_H_
