// TLS at the other ends of the gateway's connections: the AsyncClient
// against the gateway's [tls] listener, a tachyon::service Server behind a
// [[backends]] tls = true entry, and close_notify on a graceful close in
// both directions. A real in-process gateway on loopback on both io
// backends, with certificates made by the test (support/test_pki.h); the
// closes are watched by bare OpenSSL peers that do not forgive an EOF
// without close_notify.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend_counters.h"
#include "gtest/gtest.h"
#include "support/gateway_fixture.h"
#include "support/tls_gateway_fixture.h"
#include "support/tls_proxy.h"
#include "support/wait.h"
#include "tachyon/client/async_client.h"
#include "tachyon/client/client.h"
#include "tachyon/protocol/protocol.h"
#include "tachyon/service/server.h"
#include "tls/tls_counters.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
namespace ts = ::tachyon::service;
using client::AsyncClient;
using client::AsyncClientOptions;
using client::Client;
using client::ClientOptions;
using client::Message;
using client::StartPosition;
using ::tachyon::StreamId;
using ::tachyon::SubscriptionId;
using namespace std::chrono_literals;

constexpr auto kRunLimit = 30s;
constexpr std::uint32_t kServiceId = 42;

struct Got {
  std::uint64_t sequence;
  std::string payload;
  bool operator==(const Got&) const = default;
};

std::string Text(const std::vector<std::byte>& b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// A bare OpenSSL client over a blocking socket (5 s receive timeout, so a
// missing answer is a failure, not a hang). Its context does not set
// SSL_OP_IGNORE_UNEXPECTED_EOF: an EOF without close_notify reads as an
// error, the peer's close_notify as SSL_ERROR_ZERO_RETURN.
class RawTlsClient {
 public:
  static std::unique_ptr<RawTlsClient> Connect(std::uint16_t port,
                                               const std::string& ca) {
    auto c = std::unique_ptr<RawTlsClient>(new RawTlsClient());
    c->ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(c->ctx_, TLS1_3_VERSION);
    if (SSL_CTX_load_verify_locations(c->ctx_, ca.c_str(), nullptr) != 1) {
      ADD_FAILURE() << "cannot load " << ca;
      return nullptr;
    }
    SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_PEER, nullptr);
    c->fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(c->fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ADD_FAILURE() << "connect to port " << port << " failed";
      return nullptr;
    }
    timeval tv{.tv_sec = 5, .tv_usec = 0};
    ::setsockopt(c->fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    c->ssl_ = SSL_new(c->ctx_);
    SSL_set_fd(c->ssl_, c->fd_);
    SSL_set1_host(c->ssl_, "localhost");
    if (SSL_connect(c->ssl_) != 1) {
      ADD_FAILURE() << "TLS handshake failed";
      return nullptr;
    }
    return c;
  }
  ~RawTlsClient() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
    ERR_clear_error();
  }

  bool Send(std::span<const std::byte> frame) {
    return SSL_write(ssl_, frame.data(), static_cast<int>(frame.size())) ==
           static_cast<int>(frame.size());
  }
  bool SendLogon() {
    std::byte buf[256];
    const std::size_t n =
        tp::EncodeLogon(buf, {.min_version = 1,
                              .max_version = tp::kMaxProtocolVersion,
                              .client_name = "raw-tls"});
    return n > 0 && Send({buf, n});
  }
  bool SendLogout() {
    std::byte buf[tp::LogoutView::kFixedLength];
    const std::size_t n = tp::EncodeLogout(buf, tp::ErrorCode::kNone);
    return n > 0 && Send({buf, n});
  }
  /// Reads frames until one of `type`; false at the end of the stream.
  bool ReadUntil(tp::MessageType type) {
    for (int reads = 0; reads < 1000; ++reads) {
      for (tp::DecodeResult r = decoder_.Next();
           r.status == tp::DecodeStatus::kFrame; r = decoder_.Next()) {
        if (r.frame.type() == type) return true;
      }
      const std::span<std::byte> space = decoder_.WritableSpan();
      const int n =
          SSL_read(ssl_, space.data(), static_cast<int>(space.size()));
      if (n <= 0) return false;
      decoder_.Commit(static_cast<std::size_t>(n));
    }
    return false;
  }
  /// Reads on to the end of the TLS stream: SSL_get_error of the read that
  /// found it (SSL_ERROR_ZERO_RETURN: the peer sent close_notify).
  int ReadToEnd() {
    char buf[4096];
    for (int reads = 0; reads < 1000; ++reads) {
      const int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) return SSL_get_error(ssl_, n);
    }
    return -1;
  }

 private:
  RawTlsClient()
      : storage_(2 * tp::FrameDecoder::MinStorage(1 << 20)),
        decoder_(storage_, 1 << 20) {}

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  std::vector<std::byte> storage_;
  tp::FrameDecoder decoder_;
};

