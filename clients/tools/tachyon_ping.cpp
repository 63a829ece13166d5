// tachyon-ping: round-trip latency through the gateway. Publishes a message
// on a ping stream (zero-copy, TryClaim/Commit), waits until the same
// message comes back as DATA on a subscription to that stream — on the same
// connection, or on a second one with --connections=2 — and repeats. Prints
// percentiles of the round trips after --warmup unmeasured ones.
//
// This is closed loop (one message in flight), so it measures the latency of
// an idle path; offered-load latency belongs to tachyon-bench.
//
// By default the receiver waits for each echo in the kernel (a blocking
// read), so a ping run does not take a core from the gateway it measures;
// --spin busy-polls instead, for the lowest figure on a dedicated core. The
// summary says what the run cost in CPU time (getrusage) and how often it
// slept (voluntary context switches).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tool_common.h"

ABSL_FLAG(int64_t, count, 10000, "Measured round trips.");
ABSL_FLAG(int64_t, warmup, 1000, "Unmeasured round trips first.");
ABSL_FLAG(int32_t, size, 32, "Payload bytes per ping (>= 8).");
ABSL_FLAG(std::string, stream, "",
          "Ping stream (default: tachyon.ping.<pid>, private to this run).");
ABSL_FLAG(int32_t, connections, 1,
          "1: publish and subscribe on one connection; 2: publish on one, "
          "receive on another.");
ABSL_FLAG(bool, spin, false,
          "Busy-poll for each echo (lowest latency, but it keeps a core "
          "busy for the whole run). Default: wait in the kernel.");

namespace {

namespace tc = ::tachyon::client;
namespace tt = ::tachyon::tools;

constexpr char kUsage[] =
    "Measures round-trip latency through a Tachyon gateway.\n\n"
    "  tachyon-ping --count=10000 [--connections=2] [--spin]\n";

constexpr auto kEchoTimeout = std::chrono::seconds(5);

double Percentile(const std::vector<std::int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(
      std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return static_cast<double>(
      sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1]);
}

}  // namespace

