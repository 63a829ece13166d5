#include "backoff.h"

#include <algorithm>
#include <cmath>

namespace tachyon::client::internal {

bool IsTransientConnectFailure(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded ||
         status.code() == absl::StatusCode::kResourceExhausted;
}

std::chrono::steady_clock::duration BackoffDelay(
    int failures, std::chrono::milliseconds initial,
    std::chrono::milliseconds max, double jitter, std::minstd_rand& rng) {
  const double base_ms =
      std::min<double>(static_cast<double>(max.count()),
                       static_cast<double>(initial.count()) *
                           std::pow(2.0, std::clamp(failures - 1, 0, 30)));
  const double j = std::clamp(jitter, 0.0, 1.0);
  std::uniform_real_distribution<double> factor(1.0 - j, 1.0 + j);
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double, std::milli>(base_ms * factor(rng)));
}

}  // namespace tachyon::client::internal
