// tachyon/client/client.h — the blocking Tachyon client.
//
// Overview
//   A Client is one TCP session with a Tachyon gateway. Connect opens the
//   socket and logs on; the Client then publishes to streams, subscribes to
//   streams or prefix patterns, and sends requests to backend services.
//
//   Receiving is a duty cycle, as in Aeron: the application calls Poll()
//   regularly (at least once per heartbeat interval); Poll reads what the
//   socket has, decodes frames in place and calls each subscription's handler
//   with a zero-copy Message view. Heartbeats are sent and the gateway's
//   liveness checked inside Poll. A Poll that waits for data costs one
//   syscall per wake-up: it blocks in the socket read itself.
//
//   Handlers (and on_error) run only inside Poll. The other calls that wait
//   for an answer (OpenStream, Subscribe, SubscribeUdp, PublishWithAck,
//   Request) read the socket while they wait but hold back what arrives for
//   existing subscriptions — DATA, GAP, and refusals meant for on_error — in
//   a copy, in order, and the next Poll delivers it first. One exception:
//   if more than ClientOptions::receive_buffer_bytes of such frames arrive
//   during one wait, the held ones are delivered, in order, inside that call
//   to make room (rather than buffer without bound or stop reading before
//   the answer). Close discards what arrives. Publish, TryClaim, Commit,
//   Flush and Unsubscribe never read the socket and never run handlers.
//
//   Publishing has two paths. Publish copies the payload into a preallocated
//   send buffer behind a PUBLISH header and writes it to the socket.
//   TryClaim / Commit avoids that copy: TryClaim returns the payload area of
//   a PUBLISH frame inside the send buffer, the caller writes the payload
//   there, and Commit sends it. With publish coalescing
//   (ClientOptions::publish_batch_bytes) both paths fill the same batch
//   buffer: TryClaim claims in place at its end, and Commit adds the frame to
//   the batch instead of sending it alone. PublishWithAck waits for the
//   gateway's PUBLISH_ACK and returns the assigned sequence.
//
//   The publish and receive paths do not allocate: buffers are sized at
//   Connect from the gateway's announced frame limit. Every blocking call is
//   bounded by a timeout from ClientOptions.
//
// Back-pressure
//   A gateway slows a publisher in one of two ways, and Publish reports both
//   the same way in every mode (AsyncClient, async_client.h, matches it):
//     - Flow control: the gateway stops reading a publishing connection
//       while a stream it publishes to has no room, so TCP fills the
//       client's socket. A Publish (or Commit, Flush, or a batch send with
//       coalescing) that finds no room in the kernel's send buffer blocks,
//       waiting for room, for up to ClientOptions::send_timeout, and returns
//       OK once the frame is written: nothing is dropped. If no room appears
//       within send_timeout it gives up with UNAVAILABLE ("... is not
//       reading: send timed out"), and the connection is closed (the frame
//       may be half written), or re-made with reconnect enabled.
//     - Refusal: a gateway may answer a PUBLISH with PUBLISH_ACK
//       BACK_PRESSURED (this gateway version holds the publisher instead,
//       PROTOCOL.md 12; older gateways refuse); the message was not
//       appended. PublishWithAck returns RESOURCE_EXHAUSTED; a
//       fire-and-forget Publish reports it to on_error from a later Poll.
//       Retry later, with backoff.
//   Publish never returns RESOURCE_EXHAUSTED for a full socket: the blocking
//   client has no send queue of its own beyond the coalescing batch (and the
//   reconnect queue while disconnected, see ReconnectOptions::publish).
//
//   With ClientOptions::reconnect enabled, a lost connection is re-made
//   inside Poll (exponential backoff with jitter); streams are re-opened
//   (the ids OpenStream returned stay valid) and every subscription resumes
//   from the next sequence it expects, so handlers see no gap and no
//   duplicate while the gateway retains the data, and a Gap when it does
//   not. Meanwhile Publish follows ReconnectOptions::publish (an immediate
//   UNAVAILABLE, or a bounded queue sent after the reconnect) and the other
//   calls return UNAVAILABLE.
//
// Errors
//   Control-plane calls return absl::Status / absl::StatusOr with the
//   gateway's text where it sent one:
//     UNAVAILABLE         the connection is gone (refused, closed, heartbeat
//                         timeout, gateway shutdown, cut as a slow
//                         consumer); the Client is closed, or, with
//                         reconnect enabled, reconnecting
//     PERMISSION_DENIED   LOGON_REJECT NOT_AUTHORIZED (bad token, unknown
//                         principal, source address not allowed); ERROR
//                         NOT_AUTHORIZED answering OpenStream / Subscribe /
//                         a request: the principal may not publish to,
//                         subscribe to or create that stream, or use that
//                         service (PROTOCOL.md 7.8). The text names it.
//     FAILED_PRECONDITION LOGON_REJECT UNSUPPORTED_VERSION; a call made in the
//                         wrong state (closed client, claim outstanding,
//                         stream not opened, receiving call from a handler)
//     INVALID_ARGUMENT    bad stream name / pattern, payload too long
//     RESOURCE_EXHAUSTED  BACK_PRESSURED or LIMIT_EXCEEDED
//     NOT_FOUND           NO_SUCH_SERVICE, unknown subscription
//     DEADLINE_EXCEEDED   no answer within the configured timeout
//     DATA_LOSS           the peer sent malformed frames (not a gateway?)
//   After any error that closes the connection, every later call returns
//   the same status. When the gateway said why before closing — a fatal
//   ERROR such as SLOW_CONSUMER ("subscriber fell N bytes behind stream
//   'name' (window W) for T ms"), or LOGOUT SHUTTING_DOWN — that status
//   carries its code name and text, and GatewayErrorCode (errors.h) returns
//   the code, whichever call found the loss: Poll, a waiting call, or a
//   Publish whose send failed because the gateway had already closed (the
//   client then reads what is left on the socket for the gateway's last
//   word). With
//   reconnect enabled the same status goes to on_error, with
//   "; reconnecting" appended.
//
// Threading
//   By default a Client is thread-compatible: it has no internal locks, and
//   all calls on one Client must be serialised by the caller (typically: one
//   thread owns it). Different Clients are independent. Handlers run on the
//   thread inside Poll (see Overview for the one exception) and may call the
//   send-only methods (Publish, TryClaim, Commit, Abort, Flush, Unsubscribe)
//   but not the receiving ones, which return FAILED_PRECONDITION when called
//   from a handler.
//
//   Background mode: StartBackgroundPolling starts a thread that runs Poll
//   for you; handlers and on_error then run on that thread, one at a time.
//   While it runs, every method except Close, the accessors, Start- and
//   StopBackgroundPolling may be called from any thread, concurrently: each
//   call takes the Client's lock (held by the poller while it reads and
//   dispatches, released while it waits for data), so a call may wait for a
//   Poll round (at most BackgroundPollingOptions::max_messages handler
//   calls, or a reconnect attempt). Receiving calls (OpenStream, Subscribe,
//   PublishWithAck, Request) made from other threads are answered by the
//   poller; they run one at a time. Poll itself returns FAILED_PRECONDITION
//   in this mode. Close and the destructor stop the poller first; call them
//   (like Start- and StopBackgroundPolling) from the owning thread once no
//   other thread uses the Client. A
//   TryClaim'd span may be written by the claiming thread only, and another
//   thread's Publish fails with FAILED_PRECONDITION until it is committed.
//   Accessors (stats(), connected(), ...) read without the lock: call them
//   from handlers, or after StopBackgroundPolling.

