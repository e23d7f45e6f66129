// Two-thread stress test for stack/spsc_byte_ring: a producer writes a pseudo-random byte stream in random chunk
// sizes through every producer API, a consumer verifies it byte by byte through every consumer API.
// Its own executable so it can run under ThreadSanitizer (-Db_sanitize=thread) without the rest of the suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "stack/random.hpp"
#include "stack/spsc_byte_ring.hpp"

namespace tapstack {
namespace {

// Byte `i` of the stream is byte i % 8 of the big-endian splitmix64(i / 8): random access, so a short write is
// simply regenerated from where it stopped.
std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
std::byte stream_byte(std::uint64_t pos) { return std::byte(splitmix(pos >> 3) >> ((7 - (pos & 7)) * 8)); }
void fill_stream(std::uint64_t pos, MutableBytes out) {
  std::size_t i = 0;
  for (; i < out.size() && (pos & 7) != 0; ++i, ++pos) out[i] = stream_byte(pos);
  for (; out.size() - i >= 8; i += 8, pos += 8) store_be64(out, i, splitmix(pos >> 3));  // a whole word at once
  for (; i < out.size(); ++i, ++pos) out[i] = stream_byte(pos);
}

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

void run_stress(std::size_t capacity, std::uint64_t total, std::uint64_t seed) {
  SpscByteRing ring{capacity};
  std::atomic<bool> stop{false};  // set by the consumer on the first mismatch, so the producer cannot hang
  const std::size_t max_chunk = capacity + capacity / 2;  // sometimes more than fits: short writes

  std::thread producer([&] {
    SeededRng rng{seed};
    std::vector<std::byte> chunk(max_chunk);
    std::uint64_t pos = 0;
    Backoff backoff;
    while (pos < total && !stop.load(std::memory_order_relaxed)) {
      std::size_t n = 1 + rng.uniform(std::uint32_t(max_chunk));
      if (n > total - pos) n = std::size_t(total - pos);
      std::size_t done = 0;
      switch (rng.uniform(3)) {
        case 0:  // write(): append and publish
          fill_stream(pos, std::span{chunk}.first(n));
          done = ring.write(std::span{chunk}.first(n));
          break;
        case 1: {  // writable() + commit(): fill in place
          const auto w = ring.writable();
          const std::size_t a = std::min(n, w[0].size());
          const std::size_t b = std::min(n - a, w[1].size());
          fill_stream(pos, w[0].first(a));
          fill_stream(pos + a, w[1].first(b));
          done = a + b;
          ring.commit(done);
          break;
        }
        default: {  // write_at(): the second half first, as out-of-order TCP data, then the first half, commit
          n = std::min(n, ring.free_space());
          const std::size_t half = n / 2;
          fill_stream(pos, std::span{chunk}.first(n));
          const std::size_t hi = ring.write_at(half, std::span{chunk}.subspan(half, n - half));
          const std::size_t lo = ring.write_at(0, std::span{chunk}.first(half));
          if (hi != n - half || lo != half) {  // free space only grows on the producer's side
            ADD_FAILURE() << "write_at clipped within free_space";
            stop = true;
          }
          ring.commit(n);
          done = n;
        }
      }
      pos += done;
      if (done == 0)
        backoff.pause();
      else
        backoff.reset();
    }
  });

  SeededRng rng{seed ^ 0x5a5a5a5a};
  std::vector<std::byte> out(max_chunk), want(max_chunk);
  std::uint64_t pos = 0, mismatch_at = ~std::uint64_t{0};
  Backoff backoff;
  auto check = [&](Bytes got) {
    fill_stream(pos, std::span{want}.first(got.size()));
    if (got.size() != 0 && std::memcmp(got.data(), want.data(), got.size()) != 0) {
      mismatch_at = pos + std::size_t(std::mismatch(got.begin(), got.end(), want.begin()).first - got.begin());
      return false;
    }
    pos += got.size();
    return true;
  };
  while (pos < total) {
    const std::size_t n = 1 + rng.uniform(std::uint32_t(max_chunk));
    bool ok = true;
    std::size_t got = 0;
    switch (rng.uniform(3)) {
      case 0:  // read(): copy and consume
        got = ring.read(std::span{out}.first(n));
        ok = check(std::span{out}.first(got));
        break;
      case 1:  // peek() at an offset, then peek(0), then consume()
        if (ring.size() > 1) {
          const std::size_t at = 1;
          const std::size_t k = ring.peek(at, std::span{out}.first(std::min(n, out.size() - at)));
          fill_stream(pos + at, std::span{want}.first(k));
          if (!std::equal(want.begin(), want.begin() + std::ptrdiff_t(k), out.begin())) {
            mismatch_at = pos + at;
            ok = false;
            break;
          }
        }
        got = ring.peek(0, std::span{out}.first(n));
        ok = check(std::span{out}.first(got));
        ring.consume(got);
        break;
      default: {  // readable() zero-copy views, then consume()
        const auto v = ring.readable(0, n);
        got = v[0].size() + v[1].size();
        ok = check(v[0]) && check(v[1]);
        ring.consume(got);
      }
    }
    if (!ok) {  // report the first divergence, don't spin on garbage
      stop = true;
      break;
    }
    if (got == 0)
      backoff.pause();
    else
      backoff.reset();
  }
  producer.join();
  EXPECT_EQ(mismatch_at, ~std::uint64_t{0}) << "stream diverged at byte " << mismatch_at;
  EXPECT_EQ(pos, total);
  EXPECT_TRUE(ring.empty());
}

// Bounded: 18 MiB in all; ~0.2 s of CPU in a debugoptimized build, ~1 s at -O0, ~10 s under ThreadSanitizer.
TEST(SpscByteRingThreads, SmallRingStreamArrivesIntact) { run_stress(256, std::uint64_t{2} << 20, 1); }
TEST(SpscByteRingThreads, LargeRingStreamArrivesIntact) { run_stress(64 * 1024, std::uint64_t{16} << 20, 2); }

}  // namespace
}  // namespace tapstack
