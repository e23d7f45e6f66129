// Transcript harness for tcp::Connection (STYLE.md "Tests"): fixtures by state, builders for the peer's and our
// segments, and assertions on exactly what the connection emits at which virtual time. Also a two-connection
// in-memory wire for loopback tests. Deterministic: virtual clock, SeededRng, no threads.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <source_location>
#include <sstream>
#include <string>
#include <vector>

#include "ip/address.hpp"
#include "segment_builder.hpp"
#include "stack/random.hpp"
#include "stack/time.hpp"
#include "tcp/config.hpp"
#include "tcp/connection.hpp"

namespace tapstack::tcp::testing {

inline constexpr std::uint16_t kLocalPort = 40000;
inline constexpr std::uint16_t kRemotePort = 80;
inline constexpr std::uint32_t kLocalIss = 1000;
inline constexpr std::uint32_t kRemoteIss = 5000;
inline constexpr std::uint16_t kMss = 1460;
inline constexpr std::uint64_t kSeed = 42;

inline Instant ms(std::int64_t v) { return Instant::from_millis(v); }
inline Instant us(std::int64_t v) { return Instant::from_micros(v); }

// 192.0.2.1:40000 (us) <-> 198.51.100.2:80 (the peer).
inline FourTuple v4_tuple() {
  return {{ip::Ipv4Address{{192, 0, 2, 1}}, kLocalPort}, {ip::Ipv4Address{{198, 51, 100, 2}}, kRemotePort}};
}
inline FourTuple v6_tuple() {
  return {{*ip::Ipv6Address::parse("2001:db8::1"), kLocalPort}, {*ip::Ipv6Address::parse("2001:db8::2"), kRemotePort}};
}
inline FourTuple reversed(const FourTuple& t) { return {t.remote, t.local}; }

// The configuration the transcripts start from: no options (each test turns on what it is about), a 64 KiB
// receive buffer (window field 65535 when empty) and send buffer.
inline ConnectionConfig plain_config() {
  ConnectionConfig c;
  c.send_buffer = 64 << 10;
  c.recv_buffer = 64 << 10;
  c.sack = false;
  c.timestamps = false;
  c.window_scaling = false;
  c.congestion = CongestionAlgorithm::kNewReno;
  return c;
}

// A segment the connection emitted, with its payload copied out of the send buffer.
struct Captured {
  Instant at;
  Repr repr;
  std::vector<std::byte> data;
  Repr get() const {
    Repr r = repr;
    r.payload = Bytes{data.data(), data.size()};
    return r;
  }
};

inline std::string to_string(const Repr& r) {
  std::ostringstream os;
  os << r;
  if (!r.payload.empty()) os << " len " << r.payload.size();
  return os.str();
}

// The peer's options for the handshake fixtures.
struct PeerOptions {
  std::optional<std::uint16_t> mss = kMss;
  std::optional<std::uint8_t> wscale;
  bool sack = false;
  std::optional<Timestamps> ts;
  std::uint16_t window = 65535;
};

class TcpHarness {
 public:
  enum class Start { kSynSent, kSynReceived, kEstablished, kEstablishedPassive };

