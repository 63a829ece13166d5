// tachyon::client::Client — automatic reconnection (ReconnectOptions):
// backoff with jitter, logging on again, re-opening streams, resuming each
// subscription from the next sequence it expects, and the bounded queue of
// publishes made while disconnected.
//
// Resuming relies on PROTOCOL.md 11.3 and 11.6: SUBSCRIBE from sequence N
// accounts for every sequence >= N exactly once (DATA, or GAP where no
// longer retained), and the first subscription covering a stream positions
// it. So each stream we were receiving is re-subscribed by exact name from
// its expected sequence before any pattern that covers it is renewed.
#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client_impl.h"
#include "session_core.h"
#include "socket.h"
#include "tachyon/client/client.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::client {

namespace tp = ::tachyon::protocol;
using internal::Clock;
using internal::ReplyKind;

namespace {

// Queue entry header: [u32 stream id as OpenStream returned it][u32 length].
constexpr std::size_t kQueueEntryHeader = 8;

}  // namespace

bool Client::Impl::ShouldReconnect(const absl::Status& status) const {
  return options_.reconnect.enabled && ever_logged_on_ && !closing_ &&
         !reconnect_in_progress_ &&
         status.code() == absl::StatusCode::kUnavailable;
}

void Client::Impl::TryReconnect() {
  ++attempts_;
  ++core_.stats().reconnect_attempts;
  reconnect_in_progress_ = true;
  const Clock::time_point deadline = Clock::now() + options_.connect_timeout;
  absl::Status status;
  absl::StatusOr<internal::UniqueFd> fd =
      internal::ConnectTcp(host_, port_, options_, deadline);
  if (fd.ok()) {
    fd_ = std::move(*fd);
    receive_timeout_ms_ = 0;
    open_ = true;
    closing_ = false;
    pending_ = {};
    core_.BeginConnection();
    status = Logon(deadline);
    if (status.ok()) status = ResumeSession();
  } else {
    status = fd.status();
  }
  reconnect_in_progress_ = false;
  if (status.ok() && open_) {
    reconnecting_ = false;
    attempts_ = 0;
    ++core_.stats().reconnects;
    closed_status_ = absl::OkStatus();
    return;
  }
  if (open_) {
    tls_.reset();
    fd_.reset();
    open_ = false;
    core_.MarkClosed();
  }
  // A gateway that refuses us (bad token, version, protocol violation) will
  // refuse again: stop. Anything else may heal.
  if (!internal::IsTransientConnectFailure(status)) {
    reconnecting_ = false;
    closed_status_ = status;
    return;
  }
  ScheduleRetry(status);
}

void Client::Impl::ScheduleRetry(const absl::Status& why) {
  const ReconnectOptions& r = options_.reconnect;
  if (r.max_attempts > 0 && attempts_ >= r.max_attempts) {
    reconnecting_ = false;
    closed_status_ = absl::UnavailableError(
        absl::StrCat("gave up reconnecting to ", core_.peer(), " after ",
                     attempts_, " attempts; last error: ", why.message()));
    return;
  }
  reconnecting_ = true;
  next_attempt_ =
      Clock::now() + internal::BackoffDelay(attempts_, r.initial_backoff,
                                            r.max_backoff, r.jitter, rng_);
  closed_status_ = absl::UnavailableError(
      absl::StrCat("not connected to ", core_.peer(), " (reconnect attempt ",
                   attempts_, " failed: ", why.message(), ")"));
}

absl::Status Client::Impl::ResubscribeOne(std::uint32_t id,
                                          std::string_view name,
                                          StartPosition start) {
  const std::size_t n = core_.EncodeSubscribe(ctl_, id, name, start);
  if (absl::Status s = SendFrame({ctl_.data(), n}); !s.ok()) return s;
  return AwaitReply(ReplyKind::kSubscribe, id,
                    Clock::now() + options_.response_timeout,
                    absl::StrCat("SUBSCRIBE_ACK for \"", std::string(name),
                                 "\" while resuming"));
}

