// AsyncClient against a real in-process gateway on loopback, with plain
// callbacks and with C++20 coroutines (asio::use_awaitable), and against
// fake servers that refuse, stall, or send garbage. Every io_context runs
// under run_for with a deadline, so a bug shows as a failure, never a hang.
#include "tachyon/client/async_client.h"

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/fake_server.h"
#include "support/gateway_fixture.h"
#include "support/net.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
using ::tachyon::client::AsyncClient;
using ::tachyon::client::AsyncClientOptions;
using ::tachyon::client::Gap;
using ::tachyon::client::GapOrigin;
using ::tachyon::client::Message;
using ::tachyon::client::StartPosition;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr auto kRunLimit = 10s;

AsyncClientOptions Fast() {
  AsyncClientOptions o;
  o.connect_timeout = 1000ms;
  o.response_timeout = 1000ms;
  o.send_timeout = 1000ms;
  o.close_timeout = 500ms;
  return o;
}

std::string PortText(std::uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

/// Runs `body` as a coroutine on `io` until it and everything it started
/// finished (bounded by kRunLimit). Fails the test if it did not finish or
/// threw.
void RunCoroutine(asio::io_context& io, asio::awaitable<void> body) {
  bool done = false;
  asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) {
    done = true;
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        ADD_FAILURE() << "coroutine threw: " << ex.what();
      }
    }
  });
  io.run_for(kRunLimit);
  EXPECT_TRUE(done) << "coroutine did not finish within the run limit";
}

/// A one-shot event a coroutine can wait for with a timeout: Set() from a
/// handler; Wait() returns true if set before `timeout`.
class Event {
 public:
  explicit Event(asio::io_context& io) : timer_(io) {}
  void Set() {
    set_ = true;
    timer_.cancel();
  }
  asio::awaitable<bool> Wait(std::chrono::milliseconds timeout) {
    if (set_) co_return true;
    timer_.expires_after(timeout);
    asio::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return set_;
  }

 private:
  asio::steady_timer timer_;
  bool set_ = false;
};

// Against an in-process gateway on each io backend, started by SetUp.
class AsyncClientTest : public GatewayTest {
 protected:
  void SetUp() override {
    GatewayTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    Start();
  }
  std::uint16_t port() const { return gateway_->port(); }

  asio::io_context io_;
};

// ---------------------------------------------------------------- callbacks

TEST_P(AsyncClientTest, CallbacksConnectOpenPublishWithAckRequestAndClose) {
  AsyncClient client(io_, Fast());
  std::vector<std::string> steps;
  absl::StatusOr<Sequence> first = absl::UnknownError("not run");
  absl::StatusOr<Sequence> second = absl::UnknownError("not run");
  absl::StatusOr<std::vector<std::byte>> response =
      absl::UnknownError("not run");
  bool closed = false;

  client.AsyncConnect("127.0.0.1", port(), [&](absl::Status s) {
    ASSERT_TRUE(s.ok()) << s;
    steps.push_back("connected");
    client.AsyncOpenStream("cb.stream", [&](absl::StatusOr<StreamId> stream) {
      ASSERT_TRUE(stream.ok()) << stream.status();
      steps.push_back("opened");
      client.AsyncPublishWithAck(
          *stream, "one", [&, stream](absl::StatusOr<Sequence> seq) {
            first = seq;
            // A plain publish completes once queued; the next ack shows
            // the gateway appended it in between.
            client.AsyncPublish(*stream, "two", [&, stream](absl::Status p) {
              EXPECT_TRUE(p.ok()) << p;
              client.AsyncPublishWithAck(
                  *stream, "three", [&](absl::StatusOr<Sequence> s3) {
                    second = s3;
                    client.AsyncRequest(
                        42, "ping", 1000ms,
                        [&](absl::StatusOr<std::vector<std::byte>> r) {
                          response = std::move(r);
                          client.AsyncClose([&](absl::Status c) {
                            EXPECT_TRUE(c.ok()) << c;
                            closed = true;
                          });
                        });
                  });
            });
          });
    });
  });
  // The handlers run only from the io_context, never inside the call.
  EXPECT_TRUE(steps.empty());
  io_.run_for(kRunLimit);

  EXPECT_EQ(steps, (std::vector<std::string>{"connected", "opened"}));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->value(), 1u);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->value(), 3u);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(closed);
  EXPECT_FALSE(client.connected());
  EXPECT_EQ(client.stats().publishes, 3u);
}

