// tachyon::client::AsyncClient — construction and the session's state, the
// read loop, waits for answers, opening
// streams, subscribing, requests and closing. Publishing, the send queue and
// heartbeats are in async_client_send.cpp; connecting, the TLS handshake
// and logging on in async_client_connect.cpp; the protocol itself in the
// SessionCore (session_core.cpp).
#include "tachyon/client/async_client.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "async_client_impl.h"
#include "session_core.h"
#include "socket.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::client {

namespace tp = ::tachyon::protocol;
using internal::CompletionPtr;
using internal::Millis;
using internal::ParkedFrame;
using internal::Quoted;
using internal::ReplyKind;
using internal::SteadyClock;
using internal::Wait;

// ======================================================================
// Construction and state

AsyncClient::Impl::Impl(asio::any_io_executor executor,
                        const AsyncClientOptions& options)
    : executor_(std::move(executor)),
      options_(options),
      core_(options_, *this),
      resolver_(executor_),
      socket_(executor_),
      control_timer_(executor_),
      heartbeat_timer_(executor_) {
  SetQueueLimits();
  EnsureCapacity(send_[0]);
  EnsureCapacity(send_[1]);
}

AsyncClient::Impl::~Impl() = default;

absl::Status AsyncClient::Impl::CheckOpen() const {
  switch (state_) {
    case State::kOpen:
      return absl::OkStatus();
    case State::kIdle:
      return absl::FailedPreconditionError(
          "not connected: call AsyncConnect first");
    case State::kConnecting:
    case State::kLoggingOn:
      return absl::FailedPreconditionError(
          absl::StrCat("AsyncConnect to ", peer(), " has not completed"));
    case State::kClosing:
      return absl::FailedPreconditionError(
          absl::StrCat("client for ", peer(), " is closing"));
    case State::kClosed:
      break;
  }
  return closed_status_;
}

absl::Status AsyncClient::Impl::CheckPublish(StreamId stream,
                                             std::size_t length) const {
  if (state_ != State::kOpen) [[unlikely]] {
    return CheckOpen();
  }
  return core_.CheckPublish(stream, length, "AsyncOpenStream").status();
}

void AsyncClient::Impl::Terminate(absl::Status later,
                                  const absl::Status& pending) {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  core_.MarkClosed();
  closed_status_ = std::move(later);
  asio::error_code ignored;
  resolver_.cancel();
  control_timer_.cancel();
  heartbeat_timer_.cancel();
  socket_.close(ignored);
  tls_.reset();
  CancelParked(pending);
  for (auto* waits : {&id_waits_, &correlation_waits_}) {
    auto taken = std::move(*waits);
    waits->clear();
    for (auto& [id, wait] : taken) {
      wait->timer.cancel();
      FailWait(*wait, pending);
    }
  }
  internal::Finish(connect_done_, pending);
  for (CompletionPtr<absl::Status>& done : close_done_) {
    internal::Finish(done, absl::OkStatus());
  }
  close_done_.clear();
}

void AsyncClient::Impl::Fail(absl::Status status) {
  if (state_ == State::kClosed) return;
  if (state_ == State::kClosing) {
    FinishClose();
    return;
  }
  const bool was_open = state_ == State::kOpen;
  Terminate(status, status);
  // Nothing else would tell the application: no call is waiting.
  if (was_open) core_.ReportAsync(std::move(status));
}

void AsyncClient::Impl::SendCloseNotify() {
  // Not behind a half-written record: then the connection ends without.
  if (tls_ != nullptr && state_ != State::kClosed && !writing_) {
    (void)tls_->SendCloseNotify();
  }
}

void AsyncClient::Impl::FinishClose() {
  // Our LOGOUT was answered (or the close timed out): a graceful end.
  SendCloseNotify();
  Terminate(absl::FailedPreconditionError(
                absl::StrCat("client for ", peer(), " is closed")),
            absl::CancelledError(
                absl::StrCat("client for ", peer(),
                             " was closed before the operation completed")));
}

void AsyncClient::Impl::ArmControlTimer(std::chrono::milliseconds timeout) {
  const std::uint64_t generation = ++control_generation_;
  control_timer_.expires_after(timeout);
  control_timer_.async_wait(
      [self = shared_from_this(), generation](const asio::error_code& ec) {
        // A stale expiry (queued before the timer was re-armed) is ignored.
        if (!ec && generation == self->control_generation_) {
          self->OnControlTimer();
        }
      });
}

