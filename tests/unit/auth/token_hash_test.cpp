#include "auth/token_hash.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

namespace tachyon::auth {
namespace {

TEST(TokenHashTest, RoundTrips) {
  const std::string line = HashToken("correct horse", kMinIterations);
  absl::StatusOr<TokenHash> h = ParseTokenHash(line);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->iterations, kMinIterations);
  EXPECT_EQ(h->salt.size(), kSaltBytes);
  EXPECT_EQ(h->hash.size(), kHashBytes);
  EXPECT_EQ(FormatTokenHash(*h), line);
  EXPECT_TRUE(VerifyToken("correct horse", *h));
  EXPECT_FALSE(VerifyToken("correct horsf", *h));
  EXPECT_FALSE(VerifyToken("", *h));
}

TEST(TokenHashTest, SaltsDiffer) {
  EXPECT_NE(HashToken("x", kMinIterations), HashToken("x", kMinIterations));
}

TEST(TokenHashTest, LineStartsWithScheme) {
  EXPECT_TRUE(
      HashToken("x", kMinIterations).starts_with("pbkdf2-sha256$1000$"));
}

TEST(TokenHashTest, RefusesMalformedLines) {
  for (const char* bad :
       {"", "plain-secret", "pbkdf2-sha256$20000$c2FsdHNhbHQ=",
        "sha1$20000$c2FsdHNhbHQ=$aGFzaA==", "pbkdf2-sha256$10$c2FsdHNhbHQ=$x",
        "pbkdf2-sha256$20000$!!!$aGFzaA==",
        "pbkdf2-sha256$20000$c2FsdHNhbHQ=$aGFzaA=="}) {
    EXPECT_FALSE(ParseTokenHash(bad).ok()) << bad;
  }
}

TEST(TokenHashTest, ConstantTimeEqualsComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", ""));
}

// Not an assertion on time: prints what one verification costs here.
TEST(TokenHashTest, ReportsVerificationCost) {
  absl::StatusOr<TokenHash> h =
      ParseTokenHash(HashToken("s", kDefaultIterations));
  ASSERT_TRUE(h.ok());
  const auto t0 = std::chrono::steady_clock::now();
  constexpr int kRuns = 5;
  for (int i = 0; i < kRuns; ++i) ASSERT_TRUE(VerifyToken("s", *h));
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - t0)
                      .count() /
                  kRuns;
  std::printf("PBKDF2-SHA-256 verification at %u iterations: %lld us\n",
              kDefaultIterations, static_cast<long long>(us));
}

}  // namespace
}  // namespace tachyon::auth
