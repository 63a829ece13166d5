// The Reactor contract (core/reactor.h), one suite run against every
// implementation over real loopback sockets: epoll, io_uring, and io_uring
// without provided-buffer rings (single-shot receive). io_uring cases skip,
// naming the reason, where the kernel or sandbox lacks it.
//
// Every wait is bounded by a deadline; every loop by a count or a deadline.
#include "io/reactor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "io/socket.h"

namespace tachyon::io {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

enum class Backend { kEpoll, kUring, kUringSingleShot };

struct BackendCase {
  const char* name;
  Backend backend;
};

std::string CaseName(const ::testing::TestParamInfo<BackendCase>& c) {
  return c.param.name;
}

std::vector<std::byte> Pattern(std::size_t size, std::uint64_t seed) {
  std::vector<std::byte> out(size);
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i < size; i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(out.data() + i, &v, std::min<std::size_t>(8, size - i));
  }
  return out;
}

// A blocking client socket connected to 127.0.0.1:`port`, optionally with a
// small receive buffer (set before connect so the window is small too).
int Connect(std::uint16_t port, int rcvbuf = 0) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (rcvbuf > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void SetNonBlocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

class Acceptor final : public AcceptHandler {
 public:
  void OnAccept(int fd) override { fds.push_back(fd); }
  std::vector<int> fds;
};

// Records every callback and checks the contract as it goes: nothing after
// Close or OnReleased, no OnData after OnPeerClosed, OnSendComplete only
// while a send is outstanding, OnWritable only after a send that wrote
// nothing. Can send a byte range of any size to completion, following the
// documented protocol: a pending Send completes through
// OnSendComplete(bytes); a non-pending one returns bytes written (a partial
// write means "send the rest"); a send that wrote nothing (0, either way) is
// followed by OnWritable once the socket has room.
class TestHandler final : public ConnectionHandler {
 public:
  explicit TestHandler(Reactor* reactor) : reactor_(reactor) {}

  void set_connection(Connection* c) { conn_ = c; }
  Connection* connection() const { return conn_; }

  // Options.
  bool close_on_peer_closed = true;
  bool close_on_first_data = false;
  std::size_t echo_after = 0;      // echo the first N bytes once received
  bool* destroyed_flag = nullptr;  // set by the destructor
  bool delete_self_on_release = false;

  // Observations.
  std::vector<std::byte> received;
  int data_calls = 0;
  int peer_closed_calls = 0;
  int peer_closed_error = 1;
  int released = 0;
  int violations = 0;
  std::string first_violation;
  // Send statistics.
  int send_calls = 0;
  int pending_sends = 0;
  int would_block = 0;     // a send wrote nothing (OnWritable follows)
  int partial_writes = 0;  // fewer bytes than offered, either way
  int completions = 0;
  int writables = 0;  // OnWritable calls
  ssize_t send_error = 0;

  ~TestHandler() override {
    if (destroyed_flag != nullptr) *destroyed_flag = true;
  }

  // Sends `iov` to completion over later Polls (the bytes must outlive it).
  void SendAll(std::vector<iovec> iov) {
    out_ = std::move(iov);
    total_ = 0;
    for (const iovec& v : out_) total_ += v.iov_len;
    sent_ = 0;
    Pump();
  }
  bool send_done() const { return sent_ == total_; }
  bool send_waiting() const { return waiting_ || awaiting_writable_; }
  std::size_t sent() const { return sent_; }

  void Close() {
    if (close_called_) return;
    close_called_ = true;
    reactor_->Close(conn_);
  }
  bool close_called() const { return close_called_; }

  void OnData(std::span<const std::byte> data) override {
    Check("OnData");
    if (peer_closed_calls > 0) Violation("OnData after OnPeerClosed");
    if (data.empty()) Violation("empty OnData");
    ++data_calls;
    received.insert(received.end(), data.begin(), data.end());
    if (close_on_first_data) {
      Close();
      return;
    }
    if (echo_after > 0 && received.size() >= echo_after && !echoed_) {
      echoed_ = true;
      echo_.assign(received.begin(), received.begin() + echo_after);
      SendAll({iovec{echo_.data(), echo_.size()}});
    }
  }

  void OnSendComplete(ssize_t result) override {
    Check("OnSendComplete");
    if (!waiting_) Violation("OnSendComplete with no send outstanding");
    waiting_ = false;
    ++completions;
    if (result < 0) {
      send_error = result;
      return;
    }
    if (result == 0) {
      ++would_block;
      awaiting_writable_ = true;
      return;
    }
    Advance(static_cast<std::size_t>(result));
    Pump();
  }

  void OnWritable() override {
    Check("OnWritable");
    if (!awaiting_writable_) Violation("OnWritable after no empty send");
    awaiting_writable_ = false;
    ++writables;
    Pump();
  }

  void OnPeerClosed(int error) override {
    Check("OnPeerClosed");
    ++peer_closed_calls;
    peer_closed_error = error;
    if (close_on_peer_closed) Close();
  }

  void OnReleased() override {
    if (released > 0) Violation("second OnReleased");
    if (!close_called_) Violation("OnReleased without Close");
    ++released;
    if (delete_self_on_release) delete this;
  }

 private:
  void Check(const char* what) {
    if (released > 0) Violation(std::string(what) + " after OnReleased");
    if (close_called_) Violation(std::string(what) + " after Close");
  }
  void Violation(const std::string& what) {
    if (violations++ == 0) first_violation = what;
  }

  void Advance(std::size_t n) {
    if (n < offered_) ++partial_writes;
    sent_ += n;
    if (sent_ > total_) Violation("more bytes reported sent than offered");
  }

  void Pump() {
    while (!waiting_ && !awaiting_writable_ && sent_ < total_ &&
           !close_called_ && send_error == 0) {
      // The unsent remainder of out_, as at most kMaxIov entries.
      std::array<iovec, Reactor::kMaxIov> iov;
      std::size_t n = 0;
      std::size_t skip = sent_;
      offered_ = 0;
      for (const iovec& v : out_) {
        if (n == iov.size()) break;
        if (skip >= v.iov_len) {
          skip -= v.iov_len;
          continue;
        }
        iov[n++] = {static_cast<char*>(v.iov_base) + skip, v.iov_len - skip};
        offered_ += v.iov_len - skip;
        skip = 0;
      }
      ++send_calls;
      const SendResult r = reactor_->Send(conn_, {iov.data(), n});
      if (r.pending) {
        ++pending_sends;
        waiting_ = true;
      } else if (r.bytes > 0) {
        Advance(static_cast<std::size_t>(r.bytes));
      } else if (r.bytes == 0) {
        ++would_block;
        awaiting_writable_ = true;
      } else {
        send_error = r.bytes;
      }
    }
  }

  Reactor* reactor_;
  Connection* conn_ = nullptr;
  bool close_called_ = false;
  bool echoed_ = false;
  std::vector<std::byte> echo_;
  std::vector<iovec> out_;
  std::size_t total_ = 0;
  std::size_t sent_ = 0;
  std::size_t offered_ = 0;
  bool waiting_ = false;
  bool awaiting_writable_ = false;
};

class ReactorTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    ReactorOptions options;
    config::IoBackend io = config::IoBackend::kEpoll;
    if (GetParam().backend != Backend::kEpoll) io = config::IoBackend::kUring;
    if (GetParam().backend == Backend::kUringSingleShot) {
      options.uring_provided_buffers = false;
    }
    std::string reason;
    absl::StatusOr<std::unique_ptr<Reactor>> reactor =
        CreateReactor(io, options, &reason);
    if (!reactor.ok() && io == config::IoBackend::kUring) {
      GTEST_SKIP() << "io_uring unavailable here: " << reactor.status();
    }
    ASSERT_TRUE(reactor.ok()) << reactor.status();
    reactor_ = *std::move(reactor);
    if (GetParam().backend == Backend::kUringSingleShot) {
      ASSERT_THAT(reason, ::testing::HasSubstr("single-shot-recv"));
    }
    EXPECT_EQ(reactor_->name(),
              io == config::IoBackend::kEpoll ? "epoll" : "io_uring");

    absl::StatusOr<int> listener = CreateTcpListener("127.0.0.1", 0, 1024);
    ASSERT_TRUE(listener.ok()) << listener.status();
    listener_ = *listener;
    absl::StatusOr<std::uint16_t> port = LocalPort(listener_);
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
    ASSERT_TRUE(reactor_->AddListener(listener_, &acceptor_).ok());
  }

  void TearDown() override {
    if (reactor_ != nullptr && listener_ >= 0) {
      reactor_->RemoveListener(listener_);
    }
    reactor_.reset();  // closes the sockets of connections still registered
    if (listener_ >= 0) ::close(listener_);
    for (int fd : clients_) ::close(fd);
    for (int fd : acceptor_.fds) {
      if (!IsAdopted(fd)) ::close(fd);
    }
  }

  // Polls (waiting at most 1 ms each time) until `done` or the deadline.
  bool PollUntil(const std::function<bool()>& done,
                 Clock::duration limit = seconds(10)) {
    const Clock::time_point deadline = Clock::now() + limit;
    while (!done()) {
      if (Clock::now() > deadline) return false;
      reactor_->Poll(1000);
    }
    return true;
  }

  // Polls for `duration` regardless of events.
  void PollFor(Clock::duration duration) {
    const Clock::time_point end = Clock::now() + duration;
    while (Clock::now() < end) reactor_->Poll(1000);
  }

  int NewClient(int rcvbuf = 0) {
    const int fd = Connect(port_, rcvbuf);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    if (fd >= 0) clients_.push_back(fd);
    return fd;
  }

  // Connects a client, waits for the accept and registers the server side
  // with `handler`. Returns the client fd (-1 on failure).
  int Establish(TestHandler& handler, int rcvbuf = 0) {
    const std::size_t before = acceptor_.fds.size();
    const int client = NewClient(rcvbuf);
    if (client < 0) return -1;
    if (!PollUntil([&] { return acceptor_.fds.size() > before; })) {
      ADD_FAILURE() << "no OnAccept within the deadline";
      return -1;
    }
    const int fd = acceptor_.fds.back();
    adopted_.push_back(fd);
    Connection* conn = reactor_->AddConnection(fd, &handler);
    if (conn == nullptr) {
      ADD_FAILURE() << "AddConnection failed";
      return -1;
    }
    EXPECT_EQ(conn->fd(), fd);
    EXPECT_EQ(conn->handler(), &handler);
    handler.set_connection(conn);
    return client;
  }

  bool IsAdopted(int fd) const {
    return std::find(adopted_.begin(), adopted_.end(), fd) != adopted_.end();
  }

  void ForgetClient(int fd) { std::erase(clients_, fd); }

  std::unique_ptr<Reactor> reactor_;
  Acceptor acceptor_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::vector<int> clients_;
  std::vector<int> adopted_;  // accepted fds now owned by the reactor
};

