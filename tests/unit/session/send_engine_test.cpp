// The send engine, its deliveries and the control queue, against a fake
// connection that takes as many bytes per send as a test says and can hold
// a send pending (as io_uring does) and copy its bytes only when the test
// completes it. The partial-send paths, which a real socket reaches only by
// timing, run here deterministically.
#include "session/send_engine.h"

#include <sys/uio.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/counters.h"
#include "gtest/gtest.h"
#include "session/control_queue.h"
#include "session/delivery.h"
#include "stream/mirrored_memory.h"
#include "stream/stream_log.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::session {
namespace {

namespace tp = ::tachyon::protocol;
using Outcome = SendEngine::Outcome;

// A connection whose "socket" takes `budget` bytes per send. Immediate mode
// copies at once (epoll's sendmsg); deferred mode keeps the iovecs and
// copies only in Complete() (a kernel copying after the caller moved on —
// exactly what the engine must survive).
class FakeConnection final : public Transport {
 public:
  enum class Mode { kImmediate, kDeferred };

  explicit FakeConnection(Mode mode) : mode_(mode) {}

  std::size_t budget = std::numeric_limits<std::size_t>::max();
  std::vector<std::byte> wire;
  int sends = 0;

  io::SendResult Send(std::span<const iovec> iov) override {
    ++sends;
    if (mode_ == Mode::kImmediate) {
      return {false, static_cast<ssize_t>(Copy(iov))};
    }
    pending_.assign(iov.begin(), iov.end());
    return {true, 0};
  }

  bool pending() const { return !pending_.empty(); }
  // Deferred mode: the kernel copies now; returns what it took.
  ssize_t Complete() {
    const std::size_t n = Copy(pending_);
    pending_.clear();
    return static_cast<ssize_t>(n);
  }

 private:
  std::size_t Copy(std::span<const iovec> iov) {
    std::size_t n = 0;
    for (const iovec& v : iov) {
      const std::size_t take = std::min(v.iov_len, budget - n);
      const auto* p = static_cast<const std::byte*>(v.iov_base);
      wire.insert(wire.end(), p, p + take);
      n += take;
      if (n == budget) break;
    }
    return n;
  }

  Mode mode_;
  std::vector<iovec> pending_;
};

class Listener final : public SendListener {
 public:
  void OnBytesSent(std::size_t bytes) override { sent += bytes; }
  void OnDeliveryRemoved(Delivery* d) override { removed.push_back(d); }
  void OnReady() override { ++ready; }
  std::size_t sent = 0;
  std::vector<Delivery*> removed;
  int ready = 0;
};

struct WireFrame {
  tp::MessageType type;
  std::uint64_t sequence = 0;  // DATA
  std::string payload;         // DATA
};

// Decodes the whole wire; fails the test on a malformed or cut frame.
std::vector<WireFrame> DecodeWire(std::span<const std::byte> wire) {
  std::vector<WireFrame> out;
  while (!wire.empty()) {
    const tp::DecodeResult r = tp::DecodeFrame(wire, 1 << 16);
    EXPECT_EQ(r.status, tp::DecodeStatus::kFrame)
        << "at byte " << out.size() << " frames in, " << wire.size() << " left";
    if (r.status != tp::DecodeStatus::kFrame) break;
    WireFrame f{r.frame.type()};
    if (f.type == tp::MessageType::kData) {
      const tp::DataView d(r.frame);
      f.sequence = d.sequence().value();
      const auto p = d.payload();
      f.payload.assign(reinterpret_cast<const char*>(p.data()), p.size());
    }
    out.push_back(std::move(f));
    wire = wire.subspan(r.consumed);
  }
  return out;
}

std::string PayloadFor(std::uint64_t sequence, std::size_t size = 40) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    s[i] = static_cast<char>('a' + (sequence * 7 + i) % 26);
  }
  return s;
}

class SendEngineTest : public ::testing::Test {
 protected:
  stream::StreamLog* MakeLog(std::uint32_t id,
                             std::size_t capacity = 64 << 10) {
    config::StreamPolicy policy;
    policy.capacity_bytes = capacity;
    // A window of a quarter leaves room between it and the log's hard lag
    // limit for the lag grace to apply.
    policy.window_bytes = capacity / 4;
    policy.policy = config::SlowConsumerPolicy::kDisconnect;
    auto log = stream::StreamLog::Create(StreamId{id}, "s" + std::to_string(id),
                                         policy, 4096, storage_, counters_);
    EXPECT_TRUE(log.ok()) << log.status();
    logs_.push_back(*std::move(log));
    return logs_.back().get();
  }
  void Append(stream::StreamLog* log, int count) {
    for (int i = 0; i < count; ++i) {
      const std::string p = PayloadFor(log->next_sequence().value());
      ASSERT_EQ(log->Append(tp::AsBytes(p), 1).status,
                stream::AppendStatus::kOk);
    }
  }
  void QueueHeartbeat() {
    std::span<std::byte> out =
        control_.Reserve(tp::HeartbeatView::kFixedLength);
    control_.Commit(tp::EncodeHeartbeat(out, 7));
  }
  // A started delivery of `log` from its start, marked dirty.
  Delivery* Deliver(SendEngine& engine, stream::StreamLog* log) {
    Delivery* d = engine.Add(nullptr, log);
    d->coverage = 1;
    d->Start(tp::StartMode::kEarliest, Sequence{});
    engine.MarkDirty(d);
    return d;
  }
  // Sends until idle or waiting (bounded).
  Outcome Pump(SendEngine& engine, bool data_allowed = true,
               int limit = 100000) {
    Outcome last = Outcome::kIdle;
    for (int i = 0; i < limit; ++i) {
      last = engine.SendOnce(data_allowed, now_).outcome;
      if (last != Outcome::kSent) return last;
    }
    ADD_FAILURE() << "engine never went idle";
    return last;
  }

