// What every workload's messages carry and how receivers account for them:
// a 16-byte stamp at the start of each payload (message index, then a
// CLOCK_MONOTONIC time in ns, shared by all processes on the host) and a
// ledger of exactly which indices arrived, in which order; and how a
// fan-out subscriber's report of them is added to a Result.
#ifndef TACHYON_BENCH_LATENCY_DELIVERY_H_
#define TACHYON_BENCH_LATENCY_DELIVERY_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "histogram.h"
#include "workloads.h"

namespace tachyon::bench {

inline constexpr std::size_t kStampBytes = 16;

inline void Stamp(std::byte* p, std::uint64_t index, std::int64_t ns) {
  std::memcpy(p, &index, 8);
  std::memcpy(p + 8, &ns, 8);
}

inline void ReadStamp(std::span<const std::byte> p, std::uint64_t* index,
                      std::int64_t* ns) {
  std::memcpy(index, p.data(), 8);
  std::memcpy(ns, p.data() + 8, 8);
}

/// Tracks exactly which message indices in [0, total) arrived, in which
/// order. An index out of range counts as a duplicate (an anomaly). With
/// several senders, sender k of `lanes` sends indices k, k + lanes, ...;
/// order is checked per sender (senders do not order among themselves).
class DeliveryLedger {
 public:
  explicit DeliveryLedger(std::uint64_t total, std::uint64_t lanes = 1)
      : seen_(total, false), highest_(std::max<std::uint64_t>(lanes, 1), 0) {}
  void Add(std::uint64_t index) {
    if (index >= seen_.size()) {
      ++duplicated_;  // not a message we sent; count it as an anomaly
      return;
    }
    if (seen_[index]) {
      ++duplicated_;
      return;
    }
    seen_[index] = true;
    std::uint64_t& highest = highest_[index % highest_.size()];
    // highest + 1: the lane's next index; 0 before its first arrival.
    if (index + 1 < highest) ++reordered_;
    ++unique_;
    highest = std::max(highest, index + 1);
  }
  [[nodiscard]] std::uint64_t unique() const { return unique_; }
  /// "unique duplicated reordered".
  [[nodiscard]] std::string Summary() const {
    return std::to_string(unique_) + " " + std::to_string(duplicated_) + " " +
           std::to_string(reordered_);
  }

 private:
  std::vector<bool> seen_;
  std::uint64_t unique_ = 0;
  std::uint64_t duplicated_ = 0;
  std::uint64_t reordered_ = 0;
  std::vector<std::uint64_t> highest_;  // per lane: highest index seen + 1
};

/// Adds one fan-out subscriber's report to `*r`, a run that published
/// `total` messages: the line is DeliveryLedger::Summary(), a space and its
/// LatencyHistogram::Serialize(). Latency merged; received, lost,
/// duplicated and reordered summed. False if the histogram is unreadable.
inline bool AddSubscriberReport(const std::string& line, std::uint64_t total,
                                Result* r) {
  std::istringstream in(line);
  std::uint64_t unique = 0, dup = 0, reorder = 0;
  in >> unique >> dup >> reorder;
  std::string rest;
  std::getline(in, rest);
  LatencyHistogram h;
  if (!h.Parse(rest)) return false;
  r->latency.Merge(h);
  r->received += unique;
  r->lost += total - std::min(unique, total);
  r->duplicated += dup;
  r->reordered += reorder;
  return true;
}

}  // namespace tachyon::bench

#endif  // TACHYON_BENCH_LATENCY_DELIVERY_H_
