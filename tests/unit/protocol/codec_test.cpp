// Codec behaviour: every encoder/view pair round-trips, encoders stay inside
// their buffer and zero the padding, DecodeFrame applies its checks in the
// documented order, and every fault each Validate() looks for yields its
// exact ErrorCode.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "print_to.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::protocol {

namespace {

using Bytes = std::vector<std::byte>;
using Encoder = std::function<std::size_t(std::span<std::byte>)>;

constexpr std::uint32_t kMax = kDefaultMaxFrameLength;
constexpr std::size_t kScratch = 8192;

// Runs `encode` into a roomy buffer and returns exactly the bytes it wrote.
Bytes Encode(const Encoder& encode) {
  Bytes buf(kScratch, std::byte{0xEE});
  const std::size_t n = encode(buf);
  EXPECT_GT(n, 0u) << "encoder refused a buffer of " << kScratch << " bytes";
  buf.resize(n);
  return buf;
}

// Decodes `bytes`, which must be exactly one valid frame of `type`. Returns an
// empty view (and fails the test) otherwise, so callers ASSERT on empty().
FrameView Decode(std::span<const std::byte> bytes, MessageType type) {
  const DecodeResult r = DecodeFrame(bytes, kMax);
  if (r.status != DecodeStatus::kFrame) {
    ADD_FAILURE() << "DecodeFrame failed: " << ErrorCodeName(r.error);
    return {};
  }
  EXPECT_EQ(r.consumed, bytes.size());
  EXPECT_EQ(r.frame.padded_length(), bytes.size());
  EXPECT_EQ(r.frame.type(), type);
  EXPECT_EQ(r.frame.version(), kProtocolVersion);
  // The view borrows the input; it is not a copy.
  EXPECT_EQ(r.frame.bytes().data(), bytes.data());
  return r.frame;
}

void SetU8(Bytes& b, std::size_t off, std::uint8_t v) { StoreU8(&b[off], v); }
void SetU16(Bytes& b, std::size_t off, std::uint16_t v) {
  StoreU16(&b[off], v);
}
void SetU32(Bytes& b, std::size_t off, std::uint32_t v) {
  StoreU32(&b[off], v);
}
void SetU64(Bytes& b, std::size_t off, std::uint64_t v) {
  StoreU64(&b[off], v);
}

// Re-frames `frame` with unpadded length `length`: truncates or zero-extends
// the bytes, rewrites the length field and keeps the padding zero.
Bytes WithLength(const Bytes& frame, std::size_t length) {
  Bytes out(PaddedLength(length), std::byte{0});
  std::copy_n(frame.begin(), std::min(frame.size(), length), out.begin());
  SetU32(out, kLengthOffset, static_cast<std::uint32_t>(length));
  return out;
}

// ---------------------------------------------------------------------------
// Valid frames of every type, used as the base of the malformed cases.

Bytes ValidLogon() {
  return Encode([](std::span<std::byte> out) {
    return EncodeLogon(out, {.min_version = 1,
                             .max_version = 3,
                             .heartbeat_interval_ms = 1000,
                             .token = "secret",
                             .client_name = "md-feed-1"});
  });
}
Bytes ValidLogonAck() {
  return Encode([](std::span<std::byte> out) {
    return EncodeLogonAck(out, {.version = 1,
                                .heartbeat_interval_ms = 500,
                                .session_id = SessionId{77},
                                .max_frame_length = 65536});
  });
}
Bytes ValidError(bool fatal = false) {
  return Encode([fatal](std::span<std::byte> out) {
    return EncodeError(out, {.code = ErrorCode::kUnknownStream,
                             .fatal = fatal,
                             .stream_id = StreamId{9},
                             .context = 12,
                             .text = "no such stream"});
  });
}
Bytes ValidLogonReject() {
  return Encode([](std::span<std::byte> out) {
    return EncodeLogonReject(out, {.code = ErrorCode::kNotAuthorized,
                                   .stream_id = StreamId{0},
                                   .text = "bad token"});
  });
}
Bytes ValidHeartbeat() {
  return Encode([](std::span<std::byte> out) {
    return EncodeHeartbeat(out, 1'700'000'000'000'000'000);
  });
}
Bytes ValidLogout() {
  return Encode([](std::span<std::byte> out) {
    return EncodeLogout(out, ErrorCode::kShuttingDown);
  });
}
Bytes ValidOpenStream() {
  return Encode([](std::span<std::byte> out) {
    return EncodeOpenStream(out, 5, "md.eq.AAPL");
  });
}
Bytes ValidOpenStreamAck() {
  return Encode([](std::span<std::byte> out) {
    return EncodeOpenStreamAck(out, {.stream_id = StreamId{3},
                                     .id = 5,
                                     .next_sequence = Sequence{10},
                                     .name = "md.eq.AAPL"});
  });
}
Bytes ValidSubscribeAck() {
  return Encode([](std::span<std::byte> out) {
    return EncodeSubscribeAck(out, {.stream_id = StreamId{3},
                                    .id = 1,
                                    .next_sequence = Sequence{1},
                                    .name = "md.eq.AAPL"});
  });
}
Bytes ValidSubscribe(StartMode mode = StartMode::kSequence) {
  return Encode([mode](std::span<std::byte> out) {
    return EncodeSubscribe(out, {.subscription_id = SubscriptionId{1},
                                 .start = mode,
                                 .start_sequence = Sequence{1000},
                                 .name = "md.eq.*"});
  });
}
Bytes ValidUnsubscribe() {
  return Encode([](std::span<std::byte> out) {
    return EncodeUnsubscribe(out, SubscriptionId{1});
  });
}
// UDP_SUBSCRIBE: id 4, 127.0.0.1:9000, name "md.eq.AAPL" (10), length 42.
Bytes ValidUdpSubscribe() {
  return Encode([](std::span<std::byte> out) {
    return EncodeUdpSubscribe(out, {.subscription_id = SubscriptionId{4},
                                    .address = {127, 0, 0, 1},
                                    .port = 9000,
                                    .name = "md.eq.AAPL"});
  });
}
Bytes ValidGap() {
  return Encode([](std::span<std::byte> out) {
    return EncodeGap(out, StreamId{3}, Sequence{5}, Sequence{9});
  });
}
Bytes ValidPublish() {
  return Encode([](std::span<std::byte> out) {
    return EncodePublish(out, StreamId{3}, 42, AsBytes("hello"),
                         AckMode::kRequested);
  });
}
Bytes ValidPublishAck(ErrorCode status = ErrorCode::kNone) {
  return Encode([status](std::span<std::byte> out) {
    return EncodePublishAck(out, {.stream_id = StreamId{3},
                                  .correlation_id = 42,
                                  .sequence = Sequence{11},
                                  .status = status});
  });
}
Bytes ValidData() {
  return Encode([](std::span<std::byte> out) {
    return EncodeData(out, StreamId{3}, Sequence{11}, 123456789,
                      AsBytes("payload!x"));
  });
}
Bytes ValidRequest() {
  return Encode([](std::span<std::byte> out) {
    return EncodeRequest(out, {.correlation_id = 7,
                               .service_id = 12,
                               .timeout_ms = 250,
                               .payload = AsBytes("req")});
  });
}
Bytes ValidResponse() {
  return Encode([](std::span<std::byte> out) {
    return EncodeResponse(out, {.correlation_id = 7,
                                .service_id = 12,
                                .status = ResponseStatus::kOk,
                                .payload = AsBytes("resp")});
  });
}
// SERVICE_LOOKUP: correlation 8, name "pricing" (7), length 39.
Bytes ValidServiceLookup() {
  return Encode([](std::span<std::byte> out) {
    return EncodeServiceLookup(out, {.correlation_id = 8, .name = "pricing"});
  });
}
Bytes ValidServiceLookupAck() {
  return Encode([](std::span<std::byte> out) {
    return EncodeServiceLookupAck(out, {.correlation_id = 8, .service_id = 12});
  });
}

// ---------------------------------------------------------------------------
// Round trips: encode -> DecodeFrame -> every accessor equals its input.

TEST(CodecRoundTrip, LogonFieldsSurvive) {
  const Bytes b = ValidLogon();
  EXPECT_EQ(b.size(), PaddedLength(32 + 6 + 9));
  const FrameView f = Decode(b, MessageType::kLogon);
  ASSERT_FALSE(f.empty());
  const LogonView v(f);
  EXPECT_EQ(v.length(), 32u + 6 + 9);
  EXPECT_EQ(v.flags(), 0);
  EXPECT_EQ(v.stream_id(), StreamId{0});
  EXPECT_EQ(v.min_version(), 1);
  EXPECT_EQ(v.max_version(), 3);
  EXPECT_EQ(v.heartbeat_interval_ms(), 1000u);
  EXPECT_EQ(v.token(), "secret");
  EXPECT_EQ(v.client_name(), "md-feed-1");
}

TEST(CodecRoundTrip, LogonWithEmptyAndMaximalFields) {
  const std::string max_token(kMaxLogonFieldLength, 't');
  for (const std::string_view token : {std::string_view{}, {max_token}}) {
    const Bytes b = Encode([&](std::span<std::byte> out) {
      return EncodeLogon(out, {.token = token, .client_name = ""});
    });
    const FrameView f = Decode(b, MessageType::kLogon);
    ASSERT_FALSE(f.empty());
    const LogonView v(f);
    EXPECT_EQ(v.min_version(), kProtocolVersion);
    EXPECT_EQ(v.max_version(), kProtocolVersion);
    EXPECT_EQ(v.token(), token);
    EXPECT_EQ(v.client_name(), "");
  }
}

TEST(CodecRoundTrip, LogonAckFieldsSurvive) {
  const Bytes b = ValidLogonAck();
  EXPECT_EQ(b.size(), 40u);
  const FrameView f = Decode(b, MessageType::kLogonAck);
  ASSERT_FALSE(f.empty());
  const LogonAckView v(f);
  EXPECT_EQ(v.negotiated_version(), 1);
  EXPECT_EQ(v.heartbeat_interval_ms(), 500u);
  EXPECT_EQ(v.session_id(), SessionId{77});
  EXPECT_EQ(v.max_frame_length(), 65536u);
}

TEST(CodecRoundTrip, ErrorFieldsSurviveFatalAndNot) {
  for (const bool fatal : {false, true}) {
    const Bytes b = ValidError(fatal);
    const FrameView f = Decode(b, MessageType::kError);
    ASSERT_FALSE(f.empty());
    const ErrorView v(f);
    EXPECT_EQ(v.code(), ErrorCode::kUnknownStream);
    EXPECT_EQ(v.fatal(), fatal);
    EXPECT_EQ(v.flags(), fatal ? kFlagFatal : 0);
    EXPECT_EQ(v.stream_id(), StreamId{9});
    EXPECT_EQ(v.context(), 12u);
    EXPECT_EQ(v.text(), "no such stream");
  }
}

TEST(CodecRoundTrip, ErrorTextIsTruncatedTo1024Bytes) {
  const std::string text(kMaxErrorTextLength + 100, 'x');
  const Bytes b = Encode([&](std::span<std::byte> out) {
    return EncodeError(
        out,
        {.code = ErrorCode::kInternal, .stream_id = StreamId{0}, .text = text});
  });
  EXPECT_EQ(b.size(), 32 + kMaxErrorTextLength);
  const FrameView f = Decode(b, MessageType::kError);
  ASSERT_FALSE(f.empty());
  EXPECT_EQ(ErrorView(f).text(),
            std::string_view(text).substr(0, kMaxErrorTextLength));
}

TEST(CodecRoundTrip, LogonRejectIsAlwaysFatalOnStreamZero) {
  // LOGON_REJECT ignores `fatal` and `stream_id`.
  const Bytes b = Encode([](std::span<std::byte> out) {
    return EncodeLogonReject(out, {.code = ErrorCode::kNotAuthorized,
                                   .fatal = false,
                                   .stream_id = StreamId{44},
                                   .context = 3,
                                   .text = "bad token"});
  });
  const FrameView f = Decode(b, MessageType::kLogonReject);
  ASSERT_FALSE(f.empty());
  const LogonRejectView v(f);
  EXPECT_EQ(v.code(), ErrorCode::kNotAuthorized);
  EXPECT_TRUE(v.fatal());
  EXPECT_EQ(v.flags(), 0);
  EXPECT_EQ(v.stream_id(), StreamId{0});
  EXPECT_EQ(v.context(), 3u);
  EXPECT_EQ(v.text(), "bad token");
}

TEST(CodecRoundTrip, HeartbeatFieldsSurvive) {
  for (const std::int64_t ts : {std::int64_t{0}, std::int64_t{-1},
                                std::int64_t{1'700'000'000'000'000'000}}) {
    const Bytes b = Encode(
        [ts](std::span<std::byte> out) { return EncodeHeartbeat(out, ts); });
    EXPECT_EQ(b.size(), 24u);
    const FrameView f = Decode(b, MessageType::kHeartbeat);
    ASSERT_FALSE(f.empty());
    EXPECT_EQ(HeartbeatView(f).timestamp_ns(), ts);
  }
}

TEST(CodecRoundTrip, LogoutFieldsSurvive) {
  const Bytes b = ValidLogout();
  EXPECT_EQ(b.size(), 24u);
  const FrameView f = Decode(b, MessageType::kLogout);
  ASSERT_FALSE(f.empty());
  EXPECT_EQ(LogoutView(f).reason(), ErrorCode::kShuttingDown);
}

TEST(CodecRoundTrip, OpenStreamFieldsSurvive) {
  const Bytes b = ValidOpenStream();
  const FrameView f = Decode(b, MessageType::kOpenStream);
  ASSERT_FALSE(f.empty());
  const OpenStreamView v(f);
  EXPECT_EQ(v.request_id(), 5u);
  EXPECT_EQ(v.name(), "md.eq.AAPL");
}

TEST(CodecRoundTrip, OpenStreamAckFieldsSurvive) {
  const Bytes b = ValidOpenStreamAck();
  const FrameView f = Decode(b, MessageType::kOpenStreamAck);
  ASSERT_FALSE(f.empty());
  const OpenStreamAckView v(f);
  EXPECT_EQ(v.stream_id(), StreamId{3});
  EXPECT_EQ(v.id(), 5u);
  EXPECT_EQ(v.next_sequence(), Sequence{10});
  EXPECT_EQ(v.name(), "md.eq.AAPL");
}

TEST(CodecRoundTrip, SubscribeAckForPatternHasStreamZero) {
  const Bytes b = Encode([](std::span<std::byte> out) {
    return EncodeSubscribeAck(out, {.stream_id = StreamId{0},
                                    .id = 2,
                                    .next_sequence = Sequence{0},
                                    .name = "md.*"});
  });
  const FrameView f = Decode(b, MessageType::kSubscribeAck);
  ASSERT_FALSE(f.empty());
  const SubscribeAckView v(f);
  EXPECT_EQ(v.stream_id(), StreamId{0});
  EXPECT_EQ(v.id(), 2u);
  EXPECT_EQ(v.next_sequence(), Sequence{0});
  EXPECT_EQ(v.name(), "md.*");
}

TEST(CodecRoundTrip, LogonAckWithEpochIsTheFlaggedFortyEightByteForm) {
  const Bytes b = Encode([](std::span<std::byte> out) {
    return EncodeLogonAck(out, {.version = kEpochProtocolVersion,
                                .heartbeat_interval_ms = 500,
                                .session_id = SessionId{77},
                                .max_frame_length = 65536,
                                .instance_epoch = 0x8877665544332211});
  });
  ASSERT_EQ(b.size(), 48u);
  const FrameView f = Decode(b, MessageType::kLogonAck);
  ASSERT_FALSE(f.empty());
  const LogonAckView v(f);
  EXPECT_EQ(v.flags(), kFlagEpoch);
  EXPECT_TRUE(v.has_epoch());
  EXPECT_EQ(v.instance_epoch(), 0x8877665544332211u);
  EXPECT_EQ(v.negotiated_version(), 2);
  EXPECT_EQ(v.session_id(), SessionId{77});
  EXPECT_EQ(LoadU64(b.data() + 40), 0x8877665544332211u);
  // Without an epoch: the version-1 form, byte for byte what it was.
  const Bytes v1 = ValidLogonAck();
  const LogonAckView old(Decode(v1, MessageType::kLogonAck));
  EXPECT_FALSE(old.has_epoch());
  EXPECT_EQ(old.instance_epoch(), 0u);
}

TEST(CodecRoundTrip, SubscribeAckWithEpochMovesTheNameBehindIt) {
  for (const StreamId stream : {StreamId{7}, StreamId{0}}) {
    const std::string_view name = stream.value() == 0 ? "md.*" : "md.eq.AAPL";
    const Bytes b = Encode([&](std::span<std::byte> out) {
      return EncodeSubscribeAck(out, {.stream_id = stream,
                                      .id = 2,
                                      .next_sequence = Sequence{0},
                                      .name = name,
                                      .instance_epoch = 42});
    });
    EXPECT_EQ(b.size(), PaddedLength(40 + name.size()));
    const FrameView f = Decode(b, MessageType::kSubscribeAck);
    ASSERT_FALSE(f.empty());
    const SubscribeAckView v(f);
    EXPECT_TRUE(v.has_epoch());
    EXPECT_EQ(v.instance_epoch(), 42u);
    EXPECT_EQ(v.name(), name);
    EXPECT_EQ(AsText(std::span(b).subspan(40, name.size())), name);
  }
}

TEST(CodecRoundTrip, OpenStreamAckHasNoEpochForm) {
  std::array<std::byte, 128> buf{};
  EXPECT_EQ(EncodeOpenStreamAck(buf, {.stream_id = StreamId{3},
                                      .id = 5,
                                      .next_sequence = Sequence{10},
                                      .name = "md",
                                      .instance_epoch = 42}),
            0u);
  Bytes b = ValidOpenStreamAck();
  SetU16(b, kFlagsOffset, kFlagEpoch);
  EXPECT_EQ(DecodeFrame(b, kMax).error, ErrorCode::kBadField);
}

TEST(CodecRoundTrip, SubscribeFieldsSurviveForEveryStartMode) {
  for (const StartMode mode :
       {StartMode::kLatest, StartMode::kEarliest, StartMode::kSequence}) {
    const Bytes b = ValidSubscribe(mode);
    const FrameView f = Decode(b, MessageType::kSubscribe);
    ASSERT_FALSE(f.empty());
    const SubscribeView v(f);
    EXPECT_EQ(v.subscription_id(), SubscriptionId{1});
    EXPECT_EQ(v.start_mode(), mode);
    // The start sequence is only carried for StartMode::kSequence.
    EXPECT_EQ(v.start_sequence(),
              mode == StartMode::kSequence ? Sequence{1000} : Sequence{0});
    EXPECT_EQ(v.name(), "md.eq.*");
    EXPECT_TRUE(v.is_pattern());
  }
}

TEST(CodecRoundTrip, UnsubscribeFieldsSurvive) {
  const Bytes b = ValidUnsubscribe();
  EXPECT_EQ(b.size(), 24u);
  const FrameView f = Decode(b, MessageType::kUnsubscribe);
  ASSERT_FALSE(f.empty());
  EXPECT_EQ(UnsubscribeView(f).subscription_id(), SubscriptionId{1});
}

TEST(CodecRoundTrip, UdpSubscribeFieldsSurvive) {
  const Bytes b = ValidUdpSubscribe();
  EXPECT_EQ(b.size(), 48u);
  const FrameView f = Decode(b, MessageType::kUdpSubscribe);
  ASSERT_FALSE(f.empty());
  const UdpSubscribeView v(f);
  EXPECT_EQ(v.length(), 42u);
  EXPECT_EQ(v.subscription_id(), SubscriptionId{4});
  EXPECT_EQ(v.port(), 9000);
  EXPECT_EQ(v.address()[0], std::byte{127});
  EXPECT_EQ(v.address()[3], std::byte{1});
  EXPECT_FALSE(v.address_is_peer());
  EXPECT_EQ(v.name(), "md.eq.AAPL");
  // The address is stored as sockaddr_in's sin_addr would hold it.
  EXPECT_EQ(std::to_integer<int>(b[24]), 127);
  EXPECT_EQ(std::to_integer<int>(b[27]), 1);
}

TEST(CodecRoundTrip, UdpSubscribeZeroAddressMeansThePeer) {
  std::array<std::byte, 64> buf{};
  const std::size_t n = EncodeUdpSubscribe(
      buf, {.subscription_id = SubscriptionId{1}, .port = 1, .name = "s"});
  ASSERT_EQ(n, 40u);
  const FrameView f =
      Decode(std::span(buf).first(n), MessageType::kUdpSubscribe);
  ASSERT_FALSE(f.empty());
  EXPECT_TRUE(UdpSubscribeView(f).address_is_peer());
}

TEST(CodecRoundTrip, GapFieldsSurvive) {
  const Bytes b = ValidGap();
  EXPECT_EQ(b.size(), 32u);
  const FrameView f = Decode(b, MessageType::kGap);
  ASSERT_FALSE(f.empty());
  const GapView v(f);
  EXPECT_EQ(v.stream_id(), StreamId{3});
  EXPECT_EQ(v.from_sequence(), Sequence{5});
  EXPECT_EQ(v.to_sequence(), Sequence{9});
}

TEST(CodecRoundTrip, PublishFieldsSurviveWithAndWithoutAck) {
  for (const AckMode ack : {AckMode::kNone, AckMode::kRequested}) {
    const Bytes b = Encode([ack](std::span<std::byte> out) {
      return EncodePublish(out, StreamId{3}, 42, AsBytes("hello"), ack);
    });
    EXPECT_EQ(b.size(), PaddedLength(24 + 5));
    const FrameView f = Decode(b, MessageType::kPublish);
    ASSERT_FALSE(f.empty());
    const PublishView v(f);
    EXPECT_EQ(v.stream_id(), StreamId{3});
    EXPECT_EQ(v.correlation_id(), 42u);
    EXPECT_EQ(v.ack_requested(), ack == AckMode::kRequested);
    EXPECT_EQ(AsText(v.payload()), "hello");
    EXPECT_EQ(v.payload().data(), b.data() + 24);
  }
}

TEST(CodecRoundTrip, PublishWithEmptyPayload) {
  const Bytes b = Encode([](std::span<std::byte> out) {
    return EncodePublish(out, StreamId{1}, 0, {});
  });
  EXPECT_EQ(b.size(), 24u);
  const FrameView f = Decode(b, MessageType::kPublish);
  ASSERT_FALSE(f.empty());
  EXPECT_TRUE(PublishView(f).payload().empty());
  EXPECT_FALSE(PublishView(f).ack_requested());
}

TEST(CodecRoundTrip, BeginPublishReturnsPayloadAreaInPlace) {
  Bytes buf(64, std::byte{0xEE});
  const std::span<std::byte> body =
      BeginPublish(buf, StreamId{8}, 99, 3, AckMode::kNone);
  ASSERT_EQ(body.size(), 3u);
  EXPECT_EQ(body.data(), buf.data() + PublishView::kFixedLength);
  std::copy_n(AsBytes("abc").begin(), 3, body.begin());
  const FrameView f =
      Decode(std::span(buf).first(PaddedLength(27)), MessageType::kPublish);
  ASSERT_FALSE(f.empty());
  EXPECT_EQ(PublishView(f).correlation_id(), 99u);
  EXPECT_EQ(AsText(PublishView(f).payload()), "abc");
}

TEST(CodecRoundTrip, PublishAckAcceptedAndRefused) {
  {
    const Bytes b = ValidPublishAck(ErrorCode::kNone);
    const FrameView f = Decode(b, MessageType::kPublishAck);
    ASSERT_FALSE(f.empty());
    const PublishAckView v(f);
    EXPECT_EQ(v.stream_id(), StreamId{3});
    EXPECT_EQ(v.correlation_id(), 42u);
    EXPECT_EQ(v.sequence(), Sequence{11});
    EXPECT_EQ(v.status(), ErrorCode::kNone);
  }
  {
    // A refusal carries no sequence even if the caller supplied one.
    const Bytes b = ValidPublishAck(ErrorCode::kBackPressured);
    const FrameView f = Decode(b, MessageType::kPublishAck);
    ASSERT_FALSE(f.empty());
    const PublishAckView v(f);
    EXPECT_EQ(v.sequence(), Sequence{0});
    EXPECT_EQ(v.status(), ErrorCode::kBackPressured);
  }
}

TEST(CodecRoundTrip, DataFieldsSurvive) {
  const Bytes b = ValidData();
  EXPECT_EQ(b.size(), PaddedLength(32 + 9));
  const FrameView f = Decode(b, MessageType::kData);
  ASSERT_FALSE(f.empty());
  const DataView v(f);
  EXPECT_EQ(v.stream_id(), StreamId{3});
  EXPECT_EQ(v.sequence(), Sequence{11});
  EXPECT_EQ(v.timestamp_ns(), 123456789);
  EXPECT_EQ(AsText(v.payload()), "payload!x");
  EXPECT_EQ(v.payload().data(), b.data() + 32);
}

TEST(CodecRoundTrip, BeginDataReturnsPayloadAreaInPlace) {
  Bytes buf(64, std::byte{0xEE});
  const std::span<std::byte> body =
      BeginData(buf, StreamId{4}, Sequence{1}, -5, 0);
  ASSERT_NE(body.data(), nullptr);
  EXPECT_TRUE(body.empty());
  const FrameView f = Decode(std::span(buf).first(32), MessageType::kData);
  ASSERT_FALSE(f.empty());
  EXPECT_EQ(DataView(f).timestamp_ns(), -5);
  EXPECT_TRUE(DataView(f).payload().empty());
}

TEST(CodecRoundTrip, RequestFieldsSurvive) {
  const Bytes b = ValidRequest();
  const FrameView f = Decode(b, MessageType::kRequest);
  ASSERT_FALSE(f.empty());
  const RequestView v(f);
  EXPECT_EQ(v.correlation_id(), 7u);
  EXPECT_EQ(v.service_id(), 12u);
  EXPECT_EQ(v.timeout_ms(), 250u);
  EXPECT_EQ(AsText(v.payload()), "req");
}

TEST(CodecRoundTrip, ResponseFieldsSurviveForEveryStatus) {
  for (std::uint16_t s = 0; s <= kMaxResponseStatus; ++s) {
    const auto status = static_cast<ResponseStatus>(s);
    const Bytes b = Encode([status](std::span<std::byte> out) {
      return EncodeResponse(out, {.correlation_id = 7,
                                  .service_id = 12,
                                  .status = status,
                                  .payload = AsBytes("resp")});
    });
    const FrameView f = Decode(b, MessageType::kResponse);
    ASSERT_FALSE(f.empty());
    const ResponseView v(f);
    EXPECT_EQ(v.correlation_id(), 7u);
    EXPECT_EQ(v.service_id(), 12u);
    EXPECT_EQ(v.status(), status);
    EXPECT_EQ(AsText(v.payload()), "resp");
  }
}

TEST(CodecRoundTrip, ResponseOverloadedIsTheHighestStatus) {
  EXPECT_EQ(kMaxResponseStatus,
            static_cast<std::uint16_t>(ResponseStatus::kOverloaded));
}

TEST(CodecRoundTrip, ServiceLookupFieldsSurvive) {
  const Bytes b = ValidServiceLookup();
  ASSERT_EQ(b.size(), 40u);
  EXPECT_EQ(LoadU32(&b[0]), 39u);
  EXPECT_EQ(LoadU16(&b[24]), 7u);
  const FrameView f = Decode(b, MessageType::kServiceLookup);
  ASSERT_FALSE(f.empty());
  const ServiceLookupView v(f);
  EXPECT_EQ(v.correlation_id(), 8u);
  EXPECT_EQ(v.name(), "pricing");
}

TEST(CodecRoundTrip, ServiceLookupAckFieldsSurviveFoundAndNot) {
  const Bytes b = ValidServiceLookupAck();
  ASSERT_EQ(b.size(), ServiceLookupAckView::kFixedLength);
  const FrameView f = Decode(b, MessageType::kServiceLookupAck);
  ASSERT_FALSE(f.empty());
  const ServiceLookupAckView v(f);
  EXPECT_EQ(v.correlation_id(), 8u);
  EXPECT_EQ(v.service_id(), 12u);
  const Bytes none = Encode([](std::span<std::byte> out) {
    return EncodeServiceLookupAck(out, {.correlation_id = 9});
  });
  const FrameView g = Decode(none, MessageType::kServiceLookupAck);
  ASSERT_FALSE(g.empty());
  EXPECT_EQ(ServiceLookupAckView(g).service_id(), 0u);
}

TEST(CodecRoundTrip, HeaderFieldsSitAtDocumentedOffsets) {
  const Bytes b = ValidData();
  EXPECT_EQ(LoadU32(&b[0]), 41u);
  EXPECT_EQ(LoadU8(&b[4]), kProtocolVersion);
  EXPECT_EQ(LoadU8(&b[5]), static_cast<std::uint8_t>(MessageType::kData));
  EXPECT_EQ(LoadU16(&b[6]), 0);
  EXPECT_EQ(LoadU32(&b[8]), 3u);
  EXPECT_EQ(LoadU32(&b[12]), 0u);
  EXPECT_EQ(LoadU64(&b[16]), 11u);
  EXPECT_EQ(LoadI64(&b[24]), 123456789);
}

// ---------------------------------------------------------------------------
// Encoder buffer discipline: every encoder, with a variable part of size k.

struct EncoderCase {
  std::string name;
  std::function<std::size_t(std::span<std::byte>, std::size_t k)> encode;
  bool variable;  // whether k changes the frame length
};

std::vector<EncoderCase> AllEncoders() {
  auto text = [](std::size_t k) { return std::string(k, 'n'); };
  auto name = [](std::size_t k) { return std::string(k + 1, 'a'); };
  return {
      {"Logon",
       [=](std::span<std::byte> out, std::size_t k) {
         const std::string t = text(k);
         const std::string c = text(k / 2);
         return EncodeLogon(out, {.token = t, .client_name = c});
       },
       true},
      {"LogonAck",
       [](std::span<std::byte> out, std::size_t) {
         return EncodeLogonAck(
             out, {.heartbeat_interval_ms = 1, .session_id = SessionId{1}});
       },
       false},
      {"LogonReject",
       [=](std::span<std::byte> out, std::size_t k) {
         const std::string t = text(k);
         return EncodeLogonReject(out, {.code = ErrorCode::kNotAuthorized,
                                        .stream_id = StreamId{0},
                                        .text = t});
       },
       true},
      {"Error",
       [=](std::span<std::byte> out, std::size_t k) {
         const std::string t = text(k);
         return EncodeError(out, {.code = ErrorCode::kInternal,
                                  .stream_id = StreamId{0},
                                  .text = t});
       },
       true},
      {"Heartbeat",
       [](std::span<std::byte> out, std::size_t) {
         return EncodeHeartbeat(out, 1);
       },
       false},
      {"Logout",
       [](std::span<std::byte> out, std::size_t) {
         return EncodeLogout(out, ErrorCode::kNone);
       },
       false},
      {"OpenStream",
       [=](std::span<std::byte> out, std::size_t k) {
         return EncodeOpenStream(out, 1, name(k));
       },
       true},
      {"OpenStreamAck",
       [=](std::span<std::byte> out, std::size_t k) {
         const std::string n = name(k);
         return EncodeOpenStreamAck(out, {.stream_id = StreamId{1},
                                          .id = 1,
                                          .next_sequence = Sequence{1},
                                          .name = n});
       },
       true},
      {"SubscribeAck",
       [=](std::span<std::byte> out, std::size_t k) {
         const std::string n = name(k);
         return EncodeSubscribeAck(out, {.stream_id = StreamId{1},
                                         .id = 1,
                                         .next_sequence = Sequence{1},
                                         .name = n});
       },
       true},
      {"Subscribe",
       [=](std::span<std::byte> out, std::size_t k) {
         const std::string n = name(k);
         return EncodeSubscribe(out, {.subscription_id = SubscriptionId{1},
                                      .start = StartMode::kLatest,
                                      .start_sequence = Sequence{0},
                                      .name = n});
       },
       true},
      {"Unsubscribe",
       [](std::span<std::byte> out, std::size_t) {
         return EncodeUnsubscribe(out, SubscriptionId{1});
       },
       false},
      {"UdpSubscribe",
       [=](std::span<std::byte> out, std::size_t k) {
         const std::string n = name(k);
         return EncodeUdpSubscribe(out, {.subscription_id = SubscriptionId{1},
                                         .address = {10, 0, 0, 1},
                                         .port = 7401,
                                         .name = n});
       },
       true},
      {"Gap",
       [](std::span<std::byte> out, std::size_t) {
         return EncodeGap(out, StreamId{1}, Sequence{1}, Sequence{2});
       },
       false},
      {"Publish",
       [=](std::span<std::byte> out, std::size_t k) {
         const std::string p = text(k);
         return EncodePublish(out, StreamId{1}, 1, AsBytes(p));
       },
       true},
      {"BeginPublish",
       [](std::span<std::byte> out, std::size_t k) -> std::size_t {
         const std::span<std::byte> body =
             BeginPublish(out, StreamId{1}, 1, k, AckMode::kRequested);
         if (body.data() == nullptr) return 0;
         std::fill(body.begin(), body.end(), std::byte{'p'});
         return PaddedLength(PublishView::kFixedLength + k);
       },
       true},
      {"PublishAck",
       [](std::span<std::byte> out, std::size_t) {
         return EncodePublishAck(
             out, {.stream_id = StreamId{1}, .sequence = Sequence{1}});
       },
       false},
      {"Data",
       [=](std::span<std::byte> out, std::size_t k) {
         const std::string p = text(k);
         return EncodeData(out, StreamId{1}, Sequence{1}, 0, AsBytes(p));
       },
       true},
      {"BeginData",
       [](std::span<std::byte> out, std::size_t k) -> std::size_t {
         const std::span<std::byte> body =
             BeginData(out, StreamId{1}, Sequence{1}, 0, k);
         if (body.data() == nullptr) return 0;
         std::fill(body.begin(), body.end(), std::byte{'d'});
         return PaddedLength(DataView::kFixedLength + k);
       },
       true},
      {"Request",
       [=](std::span<std::byte> out, std::size_t k) {
         const std::string p = text(k);
         return EncodeRequest(out, {.service_id = 1, .payload = AsBytes(p)});
       },
       true},
      {"Response",
       [=](std::span<std::byte> out, std::size_t k) {
         const std::string p = text(k);
         return EncodeResponse(out, {.service_id = 1, .payload = AsBytes(p)});
       },
       true},
      {"ServiceLookup",
       [=](std::span<std::byte> out, std::size_t k) {
         const std::string n = name(k);
         return EncodeServiceLookup(out, {.correlation_id = 1, .name = n});
       },
       true},
      {"ServiceLookupAck",
       [](std::span<std::byte> out, std::size_t) {
         return EncodeServiceLookupAck(out,
                                       {.correlation_id = 1, .service_id = 1});
       },
       false},
  };
}

TEST(EncoderBuffer, ReturnsZeroWhenTooSmallAndNeverWritesOutsideIt) {
  constexpr std::size_t kGuard = 32;
  constexpr std::byte kFill{0xA5};
  for (const EncoderCase& c : AllEncoders()) {
    for (const std::size_t k : {0u, 5u, 8u, 13u}) {
      SCOPED_TRACE(c.name + " k=" + std::to_string(k));
      Bytes roomy(kScratch);
      const std::size_t need = c.encode(roomy, k);
      ASSERT_GT(need, 0u);
      ASSERT_EQ(need % kFrameAlignment, 0u);
      for (std::size_t size = 0; size <= need; ++size) {
        Bytes buf(kGuard + size + kGuard, kFill);
        const std::size_t n = c.encode(std::span(buf).subspan(kGuard, size), k);
        EXPECT_EQ(n, size == need ? need : 0) << "size=" << size;
        const bool guards_intact =
            std::all_of(buf.begin(), buf.begin() + kGuard,
                        [&](std::byte x) { return x == kFill; }) &&
            std::all_of(buf.end() - kGuard, buf.end(),
                        [&](std::byte x) { return x == kFill; });
        EXPECT_TRUE(guards_intact) << "size=" << size;
      }
    }
  }
}

TEST(EncoderBuffer, PaddingIsZeroAndFramesAreAligned) {
  for (const EncoderCase& c : AllEncoders()) {
    for (std::size_t k = 0; k < (c.variable ? 17u : 1u); ++k) {
      SCOPED_TRACE(c.name + " k=" + std::to_string(k));
      Bytes buf(kScratch, std::byte{0xFF});
      const std::size_t n = c.encode(buf, k);
      ASSERT_GT(n, 0u);
      const std::uint32_t length = LoadU32(buf.data());
      EXPECT_EQ(n, PaddedLength(length));
      EXPECT_EQ(n % kFrameAlignment, 0u);
      for (std::size_t i = length; i < n; ++i) {
        EXPECT_EQ(buf[i], std::byte{0}) << "padding byte " << i;
      }
      // And the result is a frame DecodeFrame accepts whole.
      const DecodeResult r = DecodeFrame(std::span(buf).first(n), kMax);
      EXPECT_EQ(r.status, DecodeStatus::kFrame) << ErrorCodeName(r.error);
      EXPECT_EQ(r.consumed, n);
    }
  }
}

TEST(EncoderBuffer, RefusesFieldsLongerThanTheWireAllows) {
  Bytes buf(kScratch);
  const std::string long_field(256, 'a');
  auto logon = [](std::string_view token, std::string_view client_name) {
    return LogonFields{.min_version = 1,
                       .max_version = 1,
                       .heartbeat_interval_ms = 0,
                       .token = token,
                       .client_name = client_name};
  };
  auto ack = [](std::string_view name) {
    return StreamAckFields{.stream_id = StreamId{1},
                           .id = 1,
                           .next_sequence = Sequence{1},
                           .name = name};
  };
  auto subscribe = [](std::string_view name) {
    return SubscribeFields{.subscription_id = SubscriptionId{1},
                           .start = StartMode::kLatest,
                           .start_sequence = Sequence{0},
                           .name = name};
  };
  EXPECT_EQ(EncodeLogon(buf, logon(long_field, "")), 0u);
  EXPECT_EQ(EncodeLogon(buf, logon("", long_field)), 0u);
  EXPECT_EQ(EncodeOpenStream(buf, 1, long_field), 0u);
  EXPECT_EQ(EncodeOpenStream(buf, 1, ""), 0u);
  EXPECT_EQ(EncodeOpenStreamAck(buf, ack("")), 0u);
  EXPECT_EQ(EncodeSubscribeAck(buf, ack(long_field)), 0u);
  EXPECT_EQ(EncodeSubscribe(buf, subscribe("")), 0u);
  EXPECT_EQ(EncodeSubscribe(buf, subscribe(long_field)), 0u);
  // 255 is the limit itself, and fits.
  const std::string_view max_field(long_field.data(), kMaxNameLength);
  EXPECT_GT(EncodeOpenStream(buf, 1, max_field), 0u);
  EXPECT_GT(EncodeOpenStreamAck(buf, ack(max_field)), 0u);
  EXPECT_GT(EncodeSubscribe(buf, subscribe(max_field)), 0u);
  EXPECT_GT(EncodeLogon(buf, logon(max_field, max_field)), 0u);
  // Service names: 1..64 bytes.
  const std::string_view service_max(long_field.data(), kMaxServiceNameLength);
  const std::string_view service_over(long_field.data(),
                                      kMaxServiceNameLength + 1);
  EXPECT_EQ(EncodeServiceLookup(buf, {.name = ""}), 0u);
  EXPECT_EQ(EncodeServiceLookup(buf, {.name = service_over}), 0u);
  EXPECT_GT(EncodeServiceLookup(buf, {.name = service_max}), 0u);
}

TEST(EncoderBuffer, RefusesFramesAboveTheCeilingWhateverTheBuffer) {
  Bytes big(PaddedLength(kMaxFrameLengthCeiling) + 64);
  const std::size_t at_ceiling =
      kMaxFrameLengthCeiling - DataView::kFixedLength;
  EXPECT_EQ(BeginData(big, StreamId{1}, Sequence{1}, 0, at_ceiling + 1).data(),
            nullptr);
  EXPECT_EQ(BeginPublish(big, StreamId{1}, 1,
                         kMaxFrameLengthCeiling - PublishView::kFixedLength + 1,
                         AckMode::kNone)
                .data(),
            nullptr);
  const std::span<std::byte> body =
      BeginData(big, StreamId{1}, Sequence{1}, 0, at_ceiling);
  EXPECT_EQ(body.size(), at_ceiling);
  EXPECT_EQ(LoadU32(big.data()), kMaxFrameLengthCeiling);
}

// ---------------------------------------------------------------------------
// DecodeFrame check order (frame.h steps 1-7).

Bytes Header(std::uint32_t length, std::uint8_t version, std::uint8_t type,
             std::uint32_t reserved = 0) {
  Bytes b(kHeaderLength, std::byte{0});
  SetU32(b, kLengthOffset, length);
  SetU8(b, kVersionOffset, version);
  SetU8(b, kTypeOffset, type);
  SetU32(b, kHeaderReservedOffset, reserved);
  return b;
}

constexpr auto kDataType = static_cast<std::uint8_t>(MessageType::kData);

DecodeResult DecodePrefix(const Bytes& b, std::size_t n,
                          std::uint32_t max = kMax) {
  return DecodeFrame(std::span(b).first(n), max);
}

TEST(DecodeOrder, NeedsFourBytesBeforeSayingAnything) {
  // Even garbage is only "incomplete" until the length field is whole.
  const Bytes b = Header(3, 9, 0xFF, 1);
  for (std::size_t n = 0; n < 4; ++n) {
    const DecodeResult r = DecodePrefix(b, n);
    EXPECT_EQ(r.status, DecodeStatus::kIncomplete) << n;
    EXPECT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.consumed, 0u);
  }
}

