// The floor: the same ping-pong as W1 without a gateway, over plain TCP and
// UDP sockets between two processes on loopback, and (floor-tcp-relay) W4's
// path without a gateway: client -> relay -> echo and back, three processes
// and four socket hops. Every gateway figure is printed beside these,
// measured in the same run.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "harness.h"
#include "udp_batch.h"
#include "workloads.h"

namespace tachyon::bench {
namespace {

using namespace std::chrono_literals;

std::uint16_t PortOf(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// Reads exactly `n` bytes; spinning with MSG_DONTWAIT or blocking.
bool ReadExactly(int fd, std::byte* p, std::size_t n, bool spin) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::recv(fd, p + got, n - got, spin ? MSG_DONTWAIT : 0);
    if (r > 0) {
      got += static_cast<std::size_t>(r);
    } else if (r == 0) {
      return false;
    } else if (errno != EAGAIN && errno != EINTR) {
      return false;
    } else if (spin) {
      ::sched_yield();  // as the gateway workloads' clients do
    }
  }
  return true;
}

bool WriteAll(int fd, const std::byte* p, std::size_t n) {
  std::size_t off = 0;
  while (off < n) {
    const ssize_t w = ::send(fd, p + off, n - off, MSG_NOSIGNAL);
    if (w <= 0 && errno != EINTR && errno != EAGAIN) return false;
    if (w > 0) off += static_cast<std::size_t>(w);
  }
  return true;
}

void NoDelay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// The measuring side of a TCP ping-pong on connected `fd`: warm-up plus
// count round trips of o.payload bytes, recorded after the warm-up; closes
// `fd`.
void PingPong(int fd, const WorkloadOptions& o, const char* lost, Result* r) {
  NoDelay(fd);
  const std::int64_t total = o.warmup + o.count;
  std::vector<std::byte> buf(o.payload, std::byte{0x5a});
  const std::int64_t start = MonotonicNs();
  for (std::int64_t i = 0; i < total; ++i) {
    const std::int64_t t0 = MonotonicNs();
    if (!WriteAll(fd, buf.data(), buf.size()) ||
        !ReadExactly(fd, buf.data(), buf.size(), o.spin)) {
      r->ok = false;
      r->note = lost;
      break;
    }
    if (i >= o.warmup) r->latency.Record(MonotonicNs() - t0);
  }
  r->seconds = static_cast<double>(MonotonicNs() - start) * 1e-9;
  r->sent = r->received = static_cast<std::uint64_t>(total);
  ::close(fd);
}

}  // namespace

Result RunTcpFloor(const WorkloadOptions& o) {
  Result r{.workload = "floor-tcp", .system = "floor", .payload = o.payload};
  // Pinned apart, every message wakes a process on the other CPU; unpinned,
  // the scheduler usually hands the CPU from one process to the other.
  const bool apart = o.floor_cpus.size() == 2;
  if (apart) r.workload = "floor-tcp-2cpu";
  cpu_set_t saved;
  CPU_ZERO(&saved);
  if (apart && (::sched_getaffinity(0, sizeof saved, &saved) != 0 ||
                !PinToCpu(o.floor_cpus[0]))) {
    r.ok = false;
    r.note = "cannot pin to CPU " + std::to_string(o.floor_cpus[0]);
    return r;
  }
  struct RestoreAffinity {
    bool active;
    const cpu_set_t& set;
    ~RestoreAffinity() {
      if (active) ::sched_setaffinity(0, sizeof set, &set);
    }
  } restore{apart, saved};
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = Loopback(0);
  if (listener < 0 ||
      ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, 1) != 0) {
    r.ok = false;
    r.note = std::string("listener: ") + std::strerror(errno);
    return r;
  }
  const std::uint16_t port = PortOf(listener);
  const std::int64_t total = o.warmup + o.count;
  auto echo = Child::Spawn([&](Child::Channel&) {
    if (apart && !PinToCpu(o.floor_cpus[1])) return 3;
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) return 1;
    NoDelay(fd);
    std::vector<std::byte> buf(o.payload);
    for (std::int64_t i = 0; i < total; ++i) {
      if (!ReadExactly(fd, buf.data(), buf.size(), o.spin) ||
          !WriteAll(fd, buf.data(), buf.size())) {
        return 2;
      }
    }
    ::close(fd);
    return 0;
  });
  ::close(listener);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  addr = Loopback(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    r.ok = false;
    r.note = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return r;
  }
  PingPong(fd, o, "echo process went away", &r);
  if (!echo || echo->Wait(5s).value_or(-1) != 0) {
    r.ok = false;
    r.note = "echo process failed";
  }
  return r;
}

