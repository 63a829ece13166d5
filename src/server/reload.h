// Reloading the configuration of a running gateway: which keys may change
// without a restart, and reading the file again.
//
// Overview
//   kReloadableKeys lists the keys a running gateway applies without
//   dropping a session, each with how its value is copied from the new
//   configuration into the running one. Gateway::Reload compares the new
//   configuration with the running one key by key (config/diff.h): keys in
//   the table take effect, every other key that changed is reported as
//   needing a restart and keeps its running value. Making a key reloadable
//   is one row here, provided every reader of the key takes it from the
//   worker's running configuration (Worker::running_config) or from the
//   gateway's, not from a copy made at start.
//
//   Reloadable today, and when each takes effect:
//     gateway.log_level            at once
//     gateway.summary_interval_ms  from the next summary
//     limits.max_connections       the next accepted connection
//     limits.max_subscriptions_per_session, limits.max_publish_rate,
//     limits.max_outbound_queue_bytes
//                                  the next SUBSCRIBE / PUBLISH / control frame
//     session.token                the next LOGON
//     session.heartbeat_interval_ms, min_/max_heartbeat_interval_ms
//                                  the next LOGON (a session keeps the
//                                  interval it was granted)
//     session.idle_timeout_heartbeats, session.logon_timeout_ms
//                                  the next tick
//     auth.anonymous*, [[principals]]
//                                  the next LOGON; a logged-on session
//                                  checks what it holds at its next tick
//                                  (within SessionAgent::kTickNs) and is
//                                  closed with ERROR NOT_AUTHORIZED naming
//                                  what was revoked (PROTOCOL.md 7.8)
//     [[udp_producers]], udp.require_authentication, udp.max_sequence_jump
//                                  the next datagram (key files are read
//                                  again; producers' sequence state is kept)
//   Everything else (listeners, workers, io, sockets, stream sizes and
//   slow-consumer policies, UDP, backends) needs a restart.
//
//   ReloadFromFile reads the file the gateway started with, with the same
//   command-line overrides (a flag still wins over the file), validates it
//   like the first load, and hands it to Gateway::Reload. A file with an
//   error changes nothing: the error (file:line: key: message) is returned.
//
// Example
//   gateway.SetReloadSource({.path = path, .overrides = *overrides,
//                            .backends = *added});
//   absl::StatusOr<config::ReloadReport> r = ReloadFromFile(gateway);
//
// Threading: kReloadableKeys is constant; ReloadFromFile from any thread
// (reloads are serialised by the gateway).
#ifndef TACHYON_SERVER_RELOAD_H_
#define TACHYON_SERVER_RELOAD_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "config/model.h"
#include "config/reader.h"
#include "config/reload_report.h"

namespace tachyon::server {

class Gateway;

/// A key a running gateway applies without a restart.
struct ReloadableKey {
  std::string_view key;  ///< dotted key, "session.token"
  /// Copies the key's value from `next` into `running`.
  void (*copy)(const config::GatewayConfig& next,
               config::GatewayConfig& running);
};

#define TACHYON_RELOADABLE(member, dotted)                                   \
  ReloadableKey {                                                            \
    dotted,                                                                  \
        [](const config::GatewayConfig& next,                                \
           config::GatewayConfig& running) { running.member = next.member; } \
  }
/// The reloadable keys (see the overview for when each takes effect).
inline constexpr ReloadableKey kReloadableKeys[] = {
    TACHYON_RELOADABLE(log_level, "gateway.log_level"),
    TACHYON_RELOADABLE(summary_interval_ms, "gateway.summary_interval_ms"),
    TACHYON_RELOADABLE(max_connections, "limits.max_connections"),
    TACHYON_RELOADABLE(max_subscriptions_per_session,
                       "limits.max_subscriptions_per_session"),
    TACHYON_RELOADABLE(max_publish_rate, "limits.max_publish_rate"),
    TACHYON_RELOADABLE(max_outbound_queue_bytes,
                       "limits.max_outbound_queue_bytes"),
    TACHYON_RELOADABLE(token, "session.token"),
    TACHYON_RELOADABLE(heartbeat_interval_ms, "session.heartbeat_interval_ms"),
    TACHYON_RELOADABLE(min_heartbeat_interval_ms,
                       "session.min_heartbeat_interval_ms"),
    TACHYON_RELOADABLE(max_heartbeat_interval_ms,
                       "session.max_heartbeat_interval_ms"),
    TACHYON_RELOADABLE(idle_timeout_heartbeats,
                       "session.idle_timeout_heartbeats"),
    TACHYON_RELOADABLE(logon_timeout_ms, "session.logon_timeout_ms"),
    TACHYON_RELOADABLE(auth.anonymous, "auth.anonymous"),
    TACHYON_RELOADABLE(auth.anonymous_publish, "auth.anonymous_publish"),
    TACHYON_RELOADABLE(auth.anonymous_subscribe, "auth.anonymous_subscribe"),
    TACHYON_RELOADABLE(auth.anonymous_create, "auth.anonymous_create"),
    TACHYON_RELOADABLE(auth.anonymous_request, "auth.anonymous_request"),
    TACHYON_RELOADABLE(auth.anonymous_max_connections,
                       "auth.anonymous_max_connections"),
    TACHYON_RELOADABLE(auth.anonymous_max_streams_created,
                       "auth.anonymous_max_streams_created"),
    TACHYON_RELOADABLE(auth.anonymous_max_subscriptions,
                       "auth.anonymous_max_subscriptions"),
    TACHYON_RELOADABLE(principals, "principals"),
    // UDP producer authentication (PROTOCOL.md 16.7): the next datagram.
    TACHYON_RELOADABLE(udp_producers, "udp_producers"),
    TACHYON_RELOADABLE(udp.require_authentication,
                       "udp.require_authentication"),
    TACHYON_RELOADABLE(udp.max_sequence_jump, "udp.max_sequence_jump"),
};
#undef TACHYON_RELOADABLE

/// The row of `key` in kReloadableKeys, or nullptr if it needs a restart.
const ReloadableKey* FindReloadable(std::string_view key);

/// Copies every reloadable key's value from `next` into `running`.
void ApplyReloadable(const config::GatewayConfig& next,
                     config::GatewayConfig& running);

/// What a reload reads: the file the gateway started with and the
/// command-line overrides it started with.
struct ReloadSource {
  std::string path;  ///< "" for the built-in defaults
  std::vector<config::KeyOverride> overrides;
  config::AddedBackends backends;
};

/// Reads `gateway`'s reload source again and applies it (Gateway::Reload).
/// InvalidArgument with the loader's message (file:line: key: message) if
/// the file has an error; the running configuration is then unchanged.
absl::StatusOr<config::ReloadReport> ReloadFromFile(Gateway& gateway);

/// "applied: a, b; restart required: c" ("nothing changed" if empty).
std::string DescribeReload(const config::ReloadReport& report);

}  // namespace tachyon::server

#endif  // TACHYON_SERVER_RELOAD_H_
