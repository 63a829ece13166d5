// tachyon/service/server.h — a Tachyon backend service.
//
// Overview
//   A Server is the backend end of the Tachyon protocol's backend role
//   (PROTOCOL.md): it listens on a TCP port, a gateway connects to it and
//   logs on (the gateway is the client), then sends REQUEST frames, and the
//   Server runs the application's handler for each one and sends exactly
//   one RESPONSE with the same correlation id and service id: status OK
//   with the handler's bytes, or BACKEND_ERROR with its error text.
//
//   The Server does the rest of the protocol itself: it answers LOGON with
//   LOGON_ACK (the highest protocol version both sides speak, the heartbeat
//   interval, the frame limit) or LOGON_REJECT (a wrong token, no common
//   version), sends HEARTBEAT when it has sent nothing for the negotiated
//   interval, closes a gateway connection that has been silent for three
//   intervals (ERROR HEARTBEAT_TIMEOUT), answers a malformed frame or an
//   unexpected message with a fatal ERROR and closes that connection only,
//   and answers LOGOUT with LOGOUT.
//
// Threads
//   Thread per core: ServerOptions::threads worker threads, each with its
//   own epoll set. All of them wait on the one listening socket
//   (EPOLLEXCLUSIVE); the worker that accepts a connection owns it for its
//   whole life: it reads, decodes, runs the handlers and writes for it. So a
//   handler runs on a worker thread, concurrently with the same handler on
//   the other workers: handlers must be thread-safe. A synchronous handler
//   holds up the other connections of its worker while it runs; a slow one
//   should be asynchronous.
//
// Handlers
//   Synchronous (Server::Start): `absl::Status(const Request&,
//   std::vector<std::byte>& reply)`. The handler appends its answer to
//   `reply` (a per-worker buffer, empty on entry, whose capacity is reused,
//   so a steady state allocates nothing per request) and returns OK, or
//   returns an error whose message becomes the BACKEND_ERROR text.
//   Asynchronous (Server::StartAsync): `void(const Request&, Responder)`.
//   The Responder is completed later, from any thread, exactly once (Reply
//   or Fail); one destroyed without being completed answers BACKEND_ERROR.
//   In both, Request::payload points into the worker's receive buffer and
//   is valid only during the handler call: copy what must outlive it.
//
// Shutdown
//   Stop() (or the destructor) stops accepting, stops reading new requests,
//   waits up to ServerOptions::drain_timeout for the asynchronous requests
//   in flight to be completed (their RESPONSEs are sent), sends LOGOUT
//   (reason SHUTTING_DOWN) on every connection, waits up to
//   ServerOptions::logout_timeout for the gateways' LOGOUTs, closes and
//   joins the threads. Requests the gateway sent after the drain began are
//   never read; the gateway sees the connection close (PROTOCOL.md: it
//   answers them UNAVAILABLE or sends them elsewhere).
//
// Example
//   namespace ts = tachyon::service;
//   auto server = ts::Server::Start(
//       {.port = 7500, .threads = 2},
//       [](const ts::Request& req, std::vector<std::byte>& reply) {
//         reply.assign(req.payload.begin(), req.payload.end());  // echo
//         return absl::OkStatus();
//       });
//   if (!server.ok()) return Fail(server.status());
//   ...  // until it is time to stop
//   (*server)->Stop();
//
// Configure the gateway with a [[backends]] entry whose endpoint is this
// host:port; clients then reach the handler with Client::Request.
//
// TLS
//   With ServerOptions::tls.enabled every accepted connection speaks TLS 1.3
//   (OpenSSL): the Server presents tls.certificate, and with tls.client_ca
//   verifies the gateway's client certificate (required with
//   tls.require_client_certificate). Configure the gateway's [[backends]]
//   entry with tls = true, ca_file (the CA of this certificate) and
//   server_name (a name the certificate carries), and certificate /
//   private_key when a client certificate is required. A connection that
//   does not complete the handshake within logon_timeout, or fails it, is
//   closed and reported to on_connection_error; a plain connection is never
//   served on a TLS Server. A graceful close (LOGOUT either way, Stop) sends
//   close_notify before the FIN.
//
//     ts::ServerOptions o{.port = 7500};
//     o.tls = {.enabled = true, .certificate = "service.pem",
//              .private_key = "service.key"};
#ifndef TACHYON_SERVICE_SERVER_H_
#define TACHYON_SERVICE_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tachyon::service {

