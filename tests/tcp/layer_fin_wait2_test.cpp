// TcpLayer transcripts for the FIN-WAIT-2 timeout (ConnectionConfig::fin_wait2_timeout, Linux's tcp_fin_timeout):
// an orphan whose peer acknowledged our FIN but never sends its own is dropped, silently, exactly when the
// timeout passes; a connection the application still holds (half-close) waits as long as the peer likes; the
// peer's FIN in time turns the wait into an ordinary TIME-WAIT.
#include <gtest/gtest.h>

#include <optional>

#include "layer_harness.hpp"
#include "segment_builder.hpp"
#include "tcp/layer.hpp"

namespace tapstack::tcp {
namespace {

using namespace testing;  // SegmentBuilder, Harness (layer_harness.hpp)

constexpr std::uint16_t kPeerPort = 40001;
constexpr SeqNum kPeerIss{100};
constexpr Duration kOneUs{1};

// An accepted connection whose application closed it (or half-closed it) and whose peer then acknowledged
// our FIN at `fin_acked_at`, leaving it in FIN-WAIT-2.
struct FinWait2 {
  explicit FinWait2(std::optional<Duration> timeout, bool orphan = true) {
    ConnectionConfig cfg;
    cfg.fin_wait2_timeout = timeout;
    const Harness::Accepted a = h.listen_and_accept(kPeerPort, kPeerIss, cfg);
    iss = a.iss;
    conn = a.conn;
    if (orphan) {
      h.layer.close(h.now, conn);
    } else {
      h.layer.connection(conn)->close();  // shutdown(SHUT_WR): the application keeps the handle
    }
    const Repr fin = h.poll_one();
    EXPECT_EQ(fin.flags(), Control::kFin | Control::kAck);
    EXPECT_EQ(fin.seq, iss + 1);
    h.now += milliseconds{10};
    fin_acked_at = h.now;
    h.feed(peer().ack(iss + 2));  // acknowledges our FIN, sends none of its own
    EXPECT_TRUE(h.poll().empty());
    EXPECT_EQ(state(), std::optional<State>{State::kFinWait2});
  }
  SegmentBuilder peer(std::uint32_t offset = 1) const {
    return SegmentBuilder().ports(kPeerPort, kPort).seq(kPeerIss + offset);
  }
  std::optional<State> state() const {
    const Connection* c = h.layer.find(conn);
    return c == nullptr ? std::nullopt : std::optional<State>{c->state()};
  }
  // Polls at `t` and returns what was sent.
  std::vector<Sent> poll_at(Instant t) {
    h.now = t;
    return h.poll();
  }

  // The layer's next timer is `deadline`; the connection is still in FIN-WAIT-2 1 µs before it, and at it is
  // gone without a segment (no RST: Linux's FIN_WAIT2 timewait socket expires silently too).
  void expect_dropped_at(Instant deadline) {
    EXPECT_EQ(h.layer.poll_at(), std::optional<Instant>{deadline});
    EXPECT_TRUE(poll_at(deadline - kOneUs).empty());
    EXPECT_EQ(state(), std::optional<State>{State::kFinWait2});
    EXPECT_EQ(h.layer.connection_count(), 1u);
    EXPECT_TRUE(poll_at(deadline).empty());
    EXPECT_EQ(state(), std::nullopt);
    EXPECT_EQ(h.layer.connection_count(), 0u);
    EXPECT_EQ(h.layer.counters().fin_wait2_timeouts, 1u);
  }

