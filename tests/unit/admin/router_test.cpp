// AdminRouter on parsed requests: routing, methods, auth, hooks, files.
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "admin/admin_router.h"
#include "base/counters.h"
#include "boost/json.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tachyon::admin {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
using ::testing::HasSubstr;

Request Make(http::verb method, std::string target) {
  Request r{method, target, 11};
  r.set(http::field::host, "localhost");
  return r;
}

class RouterTest : public ::testing::Test {
 protected:
  AdminRouter Router(AdminHooks hooks = {}, std::string token = "") {
    AdminInfo info;
    info.config.admin.token = std::move(token);
    info.config_file = "gw.toml";
    info.dashboard_dir = dashboard_dir_;
    info.chartjs_path = chartjs_;
    return AdminRouter(&registry_, std::move(info), std::move(hooks));
  }
  base::CounterRegistry registry_;
  std::string dashboard_dir_ = TACHYON_SOURCE_DIR "/src/admin/dashboard";
  std::string chartjs_ = "/nonexistent/chart.min.js";
};

TEST_F(RouterTest, UnknownPathIs404AndWrongMethod405WithAllow) {
  AdminRouter router = Router();
  Response r = router.Handle(Make(http::verb::get, "/nope"));
  EXPECT_EQ(r.result(), http::status::not_found);
  r = router.Handle(Make(http::verb::post, "/metrics"));
  EXPECT_EQ(r.result(), http::status::method_not_allowed);
  EXPECT_EQ(r[http::field::allow], "GET");
  r = router.Handle(Make(http::verb::get, "/api/v1/reload"));
  EXPECT_EQ(r.result(), http::status::method_not_allowed);
  EXPECT_EQ(r[http::field::allow], "POST");
  r = router.Handle(Make(http::verb::get, "/api/v1/streams/x"));
  EXPECT_EQ(r[http::field::allow], "DELETE");
  r = router.Handle(Make(http::verb::get, "http://host/metrics"));
  EXPECT_EQ(r.result(), http::status::bad_request);
  r = router.Handle(Make(http::verb::get, "/../etc/passwd"));
  EXPECT_EQ(r.result(), http::status::not_found);
}

TEST_F(RouterTest, GatewayShowsTheRunningConfigAfterAReload) {
  AdminRouter start = Router();
  Response r = start.Handle(Make(http::verb::get, "/api/v1/gateway"));
  EXPECT_THAT(r.body(), HasSubstr("\"log_level\":\"info\""));
  AdminHooks hooks;
  hooks.running_config = [] {
    config::GatewayConfig c;
    c.log_level = "debug";
    return c;
  };
  AdminRouter reloaded = Router(std::move(hooks));
  r = reloaded.Handle(Make(http::verb::get, "/api/v1/gateway"));
  EXPECT_EQ(r.result(), http::status::ok);
  EXPECT_THAT(r.body(), HasSubstr("\"log_level\":\"debug\""));
}

TEST_F(RouterTest, UnsetHooksAnswer501NamingTheHook) {
  AdminRouter router = Router();
  Response r = router.Handle(Make(http::verb::get, "/api/v1/sessions"));
  EXPECT_EQ(r.result(), http::status::not_implemented);
  EXPECT_THAT(r.body(), HasSubstr("'sessions'"));
  r = router.Handle(Make(http::verb::delete_, "/api/v1/streams/md.a"));
  EXPECT_EQ(r.result(), http::status::not_implemented);
  EXPECT_THAT(r.body(), HasSubstr("'delete_stream'"));
  r = router.Handle(Make(http::verb::post, "/api/v1/reload"));
  EXPECT_EQ(r.result(), http::status::not_implemented);
  EXPECT_THAT(r.body(), HasSubstr("'reload'"));
  // Readiness cannot be known without the listeners hook.
  r = router.Handle(Make(http::verb::get, "/readyz"));
  EXPECT_EQ(r.result(), http::status::service_unavailable);
  EXPECT_THAT(r.body(), HasSubstr("listeners"));
}

TEST_F(RouterTest, TokenIsRequiredWhenSet) {
  AdminRouter router = Router({}, "s3cret");
  Request req = Make(http::verb::get, "/healthz");
  Response r = router.Handle(req);
  EXPECT_EQ(r.result(), http::status::unauthorized);
  EXPECT_THAT(std::string(r[http::field::www_authenticate]),
              HasSubstr("Bearer"));
  req.set(http::field::authorization, "Bearer s3cre");
  EXPECT_EQ(router.Handle(req).result(), http::status::unauthorized);
  req.set(http::field::authorization, "Bearer s3cret2");
  EXPECT_EQ(router.Handle(req).result(), http::status::unauthorized);
  req.set(http::field::authorization, "Basic s3cret");
  EXPECT_EQ(router.Handle(req).result(), http::status::unauthorized);
  req.set(http::field::authorization, "bearer s3cret");
  r = router.Handle(req);
  EXPECT_EQ(r.result(), http::status::ok);
  EXPECT_EQ(r.body(), "ok\n");
}