class TlsEndpointsTest : public TlsGatewayTest {
 protected:
  // A [[backends]] entry over TLS to a service on `port`, its certificate
  // checked against `ca` for "localhost"; one failure ejects it for a
  // minute, so that a refused handshake is answered UNAVAILABLE at once.
  static void AddTlsBackend(config::GatewayConfig& c, std::uint16_t port,
                            const std::string& ca, bool client_cert) {
    config::BackendService s;
    s.name = "echo";
    s.id = kServiceId;
    s.endpoints = {"127.0.0.1:" + std::to_string(port)};
    s.pool_min = 1;
    s.pool_max = 2;
    s.tls = true;
    s.ca_file = ca;
    s.server_name = "localhost";
    if (client_cert) {
      s.certificate = pki_->client_cert();
      s.private_key = pki_->client_key();
    }
    s.connect_timeout_ms = 2000;
    s.eject_after_failures = 1;
    s.eject_ms = 60000;
    c.backends = {s};
  }
  static AsyncClientOptions AsyncTls() {
    AsyncClientOptions o;
    o.tls.enabled = true;
    o.tls.ca_file = pki_->ca();
    o.connect_timeout = 5000ms;
    o.response_timeout = 5000ms;
    o.close_timeout = 2000ms;
    return o;
  }
  // A TLS echo service.
  static absl::StatusOr<std::unique_ptr<ts::Server>> StartTlsService(
      bool require_client_cert, std::vector<std::string>* errors = nullptr) {
    ts::ServerOptions o;
    o.tls.enabled = true;
    o.tls.certificate = pki_->server_cert();
    o.tls.private_key = pki_->server_key();
    if (require_client_cert) {
      o.tls.client_ca = pki_->ca();
      o.tls.require_client_certificate = true;
    }
    static std::mutex mu;
    if (errors != nullptr) {
      o.on_connection_error = [errors](const absl::Status& s) {
        std::lock_guard<std::mutex> lock(mu);
        errors->push_back(std::string(s.message()));
      };
    }
    return ts::Server::Start(
        o, [](const ts::Request& req, std::vector<std::byte>& reply) {
          reply.assign(req.payload.begin(), req.payload.end());
          return absl::OkStatus();
        });
  }
  std::uint64_t ClientSideFailed(std::string_view reason) const {
    return TlsHandshakesFailed(*gateway_, "client", reason);
  }

  asio::io_context io_;
};

// ------------------------------------------------------------ AsyncClient

