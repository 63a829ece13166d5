// tachyon::client::Client — the public methods: connecting and logging on,
// publishing, opening streams, subscribing, requests and closing. The
// receive loop is in client_receive.cpp; the protocol itself in the
// SessionCore (session_core.cpp).
#include "tachyon/client/client.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "backoff.h"
#include "client_impl.h"
#include "session_core.h"
#include "socket.h"
#include "status.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::client {

namespace tp = ::tachyon::protocol;
using internal::Clock;
using internal::Quoted;
using internal::ReplyKind;

// ======================================================================
// Construction, logon, close

Client::Impl::Impl(internal::UniqueFd fd, std::string host, std::uint16_t port,
                   const ClientOptions& options)
    : fd_(std::move(fd)),
      host_(std::move(host)),
      port_(port),
      options_(options),
      core_(options_, *this),
      rng_(
          static_cast<std::uint32_t>(Clock::now().time_since_epoch().count())) {
  core_.set_peer(internal::PeerName(host_, port_));
  if (options_.reconnect.enabled &&
      options_.reconnect.publish == DisconnectedPublish::kQueue) {
    queue_.reserve(options_.reconnect.queue_bytes);
  }
}

Client::Impl::~Impl() {
  (void)StopBackgroundPolling();
  if (open_ && core_.phase() == internal::SessionCore::Phase::kOpen) {
    SendBestEffort(internal::SessionCore::LogoutFrame());
    // A graceful end: close_notify before the FIN.
    if (tls_ != nullptr) (void)tls_->SendCloseNotify();
  }
}

absl::Status Client::Impl::Logon(Clock::time_point deadline) {
  if (absl::Status s = internal::CheckLogonFields(options_); !s.ok()) return s;
  tls_.reset();
  if (options_.tls.enabled) {
    absl::StatusOr<std::unique_ptr<internal::TlsSocket>> tls =
        internal::TlsSocket::Connect(fd_.get(), host_, options_, deadline);
    if (!tls.ok()) return tls.status();
    tls_ = *std::move(tls);
  }
  const std::size_t n = core_.EncodeLogon(ctl_);
  if (absl::Status s = SendFrame({ctl_.data(), n}); !s.ok()) return s;
  return AwaitReply(ReplyKind::kLogon, 0, deadline, "answer to LOGON");
}

absl::Status Client::Impl::Close() {
  if (core_.in_callback()) {
    return absl::FailedPreconditionError(
        "Close called from a handler; call it after Poll returns");
  }
  if (open_ && core_.phase() == internal::SessionCore::Phase::kOpen) {
    closing_ = true;
    const std::size_t n = core_.EncodeLogout(ctl_);
    // The gateway answers LOGOUT and closes; wait for either, discarding
    // DATA (the core delivers nothing once closing).
    if (SendFrame({ctl_.data(), n}).ok()) {
      (void)AwaitReply(ReplyKind::kLogout, 0,
                       Clock::now() + options_.close_timeout, "LOGOUT");
    }
    // A graceful end: close_notify before the FIN.
    if (tls_ != nullptr) (void)tls_->SendCloseNotify();
  }
  tls_.reset();
  fd_.reset();
  open_ = false;
  core_.MarkClosed();
  core_.DropHeld();
  reconnecting_ = false;
  closed_status_ = absl::FailedPreconditionError(
      absl::StrCat("client for ", core_.peer(), " is closed"));
  return absl::OkStatus();
}

// ======================================================================
// Publishing

absl::StatusOr<std::uint32_t> Client::Impl::CheckPublish(
    StreamId stream, std::size_t length) const {
  if (claimed_) [[unlikely]] {
    return absl::FailedPreconditionError(
        "a claim is outstanding; Commit or Abort it first");
  }
  return core_.CheckPublish(stream, length, "OpenStream");
}

