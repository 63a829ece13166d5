// tachyon-stat: a terminal view of a running gateway's counters, from its
// admin plane's /metrics, refreshed every --interval_ms (like AeronStat or
// `nats top`). `--once` prints one view (rates over one interval) and
// exits; `--json` prints it as JSON for scripts.
//
//   tachyon-stat                               live table, Ctrl-C to quit
//   tachyon-stat --admin=127.0.0.1:7480 --once --json
//
// Exit codes: 0 success, 1 the admin plane could not be read, 2 usage.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "stat_metrics.h"
#include "stat_view.h"

ABSL_FLAG(std::string, admin, "127.0.0.1:7480",
          "The gateway's admin plane: HOST:PORT or http://HOST:PORT.");
ABSL_FLAG(std::string, token, "",
          "Bearer token, if the admin plane requires one.");
ABSL_FLAG(int, interval_ms, 1000,
          "Refresh interval in ms; rates are measured over it (100..60000).");
ABSL_FLAG(bool, once, false,
          "Print one view (two scrapes --interval_ms apart) and exit.");
ABSL_FLAG(bool, json, false, "Print JSON instead of a table.");
ABSL_FLAG(int, count, 0, "Exit after this many views (0: until Ctrl-C).");
ABSL_FLAG(int, timeout_ms, 5000, "Timeout for each scrape, in ms.");

namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// Debian's Abseil has its own string_view type.
absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }
std::string_view SV(absl::string_view s) { return {s.data(), s.size()}; }

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

[[noreturn]] void Die(std::string_view message, int code) {
  std::fprintf(stderr, "tachyon-stat: %.*s\n", static_cast<int>(message.size()),
               message.data());
  std::exit(code);
}

struct AdminAddress {
  std::string host;
  std::string port;
};

std::optional<AdminAddress> ParseAdmin(std::string_view s) {
  if (s.starts_with("http://")) s.remove_prefix(7);
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  const std::size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  if (!absl::SimpleAtoi(AV(s.substr(colon + 1)), &port) || port < 1 ||
      port > 65535) {
    return std::nullopt;
  }
  return AdminAddress{std::string(host), std::to_string(port)};
}

// GET `target` from the admin plane, bounded by `timeout` as a whole.
absl::StatusOr<std::string> HttpGet(const AdminAddress& admin,
                                    std::string_view target,
                                    const std::string& token,
                                    std::chrono::milliseconds timeout) {
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;
  http::request<http::empty_body> req{
      http::verb::get, beast::string_view(target.data(), target.size()), 11};
  req.set(http::field::host, admin.host);
  req.set(http::field::user_agent, "tachyon-stat");
  if (!token.empty()) {
    req.set(http::field::authorization, absl::StrCat("Bearer ", token));
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  beast::error_code failure;
  std::string step = "resolve";

  auto fail = [&](std::string_view what, beast::error_code ec) {
    failure = ec;
    step = std::string(what);
  };
  resolver.async_resolve(
      admin.host, admin.port,
      [&](beast::error_code ec, const tcp::resolver::results_type& results) {
        if (ec) return fail("resolve", ec);
        stream.expires_after(timeout);
        stream.async_connect(
            results, [&](beast::error_code ec2, const tcp::endpoint&) {
              if (ec2) return fail("connect", ec2);
              http::async_write(
                  stream, req, [&](beast::error_code ec3, std::size_t) {
                    if (ec3) return fail("send", ec3);
                    http::async_read(stream, buffer, parser,
                                     [&](beast::error_code ec4, std::size_t) {
                                       if (ec4) return fail("read", ec4);
                                       step.clear();
                                     });
                  });
            });
      });
  ioc.run();
  if (!step.empty()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot read http://", admin.host, ":", admin.port, std::string(target),
        " (", step, ": ",
        failure ? failure.message() : std::string("timed out"),
        "); is the gateway's admin plane enabled on that address?"));
  }
  const http::response<http::string_body>& res = parser.get();
  if (res.result() != http::status::ok) {
    std::string body = res.body().substr(0, 200);
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) {
      body.pop_back();
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "GET ", std::string(target), " answered ", res.result_int(), " ",
        std::string(res.reason()), body.empty() ? "" : ": ", body));
  }
  return res.body();
}

