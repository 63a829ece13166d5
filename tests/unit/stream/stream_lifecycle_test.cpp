// Stream lifecycle: memory committed as a ring fills (and charged against
// limits.max_log_memory_bytes by what is committed), limit errors that name
// their limit, idle retirement (with an injected clock), operator
// retirement and its refusals, sequences continuing after a re-creation,
// reclamation waiting for every reader's quiescent point, and a stress test
// of retirement racing Open/Find/Append/Attach on other threads (run under
// TSan in CI: label `concurrency`).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/log_limit.h"
#include "gtest/gtest.h"
#include "stream/stream_metric_names.h"
#include "stream/stream_registry.h"

namespace tachyon::stream {
namespace {

constexpr std::int64_t kMs = 1'000'000;

std::size_t PageSize() {
  return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

config::GatewayConfig SmallConfig() {
  config::GatewayConfig c;
  c.max_frame_length = 1024;
  c.default_stream.capacity_bytes = 1u << 20;
  c.default_stream.window_bytes = 512u << 10;
  c.default_stream.idle_retire_ms = 1000;
  c.max_streams = 64;
  c.max_log_memory_bytes = std::size_t{64} << 20;
  return c;
}

// Resident pages of this process (/proc/self/statm, second field), bytes.
std::size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0;
  std::size_t resident = 0;
  statm >> size >> resident;
  return resident * PageSize();
}

std::int64_t Gauge(const base::CounterRegistry& metrics, std::string_view name,
                   std::string_view stream) {
  return static_cast<std::int64_t>(metrics.Sum(name, "stream", stream));
}

void AppendBytes(StreamLog& log, std::size_t total, std::size_t payload) {
  const std::vector<std::byte> p(payload);
  for (std::size_t done = 0; done < total; done += payload + 32) {
    ASSERT_EQ(log.Append(p, 0).status, AppendStatus::kOk);
  }
}

TEST(StreamMemoryTest, EmptyStreamsCostAlmostNoResidentMemory) {
  // The shipped ring size: 16 MiB, whose zero-filled sequence index alone
  // used to make every empty stream ~4 MiB resident.
  config::GatewayConfig config;
  config.max_streams = 128;
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  constexpr int kStreams = 64;
  const std::size_t before = ResidentBytes();
  for (int i = 0; i < kStreams; ++i) {
    absl::StatusOr<StreamLog*> log =
        registry.Open("empty." + std::to_string(i));
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->committed_bytes(), 0u);
  }
  const std::size_t after = ResidentBytes();
  const std::size_t per_stream = (after - std::min(after, before)) / kStreams;
  std::printf(
      "resident memory per empty 16 MiB stream: %zu bytes (%d streams)\n",
      per_stream, kStreams);
  EXPECT_LT(per_stream, std::size_t{256} << 10);
  EXPECT_EQ(registry.memory_committed(), 0u);
}

TEST(StreamMemoryTest, CommitsRingMemoryInChunksAsTheTailAdvances) {
  const config::GatewayConfig config = SmallConfig();
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  StreamLog* log = *registry.Open("grow");
  const std::uint64_t chunk = StreamLog::kCommitChunk;
  EXPECT_EQ(Gauge(metrics, kCommittedBytes, "grow"), 0);
  EXPECT_EQ(Gauge(metrics, kCapacityBytes, "grow"), 1 << 20);
  ASSERT_EQ(log->Append({}, 0).status, AppendStatus::kOk);
  EXPECT_EQ(log->committed_bytes(), chunk);
  EXPECT_EQ(Gauge(metrics, kCommittedBytes, "grow"),
            static_cast<std::int64_t>(chunk));
  AppendBytes(*log, chunk, 224);  // past the first chunk
  EXPECT_EQ(log->committed_bytes(), 2 * chunk);
  EXPECT_EQ(registry.memory_committed(), 2 * chunk);
  AppendBytes(*log, 2 * log->capacity(), 224);  // wrapped: all committed
  EXPECT_EQ(log->committed_bytes(), log->capacity());
  EXPECT_EQ(registry.memory_committed(), log->capacity());
  EXPECT_EQ(Gauge(metrics, kNextSequence, "grow"),
            static_cast<std::int64_t>(log->next_sequence().value()));
  EXPECT_EQ(Gauge(metrics, kFirstSequence, "grow"),
            static_cast<std::int64_t>(log->oldest_sequence().value()));
  EXPECT_GT(log->oldest_sequence().value(), 1u);
}

TEST(StreamMemoryTest, AppendPastTheMemoryLimitIsRefusedNamingTheLimit) {
  config::GatewayConfig config = SmallConfig();
  config.max_log_memory_bytes = 2 * StreamLog::kCommitChunk;
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  // Creating streams costs nothing, so the limit does not refuse them.
  StreamLog* a = *registry.Open("a");
  StreamLog* b = *registry.Open("b");
  ASSERT_TRUE(registry.Open("c").ok());
  AppendBytes(*a, StreamLog::kCommitChunk + 256, 224);  // a: 2 chunks, all
  EXPECT_EQ(registry.memory_committed(), 2 * StreamLog::kCommitChunk);
  const AppendResult refused = b->Append({}, 0);
  EXPECT_EQ(refused.status, AppendStatus::kMemoryLimit);
  EXPECT_EQ(b->memory_limit_text(),
            "stream log memory limit reached: 131072 bytes "
            "(limits.max_log_memory_bytes)");
  EXPECT_EQ(metrics.Sum(kMemoryRefusalsTotal, "stream", "b"), 1u);
  EXPECT_EQ(b->next_sequence(), Sequence{1});  // no sequence consumed
  // Retiring `a` gives its memory back (no reader registered: at once).
  ASSERT_TRUE(registry.Retire("a").ok());
  EXPECT_EQ(registry.memory_committed(), 0u);
  EXPECT_EQ(b->Append({}, 0).status, AppendStatus::kOk);
}

TEST(StreamMemoryTest, MaxStreamsErrorNamesTheLimitAndRetiringMakesRoom) {
  config::GatewayConfig config = SmallConfig();
  config.max_streams = 2;
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  ASSERT_TRUE(registry.Open("s0").ok());
  ASSERT_TRUE(registry.Open("s1").ok());
  absl::StatusOr<StreamLog*> third = registry.Open("s2");
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(third.status().message(),
            "stream limit reached: 2 streams (limits.max_streams)");
  ASSERT_TRUE(registry.Retire("s0").ok());
  EXPECT_TRUE(registry.Open("s2").ok());
  EXPECT_EQ(metrics.Sum(kStreamsOpen), 2u);
}

TEST(StreamRetireTest, IdleStreamIsRetiredAfterIdleRetireMs) {
  const config::GatewayConfig config = SmallConfig();  // 1000 ms
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  StreamLog* log = *registry.Open("idle");
  const StreamId id = log->id();
  AppendBytes(*log, 100, 16);
  EXPECT_EQ(registry.Sweep(0), 0);  // first look: idle from now
  EXPECT_EQ(registry.Sweep(999 * kMs), 0);
  EXPECT_EQ(registry.FindByName("idle"), log);
  EXPECT_EQ(registry.Sweep(1000 * kMs), 1);
  EXPECT_EQ(registry.FindByName("idle"), nullptr);
  EXPECT_EQ(registry.Find(id), nullptr);
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_EQ(registry.retired_total(), 1u);
  EXPECT_EQ(metrics.Sum(kStreamsRetiredTotal), 1u);
  EXPECT_EQ(registry.limbo_size(), 0u);  // no reader registered
  EXPECT_EQ(registry.memory_committed(), 0u);
  // Its per-stream metrics are gone with it.
  EXPECT_EQ(metrics.Sum(kCapacityBytes, "stream", "idle"), 0u);
}

TEST(StreamRetireTest, AppendsAndOpensRestartTheIdleClock) {
  const config::GatewayConfig config = SmallConfig();
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  StreamLog* log = *registry.Open("busy");
  registry.Sweep(0);
  ASSERT_EQ(log->Append({}, 0).status, AppendStatus::kOk);
  EXPECT_EQ(registry.Sweep(900 * kMs), 0);  // sees the append: idle from 900
  EXPECT_EQ(registry.Sweep(1800 * kMs), 0);
  ASSERT_TRUE(registry.Open("busy").ok());  // an open counts as activity
  EXPECT_EQ(registry.Sweep(1900 * kMs), 0);
  EXPECT_EQ(registry.Sweep(2899 * kMs), 0);
  EXPECT_EQ(registry.Sweep(2900 * kMs), 1);
}

TEST(StreamRetireTest, NotRetiredWhilePublishersSubscribersOrReadersRemain) {
  const config::GatewayConfig config = SmallConfig();
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  StreamLog* log = *registry.Open("used", StreamUse::kPublisher);
  EXPECT_EQ(log->publishers(), 1);
  EXPECT_EQ(Gauge(metrics, kPublishers, "used"), 1);
  ASSERT_TRUE(log->TryAcquire(StreamUse::kSubscriber));
  EXPECT_EQ(Gauge(metrics, kSubscribers, "used"), 1);
  for (std::int64_t t = 0; t <= 10'000; t += 1000) {
    EXPECT_EQ(registry.Sweep(t * kMs), 0);
  }
  log->Release(StreamUse::kPublisher);
  EXPECT_EQ(registry.Sweep(20'000 * kMs), 0);
  EXPECT_EQ(registry.Sweep(30'000 * kMs), 0);  // the subscriber is still there
  log->Release(StreamUse::kSubscriber);
  EXPECT_EQ(Gauge(metrics, kSubscribers, "used"), 0);
  // A reader still attached (a subscriber closing) holds it too.
  ReaderSlot slot;
  log->Attach(&slot, protocol::StartMode::kLatest, Sequence{});
  EXPECT_EQ(registry.Sweep(40'000 * kMs), 0);  // idle from here
  EXPECT_EQ(registry.Sweep(41'000 * kMs), 0);  // TryRetire refused
  log->Detach(&slot);
  EXPECT_EQ(registry.Sweep(41'500 * kMs), 0);
  EXPECT_EQ(registry.Sweep(42'000 * kMs), 1);
}

TEST(StreamRetireTest, IdleRetireZeroAndConfiguredStreamsAreNeverSwept) {
  config::GatewayConfig config = SmallConfig();
  config::StreamPolicy keep = config.default_stream;
  keep.match = "keep.*";
  keep.idle_retire_ms = 0;
  config.stream_policies.push_back(keep);
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  ASSERT_TRUE(registry.Open("keep.me").ok());
  ASSERT_TRUE(registry.OpenConfigured("udp.group").ok());
  for (std::int64_t t = 0; t <= 100'000; t += 10'000) {
    EXPECT_EQ(registry.Sweep(t * kMs), 0);
  }
  EXPECT_EQ(registry.size(), 2u);
  // The operator may still retire the first, never the configured one.
  EXPECT_TRUE(registry.Retire("keep.me").ok());
  absl::Status s = registry.Retire("udp.group");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "stream 'udp.group' is configured (udp.groups) and is never "
            "retired");
}

TEST(StreamRetireTest, OperatorRetireRefusesAbsentAndUsedStreams) {
  const config::GatewayConfig config = SmallConfig();
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  absl::Status absent = registry.Retire("nope");
  EXPECT_EQ(absent.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(absent.message(), "no stream named 'nope'");
  StreamLog* log = *registry.Open("busy", StreamUse::kPublisher);
  ASSERT_TRUE(log->TryAcquire(StreamUse::kSubscriber));
  ASSERT_TRUE(log->TryAcquire(StreamUse::kSubscriber));
  absl::Status used = registry.Retire("busy");
  EXPECT_EQ(used.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(used.message(),
            "stream 'busy' is in use: 1 publishers, 2 subscribers, 0 readers "
            "attached");
  log->Release(StreamUse::kPublisher);
  log->Release(StreamUse::kSubscriber);
  log->Release(StreamUse::kSubscriber);
  // Recently written or not, an unused stream goes at once.
  ASSERT_EQ(log->Append({}, 0).status, AppendStatus::kOk);
  EXPECT_TRUE(registry.Retire("busy").ok());
  EXPECT_EQ(registry.Retire("busy").code(), absl::StatusCode::kNotFound);
}

TEST(StreamRetireTest, RecreatedStreamGetsANewIdAndContinuesItsSequences) {
  const config::GatewayConfig config = SmallConfig();
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  StreamLog* old = *registry.Open("again");
  const StreamId old_id = old->id();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(old->Append({}, 0).status, AppendStatus::kOk);
  }
  ASSERT_TRUE(registry.Retire("again").ok());
  StreamLog* log = *registry.Open("again");
  EXPECT_NE(log->id(), old_id);
  EXPECT_GT(log->id().value(), old_id.value());
  EXPECT_EQ(registry.Find(old_id), nullptr);
  EXPECT_EQ(log->next_sequence(), Sequence{4});
  EXPECT_EQ(log->oldest_sequence(), Sequence{4});
  EXPECT_EQ(Gauge(metrics, kNextSequence, "again"), 4);
  const AppendResult r = log->Append({}, 0);
  ASSERT_EQ(r.status, AppendStatus::kOk);
  EXPECT_EQ(r.sequence, Sequence{4});
  // Asking for the retired messages: a gap up to where the new log starts.
  ReaderSlot slot;
  const StartPoint sp =
      log->Attach(&slot, protocol::StartMode::kSequence, Sequence{2});
  EXPECT_EQ(sp.gap_from, Sequence{2});
  EXPECT_EQ(sp.gap_to, Sequence{3});
  EXPECT_EQ(sp.next_sequence, Sequence{4});
  log->Detach(&slot);
  // A name never retired starts at 1.
  EXPECT_EQ((*registry.Open("fresh"))->next_sequence(), Sequence{1});
}

// The retired names remembered stay at the cap, oldest evicted first; an
// evicted name's next sequence becomes the floor every name not remembered
// starts from, so no name's sequences repeat within the run.
TEST(StreamRetireTest, RetiredNamesStayAtTheCapAndEvictedNamesNeverRepeat) {
  config::GatewayConfig config = SmallConfig();
  config.max_streams = 4;
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  const std::size_t cap = registry.retired_names_cap();
  ASSERT_EQ(cap, StreamRegistry::kMinRetiredNames);  // max(4, the minimum)
  StreamLog* first = *registry.Open("n.0");
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(first->Append({}, 0).status, AppendStatus::kOk);
  }
  ASSERT_TRUE(registry.Retire("n.0").ok());  // remembered: next 11
  for (std::size_t i = 1; i < cap + 100; ++i) {
    const std::string name = "n." + std::to_string(i);
    ASSERT_TRUE(registry.Open(name).ok()) << name;
    ASSERT_TRUE(registry.Retire(name).ok()) << name;
    ASSERT_EQ(registry.retired_names(), std::min(i + 1, cap)) << name;
    if (i < cap) {
      ASSERT_EQ(registry.sequence_floor(), 1u) << name;
    }
  }
  EXPECT_EQ(registry.retired_names(), cap);
  // "n.0" went first: its next sequence is now the floor.
  EXPECT_EQ(registry.sequence_floor(), 11u);
  EXPECT_EQ((*registry.Open("n.0"))->next_sequence(), Sequence{11});
  EXPECT_EQ((*registry.Open("never.seen"))->next_sequence(), Sequence{11});
  // The latest retired name is still remembered (and forgotten when created
  // again, so the map shrinks).
  StreamLog* tail = *registry.Open("tail.name");
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(tail->Append({}, 0).status, AppendStatus::kOk);
  }
  ASSERT_TRUE(registry.Retire("tail.name").ok());
  EXPECT_EQ(registry.retired_names(), cap);
  EXPECT_EQ((*registry.Open("tail.name"))->next_sequence(), Sequence{16});
  EXPECT_EQ(registry.retired_names(), cap - 1);
}

// Create/retire lines share the gateway's stream log limiter: past its
// burst they are counted, and FlushSuppressed (the periodic summary) says
// how many were left out.
TEST(StreamRetireTest, StreamLinesPastTheLimitAreReportedByTheFlush) {
  config::GatewayConfig config = SmallConfig();
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  base::SetLogLevel(base::LogLevel::kInfo);
  base::FlushSuppressed();  // nothing left over from earlier tests
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 2 * base::kLogLinesBurst; ++i) {
    const std::string name = "flood." + std::to_string(i);
    ASSERT_TRUE(registry.Open(name).ok());
    ASSERT_TRUE(registry.Retire(name).ok());
  }
  base::FlushSuppressed();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find(" similar messages (stream)"), std::string::npos) << err;
}

TEST(StreamRetireTest, RetiredLogIsFreedOnlyAfterEveryReaderIsQuiescent) {
  const config::GatewayConfig config = SmallConfig();
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  absl::StatusOr<int> r1 = registry.RegisterReader();
  absl::StatusOr<int> r2 = registry.RegisterReader();
  ASSERT_TRUE(r1.ok() && r2.ok());
  StreamLog* log = *registry.Open("held");
  StreamLog* found = registry.Find(log->id());  // r1 holds it this cycle
  ASSERT_EQ(found, log);
  ASSERT_TRUE(registry.Retire("held").ok());
  EXPECT_EQ(registry.limbo_size(), 1u);
  EXPECT_EQ(found->name(), "held");  // still valid
  registry.Quiescent(*r1);
  registry.Sweep(0);
  EXPECT_EQ(registry.limbo_size(), 1u);  // r2 has not passed one yet
  registry.Quiescent(*r2);
  registry.Sweep(0);
  EXPECT_EQ(registry.limbo_size(), 0u);
  // An unregistered reader holds nothing back.
  StreamLog* second = *registry.Open("held2");
  static_cast<void>(second);
  ASSERT_TRUE(registry.Retire("held2").ok());
  registry.UnregisterReader(*r1);
  registry.Quiescent(*r2);
  registry.Sweep(0);
  EXPECT_EQ(registry.limbo_size(), 0u);
  registry.UnregisterReader(*r2);
}

// Workers open, find, append to, subscribe to (pattern-style, by slot scan)
// and release a handful of names while another thread retires them as fast
// as it can. Every pointer a worker uses is either held by a use or found
// this cycle; a use always succeeds on a stream found before it retired
// and appends under a use never see kRetired. TSan checks the rest.
TEST(StreamRetireConcurrencyTest, RetireRacesOpenFindAppendAndAttach) {
  config::GatewayConfig config = SmallConfig();
  config.default_stream.capacity_bytes = 64u << 10;
  config.default_stream.window_bytes = 32u << 10;
  config.default_stream.idle_retire_ms = 1;
  base::CounterRegistry metrics;
  StreamRegistry registry(config, metrics);
  constexpr int kWorkers = 3;
  constexpr int kNames = 6;
  constexpr int kRounds = 1500;
  std::atomic<int> failures{0};
  std::atomic<int> workers_left{kWorkers};
  std::latch start(kWorkers + 1);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      absl::StatusOr<int> reader = registry.RegisterReader();
      if (!reader.ok()) {
        failures.fetch_add(1);
        return;
      }
      start.arrive_and_wait();
      const std::byte payload[24]{};
      for (int i = 0; i < kRounds; ++i) {
        const std::string name = "race." + std::to_string((i + w) % kNames);
        absl::StatusOr<StreamLog*> log =
            registry.Open(name, StreamUse::kPublisher);
        if (!log.ok()) {
          failures.fetch_add(1);
          continue;
        }
        const AppendStatus a = (*log)->Append(payload, i).status;
        if (a == AppendStatus::kRetired || a == AppendStatus::kTooLarge) {
          failures.fetch_add(1);
        }
        // By id, lock-free, like a PUBLISH; then a reader like a session's.
        if (StreamLog* found = registry.Find((*log)->id()); found != *log) {
          failures.fetch_add(1);
        }
        ReaderSlot slot;
        (*log)->Attach(&slot, protocol::StartMode::kEarliest, Sequence{});
        (*log)->Detach(&slot);
        const StreamId id = (*log)->id();
        (*log)->Release(StreamUse::kPublisher);
        // A pattern subscription's scan: whatever it finds this cycle it may
        // touch; a use succeeds only while not retired.
        for (std::size_t s = 0; s < registry.slot_count(); ++s) {
          StreamLog* other = registry.AtSlot(s);
          if (other == nullptr || other->name().empty()) continue;
          if (other->TryAcquire(StreamUse::kSubscriber)) {
            if (other->Append(payload, i).status == AppendStatus::kRetired) {
              failures.fetch_add(1);
            }
            other->Release(StreamUse::kSubscriber);
          }
        }
        // Possibly retired by now: Find returns it or nothing, never junk.
        if (StreamLog* again = registry.Find(id);
            again != nullptr && again->id() != id) {
          failures.fetch_add(1);
        }
        registry.Quiescent(*reader);
      }
      registry.UnregisterReader(*reader);
      workers_left.fetch_sub(1);
    });
  }
  std::uint64_t retired_by_operator = 0;
  std::thread retirer([&] {
    start.arrive_and_wait();
    std::int64_t now = 0;
    while (workers_left.load() > 0) {
      for (int n = 0; n < kNames; ++n) {
        if (registry.Retire("race." + std::to_string(n)).ok()) {
          ++retired_by_operator;
        }
      }
      registry.Sweep(now += 2 * kMs);
    }
  });
  for (std::thread& t : threads) t.join();
  retirer.join();
  EXPECT_EQ(failures.load(), 0);
  // Everyone has left: every stream goes, and every log is freed.
  for (int n = 0; n < kNames; ++n) {
    static_cast<void>(registry.Retire("race." + std::to_string(n)));
  }
  registry.Sweep(0);
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_EQ(registry.limbo_size(), 0u);
  EXPECT_EQ(registry.memory_committed(), 0u);
  EXPECT_GT(registry.retired_total(), 0u);
  std::printf("retired %llu streams (%llu by Retire) during the race\n",
              static_cast<unsigned long long>(registry.retired_total()),
              static_cast<unsigned long long>(retired_by_operator));
}

}  // namespace
}  // namespace tachyon::stream
