#include "tls/tls_connection.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/log_limit.h"
#include "tls/tls_context.h"

namespace tachyon::tls {
namespace {

constexpr std::byte kHandshakeRecord{0x16};

// Encrypts all of `n` bytes (the BIO never refuses: one call suffices
// unless OpenSSL fails, which the read side then reports).
void WriteAll(SSL* ssl, const std::byte* p, std::size_t n) {
  while (n > 0) {
    std::size_t written = 0;
    if (SSL_write_ex(ssl, p, n, &written) != 1 || written == 0) return;
    p += written;
    n -= written;
  }
}
// Plaintext below this is gathered with its neighbours into one record.
constexpr std::size_t kRecordBytes = 16 * 1024;

BIO_METHOD* Method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tachyon-tls");
    return m;
  }();
  return method;
}

HandshakeFailure Classify(unsigned long err) {
  const int reason = ERR_GET_REASON(err);
  switch (reason) {
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      return HandshakeFailure::kNoCertificate;
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
      return HandshakeFailure::kVerifyFailed;
    default:
      break;
  }
  // Alerts the peer sent: SSL_AD_REASON_OFFSET + the alert number.
  if (ERR_GET_LIB(err) == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET &&
      reason < SSL_AD_REASON_OFFSET + 256) {
    return HandshakeFailure::kPeerAlert;
  }
  return HandshakeFailure::kProtocol;
}

}  // namespace

TlsConnection::TlsConnection(io::Reactor& reactor, io::ConnectionHandler& inner,
                             TlsCounters& counters, SSL_CTX* ctx, bool server,
                             std::string peer)
    : reactor_(reactor),
      inner_(inner),
      counters_(counters),
      server_(server),
      peer_(std::move(peer)) {
  BIO_METHOD* m = Method();
  static const bool methods_set = [m] {
    BIO_meth_set_read(m, &TlsConnection::BioRead);
    BIO_meth_set_write(m, &TlsConnection::BioWrite);
    BIO_meth_set_ctrl(m, &TlsConnection::BioCtrl);
    return true;
  }();
  static_cast<void>(methods_set);
  ssl_ = SSL_new(ctx);
  if (ssl_ == nullptr) return;
  BIO* bio = BIO_new(m);
  if (bio == nullptr) {
    SSL_free(ssl_);
    ssl_ = nullptr;
    return;
  }
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);  // one BIO both ways; SSL owns it
  if (server_) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
  }
  pending_.reserve(kRecordBytes + 1024);
}

TlsConnection::~TlsConnection() {
  CountOpen(false);
  if (ssl_ != nullptr) SSL_free(ssl_);
}

bool TlsConnection::SetServerName(const std::string& name) {
  return ssl_ != nullptr && tls::SetServerName(ssl_, name);
}

void TlsConnection::CountOpen(bool open) {
  if (open == counted_open_) return;
  counted_open_ = open;
  counters_.connections_open.Add(open ? 1 : -1);
}

// ------------------------------------------------------------------ BIO

int TlsConnection::BioRead(BIO* bio, char* out, int len) {
  auto* self = static_cast<TlsConnection*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (self->in_.empty()) {
    BIO_set_retry_read(bio);
    return -1;
  }
  const std::size_t n =
      std::min<std::size_t>(static_cast<std::size_t>(len), self->in_.size());
  std::memcpy(out, self->in_.data(), n);
  self->in_ = self->in_.subspan(n);
  return static_cast<int>(n);
}

int TlsConnection::BioWrite(BIO* bio, const char* in, int len) {
  auto* self = static_cast<TlsConnection*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  const auto* p = reinterpret_cast<const std::byte*>(in);
  self->pending_.insert(self->pending_.end(), p, p + len);
  return len;
}

long TlsConnection::BioCtrl(BIO* bio, int cmd, long num, void* ptr) {
  static_cast<void>(num);
  static_cast<void>(ptr);
  auto* self = static_cast<TlsConnection*>(BIO_get_data(bio));
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_PENDING:
      return self != nullptr ? static_cast<long>(self->in_.size()) : 0;
    case BIO_CTRL_WPENDING:
      return self != nullptr ? static_cast<long>(self->pending_.size()) : 0;
    default:
      return 0;
  }
}

// ------------------------------------------------------------ receive

void TlsConnection::OnData(std::span<const std::byte> data) {
  if (failed_ || ssl_ == nullptr) return;
  if (!saw_first_byte_ && !data.empty()) {
    saw_first_byte_ = true;
    first_byte_handshake_ = data[0] == kHandshakeRecord;
  }
  in_ = data;
  if (!established_ && !Handshake()) {
    in_ = {};
    return;
  }
  if (established_) ReadPlain();
  in_ = {};
  if (!failed_) FlushOwn();
}