TEST_P(TlsEndpointsTest, AsyncSubscriberOverTlsGetsTheSameDataAsAPlainOne) {
  Start(TlsConfig());
  ASSERT_NE(gateway_->tls_port(), 0);
  // A small send buffer: the publisher's writes find the socket full
  // (OpenSSL holds a record while the client waits for room). (A receive
  // buffer as small slows loopback TCP to window probes, not the client.)
  AsyncClientOptions pub_options = AsyncTls();
  pub_options.socket_send_buffer = 4096;
  AsyncClient tls_sub(io_, AsyncTls());
  AsyncClient plain_sub(io_, AsyncClientOptions{});
  AsyncClient pub(io_, pub_options);
  constexpr int kMessages = 300;
  std::vector<Got> over_tls, over_plain;
  std::vector<std::string> failures;
  auto fail = [&](const std::string& what, const absl::Status& s) {
    failures.push_back(what + ": " + s.ToString());
    io_.stop();
  };
  auto close_all_when_done = [&] {
    if (over_tls.size() < kMessages || over_plain.size() < kMessages) return;
    for (AsyncClient* c : {&tls_sub, &plain_sub, &pub}) {
      c->AsyncClose([](absl::Status) {});
    }
  };
  auto record = [&](std::vector<Got>* out) {
    return [&, out](const Message& m) {
      out->push_back({m.sequence.value(), std::string(m.text())});
      close_all_when_done();
    };
  };
  // The publisher's payloads: large ones span several TLS records (a
  // record carries at most 16 KiB) both into and out of the gateway.
  std::function<void(StreamId, int)> publish = [&](StreamId stream, int i) {
    if (i == kMessages) return;
    const std::size_t size = i % 10 == 0 ? 60'000 : 1 + (i * 977) % 3000;
    std::string payload(size, static_cast<char>('a' + i % 26));
    const std::string tag = std::to_string(i);
    payload.replace(0, std::min(size, tag.size()), tag.substr(0, size));
    pub.AsyncPublish(stream, payload, [&, stream, i](absl::Status s) {
      if (!s.ok()) return fail("publish", s);
      publish(stream, i + 1);
    });
  };
  tls_sub.AsyncConnect("127.0.0.1", gateway_->tls_port(), [&](absl::Status s) {
    if (!s.ok()) return fail("TLS subscriber connect", s);
    tls_sub.AsyncSubscribe(
        "md.async", StartPosition::Earliest(), record(&over_tls),
        [&](absl::StatusOr<SubscriptionId> id) {
          if (!id.ok()) return fail("TLS subscribe", id.status());
          plain_sub.AsyncConnect(
              "127.0.0.1", gateway_->port(), [&](absl::Status p) {
                if (!p.ok()) return fail("plain connect", p);
                plain_sub.AsyncSubscribe(
                    "md.async", StartPosition::Earliest(), record(&over_plain),
                    [&](absl::StatusOr<SubscriptionId> pid) {
                      if (!pid.ok())
                        return fail("plain subscribe", pid.status());
                      pub.AsyncConnect(
                          "127.0.0.1", gateway_->tls_port(),
                          [&](absl::Status c) {
                            if (!c.ok()) return fail("publisher connect", c);
                            pub.AsyncOpenStream(
                                "md.async",
                                [&](absl::StatusOr<StreamId> stream) {
                                  if (!stream.ok()) {
                                    return fail("open", stream.status());
                                  }
                                  publish(*stream, 0);
                                });
                          });
                    });
              });
        });
  });
  io_.run_for(kRunLimit);
  EXPECT_TRUE(failures.empty()) << failures.front();
  ASSERT_EQ(over_tls.size(), static_cast<std::size_t>(kMessages));
  EXPECT_TRUE(over_tls == over_plain);
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_EQ(over_tls[i].sequence, static_cast<std::uint64_t>(i + 1));
  }
  EXPECT_EQ(gateway_->counters().Sum(tls::kHandshakesTotal), 2u);
  EXPECT_GT(gateway_->counters().Sum(tls::kBytesDecryptedTotal), 60'000u * 30);
  EXPECT_GT(gateway_->counters().Sum(tls::kBytesEncryptedTotal), 60'000u * 30);
}

TEST_P(TlsEndpointsTest, AsyncClientThatDoesNotTrustTheGatewayIsRefused) {
  Start(TlsConfig());
  AsyncClientOptions o = AsyncTls();
  o.tls.ca_file = pki_->other_ca();
  AsyncClient c(io_, o);
  absl::Status result = absl::UnknownError("not run");
  c.AsyncConnect("127.0.0.1", gateway_->tls_port(),
                 [&](absl::Status s) { result = s; });
  io_.run_for(kRunLimit);
  EXPECT_EQ(result.code(), absl::StatusCode::kUnavailable) << result;
  const std::string text(result.message());
  EXPECT_NE(text.find("TLS handshake with 127.0.0.1:"), std::string::npos)
      << text;
  EXPECT_NE(text.find("certificate verify failed"), std::string::npos) << text;
  EXPECT_FALSE(c.connected());
  // A wrong server name is refused the same way.
  asio::io_context io2;
  AsyncClientOptions named = AsyncTls();
  named.tls.server_name = "not-the-gateway.example";
  AsyncClient c2(io2, named);
  absl::Status result2 = absl::UnknownError("not run");
  c2.AsyncConnect("127.0.0.1", gateway_->tls_port(),
                  [&](absl::Status s) { result2 = s; });
  io2.run_for(kRunLimit);
  EXPECT_EQ(result2.code(), absl::StatusCode::kUnavailable) << result2;
  EXPECT_NE(std::string(result2.message()).find("certificate verify failed"),
            std::string::npos)
      << result2;
}

TEST_P(TlsEndpointsTest, AsyncClientCertificateSubjectReachesTheSession) {
  config::GatewayConfig c = TlsConfig();
  c.tls.verify_client = config::TlsVerifyClient::kRequire;
  c.tls.client_ca = pki_->ca();
  Start(c);
  // Without a certificate: refused.
  {
    AsyncClient without(io_, AsyncTls());
    absl::Status result = absl::UnknownError("not run");
    without.AsyncConnect("127.0.0.1", gateway_->tls_port(),
                         [&](absl::Status s) { result = s; });
    io_.run_for(kRunLimit);
    EXPECT_FALSE(result.ok());
  }
  io_.restart();
  AsyncClientOptions o = AsyncTls();
  o.tls.certificate = pki_->client_cert();
  o.tls.private_key = pki_->client_key();
  AsyncClient with(io_, o);
  absl::Status result = absl::UnknownError("not run");
  with.AsyncConnect("127.0.0.1", gateway_->tls_port(),
                    [&](absl::Status s) { result = s; });
  io_.run_for(2s);  // connected, then idle (heartbeats keep it busy)
  ASSERT_TRUE(result.ok()) << result;
  const std::uint64_t id = with.session_id().value();
  std::string subject;
  ASSERT_TRUE(WaitUntil([&] {
    for (const session::SessionInfo& row : gateway_->Sessions()) {
      if (row.id == id) subject = row.tls_subject;
    }
    return !subject.empty();
  }));
  EXPECT_EQ(subject, TestPki::kClientSubject);
}

// ---------------------------------------------- the service library's TLS

TEST_P(TlsEndpointsTest, AsyncRequestOverTlsToATlsServiceIsAnswered) {
  // The service requires the gateway's client certificate.
  auto service = StartTlsService(/*require_client_cert=*/true);
  ASSERT_TRUE(service.ok()) << service.status();
  config::GatewayConfig c = TlsConfig();
  AddTlsBackend(c, (*service)->port(), pki_->ca(), /*client_cert=*/true);
  Start(c);
  ASSERT_TRUE(WaitUntil(
      [&] { return gateway_->counters().Sum(backend::kReadyGauge) >= 1; }));
  EXPECT_GE((*service)->stats().tls_handshakes, 1u);
  AsyncClient client(io_, AsyncTls());
  std::vector<std::string> answers;
  absl::Status failed;
  std::function<void(int)> ask = [&](int i) {
    if (i == 20) {
      client.AsyncClose([](absl::Status) {});
      return;
    }
    // Up to 60 KB: answers span several records both ways.
    std::string payload(i % 5 == 0 ? 60'000 : 10 + i, 'q');
    payload += std::to_string(i);
    client.AsyncRequest(kServiceId, payload, 5000ms,
                        [&, i](absl::StatusOr<std::vector<std::byte>> r) {
                          if (!r.ok()) {
                            failed = r.status();
                            client.AsyncClose([](absl::Status) {});
                            return;
                          }
                          answers.push_back(Text(*r));
                          ask(i + 1);
                        });
  };
  client.AsyncConnect("127.0.0.1", gateway_->tls_port(), [&](absl::Status s) {
    if (!s.ok()) {
      failed = s;
      return;
    }
    ask(0);
  });
  io_.run_for(kRunLimit);
  EXPECT_TRUE(failed.ok()) << failed;
  ASSERT_EQ(answers.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    std::string want(i % 5 == 0 ? 60'000 : 10 + i, 'q');
    want += std::to_string(i);
    EXPECT_EQ(answers[i], want) << i;
  }
  EXPECT_EQ((*service)->stats().responses_ok, 20u);
  EXPECT_EQ((*service)->stats().tls_handshake_failures, 0u);
}

TEST_P(TlsEndpointsTest, ServiceTheGatewayDoesNotTrustAnswersUnavailable) {
  std::vector<std::string> errors;
  auto service = StartTlsService(/*require_client_cert=*/false, &errors);
  ASSERT_TRUE(service.ok()) << service.status();
  config::GatewayConfig c = TestConfig(GetParam());
  // The gateway trusts only another CA.
  AddTlsBackend(c, (*service)->port(), pki_->other_ca(), /*client_cert=*/false);
  Start(c);
  ASSERT_TRUE(
      WaitUntil([&] { return ClientSideFailed("verify_failed") >= 1; }));
  auto client = Client::Connect("127.0.0.1", gateway_->port(), {});
  ASSERT_TRUE(client.ok()) << client.status();
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::vector<std::byte>> r =
        (*client)->Request(kServiceId, std::string_view("never plain"), 2s);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  }
  EXPECT_EQ(gateway_->counters().Sum(backend::kReadyGauge), 0u);
  // The service saw handshakes fail, never a LOGON or a request.
  EXPECT_TRUE(WaitUntil(
      [&] { return (*service)->stats().tls_handshake_failures >= 1; }));
  EXPECT_EQ((*service)->stats().connections_open, 0u);
  EXPECT_EQ((*service)->stats().requests, 0u);
  (void)(*service)->Stop();
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors.front().find("TLS handshake failed"), std::string::npos)
      << errors.front();
}

TEST_P(TlsEndpointsTest, PlainGatewayConnectionToATlsServiceIsNotServed) {
  std::vector<std::string> errors;
  auto service = StartTlsService(/*require_client_cert=*/false, &errors);
  ASSERT_TRUE(service.ok()) << service.status();
  config::GatewayConfig c = TestConfig(GetParam());
  AddTlsBackend(c, (*service)->port(), pki_->ca(), false);
  c.backends[0].tls = false;  // the gateway speaks plain TCP to it
  c.backends[0].ca_file.clear();
  c.backends[0].server_name.clear();
  Start(c);
  ASSERT_TRUE(WaitUntil(
      [&] { return (*service)->stats().tls_handshake_failures >= 1; }));
  EXPECT_EQ(gateway_->counters().Sum(backend::kReadyGauge), 0u);
  EXPECT_EQ((*service)->stats().requests, 0u);
}

TEST(TlsServiceOptionsTest, BadSettingsAreNamedAtStart) {
  auto pki = TestPki::Create();
  ASSERT_NE(pki, nullptr);
  auto echo = [](const ts::Request&, std::vector<std::byte>&) {
    return absl::OkStatus();
  };
  ts::ServerOptions o;
  o.tls.enabled = true;
  auto s = ts::Server::Start(o, echo);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  o.tls.certificate = pki->path("missing.pem");
  o.tls.private_key = pki->server_key();
  s = ts::Server::Start(o, echo);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(s.status().message()).find("tls.certificate"),
            std::string::npos)
      << s.status();
  EXPECT_NE(std::string(s.status().message()).find("missing.pem"),
            std::string::npos);
  o.tls.certificate = pki->server_cert();
  o.tls.private_key = pki->client_key();  // another certificate's key
  s = ts::Server::Start(o, echo);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(s.status().message()).find("tls.private_key"),
            std::string::npos)
      << s.status();
  EXPECT_NE(std::string(s.status().message()).find("mismatch"),
            std::string::npos)
      << s.status();
  o.tls.private_key = pki->server_key();
  o.tls.require_client_certificate = true;
  s = ts::Server::Start(o, echo);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
}

