#include "fastpath/dpdk/dpdk_path.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>
#include <rte_memzone.h>
#include <sched.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/log.h"
#include "fastpath/dpdk/dpdk_eal.h"
#include "fastpath/dpdk/dpdk_io.h"

#ifdef TACHYON_DPDK_SHARED_XDP_CHECK
#include "fastpath/af_xdp/xdp_program.h"
#endif
#ifdef TACHYON_DPDK_LIBBPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#endif

namespace tachyon::fastpath {
namespace {

std::atomic<double> eal_init_seconds{0};

// Ports open in this process: a second FastPath on the same port would
// reconfigure it under the first one's queues.
std::mutex ports_mu;
std::set<std::uint16_t>& PortsInUse() {
  static auto* ports = new std::set<std::uint16_t>();
  return *ports;
}
std::atomic<unsigned> pool_generation{0};

std::string ErrnoText(int err) {
  return absl::StrCat(rte_strerror(err), " (", err, ")");
}

absl::StatusOr<std::uint32_t> ParseIpv4(const std::string& text,
                                        std::string_view key) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("fastpath.", absl::string_view(key.data(), key.size()),
                     " \"", text, "\" is not an IPv4 address"));
  }
  return a.s_addr;
}

// DPDK 22.11's net_af_xdp leaves a program it loaded with xdp_prog= attached
// when the port closes, and refuses to load over it at the next start. Our
// program (the one with the `tachyon_ports` map) comes off `iface` with the
// port; someone else's is left alone. `netns_fd` (>= 0) is the network
// namespace the port was opened in, entered for the detach when the closing
// thread is elsewhere; it is closed here.
void DetachOurXdpProgram(const std::string& iface, std::uint32_t prog_id,
                         int netns_fd) {
#ifndef TACHYON_DPDK_LIBBPF
  (void)iface;
#else
  int saved = -1;
  if (netns_fd >= 0) {
    saved = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (saved >= 0 && ::setns(netns_fd, CLONE_NEWNET) != 0) {
      ::close(saved);
      saved = -1;
    }
  }
#ifdef TACHYON_DPDK_SHARED_XDP_CHECK
  // The program this port's PMD attached (prog_id; 0 if the open failed
  // before it was known: whichever of ours is there), detached only if it
  // is still the one attached. net_af_xdp may keep its socket open past
  // the port's close, so the socket count says nothing here.
  if (absl::StatusOr<std::uint32_t> removed =
          af_xdp::DetachGatewayProgram(iface, prog_id);
      !removed.ok()) {
    TACHYON_LOG(kWarn) << "fastpath: leaving the XDP program on " << iface
                       << ": " << removed.status().message();
  }
#else
  (void)iface;
  (void)prog_id;
#endif
  if (saved >= 0) {
    (void)::setns(saved, CLONE_NEWNET);
    ::close(saved);
  }
#endif
  if (netns_fd >= 0) ::close(netns_fd);
}

// The port and its pools; torn down when the FastPath and all its queues
// are gone (each queue holds it through DpdkDatagramIo::Options::keepalive).
class DpdkPort {
 public:
  std::uint16_t port_id = 0;
  bool started = false;
  bool configured = false;
  std::string vdev;  // the vdev we probed or the EAL created, to remove
  std::vector<rte_mempool*> pools;
  // net_af_xdp with xdp_prog=: the interface to take our program off, and
  // the namespace it is in.
  std::string xdp_iface;
  std::uint32_t xdp_prog_id = 0;
  int xdp_netns_fd = -1;

  DpdkPort() = default;
  DpdkPort(const DpdkPort&) = delete;
  DpdkPort& operator=(const DpdkPort&) = delete;
  bool claimed = false;

  ~DpdkPort() {
    if (started) rte_eth_dev_stop(port_id);
    if (configured) rte_eth_dev_close(port_id);
    if (!vdev.empty()) {
      // A later Open probes it again: the interface it names may be new.
      (void)dpdk_internal::RemoveVdev(vdev);
    }
    if (!xdp_iface.empty())
      DetachOurXdpProgram(xdp_iface, xdp_prog_id, xdp_netns_fd);
    for (rte_mempool* p : pools) rte_mempool_free(p);
    if (claimed) {
      std::lock_guard lock(ports_mu);
      PortsInUse().erase(port_id);
    }
  }
};