void AsyncClient::Impl::OnControlTimer() {
  const auto waited = Millis(SteadyClock::now() - control_started_);
  switch (state_) {
    case State::kConnecting: {
      const absl::Status s = absl::DeadlineExceededError(
          tls_ != nullptr ? absl::StrCat("TLS handshake with ", peer(),
                                         " timed out after ", waited, " ms")
                          : absl::StrCat("cannot connect to ", peer(),
                                         ": timed out after ", waited, " ms"));
      Terminate(s, s);
      return;
    }
    case State::kLoggingOn: {
      const absl::Status s = absl::DeadlineExceededError(
          absl::StrCat("no answer to LOGON from ", peer(), " within ", waited,
                       " ms (is it a Tachyon gateway?)"));
      Terminate(s, s);
      return;
    }
    case State::kClosing:
      FinishClose();
      return;
    default:
      return;
  }
}

// ======================================================================
// The read loop: async_read_some into the core's receive buffer, dispatch,
// read again.

void AsyncClient::Impl::StartRead() {
  if (tls_ != nullptr) [[unlikely]] {
    socket_.async_wait(asio::socket_base::wait_read,
                       [self = shared_from_this()](const asio::error_code& ec) {
                         self->OnTlsReadable(ec);
                       });
    return;
  }
  const std::span<std::byte> space = core_.ReceiveSpace();
  socket_.async_read_some(
      asio::buffer(space.data(), space.size()),
      [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
        self->OnRead(ec, n);
      });
}

void AsyncClient::Impl::OnRead(const asio::error_code& ec, std::size_t bytes) {
  if (state_ == State::kClosed) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    if (ec == asio::error::eof) {
      OnPeerClosed();
    } else {
      Fail(absl::UnavailableError(
          absl::StrCat("connection to ", peer(), " lost: ", ec.message())));
    }
    return;
  }
  core_.Received(bytes);
  (void)core_.Dispatch(INT_MAX, /*stop_at_reply=*/false);
  if (state_ != State::kClosed) StartRead();
}

void AsyncClient::Impl::OnPeerClosed() {
  Fail(absl::UnavailableError(
      state_ == State::kLoggingOn
          ? absl::StrCat(peer(),
                         " closed the connection before answering LOGON "
                         "(is it a Tachyon gateway?)")
          : absl::StrCat("gateway ", peer(), " closed the connection")));
}

void AsyncClient::Impl::OnTlsReadable(const asio::error_code& ec) {
  if (state_ == State::kClosed || tls_ == nullptr) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    Fail(absl::UnavailableError(
        absl::StrCat("connection to ", peer(), " lost: ", ec.message())));
    return;
  }
  // What arrived, a bounded number of buffers per turn; a full buffer may
  // leave plaintext inside OpenSSL that no readiness would announce, so
  // the next turn is then posted rather than waited for.
  constexpr int kReadsPerTurn = 16;
  for (int i = 0; i < kReadsPerTurn; ++i) {
    const std::span<std::byte> space = core_.ReceiveSpace();
    const internal::IoResult r = tls_->ReceiveSome(space);
    if (r.bytes > 0) {
      core_.Received(r.bytes);
      (void)core_.Dispatch(INT_MAX, /*stop_at_reply=*/false);
      if (state_ == State::kClosed || tls_ == nullptr) return;
      continue;
    }
    if (r.closed) {
      OnPeerClosed();
      return;
    }
    if (r.error != 0) {
      Fail(absl::UnavailableError(
          absl::StrCat("connection to ", peer(), " lost: ",
                       r.error == EPROTO ? std::string("TLS record error")
                                         : internal::ErrnoText(r.error))));
      return;
    }
    StartRead();  // would block: wait for the socket
    return;
  }
  asio::post(executor_, [self = shared_from_this()] {
    self->OnTlsReadable(asio::error_code());
  });
}

// ======================================================================
// Answers and waits