TEST_P(ReactorTest, AcceptDeliversNonBlockingCloseOnExecSocket) {
  const int client = NewClient();
  ASSERT_GE(client, 0);
  ASSERT_TRUE(PollUntil([&] { return !acceptor_.fds.empty(); }));
  ASSERT_EQ(acceptor_.fds.size(), 1u);
  const int fd = acceptor_.fds[0];
  EXPECT_NE(::fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  // It is the server side of our client's connection.
  sockaddr_in peer{};
  sockaddr_in local{};
  socklen_t len = sizeof peer;
  ASSERT_EQ(::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len), 0);
  len = sizeof local;
  ASSERT_EQ(::getsockname(client, reinterpret_cast<sockaddr*>(&local), &len),
            0);
  EXPECT_EQ(peer.sin_port, local.sin_port);
}

TEST_P(ReactorTest, AcceptsConnectionsQueuedBeforeAddListener) {
  absl::StatusOr<int> second = CreateTcpListener("127.0.0.1", 0, 16);
  ASSERT_TRUE(second.ok());
  absl::StatusOr<std::uint16_t> port = LocalPort(*second);
  ASSERT_TRUE(port.ok());
  const int client = Connect(*port);
  ASSERT_GE(client, 0);
  clients_.push_back(client);
  Acceptor acceptor;
  ASSERT_TRUE(reactor_->AddListener(*second, &acceptor).ok());
  EXPECT_TRUE(PollUntil([&] { return !acceptor.fds.empty(); }));
  reactor_->RemoveListener(*second);
  reactor_->Poll(0);
  ::close(*second);
  for (int fd : acceptor.fds) ::close(fd);
}

