// Gateway::Sessions(): the rows each worker publishes about its sessions
// (peer, client name, subscriptions, bytes, connect time), read by another
// thread while clients connect and disconnect (run under TSan: label
// concurrency).
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "session/session_info.h"
#include "support/gateway_fixture.h"
#include "support/wait.h"

namespace tachyon::testing {
namespace {

std::string PeerOf(const TestClient& c) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(c.fd(), reinterpret_cast<sockaddr*>(&addr), &len);
  return "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

const session::SessionInfo* FindPeer(
    const std::vector<session::SessionInfo>& rows, const std::string& peer) {
  for (const session::SessionInfo& r : rows) {
    if (r.peer == peer) return &r;
  }
  return nullptr;
}

class SessionsTest : public GatewayTest {};

TEST_P(SessionsTest, RowsNameThePeerClientSubscriptionsAndBytes) {
  Start();
  auto client = LoggedOnClient();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Subscribe(1, "rows.a"));
  ASSERT_TRUE(client->SendSubscribe(2, "rows.*"));
  const std::string peer = PeerOf(*client);
  std::vector<session::SessionInfo> rows;
  ASSERT_TRUE(WaitUntil([&] {
    rows = gateway_->Sessions();
    const session::SessionInfo* r = FindPeer(rows, peer);
    return r != nullptr && r->subscriptions.size() == 2;
  })) << "no row for "
      << peer;
  const session::SessionInfo& r = *FindPeer(rows, peer);
  EXPECT_NE(r.id, 0u);
  EXPECT_EQ(r.client_name, "test-client");
  EXPECT_EQ(r.subscriptions, (std::vector<std::string>{"rows.a", "rows.*"}));
  EXPECT_GT(r.bytes_in, 0u);
  EXPECT_GT(r.bytes_out, 0u);
  EXPECT_GT(r.connected_unix_ms, 0);
  EXPECT_GE(r.worker, 0);
  EXPECT_LT(r.worker, GetParam().workers);

  // Gone from the rows once it disconnects (at the next publish).
  client.reset();
  EXPECT_TRUE(WaitUntil(
      [&] { return FindPeer(gateway_->Sessions(), peer) == nullptr; }));
}

// A reader hammers Sessions() while clients come and go: every row it sees
// is whole (TSan checks that the rows are handed over safely).
TEST_P(SessionsTest, AReaderRacingConnectsAndDisconnectsSeesWholeRows) {
  Start();
  std::atomic<bool> stop{false};
  std::atomic<long> reads{0};
  std::atomic<long> bad_rows{0};
  std::thread reader([&] {
    while (!stop.load(std::memory_order_acquire)) {
      for (const session::SessionInfo& r : gateway_->Sessions()) {
        if (r.peer.rfind("127.0.0.1:", 0) != 0 || r.connected_unix_ms <= 0) {
          bad_rows.fetch_add(1, std::memory_order_relaxed);
        }
      }
      reads.fetch_add(1, std::memory_order_relaxed);
    }
  });
  for (int round = 0; round < 6; ++round) {
    std::vector<std::unique_ptr<TestClient>> clients;
    for (int i = 0; i < 4; ++i) {
      clients.push_back(LoggedOnClient());
      ASSERT_NE(clients.back(), nullptr);
      ASSERT_TRUE(clients.back()->Subscribe(1, "race." + std::to_string(i)));
    }
    // Each round's clients show up in the published rows.
    const std::string peer = PeerOf(*clients.front());
    ASSERT_TRUE(WaitUntil([&] {
      const auto rows = gateway_->Sessions();
      const session::SessionInfo* r = FindPeer(rows, peer);
      return r != nullptr && r->client_name == "test-client";
    }));
  }
  stop.store(true, std::memory_order_release);
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(bad_rows.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, SessionsTest,
                         ::testing::ValuesIn(EachBackend(2)), ParamName);

}  // namespace
}  // namespace tachyon::testing
