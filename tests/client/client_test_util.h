// Helpers for the client tests: polling until a condition holds (bounded),
// a free loopback port, and a scriptable fake server — a plain listening
// socket whose one connection a test drives byte by byte, to feed the client
// garbage, silence or hand-made frames.
#ifndef TACHYON_TESTS_CLIENT_CLIENT_TEST_UTIL_H_
#define TACHYON_TESTS_CLIENT_CLIENT_TEST_UTIL_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tachyon/client/client.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::testing {

using namespace std::chrono_literals;

/// Calls client.Poll until `done()` or `timeout`; false on timeout or a
/// Poll error (recorded as a test failure).
inline bool PollUntil(client::Client& c, const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    absl::StatusOr<int> n = c.Poll(client::Client::kDefaultPollLimit, 10ms);
    if (!n.ok()) {
      ADD_FAILURE() << "Poll: " << n.status();
      return false;
    }
  }
  return true;
}

/// A loopback port (TCP, or UDP with SOCK_DGRAM) nothing is bound to
/// (bound, then closed).
inline std::uint16_t UnusedPort(int type = SOCK_STREAM) {
  const int fd = ::socket(AF_INET, type, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// The far end of one fake-server connection, as seen by a script.
class FakePeer {
 public:
  explicit FakePeer(int fd)
      : fd_(fd),
        storage_(2 * protocol::FrameDecoder::MinStorage(
                         protocol::kDefaultMaxFrameLength)),
        decoder_(storage_, protocol::kDefaultMaxFrameLength) {}

  int fd() const { return fd_; }
  void Send(std::span<const std::byte> bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n =
          ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }
  void Send(std::string_view text) { Send(protocol::AsBytes(text)); }
  /// Encodes with `encode(buffer)` -> bytes written, then sends.
  template <typename F>
  void SendFrame(F encode) {
    std::vector<std::byte> buf(4096);
    const std::size_t n = encode(std::span<std::byte>(buf));
    Send({buf.data(), n});
  }
  /// The next frame the client sends (copied), or nullopt on EOF/timeout.
  std::optional<std::vector<std::byte>> ReadFrame(
      std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const protocol::DecodeResult r = decoder_.Next();
      if (r.status == protocol::DecodeStatus::kFrame) {
        const auto b = r.frame.bytes();
        return std::vector<std::byte>(b.begin(), b.end());
      }
      if (r.status == protocol::DecodeStatus::kError) return std::nullopt;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      const auto space = decoder_.WritableSpan();
      const ssize_t n = ::recv(fd_, space.data(), space.size(), 0);
      if (n <= 0) return std::nullopt;
      decoder_.Commit(static_cast<std::size_t>(n));
    }
  }
  /// Reads LOGON and answers LOGON_ACK (heartbeat `heartbeat_ms`).
  bool AcceptLogon(
      std::uint32_t heartbeat_ms = 1000,
      std::uint32_t max_frame_length = protocol::kDefaultMaxFrameLength) {
    auto logon = ReadFrame();
    if (!logon ||
        protocol::FrameView(*logon).type() != protocol::MessageType::kLogon) {
      return false;
    }
    SendFrame([&](std::span<std::byte> out) {
      return protocol::EncodeLogonAck(out,
                                      {.heartbeat_interval_ms = heartbeat_ms,
                                       .session_id = SessionId{1},
                                       .max_frame_length = max_frame_length});
    });
    return true;
  }
  /// Waits until the client closes its end (or `timeout`).
  bool WaitForClose(std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::byte sink[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      if (::recv(fd_, sink, sizeof sink, 0) <= 0) return true;
    }
    return false;
  }

 private:
  int fd_;
  std::vector<std::byte> storage_;
  protocol::FrameDecoder decoder_;
};

/// Listens on 127.0.0.1:0 and runs `script` on the first connection in a
/// thread. The destructor waits for the script, then closes everything.
class FakeServer {
 public:
  explicit FakeServer(std::function<void(FakePeer&)> script)
      : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 4);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 10000) <= 0) return;
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      FakePeer peer(fd);
      script_(peer);
      ::close(fd);
    });
  }
  ~FakeServer() {
    thread_.join();
    ::close(listen_fd_);
  }
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  std::function<void(FakePeer&)> script_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_CLIENT_CLIENT_TEST_UTIL_H_
