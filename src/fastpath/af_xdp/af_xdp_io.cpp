#include "fastpath/af_xdp/af_xdp_io.h"

#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/log.h"

namespace tachyon::fastpath::af_xdp {
namespace {

std::string ErrnoText(int err) { return std::strerror(err < 0 ? -err : err); }

bool IsPowerOfTwo(std::uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

// The IPv4 header checksum of the 20-byte header at `ip` (checksum field
// zeroed by the caller), for rewriting the TTL of a built frame.
std::uint16_t Ipv4HeaderChecksum(const std::byte* ip) {
  std::uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) {
    sum += (static_cast<std::uint32_t>(ip[i]) << 8) |
           static_cast<std::uint32_t>(ip[i + 1]);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

absl::Status LockedMemoryError(const AfXdpQueueOptions& o, std::size_t bytes,
                               int err) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "registering the AF_XDP UMEM (", bytes >> 20, " MiB: fastpath.frames ",
      o.frames, " x frame_size ", o.frame_size, ") for ", o.interface,
      " queue ", o.queue_id, " failed: ", ErrnoText(err),
      ". The UMEM is locked memory: it must fit under the locked-memory limit "
      "(`ulimit -l`, often 8 MiB; LimitMEMLOCK= in a systemd unit), or the "
      "process needs CAP_IPC_LOCK (root has it; grant it with setcap or the "
      "container's capabilities), or lower fastpath.frames"));
}

}  // namespace

struct AfXdpDatagramIo::Rings {
  xsk_ring_prod fill{};
  xsk_ring_cons comp{};
  xsk_ring_cons rx{};
  xsk_ring_prod tx{};
};

AfXdpDatagramIo::AfXdpDatagramIo(const AfXdpQueueOptions& options,
                                 base::CounterRegistry& registry)
    : options_(options),
      counters_(registry, "af_xdp", options.queue_index),
      neighbours_(static_cast<int>(::if_nametoindex(options.interface.c_str())),
                  options.source_be, options.prefix_len, options.gateway_be,
                  options.neighbours),
      rings_(std::make_unique<Rings>()) {
  channels_.push_back(Channel{});
}

absl::StatusOr<std::unique_ptr<AfXdpDatagramIo>> AfXdpDatagramIo::Create(
    const AfXdpQueueOptions& options, base::CounterRegistry& registry) {
  if (!IsPowerOfTwo(options.frames) || options.frames < 4) {
    return absl::InvalidArgumentError(
        "fastpath.frames must be a power of two >= 4");
  }
  if (options.frame_size != 2048 && options.frame_size != 4096) {
    return absl::InvalidArgumentError(
        "fastpath.frame_size must be 2048 or 4096");
  }
  for (const std::uint32_t ring :
       {options.rx_ring, options.tx_ring, options.fill_ring,
        options.completion_ring}) {
    if (!IsPowerOfTwo(ring)) {
      return absl::InvalidArgumentError(
          "fastpath ring sizes must be powers of two");
    }
  }
  std::unique_ptr<AfXdpDatagramIo> io(new AfXdpDatagramIo(options, registry));
  if (absl::Status s = io->Open(); !s.ok()) return s;
  return io;
}

