// tachyon/client/udp_publisher.h — publishing to streams as UDP datagrams.
//
// Overview
//   A UdpPublisher is a producer on the gateway's UDP ingress (PROTOCOL.md
//   16.5), the counterpart of UdpSubscriber. It owns one UDP socket,
//   connected to the gateway's ingress address, and sends PUBLISH datagrams
//   (16.1, kind 2): a 24-byte header naming the stream, the producer's
//   random non-zero source_id and the producer sequence of the first frame,
//   then whole PUBLISH frames of that one stream, each padded to 8 bytes.
//
//   Sequences: the publisher numbers each stream's messages from 1; a
//   datagram's first_sequence is the sequence of its first frame and the
//   i-th frame carries first_sequence + i. The gateway keeps, per
//   (source_id, stream), the highest producer sequence it accepted and drops
//   anything not higher, so a datagram sent twice — a retry, or a producer
//   restarted with the same UdpPublisherOptions::source_id that sends its
//   messages again from sequence 1 — is appended once. A datagram that
//   could not be sent does not use up its sequences: they go to the next.
//
//   Batching: with UdpBatching::kFill, consecutive Publishes to one stream
//   fill a datagram (up to max_datagram_length) that is sent when the next
//   message does not fit, on a Publish to another stream, or on Flush();
//   one sendto per datagram instead of one per message. kNone (the default)
//   sends every Publish as its own datagram at once.
//
//   Authentication (16.7): with a producer_id and key (the gateway's
//   [[udp_producers]] entry for this producer), every datagram is version
//   2: the header carries the producer id and the datagram ends with a
//   16-byte SipHash-2-4 MAC over all bytes before it, which the gateway
//   checks (a gateway with udp.require_authentication drops unsigned
//   datagrams). The MAC authenticates, it does not encrypt: anyone on the
//   path still reads the payloads. It costs tens of nanoseconds for a small
//   datagram and about 0.5 us for a full 1472-byte one, and 16 bytes of
//   room (max_payload_length() is 24 bytes less: the header grows by 8).
//
//   UDP is best effort: no PUBLISH_ACK comes back, a datagram lost on the
//   way is lost (the gateway counts the jump in sequences as a gap), and a
//   PUBLISH the gateway cannot append (a backpressure stream with no room,
//   size) is dropped and counted there. Streams are known by the id the
//   gateway gave them over TCP (Client::OpenStream in the same gateway run):
//   the gateway drops datagrams for an unknown stream id. Use TCP when every
//   message must arrive or back-pressure must hold the producer.
//
// Errors
//   Create: INVALID_ARGUMENT for a bad host, port or size; UNAVAILABLE when
//   the name does not resolve or the socket cannot be made (errno text).
//   Publish / Flush: INVALID_ARGUMENT for a payload that cannot fit one
//   datagram (max_payload_length()) or stream id 0; UNAVAILABLE naming the
//   errno when the kernel refuses the send — ECONNREFUSED means an earlier
//   datagram drew an ICMP port unreachable: nothing listens at the gateway's
//   UDP port. The messages of a datagram whose send failed are dropped
//   (their sequences are reused).
//
// Threading
//   Thread-compatible: one thread uses a UdpPublisher at a time. It does
//   not need a Client at all once the stream ids are known, and several
//   UdpPublishers are independent.
//
// Example
//   namespace tc = tachyon::client;
//   auto client = tc::Client::Connect("127.0.0.1", 7400);
//   auto stream = (*client)->OpenStream("md.eq.AAPL");
//   auto udp = tc::UdpPublisher::Create("127.0.0.1", 7401,
//                                       {.batching = tc::UdpBatching::kFill});
//   // Signed, as producer 5 of the gateway's [[udp_producers]]:
//   auto key = tc::UdpPublisher::ReadKeyFile("/etc/tachyon/feed-a.key");
//   auto signed_udp = tc::UdpPublisher::Create(
//       "127.0.0.1", 7401, {.producer_id = 5, .key = *key});
//   for (const Quote& q : quotes) (void)(*udp)->Publish(*stream, q.bytes());
//   (void)(*udp)->Flush();
#ifndef TACHYON_CLIENT_UDP_PUBLISHER_H_
#define TACHYON_CLIENT_UDP_PUBLISHER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tachyon/common/types.h"
#include "tachyon/protocol/datagram.h"
#include "tachyon/protocol/datagram_mac.h"

