#include "udp/udp_counters.h"

namespace tachyon::udp {

UdpStats& UdpStats::operator+=(const UdpStats& o) {
  datagrams_received += o.datagrams_received;
  messages_appended += o.messages_appended;
  for (std::size_t i = 0; i < kMalformedCodes; ++i)
    malformed[i] += o.malformed[i];
  wrong_kind += o.wrong_kind;
  duplicates += o.duplicates;
  gaps += o.gaps;
  unknown_stream += o.unknown_stream;
  refused += o.refused;
  kernel_drops += o.kernel_drops;
  datagrams_sent += o.datagrams_sent;
  messages_sent += o.messages_sent;
  heartbeats_sent += o.heartbeats_sent;
  gso_sends += o.gso_sends;
  send_would_block += o.send_would_block;
  send_errors += o.send_errors;
  frames_too_large += o.frames_too_large;
  lapped += o.lapped;
  return *this;
}

UdpStats UdpCounters::Snapshot() const {
  auto get = [](const std::atomic<std::uint64_t>& a) {
    return a.load(std::memory_order_relaxed);
  };
  UdpStats s;
  s.datagrams_received = get(datagrams_received);
  s.messages_appended = get(messages_appended);
  for (std::size_t i = 0; i < kMalformedCodes; ++i)
    s.malformed[i] = get(malformed[i]);
  s.wrong_kind = get(wrong_kind);
  s.duplicates = get(duplicates);
  s.gaps = get(gaps);
  s.unknown_stream = get(unknown_stream);
  s.refused = get(refused);
  s.kernel_drops = get(kernel_drops);
  s.datagrams_sent = get(datagrams_sent);
  s.messages_sent = get(messages_sent);
  s.heartbeats_sent = get(heartbeats_sent);
  s.gso_sends = get(gso_sends);
  s.send_would_block = get(send_would_block);
  s.send_errors = get(send_errors);
  s.frames_too_large = get(frames_too_large);
  s.lapped = get(lapped);
  return s;
}

}  // namespace tachyon::udp
