// Single-threaded tests for stack/spsc_byte_ring: capacity, wraparound at every offset, partial writes when
// full, write_at + commit (out-of-order TCP data), zero-copy views across the wrap, peek, read and consume.
// The two-thread stress test is in spsc_byte_ring_threads_test.cpp.
#include "stack/spsc_byte_ring.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace tapstack {
namespace {

// Byte i of a recognizable stream.
std::byte pattern(std::size_t i) { return std::byte((i * 131 + 7) & 0xff); }

std::vector<std::byte> stream(std::size_t from, std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = pattern(from + i);
  return v;
}

std::string str(Bytes b) { return std::string{as_chars(b)}; }
std::string str(const std::array<Bytes, 2>& v) { return str(v[0]) + str(v[1]); }

TEST(SpscByteRing, CapacityRoundsUpToPowerOfTwo) {
  EXPECT_EQ(SpscByteRing(0).capacity(), 1u);
  EXPECT_EQ(SpscByteRing(1).capacity(), 1u);
  EXPECT_EQ(SpscByteRing(3).capacity(), 4u);
  EXPECT_EQ(SpscByteRing(4096).capacity(), 4096u);
  EXPECT_EQ(SpscByteRing(4097).capacity(), 8192u);
  EXPECT_EQ(SpscByteRing(65535).capacity(), 65536u);
}

TEST(SpscByteRing, AbsurdCapacityThrowsAtSetup) { EXPECT_THROW(SpscByteRing(~std::size_t{0}), std::length_error); }

TEST(SpscByteRing, IndicesDoNotShareCacheLines) {
  EXPECT_GE(alignof(SpscByteRing), kCacheLine);
  EXPECT_GE(sizeof(SpscByteRing), 3 * kCacheLine);
}

TEST(SpscByteRing, FreshRingIsEmpty) {
  SpscByteRing r{8};
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(r.free_space(), 8u);
  std::array<std::byte, 4> out{};
  EXPECT_EQ(r.read(out), 0u);
  EXPECT_EQ(r.peek(0, out), 0u);
  EXPECT_EQ(str(r.readable(0, 8)), "");
}

TEST(SpscByteRing, WriteReadRoundTrip) {
  SpscByteRing r{16};
  EXPECT_EQ(r.write(as_bytes("hello")), 5u);
  EXPECT_EQ(r.size(), 5u);
  EXPECT_FALSE(r.empty());
  EXPECT_EQ(r.free_space(), 11u);
  std::array<std::byte, 3> out{};
  EXPECT_EQ(r.read(out), 3u);
  EXPECT_EQ(str(out), "hel");
  EXPECT_EQ(r.read(out), 2u);
  EXPECT_EQ(str(std::span{out}.first(2)), "lo");
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.free_space(), 16u);
}

TEST(SpscByteRing, PartialWriteWhenFull) {
  SpscByteRing r{8};
  EXPECT_EQ(r.write(as_bytes("abcdef")), 6u);
  EXPECT_EQ(r.write(as_bytes("ghijk")), 2u);  // only "gh" fits
  EXPECT_EQ(r.free_space(), 0u);
  EXPECT_EQ(r.write(as_bytes("x")), 0u);
  EXPECT_EQ(r.write(Bytes{}), 0u);
  std::array<std::byte, 8> out{};
  EXPECT_EQ(r.read(std::span{out}.first(3)), 3u);
  EXPECT_EQ(r.write(as_bytes("ijklm")), 3u);  // "ijk" fills the space freed at the front (wrapping)
  EXPECT_EQ(r.read(out), 8u);
  EXPECT_EQ(str(out), "defghijk");
}

