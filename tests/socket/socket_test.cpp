// The facade against a real peer, deterministically: two manual-mode runtimes (192.0.2.1 and 192.0.2.2) over a
// MemoryLink on a virtual clock (manual_pair.hpp). One test per CONFORMANCE.md §1 behaviour, asserting the exact
// errno, bytes, addresses, poll masks and (for timeouts) the exact virtual time.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "manual_pair.hpp"
#include "socket/poll.hpp"
#include "socket/socket.hpp"
#include "errno_of.hpp"

namespace tapstack::socket {
namespace {

using testing::kAddrA;
using testing::kAddrB;
using testing::ManualPair;

using testing::errno_of;

SockAddr at_a(std::uint16_t port) { return SockAddr{ip::IpAddress{kAddrA}, port}; }
SockAddr at_b(std::uint16_t port) { return SockAddr{ip::IpAddress{kAddrB}, port}; }

Buffer linger_bytes(std::int32_t onoff, std::int32_t seconds) {
  Buffer b(8);
  std::memcpy(b.data(), &onoff, 4);
  std::memcpy(b.data() + 4, &seconds, 4);
  return b;
}

class SocketTest : public ::testing::Test {
 protected:
  // A listener on B:port, a client on A connected to it, and the server's accepted socket.
  struct Conn {
    socket listener, client, server;
  };
  Conn connected(std::uint16_t port) {
    socket l{net.b};
    l.bind(at_b(port));
    l.listen();
    socket c{net.a};
    c.connect(at_b(port));
    auto [srv, peer] = l.accept();
    EXPECT_EQ(peer.address(), ip::IpAddress{kAddrA});
    return Conn{std::move(l), std::move(c), std::move(srv)};
  }