absl::Status Client::Impl::Publish(StreamId stream,
                                   std::span<const std::byte> payload) {
  if (!open_) [[unlikely]] {
    return PublishDisconnected(stream, payload);
  }
  const absl::StatusOr<std::uint32_t> wire =
      CheckPublish(stream, payload.size());
  if (!wire.ok()) return wire.status();
  const std::uint64_t correlation = core_.NextCorrelation();
  if (batch_limit_ > 0) {
    // Coalescing: encode straight into the batch; send when it is full.
    const std::size_t frame =
        tp::PaddedLength(tp::PublishView::kFixedLength + payload.size());
    if (batch_used_ + frame > batch_limit_ && batch_used_ > 0) {
      if (absl::Status s = FlushBatch(); !s.ok()) return s;
    }
    if (frame <= batch_limit_) {
      core_.EncodePublish({batch_.get() + batch_used_, frame}, *wire,
                          correlation, payload);
      batch_used_ += frame;
      return batch_used_ >= batch_limit_ ? FlushBatch() : absl::OkStatus();
    }
  }
  const std::size_t n = core_.EncodePublish(tx(), *wire, correlation, payload);
  return SendFrame({tx_.get(), n});
}

absl::StatusOr<Sequence> Client::Impl::PublishWithAck(
    StreamId stream, std::span<const std::byte> payload) {
  if (absl::Status s = CheckReceivingCall("PublishWithAck"); !s.ok()) {
    return s;
  }
  const absl::StatusOr<std::uint32_t> wire =
      CheckPublish(stream, payload.size());
  if (!wire.ok()) return wire.status();
  const std::uint64_t correlation = core_.NextCorrelation();
  const std::size_t n = core_.EncodePublish(tx(), *wire, correlation, payload,
                                            tp::AckMode::kRequested);
  if (absl::Status s = SendFrame({tx_.get(), n}); !s.ok()) return s;
  if (absl::Status s =
          AwaitReply(ReplyKind::kPublishAck, correlation,
                     Clock::now() + options_.response_timeout, "PUBLISH_ACK");
      !s.ok()) {
    return s;
  }
  return pending_.sequence;
}

absl::StatusOr<std::span<std::byte>> Client::Impl::TryClaim(
    StreamId stream, std::size_t length) {
  if (!open_ && !(reconnecting_ &&
                  options_.reconnect.publish == DisconnectedPublish::kQueue)) {
    return closed_status_;
  }
  const absl::StatusOr<std::uint32_t> wire = CheckPublish(stream, length);
  if (!wire.ok()) return wire.status();
  const std::size_t frame =
      tp::PaddedLength(tp::PublishView::kFixedLength + length);
  // Coalescing: claim in place inside the batch, behind what it holds, so
  // that claimed frames leave with the published ones, in order.
  claim_in_batch_ = open_ && batch_limit_ > 0 && frame <= batch_limit_;
  std::span<std::byte> out = tx();
  if (claim_in_batch_) {
    if (batch_used_ + frame > batch_limit_ && batch_used_ > 0) {
      if (absl::Status s = FlushBatch(); !s.ok()) return s;
    }
    claim_offset_ = batch_used_;
    out = {batch_.get() + claim_offset_, frame};
  }
  std::span<std::byte> payload =
      tp::BeginPublish(out, StreamId{*wire}, core_.NextCorrelation(), length,
                       tp::AckMode::kNone);
  claimed_ = true;
  claim_stream_ = stream;
  claim_length_ = length;
  return payload;
}

absl::Status Client::Impl::Commit() {
  if (!claimed_) {
    return absl::FailedPreconditionError("Commit without a TryClaim");
  }
  claimed_ = false;
  const std::size_t frame =
      tp::PaddedLength(tp::PublishView::kFixedLength + claim_length_);
  std::byte* at = claim_in_batch_ ? batch_.get() + claim_offset_ : tx_.get();
  const std::span<const std::byte> payload(at + tp::PublishView::kFixedLength,
                                           claim_length_);
  if (!open_) return PublishDisconnected(claim_stream_, payload);
  // The connection may have been replaced since TryClaim (a claim spans no
  // Poll, but be exact): stamp the stream's current id.
  tp::StoreU32(at + tp::kStreamIdOffset, core_.WireId(claim_stream_));
  ++core_.stats().publishes;
  if (!claim_in_batch_) return SendFrame({at, frame});
  // A Flush or Poll since TryClaim sent what the batch held before the
  // claim; the claimed frame moves up behind whatever it holds now.
  if (claim_offset_ != batch_used_) {
    std::memmove(batch_.get() + batch_used_, at, frame);
  }
  batch_used_ += frame;
  return batch_used_ >= batch_limit_ ? FlushBatch() : absl::OkStatus();
}

