#include "session/session.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/log_limit.h"
#include "base/safe_text.h"
#include "base/strings.h"
#include "session/session_agent.h"

namespace tachyon::session {

namespace tp = ::tachyon::protocol;
using tp::ErrorCode;
using tp::MessageType;

namespace {
// How long a closing connection may take to flush its last frame, and how
// long we wait for the peer's EOF after shutting down our write side.
constexpr std::int64_t kCloseFlushNs = 2'000'000'000;
constexpr std::int64_t kLingerNs = 1'000'000'000;
constexpr std::size_t kControlReserve = 4096;
// Sends per Flush before other sessions get a turn.
constexpr int kSendsPerFlush = 4;
}  // namespace

Session::Session(SessionAgent& agent, std::int64_t now_ns)
    : agent_(agent),
      max_frame_length_(agent.config().max_frame_length),
      created_ns_(now_ns),
      last_recv_ns_(now_ns),
      last_send_ns_(now_ns),
      connected_unix_ms_(base::RealtimeNs() / 1'000'000),
      partial_(&agent.counters().partial_frame_bytes),
      control_(kControlReserve),
      engine_(control_, *this, *this, &agent.counters().delivery_latency) {
  agent_.counters().sessions_open.Add(1);
}

Session::~Session() {
  DetachAll();
  ReleaseStreamUses();
  if (identity_ != nullptr) {
    if (connection_counted_) identity_->ReleaseConnection();
    for (; subscriptions_counted_ > 0; --subscriptions_counted_) {
      identity_->ReleaseSubscription();
    }
  }
  TACHYON_LOG_LIMITED(kInfo, kConnection)
      << "connection closed peer=" << peer_ << " client='" << client_name_
      << "' session=" << session_id_.value() << " reason="
      << (close_reason_.empty() ? std::string_view("gateway stopped")
                                : std::string_view(close_reason_))
      << " bytes_in=" << bytes_in_ << " bytes_out=" << bytes_out_
      << " duration_ms="
      << (base::RealtimeNs() / 1'000'000 - connected_unix_ms_);
  agent_.counters().sessions_open.Add(-1);
}

// ---------------------------------------------------------------- receive

void Session::OnData(std::span<const std::byte> data) {
  if (state_ != State::kAwaitLogon && state_ != State::kActive) return;
  last_recv_ns_ = agent_.now_ns();
  agent_.counters().bytes_in.Add(data.size());
  bytes_in_ += data.size();
  if (holding_) {
    // Reading is paused, so this is not expected; keep the order anyway.
    held_.insert(held_.end(), data.begin(), data.end());
    return;
  }
  // A reload that completed before this read judges every frame in it,
  // PUBLISH included: a publisher whose stream it revoked is closed before
  // anything more is appended. One check per read, not per message.
  if (state_ == State::kActive && ReloadPending()) {
    CheckRevocation();
    if (state_ != State::kActive) return;
  }
  appended_in_read_ = false;
  Consume(data);
  if (appended_in_read_) {
    agent_.RecordPublishToAppend(appended_stream_latency_);
  }
}

std::uint32_t Session::FrameLimit() const {
  return state_ == State::kAwaitLogon
             ? std::min(kMaxLogonFrameLength, max_frame_length_)
             : max_frame_length_;
}

void Session::DecodeFailed(ErrorCode code, std::span<const std::byte> frame) {
  if (code != ErrorCode::kFrameTooLong || frame.size() < 4) {
    Fatal(code, "malformed frame");
    return;
  }
  const std::uint32_t len = tp::LoadU32(frame.data());
  if (state_ == State::kAwaitLogon && len <= max_frame_length_) {
    agent_.counters().limit_pre_logon_frame.Add();
    TACHYON_LOG_LIMITED(kInfo, kLogonRejected)
        << "connection cut peer=" << peer_ << " reason=frame of " << len
        << " bytes before LOGON_ACK (pre_logon_frame_length "
        << kMaxLogonFrameLength << ")";
    Fatal(code, absl::StrCat("frame length ", len,
                             " exceeds the pre-logon frame limit of ",
                             kMaxLogonFrameLength,
                             " bytes (pre_logon_frame_length: the longest "
                             "LOGON); limits.max_frame_length applies after "
                             "LOGON_ACK"));
    return;
  }
  Fatal(code, absl::StrCat("frame length ", len, " exceeds ",
                           state_ == State::kAwaitLogon
                               ? "the pre-logon frame limit of "
                               : "limits.max_frame_length = ",
                           FrameLimit(), " bytes"));
}

void Session::StartPartial(std::span<const std::byte> bytes) {
  // Only what arrived is stored; the buffer grows with the frame.
  const std::size_t frame_bytes =
      bytes.size() >= 4 ? tp::PaddedLength(tp::LoadU32(bytes.data()))
                        : tp::kHeaderLength;
  partial_.Append(bytes, frame_bytes);
  partial_since_ns_ = agent_.now_ns();
}

void Session::Consume(std::span<const std::byte> data) {
  // Finish a frame split across reads: top up `partial_` with just enough
  // bytes to learn the frame's length, then to complete it.
  while (!partial_.empty() && !data.empty()) {
    std::size_t want;
    std::size_t frame_bytes;
    if (partial_.size() < tp::kHeaderLength) {
      want = tp::kHeaderLength - partial_.size();
      frame_bytes = tp::kHeaderLength;
    } else {
      // The header decoded without error: the length is within the limit.
      frame_bytes = tp::PaddedLength(tp::LoadU32(partial_.data()));
      want = frame_bytes - partial_.size();
    }
    const std::size_t take = std::min(want, data.size());
    partial_.Append(data.first(take), frame_bytes);
    data = data.subspan(take);
    const tp::DecodeResult r = tp::DecodeFrame(partial_.bytes(), FrameLimit());
    if (r.status == tp::DecodeStatus::kError) {
      DecodeFailed(r.error, partial_.bytes());
      return;
    }
    if (r.status == tp::DecodeStatus::kFrame) {
      HandleFrame(r.frame);
      if (holding_) {
        // The frame (in partial_) waits with everything after it.
        held_.assign(partial_.bytes().begin(), partial_.bytes().end());
        held_.insert(held_.end(), data.begin(), data.end());
        partial_.Clear();
        Hold();
        return;
      }
      partial_.Clear();
      if (state_ != State::kAwaitLogon && state_ != State::kActive) return;
    }
  }
  // Whole frames straight from the receive buffer.
  while (!data.empty()) {
    const tp::DecodeResult r = tp::DecodeFrame(data, FrameLimit());
    if (r.status == tp::DecodeStatus::kFrame) {
      HandleFrame(r.frame);
      if (holding_) {
        held_.assign(data.begin(), data.end());
        Hold();
        return;
      }
      data = data.subspan(r.consumed);
      if (state_ != State::kAwaitLogon && state_ != State::kActive) return;
      continue;
    }
    if (r.status == tp::DecodeStatus::kError) {
      DecodeFailed(r.error, data);
      return;
    }
    StartPartial(data);
    break;
  }
}

void Session::CheckFrameProgress(std::int64_t now_ns) {
  const config::GatewayConfig& cfg = agent_.config();
  if (partial_.empty() || holding_ || cfg.min_frame_progress == 0) return;
  const std::int64_t elapsed_ns = now_ns - partial_since_ns_;
  const std::int64_t grace_ns =
      std::int64_t{cfg.frame_progress_grace_ms} * 1'000'000;
  if (elapsed_ns <= grace_ns) return;
  // The frame must have averaged the minimum rate since its first bytes.
  const double required =
      static_cast<double>(cfg.min_frame_progress) * (elapsed_ns * 1e-9);
  if (static_cast<double>(partial_.size()) >= required) return;
  agent_.counters().limit_frame_progress.Add();
  const std::string why = absl::StrCat(
      "frame in flight received ", partial_.size(), " bytes in ",
      elapsed_ns / 1'000'000,
      " ms, below limits.min_frame_progress = ", cfg.min_frame_progress,
      " bytes/s (after ", cfg.frame_progress_grace_ms, " ms of grace)");
  TACHYON_LOG_LIMITED(kInfo, kLogonRejected)
      << "connection cut peer=" << peer_ << " client='" << client_name_
      << "' session=" << session_id_.value() << ": " << why;
  Fatal(ErrorCode::kLimitExceeded, why);
}

void Session::HandleFrame(tp::FrameView frame) {
  agent_.counters().frames_in.Add();
  const MessageType type = frame.type();
  if (state_ == State::kAwaitLogon && type != MessageType::kLogon) {
    Fatal(ErrorCode::kUnexpectedMessage,
          absl::StrCat("expected LOGON, got ",
                       AbslView(tp::MessageTypeName(type))));
    return;
  }
  // A reload that completed before this frame was read judges it, rather
  // than the session's next tick: a permission it revoked is not granted
  // again in between (a REQUEST would reach the backend, a SUBSCRIBE be
  // acknowledged) when the reload completes while a read is being
  // handled. One acquire load per control frame; PUBLISH and HEARTBEAT
  // rely on the check at the start of each read (OnData).
  if (state_ == State::kActive && type != MessageType::kPublish &&
      type != MessageType::kHeartbeat && ReloadPending()) {
    CheckRevocation();
    if (state_ != State::kActive) return;
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
      NoteCloseReason("client LOGOUT");
      std::span<std::byte> out = ReserveControl(tp::LogoutView::kFixedLength);
      CommitControl(tp::EncodeLogout(out, ErrorCode::kNone));
      CloseAfterFlush();
      return;
    }
    case MessageType::kError: {
      const tp::ErrorView e(frame);
      TACHYON_LOG(kDebug) << "session " << session_id_.value()
                          << ": client ERROR " << tp::ErrorCodeName(e.code())
                          << ": " << base::Quoted(e.text());
      if (e.fatal()) {
        NoteCloseReason(absl::StrCat("client ERROR ",
                                     AbslView(tp::ErrorCodeName(e.code())),
                                     ": ", base::Quoted(e.text())));
        CloseAfterFlush();
      }
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
      if (!HandlePublish(tp::PublishView(frame))) holding_ = true;
      return;
    case MessageType::kRequest:
      HandleRequest(tp::RequestView(frame));
      return;
    case MessageType::kServiceLookup:
      HandleServiceLookup(tp::ServiceLookupView(frame));
      return;
    case MessageType::kLogonAck:
    case MessageType::kLogonReject:
    case MessageType::kOpenStreamAck:
    case MessageType::kSubscribeAck:
    case MessageType::kGap:
    case MessageType::kPublishAck:
    case MessageType::kData:
    case MessageType::kResponse:
    case MessageType::kServiceLookupAck:
      Fatal(ErrorCode::kUnexpectedMessage,
            absl::StrCat(AbslView(tp::MessageTypeName(type)),
                         " is sent only by the gateway"));
      return;
  }
}

// ---------------------------------------------------------------- control

void Session::CommitControl(std::size_t bytes) {
  control_.Commit(bytes);
  MarkDirty();
  if (control_.pending_bytes() > OutboundLimit() && state_ != State::kClosing &&
      state_ != State::kLingering) {
    // The peer does not read its control frames: a slow consumer.
    CountCut(agent_.counters().slow_control_queue);
    TACHYON_LOG_LIMITED(kWarn, kSlowConsumer)
        << "slow consumer cut peer=" << peer_ << " client='" << client_name_
        << "' session=" << session_id_.value()
        << " control_queue_bytes=" << control_.pending_bytes()
        << " limit=" << OutboundLimit();
    NoteCloseReason("slow consumer: control frames not read");
    // A frame may be half on the wire: a reset, never a clean EOF after
    // part of it.
    ResetOnClose();
    CloseNow();
  }
}

void Session::QueueError(ErrorCode code, bool fatal, std::string_view full_text,
                         std::uint64_t context, StreamId stream) {
  // A cut at the protocol's text limit never splits a character.
  const std::string_view text =
      base::Utf8Prefix(full_text, tp::kMaxErrorTextLength);
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
  if (code <= ErrorCode::kBadField) agent_.counters().malformed_frames.Add();
  TACHYON_LOG(kDebug) << "session " << session_id_.value() << ": "
                      << tp::ErrorCodeName(code) << ": " << text;
  const std::string full =
      absl::StrCat(AbslView(tp::ErrorCodeName(code)), ": ", AbslView(text));
  NoteCloseReason(full);
  QueueError(code, true, full, 0, stream);
  CloseAfterFlush();
}

// ---------------------------------------------------------------- life cycle

void Session::DetachAll() {
  // Requests still with the backends are forgotten: nothing is answered to
  // a session that is ending (the router counts their late answers).
  if (routed_requests_) {
    routed_requests_ = false;
    // Every answer comes through DeliverResponse, which counts it: with
    // none outstanding only the interest is left to forget.
    if (requests_outstanding_ > 0) {
      agent_.router()->CancelAll(this);
    } else {
      agent_.router()->ForgetInterest(this);
    }
    requests_outstanding_ = 0;
  }
  // UDP destinations of this session's UDP_SUBSCRIBEs end with it.
  for (auto& [id, sub] : subscriptions_) ReleaseUdp(sub);
  // No more DATA will be sent (a partial frame is finished under its pin):
  // stop holding back publishers on back-pressure streams and stop being
  // woken for these streams.
  for (Delivery* d : engine_.deliveries()) {
    if (d->detached()) continue;
    agent_.RemoveReader(d);
    d->StopReading();
  }
}

void Session::CloseAfterFlush() {
  if (state_ == State::kClosing || state_ == State::kLingering ||
      state_ == State::kClosed) {
    return;
  }
  DetachAll();
  // No more log bytes: a frame half on the wire is finished from a copy,
  // so that the final frames follow it whatever the writer does meanwhile.
  if (!engine_.StopData()) {
    // That frame is already overwritten: the byte stream cannot be
    // repaired, and nothing more can be said on it. A reset, so that the
    // peer never reads a clean EOF after part of a frame (PROTOCOL.md 12).
    CountCut(agent_.counters().slow_lapped);
    ResetOnClose();
    CloseNow();
    return;
  }
  state_ = State::kClosing;
  deadline_ns_ = agent_.now_ns() + kCloseFlushNs;
  partial_.Release();
  MarkDirty();
}

void Session::ResetOnClose() {
  if (conn_ == nullptr) return;
  const linger reset{1, 0};
  ::setsockopt(conn_->fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
}

void Session::CloseNow() {
  if (state_ == State::kClosed) return;
  DetachAll();
  state_ = State::kClosed;
  agent_.CloseConnection(conn_);
}

void Session::NoteCloseReason(std::string_view reason) {
  if (close_reason_.empty()) close_reason_ = std::string(reason);
}

void Session::FillInfo(SessionInfo& row, SubscriptionOrder& scratch) const {
  row.id = session_id_.value();
  row.peer = peer_;
  row.client_name = client_name_;
  row.principal = principal();
  row.bytes_in = bytes_in_;
  row.bytes_out = bytes_out_;
  row.connected_unix_ms = connected_unix_ms_;
  row.tls = tls_ != nullptr;
  row.tls_subject = tls_subject();
  // Subscription ids grow as the client subscribes: their order is the
  // subscribe order.
  scratch.clear();
  for (const auto& [id, sub] : subscriptions_)
    scratch.emplace_back(id, &sub.name);
  std::sort(scratch.begin(), scratch.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  row.subscriptions.resize(scratch.size());
  for (std::size_t i = 0; i < scratch.size(); ++i) {
    row.subscriptions[i] = *scratch[i].second;
  }
  row.lag_bytes = 0;
  for (const Delivery* d : engine_.deliveries()) {
    if (d->detached()) continue;
    const std::uint64_t tail = d->log()->tail();
    if (tail > d->position()) {
      row.lag_bytes = std::max(row.lag_bytes, tail - d->position());
    }
  }
}

void Session::BeginDrain(std::int64_t now_ns) {
  NoteCloseReason("gateway shutting down");
  if (state_ == State::kAwaitLogon) {
    CloseNow();
    return;
  }
  if (state_ != State::kActive) return;
  state_ = State::kDraining;
  deadline_ns_ =
      now_ns + std::int64_t{agent_.config().shutdown_drain_ms} * 1'000'000;
  partial_.Release();
  MarkDirty();
}

void Session::MarkDirty() { agent_.MarkDirty(this); }

void Session::CountCut(base::Counter& reason) {
  // One cut, one count: a cut found one way may end through another (a
  // slow consumer whose half-sent frame is gone, say).
  if (cut_counted_) return;
  cut_counted_ = true;
  reason.Add();
}

void Session::OnPeerClosed(int error) {
  if (tls_ != nullptr && !tls_->failure_reason().empty()) {
    NoteCloseReason(tls_->failure_reason());
  }
  NoteCloseReason(error != 0 ? absl::StrCat("connection error ", -error)
                             : std::string("peer closed"));
  if (error != 0) {
    TACHYON_LOG(kDebug) << "session " << session_id_.value()
                        << ": connection error " << -error;
  }
  CloseNow();
}

void Session::OnReleased() { agent_.DestroySession(this); }

void Session::Tick(std::int64_t now_ns) {
  switch (state_) {
    case State::kAwaitLogon:
      if (tls_ != nullptr &&
          tls_->HandshakeTimedOut(
              created_ns_, now_ns,
              std::int64_t{agent_.config().tls.handshake_timeout_ms} *
                  1'000'000)) {
        NoteCloseReason(tls_->failure_reason());
        CloseNow();
        return;
      }
      CheckFrameProgress(now_ns);
      if (state_ != State::kAwaitLogon) return;
      if (now_ns - created_ns_ >
          std::int64_t{agent_.config().logon_timeout_ms} * 1'000'000) {
        Fatal(ErrorCode::kHeartbeatTimeout,
              absl::StrCat("no LOGON within ", agent_.config().logon_timeout_ms,
                           " ms"));
      }
      return;
    case State::kActive: {
      if (ReloadPending()) {
        CheckRevocation();
        if (state_ != State::kActive) return;
      }
      // A held publisher's connection goes unread by our choice: its
      // silence is not the peer's.
      if (holding_) last_recv_ns_ = now_ns;
      CheckFrameProgress(now_ns);
      if (state_ != State::kActive) return;
      const std::int64_t limit =
          heartbeat_ns_ * agent_.config().idle_timeout_heartbeats;
      if (now_ns - last_recv_ns_ > limit) {
        Fatal(ErrorCode::kHeartbeatTimeout,
              absl::StrCat("nothing received for ", limit / 1'000'000, " ms"));
        return;
      }
      if (engine_.busy()) {
        // A full socket and a stream that no longer grows (its publishers
        // held by this very subscriber): no flush comes to judge the lag.
        const SendEngine::Result r = engine_.CheckWhileBusy(now_ns);
        if (r.outcome == SendEngine::Outcome::kSlow) CutSlowConsumer(r, true);
        return;
      }
      if (now_ns - last_send_ns_ >= heartbeat_ns_ && engine_.OutputIdle()) {
        std::span<std::byte> out =
            ReserveControl(tp::HeartbeatView::kFixedLength);
        CommitControl(tp::EncodeHeartbeat(out, agent_.receive_time_ns()));
        last_send_ns_ = now_ns;
      }
      return;
    }
    case State::kDraining:
    case State::kClosing:
      if (now_ns > deadline_ns_) {
        // The final frames did not get out in time (the peer stopped
        // reading): reset rather than let the peer read a clean EOF after
        // whatever part of them its socket got.
        if (!engine_.OutputIdle()) ResetOnClose();
        CloseNow();
      }
      return;
    case State::kLingering:
      if (now_ns > deadline_ns_) CloseNow();
      return;
    case State::kClosed:
      return;
  }
}

// ---------------------------------------------------------------- send

io::SendResult Session::Send(std::span<const iovec> iov) {
  if (tls_ != nullptr) return tls_->Send(iov);
  return agent_.reactor().Send(conn_, iov);
}

void Session::OnBytesSent(std::size_t bytes) {
  last_send_ns_ = agent_.now_ns();
  agent_.counters().bytes_out.Add(bytes);
  bytes_out_ += bytes;
}

void Session::OnDeliveryRemoved(Delivery* d) {
  if (!d->detached()) agent_.RemoveReader(d);
}

void Session::CutSlowConsumer(const SendEngine::Result& r,
                              bool can_send_error) {
  stream::StreamLog* log = r.delivery->log();
  log->CountSlowConsumer();
  std::string why;
  switch (r.lag) {
    case Delivery::Lag::kLapped:
      CountCut(agent_.counters().slow_lapped);
      why = absl::StrCat("subscriber fell ", r.lag_bytes,
                         " bytes behind stream '", log->name(), "' (window ",
                         log->window(),
                         "): the log overwrote what it had not been sent");
      break;
    case Delivery::Lag::kStalled:
      CountCut(agent_.counters().slow_stalled);
      why = absl::StrCat("subscriber read nothing for ",
                         r.behind_ns / 1'000'000, " ms while ", r.lag_bytes,
                         " bytes behind stream '", log->name(), "' (window ",
                         log->window(), "), holding its publishers back");
      break;
    default:
      CountCut(agent_.counters().slow_lagging);
      why =
          absl::StrCat("subscriber fell ", r.lag_bytes,
                       " bytes behind stream '", log->name(), "' (window ",
                       log->window(), ") for ", r.behind_ns / 1'000'000, " ms");
      break;
  }
  TACHYON_LOG_LIMITED(kWarn, kSlowConsumer)
      << "slow consumer cut peer=" << peer_ << " client='" << client_name_
      << "' session=" << session_id_.value() << " stream='" << log->name()
      << "' lag_bytes=" << r.lag_bytes << " window=" << log->window()
      << " policy="
      << (log->policy() == config::SlowConsumerPolicy::kDisconnect
              ? "disconnect"
              : "backpressure")
      << ": " << why
      << (can_send_error ? ""
                         : " (its socket full or a frame half sent: closed "
                           "without an ERROR)");
  NoteCloseReason(absl::StrCat("slow consumer on stream '", log->name(), "'"));
  if (!can_send_error) {
    CloseNow();
    return;
  }
  Fatal(ErrorCode::kSlowConsumer, why, log->id());
}

void Session::Flush() {
  if (state_ == State::kClosed || state_ == State::kLingering) return;
  if (engine_.busy()) {
    // The socket is full: nothing is sent now, but the writer goes on, so
    // the slow-consumer policy is enforced here. The ERROR is queued behind
    // what the kernel has (no log bytes stay pinned while the socket is
    // full, so waiting costs the writer nothing); it goes out if the peer
    // reads again, and the close deadline ends the connection if not.
    if (state_ == State::kActive || state_ == State::kDraining) {
      const SendEngine::Result r = engine_.CheckWhileBusy(agent_.now_ns());
      if (r.outcome == SendEngine::Outcome::kSlow) CutSlowConsumer(r, true);
    }
    return;
  }
  for (int round = 0; round < kSendsPerFlush; ++round) {
    if (engine_.busy() || conn_ == nullptr || state_ == State::kClosed) {
      return;
    }
    const bool data_allowed =
        state_ == State::kActive || state_ == State::kDraining;
    const SendEngine::Result r =
        engine_.SendOnce(data_allowed, agent_.now_ns());
    switch (r.outcome) {
      case SendEngine::Outcome::kSent:
        continue;
      case SendEngine::Outcome::kWaiting:
        return;
      case SendEngine::Outcome::kFailed:
        CloseNow();
        return;
      case SendEngine::Outcome::kSlow:
        // A frame half on the wire can only be finished or cut: close. A
        // lag found while building: the ERROR follows what is on the wire.
        CutSlowConsumer(
            r, r.delivery != nullptr && !engine_.References(r.delivery));
        continue;
      case SendEngine::Outcome::kIdle:
        break;
    }
    // Nothing left to send.
    if (state_ == State::kClosing && engine_.OutputIdle()) {
      // TLS: close_notify before the FIN; its OnWritable brings us back
      // here if it could not leave at once.
      if (tls_ != nullptr && !tls_->SendCloseNotify()) return;
      ::shutdown(conn_->fd(), SHUT_WR);
      state_ = State::kLingering;
      deadline_ns_ = agent_.now_ns() + kLingerNs;
    } else if (state_ == State::kDraining && engine_.OutputIdle() &&
               engine_.CaughtUp() && requests_outstanding_ == 0) {
      std::span<std::byte> out = ReserveControl(tp::LogoutView::kFixedLength);
      CommitControl(tp::EncodeLogout(out, ErrorCode::kShuttingDown));
      // Closing like any other: stop being a reader, no more log bytes.
      CloseAfterFlush();
      continue;
    }
    return;
  }
  MarkDirty();  // more to send than one Flush takes; continue next iteration
}

void Session::OnSendComplete(ssize_t result) {
  switch (engine_.OnSendComplete(result)) {
    case SendEngine::Outcome::kFailed:
      CloseNow();
      return;
    case SendEngine::Outcome::kWaiting:
      return;  // socket full: OnWritable follows
    default:
      Flush();
      return;
  }
}

void Session::OnWritable() {
  engine_.OnWritable();
  Flush();
}

}  // namespace tachyon::session
