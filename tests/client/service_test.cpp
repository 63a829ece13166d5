// tachyon::service::Server: the backend role of the protocol, driven by a
// raw test connection that plays the gateway (TestClient: LOGON, REQUEST,
// malformed input) and by the real client library talking to the Server
// directly. Worker threads, Responders completed from other threads and
// Stop() racing them: also run under TSan (label concurrency).
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "support/net.h"
#include "support/test_client.h"
#include "support/wait.h"
#include "tachyon/client/client.h"
#include "tachyon/protocol/protocol.h"
#include "tachyon/service/server.h"

namespace tachyon::testing {
namespace {

using namespace std::chrono_literals;
namespace tp = ::tachyon::protocol;
namespace ts = ::tachyon::service;

std::string Text(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

bool SendRequest(TestClient& gw, std::uint64_t correlation,
                 std::string_view payload, std::uint32_t service = 7) {
  std::vector<std::byte> buf(64 + payload.size());
  const std::size_t n =
      tp::EncodeRequest(buf, {.correlation_id = correlation,
                              .service_id = service,
                              .timeout_ms = 1000,
                              .payload = tp::AsBytes(payload)});
  return gw.SendRaw({buf.data(), n});
}

struct Answer {
  std::uint64_t correlation = 0;
  std::uint32_t service = 0;
  tp::ResponseStatus status = tp::ResponseStatus::kOk;
  std::string text;
};

// The next non-heartbeat frame, which must be a RESPONSE.
std::optional<Answer> ReadResponse(TestClient& gw) {
  std::optional<Frame> f = gw.ReadSkippingHeartbeats(10s);
  if (!f) {
    ADD_FAILURE() << "no frame (eof " << gw.eof() << ")";
    return std::nullopt;
  }
  if (f->type() != tp::MessageType::kResponse) {
    ADD_FAILURE() << "got " << tp::MessageTypeName(f->type());
    return std::nullopt;
  }
  const tp::ResponseView r(f->view());
  return Answer{r.correlation_id(), r.service_id(), r.status(),
                Text(r.payload())};
}

// Uppercases the payload; "fail" is answered with an error.
absl::Status Upper(const ts::Request& req, std::vector<std::byte>& reply) {
  if (Text(req.payload) == "fail") {
    return absl::InvalidArgumentError("cannot serve fail");
  }
  for (std::byte b : req.payload) {
    reply.push_back(
        static_cast<std::byte>(std::toupper(static_cast<unsigned char>(b))));
  }
  return absl::OkStatus();
}

std::unique_ptr<ts::Server> StartOrDie(const ts::ServerOptions& o,
                                       ts::Handler h = Upper) {
  auto s = ts::Server::Start(o, std::move(h));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

// Logs a fresh raw connection on and checks the LOGON_ACK.
std::unique_ptr<TestClient> LogOn(std::uint16_t port,
                                  std::string_view token = "",
                                  std::uint32_t heartbeat_ms = 10000) {
  auto gw = TestClient::Connect(port);
  if (gw == nullptr) return nullptr;
  std::optional<Frame> ack = gw->Logon(token, heartbeat_ms, 1, 3);
  if (!ack || ack->type() != tp::MessageType::kLogonAck) {
    ADD_FAILURE() << "no LOGON_ACK";
    return nullptr;
  }
  return gw;
}

// A hand-off of Responders from the async handler to the test thread.
struct Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<std::string, ts::Responder>> items;

  void Put(const ts::Request& req, ts::Responder r) {
    std::lock_guard<std::mutex> lock(mu);
    items.emplace_back(Text(req.payload), std::move(r));
    cv.notify_all();
  }
  std::optional<std::pair<std::string, ts::Responder>> Take() {
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, 10s, [&] { return !items.empty(); })) {
      return std::nullopt;
    }
    auto item = std::move(items.front());
    items.pop_front();
    return item;
  }
};

TEST(ServiceServerTest, LogonGrantsTheHighestCommonVersion) {
  auto server = StartOrDie({});
  ASSERT_NE(server, nullptr);
  ASSERT_NE(server->port(), 0);

  auto v1 = TestClient::Connect(server->port());
  std::optional<Frame> ack = v1->Logon("", 1000, 1, 1);
  ASSERT_TRUE(ack && ack->type() == tp::MessageType::kLogonAck);
  tp::LogonAckView a1(ack->view());
  EXPECT_EQ(a1.negotiated_version(), 1);
  EXPECT_FALSE(a1.has_epoch());
  EXPECT_EQ(a1.heartbeat_interval_ms(), 1000u);
  EXPECT_EQ(a1.max_frame_length(), 64u * 1024);

  auto high = TestClient::Connect(server->port());
  ack = high->Logon("", 0, 1, 200);
  ASSERT_TRUE(ack && ack->type() == tp::MessageType::kLogonAck);
  tp::LogonAckView a2(ack->view());
  EXPECT_EQ(a2.negotiated_version(), tp::kMaxProtocolVersion);
  EXPECT_TRUE(a2.has_epoch());
  EXPECT_EQ(a2.heartbeat_interval_ms(), 1000u);  // the default
  EXPECT_NE(a2.session_id().value(), a1.session_id().value());

  auto too_new = TestClient::Connect(server->port());
  ack = too_new->Logon("", 0, tp::kMaxProtocolVersion + 1, 200);
  ASSERT_TRUE(ack && ack->type() == tp::MessageType::kLogonReject);
  EXPECT_EQ(tp::ErrorView(ack->view()).code(),
            tp::ErrorCode::kUnsupportedVersion);
  EXPECT_TRUE(too_new->WaitForEof());

  // Capped by the option.
  auto capped = StartOrDie({.max_protocol_version = 1});
  auto gw = TestClient::Connect(capped->port());
  ack = gw->Logon("", 0, 1, 3);
  ASSERT_TRUE(ack && ack->type() == tp::MessageType::kLogonAck);
  EXPECT_EQ(tp::LogonAckView(ack->view()).negotiated_version(), 1);
}

TEST(ServiceServerTest, WrongTokenIsRejected) {
  auto server = StartOrDie({.token = "s3cret"});
  auto wrong = TestClient::Connect(server->port());
  std::optional<Frame> f = wrong->Logon("guess", 1000, 1, 3);
  ASSERT_TRUE(f && f->type() == tp::MessageType::kLogonReject);
  EXPECT_EQ(tp::ErrorView(f->view()).code(), tp::ErrorCode::kNotAuthorized);
  EXPECT_TRUE(wrong->WaitForEof());

  auto right = LogOn(server->port(), "s3cret");
  ASSERT_NE(right, nullptr);
  ASSERT_TRUE(SendRequest(*right, 1, "ok"));
  auto a = ReadResponse(*right);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->text, "OK");
}

