#include "session/session_agent.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/log_limit.h"
#include "io/endpoint.h"
#include "io/socket.h"
#include "session/session.h"
#include "tachyon/protocol/session_messages.h"

namespace tachyon::session {
namespace {

// The peer of a connected socket (family AF_UNSPEC if the kernel will
// not say).
sockaddr_storage PeerAddressOf(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    addr.ss_family = AF_UNSPEC;
  }
  return addr;
}

// "ip:port" of a peer address ("?" for anything but IPv4 and IPv6).
std::string PeerText(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) {
    return io::Endpoint::FromSockaddr(
               reinterpret_cast<const sockaddr_in&>(addr))
        .ToString();
  }
  if (addr.ss_family == AF_INET6) {
    const auto& a6 = reinterpret_cast<const sockaddr_in6&>(addr);
    char text[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET6, &a6.sin6_addr, text, sizeof text);
    return absl::StrCat("[", text, "]:", ntohs(a6.sin6_port));
  }
  return "?";
}

std::string PeerOf(int fd) { return PeerText(PeerAddressOf(fd)); }

}  // namespace

SessionAgent::SessionAgent(const SessionAgentParts& p)
    : config_(*p.config),
      worker_(p.worker),
      cpu_(p.cpu),
      listen_fd_(p.listen_fd),
      reactor_(*p.reactor),
      registry_(*p.registry),
      interest_(*p.interest),
      waker_(*p.waker),
      services_(*p.services),
      router_(p.router),
      authenticator_(p.authenticator),
      clock_(*p.clock),
      counters_(*p.counters, p.worker),
      board_(p.board),
      address_limits_(p.address_limits),
      tls_listen_fd_(p.tls_listen_fd),
      tls_context_(p.tls_context) {
  tls_counters_ =
      p.tls_context != nullptr
          ? std::make_unique<tls::TlsCounters>(*p.counters, p.worker, "server")
          : std::make_unique<tls::TlsCounters>();
}

SessionAgent::~SessionAgent() {
  // Sessions left by a failed start; normally the drain releases them all.
  for (Session* s : sessions_) delete s;
}

absl::Status SessionAgent::OnStart(std::int64_t now_ns) {
  next_tick_ns_ = now_ns + kTickNs;
  known_streams_ = 0;
  if (listen_fd_ >= 0) {
    if (absl::Status s = reactor_.AddListener(listen_fd_, this); !s.ok()) {
      return s;
    }
    listening_ = true;
  }
  if (tls_listen_fd_ >= 0 && tls_context_ != nullptr) {
    if (absl::Status s = reactor_.AddListener(tls_listen_fd_, &tls_acceptor_);
        !s.ok()) {
      return s;
    }
    tls_listening_ = true;
  }
  return absl::OkStatus();
}

int SessionAgent::DoWork(std::int64_t now_ns) {
  int work = CheckNewStreams();
  work += RetryHeld(now_ns);
  work += PollStreams();
  work += FlushDirty();
  if (now_ns >= next_tick_ns_) {
    Tick(now_ns);
    next_tick_ns_ = now_ns + kTickNs;
  }
  return work;
}

int SessionAgent::RetryHeld(std::int64_t now_ns) {
  if (held_.empty() || now_ns < next_hold_retry_ns_) return 0;
  next_hold_retry_ns_ = now_ns + kHoldRetryNs;
  // A session that holds anew while retried lists itself again in held_.
  retrying_.swap(held_);
  int work = 0;
  for (Session* s : retrying_) {
    if (s->RetryHeld()) {
      ++work;
    } else {
      held_.push_back(s);
    }
  }
  retrying_.clear();
  return work;
}

void SessionAgent::HoldPublisher(Session* s) {
  if (held_.empty()) next_hold_retry_ns_ = clock_.now_ns() + kHoldRetryNs;
  held_.push_back(s);
}

bool SessionAgent::HasPendingWork() const {
  if (!dirty_.empty() || registry_.last_id() != known_streams_) return true;
  for (const LocalStream* ls : local_order_) {
    if (ls->log->tail() != ls->seen_tail) return true;
  }
  return false;
}

