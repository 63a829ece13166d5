// The config module against real files in a temporary directory: the shipped
// configs, one failing case per validation rule (file, line and key in the
// message), unknown keys, type errors, PolicyFor, overrides and flags.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "config/flags.h"
#include "config/keys.h"
#include "config/reader.h"
#include "config/units.h"
#include "config/validate.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "toml++/toml.h"

namespace tachyon::config {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Messages as std::string, which gMock's string matchers take (Debian's
// Abseil has its own absl::string_view).
std::string Msg(const absl::Status& status) {
  return std::string(status.message());
}
template <typename T>
std::string Msg(const absl::StatusOr<T>& result) {
  return Msg(result.status());
}

std::string SourcePath(const std::string& relative) {
  return std::string(TACHYON_SOURCE_DIR) + "/" + relative;
}

// Gives each test its own directory of config files.
class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "tachyon_config_XXXXXX")
            .string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  absl::StatusOr<GatewayConfig> Load(const std::string& text) {
    path_ = Write("gateway.toml", text);
    return LoadConfigFile(path_);
  }
  // "path:line: key: message", as every located error starts.
  std::string At(int line, const std::string& key) const {
    return absl::StrCat(path_, ":", line, ": ", key, ": ");
  }

  std::filesystem::path dir_;
  std::string path_;
};

// A valid [[backends]] entry on lines 1..4 (a bad case's own key follows on
// line 5).
const std::string kValidBackend =
    "[[backends]]\nname = \"risk\"\nid = 1\n"
    "endpoints = [\"127.0.0.1:9001\"]\n";

// --- The shipped files -----------------------------------------------------

TEST_F(ConfigFileTest, EmptyFileGivesTheStructDefaults) {
  absl::StatusOr<GatewayConfig> config = Load("");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(*config, GatewayConfig{});
  EXPECT_TRUE(Validate(GatewayConfig{}).ok()) << Validate(GatewayConfig{});
}

TEST(ShippedConfigTest, DefaultFileEqualsTheStructDefaultsWithUdpOn) {
  absl::StatusOr<GatewayConfig> config =
      LoadConfigFile(SourcePath("config/gateway.toml"));
  ASSERT_TRUE(config.ok()) << config.status();
  // The departures: the shipped file serves UDP (so that `make run` does),
  // lets nobody on without a credential and no unsigned datagram in, and
  // defines the loopback-only principal and UDP producer "demo" that the
  // README's quick tour uses; a config built in code is open and has none.
  GatewayConfig expected;
  expected.udp.enabled = true;
  expected.udp.require_authentication = true;
  expected.auth.anonymous = false;
  ASSERT_EQ(config->principals.size(), 1u);
  const Principal& demo = config->principals[0];
  EXPECT_EQ(demo.name, "demo");
  EXPECT_THAT(demo.allowed_sources,
              ::testing::ElementsAre("127.0.0.0/8", "::1/128"));
  ASSERT_EQ(config->udp_producers.size(), 1u);
  EXPECT_EQ(config->udp_producers[0].name, "demo");
  EXPECT_THAT(config->udp_producers[0].allowed_sources,
              ::testing::ElementsAre("127.0.0.0/8"));
  expected.principals = config->principals;
  expected.udp_producers = config->udp_producers;
  EXPECT_EQ(*config, expected);
}

TEST(ShippedConfigTest, DefaultFileListsEveryKeyWithAComment) {
  const std::string path = SourcePath("config/gateway.toml");
  const toml::table root = toml::parse_file(path);
  std::set<std::string> keys_in_file;
  for (auto&& [table_name, table] : root) {
    // The arrays of tables ([[principals]], [[udp_producers]]) hold the
    // demo entries; their keys are documented in the comment above them.
    if (table.is_array_of_tables()) continue;
    ASSERT_TRUE(table.is_table()) << table_name.str();
    for (auto&& [key, value] : *table.as_table()) {
      keys_in_file.insert(absl::StrCat(std::string(table_name.str()), ".",
                                       std::string(key.str())));
    }
  }
  std::set<std::string> all_keys;
  for (const ConfigFlag& flag : ConfigFlags()) {
    all_keys.insert(std::string(flag.key));
  }
  EXPECT_EQ(keys_in_file, all_keys);

  // The line above every `key = value` is part of its comment.
  std::ifstream in(path);
  std::string previous;
  std::string line;
  const std::regex assignment(R"(^[a-z_]+ = )");
  int assignments = 0;
  while (std::getline(in, line)) {
    if (line.starts_with("[[")) break;  // the demo entries at the end
    if (std::regex_search(line, assignment)) {
      ++assignments;
      EXPECT_THAT(previous, StartsWith("#")) << "no comment above: " << line;
    }
    previous = line;
  }
  EXPECT_EQ(assignments, static_cast<int>(all_keys.size()));
}

