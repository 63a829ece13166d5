// Validation: ranges and cross-field rules over a read GatewayConfig.
//
// Problems are collected rather than returned at the first one, so that a
// user fixes a config in one pass; they are worded against the origins the
// reader recorded (internal::Problems), or against bare keys for a config
// built in code.
#include "config/validate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/keys.h"
#include "config/units.h"
#include "config/validate_parts.h"
#include "tachyon/protocol/stream_messages.h"
#include "tachyon/protocol/wire.h"

namespace tachyon::config {
namespace internal {

void CheckRange(Problems& p, std::string_view key, std::int64_t v, Range r) {
  if (!r.Contains(v)) {
    p.Add(key, Cat("must be between ", r.min, " and ", r.max, ", got ", v));
  }
}

bool IsServiceName(std::string_view name) {
  return !name.empty() && name.size() <= 64 &&
         std::all_of(name.begin(), name.end(), [](char ch) {
           return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
                  ch == '-';
         });
}

namespace {

constexpr std::string_view kLogLevels[] = {"error", "warn", "info", "debug"};

void CheckBytesRange(Problems& p, std::string_view key, std::uint64_t v,
                     Range r) {
  if (v < static_cast<std::uint64_t>(r.min) ||
      v > static_cast<std::uint64_t>(r.max)) {
    p.Add(key, Cat("must be between ", FormatByteSize(r.min), " and ",
                   FormatByteSize(r.max), ", got ", FormatByteSize(v)));
  }
}

void CheckBufferSize(Problems& p, std::string_view key, int v) {
  if (v < 0) {
    p.Add(key, Cat("must not be negative, got ", v));
  } else {
    CheckBytesRange(p, key, static_cast<std::uint64_t>(v), kSocketBufferRange);
  }
}

// True if every name `later` can match is already matched by `earlier`, so
// the later entry can never be chosen.
bool Shadows(std::string_view earlier, std::string_view later) {
  if (!earlier.ends_with('*')) return earlier == later;
  const std::string_view prefix = earlier.substr(0, earlier.size() - 1);
  return later.starts_with(prefix);
}

void ValidateStream(Problems& p, const std::string& prefix,
                    const StreamPolicy& s, std::uint32_t max_frame_length) {
  const std::string capacity = prefix + ".capacity_bytes";
  const std::string window = prefix + ".window_bytes";
  const std::uint64_t frame = max_frame_length;
  if (!std::has_single_bit(s.capacity_bytes) ||
      s.capacity_bytes < static_cast<std::uint64_t>(kCapacityRange.min) ||
      s.capacity_bytes > static_cast<std::uint64_t>(kCapacityRange.max)) {
    p.Add(capacity, Cat("must be a power of two between ",
                        FormatByteSize(kCapacityRange.min), " and ",
                        FormatByteSize(kCapacityRange.max), ", got ",
                        FormatByteSize(s.capacity_bytes)));
  } else if (s.capacity_bytes < 4 * frame) {
    p.Add(capacity, Cat("must be at least 4 * limits.max_frame_length (",
                        FormatByteSize(4 * frame), "), got ",
                        FormatByteSize(s.capacity_bytes)));
  }
  if (s.window_bytes < 2 * frame) {
    p.Add(window, Cat("must be at least 2 * limits.max_frame_length (",
                      FormatByteSize(2 * frame), "), got ",
                      FormatByteSize(s.window_bytes)));
  } else if (s.window_bytes > s.capacity_bytes / 2) {
    p.Add(window, Cat("must be at most capacity_bytes / 2 (",
                      FormatByteSize(s.capacity_bytes / 2), "), got ",
                      FormatByteSize(s.window_bytes)));
  }
  CheckRange(p, prefix + ".lag_grace_ms", s.lag_grace_ms, kLagGraceRange);
  CheckRange(p, prefix + ".stall_timeout_ms", s.stall_timeout_ms,
             kStallTimeoutRange);
  CheckRange(p, prefix + ".idle_retire_ms", s.idle_retire_ms,
             kStreamIdleRetireRange);
}

bool IsMulticast(std::uint32_t address_be) {
  return (ntohl(address_be) >> 28) == 0xE;  // 224.0.0.0/4
}

void ValidateUdp(const GatewayConfig& c, Problems& p) {
  const UdpOptions& u = c.udp;
  {
    in_addr addr;
    if (!u.bind.empty() && inet_pton(AF_INET, u.bind.c_str(), &addr) != 1) {
      p.Add("udp.bind", Cat("must be an IPv4 address literal such as 0.0.0.0 "
                            "(or empty for gateway.bind), got ",
                            Quoted(u.bind)));
    } else if (u.enabled && u.bind.empty() &&
               inet_pton(AF_INET, c.bind.c_str(), &addr) != 1) {
      p.Add("udp.bind",
            Cat("UDP is IPv4 only and gateway.bind is ", Quoted(c.bind),
                "; set udp.bind to an IPv4 address literal"));
    }
  }
  CheckRange(p, "udp.port", u.port, kPortRange);
  CheckRange(p, "udp.recv_batch", u.recv_batch, kBatchRange);
  CheckRange(p, "udp.send_batch", u.send_batch, kBatchRange);
  CheckBufferSize(p, "udp.recv_buffer_bytes", u.recv_buffer_bytes);
  CheckBufferSize(p, "udp.send_buffer_bytes", u.send_buffer_bytes);
  CheckRange(p, "udp.max_datagram_bytes", u.max_datagram_bytes, kDatagramRange);
  CheckRange(p, "udp.heartbeat_interval_ms", u.heartbeat_interval_ms,
             kUdpHeartbeatRange);
  // Every (stream, destination) pair once across all groups.
  std::vector<std::pair<std::string, std::string>> seen;
  auto check_duplicate = [&](const std::string& key, const UdpGroup& g,
                             const std::string& endpoint) {
    const auto it =
        std::find(seen.begin(), seen.end(), std::make_pair(g.stream, endpoint));
    if (it != seen.end()) {
      p.Add(key, Cat(Quoted(endpoint), " is listed twice for stream ",
                     Quoted(g.stream)));
      return;
    }
    seen.emplace_back(g.stream, endpoint);
  };
  for (std::size_t i = 0; i < u.groups.size(); ++i) {
    const UdpGroup& g = u.groups[i];
    const std::string prefix = Cat("udp.groups[", i, "]");
    if (!protocol::IsValidStreamName(g.stream)) {
      p.Add(prefix + ".stream",
            Cat("must be a stream name (1..255 of A-Z a-z 0-9 . _ -), got ",
                Quoted(g.stream)));
    }
    if (g.destinations.empty() && g.multicast.empty()) {
      p.Add(prefix, "needs destinations, a multicast group, or both");
    }
    for (std::size_t j = 0; j < g.destinations.size(); ++j) {
      const std::string key = Cat(prefix, ".destinations[", j, "]");
      std::uint32_t addr = 0;
      std::uint16_t port = 0;
      if (!ParseIpv4Endpoint(g.destinations[j], &addr, &port)) {
        p.Add(key, Cat("must be an IPv4 unicast \"address:port\" with port "
                       "1..65535, such as \"127.0.0.1:7500\", got ",
                       Quoted(g.destinations[j])));
      } else if (IsMulticast(addr)) {
        p.Add(key, Cat(Quoted(g.destinations[j]),
                       " is a multicast address; use multicast = \"...\" "
                       "for a group"));
      } else {
        check_duplicate(key, g, g.destinations[j]);
      }
    }
    if (!g.multicast.empty()) {
      std::uint32_t addr = 0;
      std::uint16_t port = 0;
      if (!ParseIpv4Endpoint(g.multicast, &addr, &port)) {
        p.Add(prefix + ".multicast",
              Cat("must be an IPv4 multicast \"address:port\" such as "
                  "\"239.1.1.1:7500\", got ",
                  Quoted(g.multicast)));
      } else if (!IsMulticast(addr)) {
        p.Add(prefix + ".multicast",
              Cat(Quoted(g.multicast),
                  " is not a multicast address (224.0.0.0 to "
                  "239.255.255.255)"));
      } else {
        check_duplicate(prefix + ".multicast", g, g.multicast);
      }
    }
    CheckRange(p, prefix + ".ttl", g.ttl, kTtlRange);
    in_addr ifaddr;
    if (!g.interface.empty() &&
        inet_pton(AF_INET, g.interface.c_str(), &ifaddr) != 1) {
      p.Add(prefix + ".interface",
            Cat("must be the IPv4 address of a local interface, such as "
                "\"127.0.0.1\", got ",
                Quoted(g.interface)));
    }
    if (g.multicast.empty() &&
        (!g.interface.empty() || g.ttl != 1 || !g.loopback)) {
      p.Add(prefix,
            "ttl, interface and loopback apply only to a multicast "
            "group; set multicast or remove them");
    }
  }
}

// "HH:MM", 00:00..23:59.
bool IsTimeOfDay(std::string_view text) {
  auto digit = [&](std::size_t i) { return text[i] >= '0' && text[i] <= '9'; };
  if (text.size() != 5 || text[2] != ':' || !digit(0) || !digit(1) ||
      !digit(3) || !digit(4)) {
    return false;
  }
  const int hours = (text[0] - '0') * 10 + (text[1] - '0');
  const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
  return hours < 24 && minutes < 60;
}

void ValidateBackend(Problems& p, const std::string& prefix,
                     const BackendService& b) {
  if (!IsServiceName(b.name)) {
    p.Add(prefix + ".name",
          Cat("must be a service name (1..64 of A-Z a-z 0-9 . _ -), got ",
              Quoted(b.name)));
  }
  CheckRange(p, prefix + ".id", b.id, kServiceIdRange);
  if (b.endpoints.empty()) {
    p.Add(prefix + ".endpoints",
          "needs at least one \"host:port\", such as \"127.0.0.1:7501\"");
  }
  for (std::size_t j = 0; j < b.endpoints.size(); ++j) {
    const std::string key = Cat(prefix, ".endpoints[", j, "]");
    if (absl::StatusOr<HostPort> e = ParseHostPort(b.endpoints[j]); !e.ok()) {
      p.Add(key, StdView(e.status().message()));
      continue;
    }
    const auto first =
        std::find(b.endpoints.begin(), b.endpoints.end(), b.endpoints[j]);
    if (first != b.endpoints.begin() + static_cast<std::ptrdiff_t>(j)) {
      p.Add(key, Cat(Quoted(b.endpoints[j]), " is already listed at ", prefix,
                     ".endpoints[", first - b.endpoints.begin(), "]"));
    }
  }
  if (b.token.size() > protocol::kMaxLogonFieldLength) {
    p.Add(prefix + ".token",
          Cat("must be at most ", protocol::kMaxLogonFieldLength,
              " bytes (the LOGON token field), got ", b.token.size()));
  }
  CheckRange(p, prefix + ".request_timeout_ms", b.request_timeout_ms,
             kRequestTimeoutRange);
  CheckRange(p, prefix + ".max_in_flight_per_connection",
             b.max_in_flight_per_connection, kInFlightRange);
  CheckRange(p, prefix + ".queue_limit", b.queue_limit, kQueueLimitRange);
  CheckRange(p, prefix + ".pool_max", b.pool_max, kPoolMaxRange);
  // The pool's other counts are bounded by its max (if that is valid).
  const int pool_max = kPoolMaxRange.Contains(b.pool_max)
                           ? b.pool_max
                           : static_cast<int>(kPoolMaxRange.max);
  auto check_count = [&](std::string_view name, int v) {
    if (v < 0 || v > pool_max) {
      p.Add(Cat(prefix, ".", name),
            Cat("must be between 0 and pool_max (", pool_max, "), got ", v));
    }
  };
  check_count("pool_min", b.pool_min);
  check_count("warm_connections", b.warm_connections);
  if (!kPredictionRatioRange.Contains(b.prediction_ratio)) {
    p.Add(prefix + ".prediction_ratio",
          Cat("must be between ", kPredictionRatioRange.min, " and ",
              kPredictionRatioRange.max, ", got ", b.prediction_ratio));
  }
  if (!kPredictionPerSessionRange.Contains(b.prediction_per_session)) {
    p.Add(prefix + ".prediction_per_session",
          Cat("must be between ", kPredictionPerSessionRange.min, " and ",
              kPredictionPerSessionRange.max, ", got ",
              b.prediction_per_session));
  }
  CheckRange(p, prefix + ".prediction_horizon_ms", b.prediction_horizon_ms,
             kPredictionHorizonRange);
  CheckRange(p, prefix + ".prediction_half_life_ms", b.prediction_half_life_ms,
             kPredictionHalfLifeRange);
  CheckRange(p, prefix + ".idle_retire_ms", b.idle_retire_ms, kIdleRetireRange);
  if (!kIdleRetireJitterRange.Contains(b.idle_retire_jitter_ms)) {
    CheckRange(p, prefix + ".idle_retire_jitter_ms", b.idle_retire_jitter_ms,
               kIdleRetireJitterRange);
  } else if (b.idle_retire_jitter_ms > b.idle_retire_ms) {
    p.Add(prefix + ".idle_retire_jitter_ms",
          Cat("must be at most idle_retire_ms (", b.idle_retire_ms, "), got ",
              b.idle_retire_jitter_ms));
  }
  for (std::size_t j = 0; j < b.warm_at.size(); ++j) {
    const std::string key = Cat(prefix, ".warm_at[", j, "]");
    if (!IsTimeOfDay(b.warm_at[j])) {
      p.Add(key, Cat("must be a UTC time of day \"HH:MM\", 00:00..23:59, got ",
                     Quoted(b.warm_at[j])));
      continue;
    }
    const auto first =
        std::find(b.warm_at.begin(), b.warm_at.end(), b.warm_at[j]);
    if (first != b.warm_at.begin() + static_cast<std::ptrdiff_t>(j)) {
      p.Add(key, Cat(Quoted(b.warm_at[j]), " is already listed at ", prefix,
                     ".warm_at[", first - b.warm_at.begin(), "]"));
    }
  }
  CheckRange(p, prefix + ".warm_lead_ms", b.warm_lead_ms, kWarmWindowRange);
  CheckRange(p, prefix + ".warm_hold_ms", b.warm_hold_ms, kWarmWindowRange);
  CheckRange(p, prefix + ".connect_timeout_ms", b.connect_timeout_ms,
             kConnectTimeoutRange);
  CheckRange(p, prefix + ".reconnect_backoff_ms", b.reconnect_backoff_ms,
             kReconnectBackoffRange);
  CheckRange(p, prefix + ".reconnect_backoff_max_ms",
             b.reconnect_backoff_max_ms, kReconnectBackoffRange);
  if (b.reconnect_backoff_ms > b.reconnect_backoff_max_ms &&
      kReconnectBackoffRange.Contains(b.reconnect_backoff_ms) &&
      kReconnectBackoffRange.Contains(b.reconnect_backoff_max_ms)) {
    p.Add(prefix + ".reconnect_backoff_ms",
          Cat("must be at most reconnect_backoff_max_ms (",
              b.reconnect_backoff_max_ms, "), got ", b.reconnect_backoff_ms));
  }
  CheckRange(p, prefix + ".heartbeat_interval_ms", b.heartbeat_interval_ms,
             kHeartbeatRange);
  CheckRange(p, prefix + ".eject_after_failures", b.eject_after_failures,
             kEjectAfterFailuresRange);
  CheckRange(p, prefix + ".eject_ms", b.eject_ms, kEjectRange);
}

void ValidateBackends(const GatewayConfig& c, Problems& p) {
  for (std::size_t i = 0; i < c.backends.size(); ++i) {
    const BackendService& b = c.backends[i];
    const std::string prefix = Cat(kBackends.key, "[", i, "]");
    ValidateBackend(p, prefix, b);
    // A repeated name or id is blamed on the later entry.
    for (std::size_t j = 0; j < i; ++j) {
      if (IsServiceName(b.name) && c.backends[j].name == b.name) {
        p.Add(prefix + ".name",
              Cat(Quoted(b.name), " is already the name of ", kBackends.key,
                  "[", j, "]; service names must be unique"));
        break;
      }
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (b.id != 0 && c.backends[j].id == b.id) {
        p.Add(prefix + ".id",
              Cat(b.id, " is already the id of ", kBackends.key, "[", j, "] (",
                  Quoted(c.backends[j].name), "); service ids must be unique"));
        break;
      }
    }
  }
}

// 127.0.0.0/8 or ::1 (also as ::ffff:127.x.y.z).
bool IsLoopbackLiteral(const std::string& address) {
  in_addr v4;
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, address.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

void ValidateAdmin(const AdminOptions& a, Problems& p) {
  in6_addr addr;
  const bool literal = inet_pton(AF_INET, a.bind.c_str(), &addr) == 1 ||
                       inet_pton(AF_INET6, a.bind.c_str(), &addr) == 1;
  if (!literal) {
    p.Add("admin.bind", Cat("must be an IPv4 or IPv6 address literal such as "
                            "127.0.0.1 or ::1, got ",
                            Quoted(a.bind)));
  } else if (a.enabled && a.token.empty() && !IsLoopbackLiteral(a.bind)) {
    // Metrics, the session list and DELETE/reload would be open to anyone
    // who can reach the address.
    p.Add("admin.bind",
          Cat(Quoted(a.bind),
              " is not a loopback address, and admin.token is not set: set "
              "admin.token (requests then need 'Authorization: Bearer "
              "<token>'), or bind 127.0.0.1"));
  }
  CheckRange(p, "admin.port", a.port, kPortRange);
  CheckRange(p, "admin.max_connections", a.max_connections,
             kAdminConnectionsRange);
  CheckRange(p, "admin.request_timeout_ms", a.request_timeout_ms,
             kAdminRequestTimeoutRange);
  if (a.token.size() > 255) {
    p.Add("admin.token",
          Cat("must be at most 255 bytes, got ", a.token.size()));
  }
  for (char ch : a.token) {
    // The token travels in an HTTP header: visible ASCII only.
    if (ch <= ' ' || ch > '~') {
      p.Add("admin.token",
            "must be printable ASCII without spaces (it is sent in an "
            "Authorization header)");
      break;
    }
  }
}

// "aa:bb:cc:dd:ee:ff" (hex digits of either case).
bool IsMacAddress(std::string_view text) {
  if (text.size() != 17) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (i % 3 == 2) {
      if (ch != ':') return false;
    } else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                 (ch >= 'A' && ch <= 'F'))) {
      return false;
    }
  }
  return true;
}

bool IsIpv4Literal(const std::string& text) {
  in_addr addr;
  return inet_pton(AF_INET, text.c_str(), &addr) == 1;
}

void CheckPowerOfTwo(Problems& p, std::string_view key, std::uint32_t v,
                     Range r) {
  if (!r.Contains(v) || !std::has_single_bit(v)) {
    p.Add(key, Cat("must be a power of two between ", r.min, " and ", r.max,
                   ", got ", v));
  }
}

void ValidateFastPath(const GatewayConfig& c, Problems& p) {
  const FastPathOptions& f = c.fastpath;
  const bool bypass = f.mode != FastPathMode::kSocket;
  if (bypass && !c.udp.enabled) {
    p.Add("fastpath.mode",
          "a kernel-bypass path carries UDP datagrams; set udp.enabled = true "
          "(or mode = \"socket\")");
  }
  if (!kFastPathQueuesRange.Contains(f.queues)) {
    CheckRange(p, "fastpath.queues", f.queues, kFastPathQueuesRange);
  } else if (f.queues > c.workers && kWorkersRange.Contains(c.workers)) {
    p.Add("fastpath.queues",
          Cat("must be at most gateway.workers (", c.workers,
              "): each queue is served by its own worker, got ", f.queues));
  }
  CheckRange(p, "fastpath.start_queue", f.start_queue, kStartQueueRange);
  CheckPowerOfTwo(p, "fastpath.frames", f.frames, kFramesRange);
  if (f.frame_size != 2048 && f.frame_size != 4096) {
    p.Add("fastpath.frame_size",
          Cat("must be 2048 or 4096, got ", f.frame_size));
  } else if (bypass) {
    // Ethernet (14) + IPv4 (20) + UDP (8) around the largest datagram; on
    // AF_XDP also two VLAN tags (8) and the kernel's XDP_PACKET_HEADROOM
    // (256), which a received frame keeps in front of the packet.
    const bool af_xdp = f.mode == FastPathMode::kAfXdp;
    const std::uint32_t around = af_xdp ? 42 + 8 + 256 : 42;
    if (c.udp.max_datagram_bytes + around > f.frame_size) {
      p.Add("fastpath.frame_size",
            Cat("holds datagrams of at most ", f.frame_size - around,
                af_xdp ? " bytes with their Ethernet, VLAN, IPv4 and UDP "
                         "headers and the XDP headroom (256), but "
                       : " bytes with their Ethernet, IPv4 and UDP headers, "
                         "but ",
                "udp.max_datagram_bytes is ", c.udp.max_datagram_bytes,
                "; lower it or use frame_size = 4096"));
    }
  }
  CheckPowerOfTwo(p, "fastpath.rx_ring", f.rx_ring, kRingRange);
  CheckPowerOfTwo(p, "fastpath.tx_ring", f.tx_ring, kRingRange);
  CheckPowerOfTwo(p, "fastpath.fill_ring", f.fill_ring, kRingRange);
  CheckPowerOfTwo(p, "fastpath.completion_ring", f.completion_ring, kRingRange);
  if (f.fill_ring > f.frames && kRingRange.Contains(f.fill_ring) &&
      kFramesRange.Contains(f.frames)) {
    p.Add("fastpath.fill_ring",
          Cat("must be at most fastpath.frames (", f.frames,
              "): the fill ring hands the kernel free frames, got ",
              f.fill_ring));
  }
  if (f.mode == FastPathMode::kDpdk && kFramesRange.Contains(f.frames) &&
      kRingRange.Contains(f.rx_ring) && kRingRange.Contains(f.tx_ring) &&
      f.frames < f.rx_ring + f.tx_ring + kDpdkPoolBurstSlack) {
    // One mbuf pool per queue feeds its RX descriptors, the TX descriptors
    // in flight and the bursts in hand; short of that RX starves.
    p.Add("fastpath.frames",
          Cat("must be at least fastpath.rx_ring + fastpath.tx_ring + ",
              kDpdkPoolBurstSlack, " (",
              f.rx_ring + f.tx_ring + kDpdkPoolBurstSlack,
              ") with mode = \"dpdk\": each queue's "
              "mbufs fill its RX descriptors, its TX descriptors in flight "
              "and the bursts in hand; got ",
              f.frames,
              " (raise it to a power of two, e.g. 8192, or lower the rings)"));
  }
  CheckRange(p, "fastpath.prefix_len", f.prefix_len, kPrefixLenRange);
  if (f.mode == FastPathMode::kAfXdp && f.interface.empty()) {
    p.Add("fastpath.interface",
          "required with mode = \"af_xdp\": the interface whose queues the "
          "gateway takes (ip -br link lists them)");
  }
  if (f.interface.size() >= 16) {  // IFNAMSIZ, with its terminating NUL
    p.Add("fastpath.interface",
          Cat("must be an interface name of at most 15 characters, got ",
              Quoted(f.interface)));
  }
  if (!f.address.empty() && !IsIpv4Literal(f.address)) {
    p.Add("fastpath.address",
          Cat("must be an IPv4 address literal such as \"10.0.0.1\", got ",
              Quoted(f.address)));
  } else if (f.mode == FastPathMode::kDpdk && f.address.empty()) {
    p.Add("fastpath.address",
          "required with mode = \"dpdk\": the IPv4 address the gateway "
          "owns on its DPDK port (it answers ARP for it)");
  }
  if (!f.gateway.empty() && !IsIpv4Literal(f.gateway)) {
    p.Add("fastpath.gateway",
          Cat("must be an IPv4 address literal (the next hop), or empty, got ",
              Quoted(f.gateway)));
  }
  if (f.mode == FastPathMode::kDpdk && c.udp.port == 0) {
    // No kernel socket binds the port in DPDK mode, so nothing could pick
    // an ephemeral one, and peers must know where to send.
    p.Add("udp.port",
          "must be set (1..65535) with fastpath.mode = \"dpdk\": the port is "
          "served on the DPDK port, where nothing picks an ephemeral one");
  }
  if (f.mode == FastPathMode::kDpdk && f.eal_args.empty() &&
      f.interface.empty()) {
    p.Add(
        "fastpath.eal_args",
        "name a device (e.g. [\"--vdev\", \"net_af_xdp0,iface=eth1\"] or a PCI "
        "address with -a) or set fastpath.interface for a net_af_packet "
        "vdev on it");
  }
  for (std::size_t i = 0; i < f.neighbours.size(); ++i) {
    const std::string key = Cat("fastpath.neighbours[", i, "]");
    const std::string& entry = f.neighbours[i];
    const std::size_t eq = entry.find('=');
    if (eq == std::string::npos || !IsIpv4Literal(entry.substr(0, eq)) ||
        !IsMacAddress(std::string_view(entry).substr(eq + 1))) {
      p.Add(key, Cat("must be \"ip=mac\" such as "
                     "\"10.0.0.2=02:00:00:00:00:02\", got ",
                     Quoted(entry)));
      continue;
    }
    for (std::size_t j = 0; j < i; ++j) {
      const std::string& other = f.neighbours[j];
      if (other.substr(0, other.find('=')) == entry.substr(0, eq)) {
        p.Add(key, Cat(Quoted(entry.substr(0, eq)),
                       " is already listed at fastpath.neighbours[", j, "]"));
        break;
      }
    }
  }
}

}  // namespace

