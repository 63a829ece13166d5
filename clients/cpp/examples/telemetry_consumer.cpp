// telemetry_consumer — a telemetry sink on the blocking client.
//
// Subscribes to the pattern "telemetry.*" from the earliest message the
// gateway retains, so it sees what was published before it started as well
// as what arrives while it runs, for every stream that matches, including
// streams created later. Prints a count per stream once --count messages
// have arrived. Sequences the gateway no longer retains (or that the client
// sees skipped) are reported by the gap callback.
//
//   telemetry_consumer --port 7400 --count 1000 --timeout_ms 10000
//
// Exit 0 once --count messages arrived; 1 on an error or the timeout.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <string>

#include "example_flags.h"
#include "tachyon/client/client.h"

namespace {

namespace tc = ::tachyon::client;

constexpr char kUsage[] =
    "usage: telemetry_consumer [--host H] [--port P] [--count N]\n"
    "                          [--pattern telemetry.*] [--timeout_ms MS]\n"
    "Receives N messages from the streams matching the pattern.\n";

struct StreamCount {
  long messages = 0;
  std::uint64_t last_sequence = 0;
};

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "telemetry_consumer: %s\n",
               std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = tachyon::examples::ParseFlags(
      argc, argv, 100, {"pattern", "timeout_ms"}, kUsage);
  const std::string pattern = flags.Get("pattern", "telemetry.*");
  const auto timeout =
      std::chrono::milliseconds(std::stol(flags.Get("timeout_ms", "10000")));

  tc::ClientOptions options;
  options.client_name = "telemetry-consumer";
  options.token = flags.token;
  auto client = tc::Client::Connect(flags.host, flags.port, options);
  if (!client.ok()) return Fail(client.status());

  std::map<std::string, StreamCount> counts;  // by stream name, sorted
  long received = 0;
  long gaps = 0;
  auto sub = (*client)->Subscribe(
      pattern, tc::StartPosition::Earliest(),
      [&](const tc::Message& m) {
        StreamCount& c = counts[std::string(m.stream_name)];
        ++c.messages;
        c.last_sequence = m.sequence.value();
        ++received;
      },
      [&](const tc::Gap& g) {
        ++gaps;
        std::printf("gap on %.*s: sequences %" PRIu64 "..%" PRIu64 " (%" PRIu64
                    " messages) %s\n",
                    static_cast<int>(g.stream_name.size()),
                    g.stream_name.data(), g.from.value(), g.to.value(),
                    g.count(),
                    g.origin == tc::GapOrigin::kGateway
                        ? "no longer retained by the gateway"
                        : "skipped in the sequence");
      });
  if (!sub.ok()) return Fail(sub.status());

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (received < flags.count) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Fail(absl::DeadlineExceededError(
          "received " + std::to_string(received) + " of " +
          std::to_string(flags.count) + " messages before the timeout"));
    }
    auto n = (*client)->Poll(tc::Client::kDefaultPollLimit,
                             std::chrono::milliseconds(100));
    if (!n.ok()) return Fail(n.status());
  }
  for (const auto& [stream, c] : counts) {
    std::printf("%s: %ld messages (last sequence %" PRIu64 ")\n",
                stream.c_str(), c.messages, c.last_sequence);
  }
  std::printf("received %ld messages from %zu streams matching %s, %ld gaps\n",
              received, counts.size(), pattern.c_str(), gaps);
  return (*client)->Close().ok() ? 0 : 1;
}
