// TcpLayer transcripts for orphans behind a zero window (ConnectionConfig::orphan_zero_window_probes, Linux's
// tcp_orphan_retries): the application closed with data unsent and the peer keeps answering the zero-window
// probes with a zero window. The orphan is reset once the configured number of probes went out in a row; a
// window that opens in between starts the count again; a connection the application still holds probes on.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>

#include "layer_harness.hpp"
#include "segment_builder.hpp"
#include "tcp/layer.hpp"

namespace tapstack::tcp {
namespace {

using namespace testing;  // SegmentBuilder, Harness (layer_harness.hpp)

constexpr std::uint16_t kPeerPort = 40002;
constexpr SeqNum kPeerIss{500};

// An accepted connection whose peer closed its window; the application queued `data` and then closed the
// socket (`orphan`) or kept it.
struct ZeroWindow {
  ZeroWindow(std::optional<std::uint32_t> limit, bool orphan) {
    ConnectionConfig cfg;
    cfg.orphan_zero_window_probes = limit;
    const Harness::Accepted a = h.listen_and_accept(kPeerPort, kPeerIss, cfg);
    iss = a.iss;
    conn = a.conn;
    zero_window_ack();
    EXPECT_TRUE(h.poll().empty());
    EXPECT_EQ(h.layer.connection(conn)->send(as_bytes(std::string_view{"pending data"})), 12u);
    if (orphan) h.layer.close(h.now, conn);
    else h.layer.connection(conn)->close();
    EXPECT_TRUE(h.poll().empty());  // nothing fits a zero window (the FIN waits behind the data)
  }
  // The peer's ACK of our SYN with a zero window (the harness's feed() would turn 0 into 65535).
  void zero_window_ack() {
    Repr r = SegmentBuilder().ports(kPeerPort, kPort).seq(kPeerIss + 1).ack(iss + 1).build();
    r.window = 0;
    h.feed_bytes(emit_to_vector(r, ip::PseudoHeader{kPeer, kUs, 6, 0}));
  }
  // Moves from timer to timer (other timers may fire in between without sending) and returns the first
  // segments sent; empty after 10 silent timers.
  std::vector<Sent> next() {
    for (int i = 0; i < 10; ++i) {
      const std::optional<Instant> at = h.layer.poll_at();
      if (!at) break;
      h.now = std::max(h.now, *at);
      std::vector<Sent> s = h.poll();
      if (!s.empty()) return s;
    }
    return {};
  }
  // Probes until one is not answered by a probe: returns the probes seen and the last segment (if any).
  std::size_t probes_then(Repr& last, std::size_t max) {
    for (std::size_t n = 0; n < max; ++n) {
      const std::vector<Sent> s = next();
      if (s.size() != 1) {
        ADD_FAILURE() << "expected one segment, got " << s.size();
        return n;
      }
      last = s[0].repr;
      if (last.has_flags(Control::kRst)) return n;
      EXPECT_EQ(last.seq, iss);  // <SEQ=SND.UNA-1><ACK>: a probe the peer must answer
      zero_window_ack();         // ... with its window still closed
    }
    return max;
  }
  const Connection* find() const { return h.layer.find(conn); }

  mutable Harness h;
  SeqNum iss{};
  ConnHandle conn{};
};

TEST(TcpLayerOrphanZeroWindow, DefaultIsEightProbes_ThenReset) {
  EXPECT_EQ(ConnectionConfig{}.orphan_zero_window_probes, std::optional<std::uint32_t>{8});
  ZeroWindow z{ConnectionConfig{}.orphan_zero_window_probes, /*orphan=*/true};
  Repr last;
  const Instant t0 = z.h.now;
  EXPECT_EQ(z.probes_then(last, 20), 8u);
  // The probes back off from the RTO (here the 200 ms minimum) by doubling: 0.2 * (1 + 2 + ... + 128) s.
  EXPECT_EQ(z.h.now - t0, seconds{51});
  EXPECT_EQ(last.flags(), Control::kRst);  // RFC 9293 §3.10.5 ABORT from FIN-WAIT-1: <SEQ=SND.NXT><CTL=RST>
  EXPECT_EQ(last.seq, z.iss + 1);
  EXPECT_EQ(z.find(), nullptr);
  EXPECT_EQ(z.h.layer.connection_count(), 0u);
  EXPECT_EQ(z.h.layer.counters().orphan_zero_window_aborts, 1u);
}

TEST(TcpLayerOrphanZeroWindow, AWindowThatOpensStartsTheCountAgain) {
  ZeroWindow z{3u, /*orphan=*/true};
  Repr last;
  EXPECT_EQ(z.probes_then(last, 2), 2u);  // two probes, both answered with a zero window
  // The peer opens its window (100 bytes): the data goes out at once, and the probe count starts again.
  z.h.feed(SegmentBuilder().ports(kPeerPort, kPort).seq(kPeerIss + 1).ack(z.iss + 1).window(100));
  const std::vector<Sent> sent = z.h.poll();
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent[0].repr.payload.size(), 12u);
  EXPECT_EQ(z.h.layer.connection(z.conn), nullptr);  // an orphan's handle is gone; the connection is not
  ASSERT_NE(z.find(), nullptr);
  EXPECT_EQ(z.find()->zero_window_probes(), 0u);
  EXPECT_EQ(z.h.layer.counters().orphan_zero_window_aborts, 0u);
}

TEST(TcpLayerOrphanZeroWindow, HeldByTheApplication_ProbesOnPastTheLimit) {
  ZeroWindow z{3u, /*orphan=*/false};
  Repr last;
  EXPECT_EQ(z.probes_then(last, 12), 12u);
  ASSERT_NE(z.find(), nullptr);
  EXPECT_EQ(z.find()->state(), State::kFinWait1);
  EXPECT_EQ(z.h.layer.counters().orphan_zero_window_aborts, 0u);
}

TEST(TcpLayerOrphanZeroWindow, Unbounded_ProbesForever) {
  ZeroWindow z{std::nullopt, /*orphan=*/true};
  Repr last;
  EXPECT_EQ(z.probes_then(last, 12), 12u);
  EXPECT_NE(z.find(), nullptr);
}

}  // namespace
}  // namespace tapstack::tcp
