// Principals through a real gateway on loopback (PROTOCOL.md 7.8): LOGON
// authentication, permissions at OPEN_STREAM and SUBSCRIBE, quotas of one
// principal leaving another unaffected, allowed_sources, and a reload that
// revokes what a session holds. Both io backends, one and two workers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "auth/token_hash.h"
#include "gtest/gtest.h"
#include "support/gateway_fixture.h"
#include "support/token_hashes.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
using ::tachyon::protocol::ErrorCode;
using ::tachyon::protocol::MessageType;

config::GatewayConfig AuthConfig(const GatewayParam& p) {
  config::GatewayConfig c = TestConfig(p);
  c.auth.anonymous = false;
  config::Principal alice;
  alice.name = "alice";
  alice.token_hash = AliceHash();
  alice.publish = {"orders.*", "md.*"};
  alice.deny_publish = {"orders.audit"};
  alice.subscribe = {"md.*"};
  alice.deny_subscribe = {"md.secret*"};
  alice.create = {"orders.*"};
  alice.max_connections = 2;
  alice.max_streams_created = 2;
  c.principals.push_back(alice);
  config::Principal bob;
  bob.name = "bob";
  bob.token_hash = BobHash();
  bob.publish = {"*"};
  bob.subscribe = {"*"};
  bob.create = {"*"};
  c.principals.push_back(bob);
  return c;
}

class AuthTest : public GatewayTest {
 protected:
  std::unique_ptr<TestClient> As(std::string_view token) {
    auto c = TestClient::Connect(gateway_->port());
    EXPECT_NE(c, nullptr);
    if (c == nullptr) return c;
    auto ack = c->Logon(token);
    EXPECT_TRUE(ack && ack->type() == MessageType::kLogonAck) << token;
    return c;
  }
  // LOGON with `token`; the LOGON_REJECT's code (kNone if accepted).
  ErrorCode LogonCode(std::string_view token, std::string* text = nullptr) {
    auto c = TestClient::Connect(gateway_->port());
    if (c == nullptr) return ErrorCode::kInternal;
    auto f = c->Logon(token);
    if (!f) return ErrorCode::kInternal;
    if (f->type() == MessageType::kLogonAck) return ErrorCode::kNone;
    tp::LogonRejectView v(f->view());
    if (text != nullptr) *text = std::string(v.text());
    return v.code();
  }
};

// The next non-heartbeat frame: an ERROR with `code`, non-fatal, whose
// text contains `needle`.
void ExpectError(TestClient& c, ErrorCode code, std::string_view needle,
                 bool fatal = false) {
  auto f = c.ReadSkippingHeartbeats();
  ASSERT_TRUE(f);
  ASSERT_EQ(f->type(), MessageType::kError);
  tp::ErrorView e(f->view());
  EXPECT_EQ(e.code(), code) << e.text();
  EXPECT_EQ(e.fatal(), fatal);
  EXPECT_NE(std::string(e.text()).find(needle), std::string::npos) << e.text();
}

void SendOpen(TestClient& c, std::string_view name, std::uint32_t id) {
  std::vector<std::byte> out(512);
  const std::size_t n = tp::EncodeOpenStream(out, id, name);
  ASSERT_TRUE(c.SendRaw({out.data(), n}));
}

TEST_P(AuthTest, AnonymousOffRefusesWhatNamesNoPrincipal) {
  Start(AuthConfig(GetParam()));
  std::string text;
  EXPECT_EQ(LogonCode("", &text), ErrorCode::kNotAuthorized);
  EXPECT_EQ(text, "logon token rejected");
  EXPECT_EQ(LogonCode("alice:wrong"), ErrorCode::kNotAuthorized);
  EXPECT_EQ(LogonCode("carol:alice-secret"), ErrorCode::kNotAuthorized);
  EXPECT_EQ(LogonCode("alice-secret"), ErrorCode::kNotAuthorized);
  EXPECT_EQ(LogonCode("alice:alice-secret"), ErrorCode::kNone);
}

