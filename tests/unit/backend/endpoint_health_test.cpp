// EndpointHealth (backend/endpoint_health.h): ejection after consecutive
// failures, doubling and its cap, probation, recovery, and "never".
#include "backend/endpoint_health.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace tachyon::backend {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kSecond = 1000 * kMs;
constexpr std::int64_t kStartNs = 1'000 * kSecond;

TEST(EndpointHealthTest, FollowsTheHeadersWorkedExample) {
  EndpointHealth health(3, 5000);
  const std::int64_t t0 = kStartNs;
  EXPECT_TRUE(health.Available(t0));
  EXPECT_FALSE(health.OnFailure(t0));
  EXPECT_FALSE(health.OnFailure(t0));
  EXPECT_TRUE(health.OnFailure(t0));  // the third ejects
  EXPECT_EQ(health.ejections(), 1);
  EXPECT_FALSE(health.Available(t0 + 5 * kSecond - 1));
  EXPECT_TRUE(health.Available(t0 + 5 * kSecond));
  // Back on probation: one failure ejects again, for twice as long.
  EXPECT_TRUE(health.OnFailure(t0 + 5 * kSecond));
  EXPECT_EQ(health.ejections(), 2);
  EXPECT_EQ(health.ejected_until_ns(), t0 + 15 * kSecond);
  // Back at 15 s and logs on: probation over, failures count from 0.
  health.OnSuccess(t0 + 15 * kSecond);
  EXPECT_FALSE(health.OnFailure(t0 + 16 * kSecond));
  EXPECT_FALSE(health.OnFailure(t0 + 17 * kSecond));
  health.OnSuccess(t0 + 25 * kSecond);
  // In for 10 s (the last ejection's length) with a success: a fresh
  // first ejection, 5 s again.
  EXPECT_FALSE(health.OnFailure(t0 + 26 * kSecond));
  EXPECT_FALSE(health.OnFailure(t0 + 26 * kSecond));
  EXPECT_TRUE(health.OnFailure(t0 + 26 * kSecond));
  EXPECT_EQ(health.ejections(), 1);
  EXPECT_EQ(health.ejected_until_ns(), t0 + 31 * kSecond);
}

TEST(EndpointHealthTest, ASuccessResetsConsecutiveFailures) {
  EndpointHealth health(3, 5000);
  EXPECT_FALSE(health.OnFailure(kStartNs));
  EXPECT_FALSE(health.OnFailure(kStartNs));
  health.OnSuccess(kStartNs);
  EXPECT_EQ(health.consecutive_failures(), 0);
  EXPECT_FALSE(health.OnFailure(kStartNs));
  EXPECT_FALSE(health.OnFailure(kStartNs));
  EXPECT_TRUE(health.Available(kStartNs));
}

TEST(EndpointHealthTest, RepeatEjectionsDoubleUpToTheCap) {
  EndpointHealth health(1, 5000);
  std::int64_t now = kStartNs;
  const std::int64_t lengths_s[] = {5, 10, 20, 40, 80, 160, 300, 300};
  for (const std::int64_t length_s : lengths_s) {
    ASSERT_TRUE(health.OnFailure(now));
    EXPECT_EQ(health.ejected_until_ns() - now, length_s * kSecond);
    now = health.ejected_until_ns();
  }
  // An ejection longer than the cap is not shortened.
  EndpointHealth long_out(1, 600'000);
  ASSERT_TRUE(long_out.OnFailure(kStartNs));
  ASSERT_TRUE(long_out.OnFailure(long_out.ejected_until_ns()));
  EXPECT_EQ(long_out.ejected_until_ns() - (kStartNs + 600 * kSecond),
            600 * kSecond);
}

TEST(EndpointHealthTest, FailuresWhileEjectedAreIgnored) {
  EndpointHealth health(2, 1000);
  EXPECT_FALSE(health.OnFailure(kStartNs));
  EXPECT_TRUE(health.OnFailure(kStartNs));
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(health.OnFailure(kStartNs + i * 100 * kMs));
  }
  health.OnSuccess(kStartNs + 500 * kMs);  // a late answer: ignored too
  EXPECT_EQ(health.ejected_until_ns(), kStartNs + kSecond);
  EXPECT_EQ(health.ejections(), 1);
  // Still on probation when it returns.
  EXPECT_TRUE(health.OnFailure(kStartNs + kSecond));
}

TEST(EndpointHealthTest, ZeroFailuresNeverEjects) {
  EndpointHealth health(0, 5000);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(health.OnFailure(kStartNs + i));
  }
  EXPECT_TRUE(health.Available(kStartNs + 1000));
  EXPECT_EQ(health.consecutive_failures(), 1000);
  EXPECT_EQ(health.ejections(), 0);
}

TEST(EndpointHealthTest, ReadsItsKnobsFromTheService) {
  config::BackendService service;  // 3 failures, 5 s
  EndpointHealth health(service);
  EXPECT_FALSE(health.OnFailure(kStartNs));
  EXPECT_FALSE(health.OnFailure(kStartNs));
  EXPECT_TRUE(health.OnFailure(kStartNs));
  EXPECT_EQ(health.ejected_until_ns(), kStartNs + 5 * kSecond);
}

}  // namespace
}  // namespace tachyon::backend
