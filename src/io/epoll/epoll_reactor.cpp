// Edge-triggered epoll reactor.
//
// Every socket is registered once with EPOLLET. A ready socket is drained to
// EAGAIN, but at most `read_budget` reads per turn: a connection that still
// has bytes goes on a ready list and is served again on the next Poll, after
// every other ready connection, so one busy producer cannot starve the rest.
// EPOLLOUT is armed only while a send is blocked, so an idle writable socket
// never wakes the loop.
//
// Outbound connects are non-blocking connect(2) calls watched for EPOLLOUT
// (the outcome is SO_ERROR); their deadlines sit in a heap checked by every
// Poll, whose wait ends no later than the nearest one. A connect that fails
// at once is put on the heap already due, so its OnConnected, too, comes
// from Poll.
//
// Closing is O(1): a closed connection leaves the ready list and the
// deadline heap at once (both intrusive) and the registry by swap-remove.
//
// A zero-timeout Poll is one epoll_wait(..., 0), counted by
// event_syscalls(): the ready list lives in the kernel, and nothing cheaper
// reports readiness without missing some (reactor.h has the measurements).
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "io/epoll/epoll_conn.h"
#include "io/reactor.h"
#include "io/reactor_common.h"

namespace tachyon::io {

namespace {

using internal::DeadlineHeap;
using internal::EpollConn;
using internal::ErrnoStatus;
using internal::ReadableEntry;
using internal::ReadyList;

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr int kMaxEvents = 256;
constexpr int kAcceptBudget = 64;

// Tags distinguishing epoll_event.data.ptr targets.
struct ListenerEntry {
  int fd;
  AcceptHandler* handler;
};

constexpr std::uint32_t kConnEvents = EPOLLIN | EPOLLRDHUP | EPOLLET;

class EpollReactor final : public Reactor {
 public:
  explicit EpollReactor(const ReactorOptions& options)
      : options_(options), read_buffer_(kReadChunk) {}

  ~EpollReactor() override {
    conns_.DestroyAll([](EpollConn* c) { return !c->closed; });
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
  }

  absl::Status Init() {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) return ErrnoStatus("epoll_create1", errno);
    if (absl::Status s = wake_.Open(); !s.ok()) return s;
    return Watch(wake_.fd(), &wake_, "epoll_ctl(eventfd)");
  }

  std::string_view name() const override { return "epoll"; }

  absl::Status AddListener(int fd, AcceptHandler* handler) override {
    auto entry = std::make_unique<ListenerEntry>(ListenerEntry{fd, handler});
    if (absl::Status s = Watch(fd, entry.get(), "epoll_ctl(listener)");
        !s.ok()) {
      return s;
    }
    listeners_[fd] = std::move(entry);
    // Connections may have queued before registration; edge-triggered epoll
    // would not report them, so accept once now.
    AcceptReady(*listeners_[fd]);
    return absl::OkStatus();
  }

  absl::Status AddReadable(int fd, ReadinessHandler* handler) override {
    ReadableEntry* r = readables_.Add(fd, handler);
    if (absl::Status s = Watch(fd, r, "epoll_ctl(readable)"); !s.ok()) {
      r->removed = true;
      return s;
    }
    // Datagrams that arrived before registration raise no edge.
    pending_readable_.push_back(r);
    return absl::OkStatus();
  }

  void RemoveReadable(int fd) override {
    readables_.Remove(fd, [this](ReadableEntry* r) {
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, r->fd, nullptr);
    });
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
    if (Register(c, EPOLL_CTL_ADD, kConnEvents) != 0) {
      ::close(fd);
      delete c;
      return nullptr;
    }
    conns_.Add(c);
    ready_.PushBack(c);  // bytes may already be waiting
    return c;
  }

  Connection* Connect(int fd, const sockaddr* addr, socklen_t len,
                      ConnectionHandler* handler,
                      std::int64_t timeout_us) override {
    auto* c = conns_.Add(new EpollConn(fd, handler));
    c->connecting = true;
    int error = 0;
    internal::PeerAddress peer;
    if (!peer.Assign(addr, len)) {
      error = -EINVAL;
    } else if (::connect(fd, peer.get(), peer.len) != 0 &&
               errno != EINPROGRESS && errno != EINTR) {
      // EINTR: the connect goes on in the background, as for EINPROGRESS.
      error = -errno;
    } else if (Register(c, EPOLL_CTL_ADD, kConnEvents | EPOLLOUT) != 0) {
      error = -errno;
    }
    if (error != 0) {
      c->deadline_ns = 0;  // due at once: reported by the next Poll
      c->deadline_error = error;
      deadlines_.Push(c);
    } else if (timeout_us > 0) {
      c->deadline_ns = internal::MonotonicNowNs() + timeout_us * 1000;
      c->deadline_error = -ETIMEDOUT;
      deadlines_.Push(c);
    }
    return c;
  }

