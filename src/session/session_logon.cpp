// LOGON (PROTOCOL.md 7): the per-address failure budget, version
// negotiation, authentication to a principal (auth/authenticator.h) or an
// anonymous session, LOGON_ACK; and the TLS layer a session on the TLS
// listener reads and sends through, whose client certificate LOGON may
// authenticate.
#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/log_limit.h"
#include "base/safe_text.h"
#include "base/strings.h"
#include "session/session.h"
#include "session/session_agent.h"

namespace tachyon::session {

namespace tp = ::tachyon::protocol;
using tp::ErrorCode;

void Session::HandleLogon(const tp::LogonView& m) {
  const config::GatewayConfig& cfg = agent_.config();
  AddressLimits* limits = has_address_ ? agent_.address_limits() : nullptr;
  AddressLimits::LogonSlot slot = AddressLimits::LogonSlot::kUnlimited;
  auto reject = [&](ErrorCode code, std::string_view full_text) {
    const std::string_view text =
        base::Utf8Prefix(full_text, tp::kMaxErrorTextLength);
    std::span<std::byte> out =
        ReserveControl(tp::ErrorView::kFixedLength + text.size() + 8);
    CommitControl(tp::EncodeLogonReject(out, {.code = code, .text = text}));
    agent_.counters().logons_rejected.Add();
    // Every authentication failure spends the peer address's budget
    // (limits.logon_failures_per_address): the slot reserved below stays
    // counted; any other refusal gives it back.
    if (code != ErrorCode::kNotAuthorized && limits != nullptr) {
      limits->ReleaseLogon(address_, slot);
    }
    TACHYON_LOG_LIMITED(kInfo, kLogonRejected)
        << "logon rejected peer=" << peer_ << " client='"
        << base::Quoted(m.client_name())
        << "' reason=" << tp::ErrorCodeName(code) << ": " << text;
    NoteCloseReason(
        absl::StrCat("logon rejected: ", AbslView(tp::ErrorCodeName(code))));
    CloseAfterFlush();
  };
  // The LOGON counts as a failure until it succeeds: reserving the slot
  // when checking it keeps concurrent LOGONs from all passing one check.
  if (limits != nullptr) slot = limits->ReserveLogon(address_, agent_.now_ns());
  if (slot == AddressLimits::LogonSlot::kRefused) {
    agent_.counters().limit_address_logon_failures.Add();
    reject(ErrorCode::kLimitExceeded,
           absl::StrCat("too many failed logons from ", address_.ToString(),
                        ": limits.logon_failures_per_address = ",
                        cfg.logon_failures_per_address, " per ",
                        cfg.logon_failure_window_ms,
                        " ms (limits.logon_failure_window_ms); try again "
                        "later"));
    return;
  }
  // The highest version both speak (PROTOCOL.md 7.2): 2 adds the instance
  // epoch to LOGON_ACK and SUBSCRIBE_ACK, 3 adds SERVICE_LOOKUP and the
  // OVERLOADED status (and keeps the epoch), 1 keeps every frame as it was.
  const std::uint16_t version =
      std::min<std::uint16_t>(m.max_version(), tp::kMaxProtocolVersion);
  if (version < m.min_version() || version < tp::kProtocolVersion) {
    reject(
        ErrorCode::kUnsupportedVersion,
        absl::StrCat("gateway speaks protocol versions ", tp::kProtocolVersion,
                     "..", tp::kMaxProtocolVersion, "; client offered ",
                     m.min_version(), "..", m.max_version()));
    return;
  }
  std::shared_ptr<const auth::Identity> identity;
  if (const auth::Authenticator* authenticator = agent_.authenticator()) {
    // The generation first: a reload after this sees a newer one and the
    // session checks again at its next tick.
    auth_generation_ = authenticator->generation();
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    auth::IpAddress peer;
    if (conn_ != nullptr &&
        ::getpeername(conn_->fd(), reinterpret_cast<sockaddr*>(&addr), &len) ==
            0) {
      peer = auth::IpAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&addr),
                                           len);
    }
    auth::AuthResult r =
        authenticator->Authenticate(m.token(), peer, tls_subject());
    if (r.identity == nullptr && r.limited) {
      // The gateway-wide verification budget is spent: not the peer's
      // fault, so not counted against its address.
      TACHYON_LOG_LIMITED(kInfo, kLogonRejected)
          << "logon not verified peer=" << peer_ << ": " << r.log_text;
      reject(ErrorCode::kLimitExceeded, r.client_text);
      return;
    }
    if (r.identity == nullptr) {
      agent_.counters().logons_bad_credentials.Add();
      TACHYON_LOG_LIMITED(kInfo, kLogonRejected)
          << "logon not authorized peer=" << peer_ << ": " << r.log_text;
      reject(ErrorCode::kNotAuthorized, r.client_text);
      return;
    }
    if (!r.identity->TryAddConnection()) {
      agent_.counters().logons_connection_quota.Add();
      reject(ErrorCode::kLimitExceeded,
             absl::StrCat(AbslView(r.identity->label()), " may have at most ",
                          r.identity->quotas().max_connections,
                          " connections (max_connections)"));
      return;
    }
    identity = std::move(r.identity);
  } else if (!cfg.token.empty() &&
             !auth::ConstantTimeEquals(m.token(), cfg.token)) {
    reject(ErrorCode::kNotAuthorized, "logon token rejected");
    return;
  }
  if (agent_.stopping()) {
    if (identity != nullptr) identity->ReleaseConnection();
    reject(ErrorCode::kShuttingDown, "gateway is shutting down");
    return;
  }
  if (identity != nullptr) {
    connection_counted_ = true;
    (identity->anonymous() ? agent_.counters().logons_anonymous
                           : agent_.counters().logons_principal)
        .Add();
    identity_ = std::move(identity);
  }
  std::uint32_t hb = m.heartbeat_interval_ms();
  if (hb == 0) hb = cfg.heartbeat_interval_ms;
  hb = std::clamp(hb, cfg.min_heartbeat_interval_ms,
                  cfg.max_heartbeat_interval_ms);
  heartbeat_ns_ = std::int64_t{hb} * 1'000'000;
  session_id_ = agent_.NextSessionId();
  version_ = version;
  if (version >= tp::kEpochProtocolVersion) {
    ack_epoch_ = agent_.instance_epoch();
  }
  if (limits != nullptr) limits->ReleaseLogon(address_, slot);
  std::span<std::byte> out = ReserveControl(tp::LogonAckView::kEpochLength);
  CommitControl(tp::EncodeLogonAck(out, {.version = version,
                                         .heartbeat_interval_ms = hb,
                                         .session_id = session_id_,
                                         .max_frame_length = max_frame_length_,
                                         .instance_epoch = ack_epoch_}));
  state_ = State::kActive;
  // Quoted: the name goes into log lines and the admin plane.
  client_name_ = base::Quoted(m.client_name());
  TACHYON_LOG_LIMITED(kInfo, kConnection)
      << "logged on peer=" << peer_ << " client='" << client_name_
      << "' session=" << session_id_.value() << " version=" << version
      << " principal="
      << (identity_ == nullptr || identity_->anonymous()
              ? std::string_view("(anonymous)")
              : std::string_view(identity_->name()));
  if (cfg.max_publish_rate > 0) {
    publish_tokens_ = cfg.max_publish_rate;
    tokens_at_ns_ = agent_.now_ns();
  }
}

io::ConnectionHandler* Session::EnableTls(SSL_CTX* ctx) {
  tls_ = std::make_unique<tls::TlsConnection>(agent_.reactor(), *this,
                                              agent_.tls_counters(), ctx,
                                              /*server=*/true, peer_);
  if (!tls_->ok()) {
    tls_.reset();
    return nullptr;
  }
  return tls_.get();
}

const std::string& Session::tls_subject() const {
  static const std::string kNone;
  return tls_ != nullptr ? tls_->peer_subject() : kNone;
}

}  // namespace tachyon::session
