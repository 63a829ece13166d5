#include "stream/stream_log.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tachyon/protocol/data_messages.h"

namespace tachyon::stream {

namespace tp = ::tachyon::protocol;

absl::StatusOr<std::unique_ptr<StreamLog>> StreamLog::Create(
    StreamId id, std::string name, const config::StreamPolicy& policy,
    std::uint32_t max_frame_length) {
  if (policy.window_bytes == 0 ||
      policy.window_bytes > policy.capacity_bytes / 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "stream '", name, "': window ", policy.window_bytes,
        " must be in 1..capacity/2 (", policy.capacity_bytes / 2, ")"));
  }
  if (max_frame_length < tp::DataView::kFixedLength ||
      tp::PaddedLength(max_frame_length) > policy.window_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream '", name, "': max_frame_length ", max_frame_length,
                     " must fit in the window (", policy.window_bytes, ")"));
  }
  absl::StatusOr<MirroredBuffer> buffer =
      MirroredBuffer::Create(policy.capacity_bytes);
  if (!buffer.ok()) {
    return absl::Status(
        buffer.status().code(),
        absl::StrCat("stream '", name, "': ", buffer.status().message()));
  }
  return std::unique_ptr<StreamLog>(new StreamLog(
      id, std::move(name), *std::move(buffer), policy, max_frame_length));
}

StreamLog::StreamLog(StreamId id, std::string name, MirroredBuffer buffer,
                     const config::StreamPolicy& policy,
                     std::uint32_t max_frame_length)
    : id_(id),
      name_(std::move(name)),
      buffer_(std::move(buffer)),
      capacity_(buffer_.capacity()),
      mask_(capacity_ - 1),
      window_(policy.window_bytes),
      policy_(policy.policy),
      max_payload_(max_frame_length -
                   static_cast<std::uint32_t>(tp::DataView::kFixedLength)),
      index_(capacity_ / tp::DataView::kFixedLength),
      index_mask_(capacity_ / tp::DataView::kFixedLength - 1) {}

AppendResult StreamLog::Append(std::span<const std::byte> payload,
                               std::int64_t timestamp_ns) {
  if (payload.size() > max_payload_) return {AppendStatus::kTooLarge, {}};
  const std::uint64_t padded =
      tp::PaddedLength(tp::DataView::kFixedLength + payload.size());
  base::SpinLockGuard guard(lock_);
  const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
  const std::uint64_t new_tail = tail + padded;
  if (policy_ == config::SlowConsumerPolicy::kBackpressure &&
      new_tail > append_limit_) {
    append_limit_ =
        readers_.empty() ? ~std::uint64_t{0} : SlowestReader() + window_;
    if (new_tail > append_limit_) {
      back_pressured_.store(back_pressured_.load(std::memory_order_relaxed) + 1,
                            std::memory_order_relaxed);
      return {AppendStatus::kBackPressured, {}};
    }
  }
  // Announce the region about to be overwritten before touching it, so a
  // reader that checks Overwritten() after its send sees the claim.
  claim_.store(new_tail, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);

  const Sequence sequence{next_sequence_++};
  std::span<std::byte> body =
      tp::BeginData({buffer_.data() + (tail & mask_), padded}, id_, sequence,
                    timestamp_ns, payload.size());
  if (!payload.empty()) {
    std::memcpy(body.data(), payload.data(), payload.size());
  }
  // Retire frames that now lie (even partly) outside the last `capacity`
  // bytes, before this frame's index entry can reuse one of their slots.
  const std::uint64_t retained_from =
      new_tail > capacity_ ? new_tail - capacity_ : 0;
  while (oldest_sequence_ < sequence.value() &&
         index_[oldest_sequence_ & index_mask_] < retained_from) {
    ++oldest_sequence_;
  }
  index_[sequence.value() & index_mask_] = tail;
  tail_.store(new_tail, std::memory_order_release);
  appended_.store(appended_.load(std::memory_order_relaxed) + 1,
                  std::memory_order_relaxed);
  return {AppendStatus::kOk, sequence};
}

StartPoint StreamLog::Attach(ReaderSlot* slot, protocol::StartMode mode,
                             Sequence sequence) {
  base::SpinLockGuard guard(lock_);
  const StartPoint sp = LocateLocked(mode, sequence);
  slot->Set(sp.position);
  readers_.push_back(slot);
  if (policy_ == config::SlowConsumerPolicy::kBackpressure) {
    append_limit_ = SlowestReader() + window_;
  }
  return sp;
}

StartPoint StreamLog::Locate(protocol::StartMode mode,
                             Sequence sequence) const {
  base::SpinLockGuard guard(lock_);
  return LocateLocked(mode, sequence);
}

StartPoint StreamLog::LocateLocked(protocol::StartMode mode,
                                   Sequence sequence) const {
  const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
  StartPoint sp;
  sp.tail = tail;
  auto start_latest = [&] {
    sp.position = tail;
    sp.next_sequence = Sequence{next_sequence_};
  };
  // Replays start no further back than capacity - window: a reader that
  // deep would be a window away from being lapped, with no room left to
  // tell a slow consumer from a lapped one before its pending sends are
  // overwritten. Frames older than that count as no longer retained.
  const std::uint64_t replay_floor =
      tail > capacity_ - window_ ? tail - (capacity_ - window_) : 0;
  std::uint64_t replayable = oldest_sequence_;
  {
    // Positions grow with sequences: binary-search the first frame at or
    // after the floor.
    std::uint64_t hi = next_sequence_;
    while (replayable < hi) {
      const std::uint64_t mid = replayable + (hi - replayable) / 2;
      if (PositionOf(Sequence{mid}) < replay_floor) {
        replayable = mid + 1;
      } else {
        hi = mid;
      }
    }
  }
  auto start_earliest = [&] {
    sp.next_sequence = Sequence{replayable};
    sp.position =
        replayable < next_sequence_ ? PositionOf(sp.next_sequence) : tail;
  };
  switch (mode) {
    case protocol::StartMode::kLatest:
      start_latest();
      break;
    case protocol::StartMode::kEarliest:
      start_earliest();
      break;
    case protocol::StartMode::kSequence:
      if (sequence.value() >= next_sequence_) {
        start_latest();
      } else if (sequence.value() < replayable) {
        sp.gap_from = sequence;
        sp.gap_to = Sequence{replayable - 1};
        start_earliest();
      } else {
        sp.next_sequence = sequence;
        sp.position = PositionOf(sequence);
      }
      break;
  }
  return sp;
}

void StreamLog::Detach(ReaderSlot* slot) {
  base::SpinLockGuard guard(lock_);
  readers_.erase(std::remove(readers_.begin(), readers_.end(), slot),
                 readers_.end());
  // The limit can only grow; force a recompute at the next append that
  // reaches the old one.
  append_limit_ = 0;
}

Sequence StreamLog::next_sequence() const {
  base::SpinLockGuard guard(lock_);
  return Sequence{next_sequence_};
}

Sequence StreamLog::oldest_sequence() const {
  base::SpinLockGuard guard(lock_);
  return Sequence{oldest_sequence_};
}

std::uint64_t StreamLog::SlowestReader() const {
  std::uint64_t slowest = ~std::uint64_t{0};
  for (const ReaderSlot* r : readers_) slowest = std::min(slowest, r->Get());
  return slowest;
}

std::uint64_t StreamLog::PositionOf(Sequence s) const {
  return index_[s.value() & index_mask_];
}

}  // namespace tachyon::stream
