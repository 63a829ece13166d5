// UDP datagrams: a valid datagram decodes and iterates its frames in place;
// every malformed condition DecodeDatagram checks yields its exact code.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <span>
#include <vector>

#include "gtest/gtest.h"
#include "print_to.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::protocol {

namespace {

using Bytes = std::vector<std::byte>;

constexpr std::uint32_t kMax = kDefaultMaxFrameLength;
constexpr StreamId kStream{7};
constexpr std::uint64_t kSource = 0xABCDEF;

Bytes Data(std::uint64_t sequence, std::size_t payload_size,
           StreamId stream = kStream) {
  Bytes b(PaddedLength(DataView::kFixedLength + payload_size));
  const std::span<std::byte> body =
      BeginData(b, stream, Sequence{sequence}, 1000 + sequence, payload_size);
  std::fill(body.begin(), body.end(), std::byte{'d'});
  return b;
}

Bytes Publish(std::uint64_t correlation, std::size_t payload_size,
              StreamId stream = kStream) {
  Bytes b(PaddedLength(PublishView::kFixedLength + payload_size));
  const std::span<std::byte> body =
      BeginPublish(b, stream, correlation, payload_size, AckMode::kNone);
  std::fill(body.begin(), body.end(), std::byte{'p'});
  return b;
}

Bytes Datagram(DatagramKind kind, std::uint16_t count, std::uint64_t first,
               std::initializer_list<Bytes> frames, StreamId stream = kStream,
               std::uint64_t source = kSource) {
  Bytes d(kDatagramHeaderLength);
  EXPECT_EQ(
      EncodeDatagramHeader(d, kind, count, stream, Sequence{first}, source),
      kDatagramHeaderLength);
  for (const Bytes& f : frames) d.insert(d.end(), f.begin(), f.end());
  return d;
}

ErrorCode ErrorOf(std::span<const std::byte> d, std::uint32_t max = kMax) {
  return DecodeDatagram(d, max).error;
}

TEST(Datagram, DecodesDataDatagramAndIteratesItsFramesInPlace) {
  const Bytes f1 = Data(100, 0);
  const Bytes f2 = Data(101, 13);
  const Bytes f3 = Data(102, 64);
  const Bytes d = Datagram(DatagramKind::kData, 3, 100, {f1, f2, f3});
  const DatagramResult r = DecodeDatagram(d, kMax);
  ASSERT_EQ(r.error, ErrorCode::kNone);
  EXPECT_EQ(r.view.kind(), DatagramKind::kData);
  EXPECT_EQ(r.view.message_count(), 3);
  EXPECT_EQ(r.view.stream_id(), kStream);
  EXPECT_EQ(r.view.first_sequence(), Sequence{100});
  EXPECT_EQ(r.view.source_id(), kSource);
  EXPECT_EQ(r.view.frames().data(), d.data() + kDatagramHeaderLength);
  EXPECT_EQ(r.view.frames().size(), f1.size() + f2.size() + f3.size());

  std::vector<FrameView> seen;
  for (FrameView f : r) seen.push_back(f);
  ASSERT_EQ(seen.size(), 3u);
  std::size_t offset = kDatagramHeaderLength;
  const Bytes* expected[] = {&f1, &f2, &f3};
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].bytes().data(), d.data() + offset) << i;
    EXPECT_EQ(seen[i].padded_length(), expected[i]->size());
    EXPECT_TRUE(std::equal(seen[i].bytes().begin(), seen[i].bytes().end(),
                           expected[i]->begin()));
    const DataView v(seen[i]);
    EXPECT_EQ(v.sequence(), Sequence{100 + i});
    EXPECT_EQ(v.timestamp_ns(), static_cast<std::int64_t>(1100 + i));
    offset += expected[i]->size();
  }
  // The view over the result iterates the same way.
  int count = 0;
  for (FrameView f : r.view) {
    EXPECT_EQ(f.type(), MessageType::kData);
    ++count;
  }
  EXPECT_EQ(count, 3);
}

