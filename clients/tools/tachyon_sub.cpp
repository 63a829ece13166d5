// tachyon-sub: subscribes to a stream or a prefix pattern and prints each
// message on one line — as text, hex or JSON — with its sequence and its
// latency (now minus the gateway's append timestamp), or its age for a
// message appended before the subscription (a replay). Gaps are reported on
// stderr, and in the JSON stream with --format=json. Exits after --count
// messages, or on Ctrl-C. With --udp the messages arrive as UDP datagrams,
// lost ones recovered over TCP.
//
// It says on stderr where it subscribed ("subscribed to X from sequence N"),
// and once, when a wait stays silent, why it may be silent: an exact name
// that looks like a prefix, a start past the end of the stream, a UDP group
// that never sends. A lost connection is re-made (the client library's
// reconnect: jittered exponential backoff) and delivery resumes from the
// sequence after the last one printed; --reconnect=false exits instead.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

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
ABSL_FLAG(bool, reconnect, true,
          "When the connection is lost (gateway restart, network cut), "
          "reconnect with jittered exponential backoff and resume from the "
          "sequence after the last one printed. --reconnect=false: exit with "
          "status 1 instead.");
ABSL_FLAG(int32_t, hint_after_ms, 3000,
          "After this long without a message, say once on stderr why the "
          "wait may be silent (0: never).");

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
    "Each line: <stream> <sequence> <latency> <payload>; a message the "
    "gateway\nappended before the subscription (a replay) shows "
    "age=<age> instead of its\nlatency. With --format=json, one JSON object "
    "per line: {\"type\":\"message\",\nstream, stream_id, sequence, "
    "timestamp_ns, latency_ns (age_ns for a replay),\npayload} or "
    "{\"type\":\"gap\", stream, stream_id, from, to, count, origin}.";

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

std::span<const std::byte> AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

class Printer {
 public:
  /// `since_ns`: when the subscription started (CLOCK_REALTIME). A message
  /// appended before it is a replay, whose "latency" would be its age.
  Printer(Format format, std::int64_t since_ns)
      : format_(format), since_ns_(since_ns) {
    line_.reserve(4096);
  }

  void Print(const tc::Message& m) {
    const std::int64_t elapsed_ns = tt::RealtimeNs() - m.timestamp_ns;
    const bool replayed = m.timestamp_ns < since_ns_;
    line_.clear();
    if (format_ == Format::kJson) {
      line_.append("{\"type\":\"message\",\"stream\":");
      tt::AppendJsonString(&line_, AsBytes(m.stream_name));
      absl::StrAppend(&line_, ",\"stream_id\":", m.stream_id.value(),
                      ",\"sequence\":", m.sequence.value(),
                      ",\"timestamp_ns\":", m.timestamp_ns,
                      replayed ? ",\"age_ns\":" : ",\"latency_ns\":",
                      elapsed_ns, ",\"payload\":");
      tt::AppendJsonString(&line_, m.payload);
      line_.append("}\n");
    } else {
      absl::StrAppend(&line_, std::string(m.stream_name), " ",
                      m.sequence.value(), " ");
      if (replayed) {
        absl::StrAppend(&line_, "age=", FormatAge(elapsed_ns), " ");
      } else {
        absl::StrAppend(&line_, absl::StrFormat("%.1fus", elapsed_ns / 1e3),
                        " ");
      }
      if (format_ == Format::kHex) {
        tt::AppendHex(&line_, m.payload);
      } else {
        tt::AppendEscapedText(&line_, m.payload);
      }
      line_.push_back('\n');
    }
    std::fwrite(line_.data(), 1, line_.size(), stdout);
  }

