// tachyon/client/async_client.h — the asynchronous Tachyon client on Asio.
//
// Overview
//   An AsyncClient is one TCP session with a Tachyon gateway, driven by the
//   application's standalone-Asio io_context instead of a Poll loop. Every
//   operation that waits for the network takes an Asio completion token, so
//   the same call works with a plain callback, with `asio::use_awaitable`
//   inside a C++20 coroutine, or with any other token (use_future,
//   experimental::deferred, ...):
//
//     AsyncConnect         -> void(absl::Status)
//     AsyncOpenStream      -> void(absl::StatusOr<StreamId>)
//     AsyncPublish         -> void(absl::Status)
//     AsyncPublishWithAck  -> void(absl::StatusOr<Sequence>)
//     AsyncSubscribe       -> void(absl::StatusOr<SubscriptionId>)
//     AsyncRequest         -> void(absl::StatusOr<std::vector<std::byte>>)
//     AsyncLookupService   -> void(absl::StatusOr<std::uint32_t>)
//     AsyncClose           -> void(absl::Status)
//
//   Results are absl::Status / absl::StatusOr, the same codes and texts as
//   the blocking Client (client.h, "Errors"), never exceptions and never an
//   error_code: `co_await client.AsyncPublishWithAck(..., use_awaitable)`
//   evaluates to an absl::StatusOr<Sequence>. Completion handlers are never
//   invoked from inside the initiating call; they are posted to the
//   handler's associated executor (by default the client's).
//
//   Subscription handlers (MessageHandler / GapHandler from message.h) run on
//   the client's executor, inside the read loop, with the same zero-copy
//   Message views as the blocking client. Heartbeats are sent and the
//   gateway's liveness is checked by a steady_timer; nothing needs polling.
//
// Sending
//   Frames are encoded straight into one of two preallocated send buffers and
//   written with one non-blocking send while the socket keeps up; when the
//   kernel's buffer is full the rest goes out with an async write while new
//   frames fill the other buffer (so a burst leaves in few syscalls). The
//   bytes waiting for the socket are bounded by
//   AsyncClientOptions::send_queue_bytes:
//     TryPublish           never waits: RESOURCE_EXHAUSTED when full, with
//                          a text that starts "back-pressured: send queue
//                          to HOST:PORT is full"; nothing was queued.
//     AsyncPublish         completes once its frame is queued, in order,
//                          behind everything published before it; when the
//                          queue is full it waits for room (its payload is
//                          copied aside, up to another send_queue_bytes,
//                          beyond which it fails with the same
//                          RESOURCE_EXHAUSTED "back-pressured: ...").
//     AsyncPublishWithAck  additionally waits for the gateway's PUBLISH_ACK.
//   A write that makes no progress for ClientOptions::send_timeout closes
//   the connection (UNAVAILABLE: the gateway is not reading). In steady
//   state TryPublish and the receive path do not allocate; AsyncPublish
//   allocates only Asio's recycled handler memory.
//
// Back-pressure
//   The same two gateway signals as for the blocking Client (client.h,
//   "Back-pressure"), and the same bound in time:
//     - Flow control (the gateway stops reading a publishing connection
//       while its stream has no room): frames wait in the send queue, so
//       AsyncPublish waits and TryPublish returns RESOURCE_EXHAUSTED
//       "back-pressured" once the queue is full — never a silent drop and
//       never an unbounded queue. If the socket takes no byte for
//       send_timeout, the connection is closed with UNAVAILABLE (on_error
//       and every pending operation), as a blocking Publish gives up after
//       send_timeout.
//     - Refusal (PUBLISH_ACK BACK_PRESSURED, from gateways that refuse
//       rather than hold; PROTOCOL.md 10.2):
//       AsyncPublishWithAck completes with RESOURCE_EXHAUSTED; a
//       fire-and-forget publish reports it to on_error.
//
// Errors (besides those of client.h)
//   CANCELLED           the operation was pending when the client was closed
//                       or destroyed
//   FAILED_PRECONDITION a call before AsyncConnect completed, or after close
//   RESOURCE_EXHAUSTED  "back-pressured": the send queue is full (see
//                       Back-pressure)
//   UNAVAILABLE         also reported to ClientOptions::on_error when an open
//                       connection is lost (closed by the gateway, heartbeat
//                       timeout, write stall); the client is then closed.
//   AsyncClient does not reconnect: AsyncConnect rejects
//   ClientOptions::reconnect.enabled with INVALID_ARGUMENT. Make a new
//   AsyncClient to reconnect.
//
// TLS
//   ClientOptions::tls works as for the blocking Client: TLS 1.3 to the
//   gateway's [tls] listener, the certificate verified against tls.ca_file
//   for tls.server_name (or the host), an optional client certificate. The
//   handshake is part of AsyncConnect (within connect_timeout); a refused
//   one completes it with UNAVAILABLE "TLS handshake with host:port failed:
//   <reason>" ("certificate verify failed (...)" for an untrusted
//   certificate). AsyncClose ends with TLS close_notify before the FIN.
//
// Threading
//   An AsyncClient is not thread-safe. Every call (including the destructor)
//   must be made on its executor: from a thread running the io_context when
//   exactly one thread runs it, or, when several threads run it, from within
//   a strand passed as the client's executor (then bind your completion
//   handlers to that strand too). All of the client's handlers — completion,
//   subscription, on_error — run on that executor. The io_context must
//   outlive the client.
//
// Lifetime
//   While connected the client always has work outstanding on the
//   io_context (its read and its heartbeat timer), so io_context::run()
//   returns only once the client is closed — by AsyncClose, by the gateway,
//   or by an error. Every operation is bounded by a timeout from
//   ClientOptions, so a client never keeps run() busy forever by itself.
//   Destroying the client closes the socket at once (with a best-effort
//   LOGOUT); pending operations complete with CANCELLED on the next run of
//   the io_context and subscription handlers are not called again. Prefer
//   AsyncClose, which waits for the gateway's LOGOUT.
//
// Build
//   Target tachyon::client_async (installed as Tachyon::client_async), so
//   that users of the blocking client never see Asio. With clang and
//   libstdc++ Asio 1.22 does not detect coroutine support by itself; the
//   target defines ASIO_HAS_CO_AWAIT=1 for clang users. clang 14 cannot
//   compile coroutines under -fsanitize=undefined (LLVM issue 49689): add
//   -fno-sanitize=function to such builds.
//
// Example
//   namespace tc = tachyon::client;
//   asio::io_context io;
//   tc::AsyncClient client(io);
//   asio::co_spawn(io, [&]() -> asio::awaitable<void> {
//     absl::Status s = co_await client.AsyncConnect("127.0.0.1", 7400,
//                                                   asio::use_awaitable);
//     if (!s.ok()) co_return Report(s);
//     auto sub = co_await client.AsyncSubscribe(
//         "md.eq.*", tc::StartPosition::Latest(),
//         [](const tc::Message& m) { Handle(m.payload); },
//         asio::use_awaitable);
//     auto stream = co_await client.AsyncOpenStream("md.eq.AAPL",
//                                                   asio::use_awaitable);
//     auto seq = co_await client.AsyncPublishWithAck(*stream, "bid 101.25",
//                                                    asio::use_awaitable);
//     (void)co_await client.AsyncClose(asio::use_awaitable);
//   }, asio::detached);
//   io.run();
#ifndef TACHYON_CLIENT_ASYNC_CLIENT_H_
#define TACHYON_CLIENT_ASYNC_CLIENT_H_

