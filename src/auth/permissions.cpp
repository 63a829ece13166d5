#include "auth/permissions.h"

namespace tachyon::auth {

namespace {

bool IsPattern(std::string_view entry) {
  return !entry.empty() && entry.back() == '*';
}
std::string_view Prefix(std::string_view pattern) {
  return pattern.substr(0, pattern.size() - 1);
}

// Some name matches both `entry` and `pattern`.
bool Overlaps(std::string_view entry, std::string_view pattern) {
  const std::string_view p = Prefix(pattern);
  if (!IsPattern(entry)) return entry.starts_with(p);
  const std::string_view e = Prefix(entry);
  return e.starts_with(p) || p.starts_with(e);
}

// Every name `pattern` matches also matches `entry`.
bool Covers(std::string_view entry, std::string_view pattern) {
  return IsPattern(entry) && Prefix(pattern).starts_with(Prefix(entry));
}

}  // namespace

bool EntryMatches(std::string_view entry, std::string_view name) {
  // The registry's matcher semantics (stream::MatchesPattern): a pattern
  // matches every name starting with the part before its '*'.
  if (IsPattern(entry)) return name.starts_with(Prefix(entry));
  return entry == name;
}

bool NameFilter::Allows(std::string_view name) const {
  for (const std::string& d : deny_) {
    if (EntryMatches(d, name)) return false;
  }
  for (const std::string& a : allow_) {
    if (EntryMatches(a, name)) return true;
  }
  return false;
}

PatternVerdict NameFilter::AllowsPattern(std::string_view pattern) const {
  for (const std::string& d : deny_) {
    if (Covers(d, pattern)) return PatternVerdict::kNone;
  }
  bool covered = false;
  bool overlaps = false;
  for (const std::string& a : allow_) {
    if (Covers(a, pattern)) covered = true;
    if (Overlaps(a, pattern)) overlaps = true;
  }
  if (!overlaps) return PatternVerdict::kNone;
  if (!covered) return PatternVerdict::kSome;
  for (const std::string& d : deny_) {
    if (Overlaps(d, pattern)) return PatternVerdict::kSome;
  }
  return PatternVerdict::kAll;
}

std::string_view ActionName(Action a) {
  switch (a) {
    case Action::kPublish:
      return "publish";
    case Action::kSubscribe:
      return "subscribe";
    case Action::kCreate:
      return "create";
    case Action::kRequest:
      return "request";
  }
  return "?";
}

const NameFilter& Permissions::For(Action a) const {
  switch (a) {
    case Action::kPublish:
      return publish;
    case Action::kSubscribe:
      return subscribe;
    case Action::kCreate:
      return create;
    case Action::kRequest:
      break;
  }
  return request;
}

}  // namespace tachyon::auth
