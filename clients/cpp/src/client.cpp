// tachyon::client::Client — the public methods: connecting and logging on,
// publishing, opening streams, subscribing, requests and closing. The
// receive loop and frame handlers are in client_receive.cpp.
#include "tachyon/client/client.h"

#include <algorithm>
#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client_impl.h"
#include "socket.h"
#include "status.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::client {

namespace tp = ::tachyon::protocol;
using internal::Clock;
using internal::ReplyKind;
using internal::Subscription;
using ::tachyon::protocol::ErrorCode;

namespace {

std::string Quoted(std::string_view s) {
  return absl::StrCat("\"", std::string(s), "\"");
}

absl::Status CheckName(std::string_view name, bool allow_pattern) {
  const bool pattern = !name.empty() && name.back() == '*';
  if (pattern && !allow_pattern) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid stream name ", Quoted(name),
        ": a pattern cannot be opened for publishing; name one stream"));
  }
  if (pattern ? tp::IsValidPattern(name) : tp::IsValidStreamName(name)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid stream ", pattern ? "pattern " : "name ", Quoted(name),
      ": names are 1-255 characters of A-Z a-z 0-9 . _ -",
      allow_pattern ? ", optionally ending in a single '*' (prefix pattern)"
                    : ""));
}

}  // namespace

// ======================================================================
// Construction, logon, close

Client::Impl::Impl(internal::UniqueFd fd, std::string host, std::uint16_t port,
                   const ClientOptions& options)
    : fd_(std::move(fd)),
      host_(std::move(host)),
      port_(port),
      peer_(internal::PeerName(host_, port_)),
      options_(options),
      rng_(
          static_cast<std::uint32_t>(Clock::now().time_since_epoch().count())) {
  // Before LOGON_ACK the gateway sends only short frames; decode with the
  // protocol's default limit until it announces the session's.
  rx_size_ = std::max(options_.receive_buffer_bytes,
                      2 * tp::FrameDecoder::MinStorage(max_frame_length_));
  rx_ = std::make_unique<std::byte[]>(rx_size_);
  decoder_.emplace(std::span<std::byte>(rx_.get(), rx_size_),
                   max_frame_length_);
  if (options_.reconnect.enabled &&
      options_.reconnect.publish == DisconnectedPublish::kQueue) {
    queue_.reserve(options_.reconnect.queue_bytes);
  }
}

Client::Impl::~Impl() {
  if (open_ && logged_on_ && !closing_) {
    const std::size_t n = tp::EncodeLogout(ctl(), ErrorCode::kNone);
    SendBestEffort({ctl_.data(), n});
  }
}

absl::Status Client::Impl::Logon(Clock::time_point deadline) {
  if (options_.token.size() > tp::kMaxLogonFieldLength ||
      options_.client_name.size() > tp::kMaxLogonFieldLength) {
    return absl::InvalidArgumentError(
        "token and client name must each be at most 255 bytes");
  }
  const auto hb_ms = options_.heartbeat_interval.count();
  const std::size_t n = tp::EncodeLogon(
      ctl(), {.heartbeat_interval_ms = static_cast<std::uint32_t>(
                  std::clamp<std::int64_t>(hb_ms, 0, UINT32_MAX)),
              .token = options_.token,
              .client_name = options_.client_name});
  if (absl::Status s = SendFrame({ctl_.data(), n}); !s.ok()) return s;
  pending_ = {.kind = ReplyKind::kLogon};
  return AwaitReply(deadline, "answer to LOGON");
}

absl::Status Client::Impl::Close() {
  if (in_callback_ > 0) {
    return absl::FailedPreconditionError(
        "Close called from a handler; call it after Poll returns");
  }
  if (open_ && logged_on_) {
    closing_ = true;
    const std::size_t n = tp::EncodeLogout(ctl(), ErrorCode::kNone);
    if (SendFrame({ctl_.data(), n}).ok()) {
      // The gateway answers LOGOUT and closes; wait for either, discarding
      // DATA (closing_ stops delivery).
      pending_ = {.kind = ReplyKind::kLogout};
      (void)AwaitReply(Clock::now() + options_.close_timeout, "LOGOUT");
    }
  }
  fd_.reset();
  open_ = false;
  reconnecting_ = false;
  closed_status_ = absl::FailedPreconditionError(
      absl::StrCat("client for ", peer_, " is closed"));
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
  if (length > max_payload_) [[unlikely]] {
    return absl::InvalidArgumentError(
        absl::StrCat("payload of ", length, " bytes exceeds the limit of ",
                     max_payload_, " bytes for this session"));
  }
  const auto it = wire_ids_.find(stream.value());
  if (it == wire_ids_.end()) [[unlikely]] {
    return absl::FailedPreconditionError(
        absl::StrCat("stream id ", stream.value(),
                     " was not opened by this client; call OpenStream first"));
  }
  if (it->second == 0) [[unlikely]] {
    return absl::FailedPreconditionError(
        absl::StrCat("stream id ", stream.value(),
                     " could not be re-opened after reconnecting"));
  }
  return it->second;
}