  ManualPair net;
};

// ---- construction ------------------------------------------------------------------------------------------

TEST_F(SocketTest, Construct_UnknownFamilyTypeOrProto_ThrowsInvalidArgument) {
  EXPECT_THROW(socket(net.a, 99), std::invalid_argument);
  EXPECT_THROW(socket(net.a, AF_INET, 99), std::invalid_argument);
  EXPECT_THROW(socket(net.a, AF_INET, SOCK_STREAM, IPPROTO_UDP), std::invalid_argument);
  socket s{net.a, AF_INET, SOCK_DGRAM, IPPROTO_UDP};
  EXPECT_EQ(s.family(), AF_INET);
  EXPECT_EQ(s.type(), SOCK_DGRAM);
  EXPECT_EQ(s.proto(), IPPROTO_UDP);
  EXPECT_GE(s.fileno(), 3);
}

TEST_F(SocketTest, DefaultRuntime_SocketWithoutRuntimeUsesIt) {
  Runtime::set_default(nullptr);
  EXPECT_EQ(errno_of([] { socket s; }), ENETDOWN);
  Runtime::set_default(&net.b);
  socket l;  // on B
  l.bind(SockAddr{"192.0.2.2", 7000});
  l.listen();
  socket c{net.a};
  c.connect(SockAddr{"192.0.2.2", 7000});
  auto [srv, peer] = l.accept();
  EXPECT_EQ(peer.host(), "192.0.2.1");
  Runtime::set_default(nullptr);
}

// ---- ENOTCONN, EAGAIN, EINPROGRESS ------------------------------------------------------------------------

TEST_F(SocketTest, Recv_FreshOrListeningTcp_Enotconn) {
  socket s{net.a};
  EXPECT_EQ(errno_of([&] { s.recv(10); }), ENOTCONN);
  EXPECT_EQ(errno_of([&] { s.send("x"); }), ENOTCONN);
  s.bind(at_a(8000));
  s.listen();
  EXPECT_EQ(errno_of([&] { s.recv(10); }), ENOTCONN);
}

TEST_F(SocketTest, Accept_NonBlockingNothingQueued_Eagain) {
  socket l{net.b};
  l.bind(at_b(8001));
  l.listen();
  l.setblocking(false);
  const Instant t0 = net.now();
  EXPECT_EQ(errno_of([&] { l.accept(); }), EAGAIN);
  EXPECT_EQ(net.now(), t0);  // did not wait
}

TEST_F(SocketTest, Connect_NonBlocking_EinprogressThenPollOut) {
  socket l{net.b};
  l.bind(at_b(8002));
  l.listen();
  socket c{net.a};
  c.setblocking(false);
  EXPECT_EQ(errno_of([&] { c.connect(at_b(8002)); }), EINPROGRESS);
  EXPECT_EQ(c.poll_events(), 0);  // SYN-SENT: neither readable nor writable
  EXPECT_EQ(errno_of([&] { c.connect(at_b(8002)); }), EALREADY);
  ASSERT_TRUE(net.run_until([&] { return c.poll_events() != 0; }));
  EXPECT_EQ(c.poll_events(), POLLOUT);
  EXPECT_EQ(errno_of([&] { c.connect(at_b(8002)); }), EISCONN);
  l.setblocking(false);
  net.settle();
  auto [srv, peer] = l.accept();
  EXPECT_EQ(peer, c.getsockname());
}

TEST_F(SocketTest, RecvAndSend_NonBlockingNothingToDo_Eagain) {
  Conn k = connected(8003);
  k.server.setblocking(false);
  EXPECT_EQ(errno_of([&] { k.server.recv(100); }), EAGAIN);
  // The send side fills: ring and buffers are bounded, and nothing drains while nobody polls.
  k.client.setblocking(false);
  const std::vector<std::byte> chunk(64 * 1024, std::byte{'z'});
  std::size_t sent = 0;
  int err = 0;
  for (int i = 0; i < 1000 && err == 0; ++i) err = errno_of([&] { sent += k.client.send(chunk); });
  EXPECT_EQ(err, EAGAIN);
  // Exactly what a fresh connection's send buffer holds: autotuning's starting size (the ring in front of the
  // connection is larger; the limit grows with the congestion window, see SendLimit_* below).
  EXPECT_EQ(sent, net.a.config().tcp.connection.initial_buffer);
}

// The facade's shared send ring is allocated at full size, but what the application may have written and not
// yet had acknowledged follows the congestion window, as a send buffer the loop owned would (twice cwnd, from
// ConnectionConfig::initial_buffer up to the ring): a bulk writer then stays close to the loop, and the loop
// reads its bytes back from cache. SO_SNDBUF locks the size, as it does on Linux.
TEST_F(SocketTest, SendLimit_StartsAtTheInitialBufferGrowsWithCwndAndSoSndbufLocksIt) {
  const std::size_t initial = net.a.config().tcp.connection.initial_buffer;
  const std::size_t ring = net.a.config().tcp_send_buffer;
  ASSERT_LT(initial, ring);
  const std::vector<std::byte> chunk(16 * 1024, std::byte{'s'});
  auto fill = [&](socket& s) {
    std::size_t sent = 0;
    int err = 0;
    for (int i = 0; i < 1000 && err == 0; ++i) err = errno_of([&] { sent += s.send(chunk); });
    EXPECT_EQ(err, EAGAIN);
    return sent;
  };
  Conn k = connected(8040);
  k.client.setblocking(false);
  EXPECT_EQ(fill(k.client), initial);
  EXPECT_EQ(k.client.poll_events() & POLLOUT, 0) << "no POLLOUT at the limit";
  // The peer keeps reading, the writer keeps filling: slow start grows cwnd, and the limit with it (here until
  // the peer's window, not cwnd, bounds the flight; the ring is the ceiling).
  k.server.setblocking(false);
  auto drain = [&] {
    std::size_t n = 0;
    while (errno_of([&] { n = k.server.recv(1 << 20).size(); }) == 0 && n != 0) {
    }
  };
  const tcp::Connection* conn = net.a.tcp_internals(k.client).conn;
  ASSERT_NE(conn, nullptr);
  std::size_t grown_fill = 0;
  for (int round = 0; round < 30; ++round) {
    net.settle();
    drain();
    const std::size_t target = conn->send_buffer_target();
    const std::size_t held = net.a.tcp_internals(k.client).tx->size();
    const std::size_t n = fill(k.client);
    EXPECT_EQ(held + n, std::max(target, held)) << "round " << round << ": the writer stops exactly at the limit";
    if (target > initial) grown_fill = std::max(grown_fill, held + n);
  }
  EXPECT_GT(grown_fill, initial) << "the limit grew past the initial buffer";
  const std::size_t target = conn->send_buffer_target();
  EXPECT_EQ(target, std::min(ring, 2 * std::size_t(conn->stats().cwnd)));
  // Everything delivered and acknowledged (the delayed ACK of a last short segment included): the limit, all of it.
  for (int i = 0; i < 100 && net.a.tcp_internals(k.client).tx->size() != 0; ++i) {
    drain();
    net.advance(milliseconds{10});
  }
  ASSERT_EQ(net.a.tcp_internals(k.client).tx->size(), 0u);
  EXPECT_EQ(fill(k.client), conn->send_buffer_target());
  EXPECT_GT(conn->send_buffer_target(), initial);

  socket c{net.a};
  c.setsockopt(SOL_SOCKET, SO_SNDBUF, int(ring));
  socket l{net.b};
  l.bind(at_b(8041));
  l.listen();
  c.connect(at_b(8041));
  auto accepted = l.accept();
  c.setblocking(false);
  EXPECT_EQ(fill(c), ring) << "SO_SNDBUF: the whole buffer from the start";
}

TEST_F(SocketTest, Recvfrom_NonBlockingUdpNothingQueued_Eagain) {
  socket u{net.b, AF_INET, SOCK_DGRAM};
  u.bind(at_b(9000));
  u.settimeout(0);
  EXPECT_EQ(errno_of([&] { u.recvfrom(100); }), EAGAIN);
  EXPECT_EQ(errno_of([&] { u.recv(100); }), EAGAIN);
}

TEST_F(SocketTest, ConnectRefused_Econnrefused) {
  socket c{net.a};
  EXPECT_EQ(errno_of([&] { c.connect(at_b(8004)); }), ECONNREFUSED);
  EXPECT_EQ(c.poll_events() & (POLLERR | POLLHUP), POLLERR | POLLHUP);
}

// ---- timeouts ---------------------------------------------------------------------------------------------

TEST_F(SocketTest, SetTimeout_BlockingRecvOutlastsIt_EtimedoutAtExactlyTheDeadline) {
  Conn k = connected(8005);
  k.server.settimeout(0.25);
  const Instant t0 = net.now();
  EXPECT_EQ(errno_of([&] { k.server.recv(10); }), ETIMEDOUT);
  EXPECT_EQ(net.now() - t0, milliseconds{250});
}

TEST_F(SocketTest, SetTimeout_AcceptAndConnect_Etimedout) {
  socket l{net.b};
  l.bind(at_b(8006));
  l.listen();
  l.settimeout(1.5);
  Instant t0 = net.now();
  EXPECT_EQ(errno_of([&] { l.accept(); }), ETIMEDOUT);
  EXPECT_EQ(net.now() - t0, milliseconds{1500});
  // Nobody answers ARP for 192.0.2.99: the handshake never completes.
  socket c{net.a};
  c.settimeout(0.5);
  t0 = net.now();
  EXPECT_EQ(errno_of([&] { c.connect(SockAddr{"192.0.2.99", 80}); }), ETIMEDOUT);
  EXPECT_EQ(net.now() - t0, milliseconds{500});
}

TEST_F(SocketTest, SetTimeout_ZeroIsNonBlockingNoneIsBlocking) {
  socket s{net.a};
  EXPECT_EQ(s.gettimeout(), std::nullopt);
  s.settimeout(0);
  EXPECT_EQ(s.gettimeout(), std::optional<double>{0.0});
  s.setblocking(true);
  EXPECT_EQ(s.gettimeout(), std::nullopt);
  s.setblocking(false);
  EXPECT_EQ(s.gettimeout(), std::optional<double>{0.0});
  s.settimeout(std::nullopt);
  EXPECT_EQ(s.gettimeout(), std::nullopt);
  s.settimeout(2.5);
  EXPECT_EQ(s.gettimeout(), std::optional<double>{2.5});
  EXPECT_THROW(s.settimeout(-1.0), std::invalid_argument);

  Conn k = connected(8007);
  k.server.settimeout(0);
  EXPECT_EQ(errno_of([&] { k.server.recv(1); }), EAGAIN);
}

TEST_F(SocketTest, BlockingRecvInManualModeWithNothingScheduled_EagainInsteadOfHanging) {
  Conn k = connected(8008);
  net.advance(seconds{1});  // delayed ACKs etc. done: nothing scheduled any more
  EXPECT_EQ(errno_of([&] { k.server.recv(10); }), EAGAIN);
}

// ---- EBADF after close --------------------------------------------------------------------------------------

TEST_F(SocketTest, AfterClose_EverythingEbadfFilenoMinusOnePollNval) {
  Conn k = connected(8009);
  socket& s = k.client;
  const int fd = s.fileno();
  EXPECT_GE(fd, 3);
  s.close();
  EXPECT_EQ(s.fileno(), -1);
  EXPECT_EQ(errno_of([&] { s.send("x"); }), EBADF);
  EXPECT_EQ(errno_of([&] { s.sendall("x"); }), EBADF);
  EXPECT_EQ(errno_of([&] { s.recv(1); }), EBADF);
  EXPECT_EQ(errno_of([&] { s.recvfrom(1); }), EBADF);
  EXPECT_EQ(errno_of([&] { s.sendto("x", at_b(1)); }), EBADF);
  EXPECT_EQ(errno_of([&] { s.bind(at_a(1)); }), EBADF);
  EXPECT_EQ(errno_of([&] { s.connect(at_b(1)); }), EBADF);
  EXPECT_EQ(errno_of([&] { s.listen(); }), EBADF);
  EXPECT_EQ(errno_of([&] { s.accept(); }), EBADF);
  EXPECT_EQ(errno_of([&] { s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1); }), EBADF);
  EXPECT_EQ(errno_of([&] { s.getsockname(); }), EBADF);
  EXPECT_EQ(errno_of([&] { s.read(1); }), EBADF);
  EXPECT_EQ(errno_of([&] { s.write("x"); }), EBADF);
  EXPECT_EQ(errno_of([&] { s.makefile(); }), EBADF);
  std::error_code ec;
  s.send(as_bytes("x"), 0, ec);
  EXPECT_EQ(ec, std::error_code(EBADF, std::generic_category()));
  s.close();  // idempotent
  EXPECT_EQ(s.poll_events(), POLLNVAL);
  poll p;
  p.register_(s);
  const poll::Result r = p.poll_(0);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].first, &s);
  EXPECT_EQ(r[0].second, POLLNVAL);
  // The peer sees the FIN.
  net.settle();
  EXPECT_TRUE(k.server.recv(10).empty());
}

