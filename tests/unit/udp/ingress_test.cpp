// UdpIngress driven directly, without a worker: the kernel's drop count
// (SO_RXQ_OVFL) reaches the counters, and what the kernel kept is appended
// exactly once.
#include "udp/ingress.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/socket.h"
#include "gtest/gtest.h"
#include "stream/stream_registry.h"
#include "tachyon/protocol/data_messages.h"
#include "tachyon/protocol/datagram.h"
#include "udp/udp_counters.h"
#include "udp/udp_socket.h"

namespace tachyon::udp {
namespace {

namespace tp = tachyon::protocol;

class CountingSink final : public IngressSink {
 public:
  std::int64_t ReceiveTimeNs() override { return 1; }
  void OnAppended(stream::StreamLog*) override { ++appends; }
  int appends = 0;
};

// One PUBLISH datagram carrying one 16-byte payload, producer sequence `seq`.
std::vector<std::byte> Datagram(StreamId stream, std::uint64_t seq) {
  std::vector<std::byte> out(256);
  std::size_t n = tp::EncodeDatagramHeader(out, tp::DatagramKind::kPublish, 1,
                                           stream, Sequence{seq}, 42);
  const std::array<std::byte, 16> payload{};
  n += tp::EncodePublish(std::span(out).subspan(n), stream, 0, payload);
  out.resize(n);
  return out;
}

TEST(UdpIngressTest, KernelDropsAreCountedAndTheRestAppendedOnce) {
  config::GatewayConfig config;
  config.udp.enabled = true;
  config.udp.recv_buffer_bytes = 4096;  // the kernel's minimum, doubled
  stream::StreamRegistry registry(config);
  absl::StatusOr<stream::StreamLog*> log = registry.Open("udp.drops");
  ASSERT_TRUE(log.ok()) << log.status();
  absl::StatusOr<int> fd = CreateIngressSocket("127.0.0.1", 0, config);
  ASSERT_TRUE(fd.ok()) << fd.status();
  absl::StatusOr<std::uint16_t> port = core::LocalPort(*fd);
  ASSERT_TRUE(port.ok());

  // Nobody reads while the producer sends, so the small receive buffer
  // overflows and the kernel drops (and counts) the rest.
  const int producer = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(producer, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(*port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  constexpr int kSent = 2000;
  for (int i = 1; i <= kSent; ++i) {
    const std::vector<std::byte> d = Datagram((*log)->id(), i);
    ASSERT_EQ(::sendto(producer, d.data(), d.size(), 0,
                       reinterpret_cast<const sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(d.size()));
  }

  UdpCounters counters;
  CountingSink sink;
  UdpIngress ingress(*fd, 64, config.udp.max_datagram_bytes,
                     config.max_frame_length, registry, sink, counters);
  // Bounded: every Drain reads at least one datagram until the socket is
  // empty, and the socket holds fewer than kSent.
  const auto drain = [&] {
    ingress.OnReadable();
    for (int i = 0; i < kSent && ingress.Drain() > 0; ++i) {
    }
  };
  drain();
  // SO_RXQ_OVFL stamps each datagram with the drops counted when it was
  // queued, so the datagrams kept before the overflow say 0; the next one
  // to arrive carries the count.
  const std::vector<std::byte> last = Datagram((*log)->id(), kSent + 1);
  ASSERT_EQ(::sendto(producer, last.data(), last.size(), 0,
                     reinterpret_cast<const sockaddr*>(&to), sizeof to),
            static_cast<ssize_t>(last.size()));
  drain();
  ::close(producer);
  ::close(*fd);

  const UdpStats s = counters.Snapshot();
  EXPECT_GT(s.kernel_drops, 0u) << "a 4 KiB buffer held all " << kSent;
  EXPECT_GT(s.messages_appended, 0u);
  EXPECT_EQ(s.datagrams_received, s.messages_appended);
  EXPECT_EQ(s.messages_appended + s.kernel_drops, std::uint64_t{kSent} + 1);
  // Every dropped datagram is also a producer-sequence gap.
  EXPECT_EQ(s.duplicates, 0u);
  EXPECT_EQ(s.gaps, s.kernel_drops);
  EXPECT_EQ((*log)->next_sequence().value(), s.messages_appended + 1);
  EXPECT_GT(sink.appends, 0);
}

// Producers silent for kIdleSweeps sweeps are forgotten; active ones keep
// their duplicate filter.
TEST(UdpIngressTest, IdleProducersAreForgottenActiveOnesKept) {
  config::GatewayConfig config;
  config.udp.enabled = true;
  stream::StreamRegistry registry(config);
  absl::StatusOr<stream::StreamLog*> log = registry.Open("udp.idle");
  ASSERT_TRUE(log.ok()) << log.status();
  absl::StatusOr<int> fd = CreateIngressSocket("127.0.0.1", 0, config);
  ASSERT_TRUE(fd.ok()) << fd.status();
  absl::StatusOr<std::uint16_t> port = core::LocalPort(*fd);
  ASSERT_TRUE(port.ok());
  const int producer = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(producer, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(*port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  UdpCounters counters;
  CountingSink sink;
  UdpIngress ingress(*fd, 64, config.udp.max_datagram_bytes,
                     config.max_frame_length, registry, sink, counters);
  const auto send_and_drain = [&](std::uint64_t source, std::uint64_t seq) {
    std::vector<std::byte> d = Datagram((*log)->id(), seq);
    std::memcpy(d.data() + 16, &source, sizeof source);  // source_id
    ASSERT_EQ(::sendto(producer, d.data(), d.size(), 0,
                       reinterpret_cast<const sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(d.size()));
    ingress.OnReadable();
  };
  send_and_drain(7, 1);
  send_and_drain(8, 1);
  EXPECT_EQ(ingress.producers(), 2u);
  for (std::uint32_t i = 1; i < UdpIngress::kIdleSweeps; ++i) {
    ingress.ForgetIdleProducers();
    send_and_drain(8, i + 1);  // producer 8 stays active
  }
  ingress.ForgetIdleProducers();
  EXPECT_EQ(ingress.producers(), 1u);
  // Producer 8 still filters its duplicates.
  send_and_drain(8, 2);
  EXPECT_EQ(counters.Snapshot().duplicates, 1u);
  ::close(producer);
  ::close(*fd);
}

}  // namespace
}  // namespace tachyon::udp
