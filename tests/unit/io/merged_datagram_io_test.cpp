// MergedDatagramIo over two kernel-socket paths on loopback: both paths'
// datagrams come out of one Receive, drained; readiness follows either;
// sends go through the first.
#include "io/merged_datagram_io.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "io/datagram_socket.h"
#include "io/socket.h"

namespace tachyon::io {
namespace {

struct Path {
  int fd = -1;
  std::uint16_t port = 0;
  std::unique_ptr<DatagramIo> io;
};

Path OpenPath() {
  Path p;
  absl::StatusOr<int> fd = OpenUdpReceiveSocket("127.0.0.1", 0, {});
  EXPECT_TRUE(fd.ok()) << fd.status();
  p.fd = *fd;
  p.port = LocalPort(p.fd).value_or(0);
  absl::StatusOr<std::unique_ptr<SocketDatagramIo>> io =
      SocketDatagramIo::Create({.receive_fd = p.fd, .receive_batch = 8});
  EXPECT_TRUE(io.ok()) << io.status();
  p.io = *std::move(io);
  return p;
}

void SendTo(int fd, std::uint16_t port, const std::string& bytes) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  ASSERT_EQ(::sendto(fd, bytes.data(), bytes.size(), 0,
                     reinterpret_cast<sockaddr*>(&a), sizeof a),
            static_cast<ssize_t>(bytes.size()));
}

bool Readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) > 0;
}

class MergedDatagramIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Path a = OpenPath();
    Path b = OpenPath();
    fd_a_ = a.fd;
    fd_b_ = b.fd;
    port_a_ = a.port;
    port_b_ = b.port;
    absl::StatusOr<std::unique_ptr<MergedDatagramIo>> m =
        MergedDatagramIo::Create(std::move(a.io), std::move(b.io));
    ASSERT_TRUE(m.ok()) << m.status();
    merged_ = *std::move(m);
    sender_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  }
  void TearDown() override {
    merged_.reset();
    ::close(fd_a_);
    ::close(fd_b_);
    ::close(sender_);
  }
  // Receives until `count` or nothing more within 1 s.
  std::vector<std::string> ReceiveUpTo(std::size_t count, std::size_t batch) {
    std::vector<std::string> out;
    std::vector<RxDatagram> rx(batch);
    for (int pass = 0; pass < 100 && out.size() < count; ++pass) {
      const int n = merged_->Receive(rx);
      for (int i = 0; i < n; ++i) {
        const RxDatagram& d = rx[static_cast<std::size_t>(i)];
        out.emplace_back(reinterpret_cast<const char*>(d.bytes.data()),
                         d.bytes.size());
      }
      if (n == 0 && !Readable(merged_->readiness_fd(), 1000)) break;
    }
    return out;
  }

  int fd_a_ = -1, fd_b_ = -1, sender_ = -1;
  std::uint16_t port_a_ = 0, port_b_ = 0;
  std::unique_ptr<MergedDatagramIo> merged_;
};

TEST_F(MergedDatagramIoTest, ReceivesFromBothPathsOnce) {
  EXPECT_EQ(merged_->name(), "socket");
  ASSERT_GE(merged_->readiness_fd(), 0);
  EXPECT_FALSE(Readable(merged_->readiness_fd(), 0));
  SendTo(sender_, port_b_, "b1");  // only the second path has data
  EXPECT_TRUE(Readable(merged_->readiness_fd(), 1000));
  SendTo(sender_, port_a_, "a1");
  SendTo(sender_, port_a_, "a2");
  SendTo(sender_, port_b_, "b2");
  SendTo(sender_, port_a_, "a3");
  // A batch of 2: several calls, both paths, each datagram once.
  std::vector<std::string> got = ReceiveUpTo(5, 2);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"a1", "a2", "a3", "b1", "b2"}));
  // Drained: a short return, and nothing readable any more.
  std::vector<RxDatagram> rx(8);
  EXPECT_EQ(merged_->Receive(rx), 0);
  EXPECT_FALSE(Readable(merged_->readiness_fd(), 0));
  EXPECT_EQ(merged_->drops(), 0u);
}

TEST_F(MergedDatagramIoTest, NeitherPathStarvesTheOther) {
  for (int i = 0; i < 4; ++i) {
    SendTo(sender_, port_a_, "a" + std::to_string(i));
    SendTo(sender_, port_b_, "b" + std::to_string(i));
  }
  ASSERT_TRUE(Readable(fd_a_, 1000));
  ASSERT_TRUE(Readable(fd_b_, 1000));
  // Batches of 1 that one path could fill every time: the two alternate.
  std::vector<RxDatagram> rx(1);
  std::string first, second;
  ASSERT_EQ(merged_->Receive(rx), 1);
  first.assign(reinterpret_cast<const char*>(rx[0].bytes.data()),
               rx[0].bytes.size());
  ASSERT_EQ(merged_->Receive(rx), 1);
  second.assign(reinterpret_cast<const char*>(rx[0].bytes.data()),
                rx[0].bytes.size());
  EXPECT_NE(first[0], second[0]) << first << " " << second;
}

TEST_F(MergedDatagramIoTest, SendsThroughTheFirstPath) {
  const int receiver = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(receiver, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const std::uint16_t port = LocalPort(receiver).value_or(0);
  const std::string body = "out";
  const std::vector<TxDatagram> datagrams = {
      {std::as_bytes(std::span(body.data(), body.size())), {}}};
  const std::vector<TxRun> runs = {
      {{htonl(INADDR_LOOPBACK), port}, 0, datagrams}};
  std::vector<TxRunResult> results(1);
  merged_->Send(runs, results);
  EXPECT_EQ(results[0].status, TxRunResult::Status::kSent);
  EXPECT_EQ(results[0].sent, 1u);
  ASSERT_TRUE(Readable(receiver, 1000));
  char buf[16];
  EXPECT_EQ(::recv(receiver, buf, sizeof buf, 0), 3);
  EXPECT_EQ(merged_->offloaded_sends(), merged_->first().offloaded_sends());
  ::close(receiver);
}

}  // namespace
}  // namespace tachyon::io
