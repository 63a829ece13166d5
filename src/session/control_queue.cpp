#include "session/control_queue.h"

#include <utility>

namespace tachyon::session {

ControlQueue::ControlQueue(std::size_t reserve) {
  front_.reserve(reserve);
  back_.reserve(reserve);
}

std::span<std::byte> ControlQueue::Reserve(std::size_t bytes) {
  const std::size_t old = back_.size();
  back_.resize(old + bytes);
  last_reserve_ = bytes;
  return {back_.data() + old, bytes};
}

void ControlQueue::Commit(std::size_t bytes) {
  // Reserve over-reserves; trim to what the encoder wrote.
  back_.resize(back_.size() - (last_reserve_ - bytes));
  last_reserve_ = 0;
  queued_total_ += bytes;
}

void ControlQueue::PushFront(std::span<const std::byte> bytes) {
  // Drop what was sent, then insert before the rest: the front buffer is
  // not referenced by any send now.
  front_.erase(front_.begin(),
               front_.begin() + static_cast<std::ptrdiff_t>(front_offset_));
  front_offset_ = 0;
  front_.insert(front_.begin(), bytes.begin(), bytes.end());
  queued_total_ += bytes.size();
}

std::span<const std::byte> ControlQueue::Front() {
  if (front_offset_ == front_.size() && !back_.empty()) {
    front_.clear();
    front_offset_ = 0;
    std::swap(front_, back_);
  }
  return {front_.data() + front_offset_, front_.size() - front_offset_};
}

void ControlQueue::Consume(std::size_t bytes) {
  front_offset_ += bytes;
  sent_total_ += bytes;
}

}  // namespace tachyon::session
