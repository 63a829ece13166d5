// The Reactor contract (io/reactor.h), one suite run against every
// implementation over real loopback sockets: epoll, io_uring, and io_uring
// without provided-buffer rings (single-shot receive). io_uring cases skip,
// naming the reason, where the kernel or sandbox lacks it. A few io_uring
// cases inject what this kernel never does (a refused submission) through
// io/uring/uring_faults.h; epoll skips them.
//
// Every wait is bounded by a deadline; every loop by a count or a deadline;
// a call that might never return runs under a HangGuard.
#include "io/reactor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "io/socket.h"
#include "io/uring/uring_faults.h"
#include "support/net.h"
#include "support/require.h"

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

sockaddr_in Loopback(std::uint16_t port) {
  return testing::LoopbackAddress(port);
}

// A blocking client socket connected to 127.0.0.1:`port`, optionally with a
// small receive buffer (set before connect so the window is small too).
int Connect(std::uint16_t port, int rcvbuf = 0) {
  return testing::ConnectLoopback(port, rcvbuf);
}

void SetNonBlocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// Ends the process with a message if the scope is still running after
// `limit`: a call that never returns (a reactor spinning inside Poll) then
// fails the test instead of hanging it.
// Sends data[*sent..] to non-blocking `fd` in pieces of up to 64 KiB,
// polling `reactor` (without waiting) after each try, until the kernel has
// refused 50 sends in a row, all of data is sent, or 20 s passed. Returns
// the refusals in a row it stopped at (-1: a send failed otherwise).
int SendUntilRefused(int fd, const std::vector<std::byte>& data,
                     std::size_t* sent, Reactor& reactor) {
  int refusals = 0;
  const Clock::time_point deadline = Clock::now() + seconds(20);
  while (refusals < 50 && *sent < data.size() && Clock::now() < deadline) {
    const ssize_t w = ::send(
        fd, data.data() + *sent,
        std::min<std::size_t>(64 * 1024, data.size() - *sent), MSG_NOSIGNAL);
    if (w > 0) {
      *sent += static_cast<std::size_t>(w);
      refusals = 0;
    } else if (errno == EAGAIN) {
      ++refusals;
    } else {
      ADD_FAILURE() << std::strerror(errno);
      return -1;
    }
    reactor.Poll(0);
  }
  return refusals;
}

class HangGuard {
 public:
  HangGuard(const char* what, Clock::duration limit)
      : thread_([this, what, limit] {
          std::unique_lock<std::mutex> lock(mu_);
          if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
            std::fprintf(stderr, "HangGuard: %s did not finish; aborting\n",
                         what);
            std::abort();
          }
        }) {}
  ~HangGuard() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

class Acceptor final : public AcceptHandler {
 public:
  void OnAccept(int fd) override { fds.push_back(fd); }
  std::vector<int> fds;
};

// Counts contract violations a handler saw and keeps the first.
class ViolationLog {
 public:
  int violations = 0;
  std::string first_violation;

 protected:
  void Violation(const std::string& what) {
    if (violations++ == 0) first_violation = what;
  }
};

// Records every callback and checks the contract as it goes: nothing after
// Close or OnReleased, no OnData after OnPeerClosed, OnSendComplete only
// while a send is outstanding, OnWritable only after a send that wrote
// nothing. Can send a byte range of any size to completion, following the
// documented protocol: a pending Send completes through
// OnSendComplete(bytes); a non-pending one returns bytes written (a partial
// write means "send the rest"); a send that wrote nothing (0, either way) is
// followed by OnWritable once the socket has room.
class TestHandler final : public ConnectionHandler, public ViolationLog {
 public:
  explicit TestHandler(Reactor* reactor) : reactor_(reactor) {}

  void set_connection(Connection* c) { conn_ = c; }
  Connection* connection() const { return conn_; }

  // Options.
  bool close_on_peer_closed = true;
  bool close_on_first_data = false;
  TestHandler* close_on_data = nullptr;  // closes that handler on OnData
  std::size_t echo_after = 0;            // echo the first N bytes once received
  bool* destroyed_flag = nullptr;        // set by the destructor
  bool delete_self_on_release = false;
  bool outbound = false;  // from Connect: nothing may precede OnConnected
  bool close_on_connect_failure = false;  // a harmless extra Close
  bool pause_on_first_data = false;       // PauseReading inside OnData

  // Observations.
  std::vector<std::byte> received;
  int data_calls = 0;
  int peer_closed_calls = 0;
  int peer_closed_error = 1;
  int released = 0;
  int connected_calls = 0;
  int connect_error = 1;
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

  // Flow control through the reactor; OnData or OnPeerClosed while paused
  // is a violation.
  void Pause() {
    paused_ = true;
    reactor_->PauseReading(conn_);
  }
  void Resume() {
    paused_ = false;
    reactor_->ResumeReading(conn_);
  }
  bool paused() const { return paused_; }

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
    if (paused_) Violation("OnData while reading is paused");
    ++data_calls;
    received.insert(received.end(), data.begin(), data.end());
    if (pause_on_first_data && data_calls == 1) Pause();
    if (close_on_first_data) {
      Close();
      return;
    }
    if (close_on_data != nullptr) close_on_data->Close();
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
    if (paused_) Violation("OnPeerClosed while reading is paused");
    ++peer_closed_calls;
    peer_closed_error = error;
    if (close_on_peer_closed) Close();
  }

  void OnConnected(int error) override {
    if (!outbound) Violation("OnConnected on an accepted connection");
    if (connected_calls > 0) Violation("second OnConnected");
    if (released > 0) Violation("OnConnected after OnReleased");
    if (close_called_) Violation("OnConnected after Close");
    ++connected_calls;
    connect_error = error;
    if (conn_ == nullptr) {
      Violation("OnConnected from inside Connect");
      return;
    }
    if (error == 0) return;
    closed_by_reactor_ = true;
    // Still not connected during the call.
    const char byte = 'x';
    iovec v{const_cast<char*>(&byte), 1};
    const SendResult r = reactor_->Send(conn_, {&v, 1});
    if (r.pending || r.bytes != -ENOTCONN) {
      Violation("Send inside OnConnected(error) did not fail -ENOTCONN");
    }
    if (close_on_connect_failure) Close();
  }

  void OnReleased() override {
    if (released > 0) Violation("second OnReleased");
    if (!close_called_ && !closed_by_reactor_) {
      Violation("OnReleased without Close");
    }
    ++released;
    if (delete_self_on_release) delete this;
  }

 private:
  void Check(const char* what) {
    if (released > 0) Violation(std::string(what) + " after OnReleased");
    if (close_called_) Violation(std::string(what) + " after Close");
    if (closed_by_reactor_) {
      Violation(std::string(what) + " after a failed connect");
    }
    if (outbound && connected_calls == 0) {
      Violation(std::string(what) + " before OnConnected");
    }
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
  bool paused_ = false;
  bool closed_by_reactor_ = false;  // after OnConnected(error)
  bool echoed_ = false;
  std::vector<std::byte> echo_;
  std::vector<iovec> out_;
  std::size_t total_ = 0;
  std::size_t sent_ = 0;
  std::size_t offered_ = 0;
  bool waiting_ = false;
  bool awaiting_writable_ = false;
};

