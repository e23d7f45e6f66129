// RttEstimator: RFC 6298 SRTT/RTTVAR/RTO on hand-computed sample sequences, clamps, backoff and its cap.
#include "tcp/rtt.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace tapstack::tcp {
namespace {

using std::chrono::microseconds;

TEST(RttEstimator, BeforeAnySampleUsesTheInitialRto) {
  RttEstimator est;
  EXPECT_EQ(est.rto(), seconds{1});  // RFC 6298 §2.1
  EXPECT_EQ(est.srtt(), std::nullopt);
  EXPECT_EQ(est.rttvar(), Duration::zero());
  EXPECT_EQ(est.min_rtt(), std::nullopt);
  EXPECT_EQ(est.latest(), std::nullopt);
  EXPECT_EQ(est.backoff_count(), 0u);
}

TEST(RttEstimator, FirstSampleSetsSrttAndHalfVariance) {
  RttEstimator est;
  est.on_sample(milliseconds{100});
  // RFC 6298 §2.2: SRTT = 100, RTTVAR = 50, RTO = 100 + max(1, 200) = 300 ms.
  EXPECT_EQ(est.srtt(), milliseconds{100});
  EXPECT_EQ(est.rttvar(), milliseconds{50});
  EXPECT_EQ(est.rto(), milliseconds{300});
  EXPECT_EQ(est.latest(), milliseconds{100});
  EXPECT_EQ(est.min_rtt(), milliseconds{100});
}

TEST(RttEstimator, SampleSequenceMatchesHandComputation) {
  RttEstimator est;
  est.on_sample(milliseconds{100});  // SRTT 100, RTTVAR 50, RTO 300
  est.on_sample(milliseconds{200});
  // RTTVAR = 3/4*50 + 1/4*|100-200| = 37.5 + 25 = 62.5 ms; SRTT = 7/8*100 + 1/8*200 = 112.5 ms.
  EXPECT_EQ(est.rttvar(), microseconds{62500});
  EXPECT_EQ(est.srtt(), microseconds{112500});
  EXPECT_EQ(est.rto(), microseconds{112500 + 4 * 62500});  // 362.5 ms
  est.on_sample(milliseconds{80});
  // RTTVAR = 3/4*62.5 + 1/4*|112.5-80| = 46.875 + 8.125 = 55 ms; SRTT = 7/8*112.5 + 10 = 108.4375 ms.
  EXPECT_EQ(est.rttvar(), microseconds{55000});
  EXPECT_EQ(est.srtt(), microseconds{108437});  // 108437.5 truncated to whole microseconds
  EXPECT_EQ(est.rto(), microseconds{108437 + 220000});
  EXPECT_EQ(est.latest(), milliseconds{80});
  EXPECT_EQ(est.min_rtt(), milliseconds{80});
}

TEST(RttEstimator, SteadySamplesConvergeVarianceTowardZero) {
  RttEstimator est;
  est.on_sample(milliseconds{400});  // SRTT 400, RTTVAR 200
  for (int i = 0; i < 3; ++i) est.on_sample(milliseconds{400});
  // RTTVAR = 200 * (3/4)^3 = 84.375 ms; SRTT unchanged.
  EXPECT_EQ(est.srtt(), milliseconds{400});
  EXPECT_EQ(est.rttvar(), microseconds{84375});
  EXPECT_EQ(est.rto(), microseconds{400000 + 337500});
}

TEST(RttEstimator, GranularityBoundsTheVarianceTerm) {
  RttEstimator::Config cfg;
  cfg.min_rto = Duration::zero();
  cfg.granularity = milliseconds{10};
  RttEstimator est{cfg};
  est.on_sample(milliseconds{2});  // RTTVAR 1 ms: 4*RTTVAR = 4 ms < G = 10 ms
  EXPECT_EQ(est.rto(), milliseconds{12});
}

TEST(RttEstimator, RtoIsClampedToMinimum) {
  RttEstimator est;                 // min_rto 200 ms
  est.on_sample(milliseconds{10});  // 10 + 20 = 30 ms -> 200 ms
  EXPECT_EQ(est.rto(), milliseconds{200});
  EXPECT_EQ(est.base_rto(), milliseconds{200});
}

TEST(RttEstimator, RtoIsClampedToMaximum) {
  RttEstimator est;
  est.on_sample(seconds{30});  // 30 + 60 = 90 s -> 60 s
  EXPECT_EQ(est.rto(), seconds{60});
}

TEST(RttEstimator, ZeroSampleIsValidAndHitsTheFloor) {
  RttEstimator est;
  est.on_sample(Duration::zero());  // in-memory links measure 0 us
  EXPECT_EQ(est.srtt(), Duration::zero());
  EXPECT_EQ(est.min_rtt(), Duration::zero());
  EXPECT_EQ(est.rto(), milliseconds{200});
}

TEST(RttEstimator, NegativeSampleIsIgnored) {
  RttEstimator est;
  est.on_sample(milliseconds{100});
  est.on_sample(milliseconds{-5});
  EXPECT_EQ(est.srtt(), milliseconds{100});
  EXPECT_EQ(est.latest(), milliseconds{100});
  EXPECT_EQ(est.rto(), milliseconds{300});
}

TEST(RttEstimator, HugeSampleDoesNotOverflow) {
  RttEstimator est;
  est.on_sample(Duration{std::numeric_limits<Duration::rep>::max()});
  est.on_sample(Duration{std::numeric_limits<Duration::rep>::max()});
  EXPECT_EQ(est.srtt(), std::chrono::hours{1});
  EXPECT_EQ(est.rto(), seconds{60});
}

TEST(RttEstimator, BackoffDoublesUntilTheCap) {
  RttEstimator est;
  est.on_sample(milliseconds{100});  // RTO 300 ms
  est.backoff();
  EXPECT_EQ(est.rto(), milliseconds{600});
  est.backoff();
  EXPECT_EQ(est.rto(), milliseconds{1200});
  for (int i = 0; i < 6; ++i) est.backoff();  // 300 ms * 2^8 = 76.8 s -> capped at 60 s
  EXPECT_EQ(est.backoff_count(), 8u);
  EXPECT_EQ(est.rto(), seconds{60});
  for (int i = 0; i < 1000; ++i) est.backoff();  // no shift overflow however many timeouts
  EXPECT_EQ(est.backoff_count(), 1008u);
  EXPECT_EQ(est.rto(), seconds{60});
}

TEST(RttEstimator, BackoffAppliesToTheInitialRto) {
  RttEstimator est;
  est.backoff();
  est.backoff();
  EXPECT_EQ(est.rto(), seconds{4});  // RFC 6298 §5.5 on the §2.1 value
}

TEST(RttEstimator, ResetBackoffRestoresTheBaseRto) {
  RttEstimator est;
  est.on_sample(milliseconds{100});
  est.backoff();
  est.backoff();
  est.reset_backoff();
  EXPECT_EQ(est.backoff_count(), 0u);
  EXPECT_EQ(est.rto(), milliseconds{300});
}

TEST(RttEstimator, NewSampleResetsBackoff) {
  RttEstimator est;
  est.on_sample(milliseconds{100});
  est.backoff();
  est.on_sample(milliseconds{100});
  // RTTVAR = 37.5 ms, SRTT 100 ms: RTO 250 ms, no backoff left.
  EXPECT_EQ(est.backoff_count(), 0u);
  EXPECT_EQ(est.rto(), milliseconds{250});
}

TEST(RttEstimator, MinRttTracksTheLowestSample) {
  RttEstimator est;
  est.on_sample(milliseconds{50});
  est.on_sample(milliseconds{30});
  est.on_sample(milliseconds{70});
  EXPECT_EQ(est.min_rtt(), milliseconds{30});
  EXPECT_EQ(est.latest(), milliseconds{70});
}

TEST(RttEstimator, ConfigurableInitialRto) {
  RttEstimator::Config cfg;
  cfg.initial_rto = milliseconds{500};
  RttEstimator est{cfg};
  EXPECT_EQ(est.rto(), milliseconds{500});
}

TEST(RttEstimator, SynTimeoutFallbackRaisesRtoToThreeSeconds) {
  RttEstimator est;
  est.backoff();                  // the SYN was retransmitted
  est.on_syn_timeout_fallback();  // RFC 6298 §5.7
  EXPECT_EQ(est.backoff_count(), 0u);
  EXPECT_EQ(est.rto(), seconds{3});
  est.on_sample(milliseconds{100});  // a later valid sample computes the RTO normally
  EXPECT_EQ(est.rto(), milliseconds{300});
}

TEST(RttEstimator, SynTimeoutFallbackKeepsAMeasuredRto) {
  RttEstimator est;
  est.on_sample(milliseconds{100});
  est.on_syn_timeout_fallback();
  EXPECT_EQ(est.rto(), milliseconds{300});
}

}  // namespace
}  // namespace tapstack::tcp
