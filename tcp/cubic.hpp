// CUBIC congestion control (RFC 9438), the default for tcp::Connection: a cubic window function of the time
// since the last congestion event, with the Reno-friendly region and fast convergence. Windows are bytes.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

#include "tcp/congestion.hpp"

namespace tapstack::tcp {

class Cubic final : public CongestionControl {
 public:
  struct Config {
    double c = 0.4;                // RFC 9438 §4.1.1: C, in segments per second^3
    double beta = 0.7;             // RFC 9438 §4.1.1: beta_cubic (§4.6 applies it)
    bool fast_convergence = true;  // RFC 9438 §4.7
    bool reno_friendly = true;     // RFC 9438 §4.3 (W_est)
  };

  Cubic() noexcept : Cubic(Config{}) {}
  // A C <= 0 or beta outside (0, 1) is replaced by the RFC value.
  explicit Cubic(const Config& config) noexcept;

  CongestionAlgorithm algorithm() const noexcept override { return CongestionAlgorithm::kCubic; }
  std::string_view name() const noexcept override { return "cubic"; }
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

  // Introspection for tests and statistics; all windows in bytes (doubles), times in seconds.
  const Config& config() const noexcept { return config_; }
  // W_max: the window just before the last reduction (after fast convergence, §4.7); 0 before any event.
  double w_max() const noexcept { return w_max_; }
  // K of RFC 9438 eq. 2 for the current (or, before its first ACK, the coming) avoidance epoch.
  double k() const noexcept { return k_; }
  // W_est of RFC 9438 §4.3 (eq. 4).
  double w_est() const noexcept { return w_est_; }
  // W_cubic(t) of RFC 9438 eq. 1 with this epoch's K and plateau, in bytes: C*(t-K)^3*mss + W_max.
  double w_cubic(double t_seconds) const noexcept;
  // When the current congestion avoidance stage began (shifted forward over app-limited time); none
  // in slow start, in recovery, or before the first ACK of a new stage.
  std::optional<Instant> epoch_start() const noexcept { return epoch_start_; }
  // The smoothed RTT CUBIC keeps from AckSample::rtt for the target W_cubic(t + RTT) (RFC 9438 §4.2).
  std::optional<Duration> srtt() const noexcept { return srtt_; }

 private:
  double window() const noexcept { return double(cwnd_) + cwnd_frac_; }
  void set_window(double bytes) noexcept;
  void start_epoch(Instant now) noexcept;
  // K and the plateau for a stage that starts at `cwnd_epoch` bytes (RFC 9438 eq. 2).
  void compute_k(double cwnd_epoch) noexcept;
  // ssthresh = max(flight * beta_cubic, 2*mss) (RFC 9438 §4.6), at most kMaxCwnd.
  std::uint32_t reduced(std::uint32_t bytes_in_flight) const noexcept;
  void reset_state() noexcept;

  Config config_;
  std::uint32_t mss_ = kDefaultCcMss;
  std::uint32_t cwnd_ = initial_window(kDefaultCcMss);
  double cwnd_frac_ = 0;  // avoidance grows cwnd by fractions of a byte per ACK; carried here
  std::uint32_t ssthresh_ = kInitialSsthresh;
  double w_max_ = 0;
  double plateau_ = 0;  // the W_max eq. 1 uses in this epoch: w_max_, or cwnd_epoch when that is larger
  double k_ = 0;
  double w_est_ = 0;
  double cwnd_prior_ = 0;  // cwnd when ssthresh was last set (RFC 9438 §4.3 switches alpha at it)
  std::optional<Instant> epoch_start_;
  std::optional<Instant> last_ack_;
  std::optional<Duration> srtt_;
  bool started_ = false;
  bool rto_repeated_ = false;
  bool after_rto_ = false;
  bool syn_loss_ = false;  // the handshake lost a segment: IW is 1 MSS  // the next avoidance stage is the first after
                           // a timeout (RFC 9438 §4.8)
};

}  // namespace tapstack::tcp
