// Authenticator: who a LOGON is (a principal, or anonymous), and what that
// identity may do and use.
//
// Overview
//   Built from the configuration's [auth] table and [[principals]] array
//   (config/model.h) into an immutable snapshot; Update replaces the
//   snapshot as a whole (a reload), bumping generation(). Every worker's
//   sessions share one Authenticator.
//
//   Authenticate(token, peer, certificate_subject), in order:
//     1. a non-empty certificate subject equal to a principal's
//        certificate_subject logs on as that principal (no token needed);
//     2. a token "<name>:<secret>" whose name is a principal's is checked
//        against its token_hash (PBKDF2, constant-time compare);
//     3. anything else is anonymous when [auth] anonymous is true (and the
//        token equals session.token when that is set, constant time),
//        refused otherwise.
//   A principal with allowed_sources refuses a peer outside them. A wrong
//   secret, an unknown principal and a refused source all give the client
//   the same text ("logon token rejected"); the log line (log_text) says
//   which. Every refusal pays the same derivation cost (a dummy hash at
//   the most iterations any principal's hash uses, at least
//   kDefaultIterations; a wrong secret pays its principal's derivation and
//   the rest against the dummy), so the time does not tell which names
//   exist, which have a token_hash, or what iterations they use. With
//   anonymous on, a token "<name>:<secret>" naming no principal is refused
//   like a wrong secret (unless it equals session.token), so the answer
//   does not tell names apart either.
//
//   Cost, measured on the build machine (AMD EPYC, 2 shared vCPUs, OpenSSL
//   3.0; tests/unit/auth ReportsLogonCost): one PBKDF2-SHA-256
//   verification at kDefaultIterations (10000) takes about 2.3 ms of the
//   worker thread (several times that when the cores are busy); a repeated
//   logon with the secret last accepted for that principal costs one
//   HMAC-SHA-256 and a map lookup, about 1.3 us: after a successful
//   verification the principal keeps an HMAC of the accepted secret under a
//   per-process random key (never the secret itself). A wrong secret, and
//   an unknown principal (against a dummy hash), always pay the full PBKDF2;
//   the per-address logon-failure budget bounds how often.
//
//   Identity: the principal's name, permissions (permissions.h) and quotas,
//   and its Usage: counters shared by every session of the principal on
//   every worker (atomics), kept across reloads by principal name. All
//   anonymous sessions share one identity.
//
// Example
//   Authenticator auth(config);
//   AuthResult r = auth.Authenticate("alice:s3cret", peer, "");
//   if (r.identity == nullptr) reject(r.client_text);
//   else if (!r.identity->TryAddConnection()) reject(...max_connections...);
//
// Threading: every member may be called from any thread. Authenticate and
// Update serialise on an internal mutex only to copy the snapshot pointer;
// Identity's counters are atomics; its publish-rate bucket a spin lock.
#ifndef TACHYON_AUTH_AUTHENTICATOR_H_
#define TACHYON_AUTH_AUTHENTICATOR_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "auth/permissions.h"
#include "auth/source_filter.h"
#include "auth/token_hash.h"
#include "base/spin_lock.h"
#include "config/model.h"

namespace tachyon::auth {

/// Quotas of one identity; 0 is unlimited.
struct Quotas {
  int max_connections = 0;
  int max_streams_created = 0;
  int max_subscriptions = 0;
  std::uint32_t publish_rate = 0;
  std::size_t max_buffered_bytes = 0;
};

/// What an identity uses now, over all its sessions on every worker.
/// Shared (shared_ptr) by the snapshots that name the same principal.
struct Usage {
  std::atomic<int> connections{0};
  std::atomic<int> subscriptions{0};
  /// Streams created by the identity that still exist: the stream
  /// registry decrements it when such a stream is retired.
  std::shared_ptr<std::atomic<std::int64_t>> streams_created =
      std::make_shared<std::atomic<std::int64_t>>(0);
  base::SpinLock rate_lock;
  double rate_tokens = -1;  // < 0: not started
  std::int64_t rate_at_ns = 0;
};

class Identity {
 public:
  Identity(std::string name, bool anonymous, Permissions permissions,
           Quotas quotas, std::shared_ptr<Usage> usage);

  /// The principal's name; "" for anonymous.
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] bool anonymous() const { return anonymous_; }
  /// "principal 'alice'" or "anonymous sessions", for refusal texts.
  [[nodiscard]] const std::string& label() const { return label_; }
  [[nodiscard]] const Permissions& permissions() const { return permissions_; }
  [[nodiscard]] const Quotas& quotas() const { return quotas_; }
  [[nodiscard]] Usage& usage() const { return *usage_; }
  [[nodiscard]] const std::shared_ptr<Usage>& shared_usage() const {
    return usage_;
  }

