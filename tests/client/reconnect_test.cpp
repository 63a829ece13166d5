// Automatic reconnection against a real in-process gateway: the connection
// killed mid-stream, the gateway restarted, data overwritten while away,
// publishing while disconnected, and giving up. Resumed subscriptions must
// see no gap and no duplicate while the gateway retains the data, and a
// Gap when it does not. A reconnect to another run of the gateway (another
// instance epoch, PROTOCOL.md 7.6) is reported and starts delivery again;
// two gateway instances run in one test for that.
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/fake_server.h"
#include "support/gateway_fixture.h"
#include "tachyon/client/client.h"

namespace tachyon::testing {
namespace {

using ::tachyon::client::Client;
using ::tachyon::client::ClientOptions;
using ::tachyon::client::DisconnectedPublish;
using ::tachyon::client::Gap;
using ::tachyon::client::GapOrigin;
using ::tachyon::client::GatewayRestart;
using ::tachyon::client::Message;
using ::tachyon::client::StartPosition;
using ::testing::HasSubstr;

struct Seen {
  std::string stream;
  std::uint64_t sequence;
  std::string payload;
};

ClientOptions Resilient(
    DisconnectedPublish publish = DisconnectedPublish::kError) {
  ClientOptions o;
  o.reconnect.enabled = true;
  o.reconnect.initial_backoff = 10ms;
  o.reconnect.max_backoff = 100ms;
  o.reconnect.publish = publish;
  o.connect_timeout = 2000ms;
  o.response_timeout = 2000ms;
  return o;
}

// Kills the client's TCP connection under it, as a network failure would.
void KillConnection(Client& c) { ::shutdown(c.fd(), SHUT_RDWR); }

class ReconnectTest : public GatewayTest {
 protected:
  void Start(const config::GatewayConfig& c) {
    config_ = c;
    GatewayTest::Start(c);
    if (gateway_ != nullptr) {
      config_.port = gateway_->port();  // a restart binds the same port
    }
  }
  void Start() { Start(TestConfig(GetParam())); }
  void Stop() {
    gateway_->RequestStop();
    gateway_->Wait();
    gateway_.reset();
  }
  void Restart(config::GatewayConfig c) {
    gateway_ = StartGateway(c);
    ASSERT_NE(gateway_, nullptr);
  }

  std::unique_ptr<Client> Connect(ClientOptions options = {}) {
    auto c = Client::Connect("127.0.0.1", config_.port, options);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }
  static client::MessageHandler Record(std::vector<Seen>* out) {
    return [out](const Message& m) {
      out->push_back({std::string(m.stream_name), m.sequence.value(),
                      std::string(m.text())});
    };
  }
  // Polls until the client has reconnected (or `timeout`).
  static bool AwaitReconnect(Client& c, std::uint64_t reconnects,
                             std::chrono::milliseconds timeout = 5000ms) {
    return PollUntil(
        c, [&] { return c.connected() && c.stats().reconnects >= reconnects; },
        timeout);
  }

