// Checks the C++ codec against the golden vectors in protocol/vectors/.
//
// The vectors are written by scripts/gen-vectors.py straight from the
// documented layouts, independently of the C++ encoders. For every vector
// this test decodes the bytes (DecodeFrame repeatedly, or DecodeDatagram),
// compares each result and every field through the typed views, re-encodes
// every valid frame with the matching Encode*/Begin* function and requires
// the same bytes (padding included), and feeds frame vectors to FrameDecoder
// in pieces to check that streaming gives the same answers. Coverage tests
// make sure no message type or framing error loses its vectors unnoticed.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tachyon/protocol/datagram_mac.h"
#include "tachyon/protocol/protocol.h"
#include "vector_file.h"

namespace tachyon::protocol {
namespace {

using golden::Expectation;
using golden::Field;
using golden::Value;
using golden::Vector;
using golden::VectorKind;

std::string VectorDir() {
  return std::string(TACHYON_SOURCE_DIR) + "/protocol/vectors";
}

// Files the generator writes; the test fails if one goes missing.
constexpr std::string_view kExpectedFiles[] = {
    "session.vec", "streams.vec",   "data.vec",     "request.vec",
    "multi.vec",   "malformed.vec", "datagrams.vec"};

struct LoadedFile {
  std::string path;
  bool ok = false;
  std::string error;
  std::vector<Vector> vectors;
};

// Every *.vec file in the vector directory, sorted, parsed once.
const std::vector<LoadedFile>& Files() {
  static const std::vector<LoadedFile>* files = [] {
    auto* out = new std::vector<LoadedFile>;
    std::error_code ec;
    std::vector<std::string> paths;
    for (const auto& entry :
         std::filesystem::directory_iterator(VectorDir(), ec)) {
      if (entry.path().extension() == ".vec") {
        paths.push_back(entry.path().string());
      }
    }
    std::sort(paths.begin(), paths.end());
    for (const std::string& path : paths) {
      LoadedFile f;
      f.path = path;
      f.ok = golden::LoadVectorFile(path, &f.vectors, &f.error);
      out->push_back(std::move(f));
    }
    return out;
  }();
  return *files;
}

std::vector<const Vector*> VectorsOfKind(VectorKind kind) {
  std::vector<const Vector*> out;
  for (const LoadedFile& f : Files()) {
    for (const Vector& v : f.vectors) {
      if (f.ok && v.kind == kind) out.push_back(&v);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Field checks.

std::string ValueText(const Value& v) {
  switch (v.type) {
    case Value::Type::kInteger:
      return golden::Cat(v.negative ? "-" : "", v.magnitude);
    case Value::Type::kBool:
      return v.boolean ? "true" : "false";
    case Value::Type::kName:
      return v.text;
    case Value::Type::kBytes:
      return golden::Cat("bytes ", golden::ToHex(AsBytes(v.text)));
  }
  return "?";
}

// Checks the fields of one expectation against a decoded view. Every check
// consumes its field; Finish() reports fields the view does not have. A
// field the view has but the vector omits is a failure too, so a vector
// always states every value.
class FieldChecker {
 public:
  explicit FieldChecker(const Expectation& e) : e_(e) {}
  FieldChecker(const FieldChecker&) = delete;
  FieldChecker& operator=(const FieldChecker&) = delete;

  void Unsigned(std::string_view key, std::uint64_t actual) {
    const Field* f = Take(key);
    if (f == nullptr) return;
    if (f->value.type != Value::Type::kInteger || f->value.negative) {
      ADD_FAILURE() << f->where << ": field '" << key
                    << "' needs an unsigned integer, got "
                    << ValueText(f->value);
      return;
    }
    EXPECT_EQ(f->value.magnitude, actual) << f->where << ": field " << key;
  }

  void Signed(std::string_view key, std::int64_t actual) {
    const Field* f = Take(key);
    if (f == nullptr) return;
    const Value& v = f->value;
    const std::uint64_t limit =
        v.negative ? std::uint64_t{1} << 63 : (std::uint64_t{1} << 63) - 1;
    if (v.type != Value::Type::kInteger || v.magnitude > limit) {
      ADD_FAILURE() << f->where << ": field '" << key
                    << "' needs a signed 64-bit integer, got " << ValueText(v);
      return;
    }
    // Two's complement negation in unsigned arithmetic: no overflow at -2^63.
    const std::uint64_t bits = v.negative ? ~v.magnitude + 1 : v.magnitude;
    EXPECT_EQ(static_cast<std::int64_t>(bits), actual)
        << f->where << ": field " << key;
  }

  void Bool(std::string_view key, bool actual) {
    const Field* f = Take(key);
    if (f == nullptr) return;
    if (f->value.type != Value::Type::kBool) {
      ADD_FAILURE() << f->where << ": field '" << key
                    << "' needs true or false, got " << ValueText(f->value);
      return;
    }
    EXPECT_EQ(f->value.boolean, actual) << f->where << ": field " << key;
  }

  void Bytes(std::string_view key, std::span<const std::byte> actual) {
    const Field* f = Take(key);
    if (f == nullptr) return;
    if (f->value.type != Value::Type::kBytes) {
      ADD_FAILURE() << f->where << ": field '" << key << "' needs \"text\" or "
                    << key << "_hex, got " << ValueText(f->value);
      return;
    }
    EXPECT_EQ(golden::ToHex(AsBytes(f->value.text)), golden::ToHex(actual))
        << f->where << ": field " << key << " (hex)";
  }

  void Text(std::string_view key, std::string_view actual) {
    Bytes(key, AsBytes(actual));
  }

  // An enum written by name. `parse` validates the expected name (so a typo
  // is reported as such); `actual_name` is the decoded value's name.
  template <typename E>
  void Enum(std::string_view key, E actual, std::string_view actual_name,
            bool (*parse)(std::string_view, E*)) {
    const Field* f = Take(key);
    if (f == nullptr) return;
    E expected;
    if (f->value.type != Value::Type::kName ||
        !parse(f->value.text, &expected)) {
      ADD_FAILURE() << f->where << ": field '" << key
                    << "': " << ValueText(f->value) << " is not a known name";
      return;
    }
    EXPECT_EQ(f->value.text, actual_name)
        << f->where << ": field " << key << " (raw "
        << static_cast<unsigned>(actual) << ")";
  }

  void Code(std::string_view key, ErrorCode actual) {
    Enum<ErrorCode>(key, actual, ErrorCodeName(actual), &ParseErrorCode);
  }

  void Finish() {
    for (const Field& f : e_.fields) {
      if (used_.count(f.key) == 0) {
        ADD_FAILURE() << f.where << ": '" << e_.name << "' has no field '"
                      << f.key << "'";
      }
    }
  }

 private:
  const Field* Take(std::string_view key) {
    used_.insert(std::string(key));
    for (const Field& f : e_.fields) {
      if (f.key == key) return &f;
    }
    ADD_FAILURE() << e_.where << ": 'expect " << e_.name
                  << "' does not state field '" << key << "'";
    return nullptr;
  }

  const Expectation& e_;
  std::set<std::string> used_;
};

void CheckFrameFields(const Expectation& e, FrameView frame) {
  FieldChecker c(e);
  c.Unsigned("length", frame.length());
  c.Unsigned("flags", frame.flags());
  c.Unsigned("stream_id", frame.stream_id().value());
  switch (frame.type()) {
    case MessageType::kLogon: {
      const LogonView v(frame);
      c.Unsigned("min_version", v.min_version());
      c.Unsigned("max_version", v.max_version());
      c.Unsigned("heartbeat_interval_ms", v.heartbeat_interval_ms());
      c.Text("token", v.token());
      c.Text("client_name", v.client_name());
      break;
    }
    case MessageType::kLogonAck: {
      const LogonAckView v(frame);
      c.Unsigned("negotiated_version", v.negotiated_version());
      c.Unsigned("heartbeat_interval_ms", v.heartbeat_interval_ms());
      c.Unsigned("session_id", v.session_id().value());
      c.Unsigned("max_frame_length", v.max_frame_length());
      c.Unsigned("instance_epoch", v.instance_epoch());
      break;
    }
    case MessageType::kLogonReject:
    case MessageType::kError: {
      const ErrorView v(frame);
      c.Code("code", v.code());
      c.Bool("fatal", v.fatal());
      c.Unsigned("context", v.context());
      c.Text("text", v.text());
      break;
    }
    case MessageType::kHeartbeat:
      c.Signed("timestamp_ns", HeartbeatView(frame).timestamp_ns());
      break;
    case MessageType::kLogout:
      c.Code("reason", LogoutView(frame).reason());
      break;
    case MessageType::kOpenStream: {
      const OpenStreamView v(frame);
      c.Unsigned("request_id", v.request_id());
      c.Text("name", v.name());
      break;
    }
    case MessageType::kOpenStreamAck:
    case MessageType::kSubscribeAck: {
      const StreamAckView v(frame);
      c.Unsigned("id", v.id());
      c.Unsigned("next_sequence", v.next_sequence().value());
      if (frame.type() == MessageType::kSubscribeAck) {
        c.Unsigned("instance_epoch", v.instance_epoch());
      }
      c.Text("name", v.name());
      break;
    }
    case MessageType::kSubscribe: {
      const SubscribeView v(frame);
      c.Unsigned("subscription_id", v.subscription_id().value());
      c.Enum<StartMode>("start_mode", v.start_mode(),
                        golden::StartModeName(v.start_mode()),
                        &golden::ParseStartMode);
      c.Unsigned("start_sequence", v.start_sequence().value());
      c.Text("name", v.name());
      c.Bool("is_pattern", v.is_pattern());
      break;
    }
    case MessageType::kUnsubscribe:
      c.Unsigned("subscription_id",
                 UnsubscribeView(frame).subscription_id().value());
      break;
    case MessageType::kUdpSubscribe: {
      const UdpSubscribeView v(frame);
      c.Unsigned("subscription_id", v.subscription_id().value());
      c.Unsigned("port", v.port());
      c.Bytes("address", v.address());
      c.Text("name", v.name());
      break;
    }
    case MessageType::kGap: {
      const GapView v(frame);
      c.Unsigned("from_sequence", v.from_sequence().value());
      c.Unsigned("to_sequence", v.to_sequence().value());
      break;
    }
    case MessageType::kPublish: {
      const PublishView v(frame);
      c.Unsigned("correlation_id", v.correlation_id());
      c.Bool("ack_requested", v.ack_requested());
      c.Bytes("payload", v.payload());
      break;
    }
    case MessageType::kPublishAck: {
      const PublishAckView v(frame);
      c.Unsigned("correlation_id", v.correlation_id());
      c.Unsigned("sequence", v.sequence().value());
      c.Code("status", v.status());
      break;
    }
    case MessageType::kData: {
      const DataView v(frame);
      c.Unsigned("sequence", v.sequence().value());
      c.Signed("timestamp_ns", v.timestamp_ns());
      c.Bytes("payload", v.payload());
      break;
    }
    case MessageType::kRequest: {
      const RequestView v(frame);
      c.Unsigned("correlation_id", v.correlation_id());
      c.Unsigned("service_id", v.service_id());
      c.Unsigned("timeout_ms", v.timeout_ms());
      c.Bytes("payload", v.payload());
      break;
    }
    case MessageType::kResponse: {
      const ResponseView v(frame);
      c.Unsigned("correlation_id", v.correlation_id());
      c.Unsigned("service_id", v.service_id());
      c.Enum<ResponseStatus>("status", v.status(),
                             golden::ResponseStatusName(v.status()),
                             &golden::ParseResponseStatus);
      c.Bytes("payload", v.payload());
      break;
    }
    case MessageType::kServiceLookup: {
      const ServiceLookupView v(frame);
      c.Unsigned("correlation_id", v.correlation_id());
      c.Text("name", v.name());
      break;
    }
    case MessageType::kServiceLookupAck: {
      const ServiceLookupAckView v(frame);
      c.Unsigned("correlation_id", v.correlation_id());
      c.Unsigned("service_id", v.service_id());
      break;
    }
  }
  c.Finish();
}

// ---------------------------------------------------------------------------
// Re-encoding: the C++ encoders, fed the decoded values, must reproduce the
// vector's bytes exactly.

// Encodes `frame`'s decoded field values with the type's Encode* function.
std::size_t EncodeFromView(FrameView frame, std::span<std::byte> out) {
  switch (frame.type()) {
    case MessageType::kLogon: {
      const LogonView v(frame);
      return EncodeLogon(out,
                         {.min_version = v.min_version(),
                          .max_version = v.max_version(),
                          .heartbeat_interval_ms = v.heartbeat_interval_ms(),
                          .token = v.token(),
                          .client_name = v.client_name()});
    }
    case MessageType::kLogonAck: {
      const LogonAckView v(frame);
      return EncodeLogonAck(out,
                            {.version = v.negotiated_version(),
                             .heartbeat_interval_ms = v.heartbeat_interval_ms(),
                             .session_id = v.session_id(),
                             .max_frame_length = v.max_frame_length(),
                             .instance_epoch = v.instance_epoch()});
    }
    case MessageType::kLogonReject:
    case MessageType::kError: {
      const ErrorView v(frame);
      const ErrorFields fields{.code = v.code(),
                               .fatal = (v.flags() & kFlagFatal) != 0,
                               .stream_id = v.stream_id(),
                               .context = v.context(),
                               .text = v.text()};
      return frame.type() == MessageType::kError
                 ? EncodeError(out, fields)
                 : EncodeLogonReject(out, fields);
    }
    case MessageType::kHeartbeat:
      return EncodeHeartbeat(out, HeartbeatView(frame).timestamp_ns());
    case MessageType::kLogout:
      return EncodeLogout(out, LogoutView(frame).reason());
    case MessageType::kOpenStream: {
      const OpenStreamView v(frame);
      return EncodeOpenStream(out, v.request_id(), v.name());
    }
    case MessageType::kOpenStreamAck:
    case MessageType::kSubscribeAck: {
      const StreamAckView v(frame);
      const StreamAckFields fields{.stream_id = v.stream_id(),
                                   .id = v.id(),
                                   .next_sequence = v.next_sequence(),
                                   .name = v.name(),
                                   .instance_epoch = v.instance_epoch()};
      return frame.type() == MessageType::kOpenStreamAck
                 ? EncodeOpenStreamAck(out, fields)
                 : EncodeSubscribeAck(out, fields);
    }
    case MessageType::kSubscribe: {
      const SubscribeView v(frame);
      return EncodeSubscribe(out, {.subscription_id = v.subscription_id(),
                                   .start = v.start_mode(),
                                   .start_sequence = v.start_sequence(),
                                   .name = v.name()});
    }
    case MessageType::kUnsubscribe:
      return EncodeUnsubscribe(out, UnsubscribeView(frame).subscription_id());
    case MessageType::kUdpSubscribe: {
      const UdpSubscribeView v(frame);
      UdpSubscribeFields fields{.subscription_id = v.subscription_id(),
                                .port = v.port(),
                                .name = v.name()};
      std::memcpy(fields.address.data(), v.address().data(), 4);
      return EncodeUdpSubscribe(out, fields);
    }
    case MessageType::kGap: {
      const GapView v(frame);
      return EncodeGap(out, v.stream_id(), v.from_sequence(), v.to_sequence());
    }
    case MessageType::kPublish: {
      const PublishView v(frame);
      return EncodePublish(
          out, v.stream_id(), v.correlation_id(), v.payload(),
          v.ack_requested() ? AckMode::kRequested : AckMode::kNone);
    }
    case MessageType::kPublishAck: {
      const PublishAckView v(frame);
      return EncodePublishAck(out, {.stream_id = v.stream_id(),
                                    .correlation_id = v.correlation_id(),
                                    .sequence = v.sequence(),
                                    .status = v.status()});
    }
    case MessageType::kData: {
      const DataView v(frame);
      return EncodeData(out, v.stream_id(), v.sequence(), v.timestamp_ns(),
                        v.payload());
    }
    case MessageType::kRequest: {
      const RequestView v(frame);
      return EncodeRequest(out, {.correlation_id = v.correlation_id(),
                                 .service_id = v.service_id(),
                                 .timeout_ms = v.timeout_ms(),
                                 .payload = v.payload()});
    }
    case MessageType::kResponse: {
      const ResponseView v(frame);
      return EncodeResponse(out, {.correlation_id = v.correlation_id(),
                                  .service_id = v.service_id(),
                                  .status = v.status(),
                                  .payload = v.payload()});
    }
    case MessageType::kServiceLookup: {
      const ServiceLookupView v(frame);
      return EncodeServiceLookup(
          out, {.correlation_id = v.correlation_id(), .name = v.name()});
    }
    case MessageType::kServiceLookupAck: {
      const ServiceLookupAckView v(frame);
      return EncodeServiceLookupAck(out, {.correlation_id = v.correlation_id(),
                                          .service_id = v.service_id()});
    }
  }
  return 0;
}

// The zero-copy path (BeginData/BeginPublish, then the payload written in
// place), for the types that have one; nullopt for the others.
std::optional<std::size_t> EncodeInPlaceFromView(FrameView frame,
                                                 std::span<std::byte> out) {
  std::span<std::byte> body;
  std::span<const std::byte> payload;
  if (frame.type() == MessageType::kData) {
    const DataView v(frame);
    payload = v.payload();
    body = BeginData(out, v.stream_id(), v.sequence(), v.timestamp_ns(),
                     payload.size());
  } else if (frame.type() == MessageType::kPublish) {
    const PublishView v(frame);
    payload = v.payload();
    body =
        BeginPublish(out, v.stream_id(), v.correlation_id(), payload.size(),
                     v.ack_requested() ? AckMode::kRequested : AckMode::kNone);
  } else {
    return std::nullopt;
  }
  if (body.data() == nullptr) return 0;
  if (!payload.empty())
    std::memcpy(body.data(), payload.data(), payload.size());
  return frame.padded_length();
}

constexpr std::byte kFill{0xA5};
constexpr std::size_t kGuard = 16;

// `on_wire` is the frame with its padding, as it appeared in the vector.
void CheckReEncode(FrameView frame, std::span<const std::byte> on_wire) {
  const std::size_t padded = frame.padded_length();
  ASSERT_EQ(on_wire.size(), padded);
  const std::string want = golden::ToHex(on_wire);

  using Encoder =
      std::optional<std::size_t> (*)(FrameView, std::span<std::byte>);
  const std::pair<const char*, Encoder> encoders[] = {
      {"Encode*",
       [](FrameView f, std::span<std::byte> out) -> std::optional<std::size_t> {
         return EncodeFromView(f, out);
       }},
      {"Begin*", &EncodeInPlaceFromView},
  };
  for (const auto& [label, encode] : encoders) {
    // Pre-filled with a non-zero byte, so unwritten padding shows, and with a
    // guard area that must stay untouched.
    std::vector<std::byte> buf(padded + kGuard, kFill);
    const std::optional<std::size_t> n =
        encode(frame, std::span(buf).first(padded));
    if (!n.has_value()) continue;
    EXPECT_EQ(*n, padded) << label << " returned the wrong size";
    EXPECT_EQ(golden::ToHex(std::span(buf).first(padded)), want)
        << label << " wrote different bytes";
    EXPECT_TRUE(std::all_of(buf.begin() + static_cast<std::ptrdiff_t>(padded),
                            buf.end(), [](std::byte b) { return b == kFill; }))
        << label << " wrote past the frame";
    // One byte short: the encoder must refuse and report 0.
    std::vector<std::byte> small(padded - 1, kFill);
    EXPECT_EQ(encode(frame, small).value_or(0), 0u)
        << label << " accepted a buffer one byte too small";
  }
}

// ---------------------------------------------------------------------------
// Decoding.

std::string Summary(const DecodeResult& r) {
  switch (r.status) {
    case DecodeStatus::kFrame:
      return golden::Cat("frame ", MessageTypeName(r.frame.type()));
    case DecodeStatus::kIncomplete:
      return "incomplete";
    case DecodeStatus::kError:
      return golden::Cat("error ", ErrorCodeName(r.error));
  }
  return "?";
}

std::string Summary(const Expectation& e) {
  switch (e.kind) {
    case Expectation::Kind::kFrame:
      return golden::Cat("frame ", e.name);
    case Expectation::Kind::kIncomplete:
      return "incomplete";
    case Expectation::Kind::kError:
      return golden::Cat("error ", e.name);
    case Expectation::Kind::kDatagram:
      return golden::Cat("datagram ", e.name);
  }
  return "?";
}

// Checks a decoded frame against its expectation: fields, size, re-encoding.
void CheckValidFrame(const Expectation& e, const DecodeResult& r,
                     std::span<const std::byte> rest) {
  SCOPED_TRACE(e.where);
  EXPECT_EQ(r.frame.version(), kProtocolVersion);
  EXPECT_EQ(r.consumed, r.frame.padded_length());
  EXPECT_EQ(r.frame.bytes().data(), rest.data()) << "view must borrow input";
  CheckFrameFields(e, r.frame);
  CheckReEncode(r.frame, rest.first(r.consumed));
}

void CheckFrameVector(const Vector& v) {
  std::span<const std::byte> rest(v.bytes);
  std::size_t next = 0;
  while (!rest.empty()) {
    const DecodeResult r = DecodeFrame(rest, v.max_frame_length);
    const std::size_t offset = v.bytes.size() - rest.size();
    ASSERT_LT(next, v.expectations.size())
        << v.where << ": at byte " << offset << " the decoder answered "
        << Summary(r) << " but the vector expects nothing more";
    const Expectation& e = v.expectations[next++];
    ASSERT_EQ(Summary(r), Summary(e))
        << e.where << ": at byte " << offset << " of vector " << v.name;
    if (r.status != DecodeStatus::kFrame) {
      EXPECT_EQ(r.consumed, 0u) << e.where;
      break;
    }
    CheckValidFrame(e, r, rest);
    rest = rest.subspan(r.consumed);
  }
  EXPECT_EQ(next, v.expectations.size())
      << v.where << ": the bytes ran out before expectation "
      << (next < v.expectations.size() ? v.expectations[next].where : "");
}

void CheckDatagramVector(const Vector& v) {
  const DatagramResult d = DecodeDatagram(v.bytes, v.max_frame_length);
  DatagramKey key{};
  bool mac_valid = true;
  const Expectation& head = v.expectations.front();
  if (d.error != ErrorCode::kNone) {
    ASSERT_EQ(golden::Cat("error ", ErrorCodeName(d.error)), Summary(head))
        << head.where;
    return;
  }
  ASSERT_EQ(golden::Cat("datagram ", golden::DatagramKindName(d.view.kind())),
            Summary(head))
      << head.where;
  {
    FieldChecker c(head);
    c.Unsigned("message_count", d.view.message_count());
    c.Unsigned("stream_id", d.view.stream_id().value());
    c.Unsigned("first_sequence", d.view.first_sequence().value());
    c.Unsigned("source_id", d.view.source_id());
    if (d.view.authenticated()) {
      // Version 2 (PROTOCOL.md 16.7): the MAC under the vector's test key.
      c.Unsigned("version", d.view.version());
      c.Unsigned("producer_id", d.view.producer_id());
      c.Bytes("mac", d.view.mac());
      const Field* key_field = nullptr;
      for (const Field& f : head.fields) {
        if (f.key == "mac_key") key_field = &f;
      }
      ASSERT_NE(key_field, nullptr) << head.where << ": no mac_key";
      ASSERT_EQ(key_field->value.text.size(), kDatagramKeyLength) << head.where;
      std::memcpy(key.data(), key_field->value.text.data(), key.size());
      c.Bytes("mac_key", AsBytes(key_field->value.text));
      mac_valid = VerifyDatagramMac(v.bytes, key);
      c.Bool("mac_valid", mac_valid);
    }
    c.Finish();
  }
  // Every frame the view yields, checked and re-encoded; the datagram rebuilt
  // from its header encoder and those frames (and, version 2, the MAC) must
  // equal the input.
  const std::size_t header_length = d.view.authenticated()
                                        ? kAuthenticatedHeaderLength
                                        : kDatagramHeaderLength;
  std::vector<std::byte> rebuilt(header_length);
  EXPECT_EQ(
      d.view.authenticated()
          ? EncodeAuthenticatedDatagramHeader(
                rebuilt, d.view.kind(), d.view.message_count(),
                d.view.stream_id(), d.view.first_sequence(), d.view.source_id(),
                d.view.producer_id())
          : EncodeDatagramHeader(rebuilt, d.view.kind(), d.view.message_count(),
                                 d.view.stream_id(), d.view.first_sequence(),
                                 d.view.source_id()),
      header_length);
  std::span<const std::byte> rest = d.view.frames();
  std::size_t index = 1;
  for (FrameView frame : d) {
    ASSERT_LT(index, v.expectations.size())
        << v.where << ": the datagram has more frames than the vector lists";
    const Expectation& e = v.expectations[index++];
    const DecodeResult r = DecodeFrame(rest, v.max_frame_length);
    ASSERT_EQ(Summary(r), Summary(e)) << e.where;
    EXPECT_EQ(frame.bytes().data(), r.frame.bytes().data()) << e.where;
    CheckValidFrame(e, r, rest);
    std::vector<std::byte> encoded(frame.padded_length());
    EXPECT_EQ(EncodeFromView(frame, encoded), encoded.size()) << e.where;
    rebuilt.insert(rebuilt.end(), encoded.begin(), encoded.end());
    rest = rest.subspan(r.consumed);
  }
  EXPECT_EQ(index, v.expectations.size())
      << v.where << ": the datagram has fewer frames than the vector lists";
  EXPECT_EQ(index - 1, d.view.message_count()) << v.where;
  if (d.view.authenticated()) {
    rebuilt.resize(rebuilt.size() + kDatagramMacLength);
    ASSERT_TRUE(SignDatagram(rebuilt, key)) << v.where;
    if (!mac_valid) {
      // A corrupted-MAC vector: re-signing must give a different tag, and
      // the rest must still match.
      EXPECT_NE(golden::ToHex(std::span(rebuilt).last(kDatagramMacLength)),
                golden::ToHex(d.view.mac()))
          << v.where;
      std::memcpy(rebuilt.data() + rebuilt.size() - kDatagramMacLength,
                  d.view.mac().data(), kDatagramMacLength);
    }
  }
  EXPECT_EQ(golden::ToHex(rebuilt), golden::ToHex(v.bytes))
      << v.where << ": datagram re-encoded differently";
}

// ---------------------------------------------------------------------------
// Streaming: FrameDecoder fed in pieces must give DecodeFrame's answers.

struct Outcome {
  std::string summary;
  std::string frame_hex;
  bool operator==(const Outcome&) const = default;
};

void PrintTo(const Outcome& o, std::ostream* os) {
  *os << o.summary;
  if (!o.frame_hex.empty()) *os << " " << o.frame_hex;
}

std::vector<Outcome> DecodeAllAtOnce(const Vector& v) {
  std::vector<Outcome> out;
  std::span<const std::byte> rest(v.bytes);
  while (!rest.empty()) {
    const DecodeResult r = DecodeFrame(rest, v.max_frame_length);
    if (r.status != DecodeStatus::kFrame) {
      out.push_back({Summary(r), ""});
      break;
    }
    out.push_back({Summary(r), golden::ToHex(r.frame.bytes())});
    rest = rest.subspan(r.consumed);
  }
  return out;
}

// Receives the vector `piece` bytes at a time, as a socket might deliver it,
// taking frames out after each receive. Storage is the minimum the decoder
// allows, so a piece may not fit until frames have been taken out.
std::vector<Outcome> DecodeInPieces(const Vector& v, std::size_t piece) {
  std::vector<Outcome> out;
  std::vector<std::byte> storage(FrameDecoder::MinStorage(v.max_frame_length));
  FrameDecoder decoder(storage, v.max_frame_length);
  std::span<const std::byte> input(v.bytes);
  std::span<const std::byte> pending;  // received but not yet in the decoder
  while (!input.empty() || !pending.empty()) {
    if (pending.empty()) {
      pending = input.first(std::min(piece, input.size()));
      input = input.subspan(pending.size());
    }
    const std::size_t taken = decoder.Append(pending);
    pending = pending.subspan(taken);
    bool progressed = taken > 0;
    for (;;) {
      const DecodeResult r = decoder.Next();
      if (r.status == DecodeStatus::kFrame) {
        out.push_back({Summary(r), golden::ToHex(r.frame.bytes())});
        progressed = true;
        continue;
      }
      if (r.status == DecodeStatus::kError) {
        out.push_back({Summary(r), ""});
        // Sticky: asking again repeats the error.
        EXPECT_EQ(Summary(decoder.Next()), Summary(r));
        return out;
      }
      break;
    }
    if (!progressed) {
      ADD_FAILURE() << "FrameDecoder is full and yields no frame";
      return out;
    }
  }
  if (decoder.buffered() > 0) out.push_back({"incomplete", ""});
  return out;
}

// ---------------------------------------------------------------------------
// The parameterized suites: one test per vector, named after it.

struct VectorCase {
  const Vector* vector;
};

void PrintTo(const VectorCase& c, std::ostream* os) {
  *os << c.vector->name << " (" << c.vector->where << ")";
}

std::vector<VectorCase> Cases(VectorKind kind) {
  std::vector<VectorCase> out;
  for (const Vector* v : VectorsOfKind(kind)) out.push_back({v});
  return out;
}

std::string CaseName(const ::testing::TestParamInfo<VectorCase>& info) {
  return info.param.vector->name;
}

class FrameVectorTest : public ::testing::TestWithParam<VectorCase> {};

TEST_P(FrameVectorTest, DecodesAndReEncodesByteForByte) {
  const Vector& v = *GetParam().vector;
  SCOPED_TRACE(v.where);
  CheckFrameVector(v);
}

TEST_P(FrameVectorTest, StreamingDecoderGivesTheSameAnswers) {
  const Vector& v = *GetParam().vector;
  SCOPED_TRACE(v.where);
  const std::vector<Outcome> want = DecodeAllAtOnce(v);
  for (std::size_t piece : {std::size_t{1}, std::size_t{3}, std::size_t{8},
                            std::size_t{13}, v.bytes.size()}) {
    EXPECT_EQ(DecodeInPieces(v, piece), want) << "pieces of " << piece;
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, FrameVectorTest,
                         ::testing::ValuesIn(Cases(VectorKind::kFrame)),
                         CaseName);

class DatagramVectorTest : public ::testing::TestWithParam<VectorCase> {};

TEST_P(DatagramVectorTest, DecodesAndReEncodesByteForByte) {
  const Vector& v = *GetParam().vector;
  SCOPED_TRACE(v.where);
  CheckDatagramVector(v);
}

INSTANTIATE_TEST_SUITE_P(Golden, DatagramVectorTest,
                         ::testing::ValuesIn(Cases(VectorKind::kDatagram)),
                         CaseName);

// ---------------------------------------------------------------------------
// The files themselves, and coverage that cannot silently shrink.

TEST(GoldenVectorFiles, EveryFileParses) {
  ASSERT_FALSE(Files().empty()) << "no .vec files in " << VectorDir();
  for (const LoadedFile& f : Files()) {
    EXPECT_TRUE(f.ok) << f.error;
    EXPECT_FALSE(f.vectors.empty()) << f.path << " holds no vectors";
  }
}

TEST(GoldenVectorFiles, ExpectedFilesArePresent) {
  std::set<std::string> names;
  for (const LoadedFile& f : Files()) {
    names.insert(std::filesystem::path(f.path).filename().string());
  }
  for (std::string_view want : kExpectedFiles) {
    EXPECT_TRUE(names.count(std::string(want)) == 1)
        << VectorDir() << "/" << want << " is missing";
  }
}

TEST(GoldenVectorFiles, VectorNamesAreUniqueAcrossFiles) {
  std::map<std::string, std::string> seen;
  for (const LoadedFile& f : Files()) {
    for (const Vector& v : f.vectors) {
      const auto [it, inserted] = seen.emplace(v.name, v.where);
      EXPECT_TRUE(inserted) << v.where << ": vector '" << v.name
                            << "' also defined at " << it->second;
    }
  }
}

TEST(GoldenVectorCoverage, EveryMessageTypeHasAValidFrameVector) {
  std::set<std::string> seen;
  for (const Vector* v : VectorsOfKind(VectorKind::kFrame)) {
    for (const Expectation& e : v->expectations) {
      if (e.kind == Expectation::Kind::kFrame) seen.insert(e.name);
    }
  }
  for (int raw = 0; raw < 256; ++raw) {
    if (!IsKnownMessageType(static_cast<std::uint8_t>(raw))) continue;
    const std::string_view name =
        MessageTypeName(static_cast<MessageType>(raw));
    EXPECT_EQ(seen.count(std::string(name)), 1u)
        << "no valid frame vector of type " << name;
  }
}

TEST(GoldenVectorCoverage, EveryFramingErrorHasAMalformedFrameVector) {
  std::set<std::string> seen;
  bool incomplete = false;
  for (const Vector* v : VectorsOfKind(VectorKind::kFrame)) {
    const Expectation& last = v->expectations.back();
    if (last.kind == Expectation::Kind::kError) seen.insert(last.name);
    if (last.kind == Expectation::Kind::kIncomplete) incomplete = true;
  }
  for (auto code = static_cast<std::uint16_t>(ErrorCode::kFrameTooShort);
       code <= static_cast<std::uint16_t>(ErrorCode::kBadField); ++code) {
    const std::string_view name = ErrorCodeName(static_cast<ErrorCode>(code));
    EXPECT_EQ(seen.count(std::string(name)), 1u)
        << "no malformed frame vector expects " << name;
  }
  EXPECT_TRUE(incomplete) << "no frame vector expects incomplete";
}

TEST(GoldenVectorCoverage, EveryDatagramKindAndCheckHasAVector) {
  std::set<std::string> kinds;
  std::set<std::string> errors;
  for (const Vector* v : VectorsOfKind(VectorKind::kDatagram)) {
    const Expectation& head = v->expectations.front();
    if (head.kind == Expectation::Kind::kDatagram) kinds.insert(head.name);
    if (head.kind == Expectation::Kind::kError) errors.insert(head.name);
  }
  for (DatagramKind kind : {DatagramKind::kData, DatagramKind::kPublish,
                            DatagramKind::kHeartbeat}) {
    const std::string_view name = golden::DatagramKindName(kind);
    EXPECT_EQ(kinds.count(std::string(name)), 1u)
        << "no valid datagram vector of kind " << name;
  }
  // The answers DecodeDatagram gives on its own (frame errors pass through).
  for (ErrorCode code :
       {ErrorCode::kFrameTooShort, ErrorCode::kUnsupportedVersion,
        ErrorCode::kUnknownType, ErrorCode::kBadField,
        ErrorCode::kBadBodyLength}) {
    const std::string_view name = ErrorCodeName(code);
    EXPECT_EQ(errors.count(std::string(name)), 1u)
        << "no malformed datagram vector expects " << name;
  }
}

// ---------------------------------------------------------------------------
// The reader: a broken vector file must fail loudly, naming file and line.

std::string ParseError(std::string_view text) {
  std::vector<Vector> vectors;
  std::string error;
  EXPECT_FALSE(golden::ParseVectorFile("bad.vec", text, &vectors, &error))
      << "parsed without error:\n"
      << text;
  return error;
}

TEST(VectorFileReader, ParsesEveryValueForm) {
  constexpr std::string_view kText =
      "# a comment\n"
      "vector sample_1   # trailing comment\n"
      "  kind frame\n"
      "  max_frame_length 0x40\n"
      "  hex 0102 03\n"
      "  hex\n"
      "  hex 04 # and a comment\n"
      "  expect frame DATA\n"
      "    sequence 18446744073709551615\n"
      "    timestamp_ns -9223372036854775808\n"
      "    ack_requested true\n"
      "    code BAD_FIELD\n"
      "    payload \"a\\\"b\\\\c\\x00#d\"\n"
      "    token_hex 00 ff\n"
      "    name \"\"\n"
      "  expect error BAD_PADDING\n"
      "end\n";
  std::vector<Vector> vectors;
  std::string error;
  ASSERT_TRUE(golden::ParseVectorFile("ok.vec", kText, &vectors, &error))
      << error;
  ASSERT_EQ(vectors.size(), 1u);
  const Vector& v = vectors[0];
  EXPECT_EQ(v.name, "sample_1");
  EXPECT_EQ(v.where, "ok.vec:2");
  EXPECT_EQ(v.max_frame_length, 64u);
  EXPECT_EQ(golden::ToHex(v.bytes), "01020304");
  ASSERT_EQ(v.expectations.size(), 2u);
  const std::vector<Field>& f = v.expectations[0].fields;
  ASSERT_EQ(f.size(), 7u);
  EXPECT_EQ(f[0].value.magnitude, 18446744073709551615u);
  EXPECT_TRUE(f[1].value.negative);
  EXPECT_EQ(f[1].value.magnitude, std::uint64_t{1} << 63);
  EXPECT_TRUE(f[2].value.boolean);
  EXPECT_EQ(f[3].value.text, "BAD_FIELD");
  EXPECT_EQ(f[4].value.text, std::string("a\"b\\c\0#d", 8));
  EXPECT_EQ(f[5].key, "token");
  EXPECT_EQ(f[5].value.text, std::string("\0\xff", 2));
  EXPECT_EQ(f[6].value.type, Value::Type::kBytes);
  EXPECT_EQ(f[6].value.text, "");
  EXPECT_EQ(f[6].where, "ok.vec:15");
  EXPECT_EQ(v.expectations[1].name, "BAD_PADDING");
}

TEST(VectorFileReader, ReportsFileAndLineOfEachMistake) {
  const std::string head = "vector v\n  kind frame\n  hex 00\n";
  EXPECT_EQ(ParseError("junk\n"),
            "bad.vec:1: expected 'vector NAME', found 'junk'");
  EXPECT_EQ(ParseError("vector bad-name\n"),
            "bad.vec:1: vector name 'bad-name' is not [A-Za-z0-9_]+");
  EXPECT_EQ(ParseError(head + "  hex 0\n"),
            "bad.vec:4: hex group '0' has an odd digit count");
  EXPECT_EQ(ParseError(head + "  hex zz\n"), "bad.vec:4: 'zz' is not hex");
  EXPECT_EQ(ParseError("vector v\n  kind stream\n"),
            "bad.vec:2: kind must be 'frame' or 'datagram', not 'stream'");
  EXPECT_EQ(ParseError(head + "  expect frame DAT\n"),
            "bad.vec:4: unknown message type 'DAT'");
  EXPECT_EQ(ParseError(head + "  expect error OOPS\n"),
            "bad.vec:4: unknown error code 'OOPS'");
  EXPECT_EQ(ParseError(head + "  expect frame DATA\n    sequence 1x\n"),
            "bad.vec:5: field 'sequence': '1x' is not an integer, "
            "true/false, NAME, \"string\" or KEY_hex");
  EXPECT_EQ(ParseError(head + "  expect frame DATA\n    payload \"ab\n"),
            "bad.vec:5: unterminated quoted string");
  EXPECT_EQ(ParseError(head + "  expect frame DATA\n    payload \"\\q\"\n"),
            "bad.vec:5: bad escape '\\q' (use \\\", \\\\ or \\xNN)");
  EXPECT_EQ(ParseError(head + "  expect frame DATA\n    sequence 1\n"
                              "    sequence 2\n"),
            "bad.vec:6: field 'sequence' given twice (also bad.vec:5)");
  EXPECT_EQ(ParseError(head + "  expect incomplete\n    sequence 1\n"),
            "bad.vec:5: field 'sequence' under an expectation that has no "
            "fields");
  EXPECT_EQ(
      ParseError(head + "  expect incomplete\n  expect frame DATA\nend\n"),
      "bad.vec:6: 'expect incomplete' / 'expect error' must be the last "
      "expectation (bad.vec:4)");
  EXPECT_EQ(ParseError(head + "end\n"), "bad.vec:4: vector has no 'expect'");
  EXPECT_EQ(ParseError(head + "  expect incomplete\n"),
            "bad.vec:1: vector 'v' has no 'end' before the end of the file");
  EXPECT_EQ(ParseError(head + "  expect incomplete\n  hex 00\n"),
            "bad.vec:5: 'hex' must come before 'expect'");
  EXPECT_EQ(ParseError(head + "  bogus 1\n"),
            "bad.vec:4: unknown directive 'bogus'");
  EXPECT_EQ(ParseError("vector v\n  kind datagram\n  hex 00\n"
                       "  expect frame DATA\nend\n"),
            "bad.vec:5: a datagram vector expects either one 'expect error "
            "CODE' or 'expect datagram KIND' followed by its frames");
  EXPECT_EQ(ParseError(head + "  expect incomplete\nend\n" + head),
            "bad.vec:6: duplicate vector name 'v'");
}

TEST(VectorFileReader, MissingFileIsAnError) {
  std::vector<Vector> vectors;
  std::string error;
  EXPECT_FALSE(golden::LoadVectorFile("/nonexistent/x.vec", &vectors, &error));
  EXPECT_EQ(error, "/nonexistent/x.vec: cannot open");
}

}  // namespace
}  // namespace tachyon::protocol
