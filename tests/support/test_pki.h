// A throw-away PKI for TLS tests: a CA, a server certificate for
// 127.0.0.1 / localhost, a client certificate, and a second CA nobody
// trusts, made with the openssl command into a fresh temporary directory
// (removed by the destructor). Test-only keys, never committed.
//
// Example
//   auto pki = TestPki::Create();
//   ASSERT_NE(pki, nullptr);
//   config.tls.certificate = pki->server_cert();
#ifndef TACHYON_TESTS_SUPPORT_TEST_PKI_H_
#define TACHYON_TESTS_SUPPORT_TEST_PKI_H_

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace tachyon::testing {

class TestPki {
 public:
  /// The client certificate's subject as the gateway reports it (RFC 2253:
  /// most specific first).
  static constexpr const char* kClientSubject = "CN=alice,O=Tachyon Test";

  /// nullptr (and a test failure) if openssl failed.
  static std::unique_ptr<TestPki> Create() {
    char tmpl[] = "/tmp/tachyon-pki-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
      return nullptr;
    }
    auto pki = std::unique_ptr<TestPki>(new TestPki(tmpl));
    if (!pki->Make()) return nullptr;
    return pki;
  }
  ~TestPki() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  [[nodiscard]] std::string path(const char* name) const {
    return dir_ + "/" + name;
  }
  [[nodiscard]] std::string ca() const { return path("ca.pem"); }
  [[nodiscard]] std::string other_ca() const { return path("other-ca.pem"); }
  [[nodiscard]] std::string server_cert() const { return path("server.pem"); }
  [[nodiscard]] std::string server_key() const { return path("server.key"); }
  [[nodiscard]] std::string client_cert() const { return path("client.pem"); }
  [[nodiscard]] std::string client_key() const { return path("client.key"); }

 private:
  explicit TestPki(std::string dir) : dir_(std::move(dir)) {}

  bool Run(const std::string& cmd) {
    const std::string full = "cd '" + dir_ + "' && " + cmd + " >>log 2>&1";
    if (std::system(full.c_str()) != 0) {
      std::ifstream log(dir_ + "/log");
      std::string text((std::istreambuf_iterator<char>(log)), {});
      ADD_FAILURE() << "failed: " << cmd << "\n" << text;
      return false;
    }
    return true;
  }

  bool Make() {
    const std::string key =
        "openssl genpkey -algorithm EC -pkeyopt "
        "ec_paramgen_curve:P-256 -out ";
    {
      std::ofstream ext(dir_ + "/server.ext");
      ext << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
             "extendedKeyUsage=serverAuth\n";
      std::ofstream cext(dir_ + "/client.ext");
      cext << "extendedKeyUsage=clientAuth\n";
    }
    return Run(key + "ca.key") &&
           Run("openssl req -x509 -new -key ca.key -days 2 -subj "
               "'/O=Tachyon Test/CN=Test CA' -out ca.pem") &&
           Run(key + "other-ca.key") &&
           Run("openssl req -x509 -new -key other-ca.key -days 2 -subj "
               "'/CN=Other CA' -out other-ca.pem") &&
           Run(key + "server.key") &&
           Run("openssl req -new -key server.key -subj '/CN=localhost' "
               "-out server.csr") &&
           Run("openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
               "-CAcreateserial -days 2 -extfile server.ext -out server.pem") &&
           Run(key + "client.key") &&
           Run("openssl req -new -key client.key -subj "
               "'/O=Tachyon Test/CN=alice' -out client.csr") &&
           Run("openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key "
               "-CAcreateserial -days 2 -extfile client.ext -out client.pem");
  }

  std::string dir_;
};

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_SUPPORT_TEST_PKI_H_
