#include "support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "gtest/gtest.h"

extern char** environ;

namespace tachyon::testing {

using Clock = std::chrono::steady_clock;

Process Process::Start(const std::vector<std::string>& argv) {
  Process p;
  int in[2], out[2], err[2];
  if (argv.empty() || ::pipe2(in, O_CLOEXEC) != 0 ||
      ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "cannot set up a child process: " << std::strerror(errno);
    return p;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  const int rc =
      posix_spawn(&p.pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  p.stdin_ = in[1];
  p.stdout_ = out[0];
  p.stderr_ = err[0];
  if (rc != 0) {
    ADD_FAILURE() << "spawn " << argv[0] << ": " << std::strerror(rc);
    p.pid_ = -1;
  }
  return p;
}

Process& Process::operator=(Process&& o) noexcept {
  std::swap(pid_, o.pid_);
  std::swap(stdin_, o.stdin_);
  std::swap(stdout_, o.stdout_);
  std::swap(stderr_, o.stderr_);
  std::swap(out_, o.out_);
  std::swap(err_, o.err_);
  return *this;
}

Process::~Process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  for (int fd : {stdin_, stdout_, stderr_}) {
    if (fd >= 0) ::close(fd);
  }
}

void Process::Write(std::string_view text) {
  ASSERT_EQ(::write(stdin_, text.data(), text.size()),
            static_cast<ssize_t>(text.size()));
}

void Process::CloseStdin() {
  if (stdin_ >= 0) ::close(stdin_);
  stdin_ = -1;
}

std::optional<std::smatch> Process::WaitForOutput(
    const std::regex& pattern, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    std::smatch m;
    if (std::regex_search(out_, m, pattern)) return m;
    if (Clock::now() > deadline || !Drain(deadline - Clock::now())) {
      return std::nullopt;
    }
  }
}

std::optional<std::smatch> Process::WaitForError(
    const std::regex& pattern, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    std::smatch m;
    if (std::regex_search(err_, m, pattern)) return m;
    if (Clock::now() > deadline || !Drain(deadline - Clock::now())) {
      return std::nullopt;
    }
  }
}

int Process::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (Clock::now() > deadline) {
      ADD_FAILURE() << "child " << pid_ << " did not exit in time; killed";
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      return -1;
    }
    Drain(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  // What it wrote before exiting; bounded, in case something it started
  // still holds the pipes open.
  const auto drain_deadline = Clock::now() + std::chrono::seconds(1);
  for (int i = 0; i < 100000 && Clock::now() < drain_deadline &&
                  Drain(std::chrono::milliseconds(10));
       ++i) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool Process::Signal(int sig) { return pid_ > 0 && ::kill(pid_, sig) == 0; }

bool Process::Drain(std::chrono::steady_clock::duration wait) {
  pollfd fds[2] = {{stdout_, POLLIN, 0}, {stderr_, POLLIN, 0}};
  const int ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(wait).count());
  if (::poll(fds, 2, std::max(ms, 0)) <= 0) {
    return stdout_ >= 0 || stderr_ >= 0;
  }
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

std::uint16_t StartGatewayWithArgs(Process* gateway,
                                   const std::string& gateway_binary,
                                   const std::vector<std::string>& args) {
  std::vector<std::string> argv = {gateway_binary};
  // An ephemeral admin port unless the test picks one: tests run gateways
  // in parallel, and the default port would collide.
  bool admin_port_given = false;
  for (const std::string& a : args) {
    if (a.starts_with("--admin_port")) admin_port_given = true;
  }
  if (!admin_port_given) argv.push_back("--admin_port=0");
  argv.insert(argv.end(), args.begin(), args.end());
  *gateway = Process::Start(argv);
  if (gateway->pid() <= 0) return 0;
  auto m = gateway->WaitForOutput(
      std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)"),
      std::chrono::seconds(10));
  if (!m.has_value()) return 0;
  return static_cast<std::uint16_t>(std::stoi((*m)[1].str()));
}

std::string StartGatewayProcess(Process* gateway,
                                const std::string& gateway_binary,
                                const std::string& source_dir,
                                std::vector<std::string> extra) {
  ::setenv("TACHYON_TOKEN", kDemoToken, 1);
  std::vector<std::string> args = {
      "--config",    source_dir + "/config/gateway.toml",
      "--port",      "0",
      "--udp_port",  "0",
      "--io",        "epoll",
      "--log_level", "warn"};
  args.insert(args.end(), extra.begin(), extra.end());
  const std::uint16_t port =
      StartGatewayWithArgs(gateway, gateway_binary, args);
  if (port == 0) {
    ADD_FAILURE() << "gateway did not start: " << gateway->err();
    return "";
  }
  return std::to_string(port);
}

int StopGatewayProcess(Process* gateway, std::chrono::milliseconds timeout) {
  gateway->Signal(SIGTERM);
  return gateway->Wait(timeout);
}

}  // namespace tachyon::testing
