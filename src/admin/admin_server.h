// AdminServer: the admin HTTP and WebSocket server, on a thread of its own.
//
// Overview
//   Start() binds admin.bind:admin.port (refusing a non-loopback address
//   without admin.token) and runs one Boost.Asio io_context on a new
//   thread, "tachyon-admin". Requests are read with Beast's parser and
//   answered by AdminRouter (admin_router.h), which only reads published
//   values: the counters registry and the hooks' copies. No worker ever
//   waits for it.
//
//   Every request is bounded:
//     - size: header and body together at most kMaxRequestBytes (8 KiB);
//       a larger request is answered 413 and the connection closed;
//     - time: admin.request_timeout_ms (default 10 s) to read one request
//       (and to write its reply); a connection that is too slow is closed
//       and counted as refused{reason="timeout"};
//     - connections: at most admin.max_connections at once, WebSockets
//       included; one more is answered 503 and closed at once.
//   Keep-alive is honoured. A malformed request is answered 400 and closed.
//
//   /api/v1/live upgrades to a WebSocket (after the Host/Origin and token
//   checks of admin_router.h; a browser sends the session cookie) that gets
//   the router's snapshot as a text message every `live_interval` (1 s),
//   and one at once. At most kMaxLiveClients WebSockets; a client with
//   kMaxQueuedSnapshots snapshots still unsent when the next is due is
//   dropped, so a slow client costs at most that much memory.
//
//   What it refuses it counts, in the registry (written by the admin thread
//   only): tachyon_admin_requests_total,
//   tachyon_admin_refused_total{reason=max_connections|too_large|timeout|
//   bad_request|unauthorized|live_limit|live_slow|forbidden}, and the gauges
//   tachyon_admin_connections and tachyon_admin_live_clients.
//
// Example
//   AdminServer admin(gateway.counters(), info, hooks);
//   if (absl::Status s = admin.Start(); !s.ok()) return Fail(s);
//   std::printf("admin on http://127.0.0.1:%u\n", admin.port());
//   ...
//   admin.Stop();   // before the gateway (and its registry) goes
//
// Threading: Start, Stop and port() from the owning thread; everything else
// runs on the admin thread. The registry must outlive the server.
#ifndef TACHYON_ADMIN_ADMIN_SERVER_H_
#define TACHYON_ADMIN_ADMIN_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "admin/admin_router.h"
#include "base/counters.h"

namespace tachyon::admin {

/// Time to read one request, or to write one reply, when
/// admin.request_timeout_ms is not positive (its default is the same).
inline constexpr std::chrono::milliseconds kDefaultRequestTimeout{10000};
/// WebSocket clients of /api/v1/live at once.
inline constexpr std::size_t kMaxLiveClients = 16;
/// Snapshots a WebSocket client may have unsent before it is dropped.
inline constexpr std::size_t kMaxQueuedSnapshots = 2;

class AdminServer {
 public:
  /// `info.config.admin` says where to listen and the limits.
  /// `live_interval` is how often the live snapshot is sampled and pushed.
  AdminServer(base::CounterRegistry& registry, AdminInfo info, AdminHooks hooks,
              std::chrono::milliseconds live_interval =
                  std::chrono::milliseconds(1000));
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  /// Binds and starts the thread. InvalidArgument for a bind address that
  /// is not an address literal, or not loopback without a token;
  /// Unavailable if the port cannot be bound.
  absl::Status Start();
  /// Closes every connection and joins the thread. Idempotent.
  void Stop();
  /// The bound port (after Start; the kernel's pick for port 0).
  [[nodiscard]] std::uint16_t port() const { return port_; }

  /// The implementation (admin_server.cpp).
  struct State;

 private:
  std::unique_ptr<State> state_;
  std::uint16_t port_ = 0;
};

}  // namespace tachyon::admin

#endif  // TACHYON_ADMIN_ADMIN_SERVER_H_
