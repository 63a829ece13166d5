// Version-2 (authenticated) datagrams, PROTOCOL.md 16.7: layout checks of
// DecodeDatagram, and the MAC (SipHash-2-4-128) signed and verified.
#include "tachyon/protocol/datagram_mac.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::protocol {
namespace {

DatagramKey TestKey() {
  DatagramKey k;
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = std::byte(i);
  return k;
}

// A signed version-2 PUBLISH datagram of `payloads.size()` frames.
std::vector<std::byte> Signed(std::uint32_t producer, std::uint64_t first,
                              int frames, const DatagramKey& key) {
  std::vector<std::byte> d(1472);
  std::size_t n = EncodeAuthenticatedDatagramHeader(
      d, DatagramKind::kPublish, static_cast<std::uint16_t>(frames),
      StreamId{3}, Sequence{first}, 0x42, producer);
  const std::array<std::byte, 5> payload{};
  for (int i = 0; i < frames; ++i) {
    n += EncodePublish(std::span(d).subspan(n), StreamId{3},
                       static_cast<std::uint64_t>(i), payload);
  }
  d.resize(n + kDatagramMacLength);
  EXPECT_TRUE(SignDatagram(d, key));
  return d;
}

TEST(DatagramMac, EmptyInputMatchesTheReferenceVector) {
  // SipHash's reference 128-bit vector 0: key 00..0f, empty message.
  std::array<std::byte, kDatagramMacLength> tag;
  ComputeDatagramMac({}, TestKey(), tag);
  const std::array<std::uint8_t, 16> expected = {
      0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6,
      0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93};
  for (std::size_t i = 0; i < tag.size(); ++i) {
    EXPECT_EQ(static_cast<std::uint8_t>(tag[i]), expected[i]) << i;
  }
}

TEST(DatagramMac, SignedDatagramDecodesAndVerifies) {
  const std::vector<std::byte> d = Signed(7, 100, 3, TestKey());
  const DatagramResult r = DecodeDatagram(d, kDefaultMaxFrameLength);
  ASSERT_EQ(r.error, ErrorCode::kNone);
  EXPECT_TRUE(r.view.authenticated());
  EXPECT_EQ(r.view.version(), kAuthenticatedDatagramVersion);
  EXPECT_EQ(r.view.producer_id(), 7u);
  EXPECT_EQ(r.view.first_sequence(), Sequence{100});
  EXPECT_EQ(r.view.source_id(), 0x42u);
  EXPECT_EQ(r.view.frames().data(), d.data() + kAuthenticatedHeaderLength);
  EXPECT_EQ(r.view.frames().size(), d.size() - kMinAuthenticatedDatagramLength);
  int frames = 0;
  for (FrameView f : r) {
    EXPECT_EQ(f.type(), MessageType::kPublish);
    ++frames;
  }
  EXPECT_EQ(frames, 3);
  EXPECT_TRUE(VerifyDatagramMac(d, TestKey()));
}

TEST(DatagramMac, EveryFlippedBitFailsVerification) {
  const std::vector<std::byte> d = Signed(7, 100, 1, TestKey());
  for (std::size_t bit = 0; bit < d.size() * 8; ++bit) {
    std::vector<std::byte> bad = d;
    bad[bit / 8] ^= std::byte(1u << (bit % 8));
    EXPECT_FALSE(VerifyDatagramMac(bad, TestKey())) << "bit " << bit;
  }
}

TEST(DatagramMac, AnotherKeyFailsVerification) {
  DatagramKey other = TestKey();
  other[15] ^= std::byte{0x80};
  EXPECT_FALSE(VerifyDatagramMac(Signed(7, 100, 1, TestKey()), other));
}

TEST(DatagramMac, ShortInputsNeitherSignNorVerify) {
  std::vector<std::byte> d(kMinAuthenticatedDatagramLength - 1);
  EXPECT_FALSE(SignDatagram(d, TestKey()));
  EXPECT_FALSE(VerifyDatagramMac(d, TestKey()));
}

TEST(DatagramMac, VersionOneViewsHaveNoProducerOrMac) {
  std::vector<std::byte> d(kDatagramHeaderLength);
  EncodeDatagramHeader(d, DatagramKind::kHeartbeat, 0, StreamId{7}, Sequence{5},
                       9);
  const DatagramResult r = DecodeDatagram(d, kDefaultMaxFrameLength);
  ASSERT_EQ(r.error, ErrorCode::kNone);
  EXPECT_FALSE(r.view.authenticated());
  EXPECT_EQ(r.view.producer_id(), 0u);
  EXPECT_TRUE(r.view.mac().empty());
}

TEST(DatagramKey, ParsesHexAndRefusesAnythingElse) {
  const auto k = ParseDatagramKey("000102030405060708090A0b0c0d0e0f\n");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(*k, TestKey());
  EXPECT_FALSE(ParseDatagramKey("").has_value());
  EXPECT_FALSE(ParseDatagramKey("000102030405060708090a0b0c0d0e").has_value());
  EXPECT_FALSE(
      ParseDatagramKey("000102030405060708090a0b0c0d0e0f00").has_value());
  EXPECT_FALSE(
      ParseDatagramKey("g00102030405060708090a0b0c0d0e0f").has_value());
}

}  // namespace
}  // namespace tachyon::protocol
