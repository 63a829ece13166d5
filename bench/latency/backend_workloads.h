// The backend side of the request/response workloads: an echo service in
// its own process, built on the service library (tachyon/service/server.h),
// as a user's backend would be.
#ifndef TACHYON_BENCH_LATENCY_BACKEND_WORKLOADS_H_
#define TACHYON_BENCH_LATENCY_BACKEND_WORKLOADS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "harness.h"

namespace tachyon::bench {

/// W4's backend: a child process serving kBenchServiceId (echo) on an
/// ephemeral loopback port with one service thread. Started before the
/// gateway, whose [[backends]] entry names its port; stopped (by its PID)
/// when this object goes away.
class BenchBackend {
 public:
  /// Forks the backend (call while this process has no other threads) and
  /// waits for it to listen. nullptr with `error` set on failure.
  static std::unique_ptr<BenchBackend> Start(std::string* error);
  ~BenchBackend();
  BenchBackend(const BenchBackend&) = delete;
  BenchBackend& operator=(const BenchBackend&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] pid_t pid() const { return child_->pid(); }

 private:
  BenchBackend(std::unique_ptr<Child> child, std::uint16_t port)
      : child_(std::move(child)), port_(port) {}
  std::unique_ptr<Child> child_;
  std::uint16_t port_;
};

}  // namespace tachyon::bench

#endif  // TACHYON_BENCH_LATENCY_BACKEND_WORKLOADS_H_
