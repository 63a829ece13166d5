// tachyon::client::UdpPublisher — PUBLISH datagrams to the gateway's UDP
// ingress (PROTOCOL.md 16.1, 16.5): one connected socket, one datagram
// buffer allocated at Create, per-stream producer sequences.
#include "tachyon/client/udp_publisher.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "socket.h"
#include "tachyon/protocol/datagram_mac.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::client {

namespace tp = ::tachyon::protocol;

namespace {

// Smallest useful datagram: the header and one PUBLISH frame with an
// 8-byte payload (the gateway's floor for udp.max_datagram_bytes is 56).
constexpr std::size_t kMinDatagram = 56;
constexpr std::size_t kMaxDatagram = 65507;

}  // namespace

class UdpPublisher::Impl {
 public:
  Impl(internal::UniqueFd fd, std::string peer, std::uint64_t source_id,
       const UdpPublisherOptions& options)
      : fd_(std::move(fd)),
        peer_(std::move(peer)),
        source_id_(source_id),
        options_(options),
        signed_(options.producer_id != 0),
        header_(signed_ ? tp::kAuthenticatedHeaderLength
                        : tp::kDatagramHeaderLength),
        // Frames end this far before max_datagram_length: room for the MAC.
        capacity_(options.max_datagram_length -
                  (signed_ ? tp::kDatagramMacLength : 0)),
        buffer_(std::make_unique<std::byte[]>(options.max_datagram_length)) {}

  absl::Status Publish(StreamId stream, std::span<const std::byte> payload) {
    if (stream.value() == 0) {
      return absl::InvalidArgumentError("stream id 0 is not a stream");
    }
    if (payload.size() > MaxPayload()) {
      return absl::InvalidArgumentError(
          absl::StrCat("payload of ", payload.size(),
                       " bytes does not fit one datagram (at most ",
                       MaxPayload(), " bytes with max_datagram_length ",
                       options_.max_datagram_length, ")"));
    }
    const std::size_t frame =
        tp::PaddedLength(tp::PublishView::kFixedLength + payload.size());
    absl::Status sent = absl::OkStatus();
    if (count_ > 0 &&
        (stream != stream_ || used_ + frame > capacity_ || count_ == 0xFFFF)) {
      sent = Send();
    }
    if (count_ == 0) {
      stream_ = stream;
      used_ = header_;
    }
    used_ +=
        tp::EncodePublish({buffer_.get() + used_, capacity_ - used_}, stream,
                          /*correlation_id=*/0, payload);
    ++count_;
    if (options_.batching == UdpBatching::kNone) return Send();
    return sent;
  }

  absl::Status Flush() { return count_ == 0 ? absl::OkStatus() : Send(); }

  [[nodiscard]] Sequence NextSequence(StreamId stream) const {
    const auto it = next_.find(stream.value());
    std::uint64_t next = it == next_.end() ? 1 : it->second;
    if (count_ > 0 && stream == stream_) next += count_;
    return Sequence{next};
  }

  [[nodiscard]] std::size_t MaxPayload() const {
    // One frame of 24 header bytes, its payload padded to 8.
    return (capacity_ - header_ - tp::PublishView::kFixedLength) &
           ~std::size_t{7};
  }

  std::uint64_t source_id() const { return source_id_; }
  const std::string& peer() const { return peer_; }
  const UdpPublisherStats& stats() const { return stats_; }
  int fd() const { return fd_.get(); }

