// tachyon::client::Client — the receive loop (Poll, AwaitReply), socket
// I/O, heartbeats and the handler of each frame type the gateway sends.
#include <poll.h>
#include <time.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client_impl.h"
#include "socket.h"
#include "status.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::client {

namespace tp = ::tachyon::protocol;
using internal::Clock;
using internal::PendingReply;
using internal::ReplyKind;
using internal::StreamState;
using internal::Subscription;
using ::tachyon::protocol::ErrorCode;
using ::tachyon::protocol::MessageType;

namespace {

std::int64_t RealtimeNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t Millis(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

std::string_view RefusalHint(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBackPressured:
      return "a subscriber is behind on this stream; retry later";
    case ErrorCode::kLimitExceeded:
      return "payload too long or publish rate limit exceeded";
    case ErrorCode::kUnknownStream:
      return "the stream was not opened by this session";
    default:
      return "";
  }
}

}  // namespace

// ======================================================================
// The receive loop

absl::Status Client::Impl::CheckReceivingCall(const char* method) const {
  if (in_callback_ > 0) [[unlikely]] {
    return absl::FailedPreconditionError(absl::StrCat(
        method,
        " called from a handler; only Publish, TryClaim, Commit, Abort "
        "and Unsubscribe may be"));
  }
  if (!open_) return closed_status_;
  return absl::OkStatus();
}

absl::StatusOr<int> Client::Impl::Poll(int max_messages,
                                       std::chrono::milliseconds timeout) {
  if (max_messages <= 0) {
    return absl::InvalidArgumentError("Poll: max_messages must be >= 1");
  }
  if (!open_ && reconnecting_ && in_callback_ == 0) {
    if (needs_cleanup_) Cleanup();
    // Disconnected: attempt when the backoff allows (never with a claim
    // outstanding, whose frame sits in the send buffer the resume uses).
    const Clock::time_point deadline = Clock::now() + timeout;
    for (;;) {
      const Clock::time_point now = Clock::now();
      if (!claimed_ && now >= next_attempt_) TryReconnect();
      if (open_) break;
      if (!reconnecting_) return closed_status_;  // gave up
      if (now >= deadline) return 0;
      std::this_thread::sleep_for(std::min(deadline, next_attempt_) - now);
    }
  }
  if (absl::Status s = CheckReceivingCall("Poll"); !s.ok()) return s;
  if (needs_cleanup_) Cleanup();
  if (!batch_.empty()) (void)FlushBatch();  // a failure shows below
  int delivered = DispatchBuffered(max_messages, false);
  bool waiting = false;
  Clock::time_point deadline;
  while (open_ && delivered < max_messages) {
    // Each syscall counts on the latency path. A blocking Poll whose last
    // read left the socket empty waits first rather than try a read that
    // can only fail; a read that left it empty (short) ends the Poll once
    // something was delivered, instead of reading again for an EAGAIN.
    const bool wait_first =
        socket_drained_ && timeout.count() > 0 && delivered == 0 && !waiting;
    if (!wait_first && ReceiveAvailable()) {
      delivered += DispatchBuffered(max_messages - delivered, false);
      if (socket_drained_ && delivered > 0) break;
      continue;
    }
    if (!open_ || delivered > 0 || timeout.count() <= 0) break;
    const Clock::time_point now = Clock::now();
    if (!waiting) {
      waiting = true;
      deadline = now + timeout;
    }
    CheckLiveness(now);
    if (!open_ || now >= deadline) break;
    // Wake at least once per heartbeat interval to send ours.
    internal::WaitFor(fd_.get(), POLLIN,
                      std::min<Clock::duration>(deadline - now, heartbeat_));
  }
  if (open_) CheckLiveness(Clock::now());
  // A loss that starts a reconnect is reported through on_error; Poll keeps
  // returning work counts until the client gives up.
  if (!open_ && delivered == 0 && !reconnecting_) return closed_status_;
  return delivered;
}

absl::Status Client::Impl::AwaitReply(Clock::time_point deadline,
                                      std::string_view what) {
  const Clock::time_point start = Clock::now();
  for (;;) {
    DispatchBuffered(INT_MAX, /*stop_at_reply=*/true);
    if (pending_.done) {
      pending_.kind = ReplyKind::kNone;
      return pending_.status;
    }
    if (!open_) {
      pending_.kind = ReplyKind::kNone;
      return closed_status_;
    }
    if (ReceiveAvailable()) continue;
    if (!open_) continue;
    const Clock::time_point now = Clock::now();
    if (logged_on_) {
      CheckLiveness(now);
      if (!open_) continue;
    }
    if (now >= deadline) {
      pending_.kind = ReplyKind::kNone;
      return absl::DeadlineExceededError(
          absl::StrCat("no ", std::string(what), " from ", peer_, " within ",
                       Millis(now - start), " ms"));
    }
    internal::WaitFor(fd_.get(), POLLIN,
                      std::min<Clock::duration>(deadline - now, heartbeat_));
  }
}