TEST(ServiceServerTest, SyncHandlerAnswersOkAndBackendError) {
  auto server = StartOrDie({.threads = 2});
  auto gw = LogOn(server->port());
  ASSERT_NE(gw, nullptr);
  ASSERT_TRUE(SendRequest(*gw, 41, "quote", 12));
  auto ok = ReadResponse(*gw);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->correlation, 41u);
  EXPECT_EQ(ok->service, 12u);
  EXPECT_EQ(ok->status, tp::ResponseStatus::kOk);
  EXPECT_EQ(ok->text, "QUOTE");

  ASSERT_TRUE(SendRequest(*gw, 42, "fail", 12));
  auto err = ReadResponse(*gw);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->correlation, 42u);
  EXPECT_EQ(err->service, 12u);
  EXPECT_EQ(err->status, tp::ResponseStatus::kBackendError);
  EXPECT_EQ(err->text, "cannot serve fail");

  // An empty answer is a valid OK.
  ASSERT_TRUE(SendRequest(*gw, 43, "", 12));
  auto empty = ReadResponse(*gw);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, tp::ResponseStatus::kOk);
  EXPECT_EQ(empty->text, "");

  const ts::ServerStats st = server->stats();
  EXPECT_EQ(st.requests, 3u);
  EXPECT_EQ(st.responses_ok, 2u);
  EXPECT_EQ(st.responses_error, 1u);
  EXPECT_EQ(st.connections_open, 1u);
}

