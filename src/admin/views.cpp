#include "admin/views.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "backend/backend_counters.h"
#include "config/keys.h"
#include "stream/stream_metric_names.h"

namespace tachyon::admin {
namespace {

Buckets& operator+=(Buckets& a, const Buckets& b) {
  for (std::size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  return a;
}

}  // namespace

double BucketQuantile(const Buckets& buckets, double q) {
  std::uint64_t total = 0;
  for (std::uint64_t b : buckets) total += b;
  if (total == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const double rank = q * static_cast<double>(total);
  std::uint64_t before = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i] == 0) continue;
    const std::uint64_t upto = before + buckets[i];
    if (static_cast<double>(upto) >= rank) {
      if (i == 0) return 0;
      const double lo = std::ldexp(1.0, static_cast<int>(i) - 1);
      const double hi = std::ldexp(1.0, static_cast<int>(i));
      const double within = (rank - static_cast<double>(before)) /
                            static_cast<double>(buckets[i]);
      return lo + (hi - lo) * std::clamp(within, 0.0, 1.0);
    }
    before = upto;
  }
  return std::ldexp(1.0, static_cast<int>(buckets.size()) - 1);
}

Percentiles PercentilesOf(const Buckets& buckets) {
  Percentiles p;
  for (std::uint64_t b : buckets) p.count += b;
  p.p50 = BucketQuantile(buckets, 0.50);
  p.p90 = BucketQuantile(buckets, 0.90);
  p.p99 = BucketQuantile(buckets, 0.99);
  p.p999 = BucketQuantile(buckets, 0.999);
  return p;
}

void LiveSampler::Sample(const std::vector<base::MetricSample>& snapshot,
                         std::int64_t now_ns) {
  std::map<std::string, std::uint64_t, std::less<>> appends;
  std::map<std::string, Buckets> histograms;
  for (const base::MetricSample& s : snapshot) {
    if (s.name == stream::kAppendsTotal) {
      appends[std::string(s.label("stream"))] += s.value;
    } else if (s.type == base::MetricType::kHistogram) {
      histograms[s.name] += s.buckets;
    }
  }
  const double seconds =
      sampled_ ? static_cast<double>(now_ns - last_ns_) / 1e9 : 0.0;
  rates_.clear();
  if (seconds > 0) {
    for (const auto& [name, total] : appends) {
      auto prev = appends_.find(name);
      const std::uint64_t before = prev == appends_.end() ? 0 : prev->second;
      // A retired and recreated stream starts again from 0.
      const std::uint64_t delta = total >= before ? total - before : total;
      rates_[name] = static_cast<double>(delta) / seconds;
    }
  }
  window_.clear();
  for (const auto& [name, buckets] : histograms) {
    Buckets w{};
    auto prev = histograms_.find(name);
    for (std::size_t i = 0; i < w.size(); ++i) {
      const std::uint64_t before =
          prev == histograms_.end() ? 0 : prev->second[i];
      // A label set that went away lowers the sum: nothing new, not less.
      w[i] = buckets[i] >= before ? buckets[i] - before : 0;
    }
    window_[name] = w;
  }
  appends_ = std::move(appends);
  histograms_ = std::move(histograms);
  last_ns_ = now_ns;
  sampled_ = true;
}

double LiveSampler::MessagesPerSecond(std::string_view stream) const {
  auto it = rates_.find(stream);
  return it == rates_.end() ? 0.0 : it->second;
}

