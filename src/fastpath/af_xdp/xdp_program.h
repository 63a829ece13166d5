// XdpProgram: the gateway's XDP program (xdp_redirect.bpf.c) loaded with
// libbpf and attached to one interface.
//
// Overview
//   Attach() opens the compiled object (XdpObjectPath()), loads it, puts the
//   gateway's UDP port(s) (on its address, if one is given, else any)
//   into its `tachyon_ports` map and attaches it to
//   the interface in generic (SKB) or native (driver) mode. The program
//   redirects only IPv4 UDP to those ports into `xsks_map` (one slot per RX
//   queue, filled by the AF_XDP sockets, af_xdp_io.h) and passes everything
//   else to the kernel.
//
//   One XDP program per interface (libxdp's multi-program dispatcher cannot
//   load here, FASTPATH.md). Before attaching, Attach() looks at what is
//   attached already (RemoveStaleGatewayProgram): a program of ours (named
//   tachyon_xdp, or carrying a `tachyon_ports` map) whose `xsks_map` holds
//   no socket was left by a gateway that did not shut down cleanly (the
//   kernel takes a socket out of the map when it closes) and is replaced
//   (logged, and replaced_stale() says so); one whose map holds sockets
//   belongs to a running gateway and Attach() refuses; any other program is
//   someone else's and Attach() refuses.
//
//   The destructor detaches the program (only if it is still the one
//   attached). Every failure names its cause and what to do: not root or
//   missing CAP_NET_ADMIN / CAP_BPF, a missing interface, an MTU too large
//   for native XDP, a verifier or lockdown refusal (with libbpf's log).
//
// Threading: control thread only (start-up and shutdown).
//
// Example
//   auto program = XdpProgram::Attach({.interface = "eth1",
//                                      .mode = config::XdpMode::kNative,
//                                      .ports = {7600}});
//   if (!program.ok()) return program.status();
//   int map_fd = (*program)->xsks_map_fd();  // for xsk_socket__update_xskmap
#ifndef TACHYON_FASTPATH_AF_XDP_XDP_PROGRAM_H_
#define TACHYON_FASTPATH_AF_XDP_XDP_PROGRAM_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "config/model.h"

struct bpf_object;
struct bpf_map_info;

namespace tachyon::fastpath::af_xdp {

/// The name the program carries (and how a stale one is recognised).
inline constexpr char kXdpProgramName[] = "tachyon_xdp";

/// Native XDP handles single-page frames only: 4096 bytes less the XDP
/// headroom (256) and skb_shared_info (320), less the Ethernet header and two
/// VLAN tags. An interface MTU above this cannot take a native program.
inline constexpr int kMaxNativeXdpMtu = 3498;

/// Where the compiled program is: $TACHYON_XDP_OBJECT if set, else
/// xdp_redirect.bpf.o beside the running executable (the installed layout),
/// else the build tree's copy (XdpObjectBuildPath()).
std::string XdpObjectPath();
/// The build tree's copy, as compiled (for tests, whatever their working
/// directory).
std::string XdpObjectBuildPath();

/// A key of the program's `tachyon_ports` map (keep in step with struct
/// port_key in xdp_redirect.bpf.c): UDP to `port` (host order) on
/// `address_be` (network order; 0: any address) is redirected.
struct XdpPortKey {
  std::uint32_t address_be = 0;
  std::uint16_t port = 0;
  std::uint16_t zero = 0;
};
static_assert(sizeof(XdpPortKey) == 8);

struct XdpProgramOptions {
  std::string interface;
  config::XdpMode mode = config::XdpMode::kNative;
  /// UDP destination ports to redirect (1..16 of them).
  std::vector<std::uint16_t> ports;
  /// Only to this destination address (network order; 0: any). With an
  /// address, UDP to the port on the interface's other addresses stays
  /// with the kernel.
  std::uint32_t address_be = 0;
  /// "" : XdpObjectPath().
  std::string object_path;
};

class XdpProgram {
 public:
  /// Loads and attaches; see the overview for the errors.
  static absl::StatusOr<std::unique_ptr<XdpProgram>> Attach(
      const XdpProgramOptions& options);
  /// Detaches (if still attached) and unloads.
  ~XdpProgram();
  XdpProgram(const XdpProgram&) = delete;
  XdpProgram& operator=(const XdpProgram&) = delete;

  [[nodiscard]] const std::string& interface() const { return interface_; }
  [[nodiscard]] int ifindex() const { return ifindex_; }
  [[nodiscard]] config::XdpMode mode() const { return mode_; }
  /// The XSKMAP the sockets insert themselves into.
  [[nodiscard]] int xsks_map_fd() const { return xsks_map_fd_; }
  [[nodiscard]] std::uint32_t program_id() const { return program_id_; }
  /// True if a program of ours from an earlier run was replaced.
  [[nodiscard]] bool replaced_stale() const { return replaced_stale_id_ != 0; }

