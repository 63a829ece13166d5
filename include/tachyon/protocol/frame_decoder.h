// tachyon/protocol/frame_decoder.h — streaming decoder over a receive buffer.
//
// Overview
//   A socket delivers bytes in arbitrary pieces: half a frame, forty frames, a
//   frame split at any byte. FrameDecoder manages a caller-owned buffer into
//   which the caller receives (WritableSpan / Commit) and out of which it hands
//   back validated frames (Next) as views into that buffer, never copying a
//   frame. When the buffer's tail holds a partial frame, the next WritableSpan
//   moves just that partial frame to the front.
//
//   Errors are sticky: once Next reports kError, the byte stream has no frame
//   boundary to resynchronise on, so every later Next repeats the error. The
//   owner sends ERROR and closes the connection.
//
// Threading: not thread-safe; one decoder per connection, used by its owner.
// Lifetime: views returned by Next stay valid until WritableSpan, Append or
// Reset is called. The decoder borrows `storage` for its whole life.
//
// Example
//   std::vector<std::byte> storage(FrameDecoder::MinStorage(max_len) * 2);
//   FrameDecoder dec(storage, max_len);
//   auto space = dec.WritableSpan();
//   ssize_t n = ::recv(fd, space.data(), space.size(), 0);
//   dec.Commit(n);
//   for (auto r = dec.Next(); r.status == DecodeStatus::kFrame; r = dec.Next())
//     Handle(r.frame);
#ifndef TACHYON_PROTOCOL_FRAME_DECODER_H_
#define TACHYON_PROTOCOL_FRAME_DECODER_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "absl/base/attributes.h"
#include "tachyon/protocol/frame.h"

namespace tachyon::protocol {

class FrameDecoder {
 public:
  /// The smallest storage that can hold one maximal frame.
  static constexpr std::size_t MinStorage(std::uint32_t max_frame_length) {
    return PaddedLength(max_frame_length);
  }

  /// `storage` must be at least MinStorage(max_frame_length) bytes; larger
  /// storage lets one receive carry more frames.
  FrameDecoder(std::span<std::byte> storage ABSL_ATTRIBUTE_LIFETIME_BOUND,
               std::uint32_t max_frame_length)
      : storage_(storage), max_frame_length_(max_frame_length) {}

  /// Free space at the end of the buffer to receive into. Moves a buffered
  /// partial frame to the front first, which invalidates earlier views.
  /// Empty only when the buffer holds max_frame_length bytes of one frame
  /// that is not yet complete, which cannot happen if storage >= MinStorage.
  [[nodiscard]] std::span<std::byte> WritableSpan() {
    if (read_ == write_) {
      read_ = write_ = 0;
    } else if (read_ > 0) {
      std::memmove(storage_.data(), storage_.data() + read_, write_ - read_);
      write_ -= read_;
      read_ = 0;
    }
    return storage_.subspan(write_);
  }

  /// Records that `n` bytes were written at the start of WritableSpan().
  void Commit(std::size_t n) {
    write_ += std::min(n, storage_.size() - write_);
  }

  /// Copies as much of `bytes` as fits (for callers that do not receive in
  /// place, and for tests). Returns the number of bytes taken.
  std::size_t Append(std::span<const std::byte> bytes) {
    std::span<std::byte> space = WritableSpan();
    const std::size_t n = std::min(space.size(), bytes.size());
    if (n > 0) std::memcpy(space.data(), bytes.data(), n);
    write_ += n;
    return n;
  }

  /// The next complete frame, kIncomplete when the buffered bytes end inside
  /// a frame (call WritableSpan and receive more), or the sticky error.
  [[nodiscard]] DecodeResult Next() {
    if (error_ != ErrorCode::kNone) {
      DecodeResult r;
      r.status = DecodeStatus::kError;
      r.error = error_;
      return r;
    }
    DecodeResult r = DecodeFrame(
        std::span<const std::byte>(storage_.data() + read_, write_ - read_),
        max_frame_length_);
    if (r.status == DecodeStatus::kFrame) {
      read_ += r.consumed;
    } else if (r.status == DecodeStatus::kError) {
      error_ = r.error;
    }
    return r;
  }

  /// Bytes received but not yet returned as frames.
  [[nodiscard]] std::size_t buffered() const { return write_ - read_; }
  /// The sticky error, or kNone.
  [[nodiscard]] ErrorCode error() const { return error_; }
  [[nodiscard]] std::uint32_t max_frame_length() const {
    return max_frame_length_;
  }
  /// Discards everything, including a sticky error (for connection reuse).
  void Reset() {
    read_ = write_ = 0;
    error_ = ErrorCode::kNone;
  }

 private:
  std::span<std::byte> storage_;
  std::size_t read_ = 0;
  std::size_t write_ = 0;
  std::uint32_t max_frame_length_;
  ErrorCode error_ = ErrorCode::kNone;
};

}  // namespace tachyon::protocol

#endif  // TACHYON_PROTOCOL_FRAME_DECODER_H_