// ------------------------------------------------------------ close_notify

TEST_P(TlsEndpointsTest, GatewayEndsAGracefulCloseWithCloseNotify) {
  Start(TlsConfig());
  auto raw = RawTlsClient::Connect(gateway_->tls_port(), pki_->ca());
  ASSERT_NE(raw, nullptr);
  ASSERT_TRUE(raw->SendLogon());
  ASSERT_TRUE(raw->ReadUntil(tp::MessageType::kLogonAck));
  ASSERT_TRUE(raw->SendLogout());
  ASSERT_TRUE(raw->ReadUntil(tp::MessageType::kLogout));
  // Not an unexpected EOF (SSL_ERROR_SSL) or a reset (SSL_ERROR_SYSCALL).
  EXPECT_EQ(raw->ReadToEnd(), SSL_ERROR_ZERO_RETURN);
}

TEST_P(TlsEndpointsTest, GatewayEndsAFatalErrorWithCloseNotify) {
  Start(TlsConfig());
  auto raw = RawTlsClient::Connect(gateway_->tls_port(), pki_->ca());
  ASSERT_NE(raw, nullptr);
  // A HEARTBEAT before LOGON: ERROR (fatal), flushed, then the close.
  std::byte hb[tp::HeartbeatView::kFixedLength];
  ASSERT_TRUE(raw->Send({hb, tp::EncodeHeartbeat(hb, 0)}));
  ASSERT_TRUE(raw->ReadUntil(tp::MessageType::kError));
  EXPECT_EQ(raw->ReadToEnd(), SSL_ERROR_ZERO_RETURN);
}

