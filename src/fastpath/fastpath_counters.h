// FastPathCounters: what one kernel-bypass queue (an AF_XDP socket or a
// DPDK RX/TX queue pair) did, in the counters registry.
//
// Names tachyon_fastpath_*, labels path="af_xdp"|"dpdk" and queue="<n>".
// Each queue's DatagramIo owns one FastPathCounters and is its only writer
// (the worker thread that owns the queue); any thread may read them.
#ifndef TACHYON_FASTPATH_FASTPATH_COUNTERS_H_
#define TACHYON_FASTPATH_FASTPATH_COUNTERS_H_

#include <array>
#include <cstddef>
#include <string_view>

#include "base/counters.h"

namespace tachyon::fastpath {

/// Why a received frame was not handed to UDP ingress.
enum class RxDrop : std::uint8_t {
  kNotIpv4,      ///< DPDK: not IPv4 and not ARP
  kNotUdp,       ///< DPDK: IPv4 but not UDP (ICMP, TCP, ...)
  kWrongPort,    ///< UDP, but not to the gateway's address and port
  kFragment,     ///< an IPv4 fragment (never reassembled)
  kMalformed,    ///< lengths or headers that do not add up
  kBadChecksum,  ///< IPv4 header or UDP checksum wrong
  kTruncated,    ///< longer than the receive buffer / frame size
  kCount,
};

/// The `reason` label of RxDrop: "not_ipv4", "not_udp", "wrong_port",
/// "fragment", "malformed", "bad_checksum", "truncated".
std::string_view RxDropName(RxDrop reason);

struct FastPathCounters {
  /// Registers every value with labels path=`path`, queue=`queue`.
  FastPathCounters(base::CounterRegistry& registry, std::string_view path,
                   int queue);

  base::Counter rx_packets;  ///< frames taken from the RX ring / burst
  base::Counter rx_bytes;
  base::Counter tx_packets;  ///< frames posted to the TX ring / burst
  base::Counter tx_bytes;
  /// Frames dropped on receive, label reason=RxDropName.
  std::array<base::Counter, static_cast<std::size_t>(RxDrop::kCount)> rx_drops;
  /// AF_XDP: the kernel's count of frames dropped for a full RX ring
  /// (XDP_STATISTICS rx_ring_full); DPDK: imissed.
  base::Counter rx_ring_full;
  /// AF_XDP: frames the kernel dropped for other reasons (XDP_STATISTICS
  /// rx_dropped: larger than a frame, invalid descriptors).
  base::Counter rx_kernel_dropped;
  /// AF_XDP: times the fill ring had no free frame to give the kernel
  /// (XDP_STATISTICS rx_fill_ring_empty_descs); DPDK: rx_nombuf.
  base::Counter fill_empty;
  /// Datagrams not sent because the TX ring (or UMEM / mbuf pool) was full.
  base::Counter tx_ring_full;
  /// AF_XDP: datagrams refused (kFailed) for being larger than the
  /// interface MTU (less IPv4 and UDP headers) or a frame allows.
  base::Counter tx_too_large;
  /// Datagrams not sent because no MAC address is known for the next hop
  /// (sent through the kernel socket instead when one is available).
  base::Counter tx_no_neighbour;
  base::Counter rx_wakeups;    ///< need_wakeup kicks on the fill ring
  base::Counter tx_wakeups;    ///< need_wakeup kicks on the TX ring
  base::Counter arp_replies;   ///< DPDK: ARP requests answered
  base::Counter arp_requests;  ///< DPDK: ARP requests sent to resolve
};

}  // namespace tachyon::fastpath

#endif  // TACHYON_FASTPATH_FASTPATH_COUNTERS_H_
