// The client facing peers that are not a healthy gateway: nothing listening,
// a server that sends garbage, stalls, hangs up, or sends hand-made frames
// (out-of-order sequences, fatal errors, frames of the wrong direction).
// Every case must end in a clear status that says why — never a crash or a
// hang. Loops are bounded; no assertion depends on how long anything took.
#include <sys/ioctl.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "client_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/fake_server.h"
#include "support/net.h"
#include "support/wait.h"
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

// Polls until the session fails (the status it failed with) or `rounds`
// polls of at most 20 ms each found it still healthy (OK).
absl::Status PollUntilFailure(Client& c, int rounds = 250) {
  absl::Status status;
  for (int i = 0; i < rounds && status.ok(); ++i) {
    status = c.Poll(16, 20ms).status();
  }
  return status;
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

// The server answers LOGON with only the first 4 bytes of an HTTP reply
// ("HTTP" read as a length of 1.3 GB) and then nothing: the client can only
// refuse them from those 4 bytes, and must hang up by itself rather than
// wait for more.
TEST(ClientFakeServerTest, GarbageInsteadOfLogonAckIsDataLoss) {
  std::atomic<bool> client_hung_up{false};
  std::uint16_t port = 0;
  absl::StatusOr<std::unique_ptr<Client>> c;
  {
    FakeServer server([&](FakePeer& peer) {
      peer.ReadFrame();
      peer.Send("HTTP");
      client_hung_up = peer.WaitForClose();
    });
    port = server.port();
    ClientOptions o = Fast();
    o.connect_timeout = 10s;  // waiting for more would end in a timeout
    c = Client::Connect("127.0.0.1", port, o);
  }  // joins the server's script
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(c.status().message(), HasSubstr(PortText(port)));
  EXPECT_THAT(c.status().message(), HasSubstr("FRAME_TOO_LONG"));
  EXPECT_THAT(c.status().message(), HasSubstr("Tachyon gateway?"));
  EXPECT_TRUE(client_hung_up) << "the client kept the connection open";
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

// A server that reads LOGON and never answers: the client gives up because
// of its connect timeout (DEADLINE_EXCEEDED, naming what it waited for and
// how long) and closes the connection itself.
TEST(ClientFakeServerTest, SilentServerTimesOutTheLogon) {
  std::atomic<bool> got_logon{false};
  std::atomic<bool> client_hung_up{false};
  std::uint16_t port = 0;
  absl::StatusOr<std::unique_ptr<Client>> c;
  {
    FakeServer server([&](FakePeer& peer) {
      auto logon = peer.ReadFrame();
      got_logon = logon.has_value() &&
                  tp::FrameView(*logon).type() == tp::MessageType::kLogon;
      client_hung_up = peer.WaitForClose(10s);
    });
    port = server.port();
    c = Client::Connect("127.0.0.1", port, Fast());
  }  // joins the server's script
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(c.status().message(),
              HasSubstr("no answer to LOGON from " + PortText(port)));
  EXPECT_THAT(std::string(c.status().message()),
              ::testing::ContainsRegex("within [0-9]+ ms"));
  EXPECT_TRUE(got_logon);
  EXPECT_TRUE(client_hung_up) << "the client kept the connection open";
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

// Reads LOGON and grants protocol `version` (with an instance epoch from
// version 2 on, as a gateway does).
bool GrantVersion(FakePeer& peer, std::uint16_t version) {
  auto logon = peer.ReadFrame();
  if (!logon || tp::FrameView(*logon).type() != tp::MessageType::kLogon) {
    return false;
  }
  peer.SendFrame([&](std::span<std::byte> out) {
    return tp::EncodeLogonAck(out,
                              {.version = version,
                               .heartbeat_interval_ms = 10000,
                               .session_id = SessionId{1},
                               .instance_epoch = version >= 2 ? 0x1234u : 0u});
  });
  return true;
}

// The id the gateway names is what LookupService returns; the client asked
// for exactly the name it was given.
TEST(ClientFakeServerTest, LookupServiceReturnsTheIdTheGatewayNames) {
  std::string asked;
  {
    FakeServer server([&](FakePeer& peer) {
      ASSERT_TRUE(GrantVersion(peer, 3));
      auto lookup = peer.ReadFrame();
      ASSERT_TRUE(lookup);
      const tp::FrameView f(*lookup);
      ASSERT_EQ(f.type(), tp::MessageType::kServiceLookup);
      const tp::ServiceLookupView v(f);
      asked = std::string(v.name());
      peer.SendFrame([&](std::span<std::byte> out) {
        return tp::EncodeServiceLookupAck(
            out, {.correlation_id = v.correlation_id(), .service_id = 42});
      });
      peer.WaitForClose();
    });
    auto c = Client::Connect("127.0.0.1", server.port(), Fast());
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ((*c)->protocol_version(), 3);
    auto id = (*c)->LookupService("pricing");
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(*id, 42u);
  }  // the client closes, then the server's script ends and is joined
  EXPECT_EQ(asked, "pricing");
}

// A gateway that granted version 2 has no SERVICE_LOOKUP: the client says
// so without sending one (the next frame the server sees is the LOGOUT).
TEST(ClientFakeServerTest,
     LookupServiceAgainstAVersion2GatewayIsUnimplemented) {
  tp::MessageType next = tp::MessageType::kLogon;
  {
    FakeServer server([&](FakePeer& peer) {
      ASSERT_TRUE(GrantVersion(peer, 2));
      auto frame = peer.ReadFrame();
      ASSERT_TRUE(frame);
      next = tp::FrameView(*frame).type();
      peer.SendFrame([](std::span<std::byte> out) {
        return tp::EncodeLogout(out, tp::ErrorCode::kNone);
      });
      peer.WaitForClose();
    });
    auto c = Client::Connect("127.0.0.1", server.port(), Fast());
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ((*c)->protocol_version(), 2);
    auto id = (*c)->LookupService("pricing");
    ASSERT_FALSE(id.ok());
    EXPECT_EQ(id.status().code(), absl::StatusCode::kUnimplemented);
    EXPECT_THAT(id.status().message(), HasSubstr("\"pricing\""));
    EXPECT_THAT(id.status().message(), HasSubstr("protocol version 2"));
    EXPECT_THAT(id.status().message(), HasSubstr("need version 3"));
    EXPECT_TRUE((*c)->connected());
    EXPECT_TRUE((*c)->Close().ok());
  }  // the client closed, then the server's script ended and was joined
  EXPECT_EQ(next, tp::MessageType::kLogout);
}

// A server that answers LOGON and then reads but never answers. The call
// fails by its response timeout, the session by the heartbeat silence
// limit: each status says which limit it was. (The response timeout, 300
// ms, is far below the silence limit, 3 x 1 s, so the call meets its own.)
TEST(ClientFakeServerTest, StallAfterLogonTimesOutCallsAndThenTheSession) {
  FakeServer server([](FakePeer& peer) {
    ASSERT_TRUE(peer.AcceptLogon(/*heartbeat_ms=*/1000));
    peer.WaitForClose(10s);  // reads, never answers
  });
  ClientOptions o = Fast();
  o.response_timeout = 300ms;
  auto c = Client::Connect("127.0.0.1", server.port(), o);
  ASSERT_TRUE(c.ok()) << c.status();
  auto stream = (*c)->OpenStream("s");
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kDeadlineExceeded)
      << stream.status();
  EXPECT_THAT(stream.status().message(),
              HasSubstr("no OPEN_STREAM_ACK for \"s\" from"));
  EXPECT_TRUE((*c)->connected()) << "a call timing out ends only the call";
  // Then nothing arrives for three heartbeat intervals: the session ends.
  const absl::Status poll = PollUntilFailure(**c);
  EXPECT_EQ(poll.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(poll.message(), HasSubstr("went silent"));
  EXPECT_THAT(poll.message(), HasSubstr("(3 heartbeat intervals)"));
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
    const absl::Status poll = PollUntilFailure(**c);
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
  const absl::Status poll = PollUntilFailure(**c);
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
  const absl::Status poll = PollUntilFailure(**c);
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
  int published = 0;
  for (; published < 10000; ++published) {
    s = (*c)->Publish(*stream, payload);
    if (!s.ok()) break;
  }
  release.store(true);
  // Given up because of the send timeout, and saying so, once the socket
  // buffers were full (long before the loop's end).
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(s.message(),
              HasSubstr("is not reading: send timed out after " +
                        std::to_string(o.send_timeout.count()) + " ms"));
  EXPECT_LT(published, 10000);
  EXPECT_FALSE((*c)->connected());
}

// Regression: a Poll whose thread woke long after the gateway's heartbeat
// arrived (descheduled on a busy host) took the unread heartbeat for three
// silent intervals and closed the connection. The client now looks at its
// socket before declaring the gateway silent.
TEST(ClientRobustnessTest, LateWakeUpIsNotTakenForSilence) {
  std::atomic<bool> send_heartbeat{false};
  std::atomic<bool> closed{false};
  FakeServer server([&](FakePeer& peer) {
    ASSERT_TRUE(peer.AcceptLogon(/*heartbeat_ms=*/20));
    ASSERT_TRUE(WaitUntil([&] { return send_heartbeat.load(); }));
    peer.SendFrame(
        [](std::span<std::byte> out) { return tp::EncodeHeartbeat(out, 1); });
    closed.store(peer.WaitForClose());
  });
  ClientOptions o = Fast();
  o.heartbeat_interval = std::chrono::milliseconds(20);
  auto c = Client::Connect("127.0.0.1", server.port(), o);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ((*c)->heartbeat_interval(), std::chrono::milliseconds(20));
  ASSERT_TRUE((*c)->Poll(16, std::chrono::milliseconds(0)).ok());
  const auto before = Clock::now();
  send_heartbeat.store(true);
  ASSERT_TRUE(WaitUntil([&] {
    int queued = 0;
    return ::ioctl((*c)->fd(), FIONREAD, &queued) == 0 && queued > 0;
  }));
  // The "late wake-up": more than three intervals since the last read.
  std::this_thread::sleep_until(before + std::chrono::milliseconds(100));
  const absl::StatusOr<int> n = (*c)->Poll(16, std::chrono::milliseconds(5));
  EXPECT_TRUE(n.ok()) << n.status();
  EXPECT_TRUE((*c)->connected());
  (void)(*c)->Close();
}

}  // namespace
}  // namespace tachyon::testing
