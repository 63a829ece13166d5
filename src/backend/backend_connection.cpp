#include "backend/backend_connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/log.h"
#include "base/safe_text.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::backend {

namespace tp = ::tachyon::protocol;

namespace {
constexpr std::string_view kClientName = "tachyon-gateway";
// Backend silence that fails a connection, in heartbeat intervals.
constexpr int kSilentIntervals = 3;
}  // namespace

BackendConnection::BackendConnection(ConnectionOwner& owner,
                                     const config::BackendService& svc,
                                     std::string_view endpoint,
                                     std::uint32_t max_frame_length,
                                     io::Reactor& reactor,
                                     base::LoopClock& clock)
    : owner_(owner),
      svc_(svc),
      endpoint_(endpoint),
      reactor_(reactor),
      clock_(clock),
      slots_(static_cast<std::size_t>(svc.max_in_flight_per_connection)),
      receive_size_(2 * tp::FrameDecoder::MinStorage(max_frame_length)),
      receive_storage_(
          std::make_unique_for_overwrite<std::byte[]>(receive_size_)),
      decoder_(std::span<std::byte>(receive_storage_.get(), receive_size_),
               max_frame_length) {
  free_slots_.reserve(slots_.size());
  for (std::size_t i = slots_.size(); i > 0; --i) {
    free_slots_.push_back(static_cast<std::uint32_t>(i - 1));
  }
  // Enough for a few frames of the usual size; grows (once) for larger.
  sending_.reserve(16 * 1024);
  queued_.reserve(16 * 1024);
}

BackendConnection::~BackendConnection() = default;

bool BackendConnection::Start(const sockaddr_in& addr) {
  const int fd =
      ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    TACHYON_LOG(kWarn) << "backend '" << svc_.name
                       << "': socket: " << std::strerror(errno);
    state_ = State::kClosed;
    return false;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const std::int64_t now = clock_.now_ns();
  logon_deadline_ns_ = now + std::int64_t{svc_.connect_timeout_ms} * 1'000'000;
  last_recv_ns_ = last_send_ns_ = idle_since_ns_ = now;
  state_ = State::kConnecting;
  io::ConnectionHandler* handler = this;
  if (tls_ != nullptr) handler = tls_.get();
  conn_ = reactor_.Connect(fd, reinterpret_cast<const sockaddr*>(&addr),
                           sizeof addr, handler,
                           std::int64_t{svc_.connect_timeout_ms} * 1000);
  if (tls_ != nullptr) tls_->Attach(conn_);
  return true;
}

bool BackendConnection::UseTls(SSL_CTX* ctx, tls::TlsCounters& counters,
                               std::string server_name) {
  tls_ = std::make_unique<tls::TlsConnection>(
      reactor_, *this, counters, ctx, /*server=*/false, std::string(endpoint_));
  // Fail closed: without the name check any certificate of a trusted CA
  // would do.
  if (!tls_->ok() || server_name.empty() || !tls_->SetServerName(server_name)) {
    TACHYON_LOG(kWarn) << "backend '" << svc_.name
                       << "': cannot set up TLS for " << endpoint_
                       << " (server name '" << server_name
                       << "'); not connecting";
    tls_.reset();
    state_ = State::kClosed;
    return false;
  }
  return true;
}

void BackendConnection::OnConnected(int error) {
  if (state_ != State::kConnecting) return;
  if (error != 0) {
    state_ = State::kClosed;  // the reactor closes it; OnReleased follows
    TACHYON_LOG(kDebug) << "backend '" << svc_.name
                        << "': connect failed: " << std::strerror(-error);
    owner_.OnEnded(this, ConnectionEnd::kConnectFailed);
    return;
  }
  state_ = State::kLoggingOn;
  last_recv_ns_ = clock_.now_ns();
  const std::size_t len =
      tp::LogonView::kFixedLength + svc_.token.size() + kClientName.size() + 8;
  std::span<std::byte> out = Reserve(len);
  Commit(
      tp::EncodeLogon(out, {.min_version = tp::kProtocolVersion,
                            .max_version = tp::kMaxProtocolVersion,
                            .heartbeat_interval_ms = svc_.heartbeat_interval_ms,
                            .token = svc_.token,
                            .client_name = kClientName}));
}

