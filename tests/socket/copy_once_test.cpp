// Copy-once through the facade, deterministically (two manual-mode runtimes on a virtual clock, manual_pair.hpp):
// a TCP socket's rings are its connection's own send and receive buffers, the application's writes are what the
// connection sends, reads reopen the window without the persist timer's help, and a closed socket's connection
// keeps draining the ring it shares after the socket is gone (run under ASan: no byte is read from freed memory).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "manual_pair.hpp"
#include "socket/socket.hpp"
#include "tcp/connection.hpp"

namespace tapstack::socket {
namespace {

using testing::kAddrB;
using testing::ManualPair;

SockAddr at_b(std::uint16_t port) { return SockAddr{ip::IpAddress{kAddrB}, port}; }

std::vector<std::byte> make_data(std::size_t n) {
  std::vector<std::byte> d(n);
  for (std::size_t i = 0; i < n; ++i) d[i] = std::byte((i * 131) ^ (i >> 9));
  return d;
}

class CopyOnceTest : public ::testing::Test {
 protected:
  struct Conn {
    socket listener, client, server;
  };
  Conn connected(std::uint16_t port, std::size_t server_rcvbuf = 0) {
    socket l{net.b};
    l.bind(at_b(port));
    if (server_rcvbuf != 0) l.setsockopt(SOL_SOCKET, SO_RCVBUF, int(server_rcvbuf));
    l.listen();
    socket c{net.a};
    c.connect(at_b(port));
    auto [srv, peer] = l.accept();
    return Conn{std::move(l), std::move(c), std::move(srv)};
  }
  std::vector<std::byte> read_exactly(socket& s, std::size_t n) {
    std::vector<std::byte> got;
    while (got.size() < n) {
      const Buffer b = s.recv(65536);
      if (b.empty()) break;
      got.insert(got.end(), b.begin(), b.end());
    }
    return got;
  }

