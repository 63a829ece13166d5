// tachyon-reply: a toy backend service, in the spirit of `nats reply`. It
// listens for gateway connections (tachyon::service::Server) and answers
// every REQUEST: by default with the request's own payload (echo); with
// --file, from a table read from a file, one "key value" per line, where the
// request payload is the key (an unknown key is answered BACKEND_ERROR).
// --delay_ms holds each answer back (to play a slow service). --tls_cert and
// --tls_key serve TLS 1.3 (the gateway's [[backends]] entry then says
// tls = true, with a ca_file that trusts the certificate); --tls_client_ca
// also requires the gateway's client certificate from that CA.
//
// It prints "tachyon-reply: listening on HOST:PORT" to stdout once ready
// (--port=0 picks a free port) and runs until Ctrl-C / SIGTERM, or until it
// has answered --count requests; then it stops cleanly (LOGOUT to every
// gateway) and prints how many requests it answered to stderr.
//
// Exit codes: 0 success, 1 a runtime error (cannot listen), 2 a usage error.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "parse_flags.h"
#include "tachyon/service/server.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on.");
ABSL_FLAG(int32_t, port, 7500, "TCP port to listen on (0: a free port).");
ABSL_FLAG(int32_t, threads, 1, "Worker threads (0: one per CPU).");
ABSL_FLAG(std::string, token, "",
          "If set, a gateway's LOGON token must equal it.");
ABSL_FLAG(std::string, file, "",
          "Answer from this file (lines \"key value\"; the request payload is "
          "the key) instead of echoing.");
ABSL_FLAG(int32_t, delay_ms, 0, "Wait this long before each answer.");
ABSL_FLAG(int64_t, count, 0,
          "Exit after answering this many requests (0: run until stopped).");
ABSL_FLAG(std::string, tls_cert, "",
          "Serve TLS 1.3 with this PEM certificate chain (needs --tls_key); "
          "the gateway's [[backends]] entry then says tls = true.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "With --tls_cert: require a gateway client certificate from this "
          "PEM CA.");

namespace {

namespace ts = ::tachyon::service;

constexpr char kUsage[] =
    "A toy Tachyon backend service: echoes each request, or answers from a "
    "file.\n\n"
    "  tachyon-reply --port=7500 [--threads=2] [--file=answers.txt] "
    "[--delay_ms=0]\n"
    "                [--tls_cert=service.pem --tls_key=service.key "
    "[--tls_client_ca=ca.pem]]\n";

std::atomic<bool> stop_requested{false};
void OnStopSignal(int) { stop_requested.store(true); }

[[noreturn]] void Die(const std::string& message, int code = 1) {
  std::fprintf(stderr, "tachyon-reply: %s\n", message.c_str());
  std::exit(code);
}

std::string Str(absl::string_view s) { return std::string(s.data(), s.size()); }

// Reads "key value" lines: the key is up to the first space, the value the
// rest of the line. Blank lines and lines starting with '#' are skipped.
absl::flat_hash_map<std::string, std::string> ReadTable(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) Die(absl::StrCat("--file: cannot read ", path));
  absl::flat_hash_map<std::string, std::string> table;
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.find(' ');
    if (space == 0 || space == std::string::npos) {
      Die(absl::StrCat(path, ":", line_no, ": expected \"key value\""), 2);
    }
    table[line.substr(0, space)] = line.substr(space + 1);
  }
  return table;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<char*> rest =
      tachyon::tools::ParseToolFlags(argc, argv, kUsage);
  if (rest.size() > 1) Die(absl::StrCat("unexpected argument ", rest[1]), 2);
  const int port = absl::GetFlag(FLAGS_port);
  const int threads = absl::GetFlag(FLAGS_threads);
  const int delay_ms = absl::GetFlag(FLAGS_delay_ms);
  const std::int64_t count = absl::GetFlag(FLAGS_count);
  if (port < 0 || port > 65535) Die("--port: must be 0..65535", 2);
  if (threads < 0 || threads > 1024) Die("--threads: must be 0..1024", 2);
  if (delay_ms < 0) Die("--delay_ms: must not be negative", 2);
  if (count < 0) Die("--count: must not be negative", 2);
  const std::string file = absl::GetFlag(FLAGS_file);
  const bool echo = file.empty();
  const absl::flat_hash_map<std::string, std::string> table =
      echo ? absl::flat_hash_map<std::string, std::string>{} : ReadTable(file);

  std::atomic<std::int64_t> answered{0};
  auto handler = [&](const ts::Request& req, std::vector<std::byte>& reply) {
    if (delay_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    }
    absl::Status result = absl::OkStatus();
    if (echo) {
      reply.assign(req.payload.begin(), req.payload.end());
    } else {
      const std::string key(reinterpret_cast<const char*>(req.payload.data()),
                            req.payload.size());
      const auto it = table.find(key);
      if (it == table.end()) {
        result = absl::NotFoundError(absl::StrCat("no entry for key ", key));
      } else {
        const auto* p = reinterpret_cast<const std::byte*>(it->second.data());
        reply.assign(p, p + it->second.size());
      }
    }
    answered.fetch_add(1, std::memory_order_relaxed);
    return result;
  };

  ts::ServerOptions options;
  options.host = absl::GetFlag(FLAGS_host);
  options.port = static_cast<std::uint16_t>(port);
  options.threads = threads;
  options.token = absl::GetFlag(FLAGS_token);
  options.tls.certificate = absl::GetFlag(FLAGS_tls_cert);
  options.tls.private_key = absl::GetFlag(FLAGS_tls_key);
  options.tls.client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  options.tls.enabled = !options.tls.certificate.empty();
  options.tls.require_client_certificate = !options.tls.client_ca.empty();
  if (!options.tls.enabled &&
      (!options.tls.private_key.empty() || !options.tls.client_ca.empty())) {
    Die("--tls_key and --tls_client_ca need --tls_cert", 2);
  }
  options.on_connection_error = [](const absl::Status& s) {
    std::fprintf(stderr, "tachyon-reply: %s\n", Str(s.message()).c_str());
  };
  auto server = ts::Server::Start(options, handler);
  if (!server.ok()) Die(Str(server.status().message()));

  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  std::printf(
      "tachyon-reply: listening on %s:%u (%s%s)\n", options.host.c_str(),
      (*server)->port(), options.tls.enabled ? "TLS, " : "",
      echo ? "echo" : absl::StrCat(table.size(), " keys from ", file).c_str());
  std::fflush(stdout);
  while (!stop_requested.load() &&
         (count == 0 || answered.load(std::memory_order_relaxed) < count)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  (void)(*server)->Stop();
  std::fprintf(stderr, "tachyon-reply: answered %lld requests\n",
               static_cast<long long>(answered.load()));
  return 0;
}
