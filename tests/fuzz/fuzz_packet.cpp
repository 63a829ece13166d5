// Round-trip fuzzer for the fast path's frames (src/fastpath/packet.h).
//
// The input is one Ethernet frame. ParseFrame and ParseArp must not read
// outside it (ASan) whatever it holds. A frame ParseFrame accepts as UDP is
// rebuilt with BuildUdpFrame from what it returned (the payload split into a
// head and a body at a point taken from the input, so odd heads are covered)
// and must parse back to the same addresses, ports and payload; an ARP
// packet ParseArp accepts is answered with BuildArpReply and the reply must
// parse back as the answer to it.
//
// Seeds: tests/fuzz/corpus/fuzz_packet/. Run: scripts/fuzz.sh BUILD_DIR
// SECONDS.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "fastpath/packet.h"

namespace tachyon::fastpath {
namespace {

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_packet: check failed: %s\n", what);
  std::abort();
}

void RoundTripUdp(const UdpFrame& udp, std::size_t cut) {
  // Touch every payload byte so ASan sees a bad span.
  unsigned sum = 0;
  for (std::byte b : udp.payload) sum += std::to_integer<unsigned>(b);
  (void)sum;
  UdpAddressing a;
  a.source_mac = udp.source_mac;
  a.destination_mac = udp.destination_mac;
  a.source_be = udp.source_be;
  a.destination_be = udp.destination_be;
  a.source_port = udp.source_port;
  a.destination_port = udp.destination_port;
  a.ip_id = static_cast<std::uint16_t>(cut * 257);
  cut = udp.payload.empty() ? 0 : cut % (udp.payload.size() + 1);
  static std::vector<std::byte> out(kUdpFrameOverhead + 65'536);
  const std::size_t n =
      BuildUdpFrame(out, a, udp.payload.first(cut), udp.payload.subspan(cut));
  Check(n == kUdpFrameOverhead + udp.payload.size(), "build length");
  UdpFrame again;
  Check(ParseFrame(std::span(out).first(n), &again) == FrameKind::kUdp,
        "built frame parses as UDP");
  Check(again.source_mac == udp.source_mac &&
            again.destination_mac == udp.destination_mac,
        "MACs survive");
  Check(again.source_be == udp.source_be &&
            again.destination_be == udp.destination_be,
        "addresses survive");
  Check(again.source_port == udp.source_port &&
            again.destination_port == udp.destination_port,
        "ports survive");
  Check(again.vlan == 0, "built frame is untagged");
  Check(again.payload.size() == udp.payload.size() &&
            (udp.payload.empty() ||
             std::memcmp(again.payload.data(), udp.payload.data(),
                         udp.payload.size()) == 0),
        "payload survives");
}

void RoundTripArp(const ArpPacket& arp) {
  MacAddress ours;
  ours.bytes = {0x02, 0, 0, 0, 0, 0x42};
  const std::uint32_t our_ip = arp.target_be;
  std::byte out[64];
  const std::size_t n = BuildArpReply(out, arp, ours, our_ip);
  Check(n == 42, "reply length");
  Check(ParseFrame(std::span(out, n), nullptr) == FrameKind::kArp,
        "reply is ARP");
  ArpPacket reply;
  Check(ParseArp(std::span(out, n), &reply), "reply parses");
  Check(!reply.is_request, "reply is a reply");
  Check(reply.sender_mac == ours && reply.sender_be == our_ip,
        "reply names us");
  Check(reply.target_mac == arp.sender_mac && reply.target_be == arp.sender_be,
        "reply goes to the asker");
  const std::size_t m = BuildArpRequest(out, ours, our_ip, arp.sender_be);
  Check(m == 42, "request length");
  ArpPacket request;
  Check(ParseArp(std::span(out, m), &request) && request.is_request &&
            request.target_be == arp.sender_be,
        "request parses");
}

}  // namespace
}  // namespace tachyon::fastpath

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace tachyon::fastpath;
  // A copy of exactly `size` bytes, so a read past the frame is an ASan
  // error rather than a read of the fuzzer's larger buffer.
  std::vector<std::byte> frame(size);
  if (size != 0) std::memcpy(frame.data(), data, size);
  UdpFrame udp;
  const FrameKind kind = ParseFrame(frame, &udp);
  Check(!FrameKindName(kind).empty(), "kind has a name");
  if (kind == FrameKind::kUdp) {
    RoundTripUdp(udp, size != 0 ? data[size - 1] : 0);
  }
  ArpPacket arp;
  const bool is_arp = ParseArp(frame, &arp);
  if (is_arp) {
    Check(kind == FrameKind::kArp, "ParseArp agrees with ParseFrame");
    RoundTripArp(arp);
  }
  return 0;
}
