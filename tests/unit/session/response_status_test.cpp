// StatusForVersion: the RESPONSE status a session of each protocol version
// is sent (PROTOCOL.md 13): OVERLOADED only from version 3 on, UNAVAILABLE
// with an "overloaded: " text before.
#include <cstdint>

#include "gtest/gtest.h"
#include "session/session.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::session {
namespace {

using protocol::ResponseStatus;

TEST(StatusForVersion, OverloadedReachesVersion3SessionsAsIs) {
  for (const std::uint16_t version : {std::uint16_t{3}, std::uint16_t{4}}) {
    const VersionedStatus v =
        StatusForVersion(version, ResponseStatus::kOverloaded);
    EXPECT_EQ(v.status, ResponseStatus::kOverloaded) << version;
    EXPECT_EQ(v.text_prefix, "") << version;
  }
}

TEST(StatusForVersion, OlderSessionsGetUnavailableSayingOverloaded) {
  for (const std::uint16_t version : {std::uint16_t{1}, std::uint16_t{2}}) {
    const VersionedStatus v =
        StatusForVersion(version, ResponseStatus::kOverloaded);
    EXPECT_EQ(v.status, ResponseStatus::kUnavailable) << version;
    EXPECT_EQ(v.text_prefix, "overloaded: ") << version;
  }
}

TEST(StatusForVersion, EveryOtherStatusPassesUnchangedInEveryVersion) {
  for (std::uint16_t version = 1; version <= protocol::kMaxProtocolVersion;
       ++version) {
    for (std::uint16_t s = 0; s < protocol::kMaxResponseStatus; ++s) {
      const auto status = static_cast<ResponseStatus>(s);
      const VersionedStatus v = StatusForVersion(version, status);
      EXPECT_EQ(v.status, status) << version << " " << s;
      EXPECT_EQ(v.text_prefix, "") << version << " " << s;
    }
  }
}

}  // namespace
}  // namespace tachyon::session
