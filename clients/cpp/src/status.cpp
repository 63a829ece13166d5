#include "status.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace tachyon::client::internal {

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
  std::string message = absl::StrCat(std::string(context), ": ", name);
  if (!text.empty()) absl::StrAppend(&message, ": ", std::string(text));
  return absl::Status(StatusCodeFor(code), message);
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
  }
  std::string message = absl::StrCat(std::string(context), ": ", name);
  if (!text.empty()) absl::StrAppend(&message, ": ", std::string(text));
  return absl::Status(code, message);
}

}  // namespace tachyon::client::internal