  config::GatewayConfig config_;
};

TEST_P(ReconnectTest, KilledConnectionResumesWithoutLossOrDuplicates) {
  Start();
  auto pub = Connect();
  std::vector<absl::Status> errors;
  ClientOptions options = Resilient();
  options.on_error = [&](const absl::Status& s) { errors.push_back(s); };
  auto sub = Connect(options);
  std::vector<Seen> seen;
  std::vector<Gap> gaps;
  ASSERT_TRUE(sub->Subscribe("resume", StartPosition::Earliest(), Record(&seen),
                             [&](const Gap& g) { gaps.push_back(g); })
                  .ok());
  auto stream = pub->OpenStream("resume");
  ASSERT_TRUE(stream.ok());
  constexpr int kMessages = 1000;
  for (int i = 1; i <= kMessages; ++i) {
    ASSERT_TRUE(pub->Publish(*stream, std::to_string(i)).ok());
    if (i == 300) {
      ASSERT_TRUE(PollUntil(*sub, [&] { return seen.size() >= 200; }));
      KillConnection(*sub);
    }
  }
  ASSERT_TRUE(PollUntil(*sub, [&] { return seen.size() >= kMessages; }));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(sub->Poll(256, 5ms).ok());
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(seen[i].sequence, static_cast<std::uint64_t>(i + 1));
    ASSERT_EQ(seen[i].payload, std::to_string(i + 1));
  }
  EXPECT_TRUE(gaps.empty());
  EXPECT_EQ(sub->stats().reconnects, 1u);
  EXPECT_EQ(sub->stats().duplicates_dropped, 0u);
  // The same gateway run: positions resumed, no restart.
  EXPECT_EQ(sub->stats().gateway_restarts, 0u);
  EXPECT_EQ(sub->gateway_epoch(), gateway_->instance_epoch());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(errors[0].message(), HasSubstr("reconnecting"));
}

TEST_P(ReconnectTest,
       PatternResumesEachStreamAndPicksUpStreamsCreatedMeanwhile) {
  Start();
  auto pub = Connect();
  auto sub = Connect(Resilient());
  std::vector<Seen> seen;
  ASSERT_TRUE(
      sub->Subscribe("pr.*", StartPosition::Earliest(), Record(&seen)).ok());
  auto a = pub->OpenStream("pr.a");
  auto b = pub->OpenStream("pr.b");
  ASSERT_TRUE(a.ok() && b.ok());
  for (int i = 1; i <= 50; ++i) {
    ASSERT_TRUE(pub->Publish(*a, "a" + std::to_string(i)).ok());
    ASSERT_TRUE(pub->Publish(*b, "b" + std::to_string(i)).ok());
  }
  ASSERT_TRUE(PollUntil(*sub, [&] { return seen.size() == 100; }));
  KillConnection(*sub);
  for (int i = 51; i <= 100; ++i) {
    ASSERT_TRUE(pub->Publish(*a, "a" + std::to_string(i)).ok());
    ASSERT_TRUE(pub->Publish(*b, "b" + std::to_string(i)).ok());
  }
  auto c = pub->OpenStream("pr.c");
  ASSERT_TRUE(c.ok());
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(pub->Publish(*c, "c" + std::to_string(i)).ok());
  }
  ASSERT_TRUE(PollUntil(*sub, [&] { return seen.size() >= 210; }));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(sub->Poll(256, 5ms).ok());
  std::map<std::string, std::vector<std::uint64_t>> by_stream;
  for (const Seen& s : seen) by_stream[s.stream].push_back(s.sequence);
  ASSERT_EQ(by_stream["pr.a"].size(), 100u);
  ASSERT_EQ(by_stream["pr.b"].size(), 100u);
  ASSERT_EQ(by_stream["pr.c"].size(), 10u);
  for (const auto& [name, seqs] : by_stream) {
    for (std::size_t i = 0; i < seqs.size(); ++i) {
      ASSERT_EQ(seqs[i], i + 1) << name;
    }
  }
  EXPECT_EQ(sub->stats().gaps, 0u);
  EXPECT_EQ(sub->stats().duplicates_dropped, 0u);
}

TEST_P(ReconnectTest, GapWhenTheResumePositionWasOverwrittenMeanwhile) {
  config::GatewayConfig cfg = TestConfig(GetParam());
  cfg.default_stream.capacity_bytes = 64u << 10;
  cfg.default_stream.window_bytes = 32u << 10;
  cfg.max_frame_length = 4096;
  Start(cfg);
  auto pub = Connect();
  auto sub = Connect(Resilient());
  std::vector<Seen> seen;
  std::vector<Gap> gaps;
  ASSERT_TRUE(sub->Subscribe("lap", StartPosition::Latest(), Record(&seen),
                             [&](const Gap& g) { gaps.push_back(g); })
                  .ok());
  auto stream = pub->OpenStream("lap");
  ASSERT_TRUE(stream.ok());
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(pub->Publish(*stream, std::to_string(i)).ok());
  }
  ASSERT_TRUE(PollUntil(*sub, [&] { return seen.size() == 10; }));
  KillConnection(*sub);
  constexpr int kMessages = 5010;  // laps the 64 KiB ring while away
  for (int i = 11; i < kMessages; ++i) {
    ASSERT_TRUE(pub->Publish(*stream, std::to_string(i)).ok());
  }
  ASSERT_TRUE(pub->PublishWithAck(*stream, std::to_string(kMessages)).ok());
  ASSERT_TRUE(PollUntil(*sub, [&] {
    return !seen.empty() && seen.back().sequence == kMessages;
  }));
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].origin, GapOrigin::kGateway);
  EXPECT_EQ(gaps[0].from.value(), 11u);
  const std::uint64_t resumed_at = gaps[0].to.value() + 1;
  ASSERT_EQ(seen[10].sequence, resumed_at);
  for (std::size_t i = 10; i < seen.size(); ++i) {
    ASSERT_EQ(seen[i].sequence, resumed_at + (i - 10));
  }
  EXPECT_EQ(sub->stats().duplicates_dropped, 0u);
}

