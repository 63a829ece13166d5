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
    std::uint32_t max_frame_length, LogStorageFactory& storage,
    base::CounterRegistry& counters) {
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
  absl::StatusOr<std::unique_ptr<LogStorage>> memory =
      storage.Create(name, policy.capacity_bytes);
  if (!memory.ok()) {
    return absl::Status(
        memory.status().code(),
        absl::StrCat("stream '", name, "': ", memory.status().message()));
  }
  if ((*memory)->capacity() != policy.capacity_bytes) {
    return absl::InternalError(
        absl::StrCat("stream '", name, "': storage of ", (*memory)->capacity(),
                     " bytes for a ring of ", policy.capacity_bytes));
  }
  return std::unique_ptr<StreamLog>(new StreamLog(id, std::move(name),
                                                  *std::move(memory), policy,
                                                  max_frame_length, counters));
}

StreamLog::StreamLog(StreamId id, std::string name,
                     std::unique_ptr<LogStorage> storage,
                     const config::StreamPolicy& policy,
                     std::uint32_t max_frame_length,
                     base::CounterRegistry& counters)
    : id_(id),
      name_(std::move(name)),
      storage_(std::move(storage)),
      data_(storage_->data()),
      capacity_(storage_->capacity()),
      mask_(capacity_ - 1),
      window_(policy.window_bytes),
      // At most half the window: replays start up to capacity - window
      // back, and such a start must still pin with room to spare.
      pin_margin_(std::min({kPinMargin, capacity_ / 4, window_ / 2})),
      policy_(policy.policy),
      lag_grace_ns_(std::int64_t{policy.lag_grace_ms} * 1'000'000),
      max_payload_(max_frame_length -
                   static_cast<std::uint32_t>(tp::DataView::kFixedLength)),
      index_(capacity_ / tp::DataView::kFixedLength),
      index_mask_(capacity_ / tp::DataView::kFixedLength - 1) {
  const base::Labels labels{{"stream", name_}};
  appended_ =
      counters.AddCounter("tachyon_stream_appends_total",
                          "frames appended to the stream's log", labels);
  back_pressured_ = counters.AddCounter(
      "tachyon_stream_back_pressured_total",
      "appends refused because the slowest subscriber was a window behind",
      labels);
  pin_refusals_ = counters.AddCounter(
      "tachyon_stream_pin_refusals_total",
      "appends refused because they would overwrite bytes being sent", labels);
}

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
      back_pressured_.Add();
      return {AppendStatus::kBackPressured, {}};
    }
  }
  if (new_tail > pin_limit_) {
    if (!ClaimPastPins(tail, new_tail)) {
      pin_refusals_.Add();
      return {AppendStatus::kBackPressured, {}};
    }
  } else {
    claim_.store(new_tail, std::memory_order_release);
  }

  const Sequence sequence{next_sequence_++};
  std::span<std::byte> body =
      tp::BeginData({data_ + (tail & mask_), padded}, id_, sequence,
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
  appended_.Add();
  return {AppendStatus::kOk, sequence};
}

bool StreamLog::ClaimPastPins(std::uint64_t tail, std::uint64_t new_tail) {
  // Announce the claim first, then read the pins (both seq_cst): a reader
  // pins, then reads the claim (PinHolds). Either we see its pin here, or
  // it sees this claim and keeps off the bytes.
  claim_.store(new_tail, std::memory_order_seq_cst);
  std::uint64_t lowest = ReaderSlot::kNoPin;
  for (const ReaderSlot* r : pinners_) {
    lowest = std::min(lowest, r->pin.load(std::memory_order_seq_cst));
  }
  if (lowest != ReaderSlot::kNoPin && new_tail - lowest > capacity_) {
    // Would overwrite bytes a reader is handing to the kernel: give the
    // claim back (nothing was written) and refuse.
    claim_.store(tail, std::memory_order_seq_cst);
    return false;
  }
  // Pins placed from now on saw this claim, so they lie at least
  // capacity - pin_margin_ behind it: appends up to new_tail + pin_margin_
  // cannot reach them.
  pin_limit_ = new_tail + pin_margin_;
  if (lowest != ReaderSlot::kNoPin) {
    pin_limit_ = std::min(pin_limit_, lowest + capacity_);
  }
  return true;
}

StartPoint StreamLog::Attach(ReaderSlot* slot, protocol::StartMode mode,
                             Sequence sequence) {
  base::SpinLockGuard guard(lock_);
  const StartPoint sp = LocateLocked(mode, sequence);
  slot->Set(sp.position);
  readers_.push_back(slot);
  pinners_.push_back(slot);
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

void StreamLog::AttachPinOnly(ReaderSlot* slot) {
  base::SpinLockGuard guard(lock_);
  pinners_.push_back(slot);
}

void StreamLog::Reposition(ReaderSlot* slot, std::uint64_t position) {
  base::SpinLockGuard guard(lock_);
  slot->Set(position);
  if (policy_ == config::SlowConsumerPolicy::kBackpressure) {
    append_limit_ =
        readers_.empty() ? ~std::uint64_t{0} : SlowestReader() + window_;
  }
}

void StreamLog::DropBackPressure(ReaderSlot* slot) {
  base::SpinLockGuard guard(lock_);
  std::erase(readers_, slot);
  // The limit can only grow; force a recompute at the next append that
  // reaches the old one.
  append_limit_ = 0;
}

void StreamLog::Detach(ReaderSlot* slot) {
  base::SpinLockGuard guard(lock_);
  std::erase(readers_, slot);
  std::erase(pinners_, slot);
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