  // A connection, its engine, and a log of `messages` appended with a
  // delivery from its start.
  struct Rig {
    Rig(FakeConnection::Mode mode, ControlQueue& control, Listener& listener)
        : conn(mode), engine(control, conn, listener) {}
    FakeConnection conn;
    SendEngine engine;
    stream::StreamLog* log = nullptr;
    Delivery* d = nullptr;
  };
  static constexpr std::size_t kUnlimited =
      std::numeric_limits<std::size_t>::max();
  std::unique_ptr<Rig> MakeRig(FakeConnection::Mode mode, std::size_t budget,
                               std::size_t capacity, int messages) {
    auto rig = std::make_unique<Rig>(mode, control_, listener_);
    rig->conn.budget = budget;
    rig->log = MakeLog(1, capacity);
    Append(rig->log, messages);
    rig->d = Deliver(rig->engine, rig->log);
    return rig;
  }

  // The engine's clock (CLOCK_MONOTONIC in the gateway): tests move it.
  std::int64_t now_ = 1'000'000'000;
  stream::MirroredMemoryFactory storage_;
  base::CounterRegistry counters_;
  std::vector<std::unique_ptr<stream::StreamLog>> logs_;
  ControlQueue control_{4096};
  Listener listener_;
};

TEST_F(SendEngineTest, ControlFramesGoFirstThenDataStraightFromTheLog) {
  FakeConnection conn(FakeConnection::Mode::kImmediate);
  SendEngine engine(control_, conn, listener_);
  stream::StreamLog* log = MakeLog(1);
  Append(log, 5);
  QueueHeartbeat();
  Deliver(engine, log);
  EXPECT_EQ(engine.SendOnce(true, now_).outcome, Outcome::kSent);
  EXPECT_EQ(conn.sends, 1);  // one gather list
  EXPECT_EQ(engine.SendOnce(true, now_).outcome, Outcome::kIdle);
  const std::vector<WireFrame> frames = DecodeWire(conn.wire);
  ASSERT_EQ(frames.size(), 6u);
  EXPECT_EQ(frames[0].type, tp::MessageType::kHeartbeat);
  for (std::uint64_t s = 1; s <= 5; ++s) {
    EXPECT_EQ(frames[s].type, tp::MessageType::kData);
    EXPECT_EQ(frames[s].sequence, s);
    EXPECT_EQ(frames[s].payload, PayloadFor(s));
  }
  EXPECT_EQ(listener_.sent, conn.wire.size());
  EXPECT_TRUE(engine.OutputIdle());
  EXPECT_TRUE(engine.CaughtUp());
}

// A socket that takes 13 bytes per send, with control frames queued between
// sends: every send that stops inside a frame is resumed first, so no
// control frame ever lands inside a DATA frame and nothing is lost.
TEST_F(SendEngineTest, PartialSendsNeverInterleaveFrames) {
  FakeConnection conn(FakeConnection::Mode::kImmediate);
  conn.budget = 13;
  SendEngine engine(control_, conn, listener_);
  stream::StreamLog* a = MakeLog(1);
  stream::StreamLog* b = MakeLog(2);
  Delivery* da = Deliver(engine, a);
  Delivery* db = Deliver(engine, b);
  int heartbeats = 0;
  for (int round = 0; round < 40; ++round) {
    Append(a, 3);
    Append(b, 2);
    engine.MarkDirty(da);
    engine.MarkDirty(db);
    QueueHeartbeat();
    ++heartbeats;
    for (int i = 0; i < 5; ++i) {
      ASSERT_NE(engine.SendOnce(true, now_).outcome, Outcome::kFailed);
    }
  }
  ASSERT_NE(Pump(engine), Outcome::kFailed);
  EXPECT_TRUE(engine.CaughtUp());
  std::uint64_t next_a = 1;
  std::uint64_t next_b = 1;
  int seen_heartbeats = 0;
  const std::vector<WireFrame> frames = DecodeWire(conn.wire);
  for (const WireFrame& f : frames) {
    if (f.type == tp::MessageType::kHeartbeat) {
      ++seen_heartbeats;
      continue;
    }
    ASSERT_EQ(f.type, tp::MessageType::kData);
    // Both logs number from 1; payloads tell them apart only by order, so
    // track by which expected sequence matches next.
    if (f.sequence == next_a && f.payload == PayloadFor(next_a)) {
      ++next_a;
    } else {
      ASSERT_EQ(f.sequence, next_b);
      ++next_b;
    }
  }
  EXPECT_EQ(seen_heartbeats, heartbeats);
  EXPECT_EQ(next_a, 121u);
  EXPECT_EQ(next_b, 81u);
  EXPECT_GT(conn.sends, 100);
}

// A new delivery's first bytes wait for the control bytes queued before it
// (its SUBSCRIBE_ACK, a GAP), even when those go out a few bytes at a time.
TEST_F(SendEngineTest, DataWaitsForTheControlBytesThatPrecedeIt) {
  FakeConnection conn(FakeConnection::Mode::kImmediate);
  conn.budget = 5;
  SendEngine engine(control_, conn, listener_);
  stream::StreamLog* log = MakeLog(1);
  Append(log, 2);
  for (int i = 0; i < 3; ++i) QueueHeartbeat();
  Delivery* d = Deliver(engine, log);
  d->ready_after_ctl = control_.queued_total();
  ASSERT_EQ(Pump(engine), Outcome::kIdle);
  const std::vector<WireFrame> frames = DecodeWire(conn.wire);
  ASSERT_EQ(frames.size(), 5u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(frames[i].type, tp::MessageType::kHeartbeat);
  }
  EXPECT_EQ(frames[3].sequence, 1u);
  EXPECT_EQ(frames[4].sequence, 2u);
}

