#include "backend/backend_agent.h"

#include <utility>

namespace tachyon::backend {

absl::Status BackendAgent::OnStart(std::int64_t now_ns) {
  absl::StatusOr<std::unique_ptr<BackendRouter>> router =
      BackendRouter::Create(parts_);
  if (!router.ok()) return router.status();
  router_ = *std::move(router);
  router_->DoWork(now_ns);  // the pools' first connects
  return absl::OkStatus();
}

}  // namespace tachyon::backend
