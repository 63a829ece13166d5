// tachyon-pub, tachyon-sub and tachyon-ping as an operator runs them: the
// built binaries against a tachyon-gateway process on an ephemeral port.
// Every child runs under a deadline and is killed if it overruns.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "backend_peer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/net.h"
#include "support/process.h"
#include "support/test_pki.h"

namespace {

using namespace std::chrono_literals;
using ::tachyon::testing::Process;
using ::testing::HasSubstr;
namespace tp = ::tachyon::protocol;
using ::tachyon::testing::AskAsGateway;

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
  // Replayed: appended before the subscription, so shown with their age.
  EXPECT_THAT(lines[0], ::testing::MatchesRegex("tour 1 age=[0-9.]+m?s alpha"));
  EXPECT_THAT(lines[2], ::testing::MatchesRegex(
                            "tour 3 age=[0-9.]+m?s gamma with spaces"));
  EXPECT_THAT(text.err(), HasSubstr("subscribed to tour from sequence 1\n"));

  Process json = Tool(TACHYON_SUB_BIN, {"--stream", "tou*", "--start", "2",
                                        "--count", "2", "--format", "json"});
  ASSERT_EQ(json.Wait(10s), 0) << json.err();
  const auto objects = Lines(json.out());
  ASSERT_EQ(objects.size(), 2u) << json.out();
  EXPECT_THAT(objects[0], HasSubstr("\"stream\":\"tour\""));
  EXPECT_THAT(objects[0], HasSubstr("\"sequence\":2"));
  EXPECT_THAT(objects[0], HasSubstr("\"type\":\"message\""));
  EXPECT_THAT(objects[0], HasSubstr("\"age_ns\":"));
  EXPECT_THAT(objects[0], ::testing::Not(HasSubstr("latency_ns")));
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

TEST_F(ToolsTest, PubOverUdpAppendsEveryMessageInOrder) {
  StartGateway();
  auto m = gateway_.WaitForOutput(
      std::regex("udp datagrams on 127\\.0\\.0\\.1:([0-9]+)"), 10s);
  ASSERT_TRUE(m.has_value()) << gateway_.out();
  const std::string udp = "127.0.0.1:" + (*m)[1].str();
  // The shipped config takes signed datagrams only: the demo producer's.
  const std::string key =
      std::string(TACHYON_SOURCE_DIR) + "/config/demo-producer.key";
  Process pub = Tool(TACHYON_PUB_BIN,
                     {"--stream", "udp.in", "--udp", udp, "--count", "100",
                      "--size", "20", "--producer_id", "1", "--key_file", key});
  ASSERT_EQ(pub.Wait(20s), 0) << pub.err();
  EXPECT_THAT(pub.err(), ::testing::ContainsRegex(
                             "sent 100 messages for udp.in \\(stream id "
                             "[0-9]+\\) to " +
                             udp + " in [0-9]+ datagram\\(s\\) over UDP"));
  Process sub = Tool(TACHYON_SUB_BIN,
                     {"--stream", "udp.in", "--start", "1", "--count", "100"});
  ASSERT_EQ(sub.Wait(20s), 0) << sub.err();
  const auto lines = Lines(sub.out());
  ASSERT_EQ(lines.size(), 100u) << sub.out();
  for (int i = 0; i < 100; ++i) {
    const std::string payload = "message " + std::to_string(i + 1);
    EXPECT_THAT(lines[i],
                ::testing::StartsWith("udp.in " + std::to_string(i + 1) + " "));
    EXPECT_THAT(lines[i], ::testing::EndsWith(
                              payload + std::string(20 - payload.size(), '.')));
  }
  // --ack has no meaning over UDP.
  Process ack =
      Tool(TACHYON_PUB_BIN, {"--stream", "udp.in", "--udp", udp, "--ack"});
  EXPECT_EQ(ack.Wait(10s), 2);
  EXPECT_THAT(ack.err(), HasSubstr("UDP publishing has no acknowledgement"));
}

TEST_F(ToolsTest, PingPrintsPercentiles) {
  StartGateway();
  for (const char* connections : {"1", "2"}) {
    Process ping = Tool(TACHYON_PING_BIN, {"--count", "300", "--warmup", "20",
                                           "--connections", connections});
    ASSERT_EQ(ping.Wait(30s), 0) << ping.err();
    EXPECT_THAT(ping.out(), HasSubstr("300 round trips"));
    EXPECT_THAT(ping.out(),
                ::testing::ContainsRegex("p50 [0-9.]+ us  p90 [0-9.]+ us  "
                                         "p99 [0-9.]+ us  p99.9 [0-9.]+ us  "
                                         "max [0-9.]+ us"));
  }
}

TEST_F(ToolsTest, ClearOneLineErrorsAndNonZeroExits) {
  // Anonymous sessions with the shared session.token, and no demo token in
  // the tools' environment: a tool without --token is refused.
  StartGateway({"--token", "secret", "--auth_anonymous=true"});
  ::unsetenv("TACHYON_TOKEN");
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

// ------------------------------------------------------ tachyon-sub's talk

// Sequences of the "<stream> <sequence> ..." lines of `out`, in order.
std::vector<std::uint64_t> Sequences(const std::string& out) {
  std::vector<std::uint64_t> seqs;
  for (const std::string& line : Lines(out)) {
    std::istringstream in(line);
    std::string stream;
    std::uint64_t seq = 0;
    if (in >> stream >> seq) seqs.push_back(seq);
  }
  return seqs;
}

TEST_F(ToolsTest, SubResumesAfterTheGatewayRestartsOnItsPort) {
  const std::string port = std::to_string(tachyon::testing::UnusedPort());
  StartGateway({"--port", port});
  ASSERT_EQ(port_, port);
  Process pub1 = Tool(TACHYON_PUB_BIN, {"--stream", "re.s", "--ack"});
  pub1.Write("a\nb\n");
  pub1.CloseStdin();
  ASSERT_EQ(pub1.Wait(10s), 0) << pub1.err();

  Process sub =
      Tool(TACHYON_SUB_BIN, {"--stream", "re.s", "--start", "earliest",
                             "--count", "5", "--hint_after_ms", "0"});
  ASSERT_TRUE(sub.WaitForOutput(std::regex("re\\.s 2 .* b\n"), 10s))
      << sub.out() << sub.err();
  ASSERT_EQ(tachyon::testing::StopGatewayProcess(&gateway_), 0)
      << gateway_.err();
  // The subscriber notices and keeps trying while no gateway listens.
  ASSERT_TRUE(sub.WaitForError(std::regex("reconnecting"), 10s)) << sub.err();

  StartGateway({"--port", port});
  ASSERT_EQ(port_, port);
  Process pub2 = Tool(TACHYON_PUB_BIN, {"--stream", "re.s", "--ack"});
  pub2.Write("c\nd\ne\n");
  pub2.CloseStdin();
  ASSERT_EQ(pub2.Wait(10s), 0) << pub2.err();

  ASSERT_EQ(sub.Wait(20s), 0) << sub.err();
  const auto lines = Lines(sub.out());
  ASSERT_EQ(lines.size(), 5u) << sub.out();
  // The new run numbers its stream from 1 again.
  EXPECT_EQ(Sequences(sub.out()), (std::vector<std::uint64_t>{1, 2, 1, 2, 3}));
  EXPECT_THAT(lines[2], ::testing::EndsWith(" c"));
  EXPECT_THAT(lines[4], ::testing::EndsWith(" e"));
  EXPECT_THAT(sub.err(), HasSubstr("subscribed to re.s from sequence 1\n"));
  EXPECT_THAT(sub.err(),
              HasSubstr("a restarted gateway (new instance epoch, sequences "
                        "begin again): resubscribed to re.s from its "
                        "earliest retained message"));
}

TEST_F(ToolsTest, SubResumesAfterTheLastSequenceWhenItsConnectionIsCut) {
  // A small log and the disconnect policy: a stopped subscriber is cut as
  // a slow consumer while the gateway keeps running.
  StartGateway({"--stream_capacity_bytes", "262144", "--stream_window_bytes",
                "131072", "--stream_policy", "disconnect",
                "--stream_lag_grace_ms", "0", "--log_level", "info"});
  Process sub = Tool(TACHYON_SUB_BIN, {"--stream", "cut.s", "--start", "1",
                                       "--hint_after_ms", "0"});
  ASSERT_TRUE(sub.WaitForError(std::regex("subscribed to cut.s from"), 10s))
      << sub.err();
  Process pub1 = Tool(TACHYON_PUB_BIN, {"--stream", "cut.s", "--count", "3"});
  ASSERT_EQ(pub1.Wait(10s), 0) << pub1.err();
  ASSERT_TRUE(sub.WaitForOutput(std::regex("cut\\.s 3 "), 10s)) << sub.out();

  ASSERT_TRUE(sub.Signal(SIGSTOP));
  // Batches of 1.5 MB through a 256 KiB log until the gateway says it cut
  // the stopped subscriber: how much its unread socket absorbs first
  // depends on the host's TCP buffer sizes.
  std::uint64_t last = 3;
  bool cut = false;
  for (int batch = 0; batch < 16 && !cut; ++batch) {
    Process pub2 = Tool(TACHYON_PUB_BIN, {"--stream", "cut.s", "--count",
                                          "1500", "--size", "1000"});
    const int pub2_exit = pub2.Wait(30s);
    if (pub2_exit != 0) sub.Signal(SIGCONT);
    ASSERT_EQ(pub2_exit, 0) << pub2.err();
    last += 1500;
    cut = gateway_
              .WaitForError(std::regex("slow consumer cut peer=[^ ]+ "
                                       "client='[^']*' session=[0-9]+ "
                                       "stream='cut\\.s'"),
                            1s)
              .has_value();
  }
  ASSERT_TRUE(sub.Signal(SIGCONT));
  ASSERT_TRUE(cut) << gateway_.err();
  // After the cut it reconnects and resumes after the last sequence it
  // printed; what the gateway overwrote meanwhile comes back as a gap.
  const std::string last_line = "cut\\.s " + std::to_string(last) + " ";
  ASSERT_TRUE(sub.WaitForOutput(std::regex(last_line), 20s)) << sub.err();
  ASSERT_TRUE(sub.Signal(SIGTERM));
  EXPECT_EQ(sub.Wait(10s), 0) << sub.err();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      sub.err(), m,
      std::regex("reconnected to [^:]+:[0-9]+: resubscribed to cut\\.s from "
                 "sequence ([0-9]+)")))
      << sub.err();
  const std::uint64_t resumed = std::stoull(m[1].str());
  // Every sequence once, in order: printed, or inside a reported gap.
  std::vector<std::uint64_t> seqs = Sequences(sub.out());
  const std::string err = sub.err();
  const std::regex gap_line("gap on cut\\.s: sequences ([0-9]+)\\.\\.([0-9]+)");
  std::vector<std::uint64_t> accounted = seqs;
  for (std::sregex_iterator it(err.begin(), err.end(), gap_line), end;
       it != end; ++it) {
    for (std::uint64_t q = std::stoull((*it)[1].str());
         q <= std::stoull((*it)[2].str()); ++q) {
      accounted.push_back(q);
    }
  }
  std::sort(accounted.begin(), accounted.end());
  std::vector<std::uint64_t> expected(last);
  std::iota(expected.begin(), expected.end(), 1);
  EXPECT_EQ(accounted, expected);
  ASSERT_TRUE(std::is_sorted(seqs.begin(), seqs.end()));
  EXPECT_EQ(std::adjacent_find(seqs.begin(), seqs.end()), seqs.end());
  // Resumed right after the last sequence printed before the cut.
  const auto before = std::find(seqs.begin(), seqs.end(), resumed - 1);
  EXPECT_NE(before, seqs.end()) << resumed;
}

