// The worker mailbox (bounded multi-producer queue), the agent that drains
// it and keeps commands in order when a mailbox is full, and the duty cycle
// that runs agents (with a recording fake reactor). The multi-producer test
// runs under TSan in CI (label concurrency).
#include "server/mailbox.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/agent_runner.h"
#include "server/mailbox_agent.h"

namespace tachyon::server {
namespace {

struct Item {
  int producer = 0;
  std::uint64_t n = 0;
};

TEST(MailboxTest, FirstInFirstOutUpToItsCapacity) {
  Mailbox<Item> box(5);  // rounded up to 8
  EXPECT_EQ(box.capacity(), 8u);
  EXPECT_TRUE(box.Empty());
  for (std::uint64_t i = 0; i < 8; ++i) ASSERT_TRUE(box.TryPush({0, i}));
  EXPECT_FALSE(box.TryPush({0, 99})) << "full: nothing queued";
  EXPECT_FALSE(box.Empty());
  Item item;
  for (std::uint64_t i = 0; i < 8; ++i) {
    ASSERT_TRUE(box.TryPop(&item));
    EXPECT_EQ(item.n, i);
  }
  EXPECT_FALSE(box.TryPop(&item));
  EXPECT_TRUE(box.Empty());
  // The ring wraps: another lap works the same.
  for (std::uint64_t i = 0; i < 20; ++i) {
    ASSERT_TRUE(box.TryPush({0, i}));
    ASSERT_TRUE(box.TryPop(&item));
    EXPECT_EQ(item.n, i);
  }
}

// Four producers push as fast as they can into a small mailbox (retrying
// when it is full) while the owner drains it: every command arrives once,
// each producer's in the order it pushed them.
TEST(MailboxTest, ProducersRaceTheOwnerWithoutLossOrReordering) {
  Mailbox<Item> box(64);
  constexpr int kProducers = 4;
  constexpr std::uint64_t kEach = 50'000;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&box, p] {
      for (std::uint64_t i = 0; i < kEach; ++i) {
        for (std::uint64_t spins = 0; !box.TryPush({p, i}); ++spins) {
          if (spins > 100'000'000) return;  // bounded: fails the count below
          std::this_thread::yield();
        }
      }
    });
  }
  std::vector<std::uint64_t> next(kProducers, 0);
  std::uint64_t received = 0;
  std::uint64_t out_of_order = 0;
  Item item;
  for (std::uint64_t spins = 0;
       received < kProducers * kEach && spins < 1'000'000'000; ++spins) {
    if (!box.TryPop(&item)) {
      std::this_thread::yield();
      continue;
    }
    if (item.n != next[static_cast<std::size_t>(item.producer)]) {
      ++out_of_order;
    }
    next[static_cast<std::size_t>(item.producer)] = item.n + 1;
    ++received;
  }
  for (std::thread& t : producers) t.join();
  EXPECT_EQ(received, kProducers * kEach);
  EXPECT_EQ(out_of_order, 0u);
  EXPECT_TRUE(box.Empty());
}

// ---------------------------------------------------------------- agent

class Recorder final : public CommandHandler {
 public:
  void Handle(const WorkerCommand& c) override {
    handled.push_back(std::get<session::UdpDestinationRequest>(c));
  }
  std::vector<session::UdpDestinationRequest> handled;
};

// Routes to real mailboxes; counts refusals.
class Router final : public CommandRouter {
 public:
  explicit Router(std::vector<Mailbox<WorkerCommand>*> boxes)
      : boxes_(std::move(boxes)) {}
  bool TryDeliver(int worker, const WorkerCommand& c) override {
    if (boxes_[static_cast<std::size_t>(worker)]->TryPush(c)) return true;
    ++refused;
    return false;
  }
  int refused = 0;

 private:
  std::vector<Mailbox<WorkerCommand>*> boxes_;
};

session::UdpDestinationRequest Request(std::uint64_t from) {
  return {.kind = session::UdpDestinationRequest::Kind::kAdd,
          .stream = StreamId{1},
          .from = Sequence{from}};
}

TEST(MailboxAgentTest, FullMailboxKeepsCommandsInOrderInTheOutbox) {
  Mailbox<WorkerCommand> mine(4);
  Mailbox<WorkerCommand> theirs(2);
  Router router({&mine, &theirs});
  Recorder my_handler;
  Recorder their_handler;
  MailboxAgent sender(mine, my_handler, router, 2);
  MailboxAgent receiver(theirs, their_handler, router, 2);

  for (std::uint64_t i = 1; i <= 7; ++i) sender.Send(1, Request(i));
  // Two fit; the rest wait, in order, and keep the sender awake.
  EXPECT_EQ(sender.outbox_size(), 5u);
  EXPECT_TRUE(sender.HasPendingWork());
  EXPECT_TRUE(receiver.HasPendingWork());
  for (int round = 0; round < 10 && their_handler.handled.size() < 7; ++round) {
    receiver.DoWork(0);
    sender.DoWork(0);
  }
  ASSERT_EQ(their_handler.handled.size(), 7u);
  for (std::uint64_t i = 1; i <= 7; ++i) {
    EXPECT_EQ(their_handler.handled[i - 1].from.value(), i);
  }
  EXPECT_EQ(sender.outbox_size(), 0u);
  EXPECT_FALSE(sender.HasPendingWork());
  EXPECT_FALSE(receiver.HasPendingWork());
  EXPECT_GT(router.refused, 0);
  EXPECT_TRUE(my_handler.handled.empty());
}

