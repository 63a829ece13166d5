// CreateReactor: the choice between the io_uring and epoll reactors.
#include "io/reactor.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tachyon::io {

absl::StatusOr<std::unique_ptr<Reactor>> CreateReactor(
    config::IoBackend io, const ReactorOptions& options,
    std::string* chosen_reason) {
  std::string features;
  switch (io) {
    case config::IoBackend::kEpoll:
      if (chosen_reason != nullptr) *chosen_reason = "epoll (configured)";
      return CreateEpollReactor(options);
    case config::IoBackend::kUring: {
      absl::StatusOr<std::unique_ptr<Reactor>> r =
          CreateUringReactor(options, &features);
      if (r.ok() && chosen_reason != nullptr) {
        *chosen_reason = "io_uring (configured): " + features;
      }
      return r;
    }
    case config::IoBackend::kAuto: {
      absl::StatusOr<std::unique_ptr<Reactor>> r =
          CreateUringReactor(options, &features);
      if (r.ok()) {
        if (chosen_reason != nullptr) {
          *chosen_reason = "io_uring (auto): " + features;
        }
        return r;
      }
      if (chosen_reason != nullptr) {
        *chosen_reason = absl::StrCat(
            "epoll (auto: io_uring unavailable: ", r.status().message(), ")");
      }
      return CreateEpollReactor(options);
    }
  }
  return absl::InvalidArgumentError("unknown io backend");
}

}  // namespace tachyon::io