void BackendConnection::SendRequest(std::uint32_t record,
                                    std::uint32_t service_id,
                                    std::uint32_t timeout_ms,
                                    std::span<const std::byte> payload,
                                    std::uint32_t& slot_out) {
  const std::uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  slot_out = slot;
  Slot& s = slots_[slot];
  s.used = true;
  s.record = record;
  ++in_flight_;
  const std::uint64_t correlation =
      (std::uint64_t{s.generation} << 32) | std::uint64_t{slot};
  std::span<std::byte> out =
      Reserve(tp::PaddedLength(static_cast<std::uint32_t>(
          tp::RequestView::kFixedLength + payload.size())));
  Commit(tp::EncodeRequest(out, {.correlation_id = correlation,
                                 .service_id = service_id,
                                 .timeout_ms = timeout_ms,
                                 .payload = payload}));
}

void BackendConnection::FreeSlot(std::uint32_t slot) {
  Slot& s = slots_[slot];
  s.used = false;
  ++s.generation;
  free_slots_.push_back(slot);
  if (--in_flight_ == 0) idle_since_ns_ = clock_.now_ns();
}

void BackendConnection::ReleaseSlot(std::uint32_t slot) {
  if (slot < slots_.size() && slots_[slot].used) FreeSlot(slot);
}

// ---------------------------------------------------------------- send

std::span<std::byte> BackendConnection::Reserve(std::size_t bytes) {
  reserved_at_ = queued_.size();
  queued_.resize(reserved_at_ + bytes);
  return std::span<std::byte>(queued_).subspan(reserved_at_);
}

void BackendConnection::Commit(std::size_t bytes) {
  // Reserve took an upper bound; keep what the encoder wrote.
  queued_.resize(reserved_at_ + bytes);
  SendMore();
}

void BackendConnection::SendMore() {
  for (int rounds = 0; rounds < 64; ++rounds) {
    if (state_ == State::kClosed || state_ == State::kConnecting) return;
    // A send the reactor still owns, or a full socket: its completion (or
    // OnWritable) comes back here.
    if (send_waiting_) return;
    if (!send_busy_) {
      if (queued_.empty()) {
        if (state_ == State::kClosing) CloseNow();  // the final frame is out
        return;
      }
      std::swap(sending_, queued_);
      queued_.clear();
      sent_ = 0;
      send_busy_ = true;
    }
    iovec iov{sending_.data() + sent_, sending_.size() - sent_};
    const io::SendResult r = tls_ != nullptr ? tls_->Send({&iov, 1})
                                             : reactor_.Send(conn_, {&iov, 1});
    if (r.pending || r.bytes == 0) {
      send_waiting_ = true;
      return;
    }
    if (!Sent(r.bytes)) return;
  }
}

bool BackendConnection::Sent(ssize_t result) {
  if (result < 0) {
    if (state_ == State::kClosing) {
      CloseNow();
      return false;
    }
    char why[160];
    const int n =
        std::snprintf(why, sizeof why, "connection to backend %.*s failed (%s)",
                      static_cast<int>(endpoint_.size()), endpoint_.data(),
                      std::strerror(static_cast<int>(-result)));
    End(ConnectionEnd::kFailed, tp::ResponseStatus::kUnavailable,
        std::string_view(why, static_cast<std::size_t>(std::clamp(n, 0, 159))));
    return false;
  }
  last_send_ns_ = clock_.now_ns();
  sent_ += static_cast<std::size_t>(result);
  if (sent_ == sending_.size()) {
    sending_.clear();
    send_busy_ = false;
  }
  return true;
}

void BackendConnection::OnSendComplete(ssize_t result) {
  send_waiting_ = false;
  if (state_ == State::kClosed) return;
  if (result == 0) {
    send_waiting_ = true;  // the socket is full: OnWritable follows
    return;
  }
  if (Sent(result)) SendMore();
}

