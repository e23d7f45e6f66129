// TcpLayer transcript tests (tcp/layer): crafted peer segments in through on_packet, captured segments out of
// poll() through a fake IpSender. Covers RSTs for closed ports, listeners (backlog, accept order, listen(0),
// SYN cookies, accept-queue overflow, RST in SYN-RECEIVED), demux at 20k connections, ISNs, ephemeral ports.
#include "tcp/layer.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <set>
#include <string>
#include <vector>

#include "ip/port_allocator.hpp"
#include "layer_harness.hpp"
#include "segment_builder.hpp"

namespace tapstack::tcp {
namespace {

using namespace testing;  // SegmentBuilder, Harness, FakeSender, kUs, kPeer... (layer_harness.hpp)

// ---------------------------------------------------------------------------------------------------
// Segments to no connection: RFC 9293 §3.10.7.1

TEST(TcpLayer, Closed_AckBearingSegment_RstWithSeqFromAck) {
  Harness h;
  EXPECT_EQ(h.feed(SegmentBuilder().ports(40000, 9).seq(1000).ack(5000).payload("abc")),
            ip::TransportHandler::Verdict::kAccepted);
  const auto sent = h.poll();
  ASSERT_EQ(sent.size(), 1u);
  // <SEQ=SEG.ACK><CTL=RST>, ports swapped, back to the sender from the address it wrote to.
  EXPECT_EQ(sent[0].repr.flags(), Control::kRst);
  EXPECT_EQ(sent[0].repr.seq, SeqNum{5000});
  EXPECT_EQ(sent[0].repr.src_port, 9);
  EXPECT_EQ(sent[0].repr.dst_port, 40000);
  EXPECT_EQ(sent[0].params.dst, kPeer);
  EXPECT_EQ(sent[0].params.src, std::optional<ip::IpAddress>{kUs});
  EXPECT_EQ(h.layer.counters().drop_no_connection, 1u);
  EXPECT_EQ(h.layer.counters().rst_sent, 1u);
}

TEST(TcpLayer, Closed_SynWithoutAck_RstAckCoveringTheSegment) {
  Harness h;
  h.feed(SegmentBuilder().ports(40000, 9).seq(1000).syn());
  const Repr r = h.poll_one();
  // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>: the SYN counts one.
  EXPECT_EQ(r.flags(), Control::kRst | Control::kAck);
  EXPECT_EQ(r.seq, SeqNum{0});
  EXPECT_EQ(r.ack, std::optional<SeqNum>{SeqNum{1001}});
  // Data and FIN count too.
  h.feed(SegmentBuilder().ports(40000, 9).seq(2000).fin().payload("hello"));
  const Repr r2 = h.poll_one();
  EXPECT_EQ(r2.ack, std::optional<SeqNum>{SeqNum{2006}});
}

TEST(TcpLayer, Closed_RstIsNeverAnswered) {
  Harness h;
  h.feed(SegmentBuilder().ports(40000, 9).seq(1000).rst());
  h.feed(SegmentBuilder().ports(40000, 9).seq(1000).ack(77).rst());
  EXPECT_TRUE(h.poll().empty());
  EXPECT_EQ(h.layer.counters().drop_rst_no_connection, 2u);
  EXPECT_EQ(h.layer.counters().rst_sent, 0u);
  EXPECT_EQ(h.layer.poll_at(), std::nullopt);
}

TEST(TcpLayer, BadChecksumAndOffsetAreCountedAndSilent) {
  Harness h;
  auto bytes = SegmentBuilder().ports(40000, 9).seq(1).syn().bytes({kPeer, kUs, 6, 0});
  bytes[17] ^= std::byte{0x01};  // checksum
  h.feed_bytes(bytes);
  auto bytes2 = SegmentBuilder().ports(40000, 9).seq(1).syn().bytes({kPeer, kUs, 6, 0});
  bytes2[12] = std::byte{0xf0};  // data offset 60 > 20 bytes
  h.feed_bytes(bytes2);
  h.feed_bytes(std::vector<std::byte>(10));
  EXPECT_TRUE(h.poll().empty());
  EXPECT_EQ(h.layer.counters().drop_bad_checksum, 1u);
  EXPECT_EQ(h.layer.counters().drop_bad_offset, 1u);
  EXPECT_EQ(h.layer.counters().drop_truncated, 1u);
  EXPECT_EQ(h.layer.counters().rx_segments, 3u);
}

// The receive fast path copies an in-order payload into the receive buffer while it sums the checksum
// (Connection::stage_payload). A segment that fails the checksum must leave nothing behind, and the good copy
// that follows is delivered whole.
// A connection from the peer's port 40000 (its ISS `peer_iss`) accepted on kPort; returns it and our ISS.
std::pair<Connection*, SeqNum> accepted(Harness& h, SeqNum peer_iss) {
  const auto l = h.layer.listen({kUs, kPort}, 4);
  EXPECT_TRUE(l);
  const SeqNum iss = h.handshake(40000, peer_iss);
  const auto c = h.layer.accept(*l);
  EXPECT_TRUE(c);
  return {c ? h.layer.connection(*c) : nullptr, iss};
}

TEST(TcpLayer, FusedReceive_BadChecksumLeavesNothing_GoodSegmentDelivered) {
  Harness h;
  const auto [conn, iss] = accepted(h, SeqNum{1000});
  ASSERT_NE(conn, nullptr);
  auto bad = SegmentBuilder().ports(40000, kPort).seq(1001).ack(iss + 1).window(65535).payload("HELLO, world")
                 .bytes({kPeer, kUs, 6, 0});
  bad[bad.size() - 1] ^= std::byte{0x20};  // payload corrupted in flight: "HELLO, worlD"
  h.feed_bytes(bad);
  EXPECT_EQ(h.layer.counters().drop_bad_checksum, 1u);
  EXPECT_FALSE(conn->can_recv());
  EXPECT_TRUE(h.poll().empty());  // silently discarded (RFC 9293 §3.1 MUST-3): no ACK
  h.feed(SegmentBuilder().ports(40000, kPort).seq(1001).ack(iss + 1).payload("hello, world"));
  std::array<std::byte, 32> buf{};
  ASSERT_EQ(conn->recv(buf), 12u);
  EXPECT_EQ(std::string(as_chars(Bytes{buf}.first(12))), "hello, world");
  EXPECT_EQ(h.layer.counters().drop_bad_checksum, 1u);
}

// A fast-path segment that the receive window trims keeps only the part inside the window; an out-of-order
// segment takes the normal path and is joined when the gap fills.
TEST(TcpLayer, FusedReceive_WindowTrimAndOutOfOrderStayExact) {
  LayerConfig cfg;
  cfg.connection.recv_buffer = 16;  // rounds to a 16-byte ring: the window is 16 bytes
  Harness h{cfg};
  const auto [conn, iss] = accepted(h, SeqNum{5000});
  ASSERT_NE(conn, nullptr);
  // Out of order first (bytes 8..11), then in order bytes 0..7: both land, 12 bytes readable.
  h.feed(SegmentBuilder().ports(40000, kPort).seq(5001 + 8).ack(iss + 1).payload("IJKL"));
  EXPECT_FALSE(conn->can_recv());
  h.feed(SegmentBuilder().ports(40000, kPort).seq(5001).ack(iss + 1).payload("ABCDEFGH"));
  std::array<std::byte, 32> buf{};
  ASSERT_EQ(conn->recv(buf), 12u);
  EXPECT_EQ(std::string(as_chars(Bytes{buf}.first(12))), "ABCDEFGHIJKL");
  // The window we last advertised was 4 bytes (12 of 16 were queued); reading freed the ring, but RCV.WND is
  // what was advertised. An 8-byte in-order segment fits the ring (so it is staged whole) yet only its first 4
  // bytes are inside the window: exactly those are delivered and acknowledged.
  h.feed(SegmentBuilder().ports(40000, kPort).seq(5013).ack(iss + 1).payload("01234567"));
  ASSERT_EQ(conn->recv(buf), 4u);
  EXPECT_EQ(std::string(as_chars(Bytes{buf}.first(4))), "0123");
  bool acked = false;
  for (const Sent& s : h.poll())
    if (s.repr.ack == std::optional<SeqNum>{SeqNum{5017}}) acked = true;
  EXPECT_TRUE(acked);
  EXPECT_EQ(h.layer.counters().drop_bad_checksum, 0u);
}

TEST(TcpLayer, BroadcastDestinationGetsNoAnswer) {
  Harness h;
  ASSERT_TRUE(h.layer.listen({ip::Ipv4Address{}, kPort}, 4));
  const ip::IpAddress bcast = ip::Ipv4Address{{192, 0, 2, 255}};
  const auto bytes = SegmentBuilder().ports(40000, kPort).seq(1).syn().bytes({kPeer, bcast, 6, 0});
  h.feed_bytes(bytes, kPeer, bcast, /*broadcast=*/true);
  EXPECT_TRUE(h.poll().empty());
  EXPECT_EQ(h.layer.counters().drop_not_unicast, 1u);
}

// ---------------------------------------------------------------------------------------------------
// Listeners: RFC 9293 §3.10.7.2

TEST(TcpLayer, Listen_AckBearingSegmentGetsRst_RstAndBareDataAreDropped) {
  Harness h;
  ASSERT_TRUE(h.layer.listen({kUs, kPort}, 4));
  h.feed(SegmentBuilder().ports(40000, kPort).seq(100).ack(900));
  const Repr r = h.poll_one();
  EXPECT_EQ(r.flags(), Control::kRst);
  EXPECT_EQ(r.seq, SeqNum{900});
  h.feed(SegmentBuilder().ports(40000, kPort).seq(100).rst());
  h.feed(SegmentBuilder().ports(40000, kPort).seq(100).payload("no ack"));
  EXPECT_TRUE(h.poll().empty());
  EXPECT_EQ(h.layer.counters().drop_listener_ack, 1u);
  EXPECT_EQ(h.layer.counters().drop_listener_rst, 1u);
  EXPECT_EQ(h.layer.counters().drop_listener_no_syn, 1u);
  EXPECT_EQ(h.layer.connection_count(), 0u);
}

TEST(TcpLayer, Listen_SynGetsSynAckWithMss_AndAcceptAfterFinalAck) {
  Harness h;
  const auto l = h.layer.listen({ip::Ipv4Address{}, kPort}, 4);  // wildcard address
  ASSERT_TRUE(l);
  h.feed(SegmentBuilder().ports(40000, kPort).seq(1000).syn().mss(1400));
  const Repr synack = h.poll_one();
  EXPECT_EQ(synack.flags(), Control::kSyn | Control::kAck);
  EXPECT_EQ(synack.src_port, kPort);
  EXPECT_EQ(synack.dst_port, 40000);
  EXPECT_EQ(synack.ack, std::optional<SeqNum>{SeqNum{1001}});
  EXPECT_EQ(synack.mss, std::optional<std::uint16_t>{1460});  // max_payload 1480 - 20
  EXPECT_EQ(synack.seq, h.layer.isn_generator().isn(h.now, {kUs, kPort}, {kPeer, 40000}));  // RFC 6528
  EXPECT_FALSE(h.layer.accept(*l));  // still half-open
  EXPECT_EQ(h.layer.listener(*l)->half_open(), 1u);
  h.feed(SegmentBuilder().ports(40000, kPort).seq(1001).ack(synack.seq + 1).payload("hi"));
  const auto c = h.layer.accept(*l);
  ASSERT_TRUE(c);
  Connection* conn = h.layer.connection(*c);
  ASSERT_NE(conn, nullptr);
  EXPECT_TRUE(conn->is_established());
  EXPECT_EQ(conn->tuple().local, (ip::Endpoint{kUs, kPort}));
  EXPECT_EQ(conn->tuple().remote, (ip::Endpoint{kPeer, 40000}));
  std::array<std::byte, 16> buf{};
  EXPECT_EQ(conn->recv(buf), 2u);
  EXPECT_EQ(h.layer.listener(*l)->half_open(), 0u);
  EXPECT_FALSE(h.layer.accept(*l));
}

TEST(TcpLayer, Listen_BacklogBoundsAndAcceptOrderFollowsHandshakeCompletion) {
  Harness h;
  const auto l = h.layer.listen({kUs, kPort}, 3);
  ASSERT_TRUE(l);
  // Three SYNs, then the final ACKs in the order 40002, 40001, 40003.
  std::vector<SeqNum> iss(4);
  for (std::uint16_t p = 40001; p <= 40003; ++p) {
    h.feed(SegmentBuilder().ports(p, kPort).seq(SeqNum{p * 10u}).syn());
    iss[p - 40000] = h.poll_one().seq;
  }
  for (const std::uint16_t p : {40002, 40001, 40003})
    h.feed(SegmentBuilder().ports(p, kPort).seq(SeqNum{p * 10u} + 1).ack(iss[p - 40000] + 1));
  // A fourth client finds the accept queue full: its SYN is dropped, not reset.
  h.feed(SegmentBuilder().ports(40004, kPort).seq(7).syn());
  EXPECT_TRUE(h.poll().empty());
  EXPECT_EQ(h.layer.counters().drop_accept_queue_full, 1u);
  std::vector<std::uint16_t> order;
  while (const auto c = h.layer.accept(*l)) order.push_back(h.layer.connection(*c)->tuple().remote.port);
  EXPECT_EQ(order, (std::vector<std::uint16_t>{40002, 40001, 40003}));
  // Room again: the retransmitted SYN is answered.
  h.feed(SegmentBuilder().ports(40004, kPort).seq(7).syn());
  EXPECT_EQ(h.poll_one().flags(), Control::kSyn | Control::kAck);
}

TEST(TcpLayer, Listen_BacklogZeroAcceptsOne) {
  Harness h;
  const auto l = h.layer.listen({kUs, kPort}, 0);
  ASSERT_TRUE(l);
  h.handshake(40001, SeqNum{100});
  // The accept queue (one) is full: the next SYN is dropped.
  h.feed(SegmentBuilder().ports(40002, kPort).seq(200).syn());
  EXPECT_TRUE(h.poll().empty());
  EXPECT_EQ(h.layer.counters().drop_accept_queue_full, 1u);
  const auto c = h.layer.accept(*l);
  ASSERT_TRUE(c);
  EXPECT_EQ(h.layer.connection(*c)->tuple().remote.port, 40001);
  EXPECT_FALSE(h.layer.accept(*l));
}

TEST(TcpLayer, Listen_RstInSynReceivedReturnsToListen) {
  Harness h;
  const auto l = h.layer.listen({kUs, kPort}, 4);
  ASSERT_TRUE(l);
  h.feed(SegmentBuilder().ports(40000, kPort).seq(1000).syn());
  const Repr synack = h.poll_one();
  ASSERT_EQ(h.layer.listener(*l)->half_open(), 1u);
  ASSERT_EQ(h.layer.connection_count(), 1u);
  // RFC 9293 §3.10.7.4 / RFC 5961 §3: a RST at exactly RCV.NXT.
  h.feed(SegmentBuilder().ports(40000, kPort).seq(1001).rst());
  EXPECT_TRUE(h.poll().empty());
  EXPECT_EQ(h.layer.listener(*l)->half_open(), 0u);
  EXPECT_EQ(h.layer.connection_count(), 0u);
  EXPECT_EQ(h.layer.counters().half_open_dropped, 1u);
  EXPECT_FALSE(h.layer.accept(*l));
  // Still listening: the same peer can start over.
  h.now += milliseconds{10};
  h.feed(SegmentBuilder().ports(40000, kPort).seq(5000).syn());
  const Repr again = h.poll_one();
  EXPECT_EQ(again.flags(), Control::kSyn | Control::kAck);
  EXPECT_EQ(again.ack, std::optional<SeqNum>{SeqNum{5001}});
  EXPECT_NE(again.seq, synack.seq);  // a new ISN (RFC 6528 clock moved on)
}

TEST(TcpLayer, Listen_AddressInUse) {
  Harness h;
  ASSERT_TRUE(h.layer.listen({kUs, kPort}, 4));
  const auto dup = h.layer.listen({kUs, kPort}, 4);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error(), std::error_code(EADDRINUSE, std::generic_category()));
  EXPECT_FALSE(h.layer.listen({ip::Ipv4Address{}, kPort}, 4));  // the wildcard overlaps
  EXPECT_TRUE(h.layer.listen({kUs, 81}, 4));
  // A port some connection still uses: EADDRINUSE unless SO_REUSEADDR.
  const auto c = h.layer.connect(h.now, {kPeer, 443}, ip::Endpoint{kUs, 8080});
  ASSERT_TRUE(c);
  EXPECT_FALSE(h.layer.listen({kUs, 8080}, 4));
  EXPECT_TRUE(h.layer.listen({kUs, 8080}, 4, ConnectionConfig{}, /*reuse_addr=*/true));
}

TEST(TcpLayer, CloseListenerResetsQueuedConnections) {
  Harness h;
  const auto l = h.layer.listen({kUs, kPort}, 4);
  ASSERT_TRUE(l);
  h.handshake(40001, SeqNum{100});
  h.feed(SegmentBuilder().ports(40002, kPort).seq(300).syn());
  h.poll();
  ASSERT_EQ(h.layer.connection_count(), 2u);
  h.layer.close_listener(*l);
  const auto sent = h.poll();
  ASSERT_EQ(sent.size(), 2u);
  for (const Sent& s : sent) EXPECT_TRUE(s.repr.has_flags(Control::kRst));
  EXPECT_EQ(h.layer.connection_count(), 0u);
  EXPECT_EQ(h.layer.listener(*l), nullptr);
  // The port is closed now.
  h.feed(SegmentBuilder().ports(40003, kPort).seq(1).syn());
  EXPECT_EQ(h.poll_one().flags(), Control::kRst | Control::kAck);
}

// ---------------------------------------------------------------------------------------------------
// SYN cookies: RFC 4987 §3.6

LayerConfig tiny_syn_queue() {
  LayerConfig cfg;
  cfg.syn_queue = 1;
  return cfg;
}

TEST(TcpLayer, SynQueueFull_CookieSynAck_FinalAckCreatesTheConnection) {
  Harness h{tiny_syn_queue()};
  const auto l = h.layer.listen({kUs, kPort}, 4);
  ASSERT_TRUE(l);
  h.feed(SegmentBuilder().ports(40001, kPort).seq(100).syn().mss(1460).wscale(7).sack_permitted());
  const Repr normal = h.poll_one();
  EXPECT_EQ(h.layer.listener(*l)->half_open(), 1u);
  // The SYN queue is full: the next SYN is answered statelessly.
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5000).syn().mss(1400).wscale(7).sack_permitted());
  const Repr cookie = h.poll_one();
  EXPECT_EQ(cookie.flags(), Control::kSyn | Control::kAck);
  EXPECT_EQ(cookie.ack, std::optional<SeqNum>{SeqNum{5001}});
  EXPECT_EQ(cookie.mss, std::optional<std::uint16_t>{1460});
  EXPECT_EQ(cookie.window_scale, std::nullopt);  // no timestamps in the SYN: nowhere to keep it
  EXPECT_FALSE(cookie.sack_permitted);
  EXPECT_EQ(h.layer.counters().syn_cookies_sent, 1u);
  EXPECT_EQ(h.layer.connection_count(), 1u);  // no state kept for the cookie
  EXPECT_EQ(h.layer.listener(*l)->half_open(), 1u);
  // The final ACK (with data) rebuilds the connection.
  h.now += seconds{3};
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5001).ack(cookie.seq + 1).payload("hello"));
  EXPECT_EQ(h.layer.counters().syn_cookies_accepted, 1u);
  EXPECT_EQ(h.layer.connection_count(), 2u);
  const auto c = h.layer.accept(*l);
  ASSERT_TRUE(c);
  Connection* conn = h.layer.connection(*c);
  ASSERT_NE(conn, nullptr);
  EXPECT_TRUE(conn->is_established());
  EXPECT_EQ(conn->tuple().remote.port, 40002);
  EXPECT_EQ(conn->send_mss(), 1380);  // the cookie's MSS: 1400 rounds down to the table's 1380
  std::array<std::byte, 16> buf{};
  ASSERT_EQ(conn->recv(buf), 5u);
  EXPECT_EQ(as_chars(Bytes{buf.data(), 5}), "hello");
  // The data is acknowledged (40001's half-open entry retransmits its SYN-ACK meanwhile: filter by port).
  std::vector<Repr> to_client;
  h.poll();
  h.now += ConnectionConfig{}.delayed_ack;  // one small segment: a delayed ACK
  for (const Sent& s : h.poll()) {
    if (s.repr.dst_port == 40002) to_client.push_back(s.repr);
    if (s.repr.dst_port == 40001) {
      EXPECT_EQ(s.repr.seq, normal.seq);
    }
  }
  ASSERT_EQ(to_client.size(), 1u);
  EXPECT_EQ(to_client[0].ack, std::optional<SeqNum>{SeqNum{5006}});
  EXPECT_EQ(to_client[0].seq, cookie.seq + 1);
}

