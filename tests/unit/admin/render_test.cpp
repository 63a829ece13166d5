// JSON writer, Prometheus exposition, percentiles and the registry views.
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "admin/json_writer.h"
#include "admin/prometheus.h"
#include "admin/views.h"
#include "backend/backend_counters.h"
#include "base/counters.h"
#include "boost/json.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "stream/stream_metric_names.h"

namespace tachyon::admin {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(JsonWriterTest, EscapesStringsIntoValidJson) {
  const std::string nasty = std::string("q\"b\\n\n\t\x01\x7f") + "\xff" +
                            "caf\xc3\xa9" + "\xed\xa0\x80";  // a surrogate
  JsonWriter w;
  w.BeginObject()
      .Key(nasty)
      .String(nasty)
      .Key("list")
      .BeginArray()
      .Int(-3)
      .Uint(18446744073709551615u)
      .Double(0.5)
      .Double(std::nan(""))
      .Bool(true)
      .Null()
      .BeginObject()
      .EndObject()
      .EndArray()
      .EndObject();
  const std::string text = w.Take();
  json::error_code ec;
  const json::value v = json::parse(text, ec);
  ASSERT_FALSE(ec) << text;
  const json::object& o = v.as_object();
  ASSERT_EQ(o.size(), 2u);
  const std::string back(o.begin()->value().as_string());
  // Valid UTF-8 passes through; each invalid byte is one U+FFFD.
  EXPECT_EQ(back, std::string("q\"b\\n\n\t\x01\x7f") + "\xef\xbf\xbd" +
                      "caf\xc3\xa9" + "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  const json::array& list = o.at("list").as_array();
  ASSERT_EQ(list.size(), 7u);
  EXPECT_EQ(list[0].as_int64(), -3);
  EXPECT_EQ(list[1].as_uint64(), 18446744073709551615u);
  EXPECT_EQ(list[2].as_double(), 0.5);
  EXPECT_TRUE(list[3].is_null());
  EXPECT_TRUE(list[4].as_bool());
  EXPECT_TRUE(list[5].is_null());
}

TEST(BucketQuantileTest, InterpolatesWithinThePowerOfTwoBucket) {
  Buckets b{};
  EXPECT_EQ(BucketQuantile(b, 0.5), 0);
  b[11] = 100;  // 1024 <= v < 2048
  EXPECT_DOUBLE_EQ(BucketQuantile(b, 0.5), 1024 + 512);
  EXPECT_DOUBLE_EQ(BucketQuantile(b, 1.0), 2048);
  b[1] = 100;  // v == 1
  // Half the values are 1 (bucket [1, 2)), half in [1024, 2048).
  EXPECT_DOUBLE_EQ(BucketQuantile(b, 0.25), 1.5);
  EXPECT_DOUBLE_EQ(BucketQuantile(b, 0.75), 1024 + 512);
  const Percentiles p = PercentilesOf(b);
  EXPECT_EQ(p.count, 200u);
  EXPECT_LE(p.p50, p.p90);
  EXPECT_LE(p.p90, p.p99);
  EXPECT_LE(p.p99, p.p999);
  EXPECT_LE(p.p999, 2048);
}

TEST(BucketQuantileTest, RecordedValuesLandInTheirBucket) {
  base::CounterRegistry registry;
  base::Histogram h = registry.AddHistogram("x_ns", "x");
  for (int i = 0; i < 1000; ++i) h.Record(3000);  // bucket [2048, 4096)
  const std::vector<base::MetricSample> snap = registry.Snapshot();
  ASSERT_EQ(snap.size(), 1u);
  const double p50 = BucketQuantile(snap[0].buckets, 0.5);
  EXPECT_GE(p50, 2048);
  EXPECT_LE(p50, 4096);
}

TEST(PrometheusTest, WritesHelpTypeOnceAndEscapesLabels) {
  base::CounterRegistry registry;
  base::Counter a = registry.AddCounter("t_total", "help with \\ and\nline",
                                        {{"stream", "a\"b\\c\nd"}});
  base::Counter b = registry.AddCounter("t_total", "help", {{"stream", "z"}});
  base::Gauge g = registry.AddGauge("t_level", "a level");
  a.Add(5);
  b.Add(7);
  g.Set(-4);
  const std::string text = RenderPrometheus(registry.Snapshot());
  EXPECT_THAT(text, HasSubstr("# HELP t_total help with \\\\ and\\nline\n"
                              "# TYPE t_total counter\n"
                              "t_total{stream=\"a\\\"b\\\\c\\nd\"} 5\n"
                              "t_total{stream=\"z\"} 7\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE t_level gauge\nt_level -4\n"));
  // One HELP per name.
  EXPECT_EQ(text.find("# HELP t_total"), text.rfind("# HELP t_total"));
}

TEST(PrometheusTest, HistogramBucketsAreCumulativeWithInf) {
  base::CounterRegistry registry;
  base::Histogram h =
      registry.AddHistogram("lat_ns", "latency", {{"worker", "0"}});
  h.Record(0);
  h.Record(1);
  h.Record(5);
  h.Record(5);
  h.Record(std::uint64_t{1} << 60);  // past the last bucket's start
  const std::string text = RenderPrometheus(registry.Snapshot());
  EXPECT_THAT(text, HasSubstr("# TYPE lat_ns histogram\n"));
  EXPECT_THAT(text, HasSubstr("lat_ns_bucket{worker=\"0\",le=\"0\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("lat_ns_bucket{worker=\"0\",le=\"1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("lat_ns_bucket{worker=\"0\",le=\"3\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("lat_ns_bucket{worker=\"0\",le=\"7\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("lat_ns_bucket{worker=\"0\",le=\"+Inf\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("lat_ns_count{worker=\"0\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("lat_ns_sum{worker=\"0\"} "));
}

TEST(ViewsTest, StreamRowsGroupByStreamAndRatesComeFromTwoSamples) {
  base::CounterRegistry registry;
  base::Counter appends = registry.AddCounter(stream::kAppendsTotal, "appends",
                                              {{"stream", "md.a"}});
  base::Gauge subscribers =
      registry.AddGauge(stream::kSubscribers, "subs", {{"stream", "md.a"}});
  base::Gauge next =
      registry.AddGauge(stream::kNextSequence, "next", {{"stream", "md.b"}});
  appends.Add(10);
  subscribers.Set(3);
  next.Set(42);
  LiveSampler sampler;
  sampler.Sample(registry.Snapshot(), 0);
  appends.Add(50);
  sampler.Sample(registry.Snapshot(), 500'000'000);  // half a second later
  const std::vector<StreamRow> rows = StreamRows(registry.Snapshot(), sampler);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].name, "md.a");
  EXPECT_EQ(rows[0].appends_total, 60u);
  EXPECT_EQ(rows[0].subscribers, 3);
  EXPECT_DOUBLE_EQ(rows[0].msgs_per_sec, 100.0);
  EXPECT_EQ(rows[1].name, "md.b");
  EXPECT_EQ(rows[1].next_sequence, 42u);
  EXPECT_EQ(rows[1].appends_total, 0u);
}

TEST(ViewsTest, LatencyWindowIsTheLastIntervalOnly) {
  base::CounterRegistry registry;
  base::Histogram h = registry.AddHistogram("x_ns", "x", {{"worker", "0"}});
  base::Histogram h1 = registry.AddHistogram("x_ns", "x", {{"worker", "1"}});
  for (int i = 0; i < 10; ++i) h.Record(1000);
  LiveSampler sampler;
  sampler.Sample(registry.Snapshot(), 0);
  for (int i = 0; i < 4; ++i) h1.Record(100);
  sampler.Sample(registry.Snapshot(), 1'000'000'000);
  EXPECT_EQ(PercentilesOf(sampler.Cumulative().at("x_ns")).count, 14u);
  const Percentiles window = PercentilesOf(sampler.Window().at("x_ns"));
  EXPECT_EQ(window.count, 4u);
  EXPECT_LE(window.p99, 128);
}

TEST(ViewsTest, ReadinessNamesEveryEndpointAndWorkerBelowPoolMin) {
  config::GatewayConfig c;
  c.workers = 2;
  config::BackendService s;
  s.name = "risk";
  s.id = 1;
  s.endpoints = {"127.0.0.1:9001"};
  s.pool_min = 2;
  c.backends.push_back(s);
  base::CounterRegistry registry;
  base::Gauge ready0 = registry.AddGauge(
      "tachyon_backend_ready", "ready",
      {{"service", "risk"}, {"endpoint", "127.0.0.1:9001"}, {"worker", "0"}});
  ready0.Set(2);
  Readiness r = BackendReadiness(registry.Snapshot(), c);
  EXPECT_FALSE(r.ready);
  ASSERT_EQ(r.reasons.size(), 1u);
  EXPECT_EQ(r.reasons[0],
            "backend 'risk' endpoint 127.0.0.1:9001 worker 1: 0 of 2 "
            "(pool_min) connections ready");
  base::Gauge ready1 = registry.AddGauge(
      "tachyon_backend_ready", "ready",
      {{"service", "risk"}, {"endpoint", "127.0.0.1:9001"}, {"worker", "1"}});
  ready1.Set(3);
  EXPECT_TRUE(BackendReadiness(registry.Snapshot(), c).ready);
}

TEST(ViewsTest, BackendEndpointsSayWhetherUpEjectedOrBackingOff) {
  base::CounterRegistry registry;
  // The pool's own gauges, two workers per endpoint.
  std::vector<std::unique_ptr<backend::EndpointCounters>> c;
  for (const char* endpoint :
       {"up:1", "ejected:1", "backoff:1", "dialing:1", "idle:1"}) {
    for (int worker = 0; worker < 2; ++worker) {
      c.push_back(std::make_unique<backend::EndpointCounters>(
          registry, "risk", endpoint, worker));
    }
  }
  c[0]->ready.Set(1);    // up on worker 0;
  c[1]->ejected.Set(1);  // ejected on worker 1: still up
  c[2]->ejected.Set(1);
  c[3]->backing_off.Set(1);
  c[4]->backing_off.Set(1);
  c[6]->connecting.Set(1);
  const json::value v = json::parse(BackendsJson(registry.Snapshot()));
  std::map<std::string, json::object> rows;
  for (const json::value& e :
       v.at("services").at(0).at("endpoints").as_array()) {
    rows[std::string(e.at("endpoint").as_string())] = e.as_object();
  }
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows["up:1"].at("state").as_string(), "up");
  EXPECT_EQ(rows["up:1"].at("ejected_workers").as_int64(), 1);
  EXPECT_EQ(rows["ejected:1"].at("state").as_string(), "ejected");
  EXPECT_EQ(rows["ejected:1"].at("ejected_workers").as_int64(), 1);
  EXPECT_EQ(rows["ejected:1"].at("backing_off_workers").as_int64(), 1);
  EXPECT_EQ(rows["backoff:1"].at("state").as_string(), "backing_off");
  EXPECT_EQ(rows["backoff:1"].at("backing_off_workers").as_int64(), 1);
  EXPECT_EQ(rows["dialing:1"].at("state").as_string(), "connecting");
  EXPECT_EQ(rows["idle:1"].at("state").as_string(), "idle");
}

TEST(ViewsTest, ConfigJsonHasEveryTableAndHidesTokens) {
  config::GatewayConfig c;
  c.token = "secret-1";
  c.admin.token = "secret-2";
  config::BackendService s;
  s.name = "risk";
  s.token = "secret-3";
  s.endpoints = {"127.0.0.1:9001"};
  c.backends.push_back(s);
  JsonWriter w;
  WriteConfig(w, c);
  const std::string text = w.Take();
  EXPECT_THAT(text, Not(HasSubstr("secret")));
  json::error_code ec;
  const json::value v = json::parse(text, ec);
  ASSERT_FALSE(ec) << text;
  const json::object& o = v.as_object();
  for (const char* table : {"gateway", "limits", "session", "socket", "streams",
                            "udp", "admin", "fastpath", "backends"}) {
    EXPECT_TRUE(o.contains(table)) << table;
  }
  EXPECT_EQ(o.at("gateway").at("port").as_int64(), 7400);
  EXPECT_EQ(o.at("gateway").at("io").as_string(), "auto");
  EXPECT_EQ(o.at("session").at("token").as_string(), "(set)");
  EXPECT_EQ(o.at("admin").at("port").as_int64(), 7480);
  EXPECT_EQ(o.at("fastpath").at("mode").as_string(), "socket");
  EXPECT_EQ(o.at("fastpath").at("xdp_mode").as_string(), "native");
  EXPECT_EQ(o.at("fastpath").at("frames").as_int64(), 4096);
  EXPECT_TRUE(o.at("fastpath").at("eal_args").as_array().empty());
  EXPECT_EQ(o.at("backends").at(0).at("token").as_string(), "(set)");
  EXPECT_EQ(o.at("backends").at(0).at("endpoints").at(0).as_string(),
            "127.0.0.1:9001");
}

}  // namespace
}  // namespace tachyon::admin
