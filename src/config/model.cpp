#include "config/model.h"

namespace tachyon::config {
namespace {

template <typename E, std::size_t N>
std::string_view NameIn(const std::pair<E, std::string_view> (&names)[N],
                        E value) {
  for (const auto& [v, n] : names) {
    if (v == value) return n;
  }
  return "unknown";
}

}  // namespace

bool StreamPolicy::Matches(std::string_view stream_name) const {
  if (match.ends_with('*')) {
    return stream_name.starts_with(
        std::string_view(match).substr(0, match.size() - 1));
  }
  return stream_name == match;
}

const StreamPolicy& GatewayConfig::PolicyFor(
    std::string_view stream_name) const {
  for (const StreamPolicy& policy : stream_policies) {
    if (policy.Matches(stream_name)) return policy;
  }
  return default_stream;
}

std::string_view IoBackendName(IoBackend io) {
  return NameIn(kIoBackendNames, io);
}
std::string_view IdleStrategyName(IdleStrategy idle) {
  return NameIn(kIdleStrategyNames, idle);
}
std::string_view SlowConsumerPolicyName(SlowConsumerPolicy policy) {
  return NameIn(kSlowConsumerPolicyNames, policy);
}
std::optional<IoBackend> ParseIoBackend(std::string_view name) {
  return ValueNamed(kIoBackendNames, name);
}
std::optional<IdleStrategy> ParseIdleStrategy(std::string_view name) {
  return ValueNamed(kIdleStrategyNames, name);
}
std::optional<SlowConsumerPolicy> ParseSlowConsumerPolicy(
    std::string_view name) {
  return ValueNamed(kSlowConsumerPolicyNames, name);
}

}  // namespace tachyon::config
