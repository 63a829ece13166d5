// tachyon-gateway: loads the configuration (file, then flags), starts the
// workers, prints where it listens, and shuts down gracefully on SIGTERM or
// SIGINT (stop accepting, deliver queued data, LOGOUT, close).
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "admin/admin_server.h"
#include "backend/backend_counters.h"
#include "base/log.h"
#include "config/flags.h"
#include "server/gateway.h"

namespace {

// The admin plane (src/admin), started once the gateway's listeners are up
// and stopped before the gateway. Hooks the gateway does not provide yet
// (sessions, delete_stream, reload) stay unset and answer 501 naming
// themselves. Null (after printing why) if it cannot start.
std::unique_ptr<tachyon::admin::AdminServer> StartAdmin(
    tachyon::server::Gateway& gateway, const std::string& config_path) {
  const tachyon::config::GatewayConfig& config = gateway.config();
  tachyon::admin::AdminHooks hooks;
  hooks.listeners_up = [&gateway] { return gateway.port() != 0; };
  tachyon::admin::AdminInfo info;
  info.config = config;
  info.config_file = config_path;
  info.dashboard_dir = config.admin.dashboard_dir;
  info.chartjs_path = config.admin.chartjs_path;
  auto admin = std::make_unique<tachyon::admin::AdminServer>(
      gateway.counters(), std::move(info), std::move(hooks));
  if (absl::Status s = admin->Start(); !s.ok()) {
    std::fprintf(stderr, "tachyon-gateway: %s\n",
                 std::string(s.message()).c_str());
    return nullptr;
  }
  const bool v6 = config.admin.bind.find(':') != std::string::npos;
  std::printf("tachyon-gateway admin on http://%s%s%s:%u\n", v6 ? "[" : "",
              config.admin.bind.c_str(), v6 ? "]" : "", admin->port());
  return admin;
}

int Run() {
  absl::StatusOr<tachyon::config::GatewayConfig> config =
      tachyon::config::LoadFromFlags();
  if (!config.ok()) {
    std::fprintf(stderr, "tachyon-gateway: %s\n",
                 std::string(config.status().message()).c_str());
    return 2;
  }
  tachyon::base::LogLevel level;
  if (tachyon::base::ParseLogLevel(config->log_level, &level)) {
    tachyon::base::SetLogLevel(level);
  }

  // Signals are taken synchronously by this thread; workers inherit the
  // blocked mask and never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  tachyon::server::Gateway gateway(*config);
  if (absl::Status s = gateway.Start(); !s.ok()) {
    std::fprintf(stderr, "tachyon-gateway: failed to start: %s\n",
                 std::string(s.message()).c_str());
    return 1;
  }
  const std::string config_path = tachyon::config::ConfigPathFromFlags();
  std::printf("tachyon-gateway config: %s\n",
              config_path.empty() ? "built-in defaults (no config file)"
                                  : config_path.c_str());
  std::printf(
      "tachyon-gateway listening on %s:%u (workers=%d, idle=%s)\n",
      config->bind.c_str(), gateway.port(), config->workers,
      std::string(tachyon::config::IdleStrategyName(config->idle)).c_str());
  if (config->udp.enabled) {
    // Printed like the TCP line so scripts and tests can parse the port.
    std::printf("tachyon-gateway udp datagrams on %s:%u (source id %016llx)\n",
                config->UdpBind().c_str(), gateway.udp_port(),
                static_cast<unsigned long long>(gateway.udp_source_id()));
  }
  std::unique_ptr<tachyon::admin::AdminServer> admin;
  if (config->admin.enabled) {
    admin = StartAdmin(gateway, config_path);
    if (admin == nullptr) {
      gateway.RequestStop();
      gateway.Wait();
      return 1;
    }
  }
  for (std::size_t i = 0; i < gateway.backend_descriptions().size(); ++i) {
    std::printf("  worker %zu: %s\n", i,
                gateway.backend_descriptions()[i].c_str());
  }
  for (const tachyon::config::BackendService& b : config->backends) {
    std::printf(
        "  backend '%s' (id %u): %zu endpoint(s), pool %d..%d per "
        "worker and endpoint\n",
        b.name.c_str(), b.id, b.endpoints.size(), b.pool_min, b.pool_max);
  }
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  TACHYON_LOG(kInfo) << "received " << (sig == SIGTERM ? "SIGTERM" : "SIGINT")
                     << ": draining and closing sessions";
  if (admin != nullptr) admin->Stop();
  gateway.RequestStop();
  gateway.Wait();
  const tachyon::server::GatewayStats st = gateway.Stats();
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
  for (const tachyon::config::BackendService& b : config->backends) {
    TACHYON_LOG(kInfo) << "backend '" << b.name << "': "
                       << tachyon::backend::DescribeService(gateway.counters(),
                                                            b.name);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Tachyon messaging gateway.\n\n"
      "  tachyon-gateway --config config/gateway.toml [--flag=value ...]\n\n"
      "Every key of the config file has a flag of the same name that\n"
      "overrides it; see --helpfull.");
  const std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  // `tachyon-gateway FILE` means `--config FILE`; anything else left over
  // is a mistake, never silently ignored.
  if (args.size() > 2 ||
      (args.size() == 2 && absl::GetFlag(FLAGS_config).has_value())) {
    std::fprintf(stderr,
                 "tachyon-gateway: unexpected argument '%s': give the config "
                 "file once, as --config FILE or as the only argument\n",
                 args.back());
    return 2;
  }
  if (args.size() == 2) absl::SetFlag(&FLAGS_config, std::string(args[1]));
  return Run();
}
