// tachyon/protocol/request_messages.h — REQUEST, RESPONSE, SERVICE_LOOKUP
// and SERVICE_LOOKUP_ACK.
//
// Overview
//   Request/response through the gateway to a backend service, identified by
//   a numeric service id. The gateway routes each RESPONSE back to the session
//   that sent the REQUEST, matched by correlation id. A RESPONSE always
//   arrives: with the backend's payload, or with a status saying why not.
//   SERVICE_LOOKUP (protocol version 3) asks the gateway for the id of a
//   service by its configured name; SERVICE_LOOKUP_ACK answers with the id,
//   or 0 when no service has that name.
//
// Example
//   std::size_t n = tachyon::protocol::EncodeRequest(
//       buf, {.correlation_id = 7, .service_id = 12, .timeout_ms = 250,
//             .payload = body});
//   std::size_t m = tachyon::protocol::EncodeServiceLookup(
//       buf, {.correlation_id = 8, .name = "pricing"});
#ifndef TACHYON_PROTOCOL_REQUEST_MESSAGES_H_
#define TACHYON_PROTOCOL_REQUEST_MESSAGES_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "tachyon/protocol/frame_view.h"

namespace tachyon::protocol {

/// RESPONSE status codes. Values are stable wire constants.
enum class ResponseStatus : std::uint16_t {
  kOk = 0,
  kNoSuchService = 1,  ///< no backend service has this id
  kTimeout = 2,        ///< the backend did not answer within timeout_ms
  kUnavailable = 3,    ///< the service exists but no backend is reachable
  kBackendError = 4,   ///< the backend answered with an error
  /// The service's pools are at their maximum and its queue is full
  /// (protocol version 3; earlier versions get kUnavailable instead).
  kOverloaded = 5,
};
/// The highest status the decoder accepts (protocol version 3 added
/// kOverloaded; a version-1 or -2 decoder stops at kBackendError).
inline constexpr std::uint16_t kMaxResponseStatus = 5;

// REQUEST (0x30), client -> gateway. Stream id 0, flags 0.
//   16 u64 correlation_id   client-chosen, echoed in RESPONSE
//   24 u32 service_id       target service, non-zero
//   28 u32 timeout_ms       0 = gateway default
//   32 payload
class RequestView : public FrameView {
 public:
  static constexpr MessageType kType = MessageType::kRequest;
  static constexpr std::size_t kFixedLength = 32;
  using FrameView::FrameView;
  explicit RequestView(FrameView f) : FrameView(f) {}

  static ErrorCode Validate(std::span<const std::byte> f) {
    if (f.size() < kFixedLength) return ErrorCode::kBadBodyLength;
    if (LoadU16(f.data() + kFlagsOffset) != 0 ||
        LoadU32(f.data() + kStreamIdOffset) != 0 ||
        LoadU32(f.data() + 24) == 0) {
      return ErrorCode::kBadField;
    }
    return ErrorCode::kNone;
  }
  [[nodiscard]] std::uint64_t correlation_id() const { return LoadU64(at(16)); }
  [[nodiscard]] std::uint32_t service_id() const { return LoadU32(at(24)); }
  [[nodiscard]] std::uint32_t timeout_ms() const { return LoadU32(at(28)); }
  [[nodiscard]] std::span<const std::byte> payload() const {
    return tail(kFixedLength);
  }
};

struct RequestFields {
  std::uint64_t correlation_id = 0;
  std::uint32_t service_id = 0;
  std::uint32_t timeout_ms = 0;
  std::span<const std::byte> payload;
};

inline std::size_t EncodeRequest(std::span<std::byte> out,
                                 const RequestFields& m) {
  const std::size_t len = RequestView::kFixedLength + m.payload.size();
  std::byte* p = internal::BeginFrame(out, len, MessageType::kRequest, 0, 0);
  if (p == nullptr) return 0;
  StoreU64(p + 16, m.correlation_id);
  StoreU32(p + 24, m.service_id);
  StoreU32(p + 28, m.timeout_ms);
  internal::CopyBytes(p + 32, m.payload);
  return PaddedLength(len);
}

// RESPONSE (0x31), gateway -> client. Stream id 0, flags 0.
//   16 u64 correlation_id   from the REQUEST
//   24 u32 service_id       from the REQUEST
//   28 u16 status           ResponseStatus
//   30 u16 reserved         zero
//   32 payload (backend's answer; for a failure status, UTF-8 text)
class ResponseView : public FrameView {
 public:
  static constexpr MessageType kType = MessageType::kResponse;
  static constexpr std::size_t kFixedLength = 32;
  using FrameView::FrameView;
  explicit ResponseView(FrameView f) : FrameView(f) {}

