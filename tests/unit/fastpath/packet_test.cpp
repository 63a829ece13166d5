// Frame parsing and building against hand-made golden frames, a naive
// reference checksum, and frames the kernel itself sent on a veth pair.
#include "fastpath/packet.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "support/netns.h"
#include "support/require.h"

namespace tachyon::fastpath {
namespace {

using Bytes = std::vector<std::byte>;

Bytes FromHex(std::string_view hex) {
  Bytes out;
  int hi = -1;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else {
      continue;  // spaces
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::byte>(hi * 16 + v));
      hi = -1;
    }
  }
  return out;
}

Bytes Text(std::string_view s) {
  Bytes out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

// RFC 1071 the slow way: 16-bit big-endian words, an odd byte padded.
std::uint16_t ReferenceSum(const Bytes& b, std::uint32_t seed = 0) {
  std::uint64_t sum = seed;
  for (std::size_t i = 0; i < b.size(); i += 2) {
    std::uint32_t w = std::to_integer<std::uint32_t>(b[i]) << 8;
    if (i + 1 < b.size()) w |= std::to_integer<std::uint32_t>(b[i + 1]);
    sum += w;
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

std::uint16_t Get16(const Bytes& b, std::size_t at) {
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(b[at]) << 8 |
                                    std::to_integer<unsigned>(b[at + 1]));
}
void Put16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::byte>(v >> 8);
  b[at + 1] = static_cast<std::byte>(v & 0xff);
}

// Recomputes the IPv4 header checksum of the header at `ip`.
void FixIpChecksum(Bytes& b, std::size_t ip) {
  const std::size_t ihl = (std::to_integer<unsigned>(b[ip]) & 0xf) * 4;
  Put16(b, ip + 10, 0);
  Bytes header(b.begin() + static_cast<std::ptrdiff_t>(ip),
               b.begin() + static_cast<std::ptrdiff_t>(ip + ihl));
  Put16(b, ip + 10, static_cast<std::uint16_t>(~ReferenceSum(header)));
}

std::uint32_t Ip(const char* text) {
  in_addr a{};
  inet_pton(AF_INET, text, &a);
  return a.s_addr;
}

MacAddress Mac(const char* text) { return *MacAddress::Parse(text); }

UdpAddressing Addressing() {
  UdpAddressing a;
  a.source_mac = Mac("02:00:00:00:00:01");
  a.destination_mac = Mac("02:00:00:00:00:02");
  a.source_be = Ip("192.168.0.1");
  a.destination_be = Ip("192.168.0.199");
  a.source_port = 4000;
  a.destination_port = 5000;
  a.ip_id = 0x1234;
  return a;
}

Bytes Build(const UdpAddressing& a, const Bytes& head, const Bytes& body) {
  Bytes out(kUdpFrameOverhead + head.size() + body.size() + 16);
  const std::size_t n = BuildUdpFrame(out, a, head, body);
  out.resize(n);
  return out;
}

// A frame written out by hand from RFC 791/768 (payload "hello"); its two
// checksums were computed apart from the code under test (RFC 1071 by a
// separate script).
//   IPv4: 45 00 0021 1234 4000 40 11 [a67f] c0a80001 c0a800c7
//   UDP:  0fa0 1388 000d [16c1] "hello"
constexpr std::string_view kGoldenHello =
    "020000000002 020000000001 0800"
    "4500 0021 1234 4000 4011 a67f c0a8 0001 c0a8 00c7"
    "0fa0 1388 000d 16c1 68656c6c6f";

TEST(OnesComplementSumTest, MatchesTheReferenceOnEveryLengthAndSeed) {
  std::mt19937 rng(7);
  for (std::size_t len = 0; len < 80; ++len) {
    Bytes b(len);
    for (auto& x : b) x = static_cast<std::byte>(rng());
    for (std::uint32_t seed : {0u, 1u, 0xffffu, 0x1fffeu}) {
      EXPECT_EQ(OnesComplementSum(b, seed), ReferenceSum(b, seed))
          << "length " << len << " seed " << seed;
    }
  }
}

TEST(OnesComplementSumTest, ContinuesOverPiecesAtEvenOffsets) {
  const Bytes whole = Text("the quick brown fox jumps over the lazy dog");
  for (std::size_t cut = 0; cut <= whole.size(); cut += 2) {
    const std::span<const std::byte> all(whole);
    const std::uint16_t first = OnesComplementSum(all.first(cut));
    EXPECT_EQ(OnesComplementSum(all.subspan(cut), first),
              OnesComplementSum(all));
  }
}

TEST(BuildUdpFrameTest, WritesTheGoldenFrame) {
  const Bytes frame = Build(Addressing(), Text("hel"), Text("lo"));
  EXPECT_EQ(frame, FromHex(kGoldenHello));
}

TEST(ParseFrameTest, AcceptsTheGoldenFrame) {
  const Bytes frame = FromHex(kGoldenHello);
  UdpFrame udp;
  ASSERT_EQ(ParseFrame(frame, &udp), FrameKind::kUdp);
  EXPECT_EQ(udp.source_mac, Mac("02:00:00:00:00:01"));
  EXPECT_EQ(udp.destination_mac, Mac("02:00:00:00:00:02"));
  EXPECT_EQ(udp.vlan, 0);
  EXPECT_EQ(udp.source_be, Ip("192.168.0.1"));
  EXPECT_EQ(udp.destination_be, Ip("192.168.0.199"));
  EXPECT_EQ(udp.source_port, 4000);
  EXPECT_EQ(udp.destination_port, 5000);
  EXPECT_EQ(Bytes(udp.payload.begin(), udp.payload.end()), Text("hello"));
}

TEST(ParseFrameTest, RejectsEveryTruncation) {
  const Bytes frame = FromHex(kGoldenHello);
  for (std::size_t len = 0; len < frame.size(); ++len) {
    UdpFrame udp;
    EXPECT_EQ(ParseFrame(std::span(frame).first(len), &udp),
              FrameKind::kMalformed)
        << "length " << len;
  }
}

TEST(ParseFrameTest, AcceptsEthernetPadding) {
  Bytes frame = FromHex(kGoldenHello);
  frame.resize(60, std::byte{0});
  UdpFrame udp;
  ASSERT_EQ(ParseFrame(frame, &udp), FrameKind::kUdp);
  EXPECT_EQ(Bytes(udp.payload.begin(), udp.payload.end()), Text("hello"));
}

Bytes WithTags(const Bytes& frame, const std::vector<std::uint32_t>& tags) {
  Bytes out(frame.begin(), frame.begin() + 12);
  for (std::uint32_t t : tags) {
    out.push_back(static_cast<std::byte>(t >> 24));
    out.push_back(static_cast<std::byte>((t >> 16) & 0xff));
    out.push_back(static_cast<std::byte>((t >> 8) & 0xff));
    out.push_back(static_cast<std::byte>(t & 0xff));
  }
  out.insert(out.end(), frame.begin() + 12, frame.end());
  return out;
}

TEST(ParseFrameTest, ReadsAnEightOhTwoDotOneQTag) {
  const Bytes frame = WithTags(FromHex(kGoldenHello), {0x8100'a02a});
  UdpFrame udp;
  ASSERT_EQ(ParseFrame(frame, &udp), FrameKind::kUdp);
  EXPECT_EQ(udp.vlan, 42);  // priority bits stripped
  EXPECT_EQ(Bytes(udp.payload.begin(), udp.payload.end()), Text("hello"));
}

TEST(ParseFrameTest, ReadsQinQAndReportsTheInnerVlan) {
  const Bytes frame =
      WithTags(FromHex(kGoldenHello), {0x88a8'0064, 0x8100'002a});
  UdpFrame udp;
  ASSERT_EQ(ParseFrame(frame, &udp), FrameKind::kUdp);
  EXPECT_EQ(udp.vlan, 42);
  for (std::size_t len = 0; len < frame.size(); ++len) {
    EXPECT_EQ(ParseFrame(std::span(frame).first(len), &udp),
              FrameKind::kMalformed)
        << "length " << len;
  }
}

TEST(ParseFrameTest, RejectsThreeTags) {
  const Bytes frame =
      WithTags(FromHex(kGoldenHello), {0x88a8'0064, 0x8100'0065, 0x8100'002a});
  UdpFrame udp;
  EXPECT_EQ(ParseFrame(frame, &udp), FrameKind::kMalformed);
}

TEST(ParseFrameTest, AcceptsIpv4Options) {
  Bytes frame = FromHex(kGoldenHello);
  // IHL 6: four option bytes (NOP NOP NOP EOL) after the fixed header.
  const Bytes options = {std::byte{1}, std::byte{1}, std::byte{1},
                         std::byte{0}};
  frame.insert(frame.begin() + 14 + 20, options.begin(), options.end());
  frame[14] = std::byte{0x46};
  Put16(frame, 16, static_cast<std::uint16_t>(Get16(frame, 16) + 4));
  FixIpChecksum(frame, 14);
  UdpFrame udp;
  ASSERT_EQ(ParseFrame(frame, &udp), FrameKind::kUdp);
  EXPECT_EQ(udp.destination_port, 5000);
  EXPECT_EQ(Bytes(udp.payload.begin(), udp.payload.end()), Text("hello"));
}

TEST(ParseFrameTest, RejectsBadHeaderFields) {
  const Bytes golden = FromHex(kGoldenHello);
  UdpFrame udp;
  {
    Bytes f = golden;  // IHL 4
    f[14] = std::byte{0x44};
    FixIpChecksum(f, 14);
    EXPECT_EQ(ParseFrame(f, &udp), FrameKind::kMalformed);
  }
  {
    Bytes f = golden;  // version 6 under EtherType IPv4
    f[14] = std::byte{0x65};
    EXPECT_EQ(ParseFrame(f, &udp), FrameKind::kMalformed);
  }
  {
    Bytes f = golden;  // total length past the frame
    Put16(f, 16, static_cast<std::uint16_t>(Get16(f, 16) + 1));
    FixIpChecksum(f, 14);
    EXPECT_EQ(ParseFrame(f, &udp), FrameKind::kMalformed);
  }
  {
    Bytes f = golden;  // UDP length past the IP payload
    Put16(f, 38, static_cast<std::uint16_t>(Get16(f, 38) + 1));
    EXPECT_EQ(ParseFrame(f, &udp), FrameKind::kMalformed);
  }
  {
    Bytes f = golden;  // UDP length below its header
    Put16(f, 38, 7);
    EXPECT_EQ(ParseFrame(f, &udp), FrameKind::kMalformed);
  }
}

TEST(ParseFrameTest, ClassifiesFragments) {
  const Bytes golden = FromHex(kGoldenHello);
  for (std::uint16_t flags : {0x2000, 0x0001, 0x4001, 0x3fff}) {
    Bytes f = golden;
    Put16(f, 20, flags);
    FixIpChecksum(f, 14);
    UdpFrame udp;
    EXPECT_EQ(ParseFrame(f, &udp), FrameKind::kFragment) << flags;
  }
}

TEST(ParseFrameTest, ClassifiesOtherProtocolsAndEtherTypes) {
  UdpFrame udp;
  Bytes f = FromHex(kGoldenHello);
  f[23] = std::byte{1};  // ICMP
  FixIpChecksum(f, 14);
  EXPECT_EQ(ParseFrame(f, &udp), FrameKind::kNotUdp);
  f = FromHex(kGoldenHello);
  Put16(f, 12, 0x86dd);
  EXPECT_EQ(ParseFrame(f, &udp), FrameKind::kNotIpv4);
  Put16(f, 12, 0x0806);
  EXPECT_EQ(ParseFrame(f, &udp), FrameKind::kArp);
}

TEST(ParseFrameTest, RejectsBadChecksums) {
  const Bytes golden = FromHex(kGoldenHello);
  UdpFrame udp;
  Bytes f = golden;
  f[24] ^= std::byte{1};  // IPv4 header checksum
  EXPECT_EQ(ParseFrame(f, &udp), FrameKind::kBadChecksum);
  f = golden;
  f[golden.size() - 1] ^= std::byte{1};  // payload
  EXPECT_EQ(ParseFrame(f, &udp), FrameKind::kBadChecksum);
  f = golden;
  f[40] ^= std::byte{0x80};  // UDP checksum
  EXPECT_EQ(ParseFrame(f, &udp), FrameKind::kBadChecksum);
}

TEST(ParseFrameTest, AcceptsZeroUdpChecksumAsNone) {
  Bytes f = FromHex(kGoldenHello);
  Put16(f, 40, 0);
  f[f.size() - 1] = std::byte{'X'};
  UdpFrame udp;
  ASSERT_EQ(ParseFrame(f, &udp), FrameKind::kUdp);
  EXPECT_EQ(Bytes(udp.payload.begin(), udp.payload.end()), Text("hellX"));
}

TEST(BuildUdpFrameTest, AnyCutOfThePayloadGivesTheSameFrame) {
  const Bytes all = Text("0123456789abcdefghijklmnopq");
  std::mt19937 rng(3);
  UdpAddressing a = Addressing();
  for (std::size_t len = 0; len <= all.size(); ++len) {
    const Bytes payload(all.begin(), all.begin() + static_cast<long>(len));
    const Bytes whole = Build(a, payload, {});
    for (std::size_t cut = 0; cut <= len; ++cut) {
      const Bytes head(payload.begin(),
                       payload.begin() + static_cast<long>(cut));
      const Bytes body(payload.begin() + static_cast<long>(cut), payload.end());
      const Bytes frame = Build(a, head, body);
      ASSERT_EQ(frame, whole) << "head " << cut << " body " << len - cut;
      UdpFrame udp;
      ASSERT_EQ(ParseFrame(frame, &udp), FrameKind::kUdp);
      EXPECT_EQ(Bytes(udp.payload.begin(), udp.payload.end()), payload);
    }
    // And the UDP checksum is what the slow reference says.
    Bytes pseudo = FromHex("c0a80001 c0a800c7 0011");
    pseudo.push_back(static_cast<std::byte>((8 + len) >> 8));
    pseudo.push_back(static_cast<std::byte>((8 + len) & 0xff));
    Bytes udp_part(whole.begin() + 34, whole.end());
    Put16(udp_part, 6, 0);
    const std::uint16_t expected = static_cast<std::uint16_t>(
        ~ReferenceSum(udp_part, ReferenceSum(pseudo)));
    EXPECT_EQ(Get16(whole, 40), expected == 0 ? 0xffff : expected);
    a.ip_id = static_cast<std::uint16_t>(rng());
  }
}

TEST(BuildUdpFrameTest, WritesAllOnesForAComputedZeroChecksum) {
  UdpAddressing a = Addressing();
  Bytes payload(2, std::byte{0});
  const Bytes first = Build(a, payload, {});
  // With the checksum's value as the payload word the sum becomes 0xffff,
  // whose complement 0 must go on the wire as 0xffff (RFC 768).
  Put16(payload, 0, Get16(first, 40));
  const Bytes frame = Build(a, payload, {});
  EXPECT_EQ(Get16(frame, 40), 0xffff);
  UdpFrame udp;
  EXPECT_EQ(ParseFrame(frame, &udp), FrameKind::kUdp);
}

TEST(BuildUdpFrameTest, RefusesASmallBufferOrAnOversizedPayload) {
  Bytes out(kUdpFrameOverhead + 4);
  const Bytes five = Text("hello");
  EXPECT_EQ(BuildUdpFrame(out, Addressing(), five, {}), 0u);
  EXPECT_EQ(BuildUdpFrame(out, Addressing(), Text("hi"), Text("!!")),
            kUdpFrameOverhead + 4);
  Bytes big_out(70'000);
  Bytes big(65'508);
  EXPECT_EQ(BuildUdpFrame(big_out, Addressing(), big, {}), 0u);
  big.resize(65'507);
  EXPECT_EQ(BuildUdpFrame(big_out, Addressing(), big, {}),
            kUdpFrameOverhead + 65'507);
  UdpFrame udp;
  big_out.resize(kUdpFrameOverhead + 65'507);
  EXPECT_EQ(ParseFrame(big_out, &udp), FrameKind::kUdp);
  EXPECT_EQ(udp.payload.size(), 65'507u);
}

TEST(MacAddressTest, ParsesAndPrints) {
  auto m = MacAddress::Parse("AA:bb:0C:dd:ee:F1");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->ToString(), "aa:bb:0c:dd:ee:f1");
  EXPECT_FALSE(m->IsBroadcast());
  EXPECT_TRUE(MacAddress::Parse("ff:ff:ff:ff:ff:ff")->IsBroadcast());
  for (const char* bad :
       {"", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:fg", "aa-bb-cc-dd-ee-ff",
        "aa:bb:cc:dd:ee:ff:", "1:2:3:4:5:6"}) {
    EXPECT_FALSE(MacAddress::Parse(bad).ok()) << bad;
  }
}

TEST(FrameKindNameTest, NamesEveryKind) {
  EXPECT_EQ(FrameKindName(FrameKind::kUdp), "udp");
  EXPECT_EQ(FrameKindName(FrameKind::kArp), "arp");
  EXPECT_EQ(FrameKindName(FrameKind::kNotIpv4), "not_ipv4");
  EXPECT_EQ(FrameKindName(FrameKind::kNotUdp), "not_udp");
  EXPECT_EQ(FrameKindName(FrameKind::kFragment), "fragment");
  EXPECT_EQ(FrameKindName(FrameKind::kMalformed), "malformed");
  EXPECT_EQ(FrameKindName(FrameKind::kBadChecksum), "bad_checksum");
}

TEST(ArpTest, RequestAndReplyRoundTrip) {
  const MacAddress ours = Mac("02:00:00:00:00:0a");
  const MacAddress theirs = Mac("02:00:00:00:00:0b");
  Bytes request(64);
  ASSERT_EQ(BuildArpRequest(request, theirs, Ip("10.0.0.2"), Ip("10.0.0.1")),
            42u);
  request.resize(42);
  // Golden: broadcast, sender 02..0b 10.0.0.2, asking for 10.0.0.1.
  EXPECT_EQ(request, FromHex("ffffffffffff 02000000000b 0806"
                             "0001 0800 06 04 0001 02000000000b 0a000002"
                             "000000000000 0a000001"));
  UdpFrame udp;
  EXPECT_EQ(ParseFrame(request, &udp), FrameKind::kArp);
  ArpPacket parsed;
  ASSERT_TRUE(ParseArp(request, &parsed));
  EXPECT_TRUE(parsed.is_request);
  EXPECT_EQ(parsed.sender_mac, theirs);
  EXPECT_EQ(parsed.sender_be, Ip("10.0.0.2"));
  EXPECT_EQ(parsed.target_be, Ip("10.0.0.1"));

  Bytes reply(42);
  ASSERT_EQ(BuildArpReply(reply, parsed, ours, Ip("10.0.0.1")), 42u);
  EXPECT_EQ(reply, FromHex("02000000000b 02000000000a 0806"
                           "0001 0800 06 04 0002 02000000000a 0a000001"
                           "02000000000b 0a000002"));
  ArpPacket answer;
  ASSERT_TRUE(ParseArp(reply, &answer));
  EXPECT_FALSE(answer.is_request);
  EXPECT_EQ(answer.sender_mac, ours);
  EXPECT_EQ(answer.sender_be, Ip("10.0.0.1"));
  EXPECT_EQ(answer.target_mac, theirs);
  EXPECT_EQ(answer.target_be, Ip("10.0.0.2"));

  Bytes small(41);
  EXPECT_EQ(BuildArpReply(small, parsed, ours, Ip("10.0.0.1")), 0u);
  EXPECT_EQ(BuildArpRequest(small, ours, 1, 2), 0u);
  for (std::size_t len = 0; len < reply.size(); ++len) {
    EXPECT_FALSE(ParseArp(std::span(reply).first(len), &answer)) << len;
  }
  Bytes wrong = reply;
  wrong[21] = std::byte{3};  // operation 3 (RARP request)
  EXPECT_FALSE(ParseArp(wrong, &answer));
  // Padded to the Ethernet minimum and behind a VLAN tag: still ARP.
  Bytes tagged = WithTags(reply, {0x8100'0005});
  tagged.resize(64, std::byte{0});
  EXPECT_TRUE(ParseArp(tagged, &answer));
  EXPECT_EQ(answer.sender_mac, ours);
}

// The kernel as the reference: a datagram sent by a UDP socket in one
// namespace, captured off the wire with AF_PACKET in the other, must parse,
// and BuildUdpFrame with the same fields (and the kernel's IP id) must write
// the same bytes.
TEST(KernelFrameTest, BuildMatchesWhatTheKernelSends) {
  std::string why;
  if (!tachyon::testing::CanCreateNamespaces(&why)) {
    tachyon::testing::MissingFeature(why);
    return;
  }
  auto pair =
      tachyon::testing::VethPair::Create("tpk" + std::to_string(getpid()));
  ASSERT_TRUE(pair.ok()) << pair.status();
  int capture = -1;
  int receiver = -1;
  {
    auto in = (*pair)->EnterPeer();
    ASSERT_TRUE(in.ok());
    capture = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_IP));
    ASSERT_GE(capture, 0) << std::strerror(errno);
    sockaddr_ll ll{};
    ll.sll_family = AF_PACKET;
    ll.sll_protocol = htons(ETH_P_IP);
    ll.sll_ifindex = static_cast<int>(if_nametoindex("tp0"));
    ASSERT_NE(ll.sll_ifindex, 0);
    ASSERT_EQ(bind(capture, reinterpret_cast<sockaddr*>(&ll), sizeof ll), 0);
    receiver = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in r{};
    r.sin_family = AF_INET;
    r.sin_port = htons(5099);
    r.sin_addr.s_addr = (*pair)->peer_ip_be();
    ASSERT_EQ(bind(receiver, reinterpret_cast<sockaddr*>(&r), sizeof r), 0);
  }
  int sender = -1;
  {
    auto in = (*pair)->EnterGateway();
    ASSERT_TRUE(in.ok());
    sender = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(sender, 0);
    sockaddr_in s{};
    s.sin_family = AF_INET;
    s.sin_port = htons(5098);
    s.sin_addr.s_addr = (*pair)->gateway_ip_be();
    ASSERT_EQ(bind(sender, reinterpret_cast<sockaddr*>(&s), sizeof s), 0);
    const int pmtu = IP_PMTUDISC_DO;  // DF, as BuildUdpFrame sets it
    setsockopt(sender, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
  }
  for (std::size_t size : {0u, 1u, 5u, 64u, 1001u, 1472u}) {
    Bytes payload(size);
    for (std::size_t i = 0; i < size; ++i) {
      payload[i] = static_cast<std::byte>(i * 31 + size);
    }
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(5099);
    to.sin_addr.s_addr = (*pair)->peer_ip_be();
    ASSERT_EQ(sendto(sender, payload.data(), payload.size(), 0,
                     reinterpret_cast<sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(size));
    // Capture frames (bounded in count and time) until ours arrives.
    Bytes frame;
    UdpFrame udp;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(5);
    bool found = false;
    while (!found && std::chrono::steady_clock::now() < deadline) {
      pollfd p{.fd = capture, .events = POLLIN, .revents = 0};
      if (poll(&p, 1, 100) <= 0) continue;
      frame.assign(2048, std::byte{0});
      const ssize_t n = recv(capture, frame.data(), frame.size(), 0);
      ASSERT_GT(n, 0);
      frame.resize(static_cast<std::size_t>(n));
      found = ParseFrame(frame, &udp) == FrameKind::kUdp &&
              udp.destination_port == 5099;
    }
    ASSERT_TRUE(found) << "no UDP frame of " << size << " bytes captured";
    EXPECT_EQ(udp.source_be, (*pair)->gateway_ip_be());
    EXPECT_EQ(udp.destination_be, (*pair)->peer_ip_be());
    EXPECT_EQ(udp.source_port, 5098);
    EXPECT_EQ(udp.source_mac.ToString(), (*pair)->gateway_mac());
    EXPECT_EQ(udp.destination_mac.ToString(), (*pair)->peer_mac());
    EXPECT_EQ(Bytes(udp.payload.begin(), udp.payload.end()), payload);
    ASSERT_NE(Get16(frame, 40), 0) << "the kernel sent no UDP checksum";

    UdpAddressing a;
    a.source_mac = udp.source_mac;
    a.destination_mac = udp.destination_mac;
    a.source_be = udp.source_be;
    a.destination_be = udp.destination_be;
    a.source_port = udp.source_port;
    a.destination_port = udp.destination_port;
    a.ip_id = Get16(frame, 18);
    const std::size_t half = size / 2 + (size & 1);  // an odd head if any
    const Bytes head(payload.begin(),
                     payload.begin() + static_cast<long>(half));
    const Bytes body(payload.begin() + static_cast<long>(half), payload.end());
    EXPECT_EQ(Build(a, head, body), frame) << "payload " << size;
  }
  close(sender);
  close(receiver);
  close(capture);
}

}  // namespace
}  // namespace tachyon::fastpath