 private:
  // Sends the datagram being filled; its messages take the stream's next
  // sequences only if the kernel took it.
  absl::Status Send() {
    std::uint64_t& next = next_.try_emplace(stream_.value(), 1).first->second;
    std::size_t length = used_;
    if (signed_) {
      tp::EncodeAuthenticatedDatagramHeader(
          {buffer_.get(), header_}, tp::DatagramKind::kPublish,
          static_cast<std::uint16_t>(count_), stream_, Sequence{next},
          source_id_, options_.producer_id);
      length += tp::kDatagramMacLength;
      tp::SignDatagram({buffer_.get(), length}, options_.key);
    } else {
      tp::EncodeDatagramHeader({buffer_.get(), header_},
                               tp::DatagramKind::kPublish,
                               static_cast<std::uint16_t>(count_), stream_,
                               Sequence{next}, source_id_);
    }
    const std::size_t count = count_;
    count_ = 0;
    used_ = 0;
    ssize_t n;
    do {
      n = ::send(fd_.get(), buffer_.get(), length, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      const int err = errno;
      ++stats_.send_errors;
      stats_.messages_dropped += count;
      return absl::UnavailableError(absl::StrCat(
          "sending a datagram of ", count, " message(s) to ", peer_, ": ",
          std::strerror(err),
          err == ECONNREFUSED
              ? " (an earlier datagram was answered with ICMP port "
                "unreachable: nothing listens on that UDP port)"
              : ""));
    }
    next += count;
    ++stats_.datagrams;
    stats_.messages += count;
    return absl::OkStatus();
  }

  internal::UniqueFd fd_;
  std::string peer_;
  std::uint64_t source_id_;
  UdpPublisherOptions options_;
  const bool signed_;
  const std::size_t header_;    // datagram header: 24, or 32 when signed
  const std::size_t capacity_;  // where frames must end
  std::unique_ptr<std::byte[]> buffer_;
  // The datagram being filled: `count_` frames of `stream_` in
  // buffer_[0, used_), the header written at send time.
  StreamId stream_;
  std::size_t used_ = 0;
  std::size_t count_ = 0;
  // Next producer sequence per stream id.
  absl::flat_hash_map<std::uint32_t, std::uint64_t> next_;
  UdpPublisherStats stats_;
};

absl::StatusOr<std::unique_ptr<UdpPublisher>> UdpPublisher::Create(
    std::string_view host, std::uint16_t port,
    const UdpPublisherOptions& options) {
  if (host.empty()) return absl::InvalidArgumentError("host is empty");
  if (port == 0) return absl::InvalidArgumentError("port 0 is not a port");
  // Signed: 8 more header bytes and the MAC.
  const std::size_t min_datagram =
      kMinDatagram +
      (options.producer_id != 0
           ? tp::kAuthenticatedHeaderLength - tp::kDatagramHeaderLength +
                 tp::kDatagramMacLength
           : 0);
  if (options.max_datagram_length < min_datagram ||
      options.max_datagram_length > kMaxDatagram) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_datagram_length must be ", min_datagram, "..",
                     kMaxDatagram, ", got ", options.max_datagram_length));
  }
  if (options.socket_send_buffer < 0) {
    return absl::InvalidArgumentError(
        "socket_send_buffer must not be negative");
  }
  const std::string host_copy(host);
  const std::string peer = absl::StrCat(host_copy, ":", port);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host_copy.c_str(), nullptr, &hints, &found);
      rc != 0 || found == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", host_copy,
                     " to an IPv4 address: ", gai_strerror(rc)));
  }
  sockaddr_in address{};
  std::memcpy(&address, found->ai_addr, sizeof address);
  ::freeaddrinfo(found);
  address.sin_port = htons(port);

  internal::UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return absl::UnavailableError(
        absl::StrCat("UDP socket: ", std::strerror(errno)));
  }
  if (options.socket_send_buffer > 0 &&
      ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &options.socket_send_buffer,
                   sizeof options.socket_send_buffer) != 0) {
    return absl::UnavailableError(
        absl::StrCat("SO_SNDBUF: ", std::strerror(errno)));
  }
  // Connected: send() needs no address, and an ICMP port unreachable shows
  // as ECONNREFUSED on a later send instead of vanishing.
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address),
                sizeof address) != 0) {
    return absl::UnavailableError(
        absl::StrCat("UDP connect to ", peer, ": ", std::strerror(errno)));
  }
  std::uint64_t source_id = options.source_id;
  if (source_id == 0) {
    std::random_device rd;
    std::mt19937_64 rng((std::uint64_t{rd()} << 32) ^ rd());
    while (source_id == 0) source_id = rng();
  }
  return std::unique_ptr<UdpPublisher>(new UdpPublisher(
      std::make_unique<Impl>(std::move(fd), peer, source_id, options)));
}

absl::StatusOr<protocol::DatagramKey> UdpPublisher::ReadKeyFile(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read key file ", path, ": ",
                                            std::strerror(errno)));
  }
  std::string text(256, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  std::optional<protocol::DatagramKey> key = protocol::ParseDatagramKey(text);
  if (!key.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key file ", path,
        " must hold 32 hex digits (16 random bytes, such as the output of "
        "`openssl rand -hex 16`) and nothing else"));
  }
  return *key;
}

UdpPublisher::UdpPublisher(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

UdpPublisher::~UdpPublisher() { (void)impl_->Flush(); }

absl::Status UdpPublisher::Publish(StreamId stream,
                                   std::span<const std::byte> payload) {
  return impl_->Publish(stream, payload);
}

absl::Status UdpPublisher::Publish(StreamId stream, std::string_view payload) {
  return impl_->Publish(
      stream,
      {reinterpret_cast<const std::byte*>(payload.data()), payload.size()});
}

absl::Status UdpPublisher::Flush() { return impl_->Flush(); }

Sequence UdpPublisher::next_sequence(StreamId stream) const {
  return impl_->NextSequence(stream);
}

std::uint64_t UdpPublisher::source_id() const { return impl_->source_id(); }

std::size_t UdpPublisher::max_payload_length() const {
  return impl_->MaxPayload();
}

const std::string& UdpPublisher::peer() const { return impl_->peer(); }

const UdpPublisherStats& UdpPublisher::stats() const { return impl_->stats(); }

int UdpPublisher::fd() const { return impl_->fd(); }

}  // namespace tachyon::client