/// One REQUEST, as the handler sees it.
struct Request {
  /// The gateway's id for this request on its connection (echoed in the
  /// RESPONSE by the Server; handlers need it only for logging).
  std::uint64_t correlation_id = 0;
  /// The service the gateway addressed (echoed in the RESPONSE).
  std::uint32_t service_id = 0;
  /// How long the gateway will still wait for the answer, in ms (0: the
  /// gateway did not say). An answer later than this is dropped by the
  /// gateway; a handler may give up early.
  std::uint32_t timeout_ms = 0;
  /// The request body. Borrowed: valid only during the handler call.
  std::span<const std::byte> payload;
  /// A number naming the gateway connection the request came on, unique
  /// within this Server (for logging and per-connection state).
  std::uint64_t connection_id = 0;
};

namespace internal {
class CompletionQueue;
}  // namespace internal

/// The answer to one asynchronous request, to be given later from any
/// thread. Move-only. Exactly one of Reply or Fail answers it; later calls
/// do nothing and return false. Destroying (or assigning over) a Responder
/// that was not answered answers it with BACKEND_ERROR "the service dropped
/// the request without answering". A Responder may outlive its Server (or
/// its connection): answering it then does nothing.
///
/// Thread-safety: one Responder must not be used by two threads at once;
/// different Responders may be completed concurrently from any threads.
/// Cost: completing copies the payload into a message for the owning worker
/// (one allocation) and wakes that worker (one eventfd write).
class Responder {
 public:
  /// An empty Responder (answers nothing).
  Responder() = default;
  /// Takes over `other`'s request; `other` becomes empty.
  Responder(Responder&& other) noexcept;
  /// Answers this Responder's own request BACKEND_ERROR if it is still
  /// pending (as the destructor does), then takes over `other`'s.
  Responder& operator=(Responder&& other) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  /// Answers BACKEND_ERROR if not answered yet.
  ~Responder();

  /// Answers with status OK and `payload` (copied). Returns true if this
  /// call answered the request, false if it was already answered or empty.
  /// A payload too large for the session's frame limit is answered
  /// BACKEND_ERROR naming the sizes instead.
  bool Reply(std::span<const std::byte> payload);
  /// Same, with text bytes.
  bool Reply(std::string_view text);
  /// Answers BACKEND_ERROR with `message` as the text (truncated to the
  /// frame limit). Returns as Reply does.
  bool Fail(std::string_view message);

  /// True until answered (false for an empty Responder).
  [[nodiscard]] bool pending() const { return queue_ != nullptr; }
  /// The request's correlation id (for logging); kept after answering.
  [[nodiscard]] std::uint64_t correlation_id() const { return correlation_; }

 private:
  friend class Server;
  Responder(std::shared_ptr<internal::CompletionQueue> queue,
            std::uint64_t connection, std::uint64_t correlation,
            std::uint32_t service);
  bool Complete(bool ok, std::span<const std::byte> payload);

  std::shared_ptr<internal::CompletionQueue> queue_;
  std::uint64_t connection_ = 0;
  std::uint64_t correlation_ = 0;
  std::uint32_t service_ = 0;
};

/// Synchronous handler: append the answer to `reply` (empty on entry) and
/// return OK, or return an error whose message is the BACKEND_ERROR text.
/// Runs on a worker thread, concurrently with other workers.
using Handler =
    std::function<absl::Status(const Request&, std::vector<std::byte>& reply)>;

/// Asynchronous handler: answer through the Responder, now or later, from
/// any thread. Runs on a worker thread, concurrently with other workers;
/// it should return quickly.
using AsyncHandler = std::function<void(const Request&, Responder)>;

/// Reports something that went wrong with one gateway connection (a
/// malformed frame, a refused logon, a heartbeat timeout, an ERROR from the
/// gateway). The connection's worker calls it; it must be thread-safe.
using ConnectionErrorHandler = std::function<void(const absl::Status&)>;

/// TLS on the Server's connections (see the overview).
struct ServerTlsOptions {
  bool enabled = false;
  /// PEM certificate chain (leaf first) and its private key. Required when
  /// enabled; a missing, unreadable or mismatched file fails Start with
  /// FAILED_PRECONDITION naming it.
  std::string certificate;
  std::string private_key;
  /// PEM CA file the gateways' client certificates must chain to; empty:
  /// none is asked for.
  std::string client_ca;
  /// Refuse a gateway that sends no client certificate (needs client_ca).
  bool require_client_certificate = false;
};

