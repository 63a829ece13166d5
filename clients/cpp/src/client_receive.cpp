// tachyon::client::Client — the receive loop (Poll, AwaitReply), socket
// I/O, heartbeats and the answers the SessionCore hands back.
#include <poll.h>

#include <algorithm>
#include <climits>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client_impl.h"
#include "session_core.h"
#include "socket.h"
#include "status.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::client {

namespace tp = ::tachyon::protocol;
using internal::Clock;
using internal::ReplyKind;
using Phase = internal::SessionCore::Phase;

// ======================================================================
// The receive loop

absl::Status Client::Impl::CheckReceivingCall(const char* method) const {
  if (core_.in_callback()) [[unlikely]] {
    return absl::FailedPreconditionError(absl::StrCat(
        method,
        " called from a handler; only Publish, TryClaim, Commit, Abort, "
        "Flush and Unsubscribe may be"));
  }
  if (!open_) return closed_status_;
  return absl::OkStatus();
}

absl::StatusOr<int> Client::Impl::Poll(int max_messages,
                                       std::chrono::milliseconds timeout) {
  if (max_messages <= 0) {
    return absl::InvalidArgumentError("Poll: max_messages must be >= 1");
  }
  if (WaitsForPoller()) {
    return absl::FailedPreconditionError(
        "Poll called while background polling runs; the poller thread "
        "polls (StopBackgroundPolling first)");
  }
  // Messages held back while another call waited for its answer come first,
  // also when the connection ended since: they arrived before its end.
  int held = 0;
  if (core_.has_held() && !core_.in_callback()) {
    held = core_.DispatchHeld(max_messages);
    if (held >= max_messages || (held > 0 && !open_)) return held;
  }
  if (!open_ && reconnecting_ && !core_.in_callback()) {
    core_.CleanupIfIdle();
    // Disconnected: attempt when the backoff allows (never with a claim
    // outstanding, whose frame sits in the send buffer the resume uses).
    const Clock::time_point deadline = Clock::now() + timeout;
    for (;;) {
      const Clock::time_point now = Clock::now();
      if (!claimed_ && now >= next_attempt_) TryReconnect();
      if (open_) break;
      if (!reconnecting_) return closed_status_;  // gave up
      if (now >= deadline) return 0;
      std::this_thread::sleep_for(std::min(deadline, next_attempt_) - now);
    }
  }
  if (absl::Status s = CheckReceivingCall("Poll"); !s.ok()) {
    if (held > 0) return held;
    return s;
  }
  core_.CleanupIfIdle();
  if (batch_used_ > 0) (void)FlushBatch();  // a failure shows below
  int delivered = held + core_.Dispatch(max_messages - held, false);
  bool waiting = false;
  Clock::time_point deadline;
  while (open_ && delivered < max_messages) {
    // Each syscall counts on the latency path. A blocking Poll whose last
    // read left the socket empty waits inside the read itself (one recv
    // with a receive timeout per wake-up, not poll() then recv()); a read
    // that left it empty (short) ends the Poll once something was
    // delivered, instead of reading again for an EAGAIN.
    const bool block = socket_drained_ && timeout.count() > 0 && delivered == 0;
    if (!block) {
      if (ReceiveAvailable()) {
        delivered += core_.Dispatch(max_messages - delivered, false);
        if (socket_drained_ && delivered > 0) break;
        continue;
      }
      if (!open_ || delivered > 0 || timeout.count() <= 0) break;
    }
    const Clock::time_point now = Clock::now();
    if (!waiting) {
      waiting = true;
      deadline = now + timeout;
    }
    CheckLiveness(now);
    if (!open_ || now >= deadline) break;
    // Wake at least once per heartbeat interval to send ours.
    if (ReceiveWithin(
            std::min<Clock::duration>(deadline - now, core_.heartbeat()))) {
      delivered += core_.Dispatch(max_messages - delivered, false);
      if (socket_drained_ && delivered > 0) break;
    }
  }
  if (open_) CheckLiveness(Clock::now());
  // A loss that starts a reconnect is reported through on_error; Poll keeps
  // returning work counts until the client gives up.
  if (!open_ && delivered == 0 && !reconnecting_) return closed_status_;
  return delivered;
}

