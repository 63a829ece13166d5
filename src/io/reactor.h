// Reactor: the narrow interface between a worker and its event core.
//
// Overview
//   A worker owns one Reactor and drives it from its own thread. Two
//   implementations: edge-triggered epoll (readiness: the reactor performs
//   the syscalls when a socket is ready) and io_uring (completion: multishot
//   accept, multishot receive into provided buffers, one submit per Poll).
//   Handlers see the same callbacks from both, so sessions are written once.
//
//   Receive: the reactor calls OnData with bytes it received; the span is
//   valid only during the call (it lives in a reactor-owned buffer), so the
//   handler decodes whole frames in place and copies only a trailing partial
//   frame.
//
//   Send: Send(conn, iov) either completes immediately (epoll: the sendmsg
//   result) or is pending (io_uring) and completes through OnSendComplete.
//   At most one send per connection is outstanding; until it completes, the
//   memory behind `iov` must stay unchanged. A send that finds the socket
//   full writes nothing (returns or completes with 0 bytes) and OnWritable
//   follows when the socket has room again: no send is ever left waiting
//   inside the kernel, so once a send has completed the kernel never reads
//   its memory again.
//
//   Close: Close(conn) stops callbacks for that connection; OnReleased
//   follows exactly once, from a later Poll, after which the reactor holds no
//   reference to the handler and the handler may be destroyed.
//
//   Readiness: AddReadable(fd, handler) reports only that a socket the
//   caller reads itself (a UDP socket drained with recvmmsg) has become
//   readable (epoll: EPOLLIN edge; io_uring: multishot poll). The reactor
//   never reads such a socket and never closes it.
//
// What blocks: only Poll, and only for up to its timeout. Every other call
// returns at once. Nothing here is thread-safe except Wake(), which any thread
// may call to end a blocking Poll early.
#ifndef TACHYON_IO_REACTOR_H_
#define TACHYON_IO_REACTOR_H_

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "config/model.h"

namespace tachyon::io {

class ConnectionHandler;

/// A registered socket. Owned by its reactor; handlers hold the pointer as a
/// handle between AddConnection and OnReleased and may read fd() (e.g. for
/// shutdown(2) or getsockopt), never close it.
class Connection {
 public:
  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] ConnectionHandler* handler() const { return handler_; }

 protected:
  Connection(int fd, ConnectionHandler* handler) : fd_(fd), handler_(handler) {}
  ~Connection() = default;
  int fd_;
  ConnectionHandler* handler_;
};

/// Callbacks for one connected socket. All of them run on the reactor's
/// thread, from inside Poll, never from inside another Reactor call.
class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  /// Bytes arrived. `data` is valid only during the call.
  virtual void OnData(std::span<const std::byte> data) = 0;
  /// A pending send finished, and the kernel no longer references the
  /// memory behind its iovecs (it copied what it took, and takes nothing
  /// later). `result`: bytes written (possibly fewer than offered); 0 when
  /// the socket was full and nothing was written, in which case OnWritable
  /// follows once it has room; or a negative errno.
  virtual void OnSendComplete(ssize_t result) = 0;
  /// After a send that wrote nothing because the socket was full (Send
  /// returned 0 bytes, or OnSendComplete(0)): the socket has room again.
  virtual void OnWritable() = 0;
  /// The peer closed (0) or the socket failed (negative errno). The handler
  /// should Close the connection; no further OnData follows.
  virtual void OnPeerClosed(int error) = 0;
  /// After Close: the reactor is done with this connection.
  virtual void OnReleased() = 0;
  /// An outbound connection (Reactor::Connect) finished connecting: 0 on
  /// success (reads start now), or a negative errno (-ECONNREFUSED,
  /// -ETIMEDOUT for the connect timeout, ...), after which the reactor
  /// closes the connection itself and OnReleased follows. Never called for
  /// accepted connections.
  virtual void OnConnected(int error) { static_cast<void>(error); }
};

/// Callback for a socket its owner reads itself.
class ReadinessHandler {
 public:
  virtual ~ReadinessHandler() = default;
  /// The socket became readable (or was already readable when registered).
  /// Edge semantics: the handler should read until EAGAIN; if it stops
  /// earlier (a fairness budget) it must come back to the socket on its
  /// own, since the reactor reports only new arrivals.
  virtual void OnReadable() = 0;
};

/// Callback for a listening socket.
class AcceptHandler {
 public:
  virtual ~AcceptHandler() = default;
  /// A new non-blocking, close-on-exec connected socket; the callee owns it.
  virtual void OnAccept(int fd) = 0;
};

/// Result of Reactor::Send.
struct SendResult {
  bool pending = false;  ///< true: OnSendComplete will report the outcome
  ssize_t bytes = 0;     ///< when !pending: bytes written, 0, or -errno
};

class Reactor {
 public:
  virtual ~Reactor() = default;

  /// "epoll" or "io_uring".
  [[nodiscard]] virtual std::string_view name() const = 0;
  /// Starts accepting on a bound, listening, non-blocking socket.
  virtual absl::Status AddListener(int fd, AcceptHandler* handler) = 0;
  /// Stops accepting (the fd is closed by the caller afterwards).
  virtual void RemoveListener(int fd) = 0;
  /// Registers a connected non-blocking socket; the reactor owns the fd from
  /// now on and closes it after Close. Returns nullptr on failure (fd closed).
  virtual Connection* AddConnection(int fd, ConnectionHandler* handler) = 0;
  /// Reports readability of a non-blocking socket that the caller keeps
  /// owning and reads itself; OnReadable follows from Poll (at least once
  /// soon after registration, in case data already waits).
  virtual absl::Status AddReadable(int fd, ReadinessHandler* handler) = 0;
  /// Stops reporting `fd`: no OnReadable for it after this returns. The
  /// caller closes the fd afterwards.
  virtual void RemoveReadable(int fd) = 0;
  /// Sends `iov` (at most kMaxIov entries; copied, but the bytes they point to
  /// must stay valid until completion).
  virtual SendResult Send(Connection* conn, std::span<const iovec> iov) = 0;
  /// Begins closing; OnReleased follows from a later Poll.
  virtual void Close(Connection* conn) = 0;
  /// Handles ready events, waiting at most `timeout_us` microseconds for the
  /// first (0: do not wait). Returns the number of events handled.
  virtual int Poll(std::int64_t timeout_us) = 0;
  /// Thread-safe: makes a blocked Poll return soon.
  virtual void Wake() = 0;

  static constexpr std::size_t kMaxIov = 64;
};

/// Options shared by both implementations.
struct ReactorOptions {
  int uring_entries = 1024;
  /// io_uring: use provided-buffer rings and multishot receive when the
  /// kernel has them (false forces single-shot receive, for tests).
  bool uring_provided_buffers = true;
  /// epoll: at most this many reads per connection per ready event before
  /// other connections get a turn.
  int read_budget = 8;
};

/// Creates the reactor for `io`. kAuto tries io_uring and falls back to
/// epoll; `chosen_reason` (if given) explains the choice for the log.
absl::StatusOr<std::unique_ptr<Reactor>> CreateReactor(
    config::IoBackend io, const ReactorOptions& options,
    std::string* chosen_reason = nullptr);

absl::StatusOr<std::unique_ptr<Reactor>> CreateEpollReactor(
    const ReactorOptions& options);
absl::StatusOr<std::unique_ptr<Reactor>> CreateUringReactor(
    const ReactorOptions& options);

}  // namespace tachyon::io

#endif  // TACHYON_IO_REACTOR_H_
