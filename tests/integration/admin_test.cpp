// The admin server against a real gateway on loopback: real HTTP and
// WebSocket clients (Beast), real publishers, a real backend. The admin
// thread reads the registry while workers write it (TSan: concurrency).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "admin/admin_server.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/websocket.hpp"
#include "boost/json.hpp"
#include "config/reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "session/session_counters.h"
#include "support/gateway_fixture.h"
#include "support/process.h"
#include "support/test_backend.h"
#include "support/test_pki.h"
#include "support/wait.h"

namespace tachyon::testing {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = net::ip::tcp;
using admin::AdminHooks;
using admin::AdminInfo;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

struct Reply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
};

// Bounds every blocking call of a test client, so a server that never
// answers fails the test instead of hanging it.
void SetTimeouts(tcp::socket& s) {
  timeval tv{};
  tv.tv_sec = 10;
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port) : socket_(ioc_) {
    beast::error_code ec;
    socket_.connect({net::ip::make_address("127.0.0.1"), port}, ec);
    connected_ = !ec;
    if (connected_) SetTimeouts(socket_);
  }
  bool connected() const { return connected_; }

  Reply Send(http::verb method, const std::string& target,
             const std::string& token = "", const std::string& body = "",
             const std::map<std::string, std::string>& extra = {}) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    for (const auto& [name, value] : extra) req.set(name, value);
    if (!body.empty() || method == http::verb::post) {
      req.body() = body;
      req.prepare_payload();
    }
    req.keep_alive(true);
    beast::error_code ec;
    http::write(socket_, req, ec);
    if (ec) return Reply{-1, ec.message(), {}};
    return Read();
  }

  Reply Read() {
    http::response<http::string_body> res;
    beast::error_code ec;
    http::read(socket_, buffer_, res, ec);
    if (ec) return Reply{-1, ec.message(), {}};
    Reply r{static_cast<int>(res.result_int()), res.body(), {}};
    for (const auto& f : res) {
      r.headers[std::string(f.name_string())] = std::string(f.value());
    }
    return r;
  }

  // Everything the server sends until it closes (raw).
  std::string SendRaw(const std::string& bytes) {
    beast::error_code ec;
    net::write(socket_, net::buffer(bytes), ec);
    std::string all;
    char buf[4096];
    for (;;) {
      const std::size_t n = socket_.read_some(net::buffer(buf), ec);
      if (ec) break;
      all.append(buf, n);
    }
    return all;
  }

 private:
  net::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

Reply Get(std::uint16_t port, const std::string& target,
          const std::string& token = "") {
  HttpClient c(port);
  if (!c.connected()) return Reply{-1, "connect failed", {}};
  return c.Send(http::verb::get, target, token);
}

json::value ParseJson(const std::string& text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << text;
  return v;
}

std::uint64_t Number(const json::value& v) {
  return v.is_uint64() ? v.as_uint64()
                       : static_cast<std::uint64_t>(v.as_int64());
}

