// The protocol core shared by Client and AsyncClient: frame dispatch,
// per-stream sequence tracking, pending requests and outgoing frames. See
// session_core.h.
#include "session_core.h"

#include <time.h>

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

std::uint32_t ClampMillis(std::chrono::milliseconds ms) {
  return static_cast<std::uint32_t>(
      std::clamp<std::int64_t>(ms.count(), 0, UINT32_MAX));
}

}  // namespace

// ======================================================================
// Free helpers

std::int64_t RealtimeNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::string Quoted(std::string_view s) {
  return absl::StrCat("\"", View(s), "\"");
}

absl::Status CheckStreamName(std::string_view name, bool allow_pattern) {
  const bool pattern = !name.empty() && name.back() == '*';
  if (pattern && !allow_pattern) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid stream name ", Quoted(name),
        ": a pattern cannot be opened for publishing; name one stream"));
  }
  if (pattern ? tp::IsValidPattern(name) : tp::IsValidStreamName(name)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid stream ", pattern ? "pattern " : "name ", Quoted(name),
      ": names are 1-255 characters of A-Z a-z 0-9 . _ -",
      allow_pattern ? ", optionally ending in a single '*' (prefix pattern)"
                    : ""));
}

absl::Status CheckSubscribe(std::string_view name, StartPosition start,
                            const MessageHandler& on_message,
                            std::string_view method) {
  if (absl::Status s = CheckStreamName(name, /*allow_pattern=*/true); !s.ok()) {
    return s;
  }
  if (start.mode() == tp::StartMode::kSequence &&
      start.sequence().value() == 0) {
    return absl::InvalidArgumentError(
        "start sequence must be >= 1 (sequences start at 1)");
  }
  if (!on_message) {
    return absl::InvalidArgumentError(
        absl::StrCat(View(method), " needs a message handler"));
  }
  return absl::OkStatus();
}

absl::Status CheckLogonFields(const ClientOptions& options) {
  if (options.token.size() > tp::kMaxLogonFieldLength ||
      options.client_name.size() > tp::kMaxLogonFieldLength) {
    return absl::InvalidArgumentError(
        "token and client name must each be at most 255 bytes");
  }
  return absl::OkStatus();
}

// ======================================================================
// Lifecycle and receiving

SessionCore::SessionCore(const ClientOptions& options, SessionHost& host)
    : options_(options), host_(host) {
  // Before LOGON_ACK the gateway sends only short frames; decode with the
  // protocol's default limit until it announces the session's.
  rx_size_ = std::max(options_.receive_buffer_bytes,
                      2 * tp::FrameDecoder::MinStorage(max_frame_length_));
  rx_ = std::make_unique<std::byte[]>(rx_size_);
  decoder_.emplace(std::span<std::byte>(rx_.get(), rx_size_),
                   max_frame_length_);
  pending_.reserve(8);
}

