// UDP helpers shared by the benchmarks (bench/micro and bench/latency): a
// loopback address and a preallocated recvmmsg batch.
#ifndef TACHYON_BENCH_COMMON_UDP_BATCH_H_
#define TACHYON_BENCH_COMMON_UDP_BATCH_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tachyon::bench {

/// 127.0.0.1:`port` (0: any port, for bind).
inline sockaddr_in Loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

/// recvmmsg state allocated once: kBatch buffers of kSlot bytes (larger than
/// the 1472-byte default datagram).
class ReceiveBatch {
 public:
  static constexpr int kBatch = 64;
  static constexpr std::size_t kSlot = 2048;

  ReceiveBatch() : storage_(kBatch * kSlot) {
    for (int i = 0; i < kBatch; ++i) {
      iov_[i] = {storage_.data() + static_cast<std::size_t>(i) * kSlot, kSlot};
      msgs_[i] = {};
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
    }
  }
  ReceiveBatch(const ReceiveBatch&) = delete;
  ReceiveBatch& operator=(const ReceiveBatch&) = delete;

  /// recvmmsg of up to kBatch datagrams with `flags` (MSG_DONTWAIT, or
  /// MSG_WAITFORONE to wait up to SO_RCVTIMEO for the first): the count, or
  /// -1 with errno set.
  int Receive(int fd, int flags) {
    return ::recvmmsg(fd, msgs_.data(), kBatch, flags, nullptr);
  }
  /// Datagram `i` of the last Receive; valid until the next one.
  [[nodiscard]] std::span<const std::byte> Datagram(int i) const {
    return {storage_.data() + static_cast<std::size_t>(i) * kSlot,
            msgs_[i].msg_len};
  }

 private:
  std::vector<std::byte> storage_;
  std::array<iovec, kBatch> iov_;
  std::array<mmsghdr, kBatch> msgs_;
};

}  // namespace tachyon::bench

#endif  // TACHYON_BENCH_COMMON_UDP_BATCH_H_
