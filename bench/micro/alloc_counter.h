// Heap allocations made by the calling thread so far, counted by global
// operator new replacements (alloc_counter.cpp). The microbenchmarks report
// the delta over their timed loop as allocs_per_op, which must read 0 on hot
// paths.
#ifndef TACHYON_BENCH_MICRO_ALLOC_COUNTER_H_
#define TACHYON_BENCH_MICRO_ALLOC_COUNTER_H_

#include <cstdint>

#include "benchmark/benchmark.h"

namespace tachyon::bench {

/// Allocations by the calling thread since it started.
std::uint64_t ThreadAllocations();

/// Snapshot of this thread's allocation count; Report() publishes the delta
/// since as "allocs_per_op" (summed over threads, divided by all threads'
/// iterations).
class AllocationCounter {
 public:
  AllocationCounter() : start_(ThreadAllocations()) {}
  void Report(benchmark::State& state) const {
    state.counters["allocs_per_op"] =
        benchmark::Counter(static_cast<double>(ThreadAllocations() - start_),
                           benchmark::Counter::kAvgIterations);
  }

 private:
  std::uint64_t start_;
};

}  // namespace tachyon::bench

#endif  // TACHYON_BENCH_MICRO_ALLOC_COUNTER_H_
