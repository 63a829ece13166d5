// tachyon/protocol/wire.h — wire constants, enums and little-endian field
// access.
//
// Overview
//   Every Tachyon frame starts with the same 16-byte header and is padded with
//   zero bytes to a multiple of 8. This header defines the header layout, the
//   message type and error code enums, and the load/store helpers every view
//   and encoder uses. protocol/PROTOCOL.md is the normative description.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                     frame length (u32)                        |  0
//   +---------------+---------------+-------------------------------+
//   | version (u8)  |   type (u8)   |          flags (u16)          |  4
//   +---------------+---------------+-------------------------------+
//   |                      stream id (u32)                          |  8
//   +---------------------------------------------------------------+
//   |                   reserved (u32, zero)                        | 12
//   +---------------------------------------------------------------+
//
// Example
//   std::uint32_t len = tachyon::protocol::LoadU32(bytes.data());
//   std::size_t on_wire = tachyon::protocol::PaddedLength(len);
#ifndef TACHYON_PROTOCOL_WIRE_H_
#define TACHYON_PROTOCOL_WIRE_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

static_assert(std::endian::native == std::endian::little,
              "Tachyon's codec loads little-endian fields directly; a "
              "big-endian port needs byte swaps in Load*/Store*");

namespace tachyon::protocol {

/// The base protocol version, and the version byte of every frame's header
/// in every session (PROTOCOL.md 3): later versions add frame forms marked
/// by flag bits, never a new header.
inline constexpr std::uint8_t kProtocolVersion = 1;
/// Protocol version 2: version 1 plus the gateway instance epoch carried by
/// LOGON_ACK and SUBSCRIBE_ACK (PROTOCOL.md 7.6). Negotiated at LOGON.
inline constexpr std::uint16_t kEpochProtocolVersion = 2;
/// Protocol version 3: version 2 plus backend services by name
/// (SERVICE_LOOKUP / SERVICE_LOOKUP_ACK) and RESPONSE status OVERLOADED
/// (PROTOCOL.md 7.2, 13). Negotiated at LOGON.
inline constexpr std::uint16_t kServicesProtocolVersion = 3;
/// The highest protocol version this build speaks at LOGON.
inline constexpr std::uint16_t kMaxProtocolVersion = kServicesProtocolVersion;
/// Size of the common frame header.
inline constexpr std::size_t kHeaderLength = 16;
/// Frames occupy a multiple of this many bytes on the wire.
inline constexpr std::size_t kFrameAlignment = 8;
/// Default limit on a frame's length (gateway config `max_frame_length`).
inline constexpr std::uint32_t kDefaultMaxFrameLength = 64 * 1024;
/// No configuration may raise the frame limit above this.
inline constexpr std::uint32_t kMaxFrameLengthCeiling = 16 * 1024 * 1024;
/// Longest stream name or pattern, in bytes.
inline constexpr std::size_t kMaxNameLength = 255;
/// Longest LOGON token or client name, in bytes.
inline constexpr std::size_t kMaxLogonFieldLength = 255;
/// Longest backend service name in SERVICE_LOOKUP, in bytes.
inline constexpr std::size_t kMaxServiceNameLength = 64;
/// Longest ERROR / LOGON_REJECT text, in bytes.
inline constexpr std::size_t kMaxErrorTextLength = 1024;

// Header field offsets.
inline constexpr std::size_t kLengthOffset = 0;
inline constexpr std::size_t kVersionOffset = 4;
inline constexpr std::size_t kTypeOffset = 5;
inline constexpr std::size_t kFlagsOffset = 6;
inline constexpr std::size_t kStreamIdOffset = 8;
inline constexpr std::size_t kHeaderReservedOffset = 12;

/// Message types. Values are stable wire constants.
enum class MessageType : std::uint8_t {
  kLogon = 0x01,
  kLogonAck = 0x02,
  kLogonReject = 0x03,
  kHeartbeat = 0x04,
  kLogout = 0x05,
  kError = 0x06,
  kOpenStream = 0x10,
  kOpenStreamAck = 0x11,
  kSubscribe = 0x12,
  kSubscribeAck = 0x13,
  kUnsubscribe = 0x14,
  kGap = 0x15,
  kUdpSubscribe = 0x16,
  kPublish = 0x20,
  kPublishAck = 0x21,
  kData = 0x22,
  kRequest = 0x30,
  kResponse = 0x31,
  kServiceLookup = 0x32,     ///< protocol version 3
  kServiceLookupAck = 0x33,  ///< protocol version 3
};

/// Error codes carried by ERROR, LOGON_REJECT, LOGOUT and PUBLISH_ACK, and
/// returned by the decoder. Values are stable wire constants.
enum class ErrorCode : std::uint16_t {
  kNone = 0,
  // Framing: the decoder reports these; the connection is always closed.
  kFrameTooShort = 1,       ///< frame length below the 16-byte header
  kFrameTooLong = 2,        ///< frame length above the negotiated maximum
  kUnsupportedVersion = 3,  ///< header version is not 1
  kUnknownType = 4,         ///< header type is not in the type table
  kBadPadding = 5,          ///< a padding byte after the frame is not zero
  kBadBodyLength = 6,       ///< length disagrees with the type's layout
  kBadField = 7,            ///< reserved bits set, or a field out of range
  // Session: fatal unless stated otherwise in PROTOCOL.md.
  kUnexpectedMessage = 16,  ///< valid frame, wrong direction or state
  kNotAuthorized = 17,      ///< LOGON token rejected
  kHeartbeatTimeout = 18,   ///< nothing received within the idle timeout
  kSlowConsumer = 19,       ///< subscriber fell behind its window
  kShuttingDown = 20,       ///< gateway is stopping
  kLimitExceeded = 21,      ///< a configured limit would be exceeded
  // Request-level: never fatal.
  kUnknownStream = 32,          ///< stream id not opened by this session
  kUnknownSubscription = 33,    ///< UNSUBSCRIBE of an id not in use
  kDuplicateSubscription = 34,  ///< SUBSCRIBE reusing an id in use
  kInvalidName = 35,            ///< stream name or pattern not well formed
  kBackPressured = 36,          ///< publish refused; retry later
  kUnavailable = 37,            ///< the requested position is not retained
  kUdpRefused = 38,             ///< UDP_SUBSCRIBE refused (egress, address)
  kInternal = 255,              ///< gateway bug; reported, never expected
};

/// Header flag bits, by message type.
inline constexpr std::uint16_t kFlagAckRequested = 0x0001;  ///< PUBLISH
inline constexpr std::uint16_t kFlagFatal = 0x0001;         ///< ERROR
/// LOGON_ACK, SUBSCRIBE_ACK (protocol version 2): the frame carries the
/// gateway's instance epoch (PROTOCOL.md 7.6).
inline constexpr std::uint16_t kFlagEpoch = 0x0002;

/// Human-readable names (stable, upper snake case as in PROTOCOL.md).
std::string_view MessageTypeName(MessageType type);
std::string_view ErrorCodeName(ErrorCode code);
/// Inverse of MessageTypeName / ErrorCodeName; false when unknown.
bool ParseMessageType(std::string_view name, MessageType* out);
bool ParseErrorCode(std::string_view name, ErrorCode* out);

/// True if `raw` is one of the MessageType values.
constexpr bool IsKnownMessageType(std::uint8_t raw) {
  switch (static_cast<MessageType>(raw)) {
    case MessageType::kLogon:
    case MessageType::kLogonAck:
    case MessageType::kLogonReject:
    case MessageType::kHeartbeat:
    case MessageType::kLogout:
    case MessageType::kError:
    case MessageType::kOpenStream:
    case MessageType::kOpenStreamAck:
    case MessageType::kSubscribe:
    case MessageType::kSubscribeAck:
    case MessageType::kUnsubscribe:
    case MessageType::kGap:
    case MessageType::kUdpSubscribe:
    case MessageType::kPublish:
    case MessageType::kPublishAck:
    case MessageType::kData:
    case MessageType::kRequest:
    case MessageType::kResponse:
    case MessageType::kServiceLookup:
    case MessageType::kServiceLookupAck:
      return true;
  }
  return false;
}

/// Bytes a frame of unpadded length `length` occupies on the wire.
constexpr std::size_t PaddedLength(std::size_t length) {
  return (length + (kFrameAlignment - 1)) & ~(kFrameAlignment - 1);
}

// Little-endian loads and stores through memcpy: no alignment or aliasing UB,
// and compilers turn each into a single mov.
inline std::uint8_t LoadU8(const std::byte* p) {
  return static_cast<std::uint8_t>(*p);
}
inline std::uint16_t LoadU16(const std::byte* p) {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline std::uint32_t LoadU32(const std::byte* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline std::uint64_t LoadU64(const std::byte* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline std::int64_t LoadI64(const std::byte* p) {
  std::int64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void StoreU8(std::byte* p, std::uint8_t v) { *p = std::byte{v}; }
inline void StoreU16(std::byte* p, std::uint16_t v) {
  std::memcpy(p, &v, sizeof v);
}
inline void StoreU32(std::byte* p, std::uint32_t v) {
  std::memcpy(p, &v, sizeof v);
}
inline void StoreU64(std::byte* p, std::uint64_t v) {
  std::memcpy(p, &v, sizeof v);
}
inline void StoreI64(std::byte* p, std::int64_t v) {
  std::memcpy(p, &v, sizeof v);
}

/// Writes the common header. `length` is the unpadded frame length.
inline void StoreHeader(std::byte* p, std::uint32_t length, MessageType type,
                        std::uint16_t flags, std::uint32_t stream_id) {
  StoreU32(p + kLengthOffset, length);
  StoreU8(p + kVersionOffset, kProtocolVersion);
  StoreU8(p + kTypeOffset, static_cast<std::uint8_t>(type));
  StoreU16(p + kFlagsOffset, flags);
  StoreU32(p + kStreamIdOffset, stream_id);
  StoreU32(p + kHeaderReservedOffset, 0);
}

/// Zeroes the padding after a frame of unpadded length `length` at `frame`.
inline void ZeroPadding(std::byte* frame, std::size_t length) {
  std::memset(frame + length, 0, PaddedLength(length) - length);
}

/// Views bytes as text without copying (names, tokens, error texts).
inline std::string_view AsText(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}
/// Views text as bytes without copying.
inline std::span<const std::byte> AsBytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

}  // namespace tachyon::protocol

#endif  // TACHYON_PROTOCOL_WIRE_H_