TEST(Datagram, DecodesPublishDatagramWithAnyFirstSequence) {
  const Bytes d = Datagram(DatagramKind::kPublish, 2, 555,
                           {Publish(1, 5), Publish(2, 300)});
  const DatagramResult r = DecodeDatagram(d, kMax);
  ASSERT_EQ(r.error, ErrorCode::kNone);
  EXPECT_EQ(r.view.kind(), DatagramKind::kPublish);
  std::vector<std::uint64_t> correlations;
  for (FrameView f : r) {
    correlations.push_back(PublishView(f).correlation_id());
    EXPECT_EQ(PublishView(f).stream_id(), kStream);
  }
  EXPECT_EQ(correlations, (std::vector<std::uint64_t>{1, 2}));
}

TEST(Datagram, HeartbeatCarriesNoFrames) {
  const Bytes d = Datagram(DatagramKind::kHeartbeat, 0, 42, {});
  const DatagramResult r = DecodeDatagram(d, kMax);
  ASSERT_EQ(r.error, ErrorCode::kNone);
  EXPECT_EQ(r.view.kind(), DatagramKind::kHeartbeat);
  EXPECT_EQ(r.view.message_count(), 0);
  EXPECT_EQ(r.view.first_sequence(), Sequence{42});
  EXPECT_TRUE(r.view.frames().empty());
  int count = 0;
  for (FrameView f : r) {
    (void)f;
    ++count;
  }
  EXPECT_EQ(count, 0);
}

TEST(Datagram, RejectedDatagramIteratesNoFrames) {
  // A rejected result holds a default view; iterating it must be harmless.
  const Bytes junk(3);
  const DatagramResult r = DecodeDatagram(junk, kMax);
  ASSERT_EQ(r.error, ErrorCode::kFrameTooShort);
  EXPECT_TRUE(r.view.frames().empty());
  int count = 0;
  for (FrameView f : r) {
    (void)f;
    ++count;
  }
  EXPECT_EQ(count, 0);
}

TEST(Datagram, FillsAnEthernetMtu) {
  constexpr std::size_t kFrame = 64;  // DATA with a 32-byte payload
  constexpr std::size_t kFit =
      (kDefaultMaxDatagramLength - kDatagramHeaderLength) / kFrame;
  Bytes d(kDatagramHeaderLength);
  ASSERT_EQ(EncodeDatagramHeader(d, DatagramKind::kData, kFit, kStream,
                                 Sequence{1}, kSource),
            kDatagramHeaderLength);
  for (std::size_t i = 0; i < kFit; ++i) {
    const Bytes f = Data(1 + i, 32);
    ASSERT_EQ(f.size(), kFrame);
    d.insert(d.end(), f.begin(), f.end());
  }
  ASSERT_LE(d.size(), kDefaultMaxDatagramLength);
  const DatagramResult r = DecodeDatagram(d, kMax);
  ASSERT_EQ(r.error, ErrorCode::kNone);
  std::uint64_t expected = 1;
  for (FrameView f : r) {
    EXPECT_EQ(DataView(f).sequence(), Sequence{expected});
    ++expected;
  }
  EXPECT_EQ(expected, kFit + 1);
}

TEST(DatagramHeader, EncoderRefusesSmallBufferAndWritesNothingPastIt) {
  constexpr std::byte kFill{0x5A};
  for (std::size_t size = 0; size <= kDatagramHeaderLength; ++size) {
    Bytes buf(size + 16, kFill);
    const std::size_t n =
        EncodeDatagramHeader(std::span(buf).first(size), DatagramKind::kData, 1,
                             kStream, Sequence{1}, kSource);
    EXPECT_EQ(n, size == kDatagramHeaderLength ? kDatagramHeaderLength : 0u);
    EXPECT_TRUE(std::all_of(buf.begin() + size, buf.end(), [&](std::byte b) {
      return b == kFill;
    })) << size;
  }
}

TEST(DatagramHeader, FieldsSitAtDocumentedOffsets) {
  Bytes d(kDatagramHeaderLength);
  ASSERT_EQ(EncodeDatagramHeader(d, DatagramKind::kPublish, 0x0102, StreamId{9},
                                 Sequence{0x1122334455667788}, 0x99),
            kDatagramHeaderLength);
  EXPECT_EQ(LoadU8(&d[0]), kProtocolVersion);
  EXPECT_EQ(LoadU8(&d[1]), 2);
  EXPECT_EQ(LoadU16(&d[2]), 0x0102);
  EXPECT_EQ(LoadU32(&d[4]), 9u);
  EXPECT_EQ(LoadU64(&d[8]), 0x1122334455667788u);
  EXPECT_EQ(LoadU64(&d[16]), 0x99u);
}

