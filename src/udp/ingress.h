// UdpIngress: one worker's UDP ingress — PUBLISH datagrams into stream logs.
//
// Overview
//   Datagrams arrive through the worker's datagram path (io::DatagramIo:
//   recvmmsg on a kernel socket today), `recv_batch` at a time, in buffers
//   the path owns. Each datagram is validated whole by DecodeDatagram
//   (PROTOCOL.md 16.2) and dropped and counted if malformed.
//   Authentication (16.7): a version-2 datagram names its producer; it is
//   dropped and counted unless the producer is configured
//   (unknown_producer), the source address is in its allowed_sources
//   (source_not_allowed, checked before the MAC as the cheap filter), its
//   MAC verifies (bad_mac, constant-time compare), the stream exists, and
//   the producer may publish to it (not_permitted, decided once per
//   (producer, stream) and cached). Version-1 datagrams carry no MAC: they
//   are dropped (unauthenticated) when authentication is required.
//   The first drops of each reason, then every power of two, are logged
//   (rate-limited) with the source address.
//
//   Producers are tracked per (producer_id, source_id, stream), producer_id
//   0 for version 1, with sequences modulo 2^64 (16.5): a frame whose
//   producer sequence is not ahead of the highest accepted one is a
//   duplicate, a jump forward counts the skipped sequences as a gap. A
//   datagram further than max_sequence_jump from the highest (either way)
//   is wild: dropped and counted, moving nothing, unless it is the
//   kReanchorDatagrams-th consecutive wild datagram each continuing the
//   previous one, which re-anchors the producer there. Every accepted
//   PUBLISH payload is appended to its stream's log exactly as a TCP PUBLISH
//   is (same size and back-pressure refusals, which here are counted, since
//   UDP has no return path). What the path dropped before we could read it
//   (a full socket buffer: SO_RXQ_OVFL) is counted as kernel drops.
//
//   Fairness: one Drain reads at most kBatchesPerTurn batches; if the path
//   still had datagrams, pending() stays true and the next DoWork drains
//   again (edge-triggered readiness would not report them again). A path
//   without a readiness descriptor is drained every pass.
//
//   As an agent: OnStart registers the path's readiness with the reactor,
//   DoWork drains while datagrams may wait and forgets idle producers every
//   kProducerSweepNs, OnDrain stops reading (a stopping gateway takes no
//   new input).
//
// Threading: worker thread only, except counters (see udp_counters.h).
// Nothing on the receive path allocates, except the first datagram of a new
// (producer, stream) pair, bounded by kMaxProducers.
#ifndef TACHYON_UDP_INGRESS_H_
#define TACHYON_UDP_INGRESS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/clock.h"
#include "base/log_limit.h"
#include "io/agent.h"
#include "io/datagram_io.h"
#include "io/reactor.h"
#include "stream/reader_interest.h"
#include "stream/stream_registry.h"
#include "udp/producers.h"
#include "udp/udp_counters.h"

namespace tachyon::udp {

class UdpIngress final : public io::Agent, public io::ReadinessHandler {
 public:
  /// Producers tracked at once; datagrams of further (source, stream) pairs
  /// are refused (counted) rather than let a flood of forged source ids
  /// grow memory without bound.
  static constexpr std::size_t kMaxProducers = 1 << 16;
  static constexpr int kBatchesPerTurn = 8;
  /// ForgetIdleProducers forgets a producer after this many calls without a
  /// datagram from it.
  static constexpr std::uint32_t kIdleSweeps = 6;

  /// ForgetIdleProducers runs this often from DoWork.
  static constexpr std::int64_t kProducerSweepNs = 10'000'000'000;

  /// Receives from `io`, at most kMaxBatch datagrams at a time. `reactor`
  /// reports the path's readiness once the agent starts (null: the caller
  /// calls Drain itself, as tests do). DATA timestamps come from `clock`;
  /// appends are announced to `waker`.
  static constexpr int kMaxBatch = 1024;
  UdpIngress(io::DatagramIo& io, int batch, std::uint32_t max_frame_length,
             stream::StreamRegistry& registry, base::LoopClock& clock,
             stream::StreamWaker& waker, UdpCounters& counters,
             io::Reactor* reactor = nullptr);

