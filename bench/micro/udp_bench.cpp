// UDP kernel-path microbenchmarks over loopback: the batched system calls
// the gateway's UDP transport uses, each beside the naive way in the same
// run, with the ratio printed after the run.
//
//   BM_IngressRecvmmsg/payload:P/live:L   recvmmsg, batches of 64 into
//                                         preallocated buffers
//   BM_IngressRecvfrom/payload:P/live:L   one recvfrom per datagram
//   BM_EgressSendmmsg/destinations:D      64 DATA datagrams to each of D
//                                         destinations with sendmmsg; each
//                                         datagram is an iovec pair [shared
//                                         24-byte header, frame in the log]
//   BM_EgressSendto/destinations:D        the same datagrams, copied into a
//                                         buffer and sent with one sendto each
//   BM_EgressGso/destinations:D           the same datagrams as one UDP GSO
//                                         (UDP_SEGMENT) send per destination
//                                         (skipped where the kernel lacks it)
//
// Ingress datagrams are PUBLISH datagrams of one message built with the real
// codec: payload 16 makes the 64-byte datagram of the goal, payload
// 32 an 80-byte one. Two feeds:
//   live:0  the socket is filled (untimed, sendmmsg) with kFill datagrams,
//           then drained (timed): the receive path alone, so the receiver is
//           the bottleneck by construction.
//   live:1  a sender thread blasts sendmmsg batches while the receiver reads;
//           received/s is what the receiver kept up with, and `dropped` what
//           the socket buffer could not hold. batch_fill (datagrams per call)
//           near 64 means the receiver, not the sender, was the bottleneck.
// Neither receive path asks for the source address (a datagram's source_id
// names its producer), so the comparison is the batching alone.
//
// Egress measures the sender side: the receivers are bound sockets on
// 127.0.0.1 with large buffers, drained and checked (every datagram decoded)
// between iterations with the timer paused, so no send is ever dropped for
// want of buffer and every one is counted. On loopback the sender's system
// call also carries the datagram through the receive path into the
// destination socket, so the figures include that work.
//
// Counters: msgs_per_s (datagrams received, or delivered to one destination),
// sent / received / dropped (exact totals of the reported run) and
// allocs_per_op, which must read 0 on the batched paths. All rates are over
// real time: on a loaded host, compare the printed ratios, not rates.
//
// Run: scripts/run-micro-bench.sh BUILD_DIR --benchmark_filter=Ingress|Egress
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "alloc_counter.h"
#include "benchmark/benchmark.h"
#include "config/model.h"
#include "io/datagram_socket.h"
#include "stream/stream_registry.h"
#include "tachyon/protocol/datagram_mac.h"
#include "tachyon/protocol/protocol.h"
#include "udp/egress.h"
#include "udp/ingress.h"
#include "udp/producers.h"
#include "udp/udp_counters.h"
#include "udp_batch.h"

namespace tachyon::bench {
namespace {

namespace tp = ::tachyon::protocol;

constexpr int kBatch = ReceiveBatch::kBatch;        // recvmmsg/sendmmsg batch
constexpr std::size_t kSlot = ReceiveBatch::kSlot;  // bytes per datagram
constexpr std::uint64_t kFill = 4096;  // datagrams queued per drain iteration
constexpr std::uint64_t kSourceId = 0x7ac4'10e5'0000'0001;
constexpr StreamId kStream{1};
// Egress frames: DATA with a 32-byte payload, 64 bytes in the log.
constexpr std::size_t kEgressPayload = 32;
constexpr std::size_t kFrame =
    tp::PaddedLength(tp::DataView::kFixedLength + kEgressPayload);
constexpr std::size_t kEgressDatagram = tp::kDatagramHeaderLength + kFrame;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

// A UDP socket bound to 127.0.0.1 on an ephemeral port, with a receive
// buffer of `rcvbuf` bytes: SO_RCVBUFFORCE where the process may exceed
// net.core.rmem_max, else SO_RCVBUF (capped by it). Returns -1 on failure.
Fd BoundUdpSocket(int rcvbuf) {
  Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return fd;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
                   sizeof rcvbuf) != 0) {
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  const sockaddr_in any = Loopback(0);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&any), sizeof any) !=
      0) {
    return Fd();
  }
  return fd;
}

sockaddr_in AddressOf(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return a;
}