TEST(ShippedConfigTest, TradingExampleLoads) {
  if (MachineCpuCount() < 2) GTEST_SKIP() << "trading.toml pins two CPUs";
  absl::StatusOr<GatewayConfig> config =
      LoadConfigFile(SourcePath("config/examples/trading.toml"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->idle, IdleStrategy::kSpin);
  EXPECT_EQ(config->workers, 2);
  EXPECT_EQ(config->cpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(config->io, IoBackend::kAuto);
  EXPECT_EQ(config->default_stream.capacity_bytes, 4u << 20);
  EXPECT_EQ(config->default_stream.window_bytes, 1u << 20);
  EXPECT_EQ(config->default_stream.policy, SlowConsumerPolicy::kDisconnect);
  EXPECT_EQ(config->socket.busy_poll_us, 50);
  EXPECT_LT(config->heartbeat_interval_ms,
            GatewayConfig{}.heartbeat_interval_ms);
}

TEST(ShippedConfigTest, ServicesExampleHasTheEchoService) {
  absl::StatusOr<GatewayConfig> config =
      LoadConfigFile(SourcePath("config/examples/services.toml"));
  ASSERT_TRUE(config.ok()) << config.status();
  BackendService echo;
  echo.name = "echo";
  echo.id = 1;
  echo.endpoints = {"127.0.0.1:7501"};
  ASSERT_EQ(config->backends.size(), 1u);
  EXPECT_EQ(config->backends[0], echo);
  // Apart from the service, the built-in defaults.
  GatewayConfig expected;
  expected.backends = {echo};
  EXPECT_EQ(*config, expected);
}

// The commented-out [[backends]] example in config/gateway.toml, uncommented:
// every "# key = value" line from "# [[backends]]" to the first line that is
// not one.
std::string BackendExampleOfTheDefaultFile() {
  std::ifstream in(SourcePath("config/gateway.toml"));
  std::string line;
  std::string example;
  bool inside = false;
  const std::regex assignment(R"(^# [a-z_]+ = )");
  while (std::getline(in, line)) {
    if (line == "# [[backends]]") {
      inside = true;
    } else if (inside && !std::regex_search(line, assignment)) {
      break;
    }
    if (inside) example += line.substr(2) + "\n";
  }
  return example;
}

TEST(ShippedConfigTest, DefaultFileHasNoBackendButDocumentsEveryKey) {
  absl::StatusOr<GatewayConfig> shipped =
      LoadConfigFile(SourcePath("config/gateway.toml"));
  ASSERT_TRUE(shipped.ok()) << shipped.status();
  EXPECT_TRUE(shipped->backends.empty());

  // Its example, uncommented, is a valid entry that sets every key.
  const std::string example = BackendExampleOfTheDefaultFile();
  absl::StatusOr<GatewayConfig> config = ParseConfig(example, "example.toml");
  ASSERT_TRUE(config.ok()) << config.status() << "\n" << example;
  ASSERT_EQ(config->backends.size(), 1u);
  const toml::table entry = toml::parse(example);
  std::set<std::string> keys;
  for (auto&& [key, value] : *entry["backends"][0].as_table()) {
    keys.insert(std::string(key.str()));
  }
  std::set<std::string> all_keys;
  for (const EntryKeyInfo& k : kEntryKeys) {
    if (k.array == "backends") all_keys.insert(std::string(k.name));
  }
  EXPECT_EQ(keys, all_keys);
}

TEST(ShippedConfigTest, TelemetryExampleLoads) {
  absl::StatusOr<GatewayConfig> config =
      LoadConfigFile(SourcePath("config/examples/telemetry.toml"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->idle, IdleStrategy::kBlock);
  EXPECT_EQ(config->default_stream.capacity_bytes, std::size_t{256} << 20);
  EXPECT_EQ(config->default_stream.window_bytes, std::size_t{128} << 20);
  const StreamPolicy& telemetry = config->PolicyFor("telemetry.cpu");
  EXPECT_EQ(telemetry.policy, SlowConsumerPolicy::kBackpressure);
  EXPECT_EQ(telemetry.capacity_bytes, std::size_t{256} << 20);  // inherited
  EXPECT_EQ(config->PolicyFor("orders").policy,
            SlowConsumerPolicy::kDisconnect);
  EXPECT_GT(config->socket.send_buffer_bytes, 0);
  EXPECT_GT(config->socket.recv_buffer_bytes, 0);
}

TEST(ShippedConfigTest, FastPathExamplesLoad) {
  absl::StatusOr<GatewayConfig> af_xdp =
      LoadConfigFile(SourcePath("config/examples/fastpath-af_xdp.toml"));
  ASSERT_TRUE(af_xdp.ok()) << af_xdp.status();
  EXPECT_EQ(af_xdp->fastpath.mode, FastPathMode::kAfXdp);
  EXPECT_EQ(af_xdp->fastpath.interface, "eth1");
  EXPECT_EQ(af_xdp->fastpath.queues, 2);
  EXPECT_EQ(af_xdp->fastpath.neighbours.size(), 1u);
  absl::StatusOr<GatewayConfig> dpdk =
      LoadConfigFile(SourcePath("config/examples/fastpath-dpdk.toml"));
  ASSERT_TRUE(dpdk.ok()) << dpdk.status();
  EXPECT_EQ(dpdk->fastpath.mode, FastPathMode::kDpdk);
  EXPECT_EQ(dpdk->fastpath.address, "10.0.0.10");
  EXPECT_EQ(dpdk->fastpath.eal_args.size(), 8u);
}

TEST_F(ConfigFileTest, ReadsTheFastPathTable) {
  absl::StatusOr<GatewayConfig> config = Load(
      "[gateway]\nworkers = 2\n[udp]\nenabled = true\n[fastpath]\n"
      "mode = \"af_xdp\"\ninterface = \"veth-gw\"\nqueues = 2\n"
      "xdp_mode = \"generic\"\nxdp_bind = \"copy\"\nframes = 1024\n"
      "frame_size = 2048\nrx_ring = 512\ntx_ring = 512\nfill_ring = 512\n"
      "completion_ring = 512\n"
      "neighbours = [\"10.9.0.2=02:00:00:00:00:02\"]\n");
  ASSERT_TRUE(config.ok()) << config.status();
  const FastPathOptions& f = config->fastpath;
  EXPECT_EQ(f.mode, FastPathMode::kAfXdp);
  EXPECT_EQ(f.interface, "veth-gw");
  EXPECT_EQ(f.queues, 2);
  EXPECT_EQ(f.xdp_mode, XdpMode::kGeneric);
  EXPECT_EQ(f.xdp_bind, XdpBind::kCopy);
  EXPECT_EQ(f.frames, 1024u);
  EXPECT_EQ(f.frame_size, 2048u);
  EXPECT_EQ(f.rx_ring, 512u);
  EXPECT_EQ(f.completion_ring, 512u);
  EXPECT_EQ(f.neighbours,
            std::vector<std::string>{"10.9.0.2=02:00:00:00:00:02"});
}

TEST_F(ConfigFileTest, AfXdpAcceptsAnEphemeralUdpPort) {
  // The kernel socket still binds, so port 0 picks a port the fast path
  // then serves.
  absl::StatusOr<GatewayConfig> config = Load(
      "[udp]\nenabled = true\nport = 0\n[fastpath]\n"
      "mode = \"af_xdp\"\ninterface = \"eth1\"\n");
  ASSERT_TRUE(config.ok()) << config.status();
}

TEST_F(ConfigFileTest, DpdkRunsOnTheDefaultFramesAndRings) {
  // A user who only picks the mode, address and device gets a pool that
  // covers the default rings.
  absl::StatusOr<GatewayConfig> config = Load(
      "[udp]\nenabled = true\nport = 7401\n[fastpath]\nmode = \"dpdk\"\n"
      "address = \"10.0.0.1\"\ninterface = \"eth1\"\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_GE(config->fastpath.frames, config->fastpath.rx_ring +
                                         config->fastpath.tx_ring +
                                         kDpdkPoolBurstSlack);
}

TEST_F(ConfigFileTest, ReadsTheUdpTableAndGroups) {
  absl::StatusOr<GatewayConfig> config = Load(
      "[udp]\nenabled = true\nbind = \"127.0.0.1\"\nport = 0\n"
      "recv_batch = 32\nrecv_buffer_bytes = \"8MiB\"\n"
      "send_buffer_bytes = 65536\nmax_datagram_bytes = 9000\n"
      "send_batch = 16\nheartbeat_interval_ms = 250\ngso = false\n"
      "allow_remote_destinations = true\n"
      "[[udp.groups]]\nstream = \"md.eq.AAPL\"\n"
      "destinations = [\"127.0.0.1:7500\", \"10.0.0.2:7501\"]\n"
      "[[udp.groups]]\nstream = \"md.eq.MSFT\"\n"
      "multicast = \"239.1.2.3:7600\"\nttl = 4\ninterface = \"127.0.0.1\"\n"
      "loopback = false\n");
  ASSERT_TRUE(config.ok()) << config.status();
  const UdpOptions& u = config->udp;
  EXPECT_TRUE(u.enabled);
  EXPECT_EQ(config->UdpBind(), "127.0.0.1");
  EXPECT_EQ(u.port, 0);
  EXPECT_EQ(u.recv_batch, 32);
  EXPECT_EQ(u.recv_buffer_bytes, 8 << 20);
  EXPECT_EQ(u.send_buffer_bytes, 65536);
  EXPECT_EQ(u.max_datagram_bytes, 9000u);
  EXPECT_EQ(u.send_batch, 16);
  EXPECT_EQ(u.heartbeat_interval_ms, 250u);
  EXPECT_FALSE(u.gso);
  EXPECT_TRUE(u.allow_remote_destinations);
  ASSERT_EQ(u.groups.size(), 2u);
  EXPECT_EQ(u.groups[0].stream, "md.eq.AAPL");
  EXPECT_EQ(u.groups[0].destinations,
            (std::vector<std::string>{"127.0.0.1:7500", "10.0.0.2:7501"}));
  EXPECT_TRUE(u.groups[0].multicast.empty());
  EXPECT_EQ(u.groups[1].multicast, "239.1.2.3:7600");
  EXPECT_EQ(u.groups[1].ttl, 4);
  EXPECT_EQ(u.groups[1].interface, "127.0.0.1");
  EXPECT_FALSE(u.groups[1].loopback);
}

TEST_F(ConfigFileTest, ReadsEveryKeyOfABackendEntry) {
  absl::StatusOr<GatewayConfig> config = Load(R"(
[[backends]]
name = "risk.check-v2_eu"
id = 4294967295
endpoints = ["10.0.0.5:9001", "risk-2.internal:9002", "localhost:9003"]
token = "backend-secret"
request_timeout_ms = 250
max_in_flight_per_connection = 8
queue_limit = 0
pool_min = 2
pool_max = 64
prediction_ratio = 2.25
prediction_per_session = 0.5
prediction_horizon_ms = 0
prediction_half_life_ms = 1000
idle_retire_ms = 60000
idle_retire_jitter_ms = 0
warm_at = ["00:00", "13:30", "23:59"]
warm_connections = 64
warm_lead_ms = 120000
warm_hold_ms = 0
connect_timeout_ms = 300
reconnect_backoff_ms = 100
reconnect_backoff_max_ms = 100
heartbeat_interval_ms = 500
eject_after_failures = 0
eject_ms = 1

[[backends]]
name = "quotes"
id = 2
endpoints = ["127.0.0.1:9101"]
prediction_ratio = 3
)");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->backends.size(), 2u);
  const BackendService& b = config->backends[0];
  EXPECT_EQ(b.name, "risk.check-v2_eu");
  EXPECT_EQ(b.id, 4294967295u);
  EXPECT_EQ(b.endpoints,
            (std::vector<std::string>{"10.0.0.5:9001", "risk-2.internal:9002",
                                      "localhost:9003"}));
  EXPECT_EQ(b.token, "backend-secret");
  EXPECT_EQ(b.request_timeout_ms, 250u);
  EXPECT_EQ(b.max_in_flight_per_connection, 8);
  EXPECT_EQ(b.queue_limit, 0);
  EXPECT_EQ(b.pool_min, 2);
  EXPECT_EQ(b.pool_max, 64);
  EXPECT_EQ(b.prediction_ratio, 2.25);
  EXPECT_EQ(b.prediction_per_session, 0.5);
  EXPECT_EQ(b.prediction_horizon_ms, 0u);
  EXPECT_EQ(b.prediction_half_life_ms, 1000u);
  EXPECT_EQ(b.idle_retire_ms, 60000u);
  EXPECT_EQ(b.idle_retire_jitter_ms, 0u);
  EXPECT_EQ(b.warm_at, (std::vector<std::string>{"00:00", "13:30", "23:59"}));
  EXPECT_EQ(b.warm_connections, 64);
  EXPECT_EQ(b.warm_lead_ms, 120000u);
  EXPECT_EQ(b.warm_hold_ms, 0u);
  EXPECT_EQ(b.connect_timeout_ms, 300u);
  EXPECT_EQ(b.reconnect_backoff_ms, 100u);
  EXPECT_EQ(b.reconnect_backoff_max_ms, 100u);
  EXPECT_EQ(b.heartbeat_interval_ms, 500u);
  EXPECT_EQ(b.eject_after_failures, 0);
  EXPECT_EQ(b.eject_ms, 1u);
  // An integer is read as a float.
  EXPECT_EQ(config->backends[1].prediction_ratio, 3.0);
}

TEST_F(ConfigFileTest, BackendEntryDefaultsAreTheModels) {
  absl::StatusOr<GatewayConfig> config = Load(kValidBackend);
  ASSERT_TRUE(config.ok()) << config.status();
  BackendService expected;
  expected.name = "risk";
  expected.id = 1;
  expected.endpoints = {"127.0.0.1:9001"};
  ASSERT_EQ(config->backends.size(), 1u);
  EXPECT_EQ(config->backends[0], expected);
  // Nothing else changes, and no entry means no backends.
  GatewayConfig without = *config;
  without.backends.clear();
  EXPECT_EQ(without, GatewayConfig{});
  EXPECT_TRUE(GatewayConfig{}.backends.empty());
}

TEST_F(ConfigFileTest, BackendProblemsAreAllReportedInFileOrder) {
  absl::StatusOr<GatewayConfig> config = Load(
      "[[backends]]\nname = \"a b\"\nid = 1\nendpoints = [\"h:0\"]\n"
      "pool_min = 40\n");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(
      Msg(config),
      absl::StrCat(At(2, "backends[0].name"),
                   "must be a service name (1..64 of A-Z a-z 0-9 . _ -), got "
                   "'a b'\n",
                   At(4, "backends[0].endpoints[0]"),
                   "the port must be a number between 1 and 65535, got 'h:0'\n",
                   At(5, "backends[0].pool_min"),
                   "must be between 0 and pool_max (16), got 40"));
}

TEST(ValidateTest, ChecksBackendsBuiltInCode) {
  GatewayConfig config;
  config.backends.push_back(
      {.name = "risk", .id = 7, .endpoints = {"127.0.0.1:9001"}});
  EXPECT_TRUE(Validate(config).ok()) << Validate(config);
  config.backends.push_back({.name = "risk", .id = 7});
  EXPECT_EQ(Msg(Validate(config)),
            "backends[1].endpoints: needs at least one \"host:port\", such as "
            "\"127.0.0.1:7501\"\n"
            "backends[1].name: 'risk' is already the name of backends[0]; "
            "service names must be unique\n"
            "backends[1].id: 7 is already the id of backends[0] ('risk'); "
            "service ids must be unique");
}

TEST(UdpConfigTest, BindDefaultsToTheGatewayBind) {
  GatewayConfig c;
  c.bind = "0.0.0.0";
  EXPECT_EQ(c.UdpBind(), "0.0.0.0");
  c.udp.bind = "127.0.0.1";
  EXPECT_EQ(c.UdpBind(), "127.0.0.1");
}

TEST_F(ConfigFileTest, MissingFileIsNotFound) {
  absl::StatusOr<GatewayConfig> config =
      LoadConfigFile((dir_ / "absent.toml").string());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Msg(config), HasSubstr("absent.toml"));
}

// --- One failing case per rule --------------------------------------------

struct BadCase {
  std::string name;
  std::string toml;
  int line;
  std::string key;
  std::string message;  // what follows "file:line: key: "
};

std::vector<BadCase> BadCases() {
  const int cpus = MachineCpuCount();
  const std::string b = kValidBackend;
  return {
      // [gateway]
      {"BindNotALiteral", "[gateway]\nbind = \"localhost\"\n", 2,
       "gateway.bind", "must be an IPv4 or IPv6 address literal"},
      {"PortTooLarge", "[gateway]\n\nport = 70000\n", 3, "gateway.port",
       "must be between 0 and 65535, got 70000"},
      {"WorkersZero", "[gateway]\nworkers = 0\n", 2, "gateway.workers",
       "must be between 1 and 64, got 0"},
      {"WorkersTooMany", "[gateway]\nworkers = 65\n", 2, "gateway.workers",
       "must be between 1 and 64, got 65"},
      {"CpuNegative", "[gateway]\ncpus = [-1]\n", 2, "gateway.cpus[0]",
       absl::StrCat("must be between 0 and ", cpus - 1)},
      {"CpuBeyondMachine",
       absl::StrCat("[gateway]\ncpus = [\n  0,\n  ", cpus, ",\n]\n"), 4,
       "gateway.cpus[1]",
       absl::StrCat("must be between 0 and ", cpus - 1, " (this machine has ",
                    cpus, " CPUs), got ", cpus)},
      {"CpuListedTwice", "[gateway]\ncpus = [0, 0]\n", 2, "gateway.cpus[1]",
       "CPU 0 is already listed at gateway.cpus[0]"},
      {"FewerCpusThanWorkers", "[gateway]\nworkers = 2\ncpus = [0]\n", 3,
       "gateway.cpus", "lists 1 CPUs for 2 workers"},
      {"IoUnknown", "[gateway]\nio = \"kqueue\"\n", 2, "gateway.io",
       "must be one of auto, epoll, uring, got 'kqueue'"},
      {"IdleUnknown", "[gateway]\nidle = \"sleep\"\n", 2, "gateway.idle",
       "must be one of spin, backoff, block, got 'sleep'"},
      {"UringEntriesNotPowerOfTwo", "[gateway]\nuring_entries = 1000\n", 2,
       "gateway.uring_entries",
       "must be a power of two between 64 and 32768, got 1000"},
      {"UringEntriesTooFew", "[gateway]\nuring_entries = 32\n", 2,
       "gateway.uring_entries", "got 32"},
      {"UringEntriesTooMany", "[gateway]\nuring_entries = 65536\n", 2,
       "gateway.uring_entries", "got 65536"},
      {"LogLevelUnknown", "[gateway]\nlog_level = \"trace\"\n", 2,
       "gateway.log_level",
       "must be one of error, warn, info, debug, got 'trace'"},
      // [udp]
      {"UdpBindNotIpv4", "[udp]\nbind = \"::1\"\n", 2, "udp.bind",
       "must be an IPv4 address literal"},
      {"UdpOnIpv6Gateway", "[gateway]\nbind = \"::1\"\n[udp]\nenabled = true\n",
       3, "udp.bind", "UDP is IPv4 only and gateway.bind is '::1'"},
      {"UdpPortTooLarge", "[udp]\nport = 65536\n", 2, "udp.port",
       "must be between 0 and 65535, got 65536"},
      {"UdpRecvBatchZero", "[udp]\nrecv_batch = 0\n", 2, "udp.recv_batch",
       "must be between 1 and 1024, got 0"},
      {"UdpSendBatchTooLarge", "[udp]\nsend_batch = 2000\n", 2,
       "udp.send_batch", "must be between 1 and 1024, got 2000"},
      {"UdpDatagramTooSmall", "[udp]\nmax_datagram_bytes = 55\n", 2,
       "udp.max_datagram_bytes", "must be between 56 and 65507, got 55"},
      {"UdpDatagramTooLarge", "[udp]\nmax_datagram_bytes = \"64KiB\"\n", 2,
       "udp.max_datagram_bytes", "must be between 56 and 65507, got 65536"},
      {"UdpHeartbeatZero", "[udp]\nheartbeat_interval_ms = 0\n", 2,
       "udp.heartbeat_interval_ms", "must be between 1 and 60000, got 0"},
      {"UdpUnknownKey", "[udp]\nrecv_bach = 8\n", 2, "udp.recv_bach",
       "unknown key; did you mean 'recv_batch'?"},
      {"UdpGroupWithoutStream",
       "[[udp.groups]]\ndestinations = [\"127.0.0.1:9\"]\n", 1,
       "udp.groups[0].stream", "required: the stream this group receives"},
      {"UdpGroupBadStream",
       "[[udp.groups]]\nstream = \"md.*\"\n"
       "destinations = [\"127.0.0.1:9\"]\n",
       2, "udp.groups[0].stream", "must be a stream name"},
      {"UdpGroupNoDestination", "[[udp.groups]]\nstream = \"s\"\n", 1,
       "udp.groups[0]", "needs destinations, a multicast group, or both"},
      {"UdpDestinationNotAnEndpoint",
       "[[udp.groups]]\nstream = \"s\"\n"
       "destinations = [\"127.0.0.1\"]\n",
       3, "udp.groups[0].destinations[0]",
       "must be an IPv4 unicast \"address:port\""},
      {"UdpDestinationPortZero",
       "[[udp.groups]]\nstream = \"s\"\n"
       "destinations = [\"127.0.0.1:0\"]\n",
       3, "udp.groups[0].destinations[0]", "with port 1..65535"},
      {"UdpDestinationMulticast",
       "[[udp.groups]]\nstream = \"s\"\n"
       "destinations = [\"239.1.1.1:9000\"]\n",
       3, "udp.groups[0].destinations[0]",
       "'239.1.1.1:9000' is a multicast address"},
      {"UdpDestinationTwice",
       "[[udp.groups]]\nstream = \"s\"\n"
       "destinations = [\"127.0.0.1:9000\"]\n"
       "[[udp.groups]]\nstream = \"s\"\n"
       "destinations = [\"127.0.0.1:9000\"]\n",
       6, "udp.groups[1].destinations[0]",
       "'127.0.0.1:9000' is listed twice for stream 's'"},
      {"UdpMulticastNotMulticast",
       "[[udp.groups]]\nstream = \"s\"\nmulticast = \"10.0.0.1:9000\"\n", 3,
       "udp.groups[0].multicast", "is not a multicast address"},
      {"UdpTtlTooLarge",
       "[[udp.groups]]\nstream = \"s\"\nmulticast = \"239.0.0.1:9000\"\n"
       "ttl = 256\n",
       4, "udp.groups[0].ttl", "must be between 0 and 255, got 256"},
      {"UdpInterfaceNotIpv4",
       "[[udp.groups]]\nstream = \"s\"\nmulticast = \"239.0.0.1:9000\"\n"
       "interface = \"eth0\"\n",
       4, "udp.groups[0].interface",
       "must be the IPv4 address of a local interface"},
      {"UdpMulticastOptionsWithoutGroup",
       "[[udp.groups]]\nstream = \"s\"\ndestinations = [\"127.0.0.1:9\"]\n"
       "ttl = 3\n",
       1, "udp.groups[0]", "apply only to a multicast group"},
      // [[backends]]
      {"BackendNameMissing",
       "[[backends]]\nid = 1\nendpoints = [\"127.0.0.1:9001\"]\n", 1,
       "backends[0].name",
       "required: the service's name, which clients may look it up by"},
      {"BackendNameWithSpace",
       "[[backends]]\nname = \"risk check\"\nid = 1\n"
       "endpoints = [\"127.0.0.1:9001\"]\n",
       2, "backends[0].name",
       "must be a service name (1..64 of A-Z a-z 0-9 . _ -), got 'risk "
       "check'"},
      {"BackendNameEmpty",
       "[[backends]]\nname = \"\"\nid = 1\n"
       "endpoints = [\"127.0.0.1:9001\"]\n",
       2, "backends[0].name", "must be a service name"},
      {"BackendNameTooLong",
       absl::StrCat("[[backends]]\nname = \"", std::string(65, 'n'),
                    "\"\nid = 1\nendpoints = [\"127.0.0.1:9001\"]\n"),
       2, "backends[0].name", "must be a service name (1..64"},
      {"BackendNameTwice",
       b + "\n[[backends]]\nname = \"risk\"\nid = 2\n"
           "endpoints = [\"127.0.0.1:9002\"]\n",
       7, "backends[1].name",
       "'risk' is already the name of backends[0]; service names must be "
       "unique"},
      // [[udp_producers]] and the [udp] authentication keys.
      {"ProducerKeyNotHex",
       "[[udp_producers]]\nname = \"feed\"\nid = 1\nkey = \"zz\"\n"
       "publish = [\"md.*\"]\n",
       4, "udp_producers[0].key", "must be 32 hex digits"},
      {"ProducerKeyAndKeyFile",
       "[[udp_producers]]\nname = \"feed\"\nid = 1\n"
       "key = \"000102030405060708090a0b0c0d0e0f\"\nkey_file = \"k\"\n"
       "publish = [\"md.*\"]\n",
       4, "udp_producers[0].key", "set exactly one of key_file"},
      {"ProducerKeyFileMissing",
       "[[udp_producers]]\nname = \"feed\"\nid = 1\n"
       "key_file = \"/nonexistent/feed.key\"\npublish = [\"md.*\"]\n",
       4, "udp_producers[0].key_file", "cannot read '/nonexistent/feed.key'"},
      {"ProducerIdMissing",
       "[[udp_producers]]\nname = \"feed\"\n"
       "key = \"000102030405060708090a0b0c0d0e0f\"\npublish = [\"md.*\"]\n",
       1, "udp_producers[0].id", "required: the producer_id"},
      {"ProducerIdTwice",
       "[[udp_producers]]\nname = \"a\"\nid = 1\n"
       "key = \"000102030405060708090a0b0c0d0e0f\"\npublish = [\"md.*\"]\n"
       "[[udp_producers]]\nname = \"b\"\nid = 1\n"
       "key = \"000102030405060708090a0b0c0d0e0f\"\npublish = [\"md.*\"]\n",
       8, "udp_producers[1].id",
       "1 is already the id of udp_producers[0] ('a'); producer ids must be "
       "unique"},
      {"ProducerSourceNotANetwork",
       "[[udp_producers]]\nname = \"feed\"\nid = 1\n"
       "key = \"000102030405060708090a0b0c0d0e0f\"\n"
       "allowed_sources = [\"10.0.0.0/33\"]\npublish = [\"md.*\"]\n",
       5, "udp_producers[0].allowed_sources[0]", "prefix length must be 0..32"},
      {"ProducerSourceHostBits",
       "[[udp_producers]]\nname = \"feed\"\nid = 1\n"
       "key = \"000102030405060708090a0b0c0d0e0f\"\n"
       "allowed_sources = [\"10.1.2.3/16\"]\npublish = [\"md.*\"]\n",
       5, "udp_producers[0].allowed_sources[0]",
       "'10.1.2.3/16' has host bits set; the network is 10.1.0.0/16"},
      {"ProducerPublishNotAPattern",
       "[[udp_producers]]\nname = \"feed\"\nid = 1\n"
       "key = \"000102030405060708090a0b0c0d0e0f\"\npublish = [\"md.*.x\"]\n",
       5, "udp_producers[0].publish[0]", "must be a stream name"},
      {"MaxSequenceJumpZero", "[udp]\nmax_sequence_jump = 0\n", 2,
       "udp.max_sequence_jump",
       "must be between 1 and 4611686018427387904, got 0"},
      {"BackendIdMissing",
       "[[backends]]\nname = \"risk\"\nendpoints = [\"127.0.0.1:9001\"]\n", 1,
       "backends[0].id", "must be between 1 and 4294967295, got 0"},
      {"BackendIdNegative",
       "[[backends]]\nname = \"risk\"\nid = -1\n"
       "endpoints = [\"127.0.0.1:9001\"]\n",
       3, "backends[0].id", "must be between 1 and 4294967295, got -1"},
      {"BackendIdTooLarge",
       "[[backends]]\nname = \"risk\"\nid = 4294967296\n"
       "endpoints = [\"127.0.0.1:9001\"]\n",
       3, "backends[0].id", "must be between 1 and 4294967295, got 4294967296"},
      {"BackendIdTwice",
       b + "[[backends]]\nname = \"quotes\"\nid = 1\n"
           "endpoints = [\"127.0.0.1:9002\"]\n",
       7, "backends[1].id",
       "1 is already the id of backends[0] ('risk'); service ids must be "
       "unique"},
      {"BackendEndpointsMissing", "[[backends]]\nname = \"risk\"\nid = 1\n", 1,
       "backends[0].endpoints",
       "needs at least one \"host:port\", such as \"127.0.0.1:7501\""},
      {"BackendEndpointsEmpty",
       "[[backends]]\nname = \"risk\"\nid = 1\nendpoints = []\n", 4,
       "backends[0].endpoints", "needs at least one \"host:port\""},
      {"BackendEndpointsNotAList",
       "[[backends]]\nname = \"risk\"\nid = 1\n"
       "endpoints = \"127.0.0.1:9001\"\n",
       4, "backends[0].endpoints",
       "expected an array of strings, got a string"},
      {"BackendEndpointNotAString",
       "[[backends]]\nname = \"risk\"\nid = 1\nendpoints = [\n  9001,\n]\n", 5,
       "backends[0].endpoints[0]", "expected a string, got an integer"},
      {"BackendEndpointWithoutPort",
       "[[backends]]\nname = \"risk\"\nid = 1\n"
       "endpoints = [\"127.0.0.1:9001\", \"127.0.0.1\"]\n",
       4, "backends[0].endpoints[1]",
       "expected \"host:port\" such as \"127.0.0.1:7501\", got '127.0.0.1'"},
      {"BackendEndpointPortZero",
       "[[backends]]\nname = \"risk\"\nid = 1\n"
       "endpoints = [\"risk.internal:0\"]\n",
       4, "backends[0].endpoints[0]",
       "the port must be a number between 1 and 65535, got "
       "'risk.internal:0'"},
      {"BackendEndpointPortTooLarge",
       "[[backends]]\nname = \"risk\"\nid = 1\n"
       "endpoints = [\"127.0.0.1:65536\"]\n",
       4, "backends[0].endpoints[0]",
       "the port must be a number between 1 and 65535"},
      {"BackendEndpointBadHostname",
       "[[backends]]\nname = \"risk\"\nid = 1\n"
       "endpoints = [\"risk_1.internal:9001\"]\n",
       4, "backends[0].endpoints[0]",
       "the host must be an IPv4 address or a hostname (dot-separated labels "
       "of letters, digits and '-'), got 'risk_1.internal:9001'"},
      {"BackendEndpointBadIpv4",
       "[[backends]]\nname = \"risk\"\nid = 1\n"
       "endpoints = [\"256.0.0.1:9001\"]\n",
       4, "backends[0].endpoints[0]",
       "'256.0.0.1' is not a valid IPv4 address, in '256.0.0.1:9001'"},
      {"BackendEndpointIpv6",
       "[[backends]]\nname = \"risk\"\nid = 1\n"
       "endpoints = [\"[::1]:9001\"]\n",
       4, "backends[0].endpoints[0]", "IPv6 addresses are not supported"},
      {"BackendEndpointTwice",
       "[[backends]]\nname = \"risk\"\nid = 1\n"
       "endpoints = [\"risk.internal:9001\", \"risk.internal:9001\"]\n",
       4, "backends[0].endpoints[1]",
       "'risk.internal:9001' is already listed at backends[0].endpoints[0]"},
      {"BackendTokenTooLong",
       absl::StrCat(b, "token = \"", std::string(256, 't'), "\"\n"), 5,
       "backends[0].token", "must be at most 255 bytes"},
      {"BackendRequestTimeoutZero", b + "request_timeout_ms = 0\n", 5,
       "backends[0].request_timeout_ms",
       "must be between 1 and 3600000, got 0"},
      {"BackendRequestTimeoutTooLong", b + "request_timeout_ms = 3600001\n", 5,
       "backends[0].request_timeout_ms",
       "must be between 1 and 3600000, got 3600001"},
      {"BackendInFlightZero", b + "max_in_flight_per_connection = 0\n", 5,
       "backends[0].max_in_flight_per_connection",
       "must be between 1 and 65536, got 0"},
      {"BackendInFlightTooMany", b + "max_in_flight_per_connection = 65537\n",
       5, "backends[0].max_in_flight_per_connection",
       "must be between 1 and 65536, got 65537"},
      {"BackendQueueLimitNegative", b + "queue_limit = -1\n", 5,
       "backends[0].queue_limit", "must be between 0 and 1000000, got -1"},
      {"BackendQueueLimitTooLarge", b + "queue_limit = 1000001\n", 5,
       "backends[0].queue_limit", "must be between 0 and 1000000, got 1000001"},
      {"BackendPoolMaxZero", b + "pool_max = 0\npool_min = 0\n", 5,
       "backends[0].pool_max", "must be between 1 and 4096, got 0"},
      {"BackendPoolMaxTooLarge", b + "pool_max = 4097\n", 5,
       "backends[0].pool_max", "must be between 1 and 4096, got 4097"},
      {"BackendPoolMinAboveMax", b + "pool_max = 4\npool_min = 5\n", 6,
       "backends[0].pool_min", "must be between 0 and pool_max (4), got 5"},
      {"BackendPoolMinAboveDefaultMax", b + "pool_min = 17\n", 5,
       "backends[0].pool_min", "must be between 0 and pool_max (16), got 17"},
      {"BackendPoolMinNegative", b + "pool_min = -1\n", 5,
       "backends[0].pool_min", "must be between 0 and pool_max (16), got -1"},
      {"BackendRatioBelowOne", b + "prediction_ratio = 0.5\n", 5,
       "backends[0].prediction_ratio", "must be between 1 and 100, got 0.5"},
      {"BackendRatioTooLarge", b + "prediction_ratio = 100.5\n", 5,
       "backends[0].prediction_ratio", "must be between 1 and 100, got 100.5"},
      {"BackendRatioNan", b + "prediction_ratio = nan\n", 5,
       "backends[0].prediction_ratio", "must be between 1 and 100, got nan"},
      {"BackendRatioInfinite", b + "prediction_ratio = inf\n", 5,
       "backends[0].prediction_ratio", "must be between 1 and 100, got inf"},
      {"BackendRatioAsString", b + "prediction_ratio = \"1.5\"\n", 5,
       "backends[0].prediction_ratio", "expected a number, got a string"},
      {"BackendPerSessionNegative", b + "prediction_per_session = -0.5\n", 5,
       "backends[0].prediction_per_session",
       "must be between 0 and 1000, got -0.5"},
      {"BackendPerSessionTooLarge", b + "prediction_per_session = 1001\n", 5,
       "backends[0].prediction_per_session",
       "must be between 0 and 1000, got 1001"},
      {"BackendPerSessionNan", b + "prediction_per_session = nan\n", 5,
       "backends[0].prediction_per_session",
       "must be between 0 and 1000, got nan"},
      {"BackendHorizonTooLong", b + "prediction_horizon_ms = 600001\n", 5,
       "backends[0].prediction_horizon_ms",
       "must be between 0 and 600000, got 600001"},
      {"BackendHalfLifeZero", b + "prediction_half_life_ms = 0\n", 5,
       "backends[0].prediction_half_life_ms",
       "must be between 1 and 600000, got 0"},
      {"BackendIdleRetireZero", b + "idle_retire_ms = 0\n", 5,
       "backends[0].idle_retire_ms", "must be between 1 and 86400000, got 0"},
      {"BackendIdleJitterAboveRetire",
       b + "idle_retire_ms = 1000\nidle_retire_jitter_ms = 1001\n", 6,
       "backends[0].idle_retire_jitter_ms",
       "must be at most idle_retire_ms (1000), got 1001"},
      {"BackendIdleJitterTooLarge", b + "idle_retire_jitter_ms = 86400001\n", 5,
       "backends[0].idle_retire_jitter_ms",
       "must be between 0 and 86400000, got 86400001"},
      {"BackendWarmAtWithoutLeadingZero", b + "warm_at = [\"9:30\"]\n", 5,
       "backends[0].warm_at[0]",
       "must be a UTC time of day \"HH:MM\", 00:00..23:59, got '9:30'"},
      {"BackendWarmAtHour24", b + "warm_at = [\"08:00\", \"24:00\"]\n", 5,
       "backends[0].warm_at[1]", "got '24:00'"},
      {"BackendWarmAtMinute60", b + "warm_at = [\"13:60\"]\n", 5,
       "backends[0].warm_at[0]", "got '13:60'"},
      {"BackendWarmAtSeconds", b + "warm_at = [\"13:30:00\"]\n", 5,
       "backends[0].warm_at[0]", "got '13:30:00'"},
      {"BackendWarmAtTwice", b + "warm_at = [\"13:30\", \"13:30\"]\n", 5,
       "backends[0].warm_at[1]",
       "'13:30' is already listed at backends[0].warm_at[0]"},
      {"BackendWarmAtNotAList", b + "warm_at = \"13:30\"\n", 5,
       "backends[0].warm_at", "expected an array of strings, got a string"},
      {"BackendWarmAtTomlTime", b + "warm_at = [13:30:00]\n", 5,
       "backends[0].warm_at[0]", "expected a string, got a time"},
      {"BackendWarmConnectionsAboveMax",
       b + "pool_max = 8\nwarm_connections = 9\n", 6,
       "backends[0].warm_connections",
       "must be between 0 and pool_max (8), got 9"},
      {"BackendWarmLeadTooLong", b + "warm_lead_ms = 43200001\n", 5,
       "backends[0].warm_lead_ms", "must be between 0 and 43200000, got "},
      {"BackendWarmHoldNegative", b + "warm_hold_ms = -1\n", 5,
       "backends[0].warm_hold_ms", "must be between 0 and 43200000, got -1"},
      {"BackendConnectTimeoutZero", b + "connect_timeout_ms = 0\n", 5,
       "backends[0].connect_timeout_ms", "must be between 1 and 600000, got 0"},
      {"BackendBackoffZero", b + "reconnect_backoff_ms = 0\n", 5,
       "backends[0].reconnect_backoff_ms",
       "must be between 1 and 3600000, got 0"},
      {"BackendBackoffAboveMax", b + "reconnect_backoff_ms = 6000\n", 5,
       "backends[0].reconnect_backoff_ms",
       "must be at most reconnect_backoff_max_ms (5000), got 6000"},
      {"BackendBackoffMaxTooLarge", b + "reconnect_backoff_max_ms = 3600001\n",
       5, "backends[0].reconnect_backoff_max_ms",
       "must be between 1 and 3600000, got 3600001"},
      {"BackendHeartbeatZero", b + "heartbeat_interval_ms = 0\n", 5,
       "backends[0].heartbeat_interval_ms",
       "must be between 1 and 3600000, got 0"},
      {"BackendEjectAfterTooMany", b + "eject_after_failures = 1001\n", 5,
       "backends[0].eject_after_failures",
       "must be between 0 and 1000, got 1001"},
      {"BackendEjectZero", b + "eject_ms = 0\n", 5, "backends[0].eject_ms",
       "must be between 1 and 3600000, got 0"},
      {"BackendUnknownKey", b + "pool_mni = 2\n", 5, "backends[0].pool_mni",
       "unknown key; did you mean 'pool_min'?"},
      {"BackendIntegerAsString", b + "pool_max = \"8\"\n", 5,
       "backends[0].pool_max", "expected an integer, got a string"},
      {"BackendsAsATable", "[backends]\nname = \"risk\"\n", 1, "backends",
       "expected an array of tables ([[backends]]), got a table"},
      {"BackendSpelledWithoutS", "[[backend]]\nname = \"risk\"\n", 1, "backend",
       "unknown key; did you mean 'backends'?"},
      {"BackendsNestedInATable", "[gateway]\n[[gateway.backends]]\nid = 1\n", 2,
       "gateway.backends", "unknown key"},
      // [limits]
      {"FrameLengthTooSmall", "[limits]\nmax_frame_length = 32\n", 2,
       "limits.max_frame_length", "must be between 1056 and 16MiB, got 32"},
      {"FrameLengthTooLarge", "[limits]\nmax_frame_length = \"32MiB\"\n", 2,
       "limits.max_frame_length", "must be between 1056 and 16MiB, got 32MiB"},
      {"NoConnections", "[limits]\nmax_connections = 0\n", 2,
       "limits.max_connections", "must be between 1 and 1048576, got 0"},
      {"NoSubscriptions", "[limits]\nmax_subscriptions_per_session = 0\n", 2,
       "limits.max_subscriptions_per_session",
       "must be between 1 and 65536, got 0"},
      {"NoStreams", "[limits]\nmax_streams = 0\n", 2, "limits.max_streams",
       "must be between 1 and 1048576, got 0"},
      {"NegativePublishRate", "[limits]\nmax_publish_rate = -1\n", 2,
       "limits.max_publish_rate", "must be between 0 and 4294967295, got -1"},
      {"TinyOutboundQueue", "[limits]\nmax_outbound_queue_bytes = 100\n", 2,
       "limits.max_outbound_queue_bytes",
       "must be between 4KiB and 1GiB, got 100"},
      {"LogMemoryBelowAStream",
       "[limits]\nmax_log_memory_bytes = \"8MiB\"\n\n[[streams.policies]]\n"
       "match = \"big.*\"\ncapacity_bytes = \"32MiB\"\n",
       2, "limits.max_log_memory_bytes",
       "must be at least the largest stream capacity_bytes (32MiB), got 8MiB"},
      {"LogMemoryTooLarge", "[limits]\nmax_log_memory_bytes = \"2TiB\"\n", 2,
       "limits.max_log_memory_bytes",
       "must be between 64KiB and 1TiB, got 2TiB"},
      // [session]
      {"HeartbeatBelowMin", "[session]\nheartbeat_interval_ms = 5\n", 2,
       "session.heartbeat_interval_ms", "must be between 10 and 60000, got 5"},
      {"HeartbeatAboveMax", "[session]\nmax_heartbeat_interval_ms = 500\n", 1,
       "session.heartbeat_interval_ms", "must be between 10 and 500, got 1000"},
      {"HeartbeatMinAboveMax",
       "[session]\nmin_heartbeat_interval_ms = 100\n"
       "max_heartbeat_interval_ms = 50\n",
       3, "session.max_heartbeat_interval_ms",
       "must be at least session.min_heartbeat_interval_ms (100), got 50"},
      {"HeartbeatMinZero", "[session]\nmin_heartbeat_interval_ms = 0\n", 2,
       "session.min_heartbeat_interval_ms",
       "must be between 1 and 3600000, got 0"},
      {"HeartbeatNegative", "[session]\nheartbeat_interval_ms = -1\n", 2,
       "session.heartbeat_interval_ms", "got -1"},
      {"IdleTimeoutZero", "[session]\nidle_timeout_heartbeats = 0\n", 2,
       "session.idle_timeout_heartbeats", "must be between 1 and 1000, got 0"},
      {"SummaryIntervalOverADay", "[gateway]\nsummary_interval_ms = 86400001\n",
       2, "gateway.summary_interval_ms",
       "must be between 0 and 86400000, got 86400001"},
      {"LogonTimeoutZero", "[session]\nlogon_timeout_ms = 0\n", 2,
       "session.logon_timeout_ms", "must be between 1 and 600000, got 0"},
      {"TokenTooLong",
       absl::StrCat("[session]\ntoken = \"", std::string(256, 'x'), "\"\n"), 2,
       "session.token", "must be at most 255 bytes"},
      {"DrainTooLong", "[session]\nshutdown_drain_ms = 700000\n", 2,
       "session.shutdown_drain_ms", "must be between 0 and 600000"},
      // [socket]
      {"PriorityTooHigh", "[socket]\npriority = 7\n", 2, "socket.priority",
       "must be between 0 and 6, got 7"},
      {"PriorityNegative", "[socket]\npriority = -1\n", 2, "socket.priority",
       "must be between 0 and 6, got -1"},
      {"BusyPollNegative", "[socket]\nbusy_poll_us = -1\n", 2,
       "socket.busy_poll_us", "must be between 0 and 1000000, got -1"},
      {"SendBufferTooLarge", "[socket]\nsend_buffer_bytes = \"1TiB\"\n", 2,
       "socket.send_buffer_bytes", "must be between 0 and 1GiB, got 1TiB"},
      {"RecvBufferNegative", "[socket]\nrecv_buffer_bytes = -5\n", 2,
       "socket.recv_buffer_bytes", "must not be negative, got -5"},
      // [streams]
      {"CapacityNotPowerOfTwo", "[streams]\ncapacity_bytes = \"100KiB\"\n", 2,
       "streams.capacity_bytes",
       "must be a power of two between 64KiB and 4GiB, got 100KiB"},
      {"CapacityTooSmall", "[streams]\ncapacity_bytes = \"32KiB\"\n", 2,
       "streams.capacity_bytes", "got 32KiB"},
      {"CapacityTooLarge", "[streams]\ncapacity_bytes = \"8GiB\"\n", 2,
       "streams.capacity_bytes", "got 8GiB"},
      {"CapacityBelowFourFrames",
       "[limits]\nmax_frame_length = \"1MiB\"\n[streams]\n"
       "capacity_bytes = \"2MiB\"\nwindow_bytes = \"2MiB\"\n",
       4, "streams.capacity_bytes",
       "must be at least 4 * limits.max_frame_length (4MiB), got 2MiB"},
      {"WindowBelowTwoFrames", "[streams]\nwindow_bytes = \"64KiB\"\n", 2,
       "streams.window_bytes",
       "must be at least 2 * limits.max_frame_length (128KiB), got 64KiB"},
      {"WindowAboveHalfCapacity", "[streams]\nwindow_bytes = \"16MiB\"\n", 2,
       "streams.window_bytes",
       "must be at most capacity_bytes / 2 (8MiB), got 16MiB"},
      {"PolicyUnknown", "[streams]\npolicy = \"drop\"\n", 2, "streams.policy",
       "must be one of disconnect, backpressure, got 'drop'"},
      {"MatchInvalid",
       "[[streams.policies]]\nmatch = \"md.*\"\n\n[[streams.policies]]\n"
       "match = \"bad name!\"\n",
       5, "streams.policies[1].match",
       "must be a stream name (1..255 of A-Z a-z 0-9 . _ -) or a prefix "
       "pattern ending in '*', got 'bad name!'"},
      {"MatchStarInTheMiddle", "[[streams.policies]]\nmatch = \"md.*.x\"\n", 2,
       "streams.policies[0].match", "got 'md.*.x'"},
      {"MatchMissing", "[[streams.policies]]\npolicy = \"backpressure\"\n", 1,
       "streams.policies[0].match", "required"},
      {"MatchShadowed",
       "[[streams.policies]]\nmatch = \"md.*\"\n[[streams.policies]]\n"
       "match = \"md.eq.*\"\n",
       4, "streams.policies[1].match",
       "'md.eq.*' can never apply: streams.policies[0] ('md.*') comes first"},
      {"EntryPolicyUnknown",
       "[[streams.policies]]\nmatch = \"a\"\npolicy = \"drop\"\n", 3,
       "streams.policies[0].policy", "must be one of disconnect, backpressure"},
      {"EntryInheritsTooLargeWindow",
       "[streams]\nwindow_bytes = \"4MiB\"\n\n[[streams.policies]]\n"
       "match = \"small.*\"\ncapacity_bytes = \"1MiB\"\n",
       4, "streams.policies[0].window_bytes",
       "must be at most capacity_bytes / 2 (512KiB), got 4MiB "
       "(inherited from streams.window_bytes)"},
      // Unknown keys and tables.
      {"UnknownKeyWithSuggestion", "[gateway]\nwrokers = 2\n", 2,
       "gateway.wrokers", "unknown key; did you mean 'workers'?"},
      {"UnknownKeyInEntry", "[[streams.policies]]\nmatch = \"a\"\nwindow = 1\n",
       3, "streams.policies[0].window", "unknown key"},
      {"UnknownTableWithSuggestion", "\n[gatway]\nworkers = 2\n", 2, "gatway",
       "unknown table; did you mean 'gateway'?"},
      {"KeyOutsideItsTable", "port = 7400\n", 1, "port",
       "unknown key; 'port' belongs in [gateway] (gateway.port)"},
      {"PoliciesSpelledAsPolicy",
       "[streams]\n[[streams.policy]]\nmatch = \"a\"\n", 2, "streams.policy",
       "expected a string, got an array; per-stream policies go in "
       "[[streams.policies]]"},
      // Wrong types.
      {"IntegerAsString", "[gateway]\nworkers = \"2\"\n", 2, "gateway.workers",
       "expected an integer, got a string"},
      {"BoolAsInteger", "[socket]\ntcp_nodelay = 1\n", 2, "socket.tcp_nodelay",
       "expected a boolean, got an integer"},
      {"StringAsInteger", "[gateway]\nbind = 127\n", 2, "gateway.bind",
       "expected a string, got an integer"},
      {"ListAsInteger", "[gateway]\ncpus = 1\n", 2, "gateway.cpus",
       "expected an array of integers, got an integer"},
      {"ListElementAsString", "[gateway]\ncpus = [0, \"1\"]\n", 2,
       "gateway.cpus[1]", "expected an integer, got a string"},
      {"SizeAsFloat", "[streams]\ncapacity_bytes = 1.5\n", 2,
       "streams.capacity_bytes",
       "expected an integer or a size string such as \"16MiB\", got a float"},
      {"SizeWithDecimalUnit", "[streams]\ncapacity_bytes = \"16MB\"\n", 2,
       "streams.capacity_bytes",
       "expected a byte size: an integer with an optional unit B, KiB, MiB, "
       "GiB or TiB"},
      {"NegativeSize", "[limits]\nmax_frame_length = -64\n", 2,
       "limits.max_frame_length", "must not be negative, got -64"},
      {"TableAsValue", "gateway = 5\n", 1, "gateway",
       "expected a table, got an integer"},
      {"PoliciesNotAnArray", "[streams]\npolicies = \"a\"\n", 2,
       "streams.policies",
       "expected an array of tables ([[streams.policies]]), got a string"},
      {"EntryNotATable", "[streams]\npolicies = [1]\n", 2,
       "streams.policies[0]", "expected a table, got an integer"},
      // [fastpath]
      {"FastPathModeUnknown", "[fastpath]\nmode = \"xdp\"\n", 2,
       "fastpath.mode", "must be one of socket, af_xdp, dpdk, got 'xdp'"},
      {"FastPathModeMisspelt", "[fastpath]\nmode = \"afxdp\"\n", 2,
       "fastpath.mode", "got 'afxdp'; did you mean 'af_xdp'?"},
      {"FastPathModeUpperCase", "[fastpath]\nmode = \"DPDK\"\n", 2,
       "fastpath.mode", "got 'DPDK'; did you mean 'dpdk'?"},
      {"XdpModeMisspelt", "[fastpath]\nxdp_mode = \"generc\"\n", 2,
       "fastpath.xdp_mode",
       "must be one of native, generic, got 'generc'; did you mean "
       "'generic'?"},
      {"XdpBindMisspelt", "[fastpath]\nxdp_bind = \"zerocopy\"\n", 2,
       "fastpath.xdp_bind",
       "must be one of auto, copy, zero_copy, got 'zerocopy'; did you mean "
       "'zero_copy'?"},
      {"FastPathWithoutUdp",
       "[fastpath]\nmode = \"af_xdp\"\ninterface = \"eth1\"\n", 2,
       "fastpath.mode", "set udp.enabled = true"},
      {"FastPathQueuesZero", "[fastpath]\nqueues = 0\n", 2, "fastpath.queues",
       "must be between 1 and 64, got 0"},
      {"FastPathQueuesBeyondWorkers",
       "[gateway]\nworkers = 2\n[fastpath]\nqueues = 3\n", 4, "fastpath.queues",
       "must be at most gateway.workers (2)"},
      {"FastPathStartQueueNegative", "[fastpath]\nstart_queue = -1\n", 2,
       "fastpath.start_queue", "must be between 0 and 1023, got -1"},
      {"FastPathFramesNotPowerOfTwo", "[fastpath]\nframes = 5000\n", 2,
       "fastpath.frames",
       "must be a power of two between 512 and 1048576, got 5000"},
      {"FastPathFramesTooFew", "[fastpath]\nframes = 256\n", 2,
       "fastpath.frames", "got 256"},
      {"FastPathFrameSizeOdd", "[fastpath]\nframe_size = 3000\n", 2,
       "fastpath.frame_size", "must be 2048 or 4096, got 3000"},
      {"FastPathFrameTooSmallForDatagrams",
       "[udp]\nenabled = true\nmax_datagram_bytes = 4000\n[fastpath]\n"
       "mode = \"af_xdp\"\ninterface = \"eth1\"\nframe_size = 2048\n",
       7, "fastpath.frame_size", "but udp.max_datagram_bytes is 4000"},
      {"AfXdpFrameHeadroomLeavesTooLittle",
       "[udp]\nenabled = true\nmax_datagram_bytes = 1900\n[fastpath]\n"
       "mode = \"af_xdp\"\ninterface = \"eth1\"\nframe_size = 2048\n",
       7, "fastpath.frame_size", "holds datagrams of at most 1742 bytes"},
      {"FastPathRxRingNotPowerOfTwo", "[fastpath]\nrx_ring = 1000\n", 2,
       "fastpath.rx_ring",
       "must be a power of two between 64 and 32768, got 1000"},
      {"FastPathTxRingTooLarge", "[fastpath]\ntx_ring = 65536\n", 2,
       "fastpath.tx_ring", "got 65536"},
      {"FastPathFillRingTooSmall", "[fastpath]\nfill_ring = 32\n", 2,
       "fastpath.fill_ring", "got 32"},
      {"FastPathCompletionRingOdd", "[fastpath]\ncompletion_ring = 100\n", 2,
       "fastpath.completion_ring", "got 100"},
      {"FastPathFillRingBeyondFrames",
       "[fastpath]\nframes = 1024\nfill_ring = 2048\n", 3, "fastpath.fill_ring",
       "must be at most fastpath.frames (1024)"},
      {"AfXdpWithoutInterface",
       "[udp]\nenabled = true\n[fastpath]\nmode = \"af_xdp\"\n", 3,
       "fastpath.interface", "required with mode = \"af_xdp\""},
      {"FastPathInterfaceTooLong",
       "[fastpath]\ninterface = \"a-very-long-interface\"\n", 2,
       "fastpath.interface", "at most 15 characters"},
      {"DpdkWithoutAddress",
       "[udp]\nenabled = true\n[fastpath]\nmode = \"dpdk\"\ninterface = "
       "\"eth1\"\n",
       3, "fastpath.address", "required with mode = \"dpdk\""},
      {"FastPathAddressNotIpv4", "[fastpath]\naddress = \"10.0.0\"\n", 2,
       "fastpath.address",
       "must be an IPv4 address literal such as \"10.0.0.1\", got '10.0.0'"},
      {"FastPathGatewayNotIpv4", "[fastpath]\ngateway = \"::1\"\n", 2,
       "fastpath.gateway", "must be an IPv4 address literal"},
      {"FastPathPrefixTooLong", "[fastpath]\nprefix_len = 33\n", 2,
       "fastpath.prefix_len", "must be between 1 and 32, got 33"},
      {"DpdkOnEphemeralPort",
       "[udp]\nenabled = true\nport = 0\n[fastpath]\nmode = \"dpdk\"\n"
       "address = \"10.0.0.1\"\ninterface = \"eth1\"\n",
       3, "udp.port", "must be set (1..65535) with fastpath.mode = \"dpdk\""},
      {"DpdkPoolSmallerThanItsRings",
       "[udp]\nenabled = true\n[fastpath]\nmode = \"dpdk\"\naddress = "
       "\"10.0.0.1\"\ninterface = \"eth1\"\nframes = 2048\n",
       7, "fastpath.frames",
       "must be at least fastpath.rx_ring + fastpath.tx_ring + 128 (3200)"},
      {"DpdkWithoutDevice",
       "[udp]\nenabled = true\n[fastpath]\nmode = \"dpdk\"\naddress = "
       "\"10.0.0.1\"\n",
       3, "fastpath.eal_args", "name a device"},
      {"NeighbourWithoutMac", "[fastpath]\nneighbours = [\"10.0.0.2\"]\n", 2,
       "fastpath.neighbours[0]",
       "must be \"ip=mac\" such as \"10.0.0.2=02:00:00:00:00:02\", got "
       "'10.0.0.2'"},
      {"NeighbourBadMac",
       "[fastpath]\nneighbours = [\n  \"10.0.0.2=02:00:00:00:00:02\",\n"
       "  \"10.0.0.3=02:00:00:00:00\",\n]\n",
       4, "fastpath.neighbours[1]", "got '10.0.0.3=02:00:00:00:00'"},
      {"NeighbourListedTwice",
       "[fastpath]\nneighbours = [\"10.0.0.2=02:00:00:00:00:02\", "
       "\"10.0.0.2=02:00:00:00:00:03\"]\n",
       2, "fastpath.neighbours[1]",
       "'10.0.0.2' is already listed at fastpath.neighbours[0]"},
      {"EalArgsNotAList", "[fastpath]\neal_args = \"--no-huge\"\n", 2,
       "fastpath.eal_args", "expected an array of strings, got a string"},
  };
}

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class BadConfigTest : public ConfigFileTest,
                      public ::testing::WithParamInterface<BadCase> {};

TEST_P(BadConfigTest, NamesFileLineAndKey) {
  const BadCase& c = GetParam();
  absl::StatusOr<GatewayConfig> config = Load(c.toml);
  ASSERT_FALSE(config.ok()) << c.toml;
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  // One problem per line; the one for this key carries the message.
  const std::string located = At(c.line, c.key);
  std::string problem;
  for (absl::string_view line : absl::StrSplit(Msg(config), '\n')) {
    if (absl::StartsWith(line, located)) problem = std::string(line);
  }
  EXPECT_THAT(problem, HasSubstr(c.message))
      << "expected a problem starting '" << located << "' in:\n"
      << Msg(config);
}

INSTANTIATE_TEST_SUITE_P(
    EveryRule, BadConfigTest, ::testing::ValuesIn(BadCases()),
    [](const ::testing::TestParamInfo<BadCase>& param_info) {
      return param_info.param.name;
    });

TEST_F(ConfigFileTest, SuggestsNothingForAFarOffKey) {
  absl::StatusOr<GatewayConfig> config = Load("[gateway]\nfrobnicate = 1\n");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(Msg(config), At(2, "gateway.frobnicate") + "unknown key");
}

TEST_F(ConfigFileTest, ReportsTheSpecExampleExactly) {
  absl::StatusOr<GatewayConfig> config =
      Load("[gateway]\nworkers = 1\n\n[session]\nheartbeat_interval_ms = 5\n");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(Msg(config), At(5, "session.heartbeat_interval_ms") +
                             "must be between 10 and 60000, got 5");
}

TEST_F(ConfigFileTest, ReportsEveryProblemInFileOrder) {
  absl::StatusOr<GatewayConfig> config = Load(
      "[socket]\npriority = 9\n[gateway]\nworkers = 0\nuring_entries = 100\n");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(Msg(config),
            absl::StrCat(
                At(2, "socket.priority"), "must be between 0 and 6, got 9\n",
                At(4, "gateway.workers"), "must be between 1 and 64, got 0\n",
                At(5, "gateway.uring_entries"),
                "must be a power of two between 64 and 32768, got 100"));
}

TEST_F(ConfigFileTest, ReportsTypeErrorsBeforeValidating) {
  // The bad type stops loading; the range problem would be noise.
  absl::StatusOr<GatewayConfig> config =
      Load("[gateway]\nworkers = 0\nport = \"x\"\n");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(Msg(config),
            At(3, "gateway.port") + "expected an integer, got a string");
}

TEST_F(ConfigFileTest, DefaultedKeyInCrossFieldErrorPointsAtItsTable) {
  // capacity_bytes keeps its 16MiB default, which a 8MiB frame limit breaks.
  absl::StatusOr<GatewayConfig> config = Load(
      "[limits]\nmax_frame_length = \"8MiB\"\n\n[streams]\n"
      "window_bytes = \"16MiB\"\n");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Msg(config),
              HasSubstr(At(4, "streams.capacity_bytes") +
                        "must be at least 4 * limits.max_frame_length "
                        "(32MiB), got 16MiB"));
}

TEST_F(ConfigFileTest, SyntaxErrorNamesLineAndColumn) {
  absl::StatusOr<GatewayConfig> config =
      Load("[gateway]\nworkers = 2\nport = = 1\n");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(Msg(config)),
              ::testing::MatchesRegex(path_ + ":3:[0-9]+: .+"));
}

