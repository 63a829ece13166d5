// tachyon::client::UdpSubscriber — datagram validation and per-stream
// sequencing with TCP recovery through the Client; the socket is
// udp_receiver.h's. See udp_subscriber.h for the contract.
#include "tachyon/client/udp_subscriber.h"

#include <poll.h>

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "socket.h"
#include "tachyon/protocol/protocol.h"
#include "udp_receiver.h"

namespace tachyon::client {

namespace tp = ::tachyon::protocol;
using internal::Clock;

namespace {

// Recoveries asked for again in a row when TCP starts elsewhere than asked
// (OnTcpMessage), before what it skipped is reported as a gap.
constexpr int kMaxRerequests = 3;

// How a stream is being delivered.
enum class Path : std::uint8_t {
  kUdp,              // from datagrams
  kRecovering,       // from a TCP recovery subscription
  kRecoveryPending,  // lost sequences, but the recovery could not start yet
};

struct UdpStream {
  std::string name;
  // 0 while unknown: after a gateway restart, until TCP names the new id.
  StreamId id;
  // Added with Subscribe (UDP_SUBSCRIBE) rather than Join.
  bool requested = false;
  SubscriptionId delivery;
  // Next sequence owed to the handlers; 0 = position on the first datagram.
  Sequence expected;
  Path path = Path::kUdp;
  SubscriptionId recovery;
  // The recovery's TCP delivery has shown it starts at `expected` (a DATA
  // or gateway GAP there). Until then, what lands beyond `expected` is a
  // misplaced delivery, not a loss (see OnTcpMessage).
  bool recovery_confirmed = false;
  // Recoveries asked again in a row because TCP started elsewhere.
  int rerequests = 0;
  Clock::time_point retry_at;
  MessageHandler on_message;
  GapHandler on_gap;
  bool active = true;
};

}  // namespace

class UdpSubscriber::Impl {
 public:
  Impl(Client& client, const UdpSubscriberOptions& options)
      : client_(client), options_(options) {}
  ~Impl();

  absl::Status Open();
  absl::StatusOr<StreamId> Add(std::string_view name, StartPosition start,
                               MessageHandler on_message, GapHandler on_gap,
                               bool request);
  absl::Status Unsubscribe(StreamId stream);
  absl::StatusOr<int> Poll(int max_messages, std::chrono::milliseconds timeout);

  std::uint16_t local_port() const { return receiver_.local_port(); }
  const std::string& local_address() const { return receiver_.local_address(); }
  int fd() const { return receiver_.fd(); }
  const UdpSubscriberStats& stats() const { return stats_; }

 private:
  // --- Datagrams -----------------------------------------------------------
  /// Delivers datagrams already read, then reads more, until `budget`
  /// messages were delivered or the socket is empty.
  int ReceiveDatagrams(int budget);
  int HandleDatagram(std::span<const std::byte> bytes, bool truncated);
  int HandleData(UdpStream& stream, const tp::DatagramView& datagram);
  void HandleHeartbeat(UdpStream& stream, Sequence next);
  // A datagram or heartbeat at or behind `expected` may end a recovery once
  // it has delivered from `expected` (or never started): before that, a late
  // duplicate from before the loss says nothing about what follows.
  static bool RecoveryMayEnd(const UdpStream& stream);
  void SourceChanged(std::uint64_t source);
  UdpStream* Find(StreamId id);

  // --- TCP side ------------------------------------------------------------
  /// Starts the TCP recovery of `stream` from its expected sequence.
  void StartRecovery(UdpStream& stream);
  /// Back to UDP: ends the recovery subscription.
  void EndRecovery(UdpStream& stream);
  /// The recovery's TCP delivery did not start at `expected`: ends it and
  /// asks again (from the next Poll) rather than report a gap the gateway
  /// may still hold. Send-only, so a handler may call it.
  void Rerequest(UdpStream& stream);
  void OnTcpMessage(UdpStream& stream, const Message& message);
  void OnTcpGap(UdpStream& stream, const Gap& gap);
  /// UDP_SUBSCRIBE for `stream`; on success sets its id and returns the
  /// first sequence the datagrams carry.
  absl::StatusOr<Sequence> Request(UdpStream& stream);
  /// After the Client reconnected: request the UDP deliveries again.
  void RenewDeliveries();
  /// Retries recoveries that could not start.
  void RetryPending();
  void Deliver(UdpStream& stream, const Message& message);
  /// Counts `gap` (of `stream`, from its expected sequence), passes it to
  /// the handler and moves past it.
  void ReportGap(UdpStream& stream, const Gap& gap);
  void Report(absl::Status status);
  void Cleanup();