absl::Status Client::Impl::Publish(StreamId stream,
                                   std::span<const std::byte> payload) {
  if (!open_) [[unlikely]] {
    return PublishDisconnected(stream, payload);
  }
  const absl::StatusOr<std::uint32_t> wire =
      CheckPublish(stream, payload.size());
  if (!wire.ok()) return wire.status();
  ++stats_.publishes;
  if (batch_limit_ > 0) {
    // Coalescing: encode straight into the batch; send when it is full.
    const std::size_t frame =
        tp::PaddedLength(tp::PublishView::kFixedLength + payload.size());
    if (batch_.size() + frame > batch_limit_ && !batch_.empty()) {
      if (absl::Status s = FlushBatch(); !s.ok()) return s;
    }
    if (frame <= batch_limit_) {
      const std::size_t used = batch_.size();
      batch_.resize(used + frame);  // within the reserved capacity
      tp::EncodePublish({batch_.data() + used, frame}, StreamId{*wire},
                        next_correlation_++, payload);
      return batch_.size() >= batch_limit_ ? FlushBatch() : absl::OkStatus();
    }
  }
  const std::size_t n =
      tp::EncodePublish(tx(), StreamId{*wire}, next_correlation_++, payload);
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
  const std::uint64_t correlation = next_correlation_++;
  const std::size_t n = tp::EncodePublish(tx(), StreamId{*wire}, correlation,
                                          payload, tp::AckMode::kRequested);
  ++stats_.publishes;
  if (absl::Status s = SendFrame({tx_.get(), n}); !s.ok()) return s;
  pending_ = {.kind = ReplyKind::kPublishAck, .id = correlation};
  if (absl::Status s =
          AwaitReply(Clock::now() + options_.response_timeout, "PUBLISH_ACK");
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
  std::span<std::byte> payload = tp::BeginPublish(
      tx(), StreamId{*wire}, next_correlation_++, length, tp::AckMode::kNone);
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
  const std::span<const std::byte> payload(
      tx_.get() + tp::PublishView::kFixedLength, claim_length_);
  if (!open_) return PublishDisconnected(claim_stream_, payload);
  // The connection may have been replaced since TryClaim (a claim spans no
  // Poll, but be exact): stamp the stream's current id.
  const auto it = wire_ids_.find(claim_stream_.value());
  tp::StoreU32(tx_.get() + tp::kStreamIdOffset,
               it == wire_ids_.end() ? 0 : it->second);
  ++stats_.publishes;
  return SendFrame({tx_.get(), tp::PaddedLength(tp::PublishView::kFixedLength +
                                                claim_length_)});
}

// ======================================================================
// Streams and subscriptions

absl::StatusOr<StreamId> Client::Impl::OpenStream(std::string_view name) {
  if (in_callback_ == 0) {
    // Answered from the cache even while reconnecting.
    if (auto it =
            open_by_name_.find(absl::string_view(name.data(), name.size()));
        it != open_by_name_.end()) {
      return it->second;
    }
  }
  if (absl::Status s = CheckReceivingCall("OpenStream"); !s.ok()) return s;
  if (absl::Status s = CheckName(name, /*allow_pattern=*/false); !s.ok()) {
    return s;
  }
  const std::uint32_t request_id = NextId();
  const std::size_t n = tp::EncodeOpenStream(ctl(), request_id, name);
  if (absl::Status s = SendFrame({ctl_.data(), n}); !s.ok()) return s;
  pending_ = {.kind = ReplyKind::kOpenStream, .id = request_id};
  if (absl::Status s =
          AwaitReply(Clock::now() + options_.response_timeout,
                     absl::StrCat("OPEN_STREAM_ACK for ", Quoted(name)));
      !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("open stream ", Quoted(name),
                                               ": ", s.message()));
  }
  const StreamId id = pending_.stream;
  open_by_name_.emplace(std::string(name), id);
  wire_ids_[id.value()] = id.value();
  return id;
}