TEST_P(TlsEndpointsTest, ClientsEndAGracefulCloseWithCloseNotify) {
  Start();
  // A TLS-terminating proxy in front of the plain listener shows how the
  // clients end their TLS streams.
  TlsProxy proxy(pki_->server_cert(), pki_->server_key(), "", gateway_->port());
  ASSERT_NE(proxy.port(), 0);
  proxy.set_wait_for_tls_close(true);
  ClientOptions o;
  o.tls.enabled = true;
  o.tls.ca_file = pki_->ca();
  o.tls.server_name = "localhost";
  {
    auto blocking = Client::Connect("127.0.0.1", proxy.port(), o);
    ASSERT_TRUE(blocking.ok()) << blocking.status();
    EXPECT_TRUE((*blocking)->Close().ok());
  }
  ASSERT_TRUE(WaitUntil([&] {
    return proxy.tls_close_notifies() + proxy.tls_other_ends() >= 1;
  }));
  EXPECT_EQ(proxy.tls_close_notifies(), 1);
  {
    AsyncClientOptions ao = AsyncTls();
    ao.tls.server_name = "localhost";
    AsyncClient async(io_, ao);
    absl::Status connected = absl::UnknownError("not run");
    absl::Status closed = absl::UnknownError("not run");
    async.AsyncConnect("127.0.0.1", proxy.port(), [&](absl::Status s) {
      connected = s;
      if (s.ok()) async.AsyncClose([&](absl::Status c) { closed = c; });
    });
    io_.run_for(kRunLimit);
    ASSERT_TRUE(connected.ok()) << connected;
    EXPECT_TRUE(closed.ok()) << closed;
  }
  ASSERT_TRUE(WaitUntil([&] {
    return proxy.tls_close_notifies() + proxy.tls_other_ends() >= 2;
  }));
  EXPECT_EQ(proxy.tls_close_notifies(), 2);
  EXPECT_EQ(proxy.tls_other_ends(), 0);
  proxy.Stop();
}

