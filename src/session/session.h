// Session: one client connection's protocol state machine and output queue.
//
// Overview
//   A session decodes frames in place from the bytes its reactor hands it
//   (copying only a trailing partial frame), answers control requests through
//   a small control queue, appends publishes to stream logs, and sends each
//   subscribed stream straight from its log: the bytes [cursor, tail) of each
//   stream go into one writev/sendmsg together with pending control frames.
//   No DATA frame is ever copied per subscriber.
//
//   Ordering on the socket. Frames never interleave: a send that stops inside
//   a frame "pins" its source, and the next send starts by finishing that
//   source. A stream's first bytes go out only after the SUBSCRIBE_ACK (and
//   any GAP) queued for it, by remembering how much control output must
//   precede them.
//
//   Bad input: a malformed or disallowed frame earns an ERROR frame with its
//   code and a text, then this connection alone is closed (after the ERROR is
//   flushed and the write side shut down, so the peer reads it before EOF).
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
#include "io/reactor.h"
#include "stream/stream_log.h"
#include "tachyon/common/types.h"
#include "tachyon/protocol/protocol.h"
#include "udp/udp_socket.h"

namespace tachyon::server {
class Worker;
}  // namespace tachyon::server

namespace tachyon::session {

using server::Worker;

class Session final : public io::ConnectionHandler {
 public:
  enum class State : std::uint8_t {
    kAwaitLogon,  ///< connected; only LOGON is acceptable
    kActive,      ///< logged on
    kDraining,    ///< gateway stopping: input ignored, output flushed
    kClosing,     ///< final frame queued; close once it is flushed
    kLingering,   ///< write side shut down; waiting for the peer's EOF
    kClosed,      ///< Close() called; waiting for OnReleased
  };

  Session(Worker& worker, std::int64_t now_ns);
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Binds the reactor connection (right after AddConnection).
  void Attach(io::Connection* conn) { conn_ = conn; }

  // io::ConnectionHandler
  void OnData(std::span<const std::byte> data) override;
  void OnSendComplete(ssize_t result) override;
  void OnWritable() override;
  void OnPeerClosed(int error) override;
  void OnReleased() override;

  /// Sends whatever is ready (control frames, new log bytes). Worker thread.
  void Flush();
  /// Periodic checks: heartbeats, idle and logon timeouts, close deadlines.
  void Tick(std::int64_t now_ns);
  /// Gateway shutdown: stop reading, deliver what is queued, LOGOUT, close.
  void BeginDrain(std::int64_t now_ns);
  /// Closes the connection at once, without a final frame.
  void Abort() { CloseNow(); }
  /// A stream created after a pattern SUBSCRIBE: deliver it if it matches.
  void OnNewStream(stream::StreamLog* log);

  [[nodiscard]] State state() const { return state_; }
  [[nodiscard]] bool has_patterns() const { return pattern_count_ > 0; }
  [[nodiscard]] SessionId id() const { return session_id_; }

  /// Worker bookkeeping: queued on the worker's flush list.
  bool dirty = false;

 private:
  // One stream being delivered to this session.
  struct Delivery {
    stream::StreamLog* log = nullptr;
    stream::ReaderSlot slot;            // published position (back-pressure)
    std::uint64_t position = 0;         // next byte to hand to the kernel
    std::uint64_t ready_after_ctl = 0;  // control bytes that must go first
    // Lag tolerated before the slow-consumer policy applies: the window,
    // or more for a replay that started further back, shrinking back to
    // the window as the reader catches up.
    std::uint64_t allowed_lag = 0;
    int coverage = 0;       // subscriptions that match this stream
    bool removing = false;  // unsubscribed; drop once not pinned
    bool detached = false;  // no longer a reader of the log (closing)
    // Start of the frame holding `position` (== position at a boundary):
    // an unsubscribed delivery still finishes that frame, and no more.
    std::uint64_t frame_start = 0;
    // Subscribed again while removing: once the old frame is off the wire
    // and no send references the delivery, it starts over at `restart`
    // (where the new subscription's ack said), not where it stopped.
    bool restarting = false;
    std::uint64_t restart_position = 0;
    std::uint64_t restart_lag = 0;
    std::uint64_t restart_after_ctl = 0;
  };
  struct Subscription {
    std::string name;  // stream name or pattern (with '*')
    bool pattern = false;
    std::vector<StreamId> streams;  // deliveries this subscription covers
    // UDP_SUBSCRIBE: the stream goes to `udp_destination` as datagrams
    // (served by the stream's UDP owner worker), not over this connection.
    bool udp = false;
    StreamId udp_stream;
    udp::Endpoint udp_destination;
  };
  // Which source a send's iovec came from.
  struct Source {
    Delivery* delivery = nullptr;  // nullptr: the control queue
    std::size_t length = 0;
    std::uint64_t start = 0;  // delivery: log position of the bytes
  };

