// io_uring reactor.
//
// Accept is one multishot SQE per listener; receive is one multishot SQE per
// connection that picks buffers from a provided-buffer ring (the kernel
// chooses a buffer only when bytes arrive, so idle connections pin no
// memory). Every buffer goes back to the ring right after its OnData. When
// the ring runs dry the kernel ends the multishot receive with -ENOBUFS; the
// bytes stay in the socket and the receive is simply re-armed. Kernels
// without buffer rings get a single-shot receive into a per-connection
// buffer.
//
// SQEs queued during a Poll (sends, re-arms) are submitted together at the
// start of the next Poll: one io_uring_enter per loop iteration. The ring is
// created with SINGLE_ISSUER and DEFER_TASKRUN where the kernel has them
// (completion work then runs only inside our own io_uring_enter, never by
// interrupting the worker), falling back flag by flag.
#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "io/reactor.h"

namespace tachyon::io {
namespace {

class UringConn final : public Connection {
 public:
  UringConn(int fd, ConnectionHandler* h) : Connection(fd, h) {}
  bool closed = false;
  bool recv_armed = false;
  bool fd_closed = false;
  int ops_in_flight = 0;
  msghdr msg{};
  iovec iov[Reactor::kMaxIov];
  std::unique_ptr<std::byte[]> recv_buffer;  // only without buffer rings
};

enum Tag : std::uintptr_t {
  kAccept = 1,
  kRecv = 2,
  kSend = 3,
  kWake = 4,
  kPoll = 5,
};
constexpr std::uintptr_t kTagMask = 7;

constexpr unsigned kBufferCount = 256;   // power of two
constexpr unsigned kBufferSize = 16384;  // bytes per provided buffer
constexpr unsigned kFallbackRecvSize = 65536;
constexpr int kBufferGroup = 0;

struct Readable {
  int fd;
  ReadinessHandler* handler;
  bool removed = false;
  bool armed = false;
};

struct Listener {
  int fd;
  AcceptHandler* handler;
  bool multishot = true;
  bool removed = false;
};

std::uint64_t Pack(void* p, Tag tag) {
  return reinterpret_cast<std::uintptr_t>(p) | tag;
}

absl::Status UringError(std::string_view what, int neg_errno) {
  return absl::InternalError(
      absl::StrCat(AbslView(what), ": ", std::strerror(-neg_errno)));
}

class UringReactor final : public Reactor {
 public:
  explicit UringReactor(const ReactorOptions& options) : options_(options) {}

