// The protocol core's frame handlers: what each frame the gateway sends
// does to the session — delivery with per-stream sequence tracking, acks
// answering pending requests, and the frames that end the session. See
// session_core.h.
#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "session_core.h"
#include "status.h"

namespace tachyon::client::internal {

namespace tp = ::tachyon::protocol;
using ::tachyon::protocol::ErrorCode;
using ::tachyon::protocol::MessageType;

namespace {

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
// Frame handlers

bool SessionCore::HandleFrame(tp::FrameView frame) {
  const MessageType type = frame.type();
  if (!logged_on() && type != MessageType::kLogonAck &&
      type != MessageType::kLogonReject && type != MessageType::kError) {
    ProtocolViolation(
        ErrorCode::kUnexpectedMessage,
        absl::StrCat("unexpected ", View(tp::MessageTypeName(type)),
                     " before LOGON_ACK"));
    return false;
  }
  if (holding_ && ShouldHold(frame)) {
    Hold(frame);
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
    case MessageType::kOpenStreamAck: {
      const tp::StreamAckView ack(frame);
      // Otherwise the answer to an open that timed out.
      if (TakePending(ReplyKind::kOpenStream, ack.id())) {
        Answer({.kind = ReplyKind::kOpenStream,
                .id = ack.id(),
                .stream = ack.stream_id()});
      }
      return false;
    }
    case MessageType::kPublishAck:
      HandlePublishAck(tp::PublishAckView(frame));
      return false;
    case MessageType::kResponse:
      HandleResponse(tp::ResponseView(frame));
      return false;
    case MessageType::kServiceLookupAck:
      HandleServiceLookupAck(tp::ServiceLookupAckView(frame));
      return false;
    case MessageType::kError:
      HandleError(tp::ErrorView(frame));
      return false;
    case MessageType::kLogout:
      HandleLogout(tp::LogoutView(frame));
      return false;
    case MessageType::kLogonAck:
      if (phase_ == Phase::kLoggingOn && IsPending(ReplyKind::kLogon, 0)) {
        HandleLogonAck(tp::LogonAckView(frame));
        return false;
      }
      break;
    case MessageType::kLogonReject:
      if (phase_ == Phase::kLoggingOn && TakePending(ReplyKind::kLogon, 0)) {
        const tp::ErrorView reject(frame);
        Fail(GatewayError(reject.code(),
                          absl::StrCat("logon rejected by ", peer_),
                          reject.text()));
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
    case MessageType::kServiceLookup:
      break;
  }
  // A client-only type, or a second logon answer (PROTOCOL.md 7.5).
  ProtocolViolation(
      ErrorCode::kUnexpectedMessage,
      absl::StrCat("unexpected ", View(tp::MessageTypeName(type))));
  return false;
}

bool SessionCore::HandleHeld(tp::FrameView frame) {
  switch (frame.type()) {
    case MessageType::kData:
      return HandleData(tp::DataView(frame));
    case MessageType::kGap:
      HandleGap(tp::GapView(frame));
      return false;
    default:
      // Acks and refusals matter only to a session that goes on.
      if (phase_ != Phase::kOpen) return false;
      return HandleFrame(frame);
  }
}

void SessionCore::HandleLogonAck(const tp::LogonAckView& ack) {
  // We offered 1..kMaxProtocolVersion (EncodeLogon).
  if (ack.negotiated_version() < tp::kProtocolVersion ||
      ack.negotiated_version() > tp::kMaxProtocolVersion) {
    ProtocolViolation(
        ErrorCode::kUnsupportedVersion,
        absl::StrCat("LOGON_ACK with version ", ack.negotiated_version(),
                     " (offered ", tp::kProtocolVersion, "..",
                     tp::kMaxProtocolVersion, ")"));
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
  negotiated_version_ = ack.negotiated_version();
  gateway_epoch_ = ack.instance_epoch();
  if (!positions_counted_) {
    positions_counted_ = true;
    positions_epoch_ = gateway_epoch_;
  }
  heartbeat_ = std::chrono::milliseconds(ack.heartbeat_interval_ms());
  SizeReceiveBuffer(std::max(max_frame_length_, kMinSessionFrameLength));
  phase_ = Phase::kOpen;
  StartLiveness(SteadyClock::now());
  (void)TakePending(ReplyKind::kLogon, 0);
  Answer({.kind = ReplyKind::kLogon});
}

bool SessionCore::HandleData(const tp::DataView& data) {
  // After our LOGOUT nothing more is delivered.
  if (!delivering()) return false;
  const auto it = streams_.find(data.stream_id().value());
  // Not (or no longer) subscribed: DATA still in flight after Unsubscribe.
  if (it == streams_.end()) return false;
  StreamState& stream = it->second;
  const Sequence sequence = data.sequence();
  if (stream.positioned) [[likely]] {
    if (sequence < stream.expected) [[unlikely]] {
      ++stats_.duplicates_dropped;
      return false;
    }
    if (sequence > stream.expected) [[unlikely]] {
      ReportGap(stream, data.stream_id(), stream.expected,
                Sequence{sequence.value() - 1}, GapOrigin::kDetected);
    }
  }
  stream.expected = sequence.Next();
  stream.positioned = true;
  ++stats_.messages_received;
  const Message message{.stream_id = data.stream_id(),
                        .stream_name = stream.name,
                        .sequence = sequence,
                        .timestamp_ns = data.timestamp_ns(),
                        .payload = data.payload()};
  // Handlers may end subscriptions (dropped after the dispatch) or close the
  // session (delivery stops at once).
  CallbackScope scope(this);
  for (Subscription* sub : stream.subscribers) {
    if (!delivering()) break;
    if (sub->active) sub->on_message(message);
  }
  return true;
}

void SessionCore::HandleGap(const tp::GapView& gap) {
  if (!delivering()) return;
  const auto it = streams_.find(gap.stream_id().value());
  if (it == streams_.end()) return;
  StreamState& stream = it->second;
  Sequence from = gap.from_sequence();
  if (stream.positioned) {
    if (gap.to_sequence() < stream.expected) {
      ++stats_.duplicates_dropped;
      return;
    }
    if (from > stream.expected) {
      ReportGap(stream, gap.stream_id(), stream.expected,
                Sequence{from.value() - 1}, GapOrigin::kDetected);
    }
    from = std::max(from, stream.expected);
  }
  stream.expected = gap.to_sequence().Next();
  stream.positioned = true;
  ReportGap(stream, gap.stream_id(), from, gap.to_sequence(),
            GapOrigin::kGateway);
}

void SessionCore::ReportGap(StreamState& stream, StreamId id, Sequence from,
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
    if (!delivering()) break;
    if (sub->active && sub->on_gap) sub->on_gap(gap);
  }
}

void SessionCore::HandleSubscribeAck(const tp::StreamAckView& ack) {
  // One run, one epoch (PROTOCOL.md 7.6): anything else is not a gateway
  // we can trust with our positions.
  if (gateway_epoch_ != 0 && ack.has_epoch() &&
      ack.instance_epoch() != gateway_epoch_) {
    ProtocolViolation(
        ErrorCode::kUnexpectedMessage,
        absl::StrCat("SUBSCRIBE_ACK of instance epoch ", ack.instance_epoch(),
                     " in a session of epoch ", gateway_epoch_));
    return;
  }
  // A UDP delivery has no subscription here: UdpSubscriber receives it.
  if (TakePending(ReplyKind::kUdpSubscribe, ack.id())) {
    Answer({.kind = ReplyKind::kUdpSubscribe,
            .id = ack.id(),
            .stream = ack.stream_id(),
            .sequence = ack.next_sequence()});
    return;
  }
  Subscription* sub = nullptr;
  if (const auto sit = subs_.find(ack.id()); sit != subs_.end()) {
    sub = sit->second.get();
  } else if (const auto ait = aliases_.find(ack.id()); ait != aliases_.end()) {
    sub = ait->second;
  }
  // A late ack for a subscription that timed out or was ended is ignored.
  if (sub != nullptr && sub->active && ack.stream_id().value() != 0) {
    auto [it, inserted] = streams_.try_emplace(ack.stream_id().value());
    StreamState& stream = it->second;
    const Sequence next = ack.next_sequence();
    if (inserted) {
      const auto resumed = resume_states_.find(View(ack.name()));
      if (resumed != resume_states_.end()) {
        // Resuming after a reconnect: keep our position. The gateway
        // answers "from `expected`" with `expected` itself, unless the
        // stream is now behind it — a restarted gateway whose stream began
        // again at 1. Its messages before next_sequence are lost to us.
        stream = std::move(resumed->second);
        resume_states_.erase(resumed);
        if (next.value() != 0 && stream.positioned && next < stream.expected) {
          stream.expected = next;
          if (next.value() > 1) {
            ReportGap(stream, ack.stream_id(), Sequence{1},
                      Sequence{next.value() - 1}, GapOrigin::kDetected);
          }
        }
      } else {
        stream.name = std::string(ack.name());
      }
      // next_sequence 0 ("already being delivered to you", PROTOCOL.md
      // 11.6) for a stream we hold no position for — we dropped it locally
      // while another subscription kept it flowing — positions nothing: the
      // next DATA or GAP does.
      if (!stream.positioned && next.value() != 0) {
        stream.expected = next;
        stream.positioned = true;
      }
    }
    // Otherwise another subscription already positioned this stream and
    // delivery continues from there (PROTOCOL.md 11.6).
    if (std::find(stream.subscribers.begin(), stream.subscribers.end(), sub) ==
        stream.subscribers.end()) {
      stream.subscribers.push_back(sub);
    }
  }
  // The first ack of a subscription — the stream ack of an exact name, the
  // pattern ack of a pattern — answers the subscribe.
  if (TakePending(ReplyKind::kSubscribe, ack.id())) {
    Answer({.kind = ReplyKind::kSubscribe, .id = ack.id()});
  }
}

void SessionCore::HandlePublishAck(const tp::PublishAckView& ack) {
  const ErrorCode status = ack.status();
  const bool answers =
      TakePending(ReplyKind::kPublishAck, ack.correlation_id());
  if (status == ErrorCode::kNone) {
    if (answers) {
      Answer({.kind = ReplyKind::kPublishAck,
              .id = ack.correlation_id(),
              .sequence = ack.sequence()});
    }
    return;
  }
  ++stats_.publishes_refused;
  absl::Status error = GatewayError(
      status,
      absl::StrCat("publish to stream ", ack.stream_id().value(), " refused"),
      RefusalHint(status));
  if (answers) {
    Answer({.kind = ReplyKind::kPublishAck,
            .id = ack.correlation_id(),
            .status = std::move(error)});
  } else {
    ReportAsync(std::move(error));
  }
}

void SessionCore::HandleResponse(const tp::ResponseView& response) {
  // Otherwise the answer to a request that already timed out.
  if (!TakePending(ReplyKind::kResponse, response.correlation_id())) return;
  Answer({.kind = ReplyKind::kResponse,
          .id = response.correlation_id(),
          .status = ResponseError(
              response.status(),
              absl::StrCat("request to service ", response.service_id()),
              tp::AsText(response.payload())),
          .payload = response.payload()});
}

void SessionCore::HandleServiceLookupAck(const tp::ServiceLookupAckView& ack) {
  // Otherwise the answer to a lookup that already timed out.
  if (!TakePending(ReplyKind::kServiceLookup, ack.correlation_id())) return;
  Answer({.kind = ReplyKind::kServiceLookup,
          .id = ack.correlation_id(),
          .service_id = ack.service_id()});
}

absl::Status SessionCore::FatalErrorStatus(const tp::ErrorView& error) const {
  std::string context =
      logged_on() ? absl::StrCat("gateway ", peer_, " closed the session")
                  : absl::StrCat(peer_, " refused the session");
  if (error.stream_id().value() != 0) {
    absl::StrAppend(&context, " (stream ", error.stream_id().value(), ")");
  }
  return GatewayError(error.code(), context, error.text());
}

absl::Status SessionCore::LogoutStatus(const tp::LogoutView& logout) const {
  const ErrorCode reason = logout.reason();
  absl::Status status = absl::UnavailableError(
      absl::StrCat("gateway ", peer_, " ended the session (LOGOUT",
                   reason == ErrorCode::kNone
                       ? std::string()
                       : absl::StrCat(" ", View(tp::ErrorCodeName(reason))),
                   ")"));
  if (reason != ErrorCode::kNone) AttachGatewayCode(status, reason);
  return status;
}

void SessionCore::HandleError(const tp::ErrorView& error) {
  if (error.fatal()) {
    Fail(FatalErrorStatus(error));
    return;
  }
  // A non-fatal ERROR answers an OPEN_STREAM, SUBSCRIBE or UDP_SUBSCRIBE by
  // its context.
  const std::uint64_t id = error.context();
  for (const ReplyKind kind : {ReplyKind::kOpenStream, ReplyKind::kSubscribe,
                               ReplyKind::kUdpSubscribe}) {
    if (!TakePending(kind, id)) continue;
    if (kind == ReplyKind::kSubscribe) {
      // The gateway freed the id; so do we.
      (void)EndSubscription(SubscriptionId{static_cast<std::uint32_t>(id)});
    }
    Answer({.kind = kind,
            .id = id,
            .status = GatewayError(error.code(), "refused", error.text())});
    return;
  }
  ReportAsync(GatewayError(error.code(),
                           absl::StrCat("gateway ", peer_, " reported"),
                           error.text()));
}

void SessionCore::HandleLogout(const tp::LogoutView& logout) {
  if (phase_ == Phase::kClosing) {
    (void)TakePending(ReplyKind::kLogout, 0);
    phase_ = Phase::kClosed;
    Answer({.kind = ReplyKind::kLogout});
    return;
  }
  host_.SendBestEffort(LogoutFrame());
  host_.OnGracefulEnd();
  Fail(LogoutStatus(logout));
}

}  // namespace tachyon::client::internal
