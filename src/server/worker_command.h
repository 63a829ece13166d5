// What one worker asks another to do, through the other's mailbox.
//
// A command is a plain value (copied into the mailbox's ring, no
// allocation). A module that needs a new kind of cross-worker request adds
// an alternative here and its handling in Worker::Handle.
#ifndef TACHYON_SERVER_WORKER_COMMAND_H_
#define TACHYON_SERVER_WORKER_COMMAND_H_

#include <memory>
#include <variant>

#include "config/model.h"
#include "session/session_services.h"
#include "udp/producers.h"

namespace tachyon::server {

/// A configuration reload: the worker copies the reloadable keys
/// (server/reload.h) of `config` into its running configuration, which its
/// sessions read. Shared, so every worker reads the same immutable copy.
struct ConfigUpdate {
  std::shared_ptr<const config::GatewayConfig> config;
  /// [[udp_producers]] with their keys, read once by the gateway.
  std::shared_ptr<const udp::ProducerTable> producers;
};

using WorkerCommand =
    std::variant<session::UdpDestinationRequest, ConfigUpdate>;

/// Delivers commands to workers by index.
class CommandRouter {
 public:
  virtual ~CommandRouter() = default;
  /// Any thread: queues `command` for worker `worker` and wakes it; false
  /// if its mailbox is full (nothing was queued).
  virtual bool TryDeliver(int worker, const WorkerCommand& command) = 0;
};

/// Carries out commands on the receiving worker's thread.
class CommandHandler {
 public:
  virtual ~CommandHandler() = default;
  virtual void Handle(const WorkerCommand& command) = 0;
};

}  // namespace tachyon::server

#endif  // TACHYON_SERVER_WORKER_COMMAND_H_
