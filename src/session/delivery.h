// Delivery: one stream being sent to one connection, straight from its log.
//
// Overview
//   A delivery is a cursor into a stream log. It owns the reader slot the
//   log's writer reads (position for back-pressure, pin for bytes being
//   sent), the position of the next byte to hand to the kernel, and the
//   bookkeeping that keeps frames whole on the wire:
//     - frame_start: the start of the frame holding `position` (equal to it
//       at a frame boundary), so a send that stops inside a frame knows
//       where that frame began and where it ends;
//     - allowed_lag: how far behind the tail the delivery may fall before
//       the slow-consumer policy applies (the window, or more for a replay
//       that started further back, shrinking back to the window as it
//       catches up);
//     - ready_after_ctl: how many control bytes (its SUBSCRIBE_ACK, a GAP)
//       must reach the kernel before its first data byte;
//     - removal and restart: an unsubscribed delivery finishes only the
//       frame it stopped inside, then goes away or, if subscribed again
//       meanwhile, starts over where the new subscription's ack said.
//   Several subscriptions (exact and patterns) may cover one delivery; it
//   lives while any does.
//
//   Touching log bytes follows the log's pin protocol (stream_log.h):
//   Pin() before any header is read or any byte is handed to the kernel,
//   Unpin() once the send that used them has completed.
//
// Threading: owned by one session, used on its worker thread only.
#ifndef TACHYON_SESSION_DELIVERY_H_
#define TACHYON_SESSION_DELIVERY_H_

#include <cstdint>

#include "base/counters.h"
#include "stream/stream_log.h"
#include "tachyon/protocol/stream_messages.h"

namespace tachyon::session {

class Session;

class Delivery {
 public:
  /// What Check says about a delivery's lag against the log's tail.
  enum class Lag : std::uint8_t {
    kOk,
    kTooFar,   ///< past allowed_lag for longer than the stream's lag grace
               ///< under the disconnect policy
    kLapped,   ///< the writer overwrote (or is about to) unsent bytes
    kStalled,  ///< under the backpressure policy: half a window or more
               ///< behind and no progress for the stream's stall timeout
  };

  Delivery(Session* session, stream::StreamLog* log)
      : session_(session), log_(log) {}
  ~Delivery();
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;

  /// Starts reading where `mode`/`sequence` say; returns where that is.
  stream::StartPoint Start(protocol::StartMode mode, Sequence sequence);
  /// The session is closing: the log's writer stops waiting for this
  /// delivery (back-pressure), but its pins still hold until it is
  /// destroyed, since a partly sent frame may still be finished.
  /// Idempotent.
  void StopReading();

  [[nodiscard]] Session* session() const { return session_; }
  [[nodiscard]] stream::StreamLog* log() const { return log_; }
  [[nodiscard]] std::uint64_t position() const { return position_; }
  [[nodiscard]] std::uint64_t frame_start() const { return frame_start_; }
  [[nodiscard]] bool detached() const { return detached_; }
  /// The log's tail when the current subscription started (Start, or the
  /// restart applied last): frames at or past it were appended live, those
  /// before it are replayed.
  [[nodiscard]] std::uint64_t live_from() const { return live_from_; }
  /// The gateway timestamp of the DATA frame that starts at log position
  /// `p` (a frame boundary). Needs the pin to cover `p`.
  [[nodiscard]] std::int64_t TimestampAt(std::uint64_t p) const;

  /// The slow-consumer verdict for `tail` (a tail loaded by the caller) at
  /// CLOCK_MONOTONIC `now_ns`. Past allowed_lag is tolerated for the
  /// stream's lag grace, timed from the first check that found it so (a
  /// burst the subscriber drains meanwhile costs it nothing), but not past
  /// the log's hard_lag_limit; lapped never is.
  [[nodiscard]] Lag Check(std::uint64_t tail, std::int64_t now_ns);
  /// How long the delivery has been past allowed_lag at `now_ns` (0 if it
  /// is not).
  [[nodiscard]] std::int64_t BehindForNs(std::int64_t now_ns) const {
    return behind_since_ns_ < 0 ? 0 : now_ns - behind_since_ns_;
  }
  /// After a send was built from [position, tail): relaxes allowed_lag back
  /// toward the window as the delivery catches up.
  void NoteLag(std::uint64_t tail);

  /// Pins the oldest byte the next send may touch (the start of the frame
  /// holding `position`). False if the log cannot guarantee those bytes:
  /// the delivery is lapped; it is unpinned again.
  [[nodiscard]] bool Pin();
  void Unpin() { slot_.Unpin(); }

  /// The end of the frame holding `position`, which an unsubscribed
  /// delivery still sends (== position at a boundary). Needs the pin.
  [[nodiscard]] std::uint64_t EndOfCurrentFrame() const;

  /// `bytes` from `position` on reached the kernel; `whole` when that was
  /// everything offered from this delivery (so `position` now sits on a
  /// frame boundary). Needs the pin.
  void Advance(std::uint64_t bytes, bool whole);

  // Subscription coverage, removal and restart (see the overview).
  int coverage = 0;
  bool removing = false;
  bool restarting = false;
  /// Control bytes (ever queued) that must precede this delivery's data.
  std::uint64_t ready_after_ctl = 0;
  /// Applies a restart recorded by ScheduleRestart: back to that position.
  void ApplyRestart();
  /// A new subscription while removing: once the old frame is finished,
  /// start over at `sp` with its ack and GAP `after_ctl` control bytes.
  void ScheduleRestart(const stream::StartPoint& sp, std::uint64_t after_ctl);

  /// On its session's dirty list (new bytes to look at).
  bool dirty = false;
  /// The worker's delivery latency series of this stream
  /// (kStreamDeliveryLatencyNs); null: not recorded per stream.
  base::Histogram* stream_latency = nullptr;
  /// Index in the worker's readers of this stream (SessionAgent).
  std::uint32_t reader_index = 0;

 private:
  // Padded length of the frame at log position `p` (a frame boundary).
  [[nodiscard]] std::uint64_t FrameLengthAt(std::uint64_t p) const;

  Session* const session_;
  stream::StreamLog* const log_;
  stream::ReaderSlot slot_;
  std::uint64_t position_ = 0;
  std::uint64_t frame_start_ = 0;
  std::uint64_t live_from_ = 0;
  std::uint64_t allowed_lag_ = 0;
  std::int64_t behind_since_ns_ = -1;
  // Backpressure policy: the position the stall clock (behind_since_ns_)
  // started at.
  std::uint64_t stall_position_ = 0;  // past allowed_lag since; -1: not
  bool attached_ = false;             // registered with the log at all
  bool detached_ = false;             // StopReading called
  std::uint64_t restart_position_ = 0;
  std::uint64_t restart_lag_ = 0;
  std::uint64_t restart_live_from_ = 0;
  std::uint64_t restart_after_ctl_ = 0;
};

}  // namespace tachyon::session

#endif  // TACHYON_SESSION_DELIVERY_H_
