// The blocking client's background-thread mode against a real in-process
// gateway: handlers run on the poller thread while the test's own thread
// publishes and makes receiving calls on the same Client. Built under TSan
// (label `concurrency`) to check the locking.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/gateway_fixture.h"
#include "support/wait.h"
#include "tachyon/client/client.h"

namespace tachyon::testing {
namespace {

using ::tachyon::client::BackgroundIdle;
using ::tachyon::client::BackgroundPollingOptions;
using ::tachyon::client::Client;
using ::tachyon::client::ClientOptions;
using ::tachyon::client::Message;
using ::tachyon::client::StartPosition;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Parameterised over the gateway's io backend and the poller's idle mode.
class ClientBackgroundTest
    : public ::testing::TestWithParam<
          std::tuple<config::IoBackend, BackgroundIdle>> {
 protected:
  void SetUp() override {
    if (!RequireIoBackend(io())) return;
    gateway_ = StartGateway(TestConfig({.io = io(), .workers = 2}));
    ASSERT_NE(gateway_, nullptr);
  }
  config::IoBackend io() const { return std::get<0>(GetParam()); }
  BackgroundIdle idle() const { return std::get<1>(GetParam()); }
  std::unique_ptr<Client> Connect() {
    ClientOptions options;
    options.heartbeat_interval = 200ms;
    auto c = Client::Connect("127.0.0.1", gateway_->port(), options);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }
  std::unique_ptr<server::Gateway> gateway_;
};

// One Client both consumes (handlers on the poller) and publishes from the
// test thread and a second thread at once: every message arrives once, in
// order, and handlers never run on a publishing thread.
TEST_P(ClientBackgroundTest, PublishesFromOtherThreadsWhileThePollerDelivers) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  constexpr int kPerThread = 2000;
  std::mutex mu;
  std::vector<std::uint64_t> sequences;
  std::vector<std::string> payloads;
  std::atomic<int> received{0};
  std::atomic<bool> handler_on_publisher{false};
  std::thread::id test_thread = std::this_thread::get_id();
  std::atomic<std::thread::id> second_thread{};
  ASSERT_TRUE(client
                  ->Subscribe("bg.feed", StartPosition::Earliest(),
                              [&](const Message& m) {
                                const auto self = std::this_thread::get_id();
                                if (self == test_thread ||
                                    self == second_thread.load()) {
                                  handler_on_publisher = true;
                                }
                                const std::lock_guard<std::mutex> lock(mu);
                                sequences.push_back(m.sequence.value());
                                payloads.emplace_back(m.text());
                                received.fetch_add(1);
                              })
                  .ok());
  auto stream = client->OpenStream("bg.feed");
  ASSERT_TRUE(stream.ok()) << stream.status();
  ASSERT_TRUE(
      client->StartBackgroundPolling({.max_messages = 64, .idle = idle()})
          .ok());

  std::atomic<int> failures{0};
  auto publish = [&](const char* tag) {
    for (int i = 0; i < kPerThread; ++i) {
      const std::string text = std::string(tag) + std::to_string(i);
      if (!client->Publish(*stream, text).ok()) failures.fetch_add(1);
    }
  };
  std::thread second([&] {
    second_thread = std::this_thread::get_id();
    publish("b");
  });
  publish("a");
  // A receiving call from this thread is answered by the poller (its
  // payload starts with neither tag).
  auto acked = client->PublishWithAck(*stream, "z");
  second.join();
  EXPECT_TRUE(acked.ok()) << acked.status();
  EXPECT_EQ(failures.load(), 0);

