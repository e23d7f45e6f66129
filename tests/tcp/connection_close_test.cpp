// Transcript tests of tcp::Connection's closing paths (RFC 9293 §3.6): FIN-WAIT-1/2, CLOSING (simultaneous
// close), CLOSE-WAIT/LAST-ACK, TIME-WAIT for 2*MSL (RFC 1337: RSTs ignored), ABORT.
#include <gtest/gtest.h>

#include "tcp_harness.hpp"

namespace tapstack::tcp::testing {
namespace {

constexpr std::uint32_t L = kLocalIss + 1;   // our first data sequence number
constexpr std::uint32_t R = kRemoteIss + 1;  // the peer's

TEST(TcpConnection, ActiveClose_FinWait1_FinWait2_TimeWait_Closed) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.conn.close();
  EXPECT_EQ(h.conn.state(), State::kFinWait1);
  EXPECT_EQ(h.conn.send(as_bytes("late")), 0u);
  h.expect_sent(ms(0), h.ours().seq(L).ack(R).fin());
  h.receive(ms(10), h.peer().seq(R).ack(L + 1));
  EXPECT_EQ(h.conn.state(), State::kFinWait2);
  h.receive(ms(20), h.peer().seq(R).ack(L + 1).fin());
  EXPECT_EQ(h.conn.state(), State::kTimeWait);
  EXPECT_TRUE(h.conn.recv_finished());
  // The FIN took a sequence number; the right edge did not move (RFC 9293 §3.8.6.2.2), so 65534.
  h.expect_sent(ms(20), h.ours().seq(L + 1).ack(R + 1).window(65534));
  // TIME-WAIT lasts 2*MSL = 60 s.
  h.expect_nothing(ms(60019));
  EXPECT_EQ(h.conn.state(), State::kTimeWait);
  h.run_until(ms(60020));
  EXPECT_TRUE(h.conn.is_closed());
  EXPECT_FALSE(h.conn.error());
}

TEST(TcpConnection, ActiveClose_DataThenFinPiggybacked) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.conn.send(as_bytes("bye"));
  h.conn.close();
  h.expect_sent(ms(0), h.ours().seq(L).ack(R).psh().fin().payload("bye"));
  h.receive(ms(10), h.peer().seq(R).ack(L + 4));
  EXPECT_EQ(h.conn.state(), State::kFinWait2);
}

TEST(TcpConnection, ActiveClose_FinRetransmittedOnRto) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.conn.close();
  h.expect_sent(ms(0), h.ours().seq(L).ack(R).fin());
  // The handshake's RTT sample (0 ms) gives the minimum RTO, 200 ms; then it doubles (RFC 6298 §5.5).
  h.expect_nothing(ms(199));
  h.expect_sent(ms(200), h.ours().seq(L).ack(R).fin());
  h.expect_nothing(ms(599));
  h.expect_sent(ms(600), h.ours().seq(L).ack(R).fin());
}

TEST(TcpConnection, TimeWait_RetransmittedFinReAckedAndTimerRestarted) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.conn.close();
  h.discard();
  h.receive(ms(10), h.peer().seq(R).ack(L + 1).fin());
  EXPECT_EQ(h.conn.state(), State::kTimeWait);
  h.expect_sent(ms(10), h.ours().seq(L + 1).ack(R + 1).window(65534));
  h.receive(ms(30000), h.peer().seq(R).ack(L + 1).fin());
  h.expect_sent(ms(30000), h.ours().seq(L + 1).ack(R + 1).window(65534));
  h.run_until(ms(60010));
  EXPECT_EQ(h.conn.state(), State::kTimeWait);  // restarted at 30 s
  h.run_until(ms(90000));
  EXPECT_TRUE(h.conn.is_closed());
}

TEST(TcpConnection, TimeWait_RstIgnored) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.conn.close();
  h.discard();
  h.receive(ms(10), h.peer().seq(R).ack(L + 1).fin());
  h.discard();
  h.receive(ms(20), h.peer().seq(R + 1).rst());  // exactly RCV.NXT: still ignored (RFC 1337)
  h.receive(ms(21), h.peer().seq(R + 1).ack(L + 1).rst());
  EXPECT_EQ(h.conn.state(), State::kTimeWait);
  h.expect_nothing(ms(1000));
}

TEST(TcpConnection, PassiveClose_CloseWait_LastAck_Closed) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.receive(ms(5), h.peer().seq(R).ack(L).fin());
  EXPECT_EQ(h.conn.state(), State::kCloseWait);
  EXPECT_TRUE(h.conn.recv_finished());
  h.expect_sent(ms(5), h.ours().seq(L).ack(R + 1).window(65534));
  EXPECT_EQ(h.conn.send(as_bytes("last")), 4u);  // half-close: we can still send
  h.expect_sent(ms(5), h.ours().seq(L).ack(R + 1).psh().payload("last").window(65534));
  h.conn.close();
  EXPECT_EQ(h.conn.state(), State::kLastAck);
  h.expect_sent(ms(5), h.ours().seq(L + 4).ack(R + 1).fin().window(65534));
  h.receive(ms(15), h.peer().seq(R + 1).ack(L + 5));
  EXPECT_TRUE(h.conn.is_closed());
  EXPECT_FALSE(h.conn.error());
  h.expect_nothing(ms(100000));
}

