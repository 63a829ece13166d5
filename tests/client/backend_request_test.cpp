// The client library calling a backend service through a real gateway
// (in-process, both io backends) and a test backend on loopback: look the
// service up by name, send requests, and see each status as the client
// reports it.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backend/backend_counters.h"
#include "gtest/gtest.h"
#include "support/gateway_fixture.h"
#include "support/test_backend.h"
#include "support/wait.h"
#include "tachyon/client/client.h"

namespace tachyon::testing {
namespace {

using ::tachyon::client::Client;
using namespace std::chrono_literals;

std::string Text(const std::vector<std::byte>& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

class BackendRequestTest : public GatewayTest {
 protected:
  void StartWith(std::uint16_t backend_port, int pool_max = 4,
                 int queue_limit = 1024) {
    config::GatewayConfig c = TestConfig(GetParam());
    config::BackendService s;
    s.name = "echo";
    s.id = 42;
    s.endpoints = {"127.0.0.1:" + std::to_string(backend_port)};
    s.pool_min = 1;
    s.pool_max = pool_max;
    s.max_in_flight_per_connection = 1;
    s.queue_limit = queue_limit;
    c.backends = {s};
    Start(c);
    ASSERT_TRUE(WaitUntil([&] {
      return gateway_->counters().Sum(backend::kReadyGauge) >=
             static_cast<std::uint64_t>(GetParam().workers);
    }));
  }
};

TEST_P(BackendRequestTest, LooksUpTheServiceAndGetsItsAnswer) {
  TestBackend backend;
  StartWith(backend.port());
  auto client = Client::Connect("127.0.0.1", gateway_->port());
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<std::uint32_t> id = (*client)->LookupService("echo");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, 42u);
  const std::string_view body = "price AAPL";
  absl::StatusOr<std::vector<std::byte>> answer =
      (*client)->Request(*id, body, 2s);  // the text overload
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(Text(*answer), body);
  EXPECT_EQ((*client)->LookupService("nope").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(BackendRequestTest, StatusesReachTheClientAsStatusCodes) {
  TestBackend backend;
  StartWith(backend.port());
  auto client = Client::Connect("127.0.0.1", gateway_->port());
  ASSERT_TRUE(client.ok()) << client.status();
  Client& c = **client;
  EXPECT_EQ(c.Request(7, protocol::AsBytes("x"), 2s).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(c.Request(42, protocol::AsBytes("error"), 2s).status().code(),
            absl::StatusCode::kUnknown);
  EXPECT_EQ(c.Request(42, protocol::AsBytes("hold"), 100ms).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  // The client gives up at the same deadline as the gateway's timer; release
  // the held request only once the gateway has answered it TIMEOUT, so the
  // backend's answer is late rather than racing the timer.
  ASSERT_TRUE(WaitUntil([&] {
    return backend.held() == 1 &&
           gateway_->counters().Sum(backend::kRequestsTotal, "status",
                                    "timeout") == 1;
  }));
  backend.ReleaseHeld();
  // The late answer to the timed-out request is dropped at the gateway.
  ASSERT_TRUE(WaitUntil([&] {
    return gateway_->counters().Sum(backend::kLateResponsesTotal) == 1;
  }));
  absl::StatusOr<std::vector<std::byte>> ok =
      c.Request(42, protocol::AsBytes("again"), 2s);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(Text(*ok), "again");
}

// One worker: the holding and the refused request share its pool.
class BackendOverloadTest : public BackendRequestTest {};

TEST_P(BackendOverloadTest, OverloadIsResourceExhausted) {
  TestBackend backend;
  StartWith(backend.port(), /*pool_max=*/1, /*queue_limit=*/0);
  // A raw client fills the only connection with a request the backend
  // holds.
  auto raw = LoggedOnClient();
  ASSERT_TRUE(raw);
  std::vector<std::byte> buf(64);
  const std::size_t n =
      protocol::EncodeRequest(buf, {.correlation_id = 1,
                                    .service_id = 42,
                                    .timeout_ms = 60000,
                                    .payload = protocol::AsBytes("hold")});
  ASSERT_TRUE(raw->SendRaw({buf.data(), n}));
  ASSERT_TRUE(WaitUntil([&] { return backend.held() == 1; }));
  auto client = Client::Connect("127.0.0.1", gateway_->port());
  ASSERT_TRUE(client.ok()) << client.status();
  absl::Status s = (*client)->Request(42, protocol::AsBytes("x"), 2s).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  backend.ReleaseHeld();
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendRequestTest,
                         ::testing::ValuesIn(AllGatewayParams()), ParamName);
INSTANTIATE_TEST_SUITE_P(Backends, BackendOverloadTest,
                         ::testing::ValuesIn(EachBackend(1)), ParamName);

}  // namespace
}  // namespace tachyon::testing
