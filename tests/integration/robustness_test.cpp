// Hostile and slow clients against a real gateway: malformed frames from the
// golden vectors, slow consumers under both policies, connection churn.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/gateway_fixture.h"
#include "support/wait.h"
#include "vector_file.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
using ::tachyon::protocol::MessageType;
using ::tachyon::protocol::StartMode;
using ::testing::HasSubstr;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class RobustnessTest : public GatewayTest {};

// ASan and TSan keep freed memory in quarantine and shadow maps, so process
// RSS says nothing about the gateway there; LeakSanitizer checks leaks in
// those builds instead.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kRssMeaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kRssMeaningful = false;
#else
constexpr bool kRssMeaningful = true;
#endif
#else
constexpr bool kRssMeaningful = true;
#endif

std::int64_t RssBytes() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      std::int64_t kb;
      in >> kb;
      return kb * 1024;
    }
  }
  return -1;
}

// Every malformed frame vector that fails on its first frame is sent over a
// socket after LOGON: the sender gets an ERROR with exactly the vector's
// code, flagged fatal, then EOF — and a bystander session on the same
// gateway keeps receiving as if nothing happened.
TEST_P(RobustnessTest,
       MalformedVectorsEarnTheirErrorAndCloseOnlyThatConnection) {
  Start(TestConfig(GetParam()));
  std::vector<tp::golden::Vector> vectors;
  std::string error;
  ASSERT_TRUE(tp::golden::LoadVectorFile(
      std::string(TACHYON_SOURCE_DIR) + "/protocol/vectors/malformed.vec",
      &vectors, &error))
      << error;
  auto bystander = LoggedOnClient();
  ASSERT_TRUE(bystander->Subscribe(1, "bystander"));
  auto pub = LoggedOnClient();
  const StreamId stream = pub->Open("bystander");
  int sent = 0;
  for (const tp::golden::Vector& v : vectors) {
    if (v.kind != tp::golden::VectorKind::kFrame || v.expectations.empty() ||
        v.expectations.front().kind != tp::golden::Expectation::Kind::kError ||
        v.max_frame_length != tp::kDefaultMaxFrameLength) {
      continue;
    }
    tp::ErrorCode want;
    ASSERT_TRUE(tp::ParseErrorCode(v.expectations.front().name, &want));
    SCOPED_TRACE(v.name + " (" + v.where + ")");
    auto c = LoggedOnClient();
    ASSERT_TRUE(c->SendRaw(v.bytes));
    auto f = c->ReadSkippingHeartbeats(3000ms);
    ASSERT_TRUE(f);
    ASSERT_EQ(f->type(), MessageType::kError);
    tp::ErrorView e(f->view());
    EXPECT_EQ(e.code(), want)
        << tp::ErrorCodeName(e.code()) << ": " << e.text();
    EXPECT_TRUE(e.fatal());
    EXPECT_TRUE(c->WaitForEof(3000ms));
    // The bystander is untouched.
    ASSERT_TRUE(pub->Publish(stream, v.name));
    auto d = bystander->ReadSkippingHeartbeats();
    ASSERT_TRUE(d);
    ASSERT_EQ(d->type(), MessageType::kData);
    EXPECT_EQ(PayloadText(*d), v.name);
    ++sent;
  }
  EXPECT_GT(sent, 50);
  EXPECT_GE(gateway_->Stats().malformed_frames,
            static_cast<std::uint64_t>(sent));
}

