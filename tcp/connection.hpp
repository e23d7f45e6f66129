// tcp::Connection: one TCB and the RFC 9293 §3.10 state machine, sans-I/O. The TCP layer (tcp/layer)
// demultiplexes segments to it (on_segment), drains what it has to send (poll_transmit) and asks when to
// come back (poll_at); the socket facade moves the application's bytes through send()/recv().
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <system_error>

#include "ip/address.hpp"
#include "ip/transport.hpp"
#include "stack/bytes.hpp"
#include "stack/checksum.hpp"
#include "stack/function_ref.hpp"
#include "stack/random.hpp"
#include "stack/spsc_byte_ring.hpp"
#include "stack/time.hpp"
#include "tcp/assembler.hpp"
#include "tcp/config.hpp"
#include "tcp/congestion.hpp"
#include "tcp/rtt.hpp"
#include "tcp/sack_scoreboard.hpp"
#include "tcp/seq.hpp"
#include "tcp/state.hpp"
#include "tcp/wire.hpp"

namespace tapstack::tcp {

struct FourTuple {
  ip::Endpoint local, remote;
  friend bool operator==(const FourTuple&, const FourTuple&) = default;
};

// The smallest peer MSS we believe: MSS 0 looped smoltcp (#538) and tiny MSS values make the sender cut
// data into absurdly many segments (CVE-2019-11477). Linux uses 48; 88 leaves room for 40 option bytes.
inline constexpr std::uint16_t kMinPeerMss = 88;

class Connection {
 public:
  // Active open (SYN-SENT). `local_mss` is what the route allows (IpSender::max_payload - 20). The first
  // poll_transmit emits the SYN. Setup code: the buffers are allocated here (std::bad_alloc may escape).
  Connection(Instant now, const FourTuple& t, SeqNum iss, std::uint16_t local_mss, const ConnectionConfig& cfg,
             Rng& rng);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Passive open from a SYN the listener accepted (SYN-RECEIVED; the first poll_transmit emits the SYN-ACK).
  // Data on the SYN is not kept (the peer retransmits it after the handshake).
  static std::unique_ptr<Connection> accept(Instant now, const FourTuple& t, SeqNum iss, const Repr& syn,
                                            std::uint16_t local_mss, const ConnectionConfig& cfg, Rng& rng);
  // SYN-cookie completion (RFC 4987 §3.6): an ESTABLISHED connection with SND.UNA = SND.NXT = iss + 1 and
  // RCV.NXT = irs + 1. Without `ts`, no options but the MSS (no window scaling, SACK or timestamps). With `ts`
  // (the cookie was echoed in the final ACK's timestamps, syn_cookie.hpp), timestamps with the clock offset the
  // cookie used, and the window scaling and SACK it carried, as if the handshake had kept state. The send window
  // is unknown until the layer passes the completing ACK to on_segment(), which it should do next (that ACK may
  // carry data, and its window opens ours).
  struct CookieTimestamps {
    std::uint32_t ts_recent = 0;  // the final ACK's TSval
    std::uint32_t ts_offset = 0;  // the clock offset of the cookie SYN-ACK's TSval
    std::optional<std::uint8_t> peer_wscale;
    bool sack = false;
  };
  static std::unique_ptr<Connection> from_cookie(Instant now, const FourTuple& t, SeqNum iss, SeqNum irs,
                                                 std::uint16_t peer_mss, std::uint16_t local_mss,
                                                 const ConnectionConfig& cfg, Rng& rng,
                                                 const std::optional<CookieTimestamps>& ts = std::nullopt);
  // The window scale a connection with `cfg` announces in its SYN or SYN-ACK (0 without window scaling).
  static std::uint8_t announced_wscale(const ConnectionConfig& cfg) noexcept;

