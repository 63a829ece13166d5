// tachyon/client/udp_subscriber.h — receiving streams over UDP, with gaps
// filled over TCP.
//
// Overview
//   A UdpSubscriber owns one UDP socket and receives the gateway's egress
//   datagrams (PROTOCOL.md 16) for the streams added to it. To the
//   application it looks like a TCP subscription: the same MessageHandler,
//   Message view and GapHandler as Client::Subscribe, every sequence from
//   the start position on delivered exactly once and in order, or reported
//   as a Gap when the gateway no longer retains it.
//
//   Streams arrive in one of two ways:
//     Subscribe  asks the gateway (UDP_SUBSCRIBE over the Client's TCP
//                session) to send the stream to this socket;
//     Join       receives a stream the gateway already sends here because
//                its configuration names this address or multicast group
//                ([[udp.groups]]).
//
//   Every datagram is validated whole (PROTOCOL.md 16.2) before any of it is
//   used; a malformed, truncated or foreign datagram is dropped and counted.
//   Per stream the subscriber tracks the next sequence it expects (16.4):
//     * in-order DATA is delivered straight from the receive buffer;
//     * sequences below it are duplicates, dropped and counted;
//     * a DATA datagram starting beyond it, or a HEARTBEAT datagram announcing
//       a later next sequence, reveals lost sequences: the subscriber starts a
//       TCP recovery, Client::Subscribe(name, StartPosition::From(expected)),
//       and delivers the stream from TCP until a DATA datagram starts at or
//       before the expected sequence (UDP has caught up with TCP, or TCP ran
//       ahead of it) or a HEARTBEAT announces no more than it; it then
//       switches back to UDP and ends the recovery subscription, and a later
//       loss starts a new one. Sequences the gateway no longer retains come
//       back as GAP and reach the GapHandler exactly as on TCP. A recovery
//       whose TCP delivery does not start at the expected sequence (the
//       gateway kept an ending delivery where it was) is asked for again
//       rather than reported as a gap.
//   A gap starts recovery at once rather than waiting for reordered
//   datagrams: reordering on one LAN segment is rare, and one TCP round trip
//   is cheaper than holding back every later message. Datagrams beyond the
//   expected sequence are dropped while recovering (TCP carries them).
//
//   A change of the datagrams' source_id means a different gateway instance
//   (a restart): it is reported to on_error and every stream is re-synced
//   over TCP from sequence 1 of the new instance. After the Client
//   reconnects (ClientOptions::reconnect), streams added with Subscribe are
//   requested again, continuing from where they were.
//
//   Poll is the duty cycle: it also drives the Client's Poll, so recovery
//   data, heartbeats and the Client's own subscriptions keep flowing. The
//   steady-state receive path (recvmmsg into preallocated buffers, decode in
//   place, deliver) does not allocate; starting or ending a recovery is a
//   TCP subscription and does.
//
// Errors
//   Create: INVALID_ARGUMENT for bad addresses or sizes; UNAVAILABLE when the
//   socket cannot be bound or the group joined (with the errno text).
//   Subscribe / Join: as Client::Subscribe, plus PERMISSION_DENIED when the
//   gateway refuses UDP (UDP_REFUSED: egress disabled or the destination not
//   allowed) and ALREADY_EXISTS for a stream already added.
//   Poll: the Client's Poll errors (the connection is gone).
//   Recovery failures on the data path (the Client disconnected) are
//   reported to on_error and retried every recovery_retry_interval.
//
// Threading
//   Thread-compatible, and bound to its Client: call the UdpSubscriber and
//   the Client from one thread. Handlers run inside Poll (or inside a
//   Subscribe / Join, which wait for the gateway) and may call the Client's
//   send-only methods and UdpSubscriber::Unsubscribe, nothing else. The
//   Client must outlive the UdpSubscriber and should not subscribe over TCP
//   to the same streams itself (one delivery per stream per session,
//   PROTOCOL.md 11.6, would bypass the recovery position). Its Poll drives
//   the Client's Poll, so the Client must not be in background polling mode
//   (Poll then returns the Client's FAILED_PRECONDITION).
//
// Example
//   namespace tc = tachyon::client;
//   auto client = tc::Client::Connect("127.0.0.1", 7400);
//   auto udp = tc::UdpSubscriber::Create(**client);
//   (*udp)->Subscribe("md.eq.AAPL", tc::StartPosition::Latest(),
//                     [](const tc::Message& m) { Handle(m.payload); },
//                     [](const tc::Gap& g) { Alert(g.from, g.to); });
//   while (running) {
//     auto n = (*udp)->Poll(256, std::chrono::milliseconds(100));
//     if (!n.ok()) return Fail(n.status());
//   }
#ifndef TACHYON_CLIENT_UDP_SUBSCRIBER_H_
#define TACHYON_CLIENT_UDP_SUBSCRIBER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tachyon/client/client.h"
#include "tachyon/client/message.h"
#include "tachyon/client/options.h"
#include "tachyon/common/types.h"

