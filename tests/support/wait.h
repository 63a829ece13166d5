// Waiting for a condition another thread (or process) brings about, bounded
// in time and in the number of checks.
//
// Example
//   ASSERT_TRUE(WaitUntil([&] { return gateway->Stats().sessions_open == 0;
//   }));
#ifndef TACHYON_TESTS_SUPPORT_WAIT_H_
#define TACHYON_TESTS_SUPPORT_WAIT_H_

#include <chrono>
#include <functional>
#include <thread>

namespace tachyon::testing {

/// Checks `done` about once a millisecond until it holds (true) or `timeout`
/// passed (false). At most timeout / 1 ms + 1 checks.
inline bool WaitUntil(
    const std::function<bool()>& done,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (long checks = timeout.count() + 1; checks > 0; --checks) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return done();
}

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_SUPPORT_WAIT_H_
