// The key list (config/keys.h) against everything generated from it or
// written beside it: one flag per key and one key per flag, help texts that
// name their key and state the model's default, the shipped config files,
// the reader's rules and the gateway's --helpfull.
#include "config/keys.h"

#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "config/flags.h"
#include "config/reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "toml++/toml.h"

namespace tachyon::config {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Str(std::string_view s) { return std::string(s); }

std::string SourcePath(const std::string& relative) {
  return std::string(TACHYON_SOURCE_DIR) + "/" + relative;
}

// The flags defined in config/flags.cpp, by name ("config" excluded).
std::set<std::string> FlagsDefinedByTheConfigModule() {
  std::set<std::string> names;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (absl::EndsWith(flag->Filename(), "src/config/flags.cpp") &&
        name != "config") {
      names.insert(std::string(name));
    }
  }
  return names;
}

TEST(KeyTableTest, EveryKeyHasExactlyOneFlagAndEveryFlagOneKey) {
  std::set<std::string> keys;
  std::set<std::string> flags;
  for (const KeyInfo& k : kKeys) {
    EXPECT_TRUE(keys.insert(Str(k.key)).second)
        << "key listed twice: " << k.key;
    EXPECT_TRUE(flags.insert(Str(k.flag)).second)
        << "flag listed twice: " << k.flag;
    EXPECT_EQ(k.key, absl::StrCat(Str(k.table), ".", Str(k.name)));
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(Str(k.flag));
    ASSERT_NE(flag, nullptr) << "--" << k.flag << " (" << k.key << ")";
    EXPECT_THAT(flag->Filename(), ::testing::EndsWith("src/config/flags.cpp"));
  }
  // No flag in flags.cpp outside the table but --backend, which adds
  // [[backends]] entries rather than setting a key.
  flags.insert("backend");
  EXPECT_EQ(FlagsDefinedByTheConfigModule(), flags);

  // The bindings the overrides use are the table's, in its order.
  ASSERT_EQ(ConfigFlags().size(), std::size(kKeys));
  for (std::size_t i = 0; i < std::size(kKeys); ++i) {
    EXPECT_EQ(ConfigFlags()[i].flag, kKeys[i].flag);
    EXPECT_EQ(ConfigFlags()[i].key, kKeys[i].key);
  }
}

TEST(KeyTableTest, EveryFlagsHelpStartsWithItsDottedKey) {
  for (const KeyInfo& k : kKeys) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(Str(k.flag));
    ASSERT_NE(flag, nullptr) << k.flag;
    EXPECT_THAT(flag->Help(), StartsWith(absl::StrCat(Str(k.key), ": ")));
    EXPECT_EQ(flag->Help(), k.help);
    EXPECT_THAT(flag->Help(), HasSubstr("(default "));
  }
}

// The word after "(default " in a help text: "7400", "64KiB", "none".
std::string DefaultInHelp(std::string_view help) {
  const std::size_t at = help.rfind("(default ");
  if (at == std::string_view::npos) return "";
  std::string_view rest = help.substr(at + 9);
  return Str(rest.substr(0, rest.find_first_of("):")));
}

// The override setting `k` to `text` as its flag would ("none" and "empty"
// mean no value for strings and lists).
std::optional<KeyOverride> OverrideFromText(const KeyInfo& k,
                                            const std::string& text) {
  KeyOverride o{Str(k.key), absl::StrCat("--", Str(k.flag)), false};
  const bool nothing = text == "none" || text == "empty";
  switch (k.kind) {
    case ValueKind::kInt: {
      std::int64_t v = 0;
      if (!absl::SimpleAtoi(text, &v)) return std::nullopt;
      o.value = v;
      break;
    }
    case ValueKind::kBool:
      if (text != "true" && text != "false") return std::nullopt;
      o.value = text == "true";
      break;
    case ValueKind::kFloat: {
      double v = 0;
      if (!absl::SimpleAtod(text, &v)) return std::nullopt;
      o.value = v;
      break;
    }
    case ValueKind::kCpuList:
      if (!nothing) return std::nullopt;
      o.value = std::vector<std::int64_t>{};
      break;
    case ValueKind::kString:
      o.value = nothing ? std::string() : text;
      break;
    case ValueKind::kStringList:
      // Elements separated by spaces, as the flag takes them.
      o.value = nothing ? std::vector<std::string>{}
                        : std::vector<std::string>(
                              absl::StrSplit(text, ' ', absl::SkipEmpty()));
      break;
    case ValueKind::kBytes:
    case ValueKind::kEnum:
      o.value = text;
      break;
  }
  return o;
}

