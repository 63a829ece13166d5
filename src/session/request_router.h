// RequestRouter: where a worker's sessions send REQUESTs, and how the
// answers come back.
//
// Overview
//   A session hands each REQUEST to its worker's router and forgets it; the
//   router answers it exactly once through the session's ResponseTarget
//   (OK with the backend's bytes, or a status saying why not), possibly
//   from inside Submit (NO_SUCH_SERVICE, UNAVAILABLE, OVERLOADED). A session
//   that ends calls CancelAll first: nothing is delivered to it afterwards,
//   and answers that arrive later are dropped and counted by the router.
//
// Threading: one router per worker; every call on the worker's thread. No
// call blocks.
#ifndef TACHYON_SESSION_REQUEST_ROUTER_H_
#define TACHYON_SESSION_REQUEST_ROUTER_H_

#include <cstdint>
#include <span>
#include <string_view>

#include "tachyon/protocol/request_messages.h"

namespace tachyon::session {

/// The receiving end of answers: a session's control queue.
class ResponseTarget {
 public:
  /// The one answer to the request the client sent with `correlation_id`
  /// to `service_id`. `payload` is valid only during the call.
  virtual void DeliverResponse(std::uint64_t correlation_id,
                               std::uint32_t service_id,
                               protocol::ResponseStatus status,
                               std::span<const std::byte> payload) = 0;

 protected:
  ~ResponseTarget() = default;
};

class RequestRouter {
 public:
  virtual ~RequestRouter() = default;
  /// Routes one REQUEST from `from`; the answer arrives through
  /// from->DeliverResponse, now or later, exactly once unless CancelAll.
  /// `request` is valid only during the call.
  virtual void Submit(ResponseTarget* from,
                      const protocol::RequestView& request) = 0;
  /// `from` is going away: no answer reaches it after this returns, and
  /// its interest in services (NoteInterest, Submit) is forgotten.
  /// Walks every outstanding request: a session with none calls
  /// ForgetInterest instead.
  virtual void CancelAll(ResponseTarget* from) = 0;
  /// `from` resolved `service_id` by name (SERVICE_LOOKUP, permitted): it
  /// means to call it, and the router may prepare for that (backend pools
  /// count it towards their prediction). Undone by CancelAll.
  virtual void NoteInterest(ResponseTarget* /*from*/,
                            std::uint32_t /*service_id*/) {}
  /// `from`, with no request outstanding, is going away: forget its
  /// interest (what CancelAll does besides, without its walk).
  virtual void ForgetInterest(ResponseTarget* /*from*/) {}
  /// The id of the service named `name`, 0 when there is none.
  [[nodiscard]] virtual std::uint32_t ServiceId(
      std::string_view name) const = 0;
  /// The name of the service with `id`, "" when there is none (request
  /// permissions are by name, PROTOCOL.md 7.8).
  [[nodiscard]] virtual std::string_view ServiceName(
      std::uint32_t /*id*/) const {
    return {};
  }
};

}  // namespace tachyon::session

#endif  // TACHYON_SESSION_REQUEST_ROUTER_H_
