// UdpIngress driven directly, without a worker, against a real loopback
// socket: the kernel's drop count (SO_RXQ_OVFL) reaches the counters, what
// the kernel kept is appended exactly once, and idle producers are
// forgotten.
#include "udp/ingress.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "config/model.h"
#include "gtest/gtest.h"
#include "io/datagram_socket.h"
#include "io/socket.h"
#include "stream/stream_registry.h"
#include "tachyon/protocol/data_messages.h"
#include "tachyon/protocol/datagram.h"
#include "udp/udp_counters.h"

namespace tachyon::udp {
namespace {

namespace tp = tachyon::protocol;

class CountingWaker final : public stream::StreamWaker {
 public:
  void OnAppended(stream::StreamLog*) override { ++appends; }
  int appends = 0;
};

// An ingress socket, its UdpIngress over one stream, and a producer socket.
class UdpIngressTest : public ::testing::Test {
 protected:
  // `recv_buffer_bytes` 0: the kernel default.
  void Start(int recv_buffer_bytes) {
    config_.udp.enabled = true;
    config_.udp.recv_buffer_bytes = recv_buffer_bytes;
    registry_ = std::make_unique<stream::StreamRegistry>(config_, metrics_);
    absl::StatusOr<stream::StreamLog*> log = registry_->Open("udp.in");
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *log;
    config::SocketOptions tuning = config_.socket;
    tuning.recv_buffer_bytes = config_.udp.recv_buffer_bytes;
    absl::StatusOr<int> fd = io::OpenUdpReceiveSocket("127.0.0.1", 0, tuning);
    ASSERT_TRUE(fd.ok()) << fd.status();
    fd_ = *fd;
    absl::StatusOr<std::uint16_t> port = io::LocalPort(fd_);
    ASSERT_TRUE(port.ok());
    to_.sin_family = AF_INET;
    to_.sin_port = htons(*port);
    to_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    producer_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(producer_, 0);
    auto io = io::SocketDatagramIo::Create(
        {.receive_fd = fd_,
         .receive_batch = 64,
         .max_datagram_bytes = config_.udp.max_datagram_bytes});
    ASSERT_TRUE(io.ok()) << io.status();
    io_ = *std::move(io);
    ingress_ =
        std::make_unique<UdpIngress>(*io_, 64, config_.max_frame_length,
                                     *registry_, clock_, waker_, counters_);
  }
  void TearDown() override {
    ingress_.reset();
    io_.reset();
    if (producer_ >= 0) ::close(producer_);
    if (fd_ >= 0) ::close(fd_);
  }

  // Sends one PUBLISH datagram of one 16-byte payload from producer
  // `source`, producer sequence `seq`.
  void Send(std::uint64_t source, std::uint64_t seq) {
    std::vector<std::byte> d(256);
    std::size_t n = tp::EncodeDatagramHeader(d, tp::DatagramKind::kPublish, 1,
                                             log_->id(), Sequence{seq}, source);
    const std::array<std::byte, 16> payload{};
    n += tp::EncodePublish(std::span(d).subspan(n), log_->id(), 0, payload);
    ASSERT_EQ(::sendto(producer_, d.data(), n, 0,
                       reinterpret_cast<const sockaddr*>(&to_), sizeof to_),
              static_cast<ssize_t>(n));
  }

  // Reads until the socket is empty (bounded: every Drain that finds
  // datagrams reads at least one).
  void DrainAll() {
    ingress_->OnReadable();
    for (int i = 0; i < 100'000 && ingress_->Drain() > 0; ++i) {
    }
  }

  config::GatewayConfig config_;
  base::CounterRegistry metrics_;
  std::unique_ptr<stream::StreamRegistry> registry_;
  stream::StreamLog* log_ = nullptr;
  int fd_ = -1;
  int producer_ = -1;
  sockaddr_in to_{};
  UdpCounters counters_{metrics_, 0};
  base::LoopClock clock_;
  CountingWaker waker_;
  std::unique_ptr<io::SocketDatagramIo> io_;
  std::unique_ptr<UdpIngress> ingress_;
};

TEST_F(UdpIngressTest, KernelDropsAreCountedAndTheRestAppendedOnce) {
  Start(4096);  // the kernel's minimum, doubled
  // Nobody reads while the producer sends, so the small receive buffer
  // overflows and the kernel drops (and counts) the rest.
  constexpr int kSent = 2000;
  for (int i = 1; i <= kSent; ++i) ASSERT_NO_FATAL_FAILURE(Send(42, i));
  DrainAll();
  // SO_RXQ_OVFL stamps each datagram with the drops counted when it was
  // queued, so the datagrams kept before the overflow say 0; the next one
  // to arrive carries the count.
  ASSERT_NO_FATAL_FAILURE(Send(42, kSent + 1));
  DrainAll();

  const UdpStats s = counters_.Snapshot();
  EXPECT_GT(s.kernel_drops, 0u) << "a 4 KiB buffer held all " << kSent;
  EXPECT_GT(s.messages_appended, 0u);
  EXPECT_EQ(s.datagrams_received, s.messages_appended);
  EXPECT_EQ(s.messages_appended + s.kernel_drops, std::uint64_t{kSent} + 1);
  // Every dropped datagram is also a producer-sequence gap.
  EXPECT_EQ(s.duplicates, 0u);
  EXPECT_EQ(s.gaps, s.kernel_drops);
  EXPECT_EQ(log_->next_sequence().value(), s.messages_appended + 1);
  EXPECT_GT(waker_.appends, 0);
}

// Producers silent for kIdleSweeps sweeps are forgotten; active ones keep
// their duplicate filter.
TEST_F(UdpIngressTest, IdleProducersAreForgottenActiveOnesKept) {
  Start(0);
  ASSERT_NO_FATAL_FAILURE(Send(7, 1));
  ASSERT_NO_FATAL_FAILURE(Send(8, 1));
  DrainAll();
  EXPECT_EQ(ingress_->producers(), 2u);
  for (std::uint32_t i = 1; i < UdpIngress::kIdleSweeps; ++i) {
    ingress_->ForgetIdleProducers();
    ASSERT_NO_FATAL_FAILURE(Send(8, i + 1));  // producer 8 stays active
    DrainAll();
  }
  ingress_->ForgetIdleProducers();
  EXPECT_EQ(ingress_->producers(), 1u);
  // Producer 8 still filters its duplicates.
  ASSERT_NO_FATAL_FAILURE(Send(8, 2));
  DrainAll();
  EXPECT_EQ(counters_.Snapshot().duplicates, 1u);
}

}  // namespace
}  // namespace tachyon::udp
