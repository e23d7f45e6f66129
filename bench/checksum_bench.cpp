// Internet checksum throughput: the fast internet_checksum against the two-bytes-at-a-time reference,
// over a minimum frame, an Ethernet MTU, a jumbo frame and a 64 KiB TSO/GRO-sized buffer.
//   build/bench/bench_checksum --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "stack/checksum.hpp"
#include "stack/random.hpp"

namespace {

using tapstack::Bytes;

std::vector<std::byte> random_buffer(std::size_t n) {
  std::vector<std::byte> v(n + 1);
  tapstack::SeededRng rng{n};
  rng.fill(v);
  return v;
}

template <std::uint16_t (*Fn)(Bytes) noexcept>
void BM_Checksum(benchmark::State& state, bool misaligned) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto buf = random_buffer(n);
  const Bytes data{buf.data() + (misaligned ? 1 : 0), n};
  for (auto _ : state) {
    benchmark::DoNotOptimize(data.data());
    std::uint16_t c = Fn(data);
    benchmark::DoNotOptimize(c);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n));
}

void BM_Fast(benchmark::State& s) { BM_Checksum<tapstack::internet_checksum>(s, false); }
void BM_FastMisaligned(benchmark::State& s) { BM_Checksum<tapstack::internet_checksum>(s, true); }
void BM_Reference(benchmark::State& s) { BM_Checksum<tapstack::internet_checksum_reference>(s, false); }

// How TCP/UDP use it: a pseudo-header in words, then header and payload spans (the payload at an odd offset).
void BM_ChecksumSpans(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto buf = random_buffer(n);
  const Bytes header{buf.data(), 21};
  const Bytes payload{buf.data() + 21, n - 21};
  for (auto _ : state) {
    benchmark::DoNotOptimize(buf.data());
    tapstack::Checksum c;
    c.add_u32(0xc0a80001).add_u32(0x0a000002).add_u16(6).add_u16(std::uint16_t(n)).add(header).add(payload);
    std::uint16_t v = c.finish();
    benchmark::DoNotOptimize(v);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n));
}

#define SIZES Arg(64)->Arg(1500)->Arg(9000)->Arg(65536)
BENCHMARK(BM_Fast)->SIZES;
BENCHMARK(BM_FastMisaligned)->SIZES;
BENCHMARK(BM_Reference)->SIZES;
BENCHMARK(BM_ChecksumSpans)->SIZES;

}  // namespace

BENCHMARK_MAIN();
