// TlsConnection: the TLS record layer between a reactor connection and the
// handler that speaks the protocol over it (a Session, a backend
// connection).
//
// Overview
//   The reactor's handler for a TLS connection is its TlsConnection, which
//   passes plaintext on to the inner handler. OpenSSL sees the connection
//   through two memory-only BIOs, so this works the same on the epoll and
//   the io_uring reactor:
//     - receive: OnData's ciphertext (the reactor's buffer) is read by
//       OpenSSL straight from the span; the plaintext comes out into a
//       per-connection buffer and goes to the inner handler's OnData (one
//       call per up to kPlainBufferBytes);
//     - send: the inner handler calls Send(iov) instead of Reactor::Send.
//       The plaintext (up to kMaxPlainPerSend of it) is encrypted into a
//       per-connection output buffer, which is what the reactor sends. The
//       reactor's rules hold: one send outstanding, and the buffer is not
//       touched until it completes. A Send that cannot be taken now
//       (handshake not done, or our own handshake bytes in flight) returns
//       0 bytes and OnWritable follows, as for a full socket; a Send whose
//       ciphertext does not all go out at once is pending and completes
//       (inner OnSendComplete with the plaintext bytes) when it has.
//   Close: a graceful close (the session's LOGOUT, or its final ERROR,
//   flushed) calls SendCloseNotify before the owner shuts the socket down,
//   so that the peer reads close_notify, not a bare FIN; the peer's
//   close_notify ends the connection as an orderly EOF (OnPeerClosed(0)).
//   A connection cut mid-frame (a reset) sends none.
//   Handshake: the server side waits for the ClientHello; the client side
//   (backend connections) starts it with StartClient() once TCP is up. A
//   failed handshake is counted by reason and logged (rate-limited) with
//   the peer and OpenSSL's reason, and the inner handler sees
//   OnPeerClosed(-EPROTO); failure_reason() names the cause. After the
//   handshake, peer_subject() is the peer certificate's subject (RFC 2253),
//   empty when it sent none. A client-side inner handler gets
//   OnConnected(0) when the handshake finishes.
//
// Threading: the reactor's thread only, like the connection.
//
// Example (server side, in an accept handler)
//   auto tls = std::make_unique<tls::TlsConnection>(reactor, *session,
//                                                   counters, ctx, peer);
//   io::Connection* conn = reactor.AddConnection(fd, tls.get());
//   tls->Attach(conn);
//   // session->Send(iov) calls tls->Send(iov); the reactor calls tls.
#ifndef TACHYON_TLS_TLS_CONNECTION_H_
#define TACHYON_TLS_TLS_CONNECTION_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "io/reactor.h"
#include "tls/tls_counters.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace tachyon::tls {

class TlsConnection final : public io::ConnectionHandler {
 public:
  /// Plaintext bytes encrypted per Send at most.
  static constexpr std::size_t kMaxPlainPerSend = 256 * 1024;
  /// Plaintext handed to the inner handler per OnData at most.
  static constexpr std::size_t kPlainBufferBytes = 64 * 1024;

  /// `server`: accept side (else the connecting side). `peer` names the
  /// connection in log lines.
  TlsConnection(io::Reactor& reactor, io::ConnectionHandler& inner,
                TlsCounters& counters, SSL_CTX* ctx, bool server,
                std::string peer);
  ~TlsConnection() override;
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  /// False if the SSL object could not be made (out of memory).
  [[nodiscard]] bool ok() const { return ssl_ != nullptr; }
  void Attach(io::Connection* conn) { conn_ = conn; }
  /// Client side: SNI and the name the server's certificate must carry.
  bool SetServerName(const std::string& name);

  /// Sends plaintext; see the overview. Same results as Reactor::Send.
  io::SendResult Send(std::span<const iovec> iov);

  /// Queues TLS close_notify (once, after the handshake) and sends it.
  /// Returns true when nothing of ours is left to send (the owner may shut
  /// the socket down now); false while it is in flight: the inner
  /// handler's OnWritable follows when it has gone.
  bool SendCloseNotify();
  /// Nothing queued or in flight on our side.
  [[nodiscard]] bool OutputIdle() const {
    return !sending_ && pending_.empty() && offset_ == inflight_.size();
  }

  [[nodiscard]] bool established() const { return established_; }
  [[nodiscard]] bool failed() const { return failed_; }
  /// The peer certificate's subject, RFC 2253 ("CN=alice,O=Example");
  /// empty before the handshake or when the peer sent no certificate.
  [[nodiscard]] const std::string& peer_subject() const { return subject_; }
  /// Why the handshake failed ("" if it did not).
  [[nodiscard]] const std::string& failure_reason() const { return failure_; }
  /// True (once) when the handshake has not finished `timeout_ns` after
  /// `start_ns`: counted as a timeout; the owner closes the connection.
  bool HandshakeTimedOut(std::int64_t start_ns, std::int64_t now_ns,
                         std::int64_t timeout_ns);

  // io::ConnectionHandler, from the reactor.
  void OnData(std::span<const std::byte> data) override;
  void OnSendComplete(ssize_t result) override;
  void OnWritable() override;
  void OnPeerClosed(int error) override;
  void OnReleased() override;
  /// Client side: TCP is up, the handshake starts; the inner handler's
  /// OnConnected(0) follows when it finishes (an error passes through).
  void OnConnected(int error) override;

 private:
  enum class Push { kDone, kWaiting, kError };
  // Handshake step; false when the connection failed (inner told).
  bool Handshake();
  void ReadPlain();
  // Moves ciphertext to the reactor; see Send.
  Push PushOutput();
  // Own output (handshake, alerts) when nothing is in flight.
  void FlushOwn();
  // After the reactor took everything: tells the inner handler.
  void OutputDrained();
  void Fail(HandshakeFailure why, std::string text);
  void CountOpen(bool open);

  static int BioRead(BIO* bio, char* out, int len);
  static int BioWrite(BIO* bio, const char* in, int len);
  static long BioCtrl(BIO* bio, int cmd, long num, void* ptr);

  io::Reactor& reactor_;
  io::ConnectionHandler& inner_;
  TlsCounters& counters_;
  io::Connection* conn_ = nullptr;
  SSL* ssl_ = nullptr;
  const bool server_;
  std::string peer_;

  bool established_ = false;
  bool failed_ = false;
  bool counted_open_ = false;
  bool saw_first_byte_ = false;
  bool first_byte_handshake_ = true;
  std::string subject_;
  std::string failure_;

  // Receive: the ciphertext OpenSSL reads now (OnData's span).
  std::span<const std::byte> in_;
  std::vector<std::byte> plain_;

  // Send: OpenSSL appends ciphertext to pending_; inflight_ is what the
  // reactor is sending (from inflight_[offset_]).
  std::vector<std::byte> pending_;
  std::vector<std::byte> inflight_;
  std::size_t offset_ = 0;
  std::vector<std::byte> stage_;  // small iovecs gathered into one record
  bool sending_ = false;          // a reactor send pending, or awaiting room
  bool inner_send_ = false;       // inflight_ carries the inner's Send
  std::size_t plain_in_flight_ = 0;
  bool want_writable_ = false;  // the inner's Send got 0: OnWritable owed
  bool close_notify_ = false;   // SendCloseNotify called
};

}  // namespace tachyon::tls

#endif  // TACHYON_TLS_TLS_CONNECTION_H_
