// The protocol core's checks of what the application passes (stream names,
// subscriptions, LOGON fields) and its encoders of every frame a client
// sends. See session_core.h.
#include <time.h>

#include <algorithm>
#include <climits>

#include "absl/strings/str_cat.h"
#include "session_core.h"

namespace tachyon::client::internal {

namespace tp = ::tachyon::protocol;
using ::tachyon::protocol::ErrorCode;

namespace {

std::uint32_t ClampMillis(std::chrono::milliseconds ms) {
  return static_cast<std::uint32_t>(
      std::clamp<std::int64_t>(ms.count(), 0, UINT32_MAX));
}

}  // namespace

// ======================================================================
// Free helpers

std::int64_t RealtimeNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::string Quoted(std::string_view s) {
  return absl::StrCat("\"", View(s), "\"");
}

absl::Status CheckStreamName(std::string_view name, bool allow_pattern) {
  const bool pattern = !name.empty() && name.back() == '*';
  if (pattern && !allow_pattern) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid stream name ", Quoted(name),
        ": a pattern cannot be opened for publishing; name one stream"));
  }
  if (pattern ? tp::IsValidPattern(name) : tp::IsValidStreamName(name)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid stream ", pattern ? "pattern " : "name ", Quoted(name),
      ": names are 1-255 characters of A-Z a-z 0-9 . _ -",
      allow_pattern ? ", optionally ending in a single '*' (prefix pattern)"
                    : ""));
}

absl::Status CheckSubscribe(std::string_view name, StartPosition start,
                            const MessageHandler& on_message,
                            std::string_view method) {
  if (absl::Status s = CheckStreamName(name, /*allow_pattern=*/true); !s.ok()) {
    return s;
  }
  if (start.mode() == tp::StartMode::kSequence &&
      start.sequence().value() == 0) {
    return absl::InvalidArgumentError(
        "start sequence must be >= 1 (sequences start at 1)");
  }
  if (!on_message) {
    return absl::InvalidArgumentError(
        absl::StrCat(View(method), " needs a message handler"));
  }
  return absl::OkStatus();
}

absl::Status CheckLogonFields(const ClientOptions& options) {
  if (options.token.size() > tp::kMaxLogonFieldLength ||
      options.client_name.size() > tp::kMaxLogonFieldLength) {
    return absl::InvalidArgumentError(
        "token and client name must each be at most 255 bytes");
  }
  return absl::OkStatus();
}

// ======================================================================
// Encoding

std::size_t SessionCore::LogonLength() const {
  return tp::PaddedLength(tp::LogonView::kFixedLength + options_.token.size() +
                          options_.client_name.size());
}

std::size_t SessionCore::EncodeLogon(std::span<std::byte> out) {
  // Versions 1..2: a gateway that speaks 2 adds its instance epoch to
  // LOGON_ACK and SUBSCRIBE_ACK; one that speaks only 1 answers with 1
  // (PROTOCOL.md 7.2).
  const std::size_t n = tp::EncodeLogon(
      out, {.min_version = tp::kProtocolVersion,
            .max_version = tp::kMaxProtocolVersion,
            .heartbeat_interval_ms = ClampMillis(options_.heartbeat_interval),
            .token = options_.token,
            .client_name = options_.client_name});
  if (n > 0) Expect(ReplyKind::kLogon, 0);
  return n;
}

std::size_t SessionCore::EncodeOpenStream(std::span<std::byte> out,
                                          std::uint32_t id,
                                          std::string_view name) {
  const std::size_t n = tp::EncodeOpenStream(out, id, name);
  if (n > 0) Expect(ReplyKind::kOpenStream, id);
  return n;
}

std::size_t SessionCore::SubscribeLength(std::string_view name) {
  return tp::PaddedLength(tp::SubscribeView::kFixedLength + name.size());
}

