// Two-thread stress test for stack/spsc_ring: one producer, one consumer, every API on both sides.
// Its own executable so it can run under ThreadSanitizer (build-stack-tsan) without the rest of the suite.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <thread>

#include "stack/spsc_ring.hpp"

namespace tapstack {
namespace {

constexpr std::uint64_t kItems = 10'000'000;  // ~0.3 s here, a few seconds under ThreadSanitizer

// Spins a little, then yields: the machine may have fewer free cores than threads.
struct Backoff {
  int spins = 0;
  void pause() {
    if (++spins > 64) {
      std::this_thread::yield();
      spins = 0;
    }
  }
  void reset() { spins = 0; }
};

void run_stress(std::size_t capacity) {
  SpscRing<std::uint64_t> ring{capacity};
  std::atomic<bool> stop{false};  // set by the consumer on the first mismatch, so the producer cannot hang
  std::thread producer([&] {
    std::array<std::uint64_t, 64> batch;
    std::uint64_t next = 0;
    Backoff backoff;
    while (next < kItems && !stop.load(std::memory_order_relaxed)) {
      const std::uint64_t mode = next % 3;
      if (mode == 0) {  // single push
        if (ring.try_push(next)) {
          ++next;
          backoff.reset();
        } else {
          backoff.pause();
        }
        continue;
      }
      // Batch push of a varying size; a partial push is resumed from where it stopped.
      std::size_t n = std::size_t(1 + (next * 7919) % batch.size());
      if (n > kItems - next) n = std::size_t(kItems - next);
      for (std::size_t i = 0; i < n; ++i) batch[i] = next + i;
      const std::size_t pushed = ring.push_batch(std::span{batch}.first(n));
      next += pushed;
      if (pushed == 0)
        backoff.pause();
      else
        backoff.reset();
    }
  });

  std::uint64_t expected = 0, sum = 0, mismatches = 0;
  std::array<std::uint64_t, 48> out;
  Backoff backoff;
  std::uint64_t round = 0;
  while (expected < kItems) {
    std::size_t got = 0;
    switch (round++ % 3) {
      case 0: {
        std::uint64_t v;
        if (ring.try_pop(v)) {
          mismatches += v != expected;
          sum += v;
          ++expected;
          got = 1;
        }
        break;
      }
      case 1: {
        got = ring.pop_batch(std::span{out}.first(1 + round % out.size()));
        for (std::size_t i = 0; i < got; ++i) {
          mismatches += out[i] != expected;
          sum += out[i];
          ++expected;
        }
        break;
      }
      default:
        if (std::uint64_t* f = ring.front()) {
          mismatches += *f != expected;
          sum += *f;
          ++expected;
          ring.pop_front();
          got = 1;
        }
    }
    if (got == 0)
      backoff.pause();
    else
      backoff.reset();
    if (mismatches != 0) {  // report the first divergence, don't spin on garbage
      stop = true;
      break;
    }
  }
  producer.join();
  EXPECT_EQ(mismatches, 0u) << "out of order at item " << expected;
  EXPECT_EQ(expected, kItems);
  EXPECT_EQ(sum, kItems * (kItems - 1) / 2);
  EXPECT_TRUE(ring.empty());
}

TEST(SpscRingThreads, OrderAndSumSmallRing) { run_stress(64); }
TEST(SpscRingThreads, OrderAndSumLargeRing) { run_stress(4096); }

}  // namespace
}  // namespace tapstack