void AsyncClient::Impl::OnReply(const internal::Reply& reply) {
  switch (reply.kind) {
    case ReplyKind::kLogon:
      OnLoggedOn();
      return;
    case ReplyKind::kLogout:
      FinishClose();
      return;
    default:
      break;
  }
  std::unique_ptr<Wait> wait = TakeWait(reply.kind, reply.id);
  if (wait == nullptr) return;
  if (!reply.status.ok()) {
    absl::Status status = reply.status;
    if (reply.kind == ReplyKind::kOpenStream ||
        reply.kind == ReplyKind::kSubscribe) {
      status = absl::Status(
          status.code(),
          absl::StrCat(reply.kind == ReplyKind::kSubscribe ? "subscribe to "
                                                           : "open stream ",
                       Quoted(wait->name), ": ", status.message()));
    }
    FailWait(*wait, status);
    return;
  }
  switch (reply.kind) {
    case ReplyKind::kOpenStream:
      core_.RecordOpened(wait->name, reply.stream);
      internal::Finish(
          std::get<CompletionPtr<absl::StatusOr<StreamId>>>(wait->done),
          reply.stream);
      return;
    case ReplyKind::kSubscribe:
      internal::Finish(
          std::get<CompletionPtr<absl::StatusOr<SubscriptionId>>>(wait->done),
          SubscriptionId{static_cast<std::uint32_t>(reply.id)});
      return;
    case ReplyKind::kPublishAck:
      internal::Finish(
          std::get<CompletionPtr<absl::StatusOr<Sequence>>>(wait->done),
          reply.sequence);
      return;
    case ReplyKind::kResponse:
      internal::Finish(
          std::get<CompletionPtr<absl::StatusOr<std::vector<std::byte>>>>(
              wait->done),
          std::vector<std::byte>(reply.payload.begin(), reply.payload.end()));
      return;
    case ReplyKind::kServiceLookup:
      if (reply.service_id == 0) {
        FailWait(*wait, core_.NoServiceNamed(wait->name));
        return;
      }
      internal::Finish(
          std::get<CompletionPtr<absl::StatusOr<std::uint32_t>>>(wait->done),
          reply.service_id);
      return;
    case ReplyKind::kLogon:
    case ReplyKind::kLogout:
    case ReplyKind::kUdpSubscribe:  // the async client does not ask for UDP
      return;
  }
}

namespace {

bool ById(ReplyKind kind) {
  return kind == ReplyKind::kOpenStream || kind == ReplyKind::kSubscribe;
}

}  // namespace

void AsyncClient::Impl::ArmWait(std::unique_ptr<Wait> wait,
                                std::chrono::milliseconds timeout) {
  wait->started = SteadyClock::now();
  wait->timer.expires_after(timeout);
  wait->timer.async_wait([self = shared_from_this(), kind = wait->kind,
                          id = wait->id](const asio::error_code& ec) {
    if (!ec) self->OnWaitTimeout(kind, id);
  });
  auto& waits = ById(wait->kind) ? id_waits_ : correlation_waits_;
  const std::uint64_t id = wait->id;
  waits[id] = std::move(wait);
}

std::unique_ptr<Wait> AsyncClient::Impl::TakeWait(ReplyKind kind,
                                                  std::uint64_t id) {
  auto& waits = ById(kind) ? id_waits_ : correlation_waits_;
  const auto it = waits.find(id);
  if (it == waits.end() || it->second->kind != kind) return nullptr;
  std::unique_ptr<Wait> wait = std::move(it->second);
  waits.erase(it);
  wait->timer.cancel();
  return wait;
}

void AsyncClient::Impl::FailWait(Wait& wait, const absl::Status& status) {
  std::visit([&](auto& done) { internal::Finish(done, status); }, wait.done);
}

