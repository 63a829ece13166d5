// UdpIngress authentication and sequence bounds (PROTOCOL.md 16.5, 16.7),
// driven directly against a real loopback socket: producers send signed
// (version 2) or plain (version 1) PUBLISH datagrams from 127.0.0.1 or
// 127.0.0.2, and the log and the drop counters say what got in.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "config/model.h"
#include "gtest/gtest.h"
#include "io/datagram_socket.h"
#include "io/socket.h"
#include "stream/stream_registry.h"
#include "tachyon/protocol/data_messages.h"
#include "tachyon/protocol/datagram.h"
#include "tachyon/protocol/datagram_mac.h"
#include "udp/ingress.h"
#include "udp/producers.h"
#include "udp/udp_counters.h"

namespace tachyon::udp {
namespace {

namespace tp = tachyon::protocol;

constexpr std::uint32_t kProducer = 5;
constexpr char kKeyHex[] = "000102030405060708090a0b0c0d0e0f";
constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

class NullWaker final : public stream::StreamWaker {
 public:
  void OnAppended(stream::StreamLog*) override {}
};

int BoundSocket(const char* address) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  ::inet_pton(AF_INET, address, &a.sin_addr);
  if (fd >= 0 &&
      ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

class UdpIngressAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.udp.enabled = true;
    config::UdpProducer p;
    p.name = "feed-a";
    p.id = kProducer;
    p.key = kKeyHex;
    p.allowed_sources = {"127.0.0.1/32"};
    p.publish = {"md.*"};
    config_.udp_producers.push_back(p);
    key_ = *tp::ParseDatagramKey(kKeyHex);

    registry_ = std::make_unique<stream::StreamRegistry>(config_, metrics_);
    md_ = *registry_->Open("md.eq.AAPL");
    risk_ = *registry_->Open("risk.limits");
    absl::StatusOr<int> fd =
        io::OpenUdpReceiveSocket("127.0.0.1", 0, config_.socket);
    ASSERT_TRUE(fd.ok()) << fd.status();
    fd_ = *fd;
    to_.sin_family = AF_INET;
    to_.sin_port = htons(*io::LocalPort(fd_));
    to_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    local_ = BoundSocket("127.0.0.1");
    other_ = BoundSocket("127.0.0.2");
    ASSERT_GE(local_, 0);
    ASSERT_GE(other_, 0) << "cannot bind 127.0.0.2";
    auto io = io::SocketDatagramIo::Create(
        {.receive_fd = fd_, .receive_batch = 64, .max_datagram_bytes = 1472});
    ASSERT_TRUE(io.ok()) << io.status();
    io_ = *std::move(io);
    ingress_ =
        std::make_unique<UdpIngress>(*io_, 64, config_.max_frame_length,
                                     *registry_, clock_, waker_, counters_);
    Configure(/*require=*/true);
  }
  void TearDown() override {
    ingress_.reset();
    io_.reset();
    for (int fd : {local_, other_, fd_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  void Configure(bool require, std::uint64_t max_jump = 1'000'000) {
    auto table = ProducerTable::Create(config_);
    ASSERT_TRUE(table.ok()) << table.status();
    ingress_->SetAuth({.producers = *table,
                       .require_authentication = require,
                       .max_sequence_jump = max_jump});
  }

  // A PUBLISH datagram of `frames` 8-byte payloads for `log`: version 2
  // signed with `key` by `producer`, or version 1 when `producer` is 0.
  std::vector<std::byte> Datagram(stream::StreamLog* log, std::uint64_t first,
                                  std::uint32_t producer, int frames = 1,
                                  std::uint64_t source = 42,
                                  const tp::DatagramKey* key = nullptr) {
    std::vector<std::byte> d(1472);
    std::size_t n =
        producer == 0
            ? tp::EncodeDatagramHeader(d, tp::DatagramKind::kPublish,
                                       static_cast<std::uint16_t>(frames),
                                       log->id(), Sequence{first}, source)
            : tp::EncodeAuthenticatedDatagramHeader(
                  d, tp::DatagramKind::kPublish,
                  static_cast<std::uint16_t>(frames), log->id(),
                  Sequence{first}, source, producer);
    for (int i = 0; i < frames; ++i) {
      std::array<std::byte, 8> payload{};
      payload[0] =
          static_cast<std::byte>(first + static_cast<std::uint64_t>(i));
      n += tp::EncodePublish(std::span(d).subspan(n), log->id(), 0, payload);
    }
    if (producer != 0) {
      d.resize(n + tp::kDatagramMacLength);
      EXPECT_TRUE(tp::SignDatagram(d, key != nullptr ? *key : key_));
    } else {
      d.resize(n);
    }
    return d;
  }

  void SendFrom(int fd, const std::vector<std::byte>& d) {
    ASSERT_EQ(::sendto(fd, d.data(), d.size(), 0,
                       reinterpret_cast<const sockaddr*>(&to_), sizeof to_),
              static_cast<ssize_t>(d.size()));
    ingress_->OnReadable();
    for (int i = 0; i < 1000 && ingress_->Drain() > 0; ++i) {
    }
  }
  void Send(const std::vector<std::byte>& d) { SendFrom(local_, d); }

  std::uint64_t Appended(stream::StreamLog* log) const {
    return log->next_sequence().value() - 1;
  }

  config::GatewayConfig config_;
  base::CounterRegistry metrics_;
  std::unique_ptr<stream::StreamRegistry> registry_;
  stream::StreamLog* md_ = nullptr;
  stream::StreamLog* risk_ = nullptr;
  tp::DatagramKey key_{};
  int fd_ = -1;
  int local_ = -1;
  int other_ = -1;
  sockaddr_in to_{};
  UdpCounters counters_{metrics_, 0};
  base::LoopClock clock_;
  NullWaker waker_;
  std::unique_ptr<io::SocketDatagramIo> io_;
  std::unique_ptr<UdpIngress> ingress_;
};

TEST_F(UdpIngressAuthTest, GoodMacIsDelivered) {
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, 1, kProducer, 3)));
  EXPECT_EQ(Appended(md_), 3u);
  EXPECT_EQ(counters_.Snapshot().messages_appended, 3u);
}

TEST_F(UdpIngressAuthTest, BadMacIsDroppedAndCounted) {
  std::vector<std::byte> d = Datagram(md_, 1, kProducer);
  d.back() ^= std::byte{1};
  ASSERT_NO_FATAL_FAILURE(Send(d));
  tp::DatagramKey wrong = key_;
  wrong[0] ^= std::byte{0x80};
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, 1, kProducer, 1, 42, &wrong)));
  // A payload byte changed after signing.
  d = Datagram(md_, 1, kProducer);
  d[tp::kAuthenticatedHeaderLength + 24] ^= std::byte{0x40};
  ASSERT_NO_FATAL_FAILURE(Send(d));
  EXPECT_EQ(Appended(md_), 0u);
  EXPECT_EQ(counters_.Snapshot().bad_mac, 3u);
  // The real producer is unaffected.
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, 1, kProducer)));
  EXPECT_EQ(Appended(md_), 1u);
}

