// quote_service — a backend service that answers the price of a symbol
// from a small table, with a synchronous handler on tachyon::service.
//
// A request's payload is a symbol ("AAPL"); the answer is
// "AAPL bid 189.50 ask 189.52". An unknown symbol is answered with an error
// (the caller sees BACKEND_ERROR with the text "unknown symbol XYZ").
//
//   quote_service --port 7501 [--threads 2] [--count N]
//
// Listens on --host:--port (0: a free port) and prints
// "quote_service: listening on HOST:PORT". Runs until Ctrl-C / SIGTERM, or
// until it has answered --count requests. A gateway routes to it with
//   [[backends]]
//   name = "quotes"
//   id = 12
//   endpoints = ["127.0.0.1:7501"]
// and a client calls it with Client::Request(12, "AAPL") (or
// `tachyon-req --service=12 AAPL`).
//
// Exit 0 after a clean stop; 1 if it cannot listen; 2 for a bad flag.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include "example_flags.h"
#include "tachyon/service/server.h"

namespace {

namespace ts = ::tachyon::service;

constexpr char kUsage[] =
    "usage: quote_service [--host H] [--port P] [--threads T] [--count N]\n"
    "Answers the bid and ask of a symbol (AAPL, MSFT, NVDA, TSLA).\n";

struct Quote {
  std::string_view symbol;
  std::string_view bid;
  std::string_view ask;
};
// Sorted by symbol; a real service would read a market data feed.
constexpr Quote kQuotes[] = {{"AAPL", "189.50", "189.52"},
                             {"MSFT", "402.10", "402.14"},
                             {"NVDA", "881.05", "881.20"},
                             {"TSLA", "171.33", "171.40"}};

std::atomic<bool> stop{false};
void OnSignal(int) { stop.store(true); }

void Append(std::vector<std::byte>& out, std::string_view text) {
  const auto* p = reinterpret_cast<const std::byte*>(text.data());
  out.insert(out.end(), p, p + text.size());
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags =
      tachyon::examples::ParseFlags(argc, argv, 0, {"threads"}, kUsage);
  std::atomic<long> answered{0};
  // Runs on the worker threads; it only reads the constant table. The
  // answer goes into `reply`, a reused buffer: no allocation per request.
  auto handler = [&](const ts::Request& req,
                     std::vector<std::byte>& reply) -> absl::Status {
    const std::string_view symbol(
        reinterpret_cast<const char*>(req.payload.data()), req.payload.size());
    answered.fetch_add(1);
    for (const Quote& q : kQuotes) {
      if (q.symbol == symbol) {
        Append(reply, q.symbol);
        Append(reply, " bid ");
        Append(reply, q.bid);
        Append(reply, " ask ");
        Append(reply, q.ask);
        return absl::OkStatus();
      }
    }
    return absl::NotFoundError("unknown symbol " + std::string(symbol));
  };

  ts::ServerOptions options;
  options.host = flags.host;
  options.port = flags.port;
  const std::string threads = flags.Get("threads", "1");
  char* end = nullptr;
  options.threads = static_cast<int>(std::strtol(threads.c_str(), &end, 10));
  if (*end != '\0' || options.threads < 1 || options.threads > 64) {
    std::fprintf(stderr, "quote_service: bad --threads %s\n%s", threads.c_str(),
                 kUsage);
    return 2;
  }
  auto server = ts::Server::Start(options, handler);
  if (!server.ok()) {
    std::fprintf(stderr, "quote_service: %s\n",
                 std::string(server.status().message()).c_str());
    return 1;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::printf("quote_service: listening on %s:%u\n", flags.host.c_str(),
              (*server)->port());
  std::fflush(stdout);
  while (!stop.load() && (flags.count == 0 || answered.load() < flags.count)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  (void)(*server)->Stop();  // answers what is in flight, then LOGOUT
  std::printf("quote_service: answered %ld requests\n", answered.load());
  return 0;
}
