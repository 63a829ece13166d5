// TLS counters of one worker: handshakes that succeeded and failed (by
// reason), TLS connections open, and bytes encrypted and decrypted.
//
// Threading: registered on any thread; Add/Set from the owning worker only.
#ifndef TACHYON_TLS_TLS_COUNTERS_H_
#define TACHYON_TLS_TLS_COUNTERS_H_

#include <string_view>

#include "base/counters.h"

namespace tachyon::tls {

inline constexpr std::string_view kHandshakesTotal =
    "tachyon_tls_handshakes_total";
inline constexpr std::string_view kHandshakesFailedTotal =
    "tachyon_tls_handshakes_failed_total";
inline constexpr std::string_view kConnectionsOpen =
    "tachyon_tls_connections_open";
inline constexpr std::string_view kBytesEncryptedTotal =
    "tachyon_tls_bytes_encrypted_total";
inline constexpr std::string_view kBytesDecryptedTotal =
    "tachyon_tls_bytes_decrypted_total";

/// Why a handshake failed.
enum class HandshakeFailure {
  kNotTls,         ///< the peer did not speak TLS (a plain client)
  kNoCertificate,  ///< verify_client = require and none was sent
  kVerifyFailed,   ///< the peer's certificate did not verify
  kPeerAlert,      ///< the peer refused us (e.g. it does not trust our CA)
  kPeerClosed,     ///< EOF or reset before the handshake finished
  kTimeout,        ///< not finished within the handshake timeout
  kProtocol,       ///< anything else OpenSSL refused
  kCount
};
std::string_view HandshakeFailureName(HandshakeFailure f);

struct TlsCounters {
  /// `side`: "server" (accepted connections) or "client" (backends).
  TlsCounters(base::CounterRegistry& registry, int worker,
              std::string_view side);
  /// Unregistered counters (tests, tools).
  TlsCounters() = default;

  base::Counter handshakes_ok;
  base::Counter handshakes_failed[static_cast<int>(HandshakeFailure::kCount)];
  base::Gauge connections_open;
  base::Counter bytes_encrypted;  ///< plaintext bytes sent
  base::Counter bytes_decrypted;  ///< plaintext bytes received

  base::Counter& failed(HandshakeFailure f) {
    return handshakes_failed[static_cast<int>(f)];
  }
};

}  // namespace tachyon::tls

#endif  // TACHYON_TLS_TLS_COUNTERS_H_
