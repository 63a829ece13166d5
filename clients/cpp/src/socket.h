// Internal: the client's TCP socket — connecting with a deadline, tuning,
// and send/receive wrappers that turn EAGAIN and EINTR into "no progress".
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

/// Resolves `host` and connects a non-blocking TCP socket to it before
/// `deadline`, trying each resolved address in turn, then applies the
/// socket options. UNAVAILABLE "cannot connect to host:port: <errno text>"
/// on failure; DEADLINE_EXCEEDED if the deadline passes first.
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

/// One non-blocking send (MSG_NOSIGNAL); EAGAIN and EINTR give bytes = 0.
IoResult SendSome(int fd, std::span<const std::byte> bytes);
/// One non-blocking receive; EAGAIN and EINTR give bytes = 0.
IoResult ReceiveSome(int fd, std::span<std::byte> into);

/// Waits up to `timeout` (clamped to >= 0) for `events` (POLLIN / POLLOUT)
/// on `fd`. Returns the revents (0 on timeout or EINTR).
short WaitFor(int fd, short events, std::chrono::nanoseconds timeout);

/// strerror_r as a std::string.
std::string ErrnoText(int error);

}  // namespace tachyon::client::internal

#endif  // TACHYON_CLIENTS_CPP_SRC_SOCKET_H_