  // A segment for this 4-tuple whose checksum the layer verified. Queues whatever answer is due (ACK,
  // challenge ACK, RST), which the next poll_transmit emits.
  void on_segment(Instant now, const Repr& seg) noexcept;
  // Receive fast path (header prediction, after Van Jacobson): when `seq` is RCV.NXT, no out-of-order data is
  // held and all of `payload` fits the receive buffer, copies it into the buffer's free space WITHOUT
  // publishing it, adding its bytes to `sum` in the same pass, and returns true. The layer then verifies the
  // checksum and either passes the segment to on_segment(), which publishes the staged bytes without a second
  // copy, or calls drop_staged(). Unpublished bytes are invisible to the application, and with no out-of-order
  // data held the free space holds nothing else, so a segment whose checksum fails costs nothing.
  bool stage_payload(SeqNum seq, Bytes payload, Checksum& sum) noexcept;
  void drop_staged() noexcept { staged_src_ = nullptr; }
  // ICMP error about this connection (RFC 9293 §3.9.4, RFC 5927): `quoted_seq` must lie in
  // [SND.UNA, SND.NXT); soft errors are remembered and reported only if the connection then times out;
  // hard errors abort a connection in SYN-SENT / SYN-RECEIVED; frag-needed lowers the MSS (RFC 1191).
  void on_icmp_error(Instant now, const ip::IcmpErrorInfo& info, SeqNum quoted_seq) noexcept;
  // Emits at most one segment by calling emit(repr); the payload borrows the send buffer, so the caller
  // copies it during the call. Returns true when it emitted. The layer calls it until it returns false.
  bool poll_transmit(Instant now, FunctionRef<void(const Repr&)> emit) noexcept;
  // When poll_transmit next has timed work (RTO, delayed ACK, persist, keepalive, TIME-WAIT expiry).
  // Instant{} or earlier means now (something is ready to send); nullopt for nothing.
  std::optional<Instant> poll_at() const noexcept;

  // Application side.
  std::size_t send(Bytes data) noexcept;  // bytes accepted (0 when full or closed for sending)
  std::size_t recv(MutableBytes out) noexcept;
  std::size_t peek(MutableBytes out) const noexcept;  // MSG_PEEK
  void close() noexcept;                              // FIN after the queued data (RFC 9293 §3.10.4)
  // The application let go of the connection (tcp::TcpLayer::close): nobody will read what arrives. RFC 1122
  // §4.2.2.13: new data received after that draws a RST ("data lost"), as Linux does (TCPAbortOnData).
  void orphan() noexcept { orphan_ = true; }
  // True once, after orphan data reset the connection (for the layer's counter).
  bool take_reset_on_data() noexcept { return std::exchange(reset_on_data_, false); }
  void abort() noexcept;                              // RST now, discard queues (RFC 9293 §3.10.5)
  void set_nodelay(bool on) noexcept;
  State state() const noexcept { return state_; }
  std::error_code error() const noexcept { return error_; }
  bool is_established() const noexcept { return state_ == State::kEstablished || state_ == State::kCloseWait; }
  bool can_recv() const noexcept { return recv_ring_.size() != 0; }
  bool recv_finished() const noexcept { return fin_received_ && recv_ring_.size() == 0; }
  std::size_t send_free() const noexcept;
  std::size_t recv_available() const noexcept { return recv_ring_.size(); }
  // CLOSED and nothing left to emit (an abort's RST goes out first): the layer may reap it.
  bool is_closed() const noexcept { return state_ == State::kClosed && !rst_pending_; }
  const FourTuple& tuple() const noexcept { return tuple_; }
  // Additions to the contract: the send MSS in use and whether the peer's FIN arrived (for poll/shutdown).
  std::uint16_t send_mss() const noexcept { return smss_; }
  bool fin_received() const noexcept { return fin_received_; }
  // In-order data segments shorter than the largest this peer sent, counted since the connection began. A
  // sender fills whole segments until the end of a write (Nagle, TSO/GSO), so a short one usually ends a
  // message: socket::Runtime wakes a reader at once for it, and wakes readers of full-sized bulk data in
  // batches. (PSH cannot say this: Linux sets it on the last segment of every 64 KB TSO chunk.)
  std::uint64_t short_segments_received() const noexcept { return short_segments_; }
  // Zero-window probes (and SWS override sends) in a row since the peer last opened its window or acknowledged
  // data: what ConnectionConfig::orphan_zero_window_probes bounds.
  std::uint32_t zero_window_probes() const noexcept { return persist_backoff_; }
  const ConnectionConfig& config() const noexcept { return cfg_; }

