#include "gateway_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>
#include <thread>

namespace tachyon::testing {

using Clock = std::chrono::steady_clock;

std::string GatewayBinary() {
  return std::string(TACHYON_BINARY_DIR) + "/src/tachyon-gateway";
}

std::unique_ptr<GatewayProcess> GatewayProcess::Start(
    const std::string& binary, const std::vector<std::string>& args,
    std::string* output) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return nullptr;
  std::vector<std::string> argv_storage{binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return nullptr;
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::unique_ptr<GatewayProcess> p(new GatewayProcess(pid, pipe_fds[0]));
  const std::regex listening("listening on [^ ]*:([0-9]+)");
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    p->Drain(100);
    std::smatch m;
    if (std::regex_search(p->output_, m, listening)) {
      p->port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
      return p;
    }
    if (p->Wait(std::chrono::milliseconds(0)).has_value()) break;
  }
  if (output != nullptr) *output = p->Output();
  return nullptr;  // the destructor kills and reaps the child
}

GatewayProcess::~GatewayProcess() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
  ::close(out_fd_);
}

bool GatewayProcess::Signal(int sig) { return ::kill(pid_, sig) == 0; }

std::optional<int> GatewayProcess::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      Drain(0);
      return status;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    Drain(10);
  }
}

std::string GatewayProcess::Output() {
  Drain(0);
  return output_;
}

void GatewayProcess::Drain(int timeout_ms) {
  pollfd p{out_fd_, POLLIN, 0};
  while (::poll(&p, 1, timeout_ms) > 0) {
    char buf[4096];
    const ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n <= 0) return;
    output_.append(buf, static_cast<std::size_t>(n));
    timeout_ms = 0;
  }
}

}  // namespace tachyon::testing
