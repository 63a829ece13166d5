// FastPath::Open: the mode's implementation, after the prerequisites every
// kernel-bypass path shares (fastpath/prerequisites.h). The implementations
// are optional parts of the build: TACHYON_HAVE_AF_XDP when libxdp, libbpf
// and a BPF-capable clang were found, TACHYON_HAVE_DPDK when libdpdk was.
#include "fastpath/fastpath.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "fastpath/prerequisites.h"

#if TACHYON_HAVE_AF_XDP
#include "fastpath/af_xdp/af_xdp_path.h"
#endif
#if TACHYON_HAVE_DPDK
#include "fastpath/dpdk/dpdk_path.h"
#endif

namespace tachyon::fastpath {

bool HaveDpdk() { return TACHYON_HAVE_DPDK != 0; }

bool HaveAfXdp() { return TACHYON_HAVE_AF_XDP != 0; }

absl::StatusOr<std::unique_ptr<FastPath>> FastPath::Open(
    const config::GatewayConfig& config, std::uint16_t port,
    base::CounterRegistry& counters) {
  const config::FastPathOptions& options = config.fastpath;
  if (options.mode == config::FastPathMode::kSocket) {
    return absl::FailedPreconditionError(
        "fastpath: mode = \"socket\" has no fast path to open");
  }
  if (options.mode == config::FastPathMode::kAfXdp && !HaveAfXdp()) {
    return absl::FailedPreconditionError(
        "fastpath: mode = \"af_xdp\", but this build has no AF_XDP path: "
        "install libxdp-dev, libbpf-dev, clang and gcc-multilib, then "
        "reconfigure and rebuild (cmake -S . -B build ...), or use mode = "
        "\"socket\"");
  }
  if (options.mode == config::FastPathMode::kDpdk && !HaveDpdk()) {
    return absl::FailedPreconditionError(
        "fastpath: mode = \"dpdk\", but this build has no DPDK path: install "
        "libdpdk-dev (pkg-config libdpdk), then reconfigure and rebuild "
        "(cmake -S . -B build ...), or use mode = \"af_xdp\" or \"socket\"");
  }
  absl::StatusOr<HostFacts> facts = ReadHostFacts(options);
  if (!facts.ok()) return facts.status();
  if (absl::Status s = CheckPrerequisites(options, *facts); !s.ok()) return s;
  if (port == 0) {
    return absl::InvalidArgumentError(
        "fastpath: no UDP port to serve (the [udp] port is bound first)");
  }
#if TACHYON_HAVE_AF_XDP
  if (options.mode == config::FastPathMode::kAfXdp) {
    return af_xdp::OpenAfXdp(config, port, counters);
  }
#endif
#if TACHYON_HAVE_DPDK
  if (options.mode == config::FastPathMode::kDpdk) {
    return OpenDpdk(config, port, counters);
  }
#endif
  static_cast<void>(counters);
  return absl::InternalError("fastpath: unreachable mode");
}

}  // namespace tachyon::fastpath
