#include "admin/admin_server.h"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <deque>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/log.h"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/websocket.hpp"

namespace tachyon::admin {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

// Control-path concatenation (Debian's Abseil has its own string_view,
// which absl::StrCat wants).
template <typename... T>
std::string Cat(const T&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

constexpr std::string_view kRefusals[] = {
    "max_connections", "too_large",  "timeout",   "bad_request",
    "unauthorized",    "live_limit", "live_slow", "forbidden"};
enum Refusal : std::size_t {
  kMaxConnections,
  kTooLarge,
  kTimeout,
  kBadRequest,
  kUnauthorized,
  kLiveLimit,
  kLiveSlow,
  kForbidden,
  kRefusalCount
};

// Reading what a client still sends after a closing reply (see OnWrite).
constexpr auto kDrainTimeout = std::chrono::seconds(1);
constexpr std::size_t kMaxDrainBytes = 64 * 1024;

constexpr std::string_view kBusyResponse =
    "HTTP/1.1 503 Service Unavailable\r\nServer: tachyon-admin\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 55\r\n"
    "Connection: close\r\n\r\n"
    "503 too many admin connections (admin.max_connections)\n";

bool IsLoopback(const net::ip::address& a) {
  if (a.is_loopback()) return true;
  return a.is_v6() && a.to_v6().is_v4_mapped() &&
         net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).is_loopback();
}

}  // namespace

class LiveSession;

struct AdminServer::State {
  State(base::CounterRegistry& registry, AdminInfo info, AdminHooks hooks,
        std::chrono::milliseconds interval)
      : admin(info.config.admin),
        router(&registry, std::move(info), std::move(hooks)),
        live_interval(interval),
        request_timeout(
            admin.request_timeout_ms > 0
                ? std::chrono::milliseconds(admin.request_timeout_ms)
                : kDefaultRequestTimeout) {
    requests = registry.AddCounter("tachyon_admin_requests_total",
                                   "admin HTTP requests answered");
    for (std::size_t i = 0; i < kRefusalCount; ++i) {
      refused[i] = registry.AddCounter(
          "tachyon_admin_refused_total",
          "admin connections or requests refused or cut, by reason",
          {{"reason", std::string(kRefusals[i])}});
    }
    connections_gauge = registry.AddGauge("tachyon_admin_connections",
                                          "admin connections open (HTTP and "
                                          "WebSocket)");
    live_gauge = registry.AddGauge("tachyon_admin_live_clients",
                                   "WebSocket clients of /api/v1/live");
  }

  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void Tick();

  config::AdminOptions admin;
  AdminRouter router;
  std::chrono::milliseconds live_interval;
  // admin.request_timeout_ms: to read one request or write one reply.
  std::chrono::milliseconds request_timeout;
  base::Counter requests;
  std::array<base::Counter, kRefusalCount> refused;
  base::Gauge connections_gauge;
  base::Gauge live_gauge;
  // Admin thread only.
  int connections = 0;
  std::vector<std::weak_ptr<LiveSession>> live;
  // Destroyed explicitly in Stop (timer and acceptor before the context,
  // the context before the rest: its pending handlers own the sessions,
  // which use the members above).
  std::unique_ptr<net::io_context> ioc = std::make_unique<net::io_context>(1);
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<net::steady_timer> timer;
  std::thread thread;
};

namespace {

// One admin connection's place under admin.max_connections; released when
// the session owning it (HTTP, then WebSocket) goes.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(AdminServer::State* st) : st_(st) {
    ++st_->connections;
    st_->connections_gauge.Set(st_->connections);
  }
  ConnectionSlot(ConnectionSlot&& o) noexcept
      : st_(std::exchange(o.st_, nullptr)) {}
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() {
    if (st_ == nullptr) return;
    --st_->connections;
    st_->connections_gauge.Set(st_->connections);
  }

 private:
  AdminServer::State* st_;
};

}  // namespace

class LiveSession : public std::enable_shared_from_this<LiveSession> {
 public:
  LiveSession(beast::tcp_stream&& stream, ConnectionSlot slot,
              AdminServer::State* st)
      : ws_(std::move(stream)), slot_(std::move(slot)), st_(st) {}
  ~LiveSession() {
    if (accepted_) st_->live_gauge.Add(-1);
  }

