#include "session/address_limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace tachyon::session {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

AddressKey V4(const char* ip) {
  sockaddr_storage s{};
  auto& a = reinterpret_cast<sockaddr_in&>(s);
  a.sin_family = AF_INET;
  EXPECT_EQ(::inet_pton(AF_INET, ip, &a.sin_addr), 1);
  return *AddressKey::From(s);
}

AddressKey Nth(std::uint32_t n) {
  AddressKey k;
  k.bytes[0] = 0x20;
  k.bytes[1] = 0x01;
  // In the /64 prefix: each n is its own failure budget.
  k.bytes[4] = static_cast<std::uint8_t>(n >> 24);
  k.bytes[5] = static_cast<std::uint8_t>(n >> 16);
  k.bytes[6] = static_cast<std::uint8_t>(n >> 8);
  k.bytes[7] = static_cast<std::uint8_t>(n);
  return k;
}

AddressKey V6(const char* ip) {
  sockaddr_storage s{};
  auto& a6 = reinterpret_cast<sockaddr_in6&>(s);
  a6.sin6_family = AF_INET6;
  EXPECT_EQ(::inet_pton(AF_INET6, ip, &a6.sin6_addr), 1);
  return *AddressKey::From(s);
}

using Slot = AddressLimits::LogonSlot;

TEST(AddressKeyTest, IPv4IsMappedAndPrintsAsIPv4) {
  EXPECT_EQ(V4("127.0.0.2").ToString(), "127.0.0.2");
  sockaddr_storage s{};
  auto& a6 = reinterpret_cast<sockaddr_in6&>(s);
  a6.sin6_family = AF_INET6;
  ASSERT_EQ(::inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr), 1);
  EXPECT_EQ(AddressKey::From(s)->ToString(), "2001:db8::1");
  sockaddr_storage unix_addr{};
  unix_addr.ss_family = AF_UNIX;
  EXPECT_FALSE(AddressKey::From(unix_addr).has_value());
}

TEST(AddressLimitsTest, RefusesConnectionsPastTheLimitPerAddressOnly) {
  AddressLimits limits({.max_connections_per_address = 2});
  const AddressKey a = V4("127.0.0.2");
  const AddressKey b = V4("127.0.0.1");
  EXPECT_TRUE(limits.TryAddConnection(a));
  EXPECT_TRUE(limits.TryAddConnection(a));
  EXPECT_FALSE(limits.TryAddConnection(a));
  EXPECT_TRUE(limits.TryAddConnection(b));
  limits.ReleaseConnection(a);
  EXPECT_TRUE(limits.TryAddConnection(a));
  limits.ReleaseConnection(a);
  limits.ReleaseConnection(a);
  limits.ReleaseConnection(b);
  EXPECT_EQ(limits.tracked(), 0u);  // nothing left to remember
}

TEST(AddressLimitsTest, ZeroMeansNoConnectionLimitAndNoEntries) {
  AddressLimits limits({.max_connections_per_address = 0});
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limits.TryAddConnection(Nth(1)));
  EXPECT_EQ(limits.tracked(), 0u);
}

TEST(AddressLimitsTest, FailureBudgetIsSpentThenRecoversAfterTheWindow) {
  AddressLimits limits({.logon_failures_per_address = 3,
                        .logon_failure_window_ns = 10 * kSecond});
  const AddressKey a = V4("127.0.0.3");
  std::int64_t now = 100 * kSecond;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limits.LogonAllowed(a, now)) << i;
    limits.RecordLogonFailure(a, now);
    now += kSecond;
  }
  EXPECT_FALSE(limits.LogonAllowed(a, now));
  EXPECT_TRUE(limits.LogonAllowed(V4("127.0.0.4"), now));
  // The window began with the first failure (at 100 s).
  EXPECT_FALSE(limits.LogonAllowed(a, 110 * kSecond - 1));
  EXPECT_TRUE(limits.LogonAllowed(a, 110 * kSecond));
  // A fresh budget.
  limits.RecordLogonFailure(a, 110 * kSecond);
  EXPECT_TRUE(limits.LogonAllowed(a, 110 * kSecond));
}

TEST(AddressLimitsTest, ReservingCountsPendingLogonsUntilReleased) {
  AddressLimits limits({.logon_failures_per_address = 3,
                        .logon_failure_window_ns = 10 * kSecond});
  const AddressKey a = V4("127.0.0.3");
  const std::int64_t now = kSecond;
  // Three LOGONs in flight at once take the whole budget: a fourth
  // concurrent one is refused before any of them has failed.
  std::vector<Slot> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(limits.ReserveLogon(a, now));
    EXPECT_EQ(held.back(), Slot::kAddress) << i;
  }
  EXPECT_EQ(limits.ReserveLogon(a, now), Slot::kRefused);
  // A success gives its slot back.
  limits.ReleaseLogon(a, held.back());
  EXPECT_EQ(limits.ReserveLogon(a, now), Slot::kAddress);
  EXPECT_EQ(limits.ReserveLogon(a, now), Slot::kRefused);
}

