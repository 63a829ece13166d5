// tachyon/client/affinity.h — pinning threads to CPUs.
//
// Overview
//   A latency-sensitive consumer typically dedicates one core to the thread
//   that polls its Client (busy-polling with Poll(max, 0)), so that the
//   thread is never migrated and its caches stay warm. These helpers set a
//   thread's CPU affinity to exactly one CPU with pthread_setaffinity_np.
//   They are the client-side counterpart of the gateway's `pin_workers`.
//
//   Pinning restricts where the kernel may run the thread; it does not
//   reserve the CPU. For full isolation combine it with isolcpus / cpusets.
//   On a shared 2-core machine, pinning a spinning thread to the core that
//   runs the gateway's worker makes both slower: pin them apart.
//
// Errors
//   INVALID_ARGUMENT     `cpu` is negative, beyond CPU_SETSIZE, or not in the
//                        set of CPUs this process may use (cgroup / taskset);
//                        the message lists the CPUs that are allowed
//   FAILED_PRECONDITION  PinThreadToCpu on a std::thread that is not joinable
//   INTERNAL             any other failure of the system call, with errno
//
// Threading: both functions are thread-safe. PinThreadToCpu may be called
// from any thread while `thread` runs.
//
// Example
//   std::thread poller([&] { RunPollLoop(*client); });
//   if (absl::Status s = tachyon::client::PinThreadToCpu(poller, 3); !s.ok())
//     std::fprintf(stderr, "not pinned: %s\n", s.ToString().c_str());
#ifndef TACHYON_CLIENT_AFFINITY_H_
#define TACHYON_CLIENT_AFFINITY_H_

#include <thread>

#include "absl/status/status.h"

namespace tachyon::client {

/// Restricts the calling thread to CPU `cpu` (0-based, as in
/// /proc/cpuinfo). Takes effect before returning: the thread is running on
/// `cpu` when this returns OK.
absl::Status PinThisThreadToCpu(int cpu);

/// Restricts `thread` (running, joinable) to CPU `cpu`.
absl::Status PinThreadToCpu(std::thread& thread, int cpu);

}  // namespace tachyon::client

#endif  // TACHYON_CLIENT_AFFINITY_H_
