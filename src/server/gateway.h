// Gateway: the whole server — config, stream registry and worker threads.
//
// Overview
//   Start() binds one SO_REUSEPORT listener per worker (all on the same
//   port; with port 0 the first listener picks it), and with udp.enabled one
//   SO_REUSEPORT UDP ingress socket per worker likewise, creates the streams
//   of [[udp.groups]], starts the workers and returns once every worker's
//   reactor is running. The UDP egress of a stream is served by one worker,
//   UdpOwner(stream).
//
//   With [fastpath] mode af_xdp or dpdk, UDP runs over the kernel-bypass
//   path (fastpath/fastpath.h) instead: af_xdp still binds the kernel UDP
//   sockets (they reserve the port, and port 0 picks it) but reads none of
//   them; dpdk binds none (the port lives on the DPDK port's address). The
//   FastPath is opened once the port is known, worker i < queues takes
//   queue i as its datagram path for ingress and egress, workers beyond
//   the queues take no UDP, and UdpOwner maps streams onto the workers with
//   a queue. The FastPath is destroyed after the workers are joined (which
//   detaches the XDP program / stops the DPDK port). RequestStop() begins a
//   graceful shutdown: stop accepting, deliver what is queued, LOGOUT every
//   session, close; Wait() joins the workers.
//
// Example
//   tachyon::server::Gateway gw(config);
//   if (auto s = gw.Start(); !s.ok()) return Fail(s);
//   std::printf("listening on %u\n", gw.port());
//   WaitForSignal();
//   gw.RequestStop();
//   gw.Wait();
//
// Threading: Start/Wait from one thread; RequestStop and the accessors from
// any thread.
#ifndef TACHYON_SERVER_GATEWAY_H_
#define TACHYON_SERVER_GATEWAY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "auth/authenticator.h"
#include "base/counters.h"
#include "config/model.h"
#include "config/reload_report.h"
#include "fastpath/fastpath.h"
#include "server/reload.h"
#include "server/worker.h"
#include "server/worker_command.h"
#include "session/address_limits.h"
#include "session/session_board.h"
#include "session/session_info.h"
#include "stream/stream_registry.h"
#include "tachyon/common/types.h"
#include "tls/tls_context.h"
#include "udp/producers.h"

namespace tachyon::server {

/// The gateway-wide sums of the sessions' counters, read from the counters
/// registry (the registry is the only place they are kept).
struct GatewayStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_refused = 0;
  std::int64_t sessions_open = 0;
  std::uint64_t logons_rejected = 0;
  std::uint64_t frames_in = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t publishes = 0;
  std::uint64_t publishes_refused = 0;
  std::uint64_t publish_holds = 0;
  std::uint64_t malformed_frames = 0;
  std::uint64_t slow_consumers = 0;
  std::uint32_t streams = 0;
};

class Gateway final : public CommandRouter {
 public:
  explicit Gateway(config::GatewayConfig config);
  ~Gateway() override;
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  absl::Status Start();
  void RequestStop();
  void Wait();

