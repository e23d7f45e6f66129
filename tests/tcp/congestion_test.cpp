// NewReno and CUBIC window arithmetic: RFC 6928 IW, RFC 5681/3465 slow start and avoidance, loss and RTO
// responses, idle restart, and RFC 9438's cubic function, W_est, fast convergence and overflow bounds.
#include "tcp/congestion.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "tcp/cubic.hpp"
#include "tcp/newreno.hpp"

namespace tapstack::tcp {
namespace {

constexpr Instant kT0 = Instant::from_millis(10'000);
constexpr std::uint32_t kMss = 1460;

AckSample ack(Instant now, std::uint32_t acked, std::uint32_t flight = 0, bool app_limited = false) {
  AckSample a;
  a.now = now;
  a.acked_bytes = acked;
  a.bytes_in_flight = flight;
  a.app_limited = app_limited;
  return a;
}

// One round trip of a cwnd-limited sender: the whole window is acknowledged in `per_ack`-byte ACKs at `now`
// (the last one covering what is left).
void ack_one_window(CongestionControl& cc, Instant now, std::uint32_t per_ack) {
  const std::uint32_t window = cc.cwnd();
  for (std::uint32_t done = 0; done < window;) {
    const std::uint32_t n = std::min(per_ack, window - done);
    cc.on_ack(ack(now, n, window - done));
    done += n;
  }
}

// ---- shared ----------------------------------------------------------------------------------------------

TEST(CongestionControl, InitialWindowPerRfc6928) {
  EXPECT_EQ(initial_window(1460), 14600u);  // min(14600, max(2920, 14600))
  EXPECT_EQ(initial_window(536), 5360u);    // min(5360, max(1072, 14600))
  EXPECT_EQ(initial_window(9000), 18000u);  // min(90000, max(18000, 14600))
  EXPECT_EQ(initial_window(1220), 12200u);  // IPv6 default MSS
  EXPECT_EQ(initial_window(0), 10u);        // MSS floor of 1 keeps the arithmetic defined
  EXPECT_EQ(initial_window(std::numeric_limits<std::uint32_t>::max()), 131070u);  // MSS capped at 65535
}

TEST(CongestionControl, FactoryMakesEachAlgorithm) {
  auto reno = make_congestion_control(CongestionAlgorithm::kNewReno);
  ASSERT_NE(reno, nullptr);
  EXPECT_EQ(reno->algorithm(), CongestionAlgorithm::kNewReno);
  EXPECT_EQ(reno->name(), "newreno");
  EXPECT_NE(dynamic_cast<NewReno*>(reno.get()), nullptr);
  auto cubic = make_congestion_control(CongestionAlgorithm::kCubic);
  ASSERT_NE(cubic, nullptr);
  EXPECT_EQ(cubic->algorithm(), CongestionAlgorithm::kCubic);
  EXPECT_EQ(cubic->name(), "cubic");
  auto* c = dynamic_cast<Cubic*>(cubic.get());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->config().c, 0.4);
  EXPECT_EQ(c->config().beta, 0.7);
  EXPECT_EQ(to_string(CongestionAlgorithm::kNewReno), "newreno");
  EXPECT_EQ(to_string(CongestionAlgorithm::kCubic), "cubic");
}

TEST(CongestionControl, SlowStartHelperStopsAtSsthreshAndReturnsTheRest) {
  std::uint32_t cwnd = 10000;
  EXPECT_EQ(slow_start(cwnd, 20000, 1000, 1500), 0u);
  EXPECT_EQ(cwnd, 11500u);
  EXPECT_EQ(slow_start(cwnd, 20000, 1000, 5000), 0u);  // ABC: at most 2 MSS
  EXPECT_EQ(cwnd, 13500u);
  cwnd = 19500;
  EXPECT_EQ(slow_start(cwnd, 20000, 1000, 1500), 1000u);  // 500 used to reach ssthresh, 1000 left over
  EXPECT_EQ(cwnd, 20000u);
  EXPECT_EQ(slow_start(cwnd, 20000, 1000, 1500), 1500u);  // already in avoidance
  EXPECT_EQ(cwnd, 20000u);
}

// ---- behaviour both algorithms share (typed) ----------------------------------------------------------------

template <class T>
class BothAlgorithms : public ::testing::Test {
 protected:
  T cc;
};
using Algorithms = ::testing::Types<NewReno, Cubic>;
TYPED_TEST_SUITE(BothAlgorithms, Algorithms);

// ssthresh after a loss with `flight` bytes out: 1/2 for NewReno, beta_cubic 0.7 for CUBIC.
template <class T>
std::uint32_t expected_reduction(std::uint32_t flight) {
  if constexpr (std::is_same_v<T, NewReno>) {
    return flight / 2;
  } else {
    return static_cast<std::uint32_t>(std::round(flight * 0.7));
  }
}

TYPED_TEST(BothAlgorithms, InitSetsTheInitialWindow) {
  this->cc.init(kMss, kT0);
  EXPECT_EQ(this->cc.cwnd(), 14600u);
  EXPECT_EQ(this->cc.ssthresh(), kInitialSsthresh);
  EXPECT_EQ(this->cc.mss(), kMss);
  this->cc.init(536, kT0);  // nothing acked yet: a new MSS recomputes the IW
  EXPECT_EQ(this->cc.cwnd(), 5360u);
  this->cc.init(9000, kT0);
  EXPECT_EQ(this->cc.cwnd(), 18000u);
  EXPECT_TRUE(this->cc.in_slow_start());
}

TYPED_TEST(BothAlgorithms, SynLossMakesTheInitialWindowOneSegment) {
  this->cc.init(kMss, kT0);
  this->cc.on_syn_loss();
  EXPECT_EQ(this->cc.cwnd(), kMss);
  this->cc.init(1200, kT0);  // a later MSS change keeps the one-segment IW
  EXPECT_EQ(this->cc.cwnd(), 1200u);
  this->cc.on_ack(ack(kT0 + milliseconds{100}, 1200, 1200));
  EXPECT_EQ(this->cc.cwnd(), 2400u);  // slow start as usual from there
}

TYPED_TEST(BothAlgorithms, SynLossAfterDataChangesNothing) {
  this->cc.init(kMss, kT0);
  this->cc.on_ack(ack(kT0, kMss, 14600));
  this->cc.on_syn_loss();
  EXPECT_EQ(this->cc.cwnd(), 16060u);
}

TYPED_TEST(BothAlgorithms, MssChangeAfterDataKeepsTheByteWindow) {
  this->cc.init(kMss, kT0);
  this->cc.on_ack(ack(kT0, kMss, 14600));
  ASSERT_EQ(this->cc.cwnd(), 16060u);
  this->cc.init(1200, kT0 + milliseconds{5});  // PMTU shrank
  EXPECT_EQ(this->cc.mss(), 1200u);
  EXPECT_EQ(this->cc.cwnd(), 16060u);
}

TYPED_TEST(BothAlgorithms, SlowStartDoublesPerRoundWithPerSegmentAcks) {
  this->cc.init(kMss, kT0);
  ack_one_window(this->cc, kT0 + milliseconds{10}, kMss);
  EXPECT_EQ(this->cc.cwnd(), 29200u);
  ack_one_window(this->cc, kT0 + milliseconds{20}, kMss);
  EXPECT_EQ(this->cc.cwnd(), 58400u);
  ack_one_window(this->cc, kT0 + milliseconds{30}, kMss);
  EXPECT_EQ(this->cc.cwnd(), 116800u);
}

TYPED_TEST(BothAlgorithms, SlowStartDoublesPerRoundWithDelayedAcks) {
  // RFC 3465 §2.2, L = 2 SMSS: an ACK for two segments counts both, so delayed ACKs still double.
  this->cc.init(kMss, kT0);
  ack_one_window(this->cc, kT0 + milliseconds{10}, 2 * kMss);
  EXPECT_EQ(this->cc.cwnd(), 29200u);
  ack_one_window(this->cc, kT0 + milliseconds{20}, 2 * kMss);
  EXPECT_EQ(this->cc.cwnd(), 58400u);
}

TYPED_TEST(BothAlgorithms, StretchAckGrowsByAtMostTwoMss) {
  this->cc.init(kMss, kT0);
  this->cc.on_ack(ack(kT0, 14600, 14600));
  EXPECT_EQ(this->cc.cwnd(), 14600u + 2 * kMss);
}

TYPED_TEST(BothAlgorithms, DuplicateAckDoesNotGrow) {
  this->cc.init(kMss, kT0);
  this->cc.on_ack(ack(kT0, 0, 14600));
  EXPECT_EQ(this->cc.cwnd(), 14600u);
}

TYPED_TEST(BothAlgorithms, AppLimitedAckDoesNotGrowInSlowStart) {
  this->cc.init(kMss, kT0);
  for (int i = 0; i < 10; ++i) this->cc.on_ack(ack(kT0 + milliseconds{i}, kMss, 2 * kMss, true));
  EXPECT_EQ(this->cc.cwnd(), 14600u);
}

TYPED_TEST(BothAlgorithms, AppLimitedAckDoesNotGrowInAvoidance) {
  this->cc.init(kMss, kT0);
  this->cc.on_congestion_event(kT0, 100 * kMss);
  const std::uint32_t before = this->cc.cwnd();
  for (int i = 1; i <= 200; ++i) this->cc.on_ack(ack(kT0 + milliseconds{10 * i}, kMss, kMss, true));
  EXPECT_EQ(this->cc.cwnd(), before);
}

TYPED_TEST(BothAlgorithms, CongestionEventReducesToTheMultiplicativeDecrease) {
  this->cc.init(kMss, kT0);
  this->cc.on_congestion_event(kT0, 100000);
  EXPECT_EQ(this->cc.ssthresh(), expected_reduction<TypeParam>(100000));
  EXPECT_EQ(this->cc.cwnd(), this->cc.ssthresh());  // no inflation here: the Connection adds it
  EXPECT_FALSE(this->cc.in_slow_start());
}

TYPED_TEST(BothAlgorithms, CongestionEventFloorsAtTwoMss) {
  this->cc.init(kMss, kT0);
  this->cc.on_congestion_event(kT0, 1000);
  EXPECT_EQ(this->cc.ssthresh(), 2 * kMss);
  EXPECT_EQ(this->cc.cwnd(), 2 * kMss);
}

TYPED_TEST(BothAlgorithms, CongestionEventWithHugeFlightIsCapped) {
  this->cc.init(kMss, kT0);
  this->cc.on_congestion_event(kT0, std::numeric_limits<std::uint32_t>::max());
  EXPECT_EQ(this->cc.ssthresh(), kMaxCwnd);
  EXPECT_EQ(this->cc.cwnd(), kMaxCwnd);
}

TYPED_TEST(BothAlgorithms, RtoCollapsesToOneMssAndSetsSsthresh) {
  this->cc.init(kMss, kT0);
  ack_one_window(this->cc, kT0, kMss);  // cwnd 29200
  this->cc.on_rto(kT0 + seconds{1}, 29200);
  EXPECT_EQ(this->cc.cwnd(), kMss);  // RFC 5681 §3.1 loss window
  EXPECT_EQ(this->cc.ssthresh(), expected_reduction<TypeParam>(29200));
  // The timer fires again for the same segment: ssthresh is held, not recomputed from the tiny flight.
  this->cc.on_rto(kT0 + seconds{3}, kMss);
  EXPECT_EQ(this->cc.cwnd(), kMss);
  EXPECT_EQ(this->cc.ssthresh(), expected_reduction<TypeParam>(29200));
}

TYPED_TEST(BothAlgorithms, RtoAfterNewAckRecomputesSsthresh) {
  this->cc.init(kMss, kT0);
  this->cc.on_rto(kT0 + seconds{1}, 40 * kMss);
  this->cc.on_ack(ack(kT0 + seconds{2}, kMss, kMss));
  this->cc.on_rto(kT0 + seconds{4}, 10 * kMss);
  EXPECT_EQ(this->cc.ssthresh(), expected_reduction<TypeParam>(10 * kMss));
  EXPECT_EQ(this->cc.cwnd(), kMss);
}

TYPED_TEST(BothAlgorithms, SlowStartAfterRtoStopsExactlyAtSsthresh) {
  this->cc.init(kMss, kT0);
  this->cc.on_rto(kT0, 20 * kMss);  // ssthresh 14600 (NewReno) or 20440 (CUBIC): multiples of the MSS
  const std::uint32_t ssthresh = this->cc.ssthresh();
  ASSERT_EQ(ssthresh % kMss, 0u);
  int acks = 0;
  while (this->cc.cwnd() < ssthresh) {
    this->cc.on_ack(ack(kT0 + milliseconds{++acks}, kMss, this->cc.cwnd()));
    ASSERT_LE(this->cc.cwnd(), ssthresh);
  }
  EXPECT_EQ(acks, int(ssthresh / kMss) - 1);
  EXPECT_EQ(this->cc.cwnd(), ssthresh);
}

TYPED_TEST(BothAlgorithms, RecoveryExitTakesRfc6582OptionOne) {
  this->cc.init(kMss, kT0);
  this->cc.on_congestion_event(kT0, 100 * kMss);
  const std::uint32_t ssthresh = this->cc.ssthresh();
  this->cc.on_recovery_exit(kT0 + milliseconds{50}, 2 * kMss);  // little in flight after the full ACK
  EXPECT_EQ(this->cc.cwnd(), 3 * kMss);
  EXPECT_EQ(this->cc.ssthresh(), ssthresh);
  EXPECT_TRUE(this->cc.in_slow_start());
  this->cc.on_recovery_exit(kT0 + milliseconds{60}, 0);  // max(flight, mss) + mss
  EXPECT_EQ(this->cc.cwnd(), 2 * kMss);
  this->cc.on_recovery_exit(kT0 + milliseconds{70}, 90 * kMss);
  EXPECT_EQ(this->cc.cwnd(), ssthresh);
}

TYPED_TEST(BothAlgorithms, IdleRestartShrinksToTheInitialWindow) {
  this->cc.init(kMss, kT0);
  for (int r = 1; r <= 3; ++r) ack_one_window(this->cc, kT0 + milliseconds{10 * r}, kMss);
  ASSERT_EQ(this->cc.cwnd(), 116800u);
  this->cc.on_idle_restart(kT0 + seconds{5}, seconds{1});
  EXPECT_EQ(this->cc.cwnd(), 14600u);  // RFC 5681 §4.1: RW = min(IW, cwnd)
  EXPECT_EQ(this->cc.ssthresh(), kInitialSsthresh);
}

TYPED_TEST(BothAlgorithms, IdleRestartRemembersThreeQuartersOfTheWindow) {
  this->cc.init(kMss, kT0);
  this->cc.on_congestion_event(kT0, 2 * kMss);  // ssthresh = cwnd = 2 MSS
  for (int r = 1; r < 1000 && this->cc.cwnd() < 4 * kMss; ++r) {
    ack_one_window(this->cc, kT0 + milliseconds{100 * r}, kMss);
  }
  const std::uint32_t cwnd = this->cc.cwnd();
  ASSERT_GE(cwnd, 4 * kMss);
  ASSERT_LT(cwnd, 14600u);
  this->cc.on_idle_restart(kT0 + seconds{500}, seconds{1});
  EXPECT_EQ(this->cc.ssthresh(), cwnd * 3 / 4);  // RFC 2861 §3: max(2 MSS, 3/4 cwnd)
  EXPECT_EQ(this->cc.cwnd(), cwnd);              // already below the restart window
}

TYPED_TEST(BothAlgorithms, IdleRestartKeepsASmallerWindow) {
  this->cc.init(kMss, kT0);
  this->cc.on_rto(kT0, 20 * kMss);
  const std::uint32_t ssthresh = this->cc.ssthresh();
  this->cc.on_idle_restart(kT0 + seconds{5}, seconds{1});
  EXPECT_EQ(this->cc.cwnd(), kMss);
  EXPECT_EQ(this->cc.ssthresh(), ssthresh);
}

TYPED_TEST(BothAlgorithms, WindowNeverExceedsTheCap) {
  this->cc.init(65535, kT0);
  Instant now = kT0;
  for (int i = 0; i < 9000; ++i) {
    now += milliseconds{1};
    this->cc.on_ack(ack(now, 2 * 65535, this->cc.cwnd()));
  }
  EXPECT_EQ(this->cc.cwnd(), kMaxCwnd);
  for (int i = 0; i < 100; ++i) {
    now += milliseconds{1};
    this->cc.on_ack(ack(now, std::numeric_limits<std::uint32_t>::max(), kMaxCwnd));
  }
  EXPECT_EQ(this->cc.cwnd(), kMaxCwnd);
}

// ---- NewReno --------------------------------------------------------------------------------------------

TEST(NewReno, CongestionAvoidanceAddsOneMssPerWindowOfAckedBytes) {
  NewReno cc;
  cc.init(kMss, kT0);
  cc.on_congestion_event(kT0, 40 * kMss);  // ssthresh = cwnd = 20 segments
  ASSERT_EQ(cc.cwnd(), 20 * kMss);
  for (int i = 0; i < 19; ++i) cc.on_ack(ack(kT0 + milliseconds{100}, kMss, 20 * kMss));
  EXPECT_EQ(cc.cwnd(), 20 * kMss);
  EXPECT_EQ(cc.bytes_acked(), 19 * kMss);
  cc.on_ack(ack(kT0 + milliseconds{100}, kMss, kMss));
  EXPECT_EQ(cc.cwnd(), 21 * kMss);  // RFC 3465 §2.1: bytes_acked reached cwnd
  EXPECT_EQ(cc.bytes_acked(), 0u);
  // The next round needs 21 segments' worth of ACKs.
  for (int i = 0; i < 20; ++i) cc.on_ack(ack(kT0 + milliseconds{200}, kMss, 21 * kMss));
  EXPECT_EQ(cc.cwnd(), 21 * kMss);
  cc.on_ack(ack(kT0 + milliseconds{200}, kMss, kMss));
  EXPECT_EQ(cc.cwnd(), 22 * kMss);
}

TEST(NewReno, CongestionAvoidanceWithDelayedAcksStillOneMssPerRound) {
  NewReno cc;
  cc.init(kMss, kT0);
  cc.on_congestion_event(kT0, 40 * kMss);
  for (int r = 1; r <= 10; ++r) ack_one_window(cc, kT0 + milliseconds{100 * r}, 2 * kMss);
  EXPECT_EQ(cc.cwnd(), 30 * kMss);  // 20 segments + one per round
  EXPECT_EQ(cc.bytes_acked(), 0u);
}

TEST(NewReno, CongestionEventHalvesTheFlight) {
  NewReno cc;
  cc.init(kMss, kT0);
  cc.on_congestion_event(kT0, 64 * kMss);
  EXPECT_EQ(cc.ssthresh(), 32 * kMss);  // RFC 5681 §3.2 equation 4
  EXPECT_EQ(cc.cwnd(), 32 * kMss);
}

TEST(NewReno, SlowStartLeftoverFeedsAvoidance) {
  NewReno cc;
  cc.init(1000, kT0);
  cc.on_congestion_event(kT0, 30000);  // ssthresh 15000, cwnd 15000
  cc.on_rto(kT0, 30000);               // ssthresh 15000, cwnd 1000
  ASSERT_EQ(cc.ssthresh(), 15000u);
  for (int i = 0; i < 13; ++i) cc.on_ack(ack(kT0 + milliseconds{i}, 1000, 1000));
  ASSERT_EQ(cc.cwnd(), 14000u);
  cc.on_ack(ack(kT0 + milliseconds{20}, 1500, 1500));  // 1000 to reach ssthresh, 500 to bytes_acked
  EXPECT_EQ(cc.cwnd(), 15000u);
  EXPECT_EQ(cc.bytes_acked(), 500u);
}

// ---- CUBIC ----------------------------------------------------------------------------------------------

constexpr std::uint32_t kCubicMss = 1000;

// A CUBIC at W_max = 100 segments right after its first congestion event (cwnd 70 segments).
Cubic cubic_after_first_loss(Cubic::Config cfg = {}) {
  Cubic cc{cfg};
  cc.init(kCubicMss, kT0);
  for (int i = 0; i < 90; ++i) cc.on_ack(ack(kT0, kCubicMss, cc.cwnd()));
  EXPECT_EQ(cc.cwnd(), 100'000u);
  cc.on_congestion_event(kT0, 100'000);
  return cc;
}

TEST(Cubic, CongestionEventSetsWindowToBetaTimesWmax) {
  Cubic cc = cubic_after_first_loss();
  EXPECT_EQ(cc.w_max(), 100'000.0);
  EXPECT_EQ(cc.cwnd(), 70'000u);  // RFC 9438 §4.6
  EXPECT_EQ(cc.ssthresh(), 70'000u);
  EXPECT_FALSE(cc.in_slow_start());
}

TEST(Cubic, KFollowsEquationTwo) {
  Cubic cc = cubic_after_first_loss();
  // K = cbrt(W_max * (1 - beta) / C) = cbrt(100 * 0.3 / 0.4) = cbrt(75) seconds.
  EXPECT_NEAR(cc.k(), std::cbrt(75.0), 1e-12);
  cc.on_ack(ack(kT0 + milliseconds{1}, kCubicMss, 70'000));  // first ACK of the stage: the epoch begins
  ASSERT_EQ(cc.epoch_start(), kT0 + milliseconds{1});
  EXPECT_NEAR(cc.k(), std::cbrt(75.0), 1e-12);
  EXPECT_NEAR(cc.k(), 4.2171633265, 1e-9);
}

TEST(Cubic, WCubicMatchesEquationOneAtZeroKAndTwoK) {
  Cubic cc = cubic_after_first_loss();
  cc.on_ack(ack(kT0, kCubicMss, 70'000));
  const double k = cc.k();
  EXPECT_NEAR(cc.w_cubic(0), 70'000.0, 1e-6);       // C*(-K)^3 + W_max = W_max - 30 segments
  EXPECT_NEAR(cc.w_cubic(k), 100'000.0, 1e-6);      // the plateau at W_max
  EXPECT_NEAR(cc.w_cubic(2 * k), 130'000.0, 1e-6);  // symmetric: W_max + 30 segments
  EXPECT_NEAR(cc.w_cubic(1.0), (0.4 * std::pow(1.0 - k, 3) + 100) * 1000, 1e-6);
}

// Drives a cwnd-limited CUBIC with one window of per-segment ACKs every `rtt`, up to `until` after kT0.
void run_rounds(Cubic& cc, Duration rtt, Duration until, std::uint32_t* min_step = nullptr) {
  for (Instant now = kT0 + rtt; now <= kT0 + until; now += rtt) {
    const std::uint32_t before = cc.cwnd();
    const std::uint32_t window = cc.cwnd();
    for (std::uint32_t done = 0; done + kCubicMss <= window; done += kCubicMss) {
      AckSample a = ack(now, kCubicMss, window - done);
      a.rtt = rtt;
      const std::uint32_t prev = cc.cwnd();
      cc.on_ack(a);
      ASSERT_GE(cc.cwnd(), prev);  // monotonic in time
    }
    if (min_step) *min_step = std::min(*min_step, cc.cwnd() - before);
  }
}

TEST(Cubic, WindowClimbsConcaveToWmaxAtK) {
  Cubic cc = cubic_after_first_loss();
  const Duration rtt = milliseconds{100};
  const double k = cc.k();
  run_rounds(cc, rtt, milliseconds{2000});
  // Concave region: still below W_max, but within reach of W_cubic(t + RTT).
  EXPECT_LT(cc.cwnd(), 100'000u);
  EXPECT_GT(double(cc.cwnd()), cc.w_cubic(1.9));
  Cubic fresh = cubic_after_first_loss();
  run_rounds(fresh, rtt, Duration{std::int64_t(k * 1e6)});
  // At t = K the window sits at the plateau (within 3%: the target is W_cubic(t + RTT), reached per ACK).
  EXPECT_NEAR(double(fresh.cwnd()), 100'000.0, 3'000.0);
}

TEST(Cubic, WindowGrowsConvexBeyondWmax) {
  Cubic cc = cubic_after_first_loss();
  const double k = cc.k();
  run_rounds(cc, milliseconds{100}, Duration{std::int64_t(2 * k * 1e6)});
  // Past the plateau the window follows W_cubic(t + RTT): near W_max + 30 segments at 2K.
  EXPECT_GT(cc.cwnd(), 120'000u);
  EXPECT_LT(double(cc.cwnd()), cc.w_cubic(2 * k + 0.2));
}

TEST(Cubic, GrowthIsMonotonicAndSteadyInAvoidance) {
  Cubic cc = cubic_after_first_loss();
  std::uint32_t min_step = std::numeric_limits<std::uint32_t>::max();
  run_rounds(cc, milliseconds{50}, seconds{12}, &min_step);
  EXPECT_GT(cc.cwnd(), 200'000u);  // far into the convex region after 12 s
  // The Reno-friendly W_est (alpha_cubic * 1 segment per RTT at least) keeps every round growing.
  EXPECT_GT(min_step, 0u);
}

TEST(Cubic, RenoFriendlyRegionTakesOverAtSmallRtt) {
  Cubic cc = cubic_after_first_loss();
  const Duration rtt = milliseconds{1};
  run_rounds(cc, rtt, milliseconds{100});
  // 100 rounds in 0.1 s: W_cubic has barely moved from 70 segments, W_est has grown by Reno's rule.
  const double t = 0.1;
  EXPECT_LT(cc.w_cubic(t), 73'000.0);
  EXPECT_GT(double(cc.cwnd()), 140'000.0);
  EXPECT_NEAR(double(cc.cwnd()), cc.w_est(), 1.0);
  // Independent replay of RFC 9438 eq. 4: W_est += alpha * acked_segments / cwnd (segments), alpha = 3(1-b)/(1+b)
  // until W_est reaches the pre-loss window (100 segments), then 1; cwnd = W_est in this region.
  double w = 70'000;
  for (int round = 0; round < 100; ++round) {
    const auto window = static_cast<std::uint32_t>(std::floor(w));
    for (std::uint32_t done = 0; done + kCubicMss <= window; done += kCubicMss) {
      const double alpha = w >= 100'000 ? 1.0 : 3 * 0.3 / 1.7;
      w += alpha * kCubicMss * kCubicMss / w;
    }
  }
  EXPECT_NEAR(cc.w_est(), w, 1e-3 * w);
}

TEST(Cubic, RenoFriendlyOffFollowsTheCubicCurveOnly) {
  Cubic::Config cfg;
  cfg.reno_friendly = false;
  Cubic cc = cubic_after_first_loss(cfg);
  run_rounds(cc, milliseconds{1}, milliseconds{100});
  EXPECT_LT(cc.cwnd(), 73'000u);
  EXPECT_GE(double(cc.cwnd()), 70'000.0);
}

TEST(Cubic, FastConvergenceLowersWmax) {
  Cubic cc = cubic_after_first_loss();
  // A second loss at cwnd 70 segments, below W_max 100: W_max = 70 * (1 + 0.7) / 2 = 59.5 segments.
  cc.on_congestion_event(kT0 + milliseconds{10}, 70'000);
  EXPECT_EQ(cc.w_max(), 59'500.0);
  EXPECT_EQ(cc.cwnd(), 49'000u);
  EXPECT_NEAR(cc.k(), std::cbrt((59.5 - 49.0) / 0.4), 1e-12);
}

TEST(Cubic, WithoutFastConvergenceWmaxIsTheWindow) {
  Cubic::Config cfg;
  cfg.fast_convergence = false;
  Cubic cc = cubic_after_first_loss(cfg);
  cc.on_congestion_event(kT0 + milliseconds{10}, 70'000);
  EXPECT_EQ(cc.w_max(), 70'000.0);
}

TEST(Cubic, LossAboveTheOldWmaxTakesTheWindow) {
  Cubic cc = cubic_after_first_loss();
  run_rounds(cc, milliseconds{100}, seconds{8});
  const double cwnd = cc.cwnd();
  ASSERT_GT(cwnd, 100'000.0);
  cc.on_congestion_event(kT0 + seconds{9}, cc.cwnd());
  EXPECT_NEAR(cc.w_max(), cwnd, 1.0);
}

TEST(Cubic, FirstStageAfterRtoUsesZeroKAndCurrentWindow) {
  Cubic cc = cubic_after_first_loss();
  cc.on_rto(kT0 + seconds{1}, 100'000);  // RFC 9438 §4.8
  EXPECT_EQ(cc.cwnd(), kCubicMss);
  EXPECT_EQ(cc.ssthresh(), 70'000u);
  Instant now = kT0 + seconds{2};
  while (cc.in_slow_start()) cc.on_ack(ack(now += milliseconds{1}, kCubicMss, cc.cwnd()));
  ASSERT_EQ(cc.cwnd(), 70'000u);
  cc.on_ack(ack(now += milliseconds{1}, kCubicMss, cc.cwnd()));  // first avoidance ACK: the epoch begins
  EXPECT_EQ(cc.k(), 0.0);
  EXPECT_EQ(cc.w_max(), 70'000.0);
  EXPECT_NEAR(cc.w_cubic(0), 70'000.0, 1e-9);
}

TEST(Cubic, AppLimitedTimeDoesNotAdvanceTheCurve) {
  Cubic a = cubic_after_first_loss();
  Cubic b = cubic_after_first_loss();
  a.on_ack(ack(kT0, kCubicMss, 70'000));
  b.on_ack(ack(kT0, kCubicMss, 70'000));
  // b idles at the application for 10 s, its ACKs flagged app-limited.
  for (int s = 1; s <= 10; ++s) b.on_ack(ack(kT0 + seconds{s}, kCubicMss, kCubicMss, true));
  ASSERT_EQ(b.cwnd(), a.cwnd());
  ASSERT_EQ(b.epoch_start(), kT0 + seconds{10});
  a.on_ack(ack(kT0 + seconds{5}, kCubicMss, 70'000));
  b.on_ack(ack(kT0 + seconds{15}, kCubicMss, 70'000));
  EXPECT_EQ(b.cwnd(), a.cwnd());
  EXPECT_GT(a.cwnd(), 70'000u);
}

TEST(Cubic, IdleRestartStartsANewEpoch) {
  Cubic cc = cubic_after_first_loss();
  cc.on_ack(ack(kT0, kCubicMss, 70'000));
  ASSERT_TRUE(cc.epoch_start().has_value());
  cc.on_idle_restart(kT0 + seconds{30}, seconds{1});
  EXPECT_EQ(cc.epoch_start(), std::nullopt);
  EXPECT_EQ(cc.cwnd(), 10'000u);  // IW for MSS 1000
  EXPECT_EQ(cc.ssthresh(), 70'000u);
}

TEST(Cubic, NoOverflowAtAGibibyteWmax) {
  Cubic cc;
  cc.init(9000, kT0);
  Instant now = kT0;
  while (cc.cwnd() < kMaxCwnd) cc.on_ack(ack(now += microseconds{10}, 18000, cc.cwnd()));
  ASSERT_EQ(cc.cwnd(), kMaxCwnd);
  cc.on_congestion_event(now, kMaxCwnd);
  EXPECT_EQ(cc.w_max(), double(kMaxCwnd));
  EXPECT_EQ(cc.cwnd(), static_cast<std::uint32_t>(std::round(double(kMaxCwnd) * 0.7)));
  // Eq. 2 from the window the stage starts at (0.7 W_max rounded to a byte), about 44.7 s.
  EXPECT_NEAR(cc.k(), std::cbrt((double(kMaxCwnd) - cc.cwnd()) / 9000 / 0.4), 1e-9);
  EXPECT_NEAR(cc.k(), std::cbrt(double(kMaxCwnd) * 0.3 / 9000 / 0.4), 1e-6);
  // 200 s of 10 ms rounds with giant stretch ACKs: the window climbs back, capped, never wrapping.
  std::uint32_t prev = cc.cwnd();
  for (int i = 0; i < 20'000; ++i) {
    AckSample a = ack(now += milliseconds{10}, 64u << 20, cc.cwnd());
    a.rtt = milliseconds{10};
    cc.on_ack(a);
    ASSERT_GE(cc.cwnd(), prev);
    ASSERT_LE(cc.cwnd(), kMaxCwnd);
    prev = cc.cwnd();
  }
  EXPECT_EQ(cc.cwnd(), kMaxCwnd);
  EXPECT_TRUE(std::isfinite(cc.w_cubic(1e6)));
  // A loss with the largest possible flight stays within bounds too.
  cc.on_congestion_event(now, std::numeric_limits<std::uint32_t>::max());
  EXPECT_LE(cc.ssthresh(), kMaxCwnd);
  EXPECT_LE(cc.cwnd(), kMaxCwnd);
}

TEST(Cubic, InvalidConfigFallsBackToRfcConstants) {
  Cubic::Config cfg;
  cfg.c = -1;
  cfg.beta = 1.5;
  Cubic cc{cfg};
  EXPECT_EQ(cc.config().c, 0.4);
  EXPECT_EQ(cc.config().beta, 0.7);
}

TEST(Cubic, KeepsASmoothedRttFromSamples) {
  Cubic cc;
  cc.init(kCubicMss, kT0);
  AckSample a = ack(kT0, kCubicMss, 10'000);
  a.rtt = milliseconds{80};
  cc.on_ack(a);
  EXPECT_EQ(cc.srtt(), milliseconds{80});
  a.rtt = milliseconds{160};
  cc.on_ack(a);
  EXPECT_EQ(cc.srtt(), milliseconds{90});
}

}  // namespace
}  // namespace tapstack::tcp
