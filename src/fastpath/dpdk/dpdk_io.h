// DpdkDatagramIo: the datagram I/O seam (io/datagram_io.h) over one RX/TX
// queue pair of a DPDK port.
//
// Overview
//   Receive takes a burst from the queue's RX ring and classifies each frame
//   (fastpath/packet.h). IPv4 UDP to our address and port is handed up, its
//   payload pointing into the mbuf; those mbufs go back to the pool at the
//   next Receive. ARP requests for our address are answered at once (sent
//   on this queue), and the sender of every ARP request or reply is learned
//   into Neighbours. Everything else is dropped and counted by reason
//   (tachyon_fastpath_rx_drops_total{reason=...}): this path owns the port
//   and never hands traffic to the kernel (see dpdk_path.h).
//
//   Send builds Ethernet/IPv4/UDP frames (BuildUdpFrame) in mbufs taken from
//   the queue's pool and posts them with rte_eth_tx_burst. The next hop's
//   MAC comes from Neighbours (static entries from fastpath.neighbours, then
//   what ARP taught, or with net_af_xdp the kernel's table); a multicast
//   destination maps to its 01:00:5e MAC. An unknown neighbour makes the run
//   kFull (retried by the caller) while an ARP request goes out at most every
//   100 ms; after 3 s without an answer its runs are kFailed (lost; ARP is
//   then retried every second) until one arrives. With the port's IPv4 and UDP
//   checksum TX offload the checksums are left to the NIC (counted in
//   offloaded_sends()); otherwise they are computed in software.
//
//   readiness_fd() is -1: the worker polls Receive on every pass (in dpdk
//   mode the worker busy-polls its queue; no descriptor ever becomes
//   readable). drops(): the port's imissed + rx_nombuf (read with
//   rte_eth_stats_get every 1024 Receive calls, reported by queue 0) plus
//   the frames this queue dropped as damaged: bad checksum, malformed,
//   fragment, truncated. Frames that were never datagrams for us (not IPv4,
//   not UDP, another address or port) are counted by reason but are not
//   datagram drops.
//
//   Nothing allocates per packet: bursts, held mbufs, channels and pending
//   ARP resolutions live in fixed arrays.
//
// Threading: one owner thread (the worker that took the queue), which need
// not be an EAL thread: rte_eth_rx_burst/tx_burst on the queue's own queue
// id are safe from any single thread, and the queue's mbuf pool has no
// per-lcore cache (a non-EAL thread has no lcore id and would bypass it
// anyway), so no thread is registered with rte_thread_register.
//
// Example (dpdk_path.h makes these; tests reach them through TakeQueue)
//   std::unique_ptr<io::DatagramIo> io = fast_path->TakeQueue(0);
//   std::array<io::RxDatagram, 64> rx;
//   int n = io->Receive(rx);   // on the worker, every pass
#ifndef TACHYON_FASTPATH_DPDK_DPDK_IO_H_
#define TACHYON_FASTPATH_DPDK_DPDK_IO_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/counters.h"
#include "fastpath/fastpath_counters.h"
#include "fastpath/neighbours.h"
#include "fastpath/packet.h"
#include "io/datagram_io.h"

struct rte_mbuf;
struct rte_mempool;

namespace tachyon::fastpath {

class DpdkDatagramIo final : public io::DatagramIo {
 public:
  struct Options {
    std::uint16_t port_id = 0;
    std::uint16_t queue = 0;
    /// The queue's mbufs (its RX ring fills from it; TX frames come from it).
    rte_mempool* pool = nullptr;
    MacAddress mac;                ///< the port's
    std::uint32_t address_be = 0;  ///< ours on the port
    std::uint16_t udp_port = 0;    ///< the gateway's; also our source port
    int prefix_len = 24;
    std::uint32_t gateway_be = 0;  ///< 0: no next hop off the subnet
    std::vector<StaticNeighbour> neighbours;
    /// Non-zero: the kernel interface behind the port (net_af_xdp), whose
    /// kernel keeps the address, answers ARP and so holds the neighbour
    /// table (read over rtnetlink in the worker's namespace on a miss).
    int kernel_ifindex = 0;
    bool tx_checksum_offload = false;
    std::uint32_t mtu = 1500;  ///< IPv4 packet size limit
    /// udp.max_datagram_bytes: longer payloads are handed out cut to this
    /// and marked truncated, as the socket and AF_XDP paths do.
    std::uint32_t max_datagram_bytes = 65507;
    /// Keeps the port and pool alive while this queue exists.
    std::shared_ptr<void> keepalive;
  };

  DpdkDatagramIo(Options options, base::CounterRegistry& counters);
  ~DpdkDatagramIo() override;
  DpdkDatagramIo(const DpdkDatagramIo&) = delete;
  DpdkDatagramIo& operator=(const DpdkDatagramIo&) = delete;

  [[nodiscard]] std::string_view name() const override { return "dpdk"; }
  int Receive(std::span<io::RxDatagram> out) override;
  [[nodiscard]] std::uint64_t drops() const override;
  [[nodiscard]] int readiness_fd() const override { return -1; }
  void Send(std::span<const io::TxRun> runs,
            std::span<io::TxRunResult> results) override;
  absl::StatusOr<int> AddChannel(const io::MulticastOptions& options) override;
  [[nodiscard]] std::uint64_t offloaded_sends() const override {
    return offloaded_sends_;
  }

  [[nodiscard]] const FastPathCounters& counters() const { return counters_; }

  /// Largest RX burst (held until the next Receive) and TX burst.
  static constexpr int kRxBurst = 64;
  static constexpr int kTxBurst = 32;

 private:
  static constexpr int kMaxChannels = 16;
  static constexpr int kMaxPending = 16;
  static constexpr std::uint32_t kStatsEvery = 1024;

  // An ARP resolution in progress.
  struct Pending {
    std::uint32_t address_be = 0;  // 0: free
    std::int64_t first_ns = 0;
    std::int64_t last_request_ns = 0;
  };

  void Drop(RxDrop reason);
  void HandleArp(std::span<const std::byte> frame);
  void ReadPortStats();
  // The destination MAC for a run, or nullopt with `*failed` saying whether
  // the run is lost (true) or should be retried (false).
  std::optional<MacAddress> Resolve(std::uint32_t destination_be,
                                    std::int64_t now_ns, bool* failed);
  void SendArpRequest(std::uint32_t target_be);
  bool SendFrame(rte_mbuf* m);
  io::TxRunResult SendRun(const io::TxRun& run, const MacAddress& mac, int ttl);

  Options options_;
  FastPathCounters counters_;
  Neighbours neighbours_;
  std::uint32_t max_payload_ = 0;
  std::uint32_t subnet_mask_be_ = 0;
  std::uint16_t ip_id_ = 0;

  std::array<rte_mbuf*, kRxBurst> rx_{};
  std::array<rte_mbuf*, kRxBurst> held_{};
  int held_count_ = 0;
  std::array<rte_mbuf*, kTxBurst> tx_{};

  std::uint32_t calls_ = 0;
  std::uint64_t port_drops_ = 0;  // imissed + rx_nombuf, last read
  std::uint64_t port_imissed_ = 0;
  std::uint64_t port_nombuf_ = 0;
  std::uint64_t own_drops_ = 0;
  std::uint64_t offloaded_sends_ = 0;

  std::array<int, kMaxChannels> channel_ttl_{};  // [0]: unicast, TTL 64
  int channels_ = 1;
  std::array<Pending, kMaxPending> pending_{};
};

}  // namespace tachyon::fastpath

#endif  // TACHYON_FASTPATH_DPDK_DPDK_IO_H_
