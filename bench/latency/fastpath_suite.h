// The kernel-bypass comparison (--fastpath=socket,af_xdp,dpdk): W5 and W6
// with the gateway in one network namespace and the producers and
// receivers in the other, joined by a veth pair this tool creates and
// removes, once per datagram path in one run. Needs root.
//
// Reported per path: W5 ingress at the offered rate (350 k/s by default)
// and at the maximum, W6 egress, each with the gateway's CPU seconds per
// million datagrams, and as a ratio to the socket path of the same run. On
// veth these are functional figures: copy mode only, one queue, and the
// sender is the bottleneck; where a real NIC is present the same code
// measures it.
#ifndef TACHYON_BENCH_LATENCY_FASTPATH_SUITE_H_
#define TACHYON_BENCH_LATENCY_FASTPATH_SUITE_H_

#include <functional>
#include <string>
#include <vector>

#include "workloads.h"

namespace tachyon::bench {

/// Runs W5 (at o.udp_rate and at the maximum) and W6 over each of `paths`
/// ("socket", "af_xdp", "dpdk"), calling `note` with each result (system
/// "fastpath <path>"), and returns the comparison table (markdown). An
/// empty table and `*error` set when the veth pair cannot be made (not
/// root, `ip` missing).
std::string RunFastPathSuite(const std::vector<std::string>& paths,
                             const WorkloadOptions& o, double udp_duration_s,
                             const std::string& gateway_bin,
                             const std::function<void(const Result&)>& note,
                             std::string* error);

}  // namespace tachyon::bench

#endif  // TACHYON_BENCH_LATENCY_FASTPATH_SUITE_H_
