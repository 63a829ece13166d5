// tachyon/protocol/stream_messages.h — OPEN_STREAM, OPEN_STREAM_ACK,
// SUBSCRIBE, SUBSCRIBE_ACK, UNSUBSCRIBE, UDP_SUBSCRIBE and GAP.
//
// Overview
//   Streams are named (1..255 bytes of [A-Za-z0-9._-]) and the gateway maps
//   each name to a numeric stream id. A publisher binds a name with
//   OPEN_STREAM; a consumer subscribes to a name or to a prefix pattern (a
//   name ending in '*', such as "md.eq.*") and learns each matching stream's
//   id from SUBSCRIBE_ACK before its first DATA. UDP_SUBSCRIBE asks for one
//   stream as UDP datagrams to an IPv4 destination instead. GAP reports
//   sequences that a subscription asked for but the gateway no longer retains.
//
// Example
//   std::size_t n = tachyon::protocol::EncodeSubscribe(
//       buf, {.subscription_id = tachyon::SubscriptionId{1},
//             .start = tachyon::protocol::StartMode::kSequence,
//             .start_sequence = tachyon::Sequence{1000},
//             .name = "md.eq.*"});
#ifndef TACHYON_PROTOCOL_STREAM_MESSAGES_H_
#define TACHYON_PROTOCOL_STREAM_MESSAGES_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "tachyon/protocol/frame_view.h"

namespace tachyon::protocol {

/// Where a SUBSCRIBE starts delivering.
enum class StartMode : std::uint8_t {
  kLatest = 0,    ///< only messages appended after the subscription
  kEarliest = 1,  ///< the oldest message the gateway still retains
  kSequence = 2,  ///< the given sequence (replay); GAP if no longer retained
};

// OPEN_STREAM (0x10), client -> gateway. Stream id 0, flags 0.
//   16 u32 request_id    client-chosen, echoed in OPEN_STREAM_ACK / ERROR
//   20 u16 reserved      zero
//   22 u16 name_length   1..255
//   24 name bytes
class OpenStreamView : public FrameView {
 public:
  static constexpr MessageType kType = MessageType::kOpenStream;
  static constexpr std::size_t kFixedLength = 24;
  using FrameView::FrameView;
  explicit OpenStreamView(FrameView f) : FrameView(f) {}

  static ErrorCode Validate(std::span<const std::byte> f) {
    if (f.size() < kFixedLength) return ErrorCode::kBadBodyLength;
    const std::uint16_t name = LoadU16(f.data() + 22);
    if (ErrorCode e =
            internal::CheckVariableLength(f.size(), kFixedLength, name);
        e != ErrorCode::kNone) {
      return e;
    }
    if (LoadU16(f.data() + kFlagsOffset) != 0 ||
        LoadU32(f.data() + kStreamIdOffset) != 0 ||
        LoadU16(f.data() + 20) != 0 || name == 0 || name > kMaxNameLength) {
      return ErrorCode::kBadField;
    }
    return ErrorCode::kNone;
  }
  [[nodiscard]] std::uint32_t request_id() const { return LoadU32(at(16)); }
  [[nodiscard]] std::string_view name() const {
    return AsText(slice(kFixedLength, LoadU16(at(22))));
  }
};

inline std::size_t EncodeOpenStream(std::span<std::byte> out,
                                    std::uint32_t request_id,
                                    std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return 0;
  const std::size_t len = OpenStreamView::kFixedLength + name.size();
  std::byte* p = internal::BeginFrame(out, len, MessageType::kOpenStream, 0, 0);
  if (p == nullptr) return 0;
  StoreU32(p + 16, request_id);
  StoreU16(p + 20, 0);
  StoreU16(p + 22, static_cast<std::uint16_t>(name.size()));
  internal::CopyBytes(p + 24, AsBytes(name));
  return PaddedLength(len);
}

// OPEN_STREAM_ACK (0x11) and SUBSCRIBE_ACK (0x13), gateway -> client. Same
// layout. Stream id: the bound stream (non-zero), except that the first
// SUBSCRIBE_ACK of a pattern subscription has stream id 0 and carries the
// pattern itself (it acknowledges the subscription, not a stream). Flags 0,
// except that a SUBSCRIBE_ACK in a protocol version 2 session has the EPOCH
// flag (bit 1) and carries the gateway's instance epoch before the name.
//
//    0               1               2               3
//   +---------------------------------------------------------------+
//   |                            id (u32)                           | 16
//   +-------------------------------+-------------------------------+
//   |         reserved (u16)        |       name_length (u16)       | 20
//   +-------------------------------+-------------------------------+
//   |                      next_sequence (u64)                      | 24
//   +---------------------------------------------------------------+
//   |   SUBSCRIBE_ACK with EPOCH only: instance_epoch (u64)         | 32
//   +---------------------------------------------------------------+
//   | name (name_length bytes) at 32, or at 40 with EPOCH           |
//   +---------------------------------------------------------------+
//
//   16 u32 id              OPEN_STREAM request_id / SUBSCRIBE subscription_id
//   20 u16 reserved        zero
//   22 u16 name_length     1..255
//   24 u64 next_sequence   OPEN_STREAM_ACK: the sequence the next publish will
//                          get (>= 1). SUBSCRIBE_ACK: the first sequence this
//                          subscription delivers; 0 for the pattern ack (whose
//                          name must end in '*') and for a stream the session
//                          is already being sent (delivery continues).
//   32 u64 instance_epoch  SUBSCRIBE_ACK with EPOCH: the gateway run, non-zero
// A SUBSCRIBE_ACK's id (the subscription id) is never 0.
//   32 (40 with EPOCH) name bytes (the stream's name; the pattern for the
//      pattern ack)
class StreamAckView : public FrameView {
 public:
  static constexpr std::size_t kFixedLength = 32;
  /// The fixed part of a SUBSCRIBE_ACK with EPOCH.
  static constexpr std::size_t kEpochFixedLength = 40;
  using FrameView::FrameView;
  explicit StreamAckView(FrameView f) : FrameView(f) {}

