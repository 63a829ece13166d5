#include "support/frame_reader.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

namespace tachyon::testing {

namespace tp = ::tachyon::protocol;
using Clock = std::chrono::steady_clock;

FrameReader::FrameReader(std::uint32_t max_frame_length)
    : storage_(2 * tp::FrameDecoder::MinStorage(max_frame_length)),
      decoder_(storage_, max_frame_length) {}

std::optional<std::vector<std::byte>> FrameReader::Read(
    int fd, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const tp::DecodeResult r = decoder_.Next();
    if (r.status == tp::DecodeStatus::kFrame) {
      const auto b = r.frame.bytes();
      return std::vector<std::byte>(b.begin(), b.end());
    }
    if (r.status == tp::DecodeStatus::kError || eof_) return std::nullopt;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const std::span<std::byte> space = decoder_.WritableSpan();
    const ssize_t n = ::recv(fd, space.data(), space.size(), 0);
    if (n == 0) {
      eof_ = true;
    } else if (n < 0) {
      if (errno != EINTR && errno != EAGAIN) eof_ = true;
    } else {
      decoder_.Commit(static_cast<std::size_t>(n));
    }
  }
}

}  // namespace tachyon::testing
