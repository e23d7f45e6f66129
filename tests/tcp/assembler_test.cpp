// tcp::Assembler: the receive side's out-of-order tracker (RFC 9293 §3.10.7.4) and its SACK block order
// (RFC 2018 §4): exact contiguous counts, merging, the range cap, and windows up to 1 GiB.
#include "tcp/assembler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace tapstack::tcp {
namespace {

using Range = Assembler::Range;
using Ranges = std::vector<Range>;

Ranges ranges_of(const Assembler& a) {
  std::array<Range, 64> buf{};
  return Ranges(buf.begin(), buf.begin() + std::ptrdiff_t(a.ranges(buf)));
}

Ranges sack_of(const Assembler& a, std::size_t max = 4) {
  std::array<Range, 64> buf{};
  return Ranges(buf.begin(), buf.begin() + std::ptrdiff_t(a.sack_ranges(std::span{buf}.first(max))));
}

TEST(Assembler, FreshIsEmpty) {
  Assembler a;
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.range_count(), 0u);
  EXPECT_EQ(a.max_ranges(), 32u);
  EXPECT_EQ(sack_of(a), Ranges{});
}

TEST(Assembler, InOrderSegmentsAreContiguousAtOnce) {
  Assembler a;
  EXPECT_EQ(a.add(0, 100), 100u);
  EXPECT_EQ(a.add(0, 1460), 1460u);  // offsets are relative to the new RCV.NXT
  EXPECT_TRUE(a.empty());
}

TEST(Assembler, EmptySegmentChangesNothing) {
  Assembler a;
  EXPECT_EQ(a.add(0, 0), 0u);
  EXPECT_EQ(a.add(50, 0), 0u);
  EXPECT_TRUE(a.empty());
}

TEST(Assembler, OutOfOrderThenHoleFilled) {
  Assembler a;
  EXPECT_EQ(a.add(100, 100), 0u);  // [100, 200) held
  EXPECT_EQ(ranges_of(a), (Ranges{{100, 200}}));
  EXPECT_EQ(a.add(0, 100), 200u);  // fills the hole: 0..200 contiguous
  EXPECT_TRUE(a.empty());
}

TEST(Assembler, SeveralHolesFilledOneByOneReturnExactCounts) {
  Assembler a;
  // Segments of 10 bytes at 10, 30, 50 arrive first; then 0, 20, 40.
  EXPECT_EQ(a.add(10, 10), 0u);
  EXPECT_EQ(a.add(30, 10), 0u);
  EXPECT_EQ(a.add(50, 10), 0u);
  EXPECT_EQ(ranges_of(a), (Ranges{{10, 20}, {30, 40}, {50, 60}}));
  EXPECT_EQ(a.add(0, 10), 20u);  // 0..20; the rest shifts down by 20
  EXPECT_EQ(ranges_of(a), (Ranges{{10, 20}, {30, 40}}));
  EXPECT_EQ(a.add(0, 10), 20u);
  EXPECT_EQ(ranges_of(a), (Ranges{{10, 20}}));
  EXPECT_EQ(a.add(0, 10), 20u);
  EXPECT_TRUE(a.empty());
}

TEST(Assembler, FillingAMiddleHoleMergesNeighboursButDeliversNothing) {
  Assembler a;
  EXPECT_EQ(a.add(10, 10), 0u);
  EXPECT_EQ(a.add(30, 10), 0u);
  EXPECT_EQ(a.add(20, 10), 0u);  // exactly bridges [10,20) and [30,40)
  EXPECT_EQ(ranges_of(a), (Ranges{{10, 40}}));
  EXPECT_EQ(a.add(0, 10), 40u);
}

TEST(Assembler, AdjacentRangesMerge) {
  Assembler a;
  EXPECT_EQ(a.add(10, 10), 0u);
  EXPECT_EQ(a.add(20, 5), 0u);  // touches the end
  EXPECT_EQ(a.add(5, 5), 0u);   // touches the start
  EXPECT_EQ(ranges_of(a), (Ranges{{5, 25}}));
  EXPECT_EQ(a.range_count(), 1u);
}

