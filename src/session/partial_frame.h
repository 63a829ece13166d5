// PartialFrame: the bytes of one frame split across reads, in a buffer
// that grows in steps with what has arrived and is given back to the system
// when the frame completes or the session ends.
//
// Overview
//   A session decodes whole frames in place from the reactor's buffer and
//   copies only a trailing partial frame here. A hostile client can announce
//   a frame of the full frame limit (up to 16 MiB) and trickle its bytes, so
//   the buffer must never be sized by what the header announces: it holds
//   at most twice what has arrived (rounded up to a page) and never more
//   than the frame's padded length. Small buffers (up to kHeapMaxBytes) come
//   from the heap and one of kKeepBytes is kept between frames; larger ones
//   are mapped with mmap and grown with mremap, and unmapped when the frame
//   completes. Mapping them directly is what returns the memory: freed with
//   free(), a multi-megabyte buffer raises glibc's dynamic mmap threshold,
//   after which buffers of that size come from the arenas and stay with the
//   process after the session has closed.
//
//   Every byte of capacity is added to (and taken from) a gauge, so the
//   memory the worker's partial frames hold is visible in the counters
//   registry (tachyon_session_partial_frame_bytes) and returns to 0 when
//   the sessions close.
//
// Example
//   PartialFrame partial(&counters.partial_frame_bytes);
//   partial.Append(tail_bytes, /*frame_bytes=*/PaddedLength(len));
//   ...
//   partial.Clear();  // frame handled: gives a large buffer back
//
// Threading: owned by one session, on its worker's thread (the gauge is
// written by that thread only).
#ifndef TACHYON_SESSION_PARTIAL_FRAME_H_
#define TACHYON_SESSION_PARTIAL_FRAME_H_

#include <cstddef>
#include <span>

#include "base/counters.h"

namespace tachyon::session {

class PartialFrame {
 public:
  /// Capacity kept between frames (heap), and the largest heap buffer;
  /// anything larger is mapped.
  static constexpr std::size_t kKeepBytes = 4096;
  static constexpr std::size_t kHeapMaxBytes = 64 * 1024;

  /// `held` (may be null) gets the capacity added and removed.
  explicit PartialFrame(base::Gauge* held = nullptr) : held_(held) {}
  ~PartialFrame() { Release(); }
  PartialFrame(const PartialFrame&) = delete;
  PartialFrame& operator=(const PartialFrame&) = delete;

  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }
  [[nodiscard]] const std::byte* data() const { return data_; }
  [[nodiscard]] std::span<const std::byte> bytes() const {
    return {data_, size_};
  }

  /// Appends `bytes`. `frame_bytes` is the padded length of the frame the
  /// bytes belong to, as far as known (its header may not have arrived:
  /// then the header length); capacity never exceeds
  /// max(frame_bytes, size() + bytes.size()) rounded up to a page, nor
  /// twice that size. Aborts if memory is exhausted.
  void Append(std::span<const std::byte> bytes, std::size_t frame_bytes);
  /// Forgets the bytes; keeps a buffer of at most kKeepBytes.
  void Clear();
  /// Forgets the bytes and frees the buffer.
  void Release();

 private:
  void Grow(std::size_t need, std::size_t frame_bytes);
  void SetCapacity(std::byte* data, std::size_t capacity, bool mapped);

  base::Gauge* held_;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  bool mapped_ = false;
};

}  // namespace tachyon::session

#endif  // TACHYON_SESSION_PARTIAL_FRAME_H_
