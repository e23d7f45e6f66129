// Transcript tests of tcp::Connection's data path: delayed ACK (RFC 9293 §3.8.6.3), Nagle (RFC 1122 §4.2.3.4),
// SWS avoidance on both sides (RFC 9293 §3.8.6.2), zero-window probes (§3.8.6.1), out-of-order reassembly and
// SACK blocks (RFC 2018), keepalive (RFC 1122 §4.2.3.6), urgent data inline (RFC 6093).
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "tcp_harness.hpp"

namespace tapstack::tcp::testing {
namespace {

constexpr std::uint32_t L = kLocalIss + 1;
constexpr std::uint32_t R = kRemoteIss + 1;

std::string read_all(Connection& c) {
  std::string s;
  std::array<std::byte, 4096> buf{};
  while (std::size_t n = c.recv(buf)) s.append(as_chars(Bytes{buf.data(), n}));
  return s;
}

TEST(TcpConnection, Established_DataUnacked_RetransmitsAfterRto) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.conn.send(as_bytes("abcdef"));
  h.expect_sent(ms(0), h.ours().seq(L).ack(R).psh().payload("abcdef"));
  h.expect_nothing(ms(199));
  h.expect_sent(ms(200), h.ours().seq(L).ack(R).psh().payload("abcdef"));
}

TEST(TcpConnection, DelayedAck_40ms) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.receive(ms(10), h.peer().seq(R).ack(L).payload(pattern(100)));
  h.expect_nothing(ms(49));
  h.expect_sent(ms(50), h.ours().seq(L).ack(R + 100).window(65535 - 100));
  EXPECT_EQ(read_all(h.conn), pattern(100));
}

TEST(TcpConnection, DelayedAck_EverySecondFullSegmentAckedAtOnce) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.receive(ms(10), h.peer().seq(R).ack(L).payload(pattern(1460)));
  h.expect_nothing(ms(11));
  h.receive(ms(11), h.peer().seq(R + 1460).ack(L).payload(pattern(1460, 1460)));
  h.expect_sent(ms(11), h.ours().seq(L).ack(R + 2920).window(65535 - 2920));
  h.receive(ms(12), h.peer().seq(R + 2920).ack(L).payload(pattern(1460, 2920)));
  h.expect_sent(ms(52), h.ours().seq(L).ack(R + 4380).window(65535 - 4380));
  EXPECT_EQ(read_all(h.conn), pattern(4380));
}

// A segment shorter than the largest the peer sent so far usually ends one of its writes (socket::Runtime wakes a
// reader at once for it and batches the wake-ups of full-sized bulk data): counted, full-sized ones are not.
TEST(TcpConnection, ShortSegmentsReceived_CountsSegmentsBelowThePeersFullSize) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  EXPECT_EQ(h.conn.short_segments_received(), 0u);
  h.receive(ms(10), h.peer().seq(R).ack(L).payload(pattern(1460)));
  h.receive(ms(10), h.peer().seq(R + 1460).ack(L).payload(pattern(1460, 1460)));
  EXPECT_EQ(h.conn.short_segments_received(), 0u);
  h.receive(ms(10), h.peer().seq(R + 2920).ack(L).payload(pattern(100, 2920)));
  EXPECT_EQ(h.conn.short_segments_received(), 1u);
  h.receive(ms(11), h.peer().seq(R + 3020).ack(L).payload(pattern(1460, 3020)));
  EXPECT_EQ(h.conn.short_segments_received(), 1u);
  EXPECT_EQ(read_all(h.conn), pattern(4480));
}

TEST(TcpConnection, DelayedAck_PiggybackedOnData) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.receive(ms(10), h.peer().seq(R).ack(L).payload("ping"));
  h.conn.send(as_bytes("pong"));
  h.expect_sent(ms(10), h.ours().seq(L).ack(R + 4).psh().payload("pong").window(65531));
  h.expect_nothing(ms(100));  // the delayed ACK rode on the data
}

