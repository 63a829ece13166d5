// EndpointPool: one worker's connections to one endpoint of a service.
//
// Overview
//   At every pool tick (and when a request has to queue) the pool asks the
//   service's PoolSizer (pool_sizer.h) for a plan, from the service's
//   predicted demand (demand_predictor.h), the number of healthy endpoints
//   and whether a scheduled warm-up is active (warm_schedule.h): it starts
//   the connects the plan asks for and retires the idle connections whose
//   jittered retirement deadline passed while more than the target are
//   ready. Routing asks it for its least-loaded connection with room.
//
//   Health: a failed connect, a rejected or unanswered logon and an
//   established connection that fails are failures. Each one feeds the
//   endpoint's ReconnectBackoff (jittered exponential wait before the next
//   connect) and its EndpointHealth (consecutive failures eject the
//   endpoint for a doubling time; no connects and no requests meanwhile);
//   a connection that logs on is a success for both. While the endpoint
//   has failed since its last success, only one connect at a time runs (a
//   probe). It is routable when it is not ejected and either has a
//   logged-on connection or has not failed since its last success: a
//   service none of whose endpoints is routable answers UNAVAILABLE at once.
//
// Example (what BackendRouter does at each tick):
//   pool->Tick(now_ns, {.predicted = service.predictor.predicted(),
//                       .healthy_endpoints = healthy, .warm = warm});
//   if (BackendConnection* c = pool->LeastLoaded()) ...
//
// Threading: the worker's thread only.
#ifndef TACHYON_BACKEND_ENDPOINT_POOL_H_
#define TACHYON_BACKEND_ENDPOINT_POOL_H_

#include <netinet/in.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend_connection.h"
#include "backend/backend_counters.h"
#include "backend/endpoint_health.h"
#include "backend/pool_sizer.h"
#include "backend/reconnect_backoff.h"
#include "config/model.h"

namespace tachyon::backend {

class BackendRouter;
struct Service;

/// What sizing needs from the service at a tick.
struct SizingInput {
  /// max(DemandPredictor::predicted(), interested sessions x
  /// prediction_per_session) (backend_router.h)
  double predicted = 0.0;
  int healthy_endpoints = 1;  ///< the service's endpoints not ejected
  bool warm = false;          ///< a scheduled warm-up is active
};

class EndpointPool final : public ConnectionOwner {
 public:
  EndpointPool(BackendRouter& router, Service& service, std::string name,
               const sockaddr_in& addr, EndpointCounters counters);
  ~EndpointPool();
  EndpointPool(const EndpointPool&) = delete;
  EndpointPool& operator=(const EndpointPool&) = delete;

  /// The logged-on connection with room and the fewest requests in flight,
  /// or nullptr.
  [[nodiscard]] BackendConnection* LeastLoaded() const;
  /// See the overview.
  [[nodiscard]] bool Routable(std::int64_t now_ns) const {
    return health_.Available(now_ns) &&
           (logged_on_ > 0 || backoff_.failures() == 0);
  }
  [[nodiscard]] bool ejected(std::int64_t now_ns) const {
    return !health_.Available(now_ns);
  }
  [[nodiscard]] const std::string& name() const { return name_; }
  /// No connection objects left (all released).
  [[nodiscard]] bool empty() const { return conns_.empty(); }

  /// Connection ticks (heartbeats, silence, logon deadlines), then Resize.
  void Tick(std::int64_t now_ns, const SizingInput& in);
  /// Connects and retirements the sizer's plan asks for now; gauges.
  void Resize(std::int64_t now_ns, const SizingInput& in);
  /// Closes every connection (in-flight requests answered UNAVAILABLE)
  /// and connects no more.
  void CloseAll();

  // ConnectionOwner
  void OnLoggedOn(BackendConnection* c) override;
  void OnAnswer(std::uint32_t record, protocol::ResponseStatus status,
                std::span<const std::byte> payload) override;
  void OnResponse(std::uint32_t record) override;
  void OnLateResponse() override { counters_.late_responses.Add(); }
  void OnEnded(BackendConnection* c, ConnectionEnd how) override;
  void OnReleased(BackendConnection* c) override;

 private:
  void Failed(std::int64_t now_ns);
  void Connect(std::int64_t now_ns);
  void UpdateGauges(double predicted, std::int64_t now_ns);

  BackendRouter& router_;
  Service& service_;
  const config::BackendService& svc_;
  const std::string name_;
  const sockaddr_in addr_;
  EndpointCounters counters_;
  ReconnectBackoff backoff_;
  EndpointHealth health_;
  std::vector<std::unique_ptr<BackendConnection>> conns_;
  // Resize's scratch, sized pool_max up front: the ready connections as
  // the sizer sees them, their places in conns_, and its retirements.
  std::vector<ReadyConnection> ready_view_;
  std::vector<std::size_t> ready_index_;
  std::vector<int> retire_out_;
  int logged_on_ = 0;
  int connecting_ = 0;
  int target_ = 0;
  bool closed_ = false;
};

}  // namespace tachyon::backend

#endif  // TACHYON_BACKEND_ENDPOINT_POOL_H_
