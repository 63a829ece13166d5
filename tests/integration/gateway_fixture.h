// Starts an in-process gateway on an ephemeral loopback port, parameterised
// over io backend and worker count, for integration tests.
#ifndef TACHYON_TESTS_INTEGRATION_GATEWAY_FIXTURE_H_
#define TACHYON_TESTS_INTEGRATION_GATEWAY_FIXTURE_H_

#include <memory>
#include <string>
#include <tuple>

#include "config/model.h"
#include "gtest/gtest.h"
#include "io/reactor.h"
#include "server/gateway.h"
#include "test_client.h"

namespace tachyon::testing {

struct GatewayParam {
  config::IoBackend io;
  int workers;
};

inline std::string ParamName(const ::testing::TestParamInfo<GatewayParam>& p) {
  return std::string(p.param.io == config::IoBackend::kEpoll ? "Epoll"
                                                             : "Uring") +
         "Workers" + std::to_string(p.param.workers);
}

/// A config suitable for tests: loopback, port 0, small rings.
inline config::GatewayConfig TestConfig(const GatewayParam& p) {
  config::GatewayConfig c;
  c.bind = "127.0.0.1";
  c.port = 0;
  c.workers = p.workers;
  c.io = p.io;
  c.idle = config::IdleStrategy::kBackoff;
  c.default_stream.capacity_bytes = 1u << 20;
  c.default_stream.window_bytes = 512u << 10;
  c.shutdown_drain_ms = 1000;
  return c;
}

/// Starts a gateway or fails the test (skips if io_uring is unavailable).
inline std::unique_ptr<server::Gateway> StartGateway(
    const config::GatewayConfig& c) {
  auto gw = std::make_unique<server::Gateway>(c);
  absl::Status s = gw->Start();
  if (!s.ok()) {
    ADD_FAILURE() << "gateway failed to start: " << s.message();
    return nullptr;
  }
  return gw;
}

/// Base fixture: skips io_uring cases on kernels without it, starts the
/// gateway, and opens logged-on clients.
class GatewayTest : public ::testing::TestWithParam<GatewayParam> {
 protected:
  void SetUp() override {
    if (GetParam().io == config::IoBackend::kUring &&
        !io::CreateUringReactor({}).ok()) {
      GTEST_SKIP() << "io_uring is not available on this kernel";
    }
  }
  void Start(const config::GatewayConfig& c) {
    gateway_ = StartGateway(c);
    ASSERT_NE(gateway_, nullptr);
  }
  void Start() { Start(TestConfig(GetParam())); }

  /// A connected client that has completed LOGON (nullptr on failure,
  /// recorded as a test failure).
  std::unique_ptr<TestClient> Client(int rcvbuf = 0) {
    auto c = TestClient::Connect(gateway_->port(), rcvbuf);
    EXPECT_NE(c, nullptr);
    if (c == nullptr) return c;
    auto ack = c->Logon();
    EXPECT_TRUE(ack && ack->type() == protocol::MessageType::kLogonAck);
    return c;
  }

  std::unique_ptr<server::Gateway> gateway_;
};

#define TACHYON_ALL_GATEWAY_PARAMS                                           \
  ::testing::Values(                                                         \
      ::tachyon::testing::GatewayParam{::tachyon::config::IoBackend::kEpoll, \
                                       1},                                   \
      ::tachyon::testing::GatewayParam{::tachyon::config::IoBackend::kEpoll, \
                                       2},                                   \
      ::tachyon::testing::GatewayParam{::tachyon::config::IoBackend::kUring, \
                                       1},                                   \
      ::tachyon::testing::GatewayParam{::tachyon::config::IoBackend::kUring, \
                                       2})

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_INTEGRATION_GATEWAY_FIXTURE_H_
