// Frame layout, offsets in bytes (network byte order throughout):
//
//   Ethernet  0 dst MAC(6) | 6 src MAC(6) | 12 EtherType(2)
//   802.1Q/ad       TPID 0x8100 / 0x88a8 (2) | TCI(2), at most two tags
//   IPv4      0 ver/IHL | 1 TOS | 2 total length | 4 id | 6 flags/frag off
//             8 TTL | 9 protocol | 10 checksum | 12 src | 16 dst | options
//   UDP       0 src port | 2 dst port | 4 length | 6 checksum
//   ARP       0 htype=1 | 2 ptype=0x0800 | 4 hlen=6 | 5 plen=4 | 6 oper
//             8 sha(6) | 14 spa(4) | 18 tha(6) | 24 tpa(4)
#include "fastpath/packet.h"

#include <arpa/inet.h>

#include <bit>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tachyon::fastpath {
namespace {

// Debian's Abseil has its own string_view type.
absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }

constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
constexpr std::uint16_t kEtherTypeArp = 0x0806;
constexpr std::uint16_t kEtherTypeVlan = 0x8100;
constexpr std::uint16_t kEtherTypeQinQ = 0x88a8;
constexpr std::uint8_t kProtocolUdp = 17;
constexpr std::size_t kArpBytes = 28;
constexpr std::size_t kMaxUdpPayload = 65507;

std::uint16_t Load16(const std::byte* p) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(p[0]) << 8) |
                                    std::to_integer<unsigned>(p[1]));
}
std::uint32_t LoadBe32(const std::byte* p) {
  // Kept in network order, as the header's *_be fields are.
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
void Store16(std::byte* p, std::uint16_t v) {
  p[0] = static_cast<std::byte>(v >> 8);
  p[1] = static_cast<std::byte>(v & 0xff);
}
void StoreBe32(std::byte* p, std::uint32_t v_be) {
  std::memcpy(p, &v_be, sizeof v_be);
}
MacAddress LoadMac(const std::byte* p) {
  MacAddress m;
  std::memcpy(m.bytes.data(), p, 6);
  return m;
}
void StoreMac(std::byte* p, const MacAddress& m) {
  std::memcpy(p, m.bytes.data(), 6);
}

std::uint16_t Fold(std::uint64_t sum) {
  while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

// Sum of the IPv4 pseudo-header for UDP (RFC 768), not folded.
std::uint32_t PseudoHeaderSum(std::uint32_t source_be,
                              std::uint32_t destination_be,
                              std::uint16_t udp_length) {
  std::byte ph[12];
  StoreBe32(ph, source_be);
  StoreBe32(ph + 4, destination_be);
  ph[8] = std::byte{0};
  ph[9] = std::byte{kProtocolUdp};
  Store16(ph + 10, udp_length);
  return OnesComplementSum(std::span<const std::byte>(ph, sizeof ph));
}

std::size_t WriteArp(std::span<std::byte> out, bool request,
                     const MacAddress& eth_destination,
                     const MacAddress& sender_mac, std::uint32_t sender_be,
                     const MacAddress& target_mac, std::uint32_t target_be) {
  constexpr std::size_t kLength = kEthernetHeaderBytes + kArpBytes;
  if (out.size() < kLength) return 0;
  std::byte* p = out.data();
  StoreMac(p, eth_destination);
  StoreMac(p + 6, sender_mac);
  Store16(p + 12, kEtherTypeArp);
  std::byte* a = p + kEthernetHeaderBytes;
  Store16(a, 1);
  Store16(a + 2, kEtherTypeIpv4);
  a[4] = std::byte{6};
  a[5] = std::byte{4};
  Store16(a + 6, request ? 1 : 2);
  StoreMac(a + 8, sender_mac);
  StoreBe32(a + 14, sender_be);
  StoreMac(a + 18, target_mac);
  StoreBe32(a + 24, target_be);
  return kLength;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string MacAddress::ToString() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(17);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i != 0) s.push_back(':');
    s.push_back(kHex[bytes[i] >> 4]);
    s.push_back(kHex[bytes[i] & 0xf]);
  }
  return s;
}

absl::StatusOr<MacAddress> MacAddress::Parse(std::string_view text) {
  MacAddress m;
  bool ok = text.size() == 17;
  for (std::size_t i = 0; ok && i < 6; ++i) {
    const int hi = HexDigit(text[i * 3]);
    const int lo = HexDigit(text[i * 3 + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':')) {
      ok = false;
      break;
    }
    m.bytes[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid MAC address '", Sv(text),
                     "': expected six hex pairs like 02:00:00:00:00:01"));
  }
  return m;
}

bool MacAddress::IsBroadcast() const {
  for (std::uint8_t b : bytes) {
    if (b != 0xff) return false;
  }
  return true;
}

std::string_view FrameKindName(FrameKind kind) {
  switch (kind) {
    case FrameKind::kUdp:
      return "udp";
    case FrameKind::kArp:
      return "arp";
    case FrameKind::kNotIpv4:
      return "not_ipv4";
    case FrameKind::kNotUdp:
      return "not_udp";
    case FrameKind::kFragment:
      return "fragment";
    case FrameKind::kMalformed:
      return "malformed";
    case FrameKind::kBadChecksum:
      return "bad_checksum";
  }
  return "unknown";
}

