// BackendRouter: a worker's backend services, and the RequestRouter its
// sessions hand REQUESTs to (session/request_router.h).
//
// Overview
//   Per configured service: one EndpointPool per endpoint, a bounded FIFO
//   of requests waiting for a connection, and counters. Submit answers
//   at once when it can:
//     unknown service id              NO_SUCH_SERVICE
//     no routable endpoint            UNAVAILABLE (never after a wait)
//     a connection with room          sent now: to the least-loaded of two
//                                     randomly chosen routable endpoints
//                                     (power of two choices), each
//                                     offering its least-loaded connection
//     too large for the backend       BACKEND_ERROR (its LOGON_ACK's
//                                     max_frame_length), not sent
//     else, room in the queue         queued (and the pools resize now)
//     else                            OVERLOADED (sessions below protocol
//                                     version 3 get UNAVAILABLE
//                                     "overloaded: ..."). A full queue is
//                                     overload even while the pools are
//                                     still growing: queue_limit bounds
//                                     the wait a burst can build up.
//   Every accepted request has a deadline (its REQUEST's timeout_ms, or the
//   service's request_timeout_ms when 0) on the gateway's own timer, an
//   indexed heap (request_table.h): when it passes the client gets TIMEOUT,
//   the connection slot is released and a later answer is dropped and
//   counted. A backend connection that fails answers its requests itself
//   (backend_connection.h); they are not retried elsewhere, so no request
//   waits past a failure it cannot recover from. Queued requests are sent
//   as connections gain room, oldest first, and answered UNAVAILABLE once
//   no endpoint of their service is routable. CancelAll forgets a
//   session's requests (answers that arrive later are counted as late).
//   Exactly one answer per request: every path frees its record.
//
//   Pool sizes follow each service's DemandPredictor (requests in flight
//   plus queued on this worker, observed whenever it changes and at every
//   tick) through its PoolSizer, with its WarmSchedule (pool_sizer.h and
//   the files it names). The prediction is never below the service's
//   interested sessions (those on this worker that looked it up or sent it
//   a REQUEST, until they end) times prediction_per_session: a population
//   that has resolved a service finds its connections ready when it starts
//   calling, all at once if need be, where a trend only sees the load once
//   it has arrived.
//
//   Nothing allocates per request in steady state: records, their payload
//   buffers (queued requests), the deadline heap and the connections' send
//   buffers are reused; failure texts are formatted on the stack.
//
// Example (what Worker does; BackendAgent then runs DoWork):
//   absl::StatusOr<std::unique_ptr<BackendRouter>> router =
//       BackendRouter::Create({.config = &config, .worker = 0,
//                              .reactor = reactor, .clock = &clock,
//                              .counters = &registry});
//   if (!router.ok()) return router.status();  // names service and endpoint
//   session_parts.router = router->get();      // sessions Submit to it
//
// Threading: the worker's thread only (DoWork from BackendAgent).
#ifndef TACHYON_BACKEND_BACKEND_ROUTER_H_
#define TACHYON_BACKEND_BACKEND_ROUTER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "backend/backend_counters.h"
#include "backend/demand_predictor.h"
#include "backend/endpoint_pool.h"
#include "backend/pool_sizer.h"
#include "backend/random.h"
#include "backend/request_table.h"
#include "backend/warm_schedule.h"
#include "base/clock.h"
#include "base/counters.h"
#include "config/model.h"
#include "io/reactor.h"
#include "session/request_router.h"
#include "tls/tls_context.h"
#include "tls/tls_counters.h"

namespace tachyon::backend {

/// One configured service on one worker.
struct Service {
  Service(const config::BackendService& c, WarmSchedule w,
          base::CounterRegistry& registry, int worker)
      : config(c),
        sizer(c),
        predictor(c),
        warm(std::move(w)),
        counters(registry, c.name, worker) {}
  const config::BackendService& config;
  // config.tls: the client context its connections are made from.
  tls::SslCtxPtr tls_ctx;
  std::vector<std::unique_ptr<EndpointPool>> pools;
  PoolSizer sizer;
  DemandPredictor predictor;  // of in_flight + queued, on this worker
  // Live sessions on this worker that looked the service up or called it
  // (while prediction_per_session > 0); the prediction is at least
  // interested.size() x prediction_per_session.
  absl::flat_hash_set<const session::ResponseTarget*> interested;
  WarmSchedule warm;
  ServiceCounters counters;
  // FIFO of queued records.
  std::uint32_t queue_head = kNoIndex;
  std::uint32_t queue_tail = kNoIndex;
  std::uint32_t queued = 0;
  std::uint32_t in_flight = 0;
};

/// What a router is built from: the worker's parts.
struct RouterParts {
  const config::GatewayConfig* config = nullptr;
  int worker = 0;
  io::Reactor* reactor = nullptr;
  base::LoopClock* clock = nullptr;
  base::CounterRegistry* counters = nullptr;
};

class BackendRouter final : public session::RequestRouter {
 public:
  /// How often pools are sized, connections heartbeat-checked and
  /// retirements considered.
  static constexpr std::int64_t kTickNs = 5'000'000;

