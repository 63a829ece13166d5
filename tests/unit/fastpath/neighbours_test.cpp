// Next-hop MAC lookup: static entries, learned entries, on-link versus
// gateway, and the kernel's neighbour table read over rtnetlink inside a
// namespace the test creates; ReadInterface on the same veth.
#include "fastpath/neighbours.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "support/netns.h"
#include "support/require.h"

namespace tachyon::fastpath {
namespace {

std::uint32_t Ip(const char* text) {
  in_addr a{};
  inet_pton(AF_INET, text, &a);
  return a.s_addr;
}

MacAddress Mac(const char* text) { return *MacAddress::Parse(text); }

TEST(ParseStaticNeighbourTest, ParsesIpEqualsMac) {
  auto n = ParseStaticNeighbour("10.0.0.2=02:00:00:00:00:02");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->address_be, Ip("10.0.0.2"));
  EXPECT_EQ(n->mac, Mac("02:00:00:00:00:02"));
}

TEST(ParseStaticNeighbourTest, NamesTheFault) {
  auto no_eq = ParseStaticNeighbour("10.0.0.2");
  EXPECT_EQ(no_eq.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(no_eq.status().message().find("ip=mac"), std::string::npos);
  auto bad_ip = ParseStaticNeighbour("10.0.0=02:00:00:00:00:02");
  EXPECT_NE(bad_ip.status().message().find("not an IPv4 address"),
            std::string::npos)
      << bad_ip.status();
  auto bad_mac = ParseStaticNeighbour("10.0.0.2=02:00:00:00:00");
  EXPECT_NE(bad_mac.status().message().find("MAC"), std::string::npos)
      << bad_mac.status();
}

TEST(NeighboursTest, NextHopIsTheDestinationOnLinkElseTheGateway) {
  Neighbours n(0, Ip("10.1.2.3"), 24, Ip("10.1.2.1"), {});
  EXPECT_EQ(n.NextHop(Ip("10.1.2.77")), Ip("10.1.2.77"));
  EXPECT_EQ(n.NextHop(Ip("10.1.3.77")), Ip("10.1.2.1"));
  EXPECT_EQ(n.NextHop(Ip("8.8.8.8")), Ip("10.1.2.1"));
  Neighbours no_gateway(0, Ip("10.1.2.3"), 24, 0, {});
  EXPECT_EQ(no_gateway.NextHop(Ip("8.8.8.8")), Ip("8.8.8.8"));
  Neighbours slash32(0, Ip("10.1.2.3"), 32, Ip("10.1.2.1"), {});
  EXPECT_EQ(slash32.NextHop(Ip("10.1.2.3")), Ip("10.1.2.3"));
  EXPECT_EQ(slash32.NextHop(Ip("10.1.2.4")), Ip("10.1.2.1"));
}

TEST(NeighboursTest, StaticEntriesAnswerAndWinOverLearned) {
  Neighbours n(0, Ip("10.1.2.3"), 24, Ip("10.1.2.1"),
               {{Ip("10.1.2.1"), Mac("02:00:00:00:00:01")},
                {Ip("10.1.2.9"), Mac("02:00:00:00:00:09")}});
  EXPECT_EQ(n.Lookup(Ip("10.1.2.9"), 0), Mac("02:00:00:00:00:09"));
  // Off-link: the gateway's MAC.
  EXPECT_EQ(n.Lookup(Ip("192.0.2.1"), 0), Mac("02:00:00:00:00:01"));
  EXPECT_EQ(n.Lookup(Ip("10.1.2.10"), 0), std::nullopt);
  n.Learn(Ip("10.1.2.10"), Mac("02:00:00:00:00:10"));
  EXPECT_EQ(n.Lookup(Ip("10.1.2.10"), 0), Mac("02:00:00:00:00:10"));
  n.Learn(Ip("10.1.2.9"), Mac("02:00:00:00:00:99"));
  EXPECT_EQ(n.Lookup(Ip("10.1.2.9"), 0), Mac("02:00:00:00:00:09"));
}

TEST(NeighboursTest, WithoutAKernelTableRefreshIsANoOp) {
  Neighbours n(0, 0, 0, 0, {});
  EXPECT_TRUE(n.Refresh().ok());
  EXPECT_EQ(n.Lookup(Ip("10.9.9.9"), 1'000'000'000), std::nullopt);
}

TEST(ReadInterfaceTest, NamesAMissingInterface) {
  auto info = ReadInterface("tnosuch9");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(info.status().message().find("interface 'tnosuch9' not found"),
            std::string::npos)
      << info.status();
}

#define ASSERT_OK_IP(...)             \
  do {                                \
    absl::Status s = Ip(__VA_ARGS__); \
    ASSERT_TRUE(s.ok()) << s;         \
  } while (0)

class KernelNeighboursTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!tachyon::testing::CanCreateNamespaces(&why)) {
      tachyon::testing::MissingFeature(why);
      return;
    }
    tachyon::testing::VethPair::Options options;
    options.gateway_queues = 2;
    options.gateway_mtu = 3000;
    auto pair = tachyon::testing::VethPair::Create(
        "tnb" + std::to_string(getpid()), options);
    ASSERT_TRUE(pair.ok()) << pair.status();
    pair_ = std::move(*pair);
  }

  // Runs `ip` inside the gateway namespace.
  absl::Status Ip(std::vector<std::string> args) {
    std::vector<std::string> argv = {"ip", "-n", pair_->gateway_ns()};
    argv.insert(argv.end(), args.begin(), args.end());
    return tachyon::testing::RunCommand(argv);
  }

  std::unique_ptr<tachyon::testing::VethPair> pair_;
};

TEST_F(KernelNeighboursTest, ReadInterfaceDescribesTheVeth) {
  if (pair_ == nullptr) return;
  const std::string gw_prefix =
      pair_->gateway_ip().substr(0, pair_->gateway_ip().rfind('.'));
  ASSERT_OK_IP(
      {"route", "replace", "default", "via", gw_prefix + ".254", "dev", "tg0"});
  auto in = pair_->EnterGateway();
  ASSERT_TRUE(in.ok());
  auto info = ReadInterface("tg0");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->name, "tg0");
  EXPECT_GT(info->ifindex, 0);
  EXPECT_EQ(info->mac.ToString(), pair_->gateway_mac());
  EXPECT_EQ(info->address_be, pair_->gateway_ip_be());
  EXPECT_EQ(info->prefix_len, 24);
  EXPECT_EQ(info->mtu, 3000);
  EXPECT_EQ(info->rx_queues, 2);
  EXPECT_EQ(info->gateway_be, fastpath::Ip((gw_prefix + ".254").c_str()));
  // lo is not Ethernet.
  EXPECT_FALSE(ReadInterface("lo").ok());
}