// With timestamps in the SYN, the cookie SYN-ACK also offers window scaling and SACK, carried in its TSval
// (syn_cookie.hpp, as Linux does), and the connection the final ACK builds has all three; its timestamps go on
// from the SYN-ACK's. A TSecr that no cookie of ours held (the reserved bit set) is refused.
TEST(TcpLayer, CookieWithTimestamps_KeepsWindowScalingSackAndTimestamps) {
  Harness h{tiny_syn_queue()};
  const auto l = h.layer.listen({kUs, kPort}, 4);
  ASSERT_TRUE(l);
  h.feed(SegmentBuilder().ports(40001, kPort).seq(100).syn().mss(1460).wscale(7).sack_permitted());
  h.poll_one();  // the SYN queue (1) is now full
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5000).syn().mss(1460).wscale(7).sack_permitted().timestamps(
      777, 0));
  const Repr cookie = h.poll_one();
  ASSERT_EQ(h.layer.counters().syn_cookies_sent, 1u);
  ASSERT_TRUE(cookie.timestamps);
  EXPECT_EQ(cookie.timestamps->tsecr, 777u);
  EXPECT_EQ(cookie.timestamps->tsval & 0x3f, 7u | 0x10u);  // wscale 7, SACK
  EXPECT_EQ(cookie.window_scale, std::optional<std::uint8_t>{Connection::announced_wscale(ConnectionConfig{})});
  EXPECT_TRUE(cookie.sack_permitted);
  const std::uint8_t our_shift = *cookie.window_scale;
  ASSERT_GT(our_shift, 0);

  // A forged TSecr (reserved bit) with a valid cookie: refused, answered with a RST.
  h.now += milliseconds{5};
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5001).ack(cookie.seq + 1).timestamps(778,
      cookie.timestamps->tsval | 0x20));
  EXPECT_EQ(h.layer.counters().syn_cookies_rejected, 1u);
  EXPECT_EQ(h.poll_one().flags(), Control::kRst);

  // The real final ACK (window 1000 << 7) with data: the connection has the options.
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5001).ack(cookie.seq + 1).window(1000).timestamps(
      778, cookie.timestamps->tsval).payload("hello"));
  EXPECT_EQ(h.layer.counters().syn_cookies_accepted, 1u);
  const auto c = h.layer.accept(*l);
  ASSERT_TRUE(c);
  Connection* conn = h.layer.connection(*c);
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(conn->send_mss(), 1460 - 12);  // timestamps on: 12 option bytes per segment
  // A segment past a hole draws an immediate ACK with a SACK block, our TSval after the cookie's and the
  // peer's TSval echoed, and our window scaled by the shift the SYN-ACK announced.
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5016).ack(cookie.seq + 1).window(1000).timestamps(
      779, cookie.timestamps->tsval).payload("later"));
  std::vector<Repr> to_client;
  for (const Sent& s : h.poll())
    if (s.repr.dst_port == 40002) to_client.push_back(s.repr);
  ASSERT_EQ(to_client.size(), 1u);
  const Repr& ack = to_client[0];
  EXPECT_EQ(ack.ack, std::optional<SeqNum>{SeqNum{5006}});
  ASSERT_EQ(ack.sacks().size(), 1u);
  EXPECT_EQ(ack.sacks()[0], (SackBlock{SeqNum{5016}, SeqNum{5021}}));
  ASSERT_TRUE(ack.timestamps);
  EXPECT_EQ(ack.timestamps->tsecr, 778u);  // TS.Recent: the last in-order segment's TSval
  EXPECT_GE(std::int32_t(ack.timestamps->tsval - cookie.timestamps->tsval), 0);
  EXPECT_LE(std::int32_t(ack.timestamps->tsval - cookie.timestamps->tsval), 64 + 5);
  // Scaled: within one unit of the free buffer (unscaled, a 128 KiB buffer would show as 65535).
  const std::int64_t advertised = std::int64_t(ack.window) << our_shift;
  const std::int64_t free = std::int64_t(conn->stats().recv_buffer) - 5;
  EXPECT_LE(std::abs(advertised - free), std::int64_t{1} << our_shift) << ack.window;
  EXPECT_LT(ack.window, 0xffff);
}

