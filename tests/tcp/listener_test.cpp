// Listener queue policy (tcp/listener): SYN admission order (accept queue first, then SYN queue / cookies),
// backlog 0 admitting one, promotion from the SYN queue to the accept queue, FIFO accept, waiting room.
#include "tcp/listener.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace tapstack::tcp {
namespace {

using V = Listener::SynVerdict;
const ip::Endpoint kLocal{ip::Ipv4Address{{192, 0, 2, 1}}, 80};

TEST(Listener, BacklogZeroStillAcceptsOne) {
  Listener l{kLocal, 0, 8};
  EXPECT_EQ(l.backlog(), 1u);
  EXPECT_EQ(l.on_syn(true), V::kQueue);
  l.add_half_open();
  EXPECT_TRUE(l.on_established(ConnHandle{1, 0}));
  EXPECT_EQ(l.half_open(), 0u);
  EXPECT_EQ(l.accept_queue_len(), 1u);
  EXPECT_TRUE(l.accept_queue_full());
  EXPECT_EQ(l.on_syn(true), V::kDropAcceptQueueFull);
  EXPECT_EQ(l.pop_accept(), std::optional<ConnHandle>(ConnHandle{1, 0}));
  EXPECT_EQ(l.on_syn(true), V::kQueue);
}

TEST(Listener, SynQueueFullGivesCookiesOrDrops) {
  Listener l{kLocal, 4, 2};
  l.add_half_open();
  EXPECT_EQ(l.on_syn(true), V::kQueue);
  l.add_half_open();
  EXPECT_EQ(l.on_syn(true), V::kCookie);
  EXPECT_EQ(l.on_syn(false), V::kDropSynQueueFull);
  l.remove_half_open();  // RST in SYN-RECEIVED: room again
  EXPECT_EQ(l.on_syn(true), V::kQueue);
  l.remove_half_open();
  l.remove_half_open();  // never underflows
  EXPECT_EQ(l.half_open(), 0u);
}

TEST(Listener, AcceptQueueFullWinsOverCookies) {
  Listener l{kLocal, 1, 1};
  l.add_half_open();
  ASSERT_TRUE(l.on_established(ConnHandle{7, 3}));
  l.add_half_open();
  // Both queues are full: the full accept queue decides (drop, not a cookie).
  EXPECT_EQ(l.on_syn(true), V::kDropAcceptQueueFull);
}

TEST(Listener, AcceptIsFifoAndWaitingConnectionsMoveUp) {
  Listener l{kLocal, 2, 8};
  for (std::uint32_t i = 0; i < 4; ++i) l.add_half_open();
  // Four handshakes complete; two fit the backlog, two wait (still counted against the SYN queue).
  for (std::uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(l.on_established(ConnHandle{i, 0}));
  EXPECT_EQ(l.accept_queue_len(), 2u);
  EXPECT_EQ(l.waiting_len(), 2u);
  EXPECT_EQ(l.half_open(), 0u);
  EXPECT_EQ(l.on_syn(true), V::kDropAcceptQueueFull);
  std::vector<std::uint32_t> order;
  while (auto h = l.pop_accept()) order.push_back(h->index);
  EXPECT_EQ(order, (std::vector<std::uint32_t>{0, 1, 2, 3}));
  EXPECT_EQ(l.on_syn(true), V::kQueue);
}

TEST(Listener, CookieConnectionsRespectTheBacklog) {
  Listener l{kLocal, 1, 1};
  EXPECT_TRUE(l.add_established(ConnHandle{1, 0}));
  EXPECT_FALSE(l.add_established(ConnHandle{2, 0}));
  EXPECT_EQ(l.accept_queue_len(), 1u);
}

TEST(Listener, DrainReturnsEverythingQueued) {
  Listener l{kLocal, 1, 4};
  l.add_half_open();
  l.add_half_open();
  ASSERT_TRUE(l.on_established(ConnHandle{5, 1}));
  ASSERT_TRUE(l.on_established(ConnHandle{6, 1}));
  std::vector<std::uint32_t> drained;
  l.drain([&](ConnHandle h) { drained.push_back(h.index); });
  EXPECT_EQ(drained, (std::vector<std::uint32_t>{5, 6}));
  EXPECT_FALSE(l.pop_accept());
}

TEST(Listener, CookiesCountAsRecentForTheValidityWindow) {
  Listener l{kLocal, 1, 1};
  const Instant t = Instant::from_millis(5000);
  EXPECT_FALSE(l.cookies_recent(t, seconds{128}));
  l.note_cookie_sent(t);
  EXPECT_TRUE(l.cookies_recent(t + seconds{128}, seconds{128}));
  EXPECT_FALSE(l.cookies_recent(t + seconds{129}, seconds{128}));
}

}  // namespace
}  // namespace tapstack::tcp