#include <asio.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tachyon/client/client.h"
#include "tachyon/client/message.h"
#include "tachyon/client/options.h"
#include "tachyon/client/session_info.h"
#include "tachyon/common/types.h"

namespace tachyon::client {

/// ClientOptions plus what only the asynchronous client needs. Implicitly
/// constructible from ClientOptions. `reconnect` must stay disabled.
struct AsyncClientOptions : ClientOptions {
  AsyncClientOptions() = default;
  // NOLINTNEXTLINE(google-explicit-constructor): a ClientOptions is enough.
  AsyncClientOptions(const ClientOptions& options) : ClientOptions(options) {}

  /// Bytes of encoded frames that may wait for the socket (raised to one
  /// maximal frame). Each of the two send buffers holds this much, plus a
  /// small reserve for control frames.
  std::size_t send_queue_bytes = 256 * 1024;
};

namespace internal {

/// A type-erased, single-shot completion handler for a `void(Result)`
/// operation: Complete posts the handler with the result to the handler's
/// associated executor and frees this object (allocated from Asio's
/// recycling allocator, so steady-state operations reuse memory).
template <typename Result>
class Completion {
 public:
  virtual void Complete(Result result) = 0;
  /// Frees without invoking (io_context teardown only).
  virtual void Destroy() = 0;