class DpdkFastPath final : public QueuedFastPath {
 public:
  DpdkFastPath(std::string description,
               std::vector<std::unique_ptr<io::DatagramIo>> queues)
      : QueuedFastPath(std::move(description), std::move(queues)) {}

  [[nodiscard]] std::string_view name() const override { return "dpdk"; }
};

absl::StatusOr<std::uint16_t> FindPort(const std::vector<std::string>& args,
                                       std::string* vdev) {
  const std::vector<std::string> vdevs = dpdk_internal::VdevArgs(args);
  if (!vdevs.empty()) {
    const std::string name = dpdk_internal::VdevName(vdevs.front());
    std::uint16_t id = 0;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) {
      return absl::NotFoundError(absl::StrCat(
          "DPDK has no port for --vdev ", vdevs.front(),
          " (the EAL's log above says why its driver did not probe it)"));
    }
    *vdev = name;
    return id;
  }
  std::uint16_t id = 0;
  RTE_ETH_FOREACH_DEV(id) { return id; }
  return absl::NotFoundError(
      "DPDK found no port: name one in fastpath.eal_args (--vdev "
      "net_af_xdp0,iface=<if>, --vdev net_af_packet0,iface=<if>, or -a "
      "<PCI address> of a NIC bound to vfio-pci) or set fastpath.interface");
}

// A pool whose mbufs each fill one 4 KiB page exactly, starting on a page.
// net_af_xdp registers the pool's memory as its UMEM (unaligned chunks):
// in 4 KiB pages (EAL --no-huge) the kernel refuses a frame that crosses a
// page, and the mbuf the PMD gave the fill ring never comes back, so a
// default pool (objects of ~2.3 KiB packed across pages) loses more than
// half its mbufs to the first traffic and the port stalls. Null on failure
// (rte_errno set).
rte_mempool* CreatePagePerMbufPool(const std::string& name, unsigned count,
                                   int socket) {
  constexpr std::uint32_t kPage = 4096;
  const std::uint32_t flags = RTE_MEMPOOL_F_NO_SPREAD;
  // The largest data room whose object (header, mbuf, data) is one page.
  std::uint32_t data_room = kPage - sizeof(rte_mbuf);
  while (data_room > RTE_PKTMBUF_HEADROOM &&
         rte_mempool_calc_obj_size(sizeof(rte_mbuf) + data_room, flags,
                                   nullptr) > kPage) {
    data_room -= RTE_CACHE_LINE_SIZE;
  }
  if (rte_mempool_calc_obj_size(sizeof(rte_mbuf) + data_room, flags, nullptr) !=
      kPage) {
    rte_errno = EINVAL;
    return nullptr;
  }
  rte_mempool* pool = rte_mempool_create_empty(
      name.c_str(), count, sizeof(rte_mbuf) + data_room, 0,
      sizeof(rte_pktmbuf_pool_private), socket, flags);
  if (pool == nullptr) return nullptr;
  const auto fail = [&](int error) {
    rte_mempool_free(pool);
    rte_errno = error;
    return nullptr;
  };
  if (int rc = rte_mempool_set_ops_byname(pool, rte_mbuf_best_mempool_ops(),
                                          nullptr);
      rc != 0) {
    return fail(-rc);
  }
  rte_pktmbuf_pool_private priv{};
  priv.mbuf_data_room_size = static_cast<std::uint16_t>(data_room);
  priv.mbuf_priv_size = 0;
  rte_pktmbuf_pool_init(pool, &priv);
  const rte_memzone* zone = rte_memzone_reserve_aligned(
      (name + "_mem").c_str(), std::size_t{count} * kPage, socket, 0, kPage);
  if (zone == nullptr) return fail(rte_errno);
  const int populated = rte_mempool_populate_iova(
      pool, static_cast<char*>(zone->addr), zone->iova, zone->len,
      [](rte_mempool_memhdr*, void* opaque) {
        rte_memzone_free(static_cast<const rte_memzone*>(opaque));
      },
      const_cast<rte_memzone*>(zone));
  if (populated < 0 || static_cast<unsigned>(populated) != count) {
    if (populated <= 0) rte_memzone_free(zone);
    return fail(populated < 0 ? -populated : ENOMEM);
  }
  rte_mempool_obj_iter(pool, rte_pktmbuf_init, nullptr);
  return pool;
}

