// RequestTable: a worker's outstanding backend requests and their deadlines.
//
// Overview
//   Every REQUEST a worker's router accepts is one record here until it is
//   answered: queued (waiting for a connection with room, linked into its
//   service's FIFO) or in flight (holding a slot of one backend connection).
//   Records are reused through a free list and never move (std::deque), so
//   the index of a record is a stable handle; deadlines live in an indexed
//   binary min-heap over record indices, so answering a request removes its
//   deadline in O(log n). Storage grows only when more requests are
//   outstanding than ever before on this worker: steady state allocates
//   nothing (a queued request's payload copy reuses its record's buffer).
//
// Example:
//   std::uint32_t i = table.Allocate();
//   table.Schedule(i, now_ns + timeout_ns);
//   ... answered: table.Unschedule(i); table.Free(i);
//   ... or expired: while (table.EarliestDeadlineNs() <= now_ns) ...
//
// Threading: the worker's thread only.
#ifndef TACHYON_BACKEND_REQUEST_TABLE_H_
#define TACHYON_BACKEND_REQUEST_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <vector>

#include "session/request_router.h"

namespace tachyon::backend {

class BackendConnection;
struct Service;

inline constexpr std::uint32_t kNoIndex =
    std::numeric_limits<std::uint32_t>::max();

/// One outstanding request.
struct PendingRequest {
  enum class State : std::uint8_t { kFree, kQueued, kInFlight };
  State state = State::kFree;
  session::ResponseTarget* target = nullptr;
  Service* service = nullptr;
  std::uint64_t client_correlation = 0;
  std::uint32_t timeout_ms = 0;  // the wait the deadline allows
  std::int64_t deadline_ns = 0;
  std::uint32_t heap_index = kNoIndex;
  // kQueued: the service's FIFO links, and the payload's copy.
  std::uint32_t prev = kNoIndex;
  std::uint32_t next = kNoIndex;
  std::vector<std::byte> payload;
  // kInFlight: where.
  BackendConnection* conn = nullptr;
  std::uint32_t slot = 0;
  // CLOCK_MONOTONIC when the REQUEST was handed to `conn`: a RESPONSE ends
  // its round trip (kRequestRttNs).
  std::int64_t forwarded_ns = 0;
};

class RequestTable {
 public:
  /// Reserves room for `expected` records (deadline heap and free list).
  explicit RequestTable(std::size_t expected);

  /// A free record (state kFree, fields to be set by the caller).
  std::uint32_t Allocate();
  /// Returns `index` to the free list; its deadline must be gone.
  void Free(std::uint32_t index);
  PendingRequest& operator[](std::uint32_t index) { return records_[index]; }
  /// Records ever created (free or not): CancelAll scans them.
  [[nodiscard]] std::uint32_t size() const {
    return static_cast<std::uint32_t>(records_.size());
  }
  [[nodiscard]] std::uint32_t live() const { return live_; }

  /// Deadlines.
  void Schedule(std::uint32_t index, std::int64_t deadline_ns);
  void Unschedule(std::uint32_t index);
  /// The record with the earliest deadline, kNoIndex when none.
  [[nodiscard]] std::uint32_t Earliest() const {
    return heap_.empty() ? kNoIndex : heap_.front();
  }
  [[nodiscard]] std::int64_t EarliestDeadlineNs() const;

 private:
  void SiftUp(std::uint32_t pos);
  void SiftDown(std::uint32_t pos);
  void Place(std::uint32_t pos, std::uint32_t index);
  bool Less(std::uint32_t a, std::uint32_t b) const {
    return records_[a].deadline_ns < records_[b].deadline_ns;
  }

  std::deque<PendingRequest> records_;
  std::vector<std::uint32_t> free_;
  std::vector<std::uint32_t> heap_;
  std::uint32_t live_ = 0;
};

}  // namespace tachyon::backend

#endif  // TACHYON_BACKEND_REQUEST_TABLE_H_
