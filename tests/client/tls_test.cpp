// TLS on client connections ([tls]): the client library against a real
// in-process gateway on loopback, on both io backends, with certificates
// made by the test (support/test_pki.h).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend_counters.h"
#include "client_test_util.h"
#include "gtest/gtest.h"
#include "support/gateway_fixture.h"
#include "support/test_backend.h"
#include "support/tls_gateway_fixture.h"
#include "support/tls_proxy.h"
#include "support/wait.h"
#include "tachyon/client/client.h"
#include "tls/tls_counters.h"

namespace tachyon::testing {
namespace {

using client::Client;
using client::ClientOptions;
using client::Message;
using client::StartPosition;

struct Got {
  std::uint64_t sequence;
  std::string payload;
  bool operator==(const Got&) const = default;
};

class TlsTest : public TlsGatewayTest {
 protected:
  ClientOptions TlsOptions(bool with_cert = false) {
    ClientOptions o;
    o.tls.enabled = true;
    o.tls.ca_file = pki_->ca();
    if (with_cert) {
      o.tls.certificate = pki_->client_cert();
      o.tls.private_key = pki_->client_key();
    }
    return o;
  }
  absl::StatusOr<std::unique_ptr<Client>> ConnectTls(const ClientOptions& o) {
    return Client::Connect("127.0.0.1", gateway_->tls_port(), o);
  }
  std::uint64_t Failed(std::string_view reason) const {
    return gateway_->counters().Sum(tls::kHandshakesFailedTotal, "reason",
                                    reason);
  }
  std::uint64_t Ok() const {
    return gateway_->counters().Sum(tls::kHandshakesTotal);
  }
};

TEST_P(TlsTest, SubscriberOverTlsGetsTheSameDataAsAPlainOne) {
  Start(TlsConfig());
  ASSERT_NE(gateway_->tls_port(), 0);
  ASSERT_NE(gateway_->port(), 0);
  auto tls_sub = ConnectTls(TlsOptions());
  ASSERT_TRUE(tls_sub.ok()) << tls_sub.status();
  auto plain_sub = Client::Connect("127.0.0.1", gateway_->port(), {});
  ASSERT_TRUE(plain_sub.ok()) << plain_sub.status();
  std::vector<Got> over_tls, over_plain;
  auto record = [](std::vector<Got>* out) {
    return [out](const Message& m) {
      out->push_back({m.sequence.value(), std::string(m.text())});
    };
  };
  ASSERT_TRUE(
      (*tls_sub)
          ->Subscribe("md.tls", StartPosition::Earliest(), record(&over_tls))
          .ok());
  ASSERT_TRUE(
      (*plain_sub)
          ->Subscribe("md.tls", StartPosition::Earliest(), record(&over_plain))
          .ok());
  // The publisher over TLS too: large frames split across TLS records
  // both ways (a record carries at most 16 KiB).
  auto pub = ConnectTls(TlsOptions());
  ASSERT_TRUE(pub.ok()) << pub.status();
  auto stream = (*pub)->OpenStream("md.tls");
  ASSERT_TRUE(stream.ok()) << stream.status();
  constexpr int kMessages = 300;
  for (int i = 0; i < kMessages; ++i) {
    const std::size_t size = i % 10 == 0 ? 60'000 : 1 + (i * 977) % 3000;
    std::string payload(size, static_cast<char>('a' + i % 26));
    payload.replace(0, std::min(size, std::to_string(i).size()),
                    std::to_string(i).substr(0, size));
    ASSERT_TRUE((*pub)->Publish(*stream, payload).ok());
  }
  ASSERT_TRUE((*pub)->Flush().ok());
  ASSERT_TRUE(PollUntil(
      **tls_sub, [&] { return over_tls.size() >= kMessages; }, 20s));
  ASSERT_TRUE(PollUntil(
      **plain_sub, [&] { return over_plain.size() >= kMessages; }, 20000ms));
  ASSERT_EQ(over_tls.size(), static_cast<std::size_t>(kMessages));
  EXPECT_TRUE(over_tls == over_plain);
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_EQ(over_tls[i].sequence, static_cast<std::uint64_t>(i + 1));
  }
  EXPECT_EQ(Ok(), 2u);
  EXPECT_EQ(gateway_->counters().Sum(tls::kConnectionsOpen), 2u);
  EXPECT_GT(gateway_->counters().Sum(tls::kBytesDecryptedTotal), 60'000u * 30);
  EXPECT_GT(gateway_->counters().Sum(tls::kBytesEncryptedTotal), 60'000u * 30);
}

TEST_P(TlsTest, ClientCertificateSubjectReachesTheSession) {
  Start(TlsConfig(config::TlsVerifyClient::kRequire));
  auto c = ConnectTls(TlsOptions(/*with_cert=*/true));
  ASSERT_TRUE(c.ok()) << c.status();
  const std::uint64_t id = (*c)->session_id().value();
  std::string subject;
  bool tls = false;
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (const session::SessionInfo& row : gateway_->Sessions()) {
          if (row.id == id) {
            subject = row.tls_subject;
            tls = row.tls;
            return !subject.empty();
          }
        }
        return false;
      },
      10000ms));
  EXPECT_TRUE(tls);
  EXPECT_EQ(subject, TestPki::kClientSubject);
}

