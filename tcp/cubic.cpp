// CUBIC window arithmetic (RFC 9438) in double-precision bytes: eq. 1/2 for the cubic function, §4.3 W_est,
// §4.6 multiplicative decrease, §4.7 fast convergence, §4.8 timeout. Slow start is NewReno's (§4.10).
#include "tcp/cubic.hpp"

#include <algorithm>
#include <cmath>

namespace tapstack::tcp {
namespace {

double to_seconds(Duration d) noexcept { return double(d.count()) / 1e6; }

}  // namespace

Cubic::Cubic(const Config& config) noexcept : config_{config} {
  if (!(config_.c > 0)) config_.c = Config{}.c;
  if (!(config_.beta > 0 && config_.beta < 1)) config_.beta = Config{}.beta;
}

void Cubic::reset_state() noexcept {
  cwnd_frac_ = 0;
  ssthresh_ = kInitialSsthresh;
  w_max_ = plateau_ = k_ = w_est_ = cwnd_prior_ = 0;
  epoch_start_.reset();
  last_ack_.reset();
  rto_repeated_ = after_rto_ = false;
}

void Cubic::init(std::uint32_t mss, Instant) noexcept {
  mss_ = clamp_cc_mss(mss);
  if (!started_) {
    reset_state();
    cwnd_ = syn_loss_ ? mss_ : initial_window(mss_);  // RFC 5681 §3.1, RFC 6928 §2
    return;
  }
  // An MSS change mid-connection (PMTU): windows stay in bytes; K is in segments, so restart the epoch.
  cwnd_ = std::max(cwnd_, mss_);
  ssthresh_ = std::max(ssthresh_, 2 * mss_);
  epoch_start_.reset();
}

void Cubic::set_window(double bytes) noexcept {
  bytes = std::clamp(bytes, double(mss_), double(kMaxCwnd));
  const double whole = std::floor(bytes);
  cwnd_ = static_cast<std::uint32_t>(whole);
  cwnd_frac_ = bytes - whole;
}

double Cubic::w_cubic(double t_seconds) const noexcept {
  const double d = t_seconds - k_;
  return config_.c * d * d * d * double(mss_) + plateau_;  // RFC 9438 eq. 1, scaled to bytes
}

void Cubic::compute_k(double cwnd_epoch) noexcept {
  if (w_max_ > cwnd_epoch) {
    plateau_ = w_max_;
    k_ = std::cbrt((w_max_ - cwnd_epoch) / double(mss_) / config_.c);  // RFC 9438 eq. 2, in segments
  } else {
    // No congestion event yet, or the stage starts above W_max (after an idle restart or a slow start that
    // overshot): the curve's plateau is here and growth is convex at once (as Linux's bic_origin_point).
    plateau_ = cwnd_epoch;
    k_ = 0;
  }
}

void Cubic::start_epoch(Instant now) noexcept {
  epoch_start_ = now;
  const double cwnd_epoch = window();
  w_est_ = cwnd_epoch;  // RFC 9438 §4.3: W_est starts at cwnd_epoch
  if (after_rto_) {
    // RFC 9438 §4.8: the first avoidance stage after a timeout uses K = 0 and W_max = cwnd at its start.
    w_max_ = cwnd_epoch;
    after_rto_ = false;
  }
  compute_k(cwnd_epoch);
}

std::uint32_t Cubic::reduced(std::uint32_t bytes_in_flight) const noexcept {
  // Rounded to the nearest byte: 0.7 is inexact in binary and truncating would turn 70000 into 69999.
  const double target = std::round(double(bytes_in_flight) * config_.beta);
  const auto floor2 = double(2 * std::uint64_t{mss_});
  return static_cast<std::uint32_t>(std::min(std::max(target, floor2), double(kMaxCwnd)));
}

void Cubic::on_ack(const AckSample& ack) noexcept {
  if (ack.rtt && *ack.rtt >= Duration::zero()) {
    // The RTT of RFC 9438 §4.2's target: an RFC 6298-style smoothed RTT (alpha 1/8) of the valid samples.
    srtt_ = srtt_ ? (7 * *srtt_ + *ack.rtt) / 8 : *ack.rtt;
  }
  if (ack.acked_bytes == 0) return;
  started_ = true;
  rto_repeated_ = false;
  if (ack.app_limited) {
    // RFC 9438 §5.8 / RFC 7661: no growth while the window is not used; and time spent app-limited does not
    // advance the cubic curve (the epoch moves forward with it), so the window does not leap afterwards.
    if (epoch_start_ && last_ack_ && ack.now > *last_ack_) *epoch_start_ += ack.now - *last_ack_;
    last_ack_ = ack.now;
    return;
  }
  last_ack_ = ack.now;

  const std::uint32_t acked = slow_start(cwnd_, ssthresh_, mss_, ack.acked_bytes);  // RFC 9438 §4.10
  if (acked == 0 || cwnd_ >= kMaxCwnd) return;

  if (!epoch_start_) start_epoch(ack.now);
  const double cwnd = window();
  const double mss = mss_;
  const double t = std::max(0.0, to_seconds(ack.now - *epoch_start_));
  const double rtt = srtt_ ? to_seconds(*srtt_) : 0.0;

  // RFC 9438 §4.3, eq. 4: W_est grows like Reno with alpha_cubic = 3(1-beta)/(1+beta), then alpha 1 once
  // it reaches the window before the last reduction.
  if (config_.reno_friendly) {
    const double alpha = w_est_ >= cwnd_prior_ ? 1.0 : 3 * (1 - config_.beta) / (1 + config_.beta);
    w_est_ = std::min(w_est_ + alpha * double(acked) * mss / cwnd, double(kMaxCwnd));
  }

  double next;
  if (config_.reno_friendly && w_cubic(t) < w_est_) {
    next = w_est_;  // Reno-friendly region
  } else {
    // RFC 9438 §4.2, §4.4, §4.5: target = W_cubic(t + RTT) bounded to [cwnd, 1.5 cwnd]; each ACK moves cwnd
    // by (target - cwnd) / cwnd per acknowledged segment (in bytes: times acked / cwnd), never past target.
    const double target = std::clamp(w_cubic(t + rtt), cwnd, 1.5 * cwnd);
    next = std::min(target, cwnd + (target - cwnd) * double(acked) / cwnd);
  }
  set_window(std::max(next, cwnd));  // never shrink on an ACK
}

void Cubic::on_congestion_event(Instant, std::uint32_t bytes_in_flight) noexcept {
  started_ = true;
  rto_repeated_ = after_rto_ = false;
  const double cwnd = window();
  // RFC 9438 §4.7: fast convergence releases bandwidth when the window keeps shrinking.
  w_max_ = config_.fast_convergence && cwnd < w_max_ ? cwnd * (1 + config_.beta) / 2 : cwnd;
  cwnd_prior_ = cwnd;
  ssthresh_ = reduced(bytes_in_flight);  // RFC 9438 §4.6
  cwnd_ = ssthresh_;
  cwnd_frac_ = 0;
  epoch_start_.reset();
  compute_k(window());  // K for the coming stage if it starts at this window (recomputed at its start)
  w_est_ = window();
}

void Cubic::on_recovery_exit(Instant, std::uint32_t bytes_in_flight) noexcept {
  // RFC 6582 §3.2 step 3, option (1), as NewReno.
  const std::uint64_t flight_plus = std::uint64_t{std::max(bytes_in_flight, mss_)} + mss_;
  cwnd_ = static_cast<std::uint32_t>(std::min<std::uint64_t>(ssthresh_, flight_plus));
  cwnd_frac_ = 0;
  epoch_start_.reset();
}

void Cubic::on_rto(Instant, std::uint32_t bytes_in_flight) noexcept {
  started_ = true;
  if (!rto_repeated_) {
    // RFC 9438 §4.8: Reno's loss window, but ssthresh from beta_cubic. A repeated timeout keeps ssthresh
    // (RFC 5681 §3.1).
    cwnd_prior_ = window();
    ssthresh_ = reduced(bytes_in_flight);
  }
  rto_repeated_ = true;
  after_rto_ = true;
  cwnd_ = mss_;
  cwnd_frac_ = 0;
  epoch_start_.reset();
}

void Cubic::on_syn_loss() noexcept {
  syn_loss_ = true;
  if (!started_) {
    cwnd_ = mss_;  // RFC 5681 §3.1: after a lost SYN or SYN-ACK the IW is one segment
    cwnd_frac_ = 0;
  }
}

void Cubic::on_idle_restart(Instant, Duration) noexcept {
  // As NewReno (RFC 2861 §3 then RFC 5681 §4.1); the next avoidance stage starts a new epoch.
  ssthresh_ = std::max(ssthresh_, static_cast<std::uint32_t>(std::uint64_t{cwnd_} * 3 / 4));
  if (cwnd_ > initial_window(mss_)) {
    cwnd_ = initial_window(mss_);
    cwnd_frac_ = 0;
  }
  epoch_start_.reset();
  last_ack_.reset();
}

}  // namespace tapstack::tcp
