// tachyon/protocol/data_messages.h — PUBLISH, PUBLISH_ACK and DATA.
//
// Overview
//   The hot path. A producer sends PUBLISH (24 bytes of overhead) to a stream
//   id it bound with OPEN_STREAM; the gateway appends one DATA frame (32 bytes
//   of overhead: header, sequence, gateway timestamp) to the stream log and
//   sends those exact bytes to every subscriber. PUBLISH_ACK answers a
//   PUBLISH that asked for it, and every PUBLISH the gateway refused.
//
//   For zero-copy writers, BeginData/BeginPublish write the fixed part and
//   return the payload area; the caller fills it in place.
//
// Example
//   std::size_t n = tachyon::protocol::EncodePublish(
//       buf, tachyon::StreamId{3}, /*correlation_id=*/42, payload,
//       tachyon::protocol::AckMode::kRequested);
#ifndef TACHYON_PROTOCOL_DATA_MESSAGES_H_
#define TACHYON_PROTOCOL_DATA_MESSAGES_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "tachyon/protocol/frame_view.h"

namespace tachyon::protocol {

/// Whether a PUBLISH asks for a PUBLISH_ACK on success.
enum class AckMode : std::uint8_t { kNone = 0, kRequested = 1 };

// PUBLISH (0x20), client -> gateway. Stream id: a stream this session opened.
// Flags: bit 0 ACK_REQUESTED.
//   16 u64 correlation_id   client-chosen, echoed in PUBLISH_ACK
//   24 payload (frame length - 24 bytes)
class PublishView : public FrameView {
 public:
  static constexpr MessageType kType = MessageType::kPublish;
  static constexpr std::size_t kFixedLength = 24;
  using FrameView::FrameView;
  explicit PublishView(FrameView f) : FrameView(f) {}

  static ErrorCode Validate(std::span<const std::byte> f) {
    if (f.size() < kFixedLength) return ErrorCode::kBadBodyLength;
    if ((LoadU16(f.data() + kFlagsOffset) & ~kFlagAckRequested) != 0 ||
        LoadU32(f.data() + kStreamIdOffset) == 0) {
      return ErrorCode::kBadField;
    }
    return ErrorCode::kNone;
  }
  [[nodiscard]] std::uint64_t correlation_id() const { return LoadU64(at(16)); }
  [[nodiscard]] bool ack_requested() const {
    return (flags() & kFlagAckRequested) != 0;
  }
  [[nodiscard]] std::span<const std::byte> payload() const {
    return tail(kFixedLength);
  }
};

/// Writes a PUBLISH header for a payload of `payload_size` bytes and returns
/// the payload area to fill, or an empty span if `out` is too small. The frame
/// occupies PaddedLength(24 + payload_size) bytes of `out`.
inline std::span<std::byte> BeginPublish(std::span<std::byte> out,
                                         StreamId stream,
                                         std::uint64_t correlation_id,
                                         std::size_t payload_size,
                                         AckMode ack) {
  const std::size_t len = PublishView::kFixedLength + payload_size;
  std::byte* p = internal::BeginFrame(
      out, len, MessageType::kPublish,
      ack == AckMode::kRequested ? kFlagAckRequested : 0, stream.value());
  if (p == nullptr) return {};
  StoreU64(p + 16, correlation_id);
  return {p + PublishView::kFixedLength, payload_size};
}

inline std::size_t EncodePublish(std::span<std::byte> out, StreamId stream,
                                 std::uint64_t correlation_id,
                                 std::span<const std::byte> payload,
                                 AckMode ack = AckMode::kNone) {
  std::span<std::byte> body =
      BeginPublish(out, stream, correlation_id, payload.size(), ack);
  if (body.data() == nullptr) return 0;
  internal::CopyBytes(body.data(), payload);
  return PaddedLength(PublishView::kFixedLength + payload.size());
}

// PUBLISH_ACK (0x21), gateway -> client. Stream id: the PUBLISH's. Flags 0.
// Length 40.
//   16 u64 correlation_id   from the PUBLISH
//   24 u64 sequence         assigned sequence when status = 0, else 0
//   32 u16 status           ErrorCode: 0 accepted; BACK_PRESSURED (retry),
//                           UNKNOWN_STREAM, LIMIT_EXCEEDED (refused)
//   34 u16 reserved         zero
//   36 u32 reserved         zero
class PublishAckView : public FrameView {
 public:
  static constexpr MessageType kType = MessageType::kPublishAck;
  static constexpr std::size_t kFixedLength = 40;
  using FrameView::FrameView;
  explicit PublishAckView(FrameView f) : FrameView(f) {}