// Checks the exposition line by line; returns the value of every sample
// (name{labels} -> value) or records failures.
std::map<std::string, double> CheckExposition(const std::string& text) {
  static const std::regex kHelp(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*)");
  static const std::regex kType(
      R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
  static const std::regex kSample(
      R"re(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? (-?[0-9]+|\+Inf))re");
  std::map<std::string, double> values;
  std::set<std::string> helped, typed;
  std::map<std::string, std::string> types;
  std::istringstream in(text);
  std::string line;
  std::map<std::string, double> last_bucket;  // series without le -> count
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    std::smatch m;
    if (std::regex_match(line, m, kHelp)) {
      EXPECT_TRUE(helped.insert(m[1]).second) << "second HELP: " << line;
      continue;
    }
    if (std::regex_match(line, m, kType)) {
      EXPECT_TRUE(typed.insert(m[1]).second) << "second TYPE: " << line;
      EXPECT_TRUE(helped.contains(m[1])) << "TYPE before HELP: " << line;
      types[m[1]] = m[2];
      continue;
    }
    if (!std::regex_match(line, m, kSample)) {
      ADD_FAILURE() << "not an exposition line: '" << line << "'";
      continue;
    }
    std::string family = m[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (!types.contains(family) && family.ends_with(suffix)) {
        family.resize(family.size() - std::string(suffix).size());
      }
    }
    EXPECT_TRUE(typed.contains(family)) << "sample before TYPE: " << line;
    const std::string key = line.substr(0, line.rfind(' '));
    const std::string value = line.substr(line.rfind(' ') + 1);
    values[key] = std::stod(value);
    if (std::string(m[1]).ends_with("_bucket")) {
      EXPECT_EQ(types[family], "histogram") << line;
      // The series without its le label.
      const std::string series =
          std::regex_replace(key, std::regex(R"(,?le="[^"]*")"), "");
      const double v = std::stod(value);
      auto it = last_bucket.find(series);
      if (it != last_bucket.end()) {
        EXPECT_GE(v, it->second) << "buckets not cumulative: " << line;
      }
      last_bucket[series] = v;
    }
  }
  EXPECT_GT(lines, 10);
  return values;
}

AdminInfo InfoFor(const server::Gateway& gw) {
  AdminInfo info;
  info.config = gw.config();
  info.config_file = "test.toml";
  return info;
}

AdminHooks HooksFor(server::Gateway& gw) {
  AdminHooks hooks;
  hooks.listeners_up = [&gw] { return gw.ListenersUp(); };
  return hooks;
}

config::GatewayConfig AdminConfig(int workers = 2) {
  config::GatewayConfig c = TestConfig({config::IoBackend::kEpoll, workers});
  c.admin.port = 0;
  return c;
}

std::unique_ptr<admin::AdminServer> StartAdmin(
    server::Gateway& gw, AdminHooks hooks,
    std::chrono::milliseconds interval = 1000ms) {
  auto a = std::make_unique<admin::AdminServer>(gw.counters(), InfoFor(gw),
                                                std::move(hooks), interval);
  absl::Status s = a->Start();
  EXPECT_TRUE(s.ok()) << s;
  return s.ok() ? std::move(a) : nullptr;
}

// A publisher on `stream` that has sent `count` messages and a subscriber
// that has received them (so every counter of the traffic has settled).
struct Traffic {
  std::unique_ptr<TestClient> pub;
  std::unique_ptr<TestClient> sub;
};
Traffic Publish(server::Gateway& gw, const std::string& stream, int count) {
  Traffic t;
  t.pub = TestClient::Connect(gw.port());
  EXPECT_TRUE(t.pub && t.pub->Logon());
  const StreamId id = t.pub->Open(stream);
  EXPECT_NE(id.value(), 0u);
  t.sub = TestClient::Connect(gw.port());
  EXPECT_TRUE(t.sub && t.sub->Logon());
  EXPECT_TRUE(t.sub->Subscribe(1, stream));
  for (int i = 0; i < count; ++i) EXPECT_TRUE(t.pub->Publish(id, "hello"));
  int received = 0;
  while (received < count) {
    auto f = t.sub->ReadSkippingHeartbeats();
    if (!f) break;
    if (f->type() == protocol::MessageType::kData) ++received;
  }
  EXPECT_EQ(received, count);
  return t;
}

TEST(AdminServerTest, MetricsParseAndMatchTheRegistry) {
  auto gw = StartGateway(AdminConfig());
  ASSERT_NE(gw, nullptr);
  auto admin = StartAdmin(*gw, HooksFor(*gw));
  ASSERT_NE(admin, nullptr);
  Traffic t = Publish(*gw, "md.metrics", 50);
  ASSERT_TRUE(WaitUntil(
      [&] { return gw->counters().Sum(session::kPublishesTotal) == 50; }));
  const Reply r = Get(admin->port(), "/metrics");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.at("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  const std::map<std::string, double> values = CheckExposition(r.body);
  double publishes = 0;
  for (const auto& [key, v] : values) {
    if (key.starts_with("tachyon_session_publishes_total{") ||
        key == "tachyon_session_publishes_total") {
      publishes += v;
    }
  }
  EXPECT_EQ(publishes, 50);
  EXPECT_EQ(values.at("tachyon_stream_appends_total{stream=\"md.metrics\"}"),
            50);
  admin->Stop();
}

TEST(AdminServerTest, MetricsStayConsistentWhileWorkersWrite) {
  // Scrapes while two publishers publish: every scrape parses, counters
  // never go backwards.
  auto gw = StartGateway(AdminConfig());
  ASSERT_NE(gw, nullptr);
  auto admin = StartAdmin(*gw, HooksFor(*gw), 20ms);
  ASSERT_NE(admin, nullptr);
  std::atomic<bool> stop{false};
  std::vector<std::thread> publishers;
  for (int p = 0; p < 2; ++p) {
    publishers.emplace_back([&, p] {
      auto c = TestClient::Connect(gw->port());
      if (!c || !c->Logon()) return;
      const StreamId id = c->Open("md.load" + std::to_string(p));
      while (!stop.load(std::memory_order_acquire)) {
        if (!c->PublishBurst(id, 64, "payload")) break;
      }
    });
  }
  double last = 0;
  // At least 20 scrapes, and on until the publishers' traffic shows.
  for (int i = 0; i < 20 || (last == 0 && i < 5000); ++i) {
    const Reply r = Get(admin->port(), "/metrics");
    ASSERT_EQ(r.status, 200);
    const auto values = CheckExposition(r.body);
    double sum = 0;
    for (const auto& [key, v] : values) {
      if (key.starts_with("tachyon_session_publishes_total")) sum += v;
    }
    EXPECT_GE(sum, last);
    last = sum;
    EXPECT_EQ(Get(admin->port(), "/api/v1/streams").status, 200);
  }
  stop.store(true, std::memory_order_release);
  for (auto& t : publishers) t.join();
  EXPECT_GT(last, 0);
}

TEST(AdminServerTest, HealthzAndReadyzFollowTheBackendPool) {
  // A port nothing listens on yet; the backend starts there later.
  std::uint16_t port = 0;
  {
    TestBackend probe;
    port = probe.port();
    probe.Stop();
  }
  ASSERT_NE(port, 0);
  config::GatewayConfig c = AdminConfig();
  config::BackendService s = LoopbackService("echo", 7, port);
  s.pool_max = 2;
  c.backends.push_back(s);
  auto gw = StartGateway(c);
  ASSERT_NE(gw, nullptr);
  auto admin = StartAdmin(*gw, HooksFor(*gw));
  ASSERT_NE(admin, nullptr);
  const Reply health = Get(admin->port(), "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  const Reply not_ready = Get(admin->port(), "/readyz");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_THAT(not_ready.body, HasSubstr("backend 'echo' endpoint 127.0.0.1:" +
                                        std::to_string(port)));
  TestBackend backend(port);
  ASSERT_EQ(backend.port(), port);
  EXPECT_TRUE(WaitUntil(
      [&] { return Get(admin->port(), "/readyz").status == 200; }, 20s));
  const Reply backends = Get(admin->port(), "/api/v1/backends");
  ASSERT_EQ(backends.status, 200);
  const json::value v = ParseJson(backends.body);
  // Service "" counts requests for unknown service ids.
  const json::value* echo = nullptr;
  for (const json::value& svc : v.at("services").as_array()) {
    if (svc.at("service").as_string() == "echo") echo = &svc;
  }
  ASSERT_NE(echo, nullptr) << backends.body;
  const json::value& svc = *echo;
  const json::value& ep = svc.at("endpoints").at(0);
  EXPECT_EQ(ep.at("endpoint").as_string(), "127.0.0.1:" + std::to_string(port));
  EXPECT_GE(Number(ep.at("ready")), 2u);  // pool_min on each of 2 workers
  EXPECT_EQ(ep.at("state").as_string(), "up");
  for (const char* key : {"busy", "connecting", "predicted", "target",
                          "connects_total", "connect_failures_total"}) {
    EXPECT_TRUE(ep.as_object().contains(key)) << key;
  }
  EXPECT_TRUE(svc.at("requests").is_object());
  admin->Stop();
  backend.Stop();
}

TEST(AdminServerTest, BackendEndpointsShowEjectedAndBackingOff) {
  std::uint16_t port = 0;  // nothing listens there
  {
    TestBackend probe;
    port = probe.port();
    probe.Stop();
  }
  ASSERT_NE(port, 0);
  config::GatewayConfig c = AdminConfig(1);
  config::BackendService s;
  s.endpoints = {"127.0.0.1:" + std::to_string(port)};
  s.pool_min = 1;
  s.pool_max = 1;
  s.name = "gone";
  s.id = 7;
  s.eject_after_failures = 1;
  s.eject_ms = 600'000;
  c.backends.push_back(s);
  s.name = "flaky";
  s.id = 8;
  s.eject_after_failures = 0;
  s.reconnect_backoff_ms = 60'000;
  s.reconnect_backoff_max_ms = 600'000;
  c.backends.push_back(s);
  auto gw = StartGateway(c);
  ASSERT_NE(gw, nullptr);
  auto admin = StartAdmin(*gw, HooksFor(*gw));
  ASSERT_NE(admin, nullptr);
  std::map<std::string, std::string> states;
  EXPECT_TRUE(WaitUntil([&] {
    const Reply r = Get(admin->port(), "/api/v1/backends");
    if (r.status != 200) return false;
    const json::value v = ParseJson(r.body);
    for (const json::value& svc : v.at("services").as_array()) {
      for (const json::value& ep : svc.at("endpoints").as_array()) {
        states[std::string(svc.at("service").as_string())] =
            std::string(ep.at("state").as_string());
      }
    }
    return states["gone"] == "ejected" && states["flaky"] == "backing_off";
  })) << "gone: "
      << states["gone"] << ", flaky: " << states["flaky"];
  admin->Stop();
}

TEST(AdminServerTest, ApiShapes) {
  auto gw = StartGateway(AdminConfig());
  ASSERT_NE(gw, nullptr);
  AdminHooks hooks = HooksFor(*gw);
  hooks.sessions = [] {
    session::SessionInfo s;
    s.id = 9;
    s.peer = "127.0.0.1:5555";
    s.client_name = "tester \"one\"";
    s.subscriptions = {"md.*"};
    s.lag_bytes = 12;
    return std::vector<session::SessionInfo>{s};
  };
  auto admin = StartAdmin(*gw, std::move(hooks));
  ASSERT_NE(admin, nullptr);
  Traffic t = Publish(*gw, "md.shape", 5);

  Reply r = Get(admin->port(), "/api/v1/gateway");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.at("Content-Type"), "application/json");
  json::value v = ParseJson(r.body);
  EXPECT_FALSE(v.at("version").as_string().empty());
  EXPECT_FALSE(v.at("build_type").as_string().empty());
  EXPECT_GE(v.at("uptime_s").to_number<double>(), 0);
  EXPECT_EQ(v.at("config_file").as_string(), "test.toml");
  EXPECT_EQ(Number(v.at("config").at("gateway").at("workers")), 2u);
  EXPECT_EQ(Number(v.at("config").at("admin").at("port")), 0u);

  r = Get(admin->port(), "/api/v1/streams");
  ASSERT_EQ(r.status, 200);
  v = ParseJson(r.body);
  bool found = false;
  for (const json::value& row : v.at("streams").as_array()) {
    for (const char* key :
         {"name", "first_sequence", "next_sequence", "committed_bytes",
          "capacity_bytes", "publishers", "subscribers", "appends_total",
          "msgs_per_sec", "slow_consumers_total"}) {
      EXPECT_TRUE(row.as_object().contains(key)) << key;
    }
    if (row.at("name").as_string() == "md.shape") {
      found = true;
      EXPECT_EQ(Number(row.at("appends_total")), 5u);
    }
  }
  EXPECT_TRUE(found) << r.body;

  r = Get(admin->port(), "/api/v1/sessions");
  ASSERT_EQ(r.status, 200);
  v = ParseJson(r.body);
  EXPECT_EQ(v.at("sessions").at(0).at("client_name").as_string(),
            "tester \"one\"");
  EXPECT_EQ(v.at("sessions").at(0).at("subscriptions").at(0).as_string(),
            "md.*");
  EXPECT_EQ(Number(v.at("sessions").at(0).at("lag_bytes")), 12u);

  // Keep-alive: several requests on one connection.
  HttpClient keep(admin->port());
  ASSERT_TRUE(keep.connected());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(keep.Send(http::verb::get, "/healthz").status, 200);
  }
  EXPECT_EQ(keep.Send(http::verb::get, "/nope").status, 404);
  const Reply wrong = keep.Send(http::verb::put, "/metrics");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.headers.at("Allow"), "GET");
  admin->Stop();
}