  void HandleFrame(protocol::FrameView frame);
  void HandleLogon(const protocol::LogonView& m);
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
  void HandlePublish(const protocol::PublishView& m);
  void HandleRequest(const protocol::RequestView& m);

  // Starts delivering `log` for subscription `sub` (or adds coverage).
  void Cover(SubscriptionId sub_id, Subscription& sub, stream::StreamLog* log,
             protocol::StartMode mode, Sequence start, bool announce);
  void Uncover(StreamId stream);
  void RemoveDelivery(Delivery* d);
  // Queues the stream ack (if `announce`) and any GAP for a delivery that
  // starts at `sp`; returns the control bytes that must precede its data.
  std::uint64_t AnnounceStart(SubscriptionId sub_id, stream::StreamLog* log,
                              const stream::StartPoint& sp, bool announce);
  // Drops removing deliveries and restarts re-subscribed ones, except the
  // one a send stopped inside. Only while no send is in flight.
  void SettleRemoving();
  // Padded length of the frame at log position `p` (a frame boundary).
  static std::uint64_t FrameLengthAt(const Delivery& d, std::uint64_t p);
  // Moves `d.frame_start` to the start of the frame containing
  // `d.position` (to `d.position` itself at a boundary).
  static void FindFrameStart(Delivery& d);
  // Asks the owner to stop the UDP destination of subscription `sub`.
  void ReleaseUdp(Subscription& sub);

  // Control output.
  std::span<std::byte> ReserveControl(std::size_t bytes);
  void CommitControl(std::size_t bytes);
  void QueueError(protocol::ErrorCode code, bool fatal, std::string_view text,
                  std::uint64_t context = 0, StreamId stream = StreamId{});
  void Fatal(protocol::ErrorCode code, std::string_view text,
             StreamId stream = StreamId{});
  void QueuePublishAck(StreamId stream, std::uint64_t correlation, Sequence seq,
                       protocol::ErrorCode status);
  void CloseAfterFlush();
  void DetachAll();
  void CloseNow();

  void HandleSent(std::size_t bytes);
  bool OutputIdle() const;
  void MarkDirty();

  Worker& worker_;
  io::Connection* conn_ = nullptr;
  State state_ = State::kAwaitLogon;
  SessionId session_id_;
  std::uint32_t max_frame_length_;
  std::int64_t heartbeat_ns_ = 0;
  std::int64_t created_ns_;
  std::int64_t last_recv_ns_;
  std::int64_t last_send_ns_;
  std::int64_t deadline_ns_ = 0;  // closing/lingering/draining deadline

  // Receive: bytes of a frame split across reads.
  std::vector<std::byte> partial_;

  // Control output, double-buffered: `ctl_out_` may be referenced by an
  // in-flight send and is never modified then; new frames go to ctl_next_.
  std::vector<std::byte> ctl_out_;
  std::size_t ctl_off_ = 0;
  std::vector<std::byte> ctl_next_;
  std::uint64_t ctl_queued_total_ = 0;  // bytes ever queued
  std::uint64_t ctl_sent_total_ = 0;    // bytes ever handed to the kernel
  std::size_t last_reserve_ = 0;        // size of the open reservation

  // Send state.
  bool send_in_flight_ = false;
  bool send_blocked_ = false;  // epoll: waiting for writable
  std::vector<Source> sources_;
  std::vector<iovec> iov_;
  Source pinned_;  // source a partial send stopped inside
  bool pinned_valid_ = false;

  // Subscriptions and deliveries.
  absl::flat_hash_map<std::uint32_t, Subscription> subscriptions_;
  absl::flat_hash_map<std::uint32_t, std::unique_ptr<Delivery>> deliveries_;
  std::vector<Delivery*> delivery_order_;
  int pattern_count_ = 0;
  absl::flat_hash_set<std::uint32_t> opened_streams_;

  // Publish rate limit (token bucket); disabled when rate == 0.
  double publish_tokens_ = 0;
  std::int64_t tokens_at_ns_ = 0;
};

}  // namespace tachyon::session

#endif  // TACHYON_SESSION_SESSION_H_
