// tachyon/protocol/frame_view.h — the common base of every message view.
//
// Overview
//   A FrameView borrows the bytes of one validated frame (header + body, not
//   the padding) and reads header fields in place. Typed views (DataView,
//   SubscribeView, ...) derive from it and add fixed-offset accessors. Views
//   never copy and never allocate; they are valid only while the buffer they
//   borrow is unchanged.
//
// Example
//   tachyon::protocol::FrameView frame = result.frame;
//   if (frame.type() == tachyon::protocol::MessageType::kData) {
//     tachyon::protocol::DataView data(frame);
//     Consume(data.sequence(), data.payload());
//   }
#ifndef TACHYON_PROTOCOL_FRAME_VIEW_H_
#define TACHYON_PROTOCOL_FRAME_VIEW_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/base/attributes.h"
#include "tachyon/common/types.h"
#include "tachyon/protocol/wire.h"

namespace tachyon::protocol {

/// A borrowed, already-validated frame. Cheap to copy (pointer + size).
class FrameView {
 public:
  FrameView() = default;
  /// `frame` must span exactly the unpadded frame and must have passed
  /// DecodeFrame (or have been produced by an encoder). Borrows `frame`.
  explicit FrameView(
      std::span<const std::byte> frame ABSL_ATTRIBUTE_LIFETIME_BOUND)
      : frame_(frame) {}

  [[nodiscard]] std::uint32_t length() const {
    return static_cast<std::uint32_t>(frame_.size());
  }
  [[nodiscard]] std::size_t padded_length() const {
    return PaddedLength(frame_.size());
  }
  [[nodiscard]] std::uint8_t version() const {
    return LoadU8(frame_.data() + kVersionOffset);
  }
  [[nodiscard]] MessageType type() const {
    return static_cast<MessageType>(LoadU8(frame_.data() + kTypeOffset));
  }
  [[nodiscard]] std::uint16_t flags() const {
    return LoadU16(frame_.data() + kFlagsOffset);
  }
  [[nodiscard]] StreamId stream_id() const {
    return StreamId{LoadU32(frame_.data() + kStreamIdOffset)};
  }
  /// The whole unpadded frame.
  [[nodiscard]] std::span<const std::byte> bytes() const { return frame_; }
  [[nodiscard]] bool empty() const { return frame_.empty(); }

 protected:
  [[nodiscard]] const std::byte* at(std::size_t offset) const {
    return frame_.data() + offset;
  }
  [[nodiscard]] std::span<const std::byte> tail(std::size_t offset) const {
    return frame_.subspan(offset);
  }
  [[nodiscard]] std::span<const std::byte> slice(std::size_t offset,
                                                 std::size_t size) const {
    return frame_.subspan(offset, size);
  }

 private:
  std::span<const std::byte> frame_;
};

namespace internal {

/// Validation helper for bodies made of a fixed part then variable fields
/// whose lengths are declared in the fixed part.
constexpr ErrorCode CheckVariableLength(std::size_t frame_length,
                                        std::size_t fixed_length,
                                        std::size_t declared_variable) {
  if (frame_length < fixed_length) return ErrorCode::kBadBodyLength;
  if (frame_length - fixed_length != declared_variable) {
    return ErrorCode::kBadBodyLength;
  }
  return ErrorCode::kNone;
}

/// Starts an encode: checks capacity for a frame of unpadded `length`, writes
/// the header and zeroes the padding. Returns nullptr if `out` is too small.
inline std::byte* BeginFrame(std::span<std::byte> out, std::size_t length,
                             MessageType type, std::uint16_t flags,
                             std::uint32_t stream_id) {
  if (length > kMaxFrameLengthCeiling || out.size() < PaddedLength(length)) {
    return nullptr;
  }
  std::byte* p = out.data();
  StoreHeader(p, static_cast<std::uint32_t>(length), type, flags, stream_id);
  ZeroPadding(p, length);
  return p;
}

inline void CopyBytes(std::byte* dst, std::span<const std::byte> src) {
  if (!src.empty()) std::memcpy(dst, src.data(), src.size());
}

}  // namespace internal
}  // namespace tachyon::protocol

#endif  // TACHYON_PROTOCOL_FRAME_VIEW_H_
