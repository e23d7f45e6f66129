// tcp::Connection against hostile or unusual options and sequence numbers: window scale 255 (RFC 7323 §2.3),
// MSS 0 (smoltcp #538, CVE-2019-11477), an option of length 0, sequence wraparound (smoltcp #489/#491) and
// PAWS (RFC 7323 §5).
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

TEST(TcpConnection, WindowScale255TreatedAs14) {
  ConnectionConfig cfg = plain_config();
  cfg.window_scaling = true;
  PeerOptions peer;
  peer.wscale = 255;
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, cfg, peer);
  h.receive(ms(1), h.peer().seq(R).ack(L).window(1));  // 1 << 14 = 16384 bytes
  const std::string data = pattern(3000);
  h.conn.send(as_bytes(data));
  h.expect_sent(ms(1), h.ours().seq(L).ack(R).payload(data.substr(0, 1460)));
  h.expect_sent(ms(1), h.ours().seq(L + 1460).ack(R).payload(data.substr(1460, 1460)));
}

TEST(TcpConnection, WindowScaleNeedsBothSyns) {
  ConnectionConfig cfg = plain_config();
  cfg.window_scaling = true;
  cfg.recv_buffer = 1 << 20;
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, cfg);  // the peer sent no WS
  h.receive(ms(1), h.peer().seq(R).ack(L).payload("x"));
  // Unscaled: the field is capped at 65535 (the edge then stays put for 1 byte, receiver SWS avoidance).
  h.expect_sent(ms(41), h.ours().seq(L).ack(R + 1).window(65534));
}

TEST(TcpConnection, Mss0SurvivesAndIsClamped) {
  PeerOptions peer;
  peer.mss = 0;
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, plain_config(), peer);
  EXPECT_EQ(h.conn.send_mss(), kMinPeerMss);
  const std::string data = pattern(200);
  h.conn.send(as_bytes(data));
  h.expect_sent(ms(0), h.ours().seq(L).ack(R).payload(data.substr(0, 88)));
  h.expect_sent(ms(0), h.ours().seq(L + 88).ack(R).payload(data.substr(88, 88)));
  h.expect_nothing(ms(10));  // the 24-byte tail waits (Nagle)
}

TEST(TcpConnection, TinyMssClampedOnPassiveOpenToo) {
  auto h = TcpHarness::syn_received(plain_config(), PeerOptions{.mss = 1});
  EXPECT_EQ(h.conn.send_mss(), kMinPeerMss);
}

TEST(TcpConnection, OptionLength0Survived) {
  auto h = TcpHarness::syn_sent();
  // A SYN-ACK whose options are MSS 1200, then a window-scale option with length 0 (the walk stops there).
  std::vector<std::byte> seg = to_bytes({0, 80, 0x9c, 0x40, 0, 0, 0x13, 0x88, 0, 0, 0x03, 0xe9, 0x70, 0x12, 0xff, 0xff,
                                         0, 0,  0,    0,    2, 4, 0x04, 0xb0, 3, 0, 7,    1,    1,    1,    1,    0});
  auto view = View::parse(seg);
  ASSERT_TRUE(view);
  auto repr = Repr::parse_unverified(*view);
  ASSERT_TRUE(repr);
  EXPECT_EQ(repr->mss, std::optional<std::uint16_t>{1200});
  EXPECT_FALSE(repr->window_scale);
  h.receive(ms(5), SegmentBuilder(h.peer()).seq(repr->seq).ack(*repr->ack).syn().mss(1200));
  h.discard();
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  EXPECT_EQ(h.conn.send_mss(), 1200);
}

TEST(TcpConnection, SequenceWraparoundBothDirections) {
  const std::uint32_t iss = 0xfffffff0u, irs = 0xfffffffau;
  auto h = TcpHarness::established(iss, irs);
  const std::string out = pattern(100);
  h.conn.send(as_bytes(out));
  h.expect_sent(ms(0), h.ours().seq(iss + 1).ack(irs + 1).psh().payload(out));
  h.receive(ms(10), h.peer().seq(irs + 1).ack(iss + 101).payload(pattern(50)));
  h.receive(ms(10), h.peer().seq(irs + 51).ack(iss + 101).payload(pattern(50, 50)));
  EXPECT_EQ(h.conn.send_free(), 65536u);  // all acknowledged across the wrap
  EXPECT_EQ(read_all(h.conn), pattern(100));
  h.expect_sent(ms(50), h.ours().seq(iss + 101).ack(irs + 101).window(65535 - 100));
  // An out-of-order segment across the wrap.
  h.receive(ms(60), h.peer().seq(irs + 111).ack(iss + 101).payload("later"));
  h.receive(ms(60), h.peer().seq(irs + 101).ack(iss + 101).payload("0123456789"));
  EXPECT_EQ(read_all(h.conn), "0123456789later");
  // And a close across it.
  h.discard();
  h.conn.close();
  h.expect_sent(ms(60), h.ours().seq(iss + 101).ack(irs + 116).fin().window(65535 - 115));
}

TEST(TcpConnection, Paws_OldTimestampDroppedWithAck) {
  ConnectionConfig cfg = plain_config();
  cfg.timestamps = true;
  PeerOptions peer;
  peer.ts = Timestamps{1000, 0};
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, cfg, peer);
  h.receive(ms(10), h.peer().seq(R).ack(L).timestamps(2000, h.our_ts(ms(0))).payload("new"));
  EXPECT_EQ(h.conn.recv_available(), 3u);
  h.discard();
  // TSval 1500 < TS.Recent 2000: an old duplicate (RFC 7323 §5.3 R1), even though its sequence is fine.
  h.receive(ms(20), h.peer().seq(R + 3).ack(L).timestamps(1500, h.our_ts(ms(0))).payload("old"));
  EXPECT_EQ(h.conn.recv_available(), 3u);
  h.expect_sent(ms(20), h.ours().seq(L).ack(R + 3).timestamps(h.our_ts(ms(20)), 2000).window(65535 - 3));
  // TSval wrapping past 2^32 is still "newer".
  h.receive(ms(30), h.peer().seq(R + 3).ack(L).timestamps(2000 + 0x7fffffffu, h.our_ts(ms(0))).payload("ok"));
  EXPECT_EQ(h.conn.recv_available(), 5u);
}

TEST(TcpConnection, Timestamps_OnEverySegmentOnceNegotiated) {
  ConnectionConfig cfg = plain_config();
  cfg.timestamps = true;
  PeerOptions peer;
  peer.ts = Timestamps{77, 0};
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, cfg, peer);
  EXPECT_EQ(h.conn.send_mss(), 1460 - 12);
  h.conn.send(as_bytes("a"));
  h.expect_sent(ms(0), h.ours().seq(L).ack(R).psh().payload("a").timestamps(h.our_ts(ms(0)), 77));
}

}  // namespace
}  // namespace tapstack::tcp::testing