 protected:
  ~Completion() = default;
};

template <typename Result>
struct CompletionDeleter {
  void operator()(Completion<Result>* c) const { c->Destroy(); }
};

template <typename Result>
using CompletionPtr =
    std::unique_ptr<Completion<Result>, CompletionDeleter<Result>>;

/// Completes `*c` (if set) with `value` and clears it.
template <typename Result, typename Value>
void Finish(CompletionPtr<Result>& c, Value&& value) {
  if (c != nullptr) c.release()->Complete(Result(std::forward<Value>(value)));
}

template <typename Handler, typename Result>
class CompletionImpl final : public Completion<Result> {
 public:
  using Executor = asio::associated_executor_t<Handler, asio::any_io_executor>;
  using Allocator = typename std::allocator_traits<
      asio::recycling_allocator<void>>::template rebind_alloc<CompletionImpl>;

  static CompletionPtr<Result> Create(Handler&& handler,
                                      const asio::any_io_executor& io) {
    Allocator alloc;
    CompletionImpl* p = std::allocator_traits<Allocator>::allocate(alloc, 1);
    return CompletionPtr<Result>(new (p)
                                     CompletionImpl(std::move(handler), io));
  }

  void Complete(Result result) override {
    Handler handler(std::move(handler_));
    asio::executor_work_guard<Executor> work(std::move(work_));
    // Free before the upcall is queued, as Asio's own operations do, so a
    // handler that starts the next operation can reuse this memory.
    Destroy();
    asio::post(work.get_executor(),
               [h = std::move(handler), r = std::move(result)]() mutable {
                 std::move(h)(std::move(r));
               });
  }

  void Destroy() override {
    Allocator alloc;
    this->~CompletionImpl();
    std::allocator_traits<Allocator>::deallocate(alloc, this, 1);
  }

 private:
  CompletionImpl(Handler&& handler, const asio::any_io_executor& io)
      : handler_(std::move(handler)),
        work_(asio::get_associated_executor(handler_, io)) {}
  ~CompletionImpl() = default;

  Handler handler_;
  asio::executor_work_guard<Executor> work_;
};

template <typename Result, typename Handler>
CompletionPtr<Result> MakeCompletion(Handler&& handler,
                                     const asio::any_io_executor& io) {
  return CompletionImpl<std::decay_t<Handler>, Result>::Create(
      std::forward<Handler>(handler), io);
}

}  // namespace internal

class AsyncClient : public SessionInfo {
 public:
  using executor_type = asio::any_io_executor;

  /// A client whose socket, timers and handlers use `io`'s executor.
  explicit AsyncClient(asio::io_context& io,
                       const AsyncClientOptions& options = {});
  /// A client on `executor` (for example a strand of a multi-threaded
  /// io_context; see Threading).
  explicit AsyncClient(const executor_type& executor,
                       const AsyncClientOptions& options = {});
  /// Closes at once; see Lifetime. Call on the client's executor.
  ~AsyncClient();
  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  [[nodiscard]] executor_type get_executor() const { return executor_; }