// Policy "disconnect": a subscriber that stops reading is sent ERROR
// SLOW_CONSUMER and closed once it is a window behind; a second subscriber
// reading at full speed receives every message, in order.
TEST_P(RobustnessTest, SlowConsumerIsDisconnectedWhileOthersLoseNothing) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.default_stream.capacity_bytes = 4u << 20;
  c.default_stream.window_bytes = 1u << 20;
  c.default_stream.policy = config::SlowConsumerPolicy::kDisconnect;
  c.socket.send_buffer_bytes = 64 << 10;
  Start(c);
  auto slow = LoggedOnClient(/*rcvbuf=*/4096);
  ASSERT_TRUE(slow->Subscribe(1, "firehose"));
  auto fast = LoggedOnClient();
  ASSERT_TRUE(fast->Subscribe(1, "firehose"));
  auto pub = LoggedOnClient();
  const StreamId id = pub->Open("firehose");
  constexpr int kMessages = 20000;
  const std::string payload(200, 'x');
  std::atomic<int> received{0};
  std::atomic<bool> in_order{true};
  std::thread reader([&] {
    for (std::uint64_t want = 1; want <= kMessages; ++want) {
      auto f = fast->ReadSkippingHeartbeats(10000ms);
      if (!f || f->type() != MessageType::kData ||
          tp::DataView(f->view()).sequence().value() != want) {
        in_order = false;
        return;
      }
      ++received;
    }
  });
  // The slow subscriber is read as soon as it is cut, as a client would:
  // one that reads nothing for the close deadline (2 s) is reset instead,
  // and under load the publishing below may take longer than that.
  // Expected: contiguous DATA from the start, then ERROR SLOW_CONSUMER
  // naming the stream (queued behind what its full socket held), then the
  // end of the connection, long before the last message.
  std::uint64_t next = 1;
  std::optional<Frame> error;
  std::string slow_failure;
  std::thread slow_reader([&] {
    if (!WaitUntil([&] { return gateway_->Stats().slow_consumers > 0; })) {
      slow_failure = "never cut";
      return;
    }
    for (int i = 0; i < kMessages + 10; ++i) {
      auto f = slow->Read(5000ms);
      if (!f) break;
      if (error) {
        slow_failure =
            absl::StrCat("a frame after the ERROR: ",
                         std::string(tp::MessageTypeName(f->type())));
        return;
      }
      if (f->type() == MessageType::kError) {
        error = f;
        continue;
      }
      if (f->type() != MessageType::kData ||
          tp::DataView(f->view()).sequence().value() != next) {
        slow_failure =
            absl::StrCat("after DATA ", next - 1, ": ",
                         std::string(tp::MessageTypeName(f->type())));
        return;
      }
      ++next;
    }
  });
  // Paced so the reading subscriber stays well inside its window (it is a
  // test thread copying every frame, slower than the gateway); the slow one
  // reads nothing until it is cut, and falls out of it.
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(pub->Publish(id, payload));
    if (i % 500 == 499) {
      for (int w = 0; w < 10000 && received.load() < i - 1000 && in_order;
           ++w) {
        std::this_thread::sleep_for(1ms);
      }
    }
  }
  reader.join();
  slow_reader.join();
  EXPECT_TRUE(in_order.load());
  EXPECT_EQ(received.load(), kMessages);
  ASSERT_EQ(slow_failure, "");
  EXPECT_TRUE(slow->eof()) << "still open after DATA " << next - 1;
  ASSERT_TRUE(error) << "no ERROR after DATA " << next - 1;
  EXPECT_EQ(tp::ErrorView(error->view()).code(), tp::ErrorCode::kSlowConsumer);
  EXPECT_TRUE(tp::ErrorView(error->view()).fatal());
  EXPECT_EQ(error->view().stream_id(), id);
  EXPECT_LT(next, static_cast<std::uint64_t>(kMessages));
  EXPECT_GE(gateway_->Stats().slow_consumers, 1u);
}

// Policy "disconnect" with no lag grace, the fault found while the
// subscriber's socket has room: the gateway says why — ERROR SLOW_CONSUMER,
// fatal, naming the stream and the window — and then closes; no DATA follows
// the ERROR. The subscriber is its own publisher: it writes more than a window
// of messages in one go, which its session appends from one read before it next
// sends, so it is a window behind with an empty socket. Everyone else loses
// nothing: the log keeps every message for a later subscriber, and a
// session on another stream is untouched.
TEST_P(RobustnessTest, SlowConsumerWithRoomIsToldWhyThenClosed) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.max_frame_length = 1024;
  c.default_stream.capacity_bytes = 1u << 20;
  c.default_stream.window_bytes = 4096;
  c.default_stream.policy = config::SlowConsumerPolicy::kDisconnect;
  c.default_stream.lag_grace_ms = 0;
  Start(c);
  auto bystander = LoggedOnClient();
  ASSERT_TRUE(bystander->Subscribe(1, "calm"));
  auto calm = LoggedOnClient();
  const StreamId calm_id = calm->Open("calm");
  auto eager = LoggedOnClient();
  auto ack = eager->Subscribe(1, "burst");
  ASSERT_TRUE(ack && ack->type() == MessageType::kSubscribeAck);
  const StreamId id = eager->Open("burst");
  ASSERT_NE(id.value(), 0u);
  // 64 frames of 232 bytes: 3.6 windows, in a write of 14 KiB, which one
  // read takes whole (epoll reads 64 KiB, io_uring buffers hold 16 KiB).
  constexpr int kMessages = 64;
  ASSERT_TRUE(eager->PublishBurst(id, kMessages, std::string(200, 'b')));
  std::uint64_t next = 1;
  std::optional<Frame> error;
  for (int i = 0; i <= kMessages && !error; ++i) {
    auto f = eager->ReadSkippingHeartbeats();
    ASSERT_TRUE(f) << "neither DATA nor ERROR after DATA " << next - 1;
    if (f->type() == MessageType::kData) {
      ASSERT_EQ(tp::DataView(f->view()).sequence().value(), next++);
    } else {
      error = f;
    }
  }
  ASSERT_TRUE(error) << "every message delivered: never a window behind";
  ASSERT_EQ(error->type(), MessageType::kError);
  const tp::ErrorView e(error->view());
  EXPECT_EQ(e.code(), tp::ErrorCode::kSlowConsumer) << e.text();
  EXPECT_TRUE(e.fatal());
  EXPECT_EQ(error->view().stream_id(), id);
  EXPECT_THAT(std::string(e.text()), HasSubstr("behind stream 'burst'"));
  EXPECT_THAT(std::string(e.text()), HasSubstr("(window 4096)"));
  EXPECT_LT(next - 1, static_cast<std::uint64_t>(kMessages));
  // Nothing after the ERROR but the end of the connection.
  auto after = eager->Read(5000ms);
  EXPECT_FALSE(after.has_value())
      << "after the ERROR: " << tp::MessageTypeName(after->type());
  EXPECT_TRUE(eager->eof());
  EXPECT_GE(gateway_->Stats().slow_consumers, 1u);

  auto late = LoggedOnClient();
  ASSERT_TRUE(late->Subscribe(1, "burst", StartMode::kSequence, 1));
  for (std::uint64_t want = 1; want <= kMessages; ++want) {
    auto f = late->ReadSkippingHeartbeats();
    ASSERT_TRUE(f && f->type() == MessageType::kData) << "message " << want;
    ASSERT_EQ(tp::DataView(f->view()).sequence().value(), want);
  }
  ASSERT_TRUE(calm->Publish(calm_id, "undisturbed"));
  auto d = bystander->ReadSkippingHeartbeats();
  ASSERT_TRUE(d && d->type() == MessageType::kData);
  EXPECT_EQ(PayloadText(*d), "undisturbed");
}

