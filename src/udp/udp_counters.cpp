#include "udp/udp_counters.h"

#include <string>

namespace tachyon::udp {
namespace {

// One row per counter: how it is registered, which handle holds it and
// which snapshot field it fills. Registration, Snapshot and ReadUdpStats
// all walk this table, so a counter is named once.
struct Field {
  std::string_view name;
  std::string_view help;
  base::Counter UdpCounters::*counter;
  std::uint64_t UdpStats::*stat;
};

constexpr Field kFields[] = {
    {"tachyon_udp_datagrams_received_total", "datagrams read by UDP ingress",
     &UdpCounters::datagrams_received, &UdpStats::datagrams_received},
    {"tachyon_udp_messages_appended_total",
     "PUBLISH frames from datagrams appended to a log",
     &UdpCounters::messages_appended, &UdpStats::messages_appended},
    {"tachyon_udp_wrong_kind_total",
     "valid DATA or HEARTBEAT datagrams sent to the ingress port",
     &UdpCounters::wrong_kind, &UdpStats::wrong_kind},
    {"tachyon_udp_duplicates_total",
     "frames at or below their producer's highest accepted sequence",
     &UdpCounters::duplicates, &UdpStats::duplicates},
    {"tachyon_udp_gaps_total", "producer sequences skipped over",
     &UdpCounters::gaps, &UdpStats::gaps},
    {"tachyon_udp_unknown_stream_total",
     "datagrams for a stream id that is not open", &UdpCounters::unknown_stream,
     &UdpStats::unknown_stream},
    {"tachyon_udp_refused_total",
     "frames the log refused, or over the producer limit",
     &UdpCounters::refused, &UdpStats::refused},
    {"tachyon_udp_kernel_drops_total",
     "datagrams the kernel dropped for a full receive buffer (SO_RXQ_OVFL)",
     &UdpCounters::kernel_drops, &UdpStats::kernel_drops},
    {"tachyon_udp_unauthenticated_total",
     "datagrams without a MAC dropped: udp.require_authentication",
     &UdpCounters::unauthenticated, &UdpStats::unauthenticated},
    {"tachyon_udp_unknown_producer_total",
     "authenticated datagrams of a producer_id not in [[udp_producers]]",
     &UdpCounters::unknown_producer, &UdpStats::unknown_producer},
    {"tachyon_udp_source_not_allowed_total",
     "datagrams from outside their producer's allowed_sources",
     &UdpCounters::source_not_allowed, &UdpStats::source_not_allowed},
    {"tachyon_udp_bad_mac_total", "datagrams whose MAC does not verify",
     &UdpCounters::bad_mac, &UdpStats::bad_mac},
    {"tachyon_udp_not_permitted_total",
     "datagrams for a stream their producer may not publish to",
     &UdpCounters::not_permitted, &UdpStats::not_permitted},
    {"tachyon_udp_wild_sequence_total",
     "datagrams whose sequence lies beyond udp.max_sequence_jump",
     &UdpCounters::wild_sequence, &UdpStats::wild_sequence},
    {"tachyon_udp_reanchored_total",
     "producers re-anchored after consistent datagrams beyond the jump bound",
     &UdpCounters::reanchored, &UdpStats::reanchored},
    {"tachyon_udp_datagrams_sent_total", "DATA datagrams sent, per destination",
     &UdpCounters::datagrams_sent, &UdpStats::datagrams_sent},
    {"tachyon_udp_messages_sent_total", "DATA frames sent, per destination",
     &UdpCounters::messages_sent, &UdpStats::messages_sent},
    {"tachyon_udp_heartbeats_sent_total",
     "HEARTBEAT datagrams sent, per destination", &UdpCounters::heartbeats_sent,
     &UdpStats::heartbeats_sent},
    {"tachyon_udp_gso_sends_total", "messages sent with UDP_SEGMENT",
     &UdpCounters::gso_sends, &UdpStats::gso_sends},
    {"tachyon_udp_send_would_block_total",
     "sends that found a socket full (retried on a later pass)",
     &UdpCounters::send_would_block, &UdpStats::send_would_block},
    {"tachyon_udp_send_errors_total", "sends that failed (datagrams dropped)",
     &UdpCounters::send_errors, &UdpStats::send_errors},
    {"tachyon_udp_frames_too_large_total",
     "frames skipped because no datagram fits them",
     &UdpCounters::frames_too_large, &UdpStats::frames_too_large},
    {"tachyon_udp_lapped_total", "egress cursors overtaken by the writer",
     &UdpCounters::lapped, &UdpStats::lapped},
};

constexpr std::string_view kMalformedName =
    "tachyon_udp_malformed_datagrams_total";

}  // namespace

UdpStats& UdpStats::operator+=(const UdpStats& o) {
  for (const Field& f : kFields) this->*f.stat += o.*f.stat;
  for (std::size_t i = 0; i < kMalformedCodes; ++i)
    malformed[i] += o.malformed[i];
  return *this;
}

UdpCounters::UdpCounters(base::CounterRegistry& registry, int worker) {
  const std::string w = std::to_string(worker);
  for (const Field& f : kFields) {
    this->*f.counter = registry.AddCounter(f.name, f.help, {{"worker", w}});
  }
  for (std::size_t i = 0; i < kMalformedCodes; ++i) {
    const auto code = static_cast<protocol::ErrorCode>(i);
    malformed[i] = registry.AddCounter(
        kMalformedName, "datagrams dropped as malformed (PROTOCOL.md 16.2)",
        {{"worker", w}, {"code", std::string(protocol::ErrorCodeName(code))}});
  }
}

UdpStats UdpCounters::Snapshot() const {
  UdpStats s;
  for (const Field& f : kFields) s.*f.stat = (this->*f.counter).value();
  for (std::size_t i = 0; i < kMalformedCodes; ++i) {
    s.malformed[i] = malformed[i].value();
  }
  return s;
}

UdpStats ReadUdpStats(const base::CounterRegistry& registry, int worker) {
  UdpStats s;
  const std::string w = std::to_string(worker);
  for (const base::MetricSample& m : registry.Snapshot()) {
    if (worker >= 0 && m.label("worker") != w) continue;
    if (m.name == kMalformedName) {
      for (std::size_t i = 0; i < kMalformedCodes; ++i) {
        if (m.label("code") ==
            protocol::ErrorCodeName(static_cast<protocol::ErrorCode>(i))) {
          s.malformed[i] += m.value;
        }
      }
      continue;
    }
    for (const Field& f : kFields) {
      if (m.name == f.name) s.*f.stat += m.value;
    }
  }
  return s;
}

}  // namespace tachyon::udp
