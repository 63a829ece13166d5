// risk_check_service — a backend service that checks an order's notional
// against a limit, with an asynchronous handler on tachyon::service.
//
// A request's payload is an order, "SYMBOL QUANTITY PRICE"
// ("AAPL 100 189.50"). The handler hands it, with its Responder, to a risk
// engine thread, which answers later from that thread:
//   "ACCEPT AAPL notional 18950.00"
//   "REJECT AAPL notional 2000000.00 exceeds limit 1000000.00"
// A malformed order is answered with an error (BACKEND_ERROR for the
// caller). The worker threads only queue: a slow check never holds up the
// gateway connections.
//
//   risk_check_service --port 7502 [--limit 1000000] [--count N]
//
// Listens on --host:--port (0: a free port) and prints
// "risk_check_service: listening on HOST:PORT". Runs until Ctrl-C /
// SIGTERM, or until it has answered --count orders. A gateway routes to it
// with a [[backends]] entry (name = "risk", id = 13,
// endpoints = ["127.0.0.1:7502"]); a client calls it with
// Client::Request(13, "AAPL 100 189.50").
//
// Exit 0 after a clean stop; 1 if it cannot listen; 2 for a bad flag.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "example_flags.h"
#include "tachyon/service/server.h"

namespace {

namespace ts = ::tachyon::service;

constexpr char kUsage[] =
    "usage: risk_check_service [--host H] [--port P] [--limit L] [--count "
    "N]\n"
    "Accepts an order \"SYMBOL QUANTITY PRICE\" whose notional is within the "
    "limit.\n";

std::atomic<bool> stop{false};
void OnSignal(int) { stop.store(true); }

// The risk engine: one thread that checks queued orders and answers them.
class RiskEngine {
 public:
  explicit RiskEngine(double limit) : limit_(limit) {
    thread_ = std::thread([this] { Run(); });
  }
  ~RiskEngine() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();  // orders still queued are answered before it exits
  }

  // Called on a server worker thread: copies the order (the payload is only
  // valid during the handler call) and queues it with its Responder.
  void Submit(const ts::Request& req, ts::Responder responder) {
    std::string order(reinterpret_cast<const char*>(req.payload.data()),
                      req.payload.size());
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.emplace_back(std::move(order), std::move(responder));
    }
    cv_.notify_one();
  }

  long answered() const { return answered_.load(); }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return done_ || !queue_.empty(); });
      if (queue_.empty()) return;
      auto [order, responder] = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      Check(order, responder);
      answered_.fetch_add(1);
      lock.lock();
    }
  }

  void Check(const std::string& order, ts::Responder& responder) const {
    std::istringstream in(order);
    std::string symbol;
    long quantity = 0;
    double price = 0;
    std::string rest;
    if (!(in >> symbol >> quantity >> price) || (in >> rest) || quantity <= 0 ||
        price <= 0) {
      responder.Fail("bad order \"" + order +
                     "\": expected SYMBOL QUANTITY PRICE");
      return;
    }
    const double notional = static_cast<double>(quantity) * price;
    char text[160];
    if (notional <= limit_) {
      std::snprintf(text, sizeof text, "ACCEPT %s notional %.2f",
                    symbol.c_str(), notional);
    } else {
      std::snprintf(text, sizeof text,
                    "REJECT %s notional %.2f exceeds limit %.2f",
                    symbol.c_str(), notional, limit_);
    }
    responder.Reply(std::string_view(text));
  }

  const double limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, ts::Responder>> queue_;
  bool done_ = false;
  std::atomic<long> answered_{0};
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  const auto flags =
      tachyon::examples::ParseFlags(argc, argv, 0, {"limit"}, kUsage);
  char* end = nullptr;
  const std::string limit_text = flags.Get("limit", "1000000");
  const double limit = std::strtod(limit_text.c_str(), &end);
  if (*end != '\0' || limit <= 0) {
    std::fprintf(stderr, "risk_check_service: bad --limit %s\n%s",
                 limit_text.c_str(), kUsage);
    return 2;
  }
  RiskEngine engine(limit);

  ts::ServerOptions options;
  options.host = flags.host;
  options.port = flags.port;
  auto server = ts::Server::StartAsync(
      options, [&](const ts::Request& req, ts::Responder responder) {
        engine.Submit(req, std::move(responder));
      });
  if (!server.ok()) {
    std::fprintf(stderr, "risk_check_service: %s\n",
                 std::string(server.status().message()).c_str());
    return 1;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::printf("risk_check_service: listening on %s:%u (limit %.2f)\n",
              flags.host.c_str(), (*server)->port(), limit);
  std::fflush(stdout);
  while (!stop.load() &&
         (flags.count == 0 || engine.answered() < flags.count)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Stop waits (up to drain_timeout) for the engine's answers in flight.
  (void)(*server)->Stop();
  std::printf("risk_check_service: answered %ld orders\n", engine.answered());
  return 0;
}
