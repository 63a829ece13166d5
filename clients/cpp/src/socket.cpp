#include "socket.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tachyon::client::internal {

namespace {

thread_local SocketCalls t_calls;

}  // namespace

const SocketCalls& ThisThreadSocketCalls() { return t_calls; }

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

void UniqueFd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string ErrnoText(int error) {
  char buf[128];
  // GNU strerror_r returns the message, which may not be `buf`.
  const char* text = ::strerror_r(error, buf, sizeof buf);
  return text;
}

std::string PeerName(std::string_view host, std::uint16_t port) {
  const bool ipv6 = host.find(':') != std::string_view::npos;
  return ipv6 ? absl::StrCat("[", std::string(host), "]:", port)
              : absl::StrCat(std::string(host), ":", port);
}

// Option failures are not fatal: the connection works without them, only
// slower (Nagle) or with kernel-default buffers. SO_BUSY_POLL in particular
// needs privileges above the sysctl default.
void TuneSocket(int fd, const ClientOptions& options) {
  const int one = 1;
  if (options.tcp_nodelay) {
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (options.socket_receive_buffer > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &options.socket_receive_buffer,
                 sizeof options.socket_receive_buffer);
  }
  if (options.socket_send_buffer > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &options.socket_send_buffer,
                 sizeof options.socket_send_buffer);
  }
  if (options.busy_poll_us > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &options.busy_poll_us,
                 sizeof options.busy_poll_us);
  }
}

absl::StatusOr<UniqueFd> ConnectTcp(std::string_view host, std::uint16_t port,
                                    const ClientOptions& options,
                                    Clock::time_point deadline) {
  const std::string peer = PeerName(host, port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
  addrinfo* list = nullptr;
  const std::string host_z(host);
  const std::string port_z = std::to_string(port);
  if (const int rc =
          ::getaddrinfo(host_z.c_str(), port_z.c_str(), &hints, &list);
      rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", peer, ": cannot resolve host: ",
                     rc == EAI_SYSTEM ? ErrnoText(errno) : ::gai_strerror(rc)));
  }
  int last_error = ECONNREFUSED;
  bool timed_out = false;
  UniqueFd connected;
  for (addrinfo* ai = list; ai != nullptr && !connected.valid();
       ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family,
                         ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         ai->ai_protocol));
    if (!fd.valid()) {
      last_error = errno;
      continue;
    }
    TuneSocket(fd.get(), options);
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) {
      connected = std::move(fd);
      break;
    }
    if (errno != EINPROGRESS) {
      last_error = errno;
      continue;
    }
    // Non-blocking connect: writable means decided; SO_ERROR says how.
    short revents = 0;
    while (revents == 0) {
      const auto left = deadline - Clock::now();
      if (left <= Clock::duration::zero()) break;
      revents = WaitFor(fd.get(), POLLOUT, left);
    }
    if (revents == 0) {
      timed_out = true;
      break;
    }
    int error = 0;
    socklen_t len = sizeof error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
    if (error == 0) {
      connected = std::move(fd);
    } else {
      last_error = error;
    }
  }
  ::freeaddrinfo(list);
  if (connected.valid()) {
    // Blocking from now on: a waiting Poll blocks in recv (SO_RCVTIMEO);
    // every other call says MSG_DONTWAIT.
    int non_blocking = 0;
    if (::ioctl(connected.get(), FIONBIO, &non_blocking) != 0) {
      return absl::UnavailableError(absl::StrCat(
          "cannot connect to ", peer,
          ": cannot make the socket blocking: ", ErrnoText(errno)));
    }
    return connected;
  }
  if (timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat("cannot connect to ", peer, ": timed out"));
  }
  return absl::UnavailableError(
      absl::StrCat("cannot connect to ", peer, ": ", ErrnoText(last_error)));
}

IoResult SendSome(int fd, std::span<const std::byte> bytes) {
  IoResult r;
  ++t_calls.sends;
  const ssize_t n =
      ::send(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n >= 0) {
    r.bytes = static_cast<std::size_t>(n);
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    r.error = errno;
  }
  return r;
}

namespace {

IoResult Receive(int fd, std::span<std::byte> into, int flags) {
  IoResult r;
  ++t_calls.receives;
  const ssize_t n = ::recv(fd, into.data(), into.size(), flags);
  if (n > 0) {
    r.bytes = static_cast<std::size_t>(n);
  } else if (n == 0) {
    r.closed = !into.empty();
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    r.error = errno;
  }
  return r;
}

}  // namespace

IoResult ReceiveSome(int fd, std::span<std::byte> into) {
  return Receive(fd, into, MSG_DONTWAIT);
}

bool HasUnread(int fd) {
  std::byte b;
  ++t_calls.receives;
  return ::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

IoResult ReceiveBlocking(int fd, std::span<std::byte> into) {
  return Receive(fd, into, 0);
}

bool SetReceiveTimeout(int fd, std::chrono::microseconds timeout) {
  ++t_calls.options;
  const auto us = std::max<std::chrono::microseconds::rep>(timeout.count(), 1);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(us / 1'000'000);
  tv.tv_usec = static_cast<suseconds_t>(us % 1'000'000);
  return ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0;
}

short WaitFor(int fd, short events, std::chrono::nanoseconds timeout) {
  // Round up so that a 0.4 ms wait does not become a busy 0 ms poll.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(
      std::max(timeout, std::chrono::nanoseconds::zero()));
  pollfd p{fd, events, 0};
  ++t_calls.waits;
  const int timeout_ms = static_cast<int>(
      std::min<std::chrono::milliseconds::rep>(ms.count(), 1 << 30));
  if (::poll(&p, 1, timeout_ms) <= 0) return 0;
  return p.revents;
}

}  // namespace tachyon::client::internal
