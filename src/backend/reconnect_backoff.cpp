#include "backend/reconnect_backoff.h"

#include <algorithm>
#include <limits>

namespace tachyon::backend {
namespace {

constexpr std::int64_t kNsPerMs = 1'000'000;

}  // namespace

ReconnectBackoff::ReconnectBackoff(std::uint32_t first_ms, std::uint32_t max_ms)
    : first_ns_(
          static_cast<std::int64_t>(std::max<std::uint32_t>(first_ms, 1)) *
          kNsPerMs),
      max_ns_(
          std::max(static_cast<std::int64_t>(max_ms) * kNsPerMs, first_ns_)),
      next_attempt_ns_(std::numeric_limits<std::int64_t>::min()) {}

std::int64_t ReconnectBackoff::OnFailure(std::int64_t now_ns, SplitMix64& rng) {
  if (failures_ > 0 && now_ns < next_attempt_ns_) return next_attempt_ns_;
  ++failures_;
  // Doubling stops at the cap, so the shift never overflows.
  ceiling_ns_ = failures_ == 1 ? first_ns_ : std::min(ceiling_ns_ * 2, max_ns_);
  const std::int64_t half = ceiling_ns_ / 2;
  next_attempt_ns_ = now_ns + half + rng.Uniform(0, ceiling_ns_ - half);
  return next_attempt_ns_;
}

void ReconnectBackoff::OnSuccess() {
  failures_ = 0;
  ceiling_ns_ = 0;
  next_attempt_ns_ = std::numeric_limits<std::int64_t>::min();
}

}  // namespace tachyon::backend