// ---------------------------------------------------------------------------
// Header faults.

TEST(DatagramFault, ShorterThanHeaderIsFrameTooShort) {
  const Bytes d = Datagram(DatagramKind::kHeartbeat, 0, 1, {});
  for (std::size_t n = 0; n < kDatagramHeaderLength; ++n) {
    EXPECT_EQ(ErrorOf(std::span(d).first(n)), ErrorCode::kFrameTooShort) << n;
  }
}

TEST(DatagramFault, WrongVersionIsUnsupportedVersion) {
  for (const std::uint8_t version : {0, 3, 255}) {
    Bytes d = Datagram(DatagramKind::kData, 1, 1, {Data(1, 8)});
    StoreU8(d.data(), version);
    EXPECT_EQ(ErrorOf(d), ErrorCode::kUnsupportedVersion) << int{version};
    StoreU8(d.data() + 1, 99);  // version is judged before kind
    EXPECT_EQ(ErrorOf(d), ErrorCode::kUnsupportedVersion);
  }
}

TEST(DatagramFault, UnknownKindIsUnknownType) {
  for (const std::uint8_t kind : {0, 4, 0x22, 255}) {
    Bytes d = Datagram(DatagramKind::kData, 1, 1, {Data(1, 8)});
    StoreU8(d.data() + 1, kind);
    EXPECT_EQ(ErrorOf(d), ErrorCode::kUnknownType) << int{kind};
    StoreU32(d.data() + 4, 0);  // kind is judged before the fields
    EXPECT_EQ(ErrorOf(d), ErrorCode::kUnknownType);
  }
}

TEST(DatagramFault, ZeroStreamIsBadField) {
  EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kData, 1, 1,
                             {Data(1, 0, StreamId{0})}, StreamId{0})),
            ErrorCode::kBadField);
  EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kHeartbeat, 0, 1, {}, StreamId{0})),
            ErrorCode::kBadField);
}

TEST(DatagramFault, ZeroFirstSequenceIsBadField) {
  EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kHeartbeat, 0, 0, {})),
            ErrorCode::kBadField);
  EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kPublish, 1, 0, {Publish(1, 0)})),
            ErrorCode::kBadField);
}

TEST(DatagramFault, ZeroSourceIdIsBadField) {
  EXPECT_EQ(
      ErrorOf(Datagram(DatagramKind::kData, 1, 1, {Data(1, 0)}, kStream, 0)),
      ErrorCode::kBadField);
}

TEST(DatagramFault, HeartbeatWithFramesIsBadField) {
  EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kHeartbeat, 1, 1, {Data(1, 0)})),
            ErrorCode::kBadField);
}

TEST(DatagramFault, DataOrPublishWithoutFramesIsBadField) {
  EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kData, 0, 1, {})),
            ErrorCode::kBadField);
  EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kPublish, 0, 1, {})),
            ErrorCode::kBadField);
}

// ---------------------------------------------------------------------------
// Frame-level faults.

TEST(DatagramFault, FewerFramesThanCountIsBadBodyLength) {
  EXPECT_EQ(
      ErrorOf(Datagram(DatagramKind::kData, 3, 1, {Data(1, 8), Data(2, 8)})),
      ErrorCode::kBadBodyLength);
}

TEST(DatagramFault, TruncatedFrameIsBadBodyLength) {
  const Bytes d =
      Datagram(DatagramKind::kData, 2, 1, {Data(1, 8), Data(2, 40)});
  const std::size_t second = kDatagramHeaderLength + 40;
  // Cut inside the length field, inside the header, and inside the body.
  for (const std::size_t keep :
       {std::size_t{2}, std::size_t{10}, std::size_t{16}, std::size_t{70}}) {
    EXPECT_EQ(ErrorOf(std::span(d).first(second + keep)),
              ErrorCode::kBadBodyLength)
        << keep;
  }
}

