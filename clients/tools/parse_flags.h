// Command-line parsing shared by every tool (tachyon-reply included, which
// does not link tool_common): Abseil flags, with the tools' flags listed by
// --help and a help request ending the tool with exit code 0.
//
// Abseil's own ParseCommandLine exits with 1 after printing --help (and
// --helpfull, --helpshort, ...), which scripts read as a failure; here the
// usage flags are handled after parsing and a request for help exits 0.
// --version and --only_check_args keep Abseil's exit code (0).
#ifndef TACHYON_CLIENTS_TOOLS_PARSE_FLAGS_H_
#define TACHYON_CLIENTS_TOOLS_PARSE_FLAGS_H_

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/internal/parse.h"
#include "absl/flags/internal/usage.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"

namespace tachyon::tools {

/// Sets `usage` as the program's usage message, parses argv (unknown flags
/// are fatal, as with absl::ParseCommandLine) and returns what is left:
/// argv[0] and the positional arguments. Exits 0 after printing help.
inline std::vector<char*> ParseToolFlags(int argc, char** argv,
                                         std::string_view usage) {
  absl::SetProgramUsageMessage(std::string(usage));
  // absl's --help lists the flags of files named like the program; the
  // tools' flags live in clients/tools/*.cpp.
  absl::FlagsUsageConfig config;
  config.contains_helpshort_flags = [](absl::string_view file) {
    return absl::StrContains(file, "clients/tools/");
  };
  config.contains_help_flags = config.contains_helpshort_flags;
  absl::SetFlagsUsageConfig(config);
  namespace fi = ::absl::flags_internal;
  std::vector<char*> rest = fi::ParseCommandLineImpl(
      argc, argv, fi::ArgvListAction::kRemoveParsedArgs,
      fi::UsageFlagsAction::kIgnoreUsage,
      fi::OnUndefinedFlag::kAbortIfUndefined);
  const int code = fi::HandleUsageFlags(std::cout, absl::ProgramUsageMessage());
  if (code != -1) {
    std::cout.flush();
    // 1 means "help was printed": what the user asked for, so a success.
    std::exit(code == 1 ? 0 : code);
  }
  return rest;
}

}  // namespace tachyon::tools

#endif  // TACHYON_CLIENTS_TOOLS_PARSE_FLAGS_H_