TEST_P(ReconnectTest, GatewayRestartRemapsStreamsAndFlushesQueuedPublishes) {
  Start();
  auto sub = Connect(Resilient());
  auto pub = Connect(Resilient(DisconnectedPublish::kQueue));
  // "restart" gets id 2 in this gateway run, id 1 in the next.
  ASSERT_TRUE(pub->OpenStream("other.first").ok());
  std::vector<Seen> seen;
  std::vector<Gap> gaps;
  ASSERT_TRUE(sub->Subscribe("restart", StartPosition::Latest(), Record(&seen),
                             [&](const Gap& g) { gaps.push_back(g); })
                  .ok());
  auto stream = pub->OpenStream("restart");
  ASSERT_TRUE(stream.ok());
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(pub->Publish(*stream, std::to_string(i)).ok());
  }
  ASSERT_TRUE(PollUntil(*sub, [&] { return seen.size() == 5; }));

  Stop();
  // Both notice the shutdown (LOGOUT SHUTTING_DOWN) and start reconnecting.
  ASSERT_TRUE(PollUntil(*sub, [&] { return !sub->connected(); }));
  ASSERT_TRUE(PollUntil(*pub, [&] { return !pub->connected(); }));
  ASSERT_TRUE(pub->Publish(*stream, "queued").ok());
  auto claim = pub->TryClaim(*stream, 7);
  ASSERT_TRUE(claim.ok()) << claim.status();
  std::memcpy(claim->data(), "claimed", 7);
  ASSERT_TRUE(pub->Commit().ok());
  EXPECT_EQ(pub->stats().publishes_queued, 2u);
  EXPECT_EQ(pub->OpenStream("restart").value(), *stream);  // cached

  config::GatewayConfig cfg = config_;
  Restart(cfg);
  // The new gateway creates "restart" first this time, so its id differs;
  // the publisher keeps using the id OpenStream returned.
  //
  // Retried: just after an io_uring gateway stops, its listening socket can
  // linger in the port's SO_REUSEPORT group while the kernel tears the ring
  // down, and a connection hashed to it is reset. (The reconnecting clients
  // retry on their own.)
  absl::StatusOr<std::unique_ptr<Client>> fresh;
  for (int attempt = 0; attempt < 50; ++attempt) {
    fresh = Client::Connect("127.0.0.1", config_.port);
    if (fresh.ok()) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  auto new_id = (*fresh)->OpenStream("restart");
  ASSERT_TRUE(new_id.ok());
  EXPECT_NE(*new_id, *stream);
  ASSERT_TRUE(AwaitReconnect(*sub, 1));
  ASSERT_TRUE(AwaitReconnect(*pub, 1));
  ASSERT_TRUE(pub->Publish(*stream, "after").ok());
  ASSERT_TRUE(PollUntil(*sub, [&] { return seen.size() == 8; }));
  EXPECT_EQ(seen[5].payload, "queued");
  EXPECT_EQ(seen[5].sequence, 1u);  // a new gateway run starts at 1
  EXPECT_EQ(seen[6].payload, "claimed");
  EXPECT_EQ(seen[7].payload, "after");
  EXPECT_EQ(seen[7].sequence, 3u);
  EXPECT_TRUE(gaps.empty());
  EXPECT_EQ(sub->stats().duplicates_dropped, 0u);
  EXPECT_EQ(sub->stats().gateway_restarts, 1u);
  EXPECT_EQ(pub->stats().gateway_restarts, 1u);
}

