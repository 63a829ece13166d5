#include "tachyon/client/affinity.h"

#include <pthread.h>
#include <sched.h>

#include <cerrno>
#include <string>

#include "absl/strings/str_cat.h"
#include "socket.h"

namespace tachyon::client {
namespace {

// "0-3,6" for the CPUs the calling thread's process may use.
std::string AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return "unknown";
  std::string out;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    int last = cpu;
    while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, &set)) ++last;
    absl::StrAppend(&out, out.empty() ? "" : ",", cpu);
    if (last > cpu) absl::StrAppend(&out, "-", last);
    cpu = last;
  }
  return out.empty() ? "none" : out;
}

absl::Status Pin(pthread_t thread, int cpu, const char* who) {
  if (cpu < 0 || cpu >= CPU_SETSIZE) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot pin ", who, " to CPU ", cpu, ": CPU ids are 0..",
                     CPU_SETSIZE - 1, " (allowed here: ", AllowedCpus(), ")"));
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  // Returns the error number rather than setting errno.
  const int rc = ::pthread_setaffinity_np(thread, sizeof set, &set);
  if (rc == 0) return absl::OkStatus();
  if (rc == EINVAL) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot pin ", who, " to CPU ", cpu,
        ": not available to this process (allowed: ", AllowedCpus(), ")"));
  }
  return absl::InternalError(absl::StrCat("cannot pin ", who, " to CPU ", cpu,
                                          ": ", internal::ErrnoText(rc)));
}

}  // namespace

absl::Status PinThisThreadToCpu(int cpu) {
  return Pin(::pthread_self(), cpu, "this thread");
}

absl::Status PinThreadToCpu(std::thread& thread, int cpu) {
  if (!thread.joinable()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot pin a thread that is not running (not joinable) "
                     "to CPU ",
                     cpu));
  }
  return Pin(thread.native_handle(), cpu, "thread");
}

}  // namespace tachyon::client
