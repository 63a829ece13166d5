// The per-queue counters: names, labels and reasons as the dashboards read
// them.
#include "fastpath/fastpath_counters.h"

#include "gtest/gtest.h"

namespace tachyon::fastpath {
namespace {

TEST(FastPathCountersTest, RegistersEveryValueWithPathAndQueue) {
  base::CounterRegistry registry;
  FastPathCounters c(registry, "af_xdp", 3);
  c.rx_packets.Add(2);
  c.rx_drops[static_cast<std::size_t>(RxDrop::kBadChecksum)].Add();
  c.tx_wakeups.Add(5);
  EXPECT_EQ(registry.Sum("tachyon_fastpath_rx_packets_total"), 2u);
  EXPECT_EQ(registry.Sum("tachyon_fastpath_rx_drops_total"), 1u);
  EXPECT_EQ(registry.Sum("tachyon_fastpath_wakeups_total"), 5u);
  int drops = 0;
  bool saw_bad_checksum = false;
  bool saw_tx_ring = false;
  for (const auto& s : registry.Snapshot()) {
    ASSERT_TRUE(s.name.starts_with("tachyon_fastpath_")) << s.name;
    bool path = false;
    bool queue = false;
    for (const auto& l : s.labels) {
      path |= l.name == "path" && l.value == "af_xdp";
      queue |= l.name == "queue" && l.value == "3";
      if (s.name == "tachyon_fastpath_rx_drops_total" && l.name == "reason" &&
          l.value == "bad_checksum") {
        saw_bad_checksum = s.value == 1;
      }
      if (s.name == "tachyon_fastpath_wakeups_total" && l.name == "ring" &&
          l.value == "tx") {
        saw_tx_ring = s.value == 5;
      }
    }
    EXPECT_TRUE(path && queue) << s.name;
    if (s.name == "tachyon_fastpath_rx_drops_total") ++drops;
  }
  EXPECT_EQ(drops, static_cast<int>(RxDrop::kCount));
  EXPECT_TRUE(saw_bad_checksum);
  EXPECT_TRUE(saw_tx_ring);
}

TEST(FastPathCountersTest, NamesEveryDropReason) {
  EXPECT_EQ(RxDropName(RxDrop::kNotIpv4), "not_ipv4");
  EXPECT_EQ(RxDropName(RxDrop::kNotUdp), "not_udp");
  EXPECT_EQ(RxDropName(RxDrop::kWrongPort), "wrong_port");
  EXPECT_EQ(RxDropName(RxDrop::kFragment), "fragment");
  EXPECT_EQ(RxDropName(RxDrop::kMalformed), "malformed");
  EXPECT_EQ(RxDropName(RxDrop::kBadChecksum), "bad_checksum");
  EXPECT_EQ(RxDropName(RxDrop::kTruncated), "truncated");
}

}  // namespace
}  // namespace tachyon::fastpath
