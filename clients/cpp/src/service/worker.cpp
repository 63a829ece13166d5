// tachyon::service::Server's worker threads: the event loop, accepting,
// reading and decoding, the backend role of the protocol (logon, requests,
// heartbeats, the idle rule, LOGOUT, errors) and shutdown (server_impl.h).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>

#include "server_impl.h"

namespace tachyon::service {
namespace {

namespace tp = ::tachyon::protocol;
using internal::Clock;
using internal::Connection;
using internal::View;

// Receives per connection per wake-up before other connections get a turn.
constexpr int kMaxReadsPerEvent = 4;
// Stop reading a connection whose unsent output exceeds this (it resumes
// once the output drains).
constexpr std::size_t kOutputHighWater = 4 * 1024 * 1024;
// How long a connection being closed after an ERROR or LOGOUT may take to
// flush what is queued for it.
constexpr auto kCloseFlushLimit = std::chrono::seconds(1);
// Upper bound on one epoll_wait, so that stop requests and timers are seen
// even if a wake-up were lost.
constexpr int kMaxWaitMs = 1000;
constexpr int kMaxEvents = 64;

std::int64_t RealtimeNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

void Server::Impl::Worker::Run() {
  epoll_event events[kMaxEvents];
  for (;;) {
    Clock::time_point now = Clock::now();
    if (now >= next_timer_) RunTimers(now);
    if (phase_ == Phase::kRunning &&
        stop_requested_.load(std::memory_order_acquire)) {
      BeginDrain(now);
    }
    if (phase_ == Phase::kDraining &&
        (outstanding_ <= 0 || now >= phase_deadline_)) {
      BeginLogout(now);
    }
    if (phase_ == Phase::kLoggingOut &&
        (conns_.empty() || now >= phase_deadline_)) {
      break;
    }
    const int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, WaitMs(now));
    for (int i = 0; i < n; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &wake_tag_) {
        std::uint64_t count = 0;
        [[maybe_unused]] const ssize_t r =
            ::read(event_fd_, &count, sizeof count);
        DrainCompletions();
      } else if (tag == &listen_tag_) {
        if (phase_ == Phase::kRunning) Accept();
      } else {
        auto* c = static_cast<Connection*>(tag);
        if (c->dead) continue;
        const std::uint32_t ev = events[i].events;
        if ((ev & (EPOLLHUP | EPOLLERR)) != 0 && !c->reading) {
          // Not reading (draining, or closing after a final frame): the
          // peer is gone and nothing more can be sent; level-triggered HUP
          // would otherwise wake us until the deadline.
          CloseNow(c);
          continue;
        }
        if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) OnReadable(c);
        if (!c->dead) Flush(c);
      }
    }
    for (Connection* c : closed_) conns_.erase(c->id);
    closed_.clear();
  }
  queue_->Close();
  for (auto& [id, c] : conns_) {
    if (c->logged_on) {
      server_->counters_.connections_open.fetch_sub(1,
                                                    std::memory_order_relaxed);
    }
  }
  conns_.clear();
}

int Server::Impl::Worker::WaitMs(Clock::time_point now) const {
  Clock::time_point until = next_timer_;
  if (phase_ != Phase::kRunning) until = std::min(until, phase_deadline_);
  if (until == Clock::time_point::max()) return kMaxWaitMs;
  if (until <= now) return 0;
  const auto ms =
      std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
  return static_cast<int>(std::min<std::int64_t>(ms, kMaxWaitMs));
}

void Server::Impl::Worker::Accept() {
  for (int i = 0; i < 16; ++i) {
    const int fd = ::accept4(server_->listen_fd_, nullptr, nullptr,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: another worker took it, or none left
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const std::uint64_t id =
        server_->next_connection_.fetch_add(1, std::memory_order_relaxed);
    auto conn = std::make_unique<Connection>(
        id, fd, server_->options_.max_frame_length);
    Connection* c = conn.get();
    if (server_->tls_ctx_ != nullptr) {
      c->tls =
          client::internal::TlsSocket::StartServer(fd, server_->tls_ctx_.get());
      if (c->tls == nullptr) continue;  // out of memory: closed
    }
    const Clock::time_point now = Clock::now();
    c->last_recv = c->last_send = now;
    c->deadline = now + server_->options_.logon_timeout;
    next_timer_ = std::min(next_timer_, c->deadline);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) continue;
    c->events = EPOLLIN;
    conns_.emplace(id, std::move(conn));
    server_->counters_.connections_accepted.fetch_add(
        1, std::memory_order_relaxed);
  }
}