TEST(TcpConnection, Nagle_HoldsSmallSegmentWhileUnacked) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.conn.send(as_bytes("a"));
  h.expect_sent(ms(0), h.ours().seq(L).ack(R).psh().payload("a"));
  h.conn.send(as_bytes("b"));
  h.conn.send(as_bytes("c"));
  h.expect_nothing(ms(50));
  h.receive(ms(60), h.peer().seq(R).ack(L + 1));
  h.expect_sent(ms(60), h.ours().seq(L + 1).ack(R).psh().payload("bc"));
}

TEST(TcpConnection, Nagle_FullSegmentsGoAtOnce) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  const std::string data = pattern(1460 + 10);
  h.conn.send(as_bytes(data));
  h.expect_sent(ms(0), h.ours().seq(L).ack(R).payload(data.substr(0, 1460)));
  h.expect_nothing(ms(50));  // the 10-byte tail waits for the ACK
  h.receive(ms(60), h.peer().seq(R).ack(L + 1460));
  h.expect_sent(ms(60), h.ours().seq(L + 1460).ack(R).psh().payload(data.substr(1460)));
}

TEST(TcpConnection, Nodelay_SendsEachWriteAtOnce) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.conn.set_nodelay(true);
  h.conn.send(as_bytes("a"));
  h.expect_sent(ms(0), h.ours().seq(L).ack(R).psh().payload("a"));
  h.conn.send(as_bytes("b"));
  h.expect_sent(ms(0), h.ours().seq(L + 1).ack(R).psh().payload("b"));
}

TEST(TcpConnection, ConfigNagleOff) {
  ConnectionConfig cfg = plain_config();
  cfg.nagle = false;
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, cfg);
  h.conn.send(as_bytes("a"));
  h.expect_sent(ms(0), h.ours().seq(L).ack(R).psh().payload("a"));
  h.conn.send(as_bytes("b"));
  h.expect_sent(ms(0), h.ours().seq(L + 1).ack(R).psh().payload("b"));
}

TEST(TcpConnection, SenderSws_SmallWindowWaitsThenOverrideTimerSends) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  // The peer offered 65535 before; now only 1000 of it is open.
  h.receive(ms(1), h.peer().seq(R).ack(L).window(1000));
  const std::string data = pattern(5000);
  h.conn.send(as_bytes(data));
  // 1000 < MSS and < MAX.SND.WND / 2: hold (RFC 9293 §3.8.6.2.1) until the override (persist) timeout.
  h.expect_nothing(ms(200));
  h.expect_sent(ms(201), h.ours().seq(L).ack(R).payload(data.substr(0, 1000)));
  // A window update opens the rest.
  h.receive(ms(210), h.peer().seq(R).ack(L + 1000).window(65535));
  h.expect_sent(ms(210), h.ours().seq(L + 1000).ack(R).payload(data.substr(1000, 1460)));
}

TEST(TcpConnection, ZeroWindow_ProbesWithBackoffUntilItOpens) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.receive(ms(5), h.peer().seq(R).ack(L).window(0));
  h.conn.send(as_bytes("hello"));
  const auto probe = h.ours().seq(L - 1).ack(R);  // <SEQ=SND.UNA-1>: outside the window, answered with an ACK
  h.expect_nothing(ms(204));
  h.expect_sent(ms(205), probe);
  h.receive(ms(206), h.peer().seq(R).ack(L).window(0));
  h.expect_nothing(ms(604));
  h.expect_sent(ms(605), probe);  // 400 ms later: backed off
  h.receive(ms(606), h.peer().seq(R).ack(L).window(0));
  h.expect_nothing(ms(1404));
  h.expect_sent(ms(1405), probe);  // 800 ms later
  h.receive(ms(1500), h.peer().seq(R).ack(L).window(65535));
  h.expect_sent(ms(1500), h.ours().seq(L).ack(R).psh().payload("hello"));
  EXPECT_EQ(h.conn.state(), State::kEstablished);
}

