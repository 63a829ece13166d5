// Neighbours: the Ethernet address of the next hop for an IPv4 destination,
// as a kernel-bypass path needs to build a frame.
//
// Overview
//   Static entries from config (fastpath.neighbours, "ip=mac") win. For
//   AF_XDP the kernel still owns the interface, so its neighbour table
//   (read over rtnetlink, RTM_GETNEIGH, for the interface) answers the rest:
//   Refresh() re-reads it, at most every `refresh_ns`, when a lookup
//   misses. A destination off the interface's subnet goes to the gateway
//   (next hop) of the kernel's route. DPDK owns its port and learns from ARP
//   replies and requests it sees (Learn) instead.
//
// Threading: one owner thread (the queue's worker); Refresh does a blocking
// netlink round trip of well under a millisecond and is rate-limited.
#ifndef TACHYON_FASTPATH_NEIGHBOURS_H_
#define TACHYON_FASTPATH_NEIGHBOURS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "fastpath/packet.h"

namespace tachyon::fastpath {

/// One parsed fastpath.neighbours entry.
struct StaticNeighbour {
  std::uint32_t address_be = 0;
  MacAddress mac;
};

/// "10.0.0.2=02:00:00:00:00:02"; InvalidArgument naming the fault otherwise.
absl::StatusOr<StaticNeighbour> ParseStaticNeighbour(std::string_view text);

/// What a kernel-bypass path needs to know about the interface it binds.
struct InterfaceInfo {
  std::string name;
  int ifindex = 0;
  MacAddress mac;
  std::uint32_t address_be = 0;  ///< first IPv4 address; 0: none
  int prefix_len = 0;            ///< of `address_be`
  int mtu = 0;
  int rx_queues = 1;  ///< RX queues (combined/rx channels); at least 1
  std::uint32_t gateway_be = 0;  ///< default route's gateway via it; 0: none
};

/// Reads `name`'s index, MAC, first IPv4 address and prefix, MTU, number of
/// RX queues (/sys/class/net/<if>/queues, else ETHTOOL_GCHANNELS) and the
/// gateway of a default route through it (rtnetlink RTM_GETROUTE), in the
/// calling thread's network namespace. NotFound "interface 'eth9' not found:
/// ..." if there is no such interface; other errors name it too. Control
/// path (a few syscalls and netlink round trips; allocates).
///
/// Example
///   auto info = fastpath::ReadInterface("eth0");
///   if (!info.ok()) return info.status();
///   Neighbours n(info->ifindex, info->address_be, info->prefix_len,
///                info->gateway_be, statics);
absl::StatusOr<InterfaceInfo> ReadInterface(std::string_view name);

class Neighbours {
 public:
  /// `ifindex` 0: no kernel table (DPDK). `local_be`/`prefix_len`: the
  /// interface's own IPv4 subnet, to tell on-link destinations from those
  /// behind a gateway (`gateway_be`, 0: none).
  Neighbours(int ifindex, std::uint32_t local_be, int prefix_len,
             std::uint32_t gateway_be, std::vector<StaticNeighbour> statics,
             std::int64_t refresh_ns = 100'000'000);

  /// The MAC for the next hop of `destination_be`, or nullopt if unknown
  /// yet (a kernel-table miss triggers a rate-limited Refresh).
  std::optional<MacAddress> Lookup(std::uint32_t destination_be,
                                   std::int64_t now_ns);
  /// Records `mac` for `address_be` (DPDK: from ARP).
  void Learn(std::uint32_t address_be, const MacAddress& mac);
  /// The address whose MAC Lookup(destination) needs (the destination
  /// itself on-link, else the gateway).
  [[nodiscard]] std::uint32_t NextHop(std::uint32_t destination_be) const;
  /// Re-reads the kernel's table for the interface now.
  absl::Status Refresh();

 private:
  const int ifindex_;
  const std::uint32_t local_be_;
  const std::uint32_t mask_be_;
  const std::uint32_t gateway_be_;
  const std::int64_t refresh_ns_;
  std::int64_t next_refresh_ns_ = 0;
  absl::flat_hash_map<std::uint32_t, MacAddress> static_;
  absl::flat_hash_map<std::uint32_t, MacAddress> learned_;
};

}  // namespace tachyon::fastpath

#endif  // TACHYON_FASTPATH_NEIGHBOURS_H_
