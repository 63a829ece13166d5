// tachyon/common/types.h — strong value types shared by the gateway and
// clients.
//
// Overview
//   Identifiers that travel on the wire are distinct types so that a stream id
//   can never be passed where a sequence is expected. Each wraps one unsigned
//   integer, compares and hashes like it, and costs nothing at run time.
//
// Example
//   tachyon::StreamId id{7};
//   tachyon::Sequence next = tachyon::Sequence{41}.Next();   // 42
#ifndef TACHYON_COMMON_TYPES_H_
#define TACHYON_COMMON_TYPES_H_

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace tachyon {

/// One size for padding shared state apart (x86-64 and most AArch64 parts).
inline constexpr std::size_t kCacheLineSize = 64;

/// A strongly typed integer. `Tag` only distinguishes instantiations.
template <typename Tag, typename Rep>
class StrongId {
 public:
  using rep_type = Rep;
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep value) : value_(value) {}
  /// The raw value, for encoding and printing.
  [[nodiscard]] constexpr Rep value() const { return value_; }
  constexpr auto operator<=>(const StrongId&) const = default;

  template <typename H>
  friend H AbslHashValue(H h, StrongId id) {
    return H::combine(std::move(h), id.value_);
  }

 private:
  Rep value_ = 0;
};

/// A stream's numeric id, assigned by the gateway (0 means "no stream").
using StreamId = StrongId<struct StreamIdTag, std::uint32_t>;
/// A session's id, assigned by the gateway at LOGON.
using SessionId = StrongId<struct SessionIdTag, std::uint64_t>;
/// A client-chosen subscription id, unique within its session (0 is invalid).
using SubscriptionId = StrongId<struct SubscriptionIdTag, std::uint32_t>;

/// A per-stream message sequence number. The first message of every stream is
/// sequence 1; 0 means "none". Sequences are contiguous within a stream.
class Sequence {
 public:
  constexpr Sequence() = default;
  constexpr explicit Sequence(std::uint64_t value) : value_(value) {}
  [[nodiscard]] constexpr std::uint64_t value() const { return value_; }
  [[nodiscard]] constexpr Sequence Next() const { return Sequence{value_ + 1}; }
  constexpr auto operator<=>(const Sequence&) const = default;

  template <typename H>
  friend H AbslHashValue(H h, Sequence s) {
    return H::combine(std::move(h), s.value_);
  }

 private:
  std::uint64_t value_ = 0;
};

}  // namespace tachyon

template <typename Tag, typename Rep>
struct std::hash<tachyon::StrongId<Tag, Rep>> {
  std::size_t operator()(tachyon::StrongId<Tag, Rep> id) const noexcept {
    return std::hash<Rep>{}(id.value());
  }
};

#endif  // TACHYON_COMMON_TYPES_H_
