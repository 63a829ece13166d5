// async_request_client — requests on the asynchronous client, in a C++20
// coroutine on an Asio io_context.
//
// Connects, sends --count REQUESTs to backend service --service one after
// the other (co_await each answer), prints every outcome and closes. Until
// backend services exist the gateway answers every request NO_SUCH_SERVICE,
// which the client returns as a NOT_FOUND status carrying the gateway's
// text: that is an answer, and counts as success here. A timeout or a lost
// connection is not.
//
//   async_request_client --port 7400 --count 3 --service 7
//
// Exit 0 when every request was answered; 1 otherwise.
#include <asio.hpp>
#include <chrono>
#include <cstdio>
#include <string>

#include "example_flags.h"
#include "tachyon/client/async_client.h"

namespace {

namespace tc = ::tachyon::client;
using namespace std::chrono_literals;

constexpr char kUsage[] =
    "usage: async_request_client [--host H] [--port P] [--count N]\n"
    "                            [--service ID]\n"
    "Sends N requests to a backend service through the gateway.\n";

asio::awaitable<int> Run(tc::AsyncClient& client,
                         const tachyon::examples::Flags& flags,
                         std::uint32_t service) {
  if (absl::Status s = co_await client.AsyncConnect(flags.host, flags.port,
                                                    asio::use_awaitable);
      !s.ok()) {
    std::fprintf(stderr, "async_request_client: %s\n",
                 std::string(s.message()).c_str());
    co_return 1;
  }
  int answered = 0;
  for (long i = 1; i <= flags.count; ++i) {
    const std::string body = "request " + std::to_string(i);
    absl::StatusOr<std::vector<std::byte>> response =
        co_await client.AsyncRequest(service, body, 2000ms,
                                     asio::use_awaitable);
    if (response.ok()) {
      std::printf("request %ld: OK, %zu bytes\n", i, response->size());
      ++answered;
    } else {
      std::printf("request %ld: %s\n", i, response.status().ToString().c_str());
      // NOT_FOUND (no such service) is the gateway's answer; anything
      // else means no answer came back.
      if (response.status().code() == absl::StatusCode::kNotFound) ++answered;
    }
  }
  // Close always succeeds; it waits (bounded) for the gateway's LOGOUT.
  (void)co_await client.AsyncClose(asio::use_awaitable);
  std::printf("%d of %ld requests answered\n", answered, flags.count);
  co_return answered == flags.count ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags =
      tachyon::examples::ParseFlags(argc, argv, 1, {"service"}, kUsage);
  const auto service =
      static_cast<std::uint32_t>(std::stoul(flags.Get("service", "1")));

  asio::io_context io;
  tc::AsyncClientOptions options;
  options.client_name = "async-request-client";
  options.token = flags.token;
  tc::AsyncClient client(io, options);
  int exit_code = 1;
  asio::co_spawn(io, Run(client, flags, service),
                 [&](std::exception_ptr e, int code) {
                   if (!e) exit_code = code;
                 });
  // Every operation is bounded by a timeout, so run() returns.
  io.run();
  return exit_code;
}
