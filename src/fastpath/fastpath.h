// FastPath: the process-wide part of a kernel-bypass datagram path, and the
// per-queue DatagramIo each worker runs.
//
// Overview
//   [fastpath] mode "af_xdp" or "dpdk" replaces the kernel UDP socket under
//   UDP ingress and egress (io/datagram_io.h): validation, per-producer
//   dedupe, appends and egress packing run unchanged. Open() does what is
//   shared by the whole process once, before the workers start — AF_XDP:
//   load and attach our XDP program to the interface (replacing a stale one
//   of ours from a crashed run, and saying so); DPDK: start the EAL and the
//   port — then makes one DatagramIo per queue. Worker i takes queue i
//   (TakeQueue) and owns it from then on. Destroying the FastPath (after
//   the workers are gone) detaches the program / stops the port.
//
//   Every missing privilege or capability is a start-up error that names it
//   and what to do (run as root or grant CAP_NET_ADMIN and CAP_BPF, raise
//   the locked-memory limit or grant CAP_IPC_LOCK, name an existing
//   interface, lower the MTU for native XDP, use a build with DPDK): Open
//   checks them (fastpath/prerequisites.h) before it opens anything.
//
// Threading: Open, TakeQueue and the destructor on the gateway's control
// thread; each DatagramIo on the worker that took it.
#ifndef TACHYON_FASTPATH_FASTPATH_H_
#define TACHYON_FASTPATH_FASTPATH_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/counters.h"
#include "config/model.h"
#include "io/datagram_io.h"

namespace tachyon::fastpath {

class FastPath {
 public:
  /// Opens config.fastpath (mode af_xdp or dpdk) for UDP datagrams to
  /// `port` (the gateway's bound [udp] port). Counters go to `counters`
  /// (which must outlive the FastPath and its queues).
  static absl::StatusOr<std::unique_ptr<FastPath>> Open(
      const config::GatewayConfig& config, std::uint16_t port,
      base::CounterRegistry& counters);

  virtual ~FastPath() = default;

  /// "af_xdp" or "dpdk".
  [[nodiscard]] virtual std::string_view name() const = 0;
  /// Queues opened (config.fastpath.queues).
  [[nodiscard]] virtual int queues() const = 0;
  /// The DatagramIo of queue `q`, once (null afterwards or if out of range).
  virtual std::unique_ptr<io::DatagramIo> TakeQueue(int q) = 0;
  /// One line for the start-up banner: interface or port, mode (XDP mode,
  /// copy / zero-copy and why), queues, address.
  [[nodiscard]] virtual std::string Describe() const = 0;
};

/// The part every path shares: the banner line and the per-queue
/// DatagramIo, handed out once each. A path derives from it and fills the
/// queues (AddQueue) and the line (set_description) while it opens.
///
/// Destruction: the queues not taken are members of this base, so they
/// outlive the derived class's own members. A path whose members must go
/// after its queues (AfXdpPath: the XDP program detaches once its sockets
/// are closed) calls CloseQueues() in its destructor's body, which runs
/// before any member is destroyed.
///
/// Example:
///   class MyPath final : public QueuedFastPath {
///    public:
///     ~MyPath() override { CloseQueues(); }
///     std::string_view name() const override { return "my"; }
///   };
class QueuedFastPath : public FastPath {
 public:
  [[nodiscard]] int queues() const override {
    return static_cast<int>(queues_.size());
  }
  std::unique_ptr<io::DatagramIo> TakeQueue(int q) override {
    if (q < 0 || q >= queues()) return nullptr;
    return std::move(queues_[static_cast<std::size_t>(q)]);
  }
  [[nodiscard]] std::string Describe() const override { return description_; }

 protected:
  QueuedFastPath() = default;
  QueuedFastPath(std::string description,
                 std::vector<std::unique_ptr<io::DatagramIo>> queues)
      : description_(std::move(description)), queues_(std::move(queues)) {}

  void AddQueue(std::unique_ptr<io::DatagramIo> io) {
    queues_.push_back(std::move(io));
  }
  void set_description(std::string description) {
    description_ = std::move(description);
  }
  /// Destroys the queues not taken (those taken are their owners').
  void CloseQueues() { queues_.clear(); }

 private:
  std::string description_;
  std::vector<std::unique_ptr<io::DatagramIo>> queues_;
};

/// True if this build has the DPDK path (libdpdk-dev was found at configure
/// time).
bool HaveDpdk();
/// True if this build has the AF_XDP path (libxdp, libbpf and a clang with
/// the BPF target were found at configure time).
bool HaveAfXdp();

}  // namespace tachyon::fastpath

#endif  // TACHYON_FASTPATH_FASTPATH_H_
