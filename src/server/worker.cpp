#include "server/worker.h"

#include <future>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/strings.h"
#include "io/datagram_socket.h"
#include "io/merged_datagram_io.h"
#include "io/socket.h"
#include "server/gateway.h"
#include "server/reload.h"

namespace tachyon::server {

Worker::Worker(Gateway& gateway, int index, int listen_fd, int udp_fd,
               std::unique_ptr<io::DatagramIo> fast_queue)
    : gateway_(gateway),
      index_(index),
      listen_fd_(listen_fd),
      udp_fd_(udp_fd),
      cpu_(static_cast<std::size_t>(index) < gateway.config().cpus.size()
               ? gateway.config().cpus[static_cast<std::size_t>(index)]
               : -1),
      running_(gateway.config()),
      interest_(index),
      mailbox_(kMailboxCapacity) {
  datagram_io_ = std::move(fast_queue);
}

Worker::~Worker() { Join(); }

absl::Status Worker::Start() {
  std::promise<absl::Status> started;
  std::future<absl::Status> result = started.get_future();
  thread_ = std::thread([this, &started] {
    if (cpu_ >= 0) {
      if (absl::Status s = io::PinThreadToCpu(cpu_); !s.ok()) {
        TACHYON_LOG(kWarn) << "worker " << index_ << ": " << s.message();
      }
    }
    absl::Status s = SetUp();
    started.set_value(s);
    if (!s.ok()) return;
    runner_->Run(stop_requested_,
                 std::int64_t{gateway_.config().shutdown_drain_ms} * 1'000'000 +
                     2'000'000'000);  // plus the close/linger allowance
  });
  absl::Status s = result.get();
  if (!s.ok()) Join();
  return s;
}

absl::Status Worker::SetUp() {
  const config::GatewayConfig& c = gateway_.config();
  // The ring is created on the thread that submits to it (SINGLE_ISSUER).
  io::ReactorOptions options;
  options.uring_entries = c.uring_entries;
  std::string reason;
  absl::StatusOr<std::unique_ptr<io::Reactor>> reactor =
      io::CreateReactor(c.io, options, &reason);
  if (!reactor.ok()) return reactor.status();
  reactor_ = *std::move(reactor);
  wake_ = std::make_unique<io::WakeSignal>(reactor_.get());
  wake_ready_.store(true, std::memory_order_release);
  gateway_.SetBackendDescription(index_, reason);

  runner_ = std::make_unique<AgentRunner>(
      *reactor_, *wake_, clock_,
      io::IdleStrategy(c.idle, std::int64_t{c.spin_budget_us} * 1000),
      gateway_.counters().AddCounter(
          kSpinStopsTotal,
          "times the backoff idle strategy found the worker descheduled "
          "(another task wanted its CPU) and stopped spinning for a "
          "cool-down",
          {{"worker", std::to_string(index_)}}));
  mailbox_agent_ =
      std::make_unique<MailboxAgent>(mailbox_, *this, gateway_, c.workers);
  runner_->Add(mailbox_agent_.get());
  stream_upkeep_ = std::make_unique<StreamUpkeepAgent>(
      gateway_.registry(), index_ == 0 ? StreamSweep::kYes : StreamSweep::kNo);
  runner_->Add(stream_upkeep_.get());
  if (absl::Status s = SetUpUdp(); !s.ok()) return s;
  if (udp_ingress_ != nullptr) runner_->Add(udp_ingress_.get());
  if (!c.backends.empty()) {
    absl::StatusOr<std::unique_ptr<backend::BackendRouter>> router =
        backend::BackendRouter::Create({.config = &c,
                                        .worker = index_,
                                        .reactor = reactor_.get(),
                                        .clock = &clock_,
                                        .counters = &gateway_.counters()});
    if (!router.ok()) return router.status();
    backends_ = std::make_unique<backend::BackendAgent>(*std::move(router));
    runner_->Add(backends_.get());
  }
  sessions_ =
      std::make_unique<session::SessionAgent>(session::SessionAgentParts{
          .config = &running_,
          .worker = index_,
          .cpu = cpu_,
          .listen_fd = listen_fd_,
          .tls_listen_fd = gateway_.tls_listen_fd(index_),
          .tls_context = gateway_.tls_context(),
          .reactor = reactor_.get(),
          .registry = &gateway_.registry(),
          .interest = &interest_,
          .waker = this,
          .services = this,
          .router = backends_ != nullptr ? backends_->router() : nullptr,
          .clock = &clock_,
          .counters = &gateway_.counters(),
          .authenticator = &gateway_.authenticator(),
          .board = gateway_.session_board(index_),
          .address_limits = gateway_.address_limits()});
  runner_->Add(sessions_.get());
  if (udp_egress_ != nullptr) runner_->Add(udp_egress_.get());
  return runner_->Start();
}

absl::Status Worker::SetUpUdp() {
  const config::GatewayConfig& c = gateway_.config();
  if (!c.udp.enabled) return absl::OkStatus();
  // On a fast path the queue came with the worker; a worker beyond the
  // queues serves no UDP (UdpOwner never picks it).
  const bool fast = datagram_io_ != nullptr;
  if (!fast && index_ >= gateway_.UdpWorkers()) return absl::OkStatus();
  if (!fast) {
    absl::StatusOr<std::unique_ptr<io::SocketDatagramIo>> io =
        io::SocketDatagramIo::Create(
            {.receive_fd = udp_fd_,
             .receive_batch = c.udp.recv_batch,
             .max_datagram_bytes = c.udp.max_datagram_bytes,
             .gso = c.udp.gso,
             .send_tuning = gateway_.UdpSendTuning()});
    if (!io.ok()) return io.status();
    datagram_io_ = *std::move(io);
  } else if (udp_fd_ >= 0) {
    // AF_XDP: the kernel socket of this queue's worker receives what the
    // XDP program leaves to the kernel; one merged path, one UdpIngress
    // (one dedupe per producer). Sends stay on the fast path.
    absl::StatusOr<std::unique_ptr<io::SocketDatagramIo>> kernel =
        io::SocketDatagramIo::Create(
            {.receive_fd = udp_fd_,
             .receive_batch = c.udp.recv_batch,
             .max_datagram_bytes = c.udp.max_datagram_bytes,
             .gso = false,
             .send_tuning = gateway_.UdpSendTuning()});
    if (!kernel.ok()) return kernel.status();
    absl::StatusOr<std::unique_ptr<io::MergedDatagramIo>> merged =
        io::MergedDatagramIo::Create(std::move(datagram_io_),
                                     *std::move(kernel));
    if (!merged.ok()) return merged.status();
    datagram_io_ = *std::move(merged);
  }
  udp_counters_ =
      std::make_unique<udp::UdpCounters>(gateway_.counters(), index_);
  udp_egress_ = std::make_unique<udp::UdpEgress>(
      c, *datagram_io_, gateway_.udp_source_id(), *udp_counters_, &interest_);
  for (const config::UdpGroup& g : c.udp.groups) {
    stream::StreamLog* log = gateway_.registry().FindByName(g.stream);
    if (log == nullptr || gateway_.UdpOwner(log->id()) != index_) continue;
    if (absl::Status s = udp_egress_->AddGroup(log, g); !s.ok()) return s;
  }
  // A fast-path queue is polled when it has no readiness descriptor
  // (DPDK): UdpIngress then reports pending work every pass, so the idle
  // strategy never blocks while the queue may hold datagrams.
  if (udp_fd_ >= 0 || fast) {
    udp_ingress_ = std::make_unique<udp::UdpIngress>(
        *datagram_io_, c.udp.recv_batch, c.max_frame_length,
        gateway_.registry(), clock_, *this, *udp_counters_, reactor_.get());
    udp_ingress_->SetAuth(UdpIngressAuth(c, gateway_.udp_producers()));
  }
  return absl::OkStatus();
}

udp::UdpIngress::Auth Worker::UdpIngressAuth(
    const config::GatewayConfig& c,
    std::shared_ptr<const udp::ProducerTable> producers) {
  return udp::UdpIngress::Auth{
      .producers = std::move(producers),
      .require_authentication = c.udp.require_authentication,
      .max_sequence_jump = static_cast<std::uint64_t>(c.udp.max_sequence_jump)};
}

void Worker::RequestStop() {
  stop_requested_.store(true, std::memory_order_release);
  Wake();
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

bool Worker::TryPost(const WorkerCommand& command) {
  if (!mailbox_.TryPush(command)) return false;
  Wake();
  return true;
}

bool Worker::TryAddConnection() { return gateway_.TryAddConnection(); }

void Worker::ReleaseConnection() { gateway_.ReleaseConnection(); }

SessionId Worker::NextSessionId() { return gateway_.NextSessionId(); }

std::uint64_t Worker::instance_epoch() const {
  return gateway_.instance_epoch();
}

void Worker::OnStreamCreated() { gateway_.WakeAll(); }

void Worker::RouteUdp(const session::UdpDestinationRequest& request) {
  mailbox_agent_->Send(gateway_.UdpOwner(request.stream), request);
}

void Worker::OnAppended(stream::StreamLog* log) {
  const std::uint64_t mask =
      log->interested_workers().load(std::memory_order_acquire);
  if (mask & ~(std::uint64_t{1} << index_)) gateway_.WakeWorkers(mask, index_);
}

void Worker::Handle(const WorkerCommand& command) {
  std::visit(
      [this](const auto& c) {
        using C = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<C, session::UdpDestinationRequest>) {
          stream::StreamLog* log = gateway_.registry().Find(c.stream);
          if (log == nullptr || udp_egress_ == nullptr) return;
          if (c.kind == session::UdpDestinationRequest::Kind::kAdd) {
            udp_egress_->Add(log, c.destination, c.from);
          } else {
            udp_egress_->Remove(c.stream, c.destination);
          }
        } else if constexpr (std::is_same_v<C, ConfigUpdate>) {
          ApplyReloadable(*c.config, running_);
          if (udp_ingress_ != nullptr) {
            // [[udp_producers]] (the table the gateway built, key files
            // read once for every worker) and the [udp] authentication
            // settings.
            udp_ingress_->SetAuth(UdpIngressAuth(running_, c.producers));
          }
        }
      },
      command);
}

}  // namespace tachyon::server
