// Session: one client connection's protocol state machine.
//
// Overview
//   A session decodes frames in place from the bytes its reactor hands it
//   (copying only a trailing partial frame) and handles each: LOGON, OPEN,
//   SUBSCRIBE / UDP_SUBSCRIBE / UNSUBSCRIBE, PUBLISH (appended to the
//   stream's log), REQUEST, SERVICE_LOOKUP, HEARTBEAT, LOGOUT. Answers go to
//   its control queue; its SendEngine sends control frames and every subscribed
//   stream straight from the logs (send_engine.h). Subscriptions (exact names
//   and prefix patterns) map to deliveries, one per stream (delivery.h).
//
//   Flow control: a PUBLISH its stream has no room for (policy
//   backpressure, or bytes a reader is still sending) is held with every
//   byte after it, and the connection is not read (Reactor::PauseReading)
//   until SessionAgent's retry appends it; then reading resumes. TCP slows
//   the publisher meanwhile, and nothing is refused.
//
//   Principals (PROTOCOL.md 7.8): LOGON authenticates to an identity
//   (auth/authenticator.h) whose permissions are checked once per
//   OPEN_STREAM, SUBSCRIBE, UDP_SUBSCRIBE, REQUEST service and
//   SERVICE_LOOKUP, and once per stream a pattern comes to match; never
//   per message. A refusal is a non-fatal ERROR NOT_AUTHORIZED naming the
//   stream or service; a quota's is LIMIT_EXCEEDED naming the quota. After
//   a reload (the authenticator's generation moved) the next tick looks
//   again: a session whose principal is gone, or that holds a
//   subscription or open stream no longer allowed, is closed with a fatal
//   ERROR NOT_AUTHORIZED naming what was revoked.
//
//   Bad input: a malformed or disallowed frame earns an ERROR frame with its
//   code and a text, then this connection alone is closed (after the ERROR is
//   flushed and the write side shut down, so the peer reads it before EOF).
//
//   TLS: a session accepted on the [tls] listener reaches its reactor
//   through a tls::TlsConnection (EnableTls): the reactor calls that layer,
//   which hands this session plaintext, and Send encrypts through it. A
//   plain session pays one null-pointer test per Send. tls_subject() is the
//   client certificate's subject for LOGON to map to a principal.
//
//   Files: session.cpp (receive, frame dispatch, logon, publish, control
//   output, life cycle, sending), session_subscriptions.cpp (OPEN,
//   SUBSCRIBE, UDP_SUBSCRIBE, UNSUBSCRIBE and the deliveries they cover).
//
// Threading: a session belongs to one worker and is only touched by that
// worker's thread. It reads stream logs lock-free and appends to them.
#ifndef TACHYON_SESSION_SESSION_H_
#define TACHYON_SESSION_SESSION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "auth/authenticator.h"
#include "base/counters.h"
#include "io/endpoint.h"
#include "io/reactor.h"
#include "session/address_limits.h"
#include "session/control_queue.h"
#include "session/delivery.h"
#include "session/partial_frame.h"
#include "session/request_router.h"
#include "session/send_engine.h"
#include "session/session_info.h"
#include "stream/stream_log.h"
#include "stream/stream_registry.h"
#include "tachyon/common/types.h"
#include "tachyon/protocol/protocol.h"
#include "tls/tls_connection.h"

