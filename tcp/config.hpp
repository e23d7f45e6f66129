// Per-connection tunables (buffer sizes, Nagle, negotiated options, timers, limits). The TCP layer holds
// one as its default and passes it to each Connection it creates (tcp/connection).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>

#include "stack/time.hpp"
#include "tcp/congestion.hpp"
#include "tcp/rtt.hpp"

namespace tapstack::tcp {

struct ConnectionConfig {
  // Bytes. Large enough for full speed over a TAP with window scaling (RFC 7323): the receive buffer bounds
  // the window we advertise, the send buffer the data in flight.
  std::size_t send_buffer = 4 << 20;
  std::size_t recv_buffer = 4 << 20;
  // Autotuning, as Linux does it (tcp_wmem/tcp_rmem start small; receive-side dynamic right-sizing): both
  // buffers start at `initial_buffer` (when smaller than the sizes above) and grow up to send_buffer /
  // recv_buffer as the connection needs: the receive buffer to twice what the application took in the last
  // round trip, the send buffer to twice the congestion window. A connection that moves little keeps a small,
  // cache-resident working set; a long fat path still gets the whole buffer. 0: both at full size from the
  // start. A buffer handed to another thread (the socket facade's copy-once rings) is sized in full first and
  // never grows afterwards.
  std::size_t initial_buffer = 128 << 10;
  bool nagle = true;  // RFC 1122 §4.2.3.4; TCP_NODELAY turns it off
  // Offered in our SYN / SYN-ACK; used only when the peer's SYN carries them too (RFC 7323, RFC 2018).
  bool sack = true;
  bool timestamps = true;
  bool window_scaling = true;
  CongestionAlgorithm congestion = CongestionAlgorithm::kCubic;  // RFC 9438 by default
  // RFC 9293 §3.8.6.3 / RFC 1122 §4.2.3.2: at most 500 ms; an ACK for every second full-sized segment anyway.
  Duration delayed_ack = milliseconds{40};
  Duration msl = seconds{30};          // TIME-WAIT lasts 2*MSL (RFC 9293 §3.4.2)
  // How long a connection the application closed (an orphan: tcp::TcpLayer::close) waits in FIN-WAIT-2 for the
  // peer's FIN before it is dropped without a segment. RFC 9293 §3.6 sets no bound; this is Linux's
  // tcp_fin_timeout (TCP_LINGER2), 60 s, whose FIN_WAIT2 timewait socket also expires silently. A connection the
  // application still holds (a half-close) never times out. nullopt: wait forever.
  std::optional<Duration> fin_wait2_timeout = seconds{60};
  // An orphan (closed by the application) that cannot drain because the peer holds its window at zero is
  // aborted (RST from FIN-WAIT-1) after this many zero-window probes in a row: with the probes backing off
  // from the RTO by doubling (capped at max_rto), 51 s at the 200 ms minimum RTO, about 3 minutes at 1 s.
  // RFC 9293 §3.8.6.1 lets a connection probe a zero window for as long as the peer answers, and a peer could
  // hold every orphan that way. Linux's tcp_orphan_retries (0 there means 8). nullopt: forever.
  std::optional<std::uint32_t> orphan_zero_window_probes = 8;
  std::uint32_t max_retransmits = 15;  // data RTO retries before ETIMEDOUT (RFC 1122 §4.2.3.5 R2)
  std::uint32_t syn_retransmits = 6;   // SYN / SYN-ACK retries before ETIMEDOUT
  // RFC 1122 §4.2.3.6: off by default; when on, probes after `idle` without traffic, every `interval`,
  // and gives up (ETIMEDOUT) after `probes` unanswered probes.
  struct Keepalive {
    Duration idle = seconds{7200};
    Duration interval = seconds{75};
    std::uint32_t probes = 9;
  };
  std::optional<Keepalive> keepalive;
  RttEstimator::Config rtt{};
  std::size_t max_ooo_ranges = 32;         // out-of-order ranges kept; segments needing more are dropped
  std::uint32_t challenge_ack_limit = 10;  // per second per connection, RFC 5961 §7, randomized
};

}  // namespace tapstack::tcp
