// WarmSchedule: the scheduled warm-ups of a service (warm_at), e.g. a
// market open, during which each endpoint pool holds warm_connections ready
// whatever the demand (PoolSizer::Target's `warm`).
//
// Each warm_at entry is a UTC time of day "HH:MM" (00:00..23:59, two digits
// each). A warm-up is active from warm_lead_ms before that time until
// warm_hold_ms after it, every day, the window taken half-open:
// [T - lead, T + hold). A window may cross midnight either way ("00:10"
// with a 20-minute lead starts at 23:50 the day before; "23:50" with a
// 30-minute hold ends at 00:20). Windows that cover the whole day make the
// warm-up always active.
//
// The clock is the realtime one (CLOCK_REALTIME, ns since the Unix epoch,
// UTC; leap seconds do not exist in it), read by the caller: the schedule
// follows the wall clock while everything else in the pool runs on the
// monotonic clock.
//
// Worked example: warm_at = ["13:30"], lead 60 s, hold 300 s (defaults):
// active from 13:29:00.000 up to 13:34:59.999 UTC each day.
//
// Example:
//   absl::StatusOr<backend::WarmSchedule> warm =
//       backend::WarmSchedule::Create(service);   // at setup
//   bool active = warm->Active(realtime_ns);       // each tick
//
// Threading: const after Create; Active is safe from any thread and never
// allocates.
#ifndef TACHYON_BACKEND_WARM_SCHEDULE_H_
#define TACHYON_BACKEND_WARM_SCHEDULE_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "config/model.h"

namespace tachyon::backend {

/// Parses "HH:MM" (exactly five characters, 00..23 and 00..59) into
/// minutes after midnight; nullopt for anything else.
std::optional<int> ParseWarmTime(std::string_view hh_mm);

/// The daily warm-up windows of one service.
class WarmSchedule {
 public:
  /// No warm-ups: Active is always false.
  WarmSchedule() = default;

  /// From warm_at, warm_lead_ms and warm_hold_ms. INVALID_ARGUMENT naming
  /// the entry and its index when one is not "HH:MM" (config validation
  /// reports it first, with file:line:key; this keeps a bad value out).
  static absl::StatusOr<WarmSchedule> Create(
      const config::BackendService& service);

  /// Whether a warm-up is active at `realtime_ns` (CLOCK_REALTIME).
  [[nodiscard]] bool Active(std::int64_t realtime_ns) const;

  /// The parsed times, minutes after midnight, in warm_at's order.
  [[nodiscard]] const std::vector<int>& minutes() const { return minutes_; }

 private:
  std::vector<int> minutes_;
  std::int64_t lead_ns_ = 0;
  std::int64_t hold_ns_ = 0;
};

}  // namespace tachyon::backend

#endif  // TACHYON_BACKEND_WARM_SCHEDULE_H_