  // SYN-SENT: the SYN went out at t=0 and was checked.
  static TcpHarness syn_sent(const ConnectionConfig& cfg = plain_config(), SeqNum iss = SeqNum{kLocalIss}) {
    return TcpHarness(Start::kSynSent, cfg, iss, SeqNum{kRemoteIss}, PeerOptions{});
  }
  // SYN-RECEIVED from a passive open: the peer's SYN arrived, our SYN-ACK went out at t=0.
  static TcpHarness syn_received(const ConnectionConfig& cfg = plain_config(), PeerOptions peer = {},
                                 SeqNum iss = SeqNum{kLocalIss}, SeqNum irs = SeqNum{kRemoteIss}) {
    return TcpHarness(Start::kSynReceived, cfg, iss, irs, peer);
  }
  // ESTABLISHED by an active open at t=0 (SYN, SYN-ACK, ACK); nothing left in the transcript.
  static TcpHarness established(SeqNum iss = SeqNum{kLocalIss}, SeqNum irs = SeqNum{kRemoteIss},
                                const ConnectionConfig& cfg = plain_config(), PeerOptions peer = {}) {
    return TcpHarness(Start::kEstablished, cfg, iss, irs, peer);
  }
  static TcpHarness established(std::uint32_t iss, std::uint32_t irs, const ConnectionConfig& cfg = plain_config(),
                                PeerOptions peer = {}) {
    return established(SeqNum{iss}, SeqNum{irs}, cfg, peer);
  }
  // ESTABLISHED by a passive open at t=0 (SYN, SYN-ACK, ACK).
  static TcpHarness established_passive(const ConnectionConfig& cfg = plain_config(), PeerOptions peer = {},
                                        SeqNum iss = SeqNum{kLocalIss}, SeqNum irs = SeqNum{kRemoteIss}) {
    return TcpHarness(Start::kEstablishedPassive, cfg, iss, irs, peer);
  }

  TcpHarness(const TcpHarness&) = delete;
  TcpHarness& operator=(const TcpHarness&) = delete;

  // Builders: our segments (ports set, window = the empty receive buffer's field) and the peer's.
  SegmentBuilder ours() const { return SegmentBuilder().ports(kLocalPort, kRemotePort).window(empty_window_); }
  SegmentBuilder peer() const { return SegmentBuilder().ports(kRemotePort, kLocalPort).window(65535); }
  // Our TSval at `at` (the connection draws its TS offset first from a SeededRng(kSeed), RFC 7323 §5.4).
  std::uint32_t our_ts(Instant at) const { return std::uint32_t(at.millis()) + ts_offset_; }

  // Delivers a peer segment at `at` (time only moves forward; timers up to `at` run first).
  void receive(Instant at, const SegmentBuilder& b) {
    run_until(at);
    conn.on_segment(now, b.build());
    drain();
  }
  void receive(const SegmentBuilder& b) { receive(now, b); }

  // Runs until `at`, then asserts that the next segment emitted was emitted exactly at `at` and equals `want`.
  void expect_sent(Instant at, const SegmentBuilder& want, std::source_location loc = std::source_location::current()) {
    run_until(at);
    if (out.empty()) {
      ADD_FAILURE_AT(loc.file_name(), int(loc.line()))
          << "nothing emitted by " << at << "; wanted " << to_string(want.build());
      return;
    }
    const Captured c = std::move(out.front());
    out.pop_front();
    const Repr got = c.get();
    const Repr w = want.build();
    if (c.at != at || !(got == w)) {
      ADD_FAILURE_AT(loc.file_name(), int(loc.line()))
          << "at " << c.at << " emitted\n  " << to_string(got) << "\nwanted at " << at << "\n  " << to_string(w);
    }
  }
  // The next emitted segment (whatever it is), running until `at` at most; nullopt if none.
  std::optional<Captured> next_sent(Instant at) {
    run_until(at);
    if (out.empty()) return std::nullopt;
    Captured c = std::move(out.front());
    out.pop_front();
    return c;
  }
  // Runs until `until` and asserts that nothing was emitted meanwhile.
  void expect_nothing(Instant until, std::source_location loc = std::source_location::current()) {
    run_until(until);
    if (!out.empty()) {
      ADD_FAILURE_AT(loc.file_name(), int(loc.line()))
          << "unexpected at " << out.front().at << ": " << to_string(out.front().get());
      out.clear();
    }
  }
  // Drops whatever was emitted so far (draining what is due now first).
  std::size_t discard() {
    drain();
    const std::size_t n = out.size();
    out.clear();
    return n;
  }

