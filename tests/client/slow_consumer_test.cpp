// A subscriber the gateway cuts as a slow consumer is told why: the gateway
// sends ERROR SLOW_CONSUMER (fatal, naming the stream, "subscriber fell N
// bytes behind stream 'name' (window W) for T ms") and closes, and both
// clients hand
// exactly that — status code, gateway error code and text — to the
// application, whichever call finds the end: Poll, on_error while
// reconnecting, a Publish whose send fails because the gateway already
// closed, or the AsyncClient's on_error. Never "gateway closed the
// connection" or a bare socket error.
//
// The gateway cases run on both io backends with one worker and no lag
// grace (streams.lag_grace_ms = 0, PROTOCOL.md 12): a raw client writes a
// burst of publishes larger than the stream's window in one go, which the
// gateway appends from one read, so every subscriber of the stream is a
// window behind at its next flush, with room in its socket for the ERROR,
// and is cut at once. Loops are bounded; no assertion depends on how long
// anything took.
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/fake_server.h"
#include "support/gateway_fixture.h"
#include "support/wait.h"
#include "tachyon/client/async_client.h"
#include "tachyon/client/client.h"
#include "tachyon/client/errors.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
using ::tachyon::client::AsyncClient;
using ::tachyon::client::AsyncClientOptions;
using ::tachyon::client::Client;
using ::tachyon::client::ClientOptions;
using ::tachyon::client::GatewayErrorCode;
using ::tachyon::client::Message;
using ::tachyon::client::StartPosition;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr int kBurst = 64;  // 64 frames of 232 bytes: 3.6 windows

// The status a cut subscriber must see: UNAVAILABLE (a new connection may
// work), the gateway's code, and its words, once.
void ExpectSlowConsumer(const absl::Status& s, std::string_view stream) {
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(GatewayErrorCode(s), tp::ErrorCode::kSlowConsumer) << s;
  EXPECT_THAT(s.message(), HasSubstr("closed the session (stream ")) << s;
  EXPECT_THAT(s.message(), HasSubstr("SLOW_CONSUMER: subscriber fell ")) << s;
  EXPECT_THAT(s.message(),
              HasSubstr(" bytes behind stream '" + std::string(stream) +
                        "' (window 4096) for "))
      << s;
  EXPECT_THAT(s.message(), Not(HasSubstr("SLOW_CONSUMER: SLOW_CONSUMER"))) << s;
  EXPECT_THAT(s.message(), Not(HasSubstr("closed the connection"))) << s;
}

class SlowConsumerTest : public GatewayTest {
 protected:
  void StartBurstGateway() {
    config::GatewayConfig c = TestConfig(GetParam());
    c.max_frame_length = 1024;
    c.default_stream.capacity_bytes = 1u << 20;
    c.default_stream.window_bytes = 4096;
    c.default_stream.policy = config::SlowConsumerPolicy::kDisconnect;
    c.default_stream.lag_grace_ms = 0;
    Start(c);
  }

  // kBurst PUBLISH frames of 200 bytes to `name`, in one write from a raw
  // client (kept open: its session appends them all from one read).
  void Burst(std::string_view name) {
    publisher_ = LoggedOnClient();
    ASSERT_NE(publisher_, nullptr);
    const StreamId id = publisher_->Open(name);
    ASSERT_NE(id.value(), 0u);
    ASSERT_TRUE(publisher_->PublishBurst(id, kBurst, std::string(200, 'b')));
  }