// The value of the session cookie a 303 sets ("" if none).
std::string SessionCookieOf(const Response& r) {
  const std::string set(r[http::field::set_cookie]);
  const std::string prefix = std::string(kSessionCookie) + "=";
  if (!set.starts_with(prefix)) return "";
  return set.substr(prefix.size(), set.find(';') - prefix.size());
}

TEST_F(RouterTest, TokenInTheQuerySetsAnHttpOnlyStrictCookie) {
  AdminRouter router = Router({}, "s3cret");
  EXPECT_EQ(router.Handle(Make(http::verb::get, "/")).result(),
            http::status::unauthorized);
  Response r = router.Handle(Make(http::verb::get, "/?token=wrong"));
  EXPECT_EQ(r.result(), http::status::unauthorized);
  EXPECT_EQ(r.count(http::field::set_cookie), 0u);
  r = router.Handle(Make(http::verb::get, "/?token=s3cret"));
  ASSERT_EQ(r.result(), http::status::see_other);
  EXPECT_EQ(r[http::field::location], "/");
  const std::string set(r[http::field::set_cookie]);
  EXPECT_THAT(set, HasSubstr("; HttpOnly"));
  EXPECT_THAT(set, HasSubstr("; SameSite=Strict"));
  EXPECT_THAT(set, HasSubstr("; Path=/"));
  const std::string cookie = SessionCookieOf(r);
  ASSERT_EQ(cookie.size(), 64u) << set;
  EXPECT_EQ(cookie.find("s3cret"), std::string::npos);
  // Percent-encoded, among other parameters.
  EXPECT_EQ(
      router.Handle(Make(http::verb::get, "/?x=1&token=s3%63ret")).result(),
      http::status::see_other);

  // The cookie authorises any request, the WebSocket's included.
  for (const char* target : {"/metrics", "/", "/api/v1/gateway"}) {
    Request req = Make(http::verb::get, target);
    EXPECT_EQ(router.Handle(req).result(), http::status::unauthorized)
        << target;
    req.set(http::field::cookie, "theme=dark; tachyon_admin=" + cookie);
    EXPECT_EQ(router.Handle(req).result(), http::status::ok) << target;
    EXPECT_TRUE(router.Authorized(req));
    req.set(http::field::cookie, "tachyon_admin=" + cookie + "0");
    EXPECT_EQ(router.Handle(req).result(), http::status::unauthorized)
        << target;
    req.set(http::field::cookie, "tachyon_admin=s3cret");
    EXPECT_EQ(router.Handle(req).result(), http::status::unauthorized)
        << target;
    req.set(http::field::cookie, "other_admin=" + cookie);
    EXPECT_FALSE(router.Authorized(req));
  }
  // Another router (a restarted gateway) draws another session.
  AdminRouter restarted = Router({}, "s3cret");
  Request req = Make(http::verb::get, "/metrics");
  req.set(http::field::cookie, "tachyon_admin=" + cookie);
  EXPECT_EQ(restarted.Handle(req).result(), http::status::unauthorized);
  // Without a token, ?token= is just a query.
  EXPECT_EQ(Router().Handle(Make(http::verb::get, "/?token=x")).result(),
            http::status::ok);
}

Request WithHost(http::verb method, std::string target, std::string host) {
  Request r{method, target, 11};
  r.set(http::field::host, host);
  return r;
}

TEST_F(RouterTest, HostMustNameThisServer) {
  AdminRouter router = Router();
  for (const char* host :
       {"127.0.0.1", "127.0.0.1:7480", "127.9.9.9:1", "localhost",
        "LOCALHOST:7480", "[::1]", "[::1]:7480", "[::ffff:127.0.0.1]:80"}) {
    EXPECT_EQ(
        router.Handle(WithHost(http::verb::get, "/healthz", host)).result(),
        http::status::ok)
        << host;
  }
  for (const char* host :
       {"evil.example", "evil.example:7480", "localhost.evil.example",
        "10.0.0.1:7480", "127.0.0.1:", "127.0.0.1:x", "::1", "[::1",
        "[127.0.0.1]", "127.0.0.1:7480:1", ""}) {
    const Response r =
        router.Handle(WithHost(http::verb::get, "/healthz", host));
    EXPECT_EQ(r.result(), http::status::forbidden) << host;
    EXPECT_THAT(r.body(), HasSubstr("403 forbidden: Host")) << host;
  }
  EXPECT_THAT(
      router.Handle(WithHost(http::verb::get, "/metrics", "evil.example"))
          .body(),
      HasSubstr("DNS rebinding"));
  // No Host at all (an HTTP/1.0 script): allowed.
  Request bare{http::verb::get, "/healthz", 10};
  EXPECT_EQ(router.Handle(bare).result(), http::status::ok);
}