void SessionAgent::OnDrain(std::int64_t now_ns) {
  if (listening_) {
    reactor_.RemoveListener(listen_fd_);
    // Leave the SO_REUSEPORT group now: an io_uring ring tears down
    // asynchronously and its multishot accept would keep the socket
    // listening a while, so a gateway restarted on this port would get
    // (and reset) some of its first connections.
    ::shutdown(listen_fd_, SHUT_RDWR);
    listening_ = false;
  }
  if (tls_listening_) {
    reactor_.RemoveListener(tls_listen_fd_);
    ::shutdown(tls_listen_fd_, SHUT_RDWR);
    tls_listening_ = false;
  }
  // BeginDrain may close a session at once (not logged on), which removes
  // nothing from sessions_ before the reactor releases it.
  for (std::size_t i = 0; i < sessions_.size(); ++i) {
    sessions_[i]->BeginDrain(now_ns);
  }
}

void SessionAgent::OnAbort() {
  for (std::size_t i = 0; i < sessions_.size(); ++i) sessions_[i]->Abort();
}

absl::StatusOr<stream::StreamLog*> SessionAgent::OpenStream(
    std::string_view name, stream::StreamUse use) {
  const std::uint32_t before = registry_.last_id();
  absl::StatusOr<stream::StreamLog*> log = registry_.Open(name, use);
  if (log.ok() && registry_.last_id() != before) services_.OnStreamCreated();
  return log;
}

absl::StatusOr<stream::StreamLog*> SessionAgent::OpenStream(
    std::string_view name, stream::StreamUse use,
    const stream::StreamRegistry::CreateGuard& guard) {
  const std::uint32_t before = registry_.last_id();
  absl::StatusOr<stream::StreamLog*> log = registry_.Open(name, use, guard);
  if (log.ok() && registry_.last_id() != before) services_.OnStreamCreated();
  return log;
}

int SessionAgent::CheckNewStreams() {
  const std::uint32_t n = registry_.last_id();
  if (n == known_streams_) return 0;
  // OnNewStream never adds or removes pattern sessions (only frames and
  // releases do), so the list is stable while we walk it.
  auto tell = [this](stream::StreamLog* log) {
    for (std::size_t i = 0; i < pattern_sessions_.size(); ++i) {
      pattern_sessions_[i]->OnNewStream(log);
    }
  };
  if (!pattern_sessions_.empty()) {
    if (n - known_streams_ <= registry_.slot_count()) {
      // Ids grow by one per creation (skipping taken slots); those created
      // and retired meanwhile are gone and found no more.
      for (std::uint32_t id = known_streams_ + 1; id <= n; ++id) {
        if (stream::StreamLog* log = registry_.Find(StreamId{id})) tell(log);
      }
    } else {
      for (std::size_t i = 0; i < registry_.slot_count(); ++i) {
        stream::StreamLog* log = registry_.AtSlot(i);
        if (log != nullptr && log->id().value() > known_streams_ &&
            log->id().value() <= n) {
          tell(log);
        }
      }
    }
  }
  known_streams_ = n;
  return 1;
}

int SessionAgent::PollStreams() {
  int work = 0;
  for (LocalStream* ls : local_order_) {
    const std::uint64_t tail = ls->log->tail();
    if (tail == ls->seen_tail) continue;
    ls->seen_tail = tail;
    ++work;
    for (Delivery* d : ls->readers) {
      d->session()->OnStreamGrew(d);
      MarkDirty(d->session());
    }
  }
  return work;
}

void SessionAgent::MarkDirty(Session* s) {
  if (s->dirty) return;
  s->dirty = true;
  dirty_.push_back(s);
}

int SessionAgent::FlushDirty() {
  if (dirty_.empty()) return 0;
  int work = 0;
  // Flushing may mark sessions dirty again (more than one send of data);
  // those wait for the next iteration so every session gets a turn.
  flushing_.swap(dirty_);
  for (Session* s : flushing_) s->dirty = false;
  for (Session* s : flushing_) {
    s->Flush();
    ++work;
  }
  flushing_.clear();
  return work;
}

