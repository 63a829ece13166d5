// TLS contexts: OpenSSL SSL_CTX objects for the gateway's TLS listener
// (server side) and its TLS backend connections (client side), built from
// PEM files, TLS 1.3 only, no session tickets.
//
// Overview
//   CreateServerContext reads the certificate chain and private key (and
//   the CA that client certificates must chain to, when client
//   certificates are asked for) and fails with an error that names the file
//   and what is wrong with it. CreateClientContext does the same for the
//   client side: the CA that the server's certificate must chain to, and an
//   optional client certificate. ProbeKernelTls says whether the kernel
//   offers the "tls" TCP upper-layer protocol (kTLS).
//
// Threading: an SSL_CTX is shared read-only by every thread once built
// (OpenSSL reference-counts it); the SSL objects made from it belong to
// one thread each.
//
// Example
//   auto ctx = tls::CreateServerContext({.certificate = "server.pem",
//                                        .private_key = "server.key"});
//   if (!ctx.ok()) return ctx.status();  // "tls.certificate 'server.pem': ..."
#ifndef TACHYON_TLS_TLS_CONTEXT_H_
#define TACHYON_TLS_TLS_CONTEXT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace tachyon::tls {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const;
};
/// An owned SSL_CTX.
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

/// Whether and how the server asks for client certificates.
enum class VerifyClient { kNone, kOptional, kRequire };

struct ServerContextOptions {
  std::string certificate;  ///< PEM chain file (leaf first)
  std::string private_key;  ///< PEM private key file
  std::string client_ca;    ///< PEM CA file client certificates chain to
  VerifyClient verify_client = VerifyClient::kNone;
  /// How errors name the settings ("tls.certificate").
  std::string key_prefix = "tls.";
};
absl::StatusOr<SslCtxPtr> CreateServerContext(const ServerContextOptions& o);

struct ClientContextOptions {
  std::string ca_file;      ///< PEM CA file; empty: the system's store
  std::string certificate;  ///< optional client certificate chain (PEM)
  std::string private_key;  ///< its key (PEM); required with certificate
  bool verify = true;       ///< verify the server's certificate
  std::string key_prefix = "tls.";
};
absl::StatusOr<SslCtxPtr> CreateClientContext(const ClientContextOptions& o);

/// Sets up `ssl` (a client) to send `server_name` as SNI and to check that
/// the server's certificate is for that name (a DNS name or an IP literal).
/// No-op for an empty name.
bool SetServerName(SSL* ssl, const std::string& server_name);

/// The peer certificate's subject in RFC 2253 one-line form
/// ("CN=alice,O=Example"); empty when the peer sent none.
std::string PeerSubject(SSL* ssl);

/// OpenSSL's error queue as one line (and cleared).
std::string TakeErrors();

/// Probes once whether setsockopt(TCP_ULP, "tls") works on this kernel.
/// On failure, `why` says what failed ("kernel has no tls ULP").
bool ProbeKernelTls(std::string* why = nullptr);

}  // namespace tachyon::tls

#endif  // TACHYON_TLS_TLS_CONTEXT_H_
