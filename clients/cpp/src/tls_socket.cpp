#include "tls_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tachyon::client::internal {
namespace {

std::string TakeErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    const char* reason = std::strrchr(buf, ':');
    if (!out.empty()) out += "; ";
    out += reason != nullptr && reason[1] != '\0' ? reason + 1 : buf;
  }
  return out.empty() ? std::string("no reason given") : out;
}

BIO_METHOD* Method(int (*rd)(BIO*, char*, int),
                   int (*wr)(BIO*, const char*, int),
                   long (*ctrl)(BIO*, int, long, void*)) {
  static BIO_METHOD* method = [&] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "tachyon-client-tls");
    BIO_meth_set_read(m, rd);
    BIO_meth_set_write(m, wr);
    BIO_meth_set_ctrl(m, ctrl);
    return m;
  }();
  return method;
}

absl::Status FileProblem(std::string_view what, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    const int e = errno;
    return absl::FailedPreconditionError(
        absl::StrCat("ClientOptions::tls.", std::string(what), " '", path,
                     "': ", std::strerror(e)));
  }
  std::fclose(f);
  return absl::FailedPreconditionError(absl::StrCat("ClientOptions::tls.",
                                                    std::string(what), " '",
                                                    path, "': ", TakeErrors()));
}

}  // namespace

int TlsSocket::BioRead(BIO* bio, char* out, int len) {
  auto* self = static_cast<TlsSocket*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  const ssize_t n = ::recv(self->fd_, out, static_cast<std::size_t>(len),
                           self->blocking_ ? 0 : MSG_DONTWAIT);
  if (n > 0) {
    self->blocking_ = false;  // at most one wait per call
    return static_cast<int>(n);
  }
  if (n == 0) {
    self->eof_ = true;
    return 0;
  }
  self->blocking_ = false;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
    BIO_set_retry_read(bio);
    return -1;
  }
  self->errno_ = errno;
  return -1;
}

int TlsSocket::BioWrite(BIO* bio, const char* in, int len) {
  auto* self = static_cast<TlsSocket*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  const ssize_t n = ::send(self->fd_, in, static_cast<std::size_t>(len),
                           MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n >= 0) return static_cast<int>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
    BIO_set_retry_write(bio);
    return -1;
  }
  self->errno_ = errno;
  return -1;
}

