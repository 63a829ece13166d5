// Backend request/response through a real gateway (in-process, on each io
// backend, with one and two workers) to real backend sockets on loopback
// (support/test_backend.h): every answer status, correlation ids, a killed
// and restarted backend, a malformed backend, cancellation and overload.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "backend/backend_counters.h"
#include "gtest/gtest.h"
#include "session/session_counters.h"
#include "support/gateway_fixture.h"
#include "support/test_backend.h"
#include "support/wait.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
using tp::ResponseStatus;

struct Answer {
  std::uint64_t correlation = 0;
  std::uint32_t service = 0;
  ResponseStatus status = ResponseStatus::kOk;
  std::string payload;
};

bool SendRequest(TestClient& c, std::uint64_t correlation,
                 std::uint32_t service, std::string_view payload,
                 std::uint32_t timeout_ms = 0) {
  std::vector<std::byte> buf(tp::RequestView::kFixedLength + payload.size() +
                             8);
  const std::size_t n =
      tp::EncodeRequest(buf, {.correlation_id = correlation,
                              .service_id = service,
                              .timeout_ms = timeout_ms,
                              .payload = tp::AsBytes(payload)});
  return c.SendRaw({buf.data(), n});
}

std::optional<Answer> ReadAnswer(TestClient& c) {
  std::optional<Frame> f = c.ReadSkippingHeartbeats();
  if (!f || f->type() != tp::MessageType::kResponse) return std::nullopt;
  const tp::ResponseView r(f->view());
  return Answer{r.correlation_id(), r.service_id(), r.status(),
                std::string(reinterpret_cast<const char*>(r.payload().data()),
                            r.payload().size())};
}

// A loopback port nothing listens on.
std::uint16_t DeadPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class BackendTest : public GatewayTest {
 protected:
  void StartWith(std::vector<config::BackendService> services) {
    config::GatewayConfig c = TestConfig(GetParam());
    c.backends = std::move(services);
    Start(c);
  }
  std::uint64_t Sum(std::string_view name, std::string_view label = {},
                    std::string_view value = {}) const {
    return gateway_->counters().Sum(name, label, value);
  }
  // Every worker's pool has `per_worker` connections logged on.
  bool WaitForReady(int per_worker = 1) {
    return WaitUntil([&] {
      return Sum(backend::kReadyGauge) >=
             static_cast<std::uint64_t>(per_worker * GetParam().workers);
    });
  }
  int workers() const { return GetParam().workers; }
};

TEST_P(BackendTest, RoundTripKeepsEachClientsCorrelationIds) {
  TestBackend backend;
  ASSERT_NE(backend.port(), 0);
  StartWith({LoopbackService("echo", 7, backend.port())});
  ASSERT_TRUE(WaitForReady());
  auto a = LoggedOnClient();
  auto b = LoggedOnClient();
  ASSERT_TRUE(a && b);
  // Both clients use the same correlation ids; each gets its own answers.
  for (std::uint64_t id = 1; id <= 3; ++id) {
    ASSERT_TRUE(SendRequest(*a, id, 7, "a" + std::to_string(id)));
    ASSERT_TRUE(SendRequest(*b, id, 7, "b" + std::to_string(id)));
  }
  for (auto* c : {a.get(), b.get()}) {
    const char who = c == a.get() ? 'a' : 'b';
    for (std::uint64_t id = 1; id <= 3; ++id) {
      std::optional<Answer> r = ReadAnswer(*c);
      ASSERT_TRUE(r.has_value());
      EXPECT_EQ(r->status, ResponseStatus::kOk);
      EXPECT_EQ(r->correlation, id);
      EXPECT_EQ(r->service, 7u);
      EXPECT_EQ(r->payload, std::string(1, who) + std::to_string(id));
    }
  }
  EXPECT_EQ(Sum(backend::kRequestsTotal, "status", "ok"), 6u);
  // The warm pool had room for every one: none waited for a connection.
  EXPECT_EQ(Sum(backend::kQueuedTotal), 0u);
  // Each request reached the backend once (no send repeated while the
  // reactor still owned it).
  EXPECT_EQ(backend.requests(), 6);
}