TEST(TcpConnection, SimultaneousClose_Closing_TimeWait) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.conn.close();
  h.expect_sent(ms(0), h.ours().seq(L).ack(R).fin());
  // The peer's FIN crosses ours (it does not ack our FIN).
  h.receive(ms(5), h.peer().seq(R).ack(L).fin());
  EXPECT_EQ(h.conn.state(), State::kClosing);
  h.expect_sent(ms(5), h.ours().seq(L + 1).ack(R + 1).window(65534));
  h.receive(ms(6), h.peer().seq(R + 1).ack(L + 1));
  EXPECT_EQ(h.conn.state(), State::kTimeWait);
  h.run_until(ms(60006));
  EXPECT_TRUE(h.conn.is_closed());
}

TEST(TcpConnection, FinWait1_FinAckingOurFinGoesStraightToTimeWait) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.conn.close();
  h.discard();
  h.receive(ms(5), h.peer().seq(R).ack(L + 1).fin());
  EXPECT_EQ(h.conn.state(), State::kTimeWait);
  h.expect_sent(ms(5), h.ours().seq(L + 1).ack(R + 1).window(65534));
}

TEST(TcpConnection, FinWait2_DataStillDelivered) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.conn.close();
  h.discard();
  h.receive(ms(5), h.peer().seq(R).ack(L + 1));
  h.receive(ms(6), h.peer().seq(R).ack(L + 1).payload("tail").fin());
  EXPECT_EQ(h.conn.state(), State::kTimeWait);
  std::array<std::byte, 8> buf{};
  EXPECT_EQ(h.conn.recv(buf), 4u);
  EXPECT_TRUE(h.conn.recv_finished());
}

TEST(TcpConnection, OutOfOrderFinWaitsForTheHole) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.receive(ms(5), h.peer().seq(R + 3).ack(L).payload("def").fin());
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  h.expect_sent(ms(5), h.ours().seq(L).ack(R));  // duplicate ACK for the gap
  h.receive(ms(6), h.peer().seq(R).ack(L).payload("abc"));
  EXPECT_EQ(h.conn.state(), State::kCloseWait);
  h.expect_sent(ms(6), h.ours().seq(L).ack(R + 7).window(65535 - 7));
  std::array<std::byte, 8> buf{};
  ASSERT_EQ(h.conn.recv(buf), 6u);
  EXPECT_EQ(as_chars(Bytes{buf.data(), 6}), "abcdef");
}

TEST(TcpConnection, CloseInSynSentDeletesTcb) {
  auto h = TcpHarness::syn_sent();
  h.conn.close();
  EXPECT_TRUE(h.conn.is_closed());
  h.expect_nothing(ms(10000));
}

TEST(TcpConnection, CloseInSynReceivedSendsFinAfterHandshake) {
  auto h = TcpHarness::syn_received();
  h.conn.close();
  EXPECT_EQ(h.conn.state(), State::kSynReceived);
  h.receive(ms(3), h.peer().seq(R).ack(L));
  EXPECT_EQ(h.conn.state(), State::kFinWait1);
  h.expect_sent(ms(3), h.ours().seq(L).ack(R).fin());
}

TEST(TcpConnection, Abort_SendsRstAndCloses) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.conn.send(as_bytes("xyz"));
  h.discard();
  h.conn.abort();
  EXPECT_EQ(h.conn.state(), State::kClosed);
  EXPECT_FALSE(h.conn.is_closed());  // the RST has yet to go out
  h.expect_sent(ms(0), h.ours().seq(L + 3).rst().window(0));
  EXPECT_TRUE(h.conn.is_closed());
  h.expect_nothing(ms(10000));
}

TEST(TcpConnection, PeerRstResetsEstablished) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.receive(ms(5), h.peer().seq(R).rst());
  EXPECT_TRUE(h.conn.is_closed());
  EXPECT_EQ(h.conn.error(), std::make_error_code(std::errc::connection_reset));
  EXPECT_EQ(h.conn.send(as_bytes("x")), 0u);
}

TEST(TcpConnection, LastAck_RstClosesWithoutError) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.receive(ms(5), h.peer().seq(R).ack(L).fin());
  h.conn.close();
  h.discard();
  h.receive(ms(6), h.peer().seq(R + 1).rst());
  EXPECT_TRUE(h.conn.is_closed());
  EXPECT_FALSE(h.conn.error());
}

}  // namespace
}  // namespace tapstack::tcp::testing
