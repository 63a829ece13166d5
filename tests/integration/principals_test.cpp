// Principals end to end through a real gateway on loopback (PROTOCOL.md
// 7.8), beside auth_test.cpp: REQUEST, SERVICE_LOOKUP and UDP_SUBSCRIBE
// refused NOT_AUTHORIZED while the session goes on (with a real backend
// service on loopback, support/test_backend.h); each per-principal quota
// exhausted by one principal while another principal, and where the quota
// is the principal's rather than the session's another connection of the
// same principal, is unaffected (max_subscriptions, publish_rate,
// max_buffered_bytes); and reloads revoking a permission, judged for the
// very next frame. Both io backends, one and two workers.
//
// Every wait is bounded; nothing sleeps and then asserts.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/token_hash.h"
#include "backend/backend_counters.h"
#include "gtest/gtest.h"
#include "session/session_counters.h"
#include "stream/stream_metric_names.h"
#include "support/gateway_fixture.h"
#include "support/net.h"
#include "support/test_backend.h"
#include "support/token_hashes.h"
#include "support/wait.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
using ::tachyon::protocol::ErrorCode;
using ::tachyon::protocol::MessageType;
using ::tachyon::protocol::ResponseStatus;
using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kPricing = 7;  // alice may request it
constexpr std::uint32_t kAdmin = 8;    // alice may not

constexpr std::string_view kAlice = "alice:alice-secret";
constexpr std::string_view kBob = "bob:bob-secret";

// alice: publishes and creates orders.*, subscribes md.* but not
// md.secret*, requests "pricing" only; bob may do anything. No quotas:
// each test sets the one it exercises.
config::GatewayConfig PrincipalsConfig(const GatewayParam& p) {
  config::GatewayConfig c = TestConfig(p);
  c.auth.anonymous = false;
  config::Principal alice;
  alice.name = "alice";
  alice.token_hash = AliceHash();
  alice.publish = {"orders.*"};
  alice.create = {"orders.*"};
  alice.subscribe = {"md.*"};
  alice.deny_subscribe = {"md.secret*"};
  alice.request = {"pricing"};
  c.principals.push_back(alice);
  config::Principal bob;
  bob.name = "bob";
  bob.token_hash = BobHash();
  bob.publish = {"*"};
  bob.subscribe = {"*"};
  bob.create = {"*"};
  bob.request = {"*"};
  c.principals.push_back(bob);
  return c;
}

// The next non-heartbeat frame: an ERROR with `code` and `fatal`, whose
// context is `context` and whose text contains `needle`.
void ExpectError(TestClient& c, ErrorCode code, std::string_view needle,
                 std::uint64_t context, bool fatal = false) {
  auto f = c.ReadSkippingHeartbeats();
  ASSERT_TRUE(f) << "no ERROR containing: " << needle;
  ASSERT_EQ(f->type(), MessageType::kError)
      << tp::MessageTypeName(f->type())
      << " instead of an ERROR containing: " << needle;
  const tp::ErrorView e(f->view());
  EXPECT_EQ(e.code(), code) << e.text();
  EXPECT_EQ(e.fatal(), fatal) << e.text();
  EXPECT_EQ(e.context(), context) << e.text();
  EXPECT_NE(std::string(e.text()).find(needle), std::string::npos) << e.text();
}

// The next non-heartbeat frame is a SUBSCRIBE_ACK of subscription `id`.
void ExpectSubscribeAck(TestClient& c, std::uint32_t id) {
  auto f = c.ReadSkippingHeartbeats();
  ASSERT_TRUE(f) << "no SUBSCRIBE_ACK of " << id;
  if (f->type() == MessageType::kError) {
    FAIL() << "ERROR instead of SUBSCRIBE_ACK of " << id << ": "
           << tp::ErrorView(f->view()).text();
  }
  ASSERT_EQ(f->type(), MessageType::kSubscribeAck)
      << tp::MessageTypeName(f->type());
  EXPECT_EQ(tp::StreamAckView(f->view()).id(), id);
}

bool SendRequest(TestClient& c, std::uint64_t correlation,
                 std::uint32_t service, std::string_view payload) {
  std::vector<std::byte> buf(tp::RequestView::kFixedLength + payload.size() +
                             8);
  const std::size_t n =
      tp::EncodeRequest(buf, {.correlation_id = correlation,
                              .service_id = service,
                              .payload = tp::AsBytes(payload)});
  return c.SendRaw({buf.data(), n});
}

struct Answer {
  std::uint64_t correlation = 0;
  std::uint32_t service = 0;
  ResponseStatus status = ResponseStatus::kOk;
  std::string payload;
};

std::optional<Answer> ReadAnswer(TestClient& c) {
  std::optional<Frame> f = c.ReadSkippingHeartbeats();
  if (!f) return std::nullopt;
  if (f->type() != MessageType::kResponse) {
    ADD_FAILURE() << tp::MessageTypeName(f->type()) << " instead of RESPONSE";
    return std::nullopt;
  }
  const tp::ResponseView r(f->view());
  return Answer{r.correlation_id(), r.service_id(), r.status(),
                std::string(tp::AsText(r.payload()))};
}