TEST_P(BackendTest, UnknownServiceIsNoSuchService) {
  TestBackend backend;
  StartWith({LoopbackService("echo", 7, backend.port())});
  auto c = LoggedOnClient();
  ASSERT_TRUE(c);
  ASSERT_TRUE(SendRequest(*c, 5, 99, "x"));
  std::optional<Answer> r = ReadAnswer(*c);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, ResponseStatus::kNoSuchService);
  EXPECT_EQ(r->correlation, 5u);
  EXPECT_NE(r->payload.find("99"), std::string::npos) << r->payload;
}

TEST_P(BackendTest, NoListeningEndpointIsUnavailableAtOnce) {
  StartWith({LoopbackService("down", 3, DeadPort())});
  auto c = LoggedOnClient();
  ASSERT_TRUE(c);
  // A minute's timeout: an answer within the read's 5 s is not a TIMEOUT,
  // whether the request came before or after the first connect failed.
  ASSERT_TRUE(SendRequest(*c, 1, 3, "x", 60000));
  std::optional<Answer> first = ReadAnswer(*c);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, ResponseStatus::kUnavailable) << first->payload;
  ASSERT_TRUE(WaitUntil([&] {
    return Sum(backend::kConnectFailuresTotal) >=
           static_cast<std::uint64_t>(workers());
  }));
  ASSERT_TRUE(SendRequest(*c, 2, 3, "x", 60000));
  std::optional<Answer> second = ReadAnswer(*c);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status, ResponseStatus::kUnavailable);
  EXPECT_NE(second->payload.find("down"), std::string::npos) << second->payload;
}

TEST_P(BackendTest, ConsecutiveFailuresEjectTheEndpoint) {
  config::BackendService s = LoopbackService("ejected", 15, DeadPort());
  s.eject_after_failures = 2;
  s.eject_ms = 60000;
  StartWith({s});
  ASSERT_TRUE(WaitUntil([&] {
    return Sum(backend::kEjectionsTotal) ==
           static_cast<std::uint64_t>(workers());
  }));
  const std::uint64_t failures = Sum(backend::kConnectFailuresTotal);
  EXPECT_EQ(failures, 2u * static_cast<std::uint64_t>(workers()));
  auto c = LoggedOnClient();
  ASSERT_TRUE(c);
  ASSERT_TRUE(SendRequest(*c, 95, 15, "x", 60000));
  std::optional<Answer> r = ReadAnswer(*c);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, ResponseStatus::kUnavailable);
  // Ejected: no connect is tried meanwhile.
  EXPECT_EQ(Sum(backend::kConnectFailuresTotal), failures);
}

TEST_P(BackendTest, SlowBackendTimesOutAndItsLateAnswerIsDroppedAndCounted) {
  TestBackend backend;
  StartWith({LoopbackService("slow", 4, backend.port())});
  ASSERT_TRUE(WaitForReady());
  auto c = LoggedOnClient();
  ASSERT_TRUE(c);
  ASSERT_TRUE(SendRequest(*c, 11, 4, "hold", 50));
  std::optional<Answer> r = ReadAnswer(*c);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, ResponseStatus::kTimeout);
  EXPECT_EQ(r->correlation, 11u);
  EXPECT_EQ(r->payload, "service 'slow' did not answer within 50 ms");
  EXPECT_EQ(Sum(backend::kLateResponsesTotal), 0u);
  backend.ReleaseHeld();
  ASSERT_TRUE(
      WaitUntil([&] { return Sum(backend::kLateResponsesTotal) == 1; }));
  // The connection still serves; the late answer reached nobody.
  ASSERT_TRUE(SendRequest(*c, 12, 4, "after"));
  r = ReadAnswer(*c);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, ResponseStatus::kOk);
  EXPECT_EQ(r->correlation, 12u);
  EXPECT_EQ(r->payload, "after");
  EXPECT_EQ(Sum(backend::kRequestsTotal, "status", "timeout"), 1u);
}

