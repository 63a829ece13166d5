#include "stat_metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tachyon::tools {
namespace {

// Debian's Abseil has its own string_view type.
absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }

bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         c == ':';
}
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

// Reads a metric (colons allowed) or label (no colons) name at text[*i].
bool ReadName(std::string_view text, std::size_t* i, bool metric,
              std::string* out) {
  const std::size_t start = *i;
  while (*i < text.size() && IsNameChar(text[*i]) &&
         (metric || text[*i] != ':')) {
    ++*i;
  }
  if (*i == start || !IsNameStart(text[start]) ||
      (!metric && text[start] == ':')) {
    return false;
  }
  out->assign(text.substr(start, *i - start));
  return true;
}

void SkipBlanks(std::string_view text, std::size_t* i) {
  while (*i < text.size() && (text[*i] == ' ' || text[*i] == '\t')) ++*i;
}

bool ParseValue(std::string_view s, double* out) {
  if (s == "+Inf" || s == "Inf") {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == "-Inf") {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == "NaN") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

absl::Status LineError(std::size_t line, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("line ", line, ": ", AV(what)));
}

// `# HELP name text` / `# TYPE name type` / any other comment.
absl::Status CheckComment(std::string_view line, std::size_t number) {
  std::string_view rest = line.substr(1);
  const std::size_t i0 = rest.find_first_not_of(" \t");
  if (i0 == std::string_view::npos) return absl::OkStatus();
  rest.remove_prefix(i0);
  const bool help = rest.starts_with("HELP ");
  const bool type = rest.starts_with("TYPE ");
  if (!help && !type) return absl::OkStatus();  // a plain comment
  rest.remove_prefix(5);
  std::size_t i = 0;
  SkipBlanks(rest, &i);
  std::string name;
  if (!ReadName(rest, &i, true, &name)) {
    return LineError(number, help ? "HELP without a metric name"
                                  : "TYPE without a metric name");
  }
  if (type) {
    SkipBlanks(rest, &i);
    static constexpr std::string_view kTypes[] = {
        "counter", "gauge", "histogram", "summary", "untyped"};
    const std::string_view t = rest.substr(i);
    if (std::find(std::begin(kTypes), std::end(kTypes), t) ==
        std::end(kTypes)) {
      return LineError(number, absl::StrCat("unknown metric type '",
                                            AV(t.substr(0, 32)), "'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<MetricsSample> ParseSample(std::string_view line,
                                          std::size_t number) {
  MetricsSample s;
  std::size_t i = 0;
  if (!ReadName(line, &i, true, &s.name)) {
    return LineError(number, "expected a metric name");
  }
  if (i < line.size() && line[i] == '{') {
    ++i;
    for (;;) {
      SkipBlanks(line, &i);
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      std::string key;
      if (!ReadName(line, &i, false, &key)) {
        return LineError(number, "expected a label name");
      }
      SkipBlanks(line, &i);
      if (i >= line.size() || line[i] != '=') {
        return LineError(number,
                         absl::StrCat("expected '=' after label '", key, "'"));
      }
      ++i;
      SkipBlanks(line, &i);
      if (i >= line.size() || line[i] != '"') {
        return LineError(
            number, absl::StrCat("label '", key, "': value must be quoted"));
      }
      ++i;
      std::string value;
      bool closed = false;
      while (i < line.size()) {
        const char c = line[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (i >= line.size()) break;
          const char e = line[i++];
          if (e == 'n') {
            value.push_back('\n');
          } else if (e == '\\' || e == '"') {
            value.push_back(e);
          } else {
            return LineError(number,
                             absl::StrCat("label '", key, "': bad escape"));
          }
        } else {
          value.push_back(c);
        }
      }
      if (!closed) {
        return LineError(number,
                         absl::StrCat("label '", key, "': unterminated value"));
      }
      s.labels.emplace_back(std::move(key), std::move(value));
      SkipBlanks(line, &i);
      if (i < line.size() && line[i] == ',') {
        ++i;
        continue;
      }
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      return LineError(number, "expected ',' or '}' in labels");
    }
  }
  if (i >= line.size() || (line[i] != ' ' && line[i] != '\t')) {
    return LineError(number, "expected a space before the value");
  }
  SkipBlanks(line, &i);
  const std::size_t value_end = line.find_first_of(" \t", i);
  const std::string_view value = line.substr(i, value_end - i);
  if (!ParseValue(value, &s.value)) {
    return LineError(number,
                     absl::StrCat("bad value '", AV(value.substr(0, 32)), "'"));
  }
  if (value_end != std::string_view::npos) {
    // An optional integer timestamp, then nothing.
    std::size_t j = value_end;
    SkipBlanks(line, &j);
    const std::string_view ts = line.substr(j);
    std::int64_t t = 0;
    const auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), t);
    if (!ts.empty() && (ec != std::errc() || end != ts.data() + ts.size())) {
      return LineError(number, "unexpected text after the value");
    }
  }
  return s;
}

bool Matches(const MetricsSample& s, std::string_view name,
             const LabelFilter& filter) {
  if (s.name != name) return false;
  return std::all_of(filter.begin(), filter.end(), [&s](const auto& f) {
    return s.label(f.first) == f.second;
  });
}

}  // namespace

std::string_view MetricsSample::label(std::string_view key) const {
  for (const auto& [k, v] : labels) {
    if (k == key) return v;
  }
  return {};
}

double Scrape::Sum(std::string_view name, const LabelFilter& filter) const {
  double sum = 0;
  for (const MetricsSample& s : samples_) {
    if (Matches(s, name, filter)) sum += s.value;
  }
  return sum;
}

std::map<std::string, double> Scrape::GroupBy(std::string_view name,
                                              std::string_view by,
                                              const LabelFilter& filter) const {
  std::map<std::string, double> out;
  for (const MetricsSample& s : samples_) {
    if (!Matches(s, name, filter)) continue;
    const auto it = std::find_if(s.labels.begin(), s.labels.end(),
                                 [by](const auto& l) { return l.first == by; });
    if (it != s.labels.end()) out[it->second] += s.value;
  }
  return out;
}

std::vector<std::string> Scrape::LabelValues(std::string_view name,
                                             std::string_view key) const {
  std::set<std::string> seen;
  for (const MetricsSample& s : samples_) {
    if (s.name != name) continue;
    for (const auto& [k, v] : s.labels) {
      if (k == key) seen.insert(v);
    }
  }
  return {seen.begin(), seen.end()};
}

double Scrape::Quantile(std::string_view name, double q,
                        const LabelFilter& filter) const {
  // Cumulative counts by upper bound, added up over matching series.
  std::map<double, double> cumulative;
  const std::string bucket = absl::StrCat(AV(name), "_bucket");
  for (const MetricsSample& s : samples_) {
    if (!Matches(s, bucket, filter)) continue;
    double le = 0;
    // A bound or count that is not a number (NaN, a negative or infinite
    // count) cannot place a quantile: such series are skipped.
    if (!ParseValue(s.label("le"), &le) || std::isnan(le) ||
        !std::isfinite(s.value) || s.value < 0) {
      continue;
    }
    cumulative[le] += s.value;
  }
  if (cumulative.empty()) return -1;
  const double total = cumulative.rbegin()->second;
  if (!(total > 0) || !std::isfinite(total)) return -1;
  const double rank = q * total;
  double lower = 0;
  double below = 0;
  double last_finite = 0;
  for (const auto& [le, count] : cumulative) {
    if (std::isinf(le)) return last_finite;
    if (count >= rank) {
      const double in_bucket = count - below;
      if (!(in_bucket > 0)) return le;
      const double v = lower + (le - lower) * ((rank - below) / in_bucket);
      // Buckets that are not cumulative (a scrape out of order) can put the
      // rank outside the bucket: report a bound rather than a stray value.
      return std::isfinite(v) ? std::clamp(v, std::min(lower, le), le) : le;
    }
    lower = le;
    below = count;
    last_finite = le;
  }
  return last_finite;
}

std::vector<std::string> Scrape::HistogramNames() const {
  std::set<std::string> names;
  for (const MetricsSample& s : samples_) {
    constexpr std::string_view kSuffix = "_bucket";
    if (s.name.size() > kSuffix.size() && s.name.ends_with(kSuffix) &&
        !s.label("le").empty()) {
      names.insert(s.name.substr(0, s.name.size() - kSuffix.size()));
    }
  }
  return {names.begin(), names.end()};
}

absl::StatusOr<Scrape> ParseMetricsText(std::string_view text) {
  std::vector<MetricsSample> samples;
  std::size_t number = 0;
  for (absl::string_view piece : absl::StrSplit(AV(text), '\n')) {
    ++number;
    std::string_view line(piece.data(), piece.size());
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos) continue;
    line.remove_prefix(first);
    if (line.front() == '#') {
      if (absl::Status st = CheckComment(line, number); !st.ok()) return st;
      continue;
    }
    absl::StatusOr<MetricsSample> s = ParseSample(line, number);
    if (!s.ok()) return s.status();
    samples.push_back(*std::move(s));
  }
  return Scrape(std::move(samples));
}

}  // namespace tachyon::tools