TEST(TcpConnection, ZeroWindow_WeAdvertiseZeroAndUpdateAfterRead) {
  ConnectionConfig cfg = plain_config();
  cfg.recv_buffer = 4096;
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, cfg);
  for (std::uint32_t i = 0; i < 4; ++i) {
    h.receive(ms(10), h.peer().seq(R + i * 1024).ack(L).payload(pattern(1024, i * 1024)));
  }
  h.discard();
  h.receive(ms(20), h.peer().seq(R + 4096).ack(L).payload("x"));  // beyond the (zero) window
  h.expect_sent(ms(20), h.ours().seq(L).ack(R + 4096).window(0));
  // Reading less than an MSS does not reopen the window (receiver SWS avoidance).
  std::array<std::byte, 100> small{};
  EXPECT_EQ(h.conn.recv(small), 100u);
  h.expect_nothing(ms(30));
  std::string rest = read_all(h.conn);
  EXPECT_EQ(rest.size(), 4096u - 100u);
  h.expect_sent(ms(30), h.ours().seq(L).ack(R + 4096).window(4096));  // the window update
}

TEST(TcpConnection, ZeroWindow_ProbeFromPeerIsAnsweredAndAckProcessed) {
  ConnectionConfig cfg = plain_config();
  cfg.recv_buffer = 1024;
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, cfg);
  h.conn.send(as_bytes("q"));
  h.discard();
  h.receive(ms(10), h.peer().seq(R).ack(L).payload(pattern(1024)));
  h.discard();
  // A probe carrying one byte at RCV.NXT with window 0: not accepted, but its ACK of our data counts.
  h.receive(ms(20), h.peer().seq(R + 1024).ack(L + 1).payload("z"));
  h.expect_sent(ms(20), h.ours().seq(L + 1).ack(R + 1024).window(0));
  EXPECT_EQ(h.conn.recv_available(), 1024u);
  EXPECT_EQ(h.conn.send_free(), 65536u);  // "q" acknowledged
}

TEST(TcpConnection, OutOfOrder_ReassembledAndAckedAtOnce) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.receive(ms(10), h.peer().seq(R + 6).ack(L).payload("ghi"));
  h.expect_sent(ms(10), h.ours().seq(L).ack(R));
  h.receive(ms(11), h.peer().seq(R + 3).ack(L).payload("def"));
  h.expect_sent(ms(11), h.ours().seq(L).ack(R));
  EXPECT_EQ(h.conn.recv_available(), 0u);
  h.receive(ms(12), h.peer().seq(R).ack(L).payload("abc"));
  h.expect_sent(ms(12), h.ours().seq(L).ack(R + 9).window(65535 - 9));  // the hole filled: ACK at once
  EXPECT_EQ(read_all(h.conn), "abcdefghi");
}

TEST(TcpConnection, OutOfOrder_BurstGetsOneDuplicateAckPerSegment) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  // Three out-of-order segments delivered before the layer polls: three duplicate ACKs (RFC 5681 §4.2), so
  // the sender's fast retransmit does not depend on how the layer batches.
  for (std::uint32_t i = 1; i <= 3; ++i) {
    h.conn.on_segment(ms(0), h.peer().seq(R + 100 * i).ack(L).payload(pattern(100)).build());
  }
  h.expect_sent(ms(0), h.ours().seq(L).ack(R));
  h.expect_sent(ms(0), h.ours().seq(L).ack(R));
  h.expect_sent(ms(0), h.ours().seq(L).ack(R));
  h.expect_nothing(ms(100));
}

TEST(TcpConnection, OutOfOrder_OverlapsAndDuplicates) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.receive(ms(10), h.peer().seq(R + 2).ack(L).payload("cdef"));
  h.receive(ms(10), h.peer().seq(R + 4).ack(L).payload("efgh"));
  h.receive(ms(10), h.peer().seq(R).ack(L).payload("abcd"));
  h.receive(ms(10), h.peer().seq(R).ack(L).payload("abcdefghij"));  // partly old: the new tail is taken
  EXPECT_EQ(read_all(h.conn), "abcdefghij");
}