void SessionCore::BeginConnection() {
  phase_ = Phase::kLoggingOn;
  pending_.clear();
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
    auto storage = std::make_unique<std::byte[]>(want);
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
// Encoding

std::size_t SessionCore::LogonLength() const {
  return tp::PaddedLength(tp::LogonView::kFixedLength + options_.token.size() +
                          options_.client_name.size());
}

std::size_t SessionCore::EncodeLogon(std::span<std::byte> out) {
  const std::size_t n = tp::EncodeLogon(
      out, {.heartbeat_interval_ms = ClampMillis(options_.heartbeat_interval),
            .token = options_.token,
            .client_name = options_.client_name});
  if (n > 0) Expect(ReplyKind::kLogon, 0);
  return n;
}

std::size_t SessionCore::EncodeOpenStream(std::span<std::byte> out,
                                          std::uint32_t id,
                                          std::string_view name) {
  const std::size_t n = tp::EncodeOpenStream(out, id, name);
  if (n > 0) Expect(ReplyKind::kOpenStream, id);
  return n;
}

std::size_t SessionCore::SubscribeLength(std::string_view name) {
  return tp::PaddedLength(tp::SubscribeView::kFixedLength + name.size());
}

std::size_t SessionCore::EncodeSubscribe(std::span<std::byte> out,
                                         std::uint32_t id,
                                         std::string_view name,
                                         StartPosition start) {
  const std::size_t n =
      tp::EncodeSubscribe(out, {.subscription_id = SubscriptionId{id},
                                .start = start.mode(),
                                .start_sequence = start.sequence(),
                                .name = name});
  if (n > 0) Expect(ReplyKind::kSubscribe, id);
  return n;
}

std::size_t SessionCore::EncodeUdpSubscribe(std::span<std::byte> out,
                                            std::uint32_t id,
                                            std::string_view name,
                                            std::array<std::uint8_t, 4> address,
                                            std::uint16_t port) {
  const std::size_t n =
      tp::EncodeUdpSubscribe(out, {.subscription_id = SubscriptionId{id},
                                   .address = address,
                                   .port = port,
                                   .name = name});
  if (n > 0) Expect(ReplyKind::kUdpSubscribe, id);
  return n;
}

std::size_t SessionCore::EncodePublish(std::span<std::byte> out,
                                       std::uint32_t wire,
                                       std::uint64_t correlation,
                                       std::span<const std::byte> payload,
                                       tp::AckMode ack) {
  const std::size_t n =
      tp::EncodePublish(out, StreamId{wire}, correlation, payload, ack);
  if (n == 0) return 0;
  ++stats_.publishes;
  if (ack == tp::AckMode::kRequested) {
    Expect(ReplyKind::kPublishAck, correlation);
  }
  return n;
}

std::size_t SessionCore::EncodeRequest(std::span<std::byte> out,
                                       std::uint64_t correlation,
                                       std::uint32_t service_id,
                                       std::chrono::milliseconds timeout,
                                       std::span<const std::byte> payload) {
  const std::size_t n =
      tp::EncodeRequest(out, {.correlation_id = correlation,
                              .service_id = service_id,
                              .timeout_ms = ClampMillis(timeout),
                              .payload = payload});
  if (n > 0) Expect(ReplyKind::kResponse, correlation);
  return n;
}

std::size_t SessionCore::EncodeHeartbeat(std::span<std::byte> out) {
  return tp::EncodeHeartbeat(out, RealtimeNs());
}

std::size_t SessionCore::EncodeLogout(std::span<std::byte> out) {
  const std::size_t n = tp::EncodeLogout(out, ErrorCode::kNone);
  if (n > 0 && phase_ == Phase::kOpen) {
    phase_ = Phase::kClosing;
    Expect(ReplyKind::kLogout, 0);
  }
  return n;
}

std::span<const std::byte> SessionCore::LogoutFrame() {
  static const std::array<std::byte, tp::LogoutView::kFixedLength> frame = [] {
    std::array<std::byte, tp::LogoutView::kFixedLength> f{};
    (void)tp::EncodeLogout(f, ErrorCode::kNone);
    return f;
  }();
  return frame;
}

// ======================================================================
// Streams opened for publishing

std::optional<StreamId> SessionCore::FindOpened(std::string_view name) const {
  const auto it = open_by_name_.find(View(name));
  if (it == open_by_name_.end()) return std::nullopt;
  return it->second;
}

void SessionCore::RecordOpened(std::string_view name, StreamId id) {
  open_by_name_.insert_or_assign(std::string(name), id);
  wire_ids_[id.value()] = id.value();
}

absl::StatusOr<std::uint32_t> SessionCore::CheckPublish(
    StreamId stream, std::size_t length, std::string_view open_method) const {
  if (length > max_payload_) [[unlikely]] {
    return absl::InvalidArgumentError(
        absl::StrCat("payload of ", length, " bytes exceeds the limit of ",
                     max_payload_, " bytes for this session"));
  }
  const auto it = wire_ids_.find(stream.value());
  if (it == wire_ids_.end()) [[unlikely]] {
    return absl::FailedPreconditionError(absl::StrCat(
        "stream id ", stream.value(), " was not opened by this client; call ",
        View(open_method), " first"));
  }
  if (it->second == 0) [[unlikely]] {
    return absl::FailedPreconditionError(
        absl::StrCat("stream id ", stream.value(),
                     " could not be re-opened after reconnecting"));
  }
  return it->second;
}

std::uint32_t SessionCore::WireId(StreamId stream) const {
  const auto it = wire_ids_.find(stream.value());
  return it == wire_ids_.end() ? 0 : it->second;
}

// ======================================================================
// Subscriptions

Subscription* SessionCore::AddSubscription(std::uint32_t id,
                                           std::string_view name,
                                           StartPosition start,
                                           MessageHandler on_message,
                                           GapHandler on_gap) {
  CleanupIfIdle();
  auto sub = std::make_unique<Subscription>();
  sub->id = SubscriptionId{id};
  sub->name = std::string(name);
  sub->pattern = !name.empty() && name.back() == '*';
  sub->start = start;
  sub->on_message = std::move(on_message);
  sub->on_gap = std::move(on_gap);
  Subscription* raw = sub.get();
  subs_.insert_or_assign(id, std::move(sub));
  return raw;
}

absl::StatusOr<const Subscription*> SessionCore::EndSubscription(
    SubscriptionId id) {
  const auto it = subs_.find(id.value());
  if (it == subs_.end() || !it->second->active) {
    return absl::NotFoundError(
        absl::StrCat("no active subscription with id ", id.value()));
  }
  it->second->active = false;
  needs_cleanup_ = true;
  return it->second.get();
}

void SessionCore::CleanupIfIdle() {
  if (needs_cleanup_ && in_callback_ == 0) Cleanup();
}

void SessionCore::Cleanup() {
  needs_cleanup_ = false;
  const auto ended = [](const Subscription* s) { return !s->active; };
  for (auto it = streams_.begin(); it != streams_.end();) {
    auto& subs = it->second.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(), ended), subs.end());
    if (subs.empty()) {
      // Frames already on the way for this stream are ignored from now on.
      streams_.erase(it++);
    } else {
      ++it;
    }
  }
  absl::erase_if(aliases_, [&](const auto& kv) { return ended(kv.second); });
  for (auto& [name, state] : resume_states_) {
    auto& subs = state.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(), ended), subs.end());
  }
  absl::erase_if(subs_, [&](const auto& kv) { return ended(kv.second.get()); });
}

