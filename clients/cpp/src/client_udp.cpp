// tachyon::client::Client — UDP deliveries: UDP_SUBSCRIBE and its answer.
// The datagrams themselves are received by UdpSubscriber.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client_impl.h"
#include "socket.h"
#include "tachyon/client/client.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::client {

namespace tp = ::tachyon::protocol;
using internal::Clock;
using internal::ReplyKind;

absl::StatusOr<UdpDelivery> Client::Impl::SubscribeUdp(
    std::string_view name, std::array<std::uint8_t, 4> address,
    std::uint16_t port) {
  if (absl::Status s = CheckReceivingCall("SubscribeUdp"); !s.ok()) return s;
  if (!tp::IsValidStreamName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid stream name \"", std::string(name),
                     "\": UDP delivery takes one exact name of 1-255 "
                     "characters of A-Z a-z 0-9 . _ -"));
  }
  if (port == 0) {
    return absl::InvalidArgumentError("UDP destination port must be >= 1");
  }
  const std::uint32_t id = core_.NextId();
  const std::size_t n = core_.EncodeUdpSubscribe(ctl_, id, name, address, port);
  absl::Status s = SendFrame({ctl_.data(), n});
  if (s.ok()) {
    s = AwaitReply(ReplyKind::kUdpSubscribe, id,
                   Clock::now() + options_.response_timeout,
                   absl::StrCat("SUBSCRIBE_ACK for UDP delivery of \"",
                                std::string(name), "\""));
  }
  if (!s.ok()) {
    if (open_ && s.code() == absl::StatusCode::kDeadlineExceeded) {
      // The gateway may still act on it; make sure it stops.
      const std::size_t u = tp::EncodeUnsubscribe(ctl_, SubscriptionId{id});
      (void)SendFrame({ctl_.data(), u});
    }
    return absl::Status(s.code(),
                        absl::StrCat("UDP subscribe to \"", std::string(name),
                                     "\": ", s.message()));
  }
  udp_deliveries_.emplace_back(id, connection_generation_);
  return UdpDelivery{.subscription_id = SubscriptionId{id},
                     .stream_id = pending_.stream,
                     .next_sequence = pending_.sequence};
}

absl::Status Client::Impl::UnsubscribeUdp(SubscriptionId id) {
  const auto it = std::find_if(
      udp_deliveries_.begin(), udp_deliveries_.end(),
      [&](const auto& delivery) { return delivery.first == id.value(); });
  if (it == udp_deliveries_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no active subscription with id ", id.value()));
  }
  const bool same_session = it->second == connection_generation_;
  udp_deliveries_.erase(it);
  // A delivery made by an earlier session ended with it.
  if (!open_ || !same_session) return absl::OkStatus();
  const std::size_t n = tp::EncodeUnsubscribe(ctl_, id);
  return SendFrame({ctl_.data(), n});
}

absl::StatusOr<UdpDelivery> Client::SubscribeUdp(
    std::string_view name, std::array<std::uint8_t, 4> address,
    std::uint16_t port) {
  Impl::CallGuard guard(*impl_, /*receiving=*/true);
  return impl_->SubscribeUdp(name, address, port);
}

}  // namespace tachyon::client
