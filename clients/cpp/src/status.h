// Internal: how the client turns the gateway's error codes into
// absl::Status values (the table in client.h, "Errors").
#ifndef TACHYON_CLIENTS_CPP_SRC_STATUS_H_
#define TACHYON_CLIENTS_CPP_SRC_STATUS_H_

#include <string_view>

#include "absl/status/status.h"
#include "tachyon/protocol/request_messages.h"
#include "tachyon/protocol/wire.h"

namespace tachyon::client::internal {

/// The status code for a gateway ErrorCode (ERROR, LOGON_REJECT,
/// PUBLISH_ACK). Codes the client does not know map to UNKNOWN.
absl::StatusCode StatusCodeFor(protocol::ErrorCode code);

/// "<context>: <CODE_NAME>: <text>" with StatusCodeFor(code); ": <text>" is
/// omitted when the text is empty, and the code name is not repeated when
/// the gateway's text already starts with it (its fatal ERRORs do). Carries
/// `code` for GatewayErrorCode (errors.h).
absl::Status GatewayError(protocol::ErrorCode code, std::string_view context,
                          std::string_view text);

/// Marks `status` as caused by the gateway's `code` (GatewayErrorCode).
void AttachGatewayCode(absl::Status& status, protocol::ErrorCode code);
/// `to` with the gateway code `from` carries, if any (a status rebuilt with
/// more context keeps its cause).
absl::Status KeepGatewayCode(absl::Status to, const absl::Status& from);

/// RESPONSE status -> Status: OK only for kOk; `text` is the payload.
absl::Status ResponseError(protocol::ResponseStatus status,
                           std::string_view context, std::string_view text);

}  // namespace tachyon::client::internal

#endif  // TACHYON_CLIENTS_CPP_SRC_STATUS_H_