  // Moves virtual time to `t`, visiting every poll_at() instant on the way and draining poll_transmit there.
  void run_until(Instant t) {
    drain();
    for (int guard = 0; guard < 100000; ++guard) {
      const std::optional<Instant> p = conn.poll_at();
      if (!p || *p > t) break;
      if (*p > now) now = *p;
      const std::size_t before = out.size();
      const bool state_before_closed = conn.is_closed();
      drain();
      const std::optional<Instant> after = conn.poll_at();
      if (out.size() == before && after && *after <= now && !state_before_closed && !conn.is_closed()) {
        ADD_FAILURE() << "poll_at() says " << *after << " (now " << now << ") but poll_transmit emits nothing";
        break;
      }
    }
    if (t > now) now = t;
    drain();
  }
  void drain() {
    for (int i = 0; i < 10000; ++i) {
      const bool sent = conn.poll_transmit(now, [this](const Repr& r) {
        Captured c{now, r, std::vector<std::byte>(r.payload.begin(), r.payload.end())};
        c.repr.payload = {};
        out.push_back(std::move(c));
      });
      if (!sent) return;
    }
    ADD_FAILURE() << "poll_transmit never stops";
  }

  SeededRng rng{kSeed};
  ConnectionConfig cfg;
  Instant now{};
  std::deque<Captured> out;
  std::unique_ptr<Connection> owned;
  Connection& conn;
  std::uint16_t empty_window_ = 65535;
  std::uint32_t ts_offset_ = 0;
  SeqNum iss, irs;

 private:
  static std::unique_ptr<Connection> make(Start start, const ConnectionConfig& cfg, SeqNum iss, SeqNum irs,
                                          const PeerOptions& peer, Rng& rng) {
    if (start == Start::kSynSent || start == Start::kEstablished) {
      return std::make_unique<Connection>(Instant{}, v4_tuple(), iss, kMss, cfg, rng);
    }
    SegmentBuilder syn;
    syn.ports(kRemotePort, kLocalPort).seq(irs).syn().window(peer.window);
    apply(syn, peer);
    return Connection::accept(Instant{}, v4_tuple(), iss, syn.build(), kMss, cfg, rng);
  }
  static void apply(SegmentBuilder& b, const PeerOptions& p) {
    if (p.mss) b.mss(*p.mss);
    if (p.wscale) b.wscale(*p.wscale);
    if (p.sack) b.sack_permitted();
    if (p.ts) b.timestamps(p.ts->tsval, p.ts->tsecr);
  }

  TcpHarness(Start start, const ConnectionConfig& c, SeqNum iss_in, SeqNum irs_in, PeerOptions peer)
      : cfg{c}, owned{make(start, c, iss_in, irs_in, peer, rng)}, conn{*owned}, iss{iss_in}, irs{irs_in} {
    SeededRng probe{kSeed};
    ts_offset_ = probe.next_u32();
    std::size_t cap = 1;
    while (cap < cfg.recv_buffer) cap <<= 1;
    std::uint8_t shift = 0;
    const bool scaled = cfg.window_scaling && peer.wscale.has_value();
    if (scaled) {
      while (shift < 14 && (cap >> shift) > 0xffff) ++shift;
    }
    empty_window_ = std::uint16_t(std::min<std::size_t>(cap >> shift, 0xffff));
    drain();
    if (start == Start::kSynSent) {
      EXPECT_EQ(out.size(), 1u);
      EXPECT_EQ(conn.state(), State::kSynSent);
      out.clear();
    } else if (start == Start::kEstablished) {
      out.clear();
      SegmentBuilder synack = this->peer();
      synack.seq(irs).ack(iss + 1).syn().window(peer.window);
      apply(synack, peer);
      conn.on_segment(now, synack.build());
      drain();
      EXPECT_EQ(conn.state(), State::kEstablished);
      EXPECT_EQ(out.size(), 1u);  // the ACK
      out.clear();
    } else if (start == Start::kSynReceived) {
      EXPECT_EQ(out.size(), 1u);  // the SYN-ACK
      EXPECT_EQ(conn.state(), State::kSynReceived);
      out.clear();
    } else {
      out.clear();
      SegmentBuilder ack = this->peer();
      ack.seq(irs + 1).ack(iss + 1).window(peer.window);
      if (peer.ts) ack.timestamps(peer.ts->tsval + 1, ts_offset_);
      conn.on_segment(now, ack.build());
      drain();
      EXPECT_EQ(conn.state(), State::kEstablished);
      out.clear();
    }
  }
};

// A string of n bytes with a recognizable pattern (byte i = 'a' + i % 26).
inline std::string pattern(std::size_t n, std::size_t start = 0) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = char('a' + (start + i) % 26);
  return s;
}