// A PUBLISH datagram carrying one message of `payload` bytes, producer
// sequence `sequence`, validated with the decoder.
std::vector<std::byte> PublishDatagram(std::size_t payload,
                                       std::uint64_t sequence) {
  std::vector<std::byte> body(payload, std::byte{0x5a});
  std::vector<std::byte> d(
      tp::kDatagramHeaderLength +
      tp::PaddedLength(tp::PublishView::kFixedLength + payload));
  if (tp::EncodeDatagramHeader(d, tp::DatagramKind::kPublish, 1, kStream,
                               Sequence{sequence}, kSourceId) == 0 ||
      tp::EncodePublish(std::span(d).subspan(tp::kDatagramHeaderLength),
                        kStream, 0, body) == 0 ||
      tp::DecodeDatagram(d, tp::kDefaultMaxFrameLength).error !=
          tp::ErrorCode::kNone) {
    return {};
  }
  return d;
}

// Sends copies of one datagram with sendmmsg, kBatch per call, stamping each
// with the next producer sequence, on a connected socket. Either Fill() from
// the calling thread or Start()/Stop() a blasting thread (bounded at 120 s).
class Blaster {
 public:
  Blaster(int fd, const std::vector<std::byte>& datagram)
      : fd_(fd), size_(datagram.size()), storage_(kBatch * datagram.size()) {
    for (int i = 0; i < kBatch; ++i) {
      std::byte* p = storage_.data() + static_cast<std::size_t>(i) * size_;
      std::memcpy(p, datagram.data(), size_);
      iov_[i] = {p, size_};
      msgs_[i] = {};
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
    }
  }
  ~Blaster() { (void)Stop(); }

  // Sends `count` datagrams (fewer on a send error); returns how many.
  std::uint64_t Fill(std::uint64_t count) {
    std::uint64_t sent = 0;
    while (sent < count) {
      const int n = SendBatch(
          static_cast<int>(std::min<std::uint64_t>(kBatch, count - sent)));
      if (n <= 0) break;
      sent += static_cast<std::uint64_t>(n);
    }
    return sent;
  }
  void Start() {
    stop_.store(false, std::memory_order_relaxed);
    thread_ = std::thread([this] {
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::seconds(120);
      for (std::uint64_t calls = 0; !stop_.load(std::memory_order_acquire);
           ++calls) {
        const int n = SendBatch(kBatch);
        if (n > 0) {
          blasted_ += static_cast<std::uint64_t>(n);
        } else if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR) {
          break;
        }
        if ((calls & 1023) == 0 && std::chrono::steady_clock::now() > deadline)
          break;
      }
    });
  }
  // Stops the blasting thread; returns how many datagrams it sent.
  std::uint64_t Stop() {
    stop_.store(true, std::memory_order_release);
    if (thread_.joinable()) thread_.join();
    return blasted_;
  }

 private:
  int SendBatch(int count) {
    for (int i = 0; i < count; ++i) {
      tp::StoreU64(storage_.data() + static_cast<std::size_t>(i) * size_ + 8,
                   sequence_ + static_cast<std::uint64_t>(i));
    }
    const int n =
        ::sendmmsg(fd_, msgs_.data(), static_cast<unsigned>(count), 0);
    if (n > 0) sequence_ += static_cast<std::uint64_t>(n);
    return n;
  }

  int fd_;
  std::size_t size_;
  std::vector<std::byte> storage_;
  std::array<iovec, kBatch> iov_;
  std::array<mmsghdr, kBatch> msgs_;
  std::uint64_t sequence_ = 1;
  std::uint64_t blasted_ = 0;  // written by the thread, read after join
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

enum class Receiver { kRecvmmsg, kRecvfrom };

// One receive call: a batch or a single datagram. Returns the datagrams
// received (0 when none were waiting or the wait timed out); counts those
// whose length is not `expected` in `*bad`.
int ReceiveOnce(Receiver how, int fd, bool wait, ReceiveBatch& batch,
                std::span<std::byte> one, std::size_t expected,
                std::uint64_t* bad) {
  if (how == Receiver::kRecvmmsg) {
    const int n = batch.Receive(fd, wait ? MSG_WAITFORONE : MSG_DONTWAIT);
    if (n <= 0) return 0;
    for (int i = 0; i < n; ++i) {
      if (batch.Datagram(i).size() != expected) ++*bad;
    }
    return n;
  }
  const ssize_t n = ::recvfrom(fd, one.data(), one.size(),
                               wait ? 0 : MSG_DONTWAIT, nullptr, nullptr);
  if (n < 0) return 0;
  if (static_cast<std::size_t>(n) != expected) ++*bad;
  return 1;
}