TEST_P(TlsTest, ClientThatDoesNotTrustTheServerCaFails) {
  Start(TlsConfig());
  ClientOptions o = TlsOptions();
  o.tls.ca_file = pki_->other_ca();
  auto c = ConnectTls(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("certificate verify"),
            std::string::npos)
      << c.status();
  EXPECT_TRUE(WaitUntil([&] { return Failed("peer_alert") == 1; }, 5000ms));
  // The gateway goes on serving.
  auto good = ConnectTls(TlsOptions());
  EXPECT_TRUE(good.ok()) << good.status();
}

TEST_P(TlsTest, RequiredClientCertificateMissingIsRefused) {
  Start(TlsConfig(config::TlsVerifyClient::kRequire));
  auto c = ConnectTls(TlsOptions(/*with_cert=*/false));
  EXPECT_FALSE(c.ok());
  EXPECT_TRUE(WaitUntil([&] { return Failed("no_certificate") == 1; }, 5000ms));
  auto good = ConnectTls(TlsOptions(/*with_cert=*/true));
  EXPECT_TRUE(good.ok()) << good.status();
}

TEST_P(TlsTest, OptionalClientCertificateMayBeLeftOut) {
  Start(TlsConfig(config::TlsVerifyClient::kOptional));
  auto without = ConnectTls(TlsOptions(false));
  EXPECT_TRUE(without.ok()) << without.status();
  auto with = ConnectTls(TlsOptions(true));
  EXPECT_TRUE(with.ok()) << with.status();
}

TEST_P(TlsTest, PlainClientOnTheTlsPortIsClosedAndOthersServed) {
  Start(TlsConfig());
  ClientOptions plain;
  plain.connect_timeout = 5000ms;
  auto c = Client::Connect("127.0.0.1", gateway_->tls_port(), plain);
  EXPECT_FALSE(c.ok());
  EXPECT_TRUE(WaitUntil([&] { return Failed("not_tls") == 1; }, 5000ms));
  auto good = ConnectTls(TlsOptions());
  EXPECT_TRUE(good.ok()) << good.status();
}

TEST_P(TlsTest, TlsOnlyGatewayHasNoPlainListener) {
  config::GatewayConfig c = TlsConfig();
  c.tls.plain = false;
  Start(c);
  EXPECT_EQ(gateway_->port(), 0);
  auto good = ConnectTls(TlsOptions());
  EXPECT_TRUE(good.ok()) << good.status();
}

