// A lossy UDP relay for the UdpSubscriber tests: it subscribes to a stream of
// a real gateway over TCP (raw frames), keeps the exact DATA frames it
// receives, and sends them on as PROTOCOL.md 16 datagrams — in the order,
// with the losses and the duplicates a test scripts — to a UDP port.
#ifndef TACHYON_TESTS_CLIENT_UDP_RELAY_H_
#define TACHYON_TESTS_CLIENT_UDP_RELAY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "support/net.h"
#include "support/test_client.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::testing {

class UdpRelay {
 public:
  static constexpr std::uint64_t kSourceId = 0x5EED'0000'0000'0001;

  /// Subscribes to `stream` from sequence 1 at the gateway on `tcp_port`
  /// and aims datagrams at 127.0.0.1:`udp_port`. nullptr on failure.
  static std::unique_ptr<UdpRelay> Start(std::uint16_t tcp_port,
                                         std::string_view stream,
                                         std::uint16_t udp_port) {
    auto tcp = TestClient::Connect(tcp_port);
    if (tcp == nullptr || !tcp->Logon()) return nullptr;
    auto ack = tcp->Subscribe(1, stream, protocol::StartMode::kSequence, 1);
    if (!ack || ack->type() != protocol::MessageType::kSubscribeAck) {
      return nullptr;
    }
    return std::unique_ptr<UdpRelay>(new UdpRelay(
        std::move(tcp), protocol::StreamAckView(ack->view()).stream_id(),
        udp_port));
  }
  UdpRelay(const UdpRelay&) = delete;
  UdpRelay& operator=(const UdpRelay&) = delete;

  StreamId stream_id() const { return stream_; }
  std::uint64_t source_id = kSourceId;

  /// Reads DATA frames from the gateway until it holds sequences 1..`n`.
  bool Collect(std::uint64_t n) {
    while (frames_.size() < n) {
      auto f = tcp_->ReadSkippingHeartbeats();
      if (!f || f->type() != protocol::MessageType::kData) return false;
      if (protocol::DataView(f->view()).sequence().value() !=
          frames_.size() + 1) {
        return false;
      }
      // Datagrams carry frames with their padding (PROTOCOL.md 16.1).
      std::vector<std::byte> padded(protocol::PaddedLength(f->bytes.size()));
      std::copy(f->bytes.begin(), f->bytes.end(), padded.begin());
      frames_.push_back(std::move(padded));
    }
    return true;
  }

  /// A DATA datagram of sequences first .. first + count - 1.
  std::vector<std::byte> Data(std::uint64_t first, int count) const {
    std::vector<std::byte> d(protocol::kDatagramHeaderLength);
    protocol::EncodeDatagramHeader(d, protocol::DatagramKind::kData,
                                   static_cast<std::uint16_t>(count), stream_,
                                   Sequence{first}, source_id);
    for (std::uint64_t s = first; s < first + count; ++s) {
      const auto& f = frames_.at(s - 1);
      d.insert(d.end(), f.begin(), f.end());
    }
    return d;
  }
  /// A HEARTBEAT datagram announcing `next`.
  std::vector<std::byte> Heartbeat(std::uint64_t next) const {
    std::vector<std::byte> d(protocol::kDatagramHeaderLength);
    protocol::EncodeDatagramHeader(d, protocol::DatagramKind::kHeartbeat, 0,
                                   stream_, Sequence{next}, source_id);
    return d;
  }

  bool Send(std::span<const std::byte> datagram) const {
    return socket_.SendTo(to_port_, datagram);
  }
  /// Sends sequences first .. first + count - 1 as one datagram.
  bool SendData(std::uint64_t first, int count) const {
    return Send(Data(first, count));
  }
  bool SendHeartbeat(std::uint64_t next) const { return Send(Heartbeat(next)); }

 private:
  UdpRelay(std::unique_ptr<TestClient> tcp, StreamId stream,
           std::uint16_t udp_port)
      : tcp_(std::move(tcp)), stream_(stream), to_port_(udp_port) {}

  std::unique_ptr<TestClient> tcp_;
  StreamId stream_;
  UdpSocket socket_;
  std::uint16_t to_port_;
  std::vector<std::vector<std::byte>> frames_;  // [sequence - 1]
};

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_CLIENT_UDP_RELAY_H_