TEST_F(UdpIngressAuthTest, ReplayedDatagramIsADuplicate) {
  const std::vector<std::byte> d = Datagram(md_, 1, kProducer, 2);
  ASSERT_NO_FATAL_FAILURE(Send(d));
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, 3, kProducer)));
  ASSERT_NO_FATAL_FAILURE(Send(d));
  EXPECT_EQ(Appended(md_), 3u);
  EXPECT_EQ(counters_.Snapshot().duplicates, 2u);
}

TEST_F(UdpIngressAuthTest, UnknownProducerIsDropped) {
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, 1, kProducer + 1)));
  EXPECT_EQ(Appended(md_), 0u);
  EXPECT_EQ(counters_.Snapshot().unknown_producer, 1u);
}

TEST_F(UdpIngressAuthTest, SourceOutsideAllowedNetworksIsDropped) {
  ASSERT_NO_FATAL_FAILURE(SendFrom(other_, Datagram(md_, 1, kProducer)));
  EXPECT_EQ(Appended(md_), 0u);
  EXPECT_EQ(counters_.Snapshot().source_not_allowed, 1u);
  EXPECT_EQ(counters_.Snapshot().bad_mac, 0u) << "the network is checked first";
}

TEST_F(UdpIngressAuthTest, StreamOutsidePublishPatternsIsNotPermitted) {
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(risk_, 1, kProducer)));
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(risk_, 2, kProducer)));
  EXPECT_EQ(Appended(risk_), 0u);
  EXPECT_EQ(counters_.Snapshot().not_permitted, 2u);
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, 1, kProducer)));
  EXPECT_EQ(Appended(md_), 1u);
}

