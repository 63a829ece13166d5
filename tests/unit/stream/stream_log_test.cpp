// The stream log and its mirrored ring: aliasing of the two mappings, frame
// layout (every byte at Readable() decodes as the DATA frames appended,
// including frames that cross the ring's end), the sequence index and replay
// start points checked against an independent model of which frames the ring
// still holds, lapping, both slow-consumer policies, and appenders racing
// lock-free readers (run under TSan in CI: label `concurrency`).
#include "stream/stream_log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <latch>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/counters.h"
#include "gtest/gtest.h"
#include "stream/mirrored_memory.h"
#include "tachyon/protocol/frame.h"

namespace tachyon::stream {
namespace {

namespace tp = ::tachyon::protocol;
using config::SlowConsumerPolicy;
using config::StreamPolicy;

constexpr StreamId kStreamId{7};

std::size_t PageSize() {
  return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

StreamPolicy Policy(
    std::size_t capacity, std::size_t window,
    SlowConsumerPolicy policy = SlowConsumerPolicy::kDisconnect) {
  StreamPolicy p;
  p.capacity_bytes = capacity;
  p.window_bytes = window;
  p.policy = policy;
  return p;
}

MirroredMemoryFactory& Storage() {
  static MirroredMemoryFactory storage;
  return storage;
}

base::CounterRegistry& Counters() {
  static base::CounterRegistry counters;
  return counters;
}

std::unique_ptr<StreamLog> MakeLog(const StreamPolicy& policy,
                                   std::uint32_t max_frame_length) {
  absl::StatusOr<std::unique_ptr<StreamLog>> log =
      StreamLog::Create(kStreamId, "test.stream", policy, max_frame_length,
                        Storage(), Counters());
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? *std::move(log) : nullptr;
}

std::span<const std::byte> Bytes(std::string_view s) { return tp::AsBytes(s); }

// Deterministic payload content for frame `i` of `size` bytes.
std::string PayloadFor(std::uint64_t i, std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t k = 0; k < size; ++k) {
    s[k] = static_cast<char>('a' + (i * 7 + k) % 26);
  }
  return s;
}

std::uint64_t Padded(std::size_t payload_size) {
  return tp::PaddedLength(tp::DataView::kFixedLength + payload_size);
}

struct Decoded {
  std::uint64_t sequence = 0;
  std::int64_t timestamp_ns = 0;
  std::uint32_t stream_id = 0;
  std::string payload;
  std::size_t consumed = 0;
};

// Decodes every frame in `bytes`, which must be whole DATA frames.
std::vector<Decoded> DecodeAll(std::span<const std::byte> bytes) {
  std::vector<Decoded> out;
  while (!bytes.empty()) {
    const tp::DecodeResult r =
        tp::DecodeFrame(bytes, tp::kMaxFrameLengthCeiling);
    EXPECT_EQ(r.status, tp::DecodeStatus::kFrame)
        << "error " << static_cast<int>(r.error) << " with " << bytes.size()
        << " bytes left";
    if (r.status != tp::DecodeStatus::kFrame) break;
    EXPECT_EQ(r.frame.type(), tp::MessageType::kData);
    const tp::DataView data(r.frame);
    out.push_back({data.sequence().value(), data.timestamp_ns(),
                   data.stream_id().value(),
                   std::string(tp::AsText(data.payload())), r.consumed});
    bytes = bytes.subspan(r.consumed);
  }
  return out;
}

// ---------------------------------------------------------------------------
// MirroredMemory

TEST(MirroredMemoryTest, HalvesAliasTheSameMemory) {
  const std::size_t capacity = 4 * PageSize();
  absl::StatusOr<std::unique_ptr<MirroredMemory>> buffer =
      MirroredMemory::Create(capacity);
  ASSERT_TRUE(buffer.ok()) << buffer.status();
  ASSERT_EQ((*buffer)->capacity(), capacity);
  std::byte* d = (*buffer)->data();

  // A write straddling the end of the first mapping lands at the end of the
  // ring and at its start.
  const char text[] = "ABCDEF";
  std::memcpy(d + capacity - 3, text, 6);
  EXPECT_EQ(std::memcmp(d + 2 * capacity - 3, "ABC", 3), 0);
  EXPECT_EQ(std::memcmp(d, "DEF", 3), 0);

  // A write into the second mapping shows in the first.
  d[capacity + 100] = std::byte{0x5a};
  EXPECT_EQ(d[100], std::byte{0x5a});
  d[7] = std::byte{0x33};
  EXPECT_EQ(d[capacity + 7], std::byte{0x33});
}

TEST(MirroredMemoryTest, AcceptsOnePage) {
  absl::StatusOr<std::unique_ptr<MirroredMemory>> buffer =
      MirroredMemory::Create(PageSize());
  ASSERT_TRUE(buffer.ok()) << buffer.status();
  (*buffer)->data()[0] = std::byte{1};
  EXPECT_EQ((*buffer)->data()[PageSize()], std::byte{1});
}

TEST(MirroredMemoryTest, RejectsBadCapacities) {
  const std::size_t page = PageSize();
  for (std::size_t bad : {std::size_t{0}, std::size_t{1}, page / 2, page + 1,
                          3 * page, 5 * page, std::size_t{1000}}) {
    absl::StatusOr<std::unique_ptr<MirroredMemory>> buffer =
        MirroredMemory::Create(bad);
    ASSERT_FALSE(buffer.ok()) << bad;
    EXPECT_EQ(buffer.status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

// The log reaches its storage only through the LogStorage interface: a
// storage of its own (here: a counting wrapper around mirrored memory)
// serves appends and readers unchanged.
class CountingStorageFactory final : public LogStorageFactory {
 public:
  absl::StatusOr<std::unique_ptr<LogStorage>> Create(
      std::string_view name, std::size_t capacity) override {
    ++created;
    last_name = std::string(name);
    return memory_.Create(name, capacity);
  }
  int created = 0;
  std::string last_name;

 private:
  MirroredMemoryFactory memory_;
};

TEST(StreamLogCreateTest, StorageComesFromTheFactory) {
  CountingStorageFactory storage;
  base::CounterRegistry counters;
  absl::StatusOr<std::unique_ptr<StreamLog>> log = StreamLog::Create(
      kStreamId, "from.factory", Policy(4 * PageSize(), 2 * PageSize()), 256,
      storage, counters);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(storage.created, 1);
  EXPECT_EQ(storage.last_name, "from.factory");
  ASSERT_EQ((*log)->Append(Bytes("abc"), 1).status, AppendStatus::kOk);
  EXPECT_EQ(
      counters.Sum("tachyon_stream_appends_total", "stream", "from.factory"),
      1u);
}

// ---------------------------------------------------------------------------
// Creation

TEST(StreamLogCreateTest, RejectsBadPolicies) {
  const std::size_t page = PageSize();
  struct Case {
    const char* what;
    StreamPolicy policy;
    std::uint32_t max_frame_length;
  };
  const Case cases[] = {
      {"window 0", Policy(4 * page, 0), 256},
      {"window > capacity/2", Policy(4 * page, 2 * page + 8), 256},
      {"max frame below DATA header", Policy(4 * page, 2 * page), 31},
      {"max frame beyond window", Policy(4 * page, 1024), 1025},
      {"capacity not a power of two", Policy(3 * page, page), 256},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::unique_ptr<StreamLog>> log = StreamLog::Create(
        kStreamId, "bad", c.policy, c.max_frame_length, Storage(), Counters());
    EXPECT_FALSE(log.ok()) << c.what;
    if (!log.ok()) {
      EXPECT_EQ(log.status().code(), absl::StatusCode::kInvalidArgument)
          << c.what << ": " << log.status();
    }
  }
}

TEST(StreamLogCreateTest, ReportsItsConfiguration) {
  auto log = MakeLog(
      Policy(4 * PageSize(), PageSize(), SlowConsumerPolicy::kBackpressure),
      512);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->id(), kStreamId);
  EXPECT_EQ(log->name(), "test.stream");
  EXPECT_EQ(log->capacity(), 4 * PageSize());
  EXPECT_EQ(log->window(), PageSize());
  EXPECT_EQ(log->policy(), SlowConsumerPolicy::kBackpressure);
  EXPECT_EQ(log->tail(), 0u);
  EXPECT_EQ(log->next_sequence(), Sequence{1});
  EXPECT_EQ(log->oldest_sequence(), Sequence{1});
  EXPECT_EQ(log->appended(), 0u);
}

// ---------------------------------------------------------------------------
// Append and frame layout

TEST(StreamLogTest, AppendStampsContiguousSequencesFromOne) {
  auto log = MakeLog(Policy(16 * PageSize(), 8 * PageSize()), 1024);
  ASSERT_NE(log, nullptr);
  std::uint64_t expected_tail = 0;
  for (std::uint64_t i = 0; i < 20; ++i) {
    const std::string payload = PayloadFor(i, i * 5);
    const AppendResult r = log->Append(Bytes(payload), 1000 + i);
    ASSERT_EQ(r.status, AppendStatus::kOk);
    EXPECT_EQ(r.sequence, Sequence{i + 1});
    expected_tail += Padded(payload.size());
    EXPECT_EQ(log->tail(), expected_tail);
  }
  EXPECT_EQ(log->appended(), 20u);
  EXPECT_EQ(log->next_sequence(), Sequence{21});
  EXPECT_EQ(log->oldest_sequence(), Sequence{1});

  const std::vector<Decoded> frames = DecodeAll(log->Readable(0, log->tail()));
  ASSERT_EQ(frames.size(), 20u);
  for (std::uint64_t i = 0; i < 20; ++i) {
    EXPECT_EQ(frames[i].sequence, i + 1);
    EXPECT_EQ(frames[i].timestamp_ns, static_cast<std::int64_t>(1000 + i));
    EXPECT_EQ(frames[i].stream_id, kStreamId.value());
    EXPECT_EQ(frames[i].payload, PayloadFor(i, i * 5));
    EXPECT_EQ(frames[i].consumed, Padded(i * 5));
  }
}

TEST(StreamLogTest, EmptyPayloadIsAHeaderOnlyFrame) {
  auto log = MakeLog(Policy(4 * PageSize(), PageSize()), 256);
  ASSERT_NE(log, nullptr);
  ASSERT_EQ(log->Append({}, -5).status, AppendStatus::kOk);
  EXPECT_EQ(log->tail(), tp::DataView::kFixedLength);
  const std::vector<Decoded> frames = DecodeAll(log->Readable(0, log->tail()));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].sequence, 1u);
  EXPECT_EQ(frames[0].timestamp_ns, -5);
  EXPECT_TRUE(frames[0].payload.empty());
}

TEST(StreamLogTest, RefusesPayloadOverMaxFrameLengthMinusHeader) {
  constexpr std::uint32_t kMaxFrame = 1024;
  auto log = MakeLog(Policy(4 * PageSize(), PageSize()), kMaxFrame);
  ASSERT_NE(log, nullptr);
  const std::string fits(kMaxFrame - tp::DataView::kFixedLength, 'x');
  const std::string too_large(fits.size() + 1, 'x');

  const AppendResult refused = log->Append(Bytes(too_large), 1);
  EXPECT_EQ(refused.status, AppendStatus::kTooLarge);
  EXPECT_EQ(log->tail(), 0u);
  EXPECT_EQ(log->next_sequence(), Sequence{1});
  EXPECT_EQ(log->appended(), 0u);

  const AppendResult ok = log->Append(Bytes(fits), 2);
  ASSERT_EQ(ok.status, AppendStatus::kOk);
  EXPECT_EQ(ok.sequence, Sequence{1});
  EXPECT_EQ(log->tail(), kMaxFrame);
  const std::vector<Decoded> frames = DecodeAll(log->Readable(0, log->tail()));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].payload, fits);
}