TEST(AdminServerTest, TokenIsCheckedOnHttpAndWebSocket) {
  config::GatewayConfig c = AdminConfig(1);
  c.admin.token = "t0ken";
  auto gw = StartGateway(c);
  ASSERT_NE(gw, nullptr);
  auto admin = StartAdmin(*gw, HooksFor(*gw));
  ASSERT_NE(admin, nullptr);
  Reply r = Get(admin->port(), "/metrics");
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.headers.at("WWW-Authenticate"), HasSubstr("Bearer"));
  EXPECT_EQ(Get(admin->port(), "/metrics", "wrong").status, 401);
  EXPECT_EQ(Get(admin->port(), "/metrics", "t0ken").status, 200);

  net::io_context ioc;
  websocket::stream<tcp::socket> ws(ioc);
  ws.next_layer().connect({net::ip::make_address("127.0.0.1"), admin->port()});
  SetTimeouts(ws.next_layer());
  beast::error_code ec;
  ws.handshake("127.0.0.1", "/api/v1/live", ec);
  EXPECT_TRUE(ec) << "the handshake without a token was accepted";
  EXPECT_EQ(gw->counters().Sum("tachyon_admin_refused_total", "reason",
                               "unauthorized"),
            3u);
}

TEST(AdminServerTest, OversizedRequestsGet413) {
  auto gw = StartGateway(AdminConfig(1));
  ASSERT_NE(gw, nullptr);
  auto admin = StartAdmin(*gw, HooksFor(*gw));
  ASSERT_NE(admin, nullptr);
  {
    HttpClient c(admin->port());
    const std::string big_header =
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(9000, 'a') +
        "\r\n\r\n";
    EXPECT_THAT(c.SendRaw(big_header), HasSubstr("HTTP/1.1 413"));
  }
  {
    HttpClient c(admin->port());
    // Header and body together over the limit, each under it.
    const std::string body(admin::kMaxRequestBytes - 40, 'b');
    const std::string req =
        "POST /api/v1/reload HTTP/1.1\r\nHost: x\r\n"
        "Content-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    EXPECT_THAT(c.SendRaw(req), HasSubstr("HTTP/1.1 413"));
  }
  {
    HttpClient c(admin->port());
    EXPECT_THAT(c.SendRaw("NOT HTTP AT ALL\r\n\r\n"),
                HasSubstr("HTTP/1.1 400"));
  }
  EXPECT_EQ(
      gw->counters().Sum("tachyon_admin_refused_total", "reason", "too_large"),
      2u);
}