// ======================================================================
// Streams and subscriptions

absl::StatusOr<StreamId> Client::Impl::OpenStream(std::string_view name) {
  if (!core_.in_callback()) {
    // Answered from the cache even while reconnecting.
    if (const std::optional<StreamId> id = core_.FindOpened(name)) return *id;
  }
  if (absl::Status s = CheckReceivingCall("OpenStream"); !s.ok()) return s;
  if (absl::Status s = internal::CheckStreamName(name, false); !s.ok()) {
    return s;
  }
  const std::uint32_t request_id = core_.NextId();
  const std::size_t n = core_.EncodeOpenStream(ctl_, request_id, name);
  if (absl::Status s = SendFrame({ctl_.data(), n}); !s.ok()) return s;
  if (absl::Status s =
          AwaitReply(ReplyKind::kOpenStream, request_id,
                     Clock::now() + options_.response_timeout,
                     absl::StrCat("OPEN_STREAM_ACK for ", Quoted(name)));
      !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("open stream ", Quoted(name),
                                               ": ", s.message()));
  }
  const StreamId id = pending_.stream;
  core_.RecordOpened(name, id);
  return id;
}

absl::StatusOr<SubscriptionId> Client::Impl::Subscribe(
    std::string_view name, StartPosition start, MessageHandler on_message,
    GapHandler on_gap) {
  if (absl::Status s = CheckReceivingCall("Subscribe"); !s.ok()) return s;
  if (absl::Status s =
          internal::CheckSubscribe(name, start, on_message, "Subscribe");
      !s.ok()) {
    return s;
  }
  const std::uint32_t id = core_.NextId();
  core_.AddSubscription(id, name, start, std::move(on_message),
                        std::move(on_gap));
  const std::size_t n = core_.EncodeSubscribe(ctl_, id, name, start);
  absl::Status s = SendFrame({ctl_.data(), n});
  if (s.ok()) {
    s = AwaitReply(ReplyKind::kSubscribe, id,
                   Clock::now() + options_.response_timeout,
                   absl::StrCat("SUBSCRIBE_ACK for ", Quoted(name)));
  }
  if (!s.ok()) {
    (void)core_.EndSubscription(SubscriptionId{id});
    if (open_ && s.code() == absl::StatusCode::kDeadlineExceeded) {
      // The gateway may still act on it; make sure it stops.
      const std::size_t u = tp::EncodeUnsubscribe(ctl_, SubscriptionId{id});
      (void)SendFrame({ctl_.data(), u});
    }
    core_.CleanupIfIdle();
    return absl::Status(s.code(), absl::StrCat("subscribe to ", Quoted(name),
                                               ": ", s.message()));
  }
  return SubscriptionId{id};
}

absl::Status Client::Impl::Unsubscribe(SubscriptionId id) {
  if (!open_ && !reconnecting_) return closed_status_;
  const absl::StatusOr<const internal::Subscription*> sub =
      core_.EndSubscription(id);
  if (!sub.ok()) {
    return absl::IsNotFound(sub.status()) ? UnsubscribeUdp(id) : sub.status();
  }
  absl::Status s;
  // While reconnecting there is no session to tell: the subscription is
  // simply not resumed.
  if (open_) {
    const std::size_t n = tp::EncodeUnsubscribe(ctl_, id);
    s = SendFrame({ctl_.data(), n});
    for (std::uint32_t alias : (*sub)->aliases) {
      if (!s.ok()) break;
      const std::size_t a = tp::EncodeUnsubscribe(ctl_, SubscriptionId{alias});
      s = SendFrame({ctl_.data(), a});
    }
  }
  core_.CleanupIfIdle();
  return s;
}

// ======================================================================
// Requests