TEST(ServiceServerTest, AnswerTooLargeForTheFrameIsABackendError) {
  auto server =
      StartOrDie({.max_frame_length = 1024},
                 [](const ts::Request&, std::vector<std::byte>& reply) {
                   reply.resize(2000);
                   return absl::OkStatus();
                 });
  auto gw = LogOn(server->port());
  ASSERT_NE(gw, nullptr);
  ASSERT_TRUE(SendRequest(*gw, 1, "big"));
  auto a = ReadResponse(*gw);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, tp::ResponseStatus::kBackendError);
  EXPECT_EQ(a->text,
            "the service's answer of 2000 bytes exceeds the frame limit "
            "(992 bytes of payload)");
}

TEST(ServiceServerTest, AsyncResponderCompletedFromAnotherThread) {
  Inbox inbox;
  auto server = ts::Server::StartAsync(
      {.threads = 2}, [&](const ts::Request& req, ts::Responder r) {
        inbox.Put(req, std::move(r));
      });
  ASSERT_TRUE(server.ok()) << server.status();
  auto gw = LogOn((*server)->port());
  ASSERT_NE(gw, nullptr);
  ASSERT_TRUE(SendRequest(*gw, 9, "later", 3));
  ASSERT_TRUE(SendRequest(*gw, 10, "never", 3));
  std::thread completer([&] {
    for (int i = 0; i < 2; ++i) {
      auto item = inbox.Take();
      ASSERT_TRUE(item);
      if (item->first == "later") {
        EXPECT_TRUE(item->second.Reply("done: " + item->first));
        EXPECT_FALSE(item->second.Reply("twice"));
        EXPECT_FALSE(item->second.Fail("twice"));
        EXPECT_FALSE(item->second.pending());
      } else {
        EXPECT_TRUE(item->second.Fail("no such thing"));
      }
    }
  });
  std::optional<Answer> a = ReadResponse(*gw);
  std::optional<Answer> b = ReadResponse(*gw);
  completer.join();
  ASSERT_TRUE(a && b);
  if (a->correlation != 9) std::swap(a, b);
  EXPECT_EQ(a->correlation, 9u);
  EXPECT_EQ(a->service, 3u);
  EXPECT_EQ(a->status, tp::ResponseStatus::kOk);
  EXPECT_EQ(a->text, "done: later");
  EXPECT_EQ(b->correlation, 10u);
  EXPECT_EQ(b->status, tp::ResponseStatus::kBackendError);
  EXPECT_EQ(b->text, "no such thing");
}

TEST(ServiceServerTest, DroppedResponderAnswersBackendError) {
  auto server =
      ts::Server::StartAsync({}, [](const ts::Request&, ts::Responder r) {
        // Moved around, then dropped unanswered.
        ts::Responder other = std::move(r);
        EXPECT_FALSE(r.pending());  // NOLINT(bugprone-use-after-move)
        EXPECT_TRUE(other.pending());
      });
  ASSERT_TRUE(server.ok());
  auto gw = LogOn((*server)->port());
  ASSERT_NE(gw, nullptr);
  ASSERT_TRUE(SendRequest(*gw, 5, "x"));
  auto a = ReadResponse(*gw);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->correlation, 5u);
  EXPECT_EQ(a->status, tp::ResponseStatus::kBackendError);
  EXPECT_EQ(a->text, "the service dropped the request without answering");
}

