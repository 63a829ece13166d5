// The fast path's start-up checks: each missing privilege, limit or
// interface is refused with a message naming it and what to do. The rules
// run on injected facts; one test reads the real facts of an unprivileged
// child (root dropped to nobody in a forked process).
#include "fastpath/prerequisites.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "fastpath/fastpath.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tachyon::fastpath {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::uint64_t Bit(int cap) { return std::uint64_t{1} << cap; }
constexpr std::uint64_t kAllNeeded =
    Bit(kCapNetAdmin) | Bit(kCapNetRaw) | Bit(kCapBpf) | Bit(kCapIpcLock);

config::FastPathOptions AfXdp() {
  config::FastPathOptions o;
  o.mode = config::FastPathMode::kAfXdp;
  o.interface = "eth1";
  return o;
}

config::FastPathOptions Dpdk(std::vector<std::string> eal_args) {
  config::FastPathOptions o;
  o.mode = config::FastPathMode::kDpdk;
  o.address = "10.0.0.1";
  o.eal_args = std::move(eal_args);
  return o;
}

HostFacts Root() {
  HostFacts f;
  f.euid = 0;
  f.effective_caps = kAllNeeded | Bit(kCapSysAdmin);
  f.memlock_limit = 8u << 20;  // the machine's: 8 MiB, not raisable
  f.interface_index = 3;
  f.interface_mtu = 1500;
  return f;
}

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(PrerequisitesTest, SocketModeNeedsNothing) {
  EXPECT_TRUE(CheckPrerequisites(config::FastPathOptions{}, HostFacts{}).ok());
}

TEST(PrerequisitesTest, RootWithItsCapabilitiesPasses) {
  EXPECT_TRUE(CheckPrerequisites(AfXdp(), Root()).ok());
  EXPECT_TRUE(
      CheckPrerequisites(Dpdk({"--vdev", "net_af_xdp0,iface=eth1"}), Root())
          .ok());
}

TEST(PrerequisitesTest, NonRootWithoutCapabilitiesIsToldToRunAsRootOrGrant) {
  HostFacts f = Root();
  f.euid = 1000;
  f.effective_caps = 0;
  const absl::Status s = CheckPrerequisites(AfXdp(), f);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(Message(s),
              HasSubstr("mode = \"af_xdp\" needs CAP_NET_ADMIN, CAP_NET_RAW, "
                        "CAP_BPF (not running as root): run as root, or "
                        "grant them (setcap"));
  EXPECT_THAT(Message(s), HasSubstr("Kubernetes"));
}

TEST(PrerequisitesTest, NamesOnlyTheMissingCapability) {
  HostFacts f = Root();
  f.effective_caps &= ~(Bit(kCapBpf) | Bit(kCapSysAdmin));
  const absl::Status s = CheckPrerequisites(AfXdp(), f);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(Message(s), HasSubstr("needs CAP_BPF (running as root, but "
                                    "without them"));
  EXPECT_THAT(Message(s), Not(HasSubstr("CAP_NET_ADMIN")));

  f = Root();
  f.effective_caps &= ~Bit(kCapNetAdmin);
  EXPECT_THAT(Message(CheckPrerequisites(AfXdp(), f)),
              HasSubstr("needs CAP_NET_ADMIN ("));
}

TEST(PrerequisitesTest, SysAdminStandsInForBpf) {
  HostFacts f = Root();
  f.effective_caps &= ~Bit(kCapBpf);
  EXPECT_TRUE(CheckPrerequisites(AfXdp(), f).ok());
}

TEST(PrerequisitesTest, UmemBeyondTheLockedLimitNeedsIpcLock) {
  // 4096 frames * 4096 bytes = 16 MiB > 8 MiB: fine with CAP_IPC_LOCK ...
  EXPECT_EQ(UmemBytes(AfXdp()), 16u << 20);
  EXPECT_TRUE(CheckPrerequisites(AfXdp(), Root()).ok());
  // ... refused without it, saying why and what to do.
  HostFacts f = Root();
  f.effective_caps &= ~Bit(kCapIpcLock);
  config::FastPathOptions o = AfXdp();
  o.queues = 2;
  const absl::Status s = CheckPrerequisites(o, f);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(Message(s),
              HasSubstr("the UMEM needs 32 MiB of locked memory (frames 4096 "
                        "* frame_size 4096 * queues 2) but the locked-memory "
                        "limit is 8 MiB and the process lacks CAP_IPC_LOCK"));
  EXPECT_THAT(Message(s), HasSubstr("grant CAP_IPC_LOCK, raise the limit"));
  EXPECT_THAT(Message(s), HasSubstr("or lower fastpath.frames"));
  // Within the limit, no lock capability is needed.
  o.queues = 1;
  o.frames = 1024;
  EXPECT_TRUE(CheckPrerequisites(o, f).ok());
}

TEST(PrerequisitesTest, MissingInterfaceIsNamed) {
  HostFacts f = Root();
  f.interface_index = 0;
  const absl::Status s = CheckPrerequisites(AfXdp(), f);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(s), HasSubstr("interface 'eth1' does not exist in this "
                                    "network namespace (ip -br link"));
}

