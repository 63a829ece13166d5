// ReloadReport: what a configuration reload did.
//
// A reload (SIGHUP, or POST /api/v1/reload) compares the newly read file
// with the running configuration key by key: keys that can change while
// sessions stay connected are applied; the others are listed as needing a
// restart and keep their running values.
#ifndef TACHYON_CONFIG_RELOAD_REPORT_H_
#define TACHYON_CONFIG_RELOAD_REPORT_H_

#include <string>
#include <vector>

namespace tachyon::config {

struct ReloadReport {
  /// Dotted keys whose new values took effect ("log_level", ...).
  std::vector<std::string> applied;
  /// Dotted keys that changed but take effect only after a restart.
  std::vector<std::string> restart_required;
};

}  // namespace tachyon::config

#endif  // TACHYON_CONFIG_RELOAD_REPORT_H_
