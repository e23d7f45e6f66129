// Transcript tests of tcp::Connection's loss recovery: RFC 6298 RTO with backoff and Karn's rule, give-up after
// max_retransmits (ETIMEDOUT), fast retransmit (RFC 5681 §3.2), NewReno partial ACKs (RFC 6582), and RFC 6675
// SACK recovery that resends only the holes.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "tcp_harness.hpp"

namespace tapstack::tcp::testing {
namespace {

constexpr std::uint32_t L = kLocalIss + 1;
constexpr std::uint32_t R = kRemoteIss + 1;
constexpr std::uint32_t M = kMss;

TEST(TcpConnection, Rto_BackoffThenEtimedout) {
  ConnectionConfig cfg = plain_config();
  cfg.max_retransmits = 3;
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, cfg);
  h.conn.send(as_bytes("abcdef"));
  const auto seg = h.ours().seq(L).ack(R).psh().payload("abcdef");
  h.expect_sent(ms(0), seg);
  h.expect_sent(ms(200), seg);  // RTO 200 ms (minimum, after a 0 ms handshake sample)
  h.expect_nothing(ms(599));
  h.expect_sent(ms(600), seg);  // 400 ms
  h.expect_nothing(ms(1399));
  h.expect_sent(ms(1400), seg);  // 800 ms
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  h.expect_nothing(ms(2999));
  h.run_until(ms(3000));  // the fourth expiry gives up
  EXPECT_TRUE(h.conn.is_closed());
  EXPECT_EQ(h.conn.error(), std::make_error_code(std::errc::timed_out));
  const auto st = h.conn.stats();
  EXPECT_EQ(st.retransmits, 3u);
  EXPECT_EQ(st.rto_expirations, 4u);
}

TEST(TcpConnection, Rto_SoftIcmpErrorReportedOnTimeout) {
  ConnectionConfig cfg = plain_config();
  cfg.max_retransmits = 1;
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, cfg);
  h.conn.send(as_bytes("x"));
  h.discard();
  ip::IcmpErrorInfo info;
  info.kind = ip::IcmpErrorInfo::Kind::kHostUnreachable;
  h.conn.on_icmp_error(ms(1), info, SeqNum{L});
  EXPECT_EQ(h.conn.state(), State::kEstablished);  // soft: nothing yet
  EXPECT_FALSE(h.conn.error());
  h.run_until(ms(1000));
  EXPECT_TRUE(h.conn.is_closed());
  EXPECT_EQ(h.conn.error(), std::make_error_code(std::errc::host_unreachable));
}

TEST(TcpConnection, Icmp_QuotedSeqOutsideFlightIgnored) {
  auto h = TcpHarness::syn_sent();
  ip::IcmpErrorInfo info;
  info.kind = ip::IcmpErrorInfo::Kind::kPortUnreachable;
  info.hard = true;
  h.conn.on_icmp_error(ms(1), info, SeqNum{kLocalIss + 5});  // not our SYN (RFC 5927 §4.1)
  EXPECT_EQ(h.conn.state(), State::kSynSent);
  h.conn.on_icmp_error(ms(1), info, SeqNum{kLocalIss});
  EXPECT_TRUE(h.conn.is_closed());
  EXPECT_EQ(h.conn.error(), std::make_error_code(std::errc::connection_refused));
}

TEST(TcpConnection, Icmp_HardErrorInEstablishedIsSoft) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.conn.send(as_bytes("x"));
  h.discard();
  ip::IcmpErrorInfo info;
  info.kind = ip::IcmpErrorInfo::Kind::kPortUnreachable;
  info.hard = true;
  h.conn.on_icmp_error(ms(1), info, SeqNum{L});
  EXPECT_EQ(h.conn.state(), State::kEstablished);  // RFC 5927 §4
}

TEST(TcpConnection, Icmp_FragNeededLowersMssAndResends) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  const std::string data = pattern(3000);
  h.conn.send(as_bytes(data));
  EXPECT_EQ(h.discard(), 2u);  // two full segments; Nagle holds the 80-byte tail
  h.run_until(ms(5));
  ip::IcmpErrorInfo info;
  info.kind = ip::IcmpErrorInfo::Kind::kFragNeeded;
  info.next_hop_mtu = 1000;
  h.conn.on_icmp_error(ms(5), info, SeqNum{L});
  EXPECT_EQ(h.conn.send_mss(), 960);
  h.expect_sent(ms(5), h.ours().seq(L).ack(R).payload(data.substr(0, 960)));
  info.next_hop_mtu = 60;  // below 68: ignored (RFC 1191 §3)
  h.conn.on_icmp_error(ms(6), info, SeqNum{L});
  EXPECT_EQ(h.conn.send_mss(), 960);
}