TEST_F(ToolsTest, SubWithoutReconnectExitsWhenTheGatewayGoes) {
  StartGateway();
  Process sub =
      Tool(TACHYON_SUB_BIN, {"--stream", "nr.s", "--reconnect=false"});
  ASSERT_TRUE(
      sub.WaitForError(std::regex("subscribed to nr.s from sequence 1"), 10s))
      << sub.err();
  ASSERT_EQ(tachyon::testing::StopGatewayProcess(&gateway_), 0);
  EXPECT_EQ(sub.Wait(10s), 1) << sub.err();
  EXPECT_THAT(sub.err(), ::testing::Not(HasSubstr("reconnecting")));
}

TEST_F(ToolsTest, SubLabelsLiveMessagesWithLatencyAndReplaysWithAge) {
  StartGateway();
  Process pub1 = Tool(TACHYON_PUB_BIN, {"--stream", "age.s", "--ack"});
  pub1.Write("old\n");
  pub1.CloseStdin();
  ASSERT_EQ(pub1.Wait(10s), 0) << pub1.err();
  Process sub = Tool(TACHYON_SUB_BIN,
                     {"--stream", "age.s", "--start", "1", "--count", "2"});
  ASSERT_TRUE(
      sub.WaitForError(std::regex("subscribed to age.s from sequence 1"), 10s))
      << sub.err();
  Process pub2 = Tool(TACHYON_PUB_BIN, {"--stream", "age.s", "--ack"});
  pub2.Write("new\n");
  pub2.CloseStdin();
  ASSERT_EQ(pub2.Wait(10s), 0) << pub2.err();
  ASSERT_EQ(sub.Wait(10s), 0) << sub.err();
  const auto lines = Lines(sub.out());
  ASSERT_EQ(lines.size(), 2u) << sub.out();
  EXPECT_THAT(lines[0], ::testing::MatchesRegex("age.s 1 age=[0-9.]+m?s old"));
  EXPECT_THAT(lines[1], ::testing::MatchesRegex("age.s 2 [0-9.]+us new"));
}

