// W4: request/response through the gateway to a backend process.
#include "backend_workloads.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "asio/co_spawn.hpp"
#include "asio/detached.hpp"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "asio/use_awaitable.hpp"
#include "base/clock.h"
#include "delivery.h"
#include "tachyon/client/async_client.h"
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

std::vector<LoadStepMode> LoadStepModes() {
  const BackendPoolSettings reactive{.pool_min = 0,
                                     .prediction_ratio = 1.0,
                                     .prediction_per_session = 0,
                                     .prediction_horizon_ms = 0,
                                     .prediction_half_life_ms = 1};
  BackendPoolSettings fixed = reactive;
  fixed.pool_min = 8;
  const BackendPoolSettings predictive{};  // the shipped prediction
  BackendPoolSettings trend = predictive;
  trend.prediction_per_session = 0;
  return {{"on-demand", reactive, false},
          {"fixed-min", fixed, false},
          {"trend-only", trend, false},
          {"trend+warm_at", trend, true},
          {"predictive", predictive, false}};
}

void PlaceWarmUp(std::int64_t step_realtime_ns, BackendPoolSettings* pool) {
  constexpr std::int64_t kMinute = 60'000'000'000;
  const std::int64_t open = step_realtime_ns - 1'000'000'000;
  // The first whole minute at or after the window's opening: warm_at, with
  // the lead reaching back to the opening.
  const std::int64_t minute = (open + kMinute - 1) / kMinute * kMinute;
  const std::time_t t = static_cast<std::time_t>(minute / 1'000'000'000);
  std::tm utc{};
  ::gmtime_r(&t, &utc);
  char hhmm[8];
  std::snprintf(hhmm, sizeof hhmm, "%02d:%02d", utc.tm_hour, utc.tm_min);
  pool->warm_at = hhmm;
  pool->warm_connections = kLoadStepRequesters;
  pool->warm_lead_ms = static_cast<int>((minute - open) / 1'000'000);
  pool->warm_hold_ms = 120'000;
}

bool RunLoadStep(const WorkloadOptions& o, const LoadStepPlan& plan,
                 Result* step, Result* steady, std::string* error) {
  asio::io_context io;
  client::AsyncClientOptions options;
  options.client_name = "bench-w7";
  options.heartbeat_interval = 1000ms;
  std::vector<std::unique_ptr<client::AsyncClient>> clients;
  int connected = 0;
  absl::Status failure;
  for (int i = 0; i < kLoadStepRequesters; ++i) {
    clients.push_back(std::make_unique<client::AsyncClient>(io, options));
    clients.back()->AsyncConnect("127.0.0.1", o.port, [&](absl::Status s) {
      if (s.ok()) {
        ++connected;
      } else if (failure.ok()) {
        failure = s;
      }
    });
  }
  for (int i = 0; i < 1000 && connected < kLoadStepRequesters && failure.ok();
       ++i) {
    io.run_for(10ms);
  }
  if (connected < kLoadStepRequesters) {
    *error = "W7: " + (failure.ok() ? std::string("connect timed out")
                                    : std::string(failure.message()));
    return false;
  }
  // Each requester resolves the service by name once connected, as the
  // tools and a client addressing a service by name do; the pools of a
  // mode with prediction_per_session > 0 count them as interested.
  std::uint32_t service_id = 0;
  int resolved = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (auto& c : clients) {
          absl::StatusOr<std::uint32_t> id = co_await c->AsyncLookupService(
              kBenchServiceName, asio::use_awaitable);
          if (!id.ok()) {
            failure = id.status();
            co_return;
          }
          service_id = *id;
          ++resolved;
        }
      },
      asio::detached);
  for (int i = 0; i < 1000 && resolved < kLoadStepRequesters && failure.ok();
       ++i) {
    io.run_for(10ms);
  }
  if (resolved < kLoadStepRequesters || service_id != kBenchServiceId) {
    *error = "W7: " + (failure.ok() ? std::string("service lookup failed")
                                    : std::string(failure.message()));
    return false;
  }
  // The clocks: the step is placed on the wall clock (warm_at), measured
  // on the monotonic one.
  const std::int64_t step_ns =
      MonotonicNs() + (plan.step_realtime_ns - base::RealtimeNs());
  const std::int64_t steady_from =
      step_ns + static_cast<std::int64_t>(plan.settle_s * 1e9);
  const std::int64_t end =
      steady_from + static_cast<std::int64_t>(plan.steady_s * 1e9);
  std::vector<std::byte> payload(std::max(o.payload, kStampBytes),
                                 std::byte{0x42});
  std::int64_t after_step = 0;  // requests issued at or after the step
  std::int64_t completed = 0;
  int running = 0;
  // A requester issues its next request when the last one is answered
  // (closed loop), until `end`. The first requester warms up first: the
  // pool may still be dialling (UNAVAILABLE), bounded retries.
  std::function<void(int)> issue = [&](int k) {
    const std::int64_t t0 = MonotonicNs();
    if (t0 >= end || !failure.ok()) {
      --running;
      return;
    }
    const bool first_after_step = t0 >= step_ns && after_step++ < plan.first;
    Stamp(payload.data(), static_cast<std::uint64_t>(completed), t0);
    clients[static_cast<std::size_t>(k)]->AsyncRequest(
        service_id, payload, 5000ms,
        [&, k, t0,
         first_after_step](absl::StatusOr<std::vector<std::byte>> answer) {
          const std::int64_t rtt = MonotonicNs() - t0;
          if (!answer.ok()) {
            if (failure.ok()) failure = answer.status();
            --running;
            return;
          }
          ++completed;
          if (first_after_step) step->latency.Record(rtt);
          if (t0 >= steady_from && t0 < end) steady->latency.Record(rtt);
          issue(k);
        });
  };
  // Warm-up: one request answered OK (the pool of on-demand mode dials it).
  {
    absl::Status warm = absl::UnavailableError("not tried");
    for (int attempt = 0; attempt < 500 && !warm.ok(); ++attempt) {
      bool done = false;
      clients[0]->AsyncRequest(service_id, payload, 1000ms,
                               [&](absl::StatusOr<std::vector<std::byte>> a) {
                                 warm = a.status();
                                 done = true;
                               });
      for (int i = 0; i < 300 && !done; ++i) io.run_for(10ms);
      if (!done) break;
      if (!warm.ok() && !absl::IsUnavailable(warm)) break;
      if (!warm.ok()) io.run_for(10ms);
    }
    if (!warm.ok()) {
      *error = "W7: " + std::string(warm.message());
      return false;
    }
  }
  if (MonotonicNs() >= step_ns) {
    *error = "W7: the warm-up ran past the planned step";
    return false;
  }
  const std::int64_t start = MonotonicNs();
  running = 1;
  issue(0);
  asio::steady_timer at_step(io);
  at_step.expires_after(std::chrono::nanoseconds(step_ns - MonotonicNs()));
  at_step.async_wait([&](std::error_code ec) {
    if (ec) return;
    for (int k = 1; k < kLoadStepRequesters; ++k) {
      ++running;
      issue(k);
    }
  });
  const std::int64_t limit = end + 10'000'000'000;  // answers in flight
  while (running > 0 && MonotonicNs() < limit) io.run_for(50ms);
  at_step.cancel();
  for (auto& c : clients) c->AsyncClose([](absl::Status) {});
  io.run_for(500ms);
  clients.clear();
  io.run_for(100ms);
  if (!failure.ok()) {
    *error = "W7: " + std::string(failure.message());
    return false;
  }
  if (running > 0) {
    *error = "W7: requests still unanswered 10 s after the end";
    return false;
  }
  step->seconds = steady->seconds =
      static_cast<double>(MonotonicNs() - start) * 1e-9;
  step->sent = step->received = static_cast<std::uint64_t>(completed);
  step->messages = 2 * static_cast<std::uint64_t>(completed);
  return true;
}

}  // namespace tachyon::bench