// Example
//   namespace tc = tachyon::client;
//   auto client = tc::Client::Connect("127.0.0.1", 7400);
//   if (!client.ok()) return Fail(client.status());
//   auto stream = (*client)->OpenStream("md.eq.AAPL");
//   (*client)->Subscribe("md.eq.*", tc::StartPosition::Latest(),
//                        [](const tc::Message& m) { Handle(m.payload); });
//   (void)(*client)->Publish(*stream, "bid 101.25");
//   while (running) {
//     auto n = (*client)->Poll(/*max_messages=*/64);
//     if (!n.ok()) return Fail(n.status());
//   }
//   (void)(*client)->Close();
//
//   // Or let the client poll on a thread of its own and publish from any:
//   (void)(*client)->StartBackgroundPolling({.idle =
//   tc::BackgroundIdle::kBlock}); std::thread producer([&] {
//   (void)(*client)->Publish(*stream, "ask"); }); producer.join();
//   (void)(*client)->StopBackgroundPolling();
#ifndef TACHYON_CLIENT_CLIENT_H_
#define TACHYON_CLIENT_CLIENT_H_

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tachyon/client/errors.h"
#include "tachyon/client/message.h"
#include "tachyon/client/options.h"
#include "tachyon/client/session_info.h"
#include "tachyon/common/types.h"