// Only deliveries whose streams grew are looked at: of 1,000 deliveries
// with bytes waiting, the one marked dirty is the only one sent.
TEST_F(SendEngineTest, OnlyDirtyDeliveriesAreSent) {
  FakeConnection conn(FakeConnection::Mode::kImmediate);
  SendEngine engine(control_, conn, listener_);
  std::vector<Delivery*> deliveries;
  for (std::uint32_t id = 1; id <= 1000; ++id) {
    stream::StreamLog* log = MakeLog(id, 16 << 10);
    Delivery* d = engine.Add(nullptr, log);
    d->coverage = 1;
    d->Start(tp::StartMode::kLatest, Sequence{});
    Append(log, 1);
    deliveries.push_back(d);
  }
  engine.MarkDirty(deliveries[617]);
  ASSERT_EQ(Pump(engine), Outcome::kIdle);
  const std::vector<WireFrame> frames = DecodeWire(conn.wire);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(deliveries[617]->position(), deliveries[617]->log()->tail());
  EXPECT_EQ(deliveries[3]->position(), 0u);
  EXPECT_FALSE(engine.CaughtUp());
}

// io_uring-like: the send stays pending and the "kernel" copies only when it
// completes. Meanwhile a publisher laps the ring: the pinned bytes are
// refused to it rather than overwritten, so what the send finally copies
// is intact; after completion the delivery, now lapped, is cut as a slow
// consumer instead of sending garbage.
TEST_F(SendEngineTest, StalledPendingSendKeepsItsBytesWhileTheWriterLaps) {
  const std::size_t capacity = 64 << 10;
  auto rig =
      MakeRig(FakeConnection::Mode::kDeferred, kUnlimited, capacity, 100);
  [[maybe_unused]] auto& [conn, engine, log, d] = *rig;
  ASSERT_EQ(engine.SendOnce(true, now_).outcome, Outcome::kWaiting);
  ASSERT_TRUE(conn.pending());
  // The writer tries to lap the stalled subscriber.
  int appended = 0;
  int refused = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::string p = PayloadFor(log->next_sequence().value());
    if (log->Append(tp::AsBytes(p), 1).status == stream::AppendStatus::kOk) {
      ++appended;
    } else {
      ++refused;
    }
  }
  EXPECT_GT(appended, 0);
  EXPECT_GT(refused, 0);
  EXPECT_EQ(log->pin_refusals(), static_cast<std::uint64_t>(refused));
  EXPECT_LE(log->tail(), capacity);  // stopped short of the pinned frame 1
  // Now the kernel copies: every byte is the frame it was when queued.
  ASSERT_EQ(engine.OnSendComplete(conn.Complete()), Outcome::kSent);
  const std::vector<WireFrame> frames = DecodeWire(conn.wire);
  ASSERT_EQ(frames.size(), 100u);
  for (std::uint64_t s = 1; s <= 100; ++s) {
    EXPECT_EQ(frames[s - 1].sequence, s);
    EXPECT_EQ(frames[s - 1].payload, PayloadFor(s));
  }
  // Unpinned: the writer laps freely now, and the next send finds the
  // delivery too far behind.
  Append(log, 2000);
  const SendEngine::Result r = engine.SendOnce(true, now_);
  EXPECT_EQ(r.outcome, Outcome::kSlow);
  EXPECT_NE(r.lag, Delivery::Lag::kOk);
}

// The same stall with a socket that took part of a frame: the rest is
// resumed from pinned bytes and the frame arrives whole.
TEST_F(SendEngineTest, ResumedFrameComesFromPinnedBytes) {
  const std::size_t capacity = 64 << 10;
  auto rig = MakeRig(FakeConnection::Mode::kDeferred, 100, capacity, 3);
  [[maybe_unused]] auto& [conn, engine, log, d] = *rig;
  ASSERT_EQ(engine.SendOnce(true, now_).outcome, Outcome::kWaiting);
  ASSERT_EQ(engine.OnSendComplete(conn.Complete()), Outcome::kSent);
  EXPECT_EQ(d->position(), 100u);
  EXPECT_EQ(d->frame_start(), 72u);  // the frame it stopped inside
  conn.budget = std::numeric_limits<std::size_t>::max();
  ASSERT_EQ(engine.SendOnce(true, now_).outcome, Outcome::kWaiting);
  // The writer cannot reach the frame being finished.
  for (int i = 0; i < 5000; ++i) {
    const std::string p = PayloadFor(log->next_sequence().value());
    (void)log->Append(tp::AsBytes(p), 1);
  }
  EXPECT_GT(log->pin_refusals(), 0u);
  ASSERT_EQ(engine.OnSendComplete(conn.Complete()), Outcome::kSent);
  // The resumed send finishes the frame it stopped inside (no further).
  const std::vector<WireFrame> frames = DecodeWire(conn.wire);
  ASSERT_EQ(frames.size(), 2u);
  for (std::uint64_t s = 1; s <= 2; ++s) {
    EXPECT_EQ(frames[s - 1].sequence, s);
    EXPECT_EQ(frames[s - 1].payload, PayloadFor(s));
  }
}

