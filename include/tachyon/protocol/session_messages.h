// tachyon/protocol/session_messages.h — LOGON, LOGON_ACK, LOGON_REJECT,
// HEARTBEAT, LOGOUT and ERROR.
//
// Overview
//   Session control frames: the logon handshake (with version negotiation and
//   the heartbeat interval), liveness, orderly close, and error reports. Each
//   message has a flyweight view (fixed-offset accessors over a validated
//   frame) and an Encode function that writes header, body and zero padding
//   into a caller buffer and returns the padded size, or 0 if it does not fit.
//
// Example
//   std::array<std::byte, 128> buf;
//   std::size_t n = tachyon::protocol::EncodeLogon(
//       buf, {.min_version = 1, .max_version = 1, .heartbeat_interval_ms =
//       1000,
//             .token = "secret", .client_name = "md-feed-1"});
#ifndef TACHYON_PROTOCOL_SESSION_MESSAGES_H_
#define TACHYON_PROTOCOL_SESSION_MESSAGES_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "tachyon/protocol/frame_view.h"

namespace tachyon::protocol {

// LOGON (0x01), client -> gateway. Stream id 0, flags 0.
//   16 u16 min_version            lowest protocol version the client speaks (>=
//   1) 18 u16 max_version            highest (>= min_version) 20 u32
//   heartbeat_interval_ms  requested interval; 0 = gateway default 24 u16
//   token_length           0..255 26 u16 client_name_length     0..255 28 u32
//   reserved               zero 32 token bytes, then client name bytes
class LogonView : public FrameView {
 public:
  static constexpr MessageType kType = MessageType::kLogon;
  static constexpr std::size_t kFixedLength = 32;
  using FrameView::FrameView;
  explicit LogonView(FrameView f) : FrameView(f) {}

  static ErrorCode Validate(std::span<const std::byte> f) {
    if (f.size() < kFixedLength) return ErrorCode::kBadBodyLength;
    const std::uint16_t token = LoadU16(f.data() + 24);
    const std::uint16_t name = LoadU16(f.data() + 26);
    if (ErrorCode e = internal::CheckVariableLength(f.size(), kFixedLength,
                                                    std::size_t{token} + name);
        e != ErrorCode::kNone) {
      return e;
    }
    if (LoadU16(f.data() + kFlagsOffset) != 0 ||
        LoadU32(f.data() + kStreamIdOffset) != 0 ||
        LoadU32(f.data() + 28) != 0 || token > kMaxLogonFieldLength ||
        name > kMaxLogonFieldLength) {
      return ErrorCode::kBadField;
    }
    const std::uint16_t min = LoadU16(f.data() + 16);
    const std::uint16_t max = LoadU16(f.data() + 18);
    if (min == 0 || max < min) return ErrorCode::kBadField;
    return ErrorCode::kNone;
  }