  /// A gap: on stderr always; in the JSON stream too with --format=json,
  /// so that a consumer of stdout sees every sequence accounted for.
  void PrintGap(const tc::Gap& g) {
    const bool gateway = g.origin == tc::GapOrigin::kGateway;
    tt::Warn(absl::StrFormat(
        "gap on %s: sequences %d..%d (%d messages) %s",
        std::string(g.stream_name), g.from.value(), g.to.value(), g.count(),
        gateway ? "are no longer retained by the gateway"
                : "were skipped (detected by the client)"));
    if (format_ != Format::kJson) return;
    line_.clear();
    line_.append("{\"type\":\"gap\",\"stream\":");
    tt::AppendJsonString(&line_, AsBytes(g.stream_name));
    absl::StrAppend(&line_, ",\"stream_id\":", g.stream_id.value(),
                    ",\"from\":", g.from.value(), ",\"to\":", g.to.value(),
                    ",\"count\":", g.count(), ",\"origin\":\"",
                    gateway ? "gateway" : "client", "\"}\n");
    std::fwrite(line_.data(), 1, line_.size(), stdout);
  }

 private:
  static std::string FormatAge(std::int64_t ns) {
    const double s = static_cast<double>(ns) / 1e9;
    if (s < 1) return absl::StrFormat("%.1fms", s * 1e3);
    if (s < 120) return absl::StrFormat("%.3fs", s);
    if (s < 7200) return absl::StrFormat("%.1fmin", s / 60);
    return absl::StrFormat("%.1fh", s / 3600);
  }

  Format format_;
  std::int64_t since_ns_;
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

// What the subscriber says on stderr besides the messages: where each
// stream starts, reconnects, and — once — why a wait stays silent.
class Narrator {
 public:
  Narrator(tc::Client* client, std::string stream, tc::StartPosition start,
           const tc::ClientOptions& options)
      : client_(client),
        stream_(std::move(stream)),
        pattern_(!stream_.empty() && stream_.back() == '*'),
        start_(start),
        options_(options),
        reconnects_(client->stats().reconnects),
        restarts_(client->stats().gateway_restarts),
        quiet_since_ns_(tt::MonotonicNs()) {}

  /// Right after Subscribe returned (TCP): where delivery starts.
  void Subscribed() {
    if (pattern_) {
      tt::Warn(absl::StrCat("subscribed to pattern ", stream_));
    }
    AnnounceNewStreams();
  }

  /// Every message or gap (sequences first..last), before it is printed.
  void Delivered(std::string_view stream, std::uint64_t first,
                 std::uint64_t last) {
    NoteReconnect();
    std::string name(stream);
    if (announced_.insert(name).second) {
      tt::Warn(absl::StrCat("subscribed to ", name, " from sequence ", first));
    }
    last_seen_[std::move(name)] = last;
    ++delivered_;
  }

  /// From the poll loop: new streams of a pattern, reconnects, hints.
  void Tick(const tc::UdpSubscriber* udp, const std::string& udp_where) {
    NoteReconnect();
    const std::int64_t now = tt::MonotonicNs();
    if (udp == nullptr && now - last_scan_ns_ >= 100'000'000) {
      last_scan_ns_ = now;
      AnnounceNewStreams();
    }
    const std::int64_t hint_after_ns =
        std::int64_t{absl::GetFlag(FLAGS_hint_after_ms)} * 1'000'000;
    if (hinted_ || hint_after_ns <= 0 || delivered_ > 0 ||
        now - quiet_since_ns_ < hint_after_ns) {
      return;
    }
    hinted_ = true;
    const std::string waited =
        hint_after_ns < 1'000'000'000
            ? absl::StrCat(hint_after_ns / 1'000'000, " ms")
            : absl::StrFormat("%.0f s",
                              static_cast<double>(hint_after_ns) / 1e9);
    if (udp != nullptr) {
      if (udp->stats().datagrams == 0) {
        tt::Warn(absl::StrCat(
            "no datagram arrived on ", udp_where, " in ", waited,
            absl::GetFlag(FLAGS_udp_join) ||
                    !absl::GetFlag(FLAGS_udp_group).empty()
                ? absl::StrCat(": is a [[udp.groups]] entry of the gateway "
                               "sending ",
                               stream_, " to this address and port?")
                : ": are datagrams from the gateway blocked on the way "
                  "here?"));
      } else {
        tt::Warn(absl::StrCat("no message on ", stream_, " in ", waited,
                              " (datagrams arrive: the stream is idle)"));
      }
      return;
    }
    if (pattern_) {
      const auto positions = client_->Positions();
      if (positions.empty()) {
        tt::Warn(absl::StrCat("no message in ", waited, ": no stream matches ",
                              stream_, " yet; waiting for one to be created"));
      } else {
        tt::Warn(absl::StrCat("no message in ", waited, " on the ",
                              positions.size(), " stream(s) matching ", stream_,
                              ": nothing was published to them since"));
      }
      return;
    }
    HintExactName(waited);
  }