  static ErrorCode Validate(std::span<const std::byte> f) {
    const bool open_ack =
        LoadU8(f.data() + kTypeOffset) ==
        static_cast<std::uint8_t>(MessageType::kOpenStreamAck);
    const std::uint16_t flags = LoadU16(f.data() + kFlagsOffset);
    const bool epoch = !open_ack && (flags & kFlagEpoch) != 0;
    const std::size_t fixed = epoch ? kEpochFixedLength : kFixedLength;
    if (f.size() < fixed) return ErrorCode::kBadBodyLength;
    const std::uint16_t name = LoadU16(f.data() + 22);
    if (ErrorCode e = internal::CheckVariableLength(f.size(), fixed, name);
        e != ErrorCode::kNone) {
      return e;
    }
    const std::uint32_t stream = LoadU32(f.data() + kStreamIdOffset);
    const std::uint64_t next = LoadU64(f.data() + 24);
    const std::uint16_t allowed_flags = open_ack ? 0 : kFlagEpoch;
    if ((flags & ~allowed_flags) != 0 || LoadU16(f.data() + 20) != 0 ||
        name == 0 || name > kMaxNameLength ||
        (epoch && LoadU64(f.data() + 32) == 0)) {
      return ErrorCode::kBadField;
    }
    if (open_ack) {
      // A bound stream and the sequence its next publish will get.
      if (stream == 0 || next == 0) return ErrorCode::kBadField;
    } else {
      // Subscription ids are never 0; the pattern ack (stream 0) carries
      // the pattern itself and no position.
      const bool pattern_ack = stream == 0;
      if (LoadU32(f.data() + 16) == 0 ||
          (pattern_ack && (next != 0 || LoadU8(f.data() + fixed + name - 1) !=
                                            static_cast<std::uint8_t>('*')))) {
        return ErrorCode::kBadField;
      }
    }
    return ErrorCode::kNone;
  }
  /// OPEN_STREAM request_id or SUBSCRIBE subscription_id.
  [[nodiscard]] std::uint32_t id() const { return LoadU32(at(16)); }
  [[nodiscard]] Sequence next_sequence() const {
    return Sequence{LoadU64(at(24))};
  }
  /// True for a SUBSCRIBE_ACK in the EPOCH form.
  [[nodiscard]] bool has_epoch() const {
    return type() == MessageType::kSubscribeAck && (flags() & kFlagEpoch) != 0;
  }
  /// The gateway run's instance epoch; 0 when the frame has none.
  [[nodiscard]] std::uint64_t instance_epoch() const {
    return has_epoch() ? LoadU64(at(32)) : 0;
  }
  [[nodiscard]] std::string_view name() const {
    return AsText(
        slice(has_epoch() ? kEpochFixedLength : kFixedLength, LoadU16(at(22))));
  }
};
using OpenStreamAckView = StreamAckView;
using SubscribeAckView = StreamAckView;

struct StreamAckFields {
  StreamId stream_id;
  std::uint32_t id = 0;
  Sequence next_sequence;
  std::string_view name;
  /// SUBSCRIBE_ACK only: non-zero encodes the EPOCH form carrying it. An
  /// OPEN_STREAM_ACK has no such form (its encoder returns 0).
  std::uint64_t instance_epoch = 0;
};

namespace internal {
inline std::size_t EncodeStreamAck(std::span<std::byte> out, MessageType type,
                                   const StreamAckFields& m) {
  if (m.name.empty() || m.name.size() > kMaxNameLength) return 0;
  const bool epoch = m.instance_epoch != 0;
  if (epoch && type != MessageType::kSubscribeAck) return 0;
  const std::size_t fixed =
      epoch ? StreamAckView::kEpochFixedLength : StreamAckView::kFixedLength;
  const std::size_t len = fixed + m.name.size();
  std::byte* p =
      BeginFrame(out, len, type, epoch ? kFlagEpoch : 0, m.stream_id.value());
  if (p == nullptr) return 0;
  StoreU32(p + 16, m.id);
  StoreU16(p + 20, 0);
  StoreU16(p + 22, static_cast<std::uint16_t>(m.name.size()));
  StoreU64(p + 24, m.next_sequence.value());
  if (epoch) StoreU64(p + 32, m.instance_epoch);
  CopyBytes(p + fixed, AsBytes(m.name));
  return PaddedLength(len);
}
}  // namespace internal

inline std::size_t EncodeOpenStreamAck(std::span<std::byte> out,
                                       const StreamAckFields& m) {
  return internal::EncodeStreamAck(out, MessageType::kOpenStreamAck, m);
}
inline std::size_t EncodeSubscribeAck(std::span<std::byte> out,
                                      const StreamAckFields& m) {
  return internal::EncodeStreamAck(out, MessageType::kSubscribeAck, m);
}

// SUBSCRIBE (0x12), client -> gateway. Stream id 0, flags 0.
//   16 u32 subscription_id   client-chosen, non-zero, unique in the session
//   20 u8  start_mode        StartMode: 0 latest, 1 earliest, 2 sequence
//   21 u8  reserved          zero
//   22 u16 name_length       1..255; a trailing '*' makes it a prefix pattern
//   24 u64 start_sequence    >= 1 when start_mode = 2, else zero
//   32 name bytes
class SubscribeView : public FrameView {
 public:
  static constexpr MessageType kType = MessageType::kSubscribe;
  static constexpr std::size_t kFixedLength = 32;
  using FrameView::FrameView;
  explicit SubscribeView(FrameView f) : FrameView(f) {}