void ValidateInto(const GatewayConfig& c, Problems& p) {
  // [gateway]
  {
    in6_addr addr;
    if (inet_pton(AF_INET, c.bind.c_str(), &addr) != 1 &&
        inet_pton(AF_INET6, c.bind.c_str(), &addr) != 1) {
      p.Add("gateway.bind",
            Cat("must be an IPv4 or IPv6 address literal such as "
                "0.0.0.0 or ::1, got ",
                Quoted(c.bind)));
    }
  }
  CheckRange(p, "gateway.port", c.port, kPortRange);
  CheckRange(p, "gateway.workers", c.workers, kWorkersRange);
  CheckRange(p, "gateway.spin_budget_us", c.spin_budget_us, kSpinBudgetRange);
  CheckRange(p, "gateway.summary_interval_ms", c.summary_interval_ms,
             kSummaryIntervalRange);
  const int cpu_count = MachineCpuCount();
  for (std::size_t i = 0; i < c.cpus.size(); ++i) {
    const std::string key = Cat("gateway.cpus[", i, "]");
    if (c.cpus[i] < 0 || c.cpus[i] >= cpu_count) {
      p.Add(key,
            Cat("must be between 0 and ", cpu_count - 1, " (this machine has ",
                cpu_count, " CPUs), got ", c.cpus[i]));
      continue;
    }
    const auto first = std::find(c.cpus.begin(), c.cpus.end(), c.cpus[i]);
    if (first != c.cpus.begin() + static_cast<std::ptrdiff_t>(i)) {
      p.Add(key,
            Cat("CPU ", c.cpus[i], " is already listed at gateway.cpus[",
                first - c.cpus.begin(), "]; two workers must not share a CPU"));
    }
  }
  if (!c.cpus.empty() && c.cpus.size() < static_cast<std::size_t>(c.workers)) {
    p.Add("gateway.cpus",
          Cat("lists ", c.cpus.size(), " CPUs for ", c.workers,
              " workers; list at least one per worker (or none)"));
  }
  if (c.uring_entries < kUringEntriesRange.min ||
      c.uring_entries > kUringEntriesRange.max ||
      !std::has_single_bit(static_cast<unsigned>(c.uring_entries))) {
    p.Add("gateway.uring_entries",
          Cat("must be a power of two between ", kUringEntriesRange.min,
              " and ", kUringEntriesRange.max, ", got ", c.uring_entries));
  }
  if (std::find(std::begin(kLogLevels), std::end(kLogLevels), c.log_level) ==
      std::end(kLogLevels)) {
    p.Add("gateway.log_level", Cat("must be one of ", Join(kLogLevels, ", "),
                                   ", got ", Quoted(c.log_level)));
  }
  // [limits]
  CheckBytesRange(p, "limits.max_frame_length", c.max_frame_length,
                  kMaxFrameLengthRange);
  CheckRange(p, "limits.max_connections", c.max_connections,
             kMaxConnectionsRange);
  CheckRange(p, "limits.max_subscriptions_per_session",
             c.max_subscriptions_per_session, kMaxSubscriptionsRange);
  CheckRange(p, "limits.max_streams", c.max_streams, kMaxStreamsRange);
  CheckBytesRange(p, "limits.max_outbound_queue_bytes",
                  c.max_outbound_queue_bytes, kOutboundQueueRange);
  CheckBytesRange(p, "limits.max_log_memory_bytes", c.max_log_memory_bytes,
                  kLogMemoryRange);
  CheckRange(p, "limits.max_connections_per_address",
             c.max_connections_per_address, kConnectionsPerAddressRange);
  CheckRange(p, "limits.logon_failures_per_address",
             c.logon_failures_per_address, kLogonFailuresRange);
  CheckRange(p, "limits.logon_failure_window_ms", c.logon_failure_window_ms,
             kLogonFailureWindowRange);
  CheckRange(p, "limits.max_tracked_addresses", c.max_tracked_addresses,
             kTrackedAddressesRange);
  CheckBytesRange(p, "limits.min_frame_progress", c.min_frame_progress,
                  kFrameProgressRange);
  CheckRange(p, "limits.frame_progress_grace_ms", c.frame_progress_grace_ms,
             kFrameProgressGraceRange);
  {
    // A stream whose log alone exceeds the budget could never be created.
    std::size_t largest = c.default_stream.capacity_bytes;
    for (const StreamPolicy& s : c.stream_policies) {
      largest = std::max(largest, s.capacity_bytes);
    }
    if (c.max_log_memory_bytes < largest) {
      p.Add("limits.max_log_memory_bytes",
            Cat("must be at least the largest stream capacity_bytes (",
                FormatByteSize(largest), "), got ",
                FormatByteSize(c.max_log_memory_bytes)));
    }
  }
  // [session]
  CheckRange(p, "session.min_heartbeat_interval_ms",
             c.min_heartbeat_interval_ms, kHeartbeatRange);
  CheckRange(p, "session.max_heartbeat_interval_ms",
             c.max_heartbeat_interval_ms, kHeartbeatRange);
  if (c.min_heartbeat_interval_ms > c.max_heartbeat_interval_ms) {
    p.Add("session.max_heartbeat_interval_ms",
          Cat("must be at least session.min_heartbeat_interval_ms (",
              c.min_heartbeat_interval_ms, "), got ",
              c.max_heartbeat_interval_ms));
  } else {
    CheckRange(p, "session.heartbeat_interval_ms", c.heartbeat_interval_ms,
               {c.min_heartbeat_interval_ms, c.max_heartbeat_interval_ms});
  }
  CheckRange(p, "session.idle_timeout_heartbeats", c.idle_timeout_heartbeats,
             kIdleTimeoutHeartbeatsRange);
  CheckRange(p, "session.logon_timeout_ms", c.logon_timeout_ms,
             kLogonTimeoutRange);
  if (c.token.size() > protocol::kMaxLogonFieldLength) {
    p.Add("session.token",
          Cat("must be at most ", protocol::kMaxLogonFieldLength,
              " bytes (the LOGON token field), got ", c.token.size()));
  }
  CheckRange(p, "session.shutdown_drain_ms", c.shutdown_drain_ms,
             kShutdownDrainRange);
  // [socket]
  CheckRange(p, "socket.priority", c.socket.priority, kPriorityRange);
  CheckRange(p, "socket.busy_poll_us", c.socket.busy_poll_us, kBusyPollRange);
  CheckBufferSize(p, "socket.send_buffer_bytes", c.socket.send_buffer_bytes);
  CheckBufferSize(p, "socket.recv_buffer_bytes", c.socket.recv_buffer_bytes);
  // [streams]
  ValidateStream(p, "streams", c.default_stream, c.max_frame_length);
  for (std::size_t i = 0; i < c.stream_policies.size(); ++i) {
    const StreamPolicy& s = c.stream_policies[i];
    const std::string prefix = Cat("streams.policies[", i, "]");
    if (!protocol::IsValidStreamName(s.match) &&
        !protocol::IsValidPattern(s.match)) {
      p.Add(prefix + ".match",
            Cat("must be a stream name (1..255 of A-Z a-z 0-9 . _ -) "
                "or a prefix pattern ending in '*', got ",
                Quoted(s.match)));
    } else {
      for (std::size_t j = 0; j < i; ++j) {
        if (Shadows(c.stream_policies[j].match, s.match)) {
          p.Add(prefix + ".match",
                Cat(Quoted(s.match), " can never apply: ", "streams.policies[",
                    j, "] (", Quoted(c.stream_policies[j].match),
                    ") comes first and matches every such stream"));
          break;
        }
      }
    }
    ValidateStream(p, prefix, s, c.max_frame_length);
  }
  // [udp]
  ValidateUdp(c, p);
  // [[backends]]
  ValidateBackends(c, p);
  // [[udp_producers]]
  ValidateUdpProducers(c, p);
  // [admin]
  ValidateAdmin(c.admin, p);
  // [fastpath]
  ValidateFastPath(c, p);
  // [auth] and [[principals]]
  ValidateAuth(c, p);
  // [tls]
  ValidateTls(c, p);
}

}  // namespace internal

absl::Status Validate(const GatewayConfig& config) {
  internal::Problems problems("", nullptr);
  internal::ValidateInto(config, problems);
  return problems.ToStatus();
}

}  // namespace tachyon::config
