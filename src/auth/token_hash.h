// Token hashing: the salted, stretched form in which principals' LOGON
// secrets are stored in the configuration ([[principals]] token_hash).
//
// Overview
//   A stored hash is one line:
//
//     pbkdf2-sha256$<iterations>$<salt, base64>$<hash, base64>
//
//   PBKDF2-HMAC-SHA-256 (OpenSSL's PKCS5_PBKDF2_HMAC) over the secret with a
//   16-byte random salt (RAND_bytes) and a 32-byte output. VerifyToken
//   derives again and compares in constant time (CRYPTO_memcmp). The plain
//   secret is never stored; `tachyon-gateway --hash-token` prints the line
//   for a secret read from stdin.
//
//   Cost: one verification at kDefaultIterations is a few milliseconds of
//   one core (figures in src/auth/authenticator.h). Secrets are meant to be
//   long random strings (e.g. `openssl rand -base64 32`), so the stretching
//   guards a leaked config against guessing weak secrets, not against
//   brute force of strong ones. The Authenticator keeps a keyed digest of
//   an accepted secret so that a repeated logon costs one HMAC.
//
// Example
//   std::string line = HashToken("s3cret-from-stdin");
//   absl::StatusOr<TokenHash> h = ParseTokenHash(line);
//   bool ok = h.ok() && VerifyToken("s3cret-from-stdin", *h);
//
// Threading: free functions, safe from any thread.
#ifndef TACHYON_AUTH_TOKEN_HASH_H_
#define TACHYON_AUTH_TOKEN_HASH_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tachyon::auth {

/// The stretching applied by HashToken unless told otherwise.
inline constexpr std::uint32_t kDefaultIterations = 10'000;
/// Bounds ParseTokenHash accepts (a hash cheaper than the minimum is
/// refused rather than trusted; one beyond the maximum would stall a worker
/// for seconds at every wrong logon).
inline constexpr std::uint32_t kMinIterations = 1'000;
inline constexpr std::uint32_t kMaxIterations = 10'000'000;
inline constexpr std::size_t kSaltBytes = 16;
inline constexpr std::size_t kHashBytes = 32;
inline constexpr std::string_view kHashScheme = "pbkdf2-sha256";

/// A parsed token_hash line.
struct TokenHash {
  std::uint32_t iterations = 0;
  std::string salt;  ///< raw bytes
  std::string hash;  ///< raw bytes, kHashBytes
};

/// Parses `line`; InvalidArgument naming what is wrong (scheme, iteration
/// count out of [kMinIterations, kMaxIterations], bad base64, sizes).
absl::StatusOr<TokenHash> ParseTokenHash(std::string_view line);

/// The token_hash line for `secret`, with a fresh random salt.
std::string HashToken(std::string_view secret,
                      std::uint32_t iterations = kDefaultIterations);

/// The line of `h` (the inverse of ParseTokenHash).
std::string FormatTokenHash(const TokenHash& h);

/// True when `secret` derives to `h.hash`: one full PBKDF2 derivation and a
/// constant-time comparison (ConstantTimeEquals).
bool VerifyToken(std::string_view secret, const TokenHash& h);

/// Constant-time equality of two byte strings: HMAC-SHA-256 of each under a
/// per-process random key, compared with CRYPTO_memcmp, so that the time
/// tells neither the contents nor the lengths. Every secret comparison
/// goes through it.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

/// PBKDF2 iterations derived by this process so far (every thread; relaxed
/// atomic): lets tests check what a path costs without a clock.
std::uint64_t IterationsDerived();

}  // namespace tachyon::auth

#endif  // TACHYON_AUTH_TOKEN_HASH_H_