absl::Status Client::Impl::ReplyTimedOut(Clock::time_point start,
                                         std::string_view what) const {
  return absl::DeadlineExceededError(
      absl::StrCat("no ", internal::View(what), " from ", core_.peer(),
                   " within ", internal::Millis(Clock::now() - start), " ms"));
}

absl::Status Client::Impl::AwaitReply(ReplyKind kind, std::uint64_t id,
                                      Clock::time_point deadline,
                                      std::string_view what) {
  const Clock::time_point start = Clock::now();
  pending_ = {
      .active = true, .kind = kind, .id = id, .response = pending_.response};
  // An application's call other than Poll runs no handlers: what arrives
  // for them meanwhile waits for the next Poll (client.h, "Receiving").
  // Logging on, closing and a reconnect inside Poll deliver as usual.
  const bool hold = !reconnect_in_progress_ && !WaitsForPoller() &&
                    kind != ReplyKind::kLogon && kind != ReplyKind::kLogout;
  core_.set_holding(hold);
  absl::Status result;
  if (WaitsForPoller()) {
    result = AwaitReplyFromPoller(deadline);
    if (result.code() == absl::StatusCode::kDeadlineExceeded) {
      result = ReplyTimedOut(start, what);
    }
  } else {
    for (;;) {
      core_.Dispatch(INT_MAX, /*stop_at_reply=*/true);
      if (pending_.done) {
        result = pending_.status;
        break;
      }
      if (!open_) {
        result = closed_status_;
        break;
      }
      if (ReceiveAvailable() || !open_) continue;
      const Clock::time_point now = Clock::now();
      if (core_.logged_on()) {
        CheckLiveness(now);
        if (!open_) continue;
      }
      if (now >= deadline) {
        result = ReplyTimedOut(start, what);
        break;
      }
      if (tls_ == nullptr || !tls_->HasBuffered()) {
        internal::WaitFor(
            fd_.get(), POLLIN,
            std::min<Clock::duration>(deadline - now, core_.heartbeat()));
      }
    }
  }
  core_.set_holding(false);
  if (!pending_.done) core_.Forget(kind, id);
  pending_.active = false;
  pending_.response = nullptr;
  return result;
}

absl::Status Client::Impl::AwaitReplyFromPoller(Clock::time_point deadline) {
  const std::uint64_t generation = connection_generation_;
  for (;;) {
    // The generation first: after a reconnect `pending_` may hold the
    // poller's own answers from resuming the session.
    if (!open_ || generation != connection_generation_) {
      return open_ ? absl::UnavailableError(
                         absl::StrCat("connection to ", core_.peer(),
                                      " was lost while waiting for the answer"))
                   : closed_status_;
    }
    if (pending_.done) return pending_.status;
    if (replied_.wait_until(*caller_lock_, deadline) ==
            std::cv_status::timeout &&
        !pending_.done) {
      return absl::DeadlineExceededError("timed out");
    }
  }
}

void Client::Impl::OnReply(const internal::Reply& reply) {
  if (reply.kind == ReplyKind::kLogon) SizeSendBuffers();
  if (pending_.active && pending_.kind == reply.kind &&
      pending_.id == reply.id) {
    pending_.done = true;
    pending_.status = reply.status;
    pending_.stream = reply.stream;
    pending_.sequence = reply.sequence;
    pending_.service_id = reply.service_id;
    if (reply.kind == ReplyKind::kResponse && reply.status.ok() &&
        pending_.response != nullptr) {
      pending_.response->assign(reply.payload.begin(), reply.payload.end());
    }
  }
  // The gateway's answer to our LOGOUT: the session ended as asked, with
  // close_notify on TLS.
  if (reply.kind == ReplyKind::kLogout) {
    if (tls_ != nullptr) (void)tls_->SendCloseNotify();
    Fail(absl::OkStatus());
  }
  if (background_.load(std::memory_order_relaxed)) replied_.notify_all();
}