TEST(Assembler, OverlappingAndDuplicateSegments) {
  Assembler a;
  EXPECT_EQ(a.add(100, 50), 0u);
  EXPECT_EQ(a.add(100, 50), 0u);  // exact duplicate
  EXPECT_EQ(a.add(110, 10), 0u);  // inside
  EXPECT_EQ(ranges_of(a), (Ranges{{100, 150}}));
  EXPECT_EQ(a.add(140, 30), 0u);  // overlaps the end
  EXPECT_EQ(a.add(90, 20), 0u);   // overlaps the start
  EXPECT_EQ(ranges_of(a), (Ranges{{90, 170}}));
  EXPECT_EQ(a.add(200, 10), 0u);
  EXPECT_EQ(a.add(300, 10), 0u);
  EXPECT_EQ(a.add(80, 300), 0u);  // covers all three
  EXPECT_EQ(ranges_of(a), (Ranges{{80, 380}}));
  // An in-order segment overlapping held data delivers up to the end of the held range.
  EXPECT_EQ(a.add(0, 100), 380u);
  EXPECT_TRUE(a.empty());
}

TEST(Assembler, InOrderSegmentReachingPastHeldRangesDeliversItsOwnEnd) {
  Assembler a;
  EXPECT_EQ(a.add(10, 10), 0u);
  EXPECT_EQ(a.add(50, 10), 0u);
  EXPECT_EQ(a.add(0, 30), 30u);  // swallows [10,20), stops before [50,60)
  EXPECT_EQ(ranges_of(a), (Ranges{{20, 30}}));
}

TEST(Assembler, CapReturnsNulloptAndLeavesStateUnchanged) {
  Assembler a{3};
  EXPECT_EQ(a.add(10, 5), 0u);
  EXPECT_EQ(a.add(30, 5), 0u);
  EXPECT_EQ(a.add(50, 5), 0u);
  const Ranges before = ranges_of(a);
  const Ranges sack_before = sack_of(a);
  EXPECT_EQ(a.add(70, 5), std::nullopt);  // a fourth range
  EXPECT_EQ(a.add(20, 5), std::nullopt);  // between, touching nothing
  EXPECT_EQ(ranges_of(a), before);
  EXPECT_EQ(sack_of(a), sack_before);  // a refused segment does not become "most recent"
  // Still accepted at the cap: extending or bridging ranges, and in-order data.
  EXPECT_EQ(a.add(15, 5), 0u);   // touches [10,15)
  EXPECT_EQ(a.add(20, 10), 0u);  // bridges to [30,35)
  EXPECT_EQ(ranges_of(a), (Ranges{{10, 35}, {50, 55}}));
  EXPECT_EQ(a.add(70, 5), 0u);  // room again
  EXPECT_EQ(a.range_count(), 3u);
  EXPECT_EQ(a.add(0, 10), 35u);
  EXPECT_EQ(ranges_of(a), (Ranges{{15, 20}, {35, 40}}));
}

TEST(Assembler, ZeroCapStillAcceptsInOrderData) {
  Assembler a{0};
  EXPECT_EQ(a.add(5, 5), std::nullopt);
  EXPECT_EQ(a.add(0, 5), 5u);
  EXPECT_TRUE(a.empty());
}