  ManualPair net;
};

TEST_F(CopyOnceTest, ConnectedAndAcceptedSockets_RingsAreTheConnectionsBuffers) {
  Conn k = connected(9101);
  for (auto [rt, s] : {std::pair{&net.a, &k.client}, std::pair{&net.b, &k.server}}) {
    const Runtime::TcpInternals t = rt->tcp_internals(*s);
    ASSERT_NE(t.conn, nullptr);
    EXPECT_EQ(t.tx, t.conn->send_buffer().get());
    EXPECT_EQ(t.rx, t.conn->recv_buffer().get());
    // One buffer per direction, of the configured size (SO_SNDBUF / SO_RCVBUF mean that one buffer).
    EXPECT_EQ(t.tx->capacity(), net.a.config().tcp_send_buffer);
    EXPECT_EQ(t.rx->capacity(), net.a.config().tcp_recv_buffer);
  }
}

TEST_F(CopyOnceTest, Send_WritesStraightIntoTheConnectionsSendBuffer_TheConnectionSendsFromIt) {
  Conn k = connected(9102);
  const Runtime::TcpInternals t = net.a.tcp_internals(k.client);
  ASSERT_NE(t.conn, nullptr);
  const std::uint64_t out_before = t.conn->stats().bytes_out;
  EXPECT_EQ(k.client.send(as_bytes("hello")), 5u);
  // Before any poll: the bytes are in the connection's own buffer already, nothing went out yet.
  EXPECT_EQ(t.conn->send_buffer()->produced(), 5u);
  EXPECT_EQ(t.conn->stats().bytes_out, out_before);
  ASSERT_TRUE(net.a.poll_at().has_value());
  EXPECT_EQ(*net.a.poll_at(), Instant{}) << "the write is work for the loop now";
  net.settle();
  EXPECT_EQ(t.conn->stats().bytes_out, out_before + 5);
  EXPECT_EQ(to_string(k.server.recv(100)), "hello");
  net.advance(milliseconds{100});  // the server's delayed ACK
  EXPECT_EQ(t.conn->send_buffer()->consumed(), 5u) << "acknowledged bytes leave the shared ring";
}

TEST_F(CopyOnceTest, DataThatArrivedBeforeAccept_IsInTheAcceptedSocketsRing) {
  socket l{net.b};
  l.bind(at_b(9103));
  l.listen();
  socket c{net.a};
  c.connect(at_b(9103));
  c.sendall(as_bytes("early bytes"));
  net.settle();
  auto [srv, peer] = l.accept();
  const Runtime::TcpInternals t = net.b.tcp_internals(srv);
  ASSERT_NE(t.rx, nullptr);
  EXPECT_EQ(t.rx->size(), 11u);
  EXPECT_EQ(to_string(srv.recv(100)), "early bytes");
}

TEST_F(CopyOnceTest, ReadsReopenAClosedWindow_WithoutWaitingForZeroWindowProbes) {
  Conn k = connected(9104, 4096);
  ASSERT_EQ(net.b.tcp_internals(k.server).rx->capacity(), 4096u);
  const std::vector<std::byte> data = make_data(64 * 1024);
  k.client.setblocking(false);
  EXPECT_EQ(k.client.send(data), data.size());  // fits the client's 256 KiB send buffer
  net.settle();
  // Two full segments in the 4 KiB window; the rest of it waits for the sender's SWS override (RFC 9293
  // §3.8.6.2.1), 62 KiB wait in the client's send buffer.
  EXPECT_EQ(net.b.tcp_internals(k.server).rx->size(), 2896u);
  EXPECT_EQ(net.a.tcp_internals(k.client).tx->size(), data.size() - 2896u);
  // Each read that opens the window far enough (RFC 9293 §3.8.6.2.2) makes the loop send a window update at
  // once: 16 windows of data move without a single persist timeout (the first would come after 200 ms).
  const Instant t0 = net.now();
  EXPECT_EQ(read_exactly(k.server, data.size()), data);
  EXPECT_LT(net.now() - t0, milliseconds{100});
}

TEST_F(CopyOnceTest, CloseWhileDraining_TheConnectionSendsEveryQueuedByteAfterTheSocketIsGone) {
  Conn k = connected(9105);
  const std::vector<std::byte> data = make_data(120 * 1024);
  {
    socket c = std::move(k.client);
    c.setblocking(false);
    EXPECT_EQ(c.send(data), data.size());  // queued in the shared ring (within a fresh connection's 128 KiB); nothing sent yet
    c.close();
  }  // the socket, its SocketImpl and (once the loop let go) its SocketCore are gone
  EXPECT_EQ(net.a.socket_count(), 0u);
  ASSERT_EQ(net.a.tcp().connection_count(), 1u) << "the connection lives on, FIN after the queued data";
  EXPECT_EQ(read_exactly(k.server, data.size()), data);
  EXPECT_TRUE(k.server.recv(100).empty()) << "then EOF";
}

TEST_F(CopyOnceTest, PeerResetAfterData_TheApplicationReadsTheDataThenEconnreset) {
  Conn k = connected(9106);
  k.client.sendall(as_bytes("last words"));
  net.settle();
  Buffer linger(8);
  const std::int32_t on = 1, secs = 0;
  std::memcpy(linger.data(), &on, 4);
  std::memcpy(linger.data() + 4, &secs, 4);
  k.client.setsockopt(SOL_SOCKET, SO_LINGER, linger);
  k.client.close();  // RST
  net.settle();
  const Runtime::TcpInternals t = net.b.tcp_internals(k.server);
  ASSERT_NE(t.conn, nullptr);
  EXPECT_EQ(t.conn->state(), tcp::State::kClosed);
  EXPECT_EQ(to_string(k.server.recv(100)), "last words");
  std::error_code ec;
  k.server.recv(100, 0, ec);
  EXPECT_EQ(ec.value(), ECONNRESET);
}

}  // namespace
}  // namespace tapstack::socket
