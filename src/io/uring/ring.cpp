#include "io/uring/ring.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>

#include "io/reactor_common.h"

namespace tachyon::io::internal {
namespace {

constexpr unsigned kCqPerSq = 4;
// Flushes of a full submission queue before an SQE is given up on.
constexpr int kFlushAttempts = 4;
// Completions one drain handles at most, in completion-queue lengths.
constexpr unsigned kDrainRounds = 4;
// Completions the stash holds at most, in completion-queue lengths.
constexpr unsigned kStashRounds = 16;

}  // namespace

BufferRing::~BufferRing() {
  if (ring_ != nullptr) ::munmap(ring_, ring_bytes_);
}

bool BufferRing::SetUp(io_uring* ring) {
  ring_bytes_ = kCount * sizeof(io_uring_buf);
  void* mem = ::mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE,
                     MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) return false;
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(mem);
  reg.ring_entries = kCount;
  reg.bgid = kGroup;
  if (io_uring_register_buf_ring(ring, &reg, 0) != 0) {
    ::munmap(mem, ring_bytes_);
    return false;
  }
  ring_ = static_cast<io_uring_buf_ring*>(mem);
  buffers_ = std::make_unique<std::byte[]>(std::size_t{kCount} * kSize);
  io_uring_buf_ring_init(ring_);
  for (unsigned i = 0; i < kCount; ++i) Recycle(i);
  Publish();
  return true;
}

void BufferRing::Unregister(io_uring* ring) {
  if (ring_ != nullptr) io_uring_unregister_buf_ring(ring, kGroup);
}

void BufferRing::Recycle(unsigned id) {
  io_uring_buf_ring_add(ring_, At(id), kSize, static_cast<unsigned short>(id),
                        io_uring_buf_ring_mask(kCount),
                        static_cast<int>(queued_));
  ++queued_;
}

void BufferRing::Publish() {
  if (queued_ == 0) return;
  io_uring_buf_ring_advance(ring_, static_cast<int>(queued_));
  queued_ = 0;
}

Ring::~Ring() { Exit(); }

void Ring::Exit() {
  if (!ok_) return;
  ok_ = false;
  buffers_.Unregister(&ring_);
  io_uring_queue_exit(&ring_);
}

absl::Status Ring::Init(unsigned entries, bool provided_buffers,
                        UringFaults* faults) {
  faults_ = faults;
  // A connect and its link timeout must fit in together.
  entries = std::max(entries, 2u);
  io_uring_params params{};
  // TASKRUN_FLAG came with COOP_TASKRUN (5.19): no attempt of its own.
  const unsigned base = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL |
                        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  const unsigned attempts[] = {
      base | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
      base | IORING_SETUP_SINGLE_ISSUER, base, IORING_SETUP_CQSIZE};
  int rc = -EINVAL;
  for (unsigned flags : attempts) {
    params = {};
    params.flags = flags;
    params.cq_entries = entries * kCqPerSq;
    rc = io_uring_queue_init_params(entries, &ring_, &params);
    if (rc == 0) {
      setup_flags_ = flags;
      break;
    }
    if (rc != -EINVAL) break;
  }
  if (rc != 0) return ErrnoStatus("io_uring_queue_init", -rc);
  ok_ = true;
  // Without COOP_TASKRUN and DEFER_TASKRUN the kernel runs task work by
  // interrupting the thread (TWA_SIGNAL), so completions reach the queue on
  // their own.
  task_work_visible_ = (setup_flags_ & IORING_SETUP_TASKRUN_FLAG) != 0 ||
                       (setup_flags_ & (IORING_SETUP_COOP_TASKRUN |
                                        IORING_SETUP_DEFER_TASKRUN)) == 0;
  if ((params.features & IORING_FEAT_EXT_ARG) == 0) {
    return absl::UnavailableError(
        "io_uring lacks IORING_FEAT_EXT_ARG (kernel < 5.11)");
  }
  io_uring_register_ring_fd(&ring_);
  cq_entries_ = params.cq_entries;
  stash_.reserve(cq_entries_);
  if (provided_buffers) buffers_.SetUp(&ring_);
  return absl::OkStatus();
}

bool Ring::Reserve(unsigned n) {
  for (int attempt = 0; io_uring_sq_space_left(&ring_) < n; ++attempt) {
    if (attempt == kFlushAttempts) return false;
    // Completions waiting in the ring would leave the kernel no room to post
    // those of what we submit (older kernels then refuse to submit at all):
    // move them aside first.
    Stash();
    Submit();
  }
  return true;
}

int Ring::Submit() {
  // A receive armed by this submission must find the buffers handed back.
  if (buffers_.ok()) buffers_.Publish();
  if (faults_ != nullptr) {
    if (faults_->refuse_submits) return faults_->error;
    if (faults_->busy_while_overflowing && io_uring_cq_has_overflow(&ring_)) {
      // What such a kernel does first: flush what fits into the CQ.
      ++enters_;
      io_uring_get_events(&ring_);
      if (io_uring_cq_has_overflow(&ring_)) return -EBUSY;
    }
  }
  ++enters_;
  return io_uring_submit(&ring_);
}

bool Ring::KernelHoldsCompletions() const {
  if (!task_work_visible_) return true;
  // Set by the kernel when task work is queued (or left over after a
  // bounded run) and cleared when it runs, so reading it late only delays
  // the enter to the next Poll; a blocking Poll always enters.
  return (IO_URING_READ_ONCE(*ring_.sq.kflags) &
          (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) != 0;
}

void Ring::SubmitAndWait(std::int64_t timeout_us) {
  // The buffer ring is shared memory: publishing costs no system call.
  if (buffers_.ok()) buffers_.Publish();
  if (timeout_us > 0 && !StashPending()) {
    __kernel_timespec ts{};
    ts.tv_sec = timeout_us / 1'000'000;
    ts.tv_nsec = (timeout_us % 1'000'000) * 1000;
    io_uring_cqe* cqe = nullptr;
    ++enters_;
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    return;
  }
  // Not waiting: completions already posted are read from the queue by
  // NextCompletion; enter only to submit or to have the kernel post more.
  if (io_uring_sq_ready(&ring_) == 0 && !KernelHoldsCompletions()) return;
  ++enters_;
  io_uring_submit_and_get_events(&ring_);
}

void Ring::Stash() {
  const std::size_t limit = std::size_t{kStashRounds} * cq_entries_;
  unsigned head;
  unsigned count = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    if (stash_.size() >= limit) break;
    stash_.push_back({cqe->user_data, cqe->res, cqe->flags});
    ++count;
  }
  io_uring_cq_advance(&ring_, count);
}

bool Ring::NextCompletion(Completion* out) {
  if (StashPending()) {
    *out = stash_[stash_head_++];
    if (!StashPending()) {
      stash_.clear();
      stash_head_ = 0;
    }
    return true;
  }
  // An empty queue ends the drain here: io_uring_peek_cqe would enter the
  // kernel to run pending task work, an io_uring_enter per drain that
  // SubmitAndWait decides about (and counts) instead.
  if (io_uring_cq_ready(&ring_) == 0) return false;
  io_uring_cqe* cqe;
  if (io_uring_peek_cqe(&ring_, &cqe) != 0) return false;
  *out = {cqe->user_data, cqe->res, cqe->flags};
  io_uring_cqe_seen(&ring_, cqe);
  return true;
}

unsigned Ring::drain_budget() const { return kDrainRounds * cq_entries_; }

}  // namespace tachyon::io::internal
