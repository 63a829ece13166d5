// Views of a counters-registry snapshot for the admin plane: stream and
// backend rows, latency percentiles, readiness, and the effective config
// as JSON.
//
// Overview
//   Everything here works on a copy (base::CounterRegistry::Snapshot()), so
//   nothing reaches into a worker. Values are found by name and grouped by
//   label: stream rows by `stream` (stream/stream_metric_names.h), backend
//   rows by `service` and `endpoint`, summed over workers
//   (backend/backend_counters.h). A value nobody registered reads 0.
//
//   Rates and windows need two snapshots: LiveSampler keeps the previous
//   second's appends per stream and buckets per histogram name, and is fed
//   once a second by the admin thread.
//
//   Percentiles come from the registry's power-of-two buckets: the rank is
//   found in the cumulative counts and interpolated linearly within its
//   bucket [2^(i-1), 2^i), so a percentile is exact to within its bucket.
//
// Example
//   std::vector<base::MetricSample> snap = registry.Snapshot();
//   sampler.Sample(snap, now_ns);
//   for (const StreamRow& r : StreamRows(snap, sampler)) ...
//
// Threading: functions are pure; a LiveSampler belongs to one thread.
#ifndef TACHYON_ADMIN_VIEWS_H_
#define TACHYON_ADMIN_VIEWS_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "admin/json_writer.h"
#include "base/counters.h"
#include "config/model.h"

namespace tachyon::admin {

using Buckets = std::array<std::uint64_t, base::kHistogramBuckets>;

/// Percentiles of a distribution, in the histogram's unit (ns for `_ns`).
struct Percentiles {
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double p999 = 0;
  std::uint64_t count = 0;
};

/// The `q`-quantile (0..1) of the values counted in `buckets`, interpolated
/// within its bucket; 0 when the buckets are empty.
double BucketQuantile(const Buckets& buckets, double q);
Percentiles PercentilesOf(const Buckets& buckets);

/// Keeps what the previous Sample saw, to turn totals into rates and
/// cumulative histograms into per-interval ones.
class LiveSampler {
 public:
  /// Takes `snapshot` as the current sample, taken at `now_ns` (any
  /// monotonic clock).
  void Sample(const std::vector<base::MetricSample>& snapshot,
              std::int64_t now_ns);
  /// Appends per second of `stream` between the last two samples (0 before
  /// two samples).
  [[nodiscard]] double MessagesPerSecond(std::string_view stream) const;
  /// Histogram `name` (all label sets summed): since start, and over the
  /// last interval.
  [[nodiscard]] const std::map<std::string, Buckets>& Cumulative() const {
    return histograms_;
  }
  [[nodiscard]] const std::map<std::string, Buckets>& Window() const {
    return window_;
  }

 private:
  std::int64_t last_ns_ = 0;
  bool sampled_ = false;
  std::map<std::string, std::uint64_t, std::less<>> appends_;
  std::map<std::string, double, std::less<>> rates_;
  std::map<std::string, Buckets> histograms_;
  std::map<std::string, Buckets> window_;
};

/// One stream, from its per-stream values.
struct StreamRow {
  std::string name;
  std::uint64_t first_sequence = 0;
  std::uint64_t next_sequence = 0;
  std::uint64_t committed_bytes = 0;
  std::uint64_t capacity_bytes = 0;
  std::int64_t publishers = 0;
  std::int64_t subscribers = 0;
  std::uint64_t appends_total = 0;
  double msgs_per_sec = 0;
  std::uint64_t slow_consumers_total = 0;
};
/// Every stream with at least one value labelled stream=..., by name.
std::vector<StreamRow> StreamRows(const std::vector<base::MetricSample>& snap,
                                  const LiveSampler& sampler);
void WriteStreamRow(JsonWriter& w, const StreamRow& row);

/// One backend endpoint, summed over workers.
struct BackendRow {
  std::string service;
  std::string endpoint;
  std::int64_t ready = 0;
  std::int64_t busy = 0;
  std::int64_t connecting = 0;
  std::int64_t predicted = 0;
  std::int64_t target = 0;
  std::uint64_t connects_total = 0;
  std::uint64_t connect_failures_total = 0;
  std::uint64_t ejections_total = 0;
  /// Workers on which the endpoint is ejected / backing off (the pool's
  /// gauges, refreshed at every pool tick).
  std::int64_t ejected_workers = 0;
  std::int64_t backing_off_workers = 0;
};
/// "up" (a connection is logged on, on some worker), else "ejected",
/// "backing_off", "connecting", or "idle" (no connection wanted).
std::string_view EndpointState(const BackendRow& row);
std::vector<BackendRow> BackendRows(
    const std::vector<base::MetricSample>& snap);

/// /api/v1/backends: services with their queue depth, requests by status
/// and endpoint rows.
std::string BackendsJson(const std::vector<base::MetricSample>& snap);

/// /readyz: whether every [[backends]] service has at least pool_min ready
/// connections per worker and endpoint; each shortfall is one reason
/// ("backend 'risk' endpoint 127.0.0.1:9001 worker 0: 0 of 2 ready").
struct Readiness {
  bool ready = true;
  std::vector<std::string> reasons;
};
Readiness BackendReadiness(const std::vector<base::MetricSample>& snap,
                           const config::GatewayConfig& config);

/// The sum of counters (or gauges) named `name` in `snap`.
std::uint64_t SumOf(const std::vector<base::MetricSample>& snap,
                    std::string_view name);

/// `config` as a JSON object, one member per table ("gateway", "limits",
/// ..., "admin") with the keys of config/keys.h, plus the arrays
/// ("stream_policies", "udp_groups", "backends"). Tokens are written as
/// "(set)" or "".
void WriteConfig(JsonWriter& w, const config::GatewayConfig& config);

}  // namespace tachyon::admin

#endif  // TACHYON_ADMIN_VIEWS_H_
