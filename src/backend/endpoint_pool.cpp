#include "backend/endpoint_pool.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "backend/backend_router.h"
#include "base/log.h"
#include "base/log_limit.h"

namespace tachyon::backend {

EndpointPool::EndpointPool(BackendRouter& router, Service& service,
                           std::string name, const sockaddr_in& addr,
                           EndpointCounters counters)
    : router_(router),
      service_(service),
      svc_(service.config),
      name_(std::move(name)),
      addr_(addr),
      counters_(std::move(counters)),
      backoff_(service.config),
      health_(service.config) {
  const auto max = static_cast<std::size_t>(std::max(1, svc_.pool_max));
  conns_.reserve(max);
  ready_view_.reserve(max);
  ready_index_.reserve(max);
  retire_out_.resize(max);
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

void EndpointPool::Tick(std::int64_t now_ns, const SizingInput& in) {
  for (std::size_t i = 0; i < conns_.size(); ++i) conns_[i]->Tick(now_ns);
  Resize(now_ns, in);
}

void EndpointPool::Resize(std::int64_t now_ns, const SizingInput& in) {
  const PoolSizer& sizer = service_.sizer;
  ready_view_.clear();
  ready_index_.clear();
  for (std::size_t i = 0; i < conns_.size(); ++i) {
    BackendConnection& c = *conns_[i];
    if (c.state() != BackendConnection::State::kReady) continue;
    const bool idle = c.in_flight() == 0;
    if (idle && c.retire_stamped_idle_ns != c.idle_since_ns()) {
      // Stamped once per idle spell, so its jitter is drawn once.
      c.retire_stamped_idle_ns = c.idle_since_ns();
      c.retire_at_ns = sizer.RetireDeadline(c.idle_since_ns(), router_.rng());
    }
    ready_view_.push_back({.idle = idle, .retire_at_ns = c.retire_at_ns});
    ready_index_.push_back(i);
  }
  const PoolPlan plan =
      sizer.Plan(now_ns,
                 {.predicted = in.predicted,
                  .healthy_endpoints = in.healthy_endpoints,
                  .warm = in.warm,
                  .may_connect = !closed_ && health_.Available(now_ns) &&
                                 backoff_.MayAttempt(now_ns),
                  .connecting = connecting_,
                  .ready = ready_view_},
                 retire_out_);
  target_ = plan.target;
  for (int i = 0; i < plan.retire; ++i) {
    // Retire answers nothing (the connection is idle) and leaves conns_
    // as it is until OnReleased.
    conns_[ready_index_[static_cast<std::size_t>(retire_out_[i])]]->Retire(
        false);
  }
  int connect = plan.connect;
  // After a failure, one probe at a time until a connection logs on.
  if (backoff_.failures() > 0) connect = std::min(connect, 1 - connecting_);
  for (int i = 0; i < connect; ++i) {
    if (static_cast<int>(conns_.size()) >= svc_.pool_max || closed_) break;
    Connect(now_ns);
  }
  UpdateGauges(in.predicted, now_ns);
}

void EndpointPool::Connect(std::int64_t now_ns) {
  auto c = std::make_unique<BackendConnection>(
      *this, svc_, name_, router_.max_frame_length(), router_.reactor(),
      router_.clock());
  if (service_.tls_ctx != nullptr) {
    // SNI and the name checked: server_name, else the endpoint's host.
    const std::string host = !svc_.server_name.empty()
                                 ? svc_.server_name
                                 : name_.substr(0, name_.rfind(':'));
    if (!c->UseTls(service_.tls_ctx.get(), router_.tls_counters(), host)) {
      counters_.connect_failures.Add();
      Failed(now_ns);
      return;
    }
  }
  if (!c->Start(addr_)) {
    counters_.connect_failures.Add();
    Failed(now_ns);
    return;
  }
  ++connecting_;
  conns_.push_back(std::move(c));
}

void EndpointPool::UpdateGauges(double predicted, std::int64_t now_ns) {
  int busy = 0;
  for (const auto& c : conns_) {
    if (c->logged_on() && c->in_flight() > 0) ++busy;
  }
  counters_.ready.Set(logged_on_);
  counters_.busy.Set(busy);
  counters_.connecting.Set(connecting_);
  counters_.predicted.Set(static_cast<std::int64_t>(std::ceil(predicted)));
  counters_.target.Set(target_);
  const bool ejected = !health_.Available(now_ns);
  counters_.ejected.Set(ejected ? 1 : 0);
  counters_.backing_off.Set(
      !ejected && logged_on_ == 0 && !backoff_.MayAttempt(now_ns) ? 1 : 0);
}

void EndpointPool::CloseAll() {
  closed_ = true;
  for (std::size_t i = 0; i < conns_.size(); ++i) conns_[i]->Retire(true);
}

void EndpointPool::OnLoggedOn(BackendConnection* c) {
  static_cast<void>(c);
  --connecting_;
  ++logged_on_;
  if (logged_on_ == 1) {
    TACHYON_LOG_LIMITED(kInfo, kBackend)
        << "backend '" << svc_.name << "' endpoint " << name_
        << " up: first connection logged on";
  }
  backoff_.OnSuccess();
  health_.OnSuccess(router_.clock().now_ns());
  counters_.connects.Add();
  counters_.ready.Set(logged_on_);
  counters_.connecting.Set(connecting_);
}

void EndpointPool::OnResponse(std::uint32_t record) {
  router_.RecordRoundTrip(record);
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
  } else if (how == ConnectionEnd::kAbandoned) {
    --connecting_;
  } else {
    --logged_on_;
    if (how == ConnectionEnd::kFailed) {
      counters_.connect_failures.Add();
      Failed(now);
    }
    // A retired connection is the pool shrinking, not the endpoint failing.
    if (logged_on_ == 0 && how == ConnectionEnd::kFailed && !closed_) {
      TACHYON_LOG_LIMITED(kInfo, kBackend)
          << "backend '" << svc_.name << "' endpoint " << name_
          << " down: its last logged-on connection failed";
    }
  }
  counters_.ready.Set(logged_on_);
  counters_.connecting.Set(connecting_);
}

void EndpointPool::Failed(std::int64_t now_ns) {
  backoff_.OnFailure(now_ns, router_.rng());
  if (health_.OnFailure(now_ns)) {
    counters_.ejections.Add();
    TACHYON_LOG_LIMITED(kWarn, kBackend)
        << "backend '" << svc_.name << "' endpoint " << name_
        << " down: ejected after " << svc_.eject_after_failures
        << " consecutive failures";
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