TEST_P(ReactorTest, OnDataReceivesEveryByteInOrder) {
  constexpr std::size_t kTotal = 1 << 20;
  const std::vector<std::byte> data = Pattern(kTotal, 1);
  TestHandler handler(reactor_.get());
  // Bytes sent before the server side is registered must not be lost.
  const int client = NewClient();
  ASSERT_GE(client, 0);
  ASSERT_EQ(::send(client, data.data(), 1000, 0), 1000);
  ASSERT_TRUE(PollUntil([&] { return !acceptor_.fds.empty(); }));
  adopted_.push_back(acceptor_.fds[0]);
  Connection* conn = reactor_->AddConnection(acceptor_.fds[0], &handler);
  ASSERT_NE(conn, nullptr);
  handler.set_connection(conn);
  SetNonBlocking(client);

  std::mt19937 rng(2);
  std::uniform_int_distribution<std::size_t> chunk(1, 64 * 1024);
  std::size_t sent = 1000;
  const Clock::time_point deadline = Clock::now() + seconds(20);
  while ((sent < kTotal || handler.received.size() < kTotal) &&
         Clock::now() < deadline) {
    if (sent < kTotal) {
      const std::size_t n = std::min(chunk(rng), kTotal - sent);
      const ssize_t w = ::send(client, data.data() + sent, n, MSG_NOSIGNAL);
      if (w > 0) sent += static_cast<std::size_t>(w);
      ASSERT_TRUE(w > 0 || errno == EAGAIN) << std::strerror(errno);
    }
    reactor_->Poll(sent < kTotal ? 0 : 1000);
  }
  ASSERT_EQ(handler.received.size(), kTotal);
  EXPECT_TRUE(handler.received == data) << "bytes differ or are out of order";
  EXPECT_GT(handler.data_calls, 1);
  EXPECT_EQ(handler.violations, 0) << handler.first_violation;
  EXPECT_EQ(handler.peer_closed_calls, 0);
}