// The next non-heartbeat frame is a SERVICE_LOOKUP_ACK of `correlation`:
// its service id (0 also when something else came).
std::uint32_t LookupAck(TestClient& c, std::uint64_t correlation) {
  auto f = c.ReadSkippingHeartbeats();
  if (!f || f->type() != MessageType::kServiceLookupAck) {
    ADD_FAILURE() << "no SERVICE_LOOKUP_ACK";
    return 0;
  }
  const tp::ServiceLookupAckView a(f->view());
  EXPECT_EQ(a.correlation_id(), correlation);
  return a.service_id();
}

bool SendOpen(TestClient& c, std::string_view name, std::uint32_t id) {
  std::vector<std::byte> out(512);
  const std::size_t n = tp::EncodeOpenStream(out, id, name);
  return n != 0 && c.SendRaw({out.data(), n});
}

bool SendUnsubscribe(TestClient& c, std::uint32_t id) {
  std::array<std::byte, 64> buf;
  return c.SendRaw(
      std::span(buf).first(tp::EncodeUnsubscribe(buf, SubscriptionId{id})));
}

bool SendUdpSubscribe(TestClient& c, std::uint32_t id, std::string_view name,
                      std::uint16_t port) {
  std::vector<std::byte> out(512);
  // Address 0.0.0.0: the session's own address (PROTOCOL.md 16.6).
  out.resize(tp::EncodeUdpSubscribe(out, {.subscription_id = SubscriptionId{id},
                                          .address = {0, 0, 0, 0},
                                          .port = port,
                                          .name = name}));
  return !out.empty() && c.SendRaw(out);
}

// `count` PUBLISH frames asking for a PUBLISH_ACK, correlation ids
// first.., in one write.
bool PublishAckedBurst(TestClient& c, StreamId stream, int count,
                       std::uint64_t first) {
  std::vector<std::byte> out(static_cast<std::size_t>(count) * 64);
  std::size_t n = 0;
  for (int i = 0; i < count; ++i) {
    n += tp::EncodePublish(std::span(out).subspan(n), stream,
                           first + static_cast<std::uint64_t>(i),
                           tp::AsBytes(std::string_view("rate")),
                           tp::AckMode::kRequested);
  }
  return c.SendRaw({out.data(), n});
}

// Reads `count` PUBLISH_ACKs (correlation ids first.. in order): how many
// said OK. Each refusal must be LIMIT_EXCEEDED; once one was refused, the
// OKs that follow are the bucket's refill. Fails the test on anything else.
int CountAccepted(TestClient& c, int count, std::uint64_t first) {
  int ok = 0;
  for (int i = 0; i < count; ++i) {
    auto f = c.ReadSkippingHeartbeats();
    if (!f || f->type() != MessageType::kPublishAck) {
      ADD_FAILURE() << "PUBLISH_ACK " << i << " of " << count << " missing";
      return ok;
    }
    const tp::PublishAckView a(f->view());
    EXPECT_EQ(a.correlation_id(), first + static_cast<std::uint64_t>(i));
    if (a.status() == ErrorCode::kNone) {
      ++ok;
    } else {
      EXPECT_EQ(a.status(), ErrorCode::kLimitExceeded);
    }
  }
  return ok;
}

class PrincipalsTest : public GatewayTest {
 protected:
  // A client logged on with `token` (protocol versions 1..3: SERVICE_LOOKUP
  // needs 3); nullptr (a test failure) if the LOGON was not acked.
  std::unique_ptr<TestClient> As(std::string_view token, int rcvbuf = 0) {
    auto c = TestClient::Connect(gateway_->port(), rcvbuf);
    EXPECT_NE(c, nullptr);
    if (c == nullptr) return c;
    auto ack = c->Logon(token, 10000, 1, 3);
    EXPECT_TRUE(ack && ack->type() == MessageType::kLogonAck) << token;
    if (!ack || ack->type() != MessageType::kLogonAck) return nullptr;
    return c;
  }
  std::uint64_t Sum(std::string_view name, std::string_view label = {},
                    std::string_view value = {}) const {
    return gateway_->counters().Sum(name, label, value);
  }
  std::uint64_t Refused(std::string_view action) const {
    return Sum(session::kPermissionRefusalsTotal, "action", action);
  }
  std::uint64_t QuotaRefusals(std::string_view quota) const {
    return Sum(session::kQuotaRefusalsTotal, "quota", quota);
  }
  // Starts `c` with services "pricing" (kPricing) and "admin" (kAdmin),
  // both served by `backend`, and waits until every worker's pool for
  // each has a connection logged on.
  void StartWithServices(config::GatewayConfig c, const TestBackend& backend) {
    ASSERT_NE(backend.port(), 0);
    c.backends = {LoopbackService("pricing", kPricing, backend.port()),
                  LoopbackService("admin", kAdmin, backend.port())};
    Start(c);
    ASSERT_TRUE(WaitUntil([&] {
      return Sum(backend::kReadyGauge) >=
             static_cast<std::uint64_t>(2 * GetParam().workers);
    }));
  }
};