// Every write length at every starting offset: bytes come back in order across the wrap.
TEST(SpscByteRing, WrapsAtEveryOffsetAndLength) {
  constexpr std::size_t kCap = 16;
  for (std::size_t start = 0; start < kCap; ++start) {
    for (std::size_t len = 0; len <= kCap; ++len) {
      SpscByteRing r{kCap};
      std::vector<std::byte> skip(start);
      ASSERT_EQ(r.write(skip), start);
      ASSERT_EQ(r.read(skip), start);  // head == tail == start
      const auto data = stream(start, len);
      ASSERT_EQ(r.write(data), len);
      ASSERT_EQ(r.size(), len);
      ASSERT_EQ(r.free_space(), kCap - len);
      const auto view = r.readable(0, len);
      ASSERT_EQ(view[0].size() + view[1].size(), len);
      ASSERT_EQ(view[0].size(), std::min(len, kCap - start)) << "start " << start << " len " << len;
      std::vector<std::byte> got(len);
      ASSERT_EQ(r.peek(0, got), len);
      ASSERT_EQ(got, data);
      std::fill(got.begin(), got.end(), std::byte{0});
      ASSERT_EQ(r.read(got), len);
      ASSERT_EQ(got, data) << "start " << start << " len " << len;
      ASSERT_TRUE(r.empty());
    }
  }
}

TEST(SpscByteRing, ManyInterleavedWritesAndReadsKeepTheStream) {
  SpscByteRing r{32};
  std::size_t written = 0, read = 0;
  for (std::size_t round = 0; round < 2000; ++round) {
    const auto data = stream(written, round % 37);
    written += r.write(data);
    std::vector<std::byte> out((round * 7) % 41);
    const std::size_t n = r.read(out);
    ASSERT_EQ(n, std::min(out.size(), written - read));
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], pattern(read + i)) << "byte " << read + i;
    read += n;
  }
  EXPECT_GT(read, 20000u);
  EXPECT_EQ(r.size(), written - read);
}

TEST(SpscByteRing, PeekAtOffsetsDoesNotConsume) {
  SpscByteRing r{8};
  std::array<std::byte, 5> skip{};
  r.write(skip);
  r.read(skip);  // tail at 5, so the data below wraps after 3 bytes
  ASSERT_EQ(r.write(as_bytes("abcdef")), 6u);
  std::array<std::byte, 4> out{};
  EXPECT_EQ(r.peek(0, out), 4u);
  EXPECT_EQ(str(out), "abcd");
  EXPECT_EQ(r.peek(2, out), 4u);  // crosses the wrap
  EXPECT_EQ(str(out), "cdef");
  EXPECT_EQ(r.peek(4, out), 2u);  // clipped to what is readable
  EXPECT_EQ(str(std::span{out}.first(2)), "ef");
  EXPECT_EQ(r.peek(6, out), 0u);
  EXPECT_EQ(r.peek(100, out), 0u);
  EXPECT_EQ(r.size(), 6u);
}

TEST(SpscByteRing, ReadableViewsSplitAtTheWrapAndClip) {
  SpscByteRing r{8};
  std::array<std::byte, 6> skip{};
  r.write(skip);
  r.read(skip);  // tail at 6
  ASSERT_EQ(r.write(as_bytes("abcdefg")), 7u);
  auto v = r.readable(0, 7);
  EXPECT_EQ(str(v[0]), "ab");
  EXPECT_EQ(str(v[1]), "cdefg");
  v = r.readable(1, 3);
  EXPECT_EQ(str(v[0]), "b");
  EXPECT_EQ(str(v[1]), "cd");
  v = r.readable(2, 100);  // clipped to size()
  EXPECT_EQ(str(v[0]), "cdefg");
  EXPECT_TRUE(v[1].empty());
  v = r.readable(7, 1);
  EXPECT_TRUE(v[0].empty());
  EXPECT_TRUE(v[1].empty());
  r.consume(3);
  EXPECT_EQ(str(r.readable(0, 8)), "defg");
}

TEST(SpscByteRing, ConsumeIsClippedToSize) {
  SpscByteRing r{8};
  r.write(as_bytes("abc"));
  r.consume(2);
  EXPECT_EQ(str(r.readable(0, 8)), "c");
  r.consume(5);  // more than readable: stops at the producer's head
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.free_space(), 8u);
  r.write(as_bytes("xyz"));
  EXPECT_EQ(str(r.readable(0, 8)), "xyz");
  r.consume(0);
  EXPECT_EQ(r.size(), 3u);
}