  static ErrorCode Validate(std::span<const std::byte> f) {
    if (f.size() < kFixedLength) return ErrorCode::kBadBodyLength;
    const std::uint16_t name = LoadU16(f.data() + 22);
    if (ErrorCode e =
            internal::CheckVariableLength(f.size(), kFixedLength, name);
        e != ErrorCode::kNone) {
      return e;
    }
    const std::uint8_t mode = LoadU8(f.data() + 20);
    const std::uint64_t seq = LoadU64(f.data() + 24);
    if (LoadU16(f.data() + kFlagsOffset) != 0 ||
        LoadU32(f.data() + kStreamIdOffset) != 0 ||
        LoadU32(f.data() + 16) == 0 || LoadU8(f.data() + 21) != 0 ||
        mode > static_cast<std::uint8_t>(StartMode::kSequence) ||
        (mode == static_cast<std::uint8_t>(StartMode::kSequence)) !=
            (seq != 0) ||
        name == 0 || name > kMaxNameLength) {
      return ErrorCode::kBadField;
    }
    return ErrorCode::kNone;
  }
  [[nodiscard]] SubscriptionId subscription_id() const {
    return SubscriptionId{LoadU32(at(16))};
  }
  [[nodiscard]] StartMode start_mode() const {
    return static_cast<StartMode>(LoadU8(at(20)));
  }
  [[nodiscard]] Sequence start_sequence() const {
    return Sequence{LoadU64(at(24))};
  }
  /// The stream name, or the pattern including its trailing '*'.
  [[nodiscard]] std::string_view name() const {
    return AsText(slice(kFixedLength, LoadU16(at(22))));
  }
  [[nodiscard]] bool is_pattern() const { return name().back() == '*'; }
};

struct SubscribeFields {
  SubscriptionId subscription_id;
  StartMode start = StartMode::kLatest;
  Sequence start_sequence;  ///< used only with StartMode::kSequence
  std::string_view name;
};

inline std::size_t EncodeSubscribe(std::span<std::byte> out,
                                   const SubscribeFields& m) {
  if (m.name.empty() || m.name.size() > kMaxNameLength) return 0;
  const std::size_t len = SubscribeView::kFixedLength + m.name.size();
  std::byte* p = internal::BeginFrame(out, len, MessageType::kSubscribe, 0, 0);
  if (p == nullptr) return 0;
  StoreU32(p + 16, m.subscription_id.value());
  StoreU8(p + 20, static_cast<std::uint8_t>(m.start));
  StoreU8(p + 21, 0);
  StoreU16(p + 22, static_cast<std::uint16_t>(m.name.size()));
  StoreU64(p + 24,
           m.start == StartMode::kSequence ? m.start_sequence.value() : 0);
  internal::CopyBytes(p + 32, AsBytes(m.name));
  return PaddedLength(len);
}

// UNSUBSCRIBE (0x14), client -> gateway. Stream id 0, flags 0. Length 24.
//   16 u32 subscription_id   non-zero
//   20 u32 reserved          zero
class UnsubscribeView : public FrameView {
 public:
  static constexpr MessageType kType = MessageType::kUnsubscribe;
  static constexpr std::size_t kFixedLength = 24;
  using FrameView::FrameView;
  explicit UnsubscribeView(FrameView f) : FrameView(f) {}

