#include "io/datagram_socket.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/strings.h"
#include "io/socket.h"

namespace tachyon::io {
namespace {

constexpr std::size_t kRxControl = CMSG_SPACE(sizeof(std::uint32_t));
constexpr std::size_t kGsoControl = CMSG_SPACE(sizeof(std::uint16_t));
// The kernel's UDP_MAX_SEGMENTS on older kernels, and a total that stays
// below the 64 KiB an IP packet (before segmentation) may carry.
constexpr std::uint32_t kMaxGsoSegments = 64;
constexpr std::size_t kMaxGsoBytes = 65000;

std::atomic<bool> g_gso_failure_logged{false};

absl::Status Errno(std::string_view what, int err) {
  return absl::InternalError(
      absl::StrCat(AbslView(what), ": ", std::strerror(err)));
}

// The [socket] options that make sense for UDP: no TCP_NODELAY, no
// SO_INCOMING_CPU (datagrams are spread by SO_REUSEPORT's hash).
config::SocketOptions ForUdp(config::SocketOptions o) {
  o.tcp_nodelay = false;
  o.incoming_cpu = false;
  return o;
}

bool GsoAvailable(int fd) {
  int segment = 0;
  socklen_t len = sizeof segment;
  return ::getsockopt(fd, SOL_UDP, UDP_SEGMENT, &segment, &len) == 0;
}

}  // namespace

absl::Status SteerUdpByProducer(int fd, int sockets) {
  if (sockets < 2) return absl::OkStatus();
  // For a reuseport program on UDP the kernel pulls the UDP header first:
  // absolute offsets count from the first payload byte, and BPF_LEN is the
  // payload length. Integers in a datagram are little-endian (PROTOCOL.md
  // 1); BPF_ABS word loads are big-endian, so the u32 is assembled from
  // its bytes. A load past the end would end the program with 0 (socket
  // 0), hence the length checks first.
  constexpr std::uint32_t kV1Header = 24;  // PROTOCOL.md 16.1
  constexpr std::uint32_t kV2Header = 32;  // PROTOCOL.md 16.7
  constexpr std::uint32_t kSourceId = 16;  // low half of the u64
  constexpr std::uint32_t kProducerId = 24;
  const auto n = static_cast<std::uint32_t>(sockets);
  const auto load_le32 = [](std::uint32_t off, sock_filter* out) {
    const sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, off + 3),
        BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 8),
        BPF_STMT(BPF_MISC | BPF_TAX, 0),
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, off + 2),
        BPF_STMT(BPF_ALU | BPF_OR | BPF_X, 0),
        BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 8),
        BPF_STMT(BPF_MISC | BPF_TAX, 0),
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, off + 1),
        BPF_STMT(BPF_ALU | BPF_OR | BPF_X, 0),
        BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 8),
        BPF_STMT(BPF_MISC | BPF_TAX, 0),
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, off),
        BPF_STMT(BPF_ALU | BPF_OR | BPF_X, 0),
    };
    std::copy(std::begin(code), std::end(code), out);
  };
  constexpr int kLoad = 13;
  //  0 len; 1 len >= 24?; 2 version; 3 is 1? -> 6; 4 is 2? -> 20;
  //  5 fall back; 6..18 source_id low 32 bits; 19 -> 36;
  // 20 len; 21 len >= 32? -> 23; 22 fall back; 23..35 producer_id;
  // 36 mod n; 37 return it.
  std::array<sock_filter, 38> prog{};
  prog[0] = BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0);
  prog[1] = BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, kV1Header, 0, 3);
  prog[2] = BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0);
  prog[3] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 2, 0);
  prog[4] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 2, 15, 0);
  prog[5] = BPF_STMT(BPF_RET | BPF_K, n);
  load_le32(kSourceId, &prog[6]);
  prog[6 + kLoad] = BPF_STMT(BPF_JMP | BPF_JA, 16);
  prog[20] = BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0);
  prog[21] = BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, kV2Header, 1, 0);
  prog[22] = BPF_STMT(BPF_RET | BPF_K, n);
  load_le32(kProducerId, &prog[23]);
  prog[23 + kLoad] = BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, n);
  prog[37] = BPF_STMT(BPF_RET | BPF_A, 0);
  sock_fprog fprog{.len = static_cast<unsigned short>(prog.size()),
                   .filter = prog.data()};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog,
                   sizeof fprog) != 0) {
    return Errno("setsockopt(SO_ATTACH_REUSEPORT_CBPF)", errno);
  }
  return absl::OkStatus();
}