// 8 MiB from seven iovecs of awkward sizes to a peer with a small receive
// buffer that reads at most 16 KiB per loop turn: the send must go through
// partial writes and would-block completions and still deliver every byte.
TEST_P(ReactorTest, LargeSendCompletesAgainstASlowReader) {
  constexpr std::size_t kTotal = 8 << 20;
  const std::vector<std::byte> data = Pattern(kTotal, 3);
  const std::size_t cuts[] = {0,       1,       4097,    1 << 20,
                              3 << 20, 3145729, 6 << 20, kTotal};
  std::vector<iovec> iov;
  for (std::size_t i = 0; i + 1 < std::size(cuts); ++i) {
    iov.push_back(
        {const_cast<std::byte*>(data.data()) + cuts[i], cuts[i + 1] - cuts[i]});
  }
  TestHandler handler(reactor_.get());
  const int client = Establish(handler, 32 * 1024);
  ASSERT_GE(client, 0);
  SetNonBlocking(client);
  handler.SendAll(iov);

  // Let the buffers fill before reading anything.
  EXPECT_TRUE(PollUntil([&] { return handler.send_waiting(); }, seconds(5)));
  std::vector<std::byte> got;
  got.reserve(kTotal);
  std::array<std::byte, 16 * 1024> buf;
  const Clock::time_point deadline = Clock::now() + seconds(30);
  while (got.size() < kTotal && Clock::now() < deadline &&
         handler.send_error == 0) {
    const ssize_t r = ::recv(client, buf.data(), buf.size(), 0);
    if (r > 0) got.insert(got.end(), buf.begin(), buf.begin() + r);
    ASSERT_TRUE(r > 0 || errno == EAGAIN) << r << " " << std::strerror(errno);
    reactor_->Poll(r > 0 ? 0 : 1000);
  }
  EXPECT_EQ(handler.send_error, 0) << std::strerror(-handler.send_error);
  ASSERT_EQ(got.size(), kTotal);
  EXPECT_TRUE(got == data) << "bytes differ or are out of order";
  EXPECT_TRUE(handler.send_done());
  EXPECT_FALSE(handler.send_waiting());
  EXPECT_GT(handler.send_calls, 1);
  EXPECT_GT(handler.would_block + handler.partial_writes, 0);
  // Every send that wrote nothing is followed by exactly one OnWritable.
  EXPECT_EQ(handler.writables, handler.would_block);
  if (GetParam().backend == Backend::kEpoll) {
    EXPECT_EQ(handler.pending_sends, 0);
    EXPECT_EQ(handler.completions, 0);
  } else {
    EXPECT_EQ(handler.pending_sends, handler.send_calls);
    EXPECT_EQ(handler.completions, handler.send_calls);
  }
  EXPECT_EQ(handler.violations, 0) << handler.first_violation;
}

