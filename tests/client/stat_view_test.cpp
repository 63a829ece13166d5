// tachyon-stat's reader of Prometheus text and the view it draws from two
// scrapes: parse errors name the line, sums and groupings follow labels,
// percentiles interpolate within the bucket, rates are deltas over the
// interval, and the JSON carries every row.
#include "stat_view.h"

#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "stat_metrics.h"

namespace tachyon::tools {
namespace {

using ::testing::HasSubstr;

Scrape Parse(std::string_view text) {
  absl::StatusOr<Scrape> s = ParseMetricsText(text);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : Scrape();
}

TEST(StatMetricsTest, ParsesSamplesLabelsEscapesAndSpecialValues) {
  const Scrape s = Parse(
      "# HELP x_total things\n"
      "# TYPE x_total counter\n"
      "x_total{a=\"1\",b=\"q\\\"uote\\\\back\\nline\"} 5\n"
      "x_total{a=\"2\"} 7 1700000000000\n"
      "y +Inf\n"
      "z{} -3.5\n");
  ASSERT_EQ(s.samples().size(), 4u);
  EXPECT_EQ(s.samples()[0].label("b"), "q\"uote\\back\nline");
  EXPECT_EQ(s.Sum("x_total"), 12);
  EXPECT_EQ(s.Sum("x_total", {{"a", "2"}}), 7);
  EXPECT_TRUE(std::isinf(s.samples()[2].value));
  EXPECT_EQ(s.Sum("z"), -3.5);
}

TEST(StatMetricsTest, MalformedLinesNameTheirLineNumber) {
  const std::pair<const char*, const char*> cases[] = {
      {"ok 1\n9bad 1\n", "line 2: expected a metric name"},
      {"x{a=1} 1\n", "line 1: label 'a': value must be quoted"},
      {"x{a=\"1} 1\n", "line 1: label 'a': unterminated value"},
      {"x{a=\"1\" b=\"2\"} 1\n", "line 1: expected ',' or '}'"},
      {"x 1 2 3\n", "line 1: unexpected text after the value"},
      {"x abc\n", "line 1: bad value 'abc'"},
      {"x\n", "line 1: expected a space before the value"},
      {"\n# TYPE x blob\n", "line 2: unknown metric type 'blob'"},
      {"x{a=\"\\q\"} 1\n", "line 1: label 'a': bad escape"},
  };
  for (const auto& [text, error] : cases) {
    absl::StatusOr<Scrape> s = ParseMetricsText(text);
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(error)) << text;
  }
}

TEST(StatMetricsTest, QuantileInterpolatesInsideTheBucketAcrossSeries) {
  // Two workers' series of one histogram: 10 values in (0,1024], 10 in
  // (1024,2048] once added up.
  const Scrape s = Parse(
      "h_bucket{worker=\"0\",le=\"1024\"} 10\n"
      "h_bucket{worker=\"0\",le=\"2048\"} 10\n"
      "h_bucket{worker=\"0\",le=\"+Inf\"} 10\n"
      "h_bucket{worker=\"1\",le=\"1024\"} 0\n"
      "h_bucket{worker=\"1\",le=\"2048\"} 10\n"
      "h_bucket{worker=\"1\",le=\"+Inf\"} 10\n"
      "h_count{worker=\"0\"} 10\n");
  EXPECT_DOUBLE_EQ(s.Quantile("h", 0.25), 512);   // middle of the first
  EXPECT_DOUBLE_EQ(s.Quantile("h", 0.75), 1536);  // middle of the second
  EXPECT_DOUBLE_EQ(s.Quantile("h", 0.5, {{"worker", "1"}}), 1536);
  EXPECT_EQ(s.Quantile("nothing", 0.5), -1);
  EXPECT_EQ(s.HistogramNames(), std::vector<std::string>{"h"});
}

TEST(StatMetricsTest, ValuesBeyondTheLastFiniteBucketReportItsBound) {
  const Scrape s = Parse(
      "h_bucket{le=\"8\"} 1\n"
      "h_bucket{le=\"+Inf\"} 100\n");
  EXPECT_DOUBLE_EQ(s.Quantile("h", 0.99), 8);
}

TEST(StatMetricsTest, QuantileIsNeverNaNWhateverTheBucketsSay) {
  // Regression: a fuzzed scrape with a NaN count, an infinite count and
  // non-cumulative buckets made Quantile return NaN.
  const Scrape s = Parse(
      "h_bucket{le=\"1\"} NaN\n"
      "h_bucket{le=\"2\"} 5\n"
      "h_bucket{le=\"4\"} 1\n"
      "h_bucket{le=\"8\"} +Inf\n"
      "h_bucket{le=\"NaN\"} 3\n"
      "h_bucket{le=\"+Inf\"} 6\n");
  for (double q : {0.01, 0.5, 0.9, 0.99, 0.999}) {
    const double v = s.Quantile("h", q);
    EXPECT_FALSE(std::isnan(v)) << q;
    EXPECT_LE(v, 8) << q;
  }
  const Scrape inf = Parse("g_bucket{le=\"+Inf\"} +Inf\n");
  EXPECT_EQ(inf.Quantile("g", 0.5), -1);
}

TEST(StatViewTest, RatesAreDeltasOverTheIntervalAndRowsFollowLabels) {
  const Scrape before = Parse(
      "tachyon_session_publishes_total{worker=\"0\"} 100\n"
      "tachyon_stream_appends_total{stream=\"a\"} 100\n"
      "tachyon_stream_appends_total{stream=\"b\"} 0\n"
      "lat_bucket{le=\"100\"} 50\n"
      "lat_bucket{le=\"+Inf\"} 50\n"
      "lat_count 50\n");
  const Scrape after = Parse(
      "tachyon_session_open{worker=\"0\"} 2\n"
      "tachyon_session_open{worker=\"1\"} 1\n"
      "tachyon_session_publishes_total{worker=\"0\"} 300\n"
      "tachyon_stream_appends_total{stream=\"a\"} 300\n"
      "tachyon_stream_appends_total{stream=\"b\"} 4\n"
      "tachyon_stream_subscribers{stream=\"a\"} 3\n"
      "tachyon_stream_next_sequence{stream=\"a\"} 301\n"
      "tachyon_backend_ready{service=\"quotes\",endpoint=\"h:1\","
      "worker=\"0\"} 2\n"
      "tachyon_backend_ready{service=\"quotes\",endpoint=\"h:1\","
      "worker=\"1\"} 3\n"
      "tachyon_backend_predicted{service=\"quotes\",endpoint=\"h:1\","
      "worker=\"0\"} 4\n"
      "tachyon_backend_requests_total{service=\"quotes\",worker=\"0\","
      "status=\"ok\"} 40\n"
      "tachyon_backend_requests_total{service=\"quotes\",worker=\"1\","
      "status=\"timeout\"} 2\n"
      "lat_bucket{le=\"100\"} 50\n"
      "lat_bucket{le=\"1000\"} 60\n"
      "lat_bucket{le=\"+Inf\"} 60\n"
      "lat_count 60\n");
  const StatView v = BuildStatView(before, after, 2.0);
  EXPECT_EQ(v.sessions_open, 3);
  EXPECT_EQ(v.publishes_per_sec, 100);
  ASSERT_EQ(v.streams.size(), 2u);
  EXPECT_EQ(v.streams[0].name, "a");
  EXPECT_EQ(v.streams[0].msgs_per_sec, 100);
  EXPECT_EQ(v.streams[0].subscribers, 3);
  EXPECT_EQ(v.streams[0].next_sequence, 301);
  EXPECT_EQ(v.streams[1].msgs_per_sec, 2);
  ASSERT_EQ(v.backends.size(), 1u);
  EXPECT_EQ(v.backends[0].ready, 5);
  EXPECT_EQ(v.backends[0].predicted, 4);
  ASSERT_EQ(v.services.size(), 1u);
  EXPECT_EQ(v.services[0].by_status.size(), 2u);
  // The interval's 10 values all lie in (100, 1000]: its p50 is there,
  // while the cumulative p99 mixes in the 50 older ones below 100.
  ASSERT_EQ(v.latency.size(), 1u);
  EXPECT_EQ(v.latency[0].window_count, 10);
  EXPECT_GT(v.latency[0].p50, 100);
  EXPECT_LE(v.latency[0].p50, 1000);

  const std::string json = RenderStatJson(v);
  EXPECT_THAT(json, HasSubstr("\"sessions_open\":3"));
  EXPECT_THAT(json, HasSubstr("{\"name\":\"a\",\"msgs_per_sec\":100,"
                              "\"appends_total\":300"));
  EXPECT_THAT(json, HasSubstr("\"requests_by_status\":{\"ok\":40,"
                              "\"timeout\":2}"));
  const std::string text = RenderStatText(v);
  EXPECT_THAT(text, HasSubstr("quotes"));
  EXPECT_THAT(text, HasSubstr("h:1"));
}

TEST(StatViewTest, JsonEscapesNamesAndRendersMissingPercentilesAsNull) {
  const Scrape after = Parse(
      "tachyon_stream_appends_total{stream=\"we\\\"ird\"} 1\n"
      "lat_bucket{le=\"+Inf\"} 0\n");
  const std::string json = RenderStatJson(BuildStatView(Scrape(), after, 1));
  EXPECT_THAT(json, HasSubstr("\"name\":\"we\\\"ird\""));
  EXPECT_THAT(json, HasSubstr("\"p50_ns\":null"));
}

}  // namespace
}  // namespace tachyon::tools
