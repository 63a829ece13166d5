// Stream log microbenchmarks: append and fan-out, the gateway's data path
// between decoding a PUBLISH and handing bytes to the kernel.
//
//   BM_LogAppend/<payload>          one Append (sequence + timestamp stamped,
//                                   frame copied into the mirrored ring)
//   BM_FanOutRead/<subscribers>     per iteration an appender adds a batch of
//                                   kBatch messages, then every subscriber
//                                   "sends" its new range [cursor, tail) and
//                                   advances its cursor
//   BM_AppendContended/threads:2    two threads appending to one log
//
// Every benchmark reports time_per_msg / msgs_per_s (for fan-out: per message
// delivered to one subscriber) and allocs_per_op: heap allocations in the
// timed loop per iteration, counted by the replacement global operator new
// below. Appending and fanning out must not allocate, so it must read 0.
//
// Run: scripts/run-micro-bench.sh BUILD_DIR
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <vector>

#include "alloc_counter.h"
#include "benchmark/benchmark.h"
#include "config/model.h"
#include "stream/stream_log.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::stream {
namespace {

namespace tp = ::tachyon::protocol;

constexpr std::int64_t kTimestamp = 1'700'000'000'000'000'000;

using ::tachyon::bench::AllocationCounter;

// Publishes the per-message figures for `messages` messages in total.
void ReportMessages(benchmark::State& state, std::int64_t messages) {
  state.SetItemsProcessed(messages);
  const auto n = static_cast<double>(messages);
  state.counters["msgs_per_s"] =
      benchmark::Counter(n, benchmark::Counter::kIsRate);
  // An inverted rate: seconds per message, printed with its unit ("25ns").
  state.counters["time_per_msg"] = benchmark::Counter(
      n, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

std::vector<std::byte> Payload(std::size_t size) {
  std::vector<std::byte> p(size);
  for (std::size_t i = 0; i < size; ++i) p[i] = static_cast<std::byte>(i);
  return p;
}

// A 16 MiB ring (the default stream capacity) with the default 64 KiB
// frame limit; `policy` as given.
std::unique_ptr<StreamLog> MakeLog(config::SlowConsumerPolicy policy) {
  config::StreamPolicy p;
  p.capacity_bytes = 16u << 20;
  p.window_bytes = 8u << 20;
  p.policy = policy;
  absl::StatusOr<std::unique_ptr<StreamLog>> log =
      StreamLog::Create(StreamId{1}, "bench", p, tp::kDefaultMaxFrameLength);
  return log.ok() ? *std::move(log) : nullptr;
}

// Appends forever: the ring laps every 16 MiB, as a live stream's does.
void BM_LogAppend(benchmark::State& state) {
  const auto payload_size = static_cast<std::size_t>(state.range(0));
  const std::vector<std::byte> payload = Payload(payload_size);
  std::unique_ptr<StreamLog> log =
      MakeLog(config::SlowConsumerPolicy::kDisconnect);
  if (log == nullptr) {
    state.SkipWithError("StreamLog::Create failed");
    return;
  }
  // Touch every page once so the first lap does not time page faults.
  for (std::uint64_t i = 0; i < log->capacity() / 64; ++i) {
    (void)log->Append(std::span(payload).first(32), kTimestamp);
  }
  const AllocationCounter allocs;
  for (auto _ : state) {
    const AppendResult r = log->Append(payload, kTimestamp);
    benchmark::DoNotOptimize(r);
  }
  allocs.Report(state);
  ReportMessages(state, state.iterations());
  state.SetBytesProcessed(state.iterations() *
                          static_cast<std::int64_t>(payload_size));
}

// One subscriber's sender. The "send" is a memcpy of the new range into a
// 64 KiB scratch buffer standing in for the kernel copying into a socket
// send buffer (wrapping within it; 64 KiB is a typical loopback SO_SNDBUF
// chunk) — the same bytes the kernel would read, without a syscall. The range
// is checked for lapping before and after, as a real sender does.
class Subscriber {
 public:
  explicit Subscriber(StreamLog& log) : log_(log), scratch_(kScratch) {
    log_.Attach(&slot_, tp::StartMode::kLatest, Sequence{});
  }
  ~Subscriber() { log_.Detach(&slot_); }

  // Returns false if the subscriber was lapped (must not happen here).
  bool Deliver() {
    const std::uint64_t cursor = slot_.Get();
    const std::uint64_t tail = log_.tail();
    if (log_.Lapped(cursor, tail)) return false;
    std::span<const std::byte> bytes = log_.Readable(cursor, tail);
    while (!bytes.empty()) {
      const std::size_t n = std::min(bytes.size(), kScratch - fill_);
      std::memcpy(scratch_.data() + fill_, bytes.data(), n);
      fill_ = (fill_ + n) % kScratch;
      bytes = bytes.subspan(n);
    }
    if (log_.Overwritten(cursor)) return false;
    slot_.Set(tail);
    return true;
  }
  const std::byte* scratch() const { return scratch_.data(); }

 private:
  static constexpr std::size_t kScratch = 64 * 1024;
  StreamLog& log_;
  ReaderSlot slot_;
  std::vector<std::byte> scratch_;
  std::size_t fill_ = 0;
};

// Per iteration: kBatch appends of 32-byte payloads (64-byte frames, 16 KiB
// per batch), then each of `subscribers` sends its 16 KiB. time_per_msg is
// the iteration time divided by kBatch * subscribers, so it includes the
// appends' share (BM_LogAppend/32 alone measures those); deliver_ns_per_msg
// times the subscribers' phase alone (two clock reads per iteration, under
// 1% of it) per message delivered to one subscriber.
void BM_FanOutRead(benchmark::State& state) {
  constexpr int kBatch = 256;
  const auto subscribers = static_cast<int>(state.range(0));
  const std::vector<std::byte> payload = Payload(32);
  std::unique_ptr<StreamLog> log =
      MakeLog(config::SlowConsumerPolicy::kDisconnect);
  if (log == nullptr) {
    state.SkipWithError("StreamLog::Create failed");
    return;
  }
  for (std::uint64_t i = 0; i < log->capacity() / 64; ++i) {
    (void)log->Append(payload, kTimestamp);
  }
  std::vector<std::unique_ptr<Subscriber>> subs;
  for (int s = 0; s < subscribers; ++s) {
    subs.push_back(std::make_unique<Subscriber>(*log));
  }
  std::chrono::steady_clock::duration delivering{};
  const AllocationCounter allocs;
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) {
      (void)log->Append(payload, kTimestamp);
    }
    const auto start = std::chrono::steady_clock::now();
    for (const std::unique_ptr<Subscriber>& sub : subs) {
      if (!sub->Deliver()) {
        state.SkipWithError("subscriber lapped");
        break;
      }
      benchmark::DoNotOptimize(sub->scratch());
    }
    benchmark::ClobberMemory();
    delivering += std::chrono::steady_clock::now() - start;
  }
  allocs.Report(state);
  const std::int64_t deliveries = state.iterations() * kBatch * subscribers;
  ReportMessages(state, deliveries);
  if (deliveries > 0) {
    state.counters["deliver_ns_per_msg"] =
        std::chrono::duration<double, std::nano>(delivering).count() /
        static_cast<double>(deliveries);
  }
  state.SetBytesProcessed(deliveries * 64);
}

// Two threads append 32-byte payloads to one log: the spin lock and the
// tail's cache line bounce between cores. On a shared 2-core machine the
// threads may also be descheduled while holding the lock; read the figure
// as an upper bound.
std::unique_ptr<StreamLog> g_contended_log;

void BM_AppendContended(benchmark::State& state) {
  const std::vector<std::byte> payload = Payload(32);
  if (state.thread_index() == 0) {
    g_contended_log = MakeLog(config::SlowConsumerPolicy::kDisconnect);
    if (g_contended_log != nullptr) {
      for (std::uint64_t i = 0; i < g_contended_log->capacity() / 64; ++i) {
        (void)g_contended_log->Append(payload, kTimestamp);
      }
    }
  }
  // The loop's start is a barrier: thread 0's set-up is complete here.
  const AllocationCounter allocs;
  for (auto _ : state) {
    if (g_contended_log == nullptr) {
      state.SkipWithError("StreamLog::Create failed");
      break;
    }
    const AppendResult r = g_contended_log->Append(payload, kTimestamp);
    benchmark::DoNotOptimize(r);
  }
  allocs.Report(state);
  ReportMessages(state, state.iterations());
  if (state.thread_index() == 0) g_contended_log.reset();
}

BENCHMARK(BM_LogAppend)->Arg(32)->Arg(256)->Arg(1024);
BENCHMARK(BM_FanOutRead)->ArgName("subscribers")->Arg(1)->Arg(8);
BENCHMARK(BM_AppendContended)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace tachyon::stream

BENCHMARK_MAIN();