TEST_P(ReactorTest, PeerCloseReportsZeroAfterAllData) {
  TestHandler handler(reactor_.get());
  const int client = Establish(handler);
  ASSERT_GE(client, 0);
  const std::vector<std::byte> data = Pattern(100000, 4);
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t w = ::send(client, data.data() + off, data.size() - off, 0);
    ASSERT_GT(w, 0);
    off += static_cast<std::size_t>(w);
  }
  ::close(client);
  ForgetClient(client);
  ASSERT_TRUE(PollUntil([&] { return handler.peer_closed_calls > 0; }));
  EXPECT_EQ(handler.peer_closed_error, 0);
  EXPECT_TRUE(handler.received == data);
  ASSERT_TRUE(PollUntil([&] { return handler.released > 0; }));
  PollFor(milliseconds(20));
  EXPECT_EQ(handler.peer_closed_calls, 1);
  EXPECT_EQ(handler.released, 1);
  EXPECT_EQ(handler.violations, 0) << handler.first_violation;
}

TEST_P(ReactorTest, PeerResetReportsNegativeErrno) {
  TestHandler handler(reactor_.get());
  const int client = Establish(handler);
  ASSERT_GE(client, 0);
  reactor_->Poll(0);  // the receive is armed before the reset arrives
  const linger abortive{1, 0};
  ASSERT_EQ(
      ::setsockopt(client, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive),
      0);
  ::close(client);
  ForgetClient(client);
  ASSERT_TRUE(PollUntil([&] { return handler.peer_closed_calls > 0; }));
  EXPECT_EQ(handler.peer_closed_error, -ECONNRESET);
  ASSERT_TRUE(PollUntil([&] { return handler.released > 0; }));
  EXPECT_EQ(handler.violations, 0) << handler.first_violation;
}

TEST_P(ReactorTest, CloseReleasesExactlyOnceFromALaterPoll) {
  TestHandler handler(reactor_.get());
  const int client = Establish(handler);
  ASSERT_GE(client, 0);
  ASSERT_EQ(::send(client, "ping", 4, 0), 4);
  ASSERT_TRUE(PollUntil([&] { return handler.received.size() == 4; }));

  handler.Close();
  EXPECT_EQ(handler.released, 0) << "OnReleased must come from a later Poll";
  reactor_->Close(handler.connection());  // a second Close is harmless
  ASSERT_TRUE(PollUntil([&] { return handler.released > 0; }));

  // The reactor closed the socket: the client sees end of stream (or a
  // reset), and nothing it sends reaches the handler.
  SetNonBlocking(client);
  ::send(client, "more", 4, MSG_NOSIGNAL);
  char c;
  ssize_t r = -1;
  const Clock::time_point deadline = Clock::now() + seconds(5);
  while (Clock::now() < deadline) {
    r = ::recv(client, &c, 1, 0);
    if (r >= 0 || errno != EAGAIN) break;
    reactor_->Poll(1000);
  }
  EXPECT_TRUE(r == 0 || (r < 0 && errno == ECONNRESET)) << r;
  PollFor(milliseconds(50));
  EXPECT_EQ(handler.released, 1);
  EXPECT_EQ(handler.received.size(), 4u);
  EXPECT_EQ(handler.violations, 0) << handler.first_violation;
}

