// Worker: one thread, one reactor, and the agents of its duty cycle.
//
// Overview
//   A worker owns a reactor (epoll or io_uring), a wake signal, a mailbox,
//   and a list of agents that an AgentRunner drives (agent_runner.h):
//     mailbox      commands from other workers (MailboxAgent)
//     udp-ingress  PUBLISH datagrams into logs (udp.enabled)
//     backends     pools of backend connections and the request router
//                  ([[backends]] configured)
//     sessions     its SO_REUSEPORT listener and the sessions it accepted
//     udp-egress   the UDP fan-out of the streams this worker owns
//   State is shared-nothing except the stream registry, the logs and the
//   counters registry; a publisher on another worker wakes this one through
//   its WakeSignal only when it is blocked. The worker is what its agents
//   see of the rest of the gateway (SessionServices, StreamWaker,
//   CommandHandler).
//
// Threading: Start/Join from the gateway's thread; Wake, RequestStop and
// TryPost from any thread; everything else on the worker's own thread.
#ifndef TACHYON_SERVER_WORKER_H_
#define TACHYON_SERVER_WORKER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "backend/backend_agent.h"
#include "base/clock.h"
#include "io/datagram_io.h"
#include "io/idle_strategy.h"
#include "io/reactor.h"
#include "io/wake_signal.h"
#include "server/agent_runner.h"
#include "server/mailbox.h"
#include "server/mailbox_agent.h"
#include "server/stream_upkeep_agent.h"
#include "server/worker_command.h"
#include "session/session_agent.h"
#include "session/session_services.h"
#include "stream/reader_interest.h"
#include "udp/egress.h"
#include "udp/ingress.h"
#include "udp/udp_counters.h"

namespace tachyon::server {

class Gateway;

class Worker final : public session::SessionServices,
                     public stream::StreamWaker,
                     public CommandHandler {
 public:
  /// Commands a mailbox holds before senders keep them in their outboxes.
  static constexpr std::size_t kMailboxCapacity = 4096;

  /// `udp_fd`: this worker's UDP ingress socket, or -1 without UDP.
  /// `fast_queue`: on a kernel-bypass path, this worker's queue (its
  /// datagram path for ingress and egress, used instead of sockets); null
  /// otherwise. With both (AF_XDP), ingress reads the two merged
  /// (io::MergedDatagramIo) and egress uses the queue. A worker without
  /// either serves no UDP on a fast path.
  Worker(Gateway& gateway, int index, int listen_fd, int udp_fd = -1,
         std::unique_ptr<io::DatagramIo> fast_queue = nullptr);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Starts the thread; returns once its agents started (or failed).
  absl::Status Start();
  /// Any thread: begin graceful shutdown (stop accepting, drain, close).
  void RequestStop();
  /// Joins the thread.
  void Join();
  /// Any thread: the worker has new work (a stream it reads grew).
  void Wake() {
    // Another worker may call this while this one is still starting.
    if (wake_ready_.load(std::memory_order_acquire)) wake_->Notify();
  }
  /// Any thread: queues `command` and wakes the worker; false if the
  /// mailbox is full.
  bool TryPost(const WorkerCommand& command);

  [[nodiscard]] int index() const { return index_; }
  /// Worker thread: the configuration its sessions read, the gateway's
  /// with the reloadable keys of the last reload (ConfigUpdate) applied.
  [[nodiscard]] const config::GatewayConfig& running_config() const {
    return running_;
  }

  // session::SessionServices (worker thread)
  bool TryAddConnection() override;
  void ReleaseConnection() override;
  SessionId NextSessionId() override;
  void OnStreamCreated() override;
  void RouteUdp(const session::UdpDestinationRequest& request) override;
  [[nodiscard]] bool stopping() const override {
    return stop_requested_.load(std::memory_order_acquire);
  }
  [[nodiscard]] std::uint64_t instance_epoch() const override;

  // stream::StreamWaker (worker thread)
  void OnAppended(stream::StreamLog* log) override;

  // CommandHandler (worker thread)
  void Handle(const WorkerCommand& command) override;

 private:
  // On the worker thread: the reactor, the agents, their start.
  absl::Status SetUp();
  absl::Status SetUpUdp();
  // What UDP ingress requires of datagrams under `c`, with the producer
  // table (keys) the gateway read.
  static udp::UdpIngress::Auth UdpIngressAuth(
      const config::GatewayConfig& c,
      std::shared_ptr<const udp::ProducerTable> producers);

  Gateway& gateway_;
  const int index_;
  const int listen_fd_;
  const int udp_fd_;
  const int cpu_;
  std::thread thread_;
  std::unique_ptr<io::Reactor> reactor_;
  std::unique_ptr<io::WakeSignal> wake_;
  std::atomic<bool> wake_ready_{false};  // wake_ is set (release)
  std::atomic<bool> stop_requested_{false};

  // The gateway's configuration as reloads changed it; worker thread only.
  config::GatewayConfig running_;
  base::LoopClock clock_;
  stream::WorkerInterest interest_;
  Mailbox<WorkerCommand> mailbox_;
  std::unique_ptr<MailboxAgent> mailbox_agent_;
  std::unique_ptr<StreamUpkeepAgent> stream_upkeep_;
  // Before sessions_: sessions cancel their requests with its router when
  // they are destroyed.
  std::unique_ptr<backend::BackendAgent> backends_;
  std::unique_ptr<session::SessionAgent> sessions_;
  std::unique_ptr<io::DatagramIo> datagram_io_;
  std::unique_ptr<udp::UdpCounters> udp_counters_;
  std::unique_ptr<udp::UdpIngress> udp_ingress_;
  std::unique_ptr<udp::UdpEgress> udp_egress_;
  std::unique_ptr<AgentRunner> runner_;
};

}  // namespace tachyon::server

#endif  // TACHYON_SERVER_WORKER_H_
