// ChangedKeys: one comparison per row of the key list (keys.h), each
// reading the member of the row's name in the struct its table fills, as
// the reader's rules do.
#include "config/diff.h"

#include <string_view>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "config/keys.h"
#include "config/problems.h"
#include "config/units.h"

namespace tachyon::config {
namespace {

using internal::Cat;
using internal::Quoted;

template <typename T, std::size_t N>
std::string EnumName(T value,
                     const std::pair<T, std::string_view> (&names)[N]) {
  for (const auto& [v, name] : names) {
    if (v == value) return std::string(name);
  }
  return "?";
}

// `value` as the file spells a value of `kKind`; `kDetail` names an enum's
// values.
template <ValueKind kKind, const auto& kDetail, typename T>
std::string Spell(const T& value) {
  if constexpr (kKind == ValueKind::kBytes) {
    return FormatByteSize(static_cast<std::uint64_t>(value));
  } else if constexpr (kKind == ValueKind::kBool) {
    return value ? "true" : "false";
  } else if constexpr (kKind == ValueKind::kEnum) {
    return EnumName(value, kDetail);
  } else if constexpr (kKind == ValueKind::kString) {
    return Quoted(value);
  } else if constexpr (kKind == ValueKind::kCpuList) {
    return value.empty() ? std::string("none") : absl::StrJoin(value, ",");
  } else if constexpr (kKind == ValueKind::kStringList) {
    std::string out = "[";
    for (const std::string& e : value) {
      if (out.size() > 1) out += ", ";
      out += Quoted(e);
    }
    return out + "]";
  } else if constexpr (kKind == ValueKind::kFloat) {
    return absl::StrCat(value);
  } else {
    static_assert(kKind == ValueKind::kInt);
    return absl::StrCat(value);
  }
}

// A key whose value must never reach a log or a terminal: any token, token
// hash, key, private key, password or secret, in any table ("session.token",
// "admin.token", "tls.private_key", ...). Judged by the last part of the
// dotted name so a key added later under one of these names is covered.
bool IsSecret(std::string_view key) {
  const std::size_t dot = key.rfind('.');
  const std::string_view name =
      dot == std::string_view::npos ? key : key.substr(dot + 1);
  for (std::string_view secret : {"token", "token_hash", "key", "private_key",
                                  "password", "passphrase", "secret"}) {
    if (name == secret) return true;
  }
  return false;
}

template <ValueKind kKind, const auto& kDetail, auto kField, typename Struct>
void Compare(std::string_view key, const Struct& from, const Struct& to,
             std::vector<KeyChange>& out) {
  if (from.*kField == to.*kField) return;
  std::string value;
  if constexpr (kKind == ValueKind::kString) {
    value = IsSecret(key) ? ((to.*kField).empty() ? "(none)" : "(set)")
                          : Spell<kKind, kDetail>(to.*kField);
  } else {
    value = Spell<kKind, kDetail>(to.*kField);
  }
  out.push_back({std::string(key), std::move(value)});
}

#define TACHYON_DIFF_KEY(table, key, flag, kind, detail, help) \
  Compare<ValueKind::kind, detail, &Target::key>(#table "." #key, a, b, out);
#define TACHYON_DIFF_TABLE(table_name, KEYS, Struct, path, ...) \
  {                                                             \
    using Target = Struct;                                      \
    const Target& a = from path;                                \
    const Target& b = to path;                                  \
    KEYS(TACHYON_DIFF_KEY)                                      \
  }

template <typename Entry>
void CompareArray(std::string_view key, const std::vector<Entry>& from,
                  const std::vector<Entry>& to, std::vector<KeyChange>& out) {
  if (from == to) return;
  out.push_back({std::string(key), Cat(to.size(), " entries")});
}

}  // namespace

std::vector<KeyChange> ChangedKeys(const GatewayConfig& from,
                                   const GatewayConfig& to) {
  std::vector<KeyChange> out;
  TACHYON_CONFIG_TABLES(TACHYON_DIFF_TABLE)
  CompareArray(kStreamPolicies.key, from.stream_policies, to.stream_policies,
               out);
  CompareArray(kUdpGroups.key, from.udp.groups, to.udp.groups, out);
  CompareArray(kBackends.key, from.backends, to.backends, out);
  CompareArray(kPrincipals.key, from.principals, to.principals, out);
  CompareArray(kUdpProducers.key, from.udp_producers, to.udp_producers, out);
  return out;
}

#undef TACHYON_DIFF_TABLE
#undef TACHYON_DIFF_KEY

}  // namespace tachyon::config