bool Server::Impl::Worker::DriveHandshake(Connection* c) {
  using Step = client::internal::TlsSocket::Step;
  c->tls_wants_write = false;
  switch (c->tls->Handshake()) {
    case Step::kDone:
      c->tls_up = true;
      server_->counters_.tls_handshakes.fetch_add(1, std::memory_order_relaxed);
      return true;
    case Step::kWantRead:
      return false;
    case Step::kWantWrite:
      c->tls_wants_write = true;
      UpdateInterest(c);
      return false;
    case Step::kFailed:
      break;
  }
  server_->counters_.tls_handshake_failures.fetch_add(
      1, std::memory_order_relaxed);
  ReportError(absl::UnavailableError(
      absl::StrCat("gateway connection ", c->id,
                   ": TLS handshake failed: ", View(c->tls->failure()))));
  CloseNow(c);
  return false;
}

void Server::Impl::Worker::OnReadable(Connection* c) {
  if (c->tls != nullptr && !c->tls_up && !DriveHandshake(c)) return;
  // TLS: plaintext OpenSSL already holds is not announced by epoll, so
  // the reads go on past the per-event budget until it is taken.
  for (int i = 0;
       !c->dead && c->reading &&
       (i < kMaxReadsPerEvent || (c->tls != nullptr && c->tls->HasBuffered()));
       ++i) {
    std::span<std::byte> space = c->decoder.WritableSpan();
    ssize_t n = 0;
    if (c->tls != nullptr) [[unlikely]] {
      const client::internal::IoResult r = c->tls->ReceiveSome(space);
      if (r.closed || r.error != 0) {
        CloseNow(c);  // a close_notify or EOF from the gateway, or an error
        return;
      }
      if (r.bytes == 0) return;  // would block
      n = static_cast<ssize_t>(r.bytes);
    } else {
      n = ::recv(c->fd, space.data(), space.size(), 0);
    }
    if (n == 0) {
      CloseNow(c);
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      CloseNow(c);
      return;
    }
    c->decoder.Commit(static_cast<std::size_t>(n));
    c->last_recv = Clock::now();
    for (;;) {
      const tp::DecodeResult r = c->decoder.Next();
      if (r.status == tp::DecodeStatus::kIncomplete) break;
      if (r.status == tp::DecodeStatus::kError) {
        if (c->state == Connection::State::kLoggedOut) {
          CloseNow(c);
        } else {
          Violation(c, r.error,
                    absl::StrCat("malformed frame: ",
                                 View(tp::ErrorCodeName(r.error))));
        }
        return;
      }
      OnFrame(c, r.frame);
      if (c->dead || !c->reading) return;
    }
    if (static_cast<std::size_t>(n) < space.size()) return;
  }
}

void Server::Impl::Worker::OnFrame(Connection* c, tp::FrameView f) {
  using State = Connection::State;
  const tp::MessageType type = f.type();
  switch (c->state) {
    case State::kAwaitingLogon:
      if (type != tp::MessageType::kLogon) {
        Violation(c, tp::ErrorCode::kUnexpectedMessage,
                  absl::StrCat("expected LOGON, got ",
                               View(tp::MessageTypeName(type))));
        return;
      }
      OnLogon(c, tp::LogonView(f));
      return;
    case State::kLoggedOut:
      // After our LOGOUT we send nothing; wait for the peer's LOGOUT.
      if (type == tp::MessageType::kLogout) CloseNow(c, /*graceful=*/true);
      return;
    case State::kClosing:
      return;
    case State::kActive:
      break;
  }
  switch (type) {
    case tp::MessageType::kRequest:
      OnRequest(c, tp::RequestView(f));
      return;
    case tp::MessageType::kHeartbeat:
      return;
    case tp::MessageType::kLogout:
      AppendLogout(c, tp::ErrorCode::kNone);
      CloseAfterFlush(c);
      return;
    case tp::MessageType::kError: {
      const tp::ErrorView e(f);
      ReportError(absl::InternalError(absl::StrCat(
          "gateway connection ", c->id, ": ERROR ",
          View(tp::ErrorCodeName(e.code())), ": ", View(e.text()))));
      if (e.fatal()) CloseNow(c);
      return;
    }
    default:
      Violation(c, tp::ErrorCode::kUnexpectedMessage,
                absl::StrCat("unexpected ", View(tp::MessageTypeName(type)),
                             " from a gateway"));
      return;
  }
}

