// The protocol core shared by Client and AsyncClient: the session's
// lifecycle, receiving and dispatching frames, holding deliveries back while
// a call waits, pending requests, liveness and errors. Encoding is in
// session_encode.cpp, the frame handlers in session_frames.cpp, the stream
// and subscription tables in session_streams.cpp. See session_core.h.
#include "session_core.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "status.h"

namespace tachyon::client::internal {

namespace tp = ::tachyon::protocol;
using ::tachyon::protocol::ErrorCode;
using ::tachyon::protocol::MessageType;

// ======================================================================
// Lifecycle and receiving

SessionCore::SessionCore(const ClientOptions& options, SessionHost& host)
    : options_(options), host_(host) {
  // Before LOGON_ACK the gateway sends only short frames; decode with the
  // protocol's default limit until it announces the session's.
  rx_size_ = std::max(options_.receive_buffer_bytes,
                      2 * tp::FrameDecoder::MinStorage(max_frame_length_));
  rx_ = std::make_unique_for_overwrite<std::byte[]>(
      rx_size_);  // untouched until received into
  decoder_.emplace(std::span<std::byte>(rx_.get(), rx_size_),
                   max_frame_length_);
  pending_.reserve(8);
}

void SessionCore::BeginConnection() {
  phase_ = Phase::kLoggingOn;
  pending_.clear();
  DropHeld();
  sent_since_check_ = received_since_check_ = false;
  // The storage was sized for the last session's limit (at least 1056),
  // which covers every frame a gateway sends before LOGON_ACK.
  decoder_.emplace(std::span<std::byte>(rx_.get(), rx_size_),
                   std::max(max_frame_length_, kMinSessionFrameLength));
}

void SessionCore::Received(std::size_t bytes) {
  decoder_->Commit(bytes);
  received_since_check_ = true;
  stats_.bytes_received += bytes;
}

int SessionCore::Dispatch(int max_messages, bool stop_at_reply) {
  int delivered = 0;
  replied_ = false;
  // Held frames arrived first.
  if (!holding_ && has_held()) {
    delivered = DispatchHeld(max_messages);
    if (has_held()) return delivered;
  }
  while (phase_ != Phase::kClosed && delivered < max_messages) {
    if (stop_at_reply && replied_) break;
    const tp::DecodeResult r = decoder_->Next();
    if (r.status == tp::DecodeStatus::kIncomplete) break;
    if (r.status == tp::DecodeStatus::kError) {
      ProtocolViolation(r.error, "malformed frame");
      break;
    }
    if (HandleFrame(r.frame)) ++delivered;
  }
  CleanupIfIdle();
  return delivered;
}

void SessionCore::SizeReceiveBuffer(std::uint32_t max_frame_length) {
  // WritableSpan moves the bytes received after LOGON_ACK to the front of
  // the storage, where the new decoder will find them.
  const std::size_t carried = decoder_->buffered();
  (void)decoder_->WritableSpan();
  const std::size_t want =
      std::max(options_.receive_buffer_bytes,
               2 * tp::FrameDecoder::MinStorage(max_frame_length));
  if (want != rx_size_) {
    auto storage = std::make_unique_for_overwrite<std::byte[]>(want);
    std::memcpy(storage.get(), rx_.get(), carried);
    rx_ = std::move(storage);
    rx_size_ = want;
  }
  decoder_.emplace(std::span<std::byte>(rx_.get(), rx_size_), max_frame_length);
  decoder_->Commit(carried);
}

void SessionCore::Fail(absl::Status status) {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  host_.OnSessionFailed(std::move(status));
}

void SessionCore::ProtocolViolation(ErrorCode code, std::string_view what) {
  const bool logged = logged_on();
  const std::string text(what);
  const std::size_t n =
      tp::EncodeError(scratch_, {.code = code, .fatal = true, .text = text});
  host_.SendBestEffort({scratch_.data(), n});
  Fail(absl::DataLossError(
      absl::StrCat(text, " from ", peer_, logged ? "" : " during logon", ": ",
                   View(tp::ErrorCodeName(code)),
                   logged ? "" : " (is it a Tachyon gateway?)")));
}

void SessionCore::ReportAsync(absl::Status status) {
  ++stats_.async_errors;
  if (options_.on_error) {
    CallbackScope scope(this);
    options_.on_error(status);
  }
}

// ======================================================================
// Pending requests

void SessionCore::Expect(ReplyKind kind, std::uint64_t id) {
  pending_.insert({kind, id});
}

bool SessionCore::TakePending(ReplyKind kind, std::uint64_t id) {
  return pending_.erase(std::make_pair(kind, id)) > 0;
}

void SessionCore::Forget(ReplyKind kind, std::uint64_t id) {
  (void)TakePending(kind, id);
}

bool SessionCore::IsPending(ReplyKind kind, std::uint64_t id) const {
  return pending_.contains(std::make_pair(kind, id));
}

void SessionCore::Answer(Reply reply) {
  replied_ = true;
  host_.OnReply(reply);
}

// ======================================================================
// Holding back deliveries while a blocking call waits

bool SessionCore::ShouldHold(tp::FrameView frame) {
  switch (frame.type()) {
    case MessageType::kData:
    case MessageType::kGap:
      return true;
    case MessageType::kSubscribeAck: {
      // Positions a stream: in order with the DATA and GAP held before it.
      // Only then; and its answer cannot wait (the caller waits for it).
      const tp::StreamAckView ack(frame);
      if (!has_held() || IsPending(ReplyKind::kUdpSubscribe, ack.id())) {
        return false;
      }
      if (TakePending(ReplyKind::kSubscribe, ack.id())) {
        Answer({.kind = ReplyKind::kSubscribe, .id = ack.id()});
      }
      return true;
    }
    case MessageType::kPublishAck: {
      // An awaited ack answers now; a refusal of a fire-and-forget publish
      // goes to on_error, so it waits.
      const tp::PublishAckView ack(frame);
      return !IsPending(ReplyKind::kPublishAck, ack.correlation_id()) &&
             ack.status() != ErrorCode::kNone;
    }
    case MessageType::kError: {
      const tp::ErrorView error(frame);
      if (error.fatal()) return false;
      for (const ReplyKind kind :
           {ReplyKind::kOpenStream, ReplyKind::kSubscribe,
            ReplyKind::kUdpSubscribe}) {
        if (IsPending(kind, error.context())) return false;
      }
      return true;  // for on_error
    }
    default:
      // Answers (OPEN_STREAM_ACK, RESPONSE, SERVICE_LOOKUP_ACK), HEARTBEAT, the
      // frames that end the session, and protocol violations: no user code runs
      // for them.
      return false;
  }
}

void SessionCore::Hold(tp::FrameView frame) {
  const std::size_t length = frame.length();
  const std::size_t padded = tp::PaddedLength(length);
  if (!has_held()) held_read_ = held_size_ = 0;
  if (held_capacity_ < rx_size_ && !has_held()) {
    held_ = std::make_unique<std::byte[]>(rx_size_);
    held_capacity_ = rx_size_;
  }
  if (held_size_ + padded > held_capacity_ && held_read_ > 0) {
    std::memmove(held_.get(), held_.get() + held_read_,
                 held_size_ - held_read_);
    held_size_ -= held_read_;
    held_read_ = 0;
  }
  if (held_size_ + padded > held_capacity_) {
    // receive_buffer_bytes of frames arrived while the call waited: deliver
    // them now (the documented exception, client.h) rather than grow
    // without bound or stop reading before the answer.
    (void)DispatchHeld(INT_MAX);
    held_read_ = held_size_ = 0;
  }
  std::memcpy(held_.get() + held_size_, frame.bytes().data(), length);
  std::memset(held_.get() + held_size_ + length, 0, padded - length);
  held_size_ += padded;
}

int SessionCore::DispatchHeld(int max_messages) {
  int delivered = 0;
  const bool was_holding = holding_;
  holding_ = false;
  draining_held_ = true;
  while (has_held() && delivered < max_messages) {
    const std::byte* at = held_.get() + held_read_;
    const std::uint32_t length = tp::LoadU32(at);
    held_read_ += tp::PaddedLength(length);
    if (HandleHeld(tp::FrameView(std::span<const std::byte>(at, length)))) {
      ++delivered;
    }
  }
  draining_held_ = false;
  holding_ = was_holding;
  if (!has_held()) held_read_ = held_size_ = 0;
  CleanupIfIdle();
  return delivered;
}

std::optional<absl::Status> SessionCore::FindFarewell() {
  for (;;) {
    const tp::DecodeResult r = decoder_->Next();
    if (r.status != tp::DecodeStatus::kFrame) return std::nullopt;
    switch (r.frame.type()) {
      case MessageType::kError:
        if (tp::ErrorView(r.frame).fatal()) {
          return FatalErrorStatus(tp::ErrorView(r.frame));
        }
        break;
      case MessageType::kLogonReject: {
        const tp::ErrorView reject(r.frame);
        return GatewayError(reject.code(),
                            absl::StrCat("logon rejected by ", peer_),
                            reject.text());
      }
      case MessageType::kLogout:
        if (phase_ != Phase::kClosing) {
          return LogoutStatus(tp::LogoutView(r.frame));
        }
        break;
      default:
        break;
    }
  }
}

// ======================================================================
// Liveness

bool SessionCore::CheckLiveness(SteadyClock::time_point now) {
  if (received_since_check_) {
    received_since_check_ = false;
    last_receive_ = now;
  }
  if (sent_since_check_) {
    sent_since_check_ = false;
    last_send_ = now;
  }
  if (now - last_receive_ >= 3 * heartbeat_) {
    const std::string text =
        absl::StrCat("nothing received for ", Millis(now - last_receive_),
                     " ms (3 heartbeat intervals)");
    const std::size_t n = tp::EncodeError(
        scratch_,
        {.code = ErrorCode::kHeartbeatTimeout, .fatal = true, .text = text});
    host_.SendBestEffort({scratch_.data(), n});
    Fail(absl::UnavailableError(absl::StrCat(
        "gateway ", peer_, " went silent: ", text, "; connection closed")));
    return false;
  }
  return phase_ == Phase::kOpen && now - last_send_ >= heartbeat_;
}

void SessionCore::HeartbeatSent(SteadyClock::time_point now) {
  ++stats_.heartbeats_sent;
  sent_since_check_ = false;
  last_send_ = now;
}

}  // namespace tachyon::client::internal

namespace tachyon::client {

// ======================================================================
// SessionInfo: the accessors both clients share.

const std::string& SessionInfo::peer() const { return core_->peer(); }
SessionId SessionInfo::session_id() const { return core_->session_id(); }
std::chrono::milliseconds SessionInfo::heartbeat_interval() const {
  return core_->heartbeat();
}
std::uint32_t SessionInfo::max_frame_length() const {
  return core_->max_frame_length();
}
std::size_t SessionInfo::max_payload_length() const {
  return core_->max_payload();
}
const ClientStats& SessionInfo::stats() const { return core_->stats(); }
std::uint64_t SessionInfo::gateway_epoch() const {
  return core_->gateway_epoch();
}

std::uint16_t SessionInfo::protocol_version() const {
  return core_->negotiated_version();
}

}  // namespace tachyon::client
