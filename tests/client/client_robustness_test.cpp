// The client facing peers that are not a healthy gateway: nothing listening,
// a server that sends garbage, stalls, hangs up, or sends hand-made frames
// (out-of-order sequences, fatal errors, frames of the wrong direction).
// Every case must end in a clear status within a bounded time — never a
// crash or a hang.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "client_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tachyon/client/client.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
using ::tachyon::client::Client;
using ::tachyon::client::ClientOptions;
using ::tachyon::client::Gap;
using ::tachyon::client::GapOrigin;
using ::tachyon::client::Message;
using ::tachyon::client::StartPosition;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

ClientOptions Fast() {
  ClientOptions o;
  o.connect_timeout = 500ms;
  o.response_timeout = 500ms;
  o.send_timeout = 500ms;
  o.close_timeout = 200ms;
  return o;
}

std::string PortText(std::uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

TEST(ClientConnectTest, UnreachablePortIsUnavailableNamingHostAndErrno) {
  const std::uint16_t port = UnusedPort();
  auto c = Client::Connect("127.0.0.1", port, Fast());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(c.status().message(),
              HasSubstr("cannot connect to " + PortText(port)));
  EXPECT_THAT(c.status().message(), HasSubstr("Connection refused"));
}

TEST(ClientConnectTest, UnresolvableHostIsUnavailable) {
  auto c = Client::Connect("no-such-host.invalid", 7400, Fast());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(c.status().message(), HasSubstr("no-such-host.invalid:7400"));
}

TEST(ClientConnectTest, OversizedLogonFieldsAreInvalidArgument) {
  FakeServer server([](FakePeer& peer) { peer.WaitForClose(1000ms); });
  ClientOptions o = Fast();
  o.token = std::string(256, 't');
  auto c = Client::Connect("127.0.0.1", server.port(), o);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ClientFakeServerTest, GarbageInsteadOfLogonAckIsDataLoss) {
  FakeServer server([](FakePeer& peer) {
    peer.ReadFrame();
    peer.Send("HTTP/1.1 400 Bad Request\r\n\r\n");
    peer.WaitForClose();
  });
  const auto start = Clock::now();
  auto c = Client::Connect("127.0.0.1", server.port(), Fast());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(c.status().message(), HasSubstr(PortText(server.port())));
  EXPECT_THAT(c.status().message(), HasSubstr("FRAME_TOO_LONG"));
  EXPECT_THAT(c.status().message(), HasSubstr("Tachyon gateway?"));
  EXPECT_LT(Clock::now() - start, 400ms);  // refused after 4 bytes
}

TEST(ClientFakeServerTest, WellFramedButWrongFrameBeforeLogonAckIsDataLoss) {
  FakeServer server([](FakePeer& peer) {
    peer.ReadFrame();
    peer.SendFrame(
        [](std::span<std::byte> out) { return tp::EncodeHeartbeat(out, 0); });
    peer.WaitForClose();
  });
  auto c = Client::Connect("127.0.0.1", server.port(), Fast());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(c.status().message(), HasSubstr("unexpected HEARTBEAT"));
}

TEST(ClientFakeServerTest, SilentServerTimesOutTheLogon) {
  FakeServer server([](FakePeer& peer) { peer.WaitForClose(3000ms); });
  const auto start = Clock::now();
  auto c = Client::Connect("127.0.0.1", server.port(), Fast());
  const auto took = Clock::now() - start;
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(c.status().message(),
              HasSubstr("no answer to LOGON from " + PortText(server.port())));
  EXPECT_GE(took, 450ms);
  EXPECT_LT(took, 2000ms);
}

TEST(ClientFakeServerTest, HangUpBeforeLogonAckIsUnavailable) {
  FakeServer server([](FakePeer& peer) { peer.ReadFrame(); });
  auto c = Client::Connect("127.0.0.1", server.port(), Fast());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(c.status().message(), HasSubstr("closed the connection"));
}

TEST(ClientFakeServerTest, FatalErrorBeforeLogonCarriesGatewayText) {
  FakeServer server([](FakePeer& peer) {
    peer.SendFrame([](std::span<std::byte> out) {
      return tp::EncodeError(out, {.code = tp::ErrorCode::kLimitExceeded,
                                   .fatal = true,
                                   .text = "too many connections"});
    });
    peer.WaitForClose();
  });
  auto c = Client::Connect("127.0.0.1", server.port(), Fast());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(c.status().message(), HasSubstr("LIMIT_EXCEEDED"));
  EXPECT_THAT(c.status().message(), HasSubstr("too many connections"));
}

TEST(ClientFakeServerTest, UnsupportedVersionRejectIsFailedPrecondition) {
  FakeServer server([](FakePeer& peer) {
    peer.ReadFrame();
    peer.SendFrame([](std::span<std::byte> out) {
      return tp::EncodeLogonReject(
          out, {.code = tp::ErrorCode::kUnsupportedVersion,
                .text = "this gateway speaks version 2 only"});
    });
    peer.WaitForClose();
  });
  auto c = Client::Connect("127.0.0.1", server.port(), Fast());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(c.status().message(), HasSubstr("version 2 only"));
}

TEST(ClientFakeServerTest, StallAfterLogonTimesOutCallsAndThenTheSession) {
  FakeServer server([](FakePeer& peer) {
    ASSERT_TRUE(peer.AcceptLogon(/*heartbeat_ms=*/100));
    peer.WaitForClose(3000ms);  // reads, never answers
  });
  auto c = Client::Connect("127.0.0.1", server.port(), Fast());
  ASSERT_TRUE(c.ok()) << c.status();
  ClientOptions o = Fast();
  // OPEN_STREAM is never answered: the response timeout (500 ms) and the
  // silence timeout (3 x 100 ms) race; either way the call ends in bounded
  // time with a clear status.
  const auto start = Clock::now();
  auto stream = (*c)->OpenStream("s");
  EXPECT_LT(Clock::now() - start, 1500ms);
  ASSERT_FALSE(stream.ok());
  EXPECT_THAT(stream.status().code(),
              ::testing::AnyOf(absl::StatusCode::kDeadlineExceeded,
                               absl::StatusCode::kUnavailable));
  absl::Status poll;
  while (poll.ok() && Clock::now() - start < 3s) {
    poll = (*c)->Poll(16, 20ms).status();
  }
  EXPECT_EQ(poll.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(poll.message(), HasSubstr("went silent"));
  EXPECT_FALSE((*c)->connected());
}

TEST(ClientFakeServerTest, GarbageAfterLogonIsDataLossAndReportedToPeer) {
  std::optional<std::vector<std::byte>> error_frame;
  {
    FakeServer server([&](FakePeer& peer) {
      ASSERT_TRUE(peer.AcceptLogon());
      // A well-formed header with an unknown type.
      std::vector<std::byte> junk(16);
      tp::StoreU32(junk.data(), 16);
      tp::StoreU8(junk.data() + 4, 1);
      tp::StoreU8(junk.data() + 5, 0x7f);
      peer.Send(junk);
      error_frame = peer.ReadFrame();
      peer.WaitForClose();
    });
    auto c = Client::Connect("127.0.0.1", server.port(), Fast());
    ASSERT_TRUE(c.ok()) << c.status();
    absl::Status poll;
    const auto start = Clock::now();
    while (poll.ok() && Clock::now() - start < 2s) {
      poll = (*c)->Poll(16, 20ms).status();
    }
    EXPECT_EQ(poll.code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(poll.message(), HasSubstr("UNKNOWN_TYPE"));
  }
  ASSERT_TRUE(error_frame.has_value());
  tp::ErrorView e{tp::FrameView(*error_frame)};
  EXPECT_EQ(e.type(), tp::MessageType::kError);
  EXPECT_EQ(e.code(), tp::ErrorCode::kUnknownType);
  EXPECT_TRUE(e.fatal());
}

TEST(ClientFakeServerTest, ClientOnlyFrameFromServerIsAProtocolViolation) {
  FakeServer server([](FakePeer& peer) {
    ASSERT_TRUE(peer.AcceptLogon());
    peer.SendFrame([](std::span<std::byte> out) {
      return tp::EncodeOpenStream(out, 1, "x");
    });
    peer.WaitForClose();
  });
  auto c = Client::Connect("127.0.0.1", server.port(), Fast());
  ASSERT_TRUE(c.ok());
  absl::Status poll;
  const auto start = Clock::now();
  while (poll.ok() && Clock::now() - start < 2s) {
    poll = (*c)->Poll(16, 20ms).status();
  }
  EXPECT_EQ(poll.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(poll.message(), HasSubstr("unexpected OPEN_STREAM"));
}

// The gateway never skips sequences, so a scripted server checks the
// client's own gap detection: DATA 1, 3 (2 skipped), 2 (late duplicate),
// then a GAP that starts beyond what is expected.
TEST(ClientFakeServerTest, DetectsSequenceGapsAndDropsDuplicates) {
  FakeServer server([](FakePeer& peer) {
    ASSERT_TRUE(peer.AcceptLogon());
    auto sub = peer.ReadFrame();
    ASSERT_TRUE(sub);
    const tp::SubscribeView s{tp::FrameView(*sub)};
    const StreamId stream{5};
    peer.SendFrame([&](std::span<std::byte> out) {
      return tp::EncodeSubscribeAck(out, {.stream_id = stream,
                                          .id = s.subscription_id().value(),
                                          .next_sequence = Sequence{1},
                                          .name = "feed"});
    });
    for (std::uint64_t seq : {1, 3, 2}) {
      peer.SendFrame([&](std::span<std::byte> out) {
        return tp::EncodeData(out, stream, Sequence{seq}, 1000,
                              tp::AsBytes(std::to_string(seq)));
      });
    }
    peer.SendFrame([&](std::span<std::byte> out) {
      return tp::EncodeGap(out, stream, Sequence{6}, Sequence{7});
    });
    peer.SendFrame([&](std::span<std::byte> out) {
      return tp::EncodeData(out, stream, Sequence{8}, 1000, tp::AsBytes("8"));
    });
    peer.WaitForClose();
  });
  auto c = Client::Connect("127.0.0.1", server.port(), Fast());
  ASSERT_TRUE(c.ok());
  std::vector<std::uint64_t> seqs;
  std::vector<Gap> gaps;
  ASSERT_TRUE((*c)->Subscribe(
                      "feed", StartPosition::Latest(),
                      [&](const Message& m) {
                        EXPECT_EQ(m.stream_name, "feed");
                        seqs.push_back(m.sequence.value());
                      },
                      [&](const Gap& g) { gaps.push_back(g); })
                  .ok());
  ASSERT_TRUE(PollUntil(
      **c, [&] { return seqs.size() == 3; }, 2000ms));
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{1, 3, 8}));
  ASSERT_EQ(gaps.size(), 3u);
  EXPECT_EQ(gaps[0].origin, GapOrigin::kDetected);
  EXPECT_EQ(gaps[0].from.value(), 2u);
  EXPECT_EQ(gaps[0].to.value(), 2u);
  EXPECT_EQ(gaps[1].origin, GapOrigin::kDetected);  // 4..5, before the GAP
  EXPECT_EQ(gaps[1].from.value(), 4u);
  EXPECT_EQ(gaps[1].to.value(), 5u);
  EXPECT_EQ(gaps[2].origin, GapOrigin::kGateway);
  EXPECT_EQ(gaps[2].from.value(), 6u);
  EXPECT_EQ(gaps[2].to.value(), 7u);
  EXPECT_EQ((*c)->stats().duplicates_dropped, 1u);
  EXPECT_EQ((*c)->stats().messages_lost, 5u);
}

// Regression: a SUBSCRIBE_ACK with next_sequence 0 ("already being
// delivered", PROTOCOL.md 11.6) for a stream the client holds no state for
// used to set the expected sequence to 0, so the next DATA reported a gap
// of every sequence before it. Now the first DATA positions the stream and
// gap detection works from there.
TEST(ClientFakeServerTest, SubscribeAckWithNextSequenceZeroPositionsNothing) {
  FakeServer server([](FakePeer& peer) {
    ASSERT_TRUE(peer.AcceptLogon());
    auto sub = peer.ReadFrame();
    ASSERT_TRUE(sub);
    const tp::SubscribeView s{tp::FrameView(*sub)};
    const StreamId stream{9};
    peer.SendFrame([&](std::span<std::byte> out) {
      return tp::EncodeSubscribeAck(out, {.stream_id = stream,
                                          .id = s.subscription_id().value(),
                                          .next_sequence = Sequence{0},
                                          .name = "shared"});
    });
    for (std::uint64_t seq : {7, 8, 7, 10}) {
      peer.SendFrame([&](std::span<std::byte> out) {
        return tp::EncodeData(out, stream, Sequence{seq}, 1000,
                              tp::AsBytes(std::to_string(seq)));
      });
    }
    peer.WaitForClose();
  });
  auto c = Client::Connect("127.0.0.1", server.port(), Fast());
  ASSERT_TRUE(c.ok());
  std::vector<std::uint64_t> seqs;
  std::vector<Gap> gaps;
  ASSERT_TRUE(
      (*c)->Subscribe(
              "shared", StartPosition::Latest(),
              [&](const Message& m) { seqs.push_back(m.sequence.value()); },
              [&](const Gap& g) { gaps.push_back(g); })
          .ok());
  ASSERT_TRUE(PollUntil(
      **c, [&] { return seqs.size() == 3; }, 2000ms));
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{7, 8, 10}));
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].origin, GapOrigin::kDetected);
  EXPECT_EQ(gaps[0].from.value(), 9u);
  EXPECT_EQ(gaps[0].to.value(), 9u);
  EXPECT_EQ((*c)->stats().messages_lost, 1u);
  EXPECT_EQ((*c)->stats().duplicates_dropped, 1u);
}

