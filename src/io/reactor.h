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
//   Connect: Connect(fd, addr, len, handler, timeout) starts an outbound
//   connection on a non-blocking socket the caller created and tuned, and
//   returns its handle at once. OnConnected(0) follows from a later Poll
//   when the connection is up (from then on it is like an accepted one:
//   OnData, Send, Close), or OnConnected(-errno) when it failed, after which
//   the reactor closes it itself and OnReleased follows from a later Poll.
//   Until OnConnected(0), Send returns -ENOTCONN.
//
//   Close: Close(conn) stops callbacks for that connection (a pending
//   connect is cancelled: no OnConnected follows); OnReleased follows
//   exactly once, from a later Poll, after which the reactor holds no
//   reference to the handler and the handler may be destroyed.
//
//   Readiness: AddReadable(fd, handler) reports only that a socket the
//   caller reads itself (a UDP socket drained with recvmmsg) has become
//   readable (epoll: EPOLLIN edge; io_uring: multishot poll). The reactor
//   never reads such a socket and never closes it.
//
// What a zero-timeout Poll costs: a worker that spins calls Poll(0) in a
// loop, so a Poll(0) that finds nothing to do must be cheap. io_uring: no
// system call at all; it reads the completion queue and the ring's flags in
// shared memory and calls io_uring_enter only when submissions are queued or
// the kernel flags completions only an enter can post (task work, overflow;
// a ring set up without IORING_SETUP_TASKRUN_FLAG cannot tell and enters
// every time). epoll: one epoll_wait(..., 0). Epoll keeps its ready list in
// the kernel, so some system call it must be, and this is the cheapest that
// never misses readiness: tachyon-micro-idle measured it at a bare system
// call's cost plus ~5 % whatever the number of registered sockets, while a
// poll(2) on the epoll fd costs more and still needs the epoll_wait after
// it. (On a 2-vCPU VM: io_uring Poll(0) ~10 ns; epoll_wait(0) ~1.1 µs;
// getppid ~1.0 µs.) event_syscalls() counts these calls.
//
// Threads and blocking: a reactor belongs to the thread that calls Poll.
// Every call except Wake() must come from that thread, and every callback
// runs on it, from inside Poll, never from inside another Reactor call (so
// Connect, Send and Close never call back into the handler that called
// them). Only Poll blocks, and only for up to its timeout (capped at the
// nearest connect deadline); every other call returns at once. Wake() is
// the one thread-safe call: any thread may use it to end a blocking Poll
// early.
//
// Example: an outbound connection that says hello and waits for the reply.
//
//   class Dialer : public io::ConnectionHandler {
//     void OnConnected(int error) override {
//       if (error != 0) return;  // the reactor closes; OnReleased follows
//       iovec hello{const_cast<char*>("hello"), 5};
//       reactor->Send(conn, {&hello, 1});  // pending or done; see Send
//     }
//     void OnData(std::span<const std::byte> reply) override { ... }
//     ...
//   };
//   int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
//   dialer.conn = reactor->Connect(fd, addr, addr_len, &dialer, 500'000);
//   while (running) reactor->Poll(1000);
#ifndef TACHYON_IO_REACTOR_H_
#define TACHYON_IO_REACTOR_H_