TEST_F(SocketTest, MovedFromSocket_Ebadf) {
  socket s{net.a};
  socket t = std::move(s);
  EXPECT_EQ(s.fileno(), -1);  // NOLINT(bugprone-use-after-move): the moved-from state is defined
  EXPECT_EQ(errno_of([&] { s.recv(1); }), EBADF);
  EXPECT_GE(t.fileno(), 3);
}

// ---- poll ---------------------------------------------------------------------------------------------------

TEST_F(SocketTest, Poll_FreshTcpIs20_ConnectedIs4_WithDataAddsPollin) {
  socket l{net.b};
  l.bind(at_b(8010));
  l.listen();
  socket c{net.a};
  poll p;
  p.register_(c);
  poll::Result r = p.poll_(0);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].second, POLLOUT | POLLHUP);
  EXPECT_EQ(r[0].second, 20);
  c.connect(at_b(8010));
  r = p.poll_(0);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].second, POLLOUT);
  auto [srv, peer] = l.accept();
  srv.send("hi");
  net.settle();
  r = p.poll_(0);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].second, POLLIN | POLLOUT);
  p.modify(c, POLLIN);
  EXPECT_EQ(p.poll_(0)[0].second, POLLIN);
}

TEST_F(SocketTest, Poll_ListenerReadableWhenAConnectionWaits) {
  socket l{net.b};
  l.bind(at_b(8011));
  l.listen(4);
  poll p;
  p.register_(l, POLLIN);
  EXPECT_TRUE(p.poll_(0).empty());
  socket c{net.a};
  c.connect(at_b(8011));
  net.settle();
  const poll::Result r = p.poll_(0);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].second, POLLIN);
}

