// Abuse limits against a real gateway (PROTOCOL.md 15): the pre-logon frame
// limit, the bounded partial-frame buffer, the minimum progress of a frame
// in flight, per-address connection limits and logon-failure budgets, and
// ERROR texts that stay valid UTF-8 whatever bytes a client sends.
//
// Distinct peer addresses come from loopback: a client socket bound to
// 127.0.0.2 (or .3) before it connects is another address to the gateway.
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/safe_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "session/session.h"
#include "session/session_counters.h"
#include "support/gateway_fixture.h"
#include "support/wait.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
using ::tachyon::protocol::MessageType;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

class LimitsTest : public GatewayTest {
 protected:
  std::uint64_t Refusals(std::string_view reason) const {
    return gateway_->counters().Sum(session::kLimitRefusalsTotal, "reason",
                                    reason);
  }
  std::uint64_t PartialBytes() const {
    return gateway_->counters().Sum(session::kPartialFrameBytes);
  }
  // A LOGON from `source` (a loopback address): the answer frame, or
  // nullopt when the connection failed or nothing came.
  std::optional<Frame> LogonFrom(const char* source, std::string_view token) {
    auto c = TestClient::ConnectFrom(gateway_->port(), source);
    if (c == nullptr) return std::nullopt;
    return c->Logon(token);
  }
};

// The ERROR or LOGON_REJECT text of `f`, checked to be valid UTF-8.
std::string TextOf(const Frame& f) {
  const std::string text(tp::ErrorView(f.view()).text());
  EXPECT_TRUE(base::IsValidUtf8(text)) << text;
  return text;
}

// A PUBLISH of `payload_bytes` to `stream`, encoded whole.
std::vector<std::byte> PublishFrame(StreamId stream, std::size_t payload_bytes,
                                    bool ack) {
  std::vector<std::byte> payload(payload_bytes, std::byte{'p'});
  std::vector<std::byte> frame(payload_bytes + 64);
  const std::size_t n =
      tp::EncodePublish(frame, stream, 7, payload,
                        ack ? tp::AckMode::kRequested : tp::AckMode::kNone);
  frame.resize(n);
  return frame;
}

TEST_P(LimitsTest, AFrameLongerThanTheLongestLogonIsRefusedBeforeLogonAck) {
  Start();
  auto c = TestClient::Connect(gateway_->port());
  ASSERT_NE(c, nullptr);
  // A header announcing a 1000-byte LOGON: within limits.max_frame_length,
  // but no LOGON is longer than 32 + 255 + 255 = 542 bytes.
  std::vector<std::byte> header(16);
  tp::StoreHeader(header.data(), 1000, MessageType::kLogon, 0, 0);
  ASSERT_TRUE(c->SendRaw(header));
  auto f = c->Read(3000ms);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->type(), MessageType::kError);
  EXPECT_EQ(tp::ErrorView(f->view()).code(), tp::ErrorCode::kFrameTooLong);
  EXPECT_TRUE(tp::ErrorView(f->view()).fatal());
  const std::string text = TextOf(*f);
  EXPECT_THAT(text, HasSubstr("pre-logon frame limit of 542"));
  EXPECT_THAT(text, HasSubstr("pre_logon_frame_length"));
  EXPECT_TRUE(c->WaitForEof(3000ms));
  EXPECT_EQ(Refusals("pre_logon_frame_length"), 1u);

  // The longest LOGON fits, and after LOGON_ACK the configured limit
  // applies again.
  EXPECT_EQ(session::Session::kMaxLogonFrameLength, 542u);
  auto ok = TestClient::Connect(gateway_->port());
  ASSERT_NE(ok, nullptr);
  std::vector<std::byte> logon(600);
  const std::string token(255, 't');
  const std::string name(255, 'n');
  const std::size_t n = tp::EncodeLogon(logon, {.min_version = 1,
                                                .max_version = 1,
                                                .heartbeat_interval_ms = 10000,
                                                .token = token,
                                                .client_name = name});
  ASSERT_EQ(n, 544u);  // 542 padded
  ASSERT_TRUE(ok->SendRaw(std::span(logon).first(n)));
  auto ack = ok->Read(3000ms);
  ASSERT_TRUE(ack);
  ASSERT_EQ(ack->type(), MessageType::kLogonAck);
  const StreamId s = ok->Open("big.after.logon");
  ASSERT_NE(s.value(), 0u);
  ASSERT_TRUE(ok->SendRaw(PublishFrame(s, 4000, true)));
  auto pa = ok->ReadSkippingHeartbeats(3000ms);
  ASSERT_TRUE(pa);
  ASSERT_EQ(pa->type(), MessageType::kPublishAck);
  EXPECT_EQ(tp::PublishAckView(pa->view()).status(), tp::ErrorCode::kNone);
}