// Policy "disconnect" with the default lag grace: a burst of several
// windows, appended from one read before the subscriber could be sent any of
// it, is not held against a subscriber that reads at full speed: it gets
// every message and no ERROR (PROTOCOL.md 12: lag is judged against what the
// gateway had a chance to send).
TEST_P(RobustnessTest, BurstOfSeveralWindowsDoesNotCutAFastSubscriber) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.max_frame_length = 1024;
  c.default_stream.capacity_bytes = 1u << 20;
  c.default_stream.window_bytes = 4096;
  c.default_stream.policy = config::SlowConsumerPolicy::kDisconnect;
  Start(c);
  auto eager = LoggedOnClient();
  auto ack = eager->Subscribe(1, "burst");
  ASSERT_TRUE(ack && ack->type() == MessageType::kSubscribeAck);
  const StreamId id = eager->Open("burst");
  ASSERT_NE(id.value(), 0u);
  constexpr int kMessages = 64;  // 3.6 windows in one 14 KiB write
  ASSERT_TRUE(eager->PublishBurst(id, kMessages, std::string(200, 'b')));
  for (std::uint64_t want = 1; want <= kMessages; ++want) {
    auto f = eager->ReadSkippingHeartbeats();
    ASSERT_TRUE(f) << "nothing after DATA " << want - 1;
    ASSERT_EQ(f->type(), MessageType::kData)
        << tp::MessageTypeName(f->type()) << " after DATA " << want - 1;
    ASSERT_EQ(tp::DataView(f->view()).sequence().value(), want);
  }
  // Still subscribed: a later message arrives too.
  ASSERT_TRUE(eager->Publish(id, "after"));
  auto f = eager->ReadSkippingHeartbeats();
  ASSERT_TRUE(f && f->type() == MessageType::kData);
  EXPECT_EQ(PayloadText(*f), "after");
  EXPECT_EQ(gateway_->Stats().slow_consumers, 0u);
}