TEST_F(SocketTest, Poll_BoundUdpWritableNotReadable) {
  socket u{net.b, AF_INET, SOCK_DGRAM};
  u.bind(at_b(9001));
  poll p;
  p.register_(u);
  poll::Result r = p.poll_(0);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].second, POLLOUT);
  socket s{net.a, AF_INET, SOCK_DGRAM};
  s.sendto("d", at_b(9001));
  net.settle();
  r = p.poll_(0);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].second, POLLIN | POLLOUT);
}

TEST_F(SocketTest, Poll_ModifyUnregistered_Enoent) {
  socket s{net.a};
  socket t{net.a};
  poll p;
  EXPECT_EQ(errno_of([&] { p.modify(s, POLLIN); }), ENOENT);
  p.register_(s);
  p.modify(s, POLLIN);
  p.unregister(s);
  p.unregister(t);  // not registered: ignored
  EXPECT_EQ(errno_of([&] { p.modify(s, POLLIN); }), ENOENT);
  EXPECT_EQ(p.size(), 0u);
}

TEST_F(SocketTest, Ipoll_OneShotReportsOnceUntilModify) {
  socket u{net.a, AF_INET, SOCK_DGRAM};
  u.bind(at_a(9002));
  poll p;
  p.register_(u, POLLOUT);
  EXPECT_EQ(p.ipoll(0, IPOLL_ONESHOT).size(), 1u);
  EXPECT_TRUE(p.ipoll(0, IPOLL_ONESHOT).empty());
  EXPECT_TRUE(p.poll_(0).empty());  // disarmed for plain poll too
  p.modify(u, POLLOUT);
  const poll::Result r = p.ipoll(0);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].second, POLLOUT);
  EXPECT_EQ(p.ipoll(0).size(), 1u);  // without the flag it stays armed
}

TEST_F(SocketTest, Poll_WaitsUntilReadableOnTheVirtualClock) {
  Conn k = connected(8012);
  poll p;
  p.register_(k.server, POLLIN);
  const Instant t0 = net.now();
  EXPECT_TRUE(p.poll_(300).empty());  // times out after exactly 300 ms
  EXPECT_EQ(net.now() - t0, milliseconds{300});
  k.client.send("x");
  const poll::Result r = p.poll_(1000);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].second, POLLIN);
}

// ---- bind / listen ------------------------------------------------------------------------------------------

TEST_F(SocketTest, Bind_PortInUse_Eaddrinuse) {
  socket s1{net.b};
  s1.bind(at_b(8013));
  socket s2{net.b};
  EXPECT_EQ(errno_of([&] { s2.bind(at_b(8013)); }), EADDRINUSE);
  EXPECT_EQ(errno_of([&] { s2.bind(SockAddr{"0.0.0.0", 8013}); }), EADDRINUSE);  // the wildcard overlaps
  s1.listen();
  socket s3{net.b};
  s3.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  EXPECT_EQ(errno_of([&] { s3.bind(at_b(8013)); }), EADDRINUSE);  // SO_REUSEADDR never shares a listener's port
  EXPECT_EQ(errno_of([&] { s1.bind(at_b(8014)); }), EINVAL);      // already bound
  socket s4{net.b};
  EXPECT_EQ(errno_of([&] { s4.bind(at_a(8015)); }), EADDRNOTAVAIL);  // not our address
  // UDP
  socket u1{net.b, AF_INET, SOCK_DGRAM};
  u1.bind(at_b(9003));
  socket u2{net.b, AF_INET, SOCK_DGRAM};
  EXPECT_EQ(errno_of([&] { u2.bind(at_b(9003)); }), EADDRINUSE);
}

