// tachyon::client::Client — background polling: a thread of the Client's
// own runs Poll, so that handlers run without the application polling, and
// the locking that lets other threads publish meanwhile.
//
// The poller holds `mu_` while it polls and releases it while it waits for
// the socket (or an eventfd that StopBackgroundPolling signals), so that a
// publisher waits at most one Poll round. Calls a handler makes run on the
// poller with `mu_` already held: a thread-local marks the poller of each
// Impl so that they do not lock again.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client_impl.h"
#include "socket.h"
#include "tachyon/client/affinity.h"

namespace tachyon::client {

namespace {

// The Impl whose poller is the current thread, if any.
thread_local const void* t_polling_for = nullptr;

}  // namespace

bool Client::Impl::WaitsForPoller() const {
  return background_.load(std::memory_order_acquire) && t_polling_for != this;
}

Client::Impl::CallGuard::CallGuard(Impl& impl, bool receiving) : impl_(impl) {
  if (!impl_.WaitsForPoller()) return;
  if (receiving) call_lock_ = std::unique_lock<std::mutex>(impl_.call_mu_);
  lock_ = std::unique_lock<std::mutex>(impl_.mu_);
  if (receiving) impl_.caller_lock_ = &lock_;
}

Client::Impl::CallGuard::~CallGuard() {
  if (impl_.caller_lock_ == &lock_) impl_.caller_lock_ = nullptr;
}

absl::Status Client::Impl::StartBackgroundPolling(
    const BackgroundPollingOptions& options) {
  if (core_.in_callback()) {
    return absl::FailedPreconditionError(
        "StartBackgroundPolling called from a handler");
  }
  if (background_.load(std::memory_order_acquire)) {
    return absl::FailedPreconditionError("background polling already runs");
  }
  if (options.max_messages < 1) {
    return absl::InvalidArgumentError(
        "BackgroundPollingOptions::max_messages must be >= 1");
  }
  if (!open_ && !reconnecting_) return closed_status_;
  const int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    return absl::InternalError(absl::StrCat("StartBackgroundPolling: eventfd: ",
                                            internal::ErrnoText(errno)));
  }
  wake_fd_ = internal::UniqueFd(wake);
  stop_polling_ = false;
  poller_status_ = absl::OkStatus();
  background_.store(true, std::memory_order_release);
  try {
    poller_ = std::thread([this, options] { BackgroundLoop(options); });
  } catch (const std::system_error& e) {
    background_.store(false, std::memory_order_release);
    wake_fd_.reset();
    return absl::InternalError(absl::StrCat(
        "StartBackgroundPolling: cannot start a thread: ", e.what()));
  }
  return absl::OkStatus();
}

absl::Status Client::Impl::StopBackgroundPolling() {
  if (!background_.load(std::memory_order_acquire)) return absl::OkStatus();
  if (t_polling_for == this) {
    return absl::FailedPreconditionError(
        "StopBackgroundPolling called from a handler");
  }
  {
    const std::lock_guard<std::mutex> lock(mu_);
    stop_polling_ = true;
  }
  const std::uint64_t one = 1;
  (void)::write(wake_fd_.get(), &one, sizeof one);
  poller_.join();
  background_.store(false, std::memory_order_release);
  wake_fd_.reset();
  return poller_status_;
}

void Client::Impl::BackgroundLoop(BackgroundPollingOptions options) {
  t_polling_for = this;
  std::unique_lock<std::mutex> lock(mu_);
  if (options.cpu >= 0) {
    if (absl::Status s = PinThisThreadToCpu(options.cpu); !s.ok()) {
      core_.ReportAsync(absl::Status(
          s.code(),
          absl::StrCat("background poller not pinned: ", s.message())));
    }
  }
  while (!stop_polling_) {
    if (options.idle == BackgroundIdle::kBlock) {
      // Wait for data or the stop signal without the lock, at most until a
      // heartbeat may be due (or the next reconnect attempt).
      const int fd = open_ ? fd_.get() : -1;
      const auto wait =
          open_ ? core_.heartbeat() / 2
                : std::chrono::milliseconds(std::clamp<std::int64_t>(
                      internal::Millis(next_attempt_ - internal::Clock::now()),
                      1, 100));
      lock.unlock();
      pollfd fds[2] = {{fd, POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
      (void)::poll(fds, 2,
                   static_cast<int>(std::max<std::int64_t>(wait.count(), 1)));
      lock.lock();
      if (stop_polling_) break;
    } else {
      // Spinning: let waiting callers in between rounds.
      lock.unlock();
      std::this_thread::yield();
      lock.lock();
      if (stop_polling_) break;
    }
    const absl::StatusOr<int> n = Poll(options.max_messages, {});
    replied_.notify_all();
    if (!n.ok()) {
      poller_status_ = n.status();
      core_.ReportAsync(absl::Status(
          n.status().code(),
          absl::StrCat("background polling ended: ", n.status().message())));
      break;
    }
  }
  t_polling_for = nullptr;
}

}  // namespace tachyon::client