  std::unique_ptr<Client> Connect(ClientOptions options = {}) {
    auto c = Client::Connect("127.0.0.1", gateway_->port(), options);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  static client::MessageHandler Record(std::vector<std::uint64_t>* out) {
    return [out](const Message& m) { out->push_back(m.sequence.value()); };
  }

  std::unique_ptr<TestClient> publisher_;
};

TEST_P(SlowConsumerTest, PollReturnsTheGatewaysReason) {
  StartBurstGateway();
  auto sub = Connect();
  ASSERT_NE(sub, nullptr);
  std::vector<std::uint64_t> seen;
  ASSERT_TRUE(
      sub->Subscribe("burst", StartPosition::Latest(), Record(&seen)).ok());
  Burst("burst");
  absl::Status status;
  for (int i = 0; i < 500 && status.ok(); ++i) {
    status = sub->Poll(16, 10ms).status();
  }
  ExpectSlowConsumer(status, "burst");
  EXPECT_FALSE(sub->connected());
  // What came before the ERROR was delivered, in order, and not all of it.
  EXPECT_LT(seen.size(), static_cast<std::size_t>(kBurst));
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);
  // Every later call says the same.
  const absl::Status later = sub->Poll(16, 0ms).status();
  EXPECT_EQ(later, status);
  EXPECT_GE(gateway_->Stats().slow_consumers, 1u);
}

TEST_P(SlowConsumerTest, ReconnectingClientTellsOnErrorWhyThenResumes) {
  StartBurstGateway();
  ClientOptions options;
  options.reconnect.enabled = true;
  options.reconnect.initial_backoff = 10ms;
  options.reconnect.max_backoff = 100ms;
  std::vector<absl::Status> errors;
  options.on_error = [&](const absl::Status& s) { errors.push_back(s); };
  auto sub = Connect(options);
  ASSERT_NE(sub, nullptr);
  std::vector<std::uint64_t> seen;
  ASSERT_TRUE(
      sub->Subscribe("burst", StartPosition::Latest(), Record(&seen)).ok());
  Burst("burst");
  // The resumed subscription replays the rest from the log (a replay that
  // starts further back than the window is not a slow consumer for that).
  for (int i = 0; i < 500 && seen.size() < kBurst; ++i) {
    ASSERT_TRUE(sub->Poll(16, 10ms).ok());
  }
  ASSERT_FALSE(errors.empty());
  ExpectSlowConsumer(errors[0], "burst");
  EXPECT_THAT(errors[0].message(), HasSubstr("; reconnecting"));
  EXPECT_GE(sub->stats().reconnects, 1u);
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kBurst));
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);
}

// The application publishes but does not Poll while the gateway cuts it:
// the send that finds the connection gone reads the socket for the
// gateway's last word instead of reporting the broken pipe.
TEST_P(SlowConsumerTest, PublishThatFindsTheConnectionGoneSaysWhy) {
  StartBurstGateway();
  auto sub = Connect();
  ASSERT_NE(sub, nullptr);
  auto other = sub->OpenStream("other");
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE(
      sub->Subscribe("burst", StartPosition::Latest(), [](const Message&) {})
          .ok());
  Burst("burst");
  // The gateway lingers up to a second for our end of the connection, then
  // closes; a send after that fails.
  absl::Status status;
  for (int i = 0; i < 5000 && status.ok(); ++i) {
    status = sub->Publish(*other, "still here");
    if (status.ok()) std::this_thread::sleep_for(1ms);
  }
  ExpectSlowConsumer(status, "burst");
  EXPECT_FALSE(sub->connected());
}

TEST_P(SlowConsumerTest, AsyncClientTellsOnErrorWhy) {
  StartBurstGateway();
  asio::io_context io;
  AsyncClientOptions options;
  std::vector<absl::Status> errors;
  options.on_error = [&](const absl::Status& s) { errors.push_back(s); };
  AsyncClient client(io, options);
  std::vector<std::uint64_t> seen;
  bool subscribed = false;
  client.AsyncConnect("127.0.0.1", gateway_->port(), [&](absl::Status s) {
    ASSERT_TRUE(s.ok()) << s;
    client.AsyncSubscribe("burst", StartPosition::Latest(), Record(&seen),
                          [&](absl::StatusOr<SubscriptionId> id) {
                            ASSERT_TRUE(id.ok()) << id.status();
                            subscribed = true;
                          });
  });
  for (int i = 0; i < 500 && !subscribed; ++i) io.run_for(10ms);
  ASSERT_TRUE(subscribed);
  Burst("burst");
  for (int i = 0; i < 500 && errors.empty(); ++i) io.run_for(10ms);
  ASSERT_EQ(errors.size(), 1u);
  ExpectSlowConsumer(errors[0], "burst");
  EXPECT_FALSE(client.connected());
  EXPECT_LT(seen.size(), static_cast<std::size_t>(kBurst));
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);
  // Later calls fail with the same status.
  EXPECT_EQ(client.TryPublish(StreamId{1}, "x"), errors[0]);
}

