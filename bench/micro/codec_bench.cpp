// Wire codec microbenchmarks: the DATA hot path.
//
//   BM_DecodeData/<payload>        DecodeFrame + DataView sequence/payload
//   BM_EncodeData/<payload>        EncodeData (header + payload copy)
//   BM_BeginDataMemcpy/<payload>   BeginData, then memcpy into the payload
//   BM_StreamDecode64KiB           FrameDecoder over 64 KiB of 32-byte DATA
//
// Every benchmark reports time_per_frame (ns), frames_per_s (and
// items_per_second) and allocs_per_op: heap allocations in the timed loop per
// iteration, counted by the replacement global operator new below. The decode
// and encode paths must not allocate, so allocs_per_op must read 0.
//
// Run: scripts/run-micro-bench.sh BUILD_DIR
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <vector>

#include "alloc_counter.h"
#include "benchmark/benchmark.h"
#include "tachyon/protocol/protocol.h"

namespace tachyon::protocol {
namespace {

constexpr std::uint32_t kMaxFrame = kDefaultMaxFrameLength;

using ::tachyon::bench::AllocationCounter;

// Publishes the per-frame figures for `frames` frames processed in total.
void ReportFrames(benchmark::State& state, std::int64_t frames) {
  state.SetItemsProcessed(frames);
  const auto n = static_cast<double>(frames);
  state.counters["frames_per_s"] =
      benchmark::Counter(n, benchmark::Counter::kIsRate);
  // An inverted rate: seconds per frame, printed with its unit ("2.5ns").
  state.counters["time_per_frame"] = benchmark::Counter(
      n, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

std::vector<std::byte> Payload(std::size_t size) {
  std::vector<std::byte> p(size);
  for (std::size_t i = 0; i < size; ++i) p[i] = static_cast<std::byte>(i);
  return p;
}

void BM_DecodeData(benchmark::State& state) {
  const auto payload_size = static_cast<std::size_t>(state.range(0));
  const std::vector<std::byte> payload = Payload(payload_size);
  std::vector<std::byte> frame(
      PaddedLength(DataView::kFixedLength + payload_size));
  if (EncodeData(frame, StreamId{1}, Sequence{1}, 1'700'000'000'000'000'000,
                 payload) != frame.size()) {
    state.SkipWithError("EncodeData failed");
    return;
  }
  const std::span<const std::byte> bytes(frame);
  // Escape the frame so that the compiler must reload it every iteration.
  benchmark::DoNotOptimize(frame.data());
  const AllocationCounter allocs;
  for (auto _ : state) {
    const DecodeResult r = DecodeFrame(bytes, kMaxFrame);
    if (r.status != DecodeStatus::kFrame) {
      state.SkipWithError("DecodeFrame failed");
      break;
    }
    const DataView data(r.frame);
    benchmark::DoNotOptimize(data.sequence());
    benchmark::DoNotOptimize(data.payload());
  }
  allocs.Report(state);
  ReportFrames(state, state.iterations());
}

void BM_EncodeData(benchmark::State& state) {
  const auto payload_size = static_cast<std::size_t>(state.range(0));
  const std::vector<std::byte> payload = Payload(payload_size);
  std::vector<std::byte> out(
      PaddedLength(DataView::kFixedLength + payload_size));
  std::uint64_t sequence = 1;
  const AllocationCounter allocs;
  for (auto _ : state) {
    const std::size_t n = EncodeData(out, StreamId{1}, Sequence{sequence++},
                                     1'700'000'000'000'000'000, payload);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  allocs.Report(state);
  ReportFrames(state, state.iterations());
  state.SetBytesProcessed(state.iterations() *
                          static_cast<std::int64_t>(payload_size));
}

void BM_BeginDataMemcpy(benchmark::State& state) {
  const auto payload_size = static_cast<std::size_t>(state.range(0));
  const std::vector<std::byte> payload = Payload(payload_size);
  std::vector<std::byte> out(
      PaddedLength(DataView::kFixedLength + payload_size));
  std::uint64_t sequence = 1;
  const AllocationCounter allocs;
  for (auto _ : state) {
    const std::span<std::byte> body =
        BeginData(out, StreamId{1}, Sequence{sequence++},
                  1'700'000'000'000'000'000, payload_size);
    std::memcpy(body.data(), payload.data(), payload_size);
    benchmark::DoNotOptimize(body.data());
    benchmark::ClobberMemory();
  }
  allocs.Report(state);
  ReportFrames(state, state.iterations());
  state.SetBytesProcessed(state.iterations() *
                          static_cast<std::int64_t>(payload_size));
}

// A 64 KiB receive buffer packed with DATA frames of 32-byte payloads (64
// bytes each, so 1024 frames), decoded through FrameDecoder as a reactor
// would after one large recv. The bytes are written once, before timing:
// each iteration only Resets the decoder and Commits the whole buffer
// (WritableSpan on an empty decoder moves nothing), then drains it.
void BM_StreamDecode64KiB(benchmark::State& state) {
  constexpr std::size_t kBuffer = 64 * 1024;
  constexpr std::size_t kPayload = 32;
  constexpr std::size_t kFrame =
      PaddedLength(DataView::kFixedLength + kPayload);
  constexpr std::int64_t kFrames = kBuffer / kFrame;
  static_assert(kBuffer >= FrameDecoder::MinStorage(kMaxFrame));

  std::vector<std::byte> storage(kBuffer);
  const std::vector<std::byte> payload = Payload(kPayload);
  for (std::int64_t i = 0; i < kFrames; ++i) {
    const std::span<std::byte> slot = std::span(storage).subspan(
        static_cast<std::size_t>(i) * kFrame, kFrame);
    if (EncodeData(slot, StreamId{1},
                   Sequence{static_cast<std::uint64_t>(i + 1)},
                   1'700'000'000'000'000'000, payload) != kFrame) {
      state.SkipWithError("EncodeData failed");
      return;
    }
  }
  FrameDecoder decoder(storage, kMaxFrame);
  const AllocationCounter allocs;
  for (auto _ : state) {
    decoder.Reset();
    const std::span<std::byte> space = decoder.WritableSpan();
    decoder.Commit(space.size());
    std::int64_t frames = 0;
    for (DecodeResult r = decoder.Next(); r.status == DecodeStatus::kFrame;
         r = decoder.Next()) {
      const DataView data(r.frame);
      benchmark::DoNotOptimize(data.sequence());
      benchmark::DoNotOptimize(data.payload());
      ++frames;
    }
    if (frames != kFrames) {
      state.SkipWithError("decoded the wrong number of frames");
      break;
    }
  }
  allocs.Report(state);
  ReportFrames(state, state.iterations() * kFrames);
}

BENCHMARK(BM_DecodeData)->Arg(32)->Arg(256)->Arg(1024);
BENCHMARK(BM_EncodeData)->Arg(32)->Arg(256)->Arg(1024);
BENCHMARK(BM_BeginDataMemcpy)->Arg(32)->Arg(256)->Arg(1024);
BENCHMARK(BM_StreamDecode64KiB);

}  // namespace
}  // namespace tachyon::protocol

BENCHMARK_MAIN();
