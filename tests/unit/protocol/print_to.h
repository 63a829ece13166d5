// Readable GoogleTest failure messages for the codec's enums, shared by the
// codec test files.
#ifndef TACHYON_TESTS_UNIT_PROTOCOL_PRINT_TO_H_
#define TACHYON_TESTS_UNIT_PROTOCOL_PRINT_TO_H_

#include <ostream>

#include "tachyon/protocol/protocol.h"

namespace tachyon::protocol {

inline void PrintTo(ErrorCode code, std::ostream* os) {
  *os << ErrorCodeName(code) << " (" << static_cast<int>(code) << ")";
}
inline void PrintTo(MessageType type, std::ostream* os) {
  *os << MessageTypeName(type) << " (" << static_cast<int>(type) << ")";
}
inline void PrintTo(DecodeStatus status, std::ostream* os) {
  static constexpr const char* kNames[] = {"kFrame", "kIncomplete", "kError"};
  *os << kNames[static_cast<int>(status)];
}

}  // namespace tachyon::protocol

#endif  // TACHYON_TESTS_UNIT_PROTOCOL_PRINT_TO_H_