// Reads everything queued on `fd` (bounded); the count.
std::uint64_t DrainAll(int fd, ReceiveBatch& batch) {
  std::uint64_t n = 0;
  for (int calls = 0; calls < 1'000'000; ++calls) {
    const int got = batch.Receive(fd, MSG_DONTWAIT);
    if (got <= 0) break;
    n += static_cast<std::uint64_t>(got);
  }
  return n;
}

void ReportTotals(benchmark::State& state, std::uint64_t sent,
                  std::uint64_t received, std::uint64_t counted) {
  state.SetItemsProcessed(static_cast<std::int64_t>(counted));
  state.counters["msgs_per_s"] = benchmark::Counter(
      static_cast<double>(counted), benchmark::Counter::kIsRate);
  state.counters["sent"] = static_cast<double>(sent);
  state.counters["received"] = static_cast<double>(received);
  state.counters["dropped"] =
      static_cast<double>(sent > received ? sent - received : 0);
}

template <Receiver kHow>
void BM_Ingress(benchmark::State& state) {
  const auto payload = static_cast<std::size_t>(state.range(0));
  const bool live = state.range(1) != 0;
  const std::vector<std::byte> datagram = PublishDatagram(payload, 1);
  Fd rx = BoundUdpSocket(16 << 20);
  Fd tx(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  const sockaddr_in to = AddressOf(rx.get());
  if (datagram.empty() || rx.get() < 0 || tx.get() < 0 ||
      ::connect(tx.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) !=
          0) {
    state.SkipWithError("socket set-up failed");
    return;
  }
  // A receive that waits gives up after 500 ms (a stalled sender).
  const timeval timeout{.tv_sec = 0, .tv_usec = 500'000};
  ::setsockopt(rx.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  Blaster blaster(tx.get(), datagram);
  ReceiveBatch batch;
  std::vector<std::byte> one(kSlot);
  std::uint64_t sent = 0, received = 0, bad = 0, calls = 0;
  if (!live) {
    const AllocationCounter allocs;
    for (auto _ : state) {
      state.PauseTiming();
      sent += blaster.Fill(kFill);
      state.ResumeTiming();
      std::uint64_t got = 0;
      // Until the socket is empty: a datagram the fill lost is a drop, not
      // a wait.
      while (got < kFill) {
        const int n = ReceiveOnce(kHow, rx.get(), false, batch, one,
                                  datagram.size(), &bad);
        ++calls;
        if (n == 0) break;
        got += static_cast<std::uint64_t>(n);
      }
      received += got;
    }
    allocs.Report(state);
    ReportTotals(state, sent, received, received);
    // Calls include the one per drain that finds the socket empty.
    state.counters["batch_fill"] =
        calls ? static_cast<double>(received) / static_cast<double>(calls) : 0;
  } else {
    blaster.Start();
    const AllocationCounter allocs;
    for (auto _ : state) {
      const int n =
          ReceiveOnce(kHow, rx.get(), true, batch, one, datagram.size(), &bad);
      if (n == 0) {
        state.SkipWithError("no datagram for 500 ms");
        break;
      }
      ++calls;
      received += static_cast<std::uint64_t>(n);
    }
    allocs.Report(state);
    sent = blaster.Stop();
    state.counters["batch_fill"] =
        calls ? static_cast<double>(received) / static_cast<double>(calls) : 0;
    // What is still queued was not dropped; it is counted as received but
    // not in the timed rate.
    const std::uint64_t timed = received;
    received += DrainAll(rx.get(), batch);
    ReportTotals(state, sent, received, timed);
  }
  state.counters["datagram_bytes"] = static_cast<double>(datagram.size());
  if (bad != 0) state.SkipWithError("received a datagram of the wrong size");
}

enum class Sender { kSendto, kSendmmsg, kGso };

// Sends msgs[0, count) completely (a short sendmmsg is resumed); the number
// of messages sent.
int SendAll(int fd, mmsghdr* msgs, int count) {
  int done = 0;
  for (int attempts = 0; done < count && attempts < 1000; ++attempts) {
    const int n =
        ::sendmmsg(fd, msgs + done, static_cast<unsigned>(count - done), 0);
    if (n > 0) {
      done += n;
    } else if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR) {
      break;
    }
  }
  return done;
}

template <Sender kHow>
void BM_Egress(benchmark::State& state) {
  const auto destinations = static_cast<int>(state.range(0));
  std::vector<Fd> receivers;
  std::vector<sockaddr_in> addrs;
  for (int d = 0; d < destinations; ++d) {
    receivers.push_back(BoundUdpSocket(1 << 20));
    if (receivers.back().get() < 0) {
      state.SkipWithError("receiver socket set-up failed");
      return;
    }
    addrs.push_back(AddressOf(receivers.back().get()));
  }
  Fd tx(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (tx.get() < 0) {
    state.SkipWithError("sender socket set-up failed");
    return;
  }
  if (kHow == Sender::kGso) {
    const int segment = static_cast<int>(kEgressDatagram);
    if (::setsockopt(tx.get(), SOL_UDP, UDP_SEGMENT, &segment,
                     sizeof segment) != 0) {
      state.SkipWithError(
          (std::string("kernel lacks UDP_SEGMENT: ") + std::strerror(errno))
              .c_str());
      return;
    }
  }
  // The stream log's next kBatch DATA frames, and per datagram a header
  // shared by every destination.
  std::vector<std::byte> log(kBatch * kFrame);
  const std::vector<std::byte> payload(kEgressPayload, std::byte{0x5a});
  for (int m = 0; m < kBatch; ++m) {
    (void)tp::EncodeData(std::span(log).subspan(m * kFrame, kFrame), kStream,
                         Sequence{static_cast<std::uint64_t>(m + 1)},
                         1'700'000'000'000'000'000, payload);
  }
  struct alignas(8) Header {
    std::array<std::byte, tp::kDatagramHeaderLength> bytes;
  };
  std::array<Header, kBatch> headers{};
  std::array<std::array<iovec, 2>, kBatch> iov{};
  std::array<iovec, 2 * kBatch> gso_iov{};
  for (int m = 0; m < kBatch; ++m) {
    iov[m][0] = {headers[m].bytes.data(), tp::kDatagramHeaderLength};
    iov[m][1] = {log.data() + m * kFrame, kFrame};
    gso_iov[2 * m] = iov[m][0];
    gso_iov[2 * m + 1] = iov[m][1];
  }
  std::array<mmsghdr, kBatch> msgs{};
  std::array<std::byte, kSlot> scratch{};
  ReceiveBatch drain;
  std::uint64_t sequence = 1, sent = 0, received = 0, invalid = 0;
  const AllocationCounter allocs;
  for (auto _ : state) {
    for (int m = 0; m < kBatch; ++m) {
      (void)tp::EncodeDatagramHeader(
          headers[m].bytes, tp::DatagramKind::kData, 1, kStream,
          Sequence{sequence + static_cast<std::uint64_t>(m)}, kSourceId);
    }
    if constexpr (kHow == Sender::kSendto) {
      for (const sockaddr_in& to : addrs) {
        for (int m = 0; m < kBatch; ++m) {
          std::memcpy(scratch.data(), headers[m].bytes.data(),
                      tp::kDatagramHeaderLength);
          std::memcpy(scratch.data() + tp::kDatagramHeaderLength,
                      log.data() + m * kFrame, kFrame);
          if (::sendto(tx.get(), scratch.data(), kEgressDatagram, 0,
                       reinterpret_cast<const sockaddr*>(&to),
                       sizeof to) == static_cast<ssize_t>(kEgressDatagram)) {
            ++sent;
          }
        }
      }
    } else if constexpr (kHow == Sender::kSendmmsg) {
      for (sockaddr_in& to : addrs) {
        for (int m = 0; m < kBatch; ++m) {
          msgs[m].msg_hdr = {};
          msgs[m].msg_hdr.msg_name = &to;
          msgs[m].msg_hdr.msg_namelen = sizeof to;
          msgs[m].msg_hdr.msg_iov = iov[m].data();
          msgs[m].msg_hdr.msg_iovlen = 2;
        }
        sent +=
            static_cast<std::uint64_t>(SendAll(tx.get(), msgs.data(), kBatch));
      }
    } else {
      // One GSO send per destination, up to kBatch destinations per
      // sendmmsg; the kernel cuts each into kBatch datagrams.
      for (int first = 0; first < destinations; first += kBatch) {
        const int count = std::min(kBatch, destinations - first);
        for (int j = 0; j < count; ++j) {
          msgs[j].msg_hdr = {};
          msgs[j].msg_hdr.msg_name = &addrs[first + j];
          msgs[j].msg_hdr.msg_namelen = sizeof(sockaddr_in);
          msgs[j].msg_hdr.msg_iov = gso_iov.data();
          msgs[j].msg_hdr.msg_iovlen = gso_iov.size();
        }
        sent +=
            static_cast<std::uint64_t>(kBatch) *
            static_cast<std::uint64_t>(SendAll(tx.get(), msgs.data(), count));
      }
    }
    state.PauseTiming();
    // Receivers drain and check every datagram; the log takes its next
    // kBatch messages (the frames' sequences advance).
    for (const Fd& r : receivers) {
      for (int calls = 0; calls < 1000; ++calls) {
        const int n = drain.Receive(r.get(), MSG_DONTWAIT);
        if (n <= 0) break;
        for (int i = 0; i < n; ++i) {
          const tp::DatagramResult d =
              tp::DecodeDatagram(drain.Datagram(i), tp::kDefaultMaxFrameLength);
          if (d.error != tp::ErrorCode::kNone) ++invalid;
        }
        received += static_cast<std::uint64_t>(n);
      }
    }
    sequence += kBatch;
    for (int m = 0; m < kBatch; ++m) {
      tp::StoreU64(log.data() + m * kFrame + 16,
                   sequence + static_cast<std::uint64_t>(m));
    }
    state.ResumeTiming();
  }
  allocs.Report(state);
  ReportTotals(state, sent, received, sent);
  if (invalid != 0) state.SkipWithError("a receiver got an invalid datagram");
}

void IngressArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"payload", "live"});
  for (int live : {0, 1}) {
    for (int payload : {16, 32}) b->Args({payload, live});
  }
  b->UseRealTime();
}

