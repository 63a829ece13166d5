#include "test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tachyon::testing {

namespace tp = ::tachyon::protocol;
using Clock = std::chrono::steady_clock;

std::unique_ptr<TestClient> TestClient::Connect(std::uint16_t port,
                                                int rcvbuf) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  if (rcvbuf > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<TestClient>(new TestClient(fd));
}

TestClient::TestClient(int fd)
    : fd_(fd),
      storage_(2 *
               tp::FrameDecoder::MinStorage(tp::kMaxFrameLengthCeiling / 64)),
      decoder_(storage_, tp::kMaxFrameLengthCeiling / 64),
      out_(tp::kMaxFrameLengthCeiling / 64 + 64) {}

TestClient::~TestClient() { ::close(fd_); }

bool TestClient::SendRaw(std::span<const std::byte> bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n =
        ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  return true;
}

std::optional<Frame> TestClient::Read(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const tp::DecodeResult r = decoder_.Next();
    if (r.status == tp::DecodeStatus::kFrame) {
      const auto b = r.frame.bytes();
      return Frame{std::vector<std::byte>(b.begin(), b.end())};
    }
    if (r.status == tp::DecodeStatus::kError || eof_) return std::nullopt;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    std::span<std::byte> space = decoder_.WritableSpan();
    const ssize_t n = ::recv(fd_, space.data(), space.size(), 0);
    if (n == 0) {
      eof_ = true;
    } else if (n < 0) {
      if (errno != EINTR && errno != EAGAIN) eof_ = true;
    } else {
      decoder_.Commit(static_cast<std::size_t>(n));
    }
  }
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
  while (!eof_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) return false;
    if (!Read(left) && decoder_.error() != tp::ErrorCode::kNone) {
      // Undecodable bytes: drain the socket raw until EOF.
      std::byte sink[4096];
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      if (::recv(fd_, sink, sizeof sink, 0) <= 0) eof_ = true;
    }
  }
  return true;
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

bool TestClient::SendHeartbeat() {
  const std::size_t n = tp::EncodeHeartbeat(out_, 0);
  return SendRaw({out_.data(), n});
}

std::string PayloadText(const Frame& f) {
  const auto p = tp::DataView(f.view()).payload();
  return std::string(reinterpret_cast<const char*>(p.data()), p.size());
}

}  // namespace tachyon::testing
