// tcp::Connection: the RFC 9293 §3.10 event processing for one TCB (OPEN/SEND/RECEIVE/CLOSE/ABORT calls,
// SEGMENT ARRIVES, timeouts), with RFC 5961, RFC 7323, RFC 6298, RFC 5681/6582/6675 and RFC 2018 on top.
#include "tcp/connection.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace tapstack::tcp {
namespace {

constexpr std::uint32_t kTsOptionLen = 12;                    // NOP NOP TS (RFC 7323 Appendix A layout)
constexpr Duration kTsRecentValid = seconds{24 * 24 * 3600};  // RFC 7323 §5.5: 24 days
constexpr std::uint32_t kMaxWindow = std::uint32_t{1} << 30;  // RFC 7323 §2.3
constexpr std::uint32_t kMaxDupAcksOwed = 16;                 // duplicate ACKs owed for one burst of segments

std::uint8_t wscale_for(std::size_t buffer) noexcept {
  std::uint8_t s = 0;
  while (s < kMaxWindowScale && (buffer >> s) > 0xffff) ++s;
  return s;
}

std::error_code make_error(std::errc e) noexcept { return std::make_error_code(e); }

// The ring size a buffer starts at (ConnectionConfig::initial_buffer) and the largest it may grow to.
std::size_t initial_size(std::size_t full, std::size_t initial) noexcept {
  return initial == 0 || initial >= full ? full : initial;
}
std::size_t full_size(std::size_t configured) noexcept { return std::bit_ceil(std::max<std::size_t>(configured, 1)); }

std::errc errc_for(ip::IcmpErrorInfo::Kind k) noexcept {
  using K = ip::IcmpErrorInfo::Kind;
  switch (k) {
    case K::kPortUnreachable:
    case K::kProtocolUnreachable:
      return std::errc::connection_refused;
    case K::kNetUnreachable:
      return std::errc::network_unreachable;
    case K::kParameterProblem:
      return std::errc::protocol_error;
    default:
      return std::errc::host_unreachable;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Construction (OPEN call, RFC 9293 §3.10.1)

Connection::Connection(Instant now, const FourTuple& t, SeqNum iss, std::uint16_t local_mss,
                       const ConnectionConfig& cfg, Rng& rng, PassiveTag)
    : tuple_{t},
      cfg_{cfg},
      rng_{rng},
      iss_{iss},
      snd_una_{iss},
      snd_nxt_{iss},
      snd_max_{iss},
      buf_seq_{iss + 1},
      send_buf_{std::make_shared<SpscByteRing>(initial_size(cfg.send_buffer, cfg.initial_buffer))},
      recv_buf_{std::make_shared<SpscByteRing>(initial_size(cfg.recv_buffer, cfg.initial_buffer))},
      send_ring_{*send_buf_},
      recv_ring_{*recv_buf_},
      assembler_{cfg.max_ooo_ranges},
      rtt_{cfg.rtt},
      cc_{make_congestion_control(cfg.congestion)} {
  local_mss_ = std::max(local_mss, kMinPeerMss);
  peer_mss_ = tuple_.remote.addr.is_v6() ? kDefaultMssV6 : kDefaultMssV4;
  smss_ = std::min(peer_mss_, local_mss_);
  rcv_mss_ = std::min<std::uint32_t>(local_mss_, kDefaultMssV4);
  rcv_wscale_ = announced_wscale(cfg_);  // for the size the buffer may grow to
  ts_offset_ = rng_.next_u32();
  tx_scratch_.reset(new std::byte[local_mss_]);
  syn_window_ = std::uint16_t(std::min<std::size_t>(recv_ring_.capacity(), 0xffff));
  recover_ = iss;
  high_rxt_ = iss;
  last_send_ = now;
  cc_->init(smss_, now);
}

Connection::Connection(Instant now, const FourTuple& t, SeqNum iss, std::uint16_t local_mss,
                       const ConnectionConfig& cfg, Rng& rng)
    : Connection(now, t, iss, local_mss, cfg, rng, PassiveTag{}) {
  state_ = State::kSynSent;
  syn_pending_ = true;
}

Connection::~Connection() = default;

std::unique_ptr<Connection> Connection::accept(Instant now, const FourTuple& t, SeqNum iss, const Repr& syn,
                                               std::uint16_t local_mss, const ConnectionConfig& cfg, Rng& rng) {
  std::unique_ptr<Connection> c{new Connection(now, t, iss, local_mss, cfg, rng, PassiveTag{})};
  c->passive_ = true;
  c->state_ = State::kSynReceived;
  c->irs_ = syn.seq;
  c->rcv_nxt_ = syn.seq + 1;
  c->negotiate(syn);
  if (c->ts_ok_) c->ts_recent_age_ = now;
  // RFC 7323 §2.2: the window of a SYN is never scaled.
  c->snd_wnd_ = c->max_snd_wnd_ = syn.window;
  c->snd_wl1_ = syn.seq;
  c->snd_wl2_ = iss;
  c->rcv_adv_ = c->rcv_nxt_ + c->syn_window_;
  c->syn_pending_ = true;
  return c;
}

std::unique_ptr<Connection> Connection::from_cookie(Instant now, const FourTuple& t, SeqNum iss, SeqNum irs,
                                                    std::uint16_t peer_mss, std::uint16_t local_mss,
                                                    const ConnectionConfig& cfg, Rng& rng,
                                                    const std::optional<CookieTimestamps>& ts) {
  std::unique_ptr<Connection> c{new Connection(now, t, iss, local_mss, cfg, rng, PassiveTag{})};
  c->passive_ = true;
  c->irs_ = irs;
  c->rcv_nxt_ = irs + 1;
  if (ts && cfg.timestamps) {
    c->ts_ok_ = true;
    c->ts_recent_ = ts->ts_recent;
    c->ts_recent_age_ = now;
    c->ts_offset_ = ts->ts_offset;
    c->ws_ok_ = cfg.window_scaling && ts->peer_wscale.has_value();
    c->snd_wscale_ = c->ws_ok_ ? std::min(*ts->peer_wscale, kMaxWindowScale) : 0;
    if (!c->ws_ok_) c->rcv_wscale_ = 0;  // else the shift the SYN-ACK announced (announced_wscale)
    c->sack_ok_ = cfg.sack && ts->sack;
  } else {
    c->rcv_wscale_ = 0;  // RFC 4987 §3.6: the cookie carried no window scale, SACK or timestamps
  }
  c->set_peer_mss(peer_mss);
  c->snd_una_ = c->snd_nxt_ = c->snd_max_ = iss + 1;
  c->high_rxt_ = c->recover_ = iss + 1;
  c->syn_acked_ = true;
  c->snd_wl1_ = irs;  // the completing ACK (SEG.SEQ = irs + 1) will set the window
  c->snd_wl2_ = iss;
  c->rcv_adv_ = c->rcv_nxt_ + c->syn_window_;
  c->become_established(now);
  return c;
}

std::uint8_t Connection::announced_wscale(const ConnectionConfig& cfg) noexcept {
  return cfg.window_scaling ? wscale_for(full_size(cfg.recv_buffer)) : 0;
}

void Connection::set_peer_mss(std::uint16_t mss) noexcept {
  peer_mss_ = std::max(mss, kMinPeerMss);  // smoltcp #538, CVE-2019-11477
  const std::uint32_t m = std::min(peer_mss_, local_mss_);
  smss_ = std::uint16_t(m - (ts_ok_ ? kTsOptionLen : 0));
}

// The options of the peer's SYN (RFC 9293 §3.7.1, RFC 7323 §1.3, RFC 2018 §2): each is used only when both
// SYNs carried it, which our own SYN did when the configuration offers it.
void Connection::negotiate(const Repr& syn) noexcept {
  ws_ok_ = cfg_.window_scaling && syn.window_scale.has_value();
  if (ws_ok_) {
    snd_wscale_ = std::min(*syn.window_scale, kMaxWindowScale);  // RFC 7323 §2.3: above 14 means 14
  } else {
    snd_wscale_ = 0;
    rcv_wscale_ = 0;
  }
  sack_ok_ = cfg_.sack && syn.sack_permitted;
  ts_ok_ = cfg_.timestamps && syn.timestamps.has_value();
  if (ts_ok_) ts_recent_ = syn.timestamps->tsval;
  // RFC 9293 §3.7.1 / RFC 8200 §8.3: no MSS option means the family default.
  set_peer_mss(syn.mss.value_or(tuple_.remote.addr.is_v6() ? kDefaultMssV6 : kDefaultMssV4));
}

void Connection::become_established(Instant now) noexcept {
  state_ = State::kEstablished;
  syn_acked_ = true;
  if (retries_ > 0) rtt_.on_syn_timeout_fallback();  // RFC 6298 §5.7
  retries_ = 0;
  high_rxt_ = recover_ = snd_una_;
  cc_->init(smss_, now);
  restart_keepalive(now);
  if (close_on_establish_) {
    close_on_establish_ = false;
    close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Application calls (RFC 9293 §3.10.2 - §3.10.5)

bool Connection::sending_allowed() const noexcept {
  switch (state_) {
    case State::kSynSent:
    case State::kSynReceived:
    case State::kEstablished:
    case State::kCloseWait:
      return !fin_queued_ && !close_on_establish_;
    default:
      return false;
  }
}

std::size_t Connection::send(Bytes data) noexcept {
  if (!sending_allowed()) return 0;
  return send_ring_.write(data);
}

std::size_t Connection::send_free() const noexcept { return sending_allowed() ? send_ring_.free_space() : 0; }

std::size_t Connection::recv(MutableBytes out) noexcept { return recv_ring_.read(out); }

std::size_t Connection::peek(MutableBytes out) const noexcept { return recv_ring_.peek(0, out); }

void Connection::set_nodelay(bool on) noexcept { nodelay_ = on; }

void Connection::close() noexcept {
  switch (state_) {
    case State::kSynSent:  // RFC 9293 §3.10.4: delete the TCB
      state_ = State::kClosed;
      clear_timers();
      break;
    case State::kSynReceived:  // the FIN waits until the handshake completed and the queued data went out
      close_on_establish_ = true;
      break;
    case State::kEstablished:
    case State::kCloseWait:
      fin_seq_ = data_end();  // before fin_queued_, which freezes data_end() at fin_seq_
      fin_queued_ = true;
      state_ = state_ == State::kEstablished ? State::kFinWait1 : State::kLastAck;
      persist_at_.reset();
      break;
    default:
      break;  // already closing
  }
}

void Connection::abort() noexcept {
  switch (state_) {
    case State::kSynReceived:
    case State::kEstablished:
    case State::kFinWait1:
    case State::kFinWait2:
    case State::kCloseWait:  // RFC 9293 §3.10.5: <SEQ=SND.NXT><CTL=RST>
      rst_pending_ = true;
      rst_seq_ = snd_nxt_;
      rst_ack_.reset();
      break;
    default:
      break;
  }
  state_ = State::kClosed;
  clear_timers();
  ack_now_ = syn_pending_ = probe_pending_ = fast_rxt_pending_ = false;
  dup_acks_owed_ = 0;
}

void Connection::clear_timers() noexcept {
  rto_at_.reset();
  delack_at_.reset();
  persist_at_.reset();
  keepalive_at_.reset();
  time_wait_at_.reset();
}

void Connection::reset_connection(std::optional<std::errc> e) noexcept {
  if (e) error_ = make_error(*e);
  state_ = State::kClosed;
  clear_timers();
  ack_now_ = syn_pending_ = probe_pending_ = fast_rxt_pending_ = false;
  dup_acks_owed_ = 0;
}

void Connection::time_out() noexcept {
  reset_connection(std::errc::timed_out);
  if (soft_error_) error_ = soft_error_;  // RFC 1122 §4.2.3.9: report the soft error that explains it
}

Connection::Stats Connection::stats() const noexcept {
  Stats s = stats_;
  s.cwnd = cc_->cwnd();
  s.ssthresh = cc_->ssthresh();
  s.mss = smss_;
  s.srtt = rtt_.srtt();
  s.send_buffer = send_ring_.capacity();
  s.recv_buffer = recv_ring_.capacity();
  return s;
}

// ---------------------------------------------------------------------------------------------------------
// SEGMENT ARRIVES (RFC 9293 §3.10.7)

void Connection::on_segment(Instant now, const Repr& seg) noexcept {
  ++stats_.segs_in;
  struct Unstage {  // whatever path the segment takes, staged bytes are used by process_data() or forgotten
    const std::byte*& src;
    ~Unstage() { src = nullptr; }
  } unstage{staged_src_};
  switch (state_) {
    case State::kClosed:
    case State::kListen:
      return;  // the layer answers for CLOSED and LISTEN
    case State::kSynSent:
      on_segment_syn_sent(now, seg);
      break;
    default:
      on_segment_synchronized(now, seg);
      break;
  }
  skip_sacked();
  update_persist(now);
}

// RFC 9293 §3.10.7.3.
void Connection::on_segment_syn_sent(Instant now, const Repr& seg) noexcept {
  const bool rst = has(seg.control, Control::kRst);
  bool ack_ok = false;
  if (seg.ack) {
    // First: SEG.ACK =< ISS or SEG.ACK > SND.NXT is unacceptable; answer <SEQ=SEG.ACK><CTL=RST> unless RST.
    if (*seg.ack <= iss_ || *seg.ack > snd_max_) {
      if (!rst) queue_rst(*seg.ack, std::nullopt);
      return;
    }
    ack_ok = true;
  }
  if (rst) {
    // RFC 5961 §3.2 / RFC 9293: a RST in SYN-SENT is acceptable only if it acknowledges our SYN.
    if (ack_ok) reset_connection(std::errc::connection_refused);
    return;
  }
  if (!has(seg.control, Control::kSyn)) return;

  irs_ = seg.seq;
  rcv_nxt_ = seg.seq + 1;
  negotiate(seg);
  if (ts_ok_) ts_recent_age_ = now;
  rcv_adv_ = rcv_nxt_ + syn_window_;
  snd_wnd_ = max_snd_wnd_ = seg.window;  // RFC 7323 §2.2: a SYN's window is not scaled
  snd_wl1_ = seg.seq;
  if (ack_ok) {
    snd_wl2_ = *seg.ack;
    const std::optional<Duration> sample = rtt_sample(now, seg, *seg.ack);
    if (sample) rtt_.on_sample(*sample);
    snd_una_ = *seg.ack;
    rto_at_.reset();
    become_established(now);
    ack_now_ = true;
    // Data or FIN on the SYN-ACK: RFC 9293 "continue processing at the sixth step".
    if (!seg.payload.empty() || has(seg.control, Control::kFin)) {
      process_data(now, seg.seq + 1, trim_to_window(seg.seq + 1, seg.payload), has(seg.control, Control::kFin));
    }
  } else {
    // Simultaneous open (RFC 9293 §3.5 figure 7): <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, SYN-RECEIVED.
    snd_wl2_ = iss_;
    state_ = State::kSynReceived;
    syn_pending_ = true;
    snd_nxt_ = iss_;
    rto_at_.reset();
  }
}

std::uint32_t Connection::rcv_wnd() const noexcept {
  return rcv_adv_ > rcv_nxt_ ? forward_distance(rcv_nxt_, rcv_adv_) : 0;
}

// RFC 9293 §3.10.7.4 first check, the four cases of the acceptability table.
bool Connection::seq_acceptable(SeqNum seq, std::uint32_t len) const noexcept {
  const std::uint32_t wnd = rcv_wnd();
  if (len == 0) return wnd == 0 ? seq == rcv_nxt_ : in_window(seq, rcv_nxt_, wnd);
  if (wnd == 0) return false;
  return in_window(seq, rcv_nxt_, wnd) || in_window(seq + (len - 1), rcv_nxt_, wnd);
}

// The part of the payload that starting at `seq` falls within [RCV.NXT, RCV.NXT + RCV.WND) (RFC 9293
// §3.10.7.4: "segments with higher beginning sequence numbers SHOULD be held", trimmed to the window).
Bytes Connection::trim_to_window(SeqNum seq, Bytes payload) const noexcept {
  if (payload.empty()) return payload;
  if (seq < rcv_nxt_) {
    const std::uint32_t skip = forward_distance(seq, rcv_nxt_);
    if (skip >= payload.size()) return {};
    payload = payload.subspan(skip);
    seq = rcv_nxt_;
  }
  const std::uint32_t wnd = rcv_wnd();
  const std::uint32_t off = forward_distance(rcv_nxt_, seq);
  if (off >= wnd) return {};
  if (payload.size() > wnd - off) payload = payload.first(wnd - off);
  return payload;
}

void Connection::on_segment_synchronized(Instant now, const Repr& seg) noexcept {
  const bool rst = has(seg.control, Control::kRst);
  const bool syn = has(seg.control, Control::kSyn);
  bool fin = has(seg.control, Control::kFin);

  if (state_ == State::kSynReceived && syn && !rst && seg.seq == irs_) {
    if (!seg.ack) {  // the peer's SYN again: our SYN-ACK was lost; send it again
      syn_pending_ = true;
      snd_nxt_ = iss_;
      return;
    }
    // Simultaneous open: the peer's SYN-ACK acknowledges our SYN (Linux tcp_validate_incoming does the same).
    if (snd_una_ < *seg.ack && *seg.ack <= snd_max_) {
      snd_una_ = *seg.ack;
      snd_wnd_ = max_snd_wnd_ = seg.window;  // a SYN's window: not scaled
      snd_wl1_ = seg.seq;
      snd_wl2_ = *seg.ack;
      rto_at_.reset();
      become_established(now);
      return;
    }
    queue_rst(*seg.ack, std::nullopt);
    return;
  }

  // RFC 5961 §3.2: a RST is acted on only at exactly RCV.NXT; elsewhere in the window it earns a challenge
  // ACK; outside it is dropped. RFC 1337: TIME-WAIT ignores RSTs altogether.
  if (rst) {
    if (state_ == State::kTimeWait) return;
    if (seg.seq == rcv_nxt_) {
      switch (state_) {
        case State::kSynReceived:  // passive: the layer returns to LISTEN; active: refused (RFC 9293)
          reset_connection(passive_ ? std::errc::connection_reset : std::errc::connection_refused);
          break;
        case State::kClosing:
        case State::kLastAck:
          reset_connection(std::nullopt);
          break;
        default:
          reset_connection(std::errc::connection_reset);
          break;
      }
    } else if (in_window(seg.seq, rcv_nxt_, std::max<std::uint32_t>(rcv_wnd(), 1))) {
      challenge_ack(now);
    }
    return;
  }

  // RFC 5961 §4.2 / RFC 9293 §3.10.7.4 fourth: a SYN in a synchronized state, whatever its sequence number,
  // earns a challenge ACK. SYN-RECEIVED from a passive OPEN returns to LISTEN instead.
  if (syn) {
    if (state_ == State::kSynReceived && passive_) {
      reset_connection(std::errc::connection_reset);
      return;
    }
    challenge_ack(now);
    return;
  }

  // RFC 7323 §5.3 R1 (PAWS): an older TSval than TS.Recent (still valid, §5.5) is a duplicate: ACK, drop.
  if (ts_ok_ && seg.timestamps && SeqNum{seg.timestamps->tsval} < SeqNum{ts_recent_} &&
      now - ts_recent_age_ < kTsRecentValid) {
    ack_now_ = true;
    return;
  }

  // First: the sequence number (RFC 9293 §3.10.7.4).
  const std::uint32_t seg_len = seg.segment_len();
  bool drop_text = false;
  if (!seq_acceptable(seg.seq, seg_len)) {
    ack_now_ = true;                                                            // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
    if (state_ == State::kTimeWait && fin) time_wait_at_ = now + 2 * cfg_.msl;  // re-ACK a retransmitted FIN
    // RCV.WND = 0 "special allowance" for valid ACKs: a zero-window probe at RCV.NXT still updates SND.*.
    if (!(rcv_wnd() == 0 && seg.seq == rcv_nxt_)) return;
    drop_text = true;
  }
  // RFC 7323 §4.3 (2): TS.Recent follows the segment that covers Last.ACK.sent.
  if (ts_ok_ && seg.timestamps && seg.seq <= last_ack_sent_ && SeqNum{seg.timestamps->tsval} >= SeqNum{ts_recent_}) {
    ts_recent_ = seg.timestamps->tsval;
    ts_recent_age_ = now;
  }
  restart_keepalive(now);

  // Fifth: the ACK field.
  if (!seg.ack) return;
  if (!process_ack(now, seg)) return;
  if (state_ == State::kClosed) return;

  // Sixth (URG): urgent data is delivered inline; the urgent pointer is never used (RFC 6093).
  // Seventh and eighth: text and FIN.
  if (drop_text) return;
  switch (state_) {
    case State::kEstablished:
    case State::kFinWait1:
    case State::kFinWait2: {
      const Bytes data = trim_to_window(seg.seq, seg.payload);
      if (orphan_ && !data.empty()) {  // new data nobody will read (RFC 1122 §4.2.2.13): RST, data lost
        reset_on_data_ = true;
        abort();
        return;
      }
      SeqNum data_seq = seq_max(seg.seq, rcv_nxt_);
      if (data.empty()) data_seq = seg.seq + std::uint32_t(seg.payload.size());  // where a FIN would be
      // A FIN beyond the window (trimmed tail) is not accepted.
      if (fin && data.size() != seg.payload.size() && seg.seq + std::uint32_t(seg.payload.size()) >= rcv_nxt_) {
        const SeqNum fin_at = seg.seq + std::uint32_t(seg.payload.size());
        if (!in_window(fin_at, rcv_nxt_, rcv_wnd() + 1)) fin = false;
      }
      process_data(now, data_seq, data, fin);
      break;
    }
    default:
      // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer's FIN came already; a retransmitted FIN is ACKed.
      if (fin) {
        ack_now_ = true;
        if (state_ == State::kTimeWait) time_wait_at_ = now + 2 * cfg_.msl;
      }
      break;
  }
}

// RFC 9293 §3.10.7.4 fifth step. Returns false when the segment is to be dropped.
bool Connection::process_ack(Instant now, const Repr& seg) noexcept {
  const SeqNum ack = *seg.ack;
  if (state_ == State::kSynReceived) {
    if (!(snd_una_ < ack && ack <= snd_max_)) {
      queue_rst(ack, std::nullopt);  // <SEQ=SEG.ACK><CTL=RST>
      return false;
    }
    const std::optional<Duration> sample = rtt_sample(now, seg, ack);
    if (sample) rtt_.on_sample(*sample);
    snd_una_ = ack;
    if (snd_nxt_ < snd_una_) snd_nxt_ = snd_una_;
    rto_at_.reset();
    snd_wnd_ = std::min<std::uint32_t>(std::uint32_t(seg.window) << snd_wscale_, kMaxWindow);
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    snd_wl1_ = seg.seq;
    snd_wl2_ = ack;
    become_established(now);  // (FIN-WAIT-1 instead if close() was called in SYN-RECEIVED)
    return true;
  }

  // RFC 5961 §5.2: acceptable only in [SND.UNA - MAX.SND.WND, SND.NXT]; otherwise ACK and drop.
  if (!in_closed_range(ack, snd_una_ - max_snd_wnd_, snd_max_)) {
    ack_now_ = true;
    return false;
  }
  const std::uint32_t scaled_wnd = std::min<std::uint32_t>(std::uint32_t(seg.window) << snd_wscale_, kMaxWindow);

  const std::uint32_t newly_sacked = sack_ok_ ? scoreboard_.on_ack(seq_max(ack, snd_una_), snd_max_, seg.sacks()) : 0;

  if (snd_una_ < ack) {
    on_new_ack(now, seg, ack);
  } else if (ack == snd_una_ && snd_max_ != snd_una_ && seg.payload.empty() && !has(seg.control, Control::kFin)) {
    // A duplicate ACK: RFC 5681 §2 (same ACK and same window) without SACK; with SACK, RFC 6675 §2: one that
    // SACKs new data (the window may move while the application reads).
    if (sack_ok_ ? newly_sacked > 0 : scaled_wnd == snd_wnd_) on_dup_ack(now);
  }
  // RFC 9293 §3.10.7.4: the send window update (SND.WL1 / SND.WL2 rule), for SND.UNA =< SEG.ACK.
  if (snd_una_ <= ack && (snd_wl1_ < seg.seq || (snd_wl1_ == seg.seq && snd_wl2_ <= ack))) {
    snd_wnd_ = scaled_wnd;
    snd_wl1_ = seg.seq;
    snd_wl2_ = ack;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
  }
  if (state_ == State::kClosed) return false;
  return true;
}

std::optional<Duration> Connection::rtt_sample(Instant now, const Repr& seg, SeqNum ack) noexcept {
  // RFC 7323 §4.1 RTTM: the echoed timestamp of an ACK that advances the left edge (retransmissions too).
  if (ts_ok_ && seg.timestamps && seg.timestamps->tsecr != 0) {
    const std::int32_t d = std::int32_t(tsval(now) - seg.timestamps->tsecr);
    rtt_seq_.reset();
    if (d >= 0) return milliseconds{d};
    return std::nullopt;
  }
  // RFC 6298 §3 / Karn: only a segment that was never retransmitted is timed.
  if (rtt_seq_ && *rtt_seq_ <= ack) {
    rtt_seq_.reset();
    return now - rtt_start_;
  }
  return std::nullopt;
}

void Connection::on_new_ack(Instant now, const Repr& seg, SeqNum ack) noexcept {
  const std::uint32_t flight_before = flight();
  const std::uint32_t acked = forward_distance(snd_una_, ack);
  const std::optional<Duration> sample = rtt_sample(now, seg, ack);
  if (sample) rtt_.on_sample(*sample);

  // Drop acknowledged bytes from the send buffer (the FIN's sequence number has no byte).
  const SeqNum end = data_end();
  const SeqNum data_acked = seq_min(ack, end);
  if (buf_seq_ < data_acked) {
    const std::uint32_t n = forward_distance(buf_seq_, data_acked);
    send_ring_.consume(n);
    buf_seq_ += n;
  }
  snd_una_ = ack;
  if (snd_nxt_ < snd_una_) snd_nxt_ = snd_una_;
  if (high_rxt_ < snd_una_) high_rxt_ = snd_una_;
  retries_ = 0;
  persist_backoff_ = 0;

  if (in_recovery_) {
    if (ack >= recover_) {  // full ACK: leave recovery (RFC 6582 §3.2 step 3, RFC 6675 §5)
      in_recovery_ = false;
      inflation_ = 0;
      dupacks_ = 0;
      fast_rxt_pending_ = false;
      cc_->on_recovery_exit(now, flight());
    } else if (!sack_ok_) {
      // RFC 6582 §3.2 step 4, partial ACK: retransmit the first unacknowledged segment, deflate the window
      // by the amount acknowledged and add back one SMSS.
      fast_rxt_pending_ = true;
      inflation_ = inflation_ > acked ? inflation_ - acked : 0;
      inflation_ += smss_;
    }
  } else {
    dupacks_ = 0;
    AckSample s{};
    s.now = now;
    s.acked_bytes = acked;
    s.bytes_in_flight = flight_before;
    s.rtt = sample;
    // RFC 7661: not cwnd-limited (the application or the peer's window held us back): don't grow cwnd.
    s.app_limited = std::uint64_t(flight_before) + smss_ < cc_->cwnd();
    cc_->on_ack(s);
    autotune_send();
  }

  // RFC 6298 §5.2 / §5.3: stop the timer when everything is acknowledged, else restart it.
  if (snd_una_ == snd_max_) {
    rto_at_.reset();
  } else {
    arm_rto(now, true);
  }
  if (fin_queued_ && snd_una_ == fin_seq_ + 1) on_fin_acked(now);
}

void Connection::on_dup_ack(Instant now) noexcept {
  ++stats_.dup_acks;
  if (in_recovery_) {
    if (!sack_ok_) inflation_ += smss_;  // RFC 6582 §3.2 step 3 (RFC 5681 §3.2 step 4)
    return;
  }
  ++dupacks_;
  // RFC 6675 §5: DupThresh duplicate ACKs, or IsLost(SND.UNA) from the SACK scoreboard. RFC 6582 §3.2
  // step 1: only if the ACK covers more than `recover` (no second fast retransmit for one window).
  // With SACK, duplicates of data the receiver already had are recognised (they SACK nothing new), so the
  // `recover` guard is not needed after an RTO and SACK recovery may start during go-back-N.
  const bool lost = dupacks_ >= kDupThresh || (sack_ok_ && scoreboard_.is_lost(snd_una_, smss_));
  if (lost && (sack_ok_ || snd_una_ > recover_)) enter_recovery(now);
}

void Connection::enter_recovery(Instant now) noexcept {
  // RFC 5681 §3.2 eq. (4): FlightSize, the data outstanding (not RFC 6675's pipe, which excludes the loss).
  cc_->on_congestion_event(now, forward_distance(snd_una_, snd_max_));
  in_recovery_ = true;
  recover_ = snd_max_;
  high_rxt_ = snd_una_;
  fast_rxt_pending_ = true;  // RFC 5681 §3.2 step 2 / RFC 6675 §5 step 4.3: resend SND.UNA's segment
  inflation_ = sack_ok_ ? 0 : kDupThresh * std::uint32_t(smss_);
  rtt_seq_.reset();
  ++stats_.fast_retransmits;
}

void Connection::on_fin_acked(Instant now) noexcept {
  switch (state_) {
    case State::kFinWait1:
      state_ = State::kFinWait2;
      break;
    case State::kClosing:
      enter_time_wait(now);
      break;
    case State::kLastAck:
      reset_connection(std::nullopt);
      break;
    default:
      break;
  }
}

void Connection::enter_time_wait(Instant now) noexcept {
  state_ = State::kTimeWait;
  rto_at_.reset();
  persist_at_.reset();
  keepalive_at_.reset();
  time_wait_at_ = now + 2 * cfg_.msl;
}

void Connection::accept_fin(Instant now) noexcept {
  rcv_nxt_ += 1;
  fin_received_ = true;
  ooo_fin_.reset();
  ack_now_ = true;
  switch (state_) {
    case State::kSynReceived:
    case State::kEstablished:
      state_ = State::kCloseWait;
      break;
    case State::kFinWait1:
      if (fin_queued_ && snd_una_ == fin_seq_ + 1) {
        enter_time_wait(now);
      } else {
        state_ = State::kClosing;
      }
      break;
    case State::kFinWait2:
      enter_time_wait(now);
      break;
    case State::kTimeWait:
      time_wait_at_ = now + 2 * cfg_.msl;
      break;
    default:
      break;
  }
}

// RFC 9293 §3.10.7.4 seventh and eighth steps. `seq` is where `data` starts (>= RCV.NXT, within the window)
// or, with no data, where the FIN would be.
bool Connection::stage_payload(SeqNum seq, Bytes payload, Checksum& sum) noexcept {
  staged_src_ = nullptr;
  const bool receiving = state_ == State::kEstablished || state_ == State::kFinWait1 || state_ == State::kFinWait2;
  if (!receiving || payload.empty() || seq != rcv_nxt_ || !assembler_.empty() || fin_received_) return false;
  const std::array<MutableBytes, 2> free = recv_ring_.writable();
  if (free[0].size() + free[1].size() < payload.size()) return false;
  const std::size_t first = std::min(free[0].size(), payload.size());
  sum.add_copy(free[0], payload.first(first));
  if (first < payload.size()) sum.add_copy(free[1], payload.subspan(first));
  staged_src_ = payload.data();
  staged_len_ = payload.size();
  return true;
}

void Connection::process_data(Instant now, SeqNum seq, Bytes data, bool fin) noexcept {
  if (!data.empty()) {
    rcv_mss_ = std::max<std::uint32_t>(rcv_mss_, std::min<std::uint32_t>(std::uint32_t(data.size()), local_mss_));
    if (data.size() < rcv_mss_) ++short_segments_;
    const std::size_t off = forward_distance(rcv_nxt_, seq);
    // Bytes stage_payload() already placed at RCV.NXT (a prefix of them when the window trimmed the segment)
    // are not copied again.
    const bool staged = staged_src_ != nullptr && off == 0 && data.data() == staged_src_ &&
                        data.size() <= staged_len_ && data.size() <= recv_ring_.free_space();
    staged_src_ = nullptr;
    const std::size_t written = staged ? data.size() : recv_ring_.write_at(off, data);  // clipped to the free space
    if (written < data.size()) fin = false;
    if (written == 0) {
      ack_now_ = true;
      return;
    }
    const bool had_holes = !assembler_.empty();
    const std::optional<std::size_t> advanced = assembler_.add(off, written);
    if (!advanced) {  // out-of-order queue cap: drop (the peer retransmits), ACK what we have
      ack_now_ = true;
      return;
    }
    if (*advanced > 0) {
      recv_ring_.commit(*advanced);
      rcv_nxt_ += std::uint32_t(*advanced);
      stats_.bytes_in += *advanced;
      autotune_recv(now);
      unacked_rcv_bytes_ += std::uint32_t(*advanced);
      if (had_holes) {
        ack_now_ = true;  // RFC 5681 §4.2: an immediate ACK for a segment that fills (part of) a gap
      } else if (unacked_rcv_bytes_ >= 2 * rcv_mss_) {
        ack_now_ = true;  // RFC 9293 §3.8.6.3: ACK at least every second full-sized segment
      } else if (!delack_at_) {
        delack_at_ = now + cfg_.delayed_ack;
      }
    } else {
      // RFC 5681 §4.2: an immediate duplicate ACK for each out-of-order segment (with SACK blocks), even
      // when the caller delivers a burst before polling: the sender counts them (fast retransmit).
      ack_now_ = true;
      if (dup_acks_owed_ < kMaxDupAcksOwed) ++dup_acks_owed_;
    }
  }
  if (fin) {
    const SeqNum fin_at = seq + std::uint32_t(data.size());
    if (fin_at == rcv_nxt_) {
      accept_fin(now);
    } else if (fin_at > rcv_nxt_) {
      ooo_fin_ = fin_at;
      ack_now_ = true;
    }
  }
  if (ooo_fin_ && *ooo_fin_ == rcv_nxt_ && !fin_received_) accept_fin(now);
}

// Receive-buffer autotuning: dynamic right-sizing (Linux tcp_rcv_rtt_measure / tcp_rcv_space_adjust). The
// receiver's round trip is the time one window's worth of data takes to arrive; once per round trip the buffer
// grows to twice what the application took in it, so a sender held back by our window can double it every round
// trip, and a connection whose application reads little keeps a small buffer.
void Connection::autotune_recv(Instant now) noexcept {
  if (buffers_shared_ || cfg_.initial_buffer == 0 || recv_ring_.capacity() >= full_size(cfg_.recv_buffer)) return;
  if (!rcv_rtt_seq_) {
    rcv_rtt_seq_ = rcv_nxt_ + std::max<std::uint32_t>(rcv_wnd(), rcv_mss_);
    rcv_rtt_start_ = now;
  } else if (rcv_nxt_ >= *rcv_rtt_seq_) {
    const Duration sample = now - rcv_rtt_start_;
    rcv_rtt_ = !rcv_rtt_ || sample < *rcv_rtt_ ? sample : (*rcv_rtt_ * 7 + sample) / 8;
    rcv_rtt_seq_.reset();
  }
  if (!rcv_rtt_) return;  // no estimate yet

  const std::uint64_t taken = stats_.bytes_in - recv_ring_.size();  // all the application has read so far
  if (!rcvq_started_) {
    rcvq_started_ = true;
    rcvq_start_ = now;
    rcvq_taken_ = taken;
    return;
  }
  if (now - rcvq_start_ < *rcv_rtt_) return;
  const std::uint64_t copied = taken - rcvq_taken_;
  rcvq_start_ = now;
  rcvq_taken_ = taken;
  if (copied <= rcvq_space_) return;
  // As Linux's tcp_rcv_space_adjust: room for twice this round trip's data plus 16 segments, and, while the
  // amount per round trip is growing (a sender in slow start doubles it), as much again in proportion, so
  // that our window stays ahead of the sender instead of holding it back every other round trip.
  std::uint64_t want = 2 * copied + 16 * std::uint64_t(rcv_mss_);
  if (rcvq_space_ != 0) want += 2 * want * (copied - rcvq_space_) / rcvq_space_;
  rcvq_space_ = copied;
  if (want > recv_ring_.capacity())
    recv_ring_.grow(std::min<std::uint64_t>(std::bit_ceil(want), full_size(cfg_.recv_buffer)));
}

void Connection::share_buffers() noexcept {
  if (buffers_shared_) return;
  buffers_shared_ = true;
  // If memory is short the rings stay smaller: correct, only a smaller window.
  send_ring_.grow(full_size(cfg_.send_buffer));
  recv_ring_.grow(full_size(cfg_.recv_buffer));
}

// Send-buffer autotuning (Linux tcp_sndbuf_expand): room for twice the congestion window, so the window, not
// the buffer, limits what is in flight. cwnd grows only while cwnd-limited (RFC 7661), so an application-
// limited or receiver-limited connection keeps a small buffer.
std::size_t Connection::send_buffer_target() const noexcept {
  const std::size_t full = full_size(cfg_.send_buffer);
  if (cfg_.initial_buffer == 0) return full;
  const std::uint64_t want = 2 * std::uint64_t(cc_->cwnd());
  return std::size_t(std::clamp<std::uint64_t>(want, std::min(cfg_.initial_buffer, full), full));
}

void Connection::autotune_send() noexcept {
  if (buffers_shared_ || cfg_.initial_buffer == 0 || send_ring_.capacity() >= full_size(cfg_.send_buffer)) return;
  const std::size_t want = send_buffer_target();
  if (want > send_ring_.capacity()) send_ring_.grow(std::bit_ceil(want));
}

void Connection::challenge_ack(Instant now) noexcept {
  // RFC 5961 §7: at most challenge_ack_limit per second, per connection; the budget of each second is drawn
  // from [limit/2, limit] so that an off-path attacker cannot count it exactly (CVE-2016-5696).
  if (!challenge_window_started_ || now - challenge_window_start_ >= seconds{1}) {
    challenge_window_started_ = true;
    challenge_window_start_ = now;
    const std::uint32_t lim = cfg_.challenge_ack_limit;
    challenge_budget_ = lim / 2 + rng_.uniform(lim - lim / 2 + 1);
  }
  if (challenge_budget_ == 0) return;
  --challenge_budget_;
  ++stats_.challenge_acks;
  ack_now_ = true;
}

void Connection::queue_rst(SeqNum seq, std::optional<SeqNum> ack) noexcept {
  rst_pending_ = true;
  rst_seq_ = seq;
  rst_ack_ = ack;
}

// ---------------------------------------------------------------------------------------------------------
// ICMP (RFC 9293 §3.9.4, RFC 5927, RFC 1191)

void Connection::on_icmp_error(Instant now, const ip::IcmpErrorInfo& info, SeqNum quoted_seq) noexcept {
  if (state_ == State::kClosed || state_ == State::kListen) return;
  // RFC 5927 §4.1: the quoted sequence number must be in flight.
  if (!(snd_una_ <= quoted_seq && quoted_seq < snd_max_)) return;
  if (info.kind == ip::IcmpErrorInfo::Kind::kFragNeeded) {
    // RFC 1191 §6.3: lower the MSS to the next-hop MTU (RFC 1191 §3: never below 68) and resend.
    if (info.next_hop_mtu < 68) return;
    const std::uint32_t hdrs = tuple_.remote.addr.is_v6() ? 60 : 40;
    if (info.next_hop_mtu <= hdrs) return;
    const std::uint32_t mss = std::max<std::uint32_t>(info.next_hop_mtu - hdrs, kMinPeerMss);
    if (mss >= local_mss_) return;
    local_mss_ = std::uint16_t(mss);
    set_peer_mss(peer_mss_);
    cc_->init(smss_, now);
    snd_nxt_ = snd_una_;  // the segments that were too big are gone: send them again, smaller
    if (!syn_acked_) syn_pending_ = true;
    return;
  }
  const std::errc e = errc_for(info.kind);
  // RFC 5927 §4 / RFC 1122 §4.2.3.9: hard errors abort only a connection still in the handshake.
  if (info.hard && (state_ == State::kSynSent || state_ == State::kSynReceived)) {
    reset_connection(e);
    return;
  }
  soft_error_ = make_error(e);
}

// ---------------------------------------------------------------------------------------------------------
// Output

std::uint32_t Connection::tsval(Instant now) const noexcept { return std::uint32_t(now.millis()) + ts_offset_; }

// After close() the end is the FIN's sequence number: with a shared send buffer, bytes another thread writes
// after the close (a racing send on the facade) are never sent past the FIN.
SeqNum Connection::data_end() const noexcept {
  if (fin_queued_) return fin_seq_;
  return buf_seq_ + std::uint32_t(send_ring_.size());
}

std::uint32_t Connection::flight() const noexcept {
  if (sack_ok_ && (in_recovery_ || scoreboard_.range_count() != 0)) {
    return scoreboard_.pipe(snd_una_, snd_nxt_, seq_max(high_rxt_, snd_una_), smss_);  // RFC 6675 SetPipe
  }
  return forward_distance(snd_una_, snd_nxt_);
}

std::uint32_t Connection::cwnd_room() const noexcept {
  // RFC 3042 Limited Transmit: the first two duplicate ACKs each let one new segment out beyond cwnd.
  const std::uint32_t limited = in_recovery_ ? 0 : std::min(dupacks_, 2u) * std::uint32_t(smss_);
  const std::uint64_t cwnd = std::uint64_t(cc_->cwnd()) + inflation_ + limited;
  const std::uint32_t fl = flight();
  return cwnd > fl ? std::uint32_t(std::min<std::uint64_t>(cwnd - fl, kMaxWindow)) : 0;
}

std::uint32_t Connection::peer_room() const noexcept {
  const SeqNum right = snd_una_ + snd_wnd_;  // RFC 9293 §3.8.6.2.1: SND.UNA + SND.WND - SND.NXT
  return snd_nxt_ < right ? forward_distance(snd_nxt_, right) : 0;
}

bool Connection::can_send_fin() const noexcept {
  if (!fin_queued_ || snd_nxt_ != fin_seq_) return false;
  return state_ == State::kFinWait1 || state_ == State::kClosing || state_ == State::kLastAck;
}

bool Connection::data_state() const noexcept {
  switch (state_) {
    case State::kEstablished:
    case State::kCloseWait:
    case State::kFinWait1:
    case State::kClosing:
    case State::kLastAck:
      return true;
    default:
      return false;
  }
}

Repr Connection::ack_template() const noexcept {
  Repr r;
  r.src_port = tuple_.local.port;
  r.dst_port = tuple_.remote.port;
  r.ack = rcv_nxt_;
  if (ts_ok_) r.timestamps = Timestamps{0, ts_recent_};
  if (sack_ok_ && !assembler_.empty()) {
    // RFC 2018 §4: the block with the most recently received segment first, then the most recent others.
    std::array<Assembler::Range, kMaxSackBlocks> ranges{};
    const std::size_t n = assembler_.sack_ranges(ranges);
    for (std::size_t i = 0; i < n; ++i) {
      r.add_sack({rcv_nxt_ + std::uint32_t(ranges[i].first), rcv_nxt_ + std::uint32_t(ranges[i].second)});
    }
  }
  return r;
}

std::uint32_t Connection::data_mss() const noexcept {
  // max_payload(ack_template()) without building the template when it carries no SACK blocks: then its only
  // option is the timestamps (NOP, NOP, TS: 12 bytes) or nothing.
  if (sack_ok_ && !assembler_.empty()) return max_payload(ack_template());
  const std::uint32_t room = std::uint32_t(std::min(peer_mss_, local_mss_)) + kHeaderLen;
  const std::uint32_t hdr = kHeaderLen + (ts_ok_ ? 12u : 0u);
  return room > hdr ? room - hdr : 1;
}

std::uint32_t Connection::max_payload(const Repr& header) const noexcept {
  // RFC 9293 §3.7.1: Eff.snd.MSS = min(SendMSS + 20, MMS_S) - TCPhdrsize (options included).
  const std::uint32_t room = std::uint32_t(std::min(peer_mss_, local_mss_)) + kHeaderLen;
  const std::uint32_t hdr = std::uint32_t(header.header_len());
  return room > hdr ? room - hdr : 1;
}

SeqNum Connection::candidate_edge() const noexcept {
  std::uint64_t free = recv_ring_.free_space();
  free = std::min<std::uint64_t>(free, std::uint64_t(0xffff) << rcv_wscale_);
  return rcv_nxt_ + std::uint32_t(free);
}

// RFC 9293 §3.8.6.2.2 receiver SWS avoidance: the right edge moves only by at least min(RCV.BUFF/2, MSS);
// it never moves back (§3.8.6: "the window SHOULD NOT be shrunk").
std::uint16_t Connection::window_field() noexcept {
  SeqNum edge = seq_max(rcv_adv_, rcv_nxt_);
  const SeqNum cand = candidate_edge();
  const std::uint32_t threshold = std::min<std::uint32_t>(std::uint32_t(recv_ring_.capacity() / 2), rcv_mss_);
  if (cand > edge && forward_distance(edge, cand) >= threshold) edge = cand;
  const std::uint32_t wnd = forward_distance(rcv_nxt_, edge);
  // Rounded up, so the advertised edge never moves left (RFC 7323 §2.4); at most 2^scale - 1 bytes beyond
  // the free space, which write_at clips.
  std::uint32_t field = (wnd + ((std::uint32_t{1} << rcv_wscale_) - 1)) >> rcv_wscale_;
  field = std::min<std::uint32_t>(field, 0xffff);
  rcv_adv_ = seq_max(rcv_adv_, rcv_nxt_ + (field << rcv_wscale_));
  return std::uint16_t(field);
}

// A window update is worth a segment when the window doubled and grew by at least an MSS (or half the buffer),
// as Linux's __tcp_cleanup_rbuf does; this also reopens a zero window (RFC 9293 §3.8.6.2.2).
bool Connection::window_update_due() const noexcept {
  if (fin_received_) return false;
  if (state_ != State::kEstablished && state_ != State::kFinWait1 && state_ != State::kFinWait2) return false;
  const SeqNum cand = candidate_edge();
  const SeqNum edge = seq_max(rcv_adv_, rcv_nxt_);
  if (!(cand > edge)) return false;
  const std::uint32_t incr = forward_distance(edge, cand);
  const std::uint32_t threshold = std::min<std::uint32_t>(std::uint32_t(recv_ring_.capacity() / 2), rcv_mss_);
  const std::uint32_t cur = forward_distance(rcv_nxt_, edge);
  return incr >= threshold && forward_distance(rcv_nxt_, cand) >= 2 * std::uint64_t(cur);
}

std::optional<std::size_t> Connection::window_update_after() const noexcept {
  if (fin_received_) return std::nullopt;
  if (state_ != State::kEstablished && state_ != State::kFinWait1 && state_ != State::kFinWait2) return std::nullopt;
  // window_update_due() holds once the candidate window W = min(free, 0xffff << scale) reaches both
  // cur + max(threshold, 1) (the edge moves right by the SWS threshold) and 2 * cur (the window doubled), cur
  // being the window still open at the advertised edge. Consuming d bytes adds d to the free space.
  const SeqNum edge = seq_max(rcv_adv_, rcv_nxt_);
  const std::uint64_t cur = forward_distance(rcv_nxt_, edge);
  const std::uint64_t threshold = std::min<std::uint64_t>(recv_ring_.capacity() / 2, rcv_mss_);
  const std::uint64_t need = std::max(cur + std::max<std::uint64_t>(threshold, 1), 2 * cur);
  if (need > (std::uint64_t(0xffff) << rcv_wscale_) || need > recv_ring_.capacity()) return std::nullopt;
  const std::uint64_t free = recv_ring_.free_space();
  return free >= need ? 0 : std::size_t(need - free);
}

void Connection::fill_ack(Instant now, Repr& r) noexcept {
  r.ack = rcv_nxt_;
  r.window = window_field();
  if (ts_ok_) r.timestamps = Timestamps{tsval(now), ts_recent_};
  last_ack_sent_ = rcv_nxt_;
  if (dup_acks_owed_ > 0) --dup_acks_owed_;
  ack_now_ = dup_acks_owed_ > 0;
  delack_at_.reset();
  unacked_rcv_bytes_ = 0;
}

void Connection::arm_rto(Instant now, bool restart) noexcept {
  if (restart || !rto_at_) rto_at_ = now + rtt_.rto();
}

void Connection::restart_keepalive(Instant now) noexcept {
  keepalive_probes_ = 0;
  if (cfg_.keepalive && (state_ == State::kEstablished || state_ == State::kCloseWait)) {
    keepalive_at_ = now + cfg_.keepalive->idle;
  } else {
    keepalive_at_.reset();
  }
}

void Connection::update_persist(Instant now) noexcept {
  // RFC 9293 §3.8.6.1: with data waiting, nothing in flight and a window that lets nothing out, probe.
  const bool blocked = data_state() && snd_una_ == snd_max_ && snd_nxt_ < data_end() && peer_room() < smss_ &&
                       !plan_data(now).has_value();
  if (!blocked) {
    persist_at_.reset();
    if (snd_wnd_ != 0) persist_backoff_ = 0;
    return;
  }
  if (!persist_at_) persist_at_ = now + persist_interval();
}

Duration Connection::persist_interval() const noexcept {
  Duration d = rtt_.base_rto();
  for (std::uint32_t i = 0; i < persist_backoff_ && d < rtt_.config().max_rto; ++i) d *= 2;
  return std::min(d, rtt_.config().max_rto);
}

// What new data (or go-back-N retransmission after an RTO) and FIN to send now, if anything: the congestion
// and peer windows, Nagle (RFC 1122 §4.2.3.4) and sender SWS avoidance (RFC 9293 §3.8.6.2.1).
std::optional<Connection::TxPlan> Connection::plan_data(Instant) const noexcept {
  if (!data_state()) return std::nullopt;
  const SeqNum end = data_end();
  const std::uint32_t avail = snd_nxt_ < end ? forward_distance(snd_nxt_, end) : 0;
  if (avail > 0) {
    const std::uint32_t mss = data_mss();
    const std::uint32_t peer = peer_room();
    const std::uint32_t room = std::min(peer, cwnd_room());
    const std::uint32_t n = std::min({avail, room, mss});
    const bool retransmission = snd_nxt_ < snd_max_;
    bool go = n == mss;  // a full segment
    if (!go && n > 0) {
      if (retransmission || sws_override_) {
        go = true;
      } else if (n == avail) {
        // All the queued data fits: Nagle holds it while unacknowledged data is outstanding, unless
        // TCP_NODELAY or close() (the FIN flushes the tail, as Linux's tcp_send_fin does).
        go = nodelay_ || !cfg_.nagle || snd_una_ == snd_max_ || fin_queued_;
      } else if (n == peer && max_snd_wnd_ > 0 && n >= max_snd_wnd_ / 2) {
        go = true;  // at least half the largest window the peer offered
      }
    }
    if (go) {
      Control ctl = Control::kNone;
      if (n == avail) ctl |= Control::kPsh;
      if (fin_queued_ && snd_nxt_ + n == fin_seq_ &&
          (state_ == State::kFinWait1 || state_ == State::kClosing || state_ == State::kLastAck)) {
        ctl |= Control::kFin;
      }
      return TxPlan{snd_nxt_, n, ctl, retransmission};
    }
    return std::nullopt;
  }
  if (can_send_fin()) return TxPlan{snd_nxt_, 0, Control::kFin, snd_nxt_ < snd_max_};
  return std::nullopt;
}

// Loss recovery: the fast retransmit of SND.UNA's segment (RFC 5681 §3.2, RFC 6582 partial ACKs) and
// RFC 6675 NextSeg() rule 1.
std::optional<Connection::TxPlan> Connection::plan_recovery() const noexcept {
  if (!data_state() || !in_recovery_) return std::nullopt;
  const std::uint32_t mss = data_mss();
  const SeqNum end = data_end();
  auto plan_range = [&](SeqNum s, std::uint32_t len) -> std::optional<TxPlan> {
    // Data part of [s, s + len); a FIN if the range reaches it.
    const std::uint32_t data = s < end ? std::min(len, forward_distance(s, end)) : 0;
    Control ctl = Control::kNone;
    if (fin_queued_ && s + data == fin_seq_ && fin_seq_ < snd_max_ && data < len + 1) ctl |= Control::kFin;
    if (data == 0 && ctl == Control::kNone) return std::nullopt;
    return TxPlan{s, data, ctl, true};
  };
  if (fast_rxt_pending_) {
    const std::uint32_t out = forward_distance(snd_una_, snd_max_);
    return plan_range(snd_una_, std::min(out, mss));
  }
  if (!sack_ok_) return std::nullopt;
  const std::uint32_t pipe = flight();
  const std::uint32_t cwnd = cc_->cwnd();
  if (pipe >= cwnd || cwnd - pipe < smss_) return std::nullopt;  // RFC 6675 §5 step (C): cwnd - pipe >= 1 SMSS
  if (auto r = scoreboard_.next_lost(snd_una_, seq_max(high_rxt_, snd_una_), mss)) {
    return plan_range(r->start, r->length());
  }
  return std::nullopt;
}

// RFC 6675 NextSeg() rule 3: after new data (rule 2) could not go.
std::optional<Connection::TxPlan> Connection::plan_rule3() const noexcept {
  if (!data_state() || !in_recovery_ || !sack_ok_) return std::nullopt;
  const std::uint32_t pipe = flight();
  const std::uint32_t cwnd = cc_->cwnd();
  if (pipe >= cwnd || cwnd - pipe < smss_) return std::nullopt;
  const std::uint32_t mss = data_mss();
  auto r = scoreboard_.next_unsacked_below_highest(snd_una_, seq_max(high_rxt_, snd_una_), mss);
  if (!r) return std::nullopt;
  const SeqNum end = data_end();
  const std::uint32_t data = r->start < end ? std::min(r->length(), forward_distance(r->start, end)) : 0;
  if (data == 0) return std::nullopt;
  return TxPlan{r->start, data, Control::kNone, true};
}

void Connection::emit_plan(Instant now, const TxPlan& p, FunctionRef<void(const Repr&)> emit) noexcept {
  Repr r = ack_template();
  r.seq = p.seq;
  r.control = p.ctl;
  fill_ack(now, r);
  std::uint32_t len = p.len;
  if (len != 0) {
    const std::size_t off = forward_distance(buf_seq_, p.seq);
    const std::array<Bytes, 2> parts = send_ring_.readable(off, len);
    if (parts[1].empty()) {
      r.payload = parts[0];
    } else {  // wraps around the ring's end: one copy into the scratch segment (once per ring lap)
      std::memcpy(tx_scratch_.get(), parts[0].data(), parts[0].size());
      std::memcpy(tx_scratch_.get() + parts[0].size(), parts[1].data(), parts[1].size());
      r.payload = Bytes{tx_scratch_.get(), parts[0].size() + parts[1].size()};
    }
    len = std::uint32_t(r.payload.size());
  }
  emit(r);
  ++stats_.segs_out;
  stats_.bytes_out += len;
  const SeqNum end = p.seq + len + (has(p.ctl, Control::kFin) ? 1u : 0u);
  if (p.retransmission) {
    ++stats_.retransmits;
    if (rtt_seq_ && p.seq < *rtt_seq_) rtt_seq_.reset();  // Karn: a timed segment was resent
  } else if (!ts_ok_ && !rtt_seq_ && len != 0) {
    rtt_seq_ = end;
    rtt_start_ = now;
  }
  if (p.seq == snd_nxt_ || (snd_nxt_ < end && p.seq <= snd_nxt_)) snd_nxt_ = seq_max(snd_nxt_, end);
  snd_max_ = seq_max(snd_max_, snd_nxt_);
  sws_override_ = false;
  last_send_ = now;
  arm_rto(now, false);
}

void Connection::emit_bare(Instant now, SeqNum seq, FunctionRef<void(const Repr&)> emit) noexcept {
  Repr r = ack_template();
  r.seq = seq;
  fill_ack(now, r);
  emit(r);
  ++stats_.segs_out;
}

void Connection::emit_syn(Instant now, FunctionRef<void(const Repr&)> emit) noexcept {
  Repr r;
  r.src_port = tuple_.local.port;
  r.dst_port = tuple_.remote.port;
  r.control = Control::kSyn;
  r.seq = iss_;
  r.window = syn_window_;
  r.mss = local_mss_;
  if (state_ == State::kSynSent) {  // offer what the configuration allows
    if (cfg_.window_scaling) r.window_scale = rcv_wscale_;
    r.sack_permitted = cfg_.sack;
    if (cfg_.timestamps) r.timestamps = Timestamps{tsval(now), 0};
  } else {  // SYN-ACK: only what both SYNs carry
    r.ack = rcv_nxt_;
    if (ws_ok_) r.window_scale = rcv_wscale_;
    r.sack_permitted = sack_ok_;
    if (ts_ok_) r.timestamps = Timestamps{tsval(now), ts_recent_};
    rcv_adv_ = seq_max(rcv_adv_, rcv_nxt_ + syn_window_);
    last_ack_sent_ = rcv_nxt_;
    ack_now_ = false;
  }
  emit(r);
  ++stats_.segs_out;
  if (retries_ > 0) {
    ++stats_.retransmits;
  } else if (!rtt_seq_) {
    rtt_seq_ = iss_ + 1;
    rtt_start_ = now;
  }
  syn_pending_ = false;
  snd_nxt_ = iss_ + 1;
  snd_max_ = seq_max(snd_max_, snd_nxt_);
  last_send_ = now;
  arm_rto(now, false);
}

void Connection::on_rto(Instant now) noexcept {
  rto_at_.reset();
  ++stats_.rto_expirations;
  rtt_seq_.reset();  // Karn
  if (state_ == State::kSynSent || state_ == State::kSynReceived) {
    if (retries_ >= cfg_.syn_retransmits) {
      time_out();
      return;
    }
    ++retries_;
    rtt_.backoff();
    syn_pending_ = true;
    snd_nxt_ = iss_;
    return;
  }
  if (snd_una_ == snd_max_) return;
  if (retries_ >= cfg_.max_retransmits) {  // RFC 9293 §3.8.3 R2
    time_out();
    return;
  }
  ++retries_;
  rtt_.backoff();                                          // RFC 6298 §5.5
  cc_->on_rto(now, forward_distance(snd_una_, snd_max_));  // FlightSize (RFC 5681 §3.1 eq. 4)
  // RFC 6582 §3.2 step 4 / RFC 6675 §5.1: record the highest sequence sent. The go-back-N resend skips
  // SACKed data (RFC 6675 §5.1); in case the receiver reneged (RFC 2018 §8), a second consecutive RTO
  // forgets the SACK information.
  recover_ = snd_max_;
  in_recovery_ = false;
  dupacks_ = 0;
  inflation_ = 0;
  fast_rxt_pending_ = false;
  if (retries_ > 1) scoreboard_.clear();
  high_rxt_ = snd_una_;
  snd_nxt_ = snd_una_;  // go-back-N from the first unacknowledged byte (RFC 6298 §5.4)
  skip_sacked();
}

// Go-back-N after an RTO does not resend what the peer SACKed (RFC 6675 §5.1).
void Connection::skip_sacked() noexcept {
  if (!sack_ok_ || !(snd_nxt_ < snd_max_)) return;
  for (const SeqRange& r : scoreboard_.ranges()) {
    if (r.start <= snd_nxt_ && snd_nxt_ < r.end) snd_nxt_ = seq_min(r.end, snd_max_);
  }
}

// Expired timers, in order. Returns true when the connection closed.
bool Connection::on_timers(Instant now) noexcept {
  if (time_wait_at_ && now >= *time_wait_at_) {  // 2*MSL elapsed (RFC 9293 §3.10.8)
    reset_connection(std::nullopt);
    return true;
  }
  if (rto_at_ && now >= *rto_at_) {
    on_rto(now);
    if (state_ == State::kClosed) return true;
  }
  if (delack_at_ && now >= *delack_at_) {
    delack_at_.reset();
    ack_now_ = true;
  }
  if (persist_at_ && now >= *persist_at_) {
    persist_at_.reset();
    ++persist_backoff_;
    if (peer_room() > 0) {
      sws_override_ = true;  // RFC 9293 §3.8.6.2.1: the override timeout sends what the window allows
    } else {
      probe_pending_ = true;
    }
  }
  if (keepalive_at_ && now >= *keepalive_at_) {
    if (snd_una_ != snd_max_ || (state_ != State::kEstablished && state_ != State::kCloseWait)) {
      keepalive_at_ = now + cfg_.keepalive->idle;  // data in flight: the RTO watches the peer
    } else if (keepalive_probes_ >= cfg_.keepalive->probes) {
      time_out();
      return true;
    } else {
      ++keepalive_probes_;
      probe_pending_ = true;
      keepalive_at_ = now + cfg_.keepalive->interval;
    }
  }
  return false;
}

bool Connection::poll_transmit(Instant now, FunctionRef<void(const Repr&)> emit) noexcept {
  if (rst_pending_) {
    rst_pending_ = false;
    Repr r;
    r.src_port = tuple_.local.port;
    r.dst_port = tuple_.remote.port;
    r.control = Control::kRst;
    r.seq = rst_seq_;
    r.ack = rst_ack_;
    emit(r);
    ++stats_.segs_out;
    return true;
  }
  if (state_ == State::kClosed || state_ == State::kListen) return false;
  if (on_timers(now)) return false;

  if (state_ == State::kSynSent || state_ == State::kSynReceived) {
    if (syn_pending_) {
      emit_syn(now, emit);
      return true;
    }
    if (ack_now_ && state_ == State::kSynReceived) {
      emit_bare(now, snd_nxt_, emit);
      return true;
    }
    return false;
  }

  if (probe_pending_) {
    // Zero-window probe and keepalive: <SEQ=SND.UNA-1><ACK=RCV.NXT>, outside the peer's window, which makes
    // it answer with an ACK carrying its current window (RFC 1122 §4.2.3.6, RFC 9293 §3.8.6.1).
    probe_pending_ = false;
    emit_bare(now, snd_una_ - 1, emit);
    if (!persist_at_ && snd_una_ == snd_max_ && snd_wnd_ == 0 && snd_nxt_ < data_end()) {
      persist_at_ = now + persist_interval();
    }
    return true;
  }
  // Loss recovery first; out of recovery (almost always) neither recovery plan is built.
  if (in_recovery_) {
    if (std::optional<TxPlan> p = plan_recovery()) {
      fast_rxt_pending_ = false;
      high_rxt_ = seq_max(high_rxt_, p->seq + p->len + (has(p->ctl, Control::kFin) ? 1u : 0u));
      rtt_seq_.reset();
      emit_plan(now, *p, emit);
      return true;
    }
  }
  if (snd_una_ == snd_max_ && now - last_send_ > rtt_.rto() && snd_nxt_ < data_end()) {
    cc_->on_idle_restart(now, rtt_.rto());  // RFC 5681 §4.1
    last_send_ = now;
  }
  skip_sacked();
  if (std::optional<TxPlan> p = plan_data(now)) {
    emit_plan(now, *p, emit);
    return true;
  }
  if (in_recovery_) {
    if (std::optional<TxPlan> p = plan_rule3()) {
      high_rxt_ = seq_max(high_rxt_, p->seq + p->len);
      emit_plan(now, *p, emit);
      return true;
    }
  }
  update_persist(now);
  if (ack_now_ || window_update_due()) {
    emit_bare(now, snd_nxt_, emit);
    return true;
  }
  return false;
}

std::optional<Instant> Connection::poll_at() const noexcept {
  if (rst_pending_) return Instant{};
  if (state_ == State::kClosed || state_ == State::kListen) return std::nullopt;
  bool ready = syn_pending_ || ack_now_ || probe_pending_;
  if (!ready && state_ != State::kSynSent && state_ != State::kSynReceived) {
    // Recovery plans need in_recovery_: test it here, before building any plan (this runs once per poll).
    ready = (in_recovery_ && (plan_recovery().has_value() || plan_rule3().has_value())) ||
            plan_data(Instant{}).has_value() || window_update_due();
  }
  if (ready) return Instant{};
  std::optional<Instant> at;
  auto consider = [&at](const std::optional<Instant>& t) {
    if (t && (!at || *t < *at)) at = t;
  };
  consider(rto_at_);
  consider(delack_at_);
  consider(persist_at_);
  consider(keepalive_at_);
  consider(time_wait_at_);
  return at;
}

}  // namespace tapstack::tcp
