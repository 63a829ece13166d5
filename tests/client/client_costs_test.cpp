// What the blocking client's calls cost, and where handlers run, against a
// real in-process gateway on both io backends: syscalls per Poll wake-up
// (counted by the client's socket layer, socket.h), claimed frames riding
// in the publish batch, deliveries held back while OpenStream, Subscribe
// and PublishWithAck wait (and the one documented exception), and Connect
// retrying until a gateway comes up. Loops are bounded; no assertion
// depends on how long anything took.
#include <poll.h>
#include <sys/ioctl.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "socket.h"
#include "support/gateway_fixture.h"
#include "support/net.h"
#include "support/wait.h"
#include "tachyon/client/client.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
using ::tachyon::client::Client;
using ::tachyon::client::ClientOptions;
using ::tachyon::client::Message;
using ::tachyon::client::StartPosition;
using ::tachyon::client::internal::SocketCalls;
using ::tachyon::client::internal::ThisThreadSocketCalls;
using ::testing::HasSubstr;

SocketCalls Since(const SocketCalls& before) {
  const SocketCalls& now = ThisThreadSocketCalls();
  return {.sends = now.sends - before.sends,
          .receives = now.receives - before.receives,
          .waits = now.waits - before.waits,
          .options = now.options - before.options};
}

// Waits until the client's socket holds at least `bytes` unread bytes.
bool SocketHolds(const Client& c, int bytes) {
  return WaitUntil([&] {
    int queued = 0;
    return ::ioctl(c.fd(), FIONREAD, &queued) == 0 && queued >= bytes;
  });
}

class ClientCostsTest : public GatewayTest {
 protected:
  std::unique_ptr<Client> Connect(ClientOptions options = {}) {
    auto c = Client::Connect("127.0.0.1", gateway_->port(), options);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }
  static client::MessageHandler Record(std::vector<std::string>* out) {
    return [out](const Message& m) { out->emplace_back(m.text()); };
  }
};

// A subscriber waiting in Poll for each message of a publisher that sends
// one at a time: one recv per wake-up (it blocks in the read), not a poll()
// and then a recv(). The receive timeout is set once for the loop.
TEST_P(ClientCostsTest, BlockingPollCostsOneSyscallPerWakeUp) {
  Start();
  ClientOptions options;
  options.heartbeat_interval = 10000ms;  // no heartbeats during the loop
  auto sub = Connect(options);
  ASSERT_NE(sub, nullptr);
  std::vector<std::string> got;
  ASSERT_TRUE(
      sub->Subscribe("wake", StartPosition::Latest(), Record(&got)).ok());
  // A raw publisher: its syscalls are not the client library's.
  auto pub = LoggedOnClient();
  const StreamId id = pub->Open("wake");
  ASSERT_NE(id.value(), 0u);
  constexpr int kMessages = 200;
  const SocketCalls before = ThisThreadSocketCalls();
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(pub->Publish(id, "m" + std::to_string(i)));
    absl::StatusOr<int> n = sub->Poll(1, 5000ms);
    ASSERT_TRUE(n.ok()) << n.status();
    ASSERT_EQ(*n, 1) << "message " << i;
  }
  const SocketCalls calls = Since(before);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kMessages));
  EXPECT_EQ(got.back(), "m" + std::to_string(kMessages - 1));
  EXPECT_EQ(calls.waits, 0u) << "poll() before the read";
  // One recv per message, plus a few where a frame reached the socket in
  // two segments (the gateway hands a frame over as several iovecs, and a
  // reader can wake between the segments): seen once in 200 under load in
  // CI. A poll() or a second read per wake-up would make this 2x.
  constexpr std::uint64_t kSplitSlack = kMessages / 50;
  EXPECT_GE(calls.receives, static_cast<std::uint64_t>(kMessages));
  EXPECT_LE(calls.receives, kMessages + kSplitSlack);
  EXPECT_LE(calls.options, 1u) << "the receive timeout is set once";
  EXPECT_LE(calls.total(), kMessages + kSplitSlack + 1);
}

