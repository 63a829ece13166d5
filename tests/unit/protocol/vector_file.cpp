// Reader for the golden vector format (protocol/vectors/README.md).
#include "vector_file.h"

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "tachyon/protocol/wire.h"

namespace tachyon::protocol::golden {
namespace {

constexpr std::array<std::pair<DatagramKind, std::string_view>, 3>
    kDatagramKindNames{{
        {DatagramKind::kData, "DATA"},
        {DatagramKind::kPublish, "PUBLISH"},
        {DatagramKind::kHeartbeat, "HEARTBEAT"},
    }};
constexpr std::array<std::pair<StartMode, std::string_view>, 3> kStartModeNames{
    {
        {StartMode::kLatest, "LATEST"},
        {StartMode::kEarliest, "EARLIEST"},
        {StartMode::kSequence, "SEQUENCE"},
    }};
constexpr std::array<std::pair<ResponseStatus, std::string_view>, 6>
    kResponseStatusNames{{
        {ResponseStatus::kOk, "OK"},
        {ResponseStatus::kNoSuchService, "NO_SUCH_SERVICE"},
        {ResponseStatus::kTimeout, "TIMEOUT"},
        {ResponseStatus::kUnavailable, "UNAVAILABLE"},
        {ResponseStatus::kBackendError, "BACKEND_ERROR"},
        {ResponseStatus::kOverloaded, "OVERLOADED"},
    }};

template <typename Table, typename E>
std::string_view NameIn(const Table& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "UNKNOWN";
}

template <typename Table, typename E>
bool ParseIn(const Table& table, std::string_view name, E* out) {
  for (const auto& [v, n] : table) {
    if (n == name) {
      *out = v;
      return true;
    }
  }
  return false;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Whitespace-separated words of `s`.
std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && IsSpace(s[i])) ++i;
    const std::size_t start = i;
    while (i < s.size() && !IsSpace(s[i])) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsVectorName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!IsDigit(c) && !IsLower(c) && !IsUpper(c) && c != '_') {
      return false;
    }
  }
  return true;
}

bool IsFieldKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!IsLower(c) && !IsDigit(c) && c != '_') {
      return false;
    }
  }
  return true;
}

bool IsEnumName(std::string_view name) {
  if (name.empty() || !IsUpper(name[0])) return false;
  for (char c : name) {
    if (!IsUpper(c) && !IsDigit(c) && c != '_') {
      return false;
    }
  }
  return true;
}

// Removes a comment: '#' outside a double-quoted string (where '\' escapes).
std::string_view StripComment(std::string_view line) {
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == '#') {
      return line.substr(0, i);
    }
  }
  return line;
}

// Appends whitespace-separated groups of hex byte pairs to `out`.
bool AppendHex(std::string_view text, std::string* out, std::string* error) {
  for (std::string_view group : Words(text)) {
    if (group.size() % 2 != 0) {
      *error = Cat("hex group '", group, "' has an odd digit count");
      return false;
    }
    for (std::size_t i = 0; i < group.size(); i += 2) {
      const int hi = HexDigit(group[i]);
      const int lo = HexDigit(group[i + 1]);
      if (hi < 0 || lo < 0) {
        *error = Cat("'", group, "' is not hex");
        return false;
      }
      out->push_back(static_cast<char>(hi * 16 + lo));
    }
  }
  return true;
}

bool ParseQuoted(std::string_view text, std::string* out, std::string* error) {
  if (text.size() < 2 || text.front() != '"') {
    *error = "a quoted string must start with '\"'";
    return false;
  }
  out->clear();
  for (std::size_t i = 1; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      if (i + 1 != text.size()) {
        *error =
            Cat("text after the closing quote: '", text.substr(i + 1), "'");
        return false;
      }
      return true;
    }
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (i + 1 >= text.size()) break;
    const char e = text[++i];
    if (e == '"' || e == '\\') {
      out->push_back(e);
    } else if (e == 'x' && i + 2 < text.size() && HexDigit(text[i + 1]) >= 0 &&
               HexDigit(text[i + 2]) >= 0) {
      out->push_back(static_cast<char>(HexDigit(text[i + 1]) * 16 +
                                       HexDigit(text[i + 2])));
      i += 2;
    } else {
      *error = Cat("bad escape '\\", std::string_view(&e, 1),
                   "' (use \\\", \\\\ or \\xNN)");
      return false;
    }
  }
  *error = "unterminated quoted string";
  return false;
}

