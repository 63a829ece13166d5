// Permissions: what a principal may publish, subscribe to, create and
// request, as allow and deny lists of names and prefix patterns.
//
// Overview
//   Each action has a NameFilter: an allow list and a deny list whose
//   entries are exact names or prefix patterns ending in '*' (the syntax
//   of PROTOCOL.md 9.2, matched by the stream registry's matcher: `md.*`
//   matches `md.eq.AAPL` as well as `md.x`; a lone `*` matches everything).
//   A name is allowed when an allow entry matches it and no deny entry does
//   (deny wins). An empty allow list allows nothing.
//
//   A pattern SUBSCRIBE ("md.*") is judged once, as a whole
//   (AllowsPattern): refused when no allow entry can match any stream it
//   could match, or when a deny entry matches every such stream; otherwise
//   accepted, and each stream it comes to match is checked once with
//   Allows when it is matched (never per message).
//
// Example
//   NameFilter f({"md.*"}, {"md.secret*"});
//   f.Allows("md.eq.AAPL");       // true
//   f.Allows("md.secret.x");      // false: deny wins
//   f.AllowsPattern("md.eq.*");   // kAll
//   f.AllowsPattern("*");         // kSome: each match filtered
//
// Threading: immutable after construction; read from any thread.
#ifndef TACHYON_AUTH_PERMISSIONS_H_
#define TACHYON_AUTH_PERMISSIONS_H_

#include <string>
#include <string_view>
#include <vector>

namespace tachyon::auth {

/// What a NameFilter says about a pattern.
enum class PatternVerdict {
  kNone,  ///< no stream the pattern matches may be used: refuse
  kSome,  ///< some may: accept, check each match with Allows
  kAll,   ///< every match is allowed
};

/// True when `entry` (a name or a prefix pattern) matches `name`.
bool EntryMatches(std::string_view entry, std::string_view name);

class NameFilter {
 public:
  NameFilter() = default;
  NameFilter(std::vector<std::string> allow, std::vector<std::string> deny)
      : allow_(std::move(allow)), deny_(std::move(deny)) {}

  /// True when an allow entry and no deny entry matches `name`.
  [[nodiscard]] bool Allows(std::string_view name) const;
  /// The verdict for a pattern ending in '*' (see the overview).
  [[nodiscard]] PatternVerdict AllowsPattern(std::string_view pattern) const;

  [[nodiscard]] const std::vector<std::string>& allow() const { return allow_; }
  [[nodiscard]] const std::vector<std::string>& deny() const { return deny_; }

 private:
  std::vector<std::string> allow_;
  std::vector<std::string> deny_;
};

/// The four actions a permission names; spelled as in the config keys.
enum class Action { kPublish, kSubscribe, kCreate, kRequest };
std::string_view ActionName(Action a);

struct Permissions {
  NameFilter publish;
  NameFilter subscribe;
  NameFilter create;
  NameFilter request;

  [[nodiscard]] const NameFilter& For(Action a) const;
};

}  // namespace tachyon::auth

#endif  // TACHYON_AUTH_PERMISSIONS_H_
