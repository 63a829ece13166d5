#include "stat_view.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tachyon::tools {
namespace {

// Names the gateway registers (src/session/session_counters.h,
// src/stream/stream_metric_names.h, src/udp/udp_counters.cpp,
// src/backend/backend_counters.h). tachyon-stat is a client tool and reads
// them off the wire, so it spells them here.
constexpr std::string_view kSessionsOpen = "tachyon_session_open";
constexpr std::string_view kAccepted =
    "tachyon_session_connections_accepted_total";
constexpr std::string_view kRefused =
    "tachyon_session_connections_refused_total";
constexpr std::string_view kLogonsRejected =
    "tachyon_session_logons_rejected_total";
constexpr std::string_view kPublishes = "tachyon_session_publishes_total";
constexpr std::string_view kPublishesRefused =
    "tachyon_session_publishes_refused_total";
constexpr std::string_view kMalformed =
    "tachyon_session_malformed_frames_total";
constexpr std::string_view kBytesIn = "tachyon_session_bytes_in_total";
constexpr std::string_view kBytesOut = "tachyon_session_bytes_out_total";
constexpr std::string_view kSlowConsumers =
    "tachyon_session_slow_consumers_total";
constexpr std::string_view kStreamAppends = "tachyon_stream_appends_total";
constexpr std::string_view kStreamFirst = "tachyon_stream_first_sequence";
constexpr std::string_view kStreamNext = "tachyon_stream_next_sequence";
constexpr std::string_view kStreamCommitted = "tachyon_stream_committed_bytes";
constexpr std::string_view kStreamPublishers = "tachyon_stream_publishers";
constexpr std::string_view kStreamSubscribers = "tachyon_stream_subscribers";
constexpr std::string_view kStreamSlow = "tachyon_stream_slow_consumers_total";
constexpr std::string_view kUdpIn = "tachyon_udp_datagrams_received_total";
constexpr std::string_view kUdpOut = "tachyon_udp_datagrams_sent_total";
constexpr std::string_view kUdpDropped[] = {
    "tachyon_udp_kernel_drops_total", "tachyon_udp_malformed_datagrams_total",
    "tachyon_udp_refused_total"};
constexpr std::string_view kBackendReady = "tachyon_backend_ready";
constexpr std::string_view kBackendBusy = "tachyon_backend_busy";
constexpr std::string_view kBackendConnecting = "tachyon_backend_connecting";
constexpr std::string_view kBackendPredicted = "tachyon_backend_predicted";
constexpr std::string_view kBackendTarget = "tachyon_backend_target";
constexpr std::string_view kBackendQueue = "tachyon_backend_queue_depth";
constexpr std::string_view kBackendRequests = "tachyon_backend_requests_total";

// `after - before` for every sample of `after` (matched by name and
// labels): the histogram buckets counted during the interval.
Scrape Delta(const Scrape& before, const Scrape& after) {
  auto key = [](const MetricsSample& s) {
    std::string k = s.name;
    for (const auto& [n, v] : s.labels) absl::StrAppend(&k, "\x1f", n, "=", v);
    return k;
  };
  std::map<std::string, double> old;
  for (const MetricsSample& s : before.samples()) old[key(s)] = s.value;
  std::vector<MetricsSample> out;
  for (const MetricsSample& s : after.samples()) {
    MetricsSample d = s;
    const auto it = old.find(key(s));
    if (it != old.end()) d.value = std::max(0.0, s.value - it->second);
    out.push_back(std::move(d));
  }
  return Scrape(std::move(out));
}

double Rate(const Scrape& before, const Scrape& after, std::string_view name,
            double interval_s, const LabelFilter& filter = {}) {
  if (interval_s <= 0) return 0;
  return std::max(0.0, after.Sum(name, filter) - before.Sum(name, filter)) /
         interval_s;
}

std::string Human(double v) {
  if (v < 0) return "-";
  const double a = std::fabs(v);
  if (a >= 1e9) return absl::StrFormat("%.2fG", v / 1e9);
  if (a >= 1e6) return absl::StrFormat("%.2fM", v / 1e6);
  if (a >= 1e4) return absl::StrFormat("%.1fk", v / 1e3);
  return absl::StrFormat("%.0f", v);
}

std::string Duration(double ns) {
  if (ns < 0) return "-";
  if (ns >= 1e9) return absl::StrFormat("%.2fs", ns / 1e9);
  if (ns >= 1e6) return absl::StrFormat("%.2fms", ns / 1e6);
  if (ns >= 1e3) return absl::StrFormat("%.1fus", ns / 1e3);
  return absl::StrFormat("%.0fns", ns);
}

// A JSON string literal; control characters escaped, other bytes as they
// are (names and labels are UTF-8 or ASCII).
void Json(std::string* out, std::string_view s) {
  out->push_back('"');
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (u < 0x20) {
      absl::StrAppend(out, absl::StrFormat("\\u%04x", u));
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

// Integers exactly (counters are integral), other values with 6 digits;
// a missing percentile (-1) as null.
void JsonNumber(std::string* out, double v, bool null_if_negative = false) {
  if (null_if_negative && v < 0) {
    out->append("null");
  } else if (!std::isfinite(v)) {
    out->append("null");
  } else if (v == std::floor(v) && std::fabs(v) < 9e15) {
    absl::StrAppend(out, static_cast<long long>(v));
  } else {
    absl::StrAppend(out, absl::StrFormat("%.6g", v));
  }
}

}  // namespace

StatView BuildStatView(const Scrape& before, const Scrape& after,
                       double interval_s) {
  StatView v;
  v.interval_s = interval_s;
  v.sessions_open = after.Sum(kSessionsOpen);
  v.connections_accepted_total = after.Sum(kAccepted);
  v.connections_refused_total = after.Sum(kRefused);
  v.logons_rejected_total = after.Sum(kLogonsRejected);
  v.publishes_per_sec = Rate(before, after, kPublishes, interval_s);
  v.bytes_in_per_sec = Rate(before, after, kBytesIn, interval_s);
  v.bytes_out_per_sec = Rate(before, after, kBytesOut, interval_s);
  v.slow_consumers_total = after.Sum(kSlowConsumers);
  v.publishes_refused_total = after.Sum(kPublishesRefused);
  v.malformed_frames_total = after.Sum(kMalformed);
  v.udp_datagrams_in_per_sec = Rate(before, after, kUdpIn, interval_s);
  v.udp_datagrams_out_per_sec = Rate(before, after, kUdpOut, interval_s);
  for (std::string_view name : kUdpDropped)
    v.udp_dropped_total += after.Sum(name);

  for (const std::string& name : after.LabelValues(kStreamAppends, "stream")) {
    const LabelFilter f{{"stream", name}};
    StatStreamRow r;
    r.name = name;
    r.appends_total = after.Sum(kStreamAppends, f);
    r.msgs_per_sec = Rate(before, after, kStreamAppends, interval_s, f);
    r.first_sequence = after.Sum(kStreamFirst, f);
    r.next_sequence = after.Sum(kStreamNext, f);
    r.publishers = after.Sum(kStreamPublishers, f);
    r.subscribers = after.Sum(kStreamSubscribers, f);
    r.slow_consumers_total = after.Sum(kStreamSlow, f);
    r.committed_bytes = after.Sum(kStreamCommitted, f);
    v.streams.push_back(std::move(r));
  }

  for (const std::string& service :
       after.LabelValues(kBackendReady, "service")) {
    for (const auto& [endpoint, ready] :
         after.GroupBy(kBackendReady, "endpoint", {{"service", service}})) {
      const LabelFilter f{{"service", service}, {"endpoint", endpoint}};
      StatBackendRow r;
      r.service = service;
      r.endpoint = endpoint;
      r.ready = ready;
      r.busy = after.Sum(kBackendBusy, f);
      r.connecting = after.Sum(kBackendConnecting, f);
      r.predicted = after.Sum(kBackendPredicted, f);
      r.target = after.Sum(kBackendTarget, f);
      v.backends.push_back(std::move(r));
    }
  }
  for (const std::string& service :
       after.LabelValues(kBackendRequests, "service")) {
    const LabelFilter f{{"service", service}};
    StatServiceRow r;
    r.service = service;
    r.requests_per_sec = Rate(before, after, kBackendRequests, interval_s, f);
    r.queue_depth = after.Sum(kBackendQueue, f);
    for (const auto& [status, n] :
         after.GroupBy(kBackendRequests, "status", f)) {
      r.by_status.emplace_back(status, n);
    }
    v.services.push_back(std::move(r));
  }

  const Scrape window = Delta(before, after);
  for (const std::string& name : after.HistogramNames()) {
    StatLatencyRow r;
    r.name = name;
    r.total_count = after.Sum(absl::StrCat(name, "_count"));
    r.total_p99 = after.Quantile(name, 0.99);
    r.window_count = window.Sum(absl::StrCat(name, "_count"));
    r.p50 = window.Quantile(name, 0.50);
    r.p99 = window.Quantile(name, 0.99);
    r.p999 = window.Quantile(name, 0.999);
    v.latency.push_back(std::move(r));
  }
  return v;
}

std::string RenderStatText(const StatView& v) {
  std::string out;
  absl::StrAppend(
      &out,
      absl::StrFormat(
          "sessions %s  accepted %s  refused %s  logons rejected %s\n"
          "publishes/s %s  in %sB/s  out %sB/s  slow consumers %s  "
          "refused publishes %s  malformed %s\n",
          Human(v.sessions_open), Human(v.connections_accepted_total),
          Human(v.connections_refused_total), Human(v.logons_rejected_total),
          Human(v.publishes_per_sec), Human(v.bytes_in_per_sec),
          Human(v.bytes_out_per_sec), Human(v.slow_consumers_total),
          Human(v.publishes_refused_total), Human(v.malformed_frames_total)));
  if (v.udp_datagrams_in_per_sec > 0 || v.udp_datagrams_out_per_sec > 0 ||
      v.udp_dropped_total > 0) {
    absl::StrAppend(
        &out, absl::StrFormat("udp datagrams/s in %s  out %s  dropped %s\n",
                              Human(v.udp_datagrams_in_per_sec),
                              Human(v.udp_datagrams_out_per_sec),
                              Human(v.udp_dropped_total)));
  }
  out.append("\n");
  absl::StrAppend(
      &out, absl::StrFormat("%-28s %10s %12s %23s %4s %4s %6s %10s\n", "STREAM",
                            "MSGS/S", "MESSAGES", "RETAINED", "PUB", "SUB",
                            "SLOW", "COMMITTED"));
  for (const StatStreamRow& s : v.streams) {
    absl::StrAppend(
        &out, absl::StrFormat("%-28s %10s %12s %23s %4s %4s %6s %10s\n", s.name,
                              Human(s.msgs_per_sec), Human(s.appends_total),
                              absl::StrCat(Human(s.first_sequence), "..",
                                           Human(s.next_sequence)),
                              Human(s.publishers), Human(s.subscribers),
                              Human(s.slow_consumers_total),
                              absl::StrCat(Human(s.committed_bytes), "B")));
  }
  if (v.streams.empty()) out.append("(no streams)\n");
  if (!v.latency.empty()) {
    absl::StrAppend(
        &out, "\n",
        absl::StrFormat("%-40s %9s %9s %9s %9s %10s\n", "LATENCY", "N/INT",
                        "P50", "P99", "P99.9", "P99(ALL)"));
    for (const StatLatencyRow& l : v.latency) {
      absl::StrAppend(&out,
                      absl::StrFormat("%-40s %9s %9s %9s %9s %10s\n", l.name,
                                      Human(l.window_count), Duration(l.p50),
                                      Duration(l.p99), Duration(l.p999),
                                      Duration(l.total_p99)));
    }
  }
  if (!v.backends.empty()) {
    absl::StrAppend(&out, "\n",
                    absl::StrFormat("%-20s %-24s %6s %6s %6s %9s %6s\n",
                                    "SERVICE", "ENDPOINT", "READY", "BUSY",
                                    "CONN", "PREDICTED", "TARGET"));
    for (const StatBackendRow& b : v.backends) {
      absl::StrAppend(
          &out, absl::StrFormat("%-20s %-24s %6s %6s %6s %9s %6s\n", b.service,
                                b.endpoint, Human(b.ready), Human(b.busy),
                                Human(b.connecting), Human(b.predicted),
                                Human(b.target)));
    }
    for (const StatServiceRow& s : v.services) {
      std::string statuses;
      for (const auto& [status, n] : s.by_status) {
        absl::StrAppend(&statuses, " ", status, "=", Human(n));
      }
      absl::StrAppend(&out,
                      absl::StrFormat("%-20s requests/s %s  queued %s %s\n",
                                      s.service, Human(s.requests_per_sec),
                                      Human(s.queue_depth), statuses));
    }
  }
  return out;
}

std::string RenderStatJson(const StatView& v) {
  std::string out = "{";
  auto field = [&out](std::string_view name, double value, bool first = false,
                      bool nullable = false) {
    if (!first) out.push_back(',');
    Json(&out, name);
    out.push_back(':');
    JsonNumber(&out, value, nullable);
  };
  field("interval_s", v.interval_s, true);
  field("sessions_open", v.sessions_open);
  field("connections_accepted_total", v.connections_accepted_total);
  field("connections_refused_total", v.connections_refused_total);
  field("logons_rejected_total", v.logons_rejected_total);
  field("publishes_per_sec", v.publishes_per_sec);
  field("bytes_in_per_sec", v.bytes_in_per_sec);
  field("bytes_out_per_sec", v.bytes_out_per_sec);
  field("slow_consumers_total", v.slow_consumers_total);
  field("publishes_refused_total", v.publishes_refused_total);
  field("malformed_frames_total", v.malformed_frames_total);
  field("udp_datagrams_in_per_sec", v.udp_datagrams_in_per_sec);
  field("udp_datagrams_out_per_sec", v.udp_datagrams_out_per_sec);
  field("udp_dropped_total", v.udp_dropped_total);
  out.append(",\"streams\":[");
  for (std::size_t i = 0; i < v.streams.size(); ++i) {
    const StatStreamRow& s = v.streams[i];
    if (i) out.push_back(',');
    out.append("{\"name\":");
    Json(&out, s.name);
    field("msgs_per_sec", s.msgs_per_sec);
    field("appends_total", s.appends_total);
    field("first_sequence", s.first_sequence);
    field("next_sequence", s.next_sequence);
    field("publishers", s.publishers);
    field("subscribers", s.subscribers);
    field("slow_consumers_total", s.slow_consumers_total);
    field("committed_bytes", s.committed_bytes);
    out.push_back('}');
  }
  out.append("],\"latency\":[");
  for (std::size_t i = 0; i < v.latency.size(); ++i) {
    const StatLatencyRow& l = v.latency[i];
    if (i) out.push_back(',');
    out.append("{\"name\":");
    Json(&out, l.name);
    field("window_count", l.window_count);
    field("p50_ns", l.p50, false, true);
    field("p99_ns", l.p99, false, true);
    field("p999_ns", l.p999, false, true);
    field("total_count", l.total_count);
    field("total_p99_ns", l.total_p99, false, true);
    out.push_back('}');
  }
  out.append("],\"backends\":[");
  for (std::size_t i = 0; i < v.backends.size(); ++i) {
    const StatBackendRow& b = v.backends[i];
    if (i) out.push_back(',');
    out.append("{\"service\":");
    Json(&out, b.service);
    out.append(",\"endpoint\":");
    Json(&out, b.endpoint);
    field("ready", b.ready);
    field("busy", b.busy);
    field("connecting", b.connecting);
    field("predicted", b.predicted);
    field("target", b.target);
    out.push_back('}');
  }
  out.append("],\"services\":[");
  for (std::size_t i = 0; i < v.services.size(); ++i) {
    const StatServiceRow& s = v.services[i];
    if (i) out.push_back(',');
    out.append("{\"service\":");
    Json(&out, s.service);
    field("requests_per_sec", s.requests_per_sec);
    field("queue_depth", s.queue_depth);
    out.append(",\"requests_by_status\":{");
    for (std::size_t j = 0; j < s.by_status.size(); ++j) {
      field(s.by_status[j].first, s.by_status[j].second, j == 0);
    }
    out.append("}}");
  }
  out.append("]}");
  return out;
}

}  // namespace tachyon::tools
