// tachyon-req: sends requests to a backend service through the gateway, in
// the spirit of `nats req`, and prints each response's status, latency and
// payload (or the reason it failed), one line per request:
//   OK 183.2us <payload>
//   NO_SUCH_SERVICE 95.0us request 1 to service 42: NO_SUCH_SERVICE: ...
// The request payload is the positional arguments joined by spaces.
// --service names the service by its numeric id, or by its configured name
// (looked up once with Client::LookupService, which needs a gateway that
// speaks protocol version 3; a name made only of digits is taken as an id).
// --count sends that many
// requests one after another; --timeout_ms bounds each (the gateway is asked
// to give up after the same time).
//
// Exit codes: 0 every request answered OK, 1 a runtime error or a request
// that failed, 2 a usage error.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tool_common.h"

ABSL_DECLARE_FLAG(int32_t, timeout_ms);
ABSL_FLAG(std::string, service, "",
          "The service to call: its numeric id (1..4294967295) or its "
          "configured name.");
ABSL_FLAG(int64_t, count, 1, "Requests to send, one after another.");

namespace {

namespace tc = ::tachyon::client;
namespace tt = ::tachyon::tools;

constexpr char kUsage[] =
    "Sends requests to a backend service through a Tachyon gateway and "
    "prints each response.\n\n"
    "  tachyon-req --service=12|quotes [--count=1] [--timeout_ms=5000] "
    "payload words...\n";

// The RESPONSE status behind a failed Client::Request (client.h maps them).
const char* StatusName(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return "OK";
    case absl::StatusCode::kNotFound:
      return "NO_SUCH_SERVICE";
    case absl::StatusCode::kDeadlineExceeded:
      return "TIMEOUT";
    case absl::StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case absl::StatusCode::kResourceExhausted:
      return "OVERLOADED";
    case absl::StatusCode::kUnknown:
      return "BACKEND_ERROR";
    default:
      return "ERROR";
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> words =
      tt::ParseCommandLine(argc, argv, "tachyon-req", kUsage);
  const std::string service = absl::GetFlag(FLAGS_service);
  const std::int64_t count = absl::GetFlag(FLAGS_count);
  if (service.empty()) tt::Die("--service: required", tt::kExitUsage);
  std::uint32_t service_id = 0;
  const bool numeric =
      service.find_first_not_of("0123456789") == std::string::npos;
  if (numeric && (!absl::SimpleAtoi(service, &service_id) || service_id == 0)) {
    tt::Die(absl::StrCat("--service: a numeric service id must be "
                         "1..4294967295, got ",
                         service),
            tt::kExitUsage);
  }
  if (!numeric && service.size() > 64) {
    tt::Die("--service: a service name is at most 64 bytes", tt::kExitUsage);
  }
  if (count < 1) tt::Die("--count: must be at least 1", tt::kExitUsage);
  const std::string payload = absl::StrJoin(words, " ");
  const std::chrono::milliseconds timeout(absl::GetFlag(FLAGS_timeout_ms));

  tt::InstallStopHandler();
  auto client = tt::ConnectOrDie(tt::OptionsFromFlags());
  if (!numeric) {
    absl::StatusOr<std::uint32_t> id = client->LookupService(service);
    if (!id.ok()) tt::Die(id.status());
    service_id = *id;
  }
  if (payload.size() > client->max_payload_length()) {
    tt::Die(absl::StrCat("the payload exceeds the gateway's limit of ",
                         client->max_payload_length(), " bytes"),
            tt::kExitUsage);
  }
  std::int64_t failed = 0;
  std::int64_t sent = 0;
  std::string line;
  for (; sent < count && !tt::StopRequested(); ++sent) {
    const std::int64_t t0 = tt::MonotonicNs();
    absl::StatusOr<std::vector<std::byte>> r = client->Request(
        service_id, tachyon::protocol::AsBytes(payload), timeout);
    const std::int64_t t1 = tt::MonotonicNs();
    line = absl::StrCat(StatusName(r.status()), " ",
                        absl::StrFormat("%.1f", (t1 - t0) / 1e3), "us ");
    if (r.ok()) {
      tt::AppendEscapedText(&line, *r);
    } else {
      ++failed;
      line += std::string(r.status().message());
      // A lost connection ends the run; a failed request does not.
      if (r.status().code() == absl::StatusCode::kUnavailable &&
          !client->connected()) {
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
        tt::Die("lost the connection to the gateway");
      }
    }
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
  (void)client->Close();
  if (failed > 0) {
    tt::Warn(absl::StrCat(failed, " of ", sent, " requests to service ",
                          service_id, " failed"));
    return tt::kExitError;
  }
  return 0;
}