TEST(MailboxAgentTest, SendingToItselfIsHandledOnTheNextPass) {
  Mailbox<WorkerCommand> mine(8);
  Router router({&mine});
  Recorder handler;
  MailboxAgent agent(mine, handler, router, 1);
  agent.Send(0, Request(5));
  EXPECT_TRUE(agent.HasPendingWork());
  EXPECT_EQ(agent.DoWork(0), 1);
  ASSERT_EQ(handler.handled.size(), 1u);
  EXPECT_EQ(handler.handled[0].from.value(), 5u);
  EXPECT_EQ(agent.DoWork(0), 0);
}

// ---------------------------------------------------------------- runner

// A reactor that does nothing but record how long the runner let it wait.
class RecordingReactor final : public io::Reactor {
 public:
  std::string_view name() const override { return "recording"; }
  absl::Status AddListener(int, io::AcceptHandler*) override {
    return absl::OkStatus();
  }
  void RemoveListener(int) override {}
  io::Connection* AddConnection(int, io::ConnectionHandler*) override {
    return nullptr;
  }
  io::Connection* Connect(int, const sockaddr*, socklen_t,
                          io::ConnectionHandler*, std::int64_t) override {
    return nullptr;
  }
  absl::Status AddReadable(int, io::ReadinessHandler*) override {
    return absl::OkStatus();
  }
  void RemoveReadable(int) override {}
  io::SendResult Send(io::Connection*, std::span<const iovec>) override {
    return {};
  }
  void Close(io::Connection*) override {}
  void PauseReading(io::Connection*) override {}
  void ResumeReading(io::Connection*) override {}
  int Poll(std::int64_t timeout_us) override {
    timeouts.push_back(timeout_us);
    if (on_poll) on_poll();
    return 0;
  }
  void Wake() override { ++wakes; }
  std::uint64_t event_syscalls() const override { return 0; }
  std::vector<std::int64_t> timeouts;
  std::function<void()> on_poll;
  int wakes = 0;
};

class ScriptedAgent final : public io::Agent {
 public:
  ScriptedAgent(std::string name, std::vector<std::string>* log)
      : name_(std::move(name)), log_(log) {}
  std::string_view name() const override { return name_; }
  absl::Status OnStart(std::int64_t) override {
    log_->push_back(name_ + ".start");
    return start_error;
  }
  int DoWork(std::int64_t) override {
    ++passes;
    return work_per_pass;
  }
  bool HasPendingWork() const override { return pending; }
  std::int64_t NextDeadlineNs() const override { return deadline; }
  void OnDrain(std::int64_t) override { log_->push_back(name_ + ".drain"); }
  bool Drained() const override { return drained; }
  void OnAbort() override {
    log_->push_back(name_ + ".abort");
    drained = true;
  }
  void OnStop() override { log_->push_back(name_ + ".stop"); }

  absl::Status start_error;
  int work_per_pass = 0;
  bool pending = false;
  bool drained = true;
  std::int64_t deadline = kNoDeadline;
  int passes = 0;

 private:
  std::string name_;
  std::vector<std::string>* log_;
};

class AgentRunnerTest : public ::testing::Test {
 protected:
  RecordingReactor reactor;
  io::WakeSignal wake{&reactor};
  base::LoopClock clock;
  AgentRunner runner{reactor, wake, clock,
                     io::IdleStrategy(config::IdleStrategy::kBlock, 0)};
  std::vector<std::string> log;
};

TEST_F(AgentRunnerTest, FailedStartNamesTheAgentAndStopsThoseStarted) {
  ScriptedAgent a("a", &log);
  ScriptedAgent b("b", &log);
  ScriptedAgent c("c", &log);
  b.start_error = absl::InternalError("no socket");
  runner.Add(&a);
  runner.Add(&b);
  runner.Add(&c);
  const absl::Status s = runner.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(std::string(s.message()), "b: no socket");
  EXPECT_EQ(log, (std::vector<std::string>{"a.start", "b.start", "a.stop"}));
}

