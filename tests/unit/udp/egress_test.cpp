// UdpEgress driven directly, without a worker: a cursor the writer has left
// too far behind jumps forward (counted) before anything is sent, so no
// datagram carries bytes the writer could overwrite during the send, and
// what goes out is whole, in order, and numbered as the log numbered it.
#include "udp/egress.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <utility>
#include <vector>

#include "config/model.h"
#include "gtest/gtest.h"
#include "io/datagram_socket.h"
#include "io/socket.h"
#include "stream/stream_registry.h"
#include "support/require.h"
#include "tachyon/protocol/datagram.h"
#include "udp/udp_counters.h"

namespace tachyon::udp {
namespace {

namespace tp = tachyon::protocol;

// A bound loopback UDP socket with a large receive buffer.
class Receiver {
 public:
  Receiver() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const int big = 4 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      port_ = io::LocalPort(fd_).value_or(0);
    }
  }
  ~Receiver() { ::close(fd_); }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  [[nodiscard]] Endpoint endpoint() const {
    return Endpoint{htonl(INADDR_LOOPBACK), port_};
  }
  [[nodiscard]] std::uint16_t port() const { return port_; }

  // Reads DATA datagrams (at most `max`, waiting up to 200 ms for each) and
  // checks they are whole and contiguous from the first one's sequence.
  // Returns {first sequence, messages}; messages is 0 if none came.
  std::pair<std::uint64_t, std::uint64_t> ReadContiguous(int max) {
    std::uint64_t first = 0;
    std::uint64_t expected = 0;
    std::vector<std::byte> buf(65536);
    for (int i = 0; i < max; ++i) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) break;
      const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
      if (n <= 0) break;
      const tp::DatagramResult r =
          tp::DecodeDatagram({buf.data(), static_cast<std::size_t>(n)}, 65536);
      EXPECT_EQ(r.error, tp::ErrorCode::kNone);
      EXPECT_LE(n, 1472);
      if (r.error != tp::ErrorCode::kNone) break;
      if (r.view.kind() != tp::DatagramKind::kData) continue;
      if (first == 0) first = expected = r.view.first_sequence().value();
      EXPECT_EQ(r.view.first_sequence().value(), expected);
      expected += r.view.message_count();
    }
    return {first, expected - first};
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

TEST(UdpEgressTest, CursorTooFarBehindJumpsAheadBeforeSending) {
  config::GatewayConfig config;
  config.udp.enabled = true;
  config.udp.gso = false;
  config.max_frame_length = 4096;  // lets the ring be small
  config.default_stream.capacity_bytes = 64 * 1024;
  config.default_stream.window_bytes = 16 * 1024;
  base::CounterRegistry metrics;
  stream::StreamRegistry registry(config, metrics);
  absl::StatusOr<stream::StreamLog*> log = registry.Open("udp.behind");
  ASSERT_TRUE(log.ok()) << log.status();

  Receiver receiver;
  ASSERT_NE(receiver.port(), 0);

  UdpCounters counters(metrics, 0);
  auto io = io::SocketDatagramIo::Create({.gso = config.udp.gso});
  ASSERT_TRUE(io.ok()) << io.status();
  UdpEgress egress(config, **io, /*source_id=*/99, counters);
  egress.Add(*log, receiver.endpoint(), (*log)->next_sequence());

  // 56 KiB of 64-byte frames appended before the egress runs: more than
  // capacity - window (48 KiB) behind, though not yet lapped.
  const std::array<std::byte, 32> payload{};
  constexpr int kMessages = 56 * 1024 / 64;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ((*log)->Append(payload, 1).status, stream::AppendStatus::kOk);
  }
  for (int i = 0; i < 1000 && egress.HasBacklog(); ++i) egress.DoWork(1);
  ASSERT_FALSE(egress.HasBacklog());
  EXPECT_EQ(counters.Snapshot().lapped, 1u);

  // The first datagram starts at the oldest replayable sequence, at most
  // capacity - window behind the tail; the rest follow without a hole.
  const auto [first, messages] = receiver.ReadContiguous(kMessages);
  EXPECT_GE(first, std::uint64_t{kMessages} + 1 - 48 * 1024 / 64);
  EXPECT_EQ(first + messages, std::uint64_t{kMessages} + 1);
}