int Client::Impl::DispatchBuffered(int max_messages, bool stop_at_reply) {
  int delivered = 0;
  while (open_ && delivered < max_messages) {
    if (stop_at_reply && pending_.done) break;
    const tp::DecodeResult r = decoder_->Next();
    if (r.status == tp::DecodeStatus::kIncomplete) break;
    if (r.status == tp::DecodeStatus::kError) {
      ProtocolViolation(r.error, "malformed frame");
      break;
    }
    if (HandleFrame(r.frame)) ++delivered;
  }
  return delivered;
}

bool Client::Impl::ReceiveAvailable() {
  if (!open_) return false;
  const std::span<std::byte> space = decoder_->WritableSpan();
  const internal::IoResult r = internal::ReceiveSome(fd_.get(), space);
  socket_drained_ = r.bytes < space.size();
  if (r.bytes > 0) {
    decoder_->Commit(r.bytes);
    received_since_check_ = true;
    stats_.bytes_received += r.bytes;
    return true;
  }
  if (r.closed) {
    Fail(absl::UnavailableError(
        logged_on_ ? absl::StrCat("gateway ", peer_, " closed the connection")
                   : absl::StrCat(peer_,
                                  " closed the connection before answering "
                                  "LOGON (is it a Tachyon gateway?)")));
  } else if (r.error != 0) {
    Fail(absl::UnavailableError(absl::StrCat(
        "connection to ", peer_, " lost: ", internal::ErrnoText(r.error))));
  }
  return false;
}

absl::Status Client::Impl::SendFrame(std::span<const std::byte> frame) {
  if (!batch_.empty()) {
    if (absl::Status s = FlushBatch(); !s.ok()) return s;
  }
  return SendBytes(frame);
}

absl::Status Client::Impl::FlushBatch() {
  if (batch_.empty()) return open_ ? absl::OkStatus() : closed_status_;
  const absl::Status s = SendBytes(batch_);
  batch_.clear();  // sent, or lost with the connection (reported by `s`)
  return s;
}

absl::Status Client::Impl::SendBytes(std::span<const std::byte> frame) {
  if (!open_) return closed_status_;
  std::size_t sent = 0;
  std::optional<Clock::time_point> deadline;
  while (sent < frame.size()) {
    const internal::IoResult r =
        internal::SendSome(fd_.get(), frame.subspan(sent));
    if (r.error != 0) {
      Fail(absl::UnavailableError(absl::StrCat(
          "connection to ", peer_, " lost: ", internal::ErrnoText(r.error))));
      return closed_status_;
    }
    sent += r.bytes;
    if (sent == frame.size()) break;
    if (r.bytes > 0) continue;
    // The kernel's send buffer is full: the gateway is not reading.
    const Clock::time_point now = Clock::now();
    if (!deadline) deadline = now + options_.send_timeout;
    if (now >= *deadline) {
      Fail(absl::UnavailableError(absl::StrCat(
          "gateway ", peer_, " is not reading: send timed out after ",
          options_.send_timeout.count(), " ms; connection closed")));
      return closed_status_;
    }
    internal::WaitFor(fd_.get(), POLLOUT, *deadline - now);
  }
  sent_since_check_ = true;
  stats_.bytes_sent += frame.size();
  return absl::OkStatus();
}

void Client::Impl::SendBestEffort(std::span<const std::byte> frame) {
  if (open_) (void)internal::SendSome(fd_.get(), frame);
}

void Client::Impl::CheckLiveness(Clock::time_point now) {
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
        ctl(),
        {.code = ErrorCode::kHeartbeatTimeout, .fatal = true, .text = text});
    SendBestEffort({ctl_.data(), n});
    Fail(absl::UnavailableError(absl::StrCat(
        "gateway ", peer_, " went silent: ", text, "; connection closed")));
    return;
  }
  // After our LOGOUT nothing more may be sent (PROTOCOL.md 14.4).
  if (!closing_ && now - last_send_ >= heartbeat_) {
    const std::size_t n = tp::EncodeHeartbeat(ctl(), RealtimeNs());
    if (SendFrame({ctl_.data(), n}).ok()) {
      ++stats_.heartbeats_sent;
      sent_since_check_ = false;
      last_send_ = now;
    }
  }
}