TEST_F(SocketTest, Bind_ReuseAddrAfterServerClose_AllowedOnlyWithSoReuseaddr) {
  {
    Conn k = connected(8016);
    k.server.close();  // the server closes first: its side ends in TIME-WAIT
    net.settle();
    EXPECT_TRUE(k.client.recv(10).empty());
    k.client.close();
    k.listener.close();
    net.settle();
  }
  socket again{net.b};
  EXPECT_EQ(errno_of([&] { again.bind(at_b(8016)); }), EADDRINUSE);
  socket reuse{net.b};
  reuse.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  reuse.bind(at_b(8016));
  reuse.listen();
  socket c{net.a};
  c.connect(at_b(8016));
  auto [srv, peer] = reuse.accept();
  srv.sendall("back");
  EXPECT_EQ(to_string(c.recv(10)), "back");
}

TEST_F(SocketTest, Listen_NoArgumentAndZeroBacklog_AcceptConnections) {
  socket l0{net.b};
  l0.bind(at_b(8017));
  l0.listen(0);
  socket c{net.a};
  c.connect(at_b(8017));
  auto [srv, peer] = l0.accept();
  EXPECT_EQ(peer, c.getsockname());

  socket l{net.b};
  l.bind(at_b(8018));
  l.listen();  // RuntimeConfig::listen_backlog (8)
  std::vector<socket> clients;
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back(net.a);
    clients.back().setblocking(false);
    EXPECT_EQ(errno_of([&] { clients.back().connect(at_b(8018)); }), EINPROGRESS);
  }
  net.settle();
  l.setblocking(false);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(errno_of([&] { l.accept(); }), 0) << i;
  EXPECT_EQ(errno_of([&] { l.accept(); }), EAGAIN);
}

TEST_F(SocketTest, Listen_OnUdp_Eopnotsupp) {
  socket u{net.a, AF_INET, SOCK_DGRAM};
  EXPECT_EQ(errno_of([&] { u.listen(); }), EOPNOTSUPP);
}

// ---- SO_LINGER, MSG_PEEK, MSG_DONTWAIT, sendall ---------------------------------------------------------------

TEST_F(SocketTest, SoLingerZero_CloseSendsRst_PeerReadsDataThenEconnreset) {
  Conn k = connected(8019);
  k.client.sendall("last words");
  net.settle();
  k.client.setsockopt(SOL_SOCKET, SO_LINGER, linger_bytes(1, 0));
  k.client.close();
  net.settle();
  EXPECT_EQ(to_string(k.server.recv(100)), "last words");
  EXPECT_EQ(errno_of([&] { k.server.recv(100); }), ECONNRESET);
  EXPECT_EQ(errno_of([&] { k.server.recv(100); }), ECONNRESET);  // sticky
  EXPECT_EQ(errno_of([&] { k.server.send("x"); }), ECONNRESET);
  EXPECT_EQ(k.server.poll_events() & POLLHUP, POLLHUP);
}

// RFC 1122 §4.2.2.13, as Linux does: closing with received bytes unread resets the connection, so the peer
// does not mistake the close for a clean end of the exchange.
TEST_F(SocketTest, CloseWithUnreadData_PeerGetsEconnreset) {
  Conn k = connected(8030);
  k.client.sendall("a request the server never reads");
  net.settle();
  k.server.close();
  net.settle();
  EXPECT_EQ(errno_of([&] { k.client.recv(100); }), ECONNRESET);
  EXPECT_EQ(errno_of([&] { k.client.send("x"); }), ECONNRESET);

  // Read to the end first: the close is a FIN, and the peer reads EOF.
  Conn m = connected(8031);
  m.client.sendall("read me");
  net.settle();
  EXPECT_EQ(to_string(m.server.recv(100)), "read me");
  m.server.close();
  net.settle();
  EXPECT_EQ(to_string(m.client.recv(100)), "");
}

TEST_F(SocketTest, SoLinger_BadSizeOrIntForm_Einval) {
  socket s{net.a};
  EXPECT_EQ(errno_of([&] { s.setsockopt(SOL_SOCKET, SO_LINGER, 1); }), EINVAL);
  EXPECT_EQ(errno_of([&] { s.setsockopt(SOL_SOCKET, SO_LINGER, as_bytes("abc")); }), EINVAL);
  EXPECT_EQ(errno_of([&] { s.setsockopt(SOL_SOCKET, 12345, 1); }), ENOPROTOOPT);
  s.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
  s.setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1);
}

TEST_F(SocketTest, MsgPeek_Tcp_ReturnsDataWithoutConsumingIt) {
  Conn k = connected(8020);
  k.client.sendall("peekaboo");
  net.settle();
  EXPECT_EQ(to_string(k.server.recv(4, MSG_PEEK)), "peek");
  EXPECT_EQ(to_string(k.server.recv(100, MSG_PEEK)), "peekaboo");
  EXPECT_EQ(to_string(k.server.recv(100)), "peekaboo");
  k.server.setblocking(false);
  EXPECT_EQ(errno_of([&] { k.server.recv(100, MSG_PEEK); }), EAGAIN);
}

