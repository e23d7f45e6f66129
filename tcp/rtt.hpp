// The retransmission timer's estimator (RFC 6298): SRTT/RTTVAR from RTT samples, the RTO with exponential
// backoff. Sans-I/O: tcp::Connection feeds it samples (applying Karn's rule itself) and reads rto().
#pragma once
#include <cstdint>
#include <optional>

#include "stack/time.hpp"

namespace tapstack::tcp {

class RttEstimator {
 public:
  struct Config {
    Duration initial_rto = seconds{1};       // RFC 6298 §2.1
    Duration min_rto = milliseconds{200};    // RFC 6298 §2.4 says 1 s; 200 ms as Linux (faster recovery on LANs)
    Duration max_rto = seconds{60};          // RFC 6298 §2.5: a maximum of at least 60 s
    Duration granularity = milliseconds{1};  // G in RFC 6298 §2
  };

  // RFC 6298 §5.7: the RTO used after a SYN or SYN-ACK timed out.
  static constexpr Duration kSynLossRto = seconds{3};

  RttEstimator() : RttEstimator(Config{}) {}
  explicit RttEstimator(const Config& config) noexcept;

  // A valid sample (Karn's rule is the caller's job). First sample: SRTT = R, RTTVAR = R/2 (RFC 6298 §2.2);
  // then RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|, SRTT = 7/8 SRTT + 1/8 R (§2.3), in integer microseconds
  // (truncating). RTO = SRTT + max(G, 4 RTTVAR) clamped to [min_rto, max_rto]. Resets the backoff (§5.7's
  // "collapse" once an acceptable sample arrives). A negative sample is ignored; samples above one hour are
  // taken as one hour (keeps the arithmetic far from overflow).
  void on_sample(Duration rtt) noexcept;

  // The current RTO: the base RTO doubled backoff_count() times (RFC 6298 §5.5), capped at max_rto.
  Duration rto() const noexcept;
  // RFC 6298 §5.5: the retransmission timer expired; double the RTO (saturating at max_rto).
  void backoff() noexcept;
  void reset_backoff() noexcept { backoff_ = 0; }
  // How many times backoff() was called since the last sample or reset (saturates; the Connection may use
  // it to give up after N retransmissions, RFC 9293 §3.8.3 R2).
  unsigned backoff_count() const noexcept { return backoff_; }

  // RFC 6298 §5.7: call once the handshake completes if the SYN (or SYN-ACK) had to be retransmitted.
  // Without an RTT sample yet, the base RTO becomes max(current base, 3 s); the backoff is reset.
  void on_syn_timeout_fallback() noexcept;

  std::optional<Duration> srtt() const noexcept { return srtt_; }
  Duration rttvar() const noexcept { return rttvar_; }
  // Lowest sample seen over the connection's lifetime (CUBIC/HyStart may use it).
  std::optional<Duration> min_rtt() const noexcept { return min_rtt_; }
  std::optional<Duration> latest() const noexcept { return latest_; }
  // The RTO without backoff.
  Duration base_rto() const noexcept { return base_rto_; }
  const Config& config() const noexcept { return config_; }

 private:
  Duration clamp_rto(Duration d) const noexcept;

  Config config_;
  std::optional<Duration> srtt_;
  Duration rttvar_{0};
  Duration base_rto_;
  unsigned backoff_ = 0;
  std::optional<Duration> min_rtt_;
  std::optional<Duration> latest_;
};

}  // namespace tapstack::tcp