TEST_F(ConfigFileTest, SyntaxErrorOnRedefinedKey) {
  absl::StatusOr<GatewayConfig> config =
      Load("[gateway]\nworkers = 2\nworkers = 3\n");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Msg(config), StartsWith(path_ + ":3:"));
}

TEST(ValidateTest, NamesKeysWithoutALineForConfigsBuiltInCode) {
  GatewayConfig config;
  config.workers = 0;
  EXPECT_EQ(Msg(Validate(config)),
            "gateway.workers: must be between 1 and 64, got 0");
  EXPECT_THAT(Msg(Validate(config)),
              HasSubstr("workers: must be between 1 and 64, got 0"));
  EXPECT_EQ(Validate(config).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidateTest, ChecksStreamPoliciesBuiltInCode) {
  GatewayConfig config;
  config.stream_policies.push_back({.match = "a b"});
  config.stream_policies.push_back(
      {.match = "ok", .capacity_bytes = 1u << 20, .window_bytes = 1u << 20});
  EXPECT_EQ(
      Msg(Validate(config)),
      "streams.policies[0].match: must be a stream name (1..255 of A-Z a-z "
      "0-9 . _ -) or a prefix pattern ending in '*', got 'a b'\n"
      "streams.policies[1].window_bytes: must be at most capacity_bytes / 2 "
      "(512KiB), got 1MiB");
}

TEST(ValidateTest, AcceptsIpv6Bind) {
  GatewayConfig config;
  config.bind = "::1";
  EXPECT_TRUE(Validate(config).ok());
  config.bind = "0.0.0.0";
  EXPECT_TRUE(Validate(config).ok());
  config.bind = "::ffff:10.0.0.1";
  EXPECT_TRUE(Validate(config).ok());
}

TEST(ParseConfigTest, UsesTheSourceNameInErrors) {
  absl::StatusOr<GatewayConfig> config =
      ParseConfig("[gateway]\nworkers = 99\n", "inline.toml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(Msg(config),
            "inline.toml:2: gateway.workers: must be between 1 and 64, got 99");
}

// --- Values ------------------------------------------------------------------

TEST_F(ConfigFileTest, ReadsEveryKindOfValue) {
  absl::StatusOr<GatewayConfig> config = Load(R"(
[gateway]
bind = "::"
port = 9000
workers = 1
cpus = [0]
io = "epoll"
idle = "block"
uring_entries = 64
log_level = "debug"
[limits]
max_frame_length = 2048
max_publish_rate = 100000
max_outbound_queue_bytes = "256KiB"
[session]
token = "s3cret"
heartbeat_interval_ms = 250
[socket]
tcp_nodelay = false
priority = 6
send_buffer_bytes = "4MiB"
strict = true
[streams]
capacity_bytes = 1048576
window_bytes = "512 KiB"
policy = "disconnect"
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->bind, "::");
  EXPECT_EQ(config->port, 9000);
  EXPECT_EQ(config->cpus, std::vector<int>{0});
  EXPECT_EQ(config->io, IoBackend::kEpoll);
  EXPECT_EQ(config->idle, IdleStrategy::kBlock);
  EXPECT_EQ(config->uring_entries, 64);
  EXPECT_EQ(config->log_level, "debug");
  EXPECT_EQ(config->max_frame_length, 2048u);
  EXPECT_EQ(config->max_publish_rate, 100000u);
  EXPECT_EQ(config->max_outbound_queue_bytes, 256u * 1024);
  EXPECT_EQ(config->token, "s3cret");
  EXPECT_EQ(config->heartbeat_interval_ms, 250u);
  EXPECT_FALSE(config->socket.tcp_nodelay);
  EXPECT_EQ(config->socket.priority, 6);
  EXPECT_EQ(config->socket.send_buffer_bytes, 4 << 20);
  EXPECT_TRUE(config->socket.strict);
  EXPECT_EQ(config->default_stream.capacity_bytes, 1u << 20);
  EXPECT_EQ(config->default_stream.window_bytes, 512u << 10);
  EXPECT_EQ(config->default_stream.policy, SlowConsumerPolicy::kDisconnect);
}

TEST(EnumNameTest, RoundTrips) {
  for (IoBackend io :
       {IoBackend::kAuto, IoBackend::kEpoll, IoBackend::kUring}) {
    EXPECT_EQ(ParseIoBackend(IoBackendName(io)), io);
  }
  for (IdleStrategy idle :
       {IdleStrategy::kSpin, IdleStrategy::kBackoff, IdleStrategy::kBlock}) {
    EXPECT_EQ(ParseIdleStrategy(IdleStrategyName(idle)), idle);
  }
  for (SlowConsumerPolicy policy :
       {SlowConsumerPolicy::kDisconnect, SlowConsumerPolicy::kBackpressure}) {
    EXPECT_EQ(ParseSlowConsumerPolicy(SlowConsumerPolicyName(policy)), policy);
  }
  EXPECT_EQ(ParseIoBackend("EPOLL"), std::nullopt);
}

// --- PolicyFor
// ----------------------------------------------------------------

TEST_F(ConfigFileTest, PolicyForTakesTheFirstMatchInFileOrder) {
  absl::StatusOr<GatewayConfig> config = Load(R"(
[streams]
capacity_bytes = "1MiB"
window_bytes = "256KiB"

[[streams.policies]]
match = "md.eq.AAPL"
capacity_bytes = "2MiB"

[[streams.policies]]
match = "md.eq.*"
capacity_bytes = "4MiB"

[[streams.policies]]
match = "md.*"
capacity_bytes = "8MiB"
window_bytes = "1MiB"
policy = "backpressure"
)");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->stream_policies.size(), 3u);
  EXPECT_EQ(config->PolicyFor("md.eq.AAPL").capacity_bytes, 2u << 20);
  EXPECT_EQ(config->PolicyFor("md.eq.AAPLX").capacity_bytes, 4u << 20);
  EXPECT_EQ(config->PolicyFor("md.eq.MSFT").capacity_bytes, 4u << 20);
  EXPECT_EQ(config->PolicyFor("md.fx.EURUSD").capacity_bytes, 8u << 20);
  EXPECT_EQ(config->PolicyFor("md.fx.EURUSD").policy,
            SlowConsumerPolicy::kBackpressure);
  EXPECT_EQ(&config->PolicyFor("orders"), &config->default_stream);
  EXPECT_EQ(&config->PolicyFor("md"), &config->default_stream);
  // Omitted keys are inherited from [streams].
  EXPECT_EQ(config->PolicyFor("md.eq.MSFT").window_bytes, 256u << 10);
  EXPECT_EQ(config->PolicyFor("md.eq.MSFT").policy,
            config->default_stream.policy);
}

TEST(PolicyForTest, StarMatchesEveryStream) {
  GatewayConfig config;
  config.stream_policies.push_back({.match = "*", .window_bytes = 1u << 20});
  EXPECT_EQ(config.PolicyFor("anything").window_bytes, 1u << 20);
  EXPECT_TRUE(StreamPolicy{.match = "md.*"}.Matches("md."));
  EXPECT_FALSE(StreamPolicy{.match = "md.*"}.Matches("md"));
  EXPECT_FALSE(StreamPolicy{.match = "md"}.Matches("md.eq"));
}

// --- Overrides
// ----------------------------------------------------------------

TEST_F(ConfigFileTest, OverridesReplaceFileValues) {
  path_ = Write("gateway.toml", "[gateway]\nworkers = 2\nio = \"epoll\"\n");
  const KeyOverride overrides[] = {
      {"gateway.workers", "--workers", std::int64_t{4}},
      {"gateway.cpus", "--cpus", std::vector<std::int64_t>{0}},
      {"streams.capacity_bytes", "--stream_capacity_bytes", "32MiB"},
      {"socket.tcp_nodelay", "--tcp_nodelay", false},
  };
  // One CPU for four workers is invalid; drop the list.
  absl::StatusOr<GatewayConfig> config =
      LoadConfigWithOverrides(path_, std::span(overrides).first(1));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->workers, 4);
  EXPECT_EQ(config->io, IoBackend::kEpoll);

  config = LoadConfigWithOverrides(path_, overrides);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(Msg(config),
            "--cpus: lists 1 CPUs for 4 workers; list at least one per worker "
            "(or none)");

  config = LoadConfigWithOverrides(path_, std::span(overrides).subspan(2));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->default_stream.capacity_bytes, 32u << 20);
  EXPECT_FALSE(config->socket.tcp_nodelay);
}