absl::Status Client::Impl::ResumeSession() {
  // Delivery positions of the lost session, by name: stream ids belong to
  // one gateway run. A restarted gateway (another instance epoch) voids
  // them: every subscription starts again from the new run's earliest
  // message, all of which is new to us (options.h, GatewayRestart).
  const bool restarted = core_.PrepareResume();

  // Streams opened for publishing keep the ids OpenStream returned; map
  // them to this session's ids.
  for (const auto& [name, user_id] : core_.opened()) {
    const std::uint32_t request_id = core_.NextId();
    const std::size_t n = core_.EncodeOpenStream(ctl_, request_id, name);
    if (absl::Status s = SendFrame({ctl_.data(), n}); !s.ok()) return s;
    absl::Status s =
        AwaitReply(ReplyKind::kOpenStream, request_id,
                   Clock::now() + options_.response_timeout,
                   absl::StrCat("OPEN_STREAM_ACK for \"", name, "\""));
    if (!open_) return closed_status_;
    if (!s.ok()) {
      core_.SetWireId(user_id, 0);
      core_.ReportAsync(absl::Status(
          s.code(), absl::StrCat("re-opening stream \"", name,
                                 "\" after reconnecting: ", s.message())));
      continue;
    }
    core_.SetWireId(user_id, pending_.stream.value());
  }

  auto& subs = core_.subscriptions();
  // Exact-name subscriptions, from the next sequence each expects.
  for (auto& [id, sub] : subs) {
    if (!sub->active || sub->pattern) continue;
    absl::Status s =
        ResubscribeOne(id, sub->name,
                       restarted ? StartPosition::Earliest()
                                 : core_.ResumePosition(sub->name, sub->start));
    if (!open_) return closed_status_;
    if (!s.ok()) core_.ReportAsync(s);
  }

  // Patterns: first pin every stream they were delivering at its position
  // (aliases), then renew the pattern from the earliest retained message,
  // so that a matching stream created meanwhile is delivered from its start.
  for (auto& [id, sub] : subs) {
    if (!sub->active || !sub->pattern) continue;
    for (const auto& [name, expected] : core_.CoveredStreams(*sub)) {
      const std::uint32_t alias = core_.NextId();
      core_.AddAlias(*sub, alias);
      absl::Status s =
          ResubscribeOne(alias, name, StartPosition::From(expected));
      if (!open_) return closed_status_;
      if (!s.ok()) core_.ReportAsync(s);
    }
    absl::Status s = ResubscribeOne(id, sub->name, StartPosition::Earliest());
    if (!open_) return closed_status_;
    if (!s.ok()) core_.ReportAsync(s);
  }
  core_.ClearResume();

  FlushQueue();
  return open_ ? absl::OkStatus() : closed_status_;
}

absl::Status Client::Impl::PublishDisconnected(
    StreamId stream, std::span<const std::byte> payload) {
  if (!reconnecting_ ||
      options_.reconnect.publish == DisconnectedPublish::kError) {
    return closed_status_;
  }
  const absl::StatusOr<std::uint32_t> wire =
      CheckPublish(stream, payload.size());
  if (!wire.ok()) return wire.status();
  const std::size_t entry =
      kQueueEntryHeader + tp::PaddedLength(payload.size());
  if (queue_.size() + entry > options_.reconnect.queue_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "not connected to ", core_.peer(), " and the publish queue (",
        options_.reconnect.queue_bytes, " bytes) is full"));
  }
  // Within the capacity reserved at construction: no allocation.
  const std::size_t at = queue_.size();
  queue_.resize(at + entry);
  tp::StoreU32(queue_.data() + at, stream.value());
  tp::StoreU32(queue_.data() + at + 4,
               static_cast<std::uint32_t>(payload.size()));
  if (!payload.empty()) {
    std::memcpy(queue_.data() + at + kQueueEntryHeader, payload.data(),
                payload.size());
  }
  ++core_.stats().publishes_queued;
  return absl::OkStatus();
}

void Client::Impl::FlushQueue() {
  std::size_t at = 0;
  while (at < queue_.size() && open_) {
    const std::uint32_t stream = tp::LoadU32(queue_.data() + at);
    const std::uint32_t length = tp::LoadU32(queue_.data() + at + 4);
    const std::span<const std::byte> payload(
        queue_.data() + at + kQueueEntryHeader, length);
    const std::uint32_t wire = core_.WireId(StreamId{stream});
    if (wire == 0 || length > core_.max_payload()) {
      core_.ReportAsync(absl::FailedPreconditionError(absl::StrCat(
          "queued publish to stream ", stream,
          " not sent: the stream could not be re-opened or the gateway's "
          "frame limit shrank")));
    } else {
      const std::size_t n =
          core_.EncodePublish(tx(), wire, core_.NextCorrelation(), payload);
      if (!SendFrame({tx_.get(), n}).ok()) break;
    }
    at += kQueueEntryHeader + tp::PaddedLength(length);
  }
  // What a new loss of the connection interrupted stays queued.
  queue_.erase(queue_.begin(),
               queue_.begin() +
                   static_cast<std::ptrdiff_t>(std::min(at, queue_.size())));
}

}  // namespace tachyon::client
