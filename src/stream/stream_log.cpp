#include "stream/stream_log.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "stream/stream_metric_names.h"
#include "tachyon/protocol/data_messages.h"

namespace tachyon::stream {

namespace tp = ::tachyon::protocol;

absl::StatusOr<std::unique_ptr<StreamLog>> StreamLog::Create(
    StreamId id, std::string name, const config::StreamPolicy& policy,
    std::uint32_t max_frame_length, LogStorageFactory& storage,
    base::CounterRegistry& counters, LogMemoryBudget* budget, Sequence first) {
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
  // capacity / 32 entries (a frame takes at least 32 bytes), reserved but
  // not touched: the pages commit as sequences reach them, so an empty
  // stream's index costs nothing (a zero-filled vector cost a quarter of
  // the ring, resident, for every stream ever created).
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t index_bytes =
      std::max(policy.capacity_bytes / tp::DataView::kFixedLength *
                   sizeof(std::uint64_t),
               page);
  void* index = ::mmap(nullptr, index_bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (index == MAP_FAILED) {
    return absl::InternalError(
        absl::StrCat("stream '", name,
                     "': mmap of the sequence index: ", std::strerror(errno)));
  }
  return std::unique_ptr<StreamLog>(new StreamLog(
      id, std::move(name), *std::move(memory),
      Index(static_cast<std::uint64_t*>(index), IndexUnmap{index_bytes}),
      policy, max_frame_length, counters, budget, first));
}

void StreamLog::IndexUnmap::operator()(std::uint64_t* p) const {
  ::munmap(p, bytes);
}

StreamLog::StreamLog(StreamId id, std::string name,
                     std::unique_ptr<LogStorage> storage, Index index,
                     const config::StreamPolicy& policy,
                     std::uint32_t max_frame_length,
                     base::CounterRegistry& counters, LogMemoryBudget* budget,
                     Sequence first)
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
      stall_timeout_ns_(std::int64_t{policy.stall_timeout_ms} * 1'000'000),
      max_payload_(max_frame_length -
                   static_cast<std::uint32_t>(tp::DataView::kFixedLength)),
      index_(std::move(index)),
      index_mask_(capacity_ / tp::DataView::kFixedLength - 1),
      budget_(budget),
      next_sequence_(first.value()),
      oldest_sequence_(first.value()) {
  const base::Labels labels{{"stream", name_}};
  appended_ = counters.AddCounter(
      kAppendsTotal, "frames appended to the stream's log", labels);
  back_pressured_ = counters.AddCounter(
      "tachyon_stream_back_pressured_total",
      "appends refused because the slowest subscriber was a window behind",
      labels);
  pin_refusals_ = counters.AddCounter(
      "tachyon_stream_pin_refusals_total",
      "appends refused because they would overwrite bytes being sent", labels);
  memory_refusals_ =
      counters.AddCounter(kMemoryRefusalsTotal,
                          "appends refused because the ring needed memory past "
                          "limits.max_log_memory_bytes",
                          labels);
  slow_consumers_ = counters.AddCounter(
      kSlowConsumersTotal, "subscribers cut from the stream as slow consumers",
      labels);
  first_sequence_gauge_ = counters.AddGauge(
      kFirstSequence, "oldest sequence the stream still retains", labels);
  next_sequence_gauge_ = counters.AddGauge(
      kNextSequence, "sequence the stream's next message gets", labels);
  committed_gauge_ = counters.AddGauge(
      kCommittedBytes, "ring bytes committed for the stream", labels);
  capacity_gauge_ =
      counters.AddGauge(kCapacityBytes, "the stream's ring capacity", labels);
  publishers_gauge_ = counters.AddGauge(
      kPublishers, "sessions that opened the stream for publishing", labels);
  subscribers_gauge_ = counters.AddGauge(
      kSubscribers, "subscriptions covering the stream", labels);
  first_sequence_gauge_.Set(static_cast<std::int64_t>(first.value()));
  next_sequence_gauge_.Set(static_cast<std::int64_t>(first.value()));
  capacity_gauge_.Set(static_cast<std::int64_t>(capacity_));
}

StreamLog::~StreamLog() {
  if (budget_ != nullptr) budget_->Refund(committed_);
}

bool StreamLog::Commit(std::uint64_t new_tail) {
  // Whole chunks, never past the ring: once every byte has been written
  // the ring is all committed and appends stop coming here.
  const std::uint64_t chunk = std::min(kCommitChunk, capacity_);
  const std::uint64_t target =
      std::min(capacity_, (new_tail + chunk - 1) / chunk * chunk);
  if (target > committed_) {
    if (budget_ != nullptr && !budget_->TryCharge(target - committed_)) {
      return false;
    }
    committed_ = target;
    committed_gauge_.Set(static_cast<std::int64_t>(committed_));
  }
  commit_limit_ = committed_ == capacity_ ? ~std::uint64_t{0} : committed_;
  return true;
}

AppendResult StreamLog::Append(std::span<const std::byte> payload,
                               std::int64_t timestamp_ns) {
  if (payload.size() > max_payload_) return {AppendStatus::kTooLarge, {}};
  const std::uint64_t padded =
      tp::PaddedLength(tp::DataView::kFixedLength + payload.size());
  base::SpinLockGuard guard(lock_);
  if (retired_) return {AppendStatus::kRetired, {}};
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
  // Before the pin claim, which a refusal here would have to undo.
  if (new_tail > commit_limit_ && !Commit(new_tail)) {
    memory_refusals_.Add();
    return {AppendStatus::kMemoryLimit, {}};
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
  if (retained_from != 0) {
    const std::uint64_t oldest = oldest_sequence_;
    while (oldest_sequence_ < sequence.value() &&
           index_[oldest_sequence_ & index_mask_] < retained_from) {
      ++oldest_sequence_;
    }
    if (oldest_sequence_ != oldest) {
      first_sequence_gauge_.Set(static_cast<std::int64_t>(oldest_sequence_));
    }
  }
  index_[sequence.value() & index_mask_] = tail;
  tail_.store(new_tail, std::memory_order_release);
  appended_.Add();
  next_sequence_gauge_.Set(static_cast<std::int64_t>(next_sequence_));
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

bool StreamLog::AttachPinOnly(ReaderSlot* slot) {
  base::SpinLockGuard guard(lock_);
  if (retired_) return false;
  pinners_.push_back(slot);
  return true;
}

bool StreamLog::TryAcquire(StreamUse use) {
  base::SpinLockGuard guard(lock_);
  if (retired_) return false;
  if (use == StreamUse::kPublisher) {
    publishers_gauge_.Set(++publishers_);
  } else {
    subscribers_gauge_.Set(++subscribers_);
  }
  return true;
}

void StreamLog::Release(StreamUse use) {
  base::SpinLockGuard guard(lock_);
  if (use == StreamUse::kPublisher) {
    if (publishers_ > 0) publishers_gauge_.Set(--publishers_);
  } else {
    if (subscribers_ > 0) subscribers_gauge_.Set(--subscribers_);
  }
}

void StreamLog::CountSlowConsumer() {
  base::SpinLockGuard guard(lock_);
  slow_consumers_.Add();
}

int StreamLog::publishers() const {
  base::SpinLockGuard guard(lock_);
  return publishers_;
}

int StreamLog::subscribers() const {
  base::SpinLockGuard guard(lock_);
  return subscribers_;
}

std::uint64_t StreamLog::committed_bytes() const {
  base::SpinLockGuard guard(lock_);
  return committed_;
}

std::string_view StreamLog::memory_limit_text() const {
  return budget_ != nullptr ? std::string_view(budget_->limit_text())
                            : std::string_view();
}

bool StreamLog::TryRetire(std::uint64_t expected_tail, InUse* in_use) {
  base::SpinLockGuard guard(lock_);
  if (retired_) return true;
  const InUse u{publishers_, subscribers_, static_cast<int>(pinners_.size())};
  if (u.publishers != 0 || u.subscribers != 0 || u.readers != 0 ||
      (expected_tail != kAnyTail &&
       tail_.load(std::memory_order_relaxed) != expected_tail)) {
    if (in_use != nullptr) *in_use = u;
    return false;
  }
  retired_ = true;
  return true;
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