TEST(AddressLimitsTest, ConcurrentReservationsNeverExceedTheBudget) {
  constexpr std::uint32_t kBudget = 5;
  AddressLimits limits({.logon_failures_per_address = kBudget,
                        .logon_failure_window_ns = 1000 * kSecond});
  const AddressKey a = V4("127.0.0.9");
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (limits.ReserveLogon(a, kSecond) != Slot::kRefused) {
          granted.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(granted.load(), static_cast<int>(kBudget));
}

TEST(AddressLimitsTest, IPv6FailuresShareTheBudgetOfTheirSlash64) {
  AddressLimits limits({.logon_failures_per_address = 2,
                        .logon_failure_window_ns = 10 * kSecond});
  limits.RecordLogonFailure(V6("2001:db8:0:1::1"), kSecond);
  limits.RecordLogonFailure(V6("2001:db8:0:1:ffff::2"), kSecond);
  EXPECT_EQ(limits.ReserveLogon(V6("2001:db8:0:1::3"), kSecond),
            Slot::kRefused);
  EXPECT_FALSE(limits.LogonAllowed(V6("2001:db8:0:1:1234::9"), kSecond));
  // Another /64 has its own budget.
  EXPECT_EQ(limits.ReserveLogon(V6("2001:db8:0:2::1"), kSecond),
            Slot::kAddress);
  // IPv4 stays per address.
  limits.RecordLogonFailure(V4("10.0.0.1"), kSecond);
  limits.RecordLogonFailure(V4("10.0.0.1"), kSecond);
  EXPECT_FALSE(limits.LogonAllowed(V4("10.0.0.1"), kSecond));
  EXPECT_TRUE(limits.LogonAllowed(V4("10.0.0.2"), kSecond));
}

TEST(AddressLimitsTest, AFullTableCountsNewAddressesInOneSharedBudget) {
  AddressLimits limits({.logon_failures_per_address = 3,
                        .logon_failure_window_ns = 10 * kSecond,
                        .max_tracked_addresses = 16});
  for (std::uint32_t i = 0; i < 16; ++i) {
    limits.RecordLogonFailure(Nth(i), kSecond);
  }
  // Each new address finds the table full: they share one budget of 3.
  int granted = 0;
  for (std::uint32_t i = 100; i < 200; ++i) {
    const Slot s = limits.ReserveLogon(Nth(i), kSecond);
    if (s != Slot::kRefused) {
      EXPECT_EQ(s, Slot::kShared);
      ++granted;
    }
  }
  EXPECT_EQ(granted, 3);
  EXPECT_FALSE(limits.LogonAllowed(Nth(500), kSecond));
  EXPECT_EQ(limits.tracked(), 16u);
  // The shared budget recovers with its window.
  EXPECT_EQ(limits.ReserveLogon(Nth(501), 12 * kSecond), Slot::kAddress);
}

TEST(AddressLimitsTest, TheTableStaysBoundedUnderManyAddresses) {
  AddressLimits limits({.logon_failures_per_address = 1,
                        .logon_failure_window_ns = 10 * kSecond,
                        .max_tracked_addresses = 1024});
  std::int64_t now = kSecond;
  for (std::uint32_t i = 0; i < 100'000; ++i) {
    limits.RecordLogonFailure(Nth(i), now);
  }
  EXPECT_EQ(limits.tracked(), 1024u);
  EXPECT_EQ(limits.untracked_failures(), 100'000u - 1024u);
  // The budgets still running are kept, not evicted by newcomers.
  EXPECT_FALSE(limits.LogonAllowed(Nth(0), now));
  // Once their windows passed, a full table makes room.
  now += 11 * kSecond;
  limits.RecordLogonFailure(Nth(200'000), now);
  EXPECT_EQ(limits.tracked(), 1u);
  EXPECT_FALSE(limits.LogonAllowed(Nth(200'000), now));
}

TEST(AddressLimitsTest, ConnectionsAreTrackedEvenWhenFailuresFillTheTable) {
  AddressLimits limits({.max_connections_per_address = 1,
                        .logon_failures_per_address = 1,
                        .logon_failure_window_ns = 10 * kSecond,
                        .max_tracked_addresses = 1024});
  for (std::uint32_t i = 0; i < 2000; ++i) {
    limits.RecordLogonFailure(Nth(i), kSecond);
  }
  const AddressKey a = V4("10.0.0.1");
  EXPECT_TRUE(limits.TryAddConnection(a));
  EXPECT_FALSE(limits.TryAddConnection(a));
}

// Workers race one table: each thread adds and releases connections for
// shared and own addresses and records failures. The limit holds at every
// moment (no thread ever sees more than the limit granted) and every count
// returns to zero.
TEST(AddressLimitsTest, ConcurrentWorkersKeepTheCountsExact) {
  constexpr int kLimit = 4;
  AddressLimits limits({.max_connections_per_address = kLimit,
                        .logon_failures_per_address = 1000,
                        .logon_failure_window_ns = 1000 * kSecond,
                        .max_tracked_addresses = 1024});
  const AddressKey shared = V4("127.0.0.2");
  std::atomic<int> held{0};
  std::atomic<int> over{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20'000; ++i) {
        if (limits.TryAddConnection(shared)) {
          if (held.fetch_add(1) + 1 > kLimit) over.fetch_add(1);
          held.fetch_sub(1);
          limits.ReleaseConnection(shared);
        }
        const AddressKey own = Nth(static_cast<std::uint32_t>(t * 100 + i % 7));
        if (limits.TryAddConnection(own)) limits.ReleaseConnection(own);
        if (i % 100 == 0) {
          limits.RecordLogonFailure(own, kSecond);
          static_cast<void>(limits.LogonAllowed(own, kSecond));
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(over.load(), 0);
  for (int i = 0; i < kLimit; ++i) EXPECT_TRUE(limits.TryAddConnection(shared));
  EXPECT_FALSE(limits.TryAddConnection(shared));
}

}  // namespace
}  // namespace tachyon::session