bool ParseInteger(std::string_view text, bool* negative, std::uint64_t* value) {
  *negative = !text.empty() && text.front() == '-';
  if (*negative) text.remove_prefix(1);
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  if (text.empty()) return false;
  for (char c : text) {
    if (base == 16 ? HexDigit(c) < 0 : !IsDigit(c)) return false;
  }
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), *value, base);
  return ec == std::errc() && end == text.data() + text.size();
}

bool ParseValue(std::string_view key, std::string_view text, Field* field,
                std::string* error) {
  Value& v = field->value;
  field->key = std::string(key);
  if (key.size() > 4 && key.substr(key.size() - 4) == "_hex") {
    field->key = std::string(key.substr(0, key.size() - 4));
    v.type = Value::Type::kBytes;
    if (text == "\"\"") return true;
    return AppendHex(text, &v.text, error);
  }
  if (text.empty()) {
    *error = Cat("field '", key, "' has no value");
    return false;
  }
  if (text.front() == '"') {
    v.type = Value::Type::kBytes;
    return ParseQuoted(text, &v.text, error);
  }
  if (text == "true" || text == "false") {
    v.type = Value::Type::kBool;
    v.boolean = text == "true";
    return true;
  }
  if (IsEnumName(text)) {
    v.type = Value::Type::kName;
    v.text = std::string(text);
    return true;
  }
  v.type = Value::Type::kInteger;
  if (!ParseInteger(text, &v.negative, &v.magnitude)) {
    *error =
        Cat("field '", key, "': '", text,
            "' is not an integer, true/false, NAME, \"string\" or KEY_hex");
    return false;
  }
  return true;
}

class Parser {
 public:
  Parser(std::string_view path, std::vector<Vector>* out)
      : path_(path), out_(out) {}

  bool Parse(std::string_view text, std::string* error) {
    out_->clear();
    int line_no = 0;
    for (std::size_t start = 0; start <= text.size();) {
      std::size_t stop = text.find('\n', start);
      if (stop == std::string_view::npos) stop = text.size();
      const std::string_view raw = text.substr(start, stop - start);
      start = stop + 1;
      ++line_no;
      line_ = line_no;
      if (!ParseLine(raw)) {
        *error = Cat(path_, ":", line_, ": ", message_);
        return false;
      }
    }
    if (current_ != nullptr) {
      *error = Cat(current_->where, ": vector '", current_->name,
                   "' has no 'end' before the end of the file");
      return false;
    }
    return true;
  }

 private:
  std::string Where() const { return Cat(path_, ":", line_); }

  bool Fail(std::string message) {
    message_ = std::move(message);
    return false;
  }

  bool ParseLine(std::string_view raw) {
    const std::string_view line = Trim(StripComment(raw));
    if (line.empty()) return true;
    const std::size_t space = line.find_first_of(" \t");
    const std::string_view word = line.substr(0, space);
    const std::string_view arg = space == std::string_view::npos
                                     ? std::string_view()
                                     : Trim(line.substr(space));

    if (current_ == nullptr) {
      if (word != "vector") {
        return Fail(Cat("expected 'vector NAME', found '", word, "'"));
      }
      return BeginVector(arg);
    }
    if (word == "vector") {
      return Fail(Cat("'vector' inside vector '", current_->name, "' (",
                      current_->where, "): missing 'end'"));
    }
    if (word == "end") {
      if (!arg.empty()) return Fail("'end' takes no argument");
      return EndVector();
    }
    if (word == "expect") return Expect(arg);
    if (word == "kind" || word == "max_frame_length" || word == "hex") {
      if (!current_->expectations.empty()) {
        // After an expectation these keys are fields (LOGON_ACK has a
        // max_frame_length field); 'kind' and 'hex' never are.
        if (word == "max_frame_length") return AddField(word, arg);
        return Fail(Cat("'", word, "' must come before 'expect'"));
      }
      if (word == "kind") return SetKind(arg);
      if (word == "max_frame_length") return SetMaxFrameLength(arg);
      std::string error;
      if (!AppendHex(arg, &bytes_, &error)) return Fail(error);
      saw_hex_ = true;
      return true;
    }
    if (current_->expectations.empty()) {
      return Fail(Cat("unknown directive '", word, "'"));
    }
    return AddField(word, arg);
  }

