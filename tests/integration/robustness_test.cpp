// Hostile and slow clients against a real gateway: malformed frames from the
// golden vectors, slow consumers under both policies, connection churn.
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gateway_fixture.h"
#include "gtest/gtest.h"
#include "test_client.h"
#include "vector_file.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
using ::tachyon::protocol::MessageType;
using ::tachyon::protocol::StartMode;
using namespace std::chrono_literals;

class RobustnessTest : public GatewayTest {};

// ASan and TSan keep freed memory in quarantine and shadow maps, so process
// RSS says nothing about the gateway there; LeakSanitizer checks leaks in
// those builds instead.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kRssMeaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kRssMeaningful = false;
#else
constexpr bool kRssMeaningful = true;
#endif
#else
constexpr bool kRssMeaningful = true;
#endif

std::int64_t RssBytes() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      std::int64_t kb;
      in >> kb;
      return kb * 1024;
    }
  }
  return -1;
}

// Every malformed frame vector that fails on its first frame is sent over a
// socket after LOGON: the sender gets an ERROR with exactly the vector's
// code, flagged fatal, then EOF — and a bystander session on the same
// gateway keeps receiving as if nothing happened.
TEST_P(RobustnessTest,
       MalformedVectorsEarnTheirErrorAndCloseOnlyThatConnection) {
  Start(TestConfig(GetParam()));
  std::vector<tp::golden::Vector> vectors;
  std::string error;
  ASSERT_TRUE(tp::golden::LoadVectorFile(
      std::string(TACHYON_SOURCE_DIR) + "/protocol/vectors/malformed.vec",
      &vectors, &error))
      << error;
  auto bystander = Client();
  ASSERT_TRUE(bystander->Subscribe(1, "bystander"));
  auto pub = Client();
  const StreamId stream = pub->Open("bystander");
  int sent = 0;
  for (const tp::golden::Vector& v : vectors) {
    if (v.kind != tp::golden::VectorKind::kFrame || v.expectations.empty() ||
        v.expectations.front().kind != tp::golden::Expectation::Kind::kError ||
        v.max_frame_length != tp::kDefaultMaxFrameLength) {
      continue;
    }
    tp::ErrorCode want;
    ASSERT_TRUE(tp::ParseErrorCode(v.expectations.front().name, &want));
    SCOPED_TRACE(v.name + " (" + v.where + ")");
    auto c = Client();
    ASSERT_TRUE(c->SendRaw(v.bytes));
    auto f = c->ReadSkippingHeartbeats(3000ms);
    ASSERT_TRUE(f);
    ASSERT_EQ(f->type(), MessageType::kError);
    tp::ErrorView e(f->view());
    EXPECT_EQ(e.code(), want)
        << tp::ErrorCodeName(e.code()) << ": " << e.text();
    EXPECT_TRUE(e.fatal());
    EXPECT_TRUE(c->WaitForEof(3000ms));
    // The bystander is untouched.
    ASSERT_TRUE(pub->Publish(stream, v.name));
    auto d = bystander->ReadSkippingHeartbeats();
    ASSERT_TRUE(d);
    ASSERT_EQ(d->type(), MessageType::kData);
    EXPECT_EQ(PayloadText(*d), v.name);
    ++sent;
  }
  EXPECT_GT(sent, 50);
  EXPECT_GE(gateway_->Stats().malformed_frames,
            static_cast<std::uint64_t>(sent));
}

