// Reporting: a Markdown table on stdout, JSON for machines, and a
// percentile-distribution plot (latency against percentile on a log "nines"
// axis, one line per system, the floor included) as SVG and PNG via gnuplot.
#ifndef TACHYON_BENCH_LATENCY_REPORT_H_
#define TACHYON_BENCH_LATENCY_REPORT_H_

#include <string>
#include <utility>
#include <vector>

#include "harness.h"
#include "workloads.h"

namespace tachyon::bench {

struct RunInfo {
  MachineInfo machine;
  std::string date;      // UTC, ISO 8601
  std::string suite;     // quick | full | custom
  std::string settings;  // the command-line settings, one line
  /// Per gateway system ("tachyon epoll/block"): the UDP counters it logged
  /// at shutdown, cumulative over its W5/W6 runs.
  std::vector<std::pair<std::string, std::string>> udp_counters;
};

/// The Markdown report: machine, settings, latency table with ratios to the
/// floor measured in the same run, delivery table.
std::string MarkdownReport(const RunInfo& info, const std::vector<Result>& rs);
std::string JsonReport(const RunInfo& info, const std::vector<Result>& rs);
/// Writes `<prefix>.svg` and `<prefix>.png` (and the gnuplot data beside
/// them). Returns an error message, or "" on success.
std::string WritePlot(const std::string& prefix, const std::vector<Result>& rs);

}  // namespace tachyon::bench

#endif  // TACHYON_BENCH_LATENCY_REPORT_H_
