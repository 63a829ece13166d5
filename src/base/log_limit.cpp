#include "base/log_limit.h"

#include <algorithm>
#include <array>

#include "base/clock.h"

namespace tachyon::base {

LogRateLimiter::LogRateLimiter(int per_second, int burst)
    : per_ns_(std::max(per_second, 1) * 1e-9),
      burst_(std::max(burst, 1)),
      tokens_(burst_) {}

bool LogRateLimiter::Allow(std::int64_t now_ns, std::uint64_t* suppressed) {
  SpinLockGuard guard(lock_);
  if (refilled_ns_ == 0) refilled_ns_ = now_ns;
  if (now_ns > refilled_ns_) {
    tokens_ = std::min(burst_, tokens_ + (now_ns - refilled_ns_) * per_ns_);
    refilled_ns_ = now_ns;
  }
  if (tokens_ < 1.0) {
    ++suppressed_;
    return false;
  }
  tokens_ -= 1.0;
  *suppressed = suppressed_;
  suppressed_ = 0;
  return true;
}

std::uint64_t LogRateLimiter::TakeSuppressed() {
  SpinLockGuard guard(lock_);
  const std::uint64_t n = suppressed_;
  suppressed_ = 0;
  return n;
}

std::string_view LogKindName(LogKind kind) {
  switch (kind) {
    case LogKind::kConnection:
      return "connection";
    case LogKind::kLogonRejected:
      return "logon-rejected";
    case LogKind::kSlowConsumer:
      return "slow-consumer";
    case LogKind::kBackend:
      return "backend";
    case LogKind::kStream:
      return "stream";
    case LogKind::kCount:
      break;
  }
  return "?";
}

LogRateLimiter& LimiterFor(LogKind kind) {
  static std::array<LogRateLimiter, static_cast<int>(LogKind::kCount)>
      limiters = [] {
        return std::array<LogRateLimiter, static_cast<int>(LogKind::kCount)>{
            LogRateLimiter(kLogLinesPerSecond, kLogLinesBurst),
            LogRateLimiter(kLogLinesPerSecond, kLogLinesBurst),
            LogRateLimiter(kLogLinesPerSecond, kLogLinesBurst),
            LogRateLimiter(kLogLinesPerSecond, kLogLinesBurst),
            LogRateLimiter(kLogLinesPerSecond, kLogLinesBurst)};
      }();
  return limiters[static_cast<int>(kind)];
}

namespace {

void WriteSuppressed(LogKind kind, std::uint64_t n) {
  LogLine(LogLevel::kInfo) << "suppressed " << n << " similar messages ("
                           << LogKindName(kind) << ")";
}

}  // namespace

bool LogAllowed(LogKind kind) {
  std::uint64_t suppressed = 0;
  if (!LimiterFor(kind).Allow(MonotonicNs(), &suppressed)) return false;
  if (suppressed > 0) WriteSuppressed(kind, suppressed);
  return true;
}

void FlushSuppressed() {
  if (!LogEnabled(LogLevel::kInfo)) return;
  for (int k = 0; k < static_cast<int>(LogKind::kCount); ++k) {
    const LogKind kind = static_cast<LogKind>(k);
    if (const std::uint64_t n = LimiterFor(kind).TakeSuppressed(); n > 0) {
      WriteSuppressed(kind, n);
    }
  }
}

}  // namespace tachyon::base
