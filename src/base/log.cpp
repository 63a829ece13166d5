#include "base/log.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace tachyon::base {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "E";
    case LogLevel::kWarn:
      return "W";
    case LogLevel::kInfo:
      return "I";
    case LogLevel::kDebug:
      return "D";
  }
  return "?";
}

}  // namespace

void SetLogLevel(LogLevel level) {
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

bool ParseLogLevel(std::string_view name, LogLevel* out) {
  if (name == "error")
    *out = LogLevel::kError;
  else if (name == "warn")
    *out = LogLevel::kWarn;
  else if (name == "info")
    *out = LogLevel::kInfo;
  else if (name == "debug")
    *out = LogLevel::kDebug;
  else
    return false;
  return true;
}

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed);
}

LogLine::LogLine(LogLevel level) {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  tm utc;
  ::gmtime_r(&ts.tv_sec, &utc);
  char stamp[40];
  std::snprintf(stamp, sizeof stamp, "%02d:%02d:%02d.%06ld", utc.tm_hour,
                utc.tm_min, utc.tm_sec, ts.tv_nsec / 1000);
  out_ << LevelName(level) << " " << stamp << " tachyon: ";
}

LogLine::~LogLine() {
  out_ << '\n';
  const std::string s = out_.str();
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, s.data(), s.size());
}

}  // namespace tachyon::base