// Regression: with a window under 64 KiB, a cursor relocated to the
// earliest replayable frame must still pin and send (it used to relocate
// to the same place every pass, sending nothing, for good).
TEST(UdpEgressTest, RelocatedCursorSendsWithASmallWindow) {
  config::GatewayConfig config;
  config.udp.enabled = true;
  config.udp.gso = false;
  config.max_frame_length = 2112;
  config.default_stream.capacity_bytes = 64 * 1024;
  config.default_stream.window_bytes = 8 * 1024;
  base::CounterRegistry metrics;
  stream::StreamRegistry registry(config, metrics);
  absl::StatusOr<stream::StreamLog*> log = registry.Open("udp.small");
  ASSERT_TRUE(log.ok()) << log.status();
  Receiver receiver;
  ASSERT_NE(receiver.port(), 0);
  UdpCounters counters(metrics, 0);
  auto io = io::SocketDatagramIo::Create({.gso = false});
  ASSERT_TRUE(io.ok()) << io.status();
  UdpEgress egress(config, **io, /*source_id=*/99, counters);
  egress.Add(*log, receiver.endpoint(), (*log)->next_sequence());
  const std::array<std::byte, 32> payload{};
  constexpr int kMessages = 60 * 1024 / 64;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ((*log)->Append(payload, 1).status, stream::AppendStatus::kOk);
  }
  for (int i = 0; i < 1000 && egress.HasBacklog(); ++i) egress.DoWork(1);
  EXPECT_FALSE(egress.HasBacklog());
  EXPECT_EQ(counters.Snapshot().lapped, 1u);
  const auto [first, messages] = receiver.ReadContiguous(kMessages);
  EXPECT_GT(messages, 0u);
  EXPECT_EQ(first + messages, std::uint64_t{kMessages} + 1);
}

// With GSO, every destination gets runs of equal-sized datagrams as single
// messages, which the kernel cuts at the segment size: each receiver sees
// the same whole datagrams, in order, none larger than max_datagram_bytes.
TEST(UdpEgressTest, GsoSendsRunsToEveryDestination) {
  config::GatewayConfig config;
  config.udp.enabled = true;
  config.udp.gso = true;
  base::CounterRegistry metrics;
  stream::StreamRegistry registry(config, metrics);
  absl::StatusOr<stream::StreamLog*> log = registry.Open("udp.gso");
  ASSERT_TRUE(log.ok()) << log.status();
  std::array<Receiver, 3> receivers;
  UdpCounters counters(metrics, 0);
  auto io = io::SocketDatagramIo::Create({.gso = config.udp.gso});
  ASSERT_TRUE(io.ok()) << io.status();
  // CI's kernel has UDP GSO: there its absence is a failure.
  if (!(*io)->gso_active() && !testing::RequireUdpGso()) return;
  ASSERT_TRUE((*io)->gso_active());
  UdpEgress egress(config, **io, /*source_id=*/99, counters);
  for (const Receiver& r : receivers) {
    ASSERT_NE(r.port(), 0);
    egress.Add(*log, r.endpoint(), (*log)->next_sequence());
  }
  // 45 frames of 32 bytes fill a 1472-byte datagram: 20 equal datagrams,
  // then a shorter one.
  const std::array<std::byte, 0> empty{};
  constexpr int kMessages = 45 * 20 + 7;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ((*log)->Append(empty, 1).status, stream::AppendStatus::kOk);
  }
  for (int i = 0; i < 1000 && egress.HasBacklog(); ++i) egress.DoWork(1);
  ASSERT_FALSE(egress.HasBacklog());
  for (Receiver& r : receivers) {
    const auto [first, messages] = r.ReadContiguous(kMessages);
    EXPECT_EQ(first, 1u);
    EXPECT_EQ(messages, std::uint64_t{kMessages});
  }
  const UdpStats s = counters.Snapshot();
  EXPECT_EQ(s.messages_sent, 3u * kMessages);
  EXPECT_EQ(s.datagrams_sent, 3u * 21);
  // At least one run per destination went as one segmented message.
  EXPECT_GE(s.gso_sends, 3u);
}

}  // namespace
}  // namespace tachyon::udp
