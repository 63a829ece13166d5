// BackendAgent: a worker's backend pools in its duty cycle.
//
// Overview
//   The agent runs the worker's BackendRouter (backend_router.h), which the
//   worker creates first (BackendRouter::Create resolves every endpoint
//   once; a failure is a config error naming the service and the endpoint,
//   and stops the gateway's start) and hands to its sessions. OnStart
//   starts the pools' minimum connections; DoWork expires deadlines, ticks the
//   pools every BackendRouter::kTickNs (sizing, connects, retirements,
//   heartbeats, silence) and sends queued requests; NextDeadlineNs is the
//   earliest request deadline or pool tick, so a blocking idle strategy wakes
//   in time. A graceful stop answers new requests UNAVAILABLE and, once none is
//   outstanding, closes every backend connection.
//
//   Sessions reach the router through SessionAgentParts::router.
//
// Example:
//   auto agent = std::make_unique<BackendAgent>(*std::move(router));
//   runner.Add(agent.get());
//
// Threading: the worker's thread only.
#ifndef TACHYON_BACKEND_BACKEND_AGENT_H_
#define TACHYON_BACKEND_BACKEND_AGENT_H_

#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

#include "backend/backend_router.h"
#include "io/agent.h"

namespace tachyon::backend {

class BackendAgent final : public io::Agent {
 public:
  explicit BackendAgent(std::unique_ptr<BackendRouter> router)
      : router_(std::move(router)) {}

  [[nodiscard]] BackendRouter* router() const { return router_.get(); }

  // io::Agent
  [[nodiscard]] std::string_view name() const override { return "backends"; }
  absl::Status OnStart(std::int64_t now_ns) override {
    router_->DoWork(now_ns);  // the pools' first connects
    return absl::OkStatus();
  }
  int DoWork(std::int64_t now_ns) override { return router_->DoWork(now_ns); }
  [[nodiscard]] std::int64_t NextDeadlineNs() const override {
    return router_->NextDeadlineNs();
  }
  void OnDrain(std::int64_t now_ns) override {
    static_cast<void>(now_ns);
    router_->BeginDrain();
  }
  [[nodiscard]] bool Drained() const override { return router_->Drained(); }
  void OnAbort() override { router_->CloseAll(); }

 private:
  std::unique_ptr<BackendRouter> router_;
};

}  // namespace tachyon::backend

#endif  // TACHYON_BACKEND_BACKEND_AGENT_H_
