// Network namespaces and a veth pair for the kernel-bypass tests: two
// namespaces the test creates, joined by a veth pair made inside them, with
// addresses and static neighbour entries that exist only there. Nothing
// touches the host's interfaces; the destructor removes both namespaces
// (which removes the pair).
//
//   gateway side: namespace "<prefix>-gw", interface "tg0", 10.77.<n>.1/24
//   peer side:    namespace "<prefix>-pe", interface "tp0", 10.77.<n>.2/24
//
// TX checksum offload is off on both ends (`ethtool -K ... tx off`): with
// veth's default a bypass receiver sees partial UDP checksums. The peer's
// MTU is `mtu` (native XDP on veth needs <= ~3500).
//
// Sockets keep the namespace they were created in, so one test process can
// hold sockets on both sides: create each inside an EnterNamespace scope.
// Child processes are started inside a namespace with NamespacedCommand.
//
// Example
//   std::string why;
//   if (!tachyon::testing::CanCreateNamespaces(&why)) GTEST_SKIP() << why;
//   auto pair = tachyon::testing::VethPair::Create("tdx");
//   ASSERT_TRUE(pair.ok()) << pair.status();
//   int fd;
//   { auto in = (*pair)->EnterPeer(); fd = socket(AF_INET, SOCK_DGRAM, 0); }
#ifndef TACHYON_TESTS_SUPPORT_NETNS_H_
#define TACHYON_TESTS_SUPPORT_NETNS_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tachyon::testing {

/// True if this process may create network namespaces and veth pairs (root
/// with CAP_NET_ADMIN and CAP_SYS_ADMIN, `ip` and `ethtool` present);
/// otherwise false with the reason (for GTEST_SKIP). Under TACHYON_CI=1 a
/// missing capability the CI machine has is a failure, not a skip: callers
/// use RequirePrivileged below.
bool CanCreateNamespaces(std::string* why);

/// Runs `argv` (argv[0] looked up in PATH, e.g. {"ip", "-n", ns, "neigh",
/// "add", ...}) to completion, waiting at most 10 s (then it is killed by
/// its PID). OK if it exited 0; otherwise the command line and its output.
absl::Status RunCommand(const std::vector<std::string>& argv);

/// While alive, the calling thread is in namespace `name`; back in the
/// namespace it came from afterwards.
class NamespaceScope {
 public:
  explicit NamespaceScope(const std::string& name);
  ~NamespaceScope();
  NamespaceScope(const NamespaceScope&) = delete;
  NamespaceScope& operator=(const NamespaceScope&) = delete;
  /// False (and the thread stays where it was) if setns failed.
  [[nodiscard]] bool ok() const { return ok_; }

 private:
  int saved_ = -1;
  bool ok_ = false;
};

class VethPair {
 public:
  struct Options {
    int peer_mtu = 1500;
    int gateway_mtu = 1500;
    int gateway_queues = 1;  ///< RX/TX queues of the gateway-side veth
  };

  /// Creates "<prefix>-gw" and "<prefix>-pe" (a stale pair of the same
  /// prefix from a killed run is removed first), the veth pair, addresses,
  /// static neighbours both ways, offload off, links up.
  static absl::StatusOr<std::unique_ptr<VethPair>> Create(
      const std::string& prefix, Options options);
  static absl::StatusOr<std::unique_ptr<VethPair>> Create(
      const std::string& prefix) {
    return Create(prefix, Options{});
  }
  ~VethPair();
  VethPair(const VethPair&) = delete;
  VethPair& operator=(const VethPair&) = delete;

  [[nodiscard]] const std::string& gateway_ns() const { return gateway_ns_; }
  [[nodiscard]] const std::string& peer_ns() const { return peer_ns_; }
  [[nodiscard]] std::string gateway_if() const { return "tg0"; }
  [[nodiscard]] std::string peer_if() const { return "tp0"; }
  /// "10.77.<n>.1" / "10.77.<n>.2".
  [[nodiscard]] const std::string& gateway_ip() const { return gateway_ip_; }
  [[nodiscard]] const std::string& peer_ip() const { return peer_ip_; }
  [[nodiscard]] std::uint32_t gateway_ip_be() const;
  [[nodiscard]] std::uint32_t peer_ip_be() const;
  /// "02:..." as `ip link` shows them.
  [[nodiscard]] const std::string& gateway_mac() const { return gateway_mac_; }
  [[nodiscard]] const std::string& peer_mac() const { return peer_mac_; }

  [[nodiscard]] NamespaceScope EnterGateway() const {
    return NamespaceScope(gateway_ns_);
  }
  [[nodiscard]] NamespaceScope EnterPeer() const {
    return NamespaceScope(peer_ns_);
  }
  /// argv prefixed to run inside the namespace: {"ip", "netns", "exec",
  /// ns, argv...}.
  [[nodiscard]] static std::vector<std::string> NamespacedCommand(
      const std::string& ns, std::vector<std::string> argv);

 private:
  VethPair() = default;
  std::string gateway_ns_, peer_ns_, gateway_ip_, peer_ip_, gateway_mac_,
      peer_mac_;
};

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_SUPPORT_NETNS_H_
