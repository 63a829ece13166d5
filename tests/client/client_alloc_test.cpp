// The publish and receive paths must not allocate (issue 4: "allocations per
// op = 0"). This binary replaces the global operator new with a counting one
// and counts, on the test thread only (the in-process gateway's threads are
// not ours), every allocation made while publishing and delivering messages
// in steady state.
#include <cstring>

#include "gtest/gtest.h"
#include "support/alloc_counter.h"
#include "support/gateway_fixture.h"
#include "tachyon/client/client.h"
#include "tachyon/client/udp_subscriber.h"
#include "udp_relay.h"

namespace tachyon::testing {
namespace {

using ::tachyon::client::Client;
using ::tachyon::client::Message;
using ::tachyon::client::StartPosition;
using namespace std::chrono_literals;

// Counts the test thread's allocations while it lives.
class CountAllocations {
 public:
  CountAllocations() {
    CountThisThread();
    StartCountingAllocations();
  }
  ~CountAllocations() { StopCountingAllocations(); }
  long count() const { return CountedAllocations(); }
};

// Against an in-process gateway on each io backend: the client's paths must
// not depend on how the gateway writes to it.
class ClientAllocationTest : public GatewayTest {
 protected:
  void SetUp() override {
    GatewayTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    Start();
  }
};

TEST_P(ClientAllocationTest, PublishAndReceivePathsDoNotAllocate) {
  auto pub = Client::Connect("127.0.0.1", gateway_->port());
  auto sub = Client::Connect("127.0.0.1", gateway_->port());
  ASSERT_TRUE(pub.ok() && sub.ok());
  std::uint64_t received = 0;
  std::size_t bytes = 0;
  ASSERT_TRUE((*sub)
                  ->Subscribe("alloc", StartPosition::Latest(),
                              [&](const Message& m) {
                                ++received;
                                bytes +=
                                    m.payload.size() + m.stream_name.size();
                              })
                  .ok());
  auto stream = (*pub)->OpenStream("alloc");
  ASSERT_TRUE(stream.ok());
  char payload[64];
  std::memset(payload, 'x', sizeof payload);

  auto round = [&](int messages) {
    const std::uint64_t want = received + 2 * messages;
    for (int i = 0; i < messages; ++i) {
      ASSERT_TRUE((*pub)->Publish(*stream, std::string_view(payload, 64)).ok());
      auto claim = (*pub)->TryClaim(*stream, 32);
      ASSERT_TRUE(claim.ok());
      std::memset(claim->data(), 'c', claim->size());
      ASSERT_TRUE((*pub)->Commit().ok());
      ASSERT_TRUE((*pub)->Poll(64).ok());
    }
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (received < want && std::chrono::steady_clock::now() < deadline) {
      ASSERT_TRUE((*sub)->Poll(256, 10ms).ok());
    }
    ASSERT_EQ(received, want);
  };
  round(100);  // warm-up: first-use paths in libc and the gateway
  CountAllocations counter;
  round(2000);
  EXPECT_EQ(counter.count(), 0)
      << "allocations while publishing and receiving 4000 messages";
  EXPECT_GT(bytes, 0u);
}

TEST_P(ClientAllocationTest, UdpReceivePathDoesNotAllocate) {
  auto pub = Client::Connect("127.0.0.1", gateway_->port());
  auto sub = Client::Connect("127.0.0.1", gateway_->port());
  ASSERT_TRUE(pub.ok() && sub.ok());
  auto udp = client::UdpSubscriber::Create(**sub);
  ASSERT_TRUE(udp.ok()) << udp.status();
  auto relay =
      UdpRelay::Start(gateway_->port(), "alloc.udp", (*udp)->local_port());
  ASSERT_NE(relay, nullptr);
  std::uint64_t received = 0;
  std::size_t bytes = 0;
  ASSERT_TRUE((*udp)
                  ->Join("alloc.udp", StartPosition::From(Sequence{1}),
                         [&](const Message& m) {
                           ++received;
                           bytes += m.payload.size() + m.stream_name.size();
                         })
                  .ok());
  auto stream = (*pub)->OpenStream("alloc.udp");
  ASSERT_TRUE(stream.ok());
  constexpr int kMessages = 2000;
  constexpr int kPerDatagram = 8;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE((*pub)->Publish(*stream, "0123456789abcdef").ok());
  }
  ASSERT_TRUE(relay->Collect(kMessages));
  // Built before counting: the relay is the test's, not the client's.
  std::vector<std::vector<std::byte>> datagrams;
  for (int first = 1; first <= kMessages; first += kPerDatagram) {
    datagrams.push_back(relay->Data(first, kPerDatagram));
  }
  auto deliver = [&](std::size_t from, std::size_t to) {
    const std::uint64_t want = received + (to - from) * kPerDatagram;
    for (std::size_t d = from; d < to; ++d) {
      ASSERT_TRUE(relay->Send(datagrams[d]));
      if (d % 16 == 15) {
        ASSERT_TRUE((*udp)->Poll(256).ok());
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (received < want && std::chrono::steady_clock::now() < deadline) {
      ASSERT_TRUE((*udp)->Poll(256, 10ms).ok());
    }
    ASSERT_EQ(received, want);
  };
  deliver(0, 10);  // warm-up
  CountAllocations counter;
  deliver(10, datagrams.size());
  EXPECT_EQ(counter.count(), 0)
      << "allocations while receiving " << kMessages << " messages over UDP";
  EXPECT_EQ((*udp)->stats().recoveries, 0u);
  EXPECT_GT(bytes, 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ClientAllocationTest,
                         ::testing::ValuesIn(EachBackend(1)), ParamName);

}  // namespace
}  // namespace tachyon::testing