TEST(TcpConnection, OutOfOrder_SackBlocksMostRecentFirst) {
  ConnectionConfig cfg = plain_config();
  cfg.sack = true;
  PeerOptions peer;
  peer.sack = true;
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, cfg, peer);
  h.receive(ms(10), h.peer().seq(R + 10).ack(L).payload("xx"));
  h.expect_sent(ms(10), h.ours().seq(L).ack(R).sack(R + 10, R + 12));
  h.receive(ms(11), h.peer().seq(R + 20).ack(L).payload("yy"));
  h.expect_sent(ms(11), h.ours().seq(L).ack(R).sack(R + 20, R + 22).sack(R + 10, R + 12));
  h.receive(ms(12), h.peer().seq(R + 12).ack(L).payload("zz"));
  h.expect_sent(ms(12), h.ours().seq(L).ack(R).sack(R + 10, R + 14).sack(R + 20, R + 22));
}

TEST(TcpConnection, OutOfOrder_RangeCapDropsSegment) {
  ConnectionConfig cfg = plain_config();
  cfg.max_ooo_ranges = 2;
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, cfg);
  h.receive(ms(10), h.peer().seq(R + 10).ack(L).payload("a"));
  h.receive(ms(10), h.peer().seq(R + 20).ack(L).payload("b"));
  h.receive(ms(10), h.peer().seq(R + 30).ack(L).payload("c"));  // a third range: dropped
  h.discard();
  h.receive(ms(11), h.peer().seq(R).ack(L).payload(pattern(21)));
  EXPECT_EQ(h.conn.recv_available(), 21u);  // up to "b"; "c" was not kept
}

TEST(TcpConnection, UrgentDataDeliveredInline) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  // An urgent pointer far past the data must not be used for anything (RFC 6093, URGENT/11).
  h.receive(ms(10), h.peer().seq(R).ack(L).urgent(0xffff).payload("!urgent"));
  h.receive(ms(11), h.peer().seq(R + 7).ack(L).urgent(0).payload("rest"));
  EXPECT_EQ(read_all(h.conn), "!urgentrest");
}

TEST(TcpConnection, PeekDoesNotConsume) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.receive(ms(10), h.peer().seq(R).ack(L).payload("peekaboo"));
  std::array<std::byte, 4> buf{};
  EXPECT_EQ(h.conn.peek(buf), 4u);
  EXPECT_EQ(as_chars(Bytes{buf.data(), 4}), "peek");
  EXPECT_TRUE(h.conn.can_recv());
  EXPECT_EQ(read_all(h.conn), "peekaboo");
  EXPECT_FALSE(h.conn.can_recv());
}

TEST(TcpConnection, SendBufferBoundsSend) {
  ConnectionConfig cfg = plain_config();
  cfg.send_buffer = 4096;
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, cfg);
  const std::string big = pattern(10000);
  EXPECT_EQ(h.conn.send(as_bytes(big)), 4096u);
  EXPECT_EQ(h.conn.send_free(), 0u);
  EXPECT_EQ(h.conn.send(as_bytes("x")), 0u);
  h.discard();
  h.receive(ms(10), h.peer().seq(R).ack(L + 1460));
  EXPECT_EQ(h.conn.send_free(), 1460u);
}

TEST(TcpConnection, Keepalive_ProbesThenTimesOut) {
  ConnectionConfig cfg = plain_config();
  cfg.keepalive = ConnectionConfig::Keepalive{seconds{10}, seconds{1}, 3};
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, cfg);
  const auto probe = h.ours().seq(L - 1).ack(R);
  h.expect_nothing(ms(9999));
  h.expect_sent(ms(10000), probe);
  // An answer restarts the idle period.
  h.receive(ms(10500), h.peer().seq(R).ack(L));
  h.expect_nothing(ms(20499));
  h.expect_sent(ms(20500), probe);
  h.expect_sent(ms(21500), probe);
  h.expect_sent(ms(22500), probe);
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  h.run_until(ms(23500));
  EXPECT_TRUE(h.conn.is_closed());
  EXPECT_EQ(h.conn.error(), std::make_error_code(std::errc::timed_out));
}

TEST(TcpConnection, Keepalive_OffByDefault) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  EXPECT_EQ(h.conn.poll_at(), std::nullopt);
  h.expect_nothing(ms(10'000'000));
}

}  // namespace
}  // namespace tapstack::tcp::testing