TEST(SpscByteRing, WriteAtThenCommitPublishesOutOfOrderData) {
  SpscByteRing r{16};
  // TCP: bytes 4..7 arrive before bytes 0..3.
  EXPECT_EQ(r.write_at(4, as_bytes("efgh")), 4u);
  EXPECT_TRUE(r.empty());  // not published yet
  EXPECT_EQ(r.free_space(), 16u);
  EXPECT_EQ(r.write_at(0, as_bytes("abcd")), 4u);
  EXPECT_TRUE(r.empty());
  r.commit(8);
  EXPECT_EQ(r.size(), 8u);
  EXPECT_EQ(str(r.readable(0, 8)), "abcdefgh");
  // write() appends after the committed bytes.
  EXPECT_EQ(r.write(as_bytes("ij")), 2u);
  EXPECT_EQ(str(r.readable(0, 16)), "abcdefghij");
}

TEST(SpscByteRing, WriteAtIsClippedToFreeSpaceAndWraps) {
  SpscByteRing r{8};
  std::array<std::byte, 6> skip{};
  r.write(skip);
  r.read(std::span{skip}.first(3));  // head 6, tail 3: 3 readable, 5 free, wrapping after 2
  EXPECT_EQ(r.free_space(), 5u);
  EXPECT_EQ(r.write_at(1, as_bytes("BCDEFG")), 4u);  // clipped at free_space: offsets 1..4
  EXPECT_EQ(r.write_at(5, as_bytes("x")), 0u);       // at the end of the free space
  EXPECT_EQ(r.write_at(9, as_bytes("x")), 0u);
  EXPECT_EQ(r.write_at(0, as_bytes("A")), 1u);
  r.commit(5);
  EXPECT_EQ(r.size(), 8u);
  std::array<std::byte, 8> out{};
  EXPECT_EQ(r.read(out), 8u);
  EXPECT_EQ(str(std::span{out}.last(5)), "ABCDE");
}

TEST(SpscByteRing, WriteAtEveryOffsetAcrossTheWrap) {
  constexpr std::size_t kCap = 8;
  for (std::size_t start = 0; start < kCap; ++start) {
    for (std::size_t off = 0; off < kCap; ++off) {
      SpscByteRing r{kCap};
      std::vector<std::byte> skip(start);
      r.write(skip);
      r.read(skip);
      const auto data = stream(100 + off, kCap - off);
      ASSERT_EQ(r.write_at(off, data), kCap - off);
      const auto head = stream(100, off);
      ASSERT_EQ(r.write_at(0, head), off);
      r.commit(kCap);
      std::vector<std::byte> got(kCap);
      ASSERT_EQ(r.read(got), kCap);
      ASSERT_EQ(got, stream(100, kCap)) << "start " << start << " offset " << off;
    }
  }
}

TEST(SpscByteRing, CommitIsClippedToFreeSpace) {
  SpscByteRing r{4};
  r.write(as_bytes("ab"));
  r.write_at(0, as_bytes("cd"));
  r.commit(10);  // only 2 bytes were free
  EXPECT_EQ(r.size(), 4u);
  EXPECT_EQ(r.free_space(), 0u);
  EXPECT_EQ(str(r.readable(0, 4)), "abcd");
}

