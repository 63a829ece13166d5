#include "udp/ingress.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "base/counter.h"
#include "tachyon/protocol/datagram.h"

namespace tachyon::udp {
namespace {

namespace tp = ::tachyon::protocol;

constexpr std::size_t kControlSpace = CMSG_SPACE(sizeof(std::uint32_t));

}  // namespace

UdpIngress::UdpIngress(int fd, int batch, std::uint32_t max_datagram_bytes,
                       std::uint32_t max_frame_length,
                       stream::StreamRegistry& registry, base::LoopClock& clock,
                       stream::StreamWaker& waker, UdpCounters& counters,
                       io::Reactor* reactor)
    : fd_(fd),
      batch_(batch),
      max_datagram_(max_datagram_bytes),
      max_frame_length_(max_frame_length),
      registry_(registry),
      clock_(clock),
      waker_(waker),
      counters_(counters),
      reactor_(reactor),
      buffers_(static_cast<std::size_t>(batch) * max_datagram_bytes),
      control_(static_cast<std::size_t>(batch) * kControlSpace),
      iov_(static_cast<std::size_t>(batch)),
      msgs_(static_cast<std::size_t>(batch)) {
  for (int i = 0; i < batch_; ++i) {
    const auto n = static_cast<std::size_t>(i);
    iov_[n] = {buffers_.data() + n * max_datagram_, max_datagram_};
  }
}

absl::Status UdpIngress::OnStart(std::int64_t now_ns) {
  next_sweep_ns_ = now_ns + kProducerSweepNs;
  if (reactor_ == nullptr) return absl::OkStatus();
  if (absl::Status s = reactor_->AddReadable(fd_, this); !s.ok()) return s;
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
  if (registered_) reactor_->RemoveReadable(fd_);
  registered_ = false;
}

void UdpIngress::OnReadable() {
  pending_ = true;
  if (!draining_) Drain();
}

int UdpIngress::Drain() {
  int total = 0;
  for (int turn = 0; turn < kBatchesPerTurn; ++turn) {
    // recvmmsg overwrites msg_len, msg_flags and msg_controllen: reset them.
    for (int i = 0; i < batch_; ++i) {
      const auto n = static_cast<std::size_t>(i);
      msghdr& h = msgs_[n].msg_hdr;
      h = {};
      h.msg_iov = &iov_[n];
      h.msg_iovlen = 1;
      h.msg_control = control_.data() + n * kControlSpace;
      h.msg_controllen = kControlSpace;
    }
    const int got = ::recvmmsg(fd_, msgs_.data(), static_cast<unsigned>(batch_),
                               MSG_DONTWAIT, nullptr);
    if (got <= 0) {
      if (got < 0 && errno == EINTR) continue;
      pending_ = false;  // EAGAIN (or an error that readiness will repeat)
      return total;
    }
    for (int i = 0; i < got; ++i) {
      const auto n = static_cast<std::size_t>(i);
      msghdr& h = msgs_[n].msg_hdr;
      for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr;
           c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
          std::uint32_t drops;
          std::memcpy(&drops, CMSG_DATA(c), sizeof drops);
          // Wraps at 2^32 like the kernel's counter; the difference does not.
          const std::uint32_t delta = drops - kernel_drops_seen_;
          kernel_drops_seen_ = drops;
          if (delta != 0) {
            counters_.kernel_drops.Add(delta);
          }
        }
      }
      Handle(
          {static_cast<const std::byte*>(iov_[n].iov_base), msgs_[n].msg_len},
          (h.msg_flags & MSG_TRUNC) != 0);
    }
    total += got;
    if (got < batch_) {
      pending_ = false;  // a short batch emptied the socket
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
