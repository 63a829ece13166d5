// A ring buffer's memory mapped twice, back to back, so that the bytes at
// [p, p + capacity) are contiguous in virtual memory for any p < capacity.
// A frame that wraps past the end of the ring is still one contiguous span,
// so a stream log needs no wrap-around padding and fan-out can always send a
// range of frames with a single iovec.
#ifndef TACHYON_STREAM_MIRRORED_BUFFER_H_
#define TACHYON_STREAM_MIRRORED_BUFFER_H_

#include <cstddef>

#include "absl/status/statusor.h"

namespace tachyon::stream {

class MirroredBuffer {
 public:
  /// `capacity` must be a power of two and a multiple of the page size.
  /// Memory comes from an anonymous memfd; pages are committed as written.
  static absl::StatusOr<MirroredBuffer> Create(std::size_t capacity);

  MirroredBuffer() = default;
  MirroredBuffer(MirroredBuffer&& other) noexcept;
  MirroredBuffer& operator=(MirroredBuffer&& other) noexcept;
  MirroredBuffer(const MirroredBuffer&) = delete;
  MirroredBuffer& operator=(const MirroredBuffer&) = delete;
  ~MirroredBuffer();

  /// Start of the first mapping; valid for 2 * capacity() bytes.
  [[nodiscard]] std::byte* data() const { return data_; }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }

 private:
  MirroredBuffer(std::byte* data, std::size_t capacity)
      : data_(data), capacity_(capacity) {}
  void Release();

  std::byte* data_ = nullptr;
  std::size_t capacity_ = 0;
};

}  // namespace tachyon::stream

#endif  // TACHYON_STREAM_MIRRORED_BUFFER_H_
