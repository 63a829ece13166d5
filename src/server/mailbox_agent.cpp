#include "server/mailbox_agent.h"

namespace tachyon::server {

MailboxAgent::MailboxAgent(Mailbox<WorkerCommand>& inbox,
                           CommandHandler& handler, CommandRouter& router,
                           int workers)
    : inbox_(inbox),
      handler_(handler),
      router_(router),
      outboxes_(static_cast<std::size_t>(workers)) {}

void MailboxAgent::Send(int worker, const WorkerCommand& command) {
  std::deque<WorkerCommand>& outbox =
      outboxes_[static_cast<std::size_t>(worker)];
  // Behind anything already waiting for that worker: order is kept.
  if (outbox.empty() && router_.TryDeliver(worker, command)) return;
  outbox.push_back(command);
  ++waiting_;
}

int MailboxAgent::FlushOutboxes() {
  int sent = 0;
  for (std::size_t w = 0; w < outboxes_.size(); ++w) {
    std::deque<WorkerCommand>& outbox = outboxes_[w];
    while (!outbox.empty() &&
           router_.TryDeliver(static_cast<int>(w), outbox.front())) {
      outbox.pop_front();
      --waiting_;
      ++sent;
    }
  }
  return sent;
}

int MailboxAgent::DoWork(std::int64_t now_ns) {
  static_cast<void>(now_ns);
  int work = waiting_ == 0 ? 0 : FlushOutboxes();
  WorkerCommand command;
  for (int i = 0; i < kBatch && inbox_.TryPop(&command); ++i) {
    handler_.Handle(command);
    ++work;
  }
  return work;
}

bool MailboxAgent::HasPendingWork() const {
  return waiting_ != 0 || !inbox_.Empty();
}

std::size_t MailboxAgent::outbox_size() const { return waiting_; }

}  // namespace tachyon::server
