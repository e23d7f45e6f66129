// tcp::SackScoreboard: RFC 2018 block validation and merging, and RFC 6675 §4 IsLost, SetPipe and NextSeg on a
// flight of 10 segments, run at sequence bases that put the flight across 2^31 and across the 2^32 wrap.
#include "tcp/sack_scoreboard.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace tapstack::tcp {
namespace {

constexpr std::uint32_t kSmss = 1000;

class SackScoreboardTest : public ::testing::TestWithParam<std::uint32_t> {
 protected:
  // Segment i of the flight is [s(i), s(i + 1)); SND.UNA is s(0), SND.NXT is s(10).
  SeqNum s(std::uint32_t i, std::uint32_t extra = 0) const { return SeqNum{GetParam()} + (i * kSmss + extra); }
  SeqNum una() const { return s(0); }
  SeqNum nxt() const { return s(10); }
  SackBlock seg(std::uint32_t first, std::uint32_t end) const { return {s(first), s(end)}; }
  std::uint32_t ack(std::vector<SackBlock> blocks) { return sb.on_ack(una(), nxt(), blocks); }
  std::vector<SeqRange> ranges() const { return {sb.ranges().begin(), sb.ranges().end()}; }

  SackScoreboard sb;
};

INSTANTIATE_TEST_SUITE_P(Bases, SackScoreboardTest,
                         ::testing::Values(std::uint32_t{1000}, std::uint32_t{0x7fffe000},  // across 2^31
                                           std::uint32_t{0xffffe000}),                      // across 2^32
                         [](const auto& info) { return "base_" + std::to_string(info.param); });

TEST_P(SackScoreboardTest, FreshIsEmpty) {
  EXPECT_EQ(sb.range_count(), 0u);
  EXPECT_EQ(sb.sacked_bytes(), 0u);
  EXPECT_EQ(sb.highest_sacked(), std::nullopt);
  EXPECT_FALSE(sb.is_lost(una(), kSmss));
  EXPECT_EQ(sb.pipe(una(), nxt(), una(), kSmss), 10'000u);  // everything in flight
  EXPECT_EQ(sb.next_lost(una(), una(), kSmss), std::nullopt);
  EXPECT_EQ(sb.next_unsacked_below_highest(una(), una(), kSmss), std::nullopt);
}

// One loss (segment 0); segments 1, 2, 3 arrive and each ACK carries a growing SACK block (RFC 6675 §1).
TEST_P(SackScoreboardTest, SingleLossDetectedOnTheThirdDuplicate) {
  EXPECT_EQ(ack({seg(1, 2)}), 1000u);
  EXPECT_FALSE(sb.is_lost(una(), kSmss));
  EXPECT_EQ(ack({seg(1, 3)}), 1000u);
  EXPECT_FALSE(sb.is_lost(una(), kSmss));  // 2000 bytes above: not more than (DupThresh - 1) * SMSS
  EXPECT_EQ(sb.next_lost(una(), una(), kSmss), std::nullopt);
  // Rule 3 would offer segment 0 already (un-SACKed, below the highest SACKed octet).
  EXPECT_EQ(sb.next_unsacked_below_highest(una(), una(), kSmss), (SeqRange{s(0), s(1)}));
  EXPECT_EQ(ack({seg(1, 4)}), 1000u);
  EXPECT_TRUE(sb.is_lost(una(), kSmss));  // 3000 > 2000
  EXPECT_TRUE(sb.is_lost(s(0, 999), kSmss));
  EXPECT_FALSE(sb.is_lost(s(4), kSmss));
  EXPECT_EQ(ranges(), (std::vector<SeqRange>{{s(1), s(4)}}));
  EXPECT_EQ(sb.sacked_bytes(), 3000u);
  EXPECT_EQ(sb.highest_sacked(), s(4));

  // SetPipe: segment 0 is lost (not counted), 1-3 SACKed, 4-9 in flight.
  EXPECT_EQ(sb.pipe(una(), nxt(), una(), kSmss), 6000u);
  // NextSeg rule 1: segment 0.
  EXPECT_EQ(sb.next_lost(una(), una(), kSmss), (SeqRange{s(0), s(1)}));
  // After retransmitting it (HighRxt = s(1)): it counts once in pipe (b), and nothing else is lost.
  EXPECT_EQ(sb.pipe(una(), nxt(), s(1), kSmss), 7000u);
  EXPECT_EQ(sb.next_lost(una(), s(1), kSmss), std::nullopt);
  EXPECT_EQ(sb.next_unsacked_below_highest(una(), s(1), kSmss), std::nullopt);

  // The retransmission arrives: the cumulative ACK jumps past the SACKed range and everything is forgotten.
  EXPECT_EQ(sb.on_ack(s(4), nxt(), {}), 0u);
  EXPECT_EQ(sb.range_count(), 0u);
  EXPECT_EQ(sb.sacked_bytes(), 0u);
  EXPECT_EQ(sb.pipe(s(4), nxt(), s(4), kSmss), 6000u);
}

// Three losses (segments 0, 2, 5); SACKed: 1, 3-4, 6-8; segment 9 still in flight.
class ThreeHoles : public SackScoreboardTest {
 protected:
  void SetUp() override { ASSERT_EQ(ack({seg(6, 9), seg(3, 5), seg(1, 2)}), 6000u); }
};
INSTANTIATE_TEST_SUITE_P(Bases, ThreeHoles,
                         ::testing::Values(std::uint32_t{1000}, std::uint32_t{0x7fffe000}, std::uint32_t{0xffffe000}),
                         [](const auto& info) { return "base_" + std::to_string(info.param); });

TEST_P(ThreeHoles, ScoreboardState) {
  EXPECT_EQ(ranges(), (std::vector<SeqRange>{{s(1), s(2)}, {s(3), s(5)}, {s(6), s(9)}}));
  EXPECT_EQ(sb.sacked_bytes(), 6000u);
  EXPECT_EQ(sb.highest_sacked(), s(9));
  for (std::uint32_t i : {1u, 3u, 4u, 6u, 7u, 8u}) {
    EXPECT_TRUE(sb.is_sacked(s(i))) << i;
    EXPECT_TRUE(sb.is_sacked(s(i, 999))) << i;
  }
  for (std::uint32_t i : {0u, 2u, 5u, 9u}) {
    EXPECT_FALSE(sb.is_sacked(s(i))) << i;
    EXPECT_FALSE(sb.is_sacked(s(i, 999))) << i;
  }
  EXPECT_FALSE(sb.is_sacked(una() - 1));
  EXPECT_FALSE(sb.is_sacked(nxt()));
}

TEST_P(ThreeHoles, IsLostBySmssBytes) {
  EXPECT_TRUE(sb.is_lost(s(0), kSmss));   // 3 ranges above
  EXPECT_TRUE(sb.is_lost(s(2), kSmss));   // 2 ranges, 5000 bytes above
  EXPECT_TRUE(sb.is_lost(s(5), kSmss));   // 1 range, 3000 bytes above
  EXPECT_FALSE(sb.is_lost(s(9), kSmss));  // nothing above
  EXPECT_FALSE(sb.is_lost(nxt(), kSmss));
  EXPECT_FALSE(sb.is_lost(una() - 1, kSmss));  // acknowledged
  // Inside a SACKed range: counts the SACKed octets strictly above seq.
  EXPECT_TRUE(sb.is_lost(s(6, 998), kSmss));   // 2001 bytes above
  EXPECT_FALSE(sb.is_lost(s(6, 999), kSmss));  // 2000: not more than (DupThresh - 1) * SMSS
}

TEST_P(ThreeHoles, IsLostByDiscontiguousRanges) {
  // SMSS 4000: (DupThresh - 1) * SMSS = 8000 is never exceeded, so only the range count decides.
  EXPECT_TRUE(sb.is_lost(s(0), 4000));   // 3 ranges above
  EXPECT_FALSE(sb.is_lost(s(2), 4000));  // 2 ranges, 5000 bytes
  EXPECT_FALSE(sb.is_lost(s(5), 4000));
}

TEST_P(ThreeHoles, SetPipe) {
  // (a) only segment 9 is neither SACKed nor lost.
  EXPECT_EQ(sb.pipe(una(), nxt(), una(), kSmss), 1000u);
  // (b) after retransmitting 0, 2 and 5 (HighRxt = s(6)): each counts once more.
  EXPECT_EQ(sb.pipe(una(), nxt(), s(6), kSmss), 4000u);
  // HighRxt in the middle of the hole at segment 2.
  EXPECT_EQ(sb.pipe(una(), nxt(), s(2, 500), kSmss), 2500u);
  // With SMSS 4000 only segment 0 is lost: 2, 5 and 9 are in flight.
  EXPECT_EQ(sb.pipe(una(), nxt(), una(), 4000), 3000u);
  // A retransmitted octet that is not lost counts twice (RFC 6675 §4, note after SetPipe).
  EXPECT_EQ(sb.pipe(una(), nxt(), s(3), 4000), 3000u + 1000u + 1000u);
  // HighRxt out of range is clamped to [SND.UNA, SND.NXT].
  EXPECT_EQ(sb.pipe(una(), nxt(), una() - 5000, kSmss), 1000u);
}

TEST_P(ThreeHoles, NextSegRule1WalksTheLostHolesUpward) {
  EXPECT_EQ(sb.next_lost(una(), una(), kSmss), (SeqRange{s(0), s(1)}));
  EXPECT_EQ(sb.next_lost(una(), s(1), kSmss), (SeqRange{s(2), s(3)}));  // HighRxt skips segment 0
  EXPECT_EQ(sb.next_lost(una(), s(3), kSmss), (SeqRange{s(5), s(6)}));
  EXPECT_EQ(sb.next_lost(una(), s(6), kSmss), std::nullopt);  // segment 9 is above every SACKed octet
  // HighRxt inside a hole: the rest of that hole.
  EXPECT_EQ(sb.next_lost(una(), s(2, 300), kSmss), (SeqRange{s(2, 300), s(3)}));
  // A segment never crosses into SACKed data, and is at most SMSS.
  EXPECT_EQ(sb.next_lost(una(), una(), 600), (SeqRange{s(0), s(0, 600)}));
  EXPECT_EQ(sb.next_lost(una(), una(), 0), std::nullopt);
}

TEST_P(ThreeHoles, NextSegRule3WhenNothingIsLost) {
  // SMSS 4000: only segment 0 is lost.
  EXPECT_EQ(sb.next_lost(una(), una(), 4000), (SeqRange{s(0), s(1)}));
  EXPECT_EQ(sb.next_lost(una(), s(1), 4000), std::nullopt);
  EXPECT_EQ(sb.next_unsacked_below_highest(una(), s(1), 4000), (SeqRange{s(2), s(3)}));
  EXPECT_EQ(sb.next_unsacked_below_highest(una(), s(3), 4000), (SeqRange{s(5), s(6)}));
  EXPECT_EQ(sb.next_unsacked_below_highest(una(), s(6), 4000), std::nullopt);
}

TEST_P(ThreeHoles, CumulativeAckDropsEverythingBelow) {
  EXPECT_EQ(sb.on_ack(s(2), nxt(), {}), 0u);  // drops [1, 2)
  EXPECT_EQ(ranges(), (std::vector<SeqRange>{{s(3), s(5)}, {s(6), s(9)}}));
  EXPECT_EQ(sb.sacked_bytes(), 5000u);
  EXPECT_EQ(sb.on_ack(s(4, 200), nxt(), {}), 0u);  // ends inside [3, 5): trimmed
  EXPECT_EQ(ranges(), (std::vector<SeqRange>{{s(4, 200), s(5)}, {s(6), s(9)}}));
  EXPECT_EQ(sb.sacked_bytes(), 3800u);
  EXPECT_FALSE(sb.is_sacked(s(4, 199)));
  EXPECT_EQ(sb.on_ack(s(9), nxt(), {}), 0u);
  EXPECT_EQ(sb.range_count(), 0u);
  EXPECT_EQ(sb.sacked_bytes(), 0u);
  EXPECT_EQ(sb.highest_sacked(), std::nullopt);
}

TEST_P(ThreeHoles, ClearForgetsEverything) {
  sb.clear();
  EXPECT_EQ(sb.range_count(), 0u);
  EXPECT_EQ(sb.sacked_bytes(), 0u);
  EXPECT_EQ(sb.pipe(una(), nxt(), una(), kSmss), 10'000u);
}

TEST_P(SackScoreboardTest, NewlySackedCountsOnlyNewBytes) {
  EXPECT_EQ(ack({seg(2, 4)}), 2000u);
  EXPECT_EQ(ack({seg(2, 4)}), 0u);                // repeated
  EXPECT_EQ(ack({{s(3), s(5, 500)}}), 1500u);     // overlaps the end
  EXPECT_EQ(ack({seg(6, 7), seg(8, 9)}), 2000u);  // two new ranges
  EXPECT_EQ(ack({seg(1, 9)}), 2500u);             // covers all, filling [1,2), [5.5,6) and [7,8)
  EXPECT_EQ(ranges(), (std::vector<SeqRange>{{s(1), s(9)}}));
  EXPECT_EQ(sb.sacked_bytes(), 8000u);
}

TEST_P(SackScoreboardTest, AdjacentBlocksMerge) {
  EXPECT_EQ(ack({seg(2, 3), seg(4, 5)}), 2000u);
  EXPECT_EQ(sb.range_count(), 2u);
  EXPECT_EQ(ack({seg(3, 4)}), 1000u);
  EXPECT_EQ(ranges(), (std::vector<SeqRange>{{s(2), s(5)}}));
  EXPECT_EQ(ack({seg(1, 2), seg(5, 6)}), 2000u);
  EXPECT_EQ(ranges(), (std::vector<SeqRange>{{s(1), s(6)}}));
}

TEST_P(SackScoreboardTest, InvalidBlocksAreIgnored) {
  const std::vector<SackBlock> bad{
      {una(), s(2)},                               // left == SND.UNA: the receiver would have ACKed it
      {una() - 1000, una()},                       // D-SACK below SND.UNA (RFC 2883)
      {una() - 500, s(1)},                         // straddles SND.UNA
      {s(3), s(3)},                                // empty
      {s(4), s(3)},                                // reversed
      {s(9), s(10, 1)},                            // past SND.NXT
      {s(12), s(13)},                              // wholly past SND.NXT
      {una() + 0x80000000u, una() + 0x80001000u},  // half the sequence space away
  };
  EXPECT_EQ(ack(bad), 0u);
  EXPECT_EQ(sb.range_count(), 0u);
  EXPECT_EQ(sb.sacked_bytes(), 0u);
  // Valid edges: left just above SND.UNA, right exactly SND.NXT.
  EXPECT_EQ(ack({{una() + 1, s(1)}, {s(9), nxt()}}), 999u + 1000u);
  EXPECT_EQ(sb.highest_sacked(), nxt());
}

TEST_P(SackScoreboardTest, NoBlockIsValidWhenNothingIsInFlight) {
  EXPECT_EQ(sb.on_ack(una(), una(), std::vector<SackBlock>{{una() + 1, una() + 2}}), 0u);
  EXPECT_EQ(sb.range_count(), 0u);
  EXPECT_EQ(sb.pipe(una(), una(), una(), kSmss), 0u);
}

TEST_P(SackScoreboardTest, CapForgetsTheHighestRange) {
  SackScoreboard small{3};
  EXPECT_EQ(small.on_ack(una(), nxt(), std::vector<SackBlock>{seg(1, 2), seg(3, 4), seg(5, 6)}), 3000u);
  // A fourth, highest range is not kept.
  EXPECT_EQ(small.on_ack(una(), nxt(), std::vector<SackBlock>{seg(7, 8)}), 0u);
  EXPECT_EQ(small.range_count(), 3u);
  EXPECT_EQ(small.highest_sacked(), s(6));
  // A fourth, lower range is kept and the highest one forgotten.
  EXPECT_EQ(small.on_ack(una(), nxt(), std::vector<SackBlock>{{s(0, 100), s(0, 200)}}), 100u);
  EXPECT_EQ((std::vector<SeqRange>{small.ranges().begin(), small.ranges().end()}),
            (std::vector<SeqRange>{{s(0, 100), s(0, 200)}, {s(1), s(2)}, {s(3), s(4)}}));
  EXPECT_EQ(small.sacked_bytes(), 2100u);
  EXPECT_EQ(small.highest_sacked(), s(4));
  // Merging never needs room: a block bridging two ranges is fine at the cap.
  EXPECT_EQ(small.on_ack(una(), nxt(), std::vector<SackBlock>{seg(2, 3)}), 1000u);
  EXPECT_EQ(small.range_count(), 2u);
  EXPECT_EQ(small.sacked_bytes(), 3100u);
}

TEST_P(SackScoreboardTest, ManyBlocksNeverExceedTheCap) {
  SackScoreboard small{4};
  // 100-byte blocks every 200 bytes across the flight, four per ACK (the most an option carries).
  for (std::uint32_t k = 0; k + 4 <= 48; k += 4) {
    std::vector<SackBlock> blocks;
    for (std::uint32_t j = k; j < k + 4; ++j) blocks.push_back({s(0, 200 * j + 100), s(0, 200 * j + 200)});
    small.on_ack(una(), nxt(), blocks);
    ASSERT_LE(small.range_count(), 4u);
  }
  // The four lowest ranges survive.
  EXPECT_EQ(small.range_count(), 4u);
  EXPECT_EQ(small.sacked_bytes(), 400u);
  EXPECT_EQ(small.highest_sacked(), s(0, 800));
}

TEST(SackScoreboard, BackwardsSndUnaForgetsEverything) {
  SackScoreboard sb;
  sb.on_ack(SeqNum{5000}, SeqNum{9000}, std::vector<SackBlock>{{SeqNum{6000}, SeqNum{7000}}});
  ASSERT_EQ(sb.sacked_bytes(), 1000u);
  EXPECT_EQ(sb.on_ack(SeqNum{4000}, SeqNum{9000}, {}), 0u);
  EXPECT_EQ(sb.range_count(), 0u);
  EXPECT_EQ(sb.sacked_bytes(), 0u);
}

TEST(SackScoreboard, SeqRangePrintsAndMeasures) {
  const SeqRange r{SeqNum{0xfffffff0u}, SeqNum{0x10}};
  EXPECT_EQ(r.length(), 0x20u);
  std::ostringstream os;
  os << r;
  EXPECT_EQ(os.str(), "[4294967280, 16)");
}

}  // namespace
}  // namespace tapstack::tcp
