// Names of message types and error codes, as PROTOCOL.md spells them.
#include <array>
#include <string_view>
#include <utility>

#include "tachyon/protocol/wire.h"

namespace tachyon::protocol {
namespace {

constexpr std::array<std::pair<MessageType, std::string_view>, 20> kTypeNames{{
    {MessageType::kLogon, "LOGON"},
    {MessageType::kLogonAck, "LOGON_ACK"},
    {MessageType::kLogonReject, "LOGON_REJECT"},
    {MessageType::kHeartbeat, "HEARTBEAT"},
    {MessageType::kLogout, "LOGOUT"},
    {MessageType::kError, "ERROR"},
    {MessageType::kOpenStream, "OPEN_STREAM"},
    {MessageType::kOpenStreamAck, "OPEN_STREAM_ACK"},
    {MessageType::kSubscribe, "SUBSCRIBE"},
    {MessageType::kSubscribeAck, "SUBSCRIBE_ACK"},
    {MessageType::kUnsubscribe, "UNSUBSCRIBE"},
    {MessageType::kGap, "GAP"},
    {MessageType::kUdpSubscribe, "UDP_SUBSCRIBE"},
    {MessageType::kPublish, "PUBLISH"},
    {MessageType::kPublishAck, "PUBLISH_ACK"},
    {MessageType::kData, "DATA"},
    {MessageType::kRequest, "REQUEST"},
    {MessageType::kResponse, "RESPONSE"},
    {MessageType::kServiceLookup, "SERVICE_LOOKUP"},
    {MessageType::kServiceLookupAck, "SERVICE_LOOKUP_ACK"},
}};

constexpr std::array<std::pair<ErrorCode, std::string_view>, 22> kErrorNames{{
    {ErrorCode::kNone, "NONE"},
    {ErrorCode::kFrameTooShort, "FRAME_TOO_SHORT"},
    {ErrorCode::kFrameTooLong, "FRAME_TOO_LONG"},
    {ErrorCode::kUnsupportedVersion, "UNSUPPORTED_VERSION"},
    {ErrorCode::kUnknownType, "UNKNOWN_TYPE"},
    {ErrorCode::kBadPadding, "BAD_PADDING"},
    {ErrorCode::kBadBodyLength, "BAD_BODY_LENGTH"},
    {ErrorCode::kBadField, "BAD_FIELD"},
    {ErrorCode::kUnexpectedMessage, "UNEXPECTED_MESSAGE"},
    {ErrorCode::kNotAuthorized, "NOT_AUTHORIZED"},
    {ErrorCode::kHeartbeatTimeout, "HEARTBEAT_TIMEOUT"},
    {ErrorCode::kSlowConsumer, "SLOW_CONSUMER"},
    {ErrorCode::kShuttingDown, "SHUTTING_DOWN"},
    {ErrorCode::kLimitExceeded, "LIMIT_EXCEEDED"},
    {ErrorCode::kUnknownStream, "UNKNOWN_STREAM"},
    {ErrorCode::kUnknownSubscription, "UNKNOWN_SUBSCRIPTION"},
    {ErrorCode::kDuplicateSubscription, "DUPLICATE_SUBSCRIPTION"},
    {ErrorCode::kInvalidName, "INVALID_NAME"},
    {ErrorCode::kBackPressured, "BACK_PRESSURED"},
    {ErrorCode::kUnavailable, "UNAVAILABLE"},
    {ErrorCode::kUdpRefused, "UDP_REFUSED"},
    {ErrorCode::kInternal, "INTERNAL"},
}};

}  // namespace

std::string_view MessageTypeName(MessageType type) {
  for (const auto& [t, name] : kTypeNames) {
    if (t == type) return name;
  }
  return "UNKNOWN";
}

std::string_view ErrorCodeName(ErrorCode code) {
  for (const auto& [c, name] : kErrorNames) {
    if (c == code) return name;
  }
  return "UNKNOWN";
}

bool ParseMessageType(std::string_view name, MessageType* out) {
  for (const auto& [t, n] : kTypeNames) {
    if (n == name) {
      *out = t;
      return true;
    }
  }
  return false;
}

bool ParseErrorCode(std::string_view name, ErrorCode* out) {
  for (const auto& [c, n] : kErrorNames) {
    if (n == name) {
      *out = c;
      return true;
    }
  }
  return false;
}

}  // namespace tachyon::protocol