namespace tachyon::client {

/// When a UdpPublisher sends.
enum class UdpBatching : std::uint8_t {
  kNone,  ///< every Publish is one datagram, sent at once
  kFill,  ///< fill a datagram per stream; send when full, on a change of
          ///< stream, or on Flush
};

struct UdpPublisherOptions {
  /// The producer id (source_id) every datagram carries. 0 picks a random
  /// non-zero one. Reuse an id only to re-send the same messages with the
  /// same sequences (they are then deduplicated); two live producers with
  /// one id would drop each other's messages.
  std::uint64_t source_id = 0;
  /// Largest datagram sent: at most the gateway's
  /// udp.max_datagram_bytes, which drops longer ones. 56..65507.
  std::size_t max_datagram_length = protocol::kDefaultMaxDatagramLength;
  UdpBatching batching = UdpBatching::kNone;
  /// SO_SNDBUF in bytes; 0 keeps the kernel default.
  int socket_send_buffer = 0;
  /// Non-zero: sign every datagram (version 2, PROTOCOL.md 16.7) as this
  /// producer of the gateway's [[udp_producers]] with `key`. 0: plain
  /// version-1 datagrams.
  std::uint32_t producer_id = 0;
  /// The producer's 16-byte key (ReadKeyFile or protocol::ParseDatagramKey
  /// read the 32-hex-digit form the gateway's key_file holds).
  protocol::DatagramKey key{};
};

/// Running totals.
struct UdpPublisherStats {
  std::uint64_t messages = 0;          ///< PUBLISH frames in datagrams sent
  std::uint64_t datagrams = 0;         ///< datagrams sent
  std::uint64_t send_errors = 0;       ///< datagrams the kernel refused
  std::uint64_t messages_dropped = 0;  ///< frames inside those datagrams
};

class UdpPublisher {
 public:
  /// Resolves `host` (a name or an IPv4 literal) and connects a UDP socket
  /// to `host`:`port`, the gateway's UDP ingress; allocates the datagram
  /// buffer. Errors: see the header comment.
  static absl::StatusOr<std::unique_ptr<UdpPublisher>> Create(
      std::string_view host, std::uint16_t port,
      const UdpPublisherOptions& options = {});

  /// The key in a producer key file: 32 hex digits (surrounding whitespace
  /// ignored). NOT_FOUND if it cannot be read, INVALID_ARGUMENT otherwise.
  static absl::StatusOr<protocol::DatagramKey> ReadKeyFile(
      const std::string& path);

  /// Sends what is batched (errors ignored) and closes the socket.
  ~UdpPublisher();
  UdpPublisher(const UdpPublisher&) = delete;
  UdpPublisher& operator=(const UdpPublisher&) = delete;

  /// Publishes one message to `stream` (an id from Client::OpenStream) with
  /// the stream's next producer sequence: sent at once with kNone, added to
  /// the datagram being filled with kFill (sending the previous one first if
  /// this one does not fit it or names another stream). OK means the kernel
  /// took the datagram (or the message is batched), not that the gateway
  /// appended it. Errors: see the header comment; after an error the
  /// publisher stays usable. No allocation except the first message to a
  /// stream (its sequence counter).
  absl::Status Publish(StreamId stream, std::span<const std::byte> payload);
  absl::Status Publish(StreamId stream, std::string_view payload);

  /// Sends the datagram being filled, if any. Errors as Publish.
  absl::Status Flush();

  /// The producer sequence the next message to `stream` gets (1 for a
  /// stream not published to yet). Batched messages count as sent.
  [[nodiscard]] Sequence next_sequence(StreamId stream) const;
  /// The source_id every datagram carries.
  [[nodiscard]] std::uint64_t source_id() const;
  /// The longest payload one datagram carries: max_datagram_length less
  /// the datagram header and the PUBLISH frame's header and padding.
  [[nodiscard]] std::size_t max_payload_length() const;
  /// "host:port" of the gateway's ingress, as connected.
  [[nodiscard]] const std::string& peer() const;
  [[nodiscard]] const UdpPublisherStats& stats() const;
  /// The socket (connected), for diagnostics. Do not write to it.
  [[nodiscard]] int fd() const;

 private:
  class Impl;
  explicit UdpPublisher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tachyon::client

#endif  // TACHYON_CLIENT_UDP_PUBLISHER_H_
