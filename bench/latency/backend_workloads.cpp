// W4: request/response through the gateway to a backend process.
#include "backend_workloads.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "delivery.h"
#include "tachyon/client/client.h"
#include "tachyon/service/server.h"
#include "workloads.h"

namespace tachyon::bench {
namespace {

using namespace std::chrono_literals;

Result Failed(Result r, std::string why) {
  r.ok = false;
  r.note = std::move(why);
  return r;
}

}  // namespace

std::unique_ptr<BenchBackend> BenchBackend::Start(std::string* error) {
  auto child = Child::Spawn([](Child::Channel& ch) {
    auto server = service::Server::Start(
        {.host = "127.0.0.1", .port = 0, .threads = 1},
        [](const service::Request& req, std::vector<std::byte>& reply) {
          reply.assign(req.payload.begin(), req.payload.end());
          return absl::OkStatus();
        });
    if (!server.ok()) {
      ch.Send("error " + std::string(server.status().message()));
      return 1;
    }
    ch.Send("ready " + std::to_string((*server)->port()));
    // Serves until told to stop (or the parent goes away: Receive fails).
    // Bounded: a benchmark run lasts minutes, not days.
    for (int i = 0; i < 24 * 60; ++i) {
      const std::optional<std::string> line = ch.Receive(60s);
      if (!line || *line == "stop") break;
    }
    (void)(*server)->Stop();  // best effort: the run is over
    return 0;
  });
  if (!child) {
    *error = "cannot fork the echo backend";
    return nullptr;
  }
  const std::optional<std::string> line = child->Receive(10s);
  if (!line || line->rfind("ready ", 0) != 0) {
    *error = "the echo backend did not start" +
             (line ? ": " + line->substr(line->find(' ') + 1) : std::string());
    return nullptr;
  }
  const int port = std::stoi(line->substr(6));
  return std::unique_ptr<BenchBackend>(
      new BenchBackend(std::move(child), static_cast<std::uint16_t>(port)));
}

BenchBackend::~BenchBackend() {
  child_->Send("stop");
  (void)child_->Wait(10s);  // ~Child kills and reaps it if it did not exit
}

Result RunRequestResponse(const WorkloadOptions& o) {
  Result r{.workload = "W4", .payload = o.payload};
  if (o.backend_pid <= 0) return Failed(r, "W4: no echo backend is running");
  const double backend_start = ProcessCpuSeconds(o.backend_pid);
  client::ClientOptions options;
  options.client_name = "bench-w4";
  options.heartbeat_interval = 1000ms;
  auto c = client::Client::Connect("127.0.0.1", o.port, options);
  if (!c.ok()) return Failed(r, std::string(c.status().message()));
  std::vector<std::byte> payload(std::max(o.payload, kStampBytes),
                                 std::byte{0x42});
  // The gateway dials its pool when it starts: until the first connection
  // is logged on a request may be answered UNAVAILABLE. Bounded wait.
  absl::Status warm = absl::UnavailableError("not tried");
  for (int i = 0; i < 500 && !warm.ok(); ++i) {
    auto a = (*c)->Request(kBenchServiceId, payload, 1000ms);
    warm = a.status();
    if (!warm.ok() && !absl::IsUnavailable(warm)) break;
    if (!warm.ok()) std::this_thread::sleep_for(10ms);
  }
  if (!warm.ok()) return Failed(r, "W4: " + std::string(warm.message()));
  const std::int64_t total = o.warmup + o.count;
  const std::int64_t start = MonotonicNs();
  for (std::int64_t i = 0; i < total; ++i) {
    const std::int64_t t0 = MonotonicNs();
    Stamp(payload.data(), static_cast<std::uint64_t>(i), t0);
    auto answer = (*c)->Request(kBenchServiceId, payload, 1000ms);
    const std::int64_t rtt = MonotonicNs() - t0;
    if (!answer.ok())
      return Failed(r, "W4: " + std::string(answer.status().message()));
    if (answer->size() != payload.size() ||
        std::memcmp(answer->data(), payload.data(), payload.size()) != 0) {
      return Failed(r, "W4: the answer is not the request echoed");
    }
    if (i >= o.warmup) r.latency.Record(rtt);
  }
  r.seconds = static_cast<double>(MonotonicNs() - start) * 1e-9;
  r.sent = r.received = static_cast<std::uint64_t>(total);
  r.messages = 2 * static_cast<std::uint64_t>(total);  // requests and answers
  (void)(*c)->Close();  // best effort: the run is over
  const double backend_end = ProcessCpuSeconds(o.backend_pid);
  if (backend_start >= 0 && backend_end >= 0) {
    r.helpers_cpu_s = backend_end - backend_start;
  }
  return r;
}

}  // namespace tachyon::bench