  mutable Harness h;
  SeqNum iss{};
  ConnHandle conn{};
  Instant fin_acked_at{};
};

TEST(TcpLayerFinWait2, Orphan_DroppedSilentlyAfterSixtySecondsByDefault) {
  EXPECT_EQ(ConnectionConfig{}.fin_wait2_timeout, std::optional<Duration>{seconds{60}});
  FinWait2 f{ConnectionConfig{}.fin_wait2_timeout};
  f.expect_dropped_at(f.fin_acked_at + seconds{60});  // from the ACK of our FIN, not from close()
  EXPECT_EQ(f.h.layer.poll_at(), std::nullopt);

  // The 4-tuple is gone: the peer's late data meets the listener, which answers an ACK-bearing segment with
  // <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.2).
  f.h.now += seconds{1};
  f.h.feed(f.peer().ack(f.iss + 2).payload("late"));
  const Repr rst = f.h.poll_one();
  EXPECT_EQ(rst.flags(), Control::kRst);
  EXPECT_EQ(rst.seq, f.iss + 2);
  EXPECT_EQ(f.h.layer.counters().drop_listener_ack, 1u);
}

TEST(TcpLayerFinWait2, Orphan_ConfiguredTimeout) {
  FinWait2 f{seconds{5}};
  f.expect_dropped_at(f.fin_acked_at + seconds{5});
}

TEST(TcpLayerFinWait2, Orphan_PeerSegmentsDoNotPushTheDeadlineBack) {
  FinWait2 f{seconds{60}};
  const Instant deadline = f.fin_acked_at + seconds{60};
  // 30 s in, the peer sends a window update: nothing answers it, and the deadline stays.
  f.h.now = f.fin_acked_at + seconds{30};
  f.h.feed(f.peer().ack(f.iss + 2).window(30000));
  EXPECT_TRUE(f.h.poll().empty());
  f.expect_dropped_at(deadline);
}

// RFC 1122 §4.2.2.13: new data after the application closed draws a RST ("data lost"), as on Linux
// (TCPAbortOnData); the orphan is gone at once instead of waiting out its FIN-WAIT-2 timeout.
TEST(TcpLayerFinWait2, Orphan_PeerDataResetsIt) {
  FinWait2 f{seconds{60}};
  f.h.now = f.fin_acked_at + seconds{30};
  f.h.feed(f.peer().ack(f.iss + 2).payload("more"));
  const Repr rst = f.h.poll_one();
  EXPECT_EQ(rst.flags(), Control::kRst);
  EXPECT_EQ(rst.seq, f.iss + 2);  // <SEQ=SND.NXT><CTL=RST>
  EXPECT_EQ(f.state(), std::nullopt);
  EXPECT_EQ(f.h.layer.connection_count(), 0u);
  EXPECT_EQ(f.h.layer.counters().orphan_data_resets, 1u);
  EXPECT_EQ(f.h.layer.counters().fin_wait2_timeouts, 0u);
}

TEST(TcpLayerFinWait2, Orphan_FinBeforeTheDeadlineCancelsTheTimer) {
  FinWait2 f{seconds{60}};
  const Instant fin_at = f.fin_acked_at + seconds{59};
  f.h.now = fin_at;
  f.h.feed(f.peer().ack(f.iss + 2).fin());
  const Repr ack = f.h.poll_one();
  EXPECT_EQ(ack.flags(), Control::kAck);
  EXPECT_EQ(ack.ack, std::optional<SeqNum>{kPeerIss + 2});
  EXPECT_EQ(f.state(), std::optional<State>{State::kTimeWait});
  // TIME-WAIT's own 2*MSL from the FIN (msl 30 s by default), not the FIN-WAIT-2 deadline.
  const Instant time_wait_end = fin_at + seconds{60};
  EXPECT_EQ(f.h.layer.poll_at(), std::optional<Instant>{time_wait_end});
  EXPECT_TRUE(f.poll_at(f.fin_acked_at + seconds{60}).empty());
  EXPECT_EQ(f.state(), std::optional<State>{State::kTimeWait});
  EXPECT_TRUE(f.poll_at(time_wait_end - kOneUs).empty());
  EXPECT_EQ(f.h.layer.connection_count(), 1u);
  EXPECT_TRUE(f.poll_at(time_wait_end).empty());
  EXPECT_EQ(f.h.layer.connection_count(), 0u);
  EXPECT_EQ(f.h.layer.counters().fin_wait2_timeouts, 0u);
}

TEST(TcpLayerFinWait2, HalfClose_HeldByTheApplication_NeverTimesOut) {
  FinWait2 f{seconds{60}, /*orphan=*/false};
  EXPECT_EQ(f.h.layer.poll_at(), std::nullopt);  // nothing to wait for
  const Instant later = f.fin_acked_at + seconds{3600};
  EXPECT_TRUE(f.poll_at(later).empty());
  EXPECT_EQ(f.state(), std::optional<State>{State::kFinWait2});
  // Half-close is legal: the peer may keep sending and the application keeps reading.
  f.h.feed(f.peer().ack(f.iss + 2).payload("still here"));
  EXPECT_TRUE(f.h.poll().empty());
  ASSERT_EQ(f.poll_at(later + milliseconds{40}).size(), 1u);  // its delayed ACK
  Connection* c = f.h.layer.connection(f.conn);
  ASSERT_NE(c, nullptr);
  std::array<std::byte, 32> buf{};
  EXPECT_EQ(c->recv(buf), 10u);
  EXPECT_EQ(f.h.layer.counters().fin_wait2_timeouts, 0u);
  // Once the application lets go, the clock starts at its close().
  f.h.now = later + seconds{1};
  const Instant closed_at = f.h.now;
  f.h.layer.close(closed_at, f.conn);
  EXPECT_TRUE(f.h.poll().empty());
  f.expect_dropped_at(closed_at + seconds{60});
}

TEST(TcpLayerFinWait2, Disabled_OrphanWaitsForever) {
  FinWait2 f{std::nullopt};
  EXPECT_EQ(f.h.layer.poll_at(), std::nullopt);
  EXPECT_TRUE(f.poll_at(f.fin_acked_at + seconds{24 * 3600}).empty());
  EXPECT_EQ(f.state(), std::optional<State>{State::kFinWait2});
  EXPECT_EQ(f.h.layer.counters().fin_wait2_timeouts, 0u);
}

}  // namespace
}  // namespace tapstack::tcp