// A socket with no room: nothing is written, the engine waits for
// OnWritable, and meanwhile the slow-consumer policy still applies.
TEST_F(SendEngineTest, FullSocketWaitsForWritableAndStillJudgesLag) {
  const std::size_t capacity = 64 << 10;
  auto rig = MakeRig(FakeConnection::Mode::kImmediate, 0, capacity, 1);
  [[maybe_unused]] auto& [conn, engine, log, d] = *rig;
  ASSERT_EQ(engine.SendOnce(true, now_).outcome, Outcome::kWaiting);
  EXPECT_TRUE(engine.busy());
  EXPECT_EQ(engine.CheckWhileBusy(now_).outcome, Outcome::kWaiting);
  // Past the window (capacity / 4) while the socket is full: tolerated
  // for the stream's lag grace (500 ms), then cut.
  Append(log, static_cast<int>(capacity / 2 / 72) + 10);
  engine.MarkDirty(d);
  EXPECT_EQ(engine.CheckWhileBusy(now_).outcome, Outcome::kWaiting);
  now_ += 499'000'000;
  EXPECT_EQ(engine.CheckWhileBusy(now_).outcome, Outcome::kWaiting);
  now_ += 1'000'000;
  const SendEngine::Result r = engine.CheckWhileBusy(now_);
  EXPECT_EQ(r.outcome, Outcome::kSlow);
  EXPECT_EQ(r.delivery, d);
  EXPECT_EQ(r.lag, Delivery::Lag::kTooFar);
  EXPECT_GT(r.lag_bytes, capacity / 2);
  EXPECT_EQ(r.behind_ns, 500'000'000);
  // Further behind than the hard limit: cut at once, grace or not.
  Append(log, static_cast<int>(capacity / 4 / 72));
  EXPECT_GT(log->tail() - d->position(), log->hard_lag_limit());
  EXPECT_EQ(engine.CheckWhileBusy(now_).outcome, Outcome::kSlow);
  // Room again: the engine sends once told.
  engine.OnWritable();
  EXPECT_FALSE(engine.busy());
}

// A burst of several windows, appended before the subscriber could be sent
// anything, is not held against it: it drains it within the grace and is
// never cut, while the lag measured at the first send was past the window.
TEST_F(SendEngineTest, ABurstDrainedWithinTheGraceIsNotASlowConsumer) {
  const std::size_t capacity = 1 << 20;  // window 256 KiB
  auto rig = MakeRig(FakeConnection::Mode::kImmediate, kUnlimited, capacity, 0);
  [[maybe_unused]] auto& [conn, engine, log, d] = *rig;
  ASSERT_NE(Pump(engine), Outcome::kSlow);
  // 1.7 windows at once, then the socket takes 64 KiB per send opportunity,
  // 10 ms apart: it drains the burst in 140 ms, inside the 500 ms grace.
  Append(log, static_cast<int>(log->window() * 17 / 10 / 72));
  engine.MarkDirty(d);
  conn.budget = 64 << 10;
  for (int i = 0; i < 1000 && !engine.CaughtUp(); ++i) {
    const SendEngine::Result r = engine.SendOnce(true, now_);
    ASSERT_NE(r.outcome, Outcome::kSlow) << "cut after " << i << " sends";
    engine.MarkDirty(d);
    now_ += 10'000'000;
  }
  EXPECT_TRUE(engine.CaughtUp());
}

// An unsubscribed delivery whose frame is half sent finishes that frame and
// nothing more, then goes away; a restart scheduled meanwhile moves it to
// the new start instead.
TEST_F(SendEngineTest, RemovedDeliveryFinishesOnlyItsFrameThenGoes) {
  auto rig = MakeRig(FakeConnection::Mode::kImmediate, 100, 64 << 10, 10);
  [[maybe_unused]] auto& [conn, engine, log, d] = *rig;
  ASSERT_EQ(engine.SendOnce(true, now_).outcome, Outcome::kSent);
  ASSERT_TRUE(engine.References(d));  // stopped inside frame 2
  engine.Retire(d);
  conn.budget = std::numeric_limits<std::size_t>::max();
  ASSERT_EQ(Pump(engine), Outcome::kIdle);
  const std::vector<WireFrame> frames = DecodeWire(conn.wire);
  ASSERT_EQ(frames.size(), 2u);  // frame 1 and the rest of frame 2 only
  ASSERT_EQ(listener_.removed.size(), 1u);
  EXPECT_EQ(listener_.removed[0], d);
  EXPECT_EQ(engine.Find(log->id()), nullptr);
}

TEST_F(SendEngineTest, RestartedDeliveryMovesToItsNewStart) {
  auto rig = MakeRig(FakeConnection::Mode::kImmediate, 100, 64 << 10, 10);
  [[maybe_unused]] auto& [conn, engine, log, d] = *rig;
  ASSERT_EQ(engine.SendOnce(true, now_).outcome, Outcome::kSent);
  engine.Retire(d);
  // Subscribed again from sequence 8 while frame 2 is half sent.
  d->ScheduleRestart(log->Locate(tp::StartMode::kSequence, Sequence{8}),
                     control_.queued_total());
  conn.budget = std::numeric_limits<std::size_t>::max();
  ASSERT_EQ(Pump(engine), Outcome::kIdle);
  EXPECT_EQ(listener_.ready, 1);
  EXPECT_TRUE(listener_.removed.empty());
  const std::vector<WireFrame> frames = DecodeWire(conn.wire);
  ASSERT_EQ(frames.size(), 5u);
  EXPECT_EQ(frames[0].sequence, 1u);
  EXPECT_EQ(frames[1].sequence, 2u);
  EXPECT_EQ(frames[2].sequence, 8u);
  EXPECT_EQ(frames[4].sequence, 10u);
}

