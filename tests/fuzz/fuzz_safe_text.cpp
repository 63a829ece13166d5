// Fuzzer for the quoting of client bytes (base/safe_text.h).
//
// The input is any byte string a client could send as a name or text.
// Quoted() must always produce valid UTF-8 (IsValidUtf8), at most four bytes
// per input byte, and must keep input that is already valid printable UTF-8
// without backslashes unchanged; Utf8Prefix of a valid text at every cut
// stays valid.
//
// Run: scripts/fuzz.sh BUILD_DIR SECONDS.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/safe_text.h"

namespace {

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_safe_text: check failed: %s\n", what);
  std::abort();
}

bool PlainPrintable(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '\\') return false;
  }
  return tachyon::base::IsValidUtf8(s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string out = tachyon::base::Quoted(in);
  Check(tachyon::base::IsValidUtf8(out), "quoted text is valid UTF-8");
  Check(out.size() <= 4 * in.size(), "at most four bytes per input byte");
  if (PlainPrintable(in)) Check(out == in, "printable UTF-8 kept as is");
  for (std::size_t cut = 0; cut <= out.size(); cut += 1 + cut / 8) {
    Check(tachyon::base::IsValidUtf8(tachyon::base::Utf8Prefix(out, cut)),
          "a cut of valid text stays valid");
  }
  return 0;
}