// Policy "disconnect": a subscriber that stops reading is sent ERROR
// SLOW_CONSUMER and closed once it is a window behind; a second subscriber
// reading at full speed receives every message, in order.
TEST_P(RobustnessTest, SlowConsumerIsDisconnectedWhileOthersLoseNothing) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.default_stream.capacity_bytes = 4u << 20;
  c.default_stream.window_bytes = 1u << 20;
  c.default_stream.policy = config::SlowConsumerPolicy::kDisconnect;
  c.socket.send_buffer_bytes = 64 << 10;
  Start(c);
  auto slow = Client(/*rcvbuf=*/4096);
  ASSERT_TRUE(slow->Subscribe(1, "firehose"));
  auto fast = Client();
  ASSERT_TRUE(fast->Subscribe(1, "firehose"));
  auto pub = Client();
  const StreamId id = pub->Open("firehose");
  constexpr int kMessages = 20000;
  const std::string payload(200, 'x');
  std::atomic<int> received{0};
  std::atomic<bool> in_order{true};
  std::thread reader([&] {
    for (std::uint64_t want = 1; want <= kMessages; ++want) {
      auto f = fast->ReadSkippingHeartbeats(10000ms);
      if (!f || f->type() != MessageType::kData ||
          tp::DataView(f->view()).sequence().value() != want) {
        in_order = false;
        return;
      }
      ++received;
    }
  });
  // Paced so the reading subscriber stays well inside its window (it is a
  // test thread copying every frame, slower than the gateway); the slow one
  // reads nothing and falls out of it.
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(pub->Publish(id, payload));
    if (i % 500 == 499) {
      for (int w = 0; w < 10000 && received.load() < i - 1000 && in_order;
           ++w) {
        std::this_thread::sleep_for(1ms);
      }
    }
  }
  reader.join();
  EXPECT_TRUE(in_order.load());
  EXPECT_EQ(received.load(), kMessages);
  // The slow subscriber: contiguous DATA, then ERROR SLOW_CONSUMER (if it
  // fit in the socket) and EOF.
  std::uint64_t next = 1;
  bool saw_error = false;
  for (int i = 0; i < kMessages + 10; ++i) {
    auto f = slow->Read(5000ms);
    if (!f) break;
    if (f->type() == MessageType::kData) {
      ASSERT_EQ(tp::DataView(f->view()).sequence().value(), next++);
    } else if (f->type() == MessageType::kError) {
      EXPECT_EQ(tp::ErrorView(f->view()).code(), tp::ErrorCode::kSlowConsumer);
      EXPECT_EQ(f->view().stream_id(), id);
      saw_error = true;
    }
  }
  EXPECT_TRUE(slow->eof());
  EXPECT_LT(next, static_cast<std::uint64_t>(kMessages));
  EXPECT_GE(gateway_->Stats().slow_consumers, 1u);
  (void)saw_error;  // may not fit in a full socket; EOF is what counts
}

// Policy "backpressure": a stalled subscriber makes the gateway refuse
// publishes with BACK_PRESSURED (never drop them); once it reads, retries
// succeed and it receives every accepted message in order.
TEST_P(RobustnessTest, BackpressurePolicyRefusesPublishesUntilReaderCatchesUp) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.default_stream.capacity_bytes = 1u << 20;
  c.default_stream.window_bytes = 256u << 10;
  c.default_stream.policy = config::SlowConsumerPolicy::kBackpressure;
  c.socket.send_buffer_bytes = 32 << 10;
  Start(c);
  auto sub = Client(/*rcvbuf=*/4096);
  ASSERT_TRUE(sub->Subscribe(1, "bp"));
  auto pub = Client();
  const StreamId id = pub->Open("bp");
  const std::string payload(500, 'y');
  std::uint64_t accepted = 0;
  bool refused = false;
  for (int i = 0; i < 5000 && !refused; ++i) {
    ASSERT_TRUE(pub->Publish(id, payload, i, /*ack=*/true));
    auto f = pub->ReadSkippingHeartbeats();
    ASSERT_TRUE(f);
    ASSERT_EQ(f->type(), MessageType::kPublishAck);
    tp::PublishAckView a(f->view());
    if (a.status() == tp::ErrorCode::kBackPressured) {
      refused = true;
    } else {
      ASSERT_EQ(a.status(), tp::ErrorCode::kNone);
      EXPECT_EQ(a.sequence().value(), ++accepted);
    }
  }
  ASSERT_TRUE(refused) << "never back-pressured after " << accepted;
  EXPECT_GE(gateway_->Stats().publishes_refused, 1u);
  // Drain the subscriber while retrying the publish.
  std::thread drain([&] {
    for (std::uint64_t want = 1; want <= accepted + 1; ++want) {
      auto f = sub->ReadSkippingHeartbeats(10000ms);
      ASSERT_TRUE(f) << "waiting for " << want;
      ASSERT_EQ(f->type(), MessageType::kData);
      ASSERT_EQ(tp::DataView(f->view()).sequence().value(), want);
    }
  });
  bool retried = false;
  for (int attempt = 0; attempt < 2000 && !retried; ++attempt) {
    ASSERT_TRUE(pub->Publish(id, payload, 99999, true));
    auto f = pub->ReadSkippingHeartbeats();
    ASSERT_TRUE(f);
    retried = tp::PublishAckView(f->view()).status() == tp::ErrorCode::kNone;
    if (!retried) std::this_thread::sleep_for(1ms);
  }
  EXPECT_TRUE(retried);
  drain.join();
}