// RFC 2018 §4: the first block holds the segment that triggered the ACK; then the most recently reported ones.
TEST(Assembler, SackBlocksMostRecentFirst) {
  Assembler a;
  a.add(100, 10);  // A
  a.add(300, 10);  // B
  a.add(500, 10);  // C
  EXPECT_EQ(sack_of(a), (Ranges{{500, 510}, {300, 310}, {100, 110}}));
  a.add(310, 10);  // extends B: B is now the most recent
  EXPECT_EQ(sack_of(a), (Ranges{{300, 320}, {500, 510}, {100, 110}}));
  a.add(105, 2);  // a duplicate inside A still makes A the block of the triggering segment
  EXPECT_EQ(sack_of(a), (Ranges{{100, 110}, {300, 320}, {500, 510}}));
  a.add(700, 10);  // D
  a.add(900, 10);  // E
  // Only `max` blocks: the oldest change (C) is left out.
  EXPECT_EQ(sack_of(a, 4), (Ranges{{900, 910}, {700, 710}, {100, 110}, {300, 320}}));
  EXPECT_EQ(sack_of(a, 1), (Ranges{{900, 910}}));
  EXPECT_EQ(sack_of(a, 0), Ranges{});
}

TEST(Assembler, SackBlocksShiftAfterInOrderDataAndMergedRangeIsFirst) {
  Assembler a;
  a.add(100, 10);
  a.add(200, 10);
  a.add(150, 50);  // bridges [150, 200) to [200, 210): merged [150, 210) is the newest
  EXPECT_EQ(sack_of(a), (Ranges{{150, 210}, {100, 110}}));
  // In-order data advancing RCV.NXT by 50: no block holds it; offsets shift down by 50 (RFC 2018 §4).
  EXPECT_EQ(a.add(0, 50), 50u);
  EXPECT_EQ(sack_of(a), (Ranges{{100, 160}, {50, 60}}));
}

TEST(Assembler, ClearForgetsEverything) {
  Assembler a;
  a.add(10, 10);
  a.add(30, 10);
  a.clear();
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(sack_of(a), Ranges{});
  EXPECT_EQ(a.add(0, 10), 10u);
}

TEST(Assembler, GibibyteWindowOffsets) {
  constexpr std::size_t kGiB = std::size_t{1} << 30;
  Assembler a;
  EXPECT_EQ(a.add(kGiB - 1460, 1460), 0u);  // the last segment of a 1 GiB window
  EXPECT_EQ(a.add(kGiB / 2, 65536), 0u);
  EXPECT_EQ(ranges_of(a), (Ranges{{kGiB / 2, kGiB / 2 + 65536}, {kGiB - 1460, kGiB}}));
  EXPECT_EQ(a.add(0, kGiB / 2), kGiB / 2 + 65536);
  EXPECT_EQ(ranges_of(a), (Ranges{{kGiB / 2 - 65536 - 1460, kGiB / 2 - 65536}}));
  EXPECT_EQ(a.add(0, kGiB / 2 - 65536 - 1460), kGiB / 2 - 65536);
  EXPECT_TRUE(a.empty());
}

TEST(Assembler, HugeLengthSaturatesInsteadOfWrapping) {
  Assembler a;
  const std::size_t kMax = ~std::size_t{0};
  EXPECT_EQ(a.add(10, kMax), 0u);
  EXPECT_EQ(ranges_of(a), (Ranges{{10, kMax}}));
}

// Every permutation of 6 segments delivers the same 60 bytes in total, and the last add delivers the rest.
TEST(Assembler, EveryArrivalOrderDeliversEverythingExactlyOnce) {
  std::array<int, 6> order{0, 1, 2, 3, 4, 5};
  int permutations = 0;
  do {
    Assembler a;
    std::size_t delivered = 0;
    for (int seg : order) {
      const std::size_t off = std::size_t(seg) * 10;
      // Segments already below RCV.NXT are trimmed by the caller; a partly covered one is trimmed to its tail.
      if (off + 10 <= delivered) continue;
      const std::size_t start = off < delivered ? delivered : off;
      const auto got = a.add(start - delivered, off + 10 - start);
      ASSERT_TRUE(got.has_value());
      delivered += *got;
    }
    ASSERT_EQ(delivered, 60u);
    ASSERT_TRUE(a.empty());
    ++permutations;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(permutations, 720);
}

}  // namespace
}  // namespace tapstack::tcp
