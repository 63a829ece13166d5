// tachyon-gateway: loads the configuration (file, then flags), starts the
// workers, prints where it listens, and shuts down gracefully on SIGTERM or
// SIGINT (stop accepting, deliver queued data, LOGOUT, close).
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "base/log.h"
#include "config/flags.h"
#include "server/gateway.h"

namespace {

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
  for (std::size_t i = 0; i < gateway.backend_descriptions().size(); ++i) {
    std::printf("  worker %zu: %s\n", i,
                gateway.backend_descriptions()[i].c_str());
  }
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  TACHYON_LOG(kInfo) << "received " << (sig == SIGTERM ? "SIGTERM" : "SIGINT")
                     << ": draining and closing sessions";
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
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Tachyon messaging gateway.\n\n"
      "  tachyon-gateway --config config/gateway.toml [--flag=value ...]\n\n"
      "Every key of the config file has a flag of the same name that\n"
      "overrides it; see --helpfull.");
  absl::ParseCommandLine(argc, argv);
  return Run();
}
