// Client library microbenchmarks: the blocking client's hot paths over a
// real loopback TCP connection to a minimal fake gateway in a helper thread
// (it answers LOGON, OPEN_STREAM and SUBSCRIBE, then only drains or feeds
// bytes), so the figures are the client's own cost plus the syscalls, not
// the gateway's.
//
//   BM_ClientPublish/<payload>          Client::Publish (encode into the
//                                       send buffer + one send syscall); the
//                                       helper thread drains the socket
//   BM_ClientClaimCommit/<payload>      TryClaim, fill in place, Commit
//   BM_ClientReceiveDispatch/<payload>  Client::Poll: recv into the decoder,
//                                       decode DATA frames in place, check
//                                       sequences, call the handler; the
//                                       helper thread keeps the socket full
//                                       of pre-encoded DATA frames
//   BM_AsyncClientTryPublish/<payload>  AsyncClient::TryPublish (encode into
//                                       the send queue + one non-blocking
//                                       send; io_context run when full)
//   BM_AsyncClientReceiveDispatch/<payload>
//                                       one io_context::run_one: the read
//                                       completion decodes and dispatches
//                                       what one async_read_some brought
//
// Every benchmark reports ns_per_message and messages_per_s (from the
// benchmark thread's CPU time; the helper runs on another core) and
// allocs_per_op: heap allocations by the client's thread per message in
// the timed loop, which must read 0.
//
// Run: build/<dir>/bench/micro/tachyon-micro-client
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include "alloc_counter.h"
#include "benchmark/benchmark.h"
#include "tachyon/client/async_client.h"
#include "tachyon/client/client.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::client {
namespace {

namespace tp = ::tachyon::protocol;
using ::tachyon::bench::ThreadAllocations;

constexpr StreamId kStream{1};
constexpr char kStreamName[] = "bench";

// The far end of the benchmark's connection.
class FakeGateway {
 public:
  enum class Mode {
    kSink,  // after OPEN_STREAM: read and discard everything
    kFeed,  // after SUBSCRIBE: send DATA frames as fast as the client reads
  };

