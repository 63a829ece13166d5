// Whole protocol frames from a stream socket, for test clients and fake
// servers: a protocol::FrameDecoder over storage it owns, fed by recv().
//
// Example
//   FrameReader reader(protocol::kDefaultMaxFrameLength);
//   std::optional<std::vector<std::byte>> f = reader.Read(fd, 5000ms);
//   if (!f && reader.eof()) ...  // the peer closed
#ifndef TACHYON_TESTS_SUPPORT_FRAME_READER_H_
#define TACHYON_TESTS_SUPPORT_FRAME_READER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "tachyon/protocol/protocol.h"

namespace tachyon::testing {

class FrameReader {
 public:
  /// Frames up to `max_frame_length` bytes; one receive may carry two.
  explicit FrameReader(std::uint32_t max_frame_length);
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;

  /// The next frame from `fd` (its bytes, unpadded) within `timeout`, or
  /// nullopt on timeout, at EOF (eof()) or on a malformed frame (error()).
  std::optional<std::vector<std::byte>> Read(int fd,
                                             std::chrono::milliseconds timeout);

  /// True once the peer closed (or reset) the connection.
  [[nodiscard]] bool eof() const { return eof_; }
  void set_eof() { eof_ = true; }
  /// The decoder's sticky error: kNone unless a malformed frame arrived.
  [[nodiscard]] protocol::ErrorCode error() const { return decoder_.error(); }

 private:
  std::vector<std::byte> storage_;
  protocol::FrameDecoder decoder_;
  bool eof_ = false;
};

}  // namespace tachyon::testing

#endif  // TACHYON_TESTS_SUPPORT_FRAME_READER_H_
