// SocketDatagramIo: DatagramIo over kernel UDP sockets.
//
// Overview
//   Receive: recvmmsg on one bound socket (a worker's SO_REUSEPORT ingress
//   socket) into buffers allocated once; the kernel's count of datagrams it
//   dropped for a full receive buffer rides along with every datagram
//   (SO_RXQ_OVFL) and accumulates as drops().
//
//   Send: channel 0 is an unbound unicast socket; AddChannel makes one per
//   multicast group (TTL, interface, loopback). Runs become mmsghdrs, and
//   consecutive ones on the same socket go out in one sendmmsg. Where the
//   kernel has UDP GSO (and it is enabled), a run's consecutive datagrams of
//   equal size (the last may be shorter) go as one message with a
//   UDP_SEGMENT control message: the kernel cuts it at the segment size, so
//   a whole run to a destination costs one message. A send the kernel
//   refuses to segment (EIO, EINVAL, EOPNOTSUPP) turns GSO off for good,
//   logged once, and the run is retried plainly on the next pass.
//
// Nothing on the receive or send path allocates once the arrays have grown
// to the largest batch seen.
//
// Threading: one owner thread.
#ifndef TACHYON_IO_DATAGRAM_SOCKET_H_
#define TACHYON_IO_DATAGRAM_SOCKET_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/model.h"
#include "io/datagram_io.h"

namespace tachyon::io {

/// A non-blocking UDP socket bound to bind:port (IPv4) with SO_REUSEADDR
/// and SO_REUSEPORT (one per worker; the kernel spreads datagrams by flow)
/// and SO_RXQ_OVFL, tuned with `tuning` (its receive buffer size, priority
/// and busy polling apply; TCP options do not). Returns the fd.
absl::StatusOr<int> OpenUdpReceiveSocket(const std::string& bind,
                                         std::uint16_t port,
                                         const config::SocketOptions& tuning);

/// Steers every datagram of one producer to one socket of the SO_REUSEPORT
/// group `fd` belongs to, so one worker's dedupe table sees all of them
/// whatever source port they come from (PROTOCOL.md 16.7): attaches a
/// classic BPF program (SO_ATTACH_REUSEPORT_CBPF) that returns
/// producer_id mod `sockets` for a version-2 datagram and the low 32 bits
/// of source_id mod `sockets` for a version-1 one. Anything else (too
/// short, another version) gets an index past the group and the kernel
/// falls back to its 4-tuple hash. The index is a socket's position in the
/// group, its order of binding: open the sockets in worker order, and pass
/// the number still open. Replaces any program attached before; a no-op
/// for `sockets` < 2. Call from the thread that set the group up, before
/// the workers read.
///
///   for (int i = 0; i < n; ++i) fds.push_back(*OpenUdpReceiveSocket(...));
///   if (absl::Status s = SteerUdpByProducer(fds[0], n); !s.ok()) ...
absl::Status SteerUdpByProducer(int fd, int sockets);

struct SocketDatagramOptions {
  /// A bound socket to receive from (see OpenUdpReceiveSocket), borrowed:
  /// the caller closes it after the SocketDatagramIo is gone. -1: send only.
  int receive_fd = -1;
  /// Datagrams per recvmmsg.
  int receive_batch = 64;
  /// Receive buffer per datagram; longer datagrams arrive truncated.
  std::uint32_t max_datagram_bytes = 1472;
  /// Use UDP GSO where the kernel has it.
  bool gso = true;
  /// Tuning of the send sockets (send buffer size, priority).
  config::SocketOptions send_tuning;
};

class SocketDatagramIo final : public DatagramIo {
 public:
  /// Creates the unicast send socket and probes GSO.
  static absl::StatusOr<std::unique_ptr<SocketDatagramIo>> Create(
      const SocketDatagramOptions& options);
  ~SocketDatagramIo() override;
  SocketDatagramIo(const SocketDatagramIo&) = delete;
  SocketDatagramIo& operator=(const SocketDatagramIo&) = delete;

  // DatagramIo
  [[nodiscard]] std::string_view name() const override { return "socket"; }
  int Receive(std::span<RxDatagram> out) override;
  [[nodiscard]] std::uint64_t drops() const override { return drops_; }
  [[nodiscard]] int readiness_fd() const override { return receive_fd_; }
  void Send(std::span<const TxRun> runs,
            std::span<TxRunResult> results) override;
  absl::StatusOr<int> AddChannel(const MulticastOptions& options) override;
  [[nodiscard]] std::uint64_t offloaded_sends() const override {
    return gso_sends_;
  }

  /// False once the kernel refused a UDP_SEGMENT send (or never had it).
  [[nodiscard]] bool gso_active() const { return gso_; }

 private:
  struct Channel {
    int fd = -1;
    bool gso = false;
  };
  // One mmsghdr of the current Send: datagrams [first, end) of run `run`.
  struct Message {
    std::uint32_t run;
    std::uint32_t first;
    std::uint32_t end;
    bool segmented;
  };

  explicit SocketDatagramIo(const SocketDatagramOptions& options);
  absl::StatusOr<int> OpenChannel(const MulticastOptions* multicast);
  std::size_t BuildMessages(std::span<const TxRun> runs);
  void Grow(std::size_t datagrams);

  const int receive_fd_;
  const int receive_batch_;
  const std::uint32_t max_datagram_;
  const config::SocketOptions send_tuning_;
  bool gso_ = false;
  std::vector<Channel> channels_;
  std::uint64_t drops_ = 0;
  std::uint32_t kernel_drops_seen_ = 0;  // SO_RXQ_OVFL is cumulative, u32
  std::uint64_t gso_sends_ = 0;

  // Receive, allocated once.
  std::vector<std::byte> rx_buffers_;
  std::vector<std::byte> rx_control_;
  std::vector<iovec> rx_iov_;
  std::vector<sockaddr_in> rx_names_;
  std::vector<mmsghdr> rx_msgs_;

  // Send, grown to the largest batch seen.
  std::vector<iovec> tx_iov_;
  std::vector<sockaddr_in> tx_names_;  // one per run
  std::vector<mmsghdr> tx_msgs_;
  std::vector<Message> tx_info_;
  std::vector<std::byte> tx_control_;  // one UDP_SEGMENT cmsg per message
};

}  // namespace tachyon::io

#endif  // TACHYON_IO_DATAGRAM_SOCKET_H_
