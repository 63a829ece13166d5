// Internal to tachyon::service (server.h has the contract): the Server's
// implementation, its worker threads, their connections and the completion
// queue that carries asynchronous answers to a worker.
//
// Each worker owns an epoll set holding the shared listening socket
// (EPOLLEXCLUSIVE, so one worker wakes per connection), its completion
// queue's eventfd and the connections it accepted. Everything about a
// connection happens on its worker: no locks on the request path. The only
// cross-thread traffic is an asynchronous Responder's answer, which goes
// through the owning worker's CompletionQueue (a mutex-protected vector
// and an eventfd). server.cpp has the Responder, listening and Start/Stop;
// worker.cpp the event loop and the backend role of the protocol.
//
// TLS (ServerOptions::tls): the Impl holds one server SSL_CTX; each
// connection a TlsSocket (the client library's, tls_socket.h) over its
// non-blocking fd. The handshake is driven from the connection's epoll
// events before any frame is read; after it, receives and sends go
// through the TlsSocket instead of recv/send. Plain connections never enter
// those branches (Connection::tls is null).
#ifndef TACHYON_CLIENTS_CPP_SRC_SERVICE_SERVER_IMPL_H_
#define TACHYON_CLIENTS_CPP_SRC_SERVICE_SERVER_IMPL_H_

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "tachyon/protocol/protocol.h"
#include "tachyon/service/server.h"
#include "tls_socket.h"

namespace tachyon::service {
namespace internal {

using Clock = std::chrono::steady_clock;

inline std::string ErrnoText(int err) { return std::strerror(err); }

// Debian's Abseil has its own absl::string_view, distinct from std's.
inline absl::string_view View(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

/// A worker's inbox for asynchronous answers, shared with the Responders
/// (which may outlive the worker: Close() makes later answers no-ops).
class CompletionQueue {
 public:
  struct Completion {
    std::uint64_t connection = 0;
    std::uint64_t correlation = 0;
    std::uint32_t service = 0;
    bool ok = false;
    std::vector<std::byte> payload;
  };

  explicit CompletionQueue(int event_fd) : event_fd_(event_fd) {}

  /// Queues an answer and wakes the worker; false once closed.
  bool Push(Completion c) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    pending_.push_back(std::move(c));
    // Written under the lock: once Close() has returned, no Push touches
    // the eventfd, which the worker then closes. A full counter (never, in
    // practice) still leaves the fd readable.
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(event_fd_, &one, sizeof one);
    return true;
  }

  /// Moves the queued answers into `out` (emptied first), keeping both
  /// vectors' capacity in circulation.
  void TakeAll(std::vector<Completion>* out) {
    out->clear();
    std::lock_guard<std::mutex> lock(mu_);
    std::swap(*out, pending_);
  }

  /// After this, Push drops answers. The worker calls it before it exits,
  /// while the eventfd is still open.
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    pending_.clear();
  }

 private:
  std::mutex mu_;
  bool closed_ = false;
  std::vector<Completion> pending_;
  const int event_fd_;
};

/// One gateway connection, owned by its worker.
struct Connection {
  enum class State {
    kAwaitingLogon,
    kActive,
    kClosing,    // flushing a final frame (ERROR, LOGON_REJECT, LOGOUT)
    kLoggedOut,  // sent LOGOUT at shutdown; reading until the peer's
  };

  // The receive buffer is left uninitialised: zero-filling its 2 x
  // max_frame bytes touched every page at accept, ~0.4 ms per connection
  // here, which every request waiting for a new pooled connection paid.
  Connection(std::uint64_t id_in, int fd_in, std::uint32_t max_frame)
      : id(id_in),
        fd(fd_in),
        storage_size(2 * protocol::FrameDecoder::MinStorage(max_frame)),
        storage(std::make_unique_for_overwrite<std::byte[]>(storage_size)),
        decoder(std::span<std::byte>(storage.get(), storage_size), max_frame) {}
  ~Connection() {
    tls.reset();
    if (fd >= 0) ::close(fd);
  }

  [[nodiscard]] std::size_t unsent() const { return out.size() - out_head; }

  const std::uint64_t id;
  int fd;
  State state = State::kAwaitingLogon;
  // TLS: the record layer over fd (null on a plain Server); tls_up once
  // the handshake is done; tls_wants_write while a handshake step waits
  // for room in the socket.
  std::unique_ptr<client::internal::TlsSocket> tls;
  bool tls_up = false;
  bool tls_wants_write = false;
  std::size_t storage_size;
  std::unique_ptr<std::byte[]> storage;
  protocol::FrameDecoder decoder;
  std::vector<std::byte> out;
  std::size_t out_head = 0;
  std::uint32_t events = 0;  // the epoll interest currently registered
  bool reading = true;       // false while draining at shutdown
  bool logged_on = false;    // counted in connections_open
  bool dead = false;
  std::chrono::milliseconds heartbeat{0};
  Clock::time_point last_recv;
  Clock::time_point last_send;
  Clock::time_point deadline;  // logon, close-flush or logout deadline
};

}  // namespace internal

class Server::Impl {
 public:
  struct Counters {
    std::atomic<std::uint64_t> connections_accepted{0};
    std::atomic<std::int64_t> connections_open{0};
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> responses_ok{0};
    std::atomic<std::uint64_t> responses_error{0};
    std::atomic<std::uint64_t> protocol_errors{0};
    std::atomic<std::uint64_t> tls_handshakes{0};
    std::atomic<std::uint64_t> tls_handshake_failures{0};
  };

  class Worker;

  Impl(const ServerOptions& options, Handler handler, AsyncHandler async)
      : options_(options),
        handler_(std::move(handler)),
        async_(std::move(async)) {
    std::random_device rd;
    do {
      epoch_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    } while (epoch_ == 0);
    version_ = static_cast<std::uint16_t>(std::min<int>(
        options.max_protocol_version, protocol::kMaxProtocolVersion));
  }
  ~Impl();

