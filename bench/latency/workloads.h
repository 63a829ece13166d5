// The workloads tachyon-bench runs, each returning a Result measured with the
// same harness and histogram:
//
//   floor-tcp  plain TCP ping-pong between two processes (TCP_NODELAY);
//              floor-tcp-2cpu: the same pinned to two CPUs, so every
//              message wakes a process on another CPU (idle suite)
//   floor-udp  plain UDP ping-pong between two processes
//   floor-tcp-relay  W1's and W4's path without a gateway: a client, a
//              relay process forwarding over a second connection, an echo
//              process; four socket hops, three processes (with W1 or W4)
//   floor-fanout  W2's path without a gateway: the publisher (this process,
//              on W2's schedule and stamps) to a relay process that writes
//              each read to K subscriber processes over TCP, one write per
//              subscriber per read; latency from the scheduled send time,
//              delivery counted exactly as W2's; the relay's CPU is
//              reported where W2's gateway's is (with W2 only)
//   W1         ping-pong through the gateway: A publishes on `ping`, B
//              (another process) republishes on `pong`, A records the RTT
//   W2         fan-out: one publisher at a fixed offered rate to K subscriber
//              processes; latency from the *scheduled* send time, so a
//              stalled sender counts as latency (coordinated omission). The
//              publisher sleeps between sends unless the clients spin. At
//              rate 0 nothing is published: the clients stay connected and
//              subscribed for the duration (the idle suite's idle row)
//   W3         throughput: one publisher as fast as flow control allows to
//              one subscriber; messages/s, MB/s, and proof nothing was lost
//   W4         request/response: a closed-loop client sends REQUESTs through
//              the gateway to an echo backend process (the service
//              library); RTT per request. A request crosses four sockets
//              to the floor's two (backend_workloads.cpp)
//   W7         load step: closed-loop requesters through the gateway to
//              the echo backend jump from 1 to 64 at once, with four pool
//              modes (backend_workloads.h); W7-step = the first 1,000
//              requests after the step, W7-steady = the steady state after
//              it, and how many requests waited for a connection
//   floor-udp-in  a UDP producer process into a plain recvmmsg receiver
//              process: what the kernel alone delivers (udp_workloads.cpp)
//   W5         UDP ingress: a producer process sends PUBLISH datagrams to
//              the gateway's UDP port at a fixed offered rate (W5) and as
//              fast as it can (W5-max); a TCP subscriber counts exactly what
//              reached the log
//   W6         UDP egress fan-out: a TCP publisher at a fixed offered rate,
//              K UDP receiver processes on the gateway's destination list;
//              latency from the scheduled send time, loss counted exactly
#ifndef TACHYON_BENCH_LATENCY_WORKLOADS_H_
#define TACHYON_BENCH_LATENCY_WORKLOADS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "histogram.h"