// Frames of awkward sizes in a one-page ring: many start near the end of the
// ring and continue at its start, yet each is one contiguous decodable span.
TEST(StreamLogTest, FramesWrappingTheRingEndAreContiguous) {
  const std::size_t capacity = PageSize();
  auto log = MakeLog(Policy(capacity, capacity / 2), 512);
  ASSERT_NE(log, nullptr);
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::size_t> size(0, 480);
  int wrapped = 0;
  for (std::uint64_t i = 0; i < 2000; ++i) {
    const std::string payload = PayloadFor(i, size(rng));
    const std::uint64_t position = log->tail();
    const AppendResult r =
        log->Append(Bytes(payload), static_cast<std::int64_t>(i));
    ASSERT_EQ(r.status, AppendStatus::kOk);
    ASSERT_EQ(r.sequence, Sequence{i + 1});
    const std::uint64_t tail = log->tail();
    ASSERT_EQ(tail - position, Padded(payload.size()));
    if ((position % capacity) + (tail - position) > capacity) ++wrapped;
    ASSERT_FALSE(log->Lapped(position, tail));
    const std::vector<Decoded> frames =
        DecodeAll(log->Readable(position, tail));
    ASSERT_EQ(frames.size(), 1u) << "frame " << i;
    EXPECT_EQ(frames[0].sequence, i + 1);
    EXPECT_EQ(frames[0].timestamp_ns, static_cast<std::int64_t>(i));
    EXPECT_EQ(frames[0].payload, payload);
  }
  EXPECT_GT(wrapped, 10) << "the sizes chosen no longer exercise wrapping";

  // Everything still retained reads back as one run of contiguous frames.
  ReaderSlot slot;
  const StartPoint sp =
      log->Attach(&slot, tp::StartMode::kEarliest, Sequence{});
  const std::vector<Decoded> frames =
      DecodeAll(log->Readable(sp.position, sp.tail));
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.front().sequence, sp.next_sequence.value());
  EXPECT_EQ(frames.back().sequence, 2000u);
  for (std::size_t k = 1; k < frames.size(); ++k) {
    EXPECT_EQ(frames[k].sequence, frames[k - 1].sequence + 1);
  }
  log->Detach(&slot);
}

