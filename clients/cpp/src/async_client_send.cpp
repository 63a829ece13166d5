// tachyon::client::AsyncClient — the sending half: publishing, the send
// queue (two preallocated buffers, a non-blocking send first, an async
// write when the kernel's buffer is full, parked operations while the
// queue is full) and heartbeats with the liveness checks.
#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "async_client_impl.h"
#include "tachyon/client/async_client.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::client {

namespace tp = ::tachyon::protocol;
using internal::CompletionPtr;
using internal::Millis;
using internal::ParkedFrame;
using internal::ReplyKind;
using internal::SteadyClock;
using internal::Wait;

namespace {

bool WouldBlock(const asio::error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again ||
         ec == asio::error::interrupted;
}

// Encrypts and sends as much of `bytes` as the socket takes now: OpenSSL
// returns after each record in partial-write mode.
std::size_t TlsWrite(internal::TlsSocket& tls, std::span<const std::byte> bytes,
                     asio::error_code& ec) {
  std::size_t total = 0;
  while (total < bytes.size()) {
    const internal::IoResult r = tls.SendSome(bytes.subspan(total));
    if (r.error != 0) {
      ec = asio::error_code(r.error, asio::system_category());
      break;
    }
    if (r.bytes == 0) break;
    total += r.bytes;
  }
  return total;
}

}  // namespace

// ======================================================================
// Publishing

absl::Status AsyncClient::Impl::TryPublish(StreamId stream,
                                           std::span<const std::byte> payload) {
  if (absl::Status s = CheckPublish(stream, payload.size()); !s.ok())
      [[unlikely]] {
    return s;
  }
  if (!parked_.empty() || !QueuePublish(stream, core_.NextCorrelation(),
                                        payload, tp::AckMode::kNone))
      [[unlikely]] {
    return absl::ResourceExhaustedError(absl::StrCat(
        "back-pressured: send queue to ", peer(), " is full (", queued_bytes(),
        " bytes waiting for the socket); retry later, or use AsyncPublish, "
        "which waits for room"));
  }
  Pump();
  if (state_ == State::kClosed) [[unlikely]] {
    return closed_status_;
  }
  return absl::OkStatus();
}

void AsyncClient::Impl::StartPublish(StreamId stream,
                                     std::span<const std::byte> payload,
                                     CompletionPtr<absl::Status> done) {
  if (absl::Status s = CheckPublish(stream, payload.size()); !s.ok()) {
    internal::Finish(done, std::move(s));
    return;
  }
  const std::uint64_t correlation = core_.NextCorrelation();
  if (parked_.empty() &&
      QueuePublish(stream, correlation, payload, tp::AckMode::kNone)) {
    Pump();
    internal::Finish(
        done, state_ == State::kClosed ? closed_status_ : absl::OkStatus());
    return;
  }
  ParkedFrame frame;
  frame.kind = ParkedFrame::Kind::kPublish;
  frame.stream = stream;
  frame.correlation = correlation;
  frame.done = std::move(done);
  if (absl::Status s = Park(frame, payload); !s.ok()) {
    internal::Finish(frame.done, std::move(s));
    return;
  }
  Pump();
}

void AsyncClient::Impl::StartPublishWithAck(
    StreamId stream, std::span<const std::byte> payload,
    CompletionPtr<absl::StatusOr<Sequence>> done) {
  if (absl::Status s = CheckPublish(stream, payload.size()); !s.ok()) {
    internal::Finish(done, std::move(s));
    return;
  }
  const std::uint64_t correlation = core_.NextCorrelation();
  auto wait = std::make_unique<Wait>(executor_);
  wait->kind = ReplyKind::kPublishAck;
  wait->id = correlation;
  wait->stream = stream;
  wait->done = std::move(done);
  ArmWait(std::move(wait), options_.response_timeout);
  if (parked_.empty() &&
      QueuePublish(stream, correlation, payload, tp::AckMode::kRequested)) {
    Pump();
    return;
  }
  ParkedFrame frame;
  frame.kind = ParkedFrame::Kind::kPublishWithAck;
  frame.stream = stream;
  frame.correlation = correlation;
  if (absl::Status s = Park(frame, payload); !s.ok()) {
    if (auto w = TakeWait(ReplyKind::kPublishAck, correlation)) FailWait(*w, s);
    return;
  }
  Pump();
}