INSTANTIATE_TEST_SUITE_P(Backends, SlowConsumerTest,
                         ::testing::ValuesIn(EachBackend(1)), ParamName);

// Ends the connection on `fd` with a reset (SO_LINGER 0), keeping the
// descriptor number valid (it then refers to /dev/null) for its owner, the
// FakeServer, to close later.
void ResetConnection(int fd) {
  const linger abort{.l_onoff = 1, .l_linger = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  ASSERT_GE(null, 0);
  ::dup2(null, fd);
  ::close(null);
}

// Deterministically the send path: the server sends DATA, the fatal ERROR
// and a reset while the client reads nothing; the client's next send fails
// (ECONNRESET or EPIPE) with the ERROR still unread in its socket.
TEST(SlowConsumerFakeServerTest, FailedSendFindsTheErrorBehindUnreadData) {
  std::atomic<bool> go{false};
  std::atomic<bool> reset{false};
  FakeServer server([&](FakePeer& peer) {
    ASSERT_TRUE(peer.AcceptLogon(/*heartbeat_ms=*/60000));
    auto open = peer.ReadFrame();
    ASSERT_TRUE(open);
    const tp::OpenStreamView o{tp::FrameView(*open)};
    peer.SendFrame([&](std::span<std::byte> out) {
      return tp::EncodeOpenStreamAck(out, {.stream_id = StreamId{2},
                                           .id = o.request_id(),
                                           .next_sequence = Sequence{1},
                                           .name = o.name()});
    });
    ASSERT_TRUE(WaitUntil([&] { return go.load(); }));
    for (std::uint64_t seq = 1; seq <= 3; ++seq) {
      peer.SendFrame([&](std::span<std::byte> out) {
        return tp::EncodeData(out, StreamId{5}, Sequence{seq}, 1,
                              tp::AsBytes("d"));
      });
    }
    peer.SendFrame([](std::span<std::byte> out) {
      return tp::EncodeError(
          out, {.code = tp::ErrorCode::kSlowConsumer,
                .fatal = true,
                .stream_id = StreamId{5},
                .text = "SLOW_CONSUMER: subscriber fell 9000 bytes behind "
                        "stream 'md' (window 4096)"});
    });
    // Everything sent is in the client's socket (acknowledged) before the
    // reset, which would discard what is still queued here.
    ASSERT_TRUE(WaitUntil([&] {
      int unacked = 0;
      return ::ioctl(peer.fd(), SIOCOUTQ, &unacked) == 0 && unacked == 0;
    }));
    ResetConnection(peer.fd());
    reset.store(true);
  });
  ClientOptions options;
  options.heartbeat_interval = 60000ms;
  auto c = Client::Connect("127.0.0.1", server.port(), options);
  ASSERT_TRUE(c.ok()) << c.status();
  auto stream = (*c)->OpenStream("out");
  ASSERT_TRUE(stream.ok()) << stream.status();
  go.store(true);
  ASSERT_TRUE(WaitUntil([&] { return reset.load(); }));
  // The reset has arrived once the socket reports an error.
  pollfd p{(*c)->fd(), POLLIN, 0};
  ASSERT_TRUE(WaitUntil([&] {
    return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0;
  }));
  absl::Status status;
  for (int i = 0; i < 100 && status.ok(); ++i) {
    status = (*c)->Publish(*stream, "x");
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_EQ(GatewayErrorCode(status), tp::ErrorCode::kSlowConsumer) << status;
  EXPECT_THAT(status.message(),
              HasSubstr("closed the session (stream 5): SLOW_CONSUMER: "
                        "subscriber fell 9000 bytes behind stream 'md' "
                        "(window 4096)"));
  EXPECT_FALSE((*c)->connected());
  EXPECT_EQ((*c)->Poll(16, 0ms).status(), status);
}

}  // namespace
}  // namespace tachyon::testing