  ASSERT_TRUE(WaitUntil([&] { return received.load() == 2 * kPerThread + 1; }))
      << received.load() << " of " << 2 * kPerThread + 1;
  ASSERT_TRUE(client->StopBackgroundPolling().ok());
  EXPECT_FALSE(handler_on_publisher.load());
  // Contiguous, no duplicate, and each thread's messages in its own order.
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    ASSERT_EQ(sequences[i], i + 1);
  }
  int next_a = 0;
  int next_b = 0;
  for (const std::string& p : payloads) {
    if (p[0] == 'a') {
      EXPECT_EQ(p, "a" + std::to_string(next_a++));
    } else if (p[0] == 'b') {
      EXPECT_EQ(p, "b" + std::to_string(next_b++));
    }
  }
  EXPECT_EQ(next_a, kPerThread);
  EXPECT_EQ(next_b, kPerThread);
  EXPECT_EQ(client->stats().gaps, 0u);
  EXPECT_EQ(client->stats().duplicates_dropped, 0u);
  EXPECT_TRUE(client->Close().ok());
}

// Handlers on the poller may publish (no self-deadlock) and a subscription
// made from the test thread while the poller runs starts delivering.
TEST_P(ClientBackgroundTest, HandlersPublishAndSubscribeWorksWhilePolling) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  auto pings = client->OpenStream("bg.ping");
  auto pongs = client->OpenStream("bg.pong");
  ASSERT_TRUE(pings.ok() && pongs.ok());
  ASSERT_TRUE(client->StartBackgroundPolling({.idle = idle()}).ok());
  std::atomic<int> pong_count{0};
  ASSERT_TRUE(client
                  ->Subscribe("bg.pong", StartPosition::Latest(),
                              [&](const Message&) { pong_count.fetch_add(1); })
                  .ok());
  std::atomic<int> handler_errors{0};
  ASSERT_TRUE(client
                  ->Subscribe("bg.ping", StartPosition::Latest(),
                              [&](const Message& m) {
                                if (!client->Publish(*pongs, m.payload).ok()) {
                                  handler_errors.fetch_add(1);
                                }
                              })
                  .ok());
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(client->Publish(*pings, "ping").ok());
  }
  EXPECT_TRUE(WaitUntil([&] { return pong_count.load() == 100; }))
      << pong_count.load();
  EXPECT_EQ(handler_errors.load(), 0);
  // Poll belongs to the poller in this mode.
  auto polled = client->Poll();
  EXPECT_EQ(polled.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(polled.status().message(), HasSubstr("background polling"));
  EXPECT_EQ(client->StartBackgroundPolling().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(client->Close().ok());  // stops the poller first
  EXPECT_FALSE(client->connected());
}

// The poller ends by itself when the gateway goes away for good, reports
// why to on_error, and StopBackgroundPolling returns it.
TEST_P(ClientBackgroundTest, PollerEndsWithTheStatusWhenTheGatewayStops) {
  std::mutex mu;
  std::vector<absl::Status> errors;
  ClientOptions options;
  options.heartbeat_interval = 200ms;
  options.on_error = [&](const absl::Status& s) {
    const std::lock_guard<std::mutex> lock(mu);
    errors.push_back(s);
  };
  auto c = Client::Connect("127.0.0.1", gateway_->port(), options);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->StartBackgroundPolling({.idle = idle()}).ok());
  gateway_->RequestStop();
  gateway_->Wait();
  gateway_.reset();
  ASSERT_TRUE(WaitUntil([&] {
    const std::lock_guard<std::mutex> lock(mu);
    return !errors.empty();
  }));
  const absl::Status stopped = (*c)->StopBackgroundPolling();
  EXPECT_EQ(stopped.code(), absl::StatusCode::kUnavailable) << stopped;
  const std::lock_guard<std::mutex> lock(mu);
  EXPECT_THAT(std::string(errors.back().message()),
              HasSubstr("background polling ended"));
}

INSTANTIATE_TEST_SUITE_P(
    Backends, ClientBackgroundTest,
    ::testing::Combine(
        ::testing::Values(config::IoBackend::kEpoll, config::IoBackend::kUring),
        ::testing::Values(BackgroundIdle::kBlock, BackgroundIdle::kSpin)),
    [](const auto& p) {
      return IoBackendParamName(std::get<0>(p.param)) +
             (std::get<1>(p.param) == BackgroundIdle::kBlock ? "Block"
                                                             : "Spin");
    });

}  // namespace
}  // namespace tachyon::testing