TEST_P(ReactorTest, CloseInsideOnDataStopsFurtherCallbacks) {
  TestHandler handler(reactor_.get());
  handler.close_on_first_data = true;
  const int client = Establish(handler);
  ASSERT_GE(client, 0);
  // Much more than one read's worth, so more data is ready after the Close.
  const std::vector<std::byte> data = Pattern(256 * 1024, 5);
  SetNonBlocking(client);
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t w =
        ::send(client, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (w <= 0) break;
    off += static_cast<std::size_t>(w);
  }
  ASSERT_GT(off, 0u);
  ASSERT_TRUE(PollUntil([&] { return handler.released > 0; }));
  PollFor(milliseconds(50));
  EXPECT_EQ(handler.data_calls, 1);
  EXPECT_EQ(handler.released, 1);
  EXPECT_EQ(handler.violations, 0) << handler.first_violation;
}

TEST_P(ReactorTest, CloseWithASendOutstandingStillReleasesOnce) {
  constexpr std::size_t kTotal = 8 << 20;
  const std::vector<std::byte> data = Pattern(kTotal, 6);
  TestHandler handler(reactor_.get());
  const int client = Establish(handler, 32 * 1024);
  ASSERT_GE(client, 0);
  handler.SendAll({iovec{const_cast<std::byte*>(data.data()), kTotal}});
  // The client never reads, so the send blocks.
  ASSERT_TRUE(PollUntil([&] { return handler.send_waiting(); }, seconds(5)));
  handler.Close();
  ASSERT_TRUE(PollUntil([&] { return handler.released > 0; }))
      << "a Close with a send outstanding was never released";
  PollFor(milliseconds(50));
  EXPECT_EQ(handler.released, 1);
  EXPECT_EQ(handler.violations, 0) << handler.first_violation;
  EXPECT_FALSE(handler.send_done());
}

TEST_P(ReactorTest, HandlerMayDestroyItselfInOnReleased) {
  bool destroyed = false;
  auto* handler = new TestHandler(reactor_.get());
  handler->delete_self_on_release = true;
  handler->destroyed_flag = &destroyed;
  const int client = Establish(*handler);
  ASSERT_GE(client, 0);
  ASSERT_EQ(::send(client, "x", 1, 0), 1);
  ASSERT_TRUE(PollUntil([&] { return !handler->received.empty(); }));
  handler->Close();
  // ASan reports any use of the handler after OnReleased.
  ASSERT_TRUE(PollUntil([&] { return destroyed; }));
  ::send(client, "y", 1, MSG_NOSIGNAL);
  PollFor(milliseconds(20));
}

TEST_P(ReactorTest, WakeFromAnotherThreadEndsABlockingPoll) {
  reactor_->Poll(0);
  for (int round = 0; round < 5; ++round) {
    std::atomic<bool> woke{false};
    std::thread waker([&] {
      std::this_thread::sleep_for(milliseconds(30));
      woke.store(true, std::memory_order_release);
      reactor_->Wake();
    });
    const Clock::time_point start = Clock::now();
    // A Poll may also return for other reasons; stop at the first that
    // returns after the wake-up was sent.
    for (int i = 0; i < 10 && !woke.load(std::memory_order_acquire); ++i) {
      reactor_->Poll(5'000'000);
    }
    const auto elapsed = Clock::now() - start;
    waker.join();
    EXPECT_TRUE(woke.load());
    EXPECT_LT(elapsed, seconds(2)) << "round " << round;
  }
}

TEST_P(ReactorTest, WakeBeforePollIsNotLost) {
  reactor_->Poll(0);
  for (int round = 0; round < 3; ++round) {
    reactor_->Wake();
    const Clock::time_point start = Clock::now();
    reactor_->Poll(5'000'000);
    EXPECT_LT(Clock::now() - start, seconds(2)) << "round " << round;
  }
}

