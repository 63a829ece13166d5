// TlsGatewayTest: GatewayTest with a throw-away PKI (test_pki.h) made once
// per suite, and the gateway config of a TLS listener on an ephemeral port
// with the PKI's server certificate.
//
// Example
//   class MyTlsTest : public TlsGatewayTest {};
//   TEST_P(MyTlsTest, Handshake) {
//     Start(TlsConfig(config::TlsVerifyClient::kRequire));
//     ... connect to gateway_->tls_port() trusting pki_->ca() ...
//   }
#ifndef TACHYON_TESTS_SUPPORT_TLS_GATEWAY_FIXTURE_H_
#define TACHYON_TESTS_SUPPORT_TLS_GATEWAY_FIXTURE_H_

#include "config/model.h"
#include "gtest/gtest.h"
#include "support/gateway_fixture.h"
#include "support/test_pki.h"

namespace tachyon::testing {

class TlsGatewayTest : public GatewayTest {
 protected:
  static void SetUpTestSuite() { pki_ = TestPki::Create().release(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  void SetUp() override {
    GatewayTest::SetUp();
    if (IsSkipped()) return;
    ASSERT_NE(pki_, nullptr);
  }

  /// The test's gateway config plus a TLS listener (port 0) with the PKI's
  /// server certificate; a client certificate is asked for as `verify`
  /// says, checked against the PKI's CA.
  config::GatewayConfig TlsConfig(
      config::TlsVerifyClient verify = config::TlsVerifyClient::kNone) {
    config::GatewayConfig c = TestConfig(GetParam());
    c.tls.enabled = true;
    c.tls.port = 0;
    c.tls.certificate = pki_->server_cert();
    c.tls.private_key = pki_->server_key();
    c.tls.verify_client = verify;
    if (verify != config::TlsVerifyClient::kNone) c.tls.client_ca = pki_->ca();
    return c;
  }

  inline static TestPki* pki_ = nullptr;
};

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_SUPPORT_TLS_GATEWAY_FIXTURE_H_
