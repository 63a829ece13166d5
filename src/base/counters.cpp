#include "base/counters.h"

#include <algorithm>
#include <bit>
#include <utility>

namespace tachyon::base {
namespace counters_internal {

struct Entry {
  std::string name;
  std::string help;
  MetricType type = MetricType::kCounter;
  Labels labels;
  std::unique_ptr<HistogramCells> cells;  // histograms only
};

Slot& DetachedSlot() {
  static Slot slot;
  return slot;
}

HistogramCells& DetachedHistogram() {
  static HistogramCells cells;
  return cells;
}

}  // namespace counters_internal

using counters_internal::Entry;
using counters_internal::HistogramCells;
using counters_internal::Load;
using counters_internal::Slot;
using counters_internal::Store;

MetricHandle::MetricHandle(MetricHandle&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)),
      slot_(std::exchange(other.slot_, &counters_internal::DetachedSlot())) {}

MetricHandle& MetricHandle::operator=(MetricHandle&& other) noexcept {
  if (this != &other) {
    Release();
    registry_ = std::exchange(other.registry_, nullptr);
    slot_ = std::exchange(other.slot_, &counters_internal::DetachedSlot());
  }
  return *this;
}

MetricHandle::~MetricHandle() { Release(); }

void MetricHandle::Release() {
  if (registry_ != nullptr) registry_->Unregister(slot_);
  registry_ = nullptr;
  slot_ = &counters_internal::DetachedSlot();
}

Histogram::Histogram(Histogram&& other) noexcept
    : MetricHandle(std::move(other)),
      cells_(std::exchange(other.cells_,
                           &counters_internal::DetachedHistogram())) {}

Histogram& Histogram::operator=(Histogram&& other) noexcept {
  if (this != &other) {
    MetricHandle::operator=(std::move(other));
    cells_ =
        std::exchange(other.cells_, &counters_internal::DetachedHistogram());
  }
  return *this;
}

void Histogram::Record(std::uint64_t v) {
  const std::size_t i = std::min<std::size_t>(
      static_cast<std::size_t>(std::bit_width(v)), kHistogramBuckets - 1);
  Store(cells_->buckets[i], Load(cells_->buckets[i]) + 1);
  Store(cells_->count, Load(cells_->count) + 1);
  Store(cells_->sum, Load(cells_->sum) + v);
}

std::string_view MetricSample::label(std::string_view key) const {
  for (const Label& l : labels) {
    if (l.name == key) return l.value;
  }
  return {};
}

CounterRegistry::CounterRegistry() = default;

CounterRegistry::~CounterRegistry() {
  const std::size_t n = chunk_count_.load(std::memory_order_acquire);
  for (std::size_t c = 0; c < n; ++c) {
    Chunk* chunk = chunks_[c].load(std::memory_order_acquire);
    for (Slot& slot : chunk->slots) {
      delete slot.entry.load(std::memory_order_acquire);
    }
    delete chunk;
  }
}

Counter CounterRegistry::AddCounter(std::string_view name,
                                    std::string_view help, Labels labels) {
  Slot* slot =
      Register(name, help, MetricType::kCounter, std::move(labels), nullptr);
  return slot == nullptr ? Counter() : Counter(this, slot);
}

Gauge CounterRegistry::AddGauge(std::string_view name, std::string_view help,
                                Labels labels) {
  Slot* slot =
      Register(name, help, MetricType::kGauge, std::move(labels), nullptr);
  return slot == nullptr ? Gauge() : Gauge(this, slot);
}

Histogram CounterRegistry::AddHistogram(std::string_view name,
                                        std::string_view help, Labels labels) {
  HistogramCells* cells = nullptr;
  Slot* slot =
      Register(name, help, MetricType::kHistogram, std::move(labels), &cells);
  return slot == nullptr ? Histogram() : Histogram(this, slot, cells);
}