// ------------------------------------------------------------ permissions

TEST_P(PrincipalsTest, ForbiddenRequestIsRefusedAndTheSessionGoesOn) {
  TestBackend backend;
  ASSERT_NO_FATAL_FAILURE(
      StartWithServices(PrincipalsConfig(GetParam()), backend));
  auto alice = As(kAlice);
  auto bob = As(kBob);
  ASSERT_TRUE(alice && bob);

  // Refused: an ERROR naming the service, then the one RESPONSE every
  // REQUEST gets (NO_SUCH_SERVICE: not a service alice may use).
  ASSERT_TRUE(SendRequest(*alice, 1, kAdmin, "shutdown"));
  ExpectError(*alice, ErrorCode::kNotAuthorized,
              "principal 'alice' may not request service 'admin'", 1);
  std::optional<Answer> refused = ReadAnswer(*alice);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->correlation, 1u);
  EXPECT_EQ(refused->service, kAdmin);
  EXPECT_EQ(refused->status, ResponseStatus::kNoSuchService);
  EXPECT_NE(refused->payload.find("not authorized"), std::string::npos)
      << refused->payload;
  EXPECT_EQ(Refused("request"), 1u);

  // The same session: an allowed service answers, through the backend.
  ASSERT_TRUE(SendRequest(*alice, 2, kPricing, "quote"));
  std::optional<Answer> quote = ReadAnswer(*alice);
  ASSERT_TRUE(quote);
  EXPECT_EQ(quote->correlation, 2u);
  EXPECT_EQ(quote->status, ResponseStatus::kOk);
  EXPECT_EQ(quote->payload, "quote");
  // The refused REQUEST never reached the backend.
  EXPECT_EQ(backend.requests(), 1);

  // Refused again (the decision is remembered per service id), and bob,
  // who may request anything, is served by the same service.
  ASSERT_TRUE(SendRequest(*alice, 3, kAdmin, "again"));
  ExpectError(*alice, ErrorCode::kNotAuthorized, "service 'admin'", 3);
  ASSERT_TRUE(ReadAnswer(*alice));
  ASSERT_TRUE(SendRequest(*bob, 1, kAdmin, "bob's"));
  std::optional<Answer> bobs = ReadAnswer(*bob);
  ASSERT_TRUE(bobs);
  EXPECT_EQ(bobs->status, ResponseStatus::kOk);
  EXPECT_EQ(bobs->payload, "bob's");
  EXPECT_EQ(backend.requests(), 2);
  EXPECT_EQ(Refused("request"), 2u);
}

TEST_P(PrincipalsTest, ForbiddenServiceLookupIsRefusedLikeAnAbsentService) {
  TestBackend backend;
  ASSERT_NO_FATAL_FAILURE(
      StartWithServices(PrincipalsConfig(GetParam()), backend));
  auto alice = As(kAlice);
  auto bob = As(kBob);
  ASSERT_TRUE(alice && bob);
  // Forbidden: an ERROR naming the service, and id 0 in the ack.
  ASSERT_TRUE(alice->SendServiceLookup(11, "admin"));
  ExpectError(*alice, ErrorCode::kNotAuthorized,
              "principal 'alice' may not request service 'admin'", 11);
  EXPECT_EQ(LookupAck(*alice, 11), 0u);
  // A forbidden name no service has is answered the same way: the answer
  // does not tell which services exist.
  ASSERT_TRUE(alice->SendServiceLookup(12, "payroll"));
  ExpectError(*alice, ErrorCode::kNotAuthorized,
              "principal 'alice' may not request service 'payroll'", 12);
  EXPECT_EQ(LookupAck(*alice, 12), 0u);
  // The session goes on: the allowed service is found and answers.
  ASSERT_TRUE(alice->SendServiceLookup(13, "pricing"));
  EXPECT_EQ(LookupAck(*alice, 13), kPricing);
  ASSERT_TRUE(SendRequest(*alice, 14, kPricing, "after lookups"));
  std::optional<Answer> a = ReadAnswer(*alice);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, ResponseStatus::kOk);
  EXPECT_EQ(a->payload, "after lookups");
  // Bob finds "admin".
  ASSERT_TRUE(bob->SendServiceLookup(1, "admin"));
  EXPECT_EQ(LookupAck(*bob, 1), kAdmin);
  EXPECT_EQ(Refused("request"), 2u);
}