TEST_F(ConfigFileTest, OverrideErrorsNameTheOrigin) {
  path_ = Write("gateway.toml", "[gateway]\nworkers = 2\n");
  const KeyOverride bad_range[] = {
      {"gateway.workers", "--workers", std::int64_t{0}}};
  EXPECT_EQ(Msg(LoadConfigWithOverrides(path_, bad_range)),
            "--workers: must be between 1 and 64, got 0");
  const KeyOverride bad_enum[] = {{"gateway.io", "--io", "kqueue"}};
  EXPECT_EQ(Msg(LoadConfigWithOverrides(path_, bad_enum)),
            "--io: must be one of auto, epoll, uring, got 'kqueue'");
  const KeyOverride bad_size[] = {
      {"streams.window_bytes", "--stream_window_bytes", "lots"}};
  EXPECT_THAT(Msg(LoadConfigWithOverrides(path_, bad_size)),
              StartsWith("--stream_window_bytes: expected a byte size"));
  const KeyOverride bad_type[] = {{"gateway.port", "--port", "80"}};
  EXPECT_EQ(Msg(LoadConfigWithOverrides(path_, bad_type)),
            "--port: expected an integer, got a string");
  const KeyOverride bad_key[] = {{"gateway", "--x", true}};
  EXPECT_THAT(Msg(LoadConfigWithOverrides(path_, bad_key)),
              StartsWith("--x: cannot override 'gateway'"));
}