TEST_F(SocketTest, MsgPeek_Udp_KeepsDatagramAndSource) {
  socket u{net.b, AF_INET, SOCK_DGRAM};
  u.bind(at_b(9004));
  socket s{net.a, AF_INET, SOCK_DGRAM};
  s.bind(at_a(9005));
  s.sendto("first", at_b(9004));
  s.sendto("second", at_b(9004));
  net.settle();
  auto [d1, from1] = u.recvfrom(100, MSG_PEEK);
  EXPECT_EQ(to_string(d1), "first");
  EXPECT_EQ(from1, at_a(9005));
  auto [d2, from2] = u.recvfrom(3, MSG_PEEK);
  EXPECT_EQ(to_string(d2), "fir");
  EXPECT_EQ(from2, at_a(9005));
  auto [d3, from3] = u.recvfrom(100);
  EXPECT_EQ(to_string(d3), "first");
  EXPECT_EQ(from3, at_a(9005));
  EXPECT_EQ(to_string(u.recv(100)), "second");
}

TEST_F(SocketTest, MsgDontwait_MakesOneCallNonBlocking) {
  Conn k = connected(8021);
  const Instant t0 = net.now();
  EXPECT_EQ(errno_of([&] { k.server.recv(10, MSG_DONTWAIT); }), EAGAIN);
  EXPECT_EQ(net.now(), t0);
  EXPECT_EQ(k.server.gettimeout(), std::nullopt);  // the socket stays blocking
  k.client.send("y");
  net.settle();
  EXPECT_EQ(to_string(k.server.recv(10, MSG_DONTWAIT)), "y");
}

TEST_F(SocketTest, Sendall_MoreThanSmallSndbuf_DeliversEveryByte) {
  socket l{net.b};
  l.bind(at_b(8022));
  l.listen();
  socket c{net.a};
  c.setsockopt(SOL_SOCKET, SO_SNDBUF, 4096);
  c.connect(at_b(8022));
  auto [srv, peer] = l.accept();
  std::vector<std::byte> data(200 * 1024);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = std::byte(i * 7 + i / 251);
  c.sendall(data);  // 50 times the send buffer; the driver moves it while sendall waits
  std::vector<std::byte> got;
  while (got.size() < data.size()) {
    const Buffer b = srv.recv(65536);
    ASSERT_FALSE(b.empty());
    got.insert(got.end(), b.begin(), b.end());
  }
  EXPECT_EQ(got, data);
}

// ---- UDP ----------------------------------------------------------------------------------------------------

TEST_F(SocketTest, Udp_SeveralDatagramsQueueBeforeTheApplicationReads) {
  socket u{net.b, AF_INET, SOCK_DGRAM};
  u.bind(at_b(9006));
  socket s{net.a, AF_INET, SOCK_DGRAM};
  // Resolve ARP first: the interface queues at most 8 packets per unresolved neighbour (ArpCacheConfig).
  s.sendto("hello", at_b(9006));
  EXPECT_EQ(to_string(u.recv(100)), "hello");
  for (int i = 0; i < 10; ++i) s.sendto("datagram " + std::to_string(i), at_b(9006));
  net.settle();
  const SockAddr src = s.getsockname();
  EXPECT_EQ(src.address(), ip::IpAddress{ip::Ipv4Address{}});  // bound to the wildcard, ephemeral port
  EXPECT_GE(src.port(), 49152);
  for (int i = 0; i < 10; ++i) {
    auto [d, from] = u.recvfrom(100);
    EXPECT_EQ(to_string(d), "datagram " + std::to_string(i));
    EXPECT_EQ(from, at_a(src.port()));
  }
  u.setblocking(false);
  EXPECT_EQ(errno_of([&] { u.recv(100); }), EAGAIN);
}

TEST_F(SocketTest, Udp_ConnectSendRecvAndTruncation) {
  socket u{net.b, AF_INET, SOCK_DGRAM};
  u.bind(at_b(9007));
  socket s{net.a, AF_INET, SOCK_DGRAM};
  EXPECT_EQ(errno_of([&] { s.send("x"); }), EDESTADDRREQ);
  s.connect(at_b(9007));
  EXPECT_EQ(s.send("0123456789"), 10u);
  auto [d, from] = u.recvfrom(4);
  EXPECT_EQ(to_string(d), "0123");  // the rest of the datagram is discarded
  u.sendto("reply", from);
  EXPECT_EQ(to_string(s.recv(100)), "reply");
  const std::vector<std::byte> big(65508);
  EXPECT_EQ(errno_of([&] { s.sendto(big, at_b(9007)); }), EMSGSIZE);
  EXPECT_EQ(errno_of([&] { s.sendto("x", at_b(0)); }), EINVAL);
}

// ---- streams: makefile, read, readline, write -----------------------------------------------------------------

TEST_F(SocketTest, Makefile_ReadlineReadsToNewline_ClosingTheFileClosesTheSocket) {
  Conn k = connected(8023);
  k.server.sendall("GET / HTTP/1.0\r\nHost: x\r\n\r\npartial");
  k.server.close();
  SocketFile f = k.client.makefile("rwb");
  EXPECT_EQ(to_string(*f.readline()), "GET / HTTP/1.0\r\n");
  EXPECT_EQ(to_string(*f.readline()), "Host: x\r\n");
  EXPECT_EQ(to_string(*f.readline()), "\r\n");
  EXPECT_EQ(to_string(*f.readline()), "partial");  // EOF ends the last line
  EXPECT_EQ(to_string(*f.readline()), "");
  EXPECT_EQ(f.fileno(), k.client.fileno());
  f.close();
  EXPECT_EQ(k.client.fileno(), -1);
  EXPECT_EQ(errno_of([&] { k.client.recv(1); }), EBADF);
  EXPECT_THROW(k.client.makefile("rt"), std::invalid_argument);
}