TEST(ServiceServerTest, PipelinedRequestsAreEachAnsweredOnce) {
  // Answers come back from a thread in reverse order of arrival.
  Inbox inbox;
  auto server = ts::Server::StartAsync(
      {.threads = 2}, [&](const ts::Request& req, ts::Responder r) {
        inbox.Put(req, std::move(r));
      });
  ASSERT_TRUE(server.ok());
  auto gw = LogOn((*server)->port());
  ASSERT_NE(gw, nullptr);
  constexpr int kCount = 200;
  std::vector<std::byte> burst(kCount * 64);
  std::size_t used = 0;
  for (int i = 1; i <= kCount; ++i) {
    const std::string payload = "req-" + std::to_string(i);
    used += tp::EncodeRequest(
        std::span(burst).subspan(used),
        {.correlation_id = static_cast<std::uint64_t>(i) * 1000,
         .service_id = 7,
         .payload = tp::AsBytes(payload)});
  }
  ASSERT_TRUE(gw->SendRaw({burst.data(), used}));
  std::thread completer([&] {
    std::vector<std::pair<std::string, ts::Responder>> held;
    for (int i = 0; i < kCount; ++i) {
      auto item = inbox.Take();
      ASSERT_TRUE(item);
      held.push_back(std::move(*item));
    }
    std::reverse(held.begin(), held.end());
    for (auto& [payload, r] : held) EXPECT_TRUE(r.Reply(payload));
  });
  std::set<std::uint64_t> seen;
  for (int i = 0; i < kCount; ++i) {
    auto a = ReadResponse(*gw);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->status, tp::ResponseStatus::kOk);
    EXPECT_EQ("req-" + std::to_string(a->correlation / 1000), a->text);
    EXPECT_TRUE(seen.insert(a->correlation).second) << a->correlation;
  }
  completer.join();
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kCount));
}

TEST(ServiceServerTest, SyncPipelinedRequestsKeepTheirCorrelationIds) {
  auto server = StartOrDie({});
  auto gw = LogOn(server->port());
  ASSERT_NE(gw, nullptr);
  std::vector<std::byte> burst(50 * 64);
  std::size_t used = 0;
  for (int i = 1; i <= 50; ++i) {
    const std::string payload = "p" + std::to_string(i);
    used += tp::EncodeRequest(std::span(burst).subspan(used),
                              {.correlation_id = static_cast<std::uint64_t>(i),
                               .service_id = 7,
                               .payload = tp::AsBytes(payload)});
  }
  ASSERT_TRUE(gw->SendRaw({burst.data(), used}));
  for (int i = 1; i <= 50; ++i) {
    auto a = ReadResponse(*gw);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->correlation, static_cast<std::uint64_t>(i));
    EXPECT_EQ(a->text, "P" + std::to_string(i));
  }
}

TEST(ServiceServerTest, HeartbeatsWhenIdle) {
  auto server = StartOrDie({});
  auto gw = LogOn(server->port(), "", 100);
  ASSERT_NE(gw, nullptr);
  // The gateway side answers nothing but heartbeats of its own; the server
  // has nothing to send, so every frame it sends is a HEARTBEAT.
  for (int i = 0; i < 3; ++i) {
    std::optional<Frame> f = gw->Read(10s);
    ASSERT_TRUE(f) << "eof " << gw->eof();
    EXPECT_EQ(f->type(), tp::MessageType::kHeartbeat);
    ASSERT_TRUE(gw->SendHeartbeat());
  }
  EXPECT_EQ(server->stats().connections_open, 1u);
}

TEST(ServiceServerTest, SilentGatewayIsClosedAfterThreeIntervals) {
  std::mutex mu;
  std::vector<std::string> errors;
  auto server = StartOrDie({.on_connection_error = [&](const absl::Status& s) {
    std::lock_guard<std::mutex> lock(mu);
    errors.emplace_back(s.message());
  }});
  auto gw = LogOn(server->port(), "", 20);
  ASSERT_NE(gw, nullptr);
  std::optional<Frame> f = gw->ReadSkippingHeartbeats(10s);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->type(), tp::MessageType::kError);
  EXPECT_EQ(tp::ErrorView(f->view()).code(), tp::ErrorCode::kHeartbeatTimeout);
  EXPECT_TRUE(tp::ErrorView(f->view()).fatal());
  EXPECT_TRUE(gw->WaitForEof());
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("nothing received for 60 ms"), std::string::npos)
      << errors[0];
}