 private:
  void AnnounceNewStreams() {
    for (const tc::StreamPosition& p : client_->Positions()) {
      if (!announced_.insert(p.stream_name).second) continue;
      tt::Warn(absl::StrCat("subscribed to ", p.stream_name, " from sequence ",
                            p.next_sequence.value()));
      if (start_.mode() == tachyon::protocol::StartMode::kSequence &&
          start_.sequence() > p.next_sequence) {
        // PROTOCOL.md 11.3: a start beyond the end is answered with the
        // stream's next sequence; delivery is live from there.
        tt::Warn(absl::StrCat(
            "--start ", start_.sequence().value(), " is past the end of ",
            p.stream_name, ", whose next sequence is ", p.next_sequence.value(),
            ": waiting for new messages, from sequence ",
            p.next_sequence.value()));
      }
    }
  }

  void NoteReconnect() {
    const tachyon::client::ClientStats& stats = client_->stats();
    if (stats.reconnects == reconnects_) return;
    reconnects_ = stats.reconnects;
    const bool restarted = stats.gateway_restarts != restarts_;
    restarts_ = stats.gateway_restarts;
    if (restarted) {
      tt::Warn(absl::StrCat(
          "reconnected to ", client_->peer(),
          ", a restarted gateway (new instance epoch, sequences begin again): "
          "resubscribed to ",
          stream_, " from its earliest retained message"));
      last_seen_.clear();
      announced_.clear();
      return;
    }
    if (last_seen_.empty()) {
      tt::Warn(absl::StrCat("reconnected to ", client_->peer(),
                            ": resubscribed to ", stream_));
      return;
    }
    for (const auto& [name, last] : last_seen_) {
      tt::Warn(absl::StrCat("reconnected to ", client_->peer(),
                            ": resubscribed to ", name, " from sequence ",
                            last + 1));
    }
  }

  // An exact name that is silent: is it meant as a prefix? Asks the
  // gateway on a second, short-lived session which streams start with it.
  void HintExactName(const std::string& waited) {
    std::vector<std::string> others;
    tc::ClientOptions probe_options = options_;
    probe_options.reconnect = {};
    probe_options.on_error = nullptr;
    probe_options.client_name = "tachyon-sub-probe";
    auto probe = tt::ConnectFromFlags(probe_options);
    if (probe.ok()) {
      auto sub = (*probe)->Subscribe(stream_ + "*", tc::StartPosition::Latest(),
                                     [](const tc::Message&) {});
      // The pattern's stream acknowledgements follow its own at once.
      for (int i = 0; sub.ok() && i < 5; ++i) {
        if (!(*probe)
                 ->Poll(tc::Client::kDefaultPollLimit,
                        std::chrono::milliseconds(50))
                 .ok()) {
          break;
        }
      }
      for (const tc::StreamPosition& p : (*probe)->Positions()) {
        if (p.stream_name != stream_) others.push_back(p.stream_name);
      }
      (void)(*probe)->Close();
    }
    if (!others.empty()) {
      const std::size_t shown = std::min<std::size_t>(others.size(), 5);
      std::string names;
      for (std::size_t i = 0; i < shown; ++i) {
        absl::StrAppend(&names, i == 0 ? "" : ", ", others[i]);
      }
      if (shown < others.size()) absl::StrAppend(&names, ", ...");
      tt::Warn(
          absl::StrCat("no message on ", stream_, " in ", waited, ": \"",
                       stream_, "\" is an exact stream name, but ",
                       others.size(), " other stream(s) start with it (", names,
                       "); a prefix pattern needs a trailing '*': --stream='",
                       stream_, "*'"));
      return;
    }
    tt::Warn(absl::StrCat("no message on ", stream_, " in ", waited,
                          ": nothing was published to it since the "
                          "subscription"));
  }

