// Streaming decode: FrameDecoder must yield exactly the frames (and the final
// error) that one-shot DecodeFrame yields, however the bytes are split, with
// views into its own storage and no copies.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <ostream>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "print_to.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::protocol {

namespace {

using Bytes = std::vector<std::byte>;

constexpr std::uint32_t kMax = 2048;

// Appends one random, valid frame of a random type to `out`. Payloads and
// texts run up to `max_body` bytes (clamped to each field's limit).
void AppendRandomFrame(Bytes& out, std::mt19937_64& rng, std::size_t max_body) {
  auto below = [&](std::uint64_t n) { return rng() % n; };
  auto nz32 = [&] { return static_cast<std::uint32_t>(rng() | 1); };
  auto nz64 = [&] { return rng() | 1; };
  auto text = [&](std::size_t limit) {
    std::string s(below(std::min(limit, max_body) + 1), '\0');
    for (char& ch : s) ch = static_cast<char>('a' + below(26));
    return s;
  };
  auto name = [&] {
    std::string s = text(kMaxNameLength);
    return s.empty() ? std::string("x") : s;
  };
  const std::size_t at = out.size();
  // Room for the largest frame below: a LOGON is 32 + 255 + 63 bytes.
  out.resize(at + PaddedLength(max_body + 512));
  const std::span<std::byte> buf = std::span(out).subspan(at);
  std::size_t n = 0;
  switch (below(17)) {
    case 0: {
      const std::string token = text(kMaxLogonFieldLength);
      const std::string client = text(kMaxLogonFieldLength / 4);
      n = EncodeLogon(buf, {.min_version = 1,
                            .max_version = 2,
                            .heartbeat_interval_ms = nz32(),
                            .token = token,
                            .client_name = client});
      break;
    }
    case 1:
      n = EncodeLogonAck(buf, {.heartbeat_interval_ms = nz32(),
                               .session_id = SessionId{nz64()}});
      break;
    case 2: {
      const std::string t = text(kMaxErrorTextLength);
      n = EncodeLogonReject(buf, {.code = ErrorCode::kNotAuthorized,
                                  .stream_id = StreamId{0},
                                  .text = t});
      break;
    }
    case 3:
      n = EncodeHeartbeat(buf, static_cast<std::int64_t>(rng()));
      break;
    case 4:
      n = EncodeLogout(buf, ErrorCode::kNone);
      break;
    case 5: {
      const std::string t = text(kMaxErrorTextLength);
      n = EncodeError(buf, {.code = ErrorCode::kSlowConsumer,
                            .fatal = below(2) == 1,
                            .stream_id = StreamId{nz32()},
                            .context = rng(),
                            .text = t});
      break;
    }
    case 6:
      n = EncodeOpenStream(buf, nz32(), name());
      break;
    case 7: {
      const std::string s = name();
      n = EncodeOpenStreamAck(buf, {.stream_id = StreamId{nz32()},
                                    .id = nz32(),
                                    .next_sequence = Sequence{nz64()},
                                    .name = s});
      break;
    }
    case 8: {
      const std::string s = name();
      n = EncodeSubscribe(buf, {.subscription_id = SubscriptionId{nz32()},
                                .start = StartMode::kSequence,
                                .start_sequence = Sequence{nz64()},
                                .name = s});
      break;
    }
    case 9: {
      const std::string s = name();
      n = EncodeSubscribeAck(buf, {.stream_id = StreamId{nz32()},
                                   .id = nz32(),
                                   .next_sequence = Sequence{nz64()},
                                   .name = s});
      break;
    }
    case 10:
      n = EncodeUnsubscribe(buf, SubscriptionId{nz32()});
      break;
    case 11:
      n = EncodeGap(buf, StreamId{nz32()}, Sequence{1}, Sequence{nz64()});
      break;
    case 12: {
      const std::string p = text(max_body);
      n = EncodePublish(buf, StreamId{nz32()}, rng(), AsBytes(p),
                        below(2) ? AckMode::kRequested : AckMode::kNone);
      break;
    }
    case 13:
      n = EncodePublishAck(buf, {.stream_id = StreamId{nz32()},
                                 .correlation_id = rng(),
                                 .sequence = Sequence{nz64()}});
      break;
    case 14: {
      const std::string p = text(max_body);
      n = EncodeData(buf, StreamId{nz32()}, Sequence{nz64()},
                     static_cast<std::int64_t>(rng()), AsBytes(p));
      break;
    }
    case 15: {
      const std::string p = text(max_body);
      n = EncodeRequest(buf, {.correlation_id = rng(),
                              .service_id = nz32(),
                              .timeout_ms = nz32(),
                              .payload = AsBytes(p)});
      break;
    }
    default: {
      const std::string p = text(max_body);
      n = EncodeResponse(buf, {.correlation_id = rng(),
                               .service_id = nz32(),
                               .status = ResponseStatus::kTimeout,
                               .payload = AsBytes(p)});
      break;
    }
  }
  ASSERT_GT(n, 0u);
  out.resize(at + n);
}

Bytes MixedStream(std::uint64_t seed, int frames, std::size_t max_body) {
  std::mt19937_64 rng(seed);
  Bytes out;
  for (int i = 0; i < frames; ++i) AppendRandomFrame(out, rng, max_body);
  return out;
}

Bytes DataFrame(std::size_t payload_size, std::uint64_t sequence = 1) {
  Bytes b(PaddedLength(DataView::kFixedLength + payload_size));
  const std::span<std::byte> body =
      BeginData(b, StreamId{1}, Sequence{sequence}, 0, payload_size);
  for (std::size_t i = 0; i < body.size(); ++i) {
    body[i] = static_cast<std::byte>(i * 7 + sequence);
  }
  return b;
}

void Concat(Bytes& out, const Bytes& more) {
  out.insert(out.end(), more.begin(), more.end());
}

// What a decode of a whole byte stream produced.
struct Outcome {
  std::vector<Bytes> frames;  // each frame's unpadded bytes
  DecodeStatus final_status = DecodeStatus::kIncomplete;
  ErrorCode error = ErrorCode::kNone;
};

Outcome DecodeOneShot(std::span<const std::byte> bytes, std::uint32_t max) {
  Outcome o;
  for (;;) {
    const DecodeResult r = DecodeFrame(bytes, max);
    if (r.status != DecodeStatus::kFrame) {
      o.final_status = r.status;
      o.error = r.error;
      return o;
    }
    const auto f = r.frame.bytes();
    o.frames.emplace_back(f.begin(), f.end());
    bytes = bytes.subspan(r.consumed);
  }
}

bool InStorage(std::span<const std::byte> frame,
               std::span<const std::byte> storage) {
  return frame.data() >= storage.data() &&
         frame.data() + frame.size() <= storage.data() + storage.size();
}

// Feeds `bytes` to a FrameDecoder over `storage` in pieces whose sizes
// `next_chunk` chooses, draining after each Append, as a reactor would.
Outcome DecodeStreaming(std::span<const std::byte> bytes,
                        std::span<std::byte> storage, std::uint32_t max,
                        const std::function<std::size_t()>& next_chunk) {
  Outcome o;
  FrameDecoder dec(storage, max);
  DecodeResult last;
  auto drain = [&] {
    for (last = dec.Next(); last.status == DecodeStatus::kFrame;
         last = dec.Next()) {
      const auto f = last.frame.bytes();
      // A view into the decoder's storage, never a copy.
      EXPECT_TRUE(InStorage(f, storage));
      o.frames.emplace_back(f.begin(), f.end());
    }
  };
  while (!bytes.empty()) {
    std::span<const std::byte> chunk =
        bytes.first(std::min(next_chunk(), bytes.size()));
    bytes = bytes.subspan(chunk.size());
    while (!chunk.empty()) {
      const std::size_t taken = dec.Append(chunk);
      chunk = chunk.subspan(taken);
      drain();
      if (last.status == DecodeStatus::kError) break;
      if (taken == 0) {
        ADD_FAILURE() << "decoder stalled with " << dec.buffered()
                      << " bytes buffered in " << storage.size();
        return o;
      }
    }
    if (last.status == DecodeStatus::kError) break;
  }
  drain();
  o.final_status = last.status;
  o.error = last.error;
  return o;
}

void ExpectSameOutcome(const Outcome& want, const Outcome& got) {
  ASSERT_EQ(got.frames.size(), want.frames.size());
  for (std::size_t i = 0; i < want.frames.size(); ++i) {
    ASSERT_EQ(got.frames[i], want.frames[i]) << "frame " << i;
  }
  EXPECT_EQ(got.final_status, want.final_status);
  EXPECT_EQ(got.error, want.error);
}

// A stream of mixed frames followed by each kind of fatal fault, then more
// valid frames that must never be delivered.
std::vector<std::pair<std::string, Bytes>> StreamsUnderTest() {
  std::vector<std::pair<std::string, Bytes>> streams;
  const Bytes clean = MixedStream(1, 40, kMax - 64);
  const Bytes tail = MixedStream(2, 3, 100);
  streams.emplace_back("clean", clean);
  {
    Bytes s = clean;
    Concat(s, DataFrame(5));
    s.resize(s.size() - 3);  // ends inside a frame
    streams.emplace_back("truncated", s);
  }
  auto with_fault = [&](const std::string& name, const Bytes& bad) {
    Bytes s = clean;
    Concat(s, bad);
    Concat(s, tail);
    streams.emplace_back(name, s);
  };
  {
    Bytes bad = DataFrame(8);
    StoreU32(bad.data(), kMax + 1);
    with_fault("too_long", bad);
  }
  {
    Bytes bad = DataFrame(8);
    StoreU32(bad.data(), 12);
    with_fault("too_short", bad);
  }
  {
    Bytes bad = DataFrame(8);
    StoreU8(bad.data() + kVersionOffset, 2);
    with_fault("bad_version", bad);
  }
  {
    Bytes bad = DataFrame(8);
    StoreU8(bad.data() + kTypeOffset, 0x7F);
    with_fault("unknown_type", bad);
  }
  {
    Bytes bad = DataFrame(5);
    bad.back() = std::byte{1};
    with_fault("bad_padding", bad);
  }
  {
    Bytes bad = DataFrame(8);
    StoreU64(bad.data() + 16, 0);
    with_fault("bad_field", bad);
  }
  return streams;
}

TEST(FrameDecoder, MatchesOneShotDecodeAtEverySplitPoint) {
  Bytes storage(FrameDecoder::MinStorage(kMax));
  for (const auto& named_stream : StreamsUnderTest()) {
    // Not a structured binding: clang 14 cannot capture one in a lambda.
    const std::string& name = named_stream.first;
    const Bytes& stream = named_stream.second;
    SCOPED_TRACE(name);
    const Outcome want = DecodeOneShot(stream, kMax);
    if (name == "clean") {
      EXPECT_EQ(want.frames.size(), 40u);
      EXPECT_EQ(want.error, ErrorCode::kNone);
    } else if (name != "truncated") {
      EXPECT_EQ(want.final_status, DecodeStatus::kError);
    }
    for (std::size_t split = 0; split <= stream.size(); ++split) {
      SCOPED_TRACE("split at " + std::to_string(split));
      int piece = 0;
      const Outcome got =
          DecodeStreaming(stream, storage, kMax, [&]() -> std::size_t {
            return piece++ == 0 ? split : stream.size();
          });
      ExpectSameOutcome(want, got);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

TEST(FrameDecoder, MatchesOneShotDecodeInRandomChunks) {
  std::mt19937_64 rng(0xC0FFEE);
  constexpr int kIterations = 400;
  for (const auto& named_stream : StreamsUnderTest()) {
    // Not a structured binding: clang 14 cannot capture one in a lambda.
    const std::string& name = named_stream.first;
    const Bytes& stream = named_stream.second;
    SCOPED_TRACE(name);
    const Outcome want = DecodeOneShot(stream, kMax);
    for (int i = 0; i < kIterations; ++i) {
      // Alternate exact-minimum storage with roomier storage.
      Bytes storage(FrameDecoder::MinStorage(kMax) * (1 + i % 3));
      static constexpr std::size_t kLimits[] = {1, 3, 8, 17, 64, 300, 4096};
      const std::size_t limit = kLimits[rng() % std::size(kLimits)];
      const Outcome got = DecodeStreaming(stream, storage, kMax, [&] {
        return static_cast<std::size_t>(1 + rng() % limit);
      });
      ExpectSameOutcome(want, got);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

TEST(FrameDecoder, ReceivesInPlaceThroughWritableSpanAndCommit) {
  const Bytes stream = MixedStream(3, 60, 700);
  const Outcome want = DecodeOneShot(stream, kMax);
  Bytes storage(FrameDecoder::MinStorage(kMax));
  FrameDecoder dec(storage, kMax);
  std::mt19937_64 rng(7);
  Outcome got;
  std::size_t pos = 0;
  while (pos < stream.size()) {
    // Like recv(): up to the free space, often less.
    const std::span<std::byte> space = dec.WritableSpan();
    ASSERT_FALSE(space.empty());
    const std::size_t n = std::min({space.size(), stream.size() - pos,
                                    static_cast<std::size_t>(1 + rng() % 900)});
    std::memcpy(space.data(), stream.data() + pos, n);
    dec.Commit(n);
    pos += n;
    for (auto r = dec.Next(); r.status == DecodeStatus::kFrame;
         r = dec.Next()) {
      EXPECT_TRUE(InStorage(r.frame.bytes(), storage));
      const auto f = r.frame.bytes();
      got.frames.emplace_back(f.begin(), f.end());
    }
  }
  EXPECT_EQ(dec.buffered(), 0u);
  ExpectSameOutcome(want, got);
}

TEST(FrameDecoder, ReturnsIncompleteWhenEmpty) {
  Bytes storage(64);
  FrameDecoder dec(storage, kMax);
  EXPECT_EQ(dec.Next().status, DecodeStatus::kIncomplete);
  EXPECT_EQ(dec.buffered(), 0u);
  EXPECT_EQ(dec.error(), ErrorCode::kNone);
  EXPECT_EQ(dec.max_frame_length(), kMax);
}

TEST(FrameDecoder, ViewsPointIntoStorageWithoutCopying) {
  Bytes storage(256);
  FrameDecoder dec(storage, kMax);
  const Bytes a = DataFrame(3, 1);
  const Bytes b = DataFrame(20, 2);
  ASSERT_EQ(dec.Append(a), a.size());
  ASSERT_EQ(dec.Append(b), b.size());
  const DecodeResult ra = dec.Next();
  ASSERT_EQ(ra.status, DecodeStatus::kFrame);
  EXPECT_EQ(ra.frame.bytes().data(), storage.data());
  EXPECT_EQ(DataView(ra.frame).payload().data(), storage.data() + 32);
  const DecodeResult rb = dec.Next();
  ASSERT_EQ(rb.status, DecodeStatus::kFrame);
  EXPECT_EQ(rb.frame.bytes().data(), storage.data() + a.size());
  EXPECT_EQ(DataView(rb.frame).sequence(), Sequence{2});
  EXPECT_EQ(dec.Next().status, DecodeStatus::kIncomplete);
}

TEST(FrameDecoder, ErrorsAreSticky) {
  Bytes storage(512);
  FrameDecoder dec(storage, kMax);
  Bytes bytes = DataFrame(8, 1);
  Bytes bad = DataFrame(5, 2);
  bad.back() = std::byte{9};
  Concat(bytes, bad);
  Concat(bytes, DataFrame(8, 3));
  ASSERT_EQ(dec.Append(bytes), bytes.size());
  EXPECT_EQ(dec.Next().status, DecodeStatus::kFrame);
  for (int i = 0; i < 3; ++i) {
    const DecodeResult r = dec.Next();
    EXPECT_EQ(r.status, DecodeStatus::kError);
    EXPECT_EQ(r.error, ErrorCode::kBadPadding);
    EXPECT_EQ(r.consumed, 0u);
  }
  EXPECT_EQ(dec.error(), ErrorCode::kBadPadding);
  // More bytes change nothing: there is no frame boundary to resync on.
  const Bytes more = DataFrame(0, 4);
  EXPECT_EQ(dec.Append(more), more.size());
  EXPECT_EQ(dec.Next().error, ErrorCode::kBadPadding);
  // Reset discards the error and the bytes.
  dec.Reset();
  EXPECT_EQ(dec.error(), ErrorCode::kNone);
  EXPECT_EQ(dec.buffered(), 0u);
  EXPECT_EQ(dec.Next().status, DecodeStatus::kIncomplete);
  ASSERT_EQ(dec.Append(more), more.size());
  const DecodeResult r = dec.Next();
  ASSERT_EQ(r.status, DecodeStatus::kFrame);
  EXPECT_EQ(DataView(r.frame).sequence(), Sequence{4});
}

TEST(FrameDecoder, RefusesOverlongFrameAfterFourBytesOneByteAtATime) {
  Bytes storage(FrameDecoder::MinStorage(kMax));
  FrameDecoder dec(storage, kMax);
  Bytes header = DataFrame(0);
  StoreU32(header.data(), 0xFFFFFFF0u);
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(dec.Append(std::span(header).subspan(i, 1)), 1u);
    EXPECT_EQ(dec.Next().status, DecodeStatus::kIncomplete) << i;
  }
  ASSERT_EQ(dec.Append(std::span(header).subspan(3, 1)), 1u);
  EXPECT_EQ(dec.Next().error, ErrorCode::kFrameTooLong);
}

TEST(FrameDecoder, RefusesBadVersionOnceTheHeaderIsWhole) {
  Bytes storage(FrameDecoder::MinStorage(kMax));
  FrameDecoder dec(storage, kMax);
  Bytes frame = DataFrame(500);
  StoreU8(frame.data() + kVersionOffset, 7);
  ASSERT_EQ(dec.Append(std::span(frame).first(15)), 15u);
  EXPECT_EQ(dec.Next().status, DecodeStatus::kIncomplete);
  ASSERT_EQ(dec.Append(std::span(frame).subspan(15, 1)), 1u);
  EXPECT_EQ(dec.Next().error, ErrorCode::kUnsupportedVersion);
}

TEST(FrameDecoder, WritableSpanMovesThePartialFrameToTheFront) {
  Bytes storage(256);
  FrameDecoder dec(storage, 256);
  const Bytes a = DataFrame(16, 1);  // 48 bytes
  const Bytes b = DataFrame(40, 2);  // 72 bytes
  ASSERT_EQ(dec.Append(a), a.size());
  ASSERT_EQ(dec.Append(std::span(b).first(20)), 20u);
  ASSERT_EQ(dec.Next().status, DecodeStatus::kFrame);
  ASSERT_EQ(dec.Next().status, DecodeStatus::kIncomplete);
  EXPECT_EQ(dec.buffered(), 20u);

  const std::span<std::byte> space = dec.WritableSpan();
  EXPECT_EQ(space.data(), storage.data() + 20);
  EXPECT_EQ(space.size(), storage.size() - 20);
  EXPECT_TRUE(std::equal(b.begin(), b.begin() + 20, storage.begin()));
  EXPECT_EQ(dec.buffered(), 20u);

  std::memcpy(space.data(), b.data() + 20, b.size() - 20);
  dec.Commit(b.size() - 20);
  const DecodeResult r = dec.Next();
  ASSERT_EQ(r.status, DecodeStatus::kFrame);
  EXPECT_EQ(r.frame.bytes().data(), storage.data());
  EXPECT_EQ(DataView(r.frame).sequence(), Sequence{2});
}

TEST(FrameDecoder, WritableSpanRewindsWhenEverythingWasConsumed) {
  Bytes storage(128);
  FrameDecoder dec(storage, 128);
  const Bytes a = DataFrame(16);
  ASSERT_EQ(dec.Append(a), a.size());
  ASSERT_EQ(dec.Next().status, DecodeStatus::kFrame);
  const std::span<std::byte> space = dec.WritableSpan();
  EXPECT_EQ(space.data(), storage.data());
  EXPECT_EQ(space.size(), storage.size());
}

TEST(FrameDecoder, WritableSpanLeavesUnreadBytesInPlace) {
  Bytes storage(128);
  FrameDecoder dec(storage, 128);
  const Bytes a = DataFrame(16);
  ASSERT_EQ(dec.Append(std::span(a).first(10)), 10u);
  const std::span<std::byte> space = dec.WritableSpan();
  EXPECT_EQ(space.data(), storage.data() + 10);
  EXPECT_EQ(space.size(), 118u);
}

TEST(FrameDecoder, AppendTakesOnlyWhatFitsAndCommitIsClamped) {
  Bytes storage(64);
  FrameDecoder dec(storage, 64);
  const Bytes big = DataFrame(100);
  EXPECT_EQ(dec.Append(big), 64u);
  EXPECT_EQ(dec.buffered(), 64u);
  EXPECT_TRUE(dec.WritableSpan().empty());
  EXPECT_EQ(dec.Append(big), 0u);

  FrameDecoder other(storage, 64);
  (void)other.WritableSpan();
  other.Commit(1'000'000);
  EXPECT_EQ(other.buffered(), storage.size());
}

TEST(FrameDecoder, MinStorageIsThePaddedMaximum) {
  EXPECT_EQ(FrameDecoder::MinStorage(16), 16u);
  EXPECT_EQ(FrameDecoder::MinStorage(4093), 4096u);
  EXPECT_EQ(FrameDecoder::MinStorage(4096), 4096u);
  EXPECT_EQ(FrameDecoder::MinStorage(kDefaultMaxFrameLength),
            kDefaultMaxFrameLength);
}

TEST(FrameDecoder, MinStorageHoldsAMaximalFrameAfterCompaction) {
  for (const std::uint32_t max : {32u, 45u, 1000u, 4093u, 65536u}) {
    SCOPED_TRACE("max " + std::to_string(max));
    // A small frame first, so the maximal one starts mid-buffer and must be
    // moved to the front before it can complete.
    Bytes stream;
    Concat(stream, DataFrame(0, 1));
    Concat(stream, DataFrame(max - DataView::kFixedLength, 2));
    Concat(stream, DataFrame(0, 3));
    const Outcome want = DecodeOneShot(stream, max);
    ASSERT_EQ(want.frames.size(), 3u);
    ASSERT_EQ(want.frames[1].size(), max);
    for (const std::size_t chunk : {std::size_t{1}, std::size_t{7},
                                    std::size_t{max / 3 + 1}, stream.size()}) {
      Bytes storage(FrameDecoder::MinStorage(max));
      const Outcome got =
          DecodeStreaming(stream, storage, max, [&] { return chunk; });
      ExpectSameOutcome(want, got);
    }
  }
}

TEST(FrameDecoder, FrameOneByteOverTheLimitIsRefusedNotBuffered) {
  constexpr std::uint32_t kSmallMax = 64;
  Bytes storage(FrameDecoder::MinStorage(kSmallMax));
  FrameDecoder dec(storage, kSmallMax);
  const Bytes frame = DataFrame(kSmallMax - DataView::kFixedLength + 1);
  EXPECT_EQ(dec.Append(frame), storage.size());
  EXPECT_EQ(dec.Next().error, ErrorCode::kFrameTooLong);
}

}  // namespace
}  // namespace tachyon::protocol
