// The tachyon-gateway binary as a user runs it: the command line, config
// errors, and graceful shutdown on SIGTERM delivering everything queued.
#include "support/process.h"

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "support/require.h"
#include "support/test_client.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
using ::tachyon::protocol::MessageType;
using namespace std::chrono_literals;

std::string DefaultConfig() {
  return std::string(TACHYON_SOURCE_DIR) + "/config/gateway.toml";
}

TEST(GatewayProcessTest, HelpListsConfigFlags) {
  // --helpfull prints and exits without listening.
  Process p = Process::Start({TACHYON_GATEWAY_BIN, "--helpfull"});
  p.Wait(10s);
  const std::string out = p.out() + p.err();
  EXPECT_NE(out.find("--workers"), std::string::npos) << out;
  EXPECT_NE(out.find("gateway.workers"), std::string::npos);
  EXPECT_NE(out.find("--io"), std::string::npos);
}

TEST(GatewayProcessTest, ConfigErrorNamesFileLineAndKeyAndExitsNonZero) {
  const std::string path = ::testing::TempDir() + "/bad_gateway.toml";
  {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("[gateway]\nport = 0\nworkers = 99\n", f);
    std::fclose(f);
  }
  Process p = Process::Start({TACHYON_GATEWAY_BIN, "--config=" + path});
  EXPECT_NE(p.Wait(10s), 0);
  const std::string out = p.out() + p.err();
  EXPECT_NE(out.find(path + ":3: gateway.workers"), std::string::npos) << out;
}

// `tachyon-gateway FILE` loads FILE (it was once ignored in favour of the
// built-in defaults): the bad file's error proves it was read.
TEST(GatewayProcessTest, AConfigFileGivenAsTheOnlyArgumentIsLoaded) {
  const std::string path = ::testing::TempDir() + "/bad_positional.toml";
  {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("[gateway]\nworkers = 99\n", f);
    std::fclose(f);
  }
  Process p = Process::Start({TACHYON_GATEWAY_BIN, path});
  EXPECT_EQ(p.Wait(10s), 2);
  const std::string out = p.out() + p.err();
  EXPECT_NE(out.find(path + ":2: gateway.workers"), std::string::npos) << out;
}

TEST(GatewayProcessTest, AStrayArgumentIsRefusedAndNamed) {
  Process p = Process::Start(
      {TACHYON_GATEWAY_BIN, "--config=" + DefaultConfig(), "extra.toml"});
  EXPECT_EQ(p.Wait(10s), 2);
  const std::string out = p.out() + p.err();
  EXPECT_NE(out.find("unexpected argument 'extra.toml'"), std::string::npos)
      << out;
}

TEST(GatewayProcessTest, SaysWhichConfigFileItLoaded) {
  Process gw;
  const std::uint16_t port = StartGatewayWithArgs(
      &gw, TACHYON_GATEWAY_BIN,
      {DefaultConfig(), "--port=0", "--udp_port=0", "--io=epoll"});
  ASSERT_NE(port, 0) << gw.out() << gw.err();
  EXPECT_NE(gw.out().find("config: " + DefaultConfig()), std::string::npos)
      << gw.out();
  EXPECT_EQ(StopGatewayProcess(&gw), 0) << gw.err();
}

class ShutdownTest : public ::testing::TestWithParam<const char*> {};

