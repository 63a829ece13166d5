#include "fastpath/dpdk/dpdk_io.h"

#include <arpa/inet.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_udp.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/status/status.h"

namespace tachyon::fastpath {
namespace {

constexpr std::int64_t kArpIntervalNs = 100'000'000;
// Long enough for a peer slow to answer (or a worker descheduled for a
// while on a busy host) not to lose datagrams, short enough that egress
// does not retry a dead neighbour's runs for long.
constexpr std::int64_t kArpGiveUpNs = 3'000'000'000;
constexpr std::int64_t kArpRetryAfterGiveUpNs = 1'000'000'000;
constexpr int kUnicastTtl = 64;

std::int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::span<std::byte> MbufRoom(rte_mbuf* m) {
  return {rte_pktmbuf_mtod(m, std::byte*),
          static_cast<std::size_t>(rte_pktmbuf_tailroom(m))};
}

void SetLength(rte_mbuf* m, std::size_t len) {
  m->data_len = static_cast<std::uint16_t>(len);
  m->pkt_len = static_cast<std::uint32_t>(len);
}

std::uint32_t MaxPayload(std::uint32_t mtu) {
  return mtu > kIpv4HeaderBytes + kUdpHeaderBytes
             ? mtu - static_cast<std::uint32_t>(kIpv4HeaderBytes +
                                                kUdpHeaderBytes)
             : 0;
}

}  // namespace

DpdkDatagramIo::DpdkDatagramIo(Options options, base::CounterRegistry& counters)
    : options_(std::move(options)),
      counters_(counters, "dpdk", options_.queue),
      neighbours_(options_.kernel_ifindex, options_.address_be,
                  options_.prefix_len, options_.gateway_be,
                  options_.neighbours),
      max_payload_(MaxPayload(options_.mtu)),
      subnet_mask_be_(
          options_.prefix_len <= 0
              ? 0
              : htonl(~std::uint32_t{0}
                      << (32 - std::min(options_.prefix_len, 32)))) {
  channel_ttl_[0] = kUnicastTtl;
}

DpdkDatagramIo::~DpdkDatagramIo() {
  if (held_count_ > 0) {
    rte_pktmbuf_free_bulk(held_.data(), static_cast<unsigned>(held_count_));
  }
}

void DpdkDatagramIo::Drop(RxDrop reason) {
  counters_.rx_drops[static_cast<std::size_t>(reason)].Add();
  // drops() counts datagrams lost, not traffic that was never for us
  // (IPv6 neighbour discovery, ICMP, other ports): those only have their
  // counter.
  if (reason != RxDrop::kNotIpv4 && reason != RxDrop::kNotUdp &&
      reason != RxDrop::kWrongPort) {
    ++own_drops_;
  }
}

std::uint64_t DpdkDatagramIo::drops() const { return port_drops_ + own_drops_; }

void DpdkDatagramIo::ReadPortStats() {
  // Port-wide figures: queue 0 reports them, so a sum over queues is right.
  if (options_.queue != 0) return;
  std::uint64_t imissed = 0;
  std::uint64_t nombuf = 0;
  {
    rte_eth_stats stats{};
    if (rte_eth_stats_get(options_.port_id, &stats) != 0) return;
    imissed = stats.imissed;
    nombuf = stats.rx_nombuf;
  }
  if (imissed > port_imissed_) {
    counters_.rx_ring_full.Add(imissed - port_imissed_);
    port_imissed_ = imissed;
  }
  if (nombuf > port_nombuf_) {
    counters_.fill_empty.Add(nombuf - port_nombuf_);
    port_nombuf_ = nombuf;
  }
  port_drops_ = port_imissed_ + port_nombuf_;
}

int DpdkDatagramIo::Receive(std::span<io::RxDatagram> out) {
  if (held_count_ > 0) {
    rte_pktmbuf_free_bulk(held_.data(), static_cast<unsigned>(held_count_));
    held_count_ = 0;
  }
  if (++calls_ % kStatsEvery == 0) ReadPortStats();
  const std::uint16_t want =
      static_cast<std::uint16_t>(std::min<std::size_t>(out.size(), kRxBurst));
  if (want == 0) return 0;
  const std::uint16_t n =
      rte_eth_rx_burst(options_.port_id, options_.queue, rx_.data(), want);
  int delivered = 0;
  for (std::uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = rx_[i];
    counters_.rx_packets.Add();
    counters_.rx_bytes.Add(m->pkt_len);
    if (m->nb_segs != 1) {
      // Longer than one mbuf's data room (a jumbo frame on a port whose
      // MTU allows it): never cut silently.
      Drop(RxDrop::kTruncated);
      rte_pktmbuf_free(m);
      continue;
    }
    const std::span<const std::byte> frame(
        rte_pktmbuf_mtod(m, const std::byte*), m->data_len);
    UdpFrame udp;
    const FrameKind kind = ParseFrame(frame, &udp);
    switch (kind) {
      case FrameKind::kUdp:
        if (udp.destination_be != options_.address_be ||
            udp.destination_port != options_.udp_port) {
          Drop(RxDrop::kWrongPort);
          break;
        }
        {
          const bool cut = udp.payload.size() > options_.max_datagram_bytes;
          out[static_cast<std::size_t>(delivered)] = {
              .bytes = cut ? udp.payload.first(options_.max_datagram_bytes)
                           : udp.payload,
              .source = {udp.source_be, udp.source_port},
              .truncated = cut};
        }
        ++delivered;
        held_[static_cast<std::size_t>(held_count_++)] = m;
        continue;  // held until the next Receive
      case FrameKind::kArp:
        HandleArp(frame);
        break;
      case FrameKind::kNotIpv4:
        Drop(RxDrop::kNotIpv4);
        break;
      case FrameKind::kNotUdp:
        Drop(RxDrop::kNotUdp);
        break;
      case FrameKind::kFragment:
        Drop(RxDrop::kFragment);
        break;
      case FrameKind::kMalformed:
        Drop(RxDrop::kMalformed);
        break;
      case FrameKind::kBadChecksum:
        Drop(RxDrop::kBadChecksum);
        break;
    }
    rte_pktmbuf_free(m);
  }
  return delivered;
}

void DpdkDatagramIo::HandleArp(std::span<const std::byte> frame) {
  ArpPacket arp;
  if (!ParseArp(frame, &arp)) {
    Drop(RxDrop::kMalformed);
    return;
  }
  // Requests teach us their sender too (RFC 826's merge step), which saves
  // a round trip when a peer talks to us first.
  if (arp.sender_be != 0 && !arp.sender_mac.IsBroadcast() &&
      (arp.sender_mac.bytes[0] & 1) == 0) {
    neighbours_.Learn(arp.sender_be, arp.sender_mac);
    for (Pending& p : pending_) {
      if (p.address_be == arp.sender_be) p = Pending{};
    }
  }
  if (!arp.is_request || arp.target_be != options_.address_be) return;
  rte_mbuf* m = rte_pktmbuf_alloc(options_.pool);
  if (m == nullptr) {
    counters_.tx_ring_full.Add();
    return;
  }
  const std::size_t len =
      BuildArpReply(MbufRoom(m), arp, options_.mac, options_.address_be);
  SetLength(m, len);
  if (len != 0 && SendFrame(m)) counters_.arp_replies.Add();
}

bool DpdkDatagramIo::SendFrame(rte_mbuf* m) {
  const std::uint32_t len = m->pkt_len;
  if (len == 0 ||
      rte_eth_tx_burst(options_.port_id, options_.queue, &m, 1) != 1) {
    rte_pktmbuf_free(m);
    counters_.tx_ring_full.Add();
    return false;
  }
  counters_.tx_packets.Add();
  counters_.tx_bytes.Add(len);
  return true;
}

void DpdkDatagramIo::SendArpRequest(std::uint32_t target_be) {
  rte_mbuf* m = rte_pktmbuf_alloc(options_.pool);
  if (m == nullptr) {
    counters_.tx_ring_full.Add();
    return;
  }
  SetLength(m, BuildArpRequest(MbufRoom(m), options_.mac, options_.address_be,
                               target_be));
  if (SendFrame(m)) counters_.arp_requests.Add();
}

std::optional<MacAddress> DpdkDatagramIo::Resolve(std::uint32_t destination_be,
                                                  std::int64_t now_ns,
                                                  bool* failed) {
  *failed = false;
  if (IsMulticastIpv4(destination_be)) return MulticastMac(destination_be);
  if (destination_be == 0xffffffffu) {
    MacAddress broadcast;
    broadcast.bytes.fill(0xff);
    return broadcast;
  }
  if (std::optional<MacAddress> mac =
          neighbours_.Lookup(destination_be, now_ns)) {
    return mac;
  }
  const bool on_link =
      ((destination_be ^ options_.address_be) & subnet_mask_be_) == 0;
  if (!on_link && options_.gateway_be == 0) {
    *failed = true;  // off the subnet and no fastpath.gateway: not sent
    return std::nullopt;
  }
  const std::uint32_t hop = neighbours_.NextHop(destination_be);
  Pending* slot = nullptr;
  Pending* oldest = &pending_[0];
  for (Pending& p : pending_) {
    if (p.address_be == hop) {
      slot = &p;
      break;
    }
    if (p.address_be == 0 && (oldest->address_be != 0)) oldest = &p;
    if (p.address_be != 0 && oldest->address_be != 0 &&
        p.first_ns < oldest->first_ns) {
      oldest = &p;
    }
  }
  if (slot == nullptr) {
    slot = oldest;
    *slot = Pending{.address_be = hop,
                    .first_ns = now_ns,
                    .last_request_ns = now_ns - kArpIntervalNs};
  }
  const bool given_up = now_ns - slot->first_ns >= kArpGiveUpNs;
  const std::int64_t interval =
      given_up ? kArpRetryAfterGiveUpNs : kArpIntervalNs;
  if (now_ns - slot->last_request_ns >= interval) {
    slot->last_request_ns = now_ns;
    SendArpRequest(hop);
  }
  *failed = given_up;
  return std::nullopt;
}

io::TxRunResult DpdkDatagramIo::SendRun(const io::TxRun& run,
                                        const MacAddress& mac, int ttl) {
  using Status = io::TxRunResult::Status;
  const std::size_t total = run.datagrams.size();
  UdpAddressing a{.source_mac = options_.mac,
                  .destination_mac = mac,
                  .source_be = options_.address_be,
                  .destination_be = run.destination.address_be,
                  .source_port = options_.udp_port,
                  .destination_port = run.destination.port};
  std::size_t sent = 0;
  while (sent < total) {
    const unsigned k =
        static_cast<unsigned>(std::min<std::size_t>(total - sent, kTxBurst));
    if (rte_pktmbuf_alloc_bulk(options_.pool, tx_.data(), k) != 0) {
      counters_.tx_ring_full.Add(total - sent);
      return {Status::kFull, static_cast<std::uint32_t>(sent)};
    }
    unsigned built = 0;
    bool failed = false;
    std::uint64_t bytes = 0;
    for (; built < k; ++built) {
      const io::TxDatagram& d = run.datagrams[sent + built];
      rte_mbuf* m = tx_[built];
      a.ip_id = ip_id_++;
      const std::size_t len =
          d.size() > max_payload_
              ? 0
              : BuildUdpFrame(MbufRoom(m), a, d.head, d.body);
      if (len == 0) {  // larger than the MTU or the mbuf: never fragmented
        failed = true;
        break;
      }
      SetLength(m, len);
      bytes += len;
      auto* ip =
          rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, kEthernetHeaderBytes);
      if (options_.tx_checksum_offload) {
        ip->time_to_live = static_cast<std::uint8_t>(ttl);
        m->l2_len = kEthernetHeaderBytes;
        m->l3_len = kIpv4HeaderBytes;
        m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
                       RTE_MBUF_F_TX_UDP_CKSUM;
        ip->hdr_checksum = 0;
        auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
        udp->dgram_cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
      } else if (ttl != kUnicastTtl) {
        ip->time_to_live = static_cast<std::uint8_t>(ttl);
        ip->hdr_checksum = 0;
        ip->hdr_checksum = rte_ipv4_cksum(ip);
      }
    }
    const std::uint16_t posted =
        built == 0
            ? 0
            : rte_eth_tx_burst(options_.port_id, options_.queue, tx_.data(),
                               static_cast<std::uint16_t>(built));
    for (unsigned j = posted; j < built; ++j) {
      bytes -= rte_pktmbuf_pkt_len(tx_[j]);
    }
    if (posted < k) {
      rte_pktmbuf_free_bulk(tx_.data() + posted, k - posted);
    }
    counters_.tx_packets.Add(posted);
    counters_.tx_bytes.Add(bytes);
    if (options_.tx_checksum_offload) offloaded_sends_ += posted;
    sent += posted;
    if (posted < built) {
      counters_.tx_ring_full.Add(total - sent);
      return {Status::kFull, static_cast<std::uint32_t>(sent)};
    }
    if (failed) return {Status::kFailed, static_cast<std::uint32_t>(sent)};
  }
  return {Status::kSent, static_cast<std::uint32_t>(sent)};
}