TEST_F(ToolsTest, SubPutsGapsInTheJsonStream) {
  // A 256 KiB log: 400 KB published overwrite its first messages.
  StartGateway(
      {"--stream_capacity_bytes", "262144", "--stream_window_bytes", "131072"});
  Process pub = Tool(TACHYON_PUB_BIN,
                     {"--stream", "gap.s", "--count", "400", "--size", "1000"});
  ASSERT_EQ(pub.Wait(30s), 0) << pub.err();
  Process sub = Tool(TACHYON_SUB_BIN, {"--stream", "gap.s", "--start", "1",
                                       "--count", "1", "--format", "json"});
  ASSERT_EQ(sub.Wait(10s), 0) << sub.err();
  const auto objects = Lines(sub.out());
  ASSERT_EQ(objects.size(), 2u) << sub.out();
  std::smatch m;
  ASSERT_TRUE(std::regex_match(
      objects[0], m,
      std::regex("\\{\"type\":\"gap\",\"stream\":\"gap\\.s\",\"stream_id\":"
                 "[0-9]+,\"from\":1,\"to\":([0-9]+),\"count\":([0-9]+),"
                 "\"origin\":\"gateway\"\\}")))
      << objects[0];
  EXPECT_EQ(m[1].str(), m[2].str());
  const std::uint64_t to = std::stoull(m[1].str());
  EXPECT_THAT(objects[1], HasSubstr("\"type\":\"message\""));
  EXPECT_THAT(objects[1],
              HasSubstr("\"sequence\":" + std::to_string(to + 1) + ","));
  EXPECT_THAT(sub.err(), HasSubstr("gap on gap.s: sequences 1.."));
}