  static ErrorCode Validate(std::span<const std::byte> f) {
    if (f.size() != kFixedLength) return ErrorCode::kBadBodyLength;
    if (LoadU16(f.data() + kFlagsOffset) != 0 ||
        LoadU32(f.data() + kStreamIdOffset) != 0 ||
        LoadU32(f.data() + 16) == 0 || LoadU32(f.data() + 20) != 0) {
      return ErrorCode::kBadField;
    }
    return ErrorCode::kNone;
  }
  [[nodiscard]] SubscriptionId subscription_id() const {
    return SubscriptionId{LoadU32(at(16))};
  }
};

inline std::size_t EncodeUnsubscribe(std::span<std::byte> out,
                                     SubscriptionId id) {
  std::byte* p = internal::BeginFrame(out, UnsubscribeView::kFixedLength,
                                      MessageType::kUnsubscribe, 0, 0);
  if (p == nullptr) return 0;
  StoreU32(p + 16, id.value());
  StoreU32(p + 20, 0);
  return UnsubscribeView::kFixedLength;
}

// UDP_SUBSCRIBE (0x16), client -> gateway. Stream id 0, flags 0. Asks the
// gateway to send one stream's DATA as UDP datagrams (PROTOCOL.md 16) to an
// IPv4 destination for the life of the subscription. Answered by
// SUBSCRIBE_ACK (next_sequence = the first sequence the datagrams carry) or
// a non-fatal ERROR (context = subscription_id); ended by UNSUBSCRIBE.
//   16 u32 subscription_id   non-zero; shares the session's id space with
//                            SUBSCRIBE
//   20 u16 port              UDP destination port, non-zero
//   22 u16 name_length       1..255; an exact stream name
//   24 4 bytes address       IPv4, network byte order (as sockaddr_in's
//                            sin_addr); 0.0.0.0 = the TCP session's peer
//   28 u32 reserved          zero
//   32 name bytes
class UdpSubscribeView : public FrameView {
 public:
  static constexpr MessageType kType = MessageType::kUdpSubscribe;
  static constexpr std::size_t kFixedLength = 32;
  using FrameView::FrameView;
  explicit UdpSubscribeView(FrameView f) : FrameView(f) {}