Slot* CounterRegistry::Register(std::string_view name, std::string_view help,
                                MetricType type, Labels labels,
                                HistogramCells** cells) {
  auto entry = std::make_unique<Entry>();
  entry->name = std::string(name);
  entry->help = std::string(help);
  entry->type = type;
  entry->labels = std::move(labels);
  if (type == MetricType::kHistogram) {
    entry->cells = std::make_unique<HistogramCells>();
    *cells = entry->cells.get();
  }
  std::lock_guard<std::mutex> lock(mu_);
  Slot* slot = nullptr;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    std::size_t n = chunk_count_.load(std::memory_order_relaxed);
    if (used_in_last_chunk_ == kChunkSlots) {
      // Four million values at once: past that, values go unregistered
      // (detached handles) rather than grow without bound.
      if (n == kMaxChunks) return nullptr;
      chunks_[n].store(new Chunk, std::memory_order_release);
      chunk_count_.store(++n, std::memory_order_release);
      used_in_last_chunk_ = 0;
    }
    slot = &chunks_[n - 1]
                .load(std::memory_order_relaxed)
                ->slots[used_in_last_chunk_++];
  }
  // A reused slot starts over; readers that still see the old entry read
  // its value and then notice the entry changed (Visit).
  // Release/acquire with the readers' value loads: a reader that sees the
  // new entry sees the reset, and a value it read before seeing the entry
  // change cannot be one written after.
  slot->value.store(0, std::memory_order_release);
  slot->entry.store(entry.release(), std::memory_order_seq_cst);
  ++registered_;
  return slot;
}

void CounterRegistry::Unregister(Slot* slot) {
  std::lock_guard<std::mutex> lock(mu_);
  const Entry* entry = slot->entry.exchange(nullptr, std::memory_order_seq_cst);
  retired_.emplace_back(const_cast<Entry*>(entry));
  free_slots_.push_back(slot);
  --registered_;
  ReclaimLocked();
}

void CounterRegistry::ReclaimLocked() {
  // Pairs with Visit: a reader that registers after this load saw every
  // retirement before it (all seq_cst), so it cannot hold these entries.
  if (readers_.load(std::memory_order_seq_cst) == 0) retired_.clear();
}

template <typename F>
void CounterRegistry::Visit(F&& visit) const {
  readers_.fetch_add(1, std::memory_order_seq_cst);
  const std::size_t n = chunk_count_.load(std::memory_order_acquire);
  for (std::size_t c = 0; c < n; ++c) {
    const Chunk* chunk = chunks_[c].load(std::memory_order_acquire);
    for (const Slot& slot : chunk->slots) {
      const Entry* entry = slot.entry.load(std::memory_order_seq_cst);
      if (entry != nullptr) visit(*entry, slot);
    }
  }
  readers_.fetch_sub(1, std::memory_order_seq_cst);
}

std::vector<MetricSample> CounterRegistry::Snapshot() const {
  std::vector<MetricSample> out;
  Visit([&out](const Entry& e, const Slot& slot) {
    MetricSample s;
    s.name = e.name;
    s.help = e.help;
    s.type = e.type;
    s.labels = e.labels;
    if (e.type == MetricType::kHistogram) {
      for (std::size_t i = 0; i < kHistogramBuckets; ++i) {
        s.buckets[i] = Load(e.cells->buckets[i]);
      }
      s.count = Load(e.cells->count);
      s.sum = Load(e.cells->sum);
    } else {
      s.value = slot.value.load(std::memory_order_acquire);
    }
    // The slot may have been unregistered and reused while we read: keep
    // only values that belonged to this entry throughout.
    if (slot.entry.load(std::memory_order_seq_cst) == &e) {
      out.push_back(std::move(s));
    }
  });
  return out;
}

std::uint64_t CounterRegistry::Sum(std::string_view name,
                                   std::string_view label_name,
                                   std::string_view label_value) const {
  std::uint64_t total = 0;
  Visit([&](const Entry& e, const Slot& slot) {
    if (e.name != name || e.type == MetricType::kHistogram) return;
    if (!label_name.empty()) {
      bool match = false;
      for (const Label& l : e.labels) {
        if (l.name == label_name && l.value == label_value) match = true;
      }
      if (!match) return;
    }
    const std::uint64_t v = slot.value.load(std::memory_order_acquire);
    if (slot.entry.load(std::memory_order_seq_cst) == &e) total += v;
  });
  return total;
}

std::size_t CounterRegistry::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return registered_;
}

}  // namespace tachyon::base
