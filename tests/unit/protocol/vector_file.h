// tests/unit/protocol/vector_file.h — reader for protocol/vectors/*.vec.
//
// Overview
//   The golden vector files describe input bytes and the results the codec
//   must produce for them (protocol/vectors/README.md is the format). This
//   reader turns one file into Vector records and rejects anything it does
//   not understand with "path:line: reason", so a typo in a vector fails the
//   test loudly instead of silently testing less. It checks syntax and
//   structure (names, hex, value syntax, expectation order); what the fields
//   mean is the test's business. Test code: allocates freely.
//
// Example
//   std::vector<golden::Vector> vectors;
//   std::string error;
//   ASSERT_TRUE(golden::LoadVectorFile(path, &vectors, &error)) << error;
//   for (const golden::Vector& v : vectors) Check(v);
#ifndef TACHYON_TESTS_UNIT_PROTOCOL_VECTOR_FILE_H_
#define TACHYON_TESTS_UNIT_PROTOCOL_VECTOR_FILE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tachyon/protocol/datagram.h"
#include "tachyon/protocol/request_messages.h"
#include "tachyon/protocol/stream_messages.h"
#include "tachyon/protocol/wire.h"

namespace tachyon::protocol::golden {

/// A field value, typed by how it was written.
struct Value {
  enum class Type { kInteger, kBool, kName, kBytes };
  Type type = Type::kInteger;
  bool negative = false;        ///< kInteger: written with a leading '-'
  std::uint64_t magnitude = 0;  ///< kInteger: absolute value
  bool boolean = false;         ///< kBool
  std::string text;             ///< kName: the name; kBytes: the bytes
};

/// One `KEY VALUE` line under an expectation. A `KEY_hex` line is stored as
/// `KEY` with a kBytes value.
struct Field {
  std::string key;
  Value value;
  std::string where;  ///< "path:line"
};

/// One `expect` line and the fields beneath it.
struct Expectation {
  enum class Kind { kFrame, kDatagram, kIncomplete, kError };
  Kind kind = Kind::kFrame;
  /// kFrame: a MessageTypeName; kDatagram: DATA/PUBLISH/HEARTBEAT;
  /// kError: an ErrorCodeName; kIncomplete: empty.
  std::string name;
  std::vector<Field> fields;
  std::string where;
};

enum class VectorKind { kFrame, kDatagram };

struct Vector {
  std::string name;
  VectorKind kind = VectorKind::kFrame;
  std::uint32_t max_frame_length = kDefaultMaxFrameLength;
  std::vector<std::byte> bytes;
  std::vector<Expectation> expectations;
  std::string where;  ///< "path:line" of the `vector` line
};

/// Parses the text of one vector file into `out` (replacing its contents).
/// On failure returns false and sets `error` to "path:line: reason"; `path`
/// is used only in messages. (A bool and a string rather than absl::Status:
/// the test target links no absl::status.)
bool ParseVectorFile(std::string_view path, std::string_view text,
                     std::vector<Vector>* out, std::string* error);

/// Reads `path` and parses it as ParseVectorFile does.
bool LoadVectorFile(const std::string& path, std::vector<Vector>* out,
                    std::string* error);

// Enum spellings the format uses besides MessageTypeName / ErrorCodeName.
std::string_view DatagramKindName(DatagramKind kind);
bool ParseDatagramKind(std::string_view name, DatagramKind* out);
std::string_view StartModeName(StartMode mode);
bool ParseStartMode(std::string_view name, StartMode* out);
std::string_view ResponseStatusName(ResponseStatus status);
bool ParseResponseStatus(std::string_view name, ResponseStatus* out);

/// Concatenates anything `operator<<` prints, for messages. (Debian's Abseil
/// is built with its own absl::string_view, which absl::StrCat and StrSplit
/// require; std::string_view does not convert to it, so the reader does
/// without absl::strings.)
template <typename... Args>
std::string Cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

/// Lower-case hex of `bytes`, for messages and comparisons.
std::string ToHex(std::span<const std::byte> bytes);

}  // namespace tachyon::protocol::golden

#endif  // TACHYON_TESTS_UNIT_PROTOCOL_VECTOR_FILE_H_