// ---------------------------------------------------------------------------
// Retention and replay against a model

// Which frames a ring of `capacity` bytes still holds, computed only from
// where each frame was put: frame k lies at [pos, pos + padded); it is
// retained while it lies wholly within the last `capacity` bytes.
class RetentionModel {
 public:
  explicit RetentionModel(std::uint64_t capacity) : capacity_(capacity) {}

  void Add(std::uint64_t position, std::uint64_t padded) {
    frames_.push_back({position, padded});
    tail_ = position + padded;
  }
  // Sequence of the oldest retained frame (next sequence if none).
  std::uint64_t OldestSequence() const {
    for (std::size_t k = 0; k < frames_.size(); ++k) {
      if (Retained(k)) return k + 1;
    }
    return frames_.size() + 1;
  }
  // Sequence of the oldest frame a replay may start at: retained and no
  // more than capacity - window behind the tail (next sequence if none).
  std::uint64_t ReplayableSequence(std::uint64_t window) const {
    const std::uint64_t floor =
        tail_ > capacity_ - window ? tail_ - (capacity_ - window) : 0;
    for (std::size_t k = 0; k < frames_.size(); ++k) {
      if (Retained(k) && frames_[k].position >= floor) return k + 1;
    }
    return frames_.size() + 1;
  }
  bool Retained(std::size_t k) const {
    const std::uint64_t from = tail_ > capacity_ ? tail_ - capacity_ : 0;
    return frames_[k].position >= from &&
           frames_[k].position + frames_[k].padded <= tail_;
  }
  std::uint64_t PositionOf(std::uint64_t sequence) const {
    return frames_[sequence - 1].position;
  }
  std::uint64_t next_sequence() const { return frames_.size() + 1; }

 private:
  struct Frame {
    std::uint64_t position;
    std::uint64_t padded;
  };
  std::uint64_t capacity_;
  std::uint64_t tail_ = 0;
  std::vector<Frame> frames_;
};

TEST(StreamLogTest, OldestSequenceFollowsTheRingAsItLaps) {
  const std::size_t capacity = PageSize();
  auto log = MakeLog(Policy(capacity, capacity / 2), 1024);
  ASSERT_NE(log, nullptr);
  RetentionModel model(capacity);
  std::mt19937_64 rng(7);
  // Mostly small frames (so the index's capacity/32 entries get used to the
  // full), with occasional large ones that retire many small ones at once.
  std::uniform_int_distribution<int> kind(0, 9);
  std::uniform_int_distribution<std::size_t> small(0, 24);
  std::uniform_int_distribution<std::size_t> large(100, 992);
  for (std::uint64_t i = 0; i < 5000; ++i) {
    const std::size_t n = kind(rng) == 0 ? large(rng) : small(rng);
    const std::string payload = PayloadFor(i, n);
    const std::uint64_t position = log->tail();
    ASSERT_EQ(log->Append(Bytes(payload), 0).status, AppendStatus::kOk);
    model.Add(position, Padded(n));
    ASSERT_EQ(log->oldest_sequence().value(), model.OldestSequence())
        << "after append " << i + 1;
    ASSERT_EQ(log->next_sequence().value(), model.next_sequence());

    if (i % 97 == 0) {
      // Replay start points agree with the model too.
      ReaderSlot slot;
      const StartPoint earliest =
          log->Attach(&slot, tp::StartMode::kEarliest, Sequence{});
      log->Detach(&slot);
      const std::uint64_t replayable = model.ReplayableSequence(capacity / 2);
      EXPECT_EQ(earliest.next_sequence.value(), replayable);
      EXPECT_EQ(earliest.position, model.PositionOf(replayable));
      EXPECT_EQ(slot.Get(), earliest.position);
      std::uniform_int_distribution<std::uint64_t> seq(
          replayable, model.next_sequence() - 1);
      const std::uint64_t s = seq(rng);
      const StartPoint at =
          log->Attach(&slot, tp::StartMode::kSequence, Sequence{s});
      log->Detach(&slot);
      EXPECT_EQ(at.position, model.PositionOf(s));
      EXPECT_EQ(at.next_sequence, Sequence{s});
      EXPECT_EQ(at.gap_from, Sequence{});
      const std::vector<Decoded> frames =
          DecodeAll(log->Readable(at.position, at.tail));
      ASSERT_FALSE(frames.empty());
      EXPECT_EQ(frames.front().sequence, s);
      EXPECT_EQ(frames.back().sequence, model.next_sequence() - 1);
    }
  }
  EXPECT_GT(model.OldestSequence(), 1000u);
}