// Sends one buffer when told to and records how it went: a send that
// finished at once (epoll) or through OnSendComplete (io_uring), and each
// OnWritable. Checks that completions and OnWritable come only when due.
class OneShotSender final : public ConnectionHandler, public ViolationLog {
 public:
  explicit OneShotSender(Reactor* reactor) : reactor_(reactor) {}

  Connection* conn = nullptr;
  bool finished = false;  // the last Start has an outcome: `result`
  ssize_t result = 0;
  int writables = 0;
  int released = 0;

  void Start(std::span<const std::byte> bytes) {
    if (!finished && started_) Violation("Start with a send outstanding");
    started_ = true;
    finished = false;
    iovec v{const_cast<std::byte*>(bytes.data()), bytes.size()};
    const SendResult r = reactor_->Send(conn, {&v, 1});
    if (!r.pending) Finish(r.bytes);
  }

  void OnData(std::span<const std::byte>) override {}
  void OnSendComplete(ssize_t r) override {
    if (finished) Violation("OnSendComplete with no send outstanding");
    Finish(r);
  }
  void OnWritable() override {
    if (!awaiting_writable_) Violation("OnWritable after no empty send");
    awaiting_writable_ = false;
    ++writables;
  }
  void OnPeerClosed(int) override {}
  void OnReleased() override { ++released; }

 private:
  void Finish(ssize_t r) {
    finished = true;
    result = r;
    if (r == 0) awaiting_writable_ = true;
  }

  Reactor* reactor_;
  bool started_ = false;
  bool awaiting_writable_ = false;
};

class ReactorTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    StartReactor(ReactorOptions{});
    if (IsSkipped() || HasFatalFailure()) return;
    absl::StatusOr<int> listener = CreateTcpListener("127.0.0.1", 0, 1024);
    ASSERT_TRUE(listener.ok()) << listener.status();
    listener_ = *listener;
    absl::StatusOr<std::uint16_t> port = LocalPort(listener_);
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
    ASSERT_TRUE(reactor_->AddListener(listener_, &acceptor_).ok());
  }

  // Creates the reactor of this case's backend with `options`. Called again
  // by a test (before it registers anything but the fixture's listener), it
  // replaces the fixture's reactor and moves the listener over.
  void StartReactor(ReactorOptions options,
                    internal::UringFaults* faults = nullptr) {
    if (reactor_ != nullptr && listener_ >= 0) {
      reactor_->RemoveListener(listener_);
    }
    reactor_.reset();
    config::IoBackend io = config::IoBackend::kEpoll;
    if (GetParam().backend != Backend::kEpoll) io = config::IoBackend::kUring;
    if (GetParam().backend == Backend::kUringSingleShot) {
      options.uring_provided_buffers = false;
    }
    std::string reason;
    absl::StatusOr<std::unique_ptr<Reactor>> reactor =
        faults != nullptr && io == config::IoBackend::kUring
            ? internal::CreateUringReactorWithFaults(options, faults)
            : CreateReactor(io, options, &reason);
    if (!reactor.ok() && io == config::IoBackend::kUring) {
      // A failure in CI (whose kernel has io_uring), a skip elsewhere.
      testing::MissingFeature(absl::StrCat("io_uring unavailable here: ",
                                           reactor.status().message()));
      return;
    }
    ASSERT_TRUE(reactor.ok()) << reactor.status();
    reactor_ = *std::move(reactor);
    if (GetParam().backend == Backend::kUringSingleShot && faults == nullptr) {
      ASSERT_THAT(reason, ::testing::HasSubstr("single-shot-recv"));
    }
    EXPECT_EQ(reactor_->name(),
              io == config::IoBackend::kEpoll ? "epoll" : "io_uring");
    if (listener_ >= 0) {
      ASSERT_TRUE(reactor_->AddListener(listener_, &acceptor_).ok());
    }
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
  // with `handler` (the connection in *conn_out if given). Returns the
  // client fd (-1 on failure).
  int Establish(ConnectionHandler& handler, int rcvbuf = 0,
                Connection** conn_out = nullptr) {
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
    if (conn_out != nullptr) *conn_out = conn;
    return client;
  }
  int Establish(TestHandler& handler, int rcvbuf = 0) {
    Connection* conn = nullptr;
    const int client =
        Establish(static_cast<ConnectionHandler&>(handler), rcvbuf, &conn);
    if (conn != nullptr) handler.set_connection(conn);
    return client;
  }

  // `count` clients at once: each sends `size` bytes before the server side
  // is registered, the server echoes every message back on its connection,
  // then the clients hang up and every connection is released exactly once.
  void EchoFromManyClients(int count, std::size_t size) {
    std::vector<int> clients;
    for (int i = 0; i < count; ++i) {
      const int fd = NewClient();
      ASSERT_GE(fd, 0) << "client " << i;
      clients.push_back(fd);
    }
    ASSERT_TRUE(PollUntil([&] {
      return acceptor_.fds.size() == static_cast<std::size_t>(count);
    })) << acceptor_.fds.size()
        << " accepted";
    std::vector<std::vector<std::byte>> messages;
    for (int i = 0; i < count; ++i) {
      messages.push_back(Pattern(size, 100 + i));
      ASSERT_EQ(::send(clients[i], messages[i].data(), size, 0),
                static_cast<ssize_t>(size))
          << std::strerror(errno);
      SetNonBlocking(clients[i]);
    }
    std::vector<std::unique_ptr<TestHandler>> handlers;
    for (int fd : acceptor_.fds) {
      auto h = std::make_unique<TestHandler>(reactor_.get());
      h->echo_after = size;
      adopted_.push_back(fd);
      Connection* conn = reactor_->AddConnection(fd, h.get());
      ASSERT_NE(conn, nullptr);
      h->set_connection(conn);
      handlers.push_back(std::move(h));
    }
    std::vector<std::vector<std::byte>> replies(count);
    std::vector<std::byte> buf(64 * 1024);
    int complete = 0;
    const Clock::time_point deadline = Clock::now() + seconds(20);
    for (int polls = 0;
         complete < count && Clock::now() < deadline && polls < 100000;
         ++polls) {
      reactor_->Poll(1000);
      complete = 0;
      for (int i = 0; i < count; ++i) {
        const ssize_t r = ::recv(clients[i], buf.data(), buf.size(), 0);
        if (r > 0) {
          replies[i].insert(replies[i].end(), buf.begin(), buf.begin() + r);
        }
        if (replies[i].size() >= size) ++complete;
      }
    }
    ASSERT_EQ(complete, count);
    // Which server handler got which client depends on accept order; every
    // client must get its own message back.
    for (int i = 0; i < count; ++i) {
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
      EXPECT_EQ(h->received.size(), size);
      EXPECT_EQ(h->peer_closed_calls, 1);
      EXPECT_EQ(h->peer_closed_error, 0);
      EXPECT_EQ(h->released, 1);
      EXPECT_EQ(h->send_error, 0);
      EXPECT_TRUE(h->send_done());
      EXPECT_EQ(h->violations, 0) << h->first_violation;
    }
  }

  // Starts an outbound connection from a fresh non-blocking socket to
  // 127.0.0.1:`port` for `handler`.
  void StartConnect(TestHandler& handler, std::uint16_t port,
                    std::int64_t timeout_us) {
    const int fd =
        ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    const sockaddr_in addr = Loopback(port);
    handler.outbound = true;
    Connection* conn =
        reactor_->Connect(fd, reinterpret_cast<const sockaddr*>(&addr),
                          sizeof addr, &handler, timeout_us);
    ASSERT_NE(conn, nullptr);
    handler.set_connection(conn);
  }

  bool IsAdopted(int fd) const {
    return std::find(adopted_.begin(), adopted_.end(), fd) != adopted_.end();
  }

  void ForgetClient(int fd) { std::erase(clients_, fd); }

  // Declared before reactor_, which reads it until destroyed.
  internal::UringFaults faults_;
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

// --- Outbound connections (Connect) ----------------------------------------

// A loopback listener that takes no more connections and never accepts: its
// accept queue (backlog 0) holds one connection already, so the kernel drops
// every further SYN and a connect to it stays pending.
class FullListener {
 public:
  FullListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = Loopback(0);
    if (fd_ < 0 ||
        ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 0) != 0) {
      return;
    }
    absl::StatusOr<std::uint16_t> port = LocalPort(fd_);
    if (!port.ok()) return;
    port_ = *port;
    queued_ = Connect(port_);
  }
  ~FullListener() {
    if (queued_ >= 0) ::close(queued_);
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] bool ok() const { return queued_ >= 0; }
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  int queued_ = -1;
  std::uint16_t port_ = 0;
};

