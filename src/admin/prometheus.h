// Prometheus text exposition (format 0.0.4) of the counters registry.
//
// Overview
//   RenderPrometheus writes every sample of a registry snapshot: for each
//   metric name one `# HELP` and one `# TYPE` line, then its samples, names
//   sorted so that a scrape reads the same from one time to the next.
//   Counters and gauges are one line each (`name{labels} value`);
//   histograms are cumulative `_bucket{le="..."}` lines, `_sum` and
//   `_count`. The registry's buckets are powers of two over integers
//   (bucket i holds 2^(i-1) <= v < 2^i, bucket 0 holds 0), so bucket i is
//   exactly `le="2^i - 1"`; the last bucket, which also holds everything
//   larger, is folded into `le="+Inf"`. `_count` is the +Inf bucket, so the
//   three agree even when a writer records while the snapshot is taken.
//   Label values are escaped (backslash, double quote, newline), as are
//   HELP texts (backslash, newline).
//
// Example
//   std::string body = RenderPrometheus(registry.Snapshot());
//
// Threading: pure functions.
#ifndef TACHYON_ADMIN_PROMETHEUS_H_
#define TACHYON_ADMIN_PROMETHEUS_H_

#include <string>
#include <string_view>
#include <vector>

#include "base/counters.h"

namespace tachyon::admin {

/// The Content-Type of RenderPrometheus's text.
inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

/// The exposition of `samples` (any order; samples of one name must share
/// type and help, as the registry's do: the first one's are used).
std::string RenderPrometheus(const std::vector<base::MetricSample>& samples);

/// `value` escaped for a label value between double quotes.
std::string EscapeLabelValue(std::string_view value);

}  // namespace tachyon::admin

#endif  // TACHYON_ADMIN_PROMETHEUS_H_
