// tachyon-pub: publishes to a stream — each line of stdin as one message,
// or --count generated messages at --rate per second. A stream with no room
// holds the publisher (the gateway stops reading until the message fits), so
// sends just wait. With --ack every message waits for the gateway's
// PUBLISH_ACK (a BACK_PRESSURED answer is retried with backoff); without it,
// refusals the gateway reports later are printed and make the exit status
// non-zero.
//
// With --udp HOST:PORT the messages go as PUBLISH datagrams to the gateway's
// UDP ingress (UdpPublisher: a random source id, per-stream producer
// sequences, several messages per datagram). The stream id is still learned
// over TCP (OPEN_STREAM). UDP is best effort: nothing is acknowledged.
// --producer_id and --key_file sign the datagrams (PROTOCOL.md 16.7).
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tachyon/client/udp_publisher.h"
#include "tool_common.h"

ABSL_FLAG(std::string, stream, "", "Stream name to publish to. Required.");
ABSL_FLAG(bool, ack, false,
          "Wait for each message's PUBLISH_ACK (and print its sequence when "
          "reading stdin); retry if the gateway answers BACK_PRESSURED.");
ABSL_FLAG(int64_t, count, 0,
          "Publish this many generated messages instead of reading stdin.");
ABSL_FLAG(double, rate, 0,
          "Generated messages per second (0: as fast as possible).");
ABSL_FLAG(int32_t, size, 0,
          "Generated payload size in bytes (0: just \"message <n>\"); "
          "longer payloads are padded with '.'.");
ABSL_FLAG(bool, quiet, false, "Do not print the summary line on stderr.");
ABSL_FLAG(std::string, udp, "",
          "Publish as UDP datagrams to the gateway's UDP ingress at HOST:PORT "
          "(its [udp] port, 7401 by default) instead of over TCP; several "
          "messages per datagram. Best effort: no acknowledgement, and a "
          "lost datagram is lost. Not with --ack.");
ABSL_FLAG(uint32_t, producer_id, 0,
          "With --udp: sign every datagram as this producer of the gateway's "
          "[[udp_producers]] (PROTOCOL.md 16.7); needs --key_file. 0: "
          "unsigned datagrams, which a gateway with "
          "udp.require_authentication drops.");
ABSL_FLAG(std::string, key_file, "",
          "With --producer_id: the producer's key file (32 hex digits, the "
          "same file the gateway's key_file names).");

namespace {

namespace tc = ::tachyon::client;
namespace tt = ::tachyon::tools;

constexpr char kUsage[] =
    "Publishes messages to a Tachyon stream.\n\n"
    "  echo hello | tachyon-pub --stream=demo          one message per line\n"
    "  tachyon-pub --stream=demo --count=1000 --rate=100   generated\n"
    "  tachyon-pub --stream=demo --udp=127.0.0.1:7401      as datagrams\n"
    "  tachyon-pub --stream=md.x --udp=127.0.0.1:7401 --producer_id=5 \\\n"
    "      --key_file=feed-a.key                          signed datagrams\n";

class Publisher {
 public:
  Publisher(tc::Client* client, tachyon::StreamId stream, bool ack,
            tc::UdpPublisher* udp)
      : client_(client), stream_(stream), ack_(ack), udp_(udp) {}

  /// Publishes one message; Dies on an error that is not back-pressure.
  void Send(std::string_view payload, bool print_sequence) {
    if (udp_ != nullptr) {
      if (absl::Status s = udp_->Publish(stream_, payload); !s.ok()) {
        tt::Die(s);
      }
      ++sent_;
      return;
    }
    if (!ack_) {
      if (absl::Status s = client_->Publish(stream_, payload); !s.ok()) {
        tt::Die(s);
      }
      ++sent_;
      return;
    }
    auto backoff = std::chrono::milliseconds(1);
    const auto give_up =
        std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      auto sequence = client_->PublishWithAck(stream_, payload);
      if (sequence.ok()) {
        ++sent_;
        last_sequence_ = sequence->value();
        if (print_sequence) {
          std::printf("%llu\n",
                      static_cast<unsigned long long>(sequence->value()));
          std::fflush(stdout);
        }
        return;
      }
      if (sequence.status().code() != absl::StatusCode::kResourceExhausted ||
          std::chrono::steady_clock::now() > give_up) {
        tt::Die(sequence.status());
      }
      // Back-pressured: the gateway asks us to retry later.
      ++retries_;
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(100));
      KeepAlive();
    }
  }

  /// Sends what a UDP publisher batched.
  void Flush() {
    if (udp_ == nullptr) return;
    if (absl::Status s = udp_->Flush(); !s.ok()) tt::Die(s);
  }

  /// Heartbeats and asynchronous refusals; never blocks.
  void KeepAlive() {
    auto n = client_->Poll(tc::Client::kDefaultPollLimit);
    if (!n.ok()) tt::Die(n.status());
  }

  std::int64_t sent() const { return sent_; }
  std::int64_t retries() const { return retries_; }
  std::uint64_t last_sequence() const { return last_sequence_; }

 private:
  tc::Client* client_;
  tachyon::StreamId stream_;
  bool ack_;
  tc::UdpPublisher* udp_;
  std::int64_t sent_ = 0;
  std::int64_t retries_ = 0;
  std::uint64_t last_sequence_ = 0;
};