// The value of `key`= in a vdev's argument list ("net_af_xdp0,iface=eth1").
std::string VdevParam(const std::string& vdev, std::string_view key) {
  std::size_t pos = 0;
  while ((pos = vdev.find(',', pos)) != std::string::npos) {
    ++pos;
    if (vdev.compare(pos, key.size(), key) == 0 &&
        pos + key.size() < vdev.size() && vdev[pos + key.size()] == '=') {
      const std::size_t start = pos + key.size() + 1;
      return vdev.substr(start, vdev.find(',', start) - start);
    }
  }
  return "";
}

// net_af_xdp with xdp_prog=<our object>: the PMD loads the program and puts
// its sockets into `xsks_map`, but knows nothing of `tachyon_ports`, the
// ports the program redirects (everything else goes to the kernel). Put the
// gateway's port there. A program without that map is someone else's: left
// alone.
absl::Status AddPortToXdpProgram(const std::string& iface, std::uint16_t port,
                                 bool* found) {
  *found = false;
#ifndef TACHYON_DPDK_LIBBPF
  (void)iface;
  (void)port;
  return absl::UnimplementedError(
      "this build has no libbpf to give the XDP program its port");
#else
  const unsigned ifindex = if_nametoindex(iface.c_str());
  if (ifindex == 0) {
    return absl::NotFoundError(absl::StrCat("interface ", iface, " not found"));
  }
  __u32 prog_id = 0;
  if (int rc = bpf_xdp_query_id(static_cast<int>(ifindex), 0, &prog_id);
      rc != 0 || prog_id == 0) {
    return absl::NotFoundError(absl::StrCat("no XDP program on ", iface,
                                            " after the af_xdp port started"));
  }
#ifdef TACHYON_DPDK_SHARED_XDP_CHECK
  absl::StatusOr<int> opened = af_xdp::OpenProgramMap(prog_id, "tachyon_ports");
  if (absl::IsNotFound(opened.status())) return absl::OkStatus();
  if (!opened.ok()) return opened.status();
  const int map_fd = *opened;
#else
  // A build without the AF_XDP path (libbpf but no libxdp or BPF clang)
  // has no af_xdp::OpenProgramMap: the same walk over the program's maps.
  const int prog_fd = bpf_prog_get_fd_by_id(prog_id);
  if (prog_fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("bpf_prog_get_fd_by_id: ", std::strerror(-prog_fd),
                     " (run as root or grant CAP_BPF and CAP_NET_ADMIN)"));
  }
  std::array<__u32, 16> map_ids{};
  bpf_prog_info info{};
  info.nr_map_ids = map_ids.size();
  info.map_ids = reinterpret_cast<std::uintptr_t>(map_ids.data());
  __u32 len = sizeof info;
  const int rc = bpf_obj_get_info_by_fd(prog_fd, &info, &len);
  ::close(prog_fd);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("bpf_obj_get_info_by_fd: ", std::strerror(-rc)));
  }
  int map_fd = -1;
  for (__u32 i = 0;
       map_fd < 0 && i < std::min<__u32>(info.nr_map_ids, map_ids.size());
       ++i) {
    const int fd = bpf_map_get_fd_by_id(map_ids[i]);
    if (fd < 0) continue;
    bpf_map_info map{};
    __u32 map_len = sizeof map;
    if (bpf_obj_get_info_by_fd(fd, &map, &map_len) == 0 &&
        std::strcmp(map.name, "tachyon_ports") == 0) {
      map_fd = fd;
    } else {
      ::close(fd);
    }
  }
  if (map_fd < 0) return absl::OkStatus();
#endif
  // struct port_key of xdp_redirect.bpf.c: any address (0), the port
  // in host order, as the program reads it.
  struct {
    std::uint32_t address_be;
    std::uint16_t port;
    std::uint16_t zero;
  } key{0, port, 0};
  static_assert(sizeof key == 8);
  const std::uint8_t value = 1;
  const int urc = bpf_map_update_elem(map_fd, &key, &value, BPF_ANY);
  ::close(map_fd);
  if (urc != 0) {
    return absl::InternalError(absl::StrCat(
        "adding port ", port, " to tachyon_ports: ", std::strerror(-urc)));
  }
  *found = true;
  return absl::OkStatus();
#endif
}

