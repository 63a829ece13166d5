// A blocking, deliberately simple protocol client for integration tests: it
// speaks raw frames over a real TCP socket so tests can send anything,
// malformed input included, and inspect every frame the gateway sends.
#ifndef TACHYON_TESTS_SUPPORT_TEST_CLIENT_H_
#define TACHYON_TESTS_SUPPORT_TEST_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "support/frame_reader.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::testing {

/// One frame received, owning its bytes.
struct Frame {
  std::vector<std::byte> bytes;  // unpadded
  [[nodiscard]] protocol::FrameView view() const {
    return protocol::FrameView(bytes);
  }
  [[nodiscard]] protocol::MessageType type() const { return view().type(); }
};

class TestClient {
 public:
  /// Connects to 127.0.0.1:port; `rcvbuf` > 0 shrinks SO_RCVBUF first (to
  /// make a slow consumer).
  static std::unique_ptr<TestClient> Connect(std::uint16_t port,
                                             int rcvbuf = 0);
  /// Connects to 127.0.0.1:port from `source_ip` (another loopback
  /// address such as "127.0.0.2": the socket is bound to it first), so
  /// that tests can play distinct peer addresses.
  static std::unique_ptr<TestClient> ConnectFrom(std::uint16_t port,
                                                 const char* source_ip);
  /// A client over `fd`, already connected (e.g. from a chosen source
  /// address); owns and closes it.
  static std::unique_ptr<TestClient> Adopt(int fd) {
    return std::unique_ptr<TestClient>(new TestClient(fd));
  }
  ~TestClient();

  int fd() const { return fd_; }
  bool SendRaw(std::span<const std::byte> bytes);
  /// Sends SERVICE_LOOKUP `name` (protocol version 3: Logon with
  /// max_version 3 first); false if it could not be encoded or sent.
  bool SendServiceLookup(std::uint64_t correlation, std::string_view name);

  /// The next frame within `timeout`, or nullopt on timeout, EOF or a
  /// malformed frame (see eof() / decode_error()).
  std::optional<Frame> Read(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  /// The next frame that is not a HEARTBEAT.
  std::optional<Frame> ReadSkippingHeartbeats(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  /// True once the gateway closed the connection.
  bool WaitForEof(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  bool eof() const { return reader_.eof(); }
  protocol::ErrorCode decode_error() const { return reader_.error(); }

  // Helpers that send one request and (where the protocol answers) wait for
  // the answer, skipping heartbeats. They return nullopt/0 on failure.
  // Test clients never heartbeat on their own, so Logon asks for a 10 s
  // interval by default: sanitizer builds can be slow enough to reach the
  // gateway's (correct) idle timeout of three silent intervals otherwise.
  std::optional<Frame> Logon(std::string_view token = "",
                             std::uint32_t heartbeat_ms = 10000,
                             std::uint16_t min_version = 1,
                             std::uint16_t max_version = 1);
  /// OPEN_STREAM; returns the stream id (0 on failure).
  StreamId Open(std::string_view name, std::uint32_t request_id = 1);
  bool SendSubscribe(std::uint32_t sub_id, std::string_view name,
                     protocol::StartMode mode = protocol::StartMode::kLatest,
                     std::uint64_t start_sequence = 0);
  /// SUBSCRIBE then wait for its first SUBSCRIBE_ACK.
  std::optional<Frame> Subscribe(
      std::uint32_t sub_id, std::string_view name,
      protocol::StartMode mode = protocol::StartMode::kLatest,
      std::uint64_t start_sequence = 0);
  bool Publish(StreamId stream, std::span<const std::byte> payload,
               std::uint64_t correlation = 0, bool ack = false);
  bool Publish(StreamId stream, std::string_view payload,
               std::uint64_t correlation = 0, bool ack = false) {
    return Publish(stream, protocol::AsBytes(payload), correlation, ack);
  }
  /// `count` PUBLISH frames of `payload` (no ack) in one write, so that the
  /// gateway takes them in as few reads as the sizes allow.
  bool PublishBurst(StreamId stream, int count, std::string_view payload);
  bool SendHeartbeat();

 private:
  explicit TestClient(int fd);
  int fd_;
  FrameReader reader_;
  std::vector<std::byte> out_;
};

/// Payload text of a DATA frame.
std::string PayloadText(const Frame& f);

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_SUPPORT_TEST_CLIENT_H_
