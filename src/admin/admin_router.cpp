#include "admin/admin_router.h"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
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
}

double AdminRouter::UptimeSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       start_)
      .count();
}

bool AdminRouter::Authorized(const Request& request) const {
  const std::string& token = info_.config.admin.token;
  if (token.empty()) return true;
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

Response AdminRouter::Unauthorized(const Request& request) const {
  Response res =
      Text(request, http::status::unauthorized,
           "401 unauthorized: send 'Authorization: Bearer <admin.token>'\n");
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
  if (!Authorized(request)) return Unauthorized(request);
  const std::string_view target(request.target().data(),
                                request.target().size());
  if (target.empty() || target.front() != '/') {
    return Text(request, http::status::bad_request,
                "400 bad request: the target must be a path starting with /\n");
  }
  const std::string_view path = target.substr(0, target.find('?'));
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