TEST_F(ConfigFileTest, StreamOverridesReachEntriesThatInherit) {
  path_ = Write("gateway.toml", R"([[streams.policies]]
match = "a.*"
capacity_bytes = "64MiB"

[[streams.policies]]
match = "b.*"
capacity_bytes = "64MiB"
window_bytes = "2MiB"
)");
  const KeyOverride overrides[] = {
      {"streams.window_bytes", "--stream_window_bytes", "4MiB"},
      {"streams.policy", "--stream_policy", "disconnect"}};
  absl::StatusOr<GatewayConfig> config =
      LoadConfigWithOverrides(path_, overrides);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->PolicyFor("a.x").window_bytes, 4u << 20);  // inherited
  EXPECT_EQ(config->PolicyFor("b.x").window_bytes, 2u << 20);  // its own
  EXPECT_EQ(config->PolicyFor("a.x").policy, SlowConsumerPolicy::kDisconnect);
  EXPECT_EQ(config->PolicyFor("b.x").capacity_bytes, 64u << 20);

  // A value an entry inherits and cannot hold is blamed on the entry, with
  // the flag it came from.
  const KeyOverride too_big[] = {
      {"streams.capacity_bytes", "--stream_capacity_bytes", "128MiB"},
      {"streams.window_bytes", "--stream_window_bytes", "64MiB"}};
  config = LoadConfigWithOverrides(path_, too_big);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(Msg(config),
            absl::StrCat(path_,
                         ":1: streams.policies[0].window_bytes: must be at "
                         "most capacity_bytes / 2 (32MiB), got 64MiB "
                         "(inherited from --stream_window_bytes)"));
}

