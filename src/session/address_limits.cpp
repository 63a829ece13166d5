#include "session/address_limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace tachyon::session {

std::optional<AddressKey> AddressKey::From(const sockaddr_storage& addr) {
  AddressKey k;
  if (addr.ss_family == AF_INET) {
    const auto& a4 = reinterpret_cast<const sockaddr_in&>(addr);
    k.bytes[10] = 0xff;
    k.bytes[11] = 0xff;
    std::memcpy(&k.bytes[12], &a4.sin_addr, 4);
    return k;
  }
  if (addr.ss_family == AF_INET6) {
    const auto& a6 = reinterpret_cast<const sockaddr_in6&>(addr);
    std::memcpy(k.bytes.data(), &a6.sin6_addr, 16);
    return k;
  }
  return std::nullopt;
}

std::string AddressKey::ToString() const {
  static constexpr std::uint8_t kV4Mapped[12] = {0, 0, 0, 0, 0,    0,
                                                 0, 0, 0, 0, 0xff, 0xff};
  char text[INET6_ADDRSTRLEN] = {};
  if (std::memcmp(bytes.data(), kV4Mapped, 12) == 0) {
    ::inet_ntop(AF_INET, &bytes[12], text, sizeof text);
  } else {
    ::inet_ntop(AF_INET6, bytes.data(), text, sizeof text);
  }
  return text;
}

bool AddressLimits::TryAddConnection(const AddressKey& key) {
  if (options_.max_connections_per_address <= 0) return true;
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = entries_[key];
  if (e.connections >= options_.max_connections_per_address) {
    return false;
  }
  ++e.connections;
  return true;
}

void AddressLimits::ReleaseConnection(const AddressKey& key) {
  if (options_.max_connections_per_address <= 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  if (e.connections > 0) --e.connections;
  // An entry is kept only while it holds a connection or a failure budget
  // (its age is judged by the next sweep).
  if (e.connections == 0 && e.failures == 0) entries_.erase(it);
}

AddressKey AddressLimits::FailureKey(const AddressKey& key) {
  static constexpr std::uint8_t kV4Mapped[12] = {0, 0, 0, 0, 0,    0,
                                                 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(key.bytes.data(), kV4Mapped, 12) == 0) return key;
  // IPv6: one budget per /64 (a host usually holds a whole /64).
  AddressKey k = key;
  std::memset(&k.bytes[8], 0, 8);
  return k;
}

AddressLimits::Entry* AddressLimits::FailureEntryLocked(const AddressKey& key,
                                                        std::int64_t now_ns,
                                                        bool create,
                                                        bool* shared) {
  *shared = false;
  auto it = entries_.find(FailureKey(key));
  if (it != entries_.end()) return &it->second;
  if (!create) return nullptr;
  if (entries_.size() >= options_.max_tracked_addresses &&
      now_ns - last_sweep_ns_ >= kSweepIntervalNs) {
    last_sweep_ns_ = now_ns;
    SweepLocked(now_ns);
  }
  if (entries_.size() >= options_.max_tracked_addresses) {
    // The table is full of live budgets: newcomers share one budget.
    *shared = true;
    return &overflow_;
  }
  return &entries_.emplace(FailureKey(key), Entry{}).first->second;
}

bool AddressLimits::LogonAllowed(const AddressKey& key, std::int64_t now_ns) {
  if (options_.logon_failures_per_address == 0) return true;
  std::lock_guard<std::mutex> lock(mu_);
  bool shared = false;
  Entry* e = FailureEntryLocked(key, now_ns, /*create=*/false, &shared);
  if (e == nullptr && entries_.size() >= options_.max_tracked_addresses) {
    e = &overflow_;
  }
  if (e == nullptr || WindowOver(*e, now_ns)) return true;
  return e->failures < options_.logon_failures_per_address;
}

AddressLimits::LogonSlot AddressLimits::ReserveLogon(const AddressKey& key,
                                                     std::int64_t now_ns) {
  if (options_.logon_failures_per_address == 0) return LogonSlot::kUnlimited;
  std::lock_guard<std::mutex> lock(mu_);
  bool shared = false;
  Entry* e = FailureEntryLocked(key, now_ns, /*create=*/true, &shared);
  if (WindowOver(*e, now_ns)) {
    e->failures = 0;
    e->window_start_ns = now_ns;
  }
  if (e->failures >= options_.logon_failures_per_address) {
    return LogonSlot::kRefused;
  }
  ++e->failures;
  if (shared) ++untracked_failures_;
  return shared ? LogonSlot::kShared : LogonSlot::kAddress;
}

void AddressLimits::ReleaseLogon(const AddressKey& key, LogonSlot slot) {
  if (slot != LogonSlot::kAddress && slot != LogonSlot::kShared) return;
  std::lock_guard<std::mutex> lock(mu_);
  Entry* e = &overflow_;
  if (slot == LogonSlot::kShared) {
    if (untracked_failures_ > 0) --untracked_failures_;
  } else {
    auto it = entries_.find(FailureKey(key));
    if (it == entries_.end()) return;  // swept meanwhile
    e = &it->second;
  }
  if (e->failures > 0) --e->failures;
}

void AddressLimits::RecordLogonFailure(const AddressKey& key,
                                       std::int64_t now_ns) {
  if (options_.logon_failures_per_address == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  bool shared = false;
  Entry* e = FailureEntryLocked(key, now_ns, /*create=*/true, &shared);
  if (shared) ++untracked_failures_;
  if (WindowOver(*e, now_ns)) {
    e->failures = 0;
    e->window_start_ns = now_ns;
  }
  ++e->failures;
}

void AddressLimits::SweepLocked(std::int64_t now_ns) {
  absl::erase_if(entries_, [&](const auto& kv) {
    return kv.second.connections == 0 && WindowOver(kv.second, now_ns);
  });
}

std::size_t AddressLimits::tracked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

std::uint64_t AddressLimits::untracked_failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return untracked_failures_;
}

}  // namespace tachyon::session
