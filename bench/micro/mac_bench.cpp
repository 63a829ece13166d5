// Datagram MAC candidates (PROTOCOL.md 16.7): the cost of tagging one UDP
// datagram of 64, 512 and 1472 bytes, beside the floor of the same run.
//
//   BM_Floor_Memcpy/bytes:N          copy the N bytes once (the floor: a
//                                    MAC has to read every byte at least)
//   BM_SipHashX24/bytes:N            libsodium crypto_shorthash_siphashx24
//                                    (SipHash-2-4, 128-bit tag)
//   BM_Blake2bKeyed/bytes:N          libsodium crypto_generichash (keyed
//                                    BLAKE2b, 16-byte tag)
//   BM_HmacSha256/bytes:N            OpenSSL HMAC-SHA-256 truncated to 16
//                                    bytes, one HMAC_CTX reused (key set
//                                    once, re-initialised per datagram)
//   BM_HmacSha256Evp/bytes:N         the same through EVP_MAC, one context
//                                    duplicated from a keyed template
//   BM_Verify_SipHashX24/bytes:N     what the gateway does per datagram:
//                                    compute the tag and compare it in
//                                    constant time (sodium_memcmp)
//
// Counters: bytes_per_second and allocs_per_op (operator new only: OpenSSL
// and libsodium allocate with malloc, so the loops are written to allocate
// nothing; HMAC_Init_ex with a null key and EVP_MAC_init with a null key
// reuse the keyed state). After the run, ns per datagram and the ratio to
// the floor are printed. Compare ratios on a shared host.
//
// Run: build/release/bench/micro/tachyon-micro-mac
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "benchmark/benchmark.h"

// HMAC_CTX is deprecated in OpenSSL 3.0 but is still the cheapest way to
// reuse a keyed HMAC; the benchmark measures it as a candidate.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace {

constexpr std::array<std::uint8_t, 16> kKey16 = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
constexpr std::array<std::uint8_t, 32> kKey32 = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
    0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
    0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};

std::map<std::string, double>& Results() {
  static std::map<std::string, double> r;
  return r;
}

std::vector<unsigned char> Datagram(std::int64_t n) {
  std::vector<unsigned char> d(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < d.size(); ++i)
    d[i] = static_cast<unsigned char>(i * 131 + 7);
  return d;
}

void Finish(benchmark::State& state,
            const tachyon::bench::AllocationCounter& allocs) {
  state.SetBytesProcessed(state.iterations() * state.range(0));
  allocs.Report(state);
}

void BM_Floor_Memcpy(benchmark::State& state) {
  const auto in = Datagram(state.range(0));
  std::vector<unsigned char> out(in.size());
  const tachyon::bench::AllocationCounter allocs;
  for (auto _ : state) {
    benchmark::DoNotOptimize(in.data());
    std::memcpy(out.data(), in.data(), in.size());
    benchmark::ClobberMemory();
  }
  Finish(state, allocs);
}

void BM_SipHashX24(benchmark::State& state) {
  const auto in = Datagram(state.range(0));
  unsigned char tag[crypto_shorthash_siphashx24_BYTES];
  const tachyon::bench::AllocationCounter allocs;
  for (auto _ : state) {
    benchmark::DoNotOptimize(in.data());
    crypto_shorthash_siphashx24(tag, in.data(), in.size(), kKey16.data());
    benchmark::DoNotOptimize(tag);
  }
  Finish(state, allocs);
}

void BM_Blake2bKeyed(benchmark::State& state) {
  const auto in = Datagram(state.range(0));
  unsigned char tag[16];
  const tachyon::bench::AllocationCounter allocs;
  for (auto _ : state) {
    benchmark::DoNotOptimize(in.data());
    crypto_generichash(tag, sizeof tag, in.data(), in.size(), kKey32.data(),
                       kKey32.size());
    benchmark::DoNotOptimize(tag);
  }
  Finish(state, allocs);
}