void BackendConnection::OnWritable() {
  send_waiting_ = false;
  SendMore();
}

// ---------------------------------------------------------------- receive

void BackendConnection::OnData(std::span<const std::byte> data) {
  if (state_ != State::kLoggingOn && state_ != State::kReady) return;
  last_recv_ns_ = clock_.now_ns();
  while (!data.empty()) {
    data = data.subspan(decoder_.Append(data));
    for (;;) {
      const tp::DecodeResult r = decoder_.Next();
      if (r.status == tp::DecodeStatus::kIncomplete) break;
      if (r.status == tp::DecodeStatus::kError) {
        char why[160];
        const std::string_view code = tp::ErrorCodeName(r.error);
        const int n = std::snprintf(
            why, sizeof why, "backend %.*s sent a malformed frame (%.*s)",
            static_cast<int>(endpoint_.size()), endpoint_.data(),
            static_cast<int>(code.size()), code.data());
        const std::string_view text(
            why, static_cast<std::size_t>(std::clamp(n, 0, 159)));
        End(ConnectionEnd::kFailed, tp::ResponseStatus::kBackendError, text,
            {.kind = Farewell::Kind::kError, .code = r.error, .text = text});
        return;
      }
      if (!HandleFrame(r.frame)) return;
    }
  }
}

bool BackendConnection::HandleFrame(tp::FrameView frame) {
  const tp::MessageType type = frame.type();
  if (state_ == State::kLoggingOn) {
    if (type == tp::MessageType::kLogonAck) {
      const tp::LogonAckView ack(frame);
      std::uint32_t hb = ack.heartbeat_interval_ms();
      if (hb == 0) hb = svc_.heartbeat_interval_ms;
      heartbeat_ns_ = std::int64_t{hb} * 1'000'000;
      peer_max_frame_length_ = ack.max_frame_length();
      state_ = State::kReady;
      idle_since_ns_ = clock_.now_ns();
      owner_.OnLoggedOn(this);
      return state_ != State::kClosed;
    }
    if (type == tp::MessageType::kLogonReject) {
      const tp::ErrorView reject(frame);
      TACHYON_LOG(kWarn) << "backend '" << svc_.name
                         << "' rejected the gateway's LOGON: "
                         << tp::ErrorCodeName(reject.code()) << ": "
                         << base::Quoted(reject.text());
      state_ = State::kClosed;
      reactor_.Close(conn_);
      owner_.OnEnded(this, ConnectionEnd::kConnectFailed);
      return false;
    }
  } else {
    switch (type) {
      case tp::MessageType::kResponse:
        HandleResponse(tp::ResponseView(frame));
        return state_ != State::kClosed;
      case tp::MessageType::kHeartbeat:
        return true;
      case tp::MessageType::kError: {
        const tp::ErrorView e(frame);
        TACHYON_LOG(kWarn) << "backend '" << svc_.name << "' " << endpoint_
                           << " sent ERROR " << tp::ErrorCodeName(e.code())
                           << ": " << base::Quoted(e.text());
        if (!e.fatal()) return true;
        char why[160];
        const int n =
            std::snprintf(why, sizeof why,
                          "backend %.*s ended the connection with ERROR %.*s",
                          static_cast<int>(endpoint_.size()), endpoint_.data(),
                          static_cast<int>(tp::ErrorCodeName(e.code()).size()),
                          tp::ErrorCodeName(e.code()).data());
        End(ConnectionEnd::kFailed, tp::ResponseStatus::kUnavailable,
            std::string_view(why,
                             static_cast<std::size_t>(std::clamp(n, 0, 159))));
        return false;
      }
      case tp::MessageType::kLogout: {
        char why[160];
        const int n =
            std::snprintf(why, sizeof why, "backend %.*s logged out",
                          static_cast<int>(endpoint_.size()), endpoint_.data());
        End(ConnectionEnd::kFailed, tp::ResponseStatus::kUnavailable,
            std::string_view(why,
                             static_cast<std::size_t>(std::clamp(n, 0, 159))),
            {.kind = Farewell::Kind::kLogout});
        return false;
      }
      default:
        break;
    }
  }
  char why[160];
  const int n = std::snprintf(
      why, sizeof why, "backend %.*s sent %.*s, which a backend may not send",
      static_cast<int>(endpoint_.size()), endpoint_.data(),
      static_cast<int>(tp::MessageTypeName(type).size()),
      tp::MessageTypeName(type).data());
  const std::string_view text(why,
                              static_cast<std::size_t>(std::clamp(n, 0, 159)));
  End(ConnectionEnd::kFailed, tp::ResponseStatus::kBackendError, text,
      {.kind = Farewell::Kind::kError,
       .code = tp::ErrorCode::kUnexpectedMessage,
       .text = text});
  return false;
}