absl::StatusOr<int> OpenUdpReceiveSocket(const std::string& bind,
                                         std::uint16_t port,
                                         const config::SocketOptions& tuning) {
  in_addr v4;
  if (::inet_pton(AF_INET, bind.c_str(), &v4) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("udp bind address '", bind, "' is not an IPv4 literal"));
  }
  absl::StatusOr<int> fd = OpenReusePortSocket(SOCK_DGRAM, bind, port);
  if (!fd.ok()) return fd.status();
  // The kernel's count of datagrams dropped for this socket (full receive
  // buffer) then rides along with every datagram as SCM control data.
  const int one = 1;
  if (::setsockopt(*fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) != 0) {
    const int err = errno;
    ::close(*fd);
    return Errno("setsockopt(SO_RXQ_OVFL)", err);
  }
  config::SocketOptions o = ForUdp(tuning);
  o.send_buffer_bytes = 0;
  if (absl::Status s = TuneSocket(*fd, o, -1); !s.ok()) {
    ::close(*fd);
    return s;
  }
  return *fd;
}

SocketDatagramIo::SocketDatagramIo(const SocketDatagramOptions& o)
    : receive_fd_(o.receive_fd),
      receive_batch_(std::max(1, o.receive_batch)),
      max_datagram_(o.max_datagram_bytes),
      send_tuning_(ForUdp(o.send_tuning)) {
  if (receive_fd_ < 0) return;
  const auto n = static_cast<std::size_t>(receive_batch_);
  rx_buffers_.resize(n * max_datagram_);
  rx_control_.resize(n * kRxControl);
  rx_iov_.resize(n);
  rx_names_.resize(n);
  rx_msgs_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    rx_iov_[i] = {rx_buffers_.data() + i * max_datagram_, max_datagram_};
  }
}

SocketDatagramIo::~SocketDatagramIo() {
  for (const Channel& c : channels_) ::close(c.fd);
}

absl::StatusOr<std::unique_ptr<SocketDatagramIo>> SocketDatagramIo::Create(
    const SocketDatagramOptions& options) {
  std::unique_ptr<SocketDatagramIo> io(new SocketDatagramIo(options));
  absl::StatusOr<int> unicast = io->OpenChannel(nullptr);
  if (!unicast.ok()) return unicast.status();
  io->gso_ = options.gso && io->channels_[0].gso;
  return io;
}

absl::StatusOr<int> SocketDatagramIo::AddChannel(
    const MulticastOptions& options) {
  return OpenChannel(&options);
}

absl::StatusOr<int> SocketDatagramIo::OpenChannel(
    const MulticastOptions* multicast) {
  const int fd =
      ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket(udp send)", errno);
  config::SocketOptions o = send_tuning_;
  o.recv_buffer_bytes = 0;
  if (absl::Status s = TuneSocket(fd, o, -1); !s.ok()) {
    ::close(fd);
    return s;
  }
  if (multicast != nullptr) {
    const int ttl = multicast->ttl;
    const unsigned char loop = multicast->loopback ? 1 : 0;
    in_addr iface{};
    iface.s_addr = multicast->interface_be;
    const char* failed = nullptr;
    if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) != 0) {
      failed = "setsockopt(IP_MULTICAST_TTL)";
    } else if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop,
                            sizeof loop) != 0) {
      failed = "setsockopt(IP_MULTICAST_LOOP)";
    } else if (multicast->interface_be != 0 &&
               ::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &iface,
                            sizeof iface) != 0) {
      failed = "setsockopt(IP_MULTICAST_IF)";
    }
    if (failed != nullptr) {
      const int err = errno;
      ::close(fd);
      return Errno(failed, err);
    }
  }
  channels_.push_back({fd, GsoAvailable(fd)});
  return static_cast<int>(channels_.size() - 1);
}