TEST(DecodeOrder, DropsFrameShorterThanHeaderAfterFourBytes) {
  for (const std::uint32_t length : {0u, 1u, 8u, 15u}) {
    Bytes b = Header(length, 9, 0xFF, 1);  // the rest is bad too
    const DecodeResult r = DecodePrefix(b, 4);
    EXPECT_EQ(r.status, DecodeStatus::kError);
    EXPECT_EQ(r.error, ErrorCode::kFrameTooShort) << length;
    EXPECT_EQ(DecodePrefix(b, b.size()).error, ErrorCode::kFrameTooShort);
  }
}

TEST(DecodeOrder, RefusesOverlongFrameAfterOnlyFourBytes) {
  for (const std::uint32_t length : {kMax + 1, 0x7FFFFFFFu, 0xFFFFFFFFu}) {
    const Bytes b = Header(length, 9, 0xFF, 1);
    const DecodeResult r = DecodePrefix(b, 4);
    EXPECT_EQ(r.status, DecodeStatus::kError);
    EXPECT_EQ(r.error, ErrorCode::kFrameTooLong) << length;
  }
}

TEST(DecodeOrder, FrameTooLongUsesTheCallersLimit) {
  const Bytes b = ValidData();  // length 41
  EXPECT_EQ(DecodeFrame(b, 40).error, ErrorCode::kFrameTooLong);
  EXPECT_EQ(DecodeFrame(b, 41).status, DecodeStatus::kFrame);
  // A limit below the header length still reports short frames as short.
  EXPECT_EQ(DecodePrefix(Header(15, 1, kDataType), 4, 8).error,
            ErrorCode::kFrameTooShort);
}