TEST_P(LimitsTest, ATricklerIsCutWithAnErrorNamingTheLimit) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.min_frame_progress = 4000;  // bytes/s
  c.frame_progress_grace_ms = 300;
  Start(c);
  auto t = LoggedOnClient();
  const StreamId s = t->Open("trickle");
  ASSERT_NE(s.value(), 0u);
  const std::vector<std::byte> frame = PublishFrame(s, 60000, false);
  ASSERT_TRUE(t->SendRaw(std::span(frame).first(100)));
  // One byte every ~20 ms (about 50 bytes/s) until the gateway answers.
  std::optional<Frame> answer;
  for (std::size_t i = 100; i < frame.size() && !answer && !t->eof(); ++i) {
    if (!t->SendRaw(std::span(frame).subspan(i, 1))) break;
    answer = t->Read(20ms);
  }
  if (!answer) answer = t->Read(3000ms);
  ASSERT_TRUE(answer);
  ASSERT_EQ(answer->type(), MessageType::kError);
  EXPECT_EQ(tp::ErrorView(answer->view()).code(),
            tp::ErrorCode::kLimitExceeded);
  EXPECT_TRUE(tp::ErrorView(answer->view()).fatal());
  const std::string text = TextOf(*answer);
  EXPECT_THAT(text, HasSubstr("limits.min_frame_progress = 4000 bytes/s"));
  EXPECT_TRUE(t->WaitForEof(3000ms));
  EXPECT_EQ(Refusals("min_frame_progress"), 1u);
  EXPECT_TRUE(WaitUntil([&] { return PartialBytes() == 0; }));
}

TEST_P(LimitsTest, ASlowButSteadyLargeFrameIsNotCut) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.min_frame_progress = 4000;  // bytes/s
  c.frame_progress_grace_ms = 300;
  Start(c);
  auto p = LoggedOnClient();
  const StreamId s = p->Open("steady");
  ASSERT_NE(s.value(), 0u);
  // 40 KiB in 4 KiB steps about 100 ms apart: ~40 KB/s, ten times the
  // minimum, and in flight for about a second, past the grace.
  const std::vector<std::byte> frame = PublishFrame(s, 40 * 1024, true);
  for (std::size_t at = 0; at < frame.size(); at += 4096) {
    const std::size_t n = std::min<std::size_t>(4096, frame.size() - at);
    ASSERT_TRUE(p->SendRaw(std::span(frame).subspan(at, n)));
    if (at + n < frame.size()) {
      auto early = p->Read(100ms);
      ASSERT_FALSE(early) << "answered before the frame was complete";
      ASSERT_FALSE(p->eof());
    }
  }
  auto ack = p->ReadSkippingHeartbeats(3000ms);
  ASSERT_TRUE(ack);
  ASSERT_EQ(ack->type(), MessageType::kPublishAck);
  EXPECT_EQ(tp::PublishAckView(ack->view()).status(), tp::ErrorCode::kNone);
  EXPECT_EQ(Refusals("min_frame_progress"), 0u);
}

TEST_P(LimitsTest, PartialFrameMemoryFollowsTheBytesAndReturnsToZeroOnClose) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.max_frame_length = 4u << 20;
  // A stream's log holds at least a frame or two of the limit.
  c.default_stream.capacity_bytes = 16u << 20;
  c.default_stream.window_bytes = 8u << 20;
  Start(c);
  constexpr int kClients = 8;
  constexpr std::size_t kSent = 200 * 1024;
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    auto cl = LoggedOnClient();
    ASSERT_NE(cl, nullptr);
    const StreamId s = cl->Open("partial");
    ASSERT_NE(s.value(), 0u);
    // Each announces a 4 MiB frame and sends 200 KiB of it.
    const std::vector<std::byte> frame =
        PublishFrame(s, (4u << 20) - 64, false);
    ASSERT_TRUE(cl->SendRaw(std::span(frame).first(kSent)));
    clients.push_back(std::move(cl));
  }
  ASSERT_TRUE(WaitUntil([&] { return PartialBytes() >= kClients * kSent; }))
      << PartialBytes();
  // About what arrived (at most twice, page-rounded), far from the 32 MiB
  // the headers announced.
  EXPECT_LE(PartialBytes(), kClients * (2 * kSent + 4096));
  clients.clear();
  EXPECT_TRUE(WaitUntil([&] { return PartialBytes() == 0; }))
      << PartialBytes() << " bytes still held after every session closed";
}