namespace tachyon::bench {

struct WorkloadOptions {
  std::size_t payload = 32;    // bytes per message
  bool spin = false;           // busy-poll instead of blocking waits
  std::int64_t warmup = 2000;  // messages discarded before measuring
  std::int64_t count = 20000;  // measured messages (ping-pong workloads)
  double rate = 50000;         // W2 offered rate, messages/s
  int subscribers = 4;         // W2 subscriber processes
  double duration_s = 5;       // W2/W3 measured duration
  std::uint16_t port = 0;      // gateway port (gateway workloads)
  // TLS: the CA file the clients verify the gateway with; `port` is then
  // the gateway's TLS port. Empty: plain TCP.
  std::string tls_ca;
  pid_t gateway_pid = 0;  // its process, for its CPU time (W2)
  // floor-tcp: two CPUs to pin its two processes to, one each (reported as
  // floor-tcp-2cpu); empty: not pinned.
  std::vector<int> floor_cpus;
  // UDP workloads.
  double udp_rate = 350000;           // W5 offered rate, messages/s
  std::size_t udp_payload = 16;       // W5: 16 B is a 64-byte datagram
  std::int64_t udp_max_messages = 0;  // W5-max: at most this many
  int udp_producers = 1;              // W5 producer processes
  std::uint16_t udp_port = 0;         // gateway UDP ingress port
  std::vector<int> udp_receivers;     // W6: bound sockets the gateway's
                                      // [[udp.groups]] destinations name
  pid_t backend_pid = 0;              // W4: the echo backend process
  // --fastpath: the gateway in a network namespace, producers and receivers
  // in its peer's. W5 producers send to udp_host (empty: 127.0.0.1) from
  // namespace peer_netns; TCP clients connect from client_netns (the
  // gateway's). Empty: the current namespace.
  std::string udp_host;
  std::string peer_netns;
  std::string client_netns;
};

/// The service W4 calls: its [[backends]] id, and its name.
inline constexpr std::uint32_t kBenchServiceId = 1;
inline constexpr char kBenchServiceName[] = "bench-echo";

/// The stream W6 publishes and the gateway's UDP group sends.
inline constexpr char kUdpFanOutStream[] = "bench.udp-out";

struct Result {
  std::string workload;  // "floor-tcp", "W1", ...
  std::string system;    // "floor", "tachyon epoll/block", ...
  std::size_t payload = 0;
  std::string idle;  // spin | block: floors compare within one strategy
  // How the client processes waited, "spin" or "block"; empty: they spun
  // exactly when `idle` is spin. Floors compare within one client mode.
  std::string clients;
  bool available = true;  // false: `note` says why (W4 before backends)
  bool ok = true;         // false: `note` holds the error
  std::string note;
  LatencyHistogram latency;
  // Delivery accounting (W2, W3): exact counts, never estimated.
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint64_t lost = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t reordered = 0;
  std::uint64_t malformed = 0;  // datagrams a UDP receiver could not decode
  // UDP: loss is reported but does not fail the run (W5-max: a producer
  // faster than the receiver must lose).
  bool best_effort = false;
  double seconds = 0;
  // CPU, recorded for every run: the gateway process over `cpu_window_s`
  // (W2: from the first scheduled send to the last subscriber's report;
  // other workloads: the whole run; floor-fanout: its relay process over
  // its life; -1 where no gateway ran), and the
  // client processes (the benchmark itself and its children, whole run).
  double gateway_cpu_s = -1;
  double cpu_window_s = 0;
  double clients_cpu_s = 0;
  // Processes a workload started and left running (W4's backend): CPU
  // seconds they used during the run, added to clients_cpu_s. Negative for
  // floor-fanout: its relay, a child like the clients, is reported as
  // gateway_cpu_s instead (it stands where the gateway is) and taken out.
  double helpers_cpu_s = 0;
  // W7: from the gateway's shutdown log, over its life (-1: not known):
  // requests that found no ready connection and waited for one, and the
  // connections the pools logged on.
  std::int64_t waited_for_connection = -1;
  std::int64_t backend_connects = -1;
  std::uint64_t messages = 0;  // W2: published in the CPU window
  double rate = 0;             // W2: the offered rate, messages/s
  // W2: how late the publisher's sends were against the schedule.
  LatencyHistogram send_lag;
  double target_per_second = 0;   // UDP: the rate asked for; 0 = max
  double offered_per_second = 0;  // UDP: what was sent, per second
  double messages_per_second = 0;
  double megabytes_per_second = 0;
};

Result RunTcpFloor(const WorkloadOptions& o);
Result RunUdpFloor(const WorkloadOptions& o);
Result RunTcpRelayFloor(const WorkloadOptions& o);    // W4's four hops
Result RunFanOutFloor(const WorkloadOptions& o);      // W2 without a gateway
Result RunPingPong(const WorkloadOptions& o);         // W1
Result RunFanOut(const WorkloadOptions& o);           // W2
Result RunThroughput(const WorkloadOptions& o);       // W3
Result RunRequestResponse(const WorkloadOptions& o);  // W4
Result RunUdpIngressFloor(const WorkloadOptions& o, bool max_rate);
Result RunUdpIngress(const WorkloadOptions& o, bool max_rate);  // W5
// W6; max_rate: the publisher unthrottled (W6-max), o.udp_max_messages of
// them when set, and the rate is what arrived per second.
Result RunUdpFanOut(const WorkloadOptions& o, bool max_rate = false);

}  // namespace tachyon::bench

#endif  // TACHYON_BENCH_LATENCY_WORKLOADS_H_