absl::StatusOr<std::vector<std::byte>> Client::Impl::Request(
    std::uint32_t service_id, std::span<const std::byte> payload,
    std::chrono::milliseconds timeout) {
  if (absl::Status s = CheckReceivingCall("Request"); !s.ok()) return s;
  if (service_id == 0) {
    return absl::InvalidArgumentError("service id must be >= 1");
  }
  if (claimed_) {
    return absl::FailedPreconditionError(
        "a claim is outstanding; Commit or Abort it first");
  }
  if (payload.size() > core_.max_payload()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request payload of ", payload.size(), " bytes exceeds the limit of ",
        core_.max_payload(), " bytes"));
  }
  const std::uint64_t correlation = core_.NextCorrelation();
  const std::size_t n =
      core_.EncodeRequest(tx(), correlation, service_id, timeout, payload);
  if (absl::Status s = SendFrame({tx_.get(), n}); !s.ok()) return s;
  std::vector<std::byte> response;
  pending_.response = &response;
  const auto wait = timeout.count() > 0 ? timeout : options_.response_timeout;
  if (absl::Status s =
          AwaitReply(ReplyKind::kResponse, correlation, Clock::now() + wait,
                     absl::StrCat("RESPONSE from service ", service_id));
      !s.ok()) {
    return s;
  }
  return response;
}

absl::StatusOr<std::uint32_t> Client::Impl::LookupService(
    std::string_view name) {
  if (absl::Status s = CheckReceivingCall("LookupService"); !s.ok()) return s;
  if (absl::Status s = core_.CheckServiceLookup(name); !s.ok()) return s;
  if (claimed_) {
    return absl::FailedPreconditionError(
        "a claim is outstanding; Commit or Abort it first");
  }
  const std::uint64_t correlation = core_.NextCorrelation();
  const std::size_t n = core_.EncodeServiceLookup(tx(), correlation, name);
  if (absl::Status s = SendFrame({tx_.get(), n}); !s.ok()) return s;
  if (absl::Status s =
          AwaitReply(ReplyKind::kServiceLookup, correlation,
                     Clock::now() + options_.response_timeout,
                     absl::StrCat("SERVICE_LOOKUP_ACK for service ",
                                  internal::Quoted(name)));
      !s.ok()) {
    return s;
  }
  if (pending_.service_id == 0) return core_.NoServiceNamed(name);
  return pending_.service_id;
}

// ======================================================================
// Client: forwards to Impl. Each call takes the Impl's lock while
// background polling runs (CallGuard); receiving calls also serialise.

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(
    std::string_view host, std::uint16_t port, const ClientOptions& options) {
  const ConnectRetryOptions& retry = options.connect_retry;
  if (retry.attempts < 1) {
    return absl::InvalidArgumentError(
        "ClientOptions::connect_retry.attempts must be >= 1");
  }
  std::minstd_rand rng(
      static_cast<std::uint32_t>(Clock::now().time_since_epoch().count()));
  absl::Status failure;
  int attempt = 1;
  for (;; ++attempt) {
    const Clock::time_point deadline = Clock::now() + options.connect_timeout;
    absl::StatusOr<internal::UniqueFd> fd =
        internal::ConnectTcp(host, port, options, deadline);
    if (fd.ok()) {
      auto impl = std::make_unique<Impl>(std::move(*fd), std::string(host),
                                         port, options);
      failure = impl->Logon(deadline);
      if (failure.ok()) {
        return std::unique_ptr<Client>(new Client(std::move(impl)));
      }
    } else {
      failure = fd.status();
    }
    if (attempt >= retry.attempts ||
        !internal::IsTransientConnectFailure(failure)) {
      break;
    }
    const Clock::duration delay = internal::BackoffDelay(
        attempt, retry.initial_backoff, retry.max_backoff, retry.jitter, rng);
    if (retry.on_retry) {
      retry.on_retry(failure, attempt,
                     std::chrono::ceil<std::chrono::milliseconds>(delay));
    }
    std::this_thread::sleep_for(delay);
  }
  if (attempt == 1) return failure;
  return internal::KeepGatewayCode(
      absl::Status(failure.code(),
                   absl::StrCat(failure.message(), " (attempt ", attempt,
                                " of ", retry.attempts, ")")),
      failure);
}