  void Run(Request request) {
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(
        websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(
        websocket::stream_base::decorator([](websocket::response_type& res) {
          res.set(http::field::server, "tachyon-admin");
        }));
    // The client only answers pings and closes; it has nothing to say.
    ws_.read_message_max(4096);
    ws_.text(true);
    ws_.async_accept(request, beast::bind_front_handler(&LiveSession::OnAccept,
                                                        shared_from_this()));
  }

  // Queues a snapshot; a client already kMaxQueuedSnapshots behind is cut.
  void Push(const std::shared_ptr<const std::string>& snapshot) {
    if (!accepted_ || closed_) return;
    if (queue_.size() >= kMaxQueuedSnapshots) {
      st_->refused[kLiveSlow].Add();
      TACHYON_LOG(kInfo) << "admin: dropped a slow /api/v1/live client ("
                         << queue_.size() << " snapshots unsent)";
      Close();
      return;
    }
    queue_.push_back(snapshot);
    if (queue_.size() == 1) DoWrite();
  }

 private:
  void OnAccept(beast::error_code ec) {
    if (ec) return;
    accepted_ = true;
    st_->live_gauge.Add(1);
    st_->live.push_back(weak_from_this());
    Push(std::make_shared<const std::string>(st_->router.LiveJson()));
    DoRead();
  }

  void DoRead() {
    ws_.async_read(in_, beast::bind_front_handler(&LiveSession::OnRead,
                                                  shared_from_this()));
  }
  void OnRead(beast::error_code ec, std::size_t) {
    if (ec) {
      closed_ = true;
      return;
    }
    in_.consume(in_.size());
    DoRead();
  }

  void DoWrite() {
    ws_.async_write(
        net::buffer(*queue_.front()),
        beast::bind_front_handler(&LiveSession::OnWrite, shared_from_this()));
  }
  void OnWrite(beast::error_code ec, std::size_t) {
    if (ec) {
      closed_ = true;
      return;
    }
    queue_.pop_front();
    if (!queue_.empty() && !closed_) DoWrite();
  }

  void Close() {
    closed_ = true;
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both,
                                                   ignored);
    beast::get_lowest_layer(ws_).close();
  }

  websocket::stream<beast::tcp_stream> ws_;
  ConnectionSlot slot_;
  AdminServer::State* st_;
  beast::flat_buffer in_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  bool accepted_ = false;
  bool closed_ = false;
};

namespace {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, AdminServer::State* st)
      : stream_(std::move(socket)),
        slot_(st),
        st_(st),
        buffer_(kMaxRequestBytes) {}

  void Run() {
    net::dispatch(
        stream_.get_executor(),
        beast::bind_front_handler(&HttpSession::DoRead, shared_from_this()));
  }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(kMaxRequestBytes));
    parser_->body_limit(kMaxRequestBytes);
    stream_.expires_after(st_->request_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&HttpSession::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, std::size_t header_bytes) {
    if (ec) return Fail(ec);
    // The header and the body share the request's budget: a declared
    // length is checked now, a chunked body as it arrives.
    const std::size_t room =
        kMaxRequestBytes - std::min(header_bytes, kMaxRequestBytes);
    const boost::optional<std::uint64_t> length = parser_->content_length();
    if (length && *length > room) return Fail(http::error::body_limit);
    parser_->body_limit(room);
    http::async_read(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&HttpSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec) return Fail(ec);
    Request request = parser_->release();
    st_->requests.Add();
    const std::string_view target(request.target().data(),
                                  request.target().size());
    if (websocket::is_upgrade(request) &&
        target.substr(0, target.find('?')) == "/api/v1/live") {
      if (std::string refusal = st_->router.CrossSiteRefusal(request);
          !refusal.empty()) {
        st_->refused[kForbidden].Add();
        return Write(AdminRouter::Forbidden(request, refusal), /*close=*/true);
      }
      if (!st_->router.Authorized(request)) {
        st_->refused[kUnauthorized].Add();
        return Write(st_->router.Unauthorized(request), /*close=*/true);
      }
      std::size_t live = 0;
      for (const auto& w : st_->live) live += w.expired() ? 0 : 1;
      if (live >= kMaxLiveClients) {
        st_->refused[kLiveLimit].Add();
        return Write(
            AdminRouter::Text(
                request, http::status::service_unavailable,
                Cat("503 at most ", kMaxLiveClients, " live clients\n")),
            /*close=*/true);
      }
      std::make_shared<LiveSession>(std::move(stream_), std::move(slot_), st_)
          ->Run(std::move(request));
      return;
    }
    Response response = st_->router.Handle(request);
    if (response.result() == http::status::unauthorized) {
      st_->refused[kUnauthorized].Add();
    } else if (response.result() == http::status::forbidden) {
      st_->refused[kForbidden].Add();
    }
    const bool close = response.need_eof();
    Write(std::move(response), close);
  }

  void Fail(beast::error_code ec) {
    if (ec == http::error::end_of_stream) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    if (ec == beast::error::timeout) {
      st_->refused[kTimeout].Add();
      return;  // the stream is closed; the session goes with this handler
    }
    if (ec == net::error::operation_aborted || ec == net::error::eof ||
        ec == net::error::connection_reset) {
      return;
    }
    Request request;
    request.version(11);
    request.keep_alive(false);
    if (ec == http::error::header_limit || ec == http::error::body_limit ||
        ec == http::error::buffer_overflow) {
      st_->refused[kTooLarge].Add();
      return Write(AdminRouter::Text(
                       request, http::status::payload_too_large,
                       Cat("413 request too large: at most ", kMaxRequestBytes,
                           " bytes of header and body\n")),
                   /*close=*/true);
    }
    st_->refused[kBadRequest].Add();
    Write(AdminRouter::Text(request, http::status::bad_request,
                            Cat("400 bad request: ", ec.message(), "\n")),
          /*close=*/true);
  }

  void Write(Response response, bool close) {
    if (close) response.keep_alive(false);
    response_ = std::make_unique<Response>(std::move(response));
    stream_.expires_after(st_->request_timeout);
    http::async_write(stream_, *response_,
                      beast::bind_front_handler(&HttpSession::OnWrite,
                                                shared_from_this(), close));
  }

  void OnWrite(bool close, beast::error_code ec, std::size_t) {
    response_.reset();
    if (ec) return;
    if (close) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      // Closing with unread request bytes would send a reset, which can
      // destroy the reply before the client reads it: read and discard
      // what the client still sends, for a bounded time and amount.
      stream_.expires_after(kDrainTimeout);
      drained_ = 0;
      return Drain();
    }
    DoRead();
  }

  void Drain() {
    stream_.async_read_some(
        net::buffer(scratch_),
        beast::bind_front_handler(&HttpSession::OnDrain, shared_from_this()));
  }
  void OnDrain(beast::error_code ec, std::size_t n) {
    drained_ += n;
    if (ec || drained_ > kMaxDrainBytes) return;
    Drain();
  }

  beast::tcp_stream stream_;
  ConnectionSlot slot_;
  AdminServer::State* st_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::unique_ptr<Response> response_;
  std::array<char, 4096> scratch_;
  std::size_t drained_ = 0;
};

}  // namespace

