// ProducerTable: the UDP producers a gateway knows ([[udp_producers]]), with
// their keys, allowed source networks and publish permissions, as UDP
// ingress consults them per datagram (PROTOCOL.md 16.7).
//
// Overview
//   Built once from the configuration (control plane: reads key files,
//   parses networks, allocates), then only read. Find(producer_id) is one
//   hash lookup; SourceAllowed walks the producer's few networks;
//   MayPublish matches a stream name against the producer's publish
//   patterns (PROTOCOL.md 9.2) — UdpIngress caches its answer per
//   (producer, stream), so patterns are matched once per pair, never per
//   message.
//
// Threading: immutable after Create; any thread may read it. Workers share
// one table through a shared_ptr.
//
// Example
//   absl::StatusOr<std::shared_ptr<const ProducerTable>> t =
//       ProducerTable::Create(config);
//   const ProducerTable::Producer* p = (*t)->Find(view.producer_id());
//   if (p && p->SourceAllowed(source.address_be) &&
//       protocol::VerifyDatagramMac(view.bytes(), p->key)) { ... }
#ifndef TACHYON_UDP_PRODUCERS_H_
#define TACHYON_UDP_PRODUCERS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "auth/source_filter.h"
#include "config/model.h"
#include "config/units.h"
#include "tachyon/protocol/datagram_mac.h"

namespace tachyon::udp {

class ProducerTable {
 public:
  struct Producer {
    std::string name;
    std::uint32_t id = 0;
    std::uint32_t index = 0;  ///< position in the table, 0..size()-1
    protocol::DatagramKey key{};
    std::vector<auth::Cidr> allowed_sources;  ///< IPv4 networks; empty: any
    std::vector<std::string> publish;         ///< names or patterns

    /// True if a datagram from `address_be` (network order) may be this
    /// producer's.
    [[nodiscard]] bool SourceAllowed(std::uint32_t address_be) const;
    /// True if one of `publish` is `stream` or a pattern matching it.
    [[nodiscard]] bool MayPublish(std::string_view stream) const;
  };

  /// The table of `config.udp_producers` (keys read from their files).
  /// InvalidArgument naming the entry if one is malformed (validation
  /// normally catches it first).
  static absl::StatusOr<std::shared_ptr<const ProducerTable>> Create(
      const config::GatewayConfig& config);

  /// The producer with `producer_id`, or null.
  [[nodiscard]] const Producer* Find(std::uint32_t producer_id) const {
    const auto it = by_id_.find(producer_id);
    return it == by_id_.end() ? nullptr : &producers_[it->second];
  }
  [[nodiscard]] std::size_t size() const { return producers_.size(); }
  /// True if `other` holds the same producer ids with the same keys, in
  /// the same order: a rewritten key file shows here, not in the
  /// configuration's text.
  [[nodiscard]] bool SameKeys(const ProducerTable& other) const;

 private:
  std::vector<Producer> producers_;
  absl::flat_hash_map<std::uint32_t, std::uint32_t> by_id_;
};

}  // namespace tachyon::udp

#endif  // TACHYON_UDP_PRODUCERS_H_
