// The namespace support itself: a pair is created, a datagram crosses it
// between sockets made on either side, and the namespaces are gone after.
#include "support/netns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "support/require.h"

namespace tachyon::testing {
namespace {

bool NamespaceExists(const std::string& name) {
  return access(("/var/run/netns/" + name).c_str(), F_OK) == 0;
}

TEST(NetnsTest, DatagramCrossesThePairAndTheDestructorRemovesIt) {
  std::string why;
  if (!CanCreateNamespaces(&why)) {
    MissingFeature(why);
    return;
  }
  const std::string prefix = "tns" + std::to_string(getpid());
  std::string gateway_ns;
  std::string peer_ns;
  {
    auto pair = VethPair::Create(prefix);
    ASSERT_TRUE(pair.ok()) << pair.status();
    gateway_ns = (*pair)->gateway_ns();
    peer_ns = (*pair)->peer_ns();
    EXPECT_EQ(gateway_ns, prefix + "-gw");
    EXPECT_EQ(peer_ns, prefix + "-pe");
    EXPECT_TRUE(NamespaceExists(gateway_ns));
    EXPECT_TRUE(NamespaceExists(peer_ns));
    EXPECT_TRUE((*pair)->gateway_ip().starts_with("10.77."));
    EXPECT_EQ((*pair)->gateway_ip_be() & htonl(0xffffff00),
              (*pair)->peer_ip_be() & htonl(0xffffff00));

    int receiver = -1;
    {
      auto in = (*pair)->EnterGateway();
      ASSERT_TRUE(in.ok());
      receiver = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      ASSERT_GE(receiver, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(7001);
      a.sin_addr.s_addr = (*pair)->gateway_ip_be();
      ASSERT_EQ(bind(receiver, reinterpret_cast<sockaddr*>(&a), sizeof a), 0)
          << std::strerror(errno);
    }
    int sender = -1;
    {
      auto in = (*pair)->EnterPeer();
      ASSERT_TRUE(in.ok());
      sender = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      ASSERT_GE(sender, 0);
    }
    // The gateway's address does not exist in the test's own namespace.
    sockaddr_in here{};
    here.sin_family = AF_INET;
    here.sin_addr.s_addr = (*pair)->gateway_ip_be();
    const int probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_NE(bind(probe, reinterpret_cast<sockaddr*>(&here), sizeof here), 0);
    close(probe);

    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(7001);
    to.sin_addr.s_addr = (*pair)->gateway_ip_be();
    const char message[] = "across the veth";
    ASSERT_EQ(sendto(sender, message, sizeof message, 0,
                     reinterpret_cast<sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(sizeof message))
        << std::strerror(errno);
    pollfd p{.fd = receiver, .events = POLLIN, .revents = 0};
    ASSERT_EQ(poll(&p, 1, 5000), 1) << "no datagram within 5 s";
    char buffer[64] = {};
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    ASSERT_EQ(recvfrom(receiver, buffer, sizeof buffer, 0,
                       reinterpret_cast<sockaddr*>(&from), &from_len),
              static_cast<ssize_t>(sizeof message));
    EXPECT_STREQ(buffer, message);
    EXPECT_EQ(from.sin_addr.s_addr, (*pair)->peer_ip_be());
    close(sender);
    close(receiver);
  }
  EXPECT_FALSE(NamespaceExists(gateway_ns));
  EXPECT_FALSE(NamespaceExists(peer_ns));
}

TEST(NetnsTest, ReplacesAStalePairOfTheSamePrefix) {
  std::string why;
  if (!CanCreateNamespaces(&why)) {
    MissingFeature(why);
    return;
  }
  const std::string prefix = "tst" + std::to_string(getpid());
  // What a killed run leaves behind.
  ASSERT_TRUE(RunCommand({"ip", "netns", "add", prefix + "-gw"}).ok());
  auto pair = VethPair::Create(prefix);
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_TRUE(NamespaceExists(prefix + "-gw"));
}

TEST(NetnsTest, NamespacedCommandPrefixesIpNetnsExec) {
  EXPECT_EQ(VethPair::NamespacedCommand("x", {"ethtool", "-k", "tg0"}),
            (std::vector<std::string>{"ip", "netns", "exec", "x", "ethtool",
                                      "-k", "tg0"}));
}

TEST(NetnsTest, RunCommandReportsAFailure) {
  auto s = RunCommand({"false"});
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(RunCommand({"/no/such/program"}).ok());
  EXPECT_TRUE(RunCommand({"true"}).ok());
}

TEST(NetnsTest, ScopeOfAMissingNamespaceIsNotOk) {
  NamespaceScope scope("tachyon-no-such-namespace");
  EXPECT_FALSE(scope.ok());
}

}  // namespace
}  // namespace tachyon::testing
