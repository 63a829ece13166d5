#include "support/test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>

#include "support/net.h"
#include "tachyon/protocol/request_messages.h"

namespace tachyon::testing {

namespace tp = ::tachyon::protocol;
using Clock = std::chrono::steady_clock;

std::unique_ptr<TestClient> TestClient::Connect(std::uint16_t port,
                                                int rcvbuf) {
  const int fd = ConnectLoopback(port, rcvbuf);
  if (fd < 0) return nullptr;
  return std::unique_ptr<TestClient>(new TestClient(fd));
}

std::unique_ptr<TestClient> TestClient::ConnectFrom(std::uint16_t port,
                                                    const char* source_ip) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in source{};
  source.sin_family = AF_INET;
  if (::inet_pton(AF_INET, source_ip, &source.sin_addr) != 1 ||
      ::bind(fd, reinterpret_cast<const sockaddr*>(&source), sizeof source) !=
          0) {
    ::close(fd);
    return nullptr;
  }
  const sockaddr_in addr = LoopbackAddress(port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) !=
      0) {
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<TestClient>(new TestClient(fd));
}

TestClient::TestClient(int fd)
    : fd_(fd),
      reader_(tp::kMaxFrameLengthCeiling / 64),
      out_(tp::kMaxFrameLengthCeiling / 64 + 64) {}

TestClient::~TestClient() { ::close(fd_); }

bool TestClient::SendRaw(std::span<const std::byte> bytes) {
  return SendAll(fd_, bytes);
}

std::optional<Frame> TestClient::Read(std::chrono::milliseconds timeout) {
  std::optional<std::vector<std::byte>> bytes = reader_.Read(fd_, timeout);
  if (!bytes) return std::nullopt;
  return Frame{std::move(*bytes)};
}

std::optional<Frame> TestClient::ReadSkippingHeartbeats(
    std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    std::optional<Frame> f = Read(left);
    if (!f || f->type() != tp::MessageType::kHeartbeat) return f;
  }
}

bool TestClient::WaitForEof(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!reader_.eof()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) return false;
    if (!Read(left) && reader_.error() != tp::ErrorCode::kNone) {
      // Undecodable bytes: drain the socket raw until EOF.
      if (!DrainUntilEof(fd_, left)) return false;
      reader_.set_eof();
    }
  }
  return true;
}

bool TestClient::SendServiceLookup(std::uint64_t correlation,
                                   std::string_view name) {
  std::array<std::byte, 128> buf;
  const std::size_t n = protocol::EncodeServiceLookup(
      buf, {.correlation_id = correlation, .name = name});
  return n != 0 && SendRaw(std::span(buf).first(n));
}

std::optional<Frame> TestClient::Logon(std::string_view token,
                                       std::uint32_t heartbeat_ms,
                                       std::uint16_t min_version,
                                       std::uint16_t max_version) {
  const std::size_t n =
      tp::EncodeLogon(out_, {.min_version = min_version,
                             .max_version = max_version,
                             .heartbeat_interval_ms = heartbeat_ms,
                             .token = token,
                             .client_name = "test-client"});
  if (!SendRaw({out_.data(), n})) return std::nullopt;
  return ReadSkippingHeartbeats();
}

StreamId TestClient::Open(std::string_view name, std::uint32_t request_id) {
  const std::size_t n = tp::EncodeOpenStream(out_, request_id, name);
  if (!SendRaw({out_.data(), n})) return StreamId{};
  std::optional<Frame> f = ReadSkippingHeartbeats();
  if (!f || f->type() != tp::MessageType::kOpenStreamAck) return StreamId{};
  return f->view().stream_id();
}

bool TestClient::SendSubscribe(std::uint32_t sub_id, std::string_view name,
                               tp::StartMode mode,
                               std::uint64_t start_sequence) {
  const std::size_t n =
      tp::EncodeSubscribe(out_, {.subscription_id = SubscriptionId{sub_id},
                                 .start = mode,
                                 .start_sequence = Sequence{start_sequence},
                                 .name = name});
  return SendRaw({out_.data(), n});
}

std::optional<Frame> TestClient::Subscribe(std::uint32_t sub_id,
                                           std::string_view name,
                                           tp::StartMode mode,
                                           std::uint64_t start_sequence) {
  if (!SendSubscribe(sub_id, name, mode, start_sequence)) return std::nullopt;
  return ReadSkippingHeartbeats();
}

bool TestClient::Publish(StreamId stream, std::span<const std::byte> payload,
                         std::uint64_t correlation, bool ack) {
  const std::size_t n =
      tp::EncodePublish(out_, stream, correlation, payload,
                        ack ? tp::AckMode::kRequested : tp::AckMode::kNone);
  return n != 0 && SendRaw({out_.data(), n});
}

bool TestClient::PublishBurst(StreamId stream, int count,
                              std::string_view payload) {
  const std::size_t frame =
      tp::PaddedLength(tp::PublishView::kFixedLength + payload.size());
  std::vector<std::byte> burst(static_cast<std::size_t>(count) * frame);
  for (std::size_t at = 0; at < burst.size(); at += frame) {
    if (tp::EncodePublish(std::span(burst.data() + at, frame), stream, 0,
                          tp::AsBytes(payload)) != frame) {
      return false;
    }
  }
  return SendRaw(burst);
}

bool TestClient::SendHeartbeat() {
  const std::size_t n = tp::EncodeHeartbeat(out_, 0);
  return SendRaw({out_.data(), n});
}

std::string PayloadText(const Frame& f) {
  const auto p = tp::DataView(f.view()).payload();
  return std::string(reinterpret_cast<const char*>(p.data()), p.size());
}

}  // namespace tachyon::testing
