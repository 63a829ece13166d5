#include "udp/egress.h"

#include <arpa/inet.h>

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "tachyon/protocol/datagram.h"

namespace tachyon::udp {
namespace {

namespace tp = ::tachyon::protocol;

constexpr std::size_t kHeader = tp::kDatagramHeaderLength;

}  // namespace

UdpEgress::UdpEgress(const config::GatewayConfig& config, io::DatagramIo& io,
                     std::uint64_t source_id, UdpCounters& counters,
                     stream::WorkerInterest* interest)
    : max_datagram_(config.udp.max_datagram_bytes),
      batch_(static_cast<std::size_t>(config.udp.send_batch)),
      heartbeat_ns_(std::int64_t{config.udp.heartbeat_interval_ms} * 1'000'000),
      source_id_(source_id),
      io_(io),
      counters_(counters),
      interest_(interest),
      planned_(batch_),
      headers_(batch_ * kHeader),
      datagrams_(batch_) {
  Grow(1);
}

UdpEgress::~UdpEgress() {
  for (OutStream* s : order_) {
    s->log->Detach(&s->slot);
    if (interest_ != nullptr) interest_->Release(s->log);
  }
}

void UdpEgress::Grow(std::size_t destinations) {
  if (runs_.size() < destinations) {
    runs_.resize(destinations);
    results_.resize(destinations);
    next_.resize(destinations);
  }
}

UdpEgress::OutStream* UdpEgress::StreamFor(stream::StreamLog* log) {
  auto& slot = streams_[log->id().value()];
  if (slot == nullptr) {
    slot = std::make_unique<OutStream>();
    slot->log = log;
    // The attached slot keeps the stream from retirement from now on; one
    // retired before (its UDP subscriber gone meanwhile) is not served.
    if (!log->AttachPinOnly(&slot->slot)) {
      streams_.erase(log->id().value());
      return nullptr;
    }
    if (interest_ != nullptr) interest_->Retain(log);
    const stream::StartPoint sp = log->Locate(tp::StartMode::kLatest, {});
    slot->position = sp.position;
    slot->next_sequence = sp.next_sequence.value();
    order_.push_back(slot.get());
  }
  return slot.get();
}

void UdpEgress::AddDestination(OutStream& s, const Endpoint& ep, int channel,
                               std::uint64_t next) {
  for (Destination& d : s.destinations) {
    if (d.endpoint == ep) {
      ++d.refs;
      return;
    }
  }
  s.destinations.push_back({ep, channel, 1, next});
  Grow(s.destinations.size());
}

absl::Status UdpEgress::AddGroup(stream::StreamLog* log,
                                 const config::UdpGroup& group) {
  OutStream* out = StreamFor(log);
  if (out == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("udp group stream '", log->name(), "' was retired"));
  }
  OutStream& s = *out;
  for (const std::string& text : group.destinations) {
    absl::StatusOr<Endpoint> ep = Endpoint::Parse(text);
    if (!ep.ok()) return ep.status();
    AddDestination(s, *ep, 0, s.next_sequence);
  }
  if (!group.multicast.empty()) {
    absl::StatusOr<Endpoint> ep = Endpoint::Parse(group.multicast);
    if (!ep.ok()) return ep.status();
    io::MulticastOptions m;
    m.ttl = group.ttl;
    m.loopback = group.loopback;
    if (!group.interface.empty()) {
      in_addr a{};
      ::inet_pton(AF_INET, group.interface.c_str(), &a);
      m.interface_be = a.s_addr;
    }
    absl::StatusOr<int> channel = io_.AddChannel(m);
    if (!channel.ok()) return channel.status();
    AddDestination(s, *ep, *channel, s.next_sequence);
  }
  return absl::OkStatus();
}

void UdpEgress::Add(stream::StreamLog* log, const Endpoint& destination,
                    Sequence from) {
  OutStream* out = StreamFor(log);
  if (out == nullptr) return;
  OutStream& s = *out;
  std::uint64_t next = from.value();
  if (next < s.next_sequence) {
    // Behind the cursor (it moved on since the SUBSCRIBE_ACK): rewind the
    // cursor; the other destinations are owed nothing below their `next`.
    const stream::StartPoint sp =
        s.log->Locate(tp::StartMode::kSequence, Sequence{next});
    if (sp.next_sequence.value() < s.next_sequence) {
      s.position = sp.position;
      s.next_sequence = sp.next_sequence.value();
    }
    next = std::max(next, sp.next_sequence.value());
  }
  AddDestination(s, destination, 0, next);
}