namespace tachyon::session {

class SessionAgent;

/// How a RESPONSE status reaches a session that negotiated protocol
/// `version`: `status` as sent, its text payload prefixed by `text_prefix`.
struct VersionedStatus {
  protocol::ResponseStatus status = protocol::ResponseStatus::kOk;
  std::string_view text_prefix;
};
/// OVERLOADED is a protocol version 3 status (PROTOCOL.md 13): a session
/// below version 3 gets UNAVAILABLE instead, with its text prefixed
/// "overloaded: ". Every other status passes unchanged.
VersionedStatus StatusForVersion(std::uint16_t version,
                                 protocol::ResponseStatus status);

class Session final : public io::ConnectionHandler,
                      public ResponseTarget,
                      private Transport,
                      private SendListener {
 public:
  enum class State : std::uint8_t {
    kAwaitLogon,  ///< connected; only LOGON is acceptable
    kActive,      ///< logged on
    kDraining,    ///< gateway stopping: input ignored, output flushed
    kClosing,     ///< final frame queued; close once it is flushed
    kLingering,   ///< write side shut down; waiting for the peer's EOF
    kClosed,      ///< Close() called; waiting for OnReleased
  };

  /// The longest LOGON: its fixed part and two fields of at most 255 bytes
  /// (PROTOCOL.md 6.1): 542 bytes, 544 padded. The frame limit before
  /// LOGON_ACK.
  static constexpr std::uint32_t kMaxLogonFrameLength =
      protocol::LogonView::kFixedLength + 2 * protocol::kMaxLogonFieldLength;

  Session(SessionAgent& agent, std::int64_t now_ns);
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Binds the reactor connection (right after AddConnection).
  void Attach(io::Connection* conn) {
    conn_ = conn;
    if (tls_ != nullptr) tls_->Attach(conn);
  }
  /// Makes this a TLS session (before AddConnection): returns the handler
  /// the reactor must call (the TLS layer, which passes plaintext on to
  /// this session), or nullptr if OpenSSL could not make the connection.
  io::ConnectionHandler* EnableTls(SSL_CTX* ctx);
  /// Whether the connection is TLS.
  [[nodiscard]] bool tls() const { return tls_ != nullptr; }
  /// The TLS client certificate's subject, RFC 2253 one-line form
  /// ("CN=alice,O=Example"), once the handshake has finished; empty for a
  /// plain connection or a client that sent no certificate. The handshake
  /// finishes before any LOGON byte is decrypted, so HandleLogon can
  /// always read it.
  [[nodiscard]] const std::string& tls_subject() const;
  /// The peer's "ip:port", set by the agent at accept; named in the
  /// session's log lines and admin row.
  void set_peer(std::string peer) { peer_ = std::move(peer); }
  [[nodiscard]] const std::string& peer() const { return peer_; }
  /// The peer's address (without port), set by the agent at accept when
  /// it is an IP address; `counted`: it holds a connection in the
  /// agent's AddressLimits, to be released when the session ends.
  void set_address(const AddressKey& key, bool counted) {
    address_ = key;
    has_address_ = true;
    address_counted_ = counted;
  }
  /// The address whose connection count this session holds, if it does.
  [[nodiscard]] const AddressKey* counted_address() const {
    return address_counted_ ? &address_ : nullptr;
  }
  /// The principal LOGON authenticated ("" before LOGON_ACK and for an
  /// anonymous session).
  [[nodiscard]] const std::string& principal() const {
    static const std::string kNone;
    return identity_ == nullptr ? kNone : identity_->name();
  }
  /// The client name LOGON gave ("" before LOGON_ACK).
  [[nodiscard]] const std::string& client_name() const { return client_name_; }
  /// Ids and names of the session's subscriptions (FillInfo's scratch).
  using SubscriptionOrder =
      std::vector<std::pair<std::uint32_t, const std::string*>>;
  /// Fills the admin plane's row for this session (not `worker`), in
  /// place; `scratch` keeps its capacity between calls.
  void FillInfo(SessionInfo& row, SubscriptionOrder& scratch) const;

  // io::ConnectionHandler
  void OnData(std::span<const std::byte> data) override;
  void OnSendComplete(ssize_t result) override;
  void OnWritable() override;
  void OnPeerClosed(int error) override;
  void OnReleased() override;

  /// Sends whatever is ready (control frames, new log bytes).
  void Flush();
  /// `d`'s stream grew (the agent saw its tail move).
  void OnStreamGrew(Delivery* d) { engine_.MarkDirty(d); }
  /// Flow control: this session holds a PUBLISH its stream had no room for
  /// (its connection is not read meanwhile). Tries it again; true once the
  /// session holds nothing any more, or holds anew and is listed again.
  bool RetryHeld();
  [[nodiscard]] bool holding() const { return holding_; }
  /// Periodic checks: heartbeats, idle and logon timeouts, close deadlines.
  void Tick(std::int64_t now_ns);
  /// Gateway shutdown: stop reading, deliver what is queued, LOGOUT, close.
  void BeginDrain(std::int64_t now_ns);
  /// Closes the connection at once, without a final frame.
  void Abort() { CloseNow(); }
  /// A stream created after a pattern SUBSCRIBE: deliver it if it matches.
  void OnNewStream(stream::StreamLog* log);

  // ResponseTarget: the answer to a REQUEST this session routed. Queued as
  // a RESPONSE (QueueResponse: OVERLOADED becomes UNAVAILABLE "overloaded:
  // ..." below protocol version 3) while the session is logged on; dropped
  // once it closes.
  void DeliverResponse(std::uint64_t correlation_id, std::uint32_t service_id,
                       protocol::ResponseStatus status,
                       std::span<const std::byte> payload) override;

  [[nodiscard]] State state() const { return state_; }
  [[nodiscard]] SessionId id() const { return session_id_; }
  /// The protocol version LOGON negotiated (PROTOCOL.md 7.2); 0 before.
  [[nodiscard]] std::uint16_t protocol_version() const { return version_; }

  /// SessionAgent bookkeeping: on the agent's flush list; index in its
  /// list of sessions.
  bool dirty = false;
  std::size_t agent_index = 0;

 private:
  struct Subscription {
    std::string name;  // stream name or pattern (with '*')
    bool pattern = false;
    std::vector<StreamId> streams;  // deliveries this subscription covers
    // UDP_SUBSCRIBE: the stream goes to `udp_destination` as datagrams
    // (served by the stream's UDP owner worker), not over this connection.
    bool udp = false;
    // Pattern subscriptions: each stream matched is checked against the
    // subscribe permission (PatternVerdict::kSome).
    bool filter_each = false;
    StreamId udp_stream;
    io::Endpoint udp_destination;
  };

  // Transport
  io::SendResult Send(std::span<const iovec> iov) override;
  // SendListener
  void OnBytesSent(std::size_t bytes) override;
  void OnDeliveryRemoved(Delivery* d) override;
  void OnReady() override { MarkDirty(); }

  // Decodes and handles the frames in `data`, until a PUBLISH must be held.
  void Consume(std::span<const std::byte> data);
  // The frame limit in force: the longest LOGON (kMaxLogonFrameLength)
  // until LOGON_ACK, then the configured limit (PROTOCOL.md 4.3, 15).
  [[nodiscard]] std::uint32_t FrameLimit() const;
  // A decoding error: the fatal ERROR, its text naming the limit for
  // FRAME_TOO_LONG. `frame` starts with the offending frame.
  void DecodeFailed(protocol::ErrorCode code, std::span<const std::byte> frame);
  // Stores the trailing partial frame `bytes` (the partial was empty).
  void StartPartial(std::span<const std::byte> bytes);
  // limits.min_frame_progress: cuts a session whose frame in flight
  // arrives too slowly (from Tick).
  void CheckFrameProgress(std::int64_t now_ns);
  void HandleFrame(protocol::FrameView frame);
  void HandleLogon(const protocol::LogonView& m);
  // False when the stream has no room: the caller holds the frame.
  bool HandlePublish(const protocol::PublishView& m);
  // Stops reading and has the agent retry the held PUBLISH (in held_).
  void Hold();
  void HandleRequest(const protocol::RequestView& m);
  // Protocol version 3: answered from the worker's router (id 0 without
  // one); UNEXPECTED_MESSAGE in an older session (PROTOCOL.md 7.7).
  void HandleServiceLookup(const protocol::ServiceLookupView& m);
  // Queues the RESPONSE answering `correlation_id`, in the form this
  // session's protocol version allows (StatusForVersion). A text longer
  // than the frame limit allows is cut.
  void QueueResponse(std::uint64_t correlation_id, std::uint32_t service_id,
                     protocol::ResponseStatus status,
                     std::span<const std::byte> payload);

  // Principals. Each refusal queues the non-fatal ERROR (context
  // `context`) and returns true.
  bool RefuseUnless(auth::Action action, std::string_view name,
                    std::string_view what, std::uint64_t context);
  // SUBSCRIBE/UDP_SUBSCRIBE quota; taken (subscriptions_counted_) when not
  // refused.
  bool RefuseSubscriptionQuota(std::uint32_t id);
  // The registry's create guard for this session's identity.
  stream::StreamRegistry::CreateGuard CreateGuardFor(std::string_view name,
                                                     std::string& denied,
                                                     std::string& limit);
  // Opens `name` with `use` under the create guard, queueing the ERROR
  // (context `id`) on refusal.
  stream::StreamLog* OpenGuarded(std::string_view name, stream::StreamUse use,
                                 std::uint64_t id);
  // May this session's pattern subscriptions receive `name`?
  bool PatternMayCover(const Subscription& sub, std::string_view name) const;
  // After a reload: closes the session if its identity or what it holds
  // was revoked.
  void CheckRevocation();
  // A reload this session has not checked against yet (the authenticator's
  // generation moved since).
  [[nodiscard]] bool ReloadPending() const;
  // The control-queue limit: limits.max_outbound_queue_bytes, or the
  // principal's max_buffered_bytes if smaller.
  [[nodiscard]] std::size_t OutboundLimit() const;
  // REQUEST/SERVICE_LOOKUP: may this session use service `name`?
  // Remembered per service id.
  bool RequestAllowed(std::uint32_t service_id, std::string_view name);

  // session_subscriptions.cpp
  void HandleOpenStream(const protocol::OpenStreamView& m);
  void HandleSubscribe(const protocol::SubscribeView& m);
  void HandleUnsubscribe(const protocol::UnsubscribeView& m);
  void HandleUdpSubscribe(const protocol::UdpSubscribeView& m);
  // Checks shared by SUBSCRIBE and UDP_SUBSCRIBE: each queues the
  // non-fatal ERROR (context = id) and returns true / nullptr on refusal.
  bool RefuseDuplicateSubscription(std::uint32_t id);
  bool RefuseSubscriptionOverLimit(std::uint32_t id);
  stream::StreamLog* OpenForSubscription(std::string_view name,
                                         std::uint32_t id);
  // Starts delivering `log` for subscription `sub` (or adds coverage).
  void Cover(SubscriptionId sub_id, Subscription& sub, stream::StreamLog* log,
             protocol::StartMode mode, Sequence start, bool announce);
  void Uncover(StreamId stream);
  // Queues the stream ack (if `announce`) and any GAP for a delivery that
  // starts at `sp`; returns the control bytes that must precede its data.
  std::uint64_t AnnounceStart(SubscriptionId sub_id, stream::StreamLog* log,
                              const stream::StartPoint& sp, bool announce);
  void QueueSubscribeAck(StreamId stream, std::uint32_t id, Sequence next,
                         std::string_view name);
  // Asks the owner to stop the UDP destination of subscription `sub`, and
  // releases the subscriber use it held.
  void ReleaseUdp(Subscription& sub);
  // Stream uses (stream_log.h): each opened stream holds a publisher use,
  // each stream a subscription covers (and each UDP subscription) a
  // subscriber use, so that no stream in use is retired.
  void ReleaseSubscriber(StreamId stream);
  // All of them, at the session's end.
  void ReleaseStreamUses();

  // Control output.
  std::span<std::byte> ReserveControl(std::size_t bytes) {
    return control_.Reserve(bytes);
  }
  void CommitControl(std::size_t bytes);
  void QueueError(protocol::ErrorCode code, bool fatal, std::string_view text,
                  std::uint64_t context = 0, StreamId stream = StreamId{});
  void Fatal(protocol::ErrorCode code, std::string_view text,
             StreamId stream = StreamId{});
  void QueuePublishAck(StreamId stream, std::uint64_t correlation, Sequence seq,
                       protocol::ErrorCode status);

  // Life cycle.
  void CloseAfterFlush();
  void DetachAll();
  void CloseNow();
  // Makes the coming close send a reset (SO_LINGER 0) instead of FIN.
  void ResetOnClose();
  void MarkDirty();
  // Names why the connection ends, for the close line: the first cause
  // noted wins (a fatal ERROR, a rejected LOGON, the peer's EOF, ...).
  void NoteCloseReason(std::string_view reason);
  // Counts this session's slow-consumer cut under `reason`, once.
  void CountCut(base::Counter& reason);
  // A slow consumer found by the engine: ERROR then close, or close at once
  // when nothing more can be sent.
  void CutSlowConsumer(const SendEngine::Result& r, bool can_send_error);

  SessionAgent& agent_;
  io::Connection* conn_ = nullptr;
  State state_ = State::kAwaitLogon;
  SessionId session_id_;
  std::uint32_t max_frame_length_;
  // The protocol version LOGON negotiated (PROTOCOL.md 7.2); 0 before.
  std::uint16_t version_ = 0;
  // The instance epoch this session's acks carry: non-zero once LOGON
  // negotiated protocol version 2 (PROTOCOL.md 7.6), else 0 (version-1
  // forms).
  std::uint64_t ack_epoch_ = 0;
  // A REQUEST went to the router: the session's end cancels what is left.
  bool routed_requests_ = false;
  // REQUESTs handed to the router and not yet answered: a draining session
  // says LOGOUT only once they are (or its drain deadline passes).
  std::uint32_t requests_outstanding_ = 0;
  std::int64_t heartbeat_ns_ = 0;
  std::int64_t created_ns_;
  std::int64_t last_recv_ns_;
  std::int64_t last_send_ns_;
  std::int64_t deadline_ns_ = 0;  // closing/lingering/draining deadline
  bool cut_counted_ = false;

  // For log lines and the admin row; set at control events only.
  std::string peer_;
  std::string client_name_;
  std::string close_reason_;
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
  std::int64_t connected_unix_ms_ = 0;

  // Receive: bytes of a frame split across reads, and when its first
  // bytes arrived (the loop clock of that read).
  PartialFrame partial_;
  std::int64_t partial_since_ns_ = 0;
  // The peer's address (set_address).
  AddressKey address_;
  bool has_address_ = false;
  bool address_counted_ = false;
  // Flow control: a PUBLISH its stream had no room for, and every byte
  // received after it; the connection is not read while holding_.
  bool holding_ = false;
  // The read being consumed appended a PUBLISH (publish-to-append latency).
  bool appended_in_read_ = false;
  // The series of the stream of the read's last appended PUBLISH.
  base::Histogram* appended_stream_latency_ = nullptr;
  std::vector<std::byte> held_;
  std::vector<std::byte> resumed_;  // held_ being consumed after a retry

  ControlQueue control_;
  SendEngine engine_;

  // TLS ([tls] listener): the record layer the reactor calls; null for a
  // plain connection (Send tests this one pointer).
  std::unique_ptr<tls::TlsConnection> tls_;

  // Subscriptions.
  absl::flat_hash_map<std::uint32_t, Subscription> subscriptions_;
  int pattern_count_ = 0;
  // Streams opened for publishing (OPEN_STREAM) -> the worker's
  // publish-to-append series of the stream (kStreamPublishToAppendNs).
  absl::flat_hash_map<std::uint32_t, base::Histogram*> opened_streams_;

  // Principals: the identity LOGON gave (nullptr without an
  // authenticator), the authenticator generation it was checked against,
  // and what this session counts in its usage (released at the end).
  std::shared_ptr<const auth::Identity> identity_;
  std::uint64_t auth_generation_ = 0;
  bool connection_counted_ = false;
  int subscriptions_counted_ = 0;
  // Publish-rate tokens leased from the principal's shared bucket.
  std::uint32_t rate_lease_ = 0;
  // REQUEST permission by service id, decided once per id.
  absl::flat_hash_map<std::uint32_t, bool> request_allowed_;

  // Publish rate limit (token bucket); disabled when rate == 0.
  double publish_tokens_ = 0;
  std::int64_t tokens_at_ns_ = 0;
};

}  // namespace tachyon::session

#endif  // TACHYON_SESSION_SESSION_H_
