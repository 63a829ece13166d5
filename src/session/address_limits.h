// AddressLimits: per-address abuse limits shared by every worker —
// concurrent connections per peer address, and a budget of failed logons
// per address in a time window.
//
// Overview
//   A flood of connections from one address must not take the slots that
//   legitimate clients need (limits.max_connections_per_address), and one
//   address must not guess credentials at line rate
//   (limits.logon_failures_per_address per limits.logon_failure_window_ms:
//   once spent, further LOGONs from the address are refused until the
//   window that started with its first failure has passed).
//
//   The table is bounded (limits.max_tracked_addresses): an attacker with
//   many addresses cannot grow it without bound. Entries that hold a
//   connection are always tracked (there are at most max_connections of
//   them, the gateway-wide limit); entries that only remember logon
//   failures are added while the table is below its bound, and those whose
//   window has passed are swept out when it is full (at most once per
//   kSweepIntervalNs). When it stays full, failures of new addresses are
//   counted in one shared overflow budget of the same size (and in
//   untracked_failures()) rather than evicting a budget still running.
//
//   Addresses are IPv6 (IPv4 as v4-mapped), port excluded. Connections are
//   counted per address; failure budgets per IPv4 address and per IPv6 /64.
//
// Example
//   AddressLimits limits({.max_connections_per_address = 64, ...});
//   const AddressKey key = *AddressKey::From(peer_sockaddr);
//   if (!limits.TryAddConnection(key)) refuse();
//   ...
//   const auto slot = limits.ReserveLogon(key, now_ns);
//   if (slot == AddressLimits::LogonSlot::kRefused) reject("budget spent");
//   if (!bad_token) limits.ReleaseLogon(key, slot);  // else stays counted
//   ...
//   limits.ReleaseConnection(key);  // the session ended
//
// Threading: every method is thread-safe (one mutex, held for a hash-table
// operation; only accepts and logons call it, never the data path).
#ifndef TACHYON_SESSION_ADDRESS_LIMITS_H_
#define TACHYON_SESSION_ADDRESS_LIMITS_H_

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"

namespace tachyon::session {

/// A peer address without its port: 16 bytes, IPv4 as ::ffff:a.b.c.d.
struct AddressKey {
  std::array<std::uint8_t, 16> bytes{};

  /// The address of an AF_INET or AF_INET6 socket address; nullopt for
  /// any other family.
  static std::optional<AddressKey> From(const sockaddr_storage& addr);
  /// "127.0.0.2" or "2001:db8::1".
  [[nodiscard]] std::string ToString() const;

  bool operator==(const AddressKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const AddressKey& k) {
    return H::combine(std::move(h), k.bytes);
  }
};

class AddressLimits {
 public:
  struct Options {
    /// Concurrent connections per address; 0: no limit.
    int max_connections_per_address = 0;
    /// Failed logons per address per window; 0: no budget.
    std::uint32_t logon_failures_per_address = 0;
    std::int64_t logon_failure_window_ns = 60'000'000'000;
    /// Bound on addresses remembered only for their failures.
    std::size_t max_tracked_addresses = 65536;
  };
  static constexpr std::int64_t kSweepIntervalNs = 1'000'000'000;

  explicit AddressLimits(const Options& options) : options_(options) {}
  AddressLimits(const AddressLimits&) = delete;
  AddressLimits& operator=(const AddressLimits&) = delete;

  /// Counts a connection from `key`; false (nothing counted) when the
  /// address already holds max_connections_per_address.
  bool TryAddConnection(const AddressKey& key);
  /// Undoes one successful TryAddConnection.
  void ReleaseConnection(const AddressKey& key);
  /// False while `key`'s logon failure budget is spent (its window, which
  /// began with its first counted failure, has not passed at `now_ns`).
  bool LogonAllowed(const AddressKey& key, std::int64_t now_ns);
  /// Counts a failed logon (a LOGON_REJECT NOT_AUTHORIZED) against `key`.
  void RecordLogonFailure(const AddressKey& key, std::int64_t now_ns);

  /// Where a reserved logon attempt was counted.
  enum class LogonSlot { kUnlimited, kRefused, kAddress, kShared };
  /// Checks and spends one failure of `key`'s budget in one step (a LOGON
  /// counts as failed until ReleaseLogon gives it back), so concurrent
  /// LOGONs cannot all pass one check. kRefused: the budget is spent,
  /// nothing counted. Failure budgets are kept per IPv4 address and per
  /// IPv6 /64; while the table is full of live budgets, new addresses share
  /// one overflow budget of the same size (kShared).
  LogonSlot ReserveLogon(const AddressKey& key, std::int64_t now_ns);
  /// Gives back a slot ReserveLogon took (the LOGON succeeded or was
  /// refused for something other than its credentials).
  void ReleaseLogon(const AddressKey& key, LogonSlot slot);

  /// Addresses in the table now.
  [[nodiscard]] std::size_t tracked() const;
  /// Failures counted in the shared overflow budget (the table was full).
  [[nodiscard]] std::uint64_t untracked_failures() const;
  [[nodiscard]] const Options& options() const { return options_; }

 private:
  struct Entry {
    int connections = 0;
    std::uint32_t failures = 0;
    std::int64_t window_start_ns = 0;
  };
  bool WindowOver(const Entry& e, std::int64_t now_ns) const {
    return e.failures == 0 ||
           now_ns - e.window_start_ns >= options_.logon_failure_window_ns;
  }
  // The key a failure budget is kept under: the address for IPv4, its /64
  // for IPv6.
  static AddressKey FailureKey(const AddressKey& key);
  // The failure entry of `key` (created when `create`; the shared overflow
  // entry, *shared set, when the table is full); nullptr if absent.
  Entry* FailureEntryLocked(const AddressKey& key, std::int64_t now_ns,
                            bool create, bool* shared)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the entries with no connection whose window has passed.
  void SweepLocked(std::int64_t now_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  // std::mutex rather than absl::Mutex: Debian's Abseil is not built with
  // TSan instrumentation (as base/counters.h explains).
  mutable std::mutex mu_;
  absl::flat_hash_map<AddressKey, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::int64_t last_sweep_ns_ ABSL_GUARDED_BY(mu_) = 0;
  std::uint64_t untracked_failures_ ABSL_GUARDED_BY(mu_) = 0;
  // The one budget shared by addresses that found the table full.
  Entry overflow_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tachyon::session

#endif  // TACHYON_SESSION_ADDRESS_LIMITS_H_
