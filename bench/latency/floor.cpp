// The floor: the same ping-pong as W1 without a gateway, over plain TCP and
// UDP sockets between two processes on loopback, and (floor-tcp-relay) W4's
// path without a gateway: client -> relay -> echo and back, three processes
// and four socket hops, and (floor-fanout) W2's path without a gateway: a
// publisher, a relay process copying what it reads to K subscriber
// processes. Every gateway figure is printed beside these, measured in the
// same run.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <vector>

#include "delivery.h"
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

Result RunFanOutFloor(const WorkloadOptions& o) {
  Result r{.workload = "floor-fanout", .system = "floor", .payload = o.payload};
  r.rate = o.rate;
  auto failed = [&r](std::string why) {
    r.ok = false;
    r.note = std::move(why);
    return r;
  };
  // The same messages and schedule as W2: PayloadSize bytes, stamped with
  // the index and the scheduled send time.
  const std::size_t size = std::max(o.payload, kStampBytes);
  const auto measured =
      o.rate > 0 ? static_cast<std::int64_t>(o.rate * o.duration_s) : 0;
  const std::int64_t total = o.rate > 0 ? o.warmup + measured : 0;
  const int subscribers = std::max(1, o.subscribers);
  const int sub_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int pub_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = Loopback(0);
  sockaddr_in addr2 = Loopback(0);
  if (sub_listener < 0 || pub_listener < 0 ||
      ::bind(sub_listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) !=
          0 ||
      ::listen(sub_listener, subscribers) != 0 ||
      ::bind(pub_listener, reinterpret_cast<sockaddr*>(&addr2), sizeof addr2) !=
          0 ||
      ::listen(pub_listener, 1) != 0) {
    if (sub_listener >= 0) ::close(sub_listener);
    if (pub_listener >= 0) ::close(pub_listener);
    return failed(std::string("listeners: ") + std::strerror(errno));
  }
  const std::uint16_t sub_port = PortOf(sub_listener);
  const std::uint16_t pub_port = PortOf(pub_listener);
  // The relay (what the gateway is in W2): every read from the publisher is
  // written to each subscriber, one write per subscriber per read. It
  // forwards only once every subscriber is connected, and ends when the
  // publisher closes, closing the subscribers' connections.
  auto relay = Child::Spawn([&](Child::Channel& ch) {
    std::vector<int> subs;
    for (int k = 0; k < subscribers; ++k) {
      const int fd = ::accept(sub_listener, nullptr, nullptr);
      if (fd < 0) return 1;
      NoDelay(fd);
      subs.push_back(fd);
    }
    const int in = ::accept(pub_listener, nullptr, nullptr);
    if (in < 0) return 1;
    NoDelay(in);
    ch.Send("ready");
    std::vector<std::byte> buf(64 * 1024);
    for (;;) {
      const ssize_t n =
          ::recv(in, buf.data(), buf.size(), o.spin ? MSG_DONTWAIT : 0);
      if (n == 0) break;
      if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) return 2;
        if (o.spin) ::sched_yield();
        continue;
      }
      for (const int fd : subs) {
        if (!WriteAll(fd, buf.data(), static_cast<std::size_t>(n))) return 3;
      }
    }
    for (const int fd : subs) ::close(fd);
    ::close(in);
    return 0;
  });
  if (!relay) {
    ::close(sub_listener);
    ::close(pub_listener);
    return failed("floor-fanout: relay process did not start");
  }
  // The subscribers: one read per wake-up, every complete record in it
  // accounted for as W2's subscribers do, then "unique duplicated
  // reordered <histogram>" to the parent.
  std::vector<std::unique_ptr<Child>> subs;
  for (int k = 0; k < subscribers; ++k) {
    subs.push_back(Child::Spawn([&](Child::Channel& ch) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in to = Loopback(sub_port);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
        return 1;
      }
      NoDelay(fd);
      // Blocking reads wake up at least once a second to look for the
      // parent's "done" (a relay that never closes cannot hang the run).
      timeval tv{.tv_sec = 1, .tv_usec = 0};
      if (!o.spin) ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      LatencyHistogram h;
      DeliveryLedger ledger(static_cast<std::uint64_t>(total));
      ch.Send("ready");
      std::vector<std::byte> buf(64 * 1024 + size);
      std::size_t have = 0;  // bytes of an incomplete record at the front
      std::int64_t done_at = 0;
      while (ledger.unique() < static_cast<std::uint64_t>(total) ||
             (total == 0 && done_at == 0)) {
        const ssize_t n = ::recv(fd, buf.data() + have, buf.size() - have,
                                 o.spin ? MSG_DONTWAIT : 0);
        if (n == 0) break;  // the relay closed: the publisher is done
        if (n < 0) {
          if (errno != EAGAIN && errno != EINTR) break;
          if (o.spin) ::sched_yield();
          if (done_at == 0 && ch.Receive(std::chrono::milliseconds(0))) {
            done_at = MonotonicNs();
          }
          if (done_at != 0 && MonotonicNs() - done_at > 5'000'000'000) break;
          continue;
        }
        have += static_cast<std::size_t>(n);
        std::size_t off = 0;
        for (; have - off >= size; off += size) {
          const std::int64_t now = MonotonicNs();
          std::uint64_t index;
          std::int64_t scheduled;
          ReadStamp(std::span<const std::byte>(buf.data() + off, size), &index,
                    &scheduled);
          ledger.Add(index);
          if (index >= static_cast<std::uint64_t>(o.warmup)) {
            h.Record(now - scheduled);
          }
        }
        have -= off;
        if (have > 0 && off > 0)
          std::memmove(buf.data(), buf.data() + off, have);
      }
      ch.Send(ledger.Summary() + " " + h.Serialize());
      ::close(fd);
      return 0;
    }));
    if (!subs.back() || subs.back()->Receive(10s) != "ready") {
      ::close(sub_listener);
      ::close(pub_listener);
      return failed("floor-fanout: subscriber process did not start");
    }
  }
  ::close(sub_listener);
  ::close(pub_listener);
  // The publisher: this process, on W2's schedule.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  addr = Loopback(pub_port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return failed(std::string("connect: ") + std::strerror(errno));
  }
  NoDelay(fd);
  if (relay->Receive(10s) != "ready") {
    ::close(fd);
    return failed("floor-fanout: relay did not accept every connection");
  }
  std::vector<std::byte> payload(size, std::byte{0x42});
  const double interval_ns = o.rate > 0 ? 1e9 / o.rate : 0;
  const std::int64_t start = MonotonicNs() + 10'000'000;
  WaitUntilNs(start, o.spin);
  bool sent_all = true;
  for (std::int64_t i = 0; i < total; ++i) {
    const std::int64_t scheduled =
        start + static_cast<std::int64_t>(static_cast<double>(i) * interval_ns);
    WaitUntilNs(scheduled, o.spin);
    r.send_lag.Record(MonotonicNs() - scheduled);
    Stamp(payload.data(), static_cast<std::uint64_t>(i), scheduled);
    if (!WriteAll(fd, payload.data(), payload.size())) {
      sent_all = false;
      break;
    }
  }
  if (total == 0) {
    WaitUntilNs(start + static_cast<std::int64_t>(o.duration_s * 1e9), o.spin);
  }
  r.seconds = static_cast<double>(MonotonicNs() - start) * 1e-9;
  ::close(fd);  // the relay sees EOF and closes the subscribers
  r.sent = static_cast<std::uint64_t>(total) *
           static_cast<std::uint64_t>(subscribers);
  r.messages = static_cast<std::uint64_t>(total);
  for (auto& s : subs) s->Send("done");
  std::vector<std::string> lines;
  for (auto& s : subs) {
    std::optional<std::string> line = s->Receive(60s);
    if (!line) return failed("floor-fanout: a subscriber never reported");
    lines.push_back(*line);
  }
  r.cpu_window_s = static_cast<double>(MonotonicNs() - start) * 1e-9;
  for (std::size_t k = 0; k < subs.size(); ++k) {
    if (!AddSubscriberReport(lines[k], static_cast<std::uint64_t>(total), &r)) {
      return failed("floor-fanout: unreadable subscriber histogram");
    }
    subs[k]->Wait(10s);
  }
  // The relay stands where W2's gateway is: its CPU is reported in the
  // gateway's place, and the clients' CPU is the publisher's and the
  // subscribers', as in W2.
  const double reaped_before = Child::ReapedCpuSeconds();
  if (relay->Wait(10s).value_or(-1) != 0 || !sent_all) {
    return failed("floor-fanout: relay process failed");
  }
  r.gateway_cpu_s = Child::ReapedCpuSeconds() - reaped_before;
  r.helpers_cpu_s = -r.gateway_cpu_s;
  r.messages_per_second =
      r.seconds > 0 ? static_cast<double>(total) / r.seconds : 0;
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
