// RequestTable: record reuse and the deadline heap (earliest first, any
// record removable), checked against a sorted model.
#include "backend/request_table.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <utility>

#include "gtest/gtest.h"
#include "io/agent.h"

namespace tachyon::backend {
namespace {

TEST(RequestTableTest, FreedRecordsAreReused) {
  RequestTable t(4);
  const std::uint32_t a = t.Allocate();
  const std::uint32_t b = t.Allocate();
  EXPECT_NE(a, b);
  EXPECT_EQ(t.live(), 2u);
  t.Free(a);
  EXPECT_EQ(t.live(), 1u);
  EXPECT_EQ(t.Allocate(), a);
  EXPECT_EQ(t.size(), 2u);
}

TEST(RequestTableTest, EmptyHeapHasNoDeadline) {
  RequestTable t(0);
  EXPECT_EQ(t.Earliest(), kNoIndex);
  EXPECT_EQ(t.EarliestDeadlineNs(), io::Agent::kNoDeadline);
}

TEST(RequestTableTest, DeadlinesComeOutEarliestFirstWhateverIsRemoved) {
  RequestTable t(16);
  std::mt19937_64 rng(12);
  std::set<std::pair<std::int64_t, std::uint32_t>> model;
  for (int step = 0; step < 5000; ++step) {
    const int action = static_cast<int>(rng() % 3);
    if (action == 0 || model.empty()) {
      const std::uint32_t i = t.Allocate();
      const auto deadline = static_cast<std::int64_t>(rng() % 1000);
      t.Schedule(i, deadline);
      model.insert({deadline, i});
    } else if (action == 1) {
      // Remove an arbitrary record (answered before its deadline).
      auto it = model.begin();
      std::advance(it, static_cast<long>(rng() % model.size()));
      t.Unschedule(it->second);
      t.Free(it->second);
      model.erase(it);
    } else {
      // Expire the earliest.
      const std::uint32_t i = t.Earliest();
      ASSERT_NE(i, kNoIndex);
      ASSERT_EQ(t.EarliestDeadlineNs(), model.begin()->first);
      ASSERT_EQ(t[i].deadline_ns, model.begin()->first);
      model.erase({t[i].deadline_ns, i});
      t.Unschedule(i);
      t.Free(i);
    }
    ASSERT_EQ(t.live(), model.size());
    if (!model.empty()) {
      ASSERT_EQ(t.EarliestDeadlineNs(), model.begin()->first);
    }
  }
}

}  // namespace
}  // namespace tachyon::backend