// With coalescing, claimed frames are written into the batch with the
// published ones and leave with them: a few sends for hundreds of
// messages, in order.
TEST_P(ClientCostsTest, ClaimedFramesRideInThePublishBatch) {
  Start();
  auto sub = Connect();
  ASSERT_NE(sub, nullptr);
  std::vector<std::string> got;
  ASSERT_TRUE(
      sub->Subscribe("claims", StartPosition::Latest(), Record(&got)).ok());
  ClientOptions options;
  options.publish_batch_bytes = 8192;
  auto pub = Connect(options);
  ASSERT_NE(pub, nullptr);
  auto stream = pub->OpenStream("claims");
  ASSERT_TRUE(stream.ok()) << stream.status();
  constexpr int kMessages = 400;
  std::vector<std::string> sent;
  std::size_t bytes = 0;
  const SocketCalls before = ThisThreadSocketCalls();
  for (int i = 0; i < kMessages; ++i) {
    std::string text =
        (i % 2 == 0 ? "published " : "claimed ") + std::to_string(i);
    bytes += tp::PaddedLength(tp::PublishView::kFixedLength + text.size());
    if (i % 2 == 0) {
      ASSERT_TRUE(pub->Publish(*stream, text).ok());
    } else {
      auto claim = pub->TryClaim(*stream, text.size());
      ASSERT_TRUE(claim.ok()) << claim.status();
      std::memcpy(claim->data(), text.data(), text.size());
      ASSERT_TRUE(pub->Commit().ok());
    }
    sent.push_back(std::move(text));
  }
  ASSERT_TRUE(pub->Flush().ok());
  const SocketCalls calls = Since(before);
  EXPECT_LE(calls.sends, bytes / 8192 + 1) << bytes << " bytes";
  EXPECT_EQ(pub->stats().publishes, static_cast<std::uint64_t>(kMessages));
  ASSERT_TRUE(PollUntil(*sub, [&] { return got.size() >= kMessages; }));
  EXPECT_EQ(got, sent);
}

// A claim stays in place across a Flush (or a Poll) that sends what the
// batch held before it, and an aborted claim leaves nothing behind.
TEST_P(ClientCostsTest, ClaimKeepsItsPlaceAcrossFlushAndAbort) {
  Start();
  auto sub = Connect();
  ASSERT_NE(sub, nullptr);
  std::vector<std::string> got;
  ASSERT_TRUE(
      sub->Subscribe("order", StartPosition::Latest(), Record(&got)).ok());
  ClientOptions options;
  options.publish_batch_bytes = 4096;
  auto pub = Connect(options);
  ASSERT_NE(pub, nullptr);
  auto stream = pub->OpenStream("order");
  ASSERT_TRUE(stream.ok());
  auto claim_text = [&](std::string_view text) {
    auto claim = pub->TryClaim(*stream, text.size());
    EXPECT_TRUE(claim.ok()) << claim.status();
    if (claim.ok()) std::memcpy(claim->data(), text.data(), text.size());
  };
  ASSERT_TRUE(pub->Publish(*stream, "A").ok());
  ASSERT_TRUE(pub->Publish(*stream, "B").ok());
  claim_text("C");
  ASSERT_TRUE(pub->Flush().ok());  // sends A and B
  ASSERT_TRUE(pub->Commit().ok());
  claim_text("aborted");
  pub->Abort();
  ASSERT_TRUE(pub->Publish(*stream, "D").ok());
  claim_text("E");
  ASSERT_TRUE(pub->Poll(16, 0ms).ok());  // flushes C and D
  ASSERT_TRUE(pub->Commit().ok());
  ASSERT_TRUE(pub->Flush().ok());
  ASSERT_TRUE(PollUntil(*sub, [&] { return got.size() >= 5; }));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(sub->Poll(16, 1ms).ok());
  EXPECT_EQ(got, (std::vector<std::string>{"A", "B", "C", "D", "E"}));
}

// Messages that arrive while OpenStream, PublishWithAck or Subscribe waits
// for its answer are not handed to other subscriptions' handlers inside
// that call: the next Poll delivers them, in order.
TEST_P(ClientCostsTest, WaitingCallsRunNoHandlers) {
  Start();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  std::vector<std::string> got;
  ASSERT_TRUE(
      c->Subscribe("held.a", StartPosition::Latest(), Record(&got)).ok());
  auto pub = LoggedOnClient();
  const StreamId a = pub->Open("held.a");
  ASSERT_NE(a.value(), 0u);
  std::vector<std::string> expected;
  // Publishes one message to held.a and waits until it sits unread in the
  // client's socket, ahead of whatever answers the next call.
  auto arrive = [&](const std::string& text) {
    const int before = [&] {
      int queued = 0;
      ::ioctl(c->fd(), FIONREAD, &queued);
      return queued;
    }();
    ASSERT_TRUE(pub->Publish(a, text));
    ASSERT_TRUE(SocketHolds(*c, before + 1));
    expected.push_back(text);
  };

  arrive("1 before OpenStream");
  auto b = c->OpenStream("held.b");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(got.empty()) << "a handler ran inside OpenStream";

  arrive("2 before PublishWithAck");
  auto seq = c->PublishWithAck(*b, "x");
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_TRUE(got.empty()) << "a handler ran inside PublishWithAck";

  arrive("3 before Subscribe");
  std::vector<std::string> got_c;
  ASSERT_TRUE(
      c->Subscribe("held.c", StartPosition::Latest(), Record(&got_c)).ok());
  EXPECT_TRUE(got.empty()) << "a handler ran inside Subscribe";

  arrive("4 after");
  ASSERT_TRUE(PollUntil(*c, [&] { return got.size() >= 4; }));
  EXPECT_EQ(got, expected);
  EXPECT_TRUE(got_c.empty());
  EXPECT_EQ(c->stats().duplicates_dropped, 0u);
  EXPECT_EQ(c->stats().gaps, 0u);
}

