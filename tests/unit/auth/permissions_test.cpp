#include "auth/permissions.h"

#include <gtest/gtest.h>

#include "auth/source_filter.h"

namespace tachyon::auth {
namespace {

TEST(PermissionsTest, ExactAndPatternEntries) {
  const NameFilter f({"orders", "md.*"}, {});
  EXPECT_TRUE(f.Allows("orders"));
  EXPECT_FALSE(f.Allows("orders2"));
  EXPECT_FALSE(f.Allows("order"));
  EXPECT_TRUE(f.Allows("md.eq.AAPL"));
  EXPECT_TRUE(f.Allows("md."));
  EXPECT_FALSE(f.Allows("md"));
  EXPECT_FALSE(f.Allows("mdx"));
}

// Prefix semantics (PROTOCOL.md 9.2): unlike a NATS token wildcard, `a.*`
// matches names of any depth under `a.`.
TEST(PermissionsTest, PatternMatchesAnyDepth) {
  const NameFilter f({"a.*"}, {});
  EXPECT_TRUE(f.Allows("a.b"));
  EXPECT_TRUE(f.Allows("a.b.c"));
  EXPECT_FALSE(f.Allows("ab.c"));
  EXPECT_FALSE(f.Allows("b.a.c"));
}

TEST(PermissionsTest, LoneStarMatchesEverything) {
  const NameFilter f({"*"}, {});
  EXPECT_TRUE(f.Allows("x"));
  EXPECT_TRUE(f.Allows("a.b.c"));
}

// `>` is not pattern syntax: as an entry it is a literal name no stream
// can have, so it allows nothing (config validation refuses it).
TEST(PermissionsTest, NatsFullWildcardIsNotSyntax) {
  const NameFilter f({">"}, {});
  EXPECT_FALSE(f.Allows("a"));
  EXPECT_FALSE(f.Allows("a.b"));
}

TEST(PermissionsTest, EmptyAllowListAllowsNothing) {
  const NameFilter f;
  EXPECT_FALSE(f.Allows("x"));
  EXPECT_EQ(f.AllowsPattern("*"), PatternVerdict::kNone);
}

TEST(PermissionsTest, DenyWins) {
  const NameFilter f({"*"}, {"md.secret*", "admin"});
  EXPECT_TRUE(f.Allows("md.eq"));
  EXPECT_FALSE(f.Allows("md.secret"));
  EXPECT_FALSE(f.Allows("md.secret.x"));
  EXPECT_FALSE(f.Allows("admin"));
  EXPECT_TRUE(f.Allows("admin2"));
  // Deny wins even over an exact allow entry.
  const NameFilter g({"x"}, {"x"});
  EXPECT_FALSE(g.Allows("x"));
}

TEST(PermissionsTest, PatternVerdicts) {
  const NameFilter f({"md.*", "orders"}, {"md.secret.*"});
  // Inside an allow pattern, not touching the deny: every match allowed.
  EXPECT_EQ(f.AllowsPattern("md.eq.*"), PatternVerdict::kAll);
  // Wider than the allow pattern: some matches allowed.
  EXPECT_EQ(f.AllowsPattern("*"), PatternVerdict::kSome);
  EXPECT_EQ(f.AllowsPattern("m*"), PatternVerdict::kSome);
  // Only an exact allow entry inside it.
  EXPECT_EQ(f.AllowsPattern("ord*"), PatternVerdict::kSome);
  // Overlaps a deny: each match must be checked.
  EXPECT_EQ(f.AllowsPattern("md.*"), PatternVerdict::kSome);
  // Inside the deny: nothing.
  EXPECT_EQ(f.AllowsPattern("md.secret.x*"), PatternVerdict::kNone);
  // Nothing allowed under it.
  EXPECT_EQ(f.AllowsPattern("fx.*"), PatternVerdict::kNone);
}

TEST(PermissionsTest, ActionsPickTheirFilter) {
  Permissions p{.publish = NameFilter({"p"}, {}),
                .subscribe = NameFilter({"s"}, {}),
                .create = NameFilter({"c"}, {}),
                .request = NameFilter({"r"}, {})};
  EXPECT_TRUE(p.For(Action::kPublish).Allows("p"));
  EXPECT_TRUE(p.For(Action::kSubscribe).Allows("s"));
  EXPECT_TRUE(p.For(Action::kCreate).Allows("c"));
  EXPECT_TRUE(p.For(Action::kRequest).Allows("r"));
  EXPECT_FALSE(p.For(Action::kRequest).Allows("p"));
  EXPECT_EQ(ActionName(Action::kCreate), "create");
}

TEST(SourceFilterTest, Ipv4AndIpv6Networks) {
  auto net = ParseCidr("10.1.0.0/16");
  ASSERT_TRUE(net.ok());
  EXPECT_TRUE(net->Contains(*ParseIpAddress("10.1.2.3")));
  EXPECT_FALSE(net->Contains(*ParseIpAddress("10.2.0.1")));
  EXPECT_FALSE(net->Contains(*ParseIpAddress("::1")));
  auto host = ParseCidr("127.0.0.1");
  ASSERT_TRUE(host.ok());
  EXPECT_TRUE(host->Contains(*ParseIpAddress("127.0.0.1")));
  EXPECT_FALSE(host->Contains(*ParseIpAddress("127.0.0.2")));
  // A dual-stack listener's IPv4 peer.
  EXPECT_TRUE(host->Contains(*ParseIpAddress("::ffff:127.0.0.1")));
  auto v6 = ParseCidr("fd00::/8");
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->Contains(*ParseIpAddress("fd12::1")));
  EXPECT_FALSE(v6->Contains(*ParseIpAddress("fe80::1")));
  auto odd = ParseCidr("192.168.1.128/25");
  ASSERT_TRUE(odd.ok());
  EXPECT_TRUE(odd->Contains(*ParseIpAddress("192.168.1.200")));
  EXPECT_FALSE(odd->Contains(*ParseIpAddress("192.168.1.127")));
  auto all = ParseCidr("0.0.0.0/0");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->Contains(*ParseIpAddress("8.8.8.8")));
}

TEST(SourceFilterTest, RefusesBadNetworks) {
  EXPECT_FALSE(ParseCidr("10.0.0.0/33").ok());
  EXPECT_FALSE(ParseCidr("10.1.2.3/16").ok()) << "host bits set";
  EXPECT_FALSE(ParseCidr("fd00::1/8").ok()) << "host bits set";
  EXPECT_FALSE(ParseCidr("host.example").ok());
  EXPECT_FALSE(ParseCidr("10.0.0.0/x").ok());
  EXPECT_FALSE(ParseCidr("::/129").ok());
}

}  // namespace
}  // namespace tachyon::auth
