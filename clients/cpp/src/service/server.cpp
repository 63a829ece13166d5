// tachyon::service::Server: listening, the worker threads and the backend
// role of the protocol (server.h has the contract).
//
// Each worker owns an epoll set holding the shared listening socket
// (EPOLLEXCLUSIVE, so one worker wakes per connection), its completion
// queue's eventfd and the connections it accepted. Everything about a
// connection happens on its worker: no locks on the request path. The only
// cross-thread traffic is an asynchronous Responder's answer, which goes
// through the owning worker's CompletionQueue (a mutex-protected vector
// and an eventfd).
#include "tachyon/service/server.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::service {
namespace {

namespace tp = ::tachyon::protocol;
using Clock = std::chrono::steady_clock;

constexpr char kDroppedText[] =
    "the service dropped the request without answering";
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

std::string ErrnoText(int err) { return std::strerror(err); }

// Debian's Abseil has its own absl::string_view, distinct from std's.
absl::string_view View(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

}  // namespace

namespace internal {

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
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return false;
      pending_.push_back(std::move(c));
    }
    const std::uint64_t one = 1;
    // A full counter (never, in practice) still leaves the fd readable.
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

}  // namespace internal

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

// ---------------------------------------------------------------- Server

namespace {

struct Connection {
  enum class State {
    kAwaitingLogon,
    kActive,
    kClosing,    // flushing a final frame (ERROR, LOGON_REJECT, LOGOUT)
    kLoggedOut,  // sent LOGOUT at shutdown; reading until the peer's
  };

  Connection(std::uint64_t id_in, int fd_in, std::uint32_t max_frame)
      : id(id_in),
        fd(fd_in),
        storage(2 * tp::FrameDecoder::MinStorage(max_frame)),
        decoder(storage, max_frame) {}
  ~Connection() {
    if (fd >= 0) ::close(fd);
  }

  [[nodiscard]] std::size_t unsent() const { return out.size() - out_head; }

  const std::uint64_t id;
  int fd;
  State state = State::kAwaitingLogon;
  std::vector<std::byte> storage;
  tp::FrameDecoder decoder;
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

}  // namespace

class Server::Impl {
 public:
  struct Counters {
    std::atomic<std::uint64_t> connections_accepted{0};
    std::atomic<std::int64_t> connections_open{0};
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> responses_ok{0};
    std::atomic<std::uint64_t> responses_error{0};
    std::atomic<std::uint64_t> protocol_errors{0};
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
    version_ = static_cast<std::uint16_t>(
        std::min<int>(options.max_protocol_version, tp::kMaxProtocolVersion));
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
          absl::StrCat("epoll_create1: ", ErrnoText(errno)));
    }
    event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (event_fd_ < 0) {
      return absl::InternalError(absl::StrCat("eventfd: ", ErrnoText(errno)));
    }
    queue_ = std::make_shared<internal::CompletionQueue>(event_fd_);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &wake_tag_;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &ev) != 0) {
      return absl::InternalError(
          absl::StrCat("epoll_ctl(eventfd): ", ErrnoText(errno)));
    }
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.ptr = &listen_tag_;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, server_->listen_fd_, &ev) != 0) {
      return absl::InternalError(
          absl::StrCat("epoll_ctl(listen): ", ErrnoText(errno)));
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

  [[nodiscard]] bool IsThisThread() const {
    return thread_.get_id() == std::this_thread::get_id();
  }

 private:
  enum class Phase { kRunning, kDraining, kLoggingOut };

  void Run();
  void Accept();
  void OnReadable(Connection* c);
  void OnFrame(Connection* c, tp::FrameView f);
  void OnLogon(Connection* c, tp::LogonView logon);
  void OnRequest(Connection* c, tp::RequestView req);
  void DrainCompletions();
  void Flush(Connection* c);
  void UpdateInterest(Connection* c);
  void RunTimers(Clock::time_point now);
  int WaitMs(Clock::time_point now) const;
  void BeginDrain(Clock::time_point now);
  void BeginLogout(Clock::time_point now);

  // Output: every Append* records the send time (the heartbeat rule counts
  // queued frames as sent; they leave with the next Flush).
  std::span<std::byte> Reserve(Connection* c, std::size_t n) {
    const std::size_t at = c->out.size();
    c->out.resize(at + n);
    return std::span<std::byte>(c->out).subspan(at, n);
  }
  void Commit(Connection* c, std::size_t reserved, std::size_t used) {
    c->out.resize(c->out.size() - reserved + used);
    c->last_send = Clock::now();
  }
  void AppendResponse(Connection* c, std::uint64_t correlation,
                      std::uint32_t service, bool ok,
                      std::span<const std::byte> payload);
  void AppendError(Connection* c, tp::ErrorCode code, std::string_view text);
  void AppendLogout(Connection* c, tp::ErrorCode reason);
  // Queues `final_frame`'s effect: stop reading, flush, then close.
  void CloseAfterFlush(Connection* c);
  void CloseNow(Connection* c);
  void ReportError(const absl::Status& s) {
    if (server_->options_.on_connection_error) {
      server_->options_.on_connection_error(s);
    }
  }
  // Closes a connection for a protocol violation: ERROR (fatal), then
  // close.
  void Violation(Connection* c, tp::ErrorCode code, std::string_view text) {
    server_->counters_.protocol_errors.fetch_add(1, std::memory_order_relaxed);
    ReportError(absl::InvalidArgumentError(
        absl::StrCat("gateway connection ", c->id, ": ", View(text))));
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
  absl::flat_hash_map<std::uint64_t, std::unique_ptr<Connection>> conns_;
  std::vector<Connection*> closed_;  // freed at the end of a loop pass
  std::vector<internal::CompletionQueue::Completion> completions_;
  std::vector<std::byte> reply_;
  std::int64_t outstanding_ = 0;  // async requests not yet answered
  Phase phase_ = Phase::kRunning;
  Clock::time_point phase_deadline_;
  Clock::time_point next_timer_ = Clock::time_point::max();
};

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
        if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
          OnReadable(c);
        }
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

void Server::Impl::Worker::OnReadable(Connection* c) {
  for (int i = 0; i < kMaxReadsPerEvent && !c->dead && c->reading; ++i) {
    std::span<std::byte> space = c->decoder.WritableSpan();
    const ssize_t n = ::recv(c->fd, space.data(), space.size(), 0);
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
      if (type == tp::MessageType::kLogout) CloseNow(c);
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
  while (c->unsent() > 0) {
    const ssize_t n = ::send(c->fd, c->out.data() + c->out_head, c->unsent(),
                             MSG_NOSIGNAL | MSG_DONTWAIT);
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
      CloseNow(c);
      return;
    }
  }
  UpdateInterest(c);
}

void Server::Impl::Worker::UpdateInterest(Connection* c) {
  std::uint32_t want = 0;
  if (c->reading && c->unsent() < kOutputHighWater) want |= EPOLLIN;
  if (c->unsent() > 0) want |= EPOLLOUT;
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

void Server::Impl::Worker::CloseNow(Connection* c) {
  if (c->dead) return;
  c->dead = true;
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
      .protocol_errors = c.protocol_errors.load(std::memory_order_relaxed)};
}

}  // namespace tachyon::service
