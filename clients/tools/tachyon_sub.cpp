// tachyon-sub: subscribes to a stream or a prefix pattern and prints each
// message on one line — as text, hex or JSON — with its sequence and its
// latency (now minus the gateway's append timestamp). Gaps are reported on
// stderr. Exits after --count messages, or on Ctrl-C. With --udp the
// messages arrive as UDP datagrams, lost ones recovered over TCP.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tachyon/client/udp_subscriber.h"
#include "tool_common.h"

ABSL_FLAG(std::string, stream, "",
          "Stream name, or a prefix pattern ending in '*' (\"md.*\", \"*\"). "
          "Required.");
ABSL_FLAG(std::string, start, "latest",
          "Where to start: latest (new messages only), earliest (everything "
          "the gateway retains) or a sequence number to replay from.");
ABSL_FLAG(std::string, format, "text",
          "Output format: text (payload as escaped text), hex or json (one "
          "object per line).");
ABSL_FLAG(int64_t, count, 0,
          "Exit after this many messages (0: run until interrupted).");
ABSL_FLAG(bool, udp, false,
          "Receive over UDP: ask the gateway to send the stream to this "
          "host (UDP_SUBSCRIBE); lost datagrams are recovered over TCP. "
          "--stream must name one stream; --start is latest or a sequence.");
ABSL_FLAG(int32_t, udp_port, 0,
          "With --udp: the local UDP port (0: an ephemeral port).");
ABSL_FLAG(bool, udp_join, false,
          "With --udp: do not ask; receive datagrams the gateway's "
          "[[udp.groups]] already sends to --udp_port.");
ABSL_FLAG(std::string, udp_group, "",
          "With --udp: join this IPv4 multicast group on --udp_port (a "
          "[[udp.groups]] group; implies --udp_join).");

namespace {

namespace tc = ::tachyon::client;
namespace tt = ::tachyon::tools;

enum class Format { kText, kHex, kJson };

constexpr char kUsage[] =
    "Prints the messages of a Tachyon stream.\n\n"
    "  tachyon-sub --stream=md.eq.AAPL [--start=earliest] "
    "[--format=text|hex|json] [--count=N]\n"
    "  tachyon-sub --stream=md.eq.AAPL --udp [--udp_port=N] "
    "[--udp_join] [--udp_group=239.1.1.1]\n\n"
    "Each line: <stream> <sequence> <latency> <payload>; with --format=json,"
    "\none JSON object per line with stream, stream_id, sequence, "
    "timestamp_ns,\nlatency_ns and payload.";

tc::StartPosition ParseStart(const std::string& text) {
  if (text == "latest") return tc::StartPosition::Latest();
  if (text == "earliest") return tc::StartPosition::Earliest();
  std::uint64_t sequence = 0;
  if (!absl::SimpleAtoi(text, &sequence) || sequence == 0) {
    tt::Die(absl::StrCat("--start: expected latest, earliest or a sequence "
                         ">= 1, got \"",
                         text, "\""),
            tt::kExitUsage);
  }
  return tc::StartPosition::From(tachyon::Sequence{sequence});
}

Format ParseFormat(const std::string& text) {
  if (text == "text") return Format::kText;
  if (text == "hex") return Format::kHex;
  if (text == "json") return Format::kJson;
  tt::Die(
      absl::StrCat("--format: expected text, hex or json, got \"", text, "\""),
      tt::kExitUsage);
}

class Printer {
 public:
  explicit Printer(Format format) : format_(format) { line_.reserve(4096); }

  void Print(const tc::Message& m) {
    const std::int64_t latency_ns = tt::RealtimeNs() - m.timestamp_ns;
    line_.clear();
    if (format_ == Format::kJson) {
      line_.append("{\"stream\":");
      tt::AppendJsonString(&line_, AsBytes(m.stream_name));
      absl::StrAppend(&line_, ",\"stream_id\":", m.stream_id.value(),
                      ",\"sequence\":", m.sequence.value(),
                      ",\"timestamp_ns\":", m.timestamp_ns,
                      ",\"latency_ns\":", latency_ns, ",\"payload\":");
      tt::AppendJsonString(&line_, m.payload);
      line_.append("}\n");
    } else {
      absl::StrAppend(&line_, std::string(m.stream_name), " ",
                      m.sequence.value(), " ",
                      absl::StrFormat("%.1fus", latency_ns / 1e3), " ");
      if (format_ == Format::kHex) {
        tt::AppendHex(&line_, m.payload);
      } else {
        tt::AppendEscapedText(&line_, m.payload);
      }
      line_.push_back('\n');
    }
    std::fwrite(line_.data(), 1, line_.size(), stdout);
  }

