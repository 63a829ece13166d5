// Edge-triggered epoll reactor.
//
// Every socket is registered once with EPOLLET. A ready socket is drained to
// EAGAIN, but at most `read_budget` reads per turn: a connection that still
// has bytes goes on a ready list and is served again on the next Poll, after
// every other ready connection, so one busy producer cannot starve the rest.
// EPOLLOUT is armed only while a send is blocked, so an idle writable socket
// never wakes the loop.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "io/reactor.h"

namespace tachyon::io {

namespace {

class EpollConn final : public Connection {
 public:
  EpollConn(int fd, ConnectionHandler* h) : Connection(fd, h) {}
  bool closed = false;
  bool on_ready_list = false;
  bool hangup_seen = false;  // EPOLLRDHUP/HUP/ERR: read on to the EOF
  bool want_write = false;   // EPOLLOUT armed
};

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr int kMaxEvents = 256;
constexpr int kAcceptBudget = 64;

// Tags distinguishing epoll_event.data.ptr targets.
struct ListenerEntry {
  int fd;
  AcceptHandler* handler;
};
struct ReadableEntry {
  int fd;
  ReadinessHandler* handler;
  bool removed = false;
};

absl::Status Errno(std::string_view what) {
  return absl::InternalError(
      absl::StrCat(AbslView(what), ": ", std::strerror(errno)));
}

class EpollReactor final : public Reactor {
 public:
  explicit EpollReactor(const ReactorOptions& options)
      : options_(options), read_buffer_(kReadChunk) {}

  ~EpollReactor() override {
    for (EpollConn* c : all_) {
      if (!c->closed) ::close(c->fd());
      delete c;
    }
    if (wake_fd_ >= 0) ::close(wake_fd_);
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
  }

