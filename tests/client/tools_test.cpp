// tachyon-pub, tachyon-sub and tachyon-ping as an operator runs them: the
// built binaries against a tachyon-gateway process on an ephemeral port.
// Every child runs under a deadline and is killed if it overruns.
#include <signal.h>

#include <chrono>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/process.h"

namespace {

using namespace std::chrono_literals;
using ::tachyon::testing::Process;
using ::testing::HasSubstr;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class ToolsTest : public ::testing::Test {
 protected:
  void StartGateway(std::vector<std::string> extra = {}) {
    port_ = tachyon::testing::StartGatewayProcess(
        &gateway_, TACHYON_GATEWAY_BIN, TACHYON_SOURCE_DIR, extra);
    ASSERT_FALSE(port_.empty());
  }
  void TearDown() override {
    if (gateway_.pid() > 0) {
      EXPECT_EQ(tachyon::testing::StopGatewayProcess(&gateway_), 0)
          << gateway_.err();
    }
  }
  Process Tool(const char* binary, std::vector<std::string> args) {
    args.insert(args.begin(), {binary, "--port", port_});
    return Process::Start(args);
  }

  Process gateway_;
  std::string port_;
};

TEST_F(ToolsTest, PubLinesFromStdinThenSubPrintsThemInEveryFormat) {
  StartGateway();
  Process pub = Tool(TACHYON_PUB_BIN, {"--stream", "tour", "--ack"});
  pub.Write("alpha\nbeta\n");
  pub.Write("gamma with spaces\n");
  pub.CloseStdin();
  ASSERT_EQ(pub.Wait(10s), 0) << pub.err();
  EXPECT_EQ(Lines(pub.out()), (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_THAT(pub.err(), HasSubstr("published 3 messages to tour"));

  Process text = Tool(TACHYON_SUB_BIN, {"--stream", "tour", "--start",
                                        "earliest", "--count", "3"});
  ASSERT_EQ(text.Wait(10s), 0) << text.err();
  const auto lines = Lines(text.out());
  ASSERT_EQ(lines.size(), 3u) << text.out();
  EXPECT_THAT(lines[0], ::testing::MatchesRegex("tour 1 [0-9.]+us alpha"));
  EXPECT_THAT(lines[2],
              ::testing::MatchesRegex("tour 3 [0-9.]+us gamma with spaces"));

  Process json = Tool(TACHYON_SUB_BIN, {"--stream", "tou*", "--start", "2",
                                        "--count", "2", "--format", "json"});
  ASSERT_EQ(json.Wait(10s), 0) << json.err();
  const auto objects = Lines(json.out());
  ASSERT_EQ(objects.size(), 2u) << json.out();
  EXPECT_THAT(objects[0], HasSubstr("\"stream\":\"tour\""));
  EXPECT_THAT(objects[0], HasSubstr("\"sequence\":2"));
  EXPECT_THAT(objects[0], HasSubstr("\"latency_ns\":"));
  EXPECT_THAT(objects[0], HasSubstr("\"payload\":\"beta\""));

  Process hex = Tool(TACHYON_SUB_BIN, {"--stream", "tour", "--start", "1",
                                       "--count", "1", "--format", "hex"});
  ASSERT_EQ(hex.Wait(10s), 0) << hex.err();
  EXPECT_THAT(hex.out(), HasSubstr("61 6c 70 68 61\n"));  // "alpha"
}

TEST_F(ToolsTest, SubReceivesWhatAConcurrentPubGenerates) {
  StartGateway();
  Process sub = Tool(TACHYON_SUB_BIN, {"--stream", "gen.*", "--start",
                                       "earliest", "--count", "50"});
  Process pub = Tool(TACHYON_PUB_BIN, {"--stream", "gen.a", "--count", "50",
                                       "--rate", "2000", "--size", "20"});
  ASSERT_EQ(pub.Wait(20s), 0) << pub.err();
  ASSERT_EQ(sub.Wait(20s), 0) << sub.err();
  const auto lines = Lines(sub.out());
  ASSERT_EQ(lines.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    const std::string payload = "message " + std::to_string(i + 1);
    EXPECT_THAT(lines[i],
                ::testing::StartsWith("gen.a " + std::to_string(i + 1) + " "));
    EXPECT_THAT(lines[i], ::testing::EndsWith(
                              payload + std::string(20 - payload.size(), '.')));
  }
}

TEST_F(ToolsTest, SubOverUdpReceivesEveryMessageInOrder) {
  StartGateway();
  // From 1: whatever is published before the UDP delivery starts comes
  // over TCP, the rest as datagrams.
  Process sub = Tool(TACHYON_SUB_BIN, {"--stream", "udp.gen", "--udp",
                                       "--start", "1", "--count", "40"});
  Process pub = Tool(TACHYON_PUB_BIN, {"--stream", "udp.gen", "--count", "40",
                                       "--rate", "2000", "--size", "20"});
  ASSERT_EQ(pub.Wait(20s), 0) << pub.err();
  ASSERT_EQ(sub.Wait(20s), 0) << sub.err();
  EXPECT_THAT(sub.err(), HasSubstr("receiving udp.gen over UDP on 127.0.0.1:"));
  const auto lines = Lines(sub.out());
  ASSERT_EQ(lines.size(), 40u) << sub.out();
  for (int i = 0; i < 40; ++i) {
    EXPECT_THAT(lines[i], ::testing::StartsWith("udp.gen " +
                                                std::to_string(i + 1) + " "));
  }
}

TEST_F(ToolsTest, PingPrintsPercentiles) {
  StartGateway();
  for (const char* connections : {"1", "2"}) {
    Process ping = Tool(TACHYON_PING_BIN,
                        {"--count", "300", "--warmup", "20", "--connections",
                         connections, "--wait", "block"});
    ASSERT_EQ(ping.Wait(30s), 0) << ping.err();
    EXPECT_THAT(ping.out(), HasSubstr("300 round trips"));
    EXPECT_THAT(ping.out(),
                ::testing::ContainsRegex("p50 [0-9.]+ us  p90 [0-9.]+ us  "
                                         "p99 [0-9.]+ us  p99.9 [0-9.]+ us  "
                                         "max [0-9.]+ us"));
  }
}

TEST_F(ToolsTest, ClearOneLineErrorsAndNonZeroExits) {
  StartGateway({"--token", "secret"});
  struct Case {
    const char* binary;
    std::vector<std::string> args;
    int exit_code;
    std::string error;
  };
  const std::vector<Case> cases = {
      {TACHYON_SUB_BIN, {"--stream", "x"}, 1, "NOT_AUTHORIZED"},
      {TACHYON_PUB_BIN,
       {"--stream", "x", "--token", "wrong"},
       1,
       "logon rejected by 127.0.0.1:"},
      {TACHYON_PING_BIN, {"--count", "1"}, 1, "NOT_AUTHORIZED"},
      {TACHYON_SUB_BIN,
       {"--stream", "bad name", "--token", "secret"},
       1,
       "invalid stream name \"bad name\""},
      {TACHYON_PUB_BIN,
       {"--stream", "a*", "--token", "secret", "--count", "1"},
       1,
       "invalid stream name \"a*\""},
      {TACHYON_SUB_BIN, {}, 2, "--stream is required"},
      {TACHYON_SUB_BIN, {"--stream", "x", "--start", "soon"}, 2, "--start"},
      {TACHYON_PING_BIN, {"--connections", "3"}, 2, "--connections"},
  };
  for (const Case& c : cases) {
    Process p = Tool(c.binary, c.args);
    EXPECT_EQ(p.Wait(10s), c.exit_code) << c.binary << " " << c.error;
    EXPECT_THAT(p.err(), HasSubstr(c.error)) << c.binary;
    EXPECT_EQ(Lines(p.err()).size(), 1u) << p.err();
  }
  // Nothing listening.
  Process p = Process::Start({TACHYON_SUB_BIN, "--port", "1", "--stream", "x"});
  EXPECT_EQ(p.Wait(10s), 1);
  EXPECT_EQ(p.err(),
            "tachyon-sub: cannot connect to 127.0.0.1:1: Connection refused\n");
}

TEST(ToolsHelpTest, EveryToolDescribesItsFlags) {
  for (const char* binary :
       {TACHYON_PUB_BIN, TACHYON_SUB_BIN, TACHYON_PING_BIN}) {
    Process p = Process::Start({binary, "--help"});
    p.Wait(10s);
    const std::string all = p.out() + p.err();
    EXPECT_THAT(all, HasSubstr("--host")) << binary;
    EXPECT_THAT(all, HasSubstr("--port")) << binary;
    EXPECT_THAT(all, HasSubstr("Tachyon")) << binary;
  }
}

}  // namespace
