// The synchronous request path of tachyon::service::Server must not
// allocate in steady state (beyond what the handler's answer needs; this
// handler's needs nothing once the reply buffer has grown). This binary
// replaces the global operator new with a counting one and counts on the
// Server's worker thread only (the handler marks it): every allocation
// while it decodes REQUESTs, runs the handler and encodes and sends
// RESPONSEs, after a warm-up.
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "support/test_client.h"
#include "tachyon/protocol/protocol.h"
#include "tachyon/service/server.h"

namespace {
// Set on a Server worker thread by the handler; the counter is shared
// (the test thread reads it).
thread_local bool counting = false;
std::atomic<long> allocations{0};

void* CountedAlloc(std::size_t size) {
  if (counting) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* CountedAlignedAlloc(std::size_t size, std::align_val_t align) {
  if (counting) allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = nullptr;
  if (posix_memalign(&p, static_cast<std::size_t>(align),
                     size == 0 ? 1 : size) != 0) {
    throw std::bad_alloc();
  }
  return p;
}
}  // namespace

void* operator new(std::size_t size) { return CountedAlloc(size); }
void* operator new[](std::size_t size) { return CountedAlloc(size); }
void* operator new(std::size_t size, std::align_val_t a) {
  return CountedAlignedAlloc(size, a);
}
void* operator new[](std::size_t size, std::align_val_t a) {
  return CountedAlignedAlloc(size, a);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

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
        counting = true;  // this is the worker thread
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
  const long before = allocations.load();
  ASSERT_NO_FATAL_FAILURE(Exchange(*gw, 40, 50, &id));
  const long after = allocations.load();
  EXPECT_EQ(after - before, 0) << "allocations in 2000 requests";
  EXPECT_EQ((*server)->stats().requests, 3000u);
}

}  // namespace
}  // namespace tachyon::testing
