#include "udp/producers.h"

#include <sys/socket.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "stream/stream_registry.h"

namespace tachyon::udp {

bool ProducerTable::Producer::SourceAllowed(std::uint32_t address_be) const {
  if (allowed_sources.empty()) return true;
  auth::IpAddress a;
  a.family = AF_INET;
  std::memcpy(a.bytes.data(), &address_be, 4);
  for (const auth::Cidr& n : allowed_sources) {
    if (n.Contains(a)) return true;
  }
  return false;
}

bool ProducerTable::Producer::MayPublish(std::string_view stream) const {
  for (const std::string& p : publish) {
    if (stream::MatchesPattern(p, stream)) return true;
  }
  return false;
}

absl::StatusOr<std::shared_ptr<const ProducerTable>> ProducerTable::Create(
    const config::GatewayConfig& config) {
  auto table = std::make_shared<ProducerTable>();
  for (std::size_t i = 0; i < config.udp_producers.size(); ++i) {
    const config::UdpProducer& u = config.udp_producers[i];
    auto fail = [&](std::string_view what, const absl::Status& s) {
      return absl::InvalidArgumentError(absl::StrCat(
          "udp_producers[", i, "].", AbslView(what), ": ", s.message()));
    };
    Producer p;
    p.name = u.name;
    p.id = static_cast<std::uint32_t>(u.id);
    p.index = static_cast<std::uint32_t>(i);
    absl::StatusOr<std::array<std::byte, 16>> key =
        config::ReadProducerKey(u.key, u.key_file);
    if (!key.ok())
      return fail(u.key.empty() ? "key_file" : "key", key.status());
    p.key = *key;
    for (const std::string& s : u.allowed_sources) {
      absl::StatusOr<auth::Cidr> n = auth::ParseCidr(s);
      if (!n.ok()) return fail("allowed_sources", n.status());
      p.allowed_sources.push_back(*n);
    }
    p.publish = u.publish;
    if (!table->by_id_.emplace(p.id, p.index).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("udp_producers[", i, "].id: ", p.id, " is repeated"));
    }
    table->producers_.push_back(std::move(p));
  }
  return std::shared_ptr<const ProducerTable>(std::move(table));
}

bool ProducerTable::SameKeys(const ProducerTable& other) const {
  if (producers_.size() != other.producers_.size()) return false;
  for (std::size_t i = 0; i < producers_.size(); ++i) {
    if (producers_[i].id != other.producers_[i].id ||
        producers_[i].key != other.producers_[i].key) {
      return false;
    }
  }
  return true;
}

}  // namespace tachyon::udp
