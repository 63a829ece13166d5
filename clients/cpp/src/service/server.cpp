// tachyon::service::Server: the Responder, listening, starting and
// stopping the worker threads (server_impl.h has the design; worker.cpp the
// event loop and the protocol).
#include "tachyon/service/server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_impl.h"
#include "tachyon/client/affinity.h"

namespace tachyon::service {
namespace {

namespace tp = ::tachyon::protocol;
using internal::ErrnoText;

constexpr char kDroppedText[] =
    "the service dropped the request without answering";

}  // namespace

// ------------------------------------------------------------- Responder

Responder::Responder(std::shared_ptr<internal::CompletionQueue> queue,
                     std::uint64_t connection, std::uint64_t correlation,
                     std::uint32_t service)
    : queue_(std::move(queue)),
      connection_(connection),
      correlation_(correlation),
      service_(service) {}

Responder::Responder(Responder&& other) noexcept
    : queue_(std::move(other.queue_)),
      connection_(other.connection_),
      correlation_(other.correlation_),
      service_(other.service_) {
  other.queue_.reset();
}

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    Fail(kDroppedText);
    queue_ = std::move(other.queue_);
    other.queue_.reset();
    connection_ = other.connection_;
    correlation_ = other.correlation_;
    service_ = other.service_;
  }
  return *this;
}

Responder::~Responder() { Fail(kDroppedText); }

bool Responder::Reply(std::span<const std::byte> payload) {
  return Complete(true, payload);
}

bool Responder::Reply(std::string_view text) {
  return Complete(true, tp::AsBytes(text));
}

bool Responder::Fail(std::string_view message) {
  return Complete(false, tp::AsBytes(message));
}

bool Responder::Complete(bool ok, std::span<const std::byte> payload) {
  if (queue_ == nullptr) return false;
  std::shared_ptr<internal::CompletionQueue> queue = std::move(queue_);
  queue_.reset();
  internal::CompletionQueue::Completion c;
  c.connection = connection_;
  c.correlation = correlation_;
  c.service = service_;
  c.ok = ok;
  c.payload.assign(payload.begin(), payload.end());
  queue->Push(std::move(c));
  return true;
}

// ------------------------------------------------------------ Server::Impl

