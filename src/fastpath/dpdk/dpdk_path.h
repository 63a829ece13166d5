// OpenDpdk: the DPDK fast path ([fastpath] mode = "dpdk"), a FastPath whose
// queues are DpdkDatagramIo.
//
// Overview
//   Starts DPDK's EAL inside the gateway process with {"tachyon-gateway",
//   fastpath.eal_args...}; when eal_args name no device and
//   fastpath.interface is set, `--vdev net_af_packet0,iface=<interface>` is
//   added. The port is the one the first --vdev names, else the first port
//   DPDK found (a PCI device bound to vfio-pci, say). It gets
//   fastpath.queues RX/TX queue pairs with rx_ring/tx_ring descriptors, one
//   mbuf pool of fastpath.frames mbufs per queue, and IPv4 + UDP checksum TX
//   offload when the port offers both (software checksums otherwise).
//
//   The port is ours alone: the gateway owns fastpath.address on it (required,
//   with prefix_len and an optional gateway), answers ARP for it, learns its
//   neighbours from ARP (and fastpath.neighbours), and takes IPv4 UDP to
//   address:port. Everything else - other ports, ICMP, TCP, IPv6 - is dropped
//   and counted (tachyon_fastpath_rx_drops_total{path="dpdk",reason=...}),
//   never handed to the kernel: a gateway port carries only its datagrams,
//   and a tap exception path would put a kernel round trip and a second
//   copy of the stack's state beside a path meant to avoid both. Keep
//   management traffic (SSH, ping) on another interface. With net_af_packet
//   the kernel still sees the interface's traffic and answers too: take
//   the address off that interface (the gateway's address lives here).
//
//   In dpdk mode the workers busy-poll their queue (readiness_fd() is -1), so
//   each worker with a queue keeps a CPU busy.
//
//   Running DPDK in the gateway process: the EAL starts once per process
//   (a later Open must pass the same EAL arguments apart from --vdev
//   devices, which are probed then); it starts threads of its own (an
//   interrupt thread, a multi-process channel unless --no-shconf or
//   --in-memory, telemetry unless --no-telemetry, one idle thread per extra
//   lcore); without -l/-c/--lcores we pass `-l <a CPU we may run on>` and
//   restore the calling thread's CPU mask afterwards, because rte_eal_init
//   pins it. It installs no signal handlers. Memory: hugepages unless
//   --no-huge (then -m MiB of anonymous memory; 64 is enough for 4096 mbufs
//   per queue), files under /var/run/dpdk/<file-prefix> (removed at exit).
//   fastpath.frames (mbufs per queue) must be at least rx_ring + tx_ring +
//   config::kDpdkPoolBurstSlack: the pool fills the RX descriptors, the TX
//   descriptors in flight and the bursts a queue holds. net_af_xdp uses
//   the pool's memory as its UMEM; without hugepages each mbuf then takes
//   a whole 4 KiB page (frames * 4 KiB per queue), because the kernel
//   refuses a frame that crosses a page and the mbuf would be lost.
//
// Threading: OpenDpdk and the FastPath on the control thread; each queue on
// the worker that took it. The port is stopped and closed (and a vdev
// removed, and with net_af_xdp our XDP program detached) when the FastPath
// and every queue it gave out are gone. A later OpenDpdk in the same
// process probes a vdev afresh (a new interface of the same name is fine),
// except that DPDK 22.11's net_af_xdp cannot bind the same interface queue
// twice in one process (it never releases its first socket's UMEM): restart
// the process for that, as for a PCI port, which is not probed again once
// closed. Only one FastPath may hold a port at a time.
//
// Example
//   absl::StatusOr<std::unique_ptr<fastpath::FastPath>> fp =
//       fastpath::OpenDpdk(config, 7600, registry);
//   if (!fp.ok()) return fp.status();   // says what to do
//   std::unique_ptr<io::DatagramIo> q0 = (*fp)->TakeQueue(0);
#ifndef TACHYON_FASTPATH_DPDK_DPDK_PATH_H_
#define TACHYON_FASTPATH_DPDK_DPDK_PATH_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "base/counters.h"
#include "config/model.h"
#include "fastpath/fastpath.h"

namespace tachyon::fastpath {

/// Opens config.fastpath as a DPDK port for UDP datagrams to `port`.
/// InvalidArgument for a missing or bad address, gateway or neighbour;
/// Unavailable/FailedPrecondition when DPDK cannot start or the port cannot
/// be set up, naming what to do.
absl::StatusOr<std::unique_ptr<FastPath>> OpenDpdk(
    const config::GatewayConfig& config, std::uint16_t port,
    base::CounterRegistry& counters);

/// Seconds the first rte_eal_init of this process took (0 before).
double DpdkEalInitSeconds();

}  // namespace tachyon::fastpath

#endif  // TACHYON_FASTPATH_DPDK_DPDK_PATH_H_