  Client& client_;
  UdpSubscriberOptions options_;
  internal::UdpReceiver receiver_;

  // --- Streams -------------------------------------------------------------
  // Few streams per socket, so a linear scan serves; the states must not
  // move (recovery handlers hold pointers to them).
  std::vector<std::unique_ptr<UdpStream>> streams_;
  bool needs_cleanup_ = false;
  int pending_recoveries_ = 0;
  std::uint64_t source_ = 0;           // the current gateway instance
  std::uint64_t previous_source_ = 0;  // the one it replaced
  std::uint64_t reconnects_seen_ = 0;
  int in_poll_ = 0;
  UdpSubscriberStats stats_;
};

// ======================================================================
// Setup

absl::Status UdpSubscriber::Impl::Open() {
  if (!client_.connected()) {
    return absl::FailedPreconditionError(
        "UdpSubscriber needs a connected Client");
  }
  reconnects_seen_ = client_.stats().reconnects;
  return receiver_.Open(options_, client_.fd());
}

UdpSubscriber::Impl::~Impl() {
  if (!client_.connected()) return;
  for (const auto& stream : streams_) {
    if (!stream->active) continue;
    if (stream->path == Path::kRecovering) {
      (void)client_.Unsubscribe(stream->recovery);
    }
    if (stream->requested) (void)client_.Unsubscribe(stream->delivery);
  }
}

// ======================================================================
// Streams

UdpStream* UdpSubscriber::Impl::Find(StreamId id) {
  for (const auto& stream : streams_) {
    if (stream->id == id && stream->active) return stream.get();
  }
  return nullptr;
}

absl::StatusOr<StreamId> UdpSubscriber::Impl::Add(std::string_view name,
                                                  StartPosition start,
                                                  MessageHandler on_message,
                                                  GapHandler on_gap,
                                                  bool request) {
  if (in_poll_ > 0) {
    return absl::FailedPreconditionError(
        "UdpSubscriber: Subscribe and Join cannot be called from a handler");
  }
  if (!on_message) {
    return absl::InvalidArgumentError("UDP subscription needs a handler");
  }
  if (start.mode() == tp::StartMode::kEarliest) {
    return absl::InvalidArgumentError(
        "UDP subscriptions start at Latest or From(n); for everything the "
        "gateway retains use From(1)");
  }
  if (start.mode() == tp::StartMode::kSequence &&
      start.sequence().value() == 0) {
    return absl::InvalidArgumentError(
        "start sequence must be >= 1 (sequences start at 1)");
  }
  if (request && receiver_.multicast()) {
    return absl::FailedPreconditionError(
        "multicast groups are configured at the gateway ([[udp.groups]]); "
        "use Join");
  }
  if (needs_cleanup_) Cleanup();
  for (const auto& s : streams_) {
    if (s->name == name) {
      return absl::AlreadyExistsError(
          absl::StrCat("stream \"", std::string(name),
                       "\" is already received by this UdpSubscriber"));
    }
  }
  auto stream = std::make_unique<UdpStream>();
  stream->name = std::string(name);
  stream->requested = request;
  stream->on_message = std::move(on_message);
  stream->on_gap = std::move(on_gap);
  Sequence first;  // the first sequence UDP will carry, if known
  if (request) {
    absl::StatusOr<Sequence> next = Request(*stream);
    if (!next.ok()) return next.status();
    first = *next;
  } else {
    absl::StatusOr<StreamId> id = client_.OpenStream(name);
    if (!id.ok()) return id.status();
    stream->id = *id;
  }
  UdpStream& s = *streams_.emplace_back(std::move(stream));
  if (start.mode() == tp::StartMode::kSequence) {
    s.expected = start.sequence();
    // Replay what precedes the datagrams (when it is known to).
    if (first.value() != 0 && s.expected < first) StartRecovery(s);
  } else {
    s.expected = first;  // 0 for Join: the first datagram positions it
  }
  return s.id;
}

absl::StatusOr<Sequence> UdpSubscriber::Impl::Request(UdpStream& stream) {
  absl::StatusOr<UdpDelivery> d = client_.SubscribeUdp(
      stream.name, receiver_.request_address(), receiver_.local_port());
  if (!d.ok()) return d.status();
  stream.delivery = d->subscription_id;
  stream.id = d->stream_id;
  return d->next_sequence;
}

absl::Status UdpSubscriber::Impl::Unsubscribe(StreamId id) {
  UdpStream* stream = Find(id);
  if (stream == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("stream ", id.value(), " is not received here"));
  }
  stream->active = false;
  needs_cleanup_ = true;
  absl::Status status;
  if (stream->path == Path::kRecovering) {
    status = client_.Unsubscribe(stream->recovery);
  } else if (stream->path == Path::kRecoveryPending) {
    --pending_recoveries_;
  }
  stream->path = Path::kUdp;
  if (stream->requested) {
    absl::Status s = client_.Unsubscribe(stream->delivery);
    if (status.ok()) status = std::move(s);
  }
  if (in_poll_ == 0) Cleanup();
  return status;
}

