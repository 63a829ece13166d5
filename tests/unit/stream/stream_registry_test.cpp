// The stream registry: create-once by name, ids from 1, lock-free lookup by
// id, name validation, the stream-count and log-memory limits, per-stream
// policies from the config, subscription pattern matching, and concurrent
// Open of the same names (run under TSan in CI: label `concurrency`).
#include "stream/stream_registry.h"

#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <latch>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace tachyon::stream {
namespace {

using config::SlowConsumerPolicy;

std::size_t PageSize() {
  return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// Small rings so that tests can create many streams cheaply.
config::GatewayConfig SmallConfig() {
  config::GatewayConfig c;
  c.max_frame_length = 1024;
  c.default_stream.capacity_bytes = 4 * PageSize();
  c.default_stream.window_bytes = 2 * PageSize();
  c.max_streams = 64;
  c.max_log_memory_bytes = 64 * c.default_stream.capacity_bytes;
  return c;
}

TEST(StreamRegistryTest, OpenCreatesOnceAndReturnsTheSameStream) {
  const config::GatewayConfig config = SmallConfig();
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  EXPECT_EQ(registry.size(), 0u);
  absl::StatusOr<StreamLog*> a = registry.Open("md.eq.AAPL");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_NE(*a, nullptr);
  EXPECT_EQ((*a)->name(), "md.eq.AAPL");
  absl::StatusOr<StreamLog*> again = registry.Open("md.eq.AAPL");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *a);
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_EQ(registry.FindByName("md.eq.AAPL"), *a);
  EXPECT_EQ(registry.FindByName("md.eq.MSFT"), nullptr);
}

TEST(StreamRegistryTest, IdsAreDenseFromOneAndFindIsByIndex) {
  const config::GatewayConfig config = SmallConfig();
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  std::vector<StreamLog*> logs;
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<StreamLog*> log = registry.Open("s" + std::to_string(i));
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->id(), StreamId{static_cast<std::uint32_t>(i + 1)});
    logs.push_back(*log);
  }
  EXPECT_EQ(registry.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(registry.Find(StreamId{static_cast<std::uint32_t>(i + 1)}),
              logs[i]);
  }
  EXPECT_EQ(registry.Find(StreamId{0}), nullptr);
  EXPECT_EQ(registry.Find(StreamId{11}), nullptr);
  EXPECT_EQ(registry.Find(StreamId{64}), nullptr);
  EXPECT_EQ(registry.Find(StreamId{65}), nullptr);  // beyond max_streams
  EXPECT_EQ(registry.Find(StreamId{0xffffffff}), nullptr);
}

TEST(StreamRegistryTest, RejectsInvalidNames) {
  const config::GatewayConfig config = SmallConfig();
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  for (const std::string& bad :
       {std::string(), std::string("md eq"), std::string("md.*"),
        std::string("a/b"), std::string("caf\xc3\xa9"), std::string(256, 'x'),
        std::string("nul\0byte", 8)}) {
    absl::StatusOr<StreamLog*> log = registry.Open(bad);
    ASSERT_FALSE(log.ok()) << bad;
    EXPECT_EQ(log.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_TRUE(registry.Open(std::string(255, 'x')).ok());
  EXPECT_TRUE(registry.Open("A-z_0.9").ok());
}

TEST(StreamRegistryTest, MaxStreamsIsResourceExhausted) {
  config::GatewayConfig config = SmallConfig();
  config.max_streams = 3;
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(registry.Open("s" + std::to_string(i)).ok());
  }
  absl::StatusOr<StreamLog*> fourth = registry.Open("s3");
  ASSERT_FALSE(fourth.ok());
  EXPECT_EQ(fourth.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(registry.size(), 3u);
  // Existing streams still open fine at the limit.
  EXPECT_TRUE(registry.Open("s1").ok());
  EXPECT_EQ(registry.Find(StreamId{4}), nullptr);
}

TEST(StreamRegistryTest, LogMemoryLimitDoesNotRefuseEmptyStreams) {
  // Memory is charged as rings fill (stream_lifecycle_test.cpp), so a
  // limit smaller than the rings' total capacity still admits the streams.
  config::GatewayConfig config = SmallConfig();
  config.max_log_memory_bytes = 2 * config.default_stream.capacity_bytes;
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(registry.Open("s" + std::to_string(i)).ok());
  }
  EXPECT_EQ(registry.size(), 5u);
  EXPECT_EQ(registry.memory_committed(), 0u);
}

TEST(StreamRegistryTest, EachStreamGetsItsConfiguredPolicy) {
  config::GatewayConfig config = SmallConfig();
  const std::size_t page = PageSize();
  config::StreamPolicy md;
  md.match = "md.*";
  md.capacity_bytes = 8 * page;
  md.window_bytes = 2 * page;
  md.policy = SlowConsumerPolicy::kBackpressure;
  config::StreamPolicy exact;
  exact.match = "md.special";  // after md.*: never reached (first match wins)
  exact.capacity_bytes = 16 * page;
  exact.window_bytes = 8 * page;
  config::StreamPolicy telemetry;
  telemetry.match = "tm.cpu";
  telemetry.capacity_bytes = 2 * page;
  telemetry.window_bytes = page;
  telemetry.policy = SlowConsumerPolicy::kDisconnect;
  config.default_stream.policy = SlowConsumerPolicy::kDisconnect;
  config.stream_policies = {md, exact, telemetry};
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);

  struct Expect {
    const char* name;
    std::size_t capacity;
    std::size_t window;
    SlowConsumerPolicy policy;
  };
  const Expect expects[] = {
      {"md.eq.AAPL", 8 * page, 2 * page, SlowConsumerPolicy::kBackpressure},
      {"md.special", 8 * page, 2 * page, SlowConsumerPolicy::kBackpressure},
      {"tm.cpu", 2 * page, page, SlowConsumerPolicy::kDisconnect},
      {"tm.cpu2", 4 * page, 2 * page, SlowConsumerPolicy::kDisconnect},
      {"md", 4 * page, 2 * page, SlowConsumerPolicy::kDisconnect},
  };
  for (const Expect& e : expects) {
    absl::StatusOr<StreamLog*> log = registry.Open(e.name);
    ASSERT_TRUE(log.ok()) << e.name << ": " << log.status();
    EXPECT_EQ((*log)->capacity(), e.capacity) << e.name;
    EXPECT_EQ((*log)->window(), e.window) << e.name;
    EXPECT_EQ((*log)->policy(), e.policy) << e.name;
  }
}

