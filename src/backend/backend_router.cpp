#include "backend/backend_router.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/strings.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::backend {

namespace tp = ::tachyon::protocol;

namespace {

// "host:port" -> an IPv4 address, once, at start.
absl::StatusOr<sockaddr_in> Resolve(const config::BackendService& svc,
                                    const std::string& endpoint) {
  const auto fail = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("backend service '", svc.name, "' endpoint '", endpoint,
                     "': ", AbslView(why)));
  };
  const std::size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon == 0 ||
      colon + 1 == endpoint.size()) {
    return fail("expected host:port");
  }
  const std::string host = endpoint.substr(0, colon);
  const std::string port = endpoint.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return fail(rc != 0 ? ::gai_strerror(rc) : "no IPv4 address");
  }
  sockaddr_in addr{};
  std::memcpy(&addr, found->ai_addr, sizeof addr);
  ::freeaddrinfo(found);
  return addr;
}

std::span<const std::byte> Text(const char* buf, int n, std::size_t cap) {
  const auto len = static_cast<std::size_t>(
      std::clamp<int>(n, 0, static_cast<int>(cap) - 1));
  return std::as_bytes(std::span<const char>(buf, len));
}

}  // namespace

BackendRouter::BackendRouter(const RouterParts& parts)
    : config_(*parts.config),
      reactor_(*parts.reactor),
      clock_(*parts.clock),
      max_frame_length_(parts.config->max_frame_length),
      unknown_(*parts.counters, "", parts.worker),
      table_(0),
      rng_((static_cast<std::uint64_t>(parts.worker) << 32) ^
           static_cast<std::uint64_t>(base::MonotonicNs())) {}

BackendRouter::~BackendRouter() = default;

absl::StatusOr<std::unique_ptr<BackendRouter>> BackendRouter::Create(
    const RouterParts& parts) {
  std::unique_ptr<BackendRouter> r(new BackendRouter(parts));
  std::size_t expected = 0;
  for (const config::BackendService& c : parts.config->backends) {
    absl::StatusOr<WarmSchedule> warm = WarmSchedule::Create(c);
    if (!warm.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "backend service '", c.name, "': ", warm.status().message()));
    }
    auto s = std::make_unique<Service>(c, *std::move(warm), *parts.counters,
                                       parts.worker);
    if (c.tls) {
      const std::size_t index =
          static_cast<std::size_t>(&c - parts.config->backends.data());
      absl::StatusOr<tls::SslCtxPtr> ctx = tls::CreateClientContext(
          {.ca_file = c.ca_file,
           .certificate = c.certificate,
           .private_key = c.private_key,
           .verify = true,
           .key_prefix = absl::StrCat("backends[", index, "].")});
      if (!ctx.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "backend service '", c.name, "': ", ctx.status().message()));
      }
      s->tls_ctx = *std::move(ctx);
      if (r->tls_counters_ == nullptr) {
        r->tls_counters_ = std::make_unique<tls::TlsCounters>(
            *parts.counters, parts.worker, "client");
      }
    }
    for (const std::string& e : c.endpoints) {
      absl::StatusOr<sockaddr_in> addr = Resolve(c, e);
      if (!addr.ok()) return addr.status();
      s->pools.push_back(std::make_unique<EndpointPool>(
          *r, *s, e, *addr,
          EndpointCounters(*parts.counters, c.name, e, parts.worker)));
    }
    // Room for the requests the pools' minimum and the queue can hold.
    expected += static_cast<std::size_t>(c.queue_limit) +
                c.endpoints.size() *
                    static_cast<std::size_t>(std::max(1, c.pool_min)) *
                    static_cast<std::size_t>(c.max_in_flight_per_connection);
    r->by_id_[c.id] = s.get();
    r->ids_by_name_[c.name] = c.id;
    r->services_.push_back(std::move(s));
  }
  if (r->tls_counters_ == nullptr) {
    r->tls_counters_ = std::make_unique<tls::TlsCounters>();
  }
  r->table_ = RequestTable(std::min<std::size_t>(expected, 1u << 20));
  return r;
}