TEST_P(BackendTest, KilledBackendAnswersUnavailableAndThePoolReconnects) {
  auto backend = std::make_unique<TestBackend>();
  const std::uint16_t port = backend->port();
  StartWith({LoopbackService("flaky", 5, port)});
  ASSERT_TRUE(WaitForReady());
  auto c = LoggedOnClient();
  ASSERT_TRUE(c);
  ASSERT_TRUE(SendRequest(*c, 21, 5, "hold", 60000));
  ASSERT_TRUE(WaitUntil([&] { return backend->held() == 1; }));
  backend->Stop();  // every connection reset, like a killed process
  std::optional<Answer> r = ReadAnswer(*c);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, ResponseStatus::kUnavailable) << r->payload;
  EXPECT_EQ(r->correlation, 21u);
  // While it is down: UNAVAILABLE at once, not after the timeout.
  ASSERT_TRUE(WaitUntil([&] { return Sum(backend::kReadyGauge) == 0; }));
  ASSERT_TRUE(SendRequest(*c, 22, 5, "x", 60000));
  r = ReadAnswer(*c);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, ResponseStatus::kUnavailable);
  // Restarted on the same port: the pools reconnect and requests succeed.
  const std::uint64_t connects = Sum(backend::kConnectsTotal);
  backend = std::make_unique<TestBackend>(port);
  ASSERT_EQ(backend->port(), port);
  ASSERT_TRUE(WaitUntil([&] {
    return Sum(backend::kConnectsTotal) >=
           connects + static_cast<std::uint64_t>(workers());
  }));
  ASSERT_TRUE(WaitForReady());
  ASSERT_TRUE(SendRequest(*c, 23, 5, "back"));
  r = ReadAnswer(*c);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, ResponseStatus::kOk);
  EXPECT_EQ(r->payload, "back");
}

TEST_P(BackendTest, MalformedFrameClosesOnlyThatConnection) {
  TestBackend backend;
  config::BackendService s = LoopbackService("mixed", 6, backend.port());
  s.pool_min = 2;
  s.pool_max = 2;
  s.max_in_flight_per_connection = 1;
  StartWith({s});
  ASSERT_TRUE(WaitForReady(2));
  auto c = LoggedOnClient();
  ASSERT_TRUE(c);
  // One request per connection: the held one fills the first, so the
  // malformed one goes to the second.
  ASSERT_TRUE(SendRequest(*c, 31, 6, "hold", 60000));
  ASSERT_TRUE(WaitUntil([&] { return backend.held() == 1; }));
  ASSERT_TRUE(SendRequest(*c, 32, 6, "malformed", 60000));
  std::optional<Answer> r = ReadAnswer(*c);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->correlation, 32u);
  EXPECT_EQ(r->status, ResponseStatus::kBackendError);
  EXPECT_NE(r->payload.find("malformed"), std::string::npos) << r->payload;
  // The backend was told why, before the close.
  EXPECT_TRUE(WaitUntil([&] { return backend.errors() == 1; }));
  // The other connection and its request are untouched.
  backend.ReleaseHeld();
  r = ReadAnswer(*c);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->correlation, 31u);
  EXPECT_EQ(r->status, ResponseStatus::kOk);
  EXPECT_EQ(r->payload, "late");
}

TEST_P(BackendTest, BackendStatusesOtherThanOkReachTheClientAsBackendError) {
  TestBackend backend;
  StartWith({LoopbackService("picky", 8, backend.port())});
  ASSERT_TRUE(WaitForReady());
  auto c = LoggedOnClient();
  ASSERT_TRUE(c);
  ASSERT_TRUE(SendRequest(*c, 41, 8, "error"));
  std::optional<Answer> r = ReadAnswer(*c);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, ResponseStatus::kBackendError);
  EXPECT_EQ(r->payload, "refused");
  ASSERT_TRUE(SendRequest(*c, 42, 8, "status2"));
  r = ReadAnswer(*c);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, ResponseStatus::kBackendError);
  EXPECT_EQ(r->payload, "backend answered TIMEOUT: slow");
}

