// A backend service in a dozen lines, built against the installed package:
// a Server that echoes, called once by a Client that connects to it
// directly (the client logs on to a backend as it would to a gateway).
// Usage: echo_service. Prints what came back and exits 0.
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "tachyon/client/client.h"
#include "tachyon/service/server.h"

int main() {
  namespace ts = tachyon::service;
  auto server = ts::Server::Start(
      {.port = 0}, [](const ts::Request& req, std::vector<std::byte>& reply) {
        reply.assign(req.payload.begin(), req.payload.end());
        return absl::OkStatus();
      });
  if (!server.ok()) return 1;
  auto client =
      tachyon::client::Client::Connect("127.0.0.1", (*server)->port());
  if (!client.ok()) return 1;
  const std::string hello = "hello";
  auto answer = (*client)->Request(
      7, std::as_bytes(std::span(hello.data(), hello.size())),
      std::chrono::seconds(5));
  if (!answer.ok()) return 1;
  std::printf("received: %.*s\n", static_cast<int>(answer->size()),
              reinterpret_cast<const char*>(answer->data()));
  (void)(*client)->Close();
  return (*server)->Stop().ok() ? 0 : 1;
}