Service* BackendRouter::Find(std::uint32_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

std::uint32_t BackendRouter::ServiceId(std::string_view name) const {
  const auto it = ids_by_name_.find(AbslView(name));
  return it == ids_by_name_.end() ? 0 : it->second;
}

std::string_view BackendRouter::ServiceName(std::uint32_t id) const {
  const Service* s = Find(id);
  return s == nullptr ? std::string_view() : std::string_view(s->config.name);
}

// ---------------------------------------------------------------- submit

void BackendRouter::AnswerNow(session::ResponseTarget* to,
                              ServiceCounters& counters,
                              const tp::RequestView& request,
                              tp::ResponseStatus status,
                              std::string_view text) {
  counters.Count(status);
  to->DeliverResponse(request.correlation_id(), request.service_id(), status,
                      tp::AsBytes(text));
}

void BackendRouter::Submit(session::ResponseTarget* from,
                           const tp::RequestView& request) {
  char text[200];
  Service* s = Find(request.service_id());
  if (s == nullptr) {
    const int n = std::snprintf(text, sizeof text,
                                "no backend service with id %u is configured",
                                request.service_id());
    AnswerNow(from, unknown_, request, tp::ResponseStatus::kNoSuchService,
              {text, static_cast<std::size_t>(std::clamp(n, 0, 199))});
    return;
  }
  const config::BackendService& c = s->config;
  if (draining_ || closed_) {
    const int n = std::snprintf(text, sizeof text,
                                "service '%s': the gateway is shutting down",
                                c.name.c_str());
    AnswerNow(from, s->counters, request, tp::ResponseStatus::kUnavailable,
              {text, static_cast<std::size_t>(std::clamp(n, 0, 199))});
    return;
  }
  // Read afresh: reactor callbacks run under the loop time read before the
  // poll, which may be a blocked wait ago, and the deadline starts now.
  const std::int64_t now = std::max(clock_.now_ns(), base::MonotonicNs());
  AddInterest(*s, from, now);
  BackendConnection* conn = Pick(*s, now);
  if (conn == nullptr) {
    if (!AnyRoutable(*s, now)) {
      const int n = std::snprintf(
          text, sizeof text,
          "service '%s': no healthy endpoint (%zu configured; failing or "
          "ejected)",
          c.name.c_str(), s->pools.size());
      AnswerNow(from, s->counters, request, tp::ResponseStatus::kUnavailable,
                {text, static_cast<std::size_t>(std::clamp(n, 0, 199))});
      return;
    }
    if (s->queued >= static_cast<std::uint32_t>(c.queue_limit)) {
      const int n = std::snprintf(
          text, sizeof text,
          "service '%s': every connection is full (pool_max %d per "
          "endpoint) and so is its queue (queue_limit %d)",
          c.name.c_str(), c.pool_max, c.queue_limit);
      AnswerNow(from, s->counters, request, tp::ResponseStatus::kOverloaded,
                {text, static_cast<std::size_t>(std::clamp(n, 0, 199))});
      return;
    }
  }
  if (conn != nullptr && !conn->Fits(request.payload().size())) {
    const int n = std::snprintf(
        text, sizeof text,
        "service '%s': a request of %zu bytes exceeds the backend's frame "
        "limit of %u bytes",
        c.name.c_str(),
        tp::RequestView::kFixedLength + request.payload().size(),
        conn->peer_max_frame_length());
    AnswerNow(from, s->counters, request, tp::ResponseStatus::kBackendError,
              {text, static_cast<std::size_t>(std::clamp(n, 0, 199))});
    return;
  }
  const std::uint32_t timeout_ms =
      request.timeout_ms() != 0 ? request.timeout_ms() : c.request_timeout_ms;
  const std::uint32_t i = table_.Allocate();
  PendingRequest& r = table_[i];
  r.target = from;
  r.service = s;
  r.client_correlation = request.correlation_id();
  r.timeout_ms = timeout_ms;
  table_.Schedule(i, now + std::int64_t{timeout_ms} * 1'000'000);
  if (conn != nullptr) {
    ++s->in_flight;
    Observe(*s, now);
    r.state = PendingRequest::State::kInFlight;
    r.conn = conn;
    r.forwarded_ns = now;
    const std::span<const std::byte> payload = request.payload();
    conn->SendRequest(i, c.id, timeout_ms, payload, r.slot);
    return;
  }
  // Queued: the payload is copied into the record's reused buffer.
  const std::span<const std::byte> payload = request.payload();
  r.payload.assign(payload.begin(), payload.end());
  r.state = PendingRequest::State::kQueued;
  r.prev = s->queue_tail;
  r.next = kNoIndex;
  if (s->queue_tail != kNoIndex) table_[s->queue_tail].next = i;
  s->queue_tail = i;
  if (s->queue_head == kNoIndex) s->queue_head = i;
  ++s->queued;
  s->counters.queue_depth.Set(s->queued);
  s->counters.queued.Add();
  Observe(*s, now);
  const SizingInput sizing = Sizing(*s, now);
  for (auto& p : s->pools) p->Resize(now, sizing);
}

BackendConnection* BackendRouter::Pick(Service& s, std::int64_t now_ns) {
  const std::size_t n = s.pools.size();
  if (n == 1) {
    return s.pools[0]->Routable(now_ns) ? s.pools[0]->LeastLoaded() : nullptr;
  }
  // Power of two choices: two endpoints at random, the one whose best
  // connection has fewer requests in flight.
  const std::size_t a = rng_.Next() % n;
  std::size_t b = rng_.Next() % (n - 1);
  if (b >= a) ++b;
  BackendConnection* ca =
      s.pools[a]->Routable(now_ns) ? s.pools[a]->LeastLoaded() : nullptr;
  BackendConnection* cb =
      s.pools[b]->Routable(now_ns) ? s.pools[b]->LeastLoaded() : nullptr;
  if (ca != nullptr && cb != nullptr) {
    return cb->in_flight() < ca->in_flight() ? cb : ca;
  }
  if (ca != nullptr || cb != nullptr) return ca != nullptr ? ca : cb;
  // Both chosen endpoints are full or down: any other with room.
  for (std::size_t i = 0; i < n; ++i) {
    if (i == a || i == b || !s.pools[i]->Routable(now_ns)) continue;
    if (BackendConnection* c = s.pools[i]->LeastLoaded()) return c;
  }
  return nullptr;
}

bool BackendRouter::AnyRoutable(const Service& s, std::int64_t now_ns) const {
  for (const auto& p : s.pools) {
    if (p->Routable(now_ns)) return true;
  }
  return false;
}

SizingInput BackendRouter::Sizing(const Service& s, std::int64_t now_ns) const {
  int healthy = 0;
  for (const auto& p : s.pools) {
    if (!p->ejected(now_ns)) ++healthy;
  }
  // Draining: the sessions can no longer call, so they are no demand.
  const double population = draining_
                                ? 0.0
                                : static_cast<double>(s.interested.size()) *
                                      s.config.prediction_per_session;
  return {.predicted = std::max(s.predictor.predicted(), population),
          .healthy_endpoints = healthy,
          .warm = s.warm.Active(clock_.realtime_ns())};
}

// ---------------------------------------------------------------- answers

void BackendRouter::Answer(std::uint32_t record, tp::ResponseStatus status,
                           std::span<const std::byte> payload) {
  PendingRequest& r = table_[record];
  Service& s = *r.service;
  table_.Unschedule(record);
  if (r.state == PendingRequest::State::kInFlight) {
    --s.in_flight;
  } else if (r.state == PendingRequest::State::kQueued) {
    Unlink(s, record);
  }
  session::ResponseTarget* to = r.target;
  const std::uint64_t correlation = r.client_correlation;
  table_.Free(record);
  Observe(s, clock_.now_ns());
  s.counters.Count(status);
  to->DeliverResponse(correlation, s.config.id, status, payload);
}

void BackendRouter::RecordRoundTrip(std::uint32_t record) {
  const PendingRequest& r = table_[record];
  // Read afresh: a RESPONSE is read under the loop time taken before the
  // poll that waited for it.
  const std::int64_t rtt = base::MonotonicNs() - r.forwarded_ns;
  if (r.state == PendingRequest::State::kInFlight && rtt >= 0) {
    r.service->counters.request_rtt.Record(static_cast<std::uint64_t>(rtt));
  }
}

void BackendRouter::Unlink(Service& s, std::uint32_t record) {
  PendingRequest& r = table_[record];
  if (r.prev != kNoIndex) {
    table_[r.prev].next = r.next;
  } else {
    s.queue_head = r.next;
  }
  if (r.next != kNoIndex) {
    table_[r.next].prev = r.prev;
  } else {
    s.queue_tail = r.prev;
  }
  r.prev = r.next = kNoIndex;
  --s.queued;
  s.counters.queue_depth.Set(s.queued);
}

void BackendRouter::Expire(std::uint32_t record) {
  PendingRequest& r = table_[record];
  Service& s = *r.service;
  char text[160];
  const int n = std::snprintf(text, sizeof text,
                              "service '%s' did not answer within %u ms%s",
                              s.config.name.c_str(), r.timeout_ms,
                              r.state == PendingRequest::State::kQueued
                                  ? " (waiting for a free connection)"
                                  : "");
  if (r.state == PendingRequest::State::kInFlight) {
    // Its answer, if it comes, is late.
    r.conn->ReleaseSlot(r.slot);
  }
  Answer(record, tp::ResponseStatus::kTimeout, Text(text, n, sizeof text));
}

void BackendRouter::NoteInterest(session::ResponseTarget* from,
                                 std::uint32_t service_id) {
  Service* s = Find(service_id);
  if (s == nullptr || draining_ || closed_) return;
  AddInterest(*s, from, std::max(clock_.now_ns(), base::MonotonicNs()));
}

void BackendRouter::AddInterest(Service& s, const session::ResponseTarget* from,
                                std::int64_t now_ns) {
  // A lookup per request once the session is known: no allocation.
  if (s.config.prediction_per_session <= 0 || !s.interested.insert(from).second)
    return;
  const SizingInput sizing = Sizing(s, now_ns);
  for (auto& p : s.pools) p->Resize(now_ns, sizing);
}

void BackendRouter::ForgetInterest(session::ResponseTarget* from) {
  // The pools shrink through idle retirement as usual.
  for (auto& s : services_) s->interested.erase(from);
}

void BackendRouter::CancelAll(session::ResponseTarget* from) {
  ForgetInterest(from);
  for (std::uint32_t i = 0; i < table_.size(); ++i) {
    PendingRequest& r = table_[i];
    if (r.state == PendingRequest::State::kFree || r.target != from) continue;
    Service& s = *r.service;
    table_.Unschedule(i);
    if (r.state == PendingRequest::State::kInFlight) {
      --s.in_flight;
      BackendConnection* c = r.conn;
      const std::uint32_t slot = r.slot;
      table_.Free(i);
      c->ReleaseSlot(slot);
    } else {
      Unlink(s, i);
      table_.Free(i);
    }
    Observe(s, clock_.now_ns());
  }
}

void BackendRouter::FailQueued(Service& s, tp::ResponseStatus status,
                               std::string_view text) {
  for (std::uint32_t guard = s.queued; guard > 0 && s.queue_head != kNoIndex;
       --guard) {
    Answer(s.queue_head, status, tp::AsBytes(text));
  }
}

// ---------------------------------------------------------------- duty cycle

int BackendRouter::DrainQueue(Service& s, std::int64_t now_ns) {
  int work = 0;
  for (std::uint32_t guard = s.queued; guard > 0 && s.queue_head != kNoIndex;
       --guard) {
    BackendConnection* c = Pick(s, now_ns);
    if (c == nullptr) break;
    const std::uint32_t i = s.queue_head;
    PendingRequest& r = table_[i];
    if (!c->Fits(r.payload.size())) {
      char text[160];
      const int n = std::snprintf(
          text, sizeof text,
          "service '%s': a request of %zu bytes exceeds the backend's frame "
          "limit of %u bytes",
          s.config.name.c_str(),
          tp::RequestView::kFixedLength + r.payload.size(),
          c->peer_max_frame_length());
      Answer(i, tp::ResponseStatus::kBackendError, Text(text, n, sizeof text));
      ++work;
      continue;
    }
    Unlink(s, i);
    ++s.in_flight;
    r.state = PendingRequest::State::kInFlight;
    r.conn = c;
    r.forwarded_ns = base::MonotonicNs();
    const std::int64_t left_ms = std::max<std::int64_t>(
        1, (r.deadline_ns - now_ns + 999'999) / 1'000'000);
    c->SendRequest(i, s.config.id, static_cast<std::uint32_t>(left_ms),
                   r.payload, r.slot);
    ++work;
  }
  return work;
}

int BackendRouter::DoWork(std::int64_t now_ns) {
  int work = 0;
  for (int guard = 0; guard < 4096; ++guard) {
    const std::uint32_t i = table_.Earliest();
    if (i == kNoIndex || table_[i].deadline_ns > now_ns) break;
    Expire(i);
    ++work;
  }
  if (now_ns >= next_tick_ns_) {
    next_tick_ns_ = now_ns + kTickNs;
    TickPools(now_ns);
  }
  for (auto& s : services_) {
    if (s->queued == 0) continue;
    work += DrainQueue(*s, now_ns);
    if (s->queued > 0 && !AnyRoutable(*s, now_ns)) {
      char text[160];
      const int n = std::snprintf(text, sizeof text,
                                  "service '%s': no healthy endpoint (%zu "
                                  "configured; failing or ejected)",
                                  s->config.name.c_str(), s->pools.size());
      const std::uint32_t failed = s->queued;
      FailQueued(*s, tp::ResponseStatus::kUnavailable,
                 std::string_view(
                     text, static_cast<std::size_t>(std::clamp(n, 0, 159))));
      work += static_cast<int>(failed);
    }
  }
  if (draining_ && !closed_ && table_.live() == 0) CloseAll();
  return work;
}

void BackendRouter::TickPools(std::int64_t now_ns) {
  for (auto& s : services_) {
    Observe(*s, now_ns);
    const SizingInput sizing = Sizing(*s, now_ns);
    for (auto& p : s->pools) p->Tick(now_ns, sizing);
  }
}

std::int64_t BackendRouter::NextDeadlineNs() const {
  return std::min(table_.EarliestDeadlineNs(), next_tick_ns_);
}

bool BackendRouter::Drained() const {
  if (table_.live() != 0 || !closed_) return false;
  for (const auto& s : services_) {
    for (const auto& p : s->pools) {
      if (!p->empty()) return false;
    }
  }
  return true;
}

void BackendRouter::CloseAll() {
  closed_ = true;
  for (auto& s : services_) {
    for (auto& p : s->pools) p->CloseAll();
    FailQueued(*s, tp::ResponseStatus::kUnavailable,
               "the gateway is shutting down");
  }
}

}  // namespace tachyon::backend
