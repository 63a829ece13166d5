// UdpCounters: what one worker's UDP ingress and egress did, for stats,
// tests and the admin plane.
//
// Each worker owns one UdpCounters, registered in the counters registry
// (base/counters.h) under its worker label, and is its only writer; any
// thread may read them at any time without locks. Snapshot() copies one
// worker's into plain integers; ReadUdpStats sums the registry's.
//
// Example
//   udp::UdpStats s = udp::ReadUdpStats(registry);
//   EXPECT_EQ(s.messages_appended, 200000u);
#ifndef TACHYON_UDP_UDP_COUNTERS_H_
#define TACHYON_UDP_UDP_COUNTERS_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "base/counters.h"
#include "tachyon/protocol/wire.h"

namespace tachyon::udp {

/// Decoding errors a datagram can earn (PROTOCOL.md 16.2) are codes 1..7.
inline constexpr std::size_t kMalformedCodes = 8;

/// A plain copy of the counters (one worker's, or a sum).
struct UdpStats {
  // Ingress.
  std::uint64_t datagrams_received = 0;  ///< every datagram read
  std::uint64_t messages_appended = 0;   ///< PUBLISH frames now in a log
  /// Datagrams dropped by PROTOCOL.md 16.2, by ErrorCode (index = code);
  /// a datagram longer than udp.max_datagram_bytes counts as FRAME_TOO_LONG.
  std::array<std::uint64_t, kMalformedCodes> malformed{};
  std::uint64_t wrong_kind = 0;      ///< valid DATA/HEARTBEAT sent to ingress
  std::uint64_t duplicates = 0;      ///< frames at or below the producer's
                                     ///< highest accepted sequence
  std::uint64_t gaps = 0;            ///< producer sequences skipped over
  std::uint64_t unknown_stream = 0;  ///< datagrams for a stream id not open
  std::uint64_t refused = 0;         ///< frames the log refused (size,
                              ///< back-pressure) or over the producer limit
  std::uint64_t kernel_drops = 0;  ///< SO_RXQ_OVFL: dropped by the kernel
  // Ingress authentication and sequence bounds (PROTOCOL.md 16.5, 16.7):
  // datagrams dropped, by reason.
  std::uint64_t unauthenticated = 0;     ///< version 1 while authentication is
                                         ///< required
  std::uint64_t unknown_producer = 0;    ///< producer_id not configured
  std::uint64_t source_not_allowed = 0;  ///< source outside allowed_sources
  std::uint64_t bad_mac = 0;             ///< MAC does not verify
  std::uint64_t not_permitted = 0;  ///< stream outside the producer's publish
  std::uint64_t wild_sequence = 0;  ///< sequence beyond max_sequence_jump
  std::uint64_t reanchored = 0;     ///< producers re-anchored after a jump
  // Egress.
  std::uint64_t datagrams_sent = 0;    ///< DATA datagrams, per destination
  std::uint64_t messages_sent = 0;     ///< DATA frames, per destination
  std::uint64_t heartbeats_sent = 0;   ///< HEARTBEAT datagrams, per destination
  std::uint64_t gso_sends = 0;         ///< sends that used UDP_SEGMENT
  std::uint64_t send_would_block = 0;  ///< EAGAIN/ENOBUFS, retried later
  std::uint64_t send_errors = 0;       ///< other send failures (dropped)
  std::uint64_t frames_too_large = 0;  ///< frames skipped: no datagram fits
  std::uint64_t lapped = 0;  ///< egress cursor overtaken by the writer

  [[nodiscard]] std::uint64_t malformed_total() const {
    std::uint64_t n = 0;
    for (std::uint64_t m : malformed) n += m;
    return n;
  }
  [[nodiscard]] std::uint64_t malformed_by(protocol::ErrorCode code) const {
    const auto i = static_cast<std::size_t>(code);
    return i < kMalformedCodes ? malformed[i] : 0;
  }
  UdpStats& operator+=(const UdpStats& o);
};

/// One worker's live counters, registered in the counters registry under
/// the worker's label (names tachyon_udp_*). Written only by that worker.
struct UdpCounters {
  /// Registers every value with label worker=`worker`.
  UdpCounters(base::CounterRegistry& registry, int worker);

  base::Counter datagrams_received;
  base::Counter messages_appended;
  /// Index = ErrorCode; label code="<ERROR_CODE_NAME>".
  std::array<base::Counter, kMalformedCodes> malformed;
  base::Counter wrong_kind;
  base::Counter duplicates;
  base::Counter gaps;
  base::Counter unknown_stream;
  base::Counter refused;
  base::Counter kernel_drops;
  base::Counter unauthenticated;
  base::Counter unknown_producer;
  base::Counter source_not_allowed;
  base::Counter bad_mac;
  base::Counter not_permitted;
  base::Counter wild_sequence;
  base::Counter reanchored;
  base::Counter datagrams_sent;
  base::Counter messages_sent;
  base::Counter heartbeats_sent;
  base::Counter gso_sends;
  base::Counter send_would_block;
  base::Counter send_errors;
  base::Counter frames_too_large;
  base::Counter lapped;

  /// Any thread: these counters' values now.
  [[nodiscard]] UdpStats Snapshot() const;
};

/// Any thread: the UDP counters in `registry`, summed over every worker, or
/// only worker `worker` when it is >= 0.
UdpStats ReadUdpStats(const base::CounterRegistry& registry, int worker = -1);

}  // namespace tachyon::udp

#endif  // TACHYON_UDP_UDP_COUNTERS_H_
