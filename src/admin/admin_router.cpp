#include "admin/admin_router.h"

#include <arpa/inet.h>
#include <sys/random.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "admin/json_writer.h"
#include "admin/prometheus.h"
#include "auth/token_hash.h"
#include "session/session_counters.h"

namespace tachyon::admin {
namespace {

namespace http = boost::beast::http;

// Control-path concatenation of strings, string_views and numbers (Debian's
// Abseil has its own string_view, which absl::StrCat wants).
template <typename... T>
std::string Cat(const T&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) {
    if (!out.empty()) out += '\n';
    out += l;
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(a[i])) !=
        absl::ascii_tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

constexpr std::string_view kJsonType = "application/json";
constexpr std::string_view kTextType = "text/plain; charset=utf-8";
// Files larger than this are not served (the dashboard and Chart.js are
// a few hundred KiB).
constexpr std::uintmax_t kMaxFileBytes = 8u << 20;

constexpr std::string_view kChartJsCandidates[] = {
    "/usr/share/javascript/chart.js/chart.umd.js",
    "/usr/share/javascript/chart.js/chart.min.js"};

// A file name the dashboard directory may serve: no separators, no leading
// dot (so no "..", no hidden files).
bool IsPlainFileName(std::string_view name) {
  if (name.empty() || name.size() > 128 || name.front() == '.') return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

std::string_view ContentTypeOf(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  if (name.ends_with(".png")) return "image/png";
  if (name.ends_with(".json")) return kJsonType;
  return "";
}

// %XX-decodes `in`; false on a malformed escape.
bool PercentDecode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int v = 0;
    for (std::size_t k = 1; k <= 2; ++k) {
      const char c = in[i + k];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= c - '0';
      } else if (c >= 'a' && c <= 'f') {
        v |= c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        v |= c - 'A' + 10;
      } else {
        return false;
      }
    }
    out += static_cast<char>(v);
    i += 2;
  }
  return true;
}

// The value of `name` in the query string `query` ("a=1&token=x"), %XX-
// decoded; false if absent or malformed.
bool QueryValue(std::string_view query, std::string_view name,
                std::string& value) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view()
                                          : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
    return PercentDecode(pair.substr(eq + 1), value);
  }
  return false;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// 32 random bytes as hex: the browser session cookie's value.
std::string RandomSessionValue() {
  std::array<unsigned char, 32> bytes{};
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got < bytes.size()) {
    std::random_device rd;  // getrandom(2) missing: the kernel's pool too
    for (unsigned char& b : bytes) b = static_cast<unsigned char>(rd());
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

// An IPv4 or IPv6 address literal (no brackets) as 16 bytes (IPv4 as
// v4-mapped); false if `text` is not one.
bool ParseAddress(std::string_view text, std::array<unsigned char, 16>& out) {
  if (text.empty() || text.size() > 64) return false;
  const std::string s(text);
  out.fill(0);
  in_addr v4;
  if (::inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return true;
  }
  return ::inet_pton(AF_INET6, s.c_str(), out.data()) == 1;
}

bool IsMappedV4(const std::array<unsigned char, 16>& a) {
  for (int i = 0; i < 10; ++i) {
    if (a[i] != 0) return false;
  }
  return a[10] == 0xff && a[11] == 0xff;
}

bool IsLoopbackBytes(const std::array<unsigned char, 16>& a) {
  if (IsMappedV4(a)) return a[12] == 127;
  for (int i = 0; i < 15; ++i) {
    if (a[i] != 0) return false;
  }
  return a[15] == 1;
}

bool IsUnspecifiedBytes(const std::array<unsigned char, 16>& a) {
  if (IsMappedV4(a))
    return a[12] == 0 && a[13] == 0 && a[14] == 0 && a[15] == 0;
  for (unsigned char b : a) {
    if (b != 0) return false;
  }
  return true;
}

}  // namespace

std::string DefaultDashboardDir() {
  const std::string source = TACHYON_ADMIN_SOURCE_DASHBOARD_DIR;
  std::error_code ec;
  if (std::filesystem::exists(source + "/index.html", ec)) return source;
  return TACHYON_ADMIN_INSTALLED_DASHBOARD_DIR;
}