TEST_F(ToolsTest, SubSaysAnExactNameIsNotAPrefix) {
  StartGateway();
  Process pub = Tool(TACHYON_PUB_BIN, {"--stream", "demo.x", "--ack"});
  pub.Write("hello\n");
  pub.CloseStdin();
  ASSERT_EQ(pub.Wait(10s), 0) << pub.err();
  Process sub =
      Tool(TACHYON_SUB_BIN, {"--stream", "demo.", "--hint_after_ms", "200"});
  EXPECT_TRUE(sub.WaitForError(
      std::regex("no message on demo\\. in 200 ms: \"demo\\.\" is an exact "
                 "stream name, but 1 other stream\\(s\\) start with it "
                 "\\(demo\\.x\\); a prefix pattern needs a trailing '\\*': "
                 "--stream='demo\\.\\*'"),
      10s))
      << sub.err();
  ASSERT_TRUE(sub.Signal(SIGTERM));
  EXPECT_EQ(sub.Wait(10s), 0) << sub.err();
  // Said once.
  EXPECT_EQ(Lines(sub.err()).size(), 2u) << sub.err();
}

TEST_F(ToolsTest, SubSaysItsStartIsPastTheEnd) {
  StartGateway();
  Process pub = Tool(TACHYON_PUB_BIN, {"--stream", "end.s", "--ack"});
  pub.Write("1\n2\n3\n");
  pub.CloseStdin();
  ASSERT_EQ(pub.Wait(10s), 0) << pub.err();
  Process sub = Tool(TACHYON_SUB_BIN,
                     {"--stream", "end.s", "--start", "10", "--count", "1"});
  ASSERT_TRUE(sub.WaitForError(
      std::regex("--start 10 is past the end of end\\.s, whose next "
                 "sequence is 4: waiting for new messages, from sequence 4"),
      10s))
      << sub.err();
  Process pub2 = Tool(TACHYON_PUB_BIN, {"--stream", "end.s", "--ack"});
  pub2.Write("4\n");
  pub2.CloseStdin();
  ASSERT_EQ(pub2.Wait(10s), 0) << pub2.err();
  ASSERT_EQ(sub.Wait(10s), 0) << sub.err();
  EXPECT_THAT(sub.out(), ::testing::StartsWith("end.s 4 "));
}

