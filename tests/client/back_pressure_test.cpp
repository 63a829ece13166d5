// Publishing to a gateway that stops reading the connection, as the
// gateway's flow control does while a stream has no room: the blocking
// Publish waits for socket room (up to send_timeout) and loses nothing; the
// AsyncClient's send queue stays bounded, TryPublish and an AsyncPublish
// beyond the parking bound say RESOURCE_EXHAUSTED "back-pressured", and
// every publish that was accepted arrives, once, in order, when the reading
// resumes. The "gateway" is a fake server that holds off reading until the
// test has seen the client pushed back; no assertion depends on time.
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/fake_server.h"
#include "support/wait.h"
#include "tachyon/client/async_client.h"
#include "tachyon/client/client.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
using ::tachyon::client::AsyncClient;
using ::tachyon::client::AsyncClientOptions;
using ::tachyon::client::Client;
using ::tachyon::client::ClientOptions;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr std::size_t kPayload = 1000;

// The fake gateway's side: logs the client on, opens one stream, then reads
// nothing until `release()` holds; afterwards records the index (the first
// four payload bytes) of every PUBLISH until the client closes.
class StallingGateway {
 public:
  explicit StallingGateway(std::function<bool()> release)
      : server_([this, release = std::move(release)](FakePeer& peer) {
          // A small receive buffer, so the client meets a full socket soon.
          const int small = 4096;
          ::setsockopt(peer.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
          ASSERT_TRUE(peer.AcceptLogon(/*heartbeat_ms=*/60000));
          auto open = peer.ReadFrame();
          ASSERT_TRUE(open.has_value());
          const tp::OpenStreamView view{tp::FrameView(*open)};
          peer.SendFrame([&](std::span<std::byte> out) {
            return tp::EncodeOpenStreamAck(out, {.stream_id = StreamId{3},
                                                 .id = view.request_id(),
                                                 .next_sequence = Sequence{1},
                                                 .name = view.name()});
          });
          ASSERT_TRUE(WaitUntil(release, 60s));
          while (auto frame = peer.ReadFrame(30s)) {
            const tp::FrameView f(*frame);
            if (f.type() != tp::MessageType::kPublish) continue;
            const tp::PublishView p(f);
            int index = 0;
            std::memcpy(&index, p.payload().data(), sizeof index);
            const std::lock_guard lock(mu_);
            seen_.push_back(index);
          }
        }) {}

  [[nodiscard]] std::uint16_t port() const { return server_.port(); }
  [[nodiscard]] std::size_t seen_count() {
    const std::lock_guard lock(mu_);
    return seen_.size();
  }
  [[nodiscard]] std::vector<int> seen() {
    const std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  std::vector<int> seen_;
  FakeServer server_;  // last: its thread uses the members above
};

std::array<std::byte, kPayload> Payload(int index) {
  std::array<std::byte, kPayload> p{};
  std::memcpy(p.data(), &index, sizeof index);
  return p;
}

// The blocking client: once the gateway stops reading and the client's
// socket is full, Publish waits inside the call instead of failing or
// dropping, and returns OK for each message once the gateway reads again.
TEST(BackPressureTest, BlockingPublishWaitsForTheGatewayToReadAgain) {
  constexpr int kMessages = 2000;  // 2 MB, far more than both sockets hold
  std::atomic<int> client_fd{-1};
  std::atomic<int> published{0};
  std::atomic<int> published_at_stall{-1};
  auto gateway = std::make_unique<StallingGateway>([&] {
    // The client's socket has no room: it is being pushed back now.
    pollfd p{client_fd.load(), POLLOUT, 0};
    if (p.fd < 0 || ::poll(&p, 1, 0) != 0) return false;
    published_at_stall.store(published.load());
    return true;
  });
  ClientOptions options;
  options.heartbeat_interval = 60000ms;
  options.socket_send_buffer = 4096;
  // Generous: the stall ends as soon as the test has seen it.
  options.send_timeout = 60000ms;
  auto c = Client::Connect("127.0.0.1", gateway->port(), options);
  ASSERT_TRUE(c.ok()) << c.status();
  auto stream = (*c)->OpenStream("pushed.back");
  ASSERT_TRUE(stream.ok()) << stream.status();
  client_fd.store((*c)->fd());
  for (int i = 0; i < kMessages; ++i) {
    const absl::Status s = (*c)->Publish(*stream, Payload(i));
    ASSERT_TRUE(s.ok()) << "message " << i << ": " << s;
    published.store(i + 1);
  }
  ASSERT_TRUE(WaitUntil([&] { return gateway->seen_count() >= kMessages; }));
  (void)(*c)->Close();  // the fake answers no LOGOUT
  const std::vector<int> seen = gateway->seen();
  gateway.reset();
  // Pushed back part-way, and every Publish after that still succeeded.
  EXPECT_GE(published_at_stall.load(), 0);
  EXPECT_LT(published_at_stall.load(), kMessages);
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) ASSERT_EQ(seen[i], i);
  EXPECT_EQ((*c)->stats().publishes, static_cast<std::uint64_t>(kMessages));
}

// The AsyncClient: its queue fills and stops there; TryPublish, and an
// AsyncPublish once the parked ones reach their own bound, are refused with
// RESOURCE_EXHAUSTED "back-pressured" (nothing queued); parked AsyncPublish
// calls complete OK once the gateway reads; exactly the accepted messages
// arrive, in order.
TEST(BackPressureTest, AsyncClientQueueIsBoundedAndSaysBackPressured) {
  std::atomic<bool> release{false};
  auto gateway =
      std::make_unique<StallingGateway>([&] { return release.load(); });
  asio::io_context io;
  AsyncClientOptions options;
  options.heartbeat_interval = 60000ms;
  options.socket_send_buffer = 4096;
  options.send_timeout = 60000ms;
  options.send_queue_bytes = 128 * 1024;  // above one maximal frame
  AsyncClient client(io, options);
  std::optional<absl::Status> connected;
  std::optional<absl::StatusOr<StreamId>> stream;
  client.AsyncConnect("127.0.0.1", gateway->port(), [&](absl::Status s) {
    connected = s;
    if (!s.ok()) return;
    client.AsyncOpenStream("pushed.back", [&](absl::StatusOr<StreamId> id) {
      stream = std::move(id);
    });
  });
  for (int i = 0; i < 1000 && !stream; ++i) io.run_for(10ms);
  ASSERT_TRUE(connected && connected->ok())
      << connected.value_or(absl::OkStatus());
  ASSERT_TRUE(stream && stream->ok());

  std::vector<int> accepted;
  int next = 0;
  absl::Status refused;
  for (; next < 100000 && refused.ok(); ++next) {
    refused = client.TryPublish(**stream, Payload(next));
    if (refused.ok()) accepted.push_back(next);
  }
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_THAT(refused.message(),
              HasSubstr("back-pressured: send queue to 127.0.0.1:"));
  // Bounded: publishes fill each of the two send buffers up to
  // send_queue_bytes.
  EXPECT_LE(client.queued_bytes(), 2 * options.send_queue_bytes);
  EXPECT_GT(client.queued_bytes(), options.send_queue_bytes / 2);
  EXPECT_TRUE(client.connected());

  // AsyncPublish parks (copies aside) up to another send_queue_bytes, then
  // refuses the same way; the parked ones wait for room.
  std::vector<int> parked;
  std::vector<int> completed;
  std::optional<absl::Status> parked_refusal;
  int pending = 0;
  for (int n = 0; n < 1000 && !parked_refusal; ++n, ++next) {
    const int index = next;
    ++pending;
    client.AsyncPublish(**stream, Payload(index), [&, index](absl::Status s) {
      --pending;
      if (s.ok()) {
        completed.push_back(index);
      } else {
        EXPECT_FALSE(parked_refusal.has_value()) << s;
        parked_refusal = s;
      }
    });
    parked.push_back(index);
    io.poll();  // runs completions posted so far
  }
  ASSERT_TRUE(parked_refusal.has_value());
  EXPECT_EQ(parked_refusal->code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(parked_refusal->message(), HasSubstr("back-pressured: "));
  EXPECT_TRUE(completed.empty()) << "completed while nothing was read";
  parked.pop_back();  // the refused one
  // While AsyncPublish calls wait, TryPublish does not overtake them.
  EXPECT_EQ(client.TryPublish(**stream, Payload(next)).code(),
            absl::StatusCode::kResourceExhausted);

  release.store(true);
  for (int i = 0; i < 6000 && pending > 0; ++i) io.run_for(10ms);
  ASSERT_EQ(pending, 0);
  EXPECT_EQ(completed, parked);
  accepted.insert(accepted.end(), parked.begin(), parked.end());
  // Room again: TryPublish is accepted.
  ++next;
  ASSERT_TRUE(client.TryPublish(**stream, Payload(next)).ok());
  accepted.push_back(next);
  for (int i = 0; i < 6000 && gateway->seen_count() < accepted.size(); ++i) {
    io.run_for(10ms);
  }
  EXPECT_EQ(gateway->seen(), accepted);
  EXPECT_TRUE(client.connected());
}

}  // namespace
}  // namespace tachyon::testing
