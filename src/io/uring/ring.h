// The io_uring instance under the io_uring reactor: set-up with feature
// fallbacks, submission entries that are never waited for without bound,
// the stash of completions moved aside to make room, and the provided
// receive buffers. Internal to the io_uring reactor.
#ifndef TACHYON_IO_URING_RING_H_
#define TACHYON_IO_URING_RING_H_

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "io/uring/uring_faults.h"

namespace tachyon::io::internal {

/// What a completion says, copied out of the ring.
struct Completion {
  std::uint64_t user_data;
  int res;
  unsigned flags;
};

/// Provided receive buffers: one buffer group the kernel picks from when
/// bytes arrive. Buffers handed back are published together (Publish), one
/// tail update per drain rather than one per buffer.
class BufferRing {
 public:
  static constexpr unsigned kCount = 256;   // power of two
  static constexpr unsigned kSize = 16384;  // bytes per buffer
  static constexpr int kGroup = 0;

  BufferRing() = default;
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;
  ~BufferRing();

  /// False (and no buffers) when the kernel lacks buffer rings.
  bool SetUp(io_uring* ring);
  /// Before the ring exits.
  void Unregister(io_uring* ring);
  [[nodiscard]] bool ok() const { return ring_ != nullptr; }
  [[nodiscard]] std::byte* At(unsigned id) const {
    return buffers_.get() + static_cast<std::size_t>(id) * kSize;
  }
  /// Queues buffer `id` to go back to the kernel at the next Publish.
  void Recycle(unsigned id);
  /// Makes the queued buffers visible to the kernel.
  void Publish();

 private:
  io_uring_buf_ring* ring_ = nullptr;
  std::size_t ring_bytes_ = 0;
  std::unique_ptr<std::byte[]> buffers_;
  unsigned queued_ = 0;  // recycled, not yet published
};

/// An io_uring with SINGLE_ISSUER and DEFER_TASKRUN where the kernel has
/// them (falling back flag by flag), TASKRUN_FLAG, and a completion queue
/// four times the submission queue.
///
/// Entering the kernel only when needed: a Poll that may not wait looks at
/// the rings in shared memory first and calls io_uring_enter only when SQEs
/// are queued, or when the kernel flags work only an enter can finish
/// (IORING_SQ_TASKRUN: completions waiting as task work, which with
/// DEFER_TASKRUN runs nowhere but inside io_uring_enter with GETEVENTS, and
/// with COOP_TASKRUN not before the thread next enters the kernel;
/// IORING_SQ_CQ_OVERFLOW: completions that did not fit). Completions already
/// posted are read from the completion queue without a system call. A ring
/// set up without TASKRUN_FLAG but with deferred task work cannot tell, and
/// enters on every Poll.
///
/// A full submission queue is flushed on the spot, after the completions
/// already posted are moved to a stash so the kernel has room to post more.
/// No handler runs meanwhile (this may happen inside one); NextCompletion
/// returns the stash before the ring, so order is kept. After a bounded
/// number of flushes that free nothing, Reserve fails and the caller deals
/// with it: nothing here spins.
class Ring {
 public:
  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring();

  /// `faults` may be null (tests only otherwise).
  absl::Status Init(unsigned entries, bool provided_buffers,
                    UringFaults* faults);
  /// Cancels everything in flight and closes the ring (also done by the
  /// destructor); before freeing memory the kernel may still write to.
  void Exit();
  [[nodiscard]] unsigned setup_flags() const { return setup_flags_; }
  BufferRing& buffers() { return buffers_; }

  /// Room for `n` consecutive SQEs (io_uring_get_sqe then succeeds `n`
  /// times), or false after kFlushAttempts flushes.
  bool Reserve(unsigned n);
  /// One SQE, or null (see Reserve).
  io_uring_sqe* GetSqe() {
    return Reserve(1) ? io_uring_get_sqe(&ring_) : nullptr;
  }
  io_uring_sqe* UncheckedSqe() { return io_uring_get_sqe(&ring_); }

  /// Submits what is queued (publishing recycled buffers first).
  int Submit();
  /// Submits and waits up to `timeout_us` for a completion; never waits
  /// while stashed completions are pending. With 0 (or stashed
  /// completions) it does not wait, and enters the kernel only if SQEs are
  /// queued or the kernel has completions to post (see the class comment).
  void SubmitAndWait(std::int64_t timeout_us);
  /// The oldest completion not yet handled; false when there is none.
  bool NextCompletion(Completion* out);
  /// How many completions a drain handles at most.
  [[nodiscard]] unsigned drain_budget() const;
  /// Calls into liburing that may enter the kernel (io_uring_enter) since
  /// Init: an upper bound on the system calls made, never below it.
  [[nodiscard]] std::uint64_t enters() const { return enters_; }

 private:
  // True when only io_uring_enter can bring completions the kernel holds
  // (task work, overflow) into the completion queue.
  [[nodiscard]] bool KernelHoldsCompletions() const;
  void Stash();
  [[nodiscard]] bool StashPending() const {
    return stash_head_ < stash_.size();
  }

  io_uring ring_{};
  bool ok_ = false;
  unsigned setup_flags_ = 0;
  unsigned cq_entries_ = 0;
  // The kernel raises IORING_SQ_TASKRUN for pending task work, or runs task
  // work without being asked (no COOP_TASKRUN, no DEFER_TASKRUN): an idle
  // Poll may then skip io_uring_enter.
  bool task_work_visible_ = false;
  std::uint64_t enters_ = 0;
  UringFaults* faults_ = nullptr;
  BufferRing buffers_;
  std::vector<Completion> stash_;
  std::size_t stash_head_ = 0;
};

}  // namespace tachyon::io::internal

#endif  // TACHYON_IO_URING_RING_H_