TEST_P(AuthTest, AnonymousOnKeepsTheSessionToken) {
  config::GatewayConfig c = AuthConfig(GetParam());
  c.auth.anonymous = true;
  c.token = "shared";
  Start(c);
  EXPECT_EQ(LogonCode("shared"), ErrorCode::kNone);
  EXPECT_EQ(LogonCode(""), ErrorCode::kNotAuthorized);
  EXPECT_EQ(LogonCode("bob:bob-secret"), ErrorCode::kNone);
  EXPECT_EQ(LogonCode("bob:nope"), ErrorCode::kNotAuthorized);
}

TEST_P(AuthTest, AnonymousOnRefusesUnknownNamesLikeWrongSecrets) {
  config::GatewayConfig c = AuthConfig(GetParam());
  c.auth.anonymous = true;
  Start(c);
  std::string unknown;
  std::string wrong;
  EXPECT_EQ(LogonCode("carol:x", &unknown), ErrorCode::kNotAuthorized);
  EXPECT_EQ(LogonCode("alice:x", &wrong), ErrorCode::kNotAuthorized);
  EXPECT_EQ(unknown, wrong);
  EXPECT_EQ(LogonCode("no-name-token"), ErrorCode::kNone);
  EXPECT_EQ(LogonCode("alice:alice-secret"), ErrorCode::kNone);
}

TEST_P(AuthTest, VerificationBudgetRefusesLimitExceededNamingTheKey) {
  config::GatewayConfig c = AuthConfig(GetParam());
  c.auth.max_verifications_per_second = 1;  // a burst of one
  Start(c);
  EXPECT_EQ(LogonCode("alice:alice-secret"), ErrorCode::kNone);
  // The remembered secret is not charged.
  EXPECT_EQ(LogonCode("alice:alice-secret"), ErrorCode::kNone);
  std::string text;
  EXPECT_EQ(LogonCode("bob:bob-secret", &text), ErrorCode::kLimitExceeded);
  EXPECT_NE(text.find("auth.max_verifications_per_second"), std::string::npos)
      << text;
  EXPECT_EQ(LogonCode("alice:wrong"), ErrorCode::kLimitExceeded);
}

TEST_P(AuthTest, OpenStreamChecksPublishAndCreate) {
  Start(AuthConfig(GetParam()));
  auto alice = As("alice:alice-secret");
  auto bob = As("bob:bob-secret");
  ASSERT_TRUE(alice && bob);
  // Allowed to publish and to create.
  EXPECT_NE(alice->Open("orders.eu", 1).value(), 0u);
  // Not allowed to publish at all.
  SendOpen(*alice, "fx.EUR", 2);
  ExpectError(*alice, ErrorCode::kNotAuthorized,
              "principal 'alice' may not publish to stream 'fx.EUR'");
  // Deny wins over the allow pattern.
  SendOpen(*alice, "orders.audit", 3);
  ExpectError(*alice, ErrorCode::kNotAuthorized, "'orders.audit'");
  // May publish to md.* but not create it: refused while it does not
  // exist, allowed once bob created it.
  SendOpen(*alice, "md.eq.AAPL", 4);
  ExpectError(*alice, ErrorCode::kNotAuthorized,
              "principal 'alice' may not create stream 'md.eq.AAPL'");
  EXPECT_NE(bob->Open("md.eq.AAPL", 1).value(), 0u);
  EXPECT_NE(alice->Open("md.eq.AAPL", 5).value(), 0u);
  // The session is still usable after each refusal.
  EXPECT_NE(alice->Open("orders.us", 6).value(), 0u);
}

