#include "auth/token_hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/strings.h"

namespace tachyon::auth {

namespace {

std::atomic<std::uint64_t> iterations_derived{0};

std::string Derive(std::string_view secret, std::string_view salt,
                   std::uint32_t iterations) {
  iterations_derived.fetch_add(iterations, std::memory_order_relaxed);
  std::string out(kHashBytes, '\0');
  if (PKCS5_PBKDF2_HMAC(secret.data(), static_cast<int>(secret.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()),
                        static_cast<int>(iterations), EVP_sha256(),
                        static_cast<int>(out.size()),
                        reinterpret_cast<unsigned char*>(out.data())) != 1) {
    // Only on allocation failure inside OpenSSL: nothing can be verified.
    std::abort();
  }
  return out;
}

}  // namespace

std::uint64_t IterationsDerived() {
  return iterations_derived.load(std::memory_order_relaxed);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // HMAC-SHA-256 of both under a per-process random key, compared in
  // constant time: neither the contents nor the lengths show in the time.
  static const std::array<unsigned char, 32> key = [] {
    std::array<unsigned char, 32> k{};
    if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1) std::abort();
    return k;
  }();
  unsigned char da[EVP_MAX_MD_SIZE];
  unsigned char db[EVP_MAX_MD_SIZE];
  unsigned int la = 0;
  unsigned int lb = 0;
  static const char kNone = 0;  // never a null pointer, even when empty
  if (a.empty()) a = std::string_view(&kNone, 0);
  if (b.empty()) b = std::string_view(&kNone, 0);
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(a.data()), a.size(), da,
           &la) == nullptr ||
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(b.data()), b.size(), db,
           &lb) == nullptr) {
    std::abort();
  }
  return CRYPTO_memcmp(da, db, la) == 0;
}

absl::StatusOr<TokenHash> ParseTokenHash(std::string_view line) {
  const std::vector<absl::string_view> parts =
      absl::StrSplit(AbslView(line), '$');
  if (parts.size() != 4 || parts[0] != AbslView(kHashScheme)) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be \"", AbslView(kHashScheme),
                     "$<iterations>$<salt base64>$<hash base64>\" as "
                     "tachyon-gateway --hash-token prints it"));
  }
  TokenHash h;
  if (!absl::SimpleAtoi(parts[1], &h.iterations) ||
      h.iterations < kMinIterations || h.iterations > kMaxIterations) {
    return absl::InvalidArgumentError(
        absl::StrCat("iterations must be between ", kMinIterations, " and ",
                     kMaxIterations, ", got '", parts[1], "'"));
  }
  if (!absl::Base64Unescape(parts[2], &h.salt) || h.salt.size() < 8) {
    return absl::InvalidArgumentError(
        "salt must be base64 of at least 8 bytes");
  }
  if (!absl::Base64Unescape(parts[3], &h.hash) || h.hash.size() != kHashBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("hash must be base64 of ", kHashBytes, " bytes"));
  }
  return h;
}

std::string FormatTokenHash(const TokenHash& h) {
  return absl::StrCat(AbslView(kHashScheme), "$", h.iterations, "$",
                      absl::Base64Escape(h.salt), "$",
                      absl::Base64Escape(h.hash));
}

std::string HashToken(std::string_view secret, std::uint32_t iterations) {
  TokenHash h;
  h.iterations = iterations;
  h.salt.assign(kSaltBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(h.salt.data()),
                 static_cast<int>(h.salt.size())) != 1) {
    std::abort();  // no randomness: a salt we cannot trust
  }
  h.hash = Derive(secret, h.salt, iterations);
  return FormatTokenHash(h);
}

bool VerifyToken(std::string_view secret, const TokenHash& h) {
  return ConstantTimeEquals(Derive(secret, h.salt, h.iterations), h.hash);
}

}  // namespace tachyon::auth
