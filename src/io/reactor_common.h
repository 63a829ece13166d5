// What the epoll and io_uring reactors share: the bookkeeping of their
// connections (registration, close, release), the wake-up eventfd, the copy
// of a connect address, and errno-to-Status. Internal to src/io.
#ifndef TACHYON_IO_REACTOR_COMMON_H_
#define TACHYON_IO_REACTOR_COMMON_H_

#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "io/reactor.h"

namespace tachyon::io::internal {

/// INTERNAL "what: strerror(error)" (`error` positive).
absl::Status ErrnoStatus(std::string_view what, int error);

/// CLOCK_MONOTONIC in nanoseconds.
std::int64_t MonotonicNowNs();

/// Per-connection state both reactors keep beyond the public handle.
class ConnectionBase : public Connection {
 public:
  ConnectionBase(int fd, ConnectionHandler* handler)
      : Connection(fd, handler) {}
  bool closed = false;       ///< Close called, by the handler or the reactor
  bool connecting = false;   ///< Connect started, OnConnected not yet called
  bool read_paused = false;  ///< PauseReading called, ResumeReading not yet

 private:
  template <typename Conn>
  friend class ConnectionRegistry;
  std::size_t slot_ = 0;  // index in ConnectionRegistry::all_
};

/// Owns a reactor's connections (`Conn` derives from ConnectionBase): O(1)
/// registration, O(1) removal (swap with the last), and the release of
/// closed connections from the next Poll.
template <typename Conn>
class ConnectionRegistry {
 public:
  ConnectionRegistry() = default;
  ConnectionRegistry(const ConnectionRegistry&) = delete;
  ConnectionRegistry& operator=(const ConnectionRegistry&) = delete;
  /// Deletes every connection still registered, closing the socket of each
  /// for which `still_open(c)` says it is still open.
  template <typename StillOpen>
  void DestroyAll(StillOpen still_open) {
    for (Conn* c : all_) {
      if (still_open(c)) ::close(c->fd());
      delete c;
    }
    all_.clear();
    retired_.clear();
  }

  Conn* Add(Conn* c) {
    c->slot_ = all_.size();
    all_.push_back(c);
    return c;
  }
  /// Queues `c` (closed, fd already closed) for release by the next
  /// ReleaseRetired.
  void Retire(Conn* c) { retired_.push_back(c); }

  /// Deletes each connection retired before this call and tells its handler
  /// (OnReleased, which may destroy the handler). Returns how many.
  int ReleaseRetired() {
    if (retired_.empty()) return 0;
    batch_.swap(retired_);
    for (Conn* c : batch_) {
      Conn* last = all_.back();
      all_[c->slot_] = last;
      last->slot_ = c->slot_;
      all_.pop_back();
      ConnectionHandler* h = c->handler();
      delete c;
      h->OnReleased();
    }
    const int n = static_cast<int>(batch_.size());
    batch_.clear();
    return n;
  }

 private:
  std::vector<Conn*> all_;
  std::vector<Conn*> retired_;
  std::vector<Conn*> batch_;  // being released; kept for its capacity
};

/// A socket registered with AddReadable.
struct ReadableEntry {
  int fd;
  ReadinessHandler* handler;
  bool removed = false;
  bool armed = false;  // io_uring: its multishot poll is in the ring
};

/// The AddReadable registrations. Entries live as long as the reactor: a
/// removed one may still be named by an event or completion in flight
/// (there are a few per worker).
class ReadableSet {
 public:
  ReadableEntry* Add(int fd, ReadinessHandler* handler) {
    entries_.push_back(
        std::make_unique<ReadableEntry>(ReadableEntry{fd, handler}));
    return entries_.back().get();
  }
  /// Marks the live entries for `fd` removed, passing each to `on_removed`.
  template <typename OnRemoved>
  void Remove(int fd, OnRemoved on_removed) {
    for (auto& r : entries_) {
      if (r->fd == fd && !r->removed) {
        r->removed = true;
        on_removed(r.get());
      }
    }
  }
  /// The entry `tag` points to, or null when it is none of these.
  [[nodiscard]] ReadableEntry* Find(const void* tag) const {
    for (const auto& r : entries_) {
      if (r.get() == tag) return r.get();
    }
    return nullptr;
  }

 private:
  std::vector<std::unique_ptr<ReadableEntry>> entries_;
};

/// The eventfd behind Reactor::Wake.
class WakeSignal {
 public:
  WakeSignal() = default;
  WakeSignal(const WakeSignal&) = delete;
  WakeSignal& operator=(const WakeSignal&) = delete;
  ~WakeSignal();
  absl::Status Open();
  [[nodiscard]] int fd() const { return fd_; }
  /// Thread-safe.
  void Signal();
  /// Consumes pending signals (epoll; io_uring reads the fd itself).
  void Drain();

 private:
  int fd_ = -1;
};

/// A copy of the address a connect goes to, kept where the kernel may read
/// it after Connect returned (io_uring reads it at submission).
struct PeerAddress {
  /// False (and nothing copied) when `addr` is null or `len` does not fit.
  bool Assign(const sockaddr* addr, socklen_t len);
  [[nodiscard]] const sockaddr* get() const {
    return reinterpret_cast<const sockaddr*>(&storage);
  }
  sockaddr_storage storage{};
  socklen_t len = 0;
};

}  // namespace tachyon::io::internal

#endif  // TACHYON_IO_REACTOR_COMMON_H_