  // io::Agent
  [[nodiscard]] std::string_view name() const override { return "udp-ingress"; }
  absl::Status OnStart(std::int64_t now_ns) override;
  int DoWork(std::int64_t now_ns) override;
  [[nodiscard]] bool HasPendingWork() const override {
    return pending_ && !draining_;
  }
  void OnDrain(std::int64_t now_ns) override;

  // io::ReadinessHandler
  void OnReadable() override;

  /// Reads and appends up to kBatchesPerTurn batches. Returns datagrams read.
  int Drain();
  /// True if the socket may still hold datagrams (the last Drain stopped at
  /// its budget).
  [[nodiscard]] bool pending() const { return pending_; }
  /// Forgets the (producer, stream) pairs not heard from during the last
  /// kIdleSweeps calls, so that restarted producers (each restart brings a
  /// new random source id) and forged ids cannot fill the table for good.
  /// The worker calls it every 10 s: a producer silent for a minute starts
  /// over (its next datagram is accepted whatever its sequence).
  void ForgetIdleProducers();
  /// (producer, stream) pairs tracked now (tests).
  [[nodiscard]] std::size_t producers() const { return highest_.size(); }

  /// Consecutive wild datagrams, each continuing the previous one, that
  /// re-anchor a producer beyond the jump bound (PROTOCOL.md 16.5).
  static constexpr std::uint32_t kReanchorDatagrams = 3;

  /// What ingress requires of datagrams (PROTOCOL.md 16.5, 16.7).
  struct Auth {
    /// Configured producers; null: none (every version-2 datagram is then
    /// an unknown producer's).
    std::shared_ptr<const ProducerTable> producers;
    bool require_authentication = false;
    std::uint64_t max_sequence_jump = 1'000'000;
  };
  /// Worker thread: replaces the authentication settings (a reload).
  /// Cached permissions are forgotten; sequence state is kept.
  void SetAuth(Auth auth);

 private:
  struct ProducerKey {
    std::uint64_t source_id;
    std::uint32_t stream;
    std::uint32_t producer;  // producer_id; 0: version 1
    bool operator==(const ProducerKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const ProducerKey& k) {
      return H::combine(std::move(h), k.source_id, k.stream, k.producer);
    }
  };
  enum class Drop : std::uint8_t {
    kUnauthenticated,
    kUnknownProducer,
    kSourceNotAllowed,
    kBadMac,
    kNotPermitted,
    kWildSequence,
    kCount
  };

  void Handle(const io::RxDatagram& datagram);
  // Counts a drop and logs the 1st, 2nd, 4th, ... of its reason.
  void Dropped(Drop reason, base::Counter& counter, const io::Endpoint& from,
               std::uint32_t producer_id, std::uint32_t stream);
  // Worker thread: the cached answer of MayPublish for (producer, stream).
  bool Permitted(const ProducerTable::Producer& producer,
                 const stream::StreamLog& log);

  io::DatagramIo& io_;
  const int batch_;
  const std::uint32_t max_frame_length_;
  stream::StreamRegistry& registry_;
  base::LoopClock& clock_;
  stream::StreamWaker& waker_;
  UdpCounters& counters_;
  io::Reactor* const reactor_;
  bool registered_ = false;
  bool draining_ = false;
  bool pending_ = false;
  std::int64_t next_sweep_ns_ = 0;
  std::uint64_t drops_seen_ = 0;  // io_.drops() already counted

  std::array<io::RxDatagram, kMaxBatch> received_;
  struct Producer {
    std::uint64_t highest = 0;    // highest producer sequence accepted
    std::uint64_t wild_next = 0;  // the sequence a continuing wild run has
    std::uint32_t wild_run = 0;   // consecutive consistent wild datagrams
    std::uint32_t sweep = 0;      // sweep_ when last heard from
    bool anchored = false;        // highest is meaningful
  };
  absl::flat_hash_map<ProducerKey, Producer> highest_;
  std::uint32_t sweep_ = 0;

  Auth auth_;
  // (producer index << 32 | stream id) -> may publish. Stream ids are never
  // reused while the gateway runs, so an answer stays true.
  absl::flat_hash_map<std::uint64_t, bool> permitted_;
  std::array<std::uint64_t, static_cast<std::size_t>(Drop::kCount)> drops_{};
  base::LogRateLimiter drop_log_{5, 20};
};

}  // namespace tachyon::udp

#endif  // TACHYON_UDP_INGRESS_H_
