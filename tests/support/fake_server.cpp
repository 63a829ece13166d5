#include "support/fake_server.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/net.h"

namespace tachyon::testing {

namespace tp = ::tachyon::protocol;

FakePeer::FakePeer(int fd) : fd_(fd), reader_(tp::kDefaultMaxFrameLength) {}

void FakePeer::Send(std::span<const std::byte> bytes) {
  (void)SendAll(fd_, bytes);  // a client that hung up is the script's case
}

std::optional<std::vector<std::byte>> FakePeer::ReadFrame(
    std::chrono::milliseconds timeout) {
  return reader_.Read(fd_, timeout);
}

bool FakePeer::AcceptLogon(std::uint32_t heartbeat_ms,
                           std::uint32_t max_frame_length) {
  auto logon = ReadFrame();
  if (!logon || tp::FrameView(*logon).type() != tp::MessageType::kLogon) {
    return false;
  }
  SendFrame([&](std::span<std::byte> out) {
    return tp::EncodeLogonAck(out, {.heartbeat_interval_ms = heartbeat_ms,
                                    .session_id = SessionId{1},
                                    .max_frame_length = max_frame_length});
  });
  return true;
}

bool FakePeer::WaitForClose(std::chrono::milliseconds timeout) {
  return reader_.eof() || DrainUntilEof(fd_, timeout);
}

FakeServer::FakeServer(std::function<void(FakePeer&)> script)
    : script_(std::move(script)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = LoopbackAddress(0);
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::listen(listen_fd_, 4);
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    FakePeer peer(fd);
    script_(peer);
    ::close(fd);
  });
}

FakeServer::~FakeServer() {
  thread_.join();
  ::close(listen_fd_);
}

}  // namespace tachyon::testing
