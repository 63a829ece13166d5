// UdpPublisher against a real in-process gateway with UDP ingress on
// loopback: messages arrive in the stream in order, batched datagrams carry
// consecutive producer sequences, a re-sent sequence is appended once, and
// bad arguments get specific errors.
#include "tachyon/client/udp_publisher.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client_test_util.h"
#include "gtest/gtest.h"
#include "server/reload.h"
#include "support/gateway_fixture.h"
#include "support/net.h"
#include "support/wait.h"
#include "tachyon/client/client.h"
#include "tachyon/protocol/data_messages.h"
#include "tachyon/protocol/datagram.h"
#include "tachyon/protocol/datagram_mac.h"
#include "udp/udp_counters.h"

namespace tachyon::testing {
namespace {

using ::tachyon::client::Client;
using ::tachyon::client::Message;
using ::tachyon::client::StartPosition;
using ::tachyon::client::UdpBatching;
using ::tachyon::client::UdpPublisher;
using ::tachyon::client::UdpPublisherOptions;
using namespace std::chrono_literals;

constexpr char kStream[] = "md.udp.in";

// The bytes on the wire, decoded as PROTOCOL.md 16.1 / 16.2 say.
TEST(UdpPublisherWireTest, DatagramsFollowTheIngressLayout) {
  UdpSocket receiver;
  auto pub = UdpPublisher::Create("127.0.0.1", receiver.port(),
                                  {.source_id = 0x1122334455667788,
                                   .max_datagram_length = 200,
                                   .batching = UdpBatching::kFill});
  ASSERT_TRUE(pub.ok()) << pub.status();
  // 40-byte payloads: 64-byte frames, two per 200-byte datagram.
  const std::string payload(40, 'p');
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*pub)->Publish(StreamId{7}, payload).ok());
  }
  ASSERT_TRUE((*pub)->Publish(StreamId{9}, "other").ok());
  ASSERT_TRUE((*pub)->Flush().ok());
  struct Expected {
    std::uint32_t stream;
    std::uint64_t first;
    std::uint16_t count;
  };
  for (const Expected& e :
       {Expected{7, 1, 2}, Expected{7, 3, 1}, Expected{9, 1, 1}}) {
    const std::vector<std::byte> bytes = receiver.Receive();
    ASSERT_FALSE(bytes.empty());
    const protocol::DatagramResult d =
        protocol::DecodeDatagram(bytes, protocol::kDefaultMaxFrameLength);
    ASSERT_EQ(d.error, protocol::ErrorCode::kNone);
    EXPECT_EQ(d.view.kind(), protocol::DatagramKind::kPublish);
    EXPECT_EQ(d.view.stream_id(), StreamId{e.stream});
    EXPECT_EQ(d.view.first_sequence(), Sequence{e.first});
    EXPECT_EQ(d.view.source_id(), 0x1122334455667788u);
    EXPECT_EQ(d.view.message_count(), e.count);
    for (const protocol::FrameView f : d) {
      EXPECT_EQ(f.type(), protocol::MessageType::kPublish);
      EXPECT_EQ(f.stream_id(), StreamId{e.stream});
    }
  }
}

class UdpPublisherTest : public GatewayTest {
 protected:
  void SetUp() override {
    GatewayTest::SetUp();
    config::GatewayConfig c = TestConfig(GetParam());
    c.udp.enabled = true;
    c.udp.port = 0;
    c.udp.recv_buffer_bytes = 4 << 20;
    Start(c);
    ASSERT_NE(gateway_->udp_port(), 0);
    auto client = Client::Connect("127.0.0.1", gateway_->port());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
    auto stream = client_->OpenStream(kStream);
    ASSERT_TRUE(stream.ok()) << stream.status();
    stream_ = *stream;
    ASSERT_TRUE(client_
                    ->Subscribe(kStream, StartPosition::Earliest(),
                                [this](const Message& m) {
                                  got_.emplace_back(m.text());
                                  sequences_.push_back(m.sequence.value());
                                })
                    .ok());
  }