// ======================================================================
// The send queue

void AsyncClient::Impl::SetQueueLimits() {
  // A maximal frame always fits in an empty buffer.
  queue_limit_ = std::max(options_.send_queue_bytes,
                          tp::PaddedLength(core_.max_frame_length()));
  queue_capacity_ = queue_limit_ + internal::kControlReserve;
}

void AsyncClient::Impl::EnsureCapacity(internal::SendBuffer& buffer) {
  if (buffer.capacity >= queue_capacity_) return;
  auto data = std::make_unique<std::byte[]>(queue_capacity_);
  if (buffer.size > 0) std::memcpy(data.get(), buffer.data.get(), buffer.size);
  buffer.data = std::move(data);
  buffer.capacity = queue_capacity_;
}

std::span<std::byte> AsyncClient::Impl::Reserve(std::size_t bytes,
                                                std::size_t limit) {
  internal::SendBuffer& b = send_[filling_];
  if (b.size + bytes > std::min(limit, b.capacity)) return {};
  return {b.data.get() + b.size, bytes};
}

bool AsyncClient::Impl::QueuePublish(StreamId stream, std::uint64_t correlation,
                                     std::span<const std::byte> payload,
                                     tp::AckMode ack) {
  const std::span<std::byte> out =
      Reserve(tp::PaddedLength(tp::PublishView::kFixedLength + payload.size()),
              queue_limit_);
  if (out.empty()) return false;
  CommitSend(
      core_.EncodePublish(out, stream.value(), correlation, payload, ack));
  return true;
}

bool AsyncClient::Impl::QueueRequest(std::uint64_t correlation,
                                     std::uint32_t service_id,
                                     std::chrono::milliseconds timeout,
                                     std::span<const std::byte> payload) {
  const std::span<std::byte> out =
      Reserve(tp::PaddedLength(tp::RequestView::kFixedLength + payload.size()),
              queue_limit_);
  if (out.empty()) return false;
  CommitSend(
      core_.EncodeRequest(out, correlation, service_id, timeout, payload));
  return true;
}

void AsyncClient::Impl::Pump() {
  for (;;) {
    Flush();
    if (state_ != State::kOpen || parked_.empty()) return;
    if (!DrainParked()) return;
  }
}

void AsyncClient::Impl::Flush() {
  if (writing_ || state_ == State::kClosed) return;
  internal::SendBuffer& b = send_[filling_];
  if (b.size == 0) return;
  // Latency first: one non-blocking send straight from the queue. Only
  // when the kernel's buffer is full does the rest go asynchronous.
  asio::error_code ec;
  std::size_t n = 0;
  if (tls_ != nullptr) [[unlikely]] {
    n = TlsWrite(*tls_, {b.data.get(), b.size}, ec);
  } else {
    n = socket_.write_some(asio::buffer(b.data.get(), b.size), ec);
  }
  if (ec && !WouldBlock(ec)) {
    Fail(ExplainLoss(absl::UnavailableError(
        absl::StrCat("connection to ", peer(), " lost: ", ec.message()))));
    return;
  }
  if (n > 0) {
    core_.MarkSent();
    core_.stats().bytes_sent += n;
  }
  if (n == b.size) {
    b.size = 0;
    return;
  }
  writing_ = true;
  write_offset_ = n;
  filling_ ^= 1;
  EnsureCapacity(send_[filling_]);
  last_write_progress_ = SteadyClock::now();
  StartWrite();
}

