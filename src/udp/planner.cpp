#include "udp/planner.h"

#include <algorithm>
#include <limits>

#include "tachyon/protocol/datagram.h"

namespace tachyon::udp {

namespace tp = ::tachyon::protocol;

static_assert(kPlannedHeaderBytes == tp::kDatagramHeaderLength);

PlanResult PlanDatagrams(const PlanRequest& r, std::span<PlannedDatagram> out,
                         std::span<std::byte> headers) {
  constexpr std::size_t kHeader = kPlannedHeaderBytes;
  const std::uint64_t base = r.position;
  const std::uint64_t tail = r.position + r.frames.size();
  std::uint64_t pos = r.position;
  std::uint64_t seq = r.sequence;
  PlanResult result;
  bool stop = false;
  std::size_t n = 0;
  while (n < out.size() && pos < tail && !stop) {
    // A datagram never straddles the sequence a destination starts at.
    std::uint64_t limit = std::numeric_limits<std::uint64_t>::max();
    for (std::uint64_t next : r.destination_next) {
      if (next > seq) limit = std::min(limit, next);
    }
    PlannedDatagram p{pos, seq, 0, 0};
    while (pos < tail && seq < limit && p.count < 0xFFFF) {
      const std::byte* frame = r.frames.data() + (pos - base);
      const std::uint32_t length = tp::LoadU32(frame);
      const std::uint64_t padded = tp::PaddedLength(length);
      if (length < tp::DataView::kFixedLength || padded > tail - pos) {
        result.corrupt = true;
        break;
      }
      const tp::DataView data(tp::FrameView({frame, length}));
      if (data.stream_id() != r.stream || data.sequence().value() != seq) {
        result.corrupt = true;
        break;
      }
      if (kHeader + p.bytes + padded > r.max_datagram_bytes) {
        if (p.count > 0) break;
        if (n > 0) {
          // Skipped at the start of the next pass, once every destination
          // owed it has been sent what comes before.
          stop = true;
          break;
        }
        // Alone too large for any datagram, at the start: every
        // destination owed it moves past it.
        ++result.skipped;
        for (std::uint64_t& next : r.destination_next) {
          if (next == seq) next = seq + 1;
        }
        pos += padded;
        ++seq;
        p = PlannedDatagram{pos, seq, 0, 0};
        continue;
      }
      p.bytes += static_cast<std::uint32_t>(padded);
      ++p.count;
      pos += padded;
      ++seq;
    }
    if (p.count == 0) break;
    tp::EncodeDatagramHeader(headers.subspan(n * kHeader, kHeader),
                             tp::DatagramKind::kData,
                             static_cast<std::uint16_t>(p.count), r.stream,
                             Sequence{p.sequence}, r.source_id);
    out[n++] = p;
    if (result.corrupt) break;
  }
  result.datagrams = n;
  result.end_position = pos;
  result.end_sequence = seq;
  return result;
}

}  // namespace tachyon::udp
