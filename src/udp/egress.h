// UdpEgress: one worker's UDP fan-out — stream logs to datagrams.
//
// Overview
//   Each stream with UDP destinations is served by exactly one worker (the
//   owner, chosen by the gateway). Its OutStream keeps a cursor into the
//   log, like a TCP subscriber but without back-pressure: UDP never makes a
//   publisher wait. Every DoWork pass reads [cursor, tail), lets the planner
//   (udp/planner.h) pack consecutive DATA frames — the exact log bytes —
//   behind 24-byte datagram headers, at most udp.send_batch datagrams per
//   pass, and hands each destination its run of them to the datagram path
//   (io::DatagramIo: kernel sockets with sendmmsg and UDP GSO today). Each
//   datagram is a header plus one log range, shared by every destination,
//   so nothing is copied per destination.
//
//   Destinations. Each destination records the next sequence it is owed, and
//   the cursor is the smallest of them. A new destination (UDP_SUBSCRIBE)
//   starts at the sequence its SUBSCRIBE_ACK announced; a datagram goes
//   only to the destinations it is owed to, so one that joins behind the
//   cursor is caught up without the others seeing duplicates. A run that
//   finds the path full leaves its destination where it stopped; the next
//   pass sends the rest. A run that fails is lost to its destination, like
//   any UDP loss.
//
//   Losses are visible to receivers as sequence gaps (16.4): a frame too
//   large for one datagram is skipped, and a cursor lapped by the writer
//   jumps to the oldest retained frame; both are counted. A pass pins the
//   bytes it packs (stream_log.h), so a datagram never carries bytes the
//   writer overwrote. While a stream is idle, a HEARTBEAT datagram carrying
//   its next sequence goes to every destination each
//   udp.heartbeat_interval_ms.
//
// Threading: worker thread only, except counters (see udp_counters.h).
// DoWork never blocks and never allocates once its arrays have grown;
// Add/Remove/AddGroup are control path.
#ifndef TACHYON_UDP_EGRESS_H_
#define TACHYON_UDP_EGRESS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "config/model.h"
#include "io/agent.h"
#include "io/datagram_io.h"
#include "stream/reader_interest.h"
#include "stream/stream_log.h"
#include "tachyon/common/types.h"
#include "udp/planner.h"
#include "udp/udp_counters.h"

namespace tachyon::udp {

using io::Endpoint;

class UdpEgress final : public io::Agent {
 public:
  /// Sends through `io`. `source_id` (non-zero) goes into every datagram
  /// header. Streams this egress serves are retained in `interest` (null:
  /// nobody to tell, as in tests that call DoWork themselves).
  UdpEgress(const config::GatewayConfig& config, io::DatagramIo& io,
            std::uint64_t source_id, UdpCounters& counters,
            stream::WorkerInterest* interest = nullptr);
  ~UdpEgress() override;
  UdpEgress(const UdpEgress&) = delete;
  UdpEgress& operator=(const UdpEgress&) = delete;

  /// A [[udp.groups]] entry for `log`: its unicast destinations and
  /// multicast group, from the stream's next sequence on, for good.
  absl::Status AddGroup(stream::StreamLog* log, const config::UdpGroup& group);
  /// Sends `log` to `destination` from sequence `from` (the next sequence
  /// at the time of the SUBSCRIBE_ACK). Adding a destination the stream
  /// already has takes one more reference to it.
  void Add(stream::StreamLog* log, const Endpoint& destination, Sequence from);
  /// Drops one reference to `destination` of `stream`; at zero it gets
  /// nothing more.
  void Remove(StreamId stream, const Endpoint& destination);

  // io::Agent
  [[nodiscard]] std::string_view name() const override { return "udp-egress"; }
  /// One pass over every stream: data datagrams, heartbeats. Returns the
  /// number of streams that did work.
  int DoWork(std::int64_t now_ns) override;
  [[nodiscard]] bool HasPendingWork() const override { return HasBacklog(); }

  /// True if `stream` has destinations here.
  [[nodiscard]] bool Serves(StreamId stream) const {
    return streams_.contains(stream.value());
  }
  /// True if a stream has bytes not yet sent to all its destinations.
  [[nodiscard]] bool HasBacklog() const;
  /// Destinations `stream` has here (tests).
  [[nodiscard]] std::size_t DestinationCount(StreamId stream) const;

 private:
  struct Destination {
    Endpoint endpoint;
    int channel = 0;         // io channel (multicast options)
    int refs = 0;            // groups + subscriptions naming it
    std::uint64_t next = 0;  // next sequence owed
  };
  struct OutStream {
    // Pins the bytes a pass packs and sends (stream_log.h); back-pressure
    // never waits for it.
    stream::ReaderSlot slot;
    stream::StreamLog* log = nullptr;
    std::uint64_t position = 0;  // log position of sequence `next_sequence`
    std::uint64_t next_sequence = 1;
    std::vector<Destination> destinations;
    std::int64_t last_send_ns = 0;
  };

  // nullptr if the stream was retired before it could be attached.
  OutStream* StreamFor(stream::StreamLog* log);
  void AddDestination(OutStream& s, const Endpoint& ep, int channel,
                      std::uint64_t next);
  void Relocate(OutStream& s, protocol::StartMode mode, Sequence sequence);
  int Pump(OutStream& s, std::int64_t now_ns);
  void SendPlanned(OutStream& s, std::size_t planned);
  void SendHeartbeats(OutStream& s, std::int64_t now_ns);
  void Grow(std::size_t destinations);
  void CountOffloads();

  const std::uint32_t max_datagram_;
  const std::size_t batch_;
  const std::int64_t heartbeat_ns_;
  const std::uint64_t source_id_;
  io::DatagramIo& io_;
  UdpCounters& counters_;
  stream::WorkerInterest* const interest_;
  std::uint64_t offloads_seen_ = 0;

  absl::flat_hash_map<std::uint32_t, std::unique_ptr<OutStream>> streams_;
  std::vector<OutStream*> order_;

  // Per-pass scratch, sized on the control path.
  std::vector<PlannedDatagram> planned_;
  std::vector<std::byte> headers_;  // batch_ * 24
  std::vector<io::TxDatagram> datagrams_;
  std::vector<std::uint64_t> next_;  // per destination, for the planner
  std::vector<io::TxRun> runs_;
  std::vector<io::TxRunResult> results_;
};

}  // namespace tachyon::udp

#endif  // TACHYON_UDP_EGRESS_H_