TEST(DecodeOrder, LengthAtTheLimitWaitsForTheRest) {
  const Bytes b = Header(kMax, 1, kDataType);
  for (std::size_t n = 4; n <= kHeaderLength; ++n) {
    EXPECT_EQ(DecodePrefix(b, n).status, DecodeStatus::kIncomplete) << n;
  }
}

TEST(DecodeOrder, HeaderFieldsAreNotJudgedBeforeSixteenBytes) {
  const Bytes b = Header(64, 2, 0xFF, 1);
  for (std::size_t n = 4; n < kHeaderLength; ++n) {
    EXPECT_EQ(DecodePrefix(b, n).status, DecodeStatus::kIncomplete) << n;
  }
  EXPECT_EQ(DecodePrefix(b, kHeaderLength).error,
            ErrorCode::kUnsupportedVersion);
}

TEST(DecodeOrder, ReportsUnsupportedVersionBeforeTheBodyArrives) {
  for (int version = 0; version < 256; ++version) {
    if (version == kProtocolVersion) continue;
    const Bytes b = Header(4096, static_cast<std::uint8_t>(version), kDataType);
    const DecodeResult r = DecodePrefix(b, kHeaderLength);
    EXPECT_EQ(r.status, DecodeStatus::kError);
    EXPECT_EQ(r.error, ErrorCode::kUnsupportedVersion) << version;
  }
}