  static ErrorCode Validate(std::span<const std::byte> f) {
    if (f.size() != kFixedLength) return ErrorCode::kBadBodyLength;
    const bool ok = LoadU16(f.data() + 32) == 0;
    const bool has_seq = LoadU64(f.data() + 24) != 0;
    if (LoadU16(f.data() + kFlagsOffset) != 0 ||
        LoadU32(f.data() + kStreamIdOffset) == 0 || ok != has_seq ||
        LoadU16(f.data() + 34) != 0 || LoadU32(f.data() + 36) != 0) {
      return ErrorCode::kBadField;
    }
    return ErrorCode::kNone;
  }
  [[nodiscard]] std::uint64_t correlation_id() const { return LoadU64(at(16)); }
  [[nodiscard]] Sequence sequence() const { return Sequence{LoadU64(at(24))}; }
  [[nodiscard]] ErrorCode status() const {
    return static_cast<ErrorCode>(LoadU16(at(32)));
  }
};

struct PublishAckFields {
  StreamId stream_id;
  std::uint64_t correlation_id = 0;
  Sequence sequence;  ///< set iff status == kNone
  ErrorCode status = ErrorCode::kNone;
};

inline std::size_t EncodePublishAck(std::span<std::byte> out,
                                    const PublishAckFields& m) {
  std::byte* p =
      internal::BeginFrame(out, PublishAckView::kFixedLength,
                           MessageType::kPublishAck, 0, m.stream_id.value());
  if (p == nullptr) return 0;
  StoreU64(p + 16, m.correlation_id);
  StoreU64(p + 24, m.status == ErrorCode::kNone ? m.sequence.value() : 0);
  StoreU16(p + 32, static_cast<std::uint16_t>(m.status));
  StoreU16(p + 34, 0);
  StoreU32(p + 36, 0);
  return PublishAckView::kFixedLength;
}

// DATA (0x22), gateway -> client. Stream id non-zero, flags 0.
//   16 u64 sequence       per-stream, contiguous, first is 1
//   24 i64 timestamp_ns   gateway receive time, CLOCK_REALTIME ns since epoch
//   32 payload (frame length - 32 bytes)
class DataView : public FrameView {
 public:
  static constexpr MessageType kType = MessageType::kData;
  static constexpr std::size_t kFixedLength = 32;
  using FrameView::FrameView;
  explicit DataView(FrameView f) : FrameView(f) {}

  static ErrorCode Validate(std::span<const std::byte> f) {
    if (f.size() < kFixedLength) return ErrorCode::kBadBodyLength;
    if (LoadU16(f.data() + kFlagsOffset) != 0 ||
        LoadU32(f.data() + kStreamIdOffset) == 0 ||
        LoadU64(f.data() + 16) == 0) {
      return ErrorCode::kBadField;
    }
    return ErrorCode::kNone;
  }
  [[nodiscard]] Sequence sequence() const { return Sequence{LoadU64(at(16))}; }
  [[nodiscard]] std::int64_t timestamp_ns() const { return LoadI64(at(24)); }
  [[nodiscard]] std::span<const std::byte> payload() const {
    return tail(kFixedLength);
  }
};

/// Writes a DATA header for a payload of `payload_size` bytes (and zeroes the
/// padding) and returns the payload area, or an empty span if `out` is too
/// small. Used by the stream log to build frames in place.
inline std::span<std::byte> BeginData(std::span<std::byte> out, StreamId stream,
                                      Sequence sequence,
                                      std::int64_t timestamp_ns,
                                      std::size_t payload_size) {
  const std::size_t len = DataView::kFixedLength + payload_size;
  std::byte* p =
      internal::BeginFrame(out, len, MessageType::kData, 0, stream.value());
  if (p == nullptr) return {};
  StoreU64(p + 16, sequence.value());
  StoreI64(p + 24, timestamp_ns);
  return {p + DataView::kFixedLength, payload_size};
}

inline std::size_t EncodeData(std::span<std::byte> out, StreamId stream,
                              Sequence sequence, std::int64_t timestamp_ns,
                              std::span<const std::byte> payload) {
  std::span<std::byte> body =
      BeginData(out, stream, sequence, timestamp_ns, payload.size());
  if (body.data() == nullptr) return 0;
  internal::CopyBytes(body.data(), payload);
  return PaddedLength(DataView::kFixedLength + payload.size());
}

}  // namespace tachyon::protocol

#endif  // TACHYON_PROTOCOL_DATA_MESSAGES_H_