// Reads stdin with poll() so that heartbeats keep flowing while the user
// types (a blocking read would let the gateway time the session out).
void PublishStdin(Publisher& publisher, tc::Client& client) {
  std::string pending;
  char buf[64 * 1024];
  const auto wait_ms = static_cast<int>(std::clamp<std::int64_t>(
      client.heartbeat_interval().count() / 2, 1, 1000));
  bool eof = false;
  while (!eof && !tt::StopRequested()) {
    pollfd p{STDIN_FILENO, POLLIN, 0};
    const int ready = ::poll(&p, 1, wait_ms);
    publisher.KeepAlive();
    if (ready <= 0) continue;
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      tt::Die(absl::StrCat("reading stdin: ", std::strerror(errno)));
    }
    if (n == 0) {
      eof = true;
    } else {
      pending.append(buf, static_cast<std::size_t>(n));
    }
    std::size_t begin = 0;
    for (std::size_t nl; (nl = pending.find('\n', begin)) != std::string::npos;
         begin = nl + 1) {
      std::string_view line(pending.data() + begin, nl - begin);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      publisher.Send(line, /*print_sequence=*/true);
    }
    pending.erase(0, begin);
    if (eof && !pending.empty()) publisher.Send(pending, true);
    publisher.Flush();
  }
}

