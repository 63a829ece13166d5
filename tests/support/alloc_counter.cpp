#include "support/alloc_counter.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {

std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
std::atomic<tachyon::testing::AllocationScope> scope{
    tachyon::testing::AllocationScope::kMarkedThreads};
thread_local bool marked = false;
thread_local bool exempt = false;

void Count() {
  if (!counting.load(std::memory_order_relaxed)) return;
  const bool counts = scope.load(std::memory_order_relaxed) ==
                              tachyon::testing::AllocationScope::kMarkedThreads
                          ? marked
                          : !exempt;
  if (counts) allocations.fetch_add(1, std::memory_order_relaxed);
}

void* CountedAlloc(std::size_t size) {
  Count();
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

void* CountedAlignedAlloc(std::size_t size, std::align_val_t align) {
  Count();
  void* p = nullptr;
  if (posix_memalign(&p, static_cast<std::size_t>(align),
                     size == 0 ? 1 : size) != 0) {
    throw std::bad_alloc();
  }
  return p;
}

}  // namespace

namespace tachyon::testing {

void SetAllocationScope(AllocationScope s) {
  scope.store(s, std::memory_order_relaxed);
}
void CountThisThread() { marked = true; }
void ExemptThisThread() { exempt = true; }
void StartCountingAllocations() {
  allocations.store(0, std::memory_order_relaxed);
  counting.store(true, std::memory_order_relaxed);
}
void StopCountingAllocations() {
  counting.store(false, std::memory_order_relaxed);
}
long CountedAllocations() {
  return allocations.load(std::memory_order_relaxed);
}

}  // namespace tachyon::testing

void* operator new(std::size_t size) { return CountedAlloc(size); }
void* operator new[](std::size_t size) { return CountedAlloc(size); }
void* operator new(std::size_t size, std::align_val_t a) {
  return CountedAlignedAlloc(size, a);
}
void* operator new[](std::size_t size, std::align_val_t a) {
  return CountedAlignedAlloc(size, a);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