TEST(OverrideTest, WithoutAFileStartsFromDefaults) {
  const KeyOverride overrides[] = {{"gateway.port", "--port", std::int64_t{1}}};
  absl::StatusOr<GatewayConfig> config = LoadConfigWithOverrides("", overrides);
  ASSERT_TRUE(config.ok()) << config.status();
  GatewayConfig expected;
  expected.port = 1;
  EXPECT_EQ(*config, expected);
}

// --- Flags
// --------------------------------------------------------------------

TEST(FlagsTest, EveryKeyHasAFlagWhoseHelpNamesIt) {
  std::set<std::string_view> keys;
  for (const ConfigFlag& flag : ConfigFlags()) {
    const absl::CommandLineFlag* f =
        absl::FindCommandLineFlag(std::string(flag.flag));
    ASSERT_NE(f, nullptr) << flag.flag;
    EXPECT_THAT(f->Help(),
                StartsWith(absl::StrCat(std::string(flag.key), ":")));
    EXPECT_THAT(f->Help(), HasSubstr("(default "));
    EXPECT_TRUE(keys.insert(flag.key).second) << flag.key;
  }
  // 48 + [admin]'s 8 + [fastpath]'s 17 + [limits]' 6 abuse limits + [auth]'s
  // 9 + udp.require_authentication and udp.max_sequence_jump + [tls]'s 8.
  EXPECT_EQ(keys.size(), 98u);
  EXPECT_NE(absl::FindCommandLineFlag("config"), nullptr);
}