void PublishGenerated(Publisher& publisher, std::int64_t count, double rate,
                      std::size_t size) {
  std::string payload;
  payload.reserve(std::max<std::size_t>(size, 32));
  const std::int64_t start_ns = tt::MonotonicNs();
  for (std::int64_t i = 1; i <= count && !tt::StopRequested(); ++i) {
    if (rate > 0) {
      // Open loop: message i is due at start + (i-1)/rate, whatever the
      // previous sends cost.
      const auto due_ns =
          start_ns + static_cast<std::int64_t>((i - 1) * 1e9 / rate);
      for (std::int64_t now = tt::MonotonicNs(); now < due_ns;
           now = tt::MonotonicNs()) {
        publisher.KeepAlive();
        const std::int64_t left = due_ns - tt::MonotonicNs();
        if (left > 200'000) {
          std::this_thread::sleep_for(std::chrono::nanoseconds(left - 100'000));
        }
      }
    }
    payload.clear();
    absl::StrAppend(&payload, "message ", i);
    if (payload.size() < size) payload.resize(size, '.');
    publisher.Send(payload, /*print_sequence=*/false);
    // Paced messages leave at their due time; unpaced ones fill datagrams.
    if (rate > 0) publisher.Flush();
    if ((i & 255) == 0) publisher.KeepAlive();
  }
  publisher.Flush();
}

}  // namespace

int main(int argc, char** argv) {
  tt::ParseCommandLine(argc, argv, "tachyon-pub", kUsage);
  const std::string stream_name = absl::GetFlag(FLAGS_stream);
  if (stream_name.empty()) tt::Die("--stream is required", tt::kExitUsage);
  const std::int64_t count = absl::GetFlag(FLAGS_count);
  const double rate = absl::GetFlag(FLAGS_rate);
  const int size = absl::GetFlag(FLAGS_size);
  if (count < 0) tt::Die("--count: must not be negative", tt::kExitUsage);
  if (rate < 0) tt::Die("--rate: must not be negative", tt::kExitUsage);
  if (size < 0) tt::Die("--size: must not be negative", tt::kExitUsage);
  const std::string udp_target = absl::GetFlag(FLAGS_udp);
  std::string udp_host;
  std::uint16_t udp_port = 0;
  if (!udp_target.empty()) {
    const std::size_t colon = udp_target.rfind(':');
    std::uint32_t port = 0;
    if (colon == std::string::npos || colon == 0 ||
        !absl::SimpleAtoi(udp_target.substr(colon + 1), &port) || port < 1 ||
        port > 65535) {
      tt::Die(absl::StrCat("--udp: expected HOST:PORT (port 1..65535), got \"",
                           udp_target, "\""),
              tt::kExitUsage);
    }
    udp_host = udp_target.substr(0, colon);
    udp_port = static_cast<std::uint16_t>(port);
    if (absl::GetFlag(FLAGS_ack)) {
      tt::Die(
          "--ack: UDP publishing has no acknowledgement (drop --udp or "
          "--ack)",
          tt::kExitUsage);
    }
  }
  tc::UdpPublisherOptions udp_options{.batching = tc::UdpBatching::kFill};
  udp_options.producer_id = absl::GetFlag(FLAGS_producer_id);
  const std::string key_file = absl::GetFlag(FLAGS_key_file);
  if ((udp_options.producer_id != 0) != !key_file.empty() ||
      (udp_options.producer_id != 0 && udp_target.empty())) {
    tt::Die("--producer_id and --key_file go together, with --udp",
            tt::kExitUsage);
  }
  if (!key_file.empty()) {
    absl::StatusOr<tachyon::protocol::DatagramKey> key =
        tc::UdpPublisher::ReadKeyFile(key_file);
    if (!key.ok()) tt::Die(key.status());
    udp_options.key = *key;
  }

  tt::InstallStopHandler();
  std::int64_t refused = 0;
  auto client =
      tt::ConnectOrDie(tt::OptionsFromFlags([&](const absl::Status& s) {
        ++refused;
        tt::Warn(s);
      }));
  if (static_cast<std::size_t>(size) > client->max_payload_length()) {
    tt::Die(
        absl::StrCat("--size: ", size, " bytes exceeds the gateway's limit of ",
                     client->max_payload_length()),
        tt::kExitUsage);
  }
  auto stream = client->OpenStream(stream_name);
  if (!stream.ok()) tt::Die(stream.status());
  std::unique_ptr<tc::UdpPublisher> udp;
  if (udp_port != 0) {
    auto created = tc::UdpPublisher::Create(udp_host, udp_port, udp_options);
    if (!created.ok()) tt::Die(created.status());
    udp = std::move(*created);
    if (static_cast<std::size_t>(size) > udp->max_payload_length()) {
      tt::Die(absl::StrCat("--size: ", size,
                           " bytes does not fit one datagram (at most ",
                           udp->max_payload_length(), ")"),
              tt::kExitUsage);
    }
  }

  Publisher publisher(client.get(), *stream, absl::GetFlag(FLAGS_ack),
                      udp.get());
  const std::int64_t start_ns = tt::MonotonicNs();
  if (count > 0) {
    PublishGenerated(publisher, count, rate, static_cast<std::size_t>(size));
  } else {
    PublishStdin(publisher, *client);
  }
  const double seconds = (tt::MonotonicNs() - start_ns) / 1e9;
  // Close waits for the gateway's LOGOUT, by which time every refusal of a
  // fire-and-forget publish has been reported through on_error.
  if (absl::Status s = client->Close(); !s.ok()) tt::Die(s);
  if (!absl::GetFlag(FLAGS_quiet) && udp != nullptr) {
    tt::Warn(absl::StrFormat(
        "sent %d messages for %s (stream id %d) to %s in %d datagram(s) "
        "over UDP (source id %016x%s) in %.3f s; UDP is best effort: the "
        "gateway counts what it drops",
        udp->stats().messages, stream_name, stream->value(), udp->peer(),
        udp->stats().datagrams, udp->source_id(),
        udp_options.producer_id != 0
            ? absl::StrCat(", signed as producer ", udp_options.producer_id)
            : std::string(", unsigned"),
        seconds));
  } else if (!absl::GetFlag(FLAGS_quiet)) {
    tt::Warn(absl::StrFormat(
        "published %d messages to %s (stream id %d) in %.3f s (%.0f msg/s)%s",
        publisher.sent() - refused, stream_name, stream->value(), seconds,
        seconds > 0 ? publisher.sent() / seconds : 0.0,
        publisher.retries() > 0
            ? absl::StrCat(", ", publisher.retries(), " back-pressure retries")
            : ""));
  }
  if (refused > 0) {
    tt::Die(absl::StrCat(refused, " of ", publisher.sent(),
                         " messages were refused by the gateway"));
  }
  return 0;
}