TEST_P(BackendTest, ClientDisconnectCancelsItsRequests) {
  TestBackend backend;
  StartWith({LoopbackService("cancel", 9, backend.port())});
  ASSERT_TRUE(WaitForReady());
  auto c = LoggedOnClient();
  ASSERT_TRUE(c);
  ASSERT_TRUE(SendRequest(*c, 51, 9, "hold", 60000));
  ASSERT_TRUE(WaitUntil([&] { return backend.held() == 1; }));
  c.reset();
  ASSERT_TRUE(WaitUntil([&] { return Sum(session::kSessionsOpen) == 0; }));
  backend.ReleaseHeld();
  ASSERT_TRUE(
      WaitUntil([&] { return Sum(backend::kLateResponsesTotal) == 1; }));
  EXPECT_EQ(Sum(backend::kRequestsTotal, "status", "ok"), 0u);
}

TEST_P(BackendTest, FullPoolAndFullQueueAnswerOverloaded) {
  TestBackend backend;
  config::BackendService s = LoopbackService("busy", 10, backend.port());
  s.pool_min = 1;
  s.pool_max = 1;
  s.max_in_flight_per_connection = 1;
  s.queue_limit = 1;
  StartWith({s});
  ASSERT_TRUE(WaitForReady());
  auto c = LoggedOnClient();
  ASSERT_TRUE(c);
  ASSERT_TRUE(SendRequest(*c, 61, 10, "hold", 60000));  // in flight
  ASSERT_TRUE(WaitUntil([&] { return backend.held() == 1; }));
  ASSERT_TRUE(SendRequest(*c, 62, 10, "hold", 60000));  // queued
  ASSERT_TRUE(SendRequest(*c, 63, 10, "x", 60000));     // no room anywhere
  std::optional<Answer> r = ReadAnswer(*c);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->correlation, 63u);
  // A version-1 session gets UNAVAILABLE with the overload named.
  EXPECT_EQ(r->status, ResponseStatus::kUnavailable);
  EXPECT_EQ(r->payload.rfind("overloaded: ", 0), 0u) << r->payload;
  // A version-3 session gets OVERLOADED itself.
  auto v3 = TestClient::Connect(gateway_->port());
  ASSERT_TRUE(v3);
  std::optional<Frame> ack = v3->Logon("", 10000, 1, 3);
  ASSERT_TRUE(ack && ack->type() == tp::MessageType::kLogonAck);
  ASSERT_TRUE(SendRequest(*v3, 64, 10, "x", 60000));
  std::optional<Answer> v3_answer = ReadAnswer(*v3);
  if (workers() == 1) {
    ASSERT_TRUE(v3_answer.has_value());
    EXPECT_EQ(v3_answer->status, ResponseStatus::kOverloaded);
    EXPECT_EQ(v3_answer->payload.find("overloaded"), std::string::npos)
        << v3_answer->payload;
    EXPECT_EQ(Sum(backend::kRequestsTotal, "status", "overloaded"), 2u);
  } else {
    // It may have landed on the other worker, whose pool is idle: then
    // the request is simply answered.
    ASSERT_TRUE(v3_answer.has_value());
    EXPECT_TRUE(v3_answer->status == ResponseStatus::kOverloaded ||
                v3_answer->status == ResponseStatus::kOk)
        << v3_answer->payload;
  }
  EXPECT_EQ(Sum(backend::kQueueDepthGauge), 1u);
  // Both held requests are answered, the queued one once the first is.
  backend.ReleaseHeld();
  for (std::uint64_t id : {61u, 62u}) {
    r = ReadAnswer(*c);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->correlation, id);
    EXPECT_EQ(r->status, ResponseStatus::kOk);
  }
  EXPECT_EQ(Sum(backend::kQueueDepthGauge), 0u);
}

