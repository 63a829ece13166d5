// Debian 12's Abseil is built with its own absl::string_view rather than an
// alias of std::string_view (ABSL_OPTION_USE_STD_STRING_VIEW 0), so the two
// do not convert implicitly. These adapters are the one place that bridges
// them, for absl::StrCat and absl::Status messages.
#ifndef TACHYON_BASE_STRINGS_H_
#define TACHYON_BASE_STRINGS_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace tachyon {

/// std::string_view -> absl::string_view (no copy).
inline absl::string_view AbslView(std::string_view s) {
  return {s.data(), s.size()};
}
/// absl::string_view -> std::string_view (no copy).
inline std::string_view StdView(absl::string_view s) {
  return {s.data(), s.size()};
}

}  // namespace tachyon

#endif  // TACHYON_BASE_STRINGS_H_
