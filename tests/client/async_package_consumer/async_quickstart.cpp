// Publish and subscribe with the asynchronous client in a coroutine, built
// against the installed package. Usage: async_quickstart <port>. Prints the
// message it published and received back, and exits 0.
#include <asio.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tachyon/client/async_client.h"

int main(int argc, char** argv) {
  namespace tc = tachyon::client;
  if (argc != 2) return 2;
  const auto port = static_cast<std::uint16_t>(std::atoi(argv[1]));
  asio::io_context io;
  tc::AsyncClientOptions options;
  // "principal:secret", kept off the command line.
  if (const char* token = std::getenv("TACHYON_TOKEN")) options.token = token;
  tc::AsyncClient client(io, options);
  std::string got;
  int exit_code = 1;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        absl::Status s = co_await client.AsyncConnect("127.0.0.1", port,
                                                      asio::use_awaitable);
        if (!s.ok()) {
          std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
          co_return;
        }
        asio::steady_timer received(io, std::chrono::seconds(5));
        auto sub = co_await client.AsyncSubscribe(
            "quickstart.async", tc::StartPosition::Latest(),
            [&](const tc::Message& m) {
              got = m.text();
              received.cancel();
            },
            asio::use_awaitable);
        auto stream = co_await client.AsyncOpenStream("quickstart.async",
                                                      asio::use_awaitable);
        if (!sub.ok() || !stream.ok()) co_return;
        if (!(co_await client.AsyncPublish(*stream, "hello",
                                           asio::use_awaitable))
                 .ok()) {
          co_return;
        }
        asio::error_code ec;
        co_await received.async_wait(
            asio::redirect_error(asio::use_awaitable, ec));
        (void)co_await client.AsyncClose(asio::use_awaitable);
        exit_code = got == "hello" ? 0 : 1;
      },
      asio::detached);
  io.run();
  std::printf("received: %s\n", got.c_str());
  return exit_code;
}
