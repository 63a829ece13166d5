// Gateway::Reload in process: reloadable keys reach the workers through
// their mailboxes while sessions stay connected; other keys are reported
// as needing a restart and keep their running values (TSan: label
// concurrency).
#include "server/reload.h"

#include <string>

#include "config/keys.h"
#include "config/reload_report.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/gateway_fixture.h"
#include "support/wait.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
using ::tachyon::protocol::MessageType;

class ReloadTest : public GatewayTest {};

TEST_P(ReloadTest, AppliesTheTokenToNewLogonsAndKeepsOldSessions) {
  config::GatewayConfig c = TestConfig(GetParam());
  Start(c);
  auto before = LoggedOnClient();
  ASSERT_NE(before, nullptr);
  ASSERT_TRUE(before->Subscribe(1, "reload.kept"));

  config::GatewayConfig next = c;
  next.token = "now-required";
  next.max_subscriptions_per_session = 1;
  next.workers = c.workers + 1;  // needs a restart
  const config::ReloadReport report = gateway_->Reload(next);
  EXPECT_EQ(report.applied,
            (std::vector<std::string>{"limits.max_subscriptions_per_session",
                                      "session.token"}));
  EXPECT_EQ(report.restart_required,
            (std::vector<std::string>{"gateway.workers"}));
  EXPECT_EQ(gateway_->RunningConfig().token, "now-required");
  EXPECT_EQ(gateway_->RunningConfig().workers, c.workers);

  // Every worker gets the new token: several logons without it are all
  // rejected, wherever SO_REUSEPORT puts them (the mailbox is drained
  // within a duty cycle, so wait for the first rejection).
  ASSERT_TRUE(WaitUntil([&] {
    auto probe = TestClient::Connect(gateway_->port());
    auto reply = probe->Logon();
    return reply && reply->type() == MessageType::kLogonReject;
  }));
  for (int i = 0; i < 8; ++i) {
    auto without = TestClient::Connect(gateway_->port());
    ASSERT_NE(without, nullptr);
    auto reply = without->Logon();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->type(), MessageType::kLogonReject) << i;
  }
  auto with = TestClient::Connect(gateway_->port());
  ASSERT_NE(with, nullptr);
  auto ack = with->Logon("now-required");
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->type(), MessageType::kLogonAck);

  // The session from before the reload is still there, now under the new
  // subscription limit (it holds one already).
  ASSERT_TRUE(before->SendSubscribe(2, "reload.second"));
  auto refused = before->ReadSkippingHeartbeats();
  ASSERT_TRUE(refused.has_value());
  ASSERT_EQ(refused->type(), MessageType::kError);
  EXPECT_EQ(tp::ErrorView(refused->view()).code(),
            tp::ErrorCode::kLimitExceeded);
  EXPECT_FALSE(tp::ErrorView(refused->view()).fatal());
}

TEST_P(ReloadTest, AChangedFastPathNeedsARestart) {
  const config::GatewayConfig c = TestConfig(GetParam());
  Start(c);
  config::GatewayConfig next = c;
  next.udp.enabled = true;
  next.fastpath.mode = config::FastPathMode::kAfXdp;
  next.fastpath.interface = "eth1";
  next.fastpath.queues = 1;
  const config::ReloadReport report = gateway_->Reload(next);
  EXPECT_TRUE(report.applied.empty());
  EXPECT_EQ(report.restart_required,
            (std::vector<std::string>{"udp.enabled", "fastpath.mode",
                                      "fastpath.interface"}));
  EXPECT_THAT(server::DescribeReload(report),
              ::testing::HasSubstr("restart required (running values kept): "
                                   "udp.enabled, fastpath.mode, "
                                   "fastpath.interface"));
  EXPECT_EQ(gateway_->RunningConfig().fastpath.mode,
            config::FastPathMode::kSocket);
}

TEST_P(ReloadTest, NothingChangedReportsNothing) {
  const config::GatewayConfig c = TestConfig(GetParam());
  Start(c);
  const config::ReloadReport report = gateway_->Reload(c);
  EXPECT_TRUE(report.applied.empty());
  EXPECT_TRUE(report.restart_required.empty());
  EXPECT_EQ(server::DescribeReload(report), "nothing changed");
}

TEST(ReloadableKeysTest, EveryRowIsAKeyOfTheList) {
  for (const server::ReloadableKey& k : server::kReloadableKeys) {
    bool found = false;
    for (const config::KeyInfo& info : config::kKeys) {
      found = found || info.key == k.key;
    }
    // A whole array of tables ([[principals]], [[udp_producers]]) reloads
    // as one.
    for (const config::ArrayInfo& array : config::kArrays) {
      found = found || array.key == k.key;
    }
    EXPECT_TRUE(found) << k.key;
  }
  EXPECT_NE(server::FindReloadable("session.token"), nullptr);
  EXPECT_EQ(server::FindReloadable("gateway.port"), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Backends, ReloadTest,
                         ::testing::ValuesIn(EachBackend(2)), ParamName);

}  // namespace
}  // namespace tachyon::testing