  tc::Client* client_;
  std::string stream_;
  bool pattern_;
  tc::StartPosition start_;
  const tc::ClientOptions& options_;
  std::uint64_t reconnects_;
  std::uint64_t restarts_;
  std::int64_t quiet_since_ns_;
  std::int64_t last_scan_ns_ = 0;
  std::int64_t delivered_ = 0;
  bool hinted_ = false;
  std::map<std::string, std::uint64_t> last_seen_;
  std::set<std::string> announced_;
};

int main(int argc, char** argv) {
  tt::ParseCommandLine(argc, argv, "tachyon-sub", kUsage);
  const std::string stream = absl::GetFlag(FLAGS_stream);
  if (stream.empty()) tt::Die("--stream is required", tt::kExitUsage);
  const tc::StartPosition start = ParseStart(absl::GetFlag(FLAGS_start));
  const Format format = ParseFormat(absl::GetFlag(FLAGS_format));
  const std::int64_t count = absl::GetFlag(FLAGS_count);
  if (count < 0) tt::Die("--count: must not be negative", tt::kExitUsage);
  if (absl::GetFlag(FLAGS_hint_after_ms) < 0) {
    tt::Die("--hint_after_ms: must not be negative", tt::kExitUsage);
  }

  tt::InstallStopHandler();
  tc::ClientOptions options =
      tt::OptionsFromFlags([](const absl::Status& s) { tt::Warn(s); });
  if (absl::GetFlag(FLAGS_reconnect)) {
    options.reconnect.enabled = true;
    options.reconnect.initial_backoff = std::chrono::milliseconds(100);
    options.reconnect.max_backoff = std::chrono::milliseconds(5000);
    options.reconnect.jitter = 0.2;
    options.reconnect.max_attempts = 0;  // until Ctrl-C
  }
  auto client = tt::ConnectOrDie(options);

  // Replays are told apart from live messages by their gateway timestamp:
  // anything appended before this instant is shown with its age.
  Printer printer(format, tt::RealtimeNs());
  Narrator narrator(client.get(), stream, start, options);
  std::int64_t received = 0;
  tc::MessageHandler on_message = [&](const tc::Message& m) {
    narrator.Delivered(m.stream_name, m.sequence.value(), m.sequence.value());
    printer.Print(m);
    ++received;
  };
  tc::GapHandler on_gap = [&](const tc::Gap& g) {
    narrator.Delivered(g.stream_name, g.from.value(), g.to.value());
    printer.PrintGap(g);
  };
  std::unique_ptr<tc::UdpSubscriber> udp;
  std::string udp_where;
  if (absl::GetFlag(FLAGS_udp)) {
    udp = SubscribeUdp(*client, stream, start, std::move(on_message),
                       std::move(on_gap));
    udp_where = absl::StrCat(absl::GetFlag(FLAGS_udp_group).empty()
                                 ? udp->local_address()
                                 : absl::GetFlag(FLAGS_udp_group),
                             ":", udp->local_port());
  } else {
    auto subscribed = client->Subscribe(stream, start, std::move(on_message),
                                        std::move(on_gap));
    if (!subscribed.ok()) tt::Die(subscribed.status());
    narrator.Subscribed();
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
    narrator.Tick(udp.get(), udp_where);
  }
  std::fflush(stdout);
  udp = nullptr;
  (void)client->Close();
  return 0;
}
