// Worker: one thread, one reactor, one SO_REUSEPORT listener, its sessions.
//
// Overview
//   The duty cycle: poll the reactor (receive, accept, send completions),
//   notice stream tails that moved since the last look and mark their local
//   readers dirty, flush dirty sessions, run timers, then ask the idle
//   strategy whether to spin or block. State is shared-nothing except the
//   stream registry and logs; a publisher on another worker wakes this one
//   through its WakeSignal only when it is blocked.
//
// Threading: everything except Wake(), RequestStop() and counters() runs on
// the worker's own thread.
#ifndef TACHYON_SERVER_WORKER_H_
#define TACHYON_SERVER_WORKER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "base/counter.h"
#include "config/model.h"
#include "io/idle_strategy.h"
#include "io/reactor.h"
#include "stream/stream_registry.h"
#include "tachyon/common/types.h"
#include "udp/egress.h"
#include "udp/ingress.h"
#include "udp/udp_counters.h"
#include "udp/udp_socket.h"

namespace tachyon::session {
class Session;
}  // namespace tachyon::session

namespace tachyon::server {

using session::Session;
class Gateway;

/// Counters a worker publishes (relaxed atomics; one writer, any reader).
struct WorkerCounters {
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_refused{0};
  std::atomic<std::int64_t> sessions_open{0};
  std::atomic<std::uint64_t> logons_rejected{0};
  std::atomic<std::uint64_t> frames_in{0};
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::uint64_t> publishes{0};
  std::atomic<std::uint64_t> publishes_refused{0};
  std::atomic<std::uint64_t> malformed_frames{0};
  std::atomic<std::uint64_t> slow_consumers{0};
};

using base::Bump;

/// A change to a UDP destination of a stream, for the worker that owns the
/// stream's egress (from a session on any worker).
struct UdpCommand {
  enum class Kind : std::uint8_t { kAdd, kRemove };
  Kind kind = Kind::kAdd;
  StreamId stream;
  udp::Endpoint destination;
  Sequence from;  ///< kAdd: the first sequence the destination is owed
};

class Worker final : public io::AcceptHandler, public udp::IngressSink {
 public:
  /// `udp_fd`: this worker's UDP ingress socket, or -1 without UDP.
  Worker(Gateway& gateway, int index, int listen_fd, int udp_fd = -1);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Starts the thread; returns once the reactor is up (or failed).
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

  // For sessions (worker thread only).
  [[nodiscard]] const config::GatewayConfig& config() const;
  [[nodiscard]] stream::StreamRegistry& registry() const;
  [[nodiscard]] io::Reactor& reactor() const { return *reactor_; }
  [[nodiscard]] WorkerCounters& counters() { return counters_; }
  /// Any thread (relaxed loads of single-writer counters).
  [[nodiscard]] const udp::UdpCounters& udp_counters() const {
    return udp_counters_;
  }
  /// Any thread: queue a UDP destination change for this worker's egress
  /// (this worker must own the stream) and wake it.
  void PostUdpCommand(const UdpCommand& command);
  /// Worker thread: hands `command` to the worker that owns the stream's
  /// UDP egress (possibly this one).
  void RouteUdpCommand(const UdpCommand& command);
  [[nodiscard]] std::int64_t now_ns() const { return now_ns_; }
  /// CLOCK_REALTIME at the current loop iteration's receive (DATA stamps).
  [[nodiscard]] std::int64_t receive_time_ns();
  [[nodiscard]] bool stopping() const {
    return stop_requested_.load(std::memory_order_acquire);
  }
  SessionId NextSessionId();
  /// registry().Open, waking every worker when a stream is created so that
  /// pattern subscriptions pick it up at once.
  absl::StatusOr<stream::StreamLog*> OpenStream(std::string_view name);
  void AddReader(Session* s, stream::StreamLog* log);
  void RemoveReader(Session* s, stream::StreamLog* log);
  void AddPatternSession(Session* s) { pattern_sessions_.insert(s); }
  void RemovePatternSession(Session* s) { pattern_sessions_.erase(s); }
  void MarkDirty(Session* s);
  void OnAppended(stream::StreamLog* log) override;
  // udp::IngressSink
  std::int64_t ReceiveTimeNs() override { return receive_time_ns(); }
  void CloseConnection(io::Connection* conn);
  void DestroySession(Session* s);

  // io::AcceptHandler
  void OnAccept(int fd) override;

  [[nodiscard]] int index() const { return index_; }

 private:
  struct LocalStream {
    stream::StreamLog* log = nullptr;
    std::uint64_t seen_tail = 0;
    std::vector<Session*> readers;
  };

  void Run();
  int PollStreams();
  int CheckNewStreams();
  int FlushDirty();
  void Tick();
  absl::Status StartUdp();
  int RunUdpCommands();
  void UpdateInterest(stream::StreamLog* log);

  Gateway& gateway_;
  const int index_;
  const int listen_fd_;
  const int cpu_;
  std::thread thread_;
  std::unique_ptr<io::Reactor> reactor_;
  std::unique_ptr<io::WakeSignal> wake_;
  std::atomic<bool> wake_ready_{false};  // wake_ is set (release)
  WorkerCounters counters_;
  std::atomic<bool> stop_requested_{false};
  bool draining_ = false;
  std::int64_t drain_deadline_ns_ = 0;

  std::int64_t now_ns_ = 0;
  std::int64_t realtime_ns_ = 0;
  bool realtime_valid_ = false;
  std::int64_t next_tick_ns_ = 0;
  std::int64_t next_producer_sweep_ns_ = 0;  // 0: not yet scheduled

  absl::flat_hash_set<Session*> sessions_;
  absl::flat_hash_map<std::uint32_t, std::unique_ptr<LocalStream>>
      local_streams_;
  std::vector<LocalStream*> local_order_;
  absl::flat_hash_set<Session*> pattern_sessions_;
  std::uint32_t known_streams_ = 0;
  std::vector<Session*> dirty_;
  std::vector<Session*> flushing_;

  // UDP (when udp.enabled).
  const int udp_fd_;
  udp::UdpCounters udp_counters_;
  std::unique_ptr<udp::UdpIngress> udp_ingress_;
  std::unique_ptr<udp::UdpEgress> udp_egress_;
  // Commands from sessions on any worker; the flag spares the lock on the
  // loop's every iteration.
  std::mutex udp_mu_;
  std::vector<UdpCommand> udp_commands_;  // guarded by udp_mu_
  std::vector<UdpCommand> udp_running_;   // worker thread only
  std::atomic<bool> udp_commands_pending_{false};
};

}  // namespace tachyon::server

#endif  // TACHYON_SERVER_WORKER_H_