// The shipped config lets nobody on without a credential: an anonymous
// LOGON and a wrong secret are refused NOT_AUTHORIZED; the loopback-only
// demo principal of the README's quick tour logs on and may publish.
TEST(GatewayProcessTest, ShippedConfigAdmitsOnlyPrincipals) {
  Process gw;
  const std::uint16_t port = StartGatewayWithArgs(
      &gw, TACHYON_GATEWAY_BIN,
      {"--config=" + DefaultConfig(), "--port=0", "--udp_port=0", "--io=epoll",
       "--admin_enabled=false"});
  ASSERT_NE(port, 0) << gw.out() << gw.err();
  for (const std::string_view token :
       {std::string_view(""), std::string_view("demo:wrong-secret"),
        std::string_view("nobody:demo-secret")}) {
    auto c = TestClient::Connect(port);
    ASSERT_NE(c, nullptr);
    auto f = c->Logon(token);
    ASSERT_TRUE(f) << "token '" << token << "'";
    ASSERT_EQ(f->type(), MessageType::kLogonReject)
        << "token '" << token << "'";
    EXPECT_EQ(tp::LogonRejectView(f->view()).code(),
              tp::ErrorCode::kNotAuthorized);
  }
  auto demo = TestClient::Connect(port);
  ASSERT_NE(demo, nullptr);
  auto ack = demo->Logon(kDemoToken);
  ASSERT_TRUE(ack);
  ASSERT_EQ(ack->type(), MessageType::kLogonAck);
  EXPECT_NE(demo->Open("demo.greetings").value(), 0u);
  EXPECT_EQ(StopGatewayProcess(&gw), 0) << gw.err();
}

// SIGTERM: the gateway stops accepting, sends every message already in the
// log to a subscriber that is behind (its socket was full), then LOGOUT with
// SHUTTING_DOWN, closes, and exits 0.
TEST_P(ShutdownTest, SigtermDeliversQueuedDataBeforeClosing) {
  const std::string io = GetParam();
  if (io == "uring" && !RequireIoUring()) return;
  Process gw;
  const std::uint16_t port = StartGatewayWithArgs(
      &gw, TACHYON_GATEWAY_BIN,
      {"--config=" + DefaultConfig(), "--port=0", "--udp_port=0", "--io=" + io,
       "--workers=2", "--shutdown_drain_ms=5000"});
  ASSERT_NE(port, 0) << gw.out() << gw.err();
  auto sub = TestClient::Connect(port, /*rcvbuf=*/4096);
  ASSERT_NE(sub, nullptr);
  ASSERT_TRUE(sub->Logon(kDemoToken));
  ASSERT_TRUE(sub->Subscribe(1, "drain"));
  auto pub = TestClient::Connect(port);
  ASSERT_TRUE(pub->Logon(kDemoToken));
  const StreamId id = pub->Open("drain");
  ASSERT_NE(id.value(), 0u);
  constexpr int kMessages = 3000;  // ~700 KB: far more than the socket holds
  const std::string payload(200, 'q');
  for (int i = 1; i < kMessages; ++i) ASSERT_TRUE(pub->Publish(id, payload));
  ASSERT_TRUE(pub->Publish(id, "last", 7, /*ack=*/true));
  auto ack = pub->ReadSkippingHeartbeats();
  ASSERT_TRUE(ack);
  ASSERT_EQ(ack->type(), MessageType::kPublishAck);
  ASSERT_EQ(tp::PublishAckView(ack->view()).sequence().value(),
            static_cast<std::uint64_t>(kMessages));

  ASSERT_TRUE(gw.Signal(SIGTERM));
  for (int s = 1; s <= kMessages; ++s) {
    auto f = sub->ReadSkippingHeartbeats(5000ms);
    ASSERT_TRUE(f) << "message " << s << " never arrived";
    ASSERT_EQ(f->type(), MessageType::kData);
    ASSERT_EQ(tp::DataView(f->view()).sequence().value(),
              static_cast<std::uint64_t>(s));
  }
  auto bye = sub->ReadSkippingHeartbeats(5000ms);
  ASSERT_TRUE(bye);
  ASSERT_EQ(bye->type(), MessageType::kLogout);
  EXPECT_EQ(tp::LogoutView(bye->view()).reason(), tp::ErrorCode::kShuttingDown);
  EXPECT_TRUE(sub->WaitForEof());
  // The idle publisher is logged out too.
  auto pub_bye = pub->ReadSkippingHeartbeats(5000ms);
  ASSERT_TRUE(pub_bye);
  EXPECT_EQ(pub_bye->type(), MessageType::kLogout);

  EXPECT_EQ(gw.Wait(10000ms), 0) << gw.out() << gw.err();
  EXPECT_NE((gw.out() + gw.err()).find("received SIGTERM"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, ShutdownTest,
                         ::testing::Values("epoll", "uring"));

}  // namespace
}  // namespace tachyon::testing