void UdpEgress::Remove(StreamId stream, const Endpoint& destination) {
  auto it = streams_.find(stream.value());
  if (it == streams_.end()) return;
  OutStream& s = *it->second;
  for (auto d = s.destinations.begin(); d != s.destinations.end(); ++d) {
    if (d->endpoint == destination) {
      if (--d->refs == 0) s.destinations.erase(d);
      break;
    }
  }
  if (!s.destinations.empty()) {
    // The cursor follows the destination furthest behind.
    std::uint64_t low = std::numeric_limits<std::uint64_t>::max();
    for (const Destination& d : s.destinations) low = std::min(low, d.next);
    if (low > s.next_sequence) {
      Relocate(s, tp::StartMode::kSequence, Sequence{low});
    }
    return;
  }
  s.log->Detach(&s.slot);
  if (interest_ != nullptr) interest_->Release(s.log);
  std::erase(order_, &s);
  streams_.erase(it);
}

void UdpEgress::Relocate(OutStream& s, protocol::StartMode mode,
                         Sequence sequence) {
  const stream::StartPoint sp = s.log->Locate(mode, sequence);
  s.position = sp.position;
  s.next_sequence = sp.next_sequence.value();
  for (Destination& d : s.destinations) {
    d.next = std::max(d.next, s.next_sequence);
  }
}

bool UdpEgress::HasBacklog() const {
  for (const OutStream* s : order_) {
    if (s->log->tail() != s->position) return true;
  }
  return false;
}

std::size_t UdpEgress::DestinationCount(StreamId stream) const {
  auto it = streams_.find(stream.value());
  return it == streams_.end() ? 0 : it->second->destinations.size();
}

int UdpEgress::DoWork(std::int64_t now_ns) {
  int work = 0;
  for (OutStream* s : order_) work += Pump(*s, now_ns);
  return work;
}

int UdpEgress::Pump(OutStream& s, std::int64_t now_ns) {
  const std::uint64_t tail = s.log->tail();
  // Keep a window of room between the cursor and the writer, as TCP readers
  // have (they are cut off a window behind): UDP never holds the writer
  // back, so a cursor that far behind jumps to what is still safely there.
  if (s.log->Lapped(s.position, tail) ||
      tail - s.position > s.log->capacity() - s.log->window()) {
    counters_.lapped.Add();
    Relocate(s, tp::StartMode::kEarliest, {});
  }
  if (s.position == tail) {
    if (now_ns - s.last_send_ns >= heartbeat_ns_) {
      SendHeartbeats(s, now_ns);
      return 1;
    }
    return 0;
  }
  // Every byte planned, and everything the send copies, stays pinned until
  // the send returned: the writer cannot overwrite it meanwhile.
  s.slot.Pin(s.position);
  if (!s.log->PinHolds(s.position)) {
    s.slot.Unpin();
    counters_.lapped.Add();
    Relocate(s, tp::StartMode::kEarliest, {});
    return 1;
  }
  for (std::size_t i = 0; i < s.destinations.size(); ++i) {
    next_[i] = s.destinations[i].next;
  }
  const PlanResult plan = PlanDatagrams(
      {.frames = s.log->Readable(s.position, tail),
       .position = s.position,
       .sequence = s.next_sequence,
       .stream = s.log->id(),
       .source_id = source_id_,
       .max_datagram_bytes = max_datagram_,
       .destination_next = std::span(next_).first(s.destinations.size())},
      planned_, headers_);
  for (std::size_t i = 0; i < s.destinations.size(); ++i) {
    s.destinations[i].next = next_[i];
  }
  if (plan.skipped > 0) counters_.frames_too_large.Add(plan.skipped);
  if (plan.datagrams > 0) SendPlanned(s, plan.datagrams);
  s.slot.Unpin();
  // Where the destination furthest behind now stands: the start of a
  // planned datagram, or the end of the pass.
  std::uint64_t low = std::numeric_limits<std::uint64_t>::max();
  for (const Destination& d : s.destinations) low = std::min(low, d.next);
  if (low >= plan.end_sequence) {
    s.position = plan.end_position;
    s.next_sequence = plan.end_sequence;
    for (Destination& d : s.destinations) {
      d.next = std::max(d.next, plan.end_sequence);
    }
  } else {
    for (std::size_t i = 0; i < plan.datagrams; ++i) {
      if (planned_[i].sequence == low) {
        s.position = planned_[i].position;
        s.next_sequence = low;
        break;
      }
    }
  }
  s.last_send_ns = now_ns;
  // Under the pin no frame can be torn; a frame that still does not match
  // its stream and sequence means the cursor went wrong: start over.
  if (plan.corrupt) {
    counters_.lapped.Add();
    Relocate(s, tp::StartMode::kEarliest, {});
  }
  return 1;
}