// A session that closes with a frame half on the wire finishes that frame
// from a copy, so its final frames follow it even after the writer laps the
// ring (no log bytes are read any more).
TEST_F(SendEngineTest, StopDataFinishesAHalfSentFrameFromACopy) {
  const std::size_t capacity = 64 << 10;
  auto rig = MakeRig(FakeConnection::Mode::kImmediate, 100, capacity, 3);
  [[maybe_unused]] auto& [conn, engine, log, d] = *rig;
  ASSERT_EQ(engine.SendOnce(true, now_).outcome, Outcome::kSent);
  ASSERT_TRUE(engine.StopData());
  QueueHeartbeat();   // the final frame, queued after the stop
  Append(log, 3000);  // laps the ring: frame 2 is gone from the log
  ASSERT_TRUE(log->Lapped(0, log->tail()));
  conn.budget = std::numeric_limits<std::size_t>::max();
  ASSERT_EQ(Pump(engine, /*data_allowed=*/false), Outcome::kIdle);
  const std::vector<WireFrame> frames = DecodeWire(conn.wire);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].sequence, 1u);
  EXPECT_EQ(frames[1].sequence, 2u);
  EXPECT_EQ(frames[1].payload, PayloadFor(2));
  EXPECT_EQ(frames[2].type, tp::MessageType::kHeartbeat);
}

// The same with the send still pending when the session stops: the copy is
// made when it completes, while its bytes are still pinned.
TEST_F(SendEngineTest, StopDataDuringAPendingSendCopiesOnCompletion) {
  const std::size_t capacity = 64 << 10;
  auto rig = MakeRig(FakeConnection::Mode::kDeferred, 100, capacity, 3);
  [[maybe_unused]] auto& [conn, engine, log, d] = *rig;
  ASSERT_EQ(engine.SendOnce(true, now_).outcome, Outcome::kWaiting);
  ASSERT_TRUE(engine.StopData());
  QueueHeartbeat();
  ASSERT_EQ(engine.OnSendComplete(conn.Complete()), Outcome::kSent);
  Append(log, 3000);
  conn.budget = std::numeric_limits<std::size_t>::max();
  for (int i = 0;
       i < 10 && engine.SendOnce(false, now_).outcome == Outcome::kWaiting;
       ++i) {
    ASSERT_EQ(engine.OnSendComplete(conn.Complete()), Outcome::kSent);
  }
  const std::vector<WireFrame> frames = DecodeWire(conn.wire);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[1].sequence, 2u);
  EXPECT_EQ(frames[1].payload, PayloadFor(2));
  EXPECT_EQ(frames[2].type, tp::MessageType::kHeartbeat);
}

TEST_F(SendEngineTest, StopDataFailsWhenTheHalfSentFrameIsAlreadyGone) {
  auto rig = MakeRig(FakeConnection::Mode::kImmediate, 100, 64 << 10, 3);
  [[maybe_unused]] auto& [conn, engine, log, d] = *rig;
  ASSERT_EQ(engine.SendOnce(true, now_).outcome, Outcome::kSent);
  Append(log, 3000);  // lapped before the stop
  EXPECT_FALSE(engine.StopData());
}

// Regression: the session stops while the send resuming a half-sent frame
// is pending, and that send then finds the socket full (io_uring with
// MSG_DONTWAIT completes with 0). The frame is finished from a copy made
// then, under its pin: no log bytes appended after the stop go out, and a
// writer lapping the ring meanwhile cannot keep the final frame from going.
TEST_F(SendEngineTest, StopDataThenAFullSocketStillFinishesFromACopy) {
  for (const int later : {5, 3000}) {  // appended after the stop; 3000 laps
    SCOPED_TRACE(later);
    ControlQueue control(4096);
    FakeConnection conn(FakeConnection::Mode::kDeferred);
    conn.budget = 100;
    SendEngine engine(control, conn, listener_);
    stream::StreamLog* log = MakeLog(static_cast<std::uint32_t>(later));
    Append(log, 3);
    Deliver(engine, log);
    ASSERT_EQ(engine.SendOnce(true, now_).outcome, Outcome::kWaiting);
    ASSERT_EQ(engine.OnSendComplete(conn.Complete()), Outcome::kSent);
    ASSERT_EQ(engine.SendOnce(true, now_).outcome,
              Outcome::kWaiting);  // resume
    ASSERT_TRUE(engine.StopData());
    std::span<std::byte> out = control.Reserve(tp::HeartbeatView::kFixedLength);
    control.Commit(tp::EncodeHeartbeat(out, 7));
    conn.budget = 0;
    ASSERT_EQ(engine.OnSendComplete(conn.Complete()), Outcome::kWaiting);
    engine.OnWritable();
    Append(log, later);
    conn.budget = kUnlimited;
    for (int i = 0; i < 10; ++i) {
      const SendEngine::Result r = engine.SendOnce(false, now_);
      ASSERT_NE(r.outcome, Outcome::kSlow);
      if (r.outcome != Outcome::kWaiting) break;
      ASSERT_EQ(engine.OnSendComplete(conn.Complete()), Outcome::kSent);
    }
    const std::vector<WireFrame> frames = DecodeWire(conn.wire);
    ASSERT_EQ(frames.size(), 3u);
    EXPECT_EQ(frames[1].sequence, 2u);
    EXPECT_EQ(frames[1].payload, PayloadFor(2));
    EXPECT_EQ(frames[2].type, tp::MessageType::kHeartbeat);
  }
}

