// Counting allocations in a test binary: linking this file replaces the
// global operator new and delete with ones that count, while counting is
// on, the allocations made on the threads the test chose.
//
// Two scopes:
//   kMarkedThreads  only threads that called CountThisThread() count (the
//                   client's test thread; a service's worker thread)
//   kAllThreads     every thread counts except those that called
//                   ExemptThisThread() (the gateway's workers, whose
//                   threads the test does not own)
//
// Example
//   SetAllocationScope(AllocationScope::kAllThreads);
//   ExemptThisThread();
//   StartCountingAllocations();
//   ... steady-state work ...
//   StopCountingAllocations();
//   EXPECT_EQ(CountedAllocations(), 0);
//
// Threading: the scope is set before counting starts; Start, Stop and
// CountedAllocations may be called from any thread.
#ifndef TACHYON_TESTS_SUPPORT_ALLOC_COUNTER_H_
#define TACHYON_TESTS_SUPPORT_ALLOC_COUNTER_H_

namespace tachyon::testing {

enum class AllocationScope { kMarkedThreads, kAllThreads };

/// Which threads count (default kMarkedThreads).
void SetAllocationScope(AllocationScope scope);
/// kMarkedThreads: the calling thread's allocations count from now on.
void CountThisThread();
/// kAllThreads: the calling thread's allocations never count.
void ExemptThisThread();
/// Resets the count to 0 and starts counting.
void StartCountingAllocations();
void StopCountingAllocations();
/// Allocations counted since the last StartCountingAllocations.
long CountedAllocations();

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_SUPPORT_ALLOC_COUNTER_H_