bool Client::Impl::ReceiveAvailable() {
  if (!open_) return false;
  const std::span<std::byte> space = core_.ReceiveSpace();
  return TookReceived(tls_ != nullptr ? tls_->ReceiveSome(space)
                                      : internal::ReceiveSome(fd_.get(), space),
                      space.size());
}

bool Client::Impl::ReceiveWithin(Clock::duration wait) {
  if (!open_) return false;
  const std::int64_t ms = std::max<std::int64_t>(
      1, std::chrono::ceil<std::chrono::milliseconds>(wait).count());
  // Re-armed only when the wait changes: a Poll loop with one timeout pays
  // one setsockopt, then one recv per wake-up.
  if (ms != receive_timeout_ms_) {
    if (!internal::SetReceiveTimeout(fd_.get(),
                                     std::chrono::milliseconds(ms))) {
      // Without a timeout the recv could block past every deadline.
      internal::WaitFor(fd_.get(), POLLIN, wait);
      return ReceiveAvailable();
    }
    receive_timeout_ms_ = ms;
  }
  const std::span<std::byte> space = core_.ReceiveSpace();
  return TookReceived(tls_ != nullptr
                          ? tls_->ReceiveBlocking(space)
                          : internal::ReceiveBlocking(fd_.get(), space),
                      space.size());
}

bool Client::Impl::TookReceived(const internal::IoResult& r,
                                std::size_t space) {
  socket_drained_ = r.bytes < space;
  if (r.bytes > 0) {
    core_.Received(r.bytes);
    return true;
  }
  if (r.closed) {
    Fail(absl::UnavailableError(
        core_.logged_on()
            ? absl::StrCat("gateway ", core_.peer(), " closed the connection")
            : absl::StrCat(
                  core_.peer(), " closed the connection before answering LOGON",
                  tls_ != nullptr ? " (does it require a client certificate "
                                    "its CA trusts? ClientOptions::tls)"
                                  : " (is it a Tachyon gateway?)")));
  } else if (r.error != 0) {
    Fail(absl::UnavailableError(
        absl::StrCat("connection to ", core_.peer(),
                     " lost: ", internal::ErrnoText(r.error))));
  }
  return false;
}

absl::Status Client::Impl::ExplainLoss(absl::Status transport) {
  // Bounded: what the socket still holds, read without waiting, at most
  // this many times the receive buffer (a farewell sits behind at most a
  // socket buffer of DATA).
  constexpr int kMaxReads = 64;
  for (int reads = 0; reads <= kMaxReads; ++reads) {
    if (std::optional<absl::Status> said = core_.FindFarewell()) {
      return *std::move(said);
    }
    // Reading moves the receive buffer, under a handler's Message view when
    // a handler's Publish found the loss: then only what is buffered.
    if (!fd_.valid() || core_.in_callback() || reads == kMaxReads) break;
    const std::span<std::byte> space = core_.ReceiveSpace();
    const internal::IoResult r = tls_ != nullptr
                                     ? tls_->ReceiveSome(space)
                                     : internal::ReceiveSome(fd_.get(), space);
    if (r.bytes == 0) break;
    core_.Received(r.bytes);
  }
  return transport;
}

// ======================================================================
// Sending

absl::Status Client::Impl::SendFrame(std::span<const std::byte> frame) {
  if (batch_used_ > 0) {
    if (absl::Status s = FlushBatch(); !s.ok()) return s;
  }
  return SendBytes(frame);
}

absl::Status Client::Impl::FlushBatch() {
  if (batch_used_ == 0) return open_ ? absl::OkStatus() : closed_status_;
  const absl::Status s = SendBytes({batch_.get(), batch_used_});
  batch_used_ = 0;  // sent, or lost with the connection (reported by `s`)
  return s;
}

