// AfXdpDatagramIo: DatagramIo over one AF_XDP socket (one RX/TX queue of an
// interface that carries the gateway's XDP program, xdp_program.h).
//
// Overview
//   UMEM: `frames` x `frame_size` bytes, mmap'ed (page aligned) and
//   registered once; the first half of the frames receive (they circulate
//   between the fill ring, the RX ring and the caller), the second half
//   transmit (a free stack, the TX ring and the completion ring).
//
//   Receive: peeks the RX ring, parses each frame (packet.h: VLAN, IPv4
//   options, lengths and checksums) and hands out the UDP payloads addressed
//   to our port (and our address, unless bound to 0.0.0.0) as spans into the
//   UMEM. Those frames go back to the fill ring at the next Receive, which
//   is why the spans stay valid until then. Anything else is counted by
//   reason (FastPathCounters, path="af_xdp") and recycled. drops(): the
//   kernel's XDP_STATISTICS rx_ring_full (counter rx_ring_full: frames lost
//   for a full RX ring) and rx_dropped (counter rx_kernel_dropped: frames
//   too large for a frame, invalid descriptors), each counted once, plus
//   our own parse drops.
//
//   Send: per run, the next hop's MAC comes from Neighbours (static entries
//   first, then the kernel's table); each datagram is built into a free TX
//   frame (BuildUdpFrame: Ethernet + IPv4 + UDP, checksums in software) and
//   posted to the TX ring; completions are reaped to recycle frames. A
//   datagram larger than the interface MTU allows (mtu - 28) or a frame
//   holds ends its run with kFailed (counted tx_too_large). A run
//   stops with kFull when the TX ring or the TX frames run out. A run whose
//   next hop has no known MAC goes out through a kernel UDP socket instead
//   (which makes the kernel resolve it by ARP) and counts tx_no_neighbour;
//   that socket is send-only and unbound (it never takes datagrams to the
//   gateway's port from the kernel's lookup), so those datagrams leave from
//   an ephemeral source port, not the gateway's.
//   Multicast channels (AddChannel) map the group to its Ethernet address
//   (01:00:5e + the low 23 bits) and use the channel's TTL; they need no
//   kernel socket. offloaded_sends() is 0: there is no segmentation offload.
//
//   need_wakeup: the fill ring and the TX ring are kicked (recvfrom /
//   sendto with MSG_DONTWAIT) only when the kernel asks for it. In copy mode
//   the kernel transmits at most 32 frames per kick, so Send kicks until the
//   ring is drained or the kernel says it is busy; frames still queued are
//   kicked again on the next Receive or Send, even a Send that posts
//   nothing (completions are reaped first), so a gateway that only sends
//   never stalls on kFull.
//
// Nothing allocates on Receive or Send: every array is sized at creation.
//
// Threading: one owner thread (the worker that took the queue).
//
// Example
//   auto io = AfXdpDatagramIo::Create(options, counters);
//   std::array<io::RxDatagram, 64> batch;
//   int n = (*io)->Receive(batch);   // when readiness_fd() is readable
#ifndef TACHYON_FASTPATH_AF_XDP_AF_XDP_IO_H_
#define TACHYON_FASTPATH_AF_XDP_AF_XDP_IO_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/counters.h"
#include "config/model.h"
#include "fastpath/fastpath_counters.h"
#include "fastpath/neighbours.h"
#include "fastpath/packet.h"
#include "io/datagram_io.h"

struct xsk_socket;
struct xsk_umem;

