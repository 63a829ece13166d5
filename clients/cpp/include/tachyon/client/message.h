// tachyon/client/message.h — what subscription handlers receive.
//
// Overview
//   A Message is a zero-copy view of one DATA frame as it sits in the
//   client's receive buffer: the stream it belongs to, its per-stream
//   sequence, the gateway's append timestamp and the payload bytes. It is
//   valid only for the duration of the handler call that received it; copy
//   what must outlive the call.
//
//   A Gap reports sequences of a stream that this subscriber will never see:
//   either the gateway said so (GAP frame: the range was no longer retained,
//   e.g. a replay from an overwritten sequence, or the subscriber was lapped)
//   or the client detected a discontinuity in the DATA sequences itself.
//   Delivery continues with `to.Next()`.
//
// Example
//   client->Subscribe(
//       "md.eq.*", tachyon::client::StartPosition::Latest(),
//       [](const tachyon::client::Message& m) {
//         std::printf("%.*s #%llu: %.*s\n", int(m.stream_name.size()),
//                     m.stream_name.data(),
//                     (unsigned long long)m.sequence.value(),
//                     int(m.text().size()), m.text().data());
//       },
//       [](const tachyon::client::Gap& g) { Alert(g.from, g.to); });
//
// Threading: handlers run on the thread that called Client::Poll (the
// AsyncClient's executor), one at a time; client.h says when a waiting
// call other than Poll may run them.
#ifndef TACHYON_CLIENT_MESSAGE_H_
#define TACHYON_CLIENT_MESSAGE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "tachyon/common/types.h"

namespace tachyon::client {

/// One received message. Borrowed: every view points into the client's
/// receive buffer or stream table and is invalid once the handler returns.
struct Message {
  /// The stream's id in the current gateway run (a restarted gateway may
  /// number streams differently; the name is stable).
  StreamId stream_id;
  /// The stream's name (for pattern subscriptions, which stream matched).
  std::string_view stream_name;
  /// Per-stream sequence, contiguous from 1.
  Sequence sequence;
  /// When the gateway appended the message: CLOCK_REALTIME ns since the
  /// epoch. Latency = now - timestamp_ns (same host or synchronised clocks).
  std::int64_t timestamp_ns = 0;
  /// The publisher's bytes, unchanged.
  std::span<const std::byte> payload;

  /// The payload viewed as characters (no copy, no validation).
  [[nodiscard]] std::string_view text() const {
    return {reinterpret_cast<const char*>(payload.data()), payload.size()};
  }
};

/// Who noticed that sequences are missing.
enum class GapOrigin : std::uint8_t {
  kGateway,   ///< a GAP frame: the gateway no longer retains the range
  kDetected,  ///< the client saw DATA skip sequences (never expected)
};

/// Sequences [from, to] of a stream will not be delivered.
struct Gap {
  StreamId stream_id;
  std::string_view stream_name;  ///< borrowed, like Message::stream_name
  Sequence from;
  Sequence to;  ///< inclusive
  GapOrigin origin = GapOrigin::kGateway;

  [[nodiscard]] std::uint64_t count() const {
    return to.value() - from.value() + 1;
  }
};

/// Receives each message of a subscription. Set once at Subscribe; invoking
/// it is one indirect call and never allocates.
using MessageHandler = std::function<void(const Message&)>;
/// Receives each gap of a subscription (optional).
using GapHandler = std::function<void(const Gap&)>;

}  // namespace tachyon::client

#endif  // TACHYON_CLIENT_MESSAGE_H_