  /// The TCP port the listeners are bound to (after Start; 0 when only TLS
  /// listens: tls.enabled without tls.plain).
  [[nodiscard]] std::uint16_t port() const { return port_; }
  /// True once Start has bound every configured listener (plain TCP unless
  /// TLS-only, TLS when tls.enabled, UDP when udp.enabled) and started the
  /// workers, until RequestStop begins the drain. What /readyz reports as
  /// "listeners up". Any thread.
  [[nodiscard]] bool ListenersUp() const {
    return listeners_up_.load(std::memory_order_acquire);
  }
  /// The TLS listener's port (after Start; 0 when tls.enabled is false).
  [[nodiscard]] std::uint16_t tls_port() const { return tls_port_; }
  /// Worker `index`'s TLS listener, or -1.
  [[nodiscard]] int tls_listen_fd(int index) const {
    return tls_listen_fds_.empty()
               ? -1
               : tls_listen_fds_[static_cast<std::size_t>(index)];
  }
  /// The TLS server context (nullptr when tls.enabled is false). Shared
  /// read-only by the workers.
  [[nodiscard]] SSL_CTX* tls_context() const { return tls_ctx_.get(); }
  /// Whether kernel TLS (TCP_ULP "tls") is available, and why not.
  [[nodiscard]] bool kernel_tls() const { return kernel_tls_; }
  [[nodiscard]] const std::string& kernel_tls_reason() const {
    return kernel_tls_reason_;
  }
  /// The UDP ingress port (after Start; 0 when udp.enabled is false).
  [[nodiscard]] std::uint16_t udp_port() const { return udp_port_; }
  /// The non-zero source_id of this gateway instance's UDP datagrams: the
  /// instance epoch (0 when udp.enabled is false).
  [[nodiscard]] std::uint64_t udp_source_id() const { return udp_source_id_; }
  /// This run's random, non-zero instance epoch (PROTOCOL.md 7.6), picked
  /// by Start. Any thread after Start.
  [[nodiscard]] std::uint64_t instance_epoch() const { return instance_epoch_; }
  /// The UDP counters of every worker, summed. Any thread, lock-free.
  [[nodiscard]] udp::UdpStats UdpStats() const;
  /// The UDP counters of worker `index` (0 <= index < workers).
  [[nodiscard]] udp::UdpStats WorkerUdpStats(int index) const;
  /// Every counter, gauge and histogram of the gateway. Any thread.
  [[nodiscard]] base::CounterRegistry& counters() { return counters_; }
  [[nodiscard]] const base::CounterRegistry& counters() const {
    return counters_;
  }
  /// The worker that serves `stream`'s UDP egress: one of the UdpWorkers().
  [[nodiscard]] int UdpOwner(StreamId stream) const {
    return static_cast<int>(stream.value() %
                            static_cast<std::uint64_t>(UdpWorkers()));
  }
  /// Workers 0..UdpWorkers()-1 serve UDP: every worker on the kernel socket
  /// path, one per queue on a fast path.
  [[nodiscard]] int UdpWorkers() const {
    return config_.fastpath.mode == config::FastPathMode::kSocket
               ? config_.workers
               : config_.fastpath.queues;
  }
  /// The fast path's start-up line (FastPath::Describe), or "" on the
  /// kernel socket path. After Start.
  [[nodiscard]] const std::string& fastpath_description() const {
    return fastpath_description_;
  }
  /// CommandRouter: any thread; queues `command` in worker `worker`'s
  /// mailbox and wakes it; false if that mailbox is full.
  bool TryDeliver(int worker, const WorkerCommand& command) override;
  /// One line per worker describing its io backend and why it was chosen.
  [[nodiscard]] const std::vector<std::string>& backend_descriptions() const {
    return backend_descriptions_;
  }
  /// The configuration the gateway started with (reloads leave it alone;
  /// see RunningConfig).
  [[nodiscard]] const config::GatewayConfig& config() const { return config_; }
  /// The configuration with the reloadable keys of the last Reload
  /// applied. Any thread (a copy, taken under the reload lock).
  [[nodiscard]] config::GatewayConfig RunningConfig() const;

  /// Applies the reloadable keys of `next` (server/reload.h) without
  /// dropping a session: the log level and connection limit at once, the
  /// workers' settings through their mailboxes (never a lock on their
  /// path). Every other key that differs from the running value is listed
  /// as restart_required and keeps its running value. `next` must be
  /// validated. Any thread after Start; reloads are serialised.
  config::ReloadReport Reload(const config::GatewayConfig& next);
  /// What ReloadFromFile (server/reload.h) reads. Set by main before any
  /// reload; any thread.
  void SetReloadSource(ReloadSource source);
  [[nodiscard]] ReloadSource reload_source() const;