  absl::Status Init() {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) return Errno("epoll_create1");
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) return Errno("eventfd");
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = &wake_tag_;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
      return Errno("epoll_ctl(eventfd)");
    }
    return absl::OkStatus();
  }

  std::string_view name() const override { return "epoll"; }

  absl::Status AddListener(int fd, AcceptHandler* handler) override {
    auto entry = std::make_unique<ListenerEntry>(ListenerEntry{fd, handler});
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = entry.get();
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      return Errno("epoll_ctl(listener)");
    }
    listeners_[fd] = std::move(entry);
    // Connections may have queued before registration; edge-triggered epoll
    // would not report them, so accept once now.
    AcceptReady(*listeners_[fd]);
    return absl::OkStatus();
  }

  absl::Status AddReadable(int fd, ReadinessHandler* handler) override {
    auto entry = std::make_unique<ReadableEntry>(ReadableEntry{fd, handler});
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = entry.get();
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      return Errno("epoll_ctl(readable)");
    }
    // Datagrams that arrived before registration raise no edge.
    pending_readable_.push_back(entry.get());
    readables_.push_back(std::move(entry));
    return absl::OkStatus();
  }

  void RemoveReadable(int fd) override {
    for (auto& r : readables_) {
      if (r->fd == fd && !r->removed) {
        r->removed = true;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
      }
    }
  }

  void RemoveListener(int fd) override {
    auto it = listeners_.find(fd);
    if (it == listeners_.end()) return;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    // Entries may still be referenced by events of the current batch.
    retired_listeners_.push_back(std::move(it->second));
    listeners_.erase(it);
  }

  Connection* AddConnection(int fd, ConnectionHandler* handler) override {
    auto* c = new EpollConn(fd, handler);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      delete c;
      return nullptr;
    }
    all_.push_back(c);
    c->on_ready_list = true;  // bytes may already be waiting
    ready_.push_back(c);
    return c;
  }

  SendResult Send(Connection* conn, std::span<const iovec> iov) override {
    auto* c = static_cast<EpollConn*>(conn);
    if (c->closed) return {false, -EBADF};
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov.data());
    msg.msg_iovlen = iov.size();
    for (;;) {
      const ssize_t n = ::sendmsg(c->fd(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0) return {false, n};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        ArmWrite(c, true);
        return {false, 0};
      }
      return {false, -errno};
    }
  }

  void Close(Connection* conn) override {
    auto* c = static_cast<EpollConn*>(conn);
    if (c->closed) return;
    c->closed = true;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->fd(), nullptr);
    ::close(c->fd());
    released_.push_back(c);
  }

  int Poll(std::int64_t timeout_us) override {
    int handled = ReleaseClosed();
    if (!ready_.empty() || !pending_accept_.empty() ||
        !pending_readable_.empty()) {
      timeout_us = 0;
    }
    for (ReadableEntry* r : std::exchange(pending_readable_, {})) {
      if (!r->removed) r->handler->OnReadable();
    }
    std::array<epoll_event, kMaxEvents> events;
    int timeout_ms = 0;
    if (timeout_us > 0)
      timeout_ms = static_cast<int>((timeout_us + 999) / 1000);
    const int n =
        ::epoll_wait(epoll_fd_, events.data(), kMaxEvents, timeout_ms);
    for (int i = 0; i < n; ++i) {
      void* ptr = events[i].data.ptr;
      const std::uint32_t ev = events[i].events;
      ++handled;
      if (ptr == &wake_tag_) {
        std::uint64_t v;
        while (::read(wake_fd_, &v, sizeof v) > 0) {
        }
        continue;
      }
      if (IsRetiredListener(ptr)) continue;
      if (ReadableEntry* r = FindReadable(ptr); r != nullptr) {
        if (!r->removed) r->handler->OnReadable();
        continue;
      }
      if (auto* l = FindListener(ptr)) {
        AcceptReady(*l);
        continue;
      }
      auto* c = static_cast<EpollConn*>(ptr);
      if (c->closed) continue;
      if ((ev & EPOLLOUT) != 0 && c->want_write) {
        ArmWrite(c, false);
        c->handler()->OnWritable();
        if (c->closed) continue;
      }
      if ((ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) c->hangup_seen = true;
      if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0 &&
          !c->on_ready_list) {
        c->on_ready_list = true;
        ready_.push_back(c);
      }
    }
    handled += ServeReady();
    retired_listeners_.clear();
    return handled;
  }

  void Wake() override {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(wake_fd_, &one, sizeof one);
  }

 private:
  ListenerEntry* FindListener(void* ptr) {
    for (auto& [fd, l] : listeners_) {
      if (l.get() == ptr) return l.get();
    }
    return nullptr;
  }

  ReadableEntry* FindReadable(void* ptr) {
    for (auto& r : readables_) {
      if (r.get() == ptr) return r.get();
    }
    return nullptr;
  }

  bool IsRetiredListener(void* ptr) const {
    for (const auto& l : retired_listeners_) {
      if (l.get() == ptr) return true;
    }
    return false;
  }

  void AcceptReady(ListenerEntry& l) {
    for (int i = 0; i < kAcceptBudget; ++i) {
      const int fd =
          ::accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;  // EAGAIN, or EMFILE & co: try again on the next edge
      }
      l.handler->OnAccept(fd);
    }
    // Budget spent with connections possibly still queued: the edge will
    // not fire again for them, so come back next Poll.
    pending_accept_.push_back(l.fd);
  }

  // Reads from each ready connection up to its budget; connections that did
  // not reach EAGAIN stay on the list for the next Poll.
  int ServeReady() {
    int handled = 0;
    for (int fd : std::exchange(pending_accept_, {})) {
      if (auto it = listeners_.find(fd); it != listeners_.end()) {
        AcceptReady(*it->second);
      }
    }
    const std::size_t n = ready_.size();
    for (std::size_t i = 0; i < n; ++i) {
      EpollConn* c = ready_.front();
      ready_.pop_front();
      c->on_ready_list = false;
      if (c->closed) continue;
      ++handled;
      bool drained = false;
      for (int r = 0; r < options_.read_budget && !c->closed; ++r) {
        const ssize_t got =
            ::recv(c->fd(), read_buffer_.data(), read_buffer_.size(), 0);
        if (got > 0) {
          c->handler()->OnData(
              {read_buffer_.data(), static_cast<std::size_t>(got)});
          // A short read emptied the socket: with edge triggering, bytes
          // that arrive later raise a new edge, so the usual extra recv()
          // that only returns EAGAIN is a wasted syscall per wake-up. Not
          // so for a FIN that came with the data: it raises no new edge,
          // so after a hang-up event we read on until recv() says EOF.
          if (static_cast<std::size_t>(got) < read_buffer_.size() &&
              !c->hangup_seen) {
            drained = true;
            break;
          }
          continue;
        }
        if (got == 0) {
          c->handler()->OnPeerClosed(0);
          drained = true;
          break;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          c->handler()->OnPeerClosed(-errno);
        }
        drained = true;
        break;
      }
      if (!drained && !c->closed && !c->on_ready_list) {
        c->on_ready_list = true;
        ready_.push_back(c);
      }
    }
    return handled;
  }

  void ArmWrite(EpollConn* c, bool on) {
    if (c->want_write == on) return;
    c->want_write = on;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (on ? EPOLLOUT : 0u);
    ev.data.ptr = c;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd(), &ev);
  }

  int ReleaseClosed() {
    if (released_.empty()) return 0;
    std::vector<EpollConn*> batch = std::exchange(released_, {});
    for (EpollConn* c : batch) {
      // A connection may still sit on the ready list; purge it first.
      for (auto it = ready_.begin(); it != ready_.end();) {
        it = (*it == c) ? ready_.erase(it) : it + 1;
      }
      std::erase(all_, c);
      ConnectionHandler* h = c->handler();
      delete c;
      h->OnReleased();
    }
    return static_cast<int>(batch.size());
  }

  ReactorOptions options_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  char wake_tag_ = 0;
  std::vector<std::byte> read_buffer_;
  absl::flat_hash_map<int, std::unique_ptr<ListenerEntry>> listeners_;
  std::vector<std::unique_ptr<ListenerEntry>> retired_listeners_;
  std::vector<int> pending_accept_;
  // Entries live as long as the reactor (a removed one may still be named by
  // an event of the current batch); there are a few per worker.
  std::vector<std::unique_ptr<ReadableEntry>> readables_;
  std::vector<ReadableEntry*> pending_readable_;
  std::deque<EpollConn*> ready_;
  std::vector<EpollConn*> released_;
  std::vector<EpollConn*> all_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Reactor>> CreateEpollReactor(
    const ReactorOptions& options) {
  auto r = std::make_unique<EpollReactor>(options);
  if (absl::Status s = r->Init(); !s.ok()) return s;
  return std::unique_ptr<Reactor>(std::move(r));
}

}  // namespace tachyon::io