TEST_P(AuthTest, SubscribeChecksSubscribeCreateAndPatterns) {
  Start(AuthConfig(GetParam()));
  auto alice = As("alice:alice-secret");
  auto bob = As("bob:bob-secret");
  ASSERT_TRUE(alice && bob);
  const StreamId eq = bob->Open("md.eq.AAPL", 1);
  const StreamId secret = bob->Open("md.secret.x", 2);
  ASSERT_NE(eq.value(), 0u);
  ASSERT_NE(secret.value(), 0u);
  // Exact: denied, deny-wins, create needed for an absent stream.
  ASSERT_TRUE(alice->SendSubscribe(1, "orders.eu"));
  ExpectError(*alice, ErrorCode::kNotAuthorized,
              "may not subscribe to stream 'orders.eu'");
  ASSERT_TRUE(alice->SendSubscribe(2, "md.secret.x"));
  ExpectError(*alice, ErrorCode::kNotAuthorized, "'md.secret.x'");
  ASSERT_TRUE(alice->SendSubscribe(3, "md.fx.EUR"));
  ExpectError(*alice, ErrorCode::kNotAuthorized,
              "may not create stream 'md.fx.EUR'");
  // Pattern wholly denied.
  ASSERT_TRUE(alice->SendSubscribe(4, "md.secret.*"));
  ExpectError(*alice, ErrorCode::kNotAuthorized, "pattern 'md.secret.*'");
  ASSERT_TRUE(alice->SendSubscribe(5, "fx*"));
  ExpectError(*alice, ErrorCode::kNotAuthorized, "pattern 'fx*'");
  // Pattern partly allowed: acked, and covers md.eq.AAPL only.
  auto ack = alice->Subscribe(6, "md.*");
  ASSERT_TRUE(ack);
  ASSERT_EQ(ack->type(), MessageType::kSubscribeAck);
  EXPECT_EQ(ack->view().stream_id().value(), 0u);  // the pattern's own ack
  auto first = alice->ReadSkippingHeartbeats();
  ASSERT_TRUE(first);
  ASSERT_EQ(first->type(), MessageType::kSubscribeAck);
  EXPECT_EQ(first->view().stream_id(), eq);
  // Data on the denied stream never arrives; the allowed one does.
  ASSERT_TRUE(bob->Publish(secret, "hidden"));
  ASSERT_TRUE(bob->Publish(eq, "visible"));
  auto data = alice->ReadSkippingHeartbeats();
  ASSERT_TRUE(data);
  ASSERT_EQ(data->type(), MessageType::kData);
  EXPECT_EQ(data->view().stream_id(), eq);
  EXPECT_EQ(PayloadText(*data), "visible");
  // A stream created later under the pattern: filtered when matched.
  const StreamId later_secret = bob->Open("md.secret.y", 3);
  const StreamId later = bob->Open("md.eq.MSFT", 4);
  ASSERT_NE(later.value(), 0u);
  ASSERT_NE(later_secret.value(), 0u);
  auto next = alice->ReadSkippingHeartbeats();
  ASSERT_TRUE(next);
  ASSERT_EQ(next->type(), MessageType::kSubscribeAck);
  EXPECT_EQ(next->view().stream_id(), later);
}

TEST_P(AuthTest, QuotasOfOnePrincipalLeaveAnotherUnaffected) {
  Start(AuthConfig(GetParam()));
  auto alice = As("alice:alice-secret");
  ASSERT_TRUE(alice);
  EXPECT_NE(alice->Open("orders.a", 1).value(), 0u);
  EXPECT_NE(alice->Open("orders.b", 2).value(), 0u);
  SendOpen(*alice, "orders.c", 3);
  ExpectError(*alice, ErrorCode::kLimitExceeded,
              "principal 'alice' may create at most 2 streams");
  // Opening an existing stream creates nothing: still allowed.
  EXPECT_NE(alice->Open("orders.a", 4).value(), 0u);
  // Connections: alice has one, may have two.
  auto alice2 = As("alice:alice-secret");
  ASSERT_TRUE(alice2);
  std::string text;
  EXPECT_EQ(LogonCode("alice:alice-secret", &text), ErrorCode::kLimitExceeded);
  EXPECT_NE(text.find("principal 'alice' may have at most 2 connections"),
            std::string::npos)
      << text;
  // Bob is unaffected by both.
  auto bob = As("bob:bob-secret");
  ASSERT_TRUE(bob);
  EXPECT_NE(bob->Open("orders.c", 1).value(), 0u);
  EXPECT_NE(bob->Open("orders.d", 2).value(), 0u);
  EXPECT_NE(bob->Open("orders.e", 3).value(), 0u);
  // Alice's slot comes back when a session ends.
  alice2.reset();
  bool again = false;
  for (int i = 0; i < 200 && !again; ++i) {
    again = LogonCode("alice:alice-secret") == ErrorCode::kNone;
    if (!again) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(again);
}

TEST_P(AuthTest, AllowedSourcesRefuseOtherLoopbackAddresses) {
  config::GatewayConfig c = AuthConfig(GetParam());
  c.bind = "0.0.0.0";  // reachable from 127.0.0.2 as well
  c.principals[0].allowed_sources = {"127.0.0.1/32"};
  Start(c);
  EXPECT_EQ(LogonCode("alice:alice-secret"), ErrorCode::kNone);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl(0x7f000002);  // 127.0.0.2
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src), 0);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(gateway_->port());
  dst.sin_addr.s_addr = htonl(0x7f000001);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst), 0);
  auto other = TestClient::Adopt(fd);
  auto f = other->Logon("alice:alice-secret");
  ASSERT_TRUE(f);
  ASSERT_EQ(f->type(), MessageType::kLogonReject);
  EXPECT_EQ(tp::LogonRejectView(f->view()).code(), ErrorCode::kNotAuthorized);
}

