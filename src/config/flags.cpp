// Command-line flags for the gateway configuration, generated from the key
// list (config/keys.h): the ABSL_FLAG definitions and the flag -> key
// bindings below are both expansions of TACHYON_CONFIG_KEYS.
//
// Integers and bools are typed, so absl rejects "--workers=two" itself;
// byte sizes, enum names and the CPU list are strings handed to the config
// reader, so a bad value is reported by the same code, in the same words, as
// the file's would be ("--io: must be one of auto, epoll, uring, got
// 'kqueue'"). Ranges are checked once, by validation, for file and flags
// alike.
#include "config/flags.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

ABSL_FLAG(std::optional<std::string>, config, std::nullopt,
          "Path of the TOML configuration file; config/gateway.toml documents "
          "every key. The flags below override its values. Default: "
          "config/gateway.toml if it exists, else the built-in defaults.");

#define TACHYON_CONFIG_DEFINE_FLAG(table, key, flag, kind, detail, help)       \
  ABSL_FLAG(tachyon::config::FlagType<tachyon::config::ValueKind::kind>, flag, \
            std::nullopt, TACHYON_CONFIG_HELP(table, key, help));
TACHYON_CONFIG_KEYS(TACHYON_CONFIG_DEFINE_FLAG)
#undef TACHYON_CONFIG_DEFINE_FLAG

namespace tachyon::config {
namespace {

constexpr std::string_view kDefaultConfigPath = "config/gateway.toml";

using Value = KeyOverride::Value;
// nullopt: the flag holds no value.
using FlagValue = absl::StatusOr<std::optional<Value>>;

// "0,1" (or "none", or "") as the list of integers gateway.cpus takes.
FlagValue ParseCpuList(const std::string& text) {
  std::vector<std::int64_t> cpus;
  const absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  if (trimmed == "none" || trimmed.empty()) return Value(cpus);
  for (absl::string_view part : absl::StrSplit(trimmed, ',')) {
    std::int64_t cpu = 0;
    if (!absl::SimpleAtoi(part, &cpu)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "expected a comma-separated list of CPU ids such as 0,1 (or none), "
          "got '",
          text, "'"));
    }
    cpus.push_back(cpu);
  }
  return Value(std::move(cpus));
}

// The value of a flag for a key of `kKind`, as the override the reader takes.
template <ValueKind kKind, auto& kFlag>
FlagValue Get() {
  auto value = absl::GetFlag(kFlag);
  if (!value.has_value()) return std::nullopt;
  if constexpr (kKind == ValueKind::kCpuList) {
    return ParseCpuList(*value);
  } else {
    return Value(*std::move(value));
  }
}

struct Binding {
  ConfigFlag names;
  FlagValue (*get)();
};

#define TACHYON_CONFIG_BIND_FLAG(table, key, flag, kind, detail, help) \
  Binding{{#flag, #table "." #key}, &Get<ValueKind::kind, FLAGS_##flag>},
constexpr Binding kBindings[] = {TACHYON_CONFIG_KEYS(TACHYON_CONFIG_BIND_FLAG)};
#undef TACHYON_CONFIG_BIND_FLAG

}  // namespace

std::span<const ConfigFlag> ConfigFlags() {
  static const std::vector<ConfigFlag> flags = [] {
    std::vector<ConfigFlag> v;
    for (const Binding& b : kBindings) v.push_back(b.names);
    return v;
  }();
  return flags;
}

std::vector<std::string_view> SpecifiedConfigFlags() {
  std::vector<std::string_view> specified;
  for (const Binding& b : kBindings) {
    const FlagValue value = b.get();
    if (!value.ok() || value->has_value()) specified.push_back(b.names.flag);
  }
  return specified;
}

absl::StatusOr<std::vector<KeyOverride>> FlagOverrides() {
  std::vector<KeyOverride> overrides;
  for (const Binding& b : kBindings) {
    FlagValue value = b.get();
    const std::string origin = absl::StrCat("--", std::string(b.names.flag));
    if (!value.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": ", value.status().message()));
    }
    if (!value->has_value()) continue;
    overrides.push_back({std::string(b.names.key), origin, **std::move(value)});
  }
  return overrides;
}

std::string ConfigPathFromFlags() {
  if (std::optional<std::string> path = absl::GetFlag(FLAGS_config)) {
    return *path;
  }
  std::error_code ignored;
  return std::filesystem::exists(kDefaultConfigPath, ignored)
             ? std::string(kDefaultConfigPath)
             : std::string();
}

absl::StatusOr<GatewayConfig> LoadFromFlags() {
  absl::StatusOr<std::vector<KeyOverride>> overrides = FlagOverrides();
  if (!overrides.ok()) return overrides.status();
  return LoadConfigWithOverrides(ConfigPathFromFlags(), *overrides);
}

}  // namespace tachyon::config
