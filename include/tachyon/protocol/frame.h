// tachyon/protocol/frame.h — validate-once decoding of one frame.
//
// Overview
//   DecodeFrame looks at the front of a byte buffer and says one of three
//   things: here is a complete, fully validated frame (a view into the
//   buffer, plus how many bytes it occupies including padding); more bytes are
//   needed; or the bytes are malformed, with the specific ErrorCode. After a
//   kFrame result every accessor of the matching typed view is safe: the
//   decoder has checked length, version, type, padding and the type's layout.
//
//   Checks run in a fixed order, so each malformed input has one answer:
//     1. fewer than 4 bytes                         -> kIncomplete
//     2. length < 16                                -> FRAME_TOO_SHORT
//        length > max_frame_length                  -> FRAME_TOO_LONG
//     3. fewer than 16 bytes                        -> kIncomplete
//     4. version != 1                               -> UNSUPPORTED_VERSION
//        type not in the table                      -> UNKNOWN_TYPE
//        header reserved != 0                       -> BAD_FIELD
//     5. fewer than PaddedLength(length) bytes      -> kIncomplete
//     6. a padding byte != 0                        -> BAD_PADDING
//     7. the type's body checks                     ->
//     BAD_BODY_LENGTH/BAD_FIELD
//   Steps 2 and 4 answer before the whole frame has arrived, so a peer that
//   announces a 4 GiB frame is refused after 4 bytes.
//
//   Never allocates, never throws; cost is a handful of loads and compares.
//
// Example
//   auto r = tachyon::protocol::DecodeFrame(bytes, max_frame_length);
//   if (r.status == tachyon::protocol::DecodeStatus::kFrame) {
//     Handle(r.frame);
//     bytes = bytes.subspan(r.consumed);
//   }
#ifndef TACHYON_PROTOCOL_FRAME_H_
#define TACHYON_PROTOCOL_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "tachyon/protocol/data_messages.h"
#include "tachyon/protocol/frame_view.h"
#include "tachyon/protocol/request_messages.h"
#include "tachyon/protocol/session_messages.h"
#include "tachyon/protocol/stream_messages.h"
#include "tachyon/protocol/wire.h"

namespace tachyon::protocol {

enum class DecodeStatus : std::uint8_t {
  kFrame,       ///< `frame` is valid; `consumed` bytes (with padding) used
  kIncomplete,  ///< need more bytes; nothing consumed
  kError,       ///< malformed; `error` says how; the stream cannot resync
};

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kIncomplete;
  ErrorCode error = ErrorCode::kNone;
  FrameView frame;
  std::size_t consumed = 0;
};

/// Validates the body of a frame whose header checks (steps 1-6) passed.
/// `frame` spans the unpadded frame.
inline ErrorCode ValidateBody(MessageType type,
                              std::span<const std::byte> frame) {
  switch (type) {
    case MessageType::kData:
      return DataView::Validate(frame);
    case MessageType::kPublish:
      return PublishView::Validate(frame);
    case MessageType::kPublishAck:
      return PublishAckView::Validate(frame);
    case MessageType::kHeartbeat:
      return HeartbeatView::Validate(frame);
    case MessageType::kLogon:
      return LogonView::Validate(frame);
    case MessageType::kLogonAck:
      return LogonAckView::Validate(frame);
    case MessageType::kLogonReject:
    case MessageType::kError:
      return ErrorView::Validate(frame);
    case MessageType::kLogout:
      return LogoutView::Validate(frame);
    case MessageType::kOpenStream:
      return OpenStreamView::Validate(frame);
    case MessageType::kOpenStreamAck:
    case MessageType::kSubscribeAck:
      return StreamAckView::Validate(frame);
    case MessageType::kSubscribe:
      return SubscribeView::Validate(frame);
    case MessageType::kUnsubscribe:
      return UnsubscribeView::Validate(frame);
    case MessageType::kUdpSubscribe:
      return UdpSubscribeView::Validate(frame);
    case MessageType::kGap:
      return GapView::Validate(frame);
    case MessageType::kRequest:
      return RequestView::Validate(frame);
    case MessageType::kResponse:
      return ResponseView::Validate(frame);
    case MessageType::kServiceLookup:
      return ServiceLookupView::Validate(frame);
    case MessageType::kServiceLookupAck:
      return ServiceLookupAckView::Validate(frame);
  }
  return ErrorCode::kUnknownType;
}

/// Decodes the frame at the front of `bytes`. Borrows `bytes`: the returned
/// view is valid while they are. Thread-safe (pure function).
inline DecodeResult DecodeFrame(std::span<const std::byte> bytes,
                                std::uint32_t max_frame_length) {
  DecodeResult r;
  if (bytes.size() < 4) return r;
  const std::uint32_t length = LoadU32(bytes.data() + kLengthOffset);
  if (length < kHeaderLength) {
    r.status = DecodeStatus::kError;
    r.error = ErrorCode::kFrameTooShort;
    return r;
  }
  if (length > max_frame_length) {
    r.status = DecodeStatus::kError;
    r.error = ErrorCode::kFrameTooLong;
    return r;
  }
  if (bytes.size() < kHeaderLength) return r;
  const std::byte* p = bytes.data();
  ErrorCode header_error = ErrorCode::kNone;
  if (LoadU8(p + kVersionOffset) != kProtocolVersion) {
    header_error = ErrorCode::kUnsupportedVersion;
  } else if (!IsKnownMessageType(LoadU8(p + kTypeOffset))) {
    header_error = ErrorCode::kUnknownType;
  } else if (LoadU32(p + kHeaderReservedOffset) != 0) {
    header_error = ErrorCode::kBadField;
  }
  if (header_error != ErrorCode::kNone) {
    r.status = DecodeStatus::kError;
    r.error = header_error;
    return r;
  }
  const std::size_t padded = PaddedLength(length);
  if (bytes.size() < padded) return r;
  // Padding is at most 7 bytes; OR them together rather than branch on each.
  std::uint8_t pad_bits = 0;
  for (std::size_t i = length; i < padded; ++i) pad_bits |= LoadU8(p + i);
  if (pad_bits != 0) {
    r.status = DecodeStatus::kError;
    r.error = ErrorCode::kBadPadding;
    return r;
  }
  const std::span<const std::byte> frame = bytes.first(length);
  if (ErrorCode e = ValidateBody(
          static_cast<MessageType>(LoadU8(p + kTypeOffset)), frame);
      e != ErrorCode::kNone) {
    r.status = DecodeStatus::kError;
    r.error = e;
    return r;
  }
  r.status = DecodeStatus::kFrame;
  r.frame = FrameView(frame);
  r.consumed = padded;
  return r;
}

}  // namespace tachyon::protocol

#endif  // TACHYON_PROTOCOL_FRAME_H_