TEST(AdminServerTest, ConnectionsBeyondTheLimitAreRefused) {
  config::GatewayConfig c = AdminConfig(1);
  c.admin.max_connections = 2;
  auto gw = StartGateway(c);
  ASSERT_NE(gw, nullptr);
  auto admin = StartAdmin(*gw, HooksFor(*gw));
  ASSERT_NE(admin, nullptr);
  auto first = std::make_unique<HttpClient>(admin->port());
  HttpClient second(admin->port());
  // Answered, so both are accepted and counted.
  ASSERT_EQ(first->Send(http::verb::get, "/healthz").status, 200);
  ASSERT_EQ(second.Send(http::verb::get, "/healthz").status, 200);
  {
    HttpClient third(admin->port());
    ASSERT_TRUE(third.connected());
    // Nothing sent: the refusal comes at once, before any request.
    const std::string reply = third.SendRaw("");
    EXPECT_THAT(reply, HasSubstr("503"));
    EXPECT_THAT(reply, HasSubstr("admin.max_connections"));
  }
  EXPECT_EQ(gw->counters().Sum("tachyon_admin_refused_total", "reason",
                               "max_connections"),
            1u);
  first.reset();  // frees a slot
  EXPECT_TRUE(
      WaitUntil([&] { return Get(admin->port(), "/healthz").status == 200; }));
}

TEST(AdminServerTest, NonLoopbackWithoutTokenIsRefused) {
  auto gw = StartGateway(AdminConfig(1));
  ASSERT_NE(gw, nullptr);
  AdminInfo info = InfoFor(*gw);
  info.config.admin.bind = "0.0.0.0";
  admin::AdminServer open(gw->counters(), info, {});
  const absl::Status s = open.Start();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("admin.token"));

  // The config file says it too, with file, line and key.
  absl::StatusOr<config::GatewayConfig> c =
      config::ParseConfig("[admin]\nbind = \"0.0.0.0\"\n", "admin.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("admin.toml:2: admin.bind: '0.0.0.0' is not a "
                        "loopback address"));
  c = config::ParseConfig("[admin]\nbind = \"0.0.0.0\"\ntoken = \"x\"\n",
                          "admin.toml");
  EXPECT_TRUE(c.ok()) << c.status();
}

TEST(AdminServerTest, DeleteAndReloadCallTheirHooks) {
  auto gw = StartGateway(AdminConfig(1));
  ASSERT_NE(gw, nullptr);
  AdminHooks hooks = HooksFor(*gw);
  std::vector<std::string> deleted;  // admin thread writes; read after Stop
  hooks.delete_stream = [&](std::string_view name) -> absl::Status {
    deleted.emplace_back(name);
    if (name == "missing") return absl::NotFoundError("no stream 'missing'");
    if (name == "busy") return absl::FailedPreconditionError("in use");
    return absl::OkStatus();
  };
  hooks.reload = []() -> absl::StatusOr<config::ReloadReport> {
    return config::ReloadReport{{"gateway.log_level"}, {}};
  };
  auto admin = StartAdmin(*gw, std::move(hooks));
  ASSERT_NE(admin, nullptr);
  HttpClient c(admin->port());
  EXPECT_EQ(c.Send(http::verb::delete_, "/api/v1/streams/md.old").status, 200);
  EXPECT_EQ(c.Send(http::verb::delete_, "/api/v1/streams/missing").status, 404);
  EXPECT_EQ(c.Send(http::verb::delete_, "/api/v1/streams/busy").status, 409);
  const Reply reload = c.Send(http::verb::post, "/api/v1/reload");
  EXPECT_EQ(reload.status, 200);
  EXPECT_EQ(ParseJson(reload.body).at("applied").at(0).as_string(),
            "gateway.log_level");
  admin->Stop();
  EXPECT_EQ(deleted, (std::vector<std::string>{"md.old", "missing", "busy"}));
}

