// The parts of Validate (validate.cpp) that live in files of their own, and
// the checks they share with it. Internal to tachyon::config: problems are
// collected in a Problems (problems.h), worded against the reader's origins.
#ifndef TACHYON_CONFIG_VALIDATE_PARTS_H_
#define TACHYON_CONFIG_VALIDATE_PARTS_H_

#include <cstdint>
#include <string_view>

#include "config/keys.h"
#include "config/model.h"
#include "config/problems.h"

namespace tachyon::config::internal {

/// Adds "must be between min and max, got v" for `key` unless `r` holds v.
void CheckRange(Problems& p, std::string_view key, std::int64_t v, Range r);
/// A service (or principal, or producer) name: 1..64 of A-Z a-z 0-9 . _ -.
bool IsServiceName(std::string_view name);

// validate_security.cpp
void ValidateUdpProducers(const GatewayConfig& c, Problems& p);
void ValidateAuth(const GatewayConfig& c, Problems& p);
void ValidateTls(const GatewayConfig& c, Problems& p);

}  // namespace tachyon::config::internal

#endif  // TACHYON_CONFIG_VALIDATE_PARTS_H_
