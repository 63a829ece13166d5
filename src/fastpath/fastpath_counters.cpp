#include "fastpath/fastpath_counters.h"

#include <string>

namespace tachyon::fastpath {

std::string_view RxDropName(RxDrop reason) {
  switch (reason) {
    case RxDrop::kNotIpv4:
      return "not_ipv4";
    case RxDrop::kNotUdp:
      return "not_udp";
    case RxDrop::kWrongPort:
      return "wrong_port";
    case RxDrop::kFragment:
      return "fragment";
    case RxDrop::kMalformed:
      return "malformed";
    case RxDrop::kBadChecksum:
      return "bad_checksum";
    case RxDrop::kTruncated:
      return "truncated";
    case RxDrop::kCount:
      break;
  }
  return "unknown";
}

FastPathCounters::FastPathCounters(base::CounterRegistry& registry,
                                   std::string_view path, int queue) {
  const std::string p(path);
  const std::string q = std::to_string(queue);
  auto labels = [&]() -> base::Labels { return {{"path", p}, {"queue", q}}; };
  rx_packets =
      registry.AddCounter("tachyon_fastpath_rx_packets_total",
                          "Frames taken from the RX ring or burst", labels());
  rx_bytes = registry.AddCounter("tachyon_fastpath_rx_bytes_total",
                                 "Bytes of frames received", labels());
  tx_packets =
      registry.AddCounter("tachyon_fastpath_tx_packets_total",
                          "Frames posted to the TX ring or burst", labels());
  tx_bytes = registry.AddCounter("tachyon_fastpath_tx_bytes_total",
                                 "Bytes of frames sent", labels());
  for (std::size_t i = 0; i < rx_drops.size(); ++i) {
    base::Labels l = labels();
    l.push_back({"reason", std::string(RxDropName(static_cast<RxDrop>(i)))});
    rx_drops[i] =
        registry.AddCounter("tachyon_fastpath_rx_drops_total",
                            "Received frames dropped, by reason", std::move(l));
  }
  rx_ring_full = registry.AddCounter(
      "tachyon_fastpath_rx_ring_full_total",
      "Frames the kernel or NIC dropped for a full RX ring", labels());
  rx_kernel_dropped = registry.AddCounter(
      "tachyon_fastpath_rx_kernel_dropped_total",
      "Frames the kernel dropped for reasons other than a full RX ring "
      "(AF_XDP rx_dropped)",
      labels());
  fill_empty = registry.AddCounter(
      "tachyon_fastpath_fill_empty_total",
      "Times the fill ring or mbuf pool had no free buffer", labels());
  tx_ring_full = registry.AddCounter(
      "tachyon_fastpath_tx_ring_full_total",
      "Datagrams not sent because the TX ring or buffer pool was full",
      labels());
  tx_too_large = registry.AddCounter(
      "tachyon_fastpath_tx_too_large_total",
      "Datagrams not sent: larger than the interface MTU or a frame allows",
      labels());
  tx_no_neighbour = registry.AddCounter(
      "tachyon_fastpath_tx_no_neighbour_total",
      "Datagrams not sent on the fast path: next hop MAC unknown", labels());
  base::Labels fill = labels();
  fill.push_back({"ring", "fill"});
  rx_wakeups =
      registry.AddCounter("tachyon_fastpath_wakeups_total",
                          "need_wakeup kicks, by ring", std::move(fill));
  base::Labels tx = labels();
  tx.push_back({"ring", "tx"});
  tx_wakeups = registry.AddCounter("tachyon_fastpath_wakeups_total",
                                   "need_wakeup kicks, by ring", std::move(tx));
  arp_replies = registry.AddCounter("tachyon_fastpath_arp_replies_total",
                                    "ARP requests answered", labels());
  arp_requests =
      registry.AddCounter("tachyon_fastpath_arp_requests_total",
                          "ARP requests sent to resolve a neighbour", labels());
}

}  // namespace tachyon::fastpath