void Client::Impl::Fail(absl::Status status) {
  if (!open_) return;
  open_ = false;
  fd_.reset();
  if (!ShouldReconnect(status)) {
    closed_status_ = std::move(status);
    return;
  }
  reconnecting_ = true;
  attempts_ = 0;
  next_attempt_ = Clock::now();
  closed_status_ = absl::UnavailableError(
      absl::StrCat("not connected to ", peer_,
                   " (reconnecting after: ", status.message(), ")"));
  ReportAsync(
      absl::UnavailableError(absl::StrCat(status.message(), "; reconnecting")));
}

void Client::Impl::ProtocolViolation(ErrorCode code, std::string_view what) {
  const std::string text(what);
  const std::size_t n =
      tp::EncodeError(ctl(), {.code = code, .fatal = true, .text = text});
  SendBestEffort({ctl_.data(), n});
  Fail(absl::DataLossError(
      absl::StrCat(text, " from ", peer_, logged_on_ ? "" : " during logon",
                   ": ", std::string(tp::ErrorCodeName(code)),
                   logged_on_ ? "" : " (is it a Tachyon gateway?)")));
}

void Client::Impl::SizeBuffersForSession(std::uint32_t max_frame_length) {
  // WritableSpan moves the bytes received after LOGON_ACK to the front of
  // the storage, where the new decoder will find them.
  const std::size_t carried = decoder_->buffered();
  (void)decoder_->WritableSpan();
  const std::size_t want =
      std::max(options_.receive_buffer_bytes,
               2 * tp::FrameDecoder::MinStorage(max_frame_length));
  if (want != rx_size_) {
    auto storage = std::make_unique<std::byte[]>(want);
    std::memcpy(storage.get(), rx_.get(), carried);
    rx_ = std::move(storage);
    rx_size_ = want;
  }
  decoder_.emplace(std::span<std::byte>(rx_.get(), rx_size_), max_frame_length);
  decoder_->Commit(carried);
  tx_size_ = tp::PaddedLength(max_frame_length);
  tx_ = std::make_unique<std::byte[]>(tx_size_);
  batch_limit_ = options_.publish_batch_bytes;
  batch_.clear();
  batch_.reserve(batch_limit_);
}

// ======================================================================
// Frame handlers

bool Client::Impl::HandleFrame(tp::FrameView frame) {
  const MessageType type = frame.type();
  if (!logged_on_ && type != MessageType::kLogonAck &&
      type != MessageType::kLogonReject && type != MessageType::kError) {
    ProtocolViolation(
        ErrorCode::kUnexpectedMessage,
        absl::StrCat("unexpected ", std::string(tp::MessageTypeName(type)),
                     " before LOGON_ACK"));
    return false;
  }
  switch (type) {
    case MessageType::kData:
      return HandleData(tp::DataView(frame));
    case MessageType::kGap:
      HandleGap(tp::GapView(frame));
      return false;
    case MessageType::kHeartbeat:
      return false;
    case MessageType::kSubscribeAck:
      HandleSubscribeAck(tp::StreamAckView(frame));
      return false;
    case MessageType::kOpenStreamAck:
      HandleOpenStreamAck(tp::StreamAckView(frame));
      return false;
    case MessageType::kPublishAck:
      HandlePublishAck(tp::PublishAckView(frame));
      return false;
    case MessageType::kResponse:
      HandleResponse(tp::ResponseView(frame));
      return false;
    case MessageType::kError:
      HandleError(tp::ErrorView(frame));
      return false;
    case MessageType::kLogout:
      HandleLogout(tp::LogoutView(frame));
      return false;
    case MessageType::kLogonAck:
      if (!logged_on_ && pending_.kind == ReplyKind::kLogon) {
        HandleLogonAck(tp::LogonAckView(frame));
        return false;
      }
      break;
    case MessageType::kLogonReject:
      if (!logged_on_ && pending_.kind == ReplyKind::kLogon) {
        const tp::ErrorView reject(frame);
        pending_.done = true;
        pending_.status = internal::GatewayError(
            reject.code(), absl::StrCat("logon rejected by ", peer_),
            reject.text());
        Fail(pending_.status);
        return false;
      }
      break;
    case MessageType::kLogon:
    case MessageType::kOpenStream:
    case MessageType::kSubscribe:
    case MessageType::kUnsubscribe:
    case MessageType::kUdpSubscribe:
    case MessageType::kPublish:
    case MessageType::kRequest:
      break;
  }
  // A client-only type, or a second logon answer (PROTOCOL.md 7.5).
  ProtocolViolation(
      ErrorCode::kUnexpectedMessage,
      absl::StrCat("unexpected ", std::string(tp::MessageTypeName(type))));
  return false;
}

