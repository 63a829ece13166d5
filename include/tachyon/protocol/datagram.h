// tachyon/protocol/datagram.h — the UDP datagram layout (ingress and egress).
//
// Overview
//   A datagram carries a 24-byte header and then `message_count` whole frames
//   of one stream, back to back, each padded to 8 bytes, in the manner of
//   MoldUDP64. Gateway -> subscriber datagrams carry DATA frames straight from
//   the stream log; producer -> gateway datagrams carry PUBLISH frames.
//   A HEARTBEAT datagram carries no frames and tells a receiver the next
//   sequence, so loss at the tail of a burst is detected while a stream idles.
//
//    0               1               2               3
//   +---------------+---------------+-------------------------------+
//   | version (u8)  |   kind (u8)   |      message_count (u16)      |  0
//   +---------------+---------------+-------------------------------+
//   |                      stream id (u32)                          |  4
//   +---------------------------------------------------------------+
//   |                  first_sequence (u64)                         |  8
//   +---------------------------------------------------------------+
//   |                     source_id (u64)                           | 16
//   +---------------------------------------------------------------+
//   |  frames ...                                                   | 24
//
//   kind 1 DATA:      count >= 1 DATA frames of `stream id`, sequences
//                     first_sequence .. first_sequence + count - 1.
//   kind 2 PUBLISH:   count >= 1 PUBLISH frames of `stream id`; first_sequence
//                     is the producer's own per-stream sequence of the first
//                     frame (the gateway drops duplicates and counts gaps per
//                     source_id).
//   kind 3 HEARTBEAT: count 0, no frames; first_sequence is the next sequence
//                     the sender will send.
//   source_id: non-zero; the gateway's instance id on egress, a producer's
//   random id on ingress.
//
// Example
//   auto d = tachyon::protocol::DecodeDatagram(bytes, max_frame_length);
//   if (d.error == tachyon::protocol::ErrorCode::kNone)
//     for (FrameView f : d) Handle(f);
#ifndef TACHYON_PROTOCOL_DATAGRAM_H_
#define TACHYON_PROTOCOL_DATAGRAM_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "tachyon/protocol/frame.h"

namespace tachyon::protocol {

inline constexpr std::size_t kDatagramHeaderLength = 24;
/// Default datagram size limit: a 1500-byte Ethernet MTU less IPv4 and UDP
/// headers.
inline constexpr std::size_t kDefaultMaxDatagramLength = 1472;

enum class DatagramKind : std::uint8_t {
  kData = 1,
  kPublish = 2,
  kHeartbeat = 3,
};

/// A validated datagram: header fields plus iteration over its frames.
class DatagramView {
 public:
  class Iterator {
   public:
    Iterator(std::span<const std::byte> rest, std::uint32_t max)
        : rest_(rest), max_(max) {}
    FrameView operator*() const { return DecodeFrame(rest_, max_).frame; }
    Iterator& operator++() {
      rest_ = rest_.subspan(DecodeFrame(rest_, max_).consumed);
      return *this;
    }
    bool operator!=(const Iterator& o) const {
      return rest_.size() != o.rest_.size();
    }

   private:
    std::span<const std::byte> rest_;
    std::uint32_t max_;
  };

  DatagramView() = default;
  DatagramView(std::span<const std::byte> bytes ABSL_ATTRIBUTE_LIFETIME_BOUND,
               std::uint32_t max_frame_length)
      : bytes_(bytes), max_frame_length_(max_frame_length) {}

  [[nodiscard]] DatagramKind kind() const {
    return static_cast<DatagramKind>(LoadU8(bytes_.data() + 1));
  }
  [[nodiscard]] std::uint16_t message_count() const {
    return LoadU16(bytes_.data() + 2);
  }
  [[nodiscard]] StreamId stream_id() const {
    return StreamId{LoadU32(bytes_.data() + 4)};
  }
  [[nodiscard]] Sequence first_sequence() const {
    return Sequence{LoadU64(bytes_.data() + 8)};
  }
  [[nodiscard]] std::uint64_t source_id() const {
    return LoadU64(bytes_.data() + 16);
  }
  /// The frames after the header (empty for a default-constructed view).
  [[nodiscard]] std::span<const std::byte> frames() const {
    if (bytes_.size() < kDatagramHeaderLength) return {};
    return bytes_.subspan(kDatagramHeaderLength);
  }
  [[nodiscard]] Iterator begin() const {
    return Iterator(frames(), max_frame_length_);
  }
  [[nodiscard]] Iterator end() const {
    return Iterator(frames().last(0), max_frame_length_);
  }

