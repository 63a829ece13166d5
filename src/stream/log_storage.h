// LogStorage: where a stream log's bytes live.
//
// Overview
//   A StreamLog reads and writes its ring only through this interface: one
//   region of 2 * capacity() bytes whose second half is the same memory as
//   the first, so any range of up to capacity() bytes starting in the first
//   half is contiguous (a frame that wraps the ring is still one span, and
//   fan-out sends any range with one iovec). Today's implementation is
//   anonymous memory mapped twice (MirroredMemory); a file-backed journal
//   (durability) is another implementation, created by another factory,
//   without touching the log's readers.
//
// Threading: data() and capacity() are immutable after creation; the bytes
// are written by the log under its append lock and read lock-free by its
// readers (see stream_log.h for the protocol).
#ifndef TACHYON_STREAM_LOG_STORAGE_H_
#define TACHYON_STREAM_LOG_STORAGE_H_

#include <cstddef>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"

namespace tachyon::stream {

class LogStorage {
 public:
  virtual ~LogStorage() = default;
  /// Start of the mapping, valid for 2 * capacity() bytes; byte i and byte
  /// i + capacity() are the same memory.
  [[nodiscard]] virtual std::byte* data() const = 0;
  /// A power of two and a multiple of the page size.
  [[nodiscard]] virtual std::size_t capacity() const = 0;
};

/// Makes the storage of each new stream log. Control path; any thread.
class LogStorageFactory {
 public:
  virtual ~LogStorageFactory() = default;
  /// Storage of `capacity` bytes for stream `stream_name`. Errors:
  /// INVALID_ARGUMENT for a bad capacity; INTERNAL when the memory (or the
  /// file) cannot be had.
  virtual absl::StatusOr<std::unique_ptr<LogStorage>> Create(
      std::string_view stream_name, std::size_t capacity) = 0;
};

}  // namespace tachyon::stream

#endif  // TACHYON_STREAM_LOG_STORAGE_H_
