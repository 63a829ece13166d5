#include "fastpath/af_xdp/af_xdp_path.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "fastpath/af_xdp/af_xdp_io.h"
#include "fastpath/af_xdp/xdp_program.h"
#include "fastpath/neighbours.h"

namespace tachyon::fastpath::af_xdp {
namespace {

std::string Ip(std::uint32_t be) {
  char text[INET_ADDRSTRLEN] = "";
  in_addr a{be};
  ::inet_ntop(AF_INET, &a, text, sizeof text);
  return text;
}

absl::StatusOr<std::uint32_t> ParseIp(const std::string& text,
                                      std::string_view what) {
  in_addr a{};
  if (::inet_pton(AF_INET, text.c_str(), &a) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(what), " '", text, "' is not an IPv4 address"));
  }
  return a.s_addr;
}

class AfXdpPath final : public QueuedFastPath {
 public:
  explicit AfXdpPath(std::unique_ptr<XdpProgram> program)
      : program_(std::move(program)) {}
  // The queues not taken (in the base, which outlives program_) close
  // their sockets here, before the program detaches.
  ~AfXdpPath() override { CloseQueues(); }

  [[nodiscard]] std::string_view name() const override { return "af_xdp"; }

  using QueuedFastPath::AddQueue;
  using QueuedFastPath::set_description;

 private:
  std::unique_ptr<XdpProgram> program_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<FastPath>> OpenAfXdp(
    const config::GatewayConfig& config, std::uint16_t port,
    base::CounterRegistry& counters) {
  const config::FastPathOptions& f = config.fastpath;
  if (f.interface.empty()) {
    return absl::InvalidArgumentError(
        "fastpath.mode = \"af_xdp\" needs fastpath.interface");
  }
  if (port == 0) {
    return absl::InvalidArgumentError(
        "the AF_XDP path needs a fixed [udp] port (not 0)");
  }
  if (f.queues < 1 || f.start_queue < 0) {
    return absl::InvalidArgumentError("fastpath.queues must be >= 1");
  }

  // The address we accept datagrams for (0: any).
  std::uint32_t accept_be = 0;
  if (!f.address.empty()) {
    absl::StatusOr<std::uint32_t> a = ParseIp(f.address, "fastpath.address");
    if (!a.ok()) return a.status();
    accept_be = *a;
  } else {
    const std::string& bind =
        config.udp.bind.empty() ? config.bind : config.udp.bind;
    absl::StatusOr<std::uint32_t> a = ParseIp(bind, "udp.bind");
    if (a.ok() && *a != INADDR_ANY && (ntohl(*a) >> 24) != 127) accept_be = *a;
  }
  absl::StatusOr<InterfaceInfo> info = ReadInterface(f.interface);
  if (!info.ok()) {
    return absl::Status(
        info.status().code(),
        absl::StrCat("fastpath.interface: ", info.status().message()));
  }
  if (f.start_queue + f.queues > info->rx_queues) {
    return absl::InvalidArgumentError(absl::StrCat(
        f.interface, " has ", info->rx_queues,
        " RX queue(s); fastpath.start_queue (", f.start_queue, ") + queues (",
        f.queues, ") must not exceed that (`ethtool -l ", f.interface, "`)"));
  }
  const std::uint32_t source_be = accept_be != 0 ? accept_be : info->address_be;
  if (source_be == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        f.interface,
        " has no IPv4 address to send from: add one, or set fastpath.address"));
  }
  std::vector<StaticNeighbour> statics;
  for (const std::string& text : f.neighbours) {
    absl::StatusOr<StaticNeighbour> n = ParseStaticNeighbour(text);
    if (!n.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("fastpath.neighbours: ", n.status().message()));
    }
    statics.push_back(*n);
  }

  absl::StatusOr<std::unique_ptr<XdpProgram>> program =
      XdpProgram::Attach({.interface = f.interface,
                          .mode = f.xdp_mode,
                          .ports = {port},
                          .address_be = accept_be});
  if (!program.ok()) return program.status();
  const int map_fd = (*program)->xsks_map_fd();
  const bool replaced = (*program)->replaced_stale();
  auto path = std::make_unique<AfXdpPath>(*std::move(program));

  std::string copy_reason;
  bool zero_copy = false;
  for (int i = 0; i < f.queues; ++i) {
    AfXdpQueueOptions q;
    q.interface = f.interface;
    q.queue_id = static_cast<std::uint32_t>(f.start_queue + i);
    q.queue_index = i;
    q.xsks_map_fd = map_fd;
    q.xdp_mode = f.xdp_mode;
    q.bind = f.xdp_bind;
    q.frames = f.frames;
    q.frame_size = f.frame_size;
    q.rx_ring = f.rx_ring;
    q.tx_ring = f.tx_ring;
    q.fill_ring = f.fill_ring;
    q.completion_ring = f.completion_ring;
    q.address_be = accept_be;
    q.source_be = source_be;
    q.port = port;
    q.mac = info->mac;
    q.prefix_len = info->prefix_len;
    q.gateway_be = info->gateway_be;
    q.neighbours = statics;
    q.max_datagram_bytes = config.udp.max_datagram_bytes;
    q.mtu = info->mtu;
    absl::StatusOr<std::unique_ptr<AfXdpDatagramIo>> io =
        AfXdpDatagramIo::Create(q, counters);
    if (!io.ok()) return io.status();
    zero_copy = (*io)->zero_copy();
    if (copy_reason.empty()) copy_reason = (*io)->copy_reason();
    path->AddQueue(*std::move(io));
  }
  path->set_description(absl::StrCat(
      "af_xdp on ", f.interface, " (", info->mac.ToString(), ", ",
      Ip(source_be), "/", info->prefix_len, "), XDP ",
      f.xdp_mode == config::XdpMode::kGeneric ? "generic" : "native", " mode, ",
      zero_copy ? "zero-copy" : "copy",
      copy_reason.empty() ? "" : absl::StrCat(" (", copy_reason, ")"),
      ", queues ", f.start_queue, "..", f.start_queue + f.queues - 1,
      ", UDP port ", port, accept_be == 0 ? " on any address" : "",
      replaced ? ", replaced a stale XDP program of ours" : ""));
  return std::unique_ptr<FastPath>(std::move(path));
}

}  // namespace tachyon::fastpath::af_xdp
