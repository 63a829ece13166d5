// io_uring reactor.
//
// Accept is one multishot SQE per listener; receive is one multishot SQE per
// connection that picks buffers from a provided-buffer ring (the kernel
// chooses a buffer only when bytes arrive, so idle connections pin no
// memory). Buffers go back to the ring after their OnData, published
// together once per drain of completions (and before anything is submitted
// mid-drain). When the ring runs dry the kernel ends the multishot receive
// with -ENOBUFS; the bytes stay in the socket and the receive is simply
// re-armed. Kernels without buffer rings get a single-shot receive into a
// per-connection buffer.
//
// Sends carry MSG_DONTWAIT: the kernel then makes one attempt and completes
// with -EAGAIN on a full socket instead of parking the send and copying its
// memory whenever the socket drains (REQ_F_NOWAIT). -EAGAIN becomes
// OnSendComplete(0) and a one-shot POLLOUT poll, whose completion is
// OnWritable, exactly as epoll does it.
//
// Outbound connects are IORING_OP_CONNECT linked to a link timeout; the
// address lives in the connection until the connect completes, and a
// connect the timeout cancelled (-ECANCELED) is reported as -ETIMEDOUT.
//
// SQEs queued during a Poll (sends, re-arms) are submitted together at the
// start of the next Poll: at most one io_uring_enter per loop iteration, and
// none when nothing is queued and the kernel flags no completions to post
// (a spinning worker reads the completion queue in shared memory; see
// Ring). A full
// submission queue is flushed on the spot (see Ring, which also says how
// the ring is set up); when even that yields no SQE, Send fails with
// -ENOBUFS and an internal arm (receive, accept, poll, connect, cancel)
// waits on a retry list that the next Poll works through first. Nothing is
// dropped and nothing spins.
#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "io/reactor.h"
#include "io/reactor_common.h"
#include "io/uring/ring.h"
#include "io/uring/uring_faults.h"

namespace tachyon::io {
namespace {

using internal::BufferRing;
using internal::Completion;
using Readable = internal::ReadableEntry;

class UringConn final : public internal::ConnectionBase {
 public:
  UringConn(int fd, ConnectionHandler* h) : ConnectionBase(fd, h) {}
  bool recv_armed = false;
  bool writable_armed = false;  // POLLOUT poll after a send wrote nothing
  bool connect_issued = false;  // the connect SQE is in the ring
  bool fd_closed = false;
  // Operations that will still reference this connection: SQEs in flight
  // and entries on the retry list. Released only at zero.
  int ops_in_flight = 0;
  msghdr msg{};
  iovec iov[Reactor::kMaxIov];
  std::unique_ptr<std::byte[]> recv_buffer;  // only without buffer rings
  // Outbound connect: read by the kernel at submission.
  internal::PeerAddress peer;
  __kernel_timespec connect_timeout{};
  bool has_timeout = false;
  int connect_error = 0;  // found before submission (reported by Poll)
  // PauseReading: bytes received before the receive was cancelled, and a
  // hang-up seen meanwhile, handed over after ResumeReading.
  std::vector<std::byte> held;
  bool held_hangup = false;
  int held_error = 0;
};

enum Tag : std::uintptr_t {
  kAccept = 1,
  kRecv = 2,
  kSend = 3,
  kWake = 4,
  kPoll = 5,
  kConnect = 6,
  kWritable = 7,
};
constexpr std::uintptr_t kTagMask = 7;

constexpr unsigned kFallbackRecvSize = 65536;

struct Listener {
  int fd;
  AcceptHandler* handler;
  bool multishot = true;
  bool removed = false;
};

// An arm that found no SQE, retried by the next Poll.
enum class Retry : std::uint8_t {
  kRecv,
  kWritable,
  kConnect,
  kConnectFailed,  // not an SQE: OnConnected(connect_error) from Poll
  kCancelConnect,
  kAccept,
  kCancelAccept,
  kPoll,
  kRemovePoll,
  kWake,
  kCancelRecv,   // PauseReading's cancel of a multishot receive
  kDeliverHeld,  // not an SQE: after ResumeReading, from Poll
};
struct Deferred {
  void* target;
  Retry what;
};

std::uint64_t Pack(void* p, Tag tag) {
  return reinterpret_cast<std::uintptr_t>(p) | tag;
}

class UringReactor final : public Reactor {
 public:
  UringReactor(const ReactorOptions& options, internal::UringFaults* faults)
      : options_(options), faults_(faults) {}