TEST_P(LimitsTest, AConnectionFloodFromOneAddressLeavesOthersServed) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.max_connections_per_address = 4;
  c.logon_timeout_ms = 60000;
  Start(c);
  std::vector<std::unique_ptr<TestClient>> flood;
  for (int i = 0; i < 4; ++i) {
    flood.push_back(TestClient::ConnectFrom(gateway_->port(), "127.0.0.2"));
    ASSERT_NE(flood.back(), nullptr);
  }
  ASSERT_TRUE(WaitUntil([&] { return gateway_->Stats().sessions_open == 4; }));
  constexpr int kRefused = 10;
  for (int i = 0; i < kRefused; ++i) {
    auto extra = TestClient::ConnectFrom(gateway_->port(), "127.0.0.2");
    ASSERT_NE(extra, nullptr);
    auto f = extra->Read(3000ms);
    ASSERT_TRUE(f) << i;
    ASSERT_EQ(f->type(), MessageType::kError);
    EXPECT_EQ(tp::ErrorView(f->view()).code(), tp::ErrorCode::kLimitExceeded);
    EXPECT_TRUE(tp::ErrorView(f->view()).fatal());
    EXPECT_THAT(TextOf(*f),
                HasSubstr("limits.max_connections_per_address = 4"));
    EXPECT_TRUE(extra->WaitForEof(3000ms));
  }
  EXPECT_EQ(Refusals("max_connections_per_address"), std::uint64_t{kRefused});
  EXPECT_GE(gateway_->Stats().connections_refused, std::uint64_t{kRefused});

  // Meanwhile a client from 127.0.0.1 logs on and works.
  auto legit = TestClient::ConnectFrom(gateway_->port(), "127.0.0.1");
  ASSERT_NE(legit, nullptr);
  auto ack = legit->Logon();
  ASSERT_TRUE(ack);
  ASSERT_EQ(ack->type(), MessageType::kLogonAck);
  ASSERT_TRUE(legit->Subscribe(1, "served"));
  const StreamId s = legit->Open("served");
  ASSERT_TRUE(legit->Publish(s, "still here"));
  auto d = legit->ReadSkippingHeartbeats();
  ASSERT_TRUE(d);
  ASSERT_EQ(d->type(), MessageType::kData);
  EXPECT_EQ(PayloadText(*d), "still here");

  // Once the flood is gone the address is welcome again.
  flood.clear();
  ASSERT_TRUE(WaitUntil([&] { return gateway_->Stats().sessions_open == 1; }));
  auto again = LogonFrom("127.0.0.2", "");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->type(), MessageType::kLogonAck);
}

TEST_P(LimitsTest, LogonFailureBudgetIsSpentPerAddressThenRecovers) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.token = "secret";
  c.logon_failures_per_address = 3;
  c.logon_failure_window_ms = 2000;
  Start(c);
  for (int i = 0; i < 3; ++i) {
    auto r = LogonFrom("127.0.0.3", "wrong");
    ASSERT_TRUE(r) << i;
    ASSERT_EQ(r->type(), MessageType::kLogonReject);
    EXPECT_EQ(tp::ErrorView(r->view()).code(), tp::ErrorCode::kNotAuthorized);
  }
  // Budget spent: even the right token is refused, naming the limit.
  auto refused = LogonFrom("127.0.0.3", "secret");
  ASSERT_TRUE(refused);
  ASSERT_EQ(refused->type(), MessageType::kLogonReject);
  EXPECT_EQ(tp::ErrorView(refused->view()).code(),
            tp::ErrorCode::kLimitExceeded);
  EXPECT_THAT(TextOf(*refused),
              HasSubstr("limits.logon_failures_per_address = 3"));
  EXPECT_GE(Refusals("logon_failures_per_address"), 1u);
  // Another address is unaffected.
  auto other = LogonFrom("127.0.0.1", "secret");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->type(), MessageType::kLogonAck);
  // After the window the address logs on again (refusals meanwhile spend
  // nothing: they are not authentication failures).
  bool recovered = false;
  for (int attempt = 0; attempt < 200 && !recovered; ++attempt) {
    auto r = LogonFrom("127.0.0.3", "secret");
    ASSERT_TRUE(r);
    recovered = r->type() == MessageType::kLogonAck;
    if (!recovered) {
      EXPECT_EQ(tp::ErrorView(r->view()).code(), tp::ErrorCode::kLimitExceeded);
      std::this_thread::sleep_for(50ms);
    }
  }
  EXPECT_TRUE(recovered);
}

TEST_P(LimitsTest, ErrorTextsQuoteInvalidUtf8FromTheClient) {
  Start();
  auto cl = LoggedOnClient();
  const std::string bad("bad\xff\xfe\x01name", 10);
  ASSERT_TRUE(cl->SendSubscribe(5, bad));
  auto f = cl->ReadSkippingHeartbeats(3000ms);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->type(), MessageType::kError);
  EXPECT_EQ(tp::ErrorView(f->view()).code(), tp::ErrorCode::kInvalidName);
  EXPECT_THAT(TextOf(*f), HasSubstr("'bad\\xff\\xfe\\x01name'"));
  // OPEN_STREAM with the same name.
  std::vector<std::byte> open(64);
  const std::size_t n = tp::EncodeOpenStream(open, 9, bad);
  ASSERT_TRUE(cl->SendRaw(std::span(open).first(n)));
  auto g = cl->ReadSkippingHeartbeats(3000ms);
  ASSERT_TRUE(g);
  ASSERT_EQ(g->type(), MessageType::kError);
  EXPECT_EQ(tp::ErrorView(g->view()).code(), tp::ErrorCode::kInvalidName);
  EXPECT_THAT(TextOf(*g), HasSubstr("\\xff\\xfe\\x01"));
  // The session goes on.
  EXPECT_TRUE(cl->Subscribe(6, "fine"));
}

INSTANTIATE_TEST_SUITE_P(Backends, LimitsTest,
                         ::testing::ValuesIn(EachBackend(2)), ParamName);

}  // namespace
}  // namespace tachyon::testing
