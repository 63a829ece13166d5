#include "server/worker.h"

#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <future>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "io/socket.h"
#include "server/gateway.h"
#include "session/session.h"
#include "tachyon/protocol/session_messages.h"

namespace tachyon::server {
namespace {

// Timer resolution: heartbeats, idle and logon timeouts, close deadlines.
constexpr std::int64_t kTickNs = 5'000'000;
// UdpIngress::ForgetIdleProducers runs this often.
constexpr std::int64_t kProducerSweepNs = 10'000'000'000;

std::int64_t MonotonicNs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t RealtimeNs() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

Worker::Worker(Gateway& gateway, int index, int listen_fd, int udp_fd)
    : gateway_(gateway),
      index_(index),
      listen_fd_(listen_fd),
      cpu_(static_cast<std::size_t>(index) < gateway.config().cpus.size()
               ? gateway.config().cpus[index]
               : -1),
      udp_fd_(udp_fd) {}

Worker::~Worker() {
  Join();
  // Sessions left by a failed start; normally the loop releases them all.
  for (Session* s : sessions_) delete s;
}

const config::GatewayConfig& Worker::config() const {
  return gateway_.config();
}
stream::StreamRegistry& Worker::registry() const { return gateway_.registry(); }
SessionId Worker::NextSessionId() { return gateway_.NextSessionId(); }

absl::StatusOr<stream::StreamLog*> Worker::OpenStream(std::string_view name) {
  const std::uint32_t before = registry().size();
  absl::StatusOr<stream::StreamLog*> log = registry().Open(name);
  if (log.ok() && registry().size() != before) gateway_.WakeAll();
  return log;
}

absl::Status Worker::Start() {
  std::promise<absl::Status> started;
  std::future<absl::Status> result = started.get_future();
  thread_ = std::thread([this, &started] {
    if (cpu_ >= 0) {
      if (absl::Status s = io::PinThreadToCpu(cpu_); !s.ok()) {
        TACHYON_LOG(kWarn) << "worker " << index_ << ": " << s.message();
      }
    }
    // The ring is created on the thread that submits to it (SINGLE_ISSUER).
    io::ReactorOptions options;
    options.uring_entries = config().uring_entries;
    std::string reason;
    absl::StatusOr<std::unique_ptr<io::Reactor>> reactor =
        io::CreateReactor(config().io, options, &reason);
    if (!reactor.ok()) {
      started.set_value(reactor.status());
      return;
    }
    reactor_ = *std::move(reactor);
    wake_ = std::make_unique<io::WakeSignal>(reactor_.get());
    wake_ready_.store(true, std::memory_order_release);
    gateway_.SetBackendDescription(index_, reason);
    if (absl::Status s = reactor_->AddListener(listen_fd_, this); !s.ok()) {
      started.set_value(s);
      return;
    }
    if (absl::Status s = StartUdp(); !s.ok()) {
      started.set_value(s);
      return;
    }
    started.set_value(absl::OkStatus());
    Run();
  });
  absl::Status s = result.get();
  if (!s.ok()) Join();
  return s;
}

absl::Status Worker::StartUdp() {
  const config::GatewayConfig& c = config();
  if (!c.udp.enabled) return absl::OkStatus();
  udp_egress_ = std::make_unique<udp::UdpEgress>(c, gateway_.udp_source_id(),
                                                 udp_counters_);
  if (absl::Status s = udp_egress_->Init(); !s.ok()) return s;
  for (const config::UdpGroup& g : c.udp.groups) {
    stream::StreamLog* log = registry().FindByName(g.stream);
    if (log == nullptr || gateway_.UdpOwner(log->id()) != index_) continue;
    if (absl::Status s = udp_egress_->AddGroup(log, g); !s.ok()) return s;
    UpdateInterest(log);
  }
  if (udp_fd_ >= 0) {
    udp_ingress_ = std::make_unique<udp::UdpIngress>(
        udp_fd_, c.udp.recv_batch, c.udp.max_datagram_bytes, c.max_frame_length,
        registry(), *this, udp_counters_);
    if (absl::Status s = reactor_->AddReadable(udp_fd_, udp_ingress_.get());
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

void Worker::PostUdpCommand(const UdpCommand& command) {
  {
    std::lock_guard<std::mutex> lock(udp_mu_);
    udp_commands_.push_back(command);
  }
  udp_commands_pending_.store(true, std::memory_order_release);
  Wake();
}

void Worker::RouteUdpCommand(const UdpCommand& command) {
  gateway_.PostUdpCommand(command);
}

int Worker::RunUdpCommands() {
  if (!udp_commands_pending_.load(std::memory_order_acquire)) return 0;
  {
    std::lock_guard<std::mutex> lock(udp_mu_);
    udp_running_.swap(udp_commands_);
    udp_commands_pending_.store(false, std::memory_order_relaxed);
  }
  for (const UdpCommand& cmd : udp_running_) {
    stream::StreamLog* log = registry().Find(cmd.stream);
    if (log == nullptr || udp_egress_ == nullptr) continue;
    if (cmd.kind == UdpCommand::Kind::kAdd) {
      udp_egress_->Add(log, cmd.destination, cmd.from);
    } else {
      udp_egress_->Remove(cmd.stream, cmd.destination);
    }
    UpdateInterest(log);
  }
  const int n = static_cast<int>(udp_running_.size());
  udp_running_.clear();
  return n;
}

void Worker::UpdateInterest(stream::StreamLog* log) {
  const std::uint64_t bit = std::uint64_t{1} << index_;
  const bool wanted =
      local_streams_.contains(log->id().value()) ||
      (udp_egress_ != nullptr && udp_egress_->Serves(log->id()));
  if (wanted) {
    log->interested_workers().fetch_or(bit, std::memory_order_acq_rel);
  } else {
    log->interested_workers().fetch_and(~bit, std::memory_order_acq_rel);
  }
}

void Worker::RequestStop() {
  stop_requested_.store(true, std::memory_order_release);
  Wake();
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

std::int64_t Worker::receive_time_ns() {
  if (!realtime_valid_) {
    realtime_ns_ = RealtimeNs();
    realtime_valid_ = true;
  }
  return realtime_ns_;
}

void Worker::Run() {
  io::IdleStrategy idle(config().idle);
  std::int64_t timeout_us = 0;
  now_ns_ = MonotonicNs();
  next_tick_ns_ = now_ns_ + kTickNs;
  for (;;) {
    realtime_valid_ = false;
    int work = reactor_->Poll(timeout_us);
    wake_->Awake();
    now_ns_ = MonotonicNs();
    work += CheckNewStreams();
    work += RunUdpCommands();
    if (udp_ingress_ != nullptr && udp_ingress_->pending()) {
      work += udp_ingress_->Drain();
    }
    work += PollStreams();
    work += FlushDirty();
    if (udp_egress_ != nullptr) work += udp_egress_->DoWork(now_ns_);
    if (now_ns_ >= next_tick_ns_) {
      Tick();
      next_tick_ns_ = now_ns_ + kTickNs;
    }
    if (udp_ingress_ != nullptr && now_ns_ >= next_producer_sweep_ns_) {
      if (next_producer_sweep_ns_ != 0) udp_ingress_->ForgetIdleProducers();
      next_producer_sweep_ns_ = now_ns_ + kProducerSweepNs;
    }
    if (stopping() && !draining_) {
      draining_ = true;
      drain_deadline_ns_ =
          now_ns_ + std::int64_t{config().shutdown_drain_ms} * 1'000'000 +
          2'000'000'000;  // plus the close/linger allowance
      reactor_->RemoveListener(listen_fd_);
      // Leave the SO_REUSEPORT group now: an io_uring ring tears down
      // asynchronously and its multishot accept would keep the socket
      // listening a while, so a gateway restarted on this port would get
      // (and reset) some of its first connections.
      ::shutdown(listen_fd_, SHUT_RDWR);
      if (udp_ingress_ != nullptr) reactor_->RemoveReadable(udp_fd_);
      udp_ingress_.reset();
      for (Session* s : sessions_) s->BeginDrain(now_ns_);
      ++work;
    }
    if (draining_) {
      if (sessions_.empty()) break;
      if (now_ns_ > drain_deadline_ns_) {
        for (Session* s : sessions_) s->Abort();
      }
    }
    const std::int64_t until_tick_us =
        std::max<std::int64_t>(1, (next_tick_ns_ - now_ns_) / 1000);
    timeout_us = idle.Next(work, until_tick_us);
    if (timeout_us > 0) {
      wake_->PrepareToSleep();
      // Re-check after announcing sleep: a publisher that appended before
      // seeing us asleep did not wake us.
      if (PollStreams() > 0 || !dirty_.empty() || stopping() != draining_ ||
          registry().size() != known_streams_ ||
          udp_commands_pending_.load(std::memory_order_acquire) ||
          (udp_ingress_ != nullptr && udp_ingress_->pending()) ||
          (udp_egress_ != nullptr && udp_egress_->HasBacklog())) {
        timeout_us = 0;
        wake_->Awake();  // not sleeping after all: spare publishers a wake
      }
    }
  }
}

int Worker::CheckNewStreams() {
  const std::uint32_t n = registry().size();
  if (n == known_streams_) return 0;
  for (std::uint32_t id = known_streams_ + 1; id <= n; ++id) {
    stream::StreamLog* log = registry().Find(StreamId{id});
    if (log == nullptr) continue;
    for (Session* s : std::vector<Session*>(pattern_sessions_.begin(),
                                            pattern_sessions_.end())) {
      s->OnNewStream(log);
    }
  }
  known_streams_ = n;
  return 1;
}

int Worker::PollStreams() {
  int work = 0;
  for (LocalStream* ls : local_order_) {
    const std::uint64_t tail = ls->log->tail();
    if (tail == ls->seen_tail) continue;
    ls->seen_tail = tail;
    ++work;
    for (Session* s : ls->readers) MarkDirty(s);
  }
  return work;
}

void Worker::MarkDirty(Session* s) {
  if (s->dirty) return;
  s->dirty = true;
  dirty_.push_back(s);
}

int Worker::FlushDirty() {
  if (dirty_.empty()) return 0;
  int work = 0;
  // Flushing may mark sessions dirty again (more than one writev of data);
  // those wait for the next iteration so every session gets a turn.
  flushing_.swap(dirty_);
  for (Session* s : flushing_) s->dirty = false;
  for (Session* s : flushing_) {
    s->Flush();
    ++work;
  }
  flushing_.clear();
  return work;
}

void Worker::Tick() {
  for (Session* s : std::vector<Session*>(sessions_.begin(), sessions_.end())) {
    s->Tick(now_ns_);
  }
}

void Worker::OnAppended(stream::StreamLog* log) {
  const std::uint64_t mask =
      log->interested_workers().load(std::memory_order_acquire);
  if (mask & ~(std::uint64_t{1} << index_)) gateway_.WakeWorkers(mask, index_);
}

void Worker::AddReader(Session* s, stream::StreamLog* log) {
  auto& slot = local_streams_[log->id().value()];
  if (slot == nullptr) {
    slot = std::make_unique<LocalStream>();
    slot->log = log;
    slot->seen_tail = log->tail();
    local_order_.push_back(slot.get());
    log->interested_workers().fetch_or(std::uint64_t{1} << index_,
                                       std::memory_order_acq_rel);
  }
  slot->readers.push_back(s);
}

void Worker::RemoveReader(Session* s, stream::StreamLog* log) {
  auto it = local_streams_.find(log->id().value());
  if (it == local_streams_.end()) return;
  LocalStream* ls = it->second.get();
  std::erase(ls->readers, s);
  if (ls->readers.empty()) {
    std::erase(local_order_, ls);
    local_streams_.erase(it);
    UpdateInterest(log);  // UDP egress may still want the wake-ups
  }
}

void Worker::OnAccept(int fd) {
  Bump(counters_.connections_accepted);
  if (stopping() || !gateway_.TryAddConnection()) {
    Bump(counters_.connections_refused);
    // Tell the client why before closing; best effort, the socket is new
    // and its send buffer empty.
    std::array<std::byte, 128> buf;
    const std::size_t n = protocol::EncodeError(
        buf, {.code = stopping() ? protocol::ErrorCode::kShuttingDown
                                 : protocol::ErrorCode::kLimitExceeded,
              .fatal = true,
              .text = stopping() ? "gateway is shutting down"
                                 : "connection limit reached"});
    [[maybe_unused]] ssize_t w =
        ::send(fd, buf.data(), n, MSG_NOSIGNAL | MSG_DONTWAIT);
    ::shutdown(fd, SHUT_WR);
    ::close(fd);
    return;
  }
  if (absl::Status s = io::TuneSocket(fd, config().socket, cpu_); !s.ok()) {
    TACHYON_LOG(kError) << "worker " << index_ << ": " << s.message();
    ::close(fd);
    gateway_.ReleaseConnection();
    return;
  }
  auto* session = new Session(*this, now_ns_ == 0 ? MonotonicNs() : now_ns_);
  io::Connection* conn = reactor_->AddConnection(fd, session);
  if (conn == nullptr) {
    delete session;
    gateway_.ReleaseConnection();
    return;
  }
  session->Attach(conn);
  sessions_.insert(session);
}

void Worker::CloseConnection(io::Connection* conn) {
  if (conn != nullptr) reactor_->Close(conn);
}

void Worker::DestroySession(Session* s) {
  sessions_.erase(s);
  pattern_sessions_.erase(s);
  std::erase(dirty_, s);
  std::erase(flushing_, s);
  delete s;
  gateway_.ReleaseConnection();
}

}  // namespace tachyon::server
