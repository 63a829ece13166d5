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

absl::Status FileProblem(std::string_view prefix, std::string_view what,
                         const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    const int e = errno;
    return absl::FailedPreconditionError(
        absl::StrCat(std::string(prefix), std::string(what), " '", path,
                     "': ", std::strerror(e)));
  }
  std::fclose(f);
  return absl::FailedPreconditionError(absl::StrCat(
      std::string(prefix), std::string(what), " '", path, "': ", TakeErrors()));
}

absl::Status FileProblem(std::string_view what, const std::string& path) {
  return FileProblem("ClientOptions::tls.", what, path);
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

void SslCtxFree::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }

absl::StatusOr<SslCtxPtr> TlsSocket::ServerContext(const TlsServerSettings& s) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (ctx == nullptr) return absl::InternalError(TakeErrors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), s.certificate.c_str()) !=
      1) {
    return FileProblem(s.prefix, "certificate", s.certificate);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), s.private_key.c_str(),
                                  SSL_FILETYPE_PEM) != 1) {
    return FileProblem(s.prefix, "private_key", s.private_key);
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    ERR_clear_error();
    return absl::FailedPreconditionError(
        absl::StrCat(std::string(s.prefix), "private_key '", s.private_key,
                     "' does not match the certificate '", s.certificate, "'"));
  }
  if (!s.client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), s.client_ca.c_str(),
                                      nullptr) != 1) {
      return FileProblem(s.prefix, "client_ca", s.client_ca);
    }
    SSL_CTX_set_verify(ctx.get(),
                       SSL_VERIFY_PEER | (s.require_client_certificate
                                              ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                              : 0),
                       nullptr);
  }
  return ctx;
}

bool TlsSocket::Init(SSL_CTX* ctx, bool server) {
  ssl_ = SSL_new(ctx);
  if (ssl_ == nullptr) return false;
  BIO* bio = BIO_new(Method(&BioRead, &BioWrite, &BioCtrl));
  if (bio == nullptr) return false;
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);
  if (server) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
  }
  return true;
}

std::unique_ptr<TlsSocket> TlsSocket::StartServer(int fd, SSL_CTX* ctx) {
  std::unique_ptr<TlsSocket> t(new TlsSocket(fd));
  ERR_clear_error();
  if (!t->Init(ctx, /*server=*/true)) {
    ERR_clear_error();
    return nullptr;
  }
  return t;
}

absl::StatusOr<std::unique_ptr<TlsSocket>> TlsSocket::StartClient(
    int fd, std::string_view host, const ClientOptions& options) {
  const ClientTlsOptions& o = options.tls;
  std::unique_ptr<TlsSocket> t(new TlsSocket(fd));
  ERR_clear_error();
  // The SSL object keeps its own reference to the context.
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) return absl::InternalError(TakeErrors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION);
  SSL_CTX_set_options(ctx.get(),
                      SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (o.verify) {
    const int ok = o.ca_file.empty()
                       ? SSL_CTX_set_default_verify_paths(ctx.get())
                       : SSL_CTX_load_verify_locations(
                             ctx.get(), o.ca_file.c_str(), nullptr);
    if (ok != 1) return FileProblem("ca_file", o.ca_file);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  }
  if (!o.certificate.empty() || !o.private_key.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), o.certificate.c_str()) !=
        1) {
      return FileProblem("certificate", o.certificate);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), o.private_key.c_str(),
                                    SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx.get()) != 1) {
      return FileProblem("private_key", o.private_key);
    }
  }
  if (!t->Init(ctx.get(), /*server=*/false)) {
    return absl::InternalError(TakeErrors());
  }
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
  return t;
}

TlsSocket::Step TlsSocket::Handshake() {
  if (established_) return Step::kDone;
  ERR_clear_error();
  const int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    established_ = true;
    subject_.clear();
    if (X509* cert = SSL_get1_peer_certificate(ssl_)) {
      if (BIO* mem = BIO_new(BIO_s_mem())) {
        X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0,
                           XN_FLAG_RFC2253);
        char* data = nullptr;
        const long n = BIO_get_mem_data(mem, &data);
        if (n > 0) subject_.assign(data, static_cast<std::size_t>(n));
        BIO_free(mem);
      }
      X509_free(cert);
    }
    return Step::kDone;
  }
  const int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ) return Step::kWantRead;
  if (err == SSL_ERROR_WANT_WRITE) return Step::kWantWrite;
  std::string why = TakeErrors();
  const long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    why = absl::StrCat(why, " (", X509_verify_cert_error_string(verify), ")");
  }
  if (eof_) why = "the peer closed the connection";
  failure_ = std::move(why);
  return Step::kFailed;
}

absl::StatusOr<std::unique_ptr<TlsSocket>> TlsSocket::Connect(
    int fd, std::string_view host, const ClientOptions& options,
    Clock::time_point deadline) {
  absl::StatusOr<std::unique_ptr<TlsSocket>> t = StartClient(fd, host, options);
  if (!t.ok()) return t.status();
  for (;;) {
    short events = 0;
    switch ((*t)->Handshake()) {
      case Step::kDone:
        return t;
      case Step::kWantRead:
        events = POLLIN;
        break;
      case Step::kWantWrite:
        events = POLLOUT;
        break;
      case Step::kFailed:
        return absl::UnavailableError(
            absl::StrCat("TLS handshake with ", std::string(host),
                         " failed: ", (*t)->failure()));
    }
    const Clock::time_point now = Clock::now();
    if (now >= deadline) {
      return absl::DeadlineExceededError("TLS handshake timed out");
    }
    WaitFor(fd, events, deadline - now);
  }
}

bool TlsSocket::SendCloseNotify() {
  if (close_notify_sent_ || !established_ || ssl_ == nullptr) return false;
  close_notify_sent_ = true;
  ERR_clear_error();
  // 0: our close_notify is out, the peer's not read yet (we do not wait).
  const int rc = SSL_shutdown(ssl_);
  ERR_clear_error();
  return rc >= 0;
}

TlsSocket::~TlsSocket() {
  if (ssl_ != nullptr) SSL_free(ssl_);
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