std::vector<StreamRow> StreamRows(const std::vector<base::MetricSample>& snap,
                                  const LiveSampler& sampler) {
  std::map<std::string, StreamRow, std::less<>> rows;
  for (const base::MetricSample& s : snap) {
    const std::string_view name = s.label("stream");
    if (name.empty() || !s.name.starts_with("tachyon_stream")) continue;
    StreamRow& r = rows[std::string(name)];
    const std::string_view n = s.name;
    if (n == stream::kAppendsTotal) {
      r.appends_total += s.value;
    } else if (n == stream::kFirstSequence) {
      r.first_sequence = s.value;
    } else if (n == stream::kNextSequence) {
      r.next_sequence = s.value;
    } else if (n == stream::kCommittedBytes) {
      r.committed_bytes += s.value;
    } else if (n == stream::kCapacityBytes) {
      r.capacity_bytes = s.value;
    } else if (n == stream::kPublishers) {
      r.publishers += s.gauge();
    } else if (n == stream::kSubscribers) {
      r.subscribers += s.gauge();
    } else if (n == stream::kSlowConsumersTotal) {
      r.slow_consumers_total += s.value;
    }
  }
  std::vector<StreamRow> out;
  out.reserve(rows.size());
  for (auto& [name, row] : rows) {
    row.name = name;
    row.msgs_per_sec = sampler.MessagesPerSecond(name);
    out.push_back(std::move(row));
  }
  return out;
}

void WriteStreamRow(JsonWriter& w, const StreamRow& r) {
  w.BeginObject()
      .Key("name")
      .String(r.name)
      .Key("first_sequence")
      .Uint(r.first_sequence)
      .Key("next_sequence")
      .Uint(r.next_sequence)
      .Key("committed_bytes")
      .Uint(r.committed_bytes)
      .Key("capacity_bytes")
      .Uint(r.capacity_bytes)
      .Key("publishers")
      .Int(r.publishers)
      .Key("subscribers")
      .Int(r.subscribers)
      .Key("appends_total")
      .Uint(r.appends_total)
      .Key("msgs_per_sec")
      .Double(r.msgs_per_sec)
      .Key("slow_consumers_total")
      .Uint(r.slow_consumers_total)
      .EndObject();
}

std::vector<BackendRow> BackendRows(
    const std::vector<base::MetricSample>& snap) {
  std::map<std::pair<std::string, std::string>, BackendRow> rows;
  for (const base::MetricSample& s : snap) {
    if (!s.name.starts_with("tachyon_backend_")) continue;
    const std::string_view endpoint = s.label("endpoint");
    if (endpoint.empty()) continue;
    const std::string_view service = s.label("service");
    BackendRow& r = rows[{std::string(service), std::string(endpoint)}];
    const std::string_view n = s.name;
    if (n == backend::kReadyGauge) {
      r.ready += s.gauge();
    } else if (n == backend::kBusyGauge) {
      r.busy += s.gauge();
    } else if (n == backend::kConnectingGauge) {
      r.connecting += s.gauge();
    } else if (n == backend::kPredictedGauge) {
      r.predicted += s.gauge();
    } else if (n == backend::kTargetGauge) {
      r.target += s.gauge();
    } else if (n == backend::kConnectsTotal) {
      r.connects_total += s.value;
    } else if (n == backend::kConnectFailuresTotal) {
      r.connect_failures_total += s.value;
    } else if (n == backend::kEjectionsTotal) {
      r.ejections_total += s.value;
    } else if (n == backend::kEjectedGauge) {
      r.ejected_workers += s.gauge() > 0 ? 1 : 0;
    } else if (n == backend::kBackingOffGauge) {
      r.backing_off_workers += s.gauge() > 0 ? 1 : 0;
    }
  }
  std::vector<BackendRow> out;
  for (auto& [key, row] : rows) {
    row.service = key.first;
    row.endpoint = key.second;
    out.push_back(std::move(row));
  }
  return out;
}

std::string_view EndpointState(const BackendRow& row) {
  if (row.ready > 0) return "up";
  if (row.ejected_workers > 0) return "ejected";
  if (row.backing_off_workers > 0) return "backing_off";
  if (row.connecting > 0) return "connecting";
  return "idle";
}

