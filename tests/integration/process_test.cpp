// The tachyon-gateway binary as a user runs it: the command line, config
// errors, and graceful shutdown on SIGTERM delivering everything queued.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "gateway_process.h"
#include "gtest/gtest.h"
#include "io/reactor.h"
#include "test_client.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
using ::tachyon::protocol::MessageType;
using namespace std::chrono_literals;

std::string DefaultConfig() {
  return std::string(TACHYON_SOURCE_DIR) + "/config/gateway.toml";
}

TEST(GatewayProcessTest, HelpListsConfigFlags) {
  std::string out;
  // --helpfull prints and exits without listening.
  auto p = GatewayProcess::Start(GatewayBinary(), {"--helpfull"}, &out);
  ASSERT_EQ(p, nullptr);
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
  std::string out;
  auto p = GatewayProcess::Start(GatewayBinary(), {"--config=" + path}, &out);
  EXPECT_EQ(p, nullptr);
  EXPECT_NE(out.find(path + ":3: gateway.workers"), std::string::npos) << out;
}

class ShutdownTest : public ::testing::TestWithParam<const char*> {};

// SIGTERM: the gateway stops accepting, sends every message already in the
// log to a subscriber that is behind (its socket was full), then LOGOUT with
// SHUTTING_DOWN, closes, and exits 0.
TEST_P(ShutdownTest, SigtermDeliversQueuedDataBeforeClosing) {
  const std::string io = GetParam();
  if (io == "uring" && !io::CreateUringReactor({}).ok()) {
    GTEST_SKIP() << "io_uring is not available on this kernel";
  }
  std::string out;
  auto gw = GatewayProcess::Start(
      GatewayBinary(),
      {"--config=" + DefaultConfig(), "--port=0", "--udp_port=0", "--io=" + io,
       "--workers=2", "--shutdown_drain_ms=5000"},
      &out);
  ASSERT_NE(gw, nullptr) << out;
  auto sub = TestClient::Connect(gw->port(), /*rcvbuf=*/4096);
  ASSERT_NE(sub, nullptr);
  ASSERT_TRUE(sub->Logon());
  ASSERT_TRUE(sub->Subscribe(1, "drain"));
  auto pub = TestClient::Connect(gw->port());
  ASSERT_TRUE(pub->Logon());
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

  ASSERT_TRUE(gw->Signal(SIGTERM));
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

  const std::optional<int> status = gw->Wait(10000ms);
  ASSERT_TRUE(status.has_value()) << "gateway did not exit";
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0) << gw->Output();
  EXPECT_NE(gw->Output().find("received SIGTERM"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, ShutdownTest,
                         ::testing::Values("epoll", "uring"));

}  // namespace
}  // namespace tachyon::testing