absl::Status Client::Impl::SendBytes(std::span<const std::byte> frame) {
  if (!open_) return closed_status_;
  std::size_t sent = 0;
  std::optional<Clock::time_point> deadline;
  while (sent < frame.size()) {
    const internal::IoResult r =
        tls_ != nullptr ? tls_->SendSome(frame.subspan(sent))
                        : internal::SendSome(fd_.get(), frame.subspan(sent));
    if (r.error != 0) {
      // The gateway may have closed after telling us why (ERROR
      // SLOW_CONSUMER, ...), in bytes we have not read yet.
      Fail(ExplainLoss(absl::UnavailableError(
          absl::StrCat("connection to ", core_.peer(),
                       " lost: ", internal::ErrnoText(r.error)))));
      return closed_status_;
    }
    sent += r.bytes;
    if (sent == frame.size()) break;
    if (r.bytes > 0) continue;
    // The kernel's send buffer is full: the gateway is not reading.
    const Clock::time_point now = Clock::now();
    if (!deadline) deadline = now + options_.send_timeout;
    if (now >= *deadline) {
      Fail(ExplainLoss(absl::UnavailableError(absl::StrCat(
          "gateway ", core_.peer(), " is not reading: send timed out after ",
          options_.send_timeout.count(), " ms; connection closed"))));
      return closed_status_;
    }
    internal::WaitFor(fd_.get(), POLLOUT, *deadline - now);
  }
  core_.MarkSent();
  core_.stats().bytes_sent += frame.size();
  return absl::OkStatus();
}

void Client::Impl::SendBestEffort(std::span<const std::byte> frame) {
  if (!open_) return;
  if (tls_ != nullptr) {
    (void)tls_->SendSome(frame);
  } else {
    (void)internal::SendSome(fd_.get(), frame);
  }
}

void Client::Impl::CheckLiveness(Clock::time_point now) {
  // Bytes the gateway sent in time may wait unread behind a late wake-up.
  if (core_.SilentAt(now) && ((tls_ != nullptr && tls_->HasBuffered()) ||
                              internal::HasUnread(fd_.get()))) {
    core_.NoteUnreadBytes();
  }
  if (!core_.CheckLiveness(now)) return;
  const std::size_t n = core_.EncodeHeartbeat(ctl_);
  if (SendFrame({ctl_.data(), n}).ok()) core_.HeartbeatSent(now);
}

void Client::Impl::Fail(absl::Status status) {
  if (!open_) return;
  open_ = false;
  ++connection_generation_;
  core_.MarkClosed();
  tls_.reset();
  fd_.reset();
  receive_timeout_ms_ = 0;
  if (background_.load(std::memory_order_relaxed)) replied_.notify_all();
  if (!ShouldReconnect(status)) {
    closed_status_ = std::move(status);
    return;
  }
  reconnecting_ = true;
  attempts_ = 0;
  next_attempt_ = Clock::now();
  closed_status_ = internal::KeepGatewayCode(
      absl::UnavailableError(
          absl::StrCat("not connected to ", core_.peer(),
                       " (reconnecting after: ", status.message(), ")")),
      status);
  core_.ReportAsync(internal::KeepGatewayCode(
      absl::UnavailableError(absl::StrCat(status.message(), "; reconnecting")),
      status));
}

void Client::Impl::SizeSendBuffers() {
  const std::uint32_t limit =
      std::max(core_.max_frame_length(), internal::kMinSessionFrameLength);
  ever_logged_on_ = true;
  if (tx_size_ != tp::PaddedLength(limit)) {
    tx_size_ = tp::PaddedLength(limit);
    tx_ = std::make_unique<std::byte[]>(tx_size_);
  }
  batch_limit_ = options_.publish_batch_bytes;
  batch_used_ = 0;
  if (batch_capacity_ < batch_limit_) {
    batch_ = std::make_unique<std::byte[]>(batch_limit_);
    batch_capacity_ = batch_limit_;
  }
}

}  // namespace tachyon::client
