#include "session/partial_frame.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace tachyon::session {
namespace {

constexpr std::size_t kPage = 4096;

std::size_t RoundUpPage(std::size_t n) {
  return (n + kPage - 1) & ~(kPage - 1);
}

}  // namespace

void PartialFrame::Append(std::span<const std::byte> bytes,
                          std::size_t frame_bytes) {
  if (bytes.empty()) return;
  const std::size_t need = size_ + bytes.size();
  if (need > capacity_) Grow(need, frame_bytes);
  std::memcpy(data_ + size_, bytes.data(), bytes.size());
  size_ = need;
}

void PartialFrame::Grow(std::size_t need, std::size_t frame_bytes) {
  // Double what is held, but never beyond what the frame needs: a trickled
  // frame costs about what has arrived, not what its header announced.
  std::size_t want = std::max(need, std::max(capacity_ * 2, kKeepBytes));
  want = RoundUpPage(std::min(want, std::max(need, frame_bytes)));
  const std::size_t keep = size_;
  if (want <= kHeapMaxBytes) {
    auto* p = static_cast<std::byte*>(std::malloc(want));
    if (p == nullptr) std::abort();
    if (keep > 0) std::memcpy(p, data_, keep);
    Release();
    SetCapacity(p, want, false);
    size_ = keep;
    return;
  }
  if (mapped_) {
    void* p = ::mremap(data_, capacity_, want, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) std::abort();
    if (held_ != nullptr) held_->Add(-static_cast<std::int64_t>(capacity_));
    SetCapacity(static_cast<std::byte*>(p), want, true);
    return;
  }
  void* p = ::mmap(nullptr, want, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) std::abort();
  if (keep > 0) std::memcpy(p, data_, keep);
  Release();
  SetCapacity(static_cast<std::byte*>(p), want, true);
  size_ = keep;
}

void PartialFrame::SetCapacity(std::byte* data, std::size_t capacity,
                               bool mapped) {
  data_ = data;
  capacity_ = capacity;
  mapped_ = mapped;
  if (held_ != nullptr) held_->Add(static_cast<std::int64_t>(capacity));
}

void PartialFrame::Clear() {
  if (capacity_ > kKeepBytes) {
    Release();
    return;
  }
  size_ = 0;
}

void PartialFrame::Release() {
  if (data_ != nullptr) {
    if (mapped_) {
      ::munmap(data_, capacity_);
    } else {
      std::free(data_);
    }
    if (held_ != nullptr) held_->Add(-static_cast<std::int64_t>(capacity_));
  }
  data_ = nullptr;
  size_ = 0;
  capacity_ = 0;
  mapped_ = false;
}

}  // namespace tachyon::session
