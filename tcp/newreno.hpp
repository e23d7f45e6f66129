// NewReno congestion control: RFC 5681 slow start / congestion avoidance with RFC 3465 byte counting.
// The recovery part of RFC 6582 (partial ACKs, window inflation) lives in tcp::Connection.
#pragma once
#include <cstdint>
#include <string_view>

#include "tcp/congestion.hpp"

namespace tapstack::tcp {

class NewReno final : public CongestionControl {
 public:
  NewReno() noexcept = default;

  CongestionAlgorithm algorithm() const noexcept override { return CongestionAlgorithm::kNewReno; }
  std::string_view name() const noexcept override { return "newreno"; }
  void init(std::uint32_t mss, Instant now) noexcept override;
  void on_ack(const AckSample& ack) noexcept override;
  void on_congestion_event(Instant now, std::uint32_t bytes_in_flight) noexcept override;
  void on_recovery_exit(Instant now, std::uint32_t bytes_in_flight) noexcept override;
  void on_rto(Instant now, std::uint32_t bytes_in_flight) noexcept override;
  void on_idle_restart(Instant now, Duration rto) noexcept override;
  void on_syn_loss() noexcept override;
  std::uint32_t cwnd() const noexcept override { return cwnd_; }
  std::uint32_t ssthresh() const noexcept override { return ssthresh_; }
  std::uint32_t mss() const noexcept override { return mss_; }

  // RFC 3465 §2.1 bytes_acked: acknowledged bytes counted toward the next 1-MSS increase in avoidance.
  std::uint32_t bytes_acked() const noexcept { return bytes_acked_; }

 private:
  // ssthresh = max(flight/2, 2*mss) (RFC 5681 §3.1 equation 4), at most kMaxCwnd.
  std::uint32_t half_flight(std::uint32_t bytes_in_flight) const noexcept;

  std::uint32_t mss_ = kDefaultCcMss;
  std::uint32_t cwnd_ = initial_window(kDefaultCcMss);
  std::uint32_t ssthresh_ = kInitialSsthresh;
  std::uint32_t bytes_acked_ = 0;
  bool started_ = false;  // an ACK or congestion signal arrived since init: init() keeps cwnd
  bool rto_repeated_ = false;
  bool syn_loss_ = false;  // the handshake lost a segment: IW is 1 MSS  // on_rto() and no new data acknowledged since:
                           // hold ssthresh
};

}  // namespace tapstack::tcp