TEST(DecodeOrder, ReportsEveryUnknownTypeAfterSixteenBytes) {
  int unknown = 0;
  for (int type = 0; type < 256; ++type) {
    const auto raw = static_cast<std::uint8_t>(type);
    const Bytes b = Header(4096, 1, raw);
    const DecodeResult r = DecodePrefix(b, kHeaderLength);
    if (IsKnownMessageType(raw)) {
      EXPECT_EQ(r.status, DecodeStatus::kIncomplete) << type;
    } else {
      ++unknown;
      EXPECT_EQ(r.error, ErrorCode::kUnknownType) << type;
    }
  }
  EXPECT_EQ(unknown, 256 - 20);
}

TEST(DecodeOrder, VersionIsCheckedBeforeTypeAndTypeBeforeReserved) {
  EXPECT_EQ(DecodePrefix(Header(64, 2, 0xFF, 1), 16).error,
            ErrorCode::kUnsupportedVersion);
  EXPECT_EQ(DecodePrefix(Header(64, 1, 0xFF, 1), 16).error,
            ErrorCode::kUnknownType);
  EXPECT_EQ(DecodePrefix(Header(64, 1, kDataType, 1), 16).error,
            ErrorCode::kBadField);
}

TEST(DecodeOrder, WaitsForThePaddedLength) {
  const Bytes b = ValidData();  // length 41, padded 48
  for (std::size_t n = kHeaderLength; n < b.size(); ++n) {
    EXPECT_EQ(DecodePrefix(b, n).status, DecodeStatus::kIncomplete) << n;
  }
  EXPECT_EQ(DecodePrefix(b, b.size()).status, DecodeStatus::kFrame);
}

