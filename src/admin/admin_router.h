// AdminRouter: answers one admin HTTP request from published values.
//
// Overview
//   The HTTP server (admin_server.h) reads a request with Beast's parser and
//   hands it here; Handle() checks where the request comes from (below),
//   then the token (when one is set; compared in constant time), routes by
//   method and path and renders the reply. Nothing here touches a socket, so
//   the fuzzer (tests/fuzz/fuzz_admin_http.cpp) drives the same parser and
//   Handle() with arbitrary bytes.
//
//   Token (admin.token set). A request is authorised by either
//     - the header "Authorization: Bearer <token>" (scripts, Prometheus,
//       tachyon-stat), or
//     - the cookie "tachyon_admin=<session>" (browsers, which cannot add a
//       header to a page load or a WebSocket). Opening
//       http://127.0.0.1:PORT/?token=<token> checks the token (constant
//       time) and answers 303 to "/" with
//         Set-Cookie: tachyon_admin=<session>; Path=/; HttpOnly;
//                     SameSite=Strict
//       so the token leaves the address bar. <session> is 32 random bytes
//       (hex) drawn when the router is made: the cookie is not the token,
//       and a restarted gateway asks for ?token= again. A wrong ?token= is
//       401.
//
//   Where a request comes from (DNS rebinding, cross-site requests):
//     - Host, when present, must name a loopback address (127.0.0.0/8,
//       [::1]), "localhost", or admin.bind (any IP literal when admin.bind
//       is 0.0.0.0 or ::), with an optional port. A request that carries
//       the right bearer token in its Authorization header may use any Host
//       (a browser cannot send that header by itself).
//     - Origin, when present on a WebSocket upgrade, a POST or a DELETE,
//       must be http:// or https:// followed by the request's Host.
//   Otherwise: 403 with the rule broken. A page on another site can then
//   neither read the API through a rebound name nor POST /api/v1/reload.
//
//   Endpoints:
//     GET /metrics                Prometheus text (prometheus.h)
//     GET /healthz                200 "ok" while the process serves
//     GET /readyz                 200 "ready", or 503 with one line per
//                                 reason (listeners down, a backend
//                                 endpoint below pool_min on a worker)
//     GET /api/v1/gateway         version, build type, uptime, config file,
//                                 effective config
//     GET /api/v1/streams         stream rows (views.h)
//     GET /api/v1/sessions        hooks.sessions()
//     GET /api/v1/backends        per service and endpoint
//     DELETE /api/v1/streams/NAME hooks.delete_stream(NAME)
//     POST /api/v1/reload         hooks.reload()
//     GET /api/v1/live            WebSocket (the server upgrades it; a
//                                 plain GET gets 426)
//     GET /, /chart.js, /FILE     the dashboard (index.html and FILE from
//                                 admin.dashboard_dir, Chart.js from
//                                 admin.chartjs_path)
//   Unknown paths get 404, a known path with another method 405 with Allow,
//   an unset hook 501 naming it.
//
//   Tick() runs once a second on the admin thread: it samples the registry
//   (rates, latency windows) and renders the /api/v1/live snapshot.
//
// Example
//   AdminRouter router(&gateway.counters(), info, hooks);
//   Response res = router.Handle(request);
//
// Threading: one thread (the admin thread) calls everything; the hooks run
// on that thread and must return copies of what they report.
#ifndef TACHYON_ADMIN_ADMIN_ROUTER_H_
#define TACHYON_ADMIN_ADMIN_ROUTER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "admin/views.h"
#include "base/counters.h"
#include "boost/beast/http.hpp"
#include "config/model.h"
#include "config/reload_report.h"
#include "session/session_info.h"

