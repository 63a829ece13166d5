// SessionAgent: one worker's TCP listener and the sessions it accepted.
//
// Overview
//   The agent accepts on the worker's SO_REUSEPORT listener, creates a
//   Session per connection and drives them in the worker's duty cycle:
//     - new streams: when the registry grew, pattern subscriptions look at
//       the new streams;
//     - stream polling: for every stream read on this worker, a tail that
//       moved since the last look marks that stream's deliveries dirty
//       (and with them their sessions);
//     - flush: each dirty session sends what is ready;
//     - ticks: heartbeats, idle and logon timeouts, close deadlines, every
//       kTickNs.
//   A graceful stop stops accepting, lets every session drain (deliver what
//   is queued, LOGOUT, close) and reports Drained once all are released.
//
//   Sessions reach their worker only through this class, and the rest of
//   the gateway only through SessionServices.
//
// Threading: worker thread only.
#ifndef TACHYON_SESSION_SESSION_AGENT_H_
#define TACHYON_SESSION_SESSION_AGENT_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

typedef struct ssl_ctx_st SSL_CTX;

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "auth/authenticator.h"
#include "base/clock.h"
#include "config/model.h"
#include "io/agent.h"
#include "io/reactor.h"
#include "session/address_limits.h"
#include "session/request_router.h"
#include "session/session_board.h"
#include "session/session_counters.h"
#include "session/session_info.h"
#include "session/session_services.h"
#include "stream/reader_interest.h"
#include "stream/stream_registry.h"
#include "tls/tls_counters.h"

namespace tachyon::session {

class Session;
class SessionAgent;
class Delivery;

/// What a SessionAgent is built from: the worker's parts.
struct SessionAgentParts {
  const config::GatewayConfig* config = nullptr;
  int worker = 0;      ///< index, for labels and logs
  int cpu = -1;        ///< pinned CPU (SO_INCOMING_CPU), -1: none
  int listen_fd = -1;  ///< the worker's listener; -1: accept nothing
  /// The worker's TLS listener ([tls]); -1: none. Its connections get a
  /// tls::TlsConnection made from `tls_context` (shared, read-only).
  int tls_listen_fd = -1;
  SSL_CTX* tls_context = nullptr;
  io::Reactor* reactor = nullptr;
  stream::StreamRegistry* registry = nullptr;
  stream::WorkerInterest* interest = nullptr;
  stream::StreamWaker* waker = nullptr;
  SessionServices* services = nullptr;
  /// Where the worker's sessions send REQUESTs and look up service names;
  /// nullptr: no backend services (every REQUEST is answered
  /// NO_SUCH_SERVICE, every SERVICE_LOOKUP with service id 0).
  RequestRouter* router = nullptr;
  base::LoopClock* clock = nullptr;
  base::CounterRegistry* counters = nullptr;
  /// Who LOGONs are and what they may do, shared by every worker; nullptr:
  /// no principals (the session.token check alone, everything allowed).
  const auth::Authenticator* authenticator = nullptr;
  /// Where the agent publishes its sessions' rows (about once a second);
  /// nullptr: nowhere.
  SessionBoard* board = nullptr;
  /// Per-address limits shared by every worker (limits.
  /// max_connections_per_address, logon_failures_per_address); nullptr:
  /// none.
  AddressLimits* address_limits = nullptr;
};

class SessionAgent final : public io::Agent, public io::AcceptHandler {
 public:
  /// Timer resolution: heartbeats, idle and logon timeouts, close deadlines.
  static constexpr std::int64_t kTickNs = 5'000'000;
  /// How often a PUBLISH held for lack of room in its stream is retried.
  static constexpr std::int64_t kHoldRetryNs = 50'000;

  explicit SessionAgent(const SessionAgentParts& parts);
  ~SessionAgent() override;
  SessionAgent(const SessionAgent&) = delete;
  SessionAgent& operator=(const SessionAgent&) = delete;

  // io::Agent
  [[nodiscard]] std::string_view name() const override { return "sessions"; }
  absl::Status OnStart(std::int64_t now_ns) override;
  int DoWork(std::int64_t now_ns) override;
  [[nodiscard]] bool HasPendingWork() const override;
  [[nodiscard]] std::int64_t NextDeadlineNs() const override {
    return held_.empty() ? next_tick_ns_
                         : std::min(next_tick_ns_, next_hold_retry_ns_);
  }
  void OnDrain(std::int64_t now_ns) override;
  [[nodiscard]] bool Drained() const override { return sessions_.empty(); }
  void OnAbort() override;

  // io::AcceptHandler
  void OnAccept(int fd) override { Accept(fd, false); }