// Blocks only when no agent has pending work, never past the earliest
// agent deadline; drains, aborts past the deadline, then stops.
TEST_F(AgentRunnerTest, BlocksOnlyWithoutPendingWorkThenDrainsAndStops) {
  ScriptedAgent a("a", &log);
  ScriptedAgent b("b", &log);
  runner.Add(&a);
  runner.Add(&b);
  ASSERT_TRUE(runner.Start().ok());
  std::atomic<bool> stop{false};
  b.drained = false;
  int polls = 0;
  reactor.on_poll = [&] {
    ++polls;
    if (polls == 2) b.pending = true;  // work a socket still holds
    if (polls == 3) b.pending = false;
    if (polls == 4) {
      b.deadline = base::MonotonicNs() + 1'000'000;  // a timer in 1 ms
    }
    if (polls == 6) stop.store(true);
  };
  runner.Run(stop, /*drain_ns=*/0);
  ASSERT_GE(reactor.timeouts.size(), 6u);
  EXPECT_GT(reactor.timeouts[1], 0) << "idle: blocks";
  EXPECT_EQ(reactor.timeouts[2], 0) << "pending work: does not block";
  EXPECT_LE(reactor.timeouts[4], 1000) << "not past the agent's deadline";
  EXPECT_GT(reactor.timeouts[4], 0);
  EXPECT_EQ(a.passes, b.passes);
  EXPECT_EQ(log, (std::vector<std::string>{"a.start", "b.start", "a.drain",
                                           "b.drain", "a.abort", "b.abort",
                                           "a.stop", "b.stop"}));
}

// backoff under the runner: the spin ends when the budget has passed on the
// loop's clock, however few passes that took. Each Poll here takes longer
// than the whole budget (as a pass of busy agents can), so the worker must
// yield after its second idle pass and then block; an iteration count would
// keep it polling for thousands of passes. Blocking keeps the wake-up
// protocol: a Notify while the worker spins costs no Wake, one after it
// announced sleep does.
TEST(AgentRunnerBackoffTest, StopsSpinningWhenTheBudgetIsSpentByTheClock) {
  constexpr std::int64_t kBudgetNs = 200'000;
  RecordingReactor reactor;
  io::WakeSignal wake{&reactor};
  base::LoopClock clock;
  AgentRunner runner{
      reactor, wake, clock,
      io::IdleStrategy(config::IdleStrategy::kBackoff, kBudgetNs)};
  std::vector<std::string> log;
  ScriptedAgent a("a", &log);
  runner.Add(&a);
  ASSERT_TRUE(runner.Start().ok());
  std::atomic<bool> stop{false};
  int wakes_while_polling = 0;
  reactor.on_poll = [&] {
    const std::int64_t timeout_us = reactor.timeouts.back();
    const int wakes = reactor.wakes;
    wake.Notify();  // another worker published something for this one
    if (timeout_us == 0) {
      wakes_while_polling += reactor.wakes - wakes;
      std::this_thread::sleep_for(std::chrono::nanoseconds(kBudgetNs + 1));
    } else if (reactor.wakes == wakes) {
      ADD_FAILURE() << "blocked without announcing it (no Wake on Notify)";
    }
    // Bounded either way: stop at the first block or after 100 passes.
    if (timeout_us > 0 || reactor.timeouts.size() == 100) stop.store(true);
  };
  runner.Run(stop, /*drain_ns=*/0);
  std::size_t first_block = 0;
  while (first_block < reactor.timeouts.size() &&
         reactor.timeouts[first_block] == 0) {
    ++first_block;
  }
  ASSERT_LT(first_block, reactor.timeouts.size()) << "never blocked";
  // The first pass and the idle pass that found the budget spent, then the
  // yields.
  EXPECT_LE(first_block, std::size_t{2 + io::IdleStrategy::kMaxYields});
  EXPECT_EQ(wakes_while_polling, 0);
}

// backoff keeps the runner's re-check after announcing sleep: while an
// agent has pending work, the worker polls without blocking however long it
// has been idle, and blocks once the work is gone.
TEST(AgentRunnerBackoffTest, NeverBlocksWhileAnAgentHasPendingWork) {
  RecordingReactor reactor;
  io::WakeSignal wake{&reactor};
  base::LoopClock clock;
  AgentRunner runner{reactor, wake, clock,
                     io::IdleStrategy(config::IdleStrategy::kBackoff, 0)};
  std::vector<std::string> log;
  ScriptedAgent a("a", &log);
  a.pending = true;  // e.g. a socket a read budget left unread
  runner.Add(&a);
  ASSERT_TRUE(runner.Start().ok());
  std::atomic<bool> stop{false};
  constexpr std::size_t kPendingPasses = 50;
  reactor.on_poll = [&] {
    if (reactor.timeouts.size() == kPendingPasses) a.pending = false;
    if (reactor.timeouts.back() > 0 || reactor.timeouts.size() == 200) {
      stop.store(true);
    }
  };
  runner.Run(stop, /*drain_ns=*/0);
  ASSERT_GT(reactor.timeouts.size(), kPendingPasses);
  for (std::size_t i = 0; i < kPendingPasses; ++i) {
    EXPECT_EQ(reactor.timeouts[i], 0) << "pass " << i;
  }
  EXPECT_GT(reactor.timeouts.back(), 0) << "never blocked once work was gone";
}

}  // namespace
}  // namespace tachyon::server
