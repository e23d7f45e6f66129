// SPSC ring throughput: tapstack::SpscRing against boost::lockfree::spsc_queue with the same capacity, one
// item at a time and in batches of 32. The two-thread runs move kItems sequence numbers per iteration from a
// producer thread to the consumer (the benchmark thread), which checks their sum; the same-thread runs
// measure the per-operation cost with no second core involved.
//   build/bench/bench_ring --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <array>
#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>
#include <span>
#include <thread>

#include "stack/spsc_ring.hpp"

namespace {

constexpr std::size_t kCapacity = 4096;
constexpr std::uint64_t kItems = std::uint64_t{1} << 22;
constexpr std::size_t kBatch = 32;

// Same waiting policy for both rings: spin with a pause, yield now and then (the host may have fewer free
// cores than threads, and a spinning side must not starve the other).
struct Backoff {
  unsigned spins = 0;
  void pause() noexcept {
    if (++spins < 256) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else {
      spins = 0;
      std::this_thread::yield();
    }
  }
  void reset() noexcept { spins = 0; }
};

struct Ours {
  tapstack::SpscRing<std::uint64_t> ring{kCapacity};
  bool push(std::uint64_t v) noexcept { return ring.try_push(v); }
  bool pop(std::uint64_t& v) noexcept { return ring.try_pop(v); }
  std::size_t push_n(std::uint64_t* p, std::size_t n) noexcept { return ring.push_batch(std::span{p, n}); }
  std::size_t pop_n(std::uint64_t* p, std::size_t n) noexcept { return ring.pop_batch(std::span{p, n}); }
};

struct Boost {
  boost::lockfree::spsc_queue<std::uint64_t> queue{kCapacity};  // run-time capacity, like ours
  bool push(std::uint64_t v) noexcept { return queue.push(v); }
  bool pop(std::uint64_t& v) noexcept { return queue.pop(v); }
  std::size_t push_n(std::uint64_t* p, std::size_t n) noexcept { return queue.push(p, n); }
  std::size_t pop_n(std::uint64_t* p, std::size_t n) noexcept { return queue.pop(p, n); }
};

template <class Ring>
void BM_Single(benchmark::State& state) {
  auto ring = std::make_unique<Ring>();
  for (auto _ : state) {
    std::thread producer([&] {
      Backoff b;
      for (std::uint64_t i = 0; i < kItems;) {
        if (ring->push(i)) {
          ++i;
          b.reset();
        } else {
          b.pause();
        }
      }
    });
    std::uint64_t sum = 0, v = 0;
    Backoff b;
    for (std::uint64_t got = 0; got < kItems;) {
      if (ring->pop(v)) {
        sum += v;
        ++got;
        b.reset();
      } else {
        b.pause();
      }
    }
    producer.join();
    if (sum != kItems * (kItems - 1) / 2) state.SkipWithError("wrong sum");
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kItems));
}

template <class Ring>
void BM_Batch(benchmark::State& state) {
  auto ring = std::make_unique<Ring>();
  for (auto _ : state) {
    std::thread producer([&] {
      std::array<std::uint64_t, kBatch> buf;
      Backoff b;
      for (std::uint64_t i = 0; i < kItems;) {
        const std::size_t n = kItems - i < kBatch ? std::size_t(kItems - i) : kBatch;
        for (std::size_t k = 0; k < n; ++k) buf[k] = i + k;
        const std::size_t pushed = ring->push_n(buf.data(), n);  // a partial push resumes at the first unsent item
        i += pushed;
        if (pushed)
          b.reset();
        else
          b.pause();
      }
    });
    std::array<std::uint64_t, kBatch> buf;
    std::uint64_t sum = 0;
    Backoff b;
    for (std::uint64_t got = 0; got < kItems;) {
      const std::size_t n = ring->pop_n(buf.data(), kBatch);
      for (std::size_t k = 0; k < n; ++k) sum += buf[k];
      got += n;
      if (n)
        b.reset();
      else
        b.pause();
    }
    producer.join();
    if (sum != kItems * (kItems - 1) / 2) state.SkipWithError("wrong sum");
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kItems));
}

// Per-operation cost without a second core in the way: one thread fills half the ring, then drains it.
template <class Ring>
void BM_SameThread(benchmark::State& state) {
  auto ring = std::make_unique<Ring>();
  constexpr std::uint64_t kRound = kCapacity / 2;
  std::uint64_t sum = 0, v = 0;
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < kRound; ++i) ring->push(i);
    for (std::uint64_t i = 0; i < kRound; ++i) {
      ring->pop(v);
      sum += v;
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kRound));
}

template <class Ring>
void BM_SameThreadBatch(benchmark::State& state) {
  auto ring = std::make_unique<Ring>();
  constexpr std::uint64_t kRound = kCapacity / 2;
  std::array<std::uint64_t, kBatch> buf;
  std::uint64_t sum = 0;
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < kRound; i += kBatch) {
      for (std::size_t k = 0; k < kBatch; ++k) buf[k] = i + k;
      ring->push_n(buf.data(), kBatch);
    }
    for (std::uint64_t i = 0; i < kRound; i += kBatch) {
      ring->pop_n(buf.data(), kBatch);
      sum += buf[kBatch - 1];
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kRound));
}

BENCHMARK_TEMPLATE(BM_SameThread, Ours)->Name("BM_SameThread/tapstack");
BENCHMARK_TEMPLATE(BM_SameThread, Boost)->Name("BM_SameThread/boost");
BENCHMARK_TEMPLATE(BM_SameThreadBatch, Ours)->Name("BM_SameThreadBatch32/tapstack");
BENCHMARK_TEMPLATE(BM_SameThreadBatch, Boost)->Name("BM_SameThreadBatch32/boost");
BENCHMARK_TEMPLATE(BM_Single, Ours)->Name("BM_Single/tapstack")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_Single, Boost)->Name("BM_Single/boost")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_Batch, Ours)->Name("BM_Batch32/tapstack")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_Batch, Boost)->Name("BM_Batch32/boost")->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
