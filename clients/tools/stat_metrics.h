// Prometheus text exposition (version 0.0.4), as the gateway's admin plane
// serves it at /metrics: a parser, and the lookups tachyon-stat needs.
//
// Overview
//   ParseMetricsText turns a scrape into samples: metric name, labels and
//   value (comment, HELP and TYPE lines carry no samples and are checked
//   for shape only). A malformed line is an error naming its line number.
//   A Scrape indexes the samples for the sums and groupings tachyon-stat
//   draws: Sum() over a name with optional label filter, GroupBy() a label,
//   and Quantile() of a histogram from its cumulative `_bucket{le=...}`
//   series.
//
// Example
//   absl::StatusOr<Scrape> s = ParseMetricsText(body);
//   double open = s->Sum("tachyon_session_open");
//   double p99 = s->Quantile("tachyon_session_delivery_latency_ns", 0.99);
//
// Threading: plain values; no shared state.
#ifndef TACHYON_CLIENTS_TOOLS_STAT_METRICS_H_
#define TACHYON_CLIENTS_TOOLS_STAT_METRICS_H_

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace tachyon::tools {

/// One sample line: `name{label="value",...} value`.
struct MetricsSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;

  /// The value of label `key`, or "" when absent.
  [[nodiscard]] std::string_view label(std::string_view key) const;
};

/// Label filter for Scrape's lookups: every pair must match.
using LabelFilter = std::vector<std::pair<std::string, std::string>>;

class Scrape {
 public:
  Scrape() = default;
  explicit Scrape(std::vector<MetricsSample> samples)
      : samples_(std::move(samples)) {}

  [[nodiscard]] const std::vector<MetricsSample>& samples() const {
    return samples_;
  }
  /// Sum of the samples named `name` whose labels include all of `filter`.
  [[nodiscard]] double Sum(std::string_view name,
                           const LabelFilter& filter = {}) const;
  /// Sums of the samples named `name` (matching `filter`), keyed by the
  /// value of label `by`; samples without that label are skipped.
  [[nodiscard]] std::map<std::string, double> GroupBy(
      std::string_view name, std::string_view by,
      const LabelFilter& filter = {}) const;
  /// The distinct values label `key` takes on samples named `name`.
  [[nodiscard]] std::vector<std::string> LabelValues(
      std::string_view name, std::string_view key) const;
  /// The q-quantile (0 < q < 1) of histogram `name`, over all its series
  /// that match `filter` (their buckets added up), interpolating linearly
  /// inside the bucket that holds it; values in the +Inf bucket report the
  /// largest finite bound. -1 when the histogram has no observations.
  [[nodiscard]] double Quantile(std::string_view name, double q,
                                const LabelFilter& filter = {}) const;
  /// Names of the histograms in the scrape (from their _count series).
  [[nodiscard]] std::vector<std::string> HistogramNames() const;

 private:
  std::vector<MetricsSample> samples_;
};

/// Parses a text exposition. Errors: INVALID_ARGUMENT "line N: ..." for the
/// first malformed line.
absl::StatusOr<Scrape> ParseMetricsText(std::string_view text);

}  // namespace tachyon::tools

#endif  // TACHYON_CLIENTS_TOOLS_STAT_METRICS_H_