std::string DefaultChartJsPath() {
  for (std::string_view candidate : kChartJsCandidates) {
    std::error_code ec;
    if (std::filesystem::exists(candidate, ec)) return std::string(candidate);
  }
  return std::string(kChartJsCandidates[0]);
}

AdminRouter::AdminRouter(const base::CounterRegistry* registry, AdminInfo info,
                         AdminHooks hooks)
    : registry_(registry),
      info_(std::move(info)),
      hooks_(std::move(hooks)),
      start_(std::chrono::steady_clock::now()) {
  if (info_.version.empty()) info_.version = TACHYON_ADMIN_VERSION;
  if (info_.build_type.empty()) info_.build_type = TACHYON_ADMIN_BUILD_TYPE;
  if (info_.dashboard_dir.empty()) info_.dashboard_dir = DefaultDashboardDir();
  if (info_.chartjs_path.empty()) info_.chartjs_path = DefaultChartJsPath();
  if (!info_.config.admin.token.empty()) {
    session_cookie_ = RandomSessionValue();
  }
}

double AdminRouter::UptimeSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       start_)
      .count();
}

bool AdminRouter::Authorized(const Request& request) const {
  if (info_.config.admin.token.empty()) return true;
  if (BearerAuthorized(request)) return true;
  // Every cookie of every Cookie field: "a=1; tachyon_admin=...".
  bool found = false;
  for (auto [it, end] = request.equal_range(http::field::cookie); it != end;
       ++it) {
    std::string_view rest(it->value().data(), it->value().size());
    while (!rest.empty()) {
      const std::size_t semi = rest.find(';');
      const std::string_view pair = Trim(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view()
                                            : rest.substr(semi + 1);
      const std::size_t eq = pair.find('=');
      if (eq == std::string_view::npos ||
          Trim(pair.substr(0, eq)) != kSessionCookie) {
        continue;
      }
      // Every candidate is compared, so the time does not tell which one
      // (if any) matched.
      if (auth::ConstantTimeEquals(Trim(pair.substr(eq + 1)),
                                   session_cookie_)) {
        found = true;
      }
    }
  }
  return found;
}

bool AdminRouter::BearerAuthorized(const Request& request) const {
  const std::string& token = info_.config.admin.token;
  if (token.empty()) return false;
  auto it = request.find(http::field::authorization);
  if (it == request.end()) return false;
  std::string_view value(it->value().data(), it->value().size());
  constexpr std::string_view kScheme = "Bearer ";
  if (value.size() < kScheme.size() ||
      !EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme)) {
    return false;
  }
  return auth::ConstantTimeEquals(value.substr(kScheme.size()), token);
}

Response AdminRouter::Text(const Request& request, http::status status,
                           std::string body) {
  Response res{status, request.version()};
  res.set(http::field::server, "tachyon-admin");
  res.set(http::field::content_type, kTextType);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(request.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

bool AdminRouter::HostAllowed(std::string_view host) const {
  std::string_view name = host;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    name = host.substr(1, close - 1);
    const std::string_view after = host.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      port = after.substr(1);
      if (port.empty()) return false;
    }
    // Only an IPv6 literal goes in brackets.
    if (name.find(':') == std::string_view::npos) return false;
  } else {
    const std::size_t colon = host.find(':');
    if (colon != std::string_view::npos) {
      name = host.substr(0, colon);
      port = host.substr(colon + 1);
      if (port.empty()) return false;
    }
    // An IPv6 literal without brackets is not a Host.
    if (name.find(':') != std::string_view::npos) return false;
  }
  if (port.size() > 5) return false;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
  }
  if (EqualsIgnoreCase(name, "localhost")) return true;
  std::array<unsigned char, 16> address{};
  if (!ParseAddress(name, address)) return false;
  if (IsLoopbackBytes(address)) return true;
  std::array<unsigned char, 16> bind{};
  if (!ParseAddress(info_.config.admin.bind, bind)) return false;
  // A wildcard bind is reached by any of the host's addresses; a literal
  // address in Host cannot be a rebound name.
  return IsUnspecifiedBytes(bind) || address == bind;
}

