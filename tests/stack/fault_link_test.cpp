// Tests for stack/fault_link: seeded fault injection on the transmit path.
#include "stack/fault_link.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <deque>
#include <vector>

#include "stack/bytes.hpp"

namespace tapstack {
namespace {

const Instant kNow = Instant::from_millis(1);

// Records every frame handed to it, in order.
class RecordingLink final : public Link {
 public:
  std::size_t mtu() const noexcept override { return 1500; }
  bool transmit(Instant, Bytes frame) noexcept override {
    frames.emplace_back(frame.begin(), frame.end());
    return accept;
  }
  std::optional<std::size_t> receive(Instant, MutableBytes buf) noexcept override {
    ++receives;
    if (buf.size() < 3) return std::nullopt;
    store_be16(buf, 0, 0xbeef);
    store_u8(buf, 2, 7);
    return 3;
  }
  int wait_fd() const noexcept override { return 42; }
  std::optional<Instant> next_arrival() const noexcept override { return Instant::from_millis(9); }

  std::vector<std::vector<std::byte>> frames;
  bool accept = true;
  int receives = 0;
};

// A frame that carries its sequence number, so reordering and duplication are visible.
std::vector<std::byte> numbered(std::uint32_t seq, std::size_t len = 60) {
  std::vector<std::byte> f(len);
  for (std::size_t i = 0; i < len; ++i) f[i] = std::byte(i * 31 + 7);
  store_be32(f, 0, seq);
  return f;
}
std::uint32_t seq_of(const std::vector<std::byte>& f) { return load_be32(f, 0); }

// |count - expected| within 5 binomial standard deviations (deterministic: the seed is fixed).
void expect_near_binomial(std::uint64_t count, double n, double p, const char* what) {
  const double mean = n * p, sd = std::sqrt(n * p * (1 - p));
  EXPECT_NEAR(double(count), mean, 5 * sd) << what;
}

TEST(FaultLink, NoFaultsPassesFramesUnchanged) {
  RecordingLink inner;
  FaultLink link{inner, {}, 1};
  for (std::uint32_t i = 0; i < 1000; ++i) ASSERT_TRUE(link.transmit(kNow, numbered(i, 20 + i % 100)));
  link.flush(kNow);
  ASSERT_EQ(inner.frames.size(), 1000u);
  for (std::uint32_t i = 0; i < 1000; ++i) ASSERT_EQ(inner.frames[i], numbered(i, 20 + i % 100));
  const auto& c = link.counters();
  EXPECT_EQ(c.tx_frames, 1000u);
  EXPECT_EQ(c.dropped + c.duplicated + c.reordered + c.corrupted, 0u);
}

TEST(FaultLink, PassesThroughReceiveAndLinkProperties) {
  RecordingLink inner;
  FaultLink link{inner, {.drop = 1.0}, 1};
  EXPECT_EQ(link.mtu(), 1500u);
  EXPECT_EQ(link.wait_fd(), 42);
  EXPECT_EQ(link.next_arrival(), Instant::from_millis(9));
  std::array<std::byte, 8> buf{};
  EXPECT_EQ(link.receive(kNow, buf), std::optional<std::size_t>{3});
  EXPECT_EQ(load_be16(buf, 0), 0xbeef);
  EXPECT_EQ(inner.receives, 1);
}

TEST(FaultLink, InnerRefusalIsReported) {
  RecordingLink inner;
  inner.accept = false;
  FaultLink link{inner, {}, 1};
  EXPECT_FALSE(link.transmit(kNow, numbered(1)));
}

TEST(FaultLink, DropRateNearProbability) {
  RecordingLink inner;
  FaultLink link{inner, {.drop = 0.1}, 7};
  constexpr int kFrames = 10000;
  for (std::uint32_t i = 0; i < kFrames; ++i) EXPECT_TRUE(link.transmit(kNow, numbered(i)));  // the sender can't tell
  expect_near_binomial(link.counters().dropped, kFrames, 0.1, "dropped");
  EXPECT_EQ(inner.frames.size() + link.counters().dropped, std::size_t(kFrames));
  std::uint32_t prev = 0;
  for (std::size_t i = 0; i < inner.frames.size(); ++i) {  // survivors keep their order
    if (i) {
      ASSERT_GT(seq_of(inner.frames[i]), prev);
    }
    prev = seq_of(inner.frames[i]);
  }
}

TEST(FaultLink, DuplicateRateNearProbability) {
  RecordingLink inner;
  FaultLink link{inner, {.duplicate = 0.05}, 8};
  constexpr int kFrames = 10000;
  for (std::uint32_t i = 0; i < kFrames; ++i) link.transmit(kNow, numbered(i));
  expect_near_binomial(link.counters().duplicated, kFrames, 0.05, "duplicated");
  EXPECT_EQ(inner.frames.size(), kFrames + link.counters().duplicated);
  std::size_t dups = 0;
  for (std::size_t i = 1; i < inner.frames.size(); ++i) {
    if (inner.frames[i] == inner.frames[i - 1])
      ++dups;  // a duplicate follows its original directly
    else
      ASSERT_EQ(seq_of(inner.frames[i]), seq_of(inner.frames[i - 1]) + 1);
  }
  EXPECT_EQ(dups, link.counters().duplicated);
}

TEST(FaultLink, CorruptRateNearProbabilityAndFlipsExactlyOneBit) {
  RecordingLink inner;
  FaultLink link{inner, {.corrupt = 0.03}, 9};
  constexpr int kFrames = 10000;
  for (std::uint32_t i = 0; i < kFrames; ++i) link.transmit(kNow, numbered(i, 64));
  expect_near_binomial(link.counters().corrupted, kFrames, 0.03, "corrupted");
  ASSERT_EQ(inner.frames.size(), std::size_t(kFrames));
  std::uint64_t changed = 0;
  for (std::uint32_t i = 0; i < kFrames; ++i) {
    const auto want = numbered(i, 64);
    int bits = 0;
    for (std::size_t k = 0; k < want.size(); ++k) bits += std::popcount(unsigned(inner.frames[i][k] ^ want[k]));
    ASSERT_LE(bits, 1) << "frame " << i;
    changed += bits;
  }
  EXPECT_EQ(changed, link.counters().corrupted);
}

TEST(FaultLink, CorruptAlwaysFlipsExactlyOneBitAnywhere) {
  RecordingLink inner;
  FaultLink link{inner, {.corrupt = 1.0}, 10};
  std::vector<int> hits_per_byte(8, 0);
  for (std::uint32_t i = 0; i < 2000; ++i) {
    const auto f = numbered(i, 8);
    link.transmit(kNow, f);
    const auto& got = inner.frames.back();
    int bits = 0;
    for (std::size_t k = 0; k < f.size(); ++k) {
      const int b = std::popcount(unsigned(got[k] ^ f[k]));
      bits += b;
      if (b) ++hits_per_byte[k];
    }
    ASSERT_EQ(bits, 1) << "frame " << i;
  }
  for (int h : hits_per_byte) EXPECT_GT(h, 150);  // every byte position gets hit (~250 each)
  // An empty frame has no bit to flip and passes as it is.
  EXPECT_TRUE(link.transmit(kNow, {}));
  EXPECT_TRUE(inner.frames.back().empty());
}

TEST(FaultLink, ReorderedFrameArrivesAfterTheNextOne) {
  RecordingLink inner;
  FaultLink link{inner, {.reorder = 1.0}, 11};
  EXPECT_TRUE(link.transmit(kNow, numbered(1)));  // held back
  EXPECT_TRUE(inner.frames.empty());
  EXPECT_TRUE(link.transmit(kNow, numbered(2)));  // sent, then the held one
  ASSERT_EQ(inner.frames.size(), 2u);
  EXPECT_EQ(seq_of(inner.frames[0]), 2u);
  EXPECT_EQ(seq_of(inner.frames[1]), 1u);
  EXPECT_EQ(inner.frames[1], numbered(1));
  EXPECT_EQ(link.counters().reordered, 1u);
}

TEST(FaultLink, FlushReleasesAHeldFrame) {
  RecordingLink inner;
  FaultLink link{inner, {.reorder = 1.0}, 12};
  link.flush(kNow);  // nothing held: nothing sent
  EXPECT_TRUE(inner.frames.empty());
  link.transmit(kNow, numbered(5));
  EXPECT_TRUE(inner.frames.empty());
  link.flush(kNow);
  ASSERT_EQ(inner.frames.size(), 1u);
  EXPECT_EQ(inner.frames[0], numbered(5));
  link.flush(kNow);  // only once
  EXPECT_EQ(inner.frames.size(), 1u);
}

TEST(FaultLink, ReorderRateNearProbability) {
  RecordingLink inner;
  constexpr double kP = 0.05;
  FaultLink link{inner, {.reorder = kP}, 13};
  constexpr int kFrames = 10000;
  for (std::uint32_t i = 0; i < kFrames; ++i) link.transmit(kNow, numbered(i));
  link.flush(kNow);
  // One frame is held at a time, and the frame that releases it cannot itself be held, so the held fraction
  // is p / (1 + p) rather than p.
  expect_near_binomial(link.counters().reordered, kFrames, kP / (1 + kP), "reordered");
  ASSERT_EQ(inner.frames.size(), std::size_t(kFrames));  // nothing lost, nothing added
  std::uint64_t swaps = 0;
  for (std::size_t i = 0; i < inner.frames.size(); ++i) {
    const std::uint32_t s = seq_of(inner.frames[i]);
    ASSERT_LE(std::max<std::int64_t>(s, std::int64_t(i)) - std::min<std::int64_t>(s, std::int64_t(i)), 1)
        << "a reordered frame moves by exactly one place";
    swaps += s == i + 1;
  }
  EXPECT_EQ(swaps, link.counters().reordered);
}

TEST(FaultLink, AllFaultsTogetherAreReproducibleAndAccountedFor) {
  const FaultLink::Faults faults{.drop = 0.1, .duplicate = 0.05, .reorder = 0.05, .corrupt = 0.02};
  auto run = [&](std::uint64_t seed) {
    RecordingLink inner;
    FaultLink link{inner, faults, seed};
    for (std::uint32_t i = 0; i < 10000; ++i) link.transmit(kNow, numbered(i));
    link.flush(kNow);
    const auto& c = link.counters();
    EXPECT_EQ(c.tx_frames, 10000u);
    EXPECT_EQ(inner.frames.size(), c.tx_frames - c.dropped + c.duplicated);
    expect_near_binomial(c.dropped, 10000, 0.1, "dropped");
    expect_near_binomial(c.corrupted, 9000, 0.02, "corrupted");    // decided after the drop
    expect_near_binomial(c.duplicated, 9000, 0.05, "duplicated");  // ~ of frames sent
    return inner.frames;
  };
  EXPECT_EQ(run(77), run(77));
  EXPECT_NE(run(77), run(78));
}

TEST(FaultLink, SetFaultsTakesEffect) {
  RecordingLink inner;
  FaultLink link{inner, {.drop = 1.0}, 14};
  link.transmit(kNow, numbered(1));
  EXPECT_TRUE(inner.frames.empty());
  link.set_faults({});
  link.transmit(kNow, numbered(2));
  ASSERT_EQ(inner.frames.size(), 1u);
  EXPECT_EQ(inner.frames[0], numbered(2));
}

}  // namespace
}  // namespace tapstack
