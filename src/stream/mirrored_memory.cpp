#include "stream/mirrored_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tachyon::stream {
namespace {

absl::Status ErrnoStatus(const char* what, int err) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<MirroredMemory>> MirroredMemory::Create(
    std::size_t capacity) {
  const long page = ::sysconf(_SC_PAGESIZE);
  if (capacity == 0 || (capacity & (capacity - 1)) != 0 ||
      capacity % static_cast<std::size_t>(page) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ring capacity must be a power of two and a multiple of the page "
        "size, got ",
        capacity));
  }
  const int fd = ::memfd_create("tachyon-stream", MFD_CLOEXEC);
  if (fd < 0) return ErrnoStatus("memfd_create", errno);
  if (::ftruncate(fd, static_cast<off_t>(capacity)) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus("ftruncate", err);
  }
  // Reserve 2 * capacity of address space, then map the same file pages
  // into both halves with MAP_FIXED (which replaces the reservation).
  void* base = ::mmap(nullptr, 2 * capacity, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus("mmap reserve", err);
  }
  auto* bytes = static_cast<std::byte*>(base);
  for (int half = 0; half < 2; ++half) {
    void* p = ::mmap(bytes + half * capacity, capacity, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_FIXED, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::munmap(base, 2 * capacity);
      ::close(fd);
      return ErrnoStatus("mmap mirror", err);
    }
  }
  // The mappings keep the memory alive; the descriptor is no longer needed.
  ::close(fd);
  return std::unique_ptr<MirroredMemory>(new MirroredMemory(bytes, capacity));
}

MirroredMemory::~MirroredMemory() { ::munmap(data_, 2 * capacity_); }

absl::StatusOr<std::unique_ptr<LogStorage>> MirroredMemoryFactory::Create(
    std::string_view stream_name, std::size_t capacity) {
  static_cast<void>(stream_name);  // anonymous memory has no name to give
  absl::StatusOr<std::unique_ptr<MirroredMemory>> m =
      MirroredMemory::Create(capacity);
  if (!m.ok()) return m.status();
  return std::unique_ptr<LogStorage>(*std::move(m));
}

}  // namespace tachyon::stream