// The CLI's 1000-connection test: a SYN answered with a cookie (SYN queue full) and retransmitted once the
// queue had room made a second, half-open connection with another ISN; the peer's ACK of the cookie SYN-ACK
// then failed that connection's ACK check and drew a RST (ECONNRESET). Like Linux, the cookie wins.
TEST(TcpLayer, CookieAckSupersedesHalfOpenFromRetransmittedSyn) {
  Harness h{tiny_syn_queue()};
  const auto l = h.layer.listen({kUs, kPort}, 4);
  ASSERT_TRUE(l);
  h.feed(SegmentBuilder().ports(40001, kPort).seq(100).syn().mss(1460));
  const Repr first = h.poll_one();
  // SYN queue (1) full: 40002 gets a cookie.
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5000).syn().mss(1460));
  const Repr cookie = h.poll_one();
  ASSERT_EQ(h.layer.counters().syn_cookies_sent, 1u);
  // 40001 completes: the SYN queue has room again.
  h.feed(SegmentBuilder().ports(40001, kPort).seq(101).ack(first.seq + 1));
  EXPECT_TRUE(h.poll().empty());
  ASSERT_EQ(h.layer.listener(*l)->half_open(), 0u);
  // 40002's SYN retransmitted: a half-open connection with a normal SYN-ACK and another ISN.
  h.now += seconds{1};
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5000).syn().mss(1460));
  const Repr synack = h.poll_one();
  EXPECT_EQ(synack.flags(), Control::kSyn | Control::kAck);
  ASSERT_NE(synack.seq, cookie.seq);
  EXPECT_EQ(h.layer.listener(*l)->half_open(), 1u);
  EXPECT_EQ(h.layer.connection_count(), 2u);
  // The peer's ACK of the cookie SYN-ACK arrives: the cookie connection takes over, nothing is reset.
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5001).ack(cookie.seq + 1).payload("hi"));
  EXPECT_EQ(h.layer.counters().half_open_superseded, 1u);
  EXPECT_EQ(h.layer.counters().syn_cookies_accepted, 1u);
  EXPECT_EQ(h.layer.listener(*l)->half_open(), 0u);
  EXPECT_EQ(h.layer.listener(*l)->accept_queue_len(), 2u);
  EXPECT_EQ(h.layer.connection_count(), 2u);
  h.now += ConnectionConfig{}.delayed_ack;
  const auto sent = h.poll();
  for (const Sent& s : sent) EXPECT_FALSE(s.repr.has_flags(Control::kRst)) << s.repr;
  ASSERT_EQ(sent.size(), 1u);  // the delayed ACK of "hi", from the cookie's sequence space
  EXPECT_EQ(sent[0].repr.dst_port, 40002);
  EXPECT_EQ(sent[0].repr.seq, cookie.seq + 1);
  EXPECT_EQ(sent[0].repr.ack, std::optional<SeqNum>{SeqNum{5003}});
  EXPECT_EQ(h.layer.counters().rst_sent, 0u);
  const auto a1 = h.layer.accept(*l);
  const auto a2 = h.layer.accept(*l);
  ASSERT_TRUE(a1 && a2);
  EXPECT_EQ(h.layer.find(*a1)->tuple().remote.port, 40001);
  const Connection* c2 = h.layer.find(*a2);
  ASSERT_NE(c2, nullptr);
  EXPECT_EQ(c2->tuple().remote.port, 40002);
  EXPECT_TRUE(c2->is_established());
  EXPECT_EQ(c2->recv_available(), 2u);
  EXPECT_EQ(c2->error(), std::error_code{});
}