TEST_P(TlsEndpointsTest, ServiceEndsAGracefulCloseWithCloseNotify) {
  auto service = StartTlsService(/*require_client_cert=*/false);
  ASSERT_TRUE(service.ok()) << service.status();
  // The gateway's role played by a bare TLS client.
  auto raw = RawTlsClient::Connect((*service)->port(), pki_->ca());
  ASSERT_NE(raw, nullptr);
  ASSERT_TRUE(raw->SendLogon());
  ASSERT_TRUE(raw->ReadUntil(tp::MessageType::kLogonAck));
  ASSERT_TRUE(raw->SendLogout());
  ASSERT_TRUE(raw->ReadUntil(tp::MessageType::kLogout));
  EXPECT_EQ(raw->ReadToEnd(), SSL_ERROR_ZERO_RETURN);
  // And at Stop: LOGOUT (SHUTTING_DOWN), our LOGOUT, close_notify.
  auto raw2 = RawTlsClient::Connect((*service)->port(), pki_->ca());
  ASSERT_NE(raw2, nullptr);
  ASSERT_TRUE(raw2->SendLogon());
  ASSERT_TRUE(raw2->ReadUntil(tp::MessageType::kLogonAck));
  std::thread stopper([&] { (void)(*service)->Stop(); });
  const bool got_logout = raw2->ReadUntil(tp::MessageType::kLogout);
  const bool sent = got_logout && raw2->SendLogout();
  const int end = raw2->ReadToEnd();
  stopper.join();
  EXPECT_TRUE(got_logout);
  EXPECT_TRUE(sent);
  EXPECT_EQ(end, SSL_ERROR_ZERO_RETURN);
}

INSTANTIATE_TEST_SUITE_P(Backends, TlsEndpointsTest,
                         ::testing::ValuesIn(EachBackend(1)), ParamName);

}  // namespace
}  // namespace tachyon::testing