TEST(TcpConnection, Karn_NoSampleFromRetransmittedSegment) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  EXPECT_EQ(h.conn.stats().srtt, std::optional<Duration>{Duration{0}});
  h.conn.send(as_bytes("abc"));
  h.discard();
  h.run_until(ms(200));
  EXPECT_EQ(h.discard(), 1u);  // retransmitted
  h.receive(ms(250), h.peer().seq(R).ack(L + 3));
  EXPECT_EQ(h.conn.stats().srtt, std::optional<Duration>{Duration{0}});  // ambiguous: no sample
  // The backed-off RTO (400 ms) stays until a valid sample (RFC 6298 §5.7 / Karn).
  h.conn.send(as_bytes("def"));
  h.expect_sent(ms(250), h.ours().seq(L + 3).ack(R).psh().payload("def"));
  h.receive(ms(290), h.peer().seq(R).ack(L + 6));
  EXPECT_EQ(h.conn.stats().srtt, std::optional<Duration>{milliseconds{5}});  // 7/8 * 0 + 1/8 * 40 ms
}

TEST(TcpConnection, Timestamps_RttFromEchoEvenForRetransmissions) {
  ConnectionConfig cfg = plain_config();
  cfg.timestamps = true;
  PeerOptions peer;
  peer.ts = Timestamps{100, 0};
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, cfg, peer);
  h.conn.send(as_bytes("abc"));
  auto first = h.next_sent(ms(0));
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->repr.timestamps);
  EXPECT_EQ(first->repr.timestamps->tsval, h.our_ts(ms(0)));
  EXPECT_EQ(first->repr.timestamps->tsecr, 100u);
  auto again = h.next_sent(ms(200));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->at, ms(200));
  // The ACK echoes the retransmission's TSval: RTTM measures 30 ms unambiguously (RFC 7323 §4).
  h.receive(ms(230), h.peer().seq(R).ack(L + 3).timestamps(101, h.our_ts(ms(200))));
  // SRTT was 0 (the SYN's sample): 7/8 * 0 + 1/8 * 30 ms.
  EXPECT_EQ(h.conn.stats().srtt, std::optional<Duration>{microseconds{3750}});
}

TEST(TcpConnection, FastRetransmit_AfterThreeDupAcks) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  const std::string data = pattern(5 * M);
  h.conn.send(as_bytes(data));
  EXPECT_EQ(h.discard(), 5u);
  h.receive(ms(10), h.peer().seq(R).ack(L + M));
  h.receive(ms(11), h.peer().seq(R).ack(L + M));
  h.receive(ms(12), h.peer().seq(R).ack(L + M));
  h.expect_nothing(ms(12));
  h.receive(ms(13), h.peer().seq(R).ack(L + M));  // the third duplicate
  h.expect_sent(ms(13), h.ours().seq(L + M).ack(R).payload(data.substr(M, M)));
  EXPECT_EQ(h.conn.stats().fast_retransmits, 1u);
  EXPECT_EQ(h.conn.stats().dup_acks, 3u);
  h.receive(ms(20), h.peer().seq(R).ack(L + 5 * M));
  h.expect_nothing(ms(1000));
}

TEST(TcpConnection, LimitedTransmit_NewSegmentPerFirstTwoDupAcks) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  const std::string data = pattern(14 * M);
  h.conn.send(as_bytes(data));
  EXPECT_EQ(h.discard(), 10u);                    // the initial window (RFC 6928): 10 segments
  h.receive(ms(10), h.peer().seq(R).ack(L + M));  // one acked: slow start lets two more go (cwnd 11, flight 9)
  EXPECT_EQ(h.discard(), 2u);
  h.receive(ms(11), h.peer().seq(R).ack(L + M));  // first duplicate: RFC 3042 sends one new segment
  h.expect_sent(ms(11), h.ours().seq(L + 12 * M).ack(R).payload(data.substr(12 * M, M)));
  h.expect_nothing(ms(11));
  h.receive(ms(12), h.peer().seq(R).ack(L + M));  // second duplicate: one more
  h.expect_sent(ms(12), h.ours().seq(L + 13 * M).ack(R).psh().payload(data.substr(13 * M)));
  EXPECT_EQ(h.conn.stats().fast_retransmits, 0u);
}