  // Copy-once: the send and receive buffers, which the connection allocates and shares. Whoever takes them
  // (the socket facade's application thread) becomes the send buffer's producer and the receive buffer's
  // consumer (SPSC, stack/spsc_byte_ring.hpp) in place of send()/recv()/peek(), which are then no longer
  // called; the connection stays the other end. Shared ownership decouples the lifetimes: a connection that
  // outlives its socket (FIN after queued data, TIME-WAIT) still reads what was queued, and an application
  // still reads what arrived before its connection was reset and reaped.
  const std::shared_ptr<SpscByteRing>& send_buffer() const noexcept { return send_buf_; }
  const std::shared_ptr<SpscByteRing>& recv_buffer() const noexcept { return recv_buf_; }
  // Call before handing the buffers to another thread: they grow to their configured sizes now, because a ring
  // another thread uses can never grow (SpscByteRing::grow), and autotuning stops for this connection.
  void share_buffers() noexcept;
  // The size autotuning gives the send buffer (ConnectionConfig::initial_buffer): twice the congestion window,
  // at least initial_buffer, at most the configured send_buffer; the full size when autotuning is off. A ring
  // grows to it rounded up to a power of two; the socket facade, whose shared ring cannot grow, uses it as the
  // most the application may have written and not yet had acknowledged.
  std::size_t send_buffer_target() const noexcept;
  // How many more bytes the consumer of the receive buffer must take before a window update is due (RFC 9293
  // §3.8.6.2.2 receiver SWS avoidance, as window_update_due() decides it): 0 when one is due now, nullopt when
  // none can become due (the peer's FIN arrived, a state that takes no data, a window that cannot open that
  // far). Valid until the connection next runs; the facade arms its reader's wake-up of the loop with it.
  std::optional<std::size_t> window_update_after() const noexcept;

  // Counters since construction. bytes_out counts payload emitted, retransmissions included; bytes_in counts
  // payload delivered in order to the receive buffer; cwnd/ssthresh/mss/srtt are current values.
  struct Stats {
    std::uint64_t segs_out = 0, segs_in = 0, bytes_out = 0, bytes_in = 0, retransmits = 0, fast_retransmits = 0,
                  rto_expirations = 0, challenge_acks = 0, dup_acks = 0;
    std::uint32_t cwnd = 0, ssthresh = 0, mss = 0;
    std::size_t send_buffer = 0, recv_buffer = 0;  // current sizes (ConnectionConfig::initial_buffer autotuning)
    std::optional<Duration> srtt;
  };
  Stats stats() const noexcept;

 private:
  struct PassiveTag {};
  Connection(Instant now, const FourTuple& t, SeqNum iss, std::uint16_t local_mss, const ConnectionConfig& cfg,
             Rng& rng, PassiveTag);

  // What to send next: [seq, seq + len) of the send buffer plus control bits.
  struct TxPlan {
    SeqNum seq;
    std::uint32_t len = 0;
    Control ctl = Control::kNone;
    bool retransmission = false;
  };

  // Setup.
  void negotiate(const Repr& syn) noexcept;  // the options of the peer's SYN / SYN-ACK
  void set_peer_mss(std::uint16_t mss) noexcept;
  void become_established(Instant now) noexcept;

  // SEGMENT ARRIVES (RFC 9293 §3.10.7).
  void on_segment_syn_sent(Instant now, const Repr& seg) noexcept;
  void on_segment_synchronized(Instant now, const Repr& seg) noexcept;
  std::uint32_t rcv_wnd() const noexcept;
  bool seq_acceptable(SeqNum seq, std::uint32_t len) const noexcept;
  Bytes trim_to_window(SeqNum seq, Bytes payload) const noexcept;
  bool process_ack(Instant now, const Repr& seg) noexcept;  // false: drop the rest of the segment
  std::optional<Duration> rtt_sample(Instant now, const Repr& seg, SeqNum ack) noexcept;
  void on_new_ack(Instant now, const Repr& seg, SeqNum ack) noexcept;
  void on_dup_ack(Instant now) noexcept;
  void enter_recovery(Instant now) noexcept;
  void on_fin_acked(Instant now) noexcept;
  void enter_time_wait(Instant now) noexcept;
  void accept_fin(Instant now) noexcept;
  void process_data(Instant now, SeqNum seq, Bytes data, bool fin) noexcept;
  void challenge_ack(Instant now) noexcept;
  void queue_rst(SeqNum seq, std::optional<SeqNum> ack) noexcept;

