#include "support/test_backend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "tachyon/protocol/protocol.h"

namespace tachyon::testing {

namespace tp = ::tachyon::protocol;

namespace {

struct Conn {
  int fd = -1;
  std::vector<std::byte> in;
  bool mute = false;  // "mute": reads on, never sends again
};

struct Held {
  int fd;
  std::uint64_t correlation;
  std::uint32_t service;
};

void SendAll(int fd, const std::byte* p, std::size_t n) {
  for (int tries = 0; n > 0 && tries < 10000; ++tries) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= static_cast<std::size_t>(w);
    } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
      return;
    } else {
      pollfd pfd{fd, POLLOUT, 0};
      ::poll(&pfd, 1, 10);
    }
  }
}

void Respond(int fd, std::uint64_t correlation, std::uint32_t service,
             std::uint16_t status, std::string_view payload) {
  std::vector<std::byte> out(tp::ResponseView::kFixedLength + payload.size() +
                             8);
  const std::size_t n = tp::EncodeResponse(
      out, {.correlation_id = correlation,
            .service_id = service,
            .status = static_cast<tp::ResponseStatus>(status),
            .payload = tp::AsBytes(payload)});
  SendAll(fd, out.data(), n);
}

}  // namespace

TestBackend::TestBackend(std::uint16_t port,
                         std::function<void()> on_thread_start)
    : on_thread_start_(std::move(on_thread_start)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return;
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) !=
          0 ||
      ::listen(listen_fd_, 128) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) !=
          0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    return;
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

TestBackend::~TestBackend() { Stop(); }

void TestBackend::Stop() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
}

void TestBackend::Serve() {
  if (on_thread_start_) on_thread_start_();
  std::vector<Conn> conns;
  std::vector<Held> held;
  std::vector<pollfd> fds;
  std::vector<std::byte> buf(1 << 16);
  std::vector<std::byte> out(256);
  while (!stop_.load(std::memory_order_acquire)) {
    fds.assign(1, pollfd{listen_fd_, POLLIN, 0});
    for (const Conn& c : conns) fds.push_back(pollfd{c.fd, POLLIN, 0});
    ::poll(fds.data(), fds.size(), 5);
    if (release_.load(std::memory_order_acquire) && !held.empty()) {
      for (const Held& h : held)
        Respond(h.fd, h.correlation, h.service, 0, "late");
      held_.fetch_sub(static_cast<int>(held.size()), std::memory_order_acq_rel);
      held.clear();
    }
    if (fds[0].revents & POLLIN) {
      for (int i = 0; i < 64; ++i) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conns.push_back(Conn{fd, {}, false});
      }
    }
    for (std::size_t i = 0; i < conns.size();) {
      Conn& c = conns[i];
      bool closed = false;
      for (int reads = 0; reads < 64; ++reads) {
        const ssize_t n = ::recv(c.fd, buf.data(), buf.size(), 0);
        if (n > 0) {
          c.in.insert(c.in.end(), buf.begin(), buf.begin() + n);
          continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) closed = true;
        break;
      }
      // Frames that arrived before an EOF are still handled.
      bool eof = closed;
      closed = false;
      std::size_t used = 0;
      while (!closed) {
        const tp::DecodeResult r =
            tp::DecodeFrame(std::span<const std::byte>(c.in).subspan(used),
                            tp::kDefaultMaxFrameLength);
        if (r.status != tp::DecodeStatus::kFrame) {
          if (r.status == tp::DecodeStatus::kError) closed = true;
          break;
        }
        used += r.consumed;
        if (c.mute) continue;
        switch (r.frame.type()) {
          case tp::MessageType::kLogon: {
            const tp::LogonView logon(r.frame);
            const std::size_t w = tp::EncodeLogonAck(
                out, {.version = tp::kProtocolVersion,
                      .heartbeat_interval_ms = logon.heartbeat_interval_ms(),
                      .session_id = SessionId{1},
                      .max_frame_length = tp::kDefaultMaxFrameLength});
            SendAll(c.fd, out.data(), w);
            logons_.fetch_add(1, std::memory_order_acq_rel);
            break;
          }
          case tp::MessageType::kHeartbeat: {
            const std::size_t w = tp::EncodeHeartbeat(out, 0);
            SendAll(c.fd, out.data(), w);
            break;
          }
          case tp::MessageType::kRequest: {
            requests_.fetch_add(1, std::memory_order_acq_rel);
            const tp::RequestView m(r.frame);
            const std::string_view text(
                reinterpret_cast<const char*>(m.payload().data()),
                m.payload().size());
            if (text.starts_with("hold")) {
              if (release_.load(std::memory_order_acquire)) {
                Respond(c.fd, m.correlation_id(), m.service_id(), 0, "late");
              } else {
                held.push_back({c.fd, m.correlation_id(), m.service_id()});
                held_.fetch_add(1, std::memory_order_acq_rel);
              }
            } else if (text.starts_with("mute")) {
              c.mute = true;
            } else if (text.starts_with("malformed")) {
              std::vector<std::byte> junk(32, std::byte{0xff});
              SendAll(c.fd, junk.data(), junk.size());
            } else if (text.starts_with("error")) {
              Respond(c.fd, m.correlation_id(), m.service_id(), 4, "refused");
            } else if (text.starts_with("status2")) {
              Respond(c.fd, m.correlation_id(), m.service_id(), 2, "slow");
            } else {
              Respond(c.fd, m.correlation_id(), m.service_id(), 0, text);
            }
            break;
          }
          case tp::MessageType::kLogout:
            logouts_.fetch_add(1, std::memory_order_acq_rel);
            closed = true;
            break;
          case tp::MessageType::kError:
            errors_.fetch_add(1, std::memory_order_acq_rel);
            closed = true;
            break;
          default:
            break;
        }
      }
      closed = closed || eof;
      c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(
                                                  std::min(used, c.in.size())));
      if (closed) {
        for (std::size_t h = 0; h < held.size();) {
          if (held[h].fd != c.fd) {
            ++h;
            continue;
          }
          held[h] = held.back();
          held.pop_back();
          held_.fetch_sub(1, std::memory_order_acq_rel);
        }
        ::close(c.fd);
        conns[i] = std::move(conns.back());
        conns.pop_back();
        continue;
      }
      ++i;
    }
  }
  for (const Conn& c : conns) {
    const linger reset{1, 0};
    ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    ::close(c.fd);
  }
  held_.store(0, std::memory_order_release);
}

}  // namespace tachyon::testing
