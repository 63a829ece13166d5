#include "config/problems.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "config/keys.h"

namespace tachyon::config::internal {

std::string Quoted(std::string_view text) { return Cat("'", text, "'"); }

namespace {

// Optimal string alignment distance (Levenshtein plus adjacent swaps), so
// "wrokers" is one edit from "workers".
int EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<int>> d(a.size() + 1,
                                  std::vector<int>(b.size() + 1, 0));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = static_cast<int>(i);
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = static_cast<int>(j);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] =
          std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::string DidYouMean(std::string_view name,
                       std::span<const std::string_view> known) {
  std::string lower(name);
  for (char& ch : lower) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  std::string_view best;
  int best_distance = 3;  // suggest only within two edits
  for (std::string_view candidate : known) {
    const int d = EditDistance(lower, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best.empty() ? std::string() : Cat("; did you mean '", best, "'?");
}

std::string UnknownKeyMessage(std::string_view what, std::string_view name,
                              std::span<const std::string_view> known) {
  return Cat("unknown ", what, DidYouMean(name, known));
}

std::string Join(std::span<const std::string_view> parts,
                 std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

std::string_view ParentKey(std::string_view key) {
  const std::size_t cut = key.find_last_of(".[");
  return cut == std::string_view::npos ? std::string_view()
                                       : key.substr(0, cut);
}

void Problems::Add(std::string_view key, std::string_view message) {
  const KeyOrigin* exact = Find(key);
  if (exact != nullptr && !exact->flag.empty()) {
    list_.push_back({0, Cat(exact->flag, ": ", message)});
    return;
  }
  const std::string note = InheritedNote(key, exact);
  std::uint32_t line = 0;
  for (std::string_view k = key; line == 0 && !k.empty(); k = ParentKey(k)) {
    const KeyOrigin* o = Find(k);
    if (o == nullptr) continue;
    if (!o->flag.empty()) {
      list_.push_back({0, Cat(o->flag, ": ", key, ": ", message, note)});
      return;
    }
    line = o->line;
  }
  std::string where;
  if (line != 0) {
    where = Cat(source_, ":", line, ": ");
  } else if (!source_.empty()) {
    where = Cat(source_, ": ");
  }
  list_.push_back({line, Cat(where, key, ": ", message, note)});
}

void Problems::AddRaw(std::uint32_t line, std::string text) {
  list_.push_back({line, std::move(text)});
}

absl::Status Problems::ToStatus() {
  if (list_.empty()) return absl::OkStatus();
  std::stable_sort(
      list_.begin(), list_.end(),
      [](const Problem& a, const Problem& b) { return a.line < b.line; });
  std::vector<std::string_view> lines;
  for (const Problem& p : list_) lines.push_back(p.text);
  return absl::InvalidArgumentError(Join(lines, "\n"));
}

const KeyOrigin* Problems::Find(std::string_view key) const {
  if (origins_ == nullptr) return nullptr;
  auto it = origins_->find(AbslView(key));
  return it == origins_->end() ? nullptr : &it->second;
}

std::string Problems::InheritedNote(std::string_view key,
                                    const KeyOrigin* exact) const {
  if (origins_ == nullptr || exact != nullptr) return "";
  for (const ArrayInfo& array : kArrays) {
    if (array.inherits.empty() || !key.starts_with(array.key) ||
        !key.substr(array.key.size()).starts_with("[")) {
      continue;
    }
    // The entry omitted the key, so its value came from the table.
    const std::string inherited =
        Cat(array.inherits, key.substr(key.rfind('.')));
    const KeyOrigin* from = Find(inherited);
    return Cat(" (inherited from ",
               from != nullptr && !from->flag.empty() ? from->flag : inherited,
               ")");
  }
  return "";
}

}  // namespace tachyon::config::internal
