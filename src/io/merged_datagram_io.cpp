#include "io/merged_datagram_io.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tachyon::io {

MergedDatagramIo::MergedDatagramIo(std::unique_ptr<DatagramIo> first,
                                   std::unique_ptr<DatagramIo> second)
    : first_(std::move(first)), second_(std::move(second)) {}

absl::StatusOr<std::unique_ptr<MergedDatagramIo>> MergedDatagramIo::Create(
    std::unique_ptr<DatagramIo> first, std::unique_ptr<DatagramIo> second) {
  if (first == nullptr || second == nullptr) {
    return absl::InvalidArgumentError("MergedDatagramIo needs two paths");
  }
  std::unique_ptr<MergedDatagramIo> m(
      new MergedDatagramIo(std::move(first), std::move(second)));
  const int a = m->first_->readiness_fd();
  const int b = m->second_->readiness_fd();
  if (a < 0 || b < 0) return m;  // polled every pass
  m->epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (m->epoll_fd_ < 0) {
    return absl::InternalError(
        absl::StrCat("epoll_create1: ", std::strerror(errno)));
  }
  for (const int fd : {a, b}) {
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered: see the header
    ev.data.fd = fd;
    if (::epoll_ctl(m->epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      return absl::InternalError(
          absl::StrCat("epoll_ctl(ADD ", fd, "): ", std::strerror(errno)));
    }
  }
  return m;
}

MergedDatagramIo::~MergedDatagramIo() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

int MergedDatagramIo::Receive(std::span<RxDatagram> out) {
  DatagramIo& one = second_first_ ? *second_ : *first_;
  DatagramIo& two = second_first_ ? *first_ : *second_;
  second_first_ = !second_first_;
  int n = one.Receive(out);
  if (static_cast<std::size_t>(n) < out.size()) {
    n += two.Receive(out.subspan(static_cast<std::size_t>(n)));
  }
  return n;
}

}  // namespace tachyon::io