// A cut subscriber that reads nothing more: its final frames (the rest of a
// frame it was in the middle of, the ERROR) wait behind its full socket for
// the close deadline, then the connection is reset. Whatever it reads
// afterwards is whole frames ending in the ERROR, or ends in a reset: never a
// clean EOF in the middle of a frame (PROTOCOL.md 12).
TEST_P(RobustnessTest, StalledCutSubscriberNeverSeesEofMidFrame) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.default_stream.capacity_bytes = 4u << 20;
  c.default_stream.window_bytes = 1u << 20;
  c.default_stream.policy = config::SlowConsumerPolicy::kDisconnect;
  c.default_stream.lag_grace_ms = 0;
  c.socket.send_buffer_bytes = 16 << 10;
  Start(c);
  auto slow = LoggedOnClient(/*rcvbuf=*/4096);
  ASSERT_TRUE(slow->Subscribe(1, "stall"));
  auto pub = LoggedOnClient();
  const StreamId id = pub->Open("stall");
  const std::string payload(1000, 's');  // frames that straddle sends
  const std::int64_t open_before = gateway_->Stats().sessions_open;
  for (int i = 0; i < 5000 && gateway_->Stats().slow_consumers == 0; ++i) {
    ASSERT_TRUE(pub->Publish(id, payload));
  }
  ASSERT_TRUE(
      WaitUntil([&] { return gateway_->Stats().slow_consumers >= 1; }, 10s));
  // The session ends once its close deadline passes (nothing is read).
  ASSERT_TRUE(WaitUntil(
      [&] { return gateway_->Stats().sessions_open < open_before; }, 20s));
  std::vector<std::byte> bytes;
  bool reset = false;
  std::array<std::byte, 65536> buf;
  for (int i = 0; i < 100000; ++i) {
    const ssize_t n = ::recv(slow->fd(), buf.data(), buf.size(), 0);
    if (n > 0) {
      bytes.insert(bytes.end(), buf.begin(), buf.begin() + n);
      continue;
    }
    reset = n < 0 && errno == ECONNRESET;
    ASSERT_TRUE(n == 0 || reset) << std::strerror(errno);
    break;
  }
  if (reset) return;  // the final frames did not fit: a reset, not an EOF
  // A clean EOF: whole frames, the last one the ERROR.
  std::span<const std::byte> rest(bytes);
  std::optional<tp::MessageType> last;
  while (!rest.empty()) {
    const tp::DecodeResult r = tp::DecodeFrame(rest, c.max_frame_length);
    ASSERT_EQ(r.status, tp::DecodeStatus::kFrame)
        << "EOF with " << rest.size() << " bytes of a cut frame";
    last = r.frame.type();
    rest = rest.subspan(r.consumed);
  }
  EXPECT_EQ(last, MessageType::kError);
}

// Shrinks `fd`'s send buffer, makes it non-blocking and sends `bytes` until
// the kernel stops taking them (ten 20 ms waits for room in a row find
// none) or all are sent. Returns the bytes sent.
std::size_t OfferUntilTheKernelStops(int fd, std::span<const std::byte> bytes) {
  const int sndbuf = 64 << 10;
  EXPECT_EQ(::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::size_t sent = 0;
  int still = 0;
  while (sent < bytes.size() && still < 10) {
    const ssize_t w =
        ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (w > 0) {
      sent += static_cast<std::size_t>(w);
      still = 0;
      continue;
    }
    if (errno != EAGAIN) {
      ADD_FAILURE() << std::strerror(errno);
      break;
    }
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 20) == 0) ++still;
  }
  return sent;
}

// Reads non-blocking `fd` until EOF: what arrived, or nullopt (and a
// failure) on an error or if no EOF came within about ten seconds.
std::optional<std::vector<std::byte>> ReadUntilEof(int fd) {
  std::vector<std::byte> all;
  std::vector<std::byte> buf(64 << 10);
  for (int waits = 0; waits < 500;) {
    const ssize_t got = ::recv(fd, buf.data(), buf.size(), 0);
    if (got == 0) return all;
    if (got > 0) {
      all.insert(all.end(), buf.begin(), buf.begin() + got);
      continue;
    }
    if (errno != EAGAIN) {
      ADD_FAILURE() << "the connection ended with " << std::strerror(errno);
      return std::nullopt;
    }
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, 20);
    ++waits;
  }
  ADD_FAILURE() << "no EOF";
  return std::nullopt;
}

// After the gateway's EOF on `fd`: the connection ends (our FIN
// acknowledged, or a reset), and not with a reset, which is what the
// kernel sends when the gateway closes a socket with bytes still unread.
void ExpectEndedWithoutReset(int fd) {
  auto state = [fd] {
    tcp_info info{};
    socklen_t len = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return -1;
    return static_cast<int>(info.tcpi_state);
  };
  EXPECT_TRUE(WaitUntil([&] { return state() == TCP_CLOSE; }, 20000ms))
      << "TCP state " << state();
  int error = -1;
  socklen_t len = sizeof error;
  ASSERT_EQ(::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len), 0);
  EXPECT_EQ(error, 0) << "the gateway reset the connection ("
                      << std::strerror(error)
                      << "): it closed with the client's bytes unread";
}

