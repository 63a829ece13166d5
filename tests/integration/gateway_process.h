// Runs the built tachyon-gateway binary as a child process for tests that
// need a real process (signals, exit codes, the command line). The child is
// always stopped by its PID: SIGTERM by the test, SIGKILL in the destructor
// if it is still running.
#ifndef TACHYON_TESTS_INTEGRATION_GATEWAY_PROCESS_H_
#define TACHYON_TESTS_INTEGRATION_GATEWAY_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tachyon::testing {

class GatewayProcess {
 public:
  /// Starts `binary` with `args` and waits (bounded) for its "listening on
  /// host:port" line. Returns nullptr if it did not start; `output` then
  /// holds what it printed.
  static std::unique_ptr<GatewayProcess> Start(
      const std::string& binary, const std::vector<std::string>& args,
      std::string* output = nullptr);
  ~GatewayProcess();

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] pid_t pid() const { return pid_; }
  /// Sends `sig` to the child.
  bool Signal(int sig);
  /// Waits up to `timeout` for the child to exit; its exit status (as from
  /// waitpid) or nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  /// Everything the child wrote to stdout and stderr so far.
  std::string Output();

 private:
  GatewayProcess(pid_t pid, int out_fd) : pid_(pid), out_fd_(out_fd) {}
  void Drain(int timeout_ms);

  pid_t pid_;
  int out_fd_;
  std::uint16_t port_ = 0;
  bool reaped_ = false;
  std::string output_;
};

/// Path of the built gateway binary.
std::string GatewayBinary();

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_INTEGRATION_GATEWAY_PROCESS_H_