TEST_F(RouterTest, HostMayBeTheBindAddressOrAnyLiteralOnAWildcardBind) {
  AdminInfo info;
  info.config.admin.bind = "10.0.0.5";
  info.config.admin.token = "s3cret";
  AdminRouter router(&registry_, info, {});
  Request req = WithHost(http::verb::get, "/healthz", "10.0.0.5:7480");
  req.set(http::field::authorization, "Bearer wrong");
  EXPECT_EQ(router.Handle(req).result(), http::status::unauthorized);
  req.set(http::field::host, "10.0.0.6:7480");
  EXPECT_EQ(router.Handle(req).result(), http::status::forbidden);
  // The bearer token lets scripts use a name (a browser cannot send it).
  req.set(http::field::host, "gw1.example:7480");
  EXPECT_EQ(router.Handle(req).result(), http::status::forbidden);
  req.set(http::field::authorization, "Bearer s3cret");
  EXPECT_EQ(router.Handle(req).result(), http::status::ok);

  info.config.admin.bind = "0.0.0.0";
  AdminRouter wildcard(&registry_, info, {});
  req.set(http::field::host, "192.0.2.7:7480");
  req.erase(http::field::authorization);
  req.set(http::field::cookie, "x=1");
  EXPECT_EQ(wildcard.Handle(req).result(), http::status::unauthorized);
  req.set(http::field::host, "gw1.example:7480");
  EXPECT_EQ(wildcard.Handle(req).result(), http::status::forbidden);
}

TEST_F(RouterTest, CrossSiteOriginIsRefusedForChangesAndUpgrades) {
  int reloads = 0;
  AdminHooks hooks;
  hooks.reload = [&]() -> absl::StatusOr<config::ReloadReport> {
    ++reloads;
    return config::ReloadReport{};
  };
  hooks.delete_stream = [](std::string_view) { return absl::OkStatus(); };
  AdminRouter router = Router(std::move(hooks));
  Request post = WithHost(http::verb::post, "/api/v1/reload", "127.0.0.1:7480");
  post.set(http::field::origin, "http://evil.example");
  Response r = router.Handle(post);
  EXPECT_EQ(r.result(), http::status::forbidden);
  EXPECT_THAT(r.body(), HasSubstr("Origin 'http://evil.example' does not "
                                  "match Host '127.0.0.1:7480'"));
  post.set(http::field::origin, "http://127.0.0.1:7481");
  EXPECT_EQ(router.Handle(post).result(), http::status::forbidden);
  post.set(http::field::origin, "null");
  EXPECT_EQ(router.Handle(post).result(), http::status::forbidden);
  EXPECT_EQ(reloads, 0);
  post.set(http::field::origin, "http://127.0.0.1:7480");
  EXPECT_EQ(router.Handle(post).result(), http::status::ok);
  post.erase(http::field::origin);  // curl
  EXPECT_EQ(router.Handle(post).result(), http::status::ok);
  EXPECT_EQ(reloads, 2);

  Request del =
      WithHost(http::verb::delete_, "/api/v1/streams/md.a", "localhost:7480");
  del.set(http::field::origin, "https://evil.example");
  EXPECT_EQ(router.Handle(del).result(), http::status::forbidden);
  del.set(http::field::origin, "http://localhost:7480");
  EXPECT_EQ(router.Handle(del).result(), http::status::ok);

  Request upgrade = WithHost(http::verb::get, "/api/v1/live", "127.0.0.1:7480");
  upgrade.set(http::field::upgrade, "websocket");
  upgrade.set(http::field::origin, "http://evil.example");
  EXPECT_THAT(router.CrossSiteRefusal(upgrade), HasSubstr("Origin"));
  upgrade.set(http::field::origin, "http://127.0.0.1:7480");
  EXPECT_EQ(router.CrossSiteRefusal(upgrade), "");

  // A plain GET may come from anywhere (the browser keeps the reply from
  // the other page: no CORS headers).
  Request get = WithHost(http::verb::get, "/healthz", "127.0.0.1:7480");
  get.set(http::field::origin, "http://evil.example");
  EXPECT_EQ(router.Handle(get).result(), http::status::ok);
}

