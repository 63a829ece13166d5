// JsonWriter: builds one JSON text into a string, escaping as RFC 8259 asks.
//
// Overview
//   The admin plane renders every reply from values it copied, so a small
//   streaming writer is all it needs: Begin/End for objects and arrays,
//   Key before each member's value, and one call per value. Commas are
//   placed by the writer. Strings are escaped (quote, backslash, control
//   characters) and bytes that are not valid UTF-8 (a client name is only
//   bytes) become U+FFFD, so the output is always valid JSON. Non-finite
//   doubles are written as null.
//
// Example
//   JsonWriter w;
//   w.BeginObject().Key("name").String("md.\"x\"").Key("n").Uint(3);
//   w.EndObject();
//   std::string text = w.Take();   // {"name":"md.\"x\"","n":3}
//
// Threading: an object per thread.
#ifndef TACHYON_ADMIN_JSON_WRITER_H_
#define TACHYON_ADMIN_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tachyon::admin {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  /// The next member's name; the next call writes its value.
  JsonWriter& Key(std::string_view name);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(std::int64_t value);
  JsonWriter& Uint(std::uint64_t value);
  /// Shortest text that reads back as `value`; null for NaN and infinities.
  JsonWriter& Double(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  /// The text written so far; the writer is empty afterwards.
  std::string Take();

 private:
  void BeforeValue();

  std::string out_;
  // One entry per open object or array: true once it has a member.
  std::vector<bool> has_member_;
  bool after_key_ = false;
};

/// `value` as a JSON string literal, quotes included.
std::string JsonQuoted(std::string_view value);

}  // namespace tachyon::admin

#endif  // TACHYON_ADMIN_JSON_WRITER_H_
