// Socket set-up: listeners and per-connection tuning from config.
//
// Each tuning option that fails is logged once per process with the reason
// (a container without CAP_NET_ADMIN cannot raise SO_PRIORITY above 6, a
// kernel without busy polling rejects SO_BUSY_POLL) and is otherwise ignored,
// unless the config sets socket.strict, in which case it is an error.
#ifndef TACHYON_IO_SOCKET_H_
#define TACHYON_IO_SOCKET_H_

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "config/model.h"

namespace tachyon::io {

/// A non-blocking socket of `type` (SOCK_STREAM, SOCK_DGRAM) bound to
/// bind:port (an IPv4 or IPv6 literal) with SO_REUSEADDR and SO_REUSEPORT,
/// so that each worker can own one on the same port. Returns the fd.
absl::StatusOr<int> OpenReusePortSocket(int type, const std::string& bind,
                                        std::uint16_t port);

/// A non-blocking TCP listener on bind:port with SO_REUSEADDR and
/// SO_REUSEPORT, so each worker can own one and the kernel spreads
/// connections across them. Returns the fd.
absl::StatusOr<int> CreateTcpListener(const std::string& bind,
                                      std::uint16_t port, int backlog);

/// Fails with ALREADY_EXISTS if another socket (another gateway process, say)
/// already listens on bind:port. SO_REUSEPORT lets any process of the same
/// user join a port's listener group and silently take a share of its
/// connections; binding a probe without SO_REUSEPORT first turns that into a
/// clear start-up error. Port 0 always passes. `kind` is SOCK_STREAM (a TCP
/// listener) or SOCK_DGRAM (a UDP port, where a second process joining the
/// group would receive a share of the datagrams).
absl::Status CheckPortFree(const std::string& bind, std::uint16_t port,
                           int kind = SOCK_STREAM);

/// The local port a bound socket ended up on (for port 0).
absl::StatusOr<std::uint16_t> LocalPort(int fd);

/// Applies TCP_NODELAY, SO_PRIORITY, SO_INCOMING_CPU (when `cpu` >= 0),
/// SO_BUSY_POLL and buffer sizes. Non-strict failures are logged once and
/// return OK.
absl::Status TuneSocket(int fd, const config::SocketOptions& options, int cpu);

/// Pins the calling thread to `cpu`.
absl::Status PinThreadToCpu(int cpu);

}  // namespace tachyon::io

#endif  // TACHYON_IO_SOCKET_H_