  // State changes.
  bool sending_allowed() const noexcept;
  bool data_state() const noexcept;  // states in which data and FIN go out
  void clear_timers() noexcept;
  void reset_connection(std::optional<std::errc> e) noexcept;  // -> CLOSED (with an error if given)
  void time_out() noexcept;                                    // ETIMEDOUT, or the soft error behind it

  // Output.
  std::uint32_t tsval(Instant now) const noexcept;
  SeqNum data_end() const noexcept;  // the sequence number after the last buffered byte
  std::uint32_t flight() const noexcept;
  std::uint32_t cwnd_room() const noexcept;
  std::uint32_t peer_room() const noexcept;
  bool can_send_fin() const noexcept;
  Repr ack_template() const noexcept;       // ports, ACK, TS echo, SACK blocks
  std::uint32_t data_mss() const noexcept;  // max_payload of a data segment now (fast when no SACK blocks)
  std::uint32_t max_payload(const Repr& header) const noexcept;
  SeqNum candidate_edge() const noexcept;
  std::uint16_t window_field() noexcept;
  bool window_update_due() const noexcept;
  void fill_ack(Instant now, Repr& r) noexcept;
  void arm_rto(Instant now, bool restart) noexcept;
  void restart_keepalive(Instant now) noexcept;
  void update_persist(Instant now) noexcept;
  Duration persist_interval() const noexcept;
  std::optional<TxPlan> plan_data(Instant now) const noexcept;
  std::optional<TxPlan> plan_recovery() const noexcept;
  std::optional<TxPlan> plan_rule3() const noexcept;
  void emit_plan(Instant now, const TxPlan& p, FunctionRef<void(const Repr&)> emit) noexcept;
  void emit_bare(Instant now, SeqNum seq, FunctionRef<void(const Repr&)> emit) noexcept;
  void emit_syn(Instant now, FunctionRef<void(const Repr&)> emit) noexcept;
  void on_rto(Instant now) noexcept;
  void skip_sacked() noexcept;
  bool on_timers(Instant now) noexcept;  // true: the connection closed

  // Identity and configuration.
  FourTuple tuple_;
  ConnectionConfig cfg_;
  Rng& rng_;
  State state_ = State::kClosed;
  std::error_code error_;
  std::error_code soft_error_;  // RFC 1122 §4.2.3.9: reported only on timeout
  bool passive_ = false;        // came from LISTEN (accept / from_cookie)
  bool nodelay_ = false;
  bool close_on_establish_ = false;  // close() in SYN-RECEIVED

  // Send sequence space (RFC 9293 §3.3.1). snd_max_ is the highest SND.NXT ever (after an RTO SND.NXT goes
  // back to SND.UNA, go-back-N); acceptability uses snd_max_.
  SeqNum iss_{}, snd_una_{}, snd_nxt_{}, snd_max_{}, snd_wl1_{}, snd_wl2_{};
  std::uint32_t snd_wnd_ = 0, max_snd_wnd_ = 0;
  std::uint8_t snd_wscale_ = 0;  // applied to the peer's window fields
  SeqNum buf_seq_{};             // sequence number of send_ring_'s first byte
  bool fin_queued_ = false;      // close() called: FIN at fin_seq_
  SeqNum fin_seq_{};
  bool syn_acked_ = false;
  std::uint16_t local_mss_ = 536;  // what the route allows, advertised in our SYN
  std::uint16_t peer_mss_ = 536;   // clamped to [kMinPeerMss, ...]
  std::uint16_t smss_ = 536;       // Eff.snd.MSS: data per full segment (options excluded)

  // Receive sequence space.
  SeqNum irs_{}, rcv_nxt_{}, rcv_adv_{};  // rcv_adv_: right edge of the window we advertised
  std::uint8_t rcv_wscale_ = 0;           // applied to our window fields
  bool fin_received_ = false;
  std::uint64_t short_segments_ = 0;  // short_segments_received()
  std::optional<SeqNum> ooo_fin_;        // a FIN that arrived ahead of a hole
  std::uint32_t rcv_mss_ = 536;          // the peer's segment size, estimated
  std::uint32_t dup_acks_owed_ = 0;      // out-of-order segments not yet answered one by one
  std::uint32_t unacked_rcv_bytes_ = 0;  // received since our last ACK (every-second-segment rule)