TEST_P(BackendTest, UnreadyServiceQueuesAndSendsOnceLoggedOn) {
  // The request arrives before any connection is up: it waits in the queue
  // and goes out as soon as one logs on.
  TestBackend backend;
  StartWith({LoopbackService("early", 12, backend.port())});
  auto c = LoggedOnClient();
  ASSERT_TRUE(c);
  ASSERT_TRUE(SendRequest(*c, 71, 12, "early", 60000));
  std::optional<Answer> r = ReadAnswer(*c);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, ResponseStatus::kOk);
  EXPECT_EQ(r->payload, "early");
}

TEST_P(BackendTest, SilentBackendFailsItsConnectionAfterThreeIntervals) {
  TestBackend backend;
  config::BackendService s = LoopbackService("mute", 14, backend.port());
  s.heartbeat_interval_ms = 50;  // granted as asked by the test backend
  StartWith({s});
  ASSERT_TRUE(WaitForReady());
  auto c = LoggedOnClient();
  ASSERT_TRUE(c);
  ASSERT_TRUE(SendRequest(*c, 91, 14, "mute", 60000));
  std::optional<Answer> r = ReadAnswer(*c);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->correlation, 91u);
  EXPECT_EQ(r->status, ResponseStatus::kUnavailable);
  EXPECT_NE(r->payload.find("sent nothing for 150 ms"), std::string::npos)
      << r->payload;
  EXPECT_GE(Sum(backend::kConnectFailuresTotal), 1u);
}

TEST_P(BackendTest, PoolGrowsForConcurrentRequestsAndShrinksToMinWhenIdle) {
  TestBackend backend;
  config::BackendService s = LoopbackService("grow", 13, backend.port());
  s.pool_min = 1;
  s.pool_max = 4;
  s.max_in_flight_per_connection = 1;
  s.prediction_half_life_ms = 50;
  s.idle_retire_ms = 50;
  s.idle_retire_jitter_ms = 10;
  // The measured demand alone: the client stays connected, and as an
  // interested session it would hold a connection of its own (tested in
  // LookedUpServiceIsReadyForItsSessionsBeforeTheyCall).
  s.prediction_per_session = 0;
  StartWith({s});
  ASSERT_TRUE(WaitForReady());
  auto c = LoggedOnClient();
  ASSERT_TRUE(c);
  // Four requests at once, one per connection: the pool connects three
  // more, and every request reaches the backend.
  for (std::uint64_t id = 81; id <= 84; ++id) {
    ASSERT_TRUE(SendRequest(*c, id, 13, "hold", 60000));
  }
  ASSERT_TRUE(WaitUntil([&] { return backend.held() == 4; }));
  EXPECT_GE(Sum(backend::kConnectsTotal),
            static_cast<std::uint64_t>(workers()) + 3);
  // The ready connection took the first; the other three waited for the
  // connects, and the counter says so.
  EXPECT_EQ(Sum(backend::kQueuedTotal), 3u);
  backend.ReleaseHeld();
  std::set<std::uint64_t> answered;
  for (int i = 0; i < 4; ++i) {
    std::optional<Answer> r = ReadAnswer(*c);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, ResponseStatus::kOk);
    answered.insert(r->correlation);
  }
  EXPECT_EQ(answered, (std::set<std::uint64_t>{81, 82, 83, 84}));
  // Idle again: the extra connections retire, down to pool_min, each
  // saying LOGOUT.
  ASSERT_TRUE(WaitUntil([&] {
    return Sum(backend::kReadyGauge) == static_cast<std::uint64_t>(workers());
  }));
  EXPECT_TRUE(WaitUntil([&] { return backend.logouts() >= 3; }));
}

// The service id in the SERVICE_LOOKUP_ACK that is the next frame; 0 when
// something else came.
std::uint32_t LookupAck(TestClient& c) {
  std::optional<Frame> f = c.ReadSkippingHeartbeats();
  if (!f || f->type() != tp::MessageType::kServiceLookupAck) return 0;
  return tp::ServiceLookupAckView(f->view()).service_id();
}

