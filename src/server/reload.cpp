#include "server/reload.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/gateway.h"

namespace tachyon::server {

const ReloadableKey* FindReloadable(std::string_view key) {
  for (const ReloadableKey& k : kReloadableKeys) {
    if (k.key == key) return &k;
  }
  return nullptr;
}

void ApplyReloadable(const config::GatewayConfig& next,
                     config::GatewayConfig& running) {
  for (const ReloadableKey& k : kReloadableKeys) k.copy(next, running);
}

absl::StatusOr<config::ReloadReport> ReloadFromFile(Gateway& gateway) {
  const ReloadSource source = gateway.reload_source();
  absl::StatusOr<config::GatewayConfig> next = config::LoadConfigWithOverrides(
      source.path, source.overrides, source.backends);
  if (!next.ok()) return next.status();
  return gateway.Reload(*next);
}

std::string DescribeReload(const config::ReloadReport& report) {
  if (report.applied.empty() && report.restart_required.empty()) {
    return "nothing changed";
  }
  std::string out;
  if (!report.applied.empty()) {
    absl::StrAppend(&out, "applied: ", absl::StrJoin(report.applied, ", "));
  }
  if (!report.restart_required.empty()) {
    absl::StrAppend(&out, out.empty() ? "" : "; ",
                    "restart required (running values kept): ",
                    absl::StrJoin(report.restart_required, ", "));
  }
  return out;
}

}  // namespace tachyon::server