namespace tachyon::client {

/// The gateway's answer to Client::SubscribeUdp.
struct UdpDelivery {
  SubscriptionId subscription_id;  ///< ends the delivery: Unsubscribe(id)
  StreamId stream_id;              ///< the stream id the datagrams carry
  Sequence next_sequence;          ///< the first sequence they carry
};

/// Where delivery of one received stream stands (Client::Positions).
struct StreamPosition {
  std::string stream_name;
  /// The stream's id in the current gateway run.
  StreamId stream_id;
  /// The next sequence the stream owes this client: every earlier one from
  /// the subscription's start was delivered or reported as a Gap. Right
  /// after Subscribe returns it is the SUBSCRIBE_ACK's next_sequence
  /// (PROTOCOL.md 11.3): where delivery starts.
  Sequence next_sequence;
};

class Client : public SessionInfo {
 public:
  /// Poll's default bound on messages dispatched per call.
  static constexpr int kDefaultPollLimit = 256;

  /// Connects to `host:port` (a name or an IPv4/IPv6 literal), sends LOGON
  /// and waits for the answer, all within options.connect_timeout. With
  /// options.connect_retry.attempts > 1, a gateway that cannot be reached
  /// yet is tried again after a jittered exponential backoff (options.h,
  /// ConnectRetryOptions); this blocks for the delays. Errors: UNAVAILABLE
  /// naming host:port and the errno text when the TCP connection fails;
  /// PERMISSION_DENIED / FAILED_PRECONDITION with the gateway's text on
  /// LOGON_REJECT; DEADLINE_EXCEEDED if nothing answers; DATA_LOSS if the
  /// peer answers with something that is not a gateway's logon answer;
  /// INVALID_ARGUMENT for connect_retry.attempts < 1. After retries the
  /// last attempt's status, with "(attempt N of M)" appended. Thread-safe
  /// (creates an independent Client).
  static absl::StatusOr<std::unique_ptr<Client>> Connect(
      std::string_view host, std::uint16_t port,
      const ClientOptions& options = {});

  /// Stops background polling, sends LOGOUT without waiting for the answer
  /// and closes the socket. Prefer Close(), which waits for the gateway's
  /// LOGOUT. Not from a handler.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // ---------------------------------------------------------------- publish

  /// Binds `name` for publishing (creating the stream if needed) and
  /// returns its id. Cached: a second call for the same name answers from
  /// memory without a round trip (also while reconnecting). The id stays
  /// valid for this Client across reconnects, even to a restarted gateway
  /// that numbers its streams differently. Blocks for OPEN_STREAM_ACK up to
  /// response_timeout; runs no handler meanwhile, except as described in
  /// the overview (more than receive_buffer_bytes of messages arriving
  /// during the wait). INVALID_ARGUMENT for a malformed name (checked
  /// locally) or the gateway's INVALID_NAME; RESOURCE_EXHAUSTED at the
  /// gateway's max_streams. Receiving call (see Threading).
  absl::StatusOr<StreamId> OpenStream(std::string_view name);

  /// Sends one message on `stream` (from OpenStream). Returns once the frame
  /// is in the kernel's send buffer (or, with coalescing, in the batch);
  /// the gateway's verdict is not awaited (a refusal is reported to
  /// ClientOptions::on_error from a later Poll). Blocks while the socket has
  /// no room — the gateway is not reading, e.g. under flow control — for up
  /// to send_timeout, then UNAVAILABLE and the connection is closed (see
  /// Back-pressure).
  /// While reconnecting: UNAVAILABLE, or queued (RESOURCE_EXHAUSTED when
  /// the queue is full), per ReconnectOptions::publish.
  /// INVALID_ARGUMENT if longer than max_payload_length();
  /// FAILED_PRECONDITION if `stream` was not opened by this client or a
  /// claim is outstanding. No allocation. Send-only: callable from handlers.
  absl::Status Publish(StreamId stream, std::span<const std::byte> payload);
  absl::Status Publish(StreamId stream, std::string_view payload);

  /// Publishes with ACK_REQUESTED and waits for the PUBLISH_ACK (up to
  /// response_timeout). Returns the sequence the gateway assigned.
  /// RESOURCE_EXHAUSTED when BACK_PRESSURED (retry later, with backoff) or
  /// LIMIT_EXCEEDED; other errors as Publish. Receiving call.
  absl::StatusOr<Sequence> PublishWithAck(StreamId stream,
                                          std::span<const std::byte> payload);
  absl::StatusOr<Sequence> PublishWithAck(StreamId stream,
                                          std::string_view payload);