TEST_P(PrincipalsTest, ForbiddenUdpSubscribeIsRefusedAndTheSessionGoesOn) {
  config::GatewayConfig c = PrincipalsConfig(GetParam());
  c.udp.enabled = true;
  c.udp.port = 0;
  c.udp.heartbeat_interval_ms = 20;
  ASSERT_NO_FATAL_FAILURE(Start(c));
  auto alice = As(kAlice);
  auto bob = As(kBob);
  ASSERT_TRUE(alice && bob);
  const StreamId eq = bob->Open("md.eq.AAPL", 1);
  ASSERT_NE(eq.value(), 0u);
  const StreamId secret = bob->Open("md.secret.x", 2);
  ASSERT_NE(secret.value(), 0u);
  UdpSocket receiver;
  // Denied by deny_subscribe (deny wins over md.*), and not allowed at all.
  ASSERT_TRUE(SendUdpSubscribe(*alice, 1, "md.secret.x", receiver.port()));
  ExpectError(*alice, ErrorCode::kNotAuthorized,
              "principal 'alice' may not subscribe to stream 'md.secret.x'", 1);
  ASSERT_TRUE(SendUdpSubscribe(*alice, 2, "orders.eu", receiver.port()));
  ExpectError(*alice, ErrorCode::kNotAuthorized,
              "principal 'alice' may not subscribe to stream 'orders.eu'", 2);
  EXPECT_EQ(Refused("subscribe"), 2u);
  // The same session, an allowed stream: acked, and its DATA arrives by
  // UDP; nothing of the refused stream does (its destination was never
  // added, so the first DATA datagram is md.eq.AAPL's).
  ASSERT_TRUE(SendUdpSubscribe(*alice, 3, "md.eq.AAPL", receiver.port()));
  ExpectSubscribeAck(*alice, 3);
  ASSERT_TRUE(bob->Publish(secret, "hidden"));
  ASSERT_TRUE(bob->Publish(eq, "visible"));
  bool got = false;
  for (int i = 0; i < 1000 && !got; ++i) {
    const std::vector<std::byte> d = receiver.Receive();
    ASSERT_FALSE(d.empty()) << "no DATA datagram";
    const tp::DatagramResult r =
        tp::DecodeDatagram(d, tp::kDefaultMaxFrameLength);
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.view.stream_id(), eq);
    if (r.view.kind() != tp::DatagramKind::kData) continue;
    for (tp::FrameView f : r.view) {
      const tp::DataView data(f);
      EXPECT_EQ(std::string(tp::AsText(data.payload())), "visible");
    }
    got = true;
  }
  EXPECT_TRUE(got);
}

// ------------------------------------------------------------ quotas

TEST_P(PrincipalsTest, MaxSubscriptionsIsSharedByThePrincipalsSessions) {
  config::GatewayConfig c = PrincipalsConfig(GetParam());
  c.principals[0].max_subscriptions = 2;
  ASSERT_NO_FATAL_FAILURE(Start(c));
  auto alice = As(kAlice);
  auto alice2 = As(kAlice);
  auto bob = As(kBob);
  ASSERT_TRUE(alice && alice2 && bob);
  for (const char* name : {"md.a", "md.b", "md.c", "md.d", "md.e"}) {
    ASSERT_NE(bob->Open(name, 1).value(), 0u);
  }
  // One subscription on each of alice's connections: the principal's two.
  ASSERT_TRUE(alice->SendSubscribe(1, "md.a"));
  ExpectSubscribeAck(*alice, 1);
  ASSERT_TRUE(alice2->SendSubscribe(1, "md.b"));
  ExpectSubscribeAck(*alice2, 1);
  // The third is refused on either connection, naming the limit and its
  // value; a pattern counts as one like an exact name.
  ASSERT_TRUE(alice->SendSubscribe(2, "md.c"));
  ExpectError(*alice, ErrorCode::kLimitExceeded,
              "principal 'alice' may hold at most 2 subscriptions "
              "(max_subscriptions)",
              2);
  ASSERT_TRUE(alice2->SendSubscribe(2, "md.*"));
  ExpectError(*alice2, ErrorCode::kLimitExceeded, "at most 2 subscriptions", 2);
  EXPECT_EQ(QuotaRefusals("max_subscriptions"), 2u);
  // Bob is unaffected: five.
  for (std::uint32_t id = 1; id <= 5; ++id) {
    ASSERT_TRUE(bob->SendSubscribe(id, "md." + std::string(1, 'a' + id - 1)));
    ExpectSubscribeAck(*bob, id);
  }
  // UNSUBSCRIBE gives one back (UNSUBSCRIBE has no answer: the SUBSCRIBE
  // after it on the same connection is read after it).
  ASSERT_TRUE(SendUnsubscribe(*alice, 1));
  ASSERT_TRUE(alice->SendSubscribe(3, "md.c"));
  ExpectSubscribeAck(*alice, 3);
  // ...and only one: the principal holds two again.
  ASSERT_TRUE(alice2->SendSubscribe(3, "md.d"));
  ExpectError(*alice2, ErrorCode::kLimitExceeded, "at most 2 subscriptions", 3);
  // A refused SUBSCRIBE took nothing: after alice's session ends, which
  // gives back what it held, alice2 may take exactly one more.
  alice.reset();
  ASSERT_TRUE(WaitUntil([&] { return gateway_->Stats().sessions_open == 2; }))
      << gateway_->Stats().sessions_open;
  ASSERT_TRUE(alice2->SendSubscribe(4, "md.d"));
  ExpectSubscribeAck(*alice2, 4);
  ASSERT_TRUE(alice2->SendSubscribe(5, "md.e"));
  ExpectError(*alice2, ErrorCode::kLimitExceeded, "at most 2 subscriptions", 5);
  EXPECT_EQ(QuotaRefusals("max_subscriptions"), 4u);
}