TEST(TcpConnection, NewReno_PartialAckRetransmitsNextHole) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  const std::string data = pattern(6 * M);
  h.conn.send(as_bytes(data));
  EXPECT_EQ(h.discard(), 6u);
  // Segments 2 and 4 lost; 1, 3, 5, 6 arrive.
  h.receive(ms(10), h.peer().seq(R).ack(L + M));
  for (int i = 0; i < 3; ++i) h.receive(ms(11), h.peer().seq(R).ack(L + M));
  h.expect_sent(ms(11), h.ours().seq(L + M).ack(R).payload(data.substr(M, M)));
  h.expect_nothing(ms(20));
  // Segment 2 arrives: the ACK covers 1..3, short of `recover` (RFC 6582): resend segment 4 at once.
  h.receive(ms(21), h.peer().seq(R).ack(L + 3 * M));
  h.expect_sent(ms(21), h.ours().seq(L + 3 * M).ack(R).payload(data.substr(3 * M, M)));
  h.receive(ms(31), h.peer().seq(R).ack(L + 6 * M));  // full ACK: recovery ends
  h.expect_nothing(ms(2000));
  EXPECT_EQ(h.conn.stats().fast_retransmits, 1u);
  EXPECT_EQ(h.conn.stats().retransmits, 2u);
  EXPECT_EQ(h.conn.stats().rto_expirations, 0u);
}

TEST(TcpConnection, Sack_RecoveryResendsOnlyTheHoles) {
  ConnectionConfig cfg = plain_config();
  cfg.sack = true;
  PeerOptions peer;
  peer.sack = true;
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, cfg, peer);
  const std::string data = pattern(8 * M);
  h.conn.send(as_bytes(data));
  EXPECT_EQ(h.discard(), 8u);
  // Lost: segments 2 and 4 (of 8). The peer SACKs what it has.
  h.receive(ms(10), h.peer().seq(R).ack(L + M));
  h.receive(ms(11), h.peer().seq(R).ack(L + M).sack(L + 2 * M, L + 3 * M));
  h.receive(ms(12), h.peer().seq(R).ack(L + M).sack(L + 4 * M, L + 5 * M).sack(L + 2 * M, L + 3 * M));
  h.receive(ms(13), h.peer().seq(R).ack(L + M).sack(L + 4 * M, L + 6 * M).sack(L + 2 * M, L + 3 * M));
  h.receive(ms(14), h.peer().seq(R).ack(L + M).sack(L + 4 * M, L + 7 * M).sack(L + 2 * M, L + 3 * M));
  h.receive(ms(15), h.peer().seq(R).ack(L + M).sack(L + 4 * M, L + 8 * M).sack(L + 2 * M, L + 3 * M));
  std::set<std::uint32_t> resent;
  while (auto s = h.next_sent(ms(15))) resent.insert(s->repr.seq.value() - L);
  h.receive(ms(20), h.peer().seq(R).ack(L + 3 * M).sack(L + 4 * M, L + 8 * M));
  while (auto s = h.next_sent(ms(20))) resent.insert(s->repr.seq.value() - L);
  EXPECT_EQ(resent, (std::set<std::uint32_t>{M, 3 * M}));
  h.receive(ms(30), h.peer().seq(R).ack(L + 8 * M));
  h.expect_nothing(ms(2000));
  EXPECT_EQ(h.conn.stats().retransmits, 2u);
  EXPECT_EQ(h.conn.stats().rto_expirations, 0u);
}

TEST(TcpConnection, Rto_GoBackNResendsFromSndUna) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  const std::string data = pattern(3 * M);
  h.conn.send(as_bytes(data));
  EXPECT_EQ(h.discard(), 3u);
  // After the RTO, cwnd is one segment (RFC 5681 §3.1): one segment, then more as ACKs return.
  h.expect_sent(ms(200), h.ours().seq(L).ack(R).payload(data.substr(0, M)));
  h.expect_nothing(ms(250));
  h.receive(ms(260), h.peer().seq(R).ack(L + M));
  h.expect_sent(ms(260), h.ours().seq(L + M).ack(R).payload(data.substr(M, M)));
  h.expect_sent(ms(260), h.ours().seq(L + 2 * M).ack(R).psh().payload(data.substr(2 * M, M)));
}

}  // namespace
}  // namespace tapstack::tcp::testing