  /// Zero-copy publish, step 1: reserves a PUBLISH frame for a payload of
  /// exactly `length` bytes in the send buffer and returns its payload area.
  /// Write the payload there, then Commit() (or Abort()). The span is valid
  /// until Commit or Abort; at most one claim is outstanding. With
  /// publish_batch_bytes > 0 (and a frame that fits it) the frame is
  /// reserved at the end of the coalescing buffer, which is sent first if
  /// the frame does not fit behind what it holds (UNAVAILABLE if that send
  /// finds the connection gone). Errors as Publish. No allocation.
  /// Send-only: callable from handlers.
  absl::StatusOr<std::span<std::byte>> TryClaim(
      StreamId stream, std::size_t length) ABSL_ATTRIBUTE_LIFETIME_BOUND;
  /// Zero-copy publish, step 2: sends the claimed frame — with coalescing,
  /// adds it to the batch, which is sent once full (or on Flush, Poll, any
  /// other request), exactly like Publish. FAILED_PRECONDITION without a
  /// claim. Send-only.
  absl::Status Commit();
  /// Drops the outstanding claim, if any; nothing is sent.
  void Abort();

  /// Sends the PUBLISH frames collected with publish_batch_bytes > 0 (a
  /// no-op otherwise). UNAVAILABLE if the connection is gone. Send-only.
  absl::Status Flush();

  // -------------------------------------------------------------- subscribe

  /// Subscribes to a stream name, or to every stream whose name starts with
  /// a prefix when `name_or_pattern` ends in '*' ("md.eq.*", "*"). Blocks
  /// until the gateway acknowledges (up to response_timeout). `on_message`
  /// then runs, inside Poll, for every message of every covered stream, in
  /// sequence order per stream; `on_gap` (optional) for every range that
  /// will not be delivered. A stream covered by several subscriptions is
  /// delivered once per subscription's handler, positioned by the first.
  /// INVALID_ARGUMENT for a malformed name, pattern or start sequence 0;
  /// RESOURCE_EXHAUSTED at the gateway's subscription or stream limit.
  /// Receiving call.
  absl::StatusOr<SubscriptionId> Subscribe(std::string_view name_or_pattern,
                                           StartPosition start,
                                           MessageHandler on_message,
                                           GapHandler on_gap = nullptr);

  /// The streams this session's subscriptions receive, with the next
  /// sequence each owes (see StreamPosition), sorted by name. A stream
  /// appears once the gateway acknowledged it: at once for an exact name
  /// after Subscribe returns, and for a pattern as each covered stream is
  /// acknowledged (during later Polls); a pattern that matches no stream
  /// adds none. Streams not positioned yet (PROTOCOL.md 11.6) are left
  /// out. Empty while reconnecting. Allocates; not for the data path. Not
  /// from other threads in background mode (an accessor).
  [[nodiscard]] std::vector<StreamPosition> Positions() const;

  /// Ends a subscription: its handlers are not called again (messages
  /// already buffered for it are dropped). Also ends a SubscribeUdp
  /// delivery. NOT_FOUND for an unknown id. Send-only: callable from handlers,
  /// including the subscription's own.
  absl::Status Unsubscribe(SubscriptionId id);

  /// Asks the gateway to send the stream `name` (an exact name) as UDP
  /// datagrams (PROTOCOL.md 16) to `address`:`port` (`address` in network
  /// order; all zero means this session's own address) and waits for the
  /// answer (up to response_timeout). Datagrams are not read by the Client:
  /// UdpSubscriber (udp_subscriber.h) receives them. The delivery lasts
  /// until Unsubscribe(subscription_id) or the end of the session; it is
  /// not renewed on reconnect. PERMISSION_DENIED for UDP_REFUSED (egress
  /// disabled, destination not allowed); other errors as Subscribe.
  /// Receiving call.
  absl::StatusOr<UdpDelivery> SubscribeUdp(std::string_view name,
                                           std::array<std::uint8_t, 4> address,
                                           std::uint16_t port);

