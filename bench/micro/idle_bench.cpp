// What a spinning worker pays per pass, and what blocking costs instead:
//
//   BM_IdlePoll/<reactor>  Reactor::Poll(0) with nothing to do (a listener,
//       a connection and a UDP socket registered, all quiet), with the
//       system calls each makes (syscalls_per_poll, from event_syscalls):
//       io_uring reads its rings in shared memory, epoll calls epoll_wait.
//   BM_IdlePass/<reactor>  one pass of a spinning backoff worker: Poll(0),
//       a clock read and IdleStrategy::Next.
//   The candidates for a spinning pass's "anything ready?":
//   BM_UringSubmitAndGetEvents  io_uring_enter(GETEVENTS) on an idle ring:
//       what every io_uring Poll(0) cost before it looked at the rings first.
//   BM_EpollWaitZero/<fds>  epoll_wait(..., 0) on an epoll set of <fds> idle
//       sockets: the cost does not depend on how many are registered.
//   BM_PollOnEpollFd  poll(2) on the epoll fd with a zero timeout: what a
//       cheaper readiness check would have to beat (it still needs the
//       epoll_wait after it when something is ready).
//   BM_SyscallFloor  getppid(2), the cheapest system call: kernel entry and
//       exit alone on this machine.
//   BM_BlockThenWake/<reactor>  a worker blocked in Poll is woken by Wake
//       from another thread: the time from Wake to the worker running again
//       (manual time), what a blocked worker adds to a message's latency and
//       what backoff's spin budget is weighed against.
// Allocations per operation are reported (must be 0).
#include <liburing.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "alloc_counter.h"
#include "base/clock.h"
#include "benchmark/benchmark.h"
#include "io/idle_strategy.h"
#include "io/reactor.h"
#include "io/socket.h"

namespace tachyon::bench {
namespace {

class NullAcceptor final : public io::AcceptHandler {
 public:
  void OnAccept(int fd) override { ::close(fd); }
};

class NullConnection final : public io::ConnectionHandler {
 public:
  void OnData(std::span<const std::byte>) override {}
  void OnSendComplete(ssize_t) override {}
  void OnWritable() override {}
  void OnPeerClosed(int) override {}
  void OnReleased() override {}
};

class NullReadable final : public io::ReadinessHandler {
 public:
  void OnReadable() override {}
};

// A reactor of `kind` with a quiet listener, connection and UDP socket
// registered, as a worker has; the sockets close with it.
class QuietReactor {
 public:
  explicit QuietReactor(config::IoBackend kind) {
    absl::StatusOr<std::unique_ptr<io::Reactor>> r =
        io::CreateReactor(kind, io::ReactorOptions{});
    if (!r.ok()) {
      error_ = std::string(r.status().message());
      return;
    }
    reactor_ = *std::move(r);
    absl::StatusOr<int> listener = io::CreateTcpListener("127.0.0.1", 0, 16);
    if (!listener.ok()) {
      error_ = "listener";
      return;
    }
    listener_ = *listener;
    (void)reactor_->AddListener(listener_, &acceptor_);
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair) != 0) {
      error_ = "socketpair";
      return;
    }
    peer_ = pair[1];
    reactor_->AddConnection(pair[0], &conn_);  // the reactor owns pair[0]
    udp_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    (void)reactor_->AddReadable(udp_, &readable_);
    for (int i = 0; i < 100; ++i) reactor_->Poll(0);  // arms submitted
  }
  ~QuietReactor() {
    if (reactor_ != nullptr) {
      reactor_->RemoveReadable(udp_);
      reactor_->RemoveListener(listener_);
    }
    reactor_.reset();
    if (udp_ >= 0) ::close(udp_);
    if (peer_ >= 0) ::close(peer_);
    if (listener_ >= 0) ::close(listener_);
  }
  io::Reactor* get() const { return reactor_.get(); }
  const std::string& error() const { return error_; }

 private:
  std::unique_ptr<io::Reactor> reactor_;
  NullAcceptor acceptor_;
  NullConnection conn_;
  NullReadable readable_;
  int listener_ = -1;
  int peer_ = -1;
  int udp_ = -1;
  std::string error_;
};

config::IoBackend Kind(const benchmark::State& state) {
  return state.range(0) == 0 ? config::IoBackend::kEpoll
                             : config::IoBackend::kUring;
}

