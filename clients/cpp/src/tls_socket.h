// Internal: TLS 1.3 over a TCP socket of the client library — the blocking
// Client's and the AsyncClient's connections to the gateway
// (ClientOptions::tls), and the gateways' connections to a
// tachyon::service Server (ServerOptions::tls).
//
// The socket stays as its owner leaves it (the Client's: blocking mode,
// SO_RCVTIMEO; the AsyncClient's and the Server's: non-blocking): a BIO of
// our own reads and writes the fd with the same flags the plain path uses
// (MSG_DONTWAIT for non-blocking calls, a plain recv for the blocking
// receive), so each call below has the plain call's meaning and result,
// with plaintext in and out. OpenSSL keeps any partial record.
//
// Handshake: Connect does the client side's at once, waiting in poll (the
// blocking Client). StartClient / StartServer make the object without
// handshaking; the owner calls Handshake() whenever the socket is ready,
// as it says (an event loop).
//
// Close: SendCloseNotify sends TLS close_notify (once), the graceful end
// the owner sends before closing the socket after a LOGOUT; a peer's
// close_notify reads as an orderly EOF (IoResult::closed).
//
// Threading: like the owner's socket, one thread at a time.
#ifndef TACHYON_CLIENTS_CPP_SRC_TLS_SOCKET_H_
#define TACHYON_CLIENTS_CPP_SRC_TLS_SOCKET_H_

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "socket.h"
#include "tachyon/client/options.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace tachyon::client::internal {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const;
};
/// An owned (reference-counted) OpenSSL context.
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

/// The server side's settings (a tachyon::service Server).
struct TlsServerSettings {
  std::string certificate;  ///< PEM chain, leaf first
  std::string private_key;  ///< its key (PEM)
  std::string client_ca;    ///< verify client certificates against it
  bool require_client_certificate = false;
  /// How errors name the settings ("ServerOptions::tls.").
  std::string_view prefix = "ServerOptions::tls.";
};

class TlsSocket {
 public:
  /// A TLS 1.3 server context; FAILED_PRECONDITION naming a file that
  /// cannot be used, with OpenSSL's reason.
  static absl::StatusOr<SslCtxPtr> ServerContext(const TlsServerSettings& s);

  /// Handshakes over the connected socket `fd` (not owned) before
  /// `deadline`, verifying the gateway's certificate against
  /// options.tls.ca_file for options.tls.server_name (or `host`) unless
  /// options.tls.verify is false. UNAVAILABLE with OpenSSL's reason on
  /// failure (FAILED_PRECONDITION for a bad local file); DEADLINE_EXCEEDED.
  static absl::StatusOr<std::unique_ptr<TlsSocket>> Connect(
      int fd, std::string_view host, const ClientOptions& options,
      Clock::time_point deadline);
  /// The client side as Connect sets it up, without handshaking: the
  /// caller drives Handshake().
  static absl::StatusOr<std::unique_ptr<TlsSocket>> StartClient(
      int fd, std::string_view host, const ClientOptions& options);
  /// The server side over the accepted socket `fd` (not owned), from `ctx`
  /// (shared; the socket holds its own reference). nullptr if out of
  /// memory. The caller drives Handshake().
  static std::unique_ptr<TlsSocket> StartServer(int fd, SSL_CTX* ctx);

  ~TlsSocket();
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;

  enum class Step { kDone, kWantRead, kWantWrite, kFailed };
  /// One handshake step: done, waiting for the socket to be readable or
  /// writable (call again then), or failed (failure() says why; an alert
  /// for the peer has been sent if the socket took it).
  Step Handshake();
  /// Why the handshake failed: OpenSSL's reason, with the certificate
  /// check's ("certificate verify failed (unable to get local issuer
  /// certificate)"), or "the peer closed the connection".
  [[nodiscard]] const std::string& failure() const { return failure_; }

  IoResult SendSome(std::span<const std::byte> bytes);
  IoResult ReceiveSome(std::span<std::byte> into);
  IoResult ReceiveBlocking(std::span<std::byte> into);
  /// Decrypted bytes OpenSSL holds that no receive has taken yet.
  [[nodiscard]] bool HasBuffered() const;
  /// Sends close_notify if not sent yet and the handshake is done, without
  /// waiting: true if it went out (a full socket drops it).
  bool SendCloseNotify();
  /// The peer certificate's subject (RFC 2253); empty when none.
  [[nodiscard]] const std::string& peer_subject() const { return subject_; }

 private:
  explicit TlsSocket(int fd) : fd_(fd) {}
  /// SSL object and BIO over fd_ from `ctx`.
  bool Init(SSL_CTX* ctx, bool server);
  IoResult Read(std::span<std::byte> into, bool block_first);
  IoResult ErrorResult(int ret);

  static int BioRead(BIO* bio, char* out, int len);
  static int BioWrite(BIO* bio, const char* in, int len);
  static long BioCtrl(BIO* bio, int cmd, long num, void* ptr);

  int fd_;
  SSL* ssl_ = nullptr;
  bool blocking_ = false;  // the next BIO read may block (SO_RCVTIMEO)
  bool eof_ = false;
  bool established_ = false;
  bool close_notify_sent_ = false;
  int errno_ = 0;
  std::string subject_;
  std::string failure_;
};

}  // namespace tachyon::client::internal

#endif  // TACHYON_CLIENTS_CPP_SRC_TLS_SOCKET_H_
