// Fault injection for the io_uring reactor's tests. Internal to src/io.
//
// The kernel this runs on (6.18) never refuses a submission: completions
// that do not fit the completion queue go to its overflow list. Kernels may
// (io_uring_enter(2): EBUSY when overflowed completions cannot be flushed
// into a full completion queue; EAGAIN when requests cannot be allocated),
// and the reactor must then neither spin nor lose work. These switches make
// that reachable from a test.
#ifndef TACHYON_IO_URING_URING_FAULTS_H_
#define TACHYON_IO_URING_URING_FAULTS_H_

#include <cerrno>
#include <memory>

#include "absl/status/statusor.h"
#include "io/reactor.h"

namespace tachyon::io::internal {

/// Read and written by the reactor's thread only.
struct UringFaults {
  /// While set, each submission outside Poll's own (the flush of a full
  /// submission queue, the submit that makes a removal effective) returns
  /// `error` without reaching the kernel.
  bool refuse_submits = false;
  int error = -EBUSY;
  /// While set, such a submission first flushes overflowed completions
  /// into the completion queue as far as they fit, then fails with -EBUSY
  /// if some remain (IORING_SQ_CQ_OVERFLOW): what io_uring_enter(2)
  /// documents for EBUSY.
  bool busy_while_overflowing = false;
};

/// CreateUringReactor with `faults` (which must outlive the reactor).
absl::StatusOr<std::unique_ptr<Reactor>> CreateUringReactorWithFaults(
    const ReactorOptions& options, UringFaults* faults);

}  // namespace tachyon::io::internal

#endif  // TACHYON_IO_URING_URING_FAULTS_H_