TEST_P(PrincipalsTest, UdpSubscribeCountsAgainstMaxSubscriptions) {
  config::GatewayConfig c = PrincipalsConfig(GetParam());
  c.udp.enabled = true;
  c.udp.port = 0;
  c.principals[0].max_subscriptions = 1;
  ASSERT_NO_FATAL_FAILURE(Start(c));
  auto alice = As(kAlice);
  auto bob = As(kBob);
  ASSERT_TRUE(alice && bob);
  ASSERT_NE(bob->Open("md.a", 1).value(), 0u);
  ASSERT_NE(bob->Open("md.b", 2).value(), 0u);
  UdpSocket receiver;
  ASSERT_TRUE(SendUdpSubscribe(*alice, 1, "md.a", receiver.port()));
  ExpectSubscribeAck(*alice, 1);
  ASSERT_TRUE(SendUdpSubscribe(*alice, 2, "md.b", receiver.port()));
  ExpectError(*alice, ErrorCode::kLimitExceeded,
              "principal 'alice' may hold at most 1 subscriptions", 2);
  ASSERT_TRUE(alice->SendSubscribe(3, "md.b"));
  ExpectError(*alice, ErrorCode::kLimitExceeded, "at most 1 subscriptions", 3);
  // UNSUBSCRIBE of the UDP subscription gives its slot back.
  ASSERT_TRUE(SendUnsubscribe(*alice, 1));
  ASSERT_TRUE(alice->SendSubscribe(4, "md.b"));
  ExpectSubscribeAck(*alice, 4);
  EXPECT_EQ(QuotaRefusals("max_subscriptions"), 2u);
}

// publish_rate is one token bucket per principal (its sessions on every
// worker share it; one second's worth banked, full at the first PUBLISH):
// a PUBLISH beyond it is refused with PUBLISH_ACK LIMIT_EXCEEDED and
// counted, never appended. Bounds that hold on any machine: the bucket
// grants at most rate + rate * elapsed over the test, and the first `rate`
// are granted.
TEST_P(PrincipalsTest, PublishRateRefusesBeyondTheRateAndSparesOthers) {
  constexpr std::uint32_t kRate = 5;
  constexpr int kBurst = 200;
  config::GatewayConfig c = PrincipalsConfig(GetParam());
  c.principals[0].publish_rate = kRate;
  const Clock::time_point begin = Clock::now();
  ASSERT_NO_FATAL_FAILURE(Start(c));
  auto alice = As(kAlice);
  auto alice2 = As(kAlice);
  auto bob = As(kBob);
  ASSERT_TRUE(alice && alice2 && bob);
  const StreamId a = alice->Open("orders.rate.a", 1);
  const StreamId a2 = alice2->Open("orders.rate.b", 1);
  const StreamId b = bob->Open("orders.rate.c", 1);
  ASSERT_TRUE(a.value() != 0 && a2.value() != 0 && b.value() != 0);

  ASSERT_TRUE(PublishAckedBurst(*alice, a, kBurst, 1));
  const int ok1 = CountAccepted(*alice, kBurst, 1);
  // The second connection draws from the same, now spent, bucket.
  ASSERT_TRUE(PublishAckedBurst(*alice2, a2, kBurst, 1));
  const int ok2 = CountAccepted(*alice2, kBurst, 1);
  const double elapsed_s =
      std::chrono::duration<double>(Clock::now() - begin).count();
  EXPECT_GE(ok1, static_cast<int>(kRate));
  EXPECT_LT(ok1, kBurst) << "nothing refused beyond the rate";
  // +1: the bucket's arithmetic is in doubles.
  EXPECT_LE(ok1 + ok2, static_cast<int>(kRate + kRate * elapsed_s) + 1)
      << "over " << elapsed_s << " s";
  const std::uint64_t refused = 2 * kBurst - ok1 - ok2;
  EXPECT_EQ(QuotaRefusals("publish_rate"), refused);
  // Only what was acked OK was appended.
  const stream::StreamLog* la = gateway_->registry().Find(a);
  const stream::StreamLog* la2 = gateway_->registry().Find(a2);
  ASSERT_TRUE(la && la2);
  EXPECT_EQ(la->appended(), static_cast<std::uint64_t>(ok1));
  EXPECT_EQ(la2->appended(), static_cast<std::uint64_t>(ok2));

  // Bob has no rate: all of his are appended, and the counter did not move.
  ASSERT_TRUE(PublishAckedBurst(*bob, b, kBurst, 1));
  EXPECT_EQ(CountAccepted(*bob, kBurst, 1), kBurst);
  EXPECT_EQ(QuotaRefusals("publish_rate"), refused);
  // Alice's sessions go on: a refused PUBLISH is not a fault.
  EXPECT_NE(alice->Open("orders.rate.d", 2).value(), 0u);
}

