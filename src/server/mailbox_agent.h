// MailboxAgent: drains a worker's mailbox and sends its commands to others.
//
// Overview
//   Incoming: each DoWork pops up to kBatch commands from this worker's
//   mailbox and hands them to the worker's CommandHandler, in order.
//   Outgoing: Send(worker, command) delivers to another (or this) worker's
//   mailbox through a CommandRouter; when that mailbox is full the command
//   waits in a per-destination outbox here, and every later command for the
//   same destination queues behind it, so commands are never lost and
//   never reordered. Outboxes are retried every DoWork, and HasPendingWork
//   keeps the worker from sleeping while one is non-empty.
//
// Threading: worker thread only (the mailbox itself is multi-producer).
#ifndef TACHYON_SERVER_MAILBOX_AGENT_H_
#define TACHYON_SERVER_MAILBOX_AGENT_H_

#include <deque>
#include <string_view>
#include <vector>

#include "io/agent.h"
#include "server/mailbox.h"
#include "server/worker_command.h"

namespace tachyon::server {

class MailboxAgent final : public io::Agent {
 public:
  /// Commands handled per DoWork, so a flood cannot starve the rest.
  static constexpr int kBatch = 256;

  MailboxAgent(Mailbox<WorkerCommand>& inbox, CommandHandler& handler,
               CommandRouter& router, int workers);

  /// Queues `command` for worker `worker` (possibly this one).
  void Send(int worker, const WorkerCommand& command);

  // io::Agent
  [[nodiscard]] std::string_view name() const override { return "mailbox"; }
  int DoWork(std::int64_t now_ns) override;
  [[nodiscard]] bool HasPendingWork() const override;

  /// Commands waiting in outboxes (tests).
  [[nodiscard]] std::size_t outbox_size() const;

 private:
  int FlushOutboxes();

  Mailbox<WorkerCommand>& inbox_;
  CommandHandler& handler_;
  CommandRouter& router_;
  std::vector<std::deque<WorkerCommand>> outboxes_;
  std::size_t waiting_ = 0;  // commands in all outboxes
};

}  // namespace tachyon::server

#endif  // TACHYON_SERVER_MAILBOX_AGENT_H_