#include <sys/socket.h>
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
/// handle between AddConnection (or Connect) and OnReleased and may read
/// fd() (e.g. for shutdown(2) or getsockopt), never close it.
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
  /// An outbound connection (Reactor::Connect) finished connecting, exactly
  /// once unless Close came first: 0 on success (reads start now, Send
  /// works), or a negative errno (-ECONNREFUSED, -ETIMEDOUT when the
  /// connect timeout passed first, -ENETUNREACH, ...), after which the
  /// reactor closes the connection itself (a Close from the handler is
  /// harmless) and OnReleased follows from a later Poll. Never called for
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
  /// Starts connecting the non-blocking socket `fd` (created and tuned by the
  /// caller) to `addr` (`len` bytes, copied). The reactor owns the fd from
  /// now on. Never fails here and never calls back from inside: the outcome
  /// arrives as handler->OnConnected from a later Poll, even for an error
  /// found at once (a bad address, -EINVAL). `timeout_us` > 0 bounds the
  /// connect (from its submission to the kernel): when it passes first,
  /// OnConnected(-ETIMEDOUT); 0 or less leaves it to the kernel's own SYN
  /// retries. Close before OnConnected cancels the connect.
  virtual Connection* Connect(int fd, const sockaddr* addr, socklen_t len,
                              ConnectionHandler* handler,
                              std::int64_t timeout_us) = 0;
  /// Reports readability of a non-blocking socket that the caller keeps
  /// owning and reads itself; OnReadable follows from Poll (at least once
  /// soon after registration, in case data already waits).
  virtual absl::Status AddReadable(int fd, ReadinessHandler* handler) = 0;
  /// Stops reporting `fd`: no OnReadable for it after this returns. The
  /// caller closes the fd afterwards.
  virtual void RemoveReadable(int fd) = 0;
  /// Sends `iov` (at most kMaxIov entries; copied, but the bytes they point to
  /// must stay valid and unchanged until completion). Not pending: `bytes`
  /// written (possibly fewer than offered), 0 when the socket was full
  /// (OnWritable follows), or -errno: -EBADF after Close, -ENOTCONN before
  /// OnConnected(0), -ENOBUFS when io_uring could get no submission entry.
  /// Pending: OnSendComplete reports the same outcomes later.
  virtual SendResult Send(Connection* conn, std::span<const iovec> iov) = 0;
  /// Begins closing; OnReleased follows from a later Poll.
  virtual void Close(Connection* conn) = 0;
  /// Flow control: stops reading `conn` until ResumeReading, so its bytes
  /// wait in the kernel and TCP's receive window slows the sender. No
  /// OnData or OnPeerClosed follows until then, not even for bytes the
  /// reactor had already taken from the socket (io_uring holds those and
  /// hands them over first after ResumeReading). May be called from inside
  /// OnData, which must still take every byte it was given; later calls are
  /// harmless. Sends and OnWritable are unaffected.
  virtual void PauseReading(Connection* conn) = 0;
  /// Reads again after PauseReading: data (held bytes first, then new ones)
  /// and a pending hang-up are reported from a later Poll, which does not
  /// block while they wait. Harmless on a connection that is not paused.
  virtual void ResumeReading(Connection* conn) = 0;
  /// Handles ready events, waiting at most `timeout_us` microseconds for the
  /// first (0 or less: do not wait), and no longer than until the nearest
  /// connect deadline. Returns the number of events handled. With nothing
  /// to do, a zero-timeout Poll makes no system call on io_uring and one
  /// epoll_wait on epoll (see the overview).
  virtual int Poll(std::int64_t timeout_us) = 0;
  /// Thread-safe: makes a blocked Poll return soon.
  virtual void Wake() = 0;
  /// System calls made to submit, wait for or collect events since the
  /// reactor was created: io_uring_enter (counted per call into liburing
  /// that may enter, so never below the real count) or epoll_wait. The
  /// syscalls handlers cause (epoll's sendmsg and reads) are not counted.
  /// Owner thread; for tests and benchmarks.
  [[nodiscard]] virtual std::uint64_t event_syscalls() const = 0;

  static constexpr std::size_t kMaxIov = 64;
};

/// Options shared by both implementations.
struct ReactorOptions {
  /// io_uring submission queue entries; the completion queue gets four
  /// times as many. A full submission queue is flushed on the spot.
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
/// Fails (UNAVAILABLE or INTERNAL) where the kernel or sandbox lacks what it
/// needs. `features` (if given) lists the ring features in use.
absl::StatusOr<std::unique_ptr<Reactor>> CreateUringReactor(
    const ReactorOptions& options, std::string* features = nullptr);

}  // namespace tachyon::io

#endif  // TACHYON_IO_REACTOR_H_