void EgressArgs(benchmark::internal::Benchmark* b) {
  b->ArgName("destinations")->Arg(1)->Arg(8)->Arg(64)->UseRealTime();
}

BENCHMARK_TEMPLATE(BM_Ingress, Receiver::kRecvmmsg)
    ->Name("BM_IngressRecvmmsg")
    ->Apply(IngressArgs);
BENCHMARK_TEMPLATE(BM_Ingress, Receiver::kRecvfrom)
    ->Name("BM_IngressRecvfrom")
    ->Apply(IngressArgs);
BENCHMARK_TEMPLATE(BM_Egress, Sender::kSendmmsg)
    ->Name("BM_EgressSendmmsg")
    ->Apply(EgressArgs);
BENCHMARK_TEMPLATE(BM_Egress, Sender::kSendto)
    ->Name("BM_EgressSendto")
    ->Apply(EgressArgs);
BENCHMARK_TEMPLATE(BM_Egress, Sender::kGso)
    ->Name("BM_EgressGso")
    ->Apply(EgressArgs);

// The gateway's own ingress on one thread: UdpIngress::Drain from a socket
// pre-filled with 64-byte PUBLISH datagrams (each with the next producer
// sequence) into a stream log: recvmmsg, validation, the per-producer
// duplicate check and the append. What one worker can take in, apart from
// the producer's cost.
class NullWaker final : public stream::StreamWaker {
 public:
  void OnAppended(stream::StreamLog*) override {}
};

