// Fast-path prerequisites: the privileges, limits and interface a
// kernel-bypass path needs, checked before anything is opened so that each
// missing one is a start-up error that names it and what to do.
//
// Overview
//   ReadHostFacts() gathers what the host grants this process (effective
//   uid, the effective capability set from capget(2), RLIMIT_MEMLOCK, and
//   the interface's index and MTU); CheckPrerequisites() decides from those
//   facts alone, so every rule is unit-tested with injected facts. The
//   rules (README, "Kernel bypass"):
//
//   af_xdp  CAP_NET_ADMIN (attach XDP), CAP_BPF or CAP_SYS_ADMIN (load the
//           program and its map), CAP_NET_RAW (AF_XDP sockets); locked
//           memory for the UMEM, frames * frame_size * queues, within
//           RLIMIT_MEMLOCK unless CAP_IPC_LOCK lifts the limit; the
//           interface present; native XDP: MTU at most kMaxNativeXdpMtu.
//   dpdk    CAP_NET_ADMIN and CAP_NET_RAW (the af_packet / af_xdp vdevs,
//           PCI devices through vfio), plus CAP_BPF for an af_xdp vdev;
//           none for net_ring / net_null vdevs (tests). An interface named
//           in fastpath.interface must exist.
//
// Example
//   absl::StatusOr<HostFacts> facts = ReadHostFacts(config.fastpath);
//   if (!facts.ok()) return facts.status();
//   if (absl::Status s = CheckPrerequisites(config.fastpath, *facts);
//       !s.ok()) return s;  // e.g. "fastpath: the UMEM needs 16 MiB ..."
//
// Threading: pure functions; ReadHostFacts reads process-wide state.
#ifndef TACHYON_FASTPATH_PREREQUISITES_H_
#define TACHYON_FASTPATH_PREREQUISITES_H_

#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "config/model.h"

namespace tachyon::fastpath {

/// Capability numbers (linux/capability.h; CAP_BPF is newer than some
/// headers).
inline constexpr int kCapNetAdmin = 12;
inline constexpr int kCapNetRaw = 13;
inline constexpr int kCapIpcLock = 14;
inline constexpr int kCapSysAdmin = 21;
inline constexpr int kCapBpf = 39;

/// The largest MTU native (driver) XDP takes without multi-buffer support:
/// a frame must fit one page with XDP's headroom and the skb tail (veth and
/// most drivers: 3498).
inline constexpr int kMaxNativeXdpMtu = 3498;

/// What the host grants this process.
struct HostFacts {
  std::uint32_t euid = 0;
  /// Effective capability set, bit n = capability n.
  std::uint64_t effective_caps = 0;
  /// RLIMIT_MEMLOCK (soft); max() for unlimited.
  std::uint64_t memlock_limit = std::numeric_limits<std::uint64_t>::max();
  /// fastpath.interface: 0 if it does not exist (or none is named).
  unsigned interface_index = 0;
  int interface_mtu = 0;  ///< 0: unknown

  [[nodiscard]] bool Has(int cap) const { return (effective_caps >> cap) & 1u; }
};

/// Reads the facts for `options` (the interface it names, if any). Fails
/// only if capget(2) or getrlimit(2) fail.
absl::StatusOr<HostFacts> ReadHostFacts(const config::FastPathOptions& options);

/// Locked memory the UMEM of `options` takes: frames * frame_size * queues.
std::uint64_t UmemBytes(const config::FastPathOptions& options);

/// OK if `facts` meet what `options` needs (mode af_xdp or dpdk; socket
/// needs nothing). Otherwise PermissionDenied (privileges, capabilities),
/// ResourceExhausted (locked memory), NotFound (the interface) or
/// FailedPrecondition (MTU), each naming what is missing and what to do.
/// Every problem is listed, one per line.
absl::Status CheckPrerequisites(const config::FastPathOptions& options,
                                const HostFacts& facts);

}  // namespace tachyon::fastpath

#endif  // TACHYON_FASTPATH_PREREQUISITES_H_