void Server::Impl::Worker::OnLogon(Connection* c, tp::LogonView logon) {
  const ServerOptions& o = server_->options_;
  std::size_t reserved = 0;
  if (logon.min_version() > server_->version_) {
    ReportError(absl::FailedPreconditionError(
        absl::StrCat("gateway connection ", c->id, ": refused LOGON: versions ",
                     logon.min_version(), "..", logon.max_version(),
                     ", this service speaks 1..", server_->version_)));
    const std::string text = absl::StrCat(
        "this service speaks protocol versions 1..", server_->version_);
    reserved = 64 + text.size();
    auto span = Reserve(c, reserved);
    Commit(
        c, reserved,
        tp::EncodeLogonReject(
            span, {.code = tp::ErrorCode::kUnsupportedVersion, .text = text}));
    CloseAfterFlush(c);
    return;
  }
  if (!o.token.empty() && logon.token() != o.token) {
    ReportError(absl::PermissionDeniedError(absl::StrCat(
        "gateway connection ", c->id, ": refused LOGON: wrong token")));
    constexpr std::string_view kText = "token not accepted";
    reserved = 64 + kText.size();
    auto span = Reserve(c, reserved);
    Commit(c, reserved,
           tp::EncodeLogonReject(
               span, {.code = tp::ErrorCode::kNotAuthorized, .text = kText}));
    CloseAfterFlush(c);
    return;
  }
  const std::uint16_t version =
      std::min<std::uint16_t>(logon.max_version(), server_->version_);
  std::chrono::milliseconds hb = o.default_heartbeat;
  if (logon.heartbeat_interval_ms() != 0) {
    hb = std::clamp(std::chrono::milliseconds(logon.heartbeat_interval_ms()),
                    o.min_heartbeat, o.max_heartbeat);
  }
  c->heartbeat = hb;
  c->state = Connection::State::kActive;
  c->logged_on = true;
  server_->counters_.connections_open.fetch_add(1, std::memory_order_relaxed);
  reserved = tp::LogonAckView::kEpochLength;
  auto span = Reserve(c, reserved);
  Commit(c, reserved,
         tp::EncodeLogonAck(
             span,
             {.version = version,
              .heartbeat_interval_ms = static_cast<std::uint32_t>(hb.count()),
              .session_id = SessionId{server_->next_session_.fetch_add(
                  1, std::memory_order_relaxed)},
              .max_frame_length = o.max_frame_length,
              .instance_epoch =
                  version >= tp::kEpochProtocolVersion ? server_->epoch_ : 0}));
  next_timer_ = std::min(next_timer_, c->last_send + hb);
}

void Server::Impl::Worker::OnRequest(Connection* c, tp::RequestView req) {
  server_->counters_.requests.fetch_add(1, std::memory_order_relaxed);
  const Request request{.correlation_id = req.correlation_id(),
                        .service_id = req.service_id(),
                        .timeout_ms = req.timeout_ms(),
                        .payload = req.payload(),
                        .connection_id = c->id};
  if (server_->async_) {
    ++outstanding_;
    server_->async_(request,
                    Server::MakeResponder(queue_, c->id, request.correlation_id,
                                          request.service_id));
    return;
  }
  reply_.clear();
  const absl::Status s = server_->handler_(request, reply_);
  if (s.ok()) {
    AppendResponse(c, request.correlation_id, request.service_id, true, reply_);
  } else {
    const std::string text = s.message().empty()
                                 ? absl::StatusCodeToString(s.code())
                                 : std::string(s.message());
    AppendResponse(c, request.correlation_id, request.service_id, false,
                   tp::AsBytes(text));
  }
}