  // Negotiated options.
  bool ws_ok_ = false, sack_ok_ = false, ts_ok_ = false;
  std::uint32_t ts_offset_ = 0;  // RFC 7323 §5.4: randomized per connection
  std::uint32_t ts_recent_ = 0;
  Instant ts_recent_age_{};
  SeqNum last_ack_sent_{};

  // Buffers (payload is copied once, into these). Owned jointly with whoever took send_buffer() /
  // recv_buffer(); the references name the same rings for the code below.
  std::shared_ptr<SpscByteRing> send_buf_, recv_buf_;
  SpscByteRing& send_ring_;
  SpscByteRing& recv_ring_;
  // Buffer autotuning (ConnectionConfig::initial_buffer).
  void autotune_recv(Instant now) noexcept;
  void autotune_send() noexcept;
  bool orphan_ = false;                // orphan()
  bool reset_on_data_ = false;         // take_reset_on_data()
  bool buffers_shared_ = false;        // share_buffers() was called: the rings never grow again
  std::optional<SeqNum> rcv_rtt_seq_;  // the receiver's round-trip measurement ends when RCV.NXT passes this
  Instant rcv_rtt_start_{};
  std::optional<Duration> rcv_rtt_;
  bool rcvq_started_ = false;
  Instant rcvq_start_{};
  std::uint64_t rcvq_taken_ = 0;           // bytes the application had taken at rcvq_start_
  std::uint64_t rcvq_space_ = 0;           // the most the application took in one round trip so far
  const std::byte* staged_src_ = nullptr;  // the payload stage_payload() copied to the free space at RCV.NXT
  std::size_t staged_len_ = 0;
  Assembler assembler_;
  std::unique_ptr<std::byte[]> tx_scratch_;  // one segment, for payload that wraps in the send ring
  std::uint16_t syn_window_ = 0;             // the (unscaled) window our SYN / SYN-ACK carried

  // Loss recovery and congestion control.
  RttEstimator rtt_;
  std::unique_ptr<CongestionControl> cc_;
  SackScoreboard scoreboard_;
  std::uint32_t dupacks_ = 0;
  bool in_recovery_ = false;
  SeqNum recover_{};               // RFC 6582 "recover" / RFC 6675 RecoveryPoint
  SeqNum high_rxt_{};              // RFC 6675 HighRxt (one past)
  bool fast_rxt_pending_ = false;  // NewReno: retransmit SND.UNA's segment next
  std::uint32_t inflation_ = 0;    // NewReno window inflation (RFC 6582 §3.2 steps 3-4)
  std::optional<SeqNum> rtt_seq_;  // Karn: the segment being timed (end seq) ...
  Instant rtt_start_{};            // ... and when it left
  std::uint32_t retries_ = 0;      // consecutive RTO expirations
  Instant last_send_{};            // for idle restart (RFC 5681 §4.1)

  // Timers (plain data, compared with now).
  std::optional<Instant> rto_at_, delack_at_, persist_at_, keepalive_at_, time_wait_at_;
  std::uint32_t persist_backoff_ = 0;
  std::uint32_t keepalive_probes_ = 0;

  // Pending output.
  bool ack_now_ = false;
  bool rst_pending_ = false;
  bool syn_pending_ = false;    // (re)send SYN or SYN-ACK
  bool probe_pending_ = false;  // zero-window or keepalive probe <SEQ=SND.UNA-1>
  SeqNum rst_seq_{};
  std::optional<SeqNum> rst_ack_;
  bool sws_override_ = false;  // the persist timer fired with a small usable window

  // RFC 5961 §7 challenge ACK budget for the current one-second window.
  Instant challenge_window_start_{};
  std::uint32_t challenge_budget_ = 0;
  bool challenge_window_started_ = false;

  Stats stats_{};
};

}  // namespace tapstack::tcp

template <>
struct std::hash<tapstack::tcp::FourTuple> {
  std::size_t operator()(const tapstack::tcp::FourTuple& t) const noexcept {
    const std::size_t a = std::hash<tapstack::ip::Endpoint>{}(t.local);
    const std::size_t b = std::hash<tapstack::ip::Endpoint>{}(t.remote);
    return a ^ (b + 0x9e3779b97f4a7c15ull + (a << 6) + (a >> 2));
  }
};