int SocketDatagramIo::Receive(std::span<RxDatagram> out) {
  if (receive_fd_ < 0 || out.empty()) return 0;
  const std::size_t batch =
      std::min(out.size(), static_cast<std::size_t>(receive_batch_));
  // recvmmsg overwrites msg_len, msg_flags, msg_namelen and msg_controllen:
  // reset them.
  for (std::size_t i = 0; i < batch; ++i) {
    msghdr& h = rx_msgs_[i].msg_hdr;
    h = {};
    h.msg_name = &rx_names_[i];
    h.msg_namelen = sizeof rx_names_[i];
    h.msg_iov = &rx_iov_[i];
    h.msg_iovlen = 1;
    h.msg_control = rx_control_.data() + i * kRxControl;
    h.msg_controllen = kRxControl;
  }
  int got;
  do {
    got = ::recvmmsg(receive_fd_, rx_msgs_.data(), static_cast<unsigned>(batch),
                     MSG_DONTWAIT, nullptr);
  } while (got < 0 && errno == EINTR);
  if (got <= 0) return 0;  // EAGAIN, or an error readiness will repeat
  for (int i = 0; i < got; ++i) {
    const auto n = static_cast<std::size_t>(i);
    msghdr& h = rx_msgs_[n].msg_hdr;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
        std::uint32_t dropped;
        std::memcpy(&dropped, CMSG_DATA(c), sizeof dropped);
        // Wraps at 2^32 like the kernel's counter; the difference does not.
        drops_ += dropped - kernel_drops_seen_;
        kernel_drops_seen_ = dropped;
      }
    }
    out[n] = {{static_cast<const std::byte*>(rx_iov_[n].iov_base),
               std::min<std::size_t>(rx_msgs_[n].msg_len, max_datagram_)},
              Endpoint::FromSockaddr(rx_names_[n]),
              (h.msg_flags & MSG_TRUNC) != 0};
  }
  return got;
}

void SocketDatagramIo::Grow(std::size_t datagrams) {
  if (tx_msgs_.size() >= datagrams) return;
  tx_iov_.resize(2 * datagrams);
  tx_msgs_.resize(datagrams);
  tx_info_.resize(datagrams);
  tx_control_.resize(datagrams * kGsoControl);
}

std::size_t SocketDatagramIo::BuildMessages(std::span<const TxRun> runs) {
  std::size_t total = 0;
  for (const TxRun& r : runs) total += r.datagrams.size();
  Grow(total);
  if (tx_names_.size() < runs.size()) tx_names_.resize(runs.size());
  std::size_t m = 0;
  std::size_t v = 0;
  for (std::uint32_t ri = 0; ri < runs.size(); ++ri) {
    const TxRun& run = runs[ri];
    tx_names_[ri] = run.destination.ToSockaddr();
    const bool gso =
        gso_ && channels_[static_cast<std::size_t>(run.channel)].gso;
    const std::span<const TxDatagram> d = run.datagrams;
    std::uint32_t i = 0;
    while (i < d.size()) {
      std::uint32_t end = i + 1;
      if (gso) {
        // A run of equal-sized datagrams (the last may be shorter) in one
        // message; the kernel cuts it at every segment-size bytes.
        const std::size_t size = d[i].size();
        std::size_t bytes = size;
        while (end < d.size() && end - i < kMaxGsoSegments &&
               bytes + d[end].size() <= kMaxGsoBytes && d[end].size() <= size) {
          const bool shorter = d[end].size() < size;
          bytes += d[end].size();
          ++end;
          if (shorter) break;
        }
      }
      msghdr& h = tx_msgs_[m].msg_hdr;
      h = {};
      h.msg_name = &tx_names_[ri];
      h.msg_namelen = sizeof tx_names_[ri];
      h.msg_iov = &tx_iov_[v];
      for (std::uint32_t k = i; k < end; ++k) {
        if (!d[k].head.empty()) {
          tx_iov_[v++] = {const_cast<std::byte*>(d[k].head.data()),
                          d[k].head.size()};
        }
        if (!d[k].body.empty()) {
          tx_iov_[v++] = {const_cast<std::byte*>(d[k].body.data()),
                          d[k].body.size()};
        }
      }
      h.msg_iovlen = static_cast<std::size_t>(&tx_iov_[v] - h.msg_iov);
      const bool segmented = end - i > 1;
      if (segmented) {
        std::byte* control = tx_control_.data() + m * kGsoControl;
        std::memset(control, 0, kGsoControl);
        h.msg_control = control;
        h.msg_controllen = kGsoControl;
        cmsghdr* c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
        const auto segment = static_cast<std::uint16_t>(d[i].size());
        std::memcpy(CMSG_DATA(c), &segment, sizeof segment);
      }
      tx_info_[m] = {ri, i, end, segmented};
      ++m;
      i = end;
    }
  }
  return m;
}