TEST_F(SocketTest, ReadWrite_NoShortReads_NonBlockingReturnsNullopt) {
  Conn k = connected(8024);
  k.server.setblocking(false);
  EXPECT_EQ(k.server.read(10), std::nullopt);
  EXPECT_EQ(k.server.read(), std::nullopt);
  std::array<std::byte, 8> buf{};
  EXPECT_EQ(k.server.readinto(buf), std::nullopt);
  EXPECT_EQ(k.server.readline(), std::nullopt);
  k.server.setblocking(true);
  EXPECT_EQ(k.client.write("abc"), std::optional<std::size_t>{3});
  net.settle();
  k.client.write("defgh");  // read(6) waits for the rest (no short reads)
  EXPECT_EQ(to_string(*k.server.read(6)), "abcdef");
  EXPECT_EQ(k.server.readinto(buf, 2), std::optional<std::size_t>{2});
  EXPECT_EQ(std::memcmp(buf.data(), "gh", 2), 0);
  k.client.write("tail");
  k.client.close();
  EXPECT_EQ(to_string(*k.server.read()), "tail");  // read() to EOF
  EXPECT_TRUE(k.server.recv(10).empty());

  // write() on a full non-blocking socket: nullopt.
  Conn m = connected(8025);
  m.client.setblocking(false);
  const std::vector<std::byte> chunk(1 << 20);
  EXPECT_EQ(m.client.write(chunk), std::optional<std::size_t>{net.a.config().tcp.connection.initial_buffer});
  EXPECT_EQ(m.client.write(chunk), std::nullopt);
}

TEST_F(SocketTest, Recv_PeerClosed_EmptyAtEofEveryTime) {
  Conn k = connected(8026);
  k.client.sendall("bye");
  k.client.close();
  EXPECT_EQ(to_string(k.server.recv(10)), "bye");
  EXPECT_TRUE(k.server.recv(10).empty());
  EXPECT_TRUE(k.server.recv(10).empty());
  EXPECT_EQ(k.server.poll_events(POLLIN), POLLIN);
}

// ---- names and families ---------------------------------------------------------------------------------------

TEST_F(SocketTest, Names_SocknameAndPeername) {
  Conn k = connected(8027);
  EXPECT_EQ(k.client.getpeername(), at_b(8027));
  EXPECT_EQ(k.server.getsockname(), at_b(8027));
  EXPECT_EQ(k.server.getpeername(), k.client.getsockname());
  EXPECT_EQ(k.client.getsockname().address(), ip::IpAddress{kAddrA});
  EXPECT_EQ(k.listener.getsockname(), at_b(8027));
  socket fresh{net.a};
  EXPECT_EQ(errno_of([&] { fresh.getpeername(); }), ENOTCONN);
  EXPECT_EQ(fresh.getsockname(), SockAddr("0.0.0.0", 0));
}

TEST_F(SocketTest, Inet6_NoIpv6AddressOnTheStack_EaddrnotavailWithAMessage) {
  socket s6{net.a, AF_INET6};
  EXPECT_EQ(s6.family(), AF_INET6);
  try {
    s6.connect(SockAddr{"2001:db8::1", 80, 0, 0});
    FAIL() << "connect should fail";
  } catch (const OSError& e) {
    EXPECT_EQ(e.errno_value(), EADDRNOTAVAIL);
    EXPECT_NE(std::string{e.what()}.find("IPv6"), std::string::npos) << e.what();
  }
  EXPECT_EQ(errno_of([&] { s6.bind(SockAddr{"::", 80, 0, 0}); }), EADDRNOTAVAIL);
  EXPECT_EQ(errno_of([&] { s6.listen(); }), EADDRNOTAVAIL);
  EXPECT_EQ(errno_of([&] { s6.connect(at_b(80)); }), EAFNOSUPPORT);  // an IPv4 address on an IPv6 socket
  socket u6{net.a, AF_INET6, SOCK_DGRAM};
  EXPECT_EQ(errno_of([&] { u6.sendto("x", SockAddr{"2001:db8::1", 53, 0, 0}); }), EADDRNOTAVAIL);
}

// ---- resources ----------------------------------------------------------------------------------------------

TEST_F(SocketTest, Close_ReleasesSocketsAndConnectionsOnBothStacks) {
  {
    Conn k = connected(8028);
    k.client.sendall("x");
    EXPECT_EQ(to_string(k.server.recv(1)), "x");
    socket u{net.a, AF_INET, SOCK_DGRAM};
    u.sendto("y", at_b(9))  /* nobody listens: dropped, the socket still closes cleanly */;
    EXPECT_EQ(net.a.socket_count(), 2u);
    EXPECT_EQ(net.b.socket_count(), 2u);
  }  // every socket closed by its destructor
  net.advance(seconds{61});  // TIME-WAIT (2 MSL = 60 s) ends
  EXPECT_EQ(net.a.socket_count(), 0u);
  EXPECT_EQ(net.b.socket_count(), 0u);
  EXPECT_EQ(net.a.tcp().connection_count(), 0u);
  EXPECT_EQ(net.b.tcp().connection_count(), 0u);
  EXPECT_EQ(net.a.udp().socket_count(), 0u);
}