void Client::Impl::HandleLogonAck(const tp::LogonAckView& ack) {
  if (ack.negotiated_version() != tp::kProtocolVersion) {
    ProtocolViolation(
        ErrorCode::kUnsupportedVersion,
        absl::StrCat("LOGON_ACK with version ", ack.negotiated_version()));
    return;
  }
  // Frames we send must fit the announced limit exactly; we decode with a
  // floor of 1056 so that an ERROR from a misconfigured peer still decodes.
  max_frame_length_ =
      std::min(ack.max_frame_length(), tp::kMaxFrameLengthCeiling);
  // A DATA frame carries 32 bytes besides the payload (PROTOCOL.md 10.3).
  max_payload_ = max_frame_length_ > tp::DataView::kFixedLength
                     ? max_frame_length_ - tp::DataView::kFixedLength
                     : 0;
  session_id_ = ack.session_id();
  heartbeat_ = std::chrono::milliseconds(ack.heartbeat_interval_ms());
  SizeBuffersForSession(
      std::max(max_frame_length_, internal::kMinSessionFrameLength));
  logged_on_ = true;
  ever_logged_on_ = true;
  last_send_ = last_receive_ = Clock::now();
  pending_.done = true;
}

bool Client::Impl::HandleData(const tp::DataView& data) {
  if (closing_) return false;
  const auto it = streams_.find(data.stream_id().value());
  // Not (or no longer) subscribed: DATA still in flight after Unsubscribe.
  if (it == streams_.end()) return false;
  StreamState& stream = it->second;
  const Sequence sequence = data.sequence();
  if (sequence < stream.expected) [[unlikely]] {
    ++stats_.duplicates_dropped;
    return false;
  }
  if (sequence > stream.expected) [[unlikely]] {
    ReportGap(stream, data.stream_id(), stream.expected,
              Sequence{sequence.value() - 1}, GapOrigin::kDetected);
  }
  stream.expected = sequence.Next();
  ++stats_.messages_received;
  const Message message{.stream_id = data.stream_id(),
                        .stream_name = stream.name,
                        .sequence = sequence,
                        .timestamp_ns = data.timestamp_ns(),
                        .payload = data.payload()};
  CallbackScope scope(this);
  for (Subscription* sub : stream.subscribers) {
    if (sub->active) sub->on_message(message);
  }
  return true;
}

void Client::Impl::HandleGap(const tp::GapView& gap) {
  if (closing_) return;
  const auto it = streams_.find(gap.stream_id().value());
  if (it == streams_.end()) return;
  StreamState& stream = it->second;
  if (gap.to_sequence() < stream.expected) {
    ++stats_.duplicates_dropped;
    return;
  }
  if (gap.from_sequence() > stream.expected) {
    ReportGap(stream, gap.stream_id(), stream.expected,
              Sequence{gap.from_sequence().value() - 1}, GapOrigin::kDetected);
  }
  ReportGap(stream, gap.stream_id(),
            std::max(gap.from_sequence(), stream.expected), gap.to_sequence(),
            GapOrigin::kGateway);
  stream.expected = gap.to_sequence().Next();
}

void Client::Impl::ReportGap(StreamState& stream, StreamId id, Sequence from,
                             Sequence to, GapOrigin origin) {
  const Gap gap{.stream_id = id,
                .stream_name = stream.name,
                .from = from,
                .to = to,
                .origin = origin};
  ++stats_.gaps;
  stats_.messages_lost += gap.count();
  CallbackScope scope(this);
  for (Subscription* sub : stream.subscribers) {
    if (sub->active && sub->on_gap) sub->on_gap(gap);
  }
}

