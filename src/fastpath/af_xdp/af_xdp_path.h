// AfXdpPath: the AF_XDP fast path of one interface, as FastPath::Open makes
// it for [fastpath] mode = "af_xdp": the XDP program (xdp_program.h) plus
// one AfXdpDatagramIo per configured queue (af_xdp_io.h).
//
// Overview
//   OpenAfXdp reads the interface's MAC, IPv4 address and subnet and the
//   default route through it, attaches the program for `port` in the
//   configured XDP mode (replacing a stale program of ours, refusing anyone
//   else's), then binds sockets to queues start_queue .. start_queue +
//   queues - 1. Worker i takes queue i. Destroying the path (after the
//   workers and their queues are gone) detaches the program.
//
//   Addresses: datagrams are accepted for fastpath.address, else the [udp]
//   bind address (or [gateway] bind) when it is neither 0.0.0.0 nor
//   loopback, else for any address; they are sent from that address, or
//   from the interface's first IPv4 address.
//
// Threading: OpenAfXdp, TakeQueue, Describe and the destructor on the
// control thread; each queue's DatagramIo on the worker that took it.
//
// Example
//   auto path = fastpath::af_xdp::OpenAfXdp(config, 7401, registry);
//   if (!path.ok()) return path.status();   // names what to fix
//   TACHYON_LOG(kInfo) << (*path)->Describe();
//   std::unique_ptr<io::DatagramIo> q0 = (*path)->TakeQueue(0);
#ifndef TACHYON_FASTPATH_AF_XDP_AF_XDP_PATH_H_
#define TACHYON_FASTPATH_AF_XDP_AF_XDP_PATH_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "base/counters.h"
#include "config/model.h"
#include "fastpath/fastpath.h"

namespace tachyon::fastpath::af_xdp {

/// Opens config.fastpath (mode af_xdp) for UDP datagrams to `port`.
/// `counters` must outlive the path and its queues.
absl::StatusOr<std::unique_ptr<FastPath>> OpenAfXdp(
    const config::GatewayConfig& config, std::uint16_t port,
    base::CounterRegistry& counters);

}  // namespace tachyon::fastpath::af_xdp

#endif  // TACHYON_FASTPATH_AF_XDP_AF_XDP_PATH_H_
