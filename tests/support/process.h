// Child processes for tests that run the built binaries (the gateway, the
// tools, the examples, a package consumer): pipes on stdin, stdout and
// stderr, every wait bounded by a deadline, and the child always stopped by
// its PID — a child that overruns a Wait is killed, and the destructor kills
// and reaps whatever is still running.
//
// Example
//   Process gateway;
//   const std::string port = StartGatewayProcess(&gateway, TACHYON_GATEWAY_BIN,
//                                                TACHYON_SOURCE_DIR);
//   ASSERT_FALSE(port.empty());
//   Process sub = Process::Start({TACHYON_SUB_BIN, "--port", port, ...});
//   ASSERT_EQ(sub.Wait(std::chrono::seconds(10)), 0) << sub.err();
//   EXPECT_EQ(StopGatewayProcess(&gateway), 0) << gateway.err();
#ifndef TACHYON_TESTS_SUPPORT_PROCESS_H_
#define TACHYON_TESTS_SUPPORT_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace tachyon::testing {

class Process {
 public:
  /// Starts argv[0] (a path) with `argv`. A failure to start is a test
  /// failure; the Process then has pid() < 0 and Wait() returns -1.
  static Process Start(const std::vector<std::string>& argv);

  Process() = default;
  Process(Process&& o) noexcept { *this = std::move(o); }
  Process& operator=(Process&& o) noexcept;
  /// SIGKILL and reap the child if it is still running.
  ~Process();

  [[nodiscard]] pid_t pid() const { return pid_; }
  /// Writes `text` to the child's stdin (a test failure if it cannot).
  void Write(std::string_view text);
  void CloseStdin();
  /// Reads stdout until it matches `pattern` (the match), the child closed
  /// stdout and stderr, or `timeout` (nullopt).
  std::optional<std::smatch> WaitForOutput(const std::regex& pattern,
                                           std::chrono::milliseconds timeout);
  /// WaitForOutput for stderr (where the gateway logs).
  std::optional<std::smatch> WaitForError(const std::regex& pattern,
                                          std::chrono::milliseconds timeout);
  /// Waits for the child to exit, collecting its output. Returns the exit
  /// code, or -1 if it died by a signal or had to be killed after `timeout`
  /// (a test failure).
  int Wait(std::chrono::milliseconds timeout);
  /// Sends `sig` to the child by its PID; false if it is not running.
  bool Signal(int sig);
  /// What the child wrote so far to stdout / stderr.
  [[nodiscard]] const std::string& out() const { return out_; }
  [[nodiscard]] const std::string& err() const { return err_; }

 private:
  // Reads what stdout and stderr have within `wait`; false once both are
  // at EOF.
  bool Drain(std::chrono::steady_clock::duration wait);

  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  int stderr_ = -1;
  std::string out_;
  std::string err_;
};

/// Starts the tachyon-gateway binary `gateway_binary` with `args` and waits
/// (up to 10 s) for it to print "listening on 127.0.0.1:<port>"; adds
/// --admin_port=0 unless `args` set the admin port. Returns the
/// port, or 0 if it exited or did not print it in time; `gateway` then holds
/// what it printed (for the caller's failure message).
std::uint16_t StartGatewayWithArgs(Process* gateway,
                                   const std::string& gateway_binary,
                                   const std::vector<std::string>& args);

/// The LOGON token of the shipped config's loopback-only principal "demo"
/// (config/gateway.toml, README "Quick tour").
inline constexpr const char* kDemoToken = "demo:demo-secret";

/// Starts the gateway with the documented default config
/// (`source_dir`/config/gateway.toml) on ephemeral TCP and UDP loopback
/// ports, with epoll and warnings only, plus `extra` flags. Returns the TCP
/// port as text, or "" (with a test failure) if it did not start. That
/// config admits no anonymous LOGON: it also sets TACHYON_TOKEN to
/// kDemoToken in this process's environment, which the tools, the examples
/// and the package consumers it starts inherit and log on with.
std::string StartGatewayProcess(Process* gateway,
                                const std::string& gateway_binary,
                                const std::string& source_dir,
                                std::vector<std::string> extra = {});

/// SIGTERM, then the exit code within `timeout` (-1 if it had to be killed).
int StopGatewayProcess(Process* gateway, std::chrono::milliseconds timeout =
                                             std::chrono::milliseconds(10000));

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_SUPPORT_PROCESS_H_
