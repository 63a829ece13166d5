// The units the config is written in, against tachyon::config_units alone
// (no TOML reader, no flags): byte sizes, IPv4 endpoints, the CPU count.
#include "config/units.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tachyon::config {
namespace {

using ::testing::HasSubstr;

TEST(ByteSizeTest, ParsesIntegersAndBinaryUnits) {
  const std::pair<std::string_view, std::uint64_t> cases[] = {
      {"4096", 4096},
      {"4096B", 4096},
      {"512KiB", 512u << 10},
      {"16MiB", 16u << 20},
      {"1GiB", 1u << 30},
      {"2TiB", std::uint64_t{2} << 40},
      {" 16 MiB ", 16u << 20},
      {"16mib", 16u << 20},
      {"0", 0},
  };
  for (const auto& [text, bytes] : cases) {
    absl::StatusOr<std::uint64_t> parsed = ParseByteSize(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    EXPECT_EQ(*parsed, bytes) << text;
  }
}

TEST(ByteSizeTest, RejectsOtherForms) {
  for (std::string_view text :
       {"", "MiB", "16MB", "16 M", "1.5GiB", "-1", "16MiBs", "0x10",
        "99999999999999999999", "20000000TiB"}) {
    absl::StatusOr<std::uint64_t> parsed = ParseByteSize(text);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << text;
    EXPECT_THAT(std::string(parsed.status().message()),
                HasSubstr(std::string(text)));
  }
}

TEST(ByteSizeTest, FormatsTheShortestExactUnit) {
  EXPECT_EQ(FormatByteSize(0), "0");
  EXPECT_EQ(FormatByteSize(1000), "1000");
  EXPECT_EQ(FormatByteSize(65536), "64KiB");
  EXPECT_EQ(FormatByteSize(16u << 20), "16MiB");
  EXPECT_EQ(FormatByteSize(std::uint64_t{3} << 30), "3GiB");
  EXPECT_EQ(FormatByteSize((1u << 20) + 1024), "1025KiB");
}

TEST(Ipv4EndpointTest, ParsesIpv4EndpointsOnly) {
  std::uint32_t addr = 0;
  std::uint16_t port = 0;
  ASSERT_TRUE(ParseIpv4Endpoint("127.0.0.1:7500", &addr, &port));
  EXPECT_EQ(port, 7500);
  const auto* octets = reinterpret_cast<const unsigned char*>(&addr);
  EXPECT_EQ(octets[0], 127);
  EXPECT_EQ(octets[3], 1);
  EXPECT_FALSE(ParseIpv4Endpoint("127.0.0.1", &addr, &port));
  EXPECT_FALSE(ParseIpv4Endpoint("127.0.0.1:", &addr, &port));
  EXPECT_FALSE(ParseIpv4Endpoint("127.0.0.1:65536", &addr, &port));
  EXPECT_FALSE(ParseIpv4Endpoint("127.0.0.1:+80", &addr, &port));
  EXPECT_FALSE(ParseIpv4Endpoint("localhost:80", &addr, &port));
  EXPECT_FALSE(ParseIpv4Endpoint("[::1]:80", &addr, &port));
}

TEST(HostPortTest, ParsesIpv4LiteralsAndHostnames) {
  const std::pair<std::string, HostPort> cases[] = {
      {"127.0.0.1:7501", {"127.0.0.1", 7501}},
      {"localhost:1", {"localhost", 1}},
      {"risk-2.eu.internal:65535", {"risk-2.eu.internal", 65535}},
      {"a:9", {"a", 9}},
      {"3com.example:80", {"3com.example", 80}},
      {absl::StrCat(std::string(63, 'x'), ".example:80"),
       {absl::StrCat(std::string(63, 'x'), ".example"), 80}},
  };
  for (const auto& [text, expected] : cases) {
    absl::StatusOr<HostPort> parsed = ParseHostPort(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    EXPECT_EQ(*parsed, expected) << text;
  }
}

TEST(HostPortTest, SaysWhichPartIsWrong) {
  const std::pair<std::string, std::string> cases[] = {
      {"127.0.0.1", "expected \"host:port\" such as \"127.0.0.1:7501\""},
      {":80", "expected \"host:port\""},
      {"", "expected \"host:port\""},
      {"h:", "the port must be a number between 1 and 65535"},
      {"h:0", "the port must be a number between 1 and 65535"},
      {"h:65536", "the port must be a number between 1 and 65535"},
      {"h:+80", "the port must be a number between 1 and 65535"},
      {"h:080000", "the port must be a number between 1 and 65535"},
      {"h:http", "the port must be a number between 1 and 65535"},
      {"[::1]:80", "IPv6 addresses are not supported"},
      {"::1:80", "IPv6 addresses are not supported"},
      {"256.0.0.1:80", "'256.0.0.1' is not a valid IPv4 address"},
      {"10.1:80", "'10.1' is not a valid IPv4 address"},
      {"under_score:80", "the host must be an IPv4 address or a hostname"},
      {"-lead.example:80", "the host must be an IPv4 address or a hostname"},
      {"trail-.example:80", "the host must be an IPv4 address or a hostname"},
      {"double..dot:80", "the host must be an IPv4 address or a hostname"},
      {"dot.:80", "the host must be an IPv4 address or a hostname"},
      {"sp ace:80", "the host must be an IPv4 address or a hostname"},
      {absl::StrCat(std::string(64, 'x'), ".example:80"),
       "the host must be an IPv4 address or a hostname"},
      // 254 characters of valid labels.
      {absl::StrCat(std::string(63, 'x'), ".", std::string(63, 'x'), ".",
                    std::string(63, 'x'), ".", std::string(62, 'x'), ":80"),
       "the host must be an IPv4 address or a hostname"},
  };
  for (const auto& [text, message] : cases) {
    absl::StatusOr<HostPort> parsed = ParseHostPort(text);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << text;
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(message))
        << text;
    EXPECT_THAT(std::string(parsed.status().message()),
                HasSubstr(absl::StrCat("'", text, "'")))
        << text;
  }
}

TEST(ProducerKeyTest, ReadsHexAndRefusesOtherForms) {
  absl::StatusOr<std::array<std::byte, 16>> k =
      ReadProducerKey("000102030405060708090a0b0c0d0e0f", "");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ((*k)[15], std::byte{0x0f});
  EXPECT_FALSE(ReadProducerKey("0001", "").ok());
  EXPECT_EQ(ReadProducerKey("", "/nonexistent/key").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(MachineCpuCountTest, CountsAtLeastOneCpu) {
  EXPECT_GE(MachineCpuCount(), 1);
}

}  // namespace
}  // namespace tachyon::config