bool TlsConnection::Handshake() {
  ERR_clear_error();
  const int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    established_ = true;
    counters_.handshakes_ok.Add();
    CountOpen(true);
    subject_ = PeerSubject(ssl_);
    plain_.resize(kPlainBufferBytes);
    FlushOwn();
    if (!server_) {
      inner_.OnConnected(0);
    } else if (want_writable_ && !sending_) {
      want_writable_ = false;
      inner_.OnWritable();
    }
    return true;
  }
  const int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    FlushOwn();
    return true;  // not done, not failed
  }
  if (!first_byte_handshake_) {
    ERR_clear_error();
    Fail(HandshakeFailure::kNotTls, "peer does not speak TLS");
    return false;
  }
  const unsigned long e = ERR_peek_last_error();
  if (e == 0) {
    Fail(HandshakeFailure::kPeerClosed, "connection closed in the handshake");
    return false;
  }
  Fail(Classify(e), TakeErrors());
  return false;
}

void TlsConnection::Fail(HandshakeFailure why, std::string text) {
  if (failed_) return;
  failed_ = true;
  counters_.failed(why).Add();
  failure_ = absl::StrCat("TLS handshake failed (",
                          std::string(HandshakeFailureName(why)), "): ", text);
  TACHYON_LOG_LIMITED(kInfo, kConnection)
      << "TLS handshake failed peer=" << peer_
      << " side=" << (server_ ? "server" : "client")
      << " reason=" << HandshakeFailureName(why) << ": " << text;
  // Best effort: the alert OpenSSL wrote, if the socket takes it now.
  if (!sending_ && !pending_.empty() && conn_ != nullptr) PushOutput();
  inner_.OnPeerClosed(-EPROTO);
}

void TlsConnection::ReadPlain() {
  std::size_t have = 0;
  for (;;) {
    ERR_clear_error();
    const int n = SSL_read(ssl_, plain_.data() + have,
                           static_cast<int>(plain_.size() - have));
    if (n > 0) {
      have += static_cast<std::size_t>(n);
      if (have == plain_.size()) {
        counters_.bytes_decrypted.Add(have);
        inner_.OnData({plain_.data(), have});
        have = 0;
      }
      continue;
    }
    const int err = SSL_get_error(ssl_, n);
    if (have > 0) {
      counters_.bytes_decrypted.Add(have);
      inner_.OnData({plain_.data(), have});
      have = 0;
    }
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return;
    if (err == SSL_ERROR_ZERO_RETURN) {
      inner_.OnPeerClosed(0);
      return;
    }
    TACHYON_LOG_LIMITED(kInfo, kConnection)
        << "TLS error peer=" << peer_ << ": " << TakeErrors();
    failed_ = true;
    failure_ = "TLS record error";
    inner_.OnPeerClosed(-EPROTO);
    return;
  }
}

void TlsConnection::OnPeerClosed(int error) {
  if (!established_ && !failed_) {
    failed_ = true;
    counters_.failed(HandshakeFailure::kPeerClosed).Add();
    failure_ = "TLS handshake failed (peer_closed)";
  }
  inner_.OnPeerClosed(error);
}

void TlsConnection::OnReleased() { inner_.OnReleased(); }

void TlsConnection::OnConnected(int error) {
  if (error != 0) {
    inner_.OnConnected(error);
    return;
  }
  if (!Handshake()) return;  // failed: inner saw OnPeerClosed
}

bool TlsConnection::HandshakeTimedOut(std::int64_t start_ns,
                                      std::int64_t now_ns,
                                      std::int64_t timeout_ns) {
  if (established_ || failed_ || now_ns - start_ns <= timeout_ns) return false;
  failed_ = true;
  counters_.failed(HandshakeFailure::kTimeout).Add();
  failure_ = "TLS handshake failed (timeout)";
  TACHYON_LOG_LIMITED(kInfo, kConnection)
      << "TLS handshake failed peer=" << peer_ << " reason=timeout: not "
      << "finished within " << timeout_ns / 1'000'000 << " ms";
  return true;
}

// ---------------------------------------------------------------- send