// Policy "backpressure" (the default): a subscriber that stops reading
// holds the publisher. The gateway stops reading the publisher's connection
// at the PUBLISH that does not fit, so TCP slows it; nothing is refused and
// nothing is lost. Once the subscriber reads, the publisher goes on, and the
// subscriber receives every message in order.
TEST_P(RobustnessTest,
       BackpressurePolicyHoldsThePublisherUntilReaderCatchesUp) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.default_stream.capacity_bytes = 1u << 20;
  c.default_stream.window_bytes = 256u << 10;
  ASSERT_EQ(c.default_stream.policy, config::SlowConsumerPolicy::kBackpressure)
      << "backpressure is the default";
  c.default_stream.stall_timeout_ms = 0;  // hold for as long as it takes
  c.socket.send_buffer_bytes = 32 << 10;
  // Small kernel buffers on the publisher's path too, so that what the
  // kernel can take is far less than what the test offers.
  c.socket.recv_buffer_bytes = 64 << 10;
  Start(c);
  auto sub = LoggedOnClient(/*rcvbuf=*/4096);
  ASSERT_TRUE(sub->Subscribe(1, "bp"));
  auto pub = LoggedOnClient();
  const StreamId id = pub->Open("bp");
  ASSERT_NE(id.value(), 0u);
  // 4 MiB of messages: sixteen windows, far more than the sockets hold,
  // offered without blocking until the kernel stops taking them.
  constexpr std::uint64_t kMessages = 8000;
  std::vector<std::byte> bytes(kMessages * 1024);
  std::size_t total = 0;
  for (std::uint64_t i = 1; i <= kMessages; ++i) {
    const std::string payload = absl::StrCat(i, ":", std::string(500, 'y'));
    total += tp::EncodePublish(
        std::span(bytes).subspan(total), id, i, tp::AsBytes(payload),
        i == kMessages ? tp::AckMode::kRequested : tp::AckMode::kNone);
  }
  const int fd = pub->fd();
  std::size_t sent =
      OfferUntilTheKernelStops(fd, std::span(bytes).first(total));
  // Held: the gateway stopped reading, so the kernel stopped taking bytes
  // (were the gateway buffering them instead, all 4 MiB would be sent).
  ASSERT_LT(sent, total) << "sent everything past a stalled reader";
  EXPECT_GE(gateway_->Stats().publish_holds, 1u);
  EXPECT_LT(gateway_->Stats().bytes_in, total / 2);
  std::thread publisher([&] {
    while (sent < total) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 100);
      const ssize_t w = ::send(fd, bytes.data() + sent, total - sent, 0);
      if (w > 0) sent += static_cast<std::size_t>(w);
      if (w < 0 && errno != EAGAIN) return;
    }
  });
  // Now read: every message arrives, in order, and the publisher finishes.
  for (std::uint64_t want = 1; want <= kMessages; ++want) {
    auto f = sub->ReadSkippingHeartbeats(10000ms);
    ASSERT_TRUE(f) << "waiting for " << want;
    ASSERT_EQ(f->type(), MessageType::kData) << "waiting for " << want;
    ASSERT_EQ(tp::DataView(f->view()).sequence().value(), want);
    ASSERT_EQ(PayloadText(*f).substr(0, PayloadText(*f).find(':')),
              absl::StrCat(want));
  }
  publisher.join();
  ASSERT_EQ(sent, total);
  auto ack = pub->ReadSkippingHeartbeats();
  ASSERT_TRUE(ack);
  ASSERT_EQ(ack->type(), MessageType::kPublishAck);
  EXPECT_EQ(tp::PublishAckView(ack->view()).status(), tp::ErrorCode::kNone);
  EXPECT_EQ(tp::PublishAckView(ack->view()).sequence().value(), kMessages);
  const server::GatewayStats stats = gateway_->Stats();
  EXPECT_EQ(stats.publishes, kMessages);
  EXPECT_EQ(stats.publishes_refused, 0u);
  EXPECT_EQ(stats.slow_consumers, 0u);
}

// A held publisher whose gateway stops: the drain ends its session with
// LOGOUT and a clean EOF, not a reset and not a hang, although its stream
// never had room again. The session reads again once it drains, so it
// takes the rest of what the publisher sent, sees its EOF and closes with
// nothing unread. Were it still not reading, it would wait out its linger
// time and close with the publisher's bytes unread, which the kernel turns
// into a reset: the publisher's socket would end with ECONNRESET, which is
// what the end of this test looks for.
TEST_P(RobustnessTest, HeldPublisherEndsCleanlyWhenTheGatewayStops) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.default_stream.capacity_bytes = 1u << 20;
  c.default_stream.window_bytes = 256u << 10;
  c.default_stream.stall_timeout_ms = 0;
  c.socket.send_buffer_bytes = 32 << 10;
  c.socket.recv_buffer_bytes = 64 << 10;
  c.shutdown_drain_ms = 300;  // the stalled subscriber never drains
  Start(c);
  auto sub = LoggedOnClient(/*rcvbuf=*/4096);
  ASSERT_TRUE(sub->Subscribe(1, "bp"));
  auto pub = LoggedOnClient();
  const StreamId id = pub->Open("bp");
  ASSERT_NE(id.value(), 0u);
  std::vector<std::byte> bytes(4000 * 1024);
  std::size_t total = 0;
  const std::string payload(500, 'h');
  for (int i = 0; i < 4000; ++i) {
    total += tp::EncodePublish(std::span(bytes).subspan(total), id, 0,
                               tp::AsBytes(payload));
  }
  const int fd = pub->fd();
  const std::size_t sent =
      OfferUntilTheKernelStops(fd, std::span(bytes).first(total));
  ASSERT_LT(sent, total) << "never held";
  ASSERT_GE(gateway_->Stats().publish_holds, 1u);
  ::shutdown(fd, SHUT_WR);  // nothing more from the publisher
  gateway_->RequestStop();
  // Read whatever the gateway sends (its LOGOUT) until the connection ends.
  ASSERT_TRUE(ReadUntilEof(fd).has_value());
  ExpectEndedWithoutReset(fd);
}