void UdpSubscriber::Impl::Cleanup() {
  needs_cleanup_ = false;
  streams_.erase(std::remove_if(streams_.begin(), streams_.end(),
                                [](const auto& s) { return !s->active; }),
                 streams_.end());
}

// ======================================================================
// The duty cycle

absl::StatusOr<int> UdpSubscriber::Impl::Poll(
    int max_messages, std::chrono::milliseconds timeout) {
  if (max_messages <= 0) {
    return absl::InvalidArgumentError("Poll: max_messages must be >= 1");
  }
  if (in_poll_ > 0) {
    return absl::FailedPreconditionError(
        "UdpSubscriber::Poll called from a handler");
  }
  ++in_poll_;
  struct Exit {
    int* depth;
    ~Exit() { --*depth; }
  } exit{&in_poll_};
  if (needs_cleanup_) Cleanup();
  if (client_.stats().reconnects != reconnects_seen_ && client_.connected()) {
    reconnects_seen_ = client_.stats().reconnects;
    RenewDeliveries();
  }
  if (pending_recoveries_ > 0) RetryPending();

  int delivered = 0;
  bool waited = false;
  for (;;) {
    // TCP first: recovery data precedes the datagrams that end it.
    absl::StatusOr<int> tcp =
        client_.Poll(max_messages - delivered, std::chrono::milliseconds(0));
    if (!tcp.ok()) return tcp.status();
    delivered += *tcp;
    if (delivered < max_messages) {
      delivered += ReceiveDatagrams(max_messages - delivered);
    }
    if (delivered > 0 || timeout.count() <= 0 || waited) break;
    waited = true;
    // Both sockets, but wake at least once per heartbeat interval so that
    // the Client's Poll can send ours.
    pollfd fds[2] = {{receiver_.fd(), POLLIN, 0}, {client_.fd(), POLLIN, 0}};
    const auto wait = std::min(timeout, client_.heartbeat_interval());
    (void)::poll(fds, 2, static_cast<int>(wait.count()));
  }
  return delivered;
}

int UdpSubscriber::Impl::ReceiveDatagrams(int budget) {
  int delivered = 0;
  receiver_.BeginRound();
  while (delivered < budget) {
    const std::optional<internal::ReceivedDatagram> d = receiver_.Next();
    if (!d) break;
    delivered += HandleDatagram(d->bytes, d->truncated);
  }
  stats_.kernel_drops = receiver_.kernel_drops();
  return delivered;
}