TEST(ClientFakeServerTest, FatalSlowConsumerErrorIsUnavailableWithText) {
  FakeServer server([](FakePeer& peer) {
    ASSERT_TRUE(peer.AcceptLogon());
    peer.SendFrame([](std::span<std::byte> out) {
      return tp::EncodeError(out, {.code = tp::ErrorCode::kSlowConsumer,
                                   .fatal = true,
                                   .stream_id = StreamId{3},
                                   .text = "fell 9 MiB behind"});
    });
    peer.WaitForClose();
  });
  auto c = Client::Connect("127.0.0.1", server.port(), Fast());
  ASSERT_TRUE(c.ok());
  absl::Status poll;
  const auto start = Clock::now();
  while (poll.ok() && Clock::now() - start < 2s) {
    poll = (*c)->Poll(16, 20ms).status();
  }
  EXPECT_EQ(poll.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(poll.message(), HasSubstr("SLOW_CONSUMER"));
  EXPECT_THAT(poll.message(), HasSubstr("fell 9 MiB behind"));
  EXPECT_THAT(poll.message(), HasSubstr("stream 3"));
}

TEST(ClientFakeServerTest, ServerThatStopsReadingTimesOutTheSend) {
  std::atomic<bool> release{false};
  FakeServer server([&](FakePeer& peer) {
    ASSERT_TRUE(peer.AcceptLogon(/*heartbeat_ms=*/60000));
    auto open = peer.ReadFrame();
    ASSERT_TRUE(open);
    const tp::OpenStreamView o{tp::FrameView(*open)};
    peer.SendFrame([&](std::span<std::byte> out) {
      return tp::EncodeOpenStreamAck(out, {.stream_id = StreamId{1},
                                           .id = o.request_id(),
                                           .next_sequence = Sequence{1},
                                           .name = o.name()});
    });
    // Then never read again, until the test is over.
    const auto until = Clock::now() + 5s;
    while (!release.load() && Clock::now() < until) {
      std::this_thread::sleep_for(5ms);
    }
  });
  ClientOptions o = Fast();
  o.socket_send_buffer = 4096;
  auto c = Client::Connect("127.0.0.1", server.port(), o);
  ASSERT_TRUE(c.ok());
  auto stream = (*c)->OpenStream("s");
  ASSERT_TRUE(stream.ok()) << stream.status();
  const std::string payload(60000, 'p');
  absl::Status s;
  const auto start = Clock::now();
  for (int i = 0; i < 10000 && s.ok(); ++i) s = (*c)->Publish(*stream, payload);
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("not reading"));
  release.store(true);
}

}  // namespace
}  // namespace tachyon::testing
