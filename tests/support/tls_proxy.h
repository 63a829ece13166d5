// A TLS-terminating proxy for tests: accepts TLS 1.3 on a loopback port
// (the certificate and key given; optionally requiring a client
// certificate from `client_ca`) and forwards the plaintext to a plain
// loopback port, both ways. Lets a plain test server (test_backend.h)
// stand for a TLS one. One thread per connection, blocking OpenSSL calls.
//
// Example
//   TestBackend backend;
//   TlsProxy proxy(pki.server_cert(), pki.server_key(), pki.ca(),
//                  backend.port());
//   service.endpoints = {"127.0.0.1:" + std::to_string(proxy.port())};
//
// Threading: the proxy's threads own their sockets; Stop (or the
// destructor) from the test thread shuts them down and joins them.
#ifndef TACHYON_TESTS_SUPPORT_TLS_PROXY_H_
#define TACHYON_TESTS_SUPPORT_TLS_PROXY_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tachyon::testing {

class TlsProxy {
 public:
  TlsProxy(const std::string& cert, const std::string& key,
           const std::string& client_ca, std::uint16_t target_port)
      : target_port_(target_port) {
    // SSL_write on a socket BIO writes with write(2): a peer that has gone
    // (the gateway closing a pool connection) must fail the write, not
    // kill the test with SIGPIPE.
    ::signal(SIGPIPE, SIG_IGN);
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_3_VERSION);
    SSL_CTX_set_num_tickets(ctx_, 0);
    if (SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) != 1) {
      return;
    }
    if (!client_ca.empty()) {
      SSL_CTX_load_verify_locations(ctx_, client_ca.c_str(), nullptr);
      SSL_CTX_set_verify(
          ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 64) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return;
    }
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~TlsProxy() {
    Stop();
    SSL_CTX_free(ctx_);
  }
  TlsProxy(const TlsProxy&) = delete;
  TlsProxy& operator=(const TlsProxy&) = delete;

  /// 0 if it could not start.
  [[nodiscard]] std::uint16_t port() const { return port_; }
  /// Handshakes completed.
  [[nodiscard]] int handshakes() const { return handshakes_.load(); }

  /// When the plain side ends first, keep reading the TLS side until it
  /// ends too (to see how the TLS peer closes). Call before connecting.
  void set_wait_for_tls_close(bool wait) { wait_for_tls_close_ = wait; }
  /// TLS sides that ended with the peer's close_notify
  /// (SSL_ERROR_ZERO_RETURN), and those that ended any other way (an EOF
  /// without close_notify, an error) while the proxy was reading them.
  [[nodiscard]] int tls_close_notifies() const { return close_notifies_; }
  [[nodiscard]] int tls_other_ends() const { return other_ends_; }

  void Stop() {
    if (stopping_.exchange(true)) return;
    if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& t : workers_) t.join();
    for (int fd : fds_) ::close(fd);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
  }

 private:
  void AcceptLoop() {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      const int up = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        ::close(fd);
        ::close(up);
        return;
      }
      fds_.push_back(fd);
      fds_.push_back(up);
      workers_.emplace_back([this, fd, up] { Serve(fd, up); });
    }
  }

  void Serve(int fd, int up) {
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(target_port_);
    if (SSL_accept(ssl) == 1 &&
        ::connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      handshakes_.fetch_add(1);
      char buf[16384];
      bool up_open = true;
      for (;;) {
        if (SSL_pending(ssl) == 0) {
          pollfd p[2] = {{fd, POLLIN, 0}, {up_open ? up : -1, POLLIN, 0}};
          if (::poll(p, 2, 1000) < 0) break;
          if (stopping_) break;
          if (p[1].revents != 0) {
            const ssize_t n = ::recv(up, buf, sizeof buf, 0);
            if (n == 0 && wait_for_tls_close_) {
              up_open = false;  // go on reading the TLS side to its end
            } else if (n <= 0 ||
                       SSL_write(ssl, buf, static_cast<int>(n)) <= 0) {
              break;
            }
          }
          if (p[0].revents == 0) continue;
        }
        const int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) {
          if (SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN) {
            close_notifies_.fetch_add(1);
          } else {
            other_ends_.fetch_add(1);
          }
          break;
        }
        if (!up_open) continue;
        if (::send(up, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) {
          break;
        }
      }
    }
    ::shutdown(up, SHUT_RDWR);
    ::shutdown(fd, SHUT_RDWR);
    SSL_free(ssl);
    ERR_clear_error();
  }

  SSL_CTX* ctx_ = nullptr;
  std::uint16_t target_port_;
  std::uint16_t port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<int> handshakes_{0};
  std::atomic<bool> wait_for_tls_close_{false};
  std::atomic<int> close_notifies_{0};
  std::atomic<int> other_ends_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> workers_;
};

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_SUPPORT_TLS_PROXY_H_
