// tachyon/protocol/datagram_mac.h — the MAC of an authenticated (version 2)
// UDP datagram, PROTOCOL.md 16.7.
//
// Overview
//   A version-2 datagram ends with a 16-byte tag: SipHash-2-4 with a 128-bit
//   output (libsodium's crypto_shorthash_siphashx24) keyed with the
//   producer's 16-byte key, over every byte of the datagram before the tag.
//   SignDatagram writes the tag of a datagram the caller has laid out
//   (header, frames, 16 bytes of room); VerifyDatagramMac recomputes it and
//   compares in constant time (sodium_memcmp). Neither allocates; both are
//   safe from any thread (the key is read only).
//
// Example
//   DatagramKey key = *ParseDatagramKey(hex);
//   std::size_t n = EncodeAuthenticatedDatagramHeader(buf, ...);
//   n += EncodePublish(std::span(buf).subspan(n), ...);
//   SignDatagram(std::span(buf).first(n + kDatagramMacLength), key);
//   ...
//   if (!VerifyDatagramMac(received, key)) drop();
#ifndef TACHYON_PROTOCOL_DATAGRAM_MAC_H_
#define TACHYON_PROTOCOL_DATAGRAM_MAC_H_

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "tachyon/protocol/datagram.h"

namespace tachyon::protocol {

/// A producer's key: 16 bytes, random (e.g. `openssl rand -hex 16`).
inline constexpr std::size_t kDatagramKeyLength = 16;
using DatagramKey = std::array<std::byte, kDatagramKeyLength>;

/// Writes the MAC of `datagram` (a whole version-2 datagram whose last
/// kDatagramMacLength bytes are room for it) into those bytes. Returns
/// false, writing nothing, if `datagram` is shorter than
/// kMinAuthenticatedDatagramLength.
bool SignDatagram(std::span<std::byte> datagram, const DatagramKey& key);

/// True if the last kDatagramMacLength bytes of `datagram` are the MAC of
/// the bytes before them under `key`. Constant time in the tag's value.
[[nodiscard]] bool VerifyDatagramMac(std::span<const std::byte> datagram,
                                     const DatagramKey& key);

/// The 16-byte tag of `covered` under `key` (tests, other encoders).
void ComputeDatagramMac(std::span<const std::byte> covered,
                        const DatagramKey& key,
                        std::span<std::byte, kDatagramMacLength> tag);

/// A key from 32 hex digits (either case; surrounding whitespace, such as
/// a key file's final newline, is ignored). nullopt for anything else.
std::optional<DatagramKey> ParseDatagramKey(std::string_view hex);

}  // namespace tachyon::protocol

#endif  // TACHYON_PROTOCOL_DATAGRAM_MAC_H_