namespace tachyon::admin {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

/// Largest request accepted, header and body together (413 beyond).
inline constexpr std::size_t kMaxRequestBytes = 8 * 1024;

/// What the admin plane calls into the gateway for. Each runs on the admin
/// thread; an unset one is answered 501 naming it (listeners_up unset:
/// /readyz reports the listeners as not known to be up).
struct AdminHooks {
  /// Copies of the sessions' published rows.
  std::function<std::vector<session::SessionInfo>()> sessions;
  /// Retires the stream: OK, NOT_FOUND (404), FAILED_PRECONDITION (409:
  /// still in use), or another error (500).
  std::function<absl::Status(std::string_view)> delete_stream;
  /// Re-reads the config file; an InvalidArgument error (naming
  /// file:line:key) is answered 400.
  std::function<absl::StatusOr<config::ReloadReport>()> reload;
  /// True while the client listeners accept.
  std::function<bool()> listeners_up;
  /// The configuration running now (after reloads); unset: AdminInfo's.
  std::function<config::GatewayConfig()> running_config;
};

/// What /api/v1/gateway reports besides the counters.
struct AdminInfo {
  config::GatewayConfig config;  ///< the effective configuration
  std::string config_file;       ///< "" for built-in defaults
  std::string version;           ///< defaults to the build's version
  std::string build_type;        ///< defaults to the build's CMake type
  /// Directory of index.html; "" for the one built with the gateway.
  std::string dashboard_dir;
  /// Chart.js file; "" for Debian's libjs-chart.js.
  std::string chartjs_path;
};

/// The dashboard directory built into the gateway: the source tree's
/// src/admin/dashboard if present, else the installed share/tachyon copy.
std::string DefaultDashboardDir();
/// Debian's Chart.js (chart.umd.js, else chart.min.js) if one exists, else
/// the first of them (so that a 404 can name it).
std::string DefaultChartJsPath();

class AdminRouter {
 public:
  /// `registry` must outlive the router.
  AdminRouter(const base::CounterRegistry* registry, AdminInfo info,
              AdminHooks hooks);

  /// The reply to `request` (keep-alive as the request asks).
  Response Handle(const Request& request);

  /// True if `request` carries the token in its Authorization header or
  /// the session cookie (always, when no token is set).
  [[nodiscard]] bool Authorized(const Request& request) const;
  /// Empty if `request`'s Host and Origin are acceptable (see Overview);
  /// else why not, for a 403. Checked by Handle and, for WebSocket
  /// upgrades, by the server.
  [[nodiscard]] std::string CrossSiteRefusal(const Request& request) const;
  /// 403 with `reason`.
  static Response Forbidden(const Request& request, std::string_view reason);
  /// 401 with WWW-Authenticate, for `request`.
  Response Unauthorized(const Request& request) const;
  /// A plain-text reply with `status`.
  static Response Text(const Request& request,
                       boost::beast::http::status status, std::string body);

  /// Samples the registry and renders the live snapshot (admin thread,
  /// once a second). Returns the snapshot's JSON.
  const std::string& Tick();
  /// The JSON of the last Tick (rendered by a first Tick if none ran).
  const std::string& LiveJson();

 private:
  Response Route(const Request& request, std::string_view path);
  // GET /?token=...: the cookie, or 401.
  Response IssueCookie(const Request& request, std::string_view query);
  bool BearerAuthorized(const Request& request) const;
  bool HostAllowed(std::string_view host) const;
  Response Json(
      const Request& request, std::string body,
      boost::beast::http::status status = boost::beast::http::status::ok) const;
  Response MethodNotAllowed(const Request& request,
                            std::string_view allow) const;
  Response MissingHook(const Request& request, std::string_view hook) const;
  Response ServeFile(const Request& request, const std::string& path,
                     std::string_view content_type,
                     std::string_view missing_hint) const;
  Response Ready(const Request& request);
  std::string GatewayJson() const;
  std::string StreamsJson();
  std::string SessionsJson() const;
  Response DeleteStream(const Request& request, std::string_view name);
  Response Reload(const Request& request);
  double UptimeSeconds() const;

  const base::CounterRegistry* registry_;
  AdminInfo info_;
  AdminHooks hooks_;
  std::chrono::steady_clock::time_point start_;
  LiveSampler sampler_;
  std::string live_json_;
  // The browser session cookie's value (hex); empty without a token.
  std::string session_cookie_;
};

/// Name of the browser session cookie.
inline constexpr std::string_view kSessionCookie = "tachyon_admin";

}  // namespace tachyon::admin

#endif  // TACHYON_ADMIN_ADMIN_ROUTER_H_