TEST(StreamRegistryTest, PolicyThatCannotHoldAFrameFailsOpen) {
  config::GatewayConfig config = SmallConfig();
  config::StreamPolicy tiny;
  tiny.match = "tiny";
  tiny.capacity_bytes = PageSize();
  tiny.window_bytes = 512;  // below max_frame_length (1024)
  config.stream_policies.push_back(tiny);
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  absl::StatusOr<StreamLog*> log = registry.Open("tiny");
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.size(), 0u);
  // The failure consumed neither an id nor memory.
  EXPECT_EQ((*registry.Open("ok"))->id(), StreamId{1});
}

TEST(MatchesPatternTest, ExactPrefixAndWildcard) {
  EXPECT_TRUE(MatchesPattern("md.*", "md.x"));
  EXPECT_TRUE(MatchesPattern("md.*", "md.eq.AAPL"));
  EXPECT_TRUE(MatchesPattern("md.*", "md."));
  EXPECT_FALSE(MatchesPattern("md.*", "md"));
  EXPECT_FALSE(MatchesPattern("md.*", "mdx"));
  EXPECT_FALSE(MatchesPattern("md.*", "tm.md.x"));
  EXPECT_TRUE(MatchesPattern("*", "anything"));
  EXPECT_TRUE(MatchesPattern("*", "x"));
  EXPECT_TRUE(MatchesPattern("md.eq.AAPL", "md.eq.AAPL"));
  EXPECT_FALSE(MatchesPattern("md.eq.AAPL", "md.eq.AAPL2"));
  EXPECT_FALSE(MatchesPattern("md.eq.AAPL", "md.eq.AAP"));
  EXPECT_FALSE(MatchesPattern("md.eq", "md.eq.AAPL"));
  EXPECT_TRUE(MatchesPattern("md.eq*", "md.equity"));
}

// Four threads open the same 40 names in different orders while a fifth
// looks streams up by id lock-free as they appear.
TEST(StreamRegistryConcurrencyTest, ConcurrentOpenYieldsOneStreamPerName) {
  config::GatewayConfig config = SmallConfig();
  constexpr int kNames = 40;
  constexpr int kOpeners = 4;
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  std::vector<std::string> names;
  for (int i = 0; i < kNames; ++i) names.push_back("c." + std::to_string(i));

  std::vector<std::vector<StreamLog*>> seen(kOpeners,
                                            std::vector<StreamLog*>(kNames));
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::latch start(kOpeners + 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < kOpeners; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int k = 0; k < kNames; ++k) {
        // Thread t walks the names from a different offset and direction.
        const int i = t % 2 == 0 ? (k + t * 10) % kNames
                                 : (kNames - 1 - k + t * 10) % kNames;
        absl::StatusOr<StreamLog*> log = registry.Open(names[i]);
        if (!log.ok()) {
          failures.fetch_add(1);
          continue;
        }
        seen[t][i] = *log;
        // Appending right away must work from any thread.
        if ((*log)->Append({}, 0).status != AppendStatus::kOk) {
          failures.fetch_add(1);
        }
      }
    });
  }
  std::thread finder([&] {
    start.arrive_and_wait();
    while (!done.load(std::memory_order_acquire)) {
      const std::uint32_t n = registry.size();
      for (std::uint32_t id = 1; id <= n; ++id) {
        StreamLog* log = registry.Find(StreamId{id});
        if (log == nullptr || log->id() != StreamId{id} ||
            log->name().empty()) {
          failures.fetch_add(1);
        }
      }
      std::this_thread::yield();
    }
  });
  for (std::thread& th : threads) th.join();
  done.store(true, std::memory_order_release);
  finder.join();

  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(registry.size(), static_cast<std::uint32_t>(kNames));
  std::set<std::uint32_t> ids;
  for (int i = 0; i < kNames; ++i) {
    StreamLog* log = seen[0][i];
    ASSERT_NE(log, nullptr);
    for (int t = 1; t < kOpeners; ++t) EXPECT_EQ(seen[t][i], log) << names[i];
    EXPECT_EQ(log->name(), names[i]);
    EXPECT_EQ(registry.FindByName(names[i]), log);
    EXPECT_EQ(registry.Find(log->id()), log);
    EXPECT_EQ(log->appended(), static_cast<std::uint64_t>(kOpeners));
    ids.insert(log->id().value());
  }
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kNames));
  EXPECT_EQ(*ids.begin(), 1u);
  EXPECT_EQ(*ids.rbegin(), static_cast<std::uint32_t>(kNames));
}

}  // namespace
}  // namespace tachyon::stream