// A ring filled with nothing but minimum-size frames: the sequence index is
// used to its last entry.
TEST(StreamLogTest, IndexCoversARingFullOfMinimumFrames) {
  const std::size_t capacity = PageSize();
  const std::uint64_t per_ring = capacity / tp::DataView::kFixedLength;
  auto log = MakeLog(Policy(capacity, capacity / 2), 256);
  ASSERT_NE(log, nullptr);
  for (std::uint64_t i = 0; i < 3 * per_ring + 5; ++i) {
    ASSERT_EQ(log->Append({}, 0).status, AppendStatus::kOk);
    const std::uint64_t appended = i + 1;
    const std::uint64_t expected_oldest =
        appended > per_ring ? appended - per_ring + 1 : 1;
    ASSERT_EQ(log->oldest_sequence().value(), expected_oldest) << appended;
  }
  ReaderSlot slot;
  const StartPoint sp =
      log->Attach(&slot, tp::StartMode::kEarliest, Sequence{});
  log->Detach(&slot);
  // Replays reach back capacity - window (here half the ring).
  EXPECT_EQ(sp.tail - sp.position, capacity / 2);
  const std::vector<Decoded> frames =
      DecodeAll(log->Readable(sp.position, sp.tail));
  ASSERT_EQ(frames.size(), per_ring / 2);
  EXPECT_EQ(frames.front().sequence, sp.next_sequence.value());
}

class StreamLogAttachTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = MakeLog(Policy(PageSize(), PageSize() / 2), 256);
    ASSERT_NE(log_, nullptr);
  }
  // Appends `count` frames of 32-byte payloads (64 bytes each).
  void AppendFrames(int count) {
    for (int i = 0; i < count; ++i) {
      positions_.push_back(log_->tail());
      ASSERT_EQ(log_->Append(Bytes(PayloadFor(i, 32)), i).status,
                AppendStatus::kOk);
    }
  }
  std::uint64_t PositionOf(std::uint64_t sequence) const {
    return positions_[sequence - 1];
  }

  std::unique_ptr<StreamLog> log_;
  std::vector<std::uint64_t> positions_;
  ReaderSlot slot_;
};

TEST_F(StreamLogAttachTest, EmptyLogStartsAtZeroInEveryMode) {
  for (tp::StartMode mode : {tp::StartMode::kLatest, tp::StartMode::kEarliest,
                             tp::StartMode::kSequence}) {
    const StartPoint sp = log_->Attach(&slot_, mode, Sequence{1});
    log_->Detach(&slot_);
    EXPECT_EQ(sp.position, 0u);
    EXPECT_EQ(sp.tail, 0u);
    EXPECT_EQ(sp.next_sequence, Sequence{1});
    EXPECT_EQ(sp.gap_from, Sequence{});
  }
}

TEST_F(StreamLogAttachTest, LatestStartsAtTheTail) {
  AppendFrames(10);
  const StartPoint sp =
      log_->Attach(&slot_, tp::StartMode::kLatest, Sequence{});
  EXPECT_EQ(sp.position, log_->tail());
  EXPECT_EQ(sp.tail, log_->tail());
  EXPECT_EQ(sp.next_sequence, Sequence{11});
  EXPECT_EQ(sp.gap_from, Sequence{});
  EXPECT_EQ(slot_.Get(), sp.position);
  log_->Detach(&slot_);
}

// Replays reach back at most capacity - window (here half the 4 KiB ring),
// so a replaying reader always has a window of room before it is lapped.
TEST_F(StreamLogAttachTest, EarliestStartsAtTheOldestReplayableFrame) {
  AppendFrames(10);
  StartPoint sp = log_->Attach(&slot_, tp::StartMode::kEarliest, Sequence{});
  log_->Detach(&slot_);
  EXPECT_EQ(sp.position, 0u);
  EXPECT_EQ(sp.next_sequence, Sequence{1});

  // 64 frames of 64 bytes fill a 4 KiB ring; replays reach the last 32.
  const std::uint64_t per_ring = PageSize() / 64;
  AppendFrames(static_cast<int>(per_ring + 26));
  const std::uint64_t appended = per_ring + 36;
  sp = log_->Attach(&slot_, tp::StartMode::kEarliest, Sequence{});
  log_->Detach(&slot_);
  EXPECT_EQ(sp.next_sequence, Sequence{appended - per_ring / 2 + 1});
  EXPECT_EQ(sp.position, PositionOf(appended - per_ring / 2 + 1));
  EXPECT_EQ(sp.tail - sp.position, PageSize() / 2);
  EXPECT_EQ(sp.gap_from, Sequence{});
}

TEST_F(StreamLogAttachTest, SequenceInsideTheRetainedRange) {
  AppendFrames(10);
  const StartPoint sp =
      log_->Attach(&slot_, tp::StartMode::kSequence, Sequence{4});
  log_->Detach(&slot_);
  EXPECT_EQ(sp.position, PositionOf(4));
  EXPECT_EQ(sp.next_sequence, Sequence{4});
  EXPECT_EQ(sp.gap_from, Sequence{});
  EXPECT_EQ(sp.gap_to, Sequence{});
  const std::vector<Decoded> frames =
      DecodeAll(log_->Readable(sp.position, sp.tail));
  ASSERT_EQ(frames.size(), 7u);
  EXPECT_EQ(frames.front().sequence, 4u);
}

TEST_F(StreamLogAttachTest, SequenceBeyondTheEndStartsAtLatest) {
  AppendFrames(10);
  for (std::uint64_t s : {11u, 12u, 1000u}) {
    const StartPoint sp =
        log_->Attach(&slot_, tp::StartMode::kSequence, Sequence{s});
    log_->Detach(&slot_);
    EXPECT_EQ(sp.position, log_->tail()) << s;
    EXPECT_EQ(sp.next_sequence, Sequence{11}) << s;
    EXPECT_EQ(sp.gap_from, Sequence{}) << s;
  }
}