// A service for the prediction_per_session tests: one request in flight
// per connection, no minimum, quick retirement and decay.
config::BackendService DeskService(std::uint16_t port, double per_session) {
  config::BackendService s = LoopbackService("desk", 21, port);
  s.pool_min = 0;
  s.pool_max = 8;
  s.max_in_flight_per_connection = 1;
  s.prediction_ratio = 1.0;
  s.prediction_per_session = per_session;
  s.prediction_half_life_ms = 20;
  s.idle_retire_ms = 50;
  s.idle_retire_jitter_ms = 10;
  return s;
}

// `n` version-3 clients that have each looked "desk" up (id 21).
std::vector<std::unique_ptr<TestClient>> DeskClients(std::uint16_t port,
                                                     int n) {
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < n; ++i) {
    auto c = TestClient::Connect(port);
    if (c == nullptr) break;
    auto ack = c->Logon("", 10000, 1, 3);
    if (!ack || ack->type() != tp::MessageType::kLogonAck) break;
    if (!c->SendServiceLookup(7, "desk") || LookupAck(*c) != 21u) break;
    clients.push_back(std::move(c));
  }
  EXPECT_EQ(clients.size(), static_cast<std::size_t>(n));
  return clients;
}

// prediction_per_session: sessions that looked a service up count as
// demand before they send anything, so when they all call at once no
// request waits for a connect; when they leave, their connections retire.
TEST_P(BackendTest, LookedUpServiceIsReadyForItsSessionsBeforeTheyCall) {
  TestBackend backend;
  StartWith({DeskService(backend.port(), 1.0)});
  constexpr int kSessions = 4;
  auto clients = DeskClients(gateway_->port(), kSessions);
  ASSERT_EQ(clients.size(), static_cast<std::size_t>(kSessions));
  // Each lookup was answered after its worker's pool was sized for it:
  // one connection per interested session, on the worker it is on.
  EXPECT_EQ(Sum(backend::kTargetGauge), static_cast<std::uint64_t>(kSessions));
  ASSERT_TRUE(WaitUntil([&] {
    return Sum(backend::kReadyGauge) == static_cast<std::uint64_t>(kSessions);
  }));
  EXPECT_EQ(Sum(backend::kConnectsTotal),
            static_cast<std::uint64_t>(kSessions));
  // All call at once: every request finds a ready connection.
  for (int i = 0; i < kSessions; ++i) {
    ASSERT_TRUE(SendRequest(*clients[static_cast<std::size_t>(i)],
                            100 + static_cast<std::uint64_t>(i), 21, "hold",
                            60000));
  }
  ASSERT_TRUE(WaitUntil([&] { return backend.held() == kSessions; }));
  // None waited for a connect (the step they made may grow the pool
  // further through the trend, which is not what is tested here).
  EXPECT_EQ(Sum(backend::kQueuedTotal), 0u);
  backend.ReleaseHeld();
  for (auto& c : clients) {
    std::optional<Answer> r = ReadAnswer(*c);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, ResponseStatus::kOk);
  }
  // Three sessions leave: their interest goes with them, and the idle
  // connections retire down to the one the last session is counted for.
  clients.resize(1);
  ASSERT_TRUE(WaitUntil([&] {
    return Sum(backend::kReadyGauge) == 1u && Sum(backend::kTargetGauge) == 1u;
  }));
}

// Sessions that only looked the service up and never called it: when they
// end, their interest ends with them and the pool retires back to pool_min
// (0).
TEST_P(BackendTest, LookupOnlySessionsThatLeaveTakeTheirConnectionsAlong) {
  TestBackend backend;
  StartWith({DeskService(backend.port(), 1.0)});
  auto clients = DeskClients(gateway_->port(), 3);
  ASSERT_EQ(clients.size(), 3u);
  ASSERT_TRUE(WaitUntil([&] { return Sum(backend::kReadyGauge) == 3u; }));
  clients.clear();
  ASSERT_TRUE(WaitUntil([&] {
    return Sum(backend::kTargetGauge) == 0u && Sum(backend::kReadyGauge) == 0u;
  }));
  EXPECT_EQ(Sum(backend::kQueuedTotal), 0u);
}