  [[nodiscard]] std::uint16_t min_version() const { return LoadU16(at(16)); }
  [[nodiscard]] std::uint16_t max_version() const { return LoadU16(at(18)); }
  [[nodiscard]] std::uint32_t heartbeat_interval_ms() const {
    return LoadU32(at(20));
  }
  [[nodiscard]] std::string_view token() const {
    return AsText(slice(kFixedLength, LoadU16(at(24))));
  }
  [[nodiscard]] std::string_view client_name() const {
    return AsText(slice(kFixedLength + LoadU16(at(24)), LoadU16(at(26))));
  }
};

struct LogonFields {
  std::uint16_t min_version = kProtocolVersion;
  std::uint16_t max_version = kProtocolVersion;
  std::uint32_t heartbeat_interval_ms = 0;
  std::string_view token;
  std::string_view client_name;
};

/// Returns the padded size written, or 0 if `out` is too small or a field is
/// longer than 255 bytes.
inline std::size_t EncodeLogon(std::span<std::byte> out, const LogonFields& m) {
  if (m.token.size() > kMaxLogonFieldLength ||
      m.client_name.size() > kMaxLogonFieldLength) {
    return 0;
  }
  const std::size_t len =
      LogonView::kFixedLength + m.token.size() + m.client_name.size();
  std::byte* p = internal::BeginFrame(out, len, MessageType::kLogon, 0, 0);
  if (p == nullptr) return 0;
  StoreU16(p + 16, m.min_version);
  StoreU16(p + 18, m.max_version);
  StoreU32(p + 20, m.heartbeat_interval_ms);
  StoreU16(p + 24, static_cast<std::uint16_t>(m.token.size()));
  StoreU16(p + 26, static_cast<std::uint16_t>(m.client_name.size()));
  StoreU32(p + 28, 0);
  internal::CopyBytes(p + 32, AsBytes(m.token));
  internal::CopyBytes(p + 32 + m.token.size(), AsBytes(m.client_name));
  return PaddedLength(len);
}

// LOGON_ACK (0x02), gateway -> client. Stream id 0. Length 40, or 48 with
// the EPOCH flag (flags bit 1, protocol version 2 sessions only).
//
//    0               1               2               3
//   +-------------------------------+-------------------------------+
//   |         version (u16)         |         reserved (u16)        | 16
//   +-------------------------------+-------------------------------+
//   |                  heartbeat_interval_ms (u32)                  | 20
//   +---------------------------------------------------------------+
//   |                        session_id (u64)                       | 24
//   +---------------------------------------------------------------+
//   |                     max_frame_length (u32)                    | 32
//   +---------------------------------------------------------------+
//   |                         reserved (u32)                        | 36
//   +---------------------------------------------------------------+
//   |          instance_epoch (u64), only with EPOCH               | 40
//   +---------------------------------------------------------------+
//
//   16 u16 version                the negotiated protocol version
//   18 u16 reserved               zero
//   20 u32 heartbeat_interval_ms  the interval both sides must honour (> 0)
//   24 u64 session_id             gateway-assigned, non-zero
//   32 u32 max_frame_length       largest frame the gateway accepts
//   36 u32 reserved               zero
//   40 u64 instance_epoch         EPOCH only: this gateway run, non-zero
class LogonAckView : public FrameView {
 public:
  static constexpr MessageType kType = MessageType::kLogonAck;
  static constexpr std::size_t kFixedLength = 40;
  /// The length of the EPOCH form.
  static constexpr std::size_t kEpochLength = 48;
  using FrameView::FrameView;
  explicit LogonAckView(FrameView f) : FrameView(f) {}

  static ErrorCode Validate(std::span<const std::byte> f) {
    const std::uint16_t flags = LoadU16(f.data() + kFlagsOffset);
    const bool epoch = (flags & kFlagEpoch) != 0;
    if (f.size() != (epoch ? kEpochLength : kFixedLength)) {
      return ErrorCode::kBadBodyLength;
    }
    if ((flags & ~kFlagEpoch) != 0 ||
        LoadU32(f.data() + kStreamIdOffset) != 0 ||
        LoadU16(f.data() + 18) != 0 || LoadU32(f.data() + 36) != 0 ||
        LoadU16(f.data() + 16) == 0 || LoadU32(f.data() + 20) == 0 ||
        LoadU64(f.data() + 24) == 0 || LoadU32(f.data() + 32) < kHeaderLength ||
        LoadU32(f.data() + 32) > kMaxFrameLengthCeiling ||
        (epoch && LoadU64(f.data() + 40) == 0)) {
      return ErrorCode::kBadField;
    }
    return ErrorCode::kNone;
  }

