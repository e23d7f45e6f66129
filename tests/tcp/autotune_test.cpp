// Buffer autotuning (tcp/config.hpp initial_buffer): the receive buffer grows by dynamic right-sizing (twice
// what the application took in one round trip), the send buffer to twice cwnd, both bounded by the configured
// sizes; a slow reader or a small flow keeps small buffers. Transcripts with exact times, and two stacks.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tcp_harness.hpp"
#include "two_stacks_harness.hpp"

namespace tapstack::tcp::testing {
namespace {

ConnectionConfig tuned(std::size_t initial, std::size_t max) {
  ConnectionConfig c = plain_config();
  c.recv_buffer = c.send_buffer = max;
  c.initial_buffer = initial;
  c.window_scaling = true;
  return c;
}

// The peer fills whatever window we advertised, once per 10 ms round trip; our application reads `per_round`
// bytes after each round (everything when 0). Returns the receive buffer size after each round.
std::vector<std::size_t> window_limited_rounds(TcpHarness& h, int rounds, std::size_t per_round) {
  std::vector<std::size_t> sizes;
  SeqNum seq{kRemoteIss + 1};
  auto window = std::uint32_t(h.conn.stats().recv_buffer);  // the initial buffer; then from each ACK we send
  std::vector<std::byte> rx(8 << 20);
  const std::string data(1000, 'x');
  for (int r = 0; r < rounds; ++r) {
    const Instant at = ms(10 * (r + 1));
    for (std::uint32_t sent = 0; sent < window;) {  // exactly the window, the last segment short
      const std::uint32_t n = std::min<std::uint32_t>(1000, window - sent);
      h.receive(at, h.peer().seq(seq).ack(SeqNum{kLocalIss + 1}).payload(std::string_view{data}.substr(0, n)));
      seq += n;
      sent += n;
    }
    std::size_t left = per_round == 0 ? rx.size() : per_round;
    while (left > 0) {
      const std::size_t n = h.conn.recv(MutableBytes{rx}.first(std::min(left, rx.size())));
      if (n == 0) break;
      left -= n;
    }
    h.run_until(at + milliseconds{1});
    // The window of the last segment we sent, in bytes (our window scale is 5, for 1 MiB).
    while (auto c = h.next_sent(at + milliseconds{1})) window = std::uint32_t(c->repr.window) << 5;
    sizes.push_back(h.conn.stats().recv_buffer);
  }
  return sizes;
}

TEST(TcpAutotune, ReceiveBufferGrowsEachRoundTripWhileTheWindowLimitsTheSender) {
  PeerOptions peer;
  peer.wscale = 7;
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, tuned(16 << 10, 1 << 20), peer);
  EXPECT_EQ(h.conn.stats().recv_buffer, 16u << 10);
  const std::vector<std::size_t> sizes = window_limited_rounds(h, 10, 0);
  // Each round trip the application took a whole window, so the buffer grows (faster while the amount per round
  // trip grows, as Linux's tcp_rcv_space_adjust), never shrinks, and stops at the 1 MiB limit.
  for (std::size_t i = 1; i < sizes.size(); ++i) {
    EXPECT_GE(sizes[i], sizes[i - 1]);
    EXPECT_LE(sizes[i], std::size_t{1} << 20);
  }
  EXPECT_EQ(sizes.back(), std::size_t{1} << 20);
  EXPECT_LT(sizes[2], std::size_t{1} << 20);  // it grew, it did not jump
}

TEST(TcpAutotune, SlowReaderKeepsTheInitialReceiveBuffer) {
  // 2000 bytes per round trip: twice that plus the 16-segment cushion (27.4 KB) fits the 64 KiB it has.
  PeerOptions peer;
  peer.wscale = 7;
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, tuned(64 << 10, 1 << 20), peer);
  const std::vector<std::size_t> sizes = window_limited_rounds(h, 10, 2000);
  for (const std::size_t s : sizes) EXPECT_EQ(s, 64u << 10);
}

TEST(TcpAutotune, ZeroInitialBufferAllocatesTheWholeBufferAtOnce) {
  auto h = TcpHarness::established(kLocalIss, kRemoteIss, tuned(0, 1 << 20));
  EXPECT_EQ(h.conn.stats().recv_buffer, 1u << 20);
  EXPECT_EQ(h.conn.stats().send_buffer, 1u << 20);
}

TEST(TcpAutotune, WindowScaleIsChosenForTheLargestBuffer) {
  // 16 KiB now, 1 MiB later: the SYN must already carry the scale the 1 MiB buffer needs (RFC 7323 §2.2: the
  // scale is fixed at the handshake), which is 5 (1 MiB >> 5 = 32768 <= 65535).
  SeededRng rng{kSeed};
  Connection c{Instant{}, v4_tuple(), SeqNum{kLocalIss}, kMss, tuned(16 << 10, 1 << 20), rng};
  std::optional<Repr> syn;
  c.poll_transmit(Instant{}, [&](const Repr& r) { syn = r; });
  ASSERT_TRUE(syn);
  EXPECT_EQ(syn->window_scale, std::optional<std::uint8_t>{5});
  EXPECT_EQ(syn->window, 16384);  // an unscaled SYN window: the 16 KiB that exist now
}

// Two stacks in memory: a 16 MiB transfer with the default configuration (128 KiB initial, 4 MiB limit) keeps
// both buffers far below the limit, because the round trip is short; with initial_buffer 0 both are 4 MiB.
TEST(TcpAutotune, InMemoryBulkTransferKeepsBuffersSmall) {
  for (const std::size_t initial : {std::size_t{128} << 10, std::size_t{0}}) {
    TwoStacks::Options o;
    TwoStacks s{o};
    ConnectionConfig cfg;
    cfg.initial_buffer = initial;
    const TransferResult r = run_transfer(s, 16 << 20, cfg);
    ASSERT_TRUE(r.completed) << r.failure;
    EXPECT_EQ(r.received_hash, r.sent_hash);
    if (initial == 0) {
      EXPECT_EQ(r.receiver.recv_buffer, 4u << 20);
      EXPECT_EQ(r.sender.send_buffer, 4u << 20);
    } else {
      EXPECT_GE(r.receiver.recv_buffer, 128u << 10);
      EXPECT_LE(r.receiver.recv_buffer, 1u << 20);
      EXPECT_LE(r.sender.send_buffer, 1u << 20);
      EXPECT_GE(r.sender.send_buffer, 2 * std::uint64_t(r.sender.cwnd));  // room for twice cwnd
    }
  }
}

}  // namespace
}  // namespace tapstack::tcp::testing
