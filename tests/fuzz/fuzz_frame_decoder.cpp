// Round-trip fuzzer for DecodeFrame and the streaming FrameDecoder.
//
// The input is a byte stream as a TCP socket would deliver it. It is decoded
// twice: one-shot, by DecodeFrame over the whole input, and through a
// FrameDecoder (storage of exactly MinStorage bytes) fed in chunks whose
// sizes come from the input's first bytes. Both must give the same frames
// and the same final status and error. Every decoded frame then has every
// accessor of its typed view called, reading every byte of its variable
// fields (so ASan and UBSan see any out-of-bounds read), and is re-encoded
// with the matching Encode function: the output must equal the received
// frame and its padding byte for byte.
//
// Seeds: scripts/vectors-to-corpus.py writes protocol/vectors/ frames as
// whole inputs. Run: scripts/fuzz.sh BUILD_DIR SECONDS.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "tachyon/protocol/protocol.h"

namespace tachyon::protocol {
namespace {

// Large enough for every message's maximal fixed and variable parts (an
// ERROR with 1024 bytes of text is 1056), small enough that inputs longer
// than the decoder's storage are common.
constexpr std::uint32_t kMaxFrame = 2048;

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_frame_decoder: check failed: %s\n", what);
  std::abort();
}

// Reads every byte, so a span reaching past its buffer is an ASan report.
std::uint64_t Sum(std::span<const std::byte> bytes) {
  std::uint64_t sum = 0;
  for (std::byte b : bytes) sum += static_cast<std::uint8_t>(b);
  return sum;
}
std::uint64_t Sum(std::string_view text) { return Sum(AsBytes(text)); }

// Keeps the accessor results alive so that they are not optimised away.
volatile std::uint64_t g_sink;

// Calls every accessor of `frame`'s typed view and re-encodes it from them
// into `out`. Returns the encoder's result (the padded size, or 0).
std::size_t ReadAndReencode(FrameView frame, std::span<std::byte> out) {
  std::uint64_t s = frame.length() + frame.padded_length() + frame.version() +
                    frame.flags() + frame.stream_id().value() +
                    Sum(frame.bytes());
  std::size_t n = 0;
  switch (frame.type()) {
    case MessageType::kLogon: {
      const LogonView v(frame);
      s += v.min_version() + v.max_version() + v.heartbeat_interval_ms() +
           Sum(v.token()) + Sum(v.client_name());
      n = EncodeLogon(out, {.min_version = v.min_version(),
                            .max_version = v.max_version(),
                            .heartbeat_interval_ms = v.heartbeat_interval_ms(),
                            .token = v.token(),
                            .client_name = v.client_name()});
      break;
    }
    case MessageType::kLogonAck: {
      const LogonAckView v(frame);
      s += v.negotiated_version() + v.heartbeat_interval_ms() +
           v.session_id().value() + v.max_frame_length() + v.instance_epoch();
      n = EncodeLogonAck(out,
                         {.version = v.negotiated_version(),
                          .heartbeat_interval_ms = v.heartbeat_interval_ms(),
                          .session_id = v.session_id(),
                          .max_frame_length = v.max_frame_length(),
                          .instance_epoch = v.instance_epoch()});
      break;
    }
    case MessageType::kLogonReject:
    case MessageType::kError: {
      const ErrorView v(frame);
      s += static_cast<std::uint16_t>(v.code()) + v.fatal() + v.context() +
           Sum(v.text());
      const ErrorFields m{.code = v.code(),
                          .fatal = v.fatal(),
                          .stream_id = v.stream_id(),
                          .context = v.context(),
                          .text = v.text()};
      n = frame.type() == MessageType::kError ? EncodeError(out, m)
                                              : EncodeLogonReject(out, m);
      break;
    }
    case MessageType::kHeartbeat: {
      const HeartbeatView v(frame);
      s += static_cast<std::uint64_t>(v.timestamp_ns());
      n = EncodeHeartbeat(out, v.timestamp_ns());
      break;
    }
    case MessageType::kLogout: {
      const LogoutView v(frame);
      s += static_cast<std::uint16_t>(v.reason());
      n = EncodeLogout(out, v.reason());
      break;
    }
    case MessageType::kOpenStream: {
      const OpenStreamView v(frame);
      s += v.request_id() + Sum(v.name());
      n = EncodeOpenStream(out, v.request_id(), v.name());
      break;
    }
    case MessageType::kOpenStreamAck:
    case MessageType::kSubscribeAck: {
      const StreamAckView v(frame);
      s += v.id() + v.next_sequence().value() + v.instance_epoch() +
           Sum(v.name());
      const StreamAckFields m{.stream_id = v.stream_id(),
                              .id = v.id(),
                              .next_sequence = v.next_sequence(),
                              .name = v.name(),
                              .instance_epoch = v.instance_epoch()};
      n = frame.type() == MessageType::kOpenStreamAck
              ? EncodeOpenStreamAck(out, m)
              : EncodeSubscribeAck(out, m);
      break;
    }
    case MessageType::kSubscribe: {
      const SubscribeView v(frame);
      s += v.subscription_id().value() +
           static_cast<std::uint8_t>(v.start_mode()) +
           v.start_sequence().value() + Sum(v.name()) + v.is_pattern();
      n = EncodeSubscribe(out, {.subscription_id = v.subscription_id(),
                                .start = v.start_mode(),
                                .start_sequence = v.start_sequence(),
                                .name = v.name()});
      break;
    }
    case MessageType::kUnsubscribe: {
      const UnsubscribeView v(frame);
      s += v.subscription_id().value();
      n = EncodeUnsubscribe(out, v.subscription_id());
      break;
    }
    case MessageType::kUdpSubscribe: {
      const UdpSubscribeView v(frame);
      s += v.subscription_id().value() + v.port() + Sum(v.address()) +
           v.address_is_peer() + Sum(v.name());
      UdpSubscribeFields m{.subscription_id = v.subscription_id(),
                           .port = v.port(),
                           .name = v.name()};
      std::memcpy(m.address.data(), v.address().data(), m.address.size());
      n = EncodeUdpSubscribe(out, m);
      break;
    }
    case MessageType::kGap: {
      const GapView v(frame);
      s += v.from_sequence().value() + v.to_sequence().value();
      n = EncodeGap(out, v.stream_id(), v.from_sequence(), v.to_sequence());
      break;
    }
    case MessageType::kPublish: {
      const PublishView v(frame);
      s += v.correlation_id() + v.ack_requested() + Sum(v.payload());
      n = EncodePublish(
          out, v.stream_id(), v.correlation_id(), v.payload(),
          v.ack_requested() ? AckMode::kRequested : AckMode::kNone);
      break;
    }
    case MessageType::kPublishAck: {
      const PublishAckView v(frame);
      s += v.correlation_id() + v.sequence().value() +
           static_cast<std::uint16_t>(v.status());
      n = EncodePublishAck(out, {.stream_id = v.stream_id(),
                                 .correlation_id = v.correlation_id(),
                                 .sequence = v.sequence(),
                                 .status = v.status()});
      break;
    }
    case MessageType::kData: {
      const DataView v(frame);
      s += v.sequence().value() + static_cast<std::uint64_t>(v.timestamp_ns()) +
           Sum(v.payload());
      n = EncodeData(out, v.stream_id(), v.sequence(), v.timestamp_ns(),
                     v.payload());
      break;
    }
    case MessageType::kRequest: {
      const RequestView v(frame);
      s += v.correlation_id() + v.service_id() + v.timeout_ms() +
           Sum(v.payload());
      n = EncodeRequest(out, {.correlation_id = v.correlation_id(),
                              .service_id = v.service_id(),
                              .timeout_ms = v.timeout_ms(),
                              .payload = v.payload()});
      break;
    }
    case MessageType::kResponse: {
      const ResponseView v(frame);
      s += v.correlation_id() + v.service_id() +
           static_cast<std::uint16_t>(v.status()) + Sum(v.payload());
      n = EncodeResponse(out, {.correlation_id = v.correlation_id(),
                               .service_id = v.service_id(),
                               .status = v.status(),
                               .payload = v.payload()});
      break;
    }
    case MessageType::kServiceLookup: {
      const ServiceLookupView v(frame);
      s += v.correlation_id() + Sum(v.name());
      n = EncodeServiceLookup(
          out, {.correlation_id = v.correlation_id(), .name = v.name()});
      break;
    }
    case MessageType::kServiceLookupAck: {
      const ServiceLookupAckView v(frame);
      s += v.correlation_id() + v.service_id();
      n = EncodeServiceLookupAck(out, {.correlation_id = v.correlation_id(),
                                       .service_id = v.service_id()});
      break;
    }
  }
  g_sink = g_sink + s;
  return n;
}

// Accessors, then the round trip: re-encoding must reproduce the frame and
// its zero padding exactly (`padded` bytes from the frame's start).
void CheckFrame(FrameView frame, std::size_t padded) {
  Check(frame.padded_length() == padded, "consumed != padded_length()");
  Check(frame.length() >= kHeaderLength && frame.length() <= kMaxFrame,
        "decoded frame length out of range");
  Check(frame.version() == kProtocolVersion, "decoded frame version");
  Check(IsKnownMessageType(static_cast<std::uint8_t>(frame.type())),
        "decoded frame type");
  Check(ValidateBody(frame.type(), frame.bytes()) == ErrorCode::kNone,
        "decoded frame fails its own Validate");
  std::array<std::byte, PaddedLength(kMaxFrame)> out;
  const std::size_t n = ReadAndReencode(frame, out);
  Check(n == padded, "re-encoded size differs");
  Check(std::memcmp(out.data(), frame.bytes().data(), n) == 0,
        "re-encoded bytes differ");
}

struct Decoded {
  const std::byte* data;  // frame start (in the input or decoder storage)
  std::size_t padded;
};

void Run(std::span<const std::byte> input) {
  // One shot: DecodeFrame repeatedly over the whole input.
  std::vector<Decoded> one_shot;
  DecodeResult last;
  std::span<const std::byte> rest = input;
  for (last = DecodeFrame(rest, kMaxFrame); last.status == DecodeStatus::kFrame;
       last = DecodeFrame(rest, kMaxFrame)) {
    Check(last.consumed > 0 && last.consumed <= rest.size(), "consumed");
    Check(last.frame.bytes().data() == rest.data(), "view is not in place");
    CheckFrame(last.frame, last.consumed);
    one_shot.push_back({last.frame.bytes().data(), last.consumed});
    rest = rest.subspan(last.consumed);
  }
  const std::size_t tail = rest.size();  // bytes after the last frame
  Check(last.consumed == 0, "a failed decode consumed bytes");
  Check(
      (last.status == DecodeStatus::kError) == (last.error != ErrorCode::kNone),
      "error code disagrees with status");

  // Streaming: chunk sizes 1..256 taken, cyclically, from the first bytes.
  std::array<std::size_t, 8> chunks{};
  std::size_t chunk_count = std::min(input.size(), chunks.size());
  for (std::size_t i = 0; i < chunk_count; ++i) {
    chunks[i] = static_cast<std::size_t>(input[i]) + 1;
  }
  if (chunk_count == 0) chunks[chunk_count++] = 1;

  // Heap storage of exactly the minimum, so ASan guards both ends.
  std::vector<std::byte> storage(FrameDecoder::MinStorage(kMaxFrame));
  const std::span<const std::byte> whole(storage);
  FrameDecoder decoder(storage, kMaxFrame);
  std::size_t next_frame = 0;
  DecodeResult result;
  auto drain = [&] {
    for (result = decoder.Next(); result.status == DecodeStatus::kFrame;
         result = decoder.Next()) {
      const std::span<const std::byte> f = result.frame.bytes();
      Check(f.data() >= whole.data() &&
                f.data() + result.consumed <= whole.data() + whole.size(),
            "decoder view is not in its storage");
      CheckFrame(result.frame, result.consumed);
      Check(next_frame < one_shot.size(), "decoder yields an extra frame");
      const Decoded& want = one_shot[next_frame++];
      Check(want.padded == result.consumed &&
                std::memcmp(want.data, f.data(), want.padded) == 0,
            "decoder frame differs from one-shot frame");
    }
  };
  std::span<const std::byte> feed = input;
  for (std::size_t c = 0;
       !feed.empty() && result.status != DecodeStatus::kError; ++c) {
    std::span<const std::byte> chunk =
        feed.first(std::min(chunks[c % chunk_count], feed.size()));
    feed = feed.subspan(chunk.size());
    while (!chunk.empty()) {
      const std::size_t taken = decoder.Append(chunk);
      chunk = chunk.subspan(taken);
      drain();
      if (result.status == DecodeStatus::kError) break;
      // With MinStorage bytes the decoder always has room after a drain.
      Check(taken > 0, "decoder stalled with a full buffer");
    }
  }
  drain();
  Check(next_frame == one_shot.size(), "decoder missed frames");
  Check(result.status == last.status, "final status differs");
  Check(result.error == last.error, "final error differs");
  Check(decoder.error() == last.error, "sticky error differs");
  if (last.status == DecodeStatus::kIncomplete) {
    Check(decoder.buffered() == tail, "decoder buffered a different tail");
  }
}

}  // namespace
}  // namespace tachyon::protocol

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  tachyon::protocol::Run({reinterpret_cast<const std::byte*>(data), size});
  return 0;
}
