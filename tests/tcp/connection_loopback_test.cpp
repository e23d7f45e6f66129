// Two tcp::Connections wired back to back in memory (tcp_harness.hpp Loopback) under a virtual clock: bulk
// transfers arrive byte-identical, with and without loss, and both sides close cleanly. This exercises the
// throughput logic (window scaling, CUBIC, SACK recovery, delayed ACKs) without the IP layer.
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "tcp_harness.hpp"

namespace tapstack::tcp::testing {
namespace {

struct TransferResult {
  std::string received;
  Instant finished;
  bool a_done = false, b_done = false;
};

// A sends `src` then closes; B reads everything, closes after EOF.
TransferResult transfer(Loopback& lb, const std::string& src, Instant limit) {
  TransferResult r;
  r.received.reserve(src.size());
  std::size_t sent = 0;
  bool a_closed = false, b_closed = false;
  std::array<std::byte, 64 << 10> buf{};
  for (int guard = 0; guard < 5'000'000; ++guard) {
    if (sent < src.size()) {
      sent += lb.a->send(as_bytes(std::string_view{src}.substr(sent)));
    } else if (!a_closed) {
      lb.a->close();
      a_closed = true;
    }
    while (std::size_t n = lb.b->recv(buf)) r.received.append(as_chars(Bytes{buf.data(), n}));
    if (lb.b->recv_finished() && !b_closed) {
      lb.b->close();
      b_closed = true;
    }
    const bool a_done = lb.a->is_closed() || lb.a->state() == State::kTimeWait;
    if (a_done && lb.b->is_closed()) {
      r.a_done = r.b_done = true;
      break;
    }
    if (lb.now > limit) break;
    if (!lb.step()) break;
  }
  r.finished = lb.now;
  return r;
}

ConnectionConfig bulk_config() {
  ConnectionConfig cfg;  // the defaults: 4 MiB buffers, window scaling, SACK, timestamps, CUBIC
  return cfg;
}

TEST(TcpConnectionLoopback, EightMiBLossless) {
  Loopback lb(bulk_config(), microseconds{500}, 0.0);
  const std::string src = pattern(8 << 20);
  const TransferResult r = transfer(lb, src, Instant::from_millis(60'000));
  ASSERT_EQ(r.received.size(), src.size());
  EXPECT_TRUE(r.received == src);
  EXPECT_TRUE(r.a_done);
  EXPECT_TRUE(r.b_done);
  EXPECT_EQ(lb.a->stats().retransmits, 0u);
  EXPECT_EQ(lb.a->error(), std::error_code{});
  EXPECT_EQ(lb.b->error(), std::error_code{});
  // With a 1 ms RTT and a 4 MiB window, slow start opens up within a few RTTs (~12 ms of virtual time).
  EXPECT_LT(r.finished, Instant::from_millis(50));
  EXPECT_EQ(lb.a->stats().bytes_out, src.size());
  EXPECT_EQ(lb.b->stats().bytes_in, src.size());
}

TEST(TcpConnectionLoopback, EightMiBWithLossSack) {
  Loopback lb(bulk_config(), milliseconds{1}, 0.01, 7);
  const std::string src = pattern(8 << 20, 3);
  const TransferResult r = transfer(lb, src, Instant::from_millis(600'000));
  ASSERT_EQ(r.received.size(), src.size());
  EXPECT_TRUE(r.received == src);
  EXPECT_TRUE(r.a_done && r.b_done);
  EXPECT_GT(lb.dropped, 0u);
  EXPECT_GT(lb.a->stats().retransmits, 0u);
  EXPECT_GT(lb.a->stats().fast_retransmits, 0u);
  // SACK recovery, not timeouts, repairs the losses: far from RTO-bound (~1.7 s of virtual time today).
  EXPECT_LT(r.finished, Instant::from_millis(5'000));
  EXPECT_LE(lb.a->stats().retransmits, lb.dropped);  // only what was lost (ACK losses included in dropped)
}

TEST(TcpConnectionLoopback, TwoMiBWithLossNewRenoNoSackNoTimestamps) {
  ConnectionConfig cfg = bulk_config();
  cfg.sack = false;
  cfg.timestamps = false;
  cfg.congestion = CongestionAlgorithm::kNewReno;
  Loopback lb(cfg, milliseconds{1}, 0.02, 11);
  const std::string src = pattern(2 << 20, 5);
  const TransferResult r = transfer(lb, src, Instant::from_millis(600'000));
  ASSERT_EQ(r.received.size(), src.size());
  EXPECT_TRUE(r.received == src);
  EXPECT_TRUE(r.a_done && r.b_done);
  EXPECT_GT(lb.a->stats().retransmits, 0u);
  EXPECT_GT(lb.a->stats().fast_retransmits, 0u);  // three duplicate ACKs, then RFC 6582 partial ACKs
  EXPECT_LT(r.finished, Instant::from_millis(5'000));
}

TEST(TcpConnectionLoopback, SmallBuffersAndZeroWindows) {
  ConnectionConfig cfg = bulk_config();
  cfg.send_buffer = 8 << 10;
  cfg.recv_buffer = 4 << 10;
  Loopback lb(cfg, milliseconds{2}, 0.0);
  const std::string src = pattern(300 << 10, 1);
  const TransferResult r = transfer(lb, src, Instant::from_millis(600'000));
  ASSERT_EQ(r.received.size(), src.size());
  EXPECT_TRUE(r.received == src);
  EXPECT_TRUE(r.a_done && r.b_done);
}

}  // namespace
}  // namespace tapstack::tcp::testing