void BM_IdlePoll(benchmark::State& state) {
  QuietReactor r(Kind(state));
  if (r.get() == nullptr) {
    state.SkipWithError(r.error().c_str());
    return;
  }
  state.SetLabel(std::string(r.get()->name()));
  const std::uint64_t before = r.get()->event_syscalls();
  const AllocationCounter allocs;
  for (auto _ : state) benchmark::DoNotOptimize(r.get()->Poll(0));
  allocs.Report(state);
  state.counters["syscalls_per_poll"] = benchmark::Counter(
      static_cast<double>(r.get()->event_syscalls() - before),
      benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_IdlePoll)->Arg(0)->Arg(1)->ArgName("uring");

void BM_IdlePass(benchmark::State& state) {
  QuietReactor r(Kind(state));
  if (r.get() == nullptr) {
    state.SkipWithError(r.error().c_str());
    return;
  }
  state.SetLabel(std::string(r.get()->name()));
  // A budget no run reaches: every pass spins.
  io::IdleStrategy idle(config::IdleStrategy::kBackoff, std::int64_t{1} << 62);
  const AllocationCounter allocs;
  for (auto _ : state) {
    const int work = r.get()->Poll(0);
    benchmark::DoNotOptimize(idle.Next(work, base::MonotonicNs(), 5000));
  }
  allocs.Report(state);
}
BENCHMARK(BM_IdlePass)->Arg(0)->Arg(1)->ArgName("uring");

void BM_UringSubmitAndGetEvents(benchmark::State& state) {
  io_uring ring;
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                 IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  if (io_uring_queue_init_params(64, &ring, &params) != 0) {
    state.SkipWithError("io_uring unavailable");
    return;
  }
  io_uring_register_ring_fd(&ring);
  for (auto _ : state) {
    benchmark::DoNotOptimize(io_uring_submit_and_get_events(&ring));
  }
  io_uring_queue_exit(&ring);
}
BENCHMARK(BM_UringSubmitAndGetEvents);

void BM_EpollWaitZero(benchmark::State& state) {
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<int> fds;
  for (std::int64_t i = 0; i < state.range(0); ++i) {
    const int fd =
        ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.fd = fd;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    fds.push_back(fd);
  }
  epoll_event events[256];
  for (auto _ : state) {
    benchmark::DoNotOptimize(::epoll_wait(ep, events, 256, 0));
  }
  for (const int fd : fds) ::close(fd);
  ::close(ep);
}
BENCHMARK(BM_EpollWaitZero)->Arg(1)->Arg(1000)->ArgName("fds");

void BM_PollOnEpollFd(benchmark::State& state) {
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  const int fd =
      ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  pollfd p{ep, POLLIN, 0};
  for (auto _ : state) benchmark::DoNotOptimize(::poll(&p, 1, 0));
  ::close(fd);
  ::close(ep);
}
BENCHMARK(BM_PollOnEpollFd);

void BM_SyscallFloor(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(::getppid());
}
BENCHMARK(BM_SyscallFloor);

void BM_BlockThenWake(benchmark::State& state) {
  const config::IoBackend kind = Kind(state);
  std::atomic<io::Reactor*> shared{nullptr};
  std::atomic<std::uint64_t> woke{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  // The worker owns its reactor (io_uring: the thread that creates the ring
  // submits to it) and blocks in Poll until woken.
  std::thread worker([&] {
    QuietReactor r(kind);
    if (r.get() == nullptr) {
      failed.store(true, std::memory_order_release);
      return;
    }
    shared.store(r.get(), std::memory_order_release);
    while (!stop.load(std::memory_order_acquire)) {
      r.get()->Poll(1'000'000);
      woke.fetch_add(1, std::memory_order_acq_rel);
    }
    // Keep the reactor alive until the waker is done with it.
    while (shared.load(std::memory_order_acquire) != nullptr) {
      std::this_thread::yield();
    }
  });
  io::Reactor* reactor = nullptr;
  for (int i = 0; i < 1'000'000 && reactor == nullptr &&
                  !failed.load(std::memory_order_acquire);
       ++i) {
    reactor = shared.load(std::memory_order_acquire);
    std::this_thread::yield();
  }
  if (reactor == nullptr) {
    stop.store(true);
    worker.join();
    state.SkipWithError("reactor unavailable");
    return;
  }
  state.SetLabel(std::string(reactor->name()));
  for (auto _ : state) {
    // Let the worker get back into its blocking Poll first.
    const std::int64_t settle_until = base::MonotonicNs() + 200'000;
    while (base::MonotonicNs() < settle_until) std::this_thread::yield();
    const std::uint64_t before = woke.load(std::memory_order_acquire);
    const std::int64_t start = base::MonotonicNs();
    reactor->Wake();
    // Bounded by the worker's own 1 s Poll timeout.
    while (woke.load(std::memory_order_acquire) == before) {
    }
    state.SetIterationTime(static_cast<double>(base::MonotonicNs() - start) *
                           1e-9);
  }
  stop.store(true, std::memory_order_release);
  reactor->Wake();
  shared.store(nullptr, std::memory_order_release);
  worker.join();
}
BENCHMARK(BM_BlockThenWake)
    ->Arg(0)
    ->Arg(1)
    ->ArgName("uring")
    ->UseManualTime()
    ->Iterations(2000);

}  // namespace
}  // namespace tachyon::bench

BENCHMARK_MAIN();
