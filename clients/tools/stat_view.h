// What tachyon-stat shows: a view of the gateway built from two scrapes of
// its /metrics a known interval apart (rates are deltas over that
// interval), rendered as a terminal table or as JSON.
//
// Overview
//   BuildStatView reads the counters the gateway registers (sessions,
//   streams, UDP, backend pools, latency histograms) by their names; a
//   counter a gateway does not have (UDP off, no backends) reads as zero
//   and its section is empty. Latency percentiles come from the histogram
//   buckets counted during the interval (and since start).
//
// Threading: plain values.
#ifndef TACHYON_CLIENTS_TOOLS_STAT_VIEW_H_
#define TACHYON_CLIENTS_TOOLS_STAT_VIEW_H_

#include <string>
#include <vector>

#include "stat_metrics.h"

namespace tachyon::tools {

struct StatStreamRow {
  std::string name;
  double msgs_per_sec = 0;
  double appends_total = 0;
  double first_sequence = 0;
  double next_sequence = 0;
  double publishers = 0;
  double subscribers = 0;
  double slow_consumers_total = 0;
  double committed_bytes = 0;
};

struct StatBackendRow {
  std::string service;
  std::string endpoint;
  double ready = 0;
  double busy = 0;
  double connecting = 0;
  double predicted = 0;
  double target = 0;
};

struct StatServiceRow {
  std::string service;
  double requests_per_sec = 0;
  double queue_depth = 0;
  /// RESPONSE statuses since start, by status label ("ok", "timeout", ...).
  std::vector<std::pair<std::string, double>> by_status;
};

struct StatLatencyRow {
  std::string name;
  double window_count = 0;  ///< values recorded during the interval
  double p50 = -1, p99 = -1, p999 = -1;  ///< over the interval; -1: none
  double total_count = 0;                ///< since start
  double total_p99 = -1;
};

struct StatView {
  double interval_s = 0;
  double sessions_open = 0;
  double connections_accepted_total = 0;
  double connections_refused_total = 0;
  double logons_rejected_total = 0;
  double publishes_per_sec = 0;
  double bytes_in_per_sec = 0;
  double bytes_out_per_sec = 0;
  double slow_consumers_total = 0;
  double publishes_refused_total = 0;
  double malformed_frames_total = 0;
  double udp_datagrams_in_per_sec = 0;
  double udp_datagrams_out_per_sec = 0;
  double udp_dropped_total = 0;  ///< kernel drops + malformed + refused
  std::vector<StatStreamRow> streams;
  std::vector<StatBackendRow> backends;
  std::vector<StatServiceRow> services;
  std::vector<StatLatencyRow> latency;
};

/// The view from `before` and `after`, scraped `interval_s` seconds apart
/// (rates are 0 when interval_s <= 0). Streams are sorted by name.
StatView BuildStatView(const Scrape& before, const Scrape& after,
                       double interval_s);

/// A terminal table (no escape sequences), lines end in '\n'.
std::string RenderStatText(const StatView& view);
/// One JSON object (no trailing newline).
std::string RenderStatJson(const StatView& view);

}  // namespace tachyon::tools

#endif  // TACHYON_CLIENTS_TOOLS_STAT_VIEW_H_