int UdpSubscriber::Impl::HandleDatagram(std::span<const std::byte> bytes,
                                        bool truncated) {
  ++stats_.datagrams;
  if (truncated) [[unlikely]] {
    ++stats_.malformed;
    return 0;
  }
  const tp::DatagramResult r =
      tp::DecodeDatagram(bytes, client_.max_frame_length());
  // PUBLISH datagrams go to the gateway, never to a subscriber.
  if (r.error != tp::ErrorCode::kNone ||
      r.view.kind() == tp::DatagramKind::kPublish) [[unlikely]] {
    ++stats_.malformed;
    return 0;
  }
  const std::uint64_t source = r.view.source_id();
  if (source != source_) [[unlikely]] {
    if (source == previous_source_) {
      ++stats_.stale_source;
      return 0;
    }
    SourceChanged(source);
  }
  UdpStream* stream = Find(r.view.stream_id());
  if (stream == nullptr) {
    ++stats_.unknown_stream;
    return 0;
  }
  if (r.view.kind() == tp::DatagramKind::kHeartbeat) {
    ++stats_.heartbeats;
    HandleHeartbeat(*stream, r.view.first_sequence());
    return 0;
  }
  return HandleData(*stream, r.view);
}

int UdpSubscriber::Impl::HandleData(UdpStream& stream,
                                    const tp::DatagramView& datagram) {
  const Sequence first = datagram.first_sequence();
  const std::uint64_t count = datagram.message_count();
  if (stream.expected.value() == 0) stream.expected = first;
  if (first > stream.expected) {
    // Lost datagrams before this one: TCP carries the stream, this
    // datagram's messages included, until a datagram reaches `expected`.
    if (stream.path == Path::kUdp) StartRecovery(stream);
    return 0;
  }
  // UDP is at `expected` again, or behind it: TCP (read first in Poll)
  // often runs ahead, and waiting for a datagram that straddles `expected`
  // could wait forever with one message per datagram. The datagrams that
  // follow reach `expected` in order; a later loss starts a new recovery.
  // Until the recovery has delivered from `expected` (confirmed), only a
  // datagram that reaches `expected` ends it: a late duplicate from before
  // the loss says nothing about what follows.
  const bool reaches = first.value() + count > stream.expected.value();
  if (stream.path != Path::kUdp && (reaches || RecoveryMayEnd(stream))) {
    EndRecovery(stream);
  }
  if (!reaches) {
    stats_.duplicates += count;
    return 0;
  }
  int delivered = 0;
  for (const tp::FrameView frame : datagram) {
    const tp::DataView data(frame);
    if (data.sequence() < stream.expected) {
      ++stats_.duplicates;
      continue;
    }
    // A handler may have ended the stream.
    if (!stream.active) break;
    Deliver(stream, Message{.stream_id = stream.id,
                            .stream_name = stream.name,
                            .sequence = data.sequence(),
                            .timestamp_ns = data.timestamp_ns(),
                            .payload = data.payload()});
    ++stats_.messages;
    ++delivered;
  }
  return delivered;
}

bool UdpSubscriber::Impl::RecoveryMayEnd(const UdpStream& stream) {
  return stream.path != Path::kRecovering || stream.recovery_confirmed;
}

void UdpSubscriber::Impl::HandleHeartbeat(UdpStream& stream, Sequence next) {
  if (stream.expected.value() == 0) {
    stream.expected = next;
    return;
  }
  if (next > stream.expected) {
    if (stream.path == Path::kUdp) StartRecovery(stream);
  } else if (stream.path != Path::kUdp && RecoveryMayEnd(stream)) {
    // TCP delivered everything UDP has sent so far (or more); the next
    // datagrams reach `expected`.
    EndRecovery(stream);
  }
}

void UdpSubscriber::Impl::SourceChanged(std::uint64_t source) {
  const bool first = source_ == 0;
  previous_source_ = source_;
  source_ = source;
  if (first) return;
  ++stats_.source_changes;
  Report(absl::AbortedError(absl::StrCat(
      "UDP datagrams now come from gateway instance ", source, " (was ",
      previous_source_,
      "): the gateway restarted; re-syncing every stream over TCP from "
      "sequence 1")));
  for (const auto& s : streams_) {
    if (!s->active) continue;
    UdpStream& stream = *s;
    EndRecovery(stream);
    // Requested streams were renewed on reconnect, which named their ids in
    // the new instance; joined ones learn theirs from the recovery's DATA.
    if (!stream.requested) stream.id = StreamId{};
    stream.expected = Sequence{1};
    StartRecovery(stream);
  }
}

