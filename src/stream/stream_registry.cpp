#include "stream/stream_registry.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/log_limit.h"
#include "base/strings.h"
#include "stream/stream_metric_names.h"
#include "tachyon/protocol/stream_messages.h"

namespace tachyon::stream {

StreamRegistry::StreamRegistry(const config::GatewayConfig& config,
                               base::CounterRegistry& counters,
                               LogStorageFactory* storage)
    : config_(config),
      counters_(counters),
      storage_(storage != nullptr ? *storage : default_storage_),
      max_streams_(static_cast<std::uint32_t>(config.max_streams)),
      budget_(config.max_log_memory_bytes),
      // Twice max_streams: at most half the slots are taken, so a free slot
      // for the next id is always a few steps away.
      slot_mask_(std::bit_ceil(std::size_t{2} * max_streams_) - 1),
      slots_(new std::atomic<StreamLog*>[slot_mask_ + 1]),
      readers_(new ReaderEpoch[kMaxReaders]),
      retired_names_cap_(
          std::max<std::size_t>(max_streams_, kMinRetiredNames)) {
  for (std::size_t i = 0; i <= slot_mask_; ++i) {
    slots_[i].store(nullptr, std::memory_order_relaxed);
  }
  streams_gauge_ = counters_.AddGauge(kStreamsOpen, "streams open");
  retired_counter_ =
      counters_.AddCounter(kStreamsRetiredTotal, "streams retired");
  memory_committed_gauge_ = counters_.AddGauge(
      kMemoryCommittedBytes,
      "ring memory committed by all streams (updated once a second)");
  memory_limit_gauge_ = counters_.AddGauge(
      kMemoryLimitBytes, "limits.max_log_memory_bytes: ring memory allowed");
  memory_limit_gauge_.Set(static_cast<std::int64_t>(budget_.limit()));
}

StreamRegistry::~StreamRegistry() {
  // Logs before the budget they refund to (members die in reverse order).
  std::lock_guard<std::mutex> lock(mu_);
  limbo_.clear();
  by_name_.clear();
}

absl::StatusOr<StreamLog*> StreamRegistry::Open(std::string_view name) {
  std::int64_t created = 0;
  absl::StatusOr<StreamLog*> log;
  {
    std::lock_guard<std::mutex> lock(mu_);
    log = OpenLocked(name, &created);
  }
  return log;
}

absl::StatusOr<StreamLog*> StreamRegistry::Open(std::string_view name,
                                                StreamUse use) {
  std::lock_guard<std::mutex> lock(mu_);
  std::int64_t created = 0;
  absl::StatusOr<StreamLog*> log = OpenLocked(name, &created);
  // Under mu_ nothing retires it, so the use cannot be refused.
  if (log.ok() && !(*log)->TryAcquire(use)) {
    return absl::InternalError(
        absl::StrCat("stream '", AbslView(name), "' retired while opened"));
  }
  return log;
}

absl::StatusOr<StreamLog*> StreamRegistry::Open(std::string_view name,
                                                StreamUse use,
                                                const CreateGuard& guard) {
  std::lock_guard<std::mutex> lock(mu_);
  std::int64_t created = 0;
  absl::StatusOr<StreamLog*> log = OpenLocked(name, &created, &guard);
  if (log.ok() && !(*log)->TryAcquire(use)) {
    return absl::InternalError(
        absl::StrCat("stream '", AbslView(name), "' retired while opened"));
  }
  return log;
}

absl::StatusOr<StreamLog*> StreamRegistry::OpenConfigured(
    std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::int64_t created = 0;
  absl::StatusOr<StreamLog*> log = OpenLocked(name, &created);
  if (log.ok()) by_name_.find(AbslView(name))->second.configured = true;
  return log;
}

absl::StatusOr<StreamLog*> StreamRegistry::OpenLocked(
    std::string_view name, std::int64_t* created, const CreateGuard* guard) {
  if (!protocol::IsValidStreamName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", AbslView(name), "' is not a valid stream name"));
  }
  if (auto it = by_name_.find(AbslView(name)); it != by_name_.end()) {
    it->second.touched = true;
    return it->second.log.get();
  }
  if (guard != nullptr && !guard->allowed) {
    return absl::PermissionDeniedError(AbslView(guard->denied_text));
  }
  if (guard != nullptr && guard->created != nullptr && guard->limit > 0 &&
      guard->created->load(std::memory_order_relaxed) >= guard->limit) {
    return absl::ResourceExhaustedError(AbslView(guard->limit_text));
  }
  const std::uint32_t n = size_.load(std::memory_order_relaxed);
  if (n >= max_streams_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("stream limit reached: ", max_streams_,
                     " streams (limits.max_streams)"));
  }
  // The next id whose slot is free; ids only grow, so none is ever reused.
  std::uint64_t id = next_id_;
  while (id <= std::numeric_limits<std::uint32_t>::max() &&
         slots_[id & slot_mask_].load(std::memory_order_relaxed) != nullptr) {
    ++id;
  }
  if (id > std::numeric_limits<std::uint32_t>::max()) {
    return absl::ResourceExhaustedError(
        "stream ids exhausted: 4294967295 streams created in this run");
  }
  // A remembered name continues; any other starts at the floor (1 unless
  // remembered names were evicted), so no name's sequences repeat.
  Sequence first{sequence_floor_};
  auto tomb = next_after_retire_.find(AbslView(name));
  if (tomb != next_after_retire_.end()) {
    first = Sequence{tomb->second.next_sequence};
  }
  const config::StreamPolicy& policy = config_.PolicyFor(name);
  absl::StatusOr<std::unique_ptr<StreamLog>> log = StreamLog::Create(
      StreamId{static_cast<std::uint32_t>(id)}, std::string(name), policy,
      config_.max_frame_length, storage_, counters_, &budget_, first);
  if (!log.ok()) return log.status();
  if (tomb != next_after_retire_.end()) {
    retired_order_.erase(tomb->second.order);
    next_after_retire_.erase(tomb);
  }
  next_id_ = id + 1;
  StreamLog* raw = log->get();
  Entry& e = by_name_[std::string(name)];
  e.log = *std::move(log);
  e.idle_retire_ns = std::int64_t{policy.idle_retire_ms} * 1'000'000;
  if (guard != nullptr && guard->created != nullptr) {
    // Incremented under mu_ like the check above; decremented at unlink.
    e.creator_count = guard->created;
    e.creator_count->fetch_add(1, std::memory_order_relaxed);
  }
  slots_[id & slot_mask_].store(raw, std::memory_order_release);
  size_.store(n + 1, std::memory_order_release);
  last_id_.store(static_cast<std::uint32_t>(id), std::memory_order_release);
  streams_gauge_.Set(n + 1);
  *created = static_cast<std::int64_t>(id);
  LogLocked("created", name, raw->id());
  return raw;
}

