// NewReno window arithmetic: RFC 5681 §3.1 (slow start, avoidance, RTO), §3.2 (fast retransmit entry),
// §4.1 (restart after idle), RFC 3465 (appropriate byte counting), RFC 6582 §3.2 step 3 (recovery exit).
#include "tcp/newreno.hpp"

#include <algorithm>

namespace tapstack::tcp {

void NewReno::init(std::uint32_t mss, Instant) noexcept {
  mss_ = clamp_cc_mss(mss);
  if (!started_) {
    cwnd_ = syn_loss_ ? mss_ : initial_window(mss_);  // RFC 5681 §3.1, RFC 6928 §2
    ssthresh_ = kInitialSsthresh;
    bytes_acked_ = 0;
    return;
  }
  // An MSS change mid-connection (PMTU): cwnd stays in bytes, never below the loss window.
  cwnd_ = std::max(cwnd_, mss_);
  ssthresh_ = std::max(ssthresh_, 2 * mss_);
}

std::uint32_t NewReno::half_flight(std::uint32_t bytes_in_flight) const noexcept {
  return std::min(std::max(bytes_in_flight / 2, 2 * mss_), kMaxCwnd);
}

void NewReno::on_ack(const AckSample& ack) noexcept {
  if (ack.acked_bytes == 0) return;  // duplicate ACKs are the Connection's business
  started_ = true;
  rto_repeated_ = false;
  if (ack.app_limited) return;  // RFC 7661: grow only a window that is actually in use
  std::uint32_t acked = slow_start(cwnd_, ssthresh_, mss_, ack.acked_bytes);
  if (acked == 0 || cwnd_ >= kMaxCwnd) return;
  // Congestion avoidance, RFC 5681 §3.1 (the byte-counting form of equation 3) / RFC 3465 §2.1: one MSS
  // per cwnd of acknowledged bytes, at most one increase per ACK.
  bytes_acked_ = static_cast<std::uint32_t>(std::min<std::uint64_t>(std::uint64_t{bytes_acked_} + acked, kMaxCwnd));
  if (bytes_acked_ >= cwnd_) {
    bytes_acked_ -= cwnd_;
    cwnd_ = std::min(cwnd_ + mss_, kMaxCwnd);
  }
}

void NewReno::on_congestion_event(Instant, std::uint32_t bytes_in_flight) noexcept {
  started_ = true;
  rto_repeated_ = false;
  ssthresh_ = half_flight(bytes_in_flight);  // RFC 5681 §3.2 step 2
  cwnd_ = ssthresh_;                         // step 3 without the 3*SMSS inflation (the Connection's)
  bytes_acked_ = 0;
}

void NewReno::on_recovery_exit(Instant, std::uint32_t bytes_in_flight) noexcept {
  // RFC 6582 §3.2 step 3, option (1): avoids a burst when little is in flight after the full ACK.
  const std::uint64_t flight_plus = std::uint64_t{std::max(bytes_in_flight, mss_)} + mss_;
  cwnd_ = static_cast<std::uint32_t>(std::min<std::uint64_t>(ssthresh_, flight_plus));
  bytes_acked_ = 0;
}

void NewReno::on_rto(Instant, std::uint32_t bytes_in_flight) noexcept {
  started_ = true;
  // RFC 5681 §3.1: ssthresh is held when the timer fires again for an already retransmitted segment.
  if (!rto_repeated_) ssthresh_ = half_flight(bytes_in_flight);
  rto_repeated_ = true;
  cwnd_ = mss_;  // loss window
  bytes_acked_ = 0;
}

void NewReno::on_syn_loss() noexcept {
  syn_loss_ = true;
  if (!started_) cwnd_ = mss_;  // RFC 5681 §3.1: after a lost SYN or SYN-ACK the IW is one segment
}

void NewReno::on_idle_restart(Instant, Duration) noexcept {
  // RFC 2861 §3: remember 3/4 of the old window in ssthresh; then RFC 5681 §4.1: cwnd = min(cwnd, RW).
  ssthresh_ = std::max(ssthresh_, static_cast<std::uint32_t>(std::uint64_t{cwnd_} * 3 / 4));
  cwnd_ = std::min(cwnd_, initial_window(mss_));
  bytes_acked_ = 0;
}

}  // namespace tapstack::tcp