TEST(KeyTableTest, EveryHelpStatesTheModelsDefault) {
  // Setting a key to the default its help states changes nothing.
  for (const KeyInfo& k : kKeys) {
    const std::string stated = DefaultInHelp(k.help);
    std::optional<KeyOverride> o = OverrideFromText(k, stated);
    ASSERT_TRUE(o.has_value())
        << k.key << ": cannot read default '" << stated << "' from: " << k.help;
    const KeyOverride overrides[] = {*o};
    absl::StatusOr<GatewayConfig> config =
        LoadConfigWithOverrides("", overrides);
    ASSERT_TRUE(config.ok()) << k.key << ": " << config.status();
    EXPECT_TRUE(*config == GatewayConfig{})
        << k.key << ": the help says (default " << stated
        << ") but the model's default differs";
  }
}

// `k` set to `v`, as its flag would set it.
KeyOverride OverrideWithNumber(const KeyInfo& k, std::int64_t v) {
  KeyOverride o{Str(k.key), absl::StrCat("--", Str(k.flag)), v};
  if (k.kind == ValueKind::kBytes) o.value = absl::StrCat(v);
  if (k.kind == ValueKind::kCpuList) o.value = std::vector<std::int64_t>{v};
  return o;
}

TEST(KeyTableTest, EveryRangeIsEnforced) {
  // Just outside its range, every key is refused (by the reader, when the
  // field cannot hold the value, or by validation), naming the flag.
  int ranged = 0;
  for (const KeyInfo& k : kKeys) {
    if (k.range == nullptr) continue;
    ++ranged;
    for (std::int64_t v : {k.range->min - 1, k.range->max + 1}) {
      const KeyOverride overrides[] = {OverrideWithNumber(k, v)};
      absl::StatusOr<GatewayConfig> config =
          LoadConfigWithOverrides("", overrides);
      EXPECT_FALSE(config.ok()) << k.key << " = " << v << " was accepted";
      EXPECT_THAT(std::string(config.status().message()),
                  HasSubstr(absl::StrCat("--", Str(k.flag), ": ")))
          << k.key << " = " << v;
    }
  }
  EXPECT_GT(ranged, 20);
}

// The keys of the entries of `array` as "array_key[].key".
void AddEntryKeys(const std::string& array_key, const toml::array& array,
                  std::vector<std::string>& keys) {
  for (const toml::node& entry : array) {
    for (auto&& [entry_key, entry_value] : *entry.as_table()) {
      keys.push_back(
          absl::StrCat(array_key, "[].", std::string(entry_key.str())));
    }
  }
}

TEST(KeyTableTest, EveryBackendRangeIsEnforced) {
  // Just outside its range, every ranged key of a [[backends]] entry is
  // refused, naming the entry's key and line.
  int ranged = 0;
  for (const EntryKeyInfo& k : kEntryKeys) {
    if (k.array != kBackends.key || k.range == nullptr) continue;
    ++ranged;
    for (std::int64_t v : {k.range->min - 1, k.range->max + 1}) {
      std::string toml =
          "[[backends]]\nname = \"a\"\nendpoints = [\"127.0.0.1:1\"]\n";
      if (k.name != "id") absl::StrAppend(&toml, "id = 1\n");
      absl::StrAppend(&toml, Str(k.name), " = ", v, "\n");
      absl::StatusOr<GatewayConfig> config = ParseConfig(toml, "entry.toml");
      EXPECT_FALSE(config.ok()) << k.name << " = " << v << " was accepted";
      const int line = k.name == "id" ? 4 : 5;
      EXPECT_THAT(std::string(config.status().message()),
                  HasSubstr(absl::StrCat("entry.toml:", line, ": backends[0].",
                                         Str(k.name), ": ")))
          << k.name << " = " << v;
    }
  }
  EXPECT_EQ(ranged, 19);
}

// Every (table, key) a TOML file sets, with the keys of array entries as
// "table.array[].key" ("array[].key" for a top-level array).
std::vector<std::string> KeysIn(const toml::table& root) {
  std::vector<std::string> keys;
  for (auto&& [table_name, table] : root) {
    const std::string t(table_name.str());
    if (table.is_array_of_tables()) {
      AddEntryKeys(t, *table.as_array(), keys);
      continue;
    }
    if (!table.is_table()) {
      keys.push_back(t);
      continue;
    }
    for (auto&& [key_name, value] : *table.as_table()) {
      const std::string k(key_name.str());
      if (!value.is_array_of_tables()) {
        keys.push_back(absl::StrCat(t, ".", k));
        continue;
      }
      AddEntryKeys(absl::StrCat(t, ".", k), *value.as_array(), keys);
    }
  }
  return keys;
}

