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
//
// --backend is the one flag that is not a key: it adds whole [[backends]]
// entries from a compact spec (ParseBackendFlag), checked by validation like
// the file's entries.
#include "config/flags.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "base/strings.h"
#include "config/problems.h"

ABSL_FLAG(std::optional<std::string>, config, std::nullopt,
          "Path of the TOML configuration file; config/gateway.toml documents "
          "every key. The flags below override its values. Default: "
          "config/gateway.toml if it exists, else the built-in defaults.");

ABSL_FLAG(std::optional<std::string>, backend, std::nullopt,
          "backends: services to add after the config file's [[backends]] "
          "entries, each name:id@host:port[,host:port...], several separated "
          "by ';' (quote them for the shell), e.g. "
          "--backend=risk:1@127.0.0.1:9001,127.0.0.1:9002; every other key "
          "of the entry takes its [[backends]] default (default none)");

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
using internal::Cat;

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

// "a b  c" (or "none", or "") as a list of strings ([fastpath] eal_args,
// neighbours: no element of either holds a space).
Value ParseStringList(const std::string& text) {
  std::vector<std::string> list;
  const absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  if (trimmed == "none") return Value(list);
  for (absl::string_view part :
       absl::StrSplit(trimmed, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
    list.emplace_back(part);
  }
  return Value(std::move(list));
}

// The value of a flag for a key of `kKind`, as the override the reader takes.
template <ValueKind kKind, auto& kFlag>
FlagValue Get() {
  auto value = absl::GetFlag(kFlag);
  if (!value.has_value()) return std::nullopt;
  if constexpr (kKind == ValueKind::kCpuList) {
    return ParseCpuList(*value);
  } else if constexpr (kKind == ValueKind::kStringList) {
    return ParseStringList(*value);
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

bool AllDigits(absl::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char ch) {
    return absl::ascii_isdigit(static_cast<unsigned char>(ch));
  });
}

constexpr absl::string_view kBackendForm =
    "expected name:id@host:port[,host:port...] (services separated by ';')";

}  // namespace

absl::StatusOr<std::vector<BackendService>> ParseBackendFlag(
    std::string_view text) {
  std::vector<BackendService> services;
  const absl::string_view all = absl::StripAsciiWhitespace(AbslView(text));
  if (all.empty()) return services;
  for (absl::string_view part : absl::StrSplit(all, ';')) {
    const absl::string_view spec = absl::StripAsciiWhitespace(part);
    auto bad = [&](absl::string_view problem) {
      return absl::InvalidArgumentError(
          absl::StrCat(problem, "; ", kBackendForm, ", got '", spec, "'"));
    };
    if (spec.empty()) return bad("empty service");
    const std::size_t at = spec.find('@');
    if (at == absl::string_view::npos) {
      return bad("no '@' before the endpoints");
    }
    const absl::string_view head = spec.substr(0, at);
    const std::size_t colon = head.rfind(':');
    if (colon == absl::string_view::npos) {
      return bad("no ':id' after the name");
    }
    BackendService service;
    service.name = std::string(head.substr(0, colon));
    const absl::string_view id = head.substr(colon + 1);
    if (!AllDigits(id) || !absl::SimpleAtoi(id, &service.id)) {
      return bad("the id must be a number between 1 and 4294967295");
    }
    for (absl::string_view endpoint :
         absl::StrSplit(spec.substr(at + 1), ',')) {
      endpoint = absl::StripAsciiWhitespace(endpoint);
      if (endpoint.empty()) return bad("empty endpoint");
      service.endpoints.emplace_back(endpoint);
    }
    services.push_back(std::move(service));
  }
  return services;
}

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
  if (absl::GetFlag(FLAGS_backend).has_value()) specified.push_back("backend");
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

absl::Status CheckFlagNames(std::span<char* const> args) {
  // Handled by absl::ParseCommandLine itself rather than registered.
  static constexpr std::string_view kBuiltIn[] = {
      "help",    "helpfull",   "helpshort", "helppackage",
      "helpon",  "helpmatch",  "version",   "flagfile",
      "fromenv", "tryfromenv", "undefok",   "only_check_args"};
  std::vector<std::string> names;  // "--port", for the suggestion
  std::vector<std::string_view> known;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    names.push_back(absl::StrCat("--", name));
  }
  for (std::string_view b : kBuiltIn) names.push_back(Cat("--", b));
  for (const std::string& n : names) known.push_back(n);
  for (char* const arg : args) {
    const std::string_view a(arg);
    if (a == "--") break;
    if (a.size() < 2 || a[0] != '-') continue;  // a value or a positional
    std::string_view name = a.substr(a[1] == '-' ? 2 : 1);
    name = name.substr(0, name.find('='));
    if (name.empty()) continue;
    const std::string dashed = Cat("--", name);
    if (std::find(known.begin(), known.end(), dashed) != known.end()) continue;
    // absl's negated form of a bool flag: --notcp_nodelay.
    if (name.starts_with("no") &&
        std::find(known.begin(), known.end(), Cat("--", name.substr(2))) !=
            known.end()) {
      continue;
    }
    return absl::InvalidArgumentError(
        Cat(dashed, ": ", internal::UnknownKeyMessage("flag", dashed, known)));
  }
  return absl::OkStatus();
}

absl::StatusOr<AddedBackends> BackendsFromFlags() {
  AddedBackends added{.origin = "--backend"};
  if (std::optional<std::string> spec = absl::GetFlag(FLAGS_backend)) {
    absl::StatusOr<std::vector<BackendService>> services =
        ParseBackendFlag(*spec);
    if (!services.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(added.origin, ": ", services.status().message()));
    }
    added.services = *std::move(services);
  }
  return added;
}

absl::StatusOr<GatewayConfig> LoadFromFlags() {
  absl::StatusOr<std::vector<KeyOverride>> overrides = FlagOverrides();
  if (!overrides.ok()) return overrides.status();
  absl::StatusOr<AddedBackends> backends = BackendsFromFlags();
  if (!backends.ok()) return backends.status();
  return LoadConfigWithOverrides(ConfigPathFromFlags(), *overrides, *backends);
}

}  // namespace tachyon::config
