#include "backend/request_table.h"

#include <utility>

#include "io/agent.h"

namespace tachyon::backend {

RequestTable::RequestTable(std::size_t expected) {
  free_.reserve(expected);
  heap_.reserve(expected);
}

std::uint32_t RequestTable::Allocate() {
  ++live_;
  if (!free_.empty()) {
    const std::uint32_t i = free_.back();
    free_.pop_back();
    return i;
  }
  records_.emplace_back();
  // Keep the heap and the free list able to hold every record, so that
  // neither grows on a later request.
  if (heap_.capacity() < records_.size()) heap_.reserve(records_.size() * 2);
  if (free_.capacity() < records_.size()) free_.reserve(records_.size() * 2);
  return static_cast<std::uint32_t>(records_.size() - 1);
}

void RequestTable::Free(std::uint32_t index) {
  PendingRequest& r = records_[index];
  r.state = PendingRequest::State::kFree;
  r.target = nullptr;
  r.conn = nullptr;
  r.prev = r.next = kNoIndex;
  --live_;
  free_.push_back(index);
}

void RequestTable::Schedule(std::uint32_t index, std::int64_t deadline_ns) {
  records_[index].deadline_ns = deadline_ns;
  heap_.push_back(index);
  records_[index].heap_index = static_cast<std::uint32_t>(heap_.size() - 1);
  SiftUp(records_[index].heap_index);
}

void RequestTable::Unschedule(std::uint32_t index) {
  const std::uint32_t pos = records_[index].heap_index;
  if (pos == kNoIndex) return;
  records_[index].heap_index = kNoIndex;
  const std::uint32_t last = heap_.back();
  heap_.pop_back();
  if (pos == heap_.size()) return;
  Place(pos, last);
  SiftUp(pos);
  SiftDown(records_[last].heap_index);
}

std::int64_t RequestTable::EarliestDeadlineNs() const {
  return heap_.empty() ? io::Agent::kNoDeadline
                       : records_[heap_.front()].deadline_ns;
}

void RequestTable::Place(std::uint32_t pos, std::uint32_t index) {
  heap_[pos] = index;
  records_[index].heap_index = pos;
}

void RequestTable::SiftUp(std::uint32_t pos) {
  const std::uint32_t moving = heap_[pos];
  while (pos > 0) {
    const std::uint32_t parent = (pos - 1) / 2;
    if (!Less(moving, heap_[parent])) break;
    Place(pos, heap_[parent]);
    pos = parent;
  }
  Place(pos, moving);
}

void RequestTable::SiftDown(std::uint32_t pos) {
  const std::uint32_t moving = heap_[pos];
  const std::uint32_t n = static_cast<std::uint32_t>(heap_.size());
  for (;;) {
    std::uint32_t child = 2 * pos + 1;
    if (child >= n) break;
    if (child + 1 < n && Less(heap_[child + 1], heap_[child])) ++child;
    if (!Less(heap_[child], moving)) break;
    Place(pos, heap_[child]);
    pos = child;
  }
  Place(pos, moving);
}

}  // namespace tachyon::backend