StreamLog* StreamRegistry::FindByName(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(AbslView(name));
  return it == by_name_.end() ? nullptr : it->second.log.get();
}

std::uint64_t StreamRegistry::retired_total() const {
  return retired_counter_.value();
}

std::size_t StreamRegistry::retired_names() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_after_retire_.size();
}

std::uint64_t StreamRegistry::sequence_floor() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sequence_floor_;
}

void StreamRegistry::RememberRetiredLocked(std::string_view name,
                                           std::uint64_t next_sequence) {
  // A live stream's name is not remembered (creation forgets it); should
  // it be, its older entry goes, so each name is in the order once.
  if (auto old = next_after_retire_.find(AbslView(name));
      old != next_after_retire_.end()) {
    retired_order_.erase(old->second.order);
    next_after_retire_.erase(old);
  }
  retired_order_.emplace_back(name);
  next_after_retire_[std::string(name)] = {next_sequence,
                                           std::prev(retired_order_.end())};
  while (next_after_retire_.size() > retired_names_cap_) {
    auto oldest = next_after_retire_.find(AbslView(retired_order_.front()));
    sequence_floor_ = std::max(sequence_floor_, oldest->second.next_sequence);
    next_after_retire_.erase(oldest);
    retired_order_.pop_front();
  }
}

absl::Status StreamRegistry::Retire(std::string_view name) {
  std::vector<std::unique_ptr<StreamLog>> freed;
  absl::Status status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_name_.find(AbslView(name));
    if (it == by_name_.end()) {
      return absl::NotFoundError(
          absl::StrCat("no stream named '", AbslView(name), "'"));
    }
    Entry& e = it->second;
    StreamLog::InUse in_use;
    if (e.configured) {
      status = absl::FailedPreconditionError(
          absl::StrCat("stream '", AbslView(name),
                       "' is configured (udp.groups) and is never retired"));
    } else if (!e.log->TryRetire(StreamLog::kAnyTail, &in_use)) {
      status = absl::FailedPreconditionError(absl::StrCat(
          "stream '", AbslView(name), "' is in use: ", in_use.publishers,
          " publishers, ", in_use.subscribers, " subscribers, ", in_use.readers,
          " readers attached"));
    } else {
      UnlinkLocked(name, e, "retired by the operator");
      by_name_.erase(it);
      PublishGaugesLocked();
    }
    ReclaimLocked(freed);
  }
  return status;
}