absl::Status AfXdpDatagramIo::Open() {
  const AfXdpQueueOptions& o = options_;
  umem_bytes_ = static_cast<std::size_t>(o.frames) * o.frame_size;
  void* area = ::mmap(nullptr, umem_bytes_, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (area == MAP_FAILED) {
    umem_bytes_ = 0;
    return absl::ResourceExhaustedError(
        absl::StrCat("mmap of the UMEM (", o.frames, " x ", o.frame_size,
                     " bytes): ", ErrnoText(errno)));
  }
  umem_area_ = static_cast<std::byte*>(area);

  // Try zero-copy first under "auto"; a failed bind leaves rings set up on
  // the UMEM's socket, so each attempt starts from a fresh UMEM.
  const bool try_zero_copy = o.bind != config::XdpBind::kCopy;
  const bool allow_copy = o.bind != config::XdpBind::kZeroCopy;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool zc = attempt == 0 ? try_zero_copy : false;
    if (attempt == 1 && (!allow_copy || !try_zero_copy)) break;
    xsk_umem_config ucfg{};
    ucfg.fill_size = o.fill_ring;
    ucfg.comp_size = o.completion_ring;
    ucfg.frame_size = o.frame_size;
    ucfg.frame_headroom = 0;
    ucfg.flags = 0;
    if (const int rc = xsk_umem__create(&umem_, umem_area_, umem_bytes_,
                                        &rings_->fill, &rings_->comp, &ucfg);
        rc != 0) {
      umem_ = nullptr;
      if (rc == -ENOBUFS || rc == -ENOMEM || rc == -EPERM) {
        if (rc == -EPERM) {
          return absl::PermissionDeniedError(absl::StrCat(
              "creating the AF_XDP socket for ", o.interface, ": ",
              ErrnoText(rc),
              ". AF_XDP needs root or CAP_NET_RAW and CAP_NET_ADMIN; the "
              "UMEM needs CAP_IPC_LOCK or a locked-memory limit (`ulimit "
              "-l`) above ",
              umem_bytes_ >> 20, " MiB"));
        }
        return LockedMemoryError(o, umem_bytes_, rc);
      }
      return absl::InternalError(absl::StrCat(
          "xsk_umem__create for ", o.interface, ": ", ErrnoText(rc)));
    }
    xsk_socket_config scfg{};
    scfg.rx_size = o.rx_ring;
    scfg.tx_size = o.tx_ring;
    scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
    scfg.xdp_flags = o.xdp_mode == config::XdpMode::kGeneric
                         ? XDP_FLAGS_SKB_MODE
                         : XDP_FLAGS_DRV_MODE;
    scfg.bind_flags = static_cast<std::uint16_t>(
        XDP_USE_NEED_WAKEUP | (zc ? XDP_ZEROCOPY : XDP_COPY));
    const int rc = xsk_socket__create(&xsk_, o.interface.c_str(), o.queue_id,
                                      umem_, &rings_->rx, &rings_->tx, &scfg);
    if (rc == 0) {
      zero_copy_ = zc;
      break;
    }
    xsk_ = nullptr;
    xsk_umem__delete(umem_);
    umem_ = nullptr;
    *rings_ = Rings{};
    if (rc == -ENOBUFS) return LockedMemoryError(o, umem_bytes_, rc);
    if (rc == -EPERM || rc == -EACCES) {
      return absl::PermissionDeniedError(absl::StrCat(
          "creating the AF_XDP socket on ", o.interface, ": ", ErrnoText(rc),
          ". AF_XDP needs root or CAP_NET_RAW and CAP_NET_ADMIN"));
    }
    if (zc) {
      const std::string why = absl::StrCat(
          o.interface, " queue ", o.queue_id,
          " refused a zero-copy bind: ", ErrnoText(rc),
          rc == -EOPNOTSUPP ? " (the driver has no AF_XDP zero-copy support; "
                              "veth never has)"
                            : "");
      if (!allow_copy) {
        return absl::FailedPreconditionError(
            absl::StrCat("fastpath.xdp_bind = \"zero_copy\", but ", why,
                         ": use xdp_bind = \"auto\" or \"copy\""));
      }
      copy_reason_ = why;
      TACHYON_LOG(kInfo) << "fastpath: " << why << "; binding in copy mode";
      continue;
    }
    std::string text = absl::StrCat("binding an AF_XDP socket to ", o.interface,
                                    " queue ", o.queue_id, ": ", ErrnoText(rc));
    if (rc == -EINVAL) {
      absl::StrAppend(&text, " (does the queue exist? see `ethtool -l ",
                      o.interface,
                      "`; fastpath.start_queue + queues must fit)");
    }
    return absl::FailedPreconditionError(text);
  }
  if (xsk_ == nullptr) {
    return absl::InternalError("no AF_XDP socket was created");
  }
  fd_ = xsk_socket__fd(xsk_);
  if (const int rc = xsk_socket__update_xskmap(xsk_, o.xsks_map_fd); rc != 0) {
    return absl::InternalError(
        absl::StrCat("inserting the AF_XDP socket of queue ", o.queue_id,
                     " into xsks_map: ", ErrnoText(rc)));
  }

  // Half the frames receive (never more than the fill ring holds, so giving
  // them back can never find it full); the rest transmit.
  rx_frames_ = std::min(o.frames / 2, o.fill_ring);
  const std::uint32_t tx_frames =
      std::min(o.frames - rx_frames_, o.completion_ring);
  held_.assign(rx_frames_, 0);
  tx_free_.resize(tx_frames);
  for (std::uint32_t i = 0; i < tx_frames; ++i) {
    tx_free_[i] = static_cast<std::uint64_t>(rx_frames_ + i) * o.frame_size;
  }
  tx_free_count_ = tx_frames;
  std::uint32_t idx = 0;
  if (xsk_ring_prod__reserve(&rings_->fill, rx_frames_, &idx) != rx_frames_) {
    return absl::InternalError("the fill ring would not take the RX frames");
  }
  for (std::uint32_t i = 0; i < rx_frames_; ++i) {
    *xsk_ring_prod__fill_addr(&rings_->fill, idx + i) =
        static_cast<std::uint64_t>(i) * o.frame_size;
  }
  xsk_ring_prod__submit(&rings_->fill, rx_frames_);

  // The fallback for destinations whose MAC is unknown: the kernel resolves
  // it. Send-only and unbound: bound to the gateway's port it would win the
  // kernel's lookup for datagrams to that port that the XDP program passes
  // (fragments, other interfaces) and hold them unread; the gateway's own
  // kernel socket reads those. Its sends leave from an ephemeral source
  // port.
  kernel_fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (kernel_fd_ < 0) {
    return absl::InternalError("socket(UDP): " + ErrnoText(errno));
  }
  return absl::OkStatus();
}