  absl::Status Listen();
  absl::Status StartWorkers();
  absl::Status Stop();

  ServerOptions options_;
  Handler handler_;
  AsyncHandler async_;
  std::uint64_t epoch_ = 0;
  std::uint16_t version_ = 1;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  client::internal::SslCtxPtr tls_ctx_;  // ServerOptions::tls.enabled
  std::atomic<std::uint64_t> next_session_{1};
  std::atomic<std::uint64_t> next_connection_{1};
  Counters counters_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex stop_mu_;
  bool stopped_ = false;
};

class Server::Impl::Worker {
 public:
  explicit Worker(Impl* server) : server_(server) {}
  ~Worker() {
    if (thread_.joinable()) thread_.join();
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    if (event_fd_ >= 0) ::close(event_fd_);
  }

  absl::Status Init() {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) {
      return absl::InternalError(
          absl::StrCat("epoll_create1: ", internal::ErrnoText(errno)));
    }
    event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (event_fd_ < 0) {
      return absl::InternalError(
          absl::StrCat("eventfd: ", internal::ErrnoText(errno)));
    }
    queue_ = std::make_shared<internal::CompletionQueue>(event_fd_);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &wake_tag_;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &ev) != 0) {
      return absl::InternalError(
          absl::StrCat("epoll_ctl(eventfd): ", internal::ErrnoText(errno)));
    }
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.ptr = &listen_tag_;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, server_->listen_fd_, &ev) != 0) {
      return absl::InternalError(
          absl::StrCat("epoll_ctl(listen): ", internal::ErrnoText(errno)));
    }
    return absl::OkStatus();
  }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }

  void RequestStop() { stop_requested_.store(true, std::memory_order_release); }

  void Wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(event_fd_, &one, sizeof one);
  }

  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  [[nodiscard]] std::thread& thread() { return thread_; }

  [[nodiscard]] bool IsThisThread() const {
    return thread_.get_id() == std::this_thread::get_id();
  }

 private:
  enum class Phase { kRunning, kDraining, kLoggingOut };

  void Run();
  void Accept();
  void OnReadable(internal::Connection* c);
  // One TLS handshake step; true once established (false: waiting, or
  // failed and closed).
  bool DriveHandshake(internal::Connection* c);
  void OnFrame(internal::Connection* c, protocol::FrameView f);
  void OnLogon(internal::Connection* c, protocol::LogonView logon);
  void OnRequest(internal::Connection* c, protocol::RequestView req);
  void DrainCompletions();
  void Flush(internal::Connection* c);
  void UpdateInterest(internal::Connection* c);
  void RunTimers(internal::Clock::time_point now);
  int WaitMs(internal::Clock::time_point now) const;
  void BeginDrain(internal::Clock::time_point now);
  void BeginLogout(internal::Clock::time_point now);

  // Output: every Append* records the send time (the heartbeat rule counts
  // queued frames as sent; they leave with the next Flush).
  std::span<std::byte> Reserve(internal::Connection* c, std::size_t n) {
    const std::size_t at = c->out.size();
    c->out.resize(at + n);
    return std::span<std::byte>(c->out).subspan(at, n);
  }
  void Commit(internal::Connection* c, std::size_t reserved, std::size_t used) {
    c->out.resize(c->out.size() - reserved + used);
    c->last_send = internal::Clock::now();
  }
  void AppendResponse(internal::Connection* c, std::uint64_t correlation,
                      std::uint32_t service, bool ok,
                      std::span<const std::byte> payload);
  void AppendError(internal::Connection* c, protocol::ErrorCode code,
                   std::string_view text);
  void AppendLogout(internal::Connection* c, protocol::ErrorCode reason);
  // Queues `final_frame`'s effect: stop reading, flush, then close.
  void CloseAfterFlush(internal::Connection* c);
  // `graceful`: the end of an orderly close (our final frame flushed, or
  // the LOGOUT exchange done): TLS close_notify goes before the FIN.
  void CloseNow(internal::Connection* c, bool graceful = false);
  void ReportError(const absl::Status& s) {
    if (server_->options_.on_connection_error) {
      server_->options_.on_connection_error(s);
    }
  }
  // Closes a connection for a protocol violation: ERROR (fatal), then
  // close.
  void Violation(internal::Connection* c, protocol::ErrorCode code,
                 std::string_view text) {
    server_->counters_.protocol_errors.fetch_add(1, std::memory_order_relaxed);
    ReportError(absl::InvalidArgumentError(absl::StrCat(
        "gateway connection ", c->id, ": ", internal::View(text))));
    AppendError(c, code, text);
    CloseAfterFlush(c);
  }

  Impl* const server_;
  int epoll_fd_ = -1;
  int event_fd_ = -1;
  char wake_tag_ = 0;
  char listen_tag_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_requested_{false};
  std::shared_ptr<internal::CompletionQueue> queue_;
  absl::flat_hash_map<std::uint64_t, std::unique_ptr<internal::Connection>>
      conns_;
  std::vector<internal::Connection*>
      closed_;  // freed at the end of a loop pass
  std::vector<internal::CompletionQueue::Completion> completions_;
  std::vector<std::byte> reply_;
  std::int64_t outstanding_ = 0;  // async requests not yet answered
  Phase phase_ = Phase::kRunning;
  internal::Clock::time_point phase_deadline_;
  internal::Clock::time_point next_timer_ = internal::Clock::time_point::max();
};

}  // namespace tachyon::service

#endif  // TACHYON_CLIENTS_CPP_SRC_SERVICE_SERVER_IMPL_H_