  std::unique_ptr<UdpPublisher> Publisher(UdpPublisherOptions options = {}) {
    auto p = UdpPublisher::Create("127.0.0.1", gateway_->udp_port(), options);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? std::move(*p) : nullptr;
  }

  std::unique_ptr<Client> client_;
  StreamId stream_;
  std::vector<std::string> got_;
  std::vector<std::uint64_t> sequences_;
};

TEST_P(UdpPublisherTest, MessagesArriveInTheStreamInOrder) {
  auto pub = Publisher();
  ASSERT_NE(pub, nullptr);
  EXPECT_NE(pub->source_id(), 0u);
  EXPECT_EQ(pub->max_payload_length(), 1424u);  // PROTOCOL.md 16.3
  std::vector<std::string> sent;
  for (int i = 1; i <= 50; ++i) {
    sent.push_back("u" + std::to_string(i));
    ASSERT_TRUE(pub->Publish(stream_, sent.back()).ok());
  }
  EXPECT_EQ(pub->next_sequence(stream_), Sequence{51});
  EXPECT_EQ(pub->stats().datagrams, 50u);  // kNone: one datagram each
  ASSERT_TRUE(PollUntil(*client_, [&] { return got_.size() >= 50; }));
  EXPECT_EQ(got_, sent);
  EXPECT_EQ(sequences_.front(), 1u);
  EXPECT_EQ(sequences_.back(), 50u);
  EXPECT_EQ(gateway_->UdpStats().messages_appended, 50u);
  EXPECT_EQ(gateway_->UdpStats().gaps, 0u);
}

TEST_P(UdpPublisherTest, BatchingFillsDatagramsWithConsecutiveSequences) {
  auto pub = Publisher({.batching = UdpBatching::kFill});
  ASSERT_NE(pub, nullptr);
  // 100-byte payloads: 128-byte frames, 11 per 1472-byte datagram.
  std::vector<std::string> sent;
  for (int i = 1; i <= 30; ++i) {
    std::string payload = "b" + std::to_string(i);
    payload.resize(100, '.');
    sent.push_back(payload);
    ASSERT_TRUE(pub->Publish(stream_, payload).ok());
  }
  EXPECT_EQ(pub->stats().datagrams, 2u);  // 22 sent, 8 still batched
  EXPECT_EQ(pub->next_sequence(stream_), Sequence{31});
  ASSERT_TRUE(pub->Flush().ok());
  EXPECT_EQ(pub->stats().datagrams, 3u);
  EXPECT_EQ(pub->stats().messages, 30u);
  ASSERT_TRUE(PollUntil(*client_, [&] { return got_.size() >= 30; }));
  EXPECT_EQ(got_, sent);
  EXPECT_EQ(gateway_->UdpStats().gaps, 0u);
  EXPECT_EQ(gateway_->UdpStats().duplicates, 0u);
}

TEST_P(UdpPublisherTest, AReSentSequenceIsAppendedOnce) {
  auto first = Publisher();
  ASSERT_NE(first, nullptr);
  for (const char* m : {"r1", "r2", "r3"}) {
    ASSERT_TRUE(first->Publish(stream_, m).ok());
  }
  ASSERT_TRUE(PollUntil(*client_, [&] { return got_.size() >= 3; }));
  // The same producer restarted (same source_id): it sends its messages
  // again from sequence 1, then a new one.
  auto again = Publisher(
      {.source_id = first->source_id(), .batching = UdpBatching::kFill});
  ASSERT_NE(again, nullptr);
  for (const char* m : {"r1", "r2", "r3", "r4"}) {
    ASSERT_TRUE(again->Publish(stream_, m).ok());
  }
  ASSERT_TRUE(again->Flush().ok());
  ASSERT_TRUE(
      WaitUntil([&] { return gateway_->UdpStats().messages_appended >= 4; }));
  ASSERT_TRUE(PollUntil(*client_, [&] { return got_.size() >= 4; }));
  EXPECT_EQ(gateway_->UdpStats().duplicates, 3u);
  // Another message through TCP after them: nothing else was appended.
  ASSERT_TRUE(client_->PublishWithAck(stream_, "tcp").ok());
  ASSERT_TRUE(PollUntil(*client_, [&] { return got_.size() >= 5; }));
  EXPECT_EQ(got_, (std::vector<std::string>{"r1", "r2", "r3", "r4", "tcp"}));
}

