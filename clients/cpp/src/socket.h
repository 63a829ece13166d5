// Internal: the client's TCP socket — connecting with a deadline, tuning,
// and send/receive wrappers that turn EAGAIN and EINTR into "no progress".
//
// The connected socket is in blocking mode so that a Poll that waits for
// data waits inside recv itself (SO_RCVTIMEO): one syscall per wake-up
// instead of poll() then recv(). Every other send and receive passes
// MSG_DONTWAIT and never blocks.
//
// Every syscall made through this layer is counted per thread
// (ThisThreadSocketCalls), so tests and benchmarks can state what a call
// costs in syscalls.
//
// Everything here is a thin layer over POSIX calls; the Client owns the
// policy (what a timeout means, when to close).
#ifndef TACHYON_CLIENTS_CPP_SRC_SOCKET_H_
#define TACHYON_CLIENTS_CPP_SRC_SOCKET_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "tachyon/client/options.h"

namespace tachyon::client::internal {

using Clock = std::chrono::steady_clock;

/// An owned file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  [[nodiscard]] int get() const { return fd_; }
  [[nodiscard]] bool valid() const { return fd_ >= 0; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset();

 private:
  int fd_ = -1;
};

/// "host:port", or "[host]:port" for an IPv6 literal.
std::string PeerName(std::string_view host, std::uint16_t port);

/// Resolves `host` and connects a TCP socket to it before `deadline`
/// (non-blocking connect), trying each resolved address in turn, then
/// applies the socket options and puts it in blocking mode (see above).
/// UNAVAILABLE "cannot connect to host:port: <errno text>" on failure;
/// DEADLINE_EXCEEDED if the deadline passes first.
absl::StatusOr<UniqueFd> ConnectTcp(std::string_view host, std::uint16_t port,
                                    const ClientOptions& options,
                                    Clock::time_point deadline);

/// Applies TCP_NODELAY, SO_RCVBUF, SO_SNDBUF and SO_BUSY_POLL from
/// `options` to a connected socket. Failures are ignored: the connection
/// works without them, only slower.
void TuneSocket(int fd, const ClientOptions& options);

/// Outcome of one non-blocking send or receive.
struct IoResult {
  std::size_t bytes = 0;  ///< transferred (0: would block)
  bool closed = false;    ///< receive: orderly EOF
  int error = 0;          ///< errno of a hard failure, else 0
};

/// One non-blocking send (MSG_DONTWAIT | MSG_NOSIGNAL); EAGAIN and EINTR
/// give bytes = 0.
IoResult SendSome(int fd, std::span<const std::byte> bytes);
/// One non-blocking receive (MSG_DONTWAIT); EAGAIN and EINTR give
/// bytes = 0.
IoResult ReceiveSome(int fd, std::span<std::byte> into);
/// Whether the socket holds unread bytes (a non-blocking MSG_PEEK of one
/// byte; counted as a receive). False on EOF and errors.
bool HasUnread(int fd);
/// One blocking receive on a blocking socket: returns as soon as any bytes
/// arrived, or with bytes = 0 once the socket's receive timeout
/// (SetReceiveTimeout) passed or a signal interrupted it.
IoResult ReceiveBlocking(int fd, std::span<std::byte> into);
/// Sets SO_RCVTIMEO, which bounds ReceiveBlocking. The kernel counts it in
/// scheduler ticks, rounding up. `timeout` must be > 0 (0 means forever to
/// the kernel). False if the kernel refused it.
bool SetReceiveTimeout(int fd, std::chrono::microseconds timeout);

/// Waits up to `timeout` (clamped to >= 0) for `events` (POLLIN / POLLOUT)
/// on `fd`. Returns the revents (0 on timeout or EINTR).
short WaitFor(int fd, short events, std::chrono::nanoseconds timeout);

/// Syscalls this thread made through this layer since it started.
struct SocketCalls {
  std::uint64_t sends = 0;     ///< send
  std::uint64_t receives = 0;  ///< recv, blocking or not
  std::uint64_t waits = 0;     ///< poll
  std::uint64_t options = 0;   ///< setsockopt(SO_RCVTIMEO)
  [[nodiscard]] std::uint64_t total() const {
    return sends + receives + waits + options;
  }
};
/// The calling thread's counts (thread-local: count a client's calls on
/// the thread that makes them).
const SocketCalls& ThisThreadSocketCalls();

/// strerror_r as a std::string.
std::string ErrnoText(int error);

}  // namespace tachyon::client::internal

#endif  // TACHYON_CLIENTS_CPP_SRC_SOCKET_H_