// A held publisher whose held bytes end in a LOGOUT: once the stream has
// room, the held PUBLISH is appended and the LOGOUT closes the session,
// which then reads on (ignoring what the client sent after its LOGOUT), so
// it sees the client's EOF and closes with nothing unread. Were it not
// reading, it would linger and then close with the client's bytes unread:
// a reset instead of a clean end.
TEST_P(RobustnessTest, HeldPublisherThatLogsOutEndsWithoutAReset) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.default_stream.capacity_bytes = 1u << 20;
  c.default_stream.window_bytes = 128u << 10;
  c.default_stream.stall_timeout_ms = 0;
  c.socket.send_buffer_bytes = 4096;
  c.socket.recv_buffer_bytes = 64 << 10;
  Start(c);
  auto sub = LoggedOnClient(/*rcvbuf=*/4096);
  ASSERT_TRUE(sub->Subscribe(1, "bp"));
  auto pub = LoggedOnClient();
  const StreamId id = pub->Open("bp");
  ASSERT_NE(id.value(), 0u);
  // 15 x 8,000 bytes fit the 128 KiB window even if the subscriber took
  // nothing, and leave it about 10 KiB plus what the subscriber's small
  // socket buffers took: less than the 60,000-byte PUBLISH that follows.
  constexpr int kFirst = 15;
  for (int i = 1; i <= kFirst; ++i) {
    ASSERT_TRUE(pub->Publish(id, std::string(8000, 'a'), i, i == kFirst));
  }
  auto ack = pub->ReadSkippingHeartbeats();
  ASSERT_TRUE(ack);
  ASSERT_EQ(ack->type(), MessageType::kPublishAck);
  ASSERT_EQ(gateway_->Stats().publish_holds, 0u);
  // One write: the PUBLISH that is held, the LOGOUT right behind it (read
  // with it, so held with it), then more than the kernel takes.
  std::vector<std::byte> bytes(4 << 20);
  std::size_t total =
      tp::EncodePublish(bytes, id, 0, tp::AsBytes(std::string(60000, 'b')));
  total +=
      tp::EncodeLogout(std::span(bytes).subspan(total), tp::ErrorCode::kNone);
  const std::string filler(500, 'c');
  while (bytes.size() - total >= 1024) {
    total += tp::EncodePublish(std::span(bytes).subspan(total), id, 0,
                               tp::AsBytes(filler));
  }
  const int fd = pub->fd();
  const std::size_t sent =
      OfferUntilTheKernelStops(fd, std::span(bytes).first(total));
  ASSERT_LT(sent, total) << "never held";
  ASSERT_GE(gateway_->Stats().publish_holds, 1u);
  ::shutdown(fd, SHUT_WR);  // nothing more from the publisher
  // The subscriber reads: the held PUBLISH is appended, nothing after the
  // LOGOUT is.
  for (std::uint64_t want = 1; want <= kFirst + 1; ++want) {
    auto f = sub->ReadSkippingHeartbeats(10000ms);
    ASSERT_TRUE(f) << "waiting for " << want;
    ASSERT_EQ(f->type(), MessageType::kData);
    ASSERT_EQ(tp::DataView(f->view()).sequence().value(), want);
    EXPECT_EQ(tp::DataView(f->view()).payload().size(),
              want <= kFirst ? 8000u : 60000u);
  }
  // The publisher: the gateway's LOGOUT, then EOF, then the end of the
  // connection, not a reset.
  const std::optional<std::vector<std::byte>> got = ReadUntilEof(fd);
  ASSERT_TRUE(got.has_value());
  // (A slow run may have had a HEARTBEAT first.)
  std::span<const std::byte> rest(*got);
  tp::DecodeResult r = tp::DecodeFrame(rest, c.max_frame_length);
  for (int i = 0; i < 100 && r.status == tp::DecodeStatus::kFrame &&
                  r.frame.type() == MessageType::kHeartbeat;
       ++i) {
    rest = rest.subspan(r.consumed);
    r = tp::DecodeFrame(rest, c.max_frame_length);
  }
  ASSERT_EQ(r.status, tp::DecodeStatus::kFrame);
  EXPECT_EQ(r.frame.type(), MessageType::kLogout);
  ExpectEndedWithoutReset(fd);
}

