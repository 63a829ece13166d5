// The log rate limiter: a burst, then suppression with a count, refill over
// time, and threads racing one bucket (run under TSan: label concurrency).
#include "base/log_limit.h"

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace tachyon::base {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

TEST(LogRateLimiterTest, AllowsTheBurstThenSuppresses) {
  LogRateLimiter limiter(/*per_second=*/10, /*burst=*/3);
  std::uint64_t suppressed = 99;
  const std::int64_t t = 5 * kSecond;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(limiter.Allow(t, &suppressed)) << i;
    EXPECT_EQ(suppressed, 0u);
  }
  EXPECT_FALSE(limiter.Allow(t, &suppressed));
  EXPECT_FALSE(limiter.Allow(t, &suppressed));
}

TEST(LogRateLimiterTest, ReportsTheSuppressedCountWithTheNextAllowedLine) {
  LogRateLimiter limiter(/*per_second=*/10, /*burst=*/1);
  std::uint64_t suppressed = 0;
  const std::int64_t t = kSecond;
  ASSERT_TRUE(limiter.Allow(t, &suppressed));
  for (int i = 0; i < 7; ++i) ASSERT_FALSE(limiter.Allow(t, &suppressed));
  // A tenth of a second later one token is back.
  ASSERT_TRUE(limiter.Allow(t + kSecond / 10, &suppressed));
  EXPECT_EQ(suppressed, 7u);
  // Reported once.
  ASSERT_FALSE(limiter.Allow(t + kSecond / 10, &suppressed));
  EXPECT_EQ(limiter.TakeSuppressed(), 1u);
  EXPECT_EQ(limiter.TakeSuppressed(), 0u);
}

TEST(LogRateLimiterTest, RefillsAtTheRateUpToTheBurst) {
  LogRateLimiter limiter(/*per_second=*/4, /*burst=*/2);
  std::uint64_t suppressed = 0;
  std::int64_t t = kSecond;
  ASSERT_TRUE(limiter.Allow(t, &suppressed));
  ASSERT_TRUE(limiter.Allow(t, &suppressed));
  ASSERT_FALSE(limiter.Allow(t, &suppressed));
  // An hour idle refills to the burst, not to 14400.
  t += 3600 * kSecond;
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += limiter.Allow(t, &suppressed);
  EXPECT_EQ(allowed, 2);
  // A quarter second: one more.
  EXPECT_TRUE(limiter.Allow(t + kSecond / 4, &suppressed));
  EXPECT_EQ(suppressed, 8u);
}

TEST(LogRateLimiterTest, ThreadsSharingABucketAccountForEveryLine) {
  LogRateLimiter limiter(/*per_second=*/1, /*burst=*/100);
  constexpr int kThreads = 4;
  constexpr int kCalls = 5000;
  std::atomic<std::uint64_t> allowed{0};
  std::atomic<std::uint64_t> reported{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      for (int c = 0; c < kCalls; ++c) {
        std::uint64_t suppressed = 0;
        // One instant: no refill, so exactly the burst is allowed.
        if (limiter.Allow(kSecond, &suppressed)) {
          allowed.fetch_add(1, std::memory_order_relaxed);
          reported.fetch_add(suppressed, std::memory_order_relaxed);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 100u);
  EXPECT_EQ(allowed.load() + reported.load() + limiter.TakeSuppressed(),
            std::uint64_t{kThreads} * kCalls);
}

TEST(LogKindTest, EveryKindHasAName) {
  for (int k = 0; k < static_cast<int>(LogKind::kCount); ++k) {
    EXPECT_NE(LogKindName(static_cast<LogKind>(k)), "?") << k;
  }
}

}  // namespace
}  // namespace tachyon::base