TEST(SpscByteRing, WritableGivesTheFreeSpaceInTwoSpans) {
  SpscByteRing r{8};
  std::array<std::byte, 5> skip{};
  r.write(skip);
  r.read(std::span{skip}.first(4));  // head 5, tail 4: 1 readable, 7 free from index 5 (3 then 4 after wrap)
  auto w = r.writable();
  ASSERT_EQ(w[0].size(), 3u);
  ASSERT_EQ(w[1].size(), 4u);
  copy_bytes(w[0], as_bytes("abc"));
  copy_bytes(w[1], as_bytes("de"));
  r.commit(5);
  r.consume(1);
  EXPECT_EQ(str(r.readable(0, 8)), "abcde");
  w = r.writable();
  EXPECT_EQ(w[0].size() + w[1].size(), 3u);
  // Full: both spans empty.
  copy_bytes(w[0], as_bytes("fgh"));
  copy_bytes(w[1], as_bytes("fgh").subspan(w[0].size()));
  r.commit(3);
  w = r.writable();
  EXPECT_TRUE(w[0].empty());
  EXPECT_TRUE(w[1].empty());
  EXPECT_EQ(str(r.readable(0, 8)), "abcdefgh");
}

TEST(SpscByteRing, WritableWithoutWrapHasEmptySecondSpan) {
  SpscByteRing r{8};
  auto w = r.writable();
  EXPECT_EQ(w[0].size(), 8u);
  EXPECT_TRUE(w[1].empty());
  r.commit(0);
  EXPECT_TRUE(r.empty());
}

TEST(SpscByteRing, CapacityOneRing) {
  SpscByteRing r{1};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(r.write(as_bytes("xy")), 1u);
    EXPECT_EQ(r.write(as_bytes("z")), 0u);
    std::array<std::byte, 2> out{};
    EXPECT_EQ(r.read(out), 1u);
    EXPECT_EQ(out[0], std::byte{'x'});
  }
}

TEST(SpscByteRing, GrowKeepsReadableAndOutOfOrderBytesAtTheirPositions) {
  // For every wrap position: readable bytes, a gap, and write_at() bytes beyond head survive grow(), which
  // moves them to storage of the new size; afterwards the ring behaves as one of that size.
  for (std::size_t start = 0; start < 16; ++start) {
    SpscByteRing r{16};
    std::array<std::byte, 16> sink{};
    const auto pre = stream(0, start);
    ASSERT_EQ(r.write(pre), start);
    ASSERT_EQ(r.read(MutableBytes{sink}.first(start)), start);  // tail = head = start: the next bytes wrap
    ASSERT_EQ(r.write(stream(100, 6)), 6u);
    ASSERT_EQ(r.write_at(3, stream(200, 5)), 5u);  // [head+3, head+8): out of order, unpublished
    ASSERT_TRUE(r.grow(40));
    EXPECT_EQ(r.capacity(), 64u);
    EXPECT_EQ(r.size(), 6u);
    EXPECT_EQ(r.free_space(), 58u);
    EXPECT_EQ(r.write_at(0, stream(300, 3)), 3u);  // fill the gap, publish gap + out-of-order bytes
    r.commit(8);
    std::vector<std::byte> out(14);
    ASSERT_EQ(r.read(out), 14u);
    std::vector<std::byte> want = stream(100, 6);
    for (auto b : stream(300, 3)) want.push_back(b);
    for (auto b : stream(200, 5)) want.push_back(b);
    EXPECT_EQ(out, want) << "start " << start;
    const auto big = stream(500, 64);
    EXPECT_EQ(r.write(big), 64u);
    std::vector<std::byte> back(64);
    EXPECT_EQ(r.read(back), 64u);
    EXPECT_EQ(back, big);
  }
}

TEST(SpscByteRing, GrowRefusesToShrinkAndKeepsTheRing) {
  SpscByteRing r{64};
  ASSERT_EQ(r.write(stream(0, 10)), 10u);
  EXPECT_FALSE(r.grow(64));
  EXPECT_FALSE(r.grow(10));
  EXPECT_EQ(r.capacity(), 64u);
  EXPECT_EQ(r.size(), 10u);
  EXPECT_TRUE(r.grow(65));
  EXPECT_EQ(r.capacity(), 128u);
  std::vector<std::byte> out(10);
  EXPECT_EQ(r.read(out), 10u);
  EXPECT_EQ(out, stream(0, 10));
}

}  // namespace
}  // namespace tapstack