AfXdpDatagramIo::~AfXdpDatagramIo() {
  if (xsk_ != nullptr) xsk_socket__delete(xsk_);
  if (umem_ != nullptr) xsk_umem__delete(umem_);
  if (umem_area_ != nullptr) ::munmap(umem_area_, umem_bytes_);
  if (kernel_fd_ >= 0) ::close(kernel_fd_);
}

void AfXdpDatagramIo::RecycleHeld() {
  if (held_count_ == 0) return;
  std::uint32_t idx = 0;
  const auto n = static_cast<std::uint32_t>(held_count_);
  // Never short: the fill ring has room for every RX frame.
  if (xsk_ring_prod__reserve(&rings_->fill, n, &idx) != n) return;
  for (std::uint32_t i = 0; i < n; ++i) {
    *xsk_ring_prod__fill_addr(&rings_->fill, idx + i) = held_[i];
  }
  xsk_ring_prod__submit(&rings_->fill, n);
  held_count_ = 0;
}

void AfXdpDatagramIo::RefreshStatistics() {
  xdp_statistics stats{};
  socklen_t len = sizeof stats;
  if (::getsockopt(fd_, SOL_XDP, XDP_STATISTICS, &stats, &len) != 0) return;
  // Each kernel count goes to its own counter; drops() adds both once.
  if (stats.rx_ring_full > ring_full_seen_) {
    const std::uint64_t d = stats.rx_ring_full - ring_full_seen_;
    counters_.rx_ring_full.Add(d);
    kernel_drops_ += d;
    ring_full_seen_ = stats.rx_ring_full;
  }
  if (stats.rx_dropped > dropped_seen_) {
    const std::uint64_t d = stats.rx_dropped - dropped_seen_;
    counters_.rx_kernel_dropped.Add(d);
    kernel_drops_ += d;
    dropped_seen_ = stats.rx_dropped;
  }
  if (stats.rx_fill_ring_empty_descs > fill_empty_seen_) {
    counters_.fill_empty.Add(stats.rx_fill_ring_empty_descs - fill_empty_seen_);
    fill_empty_seen_ = stats.rx_fill_ring_empty_descs;
  }
}

std::uint64_t AfXdpDatagramIo::drops() const {
  return kernel_drops_ + parse_drops_;
}

