#include "session/partial_frame.h"

#include <cstddef>
#include <vector>

#include "base/counters.h"
#include "gtest/gtest.h"

namespace tachyon::session {
namespace {

std::vector<std::byte> Bytes(std::size_t n, int seed = 1) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    v[i] = static_cast<std::byte>((i * 31 + seed) & 0xff);
  }
  return v;
}

class PartialFrameTest : public ::testing::Test {
 protected:
  base::CounterRegistry registry_;
  base::Gauge held_ = registry_.AddGauge("held", "bytes");
};

TEST_F(PartialFrameTest, KeepsTheBytesInOrderAcrossGrowth) {
  PartialFrame p(&held_);
  const std::vector<std::byte> all = Bytes(300'000);
  const std::size_t frame = all.size();
  std::size_t at = 0;
  for (std::size_t step : {10u, 16u, 5000u, 60'000u, 100'000u, 134'974u}) {
    p.Append(std::span(all).subspan(at, step), frame);
    at += step;
  }
  ASSERT_EQ(at, all.size());
  ASSERT_EQ(p.size(), all.size());
  EXPECT_TRUE(std::equal(all.begin(), all.end(), p.bytes().begin()));
  EXPECT_EQ(held_.value(), static_cast<std::int64_t>(p.capacity()));
}

TEST_F(PartialFrameTest,
       ATrickledHugeFrameHoldsAboutWhatArrivedNotWhatItAnnounced) {
  PartialFrame p(&held_);
  const std::size_t announced = 16u << 20;  // a 16 MiB frame
  const std::vector<std::byte> chunk = Bytes(1000);
  for (int i = 0; i < 100; ++i) {
    p.Append(chunk, announced);
    // At most twice what arrived, rounded up to a page.
    EXPECT_LE(p.capacity(), 2 * p.size() + 4096) << i;
  }
  EXPECT_EQ(p.size(), 100'000u);
  EXPECT_LT(held_.value(), 256 * 1024);
}

TEST_F(PartialFrameTest, NeverHoldsMoreThanTheFrameNeeds) {
  PartialFrame p(&held_);
  const std::size_t frame = 200'000;
  const std::vector<std::byte> chunk = Bytes(frame / 2);
  p.Append(chunk, frame);
  p.Append(chunk, frame);
  EXPECT_EQ(p.size(), frame);
  EXPECT_LE(p.capacity(), (frame + 4095) & ~std::size_t{4095});
}

TEST_F(PartialFrameTest, ClearGivesALargeBufferBackAndKeepsASmallOne) {
  PartialFrame p(&held_);
  p.Append(Bytes(100), 100);
  p.Clear();
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.capacity(), PartialFrame::kKeepBytes);
  EXPECT_EQ(held_.value(), static_cast<std::int64_t>(PartialFrame::kKeepBytes));
  p.Append(Bytes(1 << 20), 1 << 20);  // mapped
  EXPECT_GT(held_.value(), 1 << 19);
  p.Clear();
  EXPECT_EQ(p.capacity(), 0u);
  EXPECT_EQ(held_.value(), 0);
}

TEST_F(PartialFrameTest, DestructionReturnsEveryByteToTheGauge) {
  {
    PartialFrame a(&held_);
    PartialFrame b(&held_);
    a.Append(Bytes(3 << 20), 4 << 20);
    b.Append(Bytes(10), 16);
    EXPECT_GT(held_.value(), 3 << 20);
  }
  EXPECT_EQ(held_.value(), 0);
}

}  // namespace
}  // namespace tachyon::session