void AdminServer::State::DoAccept() {
  acceptor->async_accept([this](beast::error_code ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void AdminServer::State::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted) return;
  if (ec) {
    // EMFILE and the like: the listener stays; the next accept may work.
    TACHYON_LOG(kWarn) << "admin: accept failed: " << ec.message();
  } else if (connections >= admin.max_connections) {
    refused[kMaxConnections].Add();
    // Best effort, never blocking the admin thread: a fresh socket's send
    // buffer takes these few bytes at once.
    beast::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(net::buffer(kBusyResponse.data(), kBusyResponse.size()),
                      ignored);
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  } else {
    std::make_shared<HttpSession>(std::move(socket), this)->Run();
  }
  DoAccept();
}

void AdminServer::State::Tick() {
  auto snapshot = std::make_shared<const std::string>(router.Tick());
  std::vector<std::weak_ptr<LiveSession>> still;
  for (const auto& w : live) {
    if (auto s = w.lock()) {
      s->Push(snapshot);
      still.push_back(w);
    }
  }
  // Push may have dropped a client; expired entries go next time.
  live = std::move(still);
  timer->expires_after(live_interval);
  timer->async_wait([this](beast::error_code ec) {
    if (!ec) Tick();
  });
}

AdminServer::AdminServer(base::CounterRegistry& registry, AdminInfo info,
                         AdminHooks hooks,
                         std::chrono::milliseconds live_interval)
    : state_(std::make_unique<State>(registry, std::move(info),
                                     std::move(hooks), live_interval)) {}

AdminServer::~AdminServer() { Stop(); }

absl::Status AdminServer::Start() {
  State& st = *state_;
  const config::AdminOptions& a = st.admin;
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(a.bind, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        Cat("admin.bind: must be an IPv4 or IPv6 address literal, got '",
            a.bind, "'"));
  }
  if (!IsLoopback(address) && a.token.empty()) {
    return absl::InvalidArgumentError(
        Cat("admin.bind: '", a.bind,
            "' is not a loopback address, and admin.token is not set: set "
            "admin.token (requests then need 'Authorization: Bearer <token>'), "
            "or bind 127.0.0.1"));
  }
  const tcp::endpoint endpoint(address, a.port);
  auto acceptor = std::make_unique<tcp::acceptor>(*st.ioc);
  const auto fail = [&](std::string_view what) {
    return absl::UnavailableError(
        Cat("admin server: cannot ", what, " ", a.bind, ":", a.port, ": ",
            ec.message(),
            "; set admin.port (0: any free port) or admin.enabled = false"));
  };
  if (acceptor->open(endpoint.protocol(), ec); ec) return fail("open");
  if (acceptor->set_option(net::socket_base::reuse_address(true), ec); ec) {
    return fail("configure");
  }
  if (acceptor->bind(endpoint, ec); ec) return fail("bind");
  if (acceptor->listen(64, ec); ec) return fail("listen on");
  port_ = acceptor->local_endpoint().port();
  st.acceptor = std::move(acceptor);
  st.timer = std::make_unique<net::steady_timer>(*st.ioc);
  st.DoAccept();
  st.Tick();
  st.thread = std::thread([&st] {
    pthread_setname_np(pthread_self(), "tachyon-admin");
    st.ioc->run();
  });
  return absl::OkStatus();
}

void AdminServer::Stop() {
  State& st = *state_;
  if (st.ioc == nullptr) return;
  st.ioc->stop();
  if (st.thread.joinable()) st.thread.join();
  st.timer.reset();
  st.acceptor.reset();
  // Destroys the pending handlers, and with them every session.
  st.ioc.reset();
  st.live.clear();
}

}  // namespace tachyon::admin