TEST(FlagsTest, HelpStatesTheBuiltInDefaults) {
  const GatewayConfig d;
  auto help = [](const char* flag) {
    return absl::FindCommandLineFlag(flag)->Help();
  };
  EXPECT_THAT(help("workers"), HasSubstr(absl::StrCat("(default ", d.workers)));
  EXPECT_THAT(help("port"), HasSubstr(absl::StrCat("(default ", d.port)));
  EXPECT_THAT(help("io"), HasSubstr(absl::StrCat(
                              "(default ", std::string(IoBackendName(d.io)))));
  EXPECT_THAT(help("idle"),
              HasSubstr(absl::StrCat("(default ",
                                     std::string(IdleStrategyName(d.idle)))));
  EXPECT_THAT(help("max_frame_length"),
              HasSubstr("(default " + FormatByteSize(d.max_frame_length)));
  EXPECT_THAT(
      help("stream_capacity_bytes"),
      HasSubstr("(default " + FormatByteSize(d.default_stream.capacity_bytes)));
  EXPECT_THAT(
      help("stream_window_bytes"),
      HasSubstr("(default " + FormatByteSize(d.default_stream.window_bytes)));
  EXPECT_THAT(help("heartbeat_interval_ms"),
              HasSubstr(absl::StrCat("(default ", d.heartbeat_interval_ms)));
}

class FlagsFileTest : public ConfigFileTest {
 protected:
  // Every config flag back to unset ("" parses as nullopt).
  void TearDown() override {
    std::vector<std::string> names = {"config", "backend"};
    for (const ConfigFlag& flag : ConfigFlags()) {
      names.emplace_back(flag.flag);
    }
    for (const std::string& name : names) {
      std::string error;
      EXPECT_TRUE(absl::FindCommandLineFlag(name)->ParseFrom("", &error))
          << name << ": " << error;
    }
    ConfigFileTest::TearDown();
  }
};

TEST_F(FlagsFileTest, UnsetFlagsLeaveTheFileAlone) {
  path_ = Write("gateway.toml", "[gateway]\nworkers = 2\n");
  absl::SetFlag(&FLAGS_config, path_);
  EXPECT_TRUE(SpecifiedConfigFlags().empty());
  absl::StatusOr<GatewayConfig> config = LoadFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->workers, 2);
}

TEST_F(FlagsFileTest, SetFlagsOverrideTheFile) {
  path_ = Write("gateway.toml", "[gateway]\nworkers = 2\ncpus = [0]\n");
  absl::SetFlag(&FLAGS_config, path_);
  absl::SetFlag(&FLAGS_workers, 1);
  absl::SetFlag(&FLAGS_cpus, "none");
  absl::SetFlag(&FLAGS_io, "epoll");
  absl::SetFlag(&FLAGS_stream_capacity_bytes, "64MiB");
  absl::SetFlag(&FLAGS_tcp_nodelay, false);
  absl::SetFlag(&FLAGS_token, "t");
  EXPECT_THAT(SpecifiedConfigFlags(),
              ::testing::ElementsAre("workers", "cpus", "io", "token",
                                     "tcp_nodelay", "stream_capacity_bytes"));
  absl::StatusOr<GatewayConfig> config = LoadFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->workers, 1);
  EXPECT_TRUE(config->cpus.empty());
  EXPECT_EQ(config->io, IoBackend::kEpoll);
  EXPECT_EQ(config->default_stream.capacity_bytes, 64u << 20);
  EXPECT_FALSE(config->socket.tcp_nodelay);
  EXPECT_EQ(config->token, "t");
}

TEST_F(FlagsFileTest, BadFlagValuesNameTheFlag) {
  path_ = Write("gateway.toml", "");
  absl::SetFlag(&FLAGS_config, path_);
  absl::SetFlag(&FLAGS_io, "kqueue");
  EXPECT_EQ(Msg(LoadFromFlags()),
            "--io: must be one of auto, epoll, uring, got 'kqueue'");
  absl::SetFlag(&FLAGS_io, std::nullopt);

  absl::SetFlag(&FLAGS_cpus, "0,x");
  EXPECT_EQ(Msg(LoadFromFlags()),
            "--cpus: expected a comma-separated list of CPU ids such as 0,1 "
            "(or none), got '0,x'");
  absl::SetFlag(&FLAGS_cpus, std::nullopt);

  absl::SetFlag(&FLAGS_priority, 9);
  absl::SetFlag(&FLAGS_stream_window_bytes, "1GiB");
  EXPECT_EQ(Msg(LoadFromFlags()),
            absl::StrCat("--priority: must be between 0 and 6, got 9\n"
                         "--stream_window_bytes: must be at most "
                         "capacity_bytes / 2 (8MiB), got 1GiB"));
}

TEST(FlagsTest, FastPathFlagsSetTheTable) {
  absl::SetFlag(&FLAGS_udp_enabled, true);
  absl::SetFlag(&FLAGS_workers, 2);
  absl::SetFlag(&FLAGS_fastpath_mode, "dpdk");
  absl::SetFlag(&FLAGS_fastpath_frames, 8192);  // rx + tx rings + bursts
  absl::SetFlag(&FLAGS_fastpath_queues, 2);
  absl::SetFlag(&FLAGS_fastpath_address, "10.0.0.1");
  absl::SetFlag(&FLAGS_fastpath_eal_args,
                " --no-huge -m 64  --vdev net_af_packet0,iface=eth1 ");
  absl::SetFlag(&FLAGS_fastpath_xdp_mode, "generic");
  absl::StatusOr<GatewayConfig> config = LoadFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->fastpath.mode, FastPathMode::kDpdk);
  EXPECT_EQ(config->fastpath.queues, 2);
  EXPECT_EQ(config->fastpath.address, "10.0.0.1");
  EXPECT_EQ(config->fastpath.xdp_mode, XdpMode::kGeneric);
  EXPECT_EQ(config->fastpath.eal_args,
            (std::vector<std::string>{"--no-huge", "-m", "64", "--vdev",
                                      "net_af_packet0,iface=eth1"}));
  absl::SetFlag(&FLAGS_fastpath_mode, "dpkd");
  EXPECT_EQ(Msg(LoadFromFlags()),
            "--fastpath_mode: must be one of socket, af_xdp, dpdk, got 'dpkd'; "
            "did you mean 'dpdk'?");
  absl::SetFlag(&FLAGS_fastpath_mode, "af_xdp");
  absl::SetFlag(&FLAGS_fastpath_interface, std::string());
  EXPECT_THAT(Msg(LoadFromFlags()),
              HasSubstr("--fastpath_interface: required with mode = "
                        "\"af_xdp\""));
  for (auto* flag :
       {&FLAGS_fastpath_mode, &FLAGS_fastpath_address, &FLAGS_fastpath_eal_args,
        &FLAGS_fastpath_xdp_mode, &FLAGS_fastpath_interface}) {
    absl::SetFlag(flag, std::nullopt);
  }
  absl::SetFlag(&FLAGS_fastpath_frames, std::nullopt);
  absl::SetFlag(&FLAGS_fastpath_queues, std::nullopt);
  absl::SetFlag(&FLAGS_workers, std::nullopt);
  absl::SetFlag(&FLAGS_udp_enabled, std::nullopt);
}