TEST_F(UdpIngressAuthTest, UnauthenticatedDroppedWhenRequired) {
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, 1, 0)));
  EXPECT_EQ(Appended(md_), 0u);
  EXPECT_EQ(counters_.Snapshot().unauthenticated, 1u);
}

TEST_F(UdpIngressAuthTest, UnauthenticatedAcceptedWhenNotRequired) {
  Configure(/*require=*/false);
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, 1, 0)));
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(risk_, 1, 0)));
  EXPECT_EQ(Appended(md_), 1u);
  EXPECT_EQ(Appended(risk_), 1u);
  EXPECT_EQ(counters_.Snapshot().unauthenticated, 0u);
  // Signed datagrams are still checked.
  std::vector<std::byte> d = Datagram(md_, 2, kProducer);
  d.back() ^= std::byte{1};
  ASSERT_NO_FATAL_FAILURE(Send(d));
  EXPECT_EQ(counters_.Snapshot().bad_mac, 1u);
}

// The hostile case of issue 15: one forged datagram with the real
// producer's source id and sequence 2^63 silenced it for good. Now it is
// wild (counted, moving nothing) and every later datagram arrives.
TEST_F(UdpIngressAuthTest, ForgedHugeSequenceLeavesTheRealProducerDelivering) {
  Configure(/*require=*/false);
  for (std::uint64_t s = 1; s <= 5; ++s) {
    ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, s, 0)));
  }
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, std::uint64_t{1} << 63, 0)));
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, std::uint64_t{1} << 40, 0)));
  // 2^64 - 4 is 9 behind 5 modulo 2^64: an old datagram, a duplicate.
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, kMax - 3, 0)));
  for (std::uint64_t s = 6; s <= 25; ++s) {
    ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, s, 0)));
  }
  EXPECT_EQ(Appended(md_), 25u);
  const UdpStats st = counters_.Snapshot();
  EXPECT_EQ(st.wild_sequence, 2u);
  EXPECT_EQ(st.gaps, 0u);
  EXPECT_EQ(st.duplicates, 1u);
}

// The same with authentication: a forgery without the key is a bad MAC, and
// a signed producer's own wild datagram moves nothing either.
TEST_F(UdpIngressAuthTest, ForgedAuthenticatedHugeSequenceIsDropped) {
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, 1, kProducer)));
  tp::DatagramKey guess{};
  ASSERT_NO_FATAL_FAILURE(
      Send(Datagram(md_, std::uint64_t{1} << 63, kProducer, 1, 42, &guess)));
  ASSERT_NO_FATAL_FAILURE(
      Send(Datagram(md_, std::uint64_t{1} << 62, kProducer)));
  for (std::uint64_t s = 2; s <= 21; ++s) {
    ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, s, kProducer)));
  }
  EXPECT_EQ(Appended(md_), 21u);
  EXPECT_EQ(counters_.Snapshot().bad_mac, 1u);
  EXPECT_EQ(counters_.Snapshot().wild_sequence, 1u);
}

TEST_F(UdpIngressAuthTest, SequencesWrapAtTwoToTheSixtyFour) {
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, kMax - 1, kProducer)));
  // Frames 2^64-1 and 0 (modulo 2^64), then 1: all forward, no gap.
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, kMax, kProducer, 2)));
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, 1, kProducer)));
  EXPECT_EQ(Appended(md_), 4u);
  EXPECT_EQ(counters_.Snapshot().gaps, 0u);
  // 2^64-1 again is behind now: a duplicate.
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, kMax, kProducer)));
  EXPECT_EQ(Appended(md_), 4u);
  EXPECT_EQ(counters_.Snapshot().duplicates, 1u);
  // Another producer: 2^64-1, then 1 (0 cannot start a datagram): one gap.
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, kMax, kProducer, 1, 43)));
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, 1, kProducer, 1, 43)));
  EXPECT_EQ(Appended(md_), 6u);
  EXPECT_EQ(counters_.Snapshot().gaps, 1u);
}

