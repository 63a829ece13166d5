// PUBLISH (PROTOCOL.md 10): the append to an opened stream, its
// PUBLISH_ACK, the principal's publish rate, and the held publisher: a
// PUBLISH the stream has no room for is kept with everything read after it
// while the connection is not read, so TCP slows the publisher (flow
// control, PROTOCOL.md 10.2).
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "session/session.h"
#include "session/session_agent.h"

namespace tachyon::session {

namespace tp = ::tachyon::protocol;
using tp::ErrorCode;

void Session::Hold() {
  agent_.counters().publish_holds.Add();
  agent_.reactor().PauseReading(conn_);
  agent_.HoldPublisher(this);
}

bool Session::RetryHeld() {
  if (state_ != State::kActive) {
    // Closing or draining: input is ignored from now on, but read on, so
    // that the peer's EOF is seen (a lingering session waits for it) and
    // the close finds no unread bytes (which would make it a reset).
    holding_ = false;
    held_.clear();
    if (state_ != State::kClosed) agent_.reactor().ResumeReading(conn_);
    return true;
  }
  // held_ starts with the PUBLISH that did not fit, whole.
  const tp::DecodeResult r = tp::DecodeFrame(held_, max_frame_length_);
  if (!HandlePublish(tp::PublishView(r.frame))) return false;
  holding_ = false;
  // The rest as if just read; Consume may hold again, into held_.
  std::swap(held_, resumed_);
  held_.clear();
  Consume(std::span<const std::byte>(resumed_).subspan(r.consumed));
  resumed_.clear();
  // A hold can take a frame of up to the frame limit with what followed
  // it: give such memory back once it is used, like partial frames.
  if (resumed_.capacity() > PartialFrame::kHeapMaxBytes) {
    resumed_.shrink_to_fit();
  }
  if (!holding_ && held_.capacity() > PartialFrame::kHeapMaxBytes) {
    held_.shrink_to_fit();
  }
  if (holding_) return true;  // held anew, and listed anew
  if (state_ != State::kClosed) agent_.reactor().ResumeReading(conn_);
  return true;
}

bool Session::HandlePublish(const tp::PublishView& m) {
  const StreamId stream = m.stream_id();
  const auto opened = opened_streams_.find(stream.value());
  stream::StreamLog* log = opened != opened_streams_.end()
                               ? agent_.registry().Find(stream)
                               : nullptr;
  if (log == nullptr) {
    QueuePublishAck(stream, m.correlation_id(), Sequence{},
                    ErrorCode::kUnknownStream);
    return true;
  }
  const config::GatewayConfig& cfg = agent_.config();
  if (cfg.max_publish_rate > 0) {
    const std::int64_t now = agent_.now_ns();
    publish_tokens_ = std::min<double>(
        cfg.max_publish_rate,
        publish_tokens_ + (now - tokens_at_ns_) * 1e-9 * cfg.max_publish_rate);
    tokens_at_ns_ = now;
    if (publish_tokens_ < 1.0) {
      agent_.counters().publish_rate_limited.Add();
      QueuePublishAck(stream, m.correlation_id(), Sequence{},
                      ErrorCode::kLimitExceeded);
      return true;
    }
    publish_tokens_ -= 1.0;
  }
  if (identity_ != nullptr && identity_->quotas().publish_rate > 0) {
    // The principal's rate, shared by its sessions on every worker: tokens
    // are leased from its bucket about 10 ms' worth at a time, so the
    // shared state is touched once per lease, not per message.
    if (rate_lease_ == 0) {
      rate_lease_ = identity_->TakePublishTokens(
          agent_.now_ns(),
          std::max<std::uint32_t>(1, identity_->quotas().publish_rate / 100));
    }
    if (rate_lease_ == 0) {
      agent_.counters().quota_publish_rate.Add();
      QueuePublishAck(stream, m.correlation_id(), Sequence{},
                      ErrorCode::kLimitExceeded);
      return true;
    }
    --rate_lease_;
  }
  const stream::AppendResult r =
      log->Append(m.payload(), agent_.receive_time_ns());
  switch (r.status) {
    case stream::AppendStatus::kOk:
      agent_.counters().publishes.Add();
      appended_in_read_ = true;
      appended_stream_latency_ = opened->second;
      agent_.OnAppended(log);
      if (m.ack_requested()) {
        QueuePublishAck(stream, m.correlation_id(), r.sequence,
                        ErrorCode::kNone);
      }
      return true;
    case stream::AppendStatus::kBackPressured:
      // Flow control, not a refusal: the frame waits (with everything the
      // client sent after it) and its connection goes unread until the
      // log has room. The token is the retry's to spend.
      if (cfg.max_publish_rate > 0) publish_tokens_ += 1.0;
      if (identity_ != nullptr && identity_->quotas().publish_rate > 0) {
        ++rate_lease_;
      }
      return false;
    case stream::AppendStatus::kTooLarge:
      agent_.counters().publish_too_large.Add();
      QueuePublishAck(stream, m.correlation_id(), Sequence{},
                      ErrorCode::kLimitExceeded);
      return true;
    case stream::AppendStatus::kMemoryLimit:
      // Counted per stream by the log. The ERROR says which limit; the
      // PUBLISH_ACK answers the PUBLISH (PROTOCOL.md 10.2).
      QueueError(ErrorCode::kLimitExceeded, false, log->memory_limit_text(),
                 m.correlation_id(), stream);
      QueuePublishAck(stream, m.correlation_id(), Sequence{},
                      ErrorCode::kLimitExceeded);
      return true;
    case stream::AppendStatus::kRetired:
      // Not while this session holds its publisher use; kept for safety.
      QueuePublishAck(stream, m.correlation_id(), Sequence{},
                      ErrorCode::kUnknownStream);
      return true;
  }
  return true;
}

void Session::QueuePublishAck(StreamId stream, std::uint64_t correlation,
                              Sequence seq, ErrorCode status) {
  std::span<std::byte> out = ReserveControl(tp::PublishAckView::kFixedLength);
  CommitControl(tp::EncodePublishAck(out, {.stream_id = stream,
                                           .correlation_id = correlation,
                                           .sequence = seq,
                                           .status = status}));
}

}  // namespace tachyon::session
