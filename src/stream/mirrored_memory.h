// MirroredMemory: log storage in anonymous memory mapped twice, back to
// back, so that the bytes at [p, p + capacity) are contiguous in virtual
// memory for any p < capacity. A frame that wraps past the end of the ring
// is still one contiguous span, so a stream log needs no wrap-around padding
// and fan-out can always send a range of frames with a single iovec.
//
// Memory comes from an anonymous memfd mapped into both halves of a
// reserved range; pages are committed as they are written.
#ifndef TACHYON_STREAM_MIRRORED_MEMORY_H_
#define TACHYON_STREAM_MIRRORED_MEMORY_H_

#include <cstddef>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "stream/log_storage.h"

namespace tachyon::stream {

class MirroredMemory final : public LogStorage {
 public:
  /// `capacity` must be a power of two and a multiple of the page size.
  static absl::StatusOr<std::unique_ptr<MirroredMemory>> Create(
      std::size_t capacity);

  ~MirroredMemory() override;
  MirroredMemory(const MirroredMemory&) = delete;
  MirroredMemory& operator=(const MirroredMemory&) = delete;

  [[nodiscard]] std::byte* data() const override { return data_; }
  [[nodiscard]] std::size_t capacity() const override { return capacity_; }

 private:
  MirroredMemory(std::byte* data, std::size_t capacity)
      : data_(data), capacity_(capacity) {}

  std::byte* const data_;
  const std::size_t capacity_;
};

/// Makes a MirroredMemory for every stream.
class MirroredMemoryFactory final : public LogStorageFactory {
 public:
  absl::StatusOr<std::unique_ptr<LogStorage>> Create(
      std::string_view stream_name, std::size_t capacity) override;
};

}  // namespace tachyon::stream

#endif  // TACHYON_STREAM_MIRRORED_MEMORY_H_
