// StreamUpkeepAgent: a worker's part in stream retirement.
//
// Overview
//   Every worker runs one. Each DoWork announces a quiescent point to the
//   stream registry (StreamRegistry::Quiescent): between duty-cycle
//   iterations the worker holds no log pointer it got from Find, only logs
//   it holds a use of, so retired logs unlinked before this point may be
//   freed. On worker 0 it also runs StreamRegistry::Sweep once every
//   kSweepIntervalNs: idle streams are retired (streams.idle_retire_ms),
//   retired logs no worker can still hold are freed, and the registry's
//   gauges are published. One look at each stream a second; nothing per
//   iteration beyond one atomic load.
//
// Threading: worker thread only.
#ifndef TACHYON_SERVER_STREAM_UPKEEP_AGENT_H_
#define TACHYON_SERVER_STREAM_UPKEEP_AGENT_H_

#include <cstdint>
#include <string_view>

#include "io/agent.h"
#include "stream/stream_registry.h"

namespace tachyon::server {

/// Whether a worker's upkeep agent also sweeps the registry.
enum class StreamSweep : std::uint8_t { kNo, kYes };

class StreamUpkeepAgent final : public io::Agent {
 public:
  StreamUpkeepAgent(stream::StreamRegistry& registry, StreamSweep sweep)
      : registry_(registry), sweep_(sweep) {}

  // io::Agent
  [[nodiscard]] std::string_view name() const override {
    return "stream-upkeep";
  }
  /// Registers the worker thread as a registry reader.
  absl::Status OnStart(std::int64_t now_ns) override;
  int DoWork(std::int64_t now_ns) override;
  [[nodiscard]] std::int64_t NextDeadlineNs() const override {
    return sweep_ == StreamSweep::kYes ? next_sweep_ns_ : kNoDeadline;
  }
  /// Unregisters the reader.
  void OnStop() override;

 private:
  stream::StreamRegistry& registry_;
  const StreamSweep sweep_;
  int reader_ = -1;
  std::int64_t next_sweep_ns_ = 0;
};

}  // namespace tachyon::server

#endif  // TACHYON_SERVER_STREAM_UPKEEP_AGENT_H_
