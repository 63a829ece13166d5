// MergedDatagramIo: one DatagramIo over two paths that receive for the same
// port, e.g. an AF_XDP queue and the kernel UDP socket that still gets what
// the XDP program leaves to the kernel (IP fragments, datagrams over
// loopback or another interface).
//
// Overview
//   Receive: reads one path into `out`, then the other into what is left,
//   starting with the other path on the next call so neither starves the
//   other when one fills the batch. A short return still means both are
//   drained. The spans stay valid until the next Receive, as each path's
//   do (a path is called at most once per Receive).
//
//   drops(): the sum of both paths'.
//
//   readiness_fd(): an epoll descriptor holding both paths' readiness
//   descriptors, level-triggered. It is readable while either path is, and
//   every new arrival on either wakes whoever waits on it, so it works
//   registered with the reactor edge- or level-triggered (epoll nests; an
//   io_uring poll on it works the same). If either path has no readiness
//   descriptor (-1: polled every pass) so is the merge.
//
//   Send, AddChannel and offloaded_sends(): the first path (the fast path);
//   the second only receives.
//
// Threading: one owner thread, like the paths it merges.
//
// Example
//   auto merged = MergedDatagramIo::Create(std::move(af_xdp_queue),
//                                          std::move(kernel_socket_io));
//   UdpIngress ingress(**merged, ...);  // one ingress: one dedupe per producer
#ifndef TACHYON_IO_MERGED_DATAGRAM_IO_H_
#define TACHYON_IO_MERGED_DATAGRAM_IO_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "absl/status/statusor.h"
#include "io/datagram_io.h"

namespace tachyon::io {

class MergedDatagramIo final : public DatagramIo {
 public:
  /// Takes both paths; creates the epoll descriptor.
  static absl::StatusOr<std::unique_ptr<MergedDatagramIo>> Create(
      std::unique_ptr<DatagramIo> first, std::unique_ptr<DatagramIo> second);
  ~MergedDatagramIo() override;
  MergedDatagramIo(const MergedDatagramIo&) = delete;
  MergedDatagramIo& operator=(const MergedDatagramIo&) = delete;

  /// The first path's name.
  [[nodiscard]] std::string_view name() const override {
    return first_->name();
  }
  int Receive(std::span<RxDatagram> out) override;
  [[nodiscard]] std::uint64_t drops() const override {
    return first_->drops() + second_->drops();
  }
  [[nodiscard]] int readiness_fd() const override { return epoll_fd_; }
  void Send(std::span<const TxRun> runs,
            std::span<TxRunResult> results) override {
    first_->Send(runs, results);
  }
  absl::StatusOr<int> AddChannel(const MulticastOptions& options) override {
    return first_->AddChannel(options);
  }
  [[nodiscard]] std::uint64_t offloaded_sends() const override {
    return first_->offloaded_sends();
  }

  [[nodiscard]] DatagramIo& first() { return *first_; }
  [[nodiscard]] DatagramIo& second() { return *second_; }

 private:
  MergedDatagramIo(std::unique_ptr<DatagramIo> first,
                   std::unique_ptr<DatagramIo> second);

  std::unique_ptr<DatagramIo> first_;
  std::unique_ptr<DatagramIo> second_;
  int epoll_fd_ = -1;
  bool second_first_ = false;  // which path the next Receive starts with
};

}  // namespace tachyon::io

#endif  // TACHYON_IO_MERGED_DATAGRAM_IO_H_
