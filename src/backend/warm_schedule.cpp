#include "backend/warm_schedule.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tachyon::backend {
namespace {

constexpr std::int64_t kNsPerMs = 1'000'000;
constexpr std::int64_t kNsPerMinute = 60'000 * kNsPerMs;
constexpr std::int64_t kNsPerDay = 1440 * kNsPerMinute;

std::optional<int> TwoDigits(char high, char low) {
  if (high < '0' || high > '9' || low < '0' || low > '9') return std::nullopt;
  return (high - '0') * 10 + (low - '0');
}

}  // namespace

std::optional<int> ParseWarmTime(std::string_view hh_mm) {
  if (hh_mm.size() != 5 || hh_mm[2] != ':') return std::nullopt;
  const std::optional<int> hours = TwoDigits(hh_mm[0], hh_mm[1]);
  const std::optional<int> minutes = TwoDigits(hh_mm[3], hh_mm[4]);
  if (!hours || !minutes || *hours > 23 || *minutes > 59) return std::nullopt;
  return *hours * 60 + *minutes;
}

absl::StatusOr<WarmSchedule> WarmSchedule::Create(
    const config::BackendService& service) {
  WarmSchedule schedule;
  schedule.minutes_.reserve(service.warm_at.size());
  for (std::size_t i = 0; i < service.warm_at.size(); ++i) {
    const std::optional<int> minute = ParseWarmTime(service.warm_at[i]);
    if (!minute) {
      return absl::InvalidArgumentError(absl::StrCat(
          "backend '", service.name, "': warm_at[", i, "] = \"",
          service.warm_at[i], "\" is not a UTC time of day \"HH:MM\""));
    }
    schedule.minutes_.push_back(*minute);
  }
  schedule.lead_ns_ =
      static_cast<std::int64_t>(service.warm_lead_ms) * kNsPerMs;
  schedule.hold_ns_ =
      static_cast<std::int64_t>(service.warm_hold_ms) * kNsPerMs;
  return schedule;
}

bool WarmSchedule::Active(std::int64_t realtime_ns) const {
  if (minutes_.empty()) return false;
  if (lead_ns_ + hold_ns_ >= kNsPerDay) return true;
  // Time of day in [0, day), also before 1970 (% keeps the sign).
  std::int64_t day_ns = realtime_ns % kNsPerDay;
  if (day_ns < 0) day_ns += kNsPerDay;
  for (const int minute : minutes_) {
    // How long after this warm-up's time we are, going forward from it:
    // [0, hold) is the hold, [day - lead, day) the lead of the next one.
    std::int64_t after = day_ns - minute * kNsPerMinute;
    if (after < 0) after += kNsPerDay;
    if (after < hold_ns_ || after >= kNsPerDay - lead_ns_) return true;
  }
  return false;
}

}  // namespace tachyon::backend
