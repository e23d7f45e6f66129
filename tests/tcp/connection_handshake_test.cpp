// Transcript tests of tcp::Connection's opening handshakes (RFC 9293 §3.5): active, passive, simultaneous,
// SYN retransmission, and the SYN-SENT RST rules (RFC 9293 §3.10.7.3, RFC 5961 §3.2).
#include <gtest/gtest.h>

#include "tcp_harness.hpp"

namespace tapstack::tcp::testing {
namespace {

TEST(TcpConnection, Active_ThreeWayHandshake) {
  SeededRng rng{kSeed};
  const ConnectionConfig cfg = plain_config();
  auto h = TcpHarness::syn_sent(cfg);
  EXPECT_EQ(h.conn.state(), State::kSynSent);
  EXPECT_FALSE(h.conn.is_established());
  h.receive(ms(10), h.peer().seq(kRemoteIss).ack(kLocalIss + 1).syn().mss(1460).window(30000));
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  EXPECT_TRUE(h.conn.is_established());
  h.expect_sent(ms(10), h.ours().seq(kLocalIss + 1).ack(kRemoteIss + 1));
  h.expect_nothing(ms(100000));
  EXPECT_EQ(h.conn.stats().srtt, std::optional<Duration>{milliseconds{10}});  // timed SYN (Karn: sent once)
}

TEST(TcpConnection, Active_SynIsFirstSegment) {
  SeededRng rng{kSeed};
  Connection c{Instant{}, v4_tuple(), SeqNum{kLocalIss}, kMss, plain_config(), rng};
  std::optional<Repr> syn;
  EXPECT_EQ(c.poll_at(), std::optional<Instant>{Instant{}});
  EXPECT_TRUE(c.poll_transmit(Instant{}, [&](const Repr& r) { syn = r; }));
  ASSERT_TRUE(syn.has_value());
  EXPECT_EQ(*syn, SegmentBuilder().ports(kLocalPort, kRemotePort).seq(kLocalIss).syn().mss(kMss).window(65535).build());
  EXPECT_FALSE(c.poll_transmit(Instant{}, [&](const Repr&) {}));
  EXPECT_EQ(c.poll_at(), std::optional<Instant>{ms(1000)});  // RFC 6298 §2.1: initial RTO 1 s
}

TEST(TcpConnection, Active_SynOffersConfiguredOptions) {
  ConnectionConfig cfg = plain_config();
  cfg.sack = cfg.timestamps = cfg.window_scaling = true;
  cfg.recv_buffer = 4 << 20;
  SeededRng rng{kSeed};
  Connection c{ms(5), v4_tuple(), SeqNum{kLocalIss}, kMss, cfg, rng};
  SeededRng probe{kSeed};
  const std::uint32_t off = probe.next_u32();
  std::optional<Captured> syn;
  c.poll_transmit(ms(5), [&](const Repr& r) { syn = Captured{ms(5), r, {}}; });
  ASSERT_TRUE(syn);
  EXPECT_EQ(syn->repr, SegmentBuilder()
                           .ports(kLocalPort, kRemotePort)
                           .seq(kLocalIss)
                           .syn()
                           .mss(kMss)
                           .window(65535)
                           .wscale(7)  // 4 MiB >> 7 = 32768 fits the 16-bit field
                           .sack_permitted()
                           .timestamps(5 + off, 0)
                           .build());
}

TEST(TcpConnection, Active_SynRetransmittedWithBackoffThenTimesOut) {
  ConnectionConfig cfg = plain_config();
  cfg.syn_retransmits = 2;
  auto h = TcpHarness::syn_sent(cfg);
  const auto syn = h.ours().seq(kLocalIss).syn().mss(kMss);
  h.expect_nothing(ms(999));
  h.expect_sent(ms(1000), syn);
  h.expect_nothing(ms(2999));
  h.expect_sent(ms(3000), syn);  // RTO doubled
  h.expect_nothing(ms(6999));
  EXPECT_EQ(h.conn.state(), State::kSynSent);
  h.run_until(ms(7000));
  EXPECT_TRUE(h.conn.is_closed());
  EXPECT_EQ(h.conn.error(), std::make_error_code(std::errc::timed_out));
  EXPECT_EQ(h.conn.stats().retransmits, 2u);
}

TEST(TcpConnection, Active_AfterSynRetransmitNoRttSampleFromSynAck) {
  auto h = TcpHarness::syn_sent();
  h.expect_sent(ms(1000), h.ours().seq(kLocalIss).syn().mss(kMss));
  h.receive(ms(1100), h.peer().seq(kRemoteIss).ack(kLocalIss + 1).syn().mss(kMss));
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  EXPECT_EQ(h.conn.stats().srtt, std::nullopt);  // Karn: the SYN was retransmitted
}

TEST(TcpConnection, SynSent_RstWithoutAckIsIgnored) {
  auto h = TcpHarness::syn_sent();
  h.receive(ms(5), h.peer().seq(0).rst());
  EXPECT_EQ(h.conn.state(), State::kSynSent);
  h.expect_nothing(ms(999));
}

TEST(TcpConnection, SynSent_RstNotAckingOurSynIsIgnored) {
  auto h = TcpHarness::syn_sent();
  // SEG.ACK = ISS (doesn't cover the SYN): unacceptable, and a RST is never answered.
  h.receive(ms(5), h.peer().seq(0).ack(kLocalIss).rst());
  EXPECT_EQ(h.conn.state(), State::kSynSent);
  h.receive(ms(6), h.peer().seq(0).ack(kLocalIss + 2).rst());
  EXPECT_EQ(h.conn.state(), State::kSynSent);
  h.expect_nothing(ms(999));
}

TEST(TcpConnection, SynSent_RstAckingOurSynRefuses) {
  auto h = TcpHarness::syn_sent();
  h.receive(ms(5), h.peer().seq(0).ack(kLocalIss + 1).rst());
  EXPECT_TRUE(h.conn.is_closed());
  EXPECT_EQ(h.conn.error(), std::make_error_code(std::errc::connection_refused));
  h.expect_nothing(ms(5000));
}

TEST(TcpConnection, SynSent_BadAckAnsweredWithRst) {
  auto h = TcpHarness::syn_sent();
  h.receive(ms(5), h.peer().seq(kRemoteIss).ack(kLocalIss + 100).syn());
  h.expect_sent(ms(5), h.ours().seq(kLocalIss + 100).rst().window(0));
  EXPECT_EQ(h.conn.state(), State::kSynSent);
}

TEST(TcpConnection, SynSent_DataWithoutSynOrRstIsDropped) {
  auto h = TcpHarness::syn_sent();
  h.receive(ms(5), h.peer().seq(kRemoteIss).ack(kLocalIss + 1).payload("x"));
  EXPECT_EQ(h.conn.state(), State::kSynSent);
  h.expect_nothing(ms(999));
}

TEST(TcpConnection, Passive_ThreeWayHandshake) {
  auto h = TcpHarness::syn_received();
  EXPECT_EQ(h.conn.state(), State::kSynReceived);
  h.receive(ms(3), h.peer().seq(kRemoteIss + 1).ack(kLocalIss + 1));
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  h.expect_nothing(ms(100000));
}

TEST(TcpConnection, Passive_SynAckCarriesOnlyNegotiatedOptions) {
  ConnectionConfig cfg = plain_config();
  cfg.sack = cfg.timestamps = cfg.window_scaling = true;
  SeededRng rng{kSeed};
  SeededRng probe{kSeed};
  const std::uint32_t off = probe.next_u32();
  // The peer offers SACK and timestamps but not window scaling.
  const Repr syn = SegmentBuilder()
                       .ports(kRemotePort, kLocalPort)
                       .seq(kRemoteIss)
                       .syn()
                       .mss(1400)
                       .sack_permitted()
                       .timestamps(777, 0)
                       .window(8192)
                       .build();
  auto c = Connection::accept(ms(2), v4_tuple(), SeqNum{kLocalIss}, syn, kMss, cfg, rng);
  std::vector<Repr> out;
  while (c->poll_transmit(ms(2), [&](const Repr& r) { out.push_back(r); })) {
  }
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], SegmentBuilder()
                        .ports(kLocalPort, kRemotePort)
                        .seq(kLocalIss)
                        .ack(kRemoteIss + 1)
                        .syn()
                        .mss(kMss)
                        .sack_permitted()
                        .timestamps(2 + off, 777)
                        .window(65535)
                        .build());
  EXPECT_EQ(c->send_mss(), 1400 - 12);  // RFC 7323: the TS option comes off every segment
}

