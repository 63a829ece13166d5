// ChangedKeys: every kind of key compared and spelled as the file spells
// it, the token never printed, arrays compared whole.
#include "config/diff.h"

#include <string>
#include <vector>

#include "config/keys.h"
#include "gtest/gtest.h"

namespace tachyon::config {
namespace {

std::string ValueOf(const std::vector<KeyChange>& changes,
                    const std::string& key) {
  for (const KeyChange& c : changes) {
    if (c.key == key) return c.value;
  }
  return "<unchanged>";
}

TEST(ChangedKeysTest, NothingDiffersFromItself) {
  EXPECT_TRUE(ChangedKeys(GatewayConfig{}, GatewayConfig{}).empty());
}

TEST(ChangedKeysTest, SpellsEachKindAsTheFileDoes) {
  GatewayConfig c;
  c.workers = 2;                                  // int
  c.io = IoBackend::kEpoll;                       // enum
  c.cpus = {0, 3};                                // CPU list
  c.bind = "0.0.0.0";                             // string
  c.max_log_memory_bytes = std::size_t{1} << 30;  // bytes
  c.socket.tcp_nodelay = false;                   // bool, nested table
  c.default_stream.policy = SlowConsumerPolicy::kDisconnect;
  c.udp.port = 9000;
  const std::vector<KeyChange> changes = ChangedKeys(GatewayConfig{}, c);
  EXPECT_EQ(ValueOf(changes, "gateway.workers"), "2");
  EXPECT_EQ(ValueOf(changes, "gateway.io"), "epoll");
  EXPECT_EQ(ValueOf(changes, "gateway.cpus"), "0,3");
  EXPECT_EQ(ValueOf(changes, "gateway.bind"), "'0.0.0.0'");
  EXPECT_EQ(ValueOf(changes, "limits.max_log_memory_bytes"), "1GiB");
  EXPECT_EQ(ValueOf(changes, "socket.tcp_nodelay"), "false");
  EXPECT_EQ(ValueOf(changes, "streams.policy"), "disconnect");
  EXPECT_EQ(ValueOf(changes, "udp.port"), "9000");
  EXPECT_EQ(changes.size(), 8u);
  // In the key list's order.
  EXPECT_EQ(changes.front().key, "gateway.bind");
  EXPECT_EQ(changes.back().key, "udp.port");
}

TEST(ChangedKeysTest, SpellsTheFastPathTable) {
  GatewayConfig c;
  c.fastpath.mode = FastPathMode::kAfXdp;
  c.fastpath.interface = "eth1";
  c.fastpath.eal_args = {"--no-huge", "-m", "64"};
  const std::vector<KeyChange> changes = ChangedKeys(GatewayConfig{}, c);
  EXPECT_EQ(ValueOf(changes, "fastpath.mode"), "af_xdp");
  EXPECT_EQ(ValueOf(changes, "fastpath.interface"), "'eth1'");
  EXPECT_EQ(ValueOf(changes, "fastpath.eal_args"), "['--no-huge', '-m', '64']");
  EXPECT_EQ(changes.size(), 3u);
}

TEST(ChangedKeysTest, NeverPrintsTheToken) {
  GatewayConfig c;
  c.token = "s3cret";
  const std::vector<KeyChange> set = ChangedKeys(GatewayConfig{}, c);
  EXPECT_EQ(ValueOf(set, "session.token"), "(set)");
  const std::vector<KeyChange> cleared = ChangedKeys(c, GatewayConfig{});
  EXPECT_EQ(ValueOf(cleared, "session.token"), "(none)");
}

// Every secret key, not only session.token: the admin bearer token and the
// TLS private key are said to be set, never printed.
TEST(ChangedKeysTest, NeverPrintsAnySecretKey) {
  GatewayConfig c;
  c.admin.token = "adm1n-s3cret";
  c.tls.private_key = "/etc/tachyon/k3y.pem";
  const std::vector<KeyChange> set = ChangedKeys(GatewayConfig{}, c);
  EXPECT_EQ(ValueOf(set, "admin.token"), "(set)");
  EXPECT_EQ(ValueOf(set, "tls.private_key"), "(set)");
  for (const KeyChange& change : set) {
    EXPECT_EQ(change.value.find("s3cret"), std::string::npos) << change.key;
    EXPECT_EQ(change.value.find("k3y"), std::string::npos) << change.key;
  }
  const std::vector<KeyChange> cleared = ChangedKeys(c, GatewayConfig{});
  EXPECT_EQ(ValueOf(cleared, "admin.token"), "(none)");
  EXPECT_EQ(ValueOf(cleared, "tls.private_key"), "(none)");
}

TEST(ChangedKeysTest, ComparesArraysOfTablesWhole) {
  GatewayConfig c;
  BackendService b;
  b.name = "risk";
  b.id = 1;
  b.endpoints = {"127.0.0.1:9001"};
  c.backends.push_back(b);
  StreamPolicy p;
  p.match = "md.*";
  c.stream_policies.push_back(p);
  const std::vector<KeyChange> changes = ChangedKeys(GatewayConfig{}, c);
  EXPECT_EQ(ValueOf(changes, "backends"), "1 entries");
  EXPECT_EQ(ValueOf(changes, "streams.policies"), "1 entries");
  EXPECT_EQ(ValueOf(changes, "udp.groups"), "<unchanged>");
}

// Every key of the list is compared: changing any one is seen.
TEST(ChangedKeysTest, EveryKeyOfTheListIsCompared) {
  GatewayConfig c;
  c.summary_interval_ms = 0;
  c.udp.allow_remote_destinations = true;
  c.socket.strict = true;
  const std::vector<KeyChange> changes = ChangedKeys(GatewayConfig{}, c);
  EXPECT_EQ(ValueOf(changes, "gateway.summary_interval_ms"), "0");
  EXPECT_EQ(ValueOf(changes, "udp.allow_remote_destinations"), "true");
  EXPECT_EQ(ValueOf(changes, "socket.strict"), "true");
}

}  // namespace
}  // namespace tachyon::config
