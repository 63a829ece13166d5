#include "server/stream_upkeep_agent.h"

namespace tachyon::server {

absl::Status StreamUpkeepAgent::OnStart(std::int64_t now_ns) {
  absl::StatusOr<int> reader = registry_.RegisterReader();
  if (!reader.ok()) return reader.status();
  reader_ = *reader;
  next_sweep_ns_ = now_ns + stream::StreamRegistry::kSweepIntervalNs;
  return absl::OkStatus();
}

int StreamUpkeepAgent::DoWork(std::int64_t now_ns) {
  registry_.Quiescent(reader_);
  if (sweep_ == StreamSweep::kNo || now_ns < next_sweep_ns_) return 0;
  next_sweep_ns_ = now_ns + stream::StreamRegistry::kSweepIntervalNs;
  return registry_.Sweep(now_ns);
}

void StreamUpkeepAgent::OnStop() {
  if (reader_ >= 0) registry_.UnregisterReader(reader_);
  reader_ = -1;
}

}  // namespace tachyon::server