TEST_F(StreamLogAttachTest, SequenceOlderThanRetainedReportsAGap) {
  const std::uint64_t per_ring = PageSize() / 64;
  AppendFrames(static_cast<int>(per_ring + 20));
  ASSERT_EQ(log_->oldest_sequence().value(), 21u);
  // Retained from 21, but replays reach back only half the ring.
  const std::uint64_t oldest = per_ring + 20 - per_ring / 2 + 1;
  const StartPoint sp =
      log_->Attach(&slot_, tp::StartMode::kSequence, Sequence{5});
  log_->Detach(&slot_);
  EXPECT_EQ(sp.gap_from, Sequence{5});
  EXPECT_EQ(sp.gap_to, Sequence{oldest - 1});
  EXPECT_EQ(sp.next_sequence, Sequence{oldest});
  EXPECT_EQ(sp.position, PositionOf(oldest));
  const std::vector<Decoded> frames =
      DecodeAll(log_->Readable(sp.position, sp.tail));
  ASSERT_EQ(frames.size(), per_ring / 2);
  EXPECT_EQ(frames.front().sequence, oldest);
}

// ---------------------------------------------------------------------------
// Lapping

TEST(StreamLogTest, LappedMarksTheExactBoundary) {
  const std::size_t capacity = PageSize();
  auto log = MakeLog(Policy(capacity, capacity / 2), 256);
  ASSERT_NE(log, nullptr);
  const std::string payload(32, 'p');  // 64-byte frames
  const std::uint64_t per_ring = capacity / 64;
  for (std::uint64_t i = 0; i < per_ring; ++i) {
    ASSERT_EQ(log->Append(Bytes(payload), 0).status, AppendStatus::kOk);
  }
  // Exactly one ring's worth after position 0: still intact.
  ASSERT_EQ(log->tail(), capacity);
  EXPECT_FALSE(log->Lapped(0, log->tail()));
  EXPECT_EQ(log->Readable(0, log->tail()).size(), capacity);

  ASSERT_EQ(log->Append(Bytes(payload), 0).status, AppendStatus::kOk);
  // The frame at 0 has been overwritten by the one at `capacity`; the one at
  // 64 has not.
  EXPECT_TRUE(log->Lapped(0, log->tail()));
  EXPECT_FALSE(log->Lapped(64, log->tail()));
  EXPECT_EQ(log->oldest_sequence(), Sequence{2});
}

// ---------------------------------------------------------------------------
// Pins

// A reader handing bytes to the kernel pins them; an append that would
// overwrite them is refused (on a disconnect stream too), the bytes stay
// intact, and once the pin is released the writer laps them as usual.
TEST(StreamLogTest, PinnedBytesAreNeverOverwritten) {
  const std::size_t capacity = 4 * PageSize();
  auto log = MakeLog(Policy(capacity, capacity / 2), 256);
  ASSERT_NE(log, nullptr);
  ReaderSlot reader;
  ASSERT_TRUE(log->AttachPinOnly(&reader));
  const std::string payload(32, 'p');                         // 64-byte frames
  const std::string first = "first!" + std::string(26, '-');  // 64 bytes
  ASSERT_EQ(log->Append(Bytes(first), 0).status, AppendStatus::kOk);
  reader.Pin(0);
  ASSERT_TRUE(log->PinHolds(0));
  const std::vector<std::byte> before(log->Readable(0, 64).begin(),
                                      log->Readable(0, 64).end());
  // Fill the ring up to the pinned frame: every append fits.
  while (log->tail() + 64 <= capacity) {
    ASSERT_EQ(log->Append(Bytes(payload), 0).status, AppendStatus::kOk);
  }
  // The next frame would overwrite position 0.
  EXPECT_EQ(log->Append(Bytes(payload), 0).status,
            AppendStatus::kBackPressured);
  EXPECT_EQ(log->Append(Bytes(payload), 0).status,
            AppendStatus::kBackPressured);
  EXPECT_EQ(log->pin_refusals(), 2u);
  EXPECT_EQ(log->back_pressured(), 0u);
  EXPECT_EQ(log->tail(), capacity);
  const std::span<const std::byte> after = log->Readable(0, 64);
  EXPECT_TRUE(std::equal(after.begin(), after.end(), before.begin()));
  EXPECT_EQ(DecodeAll(log->Readable(0, 64)).front().payload, first);

  reader.Unpin();
  EXPECT_EQ(log->Append(Bytes(payload), 0).status, AppendStatus::kOk);
  EXPECT_TRUE(log->Lapped(0, log->tail()));
  log->Detach(&reader);
}

// A pin closer to being overwritten than the pin margin does not hold: the
// reader must treat those bytes as lost.
TEST(StreamLogTest, PinHoldsRefusesBytesAboutToBeOverwritten) {
  const std::size_t capacity = 4 * PageSize();
  auto log = MakeLog(Policy(capacity, capacity / 2), 256);
  ASSERT_NE(log, nullptr);
  const std::string payload(32, 'p');
  while (log->tail() < capacity) {
    ASSERT_EQ(log->Append(Bytes(payload), 0).status, AppendStatus::kOk);
  }
  const std::uint64_t margin = log->pin_margin();
  ASSERT_GT(margin, 0u);
  EXPECT_FALSE(log->PinHolds(0));
  EXPECT_FALSE(log->PinHolds(margin - 64));
  EXPECT_TRUE(log->PinHolds(margin));
  EXPECT_TRUE(log->PinHolds(log->tail()));
}

// Regression: a window smaller than 64 KiB (allowed down to two frames)
// must not leave replays that start capacity - window back unable to pin.
TEST(StreamLogTest, AReplayFromTheEarliestFrameCanPinWithASmallWindow) {
  auto log = MakeLog(Policy(64 * 1024, 8 * 1024), 2112);
  ASSERT_NE(log, nullptr);
  EXPECT_LE(log->pin_margin(), log->window() / 2);
  const std::string payload(32, 'p');
  for (int i = 0; i < 70 * 1024 / 64; ++i) {
    ASSERT_EQ(log->Append(Bytes(payload), 0).status, AppendStatus::kOk);
  }
  ReaderSlot slot;
  const StartPoint sp = log->Attach(&slot, tp::StartMode::kEarliest, {});
  EXPECT_GT(sp.tail - sp.position, log->capacity() / 2);
  slot.Pin(sp.position);
  EXPECT_TRUE(log->PinHolds(sp.position));
  slot.Unpin();
  log->Detach(&slot);
}

