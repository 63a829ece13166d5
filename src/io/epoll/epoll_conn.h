// The epoll reactor's connection and the two structures that order its
// connections in O(1) / O(log n): the ready list (served round-robin, one
// read budget per turn) and the heap of connect deadlines. Internal to the
// epoll reactor.
#ifndef TACHYON_IO_EPOLL_EPOLL_CONN_H_
#define TACHYON_IO_EPOLL_EPOLL_CONN_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "io/reactor_common.h"

namespace tachyon::io::internal {

/// A link in a ReadyList. Unlinked, it points at itself.
struct ReadyLink {
  ReadyLink() = default;
  ReadyLink(const ReadyLink&) = delete;
  ReadyLink& operator=(const ReadyLink&) = delete;
  [[nodiscard]] bool linked() const { return next != this; }
  /// O(1), from whichever list holds it; harmless when unlinked.
  void Unlink() {
    prev->next = next;
    next->prev = prev;
    prev = next = this;
  }
  ReadyLink* prev = this;
  ReadyLink* next = this;
};

class EpollConn final : public ConnectionBase, public ReadyLink {
 public:
  static constexpr std::size_t kNoHeapSlot =
      std::numeric_limits<std::size_t>::max();
  EpollConn(int fd, ConnectionHandler* handler) : ConnectionBase(fd, handler) {}
  bool hangup_seen = false;  // EPOLLRDHUP/HUP/ERR: read on to the EOF
  bool want_write = false;   // EPOLLOUT armed
  // While connecting: when the connect fails, and with what.
  std::int64_t deadline_ns = 0;
  int deadline_error = 0;
  std::size_t heap_slot = kNoHeapSlot;
};

/// A circular doubly-linked list through a sentinel: push, pop and removal
/// of any member are O(1), and removal needs no list.
class ReadyList {
 public:
  ReadyList() = default;
  ReadyList(const ReadyList&) = delete;
  ReadyList& operator=(const ReadyList&) = delete;
  [[nodiscard]] bool empty() const { return !head_.linked(); }
  void PushBack(EpollConn* c) {
    ReadyLink* link = c;
    link->prev = head_.prev;
    link->next = &head_;
    head_.prev->next = link;
    head_.prev = link;
  }
  /// The first member, unlinked; the list must not be empty.
  EpollConn* PopFront() {
    ReadyLink* link = head_.next;
    link->Unlink();
    return static_cast<EpollConn*>(link);
  }
  /// Moves every member of `other` to the end of this list.
  void Splice(ReadyList& other) {
    if (other.empty()) return;
    ReadyLink* first = other.head_.next;
    ReadyLink* last = other.head_.prev;
    other.head_.prev = other.head_.next = &other.head_;
    first->prev = head_.prev;
    last->next = &head_;
    head_.prev->next = first;
    head_.prev = last;
  }

 private:
  ReadyLink head_;  // sentinel, never an EpollConn
};

/// Min-heap of connecting connections by deadline_ns; each knows its slot,
/// so removal is O(log n).
class DeadlineHeap {
 public:
  [[nodiscard]] bool empty() const { return heap_.empty(); }
  [[nodiscard]] std::size_t size() const { return heap_.size(); }
  [[nodiscard]] EpollConn* top() const { return heap_.front(); }
  void Push(EpollConn* c) {
    c->heap_slot = heap_.size();
    heap_.push_back(c);
    Up(c->heap_slot);
  }
  /// Harmless when `c` is not in the heap.
  void Remove(EpollConn* c) {
    const std::size_t i = c->heap_slot;
    if (i == EpollConn::kNoHeapSlot) return;
    c->heap_slot = EpollConn::kNoHeapSlot;
    EpollConn* last = heap_.back();
    heap_.pop_back();
    if (last == c) return;
    Place(i, last);
    Up(i);
    Down(last->heap_slot);
  }

 private:
  void Place(std::size_t i, EpollConn* c) {
    heap_[i] = c;
    c->heap_slot = i;
  }
  void Up(std::size_t i) {
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (heap_[parent]->deadline_ns <= heap_[i]->deadline_ns) return;
      Swap(i, parent);
      i = parent;
    }
  }
  void Down(std::size_t i) {
    for (;;) {
      std::size_t least = i;
      for (std::size_t child = 2 * i + 1; child <= 2 * i + 2; ++child) {
        if (child < heap_.size() &&
            heap_[child]->deadline_ns < heap_[least]->deadline_ns) {
          least = child;
        }
      }
      if (least == i) return;
      Swap(i, least);
      i = least;
    }
  }
  void Swap(std::size_t a, std::size_t b) {
    EpollConn* ca = heap_[a];
    Place(a, heap_[b]);
    Place(b, ca);
  }
  std::vector<EpollConn*> heap_;
};

}  // namespace tachyon::io::internal

#endif  // TACHYON_IO_EPOLL_EPOLL_CONN_H_
