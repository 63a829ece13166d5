// Session: REQUEST and SERVICE_LOOKUP, and the RESPONSEs that answer them
// (PROTOCOL.md 13 and 19; see session.h).
#include <string>

#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "session/session.h"
#include "session/session_agent.h"

namespace tachyon::session {

namespace tp = ::tachyon::protocol;
using tp::ErrorCode;

namespace {

// A service name as a refusal may quote it: characters outside the service
// name alphabet (and anything past 64 bytes) shown as '?'.
std::string SafeServiceName(std::string_view name) {
  std::string out(name.substr(0, 64));
  for (char& ch : out) {
    const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
                    ch == '-';
    if (!ok) ch = '?';
  }
  return out;
}

}  // namespace

bool Session::RequestAllowed(std::uint32_t service_id, std::string_view name) {
  if (identity_ == nullptr) return true;
  auto it = request_allowed_.find(service_id);
  if (it != request_allowed_.end()) return it->second;
  const bool allowed = identity_->permissions().request.Allows(name);
  // Bounded by the number of configured services (ids the router names).
  request_allowed_.emplace(service_id, allowed);
  return allowed;
}

void Session::HandleRequest(const tp::RequestView& m) {
  if (RequestRouter* router = agent_.router();
      router != nullptr && identity_ != nullptr) {
    // Decided once per service id; an id no service has is the router's
    // to answer (NO_SUCH_SERVICE).
    const std::string_view name = router->ServiceName(m.service_id());
    if (!name.empty() && !RequestAllowed(m.service_id(), name)) {
      agent_.counters().refused_request.Add();
      const std::string text =
          absl::StrCat(AbslView(identity_->label()),
                       " may not request service '", AbslView(name), "'");
      QueueError(ErrorCode::kNotAuthorized, false, text, m.correlation_id());
      // Every REQUEST gets one RESPONSE (PROTOCOL.md 13): the service is
      // not one this session may use.
      const std::string payload = absl::StrCat("not authorized: ", text);
      QueueResponse(m.correlation_id(), m.service_id(),
                    tp::ResponseStatus::kNoSuchService, tp::AsBytes(payload));
      return;
    }
  }
  if (RequestRouter* router = agent_.router()) {
    routed_requests_ = true;
    // Counted before Submit: an immediate answer is delivered inside it.
    ++requests_outstanding_;
    router->Submit(this, m);
    return;
  }
  const std::string text = absl::StrCat("no backend service with id ",
                                        m.service_id(), " is configured");
  QueueResponse(m.correlation_id(), m.service_id(),
                tp::ResponseStatus::kNoSuchService, tp::AsBytes(text));
}

VersionedStatus StatusForVersion(std::uint16_t version,
                                 tp::ResponseStatus status) {
  if (status == tp::ResponseStatus::kOverloaded &&
      version < tp::kServicesProtocolVersion) {
    return {.status = tp::ResponseStatus::kUnavailable,
            .text_prefix = "overloaded: "};
  }
  return {.status = status};
}

void Session::QueueResponse(std::uint64_t correlation_id,
                            std::uint32_t service_id, tp::ResponseStatus status,
                            std::span<const std::byte> payload) {
  VersionedStatus v = StatusForVersion(version_, status);
  const std::size_t room = max_frame_length_ - tp::ResponseView::kFixedLength;
  std::string text;
  if (v.status == tp::ResponseStatus::kOk && payload.size() > room) {
    // PROTOCOL.md 13: an answer that does not fit becomes BACKEND_ERROR.
    text =
        absl::StrCat("backend answer of ", payload.size(),
                     " bytes exceeds the session's limit of ", room, " bytes");
    v.status = tp::ResponseStatus::kBackendError;
    payload = tp::AsBytes(text);
  } else if (!v.text_prefix.empty()) {
    text = absl::StrCat(AbslView(v.text_prefix), AbslView(tp::AsText(payload)));
    payload = tp::AsBytes(text);
  }
  // A failure text made longer by the prefix may no longer fit the frame.
  if (payload.size() > room) payload = payload.first(room);
  std::span<std::byte> out =
      ReserveControl(tp::ResponseView::kFixedLength + payload.size() + 8);
  CommitControl(tp::EncodeResponse(out, {.correlation_id = correlation_id,
                                         .service_id = service_id,
                                         .status = v.status,
                                         .payload = payload}));
}

void Session::HandleServiceLookup(const tp::ServiceLookupView& m) {
  if (version_ < tp::kServicesProtocolVersion) {
    // A frame of a later version than the session negotiated: a protocol
    // violation, as UNKNOWN_TYPE is to a gateway of that version (7.7).
    Fatal(ErrorCode::kUnexpectedMessage,
          absl::StrCat("SERVICE_LOOKUP needs protocol version ",
                       tp::kServicesProtocolVersion,
                       "; this session negotiated version ", version_));
    return;
  }
  const RequestRouter* router = agent_.router();
  std::uint32_t id = router == nullptr ? 0 : router->ServiceId(m.name());
  if (identity_ != nullptr &&
      !identity_->permissions().request.Allows(m.name())) {
    // Refused whether or not the service exists: the answer does not tell.
    agent_.counters().refused_request.Add();
    QueueError(
        ErrorCode::kNotAuthorized, false,
        absl::StrCat(AbslView(identity_->label()), " may not request service '",
                     SafeServiceName(m.name()), "'"),
        m.correlation_id());
    id = 0;
  }
  if (id != 0) {
    // The session means to call it: the pools may warm up for it now.
    // CancelAll, when the session ends, takes the interest back.
    agent_.router()->NoteInterest(this, id);
    routed_requests_ = true;
  }
  std::span<std::byte> out =
      ReserveControl(tp::ServiceLookupAckView::kFixedLength);
  CommitControl(tp::EncodeServiceLookupAck(
      out, {.correlation_id = m.correlation_id(), .service_id = id}));
}

void Session::DeliverResponse(std::uint64_t correlation_id,
                              std::uint32_t service_id,
                              tp::ResponseStatus status,
                              std::span<const std::byte> payload) {
  if (requests_outstanding_ > 0) --requests_outstanding_;
  if (state_ != State::kActive && state_ != State::kDraining) return;
  QueueResponse(correlation_id, service_id, status, payload);
}

}  // namespace tachyon::session