// Policy "backpressure": a subscriber that reads nothing at all for the
// stall timeout is cut (so it cannot hold its publishers forever): whole
// frames, then ERROR SLOW_CONSUMER saying why, then EOF. The held publisher
// goes on, and a subscriber that keeps reading loses nothing.
TEST_P(RobustnessTest, BackpressureCutsASubscriberStalledPastTheStallTimeout) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.default_stream.capacity_bytes = 1u << 20;
  c.default_stream.window_bytes = 256u << 10;
  c.default_stream.stall_timeout_ms = 200;
  c.socket.send_buffer_bytes = 32 << 10;
  Start(c);
  auto stuck = LoggedOnClient(/*rcvbuf=*/4096);
  ASSERT_TRUE(stuck->Subscribe(1, "bp"));
  auto reader = LoggedOnClient();
  ASSERT_TRUE(reader->Subscribe(1, "bp"));
  auto pub = LoggedOnClient();
  const StreamId id = pub->Open("bp");
  ASSERT_NE(id.value(), 0u);
  constexpr std::uint64_t kMessages = 4000;
  std::thread publisher([&] {
    const std::string payload(500, 'z');
    for (std::uint64_t i = 1; i <= kMessages; ++i) {
      ASSERT_TRUE(pub->Publish(id, payload, i, /*ack=*/i == kMessages));
    }
  });
  std::thread reading([&] {
    for (std::uint64_t want = 1; want <= kMessages; ++want) {
      auto f = reader->ReadSkippingHeartbeats(10000ms);
      ASSERT_TRUE(f) << "waiting for " << want;
      ASSERT_EQ(f->type(), MessageType::kData);
      ASSERT_EQ(tp::DataView(f->view()).sequence().value(), want);
    }
  });
  ASSERT_TRUE(WaitUntil([&] { return gateway_->Stats().slow_consumers > 0; }));
  // The stuck subscriber, read as soon as it is cut (before the close
  // deadline): whole DATA frames in order, then the ERROR.
  std::uint64_t next = 1;
  std::optional<Frame> last;
  for (std::uint64_t i = 0; i <= kMessages; ++i) {
    last = stuck->ReadSkippingHeartbeats();
    ASSERT_TRUE(last) << "EOF or a cut frame after DATA " << next - 1;
    if (last->type() != MessageType::kData) break;
    ASSERT_EQ(tp::DataView(last->view()).sequence().value(), next++);
  }
  ASSERT_EQ(last->type(), MessageType::kError);
  const tp::ErrorView e(last->view());
  EXPECT_EQ(e.code(), tp::ErrorCode::kSlowConsumer);
  EXPECT_TRUE(e.fatal());
  EXPECT_THAT(std::string(e.text()), HasSubstr("read nothing for"));
  EXPECT_THAT(std::string(e.text()), HasSubstr("stream 'bp'"));
  EXPECT_THAT(std::string(e.text()), HasSubstr("holding its publishers back"));
  EXPECT_TRUE(stuck->WaitForEof());
  publisher.join();
  reading.join();
  EXPECT_GE(gateway_->Stats().publish_holds, 1u);
  EXPECT_EQ(gateway_->Stats().slow_consumers, 1u);
  EXPECT_EQ(gateway_->Stats().publishes, kMessages);
}

// 1,000 connections (in waves, within the fd limit) log on, subscribe and
// close; afterwards no session is left and memory is back near baseline.
TEST_P(RobustnessTest, ThousandConnectionsOpenAndCloseWithoutLeaking) {
  Start(TestConfig(GetParam()));
  auto pub = LoggedOnClient();
  const StreamId id = pub->Open("churn");
  auto wave = [&](int n) {
    std::vector<std::unique_ptr<TestClient>> clients;
    for (int i = 0; i < n; ++i) {
      clients.push_back(LoggedOnClient());
      ASSERT_NE(clients.back(), nullptr);
      ASSERT_TRUE(clients.back()->SendSubscribe(1, "churn"));
    }
    for (auto& c : clients) ASSERT_TRUE(c->ReadSkippingHeartbeats());
    ASSERT_TRUE(pub->Publish(id, "tick"));
    for (auto& c : clients) {
      auto f = c->ReadSkippingHeartbeats();
      ASSERT_TRUE(f);
      ASSERT_EQ(f->type(), MessageType::kData);
    }
  };
  auto wait_closed = [&] {
    EXPECT_TRUE(WaitUntil([&] {
      return gateway_->Stats().sessions_open == 1;  // the publisher
    })) << gateway_->Stats().sessions_open;
  };
  wave(200);  // warm up allocator pools and the reactor's tables
  wait_closed();
  const std::int64_t baseline = RssBytes();
  for (int round = 0; round < 5; ++round) wave(200);
  wait_closed();
  const std::int64_t after = RssBytes();
  EXPECT_GE(gateway_->Stats().connections_accepted, 1200u);
  if (kRssMeaningful) {
    EXPECT_LT(after - baseline, 16 << 20)
        << "RSS grew from " << baseline << " to " << after;
  }
}

