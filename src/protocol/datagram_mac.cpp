#include "tachyon/protocol/datagram_mac.h"

#include <sodium.h>

namespace tachyon::protocol {

static_assert(crypto_shorthash_siphashx24_BYTES == kDatagramMacLength);
static_assert(crypto_shorthash_siphashx24_KEYBYTES == kDatagramKeyLength);

void ComputeDatagramMac(std::span<const std::byte> covered,
                        const DatagramKey& key,
                        std::span<std::byte, kDatagramMacLength> tag) {
  // SipHash needs none of the CPU dispatch sodium_init() sets up.
  crypto_shorthash_siphashx24(
      reinterpret_cast<unsigned char*>(tag.data()),
      reinterpret_cast<const unsigned char*>(covered.data()), covered.size(),
      reinterpret_cast<const unsigned char*>(key.data()));
}

bool SignDatagram(std::span<std::byte> datagram, const DatagramKey& key) {
  if (datagram.size() < kMinAuthenticatedDatagramLength) return false;
  const std::size_t covered = datagram.size() - kDatagramMacLength;
  ComputeDatagramMac(datagram.first(covered), key,
                     datagram.subspan(covered).first<kDatagramMacLength>());
  return true;
}

bool VerifyDatagramMac(std::span<const std::byte> datagram,
                       const DatagramKey& key) {
  if (datagram.size() < kMinAuthenticatedDatagramLength) return false;
  const std::size_t covered = datagram.size() - kDatagramMacLength;
  std::array<std::byte, kDatagramMacLength> expected;
  ComputeDatagramMac(datagram.first(covered), key, expected);
  return sodium_memcmp(expected.data(), datagram.data() + covered,
                       kDatagramMacLength) == 0;
}

std::optional<DatagramKey> ParseDatagramKey(std::string_view hex) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
  };
  while (!hex.empty() && space(hex.front())) hex.remove_prefix(1);
  while (!hex.empty() && space(hex.back())) hex.remove_suffix(1);
  if (hex.size() != 2 * kDatagramKeyLength) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  DatagramKey key;
  for (std::size_t i = 0; i < kDatagramKeyLength; ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    key[i] = static_cast<std::byte>(hi * 16 + lo);
  }
  return key;
}

}  // namespace tachyon::protocol