// An idle Poll blocks instead of spinning. "At most timeout": a Poll may
// return early (epoll_wait returns EINTR when a torn-down io_uring instance of
// an earlier test queues task work on this thread), so count the Polls that
// 300 ms of idling take rather than timing a single one.
TEST_P(ReactorTest, IdlePollBlocksForItsTimeout) {
  for (int i = 0; i < 3; ++i) reactor_->Poll(0);
  const Clock::time_point start = Clock::now();
  int polls = 0;
  int handled = 0;
  while (Clock::now() - start < milliseconds(300) && polls < 1000) {
    handled += reactor_->Poll(100'000);
    ++polls;
  }
  EXPECT_LE(polls, 8) << handled << " events handled";
  EXPECT_EQ(handled, 0);
  EXPECT_LT(Clock::now() - start, seconds(3));
}

TEST_P(ReactorTest, RemoveListenerStopsAccepting) {
  ASSERT_GE(NewClient(), 0);
  ASSERT_TRUE(PollUntil([&] { return acceptor_.fds.size() == 1; }));
  reactor_->RemoveListener(listener_);
  // The socket still listens, so the kernel completes the handshake, but the
  // reactor must not accept it any more.
  ASSERT_GE(NewClient(), 0);
  PollFor(milliseconds(200));
  EXPECT_EQ(acceptor_.fds.size(), 1u);
  ::close(listener_);
  listener_ = -1;
  PollFor(milliseconds(20));
  EXPECT_EQ(acceptor_.fds.size(), 1u);
}

// --- Readiness (AddReadable): UDP sockets the owner drains itself ---------

// Drains its UDP socket to EAGAIN on every OnReadable, counting datagrams.
class DrainingReader : public ReadinessHandler {
 public:
  explicit DrainingReader(int fd) : fd_(fd) {}
  void OnReadable() override {
    ++calls;
    std::array<std::byte, 2048> buf;
    for (int i = 0; i < 100000; ++i) {
      const ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n < 0) return;
      ++datagrams;
    }
  }
  int calls = 0;
  int datagrams = 0;

 private:
  int fd_;
};

// A bound non-blocking UDP socket on loopback and its port.
int UdpSocket(std::uint16_t* port) {
  const int fd =
      ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  absl::StatusOr<std::uint16_t> p = LocalPort(fd);
  *port = p.ok() ? *p : 0;
  return fd;
}

