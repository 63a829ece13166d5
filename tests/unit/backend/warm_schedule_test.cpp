// WarmSchedule (backend/warm_schedule.h): parsing "HH:MM" and the daily
// windows, at their exact edges and across midnight, on a synthetic
// realtime clock.
#include "backend/warm_schedule.h"

#include <cstdint>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tachyon::backend {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kMinute = 60'000 * kMs;
constexpr std::int64_t kDay = 1440 * kMinute;
// 2026-12-04 00:00:00 UTC.
constexpr std::int64_t kMidnight = 20'791 * kDay;

std::int64_t At(int hours, int minutes, std::int64_t extra_ns = 0) {
  return kMidnight + (hours * 60 + minutes) * kMinute + extra_ns;
}

WarmSchedule Schedule(std::vector<std::string> warm_at, std::uint32_t lead_ms,
                      std::uint32_t hold_ms) {
  config::BackendService service;
  service.name = "quotes";
  service.warm_at = std::move(warm_at);
  service.warm_lead_ms = lead_ms;
  service.warm_hold_ms = hold_ms;
  absl::StatusOr<WarmSchedule> schedule = WarmSchedule::Create(service);
  EXPECT_TRUE(schedule.ok()) << schedule.status();
  return schedule.ok() ? *std::move(schedule) : WarmSchedule();
}

TEST(WarmScheduleTest, ParsesTwoDigitHoursAndMinutes) {
  EXPECT_EQ(ParseWarmTime("00:00"), 0);
  EXPECT_EQ(ParseWarmTime("13:30"), 13 * 60 + 30);
  EXPECT_EQ(ParseWarmTime("23:59"), 23 * 60 + 59);
  for (const char* bad :
       {"24:00", "12:60", "9:30", "09:3", "09-30", "", " 09:30", "09:30 ",
        "0a:30", "09:3x", "+9:30", "99:99", "09:30:00"}) {
    EXPECT_EQ(ParseWarmTime(bad), std::nullopt) << '"' << bad << '"';
  }
}

TEST(WarmScheduleTest, RejectsABadEntryNamingIt) {
  config::BackendService service;
  service.name = "quotes";
  service.warm_at = {"08:00", "25:00"};
  const absl::StatusOr<WarmSchedule> schedule = WarmSchedule::Create(service);
  ASSERT_EQ(schedule.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(schedule.status().message(),
              testing::HasSubstr("warm_at[1] = \"25:00\""));
  EXPECT_THAT(schedule.status().message(), testing::HasSubstr("quotes"));
}

TEST(WarmScheduleTest, IsActiveFromLeadBeforeUntilHoldAfter) {
  // The header's example: 13:30, lead 60 s, hold 300 s.
  const WarmSchedule warm = Schedule({"13:30"}, 60'000, 300'000);
  EXPECT_FALSE(warm.Active(At(13, 29, -1)));
  EXPECT_TRUE(warm.Active(At(13, 29)));
  EXPECT_TRUE(warm.Active(At(13, 30)));
  EXPECT_TRUE(warm.Active(At(13, 35, -1)));
  EXPECT_FALSE(warm.Active(At(13, 35)));
  EXPECT_FALSE(warm.Active(At(1, 30)));
  // Every day.
  EXPECT_TRUE(warm.Active(At(13, 30) + 7 * kDay));
}

TEST(WarmScheduleTest, ALeadCrossesMidnightBackwards) {
  const WarmSchedule warm = Schedule({"00:10"}, 20 * 60'000, 60'000);
  EXPECT_FALSE(warm.Active(At(23, 50, -1) - kDay));
  EXPECT_TRUE(warm.Active(At(23, 50) - kDay));
  EXPECT_TRUE(warm.Active(At(23, 59, 59'999 * kMs) - kDay));
  EXPECT_TRUE(warm.Active(At(0, 0)));
  EXPECT_TRUE(warm.Active(At(0, 10)));
  EXPECT_FALSE(warm.Active(At(0, 11)));
}

TEST(WarmScheduleTest, AHoldCrossesMidnightForwards) {
  const WarmSchedule warm = Schedule({"23:50"}, 60'000, 30 * 60'000);
  EXPECT_FALSE(warm.Active(At(23, 49, -1)));
  EXPECT_TRUE(warm.Active(At(23, 49)));
  EXPECT_TRUE(warm.Active(At(0, 0) + kDay));
  EXPECT_TRUE(warm.Active(At(0, 20, -1) + kDay));
  EXPECT_FALSE(warm.Active(At(0, 20) + kDay));
}

TEST(WarmScheduleTest, SeveralTimesEachOpenTheirOwnWindow) {
  const WarmSchedule warm = Schedule({"08:00", "14:30"}, 60'000, 60'000);
  EXPECT_TRUE(warm.Active(At(8, 0)));
  EXPECT_TRUE(warm.Active(At(14, 30)));
  EXPECT_FALSE(warm.Active(At(11, 0)));
  EXPECT_EQ(warm.minutes(), (std::vector<int>{480, 870}));
}

TEST(WarmScheduleTest, NoTimesNeverWarmAndWholeDayWindowsAlwaysDo) {
  EXPECT_FALSE(WarmSchedule().Active(At(12, 0)));
  EXPECT_FALSE(Schedule({}, 60'000, 60'000).Active(At(12, 0)));
  const WarmSchedule always =
      Schedule({"12:00"}, 12 * 3'600'000, 12 * 3'600'000);
  EXPECT_TRUE(always.Active(At(0, 0)));
  EXPECT_TRUE(always.Active(At(23, 59)));
  // Zero lead and hold: an empty window.
  EXPECT_FALSE(Schedule({"12:00"}, 0, 0).Active(At(12, 0)));
}

TEST(WarmScheduleTest, TimesBeforeTheEpochUseTheSameTimeOfDay) {
  const WarmSchedule warm = Schedule({"13:30"}, 60'000, 300'000);
  EXPECT_TRUE(warm.Active(13 * 60 * kMinute + 30 * kMinute - 3 * kDay));
  EXPECT_FALSE(warm.Active(-1));
}

}  // namespace
}  // namespace tachyon::backend
