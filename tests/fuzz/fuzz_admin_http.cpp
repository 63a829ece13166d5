// libFuzzer target for the admin server's request path: arbitrary bytes go
// through the same Beast request parser, with the same limits, as on a
// connection (admin_server.cpp), and every request it completes through
// AdminRouter::Handle, against a registry with values of every kind and
// hooks that answer. Neither may crash, hang or leak; a reply must be a
// valid HTTP status with a body that fits its Content-Length.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "admin/admin_router.h"
#include "base/counters.h"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/websocket.hpp"

namespace {

namespace http = boost::beast::http;
using tachyon::admin::AdminRouter;
using tachyon::admin::kMaxRequestBytes;

struct Fixture {
  Fixture() {
    counter = registry.AddCounter("tachyon_stream_appends_total", "appends",
                                  {{"stream", "md.\"a\"\n"}});
    gauge = registry.AddGauge(
        "tachyon_backend_ready", "ready",
        {{"service", "risk"}, {"endpoint", "127.0.0.1:1"}, {"worker", "0"}});
    histogram = registry.AddHistogram("tachyon_x_ns", "x", {{"worker", "0"}});
    counter.Add(3);
    gauge.Set(1);
    histogram.Record(1234);
  }
  tachyon::base::CounterRegistry registry;
  tachyon::base::Counter counter;
  tachyon::base::Gauge gauge;
  tachyon::base::Histogram histogram;
};

AdminRouter& Router(bool with_token) {
  static Fixture* fixture = new Fixture();
  auto make = [&](std::string token) {
    tachyon::admin::AdminInfo info;
    info.config.admin.token = std::move(token);
    tachyon::admin::AdminHooks hooks;
    hooks.listeners_up = [] { return true; };
    hooks.sessions = [] {
      return std::vector<tachyon::session::SessionInfo>(1);
    };
    hooks.delete_stream = [](std::string_view name) {
      return name.size() % 2 == 0 ? absl::OkStatus()
                                  : absl::NotFoundError("no such stream");
    };
    hooks.reload = []() -> absl::StatusOr<tachyon::config::ReloadReport> {
      return tachyon::config::ReloadReport{};
    };
    return new AdminRouter(&fixture->registry, std::move(info),
                           std::move(hooks));
  };
  static AdminRouter* open = make("");
  static AdminRouter* guarded = make("fuzz-token");
  return with_token ? *guarded : *open;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the router (with or without a token); the rest is
  // the connection's byte stream, possibly several requests (keep-alive).
  const bool with_token = (data[0] & 1) != 0;
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  while (!bytes.empty()) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(kMaxRequestBytes));
    parser.body_limit(kMaxRequestBytes);
    parser.eager(true);
    boost::beast::error_code ec;
    std::size_t used = 0;
    while (!parser.is_done() && used < bytes.size()) {
      const std::size_t n = parser.put(
          boost::asio::buffer(bytes.data() + used, bytes.size() - used), ec);
      if (ec == http::error::need_more) {
        ec = {};
        break;  // the rest of the stream is a partial request
      }
      if (ec) break;
      if (n == 0) break;
      used += n;
    }
    if (!ec && !parser.is_done() && used == bytes.size()) {
      parser.put_eof(ec);
    }
    if (ec || !parser.is_done()) return 0;
    const tachyon::admin::Request& request = parser.get();
    AdminRouter& router = Router(with_token);
    if (boost::beast::websocket::is_upgrade(request)) {
      // The server's checks before it upgrades (admin_server.cpp).
      (void)router.CrossSiteRefusal(request);
      (void)router.Authorized(request);
    }
    tachyon::admin::Response response = router.Handle(request);
    const unsigned status = response.result_int();
    if (status < 200 || status > 599) __builtin_trap();
    if (response.has_content_length() &&
        response.payload_size().value_or(0) != response.body().size()) {
      __builtin_trap();
    }
    if (used == 0) return 0;
    bytes.remove_prefix(used);
  }
  return 0;
}
