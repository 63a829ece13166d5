#include "status.h"

#include <optional>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tachyon/client/errors.h"

namespace tachyon::client::internal {

namespace {

// The payload type URL under which a status carries the gateway's code.
constexpr char kGatewayCodePayload[] = "type.tachyon.dev/tachyon.ErrorCode";

}  // namespace

namespace tp = ::tachyon::protocol;
using ::tachyon::protocol::ErrorCode;

absl::StatusCode StatusCodeFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNone:
      return absl::StatusCode::kOk;
    case ErrorCode::kFrameTooShort:
    case ErrorCode::kFrameTooLong:
    case ErrorCode::kUnknownType:
    case ErrorCode::kBadPadding:
    case ErrorCode::kBadBodyLength:
    case ErrorCode::kBadField:
      // The gateway says *we* sent a malformed frame: a client bug.
      return absl::StatusCode::kInternal;
    case ErrorCode::kUnsupportedVersion:
      return absl::StatusCode::kFailedPrecondition;
    case ErrorCode::kUnexpectedMessage:
      return absl::StatusCode::kInternal;
    case ErrorCode::kNotAuthorized:
      return absl::StatusCode::kPermissionDenied;
    case ErrorCode::kHeartbeatTimeout:
    case ErrorCode::kSlowConsumer:
    case ErrorCode::kShuttingDown:
      // The connection is gone but a new one may well work.
      return absl::StatusCode::kUnavailable;
    case ErrorCode::kLimitExceeded:
    case ErrorCode::kBackPressured:
      return absl::StatusCode::kResourceExhausted;
    case ErrorCode::kUnknownStream:
      return absl::StatusCode::kFailedPrecondition;
    case ErrorCode::kUnknownSubscription:
      return absl::StatusCode::kNotFound;
    case ErrorCode::kDuplicateSubscription:
      return absl::StatusCode::kAlreadyExists;
    case ErrorCode::kInvalidName:
      return absl::StatusCode::kInvalidArgument;
    case ErrorCode::kUnavailable:
      return absl::StatusCode::kOutOfRange;
    case ErrorCode::kUdpRefused:
      return absl::StatusCode::kPermissionDenied;
    case ErrorCode::kInternal:
      return absl::StatusCode::kInternal;
  }
  return absl::StatusCode::kUnknown;
}

absl::Status GatewayError(ErrorCode code, std::string_view context,
                          std::string_view text) {
  std::string name(tp::ErrorCodeName(code));
  if (name == "UNKNOWN") {
    name = absl::StrCat("error code ", static_cast<int>(code));
  }
  // The gateway's fatal ERROR texts start with the code's name already
  // ("SLOW_CONSUMER: subscriber fell ...").
  const std::string prefix = name + ": ";
  if (text.substr(0, prefix.size()) == prefix)
    text.remove_prefix(prefix.size());
  std::string message = absl::StrCat(std::string(context), ": ", name);
  if (!text.empty()) absl::StrAppend(&message, ": ", std::string(text));
  absl::Status status(StatusCodeFor(code), message);
  AttachGatewayCode(status, code);
  return status;
}

void AttachGatewayCode(absl::Status& status, ErrorCode code) {
  if (status.ok()) return;
  status.SetPayload(kGatewayCodePayload,
                    absl::Cord(std::to_string(static_cast<int>(code))));
}

absl::Status KeepGatewayCode(absl::Status to, const absl::Status& from) {
  if (auto code = from.GetPayload(kGatewayCodePayload);
      code.has_value() && !to.ok()) {
    to.SetPayload(kGatewayCodePayload, *std::move(code));
  }
  return to;
}

absl::Status ResponseError(tp::ResponseStatus status, std::string_view context,
                           std::string_view text) {
  absl::StatusCode code = absl::StatusCode::kUnknown;
  const char* name = "BACKEND_ERROR";
  switch (status) {
    case tp::ResponseStatus::kOk:
      return absl::OkStatus();
    case tp::ResponseStatus::kNoSuchService:
      code = absl::StatusCode::kNotFound;
      name = "NO_SUCH_SERVICE";
      break;
    case tp::ResponseStatus::kTimeout:
      code = absl::StatusCode::kDeadlineExceeded;
      name = "TIMEOUT";
      break;
    case tp::ResponseStatus::kUnavailable:
      code = absl::StatusCode::kUnavailable;
      name = "UNAVAILABLE";
      break;
    case tp::ResponseStatus::kBackendError:
      break;
    case tp::ResponseStatus::kOverloaded:
      code = absl::StatusCode::kResourceExhausted;
      name = "OVERLOADED";
      break;
  }
  std::string message = absl::StrCat(std::string(context), ": ", name);
  if (!text.empty()) absl::StrAppend(&message, ": ", std::string(text));
  return absl::Status(code, message);
}

}  // namespace tachyon::client::internal

namespace tachyon::client {

std::optional<protocol::ErrorCode> GatewayErrorCode(
    const absl::Status& status) {
  const auto payload = status.GetPayload(internal::kGatewayCodePayload);
  int code = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &code) ||
      code <= 0 || code > 0xFFFF) {
    return std::nullopt;
  }
  return static_cast<protocol::ErrorCode>(code);
}

}  // namespace tachyon::client
