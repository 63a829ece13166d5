// A small seeded random source for the pool's jitter (idle retirement,
// reconnect backoff). The policy code never draws from a global generator:
// the caller owns one SplitMix64 per worker and passes it in, so a test that
// seeds it gets the same decisions on every run and every platform.
//
// SplitMix64 (Steele, Lea, Flood 2014; the seeder of xoshiro): 64 bits of
// state, one add and three xor-shift-multiplies per draw, every seed valid
// (0 included), period 2^64. Statistically sound for spreading timers; not
// for anything an adversary may predict.
//
// Example:
//   backend::SplitMix64 rng(/*seed=*/worker_index + 1);
//   std::int64_t jitter_ns = rng.Uniform(-5'000'000'000, 5'000'000'000);
//
// Threading: not thread-safe; one instance per worker thread.
#ifndef TACHYON_BACKEND_RANDOM_H_
#define TACHYON_BACKEND_RANDOM_H_

#include <algorithm>
#include <cstdint>

namespace tachyon::backend {

/// Deterministic 64-bit generator; copyable, so a test can fork a stream.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}

  /// The next 64 uniformly distributed bits.
  std::uint64_t Next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  /// Uniform in [0, 1), 53 bits of precision.
  double NextDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  /// Uniform integer in [lo, hi] (both inclusive, any int64 values); lo
  /// when hi <= lo. One draw, no rejection loop: the bias is below 2^-53
  /// of a step for any span a timer uses.
  std::int64_t Uniform(std::int64_t lo, std::int64_t hi) {
    if (hi <= lo) return lo;
    // Unsigned, so INT64_MIN..INT64_MAX does not overflow.
    const std::uint64_t last =
        static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
    const double span = static_cast<double>(last) + 1.0;
    // 2^64 as a double; NextDouble() * span may round up to span itself.
    const double scaled = NextDouble() * span;
    const std::uint64_t offset =
        scaled >= 0x1.0p64 ? last
                           : std::min(static_cast<std::uint64_t>(scaled), last);
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + offset);
  }

 private:
  std::uint64_t state_;
};

}  // namespace tachyon::backend

#endif  // TACHYON_BACKEND_RANDOM_H_
