// Minimal leveled logging to stderr for the control plane (start-up, config,
// connection errors). Never used per message: the data path counts events
// instead of logging them.
//
//   TACHYON_LOG(kInfo) << "listening on " << addr;
#ifndef TACHYON_CORE_LOG_H_
#define TACHYON_CORE_LOG_H_

#include <atomic>
#include <sstream>
#include <string_view>

namespace tachyon::core {

enum class LogLevel : int { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

/// Messages above this level are dropped. Default kInfo.
void SetLogLevel(LogLevel level);
bool ParseLogLevel(std::string_view name, LogLevel* out);
bool LogEnabled(LogLevel level);

/// Builds one line and writes it atomically (one write(2)) on destruction.
class LogLine {
 public:
  explicit LogLine(LogLevel level);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  template <typename T>
  LogLine& operator<<(const T& v) {
    out_ << v;
    return *this;
  }

 private:
  std::ostringstream out_;
};

}  // namespace tachyon::core

#define TACHYON_LOG(level)                                              \
  if (!::tachyon::core::LogEnabled(::tachyon::core::LogLevel::level)) { \
  } else                                                                \
    ::tachyon::core::LogLine(::tachyon::core::LogLevel::level)

#endif  // TACHYON_CORE_LOG_H_
