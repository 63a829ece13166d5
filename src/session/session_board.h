// SessionBoard: where a worker publishes its sessions' rows for the admin
// plane.
//
// Overview
//   The worker that owns the sessions fills a row per session
//   (Session::FillInfo) at most once a second from its duty cycle and hands
//   the whole list to Publish, which copies it in under a small mutex that
//   the worker only try-locks: if a reader holds it, the worker keeps its
//   rows and tries again on its next tick, so a worker never waits on a
//   reader. Both the worker's rows and the published copy are refilled in
//   place, so once the rows have their shape (sessions, names,
//   subscriptions) publishing allocates nothing. Readers (the admin thread,
//   tests) lock it only to copy the published rows out. Rows are at most a
//   second (plus one failed try) old; a session that closed meanwhile stays
//   listed until the next publish.
//
// Example
//   worker:  if (board.Publish(rows)) next_ns = now + kPublishIntervalNs;
//   admin:   std::vector<SessionInfo> all; board.AppendTo(all);
//
// Threading: Publish from the owning worker only; AppendTo from any thread.
#ifndef TACHYON_SESSION_SESSION_BOARD_H_
#define TACHYON_SESSION_SESSION_BOARD_H_

#include <cstdint>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "session/session_info.h"

namespace tachyon::session {

class SessionBoard {
 public:
  /// How often a worker publishes its rows.
  static constexpr std::int64_t kPublishIntervalNs = 1'000'000'000;

  /// Worker thread: copies `rows` over the published rows (reusing their
  /// capacity) unless a reader holds the board; false then, and nothing
  /// changed.
  bool Publish(const std::vector<SessionInfo>& rows) {
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (!lock.owns_lock()) return false;
    published_ = rows;
    return true;
  }

  /// Any thread: appends a copy of the published rows to `out`.
  void AppendTo(std::vector<SessionInfo>& out) const {
    std::lock_guard<std::mutex> lock(mu_);
    out.insert(out.end(), published_.begin(), published_.end());
  }

 private:
  mutable std::mutex mu_;
  std::vector<SessionInfo> published_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tachyon::session

#endif  // TACHYON_SESSION_SESSION_BOARD_H_