  static ErrorCode Validate(std::span<const std::byte> f) {
    if (f.size() < kFixedLength) return ErrorCode::kBadBodyLength;
    if (LoadU16(f.data() + kFlagsOffset) != 0 ||
        LoadU32(f.data() + kStreamIdOffset) != 0 ||
        LoadU32(f.data() + 24) == 0 ||
        LoadU16(f.data() + 28) > kMaxResponseStatus ||
        LoadU16(f.data() + 30) != 0) {
      return ErrorCode::kBadField;
    }
    return ErrorCode::kNone;
  }
  [[nodiscard]] std::uint64_t correlation_id() const { return LoadU64(at(16)); }
  [[nodiscard]] std::uint32_t service_id() const { return LoadU32(at(24)); }
  [[nodiscard]] ResponseStatus status() const {
    return static_cast<ResponseStatus>(LoadU16(at(28)));
  }
  [[nodiscard]] std::span<const std::byte> payload() const {
    return tail(kFixedLength);
  }
};

struct ResponseFields {
  std::uint64_t correlation_id = 0;
  std::uint32_t service_id = 0;
  ResponseStatus status = ResponseStatus::kOk;
  std::span<const std::byte> payload;
};

inline std::size_t EncodeResponse(std::span<std::byte> out,
                                  const ResponseFields& m) {
  const std::size_t len = ResponseView::kFixedLength + m.payload.size();
  std::byte* p = internal::BeginFrame(out, len, MessageType::kResponse, 0, 0);
  if (p == nullptr) return 0;
  StoreU64(p + 16, m.correlation_id);
  StoreU32(p + 24, m.service_id);
  StoreU16(p + 28, static_cast<std::uint16_t>(m.status));
  StoreU16(p + 30, 0);
  internal::CopyBytes(p + 32, m.payload);
  return PaddedLength(len);
}

// SERVICE_LOOKUP (0x32), client -> gateway (protocol version 3). Stream id
// 0, flags 0. Length 32 + name_length.
//   16 u64 correlation_id   client-chosen, echoed in SERVICE_LOOKUP_ACK
//   24 u16 name_length      1..kMaxServiceNameLength
//   26 u16 reserved         zero
//   28 u32 reserved         zero
//   32 name                 the service's configured name
class ServiceLookupView : public FrameView {
 public:
  static constexpr MessageType kType = MessageType::kServiceLookup;
  static constexpr std::size_t kFixedLength = 32;
  using FrameView::FrameView;
  explicit ServiceLookupView(FrameView f) : FrameView(f) {}

  static ErrorCode Validate(std::span<const std::byte> f) {
    if (f.size() < kFixedLength) return ErrorCode::kBadBodyLength;
    const std::uint16_t name = LoadU16(f.data() + 24);
    if (ErrorCode e =
            internal::CheckVariableLength(f.size(), kFixedLength, name);
        e != ErrorCode::kNone) {
      return e;
    }
    if (LoadU16(f.data() + kFlagsOffset) != 0 ||
        LoadU32(f.data() + kStreamIdOffset) != 0 ||
        LoadU16(f.data() + 26) != 0 || LoadU32(f.data() + 28) != 0 ||
        name == 0 || name > kMaxServiceNameLength) {
      return ErrorCode::kBadField;
    }
    return ErrorCode::kNone;
  }
  [[nodiscard]] std::uint64_t correlation_id() const { return LoadU64(at(16)); }
  /// The service name asked for (1..kMaxServiceNameLength bytes).
  [[nodiscard]] std::string_view name() const {
    return AsText(slice(kFixedLength, LoadU16(at(24))));
  }
};

struct ServiceLookupFields {
  std::uint64_t correlation_id = 0;
  std::string_view name;  ///< 1..kMaxServiceNameLength bytes
};

/// Returns 0 (nothing written) for an empty or over-long name, or when
/// `out` is too small.
inline std::size_t EncodeServiceLookup(std::span<std::byte> out,
                                       const ServiceLookupFields& m) {
  if (m.name.empty() || m.name.size() > kMaxServiceNameLength) return 0;
  const std::size_t len = ServiceLookupView::kFixedLength + m.name.size();
  std::byte* p =
      internal::BeginFrame(out, len, MessageType::kServiceLookup, 0, 0);
  if (p == nullptr) return 0;
  StoreU64(p + 16, m.correlation_id);
  StoreU16(p + 24, static_cast<std::uint16_t>(m.name.size()));
  StoreU16(p + 26, 0);
  StoreU32(p + 28, 0);
  internal::CopyBytes(p + 32, AsBytes(m.name));
  return PaddedLength(len);
}

// SERVICE_LOOKUP_ACK (0x33), gateway -> client (protocol version 3). Stream
// id 0, flags 0. Length 32.
//   16 u64 correlation_id   from the SERVICE_LOOKUP
//   24 u32 service_id       the service's id; 0 = no service has that name
//   28 u32 reserved         zero
class ServiceLookupAckView : public FrameView {
 public:
  static constexpr MessageType kType = MessageType::kServiceLookupAck;
  static constexpr std::size_t kFixedLength = 32;
  using FrameView::FrameView;
  explicit ServiceLookupAckView(FrameView f) : FrameView(f) {}

  static ErrorCode Validate(std::span<const std::byte> f) {
    if (f.size() != kFixedLength) return ErrorCode::kBadBodyLength;
    if (LoadU16(f.data() + kFlagsOffset) != 0 ||
        LoadU32(f.data() + kStreamIdOffset) != 0 ||
        LoadU32(f.data() + 28) != 0) {
      return ErrorCode::kBadField;
    }
    return ErrorCode::kNone;
  }
  [[nodiscard]] std::uint64_t correlation_id() const { return LoadU64(at(16)); }
  /// The id to put in REQUEST.service_id; 0 when no service has the name.
  [[nodiscard]] std::uint32_t service_id() const { return LoadU32(at(24)); }
};

struct ServiceLookupAckFields {
  std::uint64_t correlation_id = 0;
  std::uint32_t service_id = 0;  ///< 0: no service has the name
};

inline std::size_t EncodeServiceLookupAck(std::span<std::byte> out,
                                          const ServiceLookupAckFields& m) {
  std::byte* p = internal::BeginFrame(out, ServiceLookupAckView::kFixedLength,
                                      MessageType::kServiceLookupAck, 0, 0);
  if (p == nullptr) return 0;
  StoreU64(p + 16, m.correlation_id);
  StoreU32(p + 24, m.service_id);
  StoreU32(p + 28, 0);
  return ServiceLookupAckView::kFixedLength;
}

}  // namespace tachyon::protocol

#endif  // TACHYON_PROTOCOL_REQUEST_MESSAGES_H_