namespace tachyon::client {

struct UdpSubscriberOptions {
  /// Local IPv4 address to bind. Empty: the local address of the Client's
  /// TCP connection (the address the gateway sees as this client), or any
  /// address if that connection is not IPv4.
  std::string bind_address;
  /// Local UDP port; 0 picks an ephemeral one (Subscribe tells the gateway
  /// which). A [[udp.groups]] destination or multicast group needs the port
  /// the gateway's configuration names.
  std::uint16_t port = 0;
  /// IPv4 multicast group to join (a [[udp.groups]] group); empty for
  /// unicast. The socket is then bound to the group and `port`, with
  /// SO_REUSEADDR so that several receivers on one host can share it.
  std::string multicast_group;
  /// Address of the interface to join the group on; empty lets the kernel
  /// choose (the route to the group).
  std::string multicast_interface;
  /// Datagrams per recvmmsg call (1..1024).
  int batch = 64;
  /// Receive slot per datagram. Longer datagrams are truncated by the
  /// kernel; they are dropped, counted as malformed, and their sequences
  /// recovered over TCP. The default holds a 9000-byte jumbo frame.
  std::size_t max_datagram_length = 9216;
  /// SO_RCVBUF in bytes; 0 keeps the kernel default. Raise it for bursts;
  /// overflows show in UdpSubscriberStats::kernel_drops.
  int socket_receive_buffer = 0;
  /// How often a recovery that could not start (the Client disconnected) is
  /// tried again.
  std::chrono::milliseconds recovery_retry_interval{100};
  /// Gateway restarts and failed recoveries; unset, they are only counted.
  ErrorHandler on_error;
};

/// Running totals, for tools and monitoring.
struct UdpSubscriberStats {
  std::uint64_t datagrams = 0;       ///< received, valid or not
  std::uint64_t heartbeats = 0;      ///< valid HEARTBEAT datagrams
  std::uint64_t messages = 0;        ///< delivered from datagrams
  std::uint64_t recovered = 0;       ///< delivered from TCP recovery
  std::uint64_t duplicates = 0;      ///< messages already delivered
  std::uint64_t gaps_detected = 0;   ///< losses seen in the sequences
  std::uint64_t recoveries = 0;      ///< TCP recovery subscriptions made
  std::uint64_t gaps = 0;            ///< Gaps reported to handlers
  std::uint64_t messages_lost = 0;   ///< sequences inside those Gaps
  std::uint64_t malformed = 0;       ///< failed 16.2 validation or truncated
  std::uint64_t unknown_stream = 0;  ///< valid, for a stream not added
  std::uint64_t stale_source = 0;    ///< from a replaced gateway instance
  std::uint64_t source_changes = 0;  ///< gateway instances replaced
  std::uint64_t kernel_drops = 0;    ///< socket overflows (SO_RXQ_OVFL)
};

class UdpSubscriber {
 public:
  /// Opens and binds the socket (joining the multicast group if one is
  /// given) and allocates the receive buffers. `client` must be connected
  /// and must outlive the subscriber. Errors: see the header comment.
  static absl::StatusOr<std::unique_ptr<UdpSubscriber>> Create(
      Client& client, const UdpSubscriberOptions& options = {});

  /// Ends the UDP_SUBSCRIBE deliveries and TCP recoveries it started
  /// (send-only; nothing is awaited) and closes the socket.
  ~UdpSubscriber();
  UdpSubscriber(const UdpSubscriber&) = delete;
  UdpSubscriber& operator=(const UdpSubscriber&) = delete;

  /// Asks the gateway to send the stream `name` (an exact name) to this
  /// socket and waits for its answer (up to the Client's
  /// response_timeout). `start`: Latest begins with the first sequence the
  /// datagrams carry; From(n) begins at n, recovering over TCP what came
  /// before the datagrams. Earliest is not offered (INVALID_ARGUMENT): ask
  /// for From(1). Returns the stream's id. FAILED_PRECONDITION on a
  /// multicast subscriber (groups come from the gateway's configuration:
  /// use Join). Receiving call (not from a handler).
  absl::StatusOr<StreamId> Subscribe(std::string_view name, StartPosition start,
                                     MessageHandler on_message,
                                     GapHandler on_gap = nullptr);

  /// Receives the stream `name` from datagrams the gateway's configuration
  /// already sends to this socket; learns its id over TCP (OpenStream).
  /// `start`: Latest begins with the first datagram received; From(n) at n.
  /// Receiving call.
  absl::StatusOr<StreamId> Join(std::string_view name, StartPosition start,
                                MessageHandler on_message,
                                GapHandler on_gap = nullptr);

  /// Stops delivering `stream` (its handlers are not called again) and
  /// ends its UDP_SUBSCRIBE and recovery. NOT_FOUND for a stream not added.
  /// Send-only: callable from handlers.
  absl::Status Unsubscribe(StreamId stream);

  /// The duty cycle: drives the Client's Poll (recovery data), then reads
  /// datagrams with recvmmsg and delivers them. Returns the messages
  /// delivered (TCP and UDP). `max_messages` bounds the work per call, at
  /// datagram granularity (a datagram is delivered whole). With `timeout` >
  /// 0 and nothing to do, waits up to `timeout` on both sockets. No
  /// allocation while no recovery starts or ends. Receiving call.
  absl::StatusOr<int> Poll(
      int max_messages = Client::kDefaultPollLimit,
      std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  /// The bound local port (the kernel's choice when options.port was 0).
  [[nodiscard]] std::uint16_t local_port() const;
  /// The bound local address, dotted quad.
  [[nodiscard]] const std::string& local_address() const;
  /// The UDP socket, for an external poll loop (wait for POLLIN on it and
  /// on Client::fd(), then Poll()). Do not read it directly.
  [[nodiscard]] int fd() const;
  [[nodiscard]] const UdpSubscriberStats& stats() const;

 private:
  class Impl;
  explicit UdpSubscriber(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tachyon::client

#endif  // TACHYON_CLIENT_UDP_SUBSCRIBER_H_