  /// Every session of every worker, as the workers last published them
  /// (at most about a second old; session/session_board.h). Any thread;
  /// never blocks a worker.
  [[nodiscard]] std::vector<session::SessionInfo> Sessions() const;
  /// Worker `index`'s board (for the worker).
  /// The per-address limits every worker shares; nullptr when the config
  /// sets none.
  [[nodiscard]] session::AddressLimits* address_limits() {
    return address_limits_.get();
  }
  [[nodiscard]] session::SessionBoard* session_board(int index) {
    return boards_[static_cast<std::size_t>(index)].get();
  }
  /// [socket] options with [udp]'s buffer sizes, for UDP receive and send
  /// sockets.
  [[nodiscard]] config::SocketOptions UdpReceiveTuning() const;
  [[nodiscard]] config::SocketOptions UdpSendTuning() const;
  [[nodiscard]] stream::StreamRegistry& registry() { return *registry_; }
  /// Principals and permissions ([auth], [[principals]]), shared by every
  /// worker's sessions; replaced by reloads.
  [[nodiscard]] const auth::Authenticator& authenticator() const {
    return *authenticator_;
  }
  [[nodiscard]] GatewayStats Stats() const;
  /// [[udp_producers]] with their keys: read from the key files once at
  /// start and at every reload (a rewritten key file alone is a change),
  /// shared by every worker. Null when UDP is off. Any thread.
  [[nodiscard]] std::shared_ptr<const udp::ProducerTable> udp_producers()
      const {
    std::lock_guard<std::mutex> lock(producers_mu_);
    return udp_producers_;
  }

  // For workers.
  SessionId NextSessionId() {
    return SessionId{next_session_id_.fetch_add(1, std::memory_order_relaxed)};
  }
  /// Reserves a connection slot; false at max_connections.
  bool TryAddConnection();
  void ReleaseConnection() {
    connections_.fetch_sub(1, std::memory_order_relaxed);
  }
  /// Wakes the workers whose bits are set in `mask`, except `self`.
  void WakeWorkers(std::uint64_t mask, int self);
  /// Wakes every worker (a stream was created).
  void WakeAll();
  void SetBackendDescription(int worker, std::string description);

 private:
  absl::Status StartUdp();
  // [tls]: the server context (from the PEM files) and the TLS listeners;
  // probes kernel TLS.
  absl::Status StartTls();
  // One socket per worker on bind:port (SO_REUSEPORT; the first picks the
  // port when it is 0), each made by `open`, after checking that no other
  // process holds the port. Returns the port.
  absl::StatusOr<std::uint16_t> OpenPerWorker(
      std::string_view what, const std::string& bind, std::uint16_t port,
      int kind, const std::function<absl::StatusOr<int>(std::uint16_t)>& open,
      std::vector<int>& fds);

  config::GatewayConfig config_;
  // Declared before everything that registers values in it.
  base::CounterRegistry counters_;
  std::unique_ptr<stream::StreamRegistry> registry_;
  std::unique_ptr<auth::Authenticator> authenticator_;
  // Destroyed after the workers (whose queues it owns the memory of): the
  // destructor resets it explicitly once they are joined.
  std::unique_ptr<fastpath::FastPath> fastpath_;
  std::string fastpath_description_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<int> listen_fds_;
  std::vector<int> udp_fds_;
  mutable std::mutex producers_mu_;
  std::shared_ptr<const udp::ProducerTable> udp_producers_
      ABSL_GUARDED_BY(producers_mu_);
  // [tls]: one listener per worker, the shared server context.
  std::vector<int> tls_listen_fds_;
  std::uint16_t tls_port_ = 0;
  tls::SslCtxPtr tls_ctx_;
  bool kernel_tls_ = false;
  std::string kernel_tls_reason_;
  std::uint16_t udp_port_ = 0;
  std::uint64_t udp_source_id_ = 0;
  std::uint64_t instance_epoch_ = 0;
  std::vector<std::string> backend_descriptions_;
  std::uint16_t port_ = 0;
  std::atomic<std::uint64_t> next_session_id_{1};
  std::atomic<int> connections_{0};
  // limits.max_connections as last reloaded.
  std::atomic<int> max_connections_;
  bool started_ = false;
  // Set by Start once every listener is bound and the workers run, cleared
  // by RequestStop; read by the admin thread.
  std::atomic<bool> listeners_up_{false};
  std::vector<std::unique_ptr<session::SessionBoard>> boards_;
  // Used by the workers; the destructor clears workers_ before any member
  // is destroyed.
  std::unique_ptr<session::AddressLimits> address_limits_;
  mutable std::mutex reload_mu_;
  config::GatewayConfig running_ ABSL_GUARDED_BY(reload_mu_);
  ReloadSource reload_source_ ABSL_GUARDED_BY(reload_mu_);
};

}  // namespace tachyon::server

#endif  // TACHYON_SERVER_GATEWAY_H_