  /// Frames per verdict (summed over CPUs): redirected, no_socket,
  /// pass_not_ipv4, pass_not_udp, pass_fragment, pass_other_port,
  /// pass_short. Zeros if the map cannot be read.
  static constexpr int kVerdicts = 7;
  [[nodiscard]] std::array<std::uint64_t, kVerdicts> Stats() const;
  static const char* VerdictName(int verdict);

  /// Forgets the program without detaching it, as a crash would leave it
  /// (tests of the stale-program recovery).
  void AbandonForTest() { abandon_ = true; }

 private:
  XdpProgram() = default;

  std::string interface_;
  int ifindex_ = 0;
  config::XdpMode mode_ = config::XdpMode::kNative;
  bpf_object* object_ = nullptr;
  int program_fd_ = -1;
  std::uint32_t program_id_ = 0;
  int xsks_map_fd_ = -1;
  int stats_map_fd_ = -1;
  std::uint32_t replaced_stale_id_ = 0;
  bool attached_ = false;
  bool abandon_ = false;
};

/// Opens the map named `map_name` (e.g. "tachyon_ports", "tachyon_stats")
/// of the loaded BPF program `prog_id` (as bpf_xdp_query_id or
/// AttachedXdpProgram give it) and returns its fd, which the caller closes.
/// NotFound if the program has no such map; PermissionDenied, naming the
/// capabilities, if the program may not be opened.
///
/// Example:
///   absl::StatusOr<int> map = OpenProgramMap(id, "tachyon_stats");
///   if (map.ok()) { bpf_map_lookup_elem(*map, &key, &value); ::close(*map); }
absl::StatusOr<int> OpenProgramMap(std::uint32_t prog_id,
                                   std::string_view map_name);

/// The same for a program fd the caller holds (and keeps); `info`, if not
/// null, receives the map's bpf_map_info (type, max_entries, ...).
absl::StatusOr<int> OpenProgramMapByFd(int prog_fd, std::string_view map_name,
                                       bpf_map_info* info);

/// Adds `ports` (on any address) to the `tachyon_ports` map of the program
/// attached to
/// `ifindex`, which must be ours: for loaders that attach the object
/// themselves (DPDK's net_af_xdp with xdp_prog=<XdpObjectPath()>), after
/// they did. NotFound if no program of ours is attached.
absl::Status AddPortsToAttachedProgram(int ifindex,
                                       const std::vector<std::uint16_t>& ports);

/// One XDP program attached to an interface (an interface carries one per
/// mode: generic, native, offloaded).
struct AttachedXdp {
  std::uint32_t id = 0;
  /// XDP_FLAGS_SKB_MODE, XDP_FLAGS_DRV_MODE or XDP_FLAGS_HW_MODE.
  std::uint32_t mode_flags = 0;
  std::string name;
  /// Ours: named tachyon_xdp or carrying a `tachyon_ports` map.
  bool ours = false;
  /// Ours only: the AF_XDP sockets in its `xsks_map` (-1: could not tell).
  /// Zero means no gateway runs it any more (the kernel removes a socket
  /// from the map when the socket closes).
  int sockets = 0;
};

/// Every XDP program attached to `ifindex`, each mode queried on its own
/// (XDP_ATTACHED_MULTI included).
absl::StatusOr<std::vector<AttachedXdp>> InspectXdpPrograms(int ifindex);

/// The one check the AF_XDP path and DPDK's net_af_xdp share: takes a
/// stale program of ours (no socket in its map) off `interface`, detaching
/// with XDP_FLAGS_REPLACE against that very program so one swapped in
/// meanwhile is never hit. FailedPrecondition if a program of ours has
/// sockets: a running gateway's ("interface X already carries a running
/// Tachyon gateway's XDP program (prog id N, K sockets): stop that gateway
/// or use another interface"). Programs that are not ours are left alone
/// and listed in `*others` (if not null). Returns the id removed (0: none).
absl::StatusOr<std::uint32_t> RemoveStaleGatewayProgram(
    const std::string& interface, std::vector<AttachedXdp>* others);

/// Takes program `id` (0: whichever program of ours is attached) off
/// `interface`, with XDP_FLAGS_REPLACE against it, sockets or not: for a
/// loader closing the port it attached the program for (DPDK's
/// net_af_xdp). Returns the id removed (0: none was there).
absl::StatusOr<std::uint32_t> DetachGatewayProgram(const std::string& interface,
                                                   std::uint32_t id);

/// What is attached to `ifindex` now: the program id (0: none) and, if
/// `name` is not null, its name.
absl::StatusOr<std::uint32_t> AttachedXdpProgram(int ifindex,
                                                 std::string* name);

}  // namespace tachyon::fastpath::af_xdp

#endif  // TACHYON_FASTPATH_AF_XDP_XDP_PROGRAM_H_
