// A backend service for tests: a real listening socket on loopback, served
// by its own thread, that speaks the backend role of the protocol
// (PROTOCOL.md 13) to any number of gateway connections.
//
// It answers LOGON with LOGON_ACK, HEARTBEAT with HEARTBEAT, closes after
// LOGOUT, an ERROR or a malformed frame, and answers each
// REQUEST according to its payload:
//   "hold..."      not answered until ReleaseHeld() (then OK "late")
//   "malformed..." 32 bytes that are no frame, on that connection
//   "mute..."      nothing more is sent on that connection, not even
//                  HEARTBEATs
//   "error..."     RESPONSE BACKEND_ERROR "refused"
//   "status2..."   RESPONSE TIMEOUT "slow", a status a backend may not send
//   anything else  RESPONSE OK echoing the payload
//
// Example
//   TestBackend backend;
//   config.backends.push_back(Service("echo", 1, backend.port()));
//   ...
//   backend.Stop();  // every connection closes, like a killed process
//
// Threading: the serving thread owns the sockets; the counters and the
// controls (ReleaseHeld, Stop) may be used from any thread.
#ifndef TACHYON_TESTS_SUPPORT_TEST_BACKEND_H_
#define TACHYON_TESTS_SUPPORT_TEST_BACKEND_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>

namespace tachyon::testing {

class TestBackend {
 public:
  /// Listens on 127.0.0.1:`port` (0: ephemeral; SO_REUSEADDR, so a port a
  /// stopped backend used can be taken again) and starts serving.
  /// `on_thread_start` (if set) runs first on the serving thread.
  explicit TestBackend(std::uint16_t port = 0,
                       std::function<void()> on_thread_start = {});
  ~TestBackend();
  TestBackend(const TestBackend&) = delete;
  TestBackend& operator=(const TestBackend&) = delete;

  /// 0 if the listener could not be set up.
  [[nodiscard]] std::uint16_t port() const { return port_; }
  /// Answers every held request (OK "late"), now and from now on.
  void ReleaseHeld() { release_.store(true, std::memory_order_release); }
  /// Closes the listener and every connection and joins the thread.
  void Stop();

  [[nodiscard]] int logons() const {
    return logons_.load(std::memory_order_acquire);
  }
  [[nodiscard]] int requests() const {
    return requests_.load(std::memory_order_acquire);
  }
  /// ERROR frames and LOGOUTs received from the gateway.
  [[nodiscard]] int errors() const {
    return errors_.load(std::memory_order_acquire);
  }
  [[nodiscard]] int logouts() const {
    return logouts_.load(std::memory_order_acquire);
  }
  /// Requests held and not yet released.
  [[nodiscard]] int held() const {
    return held_.load(std::memory_order_acquire);
  }

 private:
  void Serve();

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::function<void()> on_thread_start_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> release_{false};
  std::atomic<int> logons_{0};
  std::atomic<int> requests_{0};
  std::atomic<int> held_{0};
  std::atomic<int> errors_{0};
  std::atomic<int> logouts_{0};
  std::thread thread_;
};

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_SUPPORT_TEST_BACKEND_H_
