// RFC 6298 RTT estimation and RTO computation with exponential backoff, in integer microseconds.
#include "tcp/rtt.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

namespace tapstack::tcp {
namespace {

// Samples beyond this are clamped: 8 * 1 h in microseconds is far below int64 overflow.
constexpr Duration kMaxSample = std::chrono::hours{1};

}  // namespace

RttEstimator::RttEstimator(const Config& config) noexcept : config_{config}, base_rto_{clamp_rto(config.initial_rto)} {}

Duration RttEstimator::clamp_rto(Duration d) const noexcept {
  // Not std::clamp: a misconfigured min_rto > max_rto must not be undefined behaviour; max_rto wins.
  return std::min(std::max(d, config_.min_rto), config_.max_rto);
}

void RttEstimator::on_sample(Duration rtt) noexcept {
  if (rtt < Duration::zero()) return;
  rtt = std::min(rtt, kMaxSample);
  latest_ = rtt;
  if (!min_rtt_ || rtt < *min_rtt_) min_rtt_ = rtt;
  if (!srtt_) {
    // RFC 6298 §2.2
    srtt_ = rtt;
    rttvar_ = rtt / 2;
  } else {
    // RFC 6298 §2.3, alpha = 1/8, beta = 1/4; RTTVAR first, with the SRTT before this sample.
    const Duration err = *srtt_ > rtt ? *srtt_ - rtt : rtt - *srtt_;
    rttvar_ = (3 * rttvar_ + err) / 4;
    srtt_ = (7 * *srtt_ + rtt) / 8;
  }
  // RFC 6298 §2.2/§2.3: RTO = SRTT + max(G, K*RTTVAR), K = 4; §2.4/§2.5 bounds.
  base_rto_ = clamp_rto(*srtt_ + std::max(config_.granularity, 4 * rttvar_));
  backoff_ = 0;
}

Duration RttEstimator::rto() const noexcept {
  Duration r = base_rto_;
  // Doubling stops at max_rto, so the loop runs at most ~log2(max/min) times whatever backoff_ is.
  for (unsigned i = 0; i < backoff_ && r < config_.max_rto && r > Duration::zero(); ++i) r *= 2;
  return std::min(r, config_.max_rto);
}

void RttEstimator::backoff() noexcept {
  if (backoff_ < std::numeric_limits<unsigned>::max()) ++backoff_;
}

void RttEstimator::on_syn_timeout_fallback() noexcept {
  if (!srtt_) base_rto_ = std::min(std::max(base_rto_, kSynLossRto), config_.max_rto);
  backoff_ = 0;
}

}  // namespace tapstack::tcp