namespace {
std::string_view StatusName(tp::ResponseStatus status) {
  switch (status) {
    case tp::ResponseStatus::kOk:
      return "OK";
    case tp::ResponseStatus::kNoSuchService:
      return "NO_SUCH_SERVICE";
    case tp::ResponseStatus::kTimeout:
      return "TIMEOUT";
    case tp::ResponseStatus::kUnavailable:
      return "UNAVAILABLE";
    case tp::ResponseStatus::kBackendError:
      return "BACKEND_ERROR";
    case tp::ResponseStatus::kOverloaded:
      return "OVERLOADED";
  }
  return "UNKNOWN";
}
}  // namespace

void BackendConnection::HandleResponse(const tp::ResponseView& m) {
  const std::uint64_t correlation = m.correlation_id();
  const auto slot = static_cast<std::uint32_t>(correlation & 0xffffffffu);
  const auto generation = static_cast<std::uint32_t>(correlation >> 32);
  if (slot >= slots_.size() || !slots_[slot].used ||
      slots_[slot].generation != generation) {
    owner_.OnLateResponse();
    return;
  }
  const std::uint32_t record = slots_[slot].record;
  FreeSlot(slot);
  owner_.OnResponse(record);
  tp::ResponseStatus status = m.status();
  std::span<const std::byte> payload = m.payload();
  char why[256];
  if (status != tp::ResponseStatus::kOk &&
      status != tp::ResponseStatus::kBackendError) {
    // Only OK and BACKEND_ERROR are the backend's to say (PROTOCOL.md
    // 19.3); anything else reaches the client as BACKEND_ERROR naming what
    // the backend sent, then its text (cut to fit).
    const std::string_view name = StatusName(status);
    const int n = std::snprintf(
        why, sizeof why, "backend answered %.*s: %.*s",
        static_cast<int>(name.size()), name.data(),
        static_cast<int>(std::min<std::size_t>(payload.size(), 200)),
        reinterpret_cast<const char*>(payload.data()));
    status = tp::ResponseStatus::kBackendError;
    payload = std::as_bytes(std::span<const char>(
        why, static_cast<std::size_t>(std::clamp(n, 0, 255))));
  }
  owner_.OnAnswer(record, status, payload);
}

// ---------------------------------------------------------------- life

void BackendConnection::Tick(std::int64_t now_ns) {
  switch (state_) {
    case State::kConnecting:
    case State::kLoggingOn:
      if (now_ns > logon_deadline_ns_) {
        state_ = State::kClosed;
        reactor_.Close(conn_);
        owner_.OnEnded(this, ConnectionEnd::kConnectFailed);
      }
      return;
    case State::kReady:
      if (now_ns - last_recv_ns_ > kSilentIntervals * heartbeat_ns_) {
        char why[160];
        const int n = std::snprintf(
            why, sizeof why, "backend %.*s sent nothing for %lld ms",
            static_cast<int>(endpoint_.size()), endpoint_.data(),
            static_cast<long long>(kSilentIntervals * heartbeat_ns_ /
                                   1'000'000));
        const std::string_view text(
            why, static_cast<std::size_t>(std::clamp(n, 0, 159)));
        End(ConnectionEnd::kFailed, tp::ResponseStatus::kUnavailable, text,
            {.kind = Farewell::Kind::kError,
             .code = tp::ErrorCode::kHeartbeatTimeout,
             .text = text});
        return;
      }
      if (now_ns - last_send_ns_ >= heartbeat_ns_ && !send_busy_) {
        std::span<std::byte> out = Reserve(tp::HeartbeatView::kFixedLength);
        last_send_ns_ = now_ns;
        Commit(tp::EncodeHeartbeat(out, clock_.realtime_ns()));
      }
      return;
    case State::kClosing:
      if (now_ns > close_deadline_ns_) CloseNow();
      return;
    case State::kClosed:
      return;
  }
}