// The same PUBLISH datagram as version 2 (PROTOCOL.md 16.7): producer 1,
// signed with kBenchKey.
constexpr char kBenchKey[] = "000102030405060708090a0b0c0d0e0f";
std::vector<std::byte> SignedPublishDatagram(std::size_t payload) {
  const std::vector<std::byte> plain = PublishDatagram(payload, 1);
  if (plain.empty()) return {};
  std::vector<std::byte> d(tp::kAuthenticatedHeaderLength + plain.size() -
                           tp::kDatagramHeaderLength + tp::kDatagramMacLength);
  tp::EncodeAuthenticatedDatagramHeader(d, tp::DatagramKind::kPublish, 1,
                                        kStream, Sequence{1}, kSourceId, 1);
  std::memcpy(d.data() + tp::kAuthenticatedHeaderLength,
              plain.data() + tp::kDatagramHeaderLength,
              plain.size() - tp::kDatagramHeaderLength);
  tp::SignDatagram(d, *tp::ParseDatagramKey(kBenchKey));
  return d;
}

// Drains plain datagrams (signed = false) into an ingress that accepts
// them, or signed ones into an ingress that requires authentication and
// verifies every MAC (the producer re-signs each with its next sequence,
// untimed).
void GatewayIngressDrain(benchmark::State& state, bool signed_datagrams) {
  config::GatewayConfig config;
  config.udp.enabled = true;
  base::CounterRegistry metrics;
  stream::StreamRegistry registry(config, metrics);
  absl::StatusOr<stream::StreamLog*> log = registry.Open("bench.udp");
  const auto payload = static_cast<std::size_t>(state.range(0));
  std::vector<std::byte> datagram = signed_datagrams
                                        ? SignedPublishDatagram(payload)
                                        : PublishDatagram(payload, 1);
  const tp::DatagramKey key = *tp::ParseDatagramKey(kBenchKey);
  config.udp_producers.push_back({.name = "bench",
                                  .id = 1,
                                  .key = kBenchKey,
                                  .allowed_sources = {"127.0.0.1/32"},
                                  .publish = {"bench.*"}});
  Fd rx = BoundUdpSocket(16 << 20);
  Fd tx(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  const sockaddr_in to = AddressOf(rx.get());
  if (!log.ok() || (*log)->id() != kStream || datagram.empty() ||
      rx.get() < 0 || tx.get() < 0 ||
      ::connect(tx.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) !=
          0) {
    state.SkipWithError("set-up failed");
    return;
  }
  udp::UdpCounters counters(metrics, 0);
  NullWaker waker;
  base::LoopClock clock;
  clock.Tick();
  auto io = io::SocketDatagramIo::Create(
      {.receive_fd = rx.get(), .receive_batch = kBatch});
  if (!io.ok()) {
    state.SkipWithError("datagram io set-up failed");
    return;
  }
  udp::UdpIngress ingress(**io, kBatch, tp::kDefaultMaxFrameLength, registry,
                          clock, waker, counters);
  if (signed_datagrams) {
    auto table = udp::ProducerTable::Create(config);
    if (!table.ok()) {
      state.SkipWithError("producer table set-up failed");
      return;
    }
    ingress.SetAuth({.producers = *table, .require_authentication = true});
  }
  std::uint64_t sequence = 1;
  std::uint64_t sent = 0;
  const AllocationCounter allocs;
  for (auto _ : state) {
    state.PauseTiming();
    for (std::uint64_t i = 0; i < kFill; ++i, ++sequence) {
      std::memcpy(datagram.data() + 8, &sequence, sizeof sequence);
      if (signed_datagrams) tp::SignDatagram(datagram, key);
      if (::send(tx.get(), datagram.data(), datagram.size(), 0) < 0) break;
      ++sent;
    }
    state.ResumeTiming();
    ingress.OnReadable();
    for (std::uint64_t i = 0; i < kFill && ingress.pending(); ++i) {
      ingress.Drain();
    }
  }
  allocs.Report(state);
  const udp::UdpStats s = counters.Snapshot();
  ReportTotals(state, sent, s.messages_appended, s.messages_appended);
  state.counters["duplicates"] = static_cast<double>(s.duplicates);
  if (s.malformed_total() != 0) state.SkipWithError("malformed datagrams");
  if (s.bad_mac + s.unauthenticated != 0) state.SkipWithError("MAC refused");
}
void BM_GatewayIngressDrain(benchmark::State& state) {
  GatewayIngressDrain(state, false);
}
void BM_GatewayIngressDrainSigned(benchmark::State& state) {
  GatewayIngressDrain(state, true);
}
// Named like the raw ingress runs so that the summary pairs it with the
// recvfrom loop of the same payload, and the signed run with the plain one.
// Payload 16: the 64-byte datagram (88 bytes signed); 1400: the largest
// payload a signed 1472-byte datagram carries.
BENCHMARK(BM_GatewayIngressDrain)
    ->ArgNames({"payload", "live"})
    ->Args({16, 0})
    ->Args({1400, 0})
    ->UseRealTime();
BENCHMARK(BM_GatewayIngressDrainSigned)
    ->ArgNames({"payload", "live"})
    ->Args({16, 0})
    ->Args({1400, 0})
    ->UseRealTime();

// The gateway's own egress on one thread: UdpEgress::DoWork sends a stream
// log's DATA frames (32-byte payloads) to N destinations until it has no
// backlog, as one message per datagram (max_datagram_bytes = 88, the same
// datagrams as BM_EgressSendto's) and packed (the default 1472 bytes); with
// GSO (gso:1) or plain sendmmsg (gso:0). Receivers drain with the timer
// paused and check every datagram.
void BM_GatewayEgress(benchmark::State& state) {
  const auto destinations = static_cast<int>(state.range(0));
  const bool gso = state.range(1) != 0;
  const bool packed = state.range(2) != 0;
  config::GatewayConfig config;
  config.udp.enabled = true;
  config.udp.gso = gso;
  config.udp.send_batch = kBatch;
  config.udp.max_datagram_bytes =
      packed ? 1472 : static_cast<std::uint32_t>(kEgressDatagram);
  base::CounterRegistry metrics;
  stream::StreamRegistry registry(config, metrics);
  absl::StatusOr<stream::StreamLog*> log = registry.Open("bench.udp.out");
  udp::UdpCounters counters(metrics, 0);
  auto io = io::SocketDatagramIo::Create({.gso = gso});
  if (!log.ok() || !io.ok()) {
    state.SkipWithError("set-up failed");
    return;
  }
  udp::UdpEgress egress(config, **io, kSourceId, counters);
  std::vector<Fd> receivers;
  for (int d = 0; d < destinations; ++d) {
    receivers.push_back(BoundUdpSocket(8 << 20));
    if (receivers.back().get() < 0) {
      state.SkipWithError("receiver socket set-up failed");
      return;
    }
    const sockaddr_in a = AddressOf(receivers.back().get());
    egress.Add(*log, io::Endpoint{a.sin_addr.s_addr, ntohs(a.sin_port)},
               (*log)->next_sequence());
  }
  const std::vector<std::byte> payload(kEgressPayload, std::byte{0x5a});
  // Per iteration: what 8 MiB of receive buffer holds for one destination.
  const int messages = packed ? 4096 : 1024;
  ReceiveBatch drain;
  std::uint64_t received = 0, invalid = 0;
  const AllocationCounter allocs;
  for (auto _ : state) {
    state.PauseTiming();
    for (int m = 0; m < messages; ++m) (void)(*log)->Append(payload, 1);
    state.ResumeTiming();
    for (int pass = 0; pass < 100'000 && egress.HasBacklog(); ++pass) {
      egress.DoWork(1);
    }
    state.PauseTiming();
    for (const Fd& r : receivers) {
      for (int calls = 0; calls < 10'000; ++calls) {
        const int n = drain.Receive(r.get(), MSG_DONTWAIT);
        if (n <= 0) break;
        for (int i = 0; i < n; ++i) {
          const tp::DatagramResult d =
              tp::DecodeDatagram(drain.Datagram(i), tp::kDefaultMaxFrameLength);
          if (d.error != tp::ErrorCode::kNone) {
            ++invalid;
          } else {
            received += d.view.message_count();
          }
        }
      }
    }
    state.ResumeTiming();
  }
  allocs.Report(state);
  const udp::UdpStats s = counters.Snapshot();
  ReportTotals(state, s.messages_sent, received, s.messages_sent);
  state.counters["datagrams"] = static_cast<double>(s.datagrams_sent);
  state.counters["gso_sends"] = static_cast<double>(s.gso_sends);
  if (invalid != 0) state.SkipWithError("a receiver got an invalid datagram");
}
BENCHMARK(BM_GatewayEgress)
    ->ArgNames({"destinations", "gso", "packed"})
    ->ArgsProduct({{1, 8, 64}, {0, 1}, {0, 1}})
    ->UseRealTime();

// Forwards every report to the display reporter chosen by the flags and keeps
// each run's msgs_per_s, so that the batched/naive ratios can be printed
// after the run.
class RatioReporter : public benchmark::BenchmarkReporter {
 public:
  explicit RatioReporter(benchmark::BenchmarkReporter* display)
      : display_(display) {}
  bool ReportContext(const Context& context) override {
    return display_->ReportContext(context);
  }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
      const auto it = r.counters.find("msgs_per_s");
      if (it == r.counters.end()) continue;
      Rate* rate = Find(r.benchmark_name());
      if (rate == nullptr) {
        rates_.push_back({r.benchmark_name(), {}});
        rate = &rates_.back().second;
      }
      rate->sum += it->second.value;
      ++rate->runs;
    }
    display_->ReportRuns(runs);
  }
  void Finalize() override { display_->Finalize(); }

  // The summary: each batched run beside the naive run of the same
  // arguments.
  void PrintRatios(std::FILE* out) const {
    struct Pair {
      const char* batched;
      const char* naive;
      const char* what;
      double goal;
      // The naive run has only the batched run's first argument
      // (BM_GatewayEgress/destinations:8/gso:1/... vs
      // BM_EgressSendto/destinations:8).
      bool first_arg_only = false;
    };
    static constexpr Pair kPairs[] = {
        {"BM_IngressRecvmmsg", "BM_IngressRecvfrom",
         "ingress recvmmsg/recvfrom", 0},
        {"BM_GatewayIngressDrain", "BM_IngressRecvfrom",
         "gateway ingress/recvfrom", 0},
        {"BM_GatewayIngressDrainSigned", "BM_GatewayIngressDrain",
         "signed/plain ingress", 0},
        {"BM_EgressSendmmsg", "BM_EgressSendto", "egress sendmmsg/sendto", 3},
        {"BM_EgressGso", "BM_EgressSendto", "egress GSO/sendto", 0},
        {"BM_GatewayEgress", "BM_EgressSendto", "gateway egress/sendto", 3,
         true},
    };
    bool header = false;
    for (const Pair& p : kPairs) {
      const std::string prefix = std::string(p.batched) + "/";
      for (const auto& [name, rate] : rates_) {
        if (name.rfind(prefix, 0) != 0) continue;
        std::string args = name.substr(prefix.size());
        std::string naive_args = args;
        if (p.first_arg_only) {
          naive_args = args.substr(0, args.find('/')) + "/real_time";
        }
        const Rate* naive = Find(std::string(p.naive) + "/" + naive_args);
        if (naive == nullptr || naive->Mean() <= 0) continue;
        if (const std::size_t cut = args.rfind("/real_time");
            cut != std::string::npos) {
          args.erase(cut);
        }
        if (!header) {
          std::fprintf(out,
                       "\nBatched vs naive, same run (msgs/s; a loaded host "
                       "moves both, compare the ratios):\n");
          header = true;
        }
        const double ratio = rate.Mean() / naive->Mean();
        std::fprintf(out, "  %-24s %-31s %8.3f M/s vs %8.3f M/s  %5.2fx%s\n",
                     p.what, args.c_str(), rate.Mean() / 1e6,
                     naive->Mean() / 1e6, ratio,
                     p.goal <= 0       ? ""
                     : ratio >= p.goal ? "  (goal >= 3x: met)"
                                       : "  (goal >= 3x: not met)");
      }
    }
  }

 private:
  struct Rate {
    double sum = 0;
    int runs = 0;
    [[nodiscard]] double Mean() const { return runs ? sum / runs : 0; }
  };
  const Rate* Find(const std::string& name) const {
    for (const auto& [n, rate] : rates_) {
      if (n == name) return &rate;
    }
    return nullptr;
  }
  Rate* Find(const std::string& name) {
    return const_cast<Rate*>(std::as_const(*this).Find(name));
  }

  benchmark::BenchmarkReporter* display_;
  // In the order the runs were reported.
  std::vector<std::pair<std::string, Rate>> rates_;
};

}  // namespace
}  // namespace tachyon::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // The library owns the default display reporter (it follows
  // --benchmark_format).
  benchmark::BenchmarkReporter* display =
      benchmark::CreateDefaultDisplayReporter();
  tachyon::bench::RatioReporter reporter(display);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::fflush(stdout);
  // Beside a console table on stdout; after JSON or CSV, on stderr so that
  // the machine-readable output stays parseable.
  const bool console =
      dynamic_cast<benchmark::ConsoleReporter*>(display) != nullptr;
  reporter.PrintRatios(console ? stdout : stderr);
  benchmark::Shutdown();
  return 0;
}
