#include "udp/egress.h"

#include <arpa/inet.h>
#include <netinet/udp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>

#include "base/counter.h"
#include "base/log.h"
#include "tachyon/protocol/datagram.h"

namespace tachyon::udp {
namespace {

namespace tp = ::tachyon::protocol;

constexpr std::size_t kHeader = tp::kDatagramHeaderLength;
// The kernel's UDP_MAX_SEGMENTS on older kernels, and a total that stays
// below the 64 KiB an IP packet (before segmentation) may carry.
constexpr std::uint32_t kMaxGsoSegments = 64;
constexpr std::size_t kMaxGsoBytes = 65000;
constexpr std::size_t kGsoControl = CMSG_SPACE(sizeof(std::uint16_t));

std::atomic<bool> g_gso_failure_logged{false};

}  // namespace

UdpEgress::UdpEgress(const config::GatewayConfig& config,
                     std::uint64_t source_id, UdpCounters& counters,
                     stream::WorkerInterest* interest)
    : max_datagram_(config.udp.max_datagram_bytes),
      batch_(static_cast<std::size_t>(config.udp.send_batch)),
      heartbeat_ns_(std::int64_t{config.udp.heartbeat_interval_ms} * 1'000'000),
      source_id_(source_id),
      config_(config),
      counters_(counters),
      interest_(interest),
      packed_(batch_),
      headers_(batch_ * kHeader),
      iov_(2 * batch_),
      gso_control_(batch_ * kGsoControl) {
  EnsureCapacity(1);
}

UdpEgress::~UdpEgress() {
  for (OutStream* s : order_) {
    s->log->Detach(&s->slot);
    if (interest_ != nullptr) interest_->Release(s->log);
  }
  for (int fd : sockets_) ::close(fd);
}

absl::Status UdpEgress::Init() {
  absl::StatusOr<int> fd = CreateEgressSocket(config_, nullptr);
  if (!fd.ok()) return fd.status();
  unicast_fd_ = *fd;
  sockets_.push_back(unicast_fd_);
  gso_ = config_.udp.gso && GsoAvailable(unicast_fd_);
  return absl::OkStatus();
}

void UdpEgress::EnsureCapacity(std::size_t destinations) {
  const std::size_t need = batch_ * std::max<std::size_t>(1, destinations);
  if (msgs_.size() < need) {
    msgs_.resize(need);
    message_info_.resize(need);
    gso_control_.resize(need * kGsoControl);
  }
}

UdpEgress::OutStream& UdpEgress::StreamFor(stream::StreamLog* log) {
  auto& slot = streams_[log->id().value()];
  if (slot == nullptr) {
    slot = std::make_unique<OutStream>();
    slot->log = log;
    log->AttachPinOnly(&slot->slot);
    if (interest_ != nullptr) interest_->Retain(log);
    const stream::StartPoint sp = log->Locate(tp::StartMode::kLatest, {});
    slot->position = sp.position;
    slot->next_sequence = sp.next_sequence.value();
    order_.push_back(slot.get());
  }
  return *slot;
}

UdpEgress::Destination& UdpEgress::AddDestination(OutStream& s,
                                                  const Endpoint& ep, int fd,
                                                  bool gso,
                                                  std::uint64_t next) {
  for (Destination& d : s.destinations) {
    if (d.endpoint == ep) {
      ++d.refs;
      return d;
    }
  }
  Destination d;
  d.endpoint = ep;
  d.addr = ep.ToSockaddr();
  d.fd = fd;
  d.gso = gso;
  d.refs = 1;
  d.next = next;
  s.destinations.push_back(d);
  EnsureCapacity(s.destinations.size());
  return s.destinations.back();
}

absl::Status UdpEgress::AddGroup(stream::StreamLog* log,
                                 const config::UdpGroup& group) {
  OutStream& s = StreamFor(log);
  for (const std::string& text : group.destinations) {
    absl::StatusOr<Endpoint> ep = ParseEndpoint(text);
    if (!ep.ok()) return ep.status();
    AddDestination(s, *ep, unicast_fd_, gso_, s.next_sequence);
  }
  if (!group.multicast.empty()) {
    absl::StatusOr<Endpoint> ep = ParseEndpoint(group.multicast);
    if (!ep.ok()) return ep.status();
    MulticastOptions m;
    m.ttl = group.ttl;
    m.loopback = group.loopback;
    if (!group.interface.empty()) {
      in_addr a{};
      ::inet_pton(AF_INET, group.interface.c_str(), &a);
      m.interface_be = a.s_addr;
    }
    absl::StatusOr<int> fd = CreateEgressSocket(config_, &m);
    if (!fd.ok()) return fd.status();
    sockets_.push_back(*fd);
    AddDestination(s, *ep, *fd, gso_ && GsoAvailable(*fd), s.next_sequence);
  }
  return absl::OkStatus();
}

void UdpEgress::Add(stream::StreamLog* log, const Endpoint& destination,
                    Sequence from) {
  OutStream& s = StreamFor(log);
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
  AddDestination(s, destination, unicast_fd_, gso_, next);
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
    if (low > s.next_sequence)
      Relocate(s, tp::StartMode::kSequence, Sequence{low});
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
  // back, and a payload overwritten while the kernel copies it would leave
  // as a well-formed datagram that receivers cannot tell from a good one.
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
  // Every byte packed, and everything sendmmsg copies, stays pinned until
  // the send returned: the writer cannot overwrite it meanwhile.
  s.slot.Pin(s.position);
  if (!s.log->PinHolds(s.position)) {
    s.slot.Unpin();
    counters_.lapped.Add();
    Relocate(s, tp::StartMode::kEarliest, {});
    return 1;
  }
  std::uint64_t end_pos = 0;
  std::uint64_t end_seq = 0;
  bool corrupt = false;
  const std::size_t packed = Pack(s, tail, &end_pos, &end_seq, &corrupt);
  if (packed > 0) {
    const std::size_t messages = BuildMessages(s, packed);
    SendMessages(s, messages);
  }
  // Where the destination furthest behind now stands: the start of a packed
  // datagram, or the end of the pass.
  std::uint64_t low = std::numeric_limits<std::uint64_t>::max();
  for (const Destination& d : s.destinations) low = std::min(low, d.next);
  if (low >= end_seq) {
    s.position = end_pos;
    s.next_sequence = end_seq;
    for (Destination& d : s.destinations) d.next = std::max(d.next, end_seq);
  } else {
    for (std::size_t i = 0; i < packed; ++i) {
      if (packed_[i].sequence == low) {
        s.position = packed_[i].position;
        s.next_sequence = low;
        break;
      }
    }
  }
  s.slot.Unpin();
  s.last_send_ns = now_ns;
  // Under the pin no frame can be torn; a frame that still does not match
  // its stream and sequence means the cursor went wrong: start over.
  if (corrupt) {
    counters_.lapped.Add();
    Relocate(s, tp::StartMode::kEarliest, {});
  }
  return 1;
}

std::size_t UdpEgress::Pack(OutStream& s, std::uint64_t tail,
                            std::uint64_t* end_pos, std::uint64_t* end_seq,
                            bool* corrupt) {
  const std::uint64_t base = s.position;
  const std::span<const std::byte> bytes = s.log->Readable(base, tail);
  std::uint64_t pos = s.position;
  bool stop = false;
  std::uint64_t seq = s.next_sequence;
  std::size_t n = 0;
  while (n < batch_ && pos < tail && !stop) {
    // A datagram never straddles the sequence a destination starts at.
    std::uint64_t limit = std::numeric_limits<std::uint64_t>::max();
    for (const Destination& d : s.destinations) {
      if (d.next > seq) limit = std::min(limit, d.next);
    }
    Packed p{pos, seq, 0, 0};
    while (pos < tail && seq < limit && p.count < 0xFFFF) {
      const std::byte* frame = bytes.data() + (pos - base);
      const std::uint32_t length = tp::LoadU32(frame);
      const std::uint64_t padded = tp::PaddedLength(length);
      // Lengths, stream and sequence are checked because a frame overwritten
      // under us must not be sent, nor count invented sequences.
      if (length < tp::DataView::kFixedLength || padded > tail - pos) {
        *corrupt = true;
        break;
      }
      const tp::DataView data(tp::FrameView({frame, length}));
      if (data.stream_id() != s.log->id() || data.sequence().value() != seq) {
        *corrupt = true;
        break;
      }
      if (kHeader + p.bytes + padded > max_datagram_) {
        if (p.count > 0) break;
        if (n > 0) {
          // Skipped at the start of the next pass, once every destination
          // owed it has been sent what comes before.
          stop = true;
          break;
        }
        // Alone too large for any datagram, at the cursor: every
        // destination owed it moves past it (receivers see a gap and
        // recover it over TCP).
        counters_.frames_too_large.Add();
        for (Destination& d : s.destinations) {
          if (d.next == seq) d.next = seq + 1;
        }
        pos += padded;
        ++seq;
        p = Packed{pos, seq, 0, 0};
        continue;
      }
      p.bytes += static_cast<std::uint32_t>(padded);
      ++p.count;
      pos += padded;
      ++seq;
    }
    if (p.count == 0) break;
    std::byte* header = headers_.data() + n * kHeader;
    tp::EncodeDatagramHeader({header, kHeader}, tp::DatagramKind::kData,
                             static_cast<std::uint16_t>(p.count), s.log->id(),
                             Sequence{p.sequence}, source_id_);
    iov_[2 * n] = {header, kHeader};
    iov_[2 * n + 1] = {
        const_cast<std::byte*>(bytes.data() + (p.position - base)), p.bytes};
    packed_[n++] = p;
    if (*corrupt) break;
  }
  *end_pos = pos;
  *end_seq = seq;
  return n;
}

std::size_t UdpEgress::BuildMessages(OutStream& s, std::size_t packed) {
  std::size_t m = 0;
  for (std::uint32_t di = 0; di < s.destinations.size(); ++di) {
    Destination& d = s.destinations[di];
    // Each destination gets its runs as GSO messages of its own: the iovecs
    // are shared, only the address and the segment-size cmsg differ.
    const bool gso = d.gso && gso_;
    std::uint32_t i = 0;
    while (i < packed && packed_[i].sequence < d.next) ++i;
    while (i < packed) {
      std::uint32_t end = i + 1;
      if (gso) {
        // A run of equal-sized datagrams (the last may be shorter) in one
        // message; the kernel cuts it at every segment-size bytes.
        const std::size_t size = kHeader + packed_[i].bytes;
        std::size_t total = size;
        while (end < packed && end - i < kMaxGsoSegments &&
               total + kHeader + packed_[end].bytes <= kMaxGsoBytes &&
               kHeader + packed_[end].bytes <= size) {
          const bool shorter = kHeader + packed_[end].bytes < size;
          total += kHeader + packed_[end].bytes;
          ++end;
          if (shorter) break;
        }
      }
      msghdr& h = msgs_[m].msg_hdr;
      h = {};
      h.msg_name = &d.addr;
      h.msg_namelen = sizeof d.addr;
      h.msg_iov = &iov_[2 * i];
      h.msg_iovlen = 2 * (end - i);
      const bool segmented = end - i > 1;
      if (segmented) {
        std::byte* control = gso_control_.data() + m * kGsoControl;
        std::memset(control, 0, kGsoControl);
        h.msg_control = control;
        h.msg_controllen = kGsoControl;
        cmsghdr* c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
        const auto segment =
            static_cast<std::uint16_t>(kHeader + packed_[i].bytes);
        std::memcpy(CMSG_DATA(c), &segment, sizeof segment);
      }
      message_info_[m] = {di, i, end, segmented};
      ++m;
      i = end;
    }
  }
  return m;
}

void UdpEgress::SendMessages(OutStream& s, std::size_t count) {
  std::size_t m = 0;
  while (m < count) {
    // One sendmmsg per run of messages on the same socket.
    const int fd = s.destinations[message_info_[m].destination].fd;
    std::size_t run = m + 1;
    while (run < count &&
           s.destinations[message_info_[run].destination].fd == fd) {
      ++run;
    }
    int sent =
        ::sendmmsg(fd, &msgs_[m], static_cast<unsigned>(run - m), MSG_DONTWAIT);
    if (sent < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
        // Left for the next pass: these destinations keep their `next`.
        counters_.send_would_block.Add();
        m = run;
        continue;
      }
      // Only errors that mean "no segmentation here" turn GSO off; an
      // unreachable destination is handled below like any other send.
      if (message_info_[m].gso &&
          (err == EIO || err == EINVAL || err == EOPNOTSUPP)) {
        // The kernel (or the device) refuses segmentation: plain datagrams
        // from the next pass on.
        gso_ = false;
        if (!g_gso_failure_logged.exchange(true, std::memory_order_relaxed)) {
          TACHYON_LOG(kWarn) << "UDP GSO send failed (" << std::strerror(err)
                             << "); sending one datagram per message instead";
        }
        m = run;
        continue;
      }
      // Anything else (an unreachable destination, say): this message is
      // lost to that destination, like any UDP loss; go on with the next.
      counters_.send_errors.Add();
      const Message& lost = message_info_[m];
      Destination& d = s.destinations[lost.destination];
      d.next = packed_[lost.end - 1].sequence + packed_[lost.end - 1].count;
      ++m;
      continue;
    }
    for (std::size_t k = m; k < m + static_cast<std::size_t>(sent); ++k) {
      const Message& info = message_info_[k];
      Destination& d = s.destinations[info.destination];
      std::uint64_t frames = 0;
      for (std::uint32_t i = info.first; i < info.end; ++i) {
        frames += packed_[i].count;
      }
      d.next = packed_[info.end - 1].sequence + packed_[info.end - 1].count;
      counters_.datagrams_sent.Add(info.end - info.first);
      counters_.messages_sent.Add(frames);
      if (info.gso) counters_.gso_sends.Add();
    }
    // A partial batch: the socket is full; the rest waits for the next pass.
    if (static_cast<std::size_t>(sent) < run - m) {
      counters_.send_would_block.Add();
    }
    m = run;
  }
}

void UdpEgress::SendHeartbeats(OutStream& s, std::int64_t now_ns) {
  s.last_send_ns = now_ns;
  std::byte* header = headers_.data();
  tp::EncodeDatagramHeader({header, kHeader}, tp::DatagramKind::kHeartbeat, 0,
                           s.log->id(), Sequence{s.next_sequence}, source_id_);
  iov_[0] = {header, kHeader};
  std::size_t m = 0;
  for (Destination& d : s.destinations) {
    msghdr& h = msgs_[m].msg_hdr;
    h = {};
    h.msg_name = &d.addr;
    h.msg_namelen = sizeof d.addr;
    h.msg_iov = &iov_[0];
    h.msg_iovlen = 1;
    ++m;
  }
  for (std::size_t k = 0; k < m; ++k) {
    // Destinations may use different sockets: one at a time is fine for a
    // message sent once per heartbeat interval.
    if (::sendmmsg(s.destinations[k].fd, &msgs_[k], 1, MSG_DONTWAIT) == 1) {
      counters_.heartbeats_sent.Add();
    } else {
      counters_.send_would_block.Add();
    }
  }
}

}  // namespace tachyon::udp