TEST_F(KernelNeighboursTest, RefreshReadsTheKernelTable) {
  if (pair_ == nullptr) return;
  const std::string prefix =
      pair_->gateway_ip().substr(0, pair_->gateway_ip().rfind('.'));
  ASSERT_OK_IP({"neigh", "add", prefix + ".7", "lladdr", "02:00:00:00:07:07",
                "dev", "tg0", "nud", "reachable"});
  ASSERT_OK_IP({"neigh", "add", prefix + ".8", "lladdr", "02:00:00:00:08:08",
                "dev", "tg0", "nud", "permanent"});
  // An entry without a usable state is not taken.
  ASSERT_OK_IP({"neigh", "add", prefix + ".9", "dev", "tg0", "nud", "failed"});
  auto in = pair_->EnterGateway();
  ASSERT_TRUE(in.ok());
  auto info = ReadInterface("tg0");
  ASSERT_TRUE(info.ok()) << info.status();
  Neighbours n(info->ifindex, info->address_be, info->prefix_len,
               fastpath::Ip((prefix + ".8").c_str()), {}, 1'000'000);
  // The first miss refreshes.
  EXPECT_EQ(n.Lookup(fastpath::Ip((prefix + ".7").c_str()), 1),
            Mac("02:00:00:00:07:07"));
  // Off-link goes to the gateway, .8.
  EXPECT_EQ(n.Lookup(fastpath::Ip("198.51.100.1"), 2),
            Mac("02:00:00:00:08:08"));
  // The static neighbour VethPair made for the peer is there too.
  EXPECT_EQ(n.Lookup(pair_->peer_ip_be(), 3), Mac(pair_->peer_mac().c_str()));
  EXPECT_EQ(n.Lookup(fastpath::Ip((prefix + ".9").c_str()), 4), std::nullopt);

  // A new entry is seen only once the refresh interval has passed.
  ASSERT_OK_IP({"neigh", "add", prefix + ".10", "lladdr", "02:00:00:00:10:10",
                "dev", "tg0", "nud", "permanent"});
  const std::uint32_t ten = fastpath::Ip((prefix + ".10").c_str());
  EXPECT_EQ(n.Lookup(ten, 5), std::nullopt);  // refreshed at 4: too soon
  EXPECT_EQ(n.Lookup(ten, 4 + 1'000'000), Mac("02:00:00:00:10:10"));
}

}  // namespace
}  // namespace tachyon::fastpath
