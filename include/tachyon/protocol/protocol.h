// tachyon/protocol/protocol.h — the whole wire codec in one include.
//
// Overview
//   Views and encoders for every message type, validate-once frame decoding,
//   the streaming decoder and the UDP datagram layout. protocol/PROTOCOL.md is
//   the normative specification; protocol/vectors/ holds golden frames.
//
// Example
//   #include "tachyon/protocol/protocol.h"
//   namespace tp = tachyon::protocol;
//   auto r = tp::DecodeFrame(bytes, tp::kDefaultMaxFrameLength);
#ifndef TACHYON_PROTOCOL_PROTOCOL_H_
#define TACHYON_PROTOCOL_PROTOCOL_H_

#include "tachyon/protocol/data_messages.h"     // IWYU pragma: export
#include "tachyon/protocol/datagram.h"          // IWYU pragma: export
#include "tachyon/protocol/frame.h"             // IWYU pragma: export
#include "tachyon/protocol/frame_decoder.h"     // IWYU pragma: export
#include "tachyon/protocol/frame_view.h"        // IWYU pragma: export
#include "tachyon/protocol/request_messages.h"  // IWYU pragma: export
#include "tachyon/protocol/session_messages.h"  // IWYU pragma: export
#include "tachyon/protocol/stream_messages.h"   // IWYU pragma: export
#include "tachyon/protocol/wire.h"              // IWYU pragma: export

#endif  // TACHYON_PROTOCOL_PROTOCOL_H_