Result RunTcpRelayFloor(const WorkloadOptions& o) {
  Result r{
      .workload = "floor-tcp-relay", .system = "floor", .payload = o.payload};
  const int echo_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int relay_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = Loopback(0);
  sockaddr_in addr2 = Loopback(0);
  if (echo_listener < 0 || relay_listener < 0 ||
      ::bind(echo_listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) !=
          0 ||
      ::listen(echo_listener, 1) != 0 ||
      ::bind(relay_listener, reinterpret_cast<sockaddr*>(&addr2),
             sizeof addr2) != 0 ||
      ::listen(relay_listener, 1) != 0) {
    r.ok = false;
    r.note = std::string("listeners: ") + std::strerror(errno);
    if (echo_listener >= 0) ::close(echo_listener);
    if (relay_listener >= 0) ::close(relay_listener);
    return r;
  }
  const std::uint16_t echo_port = PortOf(echo_listener);
  const std::uint16_t relay_port = PortOf(relay_listener);
  const std::int64_t total = o.warmup + o.count;
  // The backend: echoes each message.
  auto echo = Child::Spawn([&](Child::Channel&) {
    const int fd = ::accept(echo_listener, nullptr, nullptr);
    if (fd < 0) return 1;
    NoDelay(fd);
    std::vector<std::byte> buf(o.payload);
    for (std::int64_t i = 0; i < total; ++i) {
      if (!ReadExactly(fd, buf.data(), buf.size(), o.spin) ||
          !WriteAll(fd, buf.data(), buf.size())) {
        return 2;
      }
    }
    ::close(fd);
    return 0;
  });
  // The relay (what the gateway is in W4): forwards each message to the
  // backend and its answer back, over two connections.
  auto relay = Child::Spawn([&](Child::Channel&) {
    const int out = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in to = Loopback(echo_port);
    if (::connect(out, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      return 1;
    }
    NoDelay(out);
    const int in = ::accept(relay_listener, nullptr, nullptr);
    if (in < 0) return 1;
    NoDelay(in);
    std::vector<std::byte> buf(o.payload);
    for (std::int64_t i = 0; i < total; ++i) {
      if (!ReadExactly(in, buf.data(), buf.size(), o.spin) ||
          !WriteAll(out, buf.data(), buf.size()) ||
          !ReadExactly(out, buf.data(), buf.size(), o.spin) ||
          !WriteAll(in, buf.data(), buf.size())) {
        return 2;
      }
    }
    ::close(in);
    ::close(out);
    return 0;
  });
  ::close(echo_listener);
  ::close(relay_listener);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  addr = Loopback(relay_port);
  if (!echo || !relay ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    r.ok = false;
    r.note = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return r;
  }
  PingPong(fd, o, "relay or echo process went away", &r);
  if (relay->Wait(5s).value_or(-1) != 0 || echo->Wait(5s).value_or(-1) != 0) {
    r.ok = false;
    r.note = "relay or echo process failed";
  }
  return r;
}

Result RunUdpFloor(const WorkloadOptions& o) {
  Result r{.workload = "floor-udp", .system = "floor", .payload = o.payload};
  const int server = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const int client = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in any = Loopback(0);
  if (::bind(server, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0 ||
      ::bind(client, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0) {
    r.ok = false;
    r.note = std::string("bind: ") + std::strerror(errno);
    return r;
  }
  const sockaddr_in server_addr = Loopback(PortOf(server));
  const sockaddr_in client_addr = Loopback(PortOf(client));
  ::connect(client, reinterpret_cast<const sockaddr*>(&server_addr),
            sizeof server_addr);
  ::connect(server, reinterpret_cast<const sockaddr*>(&client_addr),
            sizeof client_addr);
  const std::int64_t total = o.warmup + o.count;
  auto echo = Child::Spawn([&](Child::Channel&) {
    std::vector<std::byte> buf(o.payload + 64);
    for (std::int64_t i = 0; i < total; ++i) {
      ssize_t n;
      for (;;) {
        n = ::recv(server, buf.data(), buf.size(), o.spin ? MSG_DONTWAIT : 0);
        if (n >= 0 || (errno != EAGAIN && errno != EINTR)) break;
        if (o.spin) ::sched_yield();
      }
      if (n < 0 ||
          ::send(server, buf.data(), static_cast<std::size_t>(n), 0) != n) {
        return 2;
      }
    }
    return 0;
  });
  // A datagram lost on loopback would hang a strict ping-pong: each wait is
  // bounded, and a timeout is counted as a loss.
  timeval tv{.tv_sec = 1, .tv_usec = 0};
  if (!o.spin) ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::vector<std::byte> buf(o.payload + 64, std::byte{0x5a});
  const std::int64_t start = MonotonicNs();
  for (std::int64_t i = 0; i < total; ++i) {
    const std::int64_t t0 = MonotonicNs();
    ::send(client, buf.data(), o.payload, 0);
    ssize_t n;
    for (;;) {
      n = ::recv(client, buf.data(), buf.size(), o.spin ? MSG_DONTWAIT : 0);
      if (n >= 0 || errno != EAGAIN || !o.spin ||
          MonotonicNs() - t0 >= 1'000'000'000) {
        break;
      }
      ::sched_yield();
    }
    if (n != static_cast<ssize_t>(o.payload)) {
      ++r.lost;
      continue;
    }
    ++r.received;
    if (i >= o.warmup) r.latency.Record(MonotonicNs() - t0);
  }
  r.seconds = static_cast<double>(MonotonicNs() - start) * 1e-9;
  r.sent = static_cast<std::uint64_t>(total);
  ::close(client);
  ::close(server);
  if (r.lost == 0 && (!echo || echo->Wait(5s).value_or(-1) != 0)) {
    r.ok = false;
    r.note = "echo process failed";
  }
  return r;
}

}  // namespace tachyon::bench