// Same race with the accept queue full when the cookie ACK arrives: the ACK is dropped (the peer retransmits
// it), the half-open entry stays; once accept() makes room, the retransmitted ACK completes the cookie.
TEST(TcpLayer, CookieAckForHalfOpenWhileAcceptQueueFullIsDroppedThenCompletes) {
  Harness h{tiny_syn_queue()};
  const auto l = h.layer.listen({kUs, kPort}, 1);
  ASSERT_TRUE(l);
  h.feed(SegmentBuilder().ports(40001, kPort).seq(100).syn());
  h.poll_one();
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5000).syn());
  const Repr c2 = h.poll_one();
  h.feed(SegmentBuilder().ports(40001, kPort).seq(101).rst());  // RFC 9293 §3.10.7.4: back to LISTEN
  h.poll();
  ASSERT_EQ(h.layer.listener(*l)->half_open(), 0u);
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5000).syn());  // retransmitted: half-open
  const Repr synack = h.poll_one();
  ASSERT_NE(synack.seq, c2.seq);
  h.feed(SegmentBuilder().ports(40003, kPort).seq(7000).syn());  // SYN queue full again: cookie
  const Repr c3 = h.poll_one();
  h.feed(SegmentBuilder().ports(40003, kPort).seq(7001).ack(c3.seq + 1));
  ASSERT_EQ(h.layer.listener(*l)->accept_queue_len(), 1u);  // backlog 1: full
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5001).ack(c2.seq + 1));
  EXPECT_EQ(h.layer.counters().drop_accept_queue_full, 1u);
  EXPECT_EQ(h.layer.counters().half_open_superseded, 0u);
  EXPECT_EQ(h.layer.listener(*l)->half_open(), 1u);
  for (const Sent& s : h.poll()) EXPECT_FALSE(s.repr.has_flags(Control::kRst)) << s.repr;
  const auto a3 = h.layer.accept(*l);
  ASSERT_TRUE(a3);
  EXPECT_EQ(h.layer.find(*a3)->tuple().remote.port, 40003);
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5001).ack(c2.seq + 1));
  EXPECT_EQ(h.layer.counters().half_open_superseded, 1u);
  EXPECT_EQ(h.layer.listener(*l)->half_open(), 0u);
  const auto a2 = h.layer.accept(*l);
  ASSERT_TRUE(a2);
  EXPECT_EQ(h.layer.find(*a2)->tuple().remote.port, 40002);
  EXPECT_TRUE(h.layer.find(*a2)->is_established());
  for (const Sent& s : h.poll()) EXPECT_FALSE(s.repr.has_flags(Control::kRst)) << s.repr;
  EXPECT_EQ(h.layer.counters().rst_sent, 0u);
}

