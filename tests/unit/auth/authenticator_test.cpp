#include "auth/authenticator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace tachyon::auth {
namespace {

IpAddress Ip(const char* text) { return *ParseIpAddress(text); }

config::Principal Alice() {
  config::Principal p;
  p.name = "alice";
  p.token_hash = HashToken("wonderland", kMinIterations);
  p.publish = {"orders.*"};
  p.subscribe = {"md.*"};
  p.deny_subscribe = {"md.secret*"};
  p.create = {"orders.*"};
  p.request = {"pricing"};
  p.max_connections = 2;
  return p;
}

config::GatewayConfig Config(bool anonymous) {
  config::GatewayConfig c;
  c.auth.anonymous = anonymous;
  c.principals.push_back(Alice());
  config::Principal svc;
  svc.name = "svc";
  svc.certificate_subject = "CN=svc,O=Example";
  svc.allowed_sources = {"127.0.0.1/32", "::1"};
  svc.subscribe = {"*"};
  c.principals.push_back(svc);
  return c;
}

TEST(AuthenticatorTest, TokenLogsOnAsPrincipal) {
  const Authenticator auth(Config(false));
  const AuthResult r =
      auth.Authenticate("alice:wonderland", Ip("10.0.0.1"), "");
  ASSERT_NE(r.identity, nullptr) << r.log_text;
  EXPECT_EQ(r.identity->name(), "alice");
  EXPECT_FALSE(r.identity->anonymous());
  EXPECT_TRUE(r.identity->permissions().publish.Allows("orders.eu"));
  EXPECT_FALSE(r.identity->permissions().subscribe.Allows("md.secret.x"));
  // Again: the remembered digest answers (same identity either way).
  EXPECT_EQ(auth.Authenticate("alice:wonderland", Ip("10.0.0.1"), "").identity,
            r.identity);
}

TEST(AuthenticatorTest, WrongSecretAndUnknownPrincipalLookTheSame) {
  const Authenticator auth(Config(false));
  // A remembered good secret must not make a wrong one pass.
  ASSERT_NE(auth.Authenticate("alice:wonderland", Ip("::1"), "").identity,
            nullptr);
  const AuthResult wrong = auth.Authenticate("alice:wonderlanD", Ip("::1"), "");
  const AuthResult unknown = auth.Authenticate("bob:wonderland", Ip("::1"), "");
  EXPECT_EQ(wrong.identity, nullptr);
  EXPECT_EQ(unknown.identity, nullptr);
  EXPECT_EQ(wrong.client_text, unknown.client_text);
  EXPECT_NE(wrong.log_text.find("wrong secret"), std::string::npos);
  EXPECT_NE(unknown.log_text.find("unknown principal 'bob'"),
            std::string::npos);
  // No secret at all, or a principal without a token_hash.
  EXPECT_EQ(auth.Authenticate("alice:", Ip("::1"), "").identity, nullptr);
  EXPECT_EQ(auth.Authenticate("svc:", Ip("127.0.0.1"), "").identity, nullptr);
}

TEST(AuthenticatorTest, VerificationBudgetRefusesFullVerificationsOnly) {
  config::GatewayConfig c = Config(false);
  c.auth.max_verifications_per_second = 1;  // a burst of one
  const Authenticator auth(c);
  const AuthResult first = auth.Authenticate("alice:wonderland", Ip("::1"), "");
  ASSERT_NE(first.identity, nullptr) << first.log_text;
  // The remembered secret is not charged.
  EXPECT_NE(auth.Authenticate("alice:wonderland", Ip("::1"), "").identity,
            nullptr);
  // Anything needing a derivation is refused LIMIT_EXCEEDED, naming the
  // key, without deriving.
  for (const char* token : {"alice:wrong", "nobody:x", "", "svc:x"}) {
    const std::uint64_t before = IterationsDerived();
    const AuthResult r = auth.Authenticate(token, Ip("127.0.0.1"), "");
    EXPECT_EQ(r.identity, nullptr) << token;
    EXPECT_TRUE(r.limited) << token;
    EXPECT_NE(r.client_text.find("auth.max_verifications_per_second = 1"),
              std::string::npos)
        << r.client_text;
    EXPECT_EQ(IterationsDerived(), before) << token;
  }
  // A certificate needs no derivation either.
  EXPECT_NE(auth.Authenticate("", Ip("127.0.0.1"), "CN=svc,O=Example").identity,
            nullptr);
}

// Workers share one budget: however the threads interleave, no more
// verifications are granted than the burst plus the rate over the time
// taken (a correctness bound, not a speed one).
TEST(AuthenticatorTest, VerificationBudgetIsSharedAcrossThreads) {
  config::GatewayConfig c = Config(false);
  c.auth.max_verifications_per_second = 3;
  const Authenticator auth(c);
  std::atomic<int> granted{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        if (!auth.Authenticate("nobody:x", Ip("::1"), "").limited) {
          granted.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  EXPECT_GE(granted.load(), 1);
  EXPECT_LE(granted.load(), 3 + static_cast<int>(seconds * 3) + 1);
}

TEST(AuthenticatorTest, AnonymousOffRefusesEmptyToken) {
  const Authenticator auth(Config(false));
  const AuthResult r = auth.Authenticate("", Ip("127.0.0.1"), "");
  EXPECT_EQ(r.identity, nullptr);
  EXPECT_NE(r.log_text.find("anonymous logon is disabled"), std::string::npos);
  EXPECT_EQ(auth.Authenticate("just-a-token", Ip("127.0.0.1"), "").identity,
            nullptr);
}

TEST(AuthenticatorTest, AnonymousOnKeepsLegacyToken) {
  config::GatewayConfig c = Config(true);
  c.token = "legacy:secret";
  const Authenticator auth(c);
  const AuthResult ok = auth.Authenticate("legacy:secret", Ip("::1"), "");
  ASSERT_NE(ok.identity, nullptr) << ok.log_text;
  EXPECT_TRUE(ok.identity->anonymous());
  EXPECT_EQ(ok.identity->label(), "anonymous sessions");
  EXPECT_EQ(auth.Authenticate("", Ip("::1"), "").identity, nullptr);
  EXPECT_EQ(auth.Authenticate("other", Ip("::1"), "").identity, nullptr);
  // A known principal with a wrong secret never falls back to anonymous.
  EXPECT_EQ(auth.Authenticate("alice:nope", Ip("::1"), "").identity, nullptr);
  // Without session.token, a token without a name is anonymous; one of the
  // form name:secret naming no principal is refused like a wrong secret
  // (the answer must not tell that alice exists and bob does not).
  const Authenticator open(Config(true));
  EXPECT_NE(open.Authenticate("", Ip("::1"), "").identity, nullptr);
  EXPECT_NE(open.Authenticate("plain", Ip("::1"), "").identity, nullptr);
  const AuthResult bob = open.Authenticate("bob:x", Ip("::1"), "");
  const AuthResult alice = open.Authenticate("alice:x", Ip("::1"), "");
  EXPECT_EQ(bob.identity, nullptr);
  EXPECT_EQ(alice.identity, nullptr);
  EXPECT_EQ(bob.client_text, alice.client_text);
}

// Every refusal costs the same derivation, counted in iterations: the most
// any principal's hash uses (at least kDefaultIterations).
TEST(AuthenticatorTest, EveryRefusalPaysTheSameDerivation) {
  config::GatewayConfig c = Config(false);
  config::Principal slow;
  slow.name = "slow";
  slow.token_hash = HashToken("s", kDefaultIterations * 2);
  c.principals.push_back(slow);
  const std::uint64_t full = kDefaultIterations * 2;
  auto cost = [](const Authenticator& a, std::string_view token,
                 std::string_view subject = "") {
    const std::uint64_t before = IterationsDerived();
    EXPECT_EQ(a.Authenticate(token, Ip("127.0.0.1"), subject).identity, nullptr)
        << token;
    return IterationsDerived() - before;
  };
  const Authenticator off(c);
  EXPECT_EQ(cost(off, "alice:wrong"), full);  // kMinIterations + the rest
  EXPECT_EQ(cost(off, "slow:wrong"), full);
  EXPECT_EQ(cost(off, "svc:x"), full);  // certificate-only: no token_hash
  EXPECT_EQ(cost(off, "nobody:x"), full);
  EXPECT_EQ(cost(off, ""), full);
  EXPECT_EQ(cost(off, "no-colon"), full);
  c.auth.anonymous = true;
  c.token = "shared";
  const Authenticator on(c);
  EXPECT_EQ(cost(on, "nobody:x"), full);
  EXPECT_EQ(cost(on, "other"), full);
  // With only default-iteration hashes, the dummy runs at the default.
  const Authenticator plain(Config(false));
  EXPECT_EQ(cost(plain, "svc:x"), std::uint64_t{kDefaultIterations});
  EXPECT_EQ(cost(plain, "nobody:x"), std::uint64_t{kDefaultIterations});
}

TEST(AuthenticatorTest, AllowedSourcesRefuseOtherAddresses) {
  config::GatewayConfig c = Config(false);
  c.principals[0].allowed_sources = {"127.0.0.1"};
  const Authenticator auth(c);
  EXPECT_NE(auth.Authenticate("alice:wonderland", Ip("127.0.0.1"), "").identity,
            nullptr);
  const AuthResult r =
      auth.Authenticate("alice:wonderland", Ip("127.0.0.2"), "");
  EXPECT_EQ(r.identity, nullptr);
  EXPECT_NE(r.log_text.find("127.0.0.2"), std::string::npos);
}

TEST(AuthenticatorTest, CertificateSubjectLogsOnWithoutToken) {
  const Authenticator auth(Config(false));
  const AuthResult r = auth.Authenticate("", Ip("::1"), "CN=svc,O=Example");
  ASSERT_NE(r.identity, nullptr) << r.log_text;
  EXPECT_EQ(r.identity->name(), "svc");
  // Its sources still apply.
  EXPECT_EQ(auth.Authenticate("", Ip("10.0.0.1"), "CN=svc,O=Example").identity,
            nullptr);
  // An unknown subject falls through to the token.
  EXPECT_EQ(auth.Authenticate("", Ip("::1"), "CN=other").identity, nullptr);
  EXPECT_EQ(auth.Authenticate("alice:wonderland", Ip("::1"), "CN=other")
                .identity->name(),
            "alice");
}

TEST(AuthenticatorTest, ConnectionQuotaIsPerPrincipal) {
  config::GatewayConfig c = Config(false);
  config::Principal bob = Alice();
  bob.name = "bob";
  c.principals.push_back(bob);
  const Authenticator auth(c);
  auto alice = auth.Authenticate("alice:wonderland", Ip("::1"), "").identity;
  auto bob_id = auth.Authenticate("bob:wonderland", Ip("::1"), "").identity;
  ASSERT_NE(alice, nullptr);
  ASSERT_NE(bob_id, nullptr);
  EXPECT_TRUE(alice->TryAddConnection());
  EXPECT_TRUE(alice->TryAddConnection());
  EXPECT_FALSE(alice->TryAddConnection());
  // Alice's exhaustion leaves Bob unaffected.
  EXPECT_TRUE(bob_id->TryAddConnection());
  alice->ReleaseConnection();
  EXPECT_TRUE(alice->TryAddConnection());
}

TEST(AuthenticatorTest, QuotaCountersAreSharedAcrossThreads) {
  config::GatewayConfig c = Config(false);
  c.principals[0].max_subscriptions = 1000;
  const Authenticator auth(c);
  constexpr int kThreads = 4;
  constexpr int kTries = 500;
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto id = auth.Authenticate("alice:wonderland", Ip("::1"), "").identity;
      for (int i = 0; i < kTries; ++i) {
        if (id->TryAddSubscription()) granted.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 1000);
  auto id = auth.Authenticate("alice:wonderland", Ip("::1"), "").identity;
  EXPECT_EQ(id->usage().subscriptions.load(), 1000);
}

TEST(AuthenticatorTest, PublishRateIsSharedByTheSessions) {
  config::GatewayConfig c = Config(false);
  c.principals[0].publish_rate = 100;
  const Authenticator auth(c);
  auto a = auth.Authenticate("alice:wonderland", Ip("::1"), "").identity;
  auto b = auth.Authenticate("alice:wonderland", Ip("::1"), "").identity;
  const std::int64_t t0 = 1'000'000'000;
  EXPECT_EQ(a->TakePublishTokens(t0, 60), 60u);
  EXPECT_EQ(b->TakePublishTokens(t0, 60), 40u);  // one bucket: 100/s
  EXPECT_EQ(a->TakePublishTokens(t0, 1), 0u);
  // 10 ms later: one more message's worth.
  EXPECT_EQ(b->TakePublishTokens(t0 + 10'000'000, 5), 1u);
}

TEST(AuthenticatorTest, ReloadRefreshesAndKeepsUsage) {
  config::GatewayConfig c = Config(false);
  Authenticator auth(c);
  const std::uint64_t g0 = auth.generation();
  auto before = auth.Authenticate("alice:wonderland", Ip("::1"), "").identity;
  ASSERT_TRUE(before->TryAddConnection());
  c.principals[0].subscribe = {"md.eq.*"};
  auth.Update(c);
  EXPECT_NE(auth.generation(), g0);
  auto after = auth.Refresh(*before);
  ASSERT_NE(after, nullptr);
  EXPECT_FALSE(after->permissions().subscribe.Allows("md.fx.EUR"));
  EXPECT_TRUE(before->permissions().subscribe.Allows("md.fx.EUR"));
  // The connection counted before the reload is still counted.
  EXPECT_EQ(after->usage().connections.load(), 1);
  c.principals.erase(c.principals.begin());
  auth.Update(c);
  EXPECT_EQ(auth.Refresh(*before), nullptr);
}

TEST(AuthenticatorTest, ReloadRacesLogons) {
  config::GatewayConfig c = Config(false);
  Authenticator auth(c);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::thread logons([&] {
    while (!stop.load()) {
      auto r = auth.Authenticate("alice:wonderland", Ip("::1"), "");
      if (r.identity != nullptr && r.identity->TryAddConnection()) {
        r.identity->ReleaseConnection();
        ok.fetch_add(1);
      }
    }
  });
  for (int i = 0; i < 20; ++i) auth.Update(c);
  while (ok.load() < 20) std::this_thread::yield();
  stop.store(true);
  logons.join();
  EXPECT_GE(ok.load(), 20);
}

// Not an assertion on time: prints what a first and a repeated logon cost
// here (a full PBKDF2 verification, then the remembered HMAC).
TEST(AuthenticatorTest, ReportsLogonCost) {
  config::GatewayConfig c;
  c.auth.anonymous = false;
  config::Principal p;
  p.name = "svc";
  p.token_hash = HashToken("secret");  // kDefaultIterations
  c.principals.push_back(p);
  const Authenticator auth(c);
  const IpAddress peer = Ip("127.0.0.1");
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_NE(auth.Authenticate("svc:secret", peer, "").identity, nullptr);
  const auto first = std::chrono::steady_clock::now() - t0;
  constexpr int kRuns = 1000;
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRuns; ++i) {
    ASSERT_NE(auth.Authenticate("svc:secret", peer, "").identity, nullptr);
  }
  const auto repeated = (std::chrono::steady_clock::now() - t0) / kRuns;
  t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(auth.Authenticate("svc:wrong", peer, "").identity, nullptr);
  const auto wrong = std::chrono::steady_clock::now() - t0;
  using std::chrono::duration_cast;
  using std::chrono::nanoseconds;
  std::printf(
      "logon at %u iterations: first %lld ns, repeated %lld ns, wrong "
      "secret %lld ns\n",
      kDefaultIterations,
      static_cast<long long>(duration_cast<nanoseconds>(first).count()),
      static_cast<long long>(duration_cast<nanoseconds>(repeated).count()),
      static_cast<long long>(duration_cast<nanoseconds>(wrong).count()));
}

TEST(AuthenticatorTest, ValidateNamesTheKey) {
  config::GatewayConfig c = Config(false);
  c.principals[1].token_hash = "plain";
  absl::Status s = ValidateAuthConfig(c);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("principals[1].token_hash"), std::string::npos);
  c = Config(false);
  c.principals[0].allowed_sources = {"10.0.0.0/40"};
  s = ValidateAuthConfig(c);
  EXPECT_NE(s.message().find("principals[0].allowed_sources[0]"),
            std::string::npos);
}

}  // namespace
}  // namespace tachyon::auth
