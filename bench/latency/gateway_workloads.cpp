// W1-W3: the gateway measured through the client library, every role in its
// own process. Payloads carry a message index and a timestamp (CLOCK_MONOTONIC,
// shared by all processes on the host) in their first 16 bytes.
#include <sched.h>
#include <sys/mman.h>
#include <time.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "delivery.h"
#include "harness.h"
#include "tachyon/client/client.h"
#include "workloads.h"

namespace tachyon::bench {
namespace {

using namespace std::chrono_literals;
using client::Client;
using client::ClientOptions;
using client::Message;
using client::StartPosition;

std::size_t PayloadSize(const WorkloadOptions& o) {
  return std::max(o.payload, kStampBytes);
}

void Stamp(std::vector<std::byte>& p, std::uint64_t index, std::int64_t ns) {
  ::tachyon::bench::Stamp(p.data(), index, ns);
}

absl::StatusOr<std::unique_ptr<Client>> Connect(const WorkloadOptions& o,
                                                const char* name,
                                                std::size_t batch_bytes = 0) {
  ClientOptions options;
  options.client_name = name;
  options.heartbeat_interval = 1000ms;
  options.publish_batch_bytes = batch_bytes;
  if (!o.tls_ca.empty()) {
    options.tls.enabled = true;
    options.tls.ca_file = o.tls_ca;
  }
  return Client::Connect("127.0.0.1", o.port, options);
}

// One Poll in the configured idle strategy. A spinning role yields the CPU
// when it found nothing: with more spinning processes than cores (the
// gateway plus two or five clients on a 2-core box) pure spinning starves
// the process that holds the message; with spare cores sched_yield returns
// at once. The floors spin the same way.
absl::StatusOr<int> PollOnce(Client& c, const WorkloadOptions& o) {
  absl::StatusOr<int> n =
      c.Poll(Client::kDefaultPollLimit, o.spin ? 0ms : 50ms);
  if (o.spin && n.ok() && *n == 0) ::sched_yield();
  return n;
}

Result Failed(Result r, std::string why) {
  r.ok = false;
  r.note = std::move(why);
  return r;
}

}  // namespace

Result RunPingPong(const WorkloadOptions& o) {
  Result r{.workload = "W1", .payload = o.payload};
  const std::int64_t total = o.warmup + o.count;
  // B: republish every ping on pong. Forked before this process has any
  // client (no threads, no sockets to share).
  auto b = Child::Spawn([&](Child::Channel& ch) {
    auto c = Connect(o, "bench-w1-b");
    if (!c.ok()) return 1;
    auto pong = (*c)->OpenStream("bench.pong");
    if (!pong.ok()) return 2;
    std::int64_t echoed = 0;
    Client* cp = c->get();
    const StreamId pong_id = *pong;
    auto sub = (*c)->Subscribe("bench.ping", StartPosition::Latest(),
                               [&](const Message& m) {
                                 if (cp->Publish(pong_id, m.payload).ok()) {
                                   ++echoed;
                                 }
                               });
    if (!sub.ok()) return 3;
    ch.Send("ready");
    const std::int64_t deadline = MonotonicNs() + 120'000'000'000;
    while (echoed < total && MonotonicNs() < deadline) {
      if (!PollOnce(**c, o).ok()) return 4;
    }
    (void)(*c)->Close();  // best effort: the run is over
    return echoed == total ? 0 : 5;
  });
  if (!b || b->Receive(10s) != "ready")
    return Failed(r, "W1: echo process did not start");
  auto c = Connect(o, "bench-w1-a");
  if (!c.ok()) return Failed(r, std::string(c.status().message()));
  auto ping = (*c)->OpenStream("bench.ping");
  if (!ping.ok()) return Failed(r, std::string(ping.status().message()));
  bool got = false;
  std::int64_t t0 = 0;
  std::int64_t i = 0;
  auto sub = (*c)->Subscribe("bench.pong", StartPosition::Latest(),
                             [&](const Message&) {
                               const std::int64_t rtt = MonotonicNs() - t0;
                               if (i >= o.warmup) r.latency.Record(rtt);
                               got = true;
                             });
  if (!sub.ok()) return Failed(r, std::string(sub.status().message()));
  std::vector<std::byte> payload(PayloadSize(o), std::byte{0x42});
  const std::int64_t start = MonotonicNs();
  for (i = 0; i < total; ++i) {
    got = false;
    t0 = MonotonicNs();
    Stamp(payload, static_cast<std::uint64_t>(i), t0);
    if (absl::Status s = (*c)->Publish(*ping, payload); !s.ok()) {
      return Failed(r, std::string(s.message()));
    }
    const std::int64_t limit = t0 + 5'000'000'000;
    while (!got) {
      auto n = PollOnce(**c, o);
      if (!n.ok()) return Failed(r, std::string(n.status().message()));
      if (MonotonicNs() > limit) return Failed(r, "W1: a pong never came back");
    }
  }
  r.seconds = static_cast<double>(MonotonicNs() - start) * 1e-9;
  r.sent = r.received = static_cast<std::uint64_t>(total);
  r.messages = 2 * static_cast<std::uint64_t>(total);  // each ping and pong
  (void)(*c)->Close();  // best effort: the run is over
  if (b->Wait(10s).value_or(-1) != 0)
    return Failed(r, "W1: echo process failed");
  return r;
}

Result RunFanOut(const WorkloadOptions& o) {
  Result r{.workload = "W2", .payload = o.payload};
  r.rate = o.rate;
  // Rate 0: nothing is published; everyone stays connected and subscribed
  // for the duration, and only the CPU they and the gateway use counts.
  const bool idle = o.rate <= 0;
  const auto measured =
      idle ? 0 : static_cast<std::int64_t>(o.rate * o.duration_s);
  const std::int64_t total = idle ? 0 : o.warmup + measured;
  std::vector<std::unique_ptr<Child>> subs;
  for (int k = 0; k < o.subscribers; ++k) {
    subs.push_back(Child::Spawn([&, k](Child::Channel& ch) {
      auto c = Connect(o, "bench-w2-sub");
      if (!c.ok()) return 1;
      LatencyHistogram h;
      DeliveryLedger ledger(static_cast<std::uint64_t>(total));
      auto sub = (*c)->Subscribe(
          "bench.fanout", StartPosition::Latest(), [&](const Message& m) {
            const std::int64_t now = MonotonicNs();
            std::uint64_t index;
            std::int64_t scheduled;
            ReadStamp(m.payload, &index, &scheduled);
            ledger.Add(index);
            if (index >= static_cast<std::uint64_t>(o.warmup)) {
              h.Record(now - scheduled);
            }
          });
      if (!sub.ok()) return 2;
      ch.Send("ready");
      // Until everything arrived (with nothing to arrive: until told the
      // run is over), or the publisher said it is done and a grace period
      // passed (then the shortfall is reported as lost).
      std::int64_t done_at = 0;
      for (;;) {
        if (ledger.unique() >= static_cast<std::uint64_t>(total) &&
            (total > 0 || done_at != 0)) {
          break;
        }
        if (!PollOnce(**c, o).ok()) break;
        if (done_at == 0 && ch.Receive(0ms).has_value()) {
          done_at = MonotonicNs();
        }
        if (done_at != 0 && MonotonicNs() - done_at > 5'000'000'000) break;
      }
      ch.Send(ledger.Summary() + " " + h.Serialize());
      (void)(*c)->Close();  // best effort: the run is over
      (void)k;
      return 0;
    }));
    if (!subs.back() || subs.back()->Receive(10s) != "ready") {
      return Failed(r, "W2: subscriber process did not start");
    }
  }
  auto c = Connect(o, "bench-w2-pub");
  if (!c.ok()) return Failed(r, std::string(c.status().message()));
  auto stream = (*c)->OpenStream("bench.fanout");
  if (!stream.ok()) return Failed(r, std::string(stream.status().message()));
  std::vector<std::byte> payload(PayloadSize(o), std::byte{0x42});
  const double interval_ns = idle ? 0 : 1e9 / o.rate;
  const std::int64_t start = MonotonicNs() + 10'000'000;
  WaitUntilNs(start, o.spin);
  const double gateway_cpu_start = ProcessCpuSeconds(o.gateway_pid);
  for (std::int64_t i = 0; i < total; ++i) {
    const std::int64_t scheduled =
        start + static_cast<std::int64_t>(static_cast<double>(i) * interval_ns);
    WaitUntilNs(scheduled, o.spin);
    r.send_lag.Record(MonotonicNs() - scheduled);
    Stamp(payload, static_cast<std::uint64_t>(i), scheduled);
    if (absl::Status s = (*c)->Publish(*stream, payload); !s.ok()) {
      return Failed(r, std::string(s.message()));
    }
    if ((i & 1023) == 0) (void)(*c)->Poll(16, 0ms);  // heartbeats, acks
  }
  if (idle) {
    // The publisher idles like the subscribers: in Poll (heartbeats).
    const std::int64_t end =
        start + static_cast<std::int64_t>(o.duration_s * 1e9);
    for (std::int64_t now = MonotonicNs(); now < end; now = MonotonicNs()) {
      if (o.spin) {
        (void)PollOnce(**c, o);
        continue;
      }
      const std::int64_t left_ms = (end - now + 999'999) / 1'000'000;
      (void)(*c)->Poll(
          16, std::chrono::milliseconds(std::min<std::int64_t>(50, left_ms)));
    }
  }
  r.seconds = static_cast<double>(MonotonicNs() - start) * 1e-9;
  r.sent = static_cast<std::uint64_t>(total) *
           static_cast<std::uint64_t>(o.subscribers);
  r.messages = static_cast<std::uint64_t>(total);
  for (auto& s : subs) s->Send("done");
  std::vector<std::string> lines;
  for (auto& s : subs) {
    std::optional<std::string> line = s->Receive(60s);
    if (!line) return Failed(r, "W2: a subscriber never reported");
    lines.push_back(*line);
  }
  // The CPU window ends when every subscriber has everything (or gave up).
  const double gateway_cpu_end = ProcessCpuSeconds(o.gateway_pid);
  r.cpu_window_s = static_cast<double>(MonotonicNs() - start) * 1e-9;
  if (gateway_cpu_start >= 0 && gateway_cpu_end >= 0) {
    r.gateway_cpu_s = gateway_cpu_end - gateway_cpu_start;
  }
  for (std::size_t k = 0; k < subs.size(); ++k) {
    if (!AddSubscriberReport(lines[k], static_cast<std::uint64_t>(total), &r)) {
      return Failed(r, "W2: unreadable subscriber histogram");
    }
    subs[k]->Wait(10s);
  }
  (void)(*c)->Close();  // best effort: the run is over
  r.messages_per_second = static_cast<double>(total) / r.seconds;
  return r;
}

Result RunThroughput(const WorkloadOptions& o) {
  Result r{.workload = "W3", .payload = o.payload};
  // The subscriber's progress, shared with the publisher for flow control.
  auto* received = static_cast<std::atomic<std::uint64_t>*>(
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
             -1, 0));
  if (received == MAP_FAILED) return Failed(r, "W3: mmap failed");
  new (received) std::atomic<std::uint64_t>(0);
  const std::size_t size = PayloadSize(o);
  auto sub = Child::Spawn([&](Child::Channel& ch) {
    auto c = Connect(o, "bench-w3-sub");
    if (!c.ok()) return 1;
    std::uint64_t expected = 0, lost = 0, dup = 0, count = 0;
    auto s = (*c)->Subscribe(
        "bench.tput", StartPosition::Latest(), [&](const Message& m) {
          std::uint64_t index;
          std::int64_t ns;
          ReadStamp(m.payload, &index, &ns);
          if (index == expected) {
            ++expected;
          } else if (index > expected) {
            lost += index - expected;
            expected = index + 1;
          } else {
            ++dup;
          }
          ++count;
          if ((count & 255) == 0) {
            received->store(count, std::memory_order_release);
          }
        });
    if (!s.ok()) return 2;
    ch.Send("ready");
    std::uint64_t total = 0;
    for (;;) {
      if (!PollOnce(**c, o).ok()) break;
      received->store(count, std::memory_order_release);
      if (total == 0) {
        if (auto line = ch.Receive(0ms)) total = std::stoull(*line);
      }
      if (total != 0 && count >= total) break;
    }
    ch.Send(std::to_string(count) + " " + std::to_string(lost) + " " +
            std::to_string(dup));
    (void)(*c)->Close();  // best effort: the run is over
    return 0;
  });
  if (!sub || sub->Receive(10s) != "ready") {
    ::munmap(received, 4096);
    return Failed(r, "W3: subscriber process did not start");
  }
  // Throughput is about syscalls per message: coalesce publishes into
  // 64 KiB sends (latency workloads send each message at once).
  auto c = Connect(o, "bench-w3-pub", 64 * 1024);
  if (!c.ok()) return Failed(r, std::string(c.status().message()));
  auto stream = (*c)->OpenStream("bench.tput");
  if (!stream.ok()) return Failed(r, std::string(stream.status().message()));
  std::vector<std::byte> payload(size, std::byte{0x42});
  // As fast as the client allows: no pacing and no flow control of our own.
  // When the subscriber falls a window behind, the gateway holds the
  // publisher (stream policy backpressure, the default) and Publish blocks.
  const std::int64_t start = MonotonicNs();
  const std::int64_t stop =
      start + static_cast<std::int64_t>(o.duration_s * 1e9);
  std::uint64_t sent = 0;
  while (MonotonicNs() < stop) {
    for (int burst = 0; burst < 256; ++burst) {
      Stamp(payload, sent, 0);
      if (absl::Status s = (*c)->Publish(*stream, payload); !s.ok()) {
        return Failed(r, std::string(s.message()));
      }
      ++sent;
    }
  }
  if (absl::Status s = (*c)->Flush(); !s.ok()) {
    return Failed(r, std::string(s.message()));
  }
  sub->Send(std::to_string(sent));
  const std::int64_t wait_until = MonotonicNs() + 30'000'000'000;
  while (received->load(std::memory_order_acquire) < sent &&
         MonotonicNs() < wait_until) {
    (void)(*c)->Poll(16, 0ms);
  }
  const std::int64_t end = MonotonicNs();
  std::optional<std::string> line = sub->Receive(30s);
  ::munmap(received, 4096);
  if (!line) return Failed(r, "W3: subscriber never reported");
  std::istringstream in(*line);
  std::uint64_t count, lost, dup;
  in >> count >> lost >> dup;
  r.sent = sent;
  r.messages = sent;
  r.received = count - dup;
  r.lost = sent > r.received ? sent - r.received : 0;
  (void)lost;  // the subscriber's own gap count; the exact figure is above
  r.duplicated = dup;
  r.seconds = static_cast<double>(end - start) * 1e-9;
  r.messages_per_second = static_cast<double>(r.received) / r.seconds;
  r.megabytes_per_second =
      r.messages_per_second * static_cast<double>(size) / 1e6;
  (void)(*c)->Close();  // best effort: the run is over
  sub->Wait(10s);
  return r;
}

}  // namespace tachyon::bench