std::string AdminRouter::CrossSiteRefusal(const Request& request) const {
  const auto host_it = request.find(http::field::host);
  const bool has_host = host_it != request.end();
  const std::string_view host =
      has_host
          ? std::string_view(host_it->value().data(), host_it->value().size())
          : std::string_view();
  if (has_host && !HostAllowed(host) && !BearerAuthorized(request)) {
    return Cat("Host '", host,
               "' is not an address of this admin server: use 127.0.0.1, "
               "[::1], localhost or admin.bind ('",
               info_.config.admin.bind,
               "'), with any port (a page reaching this server under another "
               "name is refused: DNS rebinding)");
  }
  const http::verb method = request.method();
  const bool changes_or_upgrades =
      (method != http::verb::get && method != http::verb::head &&
       method != http::verb::options) ||
      request.find(http::field::upgrade) != request.end();
  const auto origin_it = request.find(http::field::origin);
  if (!changes_or_upgrades || origin_it == request.end()) return "";
  const std::string_view origin(origin_it->value().data(),
                                origin_it->value().size());
  std::string_view authority;
  if (origin.size() > 7 && EqualsIgnoreCase(origin.substr(0, 7), "http://")) {
    authority = origin.substr(7);
  } else if (origin.size() > 8 &&
             EqualsIgnoreCase(origin.substr(0, 8), "https://")) {
    authority = origin.substr(8);
  }
  if (!has_host || authority.empty() || !EqualsIgnoreCase(authority, host)) {
    return Cat("Origin '", origin, "' does not match Host '", host,
               "': a WebSocket, POST or DELETE from a page of another site "
               "is refused");
  }
  return "";
}

Response AdminRouter::Forbidden(const Request& request,
                                std::string_view reason) {
  return Text(request, http::status::forbidden,
              Cat("403 forbidden: ", reason, "\n"));
}

Response AdminRouter::IssueCookie(const Request& request,
                                  std::string_view query) {
  std::string token;
  if (!QueryValue(query, "token", token) ||
      !auth::ConstantTimeEquals(token, info_.config.admin.token)) {
    return Unauthorized(request);
  }
  Response res = Text(request, http::status::see_other,
                      "303 see other: signed in, continue at /\n");
  res.set(http::field::location, "/");
  res.set(http::field::set_cookie, Cat(kSessionCookie, "=", session_cookie_,
                                       "; Path=/; HttpOnly; SameSite=Strict"));
  return res;
}

Response AdminRouter::Unauthorized(const Request& request) const {
  Response res =
      Text(request, http::status::unauthorized,
           "401 unauthorized: send 'Authorization: Bearer <admin.token>', or "
           "open /?token=<admin.token> in a browser (it sets a cookie)\n");
  res.set(http::field::www_authenticate, "Bearer realm=\"tachyon-admin\"");
  return res;
}

Response AdminRouter::Json(const Request& request, std::string body,
                           http::status status) const {
  Response res{status, request.version()};
  res.set(http::field::server, "tachyon-admin");
  res.set(http::field::content_type, kJsonType);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(request.keep_alive());
  res.body() = std::move(body);
  res.body() += '\n';
  res.prepare_payload();
  return res;
}

Response AdminRouter::MethodNotAllowed(const Request& request,
                                       std::string_view allow) const {
  Response res = Text(
      request, http::status::method_not_allowed,
      Cat("405 method not allowed: ", std::string_view(request.method_string()),
          "; allowed: ", allow, "\n"));
  res.set(http::field::allow, allow);
  return res;
}

Response AdminRouter::MissingHook(const Request& request,
                                  std::string_view hook) const {
  return Text(request, http::status::not_implemented,
              Cat("501 not implemented: this gateway has no '", hook,
                  "' admin hook\n"));
}