TEST(DecodeOrder, RejectsEveryNonZeroPaddingByte) {
  const Bytes good = ValidData();  // padding at 41..47
  for (std::size_t i = 41; i < good.size(); ++i) {
    Bytes b = good;
    b[i] = std::byte{0x80};
    EXPECT_EQ(DecodeFrame(b, kMax).error, ErrorCode::kBadPadding) << i;
  }
}

TEST(DecodeOrder, PaddingIsCheckedBeforeTheBody) {
  Bytes b = ValidData();
  SetU64(b, 16, 0);  // sequence 0: a body fault
  EXPECT_EQ(DecodeFrame(b, kMax).error, ErrorCode::kBadField);
  b[47] = std::byte{1};
  EXPECT_EQ(DecodeFrame(b, kMax).error, ErrorCode::kBadPadding);
}

TEST(DecodeOrder, ConsumesOneFrameAndIgnoresWhatFollows) {
  Bytes b = ValidData();
  const std::size_t first = b.size();
  b.insert(b.end(), {std::byte{0xFF}, std::byte{0xFF}, std::byte{0xFF}});
  const DecodeResult r = DecodeFrame(b, kMax);
  ASSERT_EQ(r.status, DecodeStatus::kFrame);
  EXPECT_EQ(r.consumed, first);
  EXPECT_EQ(r.frame.length(), 41u);
  EXPECT_EQ(r.frame.bytes().data(), b.data());
}

// ---------------------------------------------------------------------------
// Every body fault, by type: the exact code from DecodeFrame and from
// ValidateBody on the same bytes. Cases expecting kNone pin the boundaries.

struct MalformedCase {
  std::string name;
  Bytes bytes;
  ErrorCode expected;
};

void PrintTo(const MalformedCase& c, std::ostream* os) { *os << c.name; }

template <typename F>
Bytes Mutated(Bytes b, F&& mutate) {
  mutate(b);
  return b;
}