TEST(RuntimeConfigTest, FromEnv) {
  ::setenv("TAPSTACK_IP4", "192.0.2.2/24", 1);
  ::setenv("TAPSTACK_GW4", "192.0.2.1", 1);
  ::setenv("TAPSTACK_MAC", "02:00:00:00:00:2a", 1);
  RuntimeConfig c = RuntimeConfig::from_env();
  EXPECT_EQ(c.interface.ipv4, (ip::Ipv4Cidr{kAddrB, 24}));
  EXPECT_EQ(c.interface.gateway4, kAddrA);
  EXPECT_EQ(c.interface.mac, (ip::MacAddress{{0x02, 0, 0, 0, 0, 0x2a}}));
  ::setenv("TAPSTACK_IP4", "198.51.100.9", 1);  // a bare address means /24
  ::unsetenv("TAPSTACK_GW4");
  ::unsetenv("TAPSTACK_MAC");
  c = RuntimeConfig::from_env();
  EXPECT_EQ(c.interface.ipv4, (ip::Ipv4Cidr{ip::Ipv4Address{{198, 51, 100, 9}}, 24}));
  EXPECT_EQ(c.interface.gateway4, std::nullopt);
  EXPECT_EQ(c.interface.mac, (ip::MacAddress{{0x02, 0, 0, 0, 0, 0x01}}));
  ::setenv("TAPSTACK_IP4", "not-an-address", 1);
  EXPECT_THROW(RuntimeConfig::from_env(), std::invalid_argument);
  ::unsetenv("TAPSTACK_IP4");
  EXPECT_THROW(RuntimeConfig::from_env(), std::invalid_argument);
}

// ---- MicroPython's examples/network programs, line for line ---------------------------------------------------

// http_server_simplistic.py, served once, and http_client.py against it (by address: no DNS yet).
TEST_F(SocketTest, MicroPythonExamples_HttpServerSimplisticAndHttpClient) {
  Runtime::set_default(&net.b);
  // --- server (on B) ---
  socket s;
  auto ai = getaddrinfo("0.0.0.0", 8080);
  SockAddr addr = ai[0].sockaddr;
  s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  s.bind(addr);
  s.listen(5);
  // --- client (on A) ---
  Runtime::set_default(&net.a);
  socket c;
  auto cai = getaddrinfo("192.0.2.2", 8080);
  SockAddr caddr = cai[0].sockaddr;
  c.connect(caddr);
  c.send("GET / HTTP/1.0\r\n\r\n");
  // --- server ---
  auto res = s.accept();
  socket& client_s = res.first;
  const SockAddr client_addr = res.second;
  EXPECT_EQ(client_addr.host(), "192.0.2.1");
  const Buffer req = client_s.recv(4096);
  EXPECT_EQ(to_string(req), "GET / HTTP/1.0\r\n\r\n");
  const int counter = 0;
  client_s.send("HTTP/1.0 200 OK\r\n\r\nHello #" + std::to_string(counter) + " from MicroPython!\n");
  client_s.close();
  // --- client ---
  EXPECT_EQ(to_string(c.recv(4096)), "HTTP/1.0 200 OK\r\n\r\nHello #0 from MicroPython!\n");
  c.close();
  Runtime::set_default(nullptr);
}

// http_server.py: the request is read through makefile("rwb") line by line, the reply written with write().
TEST_F(SocketTest, MicroPythonExamples_HttpServerWithMakefile) {
  socket s{net.b};
  s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  s.bind(getaddrinfo("0.0.0.0", 8081)[0].sockaddr);
  s.listen(5);
  socket c{net.a};
  c.connect(getaddrinfo("192.0.2.2", 8081, 0, SOCK_STREAM)[0].sockaddr);
  c.sendall("GET /index.html HTTP/1.1\r\nHost: 192.0.2.2\r\nUser-Agent: test\r\n\r\n");

  auto [client_sock, client_addr] = s.accept();
  SocketFile client_stream = client_sock.makefile("rwb");
  const Buffer req = *client_stream.readline();
  EXPECT_EQ(to_string(req), "GET /index.html HTTP/1.1\r\n");
  std::vector<std::string> headers;
  while (true) {
    const Buffer h = *client_stream.readline();
    if (h.empty() || to_string(h) == "\r\n") break;
    headers.push_back(to_string(h));
  }
  EXPECT_EQ(headers, (std::vector<std::string>{"Host: 192.0.2.2\r\n", "User-Agent: test\r\n"}));
  const std::string content = "HTTP/1.0 200 OK\r\n\r\nHello #0 from MicroPython!\n";
  EXPECT_EQ(client_stream.write(content), std::optional<std::size_t>{content.size()});
  client_stream.close();
  EXPECT_EQ(client_sock.fileno(), -1);

  EXPECT_EQ(to_string(*c.read()), content);  // read() to EOF
}

}  // namespace
}  // namespace tapstack::socket
