// tachyon/client/errors.h — which gateway error code a client status carries.
//
// Overview
//   Both clients report failures as absl::Status values whose code follows
//   the table in client.h ("Errors") and whose message carries the
//   gateway's own words. When the gateway caused the failure — an ERROR
//   frame (fatal or answering a request), a LOGON_REJECT, a refused
//   PUBLISH_ACK, a LOGOUT with a reason — the status also carries the
//   gateway's protocol ErrorCode, which GatewayErrorCode returns, so that an
//   application can tell "the gateway cut me as a slow consumer"
//   (ErrorCode::kSlowConsumer) from "the network failed" without parsing
//   text. The code survives the client's added context: a lost connection
//   reported to on_error while reconnecting keeps the code of its cause.
//
// Example
//   absl::StatusOr<int> n = client->Poll(64, std::chrono::milliseconds(100));
//   if (!n.ok() && tachyon::client::GatewayErrorCode(n.status()) ==
//                      tachyon::protocol::ErrorCode::kSlowConsumer) {
//     Alert("cut as a slow consumer: ", n.status().message());
//   }
//
// Threading: a pure function of its argument.
#ifndef TACHYON_CLIENT_ERRORS_H_
#define TACHYON_CLIENT_ERRORS_H_

#include <optional>

#include "absl/status/status.h"
#include "tachyon/protocol/wire.h"

namespace tachyon::client {

/// The gateway's ErrorCode behind `status`, or nullopt when the client made
/// the status itself (a local check, a timeout, a socket error, or a
/// connection that closed without a word).
std::optional<protocol::ErrorCode> GatewayErrorCode(const absl::Status& status);

}  // namespace tachyon::client

#endif  // TACHYON_CLIENT_ERRORS_H_