std::vector<MalformedCase> MalformedCases() {
  constexpr ErrorCode kLen = ErrorCode::kBadBodyLength;
  constexpr ErrorCode kField = ErrorCode::kBadField;
  constexpr ErrorCode kOk = ErrorCode::kNone;
  std::vector<MalformedCase> c;
  auto add = [&](std::string name, Bytes b, ErrorCode e) {
    c.push_back({std::move(name), std::move(b), e});
  };
  auto set16 = [](std::size_t off, std::uint16_t v) {
    return [=](Bytes& b) { SetU16(b, off, v); };
  };
  auto set32 = [](std::size_t off, std::uint32_t v) {
    return [=](Bytes& b) { SetU32(b, off, v); };
  };
  auto set64 = [](std::size_t off, std::uint64_t v) {
    return [=](Bytes& b) { SetU64(b, off, v); };
  };
  auto set8 = [](std::size_t off, std::uint8_t v) {
    return [=](Bytes& b) { SetU8(b, off, v); };
  };

  // LOGON: token "secret" (6), client name "md-feed-1" (9), length 47.
  const Bytes logon = ValidLogon();
  add("LogonShorterThanFixedPart", WithLength(logon, 28), kLen);
  add("LogonHeaderOnly", WithLength(logon, 16), kLen);
  add("LogonTokenLengthOverruns", Mutated(logon, set16(24, 7)), kLen);
  add("LogonNameLengthUnderruns", Mutated(logon, set16(26, 8)), kLen);
  add("LogonTrailingBytes", WithLength(logon, 48), kLen);
  add("LogonFlagsSet", Mutated(logon, set16(kFlagsOffset, 1)), kField);
  add("LogonStreamIdSet", Mutated(logon, set32(kStreamIdOffset, 1)), kField);
  add("LogonReservedSet", Mutated(logon, set32(28, 1)), kField);
  add("LogonMinVersionZero", Mutated(logon, set16(16, 0)), kField);
  add("LogonMaxBelowMin", Mutated(logon, set16(18, 0)), kField);
  add("LogonMinEqualsMax", Mutated(logon, set16(18, 1)), kOk);
  {
    // Consistent lengths, but a field longer than 255 bytes.
    Bytes token_256 = WithLength(logon, 32 + 256);
    SetU16(token_256, 24, 256);
    SetU16(token_256, 26, 0);
    add("LogonToken256Bytes", token_256, kField);
    Bytes name_256 = WithLength(logon, 32 + 256);
    SetU16(name_256, 24, 0);
    SetU16(name_256, 26, 256);
    add("LogonClientName256Bytes", name_256, kField);
    Bytes both_255 = WithLength(logon, 32 + 510);
    SetU16(both_255, 24, 255);
    SetU16(both_255, 26, 255);
    add("LogonBothFields255Bytes", both_255, kOk);
  }

  // LOGON_ACK: exactly 40 bytes.
  const Bytes ack = ValidLogonAck();
  add("LogonAckLength32", WithLength(ack, 32), kLen);
  add("LogonAckLength44", WithLength(ack, 44), kLen);
  add("LogonAckLength48", WithLength(ack, 48), kLen);
  add("LogonAckFlagsSet", Mutated(ack, set16(kFlagsOffset, 1)), kField);
  add("LogonAckStreamIdSet", Mutated(ack, set32(kStreamIdOffset, 1)), kField);
  add("LogonAckReserved18Set", Mutated(ack, set16(18, 1)), kField);
  add("LogonAckReserved36Set", Mutated(ack, set32(36, 1)), kField);
  add("LogonAckVersionZero", Mutated(ack, set16(16, 0)), kField);
  add("LogonAckHeartbeatZero", Mutated(ack, set32(20, 0)), kField);
  add("LogonAckSessionZero", Mutated(ack, set64(24, 0)), kField);
  add("LogonAckMaxFrame15", Mutated(ack, set32(32, 15)), kField);
  add("LogonAckMaxFrame16", Mutated(ack, set32(32, 16)), kOk);

  // ERROR / LOGON_REJECT: text "no such stream" (14), length 46.
  const Bytes err = ValidError();
  add("ErrorShorterThanFixedPart", WithLength(err, 24), kLen);
  add("ErrorTextLengthOverruns", Mutated(err, set16(18, 15)), kLen);
  add("ErrorTextLengthUnderruns", Mutated(err, set16(18, 13)), kLen);
  add("ErrorUnknownFlag", Mutated(err, set16(kFlagsOffset, 2)), kField);
  add("ErrorFatalFlag", Mutated(err, set16(kFlagsOffset, kFlagFatal)), kOk);
  add("ErrorStreamIdAllowed", Mutated(err, set32(kStreamIdOffset, 99)), kOk);
  add("ErrorCodeZero", Mutated(err, set16(16, 0)), kField);
  add("ErrorReservedSet", Mutated(err, set32(20, 1)), kField);
  {
    Bytes text_1025 = WithLength(err, 32 + 1025);
    SetU16(text_1025, 18, 1025);
    add("ErrorText1025Bytes", text_1025, kField);
    Bytes text_1024 = WithLength(err, 32 + 1024);
    SetU16(text_1024, 18, 1024);
    add("ErrorText1024Bytes", text_1024, kOk);
  }
  const Bytes reject = ValidLogonReject();
  add("LogonRejectShorterThanFixedPart", WithLength(reject, 31), kLen);
  add("LogonRejectFlagsSet", Mutated(reject, set16(kFlagsOffset, 1)), kField);
  add("LogonRejectStreamIdSet", Mutated(reject, set32(kStreamIdOffset, 1)),
      kField);
  add("LogonRejectCodeZero", Mutated(reject, set16(16, 0)), kField);

  // HEARTBEAT: exactly 24 bytes.
  const Bytes hb = ValidHeartbeat();
  add("HeartbeatHeaderOnly", WithLength(hb, 16), kLen);
  add("HeartbeatLength32", WithLength(hb, 32), kLen);
  add("HeartbeatFlagsSet", Mutated(hb, set16(kFlagsOffset, 1)), kField);
  add("HeartbeatStreamIdSet", Mutated(hb, set32(kStreamIdOffset, 1)), kField);

  // LOGOUT: exactly 24 bytes.
  const Bytes logout = ValidLogout();
  add("LogoutLength23", WithLength(logout, 23), kLen);
  add("LogoutLength32", WithLength(logout, 32), kLen);
  add("LogoutFlagsSet", Mutated(logout, set16(kFlagsOffset, 1)), kField);
  add("LogoutStreamIdSet", Mutated(logout, set32(kStreamIdOffset, 1)), kField);
  add("LogoutReserved18Set", Mutated(logout, set16(18, 1)), kField);
  add("LogoutReserved20Set", Mutated(logout, set32(20, 1)), kField);

  // OPEN_STREAM: name "md.eq.AAPL" (10), length 34.
  const Bytes open = ValidOpenStream();
  add("OpenStreamHeaderOnly", WithLength(open, 16), kLen);
  add("OpenStreamNameLengthOverruns", Mutated(open, set16(22, 11)), kLen);
  add("OpenStreamNameLengthUnderruns", Mutated(open, set16(22, 9)), kLen);
  add("OpenStreamFlagsSet", Mutated(open, set16(kFlagsOffset, 1)), kField);
  add("OpenStreamStreamIdSet", Mutated(open, set32(kStreamIdOffset, 1)),
      kField);
  add("OpenStreamReservedSet", Mutated(open, set16(20, 1)), kField);
  add("OpenStreamEmptyName", Mutated(WithLength(open, 24), set16(22, 0)),
      kField);
  {
    Bytes name_256 = WithLength(open, 24 + 256);
    SetU16(name_256, 22, 256);
    add("OpenStreamName256Bytes", name_256, kField);
  }

  // OPEN_STREAM_ACK / SUBSCRIBE_ACK: name (10), length 42.
  const Bytes open_ack = ValidOpenStreamAck();
  const Bytes sub_ack = ValidSubscribeAck();
  add("OpenStreamAckShorterThanFixedPart", WithLength(open_ack, 24), kLen);
  add("OpenStreamAckNameLengthOverruns", Mutated(open_ack, set16(22, 11)),
      kLen);
  add("OpenStreamAckFlagsSet", Mutated(open_ack, set16(kFlagsOffset, 1)),
      kField);
  add("OpenStreamAckStreamZero", Mutated(open_ack, set32(kStreamIdOffset, 0)),
      kField);
  add("OpenStreamAckReservedSet", Mutated(open_ack, set16(20, 1)), kField);
  add("OpenStreamAckEmptyName", Mutated(WithLength(open_ack, 32), set16(22, 0)),
      kField);
  {
    Bytes name_256 = WithLength(open_ack, 32 + 256);
    SetU16(name_256, 22, 256);
    add("OpenStreamAckName256Bytes", name_256, kField);
  }
  add("SubscribeAckShorterThanFixedPart", WithLength(sub_ack, 31), kLen);
  add("SubscribeAckNameLengthUnderruns", Mutated(sub_ack, set16(22, 9)), kLen);
  // Stream id 0 is the pattern ack: name "md.eq.AAP*", next_sequence 0.
  auto pattern_ack = [](Bytes& b) {
    SetU32(b, kStreamIdOffset, 0);
    SetU64(b, 24, 0);
    SetU8(b, 41, '*');
  };
  add("SubscribeAckPatternAckAllowed", Mutated(sub_ack, pattern_ack), kOk);
  add("SubscribeAckStreamZeroWithoutPattern",
      Mutated(Mutated(sub_ack, pattern_ack), set8(41, 'L')), kField);
  add("SubscribeAckPatternAckWithPosition",
      Mutated(Mutated(sub_ack, pattern_ack), set64(24, 5)), kField);
  add("SubscribeAckSharedDeliveryNextZeroAllowed",
      Mutated(sub_ack, set64(24, 0)), kOk);
  add("SubscribeAckSubscriptionIdZero", Mutated(sub_ack, set32(16, 0)), kField);
  add("OpenStreamAckNextSequenceZero", Mutated(open_ack, set64(24, 0)), kField);
  add("SubscribeAckFlagsSet", Mutated(sub_ack, set16(kFlagsOffset, 1)), kField);
  add("SubscribeAckReservedSet", Mutated(sub_ack, set16(20, 1)), kField);
  add("SubscribeAckEmptyName", Mutated(WithLength(sub_ack, 32), set16(22, 0)),
      kField);

  // SUBSCRIBE: mode kSequence 1000, name "md.eq.*" (7), length 39.
  const Bytes sub = ValidSubscribe();
  add("SubscribeShorterThanFixedPart", WithLength(sub, 24), kLen);
  add("SubscribeNameLengthOverruns", Mutated(sub, set16(22, 8)), kLen);
  add("SubscribeTrailingBytes", WithLength(sub, 40), kLen);
  add("SubscribeFlagsSet", Mutated(sub, set16(kFlagsOffset, 1)), kField);
  add("SubscribeStreamIdSet", Mutated(sub, set32(kStreamIdOffset, 1)), kField);
  add("SubscribeIdZero", Mutated(sub, set32(16, 0)), kField);
  add("SubscribeReservedSet", Mutated(sub, set8(21, 1)), kField);
  add("SubscribeStartMode3", Mutated(sub, set8(20, 3)), kField);
  add("SubscribeStartMode3WithoutSequence",
      Mutated(sub,
              [](Bytes& b) {
                SetU8(b, 20, 3);
                SetU64(b, 24, 0);
              }),
      kField);
  add("SubscribeStartMode255WithoutSequence",
      Mutated(sub,
              [](Bytes& b) {
                SetU8(b, 20, 255);
                SetU64(b, 24, 0);
              }),
      kField);
  add("SubscribeSequenceModeWithoutSequence", Mutated(sub, set64(24, 0)),
      kField);
  add("SubscribeLatestWithSequence", Mutated(sub, set8(20, 0)), kField);
  add("SubscribeEarliestWithSequence", Mutated(sub, set8(20, 1)), kField);
  add("SubscribeLatestWithoutSequence",
      Mutated(sub,
              [](Bytes& b) {
                SetU8(b, 20, 0);
                SetU64(b, 24, 0);
              }),
      kOk);
  add("SubscribeEmptyName", Mutated(WithLength(sub, 32), set16(22, 0)), kField);
  {
    Bytes name_256 = WithLength(sub, 32 + 256);
    SetU16(name_256, 22, 256);
    add("SubscribeName256Bytes", name_256, kField);
  }

  // UNSUBSCRIBE: exactly 24 bytes.
  const Bytes unsub = ValidUnsubscribe();
  add("UnsubscribeHeaderOnly", WithLength(unsub, 16), kLen);
  add("UnsubscribeLength32", WithLength(unsub, 32), kLen);
  add("UnsubscribeFlagsSet", Mutated(unsub, set16(kFlagsOffset, 1)), kField);
  add("UnsubscribeStreamIdSet", Mutated(unsub, set32(kStreamIdOffset, 1)),
      kField);
  add("UnsubscribeIdZero", Mutated(unsub, set32(16, 0)), kField);
  add("UnsubscribeReservedSet", Mutated(unsub, set32(20, 1)), kField);

  // UDP_SUBSCRIBE: name "md.eq.AAPL" (10), length 42.
  const Bytes udp_sub = ValidUdpSubscribe();
  add("UdpSubscribeShorterThanFixedPart", WithLength(udp_sub, 31), kLen);
  add("UdpSubscribeNameLengthOverruns", Mutated(udp_sub, set16(22, 11)), kLen);
  add("UdpSubscribeNameLengthUnderruns", Mutated(udp_sub, set16(22, 9)), kLen);
  add("UdpSubscribeFlagsSet", Mutated(udp_sub, set16(kFlagsOffset, 1)), kField);
  add("UdpSubscribeStreamIdSet", Mutated(udp_sub, set32(kStreamIdOffset, 1)),
      kField);
  add("UdpSubscribeIdZero", Mutated(udp_sub, set32(16, 0)), kField);
  add("UdpSubscribePortZero", Mutated(udp_sub, set16(20, 0)), kField);
  add("UdpSubscribeReservedSet", Mutated(udp_sub, set32(28, 1)), kField);
  add("UdpSubscribeAddressZeroAllowed", Mutated(udp_sub, set32(24, 0)), kOk);
  add("UdpSubscribeEmptyName", Mutated(WithLength(udp_sub, 32), set16(22, 0)),
      kField);
  {
    Bytes name_256 = WithLength(udp_sub, 32 + 256);
    SetU16(name_256, 22, 256);
    add("UdpSubscribeName256Bytes", name_256, kField);
  }

  // GAP: exactly 32 bytes, from 5 to 9.
  const Bytes gap = ValidGap();
  add("GapLength24", WithLength(gap, 24), kLen);
  add("GapLength40", WithLength(gap, 40), kLen);
  add("GapFlagsSet", Mutated(gap, set16(kFlagsOffset, 1)), kField);
  add("GapStreamZero", Mutated(gap, set32(kStreamIdOffset, 0)), kField);
  add("GapFromZero", Mutated(gap, set64(16, 0)), kField);
  add("GapToBeforeFrom", Mutated(gap, set64(24, 4)), kField);
  add("GapSingleSequence", Mutated(gap, set64(24, 5)), kOk);

  // PUBLISH: payload "hello", ACK_REQUESTED.
  const Bytes pub = ValidPublish();
  add("PublishHeaderOnly", WithLength(pub, 16), kLen);
  add("PublishLength23", WithLength(pub, 23), kLen);
  add("PublishEmptyPayload", WithLength(pub, 24), kOk);
  add("PublishUnknownFlag", Mutated(pub, set16(kFlagsOffset, 3)), kField);
  add("PublishNoAckFlag", Mutated(pub, set16(kFlagsOffset, 0)), kOk);
  add("PublishStreamZero", Mutated(pub, set32(kStreamIdOffset, 0)), kField);

  // PUBLISH_ACK: exactly 40 bytes.
  const Bytes pub_ack = ValidPublishAck();
  const Bytes pub_nak = ValidPublishAck(ErrorCode::kBackPressured);
  add("PublishAckLength32", WithLength(pub_ack, 32), kLen);
  add("PublishAckLength48", WithLength(pub_ack, 48), kLen);
  add("PublishAckFlagsSet", Mutated(pub_ack, set16(kFlagsOffset, 1)), kField);
  add("PublishAckStreamZero", Mutated(pub_ack, set32(kStreamIdOffset, 0)),
      kField);
  add("PublishAckAcceptedWithoutSequence", Mutated(pub_ack, set64(24, 0)),
      kField);
  add("PublishAckRefusedWithSequence", Mutated(pub_nak, set64(24, 1)), kField);
  add("PublishAckRefusedWithoutSequence", pub_nak, kOk);
  add("PublishAckReserved34Set", Mutated(pub_ack, set16(34, 1)), kField);
  add("PublishAckReserved36Set", Mutated(pub_ack, set32(36, 1)), kField);

  // DATA: payload "payload!x".
  const Bytes data = ValidData();
  add("DataShorterThanFixedPart", WithLength(data, 31), kLen);
  add("DataHeaderOnly", WithLength(data, 16), kLen);
  add("DataEmptyPayload", WithLength(data, 32), kOk);
  add("DataFlagsSet", Mutated(data, set16(kFlagsOffset, 1)), kField);
  add("DataStreamZero", Mutated(data, set32(kStreamIdOffset, 0)), kField);
  add("DataSequenceZero", Mutated(data, set64(16, 0)), kField);
  add("DataNegativeTimestamp", Mutated(data, set64(24, ~0ull)), kOk);

  // REQUEST / RESPONSE.
  const Bytes req = ValidRequest();
  add("RequestShorterThanFixedPart", WithLength(req, 24), kLen);
  add("RequestFlagsSet", Mutated(req, set16(kFlagsOffset, 1)), kField);
  add("RequestStreamIdSet", Mutated(req, set32(kStreamIdOffset, 1)), kField);
  add("RequestServiceZero", Mutated(req, set32(24, 0)), kField);
  add("RequestEmptyPayload", WithLength(req, 32), kOk);
  const Bytes resp = ValidResponse();
  add("ResponseShorterThanFixedPart", WithLength(resp, 30), kLen);
  add("ResponseFlagsSet", Mutated(resp, set16(kFlagsOffset, 1)), kField);
  add("ResponseStreamIdSet", Mutated(resp, set32(kStreamIdOffset, 1)), kField);
  add("ResponseServiceZero", Mutated(resp, set32(24, 0)), kField);
  add("ResponseStatusAboveMax",
      Mutated(resp, set16(28, kMaxResponseStatus + 1)), kField);
  add("ResponseStatusMax", Mutated(resp, set16(28, kMaxResponseStatus)), kOk);
  add("ResponseReservedSet", Mutated(resp, set16(30, 1)), kField);
  add("ResponseOverloaded",
      Mutated(resp, set16(28, static_cast<std::uint16_t>(
                                  ResponseStatus::kOverloaded))),
      kOk);

  // SERVICE_LOOKUP: name "pricing" (7), length 39.
  const Bytes lookup = ValidServiceLookup();
  add("ServiceLookupShorterThanFixedPart", WithLength(lookup, 31), kLen);
  add("ServiceLookupHeaderOnly", WithLength(lookup, 16), kLen);
  add("ServiceLookupNameLengthOverruns", Mutated(lookup, set16(24, 8)), kLen);
  add("ServiceLookupNameLengthUnderruns", Mutated(lookup, set16(24, 6)), kLen);
  add("ServiceLookupNameLengthAboveMaxDisagrees",
      Mutated(lookup, set16(24, kMaxServiceNameLength + 1)), kLen);
  add("ServiceLookupEmptyName", Mutated(WithLength(lookup, 32), set16(24, 0)),
      kField);
  add("ServiceLookupNameAboveMax",
      Mutated(WithLength(lookup, 32 + kMaxServiceNameLength + 1),
              set16(24, kMaxServiceNameLength + 1)),
      kField);
  add("ServiceLookupNameAtMax",
      Mutated(WithLength(lookup, 32 + kMaxServiceNameLength),
              set16(24, kMaxServiceNameLength)),
      kOk);
  add("ServiceLookupFlagsSet", Mutated(lookup, set16(kFlagsOffset, 1)), kField);
  add("ServiceLookupStreamIdSet", Mutated(lookup, set32(kStreamIdOffset, 1)),
      kField);
  add("ServiceLookupReserved26Set", Mutated(lookup, set16(26, 1)), kField);
  add("ServiceLookupReserved28Set", Mutated(lookup, set32(28, 1)), kField);
  add("ServiceLookupLengthBeatsField",
      Mutated(Mutated(lookup, set16(24, 9)), set32(28, 1)), kLen);

  // SERVICE_LOOKUP_ACK: exactly 32 bytes.
  const Bytes lookup_ack = ValidServiceLookupAck();
  add("ServiceLookupAckLength24", WithLength(lookup_ack, 24), kLen);
  add("ServiceLookupAckLength40", WithLength(lookup_ack, 40), kLen);
  add("ServiceLookupAckServiceZero", Mutated(lookup_ack, set32(24, 0)), kOk);
  add("ServiceLookupAckFlagsSet", Mutated(lookup_ack, set16(kFlagsOffset, 2)),
      kField);
  add("ServiceLookupAckStreamIdSet",
      Mutated(lookup_ack, set32(kStreamIdOffset, 1)), kField);
  add("ServiceLookupAckReservedSet", Mutated(lookup_ack, set32(28, 1)), kField);
  return c;
}

class MalformedFrameTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedFrameTest, YieldsItsExactErrorCode) {
  const MalformedCase& c = GetParam();
  const DecodeResult r = DecodeFrame(c.bytes, kMax);
  if (c.expected == ErrorCode::kNone) {
    EXPECT_EQ(r.status, DecodeStatus::kFrame) << ErrorCodeName(r.error);
    EXPECT_EQ(r.consumed, c.bytes.size());
  } else {
    EXPECT_EQ(r.status, DecodeStatus::kError);
    EXPECT_EQ(r.error, c.expected);
    EXPECT_EQ(r.consumed, 0u);
  }
  // The type's own check agrees with the decoder on the unpadded frame.
  const std::uint32_t length = LoadU32(c.bytes.data());
  EXPECT_EQ(ValidateBody(static_cast<MessageType>(LoadU8(&c.bytes[5])),
                         std::span(c.bytes).first(length)),
            c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    EveryValidateFault, MalformedFrameTest,
    ::testing::ValuesIn(MalformedCases()),
    [](const ::testing::TestParamInfo<MalformedCase>& param_info) {
      return param_info.param.name;
    });

// ---------------------------------------------------------------------------
// Randomized round trips: fixed seed, every type, random valid fields.

class RandomFields {
 public:
  explicit RandomFields(std::uint64_t seed) : rng_(seed) {}

  std::uint64_t U64() { return rng_(); }
  std::uint32_t U32() { return static_cast<std::uint32_t>(rng_()); }
  std::uint16_t U16() { return static_cast<std::uint16_t>(rng_()); }
  std::uint64_t NonZero64() { return U64() | (std::uint64_t{1} << Below(64)); }
  std::uint32_t NonZero32() { return U32() | (1u << Below(32)); }
  std::uint64_t Below(std::uint64_t n) { return rng_() % n; }
  // Mostly small values, sometimes the extremes, so limits get exercised.
  std::size_t Size(std::size_t max) {
    switch (Below(8)) {
      case 0:
        return 0;
      case 1:
        return max;
      default:
        return Below(std::min<std::size_t>(max, 300) + 1);
    }
  }
  std::string Text(std::size_t size) {
    std::string s(size, '\0');
    for (char& ch : s) ch = static_cast<char>(rng_() & 0xFF);
    return s;
  }