void BM_HmacSha256(benchmark::State& state) {
  const auto in = Datagram(state.range(0));
  HMAC_CTX* ctx = HMAC_CTX_new();
  HMAC_Init_ex(ctx, kKey32.data(), kKey32.size(), EVP_sha256(), nullptr);
  unsigned char full[32];
  unsigned int len = 0;
  const tachyon::bench::AllocationCounter allocs;
  for (auto _ : state) {
    benchmark::DoNotOptimize(in.data());
    HMAC_Init_ex(ctx, nullptr, 0, nullptr, nullptr);
    HMAC_Update(ctx, in.data(), in.size());
    HMAC_Final(ctx, full, &len);
    benchmark::DoNotOptimize(full);
  }
  Finish(state, allocs);
  HMAC_CTX_free(ctx);
}

void BM_HmacSha256Evp(benchmark::State& state) {
  const auto in = Datagram(state.range(0));
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* tmpl = EVP_MAC_CTX_new(mac);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                         OSSL_PARAM_construct_end()};
  EVP_MAC_init(tmpl, kKey32.data(), kKey32.size(), params);
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  unsigned char full[32];
  std::size_t len = 0;
  const tachyon::bench::AllocationCounter allocs;
  for (auto _ : state) {
    benchmark::DoNotOptimize(in.data());
    EVP_MAC_init(tmpl, nullptr, 0, nullptr);
    EVP_MAC_update(tmpl, in.data(), in.size());
    EVP_MAC_final(tmpl, full, &len, sizeof full);
    benchmark::DoNotOptimize(full);
  }
  Finish(state, allocs);
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_CTX_free(tmpl);
  EVP_MAC_free(mac);
}

void BM_Verify_SipHashX24(benchmark::State& state) {
  const auto in = Datagram(state.range(0));
  unsigned char expected[crypto_shorthash_siphashx24_BYTES];
  crypto_shorthash_siphashx24(expected, in.data(), in.size(), kKey16.data());
  int bad = 0;
  const tachyon::bench::AllocationCounter allocs;
  for (auto _ : state) {
    unsigned char tag[crypto_shorthash_siphashx24_BYTES];
    benchmark::DoNotOptimize(in.data());
    crypto_shorthash_siphashx24(tag, in.data(), in.size(), kKey16.data());
    bad += sodium_memcmp(tag, expected, sizeof tag) != 0;
  }
  if (bad != 0) state.SkipWithError("tag mismatch");
  Finish(state, allocs);
}

void Sizes(benchmark::internal::Benchmark* b) {
  b->ArgName("bytes")->Arg(64)->Arg(512)->Arg(1472);
}

BENCHMARK(BM_Floor_Memcpy)->Apply(Sizes);
BENCHMARK(BM_SipHashX24)->Apply(Sizes);
BENCHMARK(BM_Blake2bKeyed)->Apply(Sizes);
BENCHMARK(BM_HmacSha256)->Apply(Sizes);
BENCHMARK(BM_HmacSha256Evp)->Apply(Sizes);
BENCHMARK(BM_Verify_SipHashX24)->Apply(Sizes);

// Prints ns per datagram of every candidate and its ratio to the floor.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      Results()[r.benchmark_name()] =
          r.GetAdjustedRealTime();  // in the run's time unit (ns)
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\nns per datagram, and x the memcpy floor of the same run:\n");
    for (const char* size : {"64", "512", "1472"}) {
      const std::string floor_name =
          std::string("BM_Floor_Memcpy/bytes:") + size;
      const auto f = Results().find(floor_name);
      if (f == Results().end()) continue;
      std::printf("  %5s B  floor %7.1f ns", size, f->second);
      for (const char* c : {"BM_SipHashX24", "BM_Blake2bKeyed", "BM_HmacSha256",
                            "BM_HmacSha256Evp", "BM_Verify_SipHashX24"}) {
        const auto it = Results().find(std::string(c) + "/bytes:" + size);
        if (it == Results().end()) continue;
        std::printf(" | %s %.1f (x%.1f)", c + 3, it->second,
                    it->second / f->second);
      }
      std::printf("\n");
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return 1;
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