// Configured limits answer with LIMIT_EXCEEDED and hurt nobody else.
TEST_P(RobustnessTest, LimitsOnConnectionsSubscriptionsAndPublishRate) {
  config::GatewayConfig c = TestConfig(GetParam());
  c.max_connections = 3;
  c.max_subscriptions_per_session = 2;
  c.max_publish_rate = 50;  // per second, burst of 50
  Start(c);
  auto a = LoggedOnClient();
  const auto b_logon = Clock::now();  // before b's LOGON fills its bucket
  auto b = LoggedOnClient();
  auto d = LoggedOnClient();
  // A fourth connection is told why, then closed.
  auto refused = TestClient::Connect(gateway_->port());
  ASSERT_NE(refused, nullptr);
  auto err = refused->Read(3000ms);
  ASSERT_TRUE(err);
  ASSERT_EQ(err->type(), MessageType::kError);
  EXPECT_EQ(tp::ErrorView(err->view()).code(), tp::ErrorCode::kLimitExceeded);
  EXPECT_TRUE(refused->WaitForEof());
  EXPECT_GE(gateway_->Stats().connections_refused, 1u);

  ASSERT_TRUE(a->Subscribe(1, "x"));
  ASSERT_TRUE(a->Subscribe(2, "y"));
  auto third = a->Subscribe(3, "z");
  ASSERT_TRUE(third);
  ASSERT_EQ(third->type(), MessageType::kError);
  EXPECT_EQ(tp::ErrorView(third->view()).code(), tp::ErrorCode::kLimitExceeded);
  EXPECT_FALSE(tp::ErrorView(third->view()).fatal());

  // b's allowance: a burst of 50, then 50 a second since its LOGON. The
  // publishes go out in one write, so the gateway reads them in one go; how
  // many it may accept is bounded by the time b has been logged on by the
  // last answer (measured, so a slow machine only widens the bound).
  const StreamId id = b->Open("x");
  constexpr int kPublishes = 1000;
  std::vector<std::byte> all(kPublishes * 64);
  std::size_t n = 0;
  for (int i = 0; i < kPublishes; ++i) {
    n += tp::EncodePublish(std::span(all).subspan(n), id, i,
                           tp::AsBytes(std::string_view("r")),
                           tp::AckMode::kRequested);
  }
  ASSERT_TRUE(b->SendRaw(std::span(all).first(n)));
  int accepted = 0;
  int limited = 0;
  for (int i = 0; i < kPublishes; ++i) {
    auto f = b->ReadSkippingHeartbeats();
    ASSERT_TRUE(f);
    ASSERT_EQ(f->type(), MessageType::kPublishAck);
    const tp::ErrorCode st = tp::PublishAckView(f->view()).status();
    if (st == tp::ErrorCode::kNone) ++accepted;
    if (st == tp::ErrorCode::kLimitExceeded) ++limited;
  }
  const double logged_on_s =
      std::chrono::duration<double>(Clock::now() - b_logon).count();
  EXPECT_GE(accepted, 50);
  EXPECT_LE(accepted, 50 + static_cast<int>(50 * logged_on_s) + 1)
      << "over " << logged_on_s << " s";
  EXPECT_GT(limited, 0);
  EXPECT_EQ(accepted + limited, kPublishes);
  // Only accepted messages reach the subscriber, in order.
  for (int s = 1; s <= accepted; ++s) {
    auto f = a->ReadSkippingHeartbeats();
    ASSERT_TRUE(f);
    ASSERT_EQ(f->type(), MessageType::kData);
    EXPECT_EQ(tp::DataView(f->view()).sequence().value(),
              static_cast<std::uint64_t>(s));
  }
  // The other session is unaffected by b's rate limit.
  const StreamId id2 = d->Open("x");
  ASSERT_TRUE(d->Publish(id2, "fine", 1, true));
  auto ok = d->ReadSkippingHeartbeats();
  ASSERT_TRUE(ok);
  EXPECT_EQ(tp::PublishAckView(ok->view()).status(), tp::ErrorCode::kNone);
}

INSTANTIATE_TEST_SUITE_P(Backends, RobustnessTest,
                         ::testing::ValuesIn(AllGatewayParams()), ParamName);

}  // namespace
}  // namespace tachyon::testing
