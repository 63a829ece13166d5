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