RxDrop AfXdpDatagramIo::Classify(FrameKind kind, const UdpFrame& udp) const {
  switch (kind) {
    case FrameKind::kUdp:
      if (udp.destination_port != options_.port ||
          (options_.address_be != 0 &&
           udp.destination_be != options_.address_be)) {
        return RxDrop::kWrongPort;
      }
      return RxDrop::kCount;  // ours
    case FrameKind::kArp:
    case FrameKind::kNotIpv4:
      return RxDrop::kNotIpv4;
    case FrameKind::kNotUdp:
      return RxDrop::kNotUdp;
    case FrameKind::kFragment:
      return RxDrop::kFragment;
    case FrameKind::kMalformed:
      return RxDrop::kMalformed;
    case FrameKind::kBadChecksum:
      return RxDrop::kBadChecksum;
  }
  return RxDrop::kMalformed;
}

int AfXdpDatagramIo::Receive(std::span<io::RxDatagram> out) {
  RecycleHeld();
  if (tx_outstanding_ != 0) ReapCompletions();
  if (tx_kick_pending_) KickTx();
  if (xsk_ring_prod__needs_wakeup(&rings_->fill)) {
    ::recvfrom(fd_, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    counters_.rx_wakeups.Add();
  }
  const std::uint64_t frame_mask =
      ~static_cast<std::uint64_t>(options_.frame_size - 1);
  int delivered = 0;
  std::uint32_t taken = 0;
  std::uint64_t bytes = 0;
  bool drained = false;
  // Frames this path drops (wrong port, bad checksum) do not fill `out`:
  // peek again until it is full or the ring is empty, so a short return
  // always means "drained" (edge-triggered readiness relies on it).
  while (static_cast<std::size_t>(delivered) < out.size()) {
    // held_ has room for every RX frame; any not yet back in the fill ring
    // (never expected: the ring has room for all of them) limit the take.
    const std::uint32_t want = static_cast<std::uint32_t>(
        std::min<std::size_t>(out.size() - static_cast<std::size_t>(delivered),
                              rx_frames_ - held_count_));
    std::uint32_t idx = 0;
    const std::uint32_t n =
        want == 0 ? 0 : xsk_ring_cons__peek(&rings_->rx, want, &idx);
    for (std::uint32_t i = 0; i < n; ++i) {
      const xdp_desc* desc = xsk_ring_cons__rx_desc(&rings_->rx, idx + i);
      held_[held_count_++] = desc->addr & frame_mask;
      bytes += desc->len;
      const std::span<const std::byte> frame(umem_area_ + desc->addr,
                                             desc->len);
      UdpFrame udp;
      const RxDrop reason = Classify(ParseFrame(frame, &udp), udp);
      if (reason != RxDrop::kCount) {
        counters_.rx_drops[static_cast<std::size_t>(reason)].Add();
        ++parse_drops_;
        continue;
      }
      io::RxDatagram& d = out[static_cast<std::size_t>(delivered++)];
      d.truncated = udp.payload.size() > options_.max_datagram_bytes;
      d.bytes = d.truncated ? udp.payload.first(options_.max_datagram_bytes)
                            : udp.payload;
      d.source = io::Endpoint{udp.source_be, udp.source_port};
    }
    if (n != 0) xsk_ring_cons__release(&rings_->rx, n);
    taken += n;
    if (n < want || want == 0) {
      drained = true;
      break;
    }
  }
  if (taken != 0) {
    counters_.rx_packets.Add(taken);
    counters_.rx_bytes.Add(bytes);
  }
  // Drained: bring the kernel's drop counts up to date, at most once per
  // millisecond when nothing arrives.
  if (drained) {
    const std::int64_t now = base::MonotonicNs();
    if (taken != 0 || now - last_statistics_ns_ >= 1'000'000) {
      last_statistics_ns_ = now;
      RefreshStatistics();
    }
  }
  return delivered;
}

void AfXdpDatagramIo::ReapCompletions() {
  std::uint32_t idx = 0;
  const std::uint32_t n =
      xsk_ring_cons__peek(&rings_->comp, options_.completion_ring, &idx);
  if (n == 0) return;
  const std::uint64_t frame_mask =
      ~static_cast<std::uint64_t>(options_.frame_size - 1);
  for (std::uint32_t i = 0; i < n; ++i) {
    tx_free_[tx_free_count_++] =
        *xsk_ring_cons__comp_addr(&rings_->comp, idx + i) & frame_mask;
  }
  xsk_ring_cons__release(&rings_->comp, n);
  tx_outstanding_ -= std::min(tx_outstanding_, n);
}

void AfXdpDatagramIo::KickTx() {
  tx_kick_pending_ = false;
  if (!xsk_ring_prod__needs_wakeup(&rings_->tx)) return;
  if (options_.tx_kicks_per_call == AfXdpQueueOptions::kTxKicksNone) {
    tx_kick_pending_ = true;
    return;
  }
  // Copy mode transmits at most 32 descriptors per kick and says EAGAIN
  // while more remain; bounded, and resumed on the next call if still busy.
  const std::uint32_t limit = options_.tx_kicks_per_call != 0
                                  ? options_.tx_kicks_per_call
                                  : tx_outstanding_ / 32 + 4;
  for (std::uint32_t i = 0; i < limit; ++i) {
    counters_.tx_wakeups.Add();
    if (::sendto(fd_, nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) return;
    if (errno != EAGAIN && errno != EBUSY && errno != EINTR) return;
    ReapCompletions();
  }
  tx_kick_pending_ = true;
}

io::TxRunResult AfXdpDatagramIo::SendThroughKernel(const io::TxRun& run) {
  io::TxRunResult result;
  const sockaddr_in to = run.destination.ToSockaddr();
  for (const io::TxDatagram& d : run.datagrams) {
    iovec iov[2] = {{const_cast<std::byte*>(d.head.data()), d.head.size()},
                    {const_cast<std::byte*>(d.body.data()), d.body.size()}};
    msghdr msg{};
    msg.msg_name = const_cast<sockaddr_in*>(&to);
    msg.msg_namelen = sizeof to;
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    if (::sendmsg(kernel_fd_, &msg, MSG_DONTWAIT) < 0) {
      result.status = (errno == EAGAIN || errno == ENOBUFS)
                          ? io::TxRunResult::Status::kFull
                          : io::TxRunResult::Status::kFailed;
      return result;
    }
    ++result.sent;
  }
  return result;
}

void AfXdpDatagramIo::Send(std::span<const io::TxRun> runs,
                           std::span<io::TxRunResult> results) {
  // Frames queued by an earlier call may still wait for a kick (the kernel
  // was busy, or asks for a wakeup): kick them now, whether or not this
  // call posts anything, so a gateway that only sends never stalls on a
  // full ring waiting for a Receive to kick it.
  ReapCompletions();
  if (tx_outstanding_ != 0 &&
      (tx_kick_pending_ || xsk_ring_prod__needs_wakeup(&rings_->tx))) {
    KickTx();
    ReapCompletions();
  }
  const std::int64_t now = base::MonotonicNs();
  std::size_t max_payload =
      std::min<std::size_t>(65507, options_.frame_size - kUdpFrameOverhead);
  if (const auto ip_and_udp =
          static_cast<int>(kIpv4HeaderBytes + kUdpHeaderBytes);
      options_.mtu > ip_and_udp) {
    max_payload = std::min<std::size_t>(
        max_payload, static_cast<std::size_t>(options_.mtu - ip_and_udp));
  }
  bool posted = false;
  bool full = false;  // a run found the TX ring or frames exhausted
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const io::TxRun& run = runs[r];
    io::TxRunResult& result = results[r];
    result = {};
    const std::uint32_t dest = run.destination.address_be;
    if (run.destination.port == 0 || dest == 0 || run.channel < 0 ||
        static_cast<std::size_t>(run.channel) >= channels_.size()) {
      result.status = io::TxRunResult::Status::kFailed;
      continue;
    }
    MacAddress mac;
    if (IsMulticastIpv4(dest)) {
      mac = MulticastMac(dest);
    } else if (dest == INADDR_BROADCAST) {
      mac.bytes = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    } else if (const std::optional<MacAddress> m =
                   neighbours_.Lookup(dest, now);
               m.has_value()) {
      mac = *m;
    } else {
      result = SendThroughKernel(run);
      counters_.tx_no_neighbour.Add(run.datagrams.size());
      continue;
    }
    if (full && !run.datagrams.empty()) {
      // Nothing was freed since: do not kick and reap again for every run.
      result.status = io::TxRunResult::Status::kFull;
      counters_.tx_ring_full.Add(run.datagrams.size());
      continue;
    }
    const int ttl = channels_[static_cast<std::size_t>(run.channel)].ttl;
    UdpAddressing a;
    a.source_mac = options_.mac;
    a.destination_mac = mac;
    a.source_be = options_.source_be;
    a.destination_be = dest;
    a.source_port = options_.port;
    a.destination_port = run.destination.port;

    std::size_t next = 0;
    const std::size_t total = run.datagrams.size();
    bool retried = false;
    while (next < total) {
      // The prefix of what is left that fits a frame.
      std::size_t fit = next;
      while (fit < total && run.datagrams[fit].size() <= max_payload) ++fit;
      if (fit == next) {
        // Larger than the MTU or a frame: never fragmented, never sent.
        result.status = io::TxRunResult::Status::kFailed;
        counters_.tx_too_large.Add();
        break;
      }
      const auto want = static_cast<std::uint32_t>(
          std::min<std::size_t>(fit - next, tx_free_count_));
      const std::uint32_t room =
          want == 0 ? 0 : xsk_prod_nb_free(&rings_->tx, want);
      const std::uint32_t take = std::min(want, room);
      std::uint32_t idx = 0;
      if (take == 0 ||
          xsk_ring_prod__reserve(&rings_->tx, take, &idx) != take) {
        if (!retried) {
          // Let the kernel catch up once: kick what is queued, reap.
          retried = true;
          if (tx_outstanding_ != 0) KickTx();
          ReapCompletions();
          continue;
        }
        result.status = io::TxRunResult::Status::kFull;
        counters_.tx_ring_full.Add(total - next);
        full = true;
        break;
      }
      std::uint64_t bytes = 0;
      for (std::uint32_t i = 0; i < take; ++i) {
        const io::TxDatagram& d = run.datagrams[next + i];
        const std::uint64_t addr = tx_free_[--tx_free_count_];
        std::byte* frame = umem_area_ + addr;
        a.ip_id = ip_id_++;
        const std::size_t len =
            BuildUdpFrame(std::span<std::byte>(frame, options_.frame_size), a,
                          d.head, d.body);
        if (ttl != 64) {
          std::byte* ip = frame + kEthernetHeaderBytes;
          ip[8] = static_cast<std::byte>(ttl);
          ip[10] = ip[11] = std::byte{0};
          const std::uint16_t sum = Ipv4HeaderChecksum(ip);
          ip[10] = static_cast<std::byte>(sum >> 8);
          ip[11] = static_cast<std::byte>(sum & 0xff);
        }
        xdp_desc* desc = xsk_ring_prod__tx_desc(&rings_->tx, idx + i);
        desc->addr = addr;
        desc->len = static_cast<std::uint32_t>(len);
        bytes += len;
      }
      xsk_ring_prod__submit(&rings_->tx, take);
      tx_outstanding_ += take;
      posted = true;
      counters_.tx_packets.Add(take);
      counters_.tx_bytes.Add(bytes);
      next += take;
      result.sent = static_cast<std::uint32_t>(next);
      retried = false;
    }
  }
  if (posted || tx_kick_pending_) KickTx();
}

absl::StatusOr<int> AfXdpDatagramIo::AddChannel(
    const io::MulticastOptions& options) {
  if (options.ttl < 0 || options.ttl > 255) {
    return absl::InvalidArgumentError("multicast TTL must be 0..255");
  }
  // The frame leaves on the wire: loopback and interface have no meaning
  // here (the group's members are on this interface's link).
  channels_.push_back(Channel{options.ttl});
  return static_cast<int>(channels_.size() - 1);
}

}  // namespace tachyon::fastpath::af_xdp
