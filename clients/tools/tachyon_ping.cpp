// tachyon-ping: round-trip latency through the gateway. Publishes a message
// on a ping stream (zero-copy, TryClaim/Commit), waits until the same
// message comes back as DATA on a subscription to that stream — on the same
// connection, or on a second one with --connections=2 — and repeats. Prints
// percentiles of the round trips after --warmup unmeasured ones.
//
// This is closed loop (one message in flight), so it measures the latency of
// an idle path; offered-load latency belongs to tachyon-bench.
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
ABSL_FLAG(std::string, wait, "spin",
          "How the receiver waits: spin (busy-poll, lowest latency, burns a "
          "core) or block (poll(2) in the kernel).");

namespace {

namespace tc = ::tachyon::client;
namespace tt = ::tachyon::tools;

constexpr char kUsage[] =
    "Measures round-trip latency through a Tachyon gateway.\n\n"
    "  tachyon-ping --count=10000 [--connections=2] [--wait=block]\n";

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
  const std::string wait = absl::GetFlag(FLAGS_wait);
  if (count < 1) tt::Die("--count: must be at least 1", tt::kExitUsage);
  if (warmup < 0) tt::Die("--warmup: must not be negative", tt::kExitUsage);
  if (size < 8) tt::Die("--size: must be at least 8", tt::kExitUsage);
  if (connections != 1 && connections != 2) {
    tt::Die("--connections: must be 1 or 2", tt::kExitUsage);
  }
  if (wait != "spin" && wait != "block") {
    tt::Die("--wait: expected spin or block", tt::kExitUsage);
  }
  const bool spin = wait == "spin";
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
      connections, connections == 1 ? "" : "s", size, wait.c_str());
  std::printf(
      "  min %.1f us  p50 %.1f us  p90 %.1f us  p99 %.1f us  p99.9 %.1f us  "
      "max %.1f us  mean %.1f us\n",
      us(static_cast<double>(sorted.front())), us(Percentile(sorted, 50)),
      us(Percentile(sorted, 90)), us(Percentile(sorted, 99)),
      us(Percentile(sorted, 99.9)), us(static_cast<double>(sorted.back())),
      us(sum / static_cast<double>(sorted.size())));
  std::fflush(stdout);
  (void)receiver->Close();
  if (second) (void)publisher->Close();
  return 0;
}