// Polls for at most `limit`, each Poll allowed to wait a minute: it must
// end its wait at the connect deadline, not at its own timeout. Returns
// whether a Wake from a watchdog was needed to get there.
bool PollLongUntil(Reactor& reactor, const std::function<bool()>& done,
                   Clock::duration limit) {
  std::atomic<bool> finished{false};
  std::atomic<bool> fired{false};
  std::mutex mu;
  std::condition_variable cv;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(mu);
    while (!cv.wait_for(lock, limit, [&] { return finished.load(); })) {
      fired.store(true);
      reactor.Wake();
    }
  });
  for (int i = 0; i < 20 && !done(); ++i) reactor.Poll(60'000'000);
  {
    std::lock_guard<std::mutex> lock(mu);
    finished.store(true);
  }
  cv.notify_one();
  watchdog.join();
  return fired.load();
}

TEST_P(ReactorTest, ConnectSucceedsAndCarriesDataBothWays) {
  constexpr std::size_t kSize = 256 * 1024;
  TestHandler client(reactor_.get());
  TestHandler server(reactor_.get());
  server.echo_after = kSize;
  const int fd =
      ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr = Loopback(port_);
  client.outbound = true;
  Connection* conn = reactor_->Connect(fd, reinterpret_cast<sockaddr*>(&addr),
                                       sizeof addr, &client, 10'000'000);
  ASSERT_NE(conn, nullptr);
  client.set_connection(conn);
  EXPECT_EQ(conn->fd(), fd);
  // The reactor keeps its own copy of the address.
  std::memset(&addr, 0xFF, sizeof addr);
  EXPECT_EQ(client.connected_calls, 0) << "OnConnected from inside Connect";
  const char byte = 'x';
  iovec early{const_cast<char*>(&byte), 1};
  const SendResult r = reactor_->Send(conn, {&early, 1});
  EXPECT_FALSE(r.pending);
  EXPECT_EQ(r.bytes, -ENOTCONN);

  ASSERT_TRUE(PollUntil(
      [&] { return client.connected_calls > 0 && !acceptor_.fds.empty(); }));
  EXPECT_EQ(client.connect_error, 0);
  adopted_.push_back(acceptor_.fds[0]);
  Connection* accepted = reactor_->AddConnection(acceptor_.fds[0], &server);
  ASSERT_NE(accepted, nullptr);
  server.set_connection(accepted);

  // Out through the connected socket, back through the accepted one.
  const std::vector<std::byte> data = Pattern(kSize, 21);
  client.SendAll({iovec{const_cast<std::byte*>(data.data()), kSize}});
  ASSERT_TRUE(PollUntil([&] {
    return client.received.size() >= kSize && client.send_done() &&
           server.send_done();
  }));
  EXPECT_TRUE(server.received == data);
  EXPECT_TRUE(client.received == data);

  client.Close();
  ASSERT_TRUE(PollUntil([&] {
    return client.released > 0 && server.peer_closed_calls > 0 &&
           server.released > 0;
  }));
  PollFor(milliseconds(20));
  EXPECT_EQ(client.connected_calls, 1);
  EXPECT_EQ(client.released, 1);
  EXPECT_EQ(server.released, 1);
  EXPECT_EQ(client.violations, 0) << client.first_violation;
  EXPECT_EQ(server.violations, 0) << server.first_violation;
}