  ~UringReactor() override {
    // The ring goes first: its exit cancels every operation that could
    // still write to connection memory.
    ring_.Exit();
    conns_.DestroyAll([](UringConn* c) { return !c->fd_closed; });
  }

  absl::Status Init(std::string* features) {
    if (absl::Status s =
            ring_.Init(static_cast<unsigned>(options_.uring_entries),
                       options_.uring_provided_buffers, faults_);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = wake_.Open(); !s.ok()) return s;
    ArmWake();
    if (features != nullptr) {
      const unsigned flags = ring_.setup_flags();
      *features = absl::StrCat(
          (flags & IORING_SETUP_SINGLE_ISSUER) ? "single-issuer " : "",
          (flags & IORING_SETUP_DEFER_TASKRUN) ? "defer-taskrun " : "",
          (flags & IORING_SETUP_TASKRUN_FLAG) ? "taskrun-flag " : "",
          ring_.buffers().ok() ? "provided-buffer-ring multishot-recv"
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
    ArmPoll(readables_.Add(fd, handler));
    return absl::OkStatus();
  }

  void RemoveReadable(int fd) override {
    readables_.Remove(fd, [this](Readable* r) {
      if (!r->armed) return;
      // Make the removal effective before the caller closes the fd.
      if (PrepRemovePoll(r)) {
        ring_.Submit();
      } else {
        Defer(r, Retry::kRemovePoll);
      }
    });
  }

  void RemoveListener(int fd) override {
    for (auto& l : listeners_) {
      if (l->fd == fd && !l->removed) {
        l->removed = true;
        // Make the cancel effective before the caller closes the fd.
        if (PrepCancel(Pack(l.get(), kAccept))) {
          ring_.Submit();
        } else {
          Defer(l.get(), Retry::kCancelAccept);
        }
      }
    }
  }

  Connection* AddConnection(int fd, ConnectionHandler* handler) override {
    UringConn* c = NewConn(fd, handler);
    ArmRecv(c);
    return c;
  }

  Connection* Connect(int fd, const sockaddr* addr, socklen_t len,
                      ConnectionHandler* handler,
                      std::int64_t timeout_us) override {
    UringConn* c = NewConn(fd, handler);
    c->connecting = true;
    if (!c->peer.Assign(addr, len)) {
      c->connect_error = -EINVAL;
      ++c->ops_in_flight;  // until Poll reports it
      Defer(c, Retry::kConnectFailed);
      return c;
    }
    if (timeout_us > 0) {
      c->has_timeout = true;
      c->connect_timeout.tv_sec = timeout_us / 1'000'000;
      c->connect_timeout.tv_nsec = (timeout_us % 1'000'000) * 1000;
    }
    ArmConnOp(c, Retry::kConnect);
    return c;
  }

  SendResult Send(Connection* conn, std::span<const iovec> iov) override {
    auto* c = static_cast<UringConn*>(conn);
    if (c->closed) return {false, -EBADF};
    if (c->connecting) return {false, -ENOTCONN};
    io_uring_sqe* sqe = ring_.GetSqe();
    if (sqe == nullptr) return {false, -ENOBUFS};
    const std::size_t n = std::min(iov.size(), kMaxIov);
    std::memcpy(c->iov, iov.data(), n * sizeof(iovec));
    c->msg = {};
    c->msg.msg_iov = c->iov;
    c->msg.msg_iovlen = n;
    io_uring_prep_sendmsg(sqe, c->fd(), &c->msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    io_uring_sqe_set_data64(sqe, Pack(c, kSend));
    ++c->ops_in_flight;
    return {true, 0};
  }

  void Close(Connection* conn) override {
    auto* c = static_cast<UringConn*>(conn);
    if (c->closed) return;
    c->closed = true;
    if (c->connecting) {
      // A connect still on the retry list is dropped there; one in the ring
      // is cancelled (shutdown would not stop one not yet submitted).
      if (c->connect_issued) CancelConnect(c);
    } else {
      // Shutting the socket down completes the armed receive (EOF), a
      // pending send (EPIPE) and a POLLOUT poll (POLLHUP) on every kernel,
      // with no cancel support needed.
      ::shutdown(c->fd(), SHUT_RDWR);
    }
    MaybeRelease(c);
  }

  int Poll(std::int64_t timeout_us) override {
    int handled = conns_.ReleaseRetired();
    handled += RunDeferred();
    const bool busy = handled > 0 || !deferred_.empty();
    ring_.SubmitAndWait(busy ? 0 : timeout_us);
    handled += DrainCompletions();
    return handled;
  }

  void PauseReading(Connection* conn) override {
    auto* c = static_cast<UringConn*>(conn);
    if (c->read_paused || c->closed) return;
    c->read_paused = true;
    // A multishot receive would go on filling buffers: cancel it. What it
    // delivers before the cancel lands is held (OnRecvCompletion). A
    // single-shot receive just is not re-armed.
    if (c->recv_armed && ring_.buffers().ok() && !PrepCancel(Pack(c, kRecv))) {
      ++c->ops_in_flight;  // held by the retry entry
      Defer(c, Retry::kCancelRecv);
    }
  }

  void ResumeReading(Connection* conn) override {
    auto* c = static_cast<UringConn*>(conn);
    if (!c->read_paused) return;
    c->read_paused = false;
    if (c->closed) return;
    // From the next Poll: held bytes first, then a fresh receive.
    ++c->ops_in_flight;  // held by the retry entry
    Defer(c, Retry::kDeliverHeld);
  }

  void Wake() override { wake_.Signal(); }

  std::uint64_t event_syscalls() const override { return ring_.enters(); }

 private:
  UringConn* NewConn(int fd, ConnectionHandler* handler) {
    auto* c = new UringConn(fd, handler);
    if (!ring_.buffers().ok()) {
      c->recv_buffer = std::make_unique<std::byte[]>(kFallbackRecvSize);
    }
    return conns_.Add(c);
  }

  void Defer(void* target, Retry what) { deferred_.push_back({target, what}); }

  // Retries each arm that found no SQE before this call; those that fail
  // again stay for the next Poll.
  int RunDeferred() {
    if (deferred_.empty()) return 0;
    retrying_.swap(deferred_);
    int handled = 0;
    for (const Deferred& d : retrying_) {
      if (Retried(d)) {
        ++handled;
      } else {
        deferred_.push_back(d);
      }
    }
    retrying_.clear();
    return handled;
  }

  // False when `d` still found no SQE.
  bool Retried(const Deferred& d) {
    switch (d.what) {
      case Retry::kRecv:
      case Retry::kWritable:
      case Retry::kConnect:
      case Retry::kConnectFailed:
      case Retry::kCancelConnect:
      case Retry::kCancelRecv:
      case Retry::kDeliverHeld:
        return RetriedForConn(static_cast<UringConn*>(d.target), d.what);
      case Retry::kAccept: {
        auto* l = static_cast<Listener*>(d.target);
        return l->removed || PrepAccept(l);
      }
      case Retry::kCancelAccept:
        return PrepCancel(Pack(d.target, kAccept));
      case Retry::kPoll: {
        auto* r = static_cast<Readable*>(d.target);
        if (r->removed) {
          r->armed = false;
          return true;
        }
        return PrepPoll(r);
      }
      case Retry::kRemovePoll:
        return PrepRemovePoll(static_cast<Readable*>(d.target));
      case Retry::kWake:
        return PrepWake();
    }
    return true;
  }

  // Each entry holds one of the connection's ops_in_flight: kept when the
  // retry becomes the operation, dropped when the entry ends otherwise.
  bool RetriedForConn(UringConn* c, Retry what) {
    switch (what) {
      case Retry::kRecv:
      case Retry::kWritable:
      case Retry::kConnect:
        // A receive deferred before a PauseReading is dropped: the resume
        // arms a fresh one.
        if (!c->closed && !(what == Retry::kRecv && c->read_paused)) {
          return PrepConnOp(c, what);
        }
        if (what == Retry::kRecv) c->recv_armed = false;
        if (what == Retry::kWritable) c->writable_armed = false;
        break;
      case Retry::kConnectFailed:
        if (!c->closed) {
          --c->ops_in_flight;
          FailConnect(c, c->connect_error);
          return true;
        }
        break;
      case Retry::kCancelConnect:
        if (c->connect_issued && !PrepCancel(Pack(c, kConnect))) return false;
        break;
      case Retry::kCancelRecv:
        if (!c->closed && c->read_paused && c->recv_armed &&
            !PrepCancel(Pack(c, kRecv))) {
          return false;
        }
        break;
      case Retry::kDeliverHeld:
        if (!c->closed) DeliverHeld(c);
        break;
      default:
        break;
    }
    --c->ops_in_flight;
    MaybeRelease(c);
    return true;
  }

  bool PrepWake() {
    io_uring_sqe* sqe = ring_.GetSqe();
    if (sqe == nullptr) return false;
    io_uring_prep_read(sqe, wake_.fd(), &wake_value_, sizeof wake_value_, 0);
    io_uring_sqe_set_data64(sqe, Pack(&wake_value_, kWake));
    return true;
  }

  void ArmWake() {
    if (!PrepWake()) Defer(&wake_value_, Retry::kWake);
  }

  // A multishot poll posts a completion for every wake-up of the socket, so
  // it behaves like an edge-triggered EPOLLIN; it is re-armed if the kernel
  // ends it.
  bool PrepPoll(Readable* r) {
    io_uring_sqe* sqe = ring_.GetSqe();
    if (sqe == nullptr) return false;
    io_uring_prep_poll_multishot(sqe, r->fd, POLLIN);
    io_uring_sqe_set_data64(sqe, Pack(r, kPoll));
    return true;
  }

  void ArmPoll(Readable* r) {
    r->armed = true;
    if (!PrepPoll(r)) Defer(r, Retry::kPoll);
  }

  bool PrepRemovePoll(Readable* r) {
    io_uring_sqe* sqe = ring_.GetSqe();
    if (sqe == nullptr) return false;
    io_uring_prep_poll_remove(sqe, Pack(r, kPoll));
    io_uring_sqe_set_data64(sqe, 0);
    return true;
  }

  // A cancel's own completion carries user_data 0 and is ignored.
  bool PrepCancel(std::uint64_t user_data) {
    io_uring_sqe* sqe = ring_.GetSqe();
    if (sqe == nullptr) return false;
    io_uring_prep_cancel64(sqe, user_data, 0);
    io_uring_sqe_set_data64(sqe, 0);
    return true;
  }

  bool PrepAccept(Listener* l) {
    io_uring_sqe* sqe = ring_.GetSqe();
    if (sqe == nullptr) return false;
    if (l->multishot) {
      io_uring_prep_multishot_accept(sqe, l->fd, nullptr, nullptr,
                                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    } else {
      io_uring_prep_accept(sqe, l->fd, nullptr, nullptr,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    }
    io_uring_sqe_set_data64(sqe, Pack(l, kAccept));
    return true;
  }

  void ArmAccept(Listener* l) {
    if (!PrepAccept(l)) Defer(l, Retry::kAccept);
  }

  bool PrepRecv(UringConn* c) {
    io_uring_sqe* sqe = ring_.GetSqe();
    if (sqe == nullptr) return false;
    if (ring_.buffers().ok()) {
      io_uring_prep_recv_multishot(sqe, c->fd(), nullptr, 0, 0);
      sqe->flags |= IOSQE_BUFFER_SELECT;
      sqe->buf_group = BufferRing::kGroup;
    } else {
      io_uring_prep_recv(sqe, c->fd(), c->recv_buffer.get(), kFallbackRecvSize,
                         0);
    }
    io_uring_sqe_set_data64(sqe, Pack(c, kRecv));
    return true;
  }

  bool PrepWritable(UringConn* c) {
    io_uring_sqe* sqe = ring_.GetSqe();
    if (sqe == nullptr) return false;
    io_uring_prep_poll_add(sqe, c->fd(), POLLOUT);
    io_uring_sqe_set_data64(sqe, Pack(c, kWritable));
    return true;
  }

  bool PrepConnOp(UringConn* c, Retry op) {
    switch (op) {
      case Retry::kRecv:
        return PrepRecv(c);
      case Retry::kWritable:
        return PrepWritable(c);
      default:
        return PrepConnect(c);
    }
  }

  // Starts `op` (kRecv, kWritable or kConnect) on `c`. It holds one of the
  // connection's ops_in_flight until its completion, or until the retry
  // list drops it after a Close.
  void ArmConnOp(UringConn* c, Retry op) {
    ++c->ops_in_flight;
    if (!PrepConnOp(c, op)) Defer(c, op);
  }

  void ArmRecv(UringConn* c) {
    c->recv_armed = true;
    ArmConnOp(c, Retry::kRecv);
  }

  // The connect and, with a timeout, its linked timeout: two SQEs in a row,
  // or none.
  bool PrepConnect(UringConn* c) {
    if (!ring_.Reserve(c->has_timeout ? 2 : 1)) return false;
    io_uring_sqe* sqe = ring_.UncheckedSqe();
    io_uring_prep_connect(sqe, c->fd(), c->peer.get(), c->peer.len);
    io_uring_sqe_set_data64(sqe, Pack(c, kConnect));
    if (c->has_timeout) {
      sqe->flags |= IOSQE_IO_LINK;
      io_uring_sqe* timeout = ring_.UncheckedSqe();
      io_uring_prep_link_timeout(timeout, &c->connect_timeout, 0);
      io_uring_sqe_set_data64(timeout, 0);
    }
    c->connect_issued = true;
    return true;
  }

  void CancelConnect(UringConn* c) {
    if (PrepCancel(Pack(c, kConnect))) return;
    ++c->ops_in_flight;  // held by the retry entry
    Defer(c, Retry::kCancelConnect);
  }

  int DrainCompletions() {
    int handled = 0;
    Completion e;
    for (unsigned budget = ring_.drain_budget();
         budget > 0 && ring_.NextCompletion(&e); --budget) {
      if (e.user_data == 0) continue;  // cancel request, link timeout
      ++handled;
      Dispatch(e);
    }
    // Buffers go back in one batch; before any re-arm is submitted, since
    // every submission publishes them first.
    if (ring_.buffers().ok()) ring_.buffers().Publish();
    return handled;
  }

  void Dispatch(const Completion& e) {
    void* ptr = reinterpret_cast<void*>(e.user_data & ~kTagMask);
    switch (static_cast<Tag>(e.user_data & kTagMask)) {
      case kWake:
        ArmWake();
        break;
      case kAccept:
        OnAcceptCompletion(static_cast<Listener*>(ptr), e.res, e.flags);
        break;
      case kRecv:
        OnRecvCompletion(static_cast<UringConn*>(ptr), e.res, e.flags);
        break;
      case kPoll: {
        auto* r = static_cast<Readable*>(ptr);
        if ((e.flags & IORING_CQE_F_MORE) == 0) r->armed = false;
        if (r->removed) break;
        if (e.res > 0) r->handler->OnReadable();
        if (!r->armed && !r->removed) ArmPoll(r);
        break;
      }
      case kSend:
        OnSendCompletion(static_cast<UringConn*>(ptr), e.res);
        break;
      case kWritable: {
        auto* c = static_cast<UringConn*>(ptr);
        --c->ops_in_flight;
        c->writable_armed = false;
        // Also on an error: the next send reports it.
        if (!c->closed) c->handler()->OnWritable();
        MaybeRelease(c);
        break;
      }
      case kConnect:
        OnConnectCompletion(static_cast<UringConn*>(ptr), e.res);
        break;
    }
  }

  void OnSendCompletion(UringConn* c, int res) {
    --c->ops_in_flight;
    if (!c->closed) {
      // MSG_DONTWAIT: a full socket took nothing and holds nothing.
      const bool full = res == -EAGAIN;
      c->handler()->OnSendComplete(full ? 0 : res);
      if (full && !c->closed && !c->writable_armed) {
        c->writable_armed = true;
        ArmConnOp(c, Retry::kWritable);
      }
    }
    MaybeRelease(c);
  }

  void OnConnectCompletion(UringConn* c, int res) {
    --c->ops_in_flight;
    c->connect_issued = false;
    if (c->closed) {
      MaybeRelease(c);
      return;
    }
    if (res != 0) {
      // Only the linked timeout cancels a connect of an open connection.
      FailConnect(c, res == -ECANCELED ? -ETIMEDOUT : res);
      return;
    }
    c->connecting = false;
    c->handler()->OnConnected(0);
    if (!c->closed) ArmRecv(c);
  }

  void FailConnect(UringConn* c, int error) {
    // Still `connecting` during the call, so a Send gets -ENOTCONN.
    c->handler()->OnConnected(error);
    c->connecting = false;
    Close(c);
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
        data = ring_.buffers().At(buffer_id);
      } else {
        data = c->recv_buffer.get();
      }
      if (c->closed) {
      } else if (c->read_paused) {
        c->held.insert(c->held.end(), data, data + res);
      } else {
        c->handler()->OnData({data, static_cast<std::size_t>(res)});
      }
      if (from_ring) ring_.buffers().Recycle(buffer_id);
      if (!more && !c->closed && !c->read_paused) ArmRecv(c);
    } else if (res == -ENOBUFS || res == -ECANCELED) {
      // ENOBUFS: buffer ring momentarily empty; the bytes wait in the
      // socket, and the buffers handed back by this drain are published
      // before the re-arm is submitted. ECANCELED: PauseReading's cancel,
      // perhaps landing after a ResumeReading.
      if (!c->closed && !c->recv_armed && !c->read_paused) ArmRecv(c);
    } else if (c->closed) {
    } else if (c->read_paused) {
      c->held_hangup = true;
      c->held_error = res;
    } else {
      c->handler()->OnPeerClosed(res == 0 ? 0 : res);
    }
    MaybeRelease(c);
  }

  // After ResumeReading (unless paused again since): the held bytes, then
  // a held hang-up, else a fresh receive.
  void DeliverHeld(UringConn* c) {
    if (c->read_paused) return;
    if (!c->held.empty()) {
      std::vector<std::byte> held = std::move(c->held);
      c->held.clear();
      c->handler()->OnData(held);
      if (c->held.empty()) {
        held.clear();
        c->held = std::move(held);  // keep the capacity
      }
      if (c->closed || c->read_paused) return;
    }
    if (c->held_hangup) {
      c->held_hangup = false;
      c->handler()->OnPeerClosed(c->held_error);
      return;
    }
    if (!c->recv_armed) ArmRecv(c);
  }

  // Idempotent: both Close() and the completion that dropped the last
  // operation may get here for the same connection.
  void MaybeRelease(UringConn* c) {
    if (c->closed && c->ops_in_flight == 0 && !c->fd_closed) {
      ::close(c->fd());
      c->fd_closed = true;
      conns_.Retire(c);
    }
  }

  ReactorOptions options_;
  internal::UringFaults* faults_;
  internal::Ring ring_;
  internal::WakeSignal wake_;
  std::uint64_t wake_value_ = 0;
  std::vector<Deferred> deferred_;
  std::vector<Deferred> retrying_;  // being retried; kept for its capacity
  std::vector<std::unique_ptr<Listener>> listeners_;
  internal::ReadableSet readables_;
  internal::ConnectionRegistry<UringConn> conns_;
};

absl::StatusOr<std::unique_ptr<Reactor>> Create(const ReactorOptions& options,
                                                std::string* features,
                                                internal::UringFaults* faults) {
  auto r = std::make_unique<UringReactor>(options, faults);
  if (absl::Status s = r->Init(features); !s.ok()) return s;
  return std::unique_ptr<Reactor>(std::move(r));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Reactor>> CreateUringReactor(
    const ReactorOptions& options, std::string* features) {
  return Create(options, features, nullptr);
}

namespace internal {

absl::StatusOr<std::unique_ptr<Reactor>> CreateUringReactorWithFaults(
    const ReactorOptions& options, UringFaults* faults) {
  return Create(options, nullptr, faults);
}

}  // namespace internal
}  // namespace tachyon::io
