// Internal: the UdpSubscriber's socket — binding (unicast, or a joined
// multicast group) and reading datagrams in recvmmsg batches into buffers
// allocated once. It knows nothing of streams or sequences.
#ifndef TACHYON_CLIENTS_CPP_SRC_UDP_RECEIVER_H_
#define TACHYON_CLIENTS_CPP_SRC_UDP_RECEIVER_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "socket.h"
#include "tachyon/client/udp_subscriber.h"

namespace tachyon::client::internal {

/// One datagram of the current batch; `bytes` stays valid until the next
/// call of Next() that reads a new batch.
struct ReceivedDatagram {
  std::span<const std::byte> bytes;
  bool truncated = false;  ///< longer than the receive slot (MSG_TRUNC)
};

/// The socket's datagram drops as a 64-bit total that never goes backwards.
/// SO_RXQ_OVFL reports the kernel's running u32 count, which wraps; the u32
/// difference between two reports does not (the gateway's UDP ingress
/// counts the same way).
class KernelDropCounter {
 public:
  /// Takes the running count carried by a received datagram.
  void Update(std::uint32_t running) {
    total_ += static_cast<std::uint32_t>(running - last_);
    last_ = running;
  }
  [[nodiscard]] std::uint64_t total() const { return total_; }

 private:
  std::uint32_t last_ = 0;  // a new socket's count starts at 0
  std::uint64_t total_ = 0;
};

class UdpReceiver {
 public:
  /// Opens and binds the socket per `options` and allocates the batch.
  /// `tcp_fd` is the Client's connection: an empty bind_address means its
  /// local address. INVALID_ARGUMENT for bad options, UNAVAILABLE (with the
  /// errno text) when the socket cannot be bound or the group joined.
  absl::Status Open(const UdpSubscriberOptions& options, int tcp_fd);

  /// Starts a round of Next() calls (one Poll): at most a few recvmmsg calls
  /// per round, so that datagrams that deliver nothing cannot keep a Poll
  /// from returning.
  void BeginRound() { reads_ = 0; }
  /// The next datagram not yet handed out, reading a batch when the current
  /// one is used up; nullopt once the socket is empty or the round's reads
  /// are spent. Never blocks; no allocation.
  std::optional<ReceivedDatagram> Next();

  [[nodiscard]] int fd() const { return fd_.get(); }
  [[nodiscard]] std::uint16_t local_port() const { return local_port_; }
  [[nodiscard]] const std::string& local_address() const { return local_text_; }
  [[nodiscard]] bool multicast() const { return multicast_; }
  /// The address to name in UDP_SUBSCRIBE: all zero when the gateway sees
  /// this socket's address as the TCP session's own.
  [[nodiscard]] std::array<std::uint8_t, 4> request_address() const {
    return request_address_;
  }
  /// The socket's running total of datagrams dropped for lack of room.
  [[nodiscard]] std::uint64_t kernel_drops() const {
    return kernel_drops_.total();
  }

 private:
  /// One recvmmsg; false if nothing arrived (EAGAIN, EINTR: no work).
  bool ReadBatch();

  UniqueFd fd_;
  int batch_ = 0;
  std::string local_text_;
  std::uint16_t local_port_ = 0;
  bool multicast_ = false;
  std::array<std::uint8_t, 4> request_address_{};
  KernelDropCounter kernel_drops_;

  std::size_t slot_ = 0;
  std::vector<std::byte> buffers_;
  std::vector<iovec> iovecs_;
  std::vector<mmsghdr> headers_;
  // SO_RXQ_OVFL control messages, one per slot.
  using Control = std::array<std::byte, CMSG_SPACE(sizeof(std::uint32_t))>;
  std::vector<Control> controls_;
  int filled_ = 0;     // datagrams in the batch
  int next_slot_ = 0;  // the first not yet handed out
  int reads_ = 0;      // recvmmsg calls this round
};

}  // namespace tachyon::client::internal

#endif  // TACHYON_CLIENTS_CPP_SRC_UDP_RECEIVER_H_