void AsyncClient::Impl::OnWaitTimeout(ReplyKind kind, std::uint64_t id) {
  std::unique_ptr<Wait> wait = TakeWait(kind, id);
  if (wait == nullptr) return;  // answered in the meantime
  core_.Forget(kind, id);
  const std::string within =
      absl::StrCat(" from ", peer(), " within ",
                   Millis(SteadyClock::now() - wait->started), " ms");
  absl::Status status;
  switch (kind) {
    case ReplyKind::kOpenStream:
      status = absl::DeadlineExceededError(absl::StrCat(
          "open stream ", Quoted(wait->name), ": no OPEN_STREAM_ACK", within));
      break;
    case ReplyKind::kSubscribe:
      // The gateway may still act on it; make sure it stops.
      (void)Unsubscribe(SubscriptionId{static_cast<std::uint32_t>(id)});
      status = absl::DeadlineExceededError(absl::StrCat(
          "subscribe to ", Quoted(wait->name), ": no SUBSCRIBE_ACK", within));
      break;
    case ReplyKind::kPublishAck:
      status = absl::DeadlineExceededError(
          absl::StrCat("no PUBLISH_ACK for a publish to stream ",
                       wait->stream.value(), within));
      break;
    case ReplyKind::kResponse:
      status = absl::DeadlineExceededError(
          absl::StrCat("no RESPONSE from service ", wait->service_id, within));
      break;
    case ReplyKind::kServiceLookup:
      status = absl::DeadlineExceededError(
          absl::StrCat("look up service ", Quoted(wait->name),
                       ": no SERVICE_LOOKUP_ACK", within));
      break;
    case ReplyKind::kLogon:
    case ReplyKind::kLogout:
    case ReplyKind::kUdpSubscribe:  // the async client does not ask for UDP
      break;
  }
  FailWait(*wait, status);
}

// ======================================================================
// Operations

void AsyncClient::Impl::StartOpenStream(
    std::string name, CompletionPtr<absl::StatusOr<StreamId>> done) {
  if (state_ == State::kOpen) {
    if (const std::optional<StreamId> id = core_.FindOpened(name)) {
      internal::Finish(done, *id);
      return;
    }
  }
  absl::Status s = CheckOpen();
  if (s.ok()) s = internal::CheckStreamName(name, /*allow_pattern=*/false);
  if (!s.ok()) {
    internal::Finish(done, std::move(s));
    return;
  }
  const std::uint32_t id = core_.NextId();
  if (!QueueControl(
          tp::PaddedLength(tp::OpenStreamView::kFixedLength + name.size()),
          [&](std::span<std::byte> out) {
            return core_.EncodeOpenStream(out, id, name);
          })) {
    internal::Finish(done, absl::ResourceExhaustedError(absl::StrCat(
                               "open stream ", Quoted(name), ": send queue to ",
                               peer(), " is full")));
    return;
  }
  auto wait = std::make_unique<Wait>(executor_);
  wait->kind = ReplyKind::kOpenStream;
  wait->id = id;
  wait->name = std::move(name);
  wait->done = std::move(done);
  ArmWait(std::move(wait), options_.response_timeout);
  Pump();
}

void AsyncClient::Impl::StartRequest(
    std::uint32_t service_id, std::span<const std::byte> payload,
    std::chrono::milliseconds timeout,
    CompletionPtr<absl::StatusOr<std::vector<std::byte>>> done) {
  absl::Status s = CheckOpen();
  if (s.ok() && service_id == 0) {
    s = absl::InvalidArgumentError("service id must be >= 1");
  }
  if (s.ok() && payload.size() > core_.max_payload()) {
    s = absl::InvalidArgumentError(absl::StrCat(
        "request payload of ", payload.size(), " bytes exceeds the limit of ",
        core_.max_payload(), " bytes"));
  }
  if (!s.ok()) {
    internal::Finish(done, std::move(s));
    return;
  }
  const std::uint64_t correlation = core_.NextCorrelation();
  auto wait = std::make_unique<Wait>(executor_);
  wait->kind = ReplyKind::kResponse;
  wait->id = correlation;
  wait->service_id = service_id;
  wait->done = std::move(done);
  ArmWait(std::move(wait),
          timeout.count() > 0 ? timeout : options_.response_timeout);
  if (parked_.empty() &&
      QueueRequest(correlation, service_id, timeout, payload)) {
    Pump();
    return;
  }
  ParkedFrame frame;
  frame.kind = ParkedFrame::Kind::kRequest;
  frame.correlation = correlation;
  frame.service_id = service_id;
  frame.timeout = timeout;
  if (absl::Status p = Park(frame, payload); !p.ok()) {
    if (auto w = TakeWait(ReplyKind::kResponse, correlation)) FailWait(*w, p);
    return;
  }
  Pump();
}