absl::StatusOr<SubscriptionId> Client::Impl::Subscribe(
    std::string_view name, StartPosition start, MessageHandler on_message,
    GapHandler on_gap) {
  if (absl::Status s = CheckReceivingCall("Subscribe"); !s.ok()) return s;
  if (absl::Status s = CheckName(name, /*allow_pattern=*/true); !s.ok()) {
    return s;
  }
  if (start.mode() == tp::StartMode::kSequence &&
      start.sequence().value() == 0) {
    return absl::InvalidArgumentError(
        "start sequence must be >= 1 (sequences start at 1)");
  }
  if (!on_message) {
    return absl::InvalidArgumentError("Subscribe needs a message handler");
  }
  if (needs_cleanup_) Cleanup();
  const std::uint32_t id = NextId();
  auto sub = std::make_unique<Subscription>();
  sub->id = SubscriptionId{id};
  sub->name = std::string(name);
  sub->pattern = name.back() == '*';
  sub->start = start;
  sub->on_message = std::move(on_message);
  sub->on_gap = std::move(on_gap);
  Subscription* raw = sub.get();
  subs_.emplace(id, std::move(sub));

  const std::size_t n =
      tp::EncodeSubscribe(ctl(), {.subscription_id = SubscriptionId{id},
                                  .start = start.mode(),
                                  .start_sequence = start.sequence(),
                                  .name = name});
  absl::Status s = SendFrame({ctl_.data(), n});
  if (s.ok()) {
    pending_ = {.kind = ReplyKind::kSubscribe, .id = id};
    s = AwaitReply(Clock::now() + options_.response_timeout,
                   absl::StrCat("SUBSCRIBE_ACK for ", Quoted(name)));
  }
  if (!s.ok()) {
    raw->active = false;
    if (open_ && s.code() == absl::StatusCode::kDeadlineExceeded) {
      // The gateway may still act on it; make sure it stops.
      const std::size_t u = tp::EncodeUnsubscribe(ctl(), SubscriptionId{id});
      (void)SendFrame({ctl_.data(), u});
    }
    Cleanup();
    return absl::Status(s.code(), absl::StrCat("subscribe to ", Quoted(name),
                                               ": ", s.message()));
  }
  return SubscriptionId{id};
}

absl::Status Client::Impl::Unsubscribe(SubscriptionId id) {
  if (!open_ && !reconnecting_) return closed_status_;
  auto it = subs_.find(id.value());
  if (it == subs_.end() || !it->second->active) return UnsubscribeUdp(id);
  Subscription& sub = *it->second;
  sub.active = false;
  needs_cleanup_ = true;
  absl::Status s;
  // While reconnecting there is no session to tell: the subscription is
  // simply not resumed.
  if (open_) {
    const std::size_t n = tp::EncodeUnsubscribe(ctl(), id);
    s = SendFrame({ctl_.data(), n});
    for (std::uint32_t alias : sub.aliases) {
      if (!s.ok()) break;
      const std::size_t a = tp::EncodeUnsubscribe(ctl(), SubscriptionId{alias});
      s = SendFrame({ctl_.data(), a});
    }
  }
  if (in_callback_ == 0) Cleanup();
  return s;
}

