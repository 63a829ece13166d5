// The DPDK EAL, started once per process (internal to the DPDK path).
//
// rte_eal_init may run only once in a process (a second call fails with
// EALREADY, and rte_eal_cleanup does not make a restart possible in 22.11).
// StartEal therefore starts it on the first call and, on later calls, accepts
// the same arguments apart from the devices: each `--vdev` that has no port
// yet is probed then (hot-plug), so a gateway that closes its fast path and
// opens it again, or a test binary that opens several times, works. Other
// differences are an error naming the running arguments. At exit the
// process that started the EAL calls rte_eal_cleanup and removes its runtime
// directory (/var/run/dpdk/<file-prefix>), which the EAL leaves behind.
//
// Threading: any thread, serialised by a mutex (the control path).
#ifndef TACHYON_FASTPATH_DPDK_DPDK_EAL_H_
#define TACHYON_FASTPATH_DPDK_DPDK_EAL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tachyon::fastpath::dpdk_internal {

struct EalStarted {
  bool now = false;         ///< this call started the EAL
  double init_seconds = 0;  ///< rte_eal_init's duration (when `now`)
};

/// Starts the EAL with {"tachyon-gateway", args...} or checks that the
/// running one was started with the same non-device arguments, then makes
/// sure every `--vdev` of `args` has a port. Errors say what to do.
absl::StatusOr<EalStarted> StartEal(const std::vector<std::string>& args);

/// The device arguments of every `--vdev X` / `--vdev=X` in `args`.
std::vector<std::string> VdevArgs(const std::vector<std::string>& args);

/// True if `args` name a device (`--vdev`, `-a`/`--allow`).
bool NamesDevice(const std::vector<std::string>& args);

/// The device name of a vdev argument: "net_ring0" of "net_ring0,x=y".
std::string VdevName(const std::string& vdev_arg);

/// Removes vdev `name` (after its port is closed) so a later StartEal probes
/// it afresh (the interface it names may be a new one). Errors are returned
/// for the log; nothing depends on them.
absl::Status RemoveVdev(const std::string& name);

}  // namespace tachyon::fastpath::dpdk_internal

#endif  // TACHYON_FASTPATH_DPDK_DPDK_EAL_H_