// max_buffered_bytes caps the bytes queued for one of the principal's
// sessions (the control queue, limits.max_outbound_queue_bytes, whichever
// is smaller): a session of alice that does not read is cut as a slow
// consumer once its answers queue past the cap, while bob, not reading
// either, has at least as much queued and is not, and alice's other
// session, which reads, goes on.
TEST_P(PrincipalsTest, MaxBufferedBytesCutsOnlyThePrincipalsStalledSession) {
  config::GatewayConfig c = PrincipalsConfig(GetParam());
  c.max_outbound_queue_bytes = 256u << 20;
  c.principals[0].max_buffered_bytes = 16u << 10;
  ASSERT_NO_FATAL_FAILURE(Start(c));
  auto cuts = [&] {
    return Sum(session::kSlowConsumersTotal, "reason", "control_queue");
  };
  // Small receive buffers, so that the answers pile up in the gateway.
  auto alice = As(kAlice, 4096);
  auto alice2 = As(kAlice);
  auto bob = As(kBob, 4096);
  ASSERT_TRUE(alice && alice2 && bob);
  // OPEN_STREAMs of one stream with a long name: each is answered with an
  // OPEN_STREAM_ACK of some 280 bytes, 256 of them about 70 KiB.
  const std::string alice_stream = "orders." + std::string(200, 'a');
  const std::string bob_stream = "orders." + std::string(200, 'b');
  ASSERT_NE(alice->Open(alice_stream, 1).value(), 0u);
  ASSERT_NE(bob->Open(bob_stream, 1).value(), 0u);
  constexpr int kPerBatch = 256;
  auto batch = [&](const std::string& name) {
    std::vector<std::byte> out(kPerBatch * 256);
    std::size_t n = 0;
    for (int i = 0; i < kPerBatch; ++i) {
      n += tp::EncodeOpenStream(std::span(out).subspan(n),
                                static_cast<std::uint32_t>(i + 2), name);
    }
    out.resize(n);
    return out;
  };
  const std::vector<std::byte> alice_batch = batch(alice_stream);
  const std::vector<std::byte> bob_batch = batch(bob_stream);
  int batches = 0;
  for (; batches < 400 && cuts() == 0; ++batches) {
    if (!alice->SendRaw(alice_batch)) break;  // the cut reset it
  }
  ASSERT_TRUE(WaitUntil([&] { return cuts() == 1; }))
      << "alice not cut after " << batches << " batches";
  ASSERT_TRUE(WaitUntil([&] { return gateway_->Stats().sessions_open == 2; }));
  // Bob asks for as many answers without reading, then reads them all.
  for (int i = 0; i < batches; ++i) ASSERT_TRUE(bob->SendRaw(bob_batch));
  for (int i = 0; i < batches * kPerBatch; ++i) {
    auto f = bob->ReadSkippingHeartbeats();
    ASSERT_TRUE(f) << "bob's answer " << i << " of " << batches * kPerBatch;
    ASSERT_EQ(f->type(), MessageType::kOpenStreamAck) << i;
  }
  EXPECT_EQ(cuts(), 1u);
  // Alice's other session is not the stalled one: it goes on.
  EXPECT_NE(alice2->Open(alice_stream, 1).value(), 0u);
  EXPECT_EQ(gateway_->Stats().sessions_open, 2);
}

// max_streams_created counts the streams the principal created that still
// exist, over all its sessions: a second connection of alice is refused
// too, bob is not, and a retired stream gives its slot back.
TEST_P(PrincipalsTest, MaxStreamsCreatedIsSharedAndReturnedByRetirement) {
  config::GatewayConfig c = PrincipalsConfig(GetParam());
  c.principals[0].max_streams_created = 1;
  c.default_stream.idle_retire_ms = 50;
  ASSERT_NO_FATAL_FAILURE(Start(c));
  auto alice2 = As(kAlice);
  auto bob = As(kBob);
  ASSERT_TRUE(alice2 && bob);
  {
    auto alice = As(kAlice);
    ASSERT_TRUE(alice);
    ASSERT_NE(alice->Open("orders.a", 1).value(), 0u);
    ASSERT_TRUE(SendOpen(*alice2, "orders.b", 1));
    ExpectError(*alice2, ErrorCode::kLimitExceeded,
                "principal 'alice' may create at most 1 streams "
                "(max_streams_created)",
                1);
    EXPECT_EQ(QuotaRefusals("max_streams_created"), 1u);
    // Bob creates as many as he likes.
    for (std::uint32_t id = 1; id <= 3; ++id) {
      ASSERT_NE(bob->Open("orders.bob" + std::to_string(id), id).value(), 0u);
    }
  }
  // Alice's session is gone; orders.a, unused, is retired (the sweep runs
  // about once a second) and with it her count.
  const base::CounterRegistry& metrics = gateway_->counters();
  ASSERT_TRUE(WaitUntil([&] {
    return metrics.Sum(stream::kStreamsRetiredTotal) >= 1;
  })) << "orders.a was not retired";
  EXPECT_EQ(gateway_->registry().FindByName("orders.a"), nullptr);
  ASSERT_NE(alice2->Open("orders.b", 2).value(), 0u);
  ASSERT_TRUE(SendOpen(*alice2, "orders.c", 3));
  ExpectError(*alice2, ErrorCode::kLimitExceeded, "at most 1 streams", 3);
}

