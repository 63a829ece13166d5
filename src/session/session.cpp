#include "session/session.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/strings.h"
#include "server/worker.h"

namespace tachyon::session {

namespace tp = ::tachyon::protocol;
using base::Bump;
using server::UdpCommand;
using tp::ErrorCode;
using tp::MessageType;

namespace {
// How long a closing connection may take to flush its last frame, and how
// long we wait for the peer's EOF after shutting down our write side.
constexpr std::int64_t kCloseFlushNs = 2'000'000'000;
constexpr std::int64_t kLingerNs = 1'000'000'000;
constexpr std::size_t kControlReserve = 4096;
}  // namespace

Session::Session(Worker& worker, std::int64_t now_ns)
    : worker_(worker),
      max_frame_length_(worker.config().max_frame_length),
      created_ns_(now_ns),
      last_recv_ns_(now_ns),
      last_send_ns_(now_ns) {
  ctl_out_.reserve(kControlReserve);
  ctl_next_.reserve(kControlReserve);
  sources_.reserve(io::Reactor::kMaxIov);
  iov_.reserve(io::Reactor::kMaxIov);
  Bump<std::int64_t>(worker_.counters().sessions_open, 1);
}

Session::~Session() {
  DetachAll();
  Bump<std::int64_t>(worker_.counters().sessions_open, -1);
}

// ---------------------------------------------------------------- receive

void Session::OnData(std::span<const std::byte> data) {
  if (state_ != State::kAwaitLogon && state_ != State::kActive) return;
  last_recv_ns_ = worker_.now_ns();
  Bump<std::uint64_t>(worker_.counters().bytes_in, data.size());
  // Finish a frame split across reads: top up `partial_` with just enough
  // bytes to learn the frame's length, then to complete it.
  while (!partial_.empty() && !data.empty()) {
    std::size_t want;
    if (partial_.size() < tp::kHeaderLength) {
      want = tp::kHeaderLength - partial_.size();
    } else {
      const std::uint32_t len = tp::LoadU32(partial_.data());
      want = tp::PaddedLength(len) - partial_.size();
    }
    const std::size_t take = std::min(want, data.size());
    partial_.insert(partial_.end(), data.begin(), data.begin() + take);
    data = data.subspan(take);
    const tp::DecodeResult r = tp::DecodeFrame(partial_, max_frame_length_);
    if (r.status == tp::DecodeStatus::kError) {
      Fatal(r.error, "malformed frame");
      return;
    }
    if (r.status == tp::DecodeStatus::kFrame) {
      HandleFrame(r.frame);
      partial_.clear();
      if (partial_.capacity() > 4 * kControlReserve) partial_.shrink_to_fit();
      if (state_ != State::kAwaitLogon && state_ != State::kActive) return;
    }
  }
  // Whole frames straight from the receive buffer.
  while (!data.empty()) {
    const tp::DecodeResult r = tp::DecodeFrame(data, max_frame_length_);
    if (r.status == tp::DecodeStatus::kFrame) {
      HandleFrame(r.frame);
      data = data.subspan(r.consumed);
      if (state_ != State::kAwaitLogon && state_ != State::kActive) return;
      continue;
    }
    if (r.status == tp::DecodeStatus::kError) {
      Fatal(r.error, "malformed frame");
      return;
    }
    partial_.assign(data.begin(), data.end());
    break;
  }
}

void Session::HandleFrame(tp::FrameView frame) {
  Bump<std::uint64_t>(worker_.counters().frames_in);
  const MessageType type = frame.type();
  if (state_ == State::kAwaitLogon && type != MessageType::kLogon) {
    Fatal(ErrorCode::kUnexpectedMessage,
          absl::StrCat("expected LOGON, got ",
                       AbslView(tp::MessageTypeName(type))));
    return;
  }
  switch (type) {
    case MessageType::kLogon:
      if (state_ != State::kAwaitLogon) {
        Fatal(ErrorCode::kUnexpectedMessage, "LOGON after logon");
        return;
      }
      HandleLogon(tp::LogonView(frame));
      return;
    case MessageType::kHeartbeat:
      return;
    case MessageType::kLogout: {
      std::span<std::byte> out = ReserveControl(tp::LogoutView::kFixedLength);
      CommitControl(tp::EncodeLogout(out, ErrorCode::kNone));
      CloseAfterFlush();
      return;
    }
    case MessageType::kError: {
      const tp::ErrorView e(frame);
      TACHYON_LOG(kDebug) << "session " << session_id_.value()
                          << ": client ERROR " << tp::ErrorCodeName(e.code())
                          << ": " << e.text();
      if (e.fatal()) CloseAfterFlush();
      return;
    }
    case MessageType::kOpenStream:
      HandleOpenStream(tp::OpenStreamView(frame));
      return;
    case MessageType::kSubscribe:
      HandleSubscribe(tp::SubscribeView(frame));
      return;
    case MessageType::kUnsubscribe:
      HandleUnsubscribe(tp::UnsubscribeView(frame));
      return;
    case MessageType::kUdpSubscribe:
      HandleUdpSubscribe(tp::UdpSubscribeView(frame));
      return;
    case MessageType::kPublish:
      HandlePublish(tp::PublishView(frame));
      return;
    case MessageType::kRequest:
      HandleRequest(tp::RequestView(frame));
      return;
    case MessageType::kLogonAck:
    case MessageType::kLogonReject:
    case MessageType::kOpenStreamAck:
    case MessageType::kSubscribeAck:
    case MessageType::kGap:
    case MessageType::kPublishAck:
    case MessageType::kData:
    case MessageType::kResponse:
      Fatal(ErrorCode::kUnexpectedMessage,
            absl::StrCat(AbslView(tp::MessageTypeName(type)),
                         " is sent only by the gateway"));
      return;
  }
}

void Session::HandleLogon(const tp::LogonView& m) {
  const config::GatewayConfig& cfg = worker_.config();
  auto reject = [&](ErrorCode code, std::string_view text) {
    std::span<std::byte> out =
        ReserveControl(tp::ErrorView::kFixedLength + text.size() + 8);
    CommitControl(tp::EncodeLogonReject(out, {.code = code, .text = text}));
    Bump<std::uint64_t>(worker_.counters().logons_rejected);
    CloseAfterFlush();
  };
  if (m.min_version() > tp::kProtocolVersion ||
      m.max_version() < tp::kProtocolVersion) {
    reject(ErrorCode::kUnsupportedVersion,
           absl::StrCat("gateway speaks protocol version ",
                        tp::kProtocolVersion, "; client offered ",
                        m.min_version(), "..", m.max_version()));
    return;
  }
  if (!cfg.token.empty() && m.token() != cfg.token) {
    reject(ErrorCode::kNotAuthorized, "logon token rejected");
    return;
  }
  if (worker_.stopping()) {
    reject(ErrorCode::kShuttingDown, "gateway is shutting down");
    return;
  }
  std::uint32_t hb = m.heartbeat_interval_ms();
  if (hb == 0) hb = cfg.heartbeat_interval_ms;
  hb = std::clamp(hb, cfg.min_heartbeat_interval_ms,
                  cfg.max_heartbeat_interval_ms);
  heartbeat_ns_ = std::int64_t{hb} * 1'000'000;
  session_id_ = worker_.NextSessionId();
  std::span<std::byte> out = ReserveControl(tp::LogonAckView::kFixedLength);
  CommitControl(
      tp::EncodeLogonAck(out, {.version = tp::kProtocolVersion,
                               .heartbeat_interval_ms = hb,
                               .session_id = session_id_,
                               .max_frame_length = max_frame_length_}));
  state_ = State::kActive;
  if (cfg.max_publish_rate > 0) {
    publish_tokens_ = cfg.max_publish_rate;
    tokens_at_ns_ = worker_.now_ns();
  }
}

void Session::HandleOpenStream(const tp::OpenStreamView& m) {
  const std::string_view name = m.name();
  if (!tp::IsValidStreamName(name)) {
    QueueError(
        ErrorCode::kInvalidName, false,
        absl::StrCat("'", AbslView(name), "' is not a valid stream name"),
        m.request_id());
    return;
  }
  absl::StatusOr<stream::StreamLog*> log = worker_.OpenStream(name);
  if (!log.ok()) {
    QueueError(log.status().code() == absl::StatusCode::kResourceExhausted
                   ? ErrorCode::kLimitExceeded
                   : ErrorCode::kInternal,
               false, StdView(log.status().message()), m.request_id());
    return;
  }
  opened_streams_.insert((*log)->id().value());
  std::span<std::byte> out =
      ReserveControl(tp::StreamAckView::kFixedLength + name.size() + 8);
  CommitControl(
      tp::EncodeOpenStreamAck(out, {.stream_id = (*log)->id(),
                                    .id = m.request_id(),
                                    .next_sequence = (*log)->next_sequence(),
                                    .name = name}));
}

bool Session::RefuseDuplicateSubscription(std::uint32_t id) {
  if (!subscriptions_.contains(id)) return false;
  QueueError(ErrorCode::kDuplicateSubscription, false,
             absl::StrCat("subscription id ", id, " is already in use"), id);
  return true;
}

bool Session::RefuseSubscriptionOverLimit(std::uint32_t id) {
  const int limit = worker_.config().max_subscriptions_per_session;
  if (subscriptions_.size() < static_cast<std::size_t>(limit)) return false;
  QueueError(ErrorCode::kLimitExceeded, false,
             absl::StrCat("at most ", limit, " subscriptions per session"), id);
  return true;
}

stream::StreamLog* Session::OpenForSubscription(std::string_view name,
                                                std::uint32_t id) {
  absl::StatusOr<stream::StreamLog*> log = worker_.OpenStream(name);
  if (log.ok()) return *log;
  QueueError(log.status().code() == absl::StatusCode::kResourceExhausted
                 ? ErrorCode::kLimitExceeded
                 : ErrorCode::kInternal,
             false, StdView(log.status().message()), id);
  return nullptr;
}

void Session::HandleSubscribe(const tp::SubscribeView& m) {
  const std::uint32_t id = m.subscription_id().value();
  const std::string_view name = m.name();
  if (RefuseDuplicateSubscription(id)) return;
  const bool pattern = m.is_pattern();
  if (pattern ? !tp::IsValidPattern(name) : !tp::IsValidStreamName(name)) {
    QueueError(ErrorCode::kInvalidName, false,
               absl::StrCat("'", AbslView(name), "' is not a valid stream ",
                            pattern ? "pattern" : "name"),
               id);
    return;
  }
  if (RefuseSubscriptionOverLimit(id)) return;
  stream::StreamLog* exact = nullptr;
  if (!pattern) {
    exact = OpenForSubscription(name, id);
    if (exact == nullptr) return;
  }
  Subscription& sub = subscriptions_[id];
  sub.name = std::string(name);
  sub.pattern = pattern;
  const SubscriptionId sub_id{id};
  if (!pattern) {
    Cover(sub_id, sub, exact, m.start_mode(), m.start_sequence(), true);
    return;
  }
  ++pattern_count_;
  worker_.AddPatternSession(this);
  // The pattern's own ack (stream id 0), then one per matching stream.
  std::span<std::byte> out =
      ReserveControl(tp::StreamAckView::kFixedLength + name.size() + 8);
  CommitControl(tp::EncodeSubscribeAck(out, {.stream_id = StreamId{},
                                             .id = id,
                                             .next_sequence = Sequence{},
                                             .name = name}));
  const std::uint32_t n = worker_.registry().size();
  for (std::uint32_t s = 1; s <= n; ++s) {
    stream::StreamLog* log = worker_.registry().Find(StreamId{s});
    if (log != nullptr && stream::MatchesPattern(sub.name, log->name())) {
      Cover(sub_id, sub, log, m.start_mode(), m.start_sequence(), true);
    }
  }
}

void Session::OnNewStream(stream::StreamLog* log) {
  if (state_ != State::kActive) return;
  for (auto& [id, sub] : subscriptions_) {
    if (sub.pattern && stream::MatchesPattern(sub.name, log->name()) &&
        std::find(sub.streams.begin(), sub.streams.end(), log->id()) ==
            sub.streams.end()) {
      // A stream born after the subscription is delivered from its start.
      Cover(SubscriptionId{id}, sub, log, tp::StartMode::kEarliest, Sequence{},
            true);
    }
  }
}

void Session::Cover(SubscriptionId sub_id, Subscription& sub,
                    stream::StreamLog* log, tp::StartMode mode, Sequence start,
                    bool announce) {
  sub.streams.push_back(log->id());
  auto it = deliveries_.find(log->id().value());
  if (it != deliveries_.end() &&
      (!it->second->removing || it->second->restarting)) {
    // Already delivered to this session (or already re-covered while the
    // old frame finishes): the new subscription shares it and its ack says
    // so with next_sequence 0; the delivery does not move (PROTOCOL.md
    // 11.6).
    ++it->second->coverage;
  } else if (it != deliveries_.end()) {
    // Unsubscribed, but a send still references the delivery or its frame
    // is half on the wire. The new subscription starts where its own start
    // mode says, like a fresh one: its ack and GAP go out now (after the
    // old frame, which resumes ahead of control output), and the delivery
    // moves there once the old frame is finished (SettleRemoving). Until
    // then the old reader slot holds back-pressure at the old position;
    // Locate reaches back at most capacity - window, so the new start
    // cannot be lapped before it takes over.
    Delivery* d = it->second.get();
    ++d->coverage;
    const stream::StartPoint sp = log->Locate(mode, start);
    d->restarting = true;
    d->restart_position = sp.position;
    d->restart_lag = sp.tail - sp.position + log->window();
    d->restart_after_ctl = AnnounceStart(sub_id, log, sp, announce);
    announce = false;
    MarkDirty();
  } else {
    auto d = std::make_unique<Delivery>();
    d->log = log;
    d->coverage = 1;
    const stream::StartPoint sp = log->Attach(&d->slot, mode, start);
    d->position = sp.position;
    d->frame_start = sp.position;
    // A replay starting further back than the window gets one window of
    // headroom beyond its start distance, so appends racing the first
    // send do not make it a slow consumer at once. Attach starts replays
    // at most capacity - window back, so this never exceeds capacity: the
    // reader is cut off before the writer can overwrite bytes it is still
    // sending.
    d->allowed_lag = sp.tail - sp.position + log->window();
    d->ready_after_ctl = AnnounceStart(sub_id, log, sp, announce);
    announce = false;
    delivery_order_.push_back(d.get());
    worker_.AddReader(this, log);
    deliveries_.emplace(log->id().value(), std::move(d));
    MarkDirty();
  }
  if (announce) {
    const std::string_view name = log->name();
    std::span<std::byte> out =
        ReserveControl(tp::StreamAckView::kFixedLength + name.size() + 8);
    CommitControl(tp::EncodeSubscribeAck(out, {.stream_id = log->id(),
                                               .id = sub_id.value(),
                                               .next_sequence = Sequence{},
                                               .name = name}));
  }
}

std::uint64_t Session::AnnounceStart(SubscriptionId sub_id,
                                     stream::StreamLog* log,
                                     const stream::StartPoint& sp,
                                     bool announce) {
  if (announce) {
    const std::string_view name = log->name();
    const Sequence first =
        sp.gap_from.value() != 0 ? sp.gap_from : sp.next_sequence;
    std::span<std::byte> out =
        ReserveControl(tp::StreamAckView::kFixedLength + name.size() + 8);
    CommitControl(tp::EncodeSubscribeAck(out, {.stream_id = log->id(),
                                               .id = sub_id.value(),
                                               .next_sequence = first,
                                               .name = name}));
  }
  if (sp.gap_from.value() != 0) {
    std::span<std::byte> out = ReserveControl(tp::GapView::kFixedLength);
    CommitControl(tp::EncodeGap(out, log->id(), sp.gap_from, sp.gap_to));
  }
  return ctl_queued_total_;
}

void Session::HandleUnsubscribe(const tp::UnsubscribeView& m) {
  const std::uint32_t id = m.subscription_id().value();
  auto it = subscriptions_.find(id);
  if (it == subscriptions_.end()) {
    QueueError(ErrorCode::kUnknownSubscription, false,
               absl::StrCat("no subscription with id ", id), id);
    return;
  }
  for (StreamId s : it->second.streams) Uncover(s);
  ReleaseUdp(it->second);
  if (it->second.pattern && --pattern_count_ == 0) {
    worker_.RemovePatternSession(this);
  }
  subscriptions_.erase(it);
}

void Session::HandleUdpSubscribe(const tp::UdpSubscribeView& m) {
  const config::GatewayConfig& cfg = worker_.config();
  const std::uint32_t id = m.subscription_id().value();
  const std::string_view name = m.name();
  // Checks in the order of PROTOCOL.md 16.6.
  if (RefuseDuplicateSubscription(id)) return;
  if (!tp::IsValidStreamName(name)) {
    QueueError(ErrorCode::kInvalidName, false,
               absl::StrCat("'", AbslView(name),
                            "' is not a valid stream name (UDP_SUBSCRIBE "
                            "takes no patterns)"),
               id);
    return;
  }
  if (!cfg.udp.enabled) {
    QueueError(ErrorCode::kUdpRefused, false,
               "UDP egress is not enabled on this gateway", id);
    return;
  }
  sockaddr_storage peer{};
  socklen_t peer_len = sizeof peer;
  const bool peer_v4 =
      ::getpeername(conn_->fd(), reinterpret_cast<sockaddr*>(&peer),
                    &peer_len) == 0 &&
      peer.ss_family == AF_INET;
  const std::uint32_t peer_addr =
      peer_v4 ? reinterpret_cast<const sockaddr_in*>(&peer)->sin_addr.s_addr
              : 0;
  udp::Endpoint dest;
  dest.port = m.port();
  std::memcpy(&dest.address_be, m.address().data(), sizeof dest.address_be);
  if (m.address_is_peer()) {
    if (!peer_v4) {
      QueueError(ErrorCode::kUdpRefused, false,
                 "address 0.0.0.0 names this session's peer, which is not "
                 "IPv4",
                 id);
      return;
    }
    dest.address_be = peer_addr;
  }
  if (!cfg.udp.allow_remote_destinations &&
      (!peer_v4 || dest.address_be != peer_addr)) {
    QueueError(ErrorCode::kUdpRefused, false,
               absl::StrCat("destination ", dest.ToString(),
                            " is not this session's own address "
                            "(udp.allow_remote_destinations is false)"),
               id);
    return;
  }
  if (RefuseSubscriptionOverLimit(id)) return;
  stream::StreamLog* log = OpenForSubscription(name, id);
  if (log == nullptr) return;
  Subscription& sub = subscriptions_[id];
  sub.name = std::string(name);
  sub.udp = true;
  sub.udp_stream = log->id();
  sub.udp_destination = dest;
  // The stream's next sequence now: the owner starts the destination
  // exactly there, whenever it gets to the command.
  const Sequence next = log->next_sequence();
  worker_.RouteUdpCommand({.kind = UdpCommand::Kind::kAdd,
                           .stream = sub.udp_stream,
                           .destination = dest,
                           .from = next});
  std::span<std::byte> out =
      ReserveControl(tp::StreamAckView::kFixedLength + name.size() + 8);
  CommitControl(tp::EncodeSubscribeAck(out, {.stream_id = sub.udp_stream,
                                             .id = id,
                                             .next_sequence = next,
                                             .name = name}));
}

void Session::ReleaseUdp(Subscription& sub) {
  if (!sub.udp) return;
  worker_.RouteUdpCommand({.kind = UdpCommand::Kind::kRemove,
                           .stream = sub.udp_stream,
                           .destination = sub.udp_destination});
  sub.udp = false;
}

void Session::Uncover(StreamId stream) {
  auto it = deliveries_.find(stream.value());
  if (it == deliveries_.end()) return;
  Delivery* d = it->second.get();
  if (--d->coverage > 0) return;
  d->restarting = false;  // a restart not yet applied ends with its cover
  if (send_in_flight_ || (pinned_valid_ && pinned_.delivery == d)) {
    // A send in flight may reference it, or its frame is half on the wire:
    // finish first (SettleRemoving drops or restarts it).
    d->removing = true;
    return;
  }
  RemoveDelivery(d);
}

void Session::RemoveDelivery(Delivery* d) {
  if (!d->detached) {
    d->log->Detach(&d->slot);
    worker_.RemoveReader(this, d->log);
  }
  std::erase(delivery_order_, d);
  deliveries_.erase(d->log->id().value());
}

void Session::SettleRemoving() {
  for (std::size_t i = 0; i < delivery_order_.size();) {
    Delivery* d = delivery_order_[i];
    if (!d->removing || (pinned_valid_ && pinned_.delivery == d)) {
      ++i;
    } else if (d->restarting) {
      d->removing = false;
      d->restarting = false;
      d->position = d->restart_position;
      d->frame_start = d->position;
      d->slot.Set(d->position);
      d->allowed_lag = d->restart_lag;
      d->ready_after_ctl = d->restart_after_ctl;
      MarkDirty();
      ++i;
    } else {
      RemoveDelivery(d);  // erases delivery_order_[i]
    }
  }
}

std::uint64_t Session::FrameLengthAt(const Delivery& d, std::uint64_t p) {
  std::uint32_t length = 0;
  std::memcpy(&length, d.log->Readable(p, p + sizeof length).data(),
              sizeof length);
  return tp::PaddedLength(std::max<std::uint32_t>(
      length, static_cast<std::uint32_t>(tp::kHeaderLength)));
}

void Session::FindFrameStart(Delivery& d) {
  // Walks the headers of the frames just sent: at most one send's worth,
  // and only when a send stops inside a frame (the socket is full).
  std::uint64_t p = d.frame_start;
  for (std::uint64_t next = p + FrameLengthAt(d, p); next <= d.position;
       next = p + FrameLengthAt(d, p)) {
    p = next;
  }
  d.frame_start = p;
}

void Session::HandlePublish(const tp::PublishView& m) {
  const StreamId stream = m.stream_id();
  stream::StreamLog* log = opened_streams_.contains(stream.value())
                               ? worker_.registry().Find(stream)
                               : nullptr;
  if (log == nullptr) {
    QueuePublishAck(stream, m.correlation_id(), Sequence{},
                    ErrorCode::kUnknownStream);
    return;
  }
  const config::GatewayConfig& cfg = worker_.config();
  if (cfg.max_publish_rate > 0) {
    const std::int64_t now = worker_.now_ns();
    publish_tokens_ = std::min<double>(
        cfg.max_publish_rate,
        publish_tokens_ + (now - tokens_at_ns_) * 1e-9 * cfg.max_publish_rate);
    tokens_at_ns_ = now;
    if (publish_tokens_ < 1.0) {
      Bump<std::uint64_t>(worker_.counters().publishes_refused);
      QueuePublishAck(stream, m.correlation_id(), Sequence{},
                      ErrorCode::kLimitExceeded);
      return;
    }
    publish_tokens_ -= 1.0;
  }
  const stream::AppendResult r =
      log->Append(m.payload(), worker_.receive_time_ns());
  switch (r.status) {
    case stream::AppendStatus::kOk:
      Bump<std::uint64_t>(worker_.counters().publishes);
      worker_.OnAppended(log);
      if (m.ack_requested()) {
        QueuePublishAck(stream, m.correlation_id(), r.sequence,
                        ErrorCode::kNone);
      }
      return;
    case stream::AppendStatus::kBackPressured:
      Bump<std::uint64_t>(worker_.counters().publishes_refused);
      QueuePublishAck(stream, m.correlation_id(), Sequence{},
                      ErrorCode::kBackPressured);
      return;
    case stream::AppendStatus::kTooLarge:
      Bump<std::uint64_t>(worker_.counters().publishes_refused);
      QueuePublishAck(stream, m.correlation_id(), Sequence{},
                      ErrorCode::kLimitExceeded);
      return;
  }
}

void Session::HandleRequest(const tp::RequestView& m) {
  const std::string text = absl::StrCat("no backend service with id ",
                                        m.service_id(), " is configured");
  std::span<std::byte> out =
      ReserveControl(tp::ResponseView::kFixedLength + text.size() + 8);
  CommitControl(
      tp::EncodeResponse(out, {.correlation_id = m.correlation_id(),
                               .service_id = m.service_id(),
                               .status = tp::ResponseStatus::kNoSuchService,
                               .payload = tp::AsBytes(text)}));
}

// ---------------------------------------------------------------- control

std::span<std::byte> Session::ReserveControl(std::size_t bytes) {
  const std::size_t old = ctl_next_.size();
  ctl_next_.resize(old + bytes);
  last_reserve_ = bytes;
  return {ctl_next_.data() + old, bytes};
}

void Session::CommitControl(std::size_t bytes) {
  // ReserveControl over-reserves; trim to what the encoder wrote.
  ctl_next_.resize(ctl_next_.size() - (last_reserve_ - bytes));
  last_reserve_ = 0;
  ctl_queued_total_ += bytes;
  MarkDirty();
  if (ctl_next_.size() + (ctl_out_.size() - ctl_off_) >
          worker_.config().max_outbound_queue_bytes &&
      state_ != State::kClosing && state_ != State::kLingering) {
    // The peer does not read its control frames: a slow consumer.
    Bump<std::uint64_t>(worker_.counters().slow_consumers);
    CloseNow();
  }
}

void Session::QueueError(ErrorCode code, bool fatal, std::string_view text,
                         std::uint64_t context, StreamId stream) {
  std::span<std::byte> out =
      ReserveControl(tp::ErrorView::kFixedLength + text.size() + 8);
  CommitControl(tp::EncodeError(out, {.code = code,
                                      .fatal = fatal,
                                      .stream_id = stream,
                                      .context = context,
                                      .text = text}));
}

void Session::Fatal(ErrorCode code, std::string_view text, StreamId stream) {
  if (state_ == State::kClosing || state_ == State::kLingering ||
      state_ == State::kClosed) {
    return;
  }
  if (code <= ErrorCode::kBadField) {
    Bump<std::uint64_t>(worker_.counters().malformed_frames);
  }
  TACHYON_LOG(kDebug) << "session " << session_id_.value() << ": "
                      << tp::ErrorCodeName(code) << ": " << text;
  const std::string full =
      absl::StrCat(AbslView(tp::ErrorCodeName(code)), ": ", AbslView(text));
  QueueError(code, true, full, 0, stream);
  CloseAfterFlush();
}

void Session::QueuePublishAck(StreamId stream, std::uint64_t correlation,
                              Sequence seq, ErrorCode status) {
  std::span<std::byte> out = ReserveControl(tp::PublishAckView::kFixedLength);
  CommitControl(tp::EncodePublishAck(out, {.stream_id = stream,
                                           .correlation_id = correlation,
                                           .sequence = seq,
                                           .status = status}));
}

void Session::DetachAll() {
  // UDP destinations of this session's UDP_SUBSCRIBEs end with it.
  for (auto& [id, sub] : subscriptions_) ReleaseUdp(sub);
  // No more DATA will be sent (a pinned frame finishes from bytes that are
  // still checked for lapping): stop holding back publishers on
  // back-pressure streams and stop being woken for these streams.
  for (Delivery* d : delivery_order_) {
    if (d->detached) continue;
    d->log->Detach(&d->slot);
    worker_.RemoveReader(this, d->log);
    d->detached = true;
  }
}

void Session::CloseAfterFlush() {
  if (state_ == State::kClosing || state_ == State::kLingering ||
      state_ == State::kClosed) {
    return;
  }
  DetachAll();
  state_ = State::kClosing;
  deadline_ns_ = worker_.now_ns() + kCloseFlushNs;
  partial_.clear();
  MarkDirty();
}

void Session::CloseNow() {
  if (state_ == State::kClosed) return;
  DetachAll();
  state_ = State::kClosed;
  worker_.CloseConnection(conn_);
}

void Session::BeginDrain(std::int64_t now_ns) {
  if (state_ == State::kAwaitLogon) {
    CloseNow();
    return;
  }
  if (state_ != State::kActive) return;
  state_ = State::kDraining;
  deadline_ns_ =
      now_ns + std::int64_t{worker_.config().shutdown_drain_ms} * 1'000'000;
  partial_.clear();
  MarkDirty();
}

// ---------------------------------------------------------------- send

bool Session::OutputIdle() const {
  return !send_in_flight_ && !pinned_valid_ && ctl_off_ == ctl_out_.size() &&
         ctl_next_.empty();
}

void Session::MarkDirty() { worker_.MarkDirty(this); }

void Session::Flush() {
  if (state_ == State::kClosed || state_ == State::kLingering) return;
  // Bounded: each round sends at most kMaxIov sources.
  if (send_in_flight_ || send_blocked_) {
    // The socket is full (io_uring keeps the send pending; epoll waits for
    // EPOLLOUT), so nothing is sent and the usual check below never runs:
    // enforce the slow-consumer window here, and close at once. No ERROR
    // can follow: an io_uring send still pending may copy its log bytes
    // only when the socket drains, and waiting for that would let the
    // writer overwrite them first (garbage on the wire). Closing cancels it.
    if (state_ != State::kActive && state_ != State::kDraining) return;
    for (Delivery* d : delivery_order_) {
      if (d->detached) continue;
      const std::uint64_t tail = d->log->tail();
      const std::uint64_t lag = tail - d->position;
      if (d->log->Lapped(d->position, tail) ||
          (d->log->policy() == config::SlowConsumerPolicy::kDisconnect &&
           lag > d->allowed_lag)) {
        Bump<std::uint64_t>(worker_.counters().slow_consumers);
        TACHYON_LOG(kDebug)
            << "session " << session_id_.value() << ": slow consumer on '"
            << d->log->name() << "' (" << lag << " bytes behind) with its "
            << "socket full; closing";
        CloseNow();
        return;
      }
    }
    return;
  }
  for (int round = 0; round < 4; ++round) {
    if (send_in_flight_ || send_blocked_ || conn_ == nullptr ||
        state_ == State::kClosed) {
      return;
    }
    // A send that completed without HandleSent (nothing sent) leaves
    // removing deliveries behind; nothing references them now.
    SettleRemoving();
    sources_.clear();
    iov_.clear();
    auto add = [&](Delivery* d, const std::byte* p, std::size_t len,
                   std::uint64_t start) {
      iov_.push_back({const_cast<std::byte*>(p), len});
      sources_.push_back({d, len, start});
    };
    const bool data_allowed =
        state_ == State::kActive || state_ == State::kDraining;
    // A send that stopped inside a delivery's frame resumes it first; one
    // that stopped inside control output resumes with the control bytes,
    // which come first anyway.
    if (pinned_valid_ && pinned_.delivery != nullptr) {
      {
        Delivery* d = pinned_.delivery;
        std::uint64_t tail = d->log->tail();
        if (d->log->Lapped(d->removing ? d->frame_start : d->position, tail)) {
          // Overwritten mid-frame: the byte stream cannot be repaired.
          Bump<std::uint64_t>(worker_.counters().slow_consumers);
          CloseNow();
          return;
        }
        // An unsubscribed delivery sends only the rest of its frame, so
        // that it ends (or moves to a new subscription's start) at once.
        if (d->removing) {
          tail = d->frame_start == d->position
                     ? d->position
                     : d->frame_start + FrameLengthAt(*d, d->frame_start);
        }
        if (tail > d->position) {
          const std::span<const std::byte> bytes =
              d->log->Readable(d->position, tail);
          add(d, bytes.data(), bytes.size(), d->position);
        } else {
          pinned_valid_ = false;  // stopped on a boundary: nothing to finish
          SettleRemoving();
        }
      }
    }
    // Control frames (never when a delivery is pinned ahead of them, which
    // was handled above: they follow it in the same writev).
    if (ctl_off_ == ctl_out_.size() && !ctl_next_.empty()) {
      ctl_out_.clear();
      ctl_off_ = 0;
      std::swap(ctl_out_, ctl_next_);
    }
    std::uint64_t ctl_included = ctl_sent_total_;
    if (ctl_off_ < ctl_out_.size()) {
      add(nullptr, ctl_out_.data() + ctl_off_, ctl_out_.size() - ctl_off_, 0);
      ctl_included += ctl_out_.size() - ctl_off_;
    }
    bool restart = false;
    if (data_allowed) {
      for (Delivery* d : delivery_order_) {
        if (iov_.size() >= io::Reactor::kMaxIov) break;
        if (d->removing || (pinned_valid_ && pinned_.delivery == d)) continue;
        if (d->ready_after_ctl > ctl_included) continue;
        const std::uint64_t tail = d->log->tail();
        if (tail == d->position) continue;
        const std::uint64_t lag = tail - d->position;
        if (d->log->Lapped(d->position, tail) ||
            (d->log->policy() == config::SlowConsumerPolicy::kDisconnect &&
             lag > d->allowed_lag)) {
          Bump<std::uint64_t>(worker_.counters().slow_consumers);
          const std::string text =
              absl::StrCat("subscriber fell ", lag, " bytes behind stream '",
                           d->log->name(), "' (window ", d->log->window(), ")");
          // The ERROR follows whatever is already on the wire.
          sources_.clear();
          iov_.clear();
          Fatal(ErrorCode::kSlowConsumer, text, d->log->id());
          restart = true;
          break;
        }
        // Shrinks back to the window as the reader catches up, always
        // keeping a window of headroom over its current lag.
        d->allowed_lag = std::max(
            d->log->window(), std::min(d->allowed_lag, lag + d->log->window()));
        const std::span<const std::byte> bytes =
            d->log->Readable(d->position, tail);
        add(d, bytes.data(), bytes.size(), d->position);
      }
    }
    if (restart) continue;
    if (iov_.empty()) {
      if (state_ == State::kClosing && OutputIdle()) {
        ::shutdown(conn_->fd(), SHUT_WR);
        state_ = State::kLingering;
        deadline_ns_ = worker_.now_ns() + kLingerNs;
      } else if (state_ == State::kDraining && OutputIdle()) {
        bool caught_up = true;
        for (Delivery* d : delivery_order_) {
          if (d->log->tail() != d->position) caught_up = false;
        }
        if (caught_up) {
          std::span<std::byte> out =
              ReserveControl(tp::LogoutView::kFixedLength);
          CommitControl(tp::EncodeLogout(out, ErrorCode::kShuttingDown));
          state_ = State::kClosing;
          deadline_ns_ = worker_.now_ns() + kCloseFlushNs;
          continue;
        }
      }
      return;
    }
    const io::SendResult r = worker_.reactor().Send(conn_, iov_);
    if (r.pending) {
      send_in_flight_ = true;
      return;
    }
    if (r.bytes < 0) {
      CloseNow();
      return;
    }
    if (r.bytes == 0) {
      send_blocked_ = true;  // OnWritable follows
      return;
    }
    HandleSent(static_cast<std::size_t>(r.bytes));
  }
  MarkDirty();  // more to send than one Flush takes; continue next iteration
}

void Session::OnSendComplete(ssize_t result) {
  send_in_flight_ = false;
  if (result < 0) {
    CloseNow();
    return;
  }
  if (result == 0) {
    send_blocked_ = true;  // socket full: OnWritable follows
    return;
  }
  if (!sources_.empty()) HandleSent(static_cast<std::size_t>(result));
  Flush();
}

void Session::OnWritable() {
  send_blocked_ = false;
  Flush();
}

void Session::HandleSent(std::size_t bytes) {
  last_send_ns_ = worker_.now_ns();
  Bump<std::uint64_t>(worker_.counters().bytes_out, bytes);
  pinned_valid_ = false;
  for (const Source& s : sources_) {
    const std::size_t k = std::min(bytes, s.length);
    bytes -= k;
    if (s.delivery == nullptr) {
      ctl_off_ += k;
      ctl_sent_total_ += k;
    } else {
      Delivery* d = s.delivery;
      // From the start of the frame the source began in: a resumed frame
      // starts before s.start, and FindFrameStart reads its header.
      if (k > 0 && d->log->Overwritten(std::min(s.start, d->frame_start))) {
        // The writer lapped these bytes while the kernel was copying them.
        Bump<std::uint64_t>(worker_.counters().slow_consumers);
        CloseNow();
        return;
      }
      d->position += k;
      d->slot.Set(d->position);
      // A source ends at a tail or at the end of a pinned frame, both frame
      // boundaries; a send that stops inside one finds where it began.
      if (k == s.length) {
        d->frame_start = d->position;
      } else if (d->position != d->frame_start) {
        FindFrameStart(*d);
      }
    }
    if (k < s.length) {
      pinned_ = s;
      pinned_valid_ = true;
      break;
    }
  }
  sources_.clear();
  iov_.clear();
  SettleRemoving();
}

void Session::OnPeerClosed(int error) {
  if (error != 0) {
    TACHYON_LOG(kDebug) << "session " << session_id_.value()
                        << ": connection error " << -error;
  }
  CloseNow();
}

void Session::OnReleased() { worker_.DestroySession(this); }

void Session::Tick(std::int64_t now_ns) {
  switch (state_) {
    case State::kAwaitLogon:
      if (now_ns - created_ns_ >
          std::int64_t{worker_.config().logon_timeout_ms} * 1'000'000) {
        Fatal(ErrorCode::kHeartbeatTimeout,
              absl::StrCat("no LOGON within ",
                           worker_.config().logon_timeout_ms, " ms"));
      }
      return;
    case State::kActive: {
      const std::int64_t limit =
          heartbeat_ns_ * worker_.config().idle_timeout_heartbeats;
      if (now_ns - last_recv_ns_ > limit) {
        Fatal(ErrorCode::kHeartbeatTimeout,
              absl::StrCat("nothing received for ", limit / 1'000'000, " ms"));
        return;
      }
      if (now_ns - last_send_ns_ >= heartbeat_ns_ && OutputIdle()) {
        std::span<std::byte> out =
            ReserveControl(tp::HeartbeatView::kFixedLength);
        CommitControl(tp::EncodeHeartbeat(out, worker_.receive_time_ns()));
        last_send_ns_ = now_ns;
      }
      return;
    }
    case State::kDraining:
    case State::kClosing:
    case State::kLingering:
      if (now_ns > deadline_ns_) CloseNow();
      return;
    case State::kClosed:
      return;
  }
}

}  // namespace tachyon::session
