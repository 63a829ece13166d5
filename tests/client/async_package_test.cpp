// The installed package's asynchronous client, used as a user would:
// `cmake --install` the client component into a fresh prefix, configure and
// build async_package_consumer/ against it with find_package(Tachyon) and
// Tachyon::client_async, and run it against a real gateway process.
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "process.h"

namespace tachyon::testing {
namespace {

using namespace std::chrono_literals;

// Runs a command to completion (bounded) and checks its exit status.
void RunCommand(const std::vector<std::string>& argv,
                std::chrono::seconds timeout) {
  Process p = Process::Start(argv);
  const int code = p.Wait(timeout);
  ASSERT_EQ(code, 0) << argv[0] << " " << (argv.size() > 1 ? argv[1] : "")
                     << " failed:\n"
                     << p.out() << p.err();
}

TEST(ClientAsyncPackageTest, FindPackageBuildsAndRunsAnAsyncClient) {
  const std::filesystem::path work =
      std::filesystem::path(TACHYON_ASYNC_PACKAGE_TEST_DIR);
  std::filesystem::remove_all(work);
  const std::string prefix = (work / "prefix").string();
  const std::string build = (work / "build").string();

  ASSERT_NO_FATAL_FAILURE(
      RunCommand({TACHYON_CMAKE_COMMAND, "--install", TACHYON_BINARY_DIR,
                  "--component", "client", "--prefix", prefix},
                 60s));
  ASSERT_TRUE(std::filesystem::exists(
      work / "prefix/include/tachyon/client/async_client.h"));
  ASSERT_TRUE(
      std::filesystem::exists(work / "prefix/lib/libtachyon_client_async.a"));

  std::vector<std::string> configure = {
      TACHYON_CMAKE_COMMAND,
      "-S",
      std::string(TACHYON_SOURCE_DIR) + "/tests/client/async_package_consumer",
      "-B",
      build,
      "-G",
      TACHYON_CMAKE_GENERATOR,
      "-DCMAKE_BUILD_TYPE=Release",
      "-DCMAKE_PREFIX_PATH=" + prefix,
      "-DCMAKE_CXX_COMPILER=" TACHYON_CXX_COMPILER};
  // A sanitizer build's library needs the sanitizer runtime in the program.
  const std::string sanitize = TACHYON_SANITIZE_FLAGS;
  if (!sanitize.empty()) {
    configure.push_back("-DCMAKE_CXX_FLAGS=" + sanitize);
    configure.push_back("-DCMAKE_EXE_LINKER_FLAGS=" + sanitize);
  }
  ASSERT_NO_FATAL_FAILURE(RunCommand(configure, 120s));
  ASSERT_NO_FATAL_FAILURE(
      RunCommand({TACHYON_CMAKE_COMMAND, "--build", build}, 300s));

  Process gateway;
  const std::string port =
      StartGatewayProcess(&gateway, TACHYON_GATEWAY_BIN, TACHYON_SOURCE_DIR);
  ASSERT_FALSE(port.empty());
  Process app = Process::Start({build + "/async_quickstart", port});
  EXPECT_EQ(app.Wait(20s), 0) << app.err();
  EXPECT_EQ(app.out(), "received: hello\n");
  EXPECT_EQ(StopGatewayProcess(&gateway), 0) << gateway.err();
}

}  // namespace
}  // namespace tachyon::testing
