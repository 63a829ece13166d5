// The kernel-bypass comparison (--fastpath=socket,af_xdp,dpdk): W5 and W6
// with the gateway in one network namespace and the producers and
// receivers in the other, joined by a veth pair this tool creates and
// removes, once per datagram path in one run. Needs root.
//
// Reported per path: W5 ingress at the offered rate (350 k/s by default)
// and at the maximum, W6 egress at the offered rate and with the publisher
// unthrottled (W6-max), each with the gateway's CPU seconds per million
// datagrams, and as a ratio to the socket path of the same run. On veth
// these are functional figures: copy mode only, one queue, and the sender
// is the bottleneck. A NIC needs two of its ports cabled to each other
// (FastPathPorts): the producers must reach the gateway over the wire, and
// a single host can only do that from a second port in another namespace.
#ifndef TACHYON_BENCH_LATENCY_FASTPATH_SUITE_H_
#define TACHYON_BENCH_LATENCY_FASTPATH_SUITE_H_

#include <functional>
#include <string>
#include <vector>

#include "workloads.h"

namespace tachyon::bench {

/// The two ends of the link the suite runs over. Empty: a veth pair the
/// suite makes. Both set: two ports of this host (in this process's
/// namespace) cabled back to back; the suite moves them into its two
/// namespaces (which drops their addresses: dedicated ports only), puts
/// 10.79.0.1/24 and 10.79.0.2/24 on them and moves them back at the end.
/// The gateway takes queue 0 only: the gateway's port must steer the
/// producers' flow there (`ethtool -L <port> combined 1`, or an ntuple
/// rule).
struct FastPathPorts {
  std::string gateway_interface;
  std::string peer_interface;
};

/// Runs W5 (at o.udp_rate and at the maximum) and W6 (at o.rate and
/// unthrottled) over each of `paths`
/// ("socket", "af_xdp", "dpdk"), calling `note` with each result (system
/// "fastpath <path>"), and returns the comparison table (markdown). An
/// empty table and `*error` set when the veth pair cannot be made (not
/// root, `ip` missing).
std::string RunFastPathSuite(const std::vector<std::string>& paths,
                             const WorkloadOptions& o, double udp_duration_s,
                             const std::string& gateway_bin,
                             const FastPathPorts& link,
                             const std::function<void(const Result&)>& note,
                             std::string* error);

}  // namespace tachyon::bench

#endif  // TACHYON_BENCH_LATENCY_FASTPATH_SUITE_H_