// Regression: a send that ends exactly at the end of one source leaves the
// next delivery with nothing sent, on a frame boundary: nothing is half
// sent, so a later lap of that stream does not stop the session's final
// frames.
TEST_F(SendEngineTest, ASourceThatGotNothingIsNotHalfSent) {
  FakeConnection conn(FakeConnection::Mode::kImmediate);
  SendEngine engine(control_, conn, listener_);
  stream::StreamLog* a = MakeLog(1);
  stream::StreamLog* b = MakeLog(2);
  Append(a, 1);
  Append(b, 1);
  Deliver(engine, a);
  Delivery* db = Deliver(engine, b);
  conn.budget = a->tail();  // exactly a's bytes
  ASSERT_EQ(engine.SendOnce(true, now_).outcome, Outcome::kSent);
  EXPECT_FALSE(engine.References(db));
  Append(b, 3000);
  EXPECT_TRUE(engine.StopData());
}

// A socket that takes less than one stream's backlog per send: a send that
// stops inside a stream's frame resumes only to the end of that frame, so
// the other busy stream gets its share of every later send instead of
// waiting for the first one's whole backlog (and, under backpressure, being
// judged stalled although the client reads at full speed).
TEST_F(SendEngineTest, TwoBusyStreamsShareASocketThatTakesLessThanEither) {
  stream::StreamLog* a = MakeLog(1);
  stream::StreamLog* b = MakeLog(2);
  Append(a, 200);  // 14 KiB each, 72-byte frames
  Append(b, 200);
  FakeConnection conn(FakeConnection::Mode::kImmediate);
  SendEngine engine(control_, conn, listener_);
  Delivery* da = Deliver(engine, a);
  Delivery* db = Deliver(engine, b);
  const std::uint64_t a0 = da->position();
  const std::uint64_t b0 = db->position();
  conn.budget = 1000;  // stops inside a frame of whichever comes first
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(engine.SendOnce(true, now_).outcome, Outcome::kSent);
  }
  EXPECT_GT(da->position() - a0, 1000u);
  EXPECT_GT(db->position() - b0, 1000u)
      << "stream 2 starved while stream 1's backlog went first";
  // And nothing is lost or cut: every frame of both, whole, in order.
  conn.budget = kUnlimited;
  ASSERT_EQ(Pump(engine), Outcome::kIdle);
  const std::vector<WireFrame> frames = DecodeWire(conn.wire);
  EXPECT_EQ(frames.size(), 400u);
  for (const WireFrame& f : frames) {
    ASSERT_EQ(f.type, tp::MessageType::kData);
    ASSERT_EQ(f.payload, PayloadFor(f.sequence));
  }
  EXPECT_EQ(da->position(), a->tail());
  EXPECT_EQ(db->position(), b->tail());
}

// Backpressure: a delivery unsubscribed with its frame half sent keeps
// holding the writer (its reader slot stays until the frame is finished).
// If the client then reads nothing, it is cut as stalled like any reader,
// instead of holding the stream's publishers forever.
TEST_F(SendEngineTest, StalledRemovingDeliveryIsCutUnderBackpressure) {
  config::StreamPolicy policy;
  policy.capacity_bytes = 64 << 10;
  policy.window_bytes = 16 << 10;
  policy.policy = config::SlowConsumerPolicy::kBackpressure;
  policy.stall_timeout_ms = 2000;
  auto made = stream::StreamLog::Create(StreamId{1}, "bp", policy, 4096,
                                        storage_, counters_);
  ASSERT_TRUE(made.ok());
  stream::StreamLog* log = made->get();
  FakeConnection conn(FakeConnection::Mode::kImmediate);
  SendEngine engine(control_, conn, listener_);
  Delivery* d = Deliver(engine, log);
  Append(log, 10);
  conn.budget = 100;  // stop inside a frame
  ASSERT_EQ(engine.SendOnce(true, now_).outcome, Outcome::kSent);
  ASSERT_TRUE(engine.References(d));
  conn.budget = 0;  // the client stops reading: the socket is full
  ASSERT_EQ(engine.SendOnce(true, now_).outcome, Outcome::kWaiting);
  ASSERT_TRUE(engine.busy());
  d->coverage = 0;  // UNSUBSCRIBE
  engine.Retire(d);
  // The writer runs into the delivery's window and is held there.
  int refused = 0;
  for (int i = 0; i < 1000 && refused == 0; ++i) {
    const std::string p = PayloadFor(i);
    if (log->Append(tp::AsBytes(p), 1).status ==
        stream::AppendStatus::kBackPressured) {
      ++refused;
    }
  }
  ASSERT_EQ(refused, 1) << "the writer was never held";
  EXPECT_EQ(engine.CheckWhileBusy(now_).outcome, Outcome::kWaiting);
  now_ += 1'999'000'000;
  EXPECT_EQ(engine.CheckWhileBusy(now_).outcome, Outcome::kWaiting)
      << "cut before the stall timeout";
  now_ += 2'000'000;
  const SendEngine::Result r = engine.CheckWhileBusy(now_);
  ASSERT_EQ(r.outcome, Outcome::kSlow);
  EXPECT_EQ(r.delivery, d);
  EXPECT_EQ(r.lag, Delivery::Lag::kStalled);
}