TEST(AdminServerTest, TlsOnlyGatewayIsReadyUntilItDrains) {
  auto pki = TestPki::Create();
  ASSERT_NE(pki, nullptr);
  config::GatewayConfig c = AdminConfig(1);
  c.tls.enabled = true;
  c.tls.plain = false;
  c.tls.port = 0;
  c.tls.certificate = pki->server_cert();
  c.tls.private_key = pki->server_key();
  auto gw = StartGateway(c);
  ASSERT_NE(gw, nullptr);
  ASSERT_EQ(gw->port(), 0);  // no plain listener
  ASSERT_NE(gw->tls_port(), 0);
  EXPECT_TRUE(gw->ListenersUp());
  auto admin = StartAdmin(*gw, HooksFor(*gw));
  ASSERT_NE(admin, nullptr);
  Reply r = Get(admin->port(), "/readyz");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "ready\n");
  gw->RequestStop();  // the drain begins
  EXPECT_FALSE(gw->ListenersUp());
  r = Get(admin->port(), "/readyz");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_THAT(r.body, HasSubstr("listeners: not accepting"));
  admin->Stop();
}

TEST(AdminServerTest, EveryConfiguredListenerCountsForReadiness) {
  config::GatewayConfig c = AdminConfig(1);
  c.udp.enabled = true;
  c.udp.port = 0;
  auto gw = StartGateway(c);
  ASSERT_NE(gw, nullptr);
  EXPECT_NE(gw->port(), 0);
  EXPECT_NE(gw->udp_port(), 0);
  EXPECT_TRUE(gw->ListenersUp());
  gw->RequestStop();
  EXPECT_FALSE(gw->ListenersUp());
}

TEST(AdminServerTest, HalfSentRequestIsClosedAfterTheRequestTimeout) {
  config::GatewayConfig c = AdminConfig(1);
  c.admin.request_timeout_ms = 200;
  auto gw = StartGateway(c);
  ASSERT_NE(gw, nullptr);
  auto admin = StartAdmin(*gw, HooksFor(*gw));
  ASSERT_NE(admin, nullptr);
  HttpClient slow(admin->port());
  ASSERT_TRUE(slow.connected());
  // Half a header, then nothing: the server closes without a reply. (The
  // client's own read gives up after 10 s, the default timeout.)
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(slow.SendRaw("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"), "");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 9s)
      << "closed by the client's timeout, not the server's";
  EXPECT_TRUE(WaitUntil([&] {
    return gw->counters().Sum("tachyon_admin_refused_total", "reason",
                              "timeout") == 1;
  }));
  // Others are still served.
  EXPECT_EQ(Get(admin->port(), "/healthz").status, 200);
}

