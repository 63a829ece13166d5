// An in-process gateway for tests, on an ephemeral loopback port,
// parameterised over io backend and worker count.
//
// Overview
//   GatewayParam names one backend and worker count; TestConfig() turns it
//   into a small, loopback-only config; StartGateway() starts it or fails
//   the test. GatewayTest is the fixture for suites parameterised over
//   GatewayParam: its SetUp() requires the backend (RequireIoBackend: a
//   kernel without io_uring skips the io_uring cases on a developer's
//   machine and fails them in CI, see require.h), and LoggedOnClient() opens
//   raw protocol clients (test_client.h).
//
// Example
//   class PubSubTest : public GatewayTest {};
//   TEST_P(PubSubTest, Echo) {
//     Start();
//     auto c = LoggedOnClient();
//     ...
//   }
//   INSTANTIATE_TEST_SUITE_P(Backends, PubSubTest,
//                            ::testing::ValuesIn(AllGatewayParams()),
//                            ParamName);
#ifndef TACHYON_TESTS_SUPPORT_GATEWAY_FIXTURE_H_
#define TACHYON_TESTS_SUPPORT_GATEWAY_FIXTURE_H_

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/model.h"
#include "gtest/gtest.h"
#include "server/gateway.h"
#include "support/require.h"
#include "support/test_client.h"
#include "tls/tls_counters.h"

namespace tachyon::testing {

struct GatewayParam {
  config::IoBackend io;
  int workers;
};

/// "Epoll" or "Uring".
inline std::string IoBackendParamName(config::IoBackend io) {
  return io == config::IoBackend::kUring ? "Uring" : "Epoll";
}

/// "EpollWorkers1", "UringWorkers2", ...
inline std::string ParamName(const ::testing::TestParamInfo<GatewayParam>& p) {
  return IoBackendParamName(p.param.io) + "Workers" +
         std::to_string(p.param.workers);
}

/// How GoogleTest prints a GatewayParam in failure messages.
inline void PrintTo(const GatewayParam& p, std::ostream* os) {
  *os << IoBackendParamName(p.io) << " with " << p.workers << " worker"
      << (p.workers == 1 ? "" : "s");
}

/// Both backends, each with one and with two workers.
inline std::vector<GatewayParam> AllGatewayParams() {
  return {{config::IoBackend::kEpoll, 1},
          {config::IoBackend::kEpoll, 2},
          {config::IoBackend::kUring, 1},
          {config::IoBackend::kUring, 2}};
}

/// Both backends with `workers` workers each.
inline std::vector<GatewayParam> EachBackend(int workers) {
  return {{config::IoBackend::kEpoll, workers},
          {config::IoBackend::kUring, workers}};
}

/// True if the tests can run a gateway on `io`; otherwise MissingFeature()
/// (require.h) with the reason. epoll is always there.
inline bool RequireIoBackend(config::IoBackend io) {
  return io != config::IoBackend::kUring || RequireIoUring();
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
  // Every test client connects from 127.0.0.1, some hundreds at once; the
  // per-address limit is tested where a test sets it.
  c.max_connections_per_address = 0;
  return c;
}

/// Starts a gateway, or records a test failure and returns nullptr.
// A backend service on loopback `port` (a TestBackend's) with a small pool
// that reconnects quickly and never ejects: what the gateway tests use.
inline config::BackendService LoopbackService(std::string name,
                                              std::uint32_t id,
                                              std::uint16_t port) {
  config::BackendService s;
  s.name = std::move(name);
  s.id = id;
  s.endpoints = {"127.0.0.1:" + std::to_string(port)};
  s.pool_min = 1;
  s.pool_max = 4;
  s.reconnect_backoff_ms = 10;
  s.reconnect_backoff_max_ms = 50;
  s.eject_after_failures = 0;
  return s;
}

// Failed TLS handshakes the gateway counted on its `side` ("client": its
// own connections to backends; "server": its listener) for `reason`.
inline std::uint64_t TlsHandshakesFailed(const server::Gateway& gateway,
                                         std::string_view side,
                                         std::string_view reason) {
  std::uint64_t n = 0;
  for (const base::MetricSample& m : gateway.counters().Snapshot()) {
    if (m.name != tls::kHandshakesFailedTotal) continue;
    bool side_match = false, reason_match = false;
    for (const base::Label& l : m.labels) {
      if (l.name == "side" && l.value == side) side_match = true;
      if (l.name == "reason" && l.value == reason) reason_match = true;
    }
    if (side_match && reason_match) n += m.value;
  }
  return n;
}

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

/// Fixture for suites parameterised over GatewayParam.
class GatewayTest : public ::testing::TestWithParam<GatewayParam> {
 protected:
  void SetUp() override { RequireIoBackend(GetParam().io); }
  void Start(const config::GatewayConfig& c) {
    gateway_ = StartGateway(c);
    ASSERT_NE(gateway_, nullptr);
  }
  void Start() { Start(TestConfig(GetParam())); }

  /// A raw protocol client that has completed LOGON (nullptr on failure,
  /// recorded as a test failure).
  std::unique_ptr<TestClient> LoggedOnClient(int rcvbuf = 0) {
    auto c = TestClient::Connect(gateway_->port(), rcvbuf);
    EXPECT_NE(c, nullptr);
    if (c == nullptr) return c;
    auto ack = c->Logon();
    EXPECT_TRUE(ack && ack->type() == protocol::MessageType::kLogonAck);
    return c;
  }

  std::unique_ptr<server::Gateway> gateway_;
};

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_SUPPORT_GATEWAY_FIXTURE_H_
