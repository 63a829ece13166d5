// ControlQueue: a session's control frames waiting to be sent.
//
// Overview
//   Acks, errors, GAPs, heartbeats and LOGOUT are encoded in place into the
//   queue (Reserve, encode, Commit). The queue is double-buffered: the front
//   buffer may be referenced by a send in flight and is never modified
//   while it is; new frames go to the back buffer, which becomes the front
//   once the front has gone out completely. Totals of bytes ever queued and
//   ever sent let a stream's first data wait for the control bytes (its
//   SUBSCRIBE_ACK, a GAP) that must precede it.
//
// Threading: one session's worker thread.
#ifndef TACHYON_SESSION_CONTROL_QUEUE_H_
#define TACHYON_SESSION_CONTROL_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tachyon::session {

class ControlQueue {
 public:
  /// Both buffers start with `reserve` bytes of capacity.
  explicit ControlQueue(std::size_t reserve);

  /// Room for one frame of at most `bytes`; follow with Commit.
  std::span<std::byte> Reserve(std::size_t bytes);
  /// The frame just reserved took `bytes` (<= the reservation).
  void Commit(std::size_t bytes);

  /// Puts `bytes` ahead of everything not yet sent (the rest of a frame a
  /// send stopped inside, which must go first). Only while no send is in
  /// flight.
  void PushFront(std::span<const std::byte> bytes);

  /// The bytes to send next (empty when nothing is queued). Only while no
  /// send is in flight: it may switch buffers.
  std::span<const std::byte> Front();
  /// `bytes` of Front() reached the kernel.
  void Consume(std::size_t bytes);

  /// Queued and not yet sent.
  [[nodiscard]] std::size_t pending_bytes() const {
    return back_.size() + (front_.size() - front_offset_);
  }
  [[nodiscard]] bool empty() const { return pending_bytes() == 0; }
  /// Bytes ever committed / ever consumed.
  [[nodiscard]] std::uint64_t queued_total() const { return queued_total_; }
  [[nodiscard]] std::uint64_t sent_total() const { return sent_total_; }

 private:
  std::vector<std::byte> front_;
  std::size_t front_offset_ = 0;
  std::vector<std::byte> back_;
  std::size_t last_reserve_ = 0;
  std::uint64_t queued_total_ = 0;
  std::uint64_t sent_total_ = 0;
};

}  // namespace tachyon::session

#endif  // TACHYON_SESSION_CONTROL_QUEUE_H_
