// A scriptable fake server: a plain listening socket on loopback whose first
// connection a test drives byte by byte, to feed a client garbage, silence
// or hand-made frames, and to see exactly what the client sends.
//
// Example
//   FakeServer server([](FakePeer& peer) {
//     ASSERT_TRUE(peer.AcceptLogon());
//     peer.Send("garbage");
//     EXPECT_TRUE(peer.WaitForClose());
//   });
//   auto c = client::Client::Connect("127.0.0.1", server.port(), options);
//
// Threading: the script runs on the server's own thread; anything it shares
// with the test is the test's to synchronise (or read after the FakeServer
// is destroyed, which joins the thread).
#ifndef TACHYON_TESTS_SUPPORT_FAKE_SERVER_H_
#define TACHYON_TESTS_SUPPORT_FAKE_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

#include "support/frame_reader.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::testing {

/// The server's end of one connection, as a script sees it.
class FakePeer {
 public:
  explicit FakePeer(int fd);

  [[nodiscard]] int fd() const { return fd_; }
  /// Sends all of `bytes` (stops quietly if the client has gone).
  void Send(std::span<const std::byte> bytes);
  void Send(std::string_view text) { Send(protocol::AsBytes(text)); }
  /// Encodes a frame with `encode(buffer)` -> bytes written, then sends it.
  template <typename F>
  void SendFrame(F encode) {
    std::vector<std::byte> buf(4096);
    const std::size_t n = encode(std::span<std::byte>(buf));
    Send({buf.data(), n});
  }
  /// The next frame the client sends (copied), or nullopt on EOF, a
  /// malformed frame or `timeout`.
  std::optional<std::vector<std::byte>> ReadFrame(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  /// Reads LOGON and answers LOGON_ACK granting `heartbeat_ms`.
  bool AcceptLogon(
      std::uint32_t heartbeat_ms = 1000,
      std::uint32_t max_frame_length = protocol::kDefaultMaxFrameLength);
  /// Reads (and discards) until the client closes its end: true, or false
  /// after `timeout`.
  bool WaitForClose(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

 private:
  int fd_;
  FrameReader reader_;
};

/// Listens on 127.0.0.1:0 and runs `script` on the first connection, in a
/// thread. Waits at most 10 s for that connection. The destructor joins the
/// script, then closes everything.
class FakeServer {
 public:
  explicit FakeServer(std::function<void(FakePeer&)> script);
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  std::function<void(FakePeer&)> script_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_SUPPORT_FAKE_SERVER_H_
