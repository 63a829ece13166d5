// Ethernet / IPv4 / UDP frames for the kernel-bypass paths: parsing what
// arrives on a queue, building what leaves, and ARP.
//
// Overview
//   AF_XDP and DPDK hand the gateway whole Ethernet frames. ParseFrame
//   classifies one (an optional 802.1Q/802.1ad tag, IPv4 with or without
//   options, UDP) and, for a UDP datagram, returns its addresses and payload
//   after checking every length and the checksums. Fragments are never
//   reassembled (the XDP program passes them to the kernel; DPDK drops and
//   counts them). BuildUdpFrame writes Ethernet + IPv4 (no options,
//   DF set, TTL 64) + UDP around a payload gathered from two pieces, with
//   the IPv4 header checksum and the UDP checksum computed in software.
//   ParseArp / BuildArpReply / BuildArpRequest serve the DPDK path, which
//   owns its address and must answer for it and resolve its neighbours.
//
// Nothing allocates; every function is pure and safe on any bytes (a fuzz
// target, tests/fuzz/fuzz_packet.cpp, runs ParseFrame and ParseArp).
//
// Threading: none (pure functions).
#ifndef TACHYON_FASTPATH_PACKET_H_
#define TACHYON_FASTPATH_PACKET_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tachyon::fastpath {

/// An Ethernet address.
struct MacAddress {
  std::array<std::uint8_t, 6> bytes{};
  bool operator==(const MacAddress&) const = default;
  /// "02:00:00:00:00:01".
  [[nodiscard]] std::string ToString() const;
  /// "aa:bb:cc:dd:ee:ff" (case-insensitive); InvalidArgument otherwise.
  static absl::StatusOr<MacAddress> Parse(std::string_view text);
  [[nodiscard]] bool IsBroadcast() const;
};

inline constexpr std::size_t kEthernetHeaderBytes = 14;
inline constexpr std::size_t kVlanTagBytes = 4;
inline constexpr std::size_t kIpv4HeaderBytes = 20;  ///< without options
inline constexpr std::size_t kUdpHeaderBytes = 8;
/// Ethernet + IPv4 (no options) + UDP: what BuildUdpFrame puts before the
/// payload.
inline constexpr std::size_t kUdpFrameOverhead =
    kEthernetHeaderBytes + kIpv4HeaderBytes + kUdpHeaderBytes;

/// What a frame is. Every value but kUdp and kArp is a reason to pass it on
/// (to the kernel) or to drop and count it.
enum class FrameKind : std::uint8_t {
  kUdp,          ///< an IPv4 UDP datagram, checked
  kArp,          ///< an ARP packet (see ParseArp)
  kNotIpv4,      ///< another EtherType (IPv6, LLDP, ...)
  kNotUdp,       ///< IPv4 but another protocol (ICMP, TCP, ...)
  kFragment,     ///< an IPv4 fragment (MF set or a non-zero offset)
  kMalformed,    ///< a length or header field that does not add up
  kBadChecksum,  ///< the IPv4 header or UDP checksum is wrong
};

/// The name used in counters' `reason` labels: "udp", "arp", "not_ipv4",
/// "not_udp", "fragment", "malformed", "bad_checksum".
std::string_view FrameKindName(FrameKind kind);

/// A received IPv4 UDP datagram, pointing into the frame.
struct UdpFrame {
  MacAddress source_mac;
  MacAddress destination_mac;
  std::uint16_t vlan = 0;  ///< VLAN id (QinQ: the inner tag's); 0: untagged
  std::uint32_t source_be = 0;  ///< IPv4 source, network order
  std::uint32_t destination_be = 0;
  std::uint16_t source_port = 0;  ///< host order
  std::uint16_t destination_port = 0;
  std::span<const std::byte> payload;
};

/// Classifies `frame`; for kUdp fills `*udp`. A UDP checksum of zero means
/// "none" (RFC 768) and is accepted.
FrameKind ParseFrame(std::span<const std::byte> frame, UdpFrame* udp);

/// The addresses BuildUdpFrame writes.
struct UdpAddressing {
  MacAddress source_mac;
  MacAddress destination_mac;
  std::uint32_t source_be = 0;
  std::uint32_t destination_be = 0;
  std::uint16_t source_port = 0;  ///< host order
  std::uint16_t destination_port = 0;
  std::uint16_t ip_id = 0;  ///< IPv4 identification (any; DF is set)
};

/// Writes Ethernet + IPv4 + UDP + `head` + `body` into `out` with both
/// checksums computed; returns the frame's length, or 0 if `out` is too
/// small or the payload exceeds 65507 bytes.
std::size_t BuildUdpFrame(std::span<std::byte> out, const UdpAddressing& a,
                          std::span<const std::byte> head,
                          std::span<const std::byte> body);

/// The ones'-complement sum of RFC 1071 over `bytes`, folded, not inverted;
/// `seed` continues an earlier sum (pseudo-headers, gathered pieces: pieces
/// after the first must start at an even offset of the whole).
std::uint16_t OnesComplementSum(std::span<const std::byte> bytes,
                                std::uint32_t seed = 0);

/// True if `address_be` (network order) is an IPv4 multicast group
/// (224.0.0.0/4).
bool IsMulticastIpv4(std::uint32_t address_be);

/// The Ethernet address of multicast group `group_be` (network order),
/// RFC 1112: 01:00:5e + the low 23 bits of the group.
MacAddress MulticastMac(std::uint32_t group_be);

/// An Ethernet/IPv4 ARP packet.
struct ArpPacket {
  bool is_request = false;  ///< else a reply
  MacAddress sender_mac;
  std::uint32_t sender_be = 0;
  MacAddress target_mac;
  std::uint32_t target_be = 0;
};

/// Parses an ARP frame (ParseFrame said kArp); false if it is not an
/// Ethernet/IPv4 request or reply of the right length.
bool ParseArp(std::span<const std::byte> frame, ArpPacket* arp);

/// Writes the reply to `request` saying `our_ip_be` is at `our_mac`;
/// returns its length (42), or 0 if `out` is too small.
std::size_t BuildArpReply(std::span<std::byte> out, const ArpPacket& request,
                          const MacAddress& our_mac, std::uint32_t our_ip_be);

/// Writes a broadcast request asking who has `target_be`; returns its length
/// (42), or 0 if `out` is too small.
std::size_t BuildArpRequest(std::span<std::byte> out, const MacAddress& our_mac,
                            std::uint32_t our_ip_be, std::uint32_t target_be);

}  // namespace tachyon::fastpath

#endif  // TACHYON_FASTPATH_PACKET_H_
