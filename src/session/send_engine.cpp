#include "session/send_engine.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "base/clock.h"

namespace tachyon::session {

SendEngine::SendEngine(ControlQueue& control, Transport& transport,
                       SendListener& listener,
                       base::Histogram* delivery_latency)
    : control_(control),
      transport_(transport),
      listener_(listener),
      delivery_latency_(delivery_latency) {
  sources_.reserve(io::Reactor::kMaxIov);
  iov_.reserve(io::Reactor::kMaxIov);
}

SendEngine::~SendEngine() = default;

Delivery* SendEngine::Find(StreamId stream) const {
  auto it = deliveries_.find(stream.value());
  return it == deliveries_.end() ? nullptr : it->second.get();
}

Delivery* SendEngine::Add(Session* session, stream::StreamLog* log) {
  auto d = std::make_unique<Delivery>(session, log);
  Delivery* raw = d.get();
  order_.push_back(raw);
  deliveries_.emplace(log->id().value(), std::move(d));
  return raw;
}

void SendEngine::Retire(Delivery* d) {
  if (!References(d)) {
    Remove(d);
    return;
  }
  if (!d->removing) {
    d->removing = true;
    ++removing_;
  }
}

void SendEngine::Remove(Delivery* d) {
  if (d->removing) --removing_;
  listener_.OnDeliveryRemoved(d);
  std::erase(order_, d);
  if (d->dirty) std::erase(dirty_, d);
  deliveries_.erase(d->log()->id().value());
}

void SendEngine::MarkDirty(Delivery* d) {
  if (d->dirty) return;
  d->dirty = true;
  dirty_.push_back(d);
}

bool SendEngine::References(const Delivery* d) const {
  return in_flight_ || (partial_valid_ && partial_.delivery == d);
}

bool SendEngine::OutputIdle() const {
  return !in_flight_ && !partial_valid_ && control_.empty();
}

bool SendEngine::CaughtUp() const {
  for (const Delivery* d : order_) {
    if (d->log()->tail() != d->position()) return false;
  }
  return true;
}

void SendEngine::SettleRemoving() {
  if (in_flight_ || removing_ == 0) return;
  for (std::size_t i = 0; i < order_.size();) {
    Delivery* d = order_[i];
    if (!d->removing || (partial_valid_ && partial_.delivery == d)) {
      ++i;
    } else if (d->restarting) {
      --removing_;
      d->ApplyRestart();
      MarkDirty(d);
      listener_.OnReady();
      ++i;
    } else {
      Remove(d);  // erases order_[i]
    }
  }
}

void SendEngine::AddSource(Delivery* d, std::span<const std::byte> bytes) {
  iov_.push_back({const_cast<std::byte*>(bytes.data()), bytes.size()});
  sources_.push_back({d, bytes.size()});
}

void SendEngine::ReleaseSources() {
  for (const Source& s : sources_) {
    if (s.delivery == nullptr) continue;
    s.delivery->Unpin();
    if (s.delivery->position() != s.delivery->log()->tail()) {
      MarkDirty(s.delivery);
    }
  }
  sources_.clear();
  iov_.clear();
}

SendEngine::Result SendEngine::SendOnce(bool data_allowed,
                                        std::int64_t now_ns) {
  // A send that wrote nothing leaves removing deliveries behind; nothing
  // references them now.
  SettleRemoving();
  sources_.clear();
  iov_.clear();
  // A send that stopped inside a delivery's frame resumes it first; one
  // that stopped inside control output resumes with the control bytes,
  // which come first anyway.
  if (partial_valid_ && partial_.delivery != nullptr) {
    Delivery* d = partial_.delivery;
    if (!d->Pin()) {
      // Overwritten mid-frame: the byte stream cannot be repaired.
      return {Outcome::kSlow, d, Delivery::Lag::kLapped,
              d->log()->tail() - d->position()};
    }
    // Only the rest of its frame: an unsubscribed delivery then ends (or
    // moves to a new subscription's start) at once, and a busy one goes to
    // the back of the dirty list (ReleaseSources) instead of starving the
    // others of a socket that takes less than its backlog each time.
    const std::uint64_t end = d->EndOfCurrentFrame();
    if (end > d->position()) {
      AddSource(d, d->log()->Readable(d->position(), end));
    } else {
      d->Unpin();
      partial_valid_ = false;  // stopped on a boundary: nothing to finish
      SettleRemoving();
    }
  }
  std::uint64_t ctl_included = control_.sent_total();
  if (const std::span<const std::byte> ctl = control_.Front(); !ctl.empty()) {
    AddSource(nullptr, ctl);
    ctl_included += ctl.size();
  }
  if (data_allowed) {
    std::size_t keep = 0;
    for (std::size_t i = 0; i < dirty_.size(); ++i) {
      Delivery* d = dirty_[i];
      bool stay = false;
      if (d->removing || d->detached() ||
          (partial_valid_ && partial_.delivery == d)) {
        // Removing: only its partial frame goes out (above). Partial: its
        // source is in this send already; leftovers are marked again.
      } else if (iov_.size() >= io::Reactor::kMaxIov ||
                 d->ready_after_ctl > ctl_included) {
        stay = true;  // next send
      } else if (const std::uint64_t tail = d->log()->tail();
                 tail != d->position()) {
        Delivery::Lag lag = d->Check(tail, now_ns);
        if (lag == Delivery::Lag::kOk && !d->Pin()) {
          lag = Delivery::Lag::kLapped;
        }
        if (lag != Delivery::Lag::kOk) {
          // Keep the unvisited entries (this one included) dirty.
          dirty_.erase(dirty_.begin() + static_cast<std::ptrdiff_t>(keep),
                       dirty_.begin() + static_cast<std::ptrdiff_t>(i));
          ReleaseSources();
          return {Outcome::kSlow, d, lag, tail - d->position(),
                  d->BehindForNs(now_ns)};
        }
        d->NoteLag(tail);
        AddSource(d, d->log()->Readable(d->position(), tail));
      }
      if (stay) {
        dirty_[keep++] = d;
      } else {
        d->dirty = false;
      }
    }
    dirty_.resize(keep);
  }
  if (iov_.empty()) return {};
  return Transmit();
}

SendEngine::Result SendEngine::Transmit() {
  const io::SendResult r = transport_.Send(iov_);
  if (r.pending) {
    in_flight_ = true;
    return {Outcome::kWaiting};
  }
  if (r.bytes < 0) {
    ReleaseSources();
    return {Outcome::kFailed};
  }
  if (r.bytes == 0) {
    CopyPartialFrameIfStopped();
    ReleaseSources();
    blocked_ = true;  // OnWritable follows
    return {Outcome::kWaiting};
  }
  HandleSent(static_cast<std::size_t>(r.bytes));
  return {Outcome::kSent};
}

bool SendEngine::CopyPartialFrame() {
  Delivery* d = partial_.delivery;
  const std::uint64_t end = d->EndOfCurrentFrame();
  if (end > d->position()) {
    control_.PushFront(d->log()->Readable(d->position(), end));
    d->Advance(end - d->position(), true);
  }
  partial_valid_ = false;
  return true;
}

void SendEngine::CopyPartialFrameIfStopped() {
  if (data_stopped_ && partial_valid_ && partial_.delivery != nullptr) {
    CopyPartialFrame();
  }
}

bool SendEngine::StopData() {
  data_stopped_ = true;
  if (in_flight_ || !partial_valid_ || partial_.delivery == nullptr) {
    return true;  // nothing to copy now (HandleSent copies after a send)
  }
  Delivery* d = partial_.delivery;
  if (!d->Pin()) return false;
  const bool copied = CopyPartialFrame();
  d->Unpin();
  SettleRemoving();
  return copied;
}

SendEngine::Outcome SendEngine::OnSendComplete(ssize_t result) {
  in_flight_ = false;
  if (result < 0) {
    ReleaseSources();
    return Outcome::kFailed;
  }
  if (result == 0) {
    CopyPartialFrameIfStopped();
    ReleaseSources();
    blocked_ = true;  // OnWritable follows
    return Outcome::kWaiting;
  }
  HandleSent(static_cast<std::size_t>(result));
  return Outcome::kSent;
}

void SendEngine::HandleSent(std::size_t bytes) {
  listener_.OnBytesSent(bytes);
  partial_valid_ = false;
  // The gateway timestamp of the oldest live frame this send finished; the
  // clock is read once, at the first such frame, for it and for the
  // per-stream series.
  std::int64_t oldest_ns = std::numeric_limits<std::int64_t>::max();
  std::int64_t now_ns = 0;
  for (const Source& s : sources_) {
    const std::size_t k = std::min(bytes, s.length);
    bytes -= k;
    if (s.delivery == nullptr) {
      control_.Consume(k);
    } else {
      // Sources are whole frames from frame_start on (or the rest of the
      // frame there): the frame at `first` is finished once the frame
      // holding the new position starts past it.
      const std::uint64_t first = s.delivery->frame_start();
      s.delivery->Advance(k, k == s.length);
      if (delivery_latency_ != nullptr && s.delivery->frame_start() > first &&
          first >= s.delivery->live_from()) {
        const std::int64_t ts = s.delivery->TimestampAt(first);
        oldest_ns = std::min(oldest_ns, ts);
        if (s.delivery->stream_latency != nullptr) {
          if (now_ns == 0) now_ns = base::RealtimeNs();
          if (now_ns >= ts) {
            s.delivery->stream_latency->Record(
                static_cast<std::uint64_t>(now_ns - ts));
          }
        }
      }
    }
    if (k < s.length) {
      // Stopped inside this source; one that got nothing sits on a frame
      // (or control) boundary and has nothing to finish.
      if (k > 0) {
        partial_ = s;
        partial_valid_ = true;
      }
      break;
    }
  }
  if (oldest_ns != std::numeric_limits<std::int64_t>::max()) {
    const std::int64_t latency =
        (now_ns != 0 ? now_ns : base::RealtimeNs()) - oldest_ns;
    if (latency >= 0) {
      delivery_latency_->Record(static_cast<std::uint64_t>(latency));
    }
  }
  // The session stopped sending data: finish a frame left half sent from a
  // copy, made while the send's pins still hold its bytes.
  CopyPartialFrameIfStopped();
  // Advance read the headers it walked under the pins; release them now.
  ReleaseSources();
  SettleRemoving();
}

SendEngine::Result SendEngine::CheckWhileBusy(std::int64_t now_ns) {
  // The socket is full, so nothing is built and the check in SendOnce
  // never runs; the writer goes on meanwhile. Removing deliveries only
  // finish a frame, so their lag is no fault, except under backpressure,
  // where one that stalls holds the stream's publishers like any other.
  for (Delivery* d : dirty_) {
    if (d->detached() ||
        (d->removing &&
         d->log()->policy() != config::SlowConsumerPolicy::kBackpressure)) {
      continue;
    }
    const std::uint64_t tail = d->log()->tail();
    if (const Delivery::Lag lag = d->Check(tail, now_ns);
        lag != Delivery::Lag::kOk) {
      return {Outcome::kSlow, d, lag, tail - d->position(),
              d->BehindForNs(now_ns)};
    }
  }
  return {Outcome::kWaiting};
}

}  // namespace tachyon::session
