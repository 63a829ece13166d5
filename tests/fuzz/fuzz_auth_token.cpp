// The credential parsers of principals (src/auth): the LOGON token as
// Authenticate splits it (hostile input from any client), and the config
// strings a token_hash and an allowed source are parsed from. Also name
// filters over the input as a pattern or a name. Nothing may crash, and a
// token that is not the principal's exact "name:secret" never logs on.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/authenticator.h"
#include "auth/permissions.h"
#include "auth/source_filter.h"
#include "auth/token_hash.h"

namespace {

const tachyon::auth::Authenticator& TheAuthenticator() {
  static const tachyon::auth::Authenticator* a = [] {
    tachyon::config::GatewayConfig c;
    c.auth.anonymous = false;
    tachyon::config::Principal p;
    p.name = "alice";
    p.token_hash =
        tachyon::auth::HashToken("secret", tachyon::auth::kMinIterations);
    p.subscribe = {"md.*"};
    c.principals.push_back(p);
    return new tachyon::auth::Authenticator(c);
  }();
  return *a;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace tachyon::auth;
  (void)ParseTokenHash(text);
  (void)ParseCidr(text);
  (void)ParseIpAddress(text);
  const NameFilter f({"md.*", "orders"}, {"md.secret*"});
  (void)f.Allows(text);
  if (!text.empty() && text.back() == '*') (void)f.AllowsPattern(text);
  if (size <= 255) {
    const AuthResult r =
        TheAuthenticator().Authenticate(text, *ParseIpAddress("127.0.0.1"), "");
    if (r.identity != nullptr && text != "alice:secret") __builtin_trap();
  }
  return 0;
}
