#include "session/delivery.h"

#include <algorithm>
#include <cstring>

#include "tachyon/protocol/frame.h"

namespace tachyon::session {

namespace tp = ::tachyon::protocol;

Delivery::~Delivery() {
  if (!attached_) return;
  slot_.Unpin();
  log_->Detach(&slot_);
}

stream::StartPoint Delivery::Start(tp::StartMode mode, Sequence sequence) {
  const stream::StartPoint sp = log_->Attach(&slot_, mode, sequence);
  attached_ = true;
  position_ = sp.position;
  frame_start_ = sp.position;
  live_from_ = sp.tail;
  // A replay starting further back than the window gets one window of
  // headroom beyond its start distance, so appends racing the first send
  // do not make it a slow consumer at once. Attach starts replays at most
  // capacity - window back, so this never exceeds capacity.
  allowed_lag_ = sp.tail - sp.position + log_->window();
  return sp;
}

void Delivery::StopReading() {
  if (detached_ || !attached_) return;
  detached_ = true;
  log_->DropBackPressure(&slot_);
}

Delivery::Lag Delivery::Check(std::uint64_t tail, std::int64_t now_ns) {
  if (log_->Lapped(position_, tail)) return Lag::kLapped;
  if (log_->policy() == config::SlowConsumerPolicy::kBackpressure) {
    // The writer waits for this reader, so lag alone is no fault; holding
    // the writer back (half a window or more behind) while sending nothing
    // for the stall timeout is.
    if (tail - position_ < log_->window() / 2) {
      behind_since_ns_ = -1;
      return Lag::kOk;
    }
    if (behind_since_ns_ < 0 || position_ != stall_position_) {
      // Progress (or the first look this far behind): the clock starts.
      stall_position_ = position_;
      behind_since_ns_ = now_ns;
      return Lag::kOk;
    }
    const std::int64_t limit = log_->stall_timeout_ns();
    return limit > 0 && now_ns - behind_since_ns_ >= limit ? Lag::kStalled
                                                           : Lag::kOk;
  }
  if (tail - position_ <= allowed_lag_) {
    behind_since_ns_ = -1;
    return Lag::kOk;
  }
  if (behind_since_ns_ < 0) behind_since_ns_ = now_ns;
  if (tail - position_ > log_->hard_lag_limit()) return Lag::kTooFar;
  return now_ns - behind_since_ns_ >= log_->lag_grace_ns() ? Lag::kTooFar
                                                           : Lag::kOk;
}

void Delivery::NoteLag(std::uint64_t tail) {
  // Shrinks back to the window as the reader catches up, always keeping a
  // window of headroom over its current lag.
  const std::uint64_t lag = tail - position_;
  allowed_lag_ =
      std::max(log_->window(), std::min(allowed_lag_, lag + log_->window()));
}

bool Delivery::Pin() {
  // frame_start <= position: pinning there covers the header a partial
  // frame is resumed from, and every byte after it.
  slot_.Pin(frame_start_);
  if (log_->PinHolds(frame_start_)) return true;
  slot_.Unpin();
  return false;
}

std::uint64_t Delivery::FrameLengthAt(std::uint64_t p) const {
  std::uint32_t length = 0;
  std::memcpy(&length, log_->Readable(p, p + sizeof length).data(),
              sizeof length);
  return tp::PaddedLength(std::max<std::uint32_t>(
      length, static_cast<std::uint32_t>(tp::kHeaderLength)));
}

std::int64_t Delivery::TimestampAt(std::uint64_t p) const {
  constexpr std::uint64_t kAt = 24;  // DataView::timestamp_ns
  std::int64_t ns = 0;
  std::memcpy(&ns, log_->Readable(p + kAt, p + kAt + sizeof ns).data(),
              sizeof ns);
  return ns;
}

std::uint64_t Delivery::EndOfCurrentFrame() const {
  return frame_start_ == position_ ? position_
                                   : frame_start_ + FrameLengthAt(frame_start_);
}

void Delivery::Advance(std::uint64_t bytes, bool whole) {
  position_ += bytes;
  slot_.Set(position_);
  // A send ends at a tail or at the end of a resumed frame, both frame
  // boundaries; one that stops inside a frame finds where that frame began
  // by walking the headers just sent (at most one send's worth, and only
  // when the socket filled up).
  if (whole) {
    frame_start_ = position_;
    return;
  }
  std::uint64_t p = frame_start_;
  for (std::uint64_t next = p + FrameLengthAt(p); next <= position_;
       next = p + FrameLengthAt(p)) {
    p = next;
  }
  frame_start_ = p;
}

void Delivery::ScheduleRestart(const stream::StartPoint& sp,
                               std::uint64_t after_ctl) {
  restarting = true;
  restart_position_ = sp.position;
  // Locate reaches back at most capacity - window, so the new start cannot
  // be lapped before it takes over.
  restart_lag_ = sp.tail - sp.position + log_->window();
  restart_live_from_ = sp.tail;
  restart_after_ctl_ = after_ctl;
}

void Delivery::ApplyRestart() {
  removing = false;
  restarting = false;
  position_ = restart_position_;
  frame_start_ = position_;
  live_from_ = restart_live_from_;
  // Possibly backwards: the writer's cached back-pressure limit must follow.
  log_->Reposition(&slot_, position_);
  allowed_lag_ = restart_lag_;
  behind_since_ns_ = -1;
  ready_after_ctl = restart_after_ctl_;
}

}  // namespace tachyon::session