TEST(AdminServerTest, RequestTimeoutIsAConfigKeyWithARange) {
  absl::StatusOr<config::GatewayConfig> c =
      config::ParseConfig("[admin]\nrequest_timeout_ms = 250\n", "admin.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->admin.request_timeout_ms, 250);
  EXPECT_EQ(config::GatewayConfig{}.admin.request_timeout_ms, 10000);
  c = config::ParseConfig("[admin]\n\nrequest_timeout_ms = 0\n", "admin.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("admin.toml:3: admin.request_timeout_ms"));
  c = config::ParseConfig("[admin]\nrequest_timeout_ms = 600001\n",
                          "admin.toml");
  EXPECT_FALSE(c.ok());
}

// A WebSocket client of /api/v1/live.
struct LiveClient {
  explicit LiveClient(std::uint16_t port, int rcvbuf = 0) : ws(ioc) {
    tcp::socket& s = ws.next_layer();
    s.open(tcp::v4());
    if (rcvbuf > 0) {
      ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVBUF, &rcvbuf,
                   sizeof rcvbuf);
    }
    s.connect({net::ip::make_address("127.0.0.1"), port});
    SetTimeouts(s);
    ws.handshake("127.0.0.1", "/api/v1/live");
  }
  json::value Next() {
    beast::flat_buffer b;
    ws.read(b);
    return ParseJson(beast::buffers_to_string(b.data()));
  }
  net::io_context ioc;
  websocket::stream<tcp::socket> ws;
};

TEST(AdminServerTest, LivePushesSnapshotsMatchingTheStreams) {
  auto gw = StartGateway(AdminConfig());
  ASSERT_NE(gw, nullptr);
  auto admin = StartAdmin(*gw, HooksFor(*gw), 50ms);
  ASSERT_NE(admin, nullptr);
  Traffic a = Publish(*gw, "md.live.a", 20);
  Traffic b = Publish(*gw, "md.live.b", 30);
  LiveClient live(admin->port());
  // Snapshots taken after the traffic settled.
  json::value first = live.Next();
  while (first.at("streams").as_array().size() < 2) first = live.Next();
  const json::value second = live.Next();
  EXPECT_GT(second.at("uptime_s").to_number<double>(),
            first.at("uptime_s").to_number<double>());
  EXPECT_GE(Number(second.at("time_ms")), Number(first.at("time_ms")));
  for (const char* key :
       {"sessions_open", "connections_accepted_total", "slow_consumers_total",
        "drops_total", "latency", "latency_window", "backends"}) {
    EXPECT_TRUE(second.as_object().contains(key)) << key;
  }
  EXPECT_EQ(Number(second.at("sessions_open")), 4u);
  const json::value streams =
      ParseJson(Get(admin->port(), "/api/v1/streams").body);
  std::map<std::string, std::uint64_t> http_rows, live_rows;
  for (const json::value& r : streams.at("streams").as_array()) {
    http_rows[std::string(r.at("name").as_string())] =
        Number(r.at("appends_total"));
  }
  for (const json::value& r : second.at("streams").as_array()) {
    live_rows[std::string(r.at("name").as_string())] =
        Number(r.at("appends_total"));
  }
  EXPECT_EQ(live_rows, http_rows);
  EXPECT_EQ(live_rows["md.live.a"], 20u);
  EXPECT_EQ(live_rows["md.live.b"], 30u);
}

TEST(AdminServerTest, LiveClientsBeyondTheLimitAreRefused) {
  auto gw = StartGateway(AdminConfig(1));
  ASSERT_NE(gw, nullptr);
  ASSERT_GT(gw->config().admin.max_connections,
            static_cast<int>(admin::kMaxLiveClients));
  auto admin = StartAdmin(*gw, HooksFor(*gw));
  ASSERT_NE(admin, nullptr);
  std::vector<std::unique_ptr<LiveClient>> clients;
  for (std::size_t i = 0; i < admin::kMaxLiveClients; ++i) {
    clients.push_back(std::make_unique<LiveClient>(admin->port()));
  }
  ASSERT_TRUE(WaitUntil([&] {
    return gw->counters().Sum("tachyon_admin_live_clients") ==
           static_cast<std::int64_t>(admin::kMaxLiveClients);
  }));
  {
    HttpClient extra(admin->port());
    const std::string reply = extra.SendRaw(
        "GET /api/v1/live HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Connection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    EXPECT_THAT(reply, HasSubstr("HTTP/1.1 503"));
    EXPECT_THAT(reply, HasSubstr("live clients"));
  }
  EXPECT_EQ(
      gw->counters().Sum("tachyon_admin_refused_total", "reason", "live_limit"),
      1u);
  // One leaves: a new one is accepted.
  clients.pop_back();
  EXPECT_TRUE(WaitUntil([&] {
    return gw->counters().Sum("tachyon_admin_live_clients") <
           static_cast<std::int64_t>(admin::kMaxLiveClients);
  }));
  LiveClient again(admin->port());
  EXPECT_TRUE(again.Next().as_object().contains("streams"));
}

TEST(AdminServerTest, BrowserCookieAndCrossSiteChecksOverHttp) {
  config::GatewayConfig c = AdminConfig(1);
  c.admin.token = "t0ken";
  auto gw = StartGateway(c);
  ASSERT_NE(gw, nullptr);
  AdminHooks hooks = HooksFor(*gw);
  std::atomic<int> reloads{0};
  hooks.reload = [&]() -> absl::StatusOr<config::ReloadReport> {
    ++reloads;
    return config::ReloadReport{};
  };
  auto admin = StartAdmin(*gw, std::move(hooks));
  ASSERT_NE(admin, nullptr);
  const std::string host = "127.0.0.1:" + std::to_string(admin->port());
  HttpClient c1(admin->port());
  Reply r = c1.Send(http::verb::get, "/?token=t0ken", "", "", {{"Host", host}});
  ASSERT_EQ(r.status, 303) << r.body;
  const std::string set = r.headers["Set-Cookie"];
  EXPECT_THAT(set, HasSubstr("HttpOnly"));
  EXPECT_THAT(set, HasSubstr("SameSite=Strict"));
  const std::string cookie = set.substr(0, set.find(';'));
  r = c1.Send(http::verb::get, "/api/v1/gateway", "", "",
              {{"Host", host}, {"Cookie", cookie}});
  EXPECT_EQ(r.status, 200) << r.body;
  r = c1.Send(http::verb::get, "/api/v1/gateway", "", "",
              {{"Host", host}, {"Cookie", cookie + "x"}});
  EXPECT_EQ(r.status, 401);
  // A rebound name is refused even with the cookie.
  r = c1.Send(http::verb::get, "/api/v1/gateway", "", "",
              {{"Host", "evil.example:" + std::to_string(admin->port())},
               {"Cookie", cookie}});
  EXPECT_EQ(r.status, 403);
  // A cross-site POST is refused before the hook runs.
  r = c1.Send(
      http::verb::post, "/api/v1/reload", "", "",
      {{"Host", host}, {"Cookie", cookie}, {"Origin", "http://evil.example"}});
  EXPECT_EQ(r.status, 403);
  r = c1.Send(
      http::verb::post, "/api/v1/reload", "", "",
      {{"Host", host}, {"Cookie", cookie}, {"Origin", "http://" + host}});
  EXPECT_EQ(r.status, 200) << r.body;

  // The WebSocket: the cookie admits it, a foreign Origin does not.
  const auto handshake = [&](const std::string& cookie_value,
                             const std::string& origin) {
    net::io_context ioc;
    websocket::stream<tcp::socket> ws(ioc);
    ws.next_layer().connect(
        {net::ip::make_address("127.0.0.1"), admin->port()});
    SetTimeouts(ws.next_layer());
    ws.set_option(
        websocket::stream_base::decorator([&](websocket::request_type& req) {
          if (!cookie_value.empty()) req.set(http::field::cookie, cookie_value);
          if (!origin.empty()) req.set(http::field::origin, origin);
        }));
    websocket::response_type res;
    beast::error_code ec;
    ws.handshake(res, host, "/api/v1/live", ec);
    return static_cast<int>(res.result_int());
  };
  EXPECT_EQ(handshake(cookie, "http://" + host), 101);
  EXPECT_EQ(handshake("", "http://" + host), 401);
  EXPECT_EQ(handshake(cookie, "http://evil.example"), 403);
  admin->Stop();
  EXPECT_EQ(reloads.load(), 1);
  EXPECT_EQ(
      gw->counters().Sum("tachyon_admin_refused_total", "reason", "forbidden"),
      3u);
}

TEST(AdminServerTest, SlowLiveClientIsDropped) {
  // Streams with long names make each snapshot tens of KiB, so a client
  // that never reads fills its socket within a few pushes. Small rings:
  // only the names matter.
  config::GatewayConfig c = AdminConfig(1);
  c.max_frame_length = 1056;
  c.default_stream.capacity_bytes = 64 * 1024;
  c.default_stream.window_bytes = 32 * 1024;
  auto gw = StartGateway(c);
  ASSERT_NE(gw, nullptr);
  auto pub = TestClient::Connect(gw->port());
  ASSERT_TRUE(pub && pub->Logon());
  for (int i = 0; i < 48; ++i) {
    const std::string name =
        "md.slow." + std::to_string(i) + "." + std::string(200, 'x');
    ASSERT_NE(pub->Open(name, static_cast<std::uint32_t>(i + 1)).value(), 0u);
  }
  auto admin = StartAdmin(*gw, HooksFor(*gw), 5ms);
  ASSERT_NE(admin, nullptr);
  LiveClient slow(admin->port(), /*rcvbuf=*/4096);
  EXPECT_TRUE(WaitUntil(
      [&] {
        return gw->counters().Sum("tachyon_admin_refused_total", "reason",
                                  "live_slow") >= 1;
      },
      60s));
  EXPECT_TRUE(WaitUntil(
      [&] { return gw->counters().Sum("tachyon_admin_live_clients") == 0; }));
  // Others are still served.
  EXPECT_EQ(Get(admin->port(), "/healthz").status, 200);
}

TEST(AdminServerTest, GatewayBinaryPrintsTheAdminUrlAndServesIt) {
  Process gw;
  const std::uint16_t port = StartGatewayWithArgs(
      &gw, TACHYON_GATEWAY_BIN,
      {"--port=0", "--udp_port=0", "--io=epoll", "--admin_port=0"});
  ASSERT_NE(port, 0) << gw.out() << gw.err();
  auto m = gw.WaitForOutput(
      std::regex("admin on http://127\\.0\\.0\\.1:([0-9]+)"), 10s);
  ASSERT_TRUE(m.has_value()) << gw.out();
  const auto admin_port = static_cast<std::uint16_t>(std::stoi((*m)[1].str()));
  EXPECT_EQ(Get(admin_port, "/healthz").status, 200);
  EXPECT_EQ(Get(admin_port, "/readyz").status, 200);
  const Reply page = Get(admin_port, "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_THAT(page.body, HasSubstr("/dashboard.js"));
  const Reply script = Get(admin_port, "/dashboard.js");
  EXPECT_EQ(script.status, 200);
  EXPECT_THAT(script.body, HasSubstr("/api/v1/live"));
  EXPECT_EQ(StopGatewayProcess(&gw), 0) << gw.err();
}

// The admin port the gateway binary printed (0 if it did not).
std::uint16_t AdminPortOf(Process& gw) {
  auto m = gw.WaitForOutput(
      std::regex("admin on http://127\\.0\\.0\\.1:([0-9]+)"), 10s);
  if (!m.has_value()) return 0;
  return static_cast<std::uint16_t>(std::stoi((*m)[1].str()));
}

// The local port of a connected socket.
std::uint16_t LocalPort(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return 0;
  return ntohs(a.sin_port);
}

TEST(AdminServerTest, GatewayBinaryListsARealClientsSession) {
  Process gw;
  const std::string port =
      StartGatewayProcess(&gw, TACHYON_GATEWAY_BIN, TACHYON_SOURCE_DIR);
  ASSERT_FALSE(port.empty());
  const std::uint16_t admin_port = AdminPortOf(gw);
  ASSERT_NE(admin_port, 0) << gw.out();
  auto client =
      TestClient::Connect(static_cast<std::uint16_t>(std::stoi(port)));
  ASSERT_NE(client, nullptr);
  auto logon = client->Logon(kDemoToken);
  ASSERT_TRUE(logon && logon->type() == protocol::MessageType::kLogonAck);
  ASSERT_TRUE(client->Subscribe(1, "adm.sessions"));
  const std::string peer =
      "127.0.0.1:" + std::to_string(LocalPort(client->fd()));
  json::value row;
  ASSERT_TRUE(WaitUntil([&] {
    const Reply r = Get(admin_port, "/api/v1/sessions");
    if (r.status != 200) return false;
    const json::value sessions = ParseJson(r.body);
    for (const json::value& s : sessions.at("sessions").as_array()) {
      if (s.at("peer").as_string() == peer) {
        row = s;
        return !s.at("subscriptions").as_array().empty();
      }
    }
    return false;
  })) << "no session with peer "
      << peer;
  EXPECT_EQ(row.at("client_name").as_string(), "test-client");
  EXPECT_EQ(row.at("principal").as_string(), "demo");
  EXPECT_EQ(row.at("subscriptions").at(0).as_string(), "adm.sessions");
  client.reset();
  EXPECT_EQ(StopGatewayProcess(&gw), 0) << gw.err();
}

TEST(AdminServerTest, GatewayBinaryRetiresAStreamOnlyOnceUnused) {
  Process gw;
  const std::string port =
      StartGatewayProcess(&gw, TACHYON_GATEWAY_BIN, TACHYON_SOURCE_DIR);
  ASSERT_FALSE(port.empty());
  const std::uint16_t admin_port = AdminPortOf(gw);
  ASSERT_NE(admin_port, 0) << gw.out();
  const auto gw_port = static_cast<std::uint16_t>(std::stoi(port));
  {
    auto pub = TestClient::Connect(gw_port);
    ASSERT_TRUE(pub && pub->Logon(kDemoToken));
    ASSERT_NE(pub->Open("adm.retire").value(), 0u);
  }
  auto sub = TestClient::Connect(gw_port);
  ASSERT_TRUE(sub && sub->Logon(kDemoToken));
  ASSERT_TRUE(sub->Subscribe(1, "adm.retire"));
  HttpClient admin(admin_port);
  Reply r;
  // The publisher's close reaches the stream asynchronously: until then it
  // counts too.
  ASSERT_TRUE(WaitUntil([&] {
    r = admin.Send(http::verb::delete_, "/api/v1/streams/adm.retire");
    return r.status == 409 &&
           r.body.find(" 0 publishers, 1 subscribers") != std::string::npos;
  })) << r.status
      << " " << r.body;
  EXPECT_THAT(r.body, HasSubstr("is in use"));
  sub.reset();
  ASSERT_TRUE(WaitUntil([&] {
    r = admin.Send(http::verb::delete_, "/api/v1/streams/adm.retire");
    return r.status != 409;
  })) << r.body;
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(ParseJson(r.body).at("retired").as_bool());
  r = admin.Send(http::verb::delete_, "/api/v1/streams/adm.retire");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_THAT(r.body, HasSubstr("no stream named 'adm.retire'"));
  EXPECT_EQ(StopGatewayProcess(&gw), 0) << gw.err();
}

TEST(AdminServerTest, GatewayBinaryReloadsItsConfigFile) {
  std::ifstream in(TACHYON_SOURCE_DIR "/config/gateway.toml");
  std::stringstream shipped;
  shipped << in.rdbuf();
  const std::string text = shipped.str();
  const std::string info_line = "log_level = \"info\"";
  const std::size_t at = text.find("\n" + info_line + "\n");
  ASSERT_NE(at, std::string::npos) << "the shipped config sets " << info_line;
  const int log_level_line =
      static_cast<int>(std::count(text.begin(), text.begin() + at + 1, '\n')) +
      1;
  const std::string path = ::testing::TempDir() + "tachyon-admin-reload-" +
                           std::to_string(::getpid()) + ".toml";
  const auto write = [&](const std::string& level) {
    std::string t = text;
    t.replace(at + 1, info_line.size(), "log_level = \"" + level + "\"");
    std::ofstream out(path, std::ios::trunc);
    out << t;
    return static_cast<bool>(out);
  };
  ASSERT_TRUE(write("info"));
  ::setenv("TACHYON_TOKEN", kDemoToken, 1);
  Process gw;
  const std::uint16_t port = StartGatewayWithArgs(
      &gw, TACHYON_GATEWAY_BIN,
      {"--config", path, "--port", "0", "--udp_port", "0", "--io", "epoll"});
  ASSERT_NE(port, 0) << gw.out() << gw.err();
  const std::uint16_t admin_port = AdminPortOf(gw);
  ASSERT_NE(admin_port, 0) << gw.out();
  const auto log_level = [&] {
    const Reply r = Get(admin_port, "/api/v1/gateway");
    if (r.status != 200)
      return std::string("status ") + std::to_string(r.status);
    return std::string(ParseJson(r.body)
                           .at("config")
                           .at("gateway")
                           .at("log_level")
                           .as_string());
  };
  EXPECT_EQ(log_level(), "info");
  // A client stays connected through the reload.
  auto client = TestClient::Connect(port);
  ASSERT_TRUE(client && client->Logon(kDemoToken));

  ASSERT_TRUE(write("warn"));
  HttpClient admin(admin_port);
  Reply r = admin.Send(http::verb::post, "/api/v1/reload");
  ASSERT_EQ(r.status, 200) << r.body;
  const json::value report = ParseJson(r.body);
  bool applied = false;
  for (const json::value& k : report.at("applied").as_array()) {
    applied = applied || k.as_string() == "gateway.log_level";
  }
  EXPECT_TRUE(applied) << r.body;
  EXPECT_EQ(log_level(), "warn");

  ASSERT_TRUE(write("loud"));
  r = admin.Send(http::verb::post, "/api/v1/reload");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(ParseJson(r.body).at("error").as_string().c_str(),
              HasSubstr(path + ":" + std::to_string(log_level_line) +
                        ": gateway.log_level"));
  EXPECT_EQ(log_level(), "warn");
  // Still served: a SUBSCRIBE is acknowledged.
  EXPECT_TRUE(client->Subscribe(1, "adm.reload")) << "the reload dropped it";
  client.reset();
  EXPECT_EQ(StopGatewayProcess(&gw), 0) << gw.err();
  std::remove(path.c_str());
}

TEST(AdminServerTest, GatewayBinaryRefusesAnOpenAdminBind) {
  Process gw = Process::Start({TACHYON_GATEWAY_BIN, "--port=0", "--udp_port=0",
                               "--admin_port=0", "--admin_bind=0.0.0.0"});
  EXPECT_EQ(gw.Wait(10s), 2);
  EXPECT_THAT(gw.err(), HasSubstr("--admin_bind: "));
  EXPECT_THAT(gw.err(), HasSubstr("admin.token"));
}

}  // namespace
}  // namespace tachyon::testing
