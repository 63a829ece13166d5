// EndpointPool: one worker's connections to one endpoint of a service.
//
// Overview
//   The pool keeps its connections between the service's pool_min and
//   pool_max, aiming at the target its router computes from demand
//   (PoolTarget below): it starts connects toward the target, retires a
//   logged-on connection idle for idle_retire_ms (each spread by up to
//   +/- idle_retire_jitter_ms so that they do not all expire together)
//   while more are logged on than the target, and answers the router's
//   question "which connection has the fewest requests in flight".
//
//   Health: a failed connect, a rejected or silent logon and an
//   established connection that fails count as consecutive failures (a
//   logged-on connection resets the count). After each failure the next
//   connect waits a jittered exponential backoff (reconnect_backoff_ms
//   doubling up to reconnect_backoff_max_ms, each wait drawn from
//   [d/2, d]); eject_after_failures of them in a row eject the endpoint
//   for eject_ms (no connects, no requests), after which one probe connect
//   runs. An endpoint is routable when it is not ejected and either has a
//   logged-on connection or has not failed since its last success: a
//   service none of whose endpoints is routable answers UNAVAILABLE at once.
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
#include "base/clock.h"
#include "config/model.h"
#include "io/reactor.h"

namespace tachyon::backend {

class BackendRouter;
struct Service;

/// Connections one endpoint should have logged on for `demand` concurrent
/// requests (in flight plus queued) on this endpoint:
/// clamp(ceil(demand x prediction_ratio / max_in_flight_per_connection),
/// pool_min, pool_max).
int PoolTarget(const config::BackendService& svc, double demand);

/// A small, fast generator for jitter and for choosing endpoints.
class Jitter {
 public:
  explicit Jitter(std::uint64_t seed) : state_(seed | 1) {}
  std::uint64_t Next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }
  /// Uniform in [lo, hi] (hi >= lo).
  std::int64_t Between(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(
                    Next() % static_cast<std::uint64_t>(hi - lo + 1));
  }

 private:
  std::uint64_t state_;
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
    return now_ns >= ejected_until_ns_ &&
           (logged_on_ > 0 || consecutive_failures_ == 0);
  }
  [[nodiscard]] bool ejected(std::int64_t now_ns) const {
    return now_ns < ejected_until_ns_;
  }
  /// Connections open or opening.
  [[nodiscard]] int live() const { return logged_on_ + connecting_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  /// No connection objects left (all released).
  [[nodiscard]] bool empty() const { return conns_.empty(); }

  /// Connection ticks (heartbeats, silence, logon deadlines), connects
  /// toward `target`, idle retirement above it, gauges.
  void Tick(std::int64_t now_ns, int target);
  /// Starts connects toward `target` now if backoff and ejection allow.
  void Grow(std::int64_t now_ns, int target);
  /// Closes every connection (in-flight requests answered UNAVAILABLE)
  /// and connects no more.
  void CloseAll();

  // ConnectionOwner
  void OnLoggedOn(BackendConnection* c) override;
  void OnAnswer(std::uint32_t record, protocol::ResponseStatus status,
                std::span<const std::byte> payload) override;
  void OnLateResponse() override { counters_.late_responses.Add(); }
  void OnEnded(BackendConnection* c, ConnectionEnd how) override;
  void OnReleased(BackendConnection* c) override;

 private:
  void Failed(std::int64_t now_ns);
  void UpdateGauges(int target);

  BackendRouter& router_;
  Service& service_;
  const config::BackendService& svc_;
  const std::string name_;
  const sockaddr_in addr_;
  EndpointCounters counters_;
  std::vector<std::unique_ptr<BackendConnection>> conns_;
  int logged_on_ = 0;
  int connecting_ = 0;
  int consecutive_failures_ = 0;
  std::int64_t next_connect_ns_ = 0;
  std::int64_t ejected_until_ns_ = 0;
  bool closed_ = false;
};

}  // namespace tachyon::backend

#endif  // TACHYON_BACKEND_ENDPOINT_POOL_H_