  // -------------------------------------------------------------- connect

  /// Resolves `host`, connects (TCP_NODELAY and the socket options of
  /// ClientOptions), sends LOGON and waits for the answer, all within
  /// connect_timeout. Completes with OK once logged on, or: UNAVAILABLE
  /// "cannot connect to host:port: <reason>"; DEADLINE_EXCEEDED when
  /// nothing answers; PERMISSION_DENIED / FAILED_PRECONDITION on
  /// LOGON_REJECT with the gateway's text; DATA_LOSS when the peer answers
  /// with something that is not a Tachyon frame; INVALID_ARGUMENT for
  /// oversized LOGON fields or reconnect enabled. May be called once.
  template <typename Token>
  auto AsyncConnect(std::string_view host, std::uint16_t port, Token&& token) {
    return Initiate<absl::Status>(
        std::forward<Token>(token),
        [impl = impl_, h = std::string(host),
         port](internal::CompletionPtr<absl::Status> done) mutable {
          StartConnect(impl, std::move(h), port, std::move(done));
        });
  }

  // -------------------------------------------------------------- publish

  /// Binds `name` for publishing and completes with its id; cached by name
  /// (a second call completes without a round trip). INVALID_ARGUMENT for
  /// a malformed name; RESOURCE_EXHAUSTED at the gateway's max_streams;
  /// DEADLINE_EXCEEDED after response_timeout.
  template <typename Token>
  auto AsyncOpenStream(std::string_view name, Token&& token) {
    return Initiate<absl::StatusOr<StreamId>>(
        std::forward<Token>(token),
        [impl = impl_, n = std::string(name)](
            internal::CompletionPtr<absl::StatusOr<StreamId>> done) mutable {
          StartOpenStream(impl, std::move(n), std::move(done));
        });
  }

  /// Queues one PUBLISH on `stream` (from AsyncOpenStream) without waiting:
  /// OK once the frame is queued (a later refusal by the gateway goes to
  /// on_error); RESOURCE_EXHAUSTED ("back-pressured: ...", nothing queued)
  /// when the send queue is full or AsyncPublish calls are waiting for
  /// room (see Back-pressure); INVALID_ARGUMENT beyond
  /// max_payload_length(); FAILED_PRECONDITION for a stream not opened by
  /// this client. Copies the payload. No allocation.
  absl::Status TryPublish(StreamId stream, std::span<const std::byte> payload);
  absl::Status TryPublish(StreamId stream, std::string_view payload);

  /// Publishes one message, waiting for send-queue room if necessary (see
  /// Sending); completes once the frame is queued behind every earlier
  /// publish. Errors as TryPublish, except that a full queue waits. The
  /// payload is copied when the operation starts.
  template <typename Token>
  auto AsyncPublish(StreamId stream, std::span<const std::byte> payload,
                    Token&& token) {
    return Initiate<absl::Status>(
        std::forward<Token>(token),
        [impl = impl_, stream,
         payload](internal::CompletionPtr<absl::Status> done) mutable {
          StartPublish(impl, stream, payload, std::move(done));
        });
  }
  template <typename Token>
  auto AsyncPublish(StreamId stream, std::string_view payload, Token&& token) {
    return AsyncPublish(stream, AsBytes(payload), std::forward<Token>(token));
  }

  /// Publishes with ACK_REQUESTED and completes with the sequence the
  /// gateway assigned. RESOURCE_EXHAUSTED when the gateway answers
  /// BACK_PRESSURED (retry later) or LIMIT_EXCEEDED; DEADLINE_EXCEEDED
  /// after response_timeout; other errors as AsyncPublish.
  template <typename Token>
  auto AsyncPublishWithAck(StreamId stream, std::span<const std::byte> payload,
                           Token&& token) {
    return Initiate<absl::StatusOr<Sequence>>(
        std::forward<Token>(token),
        [impl = impl_, stream, payload](
            internal::CompletionPtr<absl::StatusOr<Sequence>> done) mutable {
          StartPublishWithAck(impl, stream, payload, std::move(done));
        });
  }
  template <typename Token>
  auto AsyncPublishWithAck(StreamId stream, std::string_view payload,
                           Token&& token) {
    return AsyncPublishWithAck(stream, AsBytes(payload),
                               std::forward<Token>(token));
  }