TEST_P(TlsTest, SilentConnectionIsClosedAtTheHandshakeTimeout) {
  config::GatewayConfig c = TlsConfig();
  c.tls.handshake_timeout_ms = 200;
  Start(c);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(gateway_->tls_port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  timeval tv{.tv_sec = 10, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char byte;
  const ssize_t n = ::recv(fd, &byte, 1, 0);  // EOF, or a reset
  EXPECT_LE(n, 0);
  ::close(fd);
  EXPECT_TRUE(WaitUntil([&] { return Failed("timeout") == 1; }, 5000ms));
}

TEST_P(TlsTest, BadCertificateFileIsNamedAtStart) {
  config::GatewayConfig c = TlsConfig();
  c.tls.certificate = pki_->path("missing.pem");
  server::Gateway gw(c);
  const absl::Status s = gw.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(std::string(s.message()).find("tls.certificate"), std::string::npos)
      << s;
  EXPECT_NE(std::string(s.message()).find("missing.pem"), std::string::npos);
  c.tls.certificate = pki_->server_cert();
  c.tls.private_key = pki_->client_key();  // a key of another certificate
  server::Gateway gw2(c);
  const absl::Status s2 = gw2.Start();
  ASSERT_FALSE(s2.ok());
  EXPECT_NE(std::string(s2.message()).find("does not match"), std::string::npos)
      << s2;
}

// [[backends]] tls = true: the gateway's pool connections handshake (with
// a client certificate: the proxy requires one) before LOGON.
class TlsBackendTest : public TlsTest {
 protected:
  config::GatewayConfig WithBackend(std::uint16_t port, const std::string& ca) {
    config::GatewayConfig c = TestConfig(GetParam());
    config::BackendService s;
    s.name = "echo";
    s.id = 42;
    s.endpoints = {"127.0.0.1:" + std::to_string(port)};
    s.pool_min = 1;
    s.pool_max = 2;
    s.tls = true;
    s.ca_file = ca;
    s.certificate = pki_->client_cert();
    s.private_key = pki_->client_key();
    s.connect_timeout_ms = 2000;
    s.reconnect_backoff_ms = 20;
    s.reconnect_backoff_max_ms = 100;
    c.backends = {s};
    return c;
  }
  std::uint64_t ClientFailed(std::string_view reason) const {
    return TlsHandshakesFailed(*gateway_, "client", reason);
  }
};

TEST_P(TlsBackendTest, PoolOverTlsAnswersARequest) {
  TestBackend backend;
  TlsProxy proxy(pki_->server_cert(), pki_->server_key(), pki_->ca(),
                 backend.port());
  ASSERT_NE(proxy.port(), 0);
  Start(WithBackend(proxy.port(), pki_->ca()));
  ASSERT_TRUE(WaitUntil(
      [&] { return gateway_->counters().Sum(backend::kReadyGauge) >= 1; }));
  EXPECT_GE(proxy.handshakes(), 1);
  auto c = Client::Connect("127.0.0.1", gateway_->port(), {});
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<std::vector<std::byte>> answer =
      (*c)->Request(42, std::string_view("over tls"), 2s);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(answer->data()),
                        answer->size()),
            "over tls");
  EXPECT_GE(backend.logons(), 1);
  proxy.Stop();
}

TEST_P(TlsBackendTest, BackendWhoseCertificateDoesNotVerifyNeverGetsReady) {
  TestBackend backend;
  TlsProxy proxy(pki_->server_cert(), pki_->server_key(), pki_->ca(),
                 backend.port());
  ASSERT_NE(proxy.port(), 0);
  Start(WithBackend(proxy.port(), pki_->other_ca()));
  ASSERT_TRUE(WaitUntil([&] { return ClientFailed("verify_failed") >= 1; }));
  EXPECT_EQ(gateway_->counters().Sum(backend::kReadyGauge), 0u);
  EXPECT_EQ(backend.logons(), 0);
  proxy.Stop();
}

INSTANTIATE_TEST_SUITE_P(Backends, TlsBackendTest,
                         ::testing::ValuesIn(EachBackend(1)), ParamName);

INSTANTIATE_TEST_SUITE_P(Backends, TlsTest, ::testing::ValuesIn(EachBackend(1)),
                         ParamName);

}  // namespace
}  // namespace tachyon::testing