TEST(DatagramFault, BytesAfterTheLastFrameAreBadBodyLength) {
  EXPECT_EQ(
      ErrorOf(Datagram(DatagramKind::kData, 1, 1, {Data(1, 8), Data(2, 8)})),
      ErrorCode::kBadBodyLength);
  Bytes zeros = Datagram(DatagramKind::kData, 1, 1, {Data(1, 8)});
  zeros.resize(zeros.size() + 8);
  EXPECT_EQ(ErrorOf(zeros), ErrorCode::kBadBodyLength);
  Bytes heartbeat = Datagram(DatagramKind::kHeartbeat, 0, 1, {});
  heartbeat.push_back(std::byte{0});
  EXPECT_EQ(ErrorOf(heartbeat), ErrorCode::kBadBodyLength);
}

TEST(DatagramFault, FrameErrorsPassThroughWithTheirOwnCode) {
  {
    Bytes bad = Data(1, 5);
    bad.back() = std::byte{1};
    EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kData, 1, 1, {bad})),
              ErrorCode::kBadPadding);
  }
  {
    const Bytes d = Datagram(DatagramKind::kData, 1, 1, {Data(1, 64)});
    EXPECT_EQ(ErrorOf(d, 95), ErrorCode::kFrameTooLong);
    EXPECT_EQ(ErrorOf(d, 96), ErrorCode::kNone);
  }
  {
    Bytes bad = Data(1, 8);
    StoreU32(bad.data(), 8);
    EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kData, 1, 1, {bad})),
              ErrorCode::kFrameTooShort);
  }
  {
    Bytes bad = Data(1, 8);
    StoreU8(bad.data() + kVersionOffset, 3);
    EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kData, 1, 1, {bad})),
              ErrorCode::kUnsupportedVersion);
  }
  {
    Bytes bad = Data(1, 8);
    StoreU8(bad.data() + kTypeOffset, 0x99);
    EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kData, 1, 1, {bad})),
              ErrorCode::kUnknownType);
  }
  {
    Bytes bad = Data(1, 0);  // a DATA frame of 24 bytes: below its layout
    bad.resize(24);
    StoreU32(bad.data(), 24);
    EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kData, 1, 1, {bad})),
              ErrorCode::kBadBodyLength);
  }
  {
    Bytes bad = Data(1, 8);
    StoreU16(bad.data() + kFlagsOffset, 1);
    EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kData, 1, 1, {bad})),
              ErrorCode::kBadField);
  }
}

TEST(DatagramFault, FrameOfTheWrongTypeIsBadField) {
  EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kData, 1, 1, {Publish(1, 8)})),
            ErrorCode::kBadField);
  EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kPublish, 1, 1, {Data(1, 8)})),
            ErrorCode::kBadField);
  Bytes hb(24);
  ASSERT_EQ(EncodeHeartbeat(hb, 1), 24u);
  EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kData, 1, 1, {hb})),
            ErrorCode::kBadField);
}

TEST(DatagramFault, FrameOfAnotherStreamIsBadField) {
  EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kData, 2, 1,
                             {Data(1, 8), Data(2, 8, StreamId{8})})),
            ErrorCode::kBadField);
  EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kPublish, 1, 1,
                             {Publish(1, 8, StreamId{8})})),
            ErrorCode::kBadField);
}

TEST(DatagramFault, DataSequencesOutOfStepAreBadField) {
  // First frame disagrees with first_sequence.
  EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kData, 1, 5, {Data(6, 8)})),
            ErrorCode::kBadField);
  // A hole.
  EXPECT_EQ(
      ErrorOf(Datagram(DatagramKind::kData, 2, 5, {Data(5, 8), Data(7, 8)})),
      ErrorCode::kBadField);
  // A repeat.
  EXPECT_EQ(
      ErrorOf(Datagram(DatagramKind::kData, 2, 5, {Data(5, 8), Data(5, 8)})),
      ErrorCode::kBadField);
  // PUBLISH frames carry no sequence, so any correlation ids are fine.
  EXPECT_EQ(ErrorOf(Datagram(DatagramKind::kPublish, 2, 5,
                             {Publish(9, 8), Publish(3, 8)})),
            ErrorCode::kNone);
}

}  // namespace
}  // namespace tachyon::protocol
