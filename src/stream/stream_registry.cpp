#include "stream/stream_registry.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "tachyon/protocol/stream_messages.h"

namespace tachyon::stream {

StreamRegistry::StreamRegistry(const config::GatewayConfig& config,
                               base::CounterRegistry& counters,
                               LogStorageFactory* storage)
    : config_(config),
      counters_(counters),
      storage_(storage != nullptr ? *storage : default_storage_),
      max_streams_(static_cast<std::uint32_t>(config.max_streams)),
      streams_(new std::atomic<StreamLog*>[max_streams_]) {
  for (std::uint32_t i = 0; i < max_streams_; ++i) {
    streams_[i].store(nullptr, std::memory_order_relaxed);
  }
}

StreamRegistry::~StreamRegistry() = default;

absl::StatusOr<StreamLog*> StreamRegistry::Open(std::string_view name) {
  if (!protocol::IsValidStreamName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", AbslView(name), "' is not a valid stream name"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = by_name_.find(std::string(name)); it != by_name_.end())
    return it->second;
  const std::uint32_t n = size_.load(std::memory_order_relaxed);
  if (n >= max_streams_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "stream limit reached (max_streams = ", max_streams_, ")"));
  }
  const config::StreamPolicy& policy = config_.PolicyFor(name);
  if (log_memory_ + policy.capacity_bytes > config_.max_log_memory_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("stream log memory limit reached (max_log_memory_bytes = ",
                     config_.max_log_memory_bytes, ")"));
  }
  absl::StatusOr<std::unique_ptr<StreamLog>> log =
      StreamLog::Create(StreamId{n + 1}, std::string(name), policy,
                        config_.max_frame_length, storage_, counters_);
  if (!log.ok()) return log.status();
  StreamLog* raw = log->get();
  owned_.push_back(*std::move(log));
  by_name_.emplace(std::string(name), raw);
  log_memory_ += policy.capacity_bytes;
  streams_[n].store(raw, std::memory_order_release);
  size_.store(n + 1, std::memory_order_release);
  return raw;
}

StreamLog* StreamRegistry::FindByName(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : it->second;
}

bool MatchesPattern(std::string_view pattern, std::string_view name) {
  if (!pattern.empty() && pattern.back() == '*') {
    return name.substr(0, pattern.size() - 1) ==
           pattern.substr(0, pattern.size() - 1);
  }
  return pattern == name;
}

}  // namespace tachyon::stream
