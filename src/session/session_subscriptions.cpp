// Session: OPEN_STREAM, SUBSCRIBE, UDP_SUBSCRIBE and UNSUBSCRIBE, and the
// deliveries subscriptions cover (see session.h).
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/log_limit.h"
#include "base/safe_text.h"
#include "base/strings.h"
#include "session/session.h"
#include "session/session_agent.h"

namespace tachyon::session {

namespace tp = ::tachyon::protocol;
using tp::ErrorCode;

void Session::HandleOpenStream(const tp::OpenStreamView& m) {
  const std::string_view name = m.name();
  if (!tp::IsValidStreamName(name)) {
    QueueError(
        ErrorCode::kInvalidName, false,
        absl::StrCat("'", base::Quoted(name), "' is not a valid stream name"),
        m.request_id());
    return;
  }
  if (RefuseUnless(auth::Action::kPublish, name, "publish to stream",
                   m.request_id())) {
    return;
  }
  stream::StreamLog* const opened =
      OpenGuarded(name, stream::StreamUse::kPublisher, m.request_id());
  if (opened == nullptr) return;
  // One publisher per session, however often it opens the stream; the
  // session's end releases it (~Session).
  if (auto [it, inserted] =
          opened_streams_.try_emplace(opened->id().value(), nullptr);
      inserted) {
    it->second =
        agent_.counters().publish_to_append_by_stream.For(opened->name());
  } else {
    opened->Release(stream::StreamUse::kPublisher);
  }
  std::span<std::byte> out =
      ReserveControl(tp::StreamAckView::kFixedLength + name.size() + 8);
  CommitControl(
      tp::EncodeOpenStreamAck(out, {.stream_id = opened->id(),
                                    .id = m.request_id(),
                                    .next_sequence = opened->next_sequence(),
                                    .name = name}));
}

bool Session::RefuseDuplicateSubscription(std::uint32_t id) {
  if (!subscriptions_.contains(id)) return false;
  QueueError(ErrorCode::kDuplicateSubscription, false,
             absl::StrCat("subscription id ", id, " is already in use"), id);
  return true;
}

bool Session::RefuseSubscriptionOverLimit(std::uint32_t id) {
  const int limit = agent_.config().max_subscriptions_per_session;
  if (subscriptions_.size() < static_cast<std::size_t>(limit)) return false;
  QueueError(ErrorCode::kLimitExceeded, false,
             absl::StrCat("at most ", limit, " subscriptions per session"), id);
  return true;
}

stream::StreamLog* Session::OpenForSubscription(std::string_view name,
                                                std::uint32_t id) {
  return OpenGuarded(name, stream::StreamUse::kSubscriber, id);
}

// ---------------------------------------------------------------- principals

bool Session::RefuseUnless(auth::Action action, std::string_view name,
                           std::string_view what, std::uint64_t context) {
  if (identity_ == nullptr ||
      identity_->permissions().For(action).Allows(name)) {
    return false;
  }
  SessionCounters& c = agent_.counters();
  switch (action) {
    case auth::Action::kPublish:
      c.refused_publish.Add();
      break;
    case auth::Action::kSubscribe:
      c.refused_subscribe.Add();
      break;
    case auth::Action::kCreate:
      c.refused_create.Add();
      break;
    case auth::Action::kRequest:
      c.refused_request.Add();
      break;
  }
  QueueError(ErrorCode::kNotAuthorized, false,
             absl::StrCat(AbslView(identity_->label()), " may not ",
                          AbslView(what), " '", AbslView(name), "'"),
             context);
  return true;
}

bool Session::RefuseSubscriptionQuota(std::uint32_t id) {
  if (identity_ == nullptr) return false;
  if (identity_->TryAddSubscription()) {
    ++subscriptions_counted_;
    return false;
  }
  agent_.counters().quota_subscriptions.Add();
  QueueError(ErrorCode::kLimitExceeded, false,
             absl::StrCat(AbslView(identity_->label()), " may hold at most ",
                          identity_->quotas().max_subscriptions,
                          " subscriptions (max_subscriptions)"),
             id);
  return true;
}

stream::StreamRegistry::CreateGuard Session::CreateGuardFor(
    std::string_view name, std::string& denied, std::string& limit) {
  stream::StreamRegistry::CreateGuard g;
  g.allowed = identity_->permissions().create.Allows(name);
  if (!g.allowed) {
    denied = absl::StrCat(AbslView(identity_->label()),
                          " may not create stream '", AbslView(name), "'");
    g.denied_text = denied;
  }
  g.created = identity_->usage().streams_created;
  g.limit = identity_->quotas().max_streams_created;
  if (g.limit > 0) {
    limit = absl::StrCat(AbslView(identity_->label()), " may create at most ",
                         g.limit, " streams (max_streams_created)");
    g.limit_text = limit;
  }
  return g;
}

stream::StreamLog* Session::OpenGuarded(std::string_view name,
                                        stream::StreamUse use,
                                        std::uint64_t id) {
  absl::StatusOr<stream::StreamLog*> log;
  std::string denied;
  std::string limit;
  if (identity_ == nullptr) {
    log = agent_.OpenStream(name, use);
  } else {
    log = agent_.OpenStream(name, use, CreateGuardFor(name, denied, limit));
  }
  if (log.ok()) return *log;
  ErrorCode code = ErrorCode::kInternal;
  switch (log.status().code()) {
    case absl::StatusCode::kPermissionDenied:
      agent_.counters().refused_create.Add();
      code = ErrorCode::kNotAuthorized;
      break;
    case absl::StatusCode::kResourceExhausted:
      if (!limit.empty() && StdView(log.status().message()) == limit) {
        agent_.counters().quota_streams.Add();
      }
      code = ErrorCode::kLimitExceeded;
      break;
    default:
      break;
  }
  QueueError(code, false, StdView(log.status().message()), id);
  return nullptr;
}

bool Session::PatternMayCover(const Subscription& sub,
                              std::string_view name) const {
  return !sub.filter_each || identity_ == nullptr ||
         identity_->permissions().subscribe.Allows(name);
}

std::size_t Session::OutboundLimit() const {
  const std::size_t limit = agent_.config().max_outbound_queue_bytes;
  if (identity_ == nullptr || identity_->quotas().max_buffered_bytes == 0) {
    return limit;
  }
  return std::min(limit, identity_->quotas().max_buffered_bytes);
}

bool Session::ReloadPending() const {
  const auth::Authenticator* a = agent_.authenticator();
  return a != nullptr && identity_ != nullptr &&
         a->generation() != auth_generation_;
}

void Session::CheckRevocation() {
  const auth::Authenticator* a = agent_.authenticator();
  auth_generation_ = a->generation();
  std::shared_ptr<const auth::Identity> next = a->Refresh(*identity_);
  std::string why;
  if (next == nullptr) {
    why = identity_->anonymous()
              ? std::string("anonymous access was turned off by a reload")
              : absl::StrCat(AbslView(identity_->label()),
                             " was removed by a reload");
  } else {
    const auth::NameFilter& sub_filter = next->permissions().subscribe;
    for (const auto& [id, sub] : subscriptions_) {
      if (sub.pattern ? sub_filter.AllowsPattern(sub.name) ==
                            auth::PatternVerdict::kNone
                      : !sub_filter.Allows(sub.name)) {
        why = absl::StrCat(AbslView(next->label()),
                           " may no longer subscribe to '", AbslView(sub.name),
                           "' (revoked by a reload)");
        break;
      }
      if (!sub.pattern) continue;
      for (StreamId s : sub.streams) {
        const stream::StreamLog* log = agent_.registry().Find(s);
        if (log != nullptr && !sub_filter.Allows(log->name())) {
          why = absl::StrCat(AbslView(next->label()),
                             " may no longer subscribe to stream '",
                             AbslView(log->name()), "' (pattern '",
                             AbslView(sub.name), "', revoked by a reload)");
          break;
        }
      }
      if (!why.empty()) break;
    }
    if (why.empty()) {
      for (const auto& [s, unused] : opened_streams_) {
        const stream::StreamLog* log = agent_.registry().Find(StreamId{s});
        if (log != nullptr &&
            !next->permissions().publish.Allows(log->name())) {
          why = absl::StrCat(AbslView(next->label()),
                             " may no longer publish to stream '",
                             AbslView(log->name()), "' (revoked by a reload)");
          break;
        }
      }
    }
  }
  if (why.empty()) {
    // Same principal, new permissions and quotas; its usage is shared by
    // name, so what this session counted stays counted.
    identity_ = std::move(next);
    request_allowed_.clear();
    // A pattern the old permissions covered wholly may now be covered only
    // in part: streams created from here on are then checked one by one.
    const auth::NameFilter& now = identity_->permissions().subscribe;
    for (auto& [id, sub] : subscriptions_) {
      if (sub.pattern) {
        sub.filter_each =
            now.AllowsPattern(sub.name) == auth::PatternVerdict::kSome;
      }
    }
    return;
  }
  agent_.counters().auth_revocations.Add();
  TACHYON_LOG_LIMITED(kInfo, kLogonRejected)
      << "session revoked peer=" << peer_ << " session=" << session_id_.value()
      << ": " << why;
  Fatal(ErrorCode::kNotAuthorized, why);
}

void Session::HandleSubscribe(const tp::SubscribeView& m) {
  const std::uint32_t id = m.subscription_id().value();
  const std::string_view name = m.name();
  if (RefuseDuplicateSubscription(id)) return;
  const bool pattern = m.is_pattern();
  if (pattern ? !tp::IsValidPattern(name) : !tp::IsValidStreamName(name)) {
    QueueError(ErrorCode::kInvalidName, false,
               absl::StrCat("'", base::Quoted(name), "' is not a valid stream ",
                            pattern ? "pattern" : "name"),
               id);
    return;
  }
  bool filter_each = false;
  if (!pattern) {
    if (RefuseUnless(auth::Action::kSubscribe, name, "subscribe to stream",
                     id)) {
      return;
    }
  } else if (identity_ != nullptr) {
    switch (identity_->permissions().subscribe.AllowsPattern(name)) {
      case auth::PatternVerdict::kNone:
        agent_.counters().refused_subscribe.Add();
        QueueError(ErrorCode::kNotAuthorized, false,
                   absl::StrCat(AbslView(identity_->label()),
                                " may not subscribe to any stream pattern '",
                                AbslView(name), "' matches"),
                   id);
        return;
      case auth::PatternVerdict::kSome:
        filter_each = true;
        break;
      case auth::PatternVerdict::kAll:
        break;
    }
  }
  if (RefuseSubscriptionOverLimit(id)) return;
  if (RefuseSubscriptionQuota(id)) return;
  stream::StreamLog* exact = nullptr;
  if (!pattern) {
    exact = OpenForSubscription(name, id);
    if (exact == nullptr) {
      if (identity_ != nullptr) {
        identity_->ReleaseSubscription();
        --subscriptions_counted_;
      }
      return;
    }
  }
  Subscription& sub = subscriptions_[id];
  sub.name = std::string(name);
  sub.pattern = pattern;
  sub.filter_each = filter_each;
  const SubscriptionId sub_id{id};
  if (!pattern) {
    Cover(sub_id, sub, exact, m.start_mode(), m.start_sequence(), true);
    return;
  }
  ++pattern_count_;
  agent_.AddPatternSession(this);
  // The pattern's own ack (stream id 0), then one per matching stream.
  QueueSubscribeAck(StreamId{}, id, Sequence{}, name);
  const stream::StreamRegistry& registry = agent_.registry();
  std::vector<stream::StreamLog*> matches;
  for (std::size_t i = 0; i < registry.slot_count(); ++i) {
    stream::StreamLog* log = registry.AtSlot(i);
    // Each stream a pattern covers holds one subscriber use (released by
    // UNSUBSCRIBE or the session's end); a stream retired meanwhile is
    // skipped.
    if (log != nullptr && stream::MatchesPattern(sub.name, log->name()) &&
        PatternMayCover(sub, log->name()) &&
        log->TryAcquire(stream::StreamUse::kSubscriber)) {
      matches.push_back(log);
    }
  }
  std::sort(matches.begin(), matches.end(),
            [](const stream::StreamLog* a, const stream::StreamLog* b) {
              return a->id().value() < b->id().value();
            });
  for (stream::StreamLog* log : matches) {
    Cover(sub_id, sub, log, m.start_mode(), m.start_sequence(), true);
  }
}

void Session::OnNewStream(stream::StreamLog* log) {
  if (state_ != State::kActive) return;
  // A reload this session has not seen yet: apply it before matching, so a
  // stream born right after the reload is judged by the new permissions.
  if (ReloadPending()) {
    CheckRevocation();
    if (state_ != State::kActive) return;
  }
  for (auto& [id, sub] : subscriptions_) {
    if (sub.pattern && stream::MatchesPattern(sub.name, log->name()) &&
        PatternMayCover(sub, log->name()) &&
        std::find(sub.streams.begin(), sub.streams.end(), log->id()) ==
            sub.streams.end() &&
        log->TryAcquire(stream::StreamUse::kSubscriber)) {
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
  Delivery* d = engine_.Find(log->id());
  if (d != nullptr && (!d->removing || d->restarting)) {
    // Already delivered to this session (or already re-covered while the
    // old frame finishes): the new subscription shares it and its ack says
    // so with next_sequence 0; the delivery does not move (PROTOCOL.md
    // 11.6).
    ++d->coverage;
    if (announce) QueueSubscribeAck(log->id(), sub_id.value(), {}, log->name());
    return;
  }
  if (d != nullptr) {
    // Unsubscribed, but a send still references the delivery or its frame
    // is half on the wire. The new subscription starts where its own start
    // mode says, like a fresh one: its ack and GAP go out now (after the
    // old frame, which resumes ahead of control output), and the delivery
    // moves there once the old frame is finished (SettleRemoving). Until
    // then the old reader slot holds back-pressure at the old position.
    ++d->coverage;
    const stream::StartPoint sp = log->Locate(mode, start);
    d->ScheduleRestart(sp, AnnounceStart(sub_id, log, sp, announce));
    MarkDirty();
    return;
  }
  d = engine_.Add(this, log);
  d->stream_latency =
      agent_.counters().delivery_latency_by_stream.For(log->name());
  d->coverage = 1;
  const stream::StartPoint sp = d->Start(mode, start);
  d->ready_after_ctl = AnnounceStart(sub_id, log, sp, announce);
  agent_.AddReader(d);
  engine_.MarkDirty(d);
  MarkDirty();
}

void Session::QueueSubscribeAck(StreamId stream, std::uint32_t id,
                                Sequence next, std::string_view name) {
  std::span<std::byte> out =
      ReserveControl(tp::StreamAckView::kEpochFixedLength + name.size() + 8);
  CommitControl(tp::EncodeSubscribeAck(out, {.stream_id = stream,
                                             .id = id,
                                             .next_sequence = next,
                                             .name = name,
                                             .instance_epoch = ack_epoch_}));
}

std::uint64_t Session::AnnounceStart(SubscriptionId sub_id,
                                     stream::StreamLog* log,
                                     const stream::StartPoint& sp,
                                     bool announce) {
  if (announce) {
    const std::string_view name = log->name();
    const Sequence first =
        sp.gap_from.value() != 0 ? sp.gap_from : sp.next_sequence;
    QueueSubscribeAck(log->id(), sub_id.value(), first, name);
  }
  if (sp.gap_from.value() != 0) {
    std::span<std::byte> out = ReserveControl(tp::GapView::kFixedLength);
    CommitControl(tp::EncodeGap(out, log->id(), sp.gap_from, sp.gap_to));
  }
  return control_.queued_total();
}

void Session::HandleUnsubscribe(const tp::UnsubscribeView& m) {
  const std::uint32_t id = m.subscription_id().value();
  auto it = subscriptions_.find(id);
  if (it == subscriptions_.end()) {
    QueueError(ErrorCode::kUnknownSubscription, false,
               absl::StrCat("no subscription with id ", id), id);
    return;
  }
  for (StreamId s : it->second.streams) {
    Uncover(s);
    ReleaseSubscriber(s);
  }
  ReleaseUdp(it->second);
  if (identity_ != nullptr && subscriptions_counted_ > 0) {
    identity_->ReleaseSubscription();
    --subscriptions_counted_;
  }
  if (it->second.pattern && --pattern_count_ == 0) {
    agent_.RemovePatternSession(this);
  }
  subscriptions_.erase(it);
}

void Session::HandleUdpSubscribe(const tp::UdpSubscribeView& m) {
  const config::GatewayConfig& cfg = agent_.config();
  const std::uint32_t id = m.subscription_id().value();
  const std::string_view name = m.name();
  // Checks in the order of PROTOCOL.md 16.6.
  if (RefuseDuplicateSubscription(id)) return;
  if (!tp::IsValidStreamName(name)) {
    QueueError(ErrorCode::kInvalidName, false,
               absl::StrCat("'", base::Quoted(name),
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
  io::Endpoint dest;
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
  if (RefuseUnless(auth::Action::kSubscribe, name, "subscribe to stream", id)) {
    return;
  }
  if (RefuseSubscriptionOverLimit(id)) return;
  if (RefuseSubscriptionQuota(id)) return;
  stream::StreamLog* log = OpenForSubscription(name, id);
  if (log == nullptr) {
    if (identity_ != nullptr) {
      identity_->ReleaseSubscription();
      --subscriptions_counted_;
    }
    return;
  }
  Subscription& sub = subscriptions_[id];
  sub.name = std::string(name);
  sub.udp = true;
  sub.udp_stream = log->id();
  sub.udp_destination = dest;
  // The stream's next sequence now: the owner starts the destination
  // exactly there, whenever it gets to the command.
  const Sequence next = log->next_sequence();
  agent_.RouteUdp({.kind = UdpDestinationRequest::Kind::kAdd,
                   .stream = sub.udp_stream,
                   .destination = dest,
                   .from = next});
  QueueSubscribeAck(sub.udp_stream, id, next, name);
}

void Session::ReleaseUdp(Subscription& sub) {
  if (!sub.udp) return;
  agent_.RouteUdp({.kind = UdpDestinationRequest::Kind::kRemove,
                   .stream = sub.udp_stream,
                   .destination = sub.udp_destination});
  sub.udp = false;
  ReleaseSubscriber(sub.udp_stream);
}

void Session::ReleaseSubscriber(StreamId stream) {
  // The use keeps the stream from retirement, so Find still has it.
  if (stream::StreamLog* log = agent_.registry().Find(stream)) {
    log->Release(stream::StreamUse::kSubscriber);
  }
}

void Session::ReleaseStreamUses() {
  for (const auto& [id, unused] : opened_streams_) {
    if (stream::StreamLog* log = agent_.registry().Find(StreamId{id})) {
      log->Release(stream::StreamUse::kPublisher);
    }
  }
  opened_streams_.clear();
  for (auto& [id, sub] : subscriptions_) {
    ReleaseUdp(sub);
    for (StreamId s : sub.streams) ReleaseSubscriber(s);
    sub.streams.clear();
  }
}

void Session::Uncover(StreamId stream) {
  Delivery* d = engine_.Find(stream);
  if (d == nullptr || --d->coverage > 0) return;
  d->restarting = false;  // a restart not yet applied ends with its cover
  // Gone now, or, while a send in flight may reference it or its frame is
  // half on the wire, once that is finished (SettleRemoving drops it, or
  // restarts it if it was subscribed again meanwhile).
  engine_.Retire(d);
}

}  // namespace tachyon::session
