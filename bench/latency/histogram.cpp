#include "histogram.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace tachyon::bench {
namespace {

// 3 significant digits need 2 * 10^3 distinct steps per power of ten's worth
// of range; 2048 sub-buckets per power of two (11 bits) give that.
constexpr int kSubBucketBits = 11;
constexpr std::int64_t kSubBucketCount = std::int64_t{1} << kSubBucketBits;
constexpr std::int64_t kSubBucketHalf = kSubBucketCount / 2;
// Buckets after the first: each doubles the range and uses the top half of
// its sub-buckets. Enough to cover kHighest.
constexpr int kBucketCount =
    64 -
    std::countl_zero(static_cast<std::uint64_t>(LatencyHistogram::kHighest >>
                                                kSubBucketBits)) +
    1;
constexpr std::size_t kCounts = static_cast<std::size_t>(
    kSubBucketCount + (kBucketCount - 1) * kSubBucketHalf);

}  // namespace

LatencyHistogram::LatencyHistogram() : counts_(kCounts, 0) {}

std::size_t LatencyHistogram::IndexOf(std::int64_t value) {
  const auto v = static_cast<std::uint64_t>(std::max<std::int64_t>(value, 0));
  // Bucket b holds values in [2^(b+10), 2^(b+11)) for b >= 1 with a step of
  // 2^b; bucket 0 holds [0, 2048) with step 1.
  const int magnitude = 64 - std::countl_zero(v | (kSubBucketCount - 1));
  const int bucket = magnitude - kSubBucketBits;
  const std::uint64_t sub = v >> bucket;  // in [1024, 2048) for bucket > 0
  if (bucket == 0) return static_cast<std::size_t>(sub);
  return static_cast<std::size_t>(
      kSubBucketCount + (bucket - 1) * kSubBucketHalf +
      (static_cast<std::int64_t>(sub) - kSubBucketHalf));
}

std::int64_t LatencyHistogram::HighestEquivalent(std::size_t index) {
  const auto i = static_cast<std::int64_t>(index);
  if (i < kSubBucketCount) return i;
  const std::int64_t bucket = (i - kSubBucketCount) / kSubBucketHalf + 1;
  const std::int64_t sub =
      (i - kSubBucketCount) % kSubBucketHalf + kSubBucketHalf;
  return ((sub + 1) << bucket) - 1;
}

void LatencyHistogram::Record(std::int64_t value_ns) {
  std::int64_t v = std::clamp(value_ns, kLowest, kHighest);
  ++counts_[IndexOf(v)];
  ++count_;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
  sum_ += static_cast<double>(v);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < counts_.size(); ++i)
    counts_[i] += other.counts_[i];
  count_ += other.count_;
  if (other.count_ > 0) {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  sum_ += other.sum_;
}

void LatencyHistogram::Reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = INT64_MAX;
  max_ = 0;
  sum_ = 0;
}

double LatencyHistogram::mean() const {
  return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_);
}

std::int64_t LatencyHistogram::ValueAtPercentile(double percentile) const {
  if (count_ == 0) return 0;
  const double p = std::clamp(percentile, 0.0, 100.0);
  auto target = static_cast<std::uint64_t>(
      std::ceil(p / 100.0 * static_cast<double>(count_)));
  target = std::max<std::uint64_t>(target, 1);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= target) return std::min(HighestEquivalent(i), max_);
  }
  return max_;
}

std::string LatencyHistogram::Serialize() const {
  std::ostringstream out;
  out.precision(17);
  out << count_ << ' ' << (count_ ? min_ : 0) << ' ' << max_ << ' ' << sum_;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] != 0) out << ' ' << i << ':' << counts_[i];
  }
  return out.str();
}

bool LatencyHistogram::Parse(std::string_view text) {
  Reset();
  auto next_token = [&text]() -> std::string_view {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    const std::size_t end = std::min(text.find(' '), text.size());
    std::string_view tok = text.substr(0, end);
    text.remove_prefix(end);
    return tok;
  };
  auto to_u64 = [](std::string_view s, std::uint64_t* v) {
    return !s.empty() &&
           std::from_chars(s.data(), s.data() + s.size(), *v).ec == std::errc{};
  };
  std::uint64_t count, min, max;
  if (!to_u64(next_token(), &count) || !to_u64(next_token(), &min) ||
      !to_u64(next_token(), &max)) {
    return false;
  }
  const std::string sum_text(next_token());
  char* end = nullptr;
  const double sum = std::strtod(sum_text.c_str(), &end);
  if (end == sum_text.c_str()) return false;
  std::uint64_t total = 0;
  for (std::string_view tok = next_token(); !tok.empty(); tok = next_token()) {
    const std::size_t colon = tok.find(':');
    std::uint64_t index, n;
    if (colon == std::string_view::npos ||
        !to_u64(tok.substr(0, colon), &index) ||
        !to_u64(tok.substr(colon + 1), &n) || index >= counts_.size()) {
      return false;
    }
    counts_[index] += n;
    total += n;
  }
  if (total != count) return false;
  count_ = count;
  min_ = count ? static_cast<std::int64_t>(min) : INT64_MAX;
  max_ = static_cast<std::int64_t>(max);
  sum_ = sum;
  return true;
}

}  // namespace tachyon::bench
