// Shared plumbing of tachyon-pub, tachyon-sub and tachyon-ping: the
// connection flags every tool takes (--host, --port, --token, --client_name,
// --heartbeat_ms, --timeout_ms, and --tls, --tls_ca, --tls_cert, --tls_key,
// --tls_server_name), connecting with them, one-line fatal errors,
// Ctrl-C handling and payload formatting.
//
// Exit codes, the same for every tool: 0 success, 1 a runtime error
// (unreachable gateway, rejected logon, invalid stream, lost connection),
// 2 a usage error (bad flag value).
#ifndef TACHYON_CLIENTS_TOOLS_TOOL_COMMON_H_
#define TACHYON_CLIENTS_TOOLS_TOOL_COMMON_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tachyon/client/client.h"

namespace tachyon::tools {

inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

/// Sets the tool's name and usage text, parses the command line (absl
/// flags; --help prints every flag) and returns the positional arguments.
std::vector<std::string> ParseCommandLine(int argc, char** argv,
                                          std::string_view tool,
                                          std::string_view usage);

/// Prints "<tool>: <message>" on one line to stderr and exits with `code`.
[[noreturn]] void Die(std::string_view message, int code = kExitError);
/// Same, with the status's message.
[[noreturn]] void Die(const absl::Status& status);
/// Prints "<tool>: <message>" to stderr and continues.
void Warn(std::string_view message);
void Warn(const absl::Status& status);

/// Client options from the connection flags, plus `on_error`.
client::ClientOptions OptionsFromFlags(client::ErrorHandler on_error = {});
/// Connects with --host/--port and OptionsFromFlags, or Dies with the
/// client's one-line reason.
std::unique_ptr<client::Client> ConnectOrDie(
    const client::ClientOptions& options);

/// Connects with --host/--port and `options`, returning the client's
/// status on failure (for a second, optional session).
absl::StatusOr<std::unique_ptr<client::Client>> ConnectFromFlags(
    const client::ClientOptions& options);
/// The --host and --port flags.
std::string HostFlag();
std::uint16_t PortFlag();

/// After this, Ctrl-C and SIGTERM set a flag instead of killing the tool,
/// so it can LOGOUT cleanly.
void InstallStopHandler();
[[nodiscard]] bool StopRequested();

/// CLOCK_REALTIME in ns since the epoch (the gateway's timestamp clock).
std::int64_t RealtimeNs();
/// CLOCK_MONOTONIC in ns (for intervals).
std::int64_t MonotonicNs();

/// Appends `bytes` as text, escaping control and non-ASCII bytes as \xNN
/// and backslash as \\ (one message stays on one line).
void AppendEscapedText(std::string* out, std::span<const std::byte> bytes);
/// Appends `bytes` as lower-case hex pairs separated by spaces.
void AppendHex(std::string* out, std::span<const std::byte> bytes);
/// Appends `bytes` as a JSON string literal (quotes included); bytes above
/// 0x7F are written as \u00XX (Latin-1), so any payload gives valid JSON.
void AppendJsonString(std::string* out, std::span<const std::byte> bytes);

}  // namespace tachyon::tools

#endif  // TACHYON_CLIENTS_TOOLS_TOOL_COMMON_H_
