// tachyon-gateway: loads the configuration (file, then flags), starts the
// workers, prints what it runs with and where it listens, then waits for
// signals:
//   SIGTERM, SIGINT  graceful shutdown (stop accepting, deliver queued data,
//                    LOGOUT, close)
//   SIGHUP           reload the config file it started with (with the same
//                    flags): reloadable keys take effect without dropping a
//                    session, the others are logged as needing a restart; a
//                    file with an error is logged and changes nothing
//   SIGUSR1          log the counters summary now (not fatal)
// and logs a one-line summary every gateway.summary_interval_ms.
#include <signal.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "admin/admin_server.h"
#include "auth/token_hash.h"
#include "backend/backend_counters.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/log_limit.h"
#include "config/diff.h"
#include "config/flags.h"
#include "server/gateway.h"
#include "server/reload.h"

#ifndef TACHYON_VERSION
#define TACHYON_VERSION "unknown"
#endif
#ifndef TACHYON_BUILD_TYPE
#define TACHYON_BUILD_TYPE ""
#endif

namespace {

namespace config = ::tachyon::config;
namespace server = ::tachyon::server;

std::string VersionLine() {
  const absl::string_view type = TACHYON_BUILD_TYPE;
  return absl::StrCat(
      "tachyon-gateway ", TACHYON_VERSION, " (",
      type.empty() ? absl::string_view("no CMAKE_BUILD_TYPE") : type,
      " build)");
}

// The flags --help shows; --helpfull lists every one.
constexpr std::string_view kImportantFlags[] = {"config",
                                                "bind",
                                                "port",
                                                "workers",
                                                "io",
                                                "idle",
                                                "log_level",
                                                "summary_interval_ms",
                                                "max_connections",
                                                "token",
                                                "stream_policy",
                                                "udp_enabled",
                                                "udp_port",
                                                "backend",
                                                "admin_enabled",
                                                "admin_port"};

void PrintHelp() {
  std::printf(
      "Tachyon messaging gateway.\n\n"
      "Usage: tachyon-gateway [--config] FILE [--flag=value ...]\n\n"
      "Every key of the config file has a flag of the same name that\n"
      "overrides it. The most used:\n\n");
  for (std::string_view name : kImportantFlags) {
    const absl::CommandLineFlag* flag =
        absl::FindCommandLineFlag(absl::string_view(name.data(), name.size()));
    if (flag == nullptr) continue;
    std::printf("  --%-22.*s %s\n", static_cast<int>(name.size()), name.data(),
                flag->Help().c_str());
  }
  std::printf(
      "\n  --%-22s %s\n  --%-22s %s\n  --%-22s %s\n  --%-22s %s\n\n"
      "Signals: SIGTERM/SIGINT drain and stop; SIGHUP reloads the config "
      "file;\nSIGUSR1 logs the counters summary.\n",
      "hash-token",
      "read a secret from stdin, print its [[principals]] token_hash, exit",
      "helpfull", "every flag, one per config key", "version",
      "version and build type", "help", "this text");
}

// absl's usage output names the file each flag is defined in; keep the
// part below the source tree (or absl's include tree) so no build path
// shows.
std::string NormalizeFlagFile(absl::string_view path) {
  for (absl::string_view root : {"/src/", "/absl/"}) {
    const std::size_t at = path.rfind(root);
    if (at != absl::string_view::npos) {
      return std::string(path.substr(at + 1));
    }
  }
  const std::size_t slash = path.rfind('/');
  return std::string(slash == absl::string_view::npos ? path
                                                      : path.substr(slash + 1));
}

void ConfigureUsage() {
  absl::SetProgramUsageMessage(
      "Tachyon messaging gateway.\n\n"
      "  tachyon-gateway [--config] FILE [--flag=value ...]\n\n"
      "Every key of the config file has a flag of the same name that\n"
      "overrides it.");
  absl::FlagsUsageConfig usage;
  usage.contains_helpshort_flags = [](absl::string_view file) {
    return absl::StrContains(file, "src/config/flags.cpp");
  };
  usage.contains_help_flags = usage.contains_helpshort_flags;
  usage.normalize_filename = NormalizeFlagFile;
  usage.version_string = [] { return VersionLine() + "\n"; };
  absl::SetFlagsUsageConfig(usage);
}

// ------------------------------------------------------------ banner

void PrintBanner(const server::Gateway& gateway, const config::GatewayConfig& c,
                 const std::string& config_path,
                 const tachyon::admin::AdminServer* admin) {
  std::printf("tachyon-gateway config: %s\n",
              config_path.empty() ? "built-in defaults (no config file)"
                                  : config_path.c_str());
  const std::vector<config::KeyChange> changed =
      config::ChangedKeys(config::GatewayConfig{}, c);
  if (changed.empty()) {
    std::printf("tachyon-gateway settings: all built-in defaults\n");
  } else {
    std::printf("tachyon-gateway settings that differ from the defaults:\n");
    for (const config::KeyChange& k : changed) {
      std::printf("  %s = %s\n", k.key.c_str(), k.value.c_str());
    }
  }
  // Listeners: the TCP line, the UDP line; scripts and tests parse both.
  if (c.tls.enabled && !c.tls.plain) {
    std::printf(
        "tachyon-gateway plain TCP listener off (tls.plain = false; "
        "workers=%d, idle=%s)\n",
        c.workers, std::string(config::IdleStrategyName(c.idle)).c_str());
  } else {
    std::printf("tachyon-gateway listening on %s:%u (workers=%d, idle=%s)\n",
                c.bind.c_str(), gateway.port(), c.workers,
                std::string(config::IdleStrategyName(c.idle)).c_str());
  }
  if (c.tls.enabled) {
    std::printf(
        "tachyon-gateway TLS listening on %s:%u (TLS 1.3%s; kernel "
        "TLS %s)\n",
        c.bind.c_str(), gateway.tls_port(), c.tls.plain ? "" : " only",
        gateway.kernel_tls()
            ? "available, not used"
            : ("unavailable: " + gateway.kernel_tls_reason()).c_str());
  }
  if (c.udp.enabled) {
    std::printf("tachyon-gateway udp datagrams on %s:%u (source id %016llx)\n",
                c.UdpBind().c_str(), gateway.udp_port(),
                static_cast<unsigned long long>(gateway.udp_source_id()));
  }
  if (!gateway.fastpath_description().empty()) {
    std::printf("tachyon-gateway fastpath %s\n",
                gateway.fastpath_description().c_str());
  }
  if (admin != nullptr) {
    const bool v6 = c.admin.bind.find(':') != std::string::npos;
    std::printf("tachyon-gateway admin on http://%s%s%s:%u\n", v6 ? "[" : "",
                c.admin.bind.c_str(), v6 ? "]" : "", admin->port());
  }
  for (std::size_t i = 0; i < gateway.backend_descriptions().size(); ++i) {
    std::printf("  worker %zu: %s\n", i,
                gateway.backend_descriptions()[i].c_str());
  }
  for (const config::BackendService& b : c.backends) {
    std::printf(
        "  backend '%s' (id %u): %zu endpoint(s), pool %d..%d per "
        "worker and endpoint\n",
        b.name.c_str(), b.id, b.endpoints.size(), b.pool_min, b.pool_max);
  }
  std::fflush(stdout);
}

// ------------------------------------------------------------ admin

// The admin plane (src/admin), started once the gateway's listeners are up
// and stopped before the gateway. Its hooks run on the admin thread and
// only take copies (sessions), the registry's mutex (delete) or the
// gateway's reload mutex (reload). Null (after printing why) if it cannot
// start.
std::unique_ptr<tachyon::admin::AdminServer> StartAdmin(
    server::Gateway& gateway, const std::string& config_path) {
  const config::GatewayConfig& c = gateway.config();
  tachyon::admin::AdminHooks hooks;
  hooks.listeners_up = [&gateway] { return gateway.ListenersUp(); };
  hooks.sessions = [&gateway] { return gateway.Sessions(); };
  hooks.running_config = [&gateway] { return gateway.RunningConfig(); };
  hooks.delete_stream = [&gateway](std::string_view name) {
    return gateway.registry().Retire(name);
  };
  hooks.reload = [&gateway]() -> absl::StatusOr<config::ReloadReport> {
    absl::StatusOr<config::ReloadReport> report =
        server::ReloadFromFile(gateway);
    if (report.ok()) {
      TACHYON_LOG(kInfo) << "reload (admin): "
                         << server::DescribeReload(*report);
    } else {
      TACHYON_LOG(kError) << "reload (admin) failed, still running the "
                             "previous configuration: "
                          << report.status().message();
    }
    return report;
  };
  tachyon::admin::AdminInfo info;
  info.config = c;
  info.config_file = config_path;
  info.dashboard_dir = c.admin.dashboard_dir;
  info.chartjs_path = c.admin.chartjs_path;
  auto admin = std::make_unique<tachyon::admin::AdminServer>(
      gateway.counters(), std::move(info), std::move(hooks));
  if (absl::Status s = admin->Start(); !s.ok()) {
    std::fprintf(stderr, "tachyon-gateway: %s\n",
                 std::string(s.message()).c_str());
    return nullptr;
  }
  return admin;
}

// ------------------------------------------------------------ summary

// The counters a summary line reports, read from the registry.
struct Totals {
  std::int64_t at_ns = 0;
  std::uint64_t messages_in = 0;  // TCP publishes and UDP messages appended
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t slow_consumers = 0;
  std::uint64_t drops = 0;  // publishes refused, datagrams the kernel dropped
  std::uint64_t backend_requests = 0;
};

Totals ReadTotals(const server::Gateway& gateway) {
  const server::GatewayStats s = gateway.Stats();
  const tachyon::udp::UdpStats u = gateway.UdpStats();
  Totals t;
  t.at_ns = tachyon::base::MonotonicNs();
  t.messages_in = s.publishes + u.messages_appended;
  t.bytes_in = s.bytes_in;
  t.bytes_out = s.bytes_out;
  t.slow_consumers = s.slow_consumers;
  t.drops = s.publishes_refused + u.kernel_drops;
  t.backend_requests = gateway.counters().Sum(tachyon::backend::kRequestsTotal);
  return t;
}

// One line: gauges now, rates and increments since `last` (then `last`
// becomes now).
void LogSummary(const server::Gateway& gateway, Totals& last,
                std::string_view why) {
  tachyon::base::FlushSuppressed();
  const Totals now = ReadTotals(gateway);
  const server::GatewayStats s = gateway.Stats();
  const double secs =
      std::max<double>(1e-9, static_cast<double>(now.at_ns - last.at_ns) / 1e9);
  auto rate = [secs](std::uint64_t a, std::uint64_t b) {
    return static_cast<double>(a - b) / secs;
  };
  TACHYON_LOG(kInfo) << absl::StrFormat(
      "summary (%s, last %.1fs): sessions=%d streams=%u msgs_in=%.0f/s "
      "bytes_in=%.0f/s bytes_out=%.0f/s slow_consumers=%u (+%u) drops=%u "
      "(+%u) backend_requests=%u (+%u)",
      std::string(why), secs, s.sessions_open, s.streams,
      rate(now.messages_in, last.messages_in),
      rate(now.bytes_in, last.bytes_in), rate(now.bytes_out, last.bytes_out),
      now.slow_consumers, now.slow_consumers - last.slow_consumers, now.drops,
      now.drops - last.drops, now.backend_requests,
      now.backend_requests - last.backend_requests);
  if (gateway.config().fastpath.mode !=
      tachyon::config::FastPathMode::kSocket) {
    // tachyon_fastpath_* (fastpath/fastpath_counters.h), all queues.
    const auto sum = [&gateway](std::string_view name) {
      return static_cast<unsigned long long>(gateway.counters().Sum(name));
    };
    TACHYON_LOG(kInfo) << absl::StrFormat(
        "fastpath: rx_packets=%u tx_packets=%u rx_drops=%u rx_ring_full=%u "
        "fill_empty=%u tx_ring_full=%u tx_no_neighbour=%u",
        sum("tachyon_fastpath_rx_packets_total"),
        sum("tachyon_fastpath_tx_packets_total"),
        sum("tachyon_fastpath_rx_drops_total"),
        sum("tachyon_fastpath_rx_ring_full_total"),
        sum("tachyon_fastpath_fill_empty_total"),
        sum("tachyon_fastpath_tx_ring_full_total"),
        sum("tachyon_fastpath_tx_no_neighbour_total"));
  }
  last = now;
}

// ------------------------------------------------------------ signals

void Reload(server::Gateway& gateway) {
  const std::string path = gateway.reload_source().path;
  TACHYON_LOG(kInfo) << "SIGHUP: reloading "
                     << (path.empty() ? "the built-in defaults" : path);
  absl::StatusOr<tachyon::config::ReloadReport> report =
      server::ReloadFromFile(gateway);
  if (!report.ok()) {
    TACHYON_LOG(kError) << "reload failed, still running the previous "
                           "configuration: "
                        << report.status().message();
    return;
  }
  if (report->restart_required.empty()) {
    TACHYON_LOG(kInfo) << "reload: " << server::DescribeReload(*report);
  } else {
    TACHYON_LOG(kWarn) << "reload: " << server::DescribeReload(*report);
  }
}

// Waits for signals until SIGTERM or SIGINT; logs the summary every
// summary interval (as last reloaded) meanwhile.
int WaitForStop(server::Gateway& gateway, const sigset_t& signals) {
  Totals last = ReadTotals(gateway);
  std::int64_t next_summary_ns = 0;
  std::uint32_t interval_ms = 0;
  for (;;) {
    const std::uint32_t now_interval =
        gateway.RunningConfig().summary_interval_ms;
    const std::int64_t now = tachyon::base::MonotonicNs();
    if (now_interval != interval_ms) {
      interval_ms = now_interval;
      next_summary_ns = now + std::int64_t{interval_ms} * 1'000'000;
    }
    if (interval_ms != 0 && now >= next_summary_ns) {
      LogSummary(gateway, last, "periodic");
      next_summary_ns = now + std::int64_t{interval_ms} * 1'000'000;
    }
    // At most a second: a reload that changes the interval takes effect
    // within one.
    std::int64_t wait_ns = 1'000'000'000;
    if (interval_ms != 0) {
      wait_ns = std::min(
          wait_ns, std::max<std::int64_t>(next_summary_ns - now, 1'000'000));
    }
    const timespec timeout{.tv_sec = wait_ns / 1'000'000'000,
                           .tv_nsec = wait_ns % 1'000'000'000};
    const int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (sig == SIGHUP) {
      Reload(gateway);
    } else if (sig == SIGUSR1) {
      LogSummary(gateway, last, "SIGUSR1");
    } else if (sig == SIGTERM || sig == SIGINT) {
      return sig;
    }
  }
}

int Run() {
  absl::StatusOr<config::GatewayConfig> config = config::LoadFromFlags();
  if (!config.ok()) {
    std::fprintf(stderr, "tachyon-gateway: %s\n",
                 std::string(config.status().message()).c_str());
    return 2;
  }
  // Flags were checked by LoadFromFlags; a reload applies them again.
  server::ReloadSource source{.path = config::ConfigPathFromFlags(),
                              .overrides = *config::FlagOverrides(),
                              .backends = *config::BackendsFromFlags()};
  tachyon::base::LogLevel level;
  if (tachyon::base::ParseLogLevel(config->log_level, &level)) {
    tachyon::base::SetLogLevel(level);
  }

  // Signals are taken synchronously by this thread; workers inherit the
  // blocked mask and never see them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  server::Gateway gateway(*config);
  gateway.SetReloadSource(source);
  if (absl::Status s = gateway.Start(); !s.ok()) {
    std::fprintf(stderr, "tachyon-gateway: failed to start: %s\n",
                 std::string(s.message()).c_str());
    return 1;
  }
  std::unique_ptr<tachyon::admin::AdminServer> admin;
  if (config->admin.enabled) {
    admin = StartAdmin(gateway, source.path);
    if (admin == nullptr) {
      gateway.RequestStop();
      gateway.Wait();
      return 1;
    }
  }
  PrintBanner(gateway, *config, source.path, admin.get());

  const int sig = WaitForStop(gateway, signals);
  TACHYON_LOG(kInfo) << "received " << (sig == SIGTERM ? "SIGTERM" : "SIGINT")
                     << ": draining and closing sessions";
  // The admin plane stays up through the drain, so /readyz answers 503 and
  // /metrics still serves while the sessions close; it stops last.
  gateway.RequestStop();
  gateway.Wait();
  if (admin != nullptr) admin->Stop();
  const server::GatewayStats st = gateway.Stats();
  TACHYON_LOG(kInfo) << "stopped: " << st.connections_accepted
                     << " connections, " << st.publishes << " publishes, "
                     << st.streams << " streams, " << st.malformed_frames
                     << " malformed frames, " << st.slow_consumers
                     << " slow consumers";
  if (config->udp.enabled) {
    const tachyon::udp::UdpStats u = gateway.UdpStats();
    TACHYON_LOG(kInfo) << "udp: " << u.datagrams_received << " datagrams in, "
                       << u.messages_appended << " messages appended, "
                       << u.malformed_total() << " malformed, " << u.duplicates
                       << " duplicates, " << u.kernel_drops << " kernel drops; "
                       << u.datagrams_sent << " datagrams out";
  }
  for (const config::BackendService& b : config->backends) {
    TACHYON_LOG(kInfo) << "backend '" << b.name << "': "
                       << tachyon::backend::DescribeService(gateway.counters(),
                                                            b.name);
  }
  return 0;
}

// --hash-token: the secret comes from stdin (never argv, which ps shows);
// one trailing newline is dropped. Prints the token_hash line.
int HashTokenFromStdin() {
  const bool tty = ::isatty(STDIN_FILENO) == 1;
  termios saved{};
  if (tty && ::tcgetattr(STDIN_FILENO, &saved) == 0) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::fprintf(stderr, "secret (not echoed), then Enter: ");
  }
  std::string secret;
  if (tty) {
    std::getline(std::cin, secret);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::fprintf(stderr, "\n");
  } else {
    secret.assign(std::istreambuf_iterator<char>(std::cin),
                  std::istreambuf_iterator<char>());
    if (secret.ends_with('\n')) secret.pop_back();
    if (secret.ends_with('\r')) secret.pop_back();
  }
  if (secret.empty()) {
    std::fprintf(stderr,
                 "tachyon-gateway: --hash-token: no secret on stdin (e.g. "
                 "openssl rand -base64 32 | tachyon-gateway --hash-token)\n");
    return 2;
  }
  if (secret.size() > 200) {
    // LOGON's token field holds 255 bytes: "name:" plus the secret.
    std::fprintf(stderr,
                 "tachyon-gateway: --hash-token: the secret is %zu bytes; at "
                 "most 200, so that \"name:secret\" fits LOGON's 255-byte "
                 "token\n",
                 secret.size());
    return 2;
  }
  std::printf("%s\n", tachyon::auth::HashToken(secret).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ConfigureUsage();
  const std::span<char* const> args(argv + 1,
                                    static_cast<std::size_t>(argc - 1));
  for (const char* arg : args) {
    const std::string_view a(arg);
    if (a == "--") break;
    // absl's --help would list only the flags of files named like the
    // program ("No flags matched"): the important ones, by hand.
    if (a == "--help" || a == "-help" || a == "-h") {
      PrintHelp();
      return 0;
    }
    if (a == "--hash-token" || a == "--hash_token") {
      if (args.size() != 1) {
        std::fprintf(stderr,
                     "tachyon-gateway: --hash-token takes no other argument "
                     "(the secret is read from stdin)\n");
        return 2;
      }
      return HashTokenFromStdin();
    }
  }
  if (absl::Status s = config::CheckFlagNames(args); !s.ok()) {
    std::fprintf(stderr, "tachyon-gateway: %s\n(--help lists the flags)\n",
                 std::string(s.message()).c_str());
    return 2;
  }
  const std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  // `tachyon-gateway FILE` means `--config FILE`; anything else left over
  // is a mistake, never silently ignored.
  if (rest.size() > 2 ||
      (rest.size() == 2 && absl::GetFlag(FLAGS_config).has_value())) {
    std::fprintf(stderr,
                 "tachyon-gateway: unexpected argument '%s': give the config "
                 "file once, as --config FILE or as the only argument\n",
                 rest.back());
    return 2;
  }
  if (rest.size() == 2) absl::SetFlag(&FLAGS_config, std::string(rest[1]));
  return Run();
}