void SendDatagrams(std::uint16_t port, int count) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const char byte = 'x';
  for (int i = 0; i < count; ++i) {
    ::sendto(fd, &byte, 1, 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  ::close(fd);
}

TEST_P(ReactorTest, ReadableReportsDatagramsQueuedBeforeRegistration) {
  std::uint16_t port = 0;
  const int fd = UdpSocket(&port);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  SendDatagrams(port, 3);
  DrainingReader reader(fd);
  ASSERT_TRUE(reactor_->AddReadable(fd, &reader).ok());
  EXPECT_TRUE(PollUntil([&] { return reader.datagrams == 3; }));
  reactor_->RemoveReadable(fd);
  ::close(fd);
}

TEST_P(ReactorTest, ReadableFiresForEveryLaterArrival) {
  std::uint16_t port = 0;
  const int fd = UdpSocket(&port);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  DrainingReader reader(fd);
  ASSERT_TRUE(reactor_->AddReadable(fd, &reader).ok());
  PollFor(milliseconds(20));
  for (int round = 1; round <= 5; ++round) {
    SendDatagrams(port, 10);
    ASSERT_TRUE(PollUntil([&] { return reader.datagrams == 10 * round; }))
        << "round " << round << ": " << reader.datagrams;
  }
  EXPECT_GE(reader.calls, 5);
  reactor_->RemoveReadable(fd);
  ::close(fd);
}

TEST_P(ReactorTest, RemoveReadableStopsCallbacks) {
  std::uint16_t port = 0;
  const int fd = UdpSocket(&port);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  DrainingReader reader(fd);
  ASSERT_TRUE(reactor_->AddReadable(fd, &reader).ok());
  SendDatagrams(port, 1);
  ASSERT_TRUE(PollUntil([&] { return reader.datagrams == 1; }));
  reactor_->RemoveReadable(fd);
  const int calls = reader.calls;
  SendDatagrams(port, 5);
  PollFor(milliseconds(100));
  EXPECT_EQ(reader.calls, calls);
  EXPECT_EQ(reader.datagrams, 1);
  ::close(fd);
}

// 200 clients at once: each sends 32 KiB before the server side is even
// registered (6.4 MB in all, more than io_uring's 4 MiB of provided buffers,
// so the multishot receives run the ring dry and are re-armed), the server
// echoes every message back on its connection, then the clients hang up and
// every connection is released exactly once.
TEST_P(ReactorTest, ManyConnectionsAtOnce) {
  constexpr int kClients = 200;
  constexpr std::size_t kMessage = 32 * 1024;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    const int fd = NewClient();
    ASSERT_GE(fd, 0) << "client " << i;
    clients.push_back(fd);
  }
  ASSERT_TRUE(PollUntil([&] { return acceptor_.fds.size() == kClients; }))
      << acceptor_.fds.size() << " accepted";
  std::vector<std::vector<std::byte>> messages;
  for (int i = 0; i < kClients; ++i) {
    messages.push_back(Pattern(kMessage, 100 + i));
    ASSERT_EQ(::send(clients[i], messages[i].data(), kMessage, 0),
              static_cast<ssize_t>(kMessage))
        << std::strerror(errno);
    SetNonBlocking(clients[i]);
  }
  std::vector<std::unique_ptr<TestHandler>> handlers;
  for (int fd : acceptor_.fds) {
    auto h = std::make_unique<TestHandler>(reactor_.get());
    h->echo_after = kMessage;
    adopted_.push_back(fd);
    Connection* conn = reactor_->AddConnection(fd, h.get());
    ASSERT_NE(conn, nullptr);
    h->set_connection(conn);
    handlers.push_back(std::move(h));
  }
  std::vector<std::vector<std::byte>> replies(kClients);
  std::vector<std::byte> buf(64 * 1024);
  int complete = 0;
  const Clock::time_point deadline = Clock::now() + seconds(20);
  while (complete < kClients && Clock::now() < deadline) {
    reactor_->Poll(1000);
    complete = 0;
    for (int i = 0; i < kClients; ++i) {
      const ssize_t r = ::recv(clients[i], buf.data(), buf.size(), 0);
      if (r > 0) {
        replies[i].insert(replies[i].end(), buf.begin(), buf.begin() + r);
      }
      if (replies[i].size() >= kMessage) ++complete;
    }
  }
  ASSERT_EQ(complete, kClients);
  // Which server handler got which client depends on accept order; every
  // client must get its own message back.
  for (int i = 0; i < kClients; ++i) {
    EXPECT_TRUE(replies[i] == messages[i]) << "client " << i;
  }
  for (int fd : clients) {
    ::close(fd);
    ForgetClient(fd);
  }
  ASSERT_TRUE(PollUntil([&] {
    return std::all_of(handlers.begin(), handlers.end(),
                       [](const auto& h) { return h->released > 0; });
  }));
  PollFor(milliseconds(20));
  for (const auto& h : handlers) {
    EXPECT_EQ(h->received.size(), kMessage);
    EXPECT_EQ(h->peer_closed_calls, 1);
    EXPECT_EQ(h->peer_closed_error, 0);
    EXPECT_EQ(h->released, 1);
    EXPECT_EQ(h->send_error, 0);
    EXPECT_TRUE(h->send_done());
    EXPECT_EQ(h->violations, 0) << h->first_violation;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Backends, ReactorTest,
    ::testing::Values(BackendCase{"Epoll", Backend::kEpoll},
                      BackendCase{"IoUring", Backend::kUring},
                      BackendCase{"IoUringSingleShotRecv",
                                  Backend::kUringSingleShot}),
    CaseName);

}  // namespace
}  // namespace tachyon::io
