// market_data_publisher — a market-data feed on the blocking client.
//
// Publishes --count generated top-of-book quotes, round-robin over
// --symbols, each to its own stream md.eq.<SYMBOL>. Every quote is written
// in place with the zero-copy path: TryClaim reserves a PUBLISH frame in the
// client's send buffer, the quote is encoded straight into it, Commit sends
// it. The gateway's verdicts (a refused publish) arrive asynchronously and
// are counted through on_error; Close() waits until the gateway has seen
// everything.
//
//   market_data_publisher --port 7400 --count 100000 --symbols AAPL,MSFT
//
// Output: one summary line; exit 0 when every quote was accepted.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "example_flags.h"
#include "tachyon/client/client.h"

namespace {

namespace tc = ::tachyon::client;

constexpr char kUsage[] =
    "usage: market_data_publisher [--host H] [--port P] [--count N]\n"
    "                             [--symbols AAPL,MSFT,...]\n"
    "Publishes N generated quotes to the streams md.eq.<SYMBOL>.\n";

// The wire layout of one quote: little-endian, fixed size, no padding
// holes — what a real feed handler would put on a stream.
struct Quote {
  char symbol[8];       // NUL-padded
  std::int64_t bid_e4;  // price * 10^4
  std::int64_t ask_e4;
  std::uint32_t bid_size;
  std::uint32_t ask_size;
  std::uint64_t quote_id;  // 1, 2, 3, ... across all symbols
};
static_assert(sizeof(Quote) == 40);

std::vector<std::string> Split(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = list.find(',', start);
    const std::string item = list.substr(
        start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "market_data_publisher: %s\n",
               std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags =
      tachyon::examples::ParseFlags(argc, argv, 1000, {"symbols"}, kUsage);
  const std::vector<std::string> symbols =
      Split(flags.Get("symbols", "AAPL,MSFT,GOOG,AMZN"));
  if (symbols.empty()) return Fail(absl::InvalidArgumentError("no symbols"));

  long refused = 0;
  tc::ClientOptions options;
  options.client_name = "market-data-publisher";
  options.token = flags.token;
  options.on_error = [&](const absl::Status& s) {
    ++refused;
    std::fprintf(stderr, "market_data_publisher: %s\n",
                 std::string(s.message()).c_str());
  };
  auto client = tc::Client::Connect(flags.host, flags.port, options);
  if (!client.ok()) return Fail(client.status());

  std::vector<tachyon::StreamId> streams;
  for (const std::string& symbol : symbols) {
    auto stream = (*client)->OpenStream("md.eq." + symbol);
    if (!stream.ok()) return Fail(stream.status());
    streams.push_back(*stream);
  }

  std::int64_t mid_e4 = 100'0000;  // 100.0000
  for (long i = 0; i < flags.count; ++i) {
    const std::size_t s = static_cast<std::size_t>(i) % symbols.size();
    mid_e4 += (i * 7919 % 11) - 5;  // a deterministic random walk
    Quote quote{};
    std::memcpy(quote.symbol, symbols[s].data(),
                std::min(symbols[s].size(), sizeof quote.symbol));
    quote.bid_e4 = mid_e4 - 50;
    quote.ask_e4 = mid_e4 + 50;
    quote.bid_size = 100 + static_cast<std::uint32_t>(i % 10) * 100;
    quote.ask_size = 200;
    quote.quote_id = static_cast<std::uint64_t>(i) + 1;

    // Zero copy: the quote is written straight into the PUBLISH frame.
    auto claim = (*client)->TryClaim(streams[s], sizeof(Quote));
    if (!claim.ok()) return Fail(claim.status());
    std::memcpy(claim->data(), &quote, sizeof quote);
    if (absl::Status c = (*client)->Commit(); !c.ok()) return Fail(c);

    // The duty cycle: heartbeats and the gateway's verdicts.
    if (i % 256 == 255) {
      if (auto n = (*client)->Poll(); !n.ok()) return Fail(n.status());
    }
  }
  // Close waits for the gateway's LOGOUT, which it sends after handling
  // every frame before ours: refusals, if any, have been reported by now.
  if (absl::Status c = (*client)->Close(); !c.ok()) return Fail(c);
  std::printf("published %ld quotes to %zu streams (md.eq.%s ... md.eq.%s)\n",
              flags.count, symbols.size(), symbols.front().c_str(),
              symbols.back().c_str());
  if (refused > 0) {
    std::fprintf(stderr, "market_data_publisher: %ld quotes refused\n",
                 refused);
    return 1;
  }
  return 0;
}
