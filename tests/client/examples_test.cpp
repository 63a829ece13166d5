// The examples in clients/cpp/examples, run as a user runs them: the built
// binaries against a tachyon-gateway process on an ephemeral port, checking
// exit codes and what they print. Every child runs under a deadline.
#include <signal.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "backend_peer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/process.h"

namespace tachyon::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class ExamplesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ =
        StartGatewayProcess(&gateway_, TACHYON_GATEWAY_BIN, TACHYON_SOURCE_DIR);
    ASSERT_FALSE(port_.empty());
  }
  void TearDown() override {
    if (gateway_.pid() > 0) {
      EXPECT_EQ(StopGatewayProcess(&gateway_), 0) << gateway_.err();
    }
  }
  Process Run(const char* binary, std::vector<std::string> args) {
    args.insert(args.begin(), {binary, "--port", port_});
    return Process::Start(args);
  }

  Process gateway_;
  std::string port_;
};

TEST_F(ExamplesTest, MarketDataPublisherFeedsOneStreamPerSymbol) {
  Process pub = Run(TACHYON_MARKET_DATA_PUBLISHER_BIN,
                    {"--count", "1000", "--symbols", "AAPL,MSFT"});
  ASSERT_EQ(pub.Wait(30s), 0) << pub.err();
  EXPECT_EQ(pub.out(),
            "published 1000 quotes to 2 streams (md.eq.AAPL ... md.eq.MSFT)\n");
  EXPECT_EQ(pub.err(), "");

  // Everything is retained: a consumer from the earliest sees every quote.
  Process check = Run(TACHYON_TELEMETRY_CONSUMER_BIN,
                      {"--pattern", "md.eq.*", "--count", "1000"});
  ASSERT_EQ(check.Wait(30s), 0) << check.err();
  EXPECT_THAT(check.out(),
              HasSubstr("md.eq.AAPL: 500 messages (last sequence 500)\n"));
  EXPECT_THAT(check.out(),
              HasSubstr("md.eq.MSFT: 500 messages (last sequence 500)\n"));
  EXPECT_THAT(check.out(), HasSubstr("received 1000 messages from 2 streams "
                                     "matching md.eq.*, 0 gaps\n"));
}

TEST_F(ExamplesTest, TelemetryConsumerCountsEveryMatchingStream) {
  // Started first: it sees what is published before and after it subscribed.
  Process pub_cpu =
      Run(TACHYON_PUB_BIN, {"--stream", "telemetry.cpu", "--count", "20"});
  ASSERT_EQ(pub_cpu.Wait(20s), 0) << pub_cpu.err();
  Process consumer = Run(TACHYON_TELEMETRY_CONSUMER_BIN, {"--count", "30"});
  Process pub_disk = Run(TACHYON_PUB_BIN, {"--stream", "telemetry.disk",
                                           "--count", "10", "--rate", "200"});
  Process other =
      Run(TACHYON_PUB_BIN, {"--stream", "metrics.cpu", "--count", "5"});
  ASSERT_EQ(pub_disk.Wait(20s), 0) << pub_disk.err();
  ASSERT_EQ(other.Wait(20s), 0) << other.err();
  ASSERT_EQ(consumer.Wait(20s), 0) << consumer.err();
  EXPECT_EQ(consumer.out(),
            "telemetry.cpu: 20 messages (last sequence 20)\n"
            "telemetry.disk: 10 messages (last sequence 10)\n"
            "received 30 messages from 2 streams matching telemetry.*, "
            "0 gaps\n");
}

TEST_F(ExamplesTest, AsyncRequestClientReportsNoSuchService) {
  Process p =
      Run(TACHYON_ASYNC_REQUEST_CLIENT_BIN, {"--count", "3", "--service", "9"});
  ASSERT_EQ(p.Wait(20s), 0) << p.err();
  EXPECT_THAT(p.out(),
              HasSubstr("request 1: NOT_FOUND: request to service 9: "
                        "NO_SUCH_SERVICE: no backend service with id 9 is "
                        "configured\n"));
  EXPECT_THAT(p.out(), HasSubstr("request 3: NOT_FOUND"));
  EXPECT_THAT(p.out(), HasSubstr("3 of 3 requests answered\n"));
}

