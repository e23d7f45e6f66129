// Single-threaded tests for stack/spsc_ring: capacity, ordering, full/empty, batches across the wrap,
// front/pop_front and move-only elements. The two-thread stress test is in spsc_ring_threads_test.cpp.
#include "stack/spsc_ring.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

namespace tapstack {
namespace {

TEST(SpscRing, CapacityRoundsUpToPowerOfTwoAtLeastTwo) {
  EXPECT_EQ(SpscRing<int>(0).capacity(), 2u);
  EXPECT_EQ(SpscRing<int>(1).capacity(), 2u);
  EXPECT_EQ(SpscRing<int>(2).capacity(), 2u);
  EXPECT_EQ(SpscRing<int>(3).capacity(), 4u);
  EXPECT_EQ(SpscRing<int>(5).capacity(), 8u);
  EXPECT_EQ(SpscRing<int>(1000).capacity(), 1024u);
  EXPECT_EQ(SpscRing<int>(1024).capacity(), 1024u);
  EXPECT_EQ(SpscRing<int>(1025).capacity(), 2048u);
}

TEST(SpscRing, IndicesDoNotShareCacheLines) {
  // The producer's and consumer's hot indices must not false-share.
  EXPECT_GE(alignof(SpscRing<int>), kCacheLine);
  EXPECT_GE(sizeof(SpscRing<int>), 3 * kCacheLine);
}

TEST(SpscRing, PushPopInOrderFullAndEmpty) {
  SpscRing<int> r{4};
  int out = -1;
  EXPECT_TRUE(r.empty());
  EXPECT_FALSE(r.try_pop(out));
  EXPECT_EQ(r.free_space(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(r.try_push(i));
  EXPECT_EQ(r.size(), 4u);
  EXPECT_EQ(r.free_space(), 0u);
  EXPECT_FALSE(r.try_push(99));
  EXPECT_FALSE(r.try_push(99));
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(r.try_pop(out));
    EXPECT_EQ(out, i);
  }
  EXPECT_FALSE(r.try_pop(out));
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.free_space(), 4u);
}

TEST(SpscRing, InterleavedPushPopWrapsManyTimes) {
  SpscRing<std::uint64_t> r{8};
  std::uint64_t next_in = 0, next_out = 0, v = 0;
  for (int round = 0; round < 1000; ++round) {
    const int pushes = round % 7 + 1;
    for (int i = 0; i < pushes; ++i)
      if (r.try_push(next_in)) ++next_in;
    const int pops = (round * 3) % 8;
    for (int i = 0; i < pops && r.try_pop(v); ++i) ASSERT_EQ(v, next_out++);
    ASSERT_EQ(r.size(), next_in - next_out);
    ASSERT_LE(r.size(), r.capacity());
  }
  while (r.try_pop(v)) ASSERT_EQ(v, next_out++);
  EXPECT_EQ(next_in, next_out);
  EXPECT_GT(next_in, 100u);
}

TEST(SpscRing, BatchPushPopAcrossWraparound) {
  SpscRing<int> r{8};
  std::array<int, 5> five{0, 1, 2, 3, 4};
  EXPECT_EQ(r.push_batch(five), 5u);
  std::array<int, 5> got{};
  EXPECT_EQ(r.pop_batch(got), 5u);
  EXPECT_EQ(got, five);
  // Head and tail are at 5: a batch of 8 wraps around the end of the slot array.
  std::vector<int> eight{10, 11, 12, 13, 14, 15, 16, 17};
  EXPECT_EQ(r.push_batch(eight), 8u);
  EXPECT_EQ(r.free_space(), 0u);
  std::vector<int> more{99};
  EXPECT_EQ(r.push_batch(more), 0u);
  std::array<int, 3> a{};
  EXPECT_EQ(r.pop_batch(a), 3u);
  EXPECT_EQ(a, (std::array<int, 3>{10, 11, 12}));
  // Only 3 slots free: a batch of 5 is cut to 3, in order.
  std::vector<int> partial{20, 21, 22, 23, 24};
  EXPECT_EQ(r.push_batch(partial), 3u);
  std::vector<int> rest(16, -1);
  EXPECT_EQ(r.pop_batch(rest), 8u);
  EXPECT_EQ(std::vector<int>(rest.begin(), rest.begin() + 8), (std::vector<int>{13, 14, 15, 16, 17, 20, 21, 22}));
  EXPECT_EQ(rest[8], -1) << "pop_batch wrote past the items it returned";
  EXPECT_EQ(r.pop_batch(rest), 0u);
  EXPECT_EQ(r.push_batch(std::span<int>{}), 0u);
  EXPECT_EQ(r.pop_batch(std::span<int>{}), 0u);
}

TEST(SpscRing, BatchAndSingleOperationsMix) {
  SpscRing<std::uint32_t> r{16};
  std::uint32_t next_in = 0, next_out = 0;
  std::vector<std::uint32_t> buf;
  for (int round = 0; round < 500; ++round) {
    buf.clear();
    const int n = round % 11;
    for (int i = 0; i < n; ++i) buf.push_back(next_in + std::uint32_t(i));
    next_in += std::uint32_t(r.push_batch(buf));
    if (round % 3 == 0 && r.try_push(next_in)) ++next_in;
    std::vector<std::uint32_t> out(std::size_t(round % 9));
    const std::size_t got = r.pop_batch(out);
    for (std::size_t i = 0; i < got; ++i) ASSERT_EQ(out[i], next_out++);
    std::uint32_t v;
    if (round % 4 == 0 && r.try_pop(v)) {
      ASSERT_EQ(v, next_out++);
    }
  }
  EXPECT_EQ(r.size(), next_in - next_out);
}

TEST(SpscRing, FrontAndPopFront) {
  SpscRing<int> r{2};
  EXPECT_EQ(r.front(), nullptr);
  EXPECT_TRUE(r.try_push(7));
  EXPECT_TRUE(r.try_push(8));
  ASSERT_NE(r.front(), nullptr);
  EXPECT_EQ(*r.front(), 7);
  *r.front() = 70;  // the consumer may work in place
  EXPECT_EQ(*r.front(), 70);
  r.pop_front();
  EXPECT_EQ(*r.front(), 8);
  EXPECT_TRUE(r.try_push(9));  // wraps
  r.pop_front();
  EXPECT_EQ(*r.front(), 9);
  r.pop_front();
  EXPECT_EQ(r.front(), nullptr);
  EXPECT_TRUE(r.empty());
}

TEST(SpscRing, CopyPushLeavesSourceIntact) {
  SpscRing<std::vector<int>> r{2};
  const std::vector<int> v{1, 2, 3};
  EXPECT_TRUE(r.try_push(v));
  EXPECT_EQ(v.size(), 3u);
  std::vector<int> out;
  EXPECT_TRUE(r.try_pop(out));
  EXPECT_EQ(out, v);
}

TEST(SpscRing, MoveOnlyElements) {
  SpscRing<std::unique_ptr<int>> r{4};
  auto p = std::make_unique<int>(1);
  EXPECT_TRUE(r.try_push(std::move(p)));
  EXPECT_EQ(p, nullptr);
  std::array<std::unique_ptr<int>, 3> batch{std::make_unique<int>(2), std::make_unique<int>(3),
                                            std::make_unique<int>(4)};
  EXPECT_EQ(r.push_batch(batch), 3u);
  for (auto& b : batch) EXPECT_EQ(b, nullptr);
  auto extra = std::make_unique<int>(5);
  EXPECT_FALSE(r.try_push(std::move(extra)));
  EXPECT_NE(extra, nullptr) << "a failed push must not consume the item";
  std::unique_ptr<int> out;
  ASSERT_TRUE(r.try_pop(out));
  EXPECT_EQ(*out, 1);
  std::array<std::unique_ptr<int>, 2> two;
  EXPECT_EQ(r.pop_batch(two), 2u);
  EXPECT_EQ(*two[0], 2);
  EXPECT_EQ(*two[1], 3);
  ASSERT_NE(r.front(), nullptr);
  EXPECT_EQ(**r.front(), 4);
  r.pop_front();
  EXPECT_TRUE(r.empty());
}

// Counts live instances, to check that the ring does not keep popped items alive.
struct Tracked {
  static inline int live = 0;
  bool owns = false;
  Tracked() = default;
  explicit Tracked(int) : owns{true} { ++live; }
  Tracked(Tracked&& o) noexcept : owns{std::exchange(o.owns, false)} {}
  Tracked& operator=(Tracked&& o) noexcept {
    if (this != &o) {
      if (owns) --live;
      owns = std::exchange(o.owns, false);
    }
    return *this;
  }
  ~Tracked() {
    if (owns) --live;
  }
};

TEST(SpscRing, PoppedItemsAreReleasedPromptly) {
  Tracked::live = 0;
  {
    SpscRing<Tracked> r{4};
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(r.try_push(Tracked{1}));
    EXPECT_EQ(Tracked::live, 3);
    {
      Tracked out;
      ASSERT_TRUE(r.try_pop(out));
    }
    EXPECT_EQ(Tracked::live, 2);
    std::array<Tracked, 1> one;
    ASSERT_EQ(r.pop_batch(one), 1u);
    one[0] = Tracked{};
    EXPECT_EQ(Tracked::live, 1);
    ASSERT_NE(r.front(), nullptr);
    r.pop_front();  // a frame popped in place must not stay owned by the ring
    EXPECT_EQ(Tracked::live, 0);
    ASSERT_TRUE(r.try_push(Tracked{1}));
  }
  EXPECT_EQ(Tracked::live, 0) << "the ring's destructor releases what it still holds";
}

}  // namespace
}  // namespace tapstack
