// ReconnectBackoff (backend/reconnect_backoff.h): equal-jitter bounds at
// every step, the cap, parallel failures counted once, and the reset.
#include "backend/reconnect_backoff.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "gtest/gtest.h"

namespace tachyon::backend {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kStartNs = 1'000'000'000'000;

TEST(ReconnectBackoffTest, MayAttemptAtOnceBeforeAnyFailure) {
  const ReconnectBackoff backoff(50, 5000);
  EXPECT_TRUE(backoff.MayAttempt(kStartNs));
  EXPECT_TRUE(backoff.MayAttempt(std::numeric_limits<std::int64_t>::min()));
  EXPECT_EQ(backoff.failures(), 0);
}

TEST(ReconnectBackoffTest, WaitsLieInTheUpperHalfOfADoublingCappedCeiling) {
  SplitMix64 rng(3);
  ReconnectBackoff backoff(50, 5000);
  const std::int64_t ceilings_ms[] = {50,   100,  200,  400,  800,
                                      1600, 3200, 5000, 5000, 5000};
  std::int64_t now = kStartNs;
  for (const std::int64_t ceiling_ms : ceilings_ms) {
    const std::int64_t next = backoff.OnFailure(now, rng);
    EXPECT_EQ(backoff.ceiling_ns(), ceiling_ms * kMs);
    EXPECT_GE(next - now, ceiling_ms * kMs / 2) << ceiling_ms;
    EXPECT_LE(next - now, ceiling_ms * kMs) << ceiling_ms;
    EXPECT_FALSE(backoff.MayAttempt(next - 1));
    EXPECT_TRUE(backoff.MayAttempt(next));
    now = next;  // the next attempt starts, and fails at once
  }
  EXPECT_EQ(backoff.failures(), 10);
}

TEST(ReconnectBackoffTest, JitterSpreadsWaitsOverTheUpperHalf) {
  // Many pools failing at one instant draw different waits.
  SplitMix64 rng(11);
  std::int64_t shortest = std::numeric_limits<std::int64_t>::max();
  std::int64_t longest = 0;
  for (int pool = 0; pool < 200; ++pool) {
    ReconnectBackoff backoff(1000, 5000);
    const std::int64_t wait = backoff.OnFailure(kStartNs, rng) - kStartNs;
    shortest = std::min(shortest, wait);
    longest = std::max(longest, wait);
  }
  EXPECT_LT(shortest, 550 * kMs);
  EXPECT_GT(longest, 950 * kMs);
}

TEST(ReconnectBackoffTest, FailuresDuringARunningWaitCountOnce) {
  SplitMix64 rng(5);
  ReconnectBackoff backoff(50, 5000);
  const std::int64_t next = backoff.OnFailure(kStartNs, rng);
  const SplitMix64 before = rng;
  // Two more connects that were in flight fail before the wait is over.
  EXPECT_EQ(backoff.OnFailure(kStartNs + 1, rng), next);
  EXPECT_EQ(backoff.OnFailure(next - 1, rng), next);
  EXPECT_EQ(backoff.failures(), 1);
  EXPECT_EQ(backoff.ceiling_ns(), 50 * kMs);
  SplitMix64 after = rng;
  SplitMix64 untouched = before;
  EXPECT_EQ(after.Next(), untouched.Next());  // no value drawn
  // A failure after the wait doubles.
  (void)backoff.OnFailure(next, rng);
  EXPECT_EQ(backoff.failures(), 2);
  EXPECT_EQ(backoff.ceiling_ns(), 100 * kMs);
}

TEST(ReconnectBackoffTest, SuccessResetsToTheFirstCeiling) {
  SplitMix64 rng(9);
  ReconnectBackoff backoff(50, 5000);
  std::int64_t now = kStartNs;
  for (int i = 0; i < 6; ++i) now = backoff.OnFailure(now, rng);
  EXPECT_EQ(backoff.ceiling_ns(), 1600 * kMs);
  backoff.OnSuccess();
  EXPECT_EQ(backoff.failures(), 0);
  EXPECT_TRUE(backoff.MayAttempt(now));
  const std::int64_t next = backoff.OnFailure(now, rng);
  EXPECT_EQ(backoff.ceiling_ns(), 50 * kMs);
  EXPECT_LE(next - now, 50 * kMs);
}

TEST(ReconnectBackoffTest, DegenerateSettingsStaySafe) {
  SplitMix64 rng(1);
  ReconnectBackoff zero(0, 0);  // first 1 ms, cap raised to 1 ms
  const std::int64_t next = zero.OnFailure(kStartNs, rng);
  EXPECT_GE(next - kStartNs, kMs / 2);
  EXPECT_LE(next - kStartNs, kMs);
  ReconnectBackoff big(std::numeric_limits<std::uint32_t>::max(),
                       std::numeric_limits<std::uint32_t>::max());
  std::int64_t now = 0;
  for (int i = 0; i < 100; ++i) now = big.OnFailure(now, rng);
  EXPECT_EQ(big.ceiling_ns(), static_cast<std::int64_t>(
                                  std::numeric_limits<std::uint32_t>::max()) *
                                  kMs);
  config::BackendService service;  // defaults: 50 ms, 5 s
  ReconnectBackoff from_service(service);
  (void)from_service.OnFailure(kStartNs, rng);
  EXPECT_EQ(from_service.ceiling_ns(), 50 * kMs);
}

}  // namespace
}  // namespace tachyon::backend
