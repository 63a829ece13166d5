// The command line every example takes: --host, --port, --count, plus the
// example's own flags, as --name=value or --name value. Kept dependency-free
// so that an example can be copied out of the tree as is.
#ifndef TACHYON_CLIENTS_CPP_EXAMPLES_EXAMPLE_FLAGS_H_
#define TACHYON_CLIENTS_CPP_EXAMPLES_EXAMPLE_FLAGS_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

namespace tachyon::examples {

struct Flags {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7400;
  long count = 0;
  /// The LOGON token, "principal:secret": the environment variable
  /// TACHYON_TOKEN (kept off the command line, which ps shows).
  std::string token = TokenFromEnvironment();
  std::map<std::string, std::string> extra;  // the example's own flags

  static std::string TokenFromEnvironment() {
    const char* t = std::getenv("TACHYON_TOKEN");
    return t == nullptr ? std::string() : std::string(t);
  }

  /// The value of the example's flag `name`, or `fallback`.
  std::string Get(const std::string& name, const std::string& fallback) const {
    const auto it = extra.find(name);
    return it == extra.end() ? fallback : it->second;
  }
};

/// Parses argv. `known` lists the example's own flag names; `usage` is
/// printed for --help (exit 0) and for a bad command line (exit 2).
inline Flags ParseFlags(int argc, char** argv, long default_count,
                        std::initializer_list<std::string_view> known,
                        const char* usage) {
  Flags flags;
  flags.count = default_count;
  auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "%s: %s\n%s", argv[0], why.c_str(), usage);
    std::exit(2);
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    }
    if (arg.rfind("--", 0) != 0) fail("unexpected argument " + arg);
    std::string name = arg.substr(2);
    std::string value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      fail("--" + name + " needs a value");
    }
    char* end = nullptr;
    if (name == "host") {
      flags.host = value;
    } else if (name == "port") {
      const long port = std::strtol(value.c_str(), &end, 10);
      // 0 is for the service examples: listen on a free port.
      if (*end != '\0' || port < 0 || port > 65535) fail("bad --port " + value);
      flags.port = static_cast<std::uint16_t>(port);
    } else if (name == "count") {
      flags.count = std::strtol(value.c_str(), &end, 10);
      if (*end != '\0' || flags.count < 1) fail("bad --count " + value);
    } else {
      bool ok = false;
      for (std::string_view k : known) ok = ok || k == name;
      if (!ok) fail("unknown flag --" + name);
      flags.extra[name] = value;
    }
  }
  return flags;
}

}  // namespace tachyon::examples

#endif  // TACHYON_CLIENTS_CPP_EXAMPLES_EXAMPLE_FLAGS_H_