// ------------------------------------------------------------ reloads

// A reload that revokes a REQUEST permission applies to the very next
// REQUEST, even one read before the session's next tick: refused
// NOT_AUTHORIZED (non-fatal; a session holds nothing for a service), and
// the session goes on. A reload that grants it back applies alike.
TEST_P(PrincipalsTest, ReloadRevokingRequestRefusesTheNextRequest) {
  TestBackend backend;
  ASSERT_NO_FATAL_FAILURE(
      StartWithServices(PrincipalsConfig(GetParam()), backend));
  auto alice = As(kAlice);
  ASSERT_TRUE(alice);
  ASSERT_TRUE(SendRequest(*alice, 1, kPricing, "before"));
  std::optional<Answer> before = ReadAnswer(*alice);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, ResponseStatus::kOk);

  config::GatewayConfig revoked = gateway_->config();
  revoked.principals[0].deny_request = {"pricing"};
  ASSERT_EQ(gateway_->Reload(revoked).restart_required.size(), 0u);
  ASSERT_TRUE(SendRequest(*alice, 2, kPricing, "after"));
  ExpectError(*alice, ErrorCode::kNotAuthorized,
              "principal 'alice' may not request service 'pricing'", 2);
  std::optional<Answer> after = ReadAnswer(*alice);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, ResponseStatus::kNoSuchService);
  EXPECT_EQ(backend.requests(), 1);
  // SERVICE_LOOKUP follows the same permission.
  ASSERT_TRUE(alice->SendServiceLookup(3, "pricing"));
  ExpectError(*alice, ErrorCode::kNotAuthorized, "service 'pricing'", 3);
  EXPECT_EQ(LookupAck(*alice, 3), 0u);

  config::GatewayConfig restored = revoked;
  restored.principals[0].deny_request.clear();
  gateway_->Reload(restored);
  ASSERT_TRUE(SendRequest(*alice, 4, kPricing, "restored"));
  std::optional<Answer> again = ReadAnswer(*alice);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, ResponseStatus::kOk);
  EXPECT_EQ(again->payload, "restored");
  EXPECT_EQ(Sum(session::kAuthRevocationsTotal), 0u);
}

// A reload that revokes a publish permission closes the session holding the
// stream open (fatal NOT_AUTHORIZED naming it), while another session of
// the same principal that holds nothing it lost stays, and is refused the
// stream at its very next OPEN_STREAM.
TEST_P(PrincipalsTest, ReloadRevokingPublishClosesThePublisherOnly) {
  const config::GatewayConfig c = PrincipalsConfig(GetParam());
  ASSERT_NO_FATAL_FAILURE(Start(c));
  auto alice = As(kAlice);
  auto alice2 = As(kAlice);
  ASSERT_TRUE(alice && alice2);
  const StreamId eu = alice->Open("orders.eu", 1);
  ASSERT_NE(eu.value(), 0u);
  ASSERT_NE(alice2->Open("orders.us", 1).value(), 0u);

  config::GatewayConfig next = c;
  next.principals[0].deny_publish = {"orders.eu"};
  ASSERT_EQ(gateway_->Reload(next).restart_required.size(), 0u);
  // A PUBLISH read after the reload is judged by it: never appended (the
  // session may already be closed by its tick; then the send may fail).
  alice->Publish(eu, "late", 7, /*ack=*/true);
  ASSERT_TRUE(SendOpen(*alice2, "orders.eu", 2));
  ExpectError(*alice2, ErrorCode::kNotAuthorized,
              "principal 'alice' may not publish to stream 'orders.eu'", 2);
  ExpectError(*alice, ErrorCode::kNotAuthorized,
              "principal 'alice' may no longer publish to stream 'orders.eu' "
              "(revoked by a reload)",
              0, /*fatal=*/true);
  EXPECT_TRUE(alice->WaitForEof());
  EXPECT_EQ(Sum(session::kAuthRevocationsTotal), 1u);
  const stream::StreamLog* log = gateway_->registry().Find(eu);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->appended(), 0u) << "a PUBLISH read after the reload was "
                                    "appended";
  // alice2 goes on with what it still may do.
  const StreamId us = alice2->Open("orders.us", 3);
  ASSERT_NE(us.value(), 0u);
  ASSERT_TRUE(alice2->Publish(us, "still", 9, /*ack=*/true));
  auto ack = alice2->ReadSkippingHeartbeats();
  ASSERT_TRUE(ack && ack->type() == MessageType::kPublishAck);
  EXPECT_EQ(tp::PublishAckView(ack->view()).status(), ErrorCode::kNone);
}

