// Names of the per-stream values in the counters registry.
//
// Each is registered with label stream="<name>" by the stream log (or the
// registry, for the totals) and read by whoever renders them (the admin
// plane, tachyon-stat). Constants so every reader spells them the same way.
#ifndef TACHYON_STREAM_STREAM_METRIC_NAMES_H_
#define TACHYON_STREAM_STREAM_METRIC_NAMES_H_

#include <string_view>

namespace tachyon::stream {

/// Counter: frames appended to the stream's log.
inline constexpr std::string_view kAppendsTotal =
    "tachyon_stream_appends_total";
/// Gauge: oldest sequence still retained (replayable). The retained range
/// is [first, next); it is empty when they are equal.
inline constexpr std::string_view kFirstSequence =
    "tachyon_stream_first_sequence";
/// Gauge: the sequence the next append gets.
inline constexpr std::string_view kNextSequence =
    "tachyon_stream_next_sequence";
/// Gauge: ring bytes committed (resident) for the stream.
inline constexpr std::string_view kCommittedBytes =
    "tachyon_stream_committed_bytes";
/// Gauge: the ring's capacity in bytes.
inline constexpr std::string_view kCapacityBytes =
    "tachyon_stream_capacity_bytes";
/// Gauge: sessions that opened the stream for publishing.
inline constexpr std::string_view kPublishers = "tachyon_stream_publishers";
/// Gauge: subscriptions attached to the stream.
inline constexpr std::string_view kSubscribers = "tachyon_stream_subscribers";
/// Counter: appends refused because the ring needed memory past
/// limits.max_log_memory_bytes.
inline constexpr std::string_view kMemoryRefusalsTotal =
    "tachyon_stream_memory_refusals_total";
/// Counter: subscribers cut from this stream as slow consumers.
inline constexpr std::string_view kSlowConsumersTotal =
    "tachyon_stream_slow_consumers_total";

/// Registry totals (no stream label).
inline constexpr std::string_view kStreamsOpen = "tachyon_streams";
inline constexpr std::string_view kStreamsRetiredTotal =
    "tachyon_streams_retired_total";
inline constexpr std::string_view kMemoryCommittedBytes =
    "tachyon_stream_memory_committed_bytes";
inline constexpr std::string_view kMemoryLimitBytes =
    "tachyon_stream_memory_limit_bytes";

}  // namespace tachyon::stream

#endif  // TACHYON_STREAM_STREAM_METRIC_NAMES_H_