Client::Client(std::unique_ptr<Impl> impl)
    : SessionInfo(impl->core()), impl_(std::move(impl)) {}
Client::~Client() = default;

absl::StatusOr<StreamId> Client::OpenStream(std::string_view name) {
  Impl::CallGuard guard(*impl_, /*receiving=*/true);
  return impl_->OpenStream(name);
}
absl::Status Client::Publish(StreamId stream,
                             std::span<const std::byte> payload) {
  Impl::CallGuard guard(*impl_, /*receiving=*/false);
  return impl_->Publish(stream, payload);
}
absl::Status Client::Publish(StreamId stream, std::string_view payload) {
  return Publish(stream, tp::AsBytes(payload));
}
absl::StatusOr<std::vector<std::byte>> Client::Request(
    std::uint32_t service_id, std::string_view payload,
    std::chrono::milliseconds timeout) {
  return Request(service_id, tp::AsBytes(payload), timeout);
}
absl::StatusOr<Sequence> Client::PublishWithAck(
    StreamId stream, std::span<const std::byte> payload) {
  Impl::CallGuard guard(*impl_, /*receiving=*/true);
  return impl_->PublishWithAck(stream, payload);
}
absl::StatusOr<Sequence> Client::PublishWithAck(StreamId stream,
                                                std::string_view payload) {
  return PublishWithAck(stream, tp::AsBytes(payload));
}
absl::StatusOr<std::span<std::byte>> Client::TryClaim(
    StreamId stream, std::size_t length) ABSL_ATTRIBUTE_LIFETIME_BOUND {
  Impl::CallGuard guard(*impl_, /*receiving=*/false);
  return impl_->TryClaim(stream, length);
}
absl::Status Client::Commit() {
  Impl::CallGuard guard(*impl_, /*receiving=*/false);
  return impl_->Commit();
}
absl::Status Client::Flush() {
  Impl::CallGuard guard(*impl_, /*receiving=*/false);
  return impl_->FlushBatch();
}
void Client::Abort() {
  Impl::CallGuard guard(*impl_, /*receiving=*/false);
  impl_->Abort();
}
absl::StatusOr<SubscriptionId> Client::Subscribe(
    std::string_view name_or_pattern, StartPosition start,
    MessageHandler on_message, GapHandler on_gap) {
  Impl::CallGuard guard(*impl_, /*receiving=*/true);
  return impl_->Subscribe(name_or_pattern, start, std::move(on_message),
                          std::move(on_gap));
}
absl::Status Client::Unsubscribe(SubscriptionId id) {
  Impl::CallGuard guard(*impl_, /*receiving=*/false);
  return impl_->Unsubscribe(id);
}
absl::StatusOr<int> Client::Poll(int max_messages,
                                 std::chrono::milliseconds timeout) {
  Impl::CallGuard guard(*impl_, /*receiving=*/true);
  return impl_->Poll(max_messages, timeout);
}
absl::StatusOr<std::vector<std::byte>> Client::Request(
    std::uint32_t service_id, std::span<const std::byte> payload,
    std::chrono::milliseconds timeout) {
  Impl::CallGuard guard(*impl_, /*receiving=*/true);
  return impl_->Request(service_id, payload, timeout);
}
absl::StatusOr<std::uint32_t> Client::LookupService(std::string_view name) {
  Impl::CallGuard guard(*impl_, /*receiving=*/true);
  return impl_->LookupService(name);
}
absl::Status Client::StartBackgroundPolling(
    const BackgroundPollingOptions& options) {
  return impl_->StartBackgroundPolling(options);
}
absl::Status Client::StopBackgroundPolling() {
  return impl_->StopBackgroundPolling();
}
absl::Status Client::Close() {
  // Stops the poller first (which takes the lock itself).
  if (absl::Status s = impl_->StopBackgroundPolling();
      !s.ok() && s.code() == absl::StatusCode::kFailedPrecondition) {
    return s;
  }
  return impl_->Close();
}
std::vector<StreamPosition> Client::Positions() const {
  return impl_->core().Positions();
}

bool Client::connected() const { return impl_->connected(); }
int Client::fd() const { return impl_->fd(); }

}  // namespace tachyon::client
