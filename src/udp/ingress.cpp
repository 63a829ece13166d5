#include "udp/ingress.h"

#include <algorithm>

#include "tachyon/protocol/datagram.h"

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
      Handle(d.bytes, d.truncated);
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

void UdpIngress::Handle(std::span<const std::byte> datagram, bool truncated) {
  counters_.datagrams_received.Add();
  if (truncated) {
    counters_.malformed[static_cast<std::size_t>(tp::ErrorCode::kFrameTooLong)]
        .Add();
    return;
  }
  const tp::DatagramResult r = tp::DecodeDatagram(datagram, max_frame_length_);
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
  stream::StreamLog* log = registry_.Find(d.stream_id());
  if (log == nullptr) {
    counters_.unknown_stream.Add();
    return;
  }
  const ProducerKey key{d.source_id(), d.stream_id().value()};
  auto it = highest_.find(key);
  if (it == highest_.end()) {
    if (highest_.size() >= kMaxProducers) {
      counters_.refused.Add(d.message_count());
      return;
    }
    it = highest_.emplace(key, Producer{}).first;
  }
  it->second.sweep = sweep_;
  std::uint64_t& highest = it->second.highest;
  const std::int64_t now = clock_.realtime_ns();
  std::uint64_t sequence = d.first_sequence().value();
  std::uint64_t appended = 0;
  for (tp::FrameView frame : d) {
    const std::uint64_t s = sequence++;
    if (s <= highest) {
      counters_.duplicates.Add();
      continue;
    }
    if (s > highest + 1) counters_.gaps.Add(s - highest - 1);
    highest = s;
    const stream::AppendResult a =
        log->Append(tp::PublishView(frame).payload(), now);
    if (a.status == stream::AppendStatus::kOk) {
      ++appended;
    } else {
      counters_.refused.Add();
    }
  }
  if (appended != 0) {
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