std::uint16_t OnesComplementSum(std::span<const std::byte> bytes,
                                std::uint32_t seed) {
  std::uint64_t sum = seed;
  const std::byte* p = bytes.data();
  std::size_t n = bytes.size();
  // Eight bytes at a time: the sum of big-endian 16-bit words equals, after
  // folding, the byte-swapped sum of native words (RFC 1071 2.(B)); summing
  // 32-bit halves into 64 bits cannot overflow for any frame.
  std::uint64_t native = 0;
  while (n >= 8) {
    std::uint32_t a;
    std::uint32_t b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + 4, 4);
    native += a;
    native += b;
    p += 8;
    n -= 8;
  }
  std::uint16_t folded = Fold(native);
  if constexpr (std::endian::native == std::endian::little) {
    folded = static_cast<std::uint16_t>((folded >> 8) | (folded << 8));
  }
  sum += folded;
  while (n >= 2) {
    sum += Load16(p);
    p += 2;
    n -= 2;
  }
  if (n == 1) sum += std::to_integer<std::uint32_t>(p[0]) << 8;
  return Fold(sum);
}

FrameKind ParseFrame(std::span<const std::byte> frame, UdpFrame* udp) {
  const std::size_t size = frame.size();
  const std::byte* f = frame.data();
  if (size < kEthernetHeaderBytes) return FrameKind::kMalformed;
  std::size_t offset = 12;
  std::uint16_t ether_type = Load16(f + offset);
  std::uint16_t vlan = 0;
  int tags = 0;
  while (ether_type == kEtherTypeVlan || ether_type == kEtherTypeQinQ) {
    if (++tags > 2) return FrameKind::kMalformed;
    if (size < offset + 2 + kVlanTagBytes) return FrameKind::kMalformed;
    // The inner (customer) tag's id is the one that names the VLAN; with
    // one tag it is that tag's.
    vlan = Load16(f + offset + 2) & 0x0fff;
    offset += kVlanTagBytes;
    ether_type = Load16(f + offset);
  }
  offset += 2;  // past the EtherType
  if (ether_type == kEtherTypeArp) return FrameKind::kArp;
  if (ether_type != kEtherTypeIpv4) return FrameKind::kNotIpv4;

  const std::byte* ip = f + offset;
  const std::size_t ip_available = size - offset;
  if (ip_available < kIpv4HeaderBytes) return FrameKind::kMalformed;
  const unsigned version_ihl = std::to_integer<unsigned>(ip[0]);
  if ((version_ihl >> 4) != 4) return FrameKind::kMalformed;
  const std::size_t ihl = (version_ihl & 0xf) * 4u;
  if (ihl < kIpv4HeaderBytes) return FrameKind::kMalformed;
  const std::size_t total_length = Load16(ip + 2);
  // Trailing bytes past total_length are Ethernet padding (minimum frame).
  if (total_length < ihl || total_length > ip_available) {
    return FrameKind::kMalformed;
  }
  if (OnesComplementSum(std::span<const std::byte>(ip, ihl)) != 0xffff) {
    return FrameKind::kBadChecksum;
  }
  const std::uint16_t flags_offset = Load16(ip + 6);
  if ((flags_offset & 0x3fff) != 0) return FrameKind::kFragment;  // MF|offset
  if (std::to_integer<std::uint8_t>(ip[9]) != kProtocolUdp) {
    return FrameKind::kNotUdp;
  }
  const std::byte* u = ip + ihl;
  const std::size_t ip_payload = total_length - ihl;
  if (ip_payload < kUdpHeaderBytes) return FrameKind::kMalformed;
  const std::uint16_t udp_length = Load16(u + 4);
  if (udp_length < kUdpHeaderBytes || udp_length > ip_payload) {
    return FrameKind::kMalformed;
  }
  const std::uint32_t source_be = LoadBe32(ip + 12);
  const std::uint32_t destination_be = LoadBe32(ip + 16);
  if (Load16(u + 6) != 0) {
    const std::uint32_t seed =
        PseudoHeaderSum(source_be, destination_be, udp_length);
    if (OnesComplementSum(std::span<const std::byte>(u, udp_length), seed) !=
        0xffff) {
      return FrameKind::kBadChecksum;
    }
  }
  if (udp != nullptr) {
    udp->destination_mac = LoadMac(f);
    udp->source_mac = LoadMac(f + 6);
    udp->vlan = vlan;
    udp->source_be = source_be;
    udp->destination_be = destination_be;
    udp->source_port = Load16(u);
    udp->destination_port = Load16(u + 2);
    udp->payload = std::span<const std::byte>(u + kUdpHeaderBytes,
                                              udp_length - kUdpHeaderBytes);
  }
  return FrameKind::kUdp;
}