long TlsSocket::BioCtrl(BIO* bio, int cmd, long num, void* ptr) {
  static_cast<void>(bio);
  static_cast<void>(num);
  static_cast<void>(ptr);
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

absl::StatusOr<std::unique_ptr<TlsSocket>> TlsSocket::Connect(
    int fd, std::string_view host, const ClientOptions& options,
    Clock::time_point deadline) {
  const ClientTlsOptions& o = options.tls;
  std::unique_ptr<TlsSocket> t(new TlsSocket(fd));
  ERR_clear_error();
  t->ctx_ = SSL_CTX_new(TLS_client_method());
  if (t->ctx_ == nullptr) return absl::InternalError(TakeErrors());
  SSL_CTX_set_min_proto_version(t->ctx_, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(t->ctx_, TLS1_3_VERSION);
  SSL_CTX_set_options(t->ctx_, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(t->ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (o.verify) {
    const int ok = o.ca_file.empty() ? SSL_CTX_set_default_verify_paths(t->ctx_)
                                     : SSL_CTX_load_verify_locations(
                                           t->ctx_, o.ca_file.c_str(), nullptr);
    if (ok != 1) return FileProblem("ca_file", o.ca_file);
    SSL_CTX_set_verify(t->ctx_, SSL_VERIFY_PEER, nullptr);
  }
  if (!o.certificate.empty() || !o.private_key.empty()) {
    if (SSL_CTX_use_certificate_chain_file(t->ctx_, o.certificate.c_str()) !=
        1) {
      return FileProblem("certificate", o.certificate);
    }
    if (SSL_CTX_use_PrivateKey_file(t->ctx_, o.private_key.c_str(),
                                    SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(t->ctx_) != 1) {
      return FileProblem("private_key", o.private_key);
    }
  }
  t->ssl_ = SSL_new(t->ctx_);
  if (t->ssl_ == nullptr) return absl::InternalError(TakeErrors());
  BIO* bio = BIO_new(Method(&BioRead, &BioWrite, &BioCtrl));
  if (bio == nullptr) return absl::InternalError(TakeErrors());
  BIO_set_data(bio, t.get());
  BIO_set_init(bio, 1);
  SSL_set_bio(t->ssl_, bio, bio);
  SSL_set_connect_state(t->ssl_);
  const std::string name =
      o.server_name.empty() ? std::string(host) : o.server_name;
  if (o.verify) {
    in6_addr a6;
    in_addr a4;
    if (::inet_pton(AF_INET, name.c_str(), &a4) == 1 ||
        ::inet_pton(AF_INET6, name.c_str(), &a6) == 1) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl_), name.c_str());
    } else {
      SSL_set_tlsext_host_name(t->ssl_, name.c_str());
      SSL_set1_host(t->ssl_, name.c_str());
    }
  } else if (!name.empty()) {
    SSL_set_tlsext_host_name(t->ssl_, name.c_str());
  }
  for (;;) {
    ERR_clear_error();
    const int rc = SSL_do_handshake(t->ssl_);
    if (rc == 1) break;
    const int err = SSL_get_error(t->ssl_, rc);
    short events = 0;
    if (err == SSL_ERROR_WANT_READ) events = POLLIN;
    if (err == SSL_ERROR_WANT_WRITE) events = POLLOUT;
    if (events == 0) {
      std::string why = TakeErrors();
      const long verify = SSL_get_verify_result(t->ssl_);
      if (verify != X509_V_OK) {
        why =
            absl::StrCat(why, " (", X509_verify_cert_error_string(verify), ")");
      }
      if (t->eof_) why = "the peer closed the connection";
      return absl::UnavailableError(absl::StrCat(
          "TLS handshake with ", std::string(host), " failed: ", why));
    }
    const Clock::time_point now = Clock::now();
    if (now >= deadline) {
      return absl::DeadlineExceededError("TLS handshake timed out");
    }
    WaitFor(fd, events, deadline - now);
  }
  t->subject_.clear();
  if (X509* cert = SSL_get1_peer_certificate(t->ssl_)) {
    if (BIO* mem = BIO_new(BIO_s_mem())) {
      X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
      char* data = nullptr;
      const long n = BIO_get_mem_data(mem, &data);
      if (n > 0) t->subject_.assign(data, static_cast<std::size_t>(n));
      BIO_free(mem);
    }
    X509_free(cert);
  }
  return t;
}

TlsSocket::~TlsSocket() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

IoResult TlsSocket::ErrorResult(int ret) {
  const int err = SSL_get_error(ssl_, ret);
  IoResult r;
  switch (err) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return r;
    case SSL_ERROR_ZERO_RETURN:
      r.closed = true;
      return r;
    case SSL_ERROR_SYSCALL:
      if (errno_ != 0) {
        r.error = errno_;
      } else {
        r.closed = true;
      }
      return r;
    default:
      ERR_clear_error();
      r.error = EPROTO;
      return r;
  }
}

IoResult TlsSocket::SendSome(std::span<const std::byte> bytes) {
  if (bytes.empty()) return {};
  ERR_clear_error();
  std::size_t written = 0;
  const int rc = SSL_write_ex(ssl_, bytes.data(), bytes.size(), &written);
  if (rc == 1) return {.bytes = written};
  return ErrorResult(rc);
}

IoResult TlsSocket::Read(std::span<std::byte> into, bool block_first) {
  IoResult total;
  blocking_ = block_first && SSL_pending(ssl_) == 0;
  while (total.bytes < into.size()) {
    ERR_clear_error();
    std::size_t n = 0;
    const int rc = SSL_read_ex(ssl_, into.data() + total.bytes,
                               into.size() - total.bytes, &n);
    if (rc == 1) {
      total.bytes += n;
      continue;
    }
    const IoResult e = ErrorResult(rc);
    blocking_ = false;
    if (total.bytes > 0) return total;  // report the end on the next call
    return e;
  }
  blocking_ = false;
  return total;
}

IoResult TlsSocket::ReceiveSome(std::span<std::byte> into) {
  return Read(into, false);
}

IoResult TlsSocket::ReceiveBlocking(std::span<std::byte> into) {
  return Read(into, true);
}

bool TlsSocket::HasBuffered() const { return SSL_pending(ssl_) > 0; }

}  // namespace tachyon::client::internal