  // ------------------------------------------------------------ subscribe

  /// Subscribes to a stream name, or to every stream whose name starts with
  /// a prefix when `name_or_pattern` ends in '*'. Completes once the
  /// gateway acknowledges (within response_timeout). From then on
  /// `on_message` runs on the client's executor for every message of every
  /// covered stream, in sequence order per stream, and `on_gap` (may be
  /// empty) for every range that will not be delivered: a GAP from the
  /// gateway, or a skip in the sequences the client detects itself.
  /// INVALID_ARGUMENT for a malformed name or pattern, start sequence 0 or
  /// an empty handler; RESOURCE_EXHAUSTED at the gateway's limits.
  template <typename Token>
  auto AsyncSubscribe(std::string_view name_or_pattern, StartPosition start,
                      MessageHandler on_message, GapHandler on_gap,
                      Token&& token) {
    return Initiate<absl::StatusOr<SubscriptionId>>(
        std::forward<Token>(token),
        [impl = impl_, n = std::string(name_or_pattern), start,
         m = std::move(on_message), g = std::move(on_gap)](
            internal::CompletionPtr<absl::StatusOr<SubscriptionId>>
                done) mutable {
          StartSubscribe(impl, std::move(n), start, std::move(m), std::move(g),
                         std::move(done));
        });
  }
  template <typename Token>
  auto AsyncSubscribe(std::string_view name_or_pattern, StartPosition start,
                      MessageHandler on_message, Token&& token) {
    return AsyncSubscribe(name_or_pattern, start, std::move(on_message),
                          GapHandler(), std::forward<Token>(token));
  }

  /// Ends a subscription: its handlers are not called again (also when
  /// called from one of them). Queues UNSUBSCRIBE; never waits. NOT_FOUND
  /// for an unknown id.
  absl::Status Unsubscribe(SubscriptionId id);

  // -------------------------------------------------------------- request

  /// Sends REQUEST to backend service `service_id` (>= 1) and completes with
  /// the response payload. The gateway is asked to give up after `timeout`
  /// and the client waits as long (response_timeout when `timeout` is 0).
  /// NOT_FOUND with the gateway's text for NO_SUCH_SERVICE (the answer to
  /// every request until backends exist); DEADLINE_EXCEEDED for a timeout
  /// on either side; UNAVAILABLE when no backend is reachable; UNKNOWN for
  /// a backend error. The payload is copied when the operation starts.
  template <typename Token>
  auto AsyncRequest(std::uint32_t service_id,
                    std::span<const std::byte> payload,
                    std::chrono::milliseconds timeout, Token&& token) {
    using Result = absl::StatusOr<std::vector<std::byte>>;
    return Initiate<Result>(
        std::forward<Token>(token),
        [impl = impl_, service_id, payload,
         timeout](internal::CompletionPtr<Result> done) mutable {
          StartRequest(impl, service_id, payload, timeout, std::move(done));
        });
  }
  template <typename Token>
  auto AsyncRequest(std::uint32_t service_id, std::string_view payload,
                    std::chrono::milliseconds timeout, Token&& token) {
    return AsyncRequest(service_id, AsBytes(payload), timeout,
                        std::forward<Token>(token));
  }