  /// One more session; false (nothing taken) at max_connections.
  [[nodiscard]] bool TryAddConnection() const;
  void ReleaseConnection() const;
  /// One more subscription; false (nothing taken) at max_subscriptions.
  [[nodiscard]] bool TryAddSubscription() const;
  void ReleaseSubscription() const;
  /// Publish rate: up to `want` messages' worth of tokens from the shared
  /// bucket (refilled at publish_rate per second, at most one second's
  /// worth banked); returns how many were granted (0: over the rate).
  /// Only called when publish_rate > 0.
  [[nodiscard]] std::uint32_t TakePublishTokens(std::int64_t now_ns,
                                                std::uint32_t want) const;

  /// Token logon (principals only): the parsed token_hash, empty when the
  /// principal has none.
  std::optional<TokenHash> token_hash;
  std::string certificate_subject;
  std::vector<Cidr> allowed_sources;
  /// True when `secret` is the one last accepted (its HMAC digest is
  /// remembered): no derivation needed.
  [[nodiscard]] bool MatchesRemembered(
      std::string_view secret, const std::array<std::uint8_t, 32>& key) const;
  /// True when `secret` is the principal's: the HMAC fast path, else a full
  /// PBKDF2 verification (whose success is then remembered).
  [[nodiscard]] bool CheckSecret(std::string_view secret,
                                 const std::array<std::uint8_t, 32>& key) const;

 private:
  std::string name_;
  bool anonymous_;
  std::string label_;
  Permissions permissions_;
  Quotas quotas_;
  std::shared_ptr<Usage> usage_;
  mutable std::mutex accepted_mu_;
  mutable std::string accepted_digest_;  // HMAC of the last accepted secret
};

struct AuthResult {
  /// The identity logged on as; nullptr when refused.
  std::shared_ptr<const Identity> identity;
  /// Refused: the LOGON_REJECT text (the same for every credential fault).
  std::string client_text;
  /// Refused: why, for the log line (names the principal or the fault).
  std::string log_text;
  /// Refused LIMIT_EXCEEDED rather than NOT_AUTHORIZED: the gateway-wide
  /// verification budget (auth.max_verifications_per_second) was spent.
  bool limited = false;
};

/// Checks the [auth] and [[principals]] of `config` beyond what the
/// config validation checks (token_hash syntax, CIDRs); the problem names
/// the key, "principals[1].token_hash: ...".
absl::Status ValidateAuthConfig(const config::GatewayConfig& config);

class Authenticator {
 public:
  /// Builds the first snapshot; `config` must pass ValidateAuthConfig
  /// (entries that do not are skipped and logged).
  explicit Authenticator(const config::GatewayConfig& config);

  /// Replaces the snapshot (a reload). Identities handed out before keep
  /// working; sessions look again when generation() moved (Refresh).
  void Update(const config::GatewayConfig& config);
  /// Bumped by every Update (acquire: a session that sees the new value
  /// sees the new snapshot).
  [[nodiscard]] std::uint64_t generation() const {
    return generation_.load(std::memory_order_acquire);
  }

  /// See the overview. `token` is the LOGON token field.
  [[nodiscard]] AuthResult Authenticate(
      std::string_view token, const IpAddress& peer,
      std::string_view certificate_subject) const;

  /// The current identity for the holder of `old` after a reload: the
  /// principal of the same name (or the anonymous identity), nullptr when
  /// it no longer exists (or anonymous access was turned off).
  [[nodiscard]] std::shared_ptr<const Identity> Refresh(
      const Identity& old) const;

  /// Whether anonymous access is on, and whether any principal exists.
  [[nodiscard]] bool anonymous_allowed() const;

 private:
  struct Snapshot {
    bool anonymous = true;
    std::string legacy_token;
    // Iterations every refusal pays: the most any principal's hash uses,
    // at least kDefaultIterations.
    std::uint32_t refusal_iterations = 0;
    // auth.max_verifications_per_second; 0: unlimited.
    int verifications_per_second = 0;
    std::shared_ptr<const Identity> anonymous_identity;
    absl::flat_hash_map<std::string, std::shared_ptr<const Identity>> by_name;
    absl::flat_hash_map<std::string, std::shared_ptr<const Identity>>
        by_subject;
  };
  std::shared_ptr<const Snapshot> Build(const config::GatewayConfig& config);
  std::shared_ptr<const Snapshot> Current() const;
  std::shared_ptr<Usage> UsageFor(const std::string& key);
  // Derives `secret` against the dummy hash for what is left of
  // s.refusal_iterations after `spent` iterations: every refusal then
  // costs the same.
  void PayRefusal(const Snapshot& s, std::string_view secret,
                  std::uint32_t spent) const;
  // Takes one full verification from the gateway-wide budget; false when
  // it is spent.
  bool TakeVerification(const Snapshot& s) const;

  std::array<std::uint8_t, 32> digest_key_{};
  TokenHash dummy_;
  // The verification budget as a GCRA: the theoretical arrival time of the
  // next verification, steady-clock ns (one atomic, CAS-updated).
  mutable std::atomic<std::int64_t> verify_tat_ns_{0};
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_;
  absl::flat_hash_map<std::string, std::shared_ptr<Usage>> usage_;
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace tachyon::auth

#endif  // TACHYON_AUTH_AUTHENTICATOR_H_