void DpdkDatagramIo::Send(std::span<const io::TxRun> runs,
                          std::span<io::TxRunResult> results) {
  using Status = io::TxRunResult::Status;
  const std::int64_t now_ns = NowNs();
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const io::TxRun& run = runs[i];
    if (run.datagrams.empty()) {
      results[i] = {Status::kSent, 0};
      continue;
    }
    if (run.channel < 0 || run.channel >= channels_ ||
        run.destination.port == 0 || run.destination.address_be == 0) {
      results[i] = {Status::kFailed, 0};
      continue;
    }
    bool failed = false;
    const std::optional<MacAddress> mac =
        Resolve(run.destination.address_be, now_ns, &failed);
    if (!mac) {
      counters_.tx_no_neighbour.Add(run.datagrams.size());
      results[i] = {failed ? Status::kFailed : Status::kFull, 0};
      continue;
    }
    results[i] =
        SendRun(run, *mac, channel_ttl_[static_cast<std::size_t>(run.channel)]);
  }
}

absl::StatusOr<int> DpdkDatagramIo::AddChannel(
    const io::MulticastOptions& options) {
  if (channels_ >= kMaxChannels) {
    return absl::ResourceExhaustedError(
        "the DPDK path has no room for another multicast channel");
  }
  if (options.ttl < 0 || options.ttl > 255) {
    return absl::InvalidArgumentError("multicast TTL must be 0..255");
  }
  // interface_be and loopback do not apply: frames leave on this port, and
  // nothing loops them back to local sockets.
  channel_ttl_[static_cast<std::size_t>(channels_)] = options.ttl;
  return channels_++;
}

}  // namespace tachyon::fastpath