TEST_F(RouterTest, DeleteAndReloadMapStatusesToHttp) {
  std::vector<std::string> deleted;
  AdminHooks hooks;
  hooks.delete_stream = [&](std::string_view name) -> absl::Status {
    deleted.emplace_back(name);
    if (name == "gone") return absl::NotFoundError("no stream 'gone'");
    if (name == "busy") {
      return absl::FailedPreconditionError("stream 'busy' has 1 subscriber");
    }
    return absl::OkStatus();
  };
  int reloads = 0;
  hooks.reload = [&]() -> absl::StatusOr<config::ReloadReport> {
    if (++reloads == 2) {
      return absl::InvalidArgumentError(
          "gw.toml:3: admin.port: must be between 0 and 65535, got 70000");
    }
    return config::ReloadReport{{"gateway.log_level"}, {"gateway.port"}};
  };
  AdminRouter router = Router(std::move(hooks));
  Response r = router.Handle(Make(http::verb::delete_, "/api/v1/streams/md.a"));
  EXPECT_EQ(r.result(), http::status::ok);
  r = router.Handle(Make(http::verb::delete_, "/api/v1/streams/gone"));
  EXPECT_EQ(r.result(), http::status::not_found);
  EXPECT_THAT(r.body(), HasSubstr("no stream 'gone'"));
  r = router.Handle(Make(http::verb::delete_, "/api/v1/streams/busy"));
  EXPECT_EQ(r.result(), http::status::conflict);
  r = router.Handle(Make(http::verb::delete_, "/api/v1/streams/md%2Eb"));
  EXPECT_EQ(r.result(), http::status::ok);
  r = router.Handle(Make(http::verb::delete_, "/api/v1/streams/bad%2"));
  EXPECT_EQ(r.result(), http::status::bad_request);
  EXPECT_EQ(deleted,
            (std::vector<std::string>{"md.a", "gone", "busy", "md.b"}));

  r = router.Handle(Make(http::verb::post, "/api/v1/reload"));
  EXPECT_EQ(r.result(), http::status::ok);
  const json::value v = json::parse(r.body());
  EXPECT_EQ(v.at("applied").at(0).as_string(), "gateway.log_level");
  EXPECT_EQ(v.at("restart_required").at(0).as_string(), "gateway.port");
  r = router.Handle(Make(http::verb::post, "/api/v1/reload"));
  EXPECT_EQ(r.result(), http::status::bad_request);
  EXPECT_THAT(r.body(), HasSubstr("gw.toml:3: admin.port: "));
}

TEST_F(RouterTest, ServesTheDashboardAndNamesAMissingChartJs) {
  AdminRouter router = Router();
  Response r = router.Handle(Make(http::verb::get, "/"));
  EXPECT_EQ(r.result(), http::status::ok);
  EXPECT_THAT(std::string(r[http::field::content_type]), HasSubstr("html"));
  EXPECT_THAT(r.body(), HasSubstr("/dashboard.js"));
  EXPECT_THAT(r.body(), HasSubstr("/chart.js"));
  r = router.Handle(Make(http::verb::get, "/dashboard.js"));
  EXPECT_EQ(r.result(), http::status::ok);
  EXPECT_THAT(std::string(r[http::field::content_type]),
              HasSubstr("javascript"));
  EXPECT_THAT(r.body(), HasSubstr("/api/v1/live"));
  r = router.Handle(Make(http::verb::get, "/chart.js"));
  EXPECT_EQ(r.result(), http::status::not_found);
  EXPECT_THAT(r.body(), HasSubstr("/nonexistent/chart.min.js"));
  EXPECT_THAT(r.body(), HasSubstr("libjs-chart.js"));
  r = router.Handle(Make(http::verb::get, "/.hidden.js"));
  EXPECT_EQ(r.result(), http::status::not_found);
}

TEST_F(RouterTest, ChartJsIsServedFromTheConfiguredFile) {
  chartjs_ = ::testing::TempDir() + "/chart-test.js";
  std::ofstream(chartjs_) << "window.Chart = 1;\n";
  AdminRouter router = Router();
  Response r = router.Handle(Make(http::verb::get, "/chart.js"));
  EXPECT_EQ(r.result(), http::status::ok);
  EXPECT_EQ(r.body(), "window.Chart = 1;\n");
  EXPECT_THAT(std::string(r[http::field::content_type]),
              HasSubstr("javascript"));
}

TEST_F(RouterTest, LiveSnapshotIsJsonWithItsSections) {
  base::Histogram h = registry_.AddHistogram("tachyon_x_ns", "x");
  h.Record(100);
  AdminRouter router = Router();
  const json::value v = json::parse(router.Tick());
  for (const char* key :
       {"time_ms", "uptime_s", "streams", "sessions_open",
        "connections_accepted_total", "slow_consumers_total", "drops_total",
        "latency", "latency_window", "backends"}) {
    EXPECT_TRUE(v.as_object().contains(key)) << key;
  }
  EXPECT_EQ(v.at("latency").at("tachyon_x_ns").at("count").as_int64(), 1);
  Response r = router.Handle(Make(http::verb::get, "/api/v1/live"));
  EXPECT_EQ(r.result(), http::status::upgrade_required);
}

}  // namespace
}  // namespace tachyon::admin
