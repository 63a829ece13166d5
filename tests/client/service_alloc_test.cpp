// The synchronous request path of tachyon::service::Server must not
// allocate in steady state (beyond what the handler's answer needs; this
// handler's needs nothing once the reply buffer has grown). This binary
// replaces the global operator new with a counting one and counts on the
// Server's worker thread only (the handler marks it): every allocation
// while it decodes REQUESTs, runs the handler and encodes and sends
// RESPONSEs, after a warm-up. Also: accepting a connection does not touch
// its whole receive buffer (page faults counted, not time).
#include <sys/resource.h>

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "support/alloc_counter.h"
#include "support/test_client.h"
#include "tachyon/protocol/protocol.h"
#include "tachyon/service/server.h"

namespace tachyon::testing {
namespace {

namespace tp = ::tachyon::protocol;
namespace ts = ::tachyon::service;

// Sends `rounds` bursts of `burst` REQUESTs and reads every RESPONSE,
// checking each answer.
void Exchange(TestClient& gw, int rounds, int burst, std::uint64_t* next_id) {
  std::vector<std::byte> out(static_cast<std::size_t>(burst) * 64);
  for (int r = 0; r < rounds; ++r) {
    std::size_t used = 0;
    for (int i = 0; i < burst; ++i) {
      used += tp::EncodeRequest(
          std::span(out).subspan(used),
          {.correlation_id = (*next_id)++,
           .service_id = 3,
           .payload = tp::AsBytes(std::string_view("order 12345"))});
    }
    ASSERT_TRUE(gw.SendRaw({out.data(), used}));
    for (int i = 0; i < burst; ++i) {
      std::optional<Frame> f = gw.ReadSkippingHeartbeats();
      ASSERT_TRUE(f);
      ASSERT_EQ(f->type(), tp::MessageType::kResponse);
      const tp::ResponseView v(f->view());
      ASSERT_EQ(v.status(), tp::ResponseStatus::kOk);
      ASSERT_EQ(v.payload().size(), 11u);
    }
  }
}

TEST(ServiceAllocTest, SyncRequestPathDoesNotAllocateInSteadyState) {
  auto server = ts::Server::Start(
      {.threads = 1},
      [](const ts::Request& req, std::vector<std::byte>& reply) {
        CountThisThread();  // this is the worker thread
        reply.assign(req.payload.begin(), req.payload.end());
        return absl::OkStatus();
      });
  ASSERT_TRUE(server.ok()) << server.status();
  auto gw = TestClient::Connect((*server)->port());
  ASSERT_NE(gw, nullptr);
  auto ack = gw->Logon("", 10000, 1, 3);
  ASSERT_TRUE(ack && ack->type() == tp::MessageType::kLogonAck);

  std::uint64_t id = 1;
  ASSERT_NO_FATAL_FAILURE(Exchange(*gw, 20, 50, &id));  // warm-up
  StartCountingAllocations();
  ASSERT_NO_FATAL_FAILURE(Exchange(*gw, 40, 50, &id));
  StopCountingAllocations();
  EXPECT_EQ(CountedAllocations(), 0) << "allocations in 2000 requests";
  EXPECT_EQ((*server)->stats().requests, 3000u);
}

// Regression: each connection's receive buffer (2 x max_frame_length) was
// zero-filled at accept, a page fault per 4 KiB before the LOGON_ACK (~0.45
// ms per connection with the default 64 KiB frames), which every request
// waiting for a new pooled connection paid. With 4 MiB frames that is 2048
// faults per connection; untouched, a LOGON touches a page or two.
TEST(ServiceAllocTest, AcceptingAConnectionDoesNotTouchItsWholeReceiveBuffer) {
  auto server =
      ts::Server::Start({.threads = 1, .max_frame_length = 4u << 20},
                        [](const ts::Request&, std::vector<std::byte>&) {
                          return absl::OkStatus();
                        });
  ASSERT_TRUE(server.ok()) << server.status();
  constexpr int kConnections = 8;
  rusage before{};
  ::getrusage(RUSAGE_SELF, &before);
  std::vector<std::unique_ptr<TestClient>> held;
  for (int i = 0; i < kConnections; ++i) {
    auto gw = TestClient::Connect((*server)->port());
    ASSERT_NE(gw, nullptr);
    auto ack = gw->Logon("", 10000, 1, 3);
    ASSERT_TRUE(ack && ack->type() == tp::MessageType::kLogonAck);
    held.push_back(std::move(gw));
  }
  rusage after{};
  ::getrusage(RUSAGE_SELF, &after);
  const long faults = after.ru_minflt - before.ru_minflt;
  // 2048 per connection if the buffers were filled; a generous bound for
  // everything else (the test clients, the server's bookkeeping).
  EXPECT_LT(faults, kConnections * 1024L)
      << "minor page faults while accepting " << kConnections
      << " connections with 8 MiB receive buffers";
}

}  // namespace
}  // namespace tachyon::testing
