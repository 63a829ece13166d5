// Internal: TLS 1.3 over the client's TCP socket (ClientOptions::tls).
//
// The socket stays as socket.h leaves it (blocking mode, SO_RCVTIMEO): a
// BIO of our own reads and writes the fd with the same flags the plain
// path uses (MSG_DONTWAIT for non-blocking calls, a plain recv for the
// blocking receive), so each call below has the plain call's meaning and
// result, with plaintext in and out. OpenSSL keeps any partial record.
//
// Threading: like the Client's socket, one thread at a time.
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

class TlsSocket {
 public:
  /// Handshakes over the connected socket `fd` (not owned) before
  /// `deadline`, verifying the gateway's certificate against
  /// options.tls.ca_file for options.tls.server_name (or `host`) unless
  /// options.tls.verify is false. UNAVAILABLE with OpenSSL's reason on
  /// failure (FAILED_PRECONDITION for a bad local file); DEADLINE_EXCEEDED.
  static absl::StatusOr<std::unique_ptr<TlsSocket>> Connect(
      int fd, std::string_view host, const ClientOptions& options,
      Clock::time_point deadline);
  ~TlsSocket();
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;

  IoResult SendSome(std::span<const std::byte> bytes);
  IoResult ReceiveSome(std::span<std::byte> into);
  IoResult ReceiveBlocking(std::span<std::byte> into);
  /// Decrypted bytes OpenSSL holds that no receive has taken yet.
  [[nodiscard]] bool HasBuffered() const;
  /// The gateway certificate's subject (RFC 2253).
  [[nodiscard]] const std::string& peer_subject() const { return subject_; }

 private:
  explicit TlsSocket(int fd) : fd_(fd) {}
  IoResult Read(std::span<std::byte> into, bool block_first);
  IoResult ErrorResult(int ret);

  static int BioRead(BIO* bio, char* out, int len);
  static int BioWrite(BIO* bio, const char* in, int len);
  static long BioCtrl(BIO* bio, int cmd, long num, void* ptr);

  int fd_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool blocking_ = false;  // the next BIO read may block (SO_RCVTIMEO)
  bool eof_ = false;
  int errno_ = 0;
  std::string subject_;
};

}  // namespace tachyon::client::internal

#endif  // TACHYON_CLIENTS_CPP_SRC_TLS_SOCKET_H_
