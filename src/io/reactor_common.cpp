#include "io/reactor_common.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "base/strings.h"

namespace tachyon::io::internal {

absl::Status ErrnoStatus(std::string_view what, int error) {
  return absl::InternalError(
      absl::StrCat(AbslView(what), ": ", std::strerror(error)));
}

std::int64_t MonotonicNowNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

WakeSignal::~WakeSignal() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status WakeSignal::Open() {
  fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd_ < 0) return ErrnoStatus("eventfd", errno);
  return absl::OkStatus();
}

void WakeSignal::Signal() {
  const std::uint64_t one = 1;
  // Fails only when the counter is saturated, i.e. a wake-up is pending.
  [[maybe_unused]] const ssize_t r = ::write(fd_, &one, sizeof one);
}

void WakeSignal::Drain() {
  std::uint64_t v;
  // One read resets the counter; a second finds it empty (EAGAIN).
  while (::read(fd_, &v, sizeof v) > 0) {
  }
}

bool PeerAddress::Assign(const sockaddr* addr, socklen_t addr_len) {
  if (addr == nullptr || addr_len == 0 || addr_len > sizeof storage) {
    return false;
  }
  std::memcpy(&storage, addr, addr_len);
  len = addr_len;
  return true;
}

}  // namespace tachyon::io::internal
