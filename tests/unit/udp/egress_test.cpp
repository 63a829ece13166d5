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
#include <vector>

#include "config/config.h"
#include "core/socket.h"
#include "gtest/gtest.h"
#include "stream/stream_registry.h"
#include "tachyon/protocol/datagram.h"
#include "udp/udp_counters.h"
#include "udp/udp_socket.h"

namespace tachyon::udp {
namespace {

namespace tp = tachyon::protocol;

TEST(UdpEgressTest, CursorTooFarBehindJumpsAheadBeforeSending) {
  config::GatewayConfig config;
  config.udp.enabled = true;
  config.udp.gso = false;
  config.max_frame_length = 4096;  // lets the ring be small
  config.default_stream.capacity_bytes = 64 * 1024;
  config.default_stream.window_bytes = 16 * 1024;
  stream::StreamRegistry registry(config);
  absl::StatusOr<stream::StreamLog*> log = registry.Open("udp.behind");
  ASSERT_TRUE(log.ok()) << log.status();

  const int receiver = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(receiver, 0);
  const int big = 4 << 20;
  ::setsockopt(receiver, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(receiver, reinterpret_cast<sockaddr*>(&addr), sizeof addr),
            0);
  absl::StatusOr<std::uint16_t> port = core::LocalPort(receiver);
  ASSERT_TRUE(port.ok());

  UdpCounters counters;
  UdpEgress egress(config, /*source_id=*/99, counters);
  ASSERT_TRUE(egress.Init().ok());
  egress.Add(*log, Endpoint{htonl(INADDR_LOOPBACK), *port},
             (*log)->next_sequence());

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
  std::uint64_t expected = 0;
  std::uint64_t received = 0;
  std::vector<std::byte> buf(65536);
  for (int i = 0; i < kMessages; ++i) {
    pollfd p{receiver, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) break;
    const ssize_t n = ::recv(receiver, buf.data(), buf.size(), 0);
    ASSERT_GT(n, 0);
    const tp::DatagramResult r =
        tp::DecodeDatagram({buf.data(), static_cast<std::size_t>(n)}, 65536);
    ASSERT_EQ(r.error, tp::ErrorCode::kNone);
    if (r.view.kind() != tp::DatagramKind::kData) continue;
    if (expected == 0) {
      expected = r.view.first_sequence().value();
      EXPECT_GE(expected, std::uint64_t{kMessages} + 1 - 48 * 1024 / 64);
    }
    EXPECT_EQ(r.view.first_sequence().value(), expected);
    expected += r.view.message_count();
    received += r.view.message_count();
  }
  EXPECT_EQ(expected, std::uint64_t{kMessages} + 1);
  EXPECT_LE(received, 48u * 1024 / 64);
  ::close(receiver);
}

}  // namespace
}  // namespace tachyon::udp