  [[nodiscard]] std::uint16_t negotiated_version() const {
    return LoadU16(at(16));
  }
  [[nodiscard]] std::uint32_t heartbeat_interval_ms() const {
    return LoadU32(at(20));
  }
  [[nodiscard]] SessionId session_id() const {
    return SessionId{LoadU64(at(24))};
  }
  [[nodiscard]] std::uint32_t max_frame_length() const {
    return LoadU32(at(32));
  }
  /// True for the EPOCH form.
  [[nodiscard]] bool has_epoch() const { return (flags() & kFlagEpoch) != 0; }
  /// The gateway run's instance epoch; 0 when the frame has none.
  [[nodiscard]] std::uint64_t instance_epoch() const {
    return has_epoch() ? LoadU64(at(40)) : 0;
  }
};

struct LogonAckFields {
  std::uint16_t version = kProtocolVersion;
  std::uint32_t heartbeat_interval_ms = 0;
  SessionId session_id;
  std::uint32_t max_frame_length = kDefaultMaxFrameLength;
  /// Non-zero: encode the EPOCH form (48 bytes) carrying it; 0: the
  /// version-1 form (40 bytes).
  std::uint64_t instance_epoch = 0;
};

inline std::size_t EncodeLogonAck(std::span<std::byte> out,
                                  const LogonAckFields& m) {
  const bool epoch = m.instance_epoch != 0;
  const std::size_t len =
      epoch ? LogonAckView::kEpochLength : LogonAckView::kFixedLength;
  std::byte* p = internal::BeginFrame(out, len, MessageType::kLogonAck,
                                      epoch ? kFlagEpoch : 0, 0);
  if (p == nullptr) return 0;
  StoreU16(p + 16, m.version);
  StoreU16(p + 18, 0);
  StoreU32(p + 20, m.heartbeat_interval_ms);
  StoreU64(p + 24, m.session_id.value());
  StoreU32(p + 32, m.max_frame_length);
  StoreU32(p + 36, 0);
  if (epoch) StoreU64(p + 40, m.instance_epoch);
  return len;
}

// ERROR (0x06), either direction; LOGON_REJECT (0x03), gateway -> client.
// Same layout. Flags: ERROR bit 0 FATAL (the sender closes the connection
// after this frame); LOGON_REJECT flags 0 (always followed by close). The
// stream id names the stream the error concerns, or 0.
//   16 u16 code          an ErrorCode, non-zero
//   18 u16 text_length   0..1024
//   20 u32 reserved      zero
//   24 u64 context       correlation / subscription / request id, or 0
//   32 text bytes (UTF-8)
class ErrorView : public FrameView {
 public:
  static constexpr MessageType kType = MessageType::kError;
  static constexpr std::size_t kFixedLength = 32;
  using FrameView::FrameView;
  explicit ErrorView(FrameView f) : FrameView(f) {}

  static ErrorCode Validate(std::span<const std::byte> f) {
    if (f.size() < kFixedLength) return ErrorCode::kBadBodyLength;
    const std::uint16_t text = LoadU16(f.data() + 18);
    if (ErrorCode e =
            internal::CheckVariableLength(f.size(), kFixedLength, text);
        e != ErrorCode::kNone) {
      return e;
    }
    const bool is_error = LoadU8(f.data() + kTypeOffset) ==
                          static_cast<std::uint8_t>(MessageType::kError);
    const std::uint16_t allowed_flags = is_error ? kFlagFatal : 0;
    if ((LoadU16(f.data() + kFlagsOffset) & ~allowed_flags) != 0 ||
        (!is_error && LoadU32(f.data() + kStreamIdOffset) != 0) ||
        LoadU16(f.data() + 16) == 0 || LoadU32(f.data() + 20) != 0 ||
        text > kMaxErrorTextLength) {
      return ErrorCode::kBadField;
    }
    return ErrorCode::kNone;
  }