TEST(TcpConnection, Passive_LostSynAckRetransmitted) {
  auto h = TcpHarness::syn_received();
  const auto synack = h.ours().seq(kLocalIss).ack(kRemoteIss + 1).syn().mss(kMss);
  h.expect_sent(ms(1000), synack);
  // The peer's SYN again (it never saw the SYN-ACK): answered by the SYN-ACK at once.
  h.receive(ms(1500), h.peer().seq(kRemoteIss).syn().mss(kMss));
  h.expect_sent(ms(1500), synack);
}

TEST(TcpConnection, Passive_BadAckInSynReceivedGetsRst) {
  auto h = TcpHarness::syn_received();
  h.receive(ms(3), h.peer().seq(kRemoteIss + 1).ack(kLocalIss + 7));
  h.expect_sent(ms(3), h.ours().seq(kLocalIss + 7).rst().window(0));
  EXPECT_EQ(h.conn.state(), State::kSynReceived);
}

TEST(TcpConnection, Passive_RstInSynReceivedCloses) {
  auto h = TcpHarness::syn_received();
  h.receive(ms(3), h.peer().seq(kRemoteIss + 1).rst());
  EXPECT_TRUE(h.conn.is_closed());
  EXPECT_EQ(h.conn.error(), std::make_error_code(std::errc::connection_reset));  // the layer returns to LISTEN
}

