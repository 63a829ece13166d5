#include "tls/tls_context.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

namespace tachyon::tls {

void SslCtxFree::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }

std::string TakeErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    // "error:0A000086:SSL routines::certificate verify failed": keep the
    // reason, after the last colon.
    const char* reason = std::strrchr(buf, ':');
    out += reason != nullptr && reason[1] != '\0' ? reason + 1 : buf;
  }
  return out.empty() ? std::string("unknown error") : out;
}

namespace {

// "tls.certificate 'path': what" for a file that cannot be read at all.
absl::Status CheckReadable(const std::string& key, const std::string& path) {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(key, " is not set"));
  }
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    const int e = errno;
    return absl::InvalidArgumentError(
        absl::StrCat(key, " '", path, "': cannot open: ", std::strerror(e)));
  }
  std::fclose(f);
  return absl::OkStatus();
}

absl::Status FileError(const std::string& key, const std::string& path,
                       std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(
      key, " '", path, "': ", std::string(what), " (", TakeErrors(), ")"));
}

// Common settings: TLS 1.3 only, no tickets, no session cache.
SSL_CTX* NewContext(const SSL_METHOD* method) {
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF |
                               SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // Whole writes: the BIOs of tls_connection.h never refuse bytes, and a
  // partial write would return after one record.
  return ctx;
}

absl::Status LoadCertAndKey(SSL_CTX* ctx, const std::string& prefix,
                            const std::string& cert, const std::string& key) {
  const std::string cert_key = absl::StrCat(prefix, "certificate");
  const std::string key_key = absl::StrCat(prefix, "private_key");
  if (absl::Status s = CheckReadable(cert_key, cert); !s.ok()) return s;
  if (absl::Status s = CheckReadable(key_key, key); !s.ok()) return s;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    return FileError(cert_key, cert, "not a PEM certificate chain");
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      return FileError(
          key_key, key,
          absl::StrCat("does not match the certificate in '", cert, "'"));
    }
    return FileError(key_key, key, "not a PEM private key (or encrypted)");
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return FileError(
        key_key, key,
        absl::StrCat("does not match the certificate in '", cert, "'"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SslCtxPtr> CreateServerContext(const ServerContextOptions& o) {
  ERR_clear_error();
  SslCtxPtr ctx(NewContext(TLS_server_method()));
  if (ctx == nullptr) {
    return absl::InternalError(absl::StrCat("SSL_CTX_new: ", TakeErrors()));
  }
  if (absl::Status s =
          LoadCertAndKey(ctx.get(), o.key_prefix, o.certificate, o.private_key);
      !s.ok()) {
    return s;
  }
  if (o.verify_client != VerifyClient::kNone) {
    const std::string ca_key = absl::StrCat(o.key_prefix, "client_ca");
    if (absl::Status s = CheckReadable(ca_key, o.client_ca); !s.ok()) return s;
    if (SSL_CTX_load_verify_locations(ctx.get(), o.client_ca.c_str(),
                                      nullptr) != 1) {
      return FileError(ca_key, o.client_ca, "not a PEM CA certificate file");
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.client_ca.c_str());
    if (names == nullptr) {
      return FileError(ca_key, o.client_ca, "holds no CA certificate");
    }
    SSL_CTX_set_client_CA_list(ctx.get(), names);
    int mode = SSL_VERIFY_PEER;
    if (o.verify_client == VerifyClient::kRequire) {
      mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    SSL_CTX_set_verify(ctx.get(), mode, nullptr);
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  }
  return ctx;
}

absl::StatusOr<SslCtxPtr> CreateClientContext(const ClientContextOptions& o) {
  ERR_clear_error();
  SslCtxPtr ctx(NewContext(TLS_client_method()));
  if (ctx == nullptr) {
    return absl::InternalError(absl::StrCat("SSL_CTX_new: ", TakeErrors()));
  }
  if (o.verify) {
    if (o.ca_file.empty()) {
      if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
        return absl::InternalError(
            absl::StrCat("the system's CA store: ", TakeErrors()));
      }
    } else {
      const std::string ca_key = absl::StrCat(o.key_prefix, "ca_file");
      if (absl::Status s = CheckReadable(ca_key, o.ca_file); !s.ok()) return s;
      if (SSL_CTX_load_verify_locations(ctx.get(), o.ca_file.c_str(),
                                        nullptr) != 1) {
        return FileError(ca_key, o.ca_file, "not a PEM CA certificate file");
      }
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  }
  if (!o.certificate.empty() || !o.private_key.empty()) {
    if (absl::Status s = LoadCertAndKey(ctx.get(), o.key_prefix, o.certificate,
                                        o.private_key);
        !s.ok()) {
      return s;
    }
  }
  return ctx;
}

bool SetServerName(SSL* ssl, const std::string& server_name) {
  if (server_name.empty()) return true;
  in6_addr addr6;
  in_addr addr4;
  const bool literal = ::inet_pton(AF_INET, server_name.c_str(), &addr4) == 1 ||
                       ::inet_pton(AF_INET6, server_name.c_str(), &addr6) == 1;
  if (literal) {
    // SNI carries host names only; an IP literal is checked as an address.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    return X509_VERIFY_PARAM_set1_ip_asc(param, server_name.c_str()) == 1;
  }
  if (SSL_set_tlsext_host_name(ssl, server_name.c_str()) != 1) return false;
  return SSL_set1_host(ssl, server_name.c_str()) == 1;
}

std::string PeerSubject(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return {};
  std::string out;
  BIO* mem = BIO_new(BIO_s_mem());
  if (mem != nullptr) {
    if (X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0,
                           XN_FLAG_RFC2253) >= 0) {
      char* data = nullptr;
      const long n = BIO_get_mem_data(mem, &data);
      if (n > 0) out.assign(data, static_cast<std::size_t>(n));
    }
    BIO_free(mem);
  }
  X509_free(cert);
  return out;
}

bool ProbeKernelTls(std::string* why) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (why != nullptr) *why = absl::StrCat("socket: ", std::strerror(errno));
    return false;
  }
  // The ULP attaches to established sockets only; on an unconnected one a
  // kernel with the tls module says ENOTCONN, one without it ENOENT.
  const int rc = ::setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", 3);
  const int e = errno;
  ::close(fd);
  if (rc == 0 || e == ENOTCONN) return true;
  if (why != nullptr) {
    *why = e == ENOENT ? std::string("kernel has no tls ULP")
                       : absl::StrCat("TCP_ULP tls: ", std::strerror(e));
  }
  return false;
}

}  // namespace tachyon::tls
