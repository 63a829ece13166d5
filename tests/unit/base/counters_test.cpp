// The counters registry: registration, values, labels, histograms,
// unregistration and slot reuse, and readers racing writers and
// registrations (run under TSan in CI, label concurrency).
#include "base/counters.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace tachyon::base {
namespace {

const MetricSample* Find(const std::vector<MetricSample>& samples,
                         std::string_view name, std::string_view worker = {}) {
  for (const MetricSample& s : samples) {
    if (s.name == name && (worker.empty() || s.label("worker") == worker)) {
      return &s;
    }
  }
  return nullptr;
}

TEST(CountersTest, SnapshotShowsEachValueWithItsNameHelpAndLabels) {
  CounterRegistry registry;
  Counter c = registry.AddCounter("tachyon_test_events_total", "events seen",
                                  {{"worker", "0"}, {"reason", "x"}});
  Gauge g = registry.AddGauge("tachyon_test_level", "a level");
  c.Add();
  c.Add(41);
  g.Set(7);
  g.Add(-10);
  const std::vector<MetricSample> samples = registry.Snapshot();
  ASSERT_EQ(samples.size(), 2u);
  const MetricSample* sc = Find(samples, "tachyon_test_events_total");
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ(sc->type, MetricType::kCounter);
  EXPECT_EQ(sc->help, "events seen");
  EXPECT_EQ(sc->value, 42u);
  EXPECT_EQ(sc->label("worker"), "0");
  EXPECT_EQ(sc->label("reason"), "x");
  EXPECT_EQ(sc->label("absent"), "");
  const MetricSample* sg = Find(samples, "tachyon_test_level");
  ASSERT_NE(sg, nullptr);
  EXPECT_EQ(sg->type, MetricType::kGauge);
  EXPECT_EQ(sg->gauge(), -3);
  EXPECT_EQ(c.value(), 42u);
  EXPECT_EQ(g.value(), -3);
}

TEST(CountersTest, SumAddsSameNamedCountersFilteredByLabel) {
  CounterRegistry registry;
  Counter a = registry.AddCounter("n_total", "", {{"worker", "0"}});
  Counter b = registry.AddCounter("n_total", "", {{"worker", "1"}});
  Counter other = registry.AddCounter("m_total", "", {{"worker", "1"}});
  a.Add(3);
  b.Add(4);
  other.Add(100);
  EXPECT_EQ(registry.Sum("n_total"), 7u);
  EXPECT_EQ(registry.Sum("n_total", "worker", "1"), 4u);
  EXPECT_EQ(registry.Sum("n_total", "worker", "2"), 0u);
  EXPECT_EQ(registry.Sum("absent_total"), 0u);
}

TEST(CountersTest, HistogramBucketsArePowersOfTwo) {
  CounterRegistry registry;
  Histogram h = registry.AddHistogram("lat_ns", "latency");
  for (std::uint64_t v : {0ull, 1ull, 2ull, 3ull, 1000ull, ~0ull}) {
    h.Record(v);
  }
  const std::vector<MetricSample> samples = registry.Snapshot();
  ASSERT_EQ(samples.size(), 1u);
  const MetricSample& s = samples[0];
  EXPECT_EQ(s.type, MetricType::kHistogram);
  EXPECT_EQ(s.count, 6u);
  EXPECT_EQ(h.count(), 6u);
  EXPECT_EQ(s.buckets[0], 1u);                      // 0
  EXPECT_EQ(s.buckets[1], 1u);                      // 1
  EXPECT_EQ(s.buckets[2], 2u);                      // 2, 3
  EXPECT_EQ(s.buckets[10], 1u);                     // 512..1023
  EXPECT_EQ(s.buckets[kHistogramBuckets - 1], 1u);  // overflow
  EXPECT_EQ(s.sum, 0u + 1 + 2 + 3 + 1000 + ~0ull);  // wraps like uint64
}

TEST(CountersTest, DestroyedHandleDisappearsAndItsSlotStartsOverWhenReused) {
  CounterRegistry registry;
  auto c = std::make_unique<Counter>(registry.AddCounter("gone_total", ""));
  c->Add(5);
  EXPECT_EQ(registry.size(), 1u);
  c.reset();
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_TRUE(registry.Snapshot().empty());
  Counter again = registry.AddCounter("new_total", "");
  EXPECT_EQ(again.value(), 0u);
  EXPECT_EQ(registry.Snapshot().size(), 1u);
  EXPECT_EQ(registry.Sum("gone_total"), 0u);
}

TEST(CountersTest, MovedHandleKeepsTheRegistrationAndTheSourceIsDetached) {
  CounterRegistry registry;
  Counter a = registry.AddCounter("moved_total", "");
  a.Add(2);
  Counter b = std::move(a);
  EXPECT_FALSE(a.registered());  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(b.registered());
  a.Add(1000);  // a detached handle writes nowhere anyone reads
  b.Add(1);
  EXPECT_EQ(registry.Sum("moved_total"), 3u);
  Histogram h1 = registry.AddHistogram("h_ns", "");
  Histogram h2;
  h2 = std::move(h1);
  h2.Record(8);
  h1.Record(8);  // NOLINT(bugprone-use-after-move): detached
  EXPECT_EQ(registry.Snapshot()[1].count, 1u);
  EXPECT_EQ(registry.size(), 2u);
}

TEST(CountersTest, DetachedHandlesCanBeWrittenWithoutARegistry) {
  Counter c;
  Gauge g;
  Histogram h;
  c.Add();
  g.Set(3);
  h.Record(5);
  EXPECT_FALSE(c.registered());
  EXPECT_FALSE(g.registered());
  EXPECT_FALSE(h.registered());
}

TEST(CountersTest, ManyRegistrationsSpanChunks) {
  CounterRegistry registry;
  std::vector<Counter> counters;
  for (int i = 0; i < 1000; ++i) {
    counters.push_back(
        registry.AddCounter("many_total", "", {{"i", std::to_string(i)}}));
    counters.back().Add(static_cast<std::uint64_t>(i));
  }
  EXPECT_EQ(registry.size(), 1000u);
  EXPECT_EQ(registry.Sum("many_total"), 999u * 1000u / 2u);
  EXPECT_EQ(registry.Sum("many_total", "i", "999"), 999u);
}

// Writers bump their own counters while a reader snapshots and sums and a
// third thread keeps registering and unregistering values: every read sees
// each stable counter's value grow monotonically, and the totals come out
// exact. TSan checks there is no data race anywhere in between.
TEST(CountersTest, ReadersRaceWritersAndRegistrations) {
  CounterRegistry registry;
  constexpr int kWriters = 3;
  constexpr std::uint64_t kAdds = 200'000;
  std::vector<Counter> counters;
  for (int w = 0; w < kWriters; ++w) {
    counters.push_back(
        registry.AddCounter("race_total", "", {{"worker", std::to_string(w)}}));
  }
  Histogram hist = registry.AddHistogram("race_ns", "");
  std::atomic<int> writers_done{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (std::uint64_t i = 0; i < kAdds; ++i) {
        counters[static_cast<std::size_t>(w)].Add();
        if (w == 0) hist.Record(i);
      }
      writers_done.fetch_add(1, std::memory_order_release);
    });
  }
  std::atomic<bool> churn_stop{false};
  std::thread churn([&] {
    for (int i = 0; i < 100'000 && !churn_stop.load(); ++i) {
      Gauge g = registry.AddGauge("churn", "", {{"i", std::to_string(i % 7)}});
      g.Set(i);
    }
  });
  std::vector<std::uint64_t> last(kWriters, 0);
  int reads = 0;
  while (writers_done.load(std::memory_order_acquire) < kWriters ||
         reads < 10) {
    for (const MetricSample& s : registry.Snapshot()) {
      if (s.name != "race_total") continue;
      const int w = std::stoi(std::string(s.label("worker")));
      ASSERT_GE(s.value, last[static_cast<std::size_t>(w)]);
      last[static_cast<std::size_t>(w)] = s.value;
    }
    ASSERT_LE(registry.Sum("race_total"), kWriters * kAdds);
    ++reads;
  }
  for (std::thread& t : threads) t.join();
  churn_stop.store(true);
  churn.join();
  EXPECT_EQ(registry.Sum("race_total"), kWriters * kAdds);
  EXPECT_EQ(hist.count(), kAdds);
  EXPECT_EQ(registry.size(), static_cast<std::size_t>(kWriters) + 1);
}

}  // namespace
}  // namespace tachyon::base
