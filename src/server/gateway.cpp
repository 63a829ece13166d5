#include "server/gateway.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/strings.h"
#include "config/diff.h"
#include "io/datagram_socket.h"
#include "io/socket.h"
#include "session/session_counters.h"

namespace tachyon::server {

namespace {

// 127.0.0.0/8 or ::1 (or ::ffff:127.x.y.z).
bool IsLoopbackAddress(const std::string& address) {
  const std::optional<auth::IpAddress> a = auth::ParseIpAddress(address);
  if (!a) return false;
  if (a->family == AF_INET) return a->bytes[0] == 127;
  static constexpr std::array<std::uint8_t, 16> kLoopback6 = {
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return a->bytes == kLoopback6;
}

}  // namespace

Gateway::Gateway(config::GatewayConfig config)
    : config_(std::move(config)),
      registry_(std::make_unique<stream::StreamRegistry>(config_, counters_)),
      authenticator_(std::make_unique<auth::Authenticator>(config_)),
      max_connections_(config_.max_connections),
      running_(config_) {
  // Boards exist before the workers that publish to them, and outlive them.
  for (int i = 0; i < config_.workers; ++i) {
    boards_.push_back(std::make_unique<session::SessionBoard>());
  }
  if (config_.max_connections_per_address > 0 ||
      config_.logon_failures_per_address > 0) {
    address_limits_ = std::make_unique<session::AddressLimits>(
        session::AddressLimits::Options{
            .max_connections_per_address = config_.max_connections_per_address,
            .logon_failures_per_address = config_.logon_failures_per_address,
            .logon_failure_window_ns =
                std::int64_t{config_.logon_failure_window_ms} * 1'000'000,
            .max_tracked_addresses = config_.max_tracked_addresses});
  }
}

Gateway::~Gateway() {
  RequestStop();
  Wait();
  workers_.clear();
  // After the workers: their queues run over its rings and memory.
  fastpath_.reset();
  for (int fd : listen_fds_) ::close(fd);
  for (int fd : tls_listen_fds_) ::close(fd);
  for (int fd : udp_fds_) {
    if (fd >= 0) ::close(fd);
  }
}

absl::Status Gateway::Start() {
  if (started_) return absl::FailedPreconditionError("already started");
  started_ = true;
  // This run's instance epoch (PROTOCOL.md 7.6): sequences and stream ids
  // start over with every run, and clients tell runs apart by it.
  std::random_device rd;
  while (instance_epoch_ == 0) {
    instance_epoch_ = (std::uint64_t{rd()} << 32) | rd();
  }
  const int n = config_.workers;
  backend_descriptions_.assign(static_cast<std::size_t>(n), "");
  if (absl::Status s = StartTls(); !s.ok()) return s;
  if (!config_.tls.enabled || config_.tls.plain) {
    absl::StatusOr<std::uint16_t> port = OpenPerWorker(
        "listener", config_.bind, config_.port, SOCK_STREAM,
        [this](std::uint16_t p) {
          return io::CreateTcpListener(config_.bind, p, 4096);
        },
        listen_fds_);
    if (!port.ok()) return port.status();
    port_ = *port;
  } else {
    listen_fds_.assign(static_cast<std::size_t>(n), -1);
  }
  if (config_.auth.anonymous && !IsLoopbackAddress(config_.bind)) {
    TACHYON_LOG(kWarn)
        << "anonymous access is on (auth.anonymous = true) and the TCP "
           "listener "
        << config_.bind << ":" << port_
        << " is not loopback-only: anyone who can reach it may log on "
           "without a principal (set auth.anonymous = false and define "
           "[[principals]])";
  }
  if (absl::Status s = StartUdp(); !s.ok()) return s;
  const bool bypass = fastpath_ != nullptr;
  // On AF_XDP the kernel still receives for the port what the XDP program
  // passes (IP fragments, datagrams over loopback or another interface):
  // the worker of queue i reads kernel socket i too, merged into its one
  // UdpIngress. The sockets of workers beyond the queues are closed, so
  // nothing lands in a socket nobody reads. On DPDK there are none.
  const bool af_xdp_merge =
      bypass && config_.fastpath.mode == config::FastPathMode::kAfXdp;
  if (af_xdp_merge) {
    for (std::size_t i = static_cast<std::size_t>(fastpath_->queues());
         i < udp_fds_.size(); ++i) {
      if (udp_fds_[i] >= 0) ::close(udp_fds_[i]);
      udp_fds_[i] = -1;
    }
  }
  // Every datagram of one producer goes to one worker, whatever its source
  // port: a replay from another port meets the same dedupe table
  // (PROTOCOL.md 16.7). The group is the sockets still open, in worker
  // order (OpenPerWorker binds them in that order).
  if (!udp_fds_.empty() && (!bypass || af_xdp_merge)) {
    const int open = bypass ? std::min(fastpath_->queues(),
                                       static_cast<int>(udp_fds_.size()))
                            : static_cast<int>(udp_fds_.size());
    if (open > 0) {
      if (absl::Status s = io::SteerUdpByProducer(udp_fds_[0], open); !s.ok()) {
        return s;
      }
    }
  }
  for (int i = 0; i < n; ++i) {
    const int udp_fd = udp_fds_.empty() || (bypass && !af_xdp_merge)
                           ? -1
                           : udp_fds_[static_cast<std::size_t>(i)];
    std::unique_ptr<io::DatagramIo> queue =
        bypass && i < fastpath_->queues() ? fastpath_->TakeQueue(i) : nullptr;
    if (bypass && i < fastpath_->queues() && queue == nullptr) {
      return absl::InternalError(
          absl::StrCat("fastpath: queue ", i, " could not be taken"));
    }
    workers_.push_back(std::make_unique<Worker>(*this, i, listen_fds_[i],
                                                udp_fd, std::move(queue)));
  }
  for (int i = 0; i < n; ++i) {
    if (absl::Status s = workers_[i]->Start(); !s.ok()) {
      RequestStop();
      Wait();
      return absl::Status(s.code(),
                          absl::StrCat("worker ", i, ": ", s.message()));
    }
  }
  const bool plain_up =
      (config_.tls.enabled && !config_.tls.plain) || port_ != 0;
  const bool tls_up = !config_.tls.enabled || tls_port_ != 0;
  const bool udp_up = !config_.udp.enabled || udp_port_ != 0;
  listeners_up_.store(plain_up && tls_up && udp_up, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status Gateway::StartTls() {
  kernel_tls_ = tls::ProbeKernelTls(&kernel_tls_reason_);
  const config::TlsOptions& t = config_.tls;
  if (!t.enabled) return absl::OkStatus();
  TACHYON_LOG(kInfo) << "kernel TLS: "
                     << (kernel_tls_ ? std::string("available (not used yet: "
                                                   "records are built in "
                                                   "user space)")
                                     : "unavailable: " + kernel_tls_reason_);
  absl::StatusOr<tls::SslCtxPtr> ctx = tls::CreateServerContext(
      {.certificate = t.certificate,
       .private_key = t.private_key,
       .client_ca = t.client_ca,
       .verify_client =
           t.verify_client == config::TlsVerifyClient::kRequire
               ? tls::VerifyClient::kRequire
               : (t.verify_client == config::TlsVerifyClient::kOptional
                      ? tls::VerifyClient::kOptional
                      : tls::VerifyClient::kNone)});
  if (!ctx.ok()) return ctx.status();
  tls_ctx_ = *std::move(ctx);
  absl::StatusOr<std::uint16_t> port = OpenPerWorker(
      "TLS listener", config_.bind, t.port, SOCK_STREAM,
      [this](std::uint16_t p) {
        return io::CreateTcpListener(config_.bind, p, 4096);
      },
      tls_listen_fds_);
  if (!port.ok()) return port.status();
  tls_port_ = *port;
  TACHYON_LOG(kInfo) << "TLS 1.3 listener on " << config_.bind << ":"
                     << tls_port_ << " (client certificates: "
                     << (t.verify_client == config::TlsVerifyClient::kRequire
                             ? "required"
                         : t.verify_client == config::TlsVerifyClient::kOptional
                             ? "optional"
                             : "not asked for")
                     << (t.plain ? "; plain TCP listener too)"
                                 : "; no plain TCP listener)");
  return absl::OkStatus();
}

absl::StatusOr<std::uint16_t> Gateway::OpenPerWorker(
    std::string_view what, const std::string& bind, std::uint16_t port,
    int kind, const std::function<absl::StatusOr<int>(std::uint16_t)>& open,
    std::vector<int>& fds) {
  if (absl::Status s = io::CheckPortFree(bind, port, kind); !s.ok()) return s;
  for (int i = 0; i < config_.workers; ++i) {
    absl::StatusOr<int> fd = open(port);
    if (!fd.ok()) {
      return absl::Status(fd.status().code(),
                          absl::StrCat(AbslView(what), " for worker ", i, ": ",
                                       fd.status().message()));
    }
    fds.push_back(*fd);
    if (port == 0) {
      absl::StatusOr<std::uint16_t> p = io::LocalPort(*fd);
      if (!p.ok()) return p.status();
      port = *p;
    }
  }
  return port;
}

absl::Status Gateway::StartUdp() {
  const config::UdpOptions& u = config_.udp;
  if (!u.enabled) return absl::OkStatus();
  // The instance epoch: receivers tell a restarted gateway (whose
  // sequences and stream ids start over) by its change (PROTOCOL.md 16.4).
  udp_source_id_ = instance_epoch_;
  {
    absl::StatusOr<std::shared_ptr<const udp::ProducerTable>> producers =
        udp::ProducerTable::Create(config_);
    if (!producers.ok()) return producers.status();
    std::lock_guard<std::mutex> lock(producers_mu_);
    udp_producers_ = *std::move(producers);
  }
  const config::FastPathMode mode = config_.fastpath.mode;
  if (mode == config::FastPathMode::kDpdk) {
    // The port lives on the DPDK port's address, which the kernel does not
    // own: nothing to bind (validation made the port explicit).
    udp_port_ = u.port;
  } else {
    // af_xdp binds too: the socket reserves the port (no other process
    // takes it) and picks it when it is 0.
    absl::StatusOr<std::uint16_t> port = OpenPerWorker(
        "UDP ingress", config_.UdpBind(), u.port, SOCK_DGRAM,
        [this](std::uint16_t p) {
          return io::OpenUdpReceiveSocket(config_.UdpBind(), p,
                                          UdpReceiveTuning());
        },
        udp_fds_);
    if (!port.ok()) return port.status();
    udp_port_ = *port;
  }
  if (mode != config::FastPathMode::kSocket) {
    absl::StatusOr<std::unique_ptr<fastpath::FastPath>> fast =
        fastpath::FastPath::Open(config_, udp_port_, counters_);
    if (!fast.ok()) return fast.status();
    fastpath_ = *std::move(fast);
    fastpath_description_ = fastpath_->Describe();
  }
  for (const config::UdpGroup& g : u.groups) {
    if (absl::StatusOr<stream::StreamLog*> log =
            registry_->OpenConfigured(g.stream);
        !log.ok()) {
      return absl::Status(log.status().code(),
                          absl::StrCat("udp group stream '", g.stream,
                                       "': ", log.status().message()));
    }
  }
  return absl::OkStatus();
}

config::SocketOptions Gateway::UdpReceiveTuning() const {
  config::SocketOptions o = config_.socket;
  o.recv_buffer_bytes = config_.udp.recv_buffer_bytes;
  return o;
}

config::SocketOptions Gateway::UdpSendTuning() const {
  config::SocketOptions o = config_.socket;
  o.send_buffer_bytes = config_.udp.send_buffer_bytes;
  return o;
}

bool Gateway::TryDeliver(int worker, const WorkerCommand& command) {
  return workers_[static_cast<std::size_t>(worker)]->TryPost(command);
}

udp::UdpStats Gateway::UdpStats() const { return udp::ReadUdpStats(counters_); }

udp::UdpStats Gateway::WorkerUdpStats(int index) const {
  return udp::ReadUdpStats(counters_, index);
}

void Gateway::RequestStop() {
  listeners_up_.store(false, std::memory_order_release);
  for (auto& w : workers_) w->RequestStop();
}

void Gateway::Wait() {
  for (auto& w : workers_) w->Join();
}

bool Gateway::TryAddConnection() {
  int cur = connections_.load(std::memory_order_relaxed);
  while (cur < max_connections_.load(std::memory_order_relaxed)) {
    if (connections_.compare_exchange_weak(cur, cur + 1,
                                           std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

void Gateway::WakeWorkers(std::uint64_t mask, int self) {
  mask &= ~(std::uint64_t{1} << self);
  while (mask != 0) {
    const int i = __builtin_ctzll(mask);
    mask &= mask - 1;
    if (static_cast<std::size_t>(i) < workers_.size()) workers_[i]->Wake();
  }
}

void Gateway::WakeAll() {
  for (auto& w : workers_) w->Wake();
}

void Gateway::SetBackendDescription(int worker, std::string description) {
  backend_descriptions_[static_cast<std::size_t>(worker)] =
      std::move(description);
}

config::GatewayConfig Gateway::RunningConfig() const {
  std::lock_guard<std::mutex> lock(reload_mu_);
  return running_;
}

void Gateway::SetReloadSource(ReloadSource source) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  reload_source_ = std::move(source);
}

ReloadSource Gateway::reload_source() const {
  std::lock_guard<std::mutex> lock(reload_mu_);
  return reload_source_;
}

config::ReloadReport Gateway::Reload(const config::GatewayConfig& next) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  config::ReloadReport report;
  for (const config::KeyChange& change : config::ChangedKeys(running_, next)) {
    if (FindReloadable(change.key) != nullptr) {
      report.applied.push_back(change.key);
    } else {
      report.restart_required.push_back(change.key);
    }
  }
  // Key files are read here, once for every worker, and compared by their
  // keys: a rewritten key file is a change even when no configuration
  // value is.
  std::shared_ptr<const udp::ProducerTable> producers = udp_producers();
  if (producers != nullptr) {
    absl::StatusOr<std::shared_ptr<const udp::ProducerTable>> table =
        udp::ProducerTable::Create(next);
    if (!table.ok()) {
      TACHYON_LOG(kError) << "reload: UDP producers unchanged: "
                          << table.status().message();
    } else {
      if (!(*table)->SameKeys(*producers) &&
          std::find(report.applied.begin(), report.applied.end(),
                    "udp_producers") == report.applied.end()) {
        report.applied.push_back("udp_producers");
      }
      producers = *std::move(table);
    }
  }
  if (report.applied.empty()) return report;
  {
    std::lock_guard<std::mutex> producers_lock(producers_mu_);
    udp_producers_ = producers;
  }
  ApplyReloadable(next, running_);
  // Principals, permissions, anonymous access and session.token: a new
  // snapshot; sessions check what they hold against it at their next tick.
  authenticator_->Update(running_);
  base::LogLevel level;
  if (base::ParseLogLevel(running_.log_level, &level)) {
    base::SetLogLevel(level);
  }
  max_connections_.store(running_.max_connections, std::memory_order_relaxed);
  const auto shared = std::make_shared<const config::GatewayConfig>(running_);
  for (auto& w : workers_) {
    // A mailbox is drained every duty cycle; full only for an instant.
    while (!w->TryPost(ConfigUpdate{shared, producers})) sched_yield();
  }
  return report;
}

std::vector<session::SessionInfo> Gateway::Sessions() const {
  std::vector<session::SessionInfo> rows;
  for (const auto& board : boards_) board->AppendTo(rows);
  return rows;
}

GatewayStats Gateway::Stats() const {
  auto sum = [this](std::string_view name) { return counters_.Sum(name); };
  GatewayStats s;
  s.connections_accepted = sum(session::kConnectionsAcceptedTotal);
  s.connections_refused = sum(session::kConnectionsRefusedTotal);
  s.sessions_open = static_cast<std::int64_t>(sum(session::kSessionsOpen));
  s.logons_rejected = sum(session::kLogonsRejectedTotal);
  s.frames_in = sum(session::kFramesInTotal);
  s.bytes_in = sum(session::kBytesInTotal);
  s.bytes_out = sum(session::kBytesOutTotal);
  s.publishes = sum(session::kPublishesTotal);
  s.publishes_refused = sum(session::kPublishesRefusedTotal);
  s.publish_holds = sum(session::kPublishHoldsTotal);
  s.malformed_frames = sum(session::kMalformedFramesTotal);
  s.slow_consumers = sum(session::kSlowConsumersTotal);
  s.streams = registry_->size();
  return s;
}

}  // namespace tachyon::server
