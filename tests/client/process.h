// A child process with pipes on stdin, stdout and stderr, for tests that
// run the built binaries (the gateway, the tools, a package consumer). Every
// wait has a deadline; a child that overruns is killed, and the destructor
// kills whatever is still running.
#ifndef TACHYON_TESTS_CLIENT_PROCESS_H_
#define TACHYON_TESTS_CLIENT_PROCESS_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"

extern char** environ;

namespace tachyon::testing {

// A child process with pipes on stdin, stdout and stderr.
class Process {
 public:
  static Process Start(const std::vector<std::string>& argv) {
    Process p;
    int in[2], out[2], err[2];
    EXPECT_EQ(::pipe2(in, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(err, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc =
        posix_spawn(&p.pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(rc, 0) << "spawn " << argv[0] << ": " << std::strerror(rc);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    p.stdin_ = in[1];
    p.stdout_ = out[0];
    p.stderr_ = err[0];
    return p;
  }

  Process() = default;
  Process(Process&& o) noexcept { *this = std::move(o); }
  Process& operator=(Process&& o) noexcept {
    std::swap(pid_, o.pid_);
    std::swap(stdin_, o.stdin_);
    std::swap(stdout_, o.stdout_);
    std::swap(stderr_, o.stderr_);
    std::swap(out_, o.out_);
    std::swap(err_, o.err_);
    return *this;
  }
  ~Process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    for (int fd : {stdin_, stdout_, stderr_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  pid_t pid() const { return pid_; }
  void Write(std::string_view text) {
    ASSERT_EQ(::write(stdin_, text.data(), text.size()),
              static_cast<ssize_t>(text.size()));
  }
  void CloseStdin() {
    ::close(stdin_);
    stdin_ = -1;
  }
  /// Reads stdout until it contains `pattern` or `timeout`; returns the match.
  std::optional<std::smatch> WaitForOutput(const std::regex& pattern,
                                           std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::smatch m;
      if (std::regex_search(out_, m, pattern)) return m;
      if (std::chrono::steady_clock::now() > deadline ||
          !Drain(deadline - std::chrono::steady_clock::now())) {
        return std::nullopt;
      }
    }
  }
  /// Waits for exit (collecting output); SIGKILL after `timeout`. Returns
  /// the exit code, or -1 if it had to be killed or died by a signal.
  int Wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    for (;;) {
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) break;
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "child " << pid_ << " did not exit in time; killed";
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return -1;
      }
      Drain(std::chrono::milliseconds(10));
    }
    pid_ = -1;
    while (Drain(std::chrono::milliseconds(0))) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  void Signal(int sig) { ::kill(pid_, sig); }
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

 private:
  // Reads whatever stdout/stderr have; false once both are at EOF.
  bool Drain(std::chrono::steady_clock::duration wait) {
    pollfd fds[2] = {{stdout_, POLLIN, 0}, {stderr_, POLLIN, 0}};
    const int ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(wait).count());
    if (::poll(fds, 2, std::max(ms, 0)) <= 0)
      return stdout_ >= 0 || stderr_ >= 0;
    char buf[4096];
    bool open = false;
    for (int i = 0; i < 2; ++i) {
      int& fd = i == 0 ? stdout_ : stderr_;
      if (fd < 0) continue;
      if (fds[i].revents & (POLLIN | POLLHUP)) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
          (i == 0 ? out_ : err_).append(buf, static_cast<std::size_t>(n));
        } else {
          ::close(fd);
          fd = -1;
          continue;
        }
      }
      open = true;
    }
    return open;
  }

  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  int stderr_ = -1;
  std::string out_;
  std::string err_;
};

/// Starts `gateway_binary` (tachyon-gateway) with the default config on an
/// ephemeral loopback port (epoll, warnings only, plus `extra` flags) and
/// waits for it to print where it listens (UDP, which the default config
/// enables, on an ephemeral port too). Returns the port, or "" (with a
/// test failure) if it did not start within 10 s.
inline std::string StartGatewayProcess(Process* gateway,
                                       const std::string& gateway_binary,
                                       const std::string& source_dir,
                                       std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {gateway_binary,
                                   "--config",
                                   source_dir + "/config/gateway.toml",
                                   "--port",
                                   "0",
                                   "--udp_port",
                                   "0",
                                   "--io",
                                   "epoll",
                                   "--log_level",
                                   "warn"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  *gateway = Process::Start(argv);
  auto m = gateway->WaitForOutput(
      std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)"),
      std::chrono::seconds(10));
  if (!m.has_value()) {
    ADD_FAILURE() << "gateway did not start: " << gateway->err();
    return "";
  }
  return (*m)[1].str();
}

/// SIGTERM, then the exit status within `timeout` (-1 if killed).
inline int StopGatewayProcess(
    Process* gateway,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
  gateway->Signal(SIGTERM);
  return gateway->Wait(timeout);
}

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_CLIENT_PROCESS_H_
