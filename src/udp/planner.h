// The datagram planner: which log frames go into which UDP datagram.
//
// Overview
//   UDP egress sends a stream as datagrams that each carry a 24-byte header
//   (PROTOCOL.md 16.1) and a run of consecutive DATA frames, the exact log
//   bytes, up to max_datagram_bytes. PlanDatagrams decides the runs from
//   the log's bytes and the sequence each destination is owed next; it
//   reads the frames and writes the headers, and nothing else: no sockets,
//   no clock, no state. UdpEgress sends what it plans (udp/egress.h).
//
//   Rules:
//     - a datagram never straddles the sequence a destination starts at, so
//       a destination that joins behind the others is sent exactly its
//       range without the others seeing duplicates;
//     - a frame too large for any datagram is skipped when it is first in
//       a pass (every destination owed it moves past it: receivers see a
//       gap and recover it over TCP); later in a pass the plan stops before
//       it, so that it is skipped at the start of the next pass;
//     - every frame's length, stream and sequence are checked; a frame that
//       does not match ends the plan with `corrupt` (the cursor went wrong).
//
// Threading: a pure function; any thread.
#ifndef TACHYON_UDP_PLANNER_H_
#define TACHYON_UDP_PLANNER_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "tachyon/common/types.h"

namespace tachyon::udp {

/// One planned datagram: its frames are the log bytes
/// [position, position + bytes); its header is the plan's headers[i].
struct PlannedDatagram {
  std::uint64_t position = 0;
  std::uint64_t sequence = 0;  ///< of its first frame
  std::uint32_t count = 0;     ///< frames
  std::uint32_t bytes = 0;     ///< frame bytes after the header
};

struct PlanRequest {
  /// Log bytes from `position` to the tail: whole DATA frames.
  std::span<const std::byte> frames;
  std::uint64_t position = 0;
  std::uint64_t sequence = 0;  ///< of the frame at `position`
  StreamId stream;
  std::uint64_t source_id = 0;  ///< the gateway's, for the headers
  std::uint32_t max_datagram_bytes = 1472;
  /// Per destination, the next sequence it is owed. A skipped frame moves
  /// the destinations owed it past it (written back).
  std::span<std::uint64_t> destination_next;
};

struct PlanResult {
  std::size_t datagrams = 0;       ///< planned into `out`
  std::uint64_t end_position = 0;  ///< after the last frame planned/skipped
  std::uint64_t end_sequence = 0;
  std::uint64_t skipped = 0;  ///< frames too large for any datagram
  bool corrupt = false;       ///< a frame did not match its stream/sequence
};

/// The 24-byte header that precedes each datagram's frames.
inline constexpr std::size_t kPlannedHeaderBytes = 24;

/// Plans at most out.size() datagrams; writes datagram i's header to
/// headers[24 * i, 24 * i + 24) (headers.size() >= 24 * out.size()).
PlanResult PlanDatagrams(const PlanRequest& request,
                         std::span<PlannedDatagram> out,
                         std::span<std::byte> headers);

}  // namespace tachyon::udp

#endif  // TACHYON_UDP_PLANNER_H_