TEST(TcpLayer, ForgedCookieIsRejectedWithRst) {
  Harness h{tiny_syn_queue()};
  ASSERT_TRUE(h.layer.listen({kUs, kPort}, 4));
  h.feed(SegmentBuilder().ports(40001, kPort).seq(100).syn());
  h.poll();
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5000).syn());
  const Repr cookie = h.poll_one();
  // Wrong cookie, right everything else.
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5001).ack(cookie.seq + 2));
  const Repr rst = h.poll_one();
  EXPECT_EQ(rst.flags(), Control::kRst);
  EXPECT_EQ(rst.seq, cookie.seq + 2);
  // Right cookie, but from another port (the hash covers the 4-tuple) and with another ISN.
  h.feed(SegmentBuilder().ports(40003, kPort).seq(5001).ack(cookie.seq + 1));
  h.feed(SegmentBuilder().ports(40002, kPort).seq(6001).ack(cookie.seq + 1));
  EXPECT_EQ(h.poll().size(), 2u);
  EXPECT_EQ(h.layer.counters().syn_cookies_rejected, 3u);
  EXPECT_EQ(h.layer.counters().syn_cookies_accepted, 0u);
  EXPECT_EQ(h.layer.connection_count(), 1u);
}

TEST(TcpLayer, StaleCookieIsRejected) {
  Harness h{tiny_syn_queue()};
  ASSERT_TRUE(h.layer.listen({kUs, kPort}, 4));
  h.feed(SegmentBuilder().ports(40001, kPort).seq(100).syn());
  h.poll();
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5000).syn());
  const Repr cookie = h.poll_one();
  // Three slots later. Another SYN (the queue still holds 40001's half-open entry: no poll() ran its timers)
  // gets a cookie, so the listener is in cookie mode and the old cookie is really checked.
  h.now += 3 * SynCookies::kSlot;
  h.feed(SegmentBuilder().ports(40009, kPort).seq(9000).syn());
  ASSERT_EQ(h.layer.counters().syn_cookies_sent, 2u);
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5001).ack(cookie.seq + 1));
  std::vector<Repr> to_client;  // (40001's half-open entry retransmits its SYN-ACK too)
  for (const Sent& s : h.poll())
    if (s.repr.dst_port == 40002) to_client.push_back(s.repr);
  ASSERT_EQ(to_client.size(), 1u);
  EXPECT_EQ(to_client[0].flags(), Control::kRst);
  EXPECT_EQ(to_client[0].seq, cookie.seq + 1);
  EXPECT_EQ(h.layer.counters().syn_cookies_rejected, 1u);
  EXPECT_EQ(h.layer.counters().syn_cookies_accepted, 0u);
}

TEST(TcpLayer, CookieAckWhileAcceptQueueFullIsDropped) {
  LayerConfig cfg = tiny_syn_queue();
  Harness h{cfg};
  const auto l = h.layer.listen({kUs, kPort}, 1);
  ASSERT_TRUE(l);
  h.feed(SegmentBuilder().ports(40001, kPort).seq(100).syn());
  h.poll();
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5000).syn());
  const Repr cookie = h.poll_one();
  // 40003 gets a cookie too (the SYN queue holds 40001), completes, and fills the accept queue (backlog 1).
  h.handshake(40003, SeqNum{700});
  ASSERT_EQ(h.layer.listener(*l)->accept_queue_len(), 1u);
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5001).ack(cookie.seq + 1));
  EXPECT_TRUE(h.poll().empty());
  EXPECT_EQ(h.layer.counters().drop_accept_queue_full, 1u);
  EXPECT_EQ(h.layer.counters().syn_cookies_accepted, 1u);
}