using Answer = std::pair<protocol::ResponseStatus, std::string>;

TEST(ServiceExamplesTest, QuoteServiceAnswersFromItsTable) {
  Process service;
  const std::uint16_t port =
      StartServiceProcess(&service, {TACHYON_QUOTE_SERVICE_BIN, "--port", "0",
                                     "--threads", "2", "--count", "2"});
  ASSERT_NE(port, 0);
  EXPECT_EQ(
      AskAsGateway(port, 1, "MSFT"),
      Answer(protocol::ResponseStatus::kOk, "MSFT bid 402.10 ask 402.14"));
  EXPECT_EQ(
      AskAsGateway(port, 2, "XYZ"),
      Answer(protocol::ResponseStatus::kBackendError, "unknown symbol XYZ"));
  ASSERT_EQ(service.Wait(10s), 0) << service.err();
  EXPECT_THAT(service.out(), HasSubstr("quote_service: answered 2 requests\n"));
}

TEST(ServiceExamplesTest, RiskCheckServiceAcceptsAndRejectsOrders) {
  Process service;
  const std::uint16_t port =
      StartServiceProcess(&service, {TACHYON_RISK_CHECK_SERVICE_BIN, "--port",
                                     "0", "--limit", "50000", "--count", "3"});
  ASSERT_NE(port, 0);
  EXPECT_EQ(
      AskAsGateway(port, 1, "AAPL 100 189.50"),
      Answer(protocol::ResponseStatus::kOk, "ACCEPT AAPL notional 18950.00"));
  EXPECT_EQ(AskAsGateway(port, 2, "NVDA 100 881.05"),
            Answer(protocol::ResponseStatus::kOk,
                   "REJECT NVDA notional 88105.00 exceeds limit 50000.00"));
  EXPECT_EQ(AskAsGateway(port, 3, "NVDA lots"),
            Answer(protocol::ResponseStatus::kBackendError,
                   "bad order \"NVDA lots\": expected SYMBOL QUANTITY PRICE"));
  ASSERT_EQ(service.Wait(10s), 0) << service.err();
  EXPECT_THAT(service.out(),
              HasSubstr("risk_check_service: answered 3 orders\n"));
}

TEST(ServiceExamplesTest, ServicesStopOnSigtermAndRefuseBadFlags) {
  for (const char* binary :
       {TACHYON_QUOTE_SERVICE_BIN, TACHYON_RISK_CHECK_SERVICE_BIN}) {
    Process service;
    ASSERT_NE(StartServiceProcess(&service, {binary, "--port", "0"}), 0);
    ASSERT_TRUE(service.Signal(SIGTERM));
    EXPECT_EQ(service.Wait(10s), 0) << binary << service.err();
    EXPECT_THAT(service.out(), HasSubstr("answered 0 ")) << binary;

    Process bad = Process::Start({binary, "--port", "70000"});
    EXPECT_EQ(bad.Wait(10s), 2) << binary;
    EXPECT_THAT(bad.err(), HasSubstr("bad --port")) << binary;
  }
}

TEST(ExamplesErrorTest, ClearErrorWithoutAGatewayAndHelp) {
  for (const char* binary :
       {TACHYON_MARKET_DATA_PUBLISHER_BIN, TACHYON_TELEMETRY_CONSUMER_BIN,
        TACHYON_ASYNC_REQUEST_CLIENT_BIN}) {
    Process p = Process::Start({binary, "--port", "1", "--count", "1"});
    EXPECT_EQ(p.Wait(20s), 1) << binary;
    EXPECT_THAT(p.err(), HasSubstr("cannot connect to 127.0.0.1:1: "
                                   "Connection refused"))
        << binary;

    Process help = Process::Start({binary, "--help"});
    EXPECT_EQ(help.Wait(10s), 0) << binary;
    EXPECT_THAT(help.out(), HasSubstr("--port")) << binary;

    Process bad = Process::Start({binary, "--count", "zero"});
    EXPECT_EQ(bad.Wait(10s), 2) << binary;
    EXPECT_THAT(bad.err(), HasSubstr("bad --count")) << binary;
  }
}

}  // namespace
}  // namespace tachyon::testing