TEST_F(ToolsTest, SubSaysAUdpGroupSendsNothing) {
  StartGateway();
  const std::string udp_port =
      std::to_string(tachyon::testing::UnusedPort(SOCK_DGRAM));
  Process sub =
      Tool(TACHYON_SUB_BIN, {"--stream", "quiet.s", "--udp", "--udp_join",
                             "--udp_port", udp_port, "--hint_after_ms", "200"});
  EXPECT_TRUE(sub.WaitForError(
      std::regex("no datagram arrived on 127\\.0\\.0\\.1:" + udp_port +
                 " in 200 ms: is a \\[\\[udp\\.groups\\]\\] entry of the "
                 "gateway sending quiet\\.s to this address and port\\?"),
      10s))
      << sub.err();
  ASSERT_TRUE(sub.Signal(SIGTERM));
  EXPECT_EQ(sub.Wait(10s), 0) << sub.err();
}

TEST_F(ToolsTest, PingWaitsInTheKernelUnlessToldToSpin) {
  StartGateway();
  Process ping = Tool(TACHYON_PING_BIN, {"--count", "400", "--warmup", "0"});
  ASSERT_EQ(ping.Wait(30s), 0) << ping.err();
  EXPECT_THAT(ping.out(), HasSubstr("block wait"));
  std::smatch m;
  const std::string out = ping.out();
  ASSERT_TRUE(std::regex_search(
      out, m,
      std::regex("cpu [0-9.]+ s .* ([0-9]+) voluntary context "
                 "switches")))
      << out;
  // A blocking wait sleeps in the kernel for nearly every echo; a spinning
  // one never does.
  EXPECT_GE(std::stol(m[1].str()), 200) << out;

  Process spin =
      Tool(TACHYON_PING_BIN, {"--count", "400", "--warmup", "0", "--spin"});
  ASSERT_EQ(spin.Wait(60s), 0) << spin.err();
  EXPECT_THAT(spin.out(), HasSubstr("spin wait"));
}