  /// The duty cycle: sends a heartbeat if one is due, delivers messages held
  /// back during an earlier call (see the overview), reads what the socket
  /// holds and dispatches up to `max_messages` messages to handlers. With
  /// `timeout` > 0 and nothing to do, waits up to `timeout` for data
  /// (returning as soon as something was dispatched): the wait is the
  /// socket read itself (SO_RCVTIMEO), one syscall per wake-up — plus one
  /// setsockopt when the wait differs from the previous one — and the
  /// kernel counts it in scheduler ticks, so an idle wait may end up to one
  /// tick (1-10 ms) after `timeout`. With 0 it never blocks (busy-poll).
  /// Returns the number of messages dispatched.
  /// UNAVAILABLE once the connection is gone (gateway closed, LOGOUT,
  /// heartbeat timeout after 3 silent intervals); DATA_LOSS on a malformed
  /// frame. With reconnect enabled a lost connection is instead reported to
  /// on_error and re-made here (each attempt may block up to
  /// connect_timeout); Poll returns 0 while disconnected and UNAVAILABLE
  /// only once it gives up. Call at least once per heartbeat_interval(). No
  /// allocation. Receiving call.
  absl::StatusOr<int> Poll(
      int max_messages = kDefaultPollLimit,
      std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  // ---------------------------------------------------------------- request

  /// Sends REQUEST to backend service `service_id` (>= 1) and waits up to
  /// `timeout` for its RESPONSE; the gateway is asked to give up after the
  /// same time. Returns the response payload. NOT_FOUND with the gateway's
  /// text for NO_SUCH_SERVICE; DEADLINE_EXCEEDED for a timeout (either
  /// side); UNAVAILABLE when no backend is reachable; UNKNOWN for a backend
  /// error. Allocates the returned bytes. Receiving call.
  absl::StatusOr<std::vector<std::byte>> Request(
      std::uint32_t service_id, std::span<const std::byte> payload,
      std::chrono::milliseconds timeout);
  /// Request with a text payload: its bytes, no terminator.
  absl::StatusOr<std::vector<std::byte>> Request(
      std::uint32_t service_id, std::string_view payload,
      std::chrono::milliseconds timeout);

  /// Asks the gateway for the id of the backend service configured as
  /// `name` (SERVICE_LOOKUP, protocol version 3) and waits up to
  /// ClientOptions::response_timeout for the answer: the id to pass to
  /// Request. NOT_FOUND naming the service when the gateway has no service
  /// of that name; INVALID_ARGUMENT for an empty name or one longer than 64
  /// bytes; UNIMPLEMENTED when the gateway granted a protocol version below
  /// 3 (an older gateway, which knows services by id only: nothing is sent);
  /// DEADLINE_EXCEEDED without an answer. Ids stay valid while the gateway
  /// runs; look them up again after a reconnect. Receiving call.
  absl::StatusOr<std::uint32_t> LookupService(std::string_view name);

  // ------------------------------------------------------ background mode

  /// Starts a thread that calls Poll(options.max_messages) in a loop
  /// (waiting for data per options.idle, waking at least once per
  /// heartbeat interval), so that handlers run without the application
  /// polling; see Threading for what other threads may then call. The loop
  /// ends when the Client closes for good (the final status is reported to
  /// on_error and returned by StopBackgroundPolling). FAILED_PRECONDITION if
  /// already running, called from a handler, or the client is closed;
  /// INVALID_ARGUMENT for max_messages < 1; INTERNAL if no thread or
  /// eventfd could be made. Call from the thread that owns the Client, while
  /// no other thread uses it.
  absl::Status StartBackgroundPolling(
      const BackgroundPollingOptions& options = {});

  /// Stops and joins the poller thread (within one Poll round). Returns OK,
  /// or the status that ended the loop early (the connection closed for
  /// good). A no-op returning OK when not running. Never call it from a
  /// handler (FAILED_PRECONDITION). Call from the thread that owns the
  /// Client; afterwards the Client is single-threaded again.
  absl::Status StopBackgroundPolling();

  // -------------------------------------------------------------- lifecycle

  /// Orderly close: sends LOGOUT, waits up to close_timeout for the
  /// gateway's LOGOUT (discarding other frames), closes the socket. Later
  /// calls return FAILED_PRECONDITION. Idempotent. Stops background polling
  /// first (not callable from a handler). Receiving call.
  absl::Status Close();

  // -------------------------------------------------------------- accessors
  // Cheap and non-blocking; they take no lock: in background mode call them
  // from handlers or after StopBackgroundPolling. peer(), session_id(),
  // heartbeat_interval() (Poll at least this often), max_frame_length(),
  // max_payload_length() (the limit of Publish / TryClaim) and stats() come
  // from SessionInfo.

  /// True until the connection is closed, by Close() or by an error; false
  /// while reconnecting.
  [[nodiscard]] bool connected() const;
  /// The socket, for integrating with an external poll loop (wait for
  /// POLLIN, then Poll() with timeout 0). It is in blocking mode (a waiting
  /// Poll blocks in recv); the client's other reads and writes pass
  /// MSG_DONTWAIT. Do not read or write it directly. -1 when closed.
  [[nodiscard]] int fd() const;

 private:
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tachyon::client

#endif  // TACHYON_CLIENT_CLIENT_H_
