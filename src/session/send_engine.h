// SendEngine: what one connection sends, and in what order.
//
// Overview
//   Each send is one gather list (at most Reactor::kMaxIov entries) of:
//     1. the rest of a frame a previous send stopped inside, if any: frames
//        never interleave on the wire, so that frame's source goes first;
//     2. the control queue's front bytes;
//     3. for every dirty delivery (one whose stream grew), the bytes
//        [position, tail) straight from its log: no DATA frame is copied.
//   A delivery's data waits until the control bytes that must precede it
//   (its SUBSCRIBE_ACK, a GAP) are in the same or an earlier send. Only
//   dirty deliveries are looked at, so a session covering a thousand
//   streams pays for the ones that moved, not for all of them.
//
//   Safety of log bytes: every delivery source is pinned in its log before
//   the send (stream_log.h) and unpinned once the send completed, so the
//   writer cannot overwrite bytes the kernel is still to copy; a delivery
//   whose pin does not hold is reported as a slow (lapped) consumer and
//   sends nothing.
//
//   Latency: given a histogram, each completed send that finished a live
//   DATA frame records the age of the oldest such frame, read from its
//   header while the send's pins still hold (session_counters.h,
//   kDeliveryLatencyNs): one CLOCK_REALTIME read per send, none per frame.
//
//   The engine sends through a Transport: the reactor in the gateway, a
//   fake connection in tests. A send completes at once (Send returns the
//   bytes written) or later (pending: OnSendComplete); either way 0 bytes
//   means the socket was full and OnWritable follows when it has room.
//
// Threading: one session's worker thread.
#ifndef TACHYON_SESSION_SEND_ENGINE_H_
#define TACHYON_SESSION_SEND_ENGINE_H_

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/counters.h"
#include "io/reactor.h"
#include "session/control_queue.h"
#include "session/delivery.h"

namespace tachyon::session {

/// Where the engine's bytes go.
class Transport {
 public:
  virtual ~Transport() = default;
  /// As io::Reactor::Send for one connection.
  virtual io::SendResult Send(std::span<const iovec> iov) = 0;
};

/// Told about what the engine did.
class SendListener {
 public:
  virtual ~SendListener() = default;
  /// `bytes` reached the kernel.
  virtual void OnBytesSent(std::size_t bytes) = 0;
  /// `d` is about to be destroyed (unsubscribed and finished): stop
  /// waking it.
  virtual void OnDeliveryRemoved(Delivery* d) = 0;
  /// A delivery became ready to send (a restart took effect).
  virtual void OnReady() = 0;
};

class SendEngine {
 public:
  enum class Outcome : std::uint8_t {
    kIdle,     ///< nothing was ready to send
    kSent,     ///< a send completed at once (call again for more)
    kWaiting,  ///< a send is pending, or the socket is full
    kSlow,     ///< a delivery is a slow consumer; nothing was sent
    kFailed,   ///< the send failed: the connection is broken
  };
  struct Result {
    Outcome outcome = Outcome::kIdle;
    Delivery* delivery = nullptr;  ///< kSlow: which
    Delivery::Lag lag = Delivery::Lag::kOk;
    std::uint64_t lag_bytes = 0;  ///< kSlow: how far behind its tail
    std::int64_t behind_ns = 0;   ///< kSlow (kTooFar): for how long
  };

  /// `delivery_latency` (optional; it must outlive the engine): where the
  /// delivery latency is recorded (see the overview), on this thread.
  SendEngine(ControlQueue& control, Transport& transport,
             SendListener& listener,
             base::Histogram* delivery_latency = nullptr);
  ~SendEngine();
  SendEngine(const SendEngine&) = delete;
  SendEngine& operator=(const SendEngine&) = delete;

  // Deliveries, one per stream.
  [[nodiscard]] Delivery* Find(StreamId stream) const;
  /// A new delivery of `log` for `session` (not yet started).
  Delivery* Add(Session* session, stream::StreamLog* log);
  /// `d` is no longer subscribed: destroys it now (OnDeliveryRemoved
  /// first), or, if a send may still involve it, marks it removing and
  /// destroys (or restarts) it once that send is done.
  void Retire(Delivery* d);
  [[nodiscard]] const std::vector<Delivery*>& deliveries() const {
    return order_;
  }
  /// `d`'s stream grew: look at it on the next send.
  void MarkDirty(Delivery* d);
  /// True if a send in flight or a partly sent frame may involve `d`.
  [[nodiscard]] bool References(const Delivery* d) const;

  /// Builds one gather list and sends it (see the overview). Only when
  /// !busy(). `data_allowed`: deliveries may send (false while logging on
  /// or closing: control frames and the rest of a partial frame only).
  /// `now_ns` (CLOCK_MONOTONIC) times the slow-consumer grace.
  Result SendOnce(bool data_allowed, std::int64_t now_ns);
  /// While busy(): the slow-consumer verdict for the deliveries whose
  /// streams grew (there is no send to build, but the writer goes on).
  [[nodiscard]] Result CheckWhileBusy(std::int64_t now_ns);
  /// From now on no log bytes are sent (the session is closing): the frame
  /// a send stopped inside is finished from a copy in the control queue,
  /// made now, or when the send in flight completes (while its bytes are
  /// still pinned), so the rest is control output only. False if that
  /// frame was already overwritten and cannot be finished (close at once).
  [[nodiscard]] bool StopData();

  /// A pending send finished (see io::ConnectionHandler::OnSendComplete).
  Outcome OnSendComplete(ssize_t result);
  /// The socket has room again after a send that wrote nothing.
  void OnWritable() { blocked_ = false; }

  /// A send is pending, or the socket is full.
  [[nodiscard]] bool busy() const { return in_flight_ || blocked_; }
  /// Nothing pending, nothing partly sent, no control bytes queued.
  [[nodiscard]] bool OutputIdle() const;
  /// Every delivery has sent everything its log holds.
  [[nodiscard]] bool CaughtUp() const;
  /// Finishes removals and restarts that waited for a send. Only when no
  /// send is in flight.
  void SettleRemoving();

 private:
  // Where an iovec of the current send came from.
  struct Source {
    Delivery* delivery = nullptr;  // nullptr: the control queue
    std::size_t length = 0;
  };

  void Remove(Delivery* d);
  void AddSource(Delivery* d, std::span<const std::byte> bytes);
  Result Transmit();
  void HandleSent(std::size_t bytes);
  // Copies the rest of the partial frame into the control queue. Needs the
  // frame pinned. False if it is gone.
  bool CopyPartialFrame();
  // After StopData, while the current send's pins still hold: the copy
  // above, for a frame that send left half done (or never advanced).
  void CopyPartialFrameIfStopped();
  // Releases the current sources' pins and queues their deliveries for
  // another look (bytes may remain).
  void ReleaseSources();

  ControlQueue& control_;
  Transport& transport_;
  SendListener& listener_;
  base::Histogram* const delivery_latency_;

  absl::flat_hash_map<std::uint32_t, std::unique_ptr<Delivery>> deliveries_;
  std::vector<Delivery*> order_;
  std::vector<Delivery*> dirty_;
  // Deliveries marked removing: SettleRemoving walks nothing when 0.
  std::size_t removing_ = 0;

  bool in_flight_ = false;
  bool blocked_ = false;
  std::vector<Source> sources_;
  std::vector<iovec> iov_;
  // The source a send stopped inside (frames must be finished first).
  Source partial_;
  bool partial_valid_ = false;
  bool data_stopped_ = false;
};

}  // namespace tachyon::session

#endif  // TACHYON_SESSION_SEND_ENGINE_H_