void AsyncClient::Impl::StartLookupService(
    std::string name, CompletionPtr<absl::StatusOr<std::uint32_t>> done) {
  absl::Status s = CheckOpen();
  if (s.ok()) s = core_.CheckServiceLookup(name);
  if (!s.ok()) {
    internal::Finish(done, std::move(s));
    return;
  }
  const std::uint64_t correlation = core_.NextCorrelation();
  if (!QueueControl(
          tp::PaddedLength(tp::ServiceLookupView::kFixedLength + name.size()),
          [&](std::span<std::byte> out) {
            return core_.EncodeServiceLookup(out, correlation, name);
          })) {
    internal::Finish(done, absl::ResourceExhaustedError(absl::StrCat(
                               "look up service ", Quoted(name),
                               ": send queue to ", peer(), " is full")));
    return;
  }
  auto wait = std::make_unique<Wait>(executor_);
  wait->kind = ReplyKind::kServiceLookup;
  wait->id = correlation;
  wait->name = std::move(name);
  wait->done = std::move(done);
  ArmWait(std::move(wait), options_.response_timeout);
  Pump();
}

void AsyncClient::Impl::StartSubscribe(
    std::string name, StartPosition start, MessageHandler on_message,
    GapHandler on_gap, CompletionPtr<absl::StatusOr<SubscriptionId>> done) {
  absl::Status s = CheckOpen();
  if (s.ok()) {
    s = internal::CheckSubscribe(name, start, on_message, "AsyncSubscribe");
  }
  if (!s.ok()) {
    internal::Finish(done, std::move(s));
    return;
  }
  const std::uint32_t id = core_.NextId();
  if (!QueueControl(internal::SessionCore::SubscribeLength(name),
                    [&](std::span<std::byte> out) {
                      return core_.EncodeSubscribe(out, id, name, start);
                    })) {
    internal::Finish(done, absl::ResourceExhaustedError(absl::StrCat(
                               "subscribe to ", Quoted(name),
                               ": send queue to ", peer(), " is full")));
    return;
  }
  core_.AddSubscription(id, name, start, std::move(on_message),
                        std::move(on_gap));
  auto wait = std::make_unique<Wait>(executor_);
  wait->kind = ReplyKind::kSubscribe;
  wait->id = id;
  wait->name = std::move(name);
  wait->done = std::move(done);
  ArmWait(std::move(wait), options_.response_timeout);
  Pump();
}

absl::Status AsyncClient::Impl::Unsubscribe(SubscriptionId id) {
  if (state_ == State::kIdle || state_ == State::kConnecting ||
      state_ == State::kLoggingOn) {
    return CheckOpen();
  }
  const absl::StatusOr<const internal::Subscription*> sub =
      core_.EndSubscription(id);
  if (!sub.ok()) return sub.status();
  absl::Status s;
  // Once closing (our LOGOUT is queued) or closed there is no session to
  // tell; the handlers simply stop.
  if (state_ == State::kOpen) {
    if (QueueControl(tp::UnsubscribeView::kFixedLength,
                     [id](std::span<std::byte> out) {
                       return tp::EncodeUnsubscribe(out, id);
                     })) {
      Pump();
    } else {
      s = absl::ResourceExhaustedError(absl::StrCat(
          "subscription ", id.value(),
          " stopped locally, but UNSUBSCRIBE could not be queued: send "
          "queue to ",
          peer(), " is full"));
    }
  }
  core_.CleanupIfIdle();
  return s;
}

void AsyncClient::Impl::StartClose(CompletionPtr<absl::Status> done) {
  switch (state_) {
    case State::kClosed:
      internal::Finish(done, absl::OkStatus());
      return;
    case State::kClosing:
      close_done_.push_back(std::move(done));
      return;
    case State::kIdle:
    case State::kConnecting:
    case State::kLoggingOn:
      Terminate(absl::FailedPreconditionError(
                    absl::StrCat("client for ", peer(), " is closed")),
                absl::CancelledError(
                    absl::StrCat("AsyncClose called before the connection to ",
                                 peer(), " was established")));
      internal::Finish(done, absl::OkStatus());
      return;
    case State::kOpen:
      break;
  }
  state_ = State::kClosing;
  close_done_.push_back(std::move(done));
  CancelParked(absl::CancelledError(
      absl::StrCat("client for ", peer(), " is closing; not sent")));
  if (!QueueControl(tp::LogoutView::kFixedLength,
                    [this](std::span<std::byte> out) {
                      return core_.EncodeLogout(out);
                    })) {
    FinishClose();
    return;
  }
  Pump();
  if (state_ == State::kClosed) return;
  control_started_ = SteadyClock::now();
  ArmControlTimer(options_.close_timeout);
}