Server::Impl::~Impl() {
  (void)Stop();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

absl::Status Server::Impl::Listen() {
  const std::string where = absl::StrCat(options_.host, ":", options_.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = absl::StrCat(options_.port);
  if (const int rc =
          ::getaddrinfo(options_.host.empty() ? nullptr : options_.host.c_str(),
                        port.c_str(), &hints, &res);
      rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", where, ": ", ::gai_strerror(rc)));
  }
  int last_errno = 0;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    const int fd =
        ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                 a->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 ||
        ::listen(fd, SOMAXCONN) != 0) {
      last_errno = errno;
      ::close(fd);
      continue;
    }
    listen_fd_ = fd;
    break;
  }
  ::freeaddrinfo(res);
  if (listen_fd_ < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", where, ": ", ErrnoText(last_errno)));
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.ss_family == AF_INET6
                    ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                    : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return absl::OkStatus();
}

absl::Status Server::Impl::StartWorkers() {
  int n = options_.threads;
  if (n == 0)
    n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>(this);
    if (absl::Status s = w->Init(); !s.ok()) return s;
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) w->Start();
  for (std::size_t i = 0; i < workers_.size() && !options_.cpus.empty(); ++i) {
    const int cpu = options_.cpus[i % options_.cpus.size()];
    if (absl::Status s = client::PinThreadToCpu(workers_[i]->thread(), cpu);
        !s.ok()) {
      return absl::Status(
          s.code(), absl::StrCat("Server: worker ", i, ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status Server::Impl::Stop() {
  for (auto& w : workers_) {
    if (w->IsThisThread()) {
      return absl::FailedPreconditionError(
          "Server::Stop called from a handler (a worker thread)");
    }
  }
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (stopped_) return absl::OkStatus();
  stopped_ = true;
  // Every worker sees the flag on its next wake-up, whatever wakes it. The
  // listening socket stops listening at once (new connections are refused)
  // while it is still in the workers' epoll sets; each removes it, and
  // Stop closes it once they have exited.
  for (auto& w : workers_) w->RequestStop();
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  for (auto& w : workers_) w->Wake();
  for (auto& w : workers_) w->Join();
  workers_.clear();
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- Server

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() = default;

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const ServerOptions& options, Handler handler) {
  if (!handler) return absl::InvalidArgumentError("Server: empty handler");
  return StartImpl(options, std::move(handler), nullptr);
}

absl::StatusOr<std::unique_ptr<Server>> Server::StartAsync(
    const ServerOptions& options, AsyncHandler handler) {
  if (!handler) return absl::InvalidArgumentError("Server: empty handler");
  return StartImpl(options, nullptr, std::move(handler));
}

absl::StatusOr<std::unique_ptr<Server>> Server::StartImpl(
    const ServerOptions& options, Handler handler, AsyncHandler async) {
  if (options.threads < 0 || options.threads > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("Server: threads must be 0..1024, not ", options.threads));
  }
  if (options.max_frame_length < 64 ||
      options.max_frame_length > tp::kMaxFrameLengthCeiling) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Server: max_frame_length must be 64..", tp::kMaxFrameLengthCeiling,
        ", not ", options.max_frame_length));
  }
  if (options.max_protocol_version < 1) {
    return absl::InvalidArgumentError(
        "Server: max_protocol_version must be at least 1");
  }
  if (options.min_heartbeat.count() < 1 ||
      options.max_heartbeat < options.min_heartbeat ||
      options.default_heartbeat < options.min_heartbeat ||
      options.default_heartbeat > options.max_heartbeat ||
      options.max_heartbeat.count() > 0xffffffffLL) {
    return absl::InvalidArgumentError(
        "Server: need 1 ms <= min_heartbeat <= default_heartbeat <= "
        "max_heartbeat");
  }
  if (options.logon_timeout.count() < 1 || options.drain_timeout.count() < 0 ||
      options.logout_timeout.count() < 0) {
    return absl::InvalidArgumentError(
        "Server: logon_timeout must be positive, drain_timeout and "
        "logout_timeout not negative");
  }
  auto impl =
      std::make_unique<Impl>(options, std::move(handler), std::move(async));
  if (options.tls.enabled) {
    if (options.tls.certificate.empty() || options.tls.private_key.empty()) {
      return absl::InvalidArgumentError(
          "Server: tls.enabled needs tls.certificate and tls.private_key");
    }
    if (options.tls.require_client_certificate &&
        options.tls.client_ca.empty()) {
      return absl::InvalidArgumentError(
          "Server: tls.require_client_certificate needs tls.client_ca");
    }
    absl::StatusOr<client::internal::SslCtxPtr> ctx =
        client::internal::TlsSocket::ServerContext(
            {.certificate = options.tls.certificate,
             .private_key = options.tls.private_key,
             .client_ca = options.tls.client_ca,
             .require_client_certificate =
                 options.tls.require_client_certificate});
    if (!ctx.ok()) return ctx.status();
    impl->tls_ctx_ = *std::move(ctx);
  }
  if (absl::Status s = impl->Listen(); !s.ok()) return s;
  if (absl::Status s = impl->StartWorkers(); !s.ok()) return s;
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

std::uint16_t Server::port() const { return impl_->port_; }

absl::Status Server::Stop() { return impl_->Stop(); }

ServerStats Server::stats() const {
  const Impl::Counters& c = impl_->counters_;
  const std::int64_t open = c.connections_open.load(std::memory_order_relaxed);
  return ServerStats{
      .connections_accepted =
          c.connections_accepted.load(std::memory_order_relaxed),
      .connections_open =
          static_cast<std::uint64_t>(std::max<std::int64_t>(open, 0)),
      .requests = c.requests.load(std::memory_order_relaxed),
      .responses_ok = c.responses_ok.load(std::memory_order_relaxed),
      .responses_error = c.responses_error.load(std::memory_order_relaxed),
      .protocol_errors = c.protocol_errors.load(std::memory_order_relaxed),
      .tls_handshakes = c.tls_handshakes.load(std::memory_order_relaxed),
      .tls_handshake_failures =
          c.tls_handshake_failures.load(std::memory_order_relaxed)};
}

}  // namespace tachyon::service
