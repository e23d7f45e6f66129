// TCP behaviour against real traces (tests/data, see its README): tcp::Connection plays one endpoint of each
// recorded conversation, fed the other side's segments at their recorded times on a virtual clock; the test
// asserts what it emits (seq/ack/flags/options/window) against the trace's endpoint or RFC 9293 where they differ.
#include "tap/pcap_replay.hpp"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <vector>

#include "ip/address.hpp"
#include "ip/transport.hpp"
#include "segment_builder.hpp"
#include "stack/random.hpp"
#include "stack/time.hpp"
#include "tcp/config.hpp"
#include "tcp/connection.hpp"
#include "tcp/wire.hpp"

namespace tapstack::tcp {
namespace {

using testing::SegmentBuilder;

constexpr std::uint64_t kSeed = 7;

std::string data_path(const std::string& name) {
  const char* dir = std::getenv("TAPSTACK_TEST_DATA");
  return std::string(dir != nullptr ? dir : "tests/data") + "/" + name;
}

// The byte a headers-only capture is given at sequence number `seq`.
std::byte synthetic_byte(std::uint32_t seq) { return std::byte('a' + seq % 26); }

// One TCP segment of a trace: the bytes as captured and the pseudo-header of the captured IP header.
struct TraceSegment {
  std::size_t frame = 0;  // 1-based, as tcpdump counts
  Instant at;             // capture time relative to the trace's first frame, plus the replay's start
  std::vector<std::byte> bytes;
  ip::PseudoHeader pseudo;
  bool checksum_ok = false;
  bool snapped = false;  // payload not in the capture: synthesized (see load_trace)

  // Parsed with checksum verification; a frame captured with checksum offload (checksum_ok false) is parsed
  // with Repr::parse_unverified, the replay's stand-in for the NIC that would have filled the checksum in.
  // The payload borrows `bytes`.
  Repr repr() const {
    const auto v = View::parse(Bytes{bytes});
    EXPECT_TRUE(v) << "frame " << frame;
    if (!v) return {};
    auto r = checksum_ok ? Repr::parse(*v, pseudo) : Repr::parse_unverified(*v);
    EXPECT_TRUE(r) << "frame " << frame;
    return r.value_or(Repr{});
  }
  Bytes payload() const { return repr().payload; }
};

// Every IPv4/TCP frame of an Ethernet pcap or pcapng, loaded through the replay link's reader. The IP header
// is walked by hand (IHL, total length, Ethernet padding trimmed) so ip/'s parser is not under test here.
std::vector<TraceSegment> load_trace(const std::string& name, Instant start = {}) {
  const std::vector<tap::TimedFrame> frames = tap::PcapReplayLink::read_all(data_path(name));
  std::vector<TraceSegment> out;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const Bytes b{frames[i].bytes};
    if (b.size() < 14 + 20 || load_be16(b, 12) != 0x0800) continue;
    const Bytes ip4 = b.subspan(14);
    const std::size_t ihl = std::size_t(load_u8(ip4, 0) & 0x0f) * 4;
    const std::size_t total = load_be16(ip4, 2);
    if (load_u8(ip4, 9) != 6 || ihl < 20 || total < ihl + kHeaderLen || ihl + kHeaderLen > ip4.size()) continue;
    TraceSegment s;
    s.frame = i + 1;
    s.at = start + (frames[i].at - frames.front().at);
    if (total <= ip4.size()) {
      const Bytes tcp = ip4.subspan(ihl, total - ihl);
      s.bytes.assign(tcp.begin(), tcp.end());
    } else {
      // Captured with a short snap length (headers only): the payload is synthesized from the sequence
      // number, so a retransmission carries the same bytes as the original.
      const Bytes head = ip4.subspan(ihl);
      const std::size_t hlen = std::size_t(load_u8(head, field::kDataOffset) >> 4) * 4;
      if (hlen < kHeaderLen || hlen > head.size()) continue;
      s.snapped = true;
      s.bytes.assign(head.begin(), head.begin() + std::ptrdiff_t(hlen));
      const std::uint32_t seq = load_be32(head, field::kSeq);
      for (std::size_t k = 0; k < total - ihl - hlen; ++k) s.bytes.push_back(synthetic_byte(seq + std::uint32_t(k)));
    }
    s.pseudo = {ip::Ipv4Address::from_bytes(ip4.subspan(12)), ip::Ipv4Address::from_bytes(ip4.subspan(16)),
                std::uint8_t(ip::IpProtocol::kTcp), std::uint32_t(s.bytes.size())};
    const auto v = View::parse(Bytes{s.bytes});
    s.checksum_ok = v && Repr::parse(*v, s.pseudo).has_value();
    out.push_back(std::move(s));
  }
  return out;
}

// The trace's addresses are replaced by documentation ones (RFC 5737); the recorded ports are kept.
FourTuple tuple(std::uint16_t local_port, std::uint16_t remote_port) {
  return {{ip::Ipv4Address{{192, 0, 2, 1}}, local_port}, {ip::Ipv4Address{{198, 51, 100, 2}}, remote_port}};
}
ip::PseudoHeader our_pseudo() {
  return {ip::Ipv4Address{{192, 0, 2, 1}}, ip::Ipv4Address{{198, 51, 100, 2}}, std::uint8_t(ip::IpProtocol::kTcp), 0};
}

std::string str(Bytes b) { return std::string(as_chars(b)); }

// A segment the connection emitted, with its payload copied out of the send buffer.
struct Captured {
  Instant at;
  Repr repr;
  std::vector<std::byte> data;
  Repr get() const {
    Repr r = repr;
    r.payload = Bytes{data};
    return r;
  }
};

// The stack's side of a replay: one Connection on a virtual clock. Every emitted segment is serialized and
// parsed back by libtins (an independent parser) and by our verifying parser, and the right edge of the
// window it advertises (SEG.ACK + SEG.WND << shift) must never move left (RFC 9293 §3.8.6, RFC 7323 §2.4).
class Endpoint {
 public:
  using Factory = std::function<std::unique_ptr<Connection>(Rng&)>;
  Endpoint(Instant start, const Factory& make) : now{start}, conn{make(rng)} {
    SeededRng probe{kSeed};
    ts_offset_ = probe.next_u32();  // the connection's first draw is its RFC 7323 §5.4 TS offset
    drain();
  }

