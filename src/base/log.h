// Minimal leveled logging to stderr for the control plane (start-up, config,
// connection errors). Never used per message: the data path counts events
// instead of logging them.
//
//   TACHYON_LOG(kInfo) << "listening on " << addr;
#ifndef TACHYON_BASE_LOG_H_
#define TACHYON_BASE_LOG_H_

#include <atomic>
#include <sstream>
#include <string_view>

namespace tachyon::base {

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

}  // namespace tachyon::base

#define TACHYON_LOG(level)                                              \
  if (!::tachyon::base::LogEnabled(::tachyon::base::LogLevel::level)) { \
  } else                                                                \
    ::tachyon::base::LogLine(::tachyon::base::LogLevel::level)

#endif  // TACHYON_BASE_LOG_H_
