// Loopback sockets for tests: TCP connections to a local port, whole-buffer
// sends, draining to EOF, free ports and a bound UDP socket.
//
// Every call that waits takes a timeout; none throws. File descriptors are
// the caller's to close except where a class owns them.
//
// Example
//   const int fd = ConnectLoopback(gateway->port());
//   ASSERT_GE(fd, 0);
//   ASSERT_TRUE(SendAll(fd, frame));
//   EXPECT_TRUE(DrainUntilEof(fd, std::chrono::seconds(5)));
//   ::close(fd);
#ifndef TACHYON_TESTS_SUPPORT_NET_H_
#define TACHYON_TESTS_SUPPORT_NET_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace tachyon::testing {

/// 127.0.0.1:`port`.
sockaddr_in LoopbackAddress(std::uint16_t port);

/// A blocking TCP connection to 127.0.0.1:`port` with TCP_NODELAY;
/// `rcvbuf` > 0 sets SO_RCVBUF before connecting (a small one makes a slow
/// consumer). The fd, or -1 if the connection failed.
int ConnectLoopback(std::uint16_t port, int rcvbuf = 0);

/// A loopback port of `type` (SOCK_STREAM or SOCK_DGRAM) that nothing is
/// bound to: bound to port 0, then closed.
std::uint16_t UnusedPort(int type = SOCK_STREAM);

/// Sends all of `bytes` (blocking, MSG_NOSIGNAL, EINTR retried). False on an
/// error, such as the peer having closed.
bool SendAll(int fd, std::span<const std::byte> bytes);

/// Reads and discards until the peer closes (true) or `timeout` (false).
bool DrainUntilEof(int fd, std::chrono::milliseconds timeout);

/// A UDP socket bound to the wildcard address (where group traffic arrives)
/// on an ephemeral port, member of IPv4 multicast `group` on the loopback
/// interface. Returns the fd (the caller closes it) and sets `port`; -1 with
/// `error` set when the kernel refuses the membership.
int JoinLoopbackMulticast(const std::string& group, std::uint16_t* port,
                          std::string* error);

/// A UDP socket bound to 127.0.0.1 on an ephemeral port, with an 8 MiB
/// receive buffer asked for (the kernel caps it at net.core.rmem_max).
class UdpSocket {
 public:
  UdpSocket();
  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  /// "127.0.0.1:port", as config destinations spell it.
  [[nodiscard]] std::string endpoint() const;

  /// Sends one datagram to 127.0.0.1:`port`; true if all of it was sent.
  bool SendTo(std::uint16_t port, std::span<const std::byte> bytes) const;
  /// The next datagram within `timeout`; empty on timeout.
  std::vector<std::byte> Receive(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(3000));

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_SUPPORT_NET_H_
