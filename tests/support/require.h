// Kernel features a test needs, decided in one place.
//
// Overview
//   A test that needs io_uring or UDP GSO asks Require...() and returns when
//   it says false. Where the feature is missing, a developer's machine skips
//   the test with the reason (GTEST_SKIP); a CI run fails it instead, because
//   CI's kernel has every feature and a skip there would hide a backend that
//   stopped working. A CI run is one with TACHYON_CI set to anything but ""
//   or "0" (.ci/run exports TACHYON_CI=1).
//
//   The failure is fatal, so a call from SetUp() keeps the test body from
//   running; from a test body, return when it says false.
//
// Example
//   TEST_P(ReactorTest, EchoesOneMessage) {
//     if (GetParam() == Backend::kUring && !RequireIoUring()) return;
//     ...
//   }
//
// Header-only and independent of the gateway's code (it probes the kernel
// with liburing and a socket), so unit tests can use it too: link
// tachyon_test_support, which carries liburing.
#ifndef TACHYON_TESTS_SUPPORT_REQUIRE_H_
#define TACHYON_TESTS_SUPPORT_REQUIRE_H_

#include <liburing.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

#include "gtest/gtest.h"

namespace tachyon::testing {

/// True when this is a CI run: TACHYON_CI is set and is neither "" nor "0".
inline bool InCi() {
  const char* v = std::getenv("TACHYON_CI");
  return v != nullptr && *v != '\0' && std::string_view(v) != "0";
}

/// Records that the running test cannot do its work because `reason`: a
/// fatal failure in CI (InCi()), a skip elsewhere. Always returns false, for
/// `if (!Require...()) return;`.
inline bool MissingFeature(std::string_view reason) {
  if (InCi()) {
    // FAIL() and GTEST_SKIP() return from the function they are in; the
    // lambdas keep that from being this bool function.
    [&] {
      FAIL() << reason << " (TACHYON_CI is set: the CI kernel must have it)";
    }();
  } else {
    [&] { GTEST_SKIP() << reason; }();
  }
  return false;
}

/// Why the gateway's io_uring reactor cannot run here, or nullopt if it can:
/// a ring must be created and have IORING_FEAT_EXT_ARG (kernel 5.11), as
/// src/io/uring requires. Probed once per process.
inline const std::optional<std::string>& IoUringUnavailable() {
  static const std::optional<std::string> reason =
      []() -> std::optional<std::string> {
    io_uring ring;
    io_uring_params params{};
    const int rc = io_uring_queue_init_params(8, &ring, &params);
    if (rc < 0) {
      std::string why =
          std::string("io_uring_setup failed: ") + std::strerror(-rc);
      std::ifstream disabled("/proc/sys/kernel/io_uring_disabled");
      int value = 0;
      if (disabled >> value && value != 0) {
        why += " (kernel.io_uring_disabled = " + std::to_string(value) + ")";
      } else if (rc == -EPERM || rc == -ENOSYS) {
        why += " (kernel built without it, or a seccomp/container policy)";
      }
      return why;
    }
    io_uring_queue_exit(&ring);
    if ((params.features & IORING_FEAT_EXT_ARG) == 0) {
      return "io_uring lacks IORING_FEAT_EXT_ARG (kernel < 5.11)";
    }
    return std::nullopt;
  }();
  return reason;
}

/// True if io_uring is usable; otherwise MissingFeature() with the reason.
inline bool RequireIoUring() {
  const std::optional<std::string>& reason = IoUringUnavailable();
  return !reason.has_value() ||
         MissingFeature("io_uring is not available: " + *reason);
}

/// Why UDP sockets cannot segment with UDP_SEGMENT (GSO, kernel 4.18) here,
/// or nullopt if they can. The same probe as the gateway's egress.
inline const std::optional<std::string>& UdpGsoUnavailable() {
  static const std::optional<std::string> reason =
      []() -> std::optional<std::string> {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::string("socket: ") + std::strerror(errno);
    int segment = 0;
    socklen_t len = sizeof segment;
    const int rc = ::getsockopt(fd, SOL_UDP, UDP_SEGMENT, &segment, &len);
    const int err = errno;
    ::close(fd);
    if (rc != 0) {
      return std::string("getsockopt(UDP_SEGMENT): ") + std::strerror(err);
    }
    return std::nullopt;
  }();
  return reason;
}

/// True if UDP GSO is usable; otherwise MissingFeature() with the reason.
inline bool RequireUdpGso() {
  const std::optional<std::string>& reason = UdpGsoUnavailable();
  return !reason.has_value() ||
         MissingFeature("UDP GSO is not available: " + *reason);
}

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_SUPPORT_REQUIRE_H_