// A writer laps a small ring as fast as it can while a reader pins frames
// near the tail, holds them a while and checks every byte: no pinned frame
// is ever torn, and the writer keeps going (refused only while a pin
// blocks it). TSan checks the hand-off (label concurrency).
TEST(StreamLogTest, PinnedReadersNeverSeeTornFramesWhileTheWriterLaps) {
  const std::size_t capacity = 4 * PageSize();
  auto log = MakeLog(Policy(capacity, capacity / 2), 256);
  ASSERT_NE(log, nullptr);
  constexpr std::uint64_t kFrame = 64;  // 32 header + 32 payload
  auto payload_for = [](std::uint64_t sequence) {
    std::string p(32, '\0');
    for (std::size_t i = 0; i < p.size(); ++i) {
      p[i] = static_cast<char>((sequence * 131 + i) & 0xff);
    }
    return p;
  };
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> refusals{0};
  std::thread writer([&] {
    for (std::uint64_t seq = 1; !stop.load(std::memory_order_relaxed);) {
      const std::string p = payload_for(seq);
      if (log->Append(Bytes(p), 0).status == AppendStatus::kOk) {
        ++seq;
      } else {
        refusals.fetch_add(1, std::memory_order_relaxed);
        std::this_thread::yield();
      }
    }
  });
  ReaderSlot reader;
  ASSERT_TRUE(log->AttachPinOnly(&reader));
  std::uint64_t verified = 0;
  std::uint64_t torn = 0;
  std::uint64_t not_held = 0;
  std::mt19937_64 random(7);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  // Start once the writer has lapped the ring at least once.
  while (log->tail() < 2 * capacity &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  for (int i = 0; i < 20000 && std::chrono::steady_clock::now() < deadline;
       ++i) {
    const std::uint64_t tail = log->tail();
    const std::uint64_t back = (random() % (capacity / kFrame)) * kFrame % tail;
    const std::uint64_t p = tail - kFrame - back;
    reader.Pin(p);
    if (!log->PinHolds(p)) {
      reader.Unpin();
      ++not_held;
      continue;
    }
    // Give the writer time to try to reach the pinned frame.
    for (int y = 0; y < 4; ++y) std::this_thread::yield();
    std::array<std::byte, kFrame> copy;
    const std::span<const std::byte> bytes = log->Readable(p, p + kFrame);
    std::memcpy(copy.data(), bytes.data(), kFrame);
    reader.Unpin();
    const std::uint64_t expected_sequence = p / kFrame + 1;
    const tp::DecodeResult r = tp::DecodeFrame(copy, 256);
    bool intact = r.status == tp::DecodeStatus::kFrame &&
                  r.frame.type() == tp::MessageType::kData;
    if (intact) {
      const tp::DataView data(r.frame);
      const std::span<const std::byte> got = data.payload();
      const std::string want = payload_for(expected_sequence);
      intact = data.sequence().value() == expected_sequence &&
               got.size() == want.size() &&
               std::memcmp(got.data(), want.data(), want.size()) == 0;
    }
    if (intact) {
      ++verified;
    } else {
      ++torn;
    }
  }
  stop.store(true);
  writer.join();
  log->Detach(&reader);
  EXPECT_EQ(torn, 0u);
  EXPECT_GT(verified, 1000u);
  EXPECT_GT(log->tail(), 10 * capacity) << "the writer did not lap the ring";
  EXPECT_EQ(log->pin_refusals(), refusals.load());
}

// ---------------------------------------------------------------------------
// Slow-consumer policies

TEST(StreamLogTest, BackpressureRefusesAppendsPastTheSlowestReaderWindow) {
  const std::size_t capacity = 4 * PageSize();
  const std::size_t window = 1024;
  auto log =
      MakeLog(Policy(capacity, window, SlowConsumerPolicy::kBackpressure), 256);
  ASSERT_NE(log, nullptr);
  const std::string payload(32, 'b');  // 64-byte frames
  ReaderSlot reader;
  const StartPoint sp =
      log->Attach(&reader, tp::StartMode::kLatest, Sequence{});
  ASSERT_EQ(sp.position, 0u);

  // Up to reader + window is fine.
  for (std::size_t i = 0; i < window / 64; ++i) {
    ASSERT_EQ(log->Append(Bytes(payload), 0).status, AppendStatus::kOk) << i;
  }
  ASSERT_EQ(log->tail(), window);
  const AppendResult refused = log->Append(Bytes(payload), 0);
  EXPECT_EQ(refused.status, AppendStatus::kBackPressured);
  EXPECT_EQ(log->back_pressured(), 1u);
  EXPECT_EQ(log->tail(), window);
  EXPECT_EQ(log->next_sequence(), Sequence{window / 64 + 1});
  // A smaller frame is refused too: any growth passes the limit.
  EXPECT_EQ(log->Append({}, 0).status, AppendStatus::kBackPressured);
  EXPECT_EQ(log->back_pressured(), 2u);

  // The reader sends two frames; exactly two more fit.
  reader.Set(128);
  EXPECT_EQ(log->Append(Bytes(payload), 0).status, AppendStatus::kOk);
  EXPECT_EQ(log->Append(Bytes(payload), 0).status, AppendStatus::kOk);
  EXPECT_EQ(log->Append(Bytes(payload), 0).status,
            AppendStatus::kBackPressured);
  EXPECT_EQ(log->tail(), 128 + window);

  // A second reader further behind would hold the writer back; one at the
  // tail does not change the limit set by the first.
  ReaderSlot second;
  log->Attach(&second, tp::StartMode::kLatest, Sequence{});
  reader.Set(log->tail());
  EXPECT_EQ(log->Append(Bytes(payload), 0).status, AppendStatus::kOk);
  log->Detach(&second);

  // Without readers nothing holds the writer back, well past one ring.
  log->Detach(&reader);
  for (std::size_t i = 0; i < 3 * capacity / 64; ++i) {
    ASSERT_EQ(log->Append(Bytes(payload), 0).status, AppendStatus::kOk) << i;
  }
  EXPECT_EQ(log->back_pressured(), 3u);
}

TEST(StreamLogTest, BackpressureIsSetByTheSlowestOfSeveralReaders) {
  auto log = MakeLog(
      Policy(4 * PageSize(), 1024, SlowConsumerPolicy::kBackpressure), 256);
  ASSERT_NE(log, nullptr);
  const std::string payload(32, 'b');
  ReaderSlot fast;
  ReaderSlot slow;
  log->Attach(&fast, tp::StartMode::kLatest, Sequence{});
  log->Attach(&slow, tp::StartMode::kLatest, Sequence{});
  int appended = 0;
  for (int i = 0; i < 1000; ++i) {
    const AppendResult r = log->Append(Bytes(payload), 0);
    if (r.status != AppendStatus::kOk) break;
    ++appended;
    fast.Set(log->tail());  // keeps up perfectly
  }
  EXPECT_EQ(appended, 1024 / 64);
  slow.Set(512);
  EXPECT_EQ(log->Append(Bytes(payload), 0).status, AppendStatus::kOk);
  // Detaching the slow one leaves the fast one, which is at the tail - 64.
  log->Detach(&slow);
  for (int i = 0; i < 15; ++i) {
    ASSERT_EQ(log->Append(Bytes(payload), 0).status, AppendStatus::kOk) << i;
  }
  EXPECT_EQ(log->Append(Bytes(payload), 0).status,
            AppendStatus::kBackPressured);
  log->Detach(&fast);
}

TEST(StreamLogTest, BackpressureReaderAttachedAtEarliestHoldsTheWriter) {
  auto log = MakeLog(
      Policy(4 * PageSize(), 1024, SlowConsumerPolicy::kBackpressure), 256);
  ASSERT_NE(log, nullptr);
  const std::string payload(32, 'b');
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(log->Append(Bytes(payload), 0).status, AppendStatus::kOk);
  }
  ReaderSlot replay;
  const StartPoint sp =
      log->Attach(&replay, tp::StartMode::kEarliest, Sequence{});
  ASSERT_EQ(sp.position, 0u);
  EXPECT_EQ(log->Append(Bytes(payload), 0).status,
            AppendStatus::kBackPressured);
  replay.Set(sp.tail);
  EXPECT_EQ(log->Append(Bytes(payload), 0).status, AppendStatus::kOk);
  log->Detach(&replay);
}