// Two connections wired back to back in memory: each one's emitted segments are copied, optionally dropped
// (SeededRng), and delivered to the other after `latency` of virtual time.
class Loopback {
 public:
  struct InFlight {
    Instant deliver_at;
    Repr repr;
    std::vector<std::byte> data;
  };

  Loopback(const ConnectionConfig& cfg, Duration latency, double loss, std::uint64_t seed = kSeed)
      : rng_a{seed}, rng_b{seed + 1}, loss_rng{seed + 2}, latency_{latency}, loss_{loss} {
    a = std::make_unique<Connection>(now, v4_tuple(), SeqNum{kLocalIss}, kMss, cfg, rng_a);
    // The SYN reaches B, which the "listener" turns into a passive connection.
    std::optional<Repr> syn;
    std::vector<std::byte> none;
    a->poll_transmit(now, [&](const Repr& r) { syn = r; });
    now += latency_;
    b = Connection::accept(now, reversed(v4_tuple()), SeqNum{kRemoteIss}, *syn, kMss, cfg, rng_b);
  }

  // One step: drain both, deliver what is due, advance time to the next event. False when nothing is left.
  bool step() {
    pump(*a, to_b_);
    pump(*b, to_a_);
    std::optional<Instant> next;
    auto consider = [&next](std::optional<Instant> t) {
      if (t && (!next || *t < *next)) next = t;
    };
    consider(a->poll_at());
    consider(b->poll_at());
    if (!to_a_.empty()) consider(to_a_.front().deliver_at);
    if (!to_b_.empty()) consider(to_b_.front().deliver_at);
    if (!next) return false;
    if (*next > now) now = *next;
    deliver(to_b_, *b, to_a_);
    deliver(to_a_, *a, to_b_);
    return true;
  }

  SeededRng rng_a, rng_b, loss_rng;
  Instant now{};
  std::unique_ptr<Connection> a, b;
  std::uint64_t dropped = 0, carried = 0;

 private:
  void pump(Connection& c, std::deque<InFlight>& q) {
    for (int i = 0; i < 100000; ++i) {
      const bool sent = c.poll_transmit(now, [&](const Repr& r) {
        ++carried;
        if (loss_ > 0 && loss_rng.chance(loss_)) {
          ++dropped;
          return;
        }
        InFlight f{now + latency_, r, std::vector<std::byte>(r.payload.begin(), r.payload.end())};
        f.repr.payload = {};
        q.push_back(std::move(f));
      });
      if (!sent) return;
    }
  }
  // Delivers what is due, one segment at a time, letting the receiver answer after each (as a layer that
  // polls after every packet would: one ACK per two segments, one duplicate ACK per out-of-order segment).
  void deliver(std::deque<InFlight>& q, Connection& c, std::deque<InFlight>& reply) {
    while (!q.empty() && q.front().deliver_at <= now) {
      InFlight f = std::move(q.front());
      q.pop_front();
      Repr r = f.repr;
      r.payload = Bytes{f.data.data(), f.data.size()};
      c.on_segment(now, r);
      pump(c, reply);
    }
  }

  Duration latency_;
  double loss_;
  std::deque<InFlight> to_a_, to_b_;
};

}  // namespace tapstack::tcp::testing