  // For sessions.
  [[nodiscard]] const config::GatewayConfig& config() const { return config_; }
  [[nodiscard]] stream::StreamRegistry& registry() const { return registry_; }
  [[nodiscard]] io::Reactor& reactor() const { return reactor_; }
  [[nodiscard]] SessionCounters& counters() { return counters_; }
  /// TLS counters of the worker's TLS connections (server side).
  [[nodiscard]] tls::TlsCounters& tls_counters() { return *tls_counters_; }
  [[nodiscard]] std::int64_t now_ns() const { return clock_.now_ns(); }
  /// CLOCK_REALTIME of this loop iteration (DATA timestamps).
  [[nodiscard]] std::int64_t receive_time_ns() { return clock_.realtime_ns(); }
  /// A read just appended PUBLISHes stamped receive_time_ns(): records
  /// the time since then (kPublishToAppendNs), and in `stream` (the
  /// series of the stream of the read's last PUBLISH, if not null). One
  /// clock read.
  void RecordPublishToAppend(base::Histogram* stream) {
    const std::int64_t ns = base::RealtimeNs() - clock_.realtime_ns();
    if (ns >= 0) {
      counters_.publish_to_append.Record(static_cast<std::uint64_t>(ns));
      if (stream != nullptr) stream->Record(static_cast<std::uint64_t>(ns));
    }
  }
  [[nodiscard]] bool stopping() const { return services_.stopping(); }
  SessionId NextSessionId() { return services_.NextSessionId(); }
  [[nodiscard]] std::uint64_t instance_epoch() const {
    return services_.instance_epoch();
  }
  /// The per-address limits; nullptr when there are none.
  [[nodiscard]] AddressLimits* address_limits() const {
    return address_limits_;
  }
  /// The gateway's authenticator; nullptr when there is none.
  [[nodiscard]] const auth::Authenticator* authenticator() const {
    return authenticator_;
  }
  /// The worker's request router; nullptr when there is none.
  [[nodiscard]] RequestRouter* router() const { return router_; }
  /// registry().Open with one `use` acquired, telling every worker when a
  /// stream is created so that pattern subscriptions pick it up at once.
  absl::StatusOr<stream::StreamLog*> OpenStream(std::string_view name,
                                                stream::StreamUse use);
  /// OpenStream creating only as `guard` allows (principals).
  absl::StatusOr<stream::StreamLog*> OpenStream(
      std::string_view name, stream::StreamUse use,
      const stream::StreamRegistry::CreateGuard& guard);
  /// `d` (of session `s`) reads its log from now on: woken when it grows.
  void AddReader(Delivery* d);
  void RemoveReader(Delivery* d);
  void AddPatternSession(Session* s);
  void RemovePatternSession(Session* s);
  /// Queues `s` for the next flush.
  void MarkDirty(Session* s);
  /// `s` holds a PUBLISH its stream had no room for (Session::RetryHeld
  /// is called every kHoldRetryNs until it fits).
  void HoldPublisher(Session* s);
  /// A session appended to `log`: readers on other workers must wake.
  void OnAppended(stream::StreamLog* log) { waker_.OnAppended(log); }
  void RouteUdp(const UdpDestinationRequest& r) { services_.RouteUdp(r); }
  void CloseConnection(io::Connection* conn);
  /// From Session::OnReleased: the reactor is done with it.
  void DestroySession(Session* s);

  /// Sessions on this worker now (tests).
  [[nodiscard]] std::size_t session_count() const { return sessions_.size(); }

 private:
  // A stream read on this worker, and its deliveries here.
  struct LocalStream {
    stream::StreamLog* log = nullptr;
    std::uint64_t seen_tail = 0;
    std::vector<Delivery*> readers;
  };

  // The TLS listener's accept handler.
  class TlsAcceptor final : public io::AcceptHandler {
   public:
    explicit TlsAcceptor(SessionAgent& agent) : agent_(agent) {}
    void OnAccept(int fd) override { agent_.Accept(fd, true); }

   private:
    SessionAgent& agent_;
  };
  // A connection from either listener; `tls`: through a TlsConnection.
  void Accept(int fd, bool tls);

  int CheckNewStreams();
  int PollStreams();
  int FlushDirty();
  int RetryHeld(std::int64_t now_ns);
  void Tick(std::int64_t now_ns);
  // A connection refused right after accept (`tls`: from the TLS
  // listener): counted, logged, told why (plain only) and closed.
  void Refuse(int fd, bool shutting_down, bool tls);
  // limits.max_connections_per_address: ERROR LIMIT_EXCEEDED, then close.
  void RefuseAddress(int fd, const std::string& peer, bool tls);
  // A fatal ERROR (not on TLS: the client would read it as a broken
  // handshake), then close.
  static void CloseWithError(int fd, bool tls, protocol::ErrorCode code,
                             std::string_view text);
  // Fills rows_ and hands them to board_ (at most every
  // SessionBoard::kPublishIntervalNs; again next tick if a reader held it).
  void PublishRows(std::int64_t now_ns);

  const config::GatewayConfig& config_;
  const int worker_;
  const int cpu_;
  const int listen_fd_;
  io::Reactor& reactor_;
  stream::StreamRegistry& registry_;
  stream::WorkerInterest& interest_;
  stream::StreamWaker& waker_;
  SessionServices& services_;
  RequestRouter* const router_;
  const auth::Authenticator* const authenticator_;
  base::LoopClock& clock_;
  SessionCounters counters_;
  SessionBoard* const board_;
  AddressLimits* const address_limits_;
  std::vector<SessionInfo> rows_;
  // Session::FillInfo's scratch (Session::SubscriptionOrder).
  std::vector<std::pair<std::uint32_t, const std::string*>> subscription_order_;
  std::int64_t next_publish_ns_ = 0;

  bool listening_ = false;
  const int tls_listen_fd_;
  SSL_CTX* const tls_context_;
  TlsAcceptor tls_acceptor_{*this};
  std::unique_ptr<tls::TlsCounters> tls_counters_;
  bool tls_listening_ = false;
  std::int64_t next_tick_ns_ = 0;
  // Every session; Session::agent_index_ is its place, for O(1) removal.
  std::vector<Session*> sessions_;
  std::vector<Session*> pattern_sessions_;
  absl::flat_hash_map<std::uint32_t, std::unique_ptr<LocalStream>>
      local_streams_;
  std::vector<LocalStream*> local_order_;
  std::uint32_t known_streams_ = 0;
  std::vector<Session*> dirty_;
  std::vector<Session*> flushing_;
  // Publishers held by a full stream, and the next retry.
  std::vector<Session*> held_;
  std::vector<Session*> retrying_;
  std::int64_t next_hold_retry_ns_ = 0;
};

}  // namespace tachyon::session

#endif  // TACHYON_SESSION_SESSION_AGENT_H_
