#include "backend/endpoint_health.h"

#include <algorithm>
#include <limits>

namespace tachyon::backend {

EndpointHealth::EndpointHealth(int eject_after_failures, std::uint32_t eject_ms)
    : eject_after_(std::max(eject_after_failures, 0)),
      eject_ns_(
          static_cast<std::int64_t>(std::max<std::uint32_t>(eject_ms, 1)) *
          1'000'000),
      max_eject_ns_(std::max(eject_ns_, kMaxEjectNs)),
      ejected_until_ns_(std::numeric_limits<std::int64_t>::min()) {}

bool EndpointHealth::OnFailure(std::int64_t now_ns) {
  if (!Available(now_ns)) return false;
  ++failures_;
  if (eject_after_ == 0) return false;
  if (!probation_ && failures_ < eject_after_) return false;
  // Stayed in, with a success, for as long as it was last out: a fresh
  // start rather than a repeat offence.
  if (ejections_ > 0 && success_since_return_ &&
      now_ns - ejected_until_ns_ >= last_eject_ns_) {
    ejections_ = 0;
  }
  // Doubling stops at the cap, so it never overflows.
  last_eject_ns_ =
      ejections_ == 0 ? eject_ns_ : std::min(last_eject_ns_ * 2, max_eject_ns_);
  ++ejections_;
  ejected_until_ns_ = now_ns + last_eject_ns_;
  failures_ = 0;
  probation_ = true;
  success_since_return_ = false;
  return true;
}

void EndpointHealth::OnSuccess(std::int64_t now_ns) {
  if (!Available(now_ns)) return;
  failures_ = 0;
  probation_ = false;
  if (ejections_ > 0) success_since_return_ = true;
}

}  // namespace tachyon::backend