int main(int argc, char** argv) {
  tt::ParseCommandLine(argc, argv, "tachyon-ping", kUsage);
  const std::int64_t count = absl::GetFlag(FLAGS_count);
  const std::int64_t warmup = absl::GetFlag(FLAGS_warmup);
  const int size = absl::GetFlag(FLAGS_size);
  const int connections = absl::GetFlag(FLAGS_connections);
  const bool spin = absl::GetFlag(FLAGS_spin);
  if (count < 1) tt::Die("--count: must be at least 1", tt::kExitUsage);
  if (warmup < 0) tt::Die("--warmup: must not be negative", tt::kExitUsage);
  if (size < 8) tt::Die("--size: must be at least 8", tt::kExitUsage);
  if (connections != 1 && connections != 2) {
    tt::Die("--connections: must be 1 or 2", tt::kExitUsage);
  }
  std::string stream_name = absl::GetFlag(FLAGS_stream);
  if (stream_name.empty()) {
    stream_name = absl::StrCat("tachyon.ping.", ::getpid());
  }

  tt::InstallStopHandler();
  const tc::ClientOptions options =
      tt::OptionsFromFlags([](const absl::Status& s) { tt::Die(s); });
  auto publisher = tt::ConnectOrDie(options);
  std::unique_ptr<tc::Client> second;
  if (connections == 2) second = tt::ConnectOrDie(options);
  tc::Client* receiver = connections == 2 ? second.get() : publisher.get();

  std::int64_t echoed = -1;  // ping number of the last DATA seen
  auto sub = receiver->Subscribe(
      stream_name, tc::StartPosition::Latest(), [&](const tc::Message& m) {
        if (m.payload.size() >= sizeof echoed) {
          std::memcpy(&echoed, m.payload.data(), sizeof echoed);
        }
      });
  if (!sub.ok()) tt::Die(sub.status());
  auto stream = publisher->OpenStream(stream_name);
  if (!stream.ok()) tt::Die(stream.status());
  if (static_cast<std::size_t>(size) > publisher->max_payload_length()) {
    tt::Die(absl::StrCat("--size: exceeds the gateway's limit of ",
                         publisher->max_payload_length(), " bytes"),
            tt::kExitUsage);
  }

  rusage usage_before{};
  ::getrusage(RUSAGE_SELF, &usage_before);
  const std::int64_t wall_before_ns = tt::MonotonicNs();
  std::vector<std::int64_t> rtt_ns;
  rtt_ns.reserve(static_cast<std::size_t>(count));
  const std::int64_t total = warmup + count;
  for (std::int64_t i = 0; i < total && !tt::StopRequested(); ++i) {
    const std::int64_t t0 = tt::MonotonicNs();
    auto claim = publisher->TryClaim(*stream, static_cast<std::size_t>(size));
    if (!claim.ok()) tt::Die(claim.status());
    std::memcpy(claim->data(), &i, sizeof i);
    std::memset(claim->data() + sizeof i, 0, claim->size() - sizeof i);
    if (absl::Status s = publisher->Commit(); !s.ok()) tt::Die(s);
    while (echoed != i) {
      auto n = receiver->Poll(1, spin ? std::chrono::milliseconds(0)
                                      : std::chrono::milliseconds(100));
      if (!n.ok()) tt::Die(n.status());
      if (*n == 0 && tt::MonotonicNs() - t0 >
                         std::chrono::nanoseconds(kEchoTimeout).count()) {
        tt::Die(absl::StrCat("ping ", i, " did not come back within 5 s"));
      }
    }
    const std::int64_t t1 = tt::MonotonicNs();
    if (i >= warmup) rtt_ns.push_back(t1 - t0);
    // The publisher's connection needs its heartbeats too.
    if (connections == 2 && (i & 1023) == 0) {
      auto n = publisher->Poll(tc::Client::kDefaultPollLimit);
      if (!n.ok()) tt::Die(n.status());
    }
  }
  const std::int64_t wall_ns = tt::MonotonicNs() - wall_before_ns;
  rusage usage_after{};
  ::getrusage(RUSAGE_SELF, &usage_after);
  if (rtt_ns.empty()) tt::Die("interrupted before any measurement");
  std::vector<std::int64_t> sorted = rtt_ns;
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (std::int64_t v : sorted) sum += static_cast<double>(v);
  auto us = [](double ns) { return ns / 1e3; };
  std::printf(
      "tachyon-ping: %zu round trips via %s, stream %s (%d connection%s, "
      "%d-byte payload, %s wait)\n",
      sorted.size(), publisher->peer().c_str(), stream_name.c_str(),
      connections, connections == 1 ? "" : "s", size, spin ? "spin" : "block");
  std::printf(
      "  min %.1f us  p50 %.1f us  p90 %.1f us  p99 %.1f us  p99.9 %.1f us  "
      "max %.1f us  mean %.1f us\n",
      us(static_cast<double>(sorted.front())), us(Percentile(sorted, 50)),
      us(Percentile(sorted, 90)), us(Percentile(sorted, 99)),
      us(Percentile(sorted, 99.9)), us(static_cast<double>(sorted.back())),
      us(sum / static_cast<double>(sorted.size())));
  auto seconds = [](const timeval& a, const timeval& b) {
    return static_cast<double>(b.tv_sec - a.tv_sec) +
           static_cast<double>(b.tv_usec - a.tv_usec) / 1e6;
  };
  const double user = seconds(usage_before.ru_utime, usage_after.ru_utime);
  const double sys = seconds(usage_before.ru_stime, usage_after.ru_stime);
  // Warm-up included: CPU time of the whole ping loop.
  std::printf(
      "  cpu %.3f s (user %.3f s, sys %.3f s) in %.3f s wall (%.0f%% of a "
      "core), %ld voluntary context switches\n",
      user + sys, user, sys, static_cast<double>(wall_ns) / 1e9,
      wall_ns > 0 ? 100.0 * (user + sys) / (static_cast<double>(wall_ns) / 1e9)
                  : 0.0,
      usage_after.ru_nvcsw - usage_before.ru_nvcsw);
  std::fflush(stdout);
  (void)receiver->Close();
  if (second) (void)publisher->Close();
  return 0;
}