 private:
  std::mt19937_64 rng_;
};

constexpr int kRandomIterations = 2000;

TEST(RandomRoundTrip, SessionMessagesSurviveRandomFields) {
  RandomFields rnd(0x5EED0001);
  Bytes buf(kScratch);
  for (int i = 0; i < kRandomIterations; ++i) {
    {
      const std::uint16_t min = static_cast<std::uint16_t>(rnd.U16() | 1);
      const std::uint16_t max = static_cast<std::uint16_t>(
          min + rnd.Below(std::uint64_t{0xFFFF} - min + 1));
      const std::uint32_t hb = rnd.U32();
      const std::string token = rnd.Text(rnd.Size(kMaxLogonFieldLength));
      const std::string name = rnd.Text(rnd.Size(kMaxLogonFieldLength));
      const std::size_t n = EncodeLogon(buf, {.min_version = min,
                                              .max_version = max,
                                              .heartbeat_interval_ms = hb,
                                              .token = token,
                                              .client_name = name});
      ASSERT_EQ(n, PaddedLength(32 + token.size() + name.size()));
      const FrameView f = Decode(std::span(buf).first(n), MessageType::kLogon);
      ASSERT_FALSE(f.empty());
      const LogonView v(f);
      ASSERT_EQ(v.min_version(), min);
      ASSERT_EQ(v.max_version(), max);
      ASSERT_EQ(v.heartbeat_interval_ms(), hb);
      ASSERT_EQ(v.token(), token);
      ASSERT_EQ(v.client_name(), name);
    }
    {
      const LogonAckFields m{
          .version = static_cast<std::uint16_t>(rnd.U16() | 1),
          .heartbeat_interval_ms = rnd.NonZero32(),
          .session_id = SessionId{rnd.NonZero64()},
          .max_frame_length = static_cast<std::uint32_t>(
              16 + rnd.Below(kMaxFrameLengthCeiling - 15)),
          .instance_epoch = rnd.Below(2) == 1 ? rnd.NonZero64() : 0};
      const std::size_t n = EncodeLogonAck(buf, m);
      const FrameView f =
          Decode(std::span(buf).first(n), MessageType::kLogonAck);
      ASSERT_FALSE(f.empty());
      const LogonAckView v(f);
      ASSERT_EQ(v.negotiated_version(), m.version);
      ASSERT_EQ(v.heartbeat_interval_ms(), m.heartbeat_interval_ms);
      ASSERT_EQ(v.session_id(), m.session_id);
      ASSERT_EQ(v.max_frame_length(), m.max_frame_length);
      ASSERT_EQ(v.instance_epoch(), m.instance_epoch);
      ASSERT_EQ(n, m.instance_epoch != 0 ? 48u : 40u);
    }
    for (const MessageType type :
         {MessageType::kError, MessageType::kLogonReject}) {
      const std::string text = rnd.Text(rnd.Size(kMaxErrorTextLength + 64));
      const ErrorFields m{.code = static_cast<ErrorCode>(rnd.U16() | 1),
                          .fatal = rnd.Below(2) == 1,
                          .stream_id = StreamId{rnd.U32()},
                          .context = rnd.U64(),
                          .text = text};
      const std::size_t n = type == MessageType::kError
                                ? EncodeError(buf, m)
                                : EncodeLogonReject(buf, m);
      const FrameView f = Decode(std::span(buf).first(n), type);
      ASSERT_FALSE(f.empty());
      const ErrorView v(f);
      const bool is_error = type == MessageType::kError;
      ASSERT_EQ(v.code(), m.code);
      ASSERT_EQ(v.fatal(), is_error ? m.fatal : true);
      ASSERT_EQ(v.stream_id(), is_error ? m.stream_id : StreamId{0});
      ASSERT_EQ(v.context(), m.context);
      ASSERT_EQ(v.text(),
                std::string_view(text).substr(0, kMaxErrorTextLength));
    }
    {
      const auto ts = static_cast<std::int64_t>(rnd.U64());
      const std::size_t n = EncodeHeartbeat(buf, ts);
      const FrameView f =
          Decode(std::span(buf).first(n), MessageType::kHeartbeat);
      ASSERT_FALSE(f.empty());
      ASSERT_EQ(HeartbeatView(f).timestamp_ns(), ts);
    }
    {
      const auto reason = static_cast<ErrorCode>(rnd.U16());
      const std::size_t n = EncodeLogout(buf, reason);
      const FrameView f = Decode(std::span(buf).first(n), MessageType::kLogout);
      ASSERT_FALSE(f.empty());
      ASSERT_EQ(LogoutView(f).reason(), reason);
    }
  }
}

TEST(RandomRoundTrip, StreamMessagesSurviveRandomFields) {
  RandomFields rnd(0x5EED0002);
  Bytes buf(kScratch);
  for (int i = 0; i < kRandomIterations; ++i) {
    {
      const std::uint32_t request_id = rnd.U32();
      const std::string name = rnd.Text(1 + rnd.Size(kMaxNameLength - 1));
      const std::size_t n = EncodeOpenStream(buf, request_id, name);
      ASSERT_EQ(n, PaddedLength(24 + name.size()));
      const FrameView f =
          Decode(std::span(buf).first(n), MessageType::kOpenStream);
      ASSERT_FALSE(f.empty());
      ASSERT_EQ(OpenStreamView(f).request_id(), request_id);
      ASSERT_EQ(OpenStreamView(f).name(), name);
    }
    for (const MessageType type :
         {MessageType::kOpenStreamAck, MessageType::kSubscribeAck}) {
      const std::string name = rnd.Text(1 + rnd.Size(kMaxNameLength - 1));
      const StreamAckFields m{
          .stream_id =
              StreamId{type == MessageType::kOpenStreamAck ? rnd.NonZero32()
                                                           : rnd.U32()},
          .id = rnd.U32(),
          .next_sequence = Sequence{rnd.U64()},
          .name = name,
          .instance_epoch =
              type == MessageType::kSubscribeAck && rnd.Below(2) == 1
                  ? rnd.NonZero64()
                  : 0};
      const std::size_t n = type == MessageType::kOpenStreamAck
                                ? EncodeOpenStreamAck(buf, m)
                                : EncodeSubscribeAck(buf, m);
      const FrameView f = Decode(std::span(buf).first(n), type);
      ASSERT_FALSE(f.empty());
      const StreamAckView v(f);
      ASSERT_EQ(v.stream_id(), m.stream_id);
      ASSERT_EQ(v.id(), m.id);
      ASSERT_EQ(v.next_sequence(), m.next_sequence);
      ASSERT_EQ(v.instance_epoch(), m.instance_epoch);
      ASSERT_EQ(v.name(), name);
    }
    {
      const std::string name = rnd.Text(1 + rnd.Size(kMaxNameLength - 1));
      const auto mode = static_cast<StartMode>(rnd.Below(3));
      const SubscribeFields m{
          .subscription_id = SubscriptionId{rnd.NonZero32()},
          .start = mode,
          .start_sequence = Sequence{rnd.NonZero64()},
          .name = name};
      const std::size_t n = EncodeSubscribe(buf, m);
      const FrameView f =
          Decode(std::span(buf).first(n), MessageType::kSubscribe);
      ASSERT_FALSE(f.empty());
      const SubscribeView v(f);
      ASSERT_EQ(v.subscription_id(), m.subscription_id);
      ASSERT_EQ(v.start_mode(), mode);
      ASSERT_EQ(v.start_sequence(),
                mode == StartMode::kSequence ? m.start_sequence : Sequence{0});
      ASSERT_EQ(v.name(), name);
      ASSERT_EQ(v.is_pattern(), name.back() == '*');
    }
    {
      const SubscriptionId id{rnd.NonZero32()};
      const std::size_t n = EncodeUnsubscribe(buf, id);
      const FrameView f =
          Decode(std::span(buf).first(n), MessageType::kUnsubscribe);
      ASSERT_FALSE(f.empty());
      ASSERT_EQ(UnsubscribeView(f).subscription_id(), id);
    }
    {
      const StreamId stream{rnd.NonZero32()};
      const Sequence from{rnd.NonZero64()};
      const Sequence to{from.value() + rnd.Below(~from.value() + 1)};
      const std::size_t n = EncodeGap(buf, stream, from, to);
      const FrameView f = Decode(std::span(buf).first(n), MessageType::kGap);
      ASSERT_FALSE(f.empty());
      ASSERT_EQ(GapView(f).stream_id(), stream);
      ASSERT_EQ(GapView(f).from_sequence(), from);
      ASSERT_EQ(GapView(f).to_sequence(), to);
    }
  }
}

TEST(RandomRoundTrip, DataAndRequestMessagesSurviveRandomFields) {
  RandomFields rnd(0x5EED0003);
  Bytes buf(kScratch);
  constexpr std::size_t kMaxPayload = 4096;
  for (int i = 0; i < kRandomIterations; ++i) {
    {
      const StreamId stream{rnd.NonZero32()};
      const std::uint64_t correlation = rnd.U64();
      const std::string payload = rnd.Text(rnd.Size(kMaxPayload));
      const AckMode ack = rnd.Below(2) ? AckMode::kRequested : AckMode::kNone;
      const std::size_t n =
          EncodePublish(buf, stream, correlation, AsBytes(payload), ack);
      ASSERT_EQ(n, PaddedLength(24 + payload.size()));
      const FrameView f =
          Decode(std::span(buf).first(n), MessageType::kPublish);
      ASSERT_FALSE(f.empty());
      const PublishView v(f);
      ASSERT_EQ(v.stream_id(), stream);
      ASSERT_EQ(v.correlation_id(), correlation);
      ASSERT_EQ(v.ack_requested(), ack == AckMode::kRequested);
      ASSERT_EQ(AsText(v.payload()), payload);
    }
    {
      const bool accepted = rnd.Below(2) == 1;
      const PublishAckFields m{
          .stream_id = StreamId{rnd.NonZero32()},
          .correlation_id = rnd.U64(),
          .sequence = Sequence{rnd.NonZero64()},
          .status = accepted ? ErrorCode::kNone
                             : static_cast<ErrorCode>(rnd.U16() | 1)};
      const std::size_t n = EncodePublishAck(buf, m);
      const FrameView f =
          Decode(std::span(buf).first(n), MessageType::kPublishAck);
      ASSERT_FALSE(f.empty());
      const PublishAckView v(f);
      ASSERT_EQ(v.stream_id(), m.stream_id);
      ASSERT_EQ(v.correlation_id(), m.correlation_id);
      ASSERT_EQ(v.sequence(), accepted ? m.sequence : Sequence{0});
      ASSERT_EQ(v.status(), m.status);
    }
    {
      const StreamId stream{rnd.NonZero32()};
      const Sequence seq{rnd.NonZero64()};
      const auto ts = static_cast<std::int64_t>(rnd.U64());
      const std::string payload = rnd.Text(rnd.Size(kMaxPayload));
      const std::size_t n = EncodeData(buf, stream, seq, ts, AsBytes(payload));
      ASSERT_EQ(n, PaddedLength(32 + payload.size()));
      const FrameView f = Decode(std::span(buf).first(n), MessageType::kData);
      ASSERT_FALSE(f.empty());
      const DataView v(f);
      ASSERT_EQ(v.stream_id(), stream);
      ASSERT_EQ(v.sequence(), seq);
      ASSERT_EQ(v.timestamp_ns(), ts);
      ASSERT_EQ(AsText(v.payload()), payload);
    }
    {
      const std::string payload = rnd.Text(rnd.Size(kMaxPayload));
      const RequestFields m{.correlation_id = rnd.U64(),
                            .service_id = rnd.NonZero32(),
                            .timeout_ms = rnd.U32(),
                            .payload = AsBytes(payload)};
      const std::size_t n = EncodeRequest(buf, m);
      const FrameView f =
          Decode(std::span(buf).first(n), MessageType::kRequest);
      ASSERT_FALSE(f.empty());
      const RequestView v(f);
      ASSERT_EQ(v.correlation_id(), m.correlation_id);
      ASSERT_EQ(v.service_id(), m.service_id);
      ASSERT_EQ(v.timeout_ms(), m.timeout_ms);
      ASSERT_EQ(AsText(v.payload()), payload);
    }
    {
      const std::string payload = rnd.Text(rnd.Size(kMaxPayload));
      const ResponseFields m{.correlation_id = rnd.U64(),
                             .service_id = rnd.NonZero32(),
                             .status = static_cast<ResponseStatus>(
                                 rnd.Below(kMaxResponseStatus + 1)),
                             .payload = AsBytes(payload)};
      const std::size_t n = EncodeResponse(buf, m);
      const FrameView f =
          Decode(std::span(buf).first(n), MessageType::kResponse);
      ASSERT_FALSE(f.empty());
      const ResponseView v(f);
      ASSERT_EQ(v.correlation_id(), m.correlation_id);
      ASSERT_EQ(v.service_id(), m.service_id);
      ASSERT_EQ(v.status(), m.status);
      ASSERT_EQ(AsText(v.payload()), payload);
    }
    {
      const std::string name = rnd.Text(1 + rnd.Below(kMaxServiceNameLength));
      const ServiceLookupFields m{.correlation_id = rnd.U64(), .name = name};
      const std::size_t n = EncodeServiceLookup(buf, m);
      ASSERT_EQ(n, PaddedLength(32 + name.size()));
      const FrameView f =
          Decode(std::span(buf).first(n), MessageType::kServiceLookup);
      ASSERT_FALSE(f.empty());
      const ServiceLookupView v(f);
      ASSERT_EQ(v.correlation_id(), m.correlation_id);
      ASSERT_EQ(v.name(), name);
    }
    {
      const ServiceLookupAckFields m{.correlation_id = rnd.U64(),
                                     .service_id = rnd.U32()};
      const std::size_t n = EncodeServiceLookupAck(buf, m);
      const FrameView f =
          Decode(std::span(buf).first(n), MessageType::kServiceLookupAck);
      ASSERT_FALSE(f.empty());
      const ServiceLookupAckView v(f);
      ASSERT_EQ(v.correlation_id(), m.correlation_id);
      ASSERT_EQ(v.service_id(), m.service_id);
    }
  }
}

// ---------------------------------------------------------------------------
// Names (src/protocol/names.cpp).

TEST(Names, EveryMessageTypeHasANameThatParsesBack) {
  int known = 0;
  for (int raw = 0; raw < 256; ++raw) {
    const auto type = static_cast<MessageType>(raw);
    const std::string_view name = MessageTypeName(type);
    if (!IsKnownMessageType(static_cast<std::uint8_t>(raw))) {
      EXPECT_EQ(name, "UNKNOWN") << raw;
      continue;
    }
    ++known;
    EXPECT_NE(name, "UNKNOWN") << raw;
    MessageType parsed{};
    ASSERT_TRUE(ParseMessageType(name, &parsed)) << name;
    EXPECT_EQ(parsed, type);
  }
  EXPECT_EQ(known, 20);
  EXPECT_EQ(MessageTypeName(MessageType::kServiceLookupAck),
            "SERVICE_LOOKUP_ACK");
  EXPECT_EQ(MessageTypeName(MessageType::kSubscribeAck), "SUBSCRIBE_ACK");
  MessageType unused{};
  EXPECT_FALSE(ParseMessageType("data", &unused));
}

TEST(Names, ErrorCodesHaveNamesThatParseBack) {
  for (const ErrorCode code :
       {ErrorCode::kNone, ErrorCode::kFrameTooShort, ErrorCode::kBadBodyLength,
        ErrorCode::kBadField, ErrorCode::kSlowConsumer,
        ErrorCode::kBackPressured, ErrorCode::kInternal}) {
    const std::string_view name = ErrorCodeName(code);
    ErrorCode parsed{};
    ASSERT_TRUE(ParseErrorCode(name, &parsed)) << name;
    EXPECT_EQ(parsed, code);
  }
  EXPECT_EQ(ErrorCodeName(ErrorCode::kBadPadding), "BAD_PADDING");
  EXPECT_EQ(ErrorCodeName(static_cast<ErrorCode>(999)), "UNKNOWN");
  ErrorCode unused{};
  EXPECT_FALSE(ParseErrorCode("NOPE", &unused));
}

}  // namespace
}  // namespace tachyon::protocol
