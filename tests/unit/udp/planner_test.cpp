// The datagram planner on its own: synthetic log bytes in, planned
// datagrams and their headers out. No sockets.
#include "udp/planner.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tachyon/protocol/datagram.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::udp {
namespace {

namespace tp = ::tachyon::protocol;

constexpr StreamId kStream{9};

// DATA frames as a log holds them: sequences first.., one per payload size.
std::vector<std::byte> Frames(std::uint64_t first,
                              const std::vector<std::size_t>& payload_sizes,
                              StreamId stream = kStream) {
  std::vector<std::byte> out;
  std::uint64_t seq = first;
  for (std::size_t size : payload_sizes) {
    const std::size_t padded =
        tp::PaddedLength(tp::DataView::kFixedLength + size);
    const std::size_t at = out.size();
    out.resize(at + padded);
    std::span<std::byte> body = tp::BeginData({out.data() + at, padded}, stream,
                                              Sequence{seq++}, 1, size);
    for (std::byte& b : body) b = std::byte{0x61};
  }
  return out;
}

struct Planned {
  PlanResult result;
  std::vector<PlannedDatagram> datagrams;
  std::vector<std::byte> headers;
};

Planned Plan(const std::vector<std::byte>& frames, std::uint64_t first,
             std::vector<std::uint64_t>& next, std::uint32_t max_datagram,
             std::size_t max_datagrams = 64) {
  Planned p;
  p.datagrams.resize(max_datagrams);
  p.headers.resize(max_datagrams * kPlannedHeaderBytes);
  p.result = PlanDatagrams({.frames = frames,
                            .position = 1000,
                            .sequence = first,
                            .stream = kStream,
                            .source_id = 77,
                            .max_datagram_bytes = max_datagram,
                            .destination_next = next},
                           p.datagrams, p.headers);
  p.datagrams.resize(p.result.datagrams);
  return p;
}

TEST(PlannerTest, PacksConsecutiveFramesUpToTheDatagramSize) {
  // 10 frames of 40 bytes; 24 + 3 * 40 = 144 <= 150 < 184.
  const std::vector<std::byte> frames =
      Frames(5, std::vector<std::size_t>(10, 8));
  std::vector<std::uint64_t> next = {5};
  const Planned p = Plan(frames, 5, next, 150);
  ASSERT_EQ(p.datagrams.size(), 4u);
  EXPECT_EQ(p.datagrams[0].sequence, 5u);
  EXPECT_EQ(p.datagrams[0].count, 3u);
  EXPECT_EQ(p.datagrams[0].bytes, 120u);
  EXPECT_EQ(p.datagrams[0].position, 1000u);
  EXPECT_EQ(p.datagrams[1].position, 1120u);
  EXPECT_EQ(p.datagrams[3].count, 1u);
  EXPECT_EQ(p.result.end_sequence, 15u);
  EXPECT_EQ(p.result.end_position, 1000u + frames.size());
  EXPECT_FALSE(p.result.corrupt);
  // Each header is a valid DATA datagram header for its frames.
  for (std::size_t i = 0; i < p.datagrams.size(); ++i) {
    std::vector<std::byte> d(p.headers.begin() + i * 24,
                             p.headers.begin() + i * 24 + 24);
    const std::size_t off = p.datagrams[i].position - 1000;
    d.insert(d.end(), frames.begin() + off,
             frames.begin() + off + p.datagrams[i].bytes);
    const tp::DatagramResult r = tp::DecodeDatagram(d, 1 << 16);
    ASSERT_EQ(r.error, tp::ErrorCode::kNone) << i;
    EXPECT_EQ(r.view.kind(), tp::DatagramKind::kData);
    EXPECT_EQ(r.view.stream_id(), kStream);
    EXPECT_EQ(r.view.first_sequence().value(), p.datagrams[i].sequence);
    EXPECT_EQ(r.view.message_count(), p.datagrams[i].count);
    EXPECT_EQ(r.view.source_id(), 77u);
  }
}

TEST(PlannerTest, NoDatagramStraddlesADestinationsStart) {
  const std::vector<std::byte> frames =
      Frames(1, std::vector<std::size_t>(8, 8));
  std::vector<std::uint64_t> next = {1, 4};  // the second joined at 4
  const Planned p = Plan(frames, 1, next, 1472);
  ASSERT_EQ(p.datagrams.size(), 2u);
  EXPECT_EQ(p.datagrams[0].sequence, 1u);
  EXPECT_EQ(p.datagrams[0].count, 3u);
  EXPECT_EQ(p.datagrams[1].sequence, 4u);
  EXPECT_EQ(p.datagrams[1].count, 5u);
}

TEST(PlannerTest, AFrameTooLargeFirstIsSkippedForThoseOwedIt) {
  // Frame 3 (1000-byte payload) cannot fit a 200-byte datagram.
  const std::vector<std::byte> frames = Frames(3, {1000, 8, 8});
  std::vector<std::uint64_t> next = {3, 3, 10};
  const Planned p = Plan(frames, 3, next, 200);
  EXPECT_EQ(p.result.skipped, 1u);
  EXPECT_EQ(next[0], 4u);
  EXPECT_EQ(next[1], 4u);
  EXPECT_EQ(next[2], 10u);  // was owed nothing there
  ASSERT_EQ(p.datagrams.size(), 1u);
  EXPECT_EQ(p.datagrams[0].sequence, 4u);
  EXPECT_EQ(p.datagrams[0].count, 2u);
  EXPECT_EQ(p.result.end_sequence, 6u);
}

TEST(PlannerTest, AFrameTooLargeLaterStopsThePassBeforeIt) {
  const std::vector<std::byte> frames = Frames(1, {8, 8, 1000, 8});
  std::vector<std::uint64_t> next = {1};
  const Planned p = Plan(frames, 1, next, 200);
  EXPECT_EQ(p.result.skipped, 0u);
  ASSERT_EQ(p.datagrams.size(), 1u);
  EXPECT_EQ(p.datagrams[0].count, 2u);
  EXPECT_EQ(p.result.end_sequence, 3u);  // the next pass starts at it
  EXPECT_EQ(next[0], 1u);
}

TEST(PlannerTest, StopsAtTheBatchLimit) {
  const std::vector<std::byte> frames =
      Frames(1, std::vector<std::size_t>(20, 8));
  std::vector<std::uint64_t> next = {1};
  const Planned p = Plan(frames, 1, next, 24 + 40, /*max_datagrams=*/5);
  ASSERT_EQ(p.datagrams.size(), 5u);
  EXPECT_EQ(p.result.end_sequence, 6u);
}

TEST(PlannerTest, AFrameOfAnotherStreamOrSequenceIsCorrupt) {
  std::vector<std::uint64_t> next = {1};
  const std::vector<std::byte> wrong_stream = Frames(1, {8, 8}, StreamId{3});
  EXPECT_TRUE(Plan(wrong_stream, 1, next, 1472).result.corrupt);
  const std::vector<std::byte> wrong_sequence = Frames(2, {8, 8});
  const Planned p = Plan(wrong_sequence, 1, next, 1472);
  EXPECT_TRUE(p.result.corrupt);
  EXPECT_TRUE(p.datagrams.empty());
  // Bytes that are not a frame at all.
  std::vector<std::byte> garbage(64, std::byte{0});
  EXPECT_TRUE(Plan(garbage, 1, next, 1472).result.corrupt);
}

}  // namespace
}  // namespace tachyon::udp
