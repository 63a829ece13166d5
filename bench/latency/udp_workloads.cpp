// The UDP workloads, every role in its own process:
//
//   floor-udp-in  a producer process sends PUBLISH datagrams to a plain UDP
//                 socket read with recvmmsg by another process: what the
//                 kernel alone delivers at the offered rate on this machine
//   W5            UDP ingress: the same producer sends to the gateway's UDP
//                 port; a TCP subscriber counts exactly what reached the log
//   W6            UDP egress fan-out: a TCP publisher at a fixed offered rate;
//                 K UDP receiver processes on the gateway's destination list
//
// Producers follow PROTOCOL.md 16.5: a random non-zero source_id, producer
// sequences from 1, one message per datagram. Payloads carry the same
// 16-byte stamp (index, scheduled send time) as the TCP workloads.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "delivery.h"
#include "harness.h"
#include "tachyon/client/client.h"
#include "tachyon/protocol/protocol.h"
#include "udp_batch.h"
#include "workloads.h"

namespace tachyon::bench {
namespace {

using namespace std::chrono_literals;
using client::Client;
using client::ClientOptions;
using client::Message;
using client::StartPosition;
namespace tp = ::tachyon::protocol;

constexpr int kBatch = ReceiveBatch::kBatch;        // sendmmsg / recvmmsg batch
constexpr std::size_t kSlot = ReceiveBatch::kSlot;  // bytes per datagram
constexpr int kSocketBuffer = 8 << 20;
// After the producer is done, receivers wait this long for stragglers; what
// has not arrived by then is lost.
constexpr std::int64_t kGraceNs = 2'000'000'000;

Result Failed(Result r, std::string why) {
  r.ok = false;
  r.note = std::move(why);
  return r;
}

void SetBuffer(int fd, int option, int force_option, int bytes) {
  // FORCE where the process may exceed net.core.[rw]mem_max.
  if (::setsockopt(fd, SOL_SOCKET, force_option, &bytes, sizeof bytes) != 0) {
    (void)::setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes);
  }
}

absl::StatusOr<std::unique_ptr<Client>> Connect(std::uint16_t port,
                                                const char* name) {
  ClientOptions options;
  options.client_name = name;
  options.heartbeat_interval = 1000ms;
  return Client::Connect("127.0.0.1", port, options);
}

// What a producer is asked to send.
struct ProducerPlan {
  std::uint16_t udp_port = 0;
  std::uint16_t tcp_port = 0;  // non-zero: open `stream` there for its id
  const char* stream = "";
  double rate = 0;          // messages/s; 0 = as fast as it can send
  std::uint64_t total = 0;  // messages (at rate 0: at most this many)
  double duration_s = 0;    // at rate 0: stop after this long
  std::size_t payload = kStampBytes;
  bool spin = false;
  // Producer `lane` of `lanes` sends message indices lane, lane + lanes, ...
  std::uint64_t lane = 0;
  std::uint64_t lanes = 1;
  // --fastpath: where the datagrams go and from which namespaces
  // (WorkloadOptions).
  std::string udp_host;
  std::string peer_netns;
  std::string client_netns;
};

// The producer process: says "ready" once it knows the stream id, starts on
// "go", reports "sent start_ns end_ns". Datagrams are stamped just before
// their sendmmsg; at a fixed rate each carries its *scheduled* time, so a
// producer that fell behind catches up in a burst whose lateness counts.
int ProduceUdp(const ProducerPlan& p, Child::Channel& ch) {
  std::unique_ptr<Client> tcp;
  StreamId stream{1};
  // The TCP client in the gateway's namespace, the UDP socket in the peer's.
  if (!EnterNetns(p.client_netns)) return 5;
  if (p.tcp_port != 0) {
    auto c = Connect(p.tcp_port, "bench-udp-producer");
    if (!c.ok()) return 1;
    tcp = *std::move(c);
    auto id = tcp->OpenStream(p.stream);
    if (!id.ok()) return 2;
    stream = *id;
  }
  if (!EnterNetns(p.peer_netns)) return 6;
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in to = Loopback(p.udp_port);
  if (!p.udp_host.empty())
    ::inet_pton(AF_INET, p.udp_host.c_str(), &to.sin_addr);
  if (fd < 0 ||
      ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    return 3;
  }
  SetBuffer(fd, SO_SNDBUF, SO_SNDBUFFORCE, kSocketBuffer);
  std::uint64_t source_id = 0;
  std::random_device random;
  while (source_id == 0) {
    source_id = (std::uint64_t{random()} << 32) ^ random();
  }
  const std::size_t size =
      tp::kDatagramHeaderLength +
      tp::PaddedLength(tp::PublishView::kFixedLength + p.payload);
  std::vector<std::byte> storage(kBatch * size);
  std::array<iovec, kBatch> iov{};
  std::array<mmsghdr, kBatch> msgs{};
  const std::vector<std::byte> body(p.payload, std::byte{0x42});
  for (int i = 0; i < kBatch; ++i) {
    const std::span<std::byte> d = std::span(storage).subspan(i * size, size);
    if (tp::EncodeDatagramHeader(d, tp::DatagramKind::kPublish, 1, stream,
                                 Sequence{1}, source_id) == 0 ||
        tp::EncodePublish(d.subspan(tp::kDatagramHeaderLength), stream, 0,
                          body) == 0) {
      return 4;
    }
    iov[i] = {d.data(), size};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  constexpr std::size_t kPayloadOffset =
      tp::kDatagramHeaderLength + tp::PublishView::kFixedLength;
  ch.Send("ready");
  if (ch.Receive(30s) != "go") return 5;
  const std::int64_t start = MonotonicNs();
  const std::int64_t stop =
      start +
      static_cast<std::int64_t>((p.rate > 0
                                     ? 2 * static_cast<double>(p.total) / p.rate
                                     : p.duration_s) *
                                1e9) +
      (p.rate > 0 ? 10'000'000'000 : 0);
  const double interval_ns = p.rate > 0 ? 1e9 / p.rate : 0;
  std::uint64_t sent = 0;
  std::int64_t now = start;
  while (sent < p.total && now < stop) {
    std::uint64_t due = p.total;
    if (p.rate > 0) {
      due = std::min<std::uint64_t>(
          p.total, static_cast<std::uint64_t>(static_cast<double>(now - start) /
                                              interval_ns) +
                       1);
    }
    if (due <= sent) {
      // Ahead of schedule: sleep most of the way, or yield.
      const auto next = start + static_cast<std::int64_t>(
                                    static_cast<double>(sent) * interval_ns);
      if (!p.spin && next - now > 100'000) {
        const timespec ts{0, next - now - 50'000};
        ::nanosleep(&ts, nullptr);
      } else {
        ::sched_yield();
      }
      now = MonotonicNs();
      continue;
    }
    const int n = static_cast<int>(std::min<std::uint64_t>(kBatch, due - sent));
    for (int i = 0; i < n; ++i) {
      std::byte* d = storage.data() + static_cast<std::size_t>(i) * size;
      const std::uint64_t nth = sent + static_cast<std::uint64_t>(i);
      tp::StoreU64(d + 8, nth + 1);  // producer sequence, from 1
      Stamp(d + kPayloadOffset, p.lane + nth * p.lanes,
            p.rate > 0 ? start + static_cast<std::int64_t>(
                                     static_cast<double>(nth) * interval_ns)
                       : now);
    }
    const int r = ::sendmmsg(fd, msgs.data(), static_cast<unsigned>(n), 0);
    if (r > 0) {
      sent += static_cast<std::uint64_t>(r);
    } else if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR) {
      return 6;
    }
    now = MonotonicNs();
  }
  ch.Send(std::to_string(sent) + " " + std::to_string(start) + " " +
          std::to_string(now));
  ::close(fd);
  if (tcp) (void)tcp->Close();  // best effort: the run is over
  return 0;
}

// A receiver's bookkeeping: the ledger, latency from the stamped time for
// indices from `warmup` (when `record`), and the first and last arrival.
class Tally {
 public:
  // `lanes`: senders (order is checked per sender); latency is recorded
  // for indices from `warmup`, or not at all.
  Tally(std::uint64_t capacity, std::uint64_t lanes, bool record,
        std::uint64_t warmup = 0)
      : ledger_(capacity, lanes), warmup_(warmup), record_(record) {}
  void Add(std::span<const std::byte> payload, std::int64_t now) {
    if (payload.size() < kStampBytes) {
      ++malformed_;
      return;
    }
    std::uint64_t index;
    std::int64_t stamped;
    ReadStamp(payload, &index, &stamped);
    ledger_.Add(index);
    if (record_ && index >= warmup_) latency_.Record(now - stamped);
    if (first_ == 0) first_ = now;
    last_ = now;
  }
  void Malformed() { ++malformed_; }
  [[nodiscard]] std::uint64_t unique() const { return ledger_.unique(); }
  /// "unique duplicated reordered malformed first_ns last_ns histogram".
  [[nodiscard]] std::string Report() const {
    return ledger_.Summary() + " " + std::to_string(malformed_) + " " +
           std::to_string(first_) + " " + std::to_string(last_) + " " +
           latency_.Serialize();
  }

 private:
  DeliveryLedger ledger_;
  LatencyHistogram latency_;
  std::uint64_t warmup_;
  bool record_;
  std::uint64_t malformed_ = 0;
  std::int64_t first_ = 0;
  std::int64_t last_ = 0;
};

// Receives until `expected` (from the parent's "done <sent>", or
// `known_total`) unique messages arrived, or kGraceNs after "done". `poll`
// receives once (bounded wait) into the tally; false on a fatal error.
template <typename PollFn>
void ReceiveUntilDone(Child::Channel& ch, const Tally& tally,
                      std::uint64_t known_total, PollFn poll) {
  std::uint64_t expected = known_total;
  std::int64_t done_at = 0;
  const std::int64_t hard_stop = MonotonicNs() + 600'000'000'000;
  while (MonotonicNs() < hard_stop) {
    if (done_at != 0 && tally.unique() >= expected) break;
    if (known_total != 0 && tally.unique() >= known_total) break;
    if (!poll()) break;
    if (done_at == 0) {
      if (auto line = ch.Receive(0ms)) {
        done_at = MonotonicNs();
        if (line->rfind("done ", 0) == 0)
          expected = std::stoull(line->substr(5));
      }
    } else if (MonotonicNs() - done_at > kGraceNs) {
      break;
    }
  }
}

// Parsed receiver report, merged into `r`.
bool MergeReceiver(Result& r, const std::string& line, std::uint64_t sent,
                   std::int64_t* first, std::int64_t* last) {
  std::istringstream in(line);
  std::uint64_t unique = 0, dup = 0, reorder = 0, malformed = 0;
  std::int64_t f = 0, l = 0;
  in >> unique >> dup >> reorder >> malformed >> f >> l;
  if (in.fail()) return false;
  std::string rest;
  std::getline(in, rest);
  LatencyHistogram h;
  if (!h.Parse(rest)) return false;
  r.latency.Merge(h);
  r.received += unique;
  r.lost += sent > unique ? sent - unique : 0;
  r.duplicated += dup;
  r.reordered += reorder;
  r.malformed += malformed;
  if (f != 0 && (*first == 0 || f < *first)) *first = f;
  *last = std::max(*last, l);
  return true;
}

// What the producers sent, together.
struct Produced {
  std::uint64_t sent = 0;
  std::int64_t start = 0;  // the earliest first send
  std::int64_t end = 0;    // the latest last send
};

// Runs `plan.lanes` producer processes of `plan`, started together, and
// sums their reports ("sent start_ns end_ns"). Empty on a failure, which
// `*error` names.
std::optional<Produced> Produce(ProducerPlan plan, std::string* error) {
  std::vector<std::unique_ptr<Child>> producers;
  for (std::uint64_t lane = 0; lane < plan.lanes; ++lane) {
    plan.lane = lane;
    producers.push_back(
        Child::Spawn([&](Child::Channel& ch) { return ProduceUdp(plan, ch); }));
    if (!producers.back() || producers.back()->Receive(10s) != "ready") {
      *error = "producer process did not start";
      return std::nullopt;
    }
  }
  for (auto& p : producers) p->Send("go");
  const auto budget = std::chrono::seconds(
      30 + static_cast<int>(
               plan.rate > 0 ? 2 * static_cast<double>(plan.total) / plan.rate
                             : plan.duration_s));
  Produced all;
  for (auto& p : producers) {
    const std::optional<std::string> line = p->Receive(budget);
    std::uint64_t sent = 0;
    std::int64_t start = 0, end = 0;
    std::istringstream in(line.value_or(""));
    in >> sent >> start >> end;
    if (!line || in.fail()) {
      *error = "a producer never reported";
      return std::nullopt;
    }
    all.sent += sent;
    all.start = all.start == 0 ? start : std::min(all.start, start);
    all.end = std::max(all.end, end);
    p->Wait(10s);
  }
  return all;
}

// Offered: what the producers sent per second of sending. Delivered: what
// arrived per second from the first send to the last arrival.
void SetRates(Result& r, const Produced& p, std::int64_t last_arrival) {
  r.sent = p.sent;
  r.seconds = static_cast<double>(p.end - p.start) * 1e-9;
  r.offered_per_second =
      r.seconds > 0 ? static_cast<double>(p.sent) / r.seconds : 0;
  const double span = static_cast<double>(last_arrival - p.start) * 1e-9;
  r.messages_per_second = span > 0 ? static_cast<double>(r.received) / span : 0;
}

// Each of o.udp_producers producers sends its share of the messages at its
// share of the rate; plan.total is one producer's count.
ProducerPlan PlanFor(const WorkloadOptions& o, bool max_rate) {
  ProducerPlan p;
  p.lanes = static_cast<std::uint64_t>(std::max(o.udp_producers, 1));
  p.rate = max_rate ? 0 : o.udp_rate / static_cast<double>(p.lanes);
  p.total = (max_rate ? static_cast<std::uint64_t>(o.udp_max_messages)
                      : static_cast<std::uint64_t>(o.udp_rate * o.duration_s)) /
            p.lanes;
  p.duration_s = o.duration_s;
  p.payload = std::max(o.udp_payload, kStampBytes);
  p.spin = o.spin;
  p.udp_host = o.udp_host;
  p.peer_netns = o.peer_netns;
  p.client_netns = o.client_netns;
  return p;
}

std::string RateName(const char* base, bool max_rate) {
  return max_rate ? std::string(base) + "-max" : std::string(base);
}

}  // namespace

Result RunUdpIngressFloor(const WorkloadOptions& o, bool max_rate) {
  ProducerPlan plan = PlanFor(o, max_rate);
  Result r{.workload = RateName("floor-udp-in", max_rate),
           .system = "floor",
           .payload = plan.payload};
  r.best_effort = max_rate;
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = Loopback(0);
  if (fd < 0 ||
      ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return Failed(r, std::string("bind: ") + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  SetBuffer(fd, SO_RCVBUF, SO_RCVBUFFORCE, kSocketBuffer);
  const timeval tv{.tv_sec = 0, .tv_usec = 50'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  plan.udp_port = ntohs(addr.sin_port);
  auto receiver = Child::Spawn([&](Child::Channel& ch) {
    Tally tally(plan.total * plan.lanes, plan.lanes, !max_rate);
    ReceiveBatch batch;
    ch.Send("ready");
    ReceiveUntilDone(ch, tally, max_rate ? 0 : plan.total * plan.lanes, [&] {
      const int n = std::max(0, batch.Receive(fd, MSG_WAITFORONE));
      const std::int64_t now = MonotonicNs();
      for (int i = 0; i < n; ++i) {
        const tp::DatagramResult d =
            tp::DecodeDatagram(batch.Datagram(i), tp::kDefaultMaxFrameLength);
        if (d.error != tp::ErrorCode::kNone) {
          tally.Malformed();
          continue;
        }
        for (tp::FrameView f : d) tally.Add(tp::PublishView(f).payload(), now);
      }
      return true;
    });
    ch.Send(tally.Report());
    return 0;
  });
  ::close(fd);
  if (!receiver || receiver->Receive(10s) != "ready") {
    return Failed(r, "receiver process did not start");
  }
  std::string error;
  const std::optional<Produced> sent = Produce(plan, &error);
  if (!sent) return Failed(r, error);
  receiver->Send("done " + std::to_string(sent->sent));
  const std::optional<std::string> line = receiver->Receive(30s);
  std::int64_t first = 0, last = 0;
  if (!line || !MergeReceiver(r, *line, sent->sent, &first, &last)) {
    return Failed(r, "receiver never reported");
  }
  receiver->Wait(10s);
  SetRates(r, *sent, last);
  r.target_per_second = max_rate ? 0 : o.udp_rate;
  return r;
}

Result RunUdpIngress(const WorkloadOptions& o, bool max_rate) {
  ProducerPlan plan = PlanFor(o, max_rate);
  Result r{.workload = RateName("W5", max_rate), .payload = plan.payload};
  r.best_effort = max_rate;
  if (o.udp_port == 0) {
    r.available = false;
    r.note = "the gateway under test has no UDP ingress port";
    return r;
  }
  plan.udp_port = o.udp_port;
  plan.tcp_port = o.port;
  plan.stream = "bench.udp-in";
  // The TCP subscriber counts what reached the log. Forked before this
  // process has any client.
  auto sub = Child::Spawn([&](Child::Channel& ch) {
    if (!EnterNetns(o.client_netns)) return 4;
    auto c = Connect(o.port, "bench-w5-sub");
    if (!c.ok()) return 1;
    Tally tally(plan.total * plan.lanes, plan.lanes, !max_rate);
    auto s = (*c)->Subscribe(
        plan.stream, StartPosition::Latest(),
        [&](const Message& m) { tally.Add(m.payload, MonotonicNs()); });
    if (!s.ok()) return 2;
    ch.Send("ready");
    bool failed = false;
    ReceiveUntilDone(ch, tally, max_rate ? 0 : plan.total * plan.lanes, [&] {
      failed = !(*c)->Poll(Client::kDefaultPollLimit, 50ms).ok();
      return !failed;
    });
    ch.Send(tally.Report());
    (void)(*c)->Close();  // best effort: the run is over
    return failed ? 3 : 0;
  });
  if (!sub || sub->Receive(10s) != "ready") {
    return Failed(r, "W5: subscriber process did not start");
  }
  std::string error;
  const std::optional<Produced> sent = Produce(plan, &error);
  if (!sent) return Failed(r, "W5: " + error);
  sub->Send("done " + std::to_string(sent->sent));
  const std::optional<std::string> line = sub->Receive(60s);
  std::int64_t first = 0, last = 0;
  if (!line || !MergeReceiver(r, *line, sent->sent, &first, &last)) {
    return Failed(r, "W5: subscriber never reported");
  }
  sub->Wait(10s);
  SetRates(r, *sent, last);
  r.target_per_second = max_rate ? 0 : o.udp_rate;
  return r;
}

Result RunUdpFanOut(const WorkloadOptions& o, bool max_rate) {
  Result r{.workload = RateName("W6", max_rate),
           .payload = std::max(o.payload, kStampBytes)};
  if (o.udp_receivers.empty()) {
    r.available = false;
    r.note = "the gateway under test has no UDP destinations";
    return r;
  }
  const auto measured = max_rate && o.udp_max_messages > 0
                            ? o.udp_max_messages
                            : static_cast<std::int64_t>(o.rate * o.duration_s);
  const std::int64_t total = o.warmup + measured;
  std::vector<std::unique_ptr<Child>> receivers;
  for (const int fd : o.udp_receivers) {
    receivers.push_back(Child::Spawn([&, fd](Child::Channel& ch) {
      SetBuffer(fd, SO_RCVBUF, SO_RCVBUFFORCE, kSocketBuffer);
      const timeval tv{.tv_sec = 0, .tv_usec = 50'000};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      Tally tally(static_cast<std::uint64_t>(total), 1, true,
                  static_cast<std::uint64_t>(o.warmup));
      ReceiveBatch batch;
      // The sockets outlive one run (the gateway's destinations are fixed at
      // its start): a previous run's heartbeats and stragglers go first.
      for (int calls = 0; calls < 100'000; ++calls) {
        char sink[kSlot];
        if (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) < 0) break;
      }
      ch.Send("ready");
      ReceiveUntilDone(ch, tally, static_cast<std::uint64_t>(total), [&] {
        const int n = std::max(0, batch.Receive(fd, MSG_WAITFORONE));
        const std::int64_t now = MonotonicNs();
        for (int i = 0; i < n; ++i) {
          const tp::DatagramResult d =
              tp::DecodeDatagram(batch.Datagram(i), tp::kDefaultMaxFrameLength);
          if (d.error != tp::ErrorCode::kNone) {
            tally.Malformed();
            continue;
          }
          if (d.view.kind() != tp::DatagramKind::kData) continue;  // heartbeat
          for (tp::FrameView f : d) tally.Add(tp::DataView(f).payload(), now);
        }
        return true;
      });
      ch.Send(tally.Report());
      return 0;
    }));
    if (!receivers.back() || receivers.back()->Receive(10s) != "ready") {
      return Failed(r, "W6: receiver process did not start");
    }
  }
  absl::StatusOr<std::unique_ptr<Client>> c = [&] {
    NetnsScope in(o.client_netns);  // the socket stays in the gateway's
    return Connect(o.port, "bench-w6-pub");
  }();
  if (!c.ok()) return Failed(r, std::string(c.status().message()));
  auto stream = (*c)->OpenStream(kUdpFanOutStream);
  if (!stream.ok()) return Failed(r, std::string(stream.status().message()));
  std::vector<std::byte> payload(r.payload, std::byte{0x42});
  const double interval_ns = max_rate ? 0 : 1e9 / o.rate;
  const std::int64_t start = MonotonicNs() + (max_rate ? 0 : 10'000'000);
  for (std::int64_t i = 0; i < total; ++i) {
    const std::int64_t scheduled =
        max_rate ? MonotonicNs()
                 : start + static_cast<std::int64_t>(static_cast<double>(i) *
                                                     interval_ns);
    if (!max_rate) WaitUntilNs(scheduled, o.spin);
    Stamp(payload.data(), static_cast<std::uint64_t>(i), scheduled);
    if (absl::Status s = (*c)->Publish(*stream, payload); !s.ok()) {
      return Failed(r, std::string(s.message()));
    }
    if ((i & 1023) == 0) (void)(*c)->Poll(16, 0ms);  // heartbeats, acks
  }
  const std::int64_t end = MonotonicNs();
  for (auto& rx : receivers) rx->Send("done " + std::to_string(total));
  std::int64_t first = 0, last = 0;
  for (auto& rx : receivers) {
    const std::optional<std::string> line = rx->Receive(60s);
    if (!line || !MergeReceiver(r, *line, static_cast<std::uint64_t>(total),
                                &first, &last)) {
      return Failed(r, "W6: a receiver never reported");
    }
    rx->Wait(10s);
  }
  (void)(*c)->Close();  // best effort: the run is over
  // Counts are per delivery (K receivers each get every message); the rates
  // are per stream, as W2's.
  r.sent = static_cast<std::uint64_t>(total) * receivers.size();
  r.seconds = static_cast<double>(end - start) * 1e-9;
  r.offered_per_second = static_cast<double>(total) / r.seconds;
  r.target_per_second = max_rate ? 0 : o.rate;
  r.messages_per_second =
      r.seconds > 0 ? static_cast<double>(total) / r.seconds : 0;
  if (max_rate) {
    // Unthrottled: what arrived per second (per stream), from the first
    // publish to the last arrival.
    const double span = static_cast<double>(last - start) * 1e-9;
    r.messages_per_second =
        span > 0 ? static_cast<double>(r.received) /
                       static_cast<double>(receivers.size()) / span
                 : 0;
  }
  return r;
}

}  // namespace tachyon::bench
