#include "udp/ingress.h"

#include <algorithm>
#include <utility>

#include "base/log.h"
#include "tachyon/protocol/datagram.h"
#include "tachyon/protocol/datagram_mac.h"

namespace tachyon::udp {
namespace {

namespace tp = ::tachyon::protocol;

}  // namespace

UdpIngress::UdpIngress(io::DatagramIo& io, int batch,
                       std::uint32_t max_frame_length,
                       stream::StreamRegistry& registry, base::LoopClock& clock,
                       stream::StreamWaker& waker, UdpCounters& counters,
                       io::Reactor* reactor)
    : io_(io),
      batch_(std::clamp(batch, 1, kMaxBatch)),
      max_frame_length_(max_frame_length),
      registry_(registry),
      clock_(clock),
      waker_(waker),
      counters_(counters),
      reactor_(reactor) {}

absl::Status UdpIngress::OnStart(std::int64_t now_ns) {
  next_sweep_ns_ = now_ns + kProducerSweepNs;
  if (io_.readiness_fd() < 0) {
    pending_ = true;  // no readiness to wait for: drain every pass
    return absl::OkStatus();
  }
  if (reactor_ == nullptr) return absl::OkStatus();
  if (absl::Status s = reactor_->AddReadable(io_.readiness_fd(), this);
      !s.ok()) {
    return s;
  }
  registered_ = true;
  return absl::OkStatus();
}

int UdpIngress::DoWork(std::int64_t now_ns) {
  if (draining_) return 0;
  int work = pending_ ? Drain() : 0;
  if (now_ns >= next_sweep_ns_) {
    ForgetIdleProducers();
    next_sweep_ns_ = now_ns + kProducerSweepNs;
  }
  return work;
}

void UdpIngress::OnDrain(std::int64_t now_ns) {
  static_cast<void>(now_ns);
  draining_ = true;
  if (registered_) reactor_->RemoveReadable(io_.readiness_fd());
  registered_ = false;
}

void UdpIngress::OnReadable() {
  pending_ = true;
  if (!draining_) Drain();
}

int UdpIngress::Drain() {
  int total = 0;
  const std::span<io::RxDatagram> batch =
      std::span(received_).first(static_cast<std::size_t>(batch_));
  for (int turn = 0; turn < kBatchesPerTurn; ++turn) {
    const int got = io_.Receive(batch);
    if (const std::uint64_t drops = io_.drops(); drops != drops_seen_) {
      counters_.kernel_drops.Add(drops - drops_seen_);
      drops_seen_ = drops;
    }
    for (int i = 0; i < got; ++i) {
      const io::RxDatagram& d = batch[static_cast<std::size_t>(i)];
      Handle(d);
    }
    total += got;
    if (got < batch_) {
      // A short batch emptied the path (a path without readiness is polled
      // again next pass anyway).
      pending_ = io_.readiness_fd() < 0;
      return total;
    }
  }
  return total;
}

void UdpIngress::SetAuth(Auth auth) {
  auth_ = std::move(auth);
  permitted_.clear();
}

void UdpIngress::Dropped(Drop reason, base::Counter& counter,
                         const io::Endpoint& from, std::uint32_t producer_id,
                         std::uint32_t stream) {
  counter.Add();
  const std::uint64_t n = ++drops_[static_cast<std::size_t>(reason)];
  // The 1st, 2nd, 4th, 8th, ... drop of each reason: a flood of forged
  // datagrams costs a line now and then, not a line (or a lock) each.
  if ((n & (n - 1)) != 0 || !base::LogEnabled(base::LogLevel::kWarn)) return;
  std::uint64_t suppressed = 0;
  if (!drop_log_.Allow(clock_.now_ns(), &suppressed)) return;
  static constexpr std::string_view kReason[] = {
      "unauthenticated", "unknown_producer", "source_not_allowed",
      "bad_mac",         "not_permitted",    "wild_sequence"};
  TACHYON_LOG(kWarn) << "udp ingress dropped a datagram reason="
                     << kReason[static_cast<std::size_t>(reason)]
                     << " source=" << from.ToString()
                     << " producer_id=" << producer_id << " stream=" << stream
                     << " (drop " << n << " of this reason on this worker"
                     << (suppressed != 0 ? "; other drop lines suppressed" : "")
                     << ")";
}

bool UdpIngress::Permitted(const ProducerTable::Producer& producer,
                           const stream::StreamLog& log) {
  const std::uint64_t key =
      std::uint64_t{producer.index} << 32 | log.id().value();
  const auto it = permitted_.find(key);
  if (it != permitted_.end()) return it->second;
  const bool may = producer.MayPublish(log.name());
  permitted_.emplace(key, may);
  return may;
}

void UdpIngress::Handle(const io::RxDatagram& received) {
  counters_.datagrams_received.Add();
  if (received.truncated) {
    counters_.malformed[static_cast<std::size_t>(tp::ErrorCode::kFrameTooLong)]
        .Add();
    return;
  }
  const tp::DatagramResult r =
      tp::DecodeDatagram(received.bytes, max_frame_length_);
  if (r.error != tp::ErrorCode::kNone) {
    const auto code = static_cast<std::size_t>(r.error);
    counters_.malformed[code < kMalformedCodes ? code : 0].Add();
    return;
  }
  const tp::DatagramView& d = r.view;
  if (d.kind() != tp::DatagramKind::kPublish) {
    counters_.wrong_kind.Add();
    return;
  }
  const std::uint32_t stream_id = d.stream_id().value();
  const ProducerTable::Producer* producer = nullptr;
  if (!d.authenticated()) {
    if (auth_.require_authentication) {
      return Dropped(Drop::kUnauthenticated, counters_.unauthenticated,
                     received.source, 0, stream_id);
    }
  } else {
    // Cheapest first: a table lookup, a few network compares, then the MAC.
    producer = auth_.producers != nullptr
                   ? auth_.producers->Find(d.producer_id())
                   : nullptr;
    if (producer == nullptr) {
      return Dropped(Drop::kUnknownProducer, counters_.unknown_producer,
                     received.source, d.producer_id(), stream_id);
    }
    if (!producer->SourceAllowed(received.source.address_be)) {
      return Dropped(Drop::kSourceNotAllowed, counters_.source_not_allowed,
                     received.source, d.producer_id(), stream_id);
    }
    if (!tp::VerifyDatagramMac(d.bytes(), producer->key)) {
      return Dropped(Drop::kBadMac, counters_.bad_mac, received.source,
                     d.producer_id(), stream_id);
    }
  }
  stream::StreamLog* log = registry_.Find(d.stream_id());
  if (log == nullptr) {
    counters_.unknown_stream.Add();
    return;
  }
  if (producer != nullptr && !Permitted(*producer, *log)) {
    return Dropped(Drop::kNotPermitted, counters_.not_permitted,
                   received.source, d.producer_id(), stream_id);
  }
  const ProducerKey key{d.source_id(), stream_id, d.producer_id()};
  auto it = highest_.find(key);
  if (it == highest_.end()) {
    if (highest_.size() >= kMaxProducers) {
      counters_.refused.Add(d.message_count());
      return;
    }
    it = highest_.emplace(key, Producer{}).first;
  }
  Producer& p = it->second;
  p.sweep = sweep_;
  const std::uint64_t first = d.first_sequence().value();
  // Sequences are modulo 2^64 (serial-number arithmetic): `first` is ahead
  // of `highest` when first - highest, wrapped, is below 2^63.
  constexpr std::uint64_t kHalf = std::uint64_t{1} << 63;
  if (!p.anchored) {
    p.highest = first - 1;
    p.anchored = true;
  } else {
    // Only a jump forward can re-anchor: a datagram behind `highest`, by
    // however much, is old (a duplicate or a replay) and the frame loop
    // below drops and counts each of its frames. Letting old datagrams
    // re-anchor would let three captured consecutive ones, replayed, move
    // the producer backwards and append their messages again.
    const std::uint64_t ahead = first - p.highest;
    if (ahead < kHalf && ahead > auth_.max_sequence_jump) {
      p.wild_run = p.wild_run != 0 && first == p.wild_next ? p.wild_run + 1 : 1;
      p.wild_next = first + d.message_count();
      if (p.wild_run < kReanchorDatagrams) {
        return Dropped(Drop::kWildSequence, counters_.wild_sequence,
                       received.source, d.producer_id(), stream_id);
      }
      // The producer really jumped (or restarted its count under the same
      // source id): its last kReanchorDatagrams datagrams agree.
      counters_.reanchored.Add();
      TACHYON_LOG(kInfo) << "udp ingress re-anchored producer source_id="
                         << d.source_id() << " producer_id=" << d.producer_id()
                         << " stream=" << stream_id << " from sequence "
                         << p.highest << " to " << first - 1;
      p.highest = first - 1;
      p.wild_run = 0;
    }
  }
  const std::int64_t now = clock_.realtime_ns();
  std::uint64_t sequence = first;
  std::uint64_t appended = 0;
  for (tp::FrameView frame : d) {
    const std::uint64_t s = sequence++;
    const std::uint64_t ahead = s - p.highest;
    if (ahead == 0 || ahead >= kHalf) {
      counters_.duplicates.Add();
      continue;
    }
    if (ahead > 1) counters_.gaps.Add(ahead - 1);
    p.highest = s;
    const stream::AppendResult a =
        log->Append(tp::PublishView(frame).payload(), now);
    if (a.status == stream::AppendStatus::kOk) {
      ++appended;
    } else {
      counters_.refused.Add();
    }
  }
  if (appended != 0) {
    // In-bound progress ends any wild run: a forger must send
    // kReanchorDatagrams consistent datagrams with none of the real
    // producer's between them.
    p.wild_run = 0;
    counters_.messages_appended.Add(appended);
    waker_.OnAppended(log);
  }
}

void UdpIngress::ForgetIdleProducers() {
  ++sweep_;
  absl::erase_if(highest_, [this](const auto& entry) {
    return sweep_ - entry.second.sweep >= kIdleSweeps;
  });
}

}  // namespace tachyon::udp