// A program of ours (it has the `tachyon_ports` map) left on `iface` by a
// gateway that was killed: net_af_xdp refuses to load over it ("XDP
// program already attached"), so take it off first and say so. Anyone
// else's program is left for the PMD to refuse.
absl::Status RemoveStaleXdpProgram(const std::string& iface) {
#ifndef TACHYON_DPDK_SHARED_XDP_CHECK
  (void)iface;
  return absl::OkStatus();
#else
  // A running gateway's program (sockets in its map) is refused here.
  absl::StatusOr<std::uint32_t> removed =
      af_xdp::RemoveStaleGatewayProgram(iface, nullptr);
  return removed.ok() ? absl::OkStatus() : removed.status();
#endif
}

}  // namespace

double DpdkEalInitSeconds() {
  return eal_init_seconds.load(std::memory_order_relaxed);
}

absl::StatusOr<std::unique_ptr<FastPath>> OpenDpdk(
    const config::GatewayConfig& config, std::uint16_t port,
    base::CounterRegistry& counters) {
  const config::FastPathOptions& fp = config.fastpath;
  // Everything the config can get wrong is checked before the EAL starts.
  if (fp.address.empty()) {
    return absl::InvalidArgumentError(
        "fastpath.address is required for mode = \"dpdk\": the gateway owns "
        "that IPv4 address on its DPDK port (answers ARP for it, takes UDP "
        "to it)");
  }
  absl::StatusOr<std::uint32_t> address = ParseIpv4(fp.address, "address");
  if (!address.ok()) return address.status();
  std::uint32_t gateway_be = 0;
  if (!fp.gateway.empty()) {
    absl::StatusOr<std::uint32_t> g = ParseIpv4(fp.gateway, "gateway");
    if (!g.ok()) return g.status();
    gateway_be = *g;
  }
  if (fp.prefix_len < 0 || fp.prefix_len > 32) {
    return absl::InvalidArgumentError("fastpath.prefix_len must be 0..32");
  }
  std::vector<StaticNeighbour> statics;
  for (const std::string& n : fp.neighbours) {
    absl::StatusOr<StaticNeighbour> s = ParseStaticNeighbour(n);
    if (!s.ok()) return s.status();
    statics.push_back(*s);
  }
  if (fp.queues < 1 || fp.queues > RTE_MAX_QUEUES_PER_PORT) {
    return absl::InvalidArgumentError("fastpath.queues must be at least 1");
  }
  // One pool per queue feeds the RX ring (every descriptor holds an mbuf),
  // the TX descriptors still in flight, the RX burst held until the next
  // Receive and the TX burst being built: short of that, RX starves
  // (rx_nombuf) under a TX backlog. No per-lcore cache, so no slack for one.
  static_assert(DpdkDatagramIo::kRxBurst + DpdkDatagramIo::kTxBurst + 1 <=
                config::kDpdkPoolBurstSlack);
  const std::uint64_t needed =
      std::uint64_t{fp.rx_ring} + fp.tx_ring + config::kDpdkPoolBurstSlack;
  if (fp.frames < needed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fastpath.frames (", fp.frames,
        " mbufs per queue) is too few for fastpath.rx_ring (", fp.rx_ring,
        ") + fastpath.tx_ring (", fp.tx_ring, ") + ",
        config::kDpdkPoolBurstSlack,
        " for the bursts in hand: raise fastpath.frames to at least ", needed,
        " (a power of two) or lower the rings"));
  }

  std::vector<std::string> args = fp.eal_args;
  if (!dpdk_internal::NamesDevice(args) && !fp.interface.empty()) {
    args.push_back("--vdev");
    args.push_back("net_af_packet0,iface=" + fp.interface);
  }
  absl::StatusOr<dpdk_internal::EalStarted> eal = dpdk_internal::StartEal(args);
  if (!eal.ok()) return eal.status();
  if (eal->now) {
    eal_init_seconds.store(eal->init_seconds, std::memory_order_relaxed);
  }

  std::string port_vdev;
  absl::StatusOr<std::uint16_t> port_id = FindPort(args, &port_vdev);
  if (!port_id.ok()) return port_id.status();
  auto owner = std::make_shared<DpdkPort>();
  owner->port_id = *port_id;
  {
    std::lock_guard lock(ports_mu);
    if (!PortsInUse().insert(*port_id).second) {
      return absl::FailedPreconditionError(absl::StrCat(
          "DPDK port ", *port_id,
          " is already open in this process: close "
          "the other fast path (and every queue it gave out) first"));
    }
  }
  owner->claimed = true;
  owner->vdev = port_vdev;
  // Only now (the port is ours, its queues not set up yet, when the PMD
  // attaches the program): a stale program of ours comes off, a running
  // gateway's is refused.
  for (const std::string& vdev : dpdk_internal::VdevArgs(args)) {
    if (dpdk_internal::VdevName(vdev) == port_vdev &&
        port_vdev.starts_with("net_af_xdp") &&
        !VdevParam(vdev, "xdp_prog").empty()) {
      if (absl::Status s = RemoveStaleXdpProgram(VdevParam(vdev, "iface"));
          !s.ok()) {
        return s;
      }
    }
  }
  for (const std::string& v : dpdk_internal::VdevArgs(args)) {
    // The PMD attaches the program while its queues are set up: from here
    // on, a failed Open must take it off again too.
    if (dpdk_internal::VdevName(v) == port_vdev &&
        port_vdev.starts_with("net_af_xdp") &&
        !VdevParam(v, "xdp_prog").empty()) {
      owner->xdp_iface = VdevParam(v, "iface");
      owner->xdp_netns_fd =
          ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    }
  }
  const std::uint16_t pid = *port_id;

  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(pid, &info); rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("rte_eth_dev_info_get(port ", pid, "): ", ErrnoText(-rc)));
  }
  const auto queues = static_cast<std::uint16_t>(fp.queues);
  if (queues > info.max_rx_queues || queues > info.max_tx_queues) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fastpath.queues = ", fp.queues, " but DPDK port ", pid, " (",
        info.driver_name, ") has ", info.max_rx_queues, " RX and ",
        info.max_tx_queues, " TX queues; lower fastpath.queues"));
  }
  constexpr std::uint64_t kChecksumOffload =
      RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
  const bool offload =
      (info.tx_offload_capa & kChecksumOffload) == kChecksumOffload;

  rte_eth_conf conf{};
  if (offload) conf.txmode.offloads = kChecksumOffload;
  if (int rc = rte_eth_dev_configure(pid, queues, queues, &conf); rc != 0) {
    return absl::UnavailableError(absl::StrCat("rte_eth_dev_configure(port ",
                                               pid, ", ", queues,
                                               " queues): ", ErrnoText(-rc)));
  }
  owner->configured = true;
  std::uint16_t rx_desc = static_cast<std::uint16_t>(
      std::min<std::uint32_t>(fp.rx_ring, UINT16_MAX));
  std::uint16_t tx_desc = static_cast<std::uint16_t>(
      std::min<std::uint32_t>(fp.tx_ring, UINT16_MAX));
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &rx_desc, &tx_desc);
      rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("rte_eth_dev_adjust_nb_rx_tx_desc: ", ErrnoText(-rc)));
  }
  const int socket = rte_eth_dev_socket_id(pid);
  const unsigned generation = pool_generation.fetch_add(1);
  for (std::uint16_t q = 0; q < queues; ++q) {
    // No per-lcore cache: the workers are not EAL threads (dpdk_io.h).
    const std::string name = absl::StrFormat("tachyon_%u_%u", generation, q);
    const int pool_socket =
        socket < 0 ? static_cast<int>(SOCKET_ID_ANY) : socket;
    rte_mempool* pool =
        port_vdev.starts_with("net_af_xdp") && !rte_eal_has_hugepages()
            ? CreatePagePerMbufPool(name, fp.frames, pool_socket)
            : rte_pktmbuf_pool_create(name.c_str(), fp.frames, 0, 0,
                                      RTE_MBUF_DEFAULT_BUF_SIZE, pool_socket);
    if (pool == nullptr) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "DPDK could not create a pool of ", fp.frames, " mbufs for queue ", q,
          ": ", ErrnoText(rte_errno),
          "; give the EAL more memory (-m <MiB> with --no-huge, or more "
          "hugepages) or lower fastpath.frames"));
    }
    owner->pools.push_back(pool);
    if (int rc = rte_eth_rx_queue_setup(
            pid, q, rx_desc, static_cast<unsigned>(socket), nullptr, pool);
        rc != 0) {
      return absl::UnavailableError(
          absl::StrCat("rte_eth_rx_queue_setup(queue ", q, ", ", rx_desc,
                       " descriptors): ", ErrnoText(-rc),
                       " (the EAL's log above says why; net_af_xdp also fills "
                       "its fill ring from this pool; on veth, "
                       "native XDP needs the peer to have no more TX queues "
                       "than this side has RX queues)"));
    }
    rte_eth_txconf txconf = info.default_txconf;
    txconf.offloads = conf.txmode.offloads;
    if (int rc = rte_eth_tx_queue_setup(pid, q, tx_desc,
                                        static_cast<unsigned>(socket), &txconf);
        rc != 0) {
      return absl::UnavailableError(
          absl::StrCat("rte_eth_tx_queue_setup(queue ", q, ", ", tx_desc,
                       " descriptors): ", ErrnoText(-rc)));
    }
  }
  if (int rc = rte_eth_dev_start(pid); rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("rte_eth_dev_start(port ", pid, "): ", ErrnoText(-rc)));
  }
  owner->started = true;

  std::string xdp_note;
  int kernel_ifindex = 0;
  for (const std::string& vdev : dpdk_internal::VdevArgs(args)) {
    if (dpdk_internal::VdevName(vdev) != owner->vdev ||
        !owner->vdev.starts_with("net_af_xdp") ||
        VdevParam(vdev, "xdp_prog").empty()) {
      continue;
    }
    kernel_ifindex =
        static_cast<int>(if_nametoindex(VdevParam(vdev, "iface").c_str()));
    bool found = false;
    absl::Status added =
        AddPortToXdpProgram(VdevParam(vdev, "iface"), port, &found);
    if (!added.ok()) {
      return absl::Status(added.code(),
                          absl::StrCat("DPDK af_xdp port: ", added.message()));
    }
#ifdef TACHYON_DPDK_LIBBPF
    __u32 attached_id = 0;
    if (kernel_ifindex != 0 &&
        bpf_xdp_query_id(kernel_ifindex, 0, &attached_id) == 0) {
      owner->xdp_prog_id = attached_id;
    }
#endif
    xdp_note = found ? absl::StrCat(", XDP program redirects UDP port ", port)
                     : ", XDP program without tachyon_ports (left as is)";
  }

  rte_ether_addr ether{};
  if (int rc = rte_eth_macaddr_get(pid, &ether); rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("rte_eth_macaddr_get: ", ErrnoText(-rc)));
  }
  MacAddress mac;
  std::copy(std::begin(ether.addr_bytes), std::end(ether.addr_bytes),
            mac.bytes.begin());
  std::uint16_t mtu = 1500;
  if (rte_eth_dev_get_mtu(pid, &mtu) != 0) mtu = 1500;

  std::vector<std::unique_ptr<io::DatagramIo>> ios;
  for (std::uint16_t q = 0; q < queues; ++q) {
    DpdkDatagramIo::Options o;
    o.port_id = pid;
    o.queue = q;
    o.pool = owner->pools[q];
    o.mac = mac;
    o.address_be = *address;
    o.udp_port = port;
    o.prefix_len = fp.prefix_len;
    o.gateway_be = gateway_be;
    o.neighbours = statics;
    o.kernel_ifindex = kernel_ifindex;
    o.tx_checksum_offload = offload;
    o.mtu = mtu;
    o.max_datagram_bytes = config.udp.max_datagram_bytes;
    o.keepalive = owner;
    ios.push_back(std::make_unique<DpdkDatagramIo>(std::move(o), counters));
  }
  char port_name[RTE_ETH_NAME_MAX_LEN] = {};
  rte_eth_dev_get_name_by_port(pid, port_name);
  std::string description = absl::StrCat(
      "dpdk port ", pid, " (", port_name, ", ", info.driver_name, ") ",
      mac.ToString(), " ", fp.address, "/", fp.prefix_len,
      fp.gateway.empty() ? "" : " via ", fp.gateway, ", ", queues,
      queues == 1 ? " queue" : " queues", ", ", rx_desc, "/", tx_desc,
      " RX/TX descriptors, ", fp.frames, " mbufs per queue, MTU ", mtu,
      ", checksums ", offload ? "offloaded" : "in software", xdp_note,
      xdp_note.empty() ? ", non-UDP traffic dropped"
                       : ", other traffic stays with the kernel");
  if (eal->now) {
    absl::StrAppend(&description, absl::StrFormat(", EAL started in %.2f s",
                                                  eal->init_seconds));
  }
  return std::make_unique<DpdkFastPath>(std::move(description), std::move(ios));
}

}  // namespace tachyon::fastpath
