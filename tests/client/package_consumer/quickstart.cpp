// The README's "publish and subscribe in a dozen lines", built against the
// installed package. Usage: quickstart <port>. Prints the message it
// published and received back, and exits 0.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tachyon/client/client.h"

int main(int argc, char** argv) {
  namespace tc = tachyon::client;
  if (argc != 2) return 2;
  tc::ClientOptions options;
  // "principal:secret", kept off the command line.
  if (const char* token = std::getenv("TACHYON_TOKEN")) options.token = token;
  auto client = tc::Client::Connect("127.0.0.1", std::atoi(argv[1]), options);
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n",
                 std::string(client.status().message()).c_str());
    return 1;
  }
  std::string got;
  auto sub =
      (*client)->Subscribe("quickstart", tc::StartPosition::Latest(),
                           [&](const tc::Message& m) { got = m.text(); });
  auto stream = (*client)->OpenStream("quickstart");
  if (!sub.ok() || !stream.ok() || !(*client)->Publish(*stream, "hello").ok()) {
    return 1;
  }
  while (got.empty()) {
    if (!(*client)->Poll(16, std::chrono::milliseconds(100)).ok()) return 1;
  }
  std::printf("received: %s\n", got.c_str());
  return (*client)->Close().ok() ? 0 : 1;
}