TEST_P(AuthTest, ReloadRevokingClosesOnlyWhatItNoLongerAllows) {
  config::GatewayConfig c = AuthConfig(GetParam());
  Start(c);
  auto alice = As("alice:alice-secret");
  auto bob = As("bob:bob-secret");
  ASSERT_TRUE(alice && bob);
  ASSERT_NE(bob->Open("md.eq.AAPL", 1).value(), 0u);
  auto ack = alice->Subscribe(1, "md.eq.AAPL");
  ASSERT_TRUE(ack && ack->type() == MessageType::kSubscribeAck);
  auto bob_ack = bob->Subscribe(1, "md.eq.AAPL");
  ASSERT_TRUE(bob_ack && bob_ack->type() == MessageType::kSubscribeAck);
  // Alice may no longer subscribe to md.eq.*.
  config::GatewayConfig next = c;
  next.principals[0].deny_subscribe.push_back("md.eq.*");
  const config::ReloadReport report = gateway_->Reload(next);
  EXPECT_EQ(report.restart_required.size(), 0u);
  ExpectError(*alice, ErrorCode::kNotAuthorized,
              "principal 'alice' may no longer subscribe to 'md.eq.AAPL'",
              /*fatal=*/true);
  EXPECT_TRUE(alice->WaitForEof());
  // Bob's session is untouched: it still publishes and receives.
  const StreamId s = bob->Open("md.eq.AAPL", 2);
  ASSERT_NE(s.value(), 0u);
  ASSERT_TRUE(bob->Publish(s, "still here"));
  auto data = bob->ReadSkippingHeartbeats();
  ASSERT_TRUE(data);
  EXPECT_EQ(data->type(), MessageType::kData);
  // Removing bob closes bob; the new config refuses him at LOGON.
  next.principals.pop_back();
  gateway_->Reload(next);
  ExpectError(*bob, ErrorCode::kNotAuthorized,
              "principal 'bob' was removed by a reload", /*fatal=*/true);
  EXPECT_EQ(LogonCode("bob:bob-secret"), ErrorCode::kNotAuthorized);
}

