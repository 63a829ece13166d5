#include "base/safe_text.h"

#include <string>

#include "gtest/gtest.h"

namespace tachyon::base {
namespace {

TEST(SafeTextTest, PrintableAsciiIsCopied) {
  EXPECT_EQ(Quoted("md.eq.AAPL"), "md.eq.AAPL");
  EXPECT_EQ(Quoted(""), "");
}

TEST(SafeTextTest, ControlCharactersAndDelAreEscaped) {
  EXPECT_EQ(Quoted(std::string("a\nb\0c\x7f", 6)), "a\\x0ab\\x00c\\x7f");
}

TEST(SafeTextTest, BackslashIsDoubledSoEscapesReadBackUnambiguously) {
  EXPECT_EQ(Quoted("a\\x41"), "a\\\\x41");
}

TEST(SafeTextTest, WellFormedUtf8IsKept) {
  const std::string s = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
  EXPECT_EQ(Quoted(s), s);
}

TEST(SafeTextTest, InvalidUtf8BytesAreEscaped) {
  EXPECT_EQ(Quoted("a\xff\xfe"), "a\\xff\\xfe");
  // A lone continuation byte, a truncated sequence, an overlong '/', a
  // surrogate and a code point past U+10FFFF.
  EXPECT_EQ(Quoted("\x80"), "\\x80");
  EXPECT_EQ(Quoted("\xe2\x82"), "\\xe2\\x82");
  EXPECT_EQ(Quoted("\xc0\xaf"), "\\xc0\\xaf");
  EXPECT_EQ(Quoted("\xed\xa0\x80"), "\\xed\\xa0\\x80");
  EXPECT_EQ(Quoted("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
}

TEST(SafeTextTest, EveryByteStringQuotesToValidUtf8) {
  // All two-byte strings and a sample of three-byte ones.
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      const std::string s{static_cast<char>(a), static_cast<char>(b)};
      ASSERT_TRUE(IsValidUtf8(Quoted(s))) << a << " " << b;
      const std::string t{static_cast<char>(a), static_cast<char>(b),
                          static_cast<char>((a * 7 + b) & 0xff)};
      ASSERT_TRUE(IsValidUtf8(Quoted(t))) << a << " " << b;
    }
  }
}

TEST(SafeTextTest, IsValidUtf8) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
}

TEST(SafeTextTest, Utf8PrefixNeverSplitsACharacter) {
  const std::string s = "ab\xe2\x82\xac";  // "ab€"
  EXPECT_EQ(Utf8Prefix(s, 10), s);
  EXPECT_EQ(Utf8Prefix(s, 5), s);
  EXPECT_EQ(Utf8Prefix(s, 4), "ab");
  EXPECT_EQ(Utf8Prefix(s, 3), "ab");
  EXPECT_EQ(Utf8Prefix(s, 2), "ab");
  EXPECT_EQ(Utf8Prefix(s, 0), "");
}

}  // namespace
}  // namespace tachyon::base