void Client::Impl::Cleanup() {
  needs_cleanup_ = false;
  for (auto it = streams_.begin(); it != streams_.end();) {
    auto& subs = it->second.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [](const Subscription* s) { return !s->active; }),
               subs.end());
    if (subs.empty()) {
      // Frames already on the way for this stream are ignored from now on.
      streams_.erase(it++);
    } else {
      ++it;
    }
  }
  for (auto it = aliases_.begin(); it != aliases_.end();) {
    if (!it->second->active) {
      aliases_.erase(it++);
    } else {
      ++it;
    }
  }
  for (auto& [name, state] : resume_states_) {
    auto& subs = state.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [](const Subscription* s) { return !s->active; }),
               subs.end());
  }
  for (auto it = subs_.begin(); it != subs_.end();) {
    if (!it->second->active) {
      subs_.erase(it++);
    } else {
      ++it;
    }
  }
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
  if (payload.size() > max_payload_) {
    return absl::InvalidArgumentError(
        absl::StrCat("request payload of ", payload.size(),
                     " bytes exceeds the limit of ", max_payload_, " bytes"));
  }
  const std::uint64_t correlation = next_correlation_++;
  const auto timeout_ms =
      std::clamp<std::int64_t>(timeout.count(), 0, UINT32_MAX);
  const std::size_t n = tp::EncodeRequest(
      tx(), {.correlation_id = correlation,
             .service_id = service_id,
             .timeout_ms = static_cast<std::uint32_t>(timeout_ms),
             .payload = payload});
  if (absl::Status s = SendFrame({tx_.get(), n}); !s.ok()) return s;
  std::vector<std::byte> response;
  pending_ = {
      .kind = ReplyKind::kResponse, .id = correlation, .response = &response};
  const auto wait = timeout.count() > 0 ? timeout : options_.response_timeout;
  if (absl::Status s =
          AwaitReply(Clock::now() + wait,
                     absl::StrCat("RESPONSE from service ", service_id));
      !s.ok()) {
    return s;
  }
  return response;
}

// ======================================================================
// Client: forwards to Impl.

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(
    std::string_view host, std::uint16_t port, const ClientOptions& options) {
  const Clock::time_point deadline = Clock::now() + options.connect_timeout;
  absl::StatusOr<internal::UniqueFd> fd =
      internal::ConnectTcp(host, port, options, deadline);
  if (!fd.ok()) return fd.status();
  auto impl =
      std::make_unique<Impl>(std::move(*fd), std::string(host), port, options);
  if (absl::Status s = impl->Logon(deadline); !s.ok()) return s;
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

absl::StatusOr<StreamId> Client::OpenStream(std::string_view name) {
  return impl_->OpenStream(name);
}
absl::Status Client::Publish(StreamId stream,
                             std::span<const std::byte> payload) {
  return impl_->Publish(stream, payload);
}
absl::Status Client::Publish(StreamId stream, std::string_view payload) {
  return impl_->Publish(stream, tp::AsBytes(payload));
}
absl::StatusOr<Sequence> Client::PublishWithAck(
    StreamId stream, std::span<const std::byte> payload) {
  return impl_->PublishWithAck(stream, payload);
}
absl::StatusOr<Sequence> Client::PublishWithAck(StreamId stream,
                                                std::string_view payload) {
  return impl_->PublishWithAck(stream, tp::AsBytes(payload));
}
absl::StatusOr<std::span<std::byte>> Client::TryClaim(
    StreamId stream, std::size_t length) ABSL_ATTRIBUTE_LIFETIME_BOUND {
  return impl_->TryClaim(stream, length);
}
absl::Status Client::Commit() { return impl_->Commit(); }
absl::Status Client::Flush() { return impl_->FlushBatch(); }
void Client::Abort() { impl_->Abort(); }
absl::StatusOr<SubscriptionId> Client::Subscribe(
    std::string_view name_or_pattern, StartPosition start,
    MessageHandler on_message, GapHandler on_gap) {
  return impl_->Subscribe(name_or_pattern, start, std::move(on_message),
                          std::move(on_gap));
}
absl::Status Client::Unsubscribe(SubscriptionId id) {
  return impl_->Unsubscribe(id);
}
absl::StatusOr<int> Client::Poll(int max_messages,
                                 std::chrono::milliseconds timeout) {
  return impl_->Poll(max_messages, timeout);
}
absl::StatusOr<std::vector<std::byte>> Client::Request(
    std::uint32_t service_id, std::span<const std::byte> payload,
    std::chrono::milliseconds timeout) {
  return impl_->Request(service_id, payload, timeout);
}
absl::Status Client::Close() { return impl_->Close(); }
bool Client::connected() const { return impl_->connected(); }
const std::string& Client::peer() const { return impl_->peer(); }
SessionId Client::session_id() const { return impl_->session_id(); }
std::chrono::milliseconds Client::heartbeat_interval() const {
  return impl_->heartbeat_interval();
}
std::uint32_t Client::max_frame_length() const {
  return impl_->max_frame_length();
}
std::size_t Client::max_payload_length() const {
  return impl_->max_payload_length();
}
int Client::fd() const { return impl_->fd(); }
const ClientStats& Client::stats() const { return impl_->stats(); }

}  // namespace tachyon::client
