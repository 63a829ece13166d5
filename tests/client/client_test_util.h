// Helpers for tests of the client library: driving a Client's Poll until a
// condition holds, bounded in time. (Helpers that do not need the client
// library live in tests/support.)
#ifndef TACHYON_TESTS_CLIENT_CLIENT_TEST_UTIL_H_
#define TACHYON_TESTS_CLIENT_CLIENT_TEST_UTIL_H_

#include <chrono>
#include <functional>

#include "gtest/gtest.h"
#include "tachyon/client/client.h"

namespace tachyon::testing {

using namespace std::chrono_literals;

/// Calls client.Poll until `done()` or `timeout`; false on timeout or a
/// Poll error (recorded as a test failure). Each Poll waits at most 10 ms,
/// so at most timeout / 10 ms + 1 rounds of work are waited for.
inline bool PollUntil(client::Client& c, const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    absl::StatusOr<int> n = c.Poll(client::Client::kDefaultPollLimit, 10ms);
    if (!n.ok()) {
      ADD_FAILURE() << "Poll: " << n.status();
      return false;
    }
  }
  return true;
}

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_CLIENT_CLIENT_TEST_UTIL_H_
