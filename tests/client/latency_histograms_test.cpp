// The gateway's latency histograms through a real gateway (in-process, both
// io backends, two workers): publishers and subscribers of the client
// library fill tachyon_session_delivery_latency_ns and
// tachyon_session_publish_to_append_ns, requests to a tachyon::service
// backend fill tachyon_backend_request_rtt_ns; and the DATA timestamp
// they start from is taken after a blocked worker woke. Each test bounds
// what the gateway measured by what the test itself measured around it, on
// the same clock, rather than by a constant. The test thread reads the
// histograms while the workers write them (label concurrency: TSan).
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backend/backend_counters.h"
#include "base/clock.h"
#include "base/counters.h"
#include "client_test_util.h"
#include "gtest/gtest.h"
#include "session/session_counters.h"
#include "support/gateway_fixture.h"
#include "support/test_backend.h"
#include "support/wait.h"
#include "tachyon/client/client.h"
#include "tachyon/service/server.h"

namespace tachyon::testing {
namespace {

using ::tachyon::client::Client;
using ::tachyon::client::Message;
using ::tachyon::client::StartPosition;
namespace ts = ::tachyon::service;

// Every histogram of one name (and service, when given) summed over its
// registrations (one per worker).
struct Totals {
  int registrations = 0;
  int with_worker_label = 0;
  std::uint64_t count = 0;
  std::uint64_t sum = 0;
  std::array<std::uint64_t, base::kHistogramBuckets> buckets{};