// A reload that revokes a subscribe permission refuses the very next
// SUBSCRIBE and UDP_SUBSCRIBE of a session that held nothing it lost.
TEST_P(PrincipalsTest, ReloadRevokingSubscribeRefusesTheNextSubscribe) {
  config::GatewayConfig c = PrincipalsConfig(GetParam());
  c.udp.enabled = true;
  c.udp.port = 0;
  ASSERT_NO_FATAL_FAILURE(Start(c));
  auto alice = As(kAlice);
  auto bob = As(kBob);
  ASSERT_TRUE(alice && bob);
  ASSERT_NE(bob->Open("md.eq.AAPL", 1).value(), 0u);
  ASSERT_TRUE(alice->SendSubscribe(1, "md.fx"));  // md.fx: allowed, absent
  ExpectError(*alice, ErrorCode::kNotAuthorized,
              "may not create stream 'md.fx'", 1);

  config::GatewayConfig next = c;
  next.principals[0].deny_subscribe.push_back("md.eq.*");
  ASSERT_EQ(gateway_->Reload(next).restart_required.size(), 0u);
  ASSERT_TRUE(alice->SendSubscribe(2, "md.eq.AAPL"));
  ExpectError(*alice, ErrorCode::kNotAuthorized,
              "principal 'alice' may not subscribe to stream 'md.eq.AAPL'", 2);
  UdpSocket receiver;
  ASSERT_TRUE(SendUdpSubscribe(*alice, 3, "md.eq.AAPL", receiver.port()));
  ExpectError(*alice, ErrorCode::kNotAuthorized,
              "principal 'alice' may not subscribe to stream 'md.eq.AAPL'", 3);
  ASSERT_TRUE(alice->SendSubscribe(4, "md.eq.*"));
  ExpectError(*alice, ErrorCode::kNotAuthorized, "pattern 'md.eq.*'", 4);
  EXPECT_EQ(Sum(session::kAuthRevocationsTotal), 0u);
}

// A reload lowering a quota binds new requests only (PROTOCOL.md 7.8): what
// is held stays held, nothing more is granted until usage is below the new
// value, and no session is closed.
TEST_P(PrincipalsTest, ReloadLoweringAQuotaBindsNewRequestsOnly) {
  config::GatewayConfig c = PrincipalsConfig(GetParam());
  c.principals[0].max_subscriptions = 3;
  ASSERT_NO_FATAL_FAILURE(Start(c));
  auto alice = As(kAlice);
  auto bob = As(kBob);
  ASSERT_TRUE(alice && bob);
  const StreamId a = bob->Open("md.a", 1);
  ASSERT_NE(a.value(), 0u);
  ASSERT_NE(bob->Open("md.b", 2).value(), 0u);
  ASSERT_TRUE(alice->SendSubscribe(1, "md.a"));
  ExpectSubscribeAck(*alice, 1);
  ASSERT_TRUE(alice->SendSubscribe(2, "md.b"));
  ExpectSubscribeAck(*alice, 2);

  config::GatewayConfig next = c;
  next.principals[0].max_subscriptions = 1;
  ASSERT_EQ(gateway_->Reload(next).restart_required.size(), 0u);
  ASSERT_TRUE(alice->SendSubscribe(3, "md.*"));
  ExpectError(*alice, ErrorCode::kLimitExceeded,
              "principal 'alice' may hold at most 1 subscriptions", 3);
  // Still subscribed to what it held: DATA of md.a arrives.
  ASSERT_TRUE(bob->Publish(a, "held"));
  auto data = alice->ReadSkippingHeartbeats();
  ASSERT_TRUE(data);
  ASSERT_EQ(data->type(), MessageType::kData);
  EXPECT_EQ(PayloadText(*data), "held");
  // Two held, limit one: one UNSUBSCRIBE is not enough, two are.
  ASSERT_TRUE(SendUnsubscribe(*alice, 1));
  ASSERT_TRUE(alice->SendSubscribe(4, "md.a"));
  ExpectError(*alice, ErrorCode::kLimitExceeded, "at most 1 subscriptions", 4);
  ASSERT_TRUE(SendUnsubscribe(*alice, 2));
  ASSERT_TRUE(alice->SendSubscribe(5, "md.a"));
  ExpectSubscribeAck(*alice, 5);
  EXPECT_EQ(Sum(session::kAuthRevocationsTotal), 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, PrincipalsTest,
                         ::testing::ValuesIn(AllGatewayParams()), ParamName);

}  // namespace
}  // namespace tachyon::testing