TEST_P(ReactorTest, ConnectToAPortNobodyListensOnIsRefused) {
  // A bound socket that does not listen keeps the port ours and refuses.
  const int bound = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(bound, 0);
  sockaddr_in addr = Loopback(0);
  ASSERT_EQ(::bind(bound, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  absl::StatusOr<std::uint16_t> port = LocalPort(bound);
  ASSERT_TRUE(port.ok());

  TestHandler plain(reactor_.get());
  TestHandler closing(reactor_.get());
  closing.close_on_connect_failure = true;  // a Close inside is harmless
  StartConnect(plain, *port, 10'000'000);
  StartConnect(closing, *port, 0);
  ASSERT_TRUE(
      PollUntil([&] { return plain.released > 0 && closing.released > 0; }));
  PollFor(milliseconds(20));
  for (const TestHandler* h : {&plain, &closing}) {
    EXPECT_EQ(h->connected_calls, 1);
    EXPECT_EQ(h->connect_error, -ECONNREFUSED);
    EXPECT_EQ(h->released, 1);
    EXPECT_TRUE(h->received.empty());
    EXPECT_EQ(h->violations, 0) << h->first_violation;
  }
  ::close(bound);
}

TEST_P(ReactorTest, ConnectWithABadAddressFailsFromPoll) {
  TestHandler null_addr(reactor_.get());
  TestHandler short_addr(reactor_.get());
  null_addr.outbound = short_addr.outbound = true;
  for (TestHandler* h : {&null_addr, &short_addr}) {
    const int fd =
        ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr = Loopback(port_);
    // Null, or too short for an IPv4 address: the kernel refuses it.
    const sockaddr* a =
        h == &null_addr ? nullptr : reinterpret_cast<sockaddr*>(&addr);
    h->set_connection(reactor_->Connect(fd, a, 4, h, 0));
    ASSERT_NE(h->connection(), nullptr);
  }
  EXPECT_EQ(null_addr.connected_calls + short_addr.connected_calls, 0)
      << "OnConnected from inside Connect";
  ASSERT_TRUE(PollUntil(
      [&] { return null_addr.released > 0 && short_addr.released > 0; }));
  for (const TestHandler* h : {&null_addr, &short_addr}) {
    EXPECT_EQ(h->connected_calls, 1);
    EXPECT_EQ(h->connect_error, -EINVAL);
    EXPECT_EQ(h->violations, 0) << h->first_violation;
  }
}

TEST_P(ReactorTest, ConnectTimesOutAgainstAListenerThatDropsSyns) {
  FullListener full;
  ASSERT_TRUE(full.ok()) << std::strerror(errno);
  TestHandler handler(reactor_.get());
  StartConnect(handler, full.port(), 100'000);
  const bool needed_wake = PollLongUntil(
      *reactor_, [&] { return handler.connected_calls > 0; }, seconds(20));
  EXPECT_FALSE(needed_wake)
      << "Poll waited past the connect deadline for its own timeout";
  ASSERT_EQ(handler.connected_calls, 1);
  EXPECT_EQ(handler.connect_error, -ETIMEDOUT);
  ASSERT_TRUE(PollUntil([&] { return handler.released > 0; }));
  PollFor(milliseconds(20));
  EXPECT_EQ(handler.released, 1);
  EXPECT_EQ(handler.violations, 0) << handler.first_violation;
}

// Close before the connect was ever submitted, and while it is in flight:
// both are cancelled, with no OnConnected, and released once.
TEST_P(ReactorTest, CloseCancelsAPendingConnect) {
  FullListener full;
  ASSERT_TRUE(full.ok()) << std::strerror(errno);
  TestHandler at_once(reactor_.get());
  TestHandler in_flight(reactor_.get());
  StartConnect(at_once, full.port(), 30'000'000);
  at_once.Close();
  StartConnect(in_flight, full.port(), 0);  // no timeout to end it
  PollFor(milliseconds(50));
  EXPECT_EQ(in_flight.connected_calls, 0);
  in_flight.Close();
  ASSERT_TRUE(PollUntil(
      [&] { return at_once.released > 0 && in_flight.released > 0; }));
  PollFor(milliseconds(50));
  for (const TestHandler* h : {&at_once, &in_flight}) {
    EXPECT_EQ(h->connected_calls, 0);
    EXPECT_EQ(h->released, 1);
    EXPECT_EQ(h->violations, 0) << h->first_violation;
  }
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

// --- Zero-timeout Polls: what a spinning worker pays ------------------------

// A spinning worker (idle strategies spin and backoff) calls Poll(0) in a
// loop. With nothing to do, io_uring must not enter the kernel at all (it
// reads the completion queue and the ring's task-work flag in shared
// memory), and epoll makes exactly its one epoll_wait per Poll (reactor.h).
TEST_P(ReactorTest, ZeroTimeoutPollWithNothingToDoMakesNoSyscallOnIoUring) {
  TestHandler handler(reactor_.get());
  const int client = Establish(handler);
  ASSERT_GE(client, 0);
  std::uint16_t port = 0;
  const int udp = UdpSocket(&port);
  ASSERT_GE(udp, 0) << std::strerror(errno);
  DrainingReader reader(udp);
  ASSERT_TRUE(reactor_->AddReadable(udp, &reader).ok());
  // Submits the arms (receive, readable poll) and handles what setting up
  // left (epoll reports a new readable socket once).
  for (int i = 0; i < 10; ++i) reactor_->Poll(0);

  constexpr int kPolls = 10000;
  const std::uint64_t before = reactor_->event_syscalls();
  int handled = 0;
  for (int i = 0; i < kPolls; ++i) handled += reactor_->Poll(0);
  const std::uint64_t syscalls = reactor_->event_syscalls() - before;
  EXPECT_EQ(handled, 0);
  if (GetParam().backend == Backend::kEpoll) {
    EXPECT_EQ(syscalls, std::uint64_t{kPolls});
  } else {
    EXPECT_EQ(syscalls, 0u) << "io_uring entered the kernel with nothing "
                               "to submit and no completion pending";
  }
  EXPECT_EQ(handler.data_calls, 0);
  reactor_->RemoveReadable(udp);
  ::close(udp);
}

// The other half of the bargain: an idle reactor that makes no system call
// still sees everything, from zero-timeout Polls alone (no blocking Poll
// here: that one always enters the kernel). Before each event, the reactor
// idles in that state (on io_uring: Polls that made no system call), so the
// event arrives while only shared memory is being looked at; with
// DEFER_TASKRUN it is task work that runs only inside io_uring_enter, and
// the ring's IORING_SQ_TASKRUN flag is all that announces it.
TEST_P(ReactorTest, ZeroTimeoutPollsAloneDeliverEveryKindOfEvent) {
  TestHandler handler(reactor_.get());
  const int client = Establish(handler);
  ASSERT_GE(client, 0);
  std::uint16_t port = 0;
  const int udp = UdpSocket(&port);
  ASSERT_GE(udp, 0) << std::strerror(errno);
  DrainingReader reader(udp);
  ASSERT_TRUE(reactor_->AddReadable(udp, &reader).ok());
  const bool uring = GetParam().backend != Backend::kEpoll;

  // Settles (the first Polls submit what the last event re-armed), then
  // idles for 1,000 Polls that must find nothing and, on io_uring, make no
  // system call.
  auto idle = [&](const char* before_what) {
    int settle = 0;
    for (; settle < 100; ++settle) {
      const std::uint64_t s = reactor_->event_syscalls();
      const int n = reactor_->Poll(0);
      if (n == 0 && (!uring || reactor_->event_syscalls() == s)) break;
    }
    ASSERT_LT(settle, 100) << before_what << ": the reactor never settled";
    const std::uint64_t s = reactor_->event_syscalls();
    int handled = 0;
    for (int i = 0; i < 1000; ++i) handled += reactor_->Poll(0);
    EXPECT_EQ(handled, 0) << before_what;
    if (uring) {
      EXPECT_EQ(reactor_->event_syscalls(), s) << before_what;
    }
  };
  // Zero-timeout Polls until `done`; the deadline only guards against a
  // lost event hanging the test.
  int handled = 0;
  auto spin_until = [&](const std::function<bool()>& done) {
    const Clock::time_point deadline = Clock::now() + seconds(10);
    for (int polls = 0; polls < 200'000'000; ++polls) {
      if (done()) return true;
      if ((polls & 1023) == 0 && Clock::now() > deadline) return false;
      handled += reactor_->Poll(0);
    }
    return done();
  };

  idle("bytes from the peer");
  ASSERT_EQ(::send(client, "ping", 4, 0), 4);
  ASSERT_TRUE(spin_until([&] { return handler.received.size() == 4; }))
      << "bytes from the peer were never delivered";

  idle("a send");
  const std::vector<std::byte> reply = Pattern(4096, 9);
  handler.SendAll({iovec{const_cast<std::byte*>(reply.data()), reply.size()}});
  ASSERT_TRUE(spin_until([&] { return handler.send_done(); }))
      << "a send never completed";
  std::vector<std::byte> got(reply.size());
  ASSERT_EQ(::recv(client, got.data(), got.size(), MSG_WAITALL),
            static_cast<ssize_t>(got.size()));
  EXPECT_TRUE(got == reply);

  idle("a datagram");
  SendDatagrams(port, 1);
  ASSERT_TRUE(spin_until([&] { return reader.datagrams == 1; }))
      << "a readable socket was never reported";

  idle("a connection");
  const std::size_t accepted = acceptor_.fds.size();
  ASSERT_GE(NewClient(), 0);
  ASSERT_TRUE(spin_until([&] { return acceptor_.fds.size() > accepted; }))
      << "a connection was never accepted";

  idle("a wake-up");
  std::thread([&] { reactor_->Wake(); }).join();
  handled = 0;
  ASSERT_TRUE(spin_until([&] { return handled > 0; }))
      << "a wake-up was never seen";

  idle("the peer's close");
  ::close(client);
  ForgetClient(client);
  ASSERT_TRUE(spin_until([&] { return handler.released > 0; }))
      << "the peer's close was never reported";
  EXPECT_EQ(handler.peer_closed_calls, 1);
  EXPECT_EQ(handler.peer_closed_error, 0);
  EXPECT_EQ(handler.violations, 0) << handler.first_violation;
  reactor_->RemoveReadable(udp);
  ::close(udp);
}

// 200 clients at once: each sends 32 KiB before the server side is even
// registered (6.4 MB in all, more than io_uring's 4 MiB of provided buffers,
// so one completion drain hands many buffers back and the multishot receives
// run the ring dry and are re-armed), the server echoes every message back on
// its connection, then the clients hang up and every connection is released
// exactly once.
TEST_P(ReactorTest, ManyConnectionsAtOnce) {
  EchoFromManyClients(200, 32 * 1024);
}

// A submission ring of four entries (and a completion ring to match) under
// 64 connections whose data all arrives before the first Poll: the arms of
// the receives overflow the submission queue, and one drain of completions
// queues an echo per connection, so submissions must be flushed while
// completions are still waiting to be handled. Everything must complete,
// intact, in a bounded number of Polls.
TEST_P(ReactorTest, TinyRingCompletesEveryOperation) {
  ReactorOptions options;
  options.uring_entries = 4;
  StartReactor(options);
  if (IsSkipped() || HasFatalFailure()) return;
  HangGuard guard("TinyRingCompletesEveryOperation", seconds(60));
  EchoFromManyClients(64, 20000);
}

// The same where the kernel, as io_uring_enter(2) documents, refuses to
// submit (-EBUSY) while completions it overflowed cannot be flushed into a
// full completion queue: completions posted but not yet handled must be
// moved out of the way (no handler can run: this happens inside one) for a
// flush to get through. Not one send may fail for want of an entry.
TEST_P(ReactorTest, TinyRingCompletesEveryOperationUnderOverflowBackPressure) {
  if (GetParam().backend == Backend::kEpoll) {
    GTEST_SKIP() << "epoll has no completion queue";
  }
  faults_.busy_while_overflowing = true;
  ReactorOptions options;
  options.uring_entries = 4;
  StartReactor(options, &faults_);
  if (IsSkipped() || HasFatalFailure()) return;
  HangGuard guard("TinyRingCompletesEveryOperationUnderOverflowBackPressure",
                  seconds(60));
  EchoFromManyClients(64, 20000);
}

// A submission queue that stays full (the kernel refuses every flush of it,
// as older kernels do with -EBUSY while completions overflow): Poll must
// still return, a Send that gets no entry fails with -ENOBUFS, and every
// internal arm (receives, outbound connects) is retried by later Polls, so
// no byte and no connection is lost.
TEST_P(ReactorTest, FullSubmissionQueueNeverSpinsOrLosesWork) {
  if (GetParam().backend == Backend::kEpoll) {
    GTEST_SKIP() << "epoll has no submission queue";
  }
  ReactorOptions options;
  options.uring_entries = 4;
  StartReactor(options, &faults_);
  if (IsSkipped() || HasFatalFailure()) return;
  HangGuard guard("FullSubmissionQueueNeverSpinsOrLosesWork", seconds(60));

  constexpr int kClients = 32;
  constexpr int kOutbound = 4;
  constexpr std::size_t kSize = 4096;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    const int fd = NewClient();
    ASSERT_GE(fd, 0);
    SetNonBlocking(fd);
    clients.push_back(fd);
  }
  ASSERT_TRUE(PollUntil([&] { return acceptor_.fds.size() == kClients; }));

  faults_.refuse_submits = true;
  // The receives' arms overflow the queue and wait for later Polls.
  std::vector<std::unique_ptr<TestHandler>> handlers;
  for (int fd : acceptor_.fds) {
    handlers.push_back(std::make_unique<TestHandler>(reactor_.get()));
    handlers.back()->echo_after = kSize;
    adopted_.push_back(fd);
    Connection* conn = reactor_->AddConnection(fd, handlers.back().get());
    ASSERT_NE(conn, nullptr);
    handlers.back()->set_connection(conn);
  }
  // Each Poll submits four of them.
  for (int i = 0; i < 2 * kClients; ++i) reactor_->Poll(0);
  // Now every message arrives for one drain, whose echoes need more
  // entries than the queue has.
  std::vector<std::vector<std::byte>> messages;
  for (int i = 0; i < kClients; ++i) {
    messages.push_back(Pattern(kSize, 300 + i));
    ASSERT_EQ(::send(clients[i], messages[i].data(), kSize, 0),
              static_cast<ssize_t>(kSize));
  }
  std::vector<std::unique_ptr<TestHandler>> outbound;
  for (int i = 0; i < kOutbound; ++i) {
    outbound.push_back(std::make_unique<TestHandler>(reactor_.get()));
    StartConnect(*outbound.back(), port_, 10'000'000);
  }

  auto settled = [&] {
    for (const auto& h : handlers) {
      if (h->received.size() < kSize) return false;
      if (!h->send_done() && h->send_error == 0) return false;
    }
    for (const auto& h : outbound) {
      if (h->connected_calls == 0) return false;
    }
    return true;
  };
  ASSERT_TRUE(PollUntil(settled, seconds(30)));
  int refused = 0;
  for (int i = 0; i < kClients; ++i) {
    const TestHandler& h = *handlers[i];
    EXPECT_EQ(h.received.size(), kSize) << "handler " << i;
    EXPECT_TRUE(h.send_done() || h.send_error == -ENOBUFS)
        << "handler " << i << ": " << h.send_error;
    if (h.send_error == -ENOBUFS) ++refused;
  }
  // Sends beyond the four entries of one drain had no entry to go in.
  EXPECT_GT(refused, 0);
  EXPECT_LT(refused, kClients);
  for (const auto& h : outbound) EXPECT_EQ(h->connect_error, 0);

  faults_.refuse_submits = false;
  for (auto& h : handlers) h->Close();
  for (auto& h : outbound) h->Close();
  auto all_released = [](const auto& hs) {
    return std::all_of(hs.begin(), hs.end(),
                       [](const auto& h) { return h->released > 0; });
  };
  ASSERT_TRUE(PollUntil(
      [&] { return all_released(handlers) && all_released(outbound); }));
  PollFor(milliseconds(20));
  // What the server echoed arrived intact.
  std::vector<std::byte> buf(2 * kSize);
  for (int i = 0; i < kClients; ++i) {
    std::vector<std::byte> got;
    for (int r = 0; r < 100; ++r) {
      const ssize_t n = ::recv(clients[i], buf.data(), buf.size(), 0);
      if (n <= 0) break;
      got.insert(got.end(), buf.begin(), buf.begin() + n);
    }
    const auto& h = *handlers[i];
    EXPECT_EQ(got.size(), h.sent()) << "client " << i;
    EXPECT_TRUE(std::equal(got.begin(), got.end(), h.received.begin()))
        << "client " << i;
  }
  for (const auto* hs : {&handlers, &outbound}) {
    for (const auto& h : *hs) {
      EXPECT_EQ(h->released, 1);
      EXPECT_EQ(h->violations, 0) << h->first_violation;
    }
  }
}

// The buffer ring holds 4 MiB; eight connections stream 2 MiB each at the
// same time, so receives run it dry over and over while every drain hands
// back many buffers at once. Every byte arrives, in order, on its own
// connection.
TEST_P(ReactorTest, StreamsLargerThanTheBufferRingArriveInOrder) {
  constexpr int kConns = 8;
  constexpr std::size_t kTotal = 2 << 20;
  std::vector<std::unique_ptr<TestHandler>> handlers;
  std::vector<int> clients;
  std::vector<std::vector<std::byte>> data;
  for (int i = 0; i < kConns; ++i) {
    handlers.push_back(std::make_unique<TestHandler>(reactor_.get()));
    const int client = Establish(*handlers.back());
    ASSERT_GE(client, 0);
    SetNonBlocking(client);
    clients.push_back(client);
    data.push_back(Pattern(kTotal, 40 + i));
  }
  std::vector<std::size_t> sent(kConns, 0);
  auto all_received = [&] {
    return std::all_of(handlers.begin(), handlers.end(), [&](const auto& h) {
      return h->received.size() >= kTotal;
    });
  };
  const Clock::time_point deadline = Clock::now() + seconds(30);
  while (!all_received() && Clock::now() < deadline) {
    bool wrote = false;
    for (int i = 0; i < kConns; ++i) {
      if (sent[i] == kTotal) continue;
      const ssize_t w = ::send(clients[i], data[i].data() + sent[i],
                               kTotal - sent[i], MSG_NOSIGNAL);
      ASSERT_TRUE(w > 0 || errno == EAGAIN) << std::strerror(errno);
      if (w > 0) {
        sent[i] += static_cast<std::size_t>(w);
        wrote = true;
      }
    }
    reactor_->Poll(wrote ? 0 : 1000);
  }
  for (int i = 0; i < kConns; ++i) {
    ASSERT_EQ(handlers[i]->received.size(), kTotal) << "connection " << i;
    EXPECT_TRUE(handlers[i]->received == data[i])
        << "connection " << i << ": bytes differ or are out of order";
    EXPECT_EQ(handlers[i]->peer_closed_calls, 0);
    EXPECT_EQ(handlers[i]->violations, 0) << handlers[i]->first_violation;
  }
}

// Flow control: paused inside its first OnData, a connection gets no more
// callbacks, so the sender's socket fills and its sends stop (the kernel
// window, not the reactor, holds the bytes). Resumed, every byte arrives in
// order, then the hang-up.
TEST_P(ReactorTest, PausedReadingSlowsTheSenderAndResumeDeliversEverything) {
  constexpr std::size_t kLimit = 64 << 20;  // far beyond any socket buffer
  const std::vector<std::byte> data = Pattern(kLimit, 77);
  TestHandler handler(reactor_.get());
  handler.pause_on_first_data = true;
  handler.close_on_peer_closed = false;
  const int client = Establish(handler);
  ASSERT_GE(client, 0);
  SetNonBlocking(client);
  ASSERT_EQ(::send(client, data.data(), 100, MSG_NOSIGNAL), 100);
  ASSERT_TRUE(PollUntil([&] { return handler.data_calls > 0; }));
  ASSERT_TRUE(handler.paused());

  // Send until the kernel refuses, polling the reactor between sends: were
  // it still reading, the sender would never see EAGAIN before kLimit.
  std::size_t sent = 100;
  const int refusals = SendUntilRefused(client, data, &sent, *reactor_);
  ASSERT_EQ(refusals, 50) << "the sender was never slowed: " << sent
                          << " bytes accepted while reading was paused";
  EXPECT_LT(sent, kLimit);
  const std::size_t at_pause = handler.received.size();
  EXPECT_LT(at_pause, sent);
  EXPECT_EQ(handler.data_calls, 1) << "OnData while paused";
  ::shutdown(client, SHUT_WR);
  for (int i = 0; i < 20; ++i) reactor_->Poll(1000);
  EXPECT_EQ(handler.peer_closed_calls, 0) << "hang-up reported while paused";

  handler.Resume();
  ASSERT_TRUE(PollUntil([&] { return handler.peer_closed_calls > 0; }));
  ASSERT_EQ(handler.received.size(), sent);
  EXPECT_TRUE(std::equal(handler.received.begin(), handler.received.end(),
                         data.begin()))
      << "bytes differ or are out of order";
  EXPECT_EQ(handler.peer_closed_error, 0);
  EXPECT_EQ(handler.violations, 0) << handler.first_violation;
  handler.Close();
}

// Pause and resume in quick succession, many times, while the peer streams:
// nothing is lost, duplicated or reordered, whatever the state of the
// receive the pause found (io_uring: a cancel racing a resume).
TEST_P(ReactorTest, RapidPauseResumeLosesNothing) {
  constexpr std::size_t kTotal = 4 << 20;
  const std::vector<std::byte> data = Pattern(kTotal, 78);
  TestHandler handler(reactor_.get());
  const int client = Establish(handler);
  ASSERT_GE(client, 0);
  SetNonBlocking(client);
  std::size_t sent = 0;
  int turn = 0;
  const Clock::time_point deadline = Clock::now() + seconds(30);
  while (handler.received.size() < kTotal && Clock::now() < deadline) {
    if (sent < kTotal) {
      const ssize_t w =
          ::send(client, data.data() + sent,
                 std::min<std::size_t>(32 * 1024, kTotal - sent), MSG_NOSIGNAL);
      ASSERT_TRUE(w > 0 || errno == EAGAIN) << std::strerror(errno);
      if (w > 0) sent += static_cast<std::size_t>(w);
    }
    ++turn;
    if (turn % 3 == 0) handler.Pause();
    reactor_->Poll(0);
    if (turn % 3 == 0) {
      if (turn % 2 == 0) reactor_->Poll(0);  // sometimes a Poll while paused
      handler.Resume();
    }
    if (sent == kTotal) reactor_->Poll(1000);
  }
  ASSERT_EQ(handler.received.size(), kTotal);
  EXPECT_TRUE(handler.received == data) << "bytes differ or are out of order";
  EXPECT_EQ(handler.violations, 0) << handler.first_violation;
}

// io_uring: a receive whose arm found no submission entry waits on the
// retry list for the next Poll. Reading paused before that Poll, the retry
// must be dropped (the resume arms a fresh receive): submitted anyway, it
// would be a receive in the kernel on a paused connection that no cancel
// covers, taking every byte the peer sends into the reactor's held buffer,
// without bound, instead of leaving them in the socket to slow the sender.
// epoll has no submission queue; there the same steps check the plain
// contract for a connection paused as soon as it is added.
TEST_P(ReactorTest, ReceiveDeferredForWantOfAnEntryIsDroppedWhilePaused) {
  ReactorOptions options;
  options.uring_entries = 4;
  StartReactor(options, &faults_);
  if (IsSkipped() || HasFatalFailure()) return;
  HangGuard guard("ReceiveDeferredForWantOfAnEntryIsDroppedWhilePaused",
                  seconds(60));
  // Four connections whose receives take the four entries, and the one
  // under test. All connect before the first Poll, whose accept takes them
  // together.
  constexpr int kFillers = 4;
  std::vector<int> filler_clients;
  for (int i = 0; i < kFillers; ++i) {
    const int fd = NewClient();
    ASSERT_GE(fd, 0);
    filler_clients.push_back(fd);
  }
  const int client = NewClient();
  ASSERT_GE(client, 0);
  ASSERT_TRUE(PollUntil([&] { return acceptor_.fds.size() == kFillers + 1; }));
  absl::StatusOr<std::uint16_t> client_port = LocalPort(client);
  ASSERT_TRUE(client_port.ok()) << client_port.status();
  std::vector<int> filler_fds;
  int server_fd = -1;
  for (int fd : acceptor_.fds) {
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    ASSERT_EQ(::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len), 0);
    if (ntohs(peer.sin_port) == *client_port) {
      server_fd = fd;
    } else {
      filler_fds.push_back(fd);
    }
  }
  ASSERT_GE(server_fd, 0);
  ASSERT_EQ(filler_fds.size(), static_cast<std::size_t>(kFillers));

  faults_.refuse_submits = true;  // a full queue cannot be flushed
  std::vector<std::unique_ptr<TestHandler>> fillers;
  for (int i = 0; i < kFillers; ++i) {
    fillers.push_back(std::make_unique<TestHandler>(reactor_.get()));
    adopted_.push_back(filler_fds[i]);
    Connection* conn =
        reactor_->AddConnection(filler_fds[i], fillers.back().get());
    ASSERT_NE(conn, nullptr);
    fillers.back()->set_connection(conn);
  }
  // The queue is full: this connection's receive waits for the next Poll.
  TestHandler handler(reactor_.get());
  handler.close_on_peer_closed = false;
  adopted_.push_back(server_fd);
  Connection* conn = reactor_->AddConnection(server_fd, &handler);
  ASSERT_NE(conn, nullptr);
  handler.set_connection(conn);
  faults_.refuse_submits = false;
  // Paused before that Poll (a cancel, if one is needed, now gets an entry:
  // the full queue is flushed for it).
  handler.Pause();

  // Bytes in the socket before the retry would run, then Polls until a
  // filler's byte went through the reactor (so the retry has run).
  constexpr std::size_t kLimit = 32 << 20;  // far beyond any socket buffer
  const std::vector<std::byte> data = Pattern(kLimit, 79);
  constexpr std::size_t kFirst = 1000;
  ASSERT_EQ(::send(client, data.data(), kFirst, MSG_NOSIGNAL),
            static_cast<ssize_t>(kFirst));
  const char mark = 'm';
  for (int fd : filler_clients) {
    ASSERT_EQ(::send(fd, &mark, 1, MSG_NOSIGNAL), 1);
  }
  ASSERT_TRUE(PollUntil([&] {
    return std::all_of(fillers.begin(), fillers.end(),
                       [](const auto& h) { return !h->received.empty(); });
  }));
  for (int i = 0; i < 4; ++i) reactor_->Poll(0);
  int queued = -1;
  ASSERT_EQ(::ioctl(server_fd, FIONREAD, &queued), 0);
  EXPECT_EQ(queued, static_cast<int>(kFirst))
      << "bytes were taken from the socket of a paused connection";

  // The sender is slowed by the kernel's window, not buffered past it.
  SetNonBlocking(client);
  std::size_t sent = kFirst;
  const int refusals = SendUntilRefused(client, data, &sent, *reactor_);
  ASSERT_EQ(refusals, 50) << "the sender was never slowed: " << sent
                          << " bytes accepted while reading was paused";
  EXPECT_EQ(handler.data_calls, 0);

  // Resumed: every byte, in order.
  handler.Resume();
  ASSERT_TRUE(PollUntil([&] { return handler.received.size() >= sent; }));
  ASSERT_EQ(handler.received.size(), sent);
  EXPECT_TRUE(std::equal(handler.received.begin(), handler.received.end(),
                         data.begin()))
      << "bytes differ or are out of order";
  EXPECT_EQ(handler.violations, 0) << handler.first_violation;
  handler.Close();
  for (auto& h : fillers) h->Close();
  ASSERT_TRUE(PollUntil([&] {
    return handler.released > 0 &&
           std::all_of(fillers.begin(), fillers.end(),
                       [](const auto& h) { return h->released > 0; });
  }));
  for (const auto& h : fillers) {
    EXPECT_EQ(h->violations, 0) << h->first_violation;
  }
}

// Fills a socket so that a send through the reactor writes nothing, then
// does what the gateway does with a send that completed: reuses its memory
// (here: overwrites it with a marker). The kernel must not have kept a
// reference to it: draining the peer must never deliver a marker byte. Then
// OnWritable follows and the rest goes out intact.
TEST_P(ReactorTest, SendOnFullSocketNeverCopiesLater) {
  constexpr std::byte kMarker{0xEE};
  constexpr std::byte kFiller{0x66};
  OneShotSender sender(reactor_.get());
  const int client = Establish(sender, 16 * 1024, &sender.conn);
  ASSERT_GE(client, 0);
  SetNonBlocking(client);
  const int server_fd = sender.conn->fd();
  // A small fixed send buffer (no autotuning) keeps the fill short.
  const int sndbuf = 16 * 1024;
  ASSERT_EQ(
      ::setsockopt(server_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf),
      0);

  // 1. Fill both socket buffers with filler, bypassing the reactor, until
  //    the socket takes nothing more even after in-flight segments settle.
  std::vector<std::byte> expected;
  const std::vector<std::byte> filler(64 * 1024, kFiller);
  for (int round = 0, quiet = 0; round < 200 && quiet < 3; ++round) {
    const ssize_t w = ::send(server_fd, filler.data(), filler.size(),
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    ASSERT_TRUE(w > 0 || errno == EAGAIN) << std::strerror(errno);
    if (w > 0) {
      expected.insert(expected.end(), filler.begin(), filler.begin() + w);
      quiet = 0;
    } else {
      ++quiet;
      PollFor(milliseconds(10));
    }
  }
  ASSERT_FALSE(expected.empty());

  // 2. Send through the reactor until a send writes nothing.
  std::vector<std::byte> original = Pattern(256 * 1024, 11);
  std::replace(original.begin(), original.end(), kMarker, std::byte{0});
  std::vector<std::byte> buffer = original;
  std::size_t accepted = 0;
  bool wrote_nothing = false;
  for (int i = 0; i < 100 && !wrote_nothing; ++i) {
    sender.Start(std::span(buffer).subspan(accepted));
    if (!PollUntil([&] { return sender.finished; }, seconds(3))) break;
    ASSERT_GE(sender.result, 0) << std::strerror(-sender.result);
    if (sender.result == 0) {
      wrote_nothing = true;
    } else {
      accepted += static_cast<std::size_t>(sender.result);
    }
  }
  EXPECT_TRUE(wrote_nothing)
      << "a send on a full socket stayed pending in the kernel";
  ASSERT_LT(accepted, original.size());
  expected.insert(expected.end(), original.begin(), original.end());

  // 3. The send has completed: its memory is the caller's again.
  std::fill(buffer.begin(), buffer.end(), kMarker);

  // 4. Drain the peer until the reactor reports room (or, the bug, the
  //    parked send completes after all).
  std::vector<std::byte> got;
  std::array<std::byte, 16 * 1024> chunk;
  auto read_some = [&] {
    const ssize_t r = ::recv(client, chunk.data(), chunk.size(), 0);
    if (r > 0) got.insert(got.end(), chunk.begin(), chunk.begin() + r);
    return r > 0;
  };
  const Clock::time_point deadline = Clock::now() + seconds(10);
  while (Clock::now() < deadline && sender.writables == 0 &&
         (wrote_nothing || !sender.finished)) {
    reactor_->Poll(read_some() ? 0 : 1000);
  }
  EXPECT_EQ(sender.writables, wrote_nothing ? 1 : 0);

  // 5. Send the rest from the restored buffer.
  buffer = original;
  for (int i = 0; i < 1000 && accepted < original.size() &&
                  sender.writables > 0 && Clock::now() < deadline;
       ++i) {
    const int writables = sender.writables;
    sender.Start(std::span(buffer).subspan(accepted));
    ASSERT_TRUE(PollUntil([&] { return sender.finished; }, seconds(5)));
    ASSERT_GE(sender.result, 0) << std::strerror(-sender.result);
    accepted += static_cast<std::size_t>(sender.result);
    if (sender.result == 0) {
      ASSERT_TRUE(PollUntil(
          [&] {
            read_some();
            return sender.writables > writables;
          },
          seconds(5)));
    }
  }
  EXPECT_EQ(accepted, original.size());

  // 6. Everything the peer gets is filler, then the original bytes.
  while (got.size() < expected.size() && Clock::now() < deadline) {
    reactor_->Poll(read_some() ? 0 : 1000);
  }
  EXPECT_EQ(std::count(got.begin(), got.end(), kMarker), 0)
      << "the kernel read a send's memory after the send had completed";
  EXPECT_TRUE(got == expected)
      << got.size() << " of " << expected.size() << " bytes, or bytes differ";
  EXPECT_EQ(sender.violations, 0) << sender.first_violation;
}

// 2,000 connections, registered in batches and closed in every way: right
// after registration (still queued to be read), from another connection's
// OnData while ready in the same turn, by the handler, and by the peer, in
// shuffled order. Each is released exactly once and nothing reaches a
// handler after its Close (ASan: nor does the reactor touch it after
// release).
TEST_P(ReactorTest, ThousandsOfConnectionsAreEachReleasedOnce) {
  constexpr int kConns = 2000;
  constexpr int kBatch = 250;
  std::vector<std::unique_ptr<TestHandler>> handlers;
  std::vector<int> clients;
  std::vector<std::uint16_t> peer_port;  // per handler: its client's port
  for (int batch = 0; batch < kConns / kBatch; ++batch) {
    const std::size_t before = acceptor_.fds.size();
    for (int i = 0; i < kBatch; ++i) {
      const int fd = NewClient();
      ASSERT_GE(fd, 0);
      SetNonBlocking(fd);
      clients.push_back(fd);
    }
    ASSERT_TRUE(
        PollUntil([&] { return acceptor_.fds.size() == before + kBatch; }));
    for (std::size_t i = before; i < acceptor_.fds.size(); ++i) {
      handlers.push_back(std::make_unique<TestHandler>(reactor_.get()));
      adopted_.push_back(acceptor_.fds[i]);
      Connection* conn =
          reactor_->AddConnection(acceptor_.fds[i], handlers.back().get());
      ASSERT_NE(conn, nullptr);
      handlers.back()->set_connection(conn);
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      ASSERT_EQ(::getpeername(acceptor_.fds[i],
                              reinterpret_cast<sockaddr*>(&peer), &len),
                0);
      peer_port.push_back(ntohs(peer.sin_port));
      // Every tenth closes before any Poll has served it.
      if (i % 10 == 0) handlers.back()->Close();
    }
  }
  // Which handler serves which client depends on accept order; map them
  // through the client's port.
  std::vector<int> client_by_port(65536, -1);
  for (int i = 0; i < kConns; ++i) {
    absl::StatusOr<std::uint16_t> port = LocalPort(clients[i]);
    ASSERT_TRUE(port.ok()) << port.status();
    client_by_port[*port] = i;
  }
  std::vector<int> client_of(kConns, -1);
  for (int h = 0; h < kConns; ++h) client_of[h] = client_by_port[peer_port[h]];
  ASSERT_EQ(std::count(client_of.begin(), client_of.end(), -1), 0);
  for (auto& h : handlers) ASSERT_EQ(h->violations, 0) << h->first_violation;

  // Pairs of the others: both clients send a byte in the same instant, and
  // whichever handler sees its byte first closes the other, which may still
  // be waiting for its turn.
  std::vector<int> open;
  for (int h = 0; h < kConns; ++h) {
    if (!handlers[h]->close_called()) open.push_back(h);
  }
  ASSERT_EQ(open.size() % 2, 0u);
  for (std::size_t i = 0; i < open.size(); i += 2) {
    handlers[open[i]]->close_on_data = handlers[open[i + 1]].get();
    handlers[open[i + 1]]->close_on_data = handlers[open[i]].get();
  }
  for (int c : clients) ::send(c, "x", 1, MSG_NOSIGNAL);
  ASSERT_TRUE(PollUntil([&] {
    for (std::size_t i = 0; i < open.size(); i += 2) {
      if (!handlers[open[i]]->close_called() &&
          !handlers[open[i + 1]]->close_called()) {
        return false;
      }
    }
    return true;
  }));
  // The survivors of each pair: half closed by their handler, half by their
  // peer, in shuffled order.
  std::vector<int> survivors;
  for (int h = 0; h < kConns; ++h) {
    if (!handlers[h]->close_called()) survivors.push_back(h);
  }
  ASSERT_EQ(survivors.size(), open.size() / 2);
  std::shuffle(survivors.begin(), survivors.end(), std::mt19937(9));
  for (std::size_t i = 0; i < survivors.size(); ++i) {
    const int h = survivors[i];
    if (i % 2 == 0) {
      handlers[h]->Close();
    } else {
      const int c = clients[client_of[h]];
      ::close(c);
      ForgetClient(c);
    }
    if (i % 64 == 0) reactor_->Poll(0);
  }
  ASSERT_TRUE(PollUntil([&] {
    return std::all_of(handlers.begin(), handlers.end(),
                       [](const auto& h) { return h->released > 0; });
  }));
  PollFor(milliseconds(20));
  for (int h = 0; h < kConns; ++h) {
    EXPECT_EQ(handlers[h]->released, 1) << "handler " << h;
    EXPECT_EQ(handlers[h]->violations, 0)
        << "handler " << h << ": " << handlers[h]->first_violation;
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
