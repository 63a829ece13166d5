// For tests of backend service processes (tachyon-reply, the service
// examples): start one on a free port, and play the gateway's part of the
// backend role against it with a raw test connection (LOGON, REQUEST, read
// the RESPONSE).
#ifndef TACHYON_TESTS_CLIENT_BACKEND_PEER_H_
#define TACHYON_TESTS_CLIENT_BACKEND_PEER_H_

#include <chrono>
#include <cstdint>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "support/process.h"
#include "support/test_client.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::testing {

/// Starts `argv` (a service that prints "<name>: listening on
/// 127.0.0.1:<port>") and returns the port it printed, or 0 (a test
/// failure) if it did not within 10 s.
inline std::uint16_t StartServiceProcess(Process* service,
                                         const std::vector<std::string>& argv) {
  *service = Process::Start(argv);
  const auto m = service->WaitForOutput(
      std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)"),
      std::chrono::seconds(10));
  if (!m) {
    ADD_FAILURE() << argv[0] << " did not start: " << service->err();
    return 0;
  }
  return static_cast<std::uint16_t>(std::stoi((*m)[1].str()));
}

/// Connects to the service on `port` as a gateway would (LOGON offering
/// versions 1..3), sends one REQUEST to service 9 and returns the
/// RESPONSE's status and payload text; UNAVAILABLE with a reason if any
/// step fails.
inline std::pair<protocol::ResponseStatus, std::string> AskAsGateway(
    std::uint16_t port, std::uint64_t correlation, std::string_view payload) {
  namespace tp = ::tachyon::protocol;
  auto gw = TestClient::Connect(port);
  if (gw == nullptr) return {tp::ResponseStatus::kUnavailable, "no connect"};
  auto ack = gw->Logon("", 10000, 1, 3);
  if (!ack || ack->type() != tp::MessageType::kLogonAck) {
    return {tp::ResponseStatus::kUnavailable, "no LOGON_ACK"};
  }
  std::vector<std::byte> buf(64 + payload.size());
  const std::size_t n =
      tp::EncodeRequest(buf, {.correlation_id = correlation,
                              .service_id = 9,
                              .timeout_ms = 1000,
                              .payload = tp::AsBytes(payload)});
  if (!gw->SendRaw({buf.data(), n})) {
    return {tp::ResponseStatus::kUnavailable, "send failed"};
  }
  auto f = gw->ReadSkippingHeartbeats(std::chrono::seconds(10));
  if (!f || f->type() != tp::MessageType::kResponse) {
    return {tp::ResponseStatus::kUnavailable, "no RESPONSE"};
  }
  const tp::ResponseView r(f->view());
  EXPECT_EQ(r.correlation_id(), correlation);
  EXPECT_EQ(r.service_id(), 9u);
  const auto p = r.payload();
  return {r.status(),
          std::string(reinterpret_cast<const char*>(p.data()), p.size())};
}

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_CLIENT_BACKEND_PEER_H_
