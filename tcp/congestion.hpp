// The congestion controller interface tcp::Connection drives (sans-I/O: every call takes `Instant now`),
// the factory, and the pieces NewReno and CUBIC share (initial window, ABC slow start). Windows are bytes.
#pragma once
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>

#include "stack/time.hpp"

namespace tapstack::tcp {

enum class CongestionAlgorithm : std::uint8_t { kNewReno, kCubic };

// cwnd never exceeds this (1 GiB: the largest window RFC 7323 §2.3 allows, and far from uint32 overflow).
inline constexpr std::uint32_t kMaxCwnd = std::uint32_t{1} << 30;
// RFC 5681 §3.1: the initial ssthresh is "arbitrarily high".
inline constexpr std::uint32_t kInitialSsthresh = std::numeric_limits<std::uint32_t>::max();
// The MSS a controller assumes before init() (RFC 9293 §3.7.1 default send MSS for IPv4).
inline constexpr std::uint32_t kDefaultCcMss = 536;
// MSS bounds a controller applies to init()'s argument: a floor of 1 only keeps divisions defined (the
// Connection clamps a peer's MSS to a sane floor); 65535 is the largest value the MSS option can carry.
inline constexpr std::uint32_t kMinCcMss = 1;
inline constexpr std::uint32_t kMaxCcMss = 65535;

struct AckSample {
  Instant now;
  std::uint32_t acked_bytes = 0;      // newly cumulatively acked bytes
  std::uint32_t bytes_in_flight = 0;  // before this ACK
  std::optional<Duration> rtt;        // sample from this ACK, if valid
  bool app_limited = false;           // sender was not cwnd-limited (RFC 7661): don't grow cwnd
};

class CongestionControl {
 public:
  virtual ~CongestionControl() = default;
  virtual CongestionAlgorithm algorithm() const noexcept = 0;
  virtual std::string_view name() const noexcept = 0;
  // Called once the MSS is known (after the handshake) and whenever it changes. Until the first ACK or
  // congestion signal, it (re)sets cwnd to the RFC 6928 initial window min(10*mss, max(2*mss, 14600)).
  // Afterwards it only records the new MSS: cwnd stays in bytes (raised to at least one MSS) and ssthresh
  // to at least 2*MSS.
  virtual void init(std::uint32_t mss, Instant now) noexcept = 0;
  // New data cumulatively acknowledged, outside loss recovery. An ACK with acked_bytes == 0 is ignored.
  // Slow start below ssthresh (RFC 5681 §3.1 with RFC 3465 ABC, L = 2*mss), congestion avoidance above.
  virtual void on_ack(const AckSample& ack) noexcept = 0;
  // Loss detected by duplicate ACKs/SACK (entering fast recovery): ssthresh = max(flight*beta, 2*mss),
  // cwnd = ssthresh (RFC 5681 §3.2 steps 2/3 without inflation: NewReno's window inflation during recovery
  // is the Connection's job, adding dupacks*mss on top of cwnd(); RFC 6675 recovery uses pipe instead).
  virtual void on_congestion_event(Instant now, std::uint32_t bytes_in_flight) noexcept = 0;
  // Fast recovery ends (RFC 6582 §3.2 step 3, full ACK). Both controllers take option (1), which avoids a
  // burst: cwnd = min(ssthresh, max(bytes_in_flight, mss) + mss), where bytes_in_flight is the flight
  // after the full ACK. If that leaves cwnd below ssthresh, slow start brings it back.
  virtual void on_recovery_exit(Instant now, std::uint32_t bytes_in_flight) noexcept = 0;
  // Retransmission timeout: ssthresh = max(flight*beta, 2*mss) (beta 1/2 for NewReno, 0.7 for CUBIC),
  // cwnd = 1 mss (the loss window, RFC 5681 §3.1). A further RTO before any new data is acknowledged keeps
  // ssthresh (RFC 5681 §3.1, after equation 4: the segment was already retransmitted by the timer).
  virtual void on_rto(Instant now, std::uint32_t bytes_in_flight) noexcept = 0;
  // The caller saw the connection idle (nothing sent) for longer than `rto` and is about to send:
  // cwnd = min(cwnd, restart window) with RW = min(IW, cwnd) (RFC 5681 §4.1); ssthresh first remembers
  // max(ssthresh, 3/4 cwnd) (RFC 2861 §3, as Linux does) so slow start climbs back quickly.
  virtual void on_idle_restart(Instant now, Duration rto) noexcept = 0;
  // The SYN or SYN-ACK had to be retransmitted: the initial window is one segment (RFC 5681 §3.1, RFC 6928
  // §2). Call once, after init() and before any data is acknowledged; later init() calls keep the 1-MSS IW.
  virtual void on_syn_loss() noexcept = 0;
  virtual std::uint32_t cwnd() const noexcept = 0;
  virtual std::uint32_t ssthresh() const noexcept = 0;
  virtual std::uint32_t mss() const noexcept = 0;

  // cwnd < ssthresh (RFC 5681 §3.1 leaves cwnd == ssthresh to the implementation: it is avoidance here).
  bool in_slow_start() const noexcept { return cwnd() < ssthresh(); }
};

// Setup-time allocation only (one per connection).
std::unique_ptr<CongestionControl> make_congestion_control(CongestionAlgorithm algorithm);

std::string_view to_string(CongestionAlgorithm algorithm) noexcept;

// RFC 6928 §2: IW = min(10*MSS, max(2*MSS, 14600)).
std::uint32_t initial_window(std::uint32_t mss) noexcept;

// mss clamped to [kMinCcMss, kMaxCcMss].
std::uint32_t clamp_cc_mss(std::uint32_t mss) noexcept;

// One slow-start step shared by NewReno and CUBIC: cwnd grows by min(acked, 2*mss) (RFC 3465 §2.2, L = 2)
// but not past ssthresh (nor kMaxCwnd). Returns the acked bytes not used by slow start, which the caller
// feeds to congestion avoidance when cwnd reached ssthresh (0 while still in slow start).
std::uint32_t slow_start(std::uint32_t& cwnd, std::uint32_t ssthresh, std::uint32_t mss, std::uint32_t acked) noexcept;

}  // namespace tapstack::tcp
