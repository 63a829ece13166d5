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
//   Version 2 (authenticated, PROTOCOL.md 16.7) inserts a producer id after
//   source_id and ends with a 16-byte MAC over every byte before it
//   (tachyon/protocol/datagram_mac.h computes and checks it):
//
//   |  ... the 24 bytes above, version = 2 ...                      |  0
//   +-------------------------------+-------------------------------+
//   |       producer_id (u32)       |        reserved (u32, 0)      | 24
//   +-------------------------------+-------------------------------+
//   |  frames ...                                                   | 32
//   +---------------------------------------------------------------+
//   |  mac (16 bytes): SipHash-2-4-128 of bytes [0, size - 16)      | size-16
//
//   DecodeDatagram checks the layout only; the MAC needs the producer's key.
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
/// Datagram versions: 1 plain, 2 authenticated (PROTOCOL.md 16.7).
inline constexpr std::uint8_t kDatagramVersion = 1;
inline constexpr std::uint8_t kAuthenticatedDatagramVersion = 2;
/// A version-2 datagram's header (the version-1 header, producer_id and a
/// reserved u32) and its MAC trailer.
inline constexpr std::size_t kAuthenticatedHeaderLength = 32;
inline constexpr std::size_t kDatagramMacLength = 16;
/// The smallest version-2 datagram: header and MAC, no frames.
inline constexpr std::size_t kMinAuthenticatedDatagramLength =
    kAuthenticatedHeaderLength + kDatagramMacLength;
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

  /// 1 (plain) or 2 (authenticated).
  [[nodiscard]] std::uint8_t version() const { return LoadU8(bytes_.data()); }
  [[nodiscard]] bool authenticated() const {
    return !bytes_.empty() && version() == kAuthenticatedDatagramVersion;
  }
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
  /// Version 2: the producer (key) id; 0 for a version-1 datagram.
  [[nodiscard]] std::uint32_t producer_id() const {
    return authenticated() ? LoadU32(bytes_.data() + 24) : 0;
  }
  /// The frames after the header and before the MAC (empty for a
  /// default-constructed view).
  [[nodiscard]] std::span<const std::byte> frames() const {
    if (bytes_.size() < kDatagramHeaderLength) return {};
    if (!authenticated()) return bytes_.subspan(kDatagramHeaderLength);
    return bytes_.subspan(kAuthenticatedHeaderLength,
                          bytes_.size() - kMinAuthenticatedDatagramLength);
  }
  /// Version 2: the bytes the MAC covers (all before it) and the MAC.
  [[nodiscard]] std::span<const std::byte> mac_covered() const {
    if (!authenticated()) return {};
    return bytes_.first(bytes_.size() - kDatagramMacLength);
  }
  [[nodiscard]] std::span<const std::byte> mac() const {
    if (!authenticated()) return {};
    return bytes_.last(kDatagramMacLength);
  }
  /// The whole datagram.
  [[nodiscard]] std::span<const std::byte> bytes() const { return bytes_; }
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
/// follow the last frame (version 2: none between it and the MAC). A
/// truncated frame is BAD_BODY_LENGTH (a datagram never continues in the
/// next one). Version 2's MAC is not checked here (VerifyDatagramMac, which
/// needs the producer's key). Pure; never allocates.
inline DatagramResult DecodeDatagram(std::span<const std::byte> bytes,
                                     std::uint32_t max_frame_length) {
  DatagramResult r;
  if (bytes.size() < kDatagramHeaderLength) {
    r.error = ErrorCode::kFrameTooShort;
    return r;
  }
  const std::byte* p = bytes.data();
  const std::uint8_t version = LoadU8(p);
  if (version != kDatagramVersion && version != kAuthenticatedDatagramVersion) {
    r.error = ErrorCode::kUnsupportedVersion;
    return r;
  }
  const bool authenticated = version == kAuthenticatedDatagramVersion;
  if (authenticated && bytes.size() < kMinAuthenticatedDatagramLength) {
    r.error = ErrorCode::kFrameTooShort;
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
      heartbeat != (count == 0) ||
      (authenticated && (LoadU32(p + 24) == 0 || LoadU32(p + 28) != 0))) {
    r.error = ErrorCode::kBadField;
    return r;
  }
  std::span<const std::byte> rest =
      authenticated
          ? bytes.subspan(kAuthenticatedHeaderLength,
                          bytes.size() - kMinAuthenticatedDatagramLength)
          : bytes.subspan(kDatagramHeaderLength);
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
  StoreU8(p, kDatagramVersion);
  StoreU8(p + 1, static_cast<std::uint8_t>(kind));
  StoreU16(p + 2, count);
  StoreU32(p + 4, stream.value());
  StoreU64(p + 8, first.value());
  StoreU64(p + 16, source_id);
  return kDatagramHeaderLength;
}

/// Writes a version-2 (authenticated) datagram header for producer
/// `producer_id` (>= 1). Returns kAuthenticatedHeaderLength, or 0 if `out`
/// is too small. The caller appends the frames, then SignDatagram
/// (datagram_mac.h) writes the MAC into the last kDatagramMacLength bytes.
inline std::size_t EncodeAuthenticatedDatagramHeader(
    std::span<std::byte> out, DatagramKind kind, std::uint16_t count,
    StreamId stream, Sequence first, std::uint64_t source_id,
    std::uint32_t producer_id) {
  if (out.size() < kAuthenticatedHeaderLength) return 0;
  EncodeDatagramHeader(out, kind, count, stream, first, source_id);
  std::byte* p = out.data();
  StoreU8(p, kAuthenticatedDatagramVersion);
  StoreU32(p + 24, producer_id);
  StoreU32(p + 28, 0);
  return kAuthenticatedHeaderLength;
}

}  // namespace tachyon::protocol

#endif  // TACHYON_PROTOCOL_DATAGRAM_H_