void BackendConnection::Retire(bool shutting_down) {
  if (state_ == State::kConnecting || state_ == State::kLoggingOn) {
    // Not logged on: nothing to say, nothing in flight.
    state_ = State::kClosed;
    reactor_.Close(conn_);
    owner_.OnEnded(this, ConnectionEnd::kAbandoned);
    return;
  }
  End(ConnectionEnd::kRetired, tp::ResponseStatus::kUnavailable,
      shutting_down ? "the gateway is shutting down"
                    : "the backend connection was retired",
      {.kind = Farewell::Kind::kLogout,
       .code = shutting_down ? tp::ErrorCode::kShuttingDown
                             : tp::ErrorCode::kNone});
}

void BackendConnection::End(ConnectionEnd how, tp::ResponseStatus status,
                            std::string_view why, Farewell farewell) {
  if (state_ == State::kClosed || state_ == State::kClosing) return;
  const bool up = state_ == State::kLoggingOn || state_ == State::kReady;
  if (state_ != State::kReady) how = ConnectionEnd::kConnectFailed;
  state_ = State::kClosing;  // takes no request, reads nothing more
  for (std::uint32_t i = 0; i < slots_.size() && in_flight_ > 0; ++i) {
    if (!slots_[i].used) continue;
    const std::uint32_t record = slots_[i].record;
    slots_[i].used = false;
    ++slots_[i].generation;
    free_slots_.push_back(i);
    --in_flight_;
    owner_.OnAnswer(record, status, tp::AsBytes(why));
  }
  owner_.OnEnded(this, how);
  if (state_ != State::kClosing) return;
  if (!up || farewell.kind == Farewell::Kind::kNone) {
    CloseNow();
    return;
  }
  close_deadline_ns_ = clock_.now_ns() + kFinalFrameNs;
  if (farewell.kind == Farewell::Kind::kLogout) {
    std::span<std::byte> out = Reserve(tp::LogoutView::kFixedLength);
    Commit(tp::EncodeLogout(out, farewell.code));
  } else {
    std::span<std::byte> out =
        Reserve(tp::ErrorView::kFixedLength + farewell.text.size() + 8);
    Commit(tp::EncodeError(
        out, {.code = farewell.code, .fatal = true, .text = farewell.text}));
  }
}

void BackendConnection::CloseNow() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  reactor_.Close(conn_);
}

void BackendConnection::OnPeerClosed(int error) {
  if (state_ == State::kConnecting || state_ == State::kLoggingOn) {
    state_ = State::kClosed;
    reactor_.Close(conn_);
    owner_.OnEnded(this, ConnectionEnd::kConnectFailed);
    return;
  }
  if (state_ == State::kClosing) {
    CloseNow();
    return;
  }
  char why[160];
  const int n =
      error == 0
          ? std::snprintf(why, sizeof why, "backend %.*s closed the connection",
                          static_cast<int>(endpoint_.size()), endpoint_.data())
          : std::snprintf(why, sizeof why,
                          "connection to backend %.*s failed (%s)",
                          static_cast<int>(endpoint_.size()), endpoint_.data(),
                          std::strerror(-error));
  End(ConnectionEnd::kFailed, tp::ResponseStatus::kUnavailable,
      std::string_view(why, static_cast<std::size_t>(std::clamp(n, 0, 159))));
}

void BackendConnection::OnReleased() { owner_.OnReleased(this); }

}  // namespace tachyon::backend
