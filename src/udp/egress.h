// UdpEgress: one worker's UDP fan-out — stream logs to datagrams.
//
// Overview
//   Each stream with UDP destinations is served by exactly one worker (the
//   owner, chosen by the gateway). Its OutStream keeps a cursor into the
//   log, like a TCP subscriber but without back-pressure: UDP never makes a
//   publisher wait. Every DoWork pass reads [cursor, tail) and packs
//   consecutive DATA frames — the exact log bytes — behind a 24-byte
//   datagram header (PROTOCOL.md 16.1) up to udp.max_datagram_bytes, at most
//   udp.send_batch datagrams per pass. Each datagram is one header plus one
//   log range; the iovec pair is built once and shared by every destination,
//   so nothing is copied per destination. The datagrams go out with sendmmsg
//   (one message per datagram and destination), or, on a kernel with UDP
//   GSO, as one message per destination and run of equal-sized datagrams
//   with a UDP_SEGMENT control message (the kernel cuts the run into
//   datagrams; one system call covers every destination's runs).
//
//   Destinations. Each destination records the next sequence it is owed, and
//   the cursor is the smallest of them. A new destination (UDP_SUBSCRIBE)
//   starts at the sequence its SUBSCRIBE_ACK announced: datagram boundaries
//   fall on every destination's start, and a datagram goes only to the
//   destinations it is owed to, so a destination that joins behind the
//   cursor is caught up without the others seeing duplicates. A send that
//   would block (EAGAIN, ENOBUFS) leaves the destinations it did not reach
//   where they were; the next pass sends the rest.
//
//   Losses are visible to receivers as sequence gaps (16.4): a frame too
//   large for one datagram is skipped, and a cursor lapped by the writer
//   jumps to the oldest retained frame; both are counted. A pass pins the
//   bytes it packs (stream_log.h), so a datagram never carries bytes the
//   writer overwrote. While a stream is
//   idle, a HEARTBEAT datagram carrying its next sequence goes to every
//   destination each udp.heartbeat_interval_ms.
//
// Threading: worker thread only, except counters (see udp_counters.h).
// DoWork never blocks and never allocates; Add/Remove/AddGroup are control
// path.
#ifndef TACHYON_UDP_EGRESS_H_
#define TACHYON_UDP_EGRESS_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "config/model.h"
#include "io/agent.h"
#include "stream/reader_interest.h"
#include "stream/stream_log.h"
#include "tachyon/common/types.h"
#include "udp/udp_counters.h"
#include "udp/udp_socket.h"

namespace tachyon::udp {

class UdpEgress final : public io::Agent {
 public:
  /// `source_id` (non-zero) goes into every datagram header. Streams this
  /// egress serves are retained in `interest` (null: nobody to tell, as in
  /// tests that call DoWork themselves).
  UdpEgress(const config::GatewayConfig& config, std::uint64_t source_id,
            UdpCounters& counters, stream::WorkerInterest* interest = nullptr);
  ~UdpEgress();
  UdpEgress(const UdpEgress&) = delete;
  UdpEgress& operator=(const UdpEgress&) = delete;

  /// Creates the unicast send socket and probes GSO.
  absl::Status Init();

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
  /// False once the kernel refused a UDP_SEGMENT send (or never had it).
  [[nodiscard]] bool gso_active() const { return gso_; }

 private:
  struct Destination {
    Endpoint endpoint;
    sockaddr_in addr{};
    int fd = -1;
    bool gso = false;        // this socket takes UDP_SEGMENT
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
  // One packed datagram of the current pass.
  struct Packed {
    std::uint64_t position;
    std::uint64_t sequence;
    std::uint32_t count;
    std::uint32_t bytes;  // frames only
  };
  // One mmsghdr: datagrams [first, end) of `packed_` to one destination
  // (more than one only with GSO).
  struct Message {
    std::uint32_t destination;
    std::uint32_t first;
    std::uint32_t end;
    bool gso;
  };

  OutStream& StreamFor(stream::StreamLog* log);
  Destination& AddDestination(OutStream& s, const Endpoint& ep, int fd,
                              bool gso, std::uint64_t next);
  void Relocate(OutStream& s, protocol::StartMode mode, Sequence sequence);
  int Pump(OutStream& s, std::int64_t now_ns);
  std::size_t Pack(OutStream& s, std::uint64_t tail, std::uint64_t* end_pos,
                   std::uint64_t* end_seq, bool* corrupt);
  std::size_t BuildMessages(OutStream& s, std::size_t packed);
  void SendMessages(OutStream& s, std::size_t count);
  void SendHeartbeats(OutStream& s, std::int64_t now_ns);
  void EnsureCapacity(std::size_t destinations);

  const std::uint32_t max_datagram_;
  const std::size_t batch_;
  const std::int64_t heartbeat_ns_;
  const std::uint64_t source_id_;
  const config::GatewayConfig& config_;
  UdpCounters& counters_;
  stream::WorkerInterest* const interest_;
  bool gso_ = false;
  int unicast_fd_ = -1;
  std::vector<int> sockets_;  // every socket this egress owns

  absl::flat_hash_map<std::uint32_t, std::unique_ptr<OutStream>> streams_;
  std::vector<OutStream*> order_;

  // Per-pass scratch, sized on the control path.
  std::vector<Packed> packed_;
  std::vector<std::byte> headers_;  // batch_ * 24
  std::vector<iovec> iov_;          // 2 per datagram: header, frames
  std::vector<mmsghdr> msgs_;
  std::vector<Message> message_info_;
  std::vector<std::byte> gso_control_;  // one UDP_SEGMENT cmsg per message
};

}  // namespace tachyon::udp

#endif  // TACHYON_UDP_EGRESS_H_
