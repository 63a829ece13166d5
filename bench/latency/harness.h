// The benchmark's process plumbing: child processes that report back over a
// pipe, a gateway started from the build on a generated config, clocks, and
// the machine description every result records.
//
// Children are created with fork() from a single-threaded parent and run a
// function; their result (a line of text, typically a serialized histogram
// plus counters) comes back through a pipe. Every child is stopped by its
// PID: it exits by itself, or is killed and reaped when its handle goes away.
#ifndef TACHYON_BENCH_LATENCY_HARNESS_H_
#define TACHYON_BENCH_LATENCY_HARNESS_H_

#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"

namespace tachyon::bench {

using base::MonotonicNs;

/// Returns at the CLOCK_MONOTONIC time `scheduled` (ns): spinning when
/// `spin`, else asleep until then (clock_nanosleep to the absolute time;
/// PreciseSleeps makes the wake-up prompt). A sleeping sender costs no CPU
/// between sends, so the CPU the gateway gets and the CPU the clients
/// record are what a real publisher leaves and uses; how late its wake-ups
/// are is recorded beside the latency (Result::send_lag), since open-loop
/// senders time from the schedule and a late one counts as latency.
inline void WaitUntilNs(std::int64_t scheduled, bool spin) {
  // Already late: no call at all. A clock_nanosleep for a time just past
  // can still arm a timer and sleep until it fires, which on a VM costs a
  // wake-up (tens of µs): a publisher 20 µs apart that paid it on every
  // send could never catch up with its schedule.
  if (!spin && MonotonicNs() < scheduled) {
    const timespec ts{static_cast<time_t>(scheduled / 1'000'000'000),
                      static_cast<long>(scheduled % 1'000'000'000)};
    // Bounded: EINTR only, each retry for the same absolute time.
    for (int i = 0; i < 100 && ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
                                                 &ts, nullptr) == EINTR;
         ++i) {
    }
  }
  while (MonotonicNs() < scheduled) {
  }
}

/// Sets this process's timer slack to 1 ns (default 50 µs), so the sleeps
/// of WaitUntilNs and blocking client Polls end when asked; inherited by
/// forked children. The gateway under test gets the default back.
void PreciseSleeps();

/// CPU time (user + system) of process `pid` so far, all its threads (those
/// that exited included), in seconds, from utime + stime in /proc/<pid>/stat:
/// clock-tick resolution (10 ms at the usual 100 Hz); -1 when it cannot be
/// read.
double ProcessCpuSeconds(pid_t pid);

/// Moves the calling thread into the network namespace `name` (as `ip netns
/// add` made it, /var/run/netns/<name>); "" stays. False if setns failed.
/// Sockets keep the namespace they were created in.
bool EnterNetns(const std::string& name);

/// While alive, the calling thread is in namespace `name` ("" : where it
/// was); back where it came from afterwards.
class NetnsScope {
 public:
  explicit NetnsScope(const std::string& name);
  ~NetnsScope();
  NetnsScope(const NetnsScope&) = delete;
  NetnsScope& operator=(const NetnsScope&) = delete;
  [[nodiscard]] bool ok() const { return ok_; }

 private:
  int saved_ = -1;
  bool ok_ = true;
};
/// CPU time of this process (getrusage(RUSAGE_SELF)), in seconds.
double SelfCpuSeconds();

/// A forked child running a function; talks to the parent over two pipes.
class Child {
 public:
  /// The child's side: `Send` a line to the parent, `Receive` one from it.
  class Channel {
   public:
    Channel(int in, int out) : in_(in), out_(out) {}
    bool Send(const std::string& line);
    std::optional<std::string> Receive(std::chrono::milliseconds timeout);

   private:
    int in_;
    int out_;
    std::string buffer_;
  };

  /// Forks; the child runs `body` and exits with its return value.
  static std::unique_ptr<Child> Spawn(std::function<int(Channel&)> body);
  ~Child();

  [[nodiscard]] pid_t pid() const { return pid_; }
  bool Send(const std::string& line) { return channel_.Send(line); }
  std::optional<std::string> Receive(std::chrono::milliseconds timeout) {
    return channel_.Receive(timeout);
  }
  /// Waits for the child's exit (bounded); its exit code, or nullopt.
  std::optional<int> Wait(std::chrono::milliseconds timeout);

  /// CPU seconds of every child reaped so far in this process (by Wait or
  /// by the destructor), from wait4's resource usage: what the client
  /// processes of the workloads run so far cost.
  static double ReapedCpuSeconds();

 private:
  void Reaped(const struct rusage& usage);

  Child(pid_t pid, int in, int out) : pid_(pid), channel_(in, out) {}
  pid_t pid_;
  Channel channel_;
  bool reaped_ = false;
};

/// The [[backends]] pool keys W7 varies (config/model.h BackendService);
/// warm_at empty: no scheduled warm-up.
struct BackendPoolSettings {
  int max_in_flight_per_connection = 1;
  int pool_min = 1;
  int pool_max = 64;
  double prediction_ratio = 1.5;
  double prediction_per_session = 1.0;
  int prediction_horizon_ms = 500;
  int prediction_half_life_ms = 200;
  std::string warm_at;  // "HH:MM" UTC
  int warm_connections = 0;
  int warm_lead_ms = 0;
  int warm_hold_ms = 0;
};

/// How the gateway under test is configured.
struct GatewaySettings {
  std::string io = "auto";     // epoll | uring | auto
  std::string idle = "block";  // spin | backoff | block
  int spin_budget_us = -1;     // backoff's budget; -1: the gateway default
  int workers = 1;
  std::vector<int> cpus;  // worker pinning; empty: none
  // [udp]: ingress on an ephemeral port, and one [[udp.groups]] entry
  // sending `udp_group_stream` to 127.0.0.1:<each port>.
  bool udp = false;
  std::string udp_group_stream;
  std::vector<std::uint16_t> udp_destinations;
  // [[backends]]: the echo service (kBenchServiceId) at 127.0.0.1:<port>,
  // pool as shipped unless `backend_pool` says otherwise; 0: none.
  std::uint16_t backend_port = 0;
  std::optional<BackendPoolSettings> backend_pool;
  // The kernel-bypass runs (--fastpath): the gateway runs inside network
  // namespace `netns` (`ip netns exec`), its UDP bound to `udp_bind` on
  // `udp_port` (0: ephemeral), the [[udp.groups]] destinations on
  // `udp_destination_host`, and `fastpath_toml` (a [fastpath] table)
  // appended to its config.
  std::string netns;
  std::string udp_bind;
  std::uint16_t udp_port = 0;
  std::string udp_destination_host = "127.0.0.1";
  std::string fastpath_toml;
  // [tls]: a TLS listener (ephemeral port) beside the plain one, with
  // <tls_dir>/server.pem and server.key; empty: none.
  std::string tls_dir;
};

/// A tachyon-gateway process started from the build on a generated config.
class GatewayUnderTest {
 public:
  static std::unique_ptr<GatewayUnderTest> Start(const std::string& binary,
                                                 const GatewaySettings& s,
                                                 std::string* error);
  ~GatewayUnderTest();
  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] pid_t pid() const { return pid_; }
  /// CPU seconds the gateway process has used so far (ProcessCpuSeconds).
  [[nodiscard]] double CpuSeconds() const { return ProcessCpuSeconds(pid_); }
  /// The UDP ingress port the gateway printed; 0 when it serves no UDP.
  [[nodiscard]] std::uint16_t udp_port() const { return udp_port_; }
  /// The TLS listener's port the gateway printed; 0 without [tls].
  [[nodiscard]] std::uint16_t tls_port() const { return tls_port_; }
  /// The backend line the gateway printed ("io_uring (configured): ...").
  [[nodiscard]] const std::string& backend() const { return backend_; }
  /// SIGTERM, then wait (bounded); true if it exited 0.
  bool Stop();
  /// After Stop(): the UDP counters the gateway logged at shutdown
  /// ("N datagrams in, ... kernel drops; M datagrams out"), cumulative over
  /// its life; empty when it logged none.
  [[nodiscard]] const std::string& udp_counters() const {
    return udp_counters_;
  }
  /// After Stop(): the bench service's totals the gateway logged at
  /// shutdown ("N requests (ok N), W waited for a connection, C connects,
  /// ..."); empty when it logged none.
  [[nodiscard]] const std::string& backend_counters() const {
    return backend_counters_;
  }

 private:
  void ReadShutdownLog();

  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::uint16_t port_ = 0;
  std::uint16_t udp_port_ = 0;
  std::uint16_t tls_port_ = 0;
  std::string backend_;
  std::string udp_counters_;
  std::string backend_counters_;
  std::string config_path_;
};

/// CPU model, cores, kernel, commit: recorded with every result.
struct MachineInfo {
  std::string cpu_model;
  int cores = 0;
  std::string kernel;
  std::string commit;
  std::string hostname;
};
MachineInfo DescribeMachine();

/// Pins the calling process to `cpu` (best effort; false on failure).
bool PinToCpu(int cpu);

}  // namespace tachyon::bench

#endif  // TACHYON_BENCH_LATENCY_HARNESS_H_
