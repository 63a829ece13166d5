#include "tool_common.h"

#include <signal.h>
#include <time.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "parse_flags.h"

// Connection flags shared by every tool. The tools never link the gateway's
// config library, whose flags (--port among them) would collide.
ABSL_FLAG(std::string, host, "127.0.0.1",
          "Gateway host: a name or an IPv4/IPv6 address.");
ABSL_FLAG(int32_t, port, 7400, "Gateway TCP port (1..65535).");
ABSL_FLAG(std::string, token, "",
          "LOGON token: \"<principal>:<secret>\" for a gateway with "
          "principals, or its shared session.token for anonymous access. "
          "Default: the environment variable TACHYON_TOKEN, which (unlike "
          "the command line) ps does not show.");
ABSL_FLAG(std::string, client_name, "",
          "Client name shown in the gateway's logs (default: the tool's "
          "name).");
ABSL_FLAG(int32_t, heartbeat_ms, 0,
          "Heartbeat interval to ask for, in ms (0: the gateway's default).");
ABSL_FLAG(bool, tls, false,
          "Connect with TLS 1.3 (to the gateway's [tls] port); implied by "
          "any --tls_* flag.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA file the gateway's certificate must chain to (default: the "
          "system's CA store).");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM client certificate chain, for a gateway that asks for one.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name the gateway's certificate must carry, sent as SNI (default: "
          "--host).");
ABSL_FLAG(int32_t, timeout_ms, 5000,
          "Timeout for connecting, logging on and each acknowledgement, in "
          "ms.");

namespace tachyon::tools {
namespace {

std::string& ToolName() {
  static std::string name = "tachyon";
  return name;
}

std::atomic<bool> stop_requested{false};

void OnStopSignal(int) { stop_requested.store(true); }

}  // namespace

std::vector<std::string> ParseCommandLine(int argc, char** argv,
                                          std::string_view tool,
                                          std::string_view usage) {
  ToolName() = std::string(tool);
  std::vector<char*> rest = ParseToolFlags(argc, argv, usage);
  std::vector<std::string> positional;
  for (std::size_t i = 1; i < rest.size(); ++i)
    positional.emplace_back(rest[i]);
  const int port = absl::GetFlag(FLAGS_port);
  if (port < 1 || port > 65535) {
    Die(absl::StrCat("--port: must be between 1 and 65535, got ", port),
        kExitUsage);
  }
  if (absl::GetFlag(FLAGS_timeout_ms) < 1) {
    Die("--timeout_ms: must be at least 1", kExitUsage);
  }
  if (absl::GetFlag(FLAGS_heartbeat_ms) < 0) {
    Die("--heartbeat_ms: must not be negative", kExitUsage);
  }
  return positional;
}

void Warn(std::string_view message) {
  std::fprintf(stderr, "%s: %.*s\n", ToolName().c_str(),
               static_cast<int>(message.size()), message.data());
}

void Warn(const absl::Status& status) {
  Warn(std::string_view(status.message().data(), status.message().size()));
}

void Die(std::string_view message, int code) {
  Warn(message);
  std::fflush(stdout);
  std::exit(code);
}

void Die(const absl::Status& status) {
  Die(std::string_view(status.message().data(), status.message().size()),
      kExitError);
}

client::ClientOptions OptionsFromFlags(client::ErrorHandler on_error) {
  client::ClientOptions options;
  options.token = absl::GetFlag(FLAGS_token);
  if (options.token.empty()) {
    if (const char* env = std::getenv("TACHYON_TOKEN")) options.token = env;
  }
  options.client_name = absl::GetFlag(FLAGS_client_name);
  if (options.client_name.empty()) options.client_name = ToolName();
  options.heartbeat_interval =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_heartbeat_ms));
  const std::chrono::milliseconds timeout(absl::GetFlag(FLAGS_timeout_ms));
  options.connect_timeout = timeout;
  options.response_timeout = timeout;
  options.send_timeout = timeout;
  options.on_error = std::move(on_error);
  options.tls.ca_file = absl::GetFlag(FLAGS_tls_ca);
  options.tls.certificate = absl::GetFlag(FLAGS_tls_cert);
  options.tls.private_key = absl::GetFlag(FLAGS_tls_key);
  options.tls.server_name = absl::GetFlag(FLAGS_tls_server_name);
  options.tls.enabled =
      absl::GetFlag(FLAGS_tls) || !options.tls.ca_file.empty() ||
      !options.tls.certificate.empty() || !options.tls.private_key.empty() ||
      !options.tls.server_name.empty();
  return options;
}

std::unique_ptr<client::Client> ConnectOrDie(
    const client::ClientOptions& options) {
  auto client = client::Client::Connect(
      absl::GetFlag(FLAGS_host),
      static_cast<std::uint16_t>(absl::GetFlag(FLAGS_port)), options);
  if (!client.ok()) Die(client.status());
  return std::move(*client);
}

absl::StatusOr<std::unique_ptr<client::Client>> ConnectFromFlags(
    const client::ClientOptions& options) {
  return client::Client::Connect(HostFlag(), PortFlag(), options);
}

std::string HostFlag() { return absl::GetFlag(FLAGS_host); }

std::uint16_t PortFlag() {
  return static_cast<std::uint16_t>(absl::GetFlag(FLAGS_port));
}

void InstallStopHandler() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // SIGPIPE stays default: `tachyon-sub | head` ends when head does. The
  // client's sockets use MSG_NOSIGNAL and never raise it.
}

bool StopRequested() { return stop_requested.load(); }

std::int64_t RealtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

namespace {
constexpr char kHexDigits[] = "0123456789abcdef";
}  // namespace

void AppendEscapedText(std::string* out, std::span<const std::byte> bytes) {
  for (std::byte b : bytes) {
    const auto c = static_cast<unsigned char>(b);
    if (c == '\\') {
      out->append("\\\\");
    } else if (c >= 0x20 && c < 0x7f) {
      out->push_back(static_cast<char>(c));
    } else {
      out->append("\\x");
      out->push_back(kHexDigits[c >> 4]);
      out->push_back(kHexDigits[c & 0xf]);
    }
  }
}

void AppendHex(std::string* out, std::span<const std::byte> bytes) {
  bool first = true;
  for (std::byte b : bytes) {
    const auto c = static_cast<unsigned char>(b);
    if (!first) out->push_back(' ');
    first = false;
    out->push_back(kHexDigits[c >> 4]);
    out->push_back(kHexDigits[c & 0xf]);
  }
}

void AppendJsonString(std::string* out, std::span<const std::byte> bytes) {
  out->push_back('"');
  for (std::byte b : bytes) {
    const auto c = static_cast<unsigned char>(b);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out->push_back(static_cast<char>(c));
        } else {
          out->append("\\u00");
          out->push_back(kHexDigits[c >> 4]);
          out->push_back(kHexDigits[c & 0xf]);
        }
    }
  }
  out->push_back('"');
}

}  // namespace tachyon::tools
