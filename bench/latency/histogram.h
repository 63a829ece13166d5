// LatencyHistogram: HdrHistogram-style log-linear latency recording.
//
// Overview
//   Values (nanoseconds) from 1 ns to 60 s are recorded with 3 significant
//   decimal digits: each power-of-two range is split into 2048 linear
//   sub-buckets (the top half of each is used), so any recorded value is
//   reported within 0.1% of itself. Recording is a few arithmetic operations
//   and one increment; no allocation after construction. Values above the
//   range are clamped to 60 s and counted as such.
//
//   Histograms from several processes are combined by Serialize / Parse /
//   Merge (a sparse text form, one "index:count" pair per used bucket).
//
// Example
//   LatencyHistogram h;
//   h.Record(rtt_ns);
//   std::printf("p99 %lld ns\n", (long long)h.ValueAtPercentile(99.0));
//
// Threading: not thread-safe; one histogram per recording thread, merged.
#ifndef TACHYON_BENCH_LATENCY_HISTOGRAM_H_
#define TACHYON_BENCH_LATENCY_HISTOGRAM_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tachyon::bench {

class LatencyHistogram {
 public:
  static constexpr std::int64_t kLowest = 1;
  static constexpr std::int64_t kHighest = 60'000'000'000;  // 60 s in ns

  LatencyHistogram();

  /// Records one value in nanoseconds (<= 0 counts as 1 ns).
  void Record(std::int64_t value_ns);
  /// Adds every count of `other`.
  void Merge(const LatencyHistogram& other);
  void Reset();

  [[nodiscard]] std::uint64_t count() const { return count_; }
  [[nodiscard]] std::int64_t max() const { return max_; }
  [[nodiscard]] std::int64_t min() const { return count_ ? min_ : 0; }
  [[nodiscard]] double mean() const;
  /// The smallest recorded value v such that `percentile` percent of all
  /// values are <= v (to the histogram's precision). 0 when empty.
  [[nodiscard]] std::int64_t ValueAtPercentile(double percentile) const;

  /// Sparse text form for passing between processes.
  [[nodiscard]] std::string Serialize() const;
  /// Parses Serialize() output; false on malformed text.
  bool Parse(std::string_view text);

  // Bucket geometry, exposed for tests.
  [[nodiscard]] static std::size_t IndexOf(std::int64_t value);
  /// The highest value that maps to bucket `index` (what percentiles report).
  [[nodiscard]] static std::int64_t HighestEquivalent(std::size_t index);

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::int64_t min_ = INT64_MAX;
  std::int64_t max_ = 0;
  double sum_ = 0;
};

}  // namespace tachyon::bench

#endif  // TACHYON_BENCH_LATENCY_HISTOGRAM_H_
