// The installed package, used as a user would: `cmake --install` the client
// component into a fresh prefix, configure and build a stand-alone project
// against it with find_package(Tachyon) — package_consumer/ with
// Tachyon::client, async_package_consumer/ with Tachyon::client_async,
// service_package_consumer/ with Tachyon::service — and run the program
// (against a real gateway process where it is a client).
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "support/process.h"

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

struct Consumer {
  std::string project;    // under tests/client/
  std::string installed;  // a file the install must have put in the prefix
  std::string program;    // what the project builds
  bool needs_gateway = true;
};

// Installs into TACHYON_PACKAGE_TEST_DIR/<project>/prefix, builds `c`
// against it and runs the program against a gateway process; the program
// publishes "hello" and prints what it receives.
void InstallBuildAndRun(const Consumer& c) {
  const std::filesystem::path work =
      std::filesystem::path(TACHYON_PACKAGE_TEST_DIR) / c.project;
  std::filesystem::remove_all(work);
  const std::string prefix = (work / "prefix").string();
  const std::string build = (work / "build").string();

  ASSERT_NO_FATAL_FAILURE(
      RunCommand({TACHYON_CMAKE_COMMAND, "--install", TACHYON_BINARY_DIR,
                  "--component", "client", "--prefix", prefix},
                 60s));
  ASSERT_TRUE(std::filesystem::exists(
      work / "prefix/lib/cmake/Tachyon/TachyonConfig.cmake"));
  ASSERT_TRUE(std::filesystem::exists(work / "prefix" / c.installed))
      << c.installed;

  std::vector<std::string> configure = {
      TACHYON_CMAKE_COMMAND,
      "-S",
      std::string(TACHYON_SOURCE_DIR) + "/tests/client/" + c.project,
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

  if (!c.needs_gateway) {
    Process app = Process::Start({build + "/" + c.program});
    EXPECT_EQ(app.Wait(20s), 0) << app.err();
    EXPECT_EQ(app.out(), "received: hello\n");
    return;
  }
  Process gateway;
  const std::string port =
      StartGatewayProcess(&gateway, TACHYON_GATEWAY_BIN, TACHYON_SOURCE_DIR);
  ASSERT_FALSE(port.empty());
  Process app = Process::Start({build + "/" + c.program, port});
  EXPECT_EQ(app.Wait(20s), 0) << app.err();
  EXPECT_EQ(app.out(), "received: hello\n");
  EXPECT_EQ(StopGatewayProcess(&gateway), 0) << gateway.err();
}

TEST(ClientPackageTest, FindPackageBuildsAndRunsAgainstAGateway) {
  InstallBuildAndRun({.project = "package_consumer",
                      .installed = "include/tachyon/client/client.h",
                      .program = "quickstart"});
}

TEST(ClientPackageTest, FindPackageBuildsAndRunsAnAsyncClient) {
  InstallBuildAndRun({.project = "async_package_consumer",
                      .installed = "lib/libtachyon_client_async.a",
                      .program = "async_quickstart"});
}

TEST(ClientPackageTest, FindPackageBuildsAndRunsABackendService) {
  // The service answers a Client that connects to it directly: no gateway.
  InstallBuildAndRun({.project = "service_package_consumer",
                      .installed = "include/tachyon/service/server.h",
                      .program = "echo_service",
                      .needs_gateway = false});
}

}  // namespace
}  // namespace tachyon::testing