  bool BeginVector(std::string_view name) {
    if (!IsVectorName(name)) {
      return Fail(Cat("vector name '", name, "' is not [A-Za-z0-9_]+"));
    }
    if (!names_.insert(std::string(name)).second) {
      return Fail(Cat("duplicate vector name '", name, "'"));
    }
    out_->emplace_back();
    current_ = &out_->back();
    current_->name = std::string(name);
    current_->where = Where();
    kind_set_ = false;
    max_set_ = false;
    saw_hex_ = false;
    bytes_.clear();
    return true;
  }

  bool SetKind(std::string_view arg) {
    if (kind_set_) return Fail("'kind' given twice");
    if (arg == "frame") {
      current_->kind = VectorKind::kFrame;
    } else if (arg == "datagram") {
      current_->kind = VectorKind::kDatagram;
    } else {
      return Fail(Cat("kind must be 'frame' or 'datagram', not '", arg, "'"));
    }
    kind_set_ = true;
    return true;
  }

  bool SetMaxFrameLength(std::string_view arg) {
    if (max_set_) return Fail("'max_frame_length' given twice");
    bool negative = false;
    std::uint64_t value = 0;
    if (!ParseInteger(arg, &negative, &value) || negative || value == 0 ||
        value > 0xFFFFFFFFu) {
      return Fail(
          Cat("max_frame_length '", arg, "' is not an integer in 1..2^32-1"));
    }
    current_->max_frame_length = static_cast<std::uint32_t>(value);
    max_set_ = true;
    return true;
  }

  bool Expect(std::string_view arg) {
    if (!kind_set_) return Fail("'kind' must come before 'expect'");
    if (!saw_hex_) return Fail("'hex' must come before 'expect'");
    const std::vector<std::string_view> parts = Words(arg);
    Expectation e;
    e.where = Where();
    const std::string_view what = parts.empty() ? "" : parts[0];
    const std::size_t want_args = (what == "incomplete") ? 1 : 2;
    if (parts.size() != want_args) {
      return Fail(
          Cat("expected 'expect frame TYPE', 'expect datagram KIND', 'expect "
              "incomplete' or 'expect error CODE', found 'expect ",
              arg, "'"));
    }
    if (what == "frame") {
      MessageType type;
      if (!ParseMessageType(parts[1], &type)) {
        return Fail(Cat("unknown message type '", parts[1], "'"));
      }
      e.kind = Expectation::Kind::kFrame;
    } else if (what == "datagram") {
      DatagramKind kind;
      if (!ParseDatagramKind(parts[1], &kind)) {
        return Fail(Cat("unknown datagram kind '", parts[1], "'"));
      }
      e.kind = Expectation::Kind::kDatagram;
    } else if (what == "error") {
      ErrorCode code;
      if (!ParseErrorCode(parts[1], &code) || code == ErrorCode::kNone) {
        return Fail(Cat("unknown error code '", parts[1], "'"));
      }
      e.kind = Expectation::Kind::kError;
    } else if (what == "incomplete") {
      e.kind = Expectation::Kind::kIncomplete;
    } else {
      return Fail(Cat("unknown expectation '", what, "'"));
    }
    if (parts.size() == 2) e.name = std::string(parts[1]);
    current_->expectations.push_back(std::move(e));
    return true;
  }