  /// Asks the gateway for the id of the backend service configured as
  /// `name` (SERVICE_LOOKUP, protocol version 3) and completes with it: the
  /// id to pass to AsyncRequest. NOT_FOUND naming the service when the
  /// gateway has no service of that name; INVALID_ARGUMENT for an empty
  /// name or one longer than 64 bytes; UNIMPLEMENTED when the gateway
  /// granted a protocol version below 3 (nothing is sent);
  /// DEADLINE_EXCEEDED without an answer within response_timeout. Ids stay
  /// valid while the gateway runs. The name is copied when the operation
  /// starts.
  template <typename Token>
  auto AsyncLookupService(std::string_view name, Token&& token) {
    using Result = absl::StatusOr<std::uint32_t>;
    return Initiate<Result>(
        std::forward<Token>(token),
        [impl = impl_,
         n = std::string(name)](internal::CompletionPtr<Result> done) mutable {
          StartLookupService(impl, std::move(n), std::move(done));
        });
  }

  // ------------------------------------------------------------ lifecycle

  /// Orderly close: operations waiting for send-queue room complete with
  /// CANCELLED, frames already queued are sent, then LOGOUT; completes
  /// (always OK) when the gateway answers LOGOUT or closes, or after
  /// close_timeout. Operations still pending then complete with CANCELLED;
  /// later calls fail with FAILED_PRECONDITION. Idempotent.
  template <typename Token>
  auto AsyncClose(Token&& token) {
    return Initiate<absl::Status>(
        std::forward<Token>(token),
        [impl = impl_](internal::CompletionPtr<absl::Status> done) mutable {
          StartClose(impl, std::move(done));
        });
  }

  // ------------------------------------------------------------ accessors
  // Cheap; same threading rule as the rest of the client. peer() ("host:port"
  // as given to AsyncConnect, empty before), session_id(),
  // heartbeat_interval(), max_frame_length(), max_payload_length() (the
  // largest payload a publish accepts) and stats() come from SessionInfo.

  /// True from a successful AsyncConnect until the session ends.
  [[nodiscard]] bool connected() const;
  /// Bytes queued for the socket (both send buffers) right now.
  [[nodiscard]] std::size_t queued_bytes() const;

 private:
  class Impl;
  using ImplPtr = std::shared_ptr<Impl>;

  AsyncClient(const executor_type& executor, ImplPtr impl);

  static std::span<const std::byte> AsBytes(std::string_view text) {
    return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
  }

  template <typename Result, typename Token, typename Start>
  auto Initiate(Token&& token, Start start) {
    return asio::async_initiate<Token, void(Result)>(
        [ex = executor_, s = std::move(start)](auto&& handler) mutable {
          s(internal::MakeCompletion<Result>(
              std::forward<decltype(handler)>(handler), ex));
        },
        token);
  }

  // The non-template halves of the operations (async_client.cpp).
  static void StartConnect(const ImplPtr& impl, std::string host,
                           std::uint16_t port,
                           internal::CompletionPtr<absl::Status> done);
  static void StartOpenStream(
      const ImplPtr& impl, std::string name,
      internal::CompletionPtr<absl::StatusOr<StreamId>> done);
  static void StartPublish(const ImplPtr& impl, StreamId stream,
                           std::span<const std::byte> payload,
                           internal::CompletionPtr<absl::Status> done);
  static void StartPublishWithAck(
      const ImplPtr& impl, StreamId stream, std::span<const std::byte> payload,
      internal::CompletionPtr<absl::StatusOr<Sequence>> done);
  static void StartSubscribe(
      const ImplPtr& impl, std::string name, StartPosition start,
      MessageHandler on_message, GapHandler on_gap,
      internal::CompletionPtr<absl::StatusOr<SubscriptionId>> done);
  static void StartRequest(
      const ImplPtr& impl, std::uint32_t service_id,
      std::span<const std::byte> payload, std::chrono::milliseconds timeout,
      internal::CompletionPtr<absl::StatusOr<std::vector<std::byte>>> done);
  static void StartLookupService(
      const ImplPtr& impl, std::string name,
      internal::CompletionPtr<absl::StatusOr<std::uint32_t>> done);
  static void StartClose(const ImplPtr& impl,
                         internal::CompletionPtr<absl::Status> done);

  executor_type executor_;
  ImplPtr impl_;
};

}  // namespace tachyon::client

#endif  // TACHYON_CLIENT_ASYNC_CLIENT_H_