  ~UringReactor() override {
    for (UringConn* c : all_) {
      if (!c->fd_closed) ::close(c->fd());
      delete c;
    }
    if (ring_ok_) {
      if (buf_ring_ != nullptr) {
        io_uring_unregister_buf_ring(&ring_, kBufferGroup);
      }
      io_uring_queue_exit(&ring_);
    }
    if (buf_ring_ != nullptr) ::munmap(buf_ring_, buf_ring_bytes_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  absl::Status Init(std::string* features) {
    io_uring_params params{};
    const unsigned base = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
    const unsigned attempts[] = {
        base | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        base | IORING_SETUP_SINGLE_ISSUER, base, 0};
    int rc = -EINVAL;
    for (unsigned flags : attempts) {
      params = {};
      params.flags = flags;
      rc = io_uring_queue_init_params(
          static_cast<unsigned>(options_.uring_entries), &ring_, &params);
      if (rc == 0) {
        setup_flags_ = flags;
        break;
      }
      if (rc != -EINVAL) break;
    }
    if (rc != 0) return UringError("io_uring_queue_init", rc);
    ring_ok_ = true;
    if ((params.features & IORING_FEAT_EXT_ARG) == 0) {
      return absl::UnavailableError(
          "io_uring lacks IORING_FEAT_EXT_ARG (kernel < 5.11)");
    }
    io_uring_register_ring_fd(&ring_);

    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) return absl::InternalError("eventfd failed");
    ArmWake();

    if (options_.uring_provided_buffers) SetUpBufferRing();
    if (features != nullptr) {
      *features = absl::StrCat(
          (setup_flags_ & IORING_SETUP_SINGLE_ISSUER) ? "single-issuer " : "",
          (setup_flags_ & IORING_SETUP_DEFER_TASKRUN) ? "defer-taskrun " : "",
          buf_ring_ != nullptr ? "provided-buffer-ring multishot-recv"
                               : "single-shot-recv");
    }
    return absl::OkStatus();
  }

  std::string_view name() const override { return "io_uring"; }

  absl::Status AddListener(int fd, AcceptHandler* handler) override {
    auto l = std::make_unique<Listener>(Listener{fd, handler});
    ArmAccept(l.get());
    listeners_.push_back(std::move(l));
    return absl::OkStatus();
  }

  absl::Status AddReadable(int fd, ReadinessHandler* handler) override {
    auto r = std::make_unique<Readable>(Readable{fd, handler});
    ArmPoll(r.get());
    readables_.push_back(std::move(r));
    return absl::OkStatus();
  }

  void RemoveReadable(int fd) override {
    for (auto& r : readables_) {
      if (r->fd == fd && !r->removed) {
        r->removed = true;
        if (!r->armed) continue;
        io_uring_sqe* sqe = GetSqe();
        io_uring_prep_poll_remove(sqe, Pack(r.get(), kPoll));
        io_uring_sqe_set_data64(sqe, 0);
        // Make the removal effective before the caller closes the fd.
        io_uring_submit(&ring_);
      }
    }
  }

  void RemoveListener(int fd) override {
    for (auto& l : listeners_) {
      if (l->fd == fd && !l->removed) {
        l->removed = true;
        io_uring_sqe* sqe = GetSqe();
        io_uring_prep_cancel64(sqe, Pack(l.get(), kAccept), 0);
        io_uring_sqe_set_data64(sqe, 0);
        // Make the cancel effective before the caller closes the fd.
        io_uring_submit(&ring_);
      }
    }
  }

  Connection* AddConnection(int fd, ConnectionHandler* handler) override {
    auto* c = new UringConn(fd, handler);
    if (buf_ring_ == nullptr) {
      c->recv_buffer = std::make_unique<std::byte[]>(kFallbackRecvSize);
    }
    all_.push_back(c);
    ArmRecv(c);
    return c;
  }

  SendResult Send(Connection* conn, std::span<const iovec> iov) override {
    auto* c = static_cast<UringConn*>(conn);
    if (c->closed) return {false, -EBADF};
    const std::size_t n = std::min(iov.size(), kMaxIov);
    std::memcpy(c->iov, iov.data(), n * sizeof(iovec));
    c->msg = {};
    c->msg.msg_iov = c->iov;
    c->msg.msg_iovlen = n;
    io_uring_sqe* sqe = GetSqe();
    io_uring_prep_sendmsg(sqe, c->fd(), &c->msg, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, Pack(c, kSend));
    ++c->ops_in_flight;
    return {true, 0};
  }

  void Close(Connection* conn) override {
    auto* c = static_cast<UringConn*>(conn);
    if (c->closed) return;
    c->closed = true;
    // Shutting the socket down completes the armed receive (EOF) and any
    // pending send (EPIPE) on every kernel, with no cancel support needed.
    ::shutdown(c->fd(), SHUT_RDWR);
    MaybeRelease(c);
  }

  int Poll(std::int64_t timeout_us) override {
    int handled = ReleaseClosed();
    if (timeout_us > 0 && handled == 0) {
      __kernel_timespec ts{};
      ts.tv_sec = timeout_us / 1000000;
      ts.tv_nsec = (timeout_us % 1000000) * 1000;
      io_uring_cqe* cqe = nullptr;
      io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    } else {
      io_uring_submit_and_get_events(&ring_);
    }
    handled += DrainCompletions();
    return handled;
  }

  void Wake() override {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(wake_fd_, &one, sizeof one);
  }

 private:
  void SetUpBufferRing() {
    buf_ring_bytes_ = kBufferCount * sizeof(io_uring_buf);
    void* mem = ::mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE,
                       MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) return;
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(mem);
    reg.ring_entries = kBufferCount;
    reg.bgid = kBufferGroup;
    if (io_uring_register_buf_ring(&ring_, &reg, 0) != 0) {
      ::munmap(mem, buf_ring_bytes_);
      return;
    }
    buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
    buffers_ = std::make_unique<std::byte[]>(
        static_cast<std::size_t>(kBufferCount) * kBufferSize);
    io_uring_buf_ring_init(buf_ring_);
    const int mask = io_uring_buf_ring_mask(kBufferCount);
    for (unsigned i = 0; i < kBufferCount; ++i) {
      io_uring_buf_ring_add(buf_ring_, BufferAt(i), kBufferSize,
                            static_cast<unsigned short>(i), mask,
                            static_cast<int>(i));
    }
    io_uring_buf_ring_advance(buf_ring_, kBufferCount);
  }

