// Fault injection for the io_uring reactor's tests. Internal to src/io.
//
// The kernel this runs on never refuses a submission (completions that do
// not fit the completion queue go to its overflow list), so the reactor's
// handling of a submission queue that stays full (older kernels return
// -EBUSY while that list cannot be flushed; any kernel may return -EAGAIN
// when it cannot allocate requests) cannot be reached from a test without
// this.
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
};

/// CreateUringReactor with `faults` (which must outlive the reactor).
absl::StatusOr<std::unique_ptr<Reactor>> CreateUringReactorWithFaults(
    const ReactorOptions& options, UringFaults* faults);

}  // namespace tachyon::io::internal

#endif  // TACHYON_IO_URING_URING_FAULTS_H_