namespace tachyon::fastpath::af_xdp {

struct AfXdpQueueOptions {
  std::string interface;
  /// The hardware queue to bind (start_queue + i).
  std::uint32_t queue_id = 0;
  /// The counters' queue label (i).
  int queue_index = 0;
  /// The XSKMAP of the attached program (XdpProgram::xsks_map_fd()).
  int xsks_map_fd = -1;
  /// The XDP mode the program was attached in (the socket must match).
  config::XdpMode xdp_mode = config::XdpMode::kNative;
  config::XdpBind bind = config::XdpBind::kAuto;
  std::uint32_t frames = 4096;  ///< power of two, >= 2
  std::uint32_t frame_size = 4096;
  std::uint32_t rx_ring = 2048;
  std::uint32_t tx_ring = 2048;
  std::uint32_t fill_ring = 2048;
  std::uint32_t completion_ring = 2048;
  /// Our address (network order) and UDP port: what we accept, and the
  /// source of what we send. address 0: accept any destination address
  /// (the source of sends is then `source_be`).
  std::uint32_t address_be = 0;
  std::uint32_t source_be = 0;
  std::uint16_t port = 0;
  MacAddress mac;  ///< the interface's
  /// The interface's subnet and default gateway (0: none), for Neighbours.
  int prefix_len = 24;
  std::uint32_t gateway_be = 0;
  std::vector<StaticNeighbour> neighbours;
  /// Longer payloads are handed out cut to this and marked truncated.
  std::uint32_t max_datagram_bytes = 65507;
  /// Kicks per KickTx before the rest is left pending (0: enough for the
  /// ring, outstanding / 32 + 4). Tests lower it to leave frames queued;
  /// kTxKicksNone never kicks, so a copy-mode socket (which sends only
  /// when kicked) stands for a device that stops taking frames.
  std::uint32_t tx_kicks_per_call = 0;
  static constexpr std::uint32_t kTxKicksNone = ~std::uint32_t{0};
  /// The interface MTU (InterfaceInfo::mtu; 0: unknown). Send refuses
  /// (kFailed, counted tx_too_large) payloads above mtu - 28 (IPv4 + UDP
  /// headers): frames are never fragmented.
  int mtu = 0;
};

class AfXdpDatagramIo final : public io::DatagramIo {
 public:
  /// Maps and registers the UMEM, creates the socket (program loading
  /// inhibited) and inserts it into the map. Errors name the cause: the
  /// locked-memory limit (ENOBUFS/EPERM on the UMEM), an unsupported
  /// zero-copy bind, a missing queue.
  static absl::StatusOr<std::unique_ptr<AfXdpDatagramIo>> Create(
      const AfXdpQueueOptions& options, base::CounterRegistry& registry);
  ~AfXdpDatagramIo() override;
  AfXdpDatagramIo(const AfXdpDatagramIo&) = delete;
  AfXdpDatagramIo& operator=(const AfXdpDatagramIo&) = delete;

  // DatagramIo
  [[nodiscard]] std::string_view name() const override { return "af_xdp"; }
  int Receive(std::span<io::RxDatagram> out) override;
  [[nodiscard]] std::uint64_t drops() const override;
  [[nodiscard]] int readiness_fd() const override { return fd_; }
  void Send(std::span<const io::TxRun> runs,
            std::span<io::TxRunResult> results) override;
  absl::StatusOr<int> AddChannel(const io::MulticastOptions& options) override;
  [[nodiscard]] std::uint64_t offloaded_sends() const override { return 0; }

  /// True if the socket is bound zero-copy.
  [[nodiscard]] bool zero_copy() const { return zero_copy_; }
  /// Why a zero-copy bind was not used ("" if it was, or copy was asked).
  [[nodiscard]] const std::string& copy_reason() const { return copy_reason_; }
  [[nodiscard]] const FastPathCounters& counters() const { return counters_; }

 private:
  struct Rings;  // the libxdp ring structs, kept out of this header
  struct Channel {
    int ttl = 64;
  };

  AfXdpDatagramIo(const AfXdpQueueOptions& options,
                  base::CounterRegistry& registry);
  absl::Status Open();
  void RecycleHeld();
  // Why a parsed frame is not ours (RxDrop::kCount: it is).
  RxDrop Classify(FrameKind kind, const UdpFrame& udp) const;
  void RefreshStatistics();
  void ReapCompletions();
  void KickTx();
  // Sends `run` through the kernel socket (next hop unknown).
  io::TxRunResult SendThroughKernel(const io::TxRun& run);

  const AfXdpQueueOptions options_;
  FastPathCounters counters_;
  Neighbours neighbours_;
  std::unique_ptr<Rings> rings_;
  xsk_umem* umem_ = nullptr;
  xsk_socket* xsk_ = nullptr;
  std::byte* umem_area_ = nullptr;
  std::size_t umem_bytes_ = 0;
  int fd_ = -1;
  int kernel_fd_ = -1;  // fallback sends for unknown neighbours
  bool zero_copy_ = false;
  std::string copy_reason_;

  std::uint32_t rx_frames_ = 0;      // frames [0, rx_frames_) receive
  std::vector<std::uint64_t> held_;  // handed out by the last Receive
  std::size_t held_count_ = 0;
  std::vector<std::uint64_t> tx_free_;  // free TX frame addresses
  std::size_t tx_free_count_ = 0;
  std::uint32_t tx_outstanding_ = 0;  // posted, not completed
  bool tx_kick_pending_ = false;
  std::uint16_t ip_id_ = 0;

  std::vector<Channel> channels_;
  std::uint64_t parse_drops_ = 0;
  std::uint64_t kernel_drops_ = 0;  // rx_dropped + rx_ring_full
  std::uint64_t ring_full_seen_ = 0;
  std::uint64_t dropped_seen_ = 0;
  std::uint64_t fill_empty_seen_ = 0;
  std::int64_t last_statistics_ns_ = 0;
};

}  // namespace tachyon::fastpath::af_xdp

#endif  // TACHYON_FASTPATH_AF_XDP_AF_XDP_IO_H_
