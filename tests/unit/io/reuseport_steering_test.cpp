// SteerUdpByProducer (PROTOCOL.md 16.7): the classic BPF program on a
// SO_REUSEPORT group sends a version-2 datagram to socket producer_id mod
// N and a version-1 datagram to socket (low 32 bits of source_id) mod N,
// whatever the source port; a datagram too short for a header is still
// delivered (the kernel's hash picks). Checks the offsets and byte order
// the kernel really gives the program (UDP payload from 0, little-endian
// fields assembled from bytes).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "config/model.h"
#include "gtest/gtest.h"
#include "io/datagram_socket.h"
#include "io/socket.h"
#include "support/net.h"

namespace tachyon::io {
namespace {

constexpr int kSockets = 2;

class ReuseportSteeringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::SocketOptions tuning;
    absl::StatusOr<int> first = OpenUdpReceiveSocket("127.0.0.1", 0, tuning);
    ASSERT_TRUE(first.ok()) << first.status();
    fds_[0] = *first;
    port_ = *LocalPort(fds_[0]);
    for (int i = 1; i < kSockets; ++i) {
      absl::StatusOr<int> fd = OpenUdpReceiveSocket("127.0.0.1", port_, tuning);
      ASSERT_TRUE(fd.ok()) << fd.status();
      fds_[static_cast<std::size_t>(i)] = *fd;
    }
    ASSERT_TRUE(SteerUdpByProducer(fds_[0], kSockets).ok());
  }
  void TearDown() override {
    for (int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }

  // Sends `bytes` from a fresh socket (a new source port) and returns the
  // index of the group socket it arrived on, or -1.
  int Deliver(const std::vector<std::byte>& bytes) {
    testing::UdpSocket sender;
    if (!sender.SendTo(port_, bytes)) return -1;
    std::array<pollfd, kSockets> p{};
    for (int i = 0; i < kSockets; ++i) {
      p[static_cast<std::size_t>(i)] = {.fd = fds_[static_cast<std::size_t>(i)],
                                        .events = POLLIN};
    }
    if (::poll(p.data(), p.size(), 3000) <= 0) return -1;
    for (int i = 0; i < kSockets; ++i) {
      if (p[static_cast<std::size_t>(i)].revents & POLLIN) {
        std::array<std::byte, 2048> buf;
        (void)::recv(fds_[static_cast<std::size_t>(i)], buf.data(), buf.size(),
                     MSG_DONTWAIT);
        return i;
      }
    }
    return -1;
  }

  static void PutLe32(std::vector<std::byte>& d, std::size_t at,
                      std::uint32_t v) {
    for (int b = 0; b < 4; ++b) {
      d[at + static_cast<std::size_t>(b)] =
          static_cast<std::byte>(v >> (8 * b));
    }
  }

  std::array<int, kSockets> fds_{-1, -1};
  std::uint16_t port_ = 0;
};

TEST_F(ReuseportSteeringTest, Version2GoesToProducerIdModN) {
  for (std::uint32_t id : {1u, 2u, 3u, 4u, 0x01000001u, 0x00000102u}) {
    std::vector<std::byte> d(48);
    d[0] = std::byte{2};
    PutLe32(d, 24, id);
    // The first 8 bytes of source_id say nothing here.
    PutLe32(d, 16, 1000 + id);
    for (int i = 0; i < 8; ++i) {
      EXPECT_EQ(Deliver(d), static_cast<int>(id % kSockets)) << "id " << id;
    }
  }
}

TEST_F(ReuseportSteeringTest, Version1GoesToSourceIdLowBitsModN) {
  for (std::uint32_t low : {1u, 2u, 0x00000103u, 0xfffffffeu}) {
    std::vector<std::byte> d(40);
    d[0] = std::byte{1};
    PutLe32(d, 16, low);
    PutLe32(d, 20, 0x0f0f0f0f);  // high half: not used
    for (int i = 0; i < 8; ++i) {
      EXPECT_EQ(Deliver(d), static_cast<int>(low % kSockets)) << low;
    }
  }
}

TEST_F(ReuseportSteeringTest, ShortAndForeignDatagramsAreStillDelivered) {
  for (std::size_t size : {std::size_t{1}, std::size_t{23}, std::size_t{30}}) {
    std::vector<std::byte> d(size, std::byte{2});
    EXPECT_GE(Deliver(d), 0) << size;
  }
  std::vector<std::byte> other(64, std::byte{9});
  EXPECT_GE(Deliver(other), 0);
}

}  // namespace
}  // namespace tachyon::io