TEST_F(UdpIngressAuthTest, ConsistentDatagramsBeyondTheBoundReanchor) {
  Configure(/*require=*/true, /*max_jump=*/1000);
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, 1, kProducer)));
  // A long outage: the producer resumes 10^6 further on. The first
  // kReanchorDatagrams - 1 datagrams are wild; the next consistent one
  // re-anchors, and from there on everything arrives.
  std::uint64_t s = 1'000'001;
  for (std::uint32_t i = 0; i < UdpIngress::kReanchorDatagrams + 5; ++i) {
    ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, s, kProducer, 2)));
    s += 2;
  }
  const UdpStats st = counters_.Snapshot();
  EXPECT_EQ(st.wild_sequence, UdpIngress::kReanchorDatagrams - 1);
  EXPECT_EQ(st.reanchored, 1u);
  EXPECT_EQ(Appended(md_), 1u + 2 * 6);
}

// Three captured consecutive signed datagrams, older than the bound,
// replayed back to back: behind the producer, they are duplicates and never
// re-anchor it backwards (which would append their messages again).
TEST_F(UdpIngressAuthTest, ReplayedOldDatagramsNeverReanchorBackwards) {
  Configure(/*require=*/true, /*max_jump=*/1000);
  std::vector<std::vector<std::byte>> captured;
  for (std::uint64_t s = 1; s <= 3; ++s) {
    captured.push_back(Datagram(md_, s, kProducer));
    ASSERT_NO_FATAL_FAILURE(Send(captured.back()));
  }
  // The producer moves on, in bounds, until the captured ones are more
  // than max_sequence_jump behind.
  for (std::uint64_t s : {900u, 1800u, 2700u}) {
    ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, s, kProducer)));
  }
  ASSERT_EQ(Appended(md_), 6u);
  for (int round = 0; round < 2; ++round) {
    for (const std::vector<std::byte>& d : captured) {
      ASSERT_NO_FATAL_FAILURE(Send(d));
    }
  }
  EXPECT_EQ(Appended(md_), 6u);
  UdpStats st = counters_.Snapshot();
  EXPECT_EQ(st.reanchored, 0u);
  EXPECT_EQ(st.wild_sequence, 0u);
  EXPECT_EQ(st.duplicates, 6u);
  // The real producer keeps delivering.
  for (std::uint64_t s = 2701; s <= 2710; ++s) {
    ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, s, kProducer)));
  }
  EXPECT_EQ(Appended(md_), 16u);
  EXPECT_EQ(counters_.Snapshot().wild_sequence, 0u);
}

TEST_F(UdpIngressAuthTest, InconsistentWildDatagramsNeverReanchor) {
  Configure(/*require=*/false, /*max_jump=*/1000);
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, 1, 0)));
  // Wild datagrams that do not continue each other, and wild runs broken
  // by the real producer's in-bound datagrams, never re-anchor it.
  std::uint64_t real = 2;
  for (int i = 0; i < 10; ++i) {
    ASSERT_NO_FATAL_FAILURE(
        Send(Datagram(md_, 5'000'000 + 7 * static_cast<std::uint64_t>(i), 0)));
    ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, 9'000'000 + 2 * i, 0)));
    ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, real++, 0)));
  }
  EXPECT_EQ(counters_.Snapshot().reanchored, 0u);
  EXPECT_EQ(counters_.Snapshot().wild_sequence, 20u);
  EXPECT_EQ(Appended(md_), 11u);
}

TEST_F(UdpIngressAuthTest, ProducerStatesAreSeparateByProducerId) {
  // A version-1 datagram with the signed producer's source id and a high
  // sequence does not touch the signed producer's state.
  Configure(/*require=*/false);
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, 1, kProducer)));
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, 900'000, 0)));
  ASSERT_NO_FATAL_FAILURE(Send(Datagram(md_, 2, kProducer)));
  EXPECT_EQ(Appended(md_), 3u);
  EXPECT_EQ(counters_.Snapshot().duplicates, 0u);
}

}  // namespace
}  // namespace tachyon::udp
