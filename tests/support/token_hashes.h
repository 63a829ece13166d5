// The token hashes of the test principals alice ("alice-secret") and bob
// ("bob-secret"), made once per test binary: each is a PBKDF2 derivation
// (1,000 iterations, the least config accepts), slow under sanitizers.
#ifndef TACHYON_TESTS_SUPPORT_TOKEN_HASHES_H_
#define TACHYON_TESTS_SUPPORT_TOKEN_HASHES_H_

#include <string>

#include "auth/token_hash.h"

namespace tachyon::testing {

inline const std::string& AliceHash() {
  static const std::string h = auth::HashToken("alice-secret", 1000);
  return h;
}
inline const std::string& BobHash() {
  static const std::string h = auth::HashToken("bob-secret", 1000);
  return h;
}

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_SUPPORT_TOKEN_HASHES_H_
