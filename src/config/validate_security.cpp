// Validation of the security sections (README "Security"): [[udp_producers]]
// (PROTOCOL.md 16.7), [auth] and [[principals]] (7.8), [tls] and the TLS
// keys of [[backends]]. Part of Validate (validate.cpp).
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/source_filter.h"
#include "auth/token_hash.h"
#include "base/strings.h"
#include "config/keys.h"
#include "config/units.h"
#include "config/validate_parts.h"
#include "tachyon/protocol/stream_messages.h"

namespace tachyon::config {
namespace internal {
namespace {

// [auth] and [[principals]] (PROTOCOL.md 7.8).

// A permission entry: a stream name or prefix pattern (PROTOCOL.md 9.2);
// for `request`, a service name or a prefix pattern of one.
void CheckPermissionList(Problems& p, const std::string& key,
                         const std::vector<std::string>& entries,
                         bool services) {
  for (std::size_t j = 0; j < entries.size(); ++j) {
    const std::string& e = entries[j];
    const bool pattern = !e.empty() && e.back() == '*';
    const std::string_view stem =
        pattern ? std::string_view(e).substr(0, e.size() - 1) : e;
    bool ok;
    if (services) {
      ok = pattern ? (stem.empty() || IsServiceName(stem)) : IsServiceName(e);
    } else {
      ok = pattern ? protocol::IsValidPattern(e)
                   : protocol::IsValidStreamName(e);
    }
    if (ok) continue;
    std::string hint;
    if (e == ">" || e.ends_with(".>") || e.find("*.") != std::string::npos) {
      hint =
          "; patterns are prefixes ending in '*' (\"md.*\" matches "
          "\"md.eq.AAPL\"), not NATS tokens";
    }
    p.Add(
        Cat(key, "[", j, "]"),
        Cat("must be a ", services ? "service" : "stream",
            " name or a prefix pattern ending in '*', got ", Quoted(e), hint));
  }
}

}  // namespace

// [[udp_producers]]: PROTOCOL.md 16.7. Keys are read here, so that a
// missing or malformed key file is reported at the entry that names it.
void ValidateUdpProducers(const GatewayConfig& c, Problems& p) {
  for (std::size_t i = 0; i < c.udp_producers.size(); ++i) {
    const UdpProducer& u = c.udp_producers[i];
    const std::string prefix = Cat(kUdpProducers.key, "[", i, "]");
    if (!IsServiceName(u.name)) {
      p.Add(prefix + ".name",
            Cat("must be a name (1..64 of A-Z a-z 0-9 . _ -), got ",
                Quoted(u.name)));
    }
    CheckRange(p, prefix + ".id", u.id, kProducerIdRange);
    for (std::size_t j = 0; j < i; ++j) {
      if (c.udp_producers[j].id == u.id && kProducerIdRange.Contains(u.id)) {
        p.Add(prefix + ".id",
              Cat(u.id, " is already the id of ", kUdpProducers.key, "[", j,
                  "] (", Quoted(c.udp_producers[j].name),
                  "); producer ids must be unique"));
        break;
      }
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (IsServiceName(u.name) && c.udp_producers[j].name == u.name) {
        p.Add(prefix + ".name",
              Cat(Quoted(u.name), " is already the name of ", kUdpProducers.key,
                  "[", j, "]; names must be unique"));
        break;
      }
    }
    if (u.key.empty() == u.key_file.empty()) {
      p.Add(prefix + (u.key.empty() ? ".key_file" : ".key"),
            "set exactly one of key_file (preferred: a file only the gateway "
            "can read) and key");
    } else if (absl::StatusOr<std::array<std::byte, 16>> k =
                   ReadProducerKey(u.key, u.key_file);
               !k.ok()) {
      p.Add(prefix + (u.key.empty() ? ".key_file" : ".key"),
            StdView(k.status().message()));
    }
    for (std::size_t j = 0; j < u.allowed_sources.size(); ++j) {
      // UDP ingress is IPv4: an IPv6 network would never match.
      absl::StatusOr<auth::Cidr> n = auth::ParseCidr(u.allowed_sources[j]);
      if (!n.ok()) {
        p.Add(Cat(prefix, ".allowed_sources[", j, "]"),
              StdView(n.status().message()));
      } else if (n->network.family != AF_INET) {
        p.Add(Cat(prefix, ".allowed_sources[", j, "]"),
              Cat("must be an IPv4 network (UDP ingress is IPv4), got ",
                  Quoted(u.allowed_sources[j])));
      }
    }
    if (u.publish.empty()) {
      p.Add(prefix + ".publish",
            "needs at least one stream name or pattern, such as \"md.*\"");
    }
    for (std::size_t j = 0; j < u.publish.size(); ++j) {
      if (!protocol::IsValidStreamName(u.publish[j]) &&
          !protocol::IsValidPattern(u.publish[j])) {
        p.Add(Cat(prefix, ".publish[", j, "]"),
              Cat("must be a stream name (1..255 of A-Z a-z 0-9 . _ -) or a "
                  "prefix pattern ending in '*', got ",
                  Quoted(u.publish[j])));
      }
    }
  }
  CheckRange(p, "udp.max_sequence_jump", c.udp.max_sequence_jump,
             kSequenceJumpRange);
}

void ValidateAuth(const GatewayConfig& c, Problems& p) {
  const AuthOptions& a = c.auth;
  CheckPermissionList(p, "auth.anonymous_publish", a.anonymous_publish, false);
  CheckPermissionList(p, "auth.anonymous_subscribe", a.anonymous_subscribe,
                      false);
  CheckPermissionList(p, "auth.anonymous_create", a.anonymous_create, false);
  CheckPermissionList(p, "auth.anonymous_request", a.anonymous_request, true);
  CheckRange(p, "auth.anonymous_max_connections", a.anonymous_max_connections,
             kQuotaRange);
  CheckRange(p, "auth.anonymous_max_streams_created",
             a.anonymous_max_streams_created, kQuotaRange);
  CheckRange(p, "auth.anonymous_max_subscriptions",
             a.anonymous_max_subscriptions, kQuotaRange);
  CheckRange(p, "auth.max_verifications_per_second",
             a.max_verifications_per_second, kQuotaRange);
  for (std::size_t i = 0; i < c.principals.size(); ++i) {
    const Principal& pr = c.principals[i];
    const std::string prefix = Cat(kPrincipals.key, "[", i, "]");
    if (!IsServiceName(pr.name)) {
      p.Add(prefix + ".name",
            Cat("must be a principal name (1..64 of A-Z a-z 0-9 . _ -), got ",
                Quoted(pr.name)));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (c.principals[j].name == pr.name) {
        p.Add(prefix + ".name",
              Cat(Quoted(pr.name), " is already the name of ", kPrincipals.key,
                  "[", j, "]; principal names must be unique"));
        break;
      }
    }
    if (pr.token_hash.empty() && pr.certificate_subject.empty()) {
      p.Add(prefix + ".token_hash",
            "needs token_hash (tachyon-gateway --hash-token prints one) or "
            "certificate_subject: without either the principal can never "
            "log on");
    } else if (!pr.token_hash.empty()) {
      absl::StatusOr<auth::TokenHash> h = auth::ParseTokenHash(pr.token_hash);
      if (!h.ok()) {
        p.Add(prefix + ".token_hash", StdView(h.status().message()));
      }
    }
    if (!pr.certificate_subject.empty()) {
      for (std::size_t j = 0; j < i; ++j) {
        if (c.principals[j].certificate_subject == pr.certificate_subject) {
          p.Add(
              prefix + ".certificate_subject",
              Cat(Quoted(pr.certificate_subject), " is already the subject of ",
                  kPrincipals.key, "[", j, "]"));
          break;
        }
      }
    }
    for (std::size_t j = 0; j < pr.allowed_sources.size(); ++j) {
      absl::StatusOr<auth::Cidr> net = auth::ParseCidr(pr.allowed_sources[j]);
      if (!net.ok()) {
        p.Add(Cat(prefix, ".allowed_sources[", j, "]"),
              StdView(net.status().message()));
      }
    }
    CheckPermissionList(p, prefix + ".publish", pr.publish, false);
    CheckPermissionList(p, prefix + ".subscribe", pr.subscribe, false);
    CheckPermissionList(p, prefix + ".create", pr.create, false);
    CheckPermissionList(p, prefix + ".request", pr.request, true);
    CheckPermissionList(p, prefix + ".deny_publish", pr.deny_publish, false);
    CheckPermissionList(p, prefix + ".deny_subscribe", pr.deny_subscribe,
                        false);
    CheckPermissionList(p, prefix + ".deny_create", pr.deny_create, false);
    CheckPermissionList(p, prefix + ".deny_request", pr.deny_request, true);
    CheckRange(p, prefix + ".max_connections", pr.max_connections, kQuotaRange);
    CheckRange(p, prefix + ".max_streams_created", pr.max_streams_created,
               kQuotaRange);
    CheckRange(p, prefix + ".max_subscriptions", pr.max_subscriptions,
               kQuotaRange);
    CheckRange(p, prefix + ".publish_rate", pr.publish_rate,
               kMaxPublishRateRange);
    CheckRange(p, prefix + ".max_buffered_bytes",
               static_cast<std::int64_t>(pr.max_buffered_bytes),
               kBufferedBytesRange);
  }
}

// [tls] and the TLS keys of [[backends]]. Whether the files hold what they
// should is checked when the gateway builds its TLS contexts (at start,
// naming the file and OpenSSL's reason).
void ValidateTls(const GatewayConfig& c, Problems& p) {
  const TlsOptions& t = c.tls;
  CheckRange(p, "tls.port", t.port, kPortRange);
  CheckRange(p, "tls.handshake_timeout_ms", t.handshake_timeout_ms,
             kTlsHandshakeTimeoutRange);
  if (t.enabled) {
    if (t.certificate.empty()) {
      p.Add("tls.certificate",
            "is required with tls.enabled: the PEM file of the gateway's "
            "certificate chain");
    }
    if (t.private_key.empty()) {
      p.Add("tls.private_key",
            "is required with tls.enabled: the PEM file of the "
            "certificate's private key");
    }
    if (t.verify_client != TlsVerifyClient::kNone && t.client_ca.empty()) {
      p.Add("tls.client_ca",
            "is required when tls.verify_client is optional or require: the "
            "PEM file of the CA client certificates chain to");
    }
    if (t.plain && t.port == c.port && t.port != 0) {
      p.Add("tls.port", Cat("must differ from gateway.port (", c.port,
                            ") while tls.plain keeps the plain listener"));
    }
  } else if (!t.plain) {
    p.Add("tls.plain",
          "false turns the plain listener off, which needs tls.enabled = "
          "true (else nothing would listen)");
  }
  for (std::size_t i = 0; i < c.backends.size(); ++i) {
    const BackendService& b = c.backends[i];
    const std::string prefix = Cat(kBackends.key, "[", i, "]");
    const bool any_tls_key = !b.ca_file.empty() || !b.certificate.empty() ||
                             !b.private_key.empty() || !b.server_name.empty();
    if (!b.tls && any_tls_key) {
      p.Add(prefix + ".tls",
            "is false, but TLS keys (ca_file, certificate, private_key, "
            "server_name) are set; set tls = true or remove them");
    }
    if (b.certificate.empty() != b.private_key.empty()) {
      p.Add(prefix + (b.certificate.empty() ? ".certificate" : ".private_key"),
            "certificate and private_key go together: set both or neither");
    }
  }
}

}  // namespace internal
}  // namespace tachyon::config