TEST(TcpLayer, NoCookiesWhenDisabled) {
  LayerConfig cfg = tiny_syn_queue();
  cfg.syn_cookies = false;
  Harness h{cfg};
  ASSERT_TRUE(h.layer.listen({kUs, kPort}, 4));
  h.feed(SegmentBuilder().ports(40001, kPort).seq(100).syn());
  h.poll();
  h.feed(SegmentBuilder().ports(40002, kPort).seq(5000).syn());
  EXPECT_TRUE(h.poll().empty());
  EXPECT_EQ(h.layer.counters().drop_syn_queue_full, 1u);
}

// ---------------------------------------------------------------------------------------------------
// Active opens, demux, ISNs, ports

TEST(TcpLayer, ConnectSendsSynFromAnEphemeralPortWithRfc6528Isn) {
  Harness h;
  const auto c = h.layer.connect(h.now, {kPeer, 443});
  ASSERT_TRUE(c);
  const Connection* conn = h.layer.find(*c);
  ASSERT_NE(conn, nullptr);
  const FourTuple t = conn->tuple();
  EXPECT_EQ(t.local.addr, kUs);
  EXPECT_GE(t.local.port, 49152);
  const auto sent = h.poll();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].repr.flags(), Control::kSyn);
  EXPECT_EQ(sent[0].repr.seq, h.layer.isn_generator().isn(h.now, t.local, t.remote));
  EXPECT_EQ(sent[0].params.dst, kPeer);
  EXPECT_EQ(sent[0].repr.src_port, t.local.port);
  EXPECT_EQ(h.layer.counters().connections_opened, 1u);
  // The SYN-ACK completes it.
  h.feed(SegmentBuilder().ports(443, t.local.port).seq(9000).ack(sent[0].repr.seq + 1).syn().mss(1460));
  EXPECT_TRUE(h.layer.find(*c)->is_established());
  const Repr ack = h.poll_one();
  EXPECT_EQ(ack.ack, std::optional<SeqNum>{SeqNum{9001}});
}

TEST(TcpLayer, ConnectErrors) {
  Harness h;
  EXPECT_EQ(h.layer.connect(h.now, {kPeer, 0}).error(), std::error_code(EINVAL, std::generic_category()));
  EXPECT_EQ(h.layer.connect(h.now, {ip::Ipv4Address{}, 80}).error(), std::error_code(EINVAL, std::generic_category()));
  // No IPv6 source in the fake routes.
  EXPECT_EQ(h.layer.connect(h.now, {*ip::Ipv6Address::parse("2001:db8::2"), 80}).error(),
            std::error_code(ENETUNREACH, std::generic_category()));
  ASSERT_TRUE(h.layer.connect(h.now, {kPeer, 80}, ip::Endpoint{kUs, 5555}));
  EXPECT_EQ(h.layer.connect(h.now, {kPeer, 80}, ip::Endpoint{kUs, 5555}).error(),
            std::error_code(EADDRINUSE, std::generic_category()));
  EXPECT_TRUE(h.layer.connect(h.now, {kPeer, 81}, ip::Endpoint{kUs, 5555}));  // another remote: fine
}

TEST(TcpLayer, IsnDiffersPerTupleAndIncreasesWithTime) {
  Harness h;
  auto syn_seq = [&](std::uint16_t lport, std::uint16_t rport) {
    const auto c = h.layer.connect(h.now, {kPeer, rport}, ip::Endpoint{kUs, lport});
    EXPECT_TRUE(c);
    const Repr syn = h.poll_one();
    h.layer.abort(h.now, *c);
    h.poll();
    return syn.seq;
  };
  const SeqNum a = syn_seq(5000, 80);
  const SeqNum b = syn_seq(5001, 80);
  const SeqNum c = syn_seq(5000, 81);
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  h.now += milliseconds{100};
  const SeqNum a2 = syn_seq(5000, 80);  // same tuple, 100 ms later: 25000 ticks of 4 us
  EXPECT_EQ(a2 - a, 25000);
  h.now += seconds{10};
  EXPECT_GT(syn_seq(5000, 80), a2);
}

TEST(TcpLayer, EphemeralPortsAreUniquePerRemoteAndReusedAcrossRemotes) {
  LayerConfig cfg;
  cfg.ephemeral = {50000, 50009};  // 10 ports
  Harness h{cfg};
  std::set<std::uint16_t> ports;
  for (int i = 0; i < 10; ++i) {
    const auto c = h.layer.connect(h.now, {kPeer, 80}, std::nullopt, small_buffers());
    ASSERT_TRUE(c) << i;
    const std::uint16_t p = h.layer.find(*c)->tuple().local.port;
    EXPECT_GE(p, 50000);
    EXPECT_LE(p, 50009);
    ports.insert(p);
  }
  EXPECT_EQ(ports.size(), 10u);
  // Exhausted toward this remote ...
  EXPECT_EQ(h.layer.connect(h.now, {kPeer, 80}, std::nullopt, small_buffers()).error(),
            std::error_code(EADDRNOTAVAIL, std::generic_category()));
  // ... but every port is still available toward another remote port or address.
  EXPECT_TRUE(h.layer.connect(h.now, {kPeer, 81}, std::nullopt, small_buffers()));
  EXPECT_TRUE(h.layer.connect(h.now, {kPeer2, 80}, std::nullopt, small_buffers()));
}

TEST(PortAllocator, SkipsPortsInUseAndRandomizesTheSequence) {
  SeededRng rng{3};
  ip::PortAllocator a{rng, {49152, 65535}};
  const ip::Endpoint remote{kPeer, 80};
  std::set<std::uint16_t> used;
  std::vector<std::uint16_t> seq;
  for (int i = 0; i < 200; ++i) {
    const auto p = a.allocate(kUs, remote, [&](std::uint16_t x) { return used.contains(x); });
    ASSERT_TRUE(p);
    EXPECT_FALSE(used.contains(*p));
    used.insert(*p);
    seq.push_back(*p);
  }
  // RFC 6056 §3.3.5: not simply consecutive.
  int consecutive = 0;
  for (std::size_t i = 1; i < seq.size(); ++i)
    if (seq[i] == seq[i - 1] + 1) ++consecutive;
  EXPECT_LT(consecutive, 10);
  // A full range yields nullopt.
  ip::PortAllocator b{rng, {1000, 1003}};
  EXPECT_FALSE(b.allocate(kUs, remote, [](std::uint16_t) { return true; }));
  // Port 0 is never produced.
  ip::PortAllocator z{rng, {0, 0}};
  EXPECT_EQ(z.allocate(kUs, remote, [](std::uint16_t) { return false; }), std::optional<std::uint16_t>{1});
}

