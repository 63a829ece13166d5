// Mailbox: a worker's bounded multi-producer command queue.
//
// Overview
//   Workers share nothing but stream logs, the registry and counters; when
//   one needs another to act (add a UDP destination to the egress of a
//   stream the other owns, later: hand a backend response to the requesting
//   session), it posts a command to the other's mailbox and wakes it. The
//   owner drains its mailbox from an agent (MailboxAgent) on its own thread.
//
//   Bounded: a fixed ring of cells allocated once (Dmitry Vyukov's bounded
//   queue: each cell carries a sequence number that tells producers and the
//   consumer whose turn it is). TryPush never blocks and never allocates; it
//   returns false when the ring is full, and the sender keeps the command
//   and retries (MailboxAgent does, preserving order).
//
// Threading: TryPush from any thread; TryPop and Empty from the owner. Both
// sides are lock-free; the cell hand-off is release/acquire on its sequence.
#ifndef TACHYON_SERVER_MAILBOX_H_
#define TACHYON_SERVER_MAILBOX_H_

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "tachyon/common/types.h"

namespace tachyon::server {

template <typename T>
class Mailbox {
 public:
  /// `capacity` is rounded up to a power of two (at least 2).
  explicit Mailbox(std::size_t capacity)
      : capacity_(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity)),
        mask_(capacity_ - 1),
        cells_(new Cell[capacity_]) {
    for (std::size_t i = 0; i < capacity_; ++i) {
      cells_[i].sequence.store(i, std::memory_order_relaxed);
    }
  }
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  /// Any thread. False when full (nothing was queued).
  [[nodiscard]] bool TryPush(const T& value) {
    std::size_t pos = enqueue_pos_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& cell = cells_[pos & mask_];
      const std::size_t seq = cell.sequence.load(std::memory_order_acquire);
      const auto diff =
          static_cast<std::ptrdiff_t>(seq) - static_cast<std::ptrdiff_t>(pos);
      if (diff == 0) {
        if (enqueue_pos_.compare_exchange_weak(pos, pos + 1,
                                               std::memory_order_relaxed)) {
          cell.value = value;
          // Hands the cell to the consumer.
          cell.sequence.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // the consumer has not freed this cell yet: full
      } else {
        pos = enqueue_pos_.load(std::memory_order_relaxed);
      }
    }
  }

  /// Owner thread. False when empty.
  [[nodiscard]] bool TryPop(T* out) {
    Cell& cell = cells_[dequeue_pos_ & mask_];
    const std::size_t seq = cell.sequence.load(std::memory_order_acquire);
    if (seq != dequeue_pos_ + 1) return false;
    *out = cell.value;
    // Hands the cell back to producers, one lap later.
    cell.sequence.store(dequeue_pos_ + capacity_, std::memory_order_release);
    ++dequeue_pos_;
    return true;
  }

  /// Owner thread: true if no command is ready. A command pushed before a
  /// seq_cst fence that precedes this call is seen (WakeSignal protocol).
  [[nodiscard]] bool Empty() const {
    return cells_[dequeue_pos_ & mask_].sequence.load(
               std::memory_order_acquire) != dequeue_pos_ + 1;
  }

  [[nodiscard]] std::size_t capacity() const { return capacity_; }

 private:
  struct Cell {
    std::atomic<std::size_t> sequence{0};
    T value{};
  };

  const std::size_t capacity_;
  const std::size_t mask_;
  std::unique_ptr<Cell[]> cells_;
  // Producers contend on the enqueue position; the consumer owns the dequeue
  // position alone. Separate lines keep the consumer's from bouncing.
  alignas(kCacheLineSize) std::atomic<std::size_t> enqueue_pos_{0};
  alignas(kCacheLineSize) std::size_t dequeue_pos_ = 0;
};

}  // namespace tachyon::server

#endif  // TACHYON_SERVER_MAILBOX_H_