  FakeGateway(Mode mode, std::size_t payload) : mode_(mode) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 1);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (mode_ == Mode::kFeed) BuildBlock(payload);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeGateway() {
    stop_.store(true, std::memory_order_release);
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
  }
  FakeGateway(const FakeGateway&) = delete;
  FakeGateway& operator=(const FakeGateway&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  // ~256 KiB of consecutive DATA frames; Feed re-stamps their sequences.
  void BuildBlock(std::size_t payload) {
    const std::size_t frame =
        tp::PaddedLength(tp::DataView::kFixedLength + payload);
    frames_ = std::max<std::size_t>(1, (256 * 1024) / frame);
    frame_size_ = frame;
    block_.resize(frames_ * frame);
    const std::vector<std::byte> body(payload, std::byte{'x'});
    for (std::size_t i = 0; i < frames_; ++i) {
      tp::EncodeData({block_.data() + i * frame, frame}, kStream,
                     Sequence{i + 1}, 1'700'000'000'000'000'000, body);
    }
  }

  void Serve() {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    Handshake(fd);
    ::close(fd);
  }

  void Send(int fd, std::span<const std::byte> bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n =
          ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }

  void Handshake(int fd) {
    std::vector<std::byte> storage(
        2 * tp::FrameDecoder::MinStorage(tp::kDefaultMaxFrameLength));
    tp::FrameDecoder decoder(storage, tp::kDefaultMaxFrameLength);
    std::array<std::byte, 512> out;
    for (;;) {
      const tp::DecodeResult r = decoder.Next();
      if (r.status == tp::DecodeStatus::kError) return;
      if (r.status == tp::DecodeStatus::kIncomplete) {
        const auto space = decoder.WritableSpan();
        const ssize_t n = ::recv(fd, space.data(), space.size(), 0);
        if (n <= 0) return;
        decoder.Commit(static_cast<std::size_t>(n));
        continue;
      }
      switch (r.frame.type()) {
        case tp::MessageType::kLogon:
          Send(fd, {out.data(),
                    tp::EncodeLogonAck(out, {.heartbeat_interval_ms = 10000,
                                             .session_id = SessionId{1},
                                             .max_frame_length =
                                                 tp::kDefaultMaxFrameLength})});
          break;
        case tp::MessageType::kOpenStream: {
          const tp::OpenStreamView open(r.frame);
          Send(fd, {out.data(),
                    tp::EncodeOpenStreamAck(out, {.stream_id = kStream,
                                                  .id = open.request_id(),
                                                  .next_sequence = Sequence{1},
                                                  .name = open.name()})});
          if (mode_ == Mode::kSink) return Drain(fd);
          break;
        }
        case tp::MessageType::kSubscribe: {
          const tp::SubscribeView sub(r.frame);
          Send(fd, {out.data(), tp::EncodeSubscribeAck(
                                    out, {.stream_id = kStream,
                                          .id = sub.subscription_id().value(),
                                          .next_sequence = Sequence{1},
                                          .name = kStreamName})});
          if (mode_ == Mode::kFeed) return Feed(fd);
          break;
        }
        default:
          break;
      }
    }
  }

  void Drain(int fd) {
    std::vector<std::byte> sink(1 << 20);
    while (::recv(fd, sink.data(), sink.size(), 0) > 0) {
    }
  }

  void Feed(int fd) {
    std::uint64_t next = 1;
    while (!stop_.load(std::memory_order_acquire)) {
      for (std::size_t i = 0; i < frames_; ++i) {
        tp::StoreU64(block_.data() + i * frame_size_ + 16, next++);
      }
      std::size_t off = 0;
      while (off < block_.size()) {
        const ssize_t n =
            ::send(fd, block_.data() + off, block_.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return;  // the client went away
        off += static_cast<std::size_t>(n);
      }
    }
  }

  Mode mode_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::vector<std::byte> block_;
  std::size_t frames_ = 0;
  std::size_t frame_size_ = 0;
};

void ReportMessages(benchmark::State& state, std::uint64_t messages,
                    std::uint64_t allocations) {
  const auto n = static_cast<double>(messages);
  state.SetItemsProcessed(static_cast<std::int64_t>(messages));
  state.counters["messages_per_s"] =
      benchmark::Counter(n, benchmark::Counter::kIsRate);
  // An inverted rate: seconds per message, printed with its unit ("250ns").
  state.counters["ns_per_message"] = benchmark::Counter(
      n, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["allocs_per_op"] = benchmark::Counter(
      messages == 0 ? 0.0 : static_cast<double>(allocations) / n);
}

std::unique_ptr<Client> ConnectOrSkip(benchmark::State& state,
                                      std::uint16_t port) {
  ClientOptions options;
  options.close_timeout = std::chrono::milliseconds(10);
  auto client = Client::Connect("127.0.0.1", port, options);
  if (!client.ok()) {
    state.SkipWithError(std::string(client.status().message()).c_str());
    return nullptr;
  }
  return std::move(*client);
}

void BM_ClientPublish(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  FakeGateway gateway(FakeGateway::Mode::kSink, size);
  std::unique_ptr<Client> client = ConnectOrSkip(state, gateway.port());
  if (client == nullptr) return;
  const absl::StatusOr<StreamId> stream = client->OpenStream(kStreamName);
  if (!stream.ok()) {
    state.SkipWithError("OpenStream failed");
    return;
  }
  const std::vector<std::byte> payload(size, std::byte{'p'});
  const std::uint64_t allocs = ThreadAllocations();
  for (auto _ : state) {
    if (!client->Publish(*stream, payload).ok()) {
      state.SkipWithError("Publish failed");
      break;
    }
  }
  ReportMessages(state, state.iterations(), ThreadAllocations() - allocs);
}
BENCHMARK(BM_ClientPublish)->Arg(32)->Arg(256);

void BM_ClientClaimCommit(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  FakeGateway gateway(FakeGateway::Mode::kSink, size);
  std::unique_ptr<Client> client = ConnectOrSkip(state, gateway.port());
  if (client == nullptr) return;
  const absl::StatusOr<StreamId> stream = client->OpenStream(kStreamName);
  if (!stream.ok()) {
    state.SkipWithError("OpenStream failed");
    return;
  }
  std::uint64_t counter = 0;
  const std::uint64_t allocs = ThreadAllocations();
  for (auto _ : state) {
    absl::StatusOr<std::span<std::byte>> claim =
        client->TryClaim(*stream, size);
    if (!claim.ok()) {
      state.SkipWithError("TryClaim failed");
      break;
    }
    // What a feed handler does: write its fields in place.
    std::memset(claim->data(), 'c', claim->size());
    std::memcpy(claim->data(), &counter, sizeof counter);
    ++counter;
    if (!client->Commit().ok()) {
      state.SkipWithError("Commit failed");
      break;
    }
  }
  ReportMessages(state, state.iterations(), ThreadAllocations() - allocs);
}
BENCHMARK(BM_ClientClaimCommit)->Arg(32)->Arg(256);

void BM_ClientReceiveDispatch(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  FakeGateway gateway(FakeGateway::Mode::kFeed, size);
  std::unique_ptr<Client> client = ConnectOrSkip(state, gateway.port());
  if (client == nullptr) return;
  std::uint64_t received = 0;
  std::uint64_t checksum = 0;
  const absl::StatusOr<SubscriptionId> sub = client->Subscribe(
      kStreamName, StartPosition::Latest(), [&](const Message& m) {
        ++received;
        checksum += m.payload.size() + std::to_integer<unsigned>(m.payload[0]);
      });
  if (!sub.ok()) {
    state.SkipWithError("Subscribe failed");
    return;
  }
  // Warm up: the first reads, the stream table, the kernel's buffers.
  while (received < 10000) {
    if (!client->Poll(Client::kDefaultPollLimit).ok()) {
      state.SkipWithError("Poll failed");
      return;
    }
  }
  const std::uint64_t start = received;
  const std::uint64_t allocs = ThreadAllocations();
  for (auto _ : state) {
    if (!client->Poll(Client::kDefaultPollLimit).ok()) {
      state.SkipWithError("Poll failed");
      break;
    }
  }
  const std::uint64_t allocations = ThreadAllocations() - allocs;
  benchmark::DoNotOptimize(checksum);
  if (client->stats().gaps != 0) state.SkipWithError("sequence gaps");
  ReportMessages(state, received - start, allocations);
  state.counters["messages_per_poll"] =
      benchmark::Counter(static_cast<double>(received - start),
                         benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_ClientReceiveDispatch)->Arg(32)->Arg(256);

// Runs `io` until `done` or 5 s; false on timeout.
bool RunUntil(asio::io_context& io, const bool& done) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(10));
  }
  return done;
}

// Connects `client` and opens the benchmark stream (or subscribes to it
// with `on_message`); false (and the benchmark skipped) on failure.
bool AsyncSetUp(benchmark::State& state, asio::io_context& io,
                AsyncClient& client, std::uint16_t port, StreamId* stream,
                MessageHandler on_message) {
  bool done = false;
  absl::Status status = absl::UnknownError("timed out");
  client.AsyncConnect("127.0.0.1", port, [&](absl::Status s) {
    status = s;
    done = true;
  });
  if (!RunUntil(io, done) || !status.ok()) {
    state.SkipWithError(std::string(status.message()).c_str());
    return false;
  }
  done = false;
  if (on_message) {
    client.AsyncSubscribe(kStreamName, StartPosition::Latest(),
                          std::move(on_message),
                          [&](absl::StatusOr<SubscriptionId> id) {
                            status = id.status();
                            done = true;
                          });
  } else {
    client.AsyncOpenStream(kStreamName, [&](absl::StatusOr<StreamId> id) {
      status = id.status();
      if (id.ok()) *stream = *id;
      done = true;
    });
  }
  if (!RunUntil(io, done) || !status.ok()) {
    state.SkipWithError(std::string(status.message()).c_str());
    return false;
  }
  return true;
}

void BM_AsyncClientTryPublish(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  FakeGateway gateway(FakeGateway::Mode::kSink, size);
  asio::io_context io;
  AsyncClient client(io);
  StreamId stream;
  if (!AsyncSetUp(state, io, client, gateway.port(), &stream, nullptr)) {
    return;
  }
  const std::vector<std::byte> payload(size, std::byte{'p'});
  std::uint64_t full = 0;
  const std::uint64_t allocs = ThreadAllocations();
  for (auto _ : state) {
    absl::Status s = client.TryPublish(stream, payload);
    while (s.code() == absl::StatusCode::kResourceExhausted) {
      // The queue is full: let the pending async write complete.
      ++full;
      io.run_one();
      s = client.TryPublish(stream, payload);
    }
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  ReportMessages(state, state.iterations(), ThreadAllocations() - allocs);
  state.counters["queue_full"] = benchmark::Counter(
      static_cast<double>(full), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_AsyncClientTryPublish)->Arg(32)->Arg(256);

void BM_AsyncClientReceiveDispatch(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  FakeGateway gateway(FakeGateway::Mode::kFeed, size);
  asio::io_context io;
  AsyncClient client(io);
  std::uint64_t received = 0;
  std::uint64_t checksum = 0;
  if (!AsyncSetUp(
          state, io, client, gateway.port(), nullptr, [&](const Message& m) {
            ++received;
            checksum +=
                m.payload.size() + std::to_integer<unsigned>(m.payload[0]);
          })) {
    return;
  }
  while (received < 10000) io.run_one();  // warm up
  const std::uint64_t start = received;
  const std::uint64_t allocs = ThreadAllocations();
  for (auto _ : state) io.run_one();
  const std::uint64_t allocations = ThreadAllocations() - allocs;
  benchmark::DoNotOptimize(checksum);
  if (client.stats().gaps != 0) state.SkipWithError("sequence gaps");
  ReportMessages(state, received - start, allocations);
  state.counters["messages_per_run"] =
      benchmark::Counter(static_cast<double>(received - start),
                         benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_AsyncClientReceiveDispatch)->Arg(32)->Arg(256);

}  // namespace
}  // namespace tachyon::client

BENCHMARK_MAIN();
