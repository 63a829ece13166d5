#include "auth/authenticator.h"

#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/strings.h"

namespace tachyon::auth {

namespace {

constexpr std::string_view kRejected = "logon token rejected";

std::string Hmac(const std::array<std::uint8_t, 32>& key,
                 std::string_view data) {
  unsigned char out[32];
  unsigned int len = sizeof out;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
       &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

bool SourceAllowed(const Identity& id, const IpAddress& peer) {
  if (id.allowed_sources.empty()) return true;
  return std::any_of(id.allowed_sources.begin(), id.allowed_sources.end(),
                     [&](const Cidr& c) { return c.Contains(peer); });
}

bool TryAdd(std::atomic<int>& counter, int limit) {
  if (limit <= 0) {
    counter.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  int n = counter.load(std::memory_order_relaxed);
  do {
    if (n >= limit) return false;
  } while (!counter.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  return true;
}

}  // namespace

Identity::Identity(std::string name, bool anonymous, Permissions permissions,
                   Quotas quotas, std::shared_ptr<Usage> usage)
    : name_(std::move(name)),
      anonymous_(anonymous),
      label_(anonymous ? std::string("anonymous sessions")
                       : absl::StrCat("principal '", name_, "'")),
      permissions_(std::move(permissions)),
      quotas_(quotas),
      usage_(std::move(usage)) {}

bool Identity::TryAddConnection() const {
  return TryAdd(usage_->connections, quotas_.max_connections);
}
void Identity::ReleaseConnection() const {
  usage_->connections.fetch_sub(1, std::memory_order_relaxed);
}
bool Identity::TryAddSubscription() const {
  return TryAdd(usage_->subscriptions, quotas_.max_subscriptions);
}
void Identity::ReleaseSubscription() const {
  usage_->subscriptions.fetch_sub(1, std::memory_order_relaxed);
}

std::uint32_t Identity::TakePublishTokens(std::int64_t now_ns,
                                          std::uint32_t want) const {
  const double rate = quotas_.publish_rate;
  base::SpinLockGuard lock(usage_->rate_lock);
  Usage& u = *usage_;
  if (u.rate_tokens < 0) {
    u.rate_tokens = rate;
  } else if (now_ns > u.rate_at_ns) {
    u.rate_tokens =
        std::min(rate, u.rate_tokens + (now_ns - u.rate_at_ns) * 1e-9 * rate);
  }
  u.rate_at_ns = std::max(u.rate_at_ns, now_ns);
  const auto granted = static_cast<std::uint32_t>(
      std::min<double>(want, std::max(0.0, u.rate_tokens)));
  u.rate_tokens -= granted;
  return granted;
}

bool Identity::MatchesRemembered(
    std::string_view secret, const std::array<std::uint8_t, 32>& key) const {
  if (!token_hash) return false;
  const std::string digest = Hmac(key, secret);
  std::lock_guard<std::mutex> lock(accepted_mu_);
  return !accepted_digest_.empty() &&
         ConstantTimeEquals(accepted_digest_, digest);
}

bool Identity::CheckSecret(std::string_view secret,
                           const std::array<std::uint8_t, 32>& key) const {
  if (!token_hash) return false;
  const std::string digest = Hmac(key, secret);
  {
    std::lock_guard<std::mutex> lock(accepted_mu_);
    if (!accepted_digest_.empty() &&
        ConstantTimeEquals(accepted_digest_, digest)) {
      return true;
    }
  }
  if (!VerifyToken(secret, *token_hash)) return false;
  std::lock_guard<std::mutex> lock(accepted_mu_);
  accepted_digest_ = digest;
  return true;
}

absl::Status ValidateAuthConfig(const config::GatewayConfig& config) {
  for (std::size_t i = 0; i < config.principals.size(); ++i) {
    const config::Principal& p = config.principals[i];
    const std::string prefix = absl::StrCat("principals[", i, "]");
    if (!p.token_hash.empty()) {
      absl::StatusOr<TokenHash> h = ParseTokenHash(p.token_hash);
      if (!h.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(prefix, ".token_hash: ", h.status().message()));
      }
    }
    for (std::size_t j = 0; j < p.allowed_sources.size(); ++j) {
      absl::StatusOr<Cidr> c = ParseCidr(p.allowed_sources[j]);
      if (!c.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            prefix, ".allowed_sources[", j, "]: ", c.status().message()));
      }
    }
  }
  return absl::OkStatus();
}

Authenticator::Authenticator(const config::GatewayConfig& config) {
  if (RAND_bytes(digest_key_.data(), static_cast<int>(digest_key_.size())) !=
      1) {
    std::abort();
  }
  absl::StatusOr<TokenHash> dummy =
      ParseTokenHash(HashToken("", kDefaultIterations));
  dummy_ = *dummy;
  snapshot_ = Build(config);
}

std::shared_ptr<Usage> Authenticator::UsageFor(const std::string& key) {
  std::shared_ptr<Usage>& u = usage_[key];
  if (u == nullptr) u = std::make_shared<Usage>();
  return u;
}

std::shared_ptr<const Authenticator::Snapshot> Authenticator::Build(
    const config::GatewayConfig& config) {
  auto s = std::make_shared<Snapshot>();
  const config::AuthOptions& a = config.auth;
  s->anonymous = a.anonymous;
  s->legacy_token = config.token;
  s->refusal_iterations = kDefaultIterations;
  s->verifications_per_second = a.max_verifications_per_second;
  {
    Permissions perms{
        .publish = NameFilter(a.anonymous_publish, {}),
        .subscribe = NameFilter(a.anonymous_subscribe, {}),
        .create = NameFilter(a.anonymous_create, {}),
        .request = NameFilter(a.anonymous_request, {}),
    };
    const Quotas q{.max_connections = a.anonymous_max_connections,
                   .max_streams_created = a.anonymous_max_streams_created,
                   .max_subscriptions = a.anonymous_max_subscriptions};
    // Usage keys: principal names cannot contain '$'.
    s->anonymous_identity = std::make_shared<Identity>(
        "", true, std::move(perms), q, UsageFor("$anonymous"));
  }
  for (const config::Principal& p : config.principals) {
    Permissions perms{
        .publish = NameFilter(p.publish, p.deny_publish),
        .subscribe = NameFilter(p.subscribe, p.deny_subscribe),
        .create = NameFilter(p.create, p.deny_create),
        .request = NameFilter(p.request, p.deny_request),
    };
    const Quotas q{.max_connections = p.max_connections,
                   .max_streams_created = p.max_streams_created,
                   .max_subscriptions = p.max_subscriptions,
                   .publish_rate = p.publish_rate,
                   .max_buffered_bytes = p.max_buffered_bytes};
    auto id = std::make_shared<Identity>(p.name, false, std::move(perms), q,
                                         UsageFor(p.name));
    if (!p.token_hash.empty()) {
      absl::StatusOr<TokenHash> h = ParseTokenHash(p.token_hash);
      if (!h.ok()) {
        TACHYON_LOG(kError)
            << "principal '" << p.name
            << "': token_hash ignored: " << h.status().message();
      } else {
        s->refusal_iterations = std::max(s->refusal_iterations, h->iterations);
        id->token_hash = *std::move(h);
      }
    }
    id->certificate_subject = p.certificate_subject;
    for (const std::string& text : p.allowed_sources) {
      absl::StatusOr<Cidr> c = ParseCidr(text);
      if (c.ok()) {
        id->allowed_sources.push_back(*c);
      } else {
        // A source that cannot be parsed must not widen access: the
        // principal then logs on from nowhere.
        TACHYON_LOG(kError)
            << "principal '" << p.name
            << "': allowed_sources entry ignored: " << c.status().message();
        id->allowed_sources.push_back(Cidr{});
      }
    }
    if (!p.certificate_subject.empty()) {
      s->by_subject.emplace(p.certificate_subject, id);
    }
    s->by_name.emplace(p.name, std::move(id));
  }
  return s;
}

void Authenticator::Update(const config::GatewayConfig& config) {
  std::lock_guard<std::mutex> lock(mu_);
  snapshot_ = Build(config);
  generation_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const Authenticator::Snapshot> Authenticator::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snapshot_;
}

bool Authenticator::anonymous_allowed() const { return Current()->anonymous; }

AuthResult Authenticator::Authenticate(
    std::string_view token, const IpAddress& peer,
    std::string_view certificate_subject) const {
  const std::shared_ptr<const Snapshot> s = Current();
  auto refuse = [](std::string log_text) {
    return AuthResult{.client_text = std::string(kRejected),
                      .log_text = std::move(log_text)};
  };
  auto accept = [&](const std::shared_ptr<const Identity>& id,
                    std::string_view how) -> AuthResult {
    if (!SourceAllowed(*id, peer)) {
      return refuse(absl::StrCat(id->label(), " (", AbslView(how),
                                 ") may not log on from ", peer.ToString(),
                                 ": not in allowed_sources"));
    }
    return AuthResult{.identity = id};
  };
  if (!certificate_subject.empty()) {
    auto it = s->by_subject.find(AbslView(certificate_subject));
    if (it != s->by_subject.end()) return accept(it->second, "certificate");
  }
  // Every path below that derives (a verification or a refusal's fixed
  // cost) first takes one from the gateway-wide budget.
  auto limited = [&]() -> AuthResult {
    return AuthResult{
        .client_text = absl::StrCat(
            "too many logons to verify: auth.max_verifications_per_second = ",
            s->verifications_per_second, "; try again later"),
        .log_text =
            "verification budget spent "
            "(auth.max_verifications_per_second)",
        .limited = true};
  };
  const std::size_t colon = token.find(':');
  if (colon != std::string_view::npos) {
    auto it = s->by_name.find(AbslView(token.substr(0, colon)));
    const std::string_view secret = token.substr(colon + 1);
    if (it != s->by_name.end()) {
      // The secret last accepted costs one HMAC: not charged.
      if (it->second->MatchesRemembered(secret, digest_key_)) {
        return accept(it->second, "token");
      }
      if (!TakeVerification(*s)) return limited();
      if (!it->second->CheckSecret(secret, digest_key_)) {
        // The principal's own derivation (none without a token_hash), then
        // the rest of the fixed refusal cost.
        PayRefusal(
            *s, secret,
            it->second->token_hash ? it->second->token_hash->iterations : 0);
        return refuse(absl::StrCat(
            it->second->label(), ": wrong secret",
            it->second->token_hash ? "" : " (it has no token_hash)"));
      }
      return accept(it->second, "token");
    }
    // An unknown name: refused whether or not anonymous logon is on (the
    // answer must not tell a known name from an unknown one), unless the
    // token is session.token itself or there are no principals at all
    // (nothing to tell apart; the token is then only session.token's).
    if (!s->anonymous || (!s->by_name.empty() &&
                          (s->legacy_token.empty() ||
                           !ConstantTimeEquals(token, s->legacy_token)))) {
      if (!TakeVerification(*s)) return limited();
      PayRefusal(*s, secret, 0);
      return refuse(absl::StrCat(
          "unknown principal '",
          AbslView(token.substr(0, std::min<std::size_t>(colon, 64))), "'"));
    }
  }
  if (!s->anonymous) {
    if (!TakeVerification(*s)) return limited();
    PayRefusal(*s, token, 0);
    return refuse(token.empty() ? "anonymous logon is disabled (auth.anonymous "
                                  "= false) and the LOGON has no token"
                                : "anonymous logon is disabled (auth.anonymous "
                                  "= false) and the token names no principal");
  }
  if (!s->legacy_token.empty() && !ConstantTimeEquals(token, s->legacy_token)) {
    if (!TakeVerification(*s)) return limited();
    PayRefusal(*s, token, 0);
    return refuse("anonymous logon: token is not session.token");
  }
  return AuthResult{.identity = s->anonymous_identity};
}

bool Authenticator::TakeVerification(const Snapshot& s) const {
  if (s.verifications_per_second <= 0) return true;
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::steady_clock::now().time_since_epoch())
          .count();
  const std::int64_t interval = 1'000'000'000 / s.verifications_per_second;
  // A burst of up to one second's worth, then one per interval.
  const std::int64_t tolerance = 1'000'000'000 - interval;
  std::int64_t tat = verify_tat_ns_.load(std::memory_order_relaxed);
  while (true) {
    const std::int64_t start = std::max(tat, now);
    if (start - now > tolerance) return false;
    if (verify_tat_ns_.compare_exchange_weak(tat, start + interval,
                                             std::memory_order_relaxed)) {
      return true;
    }
  }
}

void Authenticator::PayRefusal(const Snapshot& s, std::string_view secret,
                               std::uint32_t spent) const {
  if (spent >= s.refusal_iterations) return;
  TokenHash h = dummy_;
  h.iterations = s.refusal_iterations - spent;
  (void)VerifyToken(secret, h);
}

std::shared_ptr<const Identity> Authenticator::Refresh(
    const Identity& old) const {
  const std::shared_ptr<const Snapshot> s = Current();
  if (old.anonymous()) {
    return s->anonymous ? s->anonymous_identity : nullptr;
  }
  auto it = s->by_name.find(old.name());
  return it == s->by_name.end() ? nullptr : it->second;
}

}  // namespace tachyon::auth