int StreamRegistry::Sweep(std::int64_t now_ns) {
  // Destroyed after the mutex is released (unmapping takes a while).
  std::vector<std::unique_ptr<StreamLog>> freed;
  int retired = 0;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = by_name_.begin(); it != by_name_.end();) {
    Entry& e = it->second;
    StreamLog* log = e.log.get();
    if (e.configured || e.idle_retire_ns == 0) {
      ++it;
      continue;
    }
    const std::uint64_t tail = log->tail();
    if (e.touched || tail != e.seen_tail || log->publishers() != 0 ||
        log->subscribers() != 0) {
      // Opened, written or used since the last look: idle from now on at
      // the earliest.
      e.touched = false;
      e.seen_tail = tail;
      e.idle_since_ns = now_ns;
    } else if (now_ns - e.idle_since_ns >= e.idle_retire_ns) {
      // TryRetire checks again under the log's lock, against the tail seen.
      if (log->TryRetire(e.seen_tail)) {
        UnlinkLocked(it->first, e, "retired after idle_retire_ms");
        by_name_.erase(it++);
        ++retired;
        continue;
      }
      e.idle_since_ns = now_ns;  // a reader still attached, or a new use
    }
    ++it;
  }
  PublishGaugesLocked();
  ReclaimLocked(freed);
  return retired;
}

void StreamRegistry::UnlinkLocked(std::string_view name, Entry& entry,
                                  const char* why) {
  StreamLog* log = entry.log.get();
  if (entry.creator_count != nullptr) {
    entry.creator_count->fetch_sub(1, std::memory_order_relaxed);
  }
  slots_[log->id().value() & slot_mask_].store(nullptr,
                                               std::memory_order_release);
  RememberRetiredLocked(name, log->next_sequence().value());
  const std::uint32_t n = size_.load(std::memory_order_relaxed) - 1;
  size_.store(n, std::memory_order_release);
  streams_gauge_.Set(n);
  retired_counter_.Add();
  LogLocked(why, name, log->id());
  // Readers that announce this epoch (or later) loaded it after the unlink
  // above, so they can no longer find the log.
  const std::uint64_t epoch =
      epoch_.fetch_add(1, std::memory_order_acq_rel) + 1;
  limbo_.push_back({std::move(entry.log), epoch});
}

void StreamRegistry::ReclaimLocked(
    std::vector<std::unique_ptr<StreamLog>>& freed) {
  if (limbo_.empty()) return;
  std::uint64_t oldest = kOffline;
  for (int r = 0; r < kMaxReaders; ++r) {
    if (!reader_used_[static_cast<std::size_t>(r)]) continue;
    oldest =
        std::min(oldest, readers_[r].epoch.load(std::memory_order_acquire));
  }
  for (auto it = limbo_.begin(); it != limbo_.end();) {
    if (it->epoch <= oldest) {
      freed.push_back(std::move(it->log));
      it = limbo_.erase(it);
    } else {
      ++it;
    }
  }
}

void StreamRegistry::PublishGaugesLocked() {
  memory_committed_gauge_.Set(static_cast<std::int64_t>(budget_.committed()));
}

absl::StatusOr<int> StreamRegistry::RegisterReader() {
  std::lock_guard<std::mutex> lock(mu_);
  for (int r = 0; r < kMaxReaders; ++r) {
    if (reader_used_[static_cast<std::size_t>(r)]) continue;
    reader_used_[static_cast<std::size_t>(r)] = true;
    // Under mu_: every unlink so far is visible to this thread's Finds.
    readers_[r].epoch.store(epoch_.load(std::memory_order_acquire),
                            std::memory_order_release);
    return r;
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      "more than ", kMaxReaders, " stream registry reader threads"));
}

void StreamRegistry::UnregisterReader(int reader) {
  std::lock_guard<std::mutex> lock(mu_);
  readers_[reader].epoch.store(kOffline, std::memory_order_release);
  reader_used_[static_cast<std::size_t>(reader)] = false;
}

std::size_t StreamRegistry::limbo_size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return limbo_.size();
}

void StreamRegistry::LogLocked(std::string_view what, std::string_view name,
                               StreamId id) {
  TACHYON_LOG_LIMITED(kInfo, kStream)
      << "stream '" << name << "' (id " << id.value() << ") " << what;
}

bool MatchesPattern(std::string_view pattern, std::string_view name) {
  if (!pattern.empty() && pattern.back() == '*') {
    return name.substr(0, pattern.size() - 1) ==
           pattern.substr(0, pattern.size() - 1);
  }
  return pattern == name;
}

}  // namespace tachyon::stream
