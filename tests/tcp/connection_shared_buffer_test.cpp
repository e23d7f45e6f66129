// Transcript tests of tcp::Connection's shared buffers (copy-once): another party producing into send_buffer()
// and consuming from recv_buffer() in place of send()/recv(), window_update_after() against what poll_transmit
// then does (RFC 9293 §3.8.6.2.2), the FIN fencing off late writes, and the buffers outliving the connection.
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>

#include "tcp_harness.hpp"

namespace tapstack::tcp::testing {
namespace {

constexpr std::uint32_t L = kLocalIss + 1;
constexpr std::uint32_t R = kRemoteIss + 1;

std::string read_ring(SpscByteRing& ring, std::size_t max) {
  std::string s(max, '\0');
  const std::size_t n = ring.read(MutableBytes{reinterpret_cast<std::byte*>(s.data()), s.size()});
  s.resize(n);
  return s;
}

bool points_into(Bytes inner, Bytes outer) {
  return !inner.empty() && inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

TEST(TcpConnectionSharedBuffer, BytesWrittenToTheSendBufferGoOutFromIt_NoSecondCopy) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  const std::shared_ptr<SpscByteRing> tx = h.conn.send_buffer();
  ASSERT_NE(tx, nullptr);
  EXPECT_EQ(tx->capacity(), 64u << 10);
  EXPECT_EQ(tx->write(as_bytes("abcdef")), 6u);  // the producer is "the application", not Connection::send
  // The emitted payload is a view of the ring's own storage: the bytes are not copied again on their way out.
  const Bytes in_ring = tx->readable(0, 6)[0];
  std::string payload;
  bool from_ring = false;
  ASSERT_TRUE(h.conn.poll_transmit(h.now, [&](const Repr& r) {
    payload.assign(as_chars(r.payload));
    from_ring = points_into(r.payload, in_ring);
  }));
  EXPECT_EQ(payload, "abcdef");
  EXPECT_TRUE(from_ring);
  // The peer's ACK releases the bytes from the shared ring (the consumer side is the connection's).
  h.receive(ms(5), h.peer().seq(R).ack(L + 6));
  EXPECT_EQ(tx->consumed(), 6u);
  EXPECT_EQ(tx->size(), 0u);
}

TEST(TcpConnectionSharedBuffer, ReceivedBytesAreReadFromTheReceiveBuffer) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  const std::shared_ptr<SpscByteRing> rx = h.conn.recv_buffer();
  h.receive(ms(10), h.peer().seq(R).ack(L).payload("hello"));
  EXPECT_EQ(rx->produced(), 5u);
  EXPECT_EQ(read_ring(*rx, 100), "hello");
  EXPECT_EQ(h.conn.recv_available(), 0u);
}

TEST(TcpConnectionSharedBuffer, WindowUpdateAfter_IsExactlyWhenPollTransmitSendsTheUpdate) {
  ConnectionConfig cfg = plain_config();
  cfg.recv_buffer = 4096;
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, cfg);
  SpscByteRing& rx = *h.conn.recv_buffer();
  // Empty: the open window (4096) would have to double, beyond the buffer.
  EXPECT_EQ(h.conn.window_update_after(), std::nullopt);
  for (std::uint32_t i = 0; i < 4; ++i) {
    h.receive(ms(10), h.peer().seq(R + i * 1024).ack(L).payload(pattern(1024, i * 1024)));
  }
  h.discard();  // the ACKs, the last with window 0
  // Window 0, SWS threshold min(4096 / 2, 1024 seen from the peer) = 1024: 1024 bytes must be read.
  EXPECT_EQ(h.conn.window_update_after(), std::optional<std::size_t>{1024});
  EXPECT_EQ(read_ring(rx, 1023), pattern(1023));
  EXPECT_EQ(h.conn.window_update_after(), std::optional<std::size_t>{1});
  h.expect_nothing(ms(20));
  EXPECT_EQ(read_ring(rx, 1), pattern(1, 1023));
  EXPECT_EQ(h.conn.window_update_after(), std::optional<std::size_t>{0});
  h.expect_sent(ms(20), h.ours().seq(L).ack(R + 4096).window(1024));
  // Now 1024 open at the edge: the window must double, to 2048 (1024 more read).
  EXPECT_EQ(h.conn.window_update_after(), std::optional<std::size_t>{1024});
}

TEST(TcpConnectionSharedBuffer, WindowUpdateAfter_NoneOnceThePeersFinArrived) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  h.receive(ms(10), h.peer().seq(R).ack(L).payload("bye").fin());
  EXPECT_EQ(h.conn.state(), State::kCloseWait);
  EXPECT_EQ(h.conn.window_update_after(), std::nullopt);
}

TEST(TcpConnectionSharedBuffer, BytesWrittenAfterClose_NeverSentPastTheFin) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  SpscByteRing& tx = *h.conn.send_buffer();
  EXPECT_EQ(tx.write(as_bytes("abc")), 3u);
  h.conn.close();
  EXPECT_EQ(tx.write(as_bytes("xyz")), 3u);  // a racing writer on another thread: the ring still takes it
  h.expect_sent(ms(0), h.ours().seq(L).ack(R).psh().fin().payload("abc"));
  h.expect_nothing(ms(150));
  h.receive(ms(160), h.peer().seq(R).ack(L + 4));  // the FIN acknowledged
  EXPECT_EQ(h.conn.state(), State::kFinWait2);
  h.expect_nothing(ms(5000));
}

TEST(TcpConnectionSharedBuffer, BuffersOutliveTheConnection) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss);
  std::shared_ptr<SpscByteRing> rx = h.conn.recv_buffer();
  std::shared_ptr<SpscByteRing> tx = h.conn.send_buffer();
  h.receive(ms(10), h.peer().seq(R).ack(L).payload("kept"));
  EXPECT_EQ(tx->write(as_bytes("queued")), 6u);
  h.owned.reset();  // the layer reaped the connection (a reset); the application still holds both rings
  EXPECT_EQ(rx.use_count(), 1);
  EXPECT_EQ(read_ring(*rx, 100), "kept");
  EXPECT_EQ(tx->size(), 6u);
}

}  // namespace
}  // namespace tapstack::tcp::testing