void Server::Impl::Worker::AppendResponse(Connection* c,
                                          std::uint64_t correlation,
                                          std::uint32_t service, bool ok,
                                          std::span<const std::byte> payload) {
  const std::size_t limit =
      server_->options_.max_frame_length - tp::ResponseView::kFixedLength;
  std::string too_big;
  if (payload.size() > limit) {
    if (ok) {
      too_big = absl::StrCat("the service's answer of ", payload.size(),
                             " bytes exceeds the frame limit (", limit,
                             " bytes of payload)");
      payload = tp::AsBytes(too_big);
      ok = false;
    }
    payload = payload.first(std::min(payload.size(), limit));
  }
  (ok ? server_->counters_.responses_ok : server_->counters_.responses_error)
      .fetch_add(1, std::memory_order_relaxed);
  const std::size_t reserved =
      tp::PaddedLength(tp::ResponseView::kFixedLength + payload.size());
  auto span = Reserve(c, reserved);
  Commit(c, reserved,
         tp::EncodeResponse(span,
                            {.correlation_id = correlation,
                             .service_id = service,
                             .status = ok ? tp::ResponseStatus::kOk
                                          : tp::ResponseStatus::kBackendError,
                             .payload = payload}));
}

void Server::Impl::Worker::AppendError(Connection* c, tp::ErrorCode code,
                                       std::string_view text) {
  const std::size_t reserved =
      tp::PaddedLength(tp::ErrorView::kFixedLength +
                       std::min(text.size(), tp::kMaxErrorTextLength));
  auto span = Reserve(c, reserved);
  Commit(c, reserved,
         tp::EncodeError(span, {.code = code, .fatal = true, .text = text}));
}

void Server::Impl::Worker::AppendLogout(Connection* c, tp::ErrorCode reason) {
  auto span = Reserve(c, tp::LogoutView::kFixedLength);
  Commit(c, tp::LogoutView::kFixedLength, tp::EncodeLogout(span, reason));
}

void Server::Impl::Worker::DrainCompletions() {
  queue_->TakeAll(&completions_);
  for (auto& done : completions_) {
    --outstanding_;
    const auto it = conns_.find(done.connection);
    if (it == conns_.end()) continue;  // the connection is gone
    Connection* c = it->second.get();
    if (c->dead || c->state != Connection::State::kActive) continue;
    AppendResponse(c, done.correlation, done.service, done.ok, done.payload);
    Flush(c);
  }
}

void Server::Impl::Worker::Flush(Connection* c) {
  if (c->tls != nullptr && !c->tls_up) [[unlikely]] {
    // Nothing is queued before LOGON, which comes after the handshake,
    // but an ERROR (the logon timeout): it cannot go out without one.
    if (c->state == Connection::State::kClosing) {
      CloseNow(c);
      return;
    }
    if (c->tls_wants_write && DriveHandshake(c)) OnReadable(c);
    if (!c->dead) UpdateInterest(c);
    return;
  }
  while (c->unsent() > 0) {
    ssize_t n = 0;
    if (c->tls != nullptr) [[unlikely]] {
      const client::internal::IoResult r =
          c->tls->SendSome({c->out.data() + c->out_head, c->unsent()});
      if (r.error != 0) {
        CloseNow(c);
        return;
      }
      if (r.bytes == 0) break;  // full: EPOLLOUT
      n = static_cast<ssize_t>(r.bytes);
    } else {
      n = ::send(c->fd, c->out.data() + c->out_head, c->unsent(),
                 MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      CloseNow(c);
      return;
    }
    c->out_head += static_cast<std::size_t>(n);
  }
  if (c->unsent() == 0) {
    c->out.clear();
    c->out_head = 0;
    if (c->state == Connection::State::kClosing) {
      CloseNow(c, /*graceful=*/true);
      return;
    }
  }
  UpdateInterest(c);
}

void Server::Impl::Worker::UpdateInterest(Connection* c) {
  std::uint32_t want = 0;
  if (c->reading && c->unsent() < kOutputHighWater) want |= EPOLLIN;
  if (c->unsent() > 0 || c->tls_wants_write) want |= EPOLLOUT;
  if (want == c->events) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.ptr = c;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd, &ev);
  c->events = want;
}