// With prediction_per_session 0 the same lookups leave the pool at
// pool_min (0): only measured demand sizes it.
TEST_P(BackendTest, LookupsDoNotSizeThePoolWhenPerSessionIsOff) {
  TestBackend backend;
  StartWith({DeskService(backend.port(), 0.0)});
  auto clients = DeskClients(gateway_->port(), 4);
  ASSERT_EQ(clients.size(), 4u);
  EXPECT_EQ(Sum(backend::kTargetGauge), 0u);
  EXPECT_EQ(Sum(backend::kConnectsTotal), 0u);
  EXPECT_EQ(Sum(backend::kConnectingGauge), 0u);
}

// A scheduled warm-up (warm_at) whose window covers now fills the pool to
// warm_connections before any request arrives; requests up to that many at
// once then never wait for a connection.
TEST_P(BackendTest, ScheduledWarmUpFillsThePoolBeforeAnyRequest) {
  TestBackend backend;
  config::BackendService s = LoopbackService("open", 18, backend.port());
  s.max_in_flight_per_connection = 1;
  s.pool_min = 1;
  s.pool_max = 8;
  const std::time_t t = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&t, &utc);
  char hhmm[8];
  std::snprintf(hhmm, sizeof hhmm, "%02d:%02d", utc.tm_hour, utc.tm_min);
  s.warm_at = {hhmm};  // this minute: the window covers now
  s.warm_connections = 3;
  s.warm_lead_ms = 60000;
  s.warm_hold_ms = 120000;
  StartWith({s});
  ASSERT_TRUE(WaitForReady(3));
  auto c = LoggedOnClient();
  ASSERT_TRUE(c);
  for (std::uint64_t id = 1; id <= 3; ++id) {
    ASSERT_TRUE(SendRequest(*c, id, 18, "hold", 60000));
  }
  ASSERT_TRUE(WaitUntil([&] { return backend.held() == 3; }));
  EXPECT_EQ(Sum(backend::kQueuedTotal), 0u);
  backend.ReleaseHeld();
  for (int i = 0; i < 3; ++i) {
    std::optional<Answer> r = ReadAnswer(*c);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, ResponseStatus::kOk);
  }
}

// A graceful stop waits for the backends' answers to requests already in
// flight (bounded by their timeouts) before it says LOGOUT to the client.
TEST_P(BackendTest, GracefulStopDeliversAnswersToRequestsInFlight) {
  TestBackend backend;
  StartWith({LoopbackService("drain", 17, backend.port())});
  ASSERT_TRUE(WaitForReady());
  auto c = LoggedOnClient();
  ASSERT_TRUE(c);
  ASSERT_TRUE(SendRequest(*c, 91, 17, "hold", 60000));
  ASSERT_TRUE(WaitUntil([&] { return backend.held() == 1; }));
  gateway_->RequestStop();
  backend.ReleaseHeld();
  std::optional<Answer> r = ReadAnswer(*c);
  ASSERT_TRUE(r.has_value()) << "no RESPONSE before the session ended";
  EXPECT_EQ(r->status, ResponseStatus::kOk);
  EXPECT_EQ(r->correlation, 91u);
  EXPECT_EQ(r->payload, "late");
  std::optional<Frame> bye = c->ReadSkippingHeartbeats();
  ASSERT_TRUE(bye.has_value());
  EXPECT_EQ(bye->type(), tp::MessageType::kLogout);
}

TEST(BackendConfigTest, AnEndpointThatDoesNotResolveStopsTheStart) {
  config::GatewayConfig c = TestConfig({config::IoBackend::kEpoll, 1});
  config::BackendService s = LoopbackService("pricing", 16, 1);
  s.endpoints = {"127.0.0.1:1", "no-port-here"};
  c.backends = {s};
  server::Gateway gateway(c);
  const absl::Status status = gateway.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("'pricing'"), std::string::npos) << status;
  EXPECT_NE(status.message().find("'no-port-here'"), std::string::npos)
      << status;
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendTest,
                         ::testing::ValuesIn(AllGatewayParams()), ParamName);

}  // namespace
}  // namespace tachyon::testing