TEST_P(AuthTest, ReloadNarrowingAPatternFiltersStreamsCreatedLater) {
  config::GatewayConfig c = AuthConfig(GetParam());
  c.principals[0].deny_subscribe.clear();  // md.* wholly allowed
  Start(c);
  auto alice = As("alice:alice-secret");
  auto bob = As("bob:bob-secret");
  ASSERT_TRUE(alice && bob);
  auto ack = alice->Subscribe(1, "md.*");
  ASSERT_TRUE(ack && ack->type() == MessageType::kSubscribeAck);
  // The reload denies md.secret.* while no such stream exists: the
  // pattern stays, but is now filtered stream by stream.
  config::GatewayConfig next = c;
  next.principals[0].deny_subscribe = {"md.secret.*"};
  gateway_->Reload(next);
  const StreamId secret = bob->Open("md.secret.x", 1);
  ASSERT_NE(secret.value(), 0u);
  ASSERT_TRUE(bob->Publish(secret, "hidden"));
  const StreamId ok = bob->Open("md.ok", 2);
  ASSERT_NE(ok.value(), 0u);
  ASSERT_TRUE(bob->Publish(ok, "visible"));
  // Everything alice receives up to md.ok's message: nothing of md.secret.x.
  bool got = false;
  for (int i = 0; i < 10 && !got; ++i) {
    auto f = alice->ReadSkippingHeartbeats();
    ASSERT_TRUE(f);
    if (f->type() == MessageType::kSubscribeAck) {
      EXPECT_NE(f->view().stream_id(), secret);
      continue;
    }
    ASSERT_EQ(f->type(), MessageType::kData);
    ASSERT_EQ(f->view().stream_id(), ok) << PayloadText(*f);
    EXPECT_EQ(PayloadText(*f), "visible");
    got = true;
  }
  EXPECT_TRUE(got);
}

TEST_P(AuthTest, SessionsRowNamesThePrincipal) {
  Start(AuthConfig(GetParam()));
  auto alice = As("alice:alice-secret");
  ASSERT_TRUE(alice);
  bool found = false;
  // The boards are published about once a second.
  for (int i = 0; i < 300 && !found; ++i) {
    for (const session::SessionInfo& row : gateway_->Sessions()) {
      if (row.principal == "alice") found = true;
    }
    if (!found) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(found);
}

// Runs `tachyon-gateway args...` with `input` on stdin; its stdout, and
// its exit status in *status. The child is waited for by its pid.
std::string RunGateway(const std::vector<std::string>& args,
                       const std::string& input, int* status) {
  int in[2];
  int out[2];
  if (::pipe(in) != 0 || ::pipe(out) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::close(in[1]);
    ::close(out[0]);
    std::vector<char*> argv;
    std::string bin = TACHYON_GATEWAY_BIN;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  EXPECT_EQ(::write(in[1], input.data(), input.size()),
            static_cast<ssize_t>(input.size()));
  ::close(in[1]);
  std::string text;
  char buf[512];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) text.append(buf, n);
  ::close(out[0]);
  ::waitpid(pid, status, 0);
  return text;
}

TEST(HashTokenTest, HashesStdinAndTheHashLogsOn) {
  int status = 0;
  const std::string line =
      RunGateway({"--hash-token"}, "piped-secret\n", &status);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ASSERT_TRUE(line.ends_with("\n")) << line;
  const std::string hash = line.substr(0, line.size() - 1);
  absl::StatusOr<auth::TokenHash> h = auth::ParseTokenHash(hash);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->iterations, auth::kDefaultIterations);
  // The trailing newline is not part of the secret.
  EXPECT_TRUE(auth::VerifyToken("piped-secret", *h));
  EXPECT_FALSE(auth::VerifyToken("piped-secret\n", *h));
  // The line works as a principal's token_hash.
  config::GatewayConfig c = TestConfig({config::IoBackend::kEpoll, 1});
  c.auth.anonymous = false;
  config::Principal p;
  p.name = "piped";
  p.token_hash = hash;
  p.publish = {"*"};
  c.principals.push_back(p);
  auto gw = StartGateway(c);
  ASSERT_NE(gw, nullptr);
  auto client = TestClient::Connect(gw->port());
  ASSERT_NE(client, nullptr);
  auto ack = client->Logon("piped:piped-secret");
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->type(), MessageType::kLogonAck);
}

TEST(HashTokenTest, RefusesAnEmptySecretAndASecretInArgv) {
  int status = 0;
  EXPECT_EQ(RunGateway({"--hash-token"}, "", &status), "");
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_EQ(RunGateway({"--hash-token", "argv-secret"}, "", &status), "");
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, AuthTest,
                         ::testing::ValuesIn(AllGatewayParams()), ParamName);

}  // namespace
}  // namespace tachyon::testing