void Server::Impl::Worker::CloseAfterFlush(Connection* c) {
  c->state = Connection::State::kClosing;
  c->reading = false;
  c->deadline = Clock::now() + kCloseFlushLimit;
  next_timer_ = std::min(next_timer_, c->deadline);
  Flush(c);
}

void Server::Impl::Worker::CloseNow(Connection* c, bool graceful) {
  if (c->dead) return;
  c->dead = true;
  if (graceful && c->tls != nullptr) (void)c->tls->SendCloseNotify();
  c->tls.reset();
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->fd, nullptr);
  ::close(c->fd);
  c->fd = -1;
  if (c->logged_on) {
    server_->counters_.connections_open.fetch_sub(1, std::memory_order_relaxed);
  }
  closed_.push_back(c);
}

void Server::Impl::Worker::RunTimers(Clock::time_point now) {
  using State = Connection::State;
  Clock::time_point next = Clock::time_point::max();
  for (auto& [id, conn] : conns_) {
    Connection* c = conn.get();
    if (c->dead) continue;
    switch (c->state) {
      case State::kAwaitingLogon:
        if (now >= c->deadline) {
          Violation(c, tp::ErrorCode::kHeartbeatTimeout,
                    "no LOGON within the logon timeout");
        } else {
          next = std::min(next, c->deadline);
        }
        break;
      case State::kClosing:
      case State::kLoggedOut:
        if (now >= c->deadline) {
          CloseNow(c);
        } else {
          next = std::min(next, c->deadline);
        }
        break;
      case State::kActive: {
        const auto idle_limit = 3 * c->heartbeat;
        // While draining we do not read, so silence is expected.
        if (c->reading && now - c->last_recv >= idle_limit) {
          Violation(c, tp::ErrorCode::kHeartbeatTimeout,
                    absl::StrCat("nothing received for ", idle_limit.count(),
                                 " ms (3 heartbeat intervals)"));
          break;
        }
        if (now - c->last_send >= c->heartbeat) {
          auto span = Reserve(c, tp::HeartbeatView::kFixedLength);
          Commit(c, tp::HeartbeatView::kFixedLength,
                 tp::EncodeHeartbeat(span, RealtimeNs()));
          Flush(c);
          if (c->dead) break;
        }
        next = std::min(next, c->last_send + c->heartbeat);
        if (c->reading) next = std::min(next, c->last_recv + idle_limit);
        break;
      }
    }
  }
  next_timer_ = next;
}

void Server::Impl::Worker::BeginDrain(Clock::time_point now) {
  phase_ = Phase::kDraining;
  phase_deadline_ = now + server_->options_.drain_timeout;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, server_->listen_fd_, nullptr);
  for (auto& [id, conn] : conns_) {
    Connection* c = conn.get();
    if (c->dead) continue;
    if (c->state == Connection::State::kAwaitingLogon) {
      CloseNow(c);
      continue;
    }
    c->reading = false;
    UpdateInterest(c);
  }
}

void Server::Impl::Worker::BeginLogout(Clock::time_point now) {
  phase_ = Phase::kLoggingOut;
  phase_deadline_ = now + server_->options_.logout_timeout;
  for (auto& [id, conn] : conns_) {
    Connection* c = conn.get();
    if (c->dead) continue;
    if (c->state == Connection::State::kActive) {
      AppendLogout(c, tp::ErrorCode::kShuttingDown);
      c->state = Connection::State::kLoggedOut;
      c->deadline = phase_deadline_;
      c->reading = true;
      Flush(c);
    }
  }
  for (Connection* c : closed_) conns_.erase(c->id);
  closed_.clear();
}

}  // namespace tachyon::service
