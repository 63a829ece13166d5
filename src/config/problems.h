// Internal to the config module: where each key's value came from, and the
// problems reported against keys, which the reader (reader.cpp) and
// validation (validate.cpp) share.
//
// Overview
//   The reader records an origin per dotted key it reads: the file line, or
//   the override (flag) that set it. Problems::Add then words each problem
//   as "file:line: key: message" or "--flag: message"; a key without an
//   origin of its own is located at its nearest recorded parent
//   ("streams.policies[0].window_bytes" -> "streams.policies[0]" ->
//   "streams"), and worded "--flag: key: message" if that parent came from
//   a flag (a whole [[backends]] entry that --backend added). A config
//   built in code has no origins: problems name the dotted key alone.
//
// Example
//   Origins origins;  // filled by the reader
//   Problems problems("gateway.toml", &origins);
//   problems.Add("gateway.workers", "must be between 1 and 64, got 0");
//   absl::Status status = problems.ToStatus();  // InvalidArgument
//
// Threading: plain objects for one load on one thread.
#ifndef TACHYON_CONFIG_PROBLEMS_H_
#define TACHYON_CONFIG_PROBLEMS_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/strings.h"

namespace tachyon::config::internal {

/// absl::StrCat that also takes std::string_view (Debian's Abseil has its
/// own absl::string_view; see base/strings.h).
template <typename... Args>
std::string Cat(const Args&... args) {
  auto piece = [](const auto& v) -> decltype(auto) {
    if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string_view>) {
      return AbslView(v);
    } else {
      return (v);
    }
  };
  return absl::StrCat(piece(args)...);
}

/// "'text'", as errors quote values.
std::string Quoted(std::string_view text);

/// `parts` separated by `separator`.
std::string Join(std::span<const std::string_view> parts,
                 std::string_view separator);

/// "unknown WHAT", with "; did you mean 'X'?" when one of `known` is
/// within two edits of `name` (edits: insert, delete, replace, swap two
/// adjacent characters). Config keys and command-line flags are suggested
/// alike.
std::string UnknownKeyMessage(std::string_view what, std::string_view name,
                              std::span<const std::string_view> known);

/// "; did you mean 'X'?" when one of `known` is within two edits of `name`
/// (ignoring case), else "". Enum values are suggested this way.
std::string DidYouMean(std::string_view name,
                       std::span<const std::string_view> known);

/// Where a key's value came from.
struct KeyOrigin {
  std::uint32_t line = 0;  ///< 0: not from a file line
  std::string flag;        ///< non-empty: from this override ("--workers")
};
/// Dotted key ("udp.groups[1].ttl") -> where its value came from.
using Origins = absl::flat_hash_map<std::string, KeyOrigin>;

/// "streams.policies[0].window_bytes" -> "streams.policies[0]" -> "streams"
/// -> "".
std::string_view ParentKey(std::string_view key);

/// The problems found in one load, worded against the keys' origins.
class Problems {
 public:
  /// `source` names the file in messages ("" for a config built in code);
  /// `origins` may be null (no origins) and must outlive this object.
  Problems(std::string_view source, const Origins* origins)
      : source_(source), origins_(origins) {}

  /// A problem with `key`'s value: "source:line: key: message", or
  /// "--flag: message" when an override set the key, or "--flag: key:
  /// message" when an override set a parent of it. An entry key an array
  /// entry inherited is noted as such ("(inherited from
  /// streams.window_bytes)").
  void Add(std::string_view key, std::string_view message);
  /// A problem worded by the caller, sorted as if at `line`.
  void AddRaw(std::uint32_t line, std::string text);

  /// OK if there were none; else InvalidArgument, one line per problem in
  /// file order (those without a line first, in the order they were added).
  absl::Status ToStatus();

 private:
  struct Problem {
    std::uint32_t line;
    std::string text;
  };
  const KeyOrigin* Find(std::string_view key) const;
  // " (inherited from ...)" for an array entry's key the entry omitted, or
  // "".
  std::string InheritedNote(std::string_view key, const KeyOrigin* exact) const;

  std::string source_;
  const Origins* origins_;
  std::vector<Problem> list_;
};

}  // namespace tachyon::config::internal

#endif  // TACHYON_CONFIG_PROBLEMS_H_