// ------------------------------------------------ tachyon-reply, tachyon-req

// Starts tachyon-reply on a free port with `args`; returns the port it
// printed, or 0.
std::uint16_t StartReply(Process* reply, std::vector<std::string> args) {
  args.insert(args.begin(), {TACHYON_REPLY_BIN, "--port", "0"});
  return tachyon::testing::StartServiceProcess(reply, args);
}

TEST(ReplyToolTest, EchoesARequestFromAGateway) {
  Process reply;
  const std::uint16_t port = StartReply(&reply, {"--threads", "2"});
  ASSERT_NE(port, 0);
  EXPECT_EQ(AskAsGateway(port, 5, "ping 1"),
            std::make_pair(tp::ResponseStatus::kOk, std::string("ping 1")));
  EXPECT_EQ(AskAsGateway(port, 6, ""),
            std::make_pair(tp::ResponseStatus::kOk, std::string()));
  ASSERT_TRUE(reply.Signal(SIGTERM));
  EXPECT_EQ(reply.Wait(10s), 0) << reply.err();
  EXPECT_THAT(reply.err(), HasSubstr("tachyon-reply: answered 2 requests"));
}

TEST(ReplyToolTest, AnswersFromAFile) {
  const std::string path =
      std::string(TACHYON_BINARY_DIR) + "/reply_tool_test_answers.txt";
  {
    std::ofstream out(path);
    out << "# symbol price\nAAPL 189.50\nMSFT 402.10 bid\n";
  }
  Process reply;
  const std::uint16_t port =
      StartReply(&reply, {"--file", path, "--count", "3"});
  ASSERT_NE(port, 0);
  EXPECT_THAT(reply.out(), HasSubstr("(2 keys from " + path + ")"));
  EXPECT_EQ(AskAsGateway(port, 1, "AAPL"),
            std::make_pair(tp::ResponseStatus::kOk, std::string("189.50")));
  EXPECT_EQ(AskAsGateway(port, 2, "MSFT"),
            std::make_pair(tp::ResponseStatus::kOk, std::string("402.10 bid")));
  EXPECT_EQ(AskAsGateway(port, 3, "IBM"),
            std::make_pair(tp::ResponseStatus::kBackendError,
                           std::string("no entry for key IBM")));
  // --count 3: it stops by itself.
  EXPECT_EQ(reply.Wait(10s), 0) << reply.err();
  std::filesystem::remove(path);
}

TEST(ReplyToolTest, ReqCallsReplyAndPrintsEachResponse) {
  // The client library logs on to tachyon-reply as it would to a gateway,
  // so tachyon-req can call it directly.
  Process reply;
  const std::uint16_t port = StartReply(&reply, {"--count", "3"});
  ASSERT_NE(port, 0);
  Process req =
      Process::Start({TACHYON_REQ_BIN, "--port", std::to_string(port),
                      "--service", "4", "--count", "3", "hello", "there"});
  ASSERT_EQ(req.Wait(10s), 0) << req.err();
  const auto lines = Lines(req.out());
  ASSERT_EQ(lines.size(), 3u) << req.out();
  for (const std::string& line : lines) {
    EXPECT_THAT(line, ::testing::MatchesRegex("OK [0-9.]+us hello there"));
  }
  EXPECT_EQ(reply.Wait(10s), 0) << reply.err();
}

