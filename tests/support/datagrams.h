// PUBLISH datagrams (PROTOCOL.md 16) for tests that play a UDP producer.
//
// Example
//   const auto d = PublishDatagram(stream, 1, 41, {"a", "b"});
//   ::sendto(fd, d.data(), d.size(), 0, ...);
#ifndef TACHYON_TESTS_SUPPORT_DATAGRAMS_H_
#define TACHYON_TESTS_SUPPORT_DATAGRAMS_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tachyon/protocol/protocol.h"

namespace tachyon::testing {

/// A PUBLISH datagram of `payloads` for `stream` from producer `source`,
/// producer sequences from `first`.
inline std::vector<std::byte> PublishDatagram(
    StreamId stream, std::uint64_t first, std::uint64_t source,
    const std::vector<std::string>& payloads) {
  namespace tp = ::tachyon::protocol;
  std::vector<std::byte> out(65536);
  std::size_t n =
      tp::EncodeDatagramHeader(out, tp::DatagramKind::kPublish,
                               static_cast<std::uint16_t>(payloads.size()),
                               stream, Sequence{first}, source);
  for (const std::string& p : payloads) {
    n +=
        tp::EncodePublish(std::span(out).subspan(n), stream, 0, tp::AsBytes(p));
  }
  out.resize(n);
  return out;
}

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_SUPPORT_DATAGRAMS_H_
