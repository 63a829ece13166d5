// Worker hot paths outside the codec and the log:
//   BM_WakeNotifyWhileOwnerLoops  a publisher's WakeSignal::Notify (once per
//       append to a stream another worker reads) while that worker runs its
//       loop and calls Awake() every pass, as a busy worker does;
//   BM_FlushOneDirtyOf/N  a session receives N streams (a pattern
//       subscriber); one of them is hot: a message is appended to it, its
//       delivery marked, and the session's send built and handed to a
//       transport that takes everything. The cost must not grow with N (the
//       other N - 1 deliveries are not looked at).
//   BM_FlushScanningAll/N  the same, but every delivery is looked at per
//       message (all marked), which is what a session did before it tracked
//       dirty deliveries: the cost it no longer pays.
// Allocations per operation are reported (must be 0).
#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "alloc_counter.h"
#include "base/counters.h"
#include "benchmark/benchmark.h"
#include "io/wake_signal.h"
#include "session/send_engine.h"
#include "stream/mirrored_memory.h"
#include "stream/stream_log.h"

namespace tachyon::bench {
namespace {

namespace tp = ::tachyon::protocol;

void BM_WakeNotifyWhileOwnerLoops(benchmark::State& state) {
  // The owner never announces sleep, so Notify never reaches a reactor.
  io::WakeSignal wake(nullptr);
  std::atomic<bool> stop{false};
  // The owner's loop: one Awake per pass, as AgentRunner does after Poll.
  std::thread owner([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      for (int i = 0; i < 64; ++i) wake.Awake();
    }
  });
  const AllocationCounter allocs;
  for (auto _ : state) wake.Notify();
  allocs.Report(state);
  stop.store(true);
  owner.join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WakeNotifyWhileOwnerLoops)->UseRealTime();

class NullTransport final : public session::Transport {
 public:
  io::SendResult Send(std::span<const iovec> iov) override {
    std::size_t n = 0;
    for (const iovec& v : iov) n += v.iov_len;
    return {false, static_cast<ssize_t>(n)};
  }
};

class NullListener final : public session::SendListener {
 public:
  void OnBytesSent(std::size_t) override {}
  void OnDeliveryRemoved(session::Delivery*) override {}
  void OnReady() override {}
};

// One session over N streams, the middle one hot; `scan_all` looks at every
// delivery per message.
void FlushHotStream(benchmark::State& state, bool scan_all) {
  const auto streams = static_cast<std::uint32_t>(state.range(0));
  stream::MirroredMemoryFactory storage;
  base::CounterRegistry counters;
  config::StreamPolicy policy;
  policy.capacity_bytes = 64 << 10;
  policy.window_bytes = 32 << 10;
  std::vector<std::unique_ptr<stream::StreamLog>> logs;
  for (std::uint32_t id = 1; id <= streams; ++id) {
    std::string name = "s";
    name += std::to_string(id);
    auto log = stream::StreamLog::Create(StreamId{id}, std::move(name), policy,
                                         4096, storage, counters);
    if (!log.ok()) {
      state.SkipWithError("StreamLog::Create failed");
      return;
    }
    logs.push_back(*std::move(log));
  }
  session::ControlQueue control(4096);
  NullTransport transport;
  NullListener listener;
  session::SendEngine engine(control, transport, listener);
  std::vector<session::Delivery*> deliveries;
  for (auto& log : logs) {
    session::Delivery* d = engine.Add(nullptr, log.get());
    d->coverage = 1;
    d->Start(tp::StartMode::kLatest, Sequence{});
    deliveries.push_back(d);
  }
  const std::string payload(32, 'x');
  stream::StreamLog* hot = logs[streams / 2].get();
  session::Delivery* hot_delivery = deliveries[streams / 2];
  const AllocationCounter allocs;
  for (auto _ : state) {
    // What the worker does per message: the stream grew, mark its
    // delivery, send.
    (void)hot->Append(tp::AsBytes(payload), 1);
    if (scan_all) {
      for (session::Delivery* d : deliveries) engine.MarkDirty(d);
    } else {
      engine.MarkDirty(hot_delivery);
    }
    const session::SendEngine::Result r = engine.SendOnce(true, 0);
    benchmark::DoNotOptimize(r);
  }
  allocs.Report(state);
  state.SetItemsProcessed(state.iterations());
}
void BM_FlushOneDirtyOf(benchmark::State& state) {
  FlushHotStream(state, false);
}
BENCHMARK(BM_FlushOneDirtyOf)->Arg(1)->Arg(100)->Arg(1000);

void BM_FlushScanningAll(benchmark::State& state) {
  FlushHotStream(state, true);
}
BENCHMARK(BM_FlushScanningAll)->Arg(1)->Arg(100)->Arg(1000);

}  // namespace
}  // namespace tachyon::bench

BENCHMARK_MAIN();