// ======================================================================
// Resuming

void SessionCore::PrepareResume() {
  // A previous failed attempt may have re-keyed some already.
  for (auto& [id, state] : streams_) {
    std::string name = state.name;
    resume_states_.insert_or_assign(std::move(name), std::move(state));
  }
  streams_.clear();
  aliases_.clear();
  for (auto& [id, sub] : subs_) sub->aliases.clear();
}

StartPosition SessionCore::ResumePosition(std::string_view name,
                                          StartPosition fallback) const {
  const auto it = resume_states_.find(View(name));
  if (it == resume_states_.end() || !it->second.positioned) return fallback;
  return StartPosition::From(it->second.expected);
}

std::vector<std::pair<std::string, Sequence>> SessionCore::CoveredStreams(
    const Subscription& pattern) const {
  std::vector<std::pair<std::string, Sequence>> covered;
  for (const auto& [name, state] : resume_states_) {
    if (state.positioned &&
        std::find(state.subscribers.begin(), state.subscribers.end(),
                  &pattern) != state.subscribers.end()) {
      covered.emplace_back(name, state.expected);
    }
  }
  return covered;
}

void SessionCore::AddAlias(Subscription& sub, std::uint32_t alias) {
  sub.aliases.push_back(alias);
  aliases_[alias] = &sub;
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
      break;
  }
  // A client-only type, or a second logon answer (PROTOCOL.md 7.5).
  ProtocolViolation(
      ErrorCode::kUnexpectedMessage,
      absl::StrCat("unexpected ", View(tp::MessageTypeName(type))));
  return false;
}

void SessionCore::HandleLogonAck(const tp::LogonAckView& ack) {
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

void SessionCore::HandleError(const tp::ErrorView& error) {
  if (error.fatal()) {
    std::string context =
        logged_on() ? absl::StrCat("gateway ", peer_, " closed the session")
                    : absl::StrCat(peer_, " refused the session");
    if (error.stream_id().value() != 0) {
      absl::StrAppend(&context, " (stream ", error.stream_id().value(), ")");
    }
    Fail(GatewayError(error.code(), context, error.text()));
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
  const ErrorCode reason = logout.reason();
  Fail(absl::UnavailableError(
      absl::StrCat("gateway ", peer_, " ended the session (LOGOUT",
                   reason == ErrorCode::kNone
                       ? std::string()
                       : absl::StrCat(" ", View(tp::ErrorCodeName(reason))),
                   ")")));
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

}  // namespace tachyon::client