bool TlsConnection::SendCloseNotify() {
  if (!close_notify_ && established_ && !failed_ && ssl_ != nullptr &&
      conn_ != nullptr) {
    close_notify_ = true;
    ERR_clear_error();
    // The memory BIO takes the alert whole: 0 (ours sent, the peer's not
    // read), never a retry.
    (void)SSL_shutdown(ssl_);
    ERR_clear_error();
    if (!sending_ && !pending_.empty()) {
      if (PushOutput() == Push::kError) return true;  // nothing more to do
    }
  }
  if (OutputIdle()) return true;
  want_writable_ = true;
  return false;
}

io::SendResult TlsConnection::Send(std::span<const iovec> iov) {
  if (failed_) return {.pending = false, .bytes = -EPIPE};
  if (!established_ || sending_) {
    want_writable_ = true;
    return {.pending = false, .bytes = 0};
  }
  std::size_t total = 0;
  for (const iovec& v : iov) {
    const auto* p = static_cast<const std::byte*>(v.iov_base);
    std::size_t len = std::min(v.iov_len, kMaxPlainPerSend - total);
    total += len;
    while (len > 0) {
      if (stage_.empty() && len >= kRecordBytes) {
        // Whole records straight from the caller's memory.
        const std::size_t n = len - len % kRecordBytes;
        WriteAll(ssl_, p, n);
        p += n;
        len -= n;
        continue;
      }
      const std::size_t take = std::min(len, kRecordBytes - stage_.size());
      stage_.insert(stage_.end(), p, p + take);
      p += take;
      len -= take;
      if (stage_.size() == kRecordBytes) {
        WriteAll(ssl_, stage_.data(), stage_.size());
        stage_.clear();
      }
    }
    if (total == kMaxPlainPerSend) break;
  }
  if (!stage_.empty()) {
    WriteAll(ssl_, stage_.data(), stage_.size());
    stage_.clear();
  }
  if (total == 0) return {.pending = false, .bytes = 0};
  counters_.bytes_encrypted.Add(total);
  plain_in_flight_ = total;
  inner_send_ = true;
  switch (PushOutput()) {
    case Push::kDone:
      inner_send_ = false;
      return {.pending = false, .bytes = static_cast<ssize_t>(total)};
    case Push::kWaiting:
      return {.pending = true, .bytes = 0};
    case Push::kError:
      break;
  }
  inner_send_ = false;
  return {.pending = false, .bytes = -EPIPE};
}

TlsConnection::Push TlsConnection::PushOutput() {
  for (;;) {
    if (offset_ == inflight_.size()) {
      inflight_.clear();
      offset_ = 0;
      if (pending_.empty()) return Push::kDone;
      std::swap(inflight_, pending_);
    }
    iovec v{inflight_.data() + offset_, inflight_.size() - offset_};
    const io::SendResult r = reactor_.Send(conn_, {&v, 1});
    if (r.pending) {
      sending_ = true;
      return Push::kWaiting;
    }
    if (r.bytes < 0) return Push::kError;
    if (r.bytes == 0) {
      sending_ = true;  // OnWritable follows
      return Push::kWaiting;
    }
    offset_ += static_cast<std::size_t>(r.bytes);
  }
}

void TlsConnection::FlushOwn() {
  if (sending_ || pending_.empty() || conn_ == nullptr) return;
  switch (PushOutput()) {
    case Push::kDone:
      if (established_ && want_writable_) {
        want_writable_ = false;
        inner_.OnWritable();
      }
      return;
    case Push::kWaiting:
      return;
    case Push::kError:
      return;  // the read side reports the failure
  }
}

void TlsConnection::OnSendComplete(ssize_t result) {
  sending_ = false;
  if (result < 0) {
    if (inner_send_) {
      inner_send_ = false;
      inner_.OnSendComplete(result);
    }
    return;
  }
  if (result == 0) {
    sending_ = true;  // OnWritable follows
    return;
  }
  offset_ += static_cast<std::size_t>(result);
  OutputDrained();
}

void TlsConnection::OnWritable() {
  sending_ = false;
  OutputDrained();
}

void TlsConnection::OutputDrained() {
  switch (PushOutput()) {
    case Push::kWaiting:
      return;
    case Push::kError:
      if (inner_send_) {
        inner_send_ = false;
        inner_.OnSendComplete(-EPIPE);
      }
      return;
    case Push::kDone:
      break;
  }
  if (inner_send_) {
    inner_send_ = false;
    inner_.OnSendComplete(static_cast<ssize_t>(plain_in_flight_));
  } else if (established_ && want_writable_) {
    want_writable_ = false;
    inner_.OnWritable();
  }
  FlushOwn();
}

}  // namespace tachyon::tls
