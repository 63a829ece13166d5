// Reading the configuration: TOML and overrides into a GatewayConfig.
//
// Loading runs in three stages over one GatewayConfig:
//   1. Read: walk the TOML tree with key rules generated from config/keys.h,
//      converting values and recording where each key came from (its line).
//      Unknown keys and wrong types are reported here.
//   2. Override: the same rules walk a tree built from KeyOverrides, so a
//      flag's value is converted exactly as the file's would be; each key's
//      origin becomes the flag.
//   3. Validate (validate.cpp): ranges and cross-field rules, reported
//      against the recorded origins.
// Problems are collected rather than returned at the first one, so that a
// user fixes a config in one pass.
#include "config/reader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/strings.h"
#include "config/keys.h"
#include "config/problems.h"
#include "config/units.h"
#include "config/validate.h"
#include "toml++/toml.h"

namespace tachyon::config {
namespace {

using internal::Cat;
using internal::KeyOrigin;
using internal::Origins;
using internal::ParentKey;
using internal::Problems;
using internal::UnknownKeyMessage;

template <typename E, std::size_t N>
std::string ChoiceList(const std::pair<E, std::string_view> (&names)[N]) {
  std::string out;
  for (const auto& [value, name] : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::string_view TypeName(toml::node_type type) {
  switch (type) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// What a key of `kind` takes, as type errors word it.
std::string_view Expected(ValueKind kind) {
  switch (kind) {
    case ValueKind::kInt:
      return "an integer";
    case ValueKind::kBytes:
      return "an integer or a size string such as \"16MiB\"";
    case ValueKind::kBool:
      return "a boolean";
    case ValueKind::kString:
    case ValueKind::kEnum:
      return "a string";
    case ValueKind::kCpuList:
      return "an array of integers";
    case ValueKind::kStringList:
      return "an array of strings";
    case ValueKind::kFloat:
      return "a number";
  }
  return "a value";
}

bool IsList(ValueKind kind) {
  return kind == ValueKind::kCpuList || kind == ValueKind::kStringList;
}

// ---------------------------------------------------------------------------
// Converting values.

class Reader {
 public:
  // `override_origins` maps an override's dotted key to its origin; null
  // when reading a file.
  Reader(Origins& origins, Problems& problems,
         const absl::flat_hash_map<std::string, std::string>* override_origins)
      : origins_(origins),
        problems_(problems),
        override_origins_(override_origins) {}

  // Starts reading `key`, recording where its value came from.
  void Visit(std::string key, const toml::node& node) {
    key_ = std::move(key);
    KeyOrigin origin;
    if (override_origins_ != nullptr) {
      for (std::string_view k = key_; !k.empty(); k = ParentKey(k)) {
        if (auto it = override_origins_->find(AbslView(k));
            it != override_origins_->end()) {
          origin.flag = it->second;
          break;
        }
      }
    } else {
      origin.line = node.source().begin.line;
    }
    origins_[key_] = std::move(origin);
  }
  void Fail(std::string_view message) { problems_.Add(key_, message); }
  void FailType(std::string_view expected, const toml::node& node) {
    Fail(Cat("expected ", expected, ", got ", TypeName(node.type())));
  }

  template <typename T>
  void Int(const toml::node& node, T* out, Range range) {
    const auto* v = node.as_integer();
    if (v == nullptr) return FailType(Expected(ValueKind::kInt), node);
    Assign(v->get(), out, range, /*bytes=*/false);
  }

  // An integer, or a string with an optional binary unit.
  template <typename T>
  void Bytes(const toml::node& node, T* out, Range range) {
    if (const auto* v = node.as_integer(); v != nullptr) {
      return Assign(v->get(), out, range, /*bytes=*/true);
    }
    const auto* s = node.as_string();
    if (s == nullptr) return FailType(Expected(ValueKind::kBytes), node);
    absl::StatusOr<std::uint64_t> bytes = ParseByteSize(s->get());
    if (!bytes.ok()) return Fail(StdView(bytes.status().message()));
    if (!std::in_range<T>(*bytes)) return FailRange(range, *bytes, true);
    *out = static_cast<T>(*bytes);
  }

  // A float, or an integer taken as one ("ratio = 2"). Ranges, and NaN or
  // infinity (which TOML can spell), are for validation.
  void Float(const toml::node& node, double* out) {
    if (const auto* v = node.as_floating_point(); v != nullptr) {
      *out = v->get();
    } else if (const auto* i = node.as_integer(); i != nullptr) {
      *out = static_cast<double>(i->get());
    } else {
      FailType(Expected(ValueKind::kFloat), node);
    }
  }

  void Bool(const toml::node& node, bool* out) {
    const auto* v = node.as_boolean();
    if (v == nullptr) return FailType(Expected(ValueKind::kBool), node);
    *out = v->get();
  }

  void String(const toml::node& node, std::string* out) {
    const auto* v = node.as_string();
    if (v == nullptr) return FailType(Expected(ValueKind::kString), node);
    *out = v->get();
  }

  template <typename E, std::size_t N>
  void Enum(const toml::node& node, E* out,
            const std::pair<E, std::string_view> (&names)[N]) {
    const auto* v = node.as_string();
    if (v == nullptr) return FailType(Expected(ValueKind::kEnum), node);
    if (std::optional<E> e = ValueNamed(names, v->get()); e.has_value()) {
      *out = *e;
      return;
    }
    std::vector<std::string_view> known;
    for (const auto& [value, name] : names) known.push_back(name);
    Fail(Cat("must be one of ", ChoiceList(names), ", got '", v->get(), "'",
             internal::DidYouMean(v->get(), known)));
  }

  // An array whose elements `read_element` reads, as the keys "key[0]",
  // "key[1]", ...
  template <typename T, typename ReadElement>
  void List(const toml::node& node, ValueKind kind, std::vector<T>* out,
            ReadElement read_element) {
    const toml::array* array = node.as_array();
    if (array == nullptr) return FailType(Expected(kind), node);
    const std::string list_key = key_;
    std::vector<T> values;
    for (std::size_t i = 0; i < array->size(); ++i) {
      Visit(Cat(list_key, "[", i, "]"), (*array)[i]);
      T value{};
      read_element((*array)[i], &value);
      values.push_back(std::move(value));
    }
    key_ = list_key;
    *out = std::move(values);
  }

 private:
  template <typename T>
  void Assign(std::int64_t v, T* out, Range range, bool bytes) {
    if (bytes && v < 0) {
      return Fail(Cat("must not be negative, got ", v));
    }
    if (!std::in_range<T>(v)) return FailRange(range, v, bytes);
    *out = static_cast<T>(v);
  }
  template <typename V>
  void FailRange(Range range, V v, bool bytes) {
    if (bytes) {
      Fail(Cat("must be between ", FormatByteSize(range.min), " and ",
               FormatByteSize(range.max), ", got ",
               FormatByteSize(static_cast<std::uint64_t>(v))));
    } else {
      Fail(Cat("must be between ", range.min, " and ", range.max, ", got ", v));
    }
  }

  Origins& origins_;
  Problems& problems_;
  const absl::flat_hash_map<std::string, std::string>* override_origins_;
  std::string key_;
};

// ---------------------------------------------------------------------------
// Key rules, generated from the lists in config/keys.h.

// How one key of a table (or entry) filling a `Target` is read.
template <typename Target>
struct KeyRule {
  std::string_view name;
  ValueKind kind;
  void (*read)(Reader&, const toml::node&, Target&);
};

template <typename M>
struct MemberOf;
template <typename C, typename T>
struct MemberOf<T C::*> {
  using Class = C;
};
template <auto kField>
using ClassOf = typename MemberOf<decltype(kField)>::Class;

// Reads a value of `kKind` into the member `kField`; `kDetail` is the key's
// range or name table (keys.h).
template <ValueKind kKind, const auto& kDetail, auto kField>
void ReadKey(Reader& r, const toml::node& n, ClassOf<kField>& target) {
  auto* out = &(target.*kField);
  if constexpr (kKind == ValueKind::kInt) {
    r.Int(n, out, kDetail);
  } else if constexpr (kKind == ValueKind::kBytes) {
    r.Bytes(n, out, kDetail);
  } else if constexpr (kKind == ValueKind::kBool) {
    r.Bool(n, out);
  } else if constexpr (kKind == ValueKind::kString) {
    r.String(n, out);
  } else if constexpr (kKind == ValueKind::kEnum) {
    r.Enum(n, out, kDetail);
  } else if constexpr (kKind == ValueKind::kFloat) {
    r.Float(n, out);
  } else if constexpr (kKind == ValueKind::kCpuList) {
    r.List(n, kKind, out,
           [&r](const toml::node& e, int* cpu) { r.Int(e, cpu, kDetail); });
  } else {
    static_assert(kKind == ValueKind::kStringList);
    r.List(n, kKind, out,
           [&r](const toml::node& e, std::string* s) { r.String(e, s); });
  }
}

// A KeyRule<Target> per list row; `Target` is the struct the list fills,
// declared where the list is expanded.
#define TACHYON_RULE(table, key, flag, kind, detail, help) \
  KeyRule<Target>{#key, ValueKind::kind,                   \
                  &ReadKey<ValueKind::kind, detail, &Target::key>},
#define TACHYON_ENTRY_RULE(table, array, key, kind, detail) \
  TACHYON_RULE(table, key, , kind, detail, )

// The array of tables that `table` holds, if any.
const ArrayInfo* ArrayIn(std::string_view table) {
  for (const ArrayInfo& array : kArrays) {
    if (array.table == table) return &array;
  }
  return nullptr;
}

// Reads every key of `table` through `rules`. A key naming one of the
// table's arrays is skipped (ReadArrays reads it); anything else is unknown.
template <typename Target, std::size_t N>
void ReadKeys(Reader& reader, const toml::table& table, std::string_view prefix,
              const KeyRule<Target> (&rules)[N], Target& target) {
  const ArrayInfo* array = ArrayIn(prefix);
  for (auto&& [name, node] : table) {
    const std::string_view n = name.str();
    if (array != nullptr && n == array->name) continue;
    reader.Visit(Cat(prefix, ".", n), node);
    const auto rule =
        std::find_if(std::begin(rules), std::end(rules),
                     [n](const KeyRule<Target>& r) { return r.name == n; });
    if (rule == std::end(rules)) {
      std::vector<std::string_view> known;
      for (const KeyRule<Target>& r : rules) known.push_back(r.name);
      if (array != nullptr) known.push_back(array->name);
      reader.Fail(UnknownKeyMessage("key", n, known));
    } else if (array != nullptr && node.is_array_of_tables() &&
               !IsList(rule->kind)) {
      // "[[streams.policy]]": the spelling a user is most likely to try for
      // the table's entries.
      reader.Fail(Cat("expected ", Expected(rule->kind), ", got an array; ",
                      array->entries_meaning, " go in [[", array->key, "]]"));
    } else {
      rule->read(reader, node, target);
    }
  }
}

// Reads the entries of `array` in `table` into `out`, each starting as
// `first` (so an entry inherits what it omits from it).
template <typename Entry, std::size_t N>
void ReadEntries(Reader& reader, const toml::table& table,
                 const ArrayInfo& array, const KeyRule<Entry> (&rules)[N],
                 const Entry& first, std::vector<Entry>& out) {
  const toml::node* entries_node = table.get(array.name);
  if (entries_node == nullptr) return;
  reader.Visit(std::string(array.key), *entries_node);
  const toml::array* entries = entries_node->as_array();
  if (entries == nullptr) {
    return reader.FailType(Cat("an array of tables ([[", array.key, "]])"),
                           *entries_node);
  }
  out.clear();
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const std::string prefix = Cat(array.key, "[", i, "]");
    reader.Visit(prefix, (*entries)[i]);
    const toml::table* entry = (*entries)[i].as_table();
    if (entry == nullptr) {
      reader.FailType("a table", (*entries)[i]);
      continue;
    }
    Entry value = first;
    ReadKeys(reader, *entry, prefix, rules, value);
    if (!entry->contains(array.required)) {
      reader.Visit(Cat(prefix, ".", array.required), *entry);
      reader.Fail(Cat("required: ", array.required_meaning));
    }
    out.push_back(std::move(value));
  }
}

// The arrays of tables in [table_name], after its keys.
void ReadArrays(Reader& reader, const toml::table& table,
                std::string_view table_name, GatewayConfig& config) {
  if (table_name == kStreamPolicies.table) {
    using Target = StreamPolicy;
    // `match`, then every [streams] key (kStreamPolicies.inherits).
    static constexpr KeyRule<Target> kRules[] = {
        TACHYON_CONFIG_STREAM_POLICY_ENTRY_KEYS(TACHYON_ENTRY_RULE)
            TACHYON_CONFIG_STREAMS_KEYS(TACHYON_RULE)};
    StreamPolicy first = config.default_stream;
    first.match.clear();
    ReadEntries(reader, table, kStreamPolicies, kRules, first,
                config.stream_policies);
  } else if (table_name == kUdpGroups.table) {
    using Target = UdpGroup;
    static constexpr KeyRule<Target> kRules[] = {
        TACHYON_CONFIG_UDP_GROUP_ENTRY_KEYS(TACHYON_ENTRY_RULE)};
    ReadEntries(reader, table, kUdpGroups, kRules, UdpGroup{},
                config.udp.groups);
  }
}

// The top-level array of tables `array` (its key is a name in the root).
void ReadTopLevelArray(Reader& reader, const toml::table& root,
                       const ArrayInfo& array, GatewayConfig& config) {
  if (array.key == kBackends.key) {
    using Target = BackendService;
    static constexpr KeyRule<Target> kRules[] = {
        TACHYON_CONFIG_BACKEND_ENTRY_KEYS(TACHYON_ENTRY_RULE)};
    ReadEntries(reader, root, kBackends, kRules, BackendService{},
                config.backends);
  } else if (array.key == kPrincipals.key) {
    using Target = Principal;
    static constexpr KeyRule<Target> kRules[] = {
        TACHYON_CONFIG_PRINCIPAL_ENTRY_KEYS(TACHYON_ENTRY_RULE)};
    ReadEntries(reader, root, kPrincipals, kRules, Principal{},
                config.principals);
  }
  if (array.key == kUdpProducers.key) {
    using Target = UdpProducer;
    static constexpr KeyRule<Target> kRules[] = {
        TACHYON_CONFIG_UDP_PRODUCER_ENTRY_KEYS(TACHYON_ENTRY_RULE)};
    ReadEntries(reader, root, kUdpProducers, kRules, UdpProducer{},
                config.udp_producers);
  }
}

// How each table is read: its key rules, into the struct at its path.
struct TableReader {
  std::string_view name;
  void (*read)(Reader&, const toml::table&, GatewayConfig&);
};

#define TACHYON_TABLE_READER(table_name, KEYS, Struct, path, ...)           \
  TableReader{                                                              \
      #table_name,                                                          \
      [](Reader& reader, const toml::table& table, GatewayConfig& config) { \
        using Target = Struct;                                              \
        static constexpr KeyRule<Target> kRules[] = {KEYS(TACHYON_RULE)};   \
        ReadKeys(reader, table, #table_name, kRules, config path);          \
        ReadArrays(reader, table, #table_name, config);                     \
      }},
constexpr TableReader kTableReaders[] = {
    TACHYON_CONFIG_TABLES(TACHYON_TABLE_READER)};
#undef TACHYON_TABLE_READER
#undef TACHYON_ENTRY_RULE
#undef TACHYON_RULE

// The table a misplaced top-level key belongs in, if it is a known key.
std::string_view TableOwning(std::string_view name) {
  for (const KeyInfo& key : kKeys) {
    if (key.name == name) return key.table;
  }
  for (const ArrayInfo& array : kArrays) {
    if (array.name == name) return array.table;
  }
  return {};
}

void ReadRoot(Reader& reader, const toml::table& root, GatewayConfig& config) {
  for (auto&& [name, node] : root) {
    const std::string_view n = name.str();
    reader.Visit(std::string(n), node);
    const auto top_level_array = std::find_if(
        std::begin(kArrays), std::end(kArrays),
        [n](const ArrayInfo& a) { return a.table.empty() && a.name == n; });
    if (top_level_array != std::end(kArrays)) {
      ReadTopLevelArray(reader, root, *top_level_array, config);
      continue;
    }
    const auto table_reader =
        std::find_if(std::begin(kTableReaders), std::end(kTableReaders),
                     [n](const TableReader& t) { return t.name == n; });
    if (table_reader == std::end(kTableReaders)) {
      if (std::string_view table = TableOwning(n); !table.empty()) {
        reader.Fail(Cat("unknown key; '", n, "' belongs in [", table, "] (",
                        table, ".", n, ")"));
      } else {
        std::vector<std::string_view> known(std::begin(kTableNames),
                                            std::end(kTableNames));
        for (const ArrayInfo& array : kArrays) {
          if (array.table.empty()) known.push_back(array.name);
        }
        reader.Fail(
            UnknownKeyMessage(node.is_table() ? "table" : "key", n, known));
      }
      continue;
    }
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      reader.FailType("a table", node);
      continue;
    }
    table_reader->read(reader, *table, config);
  }
}

// ---------------------------------------------------------------------------
// Loading.

struct Loaded {
  GatewayConfig config;
  Origins origins;
};

absl::Status ReadToml(std::string_view text, const std::string& source,
                      Loaded& out) {
  toml::table root;
#if TOML_EXCEPTIONS
  try {
    root = toml::parse(text, std::string_view(source));
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(Cat(source, ":", e.source().begin.line,
                                          ":", e.source().begin.column, ": ",
                                          e.description()));
  }
#else
  toml::parse_result result = toml::parse(text, std::string_view(source));
  if (!result) {
    const toml::parse_error& e = result.error();
    return absl::InvalidArgumentError(Cat(source, ":", e.source().begin.line,
                                          ":", e.source().begin.column, ": ",
                                          e.description()));
  }
  root = std::move(result).table();
#endif
  Problems problems(source, &out.origins);
  Reader reader(out.origins, problems, nullptr);
  ReadRoot(reader, root, out.config);
  return problems.ToStatus();
}

absl::Status ApplyOverrides(std::span<const KeyOverride> overrides,
                            const std::string& source, Loaded& loaded) {
  Problems problems(source, &loaded.origins);
  toml::table root;
  absl::flat_hash_map<std::string, std::string> override_origins;
  for (const KeyOverride& o : overrides) {
    const std::size_t dot = o.key.find('.');
    const std::string_view table_name = std::string_view(o.key).substr(0, dot);
    const std::string_view key_name =
        dot == std::string::npos ? std::string_view()
                                 : std::string_view(o.key).substr(dot + 1);
    if (table_name.empty() || key_name.empty() ||
        key_name.find('.') != std::string_view::npos) {
      problems.AddRaw(0, Cat(o.origin, ": cannot override '", o.key,
                             "'; expected a key such as "
                             "gateway.workers"));
      continue;
    }
    auto [table_it, inserted] = root.insert(table_name, toml::table{});
    toml::table* table = table_it->second.as_table();
    std::visit(
        [&](const auto& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, std::vector<std::int64_t>> ||
                        std::is_same_v<V, std::vector<std::string>>) {
            toml::array array;
            for (const auto& e : v) array.push_back(e);
            table->insert_or_assign(key_name, std::move(array));
          } else {
            table->insert_or_assign(key_name, v);
          }
        },
        o.value);
    override_origins[o.key] = o.origin;
  }
  Reader reader(loaded.origins, problems, &override_origins);
  ReadRoot(reader, root, loaded.config);
  // Entries that omitted a key of the table they inherit from follow its
  // new value.
  GatewayConfig& c = loaded.config;
  auto inherit = [&](std::string_view name, auto member) {
    if (!override_origins.contains(Cat(kStreamPolicies.inherits, ".", name))) {
      return;
    }
    for (std::size_t i = 0; i < c.stream_policies.size(); ++i) {
      if (!loaded.origins.contains(
              Cat(kStreamPolicies.key, "[", i, "].", name))) {
        c.stream_policies[i].*member = c.default_stream.*member;
      }
    }
  };
#define TACHYON_INHERIT(table, key, flag, kind, detail, help) \
  inherit(#key, &StreamPolicy::key);
  TACHYON_CONFIG_STREAMS_KEYS(TACHYON_INHERIT)
#undef TACHYON_INHERIT
  return problems.ToStatus();
}

absl::Status ValidateLoaded(const Loaded& loaded, const std::string& source) {
  Problems problems(source, &loaded.origins);
  internal::ValidateInto(loaded.config, problems);
  return problems.ToStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(
        Cat(path, ": is a directory, expected a TOML file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        Cat(path, ": cannot open: ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::NotFoundError(
        Cat(path, ": cannot read: ", std::strerror(errno)));
  }
  return std::move(text).str();
}

}  // namespace

absl::StatusOr<GatewayConfig> LoadConfigFile(const std::string& path) {
  return LoadConfigWithOverrides(path, {});
}

absl::StatusOr<GatewayConfig> ParseConfig(std::string_view toml,
                                          const std::string& source_name) {
  Loaded loaded;
  if (absl::Status s = ReadToml(toml, source_name, loaded); !s.ok()) return s;
  if (absl::Status s = ValidateLoaded(loaded, source_name); !s.ok()) return s;
  return std::move(loaded.config);
}

absl::StatusOr<GatewayConfig> LoadConfigWithOverrides(
    const std::string& path, std::span<const KeyOverride> overrides,
    const AddedBackends& added) {
  Loaded loaded;
  if (!path.empty()) {
    absl::StatusOr<std::string> text = ReadFile(path);
    if (!text.ok()) return text.status();
    if (absl::Status s = ReadToml(*text, path, loaded); !s.ok()) return s;
  }
  if (absl::Status s = ApplyOverrides(overrides, path, loaded); !s.ok()) {
    return s;
  }
  for (const BackendService& service : added.services) {
    // Every key of the entry is located at its origin (problems.h).
    loaded
        .origins[Cat(kBackends.key, "[", loaded.config.backends.size(), "]")] =
        KeyOrigin{.flag = added.origin};
    loaded.config.backends.push_back(service);
  }
  if (absl::Status s = ValidateLoaded(loaded, path); !s.ok()) return s;
  return std::move(loaded.config);
}

}  // namespace tachyon::config
