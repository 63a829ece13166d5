#include "admin/prometheus.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

namespace tachyon::admin {
namespace {

std::string_view TypeName(base::MetricType type) {
  switch (type) {
    case base::MetricType::kCounter:
      return "counter";
    case base::MetricType::kGauge:
      return "gauge";
    case base::MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// `{a="x",b="y"}` with `extra` (le="...") appended; "" without labels.
void AppendLabels(std::string& out, const base::Labels& labels,
                  std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (const base::Label& l : labels) {
    if (!first) out += ',';
    first = false;
    out += l.name;
    out += "=\"";
    out += EscapeLabelValue(l.value);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

void AppendHistogram(std::string& out, const base::MetricSample& s) {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i + 1 < base::kHistogramBuckets; ++i) {
    cumulative += s.buckets[i];
    const std::uint64_t upper = (std::uint64_t{1} << i) - 1;
    out += s.name;
    out += "_bucket";
    AppendLabels(out, s.labels, "le", std::to_string(upper));
    out += ' ';
    out += std::to_string(cumulative);
    out += '\n';
  }
  cumulative += s.buckets[base::kHistogramBuckets - 1];
  out += s.name;
  out += "_bucket";
  AppendLabels(out, s.labels, "le", "+Inf");
  out += ' ';
  out += std::to_string(cumulative);
  out += '\n';
  out += s.name;
  out += "_sum";
  AppendLabels(out, s.labels);
  out += ' ';
  out += std::to_string(s.sum);
  out += '\n';
  out += s.name;
  out += "_count";
  AppendLabels(out, s.labels);
  out += ' ';
  out += std::to_string(cumulative);
  out += '\n';
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string RenderPrometheus(const std::vector<base::MetricSample>& samples) {
  std::vector<const base::MetricSample*> sorted;
  sorted.reserve(samples.size());
  for (const base::MetricSample& s : samples) sorted.push_back(&s);
  // Stable: samples of one name keep the registry's (registration) order.
  std::stable_sort(
      sorted.begin(), sorted.end(),
      [](const base::MetricSample* a, const base::MetricSample* b) {
        return a->name < b->name;
      });
  std::string out;
  out.reserve(samples.size() * 96);
  std::string_view current;
  base::MetricType type = base::MetricType::kCounter;
  for (const base::MetricSample* s : sorted) {
    if (s->name != current) {
      current = s->name;
      type = s->type;
      out += "# HELP ";
      out += s->name;
      out += ' ';
      out += EscapeHelp(s->help);
      out += "\n# TYPE ";
      out += s->name;
      out += ' ';
      out += TypeName(s->type);
      out += '\n';
    }
    // A name registered with two types would make an invalid exposition;
    // the registry's users never do, and such a sample is left out.
    if (s->type != type) continue;
    switch (s->type) {
      case base::MetricType::kCounter:
        out += s->name;
        AppendLabels(out, s->labels);
        out += ' ';
        out += std::to_string(s->value);
        out += '\n';
        break;
      case base::MetricType::kGauge:
        out += s->name;
        AppendLabels(out, s->labels);
        out += ' ';
        out += std::to_string(s->gauge());
        out += '\n';
        break;
      case base::MetricType::kHistogram:
        AppendHistogram(out, *s);
        break;
    }
  }
  return out;
}

}  // namespace tachyon::admin
