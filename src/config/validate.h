// Validation of a GatewayConfig: ranges and cross-field rules.
//
// Overview
//   The reader (config/reader.h) converts values and rejects wrong types and
//   unknown keys; everything a well-typed value can still get wrong is
//   checked here: ranges (from the key table, config/keys.h), powers of two,
//   address literals, and rules across keys (a stream window at most half
//   its capacity, the log memory budget at least the largest stream, one CPU
//   per worker, unique [[backends]] names and ids, a pool's minimum at most
//   its maximum, ...). The loaders run it; Validate also checks a config
//   built in code, naming the dotted keys without a file or line.
//
// Example
//   GatewayConfig config;
//   config.workers = 0;
//   absl::Status s = Validate(config);
//   // InvalidArgument: "gateway.workers: must be between 1 and 64, got 0"
//
// Threading: reentrant; reads only its argument.
#ifndef TACHYON_CONFIG_VALIDATE_H_
#define TACHYON_CONFIG_VALIDATE_H_

#include "absl/status/status.h"
#include "config/model.h"
#include "config/problems.h"

namespace tachyon::config {

/// Cross-field and range validation (also run by the loaders). On a config
/// not loaded from a file, errors name the dotted key without a line
/// ("gateway.workers: must be between 1 and 64, got 0"); every problem is
/// reported, one line each, as an InvalidArgument status.
absl::Status Validate(const GatewayConfig& config);

namespace internal {
/// Validate, reporting into `problems` (the loaders' origins word them).
void ValidateInto(const GatewayConfig& config, Problems& problems);
}  // namespace internal

}  // namespace tachyon::config

#endif  // TACHYON_CONFIG_VALIDATE_H_