std::size_t BuildUdpFrame(std::span<std::byte> out, const UdpAddressing& a,
                          std::span<const std::byte> head,
                          std::span<const std::byte> body) {
  const std::size_t payload = head.size() + body.size();
  if (payload > kMaxUdpPayload) return 0;
  const std::size_t length = kUdpFrameOverhead + payload;
  if (out.size() < length) return 0;
  std::byte* p = out.data();
  StoreMac(p, a.destination_mac);
  StoreMac(p + 6, a.source_mac);
  Store16(p + 12, kEtherTypeIpv4);

  std::byte* ip = p + kEthernetHeaderBytes;
  ip[0] = std::byte{0x45};
  ip[1] = std::byte{0};
  Store16(ip + 2, static_cast<std::uint16_t>(kIpv4HeaderBytes +
                                             kUdpHeaderBytes + payload));
  Store16(ip + 4, a.ip_id);
  Store16(ip + 6, 0x4000);  // DF
  ip[8] = std::byte{64};
  ip[9] = std::byte{kProtocolUdp};
  Store16(ip + 10, 0);
  StoreBe32(ip + 12, a.source_be);
  StoreBe32(ip + 16, a.destination_be);
  Store16(ip + 10, static_cast<std::uint16_t>(~OnesComplementSum(
                       std::span<const std::byte>(ip, kIpv4HeaderBytes))));

  std::byte* u = ip + kIpv4HeaderBytes;
  const auto udp_length = static_cast<std::uint16_t>(kUdpHeaderBytes + payload);
  Store16(u, a.source_port);
  Store16(u + 2, a.destination_port);
  Store16(u + 4, udp_length);
  Store16(u + 6, 0);
  std::byte* data = u + kUdpHeaderBytes;
  if (!head.empty()) std::memcpy(data, head.data(), head.size());
  if (!body.empty()) std::memcpy(data + head.size(), body.data(), body.size());

  // Checksum over the bytes as written, in one pass: the payload now sits
  // contiguously after the UDP header, so an odd-length head needs no
  // byte-swapping of the body's partial sum (a continued seed is only valid
  // for pieces starting at an even offset of the whole).
  std::uint32_t sum =
      PseudoHeaderSum(a.source_be, a.destination_be, udp_length);
  sum = OnesComplementSum(std::span<const std::byte>(u, udp_length), sum);
  std::uint16_t check = static_cast<std::uint16_t>(~sum);
  if (check == 0) check = 0xffff;  // RFC 768: zero is "no checksum"
  Store16(u + 6, check);
  return length;
}

bool ParseArp(std::span<const std::byte> frame, ArpPacket* arp) {
  const std::size_t size = frame.size();
  const std::byte* f = frame.data();
  if (size < kEthernetHeaderBytes) return false;
  std::size_t offset = 12;
  std::uint16_t ether_type = Load16(f + offset);
  int tags = 0;
  while (ether_type == kEtherTypeVlan || ether_type == kEtherTypeQinQ) {
    if (++tags > 2 || size < offset + 2 + kVlanTagBytes) return false;
    offset += kVlanTagBytes;
    ether_type = Load16(f + offset);
  }
  offset += 2;
  if (ether_type != kEtherTypeArp || size - offset < kArpBytes) return false;
  const std::byte* a = f + offset;
  if (Load16(a) != 1 || Load16(a + 2) != kEtherTypeIpv4 ||
      std::to_integer<unsigned>(a[4]) != 6 ||
      std::to_integer<unsigned>(a[5]) != 4) {
    return false;
  }
  const std::uint16_t operation = Load16(a + 6);
  if (operation != 1 && operation != 2) return false;
  if (arp != nullptr) {
    arp->is_request = operation == 1;
    arp->sender_mac = LoadMac(a + 8);
    arp->sender_be = LoadBe32(a + 14);
    arp->target_mac = LoadMac(a + 18);
    arp->target_be = LoadBe32(a + 24);
  }
  return true;
}

std::size_t BuildArpReply(std::span<std::byte> out, const ArpPacket& request,
                          const MacAddress& our_mac, std::uint32_t our_ip_be) {
  return WriteArp(out, /*request=*/false, request.sender_mac, our_mac,
                  our_ip_be, request.sender_mac, request.sender_be);
}

std::size_t BuildArpRequest(std::span<std::byte> out, const MacAddress& our_mac,
                            std::uint32_t our_ip_be, std::uint32_t target_be) {
  MacAddress broadcast;
  broadcast.bytes.fill(0xff);
  return WriteArp(out, /*request=*/true, broadcast, our_mac, our_ip_be,
                  MacAddress{}, target_be);
}

bool IsMulticastIpv4(std::uint32_t address_be) {
  return (ntohl(address_be) >> 28) == 0xe;
}

MacAddress MulticastMac(std::uint32_t group_be) {
  const std::uint32_t g = ntohl(group_be);
  MacAddress mac;
  mac.bytes = {0x01,
               0x00,
               0x5e,
               static_cast<std::uint8_t>((g >> 16) & 0x7f),
               static_cast<std::uint8_t>((g >> 8) & 0xff),
               static_cast<std::uint8_t>(g & 0xff)};
  return mac;
}

}  // namespace tachyon::fastpath
