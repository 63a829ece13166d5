// DatagramIo: batched receive and send of UDP datagrams.
//
// Overview
//   UDP ingress and egress move datagrams only through this interface, so
//   validation, duplicate filtering, packing and fan-out are written once
//   and run over any datagram path: kernel sockets (SocketDatagramIo:
//   recvmmsg, sendmmsg, UDP GSO) today; AF_XDP and DPDK later. One suite of
//   tests (tests/unit/io/datagram_io_test.cpp) runs over every
//   implementation.
//
//   Receive: up to a batch of datagrams at once, each with its source and a
//   truncation flag, in buffers the implementation owns (valid until the
//   next Receive). Drops: datagrams the path lost before we could read them
//   (a full socket buffer, a full RX ring), cumulative.
//
//   Send: runs of datagrams, each run to one destination on one channel
//   (channel 0 is plain unicast; AddChannel makes one with multicast
//   options). A datagram is gathered from two pieces (a header and a body,
//   such as a datagram header and a range of log frames) that the caller
//   keeps valid until Send returns; nothing is copied before the path's own
//   copy. Each run reports how many of its datagrams left and why the rest
//   did not: the path is full (retry later from there), or the run failed
//   (those datagrams are lost, like any UDP loss).
//
// What may block: nothing. Receive and Send return at once.
// Threading: one owner thread (the worker's).
#ifndef TACHYON_IO_DATAGRAM_IO_H_
#define TACHYON_IO_DATAGRAM_IO_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "absl/status/statusor.h"
#include "io/endpoint.h"

namespace tachyon::io {

/// One datagram received.
struct RxDatagram {
  std::span<const std::byte> bytes;  ///< valid until the next Receive
  Endpoint source;
  bool truncated = false;  ///< longer than the receive buffer; cut
};

/// One datagram to send: `head` then `body`, either may be empty.
struct TxDatagram {
  std::span<const std::byte> head;
  std::span<const std::byte> body;
  [[nodiscard]] std::size_t size() const { return head.size() + body.size(); }
};

/// Datagrams for one destination, sent in order.
struct TxRun {
  Endpoint destination;
  int channel = 0;
  std::span<const TxDatagram> datagrams;
};

/// What became of one run.
struct TxRunResult {
  enum class Status : std::uint8_t {
    kSent,    ///< every datagram left
    kFull,    ///< the path is full: datagrams [sent, size) did not leave
    kFailed,  ///< the run failed: datagrams [sent, size) are lost
  };
  Status status = Status::kSent;
  std::uint32_t sent = 0;
};

/// Multicast options of a send channel.
struct MulticastOptions {
  int ttl = 1;
  std::uint32_t interface_be = 0;  ///< INADDR_ANY: the routing table decides
  bool loopback = true;
};

class DatagramIo {
 public:
  virtual ~DatagramIo() = default;

  /// "socket", "af_xdp", "dpdk".
  [[nodiscard]] virtual std::string_view name() const = 0;

  /// Fills `out` with up to out.size() waiting datagrams; returns how many
  /// (0: none waiting; never an error: a failing receive is retried on the
  /// next readiness).
  virtual int Receive(std::span<RxDatagram> out) = 0;
  /// Datagrams lost before they could be received, since creation.
  [[nodiscard]] virtual std::uint64_t drops() const = 0;
  /// A descriptor that becomes readable when datagrams arrive (register it
  /// with the reactor), or -1 if Receive must be polled every pass.
  [[nodiscard]] virtual int readiness_fd() const = 0;

  /// Sends `runs`; `results[i]` says what became of runs[i]
  /// (results.size() >= runs.size()).
  virtual void Send(std::span<const TxRun> runs,
                    std::span<TxRunResult> results) = 0;
  /// A send channel with multicast options; returns its id for TxRun.
  virtual absl::StatusOr<int> AddChannel(const MulticastOptions& options) = 0;
  /// Sends that used segmentation offload (GSO and the like), since
  /// creation.
  [[nodiscard]] virtual std::uint64_t offloaded_sends() const = 0;
};

}  // namespace tachyon::io

#endif  // TACHYON_IO_DATAGRAM_IO_H_
