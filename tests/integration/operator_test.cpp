// What the tachyon-gateway binary tells its operator: the start banner
// (non-default settings, listeners), --help, --version, a mistyped flag,
// SIGHUP reloads (applied keys, keys needing a restart, a broken file),
// SIGUSR1, the periodic summary, and the log lines for rejected logons,
// refused connections and slow-consumer cuts.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "support/process.h"
#include "support/test_client.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
using ::tachyon::protocol::MessageType;
using namespace std::chrono_literals;

void WriteFile(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr) << path;
  std::fputs(text.c_str(), f);
  std::fclose(f);
}

std::uint16_t LocalPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return 0;
  }
  return ntohs(addr.sin_port);
}

// A regex that matches `text` literally.
std::string Literal(const std::string& text) {
  static const std::regex kSpecial(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(text, kSpecial, R"(\$&)");
}

TEST(OperatorTest, BannerListsNonDefaultSettingsAndEveryListener) {
  Process gw;
  const std::uint16_t port = StartGatewayWithArgs(
      &gw, TACHYON_GATEWAY_BIN,
      {"--port=0", "--udp_enabled=true", "--udp_port=0", "--io=epoll",
       "--workers=2", "--token=hunter2", "--stream_capacity_bytes=32MiB",
       "--admin_port=0", "--admin_token=SOMESECRET"});
  ASSERT_NE(port, 0) << gw.out() << gw.err();
  ASSERT_TRUE(
      gw.WaitForOutput(std::regex("udp datagrams on [0-9.]+:[0-9]+"), 10s))
      << gw.out();
  const std::string& out = gw.out();
  EXPECT_NE(out.find("settings that differ from the defaults:"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("  gateway.port = 0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("  gateway.workers = 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("  gateway.io = epoll\n"), std::string::npos) << out;
  EXPECT_NE(out.find("  streams.capacity_bytes = 32MiB\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("  udp.enabled = true\n"), std::string::npos) << out;
  // The token is a secret: said to be set, never printed.
  EXPECT_NE(out.find("  session.token = (set)\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("hunter2"), std::string::npos) << out;
  EXPECT_NE(out.find("  admin.token = (set)\n"), std::string::npos) << out;
  // A key at its default is not listed.
  EXPECT_EQ(out.find("gateway.idle ="), std::string::npos) << out;
  EXPECT_NE(out.find("listening on 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << out;
  EXPECT_EQ(StopGatewayProcess(&gw), 0) << gw.err();
  // No secret anywhere in what the gateway printed, to the end.
  EXPECT_EQ((gw.out() + gw.err()).find("SOMESECRET"), std::string::npos)
      << gw.out() << gw.err();
  EXPECT_EQ((gw.out() + gw.err()).find("hunter2"), std::string::npos)
      << gw.out() << gw.err();
}

TEST(OperatorTest, HelpListsTheImportantFlagsAndExitsZero) {
  Process p = Process::Start({TACHYON_GATEWAY_BIN, "--help"});
  EXPECT_EQ(p.Wait(10s), 0);
  const std::string out = p.out() + p.err();
  for (const char* flag : {"--config", "--port", "--workers", "--log_level",
                           "--summary_interval_ms", "--admin_enabled",
                           "--admin_port", "--helpfull", "--version"}) {
    EXPECT_NE(out.find(flag), std::string::npos) << flag << "\n" << out;
  }
  EXPECT_NE(out.find("gateway.port: TCP port"), std::string::npos) << out;
  EXPECT_EQ(out.find("No flags matched"), std::string::npos) << out;
  EXPECT_EQ(out.find(TACHYON_SOURCE_DIR), std::string::npos) << out;
}

TEST(OperatorTest, HelpfullNamesNoBuildPaths) {
  Process p = Process::Start({TACHYON_GATEWAY_BIN, "--helpfull"});
  p.Wait(10s);
  const std::string out = p.out() + p.err();
  EXPECT_NE(out.find("--workers"), std::string::npos) << out;
  EXPECT_NE(out.find("src/config/flags.cpp"), std::string::npos) << out;
  EXPECT_EQ(out.find(TACHYON_SOURCE_DIR), std::string::npos) << out;
  EXPECT_EQ(out.find("/build/"), std::string::npos) << out;
}

TEST(OperatorTest, VersionNamesTheBuildType) {
  Process p = Process::Start({TACHYON_GATEWAY_BIN, "--version"});
  EXPECT_EQ(p.Wait(10s), 0);
  const std::string out = p.out() + p.err();
  const std::string type = TACHYON_EXPECTED_BUILD_TYPE;
  EXPECT_NE(out.find(std::string("tachyon-gateway ") +
                     TACHYON_EXPECTED_VERSION + " (" +
                     (type.empty() ? "no CMAKE_BUILD_TYPE" : type) + " build)"),
            std::string::npos)
      << out;
  if (type != "Debug") {
    EXPECT_EQ(out.find("Debug build"), std::string::npos) << out;
  }
}

TEST(OperatorTest, AMistypedFlagGetsTheSuggestionAMistypedKeyGets) {
  Process p = Process::Start({TACHYON_GATEWAY_BIN, "--prot=1"});
  EXPECT_EQ(p.Wait(10s), 2);
  const std::string out = p.out() + p.err();
  EXPECT_NE(out.find("--prot: unknown flag; did you mean '--port'?"),
            std::string::npos)
      << out;
  Process q = Process::Start({TACHYON_GATEWAY_BIN, "--wrokers", "2"});
  EXPECT_EQ(q.Wait(10s), 2);
  EXPECT_NE((q.out() + q.err()).find("did you mean '--workers'?"),
            std::string::npos)
      << q.err();
}

// SIGHUP: log_level and max_connections take effect (a connection over the
// new limit is refused, and logged because the level is now info), the
// changed port is reported as needing a restart, and a connected client
// keeps its session.
TEST(OperatorTest, SighupAppliesReloadableKeysAndKeepsSessions) {
  const std::string path = ::testing::TempDir() + "/reload_gateway.toml";
  const std::string head = "[gateway]\nio = \"epoll\"\n";
  WriteFile(path, head +
                      "port = 0\nlog_level = \"warn\"\n[limits]\n"
                      "max_connections = 100\n[udp]\nenabled = false\n");
  Process gw;
  const std::uint16_t port =
      StartGatewayWithArgs(&gw, TACHYON_GATEWAY_BIN, {"--config=" + path});
  ASSERT_NE(port, 0) << gw.out() << gw.err();
  auto client = TestClient::Connect(port);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Logon());
  ASSERT_TRUE(client->Subscribe(1, "kept"));
  const StreamId id = client->Open("kept", 2);
  ASSERT_NE(id.value(), 0u);

  WriteFile(path, head +
                      "port = 1\nlog_level = \"info\"\n[limits]\n"
                      "max_connections = 1\n[udp]\nenabled = false\n");
  ASSERT_TRUE(gw.Signal(SIGHUP));
  const auto reload = gw.WaitForError(std::regex("reload: [^\n]*\n"), 10s);
  ASSERT_TRUE(reload.has_value()) << gw.err();
  const std::string line = (*reload)[0].str();
  EXPECT_NE(line.find("applied: gateway.log_level, limits.max_connections"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find("restart required (running values kept): gateway.port"),
            std::string::npos)
      << line;

  // One connection is the new limit, and `client` holds it.
  auto refused = TestClient::Connect(port);
  ASSERT_NE(refused, nullptr);
  const std::uint16_t refused_port = LocalPort(refused->fd());
  auto error = refused->Read();
  ASSERT_TRUE(error.has_value());
  ASSERT_EQ(error->type(), MessageType::kError);
  EXPECT_EQ(tp::ErrorView(error->view()).code(), tp::ErrorCode::kLimitExceeded);
  EXPECT_TRUE(
      gw.WaitForError(std::regex("connection refused peer=127\\.0\\.0\\.1:" +
                                 std::to_string(refused_port) +
                                 " [^\n]*connection limit reached"),
                      10s))
      << gw.err();

  // The session that was there all along still publishes and receives.
  ASSERT_TRUE(client->Publish(id, "after reload"));
  bool received = false;
  for (int i = 0; i < 10 && !received; ++i) {
    auto f = client->ReadSkippingHeartbeats();
    ASSERT_TRUE(f.has_value());
    received =
        f->type() == MessageType::kData && PayloadText(*f) == "after reload";
  }
  EXPECT_TRUE(received);
  EXPECT_EQ(StopGatewayProcess(&gw), 0) << gw.err();
}

TEST(OperatorTest, SighupWithABrokenFileKeepsRunningAndNamesTheKey) {
  const std::string path = ::testing::TempDir() + "/broken_reload.toml";
  WriteFile(path,
            "[gateway]\nport = 0\nio = \"epoll\"\n[udp]\nenabled = false\n");
  Process gw;
  const std::uint16_t port =
      StartGatewayWithArgs(&gw, TACHYON_GATEWAY_BIN, {"--config=" + path});
  ASSERT_NE(port, 0) << gw.out() << gw.err();
  WriteFile(path,
            "[gateway]\nport = 0\nio = \"epoll\"\nworkers = 99\n[udp]\n"
            "enabled = false\n");
  ASSERT_TRUE(gw.Signal(SIGHUP));
  EXPECT_TRUE(gw.WaitForError(
      std::regex("reload failed[^\n]*" + Literal(path) + ":4: gateway.workers"),
      10s))
      << gw.err();
  auto client = TestClient::Connect(port);
  ASSERT_NE(client, nullptr);
  auto ack = client->Logon();
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->type(), MessageType::kLogonAck);
  EXPECT_EQ(StopGatewayProcess(&gw), 0) << gw.err();
}

TEST(OperatorTest, SigusrOneLogsTheSummaryAndIsNotFatal) {
  Process gw;
  const std::uint16_t port = StartGatewayWithArgs(
      &gw, TACHYON_GATEWAY_BIN,
      {"--port=0", "--udp_enabled=false", "--io=epoll", "--log_level=info"});
  ASSERT_NE(port, 0) << gw.out() << gw.err();
  auto client = TestClient::Connect(port);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Logon());
  ASSERT_TRUE(gw.Signal(SIGUSR1));
  EXPECT_TRUE(gw.WaitForError(
      std::regex("summary \\(SIGUSR1[^\n]*sessions=1 streams=0 msgs_in="), 10s))
      << gw.err();
  // Still serving.
  auto second = TestClient::Connect(port);
  ASSERT_NE(second, nullptr);
  auto ack = second->Logon();
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->type(), MessageType::kLogonAck);
  EXPECT_EQ(StopGatewayProcess(&gw), 0) << gw.err();
}

TEST(OperatorTest, LogsThePeriodicSummary) {
  Process gw;
  const std::uint16_t port =
      StartGatewayWithArgs(&gw, TACHYON_GATEWAY_BIN,
                           {"--port=0", "--udp_enabled=false", "--io=epoll",
                            "--log_level=info", "--summary_interval_ms=100"});
  ASSERT_NE(port, 0) << gw.out() << gw.err();
  EXPECT_TRUE(gw.WaitForError(
      std::regex("summary \\(periodic[^\n]*backend_requests=0"), 10s))
      << gw.err();
  EXPECT_EQ(StopGatewayProcess(&gw), 0) << gw.err();
}

TEST(OperatorTest, ARejectedLogonIsLoggedWithPeerAndReason) {
  Process gw;
  const std::uint16_t port =
      StartGatewayWithArgs(&gw, TACHYON_GATEWAY_BIN,
                           {"--port=0", "--udp_enabled=false", "--io=epoll",
                            "--log_level=info", "--token=right"});
  ASSERT_NE(port, 0) << gw.out() << gw.err();
  auto client = TestClient::Connect(port);
  ASSERT_NE(client, nullptr);
  const std::uint16_t peer_port = LocalPort(client->fd());
  auto reply = client->Logon("wrong");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->type(), MessageType::kLogonReject);
  const std::string peer = "127\\.0\\.0\\.1:" + std::to_string(peer_port);
  EXPECT_TRUE(gw.WaitForError(
      std::regex("logon rejected peer=" + peer +
                 " client='test-client' reason=NOT_AUTHORIZED: logon token "
                 "rejected"),
      10s))
      << gw.err();
  EXPECT_TRUE(gw.WaitForError(
      std::regex("connection closed peer=" + peer +
                 "[^\n]*reason=logon rejected: NOT_AUTHORIZED bytes_in=[1-9]"),
      10s))
      << gw.err();
  EXPECT_EQ(StopGatewayProcess(&gw), 0) << gw.err();
}

TEST(OperatorTest, ASlowConsumerCutIsLoggedWithStreamLagAndPolicy) {
  Process gw;
  const std::uint16_t port = StartGatewayWithArgs(
      &gw, TACHYON_GATEWAY_BIN,
      {"--port=0", "--udp_enabled=false", "--io=epoll", "--log_level=info",
       "--stream_policy=disconnect", "--stream_capacity_bytes=1MiB",
       "--stream_window_bytes=128KiB", "--stream_lag_grace_ms=0"});
  ASSERT_NE(port, 0) << gw.out() << gw.err();
  auto sub = TestClient::Connect(port, /*rcvbuf=*/4096);
  ASSERT_NE(sub, nullptr);
  ASSERT_TRUE(sub->Logon());
  ASSERT_TRUE(sub->Subscribe(1, "slow.md"));
  const std::uint16_t sub_port = LocalPort(sub->fd());
  auto pub = TestClient::Connect(port);
  ASSERT_NE(pub, nullptr);
  ASSERT_TRUE(pub->Logon());
  const StreamId id = pub->Open("slow.md");
  ASSERT_NE(id.value(), 0u);
  const std::string payload(1000, 'x');
  // The subscriber reads nothing: far more than its window piles up.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(pub->PublishBurst(id, 100, payload));
  }
  EXPECT_TRUE(gw.WaitForError(
      std::regex("W [0-9:.]+ tachyon: slow consumer cut peer=127\\.0\\.0\\.1:" +
                 std::to_string(sub_port) +
                 " client='test-client' session=[0-9]+ stream='slow\\.md' "
                 "lag_bytes=[0-9]+ window=131072 policy=disconnect"),
      20s))
      << gw.err();
  EXPECT_EQ(StopGatewayProcess(&gw), 0) << gw.err();
}

// A connection's life at info level: opened (peer address), logged on
// (peer and client name); a stream's: created, and retired once idle.
TEST(OperatorTest, ConnectionsAndStreamLifecycleAreLogged) {
  Process gw;
  const std::uint16_t port = StartGatewayWithArgs(
      &gw, TACHYON_GATEWAY_BIN,
      {"--port=0", "--udp_enabled=false", "--io=epoll", "--log_level=info",
       "--admin_enabled=false", "--stream_idle_retire_ms=50"});
  ASSERT_NE(port, 0) << gw.out() << gw.err();
  auto client = TestClient::Connect(port);
  ASSERT_NE(client, nullptr);
  const std::string peer =
      "127\\.0\\.0\\.1:" + std::to_string(LocalPort(client->fd()));
  EXPECT_TRUE(gw.WaitForError(
      std::regex("I [0-9:.]+ tachyon: connection opened peer=" + peer + " "),
      10s))
      << gw.err();
  ASSERT_TRUE(client->Logon());
  EXPECT_TRUE(
      gw.WaitForError(std::regex("logged on peer=" + peer +
                                 " client='test-client' session=[0-9]+"),
                      10s))
      << gw.err();
  const StreamId id = client->Open("ops.lifecycle");
  ASSERT_NE(id.value(), 0u);
  const auto created = gw.WaitForError(
      std::regex("stream 'ops\\.lifecycle' \\(id ([0-9]+)\\) created"), 10s);
  ASSERT_TRUE(created.has_value()) << gw.err();
  ASSERT_EQ((*created)[1].str(), std::to_string(id.value()));
  // The session holds the stream as its publisher; once it is gone the
  // stream is idle and the once-a-second sweep retires it.
  client.reset();
  EXPECT_TRUE(gw.WaitForError(std::regex("stream 'ops\\.lifecycle' \\(id " +
                                         std::to_string(id.value()) +
                                         "\\) retired after idle_retire_ms"),
                              20s))
      << gw.err();
  EXPECT_EQ(StopGatewayProcess(&gw), 0) << gw.err();
}

// A backend endpoint coming up (its first connection logged on) and going
// down (the backend process killed) is logged with service and endpoint.
TEST(OperatorTest, BackendEndpointUpAndDownAreLogged) {
  Process reply = Process::Start({TACHYON_REPLY_BIN, "--port=0"});
  ASSERT_GT(reply.pid(), 0);
  const auto listening = reply.WaitForOutput(
      std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)"), 10s);
  ASSERT_TRUE(listening.has_value()) << reply.out() << reply.err();
  const std::string endpoint = "127.0.0.1:" + (*listening)[1].str();
  Process gw;
  const std::uint16_t port = StartGatewayWithArgs(
      &gw, TACHYON_GATEWAY_BIN,
      {"--port=0", "--udp_enabled=false", "--io=epoll", "--log_level=info",
       "--admin_enabled=false", "--backend=echo:1@" + endpoint});
  ASSERT_NE(port, 0) << gw.out() << gw.err();
  EXPECT_TRUE(gw.WaitForError(
      std::regex("backend 'echo' endpoint " + Literal(endpoint) +
                 " up: first connection logged on"),
      10s))
      << gw.err();
  ASSERT_TRUE(reply.Signal(SIGKILL));
  reply.Wait(10s);
  EXPECT_TRUE(gw.WaitForError(
      std::regex("backend 'echo' endpoint " + Literal(endpoint) + " down: "),
      10s))
      << gw.err();
  EXPECT_EQ(StopGatewayProcess(&gw), 0) << gw.err();
}

}  // namespace
}  // namespace tachyon::testing