// ======================================================================
// TCP recovery

void UdpSubscriber::Impl::StartRecovery(UdpStream& stream) {
  if (stream.path == Path::kUdp) ++stats_.gaps_detected;
  if (stream.path == Path::kRecoveryPending) --pending_recoveries_;
  UdpStream* s = &stream;
  absl::StatusOr<SubscriptionId> id = client_.Subscribe(
      stream.name, StartPosition::From(stream.expected),
      [this, s](const Message& m) { OnTcpMessage(*s, m); },
      [this, s](const Gap& g) { OnTcpGap(*s, g); });
  if (id.ok()) {
    ++stats_.recoveries;
    stream.path = Path::kRecovering;
    stream.recovery = *id;
    stream.recovery_confirmed = false;
    return;
  }
  stream.path = Path::kRecoveryPending;
  ++pending_recoveries_;
  stream.retry_at = Clock::now() + options_.recovery_retry_interval;
  Report(absl::Status(
      id.status().code(),
      absl::StrCat("cannot recover \"", stream.name, "\" from sequence ",
                   stream.expected.value(),
                   " over TCP (retrying): ", id.status().message())));
}

void UdpSubscriber::Impl::EndRecovery(UdpStream& stream) {
  if (stream.path == Path::kRecovering) {
    // NOT_FOUND or UNAVAILABLE: the subscription is gone already.
    (void)client_.Unsubscribe(stream.recovery);
  } else if (stream.path == Path::kRecoveryPending) {
    --pending_recoveries_;
  }
  stream.path = Path::kUdp;
  stream.rerequests = 0;
}

void UdpSubscriber::Impl::Rerequest(UdpStream& stream) {
  (void)client_.Unsubscribe(stream.recovery);
  stream.path = Path::kRecoveryPending;
  ++pending_recoveries_;
  // At once the first time (the next Poll); again only after the retry
  // interval, in case the gateway keeps placing it elsewhere.
  stream.retry_at = stream.rerequests++ == 0
                        ? Clock::now()
                        : Clock::now() + options_.recovery_retry_interval;
}

void UdpSubscriber::Impl::RetryPending() {
  if (!client_.connected()) return;
  const Clock::time_point now = Clock::now();
  for (const auto& s : streams_) {
    if (s->active && s->path == Path::kRecoveryPending && now >= s->retry_at) {
      StartRecovery(*s);
    }
  }
}

void UdpSubscriber::Impl::RenewDeliveries() {
  for (const auto& s : streams_) {
    if (!s->active || !s->requested) continue;
    UdpStream& stream = *s;
    // The old delivery ended with its session; forget its id.
    (void)client_.Unsubscribe(stream.delivery);
    absl::StatusOr<Sequence> next = Request(stream);
    if (!next.ok()) {
      Report(absl::Status(
          next.status().code(),
          absl::StrCat("cannot renew the UDP delivery of \"", stream.name,
                       "\" after reconnecting: ", next.status().message())));
      continue;
    }
    if (*next < stream.expected) {
      // The stream is behind our position: a restarted gateway whose
      // stream began again. Everything of the new instance is owed.
      EndRecovery(stream);
      stream.expected = Sequence{1};
    }
    if (*next > stream.expected && stream.path == Path::kUdp) {
      StartRecovery(stream);
    }
  }
}