void SessionAgent::Tick(std::int64_t now_ns) {
  // Tick may close sessions, but a session is destroyed only when the
  // reactor releases it (inside Poll), so sessions_ does not change here.
  for (std::size_t i = 0; i < sessions_.size(); ++i) {
    sessions_[i]->Tick(now_ns);
  }
  if (board_ != nullptr && now_ns >= next_publish_ns_) PublishRows(now_ns);
}

void SessionAgent::PublishRows(std::int64_t now_ns) {
  // Rows are refilled in place: the strings and vectors of the previous
  // publish keep their capacity (and the board's copy keeps its own).
  rows_.resize(sessions_.size());
  for (std::size_t i = 0; i < sessions_.size(); ++i) {
    sessions_[i]->FillInfo(rows_[i], subscription_order_);
    rows_[i].worker = worker_;
  }
  if (board_->Publish(rows_)) {
    next_publish_ns_ = now_ns + SessionBoard::kPublishIntervalNs;
  }
}

void SessionAgent::AddReader(Delivery* d) {
  stream::StreamLog* log = d->log();
  auto& slot = local_streams_[log->id().value()];
  if (slot == nullptr) {
    slot = std::make_unique<LocalStream>();
    slot->log = log;
    slot->seen_tail = log->tail();
    local_order_.push_back(slot.get());
    interest_.Retain(log);
  }
  d->reader_index = static_cast<std::uint32_t>(slot->readers.size());
  slot->readers.push_back(d);
}

void SessionAgent::RemoveReader(Delivery* d) {
  auto it = local_streams_.find(d->log()->id().value());
  if (it == local_streams_.end()) return;
  LocalStream* ls = it->second.get();
  // Swap-remove: readers' order carries no meaning.
  std::vector<Delivery*>& readers = ls->readers;
  const std::uint32_t i = d->reader_index;
  if (i < readers.size() && readers[i] == d) {
    readers[i] = readers.back();
    readers[i]->reader_index = i;
    readers.pop_back();
  }
  if (readers.empty()) {
    std::erase(local_order_, ls);
    interest_.Release(ls->log);
    local_streams_.erase(it);
  }
}

void SessionAgent::AddPatternSession(Session* s) {
  if (std::find(pattern_sessions_.begin(), pattern_sessions_.end(), s) ==
      pattern_sessions_.end()) {
    pattern_sessions_.push_back(s);
  }
}

void SessionAgent::RemovePatternSession(Session* s) {
  std::erase(pattern_sessions_, s);
}

void SessionAgent::Refuse(int fd, bool shutting_down, bool tls) {
  if (shutting_down) {
    counters_.refused_shutting_down.Add();
  } else {
    counters_.refused_connection_limit.Add();
  }
  TACHYON_LOG_LIMITED(kInfo, kLogonRejected)
      << "connection refused peer=" << PeerOf(fd) << " worker=" << worker_
      << " reason="
      << (shutting_down ? "gateway is shutting down"
                        : "connection limit reached (limits.max_connections)");
  CloseWithError(
      fd, tls,
      shutting_down ? protocol::ErrorCode::kShuttingDown
                    : protocol::ErrorCode::kLimitExceeded,
      shutting_down ? "gateway is shutting down" : "connection limit reached");
}