 private:
  static std::span<const std::byte> AsBytes(std::string_view s) {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
  }
  Format format_;
  std::string line_;
};

std::unique_ptr<tc::UdpSubscriber> SubscribeUdp(tc::Client& client,
                                                const std::string& stream,
                                                tc::StartPosition start,
                                                tc::MessageHandler on_message,
                                                tc::GapHandler on_gap) {
  const std::int32_t port = absl::GetFlag(FLAGS_udp_port);
  if (port < 0 || port > 65535) {
    tt::Die("--udp_port: must be 0..65535", tt::kExitUsage);
  }
  tc::UdpSubscriberOptions options;
  options.port = static_cast<std::uint16_t>(port);
  options.multicast_group = absl::GetFlag(FLAGS_udp_group);
  options.on_error = [](const absl::Status& s) { tt::Warn(s); };
  const bool join =
      absl::GetFlag(FLAGS_udp_join) || !options.multicast_group.empty();
  auto udp = tc::UdpSubscriber::Create(client, options);
  if (!udp.ok()) tt::Die(udp.status());
  auto added = join ? (*udp)->Join(stream, start, std::move(on_message),
                                   std::move(on_gap))
                    : (*udp)->Subscribe(stream, start, std::move(on_message),
                                        std::move(on_gap));
  if (!added.ok()) tt::Die(added.status());
  tt::Warn(absl::StrCat("receiving ", stream, " over UDP on ",
                        (*udp)->local_address(), ":", (*udp)->local_port()));
  return std::move(*udp);
}

}  // namespace

int main(int argc, char** argv) {
  tt::ParseCommandLine(argc, argv, "tachyon-sub", kUsage);
  const std::string stream = absl::GetFlag(FLAGS_stream);
  if (stream.empty()) tt::Die("--stream is required", tt::kExitUsage);
  const tc::StartPosition start = ParseStart(absl::GetFlag(FLAGS_start));
  const Format format = ParseFormat(absl::GetFlag(FLAGS_format));
  const std::int64_t count = absl::GetFlag(FLAGS_count);
  if (count < 0) tt::Die("--count: must not be negative", tt::kExitUsage);

  tt::InstallStopHandler();
  auto client = tt::ConnectOrDie(
      tt::OptionsFromFlags([](const absl::Status& s) { tt::Warn(s); }));

  Printer printer(format);
  std::int64_t received = 0;
  tc::MessageHandler on_message = [&](const tc::Message& m) {
    printer.Print(m);
    ++received;
  };
  tc::GapHandler on_gap = [](const tc::Gap& g) {
    tt::Warn(absl::StrFormat("gap on %s: sequences %d..%d (%d messages) %s",
                             std::string(g.stream_name), g.from.value(),
                             g.to.value(), g.count(),
                             g.origin == tc::GapOrigin::kGateway
                                 ? "are no longer retained by the gateway"
                                 : "were skipped (detected by the client)"));
  };
  std::unique_ptr<tc::UdpSubscriber> udp;
  if (absl::GetFlag(FLAGS_udp)) {
    udp = SubscribeUdp(*client, stream, start, std::move(on_message),
                       std::move(on_gap));
  } else {
    auto subscribed = client->Subscribe(stream, start, std::move(on_message),
                                        std::move(on_gap));
    if (!subscribed.ok()) tt::Die(subscribed.status());
  }

  while (!tt::StopRequested() && (count == 0 || received < count)) {
    const int budget =
        count == 0 ? tc::Client::kDefaultPollLimit
                   : static_cast<int>(std::min<std::int64_t>(
                         count - received, tc::Client::kDefaultPollLimit));
    auto n = udp != nullptr
                 ? udp->Poll(budget, std::chrono::milliseconds(100))
                 : client->Poll(budget, std::chrono::milliseconds(100));
    if (!n.ok()) tt::Die(n.status());
    if (*n > 0) std::fflush(stdout);
  }
  std::fflush(stdout);
  udp = nullptr;
  (void)client->Close();
  return 0;
}