TEST(StreamLogTest, DisconnectPolicyNeverRefuses) {
  const std::size_t capacity = PageSize();
  auto log = MakeLog(Policy(capacity, capacity / 2), 256);
  ASSERT_NE(log, nullptr);
  ReaderSlot stuck;
  log->Attach(&stuck, tp::StartMode::kLatest, Sequence{});
  const std::string payload(100, 'd');
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(log->Append(Bytes(payload), 0).status, AppendStatus::kOk) << i;
  }
  EXPECT_EQ(log->back_pressured(), 0u);
  // The reader that never moved has been lapped; the writer did not care.
  EXPECT_TRUE(log->Lapped(stuck.Get(), log->tail()));
  log->Detach(&stuck);
}

// ---------------------------------------------------------------------------
// Concurrency (TSan in CI)

// Payload: u32 thread id, u64 per-thread counter, then 0..15 filler bytes
// derived from both, so that torn or misplaced frames are detected.
constexpr std::size_t kTagSize = 12;

std::size_t FillerSize(std::uint32_t thread, std::uint64_t counter) {
  return static_cast<std::size_t>((counter * 7 + thread * 3) % 16);
}

std::size_t MakeTaggedPayload(std::uint32_t thread, std::uint64_t counter,
                              std::byte* out) {
  std::memcpy(out, &thread, 4);
  std::memcpy(out + 4, &counter, 8);
  const std::size_t filler = FillerSize(thread, counter);
  for (std::size_t k = 0; k < filler; ++k) {
    out[kTagSize + k] = static_cast<std::byte>(thread * 31 + counter + k);
  }
  return kTagSize + filler;
}

struct ReaderReport {
  std::uint64_t frames = 0;
  std::uint64_t laps = 0;
  std::uint64_t bad_sequences = 0;
  std::uint64_t bad_payloads = 0;
  std::uint64_t out_of_order = 0;  // a thread's counter not the next expected
  bool timed_out = false;
};

// Walks the log from `start` until `total` frames were read, copying each
// newly committed range out under a pin before decoding it (as a sender
// hands it to the kernel), and publishing progress to `slot` if given (an
// attached reader), else pinning through a pin-only slot of its own.
ReaderReport ReadAll(StreamLog& log, std::uint64_t start, std::uint64_t total,
                     int threads, ReaderSlot* slot,
                     std::chrono::steady_clock::time_point deadline) {
  ReaderReport report;
  ReaderSlot own;
  struct PinOnly {
    StreamLog& log;
    ReaderSlot* slot;
    ~PinOnly() {
      if (slot != nullptr) log.Detach(slot);
    }
  } pin_only{log, slot == nullptr ? &own : nullptr};
  if (slot == nullptr) {
    EXPECT_TRUE(log.AttachPinOnly(&own));
  }
  ReaderSlot& pin = slot != nullptr ? *slot : own;
  std::vector<std::byte> scratch(log.capacity());
  std::vector<std::uint64_t> next_counter(threads, 0);
  std::uint64_t cursor = start;
  std::uint64_t next_sequence = 1;
  std::uint64_t idle = 0;
  while (report.frames < total) {
    const std::uint64_t tail = log.tail();
    if (tail == cursor) {
      if ((++idle & 1023) == 0 && std::chrono::steady_clock::now() > deadline) {
        report.timed_out = true;
        break;
      }
      std::this_thread::yield();
      continue;
    }
    pin.Pin(cursor);
    if (log.Lapped(cursor, tail) || !log.PinHolds(cursor)) {
      pin.Unpin();
      ++report.laps;
      break;
    }
    const std::span<const std::byte> bytes = log.Readable(cursor, tail);
    std::memcpy(scratch.data(), bytes.data(), bytes.size());
    pin.Unpin();
    std::span<const std::byte> rest(scratch.data(), bytes.size());
    while (!rest.empty()) {
      const tp::DecodeResult r = tp::DecodeFrame(rest, 1024);
      if (r.status != tp::DecodeStatus::kFrame) {
        ++report.bad_payloads;
        return report;
      }
      const tp::DataView data(r.frame);
      if (data.sequence().value() != next_sequence) ++report.bad_sequences;
      next_sequence = data.sequence().value() + 1;
      const std::span<const std::byte> p = data.payload();
      std::uint32_t thread = 0;
      std::uint64_t counter = 0;
      if (p.size() < kTagSize) {
        ++report.bad_payloads;
      } else {
        std::memcpy(&thread, p.data(), 4);
        std::memcpy(&counter, p.data() + 4, 8);
        std::byte expected[kTagSize + 16];
        if (thread >= static_cast<std::uint32_t>(threads) ||
            p.size() != MakeTaggedPayload(thread, counter, expected) ||
            std::memcmp(p.data(), expected, p.size()) != 0) {
          ++report.bad_payloads;
        } else {
          if (counter != next_counter[thread]) ++report.out_of_order;
          next_counter[thread] = counter + 1;
        }
      }
      ++report.frames;
      rest = rest.subspan(r.consumed);
    }
    cursor = tail;
    if (slot != nullptr) slot->Set(cursor);
  }
  for (int t = 0; t < threads; ++t) {
    if (next_counter[t] != total / threads) ++report.out_of_order;
  }
  return report;
}