TEST(PrerequisitesTest, NativeXdpRefusesAJumboMtu) {
  HostFacts f = Root();
  f.interface_mtu = 9000;
  const absl::Status s = CheckPrerequisites(AfXdp(), f);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(s), HasSubstr("has MTU 9000, more than native XDP takes "
                                    "(3498): lower it (ip link set dev eth1 "
                                    "mtu 1500) or use xdp_mode = \"generic\""));
  config::FastPathOptions generic = AfXdp();
  generic.xdp_mode = config::XdpMode::kGeneric;
  EXPECT_TRUE(CheckPrerequisites(generic, f).ok());
}

TEST(PrerequisitesTest, ListsEveryProblemOnePerLine) {
  HostFacts f;
  f.euid = 1000;
  f.memlock_limit = 64 << 10;
  const absl::Status s = CheckPrerequisites(AfXdp(), f);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);  // the first
  const std::string text = Message(s);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
}

TEST(PrerequisitesTest, DpdkRingAndNullVdevsNeedNoPrivilege) {
  HostFacts f;
  f.euid = 1000;
  EXPECT_TRUE(
      CheckPrerequisites(Dpdk({"--no-huge", "--vdev", "net_ring0"}), f).ok());
  EXPECT_TRUE(CheckPrerequisites(Dpdk({"--vdev=net_null0"}), f).ok());
  const absl::Status s =
      CheckPrerequisites(Dpdk({"--vdev", "net_af_packet0,iface=eth1"}), f);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(Message(s), HasSubstr("mode = \"dpdk\" needs CAP_NET_ADMIN, "
                                    "CAP_NET_RAW (not running as root)"));
  // The af_xdp vdev loads an XDP program.
  HostFacts no_bpf = Root();
  no_bpf.effective_caps &= ~(Bit(kCapBpf) | Bit(kCapSysAdmin));
  EXPECT_THAT(Message(CheckPrerequisites(
                  Dpdk({"--vdev", "net_af_xdp0,iface=eth1"}), no_bpf)),
              HasSubstr("needs CAP_BPF"));
}

// The real facts of this process, or of a child that gave up root.
TEST(PrerequisitesTest, AnUnprivilegedProcessIsRefusedWithTheReason) {
  config::FastPathOptions o = AfXdp();
  o.interface = "lo";
  if (::geteuid() != 0) {
    absl::StatusOr<HostFacts> facts = ReadHostFacts(o);
    ASSERT_TRUE(facts.ok()) << facts.status();
    EXPECT_EQ(facts->interface_index, 1u);
    const absl::Status s = CheckPrerequisites(o, *facts);
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
    EXPECT_THAT(Message(s), HasSubstr("not running as root"));
    return;
  }
  // Root: a forked child drops to nobody (setuid clears the capability
  // sets) and reports its verdict through its exit code.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
    absl::StatusOr<HostFacts> facts = ReadHostFacts(o);
    if (!facts.ok()) ::_exit(11);
    if (facts->effective_caps != 0) ::_exit(12);
    const absl::Status s = CheckPrerequisites(o, *facts);
    if (s.code() != absl::StatusCode::kPermissionDenied) ::_exit(13);
    if (Message(s).find("CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF (not running "
                        "as root)") == std::string::npos) {
      ::_exit(14);
    }
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10: could not drop root, 11: facts unreadable, 12: capabilities "
         "kept, 13/14: not refused as expected";
}

TEST(FastPathOpenTest, SocketModeHasNothingToOpen) {
  base::CounterRegistry counters;
  config::GatewayConfig c;
  absl::StatusOr<std::unique_ptr<FastPath>> path =
      FastPath::Open(c, 7401, counters);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(FastPathOpenTest, ABuildWithoutDpdkSaysWhatToInstall) {
  if (HaveDpdk()) GTEST_SKIP() << "this build has DPDK";
  base::CounterRegistry counters;
  config::GatewayConfig c;
  c.udp.enabled = true;
  c.fastpath = Dpdk({"--vdev", "net_ring0"});
  absl::StatusOr<std::unique_ptr<FastPath>> path =
      FastPath::Open(c, 7401, counters);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(path.status()),
              HasSubstr("this build has no DPDK path: install libdpdk-dev"));
  EXPECT_THAT(Message(path.status()), HasSubstr("reconfigure"));
}

TEST(FastPathOpenTest, ABuildWithoutAfXdpSaysWhatToInstall) {
  if (HaveAfXdp()) GTEST_SKIP() << "this build has AF_XDP";
  base::CounterRegistry counters;
  config::GatewayConfig c;
  c.udp.enabled = true;
  c.fastpath = AfXdp();
  absl::StatusOr<std::unique_ptr<FastPath>> path =
      FastPath::Open(c, 7401, counters);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(path.status()),
              HasSubstr("no AF_XDP path: install libxdp-dev, libbpf-dev"));
}

TEST(FastPathOpenTest, MissingPrivilegesComeBeforeAnythingIsOpened) {
  if (!HaveAfXdp()) GTEST_SKIP() << "this build has no AF_XDP path";
  base::CounterRegistry counters;
  config::GatewayConfig c;
  c.udp.enabled = true;
  c.fastpath = AfXdp();
  c.fastpath.interface = "tachyon-absent0";
  absl::StatusOr<std::unique_ptr<FastPath>> path =
      FastPath::Open(c, 7401, counters);
  ASSERT_FALSE(path.ok());
  EXPECT_THAT(Message(path.status()),
              ::testing::AnyOf(HasSubstr("needs CAP_"),
                               HasSubstr("'tachyon-absent0' does not exist")));
}

}  // namespace
}  // namespace tachyon::fastpath