// Two runs of the gateway on one port. The subscriber had "epoch" up to
// sequence 5 (and "ep.x", through a pattern, up to 2) when the first run
// stopped; the second run's streams began again at 1 and hold 8 and 1
// messages when the subscriber is back. Resuming from 6 would deliver 6..8
// of the new run as if nothing had happened, silently missing 1..5 (and a
// de-duplication by sequence would drop 1..5 anyway): instead the client
// reports the restart, with both epochs and the positions it drops, before
// any message of the new run, and delivers the new run from its start.
TEST_P(ReconnectTest, RestartedGatewayIsReportedAndDeliveryStartsAgain) {
  Start();
  const std::uint64_t first_epoch = gateway_->instance_epoch();
  ASSERT_NE(first_epoch, 0u);
  struct Reported {
    std::uint64_t old_epoch;
    std::uint64_t new_epoch;
    std::vector<std::pair<std::string, std::uint64_t>> streams;
  };
  std::vector<Reported> restarts;
  std::vector<std::string> events;
  ClientOptions options = Resilient();
  options.reconnect.on_gateway_restart = [&](const GatewayRestart& r) {
    Reported copy{r.old_epoch, r.new_epoch, {}};
    for (const auto& s : r.streams) {
      copy.streams.emplace_back(std::string(s.stream_name),
                                s.next_sequence.value());
    }
    restarts.push_back(std::move(copy));
    events.push_back("restart");
  };
  auto sub = Connect(options);
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(sub->gateway_epoch(), first_epoch);
  std::vector<Seen> seen;
  auto record = [&](const Message& m) {
    seen.push_back({std::string(m.stream_name), m.sequence.value(),
                    std::string(m.text())});
    events.push_back(std::string(m.stream_name) + " " +
                     std::to_string(m.sequence.value()));
  };
  ASSERT_TRUE(sub->Subscribe("epoch", StartPosition::Latest(), record).ok());
  ASSERT_TRUE(sub->Subscribe("ep.*", StartPosition::Latest(), record).ok());
  {
    auto pub = Connect();
    auto epoch = pub->OpenStream("epoch");
    auto x = pub->OpenStream("ep.x");
    ASSERT_TRUE(epoch.ok() && x.ok());
    for (int i = 1; i <= 5; ++i) {
      ASSERT_TRUE(pub->Publish(*epoch, "old " + std::to_string(i)).ok());
    }
    for (int i = 1; i <= 2; ++i) {
      ASSERT_TRUE(pub->Publish(*x, "old x " + std::to_string(i)).ok());
    }
    ASSERT_TRUE(PollUntil(*sub, [&] { return seen.size() == 7; }));
  }

  Stop();
  ASSERT_TRUE(PollUntil(*sub, [&] { return !sub->connected(); }));
  Restart(config_);  // a second gateway instance on the same port
  const std::uint64_t second_epoch = gateway_->instance_epoch();
  ASSERT_NE(second_epoch, first_epoch);
  {
    // Retried: see GatewayRestartRemapsStreamsAndFlushesQueuedPublishes.
    absl::StatusOr<std::unique_ptr<Client>> pub;
    for (int attempt = 0; attempt < 50; ++attempt) {
      pub = Client::Connect("127.0.0.1", config_.port);
      if (pub.ok()) break;
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_TRUE(pub.ok()) << pub.status();
    auto epoch = (*pub)->OpenStream("epoch");
    auto x = (*pub)->OpenStream("ep.x");
    ASSERT_TRUE(epoch.ok() && x.ok());
    for (int i = 1; i <= 8; ++i) {
      ASSERT_TRUE((*pub)->Publish(*epoch, "new " + std::to_string(i)).ok());
    }
    ASSERT_TRUE((*pub)->PublishWithAck(*x, "new x 1").ok());
    ASSERT_TRUE((*pub)->PublishWithAck(*epoch, "sentinel").ok());
  }
  ASSERT_TRUE(AwaitReconnect(*sub, 1));
  ASSERT_TRUE(PollUntil(*sub, [&] { return seen.size() >= 7 + 10; }));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(sub->Poll(256, 2ms).ok());

  ASSERT_EQ(restarts.size(), 1u);
  EXPECT_EQ(restarts[0].old_epoch, first_epoch);
  EXPECT_EQ(restarts[0].new_epoch, second_epoch);
  EXPECT_EQ(restarts[0].streams,
            (std::vector<std::pair<std::string, std::uint64_t>>{{"ep.x", 3},
                                                                {"epoch", 6}}));
  EXPECT_EQ(sub->gateway_epoch(), second_epoch);
  EXPECT_EQ(sub->stats().gateway_restarts, 1u);
  // The report came before every message of the new run.
  ASSERT_EQ(events.size(), 1u + 7u + 10u);
  EXPECT_EQ(events[7], "restart");
  // The new run from its first message: 1..9 of "epoch", 1 of "ep.x".
  std::map<std::string, std::vector<std::uint64_t>> after;
  for (std::size_t i = 7; i < seen.size(); ++i) {
    after[seen[i].stream].push_back(seen[i].sequence);
  }
  EXPECT_EQ(after["epoch"],
            (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(after["ep.x"], (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(sub->stats().gaps, 0u);
  EXPECT_EQ(sub->stats().duplicates_dropped, 0u);
}

// Old peers are untouched: a session that offers only version 1 gets the
// 40-byte LOGON_ACK and SUBSCRIBE_ACKs without the epoch; one that offers
// version 2 gets the EPOCH forms, every one with the run's epoch, which is
// also the UDP egress source_id.
TEST_P(ReconnectTest, GatewayAnnouncesItsEpochOnlyToVersion2Sessions) {
  config::GatewayConfig config = TestConfig(GetParam());
  config.udp.enabled = true;
  config.udp.port = 0;
  Start(config);
  const std::uint64_t epoch = gateway_->instance_epoch();
  ASSERT_NE(epoch, 0u);
  EXPECT_EQ(gateway_->udp_source_id(), epoch);

  auto v1 = TestClient::Connect(gateway_->port());
  ASSERT_NE(v1, nullptr);
  auto ack = v1->Logon("", 10000, 1, 1);
  ASSERT_TRUE(ack && ack->type() == protocol::MessageType::kLogonAck);
  EXPECT_EQ(ack->bytes.size(), protocol::LogonAckView::kFixedLength);
  EXPECT_EQ(ack->view().flags(), 0);
  EXPECT_EQ(protocol::LogonAckView(ack->view()).negotiated_version(), 1);
  auto sub_ack = v1->Subscribe(1, "ep");
  ASSERT_TRUE(sub_ack &&
              sub_ack->type() == protocol::MessageType::kSubscribeAck);
  EXPECT_EQ(sub_ack->bytes.size(), protocol::StreamAckView::kFixedLength + 2);
  EXPECT_EQ(sub_ack->view().flags(), 0);

  auto v2 = TestClient::Connect(gateway_->port());
  ASSERT_NE(v2, nullptr);
  ack = v2->Logon("", 10000, 1, 2);
  ASSERT_TRUE(ack && ack->type() == protocol::MessageType::kLogonAck);
  const protocol::LogonAckView logon(ack->view());
  EXPECT_EQ(ack->bytes.size(), protocol::LogonAckView::kEpochLength);
  EXPECT_EQ(logon.negotiated_version(), 2);
  EXPECT_EQ(logon.instance_epoch(), epoch);
  for (const std::string_view name : {"ep", "e*"}) {
    sub_ack = v2->Subscribe(name == "ep" ? 1 : 2, name);
    ASSERT_TRUE(sub_ack &&
                sub_ack->type() == protocol::MessageType::kSubscribeAck);
    const protocol::StreamAckView v(sub_ack->view());
    EXPECT_EQ(v.flags(), protocol::kFlagEpoch) << name;
    EXPECT_EQ(v.instance_epoch(), epoch) << name;
    EXPECT_EQ(v.name(), name);
  }
  // A gateway-side check of the negotiation: 2..5 gets 3, the highest this
  // gateway speaks, whose LOGON_ACK keeps the EPOCH form.
  auto v5 = TestClient::Connect(gateway_->port());
  ack = v5->Logon("", 10000, 2, 5);
  ASSERT_TRUE(ack && ack->type() == protocol::MessageType::kLogonAck);
  const protocol::LogonAckView v3_ack(ack->view());
  EXPECT_EQ(v3_ack.negotiated_version(), 3);
  EXPECT_EQ(v3_ack.flags(), protocol::kFlagEpoch);
  EXPECT_EQ(v3_ack.instance_epoch(), epoch);
  sub_ack = v5->Subscribe(1, "ep");
  ASSERT_TRUE(sub_ack &&
              sub_ack->type() == protocol::MessageType::kSubscribeAck);
  EXPECT_EQ(protocol::StreamAckView(sub_ack->view()).instance_epoch(), epoch);
}

TEST_P(ReconnectTest, PublishingWhileDisconnectedFollowsThePolicy) {
  Start();
  ClientOptions queue_options = Resilient(DisconnectedPublish::kQueue);
  queue_options.reconnect.queue_bytes = 64;  // 4 entries of 8 + 8 bytes
  auto failing = Connect(Resilient());
  auto queuing = Connect(queue_options);
  auto a = failing->OpenStream("policy");
  auto b = queuing->OpenStream("policy");
  ASSERT_TRUE(a.ok() && b.ok());
  Stop();
  ASSERT_TRUE(PollUntil(*failing, [&] { return !failing->connected(); }));
  ASSERT_TRUE(PollUntil(*queuing, [&] { return !queuing->connected(); }));

  absl::Status s = failing->Publish(*a, "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("not connected"));
  EXPECT_EQ(failing->TryClaim(*a, 1).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(failing->PublishWithAck(*a, "x").status().code(),
            absl::StatusCode::kUnavailable);

  int accepted = 0;
  while (queuing->Publish(*b, "12345678").ok()) ++accepted;
  EXPECT_EQ(accepted, 4);
  s = queuing->Publish(*b, "12345678");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("queue"));
  // Receiving calls cannot be queued.
  EXPECT_EQ(queuing->PublishWithAck(*b, "x").status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(
      queuing
          ->Subscribe("policy", StartPosition::Latest(), [](const Message&) {})
          .status()
          .code(),
      absl::StatusCode::kUnavailable);
}

TEST_P(ReconnectTest, GivesUpAfterMaxAttemptsAndRefusesLogonRejects) {
  Start();
  ClientOptions limited = Resilient();
  limited.reconnect.max_attempts = 3;
  limited.reconnect.initial_backoff = 5ms;
  auto c = Connect(limited);
  auto rejected = Connect(Resilient());
  Stop();
  absl::Status status;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (status.ok() && std::chrono::steady_clock::now() < deadline) {
    status = c->Poll(16, 10ms).status();
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("gave up reconnecting"));
  EXPECT_THAT(status.message(), HasSubstr("after 3 attempts"));
  EXPECT_EQ(c->stats().reconnect_attempts, 3u);

  // A gateway that now demands a token rejects the reconnect: final.
  config::GatewayConfig cfg = config_;
  cfg.token = "secret";
  Restart(cfg);
  status = absl::OkStatus();
  while (status.ok() && std::chrono::steady_clock::now() < deadline) {
    status = rejected->Poll(16, 10ms).status();
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(status.message(), HasSubstr("NOT_AUTHORIZED"));
  EXPECT_FALSE(rejected->connected());
}

TEST_P(ReconnectTest, WithoutReconnectALostConnectionStaysLost) {
  Start();
  auto c = Connect();
  KillConnection(*c);
  absl::Status status;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (status.ok() && std::chrono::steady_clock::now() < deadline) {
    status = c->Poll(16, 10ms).status();
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(c->stats().reconnect_attempts, 0u);
}

// A new client against a gateway that speaks only version 1: it offers 1..3,
// takes 1, and has no epoch.
TEST(ReconnectVersionTest, ClientWorksWithAVersion1Gateway) {
  std::atomic<int> offered_max{0};
  {
    FakeServer server([&](FakePeer& peer) {
      auto logon = peer.ReadFrame();
      ASSERT_TRUE(logon);
      offered_max.store(
          protocol::LogonView(protocol::FrameView(*logon)).max_version());
      peer.SendFrame([](std::span<std::byte> out) {
        return protocol::EncodeLogonAck(out, {.version = 1,
                                              .heartbeat_interval_ms = 1000,
                                              .session_id = SessionId{9}});
      });
      peer.WaitForClose();
    });
    auto c = Client::Connect("127.0.0.1", server.port());
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ((*c)->gateway_epoch(), 0u);
    EXPECT_EQ((*c)->session_id(), SessionId{9});
  }  // the client closes, then the server's script ends and is joined
  EXPECT_EQ(offered_max.load(), protocol::kMaxProtocolVersion);
}

INSTANTIATE_TEST_SUITE_P(
    Backends, ReconnectTest,
    ::testing::Values(GatewayParam{config::IoBackend::kEpoll, 1},
                      GatewayParam{config::IoBackend::kUring, 2}),
    ParamName);

}  // namespace
}  // namespace tachyon::testing