void AsyncClient::Impl::StartWrite() {
  if (tls_ != nullptr) [[unlikely]] {
    socket_.async_wait(asio::socket_base::wait_write,
                       [self = shared_from_this()](const asio::error_code& ec) {
                         self->OnTlsWritable(ec);
                       });
    return;
  }
  const internal::SendBuffer& b = send_[1 - filling_];
  socket_.async_write_some(
      asio::buffer(b.data.get() + write_offset_, b.size - write_offset_),
      [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
        self->OnWrite(ec, n);
      });
}

void AsyncClient::Impl::OnWrite(const asio::error_code& ec, std::size_t bytes) {
  if (state_ == State::kClosed) {
    writing_ = false;
    return;
  }
  if (ec) {
    writing_ = false;
    Fail(ExplainLoss(absl::UnavailableError(
        absl::StrCat("connection to ", peer(), " lost: ", ec.message()))));
    return;
  }
  core_.stats().bytes_sent += bytes;
  core_.MarkSent();
  last_write_progress_ = SteadyClock::now();
  write_offset_ += bytes;
  internal::SendBuffer& b = send_[1 - filling_];
  if (write_offset_ < b.size) {
    StartWrite();
    return;
  }
  b.size = 0;
  write_offset_ = 0;
  writing_ = false;
  Pump();
}

void AsyncClient::Impl::OnTlsWritable(const asio::error_code& ec) {
  if (ec || state_ == State::kClosed || tls_ == nullptr) {
    OnWrite(ec, 0);
    return;
  }
  // The same bytes as the attempt that found the socket full (OpenSSL
  // holds the record it made of them).
  const internal::SendBuffer& b = send_[1 - filling_];
  asio::error_code write_ec;
  const std::size_t n = TlsWrite(
      *tls_, {b.data.get() + write_offset_, b.size - write_offset_}, write_ec);
  if (n == 0 && !write_ec) {
    StartWrite();  // still full
    return;
  }
  OnWrite(n > 0 ? asio::error_code() : write_ec, n);
}

bool AsyncClient::Impl::DrainParked() {
  bool moved = false;
  while (!parked_.empty()) {
    ParkedFrame& p = parked_.front();
    // A publish-with-ack or request whose wait already timed out (and was
    // answered DEADLINE_EXCEEDED) is dropped unsent.
    const bool expired = p.kind != ParkedFrame::Kind::kPublish &&
                         !correlation_waits_.contains(p.correlation);
    if (!expired) {
      const bool queued =
          p.kind == ParkedFrame::Kind::kRequest
              ? QueueRequest(p.correlation, p.service_id, p.timeout, p.payload)
              : QueuePublish(p.stream, p.correlation, p.payload,
                             p.kind == ParkedFrame::Kind::kPublishWithAck
                                 ? tp::AckMode::kRequested
                                 : tp::AckMode::kNone);
      if (!queued) break;
      internal::Finish(p.done, absl::OkStatus());
    }
    parked_bytes_ -= p.accounted;
    parked_.pop_front();
    moved = true;
  }
  return moved;
}

absl::Status AsyncClient::Impl::Park(ParkedFrame& frame,
                                     std::span<const std::byte> payload) {
  const std::size_t accounted =
      tp::PaddedLength(tp::RequestView::kFixedLength + payload.size());
  if (parked_bytes_ + accounted > queue_limit_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "back-pressured: send queue to ", peer(), " is full (", queued_bytes(),
        " bytes waiting for the socket and ", parked_bytes_,
        " bytes of operations waiting for room); the gateway is not keeping "
        "up"));
  }
  frame.payload.assign(payload.begin(), payload.end());
  frame.accounted = accounted;
  parked_bytes_ += accounted;
  parked_.push_back(std::move(frame));
  return absl::OkStatus();
}

