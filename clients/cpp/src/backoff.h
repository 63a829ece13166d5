// Internal: the retry policy Client::Connect (ConnectRetryOptions) and
// automatic reconnection (ReconnectOptions) share — which failures are worth
// another attempt, and the jittered exponential delay before it.
#ifndef TACHYON_CLIENTS_CPP_SRC_BACKOFF_H_
#define TACHYON_CLIENTS_CPP_SRC_BACKOFF_H_

#include <chrono>
#include <random>

#include "absl/status/status.h"

namespace tachyon::client::internal {

/// True if a failed connect or logon may succeed when tried again: the
/// gateway is not (yet) reachable, did not answer in time, is at its
/// connection limit or is shutting down. A refusal that would repeat (bad
/// token, unsupported version, a peer that is not a gateway) is not.
bool IsTransientConnectFailure(const absl::Status& status);

/// The delay after the `failures`-th consecutive failure (>= 1):
/// `initial` x 2^(failures - 1), at most `max`, scaled by a uniform factor
/// in [1 - jitter, 1 + jitter] (jitter clamped to 0..1).
std::chrono::steady_clock::duration BackoffDelay(
    int failures, std::chrono::milliseconds initial,
    std::chrono::milliseconds max, double jitter, std::minstd_rand& rng);

}  // namespace tachyon::client::internal

#endif  // TACHYON_CLIENTS_CPP_SRC_BACKOFF_H_