 private:
  std::span<const std::byte> bytes_;
  std::uint32_t max_frame_length_ = kDefaultMaxFrameLength;
};

struct DatagramResult {
  ErrorCode error = ErrorCode::kNone;
  DatagramView view;
  [[nodiscard]] DatagramView::Iterator begin() const { return view.begin(); }
  [[nodiscard]] DatagramView::Iterator end() const { return view.end(); }
};

/// Validates a whole datagram: header, every frame (as DecodeFrame does), the
/// frame count, frame types and stream ids, DATA sequences, and that no bytes
/// follow the last frame. A truncated frame is BAD_BODY_LENGTH (a datagram
/// never continues in the next one). Pure; never allocates.
inline DatagramResult DecodeDatagram(std::span<const std::byte> bytes,
                                     std::uint32_t max_frame_length) {
  DatagramResult r;
  if (bytes.size() < kDatagramHeaderLength) {
    r.error = ErrorCode::kFrameTooShort;
    return r;
  }
  const std::byte* p = bytes.data();
  if (LoadU8(p) != kProtocolVersion) {
    r.error = ErrorCode::kUnsupportedVersion;
    return r;
  }
  const std::uint8_t kind = LoadU8(p + 1);
  const std::uint16_t count = LoadU16(p + 2);
  const std::uint32_t stream = LoadU32(p + 4);
  const std::uint64_t first = LoadU64(p + 8);
  MessageType expected;
  if (kind == static_cast<std::uint8_t>(DatagramKind::kData)) {
    expected = MessageType::kData;
  } else if (kind == static_cast<std::uint8_t>(DatagramKind::kPublish)) {
    expected = MessageType::kPublish;
  } else if (kind == static_cast<std::uint8_t>(DatagramKind::kHeartbeat)) {
    expected = MessageType::kHeartbeat;
  } else {
    r.error = ErrorCode::kUnknownType;
    return r;
  }
  const bool heartbeat = expected == MessageType::kHeartbeat;
  if (stream == 0 || first == 0 || LoadU64(p + 16) == 0 ||
      heartbeat != (count == 0)) {
    r.error = ErrorCode::kBadField;
    return r;
  }
  std::span<const std::byte> rest = bytes.subspan(kDatagramHeaderLength);
  for (std::uint16_t i = 0; i < count; ++i) {
    const DecodeResult f = DecodeFrame(rest, max_frame_length);
    if (f.status == DecodeStatus::kIncomplete) {
      r.error = ErrorCode::kBadBodyLength;
      return r;
    }
    if (f.status == DecodeStatus::kError) {
      r.error = f.error;
      return r;
    }
    if (f.frame.type() != expected || f.frame.stream_id().value() != stream ||
        (expected == MessageType::kData &&
         DataView(f.frame).sequence().value() != first + i)) {
      r.error = ErrorCode::kBadField;
      return r;
    }
    rest = rest.subspan(f.consumed);
  }
  if (!rest.empty()) {
    r.error = ErrorCode::kBadBodyLength;
    return r;
  }
  r.view = DatagramView(bytes, max_frame_length);
  return r;
}

/// Writes a datagram header. Returns kDatagramHeaderLength, or 0 if `out` is
/// too small. Frames are appended by the caller (or gathered with iovecs).
inline std::size_t EncodeDatagramHeader(std::span<std::byte> out,
                                        DatagramKind kind, std::uint16_t count,
                                        StreamId stream, Sequence first,
                                        std::uint64_t source_id) {
  if (out.size() < kDatagramHeaderLength) return 0;
  std::byte* p = out.data();
  StoreU8(p, kProtocolVersion);
  StoreU8(p + 1, static_cast<std::uint8_t>(kind));
  StoreU16(p + 2, count);
  StoreU32(p + 4, stream.value());
  StoreU64(p + 8, first.value());
  StoreU64(p + 16, source_id);
  return kDatagramHeaderLength;
}

}  // namespace tachyon::protocol

#endif  // TACHYON_PROTOCOL_DATAGRAM_H_