void Client::Impl::HandleSubscribeAck(const tp::StreamAckView& ack) {
  Subscription* sub = nullptr;
  if (const auto sit = subs_.find(ack.id()); sit != subs_.end()) {
    sub = sit->second.get();
  } else if (const auto ait = aliases_.find(ack.id()); ait != aliases_.end()) {
    sub = ait->second;
  }
  // A late ack for a subscription that timed out or was ended: ignore.
  if (sub == nullptr || !sub->active) return;
  if (ack.stream_id().value() != 0) {
    auto [it, inserted] = streams_.try_emplace(ack.stream_id().value());
    StreamState& stream = it->second;
    if (inserted) {
      const auto resumed = resume_states_.find(
          absl::string_view(ack.name().data(), ack.name().size()));
      if (resumed == resume_states_.end()) {
        stream.name = std::string(ack.name());
        stream.expected = ack.next_sequence();
      } else {
        // Resuming after a reconnect: keep our position. The gateway
        // answers "from `expected`" with `expected` itself, unless the
        // stream is now behind it — a restarted gateway whose stream began
        // again at 1. Its messages before next_sequence are lost to us.
        stream = std::move(resumed->second);
        resume_states_.erase(resumed);
        if (ack.next_sequence() < stream.expected) {
          stream.expected = ack.next_sequence();
          if (stream.expected.value() > 1) {
            ReportGap(stream, ack.stream_id(), Sequence{1},
                      Sequence{stream.expected.value() - 1},
                      GapOrigin::kDetected);
          }
        }
      }
    }
    // Otherwise another subscription already positioned this stream and
    // the ack carries the current position (PROTOCOL.md 11.6).
    if (std::find(stream.subscribers.begin(), stream.subscribers.end(), sub) ==
        stream.subscribers.end()) {
      stream.subscribers.push_back(sub);
    }
  }
  if (pending_.kind == ReplyKind::kSubscribe && pending_.id == ack.id()) {
    pending_.done = true;
  }
}

void Client::Impl::HandleOpenStreamAck(const tp::StreamAckView& ack) {
  if (pending_.kind == ReplyKind::kOpenStream && pending_.id == ack.id()) {
    pending_.stream = ack.stream_id();
    pending_.done = true;
  }
}

void Client::Impl::HandlePublishAck(const tp::PublishAckView& ack) {
  const ErrorCode status = ack.status();
  if (status != ErrorCode::kNone) ++stats_.publishes_refused;
  const bool answers_pending = pending_.kind == ReplyKind::kPublishAck &&
                               pending_.id == ack.correlation_id();
  if (answers_pending) pending_.done = true;
  if (status == ErrorCode::kNone) {
    if (answers_pending) pending_.sequence = ack.sequence();
    return;
  }
  absl::Status error = internal::GatewayError(
      status,
      absl::StrCat("publish to stream ", ack.stream_id().value(), " refused"),
      RefusalHint(status));
  if (answers_pending) {
    pending_.status = std::move(error);
  } else {
    ReportAsync(std::move(error));
  }
}

void Client::Impl::HandleResponse(const tp::ResponseView& response) {
  if (pending_.kind != ReplyKind::kResponse ||
      pending_.id != response.correlation_id()) {
    return;  // the answer to a request that already timed out
  }
  pending_.done = true;
  pending_.status = internal::ResponseError(
      response.status(),
      absl::StrCat("request to service ", response.service_id()),
      tp::AsText(response.payload()));
  if (pending_.status.ok()) {
    const auto payload = response.payload();
    pending_.response->assign(payload.begin(), payload.end());
  }
}

void Client::Impl::HandleError(const tp::ErrorView& error) {
  if (error.fatal()) {
    std::string context =
        logged_on_ ? absl::StrCat("gateway ", peer_, " closed the session")
                   : absl::StrCat(peer_, " refused the session");
    if (error.stream_id().value() != 0) {
      absl::StrAppend(&context, " (stream ", error.stream_id().value(), ")");
    }
    Fail(internal::GatewayError(error.code(), context, error.text()));
    return;
  }
  // A non-fatal ERROR answers an OPEN_STREAM or SUBSCRIBE by its context.
  if ((pending_.kind == ReplyKind::kOpenStream ||
       pending_.kind == ReplyKind::kSubscribe) &&
      pending_.id == error.context()) {
    pending_.done = true;
    pending_.status =
        internal::GatewayError(error.code(), "refused", error.text());
    return;
  }
  ReportAsync(internal::GatewayError(
      error.code(), absl::StrCat("gateway ", peer_, " reported"),
      error.text()));
}

void Client::Impl::HandleLogout(const tp::LogoutView& logout) {
  if (closing_) {
    pending_.done = true;
    Fail(absl::OkStatus());
    return;
  }
  const std::size_t n = tp::EncodeLogout(ctl(), ErrorCode::kNone);
  SendBestEffort({ctl_.data(), n});
  const ErrorCode reason = logout.reason();
  Fail(absl::UnavailableError(absl::StrCat(
      "gateway ", peer_, " ended the session (LOGOUT",
      reason == ErrorCode::kNone
          ? std::string()
          : absl::StrCat(" ", std::string(tp::ErrorCodeName(reason))),
      ")")));
}

void Client::Impl::ReportAsync(absl::Status status) {
  ++stats_.async_errors;
  if (options_.on_error) {
    CallbackScope scope(this);
    options_.on_error(status);
  }
}

}  // namespace tachyon::client