// Regression: on a back-pressure stream, a delivery restarted from an
// earlier sequence moves its reader slot backwards; the writer's cached
// limit must follow, or it runs the reader into the ring's end and the
// subscriber (promised no loss) is cut as lapped.
TEST_F(SendEngineTest, RestartBackwardsHoldsBackTheWriterAgain) {
  config::StreamPolicy policy;
  policy.capacity_bytes = 64 << 10;
  policy.window_bytes = 16 << 10;
  policy.policy = config::SlowConsumerPolicy::kBackpressure;
  auto made = stream::StreamLog::Create(StreamId{1}, "bp", policy, 4096,
                                        storage_, counters_);
  ASSERT_TRUE(made.ok());
  stream::StreamLog* log = made->get();
  FakeConnection conn(FakeConnection::Mode::kImmediate);
  SendEngine engine(control_, conn, listener_);
  Append(log, 2000);  // no readers yet: the ring laps freely
  Delivery* d = engine.Add(nullptr, log);
  d->coverage = 1;
  d->Start(tp::StartMode::kLatest, Sequence{});
  Append(log, 3);
  engine.MarkDirty(d);
  conn.budget = 100;  // stop inside a frame
  ASSERT_EQ(engine.SendOnce(true, now_).outcome, Outcome::kSent);
  ASSERT_TRUE(engine.References(d));
  // UNSUBSCRIBE, then SUBSCRIBE from the earliest frame.
  d->coverage = 0;
  engine.Retire(d);
  ++d->coverage;
  const stream::StartPoint sp =
      log->Locate(tp::StartMode::kEarliest, Sequence{});
  d->ScheduleRestart(sp, control_.queued_total());
  conn.budget = d->EndOfCurrentFrame() - d->position();
  ASSERT_EQ(engine.SendOnce(true, now_).outcome, Outcome::kSent);
  ASSERT_EQ(d->position(), sp.position) << "the restart took effect";
  // The reader is now further back than a window: every append waits.
  const std::uint64_t tail = log->tail();
  int accepted = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string p = PayloadFor(i);
    if (log->Append(tp::AsBytes(p), 1).status == stream::AppendStatus::kOk) {
      ++accepted;
    }
  }
  EXPECT_EQ(accepted, 0);
  EXPECT_EQ(log->tail(), tail);
  EXPECT_TRUE(d->Pin());
  d->Unpin();
}

TEST_F(SendEngineTest, FailedSendIsReported) {
  class Broken final : public Transport {
   public:
    io::SendResult Send(std::span<const iovec>) override {
      return {false, -EPIPE};
    }
  } broken;
  SendEngine engine(control_, broken, listener_);
  QueueHeartbeat();
  EXPECT_EQ(engine.SendOnce(true, now_).outcome, Outcome::kFailed);
}

// ---------------------------------------------------------------- Delivery

TEST_F(SendEngineTest, AdvanceFindsTheFrameASendStoppedInside) {
  stream::StreamLog* log = MakeLog(1);
  Append(log, 4);  // frames of 72 bytes at 0, 72, 144, 216
  Delivery d(nullptr, log);
  d.Start(tp::StartMode::kEarliest, Sequence{});
  ASSERT_TRUE(d.Pin());
  d.Advance(150, false);
  EXPECT_EQ(d.position(), 150u);
  EXPECT_EQ(d.frame_start(), 144u);
  EXPECT_EQ(d.EndOfCurrentFrame(), 216u);
  d.Advance(66, true);
  EXPECT_EQ(d.position(), 216u);
  EXPECT_EQ(d.frame_start(), 216u);
  EXPECT_EQ(d.EndOfCurrentFrame(), 216u);
  d.Unpin();
}

TEST_F(SendEngineTest, CheckJudgesLagAgainstTheWindowAndTheRing) {
  const std::size_t capacity = 64 << 10;
  stream::StreamLog* log = MakeLog(1, capacity);
  Delivery d(nullptr, log);
  d.Start(tp::StartMode::kLatest, Sequence{});
  EXPECT_EQ(d.Check(log->tail(), now_), Delivery::Lag::kOk);
  Append(log, static_cast<int>(capacity / 2 / 72) + 1);
  // Past the window: the grace starts now, and ends 500 ms later.
  EXPECT_EQ(d.Check(log->tail(), now_), Delivery::Lag::kOk);
  EXPECT_EQ(d.Check(log->tail(), now_ + 499'999'999), Delivery::Lag::kOk);
  EXPECT_EQ(d.Check(log->tail(), now_ + 500'000'000), Delivery::Lag::kTooFar);
  EXPECT_EQ(d.BehindForNs(now_ + 500'000'000), 500'000'000);
  Append(log, static_cast<int>(capacity / 72));
  EXPECT_EQ(d.Check(log->tail(), now_), Delivery::Lag::kLapped);
  EXPECT_FALSE(d.Pin());  // nothing to pin: the bytes are gone
}

// ---------------------------------------------------------------- latency

// What a histogram registered in `registry` under `name` holds now.
base::MetricSample HistogramNamed(const base::CounterRegistry& registry,
                                  std::string_view name) {
  for (base::MetricSample& m : registry.Snapshot()) {
    if (m.name == name) return std::move(m);
  }
  ADD_FAILURE() << "no histogram " << name;
  return {};
}

// Appends one frame stamped `timestamp_ns`.
void AppendStamped(stream::StreamLog* log, std::int64_t timestamp_ns) {
  const std::string p = PayloadFor(log->next_sequence().value());
  ASSERT_EQ(log->Append(tp::AsBytes(p), timestamp_ns).status,
            stream::AppendStatus::kOk);
}

