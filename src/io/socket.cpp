#include "io/socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/strings.h"

namespace tachyon::io {
namespace {

absl::Status Errno(std::string_view what, int err) {
  return absl::InternalError(
      absl::StrCat(AbslView(what), ": ", std::strerror(err)));
}

// One flag per option so each failure is logged once per process.
enum Option {
  kNoDelay,
  kPriority,
  kIncomingCpu,
  kBusyPoll,
  kSndBuf,
  kRcvBuf,
  kCount
};
std::atomic<bool> g_logged[kCount];

absl::Status SetOpt(int fd, int level, int name, int value, Option which,
                    const char* label, bool strict) {
  if (::setsockopt(fd, level, name, &value, sizeof value) == 0) {
    return absl::OkStatus();
  }
  const int err = errno;
  if (strict) {
    return Errno(absl::StrCat("setsockopt(", label, "=", value, ")"), err);
  }
  if (!g_logged[which].exchange(true, std::memory_order_relaxed)) {
    TACHYON_LOG(kWarn) << "socket option " << label << "=" << value
                       << " not applied: " << std::strerror(err)
                       << " (further failures of this option are not logged)";
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

// Fills `addr` for an IPv4 or IPv6 literal; false if `bind` is neither.
bool ResolveLiteral(const std::string& bind, std::uint16_t port,
                    sockaddr_storage* addr, socklen_t* len, int* family) {
  *addr = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(addr);
  if (::inet_pton(AF_INET, bind.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof *v4;
    *family = AF_INET;
    return true;
  }
  if (::inet_pton(AF_INET6, bind.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof *v6;
    *family = AF_INET6;
    return true;
  }
  return false;
}

// ResolveLiteral, or the error naming the address.
absl::Status Resolve(const std::string& bind, std::uint16_t port,
                     sockaddr_storage* addr, socklen_t* len, int* family) {
  if (ResolveLiteral(bind, port, addr, len, family)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("bind address '", bind, "' is not an IP literal"));
}

}  // namespace

absl::Status CheckPortFree(const std::string& bind, std::uint16_t port,
                           int kind) {
  if (port == 0) return absl::OkStatus();
  sockaddr_storage addr;
  socklen_t len;
  int family;
  if (absl::Status s = Resolve(bind, port, &addr, &len, &family); !s.ok()) {
    return s;
  }
  const int fd = ::socket(family, kind | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket", errno);
  if (kind == SOCK_STREAM) {
    // SO_REUSEADDR (not SO_REUSEPORT): connections in TIME_WAIT from an
    // earlier run do not count, a live listener does. UDP has no TIME_WAIT,
    // and there SO_REUSEADDR would let the probe share a bound port.
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  }
  const int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err == EADDRINUSE) {
    return absl::AlreadyExistsError(absl::StrCat(
        bind, ":", port, kind == SOCK_DGRAM ? " (UDP)" : "",
        " is already in use (another gateway or server listens there)"));
  }
  if (rc != 0) return Errno(absl::StrCat("bind ", bind, ":", port), err);
  return absl::OkStatus();
}

absl::StatusOr<int> OpenReusePortSocket(int type, const std::string& bind,
                                        std::uint16_t port) {
  sockaddr_storage addr;
  socklen_t len;
  int family;
  if (absl::Status s = Resolve(bind, port, &addr, &len, &family); !s.ok()) {
    return s;
  }
  const int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket", errno);
  const int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    const int err = errno;
    ::close(fd);
    return Errno("setsockopt(SO_REUSEPORT)", err);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    const int err = errno;
    ::close(fd);
    return Errno(absl::StrCat("bind ", bind, ":", port,
                              type == SOCK_DGRAM ? " (UDP)" : ""),
                 err);
  }
  return fd;
}

absl::StatusOr<int> CreateTcpListener(const std::string& bind,
                                      std::uint16_t port, int backlog) {
  absl::StatusOr<int> fd = OpenReusePortSocket(SOCK_STREAM, bind, port);
  if (!fd.ok()) return fd.status();
  if (::listen(*fd, backlog) != 0) {
    const int err = errno;
    ::close(*fd);
    return Errno("listen", err);
  }
  return *fd;
}

absl::StatusOr<std::uint16_t> LocalPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Errno("getsockname", errno);
  }
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

absl::Status TuneSocket(int fd, const config::SocketOptions& o, int cpu) {
  absl::Status s;
  if (o.tcp_nodelay) {
    s.Update(SetOpt(fd, IPPROTO_TCP, TCP_NODELAY, 1, kNoDelay, "TCP_NODELAY",
                    o.strict));
  }
  if (o.priority > 0) {
    s.Update(SetOpt(fd, SOL_SOCKET, SO_PRIORITY, o.priority, kPriority,
                    "SO_PRIORITY", o.strict));
  }
  if (o.incoming_cpu && cpu >= 0) {
    s.Update(SetOpt(fd, SOL_SOCKET, SO_INCOMING_CPU, cpu, kIncomingCpu,
                    "SO_INCOMING_CPU", o.strict));
  }
  if (o.busy_poll_us > 0) {
    s.Update(SetOpt(fd, SOL_SOCKET, SO_BUSY_POLL, o.busy_poll_us, kBusyPoll,
                    "SO_BUSY_POLL", o.strict));
  }
  if (o.send_buffer_bytes > 0) {
    s.Update(SetOpt(fd, SOL_SOCKET, SO_SNDBUF, o.send_buffer_bytes, kSndBuf,
                    "SO_SNDBUF", o.strict));
  }
  if (o.recv_buffer_bytes > 0) {
    s.Update(SetOpt(fd, SOL_SOCKET, SO_RCVBUF, o.recv_buffer_bytes, kRcvBuf,
                    "SO_RCVBUF", o.strict));
  }
  return s;
}

absl::Status PinThreadToCpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  const int rc = ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set);
  if (rc != 0) return Errno(absl::StrCat("pin to CPU ", cpu), rc);
  return absl::OkStatus();
}

}  // namespace tachyon::io