  static ErrorCode Validate(std::span<const std::byte> f) {
    if (f.size() < kFixedLength) return ErrorCode::kBadBodyLength;
    const std::uint16_t name = LoadU16(f.data() + 22);
    if (ErrorCode e =
            internal::CheckVariableLength(f.size(), kFixedLength, name);
        e != ErrorCode::kNone) {
      return e;
    }
    if (LoadU16(f.data() + kFlagsOffset) != 0 ||
        LoadU32(f.data() + kStreamIdOffset) != 0 ||
        LoadU32(f.data() + 16) == 0 || LoadU16(f.data() + 20) == 0 ||
        LoadU32(f.data() + 28) != 0 || name == 0 || name > kMaxNameLength) {
      return ErrorCode::kBadField;
    }
    return ErrorCode::kNone;
  }
  [[nodiscard]] SubscriptionId subscription_id() const {
    return SubscriptionId{LoadU32(at(16))};
  }
  /// The destination UDP port (host byte order).
  [[nodiscard]] std::uint16_t port() const { return LoadU16(at(20)); }
  /// The destination IPv4 address: 4 bytes in network byte order, ready to
  /// copy into sockaddr_in::sin_addr. All zero means "the TCP peer's address".
  [[nodiscard]] std::span<const std::byte, 4> address() const {
    return slice(24, 4).first<4>();
  }
  [[nodiscard]] bool address_is_peer() const { return LoadU32(at(24)) == 0; }
  /// The exact stream name (never a pattern once the session accepted it).
  [[nodiscard]] std::string_view name() const {
    return AsText(slice(kFixedLength, LoadU16(at(22))));
  }
};

struct UdpSubscribeFields {
  SubscriptionId subscription_id;
  /// IPv4 address octets in network order ({127, 0, 0, 1}); all zero means
  /// "the address of this TCP session's peer".
  std::array<std::uint8_t, 4> address{};
  std::uint16_t port = 0;
  std::string_view name;
};

inline std::size_t EncodeUdpSubscribe(std::span<std::byte> out,
                                      const UdpSubscribeFields& m) {
  if (m.name.empty() || m.name.size() > kMaxNameLength) return 0;
  const std::size_t len = UdpSubscribeView::kFixedLength + m.name.size();
  std::byte* p =
      internal::BeginFrame(out, len, MessageType::kUdpSubscribe, 0, 0);
  if (p == nullptr) return 0;
  StoreU32(p + 16, m.subscription_id.value());
  StoreU16(p + 20, m.port);
  StoreU16(p + 22, static_cast<std::uint16_t>(m.name.size()));
  std::memcpy(p + 24, m.address.data(), m.address.size());
  StoreU32(p + 28, 0);
  internal::CopyBytes(p + 32, AsBytes(m.name));
  return PaddedLength(len);
}

// GAP (0x15), gateway -> client. Stream id non-zero, flags 0. Length 32.
//   16 u64 from_sequence   first sequence not delivered (>= 1)
//   24 u64 to_sequence     last sequence not delivered (>= from), inclusive
// Delivery continues with to_sequence + 1.
class GapView : public FrameView {
 public:
  static constexpr MessageType kType = MessageType::kGap;
  static constexpr std::size_t kFixedLength = 32;
  using FrameView::FrameView;
  explicit GapView(FrameView f) : FrameView(f) {}

  static ErrorCode Validate(std::span<const std::byte> f) {
    if (f.size() != kFixedLength) return ErrorCode::kBadBodyLength;
    const std::uint64_t from = LoadU64(f.data() + 16);
    const std::uint64_t to = LoadU64(f.data() + 24);
    if (LoadU16(f.data() + kFlagsOffset) != 0 ||
        LoadU32(f.data() + kStreamIdOffset) == 0 || from == 0 || to < from) {
      return ErrorCode::kBadField;
    }
    return ErrorCode::kNone;
  }
  [[nodiscard]] Sequence from_sequence() const {
    return Sequence{LoadU64(at(16))};
  }
  [[nodiscard]] Sequence to_sequence() const {
    return Sequence{LoadU64(at(24))};
  }
};

inline std::size_t EncodeGap(std::span<std::byte> out, StreamId stream,
                             Sequence from, Sequence to) {
  std::byte* p = internal::BeginFrame(out, GapView::kFixedLength,
                                      MessageType::kGap, 0, stream.value());
  if (p == nullptr) return 0;
  StoreU64(p + 16, from.value());
  StoreU64(p + 24, to.value());
  return GapView::kFixedLength;
}

/// True if `name` is a well-formed stream name: 1..255 bytes of
/// [A-Za-z0-9._-]. Patterns are a well-formed prefix followed by '*'
/// (a lone "*" matches every stream).
constexpr bool IsValidStreamName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}
constexpr bool IsValidPattern(std::string_view pattern) {
  if (pattern.empty() || pattern.size() > kMaxNameLength ||
      pattern.back() != '*') {
    return false;
  }
  const std::string_view prefix = pattern.substr(0, pattern.size() - 1);
  return prefix.empty() || IsValidStreamName(prefix);
}

}  // namespace tachyon::protocol

#endif  // TACHYON_PROTOCOL_STREAM_MESSAGES_H_