TEST(ReplyToolTest, ServesTlsToTachyonReq) {
  auto pki = tachyon::testing::TestPki::Create();
  ASSERT_NE(pki, nullptr);
  Process reply;
  const std::uint16_t port =
      StartReply(&reply, {"--count", "2", "--tls_cert", pki->server_cert(),
                          "--tls_key", pki->server_key()});
  ASSERT_NE(port, 0);
  EXPECT_THAT(reply.out(), HasSubstr("(TLS, echo)"));
  // A plain client is not served: its handshake fails on the service side.
  Process plain =
      Process::Start({TACHYON_REQ_BIN, "--port", std::to_string(port),
                      "--service", "4", "--timeout_ms", "2000", "plain"});
  EXPECT_NE(plain.Wait(10s), 0) << plain.out();
  Process req = Process::Start({TACHYON_REQ_BIN, "--port", std::to_string(port),
                                "--tls", "--tls_ca", pki->ca(), "--service",
                                "4", "--count", "2", "over", "tls"});
  ASSERT_EQ(req.Wait(10s), 0) << req.err();
  const auto lines = Lines(req.out());
  ASSERT_EQ(lines.size(), 2u) << req.out();
  for (const std::string& line : lines) {
    EXPECT_THAT(line, ::testing::MatchesRegex("OK [0-9.]+us over tls"));
  }
  EXPECT_EQ(reply.Wait(10s), 0) << reply.err();
  EXPECT_THAT(reply.err(), HasSubstr("TLS handshake failed"));
}

TEST(ReplyToolTest, ReqReportsATimeoutFromADelayedReply) {
  // The answer is held back for 2 s; the request gives up after 200 ms.
  Process reply;
  const std::uint16_t port = StartReply(&reply, {"--delay_ms", "2000"});
  ASSERT_NE(port, 0);
  Process req =
      Process::Start({TACHYON_REQ_BIN, "--port", std::to_string(port),
                      "--service", "4", "--timeout_ms", "200", "slow"});
  EXPECT_EQ(req.Wait(10s), 1) << req.err();
  EXPECT_THAT(req.out(), ::testing::MatchesRegex("TIMEOUT [0-9.]+us .*\n"));
  EXPECT_EQ(req.err(), "tachyon-req: 1 of 1 requests to service 4 failed\n");
  ASSERT_TRUE(reply.Signal(SIGTERM));
  EXPECT_EQ(reply.Wait(10s), 0) << reply.err();
}

TEST_F(ToolsTest, ReqThroughTheGatewayReportsNoSuchService) {
  StartGateway();
  Process req = Tool(TACHYON_REQ_BIN, {"--service", "42", "quote"});
  EXPECT_EQ(req.Wait(10s), 1) << req.err();
  const auto lines = Lines(req.out());
  ASSERT_EQ(lines.size(), 1u) << req.out();
  EXPECT_THAT(lines[0], ::testing::MatchesRegex(
                            "NO_SUCH_SERVICE [0-9.]+us .*service 42.*"));
  EXPECT_THAT(lines[0], HasSubstr(": NO_SUCH_SERVICE"));
  EXPECT_EQ(req.err(), "tachyon-req: 1 of 1 requests to service 42 failed\n");
}

TEST_F(ToolsTest, ReqByNameReportsAnUnknownService) {
  StartGateway();
  Process req = Tool(TACHYON_REQ_BIN, {"--service", "quotes", "AAPL"});
  EXPECT_EQ(req.Wait(10s), 1) << req.err();
  EXPECT_EQ(req.out(), "");
  EXPECT_EQ(req.err(), "tachyon-req: gateway 127.0.0.1:" + port_ +
                           " has no backend service named \"quotes\"\n");
}

