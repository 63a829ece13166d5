// Safe text from untrusted bytes: quoting client-provided strings for ERROR
// and LOGON_REJECT texts and log lines, and cutting UTF-8 text without
// splitting a character.
//
// Overview
//   A client may send any bytes where the protocol expects a name (a stream
//   name with invalid UTF-8, a client name with control characters). Texts
//   the gateway sends are UTF-8 (PROTOCOL.md 6.6) and log lines are read on
//   terminals, so client bytes never go into either raw: AppendQuoted copies
//   printable ASCII and well-formed UTF-8 sequences, and writes every other
//   byte (control characters, DEL, bytes of an invalid or overlong sequence,
//   surrogates) as "\xNN"; a backslash becomes "\\". The result is valid
//   UTF-8 and reads back unambiguously.
//
// Example
//   QueueError(ErrorCode::kInvalidName, false,
//              absl::StrCat("'", AbslView(base::Quoted(name)),
//                           "' is not a valid stream name"));
//
// Threading: pure functions.
#ifndef TACHYON_BASE_SAFE_TEXT_H_
#define TACHYON_BASE_SAFE_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace tachyon::base {

/// Appends `bytes` to `out` quoted as described above. At most 4 output
/// bytes per input byte.
void AppendQuoted(std::string& out, std::string_view bytes);

/// `bytes` quoted (AppendQuoted into a new string).
std::string Quoted(std::string_view bytes);

/// True if `text` is well-formed UTF-8 (no overlong forms, no surrogates,
/// nothing above U+10FFFF).
bool IsValidUtf8(std::string_view text);

/// The longest prefix of `text` of at most `max_bytes` bytes that does not
/// end inside a UTF-8 sequence (for a valid `text` the prefix is valid).
std::string_view Utf8Prefix(std::string_view text, std::size_t max_bytes);

}  // namespace tachyon::base

#endif  // TACHYON_BASE_SAFE_TEXT_H_