TEST(TcpLayer, DemuxesTwentyThousandConnections) {
  Harness h;
  constexpr int kN = 20000;
  std::vector<ConnHandle> handles;
  handles.reserve(kN);
  for (int i = 0; i < kN; ++i) {
    // 20k distinct 4-tuples: 200 remote ports x 100 remote addresses, ports chosen by the layer.
    const ip::IpAddress remote = ip::Ipv4Address{{198, 51, 100, std::uint8_t(1 + i % 100)}};
    const auto c = h.layer.connect(h.now, {remote, std::uint16_t(1000 + i / 100)}, std::nullopt, small_buffers());
    ASSERT_TRUE(c) << i;
    handles.push_back(*c);
  }
  EXPECT_EQ(h.layer.connection_count(), std::size_t(kN));
  // One poll() may cap each connection, not the number of connections: every SYN goes out.
  auto syns = h.poll();
  ASSERT_EQ(syns.size(), std::size_t(kN));
  // Answer each SYN with a SYN-ACK from its peer; each must reach exactly its own connection.
  for (const Sent& s : syns) {
    h.feed(SegmentBuilder()
               .ports(s.repr.dst_port, s.repr.src_port)
               .seq(SeqNum{s.repr.src_port * 7u})
               .ack(s.repr.seq + 1)
               .syn()
               .mss(1460),
           s.params.dst);
  }
  for (const ConnHandle c : handles) {
    const Connection* conn = h.layer.find(c);
    ASSERT_NE(conn, nullptr);
    ASSERT_TRUE(conn->is_established()) << conn->tuple().remote << " " << conn->state();
  }
  EXPECT_EQ(h.layer.counters().drop_no_connection, 0u);
  EXPECT_EQ(h.poll().size(), std::size_t(kN));  // one ACK each
  // Idle established connections: nothing due, and poll() does not even look at them.
  const auto polled = h.layer.counters().connections_polled;
  EXPECT_TRUE(h.poll().empty());
  EXPECT_TRUE(h.poll().empty());
  EXPECT_EQ(h.layer.counters().connections_polled, polled);
  // One segment to one connection: the next poll() drives exactly that one.
  const Sent& some = syns[12345];
  h.feed(SegmentBuilder()
             .ports(some.repr.dst_port, some.repr.src_port)
             .seq(SeqNum{some.repr.src_port * 7u} + 1)
             .ack(some.repr.seq + 1)
             .psh()
             .payload("x"),
         some.params.dst);
  h.poll();
  EXPECT_EQ(h.layer.counters().connections_polled, polled + 1);
}

TEST(TcpLayer, IdleConnectionsCostNothingUntilTheirTimer) {
  Harness h;
  const auto c = h.layer.connect(h.now, {kPeer, 443}, ip::Endpoint{kUs, 5000});
  ASSERT_TRUE(c);
  const Repr syn = h.poll_one();
  // The SYN is unanswered: the layer reports the retransmission time, and retransmits then, not before.
  const auto at = h.layer.poll_at();
  ASSERT_TRUE(at);
  EXPECT_GT(*at, h.now);
  h.now = *at - microseconds{1};
  EXPECT_TRUE(h.poll().empty());
  h.now = *at;
  const Repr again = h.poll_one();
  EXPECT_EQ(again.flags(), Control::kSyn);
  EXPECT_EQ(again.seq, syn.seq);
}

TEST(TcpLayer, ClosedConnectionIsKeptThroughFinHandshakeAndTimeWait) {
  Harness h;
  ConnectionConfig cfg;
  cfg.msl = seconds{1};
  const auto l = h.layer.listen({kUs, kPort}, 4, cfg);
  ASSERT_TRUE(l);
  const SeqNum iss = h.handshake(40001, SeqNum{100});
  const auto c = h.layer.accept(*l);
  ASSERT_TRUE(c);
  h.layer.close(h.now, *c);
  EXPECT_EQ(h.layer.connection(*c), nullptr);  // the handle is released ...
  const Repr fin = h.poll_one();
  EXPECT_TRUE(fin.has_flags(Control::kFin));
  EXPECT_EQ(fin.seq, iss + 1);
  EXPECT_EQ(h.layer.connection_count(), 1u);  // ... the connection is not
  // Peer ACKs our FIN and sends its own: TIME-WAIT.
  h.feed(SegmentBuilder().ports(40001, kPort).seq(101).ack(iss + 2).fin());
  const Repr ack = h.poll_one();
  EXPECT_EQ(ack.ack, std::optional<SeqNum>{SeqNum{102}});
  EXPECT_EQ(h.layer.time_wait_count(), 1u);
  EXPECT_EQ(h.layer.connection_count(), 1u);
  // A retransmitted FIN in TIME-WAIT is still answered (the 4-tuple is still served).
  h.feed(SegmentBuilder().ports(40001, kPort).seq(101).ack(iss + 2).fin());
  EXPECT_EQ(h.poll_one().ack, std::optional<SeqNum>{SeqNum{102}});
  // 2*MSL later it is gone.
  const auto at = h.layer.poll_at();
  ASSERT_TRUE(at);
  EXPECT_LE(*at, h.now + seconds{2});
  h.now = *at;
  EXPECT_TRUE(h.poll().empty());
  EXPECT_EQ(h.layer.connection_count(), 0u);
  EXPECT_EQ(h.layer.time_wait_count(), 0u);
  EXPECT_EQ(h.layer.poll_at(), std::nullopt);
}

TEST(TcpLayer, TimeWaitIsBounded) {
  LayerConfig lc;
  lc.max_time_wait = 1;
  Harness h{lc};
  const auto l = h.layer.listen({kUs, kPort}, 4);
  ASSERT_TRUE(l);
  for (std::uint16_t p = 40001; p <= 40002; ++p) {
    const SeqNum iss = h.handshake(p, SeqNum{100});
    const auto c = h.layer.accept(*l);
    ASSERT_TRUE(c);
    h.layer.close(h.now, *c);
    h.poll();
    h.feed(SegmentBuilder().ports(p, kPort).seq(101).ack(iss + 2).fin());
    h.poll();
  }
  EXPECT_EQ(h.layer.time_wait_count(), 1u);
  EXPECT_EQ(h.layer.counters().time_wait_evicted, 1u);
  EXPECT_EQ(h.layer.connection_count(), 1u);
}

// A connection from port 40001 (peer ISN 100), accepted and closed by the application, its FIN sent: returns
// our ISS.
SeqNum orphan_after_our_fin(Harness& h) {
  const Harness::Accepted a = h.listen_and_accept(40001, SeqNum{100});
  h.layer.close(h.now, a.conn);
  EXPECT_EQ(h.poll_one().flags(), Control::kFin | Control::kAck);
  return a.iss;
}

// The peer's FIN puts the orphaned connection into TIME-WAIT, which a zero TIME-WAIT budget evicts at once:
// the connection is freed while the layer still handles the segment, which must not touch it afterwards (ASan
// checks this).
TEST(TcpLayer, FinThatEvictsTheConnection) {
  LayerConfig lc;
  lc.max_time_wait = 0;
  Harness h{lc};
  const SeqNum iss = orphan_after_our_fin(h);
  h.feed(SegmentBuilder().ports(40001, kPort).seq(101).ack(iss + 2).fin());
  EXPECT_EQ(h.layer.counters().time_wait_evicted, 1u);
  EXPECT_EQ(h.layer.connection_count(), 0u);
}