TEST(ReqToolTest, RefusesABadServiceFlag) {
  Process p = Process::Start({TACHYON_REQ_BIN, "--service", "0"});
  EXPECT_EQ(p.Wait(10s), 2);
  EXPECT_THAT(p.err(), HasSubstr("--service: a numeric service id must be "
                                 "1..4294967295, got 0"));
  Process big = Process::Start({TACHYON_REQ_BIN, "--service", "4294967296"});
  EXPECT_EQ(big.Wait(10s), 2);
  EXPECT_THAT(big.err(), HasSubstr("--service: a numeric service id"));
  Process none = Process::Start({TACHYON_REQ_BIN});
  EXPECT_EQ(none.Wait(10s), 2);
  EXPECT_THAT(none.err(), HasSubstr("--service: required"));
}

TEST(ToolsHelpTest, EveryToolDescribesItsFlagsAndExitsZero) {
  for (const char* binary : {TACHYON_PUB_BIN, TACHYON_SUB_BIN, TACHYON_PING_BIN,
                             TACHYON_REQ_BIN, TACHYON_REPLY_BIN}) {
    Process p = Process::Start({binary, "--help"});
    EXPECT_EQ(p.Wait(10s), 0) << binary;
    const std::string all = p.out() + p.err();
    EXPECT_THAT(all, HasSubstr("--host")) << binary;
    EXPECT_THAT(all, HasSubstr("--port")) << binary;
    EXPECT_THAT(all, HasSubstr("Tachyon")) << binary;
  }
}

// tachyon-stat reads a live gateway's /metrics: --once --json reports the
// stream a publisher wrote, with the exact message count and sequences, and
// the table names it too.
TEST_F(ToolsTest, StatReportsWhatTheGatewayCounted) {
  StartGateway();
  auto m = gateway_.WaitForOutput(
      std::regex("admin on http://127\\.0\\.0\\.1:([0-9]+)"), 20s);
  ASSERT_TRUE(m.has_value()) << gateway_.out();
  const std::string admin = "127.0.0.1:" + (*m)[1].str();
  Process pub = Tool(TACHYON_PUB_BIN, {"--stream", "stat.demo", "--count",
                                       "250", "--ack", "--quiet"});
  ASSERT_EQ(pub.Wait(30s), 0) << pub.err();

  Process once = Process::Start({TACHYON_STAT_BIN, "--admin", admin, "--once",
                                 "--json", "--interval_ms", "100"});
  ASSERT_EQ(once.Wait(30s), 0) << once.err();
  EXPECT_THAT(once.out(),
              HasSubstr("{\"name\":\"stat.demo\",\"msgs_per_sec\":0,"
                        "\"appends_total\":250,\"first_sequence\":1,"
                        "\"next_sequence\":251,"));
  EXPECT_EQ(Lines(once.out()).size(), 1u) << once.out();

  Process table = Process::Start({TACHYON_STAT_BIN, "--admin", admin, "--count",
                                  "2", "--interval_ms", "100"});
  ASSERT_EQ(table.Wait(30s), 0) << table.err();
  EXPECT_THAT(table.out(), HasSubstr("stat.demo"));
  EXPECT_THAT(table.out(), HasSubstr("STREAM"));

  // A wrong address fails in one line, naming it.
  Process bad = Process::Start(
      {TACHYON_STAT_BIN, "--admin", "127.0.0.1:1", "--once", "--json"});
  EXPECT_EQ(bad.Wait(30s), 1);
  EXPECT_THAT(bad.err(), HasSubstr("cannot read http://127.0.0.1:1/metrics"));
  Process usage = Process::Start({TACHYON_STAT_BIN, "--admin", "nonsense"});
  EXPECT_EQ(usage.Wait(30s), 2);
  Process help = Process::Start({TACHYON_STAT_BIN, "--help"});
  EXPECT_EQ(help.Wait(30s), 0);
  EXPECT_THAT(help.out(), HasSubstr("--once"));
}

}  // namespace
