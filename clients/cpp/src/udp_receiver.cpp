// The UdpSubscriber's socket: bind or join, recvmmsg batches, SO_RXQ_OVFL.
#include "udp_receiver.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::client::internal {

namespace tp = ::tachyon::protocol;

namespace {

constexpr int kMaxBatch = 1024;
// recvmmsg calls per round at most (see BeginRound).
constexpr int kMaxReadsPerRound = 4;

std::string Dotted(in_addr address) {
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &address, text, sizeof text);
  return text;
}

absl::StatusOr<in_addr> ParseIpv4(std::string_view text, const char* what) {
  in_addr address{};
  const std::string copy(text);
  if (::inet_pton(AF_INET, copy.c_str(), &address) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": \"", std::string(text),
                     "\" is not an IPv4 address (dotted quad)"));
  }
  return address;
}

}  // namespace

absl::Status UdpReceiver::Open(const UdpSubscriberOptions& options,
                               int tcp_fd) {
  if (options.batch < 1 || options.batch > kMaxBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch must be 1..", kMaxBatch, ", got ", options.batch));
  }
  if (options.max_datagram_length < tp::kDatagramHeaderLength ||
      options.max_datagram_length > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_datagram_length must be ", tp::kDatagramHeaderLength,
                     "..65535, got ", options.max_datagram_length));
  }
  multicast_ = !options.multicast_group.empty();
  in_addr bind{};
  bind.s_addr = htonl(INADDR_ANY);
  in_addr tcp_local{};
  bool tcp_ipv4 = false;
  {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(tcp_fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0 &&
        ss.ss_family == AF_INET) {
      tcp_local = reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr;
      tcp_ipv4 = true;
    }
  }
  in_addr group{};
  in_addr interface {};
  interface.s_addr = htonl(INADDR_ANY);
  if (multicast_) {
    absl::StatusOr<in_addr> g =
        ParseIpv4(options.multicast_group, "multicast_group");
    if (!g.ok()) return g.status();
    if (!IN_MULTICAST(ntohl(g->s_addr))) {
      return absl::InvalidArgumentError(
          absl::StrCat("multicast_group: ", options.multicast_group,
                       " is not a multicast address (224.0.0.0/4)"));
    }
    if (options.port == 0) {
      return absl::InvalidArgumentError(
          "a multicast group needs the port the gateway sends to");
    }
    group = *g;
    bind = group;
    if (!options.multicast_interface.empty()) {
      absl::StatusOr<in_addr> i =
          ParseIpv4(options.multicast_interface, "multicast_interface");
      if (!i.ok()) return i.status();
      interface = *i;
    }
  } else if (!options.bind_address.empty()) {
    absl::StatusOr<in_addr> b = ParseIpv4(options.bind_address, "bind_address");
    if (!b.ok()) return b.status();
    bind = *b;
  } else if (tcp_ipv4) {
    bind = tcp_local;
  }

  fd_ =
      UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd_.valid()) {
    return absl::UnavailableError(
        absl::StrCat("UDP socket: ", ErrnoText(errno)));
  }
  const int one = 1;
  if (multicast_ && ::setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one,
                                 sizeof one) != 0) {
    return absl::UnavailableError(
        absl::StrCat("SO_REUSEADDR: ", ErrnoText(errno)));
  }
  if (options.socket_receive_buffer > 0 &&
      ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF,
                   &options.socket_receive_buffer,
                   sizeof options.socket_receive_buffer) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "SO_RCVBUF ", options.socket_receive_buffer, ": ", ErrnoText(errno)));
  }
  // Kernel drops are worth knowing but not worth failing for.
  (void)::setsockopt(fd_.get(), SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr = bind;
  addr.sin_port = htons(options.port);
  if (::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&addr),
             sizeof addr) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot bind UDP ", Dotted(bind),
                                               ":", options.port, ": ",
                                               ErrnoText(errno)));
  }
  if (multicast_) {
    ip_mreqn join{};
    join.imr_multiaddr = group;
    join.imr_address = interface;
    if (::setsockopt(fd_.get(), IPPROTO_IP, IP_ADD_MEMBERSHIP, &join,
                     sizeof join) != 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot join multicast group ", options.multicast_group,
                       " on ", Dotted(interface), ": ", ErrnoText(errno)));
    }
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  const in_addr local = addr.sin_addr;
  local_port_ = ntohs(addr.sin_port);
  local_text_ = Dotted(local);
  if (local.s_addr != htonl(INADDR_ANY) &&
      !(tcp_ipv4 && local.s_addr == tcp_local.s_addr)) {
    std::memcpy(request_address_.data(), &local.s_addr, 4);
  }

  batch_ = options.batch;
  slot_ = options.max_datagram_length;
  const auto batch = static_cast<std::size_t>(options.batch);
  buffers_.resize(batch * slot_);
  iovecs_.resize(batch);
  headers_.resize(batch);
  controls_.resize(batch);
  return absl::OkStatus();
}

std::optional<ReceivedDatagram> UdpReceiver::Next() {
  if (next_slot_ == filled_) {
    // A batch this round read that was not full left the socket empty.
    if (reads_ > 0 && filled_ < batch_) return std::nullopt;
    if (reads_ == kMaxReadsPerRound || !ReadBatch()) return std::nullopt;
  }
  const mmsghdr& h = headers_[static_cast<std::size_t>(next_slot_++)];
  return ReceivedDatagram{
      .bytes = {static_cast<const std::byte*>(h.msg_hdr.msg_iov->iov_base),
                std::min<std::size_t>(h.msg_len, slot_)},
      .truncated = (h.msg_hdr.msg_flags & MSG_TRUNC) != 0};
}

bool UdpReceiver::ReadBatch() {
  ++reads_;
  for (int i = 0; i < batch_; ++i) {
    const auto u = static_cast<std::size_t>(i);
    iovecs_[u] = {buffers_.data() + u * slot_, slot_};
    msghdr& m = headers_[u].msg_hdr;
    m = {};
    m.msg_iov = &iovecs_[u];
    m.msg_iovlen = 1;
    m.msg_control = controls_[u].data();
    m.msg_controllen = controls_[u].size();
  }
  const int n =
      ::recvmmsg(fd_.get(), headers_.data(), static_cast<unsigned>(batch_),
                 MSG_DONTWAIT, nullptr);
  next_slot_ = 0;
  filled_ = n > 0 ? n : 0;
  if (filled_ == 0) return false;
  // The drop counter is the socket's running total; the last datagram of
  // the batch carries the newest.
  msghdr& last = headers_[static_cast<std::size_t>(filled_ - 1)].msg_hdr;
  for (cmsghdr* c = CMSG_FIRSTHDR(&last); c != nullptr;
       c = CMSG_NXTHDR(&last, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
      std::uint32_t drops = 0;
      std::memcpy(&drops, CMSG_DATA(c), sizeof drops);
      kernel_drops_.Update(drops);
    }
  }
  return true;
}

}  // namespace tachyon::client::internal
