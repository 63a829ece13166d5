// Round-trip fuzzer for DecodeDatagram.
//
// The input is one UDP datagram. When DecodeDatagram accepts it, every header
// accessor and every accessor of every frame's typed view is called, reading
// every payload byte (so ASan and UBSan see any out-of-bounds read); the
// iteration must agree with what DecodeDatagram promised (count, kind, stream,
// contiguous DATA sequences, no trailing bytes); and the header and each frame
// re-encode byte for byte. A rejected datagram must carry an error code.
// Version-2 (authenticated) datagrams re-encode with their own header
// encoder; their MAC is checked under a fixed key, then the datagram is
// re-signed and must verify, and must not once any byte is changed.
//
// Seeds: scripts/vectors-to-corpus.py. Run: scripts/fuzz.sh BUILD_DIR SECONDS.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "tachyon/protocol/datagram_mac.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::protocol {
namespace {

constexpr std::uint32_t kMaxFrame = kDefaultMaxFrameLength;

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_datagram: check failed: %s\n", what);
  std::abort();
}

// Reads every byte, so a span reaching past its buffer is an ASan report.
std::uint64_t Sum(std::span<const std::byte> bytes) {
  std::uint64_t sum = 0;
  for (std::byte b : bytes) sum += static_cast<std::uint8_t>(b);
  return sum;
}

volatile std::uint64_t g_sink;

// Accessors of a DATA or PUBLISH frame, then its re-encoding into `out`.
std::size_t ReadAndReencode(FrameView frame, std::span<std::byte> out) {
  std::uint64_t s = frame.length() + frame.version() + frame.flags() +
                    frame.stream_id().value() + Sum(frame.bytes());
  std::size_t n = 0;
  if (frame.type() == MessageType::kData) {
    const DataView v(frame);
    s += v.sequence().value() + static_cast<std::uint64_t>(v.timestamp_ns()) +
         Sum(v.payload());
    n = EncodeData(out, v.stream_id(), v.sequence(), v.timestamp_ns(),
                   v.payload());
  } else if (frame.type() == MessageType::kPublish) {
    const PublishView v(frame);
    s += v.correlation_id() + v.ack_requested() + Sum(v.payload());
    n = EncodePublish(out, v.stream_id(), v.correlation_id(), v.payload(),
                      v.ack_requested() ? AckMode::kRequested : AckMode::kNone);
  }
  g_sink = g_sink + s;
  return n;
}

void Run(std::span<const std::byte> input) {
  const DatagramResult r = DecodeDatagram(input, kMaxFrame);
  if (r.error != ErrorCode::kNone) {
    // Only framing codes describe a malformed datagram. A rejected result
    // has no frames to iterate.
    const auto code = static_cast<std::uint16_t>(r.error);
    Check(code >= static_cast<std::uint16_t>(ErrorCode::kFrameTooShort) &&
              code <= static_cast<std::uint16_t>(ErrorCode::kBadField),
          "rejection with a non-framing code");
    return;
  }
  const DatagramView& d = r.view;
  Check(input.size() >= kDatagramHeaderLength, "accepted a short datagram");
  const bool v2 = d.authenticated();
  const std::size_t header_length =
      v2 ? kAuthenticatedHeaderLength : kDatagramHeaderLength;
  const std::size_t trailer = v2 ? kDatagramMacLength : 0;
  Check(input.size() >= header_length + trailer, "accepted a short datagram");

  std::array<std::byte, kAuthenticatedHeaderLength> header;
  Check((v2 ? EncodeAuthenticatedDatagramHeader(
                  header, d.kind(), d.message_count(), d.stream_id(),
                  d.first_sequence(), d.source_id(), d.producer_id())
            : EncodeDatagramHeader(header, d.kind(), d.message_count(),
                                   d.stream_id(), d.first_sequence(),
                                   d.source_id())) == header_length,
        "header encode failed");
  Check(std::memcmp(header.data(), input.data(), header_length) == 0,
        "header re-encodes differently");
  Check(d.frames().data() == input.data() + header_length &&
            d.frames().size() == input.size() - header_length - trailer,
        "frames() is not the datagram body");
  if (v2) {
    Check(d.producer_id() != 0, "accepted producer_id 0");
    Check(d.mac().data() == input.data() + input.size() - kDatagramMacLength,
          "mac() is not the last 16 bytes");
    DatagramKey key{};
    key[0] = std::byte{0x5a};
    g_sink = g_sink + VerifyDatagramMac(input, key);
    std::vector<std::byte> copy(input.begin(), input.end());
    Check(SignDatagram(copy, key), "sign failed");
    Check(VerifyDatagramMac(copy, key), "a signed datagram does not verify");
    const std::size_t at = Sum(input) % copy.size();
    copy[at] ^= std::byte{0x01};
    Check(!VerifyDatagramMac(copy, key), "a changed datagram still verifies");
  }

  MessageType expected_type = MessageType::kHeartbeat;
  switch (d.kind()) {
    case DatagramKind::kData:
      expected_type = MessageType::kData;
      break;
    case DatagramKind::kPublish:
      expected_type = MessageType::kPublish;
      break;
    case DatagramKind::kHeartbeat:
      Check(d.message_count() == 0 && d.frames().empty(),
            "heartbeat datagram with frames");
      break;
    default:
      Check(false, "accepted an unknown kind");
  }

  std::vector<std::byte> out(PaddedLength(kMaxFrame));
  std::size_t count = 0;
  std::size_t offset = header_length;
  for (FrameView f : r) {
    Check(count < d.message_count(), "more frames than message_count");
    Check(f.bytes().data() == input.data() + offset, "frame not in place");
    Check(offset + f.padded_length() <= input.size(), "frame past the end");
    Check(f.type() == expected_type, "frame of the wrong type");
    Check(f.stream_id() == d.stream_id(), "frame of another stream");
    if (expected_type == MessageType::kData) {
      Check(
          DataView(f).sequence().value() == d.first_sequence().value() + count,
          "DATA sequences not contiguous");
    }
    const std::size_t n = ReadAndReencode(f, out);
    Check(n == f.padded_length() &&
              std::memcmp(out.data(), f.bytes().data(), n) == 0,
          "frame re-encodes differently");
    offset += f.padded_length();
    ++count;
  }
  Check(count == d.message_count(), "fewer frames than message_count");
  Check(offset + trailer == input.size(), "bytes after the last frame");
}

}  // namespace
}  // namespace tachyon::protocol

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  tachyon::protocol::Run({reinterpret_cast<const std::byte*>(data), size});
  return 0;
}
