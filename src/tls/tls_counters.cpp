#include "tls/tls_counters.h"

#include <string>

namespace tachyon::tls {

std::string_view HandshakeFailureName(HandshakeFailure f) {
  switch (f) {
    case HandshakeFailure::kNotTls:
      return "not_tls";
    case HandshakeFailure::kNoCertificate:
      return "no_certificate";
    case HandshakeFailure::kVerifyFailed:
      return "verify_failed";
    case HandshakeFailure::kPeerAlert:
      return "peer_alert";
    case HandshakeFailure::kPeerClosed:
      return "peer_closed";
    case HandshakeFailure::kTimeout:
      return "timeout";
    case HandshakeFailure::kProtocol:
    case HandshakeFailure::kCount:
      break;
  }
  return "protocol";
}

TlsCounters::TlsCounters(base::CounterRegistry& registry, int worker,
                         std::string_view side) {
  const std::string w = std::to_string(worker);
  base::Labels base{{"worker", w}, {"side", std::string(side)}};
  handshakes_ok =
      registry.AddCounter(kHandshakesTotal, "TLS handshakes completed", base);
  for (int i = 0; i < static_cast<int>(HandshakeFailure::kCount); ++i) {
    base::Labels l = base;
    l.push_back({"reason", std::string(HandshakeFailureName(
                               static_cast<HandshakeFailure>(i)))});
    handshakes_failed[i] = registry.AddCounter(
        kHandshakesFailedTotal, "TLS handshakes that failed", std::move(l));
  }
  connections_open =
      registry.AddGauge(kConnectionsOpen, "TLS connections open", base);
  bytes_encrypted = registry.AddCounter(
      kBytesEncryptedTotal, "plaintext bytes encrypted and sent", base);
  bytes_decrypted = registry.AddCounter(
      kBytesDecryptedTotal, "plaintext bytes received and decrypted", base);
}

}  // namespace tachyon::tls
