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

#include <sys/types.h>
#include <time.h>

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

/// Returns at the CLOCK_MONOTONIC time `scheduled` (ns): spinning, or with
/// `spin` false sleeping most of the way and spinning the last 50 µs, since
/// a sender that wakes late on a loaded host would count its own lateness as
/// gateway latency (open-loop senders time from the schedule).
inline void WaitUntilNs(std::int64_t scheduled, bool spin) {
  for (std::int64_t now = MonotonicNs(); now < scheduled; now = MonotonicNs()) {
    if (!spin && scheduled - now > 100'000) {
      const timespec ts{0, scheduled - now - 50'000};
      ::nanosleep(&ts, nullptr);
    }
  }
}

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

 private:
  Child(pid_t pid, int in, int out) : pid_(pid), channel_(in, out) {}
  pid_t pid_;
  Channel channel_;
  bool reaped_ = false;
};

/// How the gateway under test is configured.
struct GatewaySettings {
  std::string io = "auto";     // epoll | uring | auto
  std::string idle = "block";  // spin | backoff | block
  int workers = 1;
  std::vector<int> cpus;  // worker pinning; empty: none
  // [udp]: ingress on an ephemeral port, and one [[udp.groups]] entry
  // sending `udp_group_stream` to 127.0.0.1:<each port>.
  bool udp = false;
  std::string udp_group_stream;
  std::vector<std::uint16_t> udp_destinations;
};

/// A tachyon-gateway process started from the build on a generated config.
class GatewayUnderTest {
 public:
  static std::unique_ptr<GatewayUnderTest> Start(const std::string& binary,
                                                 const GatewaySettings& s,
                                                 std::string* error);
  ~GatewayUnderTest();
  [[nodiscard]] std::uint16_t port() const { return port_; }
  /// The UDP ingress port the gateway printed; 0 when it serves no UDP.
  [[nodiscard]] std::uint16_t udp_port() const { return udp_port_; }
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

 private:
  void ReadShutdownLog();

  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::uint16_t port_ = 0;
  std::uint16_t udp_port_ = 0;
  std::string backend_;
  std::string udp_counters_;
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
