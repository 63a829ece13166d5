// Rate limits for control-event log lines: at most so many lines a second
// per kind of event, then one line saying how many were left out.
//
// Overview
//   A gateway under a reconnect storm or a flood of bad logons must not
//   spend its cores writing log lines. Each kind of control event
//   (connections, logon rejections, slow-consumer cuts, backend endpoints,
//   streams) has a token bucket: `burst` lines at once, refilled at
//   `per_second`. A line the bucket has no token for is counted, not
//   written; the next line that is written is preceded by "suppressed N
//   similar messages (KIND)", and FlushSuppressed() writes that line for
//   every kind that has a count (the periodic summary calls it), so a
//   suppression is always reported even if no further event comes.
//
//   Only control events are logged this way (a connection opened, a cut):
//   nothing here runs per message.
//
// Example
//   TACHYON_LOG_LIMITED(kInfo, kConnection)
//       << "connection opened peer=" << peer << " worker=" << w;
//
// Threading: any thread. A bucket is guarded by a spin lock held for a few
// instructions; the line itself is formatted and written outside it.
#ifndef TACHYON_BASE_LOG_LIMIT_H_
#define TACHYON_BASE_LOG_LIMIT_H_

#include <cstdint>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "base/log.h"
#include "base/spin_lock.h"

namespace tachyon::base {

/// A token bucket for one kind of log line.
class LogRateLimiter {
 public:
  /// `burst` lines may be written at once (at least 1); the bucket refills
  /// at `per_second` lines a second (at least 1).
  LogRateLimiter(int per_second, int burst);

  /// True if a line may be written at `now_ns` (monotonic), taking a token.
  /// False counts the line as suppressed. When true, `*suppressed` is set to
  /// the lines suppressed since the last one allowed (and that count is
  /// reset), so the caller can say so before its line.
  bool Allow(std::int64_t now_ns, std::uint64_t* suppressed);

  /// The count of suppressed lines not yet reported, reset to 0.
  std::uint64_t TakeSuppressed();

 private:
  const double per_ns_;
  const double burst_;
  SpinLock lock_;
  double tokens_ ABSL_GUARDED_BY(lock_);
  std::int64_t refilled_ns_ ABSL_GUARDED_BY(lock_) = 0;
  std::uint64_t suppressed_ ABSL_GUARDED_BY(lock_) = 0;
};

/// The kinds of rate-limited control events; one bucket each.
enum class LogKind : int {
  kConnection = 0,  ///< connection opened, logged on, closed
  kLogonRejected,   ///< LOGON refused, connection refused at the limit
  kSlowConsumer,    ///< a subscriber cut as a slow consumer
  kBackend,         ///< a backend endpoint up or down
  kStream,          ///< a stream created or retired
  kCount
};

/// "connection", "logon-rejected", ...
std::string_view LogKindName(LogKind kind);

/// Lines a second (and burst) each kind's bucket allows in the gateway.
inline constexpr int kLogLinesPerSecond = 20;
inline constexpr int kLogLinesBurst = 50;

/// The gateway's bucket for `kind`.
LogRateLimiter& LimiterFor(LogKind kind);

/// True if a line of `kind` may be written now; first writes the
/// "suppressed N similar messages" line if lines of this kind were left
/// out since the last one written.
bool LogAllowed(LogKind kind);

/// Writes the "suppressed N similar messages" line of every kind with a
/// count (at kInfo).
void FlushSuppressed();

}  // namespace tachyon::base

/// TACHYON_LOG, rate-limited per kind of event (base::LogKind).
#define TACHYON_LOG_LIMITED(level, kind)                                \
  if (!::tachyon::base::LogEnabled(::tachyon::base::LogLevel::level) || \
      !::tachyon::base::LogAllowed(::tachyon::base::LogKind::kind)) {   \
  } else                                                                \
    ::tachyon::base::LogLine(::tachyon::base::LogLevel::level)

#endif  // TACHYON_BASE_LOG_LIMIT_H_