// One value per send: the age of the oldest frame it carried, measured from
// that frame's gateway timestamp to just after the send.
TEST_F(SendEngineTest, DeliveryLatencyIsTheOldestFrameOfEachSend) {
  base::Histogram h = counters_.AddHistogram("test_delivery_ns", "");
  FakeConnection conn(FakeConnection::Mode::kImmediate);
  SendEngine engine(control_, conn, listener_, &h);
  stream::StreamLog* log = MakeLog(1);
  Deliver(engine, log);  // empty log: everything appended from now is live
  const std::int64_t before = base::RealtimeNs();
  AppendStamped(log, before - 3'000'000'000);  // the oldest: 3 s ago
  AppendStamped(log, before - 1'000'000'000);
  AppendStamped(log, before);
  ASSERT_EQ(Pump(engine), Outcome::kIdle);
  const std::int64_t after = base::RealtimeNs();
  EXPECT_EQ(conn.sends, 1);
  const base::MetricSample m = HistogramNamed(counters_, "test_delivery_ns");
  EXPECT_EQ(m.count, 1u);
  EXPECT_GE(m.sum, 3'000'000'000u);
  EXPECT_LE(m.sum, static_cast<std::uint64_t>(after - before) + 3'000'000'000);
  EXPECT_EQ(m.buckets[std::bit_width(m.sum)], 1u);

  // Control output alone records nothing.
  QueueHeartbeat();
  ASSERT_EQ(Pump(engine), Outcome::kIdle);
  EXPECT_EQ(h.count(), 1u);
}

// Frames appended before a subscription started are replayed: their age is
// not the gateway's latency, so only frames appended after it count.
TEST_F(SendEngineTest, DeliveryLatencyLeavesReplayedFramesOut) {
  base::Histogram h = counters_.AddHistogram("test_delivery_ns", "");
  FakeConnection conn(FakeConnection::Mode::kImmediate);
  SendEngine engine(control_, conn, listener_, &h);
  stream::StreamLog* log = MakeLog(1);
  const std::int64_t old = base::RealtimeNs() - 60'000'000'000;
  for (int i = 0; i < 5; ++i) AppendStamped(log, old);
  Delivery* d = Deliver(engine, log);  // from the earliest: a replay
  EXPECT_EQ(d->live_from(), log->tail());
  ASSERT_EQ(Pump(engine), Outcome::kIdle);
  EXPECT_EQ(DecodeWire(conn.wire).size(), 5u);
  EXPECT_EQ(h.count(), 0u);

  const std::int64_t before = base::RealtimeNs();
  AppendStamped(log, before);
  engine.MarkDirty(d);
  ASSERT_EQ(Pump(engine), Outcome::kIdle);
  const base::MetricSample m = HistogramNamed(counters_, "test_delivery_ns");
  EXPECT_EQ(m.count, 1u);
  EXPECT_LE(m.sum, static_cast<std::uint64_t>(base::RealtimeNs() - before));
}

// A frame split across sends is recorded by the send that finishes it, and
// a pending send (io_uring) only once it completes.
TEST_F(SendEngineTest, DeliveryLatencyWaitsForTheSendThatFinishesAFrame) {
  base::Histogram h = counters_.AddHistogram("test_delivery_ns", "");
  FakeConnection conn(FakeConnection::Mode::kDeferred);
  conn.budget = 40;  // a 72-byte frame takes two sends
  SendEngine engine(control_, conn, listener_, &h);
  stream::StreamLog* log = MakeLog(1);
  Deliver(engine, log);
  const std::int64_t before = base::RealtimeNs();
  for (int i = 0; i < 3; ++i) AppendStamped(log, before);
  int completions = 0;
  for (int i = 0; i < 100 && !engine.CaughtUp(); ++i) {
    const Outcome o = engine.SendOnce(true, now_).outcome;
    if (o == Outcome::kIdle) break;
    ASSERT_EQ(o, Outcome::kWaiting);
    ASSERT_TRUE(conn.pending());
    const std::uint64_t recorded = h.count();
    ASSERT_EQ(engine.OnSendComplete(conn.Complete()), Outcome::kSent);
    ++completions;
    // Odd completions end inside a frame; even ones finish it.
    EXPECT_EQ(h.count() - recorded, completions % 2 == 0 ? 1u : 0u)
        << "completion " << completions;
  }
  EXPECT_TRUE(engine.CaughtUp());
  EXPECT_EQ(completions, 6);
  EXPECT_EQ(h.count(), 3u);
  EXPECT_EQ(DecodeWire(conn.wire).size(), 3u);
}

// ---------------------------------------------------------------- ControlQueue

TEST(ControlQueueTest, FrontStaysPutWhileNewFramesGoBehindIt) {
  ControlQueue q(64);
  std::span<std::byte> a = q.Reserve(16);
  std::memset(a.data(), 'a', 8);
  q.Commit(8);
  const std::span<const std::byte> front = q.Front();
  ASSERT_EQ(front.size(), 8u);
  const std::byte* where = front.data();
  // Frames queued while the front may be in flight go to the other buffer.
  for (int i = 0; i < 100; ++i) {
    std::span<std::byte> b = q.Reserve(16);
    std::memset(b.data(), 'b', 16);
    q.Commit(16);
  }
  EXPECT_EQ(q.pending_bytes(), 8u + 1600u);
  EXPECT_EQ(q.Front().data(), where);  // not moved
  EXPECT_EQ(static_cast<char>(q.Front()[0]), 'a');
  q.Consume(8);
  const std::span<const std::byte> next = q.Front();
  ASSERT_EQ(next.size(), 1600u);
  EXPECT_EQ(static_cast<char>(next[0]), 'b');
  q.Consume(1600);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.queued_total(), 1608u);
  EXPECT_EQ(q.sent_total(), 1608u);
}

}  // namespace
}  // namespace tachyon::session