  // Our TSval at `at`.
  std::uint32_t our_ts(Instant at) const { return std::uint32_t(at.millis()) + ts_offset_; }

  // Delivers the peer's segment at `at`. A recorded TSecr echoes the recorded endpoint's clock, not ours:
  // it is replaced by the TSval of our latest segment (RFC 7323 §4.3: the peer echoes our TS.Recent).
  void deliver(Instant at, Repr seg) {
    run_until(at);
    if (seg.timestamps && seg.timestamps->tsecr != 0 && last_tsval_) seg.timestamps->tsecr = *last_tsval_;
    conn->on_segment(now, seg);
    drain();
  }
  void deliver(const TraceSegment& s) { deliver(s.at, s.repr()); }

  // The next emitted segment (emitted by `at` at the latest); a failure if none.
  std::optional<Captured> next(Instant at, std::source_location loc = std::source_location::current()) {
    run_until(at);
    if (out.empty()) {
      ADD_FAILURE_AT(loc.file_name(), int(loc.line())) << "nothing emitted by " << at;
      return std::nullopt;
    }
    Captured c = std::move(out.front());
    out.pop_front();
    return c;
  }
  // Asserts that the next segment was emitted exactly at `at` and equals `want`.
  void expect_sent(Instant at, const Repr& want, std::source_location loc = std::source_location::current()) {
    const std::optional<Captured> c = next(at, loc);
    if (!c) return;
    const Repr got = c->get();
    if (c->at != at || !(got == want)) {
      ADD_FAILURE_AT(loc.file_name(), int(loc.line()))
          << "at " << c->at << " emitted\n  " << got << " len " << got.payload.size() << "\nwanted at " << at << "\n  "
          << want << " len " << want.payload.size();
    }
  }
  void expect_nothing(Instant until, std::source_location loc = std::source_location::current()) {
    run_until(until);
    if (!out.empty()) {
      ADD_FAILURE_AT(loc.file_name(), int(loc.line()))
          << "unexpected at " << out.front().at << ": " << out.front().get();
      out.clear();
    }
  }

  // Moves virtual time to `t`, visiting every poll_at() instant on the way.
  void run_until(Instant t) {
    drain();
    for (int guard = 0; guard < 100000; ++guard) {
      const std::optional<Instant> p = conn->poll_at();
      if (!p || *p > t) break;
      if (*p > now) now = *p;
      const std::size_t before = out.size();
      drain();
      const std::optional<Instant> after = conn->poll_at();
      if (out.size() == before && after && *after <= now && !conn->is_closed()) {
        ADD_FAILURE() << "poll_at() says " << *after << " (now " << now << ") but poll_transmit emits nothing";
        break;
      }
    }
    if (t > now) now = t;
    drain();
  }
  void drain() {
    for (int i = 0; i < 10000; ++i) {
      const bool sent = conn->poll_transmit(now, [this](const Repr& r) {
        check_on_wire(r);
        Captured c{now, r, std::vector<std::byte>(r.payload.begin(), r.payload.end())};
        c.repr.payload = {};
        out.push_back(std::move(c));
        if (r.timestamps) last_tsval_ = r.timestamps->tsval;
      });
      if (!sent) return;
    }
    ADD_FAILURE() << "poll_transmit never stops";
  }

  // Received bytes so far (the application reads as data arrives).
  std::string read_all() {
    std::string s;
    std::vector<std::byte> buf(4096);
    for (std::size_t n; (n = conn->recv(buf)) != 0;) s += as_chars(Bytes{buf.data(), n});
    return s;
  }

  SeededRng rng{kSeed};
  Instant now;
  std::unique_ptr<Connection> conn;
  std::deque<Captured> out;
  std::uint8_t rcv_shift = 0;  // our window scale (RFC 7323 §2.3), applied to non-SYN window fields

 private:
  void check_on_wire(const Repr& r) {
    const std::vector<std::byte> wire = testing::emit_to_vector(r, our_pseudo());
    const auto back = Repr::parse(*View::parse(Bytes{wire}), our_pseudo());
    EXPECT_TRUE(back) << "our own segment fails its checksum: " << r;
    const Tins::TCP t(reinterpret_cast<const std::uint8_t*>(wire.data()), std::uint32_t(wire.size()));
    EXPECT_EQ(t.sport(), r.src_port);
    EXPECT_EQ(t.dport(), r.dst_port);
    EXPECT_EQ(t.seq(), r.seq.value());
    EXPECT_EQ(unsigned(t.flags()), unsigned(std::uint8_t(r.flags())));
    if (r.ack) {
      EXPECT_EQ(t.ack_seq(), r.ack->value());
    }
    EXPECT_EQ(t.window(), r.window);
    EXPECT_EQ(t.search_option(Tins::TCP::TSOPT) != nullptr, r.timestamps.has_value());
    EXPECT_EQ(t.search_option(Tins::TCP::SACK) != nullptr, r.sack_count != 0);
    if (r.ack && !r.has_flags(Control::kSyn)) {
      const SeqNum edge = *r.ack + (std::uint32_t(r.window) << rcv_shift);
      if (edge_) {
        EXPECT_GE(edge, *edge_) << "the advertised window shrank: " << r;
      }
      edge_ = edge_ ? seq_max(*edge_, edge) : edge;
    }
  }