// Data (with a FIN) for an orphan: the fused receive path stages the payload before the connection sees the
// segment, and the connection then resets itself (RFC 1122 §4.2.2.13: nobody will read it). The staged bytes
// are never published, the guard does not touch the connection after on_segment() (ASan), and the RST goes
// out from SND.NXT.
TEST(TcpLayer, FusedReceive_OrphanResetByTheDataItStaged) {
  Harness h;
  const SeqNum iss = orphan_after_our_fin(h);
  h.feed(SegmentBuilder().ports(40001, kPort).seq(101).ack(iss + 2).payload("last words").fin());
  EXPECT_EQ(h.layer.counters().drop_bad_checksum, 0u);
  EXPECT_EQ(h.layer.counters().orphan_data_resets, 1u);
  const Repr rst = h.poll_one();
  EXPECT_EQ(rst.flags(), Control::kRst);
  EXPECT_EQ(rst.seq, iss + 2);
  EXPECT_EQ(h.layer.connection_count(), 0u);
}

// RFC 1122 §4.2.2.13 (RFC 2525 §2.17): close() while received data is still unread sends a RST, not a FIN, so
// the peer learns that data was lost; the connection is gone at once. Once everything was read, close() is the
// usual FIN. A FIN alone (no data) leaves nothing unread.
TEST(TcpLayer, CloseWithUnreadDataResets_AfterReadingItCloses) {
  Harness h;
  const Harness::Accepted a = h.listen_and_accept(40001, SeqNum{100});
  h.feed(SegmentBuilder().ports(40001, kPort).seq(101).ack(a.iss + 1).payload("unread request"));
  h.poll();  // (a delayed ACK may or may not be due: not what this test is about)
  ASSERT_EQ(h.layer.find(a.conn)->recv_available(), 14u);
  h.layer.close(h.now, a.conn);
  EXPECT_EQ(h.layer.counters().close_unread_resets, 1u);
  const Repr rst = h.poll_one();
  EXPECT_EQ(rst.flags(), Control::kRst);
  EXPECT_EQ(rst.seq, a.iss + 1);  // SND.NXT (RFC 9293 §3.10.5)
  EXPECT_EQ(h.layer.find(a.conn), nullptr);  // the handle is released
  EXPECT_EQ(h.layer.connection_count(), 0u);

  // Read first, then close: a FIN, and nothing counted. The peer's FIN with no data leaves nothing unread.
  Harness h2;
  const Harness::Accepted b = h2.listen_and_accept(40002, SeqNum{500});
  h2.feed(SegmentBuilder().ports(40002, kPort).seq(501).ack(b.iss + 1).payload("read"));
  h2.poll();
  std::array<std::byte, 16> buf{};
  EXPECT_EQ(h2.layer.connection(b.conn)->recv(buf), 4u);
  h2.feed(SegmentBuilder().ports(40002, kPort).seq(505).ack(b.iss + 1).fin());
  h2.poll();
  ASSERT_EQ(h2.layer.find(b.conn)->state(), State::kCloseWait);
  h2.layer.close(h2.now, b.conn);
  EXPECT_EQ(h2.poll_one().flags(), Control::kFin | Control::kAck);
  EXPECT_EQ(h2.layer.counters().close_unread_resets, 0u);
}

TEST(TcpLayer, DemuxHashIsKeyed) {
  const FourTuple t{{kUs, kPort}, {kPeer, 40000}};
  const TcpLayer::TupleHash h1{SipKey{1, 2}}, h1_again{SipKey{1, 2}}, h2{SipKey{3, 4}};
  EXPECT_EQ(h1(t), h1_again(t));
  EXPECT_NE(h1(t), h2(t));  // another key, another bucket order: collisions cannot be precomputed
  // Every field counts.
  EXPECT_NE(h1(t), h1(FourTuple{{kUs, kPort}, {kPeer, 40001}}));
  EXPECT_NE(h1(t), h1(FourTuple{{kUs, kPort + 1}, {kPeer, 40000}}));
  EXPECT_NE(h1(t), h1(FourTuple{{kUs, kPort}, {kPeer2, 40000}}));
  const ip::IpAddress v6a = *ip::Ipv6Address::parse("2001:db8::1"), v6b = *ip::Ipv6Address::parse("2001:db8::2");
  EXPECT_NE(h1(FourTuple{{v6a, kPort}, {v6b, 40000}}), h1(FourTuple{{v6b, kPort}, {v6a, 40000}}));
}

TEST(TcpLayer, MaxConnectionsRefusesNewOnes) {
  LayerConfig lc;
  lc.max_connections = 2;
  Harness h{lc};
  ASSERT_TRUE(h.layer.listen({kUs, kPort}, 8));
  ASSERT_TRUE(h.layer.connect(h.now, {kPeer, 443}));
  h.feed(SegmentBuilder().ports(40001, kPort).seq(1).syn());
  EXPECT_EQ(h.layer.connection_count(), 2u);
  h.feed(SegmentBuilder().ports(40002, kPort).seq(1).syn());
  EXPECT_EQ(h.layer.counters().drop_too_many_connections, 1u);
  EXPECT_EQ(h.layer.connect(h.now, {kPeer, 443}).error(), std::error_code(ENOBUFS, std::generic_category()));
}

TEST(TcpLayer, IcmpErrorReachesTheConnectionByQuotedHeader) {
  Harness h;
  const auto c = h.layer.connect(h.now, {kPeer, 443}, ip::Endpoint{kUs, 5000});
  ASSERT_TRUE(c);
  const auto sent = h.poll();
  ASSERT_EQ(sent.size(), 1u);
  ip::IcmpErrorInfo info;
  info.kind = ip::IcmpErrorInfo::Kind::kPortUnreachable;
  info.hard = true;
  info.orig_src = kUs;
  info.orig_dst = kPeer;
  info.protocol = 6;
  // RFC 1122 §4.2.3.9 / RFC 5927: a hard error in SYN-SENT aborts the connection.
  h.layer.on_icmp_error(h.now, info, Bytes{sent[0].bytes.data(), 8});
  EXPECT_EQ(h.layer.counters().icmp_errors_delivered, 1u);
  EXPECT_TRUE(h.layer.find(*c)->is_closed());
  EXPECT_EQ(h.layer.find(*c)->error(), std::error_code(ECONNREFUSED, std::generic_category()));
  // Unknown 4-tuple and short quotes are counted.
  info.orig_dst = kPeer2;
  h.layer.on_icmp_error(h.now, info, Bytes{sent[0].bytes.data(), 8});
  h.layer.on_icmp_error(h.now, info, Bytes{sent[0].bytes.data(), 4});
  EXPECT_EQ(h.layer.counters().drop_icmp_no_connection, 2u);
}

}  // namespace
}  // namespace tapstack::tcp