TEST(BackendFlagTest, ParsesNameIdAndEndpoints) {
  absl::StatusOr<std::vector<BackendService>> services =
      ParseBackendFlag("risk:1@127.0.0.1:9001,127.0.0.1:9002");
  ASSERT_TRUE(services.ok()) << services.status();
  BackendService risk;
  risk.name = "risk";
  risk.id = 1;
  risk.endpoints = {"127.0.0.1:9001", "127.0.0.1:9002"};
  EXPECT_EQ(*services, std::vector<BackendService>{risk});

  services = ParseBackendFlag(
      " risk:1@127.0.0.1:9001 , 127.0.0.1:9002 ; quotes:4294967295@"
      "quotes.internal:7600 ");
  ASSERT_TRUE(services.ok()) << services.status();
  ASSERT_EQ(services->size(), 2u);
  EXPECT_EQ((*services)[0], risk);
  EXPECT_EQ((*services)[1].name, "quotes");
  EXPECT_EQ((*services)[1].id, 4294967295u);
  EXPECT_EQ((*services)[1].endpoints,
            std::vector<std::string>{"quotes.internal:7600"});

  services = ParseBackendFlag("");
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_TRUE(services->empty());
}

TEST(BackendFlagTest, RefusesMalformedSpecsSayingWhatIsMissing) {
  const std::string form =
      "; expected name:id@host:port[,host:port...] (services separated by "
      "';'), got ";
  const std::pair<std::string, std::string> cases[] = {
      {"risk:1", "no '@' before the endpoints" + form + "'risk:1'"},
      {"risk@127.0.0.1:9001",
       "no ':id' after the name" + form + "'risk@127.0.0.1:9001'"},
      {"risk:one@127.0.0.1:9001",
       "the id must be a number between 1 and 4294967295" + form +
           "'risk:one@127.0.0.1:9001'"},
      {"risk:-1@h:1", "the id must be a number"},
      {"risk:4294967296@h:1", "the id must be a number"},
      {"risk:@h:1", "the id must be a number"},
      {"risk:1@", "empty endpoint" + form + "'risk:1@'"},
      {"risk:1@h:1,,h:2", "empty endpoint" + form + "'risk:1@h:1,,h:2'"},
      {"risk:1@h:1;", "empty service" + form + "''"},
      {"risk:1@h:1;;quotes:2@h:2", "empty service"},
  };
  for (const auto& [text, message] : cases) {
    absl::StatusOr<std::vector<BackendService>> services =
        ParseBackendFlag(text);
    EXPECT_EQ(services.status().code(), absl::StatusCode::kInvalidArgument)
        << text;
    EXPECT_THAT(Msg(services), StartsWith(message)) << text;
  }
}

TEST_F(FlagsFileTest, BackendFlagAddsServicesAfterTheFiles) {
  path_ = Write("gateway.toml", kValidBackend);
  absl::SetFlag(&FLAGS_config, path_);
  absl::SetFlag(&FLAGS_backend,
                "echo:2@127.0.0.1:7501;quotes:3@quotes.internal:7600");
  EXPECT_THAT(SpecifiedConfigFlags(), ::testing::ElementsAre("backend"));
  absl::StatusOr<GatewayConfig> config = LoadFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->backends.size(), 3u);
  EXPECT_EQ(config->backends[0].name, "risk");
  BackendService echo;
  echo.name = "echo";
  echo.id = 2;
  echo.endpoints = {"127.0.0.1:7501"};
  EXPECT_EQ(config->backends[1], echo);
  EXPECT_EQ(config->backends[2].name, "quotes");
  EXPECT_EQ(config->backends[2].endpoints,
            std::vector<std::string>{"quotes.internal:7600"});
}

TEST_F(FlagsFileTest, BackendFlagErrorsNameTheFlagAndTheEntry) {
  path_ = Write("gateway.toml", kValidBackend);
  absl::SetFlag(&FLAGS_config, path_);

  // The spec's shape, when the flags are read.
  absl::SetFlag(&FLAGS_backend, "echo:2");
  EXPECT_EQ(Msg(LoadFromFlags()),
            "--backend: no '@' before the endpoints; expected "
            "name:id@host:port[,host:port...] (services separated by ';'), "
            "got 'echo:2'");

  // The values, by validation, against the file's entries too.
  absl::SetFlag(&FLAGS_backend,
                "risk:1@127.0.0.1:7501;echo!:0@127.0.0.1:0,bad_host:1");
  EXPECT_EQ(Msg(LoadFromFlags()),
            "--backend: backends[1].name: 'risk' is already the name of "
            "backends[0]; service names must be unique\n"
            "--backend: backends[1].id: 1 is already the id of backends[0] "
            "('risk'); service ids must be unique\n"
            "--backend: backends[2].name: must be a service name (1..64 of "
            "A-Z a-z 0-9 . _ -), got 'echo!'\n"
            "--backend: backends[2].id: must be between 1 and 4294967295, got "
            "0\n"
            "--backend: backends[2].endpoints[0]: the port must be a number "
            "between 1 and 65535, got '127.0.0.1:0'\n"
            "--backend: backends[2].endpoints[1]: the host must be an IPv4 "
            "address or a hostname (dot-separated labels of letters, digits "
            "and '-'), got 'bad_host:1'");
}

TEST_F(FlagsFileTest, BackendFlagOnARealCommandLine) {
  path_ = Write("gateway.toml", "");
  const std::string config_arg = "--config=" + path_;
  std::vector<const char*> argv = {"tachyon-gateway", config_arg.c_str(),
                                   "--backend=echo:1@127.0.0.1:7501"};
  absl::ParseCommandLine(static_cast<int>(argv.size()),
                         const_cast<char**>(argv.data()));
  absl::StatusOr<GatewayConfig> config = LoadFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->backends.size(), 1u);
  EXPECT_EQ(config->backends[0].name, "echo");
  EXPECT_EQ(config->backends[0].id, 1u);
  EXPECT_EQ(config->backends[0].endpoints,
            std::vector<std::string>{"127.0.0.1:7501"});
}

TEST(BackendFlagTest, HelpGivesTheSyntaxAndAnExample) {
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag("backend");
  ASSERT_NE(flag, nullptr);
  EXPECT_THAT(flag->Help(),
              AllOf(StartsWith("backends: "),
                    HasSubstr("name:id@host:port[,host:port...]"),
                    HasSubstr("separated by ';'"),
                    HasSubstr("--backend=risk:1@127.0.0.1:9001,127.0.0.1:9002"),
                    HasSubstr("(default none)")));
}

TEST_F(FlagsFileTest, ExplicitMissingConfigIsNotFound) {
  absl::SetFlag(&FLAGS_config, (dir_ / "absent.toml").string());
  EXPECT_EQ(LoadFromFlags().status().code(), absl::StatusCode::kNotFound);
}

TEST_F(FlagsFileTest, WithoutConfigFallsBackToTheDefaults) {
  const std::filesystem::path cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir_);
  EXPECT_EQ(ConfigPathFromFlags(), "");
  absl::StatusOr<GatewayConfig> config = LoadFromFlags();
  std::filesystem::create_directory(dir_ / "config");
  Write("config/gateway.toml", "[gateway]\nworkers = 3\n");
  EXPECT_EQ(ConfigPathFromFlags(), "config/gateway.toml");
  absl::StatusOr<GatewayConfig> from_file = LoadFromFlags();
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(*config, GatewayConfig{});
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->workers, 3);
}

TEST_F(FlagsFileTest, ParsesARealCommandLine) {
  path_ = Write("gateway.toml", "[gateway]\nworkers = 2\n");
  const std::string config_arg = "--config=" + path_;
  std::vector<const char*> argv = {"tachyon-gateway",
                                   config_arg.c_str(),
                                   "--port=9100",
                                   "--idle=spin",
                                   "--stream_capacity_bytes=32MiB",
                                   "--socket_strict=true",
                                   "--max_publish_rate=5000"};
  absl::ParseCommandLine(static_cast<int>(argv.size()),
                         const_cast<char**>(argv.data()));
  absl::StatusOr<GatewayConfig> config = LoadFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->workers, 2);  // from the file
  EXPECT_EQ(config->port, 9100);
  EXPECT_EQ(config->idle, IdleStrategy::kSpin);
  EXPECT_EQ(config->default_stream.capacity_bytes, 32u << 20);
  EXPECT_TRUE(config->socket.strict);
  EXPECT_EQ(config->max_publish_rate, 5000u);
}

}  // namespace
}  // namespace tachyon::config

// --- [auth] and [[principals]] ---------------------------------------------

namespace tachyon::config {
namespace {

constexpr char kHash[] =
    "pbkdf2-sha256$10000$5eoX+6/UXn+5wHWrmncOsg==$"
    "9p52daExKDg8leIzCJjcyQ672o7RtxO3lXABXPNdQvg=";

TEST_F(ConfigFileTest, ReadsPrincipals) {
  absl::StatusOr<GatewayConfig> config = Load(absl::StrCat(
      "[auth]\nanonymous = false\nanonymous_publish = []\n"
      "[[principals]]\nname = \"alice\"\ntoken_hash = \"",
      kHash,
      "\"\nallowed_sources = [\"127.0.0.1/32\", \"::1\"]\n"
      "publish = [\"orders.*\"]\ndeny_subscribe = [\"md.secret*\"]\n"
      "max_connections = 4\npublish_rate = 1000\n"
      "max_buffered_bytes = \"256KiB\"\n"
      "[[principals]]\nname = \"svc\"\ncertificate_subject = \"CN=svc\"\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->auth.anonymous);
  EXPECT_TRUE(config->auth.anonymous_publish.empty());
  EXPECT_EQ(config->auth.anonymous_subscribe, std::vector<std::string>{"*"});
  ASSERT_EQ(config->principals.size(), 2u);
  const Principal& a = config->principals[0];
  EXPECT_EQ(a.name, "alice");
  EXPECT_EQ(a.token_hash, kHash);
  EXPECT_EQ(a.allowed_sources.size(), 2u);
  EXPECT_EQ(a.publish, std::vector<std::string>{"orders.*"});
  EXPECT_TRUE(a.subscribe.empty());
  EXPECT_EQ(a.max_connections, 4);
  EXPECT_EQ(a.publish_rate, 1000u);
  EXPECT_EQ(a.max_buffered_bytes, 256u * 1024);
  EXPECT_EQ(config->principals[1].certificate_subject, "CN=svc");
}

TEST_F(ConfigFileTest, PrincipalErrorsNameFileLineAndKey) {
  const std::string head = "[[principals]]\nname = \"alice\"\n";
  const std::string hashed =
      absl::StrCat(head, "token_hash = \"", kHash, "\"\n");
  std::string m = Msg(Load(head + "token_hash = \"plain-secret\"\n"));
  EXPECT_THAT(m, StartsWith(At(3, "principals[0].token_hash")));
  m = Msg(Load(hashed + "subscribe = [\"md.>\"]\n"));
  EXPECT_THAT(m, AllOf(StartsWith(At(4, "principals[0].subscribe[0]")),
                       HasSubstr("not NATS tokens")));
  m = Msg(Load(hashed + "allowed_sources = [\"10.0.0.0/40\"]\n"));
  EXPECT_THAT(m, StartsWith(At(4, "principals[0].allowed_sources[0]")));
  EXPECT_THAT(Msg(Load(head)), HasSubstr("can never log on"));
  EXPECT_THAT(Msg(Load(hashed + hashed)),
              HasSubstr("principal names must be unique"));
  m = Msg(Load(hashed + "max_connections = -1\n"));
  EXPECT_THAT(m, StartsWith(At(4, "principals[0].max_connections")));
  EXPECT_THAT(Msg(Load("[[principals]]\ntoken_hash = \"x\"\n")),
              HasSubstr("required"));
  m = Msg(Load("[auth]\nanonymous_request = [\"bad name\"]\n"));
  EXPECT_THAT(m, StartsWith(At(2, "auth.anonymous_request[0]")));
}

}  // namespace
}  // namespace tachyon::config