std::string BackendsJson(const std::vector<base::MetricSample>& snap) {
  struct Service {
    std::int64_t queue_depth = 0;
    std::uint64_t queued_total = 0;
    std::map<std::string, std::uint64_t> requests;
  };
  std::map<std::string, Service> services;
  for (const base::MetricSample& s : snap) {
    if (s.name == backend::kQueueDepthGauge) {
      services[std::string(s.label("service"))].queue_depth += s.gauge();
    } else if (s.name == backend::kQueuedTotal) {
      services[std::string(s.label("service"))].queued_total += s.value;
    } else if (s.name == backend::kRequestsTotal) {
      services[std::string(s.label("service"))]
          .requests[std::string(s.label("status"))] += s.value;
    }
  }
  const std::vector<BackendRow> rows = BackendRows(snap);
  for (const BackendRow& r : rows) services[r.service];
  JsonWriter w;
  w.BeginObject().Key("services").BeginArray();
  for (const auto& [name, service] : services) {
    w.BeginObject()
        .Key("service")
        .String(name)
        .Key("queue_depth")
        .Int(service.queue_depth)
        .Key("queued_total")
        .Uint(service.queued_total)
        .Key("requests");
    w.BeginObject();
    for (const auto& [status, n] : service.requests) w.Key(status).Uint(n);
    w.EndObject();
    w.Key("endpoints").BeginArray();
    for (const BackendRow& r : rows) {
      if (r.service != name) continue;
      w.BeginObject()
          .Key("endpoint")
          .String(r.endpoint)
          .Key("state")
          .String(EndpointState(r))
          .Key("ready")
          .Int(r.ready)
          .Key("busy")
          .Int(r.busy)
          .Key("connecting")
          .Int(r.connecting)
          .Key("predicted")
          .Int(r.predicted)
          .Key("target")
          .Int(r.target)
          .Key("connects_total")
          .Uint(r.connects_total)
          .Key("connect_failures_total")
          .Uint(r.connect_failures_total)
          .Key("ejections_total")
          .Uint(r.ejections_total)
          .Key("ejected_workers")
          .Int(r.ejected_workers)
          .Key("backing_off_workers")
          .Int(r.backing_off_workers)
          .EndObject();
    }
    w.EndArray().EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

Readiness BackendReadiness(const std::vector<base::MetricSample>& snap,
                           const config::GatewayConfig& config) {
  // (service, endpoint, worker) -> ready connections.
  std::map<std::tuple<std::string, std::string, std::string>, std::int64_t>
      ready;
  for (const base::MetricSample& s : snap) {
    if (s.name != backend::kReadyGauge) continue;
    ready[{std::string(s.label("service")), std::string(s.label("endpoint")),
           std::string(s.label("worker"))}] = s.gauge();
  }
  Readiness r;
  for (const config::BackendService& b : config.backends) {
    if (b.pool_min <= 0) continue;
    for (const std::string& e : b.endpoints) {
      for (int worker = 0; worker < config.workers; ++worker) {
        auto it = ready.find({b.name, e, std::to_string(worker)});
        const std::int64_t n = it == ready.end() ? 0 : it->second;
        if (n >= b.pool_min) continue;
        r.ready = false;
        r.reasons.push_back(absl::StrCat(
            "backend '", b.name, "' endpoint ", e, " worker ", worker, ": ", n,
            " of ", b.pool_min, " (pool_min) connections ready"));
      }
    }
  }
  return r;
}

std::uint64_t SumOf(const std::vector<base::MetricSample>& snap,
                    std::string_view name) {
  std::uint64_t sum = 0;
  for (const base::MetricSample& s : snap) {
    if (s.name == name) sum += s.value;
  }
  return sum;
}

namespace {

void WriteValue(JsonWriter& w, bool v) { w.Bool(v); }
void WriteValue(JsonWriter& w, int v) { w.Int(v); }
void WriteValue(JsonWriter& w, unsigned v) { w.Uint(v); }
void WriteValue(JsonWriter& w, unsigned short v) { w.Uint(v); }
void WriteValue(JsonWriter& w, unsigned long v) { w.Uint(v); }
void WriteValue(JsonWriter& w, double v) { w.Double(v); }
void WriteValue(JsonWriter& w, const std::string& v) { w.String(v); }
void WriteValue(JsonWriter& w, config::IoBackend v) {
  w.String(config::IoBackendName(v));
}
void WriteValue(JsonWriter& w, config::IdleStrategy v) {
  w.String(config::IdleStrategyName(v));
}
void WriteValue(JsonWriter& w, config::SlowConsumerPolicy v) {
  w.String(config::SlowConsumerPolicyName(v));
}
template <typename E, std::size_t N>
void WriteEnum(JsonWriter& w, E v,
               const std::pair<E, std::string_view> (&names)[N]) {
  for (const auto& [value, name] : names) {
    if (value == v) {
      w.String(name);
      return;
    }
  }
  w.String("?");
}
void WriteValue(JsonWriter& w, config::FastPathMode v) {
  WriteEnum(w, v, config::kFastPathModeNames);
}
void WriteValue(JsonWriter& w, config::XdpMode v) {
  WriteEnum(w, v, config::kXdpModeNames);
}
void WriteValue(JsonWriter& w, config::XdpBind v) {
  WriteEnum(w, v, config::kXdpBindNames);
}
void WriteValue(JsonWriter& w, config::TlsVerifyClient v) {
  WriteEnum(w, v, config::kTlsVerifyClientNames);
}
template <typename T>
void WriteValue(JsonWriter& w, const std::vector<T>& v) {
  w.BeginArray();
  for (const T& e : v) WriteValue(w, e);
  w.EndArray();
}

template <typename T>
void WriteMember(JsonWriter& w, std::string_view key, const T& value) {
  w.Key(key);
  WriteValue(w, value);
}
// Secrets are shown only as present or not.
void WriteMember(JsonWriter& w, std::string_view key,
                 const std::string& value) {
  w.Key(key);
  if (key == "token") {
    w.String(value.empty() ? "" : "(set)");
  } else {
    w.String(value);
  }
}

}  // namespace

// clang-format off
#define TACHYON_ADMIN_MEMBER(table, key, flag, kind, detail, help) \
  WriteMember(w, #key, s.key);
#define TACHYON_ADMIN_ENTRY_MEMBER(table, array, key, kind, detail) \
  WriteMember(w, #key, s.key);
#define TACHYON_ADMIN_TABLE(table, KEYS, Struct, path, unused) \
  w.Key(#table).BeginObject();                                 \
  {                                                            \
    const config::Struct& s = config path;                     \
    KEYS(TACHYON_ADMIN_MEMBER)                                 \
  }                                                            \
  w.EndObject();
// clang-format on

void WriteConfig(JsonWriter& w, const config::GatewayConfig& config) {
  w.BeginObject();
  TACHYON_CONFIG_TABLES(TACHYON_ADMIN_TABLE, unused)
  w.Key("stream_policies").BeginArray();
  for (const config::StreamPolicy& s : config.stream_policies) {
    w.BeginObject();
    TACHYON_CONFIG_STREAM_POLICY_ENTRY_KEYS(TACHYON_ADMIN_ENTRY_MEMBER)
    TACHYON_CONFIG_STREAMS_KEYS(TACHYON_ADMIN_MEMBER)
    w.EndObject();
  }
  w.EndArray();
  w.Key("udp_groups").BeginArray();
  for (const config::UdpGroup& s : config.udp.groups) {
    w.BeginObject();
    TACHYON_CONFIG_UDP_GROUP_ENTRY_KEYS(TACHYON_ADMIN_ENTRY_MEMBER)
    w.EndObject();
  }
  w.EndArray();
  w.Key("backends").BeginArray();
  for (const config::BackendService& s : config.backends) {
    w.BeginObject();
    TACHYON_CONFIG_BACKEND_ENTRY_KEYS(TACHYON_ADMIN_ENTRY_MEMBER)
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

#undef TACHYON_ADMIN_TABLE
#undef TACHYON_ADMIN_ENTRY_MEMBER
#undef TACHYON_ADMIN_MEMBER

}  // namespace tachyon::admin