void UdpSubscriber::Impl::OnTcpMessage(UdpStream& stream, const Message& m) {
  // After the switch back to UDP, or a replay of what UDP delivered.
  if (stream.path != Path::kRecovering || !stream.active ||
      m.sequence < stream.expected) {
    ++stats_.duplicates;
    return;
  }
  if (stream.id.value() == 0) stream.id = m.stream_id;
  if (!stream.recovery_confirmed) {
    if (m.sequence > stream.expected && stream.rerequests < kMaxRerequests) {
      // A recovery asked for `expected` starts there (or with a GAP
      // there). Starting later, it is a delivery the session positioned
      // elsewhere — one still ending when the recovery was asked for,
      // acknowledged with next_sequence 0 — not a loss: ask again. One
      // that stays elsewhere is the Client's own subscription to the
      // stream (see Threading in the header): then the gap is reported.
      Rerequest(stream);
      return;
    }
    stream.recovery_confirmed = true;
    if (m.sequence == stream.expected) stream.rerequests = 0;
  }
  if (m.sequence > stream.expected) {
    // Not a loss the gateway reported: the session positioned the stream
    // elsewhere (see Threading in the header).
    ReportGap(stream, {.stream_id = m.stream_id,
                       .stream_name = stream.name,
                       .from = stream.expected,
                       .to = Sequence{m.sequence.value() - 1},
                       .origin = GapOrigin::kDetected});
  }
  ++stats_.recovered;
  Deliver(stream, m);
}

void UdpSubscriber::Impl::OnTcpGap(UdpStream& stream, const Gap& gap) {
  if (stream.path != Path::kRecovering || !stream.active ||
      gap.to < stream.expected) {
    return;
  }
  if (stream.id.value() == 0) stream.id = gap.stream_id;
  if (!stream.recovery_confirmed) {
    // As in OnTcpMessage: only the gateway's own GAP from `expected` on
    // starts a recovery; anything else means it started elsewhere.
    if ((gap.from > stream.expected || gap.origin != GapOrigin::kGateway) &&
        stream.rerequests < kMaxRerequests) {
      Rerequest(stream);
      return;
    }
    stream.recovery_confirmed = true;
    if (gap.from <= stream.expected) stream.rerequests = 0;
  }
  Gap rest = gap;  // the part not delivered already
  rest.from = std::max(gap.from, stream.expected);
  ReportGap(stream, rest);
}

void UdpSubscriber::Impl::Deliver(UdpStream& stream, const Message& message) {
  stream.expected = message.sequence.Next();
  stream.on_message(message);
}

void UdpSubscriber::Impl::ReportGap(UdpStream& stream, const Gap& gap) {
  stream.expected = gap.to.Next();
  ++stats_.gaps;
  stats_.messages_lost += gap.count();
  if (stream.on_gap) stream.on_gap(gap);
}

void UdpSubscriber::Impl::Report(absl::Status status) {
  if (options_.on_error) options_.on_error(status);
}

// ======================================================================
// UdpSubscriber: forwards to Impl.

absl::StatusOr<std::unique_ptr<UdpSubscriber>> UdpSubscriber::Create(
    Client& client, const UdpSubscriberOptions& options) {
  auto impl = std::make_unique<Impl>(client, options);
  if (absl::Status s = impl->Open(); !s.ok()) return s;
  return std::unique_ptr<UdpSubscriber>(new UdpSubscriber(std::move(impl)));
}

UdpSubscriber::UdpSubscriber(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
UdpSubscriber::~UdpSubscriber() = default;

absl::StatusOr<StreamId> UdpSubscriber::Subscribe(std::string_view name,
                                                  StartPosition start,
                                                  MessageHandler on_message,
                                                  GapHandler on_gap) {
  return impl_->Add(name, start, std::move(on_message), std::move(on_gap),
                    /*request=*/true);
}
absl::StatusOr<StreamId> UdpSubscriber::Join(std::string_view name,
                                             StartPosition start,
                                             MessageHandler on_message,
                                             GapHandler on_gap) {
  return impl_->Add(name, start, std::move(on_message), std::move(on_gap),
                    /*request=*/false);
}
absl::Status UdpSubscriber::Unsubscribe(StreamId stream) {
  return impl_->Unsubscribe(stream);
}
absl::StatusOr<int> UdpSubscriber::Poll(int max_messages,
                                        std::chrono::milliseconds timeout) {
  return impl_->Poll(max_messages, timeout);
}
std::uint16_t UdpSubscriber::local_port() const { return impl_->local_port(); }
const std::string& UdpSubscriber::local_address() const {
  return impl_->local_address();
}
int UdpSubscriber::fd() const { return impl_->fd(); }
const UdpSubscriberStats& UdpSubscriber::stats() const {
  return impl_->stats();
}

}  // namespace tachyon::client