Response AdminRouter::ServeFile(const Request& request, const std::string& path,
                                std::string_view content_type,
                                std::string_view missing_hint) const {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  std::ifstream in(path, std::ios::binary);
  if (ec || !in || size > kMaxFileBytes) {
    return Text(
        request, http::status::not_found,
        Cat("404 not found: ", path, ec ? Cat(" (", ec.message(), ")") : "",
            missing_hint, "\n"));
  }
  std::string body(static_cast<std::size_t>(size), '\0');
  in.read(body.data(), static_cast<std::streamsize>(size));
  body.resize(static_cast<std::size_t>(in.gcount()));
  Response res{http::status::ok, request.version()};
  res.set(http::field::server, "tachyon-admin");
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-cache");
  res.keep_alive(request.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response AdminRouter::Handle(const Request& request) {
  if (std::string refusal = CrossSiteRefusal(request); !refusal.empty()) {
    return Forbidden(request, refusal);
  }
  const std::string_view target(request.target().data(),
                                request.target().size());
  const std::size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query = question == std::string_view::npos
                                     ? std::string_view()
                                     : target.substr(question + 1);
  if (!info_.config.admin.token.empty() &&
      request.method() == http::verb::get &&
      (path == "/" || path == "/index.html") &&
      (query.starts_with("token=") ||
       query.find("&token=") != std::string_view::npos)) {
    return IssueCookie(request, query);
  }
  if (!Authorized(request)) return Unauthorized(request);
  if (target.empty() || target.front() != '/') {
    return Text(request, http::status::bad_request,
                "400 bad request: the target must be a path starting with /\n");
  }
  return Route(request, path);
}

Response AdminRouter::Route(const Request& request, std::string_view path) {
  const http::verb method = request.method();
  const bool get = method == http::verb::get;
  constexpr std::string_view kStreamsPrefix = "/api/v1/streams/";

  if (path == "/metrics" || path == "/healthz" || path == "/readyz" ||
      path == "/api/v1/gateway" || path == "/api/v1/streams" ||
      path == "/api/v1/sessions" || path == "/api/v1/backends" ||
      path == "/api/v1/live") {
    if (!get) return MethodNotAllowed(request, "GET");
    if (path == "/metrics") {
      Response res = Text(request, http::status::ok,
                          RenderPrometheus(registry_->Snapshot()));
      res.set(http::field::content_type, kPrometheusContentType);
      return res;
    }
    if (path == "/healthz") return Text(request, http::status::ok, "ok\n");
    if (path == "/readyz") return Ready(request);
    if (path == "/api/v1/gateway") return Json(request, GatewayJson());
    if (path == "/api/v1/streams") return Json(request, StreamsJson());
    if (path == "/api/v1/sessions") {
      if (!hooks_.sessions) return MissingHook(request, "sessions");
      return Json(request, SessionsJson());
    }
    if (path == "/api/v1/backends") {
      return Json(request, BackendsJson(registry_->Snapshot()));
    }
    // /api/v1/live without an Upgrade header.
    Response res = Text(request, http::status::upgrade_required,
                        "426 upgrade required: /api/v1/live is a WebSocket\n");
    res.set(http::field::upgrade, "websocket");
    return res;
  }
  if (path.starts_with(kStreamsPrefix)) {
    if (method != http::verb::delete_)
      return MethodNotAllowed(request, "DELETE");
    std::string name;
    if (!PercentDecode(path.substr(kStreamsPrefix.size()), name) ||
        name.empty()) {
      return Text(request, http::status::bad_request,
                  "400 bad request: DELETE /api/v1/streams/NAME needs a "
                  "stream name\n");
    }
    return DeleteStream(request, name);
  }
  if (path == "/api/v1/reload") {
    if (method != http::verb::post) return MethodNotAllowed(request, "POST");
    return Reload(request);
  }
  if (path == "/" || path == "/index.html" || path == "/chart.js" ||
      (path.size() > 1 && IsPlainFileName(path.substr(1)) &&
       !ContentTypeOf(path).empty())) {
    if (!get) return MethodNotAllowed(request, "GET");
    if (path == "/chart.js") {
      return ServeFile(request, info_.chartjs_path,
                       "text/javascript; charset=utf-8",
                       "; install Debian's libjs-chart.js or set "
                       "admin.chartjs_path");
    }
    const std::string name =
        path == "/" ? std::string("index.html") : std::string(path.substr(1));
    return ServeFile(request, info_.dashboard_dir + "/" + name,
                     ContentTypeOf(name),
                     "; set admin.dashboard_dir to the dashboard directory");
  }
  return Text(request, http::status::not_found,
              Cat("404 not found: ", path,
                  " (try /metrics, /healthz, /readyz, /api/v1/gateway,"
                  " /api/v1/streams, /api/v1/sessions, "
                  "/api/v1/backends or /)\n"));
}

Response AdminRouter::Ready(const Request& request) {
  std::vector<std::string> reasons;
  if (!hooks_.listeners_up) {
    reasons.push_back("listeners: no listeners_up hook, state unknown");
  } else if (!hooks_.listeners_up()) {
    reasons.push_back("listeners: not accepting");
  }
  Readiness backends = BackendReadiness(registry_->Snapshot(), info_.config);
  for (std::string& r : backends.reasons) reasons.push_back(std::move(r));
  if (reasons.empty()) return Text(request, http::status::ok, "ready\n");
  return Text(request, http::status::service_unavailable,
              Cat("not ready:\n", Join(reasons), "\n"));
}

std::string AdminRouter::GatewayJson() const {
  JsonWriter w;
  w.BeginObject()
      .Key("version")
      .String(info_.version)
      .Key("build_type")
      .String(info_.build_type)
      .Key("uptime_s")
      .Double(UptimeSeconds())
      .Key("config_file")
      .String(info_.config_file)
      .Key("config");
  WriteConfig(w,
              hooks_.running_config ? hooks_.running_config() : info_.config);
  w.EndObject();
  return w.Take();
}

std::string AdminRouter::StreamsJson() {
  JsonWriter w;
  w.BeginObject().Key("streams").BeginArray();
  for (const StreamRow& r : StreamRows(registry_->Snapshot(), sampler_)) {
    WriteStreamRow(w, r);
  }
  w.EndArray().EndObject();
  return w.Take();
}

std::string AdminRouter::SessionsJson() const {
  const std::vector<session::SessionInfo> sessions = hooks_.sessions();
  JsonWriter w;
  w.BeginObject().Key("sessions").BeginArray();
  for (const session::SessionInfo& s : sessions) {
    w.BeginObject()
        .Key("id")
        .Uint(s.id)
        .Key("worker")
        .Int(s.worker)
        .Key("peer")
        .String(s.peer)
        .Key("client_name")
        .String(s.client_name)
        .Key("principal")
        .String(s.principal)
        .Key("subscriptions")
        .BeginArray();
    for (const std::string& p : s.subscriptions) w.String(p);
    w.EndArray()
        .Key("lag_bytes")
        .Uint(s.lag_bytes)
        .Key("bytes_in")
        .Uint(s.bytes_in)
        .Key("bytes_out")
        .Uint(s.bytes_out)
        .Key("connected_unix_ms")
        .Int(s.connected_unix_ms)
        .EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

Response AdminRouter::DeleteStream(const Request& request,
                                   std::string_view name) {
  if (!hooks_.delete_stream) return MissingHook(request, "delete_stream");
  const absl::Status s = hooks_.delete_stream(name);
  JsonWriter w;
  w.BeginObject().Key("stream").String(name);
  if (s.ok()) {
    w.Key("retired").Bool(true).EndObject();
    return Json(request, w.Take());
  }
  w.Key("error").String(std::string(s.message())).EndObject();
  http::status status = http::status::internal_server_error;
  if (absl::IsNotFound(s)) status = http::status::not_found;
  if (absl::IsFailedPrecondition(s)) status = http::status::conflict;
  if (absl::IsInvalidArgument(s)) status = http::status::bad_request;
  return Json(request, w.Take(), status);
}

Response AdminRouter::Reload(const Request& request) {
  if (!hooks_.reload) return MissingHook(request, "reload");
  absl::StatusOr<config::ReloadReport> report = hooks_.reload();
  JsonWriter w;
  w.BeginObject();
  if (!report.ok()) {
    w.Key("error").String(std::string(report.status().message())).EndObject();
    return Json(request, w.Take(),
                absl::IsInvalidArgument(report.status())
                    ? http::status::bad_request
                    : http::status::internal_server_error);
  }
  w.Key("applied").BeginArray();
  for (const std::string& k : report->applied) w.String(k);
  w.EndArray().Key("restart_required").BeginArray();
  for (const std::string& k : report->restart_required) w.String(k);
  w.EndArray().EndObject();
  return Json(request, w.Take());
}

const std::string& AdminRouter::Tick() {
  const std::vector<base::MetricSample> snap = registry_->Snapshot();
  sampler_.Sample(snap, std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count());
  const auto write_percentiles = [](JsonWriter& w, const Buckets& b) {
    const Percentiles p = PercentilesOf(b);
    w.BeginObject()
        .Key("p50_ns")
        .Double(p.p50)
        .Key("p90_ns")
        .Double(p.p90)
        .Key("p99_ns")
        .Double(p.p99)
        .Key("p999_ns")
        .Double(p.p999)
        .Key("count")
        .Uint(p.count)
        .EndObject();
  };
  JsonWriter w;
  const std::int64_t time_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count();
  w.BeginObject()
      .Key("time_ms")
      .Int(time_ms)
      .Key("uptime_s")
      .Double(UptimeSeconds())
      .Key("streams")
      .BeginArray();
  for (const StreamRow& r : StreamRows(snap, sampler_)) WriteStreamRow(w, r);
  w.EndArray();
  std::int64_t sessions_open = 0;
  for (const base::MetricSample& s : snap) {
    if (s.name == session::kSessionsOpen) sessions_open += s.gauge();
  }
  // Drops: PUBLISHes refused (limits, full logs under disconnect), UDP
  // frames the log refused and datagrams the kernel dropped.
  const std::uint64_t publishes_refused =
      SumOf(snap, session::kPublishesRefusedTotal);
  const std::uint64_t udp_refused = SumOf(snap, "tachyon_udp_refused_total");
  const std::uint64_t udp_kernel_drops =
      SumOf(snap, "tachyon_udp_kernel_drops_total");
  w.Key("sessions_open")
      .Int(sessions_open)
      .Key("connections_accepted_total")
      .Uint(SumOf(snap, session::kConnectionsAcceptedTotal))
      .Key("slow_consumers_total")
      .Uint(SumOf(snap, session::kSlowConsumersTotal))
      .Key("drops_total")
      .Uint(publishes_refused + udp_refused + udp_kernel_drops)
      .Key("drops")
      .BeginObject()
      .Key("publishes_refused")
      .Uint(publishes_refused)
      .Key("udp_refused")
      .Uint(udp_refused)
      .Key("udp_kernel_drops")
      .Uint(udp_kernel_drops)
      .EndObject();
  w.Key("latency").BeginObject();
  for (const auto& [name, buckets] : sampler_.Cumulative()) {
    w.Key(name);
    write_percentiles(w, buckets);
  }
  w.EndObject().Key("latency_window").BeginObject();
  for (const auto& [name, buckets] : sampler_.Window()) {
    w.Key(name);
    write_percentiles(w, buckets);
  }
  w.EndObject().Key("backends").BeginArray();
  for (const BackendRow& r : BackendRows(snap)) {
    w.BeginObject()
        .Key("service")
        .String(r.service)
        .Key("endpoint")
        .String(r.endpoint)
        .Key("state")
        .String(EndpointState(r))
        .Key("ready")
        .Int(r.ready)
        .Key("predicted")
        .Int(r.predicted)
        .Key("busy")
        .Int(r.busy)
        .EndObject();
  }
  w.EndArray().EndObject();
  live_json_ = w.Take();
  return live_json_;
}

const std::string& AdminRouter::LiveJson() {
  if (live_json_.empty()) return Tick();
  return live_json_;
}

}  // namespace tachyon::admin