void UdpEgress::SendPlanned(OutStream& s, std::size_t planned) {
  const std::span<const std::byte> bytes =
      s.log->Readable(planned_[0].position, planned_[planned - 1].position +
                                                planned_[planned - 1].bytes);
  for (std::size_t i = 0; i < planned; ++i) {
    datagrams_[i] = {
        std::span<const std::byte>(headers_).subspan(i * kHeader, kHeader),
        bytes.subspan(planned_[i].position - planned_[0].position,
                      planned_[i].bytes)};
  }
  // Each destination's run: the planned datagrams it is owed.
  std::size_t runs = 0;
  for (std::size_t di = 0; di < s.destinations.size(); ++di) {
    const Destination& d = s.destinations[di];
    std::size_t first = 0;
    while (first < planned && planned_[first].sequence < d.next) ++first;
    if (first == planned) continue;
    runs_[runs] = {d.endpoint, d.channel,
                   std::span<const io::TxDatagram>(datagrams_)
                       .subspan(first, planned - first)};
    next_[runs] = di;  // which destination this run is
    ++runs;
  }
  io_.Send(std::span(runs_).first(runs), results_);
  for (std::size_t r = 0; r < runs; ++r) {
    Destination& d = s.destinations[next_[r]];
    const std::size_t first =
        static_cast<std::size_t>(runs_[r].datagrams.data() - datagrams_.data());
    const io::TxRunResult& result = results_[r];
    std::uint64_t frames = 0;
    for (std::size_t i = first; i < first + result.sent; ++i) {
      frames += planned_[i].count;
    }
    if (result.sent > 0) {
      const PlannedDatagram& last = planned_[first + result.sent - 1];
      d.next = last.sequence + last.count;
      counters_.datagrams_sent.Add(result.sent);
      counters_.messages_sent.Add(frames);
    }
    switch (result.status) {
      case io::TxRunResult::Status::kSent:
        break;
      case io::TxRunResult::Status::kFull:
        counters_.send_would_block.Add();  // the rest waits for a pass
        break;
      case io::TxRunResult::Status::kFailed: {
        // Lost to this destination, like any UDP loss: it moves past them.
        counters_.send_errors.Add();
        const PlannedDatagram& last = planned_[planned - 1];
        d.next = last.sequence + last.count;
        break;
      }
    }
  }
  CountOffloads();
}

void UdpEgress::SendHeartbeats(OutStream& s, std::int64_t now_ns) {
  s.last_send_ns = now_ns;
  std::span<std::byte> header = std::span(headers_).first(kHeader);
  tp::EncodeDatagramHeader(header, tp::DatagramKind::kHeartbeat, 0, s.log->id(),
                           Sequence{s.next_sequence}, source_id_);
  datagrams_[0] = {header, {}};
  for (std::size_t i = 0; i < s.destinations.size(); ++i) {
    runs_[i] = {s.destinations[i].endpoint, s.destinations[i].channel,
                std::span<const io::TxDatagram>(datagrams_).first(1)};
  }
  io_.Send(std::span(runs_).first(s.destinations.size()), results_);
  for (std::size_t i = 0; i < s.destinations.size(); ++i) {
    if (results_[i].sent == 1) {
      counters_.heartbeats_sent.Add();
    } else if (results_[i].status == io::TxRunResult::Status::kFailed) {
      counters_.send_errors.Add();
    } else {
      counters_.send_would_block.Add();
    }
  }
}

void UdpEgress::CountOffloads() {
  const std::uint64_t now = io_.offloaded_sends();
  if (now != offloads_seen_) counters_.gso_sends.Add(now - offloads_seen_);
  offloads_seen_ = now;
}

}  // namespace tachyon::udp