TEST(ServiceServerTest, MalformedFrameClosesOnlyThatConnection) {
  auto server = StartOrDie({.threads = 1});
  auto bad = LogOn(server->port());
  auto good = LogOn(server->port());
  ASSERT_NE(bad, nullptr);
  ASSERT_NE(good, nullptr);

  // A header with version byte 9.
  std::vector<std::byte> garbage(16, std::byte{0});
  garbage[0] = std::byte{16};
  garbage[4] = std::byte{9};
  garbage[5] = std::byte{0x30};
  ASSERT_TRUE(bad->SendRaw(garbage));
  std::optional<Frame> f = bad->ReadSkippingHeartbeats(10s);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->type(), tp::MessageType::kError);
  EXPECT_EQ(tp::ErrorView(f->view()).code(),
            tp::ErrorCode::kUnsupportedVersion);
  EXPECT_TRUE(tp::ErrorView(f->view()).fatal());
  EXPECT_TRUE(bad->WaitForEof());

  // A well-formed frame the backend role does not allow.
  auto wrong = LogOn(server->port());
  ASSERT_NE(wrong, nullptr);
  std::vector<std::byte> buf(64);
  const std::size_t n = tp::EncodeResponse(
      buf, {.correlation_id = 1, .service_id = 7, .payload = {}});
  ASSERT_TRUE(wrong->SendRaw({buf.data(), n}));
  f = wrong->ReadSkippingHeartbeats(10s);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->type(), tp::MessageType::kError);
  EXPECT_EQ(tp::ErrorView(f->view()).code(), tp::ErrorCode::kUnexpectedMessage);
  EXPECT_TRUE(wrong->WaitForEof());

  ASSERT_TRUE(SendRequest(*good, 77, "still here"));
  auto a = ReadResponse(*good);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->correlation, 77u);
  EXPECT_EQ(a->text, "STILL HERE");
  EXPECT_EQ(server->stats().protocol_errors, 2u);
}

TEST(ServiceServerTest, RequestBeforeLogonIsRefused) {
  auto server = StartOrDie({});
  auto gw = TestClient::Connect(server->port());
  ASSERT_TRUE(SendRequest(*gw, 1, "early"));
  std::optional<Frame> f = gw->Read(10s);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->type(), tp::MessageType::kError);
  EXPECT_EQ(tp::ErrorView(f->view()).code(), tp::ErrorCode::kUnexpectedMessage);
  EXPECT_TRUE(gw->WaitForEof());
}

TEST(ServiceServerTest, GatewayLogoutIsAnswered) {
  auto server = StartOrDie({});
  auto gw = LogOn(server->port());
  ASSERT_NE(gw, nullptr);
  std::vector<std::byte> buf(64);
  const std::size_t n = tp::EncodeLogout(buf, tp::ErrorCode::kNone);
  ASSERT_TRUE(gw->SendRaw({buf.data(), n}));
  std::optional<Frame> f = gw->ReadSkippingHeartbeats(10s);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->type(), tp::MessageType::kLogout);
  EXPECT_TRUE(gw->WaitForEof());
  EXPECT_TRUE(WaitUntil([&] { return server->stats().connections_open == 0; }));
}