TEST_P(AsyncClientTest,
       CallbacksSubscribeThenReceiveWhatAnotherClientPublishes) {
  AsyncClient sub(io_, Fast());
  AsyncClient pub(io_, Fast());
  std::vector<std::string> received;
  std::vector<std::uint64_t> sequences;
  auto close_both = [&] {
    sub.AsyncClose([](absl::Status) {});
    pub.AsyncClose([](absl::Status) {});
  };
  sub.AsyncConnect("127.0.0.1", port(), [&](absl::Status s) {
    ASSERT_TRUE(s.ok()) << s;
    sub.AsyncSubscribe(
        "feed.*", StartPosition::Latest(),
        [&](const Message& m) {
          EXPECT_EQ(m.stream_name, "feed.x");
          received.emplace_back(m.text());
          sequences.push_back(m.sequence.value());
          if (received.size() == 3) close_both();
        },
        [&](absl::StatusOr<SubscriptionId> id) {
          ASSERT_TRUE(id.ok()) << id.status();
          pub.AsyncConnect("127.0.0.1", port(), [&](absl::Status c) {
            ASSERT_TRUE(c.ok()) << c;
            pub.AsyncOpenStream("feed.x", [&](absl::StatusOr<StreamId> st) {
              ASSERT_TRUE(st.ok()) << st.status();
              for (const char* text : {"a", "b", "c"}) {
                EXPECT_TRUE(pub.TryPublish(*st, text).ok());
              }
            });
          });
        });
  });
  io_.run_for(kRunLimit);
  EXPECT_EQ(received, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(sequences, (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(sub.stats().messages_received, 3u);
}

// --------------------------------------------------------------- coroutines

TEST_P(AsyncClientTest, CoroutineSubscribePublishRoundTripInOrder) {
  constexpr int kMessages = 2000;
  AsyncClient client(io_, Fast());
  Event all_received(io_);
  std::vector<int> payloads;
  RunCoroutine(io_, [&]() -> asio::awaitable<void> {
    absl::Status s =
        co_await client.AsyncConnect("127.0.0.1", port(), asio::use_awaitable);
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_TRUE(client.connected());
    EXPECT_NE(client.session_id().value(), 0u);
    EXPECT_EQ(client.peer(), PortText(port()));
    absl::StatusOr<SubscriptionId> id = co_await client.AsyncSubscribe(
        "co.trip", StartPosition::Latest(),
        [&](const Message& m) {
          int v = -1;
          if (m.payload.size() >= sizeof v) {
            std::memcpy(&v, m.payload.data(), sizeof v);
          }
          payloads.push_back(v);
          if (payloads.size() == kMessages) all_received.Set();
        },
        asio::use_awaitable);
    EXPECT_TRUE(id.ok()) << id.status();
    absl::StatusOr<StreamId> stream =
        co_await client.AsyncOpenStream("co.trip", asio::use_awaitable);
    EXPECT_TRUE(stream.ok()) << stream.status();
    // The cache answers the second open without a round trip.
    absl::StatusOr<StreamId> again =
        co_await client.AsyncOpenStream("co.trip", asio::use_awaitable);
    EXPECT_EQ(again.value(), stream.value());
    for (int i = 0; i < kMessages; ++i) {
      std::array<std::byte, 64> payload{};
      std::memcpy(payload.data(), &i, sizeof i);
      absl::Status p =
          co_await client.AsyncPublish(*stream, payload, asio::use_awaitable);
      if (!p.ok()) {
        ADD_FAILURE() << p;
        break;
      }
    }
    EXPECT_TRUE(co_await all_received.Wait(5000ms));
    absl::StatusOr<Sequence> last = co_await client.AsyncPublishWithAck(
        *stream, "end", asio::use_awaitable);
    EXPECT_EQ(last.value().value(), kMessages + 1u);
    EXPECT_TRUE((co_await client.AsyncClose(asio::use_awaitable)).ok());
  }());
  // kMessages, then "end" (its ack came back after its DATA: same session,
  // same order).
  ASSERT_EQ(payloads.size(), static_cast<std::size_t>(kMessages) + 1);
  for (int i = 0; i < kMessages; ++i) ASSERT_EQ(payloads[i], i);
  EXPECT_EQ(client.stats().gaps, 0u);
  EXPECT_EQ(client.stats().messages_received, kMessages + 1u);
}

TEST_P(AsyncClientTest, CoroutineRequestToMissingServiceIsNotFound) {
  AsyncClient client(io_, Fast());
  RunCoroutine(io_, [&]() -> asio::awaitable<void> {
    EXPECT_TRUE(
        (co_await client.AsyncConnect("127.0.0.1", port(), asio::use_awaitable))
            .ok());
    // Several requests in flight at once, answered by correlation id.
    std::vector<absl::StatusOr<std::vector<std::byte>>> answers;
    for (std::uint32_t service : {7u, 8u}) {
      answers.push_back(co_await client.AsyncRequest(service, "hello", 1000ms,
                                                     asio::use_awaitable));
    }
    for (std::size_t i = 0; i < answers.size(); ++i) {
      EXPECT_EQ(answers[i].status().code(), absl::StatusCode::kNotFound);
      EXPECT_THAT(answers[i].status().message(), HasSubstr("NO_SUCH_SERVICE"));
      EXPECT_THAT(
          answers[i].status().message(),
          HasSubstr("no backend service with id " + std::to_string(7 + i)));
    }
    absl::StatusOr<std::vector<std::byte>> bad =
        co_await client.AsyncRequest(0, "x", 100ms, asio::use_awaitable);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE((co_await client.AsyncClose(asio::use_awaitable)).ok());
  }());
}

TEST_P(AsyncClientTest, CoroutineLookupOfAnUnknownServiceIsNotFound) {
  AsyncClient client(io_, Fast());
  RunCoroutine(io_, [&]() -> asio::awaitable<void> {
    EXPECT_TRUE(
        (co_await client.AsyncConnect("127.0.0.1", port(), asio::use_awaitable))
            .ok());
    EXPECT_EQ(client.protocol_version(), tp::kMaxProtocolVersion);
    absl::StatusOr<std::uint32_t> id =
        co_await client.AsyncLookupService("pricing", asio::use_awaitable);
    EXPECT_EQ(id.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(id.status().message(), HasSubstr("\"pricing\""));
    absl::StatusOr<std::uint32_t> bad =
        co_await client.AsyncLookupService("", asio::use_awaitable);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(client.connected());
    EXPECT_TRUE((co_await client.AsyncClose(asio::use_awaitable)).ok());
  }());
}

TEST_P(AsyncClientTest, CoroutineStatusesForBadCallsAndAfterClose) {
  AsyncClient client(io_, Fast());
  RunCoroutine(io_, [&]() -> asio::awaitable<void> {
    // Before AsyncConnect.
    absl::StatusOr<StreamId> early =
        co_await client.AsyncOpenStream("x", asio::use_awaitable);
    EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(early.status().message(), HasSubstr("AsyncConnect"));

    EXPECT_TRUE(
        (co_await client.AsyncConnect("127.0.0.1", port(), asio::use_awaitable))
            .ok());
    absl::Status twice =
        co_await client.AsyncConnect("127.0.0.1", port(), asio::use_awaitable);
    EXPECT_EQ(twice.code(), absl::StatusCode::kFailedPrecondition);

    absl::StatusOr<StreamId> bad_name =
        co_await client.AsyncOpenStream("bad name", asio::use_awaitable);
    EXPECT_EQ(bad_name.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(bad_name.status().message(),
                HasSubstr("invalid stream name \"bad name\""));
    absl::StatusOr<SubscriptionId> bad_pattern = co_await client.AsyncSubscribe(
        "a*b*", StartPosition::Latest(), [](const Message&) {},
        asio::use_awaitable);
    EXPECT_EQ(bad_pattern.status().code(), absl::StatusCode::kInvalidArgument);
    absl::StatusOr<SubscriptionId> zero = co_await client.AsyncSubscribe(
        "a", StartPosition::From(Sequence{0}), [](const Message&) {},
        asio::use_awaitable);
    EXPECT_EQ(zero.status().code(), absl::StatusCode::kInvalidArgument);

    absl::Status unopened =
        co_await client.AsyncPublish(StreamId{99}, "x", asio::use_awaitable);
    EXPECT_EQ(unopened.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(unopened.message(), HasSubstr("AsyncOpenStream first"));

    absl::StatusOr<StreamId> stream =
        co_await client.AsyncOpenStream("limits", asio::use_awaitable);
    const std::vector<std::byte> huge(client.max_payload_length() + 1);
    EXPECT_EQ(client.TryPublish(*stream, huge).code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(client.Unsubscribe(SubscriptionId{12345}).code(),
              absl::StatusCode::kNotFound);

    EXPECT_TRUE((co_await client.AsyncClose(asio::use_awaitable)).ok());
    // Idempotent, and everything after it is FAILED_PRECONDITION.
    EXPECT_TRUE((co_await client.AsyncClose(asio::use_awaitable)).ok());
    absl::Status after =
        co_await client.AsyncPublish(*stream, "x", asio::use_awaitable);
    EXPECT_EQ(after.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(after.message(), HasSubstr("is closed"));
  }());
}

// The first subscription unsubscribes in its handler. A second one (a
// pattern covering the same stream) sees every message, so once it has seen
// the last, every message has been dispatched: the first saw only one.
TEST_P(AsyncClientTest, UnsubscribeFromTheHandlerStopsDelivery) {
  constexpr int kMessages = 51;
  AsyncClient client(io_, Fast());
  int calls = 0;
  int witnessed = 0;
  Event all_witnessed(io_);
  RunCoroutine(io_, [&]() -> asio::awaitable<void> {
    EXPECT_TRUE(
        (co_await client.AsyncConnect("127.0.0.1", port(), asio::use_awaitable))
            .ok());
    SubscriptionId id;
    absl::StatusOr<SubscriptionId> sub = co_await client.AsyncSubscribe(
        "unsub.x", StartPosition::Latest(),
        [&](const Message&) {
          ++calls;
          EXPECT_TRUE(client.Unsubscribe(id).ok());
        },
        asio::use_awaitable);
    EXPECT_TRUE(sub.ok()) << sub.status();
    id = *sub;
    absl::StatusOr<SubscriptionId> witness = co_await client.AsyncSubscribe(
        "unsub.*", StartPosition::Latest(),
        [&](const Message&) {
          if (++witnessed == kMessages) all_witnessed.Set();
        },
        asio::use_awaitable);
    EXPECT_TRUE(witness.ok()) << witness.status();
    absl::StatusOr<StreamId> stream =
        co_await client.AsyncOpenStream("unsub.x", asio::use_awaitable);
    for (int i = 0; i < kMessages; ++i) {
      EXPECT_TRUE(client.TryPublish(*stream, "m").ok());
    }
    EXPECT_TRUE(co_await all_witnessed.Wait(5000ms));
    EXPECT_TRUE((co_await client.AsyncClose(asio::use_awaitable)).ok());
  }());
  EXPECT_EQ(witnessed, kMessages);
  EXPECT_EQ(calls, 1);
}

TEST_P(AsyncClientTest, HeartbeatsKeepAnIdleSessionAlive) {
  AsyncClientOptions options = Fast();
  options.heartbeat_interval = 20ms;  // the gateway's minimum is 10 ms
  int errors = 0;
  options.on_error = [&](const absl::Status&) { ++errors; };
  AsyncClient client(io_, options);
  RunCoroutine(io_, [&]() -> asio::awaitable<void> {
    EXPECT_TRUE(
        (co_await client.AsyncConnect("127.0.0.1", port(), asio::use_awaitable))
            .ok());
    EXPECT_EQ(client.heartbeat_interval(), 20ms);
    // 15 intervals of silence: the gateway would drop us after 3.
    asio::steady_timer idle(io_, 300ms);
    co_await idle.async_wait(asio::use_awaitable);
    EXPECT_TRUE(client.connected());
    absl::StatusOr<StreamId> stream =
        co_await client.AsyncOpenStream("still.here", asio::use_awaitable);
    EXPECT_TRUE(stream.ok()) << stream.status();
    EXPECT_TRUE((co_await client.AsyncClose(asio::use_awaitable)).ok());
  }());
  EXPECT_GE(client.stats().heartbeats_sent, 5u);
  EXPECT_EQ(errors, 0);
}

TEST_P(AsyncClientTest, DestroyingTheClientCancelsPendingOperations) {
  auto client = std::make_unique<AsyncClient>(io_, Fast());
  absl::StatusOr<std::vector<std::byte>> response =
      absl::UnknownError("not run");
  client->AsyncConnect("127.0.0.1", port(), [&](absl::Status s) {
    ASSERT_TRUE(s.ok()) << s;
    client->AsyncRequest(5, "x", 1000ms,
                         [&](absl::StatusOr<std::vector<std::byte>> r) {
                           response = std::move(r);
                         });
    client.reset();  // before the RESPONSE can arrive
  });
  io_.run_for(kRunLimit);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(response.status().message(), HasSubstr("destroyed"));
}

// Against a gateway each test configures and starts itself.
class AsyncClientLogonTest : public GatewayTest {};

TEST_P(AsyncClientLogonTest, WrongTokenIsPermissionDenied) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.token = "secret";
  Start(c);
  asio::io_context io;
  AsyncClientOptions options = Fast();
  options.token = "wrong";
  AsyncClient client(io, options);
  absl::Status status = absl::UnknownError("not run");
  client.AsyncConnect("127.0.0.1", gateway_->port(),
                      [&](absl::Status s) { status = s; });
  io.run_for(kRunLimit);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(status.message(), HasSubstr("logon rejected by"));
  EXPECT_THAT(status.message(), HasSubstr("NOT_AUTHORIZED"));
}

// ------------------------------------------------------------ unreachable

TEST(AsyncClientConnectTest, UnreachablePortIsUnavailableNamingHostAndErrno) {
  asio::io_context io;
  AsyncClient client(io, Fast());
  const std::uint16_t port = UnusedPort();
  absl::Status status = absl::UnknownError("not run");
  client.AsyncConnect("127.0.0.1", port, [&](absl::Status s) { status = s; });
  io.run_for(kRunLimit);
  // Refused at once, not timed out: nothing was left to run.
  EXPECT_TRUE(io.stopped()) << "still waiting after the run limit";
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(),
              HasSubstr("cannot connect to " + PortText(port)));
  EXPECT_THAT(status.message(), HasSubstr("Connection refused"));
  EXPECT_FALSE(client.connected());
}

TEST(AsyncClientConnectTest, UnresolvableHostIsUnavailable) {
  asio::io_context io;
  AsyncClient client(io, Fast());
  absl::Status status = absl::UnknownError("not run");
  client.AsyncConnect("no-such-host.invalid", 7400,
                      [&](absl::Status s) { status = s; });
  io.run_for(kRunLimit);
  EXPECT_THAT(status.code(),
              ::testing::AnyOf(absl::StatusCode::kUnavailable,
                               absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(status.message(), HasSubstr("no-such-host.invalid:7400"));
}

TEST(AsyncClientConnectTest, ReconnectOptionIsRejected) {
  asio::io_context io;
  AsyncClientOptions options = Fast();
  options.reconnect.enabled = true;
  AsyncClient client(io, options);
  absl::Status status = absl::UnknownError("not run");
  client.AsyncConnect("127.0.0.1", 1, [&](absl::Status s) { status = s; });
  io.run_for(kRunLimit);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
}

// ------------------------------------------------------------ fake servers

// The server sends only the first 4 bytes of an HTTP answer ("HTTP", a
// length of 1.3 GB) and nothing more: the client can only have refused them
// from those 4 bytes, and must hang up by itself.
TEST(AsyncClientFakeServerTest, GarbageInsteadOfLogonAckIsDataLoss) {
  std::atomic<bool> client_hung_up{false};
  std::uint16_t port = 0;
  {
    FakeServer server([&](FakePeer& peer) {
      peer.ReadFrame();
      peer.Send("HTTP");
      client_hung_up = peer.WaitForClose();
    });
    port = server.port();
    asio::io_context io;
    AsyncClientOptions options = Fast();
    options.connect_timeout = 10s;  // a client waiting for more would hang
    AsyncClient client(io, options);
    absl::Status status = absl::UnknownError("not run");
    client.AsyncConnect("127.0.0.1", server.port(),
                        [&](absl::Status s) { status = s; });
    io.run_for(kRunLimit);
    EXPECT_TRUE(io.stopped()) << "still waiting after the run limit";
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(status.message(), HasSubstr(PortText(port)));
    EXPECT_THAT(status.message(), HasSubstr("FRAME_TOO_LONG"));
    EXPECT_THAT(status.message(), HasSubstr("Tachyon gateway?"));
  }  // joins the server's script
  EXPECT_TRUE(client_hung_up) << "the client kept the connection open";
}

TEST(AsyncClientFakeServerTest, SilentServerTimesOutTheLogon) {
  FakeServer server([](FakePeer& peer) {
    peer.ReadFrame();
    peer.WaitForClose(3000ms);
  });
  asio::io_context io;
  AsyncClientOptions options = Fast();
  options.connect_timeout = 300ms;
  AsyncClient client(io, options);
  absl::Status status = absl::UnknownError("not run");
  client.AsyncConnect("127.0.0.1", server.port(),
                      [&](absl::Status s) { status = s; });
  io.run_for(kRunLimit);
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(status.message(), HasSubstr("no answer to LOGON"));
}

TEST(AsyncClientFakeServerTest, HangUpBeforeLogonAckIsUnavailable) {
  FakeServer server([](FakePeer& peer) { peer.ReadFrame(); });
  asio::io_context io;
  AsyncClient client(io, Fast());
  absl::Status status = absl::UnknownError("not run");
  client.AsyncConnect("127.0.0.1", server.port(),
                      [&](absl::Status s) { status = s; });
  io.run_for(kRunLimit);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(),
              HasSubstr("closed the connection before answering LOGON"));
}

TEST(AsyncClientFakeServerTest, GarbageMidSessionFailsPendingCallsAndReports) {
  FakeServer server([](FakePeer& peer) {
    ASSERT_TRUE(peer.AcceptLogon(10000));
    auto request = peer.ReadFrame();  // the REQUEST
    ASSERT_TRUE(request.has_value());
    // A 16-byte header with version 9: UNSUPPORTED_VERSION.
    std::array<std::byte, 16> bad{};
    bad[0] = std::byte{16};
    bad[4] = std::byte{9};
    bad[5] = std::byte{4};
    peer.Send(bad);
    peer.WaitForClose();
  });
  asio::io_context io;
  AsyncClientOptions options = Fast();
  std::vector<absl::Status> reported;
  options.on_error = [&](const absl::Status& s) { reported.push_back(s); };
  AsyncClient client(io, options);
  absl::StatusOr<std::vector<std::byte>> response =
      absl::UnknownError("not run");
  RunCoroutine(io, [&]() -> asio::awaitable<void> {
    EXPECT_TRUE((co_await client.AsyncConnect("127.0.0.1", server.port(),
                                              asio::use_awaitable))
                    .ok());
    response =
        co_await client.AsyncRequest(3, "x", 2000ms, asio::use_awaitable);
  }());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(response.status().message(), HasSubstr("UNSUPPORTED_VERSION"));
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(client.connected());
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

TEST(AsyncClientFakeServerTest, LookupServiceCompletesWithTheGatewaysId) {
  std::string asked;
  absl::StatusOr<std::uint32_t> id = absl::UnknownError("not run");
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
    asio::io_context io;
    AsyncClient client(io, Fast());
    RunCoroutine(io, [&]() -> asio::awaitable<void> {
      EXPECT_TRUE((co_await client.AsyncConnect("127.0.0.1", server.port(),
                                                asio::use_awaitable))
                      .ok());
      id = co_await client.AsyncLookupService("pricing", asio::use_awaitable);
      EXPECT_TRUE((co_await client.AsyncClose(asio::use_awaitable)).ok());
    }());
  }  // the client closed, then the server's script ended and was joined
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, 42u);
  EXPECT_EQ(asked, "pricing");
}

TEST(AsyncClientFakeServerTest, LookupServiceBelowVersion3IsUnimplemented) {
  FakeServer server([](FakePeer& peer) {
    ASSERT_TRUE(GrantVersion(peer, 2));
    peer.WaitForClose();
  });
  asio::io_context io;
  AsyncClient client(io, Fast());
  absl::StatusOr<std::uint32_t> id = absl::UnknownError("not run");
  RunCoroutine(io, [&]() -> asio::awaitable<void> {
    EXPECT_TRUE((co_await client.AsyncConnect("127.0.0.1", server.port(),
                                              asio::use_awaitable))
                    .ok());
    id = co_await client.AsyncLookupService("pricing", asio::use_awaitable);
    EXPECT_TRUE((co_await client.AsyncClose(asio::use_awaitable)).ok());
  }());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(id.status().message(), HasSubstr("protocol version 2"));
}

TEST(AsyncClientFakeServerTest, SilentGatewayAfterLogonIsDetected) {
  FakeServer server([](FakePeer& peer) {
    ASSERT_TRUE(peer.AcceptLogon(/*heartbeat_ms=*/30));
    peer.WaitForClose(3000ms);
  });
  asio::io_context io;
  AsyncClientOptions options = Fast();
  std::vector<absl::Status> reported;
  options.on_error = [&](const absl::Status& s) { reported.push_back(s); };
  AsyncClient client(io, options);
  absl::Status connected = absl::UnknownError("not run");
  client.AsyncConnect("127.0.0.1", server.port(),
                      [&](absl::Status s) { connected = s; });
  io.run_for(kRunLimit);  // returns once the client gave up
  EXPECT_TRUE(io.stopped()) << "still waiting after the run limit";
  EXPECT_TRUE(connected.ok()) << connected;
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].code(), absl::StatusCode::kUnavailable);
  // Given up because of the heartbeat limit, and saying so.
  EXPECT_THAT(reported[0].message(), HasSubstr("went silent"));
  EXPECT_THAT(reported[0].message(), HasSubstr("(3 heartbeat intervals)"));
}

TEST(AsyncClientFakeServerTest, DetectedSequenceGapReachesTheGapHandler) {
  FakeServer server([](FakePeer& peer) {
    ASSERT_TRUE(peer.AcceptLogon(10000));
    auto subscribe = peer.ReadFrame();
    ASSERT_TRUE(subscribe.has_value());
    const tp::SubscribeView view{tp::FrameView(*subscribe)};
    peer.SendFrame([&](std::span<std::byte> out) {
      return tp::EncodeSubscribeAck(out, {.stream_id = StreamId{4},
                                          .id = view.subscription_id().value(),
                                          .next_sequence = Sequence{1},
                                          .name = "gappy"});
    });
    for (std::uint64_t seq : {1, 2, 5}) {
      peer.SendFrame([&](std::span<std::byte> out) {
        return tp::EncodeData(out, StreamId{4}, Sequence{seq}, 1,
                              tp::AsBytes("d"));
      });
    }
    peer.SendFrame([&](std::span<std::byte> out) {
      return tp::EncodeGap(out, StreamId{4}, Sequence{6}, Sequence{9});
    });
    peer.WaitForClose();
  });
  asio::io_context io;
  AsyncClient client(io, Fast());
  std::vector<std::uint64_t> sequences;
  std::vector<std::string> gaps;
  RunCoroutine(io, [&]() -> asio::awaitable<void> {
    EXPECT_TRUE((co_await client.AsyncConnect("127.0.0.1", server.port(),
                                              asio::use_awaitable))
                    .ok());
    Event done(io);
    absl::StatusOr<SubscriptionId> id = co_await client.AsyncSubscribe(
        "gappy", StartPosition::Earliest(),
        [&](const Message& m) { sequences.push_back(m.sequence.value()); },
        [&](const Gap& g) {
          gaps.push_back(
              std::to_string(g.from.value()) + "-" +
              std::to_string(g.to.value()) +
              (g.origin == GapOrigin::kGateway ? " gateway" : " detected"));
          if (g.origin == GapOrigin::kGateway) done.Set();
        },
        asio::use_awaitable);
    EXPECT_TRUE(id.ok()) << id.status();
    EXPECT_TRUE(co_await done.Wait(2000ms));
    EXPECT_TRUE((co_await client.AsyncClose(asio::use_awaitable)).ok());
  }());
  EXPECT_EQ(sequences, (std::vector<std::uint64_t>{1, 2, 5}));
  EXPECT_EQ(gaps, (std::vector<std::string>{"3-4 detected", "6-9 gateway"}));
  EXPECT_EQ(client.stats().messages_lost, 6u);
}

// A server that reads nothing for a while: the client's socket fills,
// TryPublish says RESOURCE_EXHAUSTED, AsyncPublish waits for room, and once
// the server reads, every frame arrives exactly once and in order.
TEST(AsyncClientFakeServerTest, AsyncPublishWaitsForRoomAndKeepsOrder) {
  constexpr int kMessages = 3000;
  constexpr std::size_t kPayload = 1000;
  std::vector<int> seen;
  bool stalled_then_drained = false;
  auto server = std::make_unique<FakeServer>([&](FakePeer& peer) {
    ASSERT_TRUE(peer.AcceptLogon(10000));
    auto open = peer.ReadFrame();
    ASSERT_TRUE(open.has_value());
    const tp::OpenStreamView view{tp::FrameView(*open)};
    peer.SendFrame([&](std::span<std::byte> out) {
      return tp::EncodeOpenStreamAck(out, {.stream_id = StreamId{3},
                                           .id = view.request_id(),
                                           .next_sequence = Sequence{1},
                                           .name = view.name()});
    });
    std::this_thread::sleep_for(500ms);  // read nothing
    stalled_then_drained = true;
    while (seen.size() < kMessages) {
      auto frame = peer.ReadFrame(3000ms);
      if (!frame) break;
      const tp::FrameView f(*frame);
      if (f.type() != tp::MessageType::kPublish) continue;
      const tp::PublishView p(f);
      int v = 0;
      std::memcpy(&v, p.payload().data(), sizeof v);
      seen.push_back(v);
    }
    peer.WaitForClose();
  });
  asio::io_context io;
  AsyncClientOptions options = Fast();
  options.send_queue_bytes = 16 * 1024;  // raised to one 64 KiB frame
  options.socket_send_buffer = 4096;
  options.send_timeout = 5000ms;
  AsyncClient client(io, options);
  int refused = 0;
  int completed = 0;
  RunCoroutine(io, [&]() -> asio::awaitable<void> {
    EXPECT_TRUE((co_await client.AsyncConnect("127.0.0.1", server->port(),
                                              asio::use_awaitable))
                    .ok());
    absl::StatusOr<StreamId> stream =
        co_await client.AsyncOpenStream("stall", asio::use_awaitable);
    EXPECT_TRUE(stream.ok()) << stream.status();
    std::array<std::byte, kPayload> payload{};
    int next = 0;
    // Fill the queue without waiting.
    for (; next < kMessages; ++next) {
      std::memcpy(payload.data(), &next, sizeof next);
      absl::Status s = client.TryPublish(*stream, payload);
      if (s.code() == absl::StatusCode::kResourceExhausted) {
        ++refused;
        break;
      }
      EXPECT_TRUE(s.ok()) << s;
    }
    EXPECT_GT(client.queued_bytes(), 0u);
    // Then wait for room, message by message, while the server is asleep.
    for (; next < kMessages; ++next) {
      std::memcpy(payload.data(), &next, sizeof next);
      absl::Status s =
          co_await client.AsyncPublish(*stream, payload, asio::use_awaitable);
      EXPECT_TRUE(s.ok()) << s;
      ++completed;
    }
    EXPECT_TRUE((co_await client.AsyncClose(asio::use_awaitable)).ok());
  }());
  server.reset();  // joins the server thread: `seen` is complete
  EXPECT_EQ(refused, 1);
  EXPECT_GT(completed, 0);
  EXPECT_TRUE(stalled_then_drained);
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) ASSERT_EQ(seen[i], i);
}

TEST(AsyncClientFakeServerTest, WriteStallClosesTheConnection) {
  std::atomic<bool> stop{false};
  FakeServer server([&](FakePeer& peer) {
    ASSERT_TRUE(peer.AcceptLogon(10000));
    auto open = peer.ReadFrame();
    ASSERT_TRUE(open.has_value());
    const tp::OpenStreamView view{tp::FrameView(*open)};
    peer.SendFrame([&](std::span<std::byte> out) {
      return tp::EncodeOpenStreamAck(out, {.stream_id = StreamId{3},
                                           .id = view.request_id(),
                                           .next_sequence = Sequence{1},
                                           .name = view.name()});
    });
    // Never reads another byte.
    for (int i = 0; i < 200 && !stop.load(); ++i) {
      std::this_thread::sleep_for(25ms);
    }
  });
  asio::io_context io;
  AsyncClientOptions options = Fast();
  options.socket_send_buffer = 4096;
  options.send_timeout = 300ms;
  std::vector<absl::Status> reported;
  options.on_error = [&](const absl::Status& s) { reported.push_back(s); };
  AsyncClient client(io, options);
  absl::Status last;
  RunCoroutine(io, [&]() -> asio::awaitable<void> {
    EXPECT_TRUE((co_await client.AsyncConnect("127.0.0.1", server.port(),
                                              asio::use_awaitable))
                    .ok());
    absl::StatusOr<StreamId> stream =
        co_await client.AsyncOpenStream("stall", asio::use_awaitable);
    std::vector<std::byte> payload(4000);
    // Publishes park, then the stall is detected and they fail.
    for (int i = 0; i < 100000 && last.ok(); ++i) {
      last =
          co_await client.AsyncPublish(*stream, payload, asio::use_awaitable);
    }
  }());
  stop = true;
  EXPECT_EQ(last.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(last.message(), HasSubstr("not reading"));
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_THAT(reported[0].message(), HasSubstr("not reading"));
}

INSTANTIATE_TEST_SUITE_P(Backends, AsyncClientTest,
                         ::testing::ValuesIn(EachBackend(1)), ParamName);
INSTANTIATE_TEST_SUITE_P(Backends, AsyncClientLogonTest,
                         ::testing::ValuesIn(EachBackend(1)), ParamName);

}  // namespace
}  // namespace tachyon::testing
