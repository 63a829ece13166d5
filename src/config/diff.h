// Key-by-key comparison of two configurations: which keys differ, with the
// new value spelled as the config file would spell it.
//
// Overview
//   Generated from the key list (keys.h), so a new key is compared without
//   being listed here. The gateway prints the keys that differ from the
//   built-in defaults at start (ChangedKeys(GatewayConfig{}, running)), and
//   a reload compares the newly read file with the running configuration
//   (server/reload.h). The arrays of tables ([[streams.policies]],
//   [[udp.groups]], [[backends]]) are compared whole: an array whose
//   entries differ is one change, valued by its entry count.
//
//   Values: integers in decimal, byte sizes in the shortest exact unit
//   ("16MiB"), bools true/false, enums by name, CPU lists "0,1", strings
//   quoted ('0.0.0.0'); session.token is never printed, only "(set)" or
//   "(none)".
//
// Example
//   for (const KeyChange& c : ChangedKeys(GatewayConfig{}, config))
//     std::printf("  %s = %s\n", c.key.c_str(), c.value.c_str());
//
// Threading: pure functions.
#ifndef TACHYON_CONFIG_DIFF_H_
#define TACHYON_CONFIG_DIFF_H_

#include <string>
#include <vector>

#include "config/model.h"

namespace tachyon::config {

/// One key whose value differs between two configurations.
struct KeyChange {
  std::string key;    ///< dotted key ("gateway.workers"), or an array's
  std::string value;  ///< its value in the second configuration
};

/// The keys whose values differ between `from` and `to`, in the key list's
/// (the file's) order, then the arrays of tables that differ.
std::vector<KeyChange> ChangedKeys(const GatewayConfig& from,
                                   const GatewayConfig& to);

}  // namespace tachyon::config

#endif  // TACHYON_CONFIG_DIFF_H_
