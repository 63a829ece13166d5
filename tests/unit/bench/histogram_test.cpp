// The benchmark's latency histogram: every figure tachyon-bench prints rests
// on its precision, its percentile walk and its cross-process round trip.
#include "histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace tachyon::bench {
namespace {

TEST(LatencyHistogram, EveryValueMapsToABucketWithinOnePartInAThousand) {
  for (std::int64_t v = 1; v < LatencyHistogram::kHighest;
       v = v * 13 / 10 + 1) {
    const std::size_t i = LatencyHistogram::IndexOf(v);
    const std::int64_t hi = LatencyHistogram::HighestEquivalent(i);
    ASSERT_GE(hi, v) << v;
    ASSERT_LE(static_cast<double>(hi - v), std::max(1.0, v * 1e-3)) << v;
    if (i > 0) {
      ASSERT_LT(LatencyHistogram::HighestEquivalent(i - 1), v) << v;
    }
  }
}

TEST(LatencyHistogram, PercentilesMatchASortedReference) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(10.0, 1.5);  // ~22 us median
  std::vector<std::int64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 100000; ++i) {
    const auto v = static_cast<std::int64_t>(dist(rng)) + 1;
    values.push_back(v);
    h.Record(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    const auto rank = static_cast<std::size_t>(
        std::ceil(p / 100.0 * static_cast<double>(values.size())));
    const std::int64_t want = values[std::max<std::size_t>(rank, 1) - 1];
    const std::int64_t got = h.ValueAtPercentile(p);
    EXPECT_GE(got, want) << p;
    EXPECT_LE(static_cast<double>(got - want), want * 1e-3 + 1) << p;
  }
  EXPECT_EQ(h.count(), values.size());
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.min(), values.front());
}

TEST(LatencyHistogram, ClampsOutOfRangeValues) {
  LatencyHistogram h;
  h.Record(-5);
  h.Record(LatencyHistogram::kHighest * 10);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.min(), 1);
  EXPECT_EQ(h.max(), LatencyHistogram::kHighest);
}

TEST(LatencyHistogram, SerializeParseRoundTripsAndMergeAdds) {
  LatencyHistogram a, b;
  for (int i = 1; i <= 1000; ++i) a.Record(i * 997);
  for (int i = 1; i <= 10; ++i) b.Record(i * 1'000'000);
  LatencyHistogram parsed;
  ASSERT_TRUE(parsed.Parse(a.Serialize()));
  EXPECT_EQ(parsed.count(), a.count());
  EXPECT_EQ(parsed.max(), a.max());
  EXPECT_DOUBLE_EQ(parsed.mean(), a.mean());
  for (double p : {50.0, 99.0, 99.9}) {
    EXPECT_EQ(parsed.ValueAtPercentile(p), a.ValueAtPercentile(p));
  }
  parsed.Merge(b);
  EXPECT_EQ(parsed.count(), 1010u);
  EXPECT_EQ(parsed.max(), 10'000'000);
  EXPECT_FALSE(parsed.Parse("3 1 2 x"));
  EXPECT_FALSE(parsed.Parse("2 1 1 2 0:1"));  // counts disagree with total
  LatencyHistogram empty;
  ASSERT_TRUE(parsed.Parse(empty.Serialize()));
  EXPECT_EQ(parsed.count(), 0u);
  EXPECT_EQ(parsed.ValueAtPercentile(50), 0);
}

}  // namespace
}  // namespace tachyon::bench