void SocketDatagramIo::Send(std::span<const TxRun> runs,
                            std::span<TxRunResult> results) {
  for (std::size_t i = 0; i < runs.size(); ++i) {
    results[i] = {TxRunResult::Status::kSent, 0};
  }
  const std::size_t count = BuildMessages(runs);
  // A run stops at its first message that does not leave: later messages
  // of that run must not overtake it.
  auto stopped = [&](std::uint32_t run) {
    return results[run].status != TxRunResult::Status::kSent;
  };
  std::size_t m = 0;
  while (m < count) {
    if (stopped(tx_info_[m].run)) {
      ++m;
      continue;
    }
    // One sendmmsg per stretch of messages on the same socket.
    const int fd =
        channels_[static_cast<std::size_t>(runs[tx_info_[m].run].channel)].fd;
    std::size_t end = m + 1;
    while (end < count && !stopped(tx_info_[end].run) &&
           channels_[static_cast<std::size_t>(runs[tx_info_[end].run].channel)]
                   .fd == fd) {
      ++end;
    }
    const int sent = ::sendmmsg(fd, &tx_msgs_[m],
                                static_cast<unsigned>(end - m), MSG_DONTWAIT);
    if (sent < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
        // The socket is full: every run of this stretch waits.
        for (std::size_t k = m; k < end; ++k) {
          results[tx_info_[k].run].status = TxRunResult::Status::kFull;
        }
        m = end;
        continue;
      }
      if (tx_info_[m].segmented &&
          (err == EIO || err == EINVAL || err == EOPNOTSUPP)) {
        // The kernel (or the device) refuses segmentation: plain datagrams
        // from the next pass on; this stretch is retried then.
        gso_ = false;
        if (!g_gso_failure_logged.exchange(true, std::memory_order_relaxed)) {
          TACHYON_LOG(kWarn) << "UDP GSO send failed (" << std::strerror(err)
                             << "); sending one datagram per message instead";
        }
        for (std::size_t k = m; k < end; ++k) {
          results[tx_info_[k].run].status = TxRunResult::Status::kFull;
        }
        m = end;
        continue;
      }
      // Anything else (an unreachable destination, say): the rest of this
      // run is lost to its destination, like any UDP loss; go on.
      results[tx_info_[m].run].status = TxRunResult::Status::kFailed;
      ++m;
      continue;
    }
    for (std::size_t k = m; k < m + static_cast<std::size_t>(sent); ++k) {
      const Message& info = tx_info_[k];
      results[info.run].sent = info.end;
      if (info.segmented) ++gso_sends_;
    }
    if (m + static_cast<std::size_t>(sent) < end) {
      // A partial batch: the socket filled up; the rest waits.
      for (std::size_t k = m + static_cast<std::size_t>(sent); k < end; ++k) {
        results[tx_info_[k].run].status = TxRunResult::Status::kFull;
      }
    }
    m = end;
  }
}

}  // namespace tachyon::io