// The documented exception: more than receive_buffer_bytes of messages
// arriving during one wait are delivered inside it, oldest first, to make
// room; none is lost or repeated.
TEST_P(ClientCostsTest, WaitDeliversOnlyWhatOverflowsTheReceiveBuffer) {
  config::GatewayConfig config = TestConfig(GetParam());
  config.max_frame_length = 1056;
  Start(config);
  ClientOptions options;
  options.receive_buffer_bytes = 4096;  // holds 30 of the frames below
  auto c = Connect(options);
  ASSERT_NE(c, nullptr);
  std::vector<std::string> got;
  ASSERT_TRUE(
      c->Subscribe("flood", StartPosition::Latest(), Record(&got)).ok());
  auto pub = LoggedOnClient();
  const StreamId id = pub->Open("flood");
  constexpr int kMessages = 100;  // 136 bytes each: 13,600 bytes
  for (int i = 0; i < kMessages; ++i) {
    std::string text = std::to_string(i);
    text.resize(100, '.');
    ASSERT_TRUE(pub->Publish(id, text));
  }
  ASSERT_TRUE(SocketHolds(*c, kMessages * 136));
  ASSERT_TRUE(c->OpenStream("elsewhere").ok());
  const std::size_t inside = got.size();
  EXPECT_GT(inside, 0u) << "more than the buffer arrived during the wait";
  EXPECT_LT(inside, static_cast<std::size_t>(kMessages));
  ASSERT_TRUE(PollUntil(*c, [&] { return got.size() >= kMessages; }));
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_EQ(got[i].substr(0, got[i].find('.')), std::to_string(i));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ClientCostsTest,
                         ::testing::ValuesIn(EachBackend(1)), ParamName);

// Connect keeps trying a port where no gateway listens yet, and succeeds
// once one starts there.
TEST(ClientConnectRetryTest, WaitsForAGatewayThatStartsLater) {
  const std::uint16_t port = UnusedPort();
  ClientOptions options;
  options.connect_retry.attempts = 100;
  options.connect_retry.initial_backoff = 10ms;
  options.connect_retry.max_backoff = 100ms;
  std::atomic<int> retries{0};
  options.connect_retry.on_retry = [&](const absl::Status& s, int attempt,
                                       std::chrono::milliseconds delay) {
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_EQ(attempt, retries.load() + 1);
    EXPECT_LE(delay, 120ms);  // max_backoff plus 20% jitter
    ++retries;
  };
  absl::StatusOr<std::unique_ptr<Client>> client =
      absl::UnknownError("not run");
  std::thread connecting(
      [&] { client = Client::Connect("127.0.0.1", port, options); });
  // Start the gateway only once a connection attempt was refused.
  const bool refused = WaitUntil([&] { return retries.load() >= 1; });
  std::unique_ptr<server::Gateway> gateway;
  if (refused) {
    config::GatewayConfig config = TestConfig({config::IoBackend::kEpoll, 1});
    config.port = port;
    gateway = StartGateway(config);
  }
  connecting.join();
  ASSERT_TRUE(refused);
  ASSERT_NE(gateway, nullptr);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE((*client)->connected());
  EXPECT_GE(retries.load(), 1);
  EXPECT_EQ((*client)->gateway_epoch(), gateway->instance_epoch());
  (void)(*client)->Close();
}

TEST(ClientConnectRetryTest, GivesUpAfterItsAttempts) {
  const std::uint16_t port = UnusedPort();
  ClientOptions options;
  options.connect_retry.attempts = 3;
  options.connect_retry.initial_backoff = 1ms;
  int retries = 0;
  options.connect_retry.on_retry =
      [&](const absl::Status&, int, std::chrono::milliseconds) { ++retries; };
  auto c = Client::Connect("127.0.0.1", port, options);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(c.status().message(), HasSubstr("cannot connect to 127.0.0.1:"));
  EXPECT_THAT(c.status().message(), HasSubstr("(attempt 3 of 3)"));
  EXPECT_EQ(retries, 2);

  options.connect_retry.attempts = 0;
  EXPECT_EQ(Client::Connect("127.0.0.1", port, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ClientConnectRetryTest, DoesNotRetryARefusalThatWouldRepeat) {
  config::GatewayConfig config = TestConfig({config::IoBackend::kEpoll, 1});
  config.token = "secret";
  auto gateway = StartGateway(config);
  ASSERT_NE(gateway, nullptr);
  ClientOptions options;
  options.token = "wrong";
  options.connect_retry.attempts = 5;
  options.connect_retry.initial_backoff = 1ms;
  int retries = 0;
  options.connect_retry.on_retry =
      [&](const absl::Status&, int, std::chrono::milliseconds) { ++retries; };
  auto c = Client::Connect("127.0.0.1", gateway->port(), options);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(client::GatewayErrorCode(c.status()),
            tp::ErrorCode::kNotAuthorized);
  EXPECT_EQ(retries, 0);
}

}  // namespace
}  // namespace tachyon::testing