// Every key spelling the table accepts, as KeysIn writes them.
std::set<std::string> KeysInTheTable() {
  std::set<std::string> keys;
  for (const KeyInfo& k : kKeys) keys.insert(Str(k.key));
  for (const EntryKeyInfo& e : kEntryKeys) {
    keys.insert(absl::StrCat(Str(e.array), "[].", Str(e.name)));
  }
  for (const ArrayInfo& a : kArrays) {
    for (const KeyInfo& k : kKeys) {
      if (k.table == a.inherits) {
        keys.insert(absl::StrCat(Str(a.key), "[].", Str(k.name)));
      }
    }
  }
  return keys;
}

TEST(KeyTableTest, EveryKeyOfTheShippedConfigsIsInTheTable) {
  std::vector<std::string> files = {SourcePath("config/gateway.toml")};
  for (const auto& entry :
       std::filesystem::directory_iterator(SourcePath("config/examples"))) {
    if (entry.path().extension() == ".toml") {
      files.push_back(entry.path().string());
    }
  }
  ASSERT_GE(files.size(), 3u);
  const std::set<std::string> known = KeysInTheTable();
  std::set<std::string> used;
  for (const std::string& file : files) {
    for (const std::string& key : KeysIn(toml::parse_file(file))) {
      EXPECT_TRUE(known.contains(key)) << file << ": " << key;
      used.insert(key);
    }
  }
  // The walk sees entries too (config/examples/telemetry.toml has one, and
  // config/examples/services.toml a [[backends]] entry).
  EXPECT_TRUE(used.contains("streams.policies[].match"));
  EXPECT_TRUE(used.contains("backends[].endpoints"));
}

TEST(KeyTableTest, TheReaderKnowsEveryEntryKey) {
  for (const std::string& key : KeysInTheTable()) {
    const std::size_t entry = key.find("[].");
    if (entry == std::string::npos) continue;
    const ArrayInfo* array = nullptr;
    for (const ArrayInfo& a : kArrays) {
      if (key.substr(0, entry) == a.key) array = &a;
    }
    ASSERT_NE(array, nullptr) << key;
    const std::string name = key.substr(entry + 3);
    // Any value: only "unknown key" matters here.
    const std::string toml =
        absl::StrCat("[[", Str(array->key), "]]\n", Str(array->required),
                     " = \"a\"\n", name == array->required ? "" : name,
                     name == array->required ? "" : " = \"x\"\n");
    absl::StatusOr<GatewayConfig> config = ParseConfig(toml, "entry.toml");
    if (!config.ok()) {
      EXPECT_THAT(std::string(config.status().message()),
                  ::testing::Not(HasSubstr("unknown key")))
          << toml;
    }
  }
}

// Runs `command` and returns what it wrote to stdout.
std::string Output(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  for (std::size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) {
    out.append(buffer, n);
  }
  pclose(pipe);
  return out;
}

// Runs of white space as one space: --helpfull wraps at 80 columns.
std::string Unwrapped(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool space = c == ' ' || c == '\n' || c == '\t';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : c;
  }
  return out;
}

TEST(KeyTableTest, HelpfullOfTheGatewayNamesEveryKey) {
  const std::string gateway =
      std::string(TACHYON_BINARY_DIR) + "/src/tachyon-gateway";
  ASSERT_TRUE(std::filesystem::exists(gateway)) << gateway;
  const std::string help = Unwrapped(Output(gateway + " --helpfull 2>&1"));
  ASSERT_THAT(help, HasSubstr("--config ("));
  for (const KeyInfo& k : kKeys) {
    EXPECT_THAT(help, HasSubstr(absl::StrCat("--", Str(k.flag), " (",
                                             Str(k.help), ");")))
        << k.key;
  }
  const absl::CommandLineFlag* backend = absl::FindCommandLineFlag("backend");
  ASSERT_NE(backend, nullptr);
  EXPECT_THAT(help, HasSubstr(absl::StrCat("--backend (",
                                           Unwrapped(backend->Help()), ");")));
}

}  // namespace
}  // namespace tachyon::config