// 1,000 connections (in waves, within the fd limit) log on, subscribe and
// close; afterwards no session is left and memory is back near baseline.
TEST_P(RobustnessTest, ThousandConnectionsOpenAndCloseWithoutLeaking) {
  Start(TestConfig(GetParam()));
  auto pub = Client();
  const StreamId id = pub->Open("churn");
  auto wave = [&](int n) {
    std::vector<std::unique_ptr<TestClient>> clients;
    for (int i = 0; i < n; ++i) {
      clients.push_back(Client());
      ASSERT_NE(clients.back(), nullptr);
      ASSERT_TRUE(clients.back()->SendSubscribe(1, "churn"));
    }
    for (auto& c : clients) ASSERT_TRUE(c->ReadSkippingHeartbeats());
    ASSERT_TRUE(pub->Publish(id, "tick"));
    for (auto& c : clients) {
      auto f = c->ReadSkippingHeartbeats();
      ASSERT_TRUE(f);
      ASSERT_EQ(f->type(), MessageType::kData);
    }
  };
  auto wait_closed = [&] {
    for (int i = 0; i < 500 && gateway_->Stats().sessions_open > 1; ++i) {
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(gateway_->Stats().sessions_open, 1);  // the publisher
  };
  wave(200);  // warm up allocator pools and the reactor's tables
  wait_closed();
  const std::int64_t baseline = RssBytes();
  for (int round = 0; round < 5; ++round) wave(200);
  wait_closed();
  const std::int64_t after = RssBytes();
  EXPECT_GE(gateway_->Stats().connections_accepted, 1200u);
  if (kRssMeaningful) {
    EXPECT_LT(after - baseline, 16 << 20)
        << "RSS grew from " << baseline << " to " << after;
  }
}

// Configured limits answer with LIMIT_EXCEEDED and hurt nobody else.
TEST_P(RobustnessTest, LimitsOnConnectionsSubscriptionsAndPublishRate) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.max_connections = 3;
  c.max_subscriptions_per_session = 2;
  c.max_publish_rate = 50;  // per second, burst of 50
  Start(c);
  auto a = Client();
  auto b = Client();
  auto d = Client();
  // A fourth connection is told why, then closed.
  auto refused = TestClient::Connect(gateway_->port());
  ASSERT_NE(refused, nullptr);
  auto err = refused->Read(3000ms);
  ASSERT_TRUE(err);
  ASSERT_EQ(err->type(), MessageType::kError);
  EXPECT_EQ(tp::ErrorView(err->view()).code(), tp::ErrorCode::kLimitExceeded);
  EXPECT_TRUE(refused->WaitForEof());
  EXPECT_GE(gateway_->Stats().connections_refused, 1u);

  ASSERT_TRUE(a->Subscribe(1, "x"));
  ASSERT_TRUE(a->Subscribe(2, "y"));
  auto third = a->Subscribe(3, "z");
  ASSERT_TRUE(third);
  ASSERT_EQ(third->type(), MessageType::kError);
  EXPECT_EQ(tp::ErrorView(third->view()).code(), tp::ErrorCode::kLimitExceeded);
  EXPECT_FALSE(tp::ErrorView(third->view()).fatal());

  const StreamId id = b->Open("x");
  int accepted = 0;
  int limited = 0;
  for (int i = 0; i < 120; ++i) {
    ASSERT_TRUE(b->Publish(id, "r", i, /*ack=*/true));
    auto f = b->ReadSkippingHeartbeats();
    ASSERT_TRUE(f);
    ASSERT_EQ(f->type(), MessageType::kPublishAck);
    const tp::ErrorCode st = tp::PublishAckView(f->view()).status();
    if (st == tp::ErrorCode::kNone) ++accepted;
    if (st == tp::ErrorCode::kLimitExceeded) ++limited;
  }
  EXPECT_GE(accepted, 50);
  EXPECT_LT(accepted, 100);  // the loop takes far less than a second
  EXPECT_EQ(accepted + limited, 120);
  // Only accepted messages reach the subscriber, in order.
  for (int s = 1; s <= accepted; ++s) {
    auto f = a->ReadSkippingHeartbeats();
    ASSERT_TRUE(f);
    ASSERT_EQ(f->type(), MessageType::kData);
    EXPECT_EQ(tp::DataView(f->view()).sequence().value(),
              static_cast<std::uint64_t>(s));
  }
  // The other session is unaffected by b's rate limit.
  const StreamId id2 = d->Open("x");
  ASSERT_TRUE(d->Publish(id2, "fine", 1, true));
  auto ok = d->ReadSkippingHeartbeats();
  ASSERT_TRUE(ok);
  EXPECT_EQ(tp::PublishAckView(ok->view()).status(), tp::ErrorCode::kNone);
}

INSTANTIATE_TEST_SUITE_P(Backends, RobustnessTest, TACHYON_ALL_GATEWAY_PARAMS,
                         ParamName);

}  // namespace
}  // namespace tachyon::testing
