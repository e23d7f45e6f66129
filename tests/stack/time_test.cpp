// Tests for stack/time: Instant arithmetic and the clocks.
#include "stack/time.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace tapstack {
namespace {

TEST(Instant, ConstructionAndAccessors) {
  EXPECT_EQ(Instant{}.micros(), 0);
  EXPECT_EQ(Instant::from_micros(1234567).micros(), 1234567);
  EXPECT_EQ(Instant::from_micros(1234567).millis(), 1234);
  EXPECT_EQ(Instant::from_millis(5).micros(), 5000);
  EXPECT_EQ(Instant::from_millis(-5).micros(), -5000);
  EXPECT_EQ(Instant::max().micros(), std::numeric_limits<std::int64_t>::max());
}

TEST(Instant, Arithmetic) {
  const Instant t = Instant::from_millis(1000);
  EXPECT_EQ((t + milliseconds(250)).micros(), 1'250'000);
  EXPECT_EQ((t + seconds(2)).micros(), 3'000'000);
  EXPECT_EQ((t + microseconds(1)).micros(), 1'000'001);
  EXPECT_EQ((t - milliseconds(1)).micros(), 999'000);
  EXPECT_EQ(Instant::from_millis(1500) - t, milliseconds(500));
  EXPECT_EQ(t - Instant::from_millis(1500), milliseconds(-500));
  Instant u = t;
  u += milliseconds(10);
  u += microseconds(5);
  EXPECT_EQ(u.micros(), 1'010'005);
  EXPECT_EQ((u - t).count(), 10'005);
}

TEST(Instant, ArithmeticSaturatesInsteadOfOverflowing) {
  // Instant::max() stands for "never": adding a timeout to it must stay "never", not wrap to the distant past.
  EXPECT_EQ(Instant::max() + seconds(1), Instant::max());
  EXPECT_EQ(Instant::max() + Duration::max(), Instant::max());
  Instant never = Instant::max();
  never += milliseconds(200);
  EXPECT_EQ(never, Instant::max());
  EXPECT_EQ(Instant::max() - seconds(-1), Instant::max());
  const Instant min = Instant::from_micros(std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(min - seconds(1), min);
  EXPECT_EQ(min + Duration::min(), min);
  EXPECT_EQ(Instant{} - Duration::min(), Instant::max());
  static_assert(Instant::max() + seconds(5) == Instant::max());
  EXPECT_EQ(Instant::max() - Instant::from_micros(-5), Duration::max());  // "time until never" from before 0
  EXPECT_EQ(min - Instant::from_micros(1), Duration::min());
  EXPECT_EQ((Instant::max() - seconds(1)).micros(), std::numeric_limits<std::int64_t>::max() - 1'000'000);
}

TEST(Instant, Ordering) {
  const Instant a = Instant::from_micros(10), b = Instant::from_micros(11);
  EXPECT_LT(a, b);
  EXPECT_LE(a, a);
  EXPECT_GT(b, a);
  EXPECT_EQ(a, Instant::from_micros(10));
  EXPECT_NE(a, b);
  EXPECT_LT(b, Instant::max());
  EXPECT_LT(Instant::from_micros(-1), Instant{});
  static_assert(Instant::from_millis(1) + milliseconds(1) == Instant::from_micros(2000));
}

TEST(Instant, Prints) {
  std::ostringstream os;
  os << Instant::from_micros(42);
  EXPECT_EQ(os.str(), "42us");
}

TEST(ManualClock, StartsWhereToldAndMovesOnlyByHand) {
  ManualClock clock{Instant::from_millis(100)};
  Clock& c = clock;  // used through the interface, as runners do
  EXPECT_EQ(c.now(), Instant::from_millis(100));
  EXPECT_EQ(c.now(), Instant::from_millis(100));
  clock.advance(milliseconds(5));
  EXPECT_EQ(c.now(), Instant::from_millis(105));
  clock.advance(microseconds(1));
  EXPECT_EQ(c.now().micros(), 105'001);
  clock.set(Instant::from_millis(7));
  EXPECT_EQ(c.now(), Instant::from_millis(7));
  EXPECT_EQ(ManualClock{}.now(), Instant{});
}

TEST(SteadyClock, IsMonotonic) {
  SteadyClock clock;
  Instant prev = clock.now();
  for (int i = 0; i < 1000; ++i) {
    const Instant t = clock.now();
    ASSERT_GE(t, prev);
    prev = t;
  }
}

}  // namespace
}  // namespace tapstack