  std::byte* BufferAt(unsigned id) {
    return buffers_.get() + static_cast<std::size_t>(id) * kBufferSize;
  }

  void RecycleBuffer(unsigned id) {
    io_uring_buf_ring_add(buf_ring_, BufferAt(id), kBufferSize,
                          static_cast<unsigned short>(id),
                          io_uring_buf_ring_mask(kBufferCount), 0);
    io_uring_buf_ring_advance(buf_ring_, 1);
  }

  io_uring_sqe* GetSqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (sqe == nullptr) {
      // Submission queue full: flush it now rather than drop the request.
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void ArmWake() {
    io_uring_sqe* sqe = GetSqe();
    io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof wake_value_, 0);
    io_uring_sqe_set_data64(sqe, Pack(&wake_value_, kWake));
  }

  // A multishot poll posts a completion for every wake-up of the socket, so
  // it behaves like an edge-triggered EPOLLIN; it is re-armed if the kernel
  // ends it.
  void ArmPoll(Readable* r) {
    io_uring_sqe* sqe = GetSqe();
    io_uring_prep_poll_multishot(sqe, r->fd, POLLIN);
    io_uring_sqe_set_data64(sqe, Pack(r, kPoll));
    r->armed = true;
  }

  void ArmAccept(Listener* l) {
    io_uring_sqe* sqe = GetSqe();
    if (l->multishot) {
      io_uring_prep_multishot_accept(sqe, l->fd, nullptr, nullptr,
                                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    } else {
      io_uring_prep_accept(sqe, l->fd, nullptr, nullptr,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    }
    io_uring_sqe_set_data64(sqe, Pack(l, kAccept));
  }

  void ArmRecv(UringConn* c) {
    io_uring_sqe* sqe = GetSqe();
    if (buf_ring_ != nullptr) {
      io_uring_prep_recv_multishot(sqe, c->fd(), nullptr, 0, 0);
      sqe->flags |= IOSQE_BUFFER_SELECT;
      sqe->buf_group = kBufferGroup;
    } else {
      io_uring_prep_recv(sqe, c->fd(), c->recv_buffer.get(), kFallbackRecvSize,
                         0);
    }
    io_uring_sqe_set_data64(sqe, Pack(c, kRecv));
    c->recv_armed = true;
    ++c->ops_in_flight;
  }

  int DrainCompletions() {
    int handled = 0;
    io_uring_cqe* cqe;
    while (io_uring_peek_cqe(&ring_, &cqe) == 0) {
      const std::uint64_t data = cqe->user_data;
      const int res = cqe->res;
      const unsigned flags = cqe->flags;
      io_uring_cqe_seen(&ring_, cqe);
      if (data == 0) continue;  // cancel request
      ++handled;
      void* ptr = reinterpret_cast<void*>(data & ~kTagMask);
      switch (static_cast<Tag>(data & kTagMask)) {
        case kWake:
          ArmWake();
          break;
        case kAccept:
          OnAcceptCompletion(static_cast<Listener*>(ptr), res, flags);
          break;
        case kRecv:
          OnRecvCompletion(static_cast<UringConn*>(ptr), res, flags);
          break;
        case kPoll: {
          auto* r = static_cast<Readable*>(ptr);
          if ((flags & IORING_CQE_F_MORE) == 0) r->armed = false;
          if (r->removed) break;
          if (res > 0) r->handler->OnReadable();
          if (!r->armed && !r->removed) ArmPoll(r);
          break;
        }
        case kSend: {
          auto* c = static_cast<UringConn*>(ptr);
          --c->ops_in_flight;
          if (!c->closed) c->handler()->OnSendComplete(res);
          MaybeRelease(c);
          break;
        }
      }
    }
    return handled;
  }

  void OnAcceptCompletion(Listener* l, int res, unsigned flags) {
    if (res >= 0) {
      if (l->removed) {
        ::close(res);
      } else {
        l->handler->OnAccept(res);
      }
    } else if (res == -EINVAL && l->multishot) {
      l->multishot = false;  // kernel without multishot accept
    }
    if ((flags & IORING_CQE_F_MORE) == 0 && !l->removed && res != -ECANCELED) {
      ArmAccept(l);
    }
  }

  void OnRecvCompletion(UringConn* c, int res, unsigned flags) {
    const bool more = (flags & IORING_CQE_F_MORE) != 0;
    if (!more) {
      c->recv_armed = false;
      --c->ops_in_flight;
    }
    if (res > 0) {
      std::byte* data;
      unsigned buffer_id = 0;
      const bool from_ring = (flags & IORING_CQE_F_BUFFER) != 0;
      if (from_ring) {
        buffer_id = flags >> IORING_CQE_BUFFER_SHIFT;
        data = BufferAt(buffer_id);
      } else {
        data = c->recv_buffer.get();
      }
      if (!c->closed) {
        c->handler()->OnData({data, static_cast<std::size_t>(res)});
      }
      if (from_ring) RecycleBuffer(buffer_id);
      if (!more && !c->closed) ArmRecv(c);
    } else if (res == -ENOBUFS) {
      // Buffer ring momentarily empty; the bytes wait in the socket.
      if (!c->closed && !c->recv_armed) ArmRecv(c);
    } else if (!c->closed) {
      c->handler()->OnPeerClosed(res == 0 ? 0 : res);
    }
    MaybeRelease(c);
  }

  // Idempotent: both Close() and the completion that dropped the last
  // operation may get here for the same connection.
  void MaybeRelease(UringConn* c) {
    if (c->closed && c->ops_in_flight == 0 && !c->fd_closed) {
      ::close(c->fd());
      c->fd_closed = true;
      released_.push_back(c);
    }
  }

  int ReleaseClosed() {
    if (released_.empty()) return 0;
    std::vector<UringConn*> batch = std::exchange(released_, {});
    for (UringConn* c : batch) {
      std::erase(all_, c);
      ConnectionHandler* h = c->handler();
      delete c;
      h->OnReleased();
    }
    return static_cast<int>(batch.size());
  }

  ReactorOptions options_;
  io_uring ring_{};
  bool ring_ok_ = false;
  unsigned setup_flags_ = 0;
  int wake_fd_ = -1;
  std::uint64_t wake_value_ = 0;
  io_uring_buf_ring* buf_ring_ = nullptr;
  std::size_t buf_ring_bytes_ = 0;
  std::unique_ptr<std::byte[]> buffers_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  // Kept for the reactor's life: a removed entry may still get a completion.
  std::vector<std::unique_ptr<Readable>> readables_;
  std::vector<UringConn*> released_;
  std::vector<UringConn*> all_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Reactor>> CreateUringReactor(
    const ReactorOptions& options) {
  auto r = std::make_unique<UringReactor>(options);
  std::string features;
  if (absl::Status s = r->Init(&features); !s.ok()) return s;
  return std::unique_ptr<Reactor>(std::move(r));
}

absl::StatusOr<std::unique_ptr<Reactor>> CreateReactor(
    config::IoBackend io, const ReactorOptions& options,
    std::string* chosen_reason) {
  switch (io) {
    case config::IoBackend::kEpoll:
      if (chosen_reason) *chosen_reason = "epoll (configured)";
      return CreateEpollReactor(options);
    case config::IoBackend::kUring: {
      auto r = std::make_unique<UringReactor>(options);
      std::string features;
      if (absl::Status s = r->Init(&features); !s.ok()) return s;
      if (chosen_reason) *chosen_reason = "io_uring (configured): " + features;
      return std::unique_ptr<Reactor>(std::move(r));
    }
    case config::IoBackend::kAuto: {
      auto r = std::make_unique<UringReactor>(options);
      std::string features;
      absl::Status s = r->Init(&features);
      if (s.ok()) {
        if (chosen_reason) *chosen_reason = "io_uring (auto): " + features;
        return std::unique_ptr<Reactor>(std::move(r));
      }
      if (chosen_reason) {
        *chosen_reason = absl::StrCat(
            "epoll (auto: io_uring unavailable: ", s.message(), ")");
      }
      return CreateEpollReactor(options);
    }
  }
  return absl::InvalidArgumentError("unknown io backend");
}

}  // namespace tachyon::io