  [[nodiscard]] ErrorCode code() const {
    return static_cast<ErrorCode>(LoadU16(at(16)));
  }
  [[nodiscard]] bool fatal() const {
    return type() == MessageType::kLogonReject || (flags() & kFlagFatal) != 0;
  }
  [[nodiscard]] std::uint64_t context() const { return LoadU64(at(24)); }
  [[nodiscard]] std::string_view text() const {
    return AsText(slice(kFixedLength, LoadU16(at(18))));
  }
};
using LogonRejectView = ErrorView;

struct ErrorFields {
  ErrorCode code = ErrorCode::kInternal;
  bool fatal = false;
  StreamId stream_id;
  std::uint64_t context = 0;
  std::string_view text;  ///< truncated to 1024 bytes
};

namespace internal {
inline std::size_t EncodeErrorLike(std::span<std::byte> out, MessageType type,
                                   const ErrorFields& m) {
  const std::size_t text =
      m.text.size() < kMaxErrorTextLength ? m.text.size() : kMaxErrorTextLength;
  const std::size_t len = ErrorView::kFixedLength + text;
  const bool is_error = type == MessageType::kError;
  std::byte* p =
      BeginFrame(out, len, type, (is_error && m.fatal) ? kFlagFatal : 0,
                 is_error ? m.stream_id.value() : 0);
  if (p == nullptr) return 0;
  StoreU16(p + 16, static_cast<std::uint16_t>(m.code));
  StoreU16(p + 18, static_cast<std::uint16_t>(text));
  StoreU32(p + 20, 0);
  StoreU64(p + 24, m.context);
  CopyBytes(p + 32, AsBytes(m.text.substr(0, text)));
  return PaddedLength(len);
}
}  // namespace internal

inline std::size_t EncodeError(std::span<std::byte> out, const ErrorFields& m) {
  return internal::EncodeErrorLike(out, MessageType::kError, m);
}
/// LOGON_REJECT ignores `fatal` and `stream_id` (always fatal, stream 0).
inline std::size_t EncodeLogonReject(std::span<std::byte> out,
                                     const ErrorFields& m) {
  return internal::EncodeErrorLike(out, MessageType::kLogonReject, m);
}

// HEARTBEAT (0x04), either direction. Stream id 0, flags 0. Length 24.
//   16 i64 timestamp_ns   sender's CLOCK_REALTIME in ns (informational)
class HeartbeatView : public FrameView {
 public:
  static constexpr MessageType kType = MessageType::kHeartbeat;
  static constexpr std::size_t kFixedLength = 24;
  using FrameView::FrameView;
  explicit HeartbeatView(FrameView f) : FrameView(f) {}

  static ErrorCode Validate(std::span<const std::byte> f) {
    if (f.size() != kFixedLength) return ErrorCode::kBadBodyLength;
    if (LoadU16(f.data() + kFlagsOffset) != 0 ||
        LoadU32(f.data() + kStreamIdOffset) != 0) {
      return ErrorCode::kBadField;
    }
    return ErrorCode::kNone;
  }
  [[nodiscard]] std::int64_t timestamp_ns() const { return LoadI64(at(16)); }
};

inline std::size_t EncodeHeartbeat(std::span<std::byte> out,
                                   std::int64_t timestamp_ns) {
  std::byte* p = internal::BeginFrame(out, HeartbeatView::kFixedLength,
                                      MessageType::kHeartbeat, 0, 0);
  if (p == nullptr) return 0;
  StoreI64(p + 16, timestamp_ns);
  return HeartbeatView::kFixedLength;
}

// LOGOUT (0x05), either direction. Stream id 0, flags 0. Length 24.
//   16 u16 reason     ErrorCode: 0 (normal) or e.g. SHUTTING_DOWN
//   18 u16 reserved   zero
//   20 u32 reserved   zero
class LogoutView : public FrameView {
 public:
  static constexpr MessageType kType = MessageType::kLogout;
  static constexpr std::size_t kFixedLength = 24;
  using FrameView::FrameView;
  explicit LogoutView(FrameView f) : FrameView(f) {}

  static ErrorCode Validate(std::span<const std::byte> f) {
    if (f.size() != kFixedLength) return ErrorCode::kBadBodyLength;
    if (LoadU16(f.data() + kFlagsOffset) != 0 ||
        LoadU32(f.data() + kStreamIdOffset) != 0 ||
        LoadU16(f.data() + 18) != 0 || LoadU32(f.data() + 20) != 0) {
      return ErrorCode::kBadField;
    }
    return ErrorCode::kNone;
  }
  [[nodiscard]] ErrorCode reason() const {
    return static_cast<ErrorCode>(LoadU16(at(16)));
  }
};

inline std::size_t EncodeLogout(std::span<std::byte> out, ErrorCode reason) {
  std::byte* p = internal::BeginFrame(out, LogoutView::kFixedLength,
                                      MessageType::kLogout, 0, 0);
  if (p == nullptr) return 0;
  StoreU16(p + 16, static_cast<std::uint16_t>(reason));
  StoreU16(p + 18, 0);
  StoreU32(p + 20, 0);
  return LogoutView::kFixedLength;
}

}  // namespace tachyon::protocol

#endif  // TACHYON_PROTOCOL_SESSION_MESSAGES_H_