TEST(TcpConnection, Passive_DataOnFinalAckDelivered) {
  auto h = TcpHarness::syn_received();
  h.receive(ms(3), h.peer().seq(kRemoteIss + 1).ack(kLocalIss + 1).payload("hello"));
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  std::array<std::byte, 16> buf{};
  ASSERT_EQ(h.conn.recv(buf), 5u);
  EXPECT_EQ(as_chars(Bytes{buf.data(), 5}), "hello");
  // Delayed ACK; receiver SWS avoidance (RFC 9293 §3.8.6.2.2) keeps the right edge where it was (5 bytes read
  // is less than an MSS), so the window field is 65535 - 5.
  h.expect_sent(ms(43), h.ours().seq(kLocalIss + 1).ack(kRemoteIss + 6).window(65530));
}

TEST(TcpConnection, SimultaneousOpen) {
  auto h = TcpHarness::syn_sent();
  // The peer's SYN crosses ours.
  h.receive(ms(5), h.peer().seq(kRemoteIss).syn().mss(kMss));
  EXPECT_EQ(h.conn.state(), State::kSynReceived);
  h.expect_sent(ms(5), h.ours().seq(kLocalIss).ack(kRemoteIss + 1).syn().mss(kMss));
  // Its SYN-ACK acknowledges our SYN.
  h.receive(ms(6), h.peer().seq(kRemoteIss).ack(kLocalIss + 1).syn().mss(kMss));
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  h.expect_nothing(ms(5000));
  EXPECT_EQ(h.conn.send(as_bytes("hi")), 2u);
  h.expect_sent(ms(5000), h.ours().seq(kLocalIss + 1).ack(kRemoteIss + 1).psh().payload("hi"));
}

TEST(TcpConnection, SimultaneousOpen_PlainAckCompletes) {
  auto h = TcpHarness::syn_sent();
  h.receive(ms(5), h.peer().seq(kRemoteIss).syn().mss(kMss));
  h.discard();
  h.receive(ms(6), h.peer().seq(kRemoteIss + 1).ack(kLocalIss + 1));
  EXPECT_EQ(h.conn.state(), State::kEstablished);
}

TEST(TcpConnection, FromCookie_EstablishedWithoutOptions) {
  SeededRng rng{kSeed};
  ConnectionConfig cfg = plain_config();
  cfg.sack = cfg.timestamps = cfg.window_scaling = true;
  auto c = Connection::from_cookie(ms(1), v4_tuple(), SeqNum{kLocalIss}, SeqNum{kRemoteIss}, 1200, kMss, cfg, rng);
  EXPECT_EQ(c->state(), State::kEstablished);
  EXPECT_EQ(c->send_mss(), 1200);
  EXPECT_EQ(c->send(as_bytes("abc")), 3u);
  bool sent = c->poll_transmit(ms(1), [](const Repr&) {});
  EXPECT_FALSE(sent);  // no window known until the completing ACK arrives
  c->on_segment(ms(1), SegmentBuilder()
                           .ports(kRemotePort, kLocalPort)
                           .seq(kRemoteIss + 1)
                           .ack(kLocalIss + 1)
                           .window(1000)
                           .payload("x")
                           .build());
  std::vector<Repr> out;
  std::vector<std::string> payloads;
  while (c->poll_transmit(ms(1), [&](const Repr& r) {
    out.push_back(r);
    payloads.emplace_back(as_chars(r.payload));
  })) {
  }
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seq, SeqNum{kLocalIss + 1});
  EXPECT_EQ(out[0].ack, std::optional<SeqNum>{SeqNum{kRemoteIss + 2}});
  EXPECT_EQ(payloads[0], "abc");
  EXPECT_FALSE(out[0].timestamps.has_value());
  EXPECT_FALSE(out[0].window_scale.has_value());
}

TEST(TcpConnection, Ipv6_NoMssOptionMeans1220) {
  SeededRng rng{kSeed};
  const Repr syn = SegmentBuilder().ports(kRemotePort, kLocalPort).seq(kRemoteIss).syn().window(65535).build();
  auto c = Connection::accept(Instant{}, v6_tuple(), SeqNum{kLocalIss}, syn, 1440, plain_config(), rng);
  EXPECT_EQ(c->send_mss(), 1220);
  auto c4 = Connection::accept(Instant{}, v4_tuple(), SeqNum{kLocalIss}, syn, 1440, plain_config(), rng);
  EXPECT_EQ(c4->send_mss(), 536);
}

}  // namespace
}  // namespace tapstack::tcp::testing