  std::uint32_t ts_offset_ = 0;
  std::optional<std::uint32_t> last_tsval_;
  std::optional<SeqNum> edge_;
};

// SegmentBuilder for what we send: our port first.
SegmentBuilder ours(std::uint16_t local_port, std::uint16_t remote_port) {
  return SegmentBuilder().ports(local_port, remote_port);
}

// ---------------------------------------------------------------------------------------------------------
// tcp_rst_bad_ack_synsent.pcap: client SYN, an injected RST,ACK whose ack = ISN (not ISN + 1), then the real
// SYN-ACK. We are the client (1.2.0.2:2527 in the trace).

TEST(TcpPcapReplay, SynSent_RstAckingIsnIsIgnored_ThenHandshakeCompletes) {
  const auto trace = load_trace("tcp_rst_bad_ack_synsent.pcap");
  ASSERT_EQ(trace.size(), 9u);
  for (const auto& s : trace) EXPECT_TRUE(s.checksum_ok) << "frame " << s.frame;
  constexpr std::uint16_t kUs = 2527, kPeer = 6649;
  const Repr syn = trace[0].repr();
  ASSERT_EQ(syn.src_port, kUs);
  const SeqNum iss = syn.seq;  // 1569339004
  const Repr rst = trace[1].repr();
  ASSERT_EQ(rst.flags(), Control::kRst | Control::kAck);
  ASSERT_EQ(rst.ack, iss);  // the bad ack: SND.UNA (= ISS), not ISS + 1
  const Repr synack = trace[2].repr();
  ASSERT_EQ(synack.flags(), Control::kSyn | Control::kAck);
  const SeqNum irs = synack.seq;  // 1616457233

  // A 16 KiB receive buffer gives the recorded SYN's window 16384 and wscale 0; MSS 1372 as recorded.
  ConnectionConfig cfg;
  cfg.recv_buffer = 16 << 10;
  Endpoint ep(trace[0].at, [&](Rng& rng) {
    return std::make_unique<Connection>(trace[0].at, tuple(kUs, kPeer), iss, *syn.mss, cfg, rng);
  });
  // Our SYN offers what the recorded one did: mss 1372, wscale 0, TS, sackOK (window 16384 as recorded).
  const Repr want_syn = ours(kUs, kPeer)
                            .seq(iss)
                            .syn()
                            .window(syn.window)
                            .mss(1372)
                            .wscale(0)
                            .sack_permitted()
                            .timestamps(ep.our_ts(trace[0].at), 0)
                            .build();
  ep.expect_sent(trace[0].at, want_syn);

  // RFC 9293 §3.10.7.3 (SYN-SENT, first check): SEG.ACK =< ISS is unacceptable, and a RST is then dropped
  // without an answer. The connection stays in SYN-SENT with no error.
  ep.deliver(trace[1]);
  EXPECT_EQ(ep.conn->state(), State::kSynSent);
  EXPECT_FALSE(ep.conn->error());
  // The SYN-ACK is 1.27 s late: our SYN goes again at the initial RTO of 1 s (RFC 6298 §2.1), same ISS.
  ep.expect_nothing(trace[0].at + seconds{1} - microseconds{1});
  SegmentBuilder rexmit = ours(kUs, kPeer).seq(iss).syn().window(syn.window).mss(1372).wscale(0).sack_permitted();
  rexmit.timestamps(ep.our_ts(trace[0].at + seconds{1}), 0);
  ep.expect_sent(trace[0].at + seconds{1}, rexmit.build());
  EXPECT_EQ(ep.conn->state(), State::kSynSent);

  // The real SYN-ACK (mss 1440, wscale 2, TS val 0, sackOK): ESTABLISHED, and we ACK <SEQ=ISS+1><ACK=IRS+1>.
  ep.deliver(trace[2]);
  EXPECT_EQ(ep.conn->state(), State::kEstablished);
  EXPECT_FALSE(ep.conn->error());
  EXPECT_EQ(ep.conn->send_mss(), 1372 - 12);  // min(1440, 1372) less the timestamp option
  ep.expect_sent(
      trace[2].at,
      ours(kUs, kPeer).seq(iss + 1).ack(irs + 1).window(16384).timestamps(ep.our_ts(trace[2].at), 0).build());

  // The client's request (frame 5): our application sends the recorded 25 bytes.
  const Repr req = trace[4].repr();
  ASSERT_EQ(req.src_port, kUs);
  ASSERT_EQ(req.payload.size(), 25u);
  ep.run_until(trace[4].at);
  EXPECT_EQ(ep.conn->send(req.payload), 25u);
  SegmentBuilder data = ours(kUs, kPeer).seq(iss + 1).ack(irs + 1).psh().window(16384);
  data.timestamps(ep.our_ts(trace[4].at), 0).payload(str(req.payload));
  ep.expect_sent(trace[4].at, data.build());

  // The server ACKs it (frame 6), then resets at exactly RCV.NXT (frame 7): RFC 5961 §3.2 accepts it.
  ep.deliver(trace[5]);
  ep.expect_nothing(trace[5].at);
  ASSERT_EQ(trace[6].repr().seq, irs + 1);
  ep.deliver(trace[6]);
  EXPECT_EQ(ep.conn->state(), State::kClosed);
  EXPECT_EQ(ep.conn->error(), std::make_error_code(std::errc::connection_reset));
  EXPECT_TRUE(ep.conn->is_closed());
  // The recorded client still sent 150 bytes (frame 8); our connection refuses them. The last RST is ignored.
  EXPECT_EQ(ep.conn->send(trace[7].payload()), 0u);
  ep.deliver(trace[8]);
  ep.expect_nothing(trace[8].at + seconds{10});
}

// ---------------------------------------------------------------------------------------------------------
// tcp_dns_over_tcp_lifecycle.pcap: we are the client (192.168.1.11:33779 in the trace). The SYN-ACK carries
// only MSS 1460, so SACK, timestamps and window scaling are off for the whole connection.

TEST(TcpPcapReplay, DnsOverTcp_PeerRefusesOptions_QueryResponseCloseTimeWait) {
  const auto trace = load_trace("tcp_dns_over_tcp_lifecycle.pcap");
  ASSERT_EQ(trace.size(), 11u);
  for (const auto& s : trace) EXPECT_TRUE(s.checksum_ok) << "frame " << s.frame;
  constexpr std::uint16_t kUs = 33779, kPeer = 53;
  const Repr syn = trace[0].repr();
  const SeqNum iss = syn.seq;              // 603899916
  const SeqNum irs = trace[1].repr().seq;  // 2043824403

  // The default configuration (4 MiB receive buffer) offers wscale 7, as the recorded client did.
  const ConnectionConfig cfg;
  Endpoint ep(trace[0].at, [&](Rng& rng) {
    return std::make_unique<Connection>(trace[0].at, tuple(kUs, kPeer), iss, 1460, cfg, rng);
  });
  const std::optional<Captured> our_syn = ep.next(trace[0].at);
  ASSERT_TRUE(our_syn);
  EXPECT_EQ(our_syn->repr.flags(), Control::kSyn);
  EXPECT_EQ(our_syn->repr.seq, iss);
  EXPECT_EQ(our_syn->repr.mss, syn.mss);
  EXPECT_EQ(our_syn->repr.sack_permitted, syn.sack_permitted);
  EXPECT_EQ(our_syn->repr.window_scale, syn.window_scale);
  EXPECT_EQ(syn.window_scale, 7);
  EXPECT_EQ(our_syn->repr.timestamps, (Timestamps{ep.our_ts(trace[0].at), 0}));
  EXPECT_EQ(our_syn->repr.window, 65535);  // a SYN's window is never scaled (RFC 7323 §2.2)

  // SYN-ACK with only mss 1460 (RFC 7323 §1.3, RFC 2018 §2: each option needs both SYNs). Our ACK carries
  // no TS option and an unscaled window: 65535, not 4 MiB >> 7 = 32768.
  ep.deliver(trace[1]);
  EXPECT_EQ(ep.conn->state(), State::kEstablished);
  EXPECT_EQ(ep.conn->send_mss(), 1460);  // no 12 bytes of timestamps to leave room for
  ep.expect_sent(trace[1].at, ours(kUs, kPeer).seq(iss + 1).ack(irs + 1).window(65535).build());

  // Frame 4: the DNS query (2-byte length prefix + 56 bytes) as our application's data.
  const Repr query = trace[3].repr();
  ASSERT_EQ(query.payload.size(), 58u);
  EXPECT_EQ(load_be16(query.payload, 0), 56);
  ep.run_until(trace[3].at);
  EXPECT_EQ(ep.conn->send(query.payload), 58u);
  ep.expect_sent(trace[3].at,
                 ours(kUs, kPeer).seq(iss + 1).ack(irs + 1).psh().window(65535).payload(str(query.payload)).build());
  ep.deliver(trace[4]);  // the server's ACK of the query
  ep.expect_nothing(trace[4].at);

  // Frame 6: the 226-byte response, delivered to recv() whole; our ACK for it is delayed (40 ms).
  const Repr response = trace[5].repr();
  ASSERT_EQ(response.payload.size(), 226u);
  ep.deliver(trace[5]);
  const std::string got = ep.read_all();
  EXPECT_EQ(got, str(response.payload));
  EXPECT_EQ(load_be16(as_bytes(got), 0), 224);
  EXPECT_EQ(ep.conn->stats().bytes_in, 226u);

  // Frame 8: the recorded client closes 1.7 ms later; our FIN carries the pending ACK. The right edge of the
  // window stays where it was (receiver SWS avoidance, RFC 9293 §3.8.6.2.2: 226 bytes < one MSS), so the
  // field is 65535 - 226.
  ep.expect_nothing(trace[7].at);
  ep.conn->close();
  EXPECT_EQ(ep.conn->state(), State::kFinWait1);
  ep.expect_sent(trace[7].at, ours(kUs, kPeer).seq(iss + 59).ack(irs + 227).fin().window(65535 - 226).build());
  ep.deliver(trace[8]);  // ACK of our FIN
  EXPECT_EQ(ep.conn->state(), State::kFinWait2);
  ep.expect_nothing(trace[8].at);

  // Frame 10: the server's FIN+PSH. We ACK it at once and enter TIME-WAIT for 2*MSL (RFC 9293 §3.10.7.4).
  ASSERT_EQ(trace[9].repr().flags(), Control::kFin | Control::kPsh | Control::kAck);
  ep.deliver(trace[9]);
  EXPECT_EQ(ep.conn->state(), State::kTimeWait);
  EXPECT_TRUE(ep.conn->recv_finished());
  ep.expect_sent(trace[9].at, ours(kUs, kPeer).seq(iss + 60).ack(irs + 228).window(65535 - 227).build());
  ep.expect_nothing(trace[9].at + 2 * cfg.msl - microseconds{1});
  EXPECT_EQ(ep.conn->state(), State::kTimeWait);
  ep.run_until(trace[9].at + 2 * cfg.msl);
  EXPECT_EQ(ep.conn->state(), State::kClosed);
  EXPECT_TRUE(ep.conn->is_closed());
  EXPECT_FALSE(ep.conn->error());
  // Every segment we sent was matched exactly above (none after the SYN carried TS, SACK or a window scale):
  // SYN, ACK, query, FIN, ACK.
  const Connection::Stats st = ep.conn->stats();
  EXPECT_EQ(st.segs_out, 5u);
  EXPECT_EQ(st.retransmits, 0u);
}

// ---------------------------------------------------------------------------------------------------------
// tcp_handshake_data_fin_opts.pcap: we are the server (127.0.0.1:80), accepting the recorded SYN with the
// recorded server ISN. Frames 4 and 6 (the GET and the reply) were captured with checksum offload.

TEST(TcpPcapReplay, HttpServer_HandshakeOptions_GetReply_FinTeardown) {
  const auto trace = load_trace("tcp_handshake_data_fin_opts.pcap");
  ASSERT_EQ(trace.size(), 10u);
  for (const auto& s : trace) {
    EXPECT_EQ(s.checksum_ok, s.frame != 4 && s.frame != 6) << "frame " << s.frame;
  }
  constexpr std::uint16_t kUs = 80, kPeer = 55920;
  const Repr syn = trace[0].repr();
  const Repr rec_synack = trace[1].repr();
  const SeqNum irs = syn.seq;         // 928549246
  const SeqNum iss = rec_synack.seq;  // 930778609

  // A 128 KiB receive buffer gives wscale 2, as the recorded server; MSS 16396 (loopback MTU 16436).
  ConnectionConfig cfg;
  cfg.recv_buffer = 128 << 10;
  Endpoint ep(trace[0].at,
              [&](Rng& rng) { return Connection::accept(trace[0].at, tuple(kUs, kPeer), iss, syn, 16396, cfg, rng); });
  ep.rcv_shift = 2;
  // SYN-ACK: exactly the recorded options (mss 16396, sackOK, TS echoing the SYN's TSval, wscale 2).
  ep.expect_sent(trace[0].at, ours(kUs, kPeer)
                                  .seq(iss)
                                  .ack(irs + 1)
                                  .syn()
                                  .window(65535)
                                  .mss(*rec_synack.mss)
                                  .sack_permitted()
                                  .timestamps(ep.our_ts(trace[0].at), rec_synack.timestamps->tsecr)
                                  .wscale(*rec_synack.window_scale)
                                  .build());
  ep.deliver(trace[2]);
  EXPECT_EQ(ep.conn->state(), State::kEstablished);
  EXPECT_EQ(ep.conn->send_mss(), 16396 - 12);
  // Unlike the recorded server, we announce the scaled window at once: the SYN-ACK's (unscaled) 65535 is
  // less than half the 128 KiB buffer, so a window update is due (RFC 9293 §3.8.6.2.2): 128 KiB >> 2.
  SegmentBuilder update = ours(kUs, kPeer).seq(iss + 1).ack(irs + 1).window(32768);
  update.timestamps(ep.our_ts(trace[2].at), trace[2].repr().timestamps->tsval);
  ep.expect_sent(trace[2].at, update.build());
  ep.expect_nothing(trace[2].at);

  // Frame 4: the GET, 202 bytes (checksum offloaded). Delivered to recv(); its ACK is delayed.
  const Repr get = trace[3].repr();
  ASSERT_EQ(get.payload.size(), 202u);
  ep.deliver(trace[3]);
  EXPECT_EQ(ep.read_all(), str(get.payload));
  EXPECT_EQ(str(get.payload).substr(0, 16), "GET / HTTP/1.1\r\n");

  // The recorded server ACKed at frame 5 and replied at frame 6; we send the reply at frame 6's time, in one
  // segment (5559 < the 16384-byte MSS) with the ACK of the GET piggybacked: our ACK was still delayed.
  ep.expect_nothing(trace[5].at);
  const Repr reply = trace[5].repr();
  ASSERT_EQ(reply.payload.size(), 5559u);
  EXPECT_EQ(ep.conn->send(reply.payload), 5559u);
  // Its window: the right edge stays put (202 bytes < one MSS, RFC 9293 §3.8.6.2.2), and the field is
  // rounded up so the edge never moves left (RFC 7323 §2.4): ceil((131072 - 202) / 4) = 32718.
  SegmentBuilder want = ours(kUs, kPeer).seq(iss + 1).ack(irs + 203).psh().window(32718);
  want.timestamps(ep.our_ts(trace[5].at), get.timestamps->tsval).payload(str(reply.payload));
  ep.expect_sent(trace[5].at, want.build());
  ep.deliver(trace[6]);  // the client ACKs all 5559 bytes
  ep.expect_nothing(trace[6].at + seconds{1});

  // Frame 8: the client's FIN. We ACK it at once (CLOSE-WAIT); the application closes at frame 9's time:
  // <SEQ=ISS+5560><ACK=IRS+204><CTL=FIN,ACK>, LAST-ACK; the client's last ACK closes the connection.
  const Repr fin = trace[7].repr();
  ep.deliver(trace[7]);
  EXPECT_EQ(ep.conn->state(), State::kCloseWait);
  EXPECT_TRUE(ep.conn->recv_finished());
  const std::optional<Captured> fin_ack = ep.next(trace[7].at);
  ASSERT_TRUE(fin_ack);
  EXPECT_EQ(fin_ack->at, trace[7].at);
  EXPECT_EQ(fin_ack->repr.flags(), Control::kAck);
  EXPECT_EQ(fin_ack->repr.seq, iss + 5560);
  EXPECT_EQ(fin_ack->repr.ack, irs + 204);
  EXPECT_EQ(fin_ack->repr.window, 32718);  // ceil((131072 - 203) / 4)
  EXPECT_EQ(fin_ack->repr.timestamps, (Timestamps{ep.our_ts(trace[7].at), fin.timestamps->tsval}));
  ep.expect_nothing(trace[8].at);
  ep.conn->close();
  EXPECT_EQ(ep.conn->state(), State::kLastAck);
  const std::optional<Captured> our_fin = ep.next(trace[8].at);
  ASSERT_TRUE(our_fin);
  EXPECT_EQ(our_fin->repr.flags(), Control::kFin | Control::kAck);
  EXPECT_EQ(our_fin->repr.seq, trace[8].repr().seq);  // the recorded server's FIN: 930784169
  EXPECT_EQ(our_fin->repr.ack, trace[8].repr().ack);  // 928549450
  EXPECT_EQ(our_fin->repr.window, fin_ack->repr.window);
  EXPECT_EQ(our_fin->repr.timestamps, (Timestamps{ep.our_ts(trace[8].at), fin.timestamps->tsval}));
  ep.deliver(trace[9]);
  EXPECT_EQ(ep.conn->state(), State::kClosed);
  EXPECT_TRUE(ep.conn->is_closed());
  EXPECT_FALSE(ep.conn->error());
  EXPECT_EQ(ep.conn->stats().retransmits, 0u);
}

// ---------------------------------------------------------------------------------------------------------
// tcp_wscale_255_clamp.pcap: the client's SYN says wscale 255; RFC 7323 §2.3 makes it 14. We are the server.
// After the trace, the client keeps ACKing with a window field of 1: 1 << 14 = 16384 bytes (13 would be 8192,
// an unclamped or ignored shift 0 or 1 byte), and our sender never goes beyond that.

struct WscaleRun {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> sent;  // (seq offset from ISS + 1, length)
  std::uint32_t max_flight = 0;  // bytes outstanding after a segment sent once the window-1 ACKs began
  std::uint32_t acked = 0;
  std::uint64_t retransmits = 0;
};

WscaleRun run_wscale_255(const std::vector<TraceSegment>& trace, const Repr& syn) {
  constexpr std::uint16_t kUs = 80, kPeer = 40000;
  const SeqNum iss = trace[1].repr().seq;  // 5000, the recorded server's
  ConnectionConfig cfg;  // wscale 7, as the recorded server
  cfg.initial_buffer = 0;  // and its whole 4 MiB window from the start (no autotuning)
  Endpoint ep(trace[0].at,
              [&](Rng& rng) { return Connection::accept(trace[0].at, tuple(kUs, kPeer), iss, syn, 1460, cfg, rng); });
  ep.rcv_shift = 7;
  ep.expect_sent(trace[0].at,
                 ours(kUs, kPeer).seq(iss).ack(syn.seq + 1).syn().window(65535).mss(1460).wscale(7).build());
  ep.deliver(trace[2]);  // ACK, window 512 << 14
  EXPECT_EQ(ep.conn->state(), State::kEstablished);
  // The window update that announces the scaled window (4 MiB >> 7), as in the HTTP server test.
  ep.expect_sent(trace[2].at, ours(kUs, kPeer).seq(iss + 1).ack(syn.seq + 1).window(32768).build());
  const Repr data = trace[3].repr();
  ep.deliver(trace[3]);  // 5 bytes, window 65535 << 14
  EXPECT_EQ(ep.read_all(), str(data.payload));
  // Delayed ACK (40 ms; the recorded server took 100 ms).
  const Instant ack_at = trace[3].at + cfg.delayed_ack;
  ep.expect_nothing(ack_at - microseconds{1});
  const std::optional<Captured> a = ep.next(ack_at);
  if (a) {
    EXPECT_EQ(a->at, ack_at);
    EXPECT_EQ(a->repr.flags(), Control::kAck);
    EXPECT_EQ(a->repr.seq, iss + 1);
    EXPECT_EQ(a->repr.ack, syn.seq + 6);
  }

  // Beyond the trace: the application sends 64 KiB; the client ACKs each segment 1 ms apart, window field 1.
  WscaleRun run;
  constexpr std::uint32_t kTotal = 64 << 10;
  const std::string bulk(kTotal, 'x');
  Instant t = trace[4].at;
  ep.run_until(t);
  EXPECT_EQ(ep.conn->send(as_bytes(bulk)), kTotal);
  const SeqNum base = iss + 1;
  SeqNum una = base;
  SeqNum high = base;
  std::deque<SeqNum> to_ack;
  std::optional<std::uint32_t> peer_window;  // bytes, once the window-1 ACKs begin
  auto collect = [&] {
    while (!ep.out.empty()) {
      const Captured c = std::move(ep.out.front());
      ep.out.pop_front();
      const std::uint32_t len = std::uint32_t(c.data.size());
      if (len == 0) continue;
      const SeqNum end = c.repr.seq + len;
      run.sent.emplace_back(std::uint32_t(c.repr.seq - base), len);
      if (high < end) high = end;
      if (peer_window) {
        EXPECT_LE(std::uint32_t(end - una), *peer_window) << "beyond the peer's window";
        run.max_flight = std::max(run.max_flight, std::uint32_t(high - una));
      }
      to_ack.push_back(end);
    }
  };
  ep.run_until(t);
  collect();
  for (int i = 0; i < 1000 && !to_ack.empty(); ++i) {
    t += milliseconds{1};
    const SeqNum ack = to_ack.front();
    to_ack.pop_front();
    SegmentBuilder b = SegmentBuilder().ports(kPeer, kUs).seq(syn.seq + 6).ack(ack).window(1);
    ep.deliver(t, b.build());
    una = ack;
    peer_window = 1u << std::min<unsigned>(syn.window_scale.value_or(0), kMaxWindowScale);
    collect();
  }
  run.acked = std::uint32_t(una - base);
  run.retransmits = ep.conn->stats().retransmits;
  return run;
}

TEST(TcpPcapReplay, WindowScale255_TreatedAs14_SenderStaysInsideTheWindow) {
  const auto trace = load_trace("tcp_wscale_255_clamp.pcap");
  ASSERT_EQ(trace.size(), 5u);
  for (const auto& s : trace) EXPECT_TRUE(s.checksum_ok) << "frame " << s.frame;
  Repr syn = trace[0].repr();
  ASSERT_EQ(syn.window_scale, 14);  // the parser clamps (RFC 7323 §2.3)...
  const WscaleRun parsed = run_wscale_255(trace, syn);
  // 16384 bytes allow 11 full 1460-byte segments (more than the initial window of 10, RFC 6928); the 324
  // bytes left are held by sender SWS avoidance (RFC 9293 §3.8.6.2.1).
  EXPECT_EQ(parsed.max_flight, 11u * 1460);
  EXPECT_EQ(parsed.acked, 64u << 10);
  EXPECT_EQ(parsed.retransmits, 0u);

  syn.window_scale = 255;  // ...and so does the connection, for a Repr that did not come through the parser
  const WscaleRun raw = run_wscale_255(trace, syn);
  EXPECT_EQ(raw.sent, parsed.sent);
  EXPECT_EQ(raw.max_flight, parsed.max_flight);
  EXPECT_EQ(raw.acked, parsed.acked);

  // The assertion has teeth: a peer that really says 13 gets 8192 bytes, 5 full segments.
  syn.window_scale = 13;
  EXPECT_EQ(run_wscale_255(trace, syn).max_flight, 5u * 1460);
}

// ---------------------------------------------------------------------------------------------------------
// tcp_fast_retransmit.pcap: an HTTP download with loss, captured at the sender with checksums 0 (offload)
// and headers only (snap length 54: load_trace synthesizes each payload byte from its sequence number, so
// the stream check below still proves every byte arrives once, in order). We are the receiving client
// (10.0.88.85:50368). The capture shows what the server sent, not what arrived: the receiver's ACKs (cumulative ack
// 4249398646 then SACK left edges 4249400076, and later SACK blocks {4249407226..}{4249400076:4249404366}) say which
// bytes never arrived. The replay drops exactly those bytes from the first transmissions; the retransmissions
// (4249398646:4249400076, 4249404366:4249407226) are delivered whole.

TEST(TcpPcapReplay, FastRetransmit_ReceiverSacksTheHoles_RetransmissionsFillThem) {
  const auto trace = load_trace("tcp_fast_retransmit.pcap");
  ASSERT_EQ(trace.size(), 39u);
  for (const auto& s : trace) EXPECT_FALSE(s.checksum_ok) << "frame " << s.frame;  // all zero
  constexpr std::uint16_t kUs = 50368, kPeer = 80;
  const Repr syn = trace[0].repr();
  const Repr synack = trace[1].repr();
  const SeqNum iss = syn.seq;     // 414291386
  const SeqNum irs = synack.seq;  // 4249385775
  struct Lost {
    SeqNum left, right;
  };
  const Lost lost[] = {{SeqNum{4249398646u}, SeqNum{4249400076u}}, {SeqNum{4249404366u}, SeqNum{4249407226u}}};

  // mss 1452 + SACK-permitted, no timestamps, no window scaling, a 64 KiB buffer: the recorded SYN exactly.
  ConnectionConfig cfg;
  cfg.recv_buffer = 64 << 10;
  cfg.timestamps = false;
  cfg.window_scaling = false;
  Endpoint ep(trace[0].at, [&](Rng& rng) {
    return std::make_unique<Connection>(trace[0].at, tuple(kUs, kPeer), iss, *syn.mss, cfg, rng);
  });
  ep.expect_sent(trace[0].at, ours(kUs, kPeer).seq(iss).syn().window(syn.window).mss(1452).sack_permitted().build());
  ep.deliver(trace[1]);
  EXPECT_EQ(ep.conn->state(), State::kEstablished);
  EXPECT_EQ(ep.conn->send_mss(), 1430);  // min(1430, 1452), no option overhead
  ep.expect_sent(trace[1].at, ours(kUs, kPeer).seq(iss + 1).ack(irs + 1).window(65535).build());
  // The HTTP request (frame 4) as our application's data.
  const Repr req = trace[3].repr();
  ASSERT_EQ(req.payload.size(), 474u);
  ep.run_until(trace[3].at);
  EXPECT_EQ(ep.conn->send(req.payload), 474u);
  ep.expect_sent(trace[3].at,
                 ours(kUs, kPeer).seq(iss + 1).ack(irs + 1).psh().window(65535).payload(str(req.payload)).build());

  // The server's byte stream as the trace shows it (first transmissions and retransmissions agree).
  std::string stream;
  SeqNum highest = irs + 1;
  std::string delivered;
  struct Ack {
    SeqNum ack;
    std::vector<SackBlock> sacks;
  };
  std::vector<Ack> acks;
  std::size_t data_segments = 0, retransmissions = 0;
  for (std::size_t i = 4; i < trace.size(); ++i) {
    const Repr seg = trace[i].repr();
    if (seg.src_port != kPeer) continue;
    if (seg.payload.empty()) {
      ep.deliver(trace[i]);  // the server's ACK of the request
      continue;
    }
    ++data_segments;
    EXPECT_TRUE(trace[i].snapped) << "frame " << trace[i].frame;
    const SeqNum start = seg.seq;
    const SeqNum end = seg.seq + std::uint32_t(seg.payload.size());
    const std::size_t off = std::size_t(start - (irs + 1));
    if (stream.size() < off + seg.payload.size()) stream.resize(off + seg.payload.size());
    const std::string bytes = str(seg.payload);
    if (start < highest) {
      ++retransmissions;
      EXPECT_EQ(stream.substr(off, bytes.size()), bytes) << "frame " << trace[i].frame << " resends other bytes";
      ep.deliver(trace[i]);
    } else {
      stream.replace(off, bytes.size(), bytes);
      // A first transmission: deliver what is outside the lost ranges.
      SeqNum from = start;
      for (const Lost& l : lost) {
        if (l.right <= from || end <= l.left) continue;
        if (from < l.left) {
          Repr part = seg;
          part.seq = from;
          part.payload = seg.payload.subspan(std::size_t(from - start), std::size_t(l.left - from));
          ep.deliver(trace[i].at, part);
        }
        from = seq_min(l.right, end);
      }
      if (from < end) {
        Repr part = seg;
        part.seq = from;
        part.payload = seg.payload.subspan(std::size_t(from - start));
        ep.deliver(trace[i].at, part);
      }
      highest = end;
    }
    delivered += ep.read_all();
    for (; !ep.out.empty(); ep.out.pop_front()) {
      const Repr r = ep.out.front().get();
      EXPECT_EQ(r.flags(), Control::kAck);
      EXPECT_EQ(r.seq, iss + 475);
      EXPECT_TRUE(r.payload.empty());
      acks.push_back({*r.ack, {r.sacks().begin(), r.sacks().end()}});
    }
  }
  EXPECT_EQ(data_segments, 20u);
  EXPECT_EQ(retransmissions, 3u);

  // Every ACK we sent, in order (RFC 5681 §4.2, RFC 2018 §4: the block holding the newest segment first).
  auto s = [](std::uint32_t l, std::uint32_t r) { return SackBlock{SeqNum{l}, SeqNum{r}}; };
  const std::vector<std::pair<std::uint32_t, std::vector<SackBlock>>> want = {
      // in order: an ACK for every second full-sized segment
      {4249388668u, {}},
      {4249391560u, {}},
      {4249394452u, {}},
      {4249397344u, {}},
      // the 1302 bytes before the first hole: the delayed ACK (40 ms)
      {4249398646u, {}},
      // out of order, beyond the first hole: an immediate duplicate ACK each, with SACK
      {4249398646u, {s(4249400076u, 4249401522u)}},
      {4249398646u, {s(4249400076u, 4249402968u)}},
      {4249398646u, {s(4249400076u, 4249404366u)}},
      // beyond the second hole: two blocks, the newest first (these equal the recorded frames 33 and 35)
      {4249398646u, {s(4249407226u, 4249408656u), s(4249400076u, 4249404366u)}},
      {4249398646u, {s(4249407226u, 4249409559u), s(4249400076u, 4249404366u)}},
      // the retransmissions fill the holes: an immediate ACK each (the 1st and 3rd equal recorded frames 37, 38)
      {4249404366u, {s(4249407226u, 4249409559u)}},
      {4249405796u, {s(4249407226u, 4249409559u)}},
      {4249409559u, {}},
  };
  ASSERT_EQ(acks.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(acks[i].ack, SeqNum{want[i].first}) << "ACK " << i;
    EXPECT_EQ(acks[i].sacks, want[i].second) << "ACK " << i;
  }

  // The byte stream: every byte once, in order, equal to the trace's reassembled payload.
  ASSERT_EQ(stream.size(), 4249409559u - 4249385776u);
  EXPECT_EQ(delivered.size(), stream.size());
  EXPECT_TRUE(delivered == stream);
  for (std::size_t k = 0; k < stream.size(); ++k) {
    ASSERT_EQ(std::byte(stream[k]), synthetic_byte((irs + 1 + std::uint32_t(k)).value())) << "offset " << k;
  }
  EXPECT_EQ(ep.conn->stats().bytes_in, stream.size());

  // The recorded client aborts 60 s later (frame 39): RFC 9293 §3.10.5, <SEQ=SND.NXT><CTL=RST>.
  const TraceSegment& last = trace.back();
  ep.expect_nothing(last.at);
  ep.conn->abort();
  ep.expect_sent(last.at, ours(kUs, kPeer).seq(last.repr().seq).rst().build());
  EXPECT_TRUE(ep.conn->is_closed());
}

// ---------------------------------------------------------------------------------------------------------
// tcp_rto_retransmit.pcapng: a data segment, its ACK, and the same data again 5 minutes later. We are the
// receiving server (192.168.0.1:80). The trace starts mid-connection; the handshake is synthesized with the
// sequence numbers the trace implies (client ISN 1000, server ISN 2000, no options).

TEST(TcpPcapReplay, RetransmissionAfterLongIdle_IsReAckedNotDeliveredTwice) {
  const auto trace = load_trace("tcp_rto_retransmit.pcapng", Instant::from_millis(1000));
  ASSERT_EQ(trace.size(), 3u);
  for (const auto& s : trace) EXPECT_TRUE(s.checksum_ok) << "frame " << s.frame;
  constexpr std::uint16_t kUs = 80, kPeer = 51889;
  const Repr first = trace[0].repr();
  ASSERT_EQ(first.src_port, kPeer);
  ASSERT_EQ(first.flags(), Control::kAck);
  const SeqNum irs = first.seq - 1;   // 1000
  const SeqNum iss = *first.ack - 1;  // 2000
  ASSERT_EQ(trace[2].at - trace[0].at, seconds{300} + microseconds{10});

  ConnectionConfig cfg;
  cfg.recv_buffer = 8 << 10;  // window 8192, as the trace's
  const SegmentBuilder syn = SegmentBuilder().ports(kPeer, kUs).seq(irs).syn().window(8192);
  Endpoint ep(Instant{}, [&](Rng& rng) {
    return Connection::accept(Instant{}, tuple(kUs, kPeer), iss, syn.build(), 1460, cfg, rng);
  });
  ep.expect_sent(Instant{}, ours(kUs, kPeer).seq(iss).ack(irs + 1).syn().window(8192).mss(1460).build());
  ep.deliver(Instant::from_millis(1),
             SegmentBuilder().ports(kPeer, kUs).seq(irs + 1).ack(iss + 1).window(8192).build());
  EXPECT_EQ(ep.conn->state(), State::kEstablished);

  // Frame 1: 18 bytes. Delivered; the ACK follows after the delayed-ACK time (40 ms, RFC 9293 §3.8.6.3).
  ep.deliver(trace[0]);
  EXPECT_EQ(ep.read_all(), "GET / HTTP/1.1\r\n\r\n");
  ep.expect_nothing(trace[0].at + cfg.delayed_ack - microseconds{1});
  // The right edge stays at 1001 + 8192 (receiver SWS avoidance): window 8192 - 18.
  const Repr want_ack = ours(kUs, kPeer).seq(iss + 1).ack(irs + 19).window(8192 - 18).build();
  ep.expect_sent(trace[0].at + cfg.delayed_ack, want_ack);

  // Five idle minutes: nothing to send, no keepalive (off by default, RFC 1122 §4.2.3.6).
  ep.expect_nothing(trace[2].at - microseconds{1});
  // Frame 3: the same 18 bytes again, entirely below RCV.NXT: not acceptable (RFC 9293 §3.10.7.4 first
  // check), answered at once with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and not delivered again.
  ep.deliver(trace[2]);
  ep.expect_sent(trace[2].at, want_ack);
  EXPECT_FALSE(ep.conn->can_recv());
  EXPECT_EQ(ep.read_all(), "");
  EXPECT_EQ(ep.conn->stats().bytes_in, 18u);
  EXPECT_EQ(ep.conn->state(), State::kEstablished);
  ep.expect_nothing(trace[2].at + seconds{1});
}

}  // namespace
}  // namespace tapstack::tcp
