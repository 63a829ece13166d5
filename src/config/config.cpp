// Gateway configuration: TOML reading, overrides and validation.
//
// Loading runs in three stages over one GatewayConfig:
//   1. Read: walk the TOML tree with per-table key rules, converting values
//      and recording where each key came from (its line). Unknown keys and
//      wrong types are reported here.
//   2. Override: the same rules walk a tree built from KeyOverrides, so a
//      flag's value is converted exactly as the file's would be; each key's
//      origin becomes the flag.
//   3. Validate: ranges and cross-field rules, reported against the recorded
//      origins (a config built in code has none, so errors name only keys).
// Problems are collected rather than returned at the first one, so that a
// user fixes a config in one pass.
#include "config/config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>
#include <type_traits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tachyon/protocol/stream_messages.h"
#include "tachyon/protocol/wire.h"
#include "toml++/toml.h"

namespace tachyon::config {
namespace {

// Debian's Abseil is built with its own absl::string_view rather than an
// alias of std::string_view, so std::string_view crosses into Abseil here.
absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }
std::string_view Std(absl::string_view s) { return {s.data(), s.size()}; }
template <typename T>
decltype(auto) Piece(const T& v) {
  if constexpr (std::is_same_v<T, std::string_view>) {
    return Absl(v);
  } else {
    return (v);
  }
}
template <typename... Args>
std::string Cat(const Args&... args) {
  return absl::StrCat(Piece(args)...);
}
std::string Join(std::span<const std::string_view> parts,
                 std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

template <typename E, std::size_t N>
std::optional<E> ParseName(const std::pair<E, std::string_view> (&names)[N],
                           std::string_view name) {
  for (const auto& [value, n] : names) {
    if (n == name) return value;
  }
  return std::nullopt;
}
template <typename E, std::size_t N>
std::string ChoiceList(const std::pair<E, std::string_view> (&names)[N]) {
  std::string out;
  for (const auto& [value, name] : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * kKiB;
constexpr std::uint64_t kGiB = 1024 * kMiB;
constexpr std::uint64_t kTiB = 1024 * kGiB;

// Inclusive bounds. The reader also uses them to word "does not fit the
// field's type" errors, so a user sees the real limits, not the C++ type's.
struct Range {
  std::int64_t min;
  std::int64_t max;
  bool Contains(std::int64_t v) const { return v >= min && v <= max; }
};
// 0 asks the kernel for an ephemeral port (tests, benchmarks); the gateway
// prints the port it got.
constexpr Range kPortRange{0, 65535};
constexpr Range kWorkersRange{1, 64};
constexpr Range kCpuIdRange{0, std::numeric_limits<int>::max()};
constexpr Range kUringEntriesRange{64, 32768};
// At least 1056: an ERROR with the longest text (32 + 1024 bytes) must fit.
constexpr Range kMaxFrameLengthRange{1056, protocol::kMaxFrameLengthCeiling};
constexpr Range kMaxConnectionsRange{1, 1 << 20};
constexpr Range kMaxSubscriptionsRange{1, 1 << 16};
constexpr Range kMaxStreamsRange{1, 1 << 20};
constexpr Range kMaxPublishRateRange{0, std::numeric_limits<uint32_t>::max()};
constexpr Range kOutboundQueueRange{4 * kKiB, kGiB};
constexpr Range kLogMemoryRange{64 * kKiB, kTiB};
constexpr Range kHeartbeatRange{1, 3'600'000};  // any heartbeat key, ms
constexpr Range kIdleTimeoutHeartbeatsRange{1, 1000};
constexpr Range kLogonTimeoutRange{1, 600'000};
constexpr Range kShutdownDrainRange{0, 600'000};
constexpr Range kPriorityRange{0, 6};
constexpr Range kBusyPollRange{0, 1'000'000};
constexpr Range kSocketBufferRange{0, kGiB};
constexpr Range kCapacityRange{64 * kKiB, 4 * kGiB};
constexpr Range kWindowRange{0, 2 * kGiB};
constexpr Range kBatchRange{1, 1024};  // udp.recv_batch, udp.send_batch
// One datagram header and the smallest DATA frame, up to the IPv4 limit.
constexpr Range kDatagramRange{56, 65507};
constexpr Range kUdpHeartbeatRange{1, 60'000};
constexpr Range kTtlRange{0, 255};

constexpr std::string_view kLogLevels[] = {"error", "warn", "info", "debug"};

// ---------------------------------------------------------------------------
// Where a key's value came from, and problems reported against it.

struct KeyOrigin {
  std::uint32_t line = 0;  // 0: not from a file line
  std::string flag;        // non-empty: from this override ("--workers")
};
using Origins = absl::flat_hash_map<std::string, KeyOrigin>;

// "streams.policies[0].window_bytes" -> "streams.policies[0]" -> "streams".
std::string_view ParentKey(std::string_view key) {
  const std::size_t cut = key.find_last_of(".[");
  return cut == std::string_view::npos ? std::string_view()
                                       : key.substr(0, cut);
}

class Problems {
 public:
  Problems(std::string_view source, const Origins* origins)
      : source_(source), origins_(origins) {}

  void Add(std::string_view key, std::string_view message) {
    const KeyOrigin* exact = Find(key);
    if (exact != nullptr && !exact->flag.empty()) {
      list_.push_back({0, Cat(exact->flag, ": ", message)});
      return;
    }
    std::string note;
    if (origins_ != nullptr && exact == nullptr &&
        key.starts_with("streams.policies[")) {
      // An entry's key that the entry omitted came from [streams].
      const std::string inherited = Cat("streams", key.substr(key.rfind('.')));
      const KeyOrigin* from = Find(inherited);
      note = Cat(
          " (inherited from ",
          from != nullptr && !from->flag.empty() ? from->flag : inherited, ")");
    }
    std::uint32_t line = 0;
    for (std::string_view k = key; line == 0 && !k.empty(); k = ParentKey(k)) {
      if (const KeyOrigin* o = Find(k); o != nullptr) line = o->line;
    }
    std::string where;
    if (line != 0) {
      where = Cat(source_, ":", line, ": ");
    } else if (!source_.empty()) {
      where = Cat(source_, ": ");
    }
    list_.push_back({line, Cat(where, key, ": ", message, note)});
  }
  void AddRaw(std::uint32_t line, std::string text) {
    list_.push_back({line, std::move(text)});
  }

  // One line per problem, in file order (flag problems first).
  absl::Status ToStatus() {
    if (list_.empty()) return absl::OkStatus();
    std::stable_sort(
        list_.begin(), list_.end(),
        [](const Problem& a, const Problem& b) { return a.line < b.line; });
    std::vector<std::string_view> lines;
    for (const Problem& p : list_) lines.push_back(p.text);
    return absl::InvalidArgumentError(Join(lines, "\n"));
  }

 private:
  struct Problem {
    std::uint32_t line;
    std::string text;
  };
  const KeyOrigin* Find(std::string_view key) const {
    if (origins_ == nullptr) return nullptr;
    auto it = origins_->find(Absl(key));
    return it == origins_->end() ? nullptr : &it->second;
  }

  std::string source_;
  const Origins* origins_;
  std::vector<Problem> list_;
};

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

// Optimal string alignment distance (Levenshtein plus adjacent swaps), so
// "wrokers" is one edit from "workers".
int EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<int>> d(a.size() + 1,
                                  std::vector<int>(b.size() + 1, 0));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = static_cast<int>(i);
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = static_cast<int>(j);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] =
          std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string UnknownKeyMessage(std::string_view what, std::string_view name,
                              std::span<const std::string_view> known) {
  std::string_view best;
  int best_distance = 3;  // suggest only within two edits
  for (std::string_view candidate : known) {
    const int d = EditDistance(name, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  std::string message = Cat("unknown ", what);
  if (!best.empty()) message += Cat("; did you mean '", best, "'?");
  return message;
}

// ---------------------------------------------------------------------------
// Stage 1 and 2: reading values into the config.

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
        if (auto it = override_origins_->find(Absl(k));
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
    if (v == nullptr) return FailType("an integer", node);
    Assign(v->get(), out, range, /*bytes=*/false);
  }

  // An integer, or a string with an optional binary unit.
  template <typename T>
  void Bytes(const toml::node& node, T* out, Range range) {
    if (const auto* v = node.as_integer(); v != nullptr) {
      return Assign(v->get(), out, range, /*bytes=*/true);
    }
    const auto* s = node.as_string();
    if (s == nullptr) {
      return FailType("an integer or a size string such as \"16MiB\"", node);
    }
    absl::StatusOr<std::uint64_t> bytes = ParseByteSize(s->get());
    if (!bytes.ok()) return Fail(Std(bytes.status().message()));
    if (!std::in_range<T>(*bytes)) return FailRange(range, *bytes, true);
    *out = static_cast<T>(*bytes);
  }

  void Bool(const toml::node& node, bool* out) {
    const auto* v = node.as_boolean();
    if (v == nullptr) return FailType("a boolean", node);
    *out = v->get();
  }

  void String(const toml::node& node, std::string* out) {
    const auto* v = node.as_string();
    if (v == nullptr) return FailType("a string", node);
    *out = v->get();
  }

  template <typename E, std::size_t N>
  void Enum(const toml::node& node, E* out,
            const std::pair<E, std::string_view> (&names)[N]) {
    const auto* v = node.as_string();
    if (v == nullptr) return FailType("a string", node);
    if (std::optional<E> e = ParseName(names, v->get()); e.has_value()) {
      *out = *e;
    } else {
      Fail(Cat("must be one of ", ChoiceList(names), ", got '", v->get(), "'"));
    }
  }

  void StringList(const toml::node& node, std::vector<std::string>* out) {
    const toml::array* array = node.as_array();
    if (array == nullptr) return FailType("an array of strings", node);
    const std::string list_key = key_;
    std::vector<std::string> values;
    for (std::size_t i = 0; i < array->size(); ++i) {
      Visit(Cat(list_key, "[", i, "]"), (*array)[i]);
      std::string value;
      String((*array)[i], &value);
      values.push_back(std::move(value));
    }
    key_ = list_key;
    *out = std::move(values);
  }

  void IntList(const toml::node& node, std::vector<int>* out, Range range) {
    const toml::array* array = node.as_array();
    if (array == nullptr) return FailType("an array of integers", node);
    const std::string list_key = key_;
    std::vector<int> values;
    for (std::size_t i = 0; i < array->size(); ++i) {
      Visit(Cat(list_key, "[", i, "]"), (*array)[i]);
      int value = 0;
      Int((*array)[i], &value, range);
      values.push_back(value);
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

template <typename Target>
struct KeyRule {
  std::string_view name;
  void (*read)(Reader&, const toml::node&, Target&);
};

// Rule readers for plain fields: `&IntField<&GatewayConfig::port, kPortRange>`
// reads an integer into config.port.
template <typename M>
struct MemberOf;
template <typename C, typename T>
struct MemberOf<T C::*> {
  using Class = C;
};
template <auto kField>
using ClassOf = typename MemberOf<decltype(kField)>::Class;

template <auto kField, Range kRange>
void IntField(Reader& r, const toml::node& n, ClassOf<kField>& target) {
  r.Int(n, &(target.*kField), kRange);
}
template <auto kField, Range kRange>
void BytesField(Reader& r, const toml::node& n, ClassOf<kField>& target) {
  r.Bytes(n, &(target.*kField), kRange);
}
template <auto kField>
void BoolField(Reader& r, const toml::node& n, ClassOf<kField>& target) {
  r.Bool(n, &(target.*kField));
}
template <auto kField>
void StringField(Reader& r, const toml::node& n, ClassOf<kField>& target) {
  r.String(n, &(target.*kField));
}
template <auto kField, const auto& kNames>
void EnumField(Reader& r, const toml::node& n, ClassOf<kField>& target) {
  r.Enum(n, &(target.*kField), kNames);
}
void ReadCpus(Reader& r, const toml::node& n, GatewayConfig& config) {
  r.IntList(n, &config.cpus, kCpuIdRange);
}
void ReadStreamPolicy(Reader& r, const toml::node& n, StreamPolicy& stream) {
  if (n.is_array()) {
    // The spelling a user is most likely to try for the entries.
    return r.Fail(
        "expected a string, got an array; per-stream policies go in "
        "[[streams.policies]]");
  }
  r.Enum(n, &stream.policy, kSlowConsumerPolicyNames);
}

void ReadDestinations(Reader& r, const toml::node& n, UdpGroup& group) {
  r.StringList(n, &group.destinations);
}

using G = GatewayConfig;
using S = SocketOptions;
using P = StreamPolicy;
using U = UdpOptions;
using UG = UdpGroup;

constexpr KeyRule<GatewayConfig> kGatewayRules[] = {
    {"bind", &StringField<&G::bind>},
    {"port", &IntField<&G::port, kPortRange>},
    {"workers", &IntField<&G::workers, kWorkersRange>},
    {"cpus", &ReadCpus},
    {"io", &EnumField<&G::io, kIoBackendNames>},
    {"idle", &EnumField<&G::idle, kIdleStrategyNames>},
    {"uring_entries", &IntField<&G::uring_entries, kUringEntriesRange>},
    {"log_level", &StringField<&G::log_level>},
};
constexpr KeyRule<GatewayConfig> kLimitsRules[] = {
    {"max_frame_length",
     &BytesField<&G::max_frame_length, kMaxFrameLengthRange>},
    {"max_connections", &IntField<&G::max_connections, kMaxConnectionsRange>},
    {"max_subscriptions_per_session",
     &IntField<&G::max_subscriptions_per_session, kMaxSubscriptionsRange>},
    {"max_streams", &IntField<&G::max_streams, kMaxStreamsRange>},
    {"max_publish_rate", &IntField<&G::max_publish_rate, kMaxPublishRateRange>},
    {"max_outbound_queue_bytes",
     &BytesField<&G::max_outbound_queue_bytes, kOutboundQueueRange>},
    {"max_log_memory_bytes",
     &BytesField<&G::max_log_memory_bytes, kLogMemoryRange>},
};
constexpr KeyRule<GatewayConfig> kSessionRules[] = {
    {"heartbeat_interval_ms",
     &IntField<&G::heartbeat_interval_ms, kHeartbeatRange>},
    {"min_heartbeat_interval_ms",
     &IntField<&G::min_heartbeat_interval_ms, kHeartbeatRange>},
    {"max_heartbeat_interval_ms",
     &IntField<&G::max_heartbeat_interval_ms, kHeartbeatRange>},
    {"idle_timeout_heartbeats",
     &IntField<&G::idle_timeout_heartbeats, kIdleTimeoutHeartbeatsRange>},
    {"logon_timeout_ms", &IntField<&G::logon_timeout_ms, kLogonTimeoutRange>},
    {"token", &StringField<&G::token>},
    {"shutdown_drain_ms",
     &IntField<&G::shutdown_drain_ms, kShutdownDrainRange>},
};
constexpr KeyRule<SocketOptions> kSocketRules[] = {
    {"tcp_nodelay", &BoolField<&S::tcp_nodelay>},
    {"priority", &IntField<&S::priority, kPriorityRange>},
    {"incoming_cpu", &BoolField<&S::incoming_cpu>},
    {"busy_poll_us", &IntField<&S::busy_poll_us, kBusyPollRange>},
    {"send_buffer_bytes",
     &BytesField<&S::send_buffer_bytes, kSocketBufferRange>},
    {"recv_buffer_bytes",
     &BytesField<&S::recv_buffer_bytes, kSocketBufferRange>},
    {"strict", &BoolField<&S::strict>},
};
// The keys a [[streams.policies]] entry may omit (inheriting from [streams]).
constexpr std::string_view kInheritedStreamKeys[] = {"capacity_bytes",
                                                     "window_bytes", "policy"};
constexpr KeyRule<StreamPolicy> kStreamRules[] = {
    {"capacity_bytes", &BytesField<&P::capacity_bytes, kCapacityRange>},
    {"window_bytes", &BytesField<&P::window_bytes, kWindowRange>},
    {"policy", &ReadStreamPolicy},
};
constexpr KeyRule<StreamPolicy> kStreamEntryRules[] = {
    {"match", &StringField<&P::match>},
    kStreamRules[0],
    kStreamRules[1],
    kStreamRules[2],
};

constexpr KeyRule<UdpOptions> kUdpRules[] = {
    {"enabled", &BoolField<&U::enabled>},
    {"bind", &StringField<&U::bind>},
    {"port", &IntField<&U::port, kPortRange>},
    {"recv_batch", &IntField<&U::recv_batch, kBatchRange>},
    {"recv_buffer_bytes",
     &BytesField<&U::recv_buffer_bytes, kSocketBufferRange>},
    {"send_buffer_bytes",
     &BytesField<&U::send_buffer_bytes, kSocketBufferRange>},
    {"max_datagram_bytes", &BytesField<&U::max_datagram_bytes, kDatagramRange>},
    {"send_batch", &IntField<&U::send_batch, kBatchRange>},
    {"heartbeat_interval_ms",
     &IntField<&U::heartbeat_interval_ms, kUdpHeartbeatRange>},
    {"gso", &BoolField<&U::gso>},
    {"allow_remote_destinations", &BoolField<&U::allow_remote_destinations>},
};
constexpr KeyRule<UdpGroup> kUdpGroupRules[] = {
    {"stream", &StringField<&UG::stream>},
    {"destinations", &ReadDestinations},
    {"multicast", &StringField<&UG::multicast>},
    {"ttl", &IntField<&UG::ttl, kTtlRange>},
    {"interface", &StringField<&UG::interface>},
    {"loopback", &BoolField<&UG::loopback>},
};

template <typename Target, std::size_t N>
std::vector<std::string_view> RuleNames(const KeyRule<Target> (&rules)[N]) {
  std::vector<std::string_view> names;
  for (const KeyRule<Target>& rule : rules) names.push_back(rule.name);
  return names;
}

// Reads every key of `table` through `rules`; keys in `handled_elsewhere`
// are skipped (the caller reads them); anything else is unknown.
template <typename Target, std::size_t N>
void ReadTable(Reader& reader, const toml::table& table,
               std::string_view prefix, const KeyRule<Target> (&rules)[N],
               Target& target,
               std::span<const std::string_view> handled_elsewhere = {}) {
  for (auto&& [name, node] : table) {
    const std::string_view n = name.str();
    if (std::find(handled_elsewhere.begin(), handled_elsewhere.end(), n) !=
        handled_elsewhere.end()) {
      continue;
    }
    reader.Visit(Cat(prefix, ".", n), node);
    const auto rule =
        std::find_if(std::begin(rules), std::end(rules),
                     [n](const KeyRule<Target>& r) { return r.name == n; });
    if (rule != std::end(rules)) {
      rule->read(reader, node, target);
      continue;
    }
    std::vector<std::string_view> known = RuleNames(rules);
    known.insert(known.end(), handled_elsewhere.begin(),
                 handled_elsewhere.end());
    reader.Fail(UnknownKeyMessage("key", n, known));
  }
}

void ReadStreams(Reader& reader, const toml::table& table,
                 GatewayConfig& config) {
  static constexpr std::string_view kPolicies[] = {"policies"};
  ReadTable(reader, table, "streams", kStreamRules, config.default_stream,
            kPolicies);
  const toml::node* policies = table.get("policies");
  if (policies == nullptr) return;
  reader.Visit("streams.policies", *policies);
  const toml::array* entries = policies->as_array();
  if (entries == nullptr) {
    return reader.FailType("an array of tables ([[streams.policies]])",
                           *policies);
  }
  config.stream_policies.clear();
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const std::string prefix = Cat("streams.policies[", i, "]");
    reader.Visit(prefix, (*entries)[i]);
    const toml::table* entry = (*entries)[i].as_table();
    if (entry == nullptr) {
      reader.FailType("a table", (*entries)[i]);
      continue;
    }
    // Keys the entry omits keep the [streams] values.
    StreamPolicy policy = config.default_stream;
    policy.match.clear();
    ReadTable(reader, *entry, prefix, kStreamEntryRules, policy);
    if (!entry->contains("match")) {
      reader.Visit(prefix + ".match", *entry);
      reader.Fail("required: the stream name or pattern this entry is for");
    }
    config.stream_policies.push_back(std::move(policy));
  }
}

void ReadUdp(Reader& reader, const toml::table& table, GatewayConfig& config) {
  static constexpr std::string_view kGroups[] = {"groups"};
  ReadTable(reader, table, "udp", kUdpRules, config.udp, kGroups);
  const toml::node* groups = table.get("groups");
  if (groups == nullptr) return;
  reader.Visit("udp.groups", *groups);
  const toml::array* entries = groups->as_array();
  if (entries == nullptr) {
    return reader.FailType("an array of tables ([[udp.groups]])", *groups);
  }
  config.udp.groups.clear();
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const std::string prefix = Cat("udp.groups[", i, "]");
    reader.Visit(prefix, (*entries)[i]);
    const toml::table* entry = (*entries)[i].as_table();
    if (entry == nullptr) {
      reader.FailType("a table", (*entries)[i]);
      continue;
    }
    UdpGroup group;
    ReadTable(reader, *entry, prefix, kUdpGroupRules, group);
    if (!entry->contains("stream")) {
      reader.Visit(prefix + ".stream", *entry);
      reader.Fail("required: the stream this group receives");
    }
    config.udp.groups.push_back(std::move(group));
  }
}

constexpr std::string_view kTables[] = {"gateway", "limits",  "session",
                                        "socket",  "streams", "udp"};

// The table a misplaced top-level key belongs in, if it is a known key.
std::string_view TableOwning(std::string_view name) {
  auto in = [name](const auto& rules) {
    return std::any_of(std::begin(rules), std::end(rules),
                       [name](const auto& r) { return r.name == name; });
  };
  if (in(kGatewayRules)) return "gateway";
  if (in(kLimitsRules)) return "limits";
  if (in(kSessionRules)) return "session";
  if (in(kSocketRules)) return "socket";
  if (in(kStreamRules) || name == "policies") return "streams";
  if (in(kUdpRules) || name == "groups") return "udp";
  return {};
}

void ReadRoot(Reader& reader, const toml::table& root, GatewayConfig& config) {
  for (auto&& [name, node] : root) {
    const std::string_view n = name.str();
    reader.Visit(std::string(n), node);
    const bool known = std::find(std::begin(kTables), std::end(kTables), n) !=
                       std::end(kTables);
    if (!known) {
      if (std::string_view table = TableOwning(n); !table.empty()) {
        reader.Fail(Cat("unknown key; '", n, "' belongs in [", table, "] (",
                        table, ".", n, ")"));
      } else {
        reader.Fail(
            UnknownKeyMessage(node.is_table() ? "table" : "key", n, kTables));
      }
      continue;
    }
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      reader.FailType("a table", node);
      continue;
    }
    if (n == "gateway") {
      ReadTable(reader, *table, n, kGatewayRules, config);
    } else if (n == "limits") {
      ReadTable(reader, *table, n, kLimitsRules, config);
    } else if (n == "session") {
      ReadTable(reader, *table, n, kSessionRules, config);
    } else if (n == "socket") {
      ReadTable(reader, *table, n, kSocketRules, config.socket);
    } else if (n == "udp") {
      ReadUdp(reader, *table, config);
    } else {
      ReadStreams(reader, *table, config);
    }
  }
}

// ---------------------------------------------------------------------------
// Stage 3: validation.

std::string Quoted(std::string_view s) { return Cat("'", s, "'"); }

void CheckRange(Problems& p, std::string_view key, std::int64_t v, Range r) {
  if (!r.Contains(v)) {
    p.Add(key, Cat("must be between ", r.min, " and ", r.max, ", got ", v));
  }
}
void CheckBytesRange(Problems& p, std::string_view key, std::uint64_t v,
                     Range r) {
  if (v < static_cast<std::uint64_t>(r.min) ||
      v > static_cast<std::uint64_t>(r.max)) {
    p.Add(key, Cat("must be between ", FormatByteSize(r.min), " and ",
                   FormatByteSize(r.max), ", got ", FormatByteSize(v)));
  }
}

void CheckBufferSize(Problems& p, std::string_view key, int v) {
  if (v < 0) {
    p.Add(key, Cat("must not be negative, got ", v));
  } else {
    CheckBytesRange(p, key, static_cast<std::uint64_t>(v), kSocketBufferRange);
  }
}

// True if every name `later` can match is already matched by `earlier`, so
// the later entry can never be chosen.
bool Shadows(std::string_view earlier, std::string_view later) {
  if (!earlier.ends_with('*')) return earlier == later;
  const std::string_view prefix = earlier.substr(0, earlier.size() - 1);
  return later.starts_with(prefix);
}

void ValidateStream(Problems& p, const std::string& prefix,
                    const StreamPolicy& s, std::uint32_t max_frame_length) {
  const std::string capacity = prefix + ".capacity_bytes";
  const std::string window = prefix + ".window_bytes";
  const std::uint64_t frame = max_frame_length;
  if (!std::has_single_bit(s.capacity_bytes) ||
      s.capacity_bytes < static_cast<std::uint64_t>(kCapacityRange.min) ||
      s.capacity_bytes > static_cast<std::uint64_t>(kCapacityRange.max)) {
    p.Add(capacity, Cat("must be a power of two between ",
                        FormatByteSize(kCapacityRange.min), " and ",
                        FormatByteSize(kCapacityRange.max), ", got ",
                        FormatByteSize(s.capacity_bytes)));
  } else if (s.capacity_bytes < 4 * frame) {
    p.Add(capacity, Cat("must be at least 4 * limits.max_frame_length (",
                        FormatByteSize(4 * frame), "), got ",
                        FormatByteSize(s.capacity_bytes)));
  }
  if (s.window_bytes < 2 * frame) {
    p.Add(window, Cat("must be at least 2 * limits.max_frame_length (",
                      FormatByteSize(2 * frame), "), got ",
                      FormatByteSize(s.window_bytes)));
  } else if (s.window_bytes > s.capacity_bytes / 2) {
    p.Add(window, Cat("must be at most capacity_bytes / 2 (",
                      FormatByteSize(s.capacity_bytes / 2), "), got ",
                      FormatByteSize(s.window_bytes)));
  }
}

bool IsMulticast(std::uint32_t address_be) {
  return (ntohl(address_be) >> 28) == 0xE;  // 224.0.0.0/4
}

void ValidateUdp(const GatewayConfig& c, Problems& p) {
  const UdpOptions& u = c.udp;
  {
    in_addr addr;
    if (!u.bind.empty() && inet_pton(AF_INET, u.bind.c_str(), &addr) != 1) {
      p.Add("udp.bind", Cat("must be an IPv4 address literal such as 0.0.0.0 "
                            "(or empty for gateway.bind), got ",
                            Quoted(u.bind)));
    } else if (u.enabled && u.bind.empty() &&
               inet_pton(AF_INET, c.bind.c_str(), &addr) != 1) {
      p.Add("udp.bind",
            Cat("UDP is IPv4 only and gateway.bind is ", Quoted(c.bind),
                "; set udp.bind to an IPv4 address literal"));
    }
  }
  CheckRange(p, "udp.port", u.port, kPortRange);
  CheckRange(p, "udp.recv_batch", u.recv_batch, kBatchRange);
  CheckRange(p, "udp.send_batch", u.send_batch, kBatchRange);
  CheckBufferSize(p, "udp.recv_buffer_bytes", u.recv_buffer_bytes);
  CheckBufferSize(p, "udp.send_buffer_bytes", u.send_buffer_bytes);
  CheckRange(p, "udp.max_datagram_bytes", u.max_datagram_bytes, kDatagramRange);
  CheckRange(p, "udp.heartbeat_interval_ms", u.heartbeat_interval_ms,
             kUdpHeartbeatRange);
  // Every (stream, destination) pair once across all groups.
  std::vector<std::pair<std::string, std::string>> seen;
  auto check_duplicate = [&](const std::string& key, const UdpGroup& g,
                             const std::string& endpoint) {
    const auto it =
        std::find(seen.begin(), seen.end(), std::make_pair(g.stream, endpoint));
    if (it != seen.end()) {
      p.Add(key, Cat(Quoted(endpoint), " is listed twice for stream ",
                     Quoted(g.stream)));
      return;
    }
    seen.emplace_back(g.stream, endpoint);
  };
  for (std::size_t i = 0; i < u.groups.size(); ++i) {
    const UdpGroup& g = u.groups[i];
    const std::string prefix = Cat("udp.groups[", i, "]");
    if (!protocol::IsValidStreamName(g.stream)) {
      p.Add(prefix + ".stream",
            Cat("must be a stream name (1..255 of A-Z a-z 0-9 . _ -), got ",
                Quoted(g.stream)));
    }
    if (g.destinations.empty() && g.multicast.empty()) {
      p.Add(prefix, "needs destinations, a multicast group, or both");
    }
    for (std::size_t j = 0; j < g.destinations.size(); ++j) {
      const std::string key = Cat(prefix, ".destinations[", j, "]");
      std::uint32_t addr = 0;
      std::uint16_t port = 0;
      if (!ParseIpv4Endpoint(g.destinations[j], &addr, &port)) {
        p.Add(key, Cat("must be an IPv4 unicast \"address:port\" with port "
                       "1..65535, such as \"127.0.0.1:7500\", got ",
                       Quoted(g.destinations[j])));
      } else if (IsMulticast(addr)) {
        p.Add(key, Cat(Quoted(g.destinations[j]),
                       " is a multicast address; use multicast = \"...\" "
                       "for a group"));
      } else {
        check_duplicate(key, g, g.destinations[j]);
      }
    }
    if (!g.multicast.empty()) {
      std::uint32_t addr = 0;
      std::uint16_t port = 0;
      if (!ParseIpv4Endpoint(g.multicast, &addr, &port)) {
        p.Add(prefix + ".multicast",
              Cat("must be an IPv4 multicast \"address:port\" such as "
                  "\"239.1.1.1:7500\", got ",
                  Quoted(g.multicast)));
      } else if (!IsMulticast(addr)) {
        p.Add(prefix + ".multicast",
              Cat(Quoted(g.multicast),
                  " is not a multicast address (224.0.0.0 to "
                  "239.255.255.255)"));
      } else {
        check_duplicate(prefix + ".multicast", g, g.multicast);
      }
    }
    CheckRange(p, prefix + ".ttl", g.ttl, kTtlRange);
    in_addr ifaddr;
    if (!g.interface.empty() &&
        inet_pton(AF_INET, g.interface.c_str(), &ifaddr) != 1) {
      p.Add(prefix + ".interface",
            Cat("must be the IPv4 address of a local interface, such as "
                "\"127.0.0.1\", got ",
                Quoted(g.interface)));
    }
    if (g.multicast.empty() &&
        (!g.interface.empty() || g.ttl != 1 || !g.loopback)) {
      p.Add(prefix,
            "ttl, interface and loopback apply only to a multicast "
            "group; set multicast or remove them");
    }
  }
}

void ValidateInto(const GatewayConfig& c, Problems& p) {
  // [gateway]
  {
    in6_addr addr;
    if (inet_pton(AF_INET, c.bind.c_str(), &addr) != 1 &&
        inet_pton(AF_INET6, c.bind.c_str(), &addr) != 1) {
      p.Add("gateway.bind",
            Cat("must be an IPv4 or IPv6 address literal such as "
                "0.0.0.0 or ::1, got ",
                Quoted(c.bind)));
    }
  }
  CheckRange(p, "gateway.port", c.port, kPortRange);
  CheckRange(p, "gateway.workers", c.workers, kWorkersRange);
  const int cpu_count = MachineCpuCount();
  for (std::size_t i = 0; i < c.cpus.size(); ++i) {
    const std::string key = Cat("gateway.cpus[", i, "]");
    if (c.cpus[i] < 0 || c.cpus[i] >= cpu_count) {
      p.Add(key,
            Cat("must be between 0 and ", cpu_count - 1, " (this machine has ",
                cpu_count, " CPUs), got ", c.cpus[i]));
      continue;
    }
    const auto first = std::find(c.cpus.begin(), c.cpus.end(), c.cpus[i]);
    if (first != c.cpus.begin() + static_cast<std::ptrdiff_t>(i)) {
      p.Add(key,
            Cat("CPU ", c.cpus[i], " is already listed at gateway.cpus[",
                first - c.cpus.begin(), "]; two workers must not share a CPU"));
    }
  }
  if (!c.cpus.empty() && c.cpus.size() < static_cast<std::size_t>(c.workers)) {
    p.Add("gateway.cpus",
          Cat("lists ", c.cpus.size(), " CPUs for ", c.workers,
              " workers; list at least one per worker (or none)"));
  }
  if (c.uring_entries < kUringEntriesRange.min ||
      c.uring_entries > kUringEntriesRange.max ||
      !std::has_single_bit(static_cast<unsigned>(c.uring_entries))) {
    p.Add("gateway.uring_entries",
          Cat("must be a power of two between ", kUringEntriesRange.min,
              " and ", kUringEntriesRange.max, ", got ", c.uring_entries));
  }
  if (std::find(std::begin(kLogLevels), std::end(kLogLevels), c.log_level) ==
      std::end(kLogLevels)) {
    p.Add("gateway.log_level", Cat("must be one of ", Join(kLogLevels, ", "),
                                   ", got ", Quoted(c.log_level)));
  }
  // [limits]
  CheckBytesRange(p, "limits.max_frame_length", c.max_frame_length,
                  kMaxFrameLengthRange);
  CheckRange(p, "limits.max_connections", c.max_connections,
             kMaxConnectionsRange);
  CheckRange(p, "limits.max_subscriptions_per_session",
             c.max_subscriptions_per_session, kMaxSubscriptionsRange);
  CheckRange(p, "limits.max_streams", c.max_streams, kMaxStreamsRange);
  CheckBytesRange(p, "limits.max_outbound_queue_bytes",
                  c.max_outbound_queue_bytes, kOutboundQueueRange);
  CheckBytesRange(p, "limits.max_log_memory_bytes", c.max_log_memory_bytes,
                  kLogMemoryRange);
  {
    // A stream whose log alone exceeds the budget could never be created.
    std::size_t largest = c.default_stream.capacity_bytes;
    for (const StreamPolicy& s : c.stream_policies) {
      largest = std::max(largest, s.capacity_bytes);
    }
    if (c.max_log_memory_bytes < largest) {
      p.Add("limits.max_log_memory_bytes",
            Cat("must be at least the largest stream capacity_bytes (",
                FormatByteSize(largest), "), got ",
                FormatByteSize(c.max_log_memory_bytes)));
    }
  }
  // [session]
  CheckRange(p, "session.min_heartbeat_interval_ms",
             c.min_heartbeat_interval_ms, kHeartbeatRange);
  CheckRange(p, "session.max_heartbeat_interval_ms",
             c.max_heartbeat_interval_ms, kHeartbeatRange);
  if (c.min_heartbeat_interval_ms > c.max_heartbeat_interval_ms) {
    p.Add("session.max_heartbeat_interval_ms",
          Cat("must be at least session.min_heartbeat_interval_ms (",
              c.min_heartbeat_interval_ms, "), got ",
              c.max_heartbeat_interval_ms));
  } else {
    CheckRange(p, "session.heartbeat_interval_ms", c.heartbeat_interval_ms,
               {c.min_heartbeat_interval_ms, c.max_heartbeat_interval_ms});
  }
  CheckRange(p, "session.idle_timeout_heartbeats", c.idle_timeout_heartbeats,
             kIdleTimeoutHeartbeatsRange);
  CheckRange(p, "session.logon_timeout_ms", c.logon_timeout_ms,
             kLogonTimeoutRange);
  if (c.token.size() > protocol::kMaxLogonFieldLength) {
    p.Add("session.token",
          Cat("must be at most ", protocol::kMaxLogonFieldLength,
              " bytes (the LOGON token field), got ", c.token.size()));
  }
  CheckRange(p, "session.shutdown_drain_ms", c.shutdown_drain_ms,
             kShutdownDrainRange);
  // [socket]
  CheckRange(p, "socket.priority", c.socket.priority, kPriorityRange);
  CheckRange(p, "socket.busy_poll_us", c.socket.busy_poll_us, kBusyPollRange);
  CheckBufferSize(p, "socket.send_buffer_bytes", c.socket.send_buffer_bytes);
  CheckBufferSize(p, "socket.recv_buffer_bytes", c.socket.recv_buffer_bytes);
  // [streams]
  ValidateStream(p, "streams", c.default_stream, c.max_frame_length);
  for (std::size_t i = 0; i < c.stream_policies.size(); ++i) {
    const StreamPolicy& s = c.stream_policies[i];
    const std::string prefix = Cat("streams.policies[", i, "]");
    if (!protocol::IsValidStreamName(s.match) &&
        !protocol::IsValidPattern(s.match)) {
      p.Add(prefix + ".match",
            Cat("must be a stream name (1..255 of A-Z a-z 0-9 . _ -) "
                "or a prefix pattern ending in '*', got ",
                Quoted(s.match)));
    } else {
      for (std::size_t j = 0; j < i; ++j) {
        if (Shadows(c.stream_policies[j].match, s.match)) {
          p.Add(prefix + ".match",
                Cat(Quoted(s.match), " can never apply: ", "streams.policies[",
                    j, "] (", Quoted(c.stream_policies[j].match),
                    ") comes first and matches every such stream"));
          break;
        }
      }
    }
    ValidateStream(p, prefix, s, c.max_frame_length);
  }
  // [udp]
  ValidateUdp(c, p);
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
          if constexpr (std::is_same_v<V, std::vector<std::int64_t>>) {
            toml::array array;
            for (std::int64_t e : v) array.push_back(e);
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
  // Entries that omitted a [streams] key follow its new value.
  for (std::string_view name : kInheritedStreamKeys) {
    if (!override_origins.contains(Cat("streams.", name))) continue;
    for (std::size_t i = 0; i < loaded.config.stream_policies.size(); ++i) {
      if (loaded.origins.contains(Cat("streams.policies[", i, "].", name))) {
        continue;
      }
      StreamPolicy& entry = loaded.config.stream_policies[i];
      const StreamPolicy& from = loaded.config.default_stream;
      if (name == "capacity_bytes") entry.capacity_bytes = from.capacity_bytes;
      if (name == "window_bytes") entry.window_bytes = from.window_bytes;
      if (name == "policy") entry.policy = from.policy;
    }
  }
  return problems.ToStatus();
}

absl::Status ValidateLoaded(const Loaded& loaded, const std::string& source) {
  Problems problems(source, &loaded.origins);
  ValidateInto(loaded.config, problems);
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

absl::Status Validate(const GatewayConfig& config) {
  Problems problems("", nullptr);
  ValidateInto(config, problems);
  return problems.ToStatus();
}

absl::StatusOr<GatewayConfig> LoadConfigWithOverrides(
    const std::string& path, std::span<const KeyOverride> overrides) {
  Loaded loaded;
  if (!path.empty()) {
    absl::StatusOr<std::string> text = ReadFile(path);
    if (!text.ok()) return text.status();
    if (absl::Status s = ReadToml(*text, path, loaded); !s.ok()) return s;
  }
  if (absl::Status s = ApplyOverrides(overrides, path, loaded); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateLoaded(loaded, path); !s.ok()) return s;
  return std::move(loaded.config);
}

absl::StatusOr<std::uint64_t> ParseByteSize(std::string_view text) {
  static constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {
      {"", 1},       {"b", 1},      {"kib", kKiB},
      {"mib", kMiB}, {"gib", kGiB}, {"tib", kTiB}};
  auto bad = [text] {
    return absl::InvalidArgumentError(Cat(
        "expected a byte size: an integer with an optional unit B, KiB, MiB, "
        "GiB or TiB (such as 4096, \"512KiB\", \"16MiB\"), got '",
        text, "'"));
  };
  const std::string_view s = Std(absl::StripAsciiWhitespace(Absl(text)));
  std::size_t digits = 0;
  while (digits < s.size() && absl::ascii_isdigit(s[digits])) ++digits;
  std::uint64_t number = 0;
  if (digits == 0 || !absl::SimpleAtoi(Absl(s.substr(0, digits)), &number)) {
    return bad();
  }
  const std::string unit = absl::AsciiStrToLower(
      absl::StripLeadingAsciiWhitespace(Absl(s.substr(digits))));
  for (const auto& [name, multiplier] : kUnits) {
    if (unit != name) continue;
    if (number > std::numeric_limits<std::uint64_t>::max() / multiplier) {
      return absl::InvalidArgumentError(
          Cat("byte size '", text, "' is too large"));
    }
    return number * multiplier;
  }
  return bad();
}

std::string FormatByteSize(std::uint64_t bytes) {
  static constexpr std::pair<std::uint64_t, std::string_view> kUnits[] = {
      {kTiB, "TiB"}, {kGiB, "GiB"}, {kMiB, "MiB"}, {kKiB, "KiB"}};
  if (bytes != 0) {
    for (const auto& [size, name] : kUnits) {
      if (bytes % size == 0) return Cat(bytes / size, name);
    }
  }
  return Cat(bytes);
}

bool ParseIpv4Endpoint(std::string_view text, std::uint32_t* address_be,
                       std::uint16_t* port) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  const std::string host(text.substr(0, colon));
  std::uint32_t p = 0;
  const std::string_view digits = text.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 ||
      !std::all_of(digits.begin(), digits.end(),
                   [](char ch) { return ch >= '0' && ch <= '9'; }) ||
      !absl::SimpleAtoi(Absl(digits), &p) || p == 0 || p > 65535) {
    return false;
  }
  in_addr addr;
  if (inet_pton(AF_INET, host.c_str(), &addr) != 1) return false;
  *address_be = addr.s_addr;
  *port = static_cast<std::uint16_t>(p);
  return true;
}

int MachineCpuCount() {
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  if (online > 0) return static_cast<int>(online);
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

}  // namespace tachyon::config