void AsyncClient::Impl::CancelParked(const absl::Status& status) {
  auto parked = std::move(parked_);
  parked_.clear();
  parked_bytes_ = 0;
  for (ParkedFrame& p : parked) {
    if (p.kind == ParkedFrame::Kind::kPublish) {
      internal::Finish(p.done, status);
    } else if (auto wait = TakeWait(p.kind == ParkedFrame::Kind::kRequest
                                        ? ReplyKind::kResponse
                                        : ReplyKind::kPublishAck,
                                    p.correlation)) {
      FailWait(*wait, status);
    }
  }
}

absl::Status AsyncClient::Impl::ExplainLoss(absl::Status transport) {
  // Bounded like the blocking client's: what the socket holds, at most 64
  // receive buffers of it. The read is synchronous on the non-blocking
  // socket; the pending async read never runs (Fail closes the socket).
  constexpr int kMaxReads = 64;
  for (int reads = 0; reads <= kMaxReads; ++reads) {
    if (std::optional<absl::Status> said = core_.FindFarewell()) {
      return *std::move(said);
    }
    // Reading moves the receive buffer, under a handler's Message view when
    // a handler's TryPublish found the loss: then only what is buffered.
    if (!socket_.is_open() || core_.in_callback() || reads == kMaxReads) {
      break;
    }
    asio::error_code ec;
    const std::span<std::byte> space = core_.ReceiveSpace();
    std::size_t n = 0;
    if (tls_ != nullptr) {
      n = tls_->ReceiveSome(space).bytes;
    } else {
      n = socket_.read_some(asio::buffer(space.data(), space.size()), ec);
    }
    if (ec || n == 0) break;
    core_.Received(n);
  }
  return transport;
}

void AsyncClient::Impl::SendBestEffort(std::span<const std::byte> frame) {
  // Behind an async write the frame could only go out after it; the caller
  // is about to close, so do not wait.
  if (writing_ || state_ == State::kClosed) return;
  const std::span<std::byte> out = Reserve(frame.size(), queue_capacity_);
  if (out.empty()) return;
  std::memcpy(out.data(), frame.data(), frame.size());
  CommitSend(frame.size());
  Flush();
}

// ======================================================================
// Heartbeats and liveness

void AsyncClient::Impl::ScheduleTick() {
  // Four ticks per interval: a heartbeat leaves between 1 and 1.25
  // intervals after the last frame, well inside the gateway's 3; likewise
  // a write stall is noticed within 1.25 send_timeouts.
  heartbeat_timer_.expires_after(
      std::max(std::min(core_.heartbeat(), options_.send_timeout) / 4,
               std::chrono::milliseconds(1)));
  heartbeat_timer_.async_wait(
      [self = shared_from_this()](const asio::error_code& ec) {
        if (!ec) self->OnTick();
      });
}

void AsyncClient::Impl::OnTick() {
  if (state_ != State::kOpen && state_ != State::kClosing) return;
  const SteadyClock::time_point now = SteadyClock::now();
  // This tick may run before the read completion that a late wake-up (a
  // descheduled thread on a busy host) also found ready: bytes the gateway
  // sent in time are not its silence.
  if (core_.SilentAt(now)) {
    asio::error_code ec;
    if ((socket_.available(ec) > 0 && !ec) ||
        (tls_ != nullptr && tls_->HasBuffered())) {
      core_.NoteUnreadBytes();
    }
  }
  const bool heartbeat_due = core_.CheckLiveness(now);
  if (state_ == State::kClosed) return;  // the gateway went silent
  if (writing_ && now - last_write_progress_ >= options_.send_timeout) {
    Fail(absl::UnavailableError(absl::StrCat(
        "gateway ", peer(), " is not reading: send timed out after ",
        Millis(now - last_write_progress_), " ms; connection closed")));
    return;
  }
  if (heartbeat_due && QueueControl(tp::HeartbeatView::kFixedLength,
                                    [this](std::span<std::byte> out) {
                                      return core_.EncodeHeartbeat(out);
                                    })) {
    Pump();
    core_.HeartbeatSent(now);
    if (state_ == State::kClosed) return;
  }
  ScheduleTick();
}

}  // namespace tachyon::client
