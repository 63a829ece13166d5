#include "backend/endpoint_pool.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "backend/backend_router.h"
#include "base/log.h"

namespace tachyon::backend {

int PoolTarget(const config::BackendService& svc, double demand) {
  const double per_connection = std::max(1, svc.max_in_flight_per_connection);
  const double wanted =
      std::ceil(std::max(0.0, demand) * svc.prediction_ratio / per_connection);
  const double bounded =
      std::clamp(wanted, double(svc.pool_min),
                 double(std::max(svc.pool_min, svc.pool_max)));
  return static_cast<int>(bounded);
}

EndpointPool::EndpointPool(BackendRouter& router, Service& service,
                           std::string name, const sockaddr_in& addr,
                           EndpointCounters counters)
    : router_(router),
      service_(service),
      svc_(service.config),
      name_(std::move(name)),
      addr_(addr),
      counters_(std::move(counters)) {
  conns_.reserve(static_cast<std::size_t>(svc_.pool_max));
}

EndpointPool::~EndpointPool() = default;

BackendConnection* EndpointPool::LeastLoaded() const {
  BackendConnection* best = nullptr;
  for (const auto& c : conns_) {
    if (!c->HasRoom()) continue;
    if (best == nullptr || c->in_flight() < best->in_flight()) {
      best = c.get();
      if (best->in_flight() == 0) break;
    }
  }
  return best;
}

void EndpointPool::Grow(std::int64_t now_ns, int target) {
  if (closed_ || now_ns < ejected_until_ns_ || now_ns < next_connect_ns_) {
    return;
  }
  // After a failure only one probe at a time, until one logs on.
  const int want =
      consecutive_failures_ > 0 ? std::min(target, logged_on_ + 1) : target;
  for (int i = live(); i < want && i < svc_.pool_max; ++i) {
    auto c = std::make_unique<BackendConnection>(
        *this, svc_, router_.max_frame_length(), router_.reactor(),
        router_.clock());
    const std::int64_t jitter_ms = svc_.idle_retire_jitter_ms;
    c->retire_jitter_ns =
        router_.jitter().Between(-jitter_ms, jitter_ms) * 1'000'000;
    if (!c->Start(addr_)) {
      counters_.connect_failures.Add();
      Failed(now_ns);
      return;
    }
    ++connecting_;
    conns_.push_back(std::move(c));
  }
}

void EndpointPool::Tick(std::int64_t now_ns, int target) {
  for (std::size_t i = 0; i < conns_.size(); ++i) conns_[i]->Tick(now_ns);
  Grow(now_ns, target);
  if (logged_on_ > target) {
    // One retirement per tick: the connection idle longest past its time.
    for (const auto& c : conns_) {
      if (c->state() != BackendConnection::State::kReady ||
          c->in_flight() != 0) {
        continue;
      }
      const std::int64_t idle_for = now_ns - c->idle_since_ns();
      if (idle_for >
          std::int64_t{svc_.idle_retire_ms} * 1'000'000 + c->retire_jitter_ns) {
        c->Retire();
        break;
      }
    }
  }
  UpdateGauges(target);
}

void EndpointPool::UpdateGauges(int target) {
  int busy = 0;
  for (const auto& c : conns_) {
    if (c->logged_on() && c->in_flight() > 0) ++busy;
  }
  counters_.ready.Set(logged_on_);
  counters_.busy.Set(busy);
  counters_.connecting.Set(connecting_);
  counters_.predicted.Set(target);
}

void EndpointPool::CloseAll() {
  closed_ = true;
  for (std::size_t i = 0; i < conns_.size(); ++i) conns_[i]->Retire();
}

void EndpointPool::OnLoggedOn(BackendConnection* c) {
  static_cast<void>(c);
  --connecting_;
  ++logged_on_;
  consecutive_failures_ = 0;
  next_connect_ns_ = 0;
  counters_.connects.Add();
  counters_.ready.Set(logged_on_);
  counters_.connecting.Set(connecting_);
}

void EndpointPool::OnAnswer(std::uint32_t record,
                            protocol::ResponseStatus status,
                            std::span<const std::byte> payload) {
  router_.Answer(record, status, payload);
}

void EndpointPool::OnEnded(BackendConnection* c, ConnectionEnd how) {
  static_cast<void>(c);
  const std::int64_t now = router_.clock().now_ns();
  if (how == ConnectionEnd::kConnectFailed) {
    --connecting_;
    counters_.connect_failures.Add();
    Failed(now);
  } else {
    --logged_on_;
    if (how == ConnectionEnd::kFailed) {
      counters_.connect_failures.Add();
      Failed(now);
    }
  }
  counters_.ready.Set(logged_on_);
  counters_.connecting.Set(connecting_);
}

void EndpointPool::Failed(std::int64_t now_ns) {
  ++consecutive_failures_;
  const int shift = std::min(consecutive_failures_ - 1, 20);
  const std::int64_t backoff_ms =
      std::min<std::int64_t>(std::int64_t{svc_.reconnect_backoff_ms} << shift,
                             svc_.reconnect_backoff_max_ms);
  next_connect_ns_ =
      now_ns + router_.jitter().Between(backoff_ms / 2, backoff_ms) * 1'000'000;
  if (svc_.eject_after_failures > 0 &&
      consecutive_failures_ >= svc_.eject_after_failures) {
    ejected_until_ns_ = now_ns + std::int64_t{svc_.eject_ms} * 1'000'000;
    next_connect_ns_ = std::max(next_connect_ns_, ejected_until_ns_);
    counters_.ejections.Add();
    TACHYON_LOG(kWarn) << "backend '" << svc_.name << "' endpoint " << name_
                       << " ejected for " << svc_.eject_ms << " ms after "
                       << consecutive_failures_ << " consecutive failures";
  }
}

void EndpointPool::OnReleased(BackendConnection* c) {
  for (std::size_t i = 0; i < conns_.size(); ++i) {
    if (conns_[i].get() != c) continue;
    conns_[i] = std::move(conns_.back());
    conns_.pop_back();
    return;
  }
}

}  // namespace tachyon::backend