void SessionAgent::CloseWithError(int fd, bool tls, protocol::ErrorCode code,
                                  std::string_view text) {
  // Tell the client why before closing; best effort, the socket is new and
  // its send buffer empty. Not on the TLS listener: a TLS client would read
  // a plain frame as a broken handshake, so it only sees the close (the
  // reason is in the log and the counters).
  if (!tls) {
    std::array<std::byte, 160> buf;
    const std::size_t n =
        protocol::EncodeError(buf, {.code = code, .fatal = true, .text = text});
    [[maybe_unused]] ssize_t w =
        ::send(fd, buf.data(), n, MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
}

void SessionAgent::RefuseAddress(int fd, const std::string& peer, bool tls) {
  counters_.refused_address_limit.Add();
  counters_.limit_address_connections.Add();
  const int limit = address_limits_->options().max_connections_per_address;
  TACHYON_LOG_LIMITED(kInfo, kLogonRejected)
      << "connection refused peer=" << peer << " worker=" << worker_
      << " reason=connection limit per address reached "
         "(limits.max_connections_per_address = "
      << limit << ")";
  // The same answer as the gateway-wide limit (PROTOCOL.md 7.1): a fatal
  // ERROR LIMIT_EXCEEDED naming the limit.
  CloseWithError(fd, tls, protocol::ErrorCode::kLimitExceeded,
                 absl::StrCat("connection limit per address reached "
                              "(limits.max_connections_per_address = ",
                              limit, ")"));
}

void SessionAgent::Accept(int fd, bool tls) {
  counters_.connections_accepted.Add();
  if (stopping()) {
    Refuse(fd, true, tls);
    return;
  }
  const sockaddr_storage peer_addr = PeerAddressOf(fd);
  const std::optional<AddressKey> address = AddressKey::From(peer_addr);
  // The per-address limit first: a flood from one address is refused
  // without taking gateway-wide slots from anyone else.
  bool address_counted = false;
  if (address_limits_ != nullptr && address.has_value()) {
    if (!address_limits_->TryAddConnection(*address)) {
      RefuseAddress(fd, PeerText(peer_addr), tls);
      return;
    }
    address_counted = true;
  }
  auto release_address = [&] {
    if (address_counted) address_limits_->ReleaseConnection(*address);
  };
  if (!services_.TryAddConnection()) {
    release_address();
    Refuse(fd, false, tls);
    return;
  }
  if (absl::Status s = io::TuneSocket(fd, config_.socket, cpu_); !s.ok()) {
    TACHYON_LOG(kError) << "worker " << worker_ << ": " << s.message();
    ::close(fd);
    services_.ReleaseConnection();
    release_address();
    return;
  }
  const std::int64_t now =
      clock_.now_ns() == 0 ? base::MonotonicNs() : clock_.now_ns();
  auto* session = new Session(*this, now);
  session->set_peer(PeerText(peer_addr));
  io::ConnectionHandler* handler = session;
  if (tls) {
    handler = session->EnableTls(tls_context_);
    if (handler == nullptr) {
      ::close(fd);
      delete session;
      services_.ReleaseConnection();
      release_address();
      return;
    }
  }
  io::Connection* conn = reactor_.AddConnection(fd, handler);
  if (conn == nullptr) {
    delete session;
    services_.ReleaseConnection();
    release_address();
    return;
  }
  session->Attach(conn);
  if (address.has_value()) session->set_address(*address, address_counted);
  TACHYON_LOG_LIMITED(kInfo, kConnection)
      << "connection opened peer=" << session->peer() << " worker=" << worker_
      << (tls ? " tls" : "");
  session->agent_index = sessions_.size();
  sessions_.push_back(session);
}

void SessionAgent::CloseConnection(io::Connection* conn) {
  if (conn != nullptr) reactor_.Close(conn);
}

void SessionAgent::DestroySession(Session* s) {
  // Swap-remove by the session's index: O(1) however many there are.
  const std::size_t i = s->agent_index;
  if (i < sessions_.size() && sessions_[i] == s) {
    sessions_[i] = sessions_.back();
    sessions_[i]->agent_index = i;
    sessions_.pop_back();
  }
  std::erase(pattern_sessions_, s);
  if (s->dirty) std::erase(dirty_, s);
  std::erase(flushing_, s);
  if (s->holding()) std::erase(held_, s);
  if (const AddressKey* a = s->counted_address(); a != nullptr) {
    address_limits_->ReleaseConnection(*a);
  }
  delete s;
  services_.ReleaseConnection();
}

}  // namespace tachyon::session
