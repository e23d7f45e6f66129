// SeqNum: modular comparison and windows near and across the 2^32 wrap (RFC 9293 §3.4).
#include "tcp/seq.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace tapstack::tcp {
namespace {

constexpr std::uint32_t kMax = 0xffffffffu;

static_assert(SeqNum{kMax} < SeqNum{0});
static_assert(SeqNum{kMax} + 1 == SeqNum{0});
static_assert(SeqNum{0} - SeqNum{kMax} == 1);
static_assert(in_window(SeqNum{0}, SeqNum{kMax}, 2));

TEST(SeqNum, DefaultIsZeroAndValueRoundTrips) {
  EXPECT_EQ(SeqNum{}.value(), 0u);
  EXPECT_EQ(SeqNum{123456789}.value(), 123456789u);
}

TEST(SeqNum, OrdersPlainValues) {
  EXPECT_LT(SeqNum{1}, SeqNum{2});
  EXPECT_GT(SeqNum{2}, SeqNum{1});
  EXPECT_LE(SeqNum{2}, SeqNum{2});
  EXPECT_EQ(SeqNum{7}, SeqNum{7});
  EXPECT_NE(SeqNum{7}, SeqNum{8});
}

TEST(SeqNum, ComparesAcrossTheWrap) {
  const SeqNum before{kMax - 15};
  const SeqNum after{16};
  EXPECT_LT(before, after);
  EXPECT_GT(after, before);
  EXPECT_EQ(after - before, 32);
  EXPECT_EQ(before - after, -32);
  EXPECT_EQ(before + 32, after);
  EXPECT_EQ(after - 32u, before);
}

TEST(SeqNum, AdditionWrapsModulo2To32) {
  SeqNum s{kMax};
  s += 1;
  EXPECT_EQ(s, SeqNum{0});
  s -= 1;
  EXPECT_EQ(s, SeqNum{kMax});
  EXPECT_EQ(SeqNum{kMax - 1} + 5, SeqNum{3});
}

TEST(SeqNum, DifferenceIsSigned) {
  EXPECT_EQ(SeqNum{100} - SeqNum{200}, -100);
  EXPECT_EQ(SeqNum{0x7fffffff} - SeqNum{0}, 0x7fffffff);
  // 2^31 - 1 ahead is after; one more and the order flips (serial-number arithmetic, RFC 1982 §3.2).
  EXPECT_LT(SeqNum{0}, SeqNum{0x7fffffff});
  EXPECT_GT(SeqNum{0}, SeqNum{0x80000001});
}

TEST(SeqNum, HalfwayApartIsBothBeforeAndAfter) {
  // Documented: exactly 2^31 apart is undefined in serial arithmetic; both compare "less".
  EXPECT_LT(SeqNum{0}, SeqNum{0x80000000});
  EXPECT_LT(SeqNum{0x80000000}, SeqNum{0});
}

TEST(SeqNum, MaxMinAcrossTheWrap) {
  EXPECT_EQ(seq_max(SeqNum{kMax}, SeqNum{5}), SeqNum{5});
  EXPECT_EQ(seq_min(SeqNum{kMax}, SeqNum{5}), SeqNum{kMax});
}

TEST(SeqNum, ForwardDistance) {
  EXPECT_EQ(forward_distance(SeqNum{kMax - 9}, SeqNum{10}), 20u);
  EXPECT_EQ(forward_distance(SeqNum{10}, SeqNum{10}), 0u);
}

TEST(SeqNum, InWindowPlain) {
  const SeqNum start{1000};
  EXPECT_TRUE(in_window(SeqNum{1000}, start, 10));
  EXPECT_TRUE(in_window(SeqNum{1009}, start, 10));
  EXPECT_FALSE(in_window(SeqNum{1010}, start, 10));
  EXPECT_FALSE(in_window(SeqNum{999}, start, 10));
}

TEST(SeqNum, InWindowSpanningTheWrap) {
  const SeqNum start{kMax - 0xff};  // window [2^32 - 256, 2^32 + 256)
  const std::uint32_t len = 0x200;
  EXPECT_TRUE(in_window(start, start, len));
  EXPECT_TRUE(in_window(SeqNum{kMax}, start, len));
  EXPECT_TRUE(in_window(SeqNum{0}, start, len));
  EXPECT_TRUE(in_window(SeqNum{0xff}, start, len));
  EXPECT_FALSE(in_window(SeqNum{0x100}, start, len));
  EXPECT_FALSE(in_window(start - 1u, start, len));
  EXPECT_FALSE(in_window(SeqNum{0x80000000}, start, len));
}

TEST(SeqNum, EmptyWindowContainsNothing) {
  EXPECT_FALSE(in_window(SeqNum{5}, SeqNum{5}, 0));
  EXPECT_FALSE(in_window(SeqNum{0}, SeqNum{kMax}, 0));
}

TEST(SeqNum, ClosedRangeAcrossTheWrap) {
  const SeqNum lo{kMax - 4}, hi{4};
  EXPECT_TRUE(in_closed_range(lo, lo, hi));
  EXPECT_TRUE(in_closed_range(hi, lo, hi));
  EXPECT_TRUE(in_closed_range(SeqNum{0}, lo, hi));
  EXPECT_FALSE(in_closed_range(SeqNum{5}, lo, hi));
  EXPECT_FALSE(in_closed_range(lo - 1u, lo, hi));
  // RFC 9293 §3.10.7.4: SND.UNA < SEG.ACK =< SND.NXT with SND.UNA just below the wrap.
  const SeqNum una{kMax - 1}, nxt{100};
  auto acceptable = [&](SeqNum a) { return a != una && in_closed_range(a, una, nxt); };
  EXPECT_FALSE(acceptable(una));
  EXPECT_TRUE(acceptable(SeqNum{kMax}));
  EXPECT_TRUE(acceptable(SeqNum{0}));
  EXPECT_TRUE(acceptable(nxt));
  EXPECT_FALSE(acceptable(nxt + 1));
}

TEST(SeqNum, Prints) {
  std::ostringstream os;
  os << SeqNum{kMax};
  EXPECT_EQ(os.str(), "4294967295");
}

}  // namespace
}  // namespace tapstack::tcp