void AsyncClient::Impl::Abandon() {
  if (state_ == State::kOpen) {
    SendBestEffort(internal::SessionCore::LogoutFrame());
    SendCloseNotify();
  }
  Terminate(absl::FailedPreconditionError(
                absl::StrCat("AsyncClient for ", peer(), " was destroyed")),
            absl::CancelledError(
                absl::StrCat("AsyncClient for ", peer(),
                             " was destroyed before the operation completed")));
}

// ======================================================================
// AsyncClient: forwards to Impl.

AsyncClient::AsyncClient(asio::io_context& io,
                         const AsyncClientOptions& options)
    : AsyncClient(executor_type(io.get_executor()), options) {}

AsyncClient::AsyncClient(const executor_type& executor,
                         const AsyncClientOptions& options)
    : AsyncClient(executor, std::make_shared<Impl>(executor, options)) {}

AsyncClient::AsyncClient(const executor_type& executor, ImplPtr impl)
    : SessionInfo(impl->core()), executor_(executor), impl_(std::move(impl)) {}

AsyncClient::~AsyncClient() { impl_->Abandon(); }

void AsyncClient::StartConnect(const ImplPtr& impl, std::string host,
                               std::uint16_t port,
                               CompletionPtr<absl::Status> done) {
  impl->StartConnect(std::move(host), port, std::move(done));
}
void AsyncClient::StartOpenStream(
    const ImplPtr& impl, std::string name,
    CompletionPtr<absl::StatusOr<StreamId>> done) {
  impl->StartOpenStream(std::move(name), std::move(done));
}
void AsyncClient::StartPublish(const ImplPtr& impl, StreamId stream,
                               std::span<const std::byte> payload,
                               CompletionPtr<absl::Status> done) {
  impl->StartPublish(stream, payload, std::move(done));
}
void AsyncClient::StartPublishWithAck(
    const ImplPtr& impl, StreamId stream, std::span<const std::byte> payload,
    CompletionPtr<absl::StatusOr<Sequence>> done) {
  impl->StartPublishWithAck(stream, payload, std::move(done));
}
void AsyncClient::StartSubscribe(
    const ImplPtr& impl, std::string name, StartPosition start,
    MessageHandler on_message, GapHandler on_gap,
    CompletionPtr<absl::StatusOr<SubscriptionId>> done) {
  impl->StartSubscribe(std::move(name), start, std::move(on_message),
                       std::move(on_gap), std::move(done));
}
void AsyncClient::StartRequest(
    const ImplPtr& impl, std::uint32_t service_id,
    std::span<const std::byte> payload, std::chrono::milliseconds timeout,
    CompletionPtr<absl::StatusOr<std::vector<std::byte>>> done) {
  impl->StartRequest(service_id, payload, timeout, std::move(done));
}
void AsyncClient::StartLookupService(
    const ImplPtr& impl, std::string name,
    CompletionPtr<absl::StatusOr<std::uint32_t>> done) {
  impl->StartLookupService(std::move(name), std::move(done));
}
void AsyncClient::StartClose(const ImplPtr& impl,
                             CompletionPtr<absl::Status> done) {
  impl->StartClose(std::move(done));
}

absl::Status AsyncClient::TryPublish(StreamId stream,
                                     std::span<const std::byte> payload) {
  return impl_->TryPublish(stream, payload);
}
absl::Status AsyncClient::TryPublish(StreamId stream,
                                     std::string_view payload) {
  return impl_->TryPublish(stream, AsBytes(payload));
}
absl::Status AsyncClient::Unsubscribe(SubscriptionId id) {
  return impl_->Unsubscribe(id);
}
bool AsyncClient::connected() const { return impl_->connected(); }
std::size_t AsyncClient::queued_bytes() const { return impl_->queued_bytes(); }

}  // namespace tachyon::client