absl::StatusOr<tachyon::tools::Scrape> ScrapeOnce(
    const AdminAddress& admin, const std::string& token,
    std::chrono::milliseconds timeout) {
  absl::StatusOr<std::string> body = HttpGet(admin, "/metrics", token, timeout);
  if (!body.ok()) return body.status();
  absl::StatusOr<tachyon::tools::Scrape> scrape =
      tachyon::tools::ParseMetricsText(*body);
  if (!scrape.ok()) {
    return absl::DataLossError(absl::StrCat("/metrics is not Prometheus text: ",
                                            scrape.status().message()));
  }
  return scrape;
}

// Sleeps up to `d`, waking early on Ctrl-C. False if stopped.
bool SleepFor(std::chrono::milliseconds d) {
  const auto end = std::chrono::steady_clock::now() + d;
  while (!g_stop.load()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= end) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        end - now, std::chrono::milliseconds(50)));
  }
  return false;
}

int Run() {
  const std::optional<AdminAddress> admin =
      ParseAdmin(absl::GetFlag(FLAGS_admin));
  if (!admin) {
    Die(absl::StrCat("--admin: expected HOST:PORT or http://HOST:PORT, got '",
                     absl::GetFlag(FLAGS_admin), "'"),
        kExitUsage);
  }
  const int interval_ms = absl::GetFlag(FLAGS_interval_ms);
  if (interval_ms < 100 || interval_ms > 60000) {
    Die(absl::StrCat("--interval_ms: ", interval_ms, " is outside 100..60000"),
        kExitUsage);
  }
  const int timeout_ms = absl::GetFlag(FLAGS_timeout_ms);
  if (timeout_ms < 1) Die("--timeout_ms must be at least 1", kExitUsage);
  const std::chrono::milliseconds interval(interval_ms);
  const std::chrono::milliseconds timeout(timeout_ms);
  const std::string token = absl::GetFlag(FLAGS_token);
  const bool json = absl::GetFlag(FLAGS_json);
  const bool once = absl::GetFlag(FLAGS_once);
  const int count = once ? 1 : absl::GetFlag(FLAGS_count);
  const bool clear = !json && !once && isatty(STDOUT_FILENO);

  absl::StatusOr<tachyon::tools::Scrape> before =
      ScrapeOnce(*admin, token, timeout);
  if (!before.ok()) Die(SV(before.status().message()), kExitError);
  auto taken = std::chrono::steady_clock::now();
  for (int shown = 0; count == 0 || shown < count; ++shown) {
    if (!SleepFor(interval)) break;
    absl::StatusOr<tachyon::tools::Scrape> after =
        ScrapeOnce(*admin, token, timeout);
    if (!after.ok()) Die(SV(after.status().message()), kExitError);
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - taken).count();
    const tachyon::tools::StatView view =
        tachyon::tools::BuildStatView(*before, *after, seconds);
    std::string out = json ? tachyon::tools::RenderStatJson(view) + "\n"
                           : tachyon::tools::RenderStatText(view);
    if (clear) out.insert(0, "\x1b[H\x1b[2J");
    if (!json && !clear && shown > 0) out.insert(0, "\n");
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    before = std::move(after);
    taken = now;
  }
  return 0;
}

// --help / -h: this tool's flags with their defaults, on stdout, exit 0.
void PrintHelp() {
  std::printf("%s\n\nFlags:\n",
              std::string(absl::ProgramUsageMessage()).c_str());
  for (const char* name : {"admin", "token", "interval_ms", "once", "json",
                           "count", "timeout_ms"}) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) continue;
    std::printf("  --%s (default: %s)\n      %s\n", name,
                flag->DefaultValue().c_str(), flag->Help().c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "tachyon-stat: shows a running gateway's counters from its admin "
      "plane.\n"
      "  tachyon-stat                       live table (Ctrl-C to quit)\n"
      "  tachyon-stat --once --json         one view as JSON, for scripts");
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h" || a == "--helpfull" || a == "-help") {
      PrintHelp();
      return 0;
    }
  }
  const std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() > 1) {
    Die(absl::StrCat("unexpected argument '", args[1],
                     "' (the admin address goes in --admin)"),
        kExitUsage);
  }
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  return Run();
}