struct ServerOptions {
  /// Address to listen on: an IPv4/IPv6 literal or a host name.
  std::string host = "127.0.0.1";
  /// TCP port; 0 picks an ephemeral port (see Server::port()).
  std::uint16_t port = 0;
  /// Worker threads; 0 = one per online CPU.
  int threads = 1;
  /// If not empty, worker i is pinned to CPU cpus[i % cpus.size()]
  /// (tachyon/client/affinity.h); a CPU this process may not use fails
  /// Start with INVALID_ARGUMENT.
  std::vector<int> cpus;
  /// If not empty, a gateway's LOGON token must equal it (else
  /// LOGON_REJECT NOT_AUTHORIZED).
  std::string token;
  /// Highest protocol version granted (capped at what this library's codec
  /// speaks, tachyon::protocol::kMaxProtocolVersion). The Server grants the
  /// highest version in both ranges.
  std::uint16_t max_protocol_version = 0xffff;
  /// Heartbeat interval granted when the gateway asks for 0; a request is
  /// clamped to [min_heartbeat, max_heartbeat].
  std::chrono::milliseconds default_heartbeat{1000};
  std::chrono::milliseconds min_heartbeat{10};
  std::chrono::milliseconds max_heartbeat{60000};
  /// A connection must complete LOGON within this, else ERROR
  /// HEARTBEAT_TIMEOUT and close.
  std::chrono::milliseconds logon_timeout{5000};
  /// Largest frame accepted and sent (announced in LOGON_ACK), 64 bytes up
  /// to 16 MiB. Each connection's receive buffer is twice this.
  std::uint32_t max_frame_length = 64 * 1024;
  /// Stop(): how long to wait for asynchronous requests in flight.
  std::chrono::milliseconds drain_timeout{5000};
  /// Stop(): how long to wait for the gateways' LOGOUT after sending ours.
  std::chrono::milliseconds logout_timeout{1000};
  /// Optional; see ConnectionErrorHandler.
  ConnectionErrorHandler on_connection_error;
  /// TLS (off by default: plain TCP).
  ServerTlsOptions tls;
};

/// Counters, updated by the workers (relaxed; read them for monitoring and
/// tests).
struct ServerStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_open = 0;  ///< logged on and not yet closed
  std::uint64_t requests = 0;          ///< REQUEST frames handled
  std::uint64_t responses_ok = 0;
  std::uint64_t responses_error = 0;         ///< BACKEND_ERROR sent
  std::uint64_t protocol_errors = 0;         ///< connections closed with ERROR
  std::uint64_t tls_handshakes = 0;          ///< TLS handshakes completed
  std::uint64_t tls_handshake_failures = 0;  ///< closed in the handshake
};

class Server {
 public:
  /// Binds and listens on options.host:options.port, starts the worker
  /// threads and returns the running Server. `handler` is called for each
  /// REQUEST (see Handler). INVALID_ARGUMENT for a bad option or an empty
  /// handler; UNAVAILABLE "cannot listen on host:port: <reason>" if the
  /// address cannot be bound; INTERNAL if a thread or epoll set cannot be
  /// made; INVALID_ARGUMENT naming the CPU if a worker cannot be pinned.
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const ServerOptions& options, Handler handler);
  /// Same, with an asynchronous handler (see AsyncHandler).
  static absl::StatusOr<std::unique_ptr<Server>> StartAsync(
      const ServerOptions& options, AsyncHandler handler);

  /// Stop(), then frees everything.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// The port listened on (the ephemeral one when options.port was 0).
  /// Thread-safe.
  [[nodiscard]] std::uint16_t port() const;

  /// Clean shutdown, as the overview says: stop accepting, finish the
  /// requests in flight within drain_timeout, LOGOUT, close, join. Blocks
  /// for at most about drain_timeout + logout_timeout. Idempotent; call it
  /// from any thread except a worker (a handler): FAILED_PRECONDITION
  /// there. Returns OK.
  absl::Status Stop();

  /// A snapshot of the counters. Thread-safe.
  [[nodiscard]] ServerStats stats() const;

  /// Internal (server.cpp).
  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  static absl::StatusOr<std::unique_ptr<Server>> StartImpl(
      const ServerOptions& options, Handler handler, AsyncHandler async);
  static Responder MakeResponder(
      std::shared_ptr<internal::CompletionQueue> queue,
      std::uint64_t connection, std::uint64_t correlation,
      std::uint32_t service) {
    return Responder(std::move(queue), connection, correlation, service);
  }

  std::unique_ptr<Impl> impl_;
};

}  // namespace tachyon::service

#endif  // TACHYON_SERVICE_SERVER_H_