std::size_t SessionCore::EncodeSubscribe(std::span<std::byte> out,
                                         std::uint32_t id,
                                         std::string_view name,
                                         StartPosition start) {
  const std::size_t n =
      tp::EncodeSubscribe(out, {.subscription_id = SubscriptionId{id},
                                .start = start.mode(),
                                .start_sequence = start.sequence(),
                                .name = name});
  if (n > 0) Expect(ReplyKind::kSubscribe, id);
  return n;
}

std::size_t SessionCore::EncodeUdpSubscribe(std::span<std::byte> out,
                                            std::uint32_t id,
                                            std::string_view name,
                                            std::array<std::uint8_t, 4> address,
                                            std::uint16_t port) {
  const std::size_t n =
      tp::EncodeUdpSubscribe(out, {.subscription_id = SubscriptionId{id},
                                   .address = address,
                                   .port = port,
                                   .name = name});
  if (n > 0) Expect(ReplyKind::kUdpSubscribe, id);
  return n;
}

std::size_t SessionCore::EncodePublish(std::span<std::byte> out,
                                       std::uint32_t wire,
                                       std::uint64_t correlation,
                                       std::span<const std::byte> payload,
                                       tp::AckMode ack) {
  const std::size_t n =
      tp::EncodePublish(out, StreamId{wire}, correlation, payload, ack);
  if (n == 0) return 0;
  ++stats_.publishes;
  if (ack == tp::AckMode::kRequested) {
    Expect(ReplyKind::kPublishAck, correlation);
  }
  return n;
}

std::size_t SessionCore::EncodeRequest(std::span<std::byte> out,
                                       std::uint64_t correlation,
                                       std::uint32_t service_id,
                                       std::chrono::milliseconds timeout,
                                       std::span<const std::byte> payload) {
  const std::size_t n =
      tp::EncodeRequest(out, {.correlation_id = correlation,
                              .service_id = service_id,
                              .timeout_ms = ClampMillis(timeout),
                              .payload = payload});
  if (n > 0) Expect(ReplyKind::kResponse, correlation);
  return n;
}

absl::Status SessionCore::CheckServiceLookup(std::string_view name) const {
  if (name.empty() || name.size() > tp::kMaxServiceNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid service name ", Quoted(name), ": must be 1..",
                     tp::kMaxServiceNameLength, " bytes"));
  }
  if (negotiated_version_ < tp::kServicesProtocolVersion) {
    return absl::UnimplementedError(absl::StrCat(
        "look up service ", Quoted(name), ": gateway ", peer_,
        " speaks protocol version ", negotiated_version_,
        ", and service lookups need version ", tp::kServicesProtocolVersion,
        " (use the numeric service id)"));
  }
  return absl::OkStatus();
}

absl::Status SessionCore::NoServiceNamed(std::string_view name) const {
  return absl::NotFoundError(absl::StrCat(
      "gateway ", peer_, " has no backend service named ", Quoted(name)));
}

std::size_t SessionCore::EncodeServiceLookup(std::span<std::byte> out,
                                             std::uint64_t correlation,
                                             std::string_view name) {
  const std::size_t n = tp::EncodeServiceLookup(
      out, {.correlation_id = correlation, .name = name});
  if (n > 0) Expect(ReplyKind::kServiceLookup, correlation);
  return n;
}

std::size_t SessionCore::EncodeHeartbeat(std::span<std::byte> out) {
  return tp::EncodeHeartbeat(out, RealtimeNs());
}

std::size_t SessionCore::EncodeLogout(std::span<std::byte> out) {
  const std::size_t n = tp::EncodeLogout(out, ErrorCode::kNone);
  if (n > 0 && phase_ == Phase::kOpen) {
    phase_ = Phase::kClosing;
    Expect(ReplyKind::kLogout, 0);
  }
  return n;
}

std::span<const std::byte> SessionCore::LogoutFrame() {
  static const std::array<std::byte, tp::LogoutView::kFixedLength> frame = [] {
    std::array<std::byte, tp::LogoutView::kFixedLength> f{};
    (void)tp::EncodeLogout(f, ErrorCode::kNone);
    return f;
  }();
  return frame;
}

}  // namespace tachyon::client::internal