  /// Resolves every endpoint (getaddrinfo, IPv4); an endpoint that does not
  /// resolve is an InvalidArgument naming the service and the endpoint.
  static absl::StatusOr<std::unique_ptr<BackendRouter>> Create(
      const RouterParts& parts);
  ~BackendRouter() override;

  // session::RequestRouter
  void Submit(session::ResponseTarget* from,
              const protocol::RequestView& request) override;
  void CancelAll(session::ResponseTarget* from) override;
  void NoteInterest(session::ResponseTarget* from,
                    std::uint32_t service_id) override;
  void ForgetInterest(session::ResponseTarget* from) override;
  [[nodiscard]] std::uint32_t ServiceId(std::string_view name) const override;
  [[nodiscard]] std::string_view ServiceName(std::uint32_t id) const override;

  /// Deadlines, pool ticks, queue draining; returns work done.
  int DoWork(std::int64_t now_ns);
  [[nodiscard]] std::int64_t NextDeadlineNs() const;
  [[nodiscard]] bool HasPendingWork() const { return false; }
  /// Gateway stopping: new requests are answered UNAVAILABLE; once nothing
  /// is outstanding, every connection closes.
  void BeginDrain() { draining_ = true; }
  [[nodiscard]] bool Drained() const;
  /// Closes every connection now (their requests answered UNAVAILABLE).
  void CloseAll();

  // For pools and connections.
  void Answer(std::uint32_t record, protocol::ResponseStatus status,
              std::span<const std::byte> payload);
  /// The backend's RESPONSE to in-flight `record` was just read: records
  /// its round trip in the service's kRequestRttNs histogram.
  void RecordRoundTrip(std::uint32_t record);
  [[nodiscard]] io::Reactor& reactor() const { return reactor_; }
  /// Counters of this worker's TLS backend connections.
  [[nodiscard]] tls::TlsCounters& tls_counters() const {
    return *tls_counters_;
  }
  [[nodiscard]] base::LoopClock& clock() const { return clock_; }
  [[nodiscard]] std::uint32_t max_frame_length() const {
    return max_frame_length_;
  }
  SplitMix64& rng() { return rng_; }

  /// Requests outstanding (queued or in flight) on this worker (tests).
  [[nodiscard]] std::uint32_t outstanding() const { return table_.live(); }

 private:
  explicit BackendRouter(const RouterParts& parts);
  Service* Find(std::uint32_t id) const;
  BackendConnection* Pick(Service& s, std::int64_t now_ns);
  bool AnyRoutable(const Service& s, std::int64_t now_ns) const;
  void Dispatch(std::uint32_t record, BackendConnection* c,
                std::int64_t now_ns);
  void Unlink(Service& s, std::uint32_t record);
  void Expire(std::uint32_t record);
  void TickPools(std::int64_t now_ns);
  int DrainQueue(Service& s, std::int64_t now_ns);
  void FailQueued(Service& s, protocol::ResponseStatus status,
                  std::string_view text);
  // Feeds the predictor the service's demand now. The time is read afresh:
  // reactor callbacks run under the previous iteration's loop time, and a
  // report at a time already reported only replaces the demand (no trend),
  // which would drop one side of a short request's up and down step and
  // let the trend drift upwards.
  void Observe(Service& s, std::int64_t now_ns) {
    s.predictor.Observe(std::max(now_ns, base::MonotonicNs()),
                        static_cast<int>(s.in_flight + s.queued));
  }
  SizingInput Sizing(const Service& s, std::int64_t now_ns) const;
  // Counts `from` among the service's interested sessions; sizes its pools
  // at once when that raised the prediction.
  void AddInterest(Service& s, const session::ResponseTarget* from,
                   std::int64_t now_ns);
  // Answers a request that was never accepted (no record).
  void AnswerNow(session::ResponseTarget* to, ServiceCounters& counters,
                 const protocol::RequestView& request,
                 protocol::ResponseStatus status, std::string_view text);

  const config::GatewayConfig& config_;
  io::Reactor& reactor_;
  std::unique_ptr<tls::TlsCounters> tls_counters_;
  base::LoopClock& clock_;
  const std::uint32_t max_frame_length_;
  std::vector<std::unique_ptr<Service>> services_;
  absl::flat_hash_map<std::uint32_t, Service*> by_id_;
  absl::flat_hash_map<std::string, std::uint32_t> ids_by_name_;
  ServiceCounters unknown_;
  RequestTable table_;
  SplitMix64 rng_;
  std::int64_t next_tick_ns_ = 0;
  bool draining_ = false;
  bool closed_ = false;
};

}  // namespace tachyon::backend

#endif  // TACHYON_BACKEND_BACKEND_ROUTER_H_