struct ConcurrencyCase {
  const char* name;
  SlowConsumerPolicy policy;
  std::size_t capacity;
  std::size_t window;
  std::uint64_t per_thread;
};

std::string CaseName(const ::testing::TestParamInfo<ConcurrencyCase>& c) {
  return c.param.name;
}

class StreamLogConcurrencyTest
    : public ::testing::TestWithParam<ConcurrencyCase> {};

// Three appenders and two lock-free readers. Disconnect case: a 4 MiB ring
// larger than everything appended, so readers are never lapped and never
// read bytes a writer may be overwriting. Backpressure case: a 64 KiB ring
// lapped dozens of times, with readers attached so the writers can never
// overwrite what a reader has not yet published as read.
TEST_P(StreamLogConcurrencyTest, AppendersAndReadersAgreeOnEveryFrame) {
  const ConcurrencyCase& c = GetParam();
  constexpr int kAppenders = 3;
  constexpr int kReaders = 2;
  const std::uint64_t total = kAppenders * c.per_thread;
  const bool back_pressure = c.policy == SlowConsumerPolicy::kBackpressure;
  if (!back_pressure) {
    // Largest frame: 32 + 12 + 15 bytes padded to 64.
    ASSERT_LE(total * 64, c.capacity) << "readers could be lapped";
  }
  auto log = MakeLog(Policy(c.capacity, c.window, c.policy), 1024);
  ASSERT_NE(log, nullptr);

  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::vector<ReaderSlot> slots(kReaders);
  std::vector<ReaderReport> reports(kReaders);
  std::atomic<std::uint64_t> refused{0};
  std::atomic<bool> appender_timed_out{false};
  if (back_pressure) {
    for (ReaderSlot& slot : slots) {
      ASSERT_EQ(
          log->Attach(&slot, tp::StartMode::kEarliest, Sequence{}).position,
          0u);
    }
  }
  std::latch start(kAppenders + kReaders);
  std::vector<std::thread> threads;
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      start.arrive_and_wait();
      reports[r] = ReadAll(*log, 0, total, kAppenders,
                           back_pressure ? &slots[r] : nullptr, deadline);
    });
  }
  for (int t = 0; t < kAppenders; ++t) {
    threads.emplace_back([&, t] {
      std::byte payload[kTagSize + 16];
      const auto thread = static_cast<std::uint32_t>(t);
      start.arrive_and_wait();
      for (std::uint64_t i = 0; i < c.per_thread; ++i) {
        const std::size_t n = MakeTaggedPayload(thread, i, payload);
        for (std::uint64_t attempt = 1;; ++attempt) {
          const AppendResult r = log->Append({payload, n}, 0);
          if (r.status == AppendStatus::kOk) break;
          refused.fetch_add(1, std::memory_order_relaxed);
          if ((attempt & 1023) == 0 &&
              std::chrono::steady_clock::now() > deadline) {
            appender_timed_out.store(true, std::memory_order_relaxed);
            return;
          }
          std::this_thread::yield();
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  if (back_pressure) {
    for (ReaderSlot& slot : slots) log->Detach(&slot);
  }

  EXPECT_FALSE(appender_timed_out.load());
  EXPECT_EQ(log->appended(), total);
  EXPECT_EQ(log->next_sequence(), Sequence{total + 1});
  for (int r = 0; r < kReaders; ++r) {
    SCOPED_TRACE(testing::Message() << "reader " << r);
    EXPECT_FALSE(reports[r].timed_out);
    EXPECT_EQ(reports[r].laps, 0u);
    EXPECT_EQ(reports[r].frames, total);
    EXPECT_EQ(reports[r].bad_sequences, 0u);
    EXPECT_EQ(reports[r].bad_payloads, 0u);
    EXPECT_EQ(reports[r].out_of_order, 0u);
  }
  if (back_pressure) {
    EXPECT_GT(log->tail(), 10 * c.capacity) << "the ring did not lap";
    EXPECT_EQ(log->back_pressured() + log->pin_refusals(), refused.load());
  } else {
    EXPECT_EQ(log->back_pressured(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Policies, StreamLogConcurrencyTest,
    ::testing::Values(ConcurrencyCase{"Disconnect4MiB",
                                      SlowConsumerPolicy::kDisconnect, 4u << 20,
                                      2u << 20, 20000},
                      ConcurrencyCase{"Backpressure64KiB",
                                      SlowConsumerPolicy::kBackpressure,
                                      64u << 10, 32u << 10, 20000}),
    CaseName);

}  // namespace
}  // namespace tachyon::stream