TEST_P(UdpPublisherTest, RefusesWhatCannotBeSent) {
  auto pub = Publisher({.max_datagram_length = 512});
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(pub->max_payload_length(), 464u);
  const std::string big(465, 'x');
  absl::Status s = pub->Publish(stream_, big);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("does not fit one datagram (at most 464 bytes"),
            std::string::npos)
      << s;
  EXPECT_EQ(pub->Publish(StreamId{0}, "x").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pub->next_sequence(stream_), Sequence{1});

  auto tiny = UdpPublisher::Create("127.0.0.1", gateway_->udp_port(),
                                   {.max_datagram_length = 40});
  EXPECT_EQ(tiny.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UdpPublisher::Create("127.0.0.1", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UdpPublisher::Create("no-such-host.invalid", 7401).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_P(UdpPublisherTest, NothingListeningShowsOnALaterSend) {
  // A port nobody listens on: the kernel's ICMP port unreachable comes
  // back as ECONNREFUSED on a later send of the connected socket.
  auto pub = UdpPublisher::Create("127.0.0.1", UnusedPort(SOCK_DGRAM));
  ASSERT_TRUE(pub.ok()) << pub.status();
  absl::Status last;
  ASSERT_TRUE(WaitUntil([&] {
    last = (*pub)->Publish(stream_, "lost");
    return !last.ok();
  }));
  EXPECT_EQ(last.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(last.message().find("nothing listens on that UDP port"),
            std::string::npos)
      << last;
  EXPECT_EQ((*pub)->stats().send_errors, 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, UdpPublisherTest,
                         ::testing::ValuesIn(EachBackend(1)), ParamName);

// Signed datagrams (PROTOCOL.md 16.7) on the wire: version 2, the producer
// id, and a MAC the key verifies; 24 bytes less payload room.
TEST(UdpPublisherWireTest, SignedDatagramsCarryProducerIdAndMac) {
  UdpSocket receiver;
  const protocol::DatagramKey key =
      *protocol::ParseDatagramKey("00112233445566778899aabbccddeeff");
  auto pub = UdpPublisher::Create("127.0.0.1", receiver.port(),
                                  {.source_id = 0x1122334455667788,
                                   .batching = UdpBatching::kFill,
                                   .producer_id = 9,
                                   .key = key});
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ((*pub)->max_payload_length(), 1400u);
  ASSERT_TRUE((*pub)->Publish(StreamId{7}, "a").ok());
  ASSERT_TRUE((*pub)->Publish(StreamId{7}, "bc").ok());
  ASSERT_TRUE((*pub)->Publish(StreamId{7}, std::string(1400, 'x')).ok());
  ASSERT_TRUE((*pub)->Flush().ok());
  for (const std::uint16_t count : {2, 1}) {
    const std::vector<std::byte> bytes = receiver.Receive();
    ASSERT_FALSE(bytes.empty());
    EXPECT_LE(bytes.size(), protocol::kDefaultMaxDatagramLength);
    const protocol::DatagramResult d =
        protocol::DecodeDatagram(bytes, protocol::kDefaultMaxFrameLength);
    ASSERT_EQ(d.error, protocol::ErrorCode::kNone);
    EXPECT_TRUE(d.view.authenticated());
    EXPECT_EQ(d.view.producer_id(), 9u);
    EXPECT_EQ(d.view.message_count(), count);
    EXPECT_TRUE(protocol::VerifyDatagramMac(bytes, key));
    protocol::DatagramKey other = key;
    other[3] ^= std::byte{1};
    EXPECT_FALSE(protocol::VerifyDatagramMac(bytes, other));
  }
}

// Gateways that require UDP authentication (PROTOCOL.md 16.7), with
// producer 9 the one producer.
class UdpPublisherAuthTest : public GatewayTest {
 protected:
  static constexpr char kKey[] = "00112233445566778899aabbccddeeff";

  // The test configuration with UDP ingress on, authentication required,
  // and `producer` (id 9) the one producer.
  config::GatewayConfig SignedConfig(config::UdpProducer producer) const {
    config::GatewayConfig c = TestConfig(GetParam());
    c.udp.enabled = true;
    c.udp.port = 0;
    c.udp.require_authentication = true;
    c.udp_producers.push_back(std::move(producer));
    return c;
  }
  // A publisher to the gateway's UDP port signing as producer 9 with the
  // key `hex` (32 hex digits).
  std::unique_ptr<UdpPublisher> Signed(const char* hex) const {
    auto p = UdpPublisher::Create(
        "127.0.0.1", gateway_->udp_port(),
        {.producer_id = 9, .key = *protocol::ParseDatagramKey(hex)});
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? std::move(*p) : nullptr;
  }
  // Starts `c`, opens kStream (stream_) with client_, and has pub_, signing
  // with `hex`, publish `first`, which the gateway must append: the start
  // of each reload test.
  void StartWithOneAppended(const config::GatewayConfig& c, const char* hex,
                            std::string_view first) {
    Start(c);
    auto client = Client::Connect("127.0.0.1", gateway_->port());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
    auto stream = client_->OpenStream(kStream);
    ASSERT_TRUE(stream.ok()) << stream.status();
    stream_ = *stream;
    pub_ = Signed(hex);
    ASSERT_NE(pub_, nullptr);
    ASSERT_TRUE(pub_->Publish(stream_, first).ok());
    ASSERT_TRUE(
        WaitUntil([&] { return gateway_->UdpStats().messages_appended == 1; }));
  }

  std::unique_ptr<Client> client_;
  StreamId stream_;
  std::unique_ptr<UdpPublisher> pub_;
};

// A signed publisher's messages arrive, an unsigned one's and a wrong key's
// are dropped and counted.
TEST_P(UdpPublisherAuthTest, SignedArriveUnsignedAndWrongKeyDropped) {
  Start(SignedConfig({.name = "feed",
                      .id = 9,
                      .key = kKey,
                      .allowed_sources = {"127.0.0.0/8"},
                      .publish = {"md.*"}}));
  auto client = Client::Connect("127.0.0.1", gateway_->port());
  ASSERT_TRUE(client.ok()) << client.status();
  auto stream = (*client)->OpenStream(kStream);
  ASSERT_TRUE(stream.ok());
  std::vector<std::string> got;
  ASSERT_TRUE(
      (*client)
          ->Subscribe(kStream, StartPosition::Earliest(),
                      [&](const Message& m) { got.emplace_back(m.text()); })
          .ok());
  auto plain = UdpPublisher::Create("127.0.0.1", gateway_->udp_port());
  ASSERT_TRUE(plain.ok());
  auto wrong = Signed("ffffffffffffffffffffffffffffffff");
  auto good = Signed(kKey);
  ASSERT_TRUE(wrong && good);
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE((*plain)->Publish(*stream, "plain").ok());
    ASSERT_TRUE(wrong->Publish(*stream, "forged").ok());
    ASSERT_TRUE(good->Publish(*stream, "good" + std::to_string(i)).ok());
  }
  ASSERT_TRUE(PollUntil(**client, [&] { return got.size() >= 10; }));
  ASSERT_TRUE(WaitUntil([&] {
    const udp::UdpStats s = gateway_->UdpStats();
    return s.unauthenticated == 10 && s.bad_mac == 10;
  })) << "unauthenticated "
      << gateway_->UdpStats().unauthenticated << " bad_mac "
      << gateway_->UdpStats().bad_mac;
  EXPECT_EQ(gateway_->UdpStats().messages_appended, 10u);
  ASSERT_EQ(got.size(), 10u);
  for (int i = 1; i <= 10; ++i) {
    EXPECT_EQ(got[static_cast<std::size_t>(i - 1)], "good" + std::to_string(i));
  }
}

// Reloading [[udp_producers]] applies to the next datagram: a producer
// whose publish patterns no longer match is refused (not_permitted), and a
// removed producer is unknown; neither needs a restart.
TEST_P(UdpPublisherAuthTest, ReloadRevokesAProducersPermission) {
  const config::GatewayConfig c =
      SignedConfig({.name = "feed", .id = 9, .key = kKey, .publish = {"md.*"}});
  StartWithOneAppended(c, kKey, "before");
  if (HasFatalFailure()) return;

  config::GatewayConfig next = c;
  next.udp_producers[0].publish = {"other.*"};
  const config::ReloadReport report = gateway_->Reload(next);
  EXPECT_EQ(server::DescribeReload(report), "applied: udp_producers");
  // The workers apply it from their mailboxes: send until one is refused.
  ASSERT_TRUE(WaitUntil([&] {
    (void)pub_->Publish(stream_, "after");
    return gateway_->UdpStats().not_permitted > 0;
  }));
  const std::uint64_t appended = gateway_->UdpStats().messages_appended;
  ASSERT_TRUE(pub_->Publish(stream_, "refused").ok());
  ASSERT_TRUE(WaitUntil([&] {
    return gateway_->UdpStats().datagrams_received >=
           gateway_->UdpStats().messages_appended +
               gateway_->UdpStats().not_permitted;
  }));

  next.udp_producers.clear();
  gateway_->Reload(next);
  ASSERT_TRUE(WaitUntil([&] {
    (void)pub_->Publish(stream_, "gone");
    return gateway_->UdpStats().unknown_producer > 0;
  }));
  EXPECT_EQ(gateway_->UdpStats().messages_appended, appended);
}

// A rewritten key file is a change on its own: reloading the same
// configuration picks the new key up, the old key's datagrams become bad
// MACs and the new key's are appended.
TEST_P(UdpPublisherAuthTest, ReloadPicksUpARewrittenKeyFile) {
  constexpr char kNew[] = "ffeeddccbbaa99887766554433221100";
  const std::string key_file = ::testing::TempDir() + "udp_key_" +
                               std::to_string(::getpid()) + "_" +
                               IoBackendParamName(GetParam().io) + ".hex";
  const auto write_key = [&](const char* hex) {
    std::ofstream f(key_file, std::ios::trunc);
    f << hex;
    return f.good();
  };
  ASSERT_TRUE(write_key(kKey));
  const config::GatewayConfig c = SignedConfig(
      {.name = "feed", .id = 9, .key_file = key_file, .publish = {"md.*"}});
  StartWithOneAppended(c, kKey, "old key");
  if (HasFatalFailure()) return;

  ASSERT_TRUE(write_key(kNew));
  const config::ReloadReport report = gateway_->Reload(c);
  EXPECT_EQ(server::DescribeReload(report), "applied: udp_producers");
  // The workers apply it from their mailboxes: send until one is refused.
  ASSERT_TRUE(WaitUntil([&] {
    (void)pub_->Publish(stream_, "old key after");
    return gateway_->UdpStats().bad_mac > 0;
  })) << "the old key is still accepted";
  const std::uint64_t appended = gateway_->UdpStats().messages_appended;
  auto new_pub = Signed(kNew);
  ASSERT_NE(new_pub, nullptr);
  ASSERT_TRUE(new_pub->Publish(stream_, "new key").ok());
  ASSERT_TRUE(WaitUntil([&] {
    return gateway_->UdpStats().messages_appended == appended + 1;
  })) << "the new key is not accepted";
  // Reloading again with nothing changed applies nothing.
  EXPECT_EQ(server::DescribeReload(gateway_->Reload(c)), "nothing changed");
  std::remove(key_file.c_str());
}

INSTANTIATE_TEST_SUITE_P(Backends, UdpPublisherAuthTest,
                         ::testing::ValuesIn(EachBackend(1)), ParamName);

// With two workers, every datagram of one producer lands on one worker
// whatever its source port (PROTOCOL.md 16.7): the gateway steers the
// SO_REUSEPORT group by producer id. Without it the kernel hashes the
// 4-tuple, and a captured datagram re-sent from another port meets another
// worker's dedupe table and is appended again.
class UdpSteeringTest : public GatewayTest {
 protected:
  static constexpr char kKey[] = "00112233445566778899aabbccddeeff";
  static constexpr int kPorts = 16;

  void SetUp() override {
    GatewayTest::SetUp();
    config::GatewayConfig c = TestConfig(GetParam());
    c.udp.enabled = true;
    c.udp.port = 0;
    c.udp.require_authentication = true;
    c.udp_producers.push_back({.name = "feed",
                               .id = 9,
                               .key = kKey,
                               .allowed_sources = {"127.0.0.0/8"},
                               .publish = {"md.*"}});
    Start(c);
    auto client = Client::Connect("127.0.0.1", gateway_->port());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
    auto stream = client_->OpenStream(kStream);
    ASSERT_TRUE(stream.ok()) << stream.status();
    stream_ = *stream;
    for (auto& s : sockets_) s = std::make_unique<UdpSocket>();
  }

  // A signed PUBLISH datagram of producer 9 with one message `text`.
  std::vector<std::byte> Signed(std::uint64_t sequence,
                                const std::string& text) {
    std::vector<std::byte> d(protocol::kDefaultMaxDatagramLength);
    std::size_t n = protocol::EncodeAuthenticatedDatagramHeader(
        d, protocol::DatagramKind::kPublish, 1, stream_, Sequence{sequence},
        /*source_id=*/77, /*producer_id=*/9);
    n += protocol::EncodePublish(std::span(d).subspan(n), stream_, 0,
                                 std::as_bytes(std::span(text)));
    d.resize(n + protocol::kDatagramMacLength);
    EXPECT_TRUE(protocol::SignDatagram(d, *protocol::ParseDatagramKey(kKey)));
    return d;
  }

  bool AllReceived(std::uint64_t datagrams) {
    return WaitUntil(
        [&] { return gateway_->UdpStats().datagrams_received >= datagrams; });
  }

  std::unique_ptr<Client> client_;
  StreamId stream_;
  std::array<std::unique_ptr<UdpSocket>, kPorts> sockets_;
};

TEST_P(UdpSteeringTest, ADatagramReSentFromOtherPortsIsAppendedOnce) {
  const std::vector<std::byte> captured = Signed(1, "once");
  for (const auto& s : sockets_) {
    ASSERT_TRUE(s->SendTo(gateway_->udp_port(), captured));
  }
  // A marker after them, from the first port.
  ASSERT_TRUE(sockets_[0]->SendTo(gateway_->udp_port(), Signed(2, "marker")));
  ASSERT_TRUE(AllReceived(kPorts + 1));
  std::vector<std::string> got;
  ASSERT_TRUE(
      client_
          ->Subscribe(kStream, StartPosition::Earliest(),
                      [&](const Message& m) { got.emplace_back(m.text()); })
          .ok());
  ASSERT_TRUE(PollUntil(
      *client_, [&] { return !got.empty() && got.back() == "marker"; }));
  EXPECT_EQ(got, (std::vector<std::string>{"once", "marker"}));
  EXPECT_EQ(gateway_->UdpStats().messages_appended, 2u);
  EXPECT_EQ(gateway_->UdpStats().duplicates, kPorts - 1u);
}

TEST_P(UdpSteeringTest, OneProducersDatagramsFromManyPortsStayInOrder) {
  constexpr int kMessages = 64;
  for (int i = 1; i <= kMessages; ++i) {
    ASSERT_TRUE(sockets_[static_cast<std::size_t>(i % kPorts)]->SendTo(
        gateway_->udp_port(),
        Signed(static_cast<std::uint64_t>(i), "m" + std::to_string(i))));
  }
  ASSERT_TRUE(AllReceived(kMessages));
  // One worker saw them all, in the order sent: nothing skipped, nothing
  // old.
  const udp::UdpStats st = gateway_->UdpStats();
  EXPECT_EQ(st.messages_appended, static_cast<std::uint64_t>(kMessages));
  EXPECT_EQ(st.gaps, 0u);
  EXPECT_EQ(st.duplicates, 0u);
  EXPECT_EQ(st.kernel_drops, 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, UdpSteeringTest,
                         ::testing::ValuesIn(EachBackend(2)), ParamName);

}  // namespace
}  // namespace tachyon::testing