  bool AddField(std::string_view key, std::string_view arg) {
    Expectation& e = current_->expectations.back();
    if (e.kind != Expectation::Kind::kFrame &&
        e.kind != Expectation::Kind::kDatagram) {
      return Fail(
          Cat("field '", key, "' under an expectation that has no fields"));
    }
    if (!IsFieldKey(key)) {
      return Fail(Cat("'", key, "' is not a field name [a-z0-9_]+"));
    }
    Field field;
    field.where = Where();
    std::string error;
    if (!ParseValue(key, arg, &field, &error)) return Fail(error);
    for (const Field& f : e.fields) {
      if (f.key == field.key) {
        return Fail(
            Cat("field '", field.key, "' given twice (also ", f.where, ")"));
      }
    }
    e.fields.push_back(std::move(field));
    return true;
  }

  bool EndVector() {
    Vector& v = *current_;
    if (!kind_set_) return Fail("vector has no 'kind'");
    if (!saw_hex_) return Fail("vector has no 'hex' line");
    if (v.expectations.empty()) return Fail("vector has no 'expect'");
    v.bytes.resize(bytes_.size());
    for (std::size_t i = 0; i < bytes_.size(); ++i) {
      v.bytes[i] = static_cast<std::byte>(bytes_[i]);
    }
    using Kind = Expectation::Kind;
    const std::vector<Expectation>& es = v.expectations;
    if (v.kind == VectorKind::kFrame) {
      if (v.bytes.empty()) return Fail("a frame vector needs at least 1 byte");
      for (std::size_t i = 0; i < es.size(); ++i) {
        const bool last = i + 1 == es.size();
        if (es[i].kind == Kind::kDatagram) {
          return Fail(
              Cat("'expect datagram' in a frame vector (", es[i].where, ")"));
        }
        if (!last && es[i].kind != Kind::kFrame) {
          return Fail(
              Cat("'expect incomplete' / 'expect error' must be the last "
                  "expectation (",
                  es[i].where, ")"));
        }
      }
    } else {
      const bool error_only = es.size() == 1 && es[0].kind == Kind::kError;
      bool datagram_then_frames = es[0].kind == Kind::kDatagram;
      for (std::size_t i = 1; i < es.size(); ++i) {
        datagram_then_frames =
            datagram_then_frames && es[i].kind == Kind::kFrame;
      }
      if (!error_only && !datagram_then_frames) {
        return Fail(
            "a datagram vector expects either one 'expect error CODE' or "
            "'expect datagram KIND' followed by its frames");
      }
    }
    current_ = nullptr;
    return true;
  }

  std::string_view path_;
  std::vector<Vector>* out_;
  Vector* current_ = nullptr;
  std::set<std::string> names_;
  std::string bytes_;
  bool kind_set_ = false;
  bool max_set_ = false;
  bool saw_hex_ = false;
  int line_ = 0;
  std::string message_;
};

}  // namespace

bool ParseVectorFile(std::string_view path, std::string_view text,
                     std::vector<Vector>* out, std::string* error) {
  Parser parser(path, out);
  return parser.Parse(text, error);
}

bool LoadVectorFile(const std::string& path, std::vector<Vector>* out,
                    std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = Cat(path, ": cannot open");
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParseVectorFile(path, text.str(), out, error);
}

std::string_view DatagramKindName(DatagramKind kind) {
  return NameIn(kDatagramKindNames, kind);
}
bool ParseDatagramKind(std::string_view name, DatagramKind* out) {
  return ParseIn(kDatagramKindNames, name, out);
}
std::string_view StartModeName(StartMode mode) {
  return NameIn(kStartModeNames, mode);
}
bool ParseStartMode(std::string_view name, StartMode* out) {
  return ParseIn(kStartModeNames, name, out);
}
std::string_view ResponseStatusName(ResponseStatus status) {
  return NameIn(kResponseStatusNames, status);
}
bool ParseResponseStatus(std::string_view name, ResponseStatus* out) {
  return ParseIn(kResponseStatusNames, name, out);
}

std::string ToHex(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::byte b : bytes) {
    const auto v = static_cast<unsigned>(b);
    out.push_back(kDigits[v >> 4]);
    out.push_back(kDigits[v & 0xF]);
  }
  return out;
}

}  // namespace tachyon::protocol::golden