  // The lowest value the highest non-empty bucket holds (0 if none).
  [[nodiscard]] std::uint64_t HighestBucketFloor() const {
    for (std::size_t i = buckets.size(); i-- > 1;) {
      if (buckets[i] != 0) return std::uint64_t{1} << (i - 1);
    }
    return 0;
  }
  [[nodiscard]] std::uint64_t BucketTotal() const {
    std::uint64_t n = 0;
    for (std::uint64_t b : buckets) n += b;
    return n;
  }
};

Totals Histograms(const base::CounterRegistry& registry, std::string_view name,
                  std::string_view service = {}) {
  Totals t;
  for (const base::MetricSample& m : registry.Snapshot()) {
    if (m.name != name || m.type != base::MetricType::kHistogram) continue;
    if (!service.empty() && m.label("service") != service) continue;
    ++t.registrations;
    if (!m.label("worker").empty()) ++t.with_worker_label;
    t.count += m.count;
    t.sum += m.sum;
    for (std::size_t i = 0; i < t.buckets.size(); ++i) {
      t.buckets[i] += m.buckets[i];
    }
  }
  return t;
}

// The per-stream series of `name` labelled stream=`stream`, summed over
// workers.
Totals StreamSeries(const base::CounterRegistry& registry,
                    std::string_view name, std::string_view stream) {
  Totals t;
  for (const base::MetricSample& m : registry.Snapshot()) {
    if (m.name != name || m.type != base::MetricType::kHistogram) continue;
    if (m.label("stream") != stream) continue;
    ++t.registrations;
    if (!m.label("worker").empty()) ++t.with_worker_label;
    t.count += m.count;
    t.sum += m.sum;
    for (std::size_t i = 0; i < t.buckets.size(); ++i) {
      t.buckets[i] += m.buckets[i];
    }
  }
  return t;
}

class LatencyHistogramsTest : public GatewayTest {
 protected:
  std::unique_ptr<Client> Connect() {
    auto c = Client::Connect("127.0.0.1", gateway_->port());
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }
};

TEST_P(LatencyHistogramsTest, PublishAndDeliveryHistogramsFollowTheTraffic) {
  Start();
  const int workers = GetParam().workers;
  const base::CounterRegistry& registry = gateway_->counters();
  auto pub = Connect();
  auto sub1 = Connect();
  auto sub2 = Connect();
  ASSERT_NE(pub, nullptr);
  ASSERT_NE(sub1, nullptr);
  ASSERT_NE(sub2, nullptr);
  // One registration per worker, labelled, empty before any traffic.
  for (std::string_view name :
       {session::kDeliveryLatencyNs, session::kPublishToAppendNs}) {
    const Totals t = Histograms(registry, name);
    EXPECT_EQ(t.registrations, workers) << name;
    EXPECT_EQ(t.with_worker_label, workers) << name;
    EXPECT_EQ(t.count, 0u) << name;
  }
  int got1 = 0;
  int got2 = 0;
  ASSERT_TRUE(sub1->Subscribe("lat", StartPosition::Latest(),
                              [&](const Message&) { ++got1; })
                  .ok());
  ASSERT_TRUE(sub2->Subscribe("lat", StartPosition::Latest(),
                              [&](const Message&) { ++got2; })
                  .ok());
  auto stream = pub->OpenStream("lat");
  ASSERT_TRUE(stream.ok()) << stream.status();

  // One message at a time, each received by both subscribers before the
  // next: one read per PUBLISH, one send per message and subscriber.
  constexpr int kMessages = 50;
  const std::int64_t start_ns = base::RealtimeNs();
  for (int i = 1; i <= kMessages; ++i) {
    ASSERT_TRUE(pub->Publish(*stream, "m" + std::to_string(i)).ok());
    ASSERT_TRUE(PollUntil(*sub1, [&] { return got1 == i; }));
    ASSERT_TRUE(PollUntil(*sub2, [&] { return got2 == i; }));
  }
  // A send's value is recorded just after it completed, which may be after
  // the subscriber read it.
  ASSERT_TRUE(WaitUntil([&] {
    return Histograms(registry, session::kDeliveryLatencyNs).count >=
               2 * kMessages &&
           Histograms(registry, session::kPublishToAppendNs).count >= kMessages;
  }));
  const auto elapsed_ns =
      static_cast<std::uint64_t>(base::RealtimeNs() - start_ns);

  const Totals delivery = Histograms(registry, session::kDeliveryLatencyNs);
  EXPECT_EQ(delivery.count, 2u * kMessages);  // each frame finished once
  EXPECT_EQ(delivery.BucketTotal(), delivery.count);
  EXPECT_GT(delivery.sum, 0u);
  EXPECT_GT(delivery.HighestBucketFloor(), 0u);
  // Every value lies between a frame's receive and a moment before the
  // wait above ended.
  EXPECT_LT(delivery.sum / delivery.count, elapsed_ns);
  EXPECT_LE(delivery.HighestBucketFloor(), elapsed_ns);

  const Totals append = Histograms(registry, session::kPublishToAppendNs);
  EXPECT_EQ(append.count, static_cast<std::uint64_t>(kMessages));
  EXPECT_EQ(append.BucketTotal(), append.count);
  EXPECT_GT(append.sum, 0u);
  EXPECT_LT(append.sum / append.count, elapsed_ns);
  EXPECT_LE(append.HighestBucketFloor(), elapsed_ns);
}

// The same measures per stream: each stream's series counts its own
// messages (a send per message and subscriber; a read per PUBLISH), under
// names of their own so the worker series are not counted twice.
TEST_P(LatencyHistogramsTest, PerStreamSeriesCountEachStreamsMessages) {
  Start();
  const base::CounterRegistry& registry = gateway_->counters();
  auto pub = Connect();
  auto sub = Connect();
  ASSERT_NE(pub, nullptr);
  ASSERT_NE(sub, nullptr);
  int got_a = 0;
  int got_b = 0;
  ASSERT_TRUE(sub->Subscribe("per.a", StartPosition::Latest(),
                             [&](const Message&) { ++got_a; })
                  .ok());
  ASSERT_TRUE(sub->Subscribe("per.b", StartPosition::Latest(),
                             [&](const Message&) { ++got_b; })
                  .ok());
  auto a = pub->OpenStream("per.a");
  auto b = pub->OpenStream("per.b");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  constexpr int kA = 30;
  constexpr int kB = 12;
  for (int i = 1; i <= kA; ++i) {
    ASSERT_TRUE(pub->Publish(*a, "a").ok());
    ASSERT_TRUE(PollUntil(*sub, [&] { return got_a == i; }));
    if (i <= kB) {
      ASSERT_TRUE(pub->Publish(*b, "b").ok());
      ASSERT_TRUE(PollUntil(*sub, [&] { return got_b == i; }));
    }
  }
  ASSERT_TRUE(WaitUntil([&] {
    return StreamSeries(registry, session::kStreamDeliveryLatencyNs, "per.a")
                   .count >= kA &&
           StreamSeries(registry, session::kStreamDeliveryLatencyNs, "per.b")
                   .count >= kB;
  }));
  for (const auto& [stream, n] :
       {std::pair<std::string_view, int>{"per.a", kA}, {"per.b", kB}}) {
    const Totals d =
        StreamSeries(registry, session::kStreamDeliveryLatencyNs, stream);
    EXPECT_EQ(d.count, static_cast<std::uint64_t>(n)) << stream;
    EXPECT_EQ(d.BucketTotal(), d.count) << stream;
    EXPECT_GT(d.sum, 0u) << stream;
    EXPECT_EQ(d.with_worker_label, d.registrations) << stream;
    // One read per PUBLISH: the publisher's worker records each.
    const Totals p =
        StreamSeries(registry, session::kStreamPublishToAppendNs, stream);
    EXPECT_EQ(p.count, static_cast<std::uint64_t>(n)) << stream;
    EXPECT_GT(p.sum, 0u) << stream;
  }
  // The worker series hold the same sends once: no double count.
  EXPECT_EQ(Histograms(registry, session::kDeliveryLatencyNs).count,
            static_cast<std::uint64_t>(kA + kB));
  EXPECT_EQ(Histograms(registry, session::kPublishToAppendNs).count,
            static_cast<std::uint64_t>(kA + kB));
}

// A worker gives at most kMaxStreamSeries streams a series of their own;
// the rest share stream="(other)".
TEST(StreamHistogramsTest, StreamsPastTheCapShareOther) {
  base::CounterRegistry registry;
  session::StreamHistograms h(registry, "test_stream_latency_ns", "test", "0");
  constexpr std::size_t kCap = session::StreamHistograms::kMaxStreamSeries;
  std::vector<base::Histogram*> own;
  for (std::size_t i = 0; i < kCap; ++i) {
    own.push_back(h.For("s." + std::to_string(i)));
  }
  EXPECT_EQ(h.For("s.0"), own[0]);  // found again, not registered twice
  base::Histogram* other = h.For("s.late.1");
  EXPECT_EQ(h.For("s.late.2"), other);
  for (base::Histogram* o : own) EXPECT_NE(o, other);
  EXPECT_EQ(h.size(), kCap + 1);
  other->Record(5);
  int series = 0;
  for (const base::MetricSample& m : registry.Snapshot()) {
    if (m.name != "test_stream_latency_ns") continue;
    ++series;
    EXPECT_EQ(m.label("worker"), "0");
    if (m.label("stream") == "(other)") {
      EXPECT_EQ(m.count, 1u);
    }
  }
  EXPECT_EQ(series, static_cast<int>(kCap + 1));
}

// Messages replayed to a late subscriber are not gateway latency: its
// replay leaves the delivery histogram alone, its live messages count.
TEST_P(LatencyHistogramsTest, ReplayIsNotDeliveryLatency) {
  Start();
  const base::CounterRegistry& registry = gateway_->counters();
  auto pub = Connect();
  ASSERT_NE(pub, nullptr);
  auto stream = pub->OpenStream("replayed");
  ASSERT_TRUE(stream.ok()) << stream.status();
  constexpr int kOld = 20;
  for (int i = 0; i < kOld; ++i) {
    ASSERT_TRUE(pub->PublishWithAck(*stream, "old").ok());
  }
  auto sub = Connect();
  ASSERT_NE(sub, nullptr);
  int got = 0;
  ASSERT_TRUE(sub->Subscribe("replayed", StartPosition::Earliest(),
                             [&](const Message&) { ++got; })
                  .ok());
  ASSERT_TRUE(PollUntil(*sub, [&] { return got == kOld; }));
  // The replay's sends completed before the subscriber could read them
  // all; nothing was recorded for them.
  EXPECT_EQ(Histograms(registry, session::kDeliveryLatencyNs).count, 0u);

  ASSERT_TRUE(pub->Publish(*stream, "live").ok());
  ASSERT_TRUE(PollUntil(*sub, [&] { return got == kOld + 1; }));
  ASSERT_TRUE(WaitUntil([&] {
    return Histograms(registry, session::kDeliveryLatencyNs).count >= 1;
  }));
  EXPECT_EQ(Histograms(registry, session::kDeliveryLatencyNs).count, 1u);
}

TEST_P(LatencyHistogramsTest, BackendRoundTripPerServiceAndWorker) {
  auto server = ts::Server::Start(
      {}, [](const ts::Request& req, std::vector<std::byte>& reply) {
        reply.assign(req.payload.begin(), req.payload.end());
        return absl::OkStatus();
      });
  ASSERT_TRUE(server.ok()) << server.status();
  config::GatewayConfig c = TestConfig(GetParam());
  config::BackendService s;
  s.name = "echo";
  s.id = 42;
  s.endpoints = {"127.0.0.1:" + std::to_string((*server)->port())};
  s.pool_min = 1;
  s.pool_max = 2;
  c.backends = {s};
  Start(c);
  const int workers = GetParam().workers;
  const base::CounterRegistry& registry = gateway_->counters();
  ASSERT_TRUE(WaitUntil([&] {
    return registry.Sum(backend::kReadyGauge) >=
           static_cast<std::uint64_t>(workers);
  }));
  const Totals empty = Histograms(registry, backend::kRequestRttNs);
  EXPECT_EQ(empty.registrations, workers);  // "echo" only, per worker
  EXPECT_EQ(
      Histograms(registry, backend::kRequestRttNs, "echo").with_worker_label,
      workers);
  EXPECT_EQ(empty.count, 0u);

  auto client = Connect();
  ASSERT_NE(client, nullptr);
  // A request for no configured service never reaches a backend.
  EXPECT_FALSE(client->Request(7, "nobody", std::chrono::seconds(5)).ok());
  constexpr int kRequests = 40;
  std::uint64_t client_ns = 0;  // the client's own round trips, summed
  for (int i = 0; i < kRequests; ++i) {
    const std::int64_t t0 = base::MonotonicNs();
    auto answer = client->Request(42, "ping", std::chrono::seconds(5));
    client_ns += static_cast<std::uint64_t>(base::MonotonicNs() - t0);
    ASSERT_TRUE(answer.ok()) << answer.status();
  }
  // Recorded before the RESPONSE went on to the client: complete already.
  const Totals rtt = Histograms(registry, backend::kRequestRttNs, "echo");
  EXPECT_EQ(rtt.count, static_cast<std::uint64_t>(kRequests));
  EXPECT_EQ(rtt.BucketTotal(), rtt.count);
  EXPECT_GT(rtt.sum, 0u);
  EXPECT_GT(rtt.HighestBucketFloor(), 0u);
  // Each gateway round trip lies inside the client's.
  EXPECT_LT(rtt.sum, client_ns);
}

// Regression: a worker's duty cycle may read CLOCK_REALTIME (a backend
// pool's sizing tick does, every 5 ms) and then block in its poll; the
// PUBLISH that wakes it was stamped with that earlier time, up to a block
// before it was even sent. Its DATA timestamp (and so both histograms
// above) must come from after the wait.
TEST_P(LatencyHistogramsTest, DataTimestampIsTakenAfterTheWaitForThePublish) {
  TestBackend backend;  // its router reads the realtime clock every tick
  config::GatewayConfig c = TestConfig(GetParam());
  c.idle = config::IdleStrategy::kBlock;
  config::BackendService s;
  s.name = "echo";
  s.id = 42;
  s.endpoints = {"127.0.0.1:" + std::to_string(backend.port())};
  s.pool_min = 1;
  c.backends = {s};
  Start(c);
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  std::vector<std::int64_t> stamps;
  ASSERT_TRUE(client
                  ->Subscribe("stamped", StartPosition::Latest(),
                              [&](const Message& m) {
                                stamps.push_back(m.timestamp_ns);
                              })
                  .ok());
  auto stream = client->OpenStream("stamped");
  ASSERT_TRUE(stream.ok()) << stream.status();
  constexpr int kRounds = 600;
  for (int i = 0; i < kRounds; ++i) {
    const std::int64_t sent_after_ns = base::RealtimeNs();
    ASSERT_TRUE(client->Publish(*stream, "t").ok());
    ASSERT_TRUE(PollUntil(*client, [&] {
      return stamps.size() == static_cast<std::size_t>(i) + 1;
    }));
    EXPECT_GE(stamps.back(), sent_after_ns)
        << "round " << i << ": stamped "
        << (sent_after_ns - stamps.back()) / 1000 << " us before it was sent";
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, LatencyHistogramsTest,
                         ::testing::ValuesIn(EachBackend(2)), ParamName);

}  // namespace
}  // namespace tachyon::testing