TEST(ServiceServerTest, StopAnswersTheRequestInFlightThenLogsOut) {
  Inbox inbox;
  auto started = ts::Server::StartAsync(
      {.threads = 2}, [&](const ts::Request& req, ts::Responder r) {
        inbox.Put(req, std::move(r));
      });
  ASSERT_TRUE(started.ok());
  std::unique_ptr<ts::Server> server = std::move(*started);
  const std::uint16_t port = server->port();
  auto gw = LogOn(port);
  ASSERT_NE(gw, nullptr);
  ASSERT_TRUE(SendRequest(*gw, 31, "slow"));
  auto item = inbox.Take();
  ASSERT_TRUE(item);

  // Stop waits for the answer, which comes from this thread meanwhile.
  std::thread stopper([&] { EXPECT_TRUE(server->Stop().ok()); });
  // The server stops accepting: a new connection is refused or closed
  // without a LOGON_ACK.
  ASSERT_TRUE(WaitUntil([&] {
    const int fd = ConnectLoopback(port);
    if (fd < 0) return true;
    const bool closed = DrainUntilEof(fd, 10ms);
    ::close(fd);
    return closed;
  }));
  EXPECT_TRUE(item->second.Reply("finished"));
  auto a = ReadResponse(*gw);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->correlation, 31u);
  EXPECT_EQ(a->text, "finished");
  std::optional<Frame> f = gw->ReadSkippingHeartbeats(10s);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->type(), tp::MessageType::kLogout);
  EXPECT_EQ(tp::LogoutView(f->view()).reason(), tp::ErrorCode::kShuttingDown);
  // Our LOGOUT ends it at once.
  std::vector<std::byte> buf(64);
  const std::size_t n = tp::EncodeLogout(buf, tp::ErrorCode::kNone);
  ASSERT_TRUE(gw->SendRaw({buf.data(), n}));
  EXPECT_TRUE(gw->WaitForEof());
  stopper.join();
  EXPECT_TRUE(server->Stop().ok());  // idempotent
}

TEST(ServiceServerTest, StopGivesUpOnAnUnansweredRequestAfterTheDrainTimeout) {
  Inbox inbox;
  auto started =
      ts::Server::StartAsync({.drain_timeout = 100ms, .logout_timeout = 100ms},
                             [&](const ts::Request& req, ts::Responder r) {
                               inbox.Put(req, std::move(r));
                             });
  ASSERT_TRUE(started.ok());
  std::unique_ptr<ts::Server> server = std::move(*started);
  auto gw = LogOn(server->port());
  ASSERT_NE(gw, nullptr);
  ASSERT_TRUE(SendRequest(*gw, 1, "stuck"));
  auto item = inbox.Take();
  ASSERT_TRUE(item);
  EXPECT_TRUE(server->Stop().ok());
  std::optional<Frame> f = gw->ReadSkippingHeartbeats(10s);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->type(), tp::MessageType::kLogout);
  EXPECT_TRUE(gw->WaitForEof());  // no answer to our silence: closed anyway
  server.reset();
  // Answering after the Server is gone is harmless.
  EXPECT_TRUE(item->second.Reply("too late"));
}

TEST(ServiceServerTest, TheClientLibraryCanCallAServerDirectly) {
  auto server = StartOrDie({.threads = 2});
  auto client = client::Client::Connect("127.0.0.1", server->port());
  ASSERT_TRUE(client.ok()) << client.status();
  const std::string hello = "hello";
  auto r = (*client)->Request(7, tp::AsBytes(hello), 5000ms);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Text(*r), "HELLO");
  const std::string fail = "fail";
  r = (*client)->Request(7, tp::AsBytes(fail), 5000ms);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnknown);
  EXPECT_NE(r.status().message().find("cannot serve fail"),
            absl::string_view::npos)
      << r.status();
  EXPECT_TRUE((*client)->Close().ok());
}

TEST(ServiceServerTest, BadOptionsAreRefused) {
  EXPECT_EQ(ts::Server::Start({.threads = -1}, Upper).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ts::Server::Start({}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto first = StartOrDie({});
  auto clash = ts::Server::Start({.port = first->port()}, Upper);
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(clash.status().message().find("cannot listen on 127.0.0.1:"),
            absl::string_view::npos);
}

}  // namespace
}  // namespace tachyon::testing