  SendResult Send(Connection* conn, std::span<const iovec> iov) override {
    auto* c = static_cast<EpollConn*>(conn);
    if (c->closed) return {false, -EBADF};
    if (c->connecting) return {false, -ENOTCONN};
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov.data());
    msg.msg_iovlen = std::min(iov.size(), kMaxIov);
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
    c->Unlink();  // from the ready list, if on it
    deadlines_.Remove(c);
    // A connect that failed at once never registered; ENOENT is harmless.
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->fd(), nullptr);
    ::close(c->fd());
    conns_.Retire(c);
  }

  void PauseReading(Connection* conn) override {
    auto* c = static_cast<EpollConn*>(conn);
    c->read_paused = true;
    // Off the ready list (this Poll's turn included): its bytes stay in the
    // socket. Edges that fire meanwhile are ignored; ResumeReading serves
    // the connection again whatever it missed.
    c->Unlink();
  }

  void ResumeReading(Connection* conn) override {
    auto* c = static_cast<EpollConn*>(conn);
    if (!c->read_paused) return;
    c->read_paused = false;
    if (!c->closed && !c->connecting && !c->linked()) ready_.PushBack(c);
  }

  int Poll(std::int64_t timeout_us) override {
    int handled = conns_.ReleaseRetired();
    if (!ready_.empty() || !pending_accept_.empty() ||
        !pending_readable_.empty()) {
      timeout_us = 0;
    }
    for (ReadableEntry* r : std::exchange(pending_readable_, {})) {
      if (!r->removed) r->handler->OnReadable();
    }
    std::array<epoll_event, kMaxEvents> events;
    ++event_syscalls_;
    const int n =
        ::epoll_wait(epoll_fd_, events.data(), kMaxEvents, WaitMs(timeout_us));
    for (int i = 0; i < n; ++i) {
      void* ptr = events[i].data.ptr;
      const std::uint32_t ev = events[i].events;
      ++handled;
      if (ptr == &wake_) {
        wake_.Drain();
        continue;
      }
      if (IsRetiredListener(ptr)) continue;
      if (ReadableEntry* r = readables_.Find(ptr); r != nullptr) {
        if (!r->removed) r->handler->OnReadable();
        continue;
      }
      if (auto* l = FindListener(ptr)) {
        AcceptReady(*l);
        continue;
      }
      auto* c = static_cast<EpollConn*>(ptr);
      if (c->closed) continue;
      if (c->connecting) {
        OnConnectEvent(c, ev);
        continue;
      }
      if ((ev & EPOLLOUT) != 0 && c->want_write) {
        ArmWrite(c, false);
        c->handler()->OnWritable();
        if (c->closed) continue;
      }
      if ((ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) c->hangup_seen = true;
      if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0 &&
          !c->linked() && !c->read_paused) {
        ready_.PushBack(c);
      }
    }
    handled += ExpireConnects();
    handled += ServeReady();
    retired_listeners_.clear();
    return handled;
  }

  void Wake() override { wake_.Signal(); }

  std::uint64_t event_syscalls() const override { return event_syscalls_; }

 private:
  absl::Status Watch(int fd, void* tag, std::string_view what) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = tag;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      return ErrnoStatus(what, errno);
    }
    return absl::OkStatus();
  }

  // 0 or -1 (errno set).
  int Register(EpollConn* c, int op, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = c;
    return ::epoll_ctl(epoll_fd_, op, c->fd(), &ev);
  }

  // The epoll_wait timeout: `timeout_us` rounded up to whole milliseconds,
  // ending no later than the nearest connect deadline (rounded up too, so
  // the deadline has passed when the wait ends).
  int WaitMs(std::int64_t timeout_us) const {
    if (timeout_us <= 0) return 0;
    if (!deadlines_.empty()) {
      const std::int64_t until_ns =
          deadlines_.top()->deadline_ns - internal::MonotonicNowNs();
      timeout_us =
          std::clamp<std::int64_t>((until_ns + 999) / 1000, 0, timeout_us);
    }
    return static_cast<int>(
        std::min<std::int64_t>((timeout_us + 999) / 1000, 1 << 30));
  }

  void OnConnectEvent(EpollConn* c, std::uint32_t ev) {
    int error = 0;
    socklen_t len = sizeof error;
    if (::getsockopt(c->fd(), SOL_SOCKET, SO_ERROR, &error, &len) != 0) {
      error = errno;
    }
    if (error != 0) {
      FinishConnect(c, -error);
    } else if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
      FinishConnect(c, 0);
    }
  }

  // Fails the connects whose deadline has passed (or that failed at once),
  // at most those due when the call began: a handler that reconnects from
  // OnConnected gets its outcome from the next Poll.
  int ExpireConnects() {
    if (deadlines_.empty()) return 0;
    const std::int64_t now = internal::MonotonicNowNs();
    int handled = 0;
    for (std::size_t budget = deadlines_.size();
         budget > 0 && !deadlines_.empty() &&
         deadlines_.top()->deadline_ns <= now;
         --budget) {
      EpollConn* c = deadlines_.top();
      FinishConnect(c, c->deadline_error);
      ++handled;
    }
    return handled;
  }

  void FinishConnect(EpollConn* c, int error) {
    deadlines_.Remove(c);
    if (error == 0) {
      c->connecting = false;
      // Reads start now; EPOLLOUT only while a send is blocked again.
      Register(c, EPOLL_CTL_MOD, kConnEvents);
      c->handler()->OnConnected(0);
      // Bytes may have come with the handshake's edge.
      if (!c->closed && !c->linked() && !c->read_paused) ready_.PushBack(c);
      return;
    }
    // Still `connecting` during the call, so a Send gets -ENOTCONN.
    c->handler()->OnConnected(error);
    Close(c);
  }

  ListenerEntry* FindListener(void* ptr) {
    for (auto& [fd, l] : listeners_) {
      if (l.get() == ptr) return l.get();
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

  // Reads from each connection that was ready when the call began, up to
  // its budget; one that did not reach EAGAIN goes to the back of the list
  // for the next Poll, behind those that became ready meanwhile.
  int ServeReady() {
    int handled = 0;
    for (int fd : std::exchange(pending_accept_, {})) {
      if (auto it = listeners_.find(fd); it != listeners_.end()) {
        AcceptReady(*it->second);
      }
    }
    ReadyList turn;
    turn.Splice(ready_);
    while (!turn.empty()) {
      EpollConn* c = turn.PopFront();
      ++handled;
      if (!ReadUpToBudget(c) && !c->closed && !c->linked()) {
        ready_.PushBack(c);
      }
    }
    return handled;
  }

  // True when the socket is drained (or gone, or paused).
  bool ReadUpToBudget(EpollConn* c) {
    for (int r = 0; r < options_.read_budget && !c->closed; ++r) {
      if (c->read_paused) return true;
      const ssize_t got =
          ::recv(c->fd(), read_buffer_.data(), read_buffer_.size(), 0);
      if (got > 0) {
        c->handler()->OnData(
            {read_buffer_.data(), static_cast<std::size_t>(got)});
        // A short read emptied the socket: with edge triggering, bytes that
        // arrive later raise a new edge, so the usual extra recv() that
        // only returns EAGAIN is a wasted syscall per wake-up. Not so for a
        // FIN that came with the data: it raises no new edge, so after a
        // hang-up event we read on until recv() says EOF.
        if (static_cast<std::size_t>(got) < read_buffer_.size() &&
            !c->hangup_seen) {
          return true;
        }
        continue;
      }
      if (got == 0) {
        c->handler()->OnPeerClosed(0);
        return true;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        c->handler()->OnPeerClosed(-errno);
      }
      return true;
    }
    return c->closed || c->read_paused;
  }

  void ArmWrite(EpollConn* c, bool on) {
    if (c->want_write == on) return;
    c->want_write = on;
    Register(c, EPOLL_CTL_MOD, kConnEvents | (on ? EPOLLOUT : 0u));
  }

  ReactorOptions options_;
  int epoll_fd_ = -1;
  std::uint64_t event_syscalls_ = 0;  // epoll_wait calls
  internal::WakeSignal wake_;
  std::vector<std::byte> read_buffer_;
  absl::flat_hash_map<int, std::unique_ptr<ListenerEntry>> listeners_;
  std::vector<std::unique_ptr<ListenerEntry>> retired_listeners_;
  std::vector<int> pending_accept_;
  internal::ReadableSet readables_;
  std::vector<ReadableEntry*> pending_readable_;
  ReadyList ready_;
  DeadlineHeap deadlines_;
  internal::ConnectionRegistry<EpollConn> conns_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Reactor>> CreateEpollReactor(
    const ReactorOptions& options) {
  auto r = std::make_unique<EpollReactor>(options);
  if (absl::Status s = r->Init(); !s.ok()) return s;
  return std::unique_ptr<Reactor>(std::move(r));
}

}  // namespace tachyon::io
